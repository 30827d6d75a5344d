//! `tollgate keygen`: make a signing key pair, PREFIX.key (private, mode 0600, encrypted by
//! default) and PREFIX.pub (SubjectPublicKeyInfo PEM, as OpenSSL writes it).
//!
//! The private key is PKCS#8 (`ENCRYPTED PRIVATE KEY`: read by OpenSSL, python-cryptography,
//! model_signing, Go) or cosign's `ENCRYPTED SIGSTORE PRIVATE KEY` (read by cosign and skopeo).
//! Files are written to a temporary name beside the target and renamed, so an interrupted run
//! never leaves half a key; existing files are kept unless `--force`.

use std::ffi::OsString;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::bail;
use clap::{Args, ValueEnum};
use serde_json::json;
use tollgate_verifier::keys::{KeyAlgorithm, Signer as _, SigningKey};

use crate::output::{self, OutputFormat};

/// Generate a signing key pair: PREFIX.key and PREFIX.pub.
///
/// The private key is encrypted with a password from TOLLGATE_PASSWORD, else COSIGN_PASSWORD,
/// else asked twice on the terminal; --no-password writes it unencrypted (for cosign format:
/// with the empty password, which cosign accepts). PREFIX.key is created with mode 0600.
/// Signatures: ECDSA keys sign with the curve's SHA-2 hash (P-256/SHA-256, P-384/SHA-384,
/// P-521/SHA-512), Ed25519 is pure Ed25519, RSA is PKCS#1 v1.5 with SHA-256.
#[derive(Debug, Args)]
#[command(after_help = "Examples:
  tollgate keygen                                  # tollgate.key + tollgate.pub, ECDSA P-256
  tollgate keygen -o release/signing -a ecdsa-p384
  TOLLGATE_PASSWORD=... tollgate keygen --format cosign -o cosign   # cosign sign --key cosign.key
  tollgate keygen --no-password -o ci/test-key --force")]
pub(crate) struct KeygenArgs {
    /// Key type and size.
    #[arg(short, long, value_enum, default_value_t = AlgorithmArg::EcdsaP256)]
    pub(crate) algorithm: AlgorithmArg,
    /// Write PREFIX.key and PREFIX.pub.
    #[arg(short, long, value_name = "PREFIX", default_value = "tollgate")]
    pub(crate) output: PathBuf,
    /// Private key file format.
    #[arg(long, value_enum, default_value_t = KeyFileFormatArg::Pkcs8)]
    pub(crate) format: KeyFileFormatArg,
    /// Write the private key without a password (cosign format: the empty password).
    #[arg(long)]
    pub(crate) no_password: bool,
    /// Overwrite PREFIX.key and PREFIX.pub if they exist.
    #[arg(long)]
    pub(crate) force: bool,
    /// How to report what was written.
    #[arg(long = "report", value_enum, default_value_t)]
    pub(crate) report: OutputFormat,
}

/// `--algorithm` values.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub(crate) enum AlgorithmArg {
    /// ECDSA on P-256 with SHA-256 (cosign's and model_signing's default).
    #[value(name = "ecdsa-p256")]
    EcdsaP256,
    /// ECDSA on P-384 with SHA-384.
    #[value(name = "ecdsa-p384")]
    EcdsaP384,
    /// ECDSA on P-521 with SHA-512.
    #[value(name = "ecdsa-p521")]
    EcdsaP521,
    /// Ed25519 (not accepted by model_signing, which takes EC keys only).
    #[value(name = "ed25519")]
    Ed25519,
    /// RSA 3072, PKCS#1 v1.5 signatures with SHA-256 (cosign's RSA).
    #[value(name = "rsa-3072")]
    Rsa3072,
    /// RSA 4096, PKCS#1 v1.5 signatures with SHA-256.
    #[value(name = "rsa-4096")]
    Rsa4096,
}

impl From<AlgorithmArg> for KeyAlgorithm {
    fn from(a: AlgorithmArg) -> Self {
        match a {
            AlgorithmArg::EcdsaP256 => Self::EcdsaP256,
            AlgorithmArg::EcdsaP384 => Self::EcdsaP384,
            AlgorithmArg::EcdsaP521 => Self::EcdsaP521,
            AlgorithmArg::Ed25519 => Self::Ed25519,
            AlgorithmArg::Rsa3072 => Self::Rsa { bits: 3072 },
            AlgorithmArg::Rsa4096 => Self::Rsa { bits: 4096 },
        }
    }
}

/// `--format` values.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub(crate) enum KeyFileFormatArg {
    /// PKCS#8 PEM (ENCRYPTED PRIVATE KEY: PBES2, PBKDF2-SHA256, AES-256-CBC).
    Pkcs8,
    /// cosign's ENCRYPTED SIGSTORE PRIVATE KEY (scrypt + nacl/secretbox).
    Cosign,
}

fn with_suffix(prefix: &Path, suffix: &str) -> PathBuf {
    let mut name = OsString::from(prefix.as_os_str());
    name.push(suffix);
    PathBuf::from(name)
}

/// Runs `tollgate keygen`.
pub(crate) fn run(args: &KeygenArgs) -> anyhow::Result<ExitCode> {
    if args.output.as_os_str().is_empty() {
        bail!("--output must not be empty");
    }
    let key_path = with_suffix(&args.output, ".key");
    let pub_path = with_suffix(&args.output, ".pub");
    if !args.force {
        for path in [&key_path, &pub_path] {
            if fs::symlink_metadata(path).is_ok() {
                bail!("{} exists; pass --force to overwrite it", path.display());
            }
        }
    }
    let password = if args.no_password {
        None
    } else {
        Some(super::key::new_key_password()?)
    };
    let algorithm = KeyAlgorithm::from(args.algorithm);
    let key = SigningKey::generate(algorithm)?;
    let private_pem = match args.format {
        KeyFileFormatArg::Pkcs8 => key.to_pkcs8_pem(password.as_ref().map(|p| p.as_slice()))?,
        KeyFileFormatArg::Cosign => {
            let pem = key.to_cosign_pem(password.as_ref().map_or(&[][..], |p| p.as_slice()))?;
            tollgate_verifier::keys::Zeroizing::new(pem)
        }
    };
    let public = key.public_key();
    output::write_atomically(&key_path, private_pem.as_bytes(), 0o600)?;
    output::write_atomically(&pub_path, public.to_pem().as_bytes(), 0o644)?;

    let encrypted = password.is_some() || args.format == KeyFileFormatArg::Cosign;
    let format = match (args.format, password.is_some()) {
        (KeyFileFormatArg::Pkcs8, true) => "encrypted-pkcs8-pem",
        (KeyFileFormatArg::Pkcs8, false) => "pkcs8-pem",
        (KeyFileFormatArg::Cosign, _) => "cosign",
    };
    match args.report {
        OutputFormat::Text => output::print(&format!(
            "private key: {} ({algorithm}, {format}{})\npublic key:  {}\nfingerprint: {}\n",
            key_path.display(),
            if encrypted {
                ", encrypted"
            } else {
                ", NOT encrypted"
            },
            pub_path.display(),
            public.fingerprint(),
        ))?,
        OutputFormat::Json => output::print_json(&json!({
            "private_key": key_path.display().to_string(),
            "public_key": pub_path.display().to_string(),
            "algorithm": algorithm.name(),
            "format": format,
            "encrypted": encrypted,
            "fingerprint": public.fingerprint().to_string(),
            "model_signing_hint": public.pem_hint().hex(),
        }))?,
    }
    Ok(crate::exit::OK)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::{CommandFactory as _, Parser};
    use std::os::unix::fs::PermissionsExt as _;

    #[derive(Debug, Parser)]
    struct Cli {
        #[command(flatten)]
        keygen: KeygenArgs,
    }

    #[test]
    fn arguments() {
        Cli::command().debug_assert();
        let cli = Cli::try_parse_from(["t"]).unwrap();
        assert_eq!(cli.keygen.algorithm, AlgorithmArg::EcdsaP256);
        assert_eq!(cli.keygen.output, PathBuf::from("tollgate"));
        assert_eq!(cli.keygen.format, KeyFileFormatArg::Pkcs8);
        let cli = Cli::try_parse_from([
            "t",
            "-a",
            "rsa-4096",
            "-o",
            "x/y",
            "--format",
            "cosign",
            "--no-password",
            "--force",
        ])
        .unwrap();
        assert_eq!(
            KeyAlgorithm::from(cli.keygen.algorithm),
            KeyAlgorithm::Rsa { bits: 4096 }
        );
        assert!(cli.keygen.no_password && cli.keygen.force);
        assert!(Cli::try_parse_from(["t", "-a", "rsa-2048"]).is_err());
        for a in AlgorithmArg::value_variants() {
            let name = a.to_possible_value().unwrap().get_name().to_owned();
            assert_eq!(KeyAlgorithm::from(*a).name(), name);
        }
    }

    #[test]
    fn key_files_are_private_and_replaced_whole() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k.key");
        output::write_atomically(&path, b"one", 0o600).unwrap();
        assert_eq!(
            fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o600
        );
        output::write_atomically(&path, b"two", 0o600).unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"two");
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
    }
}
