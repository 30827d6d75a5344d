//! `--notation` for `sign image`, `verify image`, `sign blob` and `verify blob`: Notary Project
//! signatures in a registry, in an OCI image layout (`oci:DIR:TAG`) and in detached
//! `{blob}.{jws|cose}.sig` files.
//!
//! The library (`tollgate_verifier::notation`) owns envelopes, certificates, trust policy and
//! the checks; this module owns the command line around it: loading the key and chain,
//! building the verifier from the flags, finding signature manifests (the referrers API, else
//! the `sha256-<hex>` tag schema index, or the manifests of a layout's `index.json` whose
//! `subject` is the image), fetching every manifest and envelope size-bounded and
//! digest-checked, pushing new signatures, and reporting each check as notation does.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, SystemTime};

use anyhow::Context as _;
use clap::{Args, ValueEnum};
use serde_json::{Value, json};
use tollgate_registry::{BlockingClient, Error as RegistryError, MediaType};
use tollgate_verifier::digest::Digest;
use tollgate_verifier::keys;
use tollgate_verifier::notation::envelope::{Descriptor, EnvelopeFormat};
use tollgate_verifier::notation::manifest::{
    EMPTY_CONFIG_DIGEST, MAX_MANIFEST_SIZE, OCI_MANIFEST_MEDIA_TYPE, SignatureManifest,
};
use tollgate_verifier::notation::policy::{Level, PolicyKind, TrustPolicyDocument};
use tollgate_verifier::notation::revocation::CrlStore;
use tollgate_verifier::notation::sign::{NotationSigner, SignRequest, sign};
use tollgate_verifier::notation::truststore::{TrustStore, default_config_dir};
use tollgate_verifier::notation::verify::{Artifact, BlobTarget, Outcome, Request, Verifier};
use tollgate_verifier::notation::{
    ARTIFACT_TYPE, DigestAlgorithm, MAX_ENVELOPE_SIZE, format_rfc3339, parse_rfc3339,
};
use tollgate_verifier::oci::layout::{self, Layout};
use tollgate_verifier::x509::Certificate;

use crate::cmd::cosign_store::{self, Image};
use crate::cmd::registry::RegistryArgs;
use crate::output::{self, OutputFormat};
use crate::{cmd, exit};

/// Most signatures of one artifact that are fetched and verified (notation's limit).
const MAX_SIGNATURES: usize = 100;
/// Most manifests of a layout's `index.json` read while looking for signatures.
const MAX_LAYOUT_CANDIDATES: usize = 1000;
/// Largest certificate chain file.
const MAX_CHAIN_FILE: u64 = 1 << 20;

/// The envelope format to write.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub(crate) enum Envelope {
    /// JWS JSON (`application/jose+json`), notation's default.
    #[default]
    Jws,
    /// COSE_Sign1 (`application/cose`).
    Cose,
}

impl From<Envelope> for EnvelopeFormat {
    fn from(e: Envelope) -> Self {
        match e {
            Envelope::Jws => Self::Jws,
            Envelope::Cose => Self::Cose,
        }
    }
}

/// Notation signing options (with --notation).
#[derive(Debug, Args)]
pub(crate) struct NotationSignArgs {
    /// Notation: the certificate chain of --key (PEM, leaf first, ending in its root).
    #[arg(long, value_name = "CHAIN_PEM", requires = "notation")]
    pub(crate) cert: Option<PathBuf>,
    /// Notation: envelope format [default: jws].
    #[arg(long, value_enum, value_name = "FORMAT", requires = "notation")]
    pub(crate) envelope: Option<Envelope>,
    /// Notation: signature expiry after the signing time, e.g. 720h or 30days.
    #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration, requires = "notation")]
    pub(crate) expiry: Option<Duration>,
}

/// Notation blob signing options (with --notation).
#[derive(Debug, Args)]
pub(crate) struct NotationBlobSignArgs {
    #[command(flatten)]
    pub(crate) common: NotationSignArgs,
    /// Notation: the blob's media type, signed in the descriptor.
    #[arg(long, value_name = "TYPE", requires = "notation")]
    pub(crate) media_type: Option<String>,
    /// Notation: where to write `{blob}.{jws|cose}.sig` [default: the current directory].
    #[arg(long, value_name = "DIR", requires = "notation")]
    pub(crate) signature_directory: Option<PathBuf>,
}

/// Notation verification options (with --notation). Each also conflicts with --key: clap
/// waives `requires = "notation"` when an argument that conflicts with --notation (as --key
/// does) is present, and these flags must never be silently ignored by a cosign verification.
#[derive(Debug, Args)]
pub(crate) struct NotationVerifyArgs {
    /// Notation: trust policy document [default: notation's, in its configuration directory].
    #[arg(
        long,
        value_name = "FILE",
        requires = "notation",
        conflicts_with = "key"
    )]
    pub(crate) trust_policy: Option<PathBuf>,
    /// Notation: trust store directory, holding ca/, signingAuthority/, tsa/ (notation's
    /// truststore/x509), or a notation configuration directory [default: notation's].
    #[arg(
        long,
        value_name = "DIR",
        requires = "notation",
        conflicts_with = "key"
    )]
    pub(crate) trust_store: Option<PathBuf>,
    /// Notation: directory of CRL files (DER or PEM) for the revocation check.
    #[arg(
        long,
        value_name = "DIR",
        requires = "notation",
        conflicts_with = "key"
    )]
    pub(crate) crl_dir: Option<PathBuf>,
    /// Notation: verify as of this time instead of now (tests, forensics).
    #[arg(long, value_name = "RFC3339", value_parser = parse_at, requires = "notation", conflicts_with = "key")]
    pub(crate) at: Option<SystemTime>,
}

/// Notation blob verification options (with --notation).
#[derive(Debug, Args)]
pub(crate) struct NotationBlobVerifyArgs {
    #[command(flatten)]
    pub(crate) common: NotationVerifyArgs,
    /// Notation: the blob trust policy statement to use [default: the globalPolicy one].
    #[arg(
        long,
        value_name = "NAME",
        requires = "notation",
        conflicts_with = "key"
    )]
    pub(crate) policy_name: Option<String>,
    /// Notation: the media type the signature must name.
    #[arg(
        long,
        value_name = "TYPE",
        requires = "notation",
        conflicts_with = "key"
    )]
    pub(crate) media_type: Option<String>,
}

fn parse_at(text: &str) -> Result<SystemTime, String> {
    parse_rfc3339(text).ok_or_else(|| format!("{text:?} is not an RFC 3339 time"))
}

/// `tollgate sign image REF --notation`: signs REF's manifest digest and pushes the signature
/// manifest as a referrer (listed in the `sha256-<hex>` index when the registry has no
/// referrers API). `annotations` are signed as user metadata.
pub(crate) fn sign_image(
    reference: &str,
    key: &str,
    annotations: &[(String, String)],
    opts: &NotationSignArgs,
    registry: &RegistryArgs,
    format: OutputFormat,
) -> anyhow::Result<ExitCode> {
    let (signer, chain) = signing_material(key, opts)?;
    let client = registry.client()?;
    let image = cosign_store::resolve(&client, reference, registry.platform.as_ref())?;
    let descriptor = Descriptor {
        media_type: image.media_type.as_str().to_owned(),
        artifact_type: None,
        digest: image.digest.to_string(),
        size: image.size,
        annotations: annotations.iter().cloned().collect(),
    };
    let envelope_format = EnvelopeFormat::from(opts.envelope.unwrap_or_default());
    let now = SystemTime::now();
    let envelope = sign(
        envelope_format,
        &request(&descriptor, now, opts.expiry),
        &signer,
        &chain,
    )?;
    let manifest = SignatureManifest::new(envelope_format, &envelope, &descriptor, &chain, now);
    let repo = image.at_digest();
    let envelope_digest = Digest::sha256(&envelope);
    client.push_blob(&repo, envelope, &envelope_digest)?;
    let empty: Digest = EMPTY_CONFIG_DIGEST.parse()?;
    client.push_blob(&repo, b"{}".to_vec(), &empty)?;
    let media_type = MediaType::parse(OCI_MANIFEST_MEDIA_TYPE)?;
    let digest = client.attach_referrer(&repo, &manifest.to_bytes(), &media_type)?;
    let signer_subject = chain[0].subject();
    match format {
        OutputFormat::Json => output::print_json(&json!({
            "image": image.given.to_string(),
            "digest": image.digest.to_string(),
            "signer": signer_subject,
            "envelope": envelope_format.name(),
            "signature": format!("{}@{digest}", image.repository),
            "artifactType": ARTIFACT_TYPE,
        }))?,
        OutputFormat::Text => output::print(&format!(
            "signed {}@{} with {} ({} envelope)\n  signature {}@{digest} ({ARTIFACT_TYPE})\n",
            image.repository,
            image.digest,
            signer_subject,
            envelope_format.name(),
            image.repository,
        ))?,
    }
    Ok(exit::OK)
}

/// `tollgate sign blob FILE --notation`: writes `{FILE}.{jws|cose}.sig`. The file is hashed
/// streaming, never loaded.
pub(crate) fn sign_blob(
    path: &Path,
    key: &str,
    opts: &NotationBlobSignArgs,
) -> anyhow::Result<ExitCode> {
    let (signer, chain) = signing_material(key, &opts.common)?;
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .with_context(|| format!("{}: names no file", path.display()))?;
    let target = BlobTarget::from_file(path)?;
    let wanted = format!("{}:", signer.algorithm().hash().name());
    let digest = target
        .digests
        .iter()
        .find(|d| d.starts_with(&wanted))
        .with_context(|| format!("no {wanted} digest of {}", path.display()))?;
    let descriptor = Descriptor {
        media_type: opts
            .media_type
            .clone()
            .unwrap_or_else(|| "application/octet-stream".to_owned()),
        artifact_type: None,
        digest: digest.clone(),
        size: target.size,
        annotations: BTreeMap::new(),
    };
    let envelope_format = EnvelopeFormat::from(opts.common.envelope.unwrap_or_default());
    let envelope = sign(
        envelope_format,
        &request(&descriptor, SystemTime::now(), opts.common.expiry),
        &signer,
        &chain,
    )?;
    let dir = opts
        .signature_directory
        .clone()
        .unwrap_or_else(|| PathBuf::from("."));
    let out = dir.join(envelope_format.blob_signature_name(name));
    output::write_atomically(&out, &envelope, 0o644)?;
    eprintln!(
        "signed {} ({}) with {}",
        path.display(),
        descriptor.digest,
        chain[0].subject()
    );
    output::print(&format!("{}\n", out.display()))?;
    Ok(exit::OK)
}

fn request(descriptor: &Descriptor, now: SystemTime, expiry: Option<Duration>) -> SignRequest {
    let req = SignRequest::for_descriptor(descriptor, now);
    match expiry {
        Some(d) => req.with_expiry(now + d),
        None => req,
    }
}

/// The key (a file, or an EC key on a PKCS#11 token) and its chain from --cert.
fn signing_material(
    key: &str,
    opts: &NotationSignArgs,
) -> anyhow::Result<(NotationSigner, Vec<Certificate>)> {
    let cert = opts
        .cert
        .as_deref()
        .context("--notation signs with a certificate chain: give --cert CHAIN_PEM")?;
    let bytes = cmd::read_bounded(cert, MAX_CHAIN_FILE, "a certificate chain")?;
    let chain = Certificate::parse_pem_bundle(&bytes)
        .with_context(|| format!("{}: cannot read certificates", cert.display()))?;
    anyhow::ensure!(
        !chain.is_empty(),
        "{}: no certificate; give the chain as PEM, leaf first, ending in the root",
        cert.display()
    );
    let signer = if key.starts_with("pkcs11:") {
        NotationSigner::from_signer(cmd::sign::load_signer(key)?)?
    } else {
        let path = Path::new(key);
        let from_env = cmd::key::password_from_env();
        let loaded =
            match keys::load_private_key_file(path, from_env.as_ref().map(|p| p.as_slice())) {
                Err(err) if err.is_password_required() => {
                    let password = cmd::key::existing_key_password(path)?;
                    keys::load_private_key_file(path, Some(&password))?
                }
                other => other?,
            };
        NotationSigner::from_signing_key(&loaded)?
    };
    Ok((signer, chain))
}

/// The verifier the flags ask for.
fn verifier(opts: &NotationVerifyArgs, kind: PolicyKind) -> anyhow::Result<Verifier> {
    let config = || {
        default_config_dir().context(
            "no home directory for notation's configuration: give --trust-policy and --trust-store",
        )
    };
    let policy = match &opts.trust_policy {
        Some(file) => TrustPolicyDocument::load(file, kind)?,
        None => TrustPolicyDocument::load_from_config_dir(&config()?, kind)?,
    };
    let store = match &opts.trust_store {
        // A notation configuration directory, or its truststore/x509 directory.
        Some(dir) if dir.join("truststore").join("x509").is_dir() => {
            TrustStore::from_config_dir(dir)
        }
        Some(dir) => TrustStore::from_x509_dir(dir),
        None => TrustStore::from_config_dir(&config()?),
    };
    let mut verifier = Verifier::new(policy, store);
    if let Some(dir) = &opts.crl_dir {
        verifier = verifier.with_crls(CrlStore::from_dir(dir)?);
    }
    Ok(verifier)
}

/// A signature found for an artifact: where, and its envelope (or why it cannot be used).
struct Found {
    location: String,
    envelope: Result<(String, Vec<u8>), String>,
}

/// A signature and what became of it.
struct Checked {
    location: String,
    result: Result<Outcome, String>,
}

impl Checked {
    fn verified(&self) -> bool {
        self.result.as_ref().is_ok_and(Outcome::is_success)
    }

    fn json(&self) -> Value {
        match &self.result {
            Ok(outcome) => {
                let mut v = outcome.to_json();
                v["location"] = json!(self.location);
                v
            }
            Err(why) => json!({"location": self.location, "verified": false, "failure": why}),
        }
    }

    fn text(&self) -> String {
        let body = match &self.result {
            Ok(outcome) => outcome.to_string(),
            Err(why) => format!("verification failed: {why}"),
        };
        let mut text = format!("signature {}\n", self.location);
        for line in body.lines() {
            text.push_str("  ");
            text.push_str(line);
            text.push('\n');
        }
        text
    }
}

/// The artifact a verification is about.
struct Subject {
    /// As given on the command line.
    given: String,
    /// Selects the trust policy statement.
    repository: String,
    descriptor: Descriptor,
}

/// `tollgate verify image REF --notation`: REF in a registry, or `oci:DIR[:TAG]`. Verified when
/// one signature passes at its statement's level. `annotations` must be in the signed
/// descriptor (user metadata).
pub(crate) fn verify_image(
    reference: &str,
    annotations: &[(String, String)],
    opts: &NotationVerifyArgs,
    registry: &RegistryArgs,
    format: OutputFormat,
) -> anyhow::Result<ExitCode> {
    let verifier = verifier(opts, PolicyKind::Oci)?;
    let (subject, found) = if reference.starts_with("oci:") {
        layout_signatures(reference)?
    } else {
        let client = registry.client()?;
        let image = cosign_store::resolve(&client, reference, registry.platform.as_ref())?;
        let found = registry_signatures(&client, &image)?;
        (subject_of(&image), found)
    };
    let statement = verifier.policy().select_oci(&subject.repository)?;
    if statement.level == Level::Skip {
        let why = format!(
            "trust policy {:?} skips signature verification for {}",
            statement.name, subject.repository
        );
        return report(format, &subject, &[], Verdict::Skipped(why));
    }
    let user_metadata: BTreeMap<String, String> = annotations.iter().cloned().collect();
    let at = opts.at.unwrap_or_else(SystemTime::now);
    let checked: Vec<Checked> = found
        .into_iter()
        .map(|f| Checked {
            location: f.location,
            result: f.envelope.map(|(media_type, envelope)| {
                verifier.verify(&Request {
                    artifact: Artifact::Oci {
                        repository: subject.repository.clone(),
                        descriptor: subject.descriptor.clone(),
                    },
                    envelope: &envelope,
                    media_type: &media_type,
                    policy_name: None,
                    user_metadata: user_metadata.clone(),
                    at,
                })
            }),
        })
        .collect();
    let verdict = Verdict::of(&checked, &subject, at);
    report(format, &subject, &checked, verdict)
}

/// `tollgate verify blob FILE --notation --signature SIG`.
pub(crate) fn verify_blob(
    path: &Path,
    signature: &Path,
    opts: &NotationBlobVerifyArgs,
    format: OutputFormat,
) -> anyhow::Result<ExitCode> {
    let envelope_format = EnvelopeFormat::from_signature_path(signature)?;
    let verifier = verifier(&opts.common, PolicyKind::Blob)?;
    let statement = verifier.policy().select_blob(opts.policy_name.as_deref())?;
    let mut target = BlobTarget::from_file(path)?;
    target.media_type.clone_from(&opts.media_type);
    let subject = Subject {
        given: path.display().to_string(),
        repository: String::new(),
        descriptor: Descriptor {
            media_type: opts.media_type.clone().unwrap_or_default(),
            artifact_type: None,
            digest: target.digests.first().cloned().unwrap_or_default(),
            size: target.size,
            annotations: BTreeMap::new(),
        },
    };
    if statement.level == Level::Skip {
        let why = format!(
            "trust policy {:?} skips signature verification",
            statement.name
        );
        return report(format, &subject, &[], Verdict::Skipped(why));
    }
    let envelope = cmd::read_bounded(signature, MAX_ENVELOPE_SIZE as u64, "a Notary signature")?;
    let at = opts.common.at.unwrap_or_else(SystemTime::now);
    let outcome = verifier.verify(&Request {
        artifact: Artifact::Blob(target),
        envelope: &envelope,
        media_type: envelope_format.media_type(),
        policy_name: opts.policy_name.as_deref(),
        user_metadata: BTreeMap::new(),
        at,
    });
    let checked = [Checked {
        location: signature.display().to_string(),
        result: Ok(outcome),
    }];
    let verdict = Verdict::of(&checked, &subject, at);
    report(format, &subject, &checked, verdict)
}

fn subject_of(image: &Image) -> Subject {
    Subject {
        given: image.given.to_string(),
        repository: image.repository.clone(),
        descriptor: Descriptor {
            media_type: image.media_type.as_str().to_owned(),
            artifact_type: None,
            digest: image.digest.to_string(),
            size: image.size,
            annotations: BTreeMap::new(),
        },
    }
}

enum Verdict {
    Verified(String),
    Skipped(String),
    Rejected(String),
}

impl Verdict {
    fn of(checked: &[Checked], subject: &Subject, at: SystemTime) -> Self {
        let what = format!("{} ({})", subject.given, subject.descriptor.digest);
        if let Some(ok) = checked.iter().find(|c| c.verified()) {
            let signer = ok
                .result
                .as_ref()
                .ok()
                .and_then(|o| o.signer.clone())
                .unwrap_or_default();
            return Self::Verified(format!(
                "{what}: signature {} by {signer} ({} of {} signatures verify)",
                ok.location,
                checked.iter().filter(|c| c.verified()).count(),
                checked.len()
            ));
        }
        if checked.is_empty() {
            return Self::Rejected(format!(
                "{what} has no Notary signature ({ARTIFACT_TYPE} referrers)"
            ));
        }
        Self::Rejected(format!(
            "no Notary signature of {what} verifies at {} ({} checked)",
            format_rfc3339(at),
            checked.len()
        ))
    }
}

fn report(
    format: OutputFormat,
    subject: &Subject,
    checked: &[Checked],
    verdict: Verdict,
) -> anyhow::Result<ExitCode> {
    let (verified, head) = match &verdict {
        Verdict::Verified(s) => (true, format!("verified: {s}")),
        Verdict::Skipped(s) => (true, format!("verification skipped: {s}")),
        Verdict::Rejected(s) => (false, format!("verification failed: {s}")),
    };
    match format {
        OutputFormat::Json => output::print_json(&json!({
            "verified": verified,
            "skipped": matches!(verdict, Verdict::Skipped(_)),
            "artifact": subject.given,
            "digest": subject.descriptor.digest,
            "repository": (!subject.repository.is_empty()).then_some(&subject.repository),
            "signatures": checked.iter().map(Checked::json).collect::<Vec<_>>(),
            "error": (!verified).then_some(&head),
        }))?,
        OutputFormat::Text => {
            let mut text = head + "\n";
            for c in checked {
                text.push_str(&c.text());
            }
            output::print(&text)?;
        }
    }
    Ok(if verified { exit::OK } else { exit::rejected() })
}

/// Errors that say the registry's content is wrong (a rejection of that signature), not that
/// the registry could not be asked.
fn is_content_problem(e: &RegistryError) -> bool {
    matches!(
        e,
        RegistryError::DigestMismatch { .. }
            | RegistryError::SizeMismatch { .. }
            | RegistryError::ManifestNotFound { .. }
            | RegistryError::InvalidManifest { .. }
            | RegistryError::ManifestTooLarge { .. }
            | RegistryError::BlobNotFound { .. }
            | RegistryError::BlobTooLarge { .. }
    )
}

/// The image's Notary signatures: referrers (API or tag schema) whose `artifactType` is the
/// Notary type, or absent (the legacy form names it in the config, which only the manifest
/// shows). Never trusts the listing: each manifest is read and parsed.
fn registry_signatures(client: &BlockingClient, image: &Image) -> anyhow::Result<Vec<Found>> {
    let listed = client.referrers(&image.at_digest(), &image.digest)?;
    let mut found = Vec::new();
    for d in listed.descriptors {
        if found.len() == MAX_SIGNATURES {
            eprintln!(
                "note: more than {MAX_SIGNATURES} signatures; verifying the first {MAX_SIGNATURES}"
            );
            break;
        }
        let listed_type = d.artifact_type().map(MediaType::as_str);
        if !d.media_type().is_image_manifest() || listed_type.is_some_and(|t| t != ARTIFACT_TYPE) {
            continue;
        }
        let location = format!("{}@{}", image.repository, d.digest());
        let fetched = match client.get_manifest(&image.given.with_digest(d.digest())) {
            Ok(m) => m,
            Err(e) if is_content_problem(&e) => {
                found.push(Found {
                    location,
                    envelope: Err(e.to_string()),
                });
                continue;
            }
            Err(e) => return Err(e.into()),
        };
        let manifest = match SignatureManifest::parse(&fetched.bytes) {
            Ok(m) => m,
            // Unlabelled and not a signature manifest: another kind of referrer.
            Err(_) if listed_type.is_none() => continue,
            Err(e) => {
                found.push(Found {
                    location,
                    envelope: Err(e.to_string()),
                });
                continue;
            }
        };
        let envelope = fetch_envelope(client, image, &manifest)?;
        found.push(Found { location, envelope });
    }
    Ok(found)
}

/// The envelope of `manifest`, size-bounded and digest-checked; `Ok(Err(why))` when the
/// registry's content is wrong.
fn fetch_envelope(
    client: &BlockingClient,
    image: &Image,
    manifest: &SignatureManifest,
) -> anyhow::Result<Result<(String, Vec<u8>), String>> {
    let checked = check_subject(manifest, &image.digest.to_string()).and_then(|()| {
        let layer = manifest
            .envelope_layer()
            .ok_or("a signature manifest has exactly one layer")?;
        let digest: Digest = layer
            .digest
            .parse()
            .map_err(|e| format!("layer digest {:?}: {e}", layer.digest))?;
        Ok((layer, digest))
    });
    let (layer, digest) = match checked {
        Ok(x) => x,
        Err(why) => return Ok(Err(why)),
    };
    match client.get_blob(
        &image.at_digest(),
        &digest,
        layer.size,
        MAX_ENVELOPE_SIZE as u64,
        "Notary signature envelopes",
    ) {
        Ok(bytes) => Ok(manifest
            .check_envelope(&bytes)
            .map(|()| (layer.media_type.clone(), bytes))
            .map_err(|e| e.to_string())),
        Err(e) if is_content_problem(&e) => Ok(Err(e.to_string())),
        Err(e) => Err(e.into()),
    }
}

fn check_subject(manifest: &SignatureManifest, digest: &str) -> Result<(), String> {
    match &manifest.subject {
        Some(s) if s.digest == digest => Ok(()),
        Some(s) => Err(format!(
            "the signature manifest's subject is {}, not {digest}",
            s.digest
        )),
        None => Err("the signature manifest has no subject".into()),
    }
}

/// The image REF names in an OCI layout and its signatures: the image manifests `index.json`
/// lists whose `subject` is that image (where `notation sign --oci-layout` and
/// `oras attach --oci-layout` put them). The policy scope is `local/<directory name>`.
fn layout_signatures(spec: &str) -> anyhow::Result<(Subject, Vec<Found>)> {
    let reference = layout::Reference::parse(spec)?;
    let layout = Layout::open(reference.dir())?;
    let target = layout.resolve(reference.tag())?.clone();
    let name = reference
        .dir()
        .canonicalize()
        .ok()
        .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        .unwrap_or_else(|| reference.dir().display().to_string());
    let subject = Subject {
        given: spec.to_owned(),
        repository: format!("local/{name}"),
        descriptor: Descriptor {
            media_type: target.media_type().as_str().to_owned(),
            artifact_type: None,
            digest: target.digest().to_string(),
            size: target.size(),
            annotations: BTreeMap::new(),
        },
    };
    let root = layout.root();
    let mut found = Vec::new();
    let candidates = layout
        .index()
        .manifests()
        .iter()
        .filter(|d| d.digest() != target.digest() && d.media_type().is_image_manifest())
        .filter(|d| {
            d.artifact_type()
                .is_none_or(|t| t.as_str() == ARTIFACT_TYPE)
        })
        .take(MAX_LAYOUT_CANDIDATES);
    for d in candidates {
        if found.len() == MAX_SIGNATURES {
            eprintln!(
                "note: more than {MAX_SIGNATURES} signatures; verifying the first {MAX_SIGNATURES}"
            );
            break;
        }
        let location = format!("{spec}@{}", d.digest());
        let bytes =
            match read_layout_blob(root, &d.digest().to_string(), d.size(), MAX_MANIFEST_SIZE) {
                Ok(b) => b,
                Err(why) => {
                    found.push(Found {
                        location,
                        envelope: Err(why),
                    });
                    continue;
                }
            };
        let Ok(manifest) = SignatureManifest::parse(&bytes) else {
            continue;
        };
        if manifest.subject.as_ref().map(|s| s.digest.as_str()) != Some(&subject.descriptor.digest)
        {
            continue;
        }
        let envelope = manifest
            .envelope_layer()
            .ok_or_else(|| "a signature manifest has exactly one layer".to_owned())
            .and_then(|layer| {
                let bytes = read_layout_blob(root, &layer.digest, layer.size, MAX_ENVELOPE_SIZE)?;
                manifest.check_envelope(&bytes).map_err(|e| e.to_string())?;
                Ok((layer.media_type.clone(), bytes))
            });
        found.push(Found { location, envelope });
    }
    Ok((subject, found))
}

/// Reads `blobs/<alg>/<hex>` of a layout: a regular file of exactly `size` bytes (at most
/// `limit`) whose digest is `digest`.
fn read_layout_blob(root: &Path, digest: &str, size: u64, limit: usize) -> Result<Vec<u8>, String> {
    // Parsing checks the hex, so the path stays inside blobs/.
    let parsed: Digest = digest
        .parse()
        .map_err(|e| format!("digest {digest:?}: {e}"))?;
    let alg = DigestAlgorithm::from_name(&parsed.algorithm().to_string())
        .ok_or_else(|| format!("digest {digest:?}: not sha256/384/512"))?;
    let path = root
        .join("blobs")
        .join(parsed.algorithm().to_string())
        .join(parsed.hex());
    let meta = std::fs::symlink_metadata(&path)
        .map_err(|e| format!("{}: cannot read: {e}", path.display()))?;
    if !meta.file_type().is_file() {
        return Err(format!("{}: not a regular file", path.display()));
    }
    if meta.len() != size || size > limit as u64 {
        return Err(format!(
            "{}: {} bytes, the descriptor says {size} (limit {limit})",
            path.display(),
            meta.len()
        ));
    }
    let bytes = cmd::read_bounded(&path, size, "a layout blob").map_err(|e| format!("{e:#}"))?;
    if alg.oci_digest(&bytes) != digest {
        return Err(format!(
            "{}: content does not match {digest}",
            path.display()
        ));
    }
    Ok(bytes)
}
