//! Notary Project (Notation) signatures: JWS and COSE envelopes, the Notary X.509 rules, RFC 3161
//! countersignatures, CRL revocation, trust stores, trust policies and the verification levels.
//!
//! This module owns everything about a Notation signature that needs no network: reading and
//! writing the two envelope formats ([`jws`], [`cose`]) over one model of what is signed
//! ([`envelope`]), the certificate rules of the Notary specification ([`x509`]), timestamp
//! countersignatures ([`timestamp`]), revocation from local CRL files ([`revocation`]), the
//! trust store and trust policy in notation's own layout ([`truststore`], [`policy`]), the
//! verification workflow with its levels and per-check results ([`verify`]), signing
//! ([`sign`]) and the OCI signature manifest ([`manifest`]).
//!
//! Facts come from the Notary Project specifications and from what notation-go /
//! notation-core-go do; where the two differ, the module docs say which one we follow and why.
//! Every size read from input is bounded ([`MAX_ENVELOPE_SIZE`], [`MAX_PAYLOAD_SIZE`],
//! [`MAX_POLICY_SIZE`] and the X.509 limits of [`crate::x509`]), and every function that
//! depends on the clock takes the time as an argument.
//!
//! Verifying a signature of an OCI artifact, given notation's configuration directory:
//!
//! ```no_run
//! use std::time::SystemTime;
//! use tollgate_verifier::notation::{self, verify::{Artifact, Request}};
//!
//! let config = notation::truststore::default_config_dir().ok_or("no home directory")?;
//! let verifier = notation::verify::Verifier::from_config_dir(&config, notation::policy::PolicyKind::Oci)?;
//! let envelope = std::fs::read("signature.jws")?;
//! let target: notation::envelope::Descriptor = serde_json::from_str(
//!     r#"{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:...","size":1}"#,
//! )?;
//! let outcome = verifier.verify(&Request {
//!     artifact: Artifact::Oci { repository: "registry.example/app".into(), descriptor: target },
//!     envelope: &envelope,
//!     media_type: notation::MEDIA_TYPE_JWS,
//!     policy_name: None,
//!     user_metadata: Default::default(),
//!     at: SystemTime::now(),
//! });
//! println!("{}", outcome.summary());
//! if !outcome.is_success() { std::process::exit(1); }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod alg;
pub mod cose;
pub mod envelope;
mod error;
pub mod jws;
pub mod manifest;
pub mod policy;
pub mod revocation;
pub mod sign;
mod time;
pub mod timestamp;
pub mod truststore;
pub mod verify;
pub mod x509;

#[cfg(test)]
mod tests;

pub use alg::{DigestAlgorithm, SignatureAlgorithm};
pub use error::NotationError;
pub use time::{format_rfc3339, parse_rfc3339};

/// Media type of the signed payload (`cty` / COSE content type).
pub const PAYLOAD_MEDIA_TYPE: &str = "application/vnd.cncf.notary.payload.v1+json";
/// Media type of a JWS envelope (the signature manifest's layer).
pub const MEDIA_TYPE_JWS: &str = "application/jose+json";
/// Media type of a COSE_Sign1 envelope.
pub const MEDIA_TYPE_COSE: &str = "application/cose";
/// `artifactType` of a signature manifest (and `config.mediaType` of the legacy form).
pub const ARTIFACT_TYPE: &str = "application/vnd.cncf.notary.signature";
/// Largest envelope read: 4 MiB (real ones are a few KiB; notation allows 32 MiB, but a chain
/// of [`crate::x509::MAX_CHAIN_LEN`] maximal certificates and a token fit well inside 4 MiB).
pub const MAX_ENVELOPE_SIZE: usize = 4 << 20;
/// Largest signed payload: 1 MiB (a descriptor with annotations).
pub const MAX_PAYLOAD_SIZE: usize = 1 << 20;
/// Largest trust policy document: 1 MiB.
pub const MAX_POLICY_SIZE: usize = 1 << 20;
