//! `tollgate pull model`: fetch an artifact's manifest, check every layer's file name, download
//! all layers in parallel into a private staging directory inside DIR (each hashed while
//! written and kept only if its size and digest match), and only when every file verified move
//! them to their names. A failed pull leaves no file under a final name.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use serde_json::json;
use tollgate_registry::{Document, Reference};

use crate::cmd::artifact::PullModelArgs;
use crate::cmd::modelpack;
use crate::cmd::referrer::Scratch;
use crate::exit;
use crate::output::{self, OutputFormat};

pub(crate) fn pull_model(args: &PullModelArgs) -> anyhow::Result<ExitCode> {
    let reference: Reference = args
        .reference
        .parse()
        .with_context(|| format!("{}: not a registry reference", args.reference))?;
    let client = args.registry.client()?;
    let reference = args.registry.pinned(&client, reference)?;
    let manifest = client.get_manifest(&reference)?;
    let Document::Manifest(image) = &manifest.document else {
        anyhow::bail!(
            "{}: is an image index, not a model artifact manifest",
            args.reference
        );
    };
    let files = modelpack::layer_names(image)
        .with_context(|| format!("{}@{}: refusing to pull", args.reference, manifest.digest))?;
    std::fs::create_dir_all(&args.dir)
        .with_context(|| format!("{}: cannot create directory", args.dir.display()))?;
    for (name, _) in &files {
        check_target(&args.dir, name, args.force)?;
    }

    let staging = Scratch::new(&args.dir)?;
    let downloads: Vec<_> = files
        .iter()
        .enumerate()
        .map(|(i, (_, d))| (*d.digest(), d.size(), staging.path().join(i.to_string())))
        .collect();
    let pinned = reference.with_digest(&manifest.digest);
    let bytes =
        client.pull_blob_files(&pinned, &downloads, args.concurrency.into(), !args.no_sync)?;
    for ((name, _), (_, _, staged)) in files.iter().zip(&downloads) {
        place(&args.dir, name, staged, args.force)?;
    }
    drop(staging);

    match args.output {
        OutputFormat::Text => output::print(&format!(
            "pulled {}@{} ({} files, {bytes} bytes) -> {}\n",
            args.reference,
            manifest.digest,
            files.len(),
            args.dir.display()
        ))?,
        OutputFormat::Json => output::print_json(&json!({
            "reference": args.reference,
            "digest": manifest.digest.to_string(),
            "files": files.iter().map(|(n, d)| json!({
                "name": n, "digest": d.digest().to_string(), "size": d.size()
            })).collect::<Vec<_>>(),
            "bytes": bytes,
            "dir": args.dir,
        }))?,
    }
    Ok(exit::OK)
}

/// Refuses a name whose directories under `dir` are symlinks or files, and (without `force`) a
/// name that already exists.
fn check_target(dir: &Path, name: &str, force: bool) -> anyhow::Result<()> {
    let mut path = dir.to_path_buf();
    let parts: Vec<&str> = name.split('/').collect();
    for (i, part) in parts.iter().enumerate() {
        path.push(part);
        let last = i + 1 == parts.len();
        match std::fs::symlink_metadata(&path) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(e).with_context(|| format!("{}: cannot check", path.display())),
            Ok(m) if !last && !m.is_dir() => anyhow::bail!(
                "{}: exists and is not a directory (a symlink or a file); {name} cannot be written below it",
                path.display()
            ),
            Ok(m) if last && m.is_dir() => {
                anyhow::bail!("{}: is a directory; cannot write {name}", path.display())
            }
            Ok(_) if last && !force => anyhow::bail!(
                "{}: already exists; pull into an empty directory or pass --force to replace it",
                path.display()
            ),
            Ok(_) => {}
        }
    }
    Ok(())
}

/// Moves a verified staged file to `dir/name`, creating directories (never through symlinks).
/// Without `force` an existing file is never replaced (a hard link fails if the name exists).
fn place(dir: &Path, name: &str, staged: &Path, force: bool) -> anyhow::Result<()> {
    check_target(dir, name, force)?;
    let target: PathBuf = dir.join(name);
    if let Some(parent) = target.parent() {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("{}: cannot create directory", parent.display()))?;
    }
    if force {
        std::fs::rename(staged, &target)
    } else {
        std::fs::hard_link(staged, &target)
    }
    .with_context(|| {
        format!(
            "{}: cannot move the verified file into place",
            target.display()
        )
    })
}
