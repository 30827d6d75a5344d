//! Progress on stderr while hashing: only when stderr is a terminal and the input is large
//! enough to be worth watching; silent otherwise (CI logs, pipes).

use std::io::IsTerminal;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use tollgate_verifier::digest::engine::Progress;

/// Inputs smaller than this finish before a bar would be readable.
const MIN_BYTES: u64 = 256 << 20;

/// A byte progress bar, or nothing.
pub(crate) struct Bar(Option<ProgressBar>);

impl Bar {
    /// A bar for `total` bytes if stderr is a terminal, `total` is large and `enabled`.
    pub(crate) fn for_bytes(total: u64, enabled: bool) -> Self {
        if !enabled || total < MIN_BYTES || !std::io::stderr().is_terminal() {
            return Self(None);
        }
        let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
        let style = ProgressStyle::with_template(
            "{spinner} {bytes}/{total_bytes} [{wide_bar}] {binary_bytes_per_sec} ETA {eta}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar());
        bar.set_style(style.progress_chars("=> "));
        Self(Some(bar))
    }

    /// A counter of bytes hashed when the total is not known up front (verification walks
    /// inside the library), on terminals only.
    pub(crate) fn for_unknown_total(enabled: bool) -> Self {
        if !enabled || !std::io::stderr().is_terminal() {
            return Self(None);
        }
        let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
        let style =
            ProgressStyle::with_template("{spinner} {bytes} hashed, {binary_bytes_per_sec}")
                .unwrap_or_else(|_| ProgressStyle::default_spinner());
        bar.set_style(style);
        Self(Some(bar))
    }

    /// Removes the bar before results are printed.
    pub(crate) fn finish(&self) {
        if let Some(bar) = &self.0 {
            bar.finish_and_clear();
        }
    }
}

impl Progress for Bar {
    fn advance(&self, bytes: u64) {
        if let Some(bar) = &self.0 {
            bar.inc(bytes);
        }
    }
}
