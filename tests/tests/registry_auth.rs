//! End to end: registry authentication, credentials, retries and platform selection of
//! tollgate-registry against the real CNCF distribution 2.8 (`docker-registry`).
//!
//! - `auth: htpasswd` (bcrypt file written by `htpasswd -B`, apache2-utils): push, pull, tags,
//!   referrers and platform selection with the right password (given explicitly, from a
//!   config.json `auth` field, from a `docker-credential-test` helper); a wrong password and no
//!   password fail with errors that name the registry and say what to do.
//! - `auth: token`: distribution checks ES256 JWTs signed by a key whose certificate is in its
//!   `rootcertbundle` (header `x5c`, as distribution 2.8's `registry/auth/token` verifies them).
//!   A small token server started by the test issues them (signing with the `openssl` CLI); the
//!   registry is the real peer. Basic credentials and identity tokens (OAuth2 refresh-token
//!   POST) at the token server, token caching, renewal after a 401, wrong/no credentials.
//! - Retries: a loopback server scripted to answer 503/429 before 200, or 404/401, or 503
//!   forever; the client retries only what is transient and says when it gave up.

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use tollgate_e2e::registry::Registry;
use tollgate_e2e::require_tool;
use tollgate_registry::{
    BlockingClient, Credential, Credentials, Digest, Error, MediaType, Options, Reference,
    RetryPolicy, Secret, parse_platform,
};

const USER: &str = "alice";
const PASSWORD: &str = "correct horse battery";

fn fast_retry(attempts: u32) -> RetryPolicy {
    RetryPolicy {
        attempts,
        initial_backoff: Duration::from_millis(10),
        max_backoff: Duration::from_millis(50),
        max_retry_after: Duration::from_secs(5),
    }
}

fn client(credentials: Credentials) -> BlockingClient {
    let mut options = Options::plain_http();
    options.credentials = credentials;
    options.retry = fast_retry(3);
    BlockingClient::new(options).unwrap()
}

fn basic(user: &str, password: &str) -> Credentials {
    Credentials::explicit(
        Credential::Basic {
            username: user.into(),
            password: Secret::new(password),
        },
        "--username/--password-stdin",
    )
}

fn manifest_type() -> MediaType {
    MediaType::parse(MediaType::OCI_MANIFEST).unwrap()
}

/// Pushes a config and one layer, then the manifest at `tag`; returns the manifest's bytes.
fn push_image(c: &BlockingClient, r: &Reference, layer: &[u8]) -> Vec<u8> {
    let config = b"{}".to_vec();
    let config_digest = Digest::sha256(&config);
    c.push_blob(r, config, &config_digest).unwrap();
    let layer_digest = Digest::sha256(layer);
    c.push_blob(r, layer.to_vec(), &layer_digest).unwrap();
    let m = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": MediaType::OCI_MANIFEST,
        "config": {"mediaType": MediaType::OCI_EMPTY, "digest": config_digest.to_string(), "size": 2},
        "layers": [{"mediaType": "application/octet-stream", "digest": layer_digest.to_string(), "size": layer.len()}],
    });
    let bytes = serde_json::to_vec(&m).unwrap();
    c.put_manifest(r, &bytes, &manifest_type()).unwrap();
    bytes
}

/// A referrer of `subject` (an artifact manifest with the empty config).
fn referrer(c: &BlockingClient, r: &Reference, subject: &Digest, size: usize) -> Vec<u8> {
    let config = b"{}".to_vec();
    c.push_blob(r, config.clone(), &Digest::sha256(&config))
        .unwrap();
    serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2,
        "mediaType": MediaType::OCI_MANIFEST,
        "artifactType": "application/vnd.example.signature",
        "config": {"mediaType": MediaType::OCI_EMPTY, "digest": Digest::sha256(&config).to_string(), "size": 2},
        "layers": [],
        "subject": {"mediaType": MediaType::OCI_MANIFEST, "digest": subject.to_string(), "size": size},
    }))
    .unwrap()
}

/// Push, resolve, pull a blob back, list tags, attach and list a referrer: everything works.
fn round_trip(c: &BlockingClient, reg: &Registry, repo: &str) {
    let r: Reference = reg.reference(&format!("{repo}:v1")).parse().unwrap();
    let layer = tollgate_e2e::bytes(3000, 7);
    let manifest = push_image(c, &r, &layer);
    let digest = c.resolve(&r).unwrap();
    assert_eq!(digest, Digest::sha256(&manifest));
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("layer");
    let layer_digest = Digest::sha256(&layer);
    c.pull_blob_to_file(&r, &layer_digest, Some(layer.len() as u64), &dest)
        .unwrap();
    assert_eq!(std::fs::read(&dest).unwrap(), layer);
    assert_eq!(c.list_tags(&r).unwrap(), vec!["v1".to_owned()]);
    let sig = referrer(c, &r, &digest, manifest.len());
    let sig_digest = c.attach_referrer(&r, &sig, &manifest_type()).unwrap();
    let found = c.referrers(&r, &digest).unwrap();
    assert_eq!(found.descriptors.len(), 1);
    assert_eq!(*found.descriptors[0].digest(), sig_digest);
}

// ---------------------------------------------------------------------------------------------
// auth: htpasswd

/// A registry with `auth: htpasswd` for USER/PASSWORD (bcrypt, cost 4 to keep it quick).
fn htpasswd_registry(dir: &Path) -> Registry {
    require_tool("htpasswd", "apache2-utils");
    let out = Command::new("htpasswd")
        .args(["-nbB", "-C", "4", USER, PASSWORD])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let file = dir.join("htpasswd");
    std::fs::write(&file, &out.stdout).unwrap();
    Registry::start_with(
        &format!(
            "auth:\n  htpasswd:\n    realm: tollgate-test\n    path: {}\n",
            file.display()
        ),
        401,
    )
}

#[test]
fn htpasswd_registry_works_with_the_right_password() {
    let dir = tempfile::tempdir().unwrap();
    let reg = htpasswd_registry(dir.path());
    let c = client(basic(USER, PASSWORD));
    round_trip(&c, &reg, "models/basic");

    // Platform selection on a real index: two images, pick each.
    let r: Reference = reg.reference("models/multi:v1").parse().unwrap();
    let amd = push_image(&c, &r.with_tag("amd").unwrap(), b"amd64 layer");
    let arm = push_image(&c, &r.with_tag("arm").unwrap(), b"arm64 layer");
    let entry = |m: &[u8], arch: &str, variant: Option<&str>| {
        let mut e = serde_json::json!({
            "mediaType": MediaType::OCI_MANIFEST, "digest": Digest::sha256(m).to_string(),
            "size": m.len(), "platform": {"os": "linux", "architecture": arch},
        });
        if let Some(v) = variant {
            e["platform"]["variant"] = v.into();
        }
        e
    };
    let index = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2, "mediaType": MediaType::OCI_INDEX,
        "manifests": [entry(&amd, "amd64", None), entry(&arm, "arm64", Some("v8"))],
    }))
    .unwrap();
    c.put_manifest(&r, &index, &MediaType::parse(MediaType::OCI_INDEX).unwrap())
        .unwrap();
    let pick = |p: &str| c.resolve_platform(&r, &parse_platform(p).unwrap());
    assert_eq!(pick("linux/amd64").unwrap(), Digest::sha256(&amd));
    assert_eq!(pick("linux/arm64").unwrap(), Digest::sha256(&arm));
    assert_eq!(pick("linux/aarch64/v8").unwrap(), Digest::sha256(&arm));
    let err = pick("linux/s390x").unwrap_err().to_string();
    assert!(
        err.contains("models/multi:v1") && err.contains("has: linux/amd64, linux/arm64/v8"),
        "{err}"
    );
    // A single-platform image is its own answer.
    let single = r.with_tag("amd").unwrap();
    assert_eq!(
        c.resolve_platform(&single, &parse_platform("linux/amd64").unwrap())
            .unwrap(),
        Digest::sha256(&amd)
    );
}

#[test]
fn htpasswd_registry_refuses_a_wrong_or_missing_password_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let reg = htpasswd_registry(dir.path());
    let r: Reference = reg.reference("models/x:v1").parse().unwrap();

    let wrong = client(basic(USER, "hunter2"));
    for err in [
        wrong.resolve(&r).unwrap_err(),
        wrong
            .push_blob(&r, b"x".to_vec(), &Digest::sha256(b"x"))
            .unwrap_err(),
        wrong.list_tags(&r).unwrap_err(),
    ] {
        let msg = err.to_string();
        assert!(matches!(err, Error::Unauthorized { .. }), "{msg}");
        assert!(
            msg.contains(reg.host()) && msg.contains("models/x"),
            "{msg}"
        );
        assert!(
            msg.contains("refused the credentials from --username/--password-stdin"),
            "{msg}"
        );
        assert!(msg.contains("401") && !msg.contains("hunter2"), "{msg}");
    }

    let anonymous = client(Credentials::anonymous());
    for err in [
        anonymous.resolve(&r).unwrap_err(),
        anonymous
            .blob_exists(&r, &Digest::sha256(b"x"))
            .unwrap_err(),
    ] {
        let msg = err.to_string();
        assert!(matches!(err, Error::Unauthorized { .. }), "{msg}");
        assert!(
            msg.contains("no credentials were found for") && msg.contains(reg.host()),
            "{msg}"
        );
        assert!(
            msg.contains("--username") && msg.contains("docker login"),
            "{msg}"
        );
    }
}

/// Writes `config.json` into `dir`.
fn docker_config(dir: &Path, json: &serde_json::Value) -> PathBuf {
    let path = dir.join("config.json");
    std::fs::write(&path, serde_json::to_vec_pretty(json).unwrap()).unwrap();
    path
}

#[cfg(unix)]
fn write_script(path: &Path, body: &str) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::write(path, format!("#!/bin/sh\n{body}\n")).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

#[cfg(unix)]
#[test]
fn credentials_come_from_docker_config_and_credential_helpers() {
    let dir = tempfile::tempdir().unwrap();
    let reg = htpasswd_registry(dir.path());

    // The auth field, under the URL-style key older docker versions wrote.
    let conf = tempfile::tempdir().unwrap();
    let auth = STANDARD.encode(format!("{USER}:{PASSWORD}"));
    let key = format!("http://{}/v1/", reg.host());
    let path = docker_config(
        conf.path(),
        &serde_json::json!({"auths": {key: {"auth": auth}}}),
    );
    let c = client(Credentials::docker_config(&path, None).unwrap());
    round_trip(&c, &reg, "models/from-config");

    // A credential helper named in credHelpers, found on the helper path; it logs what it was
    // asked so the test can see the protocol (`get`, the host on stdin).
    let bin = tempfile::tempdir().unwrap();
    let log = bin.path().join("asked");
    write_script(
        &bin.path().join("docker-credential-test"),
        &format!(
            "read -r host; echo \"$1 $host\" >> {}; \
             printf '{{\"ServerURL\":\"%s\",\"Username\":\"{USER}\",\"Secret\":\"{PASSWORD}\"}}' \"$host\"",
            log.display()
        ),
    );
    let path = docker_config(
        conf.path(),
        &serde_json::json!({"credHelpers": {reg.host(): "test"}, "auths": {}}),
    );
    let c =
        client(Credentials::docker_config(&path, Some(bin.path().as_os_str().to_owned())).unwrap());
    round_trip(&c, &reg, "models/from-helper");
    let asked = std::fs::read_to_string(&log).unwrap();
    // Looked up once per client, however many requests followed.
    assert_eq!(asked, format!("get {}\n", reg.host()));

    // The helper is missing from PATH: say so, and how to fix it.
    let c = client(Credentials::docker_config(&path, Some("/nonexistent".into())).unwrap());
    let r: Reference = reg.reference("models/from-helper:v1").parse().unwrap();
    let err = c.resolve(&r).unwrap_err().to_string();
    assert!(
        err.contains("docker-credential-test is not on PATH") && err.contains("credHelpers"),
        "{err}"
    );

    // A helper saying it has nothing: anonymous, so the registry's 401 tells how to log in.
    write_script(
        &bin.path().join("docker-credential-test"),
        "echo 'credentials not found in native keychain'; exit 1",
    );
    let c =
        client(Credentials::docker_config(&path, Some(bin.path().as_os_str().to_owned())).unwrap());
    let err = c.resolve(&r).unwrap_err().to_string();
    assert!(err.contains("no credentials were found"), "{err}");
}

// ---------------------------------------------------------------------------------------------
// auth: token

/// An ES256 signing key and its self-signed certificate, made with the openssl CLI.
struct SigningKey {
    key: PathBuf,
    cert: PathBuf,
    cert_der_b64: String,
}

fn signing_key(dir: &Path) -> SigningKey {
    require_tool("openssl", "openssl");
    let key = dir.join("token.key");
    let cert = dir.join("token.crt");
    let ok = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
        ])
        .args([
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=tollgate test token signer",
        ])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .unwrap();
    assert!(ok.status.success(), "{ok:?}");
    let der = Command::new("openssl")
        .args(["x509", "-outform", "DER", "-in"])
        .arg(&cert)
        .output()
        .unwrap();
    assert!(der.status.success(), "{der:?}");
    SigningKey {
        key,
        cert,
        cert_der_b64: STANDARD.encode(&der.stdout),
    }
}

/// DER `SEQUENCE { INTEGER r, INTEGER s }` → the 64-byte `r || s` JWS wants.
fn der_to_raw(der: &[u8]) -> Vec<u8> {
    fn int(b: &[u8]) -> (&[u8], &[u8]) {
        assert_eq!(b[0], 0x02);
        let len = b[1] as usize;
        (&b[2..2 + len], &b[2 + len..])
    }
    assert_eq!(der[0], 0x30);
    let body = if der[1] & 0x80 != 0 {
        &der[3..]
    } else {
        &der[2..]
    };
    let (r, rest) = int(body);
    let (s, _) = int(rest);
    let mut out = vec![0u8; 64];
    let r = &r[r.len().saturating_sub(32)..];
    let s = &s[s.len().saturating_sub(32)..];
    out[32 - r.len()..32].copy_from_slice(r);
    out[64 - s.len()..].copy_from_slice(s);
    out
}

const SERVICE: &str = "tollgate-test-registry";
const ISSUER: &str = "tollgate-test-issuer";
const REFRESH_TOKEN: &str = "refresh-me";

/// What the token server saw.
#[derive(Default)]
struct TokenLog {
    /// `METHOD scope` of every token request.
    requests: Vec<String>,
    /// Tokens still to issue without any access (to make the registry answer 401).
    spoil: usize,
}

/// A token server on 127.0.0.1 issuing distribution-style JWTs: GET with basic USER/PASSWORD,
/// POST with the refresh token; anything else 401.
struct TokenServer {
    url: String,
    log: Arc<Mutex<TokenLog>>,
    stop: Arc<AtomicBool>,
    addr: String,
}

impl TokenServer {
    fn start(key: &SigningKey) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let log = Arc::new(Mutex::new(TokenLog::default()));
        let stop = Arc::new(AtomicBool::new(false));
        let (key_path, x5c) = (key.key.clone(), key.cert_der_b64.clone());
        let (log2, stop2) = (log.clone(), stop.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                if stop2.load(Ordering::Relaxed) {
                    return;
                }
                let Ok(stream) = stream else { continue };
                let _ = serve_token(stream, &key_path, &x5c, &log2);
            }
        });
        Self {
            url: format!("http://{addr}/token"),
            log,
            stop,
            addr,
        }
    }

    fn requests(&self) -> Vec<String> {
        self.log.lock().unwrap().requests.clone()
    }
}

impl Drop for TokenServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        let _ = TcpStream::connect(&self.addr);
    }
}

/// One HTTP request as the test servers see it.
struct Request {
    method: String,
    target: String,
    /// Names lowercased.
    headers: Vec<(String, String)>,
    body: String,
}

/// Reads one HTTP request.
fn read_request(stream: &TcpStream) -> std::io::Result<Request> {
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let mut parts = line.split_whitespace();
    let method = parts.next().unwrap_or_default().to_owned();
    let target = parts.next().unwrap_or_default().to_owned();
    let mut headers = Vec::new();
    loop {
        let mut h = String::new();
        reader.read_line(&mut h)?;
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            headers.push((k.trim().to_ascii_lowercase(), v.trim().to_owned()));
        }
    }
    let len = headers
        .iter()
        .find(|(k, _)| k == "content-length")
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0usize);
    let mut body = vec![0u8; len];
    reader.read_exact(&mut body)?;
    Ok(Request {
        method,
        target,
        headers,
        body: String::from_utf8_lossy(&body).into_owned(),
    })
}

/// `k=v&…` (percent-decoded, `+` as space).
fn form(s: &str) -> Vec<(String, String)> {
    fn decode(s: &str) -> String {
        let b = s.as_bytes();
        let mut out = Vec::new();
        let mut i = 0;
        while i < b.len() {
            match b[i] {
                b'+' => out.push(b' '),
                b'%' if i + 2 < b.len() => {
                    out.push(u8::from_str_radix(&s[i + 1..i + 3], 16).unwrap());
                    i += 2;
                }
                c => out.push(c),
            }
            i += 1;
        }
        String::from_utf8(out).unwrap()
    }
    s.split('&')
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (decode(k), decode(v)))
        .collect()
}

fn serve_token(
    mut stream: TcpStream,
    key: &Path,
    x5c: &str,
    log: &Mutex<TokenLog>,
) -> std::io::Result<()> {
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    let Request {
        method,
        target,
        headers,
        body,
    } = read_request(&stream)?;
    let query = target.split_once('?').map(|(_, q)| q).unwrap_or("");
    let params = if method == "POST" {
        form(&body)
    } else {
        form(query)
    };
    let get = |k: &str| params.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    let scope = get("scope").unwrap_or_default();
    log.lock()
        .unwrap()
        .requests
        .push(format!("{method} {scope}"));
    let expected_basic = format!("Basic {}", STANDARD.encode(format!("{USER}:{PASSWORD}")));
    let authorized = match method.as_str() {
        "GET" => headers
            .iter()
            .any(|(k, v)| k == "authorization" && *v == expected_basic),
        "POST" => {
            get("grant_type").as_deref() == Some("refresh_token")
                && get("refresh_token").as_deref() == Some(REFRESH_TOKEN)
                && get("service").as_deref() == Some(SERVICE)
        }
        _ => false,
    };
    if !authorized || get("service").as_deref() != Some(SERVICE) {
        let body = r#"{"details":"incorrect username or password"}"#;
        return write!(
            stream,
            "HTTP/1.1 401 Unauthorized\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
    }
    // scope = repository:NAME:ACTIONS (one scope per request from tollgate).
    let mut access = Vec::new();
    let spoiled = {
        let mut l = log.lock().unwrap();
        let s = l.spoil > 0;
        l.spoil = l.spoil.saturating_sub(1);
        s
    };
    if let Some(rest) = scope.strip_prefix("repository:")
        && let Some((name, actions)) = rest.rsplit_once(':')
        && !spoiled
    {
        access.push(serde_json::json!({
            "type": "repository", "name": name,
            "actions": actions.split(',').collect::<Vec<_>>(),
        }));
    }
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let header = serde_json::json!({"typ": "JWT", "alg": "ES256", "x5c": [x5c]});
    let claims = serde_json::json!({
        "iss": ISSUER, "sub": USER, "aud": SERVICE,
        "exp": now + 300, "nbf": now - 5, "iat": now, "jti": format!("{now}-{}", access.len()),
        "access": access,
    });
    let signing_input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    let mut openssl = Command::new("openssl")
        .args(["dgst", "-sha256", "-sign"])
        .arg(key)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()?;
    openssl
        .stdin
        .take()
        .unwrap()
        .write_all(signing_input.as_bytes())?;
    let der = openssl.wait_with_output()?.stdout;
    let jwt = format!(
        "{signing_input}.{}",
        URL_SAFE_NO_PAD.encode(der_to_raw(&der))
    );
    // GET answers `token` (docker's field), POST `access_token` (OAuth2's).
    let field = if method == "POST" {
        "access_token"
    } else {
        "token"
    };
    let body = serde_json::json!({field: jwt, "expires_in": 300}).to_string();
    write!(
        stream,
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
}

fn token_registry(key: &SigningKey, server: &TokenServer) -> Registry {
    Registry::start_with(
        &format!(
            "auth:\n  token:\n    realm: {}\n    service: {SERVICE}\n    issuer: {ISSUER}\n    \
             rootcertbundle: {}\n",
            server.url,
            key.cert.display()
        ),
        401,
    )
}

#[test]
fn token_registry_works_with_basic_credentials_at_the_token_server() {
    let dir = tempfile::tempdir().unwrap();
    let key = signing_key(dir.path());
    let server = TokenServer::start(&key);
    let reg = token_registry(&key, &server);
    let c = client(basic(USER, PASSWORD));
    round_trip(&c, &reg, "models/bearer");
    let requests = server.requests();
    // Tokens are cached per scope: one push token and one pull token, however many requests.
    assert_eq!(
        requests,
        vec![
            "GET repository:models/bearer:pull,push".to_owned(),
            "GET repository:models/bearer:pull".to_owned(),
        ],
        "{}",
        reg.log()
    );

    // A token the registry refuses (no access granted) is dropped and fetched again once.
    server.log.lock().unwrap().spoil = 1;
    let fresh = client(basic(USER, PASSWORD));
    let r: Reference = reg.reference("models/bearer:v1").parse().unwrap();
    fresh.resolve(&r).unwrap();
    let after: Vec<_> = server.requests()[2..].to_vec();
    assert_eq!(
        after,
        vec!["GET repository:models/bearer:pull".to_owned(); 2]
    );
    // Always refused: a clear 401, not a loop.
    server.log.lock().unwrap().spoil = 100;
    let fresh = client(basic(USER, PASSWORD));
    let err = fresh.resolve(&r).unwrap_err();
    assert!(matches!(err, Error::Unauthorized { .. }), "{err}");
    assert_eq!(server.requests().len(), 6);
}

#[test]
fn token_registry_with_an_identity_token_from_docker_config() {
    let dir = tempfile::tempdir().unwrap();
    let key = signing_key(dir.path());
    let server = TokenServer::start(&key);
    let reg = token_registry(&key, &server);
    let path = docker_config(
        dir.path(),
        &serde_json::json!({"auths": {reg.host(): {"identitytoken": REFRESH_TOKEN}}}),
    );
    let c = client(Credentials::docker_config(&path, None).unwrap());
    round_trip(&c, &reg, "models/identity");
    assert!(
        server.requests().iter().all(|r| r.starts_with("POST ")),
        "{:?}",
        server.requests()
    );

    let path = docker_config(
        dir.path(),
        &serde_json::json!({"auths": {reg.host(): {"identitytoken": "revoked"}}}),
    );
    let c = client(Credentials::docker_config(&path, None).unwrap());
    let r: Reference = reg.reference("models/identity:v1").parse().unwrap();
    let err = c.resolve(&r).unwrap_err().to_string();
    assert!(
        err.contains("refused the credentials from") && err.contains("config.json"),
        "{err}"
    );
    assert!(!err.contains("revoked"), "{err}");
}

#[test]
fn token_registry_refuses_wrong_or_missing_credentials_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let key = signing_key(dir.path());
    let server = TokenServer::start(&key);
    let reg = token_registry(&key, &server);
    let r: Reference = reg.reference("models/x:v1").parse().unwrap();

    let err = client(basic(USER, "nope")).resolve(&r).unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, Error::Unauthorized { .. }), "{msg}");
    assert!(
        msg.contains(reg.host()) && msg.contains("--username"),
        "{msg}"
    );
    assert!(
        msg.contains("get a token from") && !msg.contains("nope"),
        "{msg}"
    );

    let err = client(Credentials::anonymous())
        .push_blob(&r, b"x".to_vec(), &Digest::sha256(b"x"))
        .unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, Error::Unauthorized { .. }), "{msg}");
    assert!(
        msg.contains("no credentials were found") && msg.contains("docker login"),
        "{msg}"
    );
}

// ---------------------------------------------------------------------------------------------
// retries

/// A loopback server answering each connection with the next scripted response (the last one
/// repeats); records request lines.
struct Scripted {
    host: String,
    seen: Arc<Mutex<Vec<String>>>,
}

fn scripted(responses: Vec<String>) -> Scripted {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let host = listener.local_addr().unwrap().to_string();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let seen2 = seen.clone();
    std::thread::spawn(move || {
        let mut queue: VecDeque<String> = responses.into();
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let Ok(req) = read_request(&stream) else {
                continue;
            };
            seen2
                .lock()
                .unwrap()
                .push(format!("{} {}", req.method, req.target));
            let response = if queue.len() > 1 {
                queue.pop_front().unwrap()
            } else {
                queue.front().cloned().unwrap_or_default()
            };
            let _ = stream.write_all(response.as_bytes());
        }
    });
    Scripted { host, seen }
}

fn respond(status: &str, headers: &str, body: &[u8]) -> String {
    format!(
        "HTTP/1.1 {status}\r\n{headers}Content-Length: {}\r\nConnection: close\r\n\r\n{}",
        body.len(),
        String::from_utf8_lossy(body)
    )
}

fn small_manifest() -> Vec<u8> {
    let d = Digest::sha256(b"{}");
    serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2, "mediaType": MediaType::OCI_MANIFEST,
        "config": {"mediaType": MediaType::OCI_EMPTY, "digest": d.to_string(), "size": 2},
        "layers": [],
    }))
    .unwrap()
}

fn ok_manifest() -> String {
    respond(
        "200 OK",
        "Content-Type: application/vnd.oci.image.manifest.v1+json\r\n",
        &small_manifest(),
    )
}

fn retry_client(attempts: u32) -> BlockingClient {
    let mut options = Options::plain_http();
    options.retry = fast_retry(attempts);
    options.retry.max_retry_after = Duration::from_secs(2);
    BlockingClient::new(options).unwrap()
}

#[test]
fn transient_failures_are_retried_and_the_rest_are_not() {
    // 503, then 429 with Retry-After, then the manifest: success on the third request.
    let s = scripted(vec![
        respond("503 Service Unavailable", "", b"busy"),
        respond("429 Too Many Requests", "Retry-After: 1\r\n", b""),
        ok_manifest(),
    ]);
    let r: Reference = format!("{}/models/m:v1", s.host).parse().unwrap();
    let started = Instant::now();
    let m = retry_client(4).get_manifest(&r).unwrap();
    assert_eq!(m.digest, Digest::sha256(&small_manifest()));
    assert_eq!(s.seen.lock().unwrap().len(), 3);
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "Retry-After was not honoured"
    );

    // oci-client's requests are retried too (HEAD of a blob).
    let s = scripted(vec![
        respond("502 Bad Gateway", "", b""),
        respond("200 OK", "", b""),
    ]);
    let r: Reference = format!("{}/models/m:v1", s.host).parse().unwrap();
    let c = retry_client(3);
    // oci-client calls first learn the registry's challenge with GET /v2/ (here: none).
    assert!(c.blob_exists(&r, &Digest::sha256(b"x")).unwrap());
    let seen = s.seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 3, "{seen:?}");
    assert!(seen[0].starts_with("GET /v2/"), "{seen:?}");

    // 404 is an answer, not a failure: one request.
    let s = scripted(vec![respond("404 Not Found", "", b"")]);
    let r: Reference = format!("{}/models/m:v1", s.host).parse().unwrap();
    let err = retry_client(4).get_manifest(&r).unwrap_err();
    assert!(matches!(err, Error::ManifestNotFound { .. }), "{err}");
    assert_eq!(s.seen.lock().unwrap().len(), 1);

    // 401 is not retried: one more request with the challenge it carried, then the error.
    let s = scripted(vec![respond(
        "401 Unauthorized",
        "WWW-Authenticate: Basic realm=\"x\"\r\n",
        b"",
    )]);
    let r: Reference = format!("{}/models/m:v1", s.host).parse().unwrap();
    let err = retry_client(4).get_manifest(&r).unwrap_err();
    assert!(matches!(err, Error::Unauthorized { .. }), "{err}");
    assert_eq!(s.seen.lock().unwrap().len(), 2);

    // 400 is not retried.
    let s = scripted(vec![respond("400 Bad Request", "", b"nope")]);
    let r: Reference = format!("{}/models/m:v1", s.host).parse().unwrap();
    let err = retry_client(4).get_manifest(&r).unwrap_err().to_string();
    assert!(err.contains("http 400: nope"), "{err}");
    assert_eq!(s.seen.lock().unwrap().len(), 1);
}

#[test]
fn exhausted_retries_say_so() {
    let s = scripted(vec![respond(
        "503 Service Unavailable",
        "",
        b"down for maintenance",
    )]);
    let r: Reference = format!("{}/models/m:v1", s.host).parse().unwrap();
    let err = retry_client(3).get_manifest(&r).unwrap_err();
    let msg = err.to_string();
    assert!(
        matches!(err, Error::RetriesExhausted { attempts: 3, .. }),
        "{msg}"
    );
    assert!(
        msg.contains("http 503: down for maintenance") && msg.contains("gave up after 3 attempts"),
        "{msg}"
    );
    assert_eq!(s.seen.lock().unwrap().len(), 3);

    // A Retry-After past the cap fails at once rather than waiting an hour.
    let s = scripted(vec![respond(
        "429 Too Many Requests",
        "Retry-After: 3600\r\n",
        b"",
    )]);
    let r: Reference = format!("{}/models/m:v1", s.host).parse().unwrap();
    let err = retry_client(3).get_manifest(&r).unwrap_err().to_string();
    assert!(
        err.contains("retry after 3600 s") && err.contains("try again later"),
        "{err}"
    );
    assert_eq!(s.seen.lock().unwrap().len(), 1);

    // Nothing listening: connection errors are retried, then reported with their cause.
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let r: Reference = format!("127.0.0.1:{port}/models/m:v1").parse().unwrap();
    let err = retry_client(2).get_manifest(&r).unwrap_err().to_string();
    assert!(
        err.contains("refused") && err.contains("gave up after 2 attempts"),
        "{err}"
    );
}
