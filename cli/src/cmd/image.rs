//! `tollgate sign image` / `tollgate verify image`: cosign-format image signatures in a
//! registry (legacy `sha256-<hex>.sig` and Sigstore bundle referrers).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use clap::{Args, ValueEnum};
use serde_json::{Value, json};
use tollgate_verifier::cosign::image::attach::Attachment;
use tollgate_verifier::cosign::image::attestation::{AttestationError, MAX_ATTESTATION_BYTES};
use tollgate_verifier::cosign::image::bundle_signature::{
    BundleSignatureError, verify_bundle_signature_with_trust,
};
use tollgate_verifier::cosign::image::sign::{
    COSIGN_SIGN_PREDICATE_TYPE, SignedStatement, sign_payload, sign_statement,
};
use tollgate_verifier::cosign::image::{
    DockerReference, ExactReference, IdentityRule, MAX_PAYLOAD_BYTES, SimpleSigning,
    signature_layers,
};
use tollgate_verifier::keys::PublicKey;
use tollgate_verifier::sigstore::{Trust, Verified};

use crate::cmd::cosign_store::{self, Image, Referrer};
use crate::cmd::keyless::{self, KEYLESS_FLAGS, KeylessArgs};
use crate::cmd::registry::RegistryArgs;
use crate::output::{self, OutputFormat};
use crate::{cmd, exit};

/// Which layouts to write.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub(crate) enum Format {
    /// The legacy `sha256-<hex>.sig` (or `.att`) tag: cosign 2.x, skopeo and podman read it.
    Legacy,
    /// A Sigstore bundle v0.3 referrer (DSSE), cosign v3's default.
    Bundle,
    /// Both (default): every cosign version and skopeo find a signature.
    #[default]
    Both,
}

impl Format {
    pub(crate) fn legacy(self) -> bool {
        matches!(self, Self::Legacy | Self::Both)
    }

    pub(crate) fn bundle(self) -> bool {
        matches!(self, Self::Bundle | Self::Both)
    }
}

/// How the signed image name must relate to the image verified.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub(crate) enum Identity {
    /// The signature must name the repository REF is in (default; tag and digest ignored).
    #[default]
    Repo,
    /// The signature must name exactly REF (repository and tag or digest), as skopeo's
    /// matchExact; cosign's repository-only signatures never match.
    Exact,
    /// Not checked, as `cosign verify`: a signature copied with the image to any repository
    /// is accepted (mirrors and proxies that rename images).
    None,
}

/// Sign a container image in a registry, as cosign does.
///
/// Resolves REF to its manifest digest once and signs that digest. Writes the legacy
/// `sha256-<hex>.sig` layout (appending to an existing signature manifest, keeping every
/// signature in it) and a Sigstore bundle v0.3 referrer (DSSE, predicate type
/// `https://sigstore.dev/cosign/sign/v1`), listed in the `sha256-<hex>` fallback index on
/// registries without the referrers API. Reads manifests only, never an image blob.
#[derive(Debug, Args)]
#[command(after_help = "Examples:
  tollgate sign image registry.example.com/team/app:v1 --key cosign.key
  tollgate sign image registry.example.com/team/app@sha256:... --key cosign.key -a env=prod
  tollgate sign image 127.0.0.1:5000/demo/app:v1 --key cosign.key --format legacy --plain-http

The key password comes from TOLLGATE_PASSWORD, else COSIGN_PASSWORD, else a terminal prompt.")]
pub(crate) struct SignImageArgs {
    /// The image: REGISTRY/REPO:TAG or REGISTRY/REPO@sha256:...
    #[arg(value_name = "REF")]
    pub(crate) reference: String,
    /// Private key file (PKCS#8, SEC1, PKCS#1, cosign format) or a pkcs11: URI.
    #[arg(long, value_name = "KEY")]
    pub(crate) key: String,
    /// Annotation to sign, KEY=VALUE (cosign's -a); repeatable.
    #[arg(short = 'a', long = "annotation", value_name = "KEY=VALUE", value_parser = parse_annotation)]
    pub(crate) annotations: Vec<(String, String)>,
    /// Which layouts to write.
    #[arg(long, value_enum, default_value_t)]
    pub(crate) format: Format,
    /// The image name to sign (critical.identity.docker-reference), instead of REF's
    /// repository; e.g. REPO:TAG, which podman's and CRI-O's default policy
    /// (matchRepoDigestOrExact) requires (cosign's flag of the same name).
    #[arg(long, value_name = "NAME")]
    pub(crate) sign_container_identity: Option<String>,
    /// Sign in the Notary Project (Notation) format with the chain --cert (docs/notation.md).
    #[arg(long, requires = "cert", conflicts_with_all = ["format", "sign_container_identity"])]
    pub(crate) notation: bool,
    #[command(flatten)]
    pub(crate) notation_opts: Box<cmd::notation::NotationSignArgs>,
    #[command(flatten)]
    pub(crate) registry: RegistryArgs,
    /// Output format.
    #[arg(long, value_enum, default_value_t)]
    pub(crate) output: OutputFormat,
}

/// Verify a container image's cosign signatures in a registry: with a key, or keyless.
///
/// Finds signatures in both layouts (the `sha256-<hex>.sig` tag and Sigstore bundle
/// referrers), verifies each over the bytes the registry stores (every blob size- and
/// digest-checked), then checks the signed manifest digest, the signed image name
/// (--identity) and the required annotations (-a). Passes when at least one signature passes
/// every check; otherwise lists why each was rejected.
///
/// With --key: the key signature; a bundle or layer that carries transparency-log entries (and
/// no certificate) has them verified offline against the trust root too; others are checked
/// as `cosign verify --insecure-ignore-tlog`. Keyless (--certificate-identity[-regexp] and
/// --certificate-oidc-issuer[-regexp]): the Fulcio certificate must chain to the trust root at
/// the time the transparency log proves, with a valid SCT, for the expected identity; legacy
/// layers need their Rekor entry (dev.sigstore.cosign/bundle); fully offline. Exit 0 verified,
/// 1 not verified, 2 usage, input or registry error.
#[derive(Debug, Args)]
#[command(after_help = "Examples:
  tollgate verify image registry.example.com/team/app:v1 --key cosign.pub
  tollgate verify image ghcr.io/OWNER/app:v1 --identity none \\
      --certificate-identity https://github.com/OWNER/app/.github/workflows/release.yml@refs/heads/main \\
      --certificate-oidc-issuer https://token.actions.githubusercontent.com
  tollgate verify image registry.example.com/team/app@sha256:... --key cosign.pub -a env=prod --output json
  tollgate verify image mirror.example.com/team/app:v1 --key cosign.pub --identity none

--identity: cosign ignores the image name a signature carries (critical.identity.docker-reference),
so a signature copied along with the image into any repository still verifies there; skopeo and
podman enforce it. The default, repo, requires the signed repository to be REF's repository: it
accepts cosign's (repository only) and skopeo's (repository:tag) signatures and refuses an image
that was copied with its signature into another repository. Use none for mirrors that rename.")]
pub(crate) struct VerifyImageArgs {
    /// The image: REGISTRY/REPO:TAG or REGISTRY/REPO@sha256:...
    #[arg(value_name = "REF")]
    pub(crate) reference: String,
    /// Public key (SPKI PEM or DER, e.g. cosign.pub) a signature must verify with.
    #[arg(
        long,
        value_name = "PUB",
        required_unless_present_any = KEYLESS_FLAGS.into_iter().chain(["notation"]),
        conflicts_with_all = KEYLESS_FLAGS
    )]
    pub(crate) key: Option<PathBuf>,
    /// Annotation the signature must carry, KEY=VALUE; repeatable.
    #[arg(short = 'a', long = "annotation", value_name = "KEY=VALUE", value_parser = parse_annotation)]
    pub(crate) annotations: Vec<(String, String)>,
    /// Which signed image name is accepted (see below).
    #[arg(long, value_enum, default_value_t)]
    pub(crate) identity: Identity,
    /// Keyless identity policy and trust root (the trust root also verifies log entries of
    /// key-signed signatures).
    #[command(flatten)]
    pub(crate) keyless: KeylessArgs,
    /// Verify Notary Project (Notation) signatures with a trust policy and trust store; REF may
    /// also be oci:DIR:TAG; -a names required user metadata (docs/notation.md).
    #[arg(long, conflicts_with_all = KEYLESS_FLAGS.into_iter().chain(["key", "identity"]))]
    pub(crate) notation: bool,
    #[command(flatten)]
    pub(crate) notation_opts: Box<cmd::notation::NotationVerifyArgs>,
    #[command(flatten)]
    pub(crate) registry: RegistryArgs,
    /// Output format.
    #[arg(long, value_enum, default_value_t)]
    pub(crate) output: OutputFormat,
}

/// `KEY=VALUE` with a non-empty key.
pub(crate) fn parse_annotation(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((k, v)) if !k.is_empty() => Ok((k.to_owned(), v.to_owned())),
        _ => Err(format!("{s:?} is not KEY=VALUE")),
    }
}

/// The name a signature binds the digest to: REF's repository, or --sign-container-identity
/// (checked to be a docker reference without a digest, as containers/image reads it).
fn signed_identity(args: &SignImageArgs, image: &Image) -> anyhow::Result<String> {
    let Some(name) = &args.sign_container_identity else {
        return Ok(image.repository.clone());
    };
    let parsed = DockerReference::parse(name)
        .with_context(|| format!("--sign-container-identity {name:?}"))?;
    anyhow::ensure!(
        parsed.digest().is_none(),
        "--sign-container-identity {name:?}: give a repository or repository:tag, not a digest \
         (the signed digest is the image's)"
    );
    Ok(name.clone())
}

/// `tollgate sign image`.
pub(crate) fn sign(args: &SignImageArgs) -> anyhow::Result<ExitCode> {
    if args.notation {
        let (a, n, r) = (&args.annotations, &args.notation_opts, &args.registry);
        return cmd::notation::sign_image(&args.reference, &args.key, a, n, r, args.output);
    }
    let annotations: BTreeMap<String, String> = args.annotations.iter().cloned().collect();
    let signer = cmd::sign::load_signer(&args.key)?;
    let client = args.registry.client()?;
    let image = cosign_store::resolve(&client, &args.reference, args.registry.platform.as_ref())?;
    let identity = signed_identity(args, &image)?;
    let mut written = Vec::new();
    if args.format.legacy() {
        let payload = SimpleSigning::new(&identity, image.digest, &annotations);
        let layer = sign_payload(&payload, signer.as_ref())?;
        let existing = cosign_store::read_attachment(&client, &image, Attachment::Signatures)?;
        let duplicate = existing.as_ref().is_some_and(|(_, m)| {
            signature_layers(m).is_ok_and(|layers| {
                layers.iter().any(|l| {
                    l.descriptor().digest() == layer.digest()
                        && l.verify(
                            layer.bytes(),
                            signer.public_key(),
                            &image.digest,
                            &IdentityRule::None,
                            &annotations,
                        )
                        .is_ok()
                })
            })
        });
        if let (true, Some((digest, m))) = (duplicate, &existing) {
            // cosign's dupe detector: this key already signed this payload.
            written.push(json!({
                "layout": "legacy",
                "location": format!("{}:{}", image.repository, Attachment::Signatures.tag(&image.digest)),
                "manifest": digest.to_string(),
                "signatures": m.layers().len(),
                "note": "already signed with this key and these annotations; nothing appended",
            }));
        } else {
            let w = cosign_store::append(
                &client,
                &image,
                Attachment::Signatures,
                existing.as_ref().map(|(_, m)| m),
                &layer,
            )?;
            written.push(json!({
                "layout": "legacy",
                "location": w.location,
                "manifest": w.digest.to_string(),
                "signatures": w.layers,
            }));
        }
    }
    if args.format.bundle() {
        let statement = sign_statement(&identity, &image.digest, &annotations);
        let bundle =
            SignedStatement::sign(statement, signer.as_ref())?.bundle_json(signer.public_key());
        let w = cosign_store::attach_bundle(&client, &image, &bundle, COSIGN_SIGN_PREDICATE_TYPE)?;
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

pub(crate) fn report_signed(
    format: OutputFormat,
    image: &Image,
    signer: &str,
    written: &[Value],
) -> anyhow::Result<ExitCode> {
    match format {
        OutputFormat::Json => output::print_json(&json!({
            "image": image.given.to_string(),
            "digest": image.digest.to_string(),
            "signer": signer,
            "written": written,
        }))?,
        OutputFormat::Text => {
            let mut text = format!(
                "signed {}@{} with key {signer}\n",
                image.repository, image.digest
            );
            for w in written {
                text.push_str(&format!(
                    "  {:<6} {} ({})\n",
                    w["layout"].as_str().unwrap_or_default(),
                    w["location"].as_str().unwrap_or_default(),
                    w.get("note")
                        .and_then(Value::as_str)
                        .or_else(|| w["manifest"].as_str())
                        .unwrap_or_default(),
                ));
            }
            output::print(&text)?;
        }
    }
    Ok(exit::OK)
}

/// Reads a public key file (at most 1 MiB).
pub(crate) fn read_public_key(path: &std::path::Path) -> anyhow::Result<PublicKey> {
    let bytes = cmd::read_bounded(path, 1 << 20, "a public key")?;
    PublicKey::from_bytes(&bytes)
        .with_context(|| format!("{}: cannot read public key", path.display()))
}

/// The trust `--key` or the keyless flags ask for.
pub(crate) fn trust(key: Option<&std::path::Path>, keyless: &KeylessArgs) -> anyhow::Result<Trust> {
    let key = key.map(read_public_key).transpose()?;
    keyless.trust(key)
}

/// What a verified signature says about its signer, as JSON fields: the key fingerprint, and
/// for signatures verified through Sigstore the identity, issuer, log index and times.
pub(crate) fn signer_json(
    fingerprint: &tollgate_verifier::digest::Digest,
    proof: Option<&Verified>,
    trust: &Trust,
) -> Value {
    let mut out = json!({"signer": fingerprint.to_string()});
    if let (Some(proof), Value::Object(o)) = (proof, &mut out) {
        if let Value::Object(p) = keyless::proof_json(proof, trust) {
            o.extend(p);
        }
        o.insert("signed_by".into(), json!(keyless::describe(proof)));
    }
    out
}

/// Merges the object `extra` into the object `into`.
pub(crate) fn merge(mut into: Value, extra: Value) -> Value {
    if let (Value::Object(o), Value::Object(e)) = (&mut into, extra) {
        o.extend(e);
    }
    into
}

/// One signature found, and what became of it.
struct Checked {
    layout: &'static str,
    location: String,
    result: Result<Value, String>,
}

/// `tollgate verify image`.
pub(crate) fn verify(args: &VerifyImageArgs) -> anyhow::Result<ExitCode> {
    if args.notation {
        let (a, n, r) = (&args.annotations, &args.notation_opts, &args.registry);
        return cmd::notation::verify_image(&args.reference, a, n, r, args.output);
    }
    let trust = trust(args.key.as_deref(), &args.keyless)?;
    let required: BTreeMap<String, String> = args.annotations.iter().cloned().collect();
    let client = args.registry.client()?;
    let image = cosign_store::resolve(&client, &args.reference, args.registry.platform.as_ref())?;
    let rule = identity_rule(args.identity, &args.reference, &image)?;
    let mut checked = Vec::new();

    let sig_tag = Attachment::Signatures.tag(&image.digest);
    if let Some((_, manifest)) =
        cosign_store::read_attachment(&client, &image, Attachment::Signatures)?
    {
        let location = format!("{}:{sig_tag}", image.repository);
        match signature_layers(&manifest) {
            Err(e) => checked.push(Checked {
                layout: "legacy",
                location,
                result: Err(e.to_string()),
            }),
            Ok(layers) => {
                for layer in layers {
                    let fetched = cosign_store::fetch_blob(
                        &client,
                        &image,
                        layer.descriptor(),
                        MAX_PAYLOAD_BYTES,
                    )?;
                    let result = fetched.and_then(|payload| {
                        layer
                            .verify_with_trust(&payload, &trust, &image.digest, &rule, &required)
                            .map(|v| {
                                merge(
                                    signer_json(v.signer(), v.sigstore(), &trust),
                                    json!({
                                        "docker_reference": v.payload().docker_reference(),
                                        "annotations": v.payload().optional().collect::<BTreeMap<_, _>>(),
                                        "notes": v.notes(),
                                    }),
                                )
                            })
                            .map_err(|e| e.to_string())
                    });
                    checked.push(Checked {
                        layout: "legacy",
                        location: format!("{location} layer {}", layer.index()),
                        result,
                    });
                }
            }
        }
    }

    for referrer in cosign_store::referrers(&client, &image)? {
        match referrer {
            Referrer::Other { manifest, why } => checked.push(Checked {
                layout: "bundle",
                location: format!("{}@{manifest}", image.repository),
                result: Err(format!("not a signature: {why}")),
            }),
            Referrer::Bundles {
                manifest,
                layers,
                predicate_type,
            } => {
                for (i, layer) in layers.iter().enumerate() {
                    let location = format!("{}@{manifest} layer {i}", image.repository);
                    if let Some(t) = predicate_type
                        .as_deref()
                        .filter(|t| *t != COSIGN_SIGN_PREDICATE_TYPE)
                    {
                        checked.push(Checked {
                            layout: "bundle",
                            location,
                            result: Err(format!("not a signature: an attestation of type {t}")),
                        });
                        continue;
                    }
                    let fetched =
                        cosign_store::fetch_blob(&client, &image, layer, MAX_ATTESTATION_BYTES)?;
                    let result = fetched.and_then(|bytes| {
                        verify_bundle_signature_with_trust(
                            layer,
                            &bytes,
                            &trust,
                            &image.digest,
                            &rule,
                            &required,
                        )
                        .map(|v| {
                            merge(
                                signer_json(v.signer(), v.sigstore(), &trust),
                                json!({
                                    "docker_reference": v.docker_reference(),
                                    "annotations": v.annotations(),
                                    "notes": v.notes(),
                                }),
                            )
                        })
                        .map_err(|e| bundle_reason(&e))
                    });
                    checked.push(Checked {
                        layout: "bundle",
                        location,
                        result,
                    });
                }
            }
        }
    }
    report_verified(args, &image, &rule, &trust, &checked)
}

fn bundle_reason(e: &BundleSignatureError) -> String {
    match e {
        BundleSignatureError::Statement(AttestationError::PredicateType { found, .. }) => {
            format!("not a signature: an attestation of type {found}")
        }
        other => other.to_string(),
    }
}

/// The identity rule `--identity` asks for, for `reference` (as typed).
pub(crate) fn identity_rule(
    identity: Identity,
    reference: &str,
    image: &Image,
) -> anyhow::Result<IdentityRule> {
    Ok(match identity {
        Identity::None => IdentityRule::None,
        Identity::Repo => IdentityRule::Repository(DockerReference::parse(&image.repository)?),
        Identity::Exact => IdentityRule::Exact(ExactReference::parse(reference)?),
    })
}

fn report_verified(
    args: &VerifyImageArgs,
    image: &Image,
    rule: &IdentityRule,
    trust: &Trust,
    checked: &[Checked],
) -> anyhow::Result<ExitCode> {
    let accepted = checked.iter().filter(|c| c.result.is_ok()).count();
    let verified = accepted > 0;
    let expected = keyless::expected_signer(trust);
    let summary = if verified {
        String::new()
    } else if checked.is_empty() {
        format!(
            "{} ({}) is not signed: no {} tag and no signature referrers",
            image.given,
            image.digest,
            Attachment::Signatures.tag(&image.digest)
        )
    } else {
        format!(
            "no signature of {} ({}) verifies for {expected}, identity {rule}{}",
            image.given,
            image.digest,
            annotation_words(&args.annotations)
        )
    };
    match args.output {
        OutputFormat::Json => output::print_json(&json!({
            "verified": verified,
            "image": image.given.to_string(),
            "digest": image.digest.to_string(),
            "key": match trust {
                Trust::Key { key, .. } => Some(key.fingerprint().to_string()),
                _ => None,
            },
            "expected_signer": expected,
            "trusted_root": trust.root().source().to_string(),
            "identity": rule.to_string(),
            "annotations": args.annotations.iter().cloned().collect::<BTreeMap<_, _>>(),
            "signatures": checked.iter().map(|c| {
                let mut v = json!({"layout": c.layout, "location": c.location, "verified": c.result.is_ok()});
                match &c.result {
                    Ok(details) => if let (Value::Object(o), Value::Object(d)) = (&mut v, details) {
                        o.extend(d.clone());
                    },
                    Err(why) => v["error"] = json!(why),
                }
                v
            }).collect::<Vec<_>>(),
            "error": (!verified).then_some(summary),
        }))?,
        OutputFormat::Text => {
            let mut text = String::new();
            for c in checked {
                match &c.result {
                    Ok(v) => {
                        for note in v["notes"].as_array().into_iter().flatten() {
                            eprintln!("note: {}", note.as_str().unwrap_or_default());
                        }
                        let by = v["signed_by"]
                            .as_str()
                            .map(|s| format!(": signed by {s}"))
                            .unwrap_or_default();
                        text.push_str(&format!("  ok      {:<6} {}{by}\n", c.layout, c.location));
                    }
                    Err(why) => text.push_str(&format!(
                        "  reject  {:<6} {}: {why}\n",
                        c.layout, c.location
                    )),
                }
            }
            let head = if verified {
                format!(
                    "verified: {} ({}) signed by {expected}, identity {rule}{} ({accepted} of {} signatures)\n",
                    image.given,
                    image.digest,
                    annotation_words(&args.annotations),
                    checked.len()
                )
            } else {
                format!("verification failed: {summary}\n")
            };
            output::print(&(head + &text))?;
        }
    }
    Ok(if verified { exit::OK } else { exit::rejected() })
}

fn annotation_words(annotations: &[(String, String)]) -> String {
    if annotations.is_empty() {
        return String::new();
    }
    let list = annotations
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(", ");
    format!(", annotations {list}")
}
