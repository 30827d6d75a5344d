//! safetensors format checks: is a `.safetensors` file exactly what its header says, and does a
//! sharded checkpoint's index agree with its shards?
//!
//! Owns the layout rules of the safetensors format as the upstream `safetensors` crate enforces
//! them, and reports every violation instead of stopping at the first:
//!
//! - the 8-byte little-endian header length is bounded (at most [`MAX_HEADER_LEN`] and inside the
//!   file) before anything is allocated, and only the header is read, so a file may be any size;
//! - the header is UTF-8 JSON whose top level is an object with no repeated key (JSON parsers
//!   disagree on which duplicate wins, so one file could mean two things to two loaders);
//! - `__metadata__`, if present, maps strings to strings;
//! - every other entry is a tensor with a known [`Dtype`], a shape and `data_offsets` whose span
//!   is exactly dtype size × element count, computed with checked arithmetic;
//! - the tensors' ranges tile the data region: no overlap, no gap, no trailing bytes.
//!
//! Hugging Face sharded checkpoints add an index (`*.safetensors.index.json`) mapping tensor names
//! to shard files. [`check_index`] confirms every shard is a plain file beside the index that holds
//! the tensors mapped to it, and that no shard carries tensors the index does not send it.

use std::collections::{BTreeMap, HashSet};
use std::fmt;
use std::fs::{self, File};
use std::io::{self, Read};
use std::marker::PhantomData;
use std::path::{Path, PathBuf};

use serde::de::{Deserialize, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

mod index;
pub use index::{IndexCheck, IndexSummary, IndexViolation, check_index};

/// The largest header accepted, in bytes: the upstream crate's limit.
pub const MAX_HEADER_LEN: u64 = 100_000_000;

/// The largest `*.safetensors.index.json` accepted, in bytes.
pub const MAX_INDEX_LEN: u64 = 100_000_000;

/// Bytes of the little-endian header length that starts every file.
const LEN_PREFIX: u64 = 8;

/// A tensor element type, as the upstream crate names them in headers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Dtype {
    /// `BOOL`, one byte.
    Bool,
    /// `F4`: MXFP4 (OCP microscaling), 4 bits.
    F4,
    /// `F6_E2M3`: MXFP6, 6 bits.
    F6E2M3,
    /// `F6_E3M2`: MXFP6, 6 bits.
    F6E3M2,
    /// `U8`.
    U8,
    /// `I8`.
    I8,
    /// `F8_E5M2`.
    F8E5M2,
    /// `F8_E4M3`.
    F8E4M3,
    /// `F8_E8M0`: MX scale factors.
    F8E8M0,
    /// `F8_E4M3FNUZ`.
    F8E4M3Fnuz,
    /// `F8_E5M2FNUZ`.
    F8E5M2Fnuz,
    /// `I16`.
    I16,
    /// `U16`.
    U16,
    /// `F16`.
    F16,
    /// `BF16`.
    Bf16,
    /// `I32`.
    I32,
    /// `U32`.
    U32,
    /// `F32`.
    F32,
    /// `C64`: complex with two 32-bit parts.
    C64,
    /// `F64`.
    F64,
    /// `I64`.
    I64,
    /// `U64`.
    U64,
}

impl Dtype {
    /// Every dtype the upstream crate knows.
    pub const ALL: [Self; 22] = [
        Self::Bool,
        Self::F4,
        Self::F6E2M3,
        Self::F6E3M2,
        Self::U8,
        Self::I8,
        Self::F8E5M2,
        Self::F8E4M3,
        Self::F8E8M0,
        Self::F8E4M3Fnuz,
        Self::F8E5M2Fnuz,
        Self::I16,
        Self::U16,
        Self::F16,
        Self::Bf16,
        Self::I32,
        Self::U32,
        Self::F32,
        Self::C64,
        Self::F64,
        Self::I64,
        Self::U64,
    ];

    /// The name as written in headers (`F32`, `F8_E4M3`, ...).
    pub const fn name(self) -> &'static str {
        match self {
            Self::Bool => "BOOL",
            Self::F4 => "F4",
            Self::F6E2M3 => "F6_E2M3",
            Self::F6E3M2 => "F6_E3M2",
            Self::U8 => "U8",
            Self::I8 => "I8",
            Self::F8E5M2 => "F8_E5M2",
            Self::F8E4M3 => "F8_E4M3",
            Self::F8E8M0 => "F8_E8M0",
            Self::F8E4M3Fnuz => "F8_E4M3FNUZ",
            Self::F8E5M2Fnuz => "F8_E5M2FNUZ",
            Self::I16 => "I16",
            Self::U16 => "U16",
            Self::F16 => "F16",
            Self::Bf16 => "BF16",
            Self::I32 => "I32",
            Self::U32 => "U32",
            Self::F32 => "F32",
            Self::C64 => "C64",
            Self::F64 => "F64",
            Self::I64 => "I64",
            Self::U64 => "U64",
        }
    }

    /// Size of one element in bits (sub-byte types exist, so not bytes).
    pub const fn bits(self) -> u64 {
        match self {
            Self::F4 => 4,
            Self::F6E2M3 | Self::F6E3M2 => 6,
            Self::Bool
            | Self::U8
            | Self::I8
            | Self::F8E5M2
            | Self::F8E4M3
            | Self::F8E8M0
            | Self::F8E4M3Fnuz
            | Self::F8E5M2Fnuz => 8,
            Self::I16 | Self::U16 | Self::F16 | Self::Bf16 => 16,
            Self::I32 | Self::U32 | Self::F32 => 32,
            Self::C64 | Self::F64 | Self::I64 | Self::U64 => 64,
        }
    }

    /// The dtype a header names, if it is one the upstream crate knows (names are case-sensitive).
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|d| d.name() == name)
    }
}

impl fmt::Display for Dtype {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.name())
    }
}

/// One entry of a header, as far as it could be read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TensorInfo {
    /// The entry's key.
    pub name: String,
    /// Its dtype, if present and known.
    pub dtype: Option<Dtype>,
    /// Its shape, if present and well-formed.
    pub shape: Option<Vec<u64>>,
    /// Its `[begin, end)` within the data region, if present and well-formed.
    pub data_offsets: Option<[u64; 2]>,
}

impl TensorInfo {
    /// Number of elements: the product of the shape, if known and representable.
    pub fn elements(&self) -> Option<u64> {
        self.shape
            .as_ref()?
            .iter()
            .try_fold(1u64, |acc, &d| acc.checked_mul(d))
    }
}

/// What a safetensors file holds, as far as its header could be read.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Summary {
    /// The header length the file declares (0 if the file is too short to declare one).
    pub header_bytes: u64,
    /// Bytes after the header; 0 when the header length itself is invalid.
    pub data_bytes: u64,
    /// Every tensor entry, in header order (duplicates included).
    pub tensors: Vec<TensorInfo>,
    /// Tensor count per dtype name, for entries whose dtype is known.
    pub dtypes: BTreeMap<String, u64>,
    /// Total elements over tensors whose shape is known (saturating).
    pub parameters: u64,
    /// The string entries of `__metadata__`.
    pub metadata: BTreeMap<String, String>,
}

/// The outcome of checking one file: a summary and every violation found.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FileCheck {
    /// What the header says.
    pub summary: Summary,
    /// Everything wrong with the file; empty when it is well-formed.
    pub violations: Vec<Violation>,
}

impl FileCheck {
    /// Whether the header was read as a JSON object (so [`Summary::tensors`] is meaningful).
    pub fn header_parsed(&self) -> bool {
        !self.violations.iter().any(Violation::is_header_level)
    }

    fn single(summary: Summary, violation: Violation) -> Self {
        let violations = vec![violation];
        Self {
            summary,
            violations,
        }
    }
}

/// A way a safetensors file breaks the format.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Violation {
    /// Fewer than 8 bytes: no header length.
    #[error("file is {file_len} bytes, too short for the 8-byte header length")]
    TooShort {
        /// The file's size.
        file_len: u64,
    },
    /// The header length is over [`MAX_HEADER_LEN`].
    #[error("header length {len} exceeds the limit of {MAX_HEADER_LEN} bytes")]
    HeaderTooLarge {
        /// The declared length.
        len: u64,
    },
    /// The header length runs past the end of the file.
    #[error("header length {len} exceeds the file ({file_len} bytes)")]
    HeaderBeyondFile {
        /// The declared length.
        len: u64,
        /// The file's size.
        file_len: u64,
    },
    /// The header is not UTF-8.
    #[error("header is not UTF-8 (invalid byte at header offset {offset})")]
    HeaderNotUtf8 {
        /// Offset of the first invalid byte within the header.
        offset: u64,
    },
    /// The header is not JSON.
    #[error("header is not JSON: {reason}")]
    HeaderNotJson {
        /// The parser's complaint.
        reason: String,
    },
    /// The header is JSON but not an object.
    #[error("header is a JSON {found}, not an object")]
    HeaderNotObject {
        /// What it is instead (`array`, `string`, ...).
        found: &'static str,
    },
    /// A key appears twice at the top level of the header.
    #[error("key {key:?} appears more than once in the header; loaders disagree on which wins")]
    DuplicateKey {
        /// The repeated key.
        key: String,
    },
    /// `__metadata__` is not an object.
    #[error("__metadata__ is a JSON {found}, not an object of strings")]
    MetadataNotObject {
        /// What it is instead.
        found: &'static str,
    },
    /// A `__metadata__` value is not a string.
    #[error("__metadata__ {key:?} is a JSON {found}, not a string")]
    MetadataValueNotString {
        /// The metadata key.
        key: String,
        /// What the value is instead.
        found: &'static str,
    },
    /// A tensor entry is not an object.
    #[error("tensor {tensor:?}: entry is a JSON {found}, not an object")]
    TensorNotObject {
        /// The entry's key.
        tensor: String,
        /// What it is instead.
        found: &'static str,
    },
    /// A tensor entry lacks `dtype`, `shape` or `data_offsets`.
    #[error("tensor {tensor:?}: missing {field:?}")]
    MissingField {
        /// The tensor.
        tensor: String,
        /// The missing field.
        field: &'static str,
    },
    /// A tensor field has the wrong JSON form.
    #[error("tensor {tensor:?}: {field} must be {expected}, found {found}")]
    BadField {
        /// The tensor.
        tensor: String,
        /// The field.
        field: &'static str,
        /// What it should be.
        expected: &'static str,
        /// The value found, abbreviated.
        found: String,
    },
    /// A dtype name the format does not define.
    #[error("tensor {tensor:?}: unknown dtype {dtype:?}")]
    UnknownDtype {
        /// The tensor.
        tensor: String,
        /// The name given.
        dtype: String,
    },
    /// The tensor's size in bits does not fit in 64 bits.
    #[error("tensor {tensor:?}: dtype {dtype} × shape {shape:?} overflows 64 bits")]
    ShapeOverflow {
        /// The tensor.
        tensor: String,
        /// Its dtype.
        dtype: Dtype,
        /// Its shape.
        shape: Vec<u64>,
    },
    /// A sub-byte dtype whose elements do not fill whole bytes.
    #[error("tensor {tensor:?}: dtype {dtype} × shape {shape:?} = {bits} bits, not whole bytes")]
    PartialByte {
        /// The tensor.
        tensor: String,
        /// Its dtype.
        dtype: Dtype,
        /// Its shape.
        shape: Vec<u64>,
        /// Its size in bits.
        bits: u64,
    },
    /// The byte range does not match dtype × shape.
    #[error(
        "tensor {tensor:?}: dtype {dtype} × shape {shape:?} = {expected} bytes but data_offsets span {actual} bytes"
    )]
    SizeMismatch {
        /// The tensor.
        tensor: String,
        /// Its dtype.
        dtype: Dtype,
        /// Its shape.
        shape: Vec<u64>,
        /// Bytes dtype × shape needs.
        expected: u64,
        /// Bytes `data_offsets` span.
        actual: u64,
    },
    /// `data_offsets` end before they begin.
    #[error("tensor {tensor:?}: data_offsets [{begin}, {end}] end before they begin")]
    OffsetsReversed {
        /// The tensor.
        tensor: String,
        /// Start.
        begin: u64,
        /// End.
        end: u64,
    },
    /// `data_offsets` reach past the data region: the file is truncated or the offsets lie.
    #[error(
        "tensor {tensor:?}: data_offsets [{begin}, {end}] run past the data region ({data_len} bytes)"
    )]
    OutOfBounds {
        /// The tensor.
        tensor: String,
        /// Start.
        begin: u64,
        /// End.
        end: u64,
        /// Bytes in the data region.
        data_len: u64,
    },
    /// Two tensors share bytes.
    #[error(
        "tensor {tensor:?}: data_offsets [{begin}, {end}] overlap tensor {other:?} [{other_begin}, {other_end}]"
    )]
    Overlap {
        /// The later tensor.
        tensor: String,
        /// Its start.
        begin: u64,
        /// Its end.
        end: u64,
        /// The tensor it overlaps.
        other: String,
        /// That tensor's start.
        other_begin: u64,
        /// That tensor's end.
        other_end: u64,
    },
    /// Bytes between two tensors that belong to neither.
    #[error("data region bytes [{begin}, {end}) belong to no tensor (gap before tensor {next:?})")]
    Gap {
        /// Start of the gap.
        begin: u64,
        /// End of the gap.
        end: u64,
        /// The tensor after it.
        next: String,
    },
    /// Bytes after the last tensor.
    #[error("{} trailing bytes: tensors end at {end} but the data region is {data_len} bytes", data_len.saturating_sub(*end))]
    TrailingBytes {
        /// Where the last tensor ends.
        end: u64,
        /// Bytes in the data region (always more than `end`).
        data_len: u64,
    },
}

impl Violation {
    /// A stable kebab-case identifier for machine consumers.
    pub fn code(&self) -> &'static str {
        match self {
            Self::TooShort { .. } => "too-short",
            Self::HeaderTooLarge { .. } => "header-too-large",
            Self::HeaderBeyondFile { .. } => "header-beyond-file",
            Self::HeaderNotUtf8 { .. } => "header-not-utf8",
            Self::HeaderNotJson { .. } => "header-not-json",
            Self::HeaderNotObject { .. } => "header-not-object",
            Self::DuplicateKey { .. } => "duplicate-key",
            Self::MetadataNotObject { .. } => "metadata-not-object",
            Self::MetadataValueNotString { .. } => "metadata-value-not-string",
            Self::TensorNotObject { .. } => "tensor-not-object",
            Self::MissingField { .. } => "missing-field",
            Self::BadField { .. } => "bad-field",
            Self::UnknownDtype { .. } => "unknown-dtype",
            Self::ShapeOverflow { .. } => "shape-overflow",
            Self::PartialByte { .. } => "partial-byte",
            Self::SizeMismatch { .. } => "size-mismatch",
            Self::OffsetsReversed { .. } => "offsets-reversed",
            Self::OutOfBounds { .. } => "out-of-bounds",
            Self::Overlap { .. } => "overlap",
            Self::Gap { .. } => "gap",
            Self::TrailingBytes { .. } => "trailing-bytes",
        }
    }

    /// The tensor the violation is about, if it is about one.
    pub fn tensor(&self) -> Option<&str> {
        match self {
            Self::TensorNotObject { tensor, .. }
            | Self::MissingField { tensor, .. }
            | Self::BadField { tensor, .. }
            | Self::UnknownDtype { tensor, .. }
            | Self::ShapeOverflow { tensor, .. }
            | Self::PartialByte { tensor, .. }
            | Self::SizeMismatch { tensor, .. }
            | Self::OffsetsReversed { tensor, .. }
            | Self::OutOfBounds { tensor, .. }
            | Self::Overlap { tensor, .. } => Some(tensor),
            Self::Gap { next, .. } => Some(next),
            Self::DuplicateKey { key } => Some(key),
            _ => None,
        }
    }

    /// Whether the header could not be read as an object at all.
    fn is_header_level(&self) -> bool {
        matches!(
            self,
            Self::TooShort { .. }
                | Self::HeaderTooLarge { .. }
                | Self::HeaderBeyondFile { .. }
                | Self::HeaderNotUtf8 { .. }
                | Self::HeaderNotJson { .. }
                | Self::HeaderNotObject { .. }
        )
    }
}

/// Why a file could not be checked at all (as opposed to being checked and found wrong).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SafetensorsError {
    /// Reading failed.
    #[error("{}: {err}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// What the OS said.
        err: io::Error,
    },
}

/// Checks the safetensors file at `path`, reading only its header.
pub fn check_file(path: &Path) -> Result<FileCheck, SafetensorsError> {
    let io_err = |err| SafetensorsError::Io {
        path: path.to_owned(),
        err,
    };
    let file = File::open(path).map_err(io_err)?;
    let len = file.metadata().map_err(io_err)?.len();
    check_reader(file, len).map_err(io_err)
}

/// Checks a safetensors file of `file_len` bytes read from `reader`, which is left just past the
/// header. Only I/O failures are errors; format problems are [`FileCheck::violations`].
pub fn check_reader<R: Read>(mut reader: R, file_len: u64) -> io::Result<FileCheck> {
    if file_len < LEN_PREFIX {
        return Ok(FileCheck::single(
            Summary::default(),
            Violation::TooShort { file_len },
        ));
    }
    let mut prefix = [0u8; LEN_PREFIX as usize];
    reader.read_exact(&mut prefix)?;
    let header_len = u64::from_le_bytes(prefix);
    let summary = Summary {
        header_bytes: header_len,
        ..Summary::default()
    };
    // Both bounds are checked (and both reported) before a byte is allocated for the header.
    let mut violations = Vec::new();
    if header_len > MAX_HEADER_LEN {
        violations.push(Violation::HeaderTooLarge { len: header_len });
    }
    let data_len = LEN_PREFIX
        .checked_add(header_len)
        .and_then(|end| file_len.checked_sub(end));
    if data_len.is_none() {
        let len = header_len;
        violations.push(Violation::HeaderBeyondFile { len, file_len });
    }
    match data_len {
        Some(data_len) if violations.is_empty() => {
            let header = read_exactly(reader, header_len)?;
            Ok(check_header(&header, data_len))
        }
        _ => Ok(FileCheck {
            summary,
            violations,
        }),
    }
}

/// Checks a header (the JSON text, without its length prefix) against a data region of
/// `data_len` bytes.
pub fn check_header(header: &[u8], data_len: u64) -> FileCheck {
    let mut check = FileCheck {
        summary: Summary {
            header_bytes: header.len() as u64,
            data_bytes: data_len,
            ..Summary::default()
        },
        violations: Vec::new(),
    };
    let entries = match parse_object::<Value>(header) {
        Ok(entries) => entries,
        Err(v) => {
            check.violations.push(v);
            return check;
        }
    };
    let mut seen = HashSet::new();
    let mut ranges = Vec::new();
    for (key, value) in &entries {
        if !seen.insert(key.as_str()) {
            let key = key.clone();
            check.violations.push(Violation::DuplicateKey { key });
        }
        if key == "__metadata__" {
            check_metadata(value, &mut check);
            continue;
        }
        let info = check_tensor(key, value, &mut check.violations);
        add_to_summary(&info, &mut check.summary, &mut ranges);
        check.summary.tensors.push(info);
    }
    check_layout(&mut ranges, data_len, &mut check.violations);
    check
}

/// Reads exactly `len` bytes; `len` has been bounded by the caller, so the buffer is too.
fn read_exactly(reader: impl Read, len: u64) -> io::Result<Vec<u8>> {
    let mut buf = Vec::with_capacity(usize::try_from(len).unwrap_or(0));
    reader.take(len).read_to_end(&mut buf)?;
    if (buf.len() as u64) < len {
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "file shrank while being read",
        ));
    }
    Ok(buf)
}

/// Parses a JSON object keeping every entry, duplicates included.
fn parse_object<V: for<'de> Deserialize<'de>>(
    header: &[u8],
) -> Result<Vec<(String, V)>, Violation> {
    let text = std::str::from_utf8(header).map_err(|e| Violation::HeaderNotUtf8 {
        offset: e.valid_up_to() as u64,
    })?;
    match serde_json::from_str::<Json<V>>(text) {
        Ok(Json::Object(entries)) => Ok(entries),
        Ok(Json::Other(found)) => Err(Violation::HeaderNotObject { found }),
        Err(e) => Err(Violation::HeaderNotJson {
            reason: e.to_string(),
        }),
    }
}

fn check_metadata(value: &Value, check: &mut FileCheck) {
    // The upstream crate reads `__metadata__` as an optional map, so `null` means "none".
    let map = match value {
        Value::Object(map) => map,
        Value::Null => return,
        other => {
            let found = json_kind(other);
            check
                .violations
                .push(Violation::MetadataNotObject { found });
            return;
        }
    };
    for (key, value) in map {
        match value {
            Value::String(s) => {
                check.summary.metadata.insert(key.clone(), s.clone());
            }
            other => check.violations.push(Violation::MetadataValueNotString {
                key: key.clone(),
                found: json_kind(other),
            }),
        }
    }
}

fn check_tensor(name: &str, value: &Value, out: &mut Vec<Violation>) -> TensorInfo {
    let mut info = TensorInfo {
        name: name.to_owned(),
        dtype: None,
        shape: None,
        data_offsets: None,
    };
    let Some(obj) = value.as_object() else {
        let found = json_kind(value);
        let tensor = info.name.clone();
        out.push(Violation::TensorNotObject { tensor, found });
        return info;
    };
    info.dtype = field(obj, name, "dtype", out).and_then(|v| parse_dtype(name, v, out));
    info.shape = field(obj, name, "shape", out).and_then(|v| parse_shape(name, v, out));
    info.data_offsets =
        field(obj, name, "data_offsets", out).and_then(|v| parse_offsets(name, v, out));
    if let Some([begin, end]) = info.data_offsets
        && begin > end
    {
        let tensor = info.name.clone();
        out.push(Violation::OffsetsReversed { tensor, begin, end });
    }
    if let (Some(dtype), Some(shape)) = (info.dtype, &info.shape) {
        check_size(name, dtype, shape, info.data_offsets, out);
    }
    info
}

fn field<'v>(
    obj: &'v Map<String, Value>,
    tensor: &str,
    key: &'static str,
    out: &mut Vec<Violation>,
) -> Option<&'v Value> {
    let value = obj.get(key);
    if value.is_none() {
        let tensor = tensor.to_owned();
        out.push(Violation::MissingField { tensor, field: key });
    }
    value
}

fn bad_field(
    tensor: &str,
    field: &'static str,
    expected: &'static str,
    found: &Value,
) -> Violation {
    Violation::BadField {
        tensor: tensor.to_owned(),
        field,
        expected,
        found: abbreviate(found),
    }
}

fn parse_dtype(tensor: &str, value: &Value, out: &mut Vec<Violation>) -> Option<Dtype> {
    let Some(name) = value.as_str() else {
        out.push(bad_field(tensor, "dtype", "a string", value));
        return None;
    };
    let dtype = Dtype::from_name(name);
    if dtype.is_none() {
        let (tensor, dtype) = (tensor.to_owned(), name.to_owned());
        out.push(Violation::UnknownDtype { tensor, dtype });
    }
    dtype
}

fn parse_shape(tensor: &str, value: &Value, out: &mut Vec<Violation>) -> Option<Vec<u64>> {
    let shape = value
        .as_array()
        .and_then(|dims| dims.iter().map(Value::as_u64).collect::<Option<Vec<_>>>());
    if shape.is_none() {
        let expected = "an array of non-negative integers";
        out.push(bad_field(tensor, "shape", expected, value));
    }
    shape
}

fn parse_offsets(tensor: &str, value: &Value, out: &mut Vec<Violation>) -> Option<[u64; 2]> {
    let offsets = match value.as_array().map(Vec::as_slice) {
        Some([begin, end]) => begin.as_u64().zip(end.as_u64()).map(|(b, e)| [b, e]),
        _ => None,
    };
    if offsets.is_none() {
        let expected = "two non-negative integers";
        out.push(bad_field(tensor, "data_offsets", expected, value));
    }
    offsets
}

/// Compares dtype × shape with the span of `data_offsets`, in bits first because some dtypes
/// are narrower than a byte.
fn check_size(
    name: &str,
    dtype: Dtype,
    shape: &[u64],
    offsets: Option<[u64; 2]>,
    out: &mut Vec<Violation>,
) {
    let bits = shape
        .iter()
        .try_fold(dtype.bits(), |acc, &d| acc.checked_mul(d));
    let (tensor, shape) = (name.to_owned(), shape.to_vec());
    let Some(bits) = bits else {
        out.push(Violation::ShapeOverflow {
            tensor,
            dtype,
            shape,
        });
        return;
    };
    if !bits.is_multiple_of(8) {
        out.push(Violation::PartialByte {
            tensor,
            dtype,
            shape,
            bits,
        });
        return;
    }
    let expected = bits / 8;
    if let Some([begin, end]) = offsets
        && let Some(actual) = end.checked_sub(begin)
        && actual != expected
    {
        out.push(Violation::SizeMismatch {
            tensor,
            dtype,
            shape,
            expected,
            actual,
        });
    }
}

/// A tensor's byte range, for the layout check.
struct Range {
    name: String,
    begin: u64,
    end: u64,
}

fn add_to_summary(info: &TensorInfo, summary: &mut Summary, ranges: &mut Vec<Range>) {
    if let Some(dtype) = info.dtype {
        *summary.dtypes.entry(dtype.name().to_owned()).or_default() += 1;
    }
    if let Some(n) = info.elements() {
        summary.parameters = summary.parameters.saturating_add(n);
    }
    if let Some([begin, end]) = info.data_offsets
        && begin <= end
    {
        let name = info.name.clone();
        ranges.push(Range { name, begin, end });
    }
}

/// Checks that the ranges tile `[0, data_len)` exactly. Reversed ranges were already reported
/// and are not passed in.
fn check_layout(ranges: &mut [Range], data_len: u64, out: &mut Vec<Violation>) {
    ranges.sort_by(|a, b| (a.begin, a.end, &a.name).cmp(&(b.begin, b.end, &b.name)));
    // The range that reaches furthest so far: an overlap is reported against it.
    let mut furthest: Option<&Range> = None;
    for r in ranges.iter() {
        if r.end > data_len {
            out.push(Violation::OutOfBounds {
                tensor: r.name.clone(),
                begin: r.begin,
                end: r.end,
                data_len,
            });
        }
        let covered = furthest.map_or(0, |f| f.end);
        if let Some(f) = furthest.filter(|_| r.begin < covered) {
            out.push(Violation::Overlap {
                tensor: r.name.clone(),
                begin: r.begin,
                end: r.end,
                other: f.name.clone(),
                other_begin: f.begin,
                other_end: f.end,
            });
        } else if r.begin > covered {
            out.push(Violation::Gap {
                begin: covered,
                end: r.begin,
                next: r.name.clone(),
            });
        }
        if furthest.is_none() || r.end > covered {
            furthest = Some(r);
        }
    }
    let end = furthest.map_or(0, |f| f.end);
    if end < data_len {
        out.push(Violation::TrailingBytes { end, data_len });
    }
}

/// The JSON type name of a value, for messages.
fn json_kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// A value as compact JSON, cut to a length that fits in one message line.
fn abbreviate(value: &Value) -> String {
    const MAX: usize = 48;
    let text = value.to_string();
    match text.char_indices().nth(MAX) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text,
    }
}

/// A JSON value that keeps an object's entries in order, duplicates included; anything else is
/// reduced to its type name. `serde_json::Value` would silently keep only the last duplicate.
enum Json<V> {
    Object(Vec<(String, V)>),
    Other(&'static str),
}

impl<'de, V: Deserialize<'de>> Deserialize<'de> for Json<V> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(JsonVisitor(PhantomData))
    }
}

struct JsonVisitor<V>(PhantomData<V>);

impl<'de, V: Deserialize<'de>> Visitor<'de> for JsonVisitor<V> {
    type Value = Json<V>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut entries = Vec::new();
        while let Some(entry) = map.next_entry::<String, V>()? {
            entries.push(entry);
        }
        Ok(Json::Object(entries))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Json::Other("array"))
    }

    fn visit_str<E>(self, _: &str) -> Result<Self::Value, E> {
        Ok(Json::Other("string"))
    }

    fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
        Ok(Json::Other("boolean"))
    }

    fn visit_i64<E>(self, _: i64) -> Result<Self::Value, E> {
        Ok(Json::Other("number"))
    }

    fn visit_u64<E>(self, _: u64) -> Result<Self::Value, E> {
        Ok(Json::Other("number"))
    }

    fn visit_f64<E>(self, _: f64) -> Result<Self::Value, E> {
        Ok(Json::Other("number"))
    }

    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(Json::Other("null"))
    }
}

#[cfg(test)]
mod tests;
