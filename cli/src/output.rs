//! Rendering results: text for people, `--output json` for CI. The only code that prints
//! results on stdout.

use std::io::{self, Write};

use clap::ValueEnum;

/// How results are printed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub(crate) enum OutputFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON document on stdout.
    Json,
}

/// Writes `text` to stdout at once, so a failure never leaves partial output behind.
pub(crate) fn print(text: &str) -> io::Result<()> {
    let mut out = io::stdout().lock();
    out.write_all(text.as_bytes())?;
    out.flush()
}

/// Pretty JSON plus a newline.
pub(crate) fn print_json(value: &serde_json::Value) -> io::Result<()> {
    let mut text = serde_json::to_string_pretty(value).map_err(io::Error::other)?;
    text.push('\n');
    print(&text)
}
