//! `tollgate`: decide which model weights and images may reach serving clusters.
//!
//! The binary is thin: parse arguments ([`args`]), call the library, print ([`output`]).
//! Exit codes are in [`exit`].
#![forbid(unsafe_code)]

mod args;
mod cmd;
mod exit;
mod output;
mod progress;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = args::Cli::parse();
    // Hashing reads memory-mapped files that someone else may truncate: report that clearly.
    tollgate_verifier::digest::install_sigbus_handler();
    match cmd::run(cli) {
        Ok(code) => code,
        Err(err) if is_broken_pipe(&err) => exit::OK,
        Err(err) => {
            eprintln!("error: {err:#}");
            exit::error()
        }
    }
}

/// Output cut short by a closed pipe (`tollgate hash m | head -1`) is not an error.
fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
    })
}
