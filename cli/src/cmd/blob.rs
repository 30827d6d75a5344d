//! `tollgate sign blob` / `tollgate verify blob`: cosign 2.5.0's `sign-blob` / `verify-blob`
//! with a key.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::Args;
use serde_json::json;
use tollgate_verifier::bundle::MAX_BUNDLE_BYTES;
use tollgate_verifier::cosign::blob::{self, MAX_SIGNATURE_FILE, SignatureSource};
use tollgate_verifier::keys::PublicKey;

use crate::output::{self, OutputFormat};
use crate::{cmd, exit};

/// Sign a file as `cosign sign-blob --key` does.
///
/// Prints the base64 signature on stdout (as cosign), or writes it with --output-signature;
/// --bundle also writes cosign's bundle: the legacy {"base64Signature"} form, or with
/// --new-bundle-format a Sigstore bundle v0.3 (messageSignature). Nothing is uploaded to a
/// transparency log (cosign's --tlog-upload=false). ECDSA and RSA keys hash the file without
/// loading it; Ed25519 keys and PKCS#11 tokens read it into memory (at most 1 GiB).
#[derive(Debug, Args)]
#[command(after_help = "Examples:
  tollgate sign blob model.gguf --key cosign.key > model.gguf.sig
  tollgate sign blob model.gguf --key cosign.key --output-signature model.gguf.sig --bundle model.gguf.bundle
  tollgate sign blob model.gguf --key cosign.key --bundle model.sigstore.json --new-bundle-format

The key password comes from TOLLGATE_PASSWORD, else COSIGN_PASSWORD, else a terminal prompt.
cosign verifies the results with:
  cosign verify-blob --key cosign.pub --signature model.gguf.sig --insecure-ignore-tlog model.gguf")]
pub(crate) struct SignBlobArgs {
    /// The file to sign.
    pub(crate) path: PathBuf,
    /// Private key file (cosign format, PKCS#8, SEC1, PKCS#1) or a pkcs11: URI.
    #[arg(long, value_name = "KEY")]
    pub(crate) key: String,
    /// Write the base64 signature to this file instead of stdout.
    #[arg(long, value_name = "OUT")]
    pub(crate) output_signature: Option<PathBuf>,
    /// Also write a bundle: cosign's legacy {"base64Signature"} JSON, or a Sigstore bundle with
    /// --new-bundle-format.
    #[arg(long, value_name = "OUT")]
    pub(crate) bundle: Option<PathBuf>,
    /// Write --bundle as a Sigstore bundle v0.3 (cosign --new-bundle-format).
    #[arg(long, requires = "bundle")]
    pub(crate) new_bundle_format: bool,
}

/// Verify a file's signature as `cosign verify-blob --key` does.
///
/// Takes a signature file (base64, as cosign writes it, or raw DER) or a bundle (cosign's
/// legacy bundle or a Sigstore bundle v0.1-v0.3 with messageSignature, whose messageDigest must
/// be the file's digest). Only the key is checked: transparency-log entries are reported, not
/// verified, and certificates (keyless signatures) are refused. Exit 0 verified, 1 not
/// verified, 2 usage or input error.
#[derive(Debug, Args)]
#[command(after_help = "Examples:
  tollgate verify blob model.gguf --key cosign.pub --signature model.gguf.sig
  tollgate verify blob model.gguf --key cosign.pub --bundle model.sigstore.json --output json")]
pub(crate) struct VerifyBlobArgs {
    /// The signed file.
    pub(crate) path: PathBuf,
    /// Public key (SPKI PEM or DER, e.g. cosign.pub) the file must be signed with.
    #[arg(long, value_name = "PUB")]
    pub(crate) key: PathBuf,
    /// Signature file: base64 (cosign's default) or raw DER.
    #[arg(
        long,
        value_name = "SIG",
        required_unless_present = "bundle",
        conflicts_with = "bundle"
    )]
    pub(crate) signature: Option<PathBuf>,
    /// cosign bundle ({"base64Signature"}) or Sigstore bundle.
    #[arg(long, value_name = "BUNDLE")]
    pub(crate) bundle: Option<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t)]
    pub(crate) output: OutputFormat,
}

/// `tollgate sign blob`.
pub(crate) fn sign(args: &SignBlobArgs) -> anyhow::Result<ExitCode> {
    // The key first: a wrong password should not cost a hashing pass.
    let signer = cmd::sign::load_signer(&args.key)?;
    let signed = blob::sign(&args.path, signer.as_ref())?;
    let b64 = signed.to_base64();
    if let Some(bundle) = &args.bundle {
        let bytes = if args.new_bundle_format {
            signed.sigstore_bundle_json(signer.public_key())
        } else {
            signed.legacy_bundle_json()
        };
        output::write_atomically(bundle, &bytes, 0o644)?;
        eprintln!("wrote bundle to {}", bundle.display());
    }
    match &args.output_signature {
        Some(out) => {
            output::write_atomically(out, b64.as_bytes(), 0o644)?;
            eprintln!("wrote signature to {}", out.display());
        }
        None => output::print(&format!("{b64}\n"))?,
    }
    Ok(exit::OK)
}

/// `tollgate verify blob`.
pub(crate) fn verify(args: &VerifyBlobArgs) -> anyhow::Result<ExitCode> {
    let key_bytes = cmd::read_bounded(&args.key, 1 << 20, "a public key")?;
    let key = PublicKey::from_bytes(&key_bytes)
        .with_context(|| format!("{}: cannot read public key", args.key.display()))?;
    let (file, parsed) = match (&args.signature, &args.bundle) {
        (Some(sig), _) => {
            let bytes = cmd::read_bounded(sig, MAX_SIGNATURE_FILE, "a signature")?;
            (
                sig,
                blob::parse_signature(&bytes).map(SignatureSource::Signature),
            )
        }
        (None, Some(bundle)) => {
            let bytes = cmd::read_bounded(bundle, MAX_BUNDLE_BYTES, "a bundle")?;
            (bundle, blob::parse_bundle(&bytes))
        }
        (None, None) => anyhow::bail!("give --signature or --bundle"),
    };
    let source = match parsed {
        Ok(s) => s,
        Err(err) => return rejected(args, &format!("{}: {err}", file.display())),
    };
    let verified = match blob::verify(&args.path, &key, &source) {
        Ok(v) => v,
        Err(err) if err.is_rejection() => return rejected(args, &err.to_string()),
        Err(err) => return Err(err.into()),
    };
    let signer = format!("key {}", verified.signer);
    match args.output {
        OutputFormat::Json => output::print_json(&json!({
            "verified": true,
            "blob": args.path,
            "sha256": verified.sha256.to_string(),
            "signer": signer,
            "format": source.kind(),
            "notes": verified.notes,
        }))?,
        OutputFormat::Text => {
            for note in &verified.notes {
                eprintln!("note: {note}");
            }
            output::print(&format!(
                "verified: {} ({}) signed by {signer} ({})\n",
                args.path.display(),
                verified.sha256,
                source.kind(),
            ))?;
        }
    }
    Ok(exit::OK)
}

/// Prints why verification failed and exits 1.
fn rejected(args: &VerifyBlobArgs, reason: &str) -> anyhow::Result<ExitCode> {
    match args.output {
        OutputFormat::Json => {
            output::print_json(&json!({"verified": false, "blob": args.path, "error": reason}))?
        }
        OutputFormat::Text => output::print(&format!("verification failed: {reason}\n"))?,
    }
    Ok(exit::rejected())
}
