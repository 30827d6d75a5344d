//! Command-line arguments: clap structs that hold only what the user typed. Doc comments are
//! the help text.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};
use tollgate_verifier::digest::HashAlgorithm;

use crate::cmd::artifact::{AttachArgs, PullArgs, PushArgs};
use crate::cmd::attest::AttestArgs;
use crate::cmd::key::KeyArgs;
use crate::cmd::keygen::KeygenArgs;
use crate::cmd::sign::SignArgs;
use crate::cmd::verify::VerifyArgs;
use crate::output::OutputFormat;

/// Decide which model weights and container images may reach serving clusters.
///
/// Exit codes: 0 success; 1 rejected (format violations, failed verification); 2 usage or
/// input error.
#[derive(Debug, Parser)]
#[command(
    name = "tollgate",
    version,
    propagate_version = true,
    max_term_width = 100
)]
pub(crate) struct Cli {
    #[command(subcommand)]
    pub(crate) command: Command,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    Hash(HashArgs),
    Inspect(InspectArgs),
    Keygen(KeygenArgs),
    Key(KeyArgs),
    Sign(SignArgs),
    Verify(VerifyArgs),
    Push(PushArgs),
    Pull(PullArgs),
    Attach(AttachArgs),
    Attest(AttestArgs),
}

/// Compute a model's OpenSSF model signing v1.0 manifest and root digest.
///
/// PATH is a model directory or a single file. The root digest (first line of text output)
/// equals what model_signing 1.1.1 signs for the same serialization.
#[derive(Debug, Args)]
#[command(after_help = "Examples:
  tollgate hash ./llama-3-8b                      # files, sha256: what `model_signing sign` signs
  tollgate hash ./llama-3-8b --shards             # 1 GB shards: parallel even for one big file
  tollgate hash ./llama-3-8b -a blake3 --output json
  tollgate hash model.gguf --shard-size 256MiB --threads 4
  tollgate hash ./ckpt --ignore optimizer --ignore logs/run.txt
  tollgate hash oci:./image-layout:v1             # an OCI image layout: manifest digest + every blob")]
pub(crate) struct HashArgs {
    /// Model directory or file, or `oci:DIR[:TAG]` for an OCI image layout (every blob is
    /// checked; model hashing options do not apply).
    pub(crate) path: PathBuf,
    #[command(flatten)]
    pub(crate) hashing: HashOptions,
    /// Output format.
    #[arg(long, value_enum, default_value_t)]
    pub(crate) output: OutputFormat,
}

/// Upper bound for `--threads`: hashing is bound by cores and memory bandwidth long before
/// this, and each thread costs a stack.
pub(crate) const MAX_THREADS: i64 = 1024;

/// How a model is walked and hashed (shared by every command that hashes a model).
#[derive(Debug, Args)]
pub(crate) struct HashOptions {
    /// Content hash.
    #[arg(short, long, value_enum, default_value_t = AlgorithmArg::Sha256)]
    pub(crate) algorithm: AlgorithmArg,
    /// Hash files in shards of this many bytes (suffixes: K, M, G = 10^3.., KiB, MiB, GiB).
    #[arg(long, value_name = "BYTES", value_parser = parse_size, conflicts_with_all = ["shards", "no_shards"])]
    pub(crate) shard_size: Option<u64>,
    /// Hash files in shards of 1,000,000,000 bytes (model_signing's default shard size).
    #[arg(long, conflicts_with = "no_shards")]
    pub(crate) shards: bool,
    /// One digest per whole file (the default; model_signing's CLI verifies only this).
    #[arg(long)]
    pub(crate) no_shards: bool,
    /// In shard mode, give empty files a `path:0:0` resource so adding or removing one is
    /// detected (model_signing skips them and cannot verify such a manifest).
    #[arg(long)]
    pub(crate) shard_empty_files: bool,
    /// Leave out this path (relative to the model root); repeatable. Recorded in the manifest.
    #[arg(long, value_name = "PATH")]
    pub(crate) ignore: Vec<PathBuf>,
    /// Hash .git, .gitattributes, .github and .gitignore at the model root too.
    #[arg(long)]
    pub(crate) no_ignore_git_paths: bool,
    /// Follow symlinks to files inside the model; each is hashed under the link's name.
    #[arg(long)]
    pub(crate) allow_symlinks: bool,
    /// Also follow symlinks leading outside the model (e.g. a Hugging Face cache snapshot).
    #[arg(long)]
    pub(crate) allow_external_symlinks: bool,
    /// Worker threads, 1 to 1024 (default: all cores).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=MAX_THREADS))]
    pub(crate) threads: Option<u16>,
    /// Never draw a progress bar (it is drawn only when stderr is a terminal anyway).
    #[arg(long)]
    pub(crate) no_progress: bool,
}

/// Check weight files for format violations and summarise them.
///
/// Reads the headers of every .safetensors, *.safetensors.index.json and .gguf file under
/// PATH. Exit 1 if any violation is found.
#[derive(Debug, Args)]
#[command(after_help = "Examples:
  tollgate inspect ./llama-3-8b
  tollgate inspect model.safetensors --output json")]
pub(crate) struct InspectArgs {
    /// Model directory or file.
    pub(crate) path: PathBuf,
    /// Output format.
    #[arg(long, value_enum, default_value_t)]
    pub(crate) output: OutputFormat,
}

/// `--algorithm` values.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub(crate) enum AlgorithmArg {
    /// SHA-256 (uses the CPU's SHA extensions).
    Sha256,
    /// BLAKE3: fastest, parallel inside one file.
    Blake3,
    /// BLAKE2b-512.
    Blake2b,
}

impl From<AlgorithmArg> for HashAlgorithm {
    fn from(a: AlgorithmArg) -> Self {
        match a {
            AlgorithmArg::Sha256 => Self::Sha256,
            AlgorithmArg::Blake3 => Self::Blake3,
            AlgorithmArg::Blake2b => Self::Blake2b,
        }
    }
}

/// Parses `1000000`, `64K`, `1G` (powers of 1000) or `64KiB`, `1GiB` (powers of 1024).
fn parse_size(s: &str) -> Result<u64, String> {
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (digits, unit) = s.split_at(split);
    let n: u64 = digits
        .parse()
        .map_err(|_| format!("{s:?} is not a size in bytes (e.g. 1000000, 64MiB, 1G)"))?;
    let factor: u64 = match unit.trim() {
        "" | "B" => 1,
        "K" | "k" | "KB" | "kB" => 1_000,
        "M" | "MB" => 1_000_000,
        "G" | "GB" => 1_000_000_000,
        "KiB" => 1 << 10,
        "MiB" => 1 << 20,
        "GiB" => 1 << 30,
        other => {
            return Err(format!(
                "unknown size unit {other:?} (use K, M, G, KiB, MiB, GiB)"
            ));
        }
    };
    match n.checked_mul(factor) {
        Some(0) => Err("size must be at least 1 byte".into()),
        Some(v) => Ok(v),
        None => Err(format!("{s:?} is too large")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_size("64"), Ok(64));
        assert_eq!(parse_size("1G"), Ok(1_000_000_000));
        assert_eq!(parse_size("256MiB"), Ok(256 << 20));
        assert!(parse_size("0").is_err());
        assert!(parse_size("1XB").is_err());
        assert!(parse_size("-1").is_err());
        assert!(parse_size("99999999999999999999G").is_err());
    }

    #[test]
    fn shard_flags_conflict() {
        let parse = |a: &[&str]| Cli::try_parse_from([&["tollgate", "hash", "m"], a].concat());
        assert!(parse(&["--shards", "--no-shards"]).is_err());
        assert!(parse(&["--shard-size", "5", "--shards"]).is_err());
        assert!(parse(&["--threads", "0"]).is_err());
        assert!(parse(&["--threads", "1025"]).is_err());
        assert!(parse(&["--threads", "1024"]).is_ok());
        let Command::Hash(h) = parse(&["--shard-size", "1KiB"]).unwrap().command else {
            panic!("not hash")
        };
        assert_eq!(h.hashing.shard_size, Some(1024));
    }
}
