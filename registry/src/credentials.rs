//! Where registry credentials come from: given explicitly (the CLI's `--username` and
//! `--password-stdin`, used for every registry), else docker's `config.json`: per-registry
//! `credHelpers`, else the `credsStore` helper, else the `auths` entry (`auth` = base64
//! `user:password`, or `username`/`password`, or an `identitytoken`, or a `registrytoken`).
//! Nothing found means anonymous access.
//!
//! Registry host keys match as docker matches them: the exact host (`ghcr.io`,
//! `127.0.0.1:5000`), else any key whose host part is the host (`https://ghcr.io/v1/`);
//! `docker.io` and its aliases use docker's `https://index.docker.io/v1/` key. Credential helpers
//! run as `docker-credential-<name> get` with the server address on stdin and answer
//! `{"Username", "Secret"}` on stdout (a `<token>` username marks an identity token); their
//! output is bounded and they are killed after a timeout.
//!
//! Secrets are held in [`Secret`], whose `Debug` prints `<redacted>`; nothing here logs.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::fmt;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine as _;
use serde::Deserialize;

use crate::error::Error;

/// Largest docker config file read.
const MAX_CONFIG: u64 = 1 << 20;
/// Largest credential helper answer read.
const MAX_HELPER_OUTPUT: u64 = 64 << 10;
/// How long a credential helper may take.
const HELPER_TIMEOUT: Duration = Duration::from_secs(30);
/// docker's config key for Docker Hub.
const DOCKER_HUB_KEY: &str = "https://index.docker.io/v1/";

/// A password or token: never printed (`Debug` shows `<redacted>`).
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps `value`.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The secret itself (for the `Authorization` header only).
    pub(crate) fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// What the client authenticates with.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Credential {
    /// A user name and password: HTTP basic auth, or the token server's basic auth.
    Basic {
        /// The user name.
        username: String,
        /// The password.
        password: Secret,
    },
    /// An OAuth2 refresh token (`identitytoken` in config.json): exchanged at the token server
    /// with a `grant_type=refresh_token` POST (bearer-token registries only).
    IdentityToken(Secret),
    /// A bearer token sent as is (`registrytoken` in config.json).
    RegistryToken(Secret),
}

/// A credential and where it was found (for error messages: never the secret itself).
#[derive(Clone, Debug)]
pub(crate) struct Found {
    pub(crate) credential: Credential,
    pub(crate) origin: String,
}

/// Where credentials are looked up: an explicit credential for every registry, else docker's
/// `config.json` (`credHelpers`, else `credsStore`, else `auths`), else none (anonymous).
#[derive(Clone, Debug, Default)]
pub struct Credentials {
    explicit: Option<(Credential, String)>,
    docker: Option<DockerConfig>,
    helper_path: Option<OsString>,
}

impl Credentials {
    /// No credentials: anonymous access.
    pub fn anonymous() -> Self {
        Self::default()
    }

    /// `credential` for every registry; `origin` says where it came from in error messages
    /// (e.g. `--username`).
    pub fn explicit(credential: Credential, origin: impl Into<String>) -> Self {
        Self {
            explicit: Some((credential, origin.into())),
            ..Self::default()
        }
    }

    /// Docker's config file as docker finds it: `$DOCKER_CONFIG/config.json`, else
    /// `$HOME/.docker/config.json`; credential helpers are searched on `$PATH`. A missing file
    /// means anonymous access; an unreadable or malformed one is an error.
    pub fn from_docker_env() -> Result<Self, Error> {
        let dir = match std::env::var_os("DOCKER_CONFIG") {
            Some(d) if !d.is_empty() => PathBuf::from(d),
            _ => match std::env::var_os("HOME") {
                Some(h) if !h.is_empty() => PathBuf::from(h).join(".docker"),
                _ => return Ok(Self::default()),
            },
        };
        Self::docker_config(&dir.join("config.json"), std::env::var_os("PATH"))
    }

    /// The docker config file at `path` (missing = empty), with credential helpers searched in
    /// `helper_path` (a `PATH`-style list; `None` = no helpers can run).
    pub fn docker_config(path: &Path, helper_path: Option<OsString>) -> Result<Self, Error> {
        Ok(Self {
            explicit: None,
            docker: DockerConfig::read(path)?,
            helper_path,
        })
    }

    /// These credentials, with `credential` taking precedence for every registry.
    pub fn with_explicit(mut self, credential: Credential, origin: impl Into<String>) -> Self {
        self.explicit = Some((credential, origin.into()));
        self
    }

    /// The credential for `registry` (`host[:port]`), if any. May run a credential helper.
    pub(crate) fn lookup(&self, registry: &str) -> Result<Option<Found>, Error> {
        if let Some((credential, origin)) = &self.explicit {
            return Ok(Some(Found {
                credential: credential.clone(),
                origin: origin.clone(),
            }));
        }
        match &self.docker {
            Some(config) => config.lookup(registry, self.helper_path.as_deref()),
            None => Ok(None),
        }
    }
}

/// The parts of docker's `config.json` that hold credentials.
#[derive(Clone, Default, Deserialize)]
struct ConfigFile {
    #[serde(default)]
    auths: BTreeMap<String, AuthEntry>,
    #[serde(default, rename = "credHelpers")]
    cred_helpers: BTreeMap<String, String>,
    #[serde(default, rename = "credsStore")]
    creds_store: Option<String>,
}

#[derive(Clone, Default, Deserialize)]
struct AuthEntry {
    #[serde(default)]
    auth: Option<String>,
    #[serde(default)]
    username: Option<String>,
    #[serde(default)]
    password: Option<String>,
    #[serde(default)]
    identitytoken: Option<String>,
    #[serde(default)]
    registrytoken: Option<String>,
}

/// A docker config file read from `path`.
#[derive(Clone)]
struct DockerConfig {
    path: PathBuf,
    file: ConfigFile,
}

impl fmt::Debug for DockerConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DockerConfig")
            .field("path", &self.path)
            .field("auths", &self.file.auths.keys().collect::<Vec<_>>())
            .field("credHelpers", &self.file.cred_helpers)
            .field("credsStore", &self.file.creds_store)
            .finish()
    }
}

/// The host part of a docker config key (`https://host/v1/` → `host`), as docker's
/// `ConvertToHostname`.
fn key_host(key: &str) -> &str {
    let stripped = key
        .strip_prefix("http://")
        .or_else(|| key.strip_prefix("https://"))
        .unwrap_or(key);
    stripped.split('/').next().unwrap_or(stripped)
}

/// The key docker uses for `registry`: its special Docker Hub key, else the host itself.
fn config_key(registry: &str) -> &str {
    match registry {
        "docker.io" | "index.docker.io" | "registry-1.docker.io" => DOCKER_HUB_KEY,
        other => other,
    }
}

impl DockerConfig {
    fn read(path: &Path) -> Result<Option<Self>, Error> {
        let bad = |detail: String| Error::Credentials {
            source_name: path.display().to_string(),
            detail,
        };
        let file = match std::fs::File::open(path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(bad(format!("cannot read it: {e}"))),
        };
        let mut bytes = Vec::new();
        file.take(MAX_CONFIG + 1)
            .read_to_end(&mut bytes)
            .map_err(|e| bad(format!("cannot read it: {e}")))?;
        if bytes.len() as u64 > MAX_CONFIG {
            return Err(bad(format!("it is larger than {MAX_CONFIG} bytes")));
        }
        let file: ConfigFile = serde_json::from_slice(&bytes)
            .map_err(|e| bad(format!("it is not a valid docker config file: {e}")))?;
        Ok(Some(Self {
            path: path.to_owned(),
            file,
        }))
    }

    fn lookup(
        &self,
        registry: &str,
        helper_path: Option<&std::ffi::OsStr>,
    ) -> Result<Option<Found>, Error> {
        let key = config_key(registry);
        let host = key_host(key);
        let helper = self
            .file
            .cred_helpers
            .iter()
            .find(|(k, _)| k.as_str() == key || key_host(k) == host)
            .map(|(_, h)| (h, "credHelpers"))
            .or_else(|| self.file.creds_store.as_ref().map(|h| (h, "credsStore")));
        if let Some((name, field)) = helper {
            return self.run_helper(name, field, key, helper_path);
        }
        let entry = self.file.auths.get(key).or_else(|| {
            self.file
                .auths
                .iter()
                .find(|(k, _)| key_host(k) == host)
                .map(|(_, e)| e)
        });
        let Some(entry) = entry else {
            return Ok(None);
        };
        let origin = format!("{} (auths.{key})", self.path.display());
        self.entry_credential(entry, &origin)
            .map(|c| c.map(|credential| Found { credential, origin }))
    }

    fn entry_credential(&self, e: &AuthEntry, origin: &str) -> Result<Option<Credential>, Error> {
        if let Some(token) = e.identitytoken.as_deref().filter(|t| !t.is_empty()) {
            return Ok(Some(Credential::IdentityToken(Secret::new(token))));
        }
        if let Some(token) = e.registrytoken.as_deref().filter(|t| !t.is_empty()) {
            return Ok(Some(Credential::RegistryToken(Secret::new(token))));
        }
        if let Some(auth) = e.auth.as_deref().filter(|a| !a.is_empty()) {
            let bad = |what: &str| Error::Credentials {
                source_name: origin.to_owned(),
                detail: format!("the auth field {what}: it must be base64 of USER:PASSWORD"),
            };
            let decoded = base64::engine::general_purpose::STANDARD
                .decode(auth.trim())
                .map_err(|_| bad("is not base64"))?;
            let text = String::from_utf8(decoded).map_err(|_| bad("is not UTF-8"))?;
            let (user, password) = text.split_once(':').ok_or_else(|| bad("has no ':'"))?;
            return Ok(Some(Credential::Basic {
                username: user.to_owned(),
                password: Secret::new(password.trim_end_matches(['\0'])),
            }));
        }
        match (&e.username, &e.password) {
            (Some(u), Some(p)) if !u.is_empty() => Ok(Some(Credential::Basic {
                username: u.clone(),
                password: Secret::new(p.clone()),
            })),
            _ => Ok(None),
        }
    }

    fn run_helper(
        &self,
        name: &str,
        field: &str,
        server: &str,
        helper_path: Option<&std::ffi::OsStr>,
    ) -> Result<Option<Found>, Error> {
        let program = format!("docker-credential-{name}");
        let origin = format!(
            "credential helper {program} ({field} in {})",
            self.path.display()
        );
        let fail = |detail: String| Error::Credentials {
            source_name: origin.clone(),
            detail,
        };
        if name.is_empty()
            || !name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
        {
            return Err(fail(
                "the helper name may only have A-Z a-z 0-9 . _ -".into(),
            ));
        }
        let bin = helper_path
            .into_iter()
            .flat_map(std::env::split_paths)
            .map(|dir| dir.join(&program))
            .find(|p| p.is_file())
            .ok_or_else(|| {
                fail(format!(
                    "{program} is not on PATH: install it, remove the {field} entry, or pass \
                     --username and --password-stdin"
                ))
            })?;
        let out = run_bounded(&bin, server).map_err(fail)?;
        if !out.success {
            // docker-credential-helpers' "credentials not found in native keychain".
            if out
                .stdout
                .to_ascii_lowercase()
                .contains("credentials not found")
            {
                return Ok(None);
            }
            return Err(fail(format!(
                "`{program} get` failed: {}",
                snippet(if out.stderr.trim().is_empty() {
                    &out.stdout
                } else {
                    &out.stderr
                })
            )));
        }
        #[derive(Deserialize)]
        struct Answer {
            #[serde(rename = "Username", default)]
            username: String,
            #[serde(rename = "Secret", default)]
            secret: String,
        }
        let answer: Answer = serde_json::from_str(&out.stdout).map_err(|e| {
            fail(format!(
                "`{program} get` did not answer JSON with Username and Secret: {e}"
            ))
        })?;
        if answer.secret.is_empty() {
            return Ok(None);
        }
        let credential = if answer.username == "<token>" {
            Credential::IdentityToken(Secret::new(answer.secret))
        } else {
            Credential::Basic {
                username: answer.username,
                password: Secret::new(answer.secret),
            }
        };
        Ok(Some(Found { credential, origin }))
    }
}

/// The first 200 characters of a helper's message, on one line.
fn snippet(s: &str) -> String {
    let one_line: String = s.split_whitespace().collect::<Vec<_>>().join(" ");
    one_line.chars().take(200).collect()
}

struct HelperOutput {
    success: bool,
    stdout: String,
    stderr: String,
}

/// Runs `bin get` with `input` on stdin; at most [`MAX_HELPER_OUTPUT`] bytes of each output are
/// kept and the helper is killed after [`HELPER_TIMEOUT`].
fn run_bounded(bin: &Path, input: &str) -> Result<HelperOutput, String> {
    let mut child = Command::new(bin)
        .arg("get")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run it: {e}"))?;
    if let Some(mut stdin) = child.stdin.take() {
        // A helper that exits without reading makes this fail; its exit status says more.
        let _ = stdin.write_all(input.as_bytes());
    }
    let read = |pipe: Option<Box<dyn Read + Send>>| {
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            if let Some(p) = pipe {
                let mut limited = p.take(MAX_HELPER_OUTPUT);
                let _ = limited.read_to_end(&mut buf);
                // Drain the rest so the helper is not blocked on a full pipe.
                let _ = std::io::copy(&mut limited.into_inner(), &mut std::io::sink());
            }
            String::from_utf8_lossy(&buf).into_owned()
        })
    };
    let stdout = read(
        child
            .stdout
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    let stderr = read(
        child
            .stderr
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    let deadline = Instant::now() + HELPER_TIMEOUT;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(10)),
            Ok(None) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!(
                    "it did not answer within {} s",
                    HELPER_TIMEOUT.as_secs()
                ));
            }
            Err(e) => return Err(format!("cannot wait for it: {e}")),
        }
    };
    Ok(HelperOutput {
        success: status.success(),
        stdout: stdout.join().unwrap_or_default(),
        stderr: stderr.join().unwrap_or_default(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(json: &str) -> (tempfile::TempDir, Credentials) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.json");
        std::fs::write(&path, json).unwrap();
        let c = Credentials::docker_config(&path, Some(dir.path().as_os_str().to_owned())).unwrap();
        (dir, c)
    }

    fn basic(c: &Credentials, host: &str) -> Option<(String, String)> {
        match c.lookup(host).unwrap().map(|f| f.credential) {
            Some(Credential::Basic { username, password }) => {
                Some((username, password.expose().to_owned()))
            }
            None => None,
            other => panic!("{other:?}"),
        }
    }

    fn b64(s: &str) -> String {
        base64::engine::general_purpose::STANDARD.encode(s)
    }

    #[test]
    fn auths_match_hosts_as_docker_does() {
        let json = serde_json::json!({"auths": {
            "127.0.0.1:5000": {"auth": b64("alice:pa:ss")},
            "https://ghcr.io/v1/": {"username": "bob", "password": "pw"},
            "https://index.docker.io/v1/": {"auth": b64("carol:x")},
            "quay.io": {"identitytoken": "refresh"},
            "empty.example": {},
        }});
        let (_d, c) = config(&json.to_string());
        assert_eq!(
            basic(&c, "127.0.0.1:5000"),
            Some(("alice".into(), "pa:ss".into()))
        );
        assert_eq!(basic(&c, "ghcr.io"), Some(("bob".into(), "pw".into())));
        assert_eq!(basic(&c, "docker.io"), Some(("carol".into(), "x".into())));
        assert_eq!(basic(&c, "127.0.0.1:5001"), None);
        assert_eq!(basic(&c, "ghcr.io.evil.example"), None);
        assert_eq!(basic(&c, "empty.example"), None);
        let found = c.lookup("quay.io").unwrap().unwrap();
        assert!(matches!(found.credential, Credential::IdentityToken(_)));
        assert!(found.origin.contains("auths.quay.io"), "{}", found.origin);
        assert!(!format!("{:?}", c).contains("pa:ss"));
    }

    #[test]
    fn missing_file_is_anonymous_and_bad_ones_are_errors() {
        let dir = tempfile::tempdir().unwrap();
        let c = Credentials::docker_config(&dir.path().join("none.json"), None).unwrap();
        assert!(c.lookup("ghcr.io").unwrap().is_none());
        for (json, says) in [
            ("{", "not a valid docker config"),
            (r#"{"auths": {"h.io": {"auth": "%%%"}}}"#, "not base64"),
            (
                &format!(
                    r#"{{"auths": {{"h.io": {{"auth": "{}"}}}}}}"#,
                    b64("nocolon")
                ),
                "no ':'",
            ),
        ] {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("config.json");
            std::fs::write(&path, json).unwrap();
            let err = Credentials::docker_config(&path, None)
                .and_then(|c| c.lookup("h.io"))
                .unwrap_err()
                .to_string();
            assert!(err.contains(says) && err.contains("config.json"), "{err}");
            assert!(!err.contains("nocolon"), "{err}");
        }
    }

    #[test]
    fn explicit_credentials_win() {
        let json = serde_json::json!({"auths": {"h.io": {"auth": b64("a:b")}}});
        let (_d, c) = config(&json.to_string());
        let c = c.with_explicit(
            Credential::Basic {
                username: "u".into(),
                password: Secret::new("p"),
            },
            "--username",
        );
        assert_eq!(basic(&c, "h.io"), Some(("u".into(), "p".into())));
        assert_eq!(c.lookup("h.io").unwrap().unwrap().origin, "--username");
    }

    #[cfg(unix)]
    #[test]
    fn credential_helpers() {
        use std::os::unix::fs::PermissionsExt;
        let json = serde_json::json!({
            "credHelpers": {"h.io": "t", "gone.io": "absent"},
            "credsStore": "store",
            "auths": {"other.io": {"auth": b64("ignored:x")}},
        });
        let (dir, c) = config(&json.to_string());
        let script = |name: &str, body: &str| {
            let p = dir.path().join(format!("docker-credential-{name}"));
            std::fs::write(&p, format!("#!/bin/sh\n{body}\n")).unwrap();
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
        };
        script(
            "t",
            r#"[ "$1" = get ] || exit 3; read -r host; printf '{"ServerURL":"%s","Username":"helper-%s","Secret":"s3cret"}' "$host" "$host""#,
        );
        script(
            "store",
            r#"read -r host; case "$host" in tok.io) echo '{"Username":"<token>","Secret":"rt"}';; fail.io) echo boom >&2; exit 1;; *) echo 'credentials not found in native keychain'; exit 1;; esac"#,
        );
        assert_eq!(
            basic(&c, "h.io"),
            Some(("helper-h.io".into(), "s3cret".into()))
        );
        let tok = c.lookup("tok.io").unwrap().unwrap();
        assert!(matches!(tok.credential, Credential::IdentityToken(_)));
        assert!(
            tok.origin.contains("docker-credential-store"),
            "{}",
            tok.origin
        );
        // credsStore answers for every other host, as in docker: the auths entry is not used.
        assert_eq!(basic(&c, "other.io"), None);
        let err = c.lookup("fail.io").unwrap_err().to_string();
        assert!(
            err.contains("docker-credential-store get` failed: boom"),
            "{err}"
        );
        let err = c.lookup("gone.io").unwrap_err().to_string();
        assert!(
            err.contains("docker-credential-absent is not on PATH"),
            "{err}"
        );
    }
}
