//! `docker save` archives (`docker-archive:FILE[:REF]`): `manifest.json`, image configs and
//! layers, checked in place inside the tar file.
//!
//! The format (moby `image/tarexport`, containers/image `docker/internal/tarfile`):
//! `manifest.json` is a JSON array of items `{"Config", "RepoTags", "Layers"}` naming members.
//! The config is the image configuration; its SHA-256 is the image ID, and writers name it
//! after that ID (`<hex>.json` before docker 25 and in skopeo's archives, `blobs/sha256/<hex>`
//! from docker 25, `sha256:<hex>` in go-containerregistry's). Layers are uncompressed layer
//! tars (`<v1 id>/layer.tar` before docker 25, `<hex>.tar` in skopeo's, `blobs/sha256/<hex>`
//! from docker 25), so each layer's SHA-256 is its diff ID: the `rootfs.diff_ids` entry of the
//! config at the same position, which is what `docker load` checks.
//!
//! [`DockerArchive::verify`] checks, per image: the config member is a regular file of at
//! most 4 MiB whose SHA-256 equals the digest its name carries (if it carries one); the
//! config's `rootfs` is `layers` with as many valid diff IDs as `Layers` has entries; every
//! layer member is a regular file whose SHA-256 equals its diff ID. A layer that is a link
//! (older docker versions de-duplicate a repeated layer with a symlink) is reported as not a
//! regular file: links inside archives are never followed. If the archive also holds an OCI
//! layout (`oci-layout` + `index.json`, written by docker 25 and later), that graph is
//! verified as well; members it already verified are not hashed twice.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::sync::Arc;

use serde::Deserialize;

use super::DockerSelector;
use super::normalize_docker_reference;
use super::tar::{Archive, ArchiveError, Member};
use crate::digest::engine::{self, HashError, Progress, WorkItem};
use crate::digest::{Digest, HashAlgorithm};
use crate::oci::descriptor::parse_digest;
use crate::oci::layout::{Layout, LayoutError, ProblemKind, Role, Verification};
use crate::oci::manifest::MAX_MANIFEST_SIZE;

/// Largest image config read (containers/image's limit for config blobs).
pub const MAX_CONFIG_SIZE: u64 = 4 << 20;

/// Why a docker archive cannot be verified: there is no answer.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DockerError {
    /// The tar file cannot be read.
    #[error(transparent)]
    Archive(#[from] ArchiveError),
    /// Its OCI layout side cannot be read.
    #[error(transparent)]
    Layout(#[from] LayoutError),
    /// Hashing failed (I/O error, or the archive changed while it was hashed).
    #[error(transparent)]
    Hash(#[from] HashError),
    /// There is no `manifest.json`.
    #[error(
        "{archive}: no manifest.json member, so not a `docker save` archive (an OCI archive is read with oci-archive:FILE)"
    )]
    NoManifest {
        /// The archive.
        archive: String,
    },
    /// `manifest.json` or a config is malformed.
    #[error("{archive}/{member}: {what}")]
    Malformed {
        /// The archive.
        archive: String,
        /// The member.
        member: String,
        /// What is wrong.
        what: String,
    },
    /// No item has the tag, or the index is out of range.
    #[error("{archive}: {what} ({})", tag_list(available))]
    NotFound {
        /// The archive.
        archive: String,
        /// What was asked for.
        what: String,
        /// The tags the archive has.
        available: Vec<String>,
    },
    /// No image named and there is more than one.
    #[error(
        "{archive}: manifest.json lists {count} images; name one with docker-archive:FILE:NAME:TAG or :@INDEX ({})",
        tag_list(tags)
    )]
    Ambiguous {
        /// The archive.
        archive: String,
        /// How many items.
        count: usize,
        /// The tags it has.
        tags: Vec<String>,
    },
}

fn tag_list(tags: &[String]) -> String {
    if tags.is_empty() {
        "it has no tagged images".to_owned()
    } else {
        format!("available: {}", tags.join(", "))
    }
}

#[derive(Deserialize)]
struct RawItem {
    #[serde(rename = "Config")]
    config: String,
    #[serde(rename = "RepoTags", default)]
    repo_tags: Option<Vec<String>>,
    #[serde(rename = "Layers", default)]
    layers: Option<Vec<String>>,
}

#[derive(Deserialize)]
struct RawConfig {
    rootfs: RawRootFs,
}

#[derive(Deserialize)]
struct RawRootFs {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    diff_ids: Vec<String>,
}

/// One `manifest.json` item.
#[derive(Clone, Debug)]
struct Item {
    config: String,
    repo_tags: Vec<String>,
    layers: Vec<String>,
}

/// A `docker save` archive: the indexed tar, its `manifest.json` and, if present, its OCI
/// layout side.
#[derive(Debug)]
pub struct DockerArchive {
    archive: Arc<Archive>,
    items: Vec<Item>,
    layout: Option<Layout>,
}

impl DockerArchive {
    /// Reads `manifest.json` (at most 4 MiB) and, if there is an `oci-layout` member, the OCI
    /// layout's `index.json`.
    pub fn open(archive: Arc<Archive>) -> Result<Self, DockerError> {
        let name = archive.path().display().to_string();
        let member = archive
            .get("manifest.json")
            .ok_or_else(|| DockerError::NoManifest {
                archive: name.clone(),
            })?;
        let bytes = archive.read(member, MAX_MANIFEST_SIZE)?;
        let malformed = |what: String| DockerError::Malformed {
            archive: name.clone(),
            member: "manifest.json".into(),
            what,
        };
        let raw: Vec<RawItem> = serde_json::from_slice(&bytes)
            .map_err(|e| malformed(format!("not a docker save manifest: {e}")))?;
        if raw.is_empty() {
            return Err(malformed("lists no images".into()));
        }
        let items = raw
            .into_iter()
            .map(|r| Item {
                config: r.config,
                repo_tags: r.repo_tags.unwrap_or_default(),
                layers: r.layers.unwrap_or_default(),
            })
            .collect();
        let layout = match archive.get("oci-layout") {
            Some(_) => Some(Layout::open_archive(archive.clone())?),
            None => None,
        };
        Ok(Self {
            archive,
            items,
            layout,
        })
    }

    /// Every `RepoTags` entry, in order.
    pub fn tags(&self) -> Vec<String> {
        self.items
            .iter()
            .flat_map(|i| i.repo_tags.iter().cloned())
            .collect()
    }

    /// Whether the archive also holds an OCI layout (docker 25 and later).
    pub fn has_oci_layout(&self) -> bool {
        self.layout.is_some()
    }

    /// The index of the item a selector names; with none, the only item.
    pub fn resolve(&self, image: Option<&DockerSelector>) -> Result<usize, DockerError> {
        let archive = self.archive.path().display().to_string();
        match image {
            None if self.items.len() == 1 => Ok(0),
            None => Err(DockerError::Ambiguous {
                archive,
                count: self.items.len(),
                tags: self.tags(),
            }),
            Some(DockerSelector::Index(i)) if *i < self.items.len() => Ok(*i),
            Some(DockerSelector::Index(i)) => Err(DockerError::NotFound {
                archive,
                what: format!(
                    "image @{i} not found: manifest.json lists {} images",
                    self.items.len()
                ),
                available: self.tags(),
            }),
            Some(DockerSelector::Tag(tag)) => {
                let want = normalize_docker_reference(tag);
                self.items
                    .iter()
                    .position(|item| {
                        item.repo_tags
                            .iter()
                            .any(|t| normalize_docker_reference(t) == want)
                    })
                    .ok_or_else(|| DockerError::NotFound {
                        archive,
                        what: format!("image {tag:?} not found"),
                        available: self.tags(),
                    })
            }
        }
    }

    /// Verifies the named image (or every image), and the OCI layout side if there is one.
    /// Hashes on the current rayon pool.
    pub fn verify(
        &self,
        image: Option<&DockerSelector>,
        progress: &dyn Progress,
    ) -> Result<DockerVerification, DockerError> {
        let chosen: Vec<usize> = match image {
            Some(_) => vec![self.resolve(image)?],
            None => (0..self.items.len()).collect(),
        };
        let oci = match &self.layout {
            Some(layout) if !layout.index().manifests().is_empty() => {
                Some(layout.graph(None)?.verify(progress)?)
            }
            _ => None,
        };
        // Members the OCI side found intact have the digest their name says.
        let mut known: HashMap<String, Digest> = HashMap::new();
        if let Some(v) = &oci {
            let bad: HashSet<&str> = v.problems().iter().map(|p| p.blob.as_str()).collect();
            for blob in v.blobs() {
                let name = blob.descriptor().blob_path();
                if !bad.contains(name.as_str()) {
                    known.insert(name, *blob.descriptor().digest());
                }
            }
        }
        let mut checker = Checker {
            docker: self,
            known,
            images: Vec::new(),
            problems: Vec::new(),
            pending: Vec::new(),
        };
        for index in chosen {
            checker.image(index)?;
        }
        checker.hash_pending(progress)?;
        let Checker {
            images, problems, ..
        } = checker;
        Ok(DockerVerification {
            images,
            problems,
            oci,
        })
    }

    fn malformed(&self, member: &str, what: String) -> DockerError {
        DockerError::Malformed {
            archive: self.archive.path().display().to_string(),
            member: member.to_owned(),
            what,
        }
    }
}

/// One image of the archive as checked: its tags, config and layers.
#[derive(Clone, Debug)]
pub struct DockerImage {
    index: usize,
    repo_tags: Vec<String>,
    config: DockerBlob,
    layers: Vec<DockerBlob>,
}

impl DockerImage {
    /// Its position in `manifest.json`.
    pub fn index(&self) -> usize {
        self.index
    }

    /// Its `RepoTags`.
    pub fn repo_tags(&self) -> &[String] {
        &self.repo_tags
    }

    /// The image ID: the SHA-256 of the config (`None` if the config could not be read).
    pub fn image_id(&self) -> Option<&Digest> {
        self.config.digest.as_ref()
    }

    /// The config.
    pub fn config(&self) -> &DockerBlob {
        &self.config
    }

    /// The layers, in order (empty if the config could not be trusted).
    pub fn layers(&self) -> &[DockerBlob] {
        &self.layers
    }

    /// The first tag, else the image ID, else the position: how messages name it.
    fn label(&self) -> String {
        match (self.repo_tags.first(), &self.config.digest) {
            (Some(tag), _) => tag.clone(),
            (None, Some(id)) => id.to_string(),
            (None, None) => format!("@{}", self.index),
        }
    }
}

/// A config or layer member and the digest it must have.
#[derive(Clone, Debug)]
pub struct DockerBlob {
    member: String,
    role: Role,
    digest: Option<Digest>,
    size: u64,
}

impl DockerBlob {
    /// The member name.
    pub fn member(&self) -> &str {
        &self.member
    }

    /// [`Role::Config`] or [`Role::Layer`].
    pub fn role(&self) -> Role {
        self.role
    }

    /// The config's SHA-256 (the image ID) or the layer's diff ID.
    pub fn digest(&self) -> Option<&Digest> {
        self.digest.as_ref()
    }

    /// Its size in bytes (0 if it is not a regular member).
    pub fn size(&self) -> u64 {
        self.size
    }

    /// `application/vnd.docker.container.image.v1+json` or
    /// `application/vnd.docker.image.rootfs.diff.tar`.
    pub fn media_type(&self) -> &'static str {
        match self.role {
            Role::Config => "application/vnd.docker.container.image.v1+json",
            _ => "application/vnd.docker.image.rootfs.diff.tar",
        }
    }
}

/// One bad config or layer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DockerProblem {
    /// The member named by `manifest.json`.
    pub member: String,
    /// [`Role::Config`] or [`Role::Layer`].
    pub role: Role,
    /// The image, as its first tag, its ID or `@N`.
    pub image: String,
    /// The digest it must have, if known: the one the config's name carries, or the diff ID.
    pub expected: Option<Digest>,
    /// What is wrong ([`ProblemKind::Missing`], [`ProblemKind::NotAFile`] or
    /// [`ProblemKind::DigestMismatch`]).
    pub kind: ProblemKind,
    /// For a member that is not a regular file: what it is.
    pub detail: Option<String>,
}

impl fmt::Display for DockerProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: ", self.member)?;
        match (&self.kind, &self.expected) {
            (ProblemKind::Missing, _) => write!(f, "missing")?,
            (ProblemKind::NotAFile, _) => match &self.detail {
                Some(d) => write!(f, "{d}")?,
                None => write!(f, "not a regular file")?,
            },
            (ProblemKind::DigestMismatch { actual }, Some(expected)) => {
                let what = if self.role == Role::Layer {
                    "diff ID mismatch"
                } else {
                    "image ID mismatch"
                };
                write!(f, "{what} (expected {expected}, got {actual})")?
            }
            (kind, _) => write!(f, "{kind:?}")?,
        }
        write!(f, "; {} of image {}", self.role.name(), self.image)
    }
}

/// The outcome of verifying a docker archive.
#[derive(Clone, Debug)]
pub struct DockerVerification {
    images: Vec<DockerImage>,
    problems: Vec<DockerProblem>,
    oci: Option<Verification>,
}

impl DockerVerification {
    /// Whether every config and layer (and every blob of the OCI side) checked out.
    pub fn is_verified(&self) -> bool {
        self.problems.is_empty() && self.oci.as_ref().is_none_or(Verification::is_verified)
    }

    /// The images checked, in `manifest.json` order.
    pub fn images(&self) -> &[DockerImage] {
        &self.images
    }

    /// Bad configs and layers.
    pub fn problems(&self) -> &[DockerProblem] {
        &self.problems
    }

    /// The OCI layout side's verification, if the archive has one.
    pub fn oci(&self) -> Option<&Verification> {
        self.oci.as_ref()
    }
}

/// Walks the chosen images, collecting problems and the members still to hash.
struct Checker<'a> {
    docker: &'a DockerArchive,
    known: HashMap<String, Digest>,
    images: Vec<DockerImage>,
    problems: Vec<DockerProblem>,
    /// (image, layer) positions whose member must be hashed.
    pending: Vec<(usize, usize)>,
}

impl<'a> Checker<'a> {
    fn image(&mut self, index: usize) -> Result<(), DockerError> {
        let item = &self.docker.items[index];
        let archive = &self.docker.archive;
        let named = config_name_digest(&item.config);
        let mut image = DockerImage {
            index,
            repo_tags: item.repo_tags.clone(),
            config: DockerBlob {
                member: item.config.clone(),
                role: Role::Config,
                digest: None,
                size: 0,
            },
            layers: Vec::new(),
        };
        let Some(member) = self.regular(&item.config, Role::Config, named, &image) else {
            self.images.push(image);
            return Ok(());
        };
        image.config.size = member.size();
        if member.size() > MAX_CONFIG_SIZE {
            let what = format!(
                "image config of {} bytes is over the {MAX_CONFIG_SIZE}-byte limit",
                member.size()
            );
            return Err(self.docker.malformed(&item.config, what));
        }
        let bytes = archive.read(member, MAX_CONFIG_SIZE)?;
        let id = Digest::sha256(&bytes);
        image.config.digest = Some(id);
        if let Some(expected) = named
            && expected != id
        {
            // A config that is not the one its name promises: its diff IDs mean nothing.
            self.problems.push(DockerProblem {
                member: item.config.clone(),
                role: Role::Config,
                image: image.label(),
                expected: Some(expected),
                kind: ProblemKind::DigestMismatch { actual: id },
                detail: None,
            });
            self.images.push(image);
            return Ok(());
        }
        let diff_ids = self.diff_ids(&item.config, &bytes)?;
        if diff_ids.len() != item.layers.len() {
            let what = format!(
                "the config lists {} diff IDs but manifest.json lists {} layers",
                diff_ids.len(),
                item.layers.len()
            );
            return Err(self.docker.malformed(&item.config, what));
        }
        let position = self.images.len();
        for (i, (name, diff_id)) in item.layers.iter().zip(diff_ids).enumerate() {
            let mut blob = DockerBlob {
                member: name.clone(),
                role: Role::Layer,
                digest: Some(diff_id),
                size: 0,
            };
            if let Some(member) = self.regular(name, Role::Layer, Some(diff_id), &image) {
                blob.size = member.size();
                match self.known.get(member.name()) {
                    Some(known) if *known == diff_id => {}
                    _ => self.pending.push((position, i)),
                }
            }
            image.layers.push(blob);
        }
        self.images.push(image);
        Ok(())
    }

    /// The member if it is a regular file; else records why not and returns `None`.
    fn regular(
        &mut self,
        name: &str,
        role: Role,
        expected: Option<Digest>,
        image: &DockerImage,
    ) -> Option<&'a Member> {
        let archive: &'a Archive = &self.docker.archive;
        let problem = |kind, detail| DockerProblem {
            member: name.to_owned(),
            role,
            image: image.label(),
            expected,
            kind,
            detail,
        };
        match archive.get(name) {
            None => {
                self.problems.push(problem(ProblemKind::Missing, None));
                None
            }
            Some(m) => match m.kind().not_a_file() {
                Some(what) => {
                    self.problems
                        .push(problem(ProblemKind::NotAFile, Some(what)));
                    None
                }
                None => Some(m),
            },
        }
    }

    fn diff_ids(&self, member: &str, bytes: &[u8]) -> Result<Vec<Digest>, DockerError> {
        let bad = |what: String| self.docker.malformed(member, what);
        let config: RawConfig = serde_json::from_slice(bytes)
            .map_err(|e| bad(format!("not an image config with rootfs.diff_ids: {e}")))?;
        if config.rootfs.kind != "layers" {
            let kind: String = config.rootfs.kind.chars().take(64).collect();
            return Err(bad(format!("rootfs.type is {kind:?}, expected \"layers\"")));
        }
        config
            .rootfs
            .diff_ids
            .iter()
            .map(|d| parse_digest(d).map_err(|e| bad(format!("rootfs.diff_ids: {e}"))))
            .collect()
    }

    /// Hashes every pending layer member once, in parallel, and records mismatches.
    fn hash_pending(&mut self, progress: &dyn Progress) -> Result<(), DockerError> {
        let archive = &self.docker.archive;
        let mut names: Vec<&str> = Vec::new();
        let mut items: Vec<WorkItem> = Vec::new();
        let mut slot: HashMap<&str, usize> = HashMap::new();
        for &(image, layer) in &self.pending {
            let name = self.images[image].layers[layer].member.as_str();
            if slot.contains_key(name) {
                continue;
            }
            // `regular` found it a regular member.
            let Some(member) = archive.get(name) else {
                continue;
            };
            slot.insert(name, items.len());
            names.push(name);
            items.push(archive.work_item(member));
        }
        let digests = engine::hash_items(&items, HashAlgorithm::Sha256, progress)?;
        let mut found = Vec::new();
        for &(image, layer) in &self.pending {
            let img = &self.images[image];
            let blob = &img.layers[layer];
            let Some(&i) = slot.get(blob.member.as_str()) else {
                continue;
            };
            let actual = digests[i];
            if blob.digest != Some(actual) {
                found.push(DockerProblem {
                    member: blob.member.clone(),
                    role: Role::Layer,
                    image: img.label(),
                    expected: blob.digest,
                    kind: ProblemKind::DigestMismatch { actual },
                    detail: None,
                });
            }
        }
        self.problems.extend(found);
        Ok(())
    }
}

/// The digest a config's member name carries: `<hex>.json`, `blobs/sha256/<hex>` or
/// `sha256:<hex>` with 64 lowercase hex digits.
fn config_name_digest(name: &str) -> Option<Digest> {
    let base = name.rsplit('/').next().unwrap_or(name);
    let hex = if let Some(hex) = name.strip_prefix("blobs/sha256/") {
        hex
    } else if let Some(hex) = base.strip_suffix(".json") {
        hex
    } else {
        base.strip_prefix("sha256:")?
    };
    parse_digest(&format!("sha256:{hex}")).ok()
}
