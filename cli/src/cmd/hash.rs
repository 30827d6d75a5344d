//! `tollgate hash`: a model's manifest and root digest.

use std::fmt::Write as _;
use std::process::ExitCode;

use serde_json::json;
use tollgate_verifier::manifest::{self, Manifest};
use tollgate_verifier::walk;

use crate::args::HashArgs;
use crate::output::{self, OutputFormat};
use crate::progress::Bar;
use crate::{cmd, exit};

pub(crate) fn run(args: &HashArgs) -> anyhow::Result<ExitCode> {
    let (walk_options, config) = cmd::model_config(&args.hashing);
    let manifest = cmd::with_pool(args.hashing.threads, || {
        let tree = walk::walk(&args.path, &walk_options)?;
        let bar = Bar::for_bytes(tree.total_bytes(), !args.hashing.no_progress);
        let result = manifest::hash_tree(&tree, &config, &bar);
        bar.finish();
        result
    })??;
    match args.output {
        OutputFormat::Text => output::print(&render_text(&manifest))?,
        OutputFormat::Json => output::print_json(&render_json(&manifest))?,
    }
    Ok(exit::OK)
}

/// First line `sha256:<root>`, then `<algorithm>:<hex>  <name>` per resource.
fn render_text(m: &Manifest) -> String {
    let mut out = format!("{}\n", m.root_digest());
    for r in m.resources() {
        let _ = writeln!(out, "{}  {}", r.digest, r.key);
    }
    out
}

/// `{"root", "model_name", "serialization", "resources"}`; the last two exactly as the
/// signed predicate carries them.
fn render_json(m: &Manifest) -> serde_json::Value {
    let mut predicate = m.to_predicate();
    json!({
        "root": m.root_digest().to_string(),
        "model_name": m.model_name(),
        "serialization": predicate["serialization"].take(),
        "resources": predicate["resources"].take(),
    })
}
