//! `tollgate push model`, `tollgate pull model` and `tollgate attach`: models as OCI artifacts
//! in a registry (one layer per file, CNCF ModelPack media types) and their signatures as
//! referrers.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Subcommand};

use crate::cmd::registry::RegistryArgs;

/// Push an artifact to a registry.
#[derive(Debug, Args)]
pub(crate) struct PushArgs {
    #[command(subcommand)]
    pub(crate) what: PushCommand,
}

#[derive(Debug, Subcommand)]
pub(crate) enum PushCommand {
    Model(PushModelArgs),
}

/// Push a model directory as an OCI artifact: one layer per file.
#[derive(Debug, Args)]
pub(crate) struct PushModelArgs {
    /// Model directory or file.
    pub(crate) path: PathBuf,
    /// Where to push: REGISTRY/REPO:TAG.
    #[arg(value_name = "REF")]
    pub(crate) reference: String,
    #[command(flatten)]
    pub(crate) registry: RegistryArgs,
}

/// Pull an artifact from a registry.
#[derive(Debug, Args)]
pub(crate) struct PullArgs {
    #[command(subcommand)]
    pub(crate) what: PullCommand,
}

#[derive(Debug, Subcommand)]
pub(crate) enum PullCommand {
    Model(PullModelArgs),
}

/// Pull a model artifact into a directory, every file verified before it gets its name.
#[derive(Debug, Args)]
pub(crate) struct PullModelArgs {
    /// The model: REGISTRY/REPO:TAG or REGISTRY/REPO@sha256:...
    #[arg(value_name = "REF")]
    pub(crate) reference: String,
    /// Directory to write the model into.
    pub(crate) dir: PathBuf,
    #[command(flatten)]
    pub(crate) registry: RegistryArgs,
}

/// Attach a signature to an artifact in a registry as an OCI 1.1 referrer.
#[derive(Debug, Args)]
pub(crate) struct AttachArgs {
    /// The artifact: REGISTRY/REPO:TAG or REGISTRY/REPO@sha256:...
    #[arg(value_name = "REF")]
    pub(crate) reference: String,
    #[command(flatten)]
    pub(crate) registry: RegistryArgs,
}

pub(crate) fn push(args: &PushArgs) -> anyhow::Result<ExitCode> {
    match &args.what {
        PushCommand::Model(_) => anyhow::bail!("tollgate push model is not implemented yet"),
    }
}

pub(crate) fn pull(args: &PullArgs) -> anyhow::Result<ExitCode> {
    match &args.what {
        PullCommand::Model(_) => anyhow::bail!("tollgate pull model is not implemented yet"),
    }
}

pub(crate) fn attach(_args: &AttachArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("tollgate attach is not implemented yet")
}
