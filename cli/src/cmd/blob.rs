//! `tollgate sign blob` / `tollgate verify blob`: cosign 2.5.0's `sign-blob` / `verify-blob`
//! with a key, and keyless (Sigstore) verification of Sigstore bundles.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::Args;
use serde_json::json;
use tollgate_verifier::bundle::MAX_BUNDLE_BYTES;
use tollgate_verifier::cosign::blob::{self, MAX_SIGNATURE_FILE, SignatureSource};
use tollgate_verifier::digest::{Digest, HashAlgorithm};
use tollgate_verifier::keys::PublicKey;
use tollgate_verifier::sigstore::{self, Artifact, SigstoreBundle};

use crate::cmd::keyless::{self, KEYLESS_FLAGS, KeylessArgs};
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
  tollgate sign blob model.gguf --notation --key leaf.key --cert chain.pem --envelope cose

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
    /// Sign in the Notary Project (Notation) format with the chain --cert; writes
    /// {FILE}.{jws|cose}.sig (docs/notation.md).
    #[arg(long, requires = "cert", conflicts_with_all = ["output_signature", "bundle"])]
    pub(crate) notation: bool,
    #[command(flatten)]
    pub(crate) notation_opts: Box<cmd::notation::NotationBlobSignArgs>,
}

/// Verify a file's signature as `cosign verify-blob` does: with a key, or keyless.
///
/// With --key: a signature file (base64, as cosign writes it, or raw DER) or a bundle (cosign's
/// legacy bundle or a Sigstore bundle v0.1-v0.3 with messageSignature, whose messageDigest must
/// be the file's digest). A Sigstore bundle that carries transparency-log entries or RFC 3161
/// timestamps has them verified offline against the trust root too; other forms check the key
/// only (log entries are reported, not verified).
///
/// Keyless (--certificate-identity[-regexp] and --certificate-oidc-issuer[-regexp]): a Sigstore
/// bundle whose Fulcio certificate chains to the trust root at the signing time proven by the
/// transparency log or a timestamp authority, for the expected identity; fully offline. The
/// file may be given as sha256:HEX instead. Exit 0 verified, 1 not verified, 2 usage or
/// input error.
#[derive(Debug, Args)]
#[command(after_help = "Examples:
  tollgate verify blob model.gguf --key cosign.pub --signature model.gguf.sig
  tollgate verify blob model.gguf --key cosign.pub --bundle model.sigstore.json --output json
  tollgate verify blob model.gguf --notation --signature model.gguf.jws.sig --policy-name models
  tollgate verify blob release.tar.gz --bundle release.sigstore.json \\
      --certificate-identity https://github.com/OWNER/REPO/.github/workflows/release.yml@refs/tags/v1.0 \\
      --certificate-oidc-issuer https://token.actions.githubusercontent.com
  tollgate verify blob sha256:<hex> --bundle release.sigstore.json \\
      --certificate-identity-regexp '^https://github\\.com/OWNER/' \\
      --certificate-oidc-issuer https://token.actions.githubusercontent.com \\
      --certificate-github-workflow-ref refs/heads/main --trusted-root trusted_root.json")]
pub(crate) struct VerifyBlobArgs {
    /// The signed file, or its digest as sha256:HEX (Sigstore bundles only; a path that
    /// exists is always a path).
    pub(crate) path: PathBuf,
    /// Public key (SPKI PEM or DER, e.g. cosign.pub) the file must be signed with.
    #[arg(
        long,
        value_name = "PUB",
        required_unless_present_any = KEYLESS_FLAGS.into_iter().chain(["notation"]),
        conflicts_with_all = KEYLESS_FLAGS
    )]
    pub(crate) key: Option<PathBuf>,
    /// Signature file: base64 (cosign's default) or raw DER.
    #[arg(
        long,
        value_name = "SIG",
        required_unless_present = "bundle",
        conflicts_with = "bundle",
        conflicts_with_all = KEYLESS_FLAGS
    )]
    pub(crate) signature: Option<PathBuf>,
    /// cosign bundle ({"base64Signature"}) or Sigstore bundle.
    #[arg(long, value_name = "BUNDLE")]
    pub(crate) bundle: Option<PathBuf>,
    /// Keyless identity policy and trust root.
    #[command(flatten)]
    pub(crate) keyless: KeylessArgs,
    /// Verify a Notary Project (Notation) signature, {FILE}.{jws|cose}.sig, with a trust
    /// policy and trust store (docs/notation.md).
    #[arg(long, requires = "signature", conflicts_with_all = ["key", "bundle"])]
    pub(crate) notation: bool,
    #[command(flatten)]
    pub(crate) notation_opts: Box<cmd::notation::NotationBlobVerifyArgs>,
    /// Output format.
    #[arg(long, value_enum, default_value_t)]
    pub(crate) output: OutputFormat,
}

/// What `verify blob` is about: a file, or only its digest.
enum Target<'a> {
    File(&'a std::path::Path),
    Sha256(Digest),
}

impl<'a> Target<'a> {
    /// `sha256:<64 hex>` that is not an existing path is a digest (the sigstore-conformance
    /// rule); anything else is a path.
    fn parse(path: &'a std::path::Path) -> Self {
        let digest = path
            .to_str()
            .and_then(|s| s.strip_prefix("sha256:"))
            .filter(|hex| hex.len() == 64 && !path.exists())
            .and_then(|hex| Digest::from_hex(HashAlgorithm::Sha256, hex).ok());
        digest.map_or(Self::File(path), Self::Sha256)
    }

    fn artifact(&self) -> Artifact<'_> {
        match self {
            Self::File(path) => Artifact::File(path),
            Self::Sha256(digest) => Artifact::Sha256(digest),
        }
    }
}

/// `tollgate sign blob`.
pub(crate) fn sign(args: &SignBlobArgs) -> anyhow::Result<ExitCode> {
    if args.notation {
        return cmd::notation::sign_blob(&args.path, &args.key, &args.notation_opts);
    }
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
    if let (true, Some(signature)) = (args.notation, &args.signature) {
        let opts = &args.notation_opts;
        return cmd::notation::verify_blob(&args.path, signature, opts, args.output);
    }
    let target = Target::parse(&args.path);
    let bundle_bytes = match &args.bundle {
        Some(bundle) => Some(cmd::read_bounded(bundle, MAX_BUNDLE_BYTES, "a bundle")?),
        None => None,
    };
    let Some(key_path) = &args.key else {
        let Some(bytes) = &bundle_bytes else {
            anyhow::bail!("keyless verification needs the Sigstore bundle: give --bundle");
        };
        let trust = args.keyless.trust(None)?;
        return verify_sigstore(args, &target, bytes, &trust);
    };
    let key_bytes = cmd::read_bounded(key_path, 1 << 20, "a public key")?;
    let key = PublicKey::from_bytes(&key_bytes)
        .with_context(|| format!("{}: cannot read public key", key_path.display()))?;
    // A Sigstore bundle with log entries or timestamps: verify those too, like cosign.
    if let Some(bytes) = &bundle_bytes
        && let Ok(bundle) = SigstoreBundle::from_json(bytes)
        && bundle.has_log_or_timestamp()
        && !bundle.has_certificate()
    {
        let trust = args.keyless.trust(Some(key))?;
        return verify_sigstore(args, &target, bytes, &trust);
    }
    let Target::File(path) = target else {
        anyhow::bail!(
            "{}: a digest can be verified only against a Sigstore bundle with a transparency-log entry; give the file",
            args.path.display()
        );
    };
    let (file, parsed) = match (&args.signature, &args.bundle, &bundle_bytes) {
        (Some(sig), _, _) => {
            let bytes = cmd::read_bounded(sig, MAX_SIGNATURE_FILE, "a signature")?;
            (
                sig,
                blob::parse_signature(&bytes).map(SignatureSource::Signature),
            )
        }
        (None, Some(bundle), Some(bytes)) => (bundle, blob::parse_bundle(bytes)),
        _ => anyhow::bail!("give --signature or --bundle"),
    };
    let source = match parsed {
        Ok(s) => s,
        Err(err) => return rejected(args, &format!("{}: {err}", file.display())),
    };
    let verified = match blob::verify(path, &key, &source) {
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

/// A Sigstore bundle verified in full (certificate or key, log, timestamps), offline.
fn verify_sigstore(
    args: &VerifyBlobArgs,
    target: &Target<'_>,
    bundle_bytes: &[u8],
    trust: &sigstore::Trust,
) -> anyhow::Result<ExitCode> {
    let bundle_path = args
        .bundle
        .as_deref()
        .unwrap_or(std::path::Path::new("bundle"));
    let bundle = match SigstoreBundle::from_json(bundle_bytes) {
        Ok(b) => b,
        Err(err) => return rejected(args, &format!("{}: {err}", bundle_path.display())),
    };
    let verified = match sigstore::verify(&bundle, target.artifact(), trust) {
        Ok(v) => v,
        Err(err) if err.is_rejection() => return rejected(args, &err.to_string()),
        Err(err) => return Err(err.into()),
    };
    let sha256 = verified.sha256().map(ToString::to_string);
    match args.output {
        OutputFormat::Json => {
            let mut value = json!({
                "verified": true,
                "blob": args.path,
                "sha256": sha256,
                "format": "sigstore-bundle",
                "notes": [],
            });
            if let (Some(out), serde_json::Value::Object(proof)) =
                (value.as_object_mut(), keyless::proof_json(&verified, trust))
            {
                out.extend(proof);
            }
            output::print_json(&value)?;
        }
        OutputFormat::Text => output::print(&format!(
            "verified: {} ({}) signed by {} (sigstore-bundle, {})\n",
            args.path.display(),
            sha256.as_deref().unwrap_or("-"),
            keyless::describe(&verified),
            trust.root().source(),
        ))?,
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
