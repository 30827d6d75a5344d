//! Blob transfers of whole files, many at a time: streaming uploads from files (large model
//! layers are never held in memory) and parallel downloads to files.
//!
//! An upload is `HEAD` (skip blobs the repository already has), then `POST /blobs/uploads/`
//! and one monolithic `PUT …?digest=` whose body streams the file in [`CHUNK`]-byte reads done
//! on tokio's blocking pool, one read ahead of the socket. The digest is the caller's (tollgate
//! hashes a model once, with its parallel engine, before pushing); it is not recomputed here:
//! the registry checks it against the bytes it received and refuses a mismatch, and the body
//! fails if the file's length is not the size that was hashed.
//!
//! A download is one `GET` whose body is hashed once, on tokio's blocking pool, as it is
//! written in [`CHUNK`]-byte batches to a temporary file next to the destination; the file is
//! synced (every 64 MiB and at the end, so the disk writes while the rest arrives) and renamed
//! to its name only when size and digest match (as [`Client::pull_blob_to_file`], without its
//! second hash inside oci-client).
//!
//! Requests go through the client's authorization and retry layer ([`Client::send`]); a body
//! cut off midway is an error, not resumed.
//!
//! Batches run `concurrency` blobs at a time on their own client and current-thread runtime,
//! with one OS thread per lane calling `block_on` (tokio lets non-driving threads poll their
//! own futures, so hashing and copying spread over cores while one thread drives the I/O). A
//! separate client (same options, so same credentials; its own token cache, so one token
//! request per batch) keeps the batch's pooled connections on the runtime that created them:
//! a connection made on the [`BlockingClient`]'s runtime would stall on this one.

use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::task::{Context, Poll};

use reqwest::StatusCode;
use reqwest::header::{CONTENT_LENGTH, CONTENT_TYPE, LOCATION};
use tokio::task::JoinHandle;
use tollgate_verifier::digest::{Digest, HashAlgorithm, Hasher};

use crate::auth::Access;
use crate::blocking::BlockingClient;
use crate::client::Client;
use crate::error::Error;
use crate::reference::Reference;
use crate::send::error_chain;

/// Bytes read from a file per body chunk.
pub(crate) const CHUNK: usize = 4 << 20;

/// Largest number of blobs transferred at once.
pub(crate) const MAX_CONCURRENCY: usize = 32;

/// A file to upload as a blob: its path, and the sha256 and size it was hashed with.
struct FileBlob<'a> {
    path: &'a Path,
    digest: &'a Digest,
    size: u64,
}

impl Client {
    /// Uploads the file at `path` as blob `digest` unless the repository already has it:
    /// `POST` an upload session, then one `PUT ?digest=` streaming the file. The registry
    /// verifies the digest; a file whose length is not `size` fails the body. Returns whether
    /// anything was sent (`false`: the blob existed).
    pub async fn push_blob_file(
        &self,
        r: &Reference,
        path: &Path,
        digest: &Digest,
        size: u64,
    ) -> Result<bool, Error> {
        let blob = FileBlob { path, digest, size };
        push_file(self, r, &blob).await
    }
}

impl BlockingClient {
    /// Uploads every `(path, sha256, size)` of `files` (see [`Client::push_blob_file`]),
    /// `concurrency` at a time (1 to 32), and returns how many were sent (the
    /// others existed). Stops at the first error (blobs already sent stay in the registry,
    /// unreferenced until a manifest names them).
    pub fn push_blob_files(
        &self,
        r: &Reference,
        files: &[(PathBuf, Digest, u64)],
        concurrency: usize,
    ) -> Result<usize, Error> {
        self.client().check_transport(r)?;
        let client = Client::new(self.client().options().clone())?;
        let sent = run_batch(files.len(), concurrency, |i| {
            let (path, digest, size) = &files[i];
            let blob = FileBlob {
                path,
                digest,
                size: *size,
            };
            let client = &client;
            async move { push_file(client, r, &blob).await }
        })?;
        Ok(sent.into_iter().filter(|s| *s).count())
    }

    /// Downloads every `(digest, size, dest)` of `blobs`, `concurrency` at a time: each into a
    /// temporary file next to `dest` (its directory must exist), hashed once while written (on
    /// the blocking pool, in 4 MiB writes), cut off past `size`, synced to disk (when `sync`:
    /// then a crash never leaves a named file with unwritten content) and renamed to `dest`
    /// only when size and digest match. Returns the bytes written. Stops at the first error;
    /// files already completed are left in place.
    pub fn pull_blob_files(
        &self,
        r: &Reference,
        blobs: &[(Digest, u64, PathBuf)],
        concurrency: usize,
        sync: bool,
    ) -> Result<u64, Error> {
        self.client().check_transport(r)?;
        let client = Client::new(self.client().options().clone())?;
        let sizes = run_batch(blobs.len(), concurrency, |i| {
            let (digest, size, dest) = &blobs[i];
            pull_file(&client, r, digest, *size, dest, sync)
        })?;
        Ok(sizes.iter().sum())
    }
}

/// Runs `job(0..n)` on `concurrency` lanes (threads sharing one current-thread runtime);
/// results in index order, or the first error.
fn run_batch<T, F, Fut>(n: usize, concurrency: usize, job: F) -> Result<Vec<T>, Error>
where
    T: Send,
    F: Fn(usize) -> Fut + Sync,
    Fut: Future<Output = Result<T, Error>>,
{
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(Error::Runtime)?;
    let next = AtomicUsize::new(0);
    let failed = AtomicBool::new(false);
    let results: Mutex<Vec<Option<Result<T, Error>>>> =
        Mutex::new(std::iter::repeat_with(|| None).take(n).collect());
    let lanes = concurrency.clamp(1, MAX_CONCURRENCY).min(n.max(1));
    std::thread::scope(|scope| {
        for _ in 0..lanes {
            scope.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= n || failed.load(Ordering::Relaxed) {
                        break;
                    }
                    let result = runtime.block_on(job(i));
                    if result.is_err() {
                        failed.store(true, Ordering::Relaxed);
                    }
                    results.lock().unwrap_or_else(|e| e.into_inner())[i] = Some(result);
                }
            });
        }
    });
    let results = results.into_inner().unwrap_or_else(|e| e.into_inner());
    // The first error in index order; blobs never started (after a failure) have no result.
    let mut out = Vec::with_capacity(n);
    for result in results.into_iter().flatten() {
        out.push(result?);
    }
    Ok(out)
}

async fn push_file(client: &Client, r: &Reference, blob: &FileBlob<'_>) -> Result<bool, Error> {
    client.check_transport(r)?;
    if client.blob_exists_for(r, blob.digest, Access::Push).await? {
        return Ok(false);
    }
    let options = client.options();
    let operation = format!("push blob {} ({})", blob.digest, blob.path.display());
    let upload = async {
        let location = start_upload(client, r, &operation).await?;
        let sep = if location.contains('?') { '&' } else { '?' };
        let url = format!("{location}{sep}digest={}", blob.digest);
        // A retry sends the file again from its start.
        let res = client
            .send(r, Access::Push, &operation, || {
                client
                    .http
                    .put(&url)
                    .header(CONTENT_TYPE, "application/octet-stream")
                    .header(CONTENT_LENGTH, blob.size)
                    .timeout(options.transfer_timeout)
                    .body(reqwest::Body::wrap_stream(FileStream::new(
                        blob.path, blob.size,
                    )))
            })
            .await?;
        if res.status() != StatusCode::CREATED {
            return Err(client.status_error(r, &operation, res).await);
        }
        Ok(true)
    };
    client
        .timed(r, &operation, options.transfer_timeout, upload)
        .await
}

/// One download (see [`BlockingClient::pull_blob_files`]).
async fn pull_file(
    client: &Client,
    r: &Reference,
    digest: &Digest,
    size: u64,
    dest: &Path,
    sync: bool,
) -> Result<u64, Error> {
    let io_err = |source| Error::Io {
        path: dest.to_owned(),
        source,
    };
    let dir = match dest.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let tmp = tempfile::Builder::new()
        .prefix(".tollgate-blob-")
        .tempfile_in(dir)
        .map_err(io_err)?;
    let file = tmp.reopen().map_err(io_err)?;
    let operation = format!("pull blob {digest}");
    let url = format!(
        "{}://{}/v2/{}/blobs/{digest}",
        client.scheme(),
        r.registry(),
        r.repository_name()
    );
    let options = client.options();
    let download = async {
        let mut res = client
            .send(r, Access::Pull, &operation, || {
                client.http.get(&url).timeout(options.transfer_timeout)
            })
            .await?;
        if !res.status().is_success() {
            return Err(client.status_error(r, &operation, res).await);
        }
        let mut sink = HashingFile::new(file, size, sync);
        while let Some(chunk) = res
            .chunk()
            .await
            .map_err(|e| Client::transport(r, &operation, error_chain(&e)))?
        {
            if sink.received + chunk.len() as u64 > size {
                return Err(size_mismatch(
                    r,
                    digest,
                    size,
                    sink.received + chunk.len() as u64,
                    " or more",
                ));
            }
            sink.push(&chunk).await.map_err(io_err)?;
        }
        sink.finish().await.map_err(io_err)
    };
    let (received, actual) = client
        .timed(r, &operation, options.transfer_timeout, download)
        .await?;
    if received != size {
        return Err(size_mismatch(r, digest, size, received, ""));
    }
    if actual != *digest {
        return Err(Client::digest_mismatch(
            r,
            format!("blob {digest}"),
            digest.to_string(),
            &actual,
        ));
    }
    tmp.persist(dest).map_err(|e| io_err(e.error))?;
    Ok(received)
}

fn size_mismatch(
    r: &Reference,
    digest: &Digest,
    expected: u64,
    actual: u64,
    more: &'static str,
) -> Error {
    Error::SizeMismatch {
        digest: digest.to_string(),
        registry: r.registry().to_owned(),
        repository: r.repository_name().to_owned(),
        expected,
        actual,
        more,
    }
}

/// A file written in [`CHUNK`]-byte batches on the blocking pool, each hashed there before it
/// is written, one batch in flight while the next is received.
///
/// When syncing, the data is also synced every [`SYNC_EVERY`] bytes: the disk then writes while
/// the rest arrives, instead of all of it in one `fsync` at the end (what made synced pulls
/// take download time + disk time rather than the longer of the two).
struct HashingFile {
    buf: Vec<u8>,
    received: u64,
    sync: bool,
    unsynced: usize,
    state: Option<(std::fs::File, Hasher)>,
    pending: Option<JoinHandle<WriteResult>>,
}

/// Bytes written between two `fdatasync`s of a download that is synced.
const SYNC_EVERY: usize = 64 << 20;

type WriteResult = (std::fs::File, Hasher, Vec<u8>, std::io::Result<()>);

impl HashingFile {
    fn new(file: std::fs::File, size: u64, sync: bool) -> Self {
        Self {
            buf: Vec::with_capacity((size as usize).min(CHUNK)),
            received: 0,
            sync,
            unsynced: 0,
            state: Some((file, Hasher::new(HashAlgorithm::Sha256))),
            pending: None,
        }
    }

    async fn push(&mut self, data: &[u8]) -> std::io::Result<()> {
        self.received += data.len() as u64;
        self.buf.extend_from_slice(data);
        if self.buf.len() >= CHUNK {
            self.flush().await?;
        }
        Ok(())
    }

    /// Waits for the batch in flight, then starts writing the buffer.
    async fn flush(&mut self) -> std::io::Result<()> {
        let spare = self.wait().await?;
        let batch = std::mem::replace(&mut self.buf, spare);
        let Some((mut file, mut hasher)) = self.state.take() else {
            return Err(std::io::Error::other("file already failed"));
        };
        self.unsynced += batch.len();
        let sync_now = self.sync && self.unsynced >= SYNC_EVERY;
        if sync_now {
            self.unsynced = 0;
        }
        self.pending = Some(tokio::task::spawn_blocking(move || {
            use std::io::Write;
            hasher.update(&batch);
            let mut result = file.write_all(&batch);
            if sync_now && result.is_ok() {
                result = file.sync_data();
            }
            (file, hasher, batch, result)
        }));
        Ok(())
    }

    /// Waits for the batch in flight; returns its (emptied) buffer for reuse.
    async fn wait(&mut self) -> std::io::Result<Vec<u8>> {
        let Some(pending) = self.pending.take() else {
            return Ok(Vec::with_capacity(CHUNK));
        };
        let (file, hasher, mut batch, result) = pending.await.map_err(std::io::Error::other)?;
        result?;
        self.state = Some((file, hasher));
        batch.clear();
        Ok(batch)
    }

    /// Writes what is left, syncs the file (when syncing), and returns the bytes received and
    /// their digest.
    async fn finish(mut self) -> std::io::Result<(u64, Digest)> {
        let sync = self.sync;
        self.flush().await?;
        self.wait().await?;
        let (file, hasher) = self
            .state
            .take()
            .ok_or_else(|| std::io::Error::other("file already failed"))?;
        let file = tokio::task::spawn_blocking(move || {
            if sync {
                file.sync_all()?;
            }
            Ok::<_, std::io::Error>(file)
        })
        .await
        .map_err(std::io::Error::other)??;
        drop(file);
        Ok((self.received, hasher.finalize()))
    }
}

/// `POST /v2/<name>/blobs/uploads/`; returns the absolute upload URL from `Location`.
async fn start_upload(client: &Client, r: &Reference, operation: &str) -> Result<String, Error> {
    let base = format!("{}://{}", client.scheme(), r.registry());
    let url = format!("{base}/v2/{}/blobs/uploads/", r.repository_name());
    let res = client
        .send(r, Access::Push, operation, || {
            client.http.post(&url).header(CONTENT_LENGTH, 0)
        })
        .await?;
    if res.status() != StatusCode::ACCEPTED {
        return Err(client.status_error(r, operation, res).await);
    }
    let location = res
        .headers()
        .get(LOCATION)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| Client::transport(r, operation, "upload session has no Location header"))?;
    if location.starts_with("http://") || location.starts_with("https://") {
        Ok(location.to_owned())
    } else if location.starts_with('/') {
        Ok(format!("{base}{location}"))
    } else {
        Err(Client::transport(
            r,
            operation,
            format!("unusable upload Location {location:?}"),
        ))
    }
}

/// A file as a stream of [`CHUNK`]-byte reads on the blocking pool, one read ahead, exactly
/// `size` bytes long (a shorter or longer file is an error). Opened at the first poll, so a
/// request builder can make a fresh one per attempt.
struct FileStream {
    path: PathBuf,
    remaining: u64,
    state: State,
}

enum State {
    Unopened,
    Reading(JoinHandle<ReadResult>),
    Done,
}

type ReadResult = (Option<std::fs::File>, std::io::Result<Vec<u8>>);

impl FileStream {
    fn new(path: &Path, size: u64) -> Self {
        Self {
            path: path.to_owned(),
            remaining: size,
            state: State::Unopened,
        }
    }

    /// Starts the next read (the last one also checks that the file ends where it should);
    /// `file` is `None` for the first, which opens the file.
    fn read_next(&mut self, file: Option<std::fs::File>) {
        let want = self.remaining.min(CHUNK as u64) as usize;
        let last = self.remaining <= CHUNK as u64;
        let path = self.path.clone();
        self.state = State::Reading(tokio::task::spawn_blocking(move || {
            let mut file = match file.map_or_else(|| std::fs::File::open(&path), Ok) {
                Ok(f) => f,
                Err(e) => return (None, Err(e)),
            };
            let result = read_chunk(&mut file, want, last);
            (Some(file), result)
        }));
    }
}

fn read_chunk(file: &mut std::fs::File, want: usize, last: bool) -> std::io::Result<Vec<u8>> {
    use std::io::Read;
    let mut buf = vec![0u8; want];
    file.read_exact(&mut buf).map_err(|e| match e.kind() {
        std::io::ErrorKind::UnexpectedEof => {
            std::io::Error::other("file is shorter than when it was hashed")
        }
        _ => e,
    })?;
    if last {
        // Nothing may follow the last chunk.
        let mut probe = [0u8; 1];
        if file.read(&mut probe)? != 0 {
            return Err(std::io::Error::other(
                "file is longer than when it was hashed",
            ));
        }
    }
    Ok(buf)
}

impl futures_core::Stream for FileStream {
    type Item = std::io::Result<Vec<u8>>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if matches!(self.state, State::Unopened) {
            self.read_next(None);
        }
        let State::Reading(pending) = &mut self.state else {
            return Poll::Ready(None);
        };
        let (file, result) = match Pin::new(pending).poll(cx) {
            Poll::Pending => return Poll::Pending,
            Poll::Ready(Ok(done)) => done,
            Poll::Ready(Err(e)) => {
                self.state = State::Done;
                return Poll::Ready(Some(Err(std::io::Error::other(e))));
            }
        };
        self.state = State::Done;
        let chunk = match result {
            Ok(chunk) => chunk,
            Err(e) => {
                let path = self.path.display().to_string();
                return Poll::Ready(Some(Err(std::io::Error::new(
                    e.kind(),
                    format!("{path}: {e}"),
                ))));
            }
        };
        self.remaining -= chunk.len() as u64;
        if self.remaining > 0 {
            self.read_next(file);
        }
        if chunk.is_empty() {
            return Poll::Ready(None);
        }
        Poll::Ready(Some(Ok(chunk)))
    }
}
