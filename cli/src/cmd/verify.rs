//! `tollgate verify model`: check a model on disk against its signature.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::SystemTime;

use anyhow::Context;
use clap::{Args, Subcommand};
use serde_json::{Value, json};
use tollgate_verifier::bundle::{Bundle, BundleError};
use tollgate_verifier::keys::PublicKey;
use tollgate_verifier::manifest::Diff;
use tollgate_verifier::model::{self, ModelError, SignedBy, SignedModel, Trust, VerifyOptions};
use tollgate_verifier::sigstore::{self, Artifact, SigstoreBundle, Verified};
use tollgate_verifier::x509::Certificate;

use crate::args::MAX_THREADS;
use crate::cmd::keyless::{self, KEYLESS_FLAGS, KeylessArgs};
use crate::output::{self, OutputFormat};
use crate::progress::Bar;
use crate::{cmd, exit};

/// Verify an artifact's signature.
#[derive(Debug, Args)]
#[command(after_help = "Examples:
  tollgate verify model ./llama-3-8b --signature model.sig --key release.pub
  tollgate verify model ./llama-3-8b --signature model.sig --ca root-ca.pem
  tollgate verify blob release.tar.gz --key cosign.pub --signature release.sig
  tollgate verify layout oci:./image-layout")]
pub(crate) struct VerifyArgs {
    #[command(subcommand)]
    pub(crate) what: VerifyCommand,
}

#[derive(Debug, Subcommand)]
pub(crate) enum VerifyCommand {
    Model(Box<VerifyModelArgs>),
    Blob(cmd::blob::VerifyBlobArgs),
    Layout(cmd::layout::VerifyLayoutArgs),
    Image(cmd::image::VerifyImageArgs),
    Attestation(cmd::attest::VerifyAttestationArgs),
}

/// Verify a model against an OpenSSF model signing signature.
///
/// Checks the signature with the given key or CA roots, or keyless (Sigstore: a Fulcio
/// certificate for --certificate-identity/--certificate-oidc-issuer and its Rekor entry,
/// against --trusted-root or the public-good root), then re-hashes the model with the
/// serialization the signature records (files or shards, any hash) and lists every extra,
/// missing and changed file. Without --signature, REF is a model artifact in a registry: the
/// signatures attached to it are checked and compared with its layer names and digests
/// (files + sha256 signatures only). Exit 0 verified, 1 not verified, 2 usage or input error.
#[derive(Debug, Args)]
#[command(after_help = "Examples:
  tollgate verify model ./llama-3-8b --signature model.sig --key release.pub
  tollgate verify model ./llama-3-8b --signature model.sig --ca root-ca.pem
  tollgate verify model ./llama-3-8b --signature model.sig --ca root-ca.pem --at 2026-01-01T00:00:00Z
  tollgate verify model ./llama-3-8b --signature model.sig \
    --certificate-identity https://github.com/OWNER/REPO/.github/workflows/release.yml@refs/heads/main \
    --certificate-oidc-issuer https://token.actions.githubusercontent.com
  tollgate verify model ./m --signature m.sig --key release.pub --ignore-unsigned-files --output json
  tollgate verify model registry.example/models/llama-3-8b:v1 --key release.pub")]
pub(crate) struct VerifyModelArgs {
    /// Model directory or file (with --signature); without --signature, a model artifact in a
    /// registry, REGISTRY/REPO:TAG or REGISTRY/REPO@sha256:…, checked against the signatures
    /// attached to it as referrers, by layer digest, without downloading the files.
    #[arg(value_name = "PATH|REF")]
    pub(crate) path: PathBuf,
    /// The signature (Sigstore bundle) to check; omit it to verify a model in a registry.
    #[arg(long, value_name = "SIG")]
    pub(crate) signature: Option<PathBuf>,
    /// Public key (SPKI PEM) the model must be signed with.
    #[arg(
        long,
        value_name = "PUB",
        required_unless_present_any = KEYLESS_FLAGS.into_iter().chain(["ca"]),
        conflicts_with_all = KEYLESS_FLAGS.into_iter().chain(["ca"])
    )]
    pub(crate) key: Option<PathBuf>,
    /// Root CA certificates (PEM) the signing certificate must chain to; repeatable.
    #[arg(long, value_name = "ROOT_PEM", conflicts_with_all = KEYLESS_FLAGS)]
    pub(crate) ca: Vec<PathBuf>,
    /// Check certificates at this time (RFC 3339) instead of now (not keyless: Sigstore
    /// checks the certificate at the log's verified signing time).
    #[arg(long, value_name = "TIME", value_parser = parse_time, conflicts_with_all = KEYLESS_FLAGS)]
    pub(crate) at: Option<SystemTime>,
    /// Keyless identity policy and Sigstore trust root.
    #[command(flatten)]
    pub(crate) keyless: KeylessArgs,
    /// Hash only the files the signature names; unsigned files on disk are not reported.
    #[arg(long)]
    pub(crate) ignore_unsigned_files: bool,
    /// Also leave out this path (relative to the model root); repeatable.
    #[arg(long, value_name = "PATH")]
    pub(crate) ignore: Vec<PathBuf>,
    /// If the signature allows symlinks, also follow ones leading outside the model.
    #[arg(long)]
    pub(crate) allow_external_symlinks: bool,
    /// Worker threads, 1 to 1024 (default: all cores).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=MAX_THREADS))]
    pub(crate) threads: Option<u16>,
    /// Never draw a progress bar.
    #[arg(long)]
    pub(crate) no_progress: bool,
    /// Output format.
    #[arg(long, value_enum, default_value_t)]
    pub(crate) output: OutputFormat,
    #[command(flatten)]
    pub(crate) registry: cmd::registry::RegistryArgs,
}

/// RFC 3339 with any offset (`Z`, `+02:00`, `-0530`) and either case of `T`/`Z`.
fn parse_time(s: &str) -> Result<SystemTime, String> {
    let bad =
        |why: &str| format!("{s:?} is not an RFC 3339 time ({why}), e.g. 2026-01-31T12:00:00Z");
    let upper = s.trim().to_ascii_uppercase();
    let (local, offset_secs) =
        split_offset(&upper).ok_or_else(|| bad("missing or malformed offset"))?;
    let utc = humantime::parse_rfc3339_weak(local).map_err(|e| bad(&e.to_string()))?;
    let shift = std::time::Duration::from_secs(offset_secs.unsigned_abs());
    let shifted = if offset_secs >= 0 {
        utc.checked_sub(shift)
    } else {
        utc.checked_add(shift)
    };
    shifted.ok_or_else(|| bad("out of range"))
}

/// Splits `…Z` / `…±HH:MM` / `…±HHMM` into the local part and the offset east of UTC.
fn split_offset(s: &str) -> Option<(&str, i64)> {
    if let Some(local) = s.strip_suffix('Z') {
        return Some((local, 0));
    }
    let t = s.find('T')?;
    let sign_at = s.rfind(['+', '-']).filter(|&i| i > t)?;
    let (local, offset) = s.split_at(sign_at);
    let digits: String = offset[1..].chars().filter(|c| *c != ':').collect();
    if digits.len() != 4 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let (h, m): (i64, i64) = (digits[..2].parse().ok()?, digits[2..].parse().ok()?);
    if h > 23 || m > 59 {
        return None;
    }
    let secs = h * 3600 + m * 60;
    Some((local, if offset.starts_with('-') { -secs } else { secs }))
}

pub(crate) fn run(args: &VerifyArgs) -> anyhow::Result<ExitCode> {
    match &args.what {
        VerifyCommand::Model(a) => verify_model(a),
        VerifyCommand::Blob(a) => cmd::blob::verify(a),
        VerifyCommand::Layout(a) => cmd::layout::verify(a),
        VerifyCommand::Image(a) => cmd::image::verify(a),
        VerifyCommand::Attestation(a) => cmd::attest::verify(a),
    }
}

fn verify_model(args: &VerifyModelArgs) -> anyhow::Result<ExitCode> {
    let trust = trust(args)?;
    let Some(signature) = &args.signature else {
        return cmd::verify_ref::verify_model_ref(args, &trust);
    };
    let bundle = match Bundle::read_file(signature) {
        Ok(b) => b,
        Err(err @ BundleError::Io { .. }) => return Err(err.into()),
        Err(err @ BundleError::TooLarge { .. }) => return rejected(args, &err.to_string()),
        Err(err) => return rejected(args, &format!("{}: {err}", signature.display())),
    };
    let (signed, proof) = match check_signature(&bundle, &trust) {
        Ok(Ok(s)) => s,
        Ok(Err(reason)) => return rejected(args, &format!("{}: {reason}", signature.display())),
        Err(err) => return Err(err.context(signature.display().to_string())),
    };
    let mut options = VerifyOptions {
        extra_ignores: args.ignore.clone(),
        ignore_unsigned_files: args.ignore_unsigned_files,
        allow_external_symlinks: args.allow_external_symlinks,
    };
    if let Some(inside) = cmd::sign::inside_model(&args.path, signature)? {
        options.extra_ignores.push(inside);
    }
    let items = signed.manifest().resources().len();
    let result = cmd::with_pool(args.threads, items, || {
        let bar = Bar::for_unknown_total(!args.no_progress);
        let r = model::verify_model(&signed, &args.path, &options, &bar);
        bar.finish();
        r
    })?;
    let verification = match result {
        Ok(v) => v,
        Err(ModelError::Manifest(err)) => return Err(err.into()),
        Err(err) => return rejected(args, &err.to_string()),
    };
    let signer = signer_text(&signed, proof.as_ref());
    let root = signed.manifest().root_digest();
    let verified = verification.diff.is_empty();
    match args.output {
        OutputFormat::Json => output::print_json(&with_proof(
            json!({
                "verified": verified,
                "model": args.path,
                "root": root.to_string(),
                "signer": signer,
                "serialization": signed.manifest().serialization().to_json(),
                "differences": diff_json(&verification.diff),
            }),
            proof.as_ref(),
            &trust,
        ))?,
        OutputFormat::Text if verified => output::print(&format!(
            "verified: {} matches {} ({root}, signed by {signer})\n",
            args.path.display(),
            signature.display()
        ))?,
        OutputFormat::Text => output::print(&format!(
            "verification failed: {} does not match {}\n{}",
            args.path.display(),
            signature.display(),
            verification.diff
        ))?,
    }
    Ok(if verified { exit::OK } else { exit::rejected() })
}

/// What `verify model` trusts: a key or CA roots (model_signing's own methods), or a keyless
/// Sigstore identity checked by `sigstore::verify`.
pub(crate) enum ModelTrust {
    /// `--key` or `--ca`.
    Oms(Trust),
    /// The keyless flags.
    Keyless(Box<sigstore::Trust>),
}

/// Checks a model signature with `trust`. `Ok(Err(reason))` means rejected (exit 1); `Err` is
/// an input error (exit 2). Keyless: the root digest the statement claims is the artifact
/// sigstore-verify checks as a DSSE subject, and the model is read from the verified payload.
pub(crate) fn check_signature(
    bundle: &Bundle,
    trust: &ModelTrust,
) -> anyhow::Result<Result<(SignedModel, Option<Verified>), String>> {
    let trust = match trust {
        ModelTrust::Oms(trust) => {
            return Ok(model::verify_signature(bundle, trust)
                .map(|s| (s, None))
                .map_err(|e| e.to_string()));
        }
        ModelTrust::Keyless(trust) => trust,
    };
    let root = match model::claimed_root_digest(bundle) {
        Ok(root) => root,
        Err(e) => return Ok(Err(e.to_string())),
    };
    // The parsed bundle keeps tlog entries verbatim; sigstore-verify reads its own parse.
    let sigstore_bundle = match SigstoreBundle::from_json(&bundle.to_json_bytes()) {
        Ok(b) => b,
        Err(e) => return Ok(Err(e.to_string())),
    };
    let verified = match sigstore::verify(&sigstore_bundle, Artifact::Sha256(&root), trust) {
        Ok(v) => v,
        Err(e) if e.is_rejection() => return Ok(Err(e.to_string())),
        Err(e) => return Err(e.into()),
    };
    Ok(SignedModel::from_sigstore(&verified)
        .map(|s| (s, Some(verified)))
        .map_err(|e| e.to_string()))
}

/// Who signed, for people.
pub(crate) fn signer_text(signed: &SignedModel, proof: Option<&Verified>) -> String {
    match (signed.signer(), proof) {
        (_, Some(proof)) => keyless::describe(proof),
        (SignedBy::Key(fp), None) => format!("key {fp}"),
        (SignedBy::Certificate(subject), None) => format!("certificate {subject}"),
        (SignedBy::Keyless { identity, issuer }, None) => format!("{identity} (issuer {issuer})"),
    }
}

/// Adds the keyless proof's fields (identity, issuer, log index, times, trust root) to a JSON
/// result.
pub(crate) fn with_proof(mut value: Value, proof: Option<&Verified>, trust: &ModelTrust) -> Value {
    if let (Some(proof), ModelTrust::Keyless(trust), Value::Object(o)) = (proof, trust, &mut value)
        && let Value::Object(p) = keyless::proof_json(proof, trust)
    {
        for (k, v) in p {
            if k != "signer" {
                o.insert(k, v);
            }
        }
    }
    value
}

fn trust(args: &VerifyModelArgs) -> anyhow::Result<ModelTrust> {
    if args.key.is_none() && args.ca.is_empty() {
        return Ok(ModelTrust::Keyless(Box::new(args.keyless.trust(None)?)));
    }
    oms_trust(args).map(ModelTrust::Oms)
}

fn oms_trust(args: &VerifyModelArgs) -> anyhow::Result<Trust> {
    if let Some(key) = &args.key {
        let bytes = cmd::read_bounded(key, 1 << 20, "a public key")?;
        let key = PublicKey::from_pem(&bytes)
            .with_context(|| format!("{}: cannot read public key", key.display()))?;
        return Ok(Trust::Key(key));
    }
    let mut roots = Vec::new();
    for path in &args.ca {
        let bytes = cmd::read_bounded(path, 1 << 20, "a certificate file")?;
        roots.extend(
            Certificate::parse_pem_bundle(&bytes)
                .with_context(|| format!("{}: cannot read CA certificates", path.display()))?,
        );
    }
    Ok(Trust::Roots {
        roots,
        at: args.at.unwrap_or_else(SystemTime::now),
    })
}

/// Prints why verification failed and exits 1.
fn rejected(args: &VerifyModelArgs, reason: &str) -> anyhow::Result<ExitCode> {
    match args.output {
        OutputFormat::Json => {
            output::print_json(&json!({"verified": false, "model": args.path, "error": reason}))?
        }
        OutputFormat::Text => output::print(&format!("verification failed: {reason}\n"))?,
    }
    Ok(exit::rejected())
}

pub(crate) fn diff_json(diff: &Diff) -> Value {
    json!({
        "extra": diff.extra,
        "missing": diff.missing,
        "changed": diff.changed.iter().map(|c| json!({
            "name": c.name,
            "expected": c.expected.to_string(),
            "actual": c.actual.to_string(),
            "expected_algorithm": c.expected_algorithm,
            "actual_algorithm": c.actual_algorithm,
        })).collect::<Vec<_>>(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_with_offsets() {
        let z = parse_time("2030-01-01T00:00:00Z").unwrap();
        assert_eq!(parse_time("2030-01-01t02:00:00+02:00").unwrap(), z);
        assert_eq!(parse_time("2029-12-31T19:30:00-0430").unwrap(), z);
        assert_eq!(parse_time("2030-01-01T00:00:00.000z").unwrap(), z);
        for bad in [
            "2030-01-01",
            "2030-01-01T00:00:00",
            "2030-01-01T00:00:00+2",
            "yesterday",
            "2030-01-01T00:00:00+25:00",
        ] {
            assert!(parse_time(bad).is_err(), "{bad}");
        }
    }
}
