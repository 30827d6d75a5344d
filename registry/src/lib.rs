//! tollgate's OCI distribution registry client: resolve a tag to a digest, read and write
//! manifests and blobs with every digest checked against the bytes, list tags, and list or attach
//! referrers (the OCI 1.1 referrers API, or the `sha256-<hex>` tag-schema index on registries
//! without it, such as distribution 2.8).
//!
//! Built on [`oci_client`] (blob upload/download, tags) and its `reqwest` stack (manifests and
//! referrer indexes are read directly so that no body larger than
//! [`MAX_MANIFEST_SIZE`](tollgate_verifier::oci::MAX_MANIFEST_SIZE) is ever buffered). Manifests are
//! parsed by [`tollgate_verifier::oci`], never by oci-client's looser types.
//!
//! Scope of this release: anonymous access only (HTTP basic, bearer tokens and docker
//! `config.json` credentials come later); references must name their registry host (no implicit
//! `docker.io`); plain HTTP is used only when asked for and only to loopback registries unless
//! [`Options::insecure`] is set.
//!
//! ```no_run
//! use tollgate_registry::{BlockingClient, Options, Reference};
//!
//! let client = BlockingClient::new(Options::plain_http())?;
//! let reference: Reference = "127.0.0.1:5000/models/llama:v1".parse()?;
//! let manifest = client.get_manifest(&reference)?;
//! println!("{} is {}", reference, manifest.digest);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod blocking;
mod client;
mod error;
mod reference;
mod upload;

pub use blocking::BlockingClient;
pub use client::{Client, Document, Manifest, Options, ReferrerSource, Referrers};
pub use error::Error;
pub use reference::{Reference, ReferenceError};
/// The digest and media type types of the API, from [`tollgate_verifier`].
pub use tollgate_verifier::{digest::Digest, oci::MediaType};

#[cfg(test)]
mod tests;
