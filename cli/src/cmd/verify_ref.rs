//! `tollgate verify model REF` (no `--signature`): verify a model artifact in a registry
//! against the OpenSSF model signatures attached to it, without downloading the weights.
//!
//! Steps, in order: read the manifest REF names (bounded, digest-checked); turn its layers
//! into file names (the same safety checks as `pull model`); find the Sigstore bundle
//! referrers of that manifest digest; check each bundle with the key, CA roots or keyless
//! identity as `verify model` does; for a signature that verifies, compare its resources
//! (name, sha256 of the whole file) with the layers (title, digest). A layer digest is the sha256 of the blob, and a
//! raw layer's blob is the file, so equal digests mean equal files, and every puller that checks
//! digests (tollgate, oras, containerd) gets exactly the signed bytes. Signatures over shards or
//! other hashes cannot be compared with layer digests: they are refused with a pointer to
//! pulling and verifying the files.

use std::process::ExitCode;

use anyhow::Context;
use serde_json::{Value, json};
use tollgate_registry::{Document, Reference};
use tollgate_verifier::digest::HashAlgorithm;
use tollgate_verifier::manifest::{Manifest, Method, Resource, ResourceKey, Serialization};
use tollgate_verifier::oci::Descriptor;

use crate::cmd::verify::{ModelTrust, VerifyModelArgs, check_signature, signer_text, with_proof};
use crate::cmd::{modelpack, referrer};
use crate::exit;
use crate::output::{self, OutputFormat};

pub(crate) fn verify_model_ref(
    args: &VerifyModelArgs,
    trust: &ModelTrust,
) -> anyhow::Result<ExitCode> {
    let shown = args.path.display().to_string();
    if std::fs::symlink_metadata(&args.path).is_ok() {
        anyhow::bail!(
            "{shown}: is a local path; to verify a model on disk pass --signature SIG, to verify a model in a registry give REGISTRY/REPO:TAG (see docs/model-artifacts.md)"
        );
    }
    let reference: Reference = shown.parse().with_context(|| {
        format!("{shown}: not a registry reference (REGISTRY/REPO:TAG); to verify a model on disk pass --signature SIG")
    })?;
    let client = args.registry.client()?;
    let reference = args.registry.pinned(&client, reference)?;
    let manifest = client.get_manifest(&reference)?;
    let pinned = format!("{}@{}", shown, manifest.digest);
    let Document::Manifest(image) = &manifest.document else {
        return rejected(args, &pinned, "is an image index, not a model artifact");
    };
    let layers = match modelpack::layer_names(image) {
        Ok(l) => l,
        Err(e) => return rejected(args, &pinned, &format!("{e:#}")),
    };
    let found = referrer::find_bundles(&client, &reference, &manifest.digest)?;
    if found.is_empty() {
        return rejected(
            args,
            &pinned,
            "no signature is attached (no Sigstore bundle referrer); attach one with `tollgate attach` or push with --sign",
        );
    }
    let mut reasons = Vec::new();
    let mut unsupported = 0;
    let mut mismatch = None;
    for f in &found {
        let bundle = match &f.bundle {
            Ok(b) => b,
            Err(e) => {
                reasons.push(format!("signature {}: {e}", f.referrer));
                continue;
            }
        };
        let (signed, proof) = match check_signature(bundle, trust) {
            Ok(Ok(s)) => s,
            Ok(Err(e)) => {
                reasons.push(format!("signature {}: {e}", f.referrer));
                continue;
            }
            Err(e) => return Err(e.context(format!("signature {}", f.referrer))),
        };
        let ser = signed.manifest().serialization();
        if ser.method != Method::Files || ser.hash_type != HashAlgorithm::Sha256 {
            unsupported += 1;
            reasons.push(format!(
                "signature {}: signed with serialization {} (needs files + sha256 to compare with layer digests); pull the model and run `tollgate verify model DIR --signature SIG`",
                f.referrer,
                ser.to_json()
            ));
            continue;
        }
        let actual = layer_manifest(&layers, ser, signed.manifest(), args);
        let diff = signed.manifest().diff(&actual);
        let signer = signer_text(&signed, proof.as_ref());
        let root = signed.manifest().root_digest();
        if diff.is_empty() {
            match args.output {
                OutputFormat::Json => output::print_json(&with_proof(
                    json!({
                        "verified": true,
                        "model": pinned,
                        "digest": manifest.digest.to_string(),
                        "signature": f.referrer.to_string(),
                        "root": root.to_string(),
                        "signer": signer,
                        "serialization": ser.to_json(),
                        "differences": diff_json(&diff),
                    }),
                    proof.as_ref(),
                    trust,
                ))?,
                OutputFormat::Text => output::print(&format!(
                    "verified: {pinned} matches signature {} ({root}, signed by {signer}; {} files, by layer digest)\n",
                    f.referrer,
                    layers.len()
                ))?,
            }
            return Ok(exit::OK);
        }
        if mismatch.is_none() {
            mismatch = Some((f.referrer, root, signer, ser.to_json(), diff));
        }
    }
    if let Some((sig, root, signer, ser, diff)) = mismatch {
        match args.output {
            OutputFormat::Json => output::print_json(&json!({
                "verified": false,
                "model": pinned,
                "digest": manifest.digest.to_string(),
                "signature": sig.to_string(),
                "root": root.to_string(),
                "signer": signer,
                "serialization": ser,
                "differences": diff_json(&diff),
            }))?,
            OutputFormat::Text => output::print(&format!(
                "verification failed: the layers of {pinned} do not match signature {sig} (signed by {signer})\n{diff}"
            ))?,
        }
        return Ok(exit::rejected());
    }
    if unsupported == reasons.len() {
        anyhow::bail!("{pinned}: {}", reasons.join("; "));
    }
    rejected(
        args,
        &pinned,
        &format!("no attached signature verifies: {}", reasons.join("; ")),
    )
}

/// The layers as a files + sha256 manifest, leaving out what the signature ignored, `--ignore`
/// paths and, with `--ignore-unsigned-files`, names the signature does not list.
fn layer_manifest(
    layers: &[(String, Descriptor)],
    ser: &Serialization,
    signed: &Manifest,
    args: &VerifyModelArgs,
) -> Manifest {
    let under = |name: &str, p: &str| {
        let p = p.trim_end_matches('/');
        name == p
            || name
                .strip_prefix(p)
                .is_some_and(|rest| rest.starts_with('/'))
    };
    let extra: Vec<String> = args
        .ignore
        .iter()
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    let algorithm = ser.resource_algorithm();
    let resources = layers
        .iter()
        .filter(|(name, _)| !ser.ignore_paths.iter().any(|p| under(name, p)))
        .filter(|(name, _)| !extra.iter().any(|p| under(name, p)))
        .filter(|(name, _)| {
            !args.ignore_unsigned_files || signed.resources().iter().any(|r| r.key.path() == name)
        })
        .map(|(name, d)| Resource {
            key: ResourceKey::File { path: name.clone() },
            algorithm: algorithm.clone(),
            digest: *d.digest(),
        })
        .collect();
    Manifest::new(signed.model_name().to_owned(), ser.clone(), resources)
}

fn rejected(args: &VerifyModelArgs, model: &str, reason: &str) -> anyhow::Result<ExitCode> {
    match args.output {
        OutputFormat::Json => {
            output::print_json(&json!({"verified": false, "model": model, "error": reason}))?
        }
        OutputFormat::Text => output::print(&format!("verification failed: {model}: {reason}\n"))?,
    }
    Ok(exit::rejected())
}

fn diff_json(diff: &tollgate_verifier::manifest::Diff) -> Value {
    crate::cmd::verify::diff_json(diff)
}
