//! OCI image layout directories (`oci:DIR[:TAG]`): open, resolve, walk and verify.
//!
//! This module owns the layout rules of image-spec `image-layout.md`: an `oci-layout` file with
//! `imageLayoutVersion` 1.0.0, an `index.json` image index, and content at
//! `blobs/<algorithm>/<hex>`. Blob paths are only ever built from parsed digests (plain
//! lowercase hex), so no descriptor can name a file outside `blobs/`; a blob must be a regular
//! file (symlinks are refused).
//!
//! A [`Graph`] is everything reachable from a starting point: all of `index.json`, or one tagged
//! manifest plus the referrers `index.json` lists for it (manifests whose `subject` is in the
//! graph). Walking reads and checks manifests and indexes in memory (bounded by
//! [`MAX_MANIFEST_SIZE`], size checked before reading) and records every missing, non-file and
//! wrongly sized blob instead of stopping at the first. [`Graph::verify`] then hashes the other
//! blobs on the current rayon pool and adds every digest mismatch. Problems with the layout
//! itself (unreadable, malformed, oversized manifests, unsupported digests) are a
//! [`LayoutError`] instead: there is no answer then.
//!
//! The same rules apply to a layout inside a tar file ([`Layout::open_archive`], skopeo's
//! `oci-archive:`): blobs are then members of the indexed [`Archive`], read and hashed in place
//! as byte ranges of the tar file, and links among them are refused like symlinks on disk.

use std::collections::{HashMap, HashSet, VecDeque};
use std::fmt;
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::Deserialize;

use super::archive::{Archive, ArchiveError};
use super::descriptor::{Descriptor, MediaType};
use super::manifest::{ImageIndex, ImageManifest, MAX_MANIFEST_SIZE, ManifestError};
use crate::digest::engine::{self, HashError, Progress, WorkItem};
use crate::digest::{Digest, HashAlgorithm};

/// Largest `oci-layout` file read.
const MAX_OCI_LAYOUT: u64 = 4096;
/// Deepest nesting of indexes followed (index.json → index → index → manifest ...).
const MAX_DEPTH: usize = 16;

/// Why a layout could not be read or resolved: there is no answer.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LayoutError {
    /// The reference is not `oci:DIR[:TAG]`.
    #[error("{0:?} is not an OCI layout reference; expected oci:DIR or oci:DIR:TAG")]
    Reference(String),
    /// Reading a file of the layout failed.
    #[error("{}: cannot read: {err}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// What the OS said.
        err: io::Error,
    },
    /// There is no `oci-layout` file.
    #[error("{}: not an OCI image layout (no oci-layout file)", dir.display())]
    NotALayout {
        /// The directory.
        dir: PathBuf,
    },
    /// `oci-layout` is malformed or has another version.
    #[error("{}: {what}", path.display())]
    LayoutFile {
        /// The `oci-layout` file.
        path: PathBuf,
        /// What is wrong.
        what: String,
    },
    /// A file is larger than its bound.
    #[error("{}: {size} bytes is larger than the {limit}-byte limit", path.display())]
    TooLarge {
        /// The file.
        path: PathBuf,
        /// Its size.
        size: u64,
        /// The limit.
        limit: u64,
    },
    /// `index.json` or a manifest/index blob is malformed.
    #[error("{}: {err}", path.display())]
    Manifest {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        err: ManifestError,
    },
    /// `index.json` lists no manifests.
    #[error("{}: lists no manifests", path.display())]
    Empty {
        /// `index.json`.
        path: PathBuf,
    },
    /// No tag given and `index.json` lists more than one manifest.
    #[error(
        "{}: lists {count} manifests; name one with oci:DIR:TAG ({})",
        path.display(),
        tag_list(tags)
    )]
    Ambiguous {
        /// `index.json`.
        path: PathBuf,
        /// How many manifests it lists.
        count: usize,
        /// The tags it has.
        tags: Vec<String>,
    },
    /// No manifest has the tag.
    #[error("{}: tag {tag:?} not found ({})", path.display(), tag_list(available))]
    TagNotFound {
        /// `index.json`.
        path: PathBuf,
        /// The tag asked for.
        tag: String,
        /// The tags it has.
        available: Vec<String>,
    },
    /// More than one manifest has the tag.
    #[error("{}: tag {tag:?} names {count} manifests", path.display())]
    AmbiguousTag {
        /// `index.json`.
        path: PathBuf,
        /// The tag.
        tag: String,
        /// How many manifests carry it.
        count: usize,
    },
    /// The resolved descriptor is not an image manifest or index.
    #[error("{}: {what} is a {media_type}, not an image manifest or index", path.display())]
    NotAManifest {
        /// `index.json`.
        path: PathBuf,
        /// The tag or `the only manifest`.
        what: String,
        /// Its media type.
        media_type: MediaType,
    },
    /// Indexes nest deeper than tollgate follows.
    #[error("{}: indexes nest deeper than {MAX_DEPTH} levels", path.display())]
    TooDeep {
        /// The index at the limit.
        path: PathBuf,
    },
    /// Hashing a blob failed (I/O error, or the file changed while it was hashed).
    #[error(transparent)]
    Hash(#[from] HashError),
    /// The tar file holding the layout cannot be read.
    #[error(transparent)]
    Archive(#[from] ArchiveError),
}

fn tag_list(tags: &[String]) -> String {
    if tags.is_empty() {
        "it has no tagged manifests".to_owned()
    } else {
        format!("available tags: {}", tags.join(", "))
    }
}

/// An `oci:DIR[:TAG]` reference.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reference {
    dir: PathBuf,
    tag: Option<String>,
}

impl Reference {
    /// Parses `oci:DIR` or `oci:DIR:TAG`. The tag is what follows the last `:` if that text
    /// holds no `/`. A trailing `:` means no tag, so a directory whose name contains `:` is
    /// written `oci:DIR:` (or `oci:DIR:TAG`).
    pub fn parse(spec: &str) -> Result<Self, LayoutError> {
        let bad = || LayoutError::Reference(spec.chars().take(256).collect());
        let rest = spec.strip_prefix("oci:").ok_or_else(bad)?;
        let (dir, tag) = match rest.rsplit_once(':') {
            Some((dir, "")) => (dir, None),
            Some((dir, tag)) if !tag.contains('/') => (dir, Some(tag)),
            _ => (rest, None),
        };
        if dir.is_empty() || tag.is_some_and(|t| t.chars().any(char::is_control)) {
            return Err(bad());
        }
        Ok(Self {
            dir: PathBuf::from(dir),
            tag: tag.map(str::to_owned),
        })
    }

    /// The layout directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The tag, if one was given.
    pub fn tag(&self) -> Option<&str> {
        self.tag.as_deref()
    }
}

impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "oci:{}", self.dir.display())?;
        if let Some(tag) = &self.tag {
            write!(f, ":{tag}")?;
        }
        Ok(())
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawOciLayout {
    image_layout_version: String,
}

/// Where a layout's files are: a directory, or members of a tar file.
#[derive(Clone, Debug)]
enum Content {
    Dir,
    Archive(Arc<Archive>),
}

/// What is at a blob's path.
enum Stat {
    Missing,
    NotAFile,
    /// A regular file of `len` bytes, and the work item that hashes it.
    File {
        len: u64,
        item: WorkItem,
    },
}

/// An opened image layout: its root and its parsed `index.json`.
#[derive(Clone, Debug)]
pub struct Layout {
    root: PathBuf,
    index: ImageIndex,
    content: Content,
}

impl Layout {
    /// Opens a layout: checks `oci-layout` and parses `index.json` (at most 4 MiB).
    pub fn open(root: &Path) -> Result<Self, LayoutError> {
        let layout_path = root.join("oci-layout");
        let bytes = match read_bounded(&layout_path, MAX_OCI_LAYOUT) {
            Err(LayoutError::Io { err, .. }) if err.kind() == io::ErrorKind::NotFound => {
                return Err(LayoutError::NotALayout {
                    dir: root.to_owned(),
                });
            }
            other => other?,
        };
        check_oci_layout(&bytes, layout_path)?;
        let index_path = root.join("index.json");
        let bytes = read_bounded(&index_path, MAX_MANIFEST_SIZE)?;
        Self::with_index(root.to_owned(), &bytes, index_path, Content::Dir)
    }

    /// Opens a layout stored in a tar file (an OCI archive, as `skopeo copy … oci-archive:`
    /// writes, or the OCI side of a `docker save` archive): `oci-layout` and `index.json` are
    /// members at its root. Messages name members as `ARCHIVE/member`.
    pub fn open_archive(archive: Arc<Archive>) -> Result<Self, LayoutError> {
        let root = archive.path().to_owned();
        let layout_path = root.join("oci-layout");
        let Some(member) = archive.get("oci-layout") else {
            return Err(LayoutError::NotALayout { dir: root });
        };
        let bytes = archive.read(member, MAX_OCI_LAYOUT)?;
        check_oci_layout(&bytes, layout_path)?;
        let index_path = root.join("index.json");
        let member = archive.get("index.json").ok_or_else(|| LayoutError::Io {
            path: index_path.clone(),
            err: io::ErrorKind::NotFound.into(),
        })?;
        let bytes = archive.read(member, MAX_MANIFEST_SIZE)?;
        Self::with_index(root, &bytes, index_path, Content::Archive(archive))
    }

    fn with_index(
        root: PathBuf,
        bytes: &[u8],
        index_path: PathBuf,
        content: Content,
    ) -> Result<Self, LayoutError> {
        let index = ImageIndex::parse(bytes, None).map_err(|err| LayoutError::Manifest {
            path: index_path,
            err,
        })?;
        Ok(Self {
            root,
            index,
            content,
        })
    }

    /// The layout directory (or the archive holding it).
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The parsed `index.json`.
    pub fn index(&self) -> &ImageIndex {
        &self.index
    }

    /// The tags (`org.opencontainers.image.ref.name`) in `index.json`, in order.
    pub fn tags(&self) -> Vec<String> {
        self.index
            .manifests()
            .iter()
            .filter_map(|d| d.ref_name().map(str::to_owned))
            .collect()
    }

    /// The descriptor a tag names, or with no tag the only manifest `index.json` lists.
    pub fn resolve(&self, tag: Option<&str>) -> Result<&Descriptor, LayoutError> {
        let path = self.root.join("index.json");
        let manifests = self.index.manifests();
        let (found, what) = match tag {
            Some(tag) => {
                let hits: Vec<_> = manifests
                    .iter()
                    .filter(|d| d.ref_name() == Some(tag))
                    .collect();
                match hits.as_slice() {
                    [one] => (*one, format!("tag {tag:?}")),
                    [] => {
                        return Err(LayoutError::TagNotFound {
                            path,
                            tag: tag.to_owned(),
                            available: self.tags(),
                        });
                    }
                    _ => {
                        return Err(LayoutError::AmbiguousTag {
                            path,
                            tag: tag.to_owned(),
                            count: hits.len(),
                        });
                    }
                }
            }
            None => match manifests {
                [one] => (one, "the only manifest".to_owned()),
                [] => return Err(LayoutError::Empty { path }),
                _ => {
                    return Err(LayoutError::Ambiguous {
                        path,
                        count: manifests.len(),
                        tags: self.tags(),
                    });
                }
            },
        };
        if Role::of_listed(found) == Role::Other {
            return Err(LayoutError::NotAManifest {
                path,
                what,
                media_type: found.media_type().clone(),
            });
        }
        Ok(found)
    }

    /// Everything reachable from `index.json` (no tag), or from the manifest a tag names plus
    /// the referrers `index.json` lists for anything in that graph.
    pub fn graph(&self, tag: Option<&str>) -> Result<Graph, LayoutError> {
        if tag.is_none() && self.index.manifests().is_empty() {
            return Err(LayoutError::Empty {
                path: self.root.join("index.json"),
            });
        }
        let mut walker = Walker::new(self);
        match tag {
            None => {
                let roots = self.index.manifests().iter();
                walker.walk(roots.map(|d| (d.clone(), Role::of_listed(d), None)))?;
            }
            Some(tag) => {
                let root = self.resolve(Some(tag))?.clone();
                let role = Role::of_listed(&root);
                walker.walk([(root, role, None)])?;
                walker.add_referrers()?;
            }
        }
        Ok(walker.graph)
    }

    fn blob_path(&self, d: &Descriptor) -> PathBuf {
        self.root.join(d.blob_path())
    }

    /// What is at a blob's path: nothing, something that is not a regular file, or a file.
    fn stat(&self, d: &Descriptor) -> Result<Stat, LayoutError> {
        match &self.content {
            Content::Dir => {
                let path = self.blob_path(d);
                match std::fs::symlink_metadata(&path) {
                    Ok(meta) if meta.file_type().is_file() => {
                        let mut item = WorkItem::whole(path, meta.len());
                        item.modified = meta.modified().ok();
                        Ok(Stat::File {
                            len: meta.len(),
                            item,
                        })
                    }
                    Ok(_) => Ok(Stat::NotAFile),
                    Err(err) if err.kind() == io::ErrorKind::NotFound => Ok(Stat::Missing),
                    Err(err) => Err(LayoutError::Io { path, err }),
                }
            }
            Content::Archive(archive) => Ok(match archive.get(&d.blob_path()) {
                None => Stat::Missing,
                Some(m) if m.kind().not_a_file().is_some() => Stat::NotAFile,
                Some(m) => Stat::File {
                    len: m.size(),
                    item: archive.work_item(m),
                },
            }),
        }
    }

    /// Reads a manifest or index blob whose size was checked to be `size`.
    fn read_blob(&self, d: &Descriptor, size: u64) -> Result<Vec<u8>, LayoutError> {
        match &self.content {
            Content::Dir => read_manifest_blob(&self.blob_path(d), size),
            Content::Archive(archive) => {
                if size > MAX_MANIFEST_SIZE {
                    return Err(LayoutError::TooLarge {
                        path: self.blob_path(d),
                        size,
                        limit: MAX_MANIFEST_SIZE,
                    });
                }
                let member = archive.get(&d.blob_path()).ok_or_else(|| LayoutError::Io {
                    path: self.blob_path(d),
                    err: io::ErrorKind::NotFound.into(),
                })?;
                Ok(archive.read(member, size)?)
            }
        }
    }
}

/// Checks an `oci-layout` file: JSON with `imageLayoutVersion` 1.0.0.
fn check_oci_layout(bytes: &[u8], layout_path: PathBuf) -> Result<(), LayoutError> {
    let layout: RawOciLayout =
        serde_json::from_slice(bytes).map_err(|e| LayoutError::LayoutFile {
            path: layout_path.clone(),
            what: format!("not a valid oci-layout file: {e}"),
        })?;
    if layout.image_layout_version != "1.0.0" {
        return Err(LayoutError::LayoutFile {
            path: layout_path,
            what: format!(
                "imageLayoutVersion is {:?}, expected \"1.0.0\"",
                layout
                    .image_layout_version
                    .chars()
                    .take(64)
                    .collect::<String>()
            ),
        });
    }
    Ok(())
}

/// What a blob is to the graph.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Role {
    /// An image index (read and followed).
    Index,
    /// An image manifest (read and followed).
    Manifest,
    /// A manifest's config.
    Config,
    /// A manifest's layer.
    Layer,
    /// Something an index lists with a media type tollgate does not follow.
    Other,
}

impl Role {
    fn of_listed(d: &Descriptor) -> Self {
        if d.media_type().is_index() {
            Self::Index
        } else if d.media_type().is_image_manifest() {
            Self::Manifest
        } else {
            Self::Other
        }
    }

    /// `index`, `manifest`, `config`, `layer` or `blob`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Index => "index",
            Self::Manifest => "manifest",
            Self::Config => "config",
            Self::Layer => "layer",
            Self::Other => "blob",
        }
    }
}

/// One blob of a graph.
#[derive(Clone, Debug)]
pub struct Blob {
    descriptor: Descriptor,
    role: Role,
    parent: Option<Digest>,
    state: State,
}

#[derive(Clone, Debug)]
enum State {
    /// Already found bad (a [`Problem`] is recorded).
    Bad,
    /// Read and checked in memory (manifests, indexes).
    Checked,
    /// Right size on disk, to be hashed by this work item.
    Pending { item: WorkItem },
}

impl Blob {
    /// Its descriptor (the first one met, if several name the same digest).
    pub fn descriptor(&self) -> &Descriptor {
        &self.descriptor
    }

    /// What it is to the graph.
    pub fn role(&self) -> Role {
        self.role
    }

    /// The manifest or index that references it; `None` if `index.json` lists it.
    pub fn parent(&self) -> Option<&Digest> {
        self.parent.as_ref()
    }
}

/// What is wrong with one blob.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ProblemKind {
    /// No file at its path.
    Missing,
    /// Its path is a symlink, directory or other non-regular file.
    NotAFile,
    /// The file's size differs from the descriptor's.
    SizeMismatch {
        /// The descriptor's size.
        expected: u64,
        /// The file's size.
        actual: u64,
    },
    /// Two descriptors give the same digest different sizes.
    SizeConflict {
        /// The size first met.
        first: u64,
        /// The other size.
        other: u64,
    },
    /// The content hashes to another digest.
    DigestMismatch {
        /// The digest of the content.
        actual: Digest,
    },
}

/// One bad blob: where it is, what referenced it, what is wrong.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    /// Path relative to the layout: `blobs/sha256/<hex>`.
    pub blob: String,
    /// The digest descriptors give it.
    pub digest: Digest,
    /// The media type it is referenced as.
    pub media_type: MediaType,
    /// What it is to the graph.
    pub role: Role,
    /// The manifest or index that references it; `None` if `index.json` lists it.
    pub parent: Option<Digest>,
    /// What is wrong.
    pub kind: ProblemKind,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: ", self.blob)?;
        match &self.kind {
            ProblemKind::Missing => write!(f, "missing")?,
            ProblemKind::NotAFile => write!(f, "not a regular file")?,
            ProblemKind::SizeMismatch { expected, actual } => {
                write!(f, "size mismatch (expected {expected} bytes, got {actual})")?
            }
            ProblemKind::SizeConflict { first, other } => write!(
                f,
                "descriptors disagree on its size ({first} and {other} bytes)"
            )?,
            ProblemKind::DigestMismatch { actual } => write!(
                f,
                "digest mismatch (expected {}, got {actual})",
                self.digest
            )?,
        }
        match &self.parent {
            Some(parent) => write!(f, "; {} of {parent}", self.role.name()),
            None => write!(f, "; {} listed in index.json", self.role.name()),
        }
    }
}

/// The blobs reachable from a starting point, with the problems found so far.
#[derive(Clone, Debug)]
pub struct Graph {
    blobs: Vec<Blob>,
    problems: Vec<Problem>,
}

impl Graph {
    /// Every blob, in walk order (breadth first from the starting manifests).
    pub fn blobs(&self) -> &[Blob] {
        &self.blobs
    }

    /// Problems found while walking (missing, non-file, wrongly sized blobs; manifests whose
    /// digest does not match, whose contents are then not followed).
    pub fn problems(&self) -> &[Problem] {
        &self.problems
    }

    /// Bytes of the blobs still to hash.
    pub fn pending_bytes(&self) -> u64 {
        self.blobs
            .iter()
            .filter(|b| matches!(b.state, State::Pending { .. }))
            .map(|b| b.descriptor.size())
            .sum()
    }

    /// Number of blobs still to hash (for sizing a thread pool).
    pub fn pending_blobs(&self) -> usize {
        self.blobs
            .iter()
            .filter(|b| matches!(b.state, State::Pending { .. }))
            .count()
    }

    /// Hashes every blob not yet checked on the current rayon pool (one work item per blob)
    /// and records each digest mismatch.
    pub fn verify(self, progress: &dyn Progress) -> Result<Verification, LayoutError> {
        let Self {
            blobs,
            mut problems,
        } = self;
        for algorithm in HashAlgorithm::ALL {
            let pending: Vec<(&Blob, WorkItem)> = blobs
                .iter()
                .filter(|b| b.descriptor.digest().algorithm() == algorithm)
                .filter_map(|b| match &b.state {
                    State::Pending { item } => Some((b, item.clone())),
                    _ => None,
                })
                .collect();
            if pending.is_empty() {
                continue;
            }
            let items: Vec<WorkItem> = pending.iter().map(|(_, item)| item.clone()).collect();
            let digests = engine::hash_items(&items, algorithm, progress)?;
            for ((blob, _), actual) in pending.iter().zip(digests) {
                if actual != *blob.descriptor.digest() {
                    problems.push(problem(blob, ProblemKind::DigestMismatch { actual }));
                }
            }
        }
        let bytes = blobs.iter().map(|b| b.descriptor.size()).sum();
        let manifests = blobs
            .iter()
            .filter(|b| matches!(b.role, Role::Manifest | Role::Index))
            .count();
        Ok(Verification {
            blobs,
            problems,
            bytes,
            manifests,
        })
    }
}

fn problem(blob: &Blob, kind: ProblemKind) -> Problem {
    Problem {
        blob: blob.descriptor.blob_path(),
        digest: *blob.descriptor.digest(),
        media_type: blob.descriptor.media_type().clone(),
        role: blob.role,
        parent: blob.parent,
        kind,
    }
}

/// The outcome of verifying a graph.
#[derive(Clone, Debug)]
pub struct Verification {
    blobs: Vec<Blob>,
    problems: Vec<Problem>,
    bytes: u64,
    manifests: usize,
}

impl Verification {
    /// Whether every blob is present with the right size and digest.
    pub fn is_verified(&self) -> bool {
        self.problems.is_empty()
    }

    /// Every bad blob, in walk order.
    pub fn problems(&self) -> &[Problem] {
        &self.problems
    }

    /// Every blob of the graph, in walk order.
    pub fn blobs(&self) -> &[Blob] {
        &self.blobs
    }

    /// Total bytes the descriptors name.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// How many of the blobs are manifests or indexes.
    pub fn manifests(&self) -> usize {
        self.manifests
    }
}

struct Walker<'a> {
    layout: &'a Layout,
    /// Digest text → index into `graph.blobs`.
    seen: HashMap<String, usize>,
    /// Digests of the manifests and indexes in the graph whose content checked out.
    manifests: HashSet<String>,
    graph: Graph,
}

type Pending = (Descriptor, Role, Option<Digest>);

impl<'a> Walker<'a> {
    fn new(layout: &'a Layout) -> Self {
        Self {
            layout,
            seen: HashMap::new(),
            manifests: HashSet::new(),
            graph: Graph {
                blobs: Vec::new(),
                problems: Vec::new(),
            },
        }
    }

    fn walk(&mut self, roots: impl IntoIterator<Item = Pending>) -> Result<(), LayoutError> {
        let mut queue: VecDeque<(Pending, usize)> = roots.into_iter().map(|p| (p, 0)).collect();
        while let Some(((descriptor, role, parent), depth)) = queue.pop_front() {
            let key = descriptor.digest().to_string();
            if let Some(&i) = self.seen.get(&key) {
                let first = self.graph.blobs[i].descriptor.size();
                if first != descriptor.size() {
                    let blob = Blob {
                        descriptor,
                        role,
                        parent,
                        state: State::Bad,
                    };
                    let kind = ProblemKind::SizeConflict {
                        first,
                        other: blob.descriptor.size(),
                    };
                    self.graph.problems.push(problem(&blob, kind));
                }
                continue;
            }
            self.seen.insert(key.clone(), self.graph.blobs.len());
            let path = self.layout.blob_path(&descriptor);
            let mut blob = Blob {
                descriptor,
                role,
                parent,
                state: State::Bad,
            };
            let (len, item) = match self.layout.stat(&blob.descriptor)? {
                Stat::Missing => {
                    self.bad(blob, ProblemKind::Missing);
                    continue;
                }
                Stat::NotAFile => {
                    self.bad(blob, ProblemKind::NotAFile);
                    continue;
                }
                Stat::File { len, item } => (len, item),
            };
            let expected = blob.descriptor.size();
            if len != expected {
                let kind = ProblemKind::SizeMismatch {
                    expected,
                    actual: len,
                };
                self.bad(blob, kind);
                continue;
            }
            if !matches!(role, Role::Manifest | Role::Index) {
                blob.state = State::Pending { item };
                self.graph.blobs.push(blob);
                continue;
            }
            let bytes = self.layout.read_blob(&blob.descriptor, expected)?;
            let actual = Digest::sha256(&bytes);
            if actual != *blob.descriptor.digest() {
                self.bad(blob, ProblemKind::DigestMismatch { actual });
                continue;
            }
            let this = *blob.descriptor.digest();
            let media_type = blob.descriptor.media_type().clone();
            blob.state = State::Checked;
            self.graph.blobs.push(blob);
            self.manifests.insert(key);
            let malformed = |err| LayoutError::Manifest {
                path: path.clone(),
                err,
            };
            if role == Role::Index {
                if depth >= MAX_DEPTH {
                    return Err(LayoutError::TooDeep { path });
                }
                let index = ImageIndex::parse(&bytes, Some(&media_type)).map_err(malformed)?;
                for d in index.manifests() {
                    queue.push_back(((d.clone(), Role::of_listed(d), Some(this)), depth + 1));
                }
            } else {
                let manifest =
                    ImageManifest::parse(&bytes, Some(&media_type)).map_err(malformed)?;
                let config = manifest.config().clone();
                queue.push_back(((config, Role::Config, Some(this)), depth + 1));
                for layer in manifest.layers() {
                    queue.push_back(((layer.clone(), Role::Layer, Some(this)), depth + 1));
                }
            }
        }
        Ok(())
    }

    fn bad(&mut self, blob: Blob, kind: ProblemKind) {
        self.graph.problems.push(problem(&blob, kind));
        self.graph.blobs.push(blob);
    }

    /// Adds the manifests `index.json` lists whose `subject` is in the graph, until none is
    /// left. A listed manifest that cannot be read or does not match its digest is not known
    /// to be a referrer and is left out (verifying the whole layout reports it).
    fn add_referrers(&mut self) -> Result<(), LayoutError> {
        loop {
            let mut found = Vec::new();
            for d in self.layout.index.manifests() {
                let role = Role::of_listed(d);
                if role == Role::Other || self.seen.contains_key(&d.digest().to_string()) {
                    continue;
                }
                if let Some(subject) = self.peek_subject(d, role)
                    && self.manifests.contains(&subject.to_string())
                {
                    found.push((d.clone(), role, None));
                }
            }
            if found.is_empty() {
                return Ok(());
            }
            self.walk(found)?;
        }
    }

    fn peek_subject(&self, d: &Descriptor, role: Role) -> Option<Digest> {
        if d.size() > MAX_MANIFEST_SIZE {
            return None;
        }
        match self.layout.stat(d).ok()? {
            Stat::File { len, .. } if len == d.size() => {}
            _ => return None,
        }
        let bytes = self.layout.read_blob(d, d.size()).ok()?;
        if Digest::sha256(&bytes) != *d.digest() {
            return None;
        }
        let subject = match role {
            Role::Index => ImageIndex::parse(&bytes, Some(d.media_type()))
                .ok()?
                .subject()
                .cloned(),
            _ => ImageManifest::parse(&bytes, Some(d.media_type()))
                .ok()?
                .subject()
                .cloned(),
        };
        subject.map(|s| *s.digest())
    }
}

/// Reads a manifest or index blob whose size on disk was checked to be `size`.
fn read_manifest_blob(path: &Path, size: u64) -> Result<Vec<u8>, LayoutError> {
    if size > MAX_MANIFEST_SIZE {
        return Err(LayoutError::TooLarge {
            path: path.to_owned(),
            size,
            limit: MAX_MANIFEST_SIZE,
        });
    }
    let bytes = read_bounded(path, size)?;
    if bytes.len() as u64 != size {
        return Err(HashError::Changed {
            path: path.to_owned(),
            what: format!("size {size} -> {} bytes", bytes.len()),
        }
        .into());
    }
    Ok(bytes)
}

/// Reads at most `limit` bytes; a larger file is [`LayoutError::TooLarge`].
fn read_bounded(path: &Path, limit: u64) -> Result<Vec<u8>, LayoutError> {
    let io_err = |err| LayoutError::Io {
        path: path.to_owned(),
        err,
    };
    let file = std::fs::File::open(path).map_err(io_err)?;
    let mut bytes = Vec::new();
    file.take(limit + 1)
        .read_to_end(&mut bytes)
        .map_err(io_err)?;
    if bytes.len() as u64 > limit {
        let size = std::fs::metadata(path).map_or(limit + 1, |m| m.len());
        return Err(LayoutError::TooLarge {
            path: path.to_owned(),
            size,
            limit,
        });
    }
    Ok(bytes)
}
