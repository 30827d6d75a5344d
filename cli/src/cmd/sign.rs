//! `tollgate sign model`: hash a model and write an OpenSSF model signing v1.0 bundle.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, Subcommand};
use serde_json::json;
use tollgate_verifier::keys::{self, Signer};
use tollgate_verifier::model::{self, SigningMaterial};
use tollgate_verifier::x509::Certificate;

use crate::args::HashOptions;
use crate::output::{self, OutputFormat};
use crate::{cmd, exit};

/// Sign an artifact.
#[derive(Debug, Args)]
#[command(after_help = "Examples:
  tollgate sign model ./llama-3-8b --key release.key
  tollgate sign model ./llama-3-8b --key leaf.key --cert leaf.pem --chain intermediate.pem
  tollgate sign blob release.tar.gz --key cosign.key --bundle release.sigstore.json --new-bundle-format")]
pub(crate) struct SignArgs {
    #[command(subcommand)]
    pub(crate) what: SignCommand,
}

#[derive(Debug, Subcommand)]
pub(crate) enum SignCommand {
    Model(SignModelArgs),
    Blob(cmd::blob::SignBlobArgs),
    Image(cmd::image::SignImageArgs),
}

/// Sign a model directory (or file) in the OpenSSF model signing v1.0 format.
///
/// Writes a Sigstore bundle (DSSE, in-toto Statement) that model_signing 1.1.1 verifies. A
/// signature file inside the model is left out of the manifest and recorded in ignore_paths.
#[derive(Debug, Args)]
#[command(after_help = "Examples:
  tollgate sign model ./llama-3-8b --key release.key
  tollgate sign model ./llama-3-8b --key release.key --signature llama.sig --shards
  tollgate sign model ./llama-3-8b --key leaf.key --cert leaf.pem --chain intermediate.pem
  tollgate sign model ./m --key 'pkcs11:token=release;object=model-key?module-path=/usr/lib/softhsm/libsofthsm2.so'

The key password comes from TOLLGATE_PASSWORD, else COSIGN_PASSWORD, else a terminal prompt.")]
pub(crate) struct SignModelArgs {
    /// Model directory or file.
    pub(crate) path: PathBuf,
    /// Private key file (PKCS#8, SEC1, PKCS#1, cosign format) or a pkcs11: URI.
    #[arg(long, value_name = "KEY")]
    pub(crate) key: String,
    /// Sign with a certificate: the leaf certificate (PEM) for --key.
    #[arg(long, value_name = "LEAF_PEM")]
    pub(crate) cert: Option<PathBuf>,
    /// Intermediate certificates to include after the leaf (PEM); repeatable.
    #[arg(long, value_name = "PEM", requires = "cert")]
    pub(crate) chain: Vec<PathBuf>,
    /// Where to write the signature.
    #[arg(long, value_name = "OUT", default_value = "model.sig")]
    pub(crate) signature: PathBuf,
    #[command(flatten)]
    pub(crate) hashing: HashOptions,
    /// Output format.
    #[arg(long, value_enum, default_value_t)]
    pub(crate) output: OutputFormat,
}

pub(crate) fn run(args: &SignArgs) -> anyhow::Result<ExitCode> {
    match &args.what {
        SignCommand::Model(a) => sign_model(a),
        SignCommand::Blob(a) => cmd::blob::sign(a),
        SignCommand::Image(a) => cmd::image::sign(a),
    }
}

fn sign_model(args: &SignModelArgs) -> anyhow::Result<ExitCode> {
    let (mut walk_options, config) = cmd::model_config(&args.hashing);
    match inside_model(&args.path, &args.signature)? {
        // The signature would replace the single-file model it signs.
        Some(inside) if inside.as_os_str().is_empty() => anyhow::bail!(
            "{}: the signature path is the model itself; choose another --signature",
            args.signature.display()
        ),
        Some(inside) => walk_options.ignore.push(inside),
        None => {}
    }
    // Keys and certificates first: a wrong password should not cost a hashing pass.
    let signer = load_signer(&args.key)?;
    let material = match &args.cert {
        None => SigningMaterial::Key,
        Some(leaf) => SigningMaterial::Certificates(read_chain(leaf, &args.chain)?),
    };
    let manifest = cmd::hash_model(&args.path, &args.hashing, &walk_options, &config)?;
    let bundle = model::sign(&manifest, signer.as_ref(), material)?;
    output::write_atomically(&args.signature, &bundle.to_json_bytes(), 0o644)?;

    let root = manifest.root_digest();
    match args.output {
        OutputFormat::Text => output::print(&format!(
            "signed {} ({root}, {} resources) -> {}\n",
            manifest.model_name(),
            manifest.resources().len(),
            args.signature.display()
        ))?,
        OutputFormat::Json => output::print_json(&json!({
            "signature": args.signature,
            "model_name": manifest.model_name(),
            "root": root.to_string(),
            "resources": manifest.resources().len(),
            "signer": signer.public_key().fingerprint().to_string(),
        }))?,
    }
    Ok(exit::OK)
}

/// Opens the signing key, asking for a password only if the key file is encrypted.
pub(crate) fn load_signer(spec: &str) -> anyhow::Result<Box<dyn Signer>> {
    let from_env = cmd::key::password_from_env();
    match keys::load_signer(spec, from_env.as_ref().map(|p| p.as_slice())) {
        Err(err) if err.is_password_required() => {
            let password = cmd::key::existing_key_password(Path::new(spec))?;
            Ok(keys::load_signer(spec, Some(&password))?)
        }
        result => Ok(result?),
    }
}

/// The signature path relative to the model root, if it lies inside the model.
pub(crate) fn inside_model(model: &Path, signature: &Path) -> anyhow::Result<Option<PathBuf>> {
    let root = model
        .canonicalize()
        .with_context(|| format!("{}: cannot open model", model.display()))?;
    let name = signature
        .file_name()
        .with_context(|| format!("{}: not a file path", signature.display()))?;
    let parent = match signature.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_owned(),
        _ => PathBuf::from("."),
    };
    let Ok(parent) = parent.canonicalize() else {
        return Ok(None);
    };
    Ok(parent
        .join(name)
        .strip_prefix(&root)
        .ok()
        .map(Path::to_path_buf))
}

pub(crate) fn read_chain(leaf: &Path, chain: &[PathBuf]) -> anyhow::Result<Vec<Certificate>> {
    let mut certs = Vec::new();
    for path in std::iter::once(leaf).chain(chain.iter().map(PathBuf::as_path)) {
        let bytes = cmd::read_bounded(path, 1 << 20, "a certificate file")?;
        let parsed = Certificate::parse_pem_bundle(&bytes)
            .with_context(|| format!("{}: cannot read certificates", path.display()))?;
        certs.extend(parsed);
    }
    Ok(certs)
}
