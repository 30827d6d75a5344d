//! GGUF header sanity: can a `.gguf` file's header be walked without trusting any length in it,
//! and does every tensor it declares lie inside the file?
//!
//! Owns the GGUF v2/v3 layout (ggml `docs/gguf.md`, little-endian only) and the rules ggml's
//! `gguf.cpp` applies when loading, reported as violations rather than as a refusal to load:
//!
//! - magic `GGUF`, version 2 or 3 (a byte-swapped version means a big-endian file);
//! - `tensor_count` and `metadata_kv_count` no larger than the rest of the file could hold, and
//!   no larger than tollgate's limits ([`MAX_TENSOR_COUNT`], [`MAX_KV_COUNT`]), so memory stays
//!   bounded by what real models need rather than by what a file claims;
//! - every length in the metadata (strings, arrays, nested arrays) checked against the bytes left
//!   before it is skipped; values are skipped, not decoded, except `general.alignment` and
//!   `general.architecture`, and booleans, which must be 0 or 1;
//! - unique non-empty keys, unique tensor names of at most [`MAX_TENSOR_NAME_LEN`] bytes, at most
//!   [`MAX_DIMS`] dimensions, known ggml types, rows a whole number of blocks;
//! - tensor data offsets aligned to `general.alignment` (default [`DEFAULT_ALIGNMENT`]), inside
//!   the file, and not overlapping.
//!
//! String values other than `general.architecture` are bounds-checked but not decoded, so their
//! UTF-8 validity is not checked.

use std::collections::{BTreeMap, HashSet};
use std::fmt;
use std::fs::File;
use std::io::{self, BufReader, Read, Seek};
use std::path::{Path, PathBuf};

/// The first four bytes of every GGUF file.
pub const MAGIC: [u8; 4] = *b"GGUF";

/// Tensor data alignment when `general.alignment` is absent.
pub const DEFAULT_ALIGNMENT: u64 = 32;

/// Most dimensions a tensor may have (ggml's `GGML_MAX_DIMS`).
pub const MAX_DIMS: u32 = 4;

/// Longest tensor name the spec allows, in bytes.
pub const MAX_TENSOR_NAME_LEN: u64 = 64;

/// Most tensors tollgate accepts in one file (real models have a few thousand).
pub const MAX_TENSOR_COUNT: u64 = 1 << 20;

/// Most metadata entries tollgate accepts in one file (real models have a few dozen).
pub const MAX_KV_COUNT: u64 = 1 << 20;

/// Longest metadata key the spec allows, in bytes.
const MAX_KEY_LEN: u64 = 65_535;

/// Deepest nesting of arrays accepted; real files nest at most once.
const MAX_ARRAY_DEPTH: u32 = 8;

/// Smallest possible metadata entry: key length, value type, one-byte value.
const MIN_KV_LEN: u64 = 8 + 4 + 1;

/// Smallest possible tensor info: name length, dimension count, type, offset.
const MIN_TENSOR_INFO_LEN: u64 = 8 + 4 + 4 + 8;

/// Metadata value type ids.
const TYPE_BOOL: u32 = 7;
const TYPE_STRING: u32 = 8;
const TYPE_ARRAY: u32 = 9;
const TYPE_UINT32: u32 = 4;

/// A ggml tensor type id, known or not.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct GgmlType(pub u32);

/// Known ggml types: id, name, elements per block, bytes per block (ggml `type_traits`, with the
/// block layouts of `ggml-common.h`). Removed ids (4, 5, 31–33, 36–38) are absent on purpose.
const GGML_TYPES: [(u32, &str, u64, u64); 35] = [
    (0, "F32", 1, 4),
    (1, "F16", 1, 2),
    (2, "Q4_0", 32, 18),
    (3, "Q4_1", 32, 20),
    (6, "Q5_0", 32, 22),
    (7, "Q5_1", 32, 24),
    (8, "Q8_0", 32, 34),
    (9, "Q8_1", 32, 36),
    (10, "Q2_K", 256, 84),
    (11, "Q3_K", 256, 110),
    (12, "Q4_K", 256, 144),
    (13, "Q5_K", 256, 176),
    (14, "Q6_K", 256, 210),
    (15, "Q8_K", 256, 292),
    (16, "IQ2_XXS", 256, 66),
    (17, "IQ2_XS", 256, 74),
    (18, "IQ3_XXS", 256, 98),
    (19, "IQ1_S", 256, 50),
    (20, "IQ4_NL", 32, 18),
    (21, "IQ3_S", 256, 110),
    (22, "IQ2_S", 256, 82),
    (23, "IQ4_XS", 256, 136),
    (24, "I8", 1, 1),
    (25, "I16", 1, 2),
    (26, "I32", 1, 4),
    (27, "I64", 1, 8),
    (28, "F64", 1, 8),
    (29, "IQ1_M", 256, 56),
    (30, "BF16", 1, 2),
    (34, "TQ1_0", 256, 54),
    (35, "TQ2_0", 256, 66),
    (39, "MXFP4", 32, 17),
    (40, "NVFP4", 64, 36),
    (41, "Q1_0", 128, 18),
    (42, "Q2_0", 64, 18),
];

impl GgmlType {
    fn traits(self) -> Option<(&'static str, u64, u64)> {
        GGML_TYPES
            .iter()
            .find(|t| t.0 == self.0)
            .map(|&(_, name, block, bytes)| (name, block, bytes))
    }

    /// The type's name (`F32`, `Q4_K`, ...), if ggml defines it.
    pub fn name(self) -> Option<&'static str> {
        self.traits().map(|t| t.0)
    }

    /// Elements per block and bytes per block, if ggml defines the type.
    pub fn block(self) -> Option<(u64, u64)> {
        self.traits().map(|t| (t.1, t.2))
    }
}

impl fmt::Display for GgmlType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(name) => f.pad(name),
            None => write!(f, "type {}", self.0),
        }
    }
}

/// One tensor info, as far as it could be read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TensorInfo {
    /// The name (a placeholder like `<tensor #3>` if it could not be read).
    pub name: String,
    /// Dimensions, innermost first; empty if there were more than [`MAX_DIMS`].
    pub dims: Vec<u64>,
    /// The ggml type.
    pub ggml_type: GgmlType,
    /// Offset of the data from the start of the data section.
    pub offset: u64,
    /// Bytes of data, if the type is known and the shape is valid.
    pub size: Option<u64>,
}

impl TensorInfo {
    /// Number of elements: the product of the dimensions, if representable.
    pub fn elements(&self) -> Option<u64> {
        product(&self.dims)
    }
}

fn product(dims: &[u64]) -> Option<u64> {
    dims.iter().try_fold(1u64, |acc, &d| acc.checked_mul(d))
}

/// What a GGUF file's header says, as far as it could be read.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Summary {
    /// Format version.
    pub version: u32,
    /// Tensors the header declares.
    pub tensor_count: u64,
    /// Metadata entries the header declares.
    pub kv_count: u64,
    /// `general.architecture`, if present and a string.
    pub architecture: Option<String>,
    /// `general.alignment` if present, else [`DEFAULT_ALIGNMENT`].
    pub alignment: u64,
    /// Where the data section starts, once the tensor infos have all been read.
    pub data_offset: Option<u64>,
    /// Every tensor info read, in file order.
    pub tensors: Vec<TensorInfo>,
    /// Tensor count per ggml type name, over tensors of known size.
    pub types: BTreeMap<String, u64>,
    /// Total elements over tensors of known size (saturating).
    pub parameters: u64,
    /// Total bytes of tensor data over tensors of known size (saturating).
    pub data_bytes: u64,
}

/// The outcome of checking one file: a summary and every violation found.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FileCheck {
    /// What the header says.
    pub summary: Summary,
    /// Everything wrong with the file; empty when it is well-formed. Violations that make the
    /// rest of the header unreadable end the list.
    pub violations: Vec<Violation>,
}

/// A way a GGUF file breaks the format.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Violation {
    /// Something runs past the end of the file.
    #[error("{what} at byte {offset} runs past the end of the file ({left} bytes left)")]
    Truncated {
        /// What was being read.
        what: String,
        /// Where it starts.
        offset: u64,
        /// Bytes left from there.
        left: u64,
    },
    /// The file does not start with `GGUF`.
    #[error("magic is \"{}\", not \"GGUF\"", found.escape_ascii())]
    BadMagic {
        /// The first four bytes.
        found: [u8; 4],
    },
    /// A version other than 2 or 3.
    #[error("version {version} is not supported (expected 2 or 3)")]
    UnsupportedVersion {
        /// The version read.
        version: u32,
    },
    /// A version whose bytes are swapped: a big-endian file.
    #[error("version {version:#010x} is byte-swapped: big-endian GGUF is not supported")]
    ByteSwapped {
        /// The version read (little-endian).
        version: u32,
    },
    /// A count that the rest of the file could not hold.
    #[error(
        "{field} {count} cannot fit in the file (at least {min_each} bytes each, {left} bytes left)"
    )]
    CountBeyondFile {
        /// `tensor_count` or `metadata_kv_count`.
        field: &'static str,
        /// The count declared.
        count: u64,
        /// Smallest possible size of one item.
        min_each: u64,
        /// Bytes left after the header.
        left: u64,
    },
    /// A count over tollgate's limit.
    #[error("{field} {count} exceeds tollgate's limit of {limit}")]
    CountOverLimit {
        /// `tensor_count` or `metadata_kv_count`.
        field: &'static str,
        /// The count declared.
        count: u64,
        /// The limit.
        limit: u64,
    },
    /// A metadata value type id the format does not define; nothing after it can be located.
    #[error("key {key:?}: unknown value type {value_type}")]
    BadValueType {
        /// The key.
        key: String,
        /// The type id.
        value_type: u32,
    },
    /// A boolean byte other than 0 or 1.
    #[error("key {key:?}: boolean byte {value} is neither 0 nor 1")]
    BadBool {
        /// The key.
        key: String,
        /// The first bad byte.
        value: u8,
    },
    /// A key or name that is not UTF-8.
    #[error("{what} is not valid UTF-8")]
    NotUtf8 {
        /// Which string.
        what: String,
    },
    /// An empty key.
    #[error("key #{index} is empty")]
    EmptyKey {
        /// Position among the metadata entries.
        index: u64,
    },
    /// A key longer than the spec allows.
    #[error("key #{index} is {len} bytes, over the limit of 65535")]
    KeyTooLong {
        /// Position among the metadata entries.
        index: u64,
        /// Its length.
        len: u64,
    },
    /// A key that appears twice.
    #[error("key {key:?} appears more than once; loaders disagree on which wins")]
    DuplicateKey {
        /// The key.
        key: String,
    },
    /// Arrays nested deeper than tollgate follows.
    #[error("key {key:?}: arrays nested more than {MAX_ARRAY_DEPTH} deep")]
    ArrayTooDeep {
        /// The key.
        key: String,
    },
    /// `general.alignment` is not a uint32.
    #[error("general.alignment is a {found}, not a uint32")]
    AlignmentType {
        /// The type it has.
        found: String,
    },
    /// `general.alignment` is not a power of two.
    #[error("general.alignment {value} is not a power of two")]
    BadAlignment {
        /// The value.
        value: u32,
    },
    /// `general.architecture` is not a string.
    #[error("general.architecture is a {found}, not a string")]
    ArchitectureType {
        /// The type it has.
        found: String,
    },
    /// A tensor name longer than [`MAX_TENSOR_NAME_LEN`].
    #[error("tensor #{index}: name is {len} bytes, over the limit of {MAX_TENSOR_NAME_LEN}")]
    NameTooLong {
        /// Position among the tensor infos.
        index: u64,
        /// Its length.
        len: u64,
    },
    /// Two tensors share a name.
    #[error("tensor {tensor:?} appears more than once")]
    DuplicateTensor {
        /// The name.
        tensor: String,
    },
    /// More than [`MAX_DIMS`] dimensions.
    #[error("tensor {tensor:?}: {dims} dimensions, at most {MAX_DIMS} allowed")]
    TooManyDims {
        /// The tensor.
        tensor: String,
        /// Dimensions declared.
        dims: u32,
    },
    /// A ggml type id tollgate does not know.
    #[error("tensor {tensor:?}: unknown ggml type {ggml_type}")]
    UnknownType {
        /// The tensor.
        tensor: String,
        /// The type id.
        ggml_type: u32,
    },
    /// The element count (or the byte size) does not fit in a signed 64-bit integer.
    #[error("tensor {tensor:?}: shape {dims:?} is too large to represent")]
    ShapeOverflow {
        /// The tensor.
        tensor: String,
        /// Its dimensions.
        dims: Vec<u64>,
    },
    /// A row that is not a whole number of quantization blocks.
    #[error(
        "tensor {tensor:?}: {ggml_type} rows of {row} elements are not a whole number of {block}-element blocks"
    )]
    PartialBlock {
        /// The tensor.
        tensor: String,
        /// Its type.
        ggml_type: GgmlType,
        /// Elements per row (the first dimension).
        row: u64,
        /// Elements per block.
        block: u64,
    },
    /// A data offset that is not a multiple of the alignment.
    #[error(
        "tensor {tensor:?}: data offset {offset} is not a multiple of the alignment {alignment}"
    )]
    MisalignedOffset {
        /// The tensor.
        tensor: String,
        /// Its offset in the data section.
        offset: u64,
        /// The alignment.
        alignment: u64,
    },
    /// Tensor data that runs past the end of the file.
    #[error(
        "tensor {tensor:?}: {size} bytes at data offset {offset} (data section at byte {data_start}) run past the end of the file ({file_len} bytes)"
    )]
    TensorBeyondFile {
        /// The tensor.
        tensor: String,
        /// Its offset in the data section.
        offset: u64,
        /// Its size.
        size: u64,
        /// Where the data section starts.
        data_start: u64,
        /// The file's size.
        file_len: u64,
    },
    /// Two tensors share bytes.
    #[error(
        "tensor {tensor:?}: data [{begin}, {end}) overlaps tensor {other:?} [{other_begin}, {other_end})"
    )]
    Overlap {
        /// The later tensor.
        tensor: String,
        /// Its start in the data section.
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
}

impl Violation {
    /// A stable kebab-case identifier for machine consumers.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Truncated { .. } => "truncated",
            Self::BadMagic { .. } => "bad-magic",
            Self::UnsupportedVersion { .. } => "unsupported-version",
            Self::ByteSwapped { .. } => "byte-swapped",
            Self::CountBeyondFile { .. } => "count-beyond-file",
            Self::CountOverLimit { .. } => "count-over-limit",
            Self::BadValueType { .. } => "bad-value-type",
            Self::BadBool { .. } => "bad-bool",
            Self::NotUtf8 { .. } => "not-utf8",
            Self::EmptyKey { .. } => "empty-key",
            Self::KeyTooLong { .. } => "key-too-long",
            Self::DuplicateKey { .. } => "duplicate-key",
            Self::ArrayTooDeep { .. } => "array-too-deep",
            Self::AlignmentType { .. } => "alignment-type",
            Self::BadAlignment { .. } => "bad-alignment",
            Self::ArchitectureType { .. } => "architecture-type",
            Self::NameTooLong { .. } => "name-too-long",
            Self::DuplicateTensor { .. } => "duplicate-tensor",
            Self::TooManyDims { .. } => "too-many-dims",
            Self::UnknownType { .. } => "unknown-type",
            Self::ShapeOverflow { .. } => "shape-overflow",
            Self::PartialBlock { .. } => "partial-block",
            Self::MisalignedOffset { .. } => "misaligned-offset",
            Self::TensorBeyondFile { .. } => "tensor-beyond-file",
            Self::Overlap { .. } => "overlap",
        }
    }

    /// The tensor the violation is about, if it is about one.
    pub fn tensor(&self) -> Option<&str> {
        match self {
            Self::DuplicateTensor { tensor }
            | Self::TooManyDims { tensor, .. }
            | Self::UnknownType { tensor, .. }
            | Self::ShapeOverflow { tensor, .. }
            | Self::PartialBlock { tensor, .. }
            | Self::MisalignedOffset { tensor, .. }
            | Self::TensorBeyondFile { tensor, .. }
            | Self::Overlap { tensor, .. } => Some(tensor),
            _ => None,
        }
    }
}

/// Why a file could not be checked at all (as opposed to being checked and found wrong).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum GgufError {
    /// Reading failed.
    #[error("{}: {err}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// What the OS said.
        err: io::Error,
    },
}

/// Checks the GGUF file at `path`, reading only its header and tensor infos.
pub fn check_file(path: &Path) -> Result<FileCheck, GgufError> {
    let io_err = |err| GgufError::Io {
        path: path.to_owned(),
        err,
    };
    let file = File::open(path).map_err(io_err)?;
    let len = file.metadata().map_err(io_err)?.len();
    check_reader(BufReader::with_capacity(1 << 16, file), len).map_err(io_err)
}

/// Checks a GGUF file of `len` bytes read from `reader`, positioned at its start. Only I/O
/// failures are errors; format problems are [`FileCheck::violations`].
pub fn check_reader<R: Read + Seek>(reader: R, len: u64) -> io::Result<FileCheck> {
    let mut parser = Parser {
        r: Reader {
            inner: reader,
            pos: 0,
            len,
        },
        check: FileCheck::default(),
    };
    parser.check.summary.alignment = DEFAULT_ALIGNMENT;
    match parser.run() {
        Ok(()) => {}
        Err(Stop::Violation(v)) => parser.check.violations.push(v),
        Err(Stop::Io(e)) => return Err(e),
    }
    Ok(parser.check)
}

/// Why parsing stopped early: a violation after which nothing can be located, or I/O.
enum Stop {
    Violation(Violation),
    Io(io::Error),
}

impl From<io::Error> for Stop {
    fn from(e: io::Error) -> Self {
        Self::Io(e)
    }
}

impl From<Violation> for Stop {
    fn from(v: Violation) -> Self {
        Self::Violation(v)
    }
}

/// A reader that knows how many bytes are left and refuses to read or skip past them.
struct Reader<R> {
    inner: R,
    pos: u64,
    len: u64,
}

impl<R: Read + Seek> Reader<R> {
    fn left(&self) -> u64 {
        self.len.saturating_sub(self.pos)
    }

    /// Fails unless `n` more bytes exist; `what` describes them for the violation.
    fn need(&self, n: u64, what: impl FnOnce() -> String) -> Result<(), Stop> {
        if n <= self.left() {
            return Ok(());
        }
        Err(Stop::Violation(Violation::Truncated {
            what: what(),
            offset: self.pos,
            left: self.left(),
        }))
    }

    fn array<const N: usize>(&mut self, what: impl FnOnce() -> String) -> Result<[u8; N], Stop> {
        self.need(N as u64, what)?;
        let mut buf = [0u8; N];
        self.inner.read_exact(&mut buf)?;
        self.pos += N as u64;
        Ok(buf)
    }

    fn u32(&mut self, what: impl FnOnce() -> String) -> Result<u32, Stop> {
        self.array(what).map(u32::from_le_bytes)
    }

    fn u64(&mut self, what: impl FnOnce() -> String) -> Result<u64, Stop> {
        self.array(what).map(u64::from_le_bytes)
    }

    fn fill(&mut self, buf: &mut [u8]) -> Result<(), Stop> {
        self.need(buf.len() as u64, || "data".into())?;
        self.inner.read_exact(buf)?;
        self.pos += buf.len() as u64;
        Ok(())
    }

    fn skip(&mut self, n: u64, what: impl FnOnce() -> String) -> Result<(), Stop> {
        self.need(n, what)?;
        let delta = i64::try_from(n).map_err(|_| io::Error::other("skip too large"))?;
        self.inner.seek_relative(delta)?;
        self.pos += n;
        Ok(())
    }

    /// Reads a string whose length prefix has been read and bounded already.
    fn bytes(&mut self, len: u64) -> Result<Vec<u8>, Stop> {
        let mut buf = Vec::new();
        (&mut self.inner).take(len).read_to_end(&mut buf)?;
        if (buf.len() as u64) < len {
            return Err(io::Error::from(io::ErrorKind::UnexpectedEof).into());
        }
        self.pos += len;
        Ok(buf)
    }
}

struct Parser<R> {
    r: Reader<R>,
    check: FileCheck,
}

impl<R: Read + Seek> Parser<R> {
    fn run(&mut self) -> Result<(), Stop> {
        self.header()?;
        self.metadata()?;
        self.tensor_infos()?;
        self.layout();
        Ok(())
    }

    fn flag(&mut self, v: Violation) {
        self.check.violations.push(v);
    }

    fn header(&mut self) -> Result<(), Stop> {
        let magic = self.r.array(|| "magic".into())?;
        if magic != MAGIC {
            return Err(Violation::BadMagic { found: magic }.into());
        }
        let version = self.r.u32(|| "version".into())?;
        self.check.summary.version = version;
        check_version(version)?;
        let tensors = self.r.u64(|| "tensor_count".into())?;
        let kvs = self.r.u64(|| "metadata_kv_count".into())?;
        self.check.summary.tensor_count = tensors;
        self.check.summary.kv_count = kvs;
        let left = self.r.left();
        check_count("metadata_kv_count", kvs, MIN_KV_LEN, MAX_KV_COUNT, left)?;
        check_count(
            "tensor_count",
            tensors,
            MIN_TENSOR_INFO_LEN,
            MAX_TENSOR_COUNT,
            left,
        )?;
        Ok(())
    }

    fn metadata(&mut self) -> Result<(), Stop> {
        let mut keys = HashSet::new();
        for index in 0..self.check.summary.kv_count {
            let key = self.key(index)?;
            if !keys.insert(key.clone()) {
                self.flag(Violation::DuplicateKey { key: key.clone() });
            }
            let value_type = self.r.u32(|| format!("key {key:?}: value type"))?;
            match key.as_str() {
                "general.alignment" => self.alignment(value_type, &key)?,
                "general.architecture" => self.architecture(value_type, &key)?,
                _ => self.skip_value(value_type, &key)?,
            }
        }
        Ok(())
    }

    /// Reads key number `index`; a key that cannot be used as text gets a placeholder name.
    fn key(&mut self, index: u64) -> Result<String, Stop> {
        let what = || format!("key #{index}");
        let len = self.r.u64(what)?;
        self.r
            .need(len, || format!("key #{index}: string of {len} bytes"))?;
        if len == 0 {
            self.flag(Violation::EmptyKey { index });
        }
        if len > MAX_KEY_LEN {
            self.flag(Violation::KeyTooLong { index, len });
            self.r.skip(len, what)?;
            return Ok(format!("<key #{index}>"));
        }
        let bytes = self.r.bytes(len)?;
        Ok(self.text(bytes, what))
    }

    /// Bytes as text, flagging (and replacing) invalid UTF-8.
    fn text(&mut self, bytes: Vec<u8>, what: impl FnOnce() -> String) -> String {
        String::from_utf8(bytes).unwrap_or_else(|e| {
            self.flag(Violation::NotUtf8 { what: what() });
            String::from_utf8_lossy(e.as_bytes()).into_owned()
        })
    }

    fn alignment(&mut self, value_type: u32, key: &str) -> Result<(), Stop> {
        if value_type != TYPE_UINT32 {
            let found = type_name(value_type);
            self.flag(Violation::AlignmentType { found });
            return self.skip_value(value_type, key);
        }
        let value = self.r.u32(|| "general.alignment".into())?;
        if !value.is_power_of_two() {
            self.flag(Violation::BadAlignment { value });
        }
        self.check.summary.alignment = u64::from(value);
        Ok(())
    }

    fn architecture(&mut self, value_type: u32, key: &str) -> Result<(), Stop> {
        if value_type != TYPE_STRING {
            let found = type_name(value_type);
            self.flag(Violation::ArchitectureType { found });
            return self.skip_value(value_type, key);
        }
        let what = || "general.architecture".to_owned();
        let len = self.r.u64(what)?;
        self.r.need(len, || {
            format!("general.architecture: string of {len} bytes")
        })?;
        // Architecture names are short; a long one is kept out of memory (and the summary).
        if len > MAX_KEY_LEN {
            return self.r.skip(len, what);
        }
        let bytes = self.r.bytes(len)?;
        self.check.summary.architecture = Some(self.text(bytes, what));
        Ok(())
    }

    fn skip_value(&mut self, value_type: u32, key: &str) -> Result<(), Stop> {
        match value_type {
            TYPE_ARRAY => self.skip_array(key, 0),
            TYPE_STRING => self.skip_string(key),
            TYPE_BOOL => self.check_bools(1, key),
            t => match fixed_size(t) {
                Some(n) => self.r.skip(n, || format!("key {key:?}: {}", type_name(t))),
                None => Err(bad_type(key, t)),
            },
        }
    }

    fn skip_string(&mut self, key: &str) -> Result<(), Stop> {
        let len = self.r.u64(|| format!("key {key:?}: string length"))?;
        self.r
            .skip(len, || format!("key {key:?}: string of {len} bytes"))
    }

    fn skip_array(&mut self, key: &str, depth: u32) -> Result<(), Stop> {
        if depth >= MAX_ARRAY_DEPTH {
            return Err(Violation::ArrayTooDeep { key: key.into() }.into());
        }
        let elem = self.r.u32(|| format!("key {key:?}: array type"))?;
        let n = self.r.u64(|| format!("key {key:?}: array length"))?;
        let what = || format!("key {key:?}: array of {n} {}", type_name(elem));
        match elem {
            // Variable-size elements: bound the count by each one's smallest size, then walk.
            TYPE_STRING => {
                self.r.need(n.saturating_mul(8), what)?;
                (0..n).try_for_each(|_| self.skip_string(key))
            }
            TYPE_ARRAY => {
                self.r.need(n.saturating_mul(4 + 8), what)?;
                (0..n).try_for_each(|_| self.skip_array(key, depth + 1))
            }
            TYPE_BOOL => self.check_bools(n, key),
            t => match fixed_size(t) {
                Some(size) => self.r.skip(n.saturating_mul(size), what),
                None => Err(bad_type(key, t)),
            },
        }
    }

    /// Reads `n` booleans in chunks, flagging the first byte that is neither 0 nor 1.
    fn check_bools(&mut self, n: u64, key: &str) -> Result<(), Stop> {
        self.r.need(n, || format!("key {key:?}: {n} bool"))?;
        let mut buf = [0u8; 4096];
        let mut bad = None;
        let mut left = n;
        while left > 0 {
            let chunk = buf.len().min(usize::try_from(left).unwrap_or(usize::MAX));
            let part = buf.get_mut(..chunk).unwrap_or_default();
            self.r.fill(part)?;
            bad = bad.or_else(|| part.iter().copied().find(|&b| b > 1));
            left -= chunk as u64;
        }
        if let Some(value) = bad {
            let key = key.to_owned();
            self.flag(Violation::BadBool { key, value });
        }
        Ok(())
    }

    fn tensor_infos(&mut self) -> Result<(), Stop> {
        let mut names = HashSet::new();
        for index in 0..self.check.summary.tensor_count {
            let name = self.tensor_name(index)?;
            if !names.insert(name.clone()) {
                let tensor = name.clone();
                self.flag(Violation::DuplicateTensor { tensor });
            }
            let info = self.tensor_info(name)?;
            self.add_to_summary(&info);
            self.check.summary.tensors.push(info);
        }
        Ok(())
    }

    fn tensor_name(&mut self, index: u64) -> Result<String, Stop> {
        let what = || format!("tensor #{index}: name");
        let len = self.r.u64(what)?;
        self.r
            .need(len, || format!("tensor #{index}: name of {len} bytes"))?;
        if len > MAX_TENSOR_NAME_LEN {
            self.flag(Violation::NameTooLong { index, len });
            self.r.skip(len, what)?;
            return Ok(format!("<tensor #{index}>"));
        }
        let bytes = self.r.bytes(len)?;
        Ok(self.text(bytes, what))
    }

    fn tensor_info(&mut self, name: String) -> Result<TensorInfo, Stop> {
        let n_dims = self.r.u32(|| format!("tensor {name:?}: n_dimensions"))?;
        let what = || format!("tensor {name:?}: {n_dims} dimensions");
        self.r.need(u64::from(n_dims) * 8, what)?;
        let mut dims = Vec::new();
        if n_dims > MAX_DIMS {
            let tensor = name.clone();
            self.flag(Violation::TooManyDims {
                tensor,
                dims: n_dims,
            });
            // Not kept: the count is bounded by the file, not by memory anyone should spend.
            self.r.skip(u64::from(n_dims) * 8, what)?;
        } else {
            for _ in 0..n_dims {
                dims.push(self.r.u64(what)?);
            }
        }
        let ggml_type = GgmlType(self.r.u32(|| format!("tensor {name:?}: type"))?);
        let offset = self.r.u64(|| format!("tensor {name:?}: offset"))?;
        let size = if n_dims <= MAX_DIMS {
            self.tensor_size(&name, &dims, ggml_type)
        } else {
            None
        };
        Ok(TensorInfo {
            name,
            dims,
            ggml_type,
            offset,
            size,
        })
    }

    /// Bytes of a tensor's data, flagging why they cannot be known.
    fn tensor_size(&mut self, name: &str, dims: &[u64], ty: GgmlType) -> Option<u64> {
        // ggml holds element counts in int64_t.
        let elements = product(dims).filter(|&n| i64::try_from(n).is_ok());
        let overflow = |dims: &[u64]| Violation::ShapeOverflow {
            tensor: name.to_owned(),
            dims: dims.to_vec(),
        };
        let Some(elements) = elements else {
            self.flag(overflow(dims));
            return None;
        };
        let Some((block, block_bytes)) = ty.block() else {
            let tensor = name.to_owned();
            self.flag(Violation::UnknownType {
                tensor,
                ggml_type: ty.0,
            });
            return None;
        };
        let row = dims.first().copied().unwrap_or(1);
        if !row.is_multiple_of(block) {
            let tensor = name.to_owned();
            self.flag(Violation::PartialBlock {
                tensor,
                ggml_type: ty,
                row,
                block,
            });
            return None;
        }
        let size = (elements / block).checked_mul(block_bytes);
        if size.is_none() {
            self.flag(overflow(dims));
        }
        size
    }

    fn add_to_summary(&mut self, info: &TensorInfo) {
        let s = &mut self.check.summary;
        let Some(size) = info.size else {
            return;
        };
        if let Some(name) = info.ggml_type.name() {
            *s.types.entry(name.to_owned()).or_default() += 1;
        }
        s.parameters = s.parameters.saturating_add(info.elements().unwrap_or(0));
        s.data_bytes = s.data_bytes.saturating_add(size);
    }

    /// Checks where tensor data lies, once every tensor info has been read.
    fn layout(&mut self) {
        let alignment = self.check.summary.alignment;
        // An invalid alignment is already flagged; checking offsets against it would only
        // repeat that violation once per tensor.
        let align = if alignment.is_power_of_two() {
            alignment
        } else {
            1
        };
        let end_of_infos = self.r.pos;
        let data_start = match self.check.summary.tensor_count {
            0 => end_of_infos,
            _ => end_of_infos.div_ceil(align).saturating_mul(align),
        };
        self.check.summary.data_offset = Some(data_start);
        let mut ranges = Vec::new();
        let mut found = Vec::new();
        for t in &self.check.summary.tensors {
            if !t.offset.is_multiple_of(align) {
                found.push(Violation::MisalignedOffset {
                    tensor: t.name.clone(),
                    offset: t.offset,
                    alignment,
                });
            }
            let Some(size) = t.size else { continue };
            let end = t.offset.checked_add(size);
            let file_end = end.and_then(|e| e.checked_add(data_start));
            match (end, file_end) {
                (Some(end), Some(file_end)) if file_end <= self.r.len => {
                    ranges.push((t.offset, end, t.name.as_str()));
                }
                _ => found.push(Violation::TensorBeyondFile {
                    tensor: t.name.clone(),
                    offset: t.offset,
                    size,
                    data_start,
                    file_len: self.r.len,
                }),
            }
        }
        overlaps(&mut ranges, &mut found);
        self.check.violations.extend(found);
    }
}

/// Flags tensors whose data shares bytes with an earlier one. Empty tensors share nothing,
/// and ggml legitimately gives them the same offset as the next tensor.
fn overlaps(ranges: &mut [(u64, u64, &str)], out: &mut Vec<Violation>) {
    ranges.sort();
    let mut furthest: Option<(u64, u64, &str)> = None;
    for &(begin, end, name) in ranges.iter().filter(|r| r.0 < r.1) {
        if let Some((other_begin, other_end, other)) = furthest
            && begin < other_end
        {
            out.push(Violation::Overlap {
                tensor: name.to_owned(),
                begin,
                end,
                other: other.to_owned(),
                other_begin,
                other_end,
            });
        }
        if furthest.is_none_or(|f| end > f.1) {
            furthest = Some((begin, end, name));
        }
    }
}

fn check_version(version: u32) -> Result<(), Violation> {
    match version {
        2 | 3 => Ok(()),
        // A big-endian v3 file reads as 0x03000000 here: its low half is all zeros.
        v if v != 0 && v & 0xFFFF == 0 => Err(Violation::ByteSwapped { version: v }),
        v => Err(Violation::UnsupportedVersion { version: v }),
    }
}

fn check_count(
    field: &'static str,
    count: u64,
    min_each: u64,
    limit: u64,
    left: u64,
) -> Result<(), Violation> {
    if count.saturating_mul(min_each) > left {
        return Err(Violation::CountBeyondFile {
            field,
            count,
            min_each,
            left,
        });
    }
    if count > limit {
        return Err(Violation::CountOverLimit {
            field,
            count,
            limit,
        });
    }
    Ok(())
}

fn bad_type(key: &str, value_type: u32) -> Stop {
    Violation::BadValueType {
        key: key.to_owned(),
        value_type,
    }
    .into()
}

/// Bytes of a fixed-size metadata value type.
fn fixed_size(value_type: u32) -> Option<u64> {
    match value_type {
        0 | 1 | TYPE_BOOL => Some(1),
        2 | 3 => Some(2),
        TYPE_UINT32 | 5 | 6 => Some(4),
        10..=12 => Some(8),
        _ => None,
    }
}

fn type_name(value_type: u32) -> String {
    const NAMES: [&str; 13] = [
        "uint8", "int8", "uint16", "int16", "uint32", "int32", "float32", "bool", "string",
        "array", "uint64", "int64", "float64",
    ];
    usize::try_from(value_type)
        .ok()
        .and_then(|i| NAMES.get(i))
        .map_or_else(|| format!("type {value_type}"), |n| (*n).to_owned())
}

#[cfg(test)]
mod tests;
