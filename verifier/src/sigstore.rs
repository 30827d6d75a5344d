//! Sigstore bundle verification, keyless (Fulcio certificate + identity policy) or with a
//! self-managed key, fully offline against a pinned trust root.
//!
//! **Who checks what.** The cryptography and the Sigstore protocol are checked by
//! sigstore-verify 0.15.1 (sigstore/sigstore-rust, pinned), which passes every offline
//! sigstore-conformance case: bundle v0.1–v0.3 in both media-type spellings; the Fulcio chain
//! to the trust root's CAs at the *verified* signing time, never the wall clock; embedded SCTs
//! against the CT log keys; Rekor v1 entries (signed entry timestamp, inclusion proof,
//! checkpoint) and Rekor v2 entries (hashedrekord/dsse 0.0.2, checkpoints with witness
//! cosignatures); RFC 3161 timestamps against the trust root's TSAs; `messageSignature` and
//! `dsseEnvelope` content (PAE, in-toto subject binding); log-entry consistency with the
//! bundle (CVE-2022-36056 class). Signing times come only from a verified SET or RFC 3161
//! token. tollgate does not re-implement any of it. tollgate adds, around it:
//!
//! - the identity policy ([`IdentityPolicy`]: exact or RE2 SAN and issuer, GitHub workflow
//!   claims), checked on the certificate sigstore-verify has verified;
//! - trust-root selection ([`TrustRoot`]): embedded production or staging root, or a file,
//!   never a silent fallback;
//! - hashing: the artifact is hashed by tollgate's engine and sigstore-verify gets the digest,
//!   so a multi-GB file is never read into memory (only Ed25519 or SHA-384/512 message
//!   signatures need more than SHA-256; they read the file, at most 1 GiB);
//! - bounded input sizes, stable error kinds ([`ErrorKind`]), and a proof type ([`Verified`])
//!   only this module constructs.
//!
//! Other commands wire keyless verification with [`Trust`] and [`verify`]: give the bundle,
//! the artifact's SHA-256 (a blob, or a DSSE subject such as a model root digest or an image
//! manifest digest) and the trust, and read the signer from the returned [`Verified`].

mod error;
mod policy;
mod trust_root;

#[cfg(test)]
mod tests;

use std::path::Path;
use std::time::SystemTime;

use sigstore_verify::types::bundle::VerificationMaterialContent;
use sigstore_verify::types::{Bundle, DerPublicKey, Sha256Hash, SignatureContent};
use sigstore_verify::{PublicKeyVerificationPolicy, VerificationPolicy, VerificationResult};

pub use error::{ErrorKind, SigstoreError};
pub use policy::{GithubWorkflow, IdentityPolicy, Matcher, PatternError};
pub use trust_root::{MAX_TRUST_ROOT_BYTES, TrustRoot, TrustRootSource};

use crate::digest::engine::hash_file;
use crate::digest::{Digest, HashAlgorithm};
use crate::keys::PublicKey;

/// The largest bundle read (the same bound as [`crate::bundle::MAX_BUNDLE_BYTES`]).
pub const MAX_BUNDLE_BYTES: u64 = crate::bundle::MAX_BUNDLE_BYTES;

/// The largest artifact read into memory when a digest is not enough (1 GiB).
const MAX_IN_MEMORY_ARTIFACT: u64 = 1 << 30;

/// A parsed Sigstore bundle (any version), not yet verified.
#[derive(Clone, Debug)]
pub struct SigstoreBundle(Bundle);

impl SigstoreBundle {
    /// Parses bundle JSON (at most [`MAX_BUNDLE_BYTES`]).
    pub fn from_json(bytes: &[u8]) -> Result<Self, SigstoreError> {
        let malformed = |detail: String| SigstoreError::Malformed { detail };
        if bytes.len() as u64 > MAX_BUNDLE_BYTES {
            return Err(malformed(format!("larger than {MAX_BUNDLE_BYTES} bytes")));
        }
        let text = std::str::from_utf8(bytes).map_err(|e| malformed(e.to_string()))?;
        Bundle::from_json(text).map(Self).map_err(|e| {
            let detail = e.to_string();
            // sigstore-types parses the checkpoint with the bundle; say which part failed.
            if detail.contains("Invalid checkpoint format") {
                SigstoreError::MalformedCheckpoint { detail }
            } else {
                malformed(detail)
            }
        })
    }

    /// Whether the bundle carries a signing certificate (a keyless signature).
    pub fn has_certificate(&self) -> bool {
        !matches!(
            self.0.verification_material.content,
            VerificationMaterialContent::PublicKey(_)
        )
    }

    /// Whether the bundle carries transparency-log entries or RFC 3161 timestamps.
    pub fn has_log_or_timestamp(&self) -> bool {
        !self.0.verification_material.tlog_entries.is_empty()
            || !self
                .0
                .verification_material
                .timestamp_verification_data
                .rfc3161_timestamps
                .is_empty()
    }

    /// Whether the content is a DSSE envelope (else a message signature).
    pub fn is_dsse(&self) -> bool {
        matches!(self.0.content, SignatureContent::DsseEnvelope(_))
    }

    /// The signing certificate (DER), for keyless bundles.
    pub fn signing_certificate_der(&self) -> Option<&[u8]> {
        self.0.signing_certificate().map(|c| c.as_bytes())
    }

    /// The bundle's media type (normalised: both v0.3 spellings print as the current one).
    pub fn media_type(&self) -> &'static str {
        self.0.media_type.as_str()
    }
}

/// What the bundle must be about.
#[derive(Clone, Copy, Debug)]
#[non_exhaustive]
pub enum Artifact<'a> {
    /// A SHA-256 digest: of a blob, or of a DSSE subject (model root, image manifest).
    Sha256(&'a Digest),
    /// A file, hashed with tollgate's engine.
    File(&'a Path),
}

/// What a bundle must be signed with.
#[derive(Debug)]
#[non_exhaustive]
pub enum Trust {
    /// A self-managed key; the bundle's log entries and timestamps are still verified against
    /// `root`.
    Key {
        /// The key.
        key: PublicKey,
        /// Logs and TSAs the bundle's entries must come from.
        root: TrustRoot,
    },
    /// A Fulcio certificate for an identity matching `policy`, chaining to `root`.
    Keyless {
        /// Who must have signed.
        policy: IdentityPolicy,
        /// CAs, logs and TSAs.
        root: TrustRoot,
    },
}

impl Trust {
    /// The trust root in use.
    pub fn root(&self) -> &TrustRoot {
        match self {
            Self::Key { root, .. } | Self::Keyless { root, .. } => root,
        }
    }
}

/// The verified identity from a Fulcio certificate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CertificateIdentity {
    /// The SAN (URI or email).
    pub san: String,
    /// The OIDC issuer (Fulcio extension 1.3.6.1.4.1.57264.1.8, or legacy .1.1).
    pub issuer: String,
    /// The Fulcio CI claims present in the certificate, by name (e.g.
    /// `github_workflow_repository`, `source_repository_ref`).
    pub claims: Vec<(&'static str, String)>,
}

/// Who signed, as verified.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Signer {
    /// The given key (`sha256:` of its SubjectPublicKeyInfo).
    Key(Digest),
    /// A Fulcio certificate.
    Certificate(Box<CertificateIdentity>),
}

/// Proof that a bundle verified: only [`verify`] constructs it.
#[derive(Clone, Debug)]
pub struct Verified {
    signer: Signer,
    log_index: Option<u64>,
    log_kind: Option<String>,
    integrated_time: Option<SystemTime>,
    signed_times: Vec<SystemTime>,
    sha256: Option<Digest>,
    dsse: Option<(String, Vec<u8>)>,
    media_type: &'static str,
}

impl Verified {
    /// Who signed.
    pub fn signer(&self) -> &Signer {
        &self.signer
    }

    /// The certificate identity, for keyless bundles.
    pub fn identity(&self) -> Option<&CertificateIdentity> {
        match &self.signer {
            Signer::Certificate(id) => Some(id),
            Signer::Key(_) => None,
        }
    }

    /// The transparency-log index of the (verified) entry.
    pub fn log_index(&self) -> Option<u64> {
        self.log_index
    }

    /// The entry's kind and version, e.g. `hashedrekord/0.0.1`.
    pub fn log_kind(&self) -> Option<&str> {
        self.log_kind.as_deref()
    }

    /// Rekor v1's integrated time, authenticated by its signed entry timestamp.
    pub fn integrated_time(&self) -> Option<SystemTime> {
        self.integrated_time
    }

    /// Every verified signing time (SET integrated time, RFC 3161 genTime).
    pub fn signed_times(&self) -> &[SystemTime] {
        &self.signed_times
    }

    /// The artifact's SHA-256, when tollgate hashed it or was given it.
    pub fn sha256(&self) -> Option<&Digest> {
        self.sha256.as_ref()
    }

    /// The verified DSSE payload type and payload, for DSSE bundles.
    pub fn dsse_payload(&self) -> Option<(&str, &[u8])> {
        self.dsse.as_ref().map(|(t, p)| (t.as_str(), p.as_slice()))
    }

    /// The bundle's media type.
    pub fn media_type(&self) -> &'static str {
        self.media_type
    }
}

/// Verifies `bundle` over `artifact` with `trust`, offline.
///
/// Steps, in order: the bundle material must fit the trust (a certificate for keyless, a
/// public key for key); sigstore-verify establishes the verified signing times, verifies the
/// certificate chain, SCT, log entry (inclusion proof, checkpoint, SET) and timestamps, the
/// signature and the entry's consistency; for keyless, tollgate then checks the identity
/// policy on the verified certificate.
pub fn verify(
    bundle: &SigstoreBundle,
    artifact: Artifact<'_>,
    trust: &Trust,
) -> Result<Verified, SigstoreError> {
    let b = &bundle.0;
    let material = match &b.verification_material.content {
        VerificationMaterialContent::PublicKey(_) => None,
        VerificationMaterialContent::X509CertificateChain { certificates } => {
            if certificates.is_empty() {
                return Err(SigstoreError::NoCertificate {
                    material: "an empty x509CertificateChain",
                });
            }
            no_root_in_chain(certificates)?;
            Some(())
        }
        _ => Some(()),
    };
    let result = match trust {
        Trust::Keyless { root, .. } => {
            if material.is_none() {
                return Err(SigstoreError::NoCertificate {
                    material: "a public key hint: it was signed with a self-managed key",
                });
            }
            run(root, b, artifact, &VerificationPolicy::any_identity())?
        }
        Trust::Key { key, root } => {
            if material.is_some() {
                return Err(SigstoreError::NotKeyBundle);
            }
            let policy =
                PublicKeyVerificationPolicy::new(DerPublicKey::new(key.spki_der().to_vec()));
            run(root, b, artifact, &policy)?
        }
    };
    let (result, sha256) = result;
    if !b.verification_material.tlog_entries.is_empty() && !result.tlog_verified() {
        return Err(SigstoreError::Incomplete("the transparency log entry"));
    }
    let signer = match trust {
        Trust::Key { key, .. } => Signer::Key(key.fingerprint()),
        Trust::Keyless { policy, .. } => {
            if !result.certificate_verified() || !result.sct_verified() {
                return Err(SigstoreError::Incomplete("the certificate chain or SCT"));
            }
            let cert = result
                .certificate()
                .ok_or(SigstoreError::Incomplete("the certificate"))?;
            policy.check(cert)?;
            Signer::Certificate(Box::new(CertificateIdentity {
                san: cert
                    .identity
                    .as_ref()
                    .map(|s| s.to_string())
                    .unwrap_or_default(),
                issuer: cert.issuer.clone().unwrap_or_default(),
                claims: claims(cert),
            }))
        }
    };
    let entry = b.verification_material.tlog_entries.first();
    Ok(Verified {
        signer,
        log_index: entry.map(|e| e.log_index.get()),
        log_kind: entry.map(|e| format!("{}/{}", e.kind_version.kind(), e.kind_version.version())),
        integrated_time: result.integrated_time().map(SystemTime::from),
        signed_times: result
            .verified_timestamps()
            .iter()
            .map(|t| SystemTime::from(*t))
            .collect(),
        sha256,
        dsse: match &b.content {
            SignatureContent::DsseEnvelope(env) => {
                Some((env.payload_type.clone(), env.payload.as_bytes().to_vec()))
            }
            _ => None,
        },
        media_type: bundle.media_type(),
    })
}

/// Refuses a bundle chain that carries a self-issued (root) certificate: bundles must not
/// include roots (protobuf-specs), and sigstore-verify 0.15.1 ignores the extra certificates
/// instead of refusing them. Anchors come from the trust root only.
fn no_root_in_chain(
    certificates: &[sigstore_verify::types::bundle::X509Certificate],
) -> Result<(), SigstoreError> {
    use x509_cert::der::Decode;
    for cert in certificates {
        let parsed = x509_cert::Certificate::from_der(cert.raw_bytes.as_bytes()).map_err(|e| {
            SigstoreError::Malformed {
                detail: format!("x509CertificateChain: {e}"),
            }
        })?;
        let tbs = &parsed.tbs_certificate;
        if tbs.subject == tbs.issuer {
            return Err(SigstoreError::RootInBundle {
                subject: tbs.subject.to_string(),
            });
        }
    }
    Ok(())
}

/// Runs sigstore-verify over the artifact: its SHA-256 first; the whole file only when the
/// signature scheme needs more than SHA-256 (Ed25519, SHA-384/512 digests).
fn run(
    root: &TrustRoot,
    bundle: &Bundle,
    artifact: Artifact<'_>,
    policy: &(impl sigstore_verify::Policy + ?Sized),
) -> Result<(VerificationResult, Option<Digest>), SigstoreError> {
    let (digest, path) = match artifact {
        Artifact::Sha256(d) => (*d, None),
        Artifact::File(path) => (hash_file(path, HashAlgorithm::Sha256)?, Some(path)),
    };
    if digest.algorithm() != HashAlgorithm::Sha256 {
        return Err(SigstoreError::Verify(
            sigstore_verify::Error::UnsupportedArtifact(format!(
                "{digest}: a SHA-256 digest is needed"
            )),
        ));
    }
    let hash = Sha256Hash::try_from(digest.as_bytes()).map_err(sigstore_verify::Error::from)?;
    match (root.verifier.verify(hash, bundle, policy), path) {
        (Err(sigstore_verify::Error::UnsupportedArtifact(_)), Some(path)) => {
            let bytes = read_bounded(path)?;
            let result = root.verifier.verify(bytes.as_slice(), bundle, policy)?;
            Ok((result, Some(Digest::sha256(&bytes))))
        }
        (result, _) => Ok((result?, Some(digest))),
    }
}

fn read_bounded(path: &Path) -> Result<Vec<u8>, SigstoreError> {
    use std::io::Read;
    let io = |err| SigstoreError::ArtifactIo {
        path: path.to_owned(),
        err,
    };
    let mut bytes = Vec::new();
    std::fs::File::open(path)
        .map_err(io)?
        .take(MAX_IN_MEMORY_ARTIFACT + 1)
        .read_to_end(&mut bytes)
        .map_err(io)?;
    if bytes.len() as u64 > MAX_IN_MEMORY_ARTIFACT {
        return Err(SigstoreError::Verify(
            sigstore_verify::Error::UnsupportedArtifact(format!(
                "{}: this signature scheme needs the whole file in memory, at most {MAX_IN_MEMORY_ARTIFACT} bytes",
                path.display()
            )),
        ));
    }
    Ok(bytes)
}

/// The Fulcio CI claims present in a certificate, by name.
fn claims(cert: &sigstore_verify::crypto::CertificateInfo) -> Vec<(&'static str, String)> {
    let c = &cert.ci_claims;
    let g = &c.deprecated_github;
    [
        ("github_workflow_trigger", &g.workflow_trigger),
        ("github_workflow_sha", &g.workflow_sha),
        ("github_workflow_name", &g.workflow_name),
        ("github_workflow_repository", &g.workflow_repository),
        ("github_workflow_ref", &g.workflow_ref),
        ("build_signer_uri", &c.build_signer_uri),
        ("build_signer_digest", &c.build_signer_digest),
        ("runner_environment", &c.runner_environment),
        ("source_repository_uri", &c.source_repository_uri),
        ("source_repository_digest", &c.source_repository_digest),
        ("source_repository_ref", &c.source_repository_ref),
        (
            "source_repository_identifier",
            &c.source_repository_identifier,
        ),
        (
            "source_repository_owner_uri",
            &c.source_repository_owner_uri,
        ),
        ("build_config_uri", &c.build_config_uri),
        ("build_config_digest", &c.build_config_digest),
        ("build_trigger", &c.build_trigger),
        ("run_invocation_uri", &c.run_invocation_uri),
    ]
    .into_iter()
    .filter_map(|(name, value)| value.clone().map(|v| (name, v)))
    .collect()
}
