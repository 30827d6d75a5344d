//! Image archives: an OCI layout in a tar file (`oci-archive:FILE[:TAG]`) and `docker save`
//! tar files (`docker-archive:FILE[:REF]`), the names skopeo gives these transports.
//!
//! This module owns the two references and re-exports the pieces: [`tar`] indexes the tar
//! file from its headers (nothing is extracted; see there for what is refused), an OCI archive
//! is then verified by [`Layout::open_archive`](super::layout::Layout::open_archive) with the
//! rules of an image layout directory, and [`docker`] reads `manifest.json` and checks each
//! image's config against its image ID and each layer against the config's
//! `rootfs.diff_ids`. Every blob is hashed in place, as a byte range of the tar file, in
//! parallel on the current rayon pool.
//!
//! Compressed archives (`docker save | gzip`) are refused with a "decompress it first"
//! message: a member of a compressed stream is not a byte range of the file, so it could only
//! be hashed after decompressing everything before it, one thread at a time, or extracted to
//! temporary space, which is what tollgate promises not to do.
//!
//! ```no_run
//! use std::sync::Arc;
//! use tollgate_verifier::digest::engine::NoProgress;
//! use tollgate_verifier::oci::archive::Archive;
//! use tollgate_verifier::oci::layout::Layout;
//!
//! let archive = Arc::new(Archive::open(std::path::Path::new("image.tar"))?);
//! let layout = Layout::open_archive(archive)?;
//! let verification = layout.graph(Some("v1"))?.verify(&NoProgress)?;
//! assert!(verification.is_verified());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod docker;
pub mod tar;

#[cfg(test)]
mod tests;

use std::fmt;
use std::path::{Path, PathBuf};

pub use docker::{DockerArchive, DockerError};
pub use tar::{Archive, ArchiveError, Member, MemberKind};

/// Why an archive reference cannot be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "{0:?} is not an archive reference; expected oci-archive:FILE[:TAG] or docker-archive:FILE[:NAME:TAG|:@INDEX]"
)]
pub struct ReferenceError(String);

/// Which image in a `docker save` archive.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DockerSelector {
    /// The item whose `RepoTags` has this reference (compared after docker's normalization:
    /// `name:tag` is `docker.io/library/name:tag`).
    Tag(String),
    /// The N-th item of `manifest.json` (skopeo's `@N`), counting from 0.
    Index(usize),
}

/// `oci-archive:FILE[:TAG]` or `docker-archive:FILE[:REF]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ArchiveReference {
    /// An OCI layout in a tar file; the tag is an `org.opencontainers.image.ref.name`.
    Oci {
        /// The tar file.
        path: PathBuf,
        /// The tag, if one was given.
        tag: Option<String>,
    },
    /// A `docker save` archive.
    Docker {
        /// The tar file.
        path: PathBuf,
        /// The image, if one was named.
        image: Option<DockerSelector>,
    },
}

impl ArchiveReference {
    /// Whether `spec` names an archive transport (so it should be parsed here).
    pub fn is_archive(spec: &str) -> bool {
        spec.starts_with("oci-archive:") || spec.starts_with("docker-archive:")
    }

    /// Parses a reference.
    ///
    /// `oci-archive:` splits like `oci:`: the tag is what follows the last `:` if that text
    /// holds no `/` (a trailing `:` means no tag). `docker-archive:` splits at the first `:`
    /// after the file, as skopeo does, because the image reference itself contains `:` and
    /// `/`; a file name with `:` is therefore not expressible there.
    pub fn parse(spec: &str) -> Result<Self, ReferenceError> {
        let bad = || ReferenceError(spec.chars().take(256).collect());
        if let Some(rest) = spec.strip_prefix("oci-archive:") {
            let (path, tag) = match rest.rsplit_once(':') {
                Some((path, "")) => (path, None),
                Some((path, tag)) if !tag.contains('/') => (path, Some(tag)),
                _ => (rest, None),
            };
            if path.is_empty() || tag.is_some_and(|t| t.chars().any(char::is_control)) {
                return Err(bad());
            }
            return Ok(Self::Oci {
                path: PathBuf::from(path),
                tag: tag.map(str::to_owned),
            });
        }
        let rest = spec.strip_prefix("docker-archive:").ok_or_else(bad)?;
        let (path, image) = match rest.split_once(':') {
            None | Some((_, "")) => (rest.trim_end_matches(':'), None),
            Some((path, image)) => (path, Some(image)),
        };
        if path.is_empty() {
            return Err(bad());
        }
        let image = match image {
            None => None,
            Some(index) if index.starts_with('@') => Some(DockerSelector::Index(
                index[1..]
                    .parse()
                    .ok()
                    .filter(|_| index[1..].bytes().all(|b| b.is_ascii_digit()))
                    .ok_or_else(bad)?,
            )),
            Some(name) => {
                if name.chars().any(|c| c.is_control() || c.is_whitespace()) {
                    return Err(bad());
                }
                Some(DockerSelector::Tag(name.to_owned()))
            }
        };
        Ok(Self::Docker {
            path: PathBuf::from(path),
            image,
        })
    }

    /// The tar file.
    pub fn path(&self) -> &Path {
        match self {
            Self::Oci { path, .. } | Self::Docker { path, .. } => path,
        }
    }
}

impl fmt::Display for ArchiveReference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Oci { path, tag } => {
                write!(f, "oci-archive:{}", path.display())?;
                if let Some(tag) = tag {
                    write!(f, ":{tag}")?;
                }
            }
            Self::Docker { path, image } => {
                write!(f, "docker-archive:{}", path.display())?;
                match image {
                    Some(DockerSelector::Tag(t)) => write!(f, ":{t}")?,
                    Some(DockerSelector::Index(i)) => write!(f, ":@{i}")?,
                    None => {}
                }
            }
        }
        Ok(())
    }
}

/// Docker's normalization of an image reference for comparing `RepoTags`: a name without a
/// registry host is on `docker.io`, a one-component `docker.io` name is under `library/`, and
/// a reference without a tag means `:latest` (distribution/reference `ParseNormalizedNamed` +
/// `TagNameOnly`). A digest reference is kept as given.
pub fn normalize_docker_reference(reference: &str) -> String {
    let (name, suffix) = if let Some((name, digest)) = reference.split_once('@') {
        (name, format!("@{digest}"))
    } else {
        // A `:` after the last `/` starts the tag; one before it is a host's port.
        match reference.rfind(':') {
            Some(i) if !reference[i..].contains('/') => {
                (&reference[..i], reference[i..].to_owned())
            }
            _ => (reference, ":latest".to_owned()),
        }
    };
    let (host, path) = match name.split_once('/') {
        Some((first, rest))
            if first.contains('.') || first.contains(':') || first == "localhost" =>
        {
            (first, rest.to_owned())
        }
        _ => ("docker.io", name.to_owned()),
    };
    let host = if host == "index.docker.io" {
        "docker.io"
    } else {
        host
    };
    let path = if host == "docker.io" && !path.contains('/') {
        format!("library/{path}")
    } else {
        path
    };
    format!("{host}/{path}{suffix}")
}
