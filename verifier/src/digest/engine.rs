//! The hashing engine: digests a list of work items (whole files or byte ranges of files) on the
//! current rayon pool.
//!
//! Items are taken largest first from one shared queue (longest-processing-time scheduling), so
//! one huge file and many small ones keep every thread busy until the end. BLAKE3 also splits a
//! single large item across idle threads. The caller owns the pool: run [`hash_items`] inside
//! `ThreadPool::install` to choose the thread count.
//!
//! Every item is checked for change: its file's size and mtime are read before and after the
//! bytes are hashed, and any difference (or a size that no longer matches what the walk saw) is
//! an error, never a digest.

use std::fs::File;
use std::io;
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::SystemTime;

use super::mmap;
use super::{Digest, HashAlgorithm, Hasher};

/// Inputs at least this long use BLAKE3's multi-threaded update.
const PARALLEL_MIN: u64 = 1 << 20;

/// One unit of hashing work: `path[start..end]`, from a file the walk saw as `file_size` bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WorkItem {
    /// The file to read.
    pub path: PathBuf,
    /// First byte (inclusive).
    pub start: u64,
    /// End of the range (exclusive).
    pub end: u64,
    /// File size the walk observed; a different size at hashing time is an error.
    pub file_size: u64,
    /// Modification time the walk observed, if known; a different one at hashing time is an
    /// error. Shared by every shard of a file, so a change between two shards is caught too.
    pub modified: Option<SystemTime>,
}

impl WorkItem {
    /// The whole file.
    pub fn whole(path: PathBuf, file_size: u64) -> Self {
        Self {
            path,
            start: 0,
            end: file_size,
            file_size,
            modified: None,
        }
    }

    fn len(&self) -> u64 {
        self.end - self.start
    }
}

/// Receives progress while hashing; called from many threads.
pub trait Progress: Sync {
    /// `bytes` more bytes have been hashed.
    fn advance(&self, bytes: u64);
}

/// Progress that goes nowhere.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoProgress;

impl Progress for NoProgress {
    fn advance(&self, _bytes: u64) {}
}

/// Why an item could not be hashed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HashError {
    /// Opening or reading failed.
    #[error("{}: cannot read: {err}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// What the OS said.
        err: io::Error,
    },
    /// The file changed between the walk and the end of hashing.
    #[error(
        "{}: file changed while it was hashed ({what}); no digest was produced — re-run once nothing writes to it",
        path.display()
    )]
    Changed {
        /// The file.
        path: PathBuf,
        /// What changed, e.g. `size 10 -> 12 bytes`.
        what: String,
    },
}

/// Digests every item with `algorithm`, returning digests in item order.
///
/// Runs on the current rayon pool. On failure returns the error of the lowest-indexed failing
/// item, so the message does not depend on thread timing.
pub fn hash_items(
    items: &[WorkItem],
    algorithm: HashAlgorithm,
    progress: &dyn Progress,
) -> Result<Vec<Digest>, HashError> {
    let mut order: Vec<usize> = (0..items.len()).collect();
    order.sort_by_key(|&i| std::cmp::Reverse(items[i].len()));

    let results: Vec<OnceLock<Result<Digest, HashError>>> =
        items.iter().map(|_| OnceLock::new()).collect();
    let next = AtomicUsize::new(0);
    let failed = AtomicBool::new(false);
    let workers = rayon::current_num_threads().min(items.len());

    rayon::scope(|scope| {
        for _ in 0..workers {
            scope.spawn(|_| {
                while !failed.load(Ordering::Relaxed) {
                    let Some(&i) = order.get(next.fetch_add(1, Ordering::Relaxed)) else {
                        break;
                    };
                    let result = hash_item(&items[i], algorithm, progress);
                    if result.is_err() {
                        failed.store(true, Ordering::Relaxed);
                    }
                    let _ = results[i].set(result);
                }
            });
        }
    });

    let mut digests = Vec::with_capacity(items.len());
    let mut first_error = None;
    for cell in results {
        match cell.into_inner() {
            Some(Ok(d)) => digests.push(d),
            Some(Err(e)) => {
                first_error.get_or_insert(e);
            }
            None => {} // skipped after a failure elsewhere
        }
    }
    match first_error {
        Some(e) => Err(e),
        None => Ok(digests),
    }
}

/// Digests one item on the calling thread (and, for BLAKE3, the pool's idle threads).
pub fn hash_item(
    item: &WorkItem,
    algorithm: HashAlgorithm,
    progress: &dyn Progress,
) -> Result<Digest, HashError> {
    hash_item_with(item, algorithm, progress, || {})
}

/// [`hash_item`] with a hook run after the bytes are hashed and before the final check, so
/// tests can change the file at the worst moment.
pub(crate) fn hash_item_with(
    item: &WorkItem,
    algorithm: HashAlgorithm,
    progress: &dyn Progress,
    before_check: impl FnOnce(),
) -> Result<Digest, HashError> {
    let io_err = |err| HashError::Io {
        path: item.path.clone(),
        err,
    };
    // O_NOFOLLOW: the walk resolved every symlink it allowed, so a link at this path now means
    // the file was swapped after the walk; refuse rather than hash whatever it points to.
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW)
        .open(&item.path)
        .map_err(io_err)?;
    let before = Stamp::of(&file).map_err(io_err)?;
    let listed = Stamp {
        len: item.file_size,
        modified: item.modified.or(before.modified),
    };
    if before != listed {
        return Err(changed(item, item.file_size, &before));
    }

    let mut hasher = Hasher::new(algorithm);
    let parallel = hasher.is_parallel() && item.len() >= PARALLEL_MIN;
    let segment = if parallel {
        mmap::PARALLEL_SEGMENT
    } else {
        mmap::SEGMENT
    };
    mmap::for_each_segment(&file, item.start, item.len(), segment, &mut |bytes| {
        if parallel {
            hasher.update_parallel(bytes);
        } else {
            hasher.update(bytes);
        }
        progress.advance(bytes.len() as u64);
    })
    .map_err(|err| match err.kind() {
        io::ErrorKind::UnexpectedEof => HashError::Changed {
            path: item.path.clone(),
            what: "it shrank while being read".into(),
        },
        _ => io_err(err),
    })?;

    before_check();
    let after = Stamp::of(&file).map_err(io_err)?;
    if after != before {
        return Err(changed(item, before.len, &after));
    }
    Ok(hasher.finalize())
}

fn changed(item: &WorkItem, expected_len: u64, now: &Stamp) -> HashError {
    let what = if now.len != expected_len {
        format!("size {expected_len} -> {} bytes", now.len)
    } else {
        "modification time changed".to_owned()
    };
    HashError::Changed {
        path: item.path.clone(),
        what,
    }
}

/// What identifies a file's content version cheaply: its size and modification time.
#[derive(PartialEq, Eq)]
struct Stamp {
    len: u64,
    modified: Option<SystemTime>,
}

impl Stamp {
    fn of(file: &File) -> io::Result<Self> {
        let meta = file.metadata()?;
        Ok(Self {
            len: meta.len(),
            modified: meta.modified().ok(),
        })
    }
}

/// Convenience: the digest of a whole file on disk.
pub fn hash_file(path: &Path, algorithm: HashAlgorithm) -> Result<Digest, HashError> {
    let size = std::fs::metadata(path)
        .map_err(|err| HashError::Io {
            path: path.to_owned(),
            err,
        })?
        .len();
    hash_item(
        &WorkItem::whole(path.to_owned(), size),
        algorithm,
        &NoProgress,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn file_with(dir: &Path, name: &str, data: &[u8]) -> PathBuf {
        let p = dir.join(name);
        std::fs::write(&p, data).unwrap();
        p
    }

    #[test]
    fn items_hash_like_in_memory_and_keep_order() {
        let dir = tempfile::tempdir().unwrap();
        let big: Vec<u8> = (0..(3 << 20)).map(|i: u32| (i * 7 % 256) as u8).collect();
        let p_big = file_with(dir.path(), "big", &big);
        let p_small = file_with(dir.path(), "small", b"hello");
        let n = big.len() as u64;
        let items = vec![
            WorkItem::whole(p_small.clone(), 5),
            WorkItem {
                path: p_big.clone(),
                start: 10,
                end: n - 3,
                file_size: n,
                modified: None,
            },
            WorkItem::whole(p_big, n),
            WorkItem::whole(p_small, 5),
        ];
        for alg in HashAlgorithm::ALL {
            let got = hash_items(&items, alg, &NoProgress).unwrap();
            let want = |data: &[u8]| {
                let mut h = Hasher::new(alg);
                h.update(data);
                h.finalize()
            };
            assert_eq!(got[0], want(b"hello"));
            assert_eq!(got[1], want(&big[10..big.len() - 3]));
            assert_eq!(got[2], want(&big));
            assert_eq!(got[3], got[0]);
        }
    }

    #[test]
    fn size_changed_since_walk_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let p = file_with(dir.path(), "f", b"12345");
        let err =
            hash_items(&[WorkItem::whole(p, 4)], HashAlgorithm::Sha256, &NoProgress).unwrap_err();
        assert!(err.to_string().contains("size 4 -> 5 bytes"), "{err}");
    }

    #[test]
    fn growth_during_hashing_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let p = file_with(dir.path(), "f", &[1u8; 4096]);
        let item = WorkItem::whole(p.clone(), 4096);
        let err = hash_item_with(&item, HashAlgorithm::Sha256, &NoProgress, || {
            let mut f = std::fs::OpenOptions::new().append(true).open(&p).unwrap();
            f.write_all(b"more").unwrap();
        })
        .unwrap_err();
        assert!(
            matches!(&err, HashError::Changed { what, .. } if what == "size 4096 -> 4100 bytes"),
            "{err}"
        );
    }

    #[test]
    fn change_after_the_walk_is_caught_by_every_later_item() {
        let dir = tempfile::tempdir().unwrap();
        let p = file_with(dir.path(), "f", &[1u8; 4096]);
        let walked = std::fs::metadata(&p).unwrap().modified().unwrap();
        let second_shard = WorkItem {
            path: p.clone(),
            start: 2048,
            end: 4096,
            file_size: 4096,
            modified: Some(walked),
        };
        assert!(hash_item(&second_shard, HashAlgorithm::Sha256, &NoProgress).is_ok());
        // Rewritten in place between shards: same size, new mtime.
        let f = std::fs::OpenOptions::new().write(true).open(&p).unwrap();
        f.set_modified(walked + std::time::Duration::from_secs(1))
            .unwrap();
        let err = hash_item(&second_shard, HashAlgorithm::Sha256, &NoProgress).unwrap_err();
        assert!(
            err.to_string().contains("modification time changed"),
            "{err}"
        );
    }

    #[test]
    fn rewrite_with_same_size_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let p = file_with(dir.path(), "f", &[1u8; 4096]);
        let item = WorkItem::whole(p.clone(), 4096);
        let err = hash_item_with(&item, HashAlgorithm::Blake3, &NoProgress, || {
            let f = std::fs::OpenOptions::new().write(true).open(&p).unwrap();
            let old = f.metadata().unwrap().modified().unwrap();
            f.set_modified(old + std::time::Duration::from_secs(1))
                .unwrap();
        })
        .unwrap_err();
        assert!(
            err.to_string().contains("modification time changed"),
            "{err}"
        );
    }

    #[test]
    fn a_symlink_swapped_in_after_the_walk_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let target = file_with(dir.path(), "target", b"other bytes");
        let p = dir.path().join("f");
        std::os::unix::fs::symlink(&target, &p).unwrap();
        let err =
            hash_item(&WorkItem::whole(p, 11), HashAlgorithm::Sha256, &NoProgress).unwrap_err();
        assert!(matches!(err, HashError::Io { .. }), "{err}");
    }

    #[test]
    fn missing_file_names_the_path() {
        let err = hash_file(Path::new("/nonexistent/x.bin"), HashAlgorithm::Sha256).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("/nonexistent/x.bin: cannot read"),
            "{err}"
        );
    }

    #[test]
    fn runs_on_a_one_thread_pool() {
        let dir = tempfile::tempdir().unwrap();
        let items: Vec<_> = (0..20)
            .map(|i| {
                let data = vec![i as u8; i * 1000];
                WorkItem::whole(
                    file_with(dir.path(), &i.to_string(), &data),
                    data.len() as u64,
                )
            })
            .collect();
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(1)
            .build()
            .unwrap();
        let one = pool.install(|| hash_items(&items, HashAlgorithm::Blake3, &NoProgress).unwrap());
        let many = hash_items(&items, HashAlgorithm::Blake3, &NoProgress).unwrap();
        assert_eq!(one, many);
    }
}
