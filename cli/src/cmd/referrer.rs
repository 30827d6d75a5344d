//! OpenSSF model signatures as OCI referrers of a model artifact: attaching a Sigstore bundle
//! (the way cosign attaches `--new-bundle-format` bundles, so `oras discover` lists it), and
//! finding and reading the bundles attached to a manifest.
//!
//! A signature referrer is an image manifest with `artifactType`
//! `application/vnd.dev.sigstore.bundle.v0.3+json`, the empty config, the bundle as its only
//! layer, `subject` = the model manifest, and the annotations `dev.sigstore.bundle.content`
//! = `dsse-envelope` and `dev.sigstore.bundle.predicateType` = the OMS predicate type.

use std::path::{Path, PathBuf};

use anyhow::Context;
use serde_json::json;
use tollgate_registry::{BlockingClient, Digest, Document, MediaType, Reference};
use tollgate_verifier::bundle::{self, Bundle, Content, MAX_BUNDLE_BYTES};
use tollgate_verifier::model::PREDICATE_TYPE;

/// `artifactType` and layer media type of a Sigstore bundle v0.3 referrer.
pub(crate) const BUNDLE_TYPE: &str = "application/vnd.dev.sigstore.bundle.v0.3+json";
/// Most referrers read when looking for signatures.
const MAX_REFERRERS: usize = 64;

/// The manifest a signature refers to.
pub(crate) struct Subject {
    pub(crate) digest: Digest,
    pub(crate) size: u64,
}

/// Pushes `bundle` (Sigstore bundle JSON) and a referrer manifest pointing at `subject`;
/// returns the referrer's digest.
pub(crate) fn attach_bundle(
    client: &BlockingClient,
    reference: &Reference,
    subject: &Subject,
    bundle: &[u8],
) -> anyhow::Result<Digest> {
    let parsed = Bundle::parse(bundle).context("not a Sigstore bundle")?;
    anyhow::ensure!(
        parsed.media_type == bundle::MediaType::V0_3,
        "the signature is a {} bundle; attach a v0.3 bundle (what model_signing 1.x and tollgate write)",
        parsed.media_type.as_str()
    );
    anyhow::ensure!(
        matches!(parsed.content, Content::DsseEnvelope(_)),
        "the bundle holds a messageSignature, not the DSSE envelope of a model signature"
    );
    let empty = b"{}".to_vec();
    let empty_digest = Digest::sha256(&empty);
    client.push_blob(reference, empty, &empty_digest)?;
    let bundle_digest = Digest::sha256(bundle);
    client.push_blob(reference, bundle.to_vec(), &bundle_digest)?;
    let manifest = json!({
        "schemaVersion": 2,
        "mediaType": MediaType::OCI_MANIFEST,
        "artifactType": BUNDLE_TYPE,
        "config": {
            "mediaType": MediaType::OCI_EMPTY,
            "digest": empty_digest.to_string(),
            "size": 2,
        },
        "layers": [{
            "mediaType": BUNDLE_TYPE,
            "digest": bundle_digest.to_string(),
            "size": bundle.len(),
        }],
        "subject": {
            "mediaType": MediaType::OCI_MANIFEST,
            "digest": subject.digest.to_string(),
            "size": subject.size,
        },
        "annotations": {
            "dev.sigstore.bundle.content": "dsse-envelope",
            "dev.sigstore.bundle.predicateType": PREDICATE_TYPE,
        },
    });
    let bytes = serde_json::to_vec(&manifest)?;
    let manifest_type = MediaType::parse(MediaType::OCI_MANIFEST)?;
    Ok(client.attach_referrer(reference, &bytes, &manifest_type)?)
}

/// A signature found among a manifest's referrers.
pub(crate) struct Found {
    /// The referrer manifest's digest.
    pub(crate) referrer: Digest,
    /// The bundle, or why it could not be read.
    pub(crate) bundle: Result<Bundle, String>,
}

/// Every Sigstore bundle attached to `subject` (at most 64 referrers are read): referrer
/// manifests whose subject is `subject` and whose `artifactType` (or config media type) is a
/// Sigstore bundle, each with exactly one bundle layer of at most 64 MiB.
pub(crate) fn find_bundles(
    client: &BlockingClient,
    reference: &Reference,
    subject: &Digest,
) -> anyhow::Result<Vec<Found>> {
    let referrers = client.referrers(reference, subject)?;
    let mut found = Vec::new();
    for d in referrers.descriptors.iter().take(MAX_REFERRERS) {
        // Listing entries are hints; the manifest itself decides. One unreadable referrer
        // must not hide the others.
        let manifest = match client.get_manifest(&reference.with_digest(d.digest())) {
            Ok(m) => m,
            Err(e) => {
                found.push(Found {
                    referrer: *d.digest(),
                    bundle: Err(format!("cannot read the referrer: {e}")),
                });
                continue;
            }
        };
        let Document::Manifest(m) = &manifest.document else {
            continue;
        };
        if m.subject().map(|s| s.digest()) != Some(subject) {
            continue;
        }
        let artifact_type = m
            .artifact_type()
            .unwrap_or_else(|| m.config().media_type())
            .as_str();
        if !artifact_type.starts_with("application/vnd.dev.sigstore.bundle") {
            continue;
        }
        let bundle = match m.layers() {
            [layer] => match client.get_blob(
                reference,
                layer.digest(),
                layer.size(),
                MAX_BUNDLE_BYTES,
                "a signature bundle",
            ) {
                Ok(bytes) => Bundle::parse(&bytes).map_err(|e| e.to_string()),
                Err(e) => Err(format!("cannot download the bundle: {e}")),
            },
            layers => Err(format!(
                "has {} layers; a bundle referrer has exactly one",
                layers.len()
            )),
        };
        found.push(Found {
            referrer: manifest.digest,
            bundle,
        });
    }
    Ok(found)
}

/// A directory removed with everything in it when dropped (the CLI has no tempfile crate).
pub(crate) struct Scratch(PathBuf);

impl Scratch {
    /// A new, empty, private directory inside `parent`.
    pub(crate) fn new(parent: &Path) -> anyhow::Result<Self> {
        use std::os::unix::fs::DirBuilderExt as _;
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        for attempt in 0..100u32 {
            let name = format!(".tollgate-{}-{nanos:x}-{attempt}", std::process::id());
            let path = parent.join(name);
            match std::fs::DirBuilder::new().mode(0o700).create(&path) {
                Ok(()) => return Ok(Self(path)),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
                Err(e) => {
                    return Err(e).with_context(|| format!("{}: cannot create", path.display()));
                }
            }
        }
        anyhow::bail!("{}: cannot create a temporary directory", parent.display())
    }

    pub(crate) fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
