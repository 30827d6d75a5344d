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
//! Authentication (see `docs/registry.md`): anonymous, HTTP basic, and the distribution
//! bearer-token flow, for every request (the client's own and oci-client's), with
//! [`Credentials`] given explicitly or read from docker's `config.json` (`auths`, `credHelpers`,
//! `credsStore`, identity tokens). Idempotent requests are retried on connection errors, 429 and
//! 5xx with exponential backoff and jitter ([`RetryPolicy`]). [`Client::resolve_platform`] picks
//! one manifest of a multi-platform index ([`select_platform`]). References must name their
//! registry host (no implicit `docker.io`); plain HTTP is used only when asked for and only to
//! loopback registries unless [`Options::insecure`] is set, and credentials never go over plain
//! HTTP to a host that is not loopback.
//!
//! ```no_run
//! use tollgate_registry::{BlockingClient, Options, Reference};
//!
//! let mut options = Options::plain_http();
//! options.credentials = tollgate_registry::Credentials::from_docker_env()?;
//! let client = BlockingClient::new(options)?;
//! let reference: Reference = "127.0.0.1:5000/models/llama:v1".parse()?;
//! let manifest = client.get_manifest(&reference)?;
//! println!("{} is {}", reference, manifest.digest);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod auth;
mod blocking;
mod client;
mod credentials;
mod error;
mod platform;
mod reference;
mod retry;
mod send;
mod upload;

pub use blocking::BlockingClient;
pub use client::{Client, Document, Manifest, Options, ReferrerSource, Referrers};
pub use credentials::{Credential, Credentials, Secret};
pub use error::Error;
pub use platform::{PlatformError, parse_platform, select_platform};
pub use reference::{Reference, ReferenceError};
pub use retry::RetryPolicy;
/// The platform type of the API, from [`tollgate_verifier`].
pub use tollgate_verifier::oci::Platform;
/// The digest and media type types of the API, from [`tollgate_verifier`].
pub use tollgate_verifier::{digest::Digest, oci::MediaType};

#[cfg(test)]
mod tests;
