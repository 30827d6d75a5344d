//! `tollgate push model`, `tollgate pull model` and `tollgate attach`: models as OCI artifacts
//! in a registry (one layer per file, CNCF ModelPack media types) and their signatures as
//! referrers.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, Subcommand};
use serde_json::json;
use tollgate_registry::Reference;
use tollgate_verifier::bundle::MAX_BUNDLE_BYTES;

use crate::args::MAX_THREADS;
use crate::cmd::referrer::Subject;
use crate::cmd::registry::RegistryArgs;
use crate::output::{self, OutputFormat};
use crate::{cmd, exit};

/// Push an artifact to a registry.
#[derive(Debug, Args)]
#[command(after_help = "Examples:
  tollgate push model ./llama-3-8b registry.example/models/llama-3-8b:v1
  tollgate push model ./llama-3-8b registry.example/models/llama-3-8b:v1 --sign --key release.key")]
pub(crate) struct PushArgs {
    #[command(subcommand)]
    pub(crate) what: PushCommand,
}

#[derive(Debug, Subcommand)]
pub(crate) enum PushCommand {
    Model(PushModelArgs),
}

/// Push a model directory as an OCI artifact: one layer per file.
///
/// CNCF ModelPack media types; every file is hashed once (sha256, in parallel) and uploaded
/// unless the registry already has it. Prints the manifest digest. With --sign, an OpenSSF
/// model signature over the same digests is attached as a referrer.
#[derive(Debug, Args)]
#[command(after_help = "Examples:
  tollgate push model ./llama-3-8b registry.example/models/llama-3-8b:v1
  tollgate push model ./llama-3-8b registry.example/models/llama-3-8b:v1 --sign --key release.key
  tollgate push model ./m 127.0.0.1:5000/models/m:v1 --plain-http --output json

The key password comes from TOLLGATE_PASSWORD, else COSIGN_PASSWORD, else a terminal prompt.")]
pub(crate) struct PushModelArgs {
    /// Model directory or file.
    pub(crate) path: PathBuf,
    /// Where to push: REGISTRY/REPO:TAG.
    #[arg(value_name = "REF")]
    pub(crate) reference: String,
    /// Leave out this path (relative to the model root); repeatable.
    #[arg(long, value_name = "PATH")]
    pub(crate) ignore: Vec<PathBuf>,
    /// Push .git, .gitattributes, .github and .gitignore at the model root too.
    #[arg(long)]
    pub(crate) no_ignore_git_paths: bool,
    /// Follow symlinks to files inside the model (pushed under the link's name).
    #[arg(long)]
    pub(crate) allow_symlinks: bool,
    /// Also follow symlinks leading outside the model.
    #[arg(long)]
    pub(crate) allow_external_symlinks: bool,
    /// Hashing threads, 1 to 1024 (default: all cores).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=MAX_THREADS))]
    pub(crate) threads: Option<u16>,
    /// Never draw a progress bar.
    #[arg(long)]
    pub(crate) no_progress: bool,
    /// Blobs uploaded at once, 1 to 32.
    #[arg(long, value_name = "N", default_value_t = 4, value_parser = clap::value_parser!(u8).range(1..=32))]
    pub(crate) concurrency: u8,
    /// Sign the model (OpenSSF model signing v1.0, files + sha256) and attach the signature.
    #[arg(long, requires = "key")]
    pub(crate) sign: bool,
    /// Private key for --sign (PKCS#8, SEC1, PKCS#1, cosign format) or a pkcs11: URI.
    #[arg(long, value_name = "KEY", requires = "sign")]
    pub(crate) key: Option<String>,
    /// Sign with a certificate: the leaf certificate (PEM) for --key.
    #[arg(long, value_name = "LEAF_PEM", requires = "sign")]
    pub(crate) cert: Option<PathBuf>,
    /// Intermediate certificates to include after the leaf (PEM); repeatable.
    #[arg(long, value_name = "PEM", requires = "cert")]
    pub(crate) chain: Vec<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t)]
    pub(crate) output: OutputFormat,
    #[command(flatten)]
    pub(crate) registry: RegistryArgs,
}

/// Pull an artifact from a registry.
#[derive(Debug, Args)]
#[command(after_help = "Examples:
  tollgate pull model registry.example/models/llama-3-8b:v1 ./llama-3-8b
  tollgate pull model registry.example/models/llama-3-8b@sha256:<digest> ./llama-3-8b --force")]
pub(crate) struct PullArgs {
    #[command(subcommand)]
    pub(crate) what: PullCommand,
}

#[derive(Debug, Subcommand)]
pub(crate) enum PullCommand {
    Model(PullModelArgs),
}

/// Pull a model artifact into a directory, every file verified before it gets its name.
///
/// Each layer becomes the file its org.opencontainers.image.title (or ModelPack
/// org.cncf.model.filepath) names; unsafe names (absolute, `..`, duplicates) refuse the whole
/// artifact. Files are downloaded in parallel into a staging directory inside DIR, each size-
/// and digest-checked, and moved to their names only when all of them verified.
#[derive(Debug, Args)]
#[command(after_help = "Examples:
  tollgate pull model registry.example/models/llama-3-8b:v1 ./llama-3-8b
  tollgate pull model registry.example/models/llama-3-8b@sha256:<digest> ./llama-3-8b --force")]
pub(crate) struct PullModelArgs {
    /// The model: REGISTRY/REPO:TAG or REGISTRY/REPO@sha256:...
    #[arg(value_name = "REF")]
    pub(crate) reference: String,
    /// Directory to write the model into (created if missing).
    pub(crate) dir: PathBuf,
    /// Replace files that already exist in DIR (default: refuse before downloading anything).
    #[arg(long)]
    pub(crate) force: bool,
    /// Do not wait for each file to reach the disk before it gets its name (faster; after a
    /// crash a named file may be incomplete, which `tollgate verify model DIR` detects).
    #[arg(long)]
    pub(crate) no_sync: bool,
    /// Blobs downloaded at once, 1 to 32.
    #[arg(long, value_name = "N", default_value_t = 4, value_parser = clap::value_parser!(u8).range(1..=32))]
    pub(crate) concurrency: u8,
    /// Output format.
    #[arg(long, value_enum, default_value_t)]
    pub(crate) output: OutputFormat,
    #[command(flatten)]
    pub(crate) registry: RegistryArgs,
}

/// Attach a model signature (Sigstore bundle v0.3) to an artifact as an OCI 1.1 referrer.
///
/// The referrer has artifactType application/vnd.dev.sigstore.bundle.v0.3+json and the bundle
/// as its layer, as cosign attaches bundles; `oras discover` lists it and `tollgate verify
/// model REF` finds it.
#[derive(Debug, Args)]
#[command(after_help = "Examples:
  tollgate sign model ./llama-3-8b --key release.key --signature llama.sig
  tollgate attach registry.example/models/llama-3-8b:v1 --signature llama.sig")]
pub(crate) struct AttachArgs {
    /// The artifact: REGISTRY/REPO:TAG or REGISTRY/REPO@sha256:...
    #[arg(value_name = "REF")]
    pub(crate) reference: String,
    /// The signature (Sigstore bundle) to attach.
    #[arg(long, value_name = "SIG")]
    pub(crate) signature: PathBuf,
    /// Output format.
    #[arg(long, value_enum, default_value_t)]
    pub(crate) output: OutputFormat,
    #[command(flatten)]
    pub(crate) registry: RegistryArgs,
}

pub(crate) fn push(args: &PushArgs) -> anyhow::Result<ExitCode> {
    match &args.what {
        PushCommand::Model(a) => cmd::push::push_model(a),
    }
}

pub(crate) fn pull(args: &PullArgs) -> anyhow::Result<ExitCode> {
    match &args.what {
        PullCommand::Model(a) => cmd::pull::pull_model(a),
    }
}

pub(crate) fn attach(args: &AttachArgs) -> anyhow::Result<ExitCode> {
    let reference: Reference = args
        .reference
        .parse()
        .with_context(|| format!("{}: not a registry reference", args.reference))?;
    let bundle = cmd::read_bounded(&args.signature, MAX_BUNDLE_BYTES, "a Sigstore bundle")?;
    let client = args.registry.client()?;
    let reference = args.registry.pinned(&client, reference)?;
    let manifest = client.get_manifest(&reference)?;
    let subject = Subject {
        digest: manifest.digest,
        size: manifest.bytes.len() as u64,
    };
    let referrer = cmd::referrer::attach_bundle(&client, &reference, &subject, &bundle)
        .with_context(|| format!("{}: cannot attach", args.signature.display()))?;
    match args.output {
        OutputFormat::Text => output::print(&format!(
            "attached {} to {}@{} as {referrer}\n",
            args.signature.display(),
            args.reference,
            manifest.digest
        ))?,
        OutputFormat::Json => output::print_json(&json!({
            "reference": args.reference,
            "digest": manifest.digest.to_string(),
            "signature": args.signature,
            "referrer": referrer.to_string(),
        }))?,
    }
    Ok(exit::OK)
}
