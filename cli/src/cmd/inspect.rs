//! `tollgate inspect`: format checks and a summary of every weight file.

use std::process::ExitCode;

use tollgate_verifier::inspect;

use crate::args::InspectArgs;
use crate::exit;
use crate::output::{self, OutputFormat};

pub(crate) fn run(args: &InspectArgs) -> anyhow::Result<ExitCode> {
    let report = inspect::inspect(&args.path)?;
    match args.output {
        OutputFormat::Text => output::print(&report.to_string())?,
        OutputFormat::Json => output::print_json(&report.to_json())?,
    }
    Ok(if report.is_clean() {
        exit::OK
    } else {
        exit::rejected()
    })
}
