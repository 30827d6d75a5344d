//! `tollgate hash oci:DIR[:TAG]` and `tollgate verify layout oci:DIR[:TAG]`: OCI image layout
//! directories, every reachable blob checked against its descriptor's size and digest.
//!
//! This module owns turning a reference into a verified graph on a sized thread pool
//! ([`verified_graph`]) and rendering the two commands' results; the layout rules themselves
//! live in `tollgate_verifier::oci`.

use std::fmt::Write as _;
use std::process::ExitCode;

use clap::Args;
use serde_json::{Value, json};
use tollgate_verifier::oci::layout::{Layout, Problem, ProblemKind, Verification};
use tollgate_verifier::oci::{Descriptor, Reference};

use crate::args::MAX_THREADS;
use crate::output::{self, OutputFormat};
use crate::progress::Bar;
use crate::{cmd, exit};

/// Verify every blob of an OCI image layout directory.
///
/// Walks index.json → indexes → manifests → config and layers (with a TAG: that manifest and
/// the referrers index.json lists for it), and checks that every blob exists as a regular file
/// with the size and digest its descriptor gives. Lists every bad blob. Exit 0 verified, 1 bad
/// blobs, 2 unreadable or malformed layout.
#[derive(Debug, Args)]
#[command(after_help = "Examples:
  tollgate verify layout oci:./image
  tollgate verify layout oci:./image:v1 --output json")]
pub(crate) struct VerifyLayoutArgs {
    /// The layout: oci:DIR (everything index.json lists) or oci:DIR:TAG.
    #[arg(value_name = "REF")]
    pub(crate) reference: String,
    /// Worker threads, 1 to 1024 (default: all cores).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=MAX_THREADS))]
    pub(crate) threads: Option<u16>,
    /// Output format.
    #[arg(long, value_enum, default_value_t)]
    pub(crate) output: OutputFormat,
}

/// Opens the layout, walks the graph the reference names and hashes it on a sized pool.
fn verified_graph(
    reference: &Reference,
    threads: Option<u16>,
) -> anyhow::Result<(Layout, Verification)> {
    let layout = Layout::open(reference.dir())?;
    let graph = layout.graph(reference.tag())?;
    let (bytes, items) = (graph.pending_bytes(), graph.pending_blobs());
    let verification = cmd::with_pool(threads, items, || {
        let bar = Bar::for_bytes(bytes, true);
        let result = graph.verify(&bar);
        bar.finish();
        result
    })??;
    Ok((layout, verification))
}

/// `tollgate hash oci:DIR[:TAG]`: the resolved manifest's digest and every blob of its graph,
/// after checking each one. Any bad blob is an error (nothing is printed on stdout).
pub(crate) fn hash_layout(
    spec: &str,
    threads: Option<u16>,
    output: OutputFormat,
) -> anyhow::Result<ExitCode> {
    let reference = Reference::parse(spec)?;
    let (layout, verification) = verified_graph(&reference, threads)?;
    let root = layout.resolve(reference.tag())?;
    if !verification.is_verified() {
        let problems: Vec<String> = verification
            .problems()
            .iter()
            .map(ToString::to_string)
            .collect();
        anyhow::bail!(
            "{reference}: {} bad blob(s), no digest printed: {}; see `tollgate verify layout {reference}`",
            problems.len(),
            problems.join("; ")
        );
    }
    match output {
        OutputFormat::Text => output::print(&hash_text(root, &verification))?,
        OutputFormat::Json => output::print_json(&hash_json(&reference, root, &verification))?,
    }
    Ok(exit::OK)
}

/// First line `sha256:<manifest digest>`, then `<digest>  <mediaType>  <size>` per blob.
fn hash_text(root: &Descriptor, v: &Verification) -> String {
    let mut out = format!("{}\n", root.digest());
    for blob in v.blobs() {
        let d = blob.descriptor();
        let _ = writeln!(out, "{}  {}  {}", d.digest(), d.media_type(), d.size());
    }
    out
}

/// `{"reference", "digest", "mediaType", "size", "blobs": [{"digest", "mediaType", "size",
/// "role"}]}`.
fn hash_json(reference: &Reference, root: &Descriptor, v: &Verification) -> Value {
    let blobs: Vec<Value> = v
        .blobs()
        .iter()
        .map(|b| {
            let d = b.descriptor();
            json!({
                "digest": d.digest().to_string(),
                "mediaType": d.media_type().as_str(),
                "size": d.size(),
                "role": b.role().name(),
            })
        })
        .collect();
    json!({
        "reference": reference.to_string(),
        "digest": root.digest().to_string(),
        "mediaType": root.media_type().as_str(),
        "size": root.size(),
        "blobs": blobs,
    })
}

/// `tollgate verify layout oci:DIR[:TAG]`.
pub(crate) fn verify(args: &VerifyLayoutArgs) -> anyhow::Result<ExitCode> {
    let reference = Reference::parse(&args.reference)?;
    let (_, v) = verified_graph(&reference, args.threads)?;
    let verified = v.is_verified();
    match args.output {
        OutputFormat::Json => output::print_json(&json!({
            "verified": verified,
            "reference": reference.to_string(),
            "blobs": v.blobs().len(),
            "manifests": v.manifests(),
            "bytes": v.bytes(),
            "problems": v.problems().iter().map(problem_json).collect::<Vec<_>>(),
        }))?,
        OutputFormat::Text if verified => output::print(&format!(
            "verified: {reference}: {} blobs ({} manifests or indexes), {} bytes, every size and digest matches\n",
            v.blobs().len(),
            v.manifests(),
            v.bytes()
        ))?,
        OutputFormat::Text => {
            let mut out = format!(
                "verification failed: {reference}: {} of {} blobs bad\n",
                v.problems().len(),
                v.blobs().len()
            );
            for p in v.problems() {
                let _ = writeln!(out, "{p}");
            }
            output::print(&out)?;
        }
    }
    Ok(if verified { exit::OK } else { exit::rejected() })
}

fn problem_json(p: &Problem) -> Value {
    let (kind, detail) = match &p.kind {
        ProblemKind::Missing => ("missing", Value::Null),
        ProblemKind::NotAFile => ("not a regular file", Value::Null),
        ProblemKind::SizeMismatch { expected, actual } => (
            "size mismatch",
            json!({"expected": expected, "actual": actual}),
        ),
        ProblemKind::SizeConflict { first, other } => {
            ("size conflict", json!({"expected": first, "actual": other}))
        }
        ProblemKind::DigestMismatch { actual } => (
            "digest mismatch",
            json!({"expected": p.digest.to_string(), "actual": actual.to_string()}),
        ),
        _ => ("other", Value::Null),
    };
    json!({
        "blob": p.blob,
        "digest": p.digest.to_string(),
        "mediaType": p.media_type.as_str(),
        "role": p.role.name(),
        "parent": p.parent.map(|d| d.to_string()),
        "problem": kind,
        "detail": detail,
        "message": p.to_string(),
    })
}
