//! Walking a model: which files belong to it, under which names.
//!
//! Owns the rules of the OpenSSF model signing v1.0 tree walk as model_signing 1.1.1 applies
//! them, plus the places where tollgate is deliberately stricter:
//!
//! - Names are paths relative to the model root, `/`-separated; a single-file model's one file is
//!   named `"."`. Non-UTF-8 names are an error (the manifest is JSON text).
//! - Ignores: `.git`, `.gitattributes`, `.github`, `.gitignore` at the root by default, plus the
//!   caller's paths, matched by whole leading components. Every effective ignore is recorded.
//!   Ignores are applied before anything else, so a symlink inside `.git/` does not abort.
//! - Symlinks are refused unless allowed. Allowed file links are hashed by their target's content
//!   under the link's own name; directory links are skipped, as model_signing does. A link whose
//!   target lies outside the model is refused unless explicitly allowed too (model_signing
//!   follows it silently), and loops and broken links are errors.
//! - Sockets, fifos and devices are errors: they have no stable content to sign.
//!
//! The result, [`ModelTree`], is what the manifest hashes; it records each file's size so the
//! engine can detect a file that changes afterwards.

use std::fs;
use std::io;
use std::path::{Component, Path, PathBuf};

/// The git paths ignored at the model root unless the caller turns that off.
pub const GIT_PATHS: [&str; 4] = [".git", ".gitattributes", ".github", ".gitignore"];

/// What to do with symbolic links inside the model.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum SymlinkPolicy {
    /// Any symlink is an error (the default, as in model_signing).
    #[default]
    Refuse,
    /// Follow links whose target stays inside the model.
    FollowInside,
    /// Follow links anywhere, as model_signing's `allow_symlinks` does. The signature then
    /// covers bytes that live outside the signed directory.
    FollowAnywhere,
}

impl SymlinkPolicy {
    /// Whether symlinks are followed at all: the manifest's `allow_symlinks`.
    pub fn allows_symlinks(self) -> bool {
        self != Self::Refuse
    }
}

/// How to walk a model.
#[derive(Clone, Debug)]
pub struct WalkOptions {
    /// Ignore [`GIT_PATHS`] at the model root.
    pub ignore_git_paths: bool,
    /// More paths to ignore, relative to the model root (absolute paths must lie inside it).
    pub ignore: Vec<PathBuf>,
    /// Symlink handling.
    pub symlinks: SymlinkPolicy,
}

impl Default for WalkOptions {
    fn default() -> Self {
        Self {
            ignore_git_paths: true,
            ignore: Vec::new(),
            symlinks: SymlinkPolicy::Refuse,
        }
    }
}

/// Why a model could not be walked.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WalkError {
    /// A filesystem call failed.
    #[error("{}: {err}", path.display())]
    Io {
        /// Where.
        path: PathBuf,
        /// What the OS said.
        err: io::Error,
    },
    /// A symlink was found and symlinks are refused.
    #[error("{}: is a symbolic link; pass --allow-symlinks to hash its target's content under the link's name", path.display())]
    Symlink {
        /// The link.
        path: PathBuf,
    },
    /// A symlink points outside the model.
    #[error("{}: symbolic link leads outside the model (to {}); pass --allow-external-symlinks if that is intended", path.display(), target.display())]
    SymlinkEscapes {
        /// The link.
        path: PathBuf,
        /// Where it resolves to.
        target: PathBuf,
    },
    /// A symlink loops or dangles.
    #[error("{}: symbolic link cannot be resolved ({err}); fix or remove it", path.display())]
    BrokenSymlink {
        /// The link.
        path: PathBuf,
        /// Why resolution failed (loop, missing target).
        err: io::Error,
    },
    /// A socket, fifo or device file.
    #[error("{}: is a {kind}, not a regular file or directory; remove it or ignore it with --ignore", path.display())]
    SpecialFile {
        /// The file.
        path: PathBuf,
        /// `fifo`, `socket`, `device`.
        kind: &'static str,
    },
    /// A name that is not valid UTF-8.
    #[error("{}: file name is not valid UTF-8; rename it (manifests name files as text)", path.display())]
    NonUtf8 {
        /// The path, lossily shown.
        path: PathBuf,
    },
    /// An ignore path that names the model root itself.
    #[error("{}: ignore path is the model root itself, which would leave nothing to sign", path.display())]
    IgnoreEverything {
        /// The ignore path given.
        path: PathBuf,
    },
    /// An ignore path that does not lie inside the model.
    #[error("{}: ignore path is outside the model {}", path.display(), root.display())]
    IgnoreOutside {
        /// The ignore path given.
        path: PathBuf,
        /// The model root.
        root: PathBuf,
    },
}

/// One file of a model.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ModelFile {
    /// Relative, `/`-separated name; `"."` for a single-file model.
    pub name: String,
    /// Where to read the bytes (the target, for a followed symlink).
    pub path: PathBuf,
    /// Size in bytes at walk time.
    pub size: u64,
    /// Modification time at walk time, where the filesystem has one: the engine refuses to
    /// hash a file (or any shard of it) whose mtime differs from this.
    pub modified: Option<std::time::SystemTime>,
}

/// The files of a model, in no particular order, and the ignores that shaped it.
#[derive(Clone, Debug)]
pub struct ModelTree {
    /// The model's name: the root directory's (or single file's) base name.
    pub model_name: String,
    /// Every file that belongs to the model.
    pub files: Vec<ModelFile>,
    /// Effective ignores, relative to the model root, sorted.
    pub ignore_paths: Vec<String>,
    /// Whether symlinks were followed.
    pub allow_symlinks: bool,
}

impl ModelTree {
    /// Total bytes of all files.
    pub fn total_bytes(&self) -> u64 {
        self.files.iter().map(|f| f.size).sum()
    }
}

/// Walks the model at `root` (a directory or a single file).
pub fn walk(root: &Path, options: &WalkOptions) -> Result<ModelTree, WalkError> {
    let Start {
        root,
        is_dir,
        ignores,
        mut tree,
    } = start(root, options)?;
    if is_dir {
        let mut walker = Walker {
            root: &root,
            options,
            ignores: &ignores,
            files: &mut tree.files,
        };
        walker.dir(&root, "")?;
    }
    Ok(tree)
}

/// Like [`walk`], but takes only the files `names` lists (relative `/`-separated names, as a
/// manifest has them; `"."` for a single-file model). Names that do not exist, or are
/// directories, are left out, so a comparison reports them as missing. Callers must have
/// checked that names stay inside the model.
pub fn walk_named(
    root: &Path,
    names: &[&str],
    options: &WalkOptions,
) -> Result<ModelTree, WalkError> {
    let Start {
        root,
        is_dir,
        mut tree,
        ..
    } = start(root, options)?;
    if is_dir {
        let mut walker = Walker {
            root: &root,
            options,
            ignores: &[],
            files: &mut tree.files,
        };
        for name in names.iter().filter(|n| **n != ".") {
            let path = root.join(name);
            match fs::symlink_metadata(&path) {
                Ok(meta) => walker.entry(path, (*name).to_owned(), &meta, false)?,
                Err(err) if err.kind() == io::ErrorKind::NotFound => {}
                Err(err) => return Err(WalkError::Io { path, err }),
            }
        }
    }
    Ok(tree)
}

/// The resolved root and the frame of its tree, before any directory is read.
struct Start {
    root: PathBuf,
    is_dir: bool,
    ignores: Vec<Vec<String>>,
    tree: ModelTree,
}

/// Resolves the root and builds the tree's frame: name, recorded ignores, and for a
/// single-file model its one file.
fn start(given_root: &Path, options: &WalkOptions) -> Result<Start, WalkError> {
    // The root the user named is resolved, symlink or not: naming it is consent to follow it.
    let root = fs::canonicalize(given_root).map_err(|err| WalkError::Io {
        path: given_root.to_owned(),
        err,
    })?;
    let model_name = root
        .file_name()
        .map(|n| utf8(n, &root))
        .transpose()?
        .unwrap_or_default()
        .to_owned();
    let ignores = effective_ignores(&root, given_root, options)?;
    let meta = fs::metadata(&root).map_err(|err| WalkError::Io {
        path: root.clone(),
        err,
    })?;
    let mut files = Vec::new();
    if meta.is_file() {
        files.push(ModelFile {
            name: ".".into(),
            path: root.clone(),
            size: meta.len(),
            modified: meta.modified().ok(),
        });
    } else if !meta.is_dir() {
        return Err(WalkError::SpecialFile {
            kind: special_kind(&meta),
            path: root,
        });
    }
    let mut ignore_paths: Vec<String> = ignores.iter().map(|c| c.join("/")).collect();
    ignore_paths.sort();
    ignore_paths.dedup();
    let tree = ModelTree {
        model_name,
        files,
        ignore_paths,
        allow_symlinks: options.symlinks.allows_symlinks(),
    };
    Ok(Start {
        root,
        is_dir: meta.is_dir(),
        ignores,
        tree,
    })
}

/// Ignores as lists of components relative to the root.
fn effective_ignores(
    root: &Path,
    given_root: &Path,
    options: &WalkOptions,
) -> Result<Vec<Vec<String>>, WalkError> {
    let mut out = Vec::new();
    if options.ignore_git_paths {
        out.extend(GIT_PATHS.iter().map(|p| vec![(*p).to_owned()]));
    }
    let outside = |p: &Path| WalkError::IgnoreOutside {
        path: p.to_owned(),
        root: root.to_owned(),
    };
    for p in &options.ignore {
        let rel = if p.is_absolute() {
            relative_to_root(p, root, given_root).ok_or_else(|| outside(p))?
        } else {
            lexical_normalize(p)
        };
        let mut comps = Vec::new();
        for c in rel.components() {
            match c {
                Component::Normal(s) => comps.push(utf8(s, p)?.to_owned()),
                Component::CurDir => {}
                _ => return Err(outside(p)),
            }
        }
        if comps.is_empty() {
            // `--ignore .` would sign nothing at all: certainly a mistake.
            return Err(WalkError::IgnoreEverything { path: p.clone() });
        }
        out.push(comps);
    }
    Ok(out)
}

/// An absolute ignore path relative to the model root, whether it was written through the
/// resolved root or through the (possibly symlinked) path the user gave.
fn relative_to_root(p: &Path, root: &Path, given_root: &Path) -> Option<PathBuf> {
    let abs = lexical_normalize(p);
    let given = std::path::absolute(given_root)
        .map(|g| lexical_normalize(&g))
        .ok();
    // Resolve the parent only: the ignored entry itself may be a symlink, or may not exist.
    let resolved_parent = abs
        .parent()
        .and_then(|d| fs::canonicalize(d).ok())
        .zip(abs.file_name())
        .map(|(d, name)| d.join(name));
    [Some(abs), resolved_parent]
        .into_iter()
        .flatten()
        .find_map(|candidate| {
            [Some(root), given.as_deref()]
                .into_iter()
                .flatten()
                .find_map(|r| candidate.strip_prefix(r).ok().map(Path::to_path_buf))
        })
}

/// Removes `.` and resolves `..` textually (for ignore paths, which need not exist).
fn lexical_normalize(p: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                if !out.pop() {
                    out.push("..");
                }
            }
            other => out.push(other),
        }
    }
    out
}

fn utf8<'a>(s: &'a std::ffi::OsStr, whole: &Path) -> Result<&'a str, WalkError> {
    s.to_str().ok_or_else(|| WalkError::NonUtf8 {
        path: whole.to_owned(),
    })
}

fn special_kind(meta: &fs::Metadata) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    let t = meta.file_type();
    if t.is_fifo() {
        "fifo"
    } else if t.is_socket() {
        "socket"
    } else if t.is_block_device() || t.is_char_device() {
        "device"
    } else {
        "special file"
    }
}

struct Walker<'a> {
    root: &'a Path,
    options: &'a WalkOptions,
    ignores: &'a [Vec<String>],
    files: &'a mut Vec<ModelFile>,
}

impl Walker<'_> {
    fn dir(&mut self, dir: &Path, prefix: &str) -> Result<(), WalkError> {
        let io = |err| WalkError::Io {
            path: dir.to_owned(),
            err,
        };
        for entry in fs::read_dir(dir).map_err(io)? {
            let entry = entry.map_err(io)?;
            let path = entry.path();
            let name = utf8(&entry.file_name(), &path)?.to_owned();
            let rel = if prefix.is_empty() {
                name
            } else {
                format!("{prefix}/{name}")
            };
            if self.is_ignored(&rel) {
                continue;
            }
            let meta = fs::symlink_metadata(&path).map_err(|err| WalkError::Io {
                path: path.clone(),
                err,
            })?;
            self.entry(path, rel, &meta, true)?;
        }
        Ok(())
    }

    /// Adds one entry (descending into directories when `descend`).
    fn entry(
        &mut self,
        path: PathBuf,
        rel: String,
        meta: &fs::Metadata,
        descend: bool,
    ) -> Result<(), WalkError> {
        if meta.file_type().is_symlink() {
            self.symlink(path, rel)
        } else if meta.is_dir() {
            if descend {
                self.dir(&path, &rel)
            } else {
                Ok(())
            }
        } else if meta.is_file() {
            self.files.push(ModelFile {
                name: rel,
                path,
                size: meta.len(),
                modified: meta.modified().ok(),
            });
            Ok(())
        } else {
            Err(WalkError::SpecialFile {
                kind: special_kind(meta),
                path,
            })
        }
    }

    fn symlink(&mut self, path: PathBuf, rel: String) -> Result<(), WalkError> {
        if !self.options.symlinks.allows_symlinks() {
            return Err(WalkError::Symlink { path });
        }
        let target = match fs::canonicalize(&path) {
            Ok(t) => t,
            Err(err) => return Err(WalkError::BrokenSymlink { path, err }),
        };
        if self.options.symlinks == SymlinkPolicy::FollowInside && !target.starts_with(self.root) {
            return Err(WalkError::SymlinkEscapes { path, target });
        }
        let meta = fs::metadata(&target).map_err(|err| WalkError::Io {
            path: target.clone(),
            err,
        })?;
        if meta.is_file() {
            self.files.push(ModelFile {
                name: rel,
                path: target,
                size: meta.len(),
                modified: meta.modified().ok(),
            });
            Ok(())
        } else if meta.is_dir() {
            // model_signing does not descend into linked directories; neither do we, so both
            // tools sign the same set of files.
            Ok(())
        } else {
            Err(WalkError::SpecialFile {
                kind: special_kind(&meta),
                path,
            })
        }
    }

    fn is_ignored(&self, rel: &str) -> bool {
        let comps: Vec<&str> = rel.split('/').collect();
        self.ignores
            .iter()
            .any(|ig| ig.len() <= comps.len() && ig.iter().zip(&comps).all(|(a, b)| a == b))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    fn names(tree: &ModelTree) -> Vec<String> {
        let mut v: Vec<_> = tree.files.iter().map(|f| f.name.clone()).collect();
        v.sort();
        v
    }

    fn model() -> tempfile::TempDir {
        let d = tempfile::tempdir().unwrap();
        let r = d.path();
        fs::create_dir_all(r.join("a/b")).unwrap();
        fs::create_dir_all(r.join(".git/objects")).unwrap();
        fs::write(r.join("a/b/w.bin"), b"w").unwrap();
        fs::write(r.join("top.json"), b"{}").unwrap();
        fs::write(r.join(".git/HEAD"), b"ref").unwrap();
        fs::write(r.join(".gitattributes"), b"").unwrap();
        d
    }

    #[test]
    fn git_paths_ignored_and_recorded() {
        let d = model();
        let t = walk(d.path(), &WalkOptions::default()).unwrap();
        assert_eq!(names(&t), ["a/b/w.bin", "top.json"]);
        assert_eq!(
            t.ignore_paths,
            [".git", ".gitattributes", ".github", ".gitignore"]
        );
        let all = walk(
            d.path(),
            &WalkOptions {
                ignore_git_paths: false,
                ..Default::default()
            },
        )
        .unwrap();
        assert_eq!(
            names(&all),
            [".git/HEAD", ".gitattributes", "a/b/w.bin", "top.json"]
        );
        assert!(all.ignore_paths.is_empty());
    }

    #[test]
    fn user_ignores_match_whole_components() {
        let d = model();
        fs::write(d.path().join("ab"), b"x").unwrap();
        let opts = WalkOptions {
            ignore: vec!["./a".into(), d.path().join("top.json")],
            ..Default::default()
        };
        let t = walk(d.path(), &opts).unwrap();
        assert_eq!(names(&t), ["ab"]);
        assert!(t.ignore_paths.contains(&"a".to_owned()));
        assert!(t.ignore_paths.contains(&"top.json".to_owned()));
        let outside = WalkOptions {
            ignore: vec!["../elsewhere".into()],
            ..Default::default()
        };
        assert!(matches!(
            walk(d.path(), &outside),
            Err(WalkError::IgnoreOutside { .. })
        ));
    }

    #[test]
    fn absolute_ignores_through_a_symlinked_root_and_dot() {
        let d = model();
        let outer = tempfile::tempdir().unwrap();
        let link = outer.path().join("link");
        symlink(d.path(), &link).unwrap();
        let opts = WalkOptions {
            ignore: vec![link.join("a")],
            ..Default::default()
        };
        assert_eq!(names(&walk(&link, &opts).unwrap()), ["top.json"]);
        let dot = WalkOptions {
            ignore: vec![".".into()],
            ..Default::default()
        };
        assert!(matches!(
            walk(d.path(), &dot),
            Err(WalkError::IgnoreEverything { .. })
        ));
    }

    #[test]
    fn symlinks_refused_then_followed_inside_only() {
        let d = model();
        let outside = tempfile::tempdir().unwrap();
        fs::write(outside.path().join("secret"), b"s").unwrap();
        symlink("top.json", d.path().join("link.json")).unwrap();
        let err = walk(d.path(), &WalkOptions::default()).unwrap_err();
        assert!(matches!(err, WalkError::Symlink { .. }), "{err}");

        let inside = WalkOptions {
            symlinks: SymlinkPolicy::FollowInside,
            ..Default::default()
        };
        let t = walk(d.path(), &inside).unwrap();
        let link = t.files.iter().find(|f| f.name == "link.json").unwrap();
        assert!(link.path.ends_with("top.json"));

        symlink(outside.path().join("secret"), d.path().join("esc")).unwrap();
        let err = walk(d.path(), &inside).unwrap_err();
        assert!(matches!(err, WalkError::SymlinkEscapes { .. }), "{err}");
        let any = WalkOptions {
            symlinks: SymlinkPolicy::FollowAnywhere,
            ..Default::default()
        };
        assert!(names(&walk(d.path(), &any).unwrap()).contains(&"esc".to_owned()));
    }

    #[test]
    fn loops_and_dangling_links_are_errors() {
        let d = model();
        symlink("loop2", d.path().join("loop1")).unwrap();
        symlink("loop1", d.path().join("loop2")).unwrap();
        let opts = WalkOptions {
            symlinks: SymlinkPolicy::FollowAnywhere,
            ..Default::default()
        };
        let err = walk(d.path(), &opts).unwrap_err();
        assert!(matches!(err, WalkError::BrokenSymlink { .. }), "{err}");
    }

    #[test]
    fn single_file_is_named_dot() {
        let d = model();
        let t = walk(&d.path().join("top.json"), &WalkOptions::default()).unwrap();
        assert_eq!(names(&t), ["."]);
        assert_eq!(t.model_name, "top.json");
    }

    #[test]
    fn non_utf8_names_are_refused() {
        use std::os::unix::ffi::OsStrExt;
        let d = model();
        let bad = std::ffi::OsStr::from_bytes(b"bad\xff.bin");
        fs::write(d.path().join(bad), b"x").unwrap();
        let err = walk(d.path(), &WalkOptions::default()).unwrap_err();
        assert!(matches!(err, WalkError::NonUtf8 { .. }), "{err}");
    }
}
