//! Sigstore trust roots (`trusted_root.json`): the Fulcio CAs, Rekor logs, CT logs and TSAs a
//! bundle is verified against, loaded once into a sigstore-verify `Verifier`.
//!
//! Offline by design: the public-good production and staging roots are embedded in the binary
//! (sigstore-trust-root 0.15.1's copies, identical to sigstore-python 4.5.1's), and
//! [`TrustRoot::from_file`] reads a pinned file. A file that fails to load is an error, never a
//! reason to fall back to an embedded root. [`TrustRoot::refresh_from_tuf`] is the one opt-in
//! network path: the current root from Sigstore's TUF repository, verified from the TUF root
//! embedded in sigstore-trust-root; it fails rather than falling back.

use std::fmt;
use std::io::Read;
use std::path::{Path, PathBuf};

use sigstore_verify::trust_root::{
    SIGSTORE_PRODUCTION_TRUSTED_ROOT, SIGSTORE_STAGING_TRUSTED_ROOT, TrustedRoot,
};

use super::SigstoreError;

/// The largest `trusted_root.json` read (4 MiB; the public-good root is 7 KB).
pub const MAX_TRUST_ROOT_BYTES: u64 = 4 << 20;

/// Where a trust root came from.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum TrustRootSource {
    /// The embedded Sigstore public-good production root.
    Production,
    /// The embedded Sigstore public-good staging root.
    Staging,
    /// A `trusted_root.json` file.
    File(PathBuf),
    /// Fetched and verified through TUF just now (`staging`: the staging repository).
    Tuf {
        /// Whether the staging repository was used.
        staging: bool,
    },
}

impl fmt::Display for TrustRootSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Production => f.write_str("embedded public-good production root"),
            Self::Staging => f.write_str("embedded public-good staging root"),
            Self::File(path) => write!(f, "{}", path.display()),
            Self::Tuf { staging: false } => {
                f.write_str("production root refreshed via TUF (tuf-repo-cdn.sigstore.dev)")
            }
            Self::Tuf { staging: true } => {
                f.write_str("staging root refreshed via TUF (tuf-repo-cdn.sigstage.dev)")
            }
        }
    }
}

/// A parsed, validated trust root, ready to verify bundles.
pub struct TrustRoot {
    pub(super) verifier: sigstore_verify::Verifier,
    source: TrustRootSource,
}

impl fmt::Debug for TrustRoot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TrustRoot")
            .field("source", &self.source)
            .finish_non_exhaustive()
    }
}

impl TrustRoot {
    /// The embedded public-good production root.
    pub fn production() -> Result<Self, SigstoreError> {
        Self::from_json(
            SIGSTORE_PRODUCTION_TRUSTED_ROOT,
            TrustRootSource::Production,
        )
    }

    /// The embedded public-good staging root.
    pub fn staging() -> Result<Self, SigstoreError> {
        Self::from_json(SIGSTORE_STAGING_TRUSTED_ROOT, TrustRootSource::Staging)
    }

    /// A `trusted_root.json` file (at most [`MAX_TRUST_ROOT_BYTES`]).
    pub fn from_file(path: &Path) -> Result<Self, SigstoreError> {
        let io = |err| SigstoreError::TrustRootIo {
            path: path.to_owned(),
            err,
        };
        let file = std::fs::File::open(path).map_err(io)?;
        let mut text = String::new();
        file.take(MAX_TRUST_ROOT_BYTES + 1)
            .read_to_string(&mut text)
            .map_err(io)?;
        let source = TrustRootSource::File(path.to_owned());
        if text.len() as u64 > MAX_TRUST_ROOT_BYTES {
            return Err(SigstoreError::TrustRoot {
                source_name: source.to_string(),
                detail: format!("larger than {MAX_TRUST_ROOT_BYTES} bytes"),
            });
        }
        Self::from_json(&text, source)
    }

    /// The current public-good root (production, or staging), fetched from Sigstore's TUF
    /// repository and verified from the embedded TUF root; the TUF cache is the
    /// sigstore-rust default (under the user's cache directory). Needs the network; fails
    /// rather than falling back to the embedded root.
    pub fn refresh_from_tuf(staging: bool) -> Result<Self, SigstoreError> {
        use sigstore_verify::trust_root::SigstoreInstance;
        let source = TrustRootSource::Tuf { staging };
        let invalid = |detail: String| SigstoreError::TrustRoot {
            source_name: source.to_string(),
            detail,
        };
        let instance = if staging {
            SigstoreInstance::Staging
        } else {
            SigstoreInstance::PublicGood
        };
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| invalid(format!("cannot start the TUF client: {e}")))?;
        let root = runtime
            .block_on(TrustedRoot::from_tuf(instance.tuf_config()))
            .map_err(|e| invalid(e.to_string()))?;
        let verifier = sigstore_verify::Verifier::new(&root).map_err(|e| invalid(e.to_string()))?;
        Ok(Self { verifier, source })
    }

    /// A trust root from its JSON text; `source` names it in messages.
    pub fn from_json(json: &str, source: TrustRootSource) -> Result<Self, SigstoreError> {
        let invalid = |detail: String| SigstoreError::TrustRoot {
            source_name: source.to_string(),
            detail,
        };
        // sigstore-trust-root defaults every missing field: any JSON object would load as an
        // empty root. Insist on the media type and on some trust material.
        let value: serde_json::Value =
            serde_json::from_str(json).map_err(|e| invalid(e.to_string()))?;
        let media_type = value
            .get("mediaType")
            .and_then(|m| m.as_str())
            .unwrap_or("");
        if !media_type.starts_with("application/vnd.dev.sigstore.trustedroot") {
            return Err(invalid(format!(
                "mediaType {media_type:?} is not application/vnd.dev.sigstore.trustedroot…; not a trusted_root.json"
            )));
        }
        let root = TrustedRoot::from_json(json).map_err(|e| invalid(e.to_string()))?;
        if root.tlogs.is_empty()
            && root.certificate_authorities.is_empty()
            && root.timestamp_authorities.is_empty()
        {
            return Err(invalid(
                "no transparency logs, certificate authorities or timestamp authorities".into(),
            ));
        }
        let verifier = sigstore_verify::Verifier::new(&root).map_err(|e| invalid(e.to_string()))?;
        Ok(Self { verifier, source })
    }

    /// Where this root came from.
    pub fn source(&self) -> &TrustRootSource {
        &self.source
    }
}
