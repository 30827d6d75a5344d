//! `tollgate hash` and `tollgate verify layout` for OCI image layout directories
//! (`oci:DIR[:TAG]`), OCI archives (`oci-archive:FILE[:TAG]`) and `docker save` archives
//! (`docker-archive:FILE[:REF]`): every reachable blob checked against its descriptor's size
//! and digest (for docker archives: the config against the image ID, each layer against its
//! diff ID).
//!
//! This module owns turning a reference into a verified graph on a sized thread pool
//! ([`verified_graph`], [`verified_docker`]) and rendering the two commands' results; the
//! layout and archive rules themselves live in `tollgate_verifier::oci`.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use clap::Args;
use serde_json::{Value, json};
use tollgate_verifier::oci::archive::docker::{
    DockerArchive, DockerImage, DockerProblem, DockerVerification,
};
use tollgate_verifier::oci::archive::{Archive, ArchiveReference, DockerSelector};
use tollgate_verifier::oci::layout::{Layout, Problem, ProblemKind, Verification};
use tollgate_verifier::oci::{Descriptor, Reference};

use crate::args::MAX_THREADS;
use crate::output::{self, OutputFormat};
use crate::progress::Bar;
use crate::{cmd, exit};

/// Verify every blob of an OCI image layout, OCI archive or docker save archive.
///
/// Walks index.json → indexes → manifests → config and layers (with a TAG: that manifest and
/// the referrers index.json lists for it), and checks that every blob exists as a regular file
/// with the size and digest its descriptor gives. For a docker save archive: each image's
/// config against its image ID and each layer against the config's rootfs.diff_ids. Archives
/// are read in place (plain tar; decompress a .tar.gz first). Lists every bad blob. Exit 0
/// verified, 1 bad blobs, 2 unreadable or malformed layout or archive.
#[derive(Debug, Args)]
#[command(after_help = "Examples:
  tollgate verify layout oci:./image
  tollgate verify layout oci:./image:v1 --output json
  tollgate verify layout oci-archive:image.tar:v1
  tollgate verify layout docker-archive:saved.tar
  tollgate verify layout docker-archive:saved.tar:example.com/app:v1")]
pub(crate) struct VerifyLayoutArgs {
    /// The layout: oci:DIR (everything index.json lists) or oci:DIR:TAG; an OCI archive
    /// oci-archive:FILE or oci-archive:FILE:TAG; a docker save archive docker-archive:FILE (every image),
    /// docker-archive:FILE:NAME:TAG or docker-archive:FILE:@INDEX.
    #[arg(value_name = "REF")]
    pub(crate) reference: String,
    /// Worker threads, 1 to 1024 (default: all cores).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=MAX_THREADS))]
    pub(crate) threads: Option<u16>,
    /// Output format.
    #[arg(long, value_enum, default_value_t)]
    pub(crate) output: OutputFormat,
}

/// What a `hash`/`verify layout` reference names, opened.
enum Target {
    /// `oci:DIR[:TAG]` or `oci-archive:FILE[:TAG]`: an image layout.
    Layout {
        layout: Box<Layout>,
        tag: Option<String>,
        shown: String,
    },
    /// `docker-archive:FILE[:REF]`.
    Docker {
        path: PathBuf,
        image: Option<DockerSelector>,
        shown: String,
    },
}

impl Target {
    /// Parses the reference and opens a layout (directory or OCI archive); a docker archive
    /// is opened by [`verified_docker`].
    fn open(spec: &str) -> anyhow::Result<Self> {
        if !ArchiveReference::is_archive(spec) {
            let r = Reference::parse(spec)?;
            return Ok(Self::Layout {
                layout: Box::new(Layout::open(r.dir())?),
                tag: r.tag().map(str::to_owned),
                shown: r.to_string(),
            });
        }
        let reference = ArchiveReference::parse(spec)?;
        let shown = reference.to_string();
        Ok(match reference {
            ArchiveReference::Oci { path, tag } => Self::Layout {
                layout: Box::new(Layout::open_archive(Arc::new(Archive::open(&path)?))?),
                tag,
                shown,
            },
            ArchiveReference::Docker { path, image } => Self::Docker { path, image, shown },
        })
    }
}

/// Opens a docker save archive and verifies the image named (or all of them) on a sized
/// pool.
fn verified_docker(
    path: &Path,
    image: Option<&DockerSelector>,
    threads: Option<u16>,
) -> anyhow::Result<DockerVerification> {
    let archive = Arc::new(Archive::open(path)?);
    let total: u64 = archive.members().iter().map(|m| m.size()).sum();
    let docker = DockerArchive::open(archive)?;
    // Resolve first: an ambiguous or unknown image is an input error before any hashing.
    if image.is_some() {
        docker.resolve(image)?;
    }
    let verification = cmd::with_pool(threads, usize::MAX, || {
        let bar = Bar::for_bytes(total, true);
        let result = docker.verify(image, &bar);
        bar.finish();
        result
    })??;
    Ok(verification)
}

/// Walks the graph the tag names in an opened layout and hashes it on a sized pool.
fn verified_graph(
    layout: &Layout,
    tag: Option<&str>,
    threads: Option<u16>,
) -> anyhow::Result<Verification> {
    let graph = layout.graph(tag)?;
    let (bytes, items) = (graph.pending_bytes(), graph.pending_blobs());
    let verification = cmd::with_pool(threads, items, || {
        let bar = Bar::for_bytes(bytes, true);
        let result = graph.verify(&bar);
        bar.finish();
        result
    })??;
    Ok(verification)
}

/// `tollgate hash oci:DIR[:TAG]` (or `oci-archive:FILE[:TAG]`): the resolved manifest's
/// digest and every blob of its graph, after checking each one; `docker-archive:FILE[:REF]`:
/// the image ID, then config and layers. Any bad blob is an error (nothing is printed on
/// stdout).
pub(crate) fn hash_layout(
    spec: &str,
    threads: Option<u16>,
    output: OutputFormat,
) -> anyhow::Result<ExitCode> {
    let (layout, tag, reference) = match Target::open(spec)? {
        Target::Layout { layout, tag, shown } => (layout, tag, shown),
        Target::Docker { path, image, shown } => {
            return hash_docker(&path, image.as_ref(), &shown, threads, output);
        }
    };
    let tag = tag.as_deref();
    // Resolve first: an ambiguous or unknown tag is an input error before any hashing.
    layout.resolve(tag)?;
    let verification = verified_graph(&layout, tag, threads)?;
    let root = layout.resolve(tag)?;
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
fn hash_json(reference: &str, root: &Descriptor, v: &Verification) -> Value {
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
        "reference": reference,
        "digest": root.digest().to_string(),
        "mediaType": root.media_type().as_str(),
        "size": root.size(),
        "blobs": blobs,
    })
}

/// `tollgate verify layout REF`.
pub(crate) fn verify(args: &VerifyLayoutArgs) -> anyhow::Result<ExitCode> {
    let (layout, tag, reference) = match Target::open(&args.reference)? {
        Target::Layout { layout, tag, shown } => (layout, tag, shown),
        Target::Docker { path, image, shown } => {
            return verify_docker(&path, image.as_ref(), &shown, args);
        }
    };
    let v = verified_graph(&layout, tag.as_deref(), args.threads)?;
    let verified = v.is_verified();
    match args.output {
        OutputFormat::Json => output::print_json(&json!({
            "verified": verified,
            "reference": reference,
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

/// `tollgate hash docker-archive:FILE[:REF]`: the image ID, then the config and every layer
/// as `<digest>  <mediaType>  <size>` (layers by diff ID), after checking each one.
fn hash_docker(
    path: &Path,
    image: Option<&DockerSelector>,
    reference: &str,
    threads: Option<u16>,
    output: OutputFormat,
) -> anyhow::Result<ExitCode> {
    let archive = Arc::new(Archive::open(path)?);
    // `hash` names one image: resolve it (an input error if ambiguous) before hashing.
    let docker = DockerArchive::open(archive)?;
    let index = docker.resolve(image)?;
    let selector = DockerSelector::Index(index);
    let v = verified_docker(path, Some(&selector), threads)?;
    if !v.is_verified() {
        let problems = docker_problem_lines(&v);
        anyhow::bail!(
            "{reference}: {} bad blob(s), no digest printed: {}; see `tollgate verify layout {reference}`",
            problems.len(),
            problems.join("; ")
        );
    }
    let Some(img) = v.images().first() else {
        anyhow::bail!("{reference}: no image was checked");
    };
    let Some(id) = img.image_id() else {
        anyhow::bail!("{reference}: the image config could not be read");
    };
    match output {
        OutputFormat::Text => {
            let mut out = format!("{id}\n");
            let _ = writeln!(
                out,
                "{id}  {}  {}",
                img.config().media_type(),
                img.config().size()
            );
            for layer in img.layers() {
                if let Some(d) = layer.digest() {
                    let _ = writeln!(out, "{d}  {}  {}", layer.media_type(), layer.size());
                }
            }
            output::print(&out)?;
        }
        OutputFormat::Json => output::print_json(&docker_image_json(reference, img))?,
    }
    Ok(exit::OK)
}

/// `{"reference", "imageId", "repoTags", "blobs": [{"digest", "mediaType", "size", "role",
/// "member"}]}`.
fn docker_image_json(reference: &str, img: &DockerImage) -> Value {
    let blob = |b: &tollgate_verifier::oci::archive::docker::DockerBlob| {
        json!({
            "digest": b.digest().map(ToString::to_string),
            "mediaType": b.media_type(),
            "size": b.size(),
            "role": b.role().name(),
            "member": b.member(),
        })
    };
    let mut blobs = vec![blob(img.config())];
    blobs.extend(img.layers().iter().map(blob));
    json!({
        "reference": reference,
        "imageId": img.image_id().map(ToString::to_string),
        "repoTags": img.repo_tags(),
        "blobs": blobs,
    })
}

/// Every problem of a docker archive verification, the OCI side's first.
fn docker_problem_lines(v: &DockerVerification) -> Vec<String> {
    let oci = v.oci().map(|o| o.problems()).unwrap_or_default();
    oci.iter()
        .map(ToString::to_string)
        .chain(v.problems().iter().map(ToString::to_string))
        .collect()
}

/// `tollgate verify layout docker-archive:FILE[:REF]`.
fn verify_docker(
    path: &Path,
    image: Option<&DockerSelector>,
    reference: &str,
    args: &VerifyLayoutArgs,
) -> anyhow::Result<ExitCode> {
    let v = verified_docker(path, image, args.threads)?;
    let verified = v.is_verified();
    let layers: usize = v.images().iter().map(|i| i.layers().len()).sum();
    let bytes: u64 = v
        .images()
        .iter()
        .flat_map(|i| std::iter::once(i.config()).chain(i.layers()))
        .map(|b| b.size())
        .sum();
    let problems = docker_problem_lines(&v);
    let oci_note = match v.oci() {
        Some(o) => format!(
            "; OCI layout side: {} blobs ({} manifests or indexes)",
            o.blobs().len(),
            o.manifests()
        ),
        None => String::new(),
    };
    match args.output {
        OutputFormat::Json => {
            let mut list: Vec<Value> = v
                .oci()
                .map(|o| o.problems().iter().map(problem_json).collect())
                .unwrap_or_default();
            list.extend(v.problems().iter().map(docker_problem_json));
            output::print_json(&json!({
                "verified": verified,
                "reference": reference,
                "images": v.images().iter().map(|i| docker_image_json(reference, i)).collect::<Vec<_>>(),
                "layers": layers,
                "bytes": bytes,
                "ociLayout": v.oci().map(|o| json!({
                    "blobs": o.blobs().len(),
                    "manifests": o.manifests(),
                    "bytes": o.bytes(),
                })),
                "problems": list,
            }))?
        }
        OutputFormat::Text if verified => output::print(&format!(
            "verified: {reference}: {} image(s), {layers} layers, {bytes} bytes, every image ID and diff ID matches{oci_note}\n",
            v.images().len(),
        ))?,
        OutputFormat::Text => {
            let mut out = format!(
                "verification failed: {reference}: {} bad blob(s)\n",
                problems.len()
            );
            for p in &problems {
                let _ = writeln!(out, "{p}");
            }
            output::print(&out)?;
        }
    }
    Ok(if verified { exit::OK } else { exit::rejected() })
}

fn docker_problem_json(p: &DockerProblem) -> Value {
    let kind = match &p.kind {
        ProblemKind::Missing => "missing",
        ProblemKind::NotAFile => "not a regular file",
        ProblemKind::DigestMismatch { .. } => "digest mismatch",
        _ => "other",
    };
    let actual = match &p.kind {
        ProblemKind::DigestMismatch { actual } => Some(actual.to_string()),
        _ => None,
    };
    json!({
        "blob": p.member,
        "digest": p.expected.map(|d| d.to_string()),
        "mediaType": match p.role {
            tollgate_verifier::oci::layout::Role::Config => "application/vnd.docker.container.image.v1+json",
            _ => "application/vnd.docker.image.rootfs.diff.tar",
        },
        "role": p.role.name(),
        "image": p.image,
        "problem": kind,
        "detail": match (&p.detail, actual) {
            (Some(d), _) => json!(d),
            (None, Some(a)) => json!({"expected": p.expected.map(|d| d.to_string()), "actual": a}),
            _ => Value::Null,
        },
        "message": p.to_string(),
    })
}
