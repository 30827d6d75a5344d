//! Exit codes, the same for every command (documented in README.md).
//!
//! 0: success. 1: the answer is "no" (a format violation found, verification failed).
//! 2: the question could not be answered (bad usage, unreadable input, I/O error); clap's own
//! usage errors also exit 2.

use std::process::ExitCode;

/// The command did what was asked and the answer is "yes".
pub(crate) const OK: ExitCode = ExitCode::SUCCESS;

/// The answer is "no": violations found, verification failed.
pub(crate) fn rejected() -> ExitCode {
    ExitCode::from(1)
}

/// Usage or input error: no answer.
pub(crate) fn error() -> ExitCode {
    ExitCode::from(2)
}
