//! cosign v3 image signatures: a Sigstore bundle referrer whose DSSE statement has predicate
//! type `https://sigstore.dev/cosign/sign/v1` and the image digest as subject.
//!
//! Verified with a key ([`verify_bundle_signature`]) or against a [`Trust`], keyless or a key
//! whose log entries are verified too ([`verify_bundle_signature_with_trust`]). Checked in
//! order: the bundle layer is the blob its descriptor names; the DSSE signature verifies (with
//! the key, or through sigstore-verify); an in-toto statement with the sign predicate type has
//! a subject with the image's sha256 ([`super::attestation::verify_bundle_layer`]); that
//! subject's `name` satisfies the [`IdentityRule`]; every required `-a k=v` is in that subject's
//! `annotations` as an equal string (cosign's `IntotoSubjectClaimVerifier`).
//!
//! cosign v3 writes no `name`, so its bundle signatures name no repository: under the
//! `Repository` and `Exact` rules they are refused (nothing stops such a signature from being
//! copied with the image into any repository), and only [`IdentityRule::None`] accepts them.
//! tollgate's own bundle signatures carry the repository ([`super::sign::sign_statement`]).

use std::collections::BTreeMap;

use serde_json::Value;

use super::attestation::{
    AttestationError, StatementSubject, VerifiedStatement, verify_bundle_layer,
    verify_bundle_layer_with_trust,
};
use super::sign::COSIGN_SIGN_PREDICATE_TYPE;
use super::{IdentityRule, ImageSignatureError, check_identity};
use crate::digest::Digest;
use crate::keys::PublicKey;
use crate::oci::Descriptor;
use crate::sigstore::{Trust, Verified};

/// Why a bundle signature was not accepted.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BundleSignatureError {
    /// The bundle, its signature or its statement failed.
    #[error(transparent)]
    Statement(#[from] AttestationError),
    /// The signed identity or annotations do not satisfy the request.
    #[error(transparent)]
    Claims(#[from] ImageSignatureError),
    /// The statement names no repository and the rule needs one.
    #[error(
        "the bundle signature names no repository (cosign v3 writes none), so the identity rule ({rule}) cannot be satisfied; verify with --identity none to accept it"
    )]
    NoIdentity {
        /// The rule, in words.
        rule: String,
    },
}

/// Proof that a bundle signature was checked: key, image digest, identity rule and required
/// annotations. Built only by [`verify_bundle_signature`].
#[derive(Clone, Debug)]
pub struct VerifiedBundleSignature {
    statement: VerifiedStatement,
    subject: StatementSubject,
    identity_rule: IdentityRule,
}

impl VerifiedBundleSignature {
    /// The authenticated statement.
    pub fn statement(&self) -> &VerifiedStatement {
        &self.statement
    }

    /// The signed repository (the subject's `name`), if any.
    pub fn docker_reference(&self) -> Option<&str> {
        self.subject.name.as_deref()
    }

    /// The signed annotations (the subject's `annotations`).
    pub fn annotations(&self) -> &BTreeMap<String, Value> {
        &self.subject.annotations
    }

    /// SHA-256 of the key's SubjectPublicKeyInfo (for keyless signatures, of the
    /// certificate's public key).
    pub fn signer(&self) -> &Digest {
        self.statement.signer()
    }

    /// The Sigstore verification (signer identity, log entry, times), when verified through
    /// [`verify_bundle_signature_with_trust`]'s Sigstore path.
    pub fn sigstore(&self) -> Option<&Verified> {
        self.statement.sigstore()
    }

    /// The identity rule the signature satisfied.
    pub fn identity_rule(&self) -> &IdentityRule {
        &self.identity_rule
    }

    /// What was not checked, for people.
    pub fn notes(&self) -> &[String] {
        self.statement.notes()
    }
}

/// Verifies the bundle `bytes` listed as `descriptor` in a referrer of `image` (see the
/// module docs for the steps).
pub fn verify_bundle_signature(
    descriptor: &Descriptor,
    bytes: &[u8],
    key: &PublicKey,
    image: &Digest,
    identity: &IdentityRule,
    expected_annotations: &BTreeMap<String, String>,
) -> Result<VerifiedBundleSignature, BundleSignatureError> {
    let statement = verify_bundle_layer(descriptor, bytes, key, image, COSIGN_SIGN_PREDICATE_TYPE)?;
    check_claims(statement, image, identity, expected_annotations)
}

/// [`verify_bundle_signature`] against a [`Trust`]: keyless (Fulcio certificate, identity
/// policy, log entry), or a key, whose bundle's log entries and timestamps are verified
/// when it has them; then the same subject, identity
/// rule and annotation checks.
///
/// See [`super::attestation::verify_bundle_attestation_with_trust`] for which path a bundle takes.
pub fn verify_bundle_signature_with_trust(
    descriptor: &Descriptor,
    bytes: &[u8],
    trust: &Trust,
    image: &Digest,
    identity: &IdentityRule,
    expected_annotations: &BTreeMap<String, String>,
) -> Result<VerifiedBundleSignature, BundleSignatureError> {
    let statement = verify_bundle_layer_with_trust(
        descriptor,
        bytes,
        trust,
        image,
        COSIGN_SIGN_PREDICATE_TYPE,
    )?;
    check_claims(statement, image, identity, expected_annotations)
}

/// The subject naming `image`, its `name` under `identity`, and the required annotations.
fn check_claims(
    statement: VerifiedStatement,
    image: &Digest,
    identity: &IdentityRule,
    expected_annotations: &BTreeMap<String, String>,
) -> Result<VerifiedBundleSignature, BundleSignatureError> {
    let want = image.hex();
    let subject = statement
        .subjects()
        .iter()
        .find(|s| s.digest.get("sha256") == Some(&want))
        .cloned()
        .ok_or_else(|| AttestationError::SubjectMismatch {
            expected: image.to_string(),
            found: "(none)".into(),
        })?;
    match (&subject.name, identity) {
        (_, IdentityRule::None) => {}
        (None, rule) => {
            return Err(BundleSignatureError::NoIdentity {
                rule: rule.to_string(),
            });
        }
        (Some(name), rule) => check_identity(name, rule)?,
    }
    super::check_annotations(|k| subject.annotations.get(k), expected_annotations)?;
    Ok(VerifiedBundleSignature {
        statement,
        subject,
        identity_rule: identity.clone(),
    })
}
