//! The one error type of [`crate::notation`]: what failed, where, and what to do.

use std::path::PathBuf;

/// Why a Notation envelope, trust store, trust policy or signing request was refused.
///
/// Verification itself does not stop at these: [`super::verify::Verifier::verify`] records them
/// as the result of the check they belong to.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NotationError {
    /// An input is over its size limit.
    #[error("{what} is {size} bytes, over the {max}-byte limit")]
    TooLarge {
        /// What was too large.
        what: String,
        /// Its size.
        size: usize,
        /// The limit.
        max: usize,
    },
    /// The envelope cannot be read: bad JSON/CBOR, bad base64url, a missing or malformed header.
    #[error("{format} envelope is malformed: {detail}")]
    Malformed {
        /// `JWS` or `COSE`.
        format: &'static str,
        /// What is wrong.
        detail: String,
    },
    /// The signed headers break a Notary rule (crit, signing scheme, times, algorithm).
    #[error("{format} envelope: {detail}")]
    Header {
        /// `JWS` or `COSE`.
        format: &'static str,
        /// The rule broken.
        detail: String,
    },
    /// The signature does not verify with the signing certificate's key.
    #[error(
        "the envelope signature does not verify with the key of signing certificate {subject}: \
         the payload or protected header was altered, or another key signed it"
    )]
    BadSignature {
        /// Subject of `x5c[0]`.
        subject: String,
    },
    /// A critical attribute names a verification plugin, which tollgate does not run.
    #[error(
        "the signature requires verification plugin {plugin:?}{}; tollgate does not run \
         Notation plugins, so this signature cannot be verified",
        min_version.as_ref().map(|v| format!(" (version >= {v})")).unwrap_or_default()
    )]
    PluginRequired {
        /// `io.cncf.notary.verificationPlugin`.
        plugin: String,
        /// `io.cncf.notary.verificationPluginMinVersion`.
        min_version: Option<String>,
    },
    /// The certificate chain breaks a Notary X.509 rule.
    #[error("certificate chain: {detail}")]
    Chain {
        /// The rule and the certificate at fault.
        detail: String,
    },
    /// A certificate cannot be parsed.
    #[error(transparent)]
    X509(#[from] crate::x509::X509Error),
    /// The timestamp countersignature is missing or invalid.
    #[error("timestamp countersignature: {detail}")]
    Timestamp {
        /// What failed.
        detail: String,
    },
    /// A trust store is missing or holds something it must not.
    #[error("trust store {store}: {detail}")]
    TrustStore {
        /// `type:name` or a path.
        store: String,
        /// What is wrong and what to do.
        detail: String,
    },
    /// The trust policy document is invalid.
    #[error("trust policy: {detail}")]
    Policy {
        /// Which statement / field and what is wrong.
        detail: String,
    },
    /// A CRL cannot be used.
    #[error("CRL {location}: {detail}")]
    Crl {
        /// File or issuer.
        location: String,
        /// What is wrong.
        detail: String,
    },
    /// Signing was refused (unsupported key, certificate not matching the key, ...).
    #[error("cannot sign: {detail}")]
    Sign {
        /// Why.
        detail: String,
    },
    /// A signature manifest does not follow the Notary layout.
    #[error("signature manifest: {detail}")]
    Manifest {
        /// What is wrong.
        detail: String,
    },
    /// A file could not be read.
    #[error("{}: {detail}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        detail: String,
    },
}

impl NotationError {
    pub(crate) fn malformed(format: &'static str, detail: impl Into<String>) -> Self {
        Self::Malformed {
            format,
            detail: detail.into(),
        }
    }

    pub(crate) fn header(format: &'static str, detail: impl Into<String>) -> Self {
        Self::Header {
            format,
            detail: detail.into(),
        }
    }

    pub(crate) fn chain(detail: impl Into<String>) -> Self {
        Self::Chain {
            detail: detail.into(),
        }
    }

    pub(crate) fn timestamp(detail: impl Into<String>) -> Self {
        Self::Timestamp {
            detail: detail.into(),
        }
    }

    pub(crate) fn policy(detail: impl Into<String>) -> Self {
        Self::Policy {
            detail: detail.into(),
        }
    }

    pub(crate) fn io(path: &std::path::Path, e: &std::io::Error) -> Self {
        Self::Io {
            path: path.to_path_buf(),
            detail: e.to_string(),
        }
    }
}
