//! Cosign attestations of images, verified with a key or keylessly: in-toto statements in DSSE
//! envelopes.
//!
//! Two storage forms reach this module as bytes:
//!
//! - the legacy `sha256-<hex>.att` manifest ([`attestation_layers`]): each layer
//!   ([`DSSE_MEDIA_TYPE`]) is a DSSE envelope; its `predicateType` annotation is only a hint;
//! - an OCI 1.1 referrer ([`referrer_bundle_layers`]): a manifest whose `subject` is the
//!   image and whose layers are Sigstore bundles v0.3 holding a DSSE envelope
//!   ([`verify_bundle_attestation`]). On registries without the referrers API, referrers are
//!   listed in a fallback index at tag `sha256-<hex>` ([`FallbackIndex`]).
//!
//! Both end in [`verify_attestation`]: a DSSE signature over PAE with the key, `payloadType`
//! `application/vnd.in-toto+json`, an in-toto Statement (v0.1, as cosign 2.5.0 writes, or v1)
//! whose subjects include the image's sha256 digest, and whose `predicateType` is the one
//! asked for. cosign 2.5.0 signs PAE like image payloads: ECDSA over SHA-256 whatever the
//! curve ([`super`]); sigstore-go-based signers use the curve's own hash, so both are accepted
//! for ECDSA (each is the key's signature over the same PAE bytes).
//!
//! The `*_with_trust` entry points take a [`Trust`]: keyless attestations (a Fulcio
//! certificate in the bundle, or the certificate, chain and Rekor SET annotations of a `.att`
//! layer, read as a bundle by [`super::keyless`]) and key-signed ones that carry log entries
//! are verified by [`crate::sigstore::verify`] with the image digest as the in-toto subject;
//! then the same statement checks apply to the verified payload.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::Value;

use super::{ImageSignatureError, MAX_LAYERS, check_blob, verify_sha256_signature};
use crate::bundle::{Bundle, BundleError, Content, VerificationMaterial};
use crate::digest::Digest;
use crate::dsse::{DsseError, Envelope, pae};
use crate::intoto::PAYLOAD_TYPE;
use crate::keys::PublicKey;
use crate::oci::{Descriptor, ImageIndex, ImageManifest, ManifestError, MediaType};
use crate::sigstore::{self, Artifact, SigstoreBundle, SigstoreError, Trust, Verified};

use super::keyless::{self, LegacyBundleError, LegacyContent};

/// Layer media type of a DSSE envelope in a `.att` manifest.
pub const DSSE_MEDIA_TYPE: &str = "application/vnd.dsse.envelope.v1+json";

/// Media type (and artifact type) of a Sigstore bundle v0.3 referrer.
pub const BUNDLE_V0_3_MEDIA_TYPE: &str = "application/vnd.dev.sigstore.bundle.v0.3+json";

/// Prefix of every Sigstore bundle media type (cosign's `GetBundles` filter).
pub const BUNDLE_MEDIA_TYPE_PREFIX: &str = "application/vnd.dev.sigstore.bundle";

/// Layer annotation naming a `.att` layer's predicate type (unauthenticated).
pub const PREDICATE_TYPE_ANNOTATION: &str = "predicateType";

/// `_type` values accepted: in-toto Statement v0.1 (cosign 2.5.0 `attest`) and v1.
pub const STATEMENT_TYPES: [&str; 2] = [
    "https://in-toto.io/Statement/v0.1",
    crate::intoto::STATEMENT_TYPE_V1,
];

/// Largest envelope or bundle read (1 MiB; cosign's are under 1 KiB plus the predicate).
pub const MAX_ATTESTATION_BYTES: usize = 1 << 20;

/// At most this many subjects are read from a statement.
const MAX_SUBJECTS: usize = 1024;

/// Why an attestation was not accepted.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AttestationError {
    /// Larger than [`MAX_ATTESTATION_BYTES`].
    #[error(
        "attestation is {size} bytes, more than the {MAX_ATTESTATION_BYTES}-byte limit; refusing to read it"
    )]
    TooLarge {
        /// Its size.
        size: usize,
    },
    /// The DSSE envelope is malformed.
    #[error("attestation: {0}")]
    Envelope(#[from] DsseError),
    /// The Sigstore bundle is malformed.
    #[error("attestation: {0}")]
    Bundle(#[from] BundleError),
    /// The bundle carries a certificate but a key was given.
    #[error(
        "the attestation bundle carries a certificate (a keyless signature), but a key was given: verify it with --certificate-identity and --certificate-oidc-issuer"
    )]
    Keyless,
    /// The layer's certificate, chain or Rekor entry cannot be read as a Sigstore bundle.
    #[error(transparent)]
    LegacyBundle(#[from] LegacyBundleError),
    /// Sigstore verification (certificate, identity, log entry, signature) failed.
    #[error(transparent)]
    Sigstore(#[from] SigstoreError),
    /// The DSSE bundle verified but carries no payload.
    #[error("the verified bundle holds no DSSE payload")]
    NoPayload,
    /// The bundle holds a message signature, not a DSSE envelope.
    #[error("the bundle holds a message signature (a blob signature), not a DSSE attestation")]
    NotDsse,
    /// No envelope signature verifies with the key.
    #[error(
        "attestation signature does not verify with key {fingerprint}: signed by another key, or the envelope changed"
    )]
    BadSignature {
        /// `sha256:…` of the key's SubjectPublicKeyInfo.
        fingerprint: String,
    },
    /// The envelope does not carry an in-toto statement.
    #[error("attestation payloadType is {0:?}, expected {PAYLOAD_TYPE:?}")]
    PayloadType(String),
    /// The statement is malformed.
    #[error("attestation statement is malformed: {0}")]
    Statement(String),
    /// The statement's `_type` is not an in-toto Statement.
    #[error("attestation statement _type is {0:?}, expected in-toto Statement v0.1 or v1")]
    StatementType(String),
    /// No subject names the image.
    #[error(
        "the attestation's subjects ({found}) do not include the image {expected}: it is about another image"
    )]
    SubjectMismatch {
        /// The image digest (`sha256:…`).
        expected: String,
        /// The subjects' sha256 digests, comma-separated.
        found: String,
    },
    /// The predicate type is not the one asked for.
    #[error("the attestation's predicateType is {found:?}, not the requested {expected:?}")]
    PredicateType {
        /// Asked for.
        expected: String,
        /// Signed.
        found: String,
    },
    /// A manifest layer is not what this storage form holds.
    #[error(
        "layer {index} has media type {media_type}, expected {expected}: not a cosign attestation manifest"
    )]
    LayerMediaType {
        /// Layer index.
        index: usize,
        /// Its media type.
        media_type: String,
        /// The expected media type (or prefix).
        expected: &'static str,
    },
    /// The manifest has no usable layers, or too many.
    #[error("the attestation manifest has {0} layers (expected 1 to {MAX_LAYERS})")]
    LayerCount(usize),
    /// A referrer's `subject` is not the image.
    #[error(
        "the referrer's subject is {found}, not the image {expected}: it is attached to another manifest"
    )]
    ReferrerSubject {
        /// The image digest (`sha256:…`).
        expected: String,
        /// The subject (`none` when absent).
        found: String,
    },
    /// The bytes given are not the layer's blob.
    #[error(transparent)]
    Blob(Box<ImageSignatureError>),
    /// The fallback index is malformed.
    #[error("referrers fallback index: {0}")]
    Index(#[source] ManifestError),
}

/// One in-toto subject.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StatementSubject {
    /// `name` (absent in cosign v3 `sign` statements).
    pub name: Option<String>,
    /// Algorithm → hex digest.
    pub digest: BTreeMap<String, String>,
    /// `annotations` (cosign v3 `sign` puts its `-a k=v` here); empty when absent.
    pub annotations: BTreeMap<String, Value>,
}

/// Proof that an attestation was checked: signature with the key, in-toto payload type,
/// a subject with the image's digest, and the requested predicate type. Built only by
/// [`verify_attestation`].
#[derive(Clone, Debug)]
pub struct VerifiedStatement {
    statement_type: String,
    predicate_type: String,
    subjects: Vec<StatementSubject>,
    predicate: Value,
    image_digest: Digest,
    signer: Digest,
    notes: Vec<String>,
    sigstore: Option<Box<Verified>>,
}

impl VerifiedStatement {
    /// The Sigstore verification (signer identity, log entry, times) when the envelope was
    /// verified through a `*_with_trust` function's Sigstore path.
    pub fn sigstore(&self) -> Option<&Verified> {
        self.sigstore.as_deref()
    }

    /// `_type` (Statement v0.1 or v1).
    pub fn statement_type(&self) -> &str {
        &self.statement_type
    }

    /// The predicate type (equal to the requested one).
    pub fn predicate_type(&self) -> &str {
        &self.predicate_type
    }

    /// Every subject (one of them is the image).
    pub fn subjects(&self) -> &[StatementSubject] {
        &self.subjects
    }

    /// The authenticated predicate.
    pub fn predicate(&self) -> &Value {
        &self.predicate
    }

    /// The image digest a subject matched.
    pub fn image_digest(&self) -> &Digest {
        &self.image_digest
    }

    /// SHA-256 of the key's SubjectPublicKeyInfo (for keyless signatures, of the
    /// certificate's public key).
    pub fn signer(&self) -> &Digest {
        &self.signer
    }

    /// What was not checked, for people.
    pub fn notes(&self) -> &[String] {
        &self.notes
    }
}

#[derive(Deserialize)]
struct RawStatement {
    #[serde(rename = "_type")]
    type_: String,
    subject: Vec<RawSubject>,
    #[serde(rename = "predicateType")]
    predicate_type: String,
    #[serde(default)]
    predicate: Value,
}

#[derive(Deserialize)]
struct RawSubject {
    #[serde(default)]
    name: Option<String>,
    digest: BTreeMap<String, String>,
    #[serde(default)]
    annotations: Option<BTreeMap<String, Value>>,
}

/// Parses a DSSE envelope (a `.att` layer's bytes), at most [`MAX_ATTESTATION_BYTES`].
pub fn parse_envelope(bytes: &[u8]) -> Result<Envelope, AttestationError> {
    if bytes.len() > MAX_ATTESTATION_BYTES {
        return Err(AttestationError::TooLarge { size: bytes.len() });
    }
    let value: Value = serde_json::from_slice(bytes)
        .map_err(|e| DsseError::Malformed(format!("not JSON: {e}")))?;
    Ok(Envelope::from_json(&value)?)
}

/// Verifies an attestation envelope with `key` for the image `image_digest` and the
/// requested `predicate_type` (see the module docs).
pub fn verify_attestation(
    envelope: &Envelope,
    key: &PublicKey,
    image_digest: &Digest,
    predicate_type: &str,
) -> Result<VerifiedStatement, AttestationError> {
    let message = pae(envelope.payload_type(), envelope.payload());
    let verified = envelope.signatures().iter().any(|s| {
        verify_sha256_signature(key, &message, &s.sig).is_ok()
            || key.verify(&message, &s.sig).is_ok()
    });
    if !verified {
        return Err(AttestationError::BadSignature {
            fingerprint: key.fingerprint().to_string(),
        });
    }
    check_statement(
        envelope.payload_type(),
        envelope.payload(),
        key.fingerprint(),
        image_digest,
        predicate_type,
    )
}

/// The statement checks of [`verify_attestation`], on a payload whose signature was verified:
/// in-toto payload type and `_type`, a subject with the image's digest, the predicate type.
fn check_statement(
    payload_type: &str,
    payload: &[u8],
    signer: Digest,
    image_digest: &Digest,
    predicate_type: &str,
) -> Result<VerifiedStatement, AttestationError> {
    if payload_type != PAYLOAD_TYPE {
        return Err(AttestationError::PayloadType(
            payload_type.chars().take(200).collect(),
        ));
    }
    let raw: RawStatement =
        serde_json::from_slice(payload).map_err(|e| AttestationError::Statement(e.to_string()))?;
    if !STATEMENT_TYPES.contains(&raw.type_.as_str()) {
        return Err(AttestationError::StatementType(
            raw.type_.chars().take(200).collect(),
        ));
    }
    if raw.subject.is_empty() || raw.subject.len() > MAX_SUBJECTS {
        return Err(AttestationError::Statement(format!(
            "{} subjects (expected 1 to {MAX_SUBJECTS})",
            raw.subject.len()
        )));
    }
    let want = image_digest.hex();
    if !raw
        .subject
        .iter()
        .any(|s| s.digest.get("sha256") == Some(&want))
    {
        let found = raw
            .subject
            .iter()
            .map(|s| s.digest.get("sha256").map_or("(no sha256)", String::as_str))
            .take(8)
            .collect::<Vec<_>>()
            .join(", ");
        return Err(AttestationError::SubjectMismatch {
            expected: image_digest.to_string(),
            found,
        });
    }
    if raw.predicate_type != predicate_type {
        return Err(AttestationError::PredicateType {
            expected: predicate_type.to_owned(),
            found: raw.predicate_type.chars().take(200).collect(),
        });
    }
    Ok(VerifiedStatement {
        statement_type: raw.type_,
        predicate_type: raw.predicate_type,
        subjects: raw
            .subject
            .into_iter()
            .map(|s| StatementSubject {
                name: s.name,
                digest: s.digest,
                annotations: s.annotations.unwrap_or_default(),
            })
            .collect(),
        predicate: raw.predicate,
        image_digest: *image_digest,
        signer,
        notes: Vec::new(),
        sigstore: None,
    })
}

/// Verifies a referrer's Sigstore bundle (a DSSE attestation signed with a key) with
/// [`verify_attestation`]. Certificates are refused; transparency-log entries are noted, not
/// verified.
pub fn verify_bundle_attestation(
    bundle: &[u8],
    key: &PublicKey,
    image_digest: &Digest,
    predicate_type: &str,
) -> Result<VerifiedStatement, AttestationError> {
    if bundle.len() > MAX_ATTESTATION_BYTES {
        return Err(AttestationError::TooLarge { size: bundle.len() });
    }
    let bundle = Bundle::parse(bundle)?;
    if !matches!(
        bundle.verification_material,
        VerificationMaterial::PublicKey { .. }
    ) {
        return Err(AttestationError::Keyless);
    }
    let Content::DsseEnvelope(envelope) = &bundle.content else {
        return Err(AttestationError::NotDsse);
    };
    let mut verified = verify_attestation(envelope, key, image_digest, predicate_type)?;
    if !bundle.tlog_entries.is_empty() {
        verified.notes.push(format!(
            "the bundle's {} transparency-log entries are not verified; only the key signature is checked",
            bundle.tlog_entries.len()
        ));
    }
    Ok(verified)
}

/// Verifies a referrer's Sigstore bundle against `trust`, then the statement checks of
/// [`verify_attestation`]:
///
/// - [`Trust::Keyless`], or [`Trust::Key`] with a key bundle that carries log entries or
///   timestamps: [`crate::sigstore::verify`] with the image digest as the in-toto subject
///   (chain, SCT, log entry, timestamps, DSSE signature, identity policy);
/// - [`Trust::Key`] otherwise: [`verify_bundle_attestation`] (the key signature only).
pub fn verify_bundle_attestation_with_trust(
    bundle_bytes: &[u8],
    trust: &Trust,
    image_digest: &Digest,
    predicate_type: &str,
) -> Result<VerifiedStatement, AttestationError> {
    if bundle_bytes.len() > MAX_ATTESTATION_BYTES {
        return Err(AttestationError::TooLarge {
            size: bundle_bytes.len(),
        });
    }
    if let Trust::Key { key, .. } = trust {
        let logged = SigstoreBundle::from_json(bundle_bytes)
            .is_ok_and(|b| b.has_log_or_timestamp() && !b.has_certificate());
        if !logged {
            return verify_bundle_attestation(bundle_bytes, key, image_digest, predicate_type);
        }
    }
    let bundle = SigstoreBundle::from_json(bundle_bytes)?;
    if !bundle.is_dsse() {
        return Err(AttestationError::NotDsse);
    }
    verify_sigstore(&bundle, trust, image_digest, predicate_type)
}

/// [`crate::sigstore::verify`] over the image digest (the DSSE subject), then
/// [`check_statement`] on the verified payload.
fn verify_sigstore(
    bundle: &SigstoreBundle,
    trust: &Trust,
    image_digest: &Digest,
    predicate_type: &str,
) -> Result<VerifiedStatement, AttestationError> {
    let proof = sigstore::verify(bundle, Artifact::Sha256(image_digest), trust)?;
    let (payload_type, payload) = proof.dsse_payload().ok_or(AttestationError::NoPayload)?;
    let mut verified = check_statement(
        payload_type,
        payload,
        super::signer_fingerprint(&proof, bundle),
        image_digest,
        predicate_type,
    )?;
    verified.sigstore = Some(Box::new(proof));
    Ok(verified)
}

/// One attestation listed in a `.att` manifest.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AttestationLayer {
    index: usize,
    descriptor: Descriptor,
}

impl AttestationLayer {
    /// The layer's position.
    pub fn index(&self) -> usize {
        self.index
    }

    /// The envelope blob's descriptor.
    pub fn descriptor(&self) -> &Descriptor {
        &self.descriptor
    }

    /// The `predicateType` annotation: a hint for choosing layers, never trusted.
    pub fn predicate_type_hint(&self) -> Option<&str> {
        self.descriptor
            .annotations()
            .get(PREDICATE_TYPE_ANNOTATION)
            .map(String::as_str)
    }

    /// Checks that `envelope` is this layer's blob, then [`verify_attestation`].
    pub fn verify(
        &self,
        envelope: &[u8],
        key: &PublicKey,
        image_digest: &Digest,
        predicate_type: &str,
    ) -> Result<VerifiedStatement, AttestationError> {
        check_blob(&self.descriptor, envelope).map_err(|e| AttestationError::Blob(Box::new(e)))?;
        verify_attestation(
            &parse_envelope(envelope)?,
            key,
            image_digest,
            predicate_type,
        )
    }
}

impl AttestationLayer {
    /// Verifies the layer against `trust`, then the statement checks of
    /// [`verify_attestation`]: with [`Trust::Keyless`] (or a key and a layer with a Rekor entry
    /// and no certificate) the layer is read as a Sigstore bundle
    /// ([`keyless::legacy_bundle`]) and verified by [`crate::sigstore::verify`] with the image
    /// digest as the in-toto subject; with a key otherwise, [`AttestationLayer::verify`].
    pub fn verify_with_trust(
        &self,
        envelope: &[u8],
        trust: &Trust,
        image_digest: &Digest,
        predicate_type: &str,
    ) -> Result<VerifiedStatement, AttestationError> {
        let annotations = self.descriptor.annotations();
        if let Trust::Key { key, .. } = trust
            && (annotations.contains_key(super::CERTIFICATE_ANNOTATION)
                || !keyless::has_rekor_entry(annotations))
        {
            return self.verify(envelope, key, image_digest, predicate_type);
        }
        check_blob(&self.descriptor, envelope).map_err(|e| AttestationError::Blob(Box::new(e)))?;
        if envelope.len() > MAX_ATTESTATION_BYTES {
            return Err(AttestationError::TooLarge {
                size: envelope.len(),
            });
        }
        let value: Value = serde_json::from_slice(envelope)
            .map_err(|e| DsseError::Malformed(format!("not JSON: {e}")))?;
        let bundle = keyless::legacy_bundle(annotations, LegacyContent::Dsse(&value))?;
        verify_sigstore(&bundle, trust, image_digest, predicate_type)
    }
}

/// The attestations in a cosign `.att` manifest: every layer must be a DSSE envelope
/// ([`DSSE_MEDIA_TYPE`]); 1 to [`MAX_LAYERS`] layers.
pub fn attestation_layers(
    manifest: &ImageManifest,
) -> Result<Vec<AttestationLayer>, AttestationError> {
    let layers = manifest.layers();
    if layers.is_empty() || layers.len() > MAX_LAYERS {
        return Err(AttestationError::LayerCount(layers.len()));
    }
    layers
        .iter()
        .enumerate()
        .map(|(index, d)| {
            if d.media_type().as_str() != DSSE_MEDIA_TYPE {
                return Err(AttestationError::LayerMediaType {
                    index,
                    media_type: d.media_type().to_string(),
                    expected: DSSE_MEDIA_TYPE,
                });
            }
            Ok(AttestationLayer {
                index,
                descriptor: d.clone(),
            })
        })
        .collect()
}

/// The Sigstore bundle layers of an OCI 1.1 referrer manifest for `image_digest`: its
/// `subject` must be the image, and every layer a Sigstore bundle (media type starting with
/// [`BUNDLE_MEDIA_TYPE_PREFIX`]; cosign keeps only those).
pub fn referrer_bundle_layers(
    manifest: &ImageManifest,
    image_digest: &Digest,
) -> Result<Vec<Descriptor>, AttestationError> {
    match manifest.subject() {
        Some(s) if s.digest() == image_digest => {}
        other => {
            return Err(AttestationError::ReferrerSubject {
                expected: image_digest.to_string(),
                found: other.map_or("none".to_owned(), |s| s.digest().to_string()),
            });
        }
    }
    let layers = manifest.layers();
    if layers.is_empty() || layers.len() > MAX_LAYERS {
        return Err(AttestationError::LayerCount(layers.len()));
    }
    layers
        .iter()
        .enumerate()
        .map(|(index, d)| {
            if d.media_type()
                .as_str()
                .starts_with(BUNDLE_MEDIA_TYPE_PREFIX)
            {
                Ok(d.clone())
            } else {
                Err(AttestationError::LayerMediaType {
                    index,
                    media_type: d.media_type().to_string(),
                    expected: BUNDLE_MEDIA_TYPE_PREFIX,
                })
            }
        })
        .collect()
}

/// Checks that `bytes` are the bundle layer `descriptor` names, then
/// [`verify_bundle_attestation`].
pub fn verify_bundle_layer(
    descriptor: &Descriptor,
    bytes: &[u8],
    key: &PublicKey,
    image_digest: &Digest,
    predicate_type: &str,
) -> Result<VerifiedStatement, AttestationError> {
    check_blob(descriptor, bytes).map_err(|e| AttestationError::Blob(Box::new(e)))?;
    verify_bundle_attestation(bytes, key, image_digest, predicate_type)
}

/// Checks that `bytes` are the bundle layer `descriptor` names, then
/// [`verify_bundle_attestation_with_trust`].
pub fn verify_bundle_layer_with_trust(
    descriptor: &Descriptor,
    bytes: &[u8],
    trust: &Trust,
    image_digest: &Digest,
    predicate_type: &str,
) -> Result<VerifiedStatement, AttestationError> {
    check_blob(descriptor, bytes).map_err(|e| AttestationError::Blob(Box::new(e)))?;
    verify_bundle_attestation_with_trust(bytes, trust, image_digest, predicate_type)
}

/// What a referrers fallback index entry says it is, by its `artifactType` — a hint only.
///
/// go-containerregistry (inside cosign) writes the referrer's **config** media type there,
/// not its artifact type: a real cosign bundle referrer is listed as
/// `application/vnd.oci.empty.v1+json` (observed, `cosign-referrers-fallback-index.json`). So
/// an entry is only known to be a signature after its manifest was read
/// ([`classify_referrer`]).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ReferrerHint {
    /// `artifactType` is a Sigstore bundle.
    SigstoreBundle,
    /// `artifactType` is the empty config (what ggcr writes for cosign's bundles): read the
    /// manifest to know.
    EmptyConfig,
    /// Another artifact type.
    Other(MediaType),
    /// No artifact type.
    Missing,
}

/// One manifest listed in a fallback index.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FallbackEntry {
    /// The listed manifest.
    pub descriptor: Descriptor,
    /// What its `artifactType` suggests.
    pub hint: ReferrerHint,
}

/// A referrers fallback index (OCI distribution spec "referrers tag schema": an image index at
/// tag `sha256-<hex>` listing the image's referrers).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FallbackIndex {
    entries: Vec<FallbackEntry>,
}

impl FallbackIndex {
    /// Parses the index; every entry must be an image manifest.
    pub fn parse(bytes: &[u8]) -> Result<Self, AttestationError> {
        let expected = MediaType::parse(MediaType::OCI_INDEX).expect("a valid media type");
        let index = ImageIndex::parse(bytes, Some(&expected)).map_err(AttestationError::Index)?;
        let entries = index
            .manifests()
            .iter()
            .enumerate()
            .map(|(i, d)| {
                if !d.media_type().is_image_manifest() {
                    return Err(AttestationError::Index(ManifestError::Descriptor {
                        field: format!("manifests[{i}]"),
                        err: crate::oci::DescriptorError::MediaType(d.media_type().to_string()),
                    }));
                }
                let hint = match d.artifact_type().map(MediaType::as_str) {
                    None => ReferrerHint::Missing,
                    Some(t) if t.starts_with(BUNDLE_MEDIA_TYPE_PREFIX) => {
                        ReferrerHint::SigstoreBundle
                    }
                    Some(MediaType::OCI_EMPTY) => ReferrerHint::EmptyConfig,
                    Some(_) => {
                        ReferrerHint::Other(d.artifact_type().expect("matched Some").clone())
                    }
                };
                Ok(FallbackEntry {
                    descriptor: d.clone(),
                    hint,
                })
            })
            .collect::<Result<_, _>>()?;
        Ok(Self { entries })
    }

    /// The listed manifests, in order.
    pub fn entries(&self) -> &[FallbackEntry] {
        &self.entries
    }
}

/// What a listed referrer manifest turned out to be, once read.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ReferrerKind {
    /// A cosign Sigstore bundle referrer of the image (subject matches, every layer a bundle).
    SigstoreBundle(Vec<Descriptor>),
    /// Anything else (an SBOM, another tool's artifact, a referrer of another image): a
    /// verifier that requires signatures only must refuse it.
    NotASignature(String),
}

/// Classifies a fallback-index entry by reading its manifest: the manifest's digest must be
/// the entry's, its `artifactType` (or config media type) a Sigstore bundle, its subject
/// the image and its layers bundles.
pub fn classify_referrer(
    entry: &FallbackEntry,
    manifest_bytes: &[u8],
    image_digest: &Digest,
) -> Result<ReferrerKind, AttestationError> {
    check_blob(&entry.descriptor, manifest_bytes)
        .map_err(|e| AttestationError::Blob(Box::new(e)))?;
    let manifest = ImageManifest::parse(manifest_bytes, Some(entry.descriptor.media_type()))
        .map_err(AttestationError::Index)?;
    let artifact = manifest
        .artifact_type()
        .unwrap_or(manifest.config().media_type());
    if !artifact.as_str().starts_with(BUNDLE_MEDIA_TYPE_PREFIX) {
        return Ok(ReferrerKind::NotASignature(format!(
            "artifact type {artifact}"
        )));
    }
    match referrer_bundle_layers(&manifest, image_digest) {
        Ok(layers) => Ok(ReferrerKind::SigstoreBundle(layers)),
        Err(e) => Ok(ReferrerKind::NotASignature(e.to_string())),
    }
}
