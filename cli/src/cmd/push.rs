//! `tollgate push model`: hash a model once (files, sha256, the parallel engine), upload one
//! blob per file in parallel (skipping blobs the registry has), push the ModelPack config and
//! manifest by tag, and with `--sign` attach an OpenSSF model signature over the same digests.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use serde_json::json;
use tollgate_registry::{Digest, MediaType, Reference};
use tollgate_verifier::manifest::{self, HashConfig, Manifest, Method};
use tollgate_verifier::model::{self, SigningMaterial};
use tollgate_verifier::walk::{self, ModelTree};

use crate::args::{AlgorithmArg, HashOptions};
use crate::cmd::artifact::PushModelArgs;
use crate::cmd::modelpack::{self, Layer};
use crate::output::{self, OutputFormat};
use crate::progress::Bar;
use crate::{cmd, exit};

pub(crate) fn push_model(args: &PushModelArgs) -> anyhow::Result<ExitCode> {
    let reference: Reference = args
        .reference
        .parse()
        .with_context(|| format!("{}: not a registry reference", args.reference))?;
    anyhow::ensure!(
        reference.tag().is_some() && reference.digest().is_none(),
        "{}: give a tag to push to (REGISTRY/REPO:TAG)",
        args.reference
    );
    // The key first: a wrong password should not cost a hashing pass or an upload.
    let signer = match &args.key {
        Some(key) => Some(cmd::sign::load_signer(key)?),
        None => None,
    };
    let material = match &args.cert {
        None => SigningMaterial::Key,
        Some(leaf) => SigningMaterial::Certificates(cmd::sign::read_chain(leaf, &args.chain)?),
    };
    let hashing = hash_options(args);
    let (walk_options, _) = cmd::model_config(&hashing);
    // Layer digests are sha256 of whole files: exactly an OMS files-mode sha256 manifest.
    let config = HashConfig {
        algorithm: AlgorithmArg::Sha256.into(),
        method: Method::Files,
        shard_empty_files: false,
    };
    let tree = walk::walk(&args.path, &walk_options)?;
    anyhow::ensure!(
        !tree.files.is_empty(),
        "{}: no files to push (a ModelPack model has at least one layer)",
        args.path.display()
    );
    let hashed = hash(&tree, &config, &hashing)?;
    let (layers, files) = layers(&tree, &hashed)?;

    let client = args.registry.client()?;
    let uploaded = client.push_blob_files(&reference, &files, args.concurrency.into())?;
    let config_blob = modelpack::config_blob(hashed.model_name(), &layers);
    let config_digest = Digest::sha256(&config_blob);
    client.push_blob(&reference, config_blob.clone(), &config_digest)?;
    let manifest_bytes = modelpack::manifest(&config_blob, &layers);
    let manifest_type = MediaType::parse(MediaType::OCI_MANIFEST)?;
    let digest = client.put_manifest(&reference, &manifest_bytes, &manifest_type)?;

    let signature = match signer {
        Some(signer) => {
            let bundle = model::sign(&hashed, signer.as_ref(), material)?;
            let subject = cmd::referrer::Subject {
                digest,
                size: manifest_bytes.len() as u64,
            };
            Some(cmd::referrer::attach_bundle(
                &client,
                &reference,
                &subject,
                &bundle.to_json_bytes(),
            )?)
        }
        None => None,
    };

    let bytes: u64 = layers.iter().map(|l| l.size).sum();
    let skipped = layers.len() - uploaded;
    match args.output {
        OutputFormat::Text => {
            let mut text = format!(
                "pushed {}@{digest} ({} files, {bytes} bytes; {uploaded} blobs uploaded, {skipped} already present)\n",
                args.reference,
                layers.len(),
            );
            if let Some(sig) = &signature {
                text.push_str(&format!(
                    "attached signature {sig} (root {})\n",
                    hashed.root_digest()
                ));
            }
            output::print(&text)?;
        }
        OutputFormat::Json => output::print_json(&json!({
            "reference": args.reference,
            "digest": digest.to_string(),
            "files": layers.len(),
            "bytes": bytes,
            "uploaded": uploaded,
            "skipped": skipped,
            "root": hashed.root_digest().to_string(),
            "signature": signature.map(|s| s.to_string()),
        }))?,
    }
    Ok(exit::OK)
}

/// The walk options of `push model` as `HashOptions` (files + sha256 always).
fn hash_options(args: &PushModelArgs) -> HashOptions {
    HashOptions {
        algorithm: AlgorithmArg::Sha256,
        shard_size: None,
        shards: false,
        no_shards: true,
        shard_empty_files: false,
        ignore: args.ignore.clone(),
        no_ignore_git_paths: args.no_ignore_git_paths,
        allow_symlinks: args.allow_symlinks,
        allow_external_symlinks: args.allow_external_symlinks,
        threads: args.threads,
        no_progress: args.no_progress,
    }
}

fn hash(tree: &ModelTree, config: &HashConfig, opts: &HashOptions) -> anyhow::Result<Manifest> {
    let planned = manifest::plan(tree, config)?.len();
    let manifest = cmd::with_pool(opts.threads, planned, || {
        let bar = Bar::for_bytes(tree.total_bytes(), !opts.no_progress);
        let result = manifest::hash_tree(tree, config, &bar);
        bar.finish();
        result
    })??;
    Ok(manifest)
}

/// A file to upload: path, sha256, size.
type Upload = (PathBuf, Digest, u64);

/// Layers in the manifest's canonical order, and the files to upload.
fn layers(tree: &ModelTree, hashed: &Manifest) -> anyhow::Result<(Vec<Layer>, Vec<Upload>)> {
    let by_name: std::collections::HashMap<&str, &walk::ModelFile> =
        tree.files.iter().map(|f| (f.name.as_str(), f)).collect();
    let mut layers = Vec::with_capacity(hashed.resources().len());
    let mut files = Vec::with_capacity(hashed.resources().len());
    for r in hashed.resources() {
        let name = r.key.path();
        let file = by_name
            .get(name)
            .with_context(|| format!("{name}: hashed but not found in the walk"))?;
        layers.push(Layer {
            name: name.to_owned(),
            digest: r.digest,
            size: file.size,
        });
        files.push((file.path.clone(), r.digest, file.size));
    }
    Ok((layers, files))
}
