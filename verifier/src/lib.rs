//! tollgate's verification library: digests, model manifests and format checks.
//!
//! Everything tollgate decides starts from digests of what is on disk. This crate turns a model
//! directory into an OpenSSF model signing v1.0 manifest ([`manifest`]) by walking it under
//! explicit rules ([`walk`]) and hashing files and shards in parallel ([`digest::engine`]). It
//! also checks weight files for format violations before anyone loads them ([`safetensors`],
//! [`gguf`]).
//!
//! ```no_run
//! use tollgate_verifier::manifest::{HashConfig, hash_model};
//! use tollgate_verifier::walk::WalkOptions;
//! use tollgate_verifier::digest::engine::NoProgress;
//!
//! let manifest = hash_model(
//!     std::path::Path::new("my-model"),
//!     &WalkOptions::default(),
//!     &HashConfig::default(),
//!     &NoProgress,
//! )?;
//! println!("{}", manifest.root_digest());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![deny(unsafe_code)]
#![deny(missing_docs)]

pub mod bundle;
pub mod cosign;
pub mod digest;
pub mod dsse;
pub mod gguf;
pub mod inspect;
pub mod intoto;
pub mod keys;
pub mod manifest;
pub mod model;
pub mod notation;
pub mod oci;
pub mod safetensors;
pub mod sigstore;
pub mod walk;
pub mod x509;

#[cfg(test)]
mod test_util;
