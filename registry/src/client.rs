//! The async registry [`Client`]: manifests (size-bounded, digest-verified, parsed by
//! [`tollgate_verifier::oci`]), blobs (digest-verified both ways, pulled to a temporary file
//! that is renamed only after its digest matched), tags and referrers.
//!
//! Every request runs under [`Options::timeout`] (blob transfers under
//! [`Options::transfer_timeout`], with [`Options::timeout`] also as the stall timeout between
//! reads), authorized and retried by [`crate::send`] (credentials and tokens from
//! [`crate::auth`]). Referrers use the OCI 1.1 API when the registry has it and otherwise the tag-schema
//! index at `sha256-<hex>`, which [`Client::attach_referrer`] maintains by read-merge-write.
//! The read-merge-write is not atomic: two writers racing on one subject can lose an entry
//! (distribution 2.8 supports no conditional PUT); callers should attach sequentially.

use std::future::Future;
use std::io;
use std::path::Path;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use oci_client::client::{ClientConfig, ClientProtocol};
use oci_client::errors::OciDistributionError;
use reqwest::StatusCode;
use reqwest::header::{ACCEPT, CONTENT_LENGTH, CONTENT_TYPE, HeaderValue};
use serde_json::{Map, Value, json};
use tokio::io::AsyncWrite;
use tollgate_verifier::digest::{Digest, HashAlgorithm, Hasher};
use tollgate_verifier::oci::{
    Descriptor, ImageIndex, ImageManifest, MAX_MANIFEST_SIZE, ManifestError, MediaType, Platform,
};

use crate::auth::{Access, AuthCache};
use crate::credentials::Credentials;
use crate::error::Error;
use crate::platform::select_platform;
use crate::reference::Reference;
use crate::retry::RetryPolicy;

/// Media types asked for when reading a manifest.
const MANIFEST_ACCEPT: &str = "application/vnd.oci.image.manifest.v1+json, \
    application/vnd.oci.image.index.v1+json, \
    application/vnd.docker.distribution.manifest.v2+json, \
    application/vnd.docker.distribution.manifest.list.v2+json";

/// How the client talks to registries.
#[derive(Clone, Debug)]
pub struct Options {
    /// Use `http://` instead of `https://`. Refused for non-loopback registries unless
    /// [`Options::insecure`] is set too.
    pub plain_http: bool,
    /// Allow plain HTTP to any registry, not just loopback ones.
    pub insecure: bool,
    /// Timeout of each metadata request (manifests, tags, referrers, existence checks), and the
    /// longest stall between two reads of a blob transfer.
    pub timeout: Duration,
    /// Timeout of a whole blob upload or download.
    pub transfer_timeout: Duration,
    /// Retries of idempotent requests on connection errors, 429 and 5xx.
    pub retry: RetryPolicy,
    /// Where credentials come from (default: none, anonymous access).
    pub credentials: Credentials,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            plain_http: false,
            insecure: false,
            timeout: Duration::from_secs(30),
            transfer_timeout: Duration::from_secs(3600),
            retry: RetryPolicy::default(),
            credentials: Credentials::anonymous(),
        }
    }
}

impl Options {
    /// Plain HTTP (for loopback registries, e.g. in tests); everything else default.
    pub fn plain_http() -> Self {
        Self {
            plain_http: true,
            ..Self::default()
        }
    }
}

/// A manifest or index, parsed.
#[derive(Clone, Debug)]
pub enum Document {
    /// An image manifest (OCI or Docker v2 schema 2).
    Manifest(Box<ImageManifest>),
    /// An image index (OCI or Docker manifest list).
    Index(Box<ImageIndex>),
}

impl Document {
    /// Parses `bytes` as whatever `media_type` says (by the `manifests` property when the media
    /// type is not one of the four manifest types).
    pub fn parse(bytes: &[u8], media_type: Option<&MediaType>) -> Result<Self, ManifestError> {
        let is_index = match media_type {
            Some(mt) if mt.is_index() => true,
            Some(mt) if mt.is_image_manifest() => false,
            _ => serde_json::from_slice::<Value>(bytes)
                .ok()
                .is_some_and(|v| v.get("manifests").is_some()),
        };
        let expected = media_type.filter(|mt| mt.is_index() || mt.is_image_manifest());
        if is_index {
            ImageIndex::parse(bytes, expected).map(|i| Self::Index(Box::new(i)))
        } else {
            ImageManifest::parse(bytes, expected).map(|m| Self::Manifest(Box::new(m)))
        }
    }

    /// The `subject`, if any.
    pub fn subject(&self) -> Option<&Descriptor> {
        match self {
            Self::Manifest(m) => m.subject(),
            Self::Index(i) => i.subject(),
        }
    }
}

/// A manifest read from a registry: its exact bytes, their digest and the parsed document.
#[derive(Clone, Debug)]
pub struct Manifest {
    /// The sha256 of [`Manifest::bytes`] (checked against the reference's digest and the
    /// registry's `Docker-Content-Digest`).
    pub digest: Digest,
    /// The media type: the document's own `mediaType`, else the response's `Content-Type`.
    pub media_type: Option<MediaType>,
    /// The bytes as served (what signatures cover).
    pub bytes: Vec<u8>,
    /// The parsed document.
    pub document: Document,
}

/// Where a referrers list came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReferrerSource {
    /// The registry's OCI 1.1 referrers API.
    Api,
    /// The tag-schema fallback index at `sha256-<hex>`.
    TagSchema,
    /// Neither exists: no referrers.
    None,
}

/// The referrers of a manifest.
#[derive(Clone, Debug)]
pub struct Referrers {
    /// Where they were found.
    pub source: ReferrerSource,
    /// One descriptor per referrer manifest, as listed (never filter fallback entries on
    /// `artifactType`: writers disagree on what they put there; read the manifest).
    pub descriptors: Vec<Descriptor>,
}

/// Raw bytes of a bounded GET.
struct Fetched {
    bytes: Vec<u8>,
    content_type: Option<String>,
    digest_header: Option<String>,
}

/// An async client for OCI distribution registries.
#[derive(Clone)]
pub struct Client {
    pub(crate) oci: oci_client::Client,
    pub(crate) http: reqwest::Client,
    pub(crate) options: Options,
    /// Challenges, credentials and tokens, shared by clones.
    pub(crate) auth_cache: Arc<AuthCache>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

pub(crate) fn oci_detail(e: &OciDistributionError) -> String {
    let s = e.to_string();
    // oci-client's messages start with a capital; ours are lowercase.
    let mut c = s.chars();
    match c.next() {
        Some(first) => first.to_lowercase().chain(c).collect(),
        None => s,
    }
}

impl Client {
    /// A client with `options`.
    pub fn new(options: Options) -> Result<Self, Error> {
        let config = ClientConfig {
            protocol: if options.plain_http {
                ClientProtocol::Http
            } else {
                ClientProtocol::Https
            },
            read_timeout: Some(options.timeout),
            connect_timeout: Some(options.timeout),
            ..ClientConfig::default()
        };
        let http = reqwest::Client::builder()
            .connect_timeout(options.timeout)
            .read_timeout(options.timeout)
            .timeout(options.timeout)
            .user_agent(concat!("tollgate/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| Error::Transport {
                operation: "create http client".into(),
                registry: String::new(),
                repository: String::new(),
                detail: e.to_string(),
            })?;
        Ok(Self {
            oci: oci_client::Client::new(config),
            http,
            options,
            auth_cache: Arc::default(),
        })
    }

    /// The options this client was made with.
    pub fn options(&self) -> &Options {
        &self.options
    }

    /// Refuses plain HTTP to non-loopback registries unless `insecure`.
    pub(crate) fn check_transport(&self, r: &Reference) -> Result<(), Error> {
        if self.options.plain_http && !self.options.insecure && !r.is_loopback() {
            return Err(Error::PlainHttpRefused {
                registry: r.registry().to_owned(),
            });
        }
        Ok(())
    }

    /// `http` or `https`, as the options say.
    pub(crate) fn scheme(&self) -> &'static str {
        if self.options.plain_http {
            "http"
        } else {
            "https"
        }
    }

    fn base_url(&self, r: &Reference) -> String {
        format!(
            "{}://{}/v2/{}",
            self.scheme(),
            r.registry(),
            r.repository_name()
        )
    }

    pub(crate) fn oci_ref(r: &Reference) -> oci_client::Reference {
        let registry = r.registry().to_owned();
        let repo = r.repository_name().to_owned();
        match (r.digest(), r.tag()) {
            (Some(d), _) => oci_client::Reference::with_digest(registry, repo, d.to_string()),
            (None, Some(t)) => oci_client::Reference::with_tag(registry, repo, t.to_owned()),
            (None, None) => oci_client::Reference::with_tag(registry, repo, "latest".into()),
        }
    }

    pub(crate) fn transport(r: &Reference, operation: &str, detail: impl ToString) -> Error {
        Error::Transport {
            operation: operation.to_owned(),
            registry: r.registry().to_owned(),
            repository: r.repository_name().to_owned(),
            detail: detail.to_string(),
        }
    }

    pub(crate) async fn timed<T>(
        &self,
        r: &Reference,
        operation: &str,
        limit: Duration,
        fut: impl Future<Output = Result<T, Error>>,
    ) -> Result<T, Error> {
        match tokio::time::timeout(limit, fut).await {
            Ok(result) => result,
            Err(_) => Err(Error::Timeout {
                operation: operation.to_owned(),
                registry: r.registry().to_owned(),
                repository: r.repository_name().to_owned(),
                seconds: limit.as_secs(),
            }),
        }
    }

    /// GET `url` with at most `MAX_MANIFEST_SIZE` bytes of body; `Ok(None)` on 404.
    async fn get_bounded(
        &self,
        r: &Reference,
        operation: &str,
        target: &str,
        url: &str,
        accept: &str,
    ) -> Result<Option<Fetched>, Error> {
        let mut res = self
            .send(r, Access::Pull, operation, || {
                self.http.get(url).header(ACCEPT, accept)
            })
            .await?;
        let fut = async {
            let status = res.status();
            if status == StatusCode::NOT_FOUND {
                return Ok(None);
            }
            if !status.is_success() {
                return Err(self.status_error(r, operation, res).await);
            }
            let too_large = |size: u64| Error::ManifestTooLarge {
                registry: r.registry().to_owned(),
                repository: r.repository_name().to_owned(),
                target: target.to_owned(),
                size,
                limit: MAX_MANIFEST_SIZE,
            };
            let header = |name: &str| {
                res.headers()
                    .get(name)
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_owned)
            };
            let content_type = header(CONTENT_TYPE.as_str());
            let digest_header = header("docker-content-digest");
            if let Some(len) = header(CONTENT_LENGTH.as_str()).and_then(|l| l.parse::<u64>().ok())
                && len > MAX_MANIFEST_SIZE
            {
                return Err(too_large(len));
            }
            let mut bytes = Vec::new();
            while let Some(chunk) = res
                .chunk()
                .await
                .map_err(|e| Self::transport(r, operation, e))?
            {
                bytes.extend_from_slice(&chunk);
                if bytes.len() as u64 > MAX_MANIFEST_SIZE {
                    return Err(too_large(bytes.len() as u64));
                }
            }
            Ok(Some(Fetched {
                bytes,
                content_type,
                digest_header,
            }))
        };
        self.timed(r, operation, self.options.timeout, fut).await
    }

    pub(crate) async fn status_error(
        &self,
        r: &Reference,
        operation: &str,
        res: reqwest::Response,
    ) -> Error {
        let status = res.status().as_u16();
        // The start of the body only, read for at most 2 s: it is for the message.
        let mut res = res;
        let mut start = Vec::new();
        let _ = tokio::time::timeout(Duration::from_secs(2), async {
            while start.len() < 300
                && let Ok(Some(chunk)) = res.chunk().await
            {
                start.extend_from_slice(&chunk);
            }
        })
        .await;
        let body = if start.is_empty() {
            String::new()
        } else {
            let text = String::from_utf8_lossy(&start[..start.len().min(300)]);
            format!(": {}", text.trim())
        };
        Error::Status {
            operation: operation.to_owned(),
            registry: r.registry().to_owned(),
            repository: r.repository_name().to_owned(),
            status,
            body,
        }
    }

    pub(crate) fn digest_mismatch(
        r: &Reference,
        what: String,
        expected: String,
        actual: &Digest,
    ) -> Error {
        Error::DigestMismatch {
            what,
            registry: r.registry().to_owned(),
            repository: r.repository_name().to_owned(),
            expected,
            actual: actual.to_string(),
        }
    }

    /// Reads the manifest `r` names (tag or digest): at most 4 MiB, its sha256 checked against
    /// the reference's digest and the registry's `Docker-Content-Digest`, parsed strictly.
    pub async fn get_manifest(&self, r: &Reference) -> Result<Manifest, Error> {
        self.check_transport(r)?;
        let target = r.target().ok_or_else(|| Error::NoTarget {
            operation: "get manifest",
            reference: r.to_string(),
        })?;
        let operation = format!("get manifest {target}");
        let url = format!("{}/manifests/{target}", self.base_url(r));
        let fetched = self
            .get_bounded(r, &operation, &target, &url, MANIFEST_ACCEPT)
            .await?
            .ok_or_else(|| Error::ManifestNotFound {
                registry: r.registry().to_owned(),
                repository: r.repository_name().to_owned(),
                target: target.clone(),
            })?;
        self.check_manifest(r, &target, fetched)
    }

    fn check_manifest(&self, r: &Reference, target: &str, f: Fetched) -> Result<Manifest, Error> {
        let digest = Digest::sha256(&f.bytes);
        if let Some(expected) = r.digest()
            && *expected != digest
        {
            return Err(Self::digest_mismatch(
                r,
                format!("manifest {target}"),
                expected.to_string(),
                &digest,
            ));
        }
        if let Some(header) = &f.digest_header
            && header.starts_with("sha256:")
            && *header != digest.to_string()
        {
            return Err(Self::digest_mismatch(
                r,
                format!("manifest {target} (Docker-Content-Digest)"),
                header.clone(),
                &digest,
            ));
        }
        let invalid = |source| Error::InvalidManifest {
            registry: r.registry().to_owned(),
            repository: r.repository_name().to_owned(),
            target: target.to_owned(),
            source: Box::new(source),
        };
        let header_type = f
            .content_type
            .as_deref()
            .map(|ct| ct.split(';').next().unwrap_or(ct).trim())
            .and_then(|ct| MediaType::parse(ct).ok());
        let document = Document::parse(&f.bytes, header_type.as_ref()).map_err(invalid)?;
        let own = match &document {
            Document::Manifest(m) => m.media_type().cloned(),
            Document::Index(i) => i.media_type().cloned(),
        };
        Ok(Manifest {
            digest,
            media_type: own.or(header_type),
            bytes: f.bytes,
            document,
        })
    }

    /// Resolves `r` (a tag, or a digest to confirm) to the digest of the manifest's bytes.
    pub async fn resolve(&self, r: &Reference) -> Result<Digest, Error> {
        Ok(self.get_manifest(r).await?.digest)
    }

    /// Stores `bytes` as a manifest of `media_type` at `r`'s tag, or by digest when `r` has only a
    /// digest (which must be the bytes' sha256). The bytes are parsed first: no invalid or
    /// oversized manifest is pushed. Returns the manifest's digest.
    pub async fn put_manifest(
        &self,
        r: &Reference,
        bytes: &[u8],
        media_type: &MediaType,
    ) -> Result<Digest, Error> {
        self.check_transport(r)?;
        let digest = Digest::sha256(bytes);
        let target = match (r.tag(), r.digest()) {
            (Some(tag), _) => tag.to_owned(),
            (None, Some(d)) => d.to_string(),
            (None, None) => digest.to_string(),
        };
        if let Some(expected) = r.digest()
            && *expected != digest
        {
            return Err(Self::digest_mismatch(
                r,
                format!("manifest to push as {target}"),
                expected.to_string(),
                &digest,
            ));
        }
        if bytes.len() as u64 > MAX_MANIFEST_SIZE {
            return Err(Error::ManifestTooLarge {
                registry: r.registry().to_owned(),
                repository: r.repository_name().to_owned(),
                target,
                size: bytes.len() as u64,
                limit: MAX_MANIFEST_SIZE,
            });
        }
        Document::parse(bytes, Some(media_type)).map_err(|source| Error::InvalidManifest {
            registry: r.registry().to_owned(),
            repository: r.repository_name().to_owned(),
            target: target.clone(),
            source: Box::new(source),
        })?;
        let operation = format!("put manifest {target}");
        let content_type = HeaderValue::from_str(media_type.as_str())
            .map_err(|e| Self::transport(r, &operation, e))?;
        let oci_ref = match r.tag() {
            Some(tag) => oci_client::Reference::with_tag(
                r.registry().into(),
                r.repository_name().into(),
                tag.into(),
            ),
            None => oci_client::Reference::with_digest(
                r.registry().into(),
                r.repository_name().into(),
                digest.to_string(),
            ),
        };
        let body = bytes.to_vec();
        // A manifest PUT is idempotent: the same bytes under the same tag or digest.
        self.with_oci(
            r,
            Access::Push,
            &operation,
            self.options.timeout,
            true,
            || {
                let (oci_ref, body, content_type) = (&oci_ref, body.clone(), content_type.clone());
                async move {
                    self.oci
                        .push_manifest_raw(oci_ref, body, content_type)
                        .await
                }
            },
        )
        .await?;
        Ok(digest)
    }

    /// Whether the repository has blob `digest`.
    pub async fn blob_exists(&self, r: &Reference, digest: &Digest) -> Result<bool, Error> {
        self.blob_exists_for(r, digest, Access::Pull).await
    }

    /// [`Client::blob_exists`] under the authorization for `access` (a push checks with its
    /// push token, so that a pull-only token is never fetched just for this).
    pub(crate) async fn blob_exists_for(
        &self,
        r: &Reference,
        digest: &Digest,
        access: Access,
    ) -> Result<bool, Error> {
        self.check_transport(r)?;
        let operation = format!("check blob {digest}");
        let oci_ref = Self::oci_ref(r);
        let digest_text = digest.to_string();
        self.with_oci(r, access, &operation, self.options.timeout, true, || {
            let (oci_ref, digest_text) = (&oci_ref, digest_text.as_str());
            async move { self.oci.blob_exists(oci_ref, digest_text).await }
        })
        .await
    }

    /// Uploads `data` as a blob after checking it hashes to `expected` (nothing is sent
    /// otherwise). Skips the upload when the registry already has the blob. A failed upload is
    /// retried from the start in a new upload session (safe: the registry stores the blob only
    /// when the digest matches).
    pub async fn push_blob(
        &self,
        r: &Reference,
        data: Vec<u8>,
        expected: &Digest,
    ) -> Result<(), Error> {
        self.check_transport(r)?;
        let actual = Digest::sha256(&data);
        if actual != *expected {
            return Err(Self::digest_mismatch(
                r,
                "blob to push".into(),
                expected.to_string(),
                &actual,
            ));
        }
        if self.blob_exists_for(r, expected, Access::Push).await? {
            return Ok(());
        }
        let operation = format!("push blob {expected}");
        let oci_ref = Self::oci_ref(r);
        let digest_text = expected.to_string();
        self.with_oci(
            r,
            Access::Push,
            &operation,
            self.options.transfer_timeout,
            true,
            || {
                let (oci_ref, data, digest_text) = (&oci_ref, data.clone(), digest_text.as_str());
                async move { self.oci.push_blob(oci_ref, data, digest_text).await }
            },
        )
        .await?;
        Ok(())
    }

    /// Downloads blob `digest` into `dest`: written to a temporary file next to it, hashed while
    /// written, cut off past `size` (when given), and renamed to `dest` only when digest and size
    /// match. On any error no file is left at `dest` (an existing one is left untouched).
    /// A transfer that fails midway is retried from the start. Returns the number of bytes
    /// written.
    pub async fn pull_blob_to_file(
        &self,
        r: &Reference,
        digest: &Digest,
        size: Option<u64>,
        dest: &Path,
    ) -> Result<u64, Error> {
        self.check_transport(r)?;
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
        let operation = format!("pull blob {digest}");
        let oci_ref = Self::oci_ref(r);
        let digest_text = digest.to_string();
        let mut tries = self.tries(true);
        let (writer, result) = loop {
            let file = tmp.reopen().map_err(io_err)?;
            file.set_len(0).map_err(io_err)?;
            let mut writer = HashingWriter {
                file: tokio::fs::File::from_std(file),
                hasher: Hasher::new(HashAlgorithm::Sha256),
                written: 0,
                limit: size,
            };
            let grant = self.prepare_oci(r, Access::Pull).await?;
            let result = self
                .timed(r, &operation, self.options.transfer_timeout, async {
                    Ok(self
                        .oci
                        .pull_blob(&oci_ref, digest_text.as_str(), &mut writer)
                        .await)
                })
                .await?;
            // Overruns and digest errors are checked below; other failures may be retried (the
            // file is started again).
            let overrun = size.is_some_and(|s| writer.written > s);
            match result {
                Err(e) if !overrun && !matches!(e, OciDistributionError::DigestError(_)) => {
                    self.oci_failed(r, Access::Pull, &operation, &e, grant.origin, &mut tries)
                        .await?;
                }
                result => break (writer, result),
            }
        };
        // Our own size and digest checks come first: they name the problem precisely.
        let written = writer.written;
        let over = size.is_some_and(|s| written > s);
        if let Some(expected) = size
            && (over || (result.is_ok() && written != expected))
        {
            return Err(Error::SizeMismatch {
                digest: digest.to_string(),
                registry: r.registry().to_owned(),
                repository: r.repository_name().to_owned(),
                expected,
                actual: written,
                more: if over { " or more" } else { "" },
            });
        }
        let actual = writer.hasher.finalize();
        match result {
            Ok(()) | Err(OciDistributionError::DigestError(_)) => {}
            Err(e) => return Err(Self::transport(r, &operation, oci_detail(&e))),
        }
        if actual != *digest {
            return Err(Self::digest_mismatch(
                r,
                format!("blob {digest}"),
                digest.to_string(),
                &actual,
            ));
        }
        let file = writer.file;
        file.sync_all().await.map_err(io_err)?;
        drop(file);
        tmp.persist(dest).map_err(|e| io_err(e.error))?;
        Ok(written)
    }

    /// Reads a small blob (a signature, a config: `what`) into memory. Its descriptor says
    /// `size` bytes; more than `limit` is refused before any request, and the body is cut off
    /// past `size`. Size and sha256 are checked before the bytes are returned.
    pub async fn get_blob(
        &self,
        r: &Reference,
        digest: &Digest,
        size: u64,
        limit: u64,
        what: &str,
    ) -> Result<Vec<u8>, Error> {
        self.check_transport(r)?;
        if size > limit {
            return Err(Error::BlobTooLarge {
                registry: r.registry().to_owned(),
                repository: r.repository_name().to_owned(),
                digest: digest.to_string(),
                what: what.to_owned(),
                size,
                limit,
            });
        }
        let operation = format!("get blob {digest}");
        let url = format!("{}/blobs/{digest}", self.base_url(r));
        let mut res = self
            .send(r, Access::Pull, &operation, || self.http.get(&url))
            .await?;
        if res.status() == StatusCode::NOT_FOUND {
            return Err(Error::BlobNotFound {
                registry: r.registry().to_owned(),
                repository: r.repository_name().to_owned(),
                digest: digest.to_string(),
            });
        }
        if !res.status().is_success() {
            return Err(self.status_error(r, &operation, res).await);
        }
        let read = async {
            let mut bytes = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
            while let Some(chunk) = res
                .chunk()
                .await
                .map_err(|e| Self::transport(r, &operation, e))?
            {
                bytes.extend_from_slice(&chunk);
                if bytes.len() as u64 > size {
                    break;
                }
            }
            Ok(bytes)
        };
        let bytes = self
            .timed(r, &operation, self.options.timeout, read)
            .await?;
        let actual = bytes.len() as u64;
        if actual != size {
            return Err(Error::SizeMismatch {
                digest: digest.to_string(),
                registry: r.registry().to_owned(),
                repository: r.repository_name().to_owned(),
                expected: size,
                actual,
                more: if actual > size { " or more" } else { "" },
            });
        }
        let got = Digest::sha256(&bytes);
        if got != *digest {
            return Err(Self::digest_mismatch(
                r,
                format!("blob {digest}"),
                digest.to_string(),
                &got,
            ));
        }
        Ok(bytes)
    }

    /// Every tag of the repository.
    pub async fn list_tags(&self, r: &Reference) -> Result<Vec<String>, Error> {
        self.check_transport(r)?;
        let operation = "list tags";
        let oci_ref = Self::oci_ref(r);
        // list_tags stores the auth it is given if oci-client has none for the registry yet:
        // give it the same grant prepare_oci installed.
        let grant = self.prepare_oci(r, Access::Pull).await?;
        let auth = grant.oci_auth();
        self.with_oci(
            r,
            Access::Pull,
            operation,
            self.options.timeout,
            true,
            || {
                let (oci_ref, auth) = (&oci_ref, &auth);
                async move {
                    self.oci
                        .list_tags(oci_ref, auth, None, None)
                        .await
                        .map(|t| t.tags)
                }
            },
        )
        .await
    }

    /// The digest of the manifest for `platform` that `r` names: the one entry of the index
    /// that matches (see [`crate::select_platform`] for the rules; none or several are errors
    /// listing what the index has), or the manifest itself when `r` names a single-platform
    /// image (whose config is not read: its platform is not checked).
    pub async fn resolve_platform(
        &self,
        r: &Reference,
        platform: &Platform,
    ) -> Result<Digest, Error> {
        let manifest = self.get_manifest(r).await?;
        match &manifest.document {
            Document::Manifest(_) => Ok(manifest.digest),
            Document::Index(index) => select_platform(index, platform)
                .map(|d| *d.digest())
                .map_err(|source| Error::Platform {
                    reference: r.to_string(),
                    source,
                }),
        }
    }

    /// The tag-schema fallback tag of `digest`: `sha256-<hex>`.
    pub fn fallback_tag(digest: &Digest) -> String {
        format!("{}-{}", digest.algorithm(), digest.hex())
    }

    /// Reads and parses an index from `url`; `None` on 404.
    async fn get_index(
        &self,
        r: &Reference,
        operation: &str,
        target: &str,
        url: &str,
    ) -> Result<Option<(Vec<u8>, ImageIndex)>, Error> {
        let Some(fetched) = self
            .get_bounded(r, operation, target, url, MediaType::OCI_INDEX)
            .await?
        else {
            return Ok(None);
        };
        let index =
            ImageIndex::parse(&fetched.bytes, None).map_err(|source| Error::InvalidManifest {
                registry: r.registry().to_owned(),
                repository: r.repository_name().to_owned(),
                target: target.to_owned(),
                source: Box::new(source),
            })?;
        Ok(Some((fetched.bytes, index)))
    }

    /// The referrers of manifest `subject` in `r`'s repository: from the referrers API, else
    /// from the `sha256-<hex>` tag-schema index, else none.
    pub async fn referrers(&self, r: &Reference, subject: &Digest) -> Result<Referrers, Error> {
        self.check_transport(r)?;
        let api = format!("{}/referrers/{subject}", self.base_url(r));
        let target = format!("referrers of {subject}");
        if let Some((_, index)) = self
            .get_index(r, &format!("get {target}"), &target, &api)
            .await?
        {
            return Ok(Referrers {
                source: ReferrerSource::Api,
                descriptors: index.manifests().to_vec(),
            });
        }
        let tag = Self::fallback_tag(subject);
        let url = format!("{}/manifests/{tag}", self.base_url(r));
        Ok(
            match self
                .get_index(r, &format!("get referrers index {tag}"), &tag, &url)
                .await?
            {
                Some((_, index)) => Referrers {
                    source: ReferrerSource::TagSchema,
                    descriptors: index.manifests().to_vec(),
                },
                None => Referrers {
                    source: ReferrerSource::None,
                    descriptors: Vec::new(),
                },
            },
        )
    }

    /// Pushes `bytes` (a manifest or index with a `subject`) by digest into `r`'s repository and,
    /// when the registry has no referrers API, adds it to the subject's `sha256-<hex>` index
    /// (read, merge, write: existing entries are kept, an entry with the same digest is not
    /// duplicated). Returns the referrer's digest.
    pub async fn attach_referrer(
        &self,
        r: &Reference,
        bytes: &[u8],
        media_type: &MediaType,
    ) -> Result<Digest, Error> {
        self.check_transport(r)?;
        let repo = r.with_digest(&Digest::sha256(bytes));
        let document =
            Document::parse(bytes, Some(media_type)).map_err(|source| Error::InvalidManifest {
                registry: r.registry().to_owned(),
                repository: r.repository_name().to_owned(),
                target: "referrer".into(),
                source: Box::new(source),
            })?;
        let subject = document.subject().ok_or_else(|| Error::NoSubject {
            registry: r.registry().to_owned(),
            repository: r.repository_name().to_owned(),
        })?;
        let subject_digest = *subject.digest();
        let digest = self.put_manifest(&repo, bytes, media_type).await?;
        let api = format!("{}/referrers/{subject_digest}", self.base_url(r));
        let probe = format!("referrers of {subject_digest}");
        if self
            .get_index(r, &format!("get {probe}"), &probe, &api)
            .await?
            .is_some()
        {
            return Ok(digest);
        }
        let tag = Self::fallback_tag(&subject_digest);
        let url = format!("{}/manifests/{tag}", self.base_url(r));
        let existing = self
            .get_index(r, &format!("get referrers index {tag}"), &tag, &url)
            .await?;
        let mut index: Map<String, Value> = match existing {
            Some((bytes, _)) => serde_json::from_slice(&bytes).map_err(|e| {
                Self::transport(
                    r,
                    "merge referrers index",
                    format!("{tag} is not an object: {e}"),
                )
            })?,
            None => {
                let mut m = Map::new();
                m.insert("schemaVersion".into(), json!(2));
                m.insert("mediaType".into(), json!(MediaType::OCI_INDEX));
                m.insert("manifests".into(), json!([]));
                m
            }
        };
        let entries = index
            .entry("manifests")
            .or_insert_with(|| json!([]))
            .as_array_mut()
            .ok_or_else(|| {
                Self::transport(
                    r,
                    "merge referrers index",
                    format!("{tag}: manifests is not a list"),
                )
            })?;
        let digest_text = digest.to_string();
        let present = entries
            .iter()
            .any(|e| e.get("digest").and_then(Value::as_str) == Some(digest_text.as_str()));
        if !present {
            entries.push(referrer_entry(&document, media_type, &digest, bytes.len()));
        }
        if present {
            return Ok(digest);
        }
        let index_bytes = serde_json::to_vec(&Value::Object(index))
            .map_err(|e| Self::transport(r, "merge referrers index", e))?;
        let tagged = r.with_tag(&tag)?;
        let index_type = MediaType::parse(MediaType::OCI_INDEX)
            .map_err(|e| Self::transport(r, "merge referrers index", e))?;
        self.put_manifest(&tagged, &index_bytes, &index_type)
            .await?;
        Ok(digest)
    }
}

/// The fallback-index entry for a referrer: media type, digest, size, `artifactType` (the
/// document's, else its config's media type, as the spec says) and its annotations.
fn referrer_entry(doc: &Document, media_type: &MediaType, digest: &Digest, size: usize) -> Value {
    let mut entry = Map::new();
    entry.insert("mediaType".into(), json!(media_type.as_str()));
    entry.insert("digest".into(), json!(digest.to_string()));
    entry.insert("size".into(), json!(size));
    let (artifact_type, annotations) = match doc {
        Document::Manifest(m) => (
            m.artifact_type()
                .cloned()
                .or_else(|| Some(m.config().media_type().clone())),
            m.annotations(),
        ),
        Document::Index(i) => (i.artifact_type().cloned(), i.annotations()),
    };
    if let Some(at) = artifact_type {
        entry.insert("artifactType".into(), json!(at.as_str()));
    }
    if !annotations.is_empty() {
        entry.insert("annotations".into(), json!(annotations));
    }
    Value::Object(entry)
}

/// Writes a blob to a file, hashing what was written and refusing to go past `limit`.
struct HashingWriter {
    file: tokio::fs::File,
    hasher: Hasher,
    written: u64,
    limit: Option<u64>,
}

impl AsyncWrite for HashingWriter {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        if let Some(limit) = self.limit
            && self.written + buf.len() as u64 > limit
        {
            // Counted so the caller can report the overrun; nothing more is written.
            self.written += buf.len() as u64;
            return Poll::Ready(Err(io::Error::other(
                "blob is larger than its descriptor says",
            )));
        }
        let this = &mut *self;
        match Pin::new(&mut this.file).poll_write(cx, buf) {
            Poll::Ready(Ok(n)) => {
                this.hasher.update(&buf[..n]);
                this.written += n as u64;
                Poll::Ready(Ok(n))
            }
            other => other,
        }
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.file).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.file).poll_shutdown(cx)
    }
}
