//! One module per subcommand; this one dispatches and holds what they share: turning hash
//! options into library configuration and running work on a sized thread pool.

pub(crate) mod artifact;
pub(crate) mod attest;
mod blob;
mod cosign_store;
mod hash;
pub(crate) mod image;
mod inspect;
pub(crate) mod key;
pub(crate) mod keygen;
mod keyless;
pub(crate) mod layout;
mod modelpack;
pub(crate) mod notation;
mod pull;
mod push;
mod referrer;
pub(crate) mod registry;
pub(crate) mod sign;
pub(crate) mod verify;
mod verify_ref;

use std::process::ExitCode;

use anyhow::Context;
use tollgate_verifier::manifest::{self, DEFAULT_SHARD_SIZE, HashConfig, Manifest, Method};
use tollgate_verifier::walk::{self, SymlinkPolicy, WalkOptions};

use crate::args::{Cli, Command, HashOptions};
use crate::progress::Bar;

/// Runs the chosen subcommand.
pub(crate) fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Hash(args) => hash::run(&args),
        Command::Inspect(args) => inspect::run(&args),
        Command::Keygen(args) => keygen::run(&args),
        Command::Key(args) => key::run(&args),
        Command::Sign(args) => sign::run(&args),
        Command::Verify(args) => verify::run(&args),
        Command::Push(args) => artifact::push(&args),
        Command::Pull(args) => artifact::pull(&args),
        Command::Attach(args) => artifact::attach(&args),
        Command::Attest(args) => attest::attest(&args),
    }
}

/// Walk options and hash configuration from the command line.
pub(crate) fn model_config(opts: &HashOptions) -> (WalkOptions, HashConfig) {
    let symlinks = if opts.allow_external_symlinks {
        SymlinkPolicy::FollowAnywhere
    } else if opts.allow_symlinks {
        SymlinkPolicy::FollowInside
    } else {
        SymlinkPolicy::Refuse
    };
    let walk = WalkOptions {
        ignore_git_paths: !opts.no_ignore_git_paths,
        ignore: opts.ignore.clone(),
        symlinks,
    };
    let method = match (opts.shard_size, opts.shards) {
        (Some(shard_size), _) => Method::Shards { shard_size },
        (None, true) => Method::Shards {
            shard_size: DEFAULT_SHARD_SIZE,
        },
        (None, false) => Method::Files,
    };
    let config = HashConfig {
        algorithm: opts.algorithm.into(),
        method,
        shard_empty_files: opts.shard_empty_files,
    };
    (walk, config)
}

/// Walks and hashes a model on a sized pool, with a progress bar on terminals.
pub(crate) fn hash_model(
    path: &std::path::Path,
    opts: &HashOptions,
    walk_options: &WalkOptions,
    config: &HashConfig,
) -> anyhow::Result<Manifest> {
    let tree = walk::walk(path, walk_options)?;
    let planned = manifest::plan(&tree, config)?.len();
    let manifest = with_pool(opts.threads, planned, || {
        let bar = Bar::for_bytes(tree.total_bytes(), !opts.no_progress);
        let result = manifest::hash_tree(&tree, config, &bar);
        bar.finish();
        result
    })??;
    Ok(manifest)
}

/// Runs `work` on a pool of `threads` workers (default: one per core), but never more than
/// the work can use: `work_items`, or the core count when BLAKE3 can split one item.
pub(crate) fn with_pool<T: Send>(
    threads: Option<u16>,
    work_items: usize,
    work: impl FnOnce() -> T + Send,
) -> anyhow::Result<T> {
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    let wanted = threads.map_or(cores, usize::from);
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(wanted.min(work_items.max(cores)).max(1))
        .thread_name(|i| format!("tollgate-hash-{i}"))
        .build()
        .context("cannot start worker threads")?;
    Ok(pool.install(work))
}

/// Reads a small input file (a key, certificate, signature or bundle: `what`), refusing
/// anything over `limit` bytes before reading it whole.
pub(crate) fn read_bounded(
    path: &std::path::Path,
    limit: u64,
    what: &str,
) -> anyhow::Result<Vec<u8>> {
    use std::io::Read;
    let file =
        std::fs::File::open(path).with_context(|| format!("{}: cannot open", path.display()))?;
    let mut bytes = Vec::new();
    file.take(limit + 1)
        .read_to_end(&mut bytes)
        .with_context(|| format!("{}: cannot read", path.display()))?;
    anyhow::ensure!(
        bytes.len() as u64 <= limit,
        "{}: larger than {limit} bytes; not {what}",
        path.display()
    );
    Ok(bytes)
}
