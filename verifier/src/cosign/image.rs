//! Cosign image signatures and attestations, verified offline with a key from the bytes a
//! registry serves (fetching them is the registry layer's job).
//!
//! - [`simple_signing`]: the payload a legacy image signature signs, parsed as strictly as
//!   containers/image does and written byte-identically to cosign 2.5.0.
//! - [`verify_simple_signing`]: a signature (the `dev.cosignproject.cosign/signature` layer
//!   annotation) over the exact stored payload bytes, the signed manifest digest, the signed
//!   `docker-reference` under an explicit [`IdentityRule`], and required `-a` annotations.
//! - [`signature_layers`]: the signatures listed in a `sha256-<hex>.sig` manifest.
//! - [`attestation`]: in-toto attestations, from a legacy `.att` layer (DSSE) or an OCI 1.1
//!   referrer (Sigstore bundle v0.3 with DSSE), and the referrers fallback index.
//! - [`bundle_signature`]: cosign v3 image signatures (a bundle referrer with predicate type
//!   `https://sigstore.dev/cosign/sign/v1`), under the same identity rule and annotations.
//! - Writing: [`sign`] makes the signed bytes (payload layers, statements, DSSE envelopes,
//!   bundles) and [`attach`] the manifests that carry them (`.sig`/`.att` with append, bundle
//!   referrers), byte-compatible with cosign.
//!
//! # Signature schemes
//!
//! cosign 2.5.0 `sign --key` and containers/image both load file keys with a fixed SHA-256
//! (cosign: sigstore's `LoadSignerVerifierWithOpts`, whose default hash is SHA-256; c/image:
//! `sigstoreHarcodedHashAlgorithm = crypto.SHA256`), so image signatures are ECDSA (ASN.1 DER)
//! over SHA-256 of the payload **whatever the curve** (a P-384 key signs SHA-256, not
//! SHA-384), and RSA PKCS#1 v1.5 over SHA-256 — exactly as for blobs
//! ([`super::blob`]). Only SHA-256 is accepted here, as both verifiers do. Ed25519 keys are
//! checked as pure Ed25519 (what containers/image verifies); cosign itself signs images with
//! Ed25519ph, which tollgate does not verify yet (such signatures fail as
//! [`ImageSignatureError::BadSignature`]). The captured vectors are all P-256.
//!
//! # Which identity rule by default
//!
//! `cosign verify --key` does not check `docker-reference` at all; skopeo/podman do (by
//! default `matchRepoDigestOrExact`, which refuses cosign's repository-only identities). The
//! CLI default should be [`IdentityRule::Repository`] with the repository the image is
//! pulled from: it accepts both cosign (`repo`) and skopeo (`repo:tag`) signatures, it binds
//! the signer's statement "this digest is image R" to R (so a signature made for
//! `team/debug-tools` does not admit the same bytes as `prod/payments`, and an image copied
//! with its signature into another repository is refused, as skopeo refuses it), and it does
//! not depend on tags, which are mutable and which tollgate resolves to digests anyway.
//! [`IdentityRule::Exact`] cannot accept cosign's signatures (they carry no tag), and
//! [`IdentityRule::None`] is cosign's behaviour, for mirrors and proxies whose pull name
//! differs from the signed one; it must be asked for explicitly.
//!
//! With a key only ([`SignatureLayer::verify`]) Rekor entries (`dev.sigstore.cosign/bundle`),
//! certificates and timestamps are not verified ([`VerifiedImageSignature::notes`] says so).
//! [`SignatureLayer::verify_with_trust`] verifies keyless layers (certificate + Rekor SET) and
//! key-signed layers that carry a Rekor entry through [`crate::sigstore::verify`], reading the
//! layer as a Sigstore bundle ([`keyless`]), then applies the same payload checks.

pub mod attach;
pub mod attestation;
pub mod bundle_signature;
pub mod keyless;
pub mod reference;
pub mod sign;
pub mod simple_signing;

use std::collections::BTreeMap;
use std::fmt;

use aws_lc_rs::digest::SHA256;
use serde_json::Value;

use crate::digest::Digest;
use crate::dsse::decode_b64;
use crate::keys::{KeyAlgorithm, PublicKey};
use crate::oci::{Descriptor, ImageManifest};
use crate::sigstore::{self, Artifact, SigstoreError, Trust, Verified};

pub use reference::{DockerReference, ReferenceError};
pub use simple_signing::{MAX_PAYLOAD_BYTES, PayloadError, SimpleSigning};

/// Layer media type of a simple-signing payload in a `.sig` manifest.
pub const SIMPLE_SIGNING_MEDIA_TYPE: &str = "application/vnd.dev.cosign.simplesigning.v1+json";

/// Layer annotation holding the base64 signature over the layer's bytes.
pub const SIGNATURE_ANNOTATION: &str = "dev.cosignproject.cosign/signature";

/// Layer annotation holding a keyless signer's certificate.
pub const CERTIFICATE_ANNOTATION: &str = "dev.sigstore.cosign/certificate";

/// Layer annotation holding a Rekor signed entry timestamp.
pub const REKOR_BUNDLE_ANNOTATION: &str = "dev.sigstore.cosign/bundle";

/// Layer annotation holding an RFC 3161 timestamp.
pub const TIMESTAMP_ANNOTATION: &str = "dev.sigstore.cosign/rfc3161timestamp";

/// Most layers read from a `.sig` or `.att` manifest (cosign appends at most 1000).
pub const MAX_LAYERS: usize = 1000;

/// Longest signature annotation read (64 KiB of base64).
const MAX_SIGNATURE_B64: usize = 64 << 10;

/// How the signed `critical.identity.docker-reference` must relate to the image.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum IdentityRule {
    /// The signed reference's repository (`registry/path` after docker.io normalization, tag
    /// and digest dropped) must equal this one's repository. Like containers/image's
    /// `matchRepository` (`signature.Name() == image.Name()`). Accepts cosign's `repo` and
    /// skopeo's `repo:tag` identities. The CLI default (see the module docs).
    Repository(DockerReference),
    /// The signed reference must equal this one exactly: repository, tag and digest, after
    /// normalization. Like containers/image's `matchExact`, a repository-only signed identity
    /// (what cosign writes) never matches.
    Exact(ExactReference),
    /// Not checked: cosign's behaviour. A signature copied with the image to any repository is
    /// accepted; choose it only for mirrors or proxies that rename images.
    None,
}

impl fmt::Display for IdentityRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Repository(r) => write!(f, "repository {}", r.repository()),
            Self::Exact(r) => write!(f, "exactly {}", r.0),
            Self::None => f.write_str("not checked"),
        }
    }
}

/// A reference with a tag or a digest, for [`IdentityRule::Exact`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExactReference(DockerReference);

impl ExactReference {
    /// Parses a reference that has a tag or a digest.
    pub fn parse(text: &str) -> Result<Self, ReferenceError> {
        let r = DockerReference::parse(text)?;
        if r.is_name_only() {
            return Err(ReferenceError {
                reference: text.chars().take(512).collect(),
                why: "an exact identity needs a tag or a digest",
            });
        }
        Ok(Self(r))
    }

    /// The reference.
    pub fn reference(&self) -> &DockerReference {
        &self.0
    }
}

/// Why an image signature was not accepted.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ImageSignatureError {
    /// The payload is too large or not a simple-signing payload.
    #[error(transparent)]
    Payload(#[from] PayloadError),
    /// The signature annotation is not base64.
    #[error("signature annotation is not base64 ({0}); the .sig manifest is corrupt")]
    SignatureEncoding(String),
    /// The signature does not verify with the key.
    #[error(
        "image signature does not verify with key {fingerprint} ({algorithm}): signed by another key, or the payload or signature changed"
    )]
    BadSignature {
        /// `sha256:…` of the key's SubjectPublicKeyInfo.
        fingerprint: String,
        /// The key's algorithm.
        algorithm: KeyAlgorithm,
    },
    /// The payload signs another manifest.
    #[error(
        "the signature is for manifest {signed}, not the expected {expected}: it belongs to another image or another version of it"
    )]
    DigestMismatch {
        /// The digest the caller resolved (`sha256:…`).
        expected: String,
        /// `critical.image.docker-manifest-digest`.
        signed: String,
    },
    /// The signed identity is not a valid docker reference.
    #[error(
        "the signed docker-reference cannot be checked: {0}; verify with the identity rule none to accept it"
    )]
    Identity(#[source] ReferenceError),
    /// The signed identity does not satisfy the rule.
    #[error(
        "the signature names image {signed:?}, but the identity rule requires {rule}: the image was copied or signed for another repository"
    )]
    IdentityMismatch {
        /// The signed `docker-reference`.
        signed: String,
        /// The rule, in words.
        rule: String,
    },
    /// A required annotation is absent.
    #[error(
        "the signature has no annotation {key:?} (required {key}={expected}); it was signed without -a {key}={expected}"
    )]
    AnnotationMissing {
        /// The key.
        key: String,
        /// The required value.
        expected: String,
    },
    /// A required annotation has another value.
    #[error("the signature's annotation {key:?} is {found}, not the required {expected:?}")]
    AnnotationMismatch {
        /// The key.
        key: String,
        /// The required value.
        expected: String,
        /// The signed value, as JSON.
        found: String,
    },
    /// A `.sig` manifest layer is not a simple-signing payload.
    #[error(
        "layer {index} of the signature manifest has media type {media_type}, expected {SIMPLE_SIGNING_MEDIA_TYPE}: not a cosign signature manifest"
    )]
    LayerMediaType {
        /// Layer index.
        index: usize,
        /// Its media type.
        media_type: String,
    },
    /// A `.sig` manifest layer has no signature annotation.
    #[error("layer {index} of the signature manifest has no {SIGNATURE_ANNOTATION} annotation")]
    MissingSignature {
        /// Layer index.
        index: usize,
    },
    /// The manifest lists no layers, or more than [`MAX_LAYERS`].
    #[error("the signature manifest has {0} layers (expected 1 to {MAX_LAYERS})")]
    LayerCount(usize),
    /// The layer's certificate, chain or Rekor entry cannot be read as a Sigstore bundle.
    #[error(transparent)]
    LegacyBundle(#[from] keyless::LegacyBundleError),
    /// Sigstore verification (certificate, identity, log entry, signature) failed.
    #[error(transparent)]
    Sigstore(#[from] SigstoreError),
    /// The payload given is not the layer's blob.
    #[error(
        "the payload given is {actual} ({actual_size} bytes), but the layer is {layer} ({layer_size} bytes): fetch the layer's blob"
    )]
    PayloadDigestMismatch {
        /// The layer's digest.
        layer: String,
        /// The layer's size.
        layer_size: u64,
        /// The payload's SHA-256.
        actual: String,
        /// The payload's size.
        actual_size: usize,
    },
}

/// Proof that an image signature was checked: signature, manifest digest, identity rule and
/// required annotations. Built only by [`verify_simple_signing`].
#[derive(Clone, Debug)]
pub struct VerifiedImageSignature {
    payload: SimpleSigning,
    signer: Digest,
    identity_rule: IdentityRule,
    notes: Vec<String>,
    sigstore: Option<Box<Verified>>,
}

impl VerifiedImageSignature {
    /// The Sigstore verification (signer identity, log entry, times) when the signature was
    /// verified through [`SignatureLayer::verify_with_trust`]'s Sigstore path.
    pub fn sigstore(&self) -> Option<&Verified> {
        self.sigstore.as_deref()
    }

    /// The authenticated payload.
    pub fn payload(&self) -> &SimpleSigning {
        &self.payload
    }

    /// The signed manifest digest (equal to the expected one).
    pub fn manifest_digest(&self) -> &Digest {
        self.payload.manifest_digest()
    }

    /// SHA-256 of the key's SubjectPublicKeyInfo (for keyless signatures, of the
    /// certificate's public key).
    pub fn signer(&self) -> &Digest {
        &self.signer
    }

    /// The identity rule the signature satisfied.
    pub fn identity_rule(&self) -> &IdentityRule {
        &self.identity_rule
    }

    /// What was not checked, for people.
    pub fn notes(&self) -> &[String] {
        &self.notes
    }
}

/// Verifies one image signature as `cosign verify --key --insecure-ignore-tlog` does, plus
/// the identity rule skopeo applies:
///
/// 1. `payload` is at most [`MAX_PAYLOAD_BYTES`] and `signature_b64` (the layer's
///    [`SIGNATURE_ANNOTATION`]) verifies over exactly these bytes with `key` (never a
///    re-serialization; see the module docs for the schemes);
/// 2. the payload parses strictly ([`SimpleSigning::parse`]);
/// 3. `critical.image.docker-manifest-digest` is `expected_digest`;
/// 4. `critical.identity.docker-reference` satisfies `identity`;
/// 5. every `expected_annotations` entry is in `optional` as an equal string (cosign's
///    `-a k=v`).
pub fn verify_simple_signing(
    payload: &[u8],
    signature_b64: &str,
    key: &PublicKey,
    expected_digest: &Digest,
    identity: &IdentityRule,
    expected_annotations: &BTreeMap<String, String>,
) -> Result<VerifiedImageSignature, ImageSignatureError> {
    if payload.len() > MAX_PAYLOAD_BYTES {
        return Err(PayloadError::TooLarge {
            size: payload.len(),
        }
        .into());
    }
    if signature_b64.len() > MAX_SIGNATURE_B64 {
        return Err(ImageSignatureError::SignatureEncoding(format!(
            "{} bytes, more than {MAX_SIGNATURE_B64}",
            signature_b64.len()
        )));
    }
    let signature = decode_b64(signature_b64.trim())
        .map_err(|e| ImageSignatureError::SignatureEncoding(e.to_string()))?;
    verify_sha256_signature(key, payload, &signature).map_err(|()| {
        ImageSignatureError::BadSignature {
            fingerprint: key.fingerprint().to_string(),
            algorithm: key.algorithm(),
        }
    })?;
    check_payload(
        payload,
        key.fingerprint(),
        expected_digest,
        identity,
        expected_annotations,
    )
}

/// Steps 2–5 of [`verify_simple_signing`], on a payload whose signature was verified.
fn check_payload(
    payload: &[u8],
    signer: Digest,
    expected_digest: &Digest,
    identity: &IdentityRule,
    expected_annotations: &BTreeMap<String, String>,
) -> Result<VerifiedImageSignature, ImageSignatureError> {
    let parsed = SimpleSigning::parse(payload)?;
    if parsed.manifest_digest() != expected_digest {
        return Err(ImageSignatureError::DigestMismatch {
            expected: expected_digest.to_string(),
            signed: parsed.manifest_digest().to_string(),
        });
    }
    check_identity(parsed.docker_reference(), identity)?;
    check_annotations(|k| parsed.optional_value(k), expected_annotations)?;
    let mut notes = Vec::new();
    if *identity == IdentityRule::None {
        notes.push(format!(
            "the signed identity {:?} was not checked (identity rule none)",
            parsed.docker_reference()
        ));
    }
    Ok(VerifiedImageSignature {
        payload: parsed,
        signer,
        identity_rule: identity.clone(),
        notes,
        sigstore: None,
    })
}

/// A cosign/containers-image signature over `message`: ECDSA or RSA over SHA-256 of it,
/// whatever the curve; Ed25519 pure.
pub(crate) fn verify_sha256_signature(
    key: &PublicKey,
    message: &[u8],
    signature: &[u8],
) -> Result<(), ()> {
    let result = if key.algorithm() == KeyAlgorithm::Ed25519 {
        key.verify(message, signature)
    } else {
        key.verify_digest(&SHA256, Digest::sha256(message).as_bytes(), signature)
    };
    result.map_err(|_| ())
}

/// Checks a signed `docker-reference` against `rule`.
pub(crate) fn check_identity(signed: &str, rule: &IdentityRule) -> Result<(), ImageSignatureError> {
    let mismatch = || ImageSignatureError::IdentityMismatch {
        signed: signed.chars().take(512).collect(),
        rule: rule.to_string(),
    };
    let parse = || DockerReference::parse(signed).map_err(ImageSignatureError::Identity);
    match rule {
        IdentityRule::None => Ok(()),
        IdentityRule::Repository(expected) => {
            if parse()?.repository() == expected.repository() {
                Ok(())
            } else {
                Err(mismatch())
            }
        }
        IdentityRule::Exact(expected) => {
            if parse()? == expected.0 {
                Ok(())
            } else {
                Err(mismatch())
            }
        }
    }
}

/// Checks that every `expected` annotation is signed (`signed(key)`) as an equal string.
pub(crate) fn check_annotations<'a>(
    signed: impl Fn(&str) -> Option<&'a Value>,
    expected: &BTreeMap<String, String>,
) -> Result<(), ImageSignatureError> {
    for (key, want) in expected {
        match signed(key) {
            None => {
                return Err(ImageSignatureError::AnnotationMissing {
                    key: key.clone(),
                    expected: want.clone(),
                });
            }
            Some(Value::String(s)) if s == want => {}
            Some(other) => {
                return Err(ImageSignatureError::AnnotationMismatch {
                    key: key.clone(),
                    expected: want.clone(),
                    found: other.to_string().chars().take(200).collect(),
                });
            }
        }
    }
    Ok(())
}

/// One signature listed in a `.sig` manifest: the payload blob's descriptor and the
/// signature annotation. Its payload must be fetched by digest and given to
/// [`SignatureLayer::verify`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignatureLayer {
    index: usize,
    descriptor: Descriptor,
    signature_b64: String,
}

impl SignatureLayer {
    /// The layer's position in the manifest.
    pub fn index(&self) -> usize {
        self.index
    }

    /// The payload blob's descriptor (digest and size to fetch).
    pub fn descriptor(&self) -> &Descriptor {
        &self.descriptor
    }

    /// The base64 signature annotation.
    pub fn signature_b64(&self) -> &str {
        &self.signature_b64
    }

    /// Whether the layer carries a certificate (a keyless or `--certificate` signature).
    pub fn has_certificate(&self) -> bool {
        self.descriptor
            .annotations()
            .contains_key(CERTIFICATE_ANNOTATION)
    }

    /// Checks that `payload` is this layer's blob (size and SHA-256), then
    /// [`verify_simple_signing`].
    pub fn verify(
        &self,
        payload: &[u8],
        key: &PublicKey,
        expected_digest: &Digest,
        identity: &IdentityRule,
        expected_annotations: &BTreeMap<String, String>,
    ) -> Result<VerifiedImageSignature, ImageSignatureError> {
        check_blob(&self.descriptor, payload)?;
        let mut verified = verify_simple_signing(
            payload,
            &self.signature_b64,
            key,
            expected_digest,
            identity,
            expected_annotations,
        )?;
        let a = self.descriptor.annotations();
        if a.contains_key(REKOR_BUNDLE_ANNOTATION) {
            verified.notes.push(format!(
                "layer {}: the Rekor entry ({REKOR_BUNDLE_ANNOTATION}) is not verified; only the key signature is checked",
                self.index
            ));
        }
        if a.contains_key(TIMESTAMP_ANNOTATION) {
            verified.notes.push(format!(
                "layer {}: the RFC 3161 timestamp is not verified",
                self.index
            ));
        }
        Ok(verified)
    }
}

impl SignatureLayer {
    /// Verifies the layer against `trust`, then the payload checks of [`verify_simple_signing`]
    /// (manifest digest, identity rule, annotations):
    ///
    /// - [`Trust::Keyless`]: the layer must carry a certificate and a Rekor entry; read as a
    ///   Sigstore bundle ([`keyless::legacy_bundle`]), it is verified by
    ///   [`crate::sigstore::verify`] over SHA-256 of the payload (chain at the SET's time, SCT,
    ///   SET, signature, entry consistency, identity policy);
    /// - [`Trust::Key`] and a layer with a Rekor entry and no certificate: the same, with the
    ///   key (the SET is verified against the trust root's logs);
    /// - [`Trust::Key`] otherwise: [`SignatureLayer::verify`] (the key signature only).
    pub fn verify_with_trust(
        &self,
        payload: &[u8],
        trust: &Trust,
        expected_digest: &Digest,
        identity: &IdentityRule,
        expected_annotations: &BTreeMap<String, String>,
    ) -> Result<VerifiedImageSignature, ImageSignatureError> {
        let annotations = self.descriptor.annotations();
        if let Trust::Key { key, .. } = trust
            && (self.has_certificate() || !keyless::has_rekor_entry(annotations))
        {
            return self.verify(
                payload,
                key,
                expected_digest,
                identity,
                expected_annotations,
            );
        }
        check_blob(&self.descriptor, payload)?;
        if payload.len() > MAX_PAYLOAD_BYTES {
            return Err(PayloadError::TooLarge {
                size: payload.len(),
            }
            .into());
        }
        let bundle = keyless::legacy_bundle(
            annotations,
            keyless::LegacyContent::MessageSignature {
                payload,
                signature_b64: &self.signature_b64,
            },
        )?;
        let proof = sigstore::verify(&bundle, Artifact::Sha256(&Digest::sha256(payload)), trust)?;
        let signer = signer_fingerprint(&proof, &bundle);
        let mut verified = check_payload(
            payload,
            signer,
            expected_digest,
            identity,
            expected_annotations,
        )?;
        verified.sigstore = Some(Box::new(proof));
        Ok(verified)
    }
}

/// The fingerprint of the key that verified a Sigstore bundle: the given key, or the
/// certificate's public key.
pub(crate) fn signer_fingerprint(proof: &Verified, bundle: &sigstore::SigstoreBundle) -> Digest {
    match proof.signer() {
        sigstore::Signer::Key(fingerprint) => *fingerprint,
        // sigstore-verify has parsed this certificate; the fallback is unreachable.
        _ => bundle
            .signing_certificate_der()
            .and_then(keyless::certificate_key_fingerprint)
            .unwrap_or_else(|| Digest::sha256(b"")),
    }
}

/// Checks that `bytes` are the blob `descriptor` names (size first, then SHA-256).
pub(crate) fn check_blob(descriptor: &Descriptor, bytes: &[u8]) -> Result<(), ImageSignatureError> {
    let actual = Digest::sha256(bytes);
    if bytes.len() as u64 != descriptor.size() || &actual != descriptor.digest() {
        return Err(ImageSignatureError::PayloadDigestMismatch {
            layer: descriptor.digest().to_string(),
            layer_size: descriptor.size(),
            actual: actual.to_string(),
            actual_size: bytes.len(),
        });
    }
    Ok(())
}

/// The signatures in a cosign `.sig` manifest: every layer must be a simple-signing payload
/// ([`SIMPLE_SIGNING_MEDIA_TYPE`]) with a [`SIGNATURE_ANNOTATION`]; 1 to [`MAX_LAYERS`]
/// layers. Any one of them verifying is enough (cosign's rule).
pub fn signature_layers(
    manifest: &ImageManifest,
) -> Result<Vec<SignatureLayer>, ImageSignatureError> {
    let layers = manifest.layers();
    if layers.is_empty() || layers.len() > MAX_LAYERS {
        return Err(ImageSignatureError::LayerCount(layers.len()));
    }
    layers
        .iter()
        .enumerate()
        .map(|(index, d)| {
            if d.media_type().as_str() != SIMPLE_SIGNING_MEDIA_TYPE {
                return Err(ImageSignatureError::LayerMediaType {
                    index,
                    media_type: d.media_type().to_string(),
                });
            }
            let signature_b64 = d
                .annotations()
                .get(SIGNATURE_ANNOTATION)
                .filter(|s| !s.is_empty())
                .ok_or(ImageSignatureError::MissingSignature { index })?
                .clone();
            Ok(SignatureLayer {
                index,
                descriptor: d.clone(),
                signature_b64,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests;
