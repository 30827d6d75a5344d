//! The member index of a plain (uncompressed) tar file, read from its headers only.
//!
//! This module owns tar parsing: POSIX ustar (with the `prefix` field), pax extended headers
//! (`path`, `linkpath`, `size`) and GNU long names (`L`, `K`) and base-256 sizes. It never
//! extracts anything: an uncompressed member is a byte range of the tar file, so callers hash
//! it in place with [`Archive::work_item`] and read small members with [`Archive::read`].
//!
//! What is refused, for the whole archive, because an image archive has no use for it and a
//! reader that picks one interpretation can be fooled: a compressed file (decompress it
//! first), absolute member names and names with `..`, two members with the same name (tar
//! readers disagree on which one wins), a member whose data runs past the end of the file,
//! bad header checksums, oversized pax or long-name records (1 MiB, 64 KiB) and names longer
//! than 4096 bytes, and more than [`MAX_MEMBERS`] members. Links and other special members are
//! indexed but never followed: using one as a blob is the caller's problem to report.

use std::collections::HashMap;
use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt as _;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use crate::digest::engine::{HashError, WorkItem};

/// Most members an archive may have (an image archive has a few per layer).
pub const MAX_MEMBERS: usize = 100_000;
/// Longest member name or link target, in bytes (Linux `PATH_MAX`).
const MAX_NAME: usize = 4096;
/// Largest pax extended header read.
const MAX_PAX: u64 = 1 << 20;
/// Largest GNU long name or long link record read.
const MAX_LONG_NAME: u64 = 64 << 10;
const BLOCK: u64 = 512;

/// Why an archive cannot be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ArchiveError {
    /// Opening or reading the archive failed.
    #[error("{}: cannot read: {err}", path.display())]
    Io {
        /// The archive.
        path: PathBuf,
        /// What the OS said.
        err: io::Error,
    },
    /// The archive path is a directory or another non-regular file.
    #[error("{}: not a regular file (an archive is a tar file; use oci:DIR for a layout directory)", path.display())]
    NotAFile {
        /// The path.
        path: PathBuf,
    },
    /// The archive is compressed.
    #[error(
        "{}: is {format}-compressed; tollgate hashes members in place and needs a plain tar: decompress it first (e.g. `{tool} -dk FILE`)",
        path.display()
    )]
    Compressed {
        /// The archive.
        path: PathBuf,
        /// `gzip`, `zstd`, `xz` or `bzip2`.
        format: &'static str,
        /// The command that decompresses it.
        tool: &'static str,
    },
    /// A header is not valid tar.
    #[error("{}: not a valid tar archive at byte {offset}: {what}", path.display())]
    Malformed {
        /// The archive.
        path: PathBuf,
        /// Offset of the bad header.
        offset: u64,
        /// What is wrong.
        what: String,
    },
    /// A member's data runs past the end of the file.
    #[error(
        "{}: member {name:?} claims {size} bytes at offset {offset}, past the end of the {len}-byte file (truncated archive?)",
        path.display()
    )]
    Truncated {
        /// The archive.
        path: PathBuf,
        /// The member.
        name: String,
        /// Where its data starts.
        offset: u64,
        /// Its size.
        size: u64,
        /// The file's size.
        len: u64,
    },
    /// A member name is absolute, has `..`, is not UTF-8 or is too long.
    #[error("{}: member name {name:?} {what}; refusing the archive", path.display())]
    Name {
        /// The archive.
        path: PathBuf,
        /// The name (lossily decoded, shortened).
        name: String,
        /// What is wrong.
        what: &'static str,
    },
    /// Two members have the same name.
    #[error(
        "{}: member {name:?} appears twice; tar readers disagree on which copy wins, so the archive is refused",
        path.display()
    )]
    Duplicate {
        /// The archive.
        path: PathBuf,
        /// The name.
        name: String,
    },
    /// Too many members.
    #[error("{}: more than {MAX_MEMBERS} members", path.display())]
    TooManyMembers {
        /// The archive.
        path: PathBuf,
    },
    /// A member cannot be used as a file.
    #[error("{}: member {name:?} {what}", path.display())]
    Member {
        /// The archive.
        path: PathBuf,
        /// The member.
        name: String,
        /// What is wrong, e.g. `is a symlink to x; links inside archives are not followed`.
        what: String,
    },
    /// The archive changed while it was read.
    #[error(transparent)]
    Changed(#[from] HashError),
}

/// What a member is.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum MemberKind {
    /// A regular file (types `0`, NUL, `7`).
    File,
    /// A directory.
    Directory,
    /// A symbolic link to the target.
    Symlink(String),
    /// A hard link to another member.
    HardLink(String),
    /// Anything else (devices, fifos, GNU sparse files ...): the type flag.
    Other(u8),
}

impl MemberKind {
    /// Why a member of this kind cannot stand for a file's bytes; `None` for a file.
    pub fn not_a_file(&self) -> Option<String> {
        match self {
            Self::File => None,
            Self::Directory => Some("is a directory".into()),
            Self::Symlink(t) => Some(format!(
                "is a symlink to {t:?}; links inside archives are not followed"
            )),
            Self::HardLink(t) => Some(format!(
                "is a hard link to {t:?}; links inside archives are not followed"
            )),
            Self::Other(flag) => Some(format!(
                "is a special member (tar type {:?}), not a regular file",
                char::from(*flag)
            )),
        }
    }
}

/// One member: its normalized name, kind and the byte range of its data.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Member {
    name: String,
    kind: MemberKind,
    offset: u64,
    size: u64,
}

impl Member {
    /// The name, normalized: no leading `./`, no empty or `.` components, no trailing `/`.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// What it is.
    pub fn kind(&self) -> &MemberKind {
        &self.kind
    }

    /// Offset of its data in the tar file.
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// Its size in bytes (0 for links, directories and other header-only members).
    pub fn size(&self) -> u64 {
        self.size
    }
}

/// An indexed tar file.
#[derive(Debug)]
pub struct Archive {
    path: PathBuf,
    file: File,
    len: u64,
    modified: Option<SystemTime>,
    members: Vec<Member>,
    by_name: HashMap<String, usize>,
}

impl Archive {
    /// Opens `path` and reads every header.
    pub fn open(path: &Path) -> Result<Self, ArchiveError> {
        let io_err = |err| ArchiveError::Io {
            path: path.to_owned(),
            err,
        };
        let file = File::open(path).map_err(io_err)?;
        let meta = file.metadata().map_err(io_err)?;
        if !meta.is_file() {
            return Err(ArchiveError::NotAFile {
                path: path.to_owned(),
            });
        }
        let mut archive = Self {
            path: path.to_owned(),
            file,
            len: meta.len(),
            modified: meta.modified().ok(),
            members: Vec::new(),
            by_name: HashMap::new(),
        };
        archive.check_not_compressed()?;
        archive.index()?;
        archive.check_unchanged()?;
        Ok(archive)
    }

    /// The tar file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Every member, in archive order.
    pub fn members(&self) -> &[Member] {
        &self.members
    }

    /// The member named `name` (normalized as member names are; an unsafe name finds nothing).
    pub fn get(&self, name: &str) -> Option<&Member> {
        let name = normalize(name.as_bytes()).ok()?;
        self.by_name.get(&name).map(|&i| &self.members[i])
    }

    /// The member as a regular file, or why it is not one.
    pub fn file_member(&self, member: &Member) -> Result<(), ArchiveError> {
        match member.kind.not_a_file() {
            None => Ok(()),
            Some(what) => Err(self.member_error(member, what)),
        }
    }

    /// Reads a regular-file member of at most `limit` bytes, checking afterwards that the
    /// archive did not change since it was indexed.
    pub fn read(&self, member: &Member, limit: u64) -> Result<Vec<u8>, ArchiveError> {
        self.file_member(member)?;
        if member.size > limit {
            let what = format!("is {} bytes, over the {limit}-byte limit", member.size);
            return Err(self.member_error(member, what));
        }
        let mut bytes = vec![0; member.size as usize];
        self.read_at(&mut bytes, member.offset)?;
        self.check_unchanged()?;
        Ok(bytes)
    }

    /// The engine work item hashing a member's bytes in place. Its file size and mtime are the
    /// archive's as indexed, so a change to the archive since is an error, never a digest.
    pub fn work_item(&self, member: &Member) -> WorkItem {
        WorkItem {
            path: self.path.clone(),
            start: member.offset,
            end: member.offset + member.size,
            file_size: self.len,
            modified: self.modified,
        }
    }

    /// The archive path joined with a member name, for messages (`x.tar/blobs/sha256/…`).
    pub fn display_path(&self, name: &str) -> PathBuf {
        self.path.join(name)
    }

    fn member_error(&self, member: &Member, what: String) -> ArchiveError {
        ArchiveError::Member {
            path: self.path.clone(),
            name: member.name.clone(),
            what,
        }
    }

    fn read_at(&self, buf: &mut [u8], offset: u64) -> Result<(), ArchiveError> {
        self.file
            .read_exact_at(buf, offset)
            .map_err(|err| match err.kind() {
                io::ErrorKind::UnexpectedEof => HashError::Changed {
                    path: self.path.clone(),
                    what: "it shrank while being read".into(),
                }
                .into(),
                _ => ArchiveError::Io {
                    path: self.path.clone(),
                    err,
                },
            })
    }

    fn check_unchanged(&self) -> Result<(), ArchiveError> {
        let meta = self.file.metadata().map_err(|err| ArchiveError::Io {
            path: self.path.clone(),
            err,
        })?;
        let what = if meta.len() != self.len {
            format!("size {} -> {} bytes", self.len, meta.len())
        } else if meta.modified().ok() != self.modified {
            "modification time changed".to_owned()
        } else {
            return Ok(());
        };
        Err(HashError::Changed {
            path: self.path.clone(),
            what,
        }
        .into())
    }

    fn check_not_compressed(&self) -> Result<(), ArchiveError> {
        let mut magic = [0u8; 6];
        let n = (self.len as usize).min(magic.len());
        self.read_at(&mut magic[..n], 0)?;
        let (format, tool) = match magic {
            [0x1f, 0x8b, ..] => ("gzip", "gzip"),
            [0x28, 0xb5, 0x2f, 0xfd, ..] => ("zstd", "zstd"),
            [0xfd, b'7', b'z', b'X', b'Z', 0] => ("xz", "xz"),
            [b'B', b'Z', b'h', ..] => ("bzip2", "bzip2"),
            _ => return Ok(()),
        };
        Err(ArchiveError::Compressed {
            path: self.path.clone(),
            format,
            tool,
        })
    }

    fn malformed(&self, offset: u64, what: impl Into<String>) -> ArchiveError {
        ArchiveError::Malformed {
            path: self.path.clone(),
            offset,
            what: what.into(),
        }
    }

    /// Reads headers from the start until the end-of-archive block (or the end of the file
    /// at a block boundary).
    fn index(&mut self) -> Result<(), ArchiveError> {
        let mut offset = 0u64;
        let mut pending = Extended::default();
        loop {
            if offset + BLOCK > self.len {
                if offset == self.len && pending.is_empty() {
                    return Ok(());
                }
                return Err(self.malformed(offset, "the file ends inside a header"));
            }
            let mut header = [0u8; BLOCK as usize];
            self.read_at(&mut header, offset)?;
            if header.iter().all(|&b| b == 0) {
                if !pending.is_empty() {
                    return Err(self.malformed(offset, "an extended header has no member"));
                }
                return Ok(());
            }
            let h = Header::parse(&header).map_err(|what| self.malformed(offset, what))?;
            let data = offset + BLOCK;
            let stored = match h.typeflag {
                // Header-only types carry no data whatever their size field says (as Go's
                // archive/tar and GNU tar read them).
                b'1' | b'2' | b'3' | b'4' | b'5' | b'6' => 0,
                _ => pending.size.unwrap_or(h.size),
            };
            if data.checked_add(stored).is_none_or(|end| end > self.len) {
                return Err(ArchiveError::Truncated {
                    path: self.path.clone(),
                    name: String::from_utf8_lossy(&h.name).chars().take(256).collect(),
                    offset: data,
                    size: stored,
                    len: self.len,
                });
            }
            let next = data + stored.div_ceil(BLOCK) * BLOCK;
            match h.typeflag {
                b'x' => {
                    let record = self.record(data, stored, MAX_PAX, offset, "pax header")?;
                    pending
                        .apply_pax(&record)
                        .map_err(|what| self.malformed(offset, what))?;
                }
                b'g' => {
                    // Global pax headers (e.g. `git archive`'s comment): bounded, not applied.
                    self.record(data, stored, MAX_PAX, offset, "global pax header")?;
                }
                b'L' => {
                    let record = self.record(data, stored, MAX_LONG_NAME, offset, "long name")?;
                    pending.gnu_name = Some(trim_nul(&record).to_vec());
                }
                b'K' => {
                    let record = self.record(data, stored, MAX_LONG_NAME, offset, "long link")?;
                    pending.gnu_link = Some(trim_nul(&record).to_vec());
                }
                _ => {
                    let ext = std::mem::take(&mut pending);
                    self.add(h, ext, data, stored)?;
                }
            }
            offset = next;
        }
    }

    fn record(
        &self,
        data: u64,
        size: u64,
        limit: u64,
        offset: u64,
        what: &str,
    ) -> Result<Vec<u8>, ArchiveError> {
        if size > limit {
            return Err(self.malformed(
                offset,
                format!("{what} of {size} bytes is over the {limit}-byte limit"),
            ));
        }
        let mut bytes = vec![0; size as usize];
        self.read_at(&mut bytes, data)?;
        Ok(bytes)
    }

    fn add(
        &mut self,
        h: Header,
        ext: Extended,
        offset: u64,
        size: u64,
    ) -> Result<(), ArchiveError> {
        let raw_name = ext.pax_path.or(ext.gnu_name).unwrap_or(h.name);
        let name = normalize(&raw_name).map_err(|what| self.name_error(&raw_name, what))?;
        let link = || {
            let raw = ext
                .pax_link
                .clone()
                .or(ext.gnu_link.clone())
                .unwrap_or(h.link.clone());
            String::from_utf8(raw.clone()).map_err(|_| self.name_error(&raw, "is not UTF-8"))
        };
        let kind = match h.typeflag {
            b'0' | 0 | b'7' => MemberKind::File,
            b'5' => MemberKind::Directory,
            b'1' => MemberKind::HardLink(link()?),
            b'2' => MemberKind::Symlink(link()?),
            other => MemberKind::Other(other),
        };
        if name.is_empty() && kind != MemberKind::Directory {
            return Err(self.name_error(&raw_name, "is empty"));
        }
        if self.members.len() >= MAX_MEMBERS {
            return Err(ArchiveError::TooManyMembers {
                path: self.path.clone(),
            });
        }
        if let Some(&i) = self.by_name.get(&name) {
            let both_dirs =
                self.members[i].kind == MemberKind::Directory && kind == MemberKind::Directory;
            if both_dirs {
                return Ok(());
            }
            return Err(ArchiveError::Duplicate {
                path: self.path.clone(),
                name,
            });
        }
        let size = if matches!(kind, MemberKind::File) {
            size
        } else {
            0
        };
        self.by_name.insert(name.clone(), self.members.len());
        self.members.push(Member {
            name,
            kind,
            offset,
            size,
        });
        Ok(())
    }

    fn name_error(&self, raw: &[u8], what: &'static str) -> ArchiveError {
        ArchiveError::Name {
            path: self.path.clone(),
            name: String::from_utf8_lossy(raw).chars().take(256).collect(),
            what,
        }
    }
}

/// What pax and GNU extension headers say about the next member.
#[derive(Default)]
struct Extended {
    pax_path: Option<Vec<u8>>,
    pax_link: Option<Vec<u8>>,
    size: Option<u64>,
    gnu_name: Option<Vec<u8>>,
    gnu_link: Option<Vec<u8>>,
}

impl Extended {
    fn is_empty(&self) -> bool {
        self.pax_path.is_none()
            && self.pax_link.is_none()
            && self.size.is_none()
            && self.gnu_name.is_none()
            && self.gnu_link.is_none()
    }

    /// Applies pax records `"<len> <key>=<value>\n"` (POSIX pax, `pax` utility spec).
    fn apply_pax(&mut self, mut data: &[u8]) -> Result<(), String> {
        while !data.is_empty() {
            let space = data
                .iter()
                .position(|&b| b == b' ')
                .ok_or("pax record without a length")?;
            let len: usize = std::str::from_utf8(&data[..space])
                .ok()
                .filter(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
                .and_then(|s| s.parse().ok())
                .ok_or("pax record length is not a number")?;
            if len <= space + 1 || len > data.len() || data[len - 1] != b'\n' {
                return Err("pax record length does not match its contents".into());
            }
            let record = &data[space + 1..len - 1];
            let eq = record
                .iter()
                .position(|&b| b == b'=')
                .ok_or("pax record without '='")?;
            let (key, value) = (&record[..eq], &record[eq + 1..]);
            match key {
                b"path" => self.pax_path = Some(value.to_vec()),
                b"linkpath" => self.pax_link = Some(value.to_vec()),
                b"size" => {
                    let size = std::str::from_utf8(value)
                        .ok()
                        .filter(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
                        .and_then(|s| s.parse::<u64>().ok())
                        .filter(|&s| s <= i64::MAX as u64)
                        .ok_or("pax size is not a non-negative integer")?;
                    self.size = Some(size);
                }
                _ => {}
            }
            data = &data[len..];
        }
        Ok(())
    }
}

/// The fields of one 512-byte header that tollgate uses.
struct Header {
    name: Vec<u8>,
    link: Vec<u8>,
    size: u64,
    typeflag: u8,
}

impl Header {
    fn parse(b: &[u8; BLOCK as usize]) -> Result<Self, String> {
        let stored = octal(&b[148..156]).ok_or("header checksum is not an octal number")?;
        // The sum of all header bytes with the checksum field read as spaces; some old tars
        // summed signed bytes, so both are accepted (as GNU tar and Go do).
        let unsigned: u64 = b
            .iter()
            .enumerate()
            .map(|(i, &x)| {
                if (148..156).contains(&i) {
                    32
                } else {
                    u64::from(x)
                }
            })
            .sum();
        let signed: i64 = b
            .iter()
            .enumerate()
            .map(|(i, &x)| {
                if (148..156).contains(&i) {
                    32
                } else {
                    i64::from(x as i8)
                }
            })
            .sum();
        if stored != unsigned && i64::try_from(stored).ok() != Some(signed) {
            return Err("header checksum mismatch (not a tar file, or corrupted)".into());
        }
        let size = number(&b[124..136]).ok_or("size field is not a valid number")?;
        if size > i64::MAX as u64 {
            return Err("size field is out of range".into());
        }
        let mut name = trim_nul(&b[0..100]).to_vec();
        // POSIX ustar ("ustar\0" "00") splits long names into prefix/name; the old GNU magic
        // ("ustar  \0") uses those bytes for other fields.
        if &b[257..263] == b"ustar\0" {
            let prefix = trim_nul(&b[345..500]);
            if !prefix.is_empty() {
                let mut full = prefix.to_vec();
                full.push(b'/');
                full.extend_from_slice(&name);
                name = full;
            }
        }
        Ok(Self {
            name,
            link: trim_nul(&b[157..257]).to_vec(),
            size,
            typeflag: b[156],
        })
    }
}

fn trim_nul(b: &[u8]) -> &[u8] {
    b.iter().position(|&x| x == 0).map_or(b, |end| &b[..end])
}

/// An octal field: optional leading spaces, digits, then NULs or spaces.
fn octal(field: &[u8]) -> Option<u64> {
    let text = std::str::from_utf8(field).ok()?;
    let text = text.trim_matches(|c| c == ' ' || c == '\0');
    if text.is_empty() {
        return Some(0);
    }
    u64::from_str_radix(text, 8).ok()
}

/// A numeric field: octal, or GNU base-256 (high bit set; negative values refused).
fn number(field: &[u8]) -> Option<u64> {
    match field[0] {
        0x80 => field[1..].iter().try_fold(0u64, |acc, &b| {
            acc.checked_mul(256).map(|v| v | u64::from(b))
        }),
        b if b & 0x80 != 0 => None,
        _ => octal(field),
    }
}

/// Normalizes a member name: drops empty and `.` components; refuses absolute names, `..`,
/// non-UTF-8 and names longer than 4096 bytes.
fn normalize(raw: &[u8]) -> Result<String, &'static str> {
    if raw.len() > MAX_NAME {
        return Err("is longer than 4096 bytes");
    }
    let text = std::str::from_utf8(raw).map_err(|_| "is not UTF-8")?;
    if text.starts_with('/') {
        return Err("is absolute");
    }
    let mut parts = Vec::new();
    for part in text.split('/') {
        match part {
            "" | "." => {}
            ".." => return Err("contains '..'"),
            p => parts.push(p),
        }
    }
    Ok(parts.join("/"))
}
