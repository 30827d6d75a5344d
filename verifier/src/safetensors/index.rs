//! Hugging Face sharded checkpoints: does `*.safetensors.index.json` agree with its shards?
//!
//! The index maps tensor names to shard files beside it. Every shard must be a plain file name
//! (no path), exist, and hold exactly the tensors the index sends it.

use super::*;

/// What a sharded checkpoint's index holds.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct IndexSummary {
    /// The shard file names the index refers to, sorted, each once.
    pub shards: Vec<String>,
    /// Entries in `weight_map`.
    pub tensor_count: u64,
    /// The index's `metadata` object (Hugging Face writes `total_size` there).
    pub metadata: Map<String, Value>,
}

/// The outcome of checking an index: a summary and every violation found.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct IndexCheck {
    /// What the index says.
    pub summary: IndexSummary,
    /// Everything wrong with the index and its shards; empty when they agree.
    pub violations: Vec<IndexViolation>,
}

/// A way a sharded checkpoint's index disagrees with the format or with its shards.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum IndexViolation {
    /// The index is larger than [`MAX_INDEX_LEN`].
    #[error("index is {len} bytes, over the limit of {MAX_INDEX_LEN}")]
    TooLarge {
        /// Its size.
        len: u64,
    },
    /// The index is not JSON.
    #[error("index is not JSON: {reason}")]
    NotJson {
        /// The parser's complaint.
        reason: String,
    },
    /// The index is JSON but not an object.
    #[error("index is a JSON {found}, not an object")]
    NotObject {
        /// What it is instead.
        found: &'static str,
    },
    /// A top-level key appears twice.
    #[error("key {key:?} appears more than once in the index; loaders disagree on which wins")]
    DuplicateKey {
        /// The repeated key.
        key: String,
    },
    /// `metadata` is not an object.
    #[error("\"metadata\" is a JSON {found}, not an object")]
    MetadataNotObject {
        /// What it is instead.
        found: &'static str,
    },
    /// There is no `weight_map`.
    #[error("index has no \"weight_map\"")]
    MissingWeightMap,
    /// `weight_map` is not an object.
    #[error("\"weight_map\" is a JSON {found}, not an object")]
    WeightMapNotObject {
        /// What it is instead.
        found: &'static str,
    },
    /// A tensor is mapped twice.
    #[error("tensor {tensor:?} is mapped more than once in the weight_map")]
    DuplicateTensor {
        /// The tensor.
        tensor: String,
    },
    /// A `weight_map` value is not a string.
    #[error("tensor {tensor:?}: shard is a JSON {found}, not a file name")]
    ShardNotString {
        /// The tensor.
        tensor: String,
        /// What the value is instead.
        found: &'static str,
    },
    /// A shard name that could reach outside the index's directory.
    #[error("shard {shard:?} ({tensors} tensors) is not a plain file name beside the index")]
    UnsafeShardName {
        /// The name.
        shard: String,
        /// Tensors mapped to it.
        tensors: u64,
    },
    /// A shard that does not exist.
    #[error("shard {shard:?} ({tensors} tensors) does not exist")]
    MissingShard {
        /// The name.
        shard: String,
        /// Tensors mapped to it.
        tensors: u64,
    },
    /// A shard that is a directory, symlink or special file.
    #[error("shard {shard:?} is not a regular file")]
    ShardNotFile {
        /// The name.
        shard: String,
    },
    /// A shard whose header cannot be read, so its tensors cannot be checked.
    #[error(
        "shard {shard:?} has an unreadable header; its {tensors} mapped tensors were not checked"
    )]
    ShardUnreadable {
        /// The name.
        shard: String,
        /// Tensors mapped to it.
        tensors: u64,
    },
    /// The index maps a tensor to a shard that does not hold it.
    #[error("tensor {tensor:?} is mapped to shard {shard:?}, which has no such tensor")]
    TensorNotInShard {
        /// The tensor.
        tensor: String,
        /// The shard named.
        shard: String,
    },
    /// A shard holds a tensor the index does not mention.
    #[error("tensor {tensor:?} in shard {shard:?} is not in the weight_map")]
    UnindexedTensor {
        /// The tensor.
        tensor: String,
        /// The shard holding it.
        shard: String,
    },
    /// A shard holds a tensor the index maps to a different shard.
    #[error("tensor {tensor:?} in shard {shard:?} is mapped to shard {mapped:?} by the index")]
    TensorInOtherShard {
        /// The tensor.
        tensor: String,
        /// The shard holding it.
        shard: String,
        /// The shard the index names.
        mapped: String,
    },
}

impl IndexViolation {
    /// A stable kebab-case identifier for machine consumers.
    pub fn code(&self) -> &'static str {
        match self {
            Self::TooLarge { .. } => "index-too-large",
            Self::NotJson { .. } => "index-not-json",
            Self::NotObject { .. } => "index-not-object",
            Self::DuplicateKey { .. } => "duplicate-key",
            Self::MetadataNotObject { .. } => "metadata-not-object",
            Self::MissingWeightMap => "missing-weight-map",
            Self::WeightMapNotObject { .. } => "weight-map-not-object",
            Self::DuplicateTensor { .. } => "duplicate-tensor",
            Self::ShardNotString { .. } => "shard-not-string",
            Self::UnsafeShardName { .. } => "unsafe-shard-name",
            Self::MissingShard { .. } => "missing-shard",
            Self::ShardNotFile { .. } => "shard-not-file",
            Self::ShardUnreadable { .. } => "shard-unreadable",
            Self::TensorNotInShard { .. } => "tensor-not-in-shard",
            Self::UnindexedTensor { .. } => "unindexed-tensor",
            Self::TensorInOtherShard { .. } => "tensor-in-other-shard",
        }
    }

    /// The tensor the violation is about, if it is about one.
    pub fn tensor(&self) -> Option<&str> {
        match self {
            Self::DuplicateTensor { tensor }
            | Self::ShardNotString { tensor, .. }
            | Self::TensorNotInShard { tensor, .. }
            | Self::UnindexedTensor { tensor, .. }
            | Self::TensorInOtherShard { tensor, .. } => Some(tensor),
            _ => None,
        }
    }
}

/// Checks the index at `path` and the headers of the shards it names, which must sit in the
/// same directory.
pub fn check_index(path: &Path) -> Result<IndexCheck, SafetensorsError> {
    let io_err = |err| SafetensorsError::Io {
        path: path.to_owned(),
        err,
    };
    let file = File::open(path).map_err(io_err)?;
    let len = file.metadata().map_err(io_err)?.len();
    let mut check = IndexCheck::default();
    if len > MAX_INDEX_LEN {
        check.violations.push(IndexViolation::TooLarge { len });
        return Ok(check);
    }
    let text = read_exactly(file, len).map_err(io_err)?;
    let Some(weight_map) = parse_index(&text, &mut check) else {
        return Ok(check);
    };
    let dir = path.parent().unwrap_or(Path::new("."));
    check_shards(dir, &weight_map, &mut check)?;
    Ok(check)
}

/// Reads the index JSON into the summary; returns the weight map, tensor → shard, if usable.
fn parse_index(text: &[u8], check: &mut IndexCheck) -> Option<BTreeMap<String, String>> {
    let entries = match serde_json::from_slice::<Json<Json<Value>>>(text) {
        Ok(Json::Object(entries)) => entries,
        Ok(Json::Other(found)) => {
            check.violations.push(IndexViolation::NotObject { found });
            return None;
        }
        Err(e) => {
            let reason = e.to_string();
            check.violations.push(IndexViolation::NotJson { reason });
            return None;
        }
    };
    let mut seen = HashSet::new();
    let mut weight_map = None;
    for (key, value) in entries {
        if !seen.insert(key.clone()) {
            let key = key.clone();
            check.violations.push(IndexViolation::DuplicateKey { key });
        }
        match (key.as_str(), value) {
            ("metadata", Json::Object(entries)) => {
                check.summary.metadata = entries.into_iter().collect()
            }
            ("metadata", Json::Other(found)) => {
                check
                    .violations
                    .push(IndexViolation::MetadataNotObject { found });
            }
            ("weight_map", Json::Object(entries)) => weight_map = Some(entries),
            ("weight_map", Json::Other(found)) => {
                check
                    .violations
                    .push(IndexViolation::WeightMapNotObject { found });
            }
            _ => {}
        }
    }
    if weight_map.is_none() && !seen.contains("weight_map") {
        check.violations.push(IndexViolation::MissingWeightMap);
    }
    weight_map.map(|entries| read_weight_map(entries, check))
}

fn read_weight_map(
    entries: Vec<(String, Value)>,
    check: &mut IndexCheck,
) -> BTreeMap<String, String> {
    check.summary.tensor_count = entries.len() as u64;
    let mut map = BTreeMap::new();
    for (tensor, shard) in entries {
        let Value::String(shard) = shard else {
            let found = json_kind(&shard);
            check
                .violations
                .push(IndexViolation::ShardNotString { tensor, found });
            continue;
        };
        if map.contains_key(&tensor) {
            check
                .violations
                .push(IndexViolation::DuplicateTensor { tensor });
            continue;
        }
        map.insert(tensor, shard);
    }
    let mut shards: Vec<String> = map.values().cloned().collect();
    shards.sort();
    shards.dedup();
    check.summary.shards = shards;
    map
}

/// Checks every shard the weight map names against the tensors mapped to it, and back.
fn check_shards(
    dir: &Path,
    weight_map: &BTreeMap<String, String>,
    check: &mut IndexCheck,
) -> Result<(), SafetensorsError> {
    let mut by_shard: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for (tensor, shard) in weight_map {
        by_shard.entry(shard).or_default().push(tensor);
    }
    for (shard, tensors) in by_shard {
        let Some(held) = shard_tensors(dir, shard, tensors.len() as u64, check)? else {
            continue;
        };
        let lookup: HashSet<&str> = held.iter().map(String::as_str).collect();
        for tensor in &tensors {
            if !lookup.contains(tensor) {
                check.violations.push(IndexViolation::TensorNotInShard {
                    tensor: (*tensor).to_owned(),
                    shard: shard.to_owned(),
                });
            }
        }
        for tensor in &held {
            check_held_tensor(tensor, shard, weight_map, check);
        }
    }
    Ok(())
}

/// The tensor names in a shard's header, in header order, or `None` (with a violation) if they
/// cannot be known.
fn shard_tensors(
    dir: &Path,
    shard: &str,
    mapped: u64,
    check: &mut IndexCheck,
) -> Result<Option<Vec<String>>, SafetensorsError> {
    let name = shard.to_owned();
    if !is_plain_file_name(shard) {
        let v = IndexViolation::UnsafeShardName {
            shard: name,
            tensors: mapped,
        };
        check.violations.push(v);
        return Ok(None);
    }
    let path = dir.join(shard);
    // Not following symlinks: the walk refuses them, and the index must not smuggle one in.
    let meta = match fs::symlink_metadata(&path) {
        Ok(meta) => meta,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            let v = IndexViolation::MissingShard {
                shard: name,
                tensors: mapped,
            };
            check.violations.push(v);
            return Ok(None);
        }
        Err(err) => return Err(SafetensorsError::Io { path, err }),
    };
    if !meta.is_file() {
        check
            .violations
            .push(IndexViolation::ShardNotFile { shard: name });
        return Ok(None);
    }
    let shard_check = check_file(&path)?;
    if !shard_check.header_parsed() {
        let v = IndexViolation::ShardUnreadable {
            shard: name,
            tensors: mapped,
        };
        check.violations.push(v);
        return Ok(None);
    }
    let names = shard_check.summary.tensors.into_iter().map(|t| t.name);
    Ok(Some(names.collect()))
}

fn check_held_tensor(
    tensor: &str,
    shard: &str,
    weight_map: &BTreeMap<String, String>,
    check: &mut IndexCheck,
) {
    let (t, s) = (tensor.to_owned(), shard.to_owned());
    match weight_map.get(tensor) {
        None => check.violations.push(IndexViolation::UnindexedTensor {
            tensor: t,
            shard: s,
        }),
        Some(mapped) if mapped != shard => {
            check.violations.push(IndexViolation::TensorInOtherShard {
                tensor: t,
                shard: s,
                mapped: mapped.clone(),
            });
        }
        Some(_) => {}
    }
}

/// Whether `name` names a file directly inside a directory: one normal path component.
fn is_plain_file_name(name: &str) -> bool {
    !name.is_empty() && name != "." && name != ".." && !name.contains(['/', '\\', '\0'])
}
