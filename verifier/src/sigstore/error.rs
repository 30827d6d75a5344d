//! Why a Sigstore bundle was not verified: [`SigstoreError`], and the stable [`ErrorKind`]
//! callers and tests match on.
//!
//! Errors from sigstore-verify keep their own categories (certificate, transparency log,
//! timestamp, ...); [`SigstoreError::kind`] folds them and tollgate's own policy errors into one
//! flat list, so a test can assert *which* check rejected a bundle, not only that one did.

use std::path::PathBuf;

use crate::digest::engine::HashError;

/// Which check rejected a bundle (or why none could run).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The bundle is not a well-formed Sigstore bundle (bad JSON, base64, negative log index,
    /// missing inclusion proof or checkpoint field, unknown media type).
    Malformed,
    /// Keyless verification was asked for but the bundle carries no signing certificate
    /// (a self-managed key bundle, or an empty certificate chain).
    NoCertificate,
    /// A key was given but the bundle carries a certificate.
    NotKeyBundle,
    /// The signing certificate does not chain to a Fulcio CA of the trust root.
    CertificateChain,
    /// The signing certificate (or its CA) was not valid at the verified signing time.
    CertificateValidity,
    /// The certificate's signed certificate timestamp does not verify with a trusted CT log.
    Sct,
    /// The log entry names a transparency log that is not in the trust root.
    UnknownLog,
    /// The Merkle inclusion proof does not lead to the checkpoint's root hash.
    InclusionProof,
    /// The checkpoint is malformed or not signed by the trusted log.
    Checkpoint,
    /// The signed entry timestamp (Rekor v1 inclusion promise) does not verify.
    InclusionPromise,
    /// The log's integrated time is outside the certificate's validity.
    IntegratedTime,
    /// The log entry describes another artifact, signature or key.
    LogEntryMismatch,
    /// An RFC 3161 timestamp does not verify with a trusted TSA.
    Timestamp,
    /// An RFC 3161 timestamp lies outside its TSA's validity in the trust root.
    TimestampAuthorityValidity,
    /// No verified signing time (no verified SET, no verified RFC 3161 timestamp).
    NoVerifiedTime,
    /// The signature does not verify over the artifact or DSSE envelope.
    Signature,
    /// The bundle is for another artifact (message digest or in-toto subject).
    ArtifactMismatch,
    /// The certificate identity (SAN) is not the expected one.
    Identity,
    /// The certificate's OIDC issuer is not the expected one.
    Issuer,
    /// A GitHub workflow claim of the certificate is not the expected one.
    GithubClaim,
    /// The bundle uses something this version cannot verify.
    Unsupported,
    /// The trust root is unreadable or invalid (no answer: exit 2).
    TrustRoot,
    /// The artifact could not be read (no answer: exit 2).
    Io,
}

impl ErrorKind {
    /// What failed, for people (the start of the message of an upstream error).
    pub fn describe(self) -> &'static str {
        match self {
            Self::Malformed => "malformed bundle",
            Self::NoCertificate => "no signing certificate",
            Self::NotKeyBundle => "not a key-signed bundle",
            Self::CertificateChain => {
                "the signing certificate does not chain to a trusted Fulcio CA"
            }
            Self::CertificateValidity => {
                "the signing certificate was not valid at the signing time"
            }
            Self::Sct => "the certificate's SCT does not verify with a trusted CT log",
            Self::UnknownLog => "the transparency log is not in the trusted root",
            Self::InclusionProof => "the transparency-log inclusion proof does not verify",
            Self::Checkpoint => "the transparency-log checkpoint does not verify",
            Self::InclusionPromise => "the transparency-log signed entry timestamp does not verify",
            Self::IntegratedTime => {
                "the transparency-log time is outside the certificate's validity"
            }
            Self::LogEntryMismatch => {
                "the transparency-log entry is not for this artifact, signature or key"
            }
            Self::Timestamp => "an RFC 3161 timestamp does not verify with a trusted TSA",
            Self::TimestampAuthorityValidity => {
                "an RFC 3161 timestamp is outside its TSA's validity in the trusted root"
            }
            Self::NoVerifiedTime => "no verified signing time (transparency log or timestamp)",
            Self::Signature => "the signature does not verify",
            Self::ArtifactMismatch => "the bundle is for another artifact",
            Self::Identity => "wrong certificate identity",
            Self::Issuer => "wrong certificate OIDC issuer",
            Self::GithubClaim => "wrong GitHub workflow claim",
            Self::Unsupported => "unsupported bundle",
            Self::TrustRoot => "unusable trusted root",
            Self::Io => "unreadable artifact",
        }
    }
}

/// Why a Sigstore bundle was not verified.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SigstoreError {
    /// The bundle does not parse.
    #[error("not a valid Sigstore bundle: {detail}")]
    Malformed {
        /// What is wrong.
        detail: String,
    },
    /// The bundle's checkpoint (signed tree head) does not parse: no root hash, no signature.
    #[error("the bundle's checkpoint is malformed: {detail}")]
    MalformedCheckpoint {
        /// What is wrong.
        detail: String,
    },
    /// Keyless verification of a bundle without a certificate.
    #[error(
        "the bundle has no signing certificate ({material}); a keyless identity cannot be verified — verify it with --key if it was signed with a key"
    )]
    NoCertificate {
        /// What the bundle carries instead.
        material: &'static str,
    },
    /// The bundle's certificate chain carries a root certificate.
    #[error(
        "the bundle's certificate chain includes a root certificate ({subject}); roots come only from the trusted root, never from a bundle"
    )]
    RootInBundle {
        /// The root's subject.
        subject: String,
    },
    /// Key verification of a certificate bundle.
    #[error(
        "the bundle is signed with a certificate (keyless), not a key: verify it with --certificate-identity and --certificate-oidc-issuer"
    )]
    NotKeyBundle,
    /// The certificate SAN does not match the policy.
    #[error("certificate identity {actual} does not match the expected identity {expected}")]
    Identity {
        /// The policy, e.g. `https://…` or `matching /…/`.
        expected: String,
        /// The certificate's SAN (`none` when absent).
        actual: String,
    },
    /// The certificate's OIDC issuer does not match the policy.
    #[error("certificate OIDC issuer {actual} does not match the expected issuer {expected}")]
    Issuer {
        /// The policy.
        expected: String,
        /// The certificate's issuer (`none` when absent).
        actual: String,
    },
    /// A GitHub workflow claim does not match.
    #[error("certificate GitHub workflow {claim} ({oid}) is {actual}, expected {expected}")]
    GithubClaim {
        /// The claim (`trigger`, `sha`, `name`, `repository`, `ref`).
        claim: &'static str,
        /// Its Fulcio extension OID.
        oid: &'static str,
        /// The expected value.
        expected: String,
        /// The certificate's value (`absent` when missing).
        actual: String,
    },
    /// sigstore-verify reported success without verifying the certificate or the log: a
    /// guard against a relaxed upstream policy; never expected.
    #[error("incomplete verification: {0} was not verified")]
    Incomplete(&'static str),
    /// sigstore-verify rejected the bundle. Its message is printed, not chained as a
    /// `source()`: some upstream variants already repeat their cause in their message.
    #[error("{what}: {0}", what = upstream_kind(.0).describe())]
    Verify(sigstore_verify::Error),
    /// The trust root cannot be used.
    #[error("{source_name}: cannot use this Sigstore trusted root: {detail}")]
    TrustRoot {
        /// Where it came from (a path, `embedded production root`).
        source_name: String,
        /// What is wrong.
        detail: String,
    },
    /// Reading the trust root file failed.
    #[error("{}: cannot read trusted root: {err}", path.display())]
    TrustRootIo {
        /// The file.
        path: PathBuf,
        /// What the OS said.
        err: std::io::Error,
    },
    /// Hashing the artifact failed.
    #[error(transparent)]
    Hash(#[from] HashError),
    /// Reading the artifact failed.
    #[error("{}: cannot read: {err}", path.display())]
    ArtifactIo {
        /// The artifact.
        path: PathBuf,
        /// What the OS said.
        err: std::io::Error,
    },
}

impl From<sigstore_verify::Error> for SigstoreError {
    fn from(err: sigstore_verify::Error) -> Self {
        Self::Verify(err)
    }
}

impl SigstoreError {
    /// Which check failed.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Self::Malformed { .. } => ErrorKind::Malformed,
            Self::MalformedCheckpoint { .. } => ErrorKind::Checkpoint,
            Self::NoCertificate { .. } => ErrorKind::NoCertificate,
            Self::NotKeyBundle => ErrorKind::NotKeyBundle,
            Self::RootInBundle { .. } => ErrorKind::CertificateChain,
            Self::Identity { .. } => ErrorKind::Identity,
            Self::Issuer { .. } => ErrorKind::Issuer,
            Self::GithubClaim { .. } => ErrorKind::GithubClaim,
            Self::Incomplete(_) => ErrorKind::Unsupported,
            Self::Verify(err) => upstream_kind(err),
            Self::TrustRoot { .. } | Self::TrustRootIo { .. } => ErrorKind::TrustRoot,
            Self::Hash(_) | Self::ArtifactIo { .. } => ErrorKind::Io,
        }
    }

    /// Whether this is the answer "not verified" (exit 1) rather than "could not answer"
    /// (unreadable artifact or trust root: exit 2).
    pub fn is_rejection(&self) -> bool {
        !matches!(self.kind(), ErrorKind::TrustRoot | ErrorKind::Io)
    }
}

/// Folds sigstore-verify's categories into [`ErrorKind`].
///
/// Three upstream variants cover more than one check; their detail (pinned by the `=0.15.1`
/// requirement and by the conformance unit tests) tells them apart: webpki's `CertExpired` /
/// `CertNotValidYet` inside `ChainInvalid` is a validity failure at the signing time, and an
/// `ArtifactMismatch` naming the log entry is the entry-consistency check. An entry body that
/// cannot be read as this bundle's entry (`MalformedEntry`) does not describe the bundle.
fn upstream_kind(err: &sigstore_verify::Error) -> ErrorKind {
    use sigstore_verify::TransparencyLogError as L;
    use sigstore_verify::{CertificateError as C, Error as E, TimestampError as T};
    match err {
        E::IdentityMismatch { .. } => ErrorKind::Identity,
        E::IssuerMismatch { .. } => ErrorKind::Issuer,
        E::SignatureInvalid(_) => ErrorKind::Signature,
        E::ArtifactMismatch(detail) if detail.contains("entry") => ErrorKind::LogEntryMismatch,
        E::ArtifactMismatch(_) => ErrorKind::ArtifactMismatch,
        E::Certificate(c) => match c {
            C::Malformed(_) => ErrorKind::Malformed,
            C::ChainInvalid(detail)
                if detail.contains("CertExpired") || detail.contains("CertNotValidYet") =>
            {
                ErrorKind::CertificateValidity
            }
            C::ChainInvalid(_) => ErrorKind::CertificateChain,
            C::Sct(_) => ErrorKind::Sct,
            _ => ErrorKind::CertificateValidity,
        },
        E::TransparencyLog(l) => match l {
            L::UnknownLog { .. } => ErrorKind::UnknownLog,
            L::InclusionProof(_) => ErrorKind::InclusionProof,
            L::Checkpoint(_) => ErrorKind::Checkpoint,
            L::InclusionPromise(_) => ErrorKind::InclusionPromise,
            L::EntryMismatch(_) | L::MalformedEntry(_) => ErrorKind::LogEntryMismatch,
            L::IntegratedTime(_) => ErrorKind::IntegratedTime,
            _ => ErrorKind::Malformed,
        },
        E::Timestamp(t) => match t {
            T::OutsideAuthorityValidity { .. } => ErrorKind::TimestampAuthorityValidity,
            T::NoVerifiedTimestamp(_) => ErrorKind::NoVerifiedTime,
            _ => ErrorKind::Timestamp,
        },
        E::UnsupportedArtifact(_) | E::UnsupportedBundle(_) => ErrorKind::Unsupported,
        E::InvalidTrustRoot(_) | E::TrustRoot(_) | E::TrustedCertificate(_) => ErrorKind::TrustRoot,
        E::ArtifactRead(_) => ErrorKind::Io,
        _ => ErrorKind::Malformed,
    }
}
