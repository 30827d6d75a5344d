//! `tollgate key inspect`: what a key file (or PKCS#11 key) is, and where key passwords come
//! from for every command that reads or writes a private key.
//!
//! Passwords: `TOLLGATE_PASSWORD`, else `COSIGN_PASSWORD` (set-but-empty is the empty password,
//! as in cosign), else a prompt when stdin is a terminal (twice for a new key), else an error.
//! Never a command-line flag: those end up in shell history and `ps`.

use std::io::IsTerminal as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context as _, bail};
use clap::{Args, Subcommand};
use serde_json::json;
use tollgate_verifier::keys::{self, KeyFile, KeyFormat, PublicKey, Zeroizing};

use crate::output::{self, OutputFormat};

/// Environment variable holding a key password.
pub(crate) const ENV_PASSWORD: &str = "TOLLGATE_PASSWORD";
/// cosign's password variable, read when `TOLLGATE_PASSWORD` is unset.
pub(crate) const ENV_COSIGN_PASSWORD: &str = "COSIGN_PASSWORD";

/// Inspect key files.
#[derive(Debug, Args)]
#[command(after_help = "Examples:
  tollgate key inspect release.pub
  tollgate key inspect release.key --output json
  tollgate key inspect 'pkcs11:token=release;object=model-key'")]
pub(crate) struct KeyArgs {
    #[command(subcommand)]
    pub(crate) command: KeyCommand,
}

/// `tollgate key` subcommands.
#[derive(Debug, Subcommand)]
pub(crate) enum KeyCommand {
    Inspect(KeyInspectArgs),
}

/// Show a key's type, size, format and fingerprint.
///
/// KEY is a key file (public or private; PEM or DER; PKCS#8, SEC1, PKCS#1, SubjectPublicKeyInfo
/// or cosign's encrypted format) or a `pkcs11:` URI. An encrypted private key needs its password
/// (from TOLLGATE_PASSWORD, COSIGN_PASSWORD or a terminal prompt) to show its public half. The
/// fingerprint is the SHA-256 of the DER SubjectPublicKeyInfo (cosign's key id); the hint is
/// model_signing's `publicKey.hint` (SHA-256 of the PEM text).
#[derive(Debug, Args)]
#[command(after_help = "Examples:
  tollgate key inspect tollgate.pub
  TOLLGATE_PASSWORD=... tollgate key inspect tollgate.key --output json
  tollgate key inspect cosign.key                      # prompts for the password on a terminal
  TOLLGATE_PKCS11_PIN=1234 tollgate key inspect 'pkcs11:token=signing;object=model-key'")]
pub(crate) struct KeyInspectArgs {
    /// Key file or pkcs11: URI.
    #[arg(value_name = "KEY")]
    pub(crate) key: PathBuf,
    /// Output format.
    #[arg(long, value_enum, default_value_t)]
    pub(crate) output: OutputFormat,
}

/// Runs `tollgate key ...`.
pub(crate) fn run(args: &KeyArgs) -> anyhow::Result<ExitCode> {
    match &args.command {
        KeyCommand::Inspect(inspect) => run_inspect(inspect),
    }
}

/// What `key inspect` found.
struct Report {
    source: String,
    private: bool,
    /// `None` for a key on a PKCS#11 token.
    format: Option<KeyFormat>,
    encrypted: Option<bool>,
    public: Option<PublicKey>,
}

fn run_inspect(args: &KeyInspectArgs) -> anyhow::Result<ExitCode> {
    let report = match args.key.to_str().filter(|s| s.starts_with("pkcs11:")) {
        Some(uri) => inspect_pkcs11(uri)?,
        None => inspect_file(&args.key)?,
    };
    match args.output {
        OutputFormat::Text => output::print(&text(&report))?,
        OutputFormat::Json => output::print_json(&to_json(&report))?,
    }
    Ok(crate::exit::OK)
}

fn inspect_pkcs11(uri: &str) -> anyhow::Result<Report> {
    let signer = keys::load_signer(uri, None)?;
    Ok(Report {
        source: redact_pin(uri),
        private: true,
        format: None,
        encrypted: None,
        public: Some(signer.public_key().clone()),
    })
}

fn inspect_file(path: &Path) -> anyhow::Result<Report> {
    let bytes = keys::read_key_file(path)?;
    let file = KeyFile::parse(&bytes).map_err(|e| e.with_path(path))?;
    let public = if file.is_encrypted() {
        let password = existing_key_password(path)?;
        let key = file
            .signing_key(Some(&password))
            .map_err(|e| e.with_path(path))?;
        use keys::Signer as _;
        key.public_key().clone()
    } else {
        file.public_key().map_err(|e| e.with_path(path))?
    };
    Ok(Report {
        source: path.display().to_string(),
        private: file.is_private(),
        format: Some(file.format()),
        encrypted: Some(file.is_encrypted()),
        public: Some(public),
    })
}

/// A `pkcs11:` URI with any `pin-value` replaced by `***`.
fn redact_pin(uri: &str) -> String {
    let mut out = String::with_capacity(uri.len());
    let mut rest = uri;
    while let Some(at) = rest.find("pin-value=") {
        let value_start = at + "pin-value=".len();
        out.push_str(&rest[..value_start]);
        out.push_str("***");
        let value_end = rest[value_start..]
            .find([';', '&', '?'])
            .map_or(rest.len(), |i| value_start + i);
        rest = &rest[value_end..];
    }
    out.push_str(rest);
    out
}

fn text(report: &Report) -> String {
    let mut out = String::new();
    let mut line = |k: &str, v: &str| out.push_str(&format!("{k:<12} {v}\n"));
    line("key:", &report.source);
    line(
        "kind:",
        if report.private {
            "private key"
        } else {
            "public key"
        },
    );
    let format = report.format.map_or_else(
        || "pkcs11 (key on a PKCS#11 token)".to_owned(),
        |f| format!("{f} ({})", f.description()),
    );
    line("format:", &format);
    if let Some(encrypted) = report.encrypted {
        line("encrypted:", if encrypted { "yes" } else { "no" });
    }
    if let Some(public) = &report.public {
        let algorithm = public.algorithm();
        line("algorithm:", &algorithm.name());
        line("type:", algorithm.key_type());
        line("size:", &algorithm.parameters());
        line("signature:", algorithm.signature_scheme());
        line("fingerprint:", &public.fingerprint().to_string());
        line("hint:", &public.pem_hint().hex());
    }
    out
}

fn to_json(report: &Report) -> serde_json::Value {
    let mut value = json!({
        "key": report.source,
        "kind": if report.private { "private" } else { "public" },
        "format": report.format.map_or("pkcs11", KeyFormat::name),
        "encrypted": report.encrypted,
    });
    if let Some(public) = &report.public {
        let algorithm = public.algorithm();
        value["algorithm"] = json!(algorithm.name());
        value["type"] = json!(algorithm.key_type());
        value["size"] = json!(algorithm.parameters());
        value["signature_scheme"] = json!(algorithm.signature_scheme());
        value["fingerprint"] = json!(public.fingerprint().to_string());
        value["model_signing_hint"] = json!(public.pem_hint().hex());
        value["public_key_pem"] = json!(public.to_pem());
    }
    value
}

/// The password from `TOLLGATE_PASSWORD` or `COSIGN_PASSWORD`, if either is set.
pub(crate) fn password_from_env() -> Option<Zeroizing<Vec<u8>>> {
    use std::os::unix::ffi::OsStringExt as _;
    [ENV_PASSWORD, ENV_COSIGN_PASSWORD]
        .into_iter()
        .find_map(std::env::var_os)
        .map(|v| Zeroizing::new(v.into_vec()))
}

fn prompt(text: &str) -> anyhow::Result<Zeroizing<Vec<u8>>> {
    let answer =
        rpassword::prompt_password(text).context("cannot read the password from the terminal")?;
    Ok(Zeroizing::new(answer.into_bytes()))
}

/// The password of an existing encrypted key: environment, else a terminal prompt.
pub(crate) fn existing_key_password(path: &Path) -> anyhow::Result<Zeroizing<Vec<u8>>> {
    if let Some(password) = password_from_env() {
        return Ok(password);
    }
    if std::io::stdin().is_terminal() {
        return prompt(&format!("Password for {}: ", path.display()));
    }
    bail!(
        "{} is encrypted: set {ENV_PASSWORD} or run on a terminal",
        path.display()
    )
}

/// The password for a new key: environment, else asked twice on a terminal.
pub(crate) fn new_key_password() -> anyhow::Result<Zeroizing<Vec<u8>>> {
    if let Some(password) = password_from_env() {
        return Ok(password);
    }
    if std::io::stdin().is_terminal() {
        let first = prompt("Password for the new key: ")?;
        let second = prompt("Repeat the password: ")?;
        if first != second {
            bail!("the passwords do not match");
        }
        return Ok(first);
    }
    bail!(
        "the new key needs a password: set {ENV_PASSWORD} or run on a terminal (or pass --no-password)"
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::{CommandFactory as _, Parser};

    #[derive(Debug, Parser)]
    struct Cli {
        #[command(subcommand)]
        command: Top,
    }

    #[derive(Debug, Subcommand)]
    enum Top {
        Key(KeyArgs),
    }

    #[test]
    fn arguments() {
        Cli::command().debug_assert();
        let cli =
            Cli::try_parse_from(["t", "key", "inspect", "k.pub", "--output", "json"]).unwrap();
        let Top::Key(KeyArgs {
            command: KeyCommand::Inspect(inspect),
        }) = cli.command;
        assert_eq!(inspect.key, PathBuf::from("k.pub"));
        assert_eq!(inspect.output, OutputFormat::Json);
        assert!(Cli::try_parse_from(["t", "key", "inspect"]).is_err());
    }

    #[test]
    fn pins_are_never_echoed() {
        assert_eq!(
            redact_pin("pkcs11:token=t;pin-value=1234;object=k"),
            "pkcs11:token=t;pin-value=***;object=k"
        );
        assert_eq!(
            redact_pin("pkcs11:token=t;object=k?pin-value=12%334&module-path=/m.so"),
            "pkcs11:token=t;object=k?pin-value=***&module-path=/m.so"
        );
        assert_eq!(
            redact_pin("pkcs11:token=t;object=k"),
            "pkcs11:token=t;object=k"
        );
    }
}
