//! The errors of registry operations: each names the registry, repository and digest or tag
//! involved and says what to do about it.

use std::path::PathBuf;

use tollgate_verifier::oci::ManifestError;

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
    /// The async runtime of [`crate::BlockingClient`] could not start.
    #[error("cannot start the registry client's runtime: {0}")]
    Runtime(std::io::Error),
}
