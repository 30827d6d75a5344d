//! Registry connection options shared by every command that talks to a registry, and turning
//! them into a [`tollgate_registry::BlockingClient`].

use clap::Args;
use tollgate_registry::{BlockingClient, Options};

/// How to reach the registry.
#[derive(Debug, Args)]
pub(crate) struct RegistryArgs {
    /// Talk plain HTTP to the registry (loopback registries only, unless --insecure-registry).
    #[arg(long)]
    pub(crate) plain_http: bool,
    /// Allow plain HTTP to a registry that is not on loopback.
    #[arg(long, requires = "plain_http")]
    pub(crate) insecure_registry: bool,
}

impl RegistryArgs {
    /// A client configured from the command line.
    pub(crate) fn client(&self) -> anyhow::Result<BlockingClient> {
        let mut options = if self.plain_http {
            Options::plain_http()
        } else {
            Options::default()
        };
        options.insecure = self.insecure_registry;
        Ok(BlockingClient::new(options)?)
    }
}
