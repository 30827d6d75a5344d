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

// ---------------------------------------------------------------------------------------------
// Sharded checkpoints: `*.safetensors.index.json`.

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

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::io::Cursor;

    /// A safetensors file from header JSON text and data bytes.
    fn file(header: &str, data: &[u8]) -> Vec<u8> {
        file_bytes(header.as_bytes(), data)
    }

    fn file_bytes(header: &[u8], data: &[u8]) -> Vec<u8> {
        let mut out = (header.len() as u64).to_le_bytes().to_vec();
        out.extend_from_slice(header);
        out.extend_from_slice(data);
        out
    }

    fn check_bytes(bytes: &[u8]) -> FileCheck {
        check_reader(Cursor::new(bytes), bytes.len() as u64).unwrap()
    }

    fn codes(check: &FileCheck) -> Vec<&'static str> {
        check.violations.iter().map(Violation::code).collect()
    }

    const VALID: &str = r#"{"__metadata__":{"format":"pt"},"a":{"dtype":"F32","shape":[2,3],"data_offsets":[0,24]},"b":{"dtype":"F16","shape":[4],"data_offsets":[24,32]}}"#;

    #[test]
    fn valid_file_summary() {
        let c = check_bytes(&file(VALID, &[0; 32]));
        assert_eq!(c.violations, []);
        assert!(c.header_parsed());
        let s = &c.summary;
        assert_eq!(s.header_bytes, VALID.len() as u64);
        assert_eq!(s.data_bytes, 32);
        assert_eq!(s.tensors.len(), 2);
        assert_eq!(s.parameters, 10);
        assert_eq!(
            s.dtypes,
            BTreeMap::from([("F16".into(), 1), ("F32".into(), 1)])
        );
        assert_eq!(s.metadata, BTreeMap::from([("format".into(), "pt".into())]));
        assert_eq!(s.tensors[0].data_offsets, Some([0, 24]));
    }

    #[test]
    fn real_fixture_is_clean() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../testdata/model-signing/model/model.safetensors");
        let c = check_file(&path).unwrap();
        assert_eq!(c.violations, []);
        assert_eq!(c.summary.tensors.len(), 2);
        assert_eq!(c.summary.parameters, 40);
        assert_eq!(c.summary.header_bytes + c.summary.data_bytes + 8, 320);
    }

    #[test]
    fn truncated_data_is_out_of_bounds() {
        let c = check_bytes(&file(VALID, &[0; 30]));
        assert_eq!(
            c.violations,
            [Violation::OutOfBounds {
                tensor: "b".into(),
                begin: 24,
                end: 32,
                data_len: 30
            }]
        );
    }

    #[test]
    fn header_length_beyond_file() {
        let mut bytes = 9_999_999u64.to_le_bytes().to_vec();
        bytes.extend_from_slice(b"{}");
        let c = check_bytes(&bytes);
        assert_eq!(
            c.violations,
            [Violation::HeaderBeyondFile {
                len: 9_999_999,
                file_len: 10
            }]
        );
        assert_eq!(
            c.violations[0].to_string(),
            "header length 9999999 exceeds the file (10 bytes)"
        );
    }

    #[test]
    fn header_length_over_limit_allocates_nothing() {
        // Only the 8 length bytes exist; a reader that tried to read the header would fail.
        let len = MAX_HEADER_LEN + 1;
        let c = check_reader(Cursor::new(len.to_le_bytes()), u64::MAX).unwrap();
        assert_eq!(c.violations, [Violation::HeaderTooLarge { len }]);
        // In an 8-byte file it is also beyond the file: both are reported.
        let c = check_bytes(&u64::MAX.to_le_bytes());
        assert_eq!(codes(&c), ["header-too-large", "header-beyond-file"]);
        assert_eq!(
            c.violations[1].to_string(),
            "header length 18446744073709551615 exceeds the file (8 bytes)"
        );
    }

    #[test]
    fn short_file() {
        let c = check_bytes(b"\x02\0\0");
        assert_eq!(c.violations, [Violation::TooShort { file_len: 3 }]);
        assert!(!c.header_parsed());
    }

    #[test]
    fn header_not_json_or_not_utf8() {
        let c = check_bytes(&file("{not json", &[]));
        assert_eq!(codes(&c), ["header-not-json"]);
        let c = check_bytes(&file_bytes(b"{\"a\xff\":1}", &[]));
        assert_eq!(c.violations, [Violation::HeaderNotUtf8 { offset: 3 }]);
    }

    #[test]
    fn header_not_an_object() {
        for (text, found) in [("[]", "array"), ("\"x\"", "string"), ("null", "null")] {
            let c = check_bytes(&file(text, &[]));
            assert_eq!(
                c.violations,
                [Violation::HeaderNotObject { found }],
                "{text}"
            );
        }
    }

    #[test]
    fn empty_object_with_no_data_is_clean() {
        assert_eq!(check_bytes(&file("{}", &[])).violations, []);
        // upstream pads headers with spaces to 8-byte alignment
        assert_eq!(check_bytes(&file("{}      ", &[])).violations, []);
    }

    #[test]
    fn overlapping_tensors() {
        let h = r#"{"a":{"dtype":"U8","shape":[8],"data_offsets":[0,8]},"b":{"dtype":"U8","shape":[8],"data_offsets":[4,12]}}"#;
        let c = check_bytes(&file(h, &[0; 12]));
        let v = &c.violations;
        assert_eq!(codes(&c), ["overlap"], "{v:?}");
        assert_eq!(
            v[0].to_string(),
            r#"tensor "b": data_offsets [4, 12] overlap tensor "a" [0, 8]"#
        );
    }

    #[test]
    fn gap_between_tensors() {
        let h = r#"{"a":{"dtype":"U8","shape":[4],"data_offsets":[0,4]},"b":{"dtype":"U8","shape":[4],"data_offsets":[8,12]}}"#;
        let c = check_bytes(&file(h, &[0; 12]));
        assert_eq!(
            c.violations,
            [Violation::Gap {
                begin: 4,
                end: 8,
                next: "b".into()
            }]
        );
    }

    #[test]
    fn trailing_bytes() {
        let h = r#"{"a":{"dtype":"U8","shape":[4],"data_offsets":[0,4]}}"#;
        let c = check_bytes(&file(h, &[0; 7]));
        assert_eq!(
            c.violations,
            [Violation::TrailingBytes {
                end: 4,
                data_len: 7
            }]
        );
        assert_eq!(
            c.violations[0].to_string(),
            "3 trailing bytes: tensors end at 4 but the data region is 7 bytes"
        );
    }

    #[test]
    fn wrong_dtype_size() {
        let h = r#"{"w":{"dtype":"F32","shape":[2,3],"data_offsets":[0,20]}}"#;
        let c = check_bytes(&file(h, &[0; 20]));
        assert_eq!(codes(&c), ["size-mismatch"]);
        assert_eq!(
            c.violations[0].to_string(),
            r#"tensor "w": dtype F32 × shape [2, 3] = 24 bytes but data_offsets span 20 bytes"#
        );
    }

    #[test]
    fn sub_byte_dtypes_count_bits() {
        let h = r#"{"q":{"dtype":"F4","shape":[3,2],"data_offsets":[0,3]}}"#;
        assert_eq!(check_bytes(&file(h, &[0; 3])).violations, []);
        let h = r#"{"q":{"dtype":"F4","shape":[3],"data_offsets":[0,2]}}"#;
        assert_eq!(codes(&check_bytes(&file(h, &[0; 2]))), ["partial-byte"]);
    }

    #[test]
    fn unknown_dtype_is_reported_and_layout_still_checked() {
        let h = r#"{"w":{"dtype":"F12","shape":[1],"data_offsets":[0,2]}}"#;
        let c = check_bytes(&file(h, &[0; 4]));
        assert_eq!(codes(&c), ["unknown-dtype", "trailing-bytes"]);
        assert_eq!(c.violations[0].tensor(), Some("w"));
    }

    #[test]
    fn shape_product_overflow() {
        let h = r#"{"w":{"dtype":"F64","shape":[4294967296,4294967296],"data_offsets":[0,0]}}"#;
        let c = check_bytes(&file(h, &[]));
        assert_eq!(codes(&c), ["shape-overflow"]);
        let h = r#"{"w":{"dtype":"U8","shape":[18446744073709551615,2],"data_offsets":[0,0]}}"#;
        assert_eq!(codes(&check_bytes(&file(h, &[]))), ["shape-overflow"]);
    }

    #[test]
    fn metadata_with_non_string_value() {
        let h = r#"{"__metadata__":{"ok":"x","n":1}}"#;
        let c = check_bytes(&file(h, &[]));
        assert_eq!(
            c.violations,
            [Violation::MetadataValueNotString {
                key: "n".into(),
                found: "number"
            }]
        );
        assert_eq!(c.summary.metadata.len(), 1);
        let c = check_bytes(&file(r#"{"__metadata__":[]}"#, &[]));
        assert_eq!(codes(&c), ["metadata-not-object"]);
    }

    #[test]
    fn malformed_tensor_fields() {
        let h = r#"{"a":1,"b":{"dtype":7,"shape":[-1],"data_offsets":[0]},"c":{}}"#;
        let c = check_bytes(&file(h, &[]));
        assert_eq!(
            codes(&c),
            [
                "tensor-not-object",
                "bad-field",
                "bad-field",
                "bad-field",
                "missing-field",
                "missing-field",
                "missing-field"
            ]
        );
        assert_eq!(
            c.violations[2].to_string(),
            r#"tensor "b": shape must be an array of non-negative integers, found [-1]"#
        );
    }

    #[test]
    fn reversed_offsets_and_duplicate_keys() {
        let h = r#"{"a":{"dtype":"U8","shape":[0],"data_offsets":[4,0]},"a":{"dtype":"U8","shape":[0],"data_offsets":[0,0]}}"#;
        let c = check_bytes(&file(h, &[]));
        assert_eq!(codes(&c), ["offsets-reversed", "duplicate-key"]);
    }

    #[test]
    fn every_violation_is_reported() {
        let h = r#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,4]},"b":{"dtype":"X","shape":[1],"data_offsets":[2,3]},"c":{"dtype":"U8","shape":[1],"data_offsets":[10,11]}}"#;
        let c = check_bytes(&file(h, &[0; 12]));
        assert_eq!(
            codes(&c),
            [
                "size-mismatch",
                "unknown-dtype",
                "overlap",
                "gap",
                "trailing-bytes"
            ]
        );
    }

    // --- index -------------------------------------------------------------------------------

    fn write(dir: &Path, name: &str, bytes: &[u8]) {
        fs::write(dir.join(name), bytes).unwrap();
    }

    fn shard(names: &[&str]) -> Vec<u8> {
        let entries: Vec<String> = names
            .iter()
            .enumerate()
            .map(|(i, n)| {
                format!(
                    r#""{n}":{{"dtype":"U8","shape":[1],"data_offsets":[{i},{}]}}"#,
                    i + 1
                )
            })
            .collect();
        file(&format!("{{{}}}", entries.join(",")), &vec![0; names.len()])
    }

    fn sharded(index: &str) -> tempfile::TempDir {
        let d = tempfile::tempdir().unwrap();
        write(d.path(), "m-1.safetensors", &shard(&["a", "b"]));
        write(d.path(), "m-2.safetensors", &shard(&["c"]));
        write(d.path(), "m.safetensors.index.json", index.as_bytes());
        d
    }

    fn index_codes(c: &IndexCheck) -> Vec<&'static str> {
        c.violations.iter().map(IndexViolation::code).collect()
    }

    #[test]
    fn valid_index() {
        let d = sharded(
            r#"{"metadata":{"total_size":3},"weight_map":{"a":"m-1.safetensors","b":"m-1.safetensors","c":"m-2.safetensors"}}"#,
        );
        let c = check_index(&d.path().join("m.safetensors.index.json")).unwrap();
        assert_eq!(c.violations, []);
        assert_eq!(c.summary.shards, ["m-1.safetensors", "m-2.safetensors"]);
        assert_eq!(c.summary.tensor_count, 3);
        assert_eq!(c.summary.metadata["total_size"], 3);
    }

    #[test]
    fn index_naming_missing_shard() {
        let d = sharded(
            r#"{"weight_map":{"a":"m-1.safetensors","b":"m-1.safetensors","c":"m-3.safetensors"}}"#,
        );
        let c = check_index(&d.path().join("m.safetensors.index.json")).unwrap();
        assert_eq!(
            c.violations,
            [IndexViolation::MissingShard {
                shard: "m-3.safetensors".into(),
                tensors: 1
            }]
        );
    }

    #[test]
    fn index_tensor_not_in_shard_and_unindexed_tensors() {
        let d = sharded(
            r#"{"weight_map":{"a":"m-1.safetensors","c":"m-1.safetensors","z":"m-2.safetensors"}}"#,
        );
        let c = check_index(&d.path().join("m.safetensors.index.json")).unwrap();
        assert_eq!(
            index_codes(&c),
            [
                "tensor-not-in-shard",
                "unindexed-tensor",
                "tensor-not-in-shard",
                "tensor-in-other-shard"
            ],
            "{:?}",
            c.violations
        );
        assert!(c.violations.contains(&IndexViolation::TensorNotInShard {
            tensor: "z".into(),
            shard: "m-2.safetensors".into()
        }));
    }

    #[test]
    fn index_shard_names_cannot_escape() {
        let d = sharded(
            r#"{"weight_map":{"a":"../m-1.safetensors","b":"/etc/passwd","c":"..","d":"sub\\x"}}"#,
        );
        let c = check_index(&d.path().join("m.safetensors.index.json")).unwrap();
        assert_eq!(index_codes(&c), ["unsafe-shard-name"; 4]);
        assert_eq!(
            c.violations[1].to_string(),
            r#"shard "../m-1.safetensors" (1 tensors) is not a plain file name beside the index"#
        );
    }

    #[test]
    fn index_structure_errors() {
        for (text, code) in [
            ("[1]", "index-not-object"),
            ("{", "index-not-json"),
            ("{}", "missing-weight-map"),
            (r#"{"weight_map":[]}"#, "weight-map-not-object"),
            (r#"{"metadata":1,"weight_map":{}}"#, "metadata-not-object"),
            (r#"{"weight_map":{"a":1}}"#, "shard-not-string"),
            (r#"{"weight_map":{},"weight_map":{}}"#, "duplicate-key"),
        ] {
            let d = sharded(text);
            let c = check_index(&d.path().join("m.safetensors.index.json")).unwrap();
            assert_eq!(index_codes(&c), [code], "{text}");
        }
    }

    #[test]
    fn index_shard_unreadable_or_not_a_file() {
        let d = sharded(r#"{"weight_map":{"a":"bad.safetensors","b":"dir"}}"#);
        write(d.path(), "bad.safetensors", b"junk");
        fs::create_dir(d.path().join("dir")).unwrap();
        let c = check_index(&d.path().join("m.safetensors.index.json")).unwrap();
        assert_eq!(index_codes(&c), ["shard-unreadable", "shard-not-file"]);
    }

    // --- never panic ---------------------------------------------------------------------------

    fn json_value() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::from),
            any::<u64>().prop_map(Value::from),
            any::<i64>().prop_map(Value::from),
            (0u64..64).prop_map(Value::from),
            prop::sample::select(vec!["F32", "F4", "BOOL", "X", "", "__metadata__"])
                .prop_map(Value::from),
        ];
        leaf.prop_recursive(4, 32, 6, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..6).prop_map(Value::from),
                prop::collection::vec((field_name(), inner), 0..6)
                    .prop_map(|kv| Value::Object(kv.into_iter().collect())),
            ]
        })
    }

    fn field_name() -> impl Strategy<Value = String> {
        prop::sample::select(vec![
            "dtype",
            "shape",
            "data_offsets",
            "__metadata__",
            "w",
            "x",
        ])
        .prop_map(str::to_owned)
    }

    /// Tensor-shaped entries with arbitrary numbers, to reach the size and layout checks.
    fn tensor_entry() -> impl Strategy<Value = Value> {
        (
            prop::sample::select(Dtype::ALL.to_vec()),
            prop::collection::vec(prop_oneof![0u64..8, any::<u64>()], 0..4),
            prop_oneof![0u64..64, any::<u64>()],
            prop_oneof![0u64..64, any::<u64>()],
        )
            .prop_map(|(d, shape, b, e)| {
                serde_json::json!({"dtype": d.name(), "shape": shape, "data_offsets": [b, e]})
            })
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
            let _ = check_bytes(&bytes);
        }

        #[test]
        fn arbitrary_headers_never_panic(
            entries in prop::collection::vec(
                (field_name(), prop_oneof![json_value(), tensor_entry()]), 0..8),
            data in prop::collection::vec(any::<u8>(), 0..96),
            declared in prop_oneof![Just(None), any::<u64>().prop_map(Some)],
        ) {
            let header: String = format!("{{{}}}", entries
                .iter()
                .map(|(k, v)| format!("{}:{v}", Value::from(k.as_str())))
                .collect::<Vec<_>>()
                .join(","));
            let mut bytes = file(&header, &data);
            if let Some(len) = declared {
                bytes[..8].copy_from_slice(&len.to_le_bytes());
            }
            let c = check_bytes(&bytes);
            for v in &c.violations {
                prop_assert!(!v.to_string().is_empty());
            }
        }
    }
}
