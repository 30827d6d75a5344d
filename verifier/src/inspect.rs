//! Inspecting a model: every weight file checked against its format, in one report.
//!
//! Owns the choice of check per file name (`*.safetensors`, `*.safetensors.index.json`,
//! `*.gguf`, case-insensitively; anything else is only listed with its size), and the report's
//! two renderings: [`Report::to_json`], a stable shape for CI, and [`Report`]'s `Display`, a text
//! for people. Files are enumerated by [`crate::walk`] with its default, strict options, so a
//! symlink or special file in the model is an error here as it is when hashing.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

use serde_json::{Value, json};

use crate::gguf::{self, GgufError};
use crate::safetensors::{self, SafetensorsError};
use crate::walk::{self, ModelFile, WalkError, WalkOptions};

/// The `version` field of [`Report::to_json`]; bumped on any incompatible change of shape.
pub const JSON_VERSION: u64 = 1;

/// Which check a file gets, by its name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FileKind {
    /// `*.safetensors`.
    Safetensors,
    /// `*.safetensors.index.json`: a sharded checkpoint's index.
    SafetensorsIndex,
    /// `*.gguf`.
    Gguf,
    /// Anything else: listed, not checked.
    Other,
}

impl FileKind {
    /// The kind a file name calls for (matched case-insensitively: loaders do not care).
    pub fn of(file_name: &str) -> Self {
        let lower = file_name.to_ascii_lowercase();
        if lower.ends_with(".safetensors") {
            Self::Safetensors
        } else if lower.ends_with(".safetensors.index.json") {
            Self::SafetensorsIndex
        } else if lower.ends_with(".gguf") {
            Self::Gguf
        } else {
            Self::Other
        }
    }

    /// The kind's name in reports: `safetensors`, `safetensors-index`, `gguf`, `other`.
    pub const fn name(self) -> &'static str {
        match self {
            Self::Safetensors => "safetensors",
            Self::SafetensorsIndex => "safetensors-index",
            Self::Gguf => "gguf",
            Self::Other => "other",
        }
    }
}

impl fmt::Display for FileKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.name())
    }
}

/// What a file's check found out about it.
#[derive(Clone, Debug, PartialEq)]
pub enum FileSummary {
    /// A safetensors file.
    Safetensors(safetensors::Summary),
    /// A sharded checkpoint's index.
    SafetensorsIndex(safetensors::IndexSummary),
    /// A GGUF file.
    Gguf(gguf::Summary),
    /// Not a weight file: nothing beyond its size.
    Other,
}

impl FileSummary {
    /// The kind of file summarized.
    pub fn kind(&self) -> FileKind {
        match self {
            Self::Safetensors(_) => FileKind::Safetensors,
            Self::SafetensorsIndex(_) => FileKind::SafetensorsIndex,
            Self::Gguf(_) => FileKind::Gguf,
            Self::Other => FileKind::Other,
        }
    }
}

/// One file of the model and what its check found.
#[derive(Clone, Debug, PartialEq)]
pub struct FileReport {
    /// Name relative to the model root, `/`-separated (a single file is named by its own name).
    pub name: String,
    /// Size in bytes.
    pub size: u64,
    /// The check's findings.
    pub summary: FileSummary,
}

/// What is wrong, in the terms of the file's format.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ViolationKind {
    /// In a safetensors file.
    #[error(transparent)]
    Safetensors(safetensors::Violation),
    /// In a sharded checkpoint's index, or between it and its shards.
    #[error(transparent)]
    SafetensorsIndex(safetensors::IndexViolation),
    /// In a GGUF file.
    #[error(transparent)]
    Gguf(gguf::Violation),
}

impl ViolationKind {
    /// A stable kebab-case identifier, unique within the file's kind.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Safetensors(v) => v.code(),
            Self::SafetensorsIndex(v) => v.code(),
            Self::Gguf(v) => v.code(),
        }
    }

    /// The tensor the violation is about, if it is about one.
    pub fn tensor(&self) -> Option<&str> {
        match self {
            Self::Safetensors(v) => v.tensor(),
            Self::SafetensorsIndex(v) => v.tensor(),
            Self::Gguf(v) => v.tensor(),
        }
    }
}

/// One violation: which file, and what. Prints as `file: message`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Violation {
    /// The file's name, as in [`FileReport::name`].
    pub file: String,
    /// What is wrong.
    pub kind: ViolationKind,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", printable(&self.file), self.kind)
    }
}

/// Why a model could not be inspected (as opposed to being inspected and found wrong).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum InspectError {
    /// The model could not be walked (symlink, special file, unreadable directory, ...).
    #[error(transparent)]
    Walk(#[from] WalkError),
    /// A safetensors file or index could not be read.
    #[error(transparent)]
    Safetensors(#[from] SafetensorsError),
    /// A GGUF file could not be read.
    #[error(transparent)]
    Gguf(#[from] GgufError),
}

/// Every file of a model and every violation found in them.
#[derive(Clone, Debug, PartialEq)]
pub struct Report {
    /// The model's name: the base name of the directory or file inspected.
    pub model_name: String,
    /// Every file, sorted by name.
    pub files: Vec<FileReport>,
    /// Every violation, in file order, then in the order the check found them.
    pub violations: Vec<Violation>,
}

/// Inspects the model at `path`: a directory, walked with [`WalkOptions::default`], or a single
/// file. Reads only headers, so weight files of any size are cheap.
pub fn inspect(path: &Path) -> Result<Report, InspectError> {
    let tree = walk::walk(path, &WalkOptions::default())?;
    let mut files = tree.files;
    files.sort_by(|a, b| a.name.cmp(&b.name));
    let mut report = Report {
        model_name: tree.model_name,
        files: Vec::with_capacity(files.len()),
        violations: Vec::new(),
    };
    for file in &files {
        let name = if file.name == "." {
            report.model_name.clone()
        } else {
            file.name.clone()
        };
        let (summary, found) = check(file, &name)?;
        report
            .violations
            .extend(found.into_iter().map(|kind| Violation {
                file: name.clone(),
                kind,
            }));
        report.files.push(FileReport {
            name,
            size: file.size,
            summary,
        });
    }
    Ok(report)
}

/// Runs the check `name` calls for on one file.
fn check(file: &ModelFile, name: &str) -> Result<(FileSummary, Vec<ViolationKind>), InspectError> {
    let base = name.rsplit('/').next().unwrap_or(name);
    Ok(match FileKind::of(base) {
        FileKind::Safetensors => {
            let c = safetensors::check_file(&file.path)?;
            let found = c.violations.into_iter().map(ViolationKind::Safetensors);
            (FileSummary::Safetensors(c.summary), found.collect())
        }
        FileKind::SafetensorsIndex => {
            let c = safetensors::check_index(&file.path)?;
            let found = c
                .violations
                .into_iter()
                .map(ViolationKind::SafetensorsIndex);
            (FileSummary::SafetensorsIndex(c.summary), found.collect())
        }
        FileKind::Gguf => {
            let c = gguf::check_file(&file.path)?;
            let found = c.violations.into_iter().map(ViolationKind::Gguf);
            (FileSummary::Gguf(c.summary), found.collect())
        }
        FileKind::Other => (FileSummary::Other, Vec::new()),
    })
}

impl Report {
    /// Whether no file has a violation.
    pub fn is_clean(&self) -> bool {
        self.violations.is_empty()
    }

    /// Files that got a format check (not [`FileKind::Other`]).
    pub fn checked_files(&self) -> usize {
        let checked = |f: &&FileReport| f.summary.kind() != FileKind::Other;
        self.files.iter().filter(checked).count()
    }

    /// The report as JSON, in a shape CI can rely on (`version` is [`JSON_VERSION`]):
    ///
    /// ```text
    /// {
    ///   "version": 1,
    ///   "model": "m",
    ///   "clean": false,
    ///   "files": [
    ///     {"name": "README", "kind": "other", "size": 2, "clean": true},
    ///     {"name": "model-00001-of-00002.safetensors", "kind": "safetensors", "size": 301,
    ///      "clean": false, "header_bytes": 256, "data_bytes": 37, "tensors": 4,
    ///      "parameters": 14, "dtypes": {"BOOL": 1, "F16": 1, "F32": 1, "I64": 1},
    ///      "metadata": {"format": "np"}},
    ///     {"name": "model.safetensors.index.json", "kind": "safetensors-index", "size": 253,
    ///      "clean": true, "shards": ["model-00001-of-00002.safetensors",
    ///      "model-00002-of-00002.safetensors"], "tensors": 5, "metadata": {"total_size": 42}},
    ///     {"name": "tiny.gguf", "kind": "gguf", "size": 608, "clean": true, "version": 3,
    ///      "tensors": 4, "kv_count": 6, "architecture": "llama", "alignment": 32,
    ///      "data_offset": 480, "parameters": 26, "data_bytes": 90,
    ///      "types": {"F16": 1, "F32": 2, "I32": 1}}
    ///   ],
    ///   "violations": [
    ///     {"file": "model-00001-of-00002.safetensors", "kind": "safetensors",
    ///      "code": "size-mismatch", "tensor": "a",
    ///      "message": "tensor \"a\": dtype F32 × shape [2, 3] = 24 bytes but data_offsets span 20 bytes"}
    ///   ]
    /// }
    /// ```
    ///
    /// Files are sorted by name; `tensor` is `null` when a violation is not about one tensor;
    /// `architecture` and `data_offset` are `null` when unknown; `message` is the text without
    /// the file name. Fields may be added in a version; none is removed or changes meaning.
    pub fn to_json(&self) -> Value {
        let files: Vec<Value> = self.files.iter().map(|f| self.file_json(f)).collect();
        let violations: Vec<Value> = self.violations.iter().map(violation_json).collect();
        json!({
            "version": JSON_VERSION,
            "model": self.model_name,
            "clean": self.is_clean(),
            "files": files,
            "violations": violations,
        })
    }

    fn file_json(&self, file: &FileReport) -> Value {
        let clean = !self.violations.iter().any(|v| v.file == file.name);
        let mut out = json!({
            "name": file.name,
            "kind": file.summary.kind().name(),
            "size": file.size,
            "clean": clean,
        });
        let details = match &file.summary {
            FileSummary::Safetensors(s) => json!({
                "header_bytes": s.header_bytes,
                "data_bytes": s.data_bytes,
                "tensors": s.tensors.len(),
                "parameters": s.parameters,
                "dtypes": s.dtypes,
                "metadata": s.metadata,
            }),
            FileSummary::SafetensorsIndex(s) => json!({
                "shards": s.shards,
                "tensors": s.tensor_count,
                "metadata": s.metadata,
            }),
            FileSummary::Gguf(s) => json!({
                "version": s.version,
                "tensors": s.tensor_count,
                "kv_count": s.kv_count,
                "architecture": s.architecture,
                "alignment": s.alignment,
                "data_offset": s.data_offset,
                "parameters": s.parameters,
                "data_bytes": s.data_bytes,
                "types": s.types,
            }),
            FileSummary::Other => json!({}),
        };
        if let (Value::Object(out), Value::Object(details)) = (&mut out, details) {
            out.extend(details);
        }
        out
    }
}

fn violation_json(v: &Violation) -> Value {
    let kind = match v.kind {
        ViolationKind::Safetensors(_) => FileKind::Safetensors,
        ViolationKind::SafetensorsIndex(_) => FileKind::SafetensorsIndex,
        ViolationKind::Gguf(_) => FileKind::Gguf,
    };
    json!({
        "file": v.file,
        "kind": kind.name(),
        "code": v.kind.code(),
        "tensor": v.kind.tensor(),
        "message": v.kind.to_string(),
    })
}

impl fmt::Display for Report {
    /// A line per file (name, kind, size, what the check found), then the violations.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.files.len();
        writeln!(
            f,
            "{}: {n} file{}, {} checked",
            printable(&self.model_name),
            plural(n),
            self.checked_files()
        )?;
        let width = self.files.iter().map(|x| x.name.chars().count()).max();
        for file in &self.files {
            let name = printable(&file.name);
            let kind = file.summary.kind();
            let width = width.unwrap_or(0);
            write!(f, "  {name:<width$}  {kind:<17}  {:>12} bytes", file.size)?;
            file_details(f, &file.summary)?;
            writeln!(f)?;
        }
        if self.is_clean() {
            return writeln!(f, "no violations");
        }
        let n = self.violations.len();
        writeln!(f, "{n} violation{}:", plural(n))?;
        for v in &self.violations {
            writeln!(f, "  {v}")?;
        }
        Ok(())
    }
}

fn file_details(f: &mut fmt::Formatter<'_>, summary: &FileSummary) -> fmt::Result {
    match summary {
        FileSummary::Safetensors(s) => {
            let n = s.tensors.len();
            write!(f, "  {n} tensor{}, {} parameters", plural(n), s.parameters)?;
            histogram(f, &s.dtypes)
        }
        FileSummary::SafetensorsIndex(s) => {
            let n = s.shards.len();
            write!(f, "  {} tensors in {n} shard{}", s.tensor_count, plural(n))
        }
        FileSummary::Gguf(s) => {
            write!(
                f,
                "  v{}, {} tensors, {} parameters",
                s.version, s.tensor_count, s.parameters
            )?;
            histogram(f, &s.types)?;
            match &s.architecture {
                Some(arch) => write!(f, ", architecture {arch:?}"),
                None => Ok(()),
            }
        }
        FileSummary::Other => Ok(()),
    }
}

fn histogram(f: &mut fmt::Formatter<'_>, counts: &BTreeMap<String, u64>) -> fmt::Result {
    if counts.is_empty() {
        return Ok(());
    }
    let parts: Vec<String> = counts.iter().map(|(k, v)| format!("{k} ×{v}")).collect();
    write!(f, " ({})", parts.join(", "))
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// A name with control characters escaped: file names come from the model, and must not be
/// able to move the cursor or recolor a terminal.
fn printable(name: &str) -> Cow<'_, str> {
    if !name.chars().any(char::is_control) {
        return Cow::Borrowed(name);
    }
    let escape = |c: char| {
        if c.is_control() {
            c.escape_default().to_string()
        } else {
            c.to_string()
        }
    };
    Cow::Owned(name.chars().map(escape).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;
    use std::path::PathBuf;

    fn safetensors(header: &str, data: &[u8]) -> Vec<u8> {
        let mut out = (header.len() as u64).to_le_bytes().to_vec();
        out.extend_from_slice(header.as_bytes());
        out.extend_from_slice(data);
        out
    }

    fn fixture() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../testdata/model-signing/model")
    }

    #[test]
    fn fixture_model_is_clean() {
        let r = inspect(&fixture()).unwrap();
        assert!(r.is_clean(), "{r}");
        assert_eq!(r.files.len(), 9);
        assert_eq!(r.checked_files(), 1);
        let st = r
            .files
            .iter()
            .find(|f| f.name == "model.safetensors")
            .unwrap();
        assert_eq!(st.size, 320);
        let FileSummary::Safetensors(s) = &st.summary else {
            panic!("{:?}", st.summary)
        };
        assert_eq!((s.tensors.len(), s.parameters), (2, 40));
        let j = r.to_json();
        assert_eq!(j["clean"], true);
        assert_eq!(j["model"], "model");
        let st = &j["files"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["name"] == "model.safetensors")
            .unwrap();
        assert_eq!(st["kind"], "safetensors");
        assert_eq!(st["dtypes"]["F32"], 1);
        assert_eq!(st["metadata"]["format"], "pt");
        assert!(r.to_string().ends_with("no violations\n"), "{r}");
    }

    #[test]
    fn single_file_is_named_by_its_name() {
        let r = inspect(&fixture().join("model.safetensors")).unwrap();
        assert!(r.is_clean());
        assert_eq!(r.files[0].name, "model.safetensors");
    }

    #[test]
    fn bad_file_is_reported_with_its_name() {
        let d = tempfile::tempdir().unwrap();
        let h = r#"{"w":{"dtype":"F32","shape":[2,3],"data_offsets":[0,20]}}"#;
        fs::create_dir(d.path().join("sub")).unwrap();
        fs::write(d.path().join("sub/x.safetensors"), safetensors(h, &[0; 20])).unwrap();
        fs::write(d.path().join("w.gguf"), b"GGML").unwrap();
        fs::write(d.path().join("README"), b"hi").unwrap();
        let r = inspect(d.path()).unwrap();
        assert!(!r.is_clean());
        let lines: Vec<String> = r.violations.iter().map(ToString::to_string).collect();
        assert_eq!(
            lines,
            [
                r#"sub/x.safetensors: tensor "w": dtype F32 × shape [2, 3] = 24 bytes but data_offsets span 20 bytes"#,
                r#"w.gguf: magic is "GGML", not "GGUF""#,
            ]
        );
        let j = r.to_json();
        assert_eq!(j["clean"], false);
        assert_eq!(j["violations"][0]["code"], "size-mismatch");
        assert_eq!(j["violations"][0]["tensor"], "w");
        assert_eq!(j["violations"][1]["tensor"], Value::Null);
        assert_eq!(j["violations"][1]["kind"], "gguf");
        let files = j["files"].as_array().unwrap();
        let clean: Vec<_> = files
            .iter()
            .map(|f| (f["name"].as_str().unwrap(), f["clean"].as_bool().unwrap()))
            .collect();
        assert_eq!(
            clean,
            [
                ("README", true),
                ("sub/x.safetensors", false),
                ("w.gguf", false)
            ]
        );
        let text = r.to_string();
        assert!(
            text.contains("2 violations:\n  sub/x.safetensors: tensor \"w\""),
            "{text}"
        );
    }

    #[test]
    fn index_is_checked_against_its_shards() {
        let d = tempfile::tempdir().unwrap();
        let h = r#"{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}"#;
        fs::write(d.path().join("s-1.safetensors"), safetensors(h, &[0])).unwrap();
        let index = r#"{"weight_map":{"a":"s-1.safetensors","b":"s-2.safetensors"}}"#;
        fs::write(d.path().join("model.safetensors.index.json"), index).unwrap();
        let r = inspect(d.path()).unwrap();
        assert_eq!(r.violations.len(), 1, "{r}");
        assert_eq!(r.violations[0].file, "model.safetensors.index.json");
        assert_eq!(r.violations[0].kind.code(), "missing-shard");
        assert_eq!(r.files[0].summary.kind(), FileKind::SafetensorsIndex);
    }

    #[test]
    fn walk_errors_surface() {
        let d = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink("nowhere", d.path().join("link.safetensors")).unwrap();
        let err = inspect(d.path()).unwrap_err();
        assert!(
            matches!(err, InspectError::Walk(WalkError::Symlink { .. })),
            "{err}"
        );
    }

    #[test]
    fn kinds_by_name() {
        assert_eq!(FileKind::of("a.SafeTensors"), FileKind::Safetensors);
        assert_eq!(
            FileKind::of("m.safetensors.index.json"),
            FileKind::SafetensorsIndex
        );
        assert_eq!(FileKind::of("m.gguf"), FileKind::Gguf);
        assert_eq!(FileKind::of("m.safetensors.json"), FileKind::Other);
    }

    #[test]
    fn control_characters_are_escaped() {
        assert_eq!(printable("a\x1b[31mb"), "a\\u{1b}[31mb");
        assert_eq!(printable("notes-ü.md"), "notes-ü.md");
    }
}
