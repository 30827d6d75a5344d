//! Reading a byte range of an open file, memory-mapped when that pays and buffered otherwise.
//!
//! This is the crate's only unsafe code. Mapped bytes never leave this module: callers get them
//! through a visitor closure whose borrow ends before the map is dropped.
//!
//! SAFETY, and the risk accepted: a mapping stays valid only while nobody truncates the file.
//! tollgate hashes files it does not own (models being written, shared mounts), so a concurrent
//! truncation is possible; the kernel then raises SIGBUS on the next access past the new end.
//! That is not memory unsafety in the Rust sense (no read of freed memory, no wrong value is
//! returned) but it would kill the process without a word, so binaries call
//! [`install_sigbus_handler`] to turn it into a clear message and exit code 2 with nothing
//! printed on stdout. A file that changes without shrinking is caught by the engine, which
//! compares size and mtime before and after hashing.
//!
//! Small ranges are read with `pread` into a per-thread buffer: for files of a few hundred KiB a
//! map, its page faults and its unmap cost more than a copy out of the page cache (b3sum measures
//! the same trade-off). Ranges that cannot be mapped (special filesystems, `/proc`) fall back to
//! buffered reads.
#![allow(unsafe_code)]

use std::cell::RefCell;
use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;

use memmap2::{Advice, MmapOptions};

/// Ranges at least this long are memory-mapped.
pub(crate) const MMAP_MIN: u64 = 1 << 20;

/// Mapped bytes handed to the visitor at a time: the granularity of progress reports. A
/// serial hash does not care; a parallel one (BLAKE3) synchronises its threads at every
/// segment end, so it asks for [`PARALLEL_SEGMENT`] instead.
pub(crate) const SEGMENT: usize = 16 << 20;

/// Segment size for parallel hashing: few enough joins that a briefly descheduled thread does
/// not stall the others at each one (measured: 16 MiB segments widened the run-time spread of
/// a 4 GiB BLAKE3 hash on a loaded 2-core machine; b3sum hashes the whole map in one call).
pub(crate) const PARALLEL_SEGMENT: usize = 256 << 20;

/// Buffered reads use this many bytes per call.
const READ_CHUNK: usize = 1 << 20;

thread_local! {
    static BUFFER: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

/// Calls `visit` with consecutive pieces of `file[start..start + len]`, in order.
///
/// Fails with `UnexpectedEof` if the file ends before the range does (it shrank).
pub(crate) fn for_each_segment(
    file: &File,
    start: u64,
    len: u64,
    segment: usize,
    visit: &mut dyn FnMut(&[u8]),
) -> io::Result<()> {
    if len >= MMAP_MIN {
        // Mapping past the end succeeds but faults on access: check the range first.
        if file.metadata()?.len() < start.saturating_add(len) {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        if let Some(map) = map_range(file, start, len) {
            for piece in map.chunks(segment.max(1)) {
                visit(piece);
            }
            return Ok(());
        }
    }
    read_range(file, start, len, visit)
}

fn map_range(file: &File, start: u64, len: u64) -> Option<memmap2::Mmap> {
    let len = usize::try_from(len).ok()?;
    // SAFETY: the map is read-only and private to this function's caller; see the module
    // docs for the truncation risk and how it is contained.
    let map = unsafe { MmapOptions::new().offset(start).len(len).map(file) }.ok()?;
    // Advice is a hint; a kernel that ignores it changes speed, not results.
    let _ = map.advise(Advice::Sequential);
    let _ = map.advise(Advice::WillNeed);
    Some(map)
}

fn read_range(file: &File, start: u64, len: u64, visit: &mut dyn FnMut(&[u8])) -> io::Result<()> {
    BUFFER.with_borrow_mut(|buf| {
        let want = usize::try_from(len).unwrap_or(usize::MAX).min(READ_CHUNK);
        if buf.len() < want {
            buf.resize(want, 0);
        }
        let mut offset = start;
        let end = start + len;
        while offset < end {
            let n = usize::try_from(end - offset)
                .unwrap_or(usize::MAX)
                .min(buf.len());
            file.read_exact_at(&mut buf[..n], offset)?;
            visit(&buf[..n]);
            offset += n as u64;
        }
        Ok(())
    })
}

/// Makes a SIGBUS (a memory-mapped input shrank while being read) print one clear line on
/// stderr and exit with status 2, instead of killing the process silently.
///
/// For binaries: it replaces the process-wide SIGBUS disposition. Nothing has been written to
/// stdout at that point, since results are printed only after hashing completes.
pub fn install_sigbus_handler() {
    // SAFETY: the handler only calls async-signal-safe functions (write, _exit) on static data;
    // sigaction is given a fully initialised struct.
    unsafe {
        let mut action: libc::sigaction = std::mem::zeroed();
        action.sa_sigaction = on_sigbus as *const () as libc::sighandler_t;
        libc::sigemptyset(&mut action.sa_mask);
        libc::sigaction(libc::SIGBUS, &action, std::ptr::null_mut());
    }
}

extern "C" fn on_sigbus(_signal: libc::c_int) {
    const MESSAGE: &[u8] = b"error: an input file shrank while it was being hashed (SIGBUS on a memory-mapped read); no digest was produced. Re-run once nothing is writing to the model.\n";
    // SAFETY: write(2) and _exit(2) are async-signal-safe; MESSAGE is static.
    unsafe {
        libc::write(2, MESSAGE.as_ptr().cast(), MESSAGE.len());
        libc::_exit(2);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn collect(file: &File, start: u64, len: u64) -> io::Result<Vec<u8>> {
        let mut out = Vec::new();
        for_each_segment(file, start, len, SEGMENT, &mut |b| out.extend_from_slice(b))?;
        Ok(out)
    }

    #[test]
    fn mapped_and_buffered_ranges_agree() {
        let data: Vec<u8> = (0..(3 * MMAP_MIN as usize + 17))
            .map(|i| (i % 251) as u8)
            .collect();
        let mut f = tempfile::tempfile().unwrap();
        f.write_all(&data).unwrap();
        for (start, len) in [(0, data.len()), (5, MMAP_MIN as usize), (7, 100), (0, 0)] {
            let got = collect(&f, start as u64, len as u64).unwrap();
            assert_eq!(got, &data[start..start + len]);
            let mut buffered = Vec::new();
            read_range(&f, start as u64, len as u64, &mut |b| {
                buffered.extend_from_slice(b)
            })
            .unwrap();
            assert_eq!(buffered, got);
        }
    }

    #[test]
    fn range_past_end_is_an_error() {
        let mut f = tempfile::tempfile().unwrap();
        f.write_all(b"short").unwrap();
        let err = collect(&f, 2, 10).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::UnexpectedEof);
    }
}
