//! [`BlockingClient`]: the async [`Client`] behind a current-thread tokio runtime it owns, for
//! synchronous callers such as the CLI.

use std::path::Path;

use tollgate_verifier::digest::Digest;
use tollgate_verifier::oci::{MediaType, Platform};

use crate::client::{Client, Manifest, Options, Referrers};
use crate::error::Error;
use crate::reference::Reference;

/// A synchronous registry client: each method runs the [`Client`] method of the same name to
/// completion on the runtime this value owns. Do not call it from inside an async runtime.
#[derive(Debug)]
pub struct BlockingClient {
    runtime: tokio::runtime::Runtime,
    client: Client,
}

impl BlockingClient {
    /// A client with `options` and its own current-thread runtime.
    pub fn new(options: Options) -> Result<Self, Error> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(Error::Runtime)?;
        let client = Client::new(options)?;
        Ok(Self { runtime, client })
    }

    /// The async client inside.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// See [`Client::get_manifest`].
    pub fn get_manifest(&self, r: &Reference) -> Result<Manifest, Error> {
        self.runtime.block_on(self.client.get_manifest(r))
    }

    /// See [`Client::resolve`].
    pub fn resolve(&self, r: &Reference) -> Result<Digest, Error> {
        self.runtime.block_on(self.client.resolve(r))
    }

    /// See [`Client::resolve_platform`].
    pub fn resolve_platform(&self, r: &Reference, platform: &Platform) -> Result<Digest, Error> {
        self.runtime
            .block_on(self.client.resolve_platform(r, platform))
    }

    /// See [`Client::put_manifest`].
    pub fn put_manifest(
        &self,
        r: &Reference,
        bytes: &[u8],
        media_type: &MediaType,
    ) -> Result<Digest, Error> {
        self.runtime
            .block_on(self.client.put_manifest(r, bytes, media_type))
    }

    /// See [`Client::blob_exists`].
    pub fn blob_exists(&self, r: &Reference, digest: &Digest) -> Result<bool, Error> {
        self.runtime.block_on(self.client.blob_exists(r, digest))
    }

    /// See [`Client::push_blob`].
    pub fn push_blob(&self, r: &Reference, data: Vec<u8>, expected: &Digest) -> Result<(), Error> {
        self.runtime
            .block_on(self.client.push_blob(r, data, expected))
    }

    /// See [`Client::pull_blob_to_file`].
    pub fn pull_blob_to_file(
        &self,
        r: &Reference,
        digest: &Digest,
        size: Option<u64>,
        dest: &Path,
    ) -> Result<u64, Error> {
        self.runtime
            .block_on(self.client.pull_blob_to_file(r, digest, size, dest))
    }

    /// See [`Client::get_blob`].
    pub fn get_blob(
        &self,
        r: &Reference,
        digest: &Digest,
        size: u64,
        limit: u64,
        what: &str,
    ) -> Result<Vec<u8>, Error> {
        self.runtime
            .block_on(self.client.get_blob(r, digest, size, limit, what))
    }

    /// See [`Client::list_tags`].
    pub fn list_tags(&self, r: &Reference) -> Result<Vec<String>, Error> {
        self.runtime.block_on(self.client.list_tags(r))
    }

    /// See [`Client::referrers`].
    pub fn referrers(&self, r: &Reference, subject: &Digest) -> Result<Referrers, Error> {
        self.runtime.block_on(self.client.referrers(r, subject))
    }

    /// See [`Client::attach_referrer`].
    pub fn attach_referrer(
        &self,
        r: &Reference,
        bytes: &[u8],
        media_type: &MediaType,
    ) -> Result<Digest, Error> {
        self.runtime
            .block_on(self.client.attach_referrer(r, bytes, media_type))
    }
}
