//! Registry connection options shared by every command that talks to a registry (transport,
//! credentials, platform), and turning them into a [`tollgate_registry::BlockingClient`].
//! docs/registry.md documents them for users.

use std::io::Read;
use std::sync::OnceLock;

use anyhow::{Context, bail};
use clap::Args;
use tollgate_registry::{
    BlockingClient, Credential, Credentials, Options, Platform, Reference, Secret, parse_platform,
};

/// Longest password accepted on stdin.
const MAX_PASSWORD: u64 = 64 << 10;
/// Environment variables holding credentials (used when --username is not given).
const ENV_USERNAME: &str = "TOLLGATE_REGISTRY_USERNAME";
const ENV_PASSWORD: &str = "TOLLGATE_REGISTRY_PASSWORD";

/// How to reach the registry.
#[derive(Debug, Args)]
pub(crate) struct RegistryArgs {
    /// Talk plain HTTP to the registry (loopback registries only, unless --insecure-registry).
    #[arg(long)]
    pub(crate) plain_http: bool,
    /// Allow plain HTTP to a registry that is not on loopback (credentials are still never
    /// sent over plain HTTP to it).
    #[arg(long, requires = "plain_http")]
    pub(crate) insecure_registry: bool,
    /// Registry user name; the password is read from stdin (--password-stdin). Without it:
    /// $TOLLGATE_REGISTRY_USERNAME/$TOLLGATE_REGISTRY_PASSWORD, else docker's config.json.
    #[arg(long, requires = "password_stdin", value_name = "USER")]
    pub(crate) username: Option<String>,
    /// Read the registry password (or token) from stdin; one trailing newline is removed.
    #[arg(long, requires = "username")]
    pub(crate) password_stdin: bool,
    /// Platform to pick from a multi-platform image index: OS/ARCH[/VARIANT], e.g. linux/arm64.
    #[arg(long, value_name = "OS/ARCH[/VARIANT]", value_parser = platform_arg)]
    pub(crate) platform: Option<Platform>,
    /// The password once read from stdin (stdin can be read only once per run).
    #[arg(skip)]
    password: OnceLock<Secret>,
}

fn platform_arg(text: &str) -> Result<Platform, String> {
    parse_platform(text).map_err(|e| e.to_string())
}

impl RegistryArgs {
    /// `r`, or with --platform and an index at `r`, that platform's manifest by digest.
    pub(crate) fn pinned(
        &self,
        client: &BlockingClient,
        r: Reference,
    ) -> anyhow::Result<Reference> {
        Ok(match &self.platform {
            Some(p) => r.with_digest(&client.resolve_platform(&r, p)?),
            None => r,
        })
    }

    /// A client configured from the command line.
    pub(crate) fn client(&self) -> anyhow::Result<BlockingClient> {
        let mut options = if self.plain_http {
            Options::plain_http()
        } else {
            Options::default()
        };
        options.insecure = self.insecure_registry;
        options.credentials = self.credentials()?;
        Ok(BlockingClient::new(options)?)
    }

    /// The credentials: --username with the password from stdin, else the environment, else
    /// docker's config.json (anonymous when it has nothing for the registry).
    fn credentials(&self) -> anyhow::Result<Credentials> {
        if let Some(username) = &self.username {
            let password = match self.password.get() {
                Some(p) => p.clone(),
                None => {
                    let p = read_password(std::io::stdin().lock())?;
                    self.password.get_or_init(|| p).clone()
                }
            };
            return Ok(Credentials::explicit(
                basic(username, password)?,
                "--username/--password-stdin",
            ));
        }
        match (std::env::var(ENV_USERNAME), std::env::var(ENV_PASSWORD)) {
            (Ok(user), Ok(password)) if !user.is_empty() => {
                return Ok(Credentials::explicit(
                    basic(&user, Secret::new(password))?,
                    format!("${ENV_USERNAME}/${ENV_PASSWORD}"),
                ));
            }
            (Ok(user), Err(_)) if !user.is_empty() => {
                bail!("{ENV_USERNAME} is set but {ENV_PASSWORD} is not: set both, or neither")
            }
            _ => {}
        }
        Ok(Credentials::from_docker_env()?)
    }
}

fn basic(username: &str, password: Secret) -> anyhow::Result<Credential> {
    if username.contains(':') {
        bail!("the registry user name must not contain ':' (HTTP basic auth cannot carry it)");
    }
    Ok(Credential::Basic {
        username: username.to_owned(),
        password,
    })
}

/// The password on `input`: at most 64 KiB, one trailing `\n` (or `\r\n`) removed, not empty.
fn read_password(input: impl Read) -> anyhow::Result<Secret> {
    let mut bytes = Vec::new();
    input
        .take(MAX_PASSWORD + 1)
        .read_to_end(&mut bytes)
        .context("cannot read the password from stdin")?;
    if bytes.len() as u64 > MAX_PASSWORD {
        bail!("the password on stdin is longer than {MAX_PASSWORD} bytes");
    }
    let text = String::from_utf8(bytes).context("the password on stdin is not UTF-8")?;
    let text = text.strip_suffix('\n').unwrap_or(&text);
    let text = text.strip_suffix('\r').unwrap_or(text);
    if text.is_empty() {
        bail!(
            "--password-stdin: stdin is empty; pipe the password in, e.g. `printenv PASS | tollgate …`"
        );
    }
    Ok(Secret::new(text))
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Debug, Parser)]
    struct Cli {
        #[command(flatten)]
        registry: RegistryArgs,
    }

    fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(std::iter::once("t").chain(args.iter().copied()))
    }

    #[test]
    fn flags_parse_and_depend_on_each_other() {
        Cli::command_for_test();
        let cli = parse(&[
            "--username",
            "u",
            "--password-stdin",
            "--platform",
            "linux/arm64/v8",
        ])
        .unwrap();
        assert_eq!(cli.registry.username.as_deref(), Some("u"));
        assert!(cli.registry.password_stdin);
        let p = cli.registry.platform.unwrap();
        assert_eq!((p.os.as_str(), p.architecture.as_str()), ("linux", "arm64"));
        assert!(parse(&["--username", "u"]).is_err());
        assert!(parse(&["--password-stdin"]).is_err());
        assert!(parse(&["--insecure-registry"]).is_err());
        assert!(parse(&["--plain-http", "--insecure-registry"]).is_ok());
        let err = parse(&["--platform", "linux"]).unwrap_err().to_string();
        assert!(err.contains("OS/ARCH"), "{err}");
    }

    impl Cli {
        fn command_for_test() {
            use clap::CommandFactory;
            Self::command().debug_assert();
        }
    }

    #[test]
    fn passwords_from_stdin() {
        let read = |s: &str| read_password(s.as_bytes()).map(|p| format!("{:?}", p));
        assert!(read("pw\n").is_ok());
        assert!(read("").unwrap_err().to_string().contains("stdin is empty"));
        assert!(read("\n").is_err());
        let big = "x".repeat((MAX_PASSWORD + 1) as usize);
        assert!(read(&big).unwrap_err().to_string().contains("longer than"));
        // Exactly one newline goes; the secret never shows in Debug.
        assert_eq!(read("pw\r\n").unwrap(), "<redacted>");
        let cases = [
            ("pw\n", "pw"),
            ("pw\r\n", "pw"),
            ("pw\n\n", "pw\n"),
            (" pw ", " pw "),
        ];
        for (input, want) in cases {
            let p = read_password(input.as_bytes()).unwrap();
            assert_eq!(p, Secret::new(want), "{input:?}");
        }
        assert!(basic("a:b", Secret::new("x")).is_err());
    }
}
