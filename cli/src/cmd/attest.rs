//! `tollgate attest` / `tollgate verify attestation`: in-toto attestations of images in a
//! registry, in cosign's layouts (legacy `sha256-<hex>.att` and Sigstore bundle referrers).

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use clap::Args;
use serde_json::{Value, json};
use tollgate_verifier::cosign::image::attach::Attachment;
use tollgate_verifier::cosign::image::attestation::{
    MAX_ATTESTATION_BYTES, VerifiedStatement, attestation_layers, verify_bundle_layer_with_trust,
};
use tollgate_verifier::cosign::image::sign::{SignedStatement, statement};

use crate::cmd::cosign_store::{self, Referrer};
use crate::cmd::image::{Format, merge, report_signed, signer_json, trust};
use crate::cmd::keyless::{self, KEYLESS_FLAGS, KeylessArgs};
use crate::cmd::registry::RegistryArgs;
use crate::output::{self, OutputFormat};
use crate::{cmd, exit};

/// Largest predicate file read (256 KiB): the signed envelope, in base64 inside a bundle,
/// must stay under the verifiers' 1 MiB limit.
const MAX_PREDICATE_BYTES: u64 = 256 << 10;

/// Attach a signed in-toto attestation to an image, as `cosign attest` does.
///
/// Resolves REF to its digest once and signs an in-toto Statement v1 (subject: the image's
/// repository and digest; predicate: the JSON in FILE; predicateType: --type) in a DSSE
/// envelope. Writes it as a layer of the legacy `sha256-<hex>.att` manifest (appended,
/// annotation predicateType) and as a Sigstore bundle v0.3 referrer. Never reads an image blob.
#[derive(Debug, Args)]
#[command(after_help = "Examples:
  tollgate attest registry.example.com/team/app:v1 --predicate card.json --type https://example.com/model-card/v1 --key cosign.key
  tollgate attest registry.example.com/team/app@sha256:... --predicate slsa.json --type https://slsa.dev/provenance/v1 --key cosign.key --format bundle

The key password comes from TOLLGATE_PASSWORD, else COSIGN_PASSWORD, else a terminal prompt.")]
pub(crate) struct AttestArgs {
    /// The image: REGISTRY/REPO:TAG or REGISTRY/REPO@sha256:...
    #[arg(value_name = "REF")]
    pub(crate) reference: String,
    /// The predicate: a JSON file of at most 256 KiB.
    #[arg(long, value_name = "FILE")]
    pub(crate) predicate: PathBuf,
    /// The predicate type, a URI (e.g. `https://slsa.dev/provenance/v1`).
    #[arg(long = "type", value_name = "URI", value_parser = parse_type_uri)]
    pub(crate) predicate_type: String,
    /// Private key file (PKCS#8, SEC1, PKCS#1, cosign format) or a pkcs11: URI.
    #[arg(long, value_name = "KEY")]
    pub(crate) key: String,
    /// Which layouts to write.
    #[arg(long, value_enum, default_value_t)]
    pub(crate) format: Format,
    #[command(flatten)]
    pub(crate) registry: RegistryArgs,
    /// Output format.
    #[arg(long, value_enum, default_value_t)]
    pub(crate) output: OutputFormat,
}

/// Verify an image's attestations of one predicate type and print the verified statement.
///
/// Reads the legacy `sha256-<hex>.att` manifest and the image's Sigstore bundle referrers,
/// verifies each envelope over the stored bytes with the key or keylessly (as `verify image`
/// does: a Fulcio certificate for the expected identity, chained at the time the transparency
/// log proves; log entries of key-signed bundles are verified too), and requires an in-toto
/// statement whose subject is the image's digest and whose predicateType is --type. Prints
/// every verified statement (text: one JSON statement per line). Exit 0 if at least one
/// verified, 1 if none did (each rejection is listed), 2 on usage, input or registry errors.
#[derive(Debug, Args)]
#[command(after_help = "Examples:
  tollgate verify attestation registry.example.com/team/app:v1 --type https://example.com/model-card/v1 --key cosign.pub
  tollgate verify attestation ghcr.io/OWNER/app:v1 --type https://slsa.dev/provenance/v1 \\
      --certificate-identity-regexp '^https://github\\.com/OWNER/' \\
      --certificate-oidc-issuer https://token.actions.githubusercontent.com
  tollgate verify attestation registry.example.com/team/app@sha256:... --type https://slsa.dev/provenance/v1 --key cosign.pub --output json")]
pub(crate) struct VerifyAttestationArgs {
    /// The image: REGISTRY/REPO:TAG or REGISTRY/REPO@sha256:...
    #[arg(value_name = "REF")]
    pub(crate) reference: String,
    /// The predicate type required, a URI.
    #[arg(long = "type", value_name = "URI", value_parser = parse_type_uri)]
    pub(crate) predicate_type: String,
    /// Public key (SPKI PEM or DER, e.g. cosign.pub) the attestation must verify with.
    #[arg(
        long,
        value_name = "PUB",
        required_unless_present_any = KEYLESS_FLAGS,
        conflicts_with_all = KEYLESS_FLAGS
    )]
    pub(crate) key: Option<PathBuf>,
    /// Keyless identity policy and trust root (the trust root also verifies log entries of
    /// key-signed attestations).
    #[command(flatten)]
    pub(crate) keyless: KeylessArgs,
    #[command(flatten)]
    pub(crate) registry: RegistryArgs,
    /// Output format.
    #[arg(long, value_enum, default_value_t)]
    pub(crate) output: OutputFormat,
}

/// A predicate type: an absolute URI (`scheme:rest`), at most 1 KiB.
fn parse_type_uri(s: &str) -> Result<String, String> {
    let scheme_ok = s.split_once(':').is_some_and(|(scheme, rest)| {
        !rest.is_empty()
            && scheme.starts_with(|c: char| c.is_ascii_alphabetic())
            && scheme
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
    });
    if scheme_ok && s.len() <= 1024 && !s.chars().any(char::is_whitespace) {
        Ok(s.to_owned())
    } else {
        Err(format!(
            "{s:?} is not a predicate type URI (e.g. https://slsa.dev/provenance/v1)"
        ))
    }
}

/// `tollgate attest`.
pub(crate) fn attest(args: &AttestArgs) -> anyhow::Result<ExitCode> {
    let bytes = cmd::read_bounded(&args.predicate, MAX_PREDICATE_BYTES, "a predicate")?;
    let predicate: Value = serde_json::from_slice(&bytes).with_context(|| {
        format!(
            "{}: the predicate is not JSON; give the predicate as a JSON document",
            args.predicate.display()
        )
    })?;
    let signer = cmd::sign::load_signer(&args.key)?;
    let client = args.registry.client()?;
    let image = cosign_store::resolve(&client, &args.reference, args.registry.platform.as_ref())?;
    let stmt = statement(
        Some(&image.repository),
        &image.digest,
        None,
        &args.predicate_type,
        &predicate,
    );
    let signed = SignedStatement::sign(stmt, signer.as_ref())?;
    let mut written = Vec::new();
    if args.format.legacy() {
        let layer = signed.attestation_layer(&args.predicate_type);
        let existing = cosign_store::read_attachment(&client, &image, Attachment::Attestations)?;
        let w = cosign_store::append(
            &client,
            &image,
            Attachment::Attestations,
            existing.as_ref().map(|(_, m)| m),
            &layer,
        )?;
        written.push(json!({
            "layout": "legacy",
            "location": w.location,
            "manifest": w.digest.to_string(),
            "attestations": w.layers,
        }));
    }
    if args.format.bundle() {
        let bundle = signed.bundle_json(signer.public_key());
        let w = cosign_store::attach_bundle(&client, &image, &bundle, &args.predicate_type)?;
        written.push(json!({
            "layout": "bundle",
            "location": w.location,
            "manifest": w.digest.to_string(),
        }));
    }
    report_signed(
        args.output,
        &image,
        &signer.public_key().fingerprint().to_string(),
        &written,
    )
}

/// `tollgate verify attestation`.
pub(crate) fn verify(args: &VerifyAttestationArgs) -> anyhow::Result<ExitCode> {
    let trust = trust(args.key.as_deref(), &args.keyless)?;
    let client = args.registry.client()?;
    let image = cosign_store::resolve(&client, &args.reference, args.registry.platform.as_ref())?;
    let want = args.predicate_type.as_str();
    let mut checked: Vec<(&'static str, String, Result<VerifiedStatement, String>)> = Vec::new();

    if let Some((_, manifest)) =
        cosign_store::read_attachment(&client, &image, Attachment::Attestations)?
    {
        let location = format!(
            "{}:{}",
            image.repository,
            Attachment::Attestations.tag(&image.digest)
        );
        match attestation_layers(&manifest) {
            Err(e) => checked.push(("legacy", location, Err(e.to_string()))),
            Ok(layers) => {
                for layer in layers {
                    let fetched = cosign_store::fetch_blob(
                        &client,
                        &image,
                        layer.descriptor(),
                        MAX_ATTESTATION_BYTES,
                    )?;
                    let result = fetched.and_then(|bytes| {
                        layer
                            .verify_with_trust(&bytes, &trust, &image.digest, want)
                            .map_err(|e| e.to_string())
                    });
                    checked.push((
                        "legacy",
                        format!("{location} layer {}", layer.index()),
                        result,
                    ));
                }
            }
        }
    }
    for referrer in cosign_store::referrers(&client, &image)? {
        match referrer {
            Referrer::Other { manifest, why } => checked.push((
                "bundle",
                format!("{}@{manifest}", image.repository),
                Err(format!("not an attestation: {why}")),
            )),
            Referrer::Bundles {
                manifest, layers, ..
            } => {
                for (i, layer) in layers.iter().enumerate() {
                    let fetched =
                        cosign_store::fetch_blob(&client, &image, layer, MAX_ATTESTATION_BYTES)?;
                    let result = fetched.and_then(|bytes| {
                        verify_bundle_layer_with_trust(layer, &bytes, &trust, &image.digest, want)
                            .map_err(|e| e.to_string())
                    });
                    checked.push((
                        "bundle",
                        format!("{}@{manifest} layer {i}", image.repository),
                        result,
                    ));
                }
            }
        }
    }

    let verified: Vec<Value> = checked
        .iter()
        .filter_map(|(layout, location, r)| {
            r.as_ref().ok().map(|s| {
                merge(
                    json!({"layout": layout, "location": location}),
                    merge(
                        signer_json(s.signer(), s.sigstore(), &trust),
                        json!({"statement": statement_json(s), "notes": s.notes()}),
                    ),
                )
            })
        })
        .collect();
    let rejected: Vec<Value> = checked
        .iter()
        .filter_map(|(layout, location, r)| {
            r.as_ref()
                .err()
                .map(|why| json!({"layout": layout, "location": location, "error": why}))
        })
        .collect();
    let ok = !verified.is_empty();
    let summary = if checked.is_empty() {
        format!(
            "{} ({}) has no attestations: no {} tag and no bundle referrers",
            image.given,
            image.digest,
            Attachment::Attestations.tag(&image.digest)
        )
    } else {
        format!(
            "no attestation of {} ({}) of type {want} verifies for {}",
            image.given,
            image.digest,
            keyless::expected_signer(&trust)
        )
    };
    match args.output {
        OutputFormat::Json => output::print_json(&json!({
            "verified": ok,
            "image": image.given.to_string(),
            "digest": image.digest.to_string(),
            "predicate_type": want,
            "key": match &trust {
                tollgate_verifier::sigstore::Trust::Key { key, .. } => Some(key.fingerprint().to_string()),
                _ => None,
            },
            "expected_signer": keyless::expected_signer(&trust),
            "trusted_root": trust.root().source().to_string(),
            "attestations": verified,
            "rejected": rejected,
            "error": (!ok).then_some(&summary),
        }))?,
        OutputFormat::Text => {
            if ok {
                // stdout carries only the statements; what else was found goes to stderr.
                for r in &rejected {
                    eprintln!(
                        "reject {} {}: {}",
                        r["layout"].as_str().unwrap_or_default(),
                        r["location"].as_str().unwrap_or_default(),
                        r["error"].as_str().unwrap_or_default()
                    );
                }
                let mut text = String::new();
                for v in &verified {
                    let signer = match v["signed_by"].as_str() {
                        Some(by) => by.to_owned(),
                        None => format!("key {}", v["signer"].as_str().unwrap_or_default()),
                    };
                    eprintln!(
                        "verified: {} {} signed by {signer}",
                        v["layout"].as_str().unwrap_or_default(),
                        v["location"].as_str().unwrap_or_default(),
                    );
                    text.push_str(&v["statement"].to_string());
                    text.push('\n');
                }
                output::print(&text)?;
            } else {
                let mut text = format!("verification failed: {summary}\n");
                for r in &rejected {
                    text.push_str(&format!(
                        "  reject  {:<6} {}: {}\n",
                        r["layout"].as_str().unwrap_or_default(),
                        r["location"].as_str().unwrap_or_default(),
                        r["error"].as_str().unwrap_or_default()
                    ));
                }
                output::print(&text)?;
            }
        }
    }
    Ok(if ok { exit::OK } else { exit::rejected() })
}

/// The verified statement as JSON (the fields every in-toto reader knows).
fn statement_json(s: &VerifiedStatement) -> Value {
    let subjects: Vec<Value> = s
        .subjects()
        .iter()
        .map(|sub| {
            let mut v = json!({"digest": sub.digest});
            if let Some(name) = &sub.name {
                v["name"] = json!(name);
            }
            if !sub.annotations.is_empty() {
                v["annotations"] = json!(sub.annotations);
            }
            v
        })
        .collect();
    json!({
        "_type": s.statement_type(),
        "subject": subjects,
        "predicateType": s.predicate_type(),
        "predicate": s.predicate(),
    })
}
