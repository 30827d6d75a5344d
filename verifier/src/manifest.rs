//! The OpenSSF model signing v1.0 manifest: a model as a list of named digests.
//!
//! Owns the serialization methods (`files`: one resource per file; `shards`: one per
//! `path:start:end` range), the canonical resource order, the root digest, the predicate JSON
//! that signatures carry, and comparing two manifests. Everything here matches model_signing
//! 1.1.1 bit for bit where it matters for interop:
//!
//! - order: by path components (code point order), then numeric `start`, `end`, so
//!   `tokenizer/vocab.txt` sorts before `tokenizer.json` and `w:2000…` before `w:10000…`;
//! - root: SHA-256 over the concatenated raw resource digests in that order;
//! - shard resources carry algorithm `<hash>-sharded-<shard_size>`, empty files have no shard,
//!   and `shard_size` is written as an integer (model_signing writes a float; both are read).
//!
//! Where model_signing is silent or lax tollgate refuses instead: a `:` in a file name under
//! shard serialization (model_signing would write a name it cannot parse back), and BLAKE3 with
//! shards (model_signing silently falls back to whole files). Empty files can be given a
//! `path:0:0` shard with [`HashConfig::shard_empty_files`], closing the gap where adding or
//! removing an empty file goes unnoticed; model_signing will not verify such a manifest.

use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

use serde_json::{Value, json};

use crate::digest::engine::{self, HashError, Progress, WorkItem};
use crate::digest::{Digest, DigestError, HashAlgorithm};
use crate::walk::{self, ModelTree, WalkError, WalkOptions};

/// model_signing's default shard size: 1,000,000,000 bytes.
pub const DEFAULT_SHARD_SIZE: u64 = 1_000_000_000;

/// How a model is cut into resources.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    /// One resource per file.
    Files,
    /// One resource per `shard_size`-byte range of each file.
    Shards {
        /// Bytes per shard (the last shard of a file may be shorter); never zero.
        shard_size: u64,
    },
}

/// How to hash a model.
#[derive(Clone, Copy, Debug)]
pub struct HashConfig {
    /// The content hash.
    pub algorithm: HashAlgorithm,
    /// Files or shards.
    pub method: Method,
    /// In shard mode, give empty files a `path:0:0` resource (model_signing skips them).
    pub shard_empty_files: bool,
}

impl Default for HashConfig {
    fn default() -> Self {
        Self {
            algorithm: HashAlgorithm::Sha256,
            method: Method::Files,
            shard_empty_files: false,
        }
    }
}

/// The `serialization` object of the predicate: how the resources were made.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Serialization {
    /// Files or shards.
    pub method: Method,
    /// The content hash.
    pub hash_type: HashAlgorithm,
    /// Whether symlinks were followed.
    pub allow_symlinks: bool,
    /// Ignored paths, relative to the model root.
    pub ignore_paths: Vec<String>,
}

impl Serialization {
    /// The `algorithm` string every resource carries.
    pub fn resource_algorithm(&self) -> String {
        match self.method {
            Method::Files => self.hash_type.name().to_owned(),
            Method::Shards { shard_size } => format!("{}-sharded-{shard_size}", self.hash_type),
        }
    }

    /// The JSON object, with `shard_size` as an integer.
    pub fn to_json(&self) -> Value {
        let mut v = json!({
            "method": match self.method { Method::Files => "files", Method::Shards { .. } => "shards" },
            "hash_type": self.hash_type.name(),
            "allow_symlinks": self.allow_symlinks,
        });
        if let Method::Shards { shard_size } = self.method {
            v["shard_size"] = json!(shard_size);
        }
        if !self.ignore_paths.is_empty() {
            v["ignore_paths"] = json!(self.ignore_paths);
        }
        v
    }
}

/// What a resource names: a whole file or a byte range of one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ResourceKey {
    /// A whole file.
    File {
        /// Relative `/`-separated path.
        path: String,
    },
    /// `path[start..end]`.
    Shard {
        /// Relative `/`-separated path.
        path: String,
        /// First byte.
        start: u64,
        /// End (exclusive).
        end: u64,
    },
}

impl ResourceKey {
    /// The file path part.
    pub fn path(&self) -> &str {
        match self {
            Self::File { path } | Self::Shard { path, .. } => path,
        }
    }

    fn range(&self) -> (u64, u64) {
        match self {
            Self::File { .. } => (0, 0),
            Self::Shard { start, end, .. } => (*start, *end),
        }
    }
}

impl fmt::Display for ResourceKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::File { path } => f.write_str(path),
            Self::Shard { path, start, end } => write!(f, "{path}:{start}:{end}"),
        }
    }
}

impl Ord for ResourceKey {
    fn cmp(&self, other: &Self) -> Ordering {
        self.path()
            .split('/')
            .cmp(other.path().split('/'))
            .then_with(|| self.range().cmp(&other.range()))
    }
}

impl PartialOrd for ResourceKey {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// One named digest.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Resource {
    /// What it covers.
    pub key: ResourceKey,
    /// The `algorithm` string as written (e.g. `sha256-sharded-1000000000`).
    pub algorithm: String,
    /// The digest.
    pub digest: Digest,
}

/// A model's manifest: its serialization and resources in canonical order.
#[derive(Clone, Debug)]
pub struct Manifest {
    model_name: String,
    serialization: Serialization,
    resources: Vec<Resource>,
}

/// Why a manifest could not be built or read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ManifestError {
    /// Walking the model failed.
    #[error(transparent)]
    Walk(#[from] WalkError),
    /// Hashing failed.
    #[error(transparent)]
    Hash(#[from] HashError),
    /// A file name contains `:` under shard serialization.
    #[error(
        "{path}: file names containing ':' cannot be sharded (the shard name path:start:end would be ambiguous); rename the file or use --no-shards"
    )]
    ColonInShardedName {
        /// The name.
        path: String,
    },
    /// The configuration is not one tollgate can produce.
    #[error("{0}")]
    Config(&'static str),
    /// The predicate JSON is malformed.
    #[error("manifest: {0}")]
    Invalid(String),
    /// A digest in the predicate is malformed.
    #[error("manifest: resource {name:?}: {err}")]
    Digest {
        /// The resource.
        name: String,
        /// What is wrong.
        err: DigestError,
    },
}

/// Walks and hashes the model at `root`.
pub fn hash_model(
    root: &Path,
    walk_options: &WalkOptions,
    config: &HashConfig,
    progress: &dyn Progress,
) -> Result<Manifest, ManifestError> {
    check_config(config)?;
    let tree = walk::walk(root, walk_options)?;
    hash_tree(&tree, config, progress)
}

fn check_config(config: &HashConfig) -> Result<(), ManifestError> {
    match config.method {
        Method::Shards { shard_size: 0 } => {
            Err(ManifestError::Config("shard size must be at least 1 byte"))
        }
        Method::Shards { .. } if config.algorithm == HashAlgorithm::Blake3 => {
            Err(ManifestError::Config(
                "blake3 cannot be combined with shards (BLAKE3 already hashes one file on all cores, and model_signing ignores shards for it); use --no-shards",
            ))
        }
        _ => Ok(()),
    }
}

/// The work items a tree and config produce, with their keys.
pub fn plan(
    tree: &ModelTree,
    config: &HashConfig,
) -> Result<Vec<(ResourceKey, WorkItem)>, ManifestError> {
    check_config(config)?;
    let mut out = Vec::new();
    for f in &tree.files {
        match config.method {
            Method::Files => out.push((
                ResourceKey::File {
                    path: f.name.clone(),
                },
                WorkItem {
                    modified: f.modified,
                    ..WorkItem::whole(f.path.clone(), f.size)
                },
            )),
            Method::Shards { shard_size } => {
                if f.name.contains(':') {
                    return Err(ManifestError::ColonInShardedName {
                        path: f.name.clone(),
                    });
                }
                let mut start = 0;
                while start < f.size || (f.size == 0 && start == 0 && config.shard_empty_files) {
                    let end = start.saturating_add(shard_size).min(f.size);
                    out.push((
                        ResourceKey::Shard {
                            path: f.name.clone(),
                            start,
                            end,
                        },
                        WorkItem {
                            path: f.path.clone(),
                            start,
                            end,
                            file_size: f.size,
                            modified: f.modified,
                        },
                    ));
                    if end == f.size {
                        break;
                    }
                    start = end;
                }
            }
        }
    }
    Ok(out)
}

/// Hashes an already walked tree.
pub fn hash_tree(
    tree: &ModelTree,
    config: &HashConfig,
    progress: &dyn Progress,
) -> Result<Manifest, ManifestError> {
    let planned = plan(tree, config)?;
    let items: Vec<WorkItem> = planned.iter().map(|(_, item)| item.clone()).collect();
    let digests = engine::hash_items(&items, config.algorithm, progress)?;
    let serialization = Serialization {
        method: config.method,
        hash_type: config.algorithm,
        allow_symlinks: tree.allow_symlinks,
        ignore_paths: tree.ignore_paths.clone(),
    };
    let algorithm = serialization.resource_algorithm();
    let resources = planned
        .into_iter()
        .zip(digests)
        .map(|((key, _), digest)| Resource {
            key,
            algorithm: algorithm.clone(),
            digest,
        })
        .collect();
    Ok(Manifest::new(
        tree.model_name.clone(),
        serialization,
        resources,
    ))
}

impl Manifest {
    /// Builds a manifest, putting resources in canonical order.
    pub fn new(
        model_name: String,
        serialization: Serialization,
        mut resources: Vec<Resource>,
    ) -> Self {
        resources.sort_by(|a, b| a.key.cmp(&b.key));
        Self {
            model_name,
            serialization,
            resources,
        }
    }

    /// The model's name (informational: not part of the root digest).
    pub fn model_name(&self) -> &str {
        &self.model_name
    }

    /// How the resources were made.
    pub fn serialization(&self) -> &Serialization {
        &self.serialization
    }

    /// Resources in canonical order.
    pub fn resources(&self) -> &[Resource] {
        &self.resources
    }

    /// SHA-256 over the concatenated raw resource digests, in canonical order.
    pub fn root_digest(&self) -> Digest {
        let mut h = crate::digest::Hasher::new(HashAlgorithm::Sha256);
        for r in &self.resources {
            h.update(r.digest.as_bytes());
        }
        h.finalize()
    }

    /// The predicate body signatures carry: `{"serialization": …, "resources": […]}`.
    pub fn to_predicate(&self) -> Value {
        let resources: Vec<Value> = self
            .resources
            .iter()
            .map(|r| json!({"name": r.key.to_string(), "algorithm": r.algorithm, "digest": r.digest.hex()}))
            .collect();
        json!({"serialization": self.serialization.to_json(), "resources": resources})
    }

    /// Reads a predicate body (as written by model_signing or tollgate). Resources keep the
    /// listed order, since a signature's root digest is computed over that order.
    pub fn from_predicate(model_name: &str, predicate: &Value) -> Result<Self, ManifestError> {
        let bad = |m: &str| ManifestError::Invalid(m.to_owned());
        let ser = predicate
            .get("serialization")
            .ok_or_else(|| bad("missing serialization"))?;
        let serialization = parse_serialization(ser)?;
        let list = predicate
            .get("resources")
            .and_then(Value::as_array)
            .ok_or_else(|| bad("missing resources array"))?;
        let mut resources = Vec::with_capacity(list.len());
        for r in list {
            resources.push(parse_resource(r, &serialization)?);
        }
        Ok(Self {
            model_name: model_name.to_owned(),
            serialization,
            resources,
        })
    }

    /// Compares `self` (expected, e.g. signed) with `actual` (e.g. freshly hashed), by name.
    pub fn diff(&self, actual: &Self) -> Diff {
        let index = |m: &Self| -> BTreeMap<String, (String, Digest)> {
            m.resources
                .iter()
                .map(|r| (r.key.to_string(), (r.algorithm.clone(), r.digest)))
                .collect()
        };
        let (want, got) = (index(self), index(actual));
        let mut diff = Diff::default();
        for (name, (alg, digest)) in &want {
            match got.get(name) {
                None => diff.missing.push(name.clone()),
                Some((a, d)) if a != alg || d != digest => diff.changed.push(Changed {
                    name: name.clone(),
                    expected: *digest,
                    actual: *d,
                    expected_algorithm: alg.clone(),
                    actual_algorithm: a.clone(),
                }),
                Some(_) => {}
            }
        }
        diff.extra = got
            .keys()
            .filter(|n| !want.contains_key(*n))
            .cloned()
            .collect();
        diff
    }
}

fn parse_serialization(v: &Value) -> Result<Serialization, ManifestError> {
    let bad = |m: String| ManifestError::Invalid(m);
    let text = |k: &str| {
        v.get(k)
            .and_then(Value::as_str)
            .ok_or_else(|| bad(format!("serialization.{k} missing or not a string")))
    };
    let hash_type: HashAlgorithm = text("hash_type")?
        .parse()
        .map_err(|e: DigestError| bad(format!("serialization.hash_type: {e}")))?;
    let method = match text("method")? {
        "files" => Method::Files,
        "shards" => Method::Shards {
            shard_size: parse_shard_size(v.get("shard_size"))?,
        },
        other => {
            return Err(bad(format!(
                "serialization.method {other:?} is not files or shards"
            )));
        }
    };
    let allow_symlinks = match v.get("allow_symlinks") {
        None => false,
        Some(b) => b
            .as_bool()
            .ok_or_else(|| bad("serialization.allow_symlinks is not a boolean".into()))?,
    };
    // A set in model_signing (written in arbitrary order): kept sorted.
    let mut ignore_paths: Vec<String> = match v.get("ignore_paths") {
        None => Vec::new(),
        Some(list) => list
            .as_array()
            .ok_or_else(|| bad("serialization.ignore_paths is not a list".into()))?
            .iter()
            .map(|p| {
                p.as_str()
                    .map(str::to_owned)
                    .ok_or_else(|| bad("serialization.ignore_paths holds a non-string".into()))
            })
            .collect::<Result<_, _>>()?,
    };
    ignore_paths.sort();
    ignore_paths.dedup();
    Ok(Serialization {
        method,
        hash_type,
        allow_symlinks,
        ignore_paths,
    })
}

/// `shard_size` is an integer (tollgate, the spec) or an integral float (model_signing 1.1.1).
fn parse_shard_size(v: Option<&Value>) -> Result<u64, ManifestError> {
    let bad =
        || ManifestError::Invalid("serialization.shard_size must be a positive integer".into());
    let v = v.ok_or_else(bad)?;
    let size = match v.as_u64() {
        Some(n) => n,
        None => {
            let f = v.as_f64().ok_or_else(bad)?;
            if f.fract() != 0.0 || !(1.0..=9.007_199_254_740_992e15).contains(&f) {
                return Err(bad());
            }
            f as u64
        }
    };
    if size == 0 { Err(bad()) } else { Ok(size) }
}

fn parse_resource(r: &Value, ser: &Serialization) -> Result<Resource, ManifestError> {
    let field = |k: &str| {
        r.get(k)
            .and_then(Value::as_str)
            .ok_or_else(|| ManifestError::Invalid(format!("resource {k} missing or not a string")))
    };
    let name = field("name")?;
    let algorithm = field("algorithm")?.to_owned();
    let digest =
        Digest::from_hex(ser.hash_type, field("digest")?).map_err(|err| ManifestError::Digest {
            name: name.to_owned(),
            err,
        })?;
    let key = match ser.method {
        Method::Files => ResourceKey::File {
            path: name.to_owned(),
        },
        Method::Shards { .. } => parse_shard_name(name)?,
    };
    Ok(Resource {
        key,
        algorithm,
        digest,
    })
}

/// `path:start:end`, split at the last two colons (the spec's rule).
fn parse_shard_name(name: &str) -> Result<ResourceKey, ManifestError> {
    let bad = || {
        ManifestError::Invalid(format!(
            "shard resource name {name:?} is not path:start:end"
        ))
    };
    let mut parts = name.rsplitn(3, ':');
    let end = parts.next().and_then(|s| s.parse().ok()).ok_or_else(bad)?;
    let start = parts.next().and_then(|s| s.parse().ok()).ok_or_else(bad)?;
    let path = parts.next().ok_or_else(bad)?;
    if start > end {
        return Err(bad());
    }
    Ok(ResourceKey::Shard {
        path: path.to_owned(),
        start,
        end,
    })
}

/// A resource present on both sides with different digests.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Changed {
    /// Resource name.
    pub name: String,
    /// Digest on the expected side.
    pub expected: Digest,
    /// Digest on the actual side.
    pub actual: Digest,
    /// Algorithm string on the expected side.
    pub expected_algorithm: String,
    /// Algorithm string on the actual side.
    pub actual_algorithm: String,
}

/// The difference between an expected and an actual manifest.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Diff {
    /// In actual, not in expected.
    pub extra: Vec<String>,
    /// In expected, not in actual.
    pub missing: Vec<String>,
    /// In both, with different digests or algorithms.
    pub changed: Vec<Changed>,
}

impl Diff {
    /// No differences.
    pub fn is_empty(&self) -> bool {
        self.extra.is_empty() && self.missing.is_empty() && self.changed.is_empty()
    }
}

impl fmt::Display for Diff {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for n in &self.extra {
            writeln!(f, "{n}: extra file (not in the manifest)")?;
        }
        for n in &self.missing {
            writeln!(f, "{n}: missing (in the manifest, not on disk)")?;
        }
        for c in &self.changed {
            if c.expected_algorithm != c.actual_algorithm {
                writeln!(
                    f,
                    "{}: algorithm mismatch (expected {}, got {})",
                    c.name, c.expected_algorithm, c.actual_algorithm
                )?;
            } else {
                writeln!(
                    f,
                    "{}: digest mismatch (expected {}, got {})",
                    c.name, c.expected, c.actual
                )?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
