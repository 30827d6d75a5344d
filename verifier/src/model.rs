//! Signing and verifying models in the OpenSSF model signing v1.0 format.
//!
//! Owns the layering manifest → in-toto Statement (predicateType
//! `https://model_signing/signature/v1.0`) → DSSE → Sigstore bundle, for the key and
//! certificate methods, and verification in the opposite order. Verification runs in two
//! steps with a proof between them: [`verify_signature`] checks the bundle, the signer and the
//! statement and returns a [`SignedModel`] (constructible only there); [`verify_model`] re-hashes
//! the model with the serialization that signature records and compares. Keyless (Sigstore)
//! signatures are checked by [`crate::sigstore::verify`] over the root digest the statement
//! claims ([`claimed_root_digest`]); [`SignedModel::from_sigstore`] takes its proof.
//!
//! Deliberate differences from model_signing 1.1.1: every serialization is re-hashed (its CLI
//! only re-hashes files + sha256); certificate validity is checked at a chosen time (default
//! now; model_signing checks at the leaf's notBefore, so expired certificates pass); resource
//! names that are absolute, contain `..` or repeat are refused.

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use crate::bundle::{Bundle, Content, MediaType, VerificationMaterial};
use crate::digest::engine::Progress;
use crate::digest::{Digest, HashAlgorithm};
use crate::dsse::{DsseError, Envelope};
use crate::intoto::{self, Statement, StatementError, Subject};
use crate::keys::{KeyError, PublicKey, Signer};
use crate::manifest::{self, Diff, HashConfig, Manifest, ManifestError, ResourceKey};
use crate::sigstore;
use crate::walk::{self, SymlinkPolicy, WalkOptions};
use crate::x509::{self, Certificate, X509Error};

/// The predicate type of OMS v1.0 model signatures.
pub const PREDICATE_TYPE: &str = "https://model_signing/signature/v1.0";

/// The predicate type of model_signing's pre-1.0 signatures (not supported).
pub const LEGACY_PREDICATE_TYPE: &str = "https://model_signing/Digests/v0.1";

/// Why signing or verifying failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ModelError {
    /// Hashing or walking the model failed.
    #[error(transparent)]
    Manifest(#[from] ManifestError),
    /// The envelope is malformed or its signature does not verify.
    #[error(transparent)]
    Dsse(#[from] DsseError),
    /// The statement is malformed.
    #[error(transparent)]
    Statement(#[from] StatementError),
    /// A key operation failed.
    #[error(transparent)]
    Key(#[from] KeyError),
    /// A certificate or chain check failed.
    #[error(transparent)]
    X509(#[from] X509Error),
    /// The signature's content is not what a model signature holds.
    #[error("signature: {0}")]
    Invalid(String),
    /// The bundle names a different key than the one given.
    #[error(
        "key mismatch: the signature's publicKey.hint ({hint}) is not the given key's ({actual}); verify with the key that signed, or re-sign"
    )]
    KeyMismatch {
        /// Hint in the bundle.
        hint: String,
        /// Hint of the key given.
        actual: String,
    },
    /// The subject digest does not match the resources.
    #[error(
        "manifest is inconsistent: the signed root digest is {signed}, but the listed resources hash to {computed}"
    )]
    RootMismatch {
        /// `subject[0].digest.sha256`.
        signed: Box<Digest>,
        /// SHA-256 over the listed resource digests.
        computed: Box<Digest>,
    },
}

/// How the signer is identified in the bundle.
pub enum SigningMaterial {
    /// Self-managed key: `publicKey.hint` = hex SHA-256 of the public key PEM.
    Key,
    /// Certificate chain, leaf first (the leaf's key must be the signer's).
    Certificates(Vec<Certificate>),
}

/// `publicKey.hint` as model_signing writes it: the hex of [`PublicKey::pem_hint`].
pub fn key_hint(key: &PublicKey) -> String {
    key.pem_hint().hex()
}

/// The statement a model signature carries.
pub fn statement(manifest: &Manifest) -> Statement {
    Statement {
        subject: vec![Subject {
            name: manifest.model_name().to_owned(),
            digest: [("sha256".to_owned(), manifest.root_digest().hex())].into(),
        }],
        predicate_type: PREDICATE_TYPE.to_owned(),
        predicate: manifest.to_predicate(),
    }
}

/// Signs a manifest: statement → DSSE → bundle v0.3.
pub fn sign(
    manifest: &Manifest,
    signer: &dyn Signer,
    material: SigningMaterial,
) -> Result<Bundle, ModelError> {
    let verification_material = match material {
        SigningMaterial::Key => VerificationMaterial::PublicKey {
            hint: Some(key_hint(signer.public_key())),
        },
        SigningMaterial::Certificates(chain) => {
            let leaf = chain
                .first()
                .ok_or_else(|| ModelError::Invalid("no signing certificate given".into()))?;
            let leaf_key = PublicKey::from_spki_der(leaf.spki_der())?;
            if leaf_key.spki_der() != signer.public_key().spki_der() {
                return Err(ModelError::Invalid(format!(
                    "the signing certificate ({}) is for a different key than the signing key",
                    leaf.subject()
                )));
            }
            VerificationMaterial::X509CertificateChain(
                chain.iter().map(|c| c.der().to_vec()).collect(),
            )
        }
    };
    let envelope = Envelope::sign(intoto::PAYLOAD_TYPE, statement(manifest).to_bytes(), signer)?;
    Ok(Bundle {
        media_type: MediaType::V0_3,
        verification_material,
        tlog_entries: Vec::new(),
        content: Content::DsseEnvelope(envelope),
    })
}

/// What the verifier trusts.
pub enum Trust {
    /// Exactly this public key.
    Key(PublicKey),
    /// Certificates chaining to one of these roots, valid at `at`.
    Roots {
        /// Trust anchors.
        roots: Vec<Certificate>,
        /// The time at which the chain must be valid.
        at: SystemTime,
    },
}

/// Who signed, once verified.
#[derive(Clone, Debug)]
pub enum SignedBy {
    /// A key, by SPKI SHA-256 fingerprint.
    Key(Digest),
    /// A certificate, by subject.
    Certificate(String),
    /// A keyless (Sigstore) signature: the verified Fulcio certificate's identity.
    Keyless {
        /// The certificate's SAN (URI or email).
        identity: String,
        /// The OIDC issuer that authenticated the signer.
        issuer: String,
    },
}

/// A signature that verified: the signed manifest and who signed it. Only
/// [`verify_signature`] and [`SignedModel::from_sigstore`] (from a verified Sigstore bundle)
/// make one.
#[derive(Debug)]
pub struct SignedModel {
    manifest: Manifest,
    subject_name: String,
    signer: SignedBy,
}

impl SignedModel {
    /// The signed manifest, resources in the order the signature lists them.
    pub fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    /// `subject[0].name`.
    pub fn subject_name(&self) -> &str {
        &self.subject_name
    }

    /// Who signed.
    pub fn signer(&self) -> &SignedBy {
        &self.signer
    }

    /// The signed model of a Sigstore bundle that [`sigstore::verify`] accepted (keyless, or a
    /// key with a transparency-log entry): the verified DSSE payload must be a model signature
    /// statement whose root digest is the artifact digest sigstore-verify checked.
    pub fn from_sigstore(verified: &sigstore::Verified) -> Result<Self, ModelError> {
        let (payload_type, payload) = verified.dsse_payload().ok_or_else(|| {
            ModelError::Invalid(
                "bundle holds a messageSignature, not the DSSE envelope a model signature uses"
                    .into(),
            )
        })?;
        if payload_type != intoto::PAYLOAD_TYPE {
            return Err(ModelError::Invalid(format!(
                "DSSE payloadType is {payload_type:?}, expected {:?}",
                intoto::PAYLOAD_TYPE
            )));
        }
        let statement = Statement::parse(payload)?;
        let (manifest, subject_name) = manifest_of(&statement)?;
        // sigstore-verify checked that this digest is a subject of the statement; the model is
        // compared with the manifest, so both must name the same root.
        let root = manifest.root_digest();
        if verified.sha256() != Some(&root) {
            return Err(ModelError::Invalid(format!(
                "the Sigstore bundle was verified for {}, not for the statement's root digest {root}",
                verified
                    .sha256()
                    .map_or_else(|| "no digest".to_owned(), ToString::to_string)
            )));
        }
        let signer = match verified.signer() {
            sigstore::Signer::Key(fingerprint) => SignedBy::Key(*fingerprint),
            sigstore::Signer::Certificate(id) => SignedBy::Keyless {
                identity: id.san.clone(),
                issuer: id.issuer.clone(),
            },
        };
        Ok(Self {
            manifest,
            subject_name,
            signer,
        })
    }
}

/// The root digest a model signature's statement claims, read *without* verifying anything:
/// keyless verification hands it to [`sigstore::verify`] as the DSSE subject to check, and
/// [`SignedModel::from_sigstore`] then re-reads the verified payload.
pub fn claimed_root_digest(bundle: &Bundle) -> Result<Digest, ModelError> {
    let Content::DsseEnvelope(envelope) = &bundle.content else {
        return Err(ModelError::Invalid(
            "bundle holds a messageSignature, not the DSSE envelope a model signature uses".into(),
        ));
    };
    let statement = Statement::parse(envelope.payload())?;
    let [subject] = statement.subject.as_slice() else {
        return Err(ModelError::Invalid(format!(
            "statement has {} subjects; a model signature has exactly one",
            statement.subject.len()
        )));
    };
    let hex = subject
        .digest
        .get("sha256")
        .ok_or_else(|| ModelError::Invalid("subject has no sha256 digest".into()))?;
    Digest::from_hex(HashAlgorithm::Sha256, hex)
        .map_err(|e| ModelError::Invalid(format!("subject digest: {e}")))
}

/// Checks a bundle's signature, signer and statement (not the model's files).
pub fn verify_signature(bundle: &Bundle, trust: &Trust) -> Result<SignedModel, ModelError> {
    let Content::DsseEnvelope(envelope) = &bundle.content else {
        return Err(ModelError::Invalid(
            "bundle holds a messageSignature, not the DSSE envelope a model signature uses".into(),
        ));
    };
    if envelope.signatures().len() != 1 {
        return Err(ModelError::Invalid(format!(
            "DSSE envelope has {} signatures; a model signature has exactly one",
            envelope.signatures().len()
        )));
    }
    let (key, signer) = signer_key(bundle, trust)?;
    let verified = envelope.verify(&key)?;
    if verified.payload_type() != intoto::PAYLOAD_TYPE {
        return Err(ModelError::Invalid(format!(
            "DSSE payloadType is {:?}, expected {:?}",
            verified.payload_type(),
            intoto::PAYLOAD_TYPE
        )));
    }
    let statement = Statement::parse(verified.payload())?;
    let (manifest, subject_name) = manifest_of(&statement)?;
    Ok(SignedModel {
        manifest,
        subject_name,
        signer,
    })
}

/// The key to check the envelope with, and who it identifies.
fn signer_key(bundle: &Bundle, trust: &Trust) -> Result<(PublicKey, SignedBy), ModelError> {
    match (trust, &bundle.verification_material) {
        (Trust::Key(key), VerificationMaterial::PublicKey { hint }) => {
            if let Some(hint) = hint {
                let actual = key_hint(key);
                if !hint.eq_ignore_ascii_case(&actual) {
                    return Err(ModelError::KeyMismatch { hint: hint.clone(), actual });
                }
            }
            Ok((key.clone(), SignedBy::Key(key.fingerprint())))
        }
        (Trust::Roots { roots, at }, VerificationMaterial::X509CertificateChain(ders)) => {
            let certs = ders.iter().map(|d| Certificate::from_der(d)).collect::<Result<Vec<_>, _>>()?;
            let (leaf, intermediates) = certs.split_first().ok_or_else(|| ModelError::Invalid("empty certificate chain".into()))?;
            x509::verify_chain(leaf, intermediates, roots, *at, x509::Usage::CodeSigning)?;
            Ok((PublicKey::from_spki_der(leaf.spki_der())?, SignedBy::Certificate(leaf.subject())))
        }
        (Trust::Key(_), VerificationMaterial::Certificate(_)) => Err(ModelError::Invalid(
            "the signature is keyless (Sigstore: one Fulcio certificate), not made with a key; verify it with --certificate-identity and --certificate-oidc-issuer instead of --key".into(),
        )),
        (Trust::Roots { .. }, VerificationMaterial::Certificate(_)) => Err(ModelError::Invalid(
            "the signature is keyless (Sigstore: one Fulcio certificate and a log entry); verify it with --certificate-identity and --certificate-oidc-issuer (and --trusted-root for a private Sigstore) instead of --ca".into(),
        )),
        (Trust::Key(_), _) => Err(ModelError::Invalid(
            "the signature was made with a certificate; verify it with --ca ROOT_PEM instead of --key".into(),
        )),
        (Trust::Roots { .. }, _) => Err(ModelError::Invalid(
            "the signature was made with a plain key, not a certificate; verify it with --key PUB instead of --ca".into(),
        )),
    }
}

/// The manifest a statement carries, after every consistency check.
fn manifest_of(statement: &Statement) -> Result<(Manifest, String), ModelError> {
    if statement.predicate_type == LEGACY_PREDICATE_TYPE {
        return Err(ModelError::Invalid(format!(
            "predicateType {LEGACY_PREDICATE_TYPE} (model_signing before 1.0) is not supported; re-sign the model"
        )));
    }
    if statement.predicate_type != PREDICATE_TYPE {
        return Err(ModelError::Invalid(format!(
            "predicateType is {:?}, expected {PREDICATE_TYPE:?}",
            statement.predicate_type
        )));
    }
    let [subject] = statement.subject.as_slice() else {
        return Err(ModelError::Invalid(format!(
            "statement has {} subjects; a model signature has exactly one",
            statement.subject.len()
        )));
    };
    let signed_hex = subject
        .digest
        .get("sha256")
        .ok_or_else(|| ModelError::Invalid("subject has no sha256 digest".into()))?;
    let signed = Digest::from_hex(HashAlgorithm::Sha256, signed_hex)
        .map_err(|e| ModelError::Invalid(format!("subject digest: {e}")))?;
    let manifest = Manifest::from_predicate(&subject.name, &statement.predicate)?;
    check_resource_names(&manifest)?;
    let computed = manifest.root_digest();
    if computed != signed {
        return Err(ModelError::RootMismatch {
            signed: Box::new(signed),
            computed: Box::new(computed),
        });
    }
    Ok((manifest, subject.name.clone()))
}

/// Names must stay inside the model and be unique, or a signature could point the verifier at
/// files elsewhere (model_signing PR #647) or say two things about one file.
fn check_resource_names(manifest: &Manifest) -> Result<(), ModelError> {
    let mut seen = std::collections::HashSet::new();
    let single = manifest.resources().len() == 1;
    for r in manifest.resources() {
        let path = r.key.path();
        let ok = (path == "." && single)
            || (!path.is_empty()
                && !path.starts_with('/')
                && path
                    .split('/')
                    .all(|c| !c.is_empty() && c != "." && c != ".." && !c.contains('\0')));
        if !ok {
            return Err(ModelError::Invalid(format!(
                "resource name {:?} is not a relative path inside the model",
                r.key.to_string()
            )));
        }
        if !seen.insert(r.key.to_string()) {
            return Err(ModelError::Invalid(format!(
                "resource {:?} is listed twice",
                r.key.to_string()
            )));
        }
    }
    Ok(())
}

/// How to re-hash a model for verification.
#[derive(Clone, Debug, Default)]
pub struct VerifyOptions {
    /// More paths to leave out (e.g. the signature file itself when it lies in the model).
    pub extra_ignores: Vec<PathBuf>,
    /// Hash only the files the signature names; others on disk are not reported.
    pub ignore_unsigned_files: bool,
    /// Follow symlinks leading outside the model (when the signature allows symlinks).
    pub allow_external_symlinks: bool,
}

/// Result of comparing a model on disk with its signature.
#[derive(Debug)]
pub struct ModelVerification {
    /// Differences; empty means verified.
    pub diff: Diff,
    /// The manifest of the files on disk.
    pub actual: Manifest,
}

/// Re-hashes the model at `path` with the signature's recorded serialization and compares.
pub fn verify_model(
    signed: &SignedModel,
    path: &Path,
    options: &VerifyOptions,
    progress: &dyn Progress,
) -> Result<ModelVerification, ModelError> {
    let ser = signed.manifest.serialization();
    // The serialization does not record whether empty files got `path:0:0` shards; a signed
    // empty shard says they did, and then every empty file on disk must have one too.
    let shard_empty_files = signed.manifest.resources().iter().any(|r| {
        matches!(
            r.key,
            ResourceKey::Shard {
                start: 0,
                end: 0,
                ..
            }
        )
    });
    let config = HashConfig {
        algorithm: ser.hash_type,
        method: ser.method,
        shard_empty_files,
    };
    let symlinks = match (ser.allow_symlinks, options.allow_external_symlinks) {
        (false, _) => SymlinkPolicy::Refuse,
        (true, false) => SymlinkPolicy::FollowInside,
        (true, true) => SymlinkPolicy::FollowAnywhere,
    };
    let mut ignore: Vec<PathBuf> = ser.ignore_paths.iter().map(PathBuf::from).collect();
    ignore.extend(options.extra_ignores.iter().cloned());
    let walk_options = WalkOptions {
        ignore_git_paths: false,
        ignore,
        symlinks,
    };
    let tree = if options.ignore_unsigned_files {
        let mut names: Vec<&str> = signed
            .manifest
            .resources()
            .iter()
            .map(|r| r.key.path())
            .collect();
        names.dedup();
        walk::walk_named(path, &names, &walk_options).map_err(ManifestError::from)?
    } else {
        walk::walk(path, &walk_options).map_err(ManifestError::from)?
    };
    let actual = manifest::hash_tree(&tree, &config, progress)?;
    Ok(ModelVerification {
        diff: signed.manifest.diff(&actual),
        actual,
    })
}

#[cfg(test)]
mod tests;
