//! OCI images and artifacts on disk: descriptors, manifests, indexes and image layout
//! directories, checked blob by blob.
//!
//! This module owns tollgate's reading of the OCI image spec: [`descriptor`] (media types,
//! digests, sizes), [`manifest`] (image manifests and indexes, OCI and Docker v2 schema 2,
//! parsed strictly with a 4 MiB bound) and [`layout`] (an `oci:DIR[:TAG]` image layout: resolve
//! a tag, walk index → manifests → config and layers, and verify every reachable blob's size
//! and digest in parallel with [`crate::digest::engine`]).
//!
//! ```no_run
//! use tollgate_verifier::digest::engine::NoProgress;
//! use tollgate_verifier::oci::layout::Layout;
//!
//! let layout = Layout::open(std::path::Path::new("image-dir"))?;
//! let graph = layout.graph(Some("v1"))?;
//! let verification = graph.verify(&NoProgress)?;
//! for problem in verification.problems() {
//!     eprintln!("{problem}");
//! }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod archive;
pub mod descriptor;
pub mod layout;
pub mod manifest;

pub use descriptor::{Descriptor, DescriptorError, MediaType, Platform};
pub use layout::{Layout, LayoutError, Reference};
pub use manifest::{ImageIndex, ImageManifest, MAX_MANIFEST_SIZE, ManifestError};

/// The annotation that names a manifest in an image layout's `index.json` (its tag).
pub const REF_NAME_ANNOTATION: &str = "org.opencontainers.image.ref.name";

#[cfg(test)]
mod tests;
