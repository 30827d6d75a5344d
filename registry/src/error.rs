//! The errors of registry operations: each names the registry, repository and digest or tag
//! involved and says what to do about it.

use std::path::PathBuf;

use tollgate_verifier::oci::ManifestError;

use crate::platform::PlatformError;
use crate::reference::ReferenceError;

/// Why a registry operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The reference does not parse.
    #[error(transparent)]
    Reference(#[from] ReferenceError),
    /// Plain HTTP to a registry that is not on a loopback address, without `insecure`.
    #[error(
        "refusing plain http to registry {registry}: it is not a loopback address; use https, \
         or set the insecure option if the network path is trusted"
    )]
    PlainHttpRefused {
        /// The registry host.
        registry: String,
    },
    /// The operation needs a tag or a digest and the reference has neither.
    #[error(
        "{operation} needs a tag or a digest, but {reference} has neither: add :TAG or @sha256:DIGEST"
    )]
    NoTarget {
        /// What was attempted.
        operation: &'static str,
        /// The reference given.
        reference: String,
    },
    /// The registry could not be reached, or answered something unusable.
    #[error("{operation} on {registry}/{repository} failed: {detail}")]
    Transport {
        /// What was attempted, e.g. `get manifest v1`.
        operation: String,
        /// The registry host.
        registry: String,
        /// The repository.
        repository: String,
        /// The underlying error.
        detail: String,
    },
    /// The registry answered with an unexpected HTTP status.
    #[error("{operation} on {registry}/{repository}: the registry answered http {status}{body}")]
    Status {
        /// What was attempted.
        operation: String,
        /// The registry host.
        registry: String,
        /// The repository.
        repository: String,
        /// The HTTP status code.
        status: u16,
        /// The start of the response body (`: ...`), if any.
        body: String,
    },
    /// The request took longer than the configured timeout.
    #[error(
        "{operation} on {registry}/{repository} timed out after {seconds} s: check that the \
         registry is reachable, or raise the timeout"
    )]
    Timeout {
        /// What was attempted.
        operation: String,
        /// The registry host.
        registry: String,
        /// The repository.
        repository: String,
        /// The timeout that expired.
        seconds: u64,
    },
    /// The manifest (or tag) does not exist.
    #[error("{registry}/{repository} has no manifest {target}: check the tag or digest")]
    ManifestNotFound {
        /// The registry host.
        registry: String,
        /// The repository.
        repository: String,
        /// The tag or digest asked for.
        target: String,
    },
    /// The blob does not exist in the repository.
    #[error("{registry}/{repository} has no blob {digest}: it was deleted or never pushed")]
    BlobNotFound {
        /// The registry host.
        registry: String,
        /// The repository.
        repository: String,
        /// The blob's digest.
        digest: String,
    },
    /// A blob to be read into memory is larger than the caller's limit.
    #[error(
        "blob {digest} of {registry}/{repository} is {size} bytes, more than the {limit}-byte \
         limit for {what}: refusing to read it"
    )]
    BlobTooLarge {
        /// The registry host.
        registry: String,
        /// The repository.
        repository: String,
        /// The blob's digest.
        digest: String,
        /// What the blob was expected to be (`a signature`, `a config`).
        what: String,
        /// Its size.
        size: u64,
        /// The limit.
        limit: u64,
    },
    /// A manifest or index is larger than 4 MiB.
    #[error(
        "manifest {target} of {registry}/{repository} is larger than the {limit}-byte limit \
         ({size} bytes or more): refusing it; manifests that large are not accepted by registries \
         and are a sign of abuse"
    )]
    ManifestTooLarge {
        /// The registry host.
        registry: String,
        /// The repository.
        repository: String,
        /// The tag or digest.
        target: String,
        /// Bytes seen (at least).
        size: u64,
        /// The limit.
        limit: u64,
    },
    /// Content does not hash to the digest it was asked for or announced with.
    #[error(
        "digest mismatch for {what} in {registry}/{repository}: expected {expected}, the bytes \
         have {actual}; the content was altered or corrupted, do not use it"
    )]
    DigestMismatch {
        /// What was checked, e.g. `blob` or `manifest v1`.
        what: String,
        /// The registry host.
        registry: String,
        /// The repository.
        repository: String,
        /// The digest expected.
        expected: String,
        /// The digest of the bytes.
        actual: String,
    },
    /// Content is not the size its descriptor says.
    #[error(
        "size mismatch for blob {digest} in {registry}/{repository}: expected {expected} bytes, \
         got {actual}{more}; the content was altered or truncated, do not use it"
    )]
    SizeMismatch {
        /// The blob's digest.
        digest: String,
        /// The registry host.
        registry: String,
        /// The repository.
        repository: String,
        /// The size expected.
        expected: u64,
        /// The bytes received.
        actual: u64,
        /// ` or more` when the transfer was cut off at the limit.
        more: &'static str,
    },
    /// A manifest or index is malformed.
    #[error("manifest {target} of {registry}/{repository} is invalid: {source}")]
    InvalidManifest {
        /// The registry host.
        registry: String,
        /// The repository.
        repository: String,
        /// The tag or digest.
        target: String,
        /// What is wrong.
        source: Box<ManifestError>,
    },
    /// A referrer manifest has no `subject`.
    #[error(
        "the manifest attached as a referrer in {registry}/{repository} has no subject: set \
         its subject to the descriptor of the manifest it refers to"
    )]
    NoSubject {
        /// The registry host.
        registry: String,
        /// The repository.
        repository: String,
    },
    /// A local file could not be written.
    #[error("cannot write {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// The registry (or its token server) refused the request: no or wrong credentials.
    #[error("{operation} on {registry}/{repository}: {}", unauthorized_advice(registry, origin.as_deref()))]
    Unauthorized {
        /// What was attempted.
        operation: String,
        /// The registry host.
        registry: String,
        /// The repository.
        repository: String,
        /// Where the credentials that were refused came from; `None` when there were none.
        origin: Option<String>,
    },
    /// The registry answered 403: the credentials are valid but may not do this.
    #[error(
        "{operation} on {registry}/{repository}: access denied (http 403) {}; ask the registry's \
         administrator for access to the repository",
        match origin { Some(o) => format!("for the credentials from {o}"), None => "to anonymous users".into() }
    )]
    Denied {
        /// What was attempted.
        operation: String,
        /// The registry host.
        registry: String,
        /// The repository.
        repository: String,
        /// Where the credentials came from; `None` when there were none.
        origin: Option<String>,
    },
    /// Credentials would go over plain HTTP to a host that is not loopback.
    #[error(
        "refusing to send the credentials from {origin} for {registry} over plain http to {host}: \
         it is not a loopback address; use https"
    )]
    CredentialsOverPlainHttp {
        /// The registry host.
        registry: String,
        /// The host they would go to (the registry or its token server).
        host: String,
        /// Where the credentials came from.
        origin: String,
    },
    /// Credentials could not be looked up (unreadable docker config, failing helper).
    #[error("cannot read registry credentials from {source_name}: {detail}")]
    Credentials {
        /// The docker config file or credential helper.
        source_name: String,
        /// What went wrong and what to do.
        detail: String,
    },
    /// A transient failure persisted through every retry.
    #[error("{last} (gave up after {attempts} attempts)")]
    RetriesExhausted {
        /// Attempts made.
        attempts: u32,
        /// The last failure.
        last: Box<Self>,
    },
    /// The registry asked to wait longer than the client's `Retry-After` cap.
    #[error(
        "{operation} on {registry}/{repository}: the registry answered http {status} and asked to \
         retry after {seconds} s, longer than the {limit} s this client waits; try again later"
    )]
    RetryAfterTooLong {
        /// What was attempted.
        operation: String,
        /// The registry host.
        registry: String,
        /// The repository.
        repository: String,
        /// The HTTP status (429 or 503).
        status: u16,
        /// The wait asked for.
        seconds: u64,
        /// The cap.
        limit: u64,
    },
    /// No single manifest of an index is for the platform asked for.
    #[error("{reference}: {source}")]
    Platform {
        /// The index's reference.
        reference: String,
        /// Why.
        source: PlatformError,
    },
    /// The async runtime of [`crate::BlockingClient`] could not start.
    #[error("cannot start the registry client's runtime: {0}")]
    Runtime(std::io::Error),
}

/// The second half of [`Error::Unauthorized`]'s message: what to do.
fn unauthorized_advice(registry: &str, origin: Option<&str>) -> String {
    match origin {
        Some(o) => format!(
            "the registry refused the credentials from {o} (http 401): check the username and \
             password, and that the account may access this repository (or log in again)"
        ),
        None => format!(
            "the registry requires authentication (http 401) and no credentials were found for \
             {registry}: pass --username USER --password-stdin, or log in with `docker login \
             {registry}` (credentials in $DOCKER_CONFIG/config.json or ~/.docker/config.json)"
        ),
    }
}
