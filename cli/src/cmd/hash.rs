//! `tollgate hash`: a model's manifest and root digest.

use std::fmt::Write as _;
use std::process::ExitCode;

use serde_json::json;
use tollgate_verifier::manifest::Manifest;
use tollgate_verifier::oci::archive::ArchiveReference;

use crate::args::HashArgs;
use crate::output::{self, OutputFormat};
use crate::{cmd, exit};

pub(crate) fn run(args: &HashArgs) -> anyhow::Result<ExitCode> {
    // Image layouts and archives, by skopeo's transport names: oci:DIR[:TAG],
    // oci-archive:FILE[:TAG], docker-archive:FILE[:REF].
    let image = |p: &&str| p.starts_with("oci:") || ArchiveReference::is_archive(p);
    if let Some(spec) = args.path.to_str().filter(image) {
        return cmd::layout::hash_layout(spec, args.hashing.threads, args.output);
    }
    let (walk_options, config) = cmd::model_config(&args.hashing);
    let manifest = cmd::hash_model(&args.path, &args.hashing, &walk_options, &config)?;
    match args.output {
        OutputFormat::Text => output::print(&render_text(&manifest))?,
        OutputFormat::Json => output::print_json(&render_json(&manifest))?,
    }
    Ok(exit::OK)
}

/// First line `sha256:<root>`, then `<algorithm>:<hex>  <name>` per resource; names with
/// control characters are quoted and escaped so every resource stays on one line.
fn render_text(m: &Manifest) -> String {
    let mut out = format!("{}\n", m.root_digest());
    for r in m.resources() {
        let name = r.key.to_string();
        if name.chars().any(char::is_control) {
            let _ = writeln!(out, "{}  {name:?}", r.digest);
        } else {
            let _ = writeln!(out, "{}  {name}", r.digest);
        }
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
