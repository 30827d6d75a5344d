//! The registry side of cosign image signatures and attestations: resolve the image once, read
//! and append the legacy `sha256-<hex>.sig` / `.att` manifests, push Sigstore bundle referrers
//! (the registry client keeps the `sha256-<hex>` fallback index by read-merge-write), and
//! gather what verifiers need (attachment layers, referrer bundles, their blobs, size-bounded
//! and digest-checked).
//!
//! Signing reads manifests only, never a blob: the image's manifest (for its digest, media
//! type and size), the existing attachment manifest, and the referrers index.

use anyhow::Context as _;
use tollgate_registry::{BlockingClient, Document, Error, MediaType, Platform, Reference};
use tollgate_verifier::cosign::image::attach::{
    self, Attachment, AttachmentManifest, EMPTY_CONFIG, NewLayer, Subject,
};
use tollgate_verifier::cosign::image::attestation::{
    FallbackEntry, ReferrerHint, ReferrerKind, classify_referrer,
};
use tollgate_verifier::digest::Digest;
use tollgate_verifier::oci::{Descriptor, ImageManifest};

/// The image a command works on, resolved once to a digest.
#[derive(Debug)]
pub(crate) struct Image {
    /// The reference as given.
    pub(crate) given: Reference,
    /// `registry/repository` (what cosign signs as the identity).
    pub(crate) repository: String,
    /// The manifest digest.
    pub(crate) digest: Digest,
    /// The manifest's media type.
    pub(crate) media_type: MediaType,
    /// The manifest's size.
    pub(crate) size: u64,
}

impl Image {
    /// The image at its digest (what attachments and referrers are pushed next to).
    pub(crate) fn at_digest(&self) -> Reference {
        self.given.with_digest(&self.digest)
    }

    fn tag(&self, tag: &str) -> anyhow::Result<Reference> {
        Ok(self.given.with_tag(tag)?)
    }
}

/// Parses `text` and resolves it: a tag to the digest it points at now, a digest to itself
/// (confirming the registry has it); with `platform` (--platform), an index to that platform's
/// manifest. Reads manifests only.
pub(crate) fn resolve(
    client: &BlockingClient,
    text: &str,
    platform: Option<&Platform>,
) -> anyhow::Result<Image> {
    let given: Reference = text.parse()?;
    anyhow::ensure!(
        given.target().is_some(),
        "{text}: name a tag or a digest (REGISTRY/REPO:TAG or REGISTRY/REPO@sha256:...)"
    );
    let pinned = match platform {
        Some(p) => given.with_digest(&client.resolve_platform(&given, p)?),
        None => given.clone(),
    };
    let manifest = client.get_manifest(&pinned)?;
    let media_type = manifest
        .media_type
        .clone()
        .or_else(|| {
            let t = match manifest.document {
                Document::Manifest(_) => MediaType::OCI_MANIFEST,
                Document::Index(_) => MediaType::OCI_INDEX,
            };
            MediaType::parse(t).ok()
        })
        .context("the image manifest has no media type")?;
    Ok(Image {
        repository: format!("{}/{}", given.registry(), given.repository_name()),
        digest: manifest.digest,
        media_type,
        size: manifest.bytes.len() as u64,
        given,
    })
}

/// The manifest at the image's `.sig` / `.att` tag, if there is one.
pub(crate) fn read_attachment(
    client: &BlockingClient,
    image: &Image,
    kind: Attachment,
) -> anyhow::Result<Option<(Digest, ImageManifest)>> {
    let tag = kind.tag(&image.digest);
    match client.get_manifest(&image.tag(&tag)?) {
        Ok(m) => match m.document {
            Document::Manifest(parsed) => Ok(Some((m.digest, *parsed))),
            Document::Index(_) => anyhow::bail!(
                "{}:{tag} is an index, not a cosign {} manifest",
                image.repository,
                kind.suffix()
            ),
        },
        Err(Error::ManifestNotFound { .. }) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// What was written to the registry.
#[derive(Debug)]
pub(crate) struct Written {
    /// Where: `repo:tag` or `repo@digest`.
    pub(crate) location: String,
    /// The manifest's digest.
    pub(crate) digest: Digest,
    /// Layers now in the manifest (legacy) or 1 (referrer).
    pub(crate) layers: usize,
}

/// Appends `layer` to the image's `.sig` / `.att` manifest (`existing`, as just read): the
/// layer and config blobs first, then the manifest at the tag. Like cosign, this is a
/// read-modify-write of a tag: two signers racing can lose one signature.
pub(crate) fn append(
    client: &BlockingClient,
    image: &Image,
    kind: Attachment,
    existing: Option<&ImageManifest>,
    layer: &NewLayer,
) -> anyhow::Result<Written> {
    let manifest: AttachmentManifest = attach::append_layer(existing, kind, layer)?;
    let repo = image.at_digest();
    client.push_blob(&repo, layer.bytes().to_vec(), layer.digest())?;
    let config = manifest.config().to_vec();
    let config_digest = Digest::sha256(&config);
    client.push_blob(&repo, config, &config_digest)?;
    let tag = kind.tag(&image.digest);
    let media_type = MediaType::parse(MediaType::OCI_MANIFEST)?;
    let digest = client.put_manifest(&image.tag(&tag)?, manifest.manifest(), &media_type)?;
    Ok(Written {
        location: format!("{}:{tag}", image.repository),
        digest,
        layers: manifest.layers(),
    })
}

/// Pushes `bundle` as an OCI 1.1 referrer of the image (cosign v3's layout) and lists it in
/// the referrers fallback index when the registry has no referrers API.
pub(crate) fn attach_bundle(
    client: &BlockingClient,
    image: &Image,
    bundle: &[u8],
    predicate_type: &str,
) -> anyhow::Result<Written> {
    let repo = image.at_digest();
    client.push_blob(&repo, bundle.to_vec(), &Digest::sha256(bundle))?;
    client.push_blob(&repo, EMPTY_CONFIG.to_vec(), &Digest::sha256(EMPTY_CONFIG))?;
    let created = humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string();
    let manifest = attach::referrer_manifest(
        Subject {
            media_type: &image.media_type,
            digest: &image.digest,
            size: image.size,
        },
        bundle,
        predicate_type,
        &created,
    );
    let media_type = MediaType::parse(MediaType::OCI_MANIFEST)?;
    let digest = client.attach_referrer(&repo, &manifest, &media_type)?;
    Ok(Written {
        location: format!("{}@{digest}", image.repository),
        digest,
        layers: 1,
    })
}

/// A referrer of the image, once its manifest was read.
#[derive(Debug)]
pub(crate) enum Referrer {
    /// A Sigstore bundle referrer: its bundle layers and the predicate type it announces
    /// (unauthenticated).
    Bundles {
        /// The referrer manifest's digest.
        manifest: Digest,
        /// Its bundle layers.
        layers: Vec<Descriptor>,
        /// `dev.sigstore.bundle.predicateType`, if present.
        predicate_type: Option<String>,
    },
    /// Listed, but not a signature or attestation bundle of this image.
    Other {
        /// The listed manifest's digest.
        manifest: Digest,
        /// Why it is not one.
        why: String,
    },
}

/// The image's referrers (referrers API, else the fallback index), each manifest read and
/// classified; never trusting the index's `artifactType`.
pub(crate) fn referrers(client: &BlockingClient, image: &Image) -> anyhow::Result<Vec<Referrer>> {
    let listed = client.referrers(&image.at_digest(), &image.digest)?;
    let mut out = Vec::new();
    for descriptor in listed.descriptors {
        let manifest = *descriptor.digest();
        let other = |why: String| Referrer::Other { manifest, why };
        if !descriptor.media_type().is_image_manifest() {
            out.push(other(format!(
                "listed as {}, not an image manifest",
                descriptor.media_type()
            )));
            continue;
        }
        let fetched = match client.get_manifest(&image.given.with_digest(&manifest)) {
            Ok(m) => m,
            Err(e) if is_content_problem(&e) => {
                out.push(other(e.to_string()));
                continue;
            }
            Err(e) => return Err(e.into()),
        };
        let entry = FallbackEntry {
            descriptor,
            hint: ReferrerHint::Missing,
        };
        let predicate_type = match &fetched.document {
            Document::Manifest(m) => m
                .annotations()
                .get(attach::BUNDLE_PREDICATE_TYPE_ANNOTATION)
                .cloned(),
            Document::Index(_) => None,
        };
        out.push(
            match classify_referrer(&entry, &fetched.bytes, &image.digest) {
                Ok(ReferrerKind::SigstoreBundle(layers)) => Referrer::Bundles {
                    manifest,
                    layers,
                    predicate_type,
                },
                Ok(ReferrerKind::NotASignature(why)) => other(why),
                Ok(_) => other("an unknown kind of referrer".into()),
                Err(e) => other(e.to_string()),
            },
        );
    }
    Ok(out)
}

/// Errors that say the registry's content is wrong (a rejection of that item), not that the
/// registry could not be asked.
fn is_content_problem(e: &Error) -> bool {
    matches!(
        e,
        Error::DigestMismatch { .. }
            | Error::SizeMismatch { .. }
            | Error::ManifestNotFound { .. }
            | Error::InvalidManifest { .. }
            | Error::ManifestTooLarge { .. }
            | Error::BlobNotFound { .. }
            | Error::BlobTooLarge { .. }
    )
}

/// Downloads the blob `descriptor` names, at most `limit` bytes, its size and digest checked.
/// `Ok(Err(why))` when the content is wrong (too large, altered, missing): a rejection of
/// that signature; `Err` when the registry could not be asked.
pub(crate) fn fetch_blob(
    client: &BlockingClient,
    image: &Image,
    descriptor: &Descriptor,
    limit: usize,
) -> anyhow::Result<Result<Vec<u8>, String>> {
    match client.get_blob(
        &image.at_digest(),
        descriptor.digest(),
        descriptor.size(),
        limit as u64,
        "signatures",
    ) {
        Ok(bytes) => Ok(Ok(bytes)),
        Err(e) if is_content_problem(&e) => Ok(Err(e.to_string())),
        Err(e) => Err(e.into()),
    }
}
