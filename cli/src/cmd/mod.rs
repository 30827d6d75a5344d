//! One module per subcommand; this one dispatches and holds what they share: turning hash
//! options into library configuration and running work on a sized thread pool.

mod hash;
mod inspect;
pub(crate) mod key;
pub(crate) mod keygen;
pub(crate) mod sign;
pub(crate) mod verify;

use std::process::ExitCode;

use anyhow::Context;
use tollgate_verifier::manifest::{DEFAULT_SHARD_SIZE, HashConfig, Method};
use tollgate_verifier::walk::{SymlinkPolicy, WalkOptions};

use crate::args::{Cli, Command, HashOptions};

/// Runs the chosen subcommand.
pub(crate) fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Hash(args) => hash::run(&args),
        Command::Inspect(args) => inspect::run(&args),
        Command::Keygen(args) => keygen::run(&args),
        Command::Key(args) => key::run(&args),
        Command::Sign(args) => sign::run(&args),
        Command::Verify(args) => verify::run(&args),
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

/// Runs `work` on a pool of `threads` workers (default: one per core).
pub(crate) fn with_pool<T: Send>(
    threads: Option<u16>,
    work: impl FnOnce() -> T + Send,
) -> anyhow::Result<T> {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads.map_or(0, usize::from))
        .thread_name(|i| format!("tollgate-hash-{i}"))
        .build()
        .context("cannot start worker threads")?;
    Ok(pool.install(work))
}

/// Reads a small input file (keys, certificates), refusing anything over `limit` bytes.
pub(crate) fn read_bounded(path: &std::path::Path, limit: u64) -> anyhow::Result<Vec<u8>> {
    use std::io::Read;
    let file =
        std::fs::File::open(path).with_context(|| format!("{}: cannot open", path.display()))?;
    let mut bytes = Vec::new();
    file.take(limit + 1)
        .read_to_end(&mut bytes)
        .with_context(|| format!("{}: cannot read", path.display()))?;
    anyhow::ensure!(
        bytes.len() as u64 <= limit,
        "{}: larger than {limit} bytes; not a key or certificate file",
        path.display()
    );
    Ok(bytes)
}
