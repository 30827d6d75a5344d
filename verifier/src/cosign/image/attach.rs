//! The manifests cosign stores next to an image, written byte-compatibly with cosign 2.5.0
//! (legacy tags) and cosign v3 (bundle referrers).
//!
//! - Legacy attachments ([`Attachment::Signatures`], [`Attachment::Attestations`]): an OCI
//!   manifest at tag `sha256-<hex>.sig` / `.att` in the image's repository whose layers are
//!   the signed payloads. Signing again **appends** a layer ([`append_layer`]); every existing
//!   layer is kept with its annotations, as cosign's `mutate.Append` does. The config is
//!   go-containerregistry's `empty.Image` config with one `history` entry and one `diff_ids`
//!   entry per layer ([`legacy_config`]); no verifier reads it.
//! - A Sigstore bundle referrer ([`referrer_manifest`]): the bundle as the only layer, the
//!   empty config `{}` (whose descriptor carries the artifact type, as cosign's
//!   `WriteReferrer` writes it), `subject` = the image, `artifactType` = the bundle media type,
//!   and the annotations `dev.sigstore.bundle.content`, `dev.sigstore.bundle.predicateType`,
//!   `org.opencontainers.image.created`.
//!
//! Everything here is bytes in, bytes out: uploading them is the registry layer's job.

use std::collections::BTreeMap;

use serde::Serialize;

use super::attestation::{BUNDLE_V0_3_MEDIA_TYPE, DSSE_MEDIA_TYPE};
use super::{MAX_LAYERS, SIMPLE_SIGNING_MEDIA_TYPE};
use crate::digest::Digest;
use crate::oci::{Descriptor, ImageManifest, MediaType};

/// The empty config blob of a referrer (`application/vnd.oci.empty.v1+json`).
pub const EMPTY_CONFIG: &[u8] = b"{}";

/// Referrer annotation: what the bundle holds (`dsse-envelope`).
pub const BUNDLE_CONTENT_ANNOTATION: &str = "dev.sigstore.bundle.content";

/// Referrer annotation: the predicate type of the bundle's statement (a hint for readers).
pub const BUNDLE_PREDICATE_TYPE_ANNOTATION: &str = "dev.sigstore.bundle.predicateType";

/// Referrer annotation: when it was made (RFC 3339, seconds, UTC).
pub const CREATED_ANNOTATION: &str = "org.opencontainers.image.created";

/// Config media type of legacy attachment manifests.
const OCI_CONFIG_MEDIA_TYPE: &str = "application/vnd.oci.image.config.v1+json";

/// Which legacy attachment tag.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Attachment {
    /// `sha256-<hex>.sig`: simple-signing payloads.
    Signatures,
    /// `sha256-<hex>.att`: DSSE envelopes of in-toto statements.
    Attestations,
}

impl Attachment {
    /// The tag suffix, `sig` or `att`.
    pub fn suffix(self) -> &'static str {
        match self {
            Self::Signatures => "sig",
            Self::Attestations => "att",
        }
    }

    /// The media type every layer of this attachment has.
    pub fn layer_media_type(self) -> &'static str {
        match self {
            Self::Signatures => SIMPLE_SIGNING_MEDIA_TYPE,
            Self::Attestations => DSSE_MEDIA_TYPE,
        }
    }

    /// The tag of `image`'s attachment: `sha256-<hex>.sig` or `.att`.
    pub fn tag(self, image: &Digest) -> String {
        format!("{}-{}.{}", image.algorithm(), image.hex(), self.suffix())
    }
}

/// Why an attachment manifest cannot be extended.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AttachError {
    /// An existing layer is not of the attachment's kind: the tag holds something else.
    #[error(
        "the existing {tag} manifest has layer {index} of media type {media_type}, not {expected}: it is not a cosign attachment; refusing to modify it"
    )]
    ForeignLayer {
        /// The tag suffix.
        tag: &'static str,
        /// The layer index.
        index: usize,
        /// Its media type.
        media_type: String,
        /// The expected media type.
        expected: &'static str,
    },
    /// The manifest already has [`MAX_LAYERS`] layers (cosign's cap).
    #[error(
        "the existing {tag} manifest already has {count} layers, cosign's limit is {MAX_LAYERS}; remove old signatures first"
    )]
    Full {
        /// The tag suffix.
        tag: &'static str,
        /// Its layer count.
        count: usize,
    },
}

/// A layer to add: the blob's bytes, and the annotations its descriptor carries.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewLayer {
    bytes: Vec<u8>,
    digest: Digest,
    annotations: BTreeMap<String, String>,
}

impl NewLayer {
    /// A layer of `bytes` with descriptor `annotations`.
    pub fn new(bytes: Vec<u8>, annotations: BTreeMap<String, String>) -> Self {
        Self {
            digest: Digest::sha256(&bytes),
            bytes,
            annotations,
        }
    }

    /// The blob bytes to upload.
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// Their SHA-256.
    pub fn digest(&self) -> &Digest {
        &self.digest
    }

    /// The descriptor annotations.
    pub fn annotations(&self) -> &BTreeMap<String, String> {
        &self.annotations
    }
}

/// A legacy attachment manifest and its config blob, ready to upload (config and new layer
/// blobs first, then the manifest at [`Attachment::tag`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AttachmentManifest {
    manifest: Vec<u8>,
    config: Vec<u8>,
    layers: usize,
}

impl AttachmentManifest {
    /// The manifest bytes (media type [`MediaType::OCI_MANIFEST`]).
    pub fn manifest(&self) -> &[u8] {
        &self.manifest
    }

    /// The config blob bytes.
    pub fn config(&self) -> &[u8] {
        &self.config
    }

    /// How many layers (signatures) the manifest lists.
    pub fn layers(&self) -> usize {
        self.layers
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct OutDescriptor<'a> {
    media_type: &'a str,
    size: u64,
    digest: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    annotations: Option<&'a BTreeMap<String, String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    artifact_type: Option<&'a str>,
}

impl<'a> OutDescriptor<'a> {
    fn of(d: &'a Descriptor) -> Self {
        Self {
            media_type: d.media_type().as_str(),
            size: d.size(),
            digest: d.digest().to_string(),
            annotations: (!d.annotations().is_empty()).then(|| d.annotations()),
            artifact_type: None,
        }
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct OutManifest<'a> {
    schema_version: u32,
    media_type: &'static str,
    config: OutDescriptor<'a>,
    layers: Vec<OutDescriptor<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    annotations: Option<&'a BTreeMap<String, String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    subject: Option<OutDescriptor<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    artifact_type: Option<&'a str>,
}

fn to_json(value: &impl Serialize) -> Vec<u8> {
    serde_json::to_vec(value).expect("strings and numbers always serialize")
}

/// The `.sig`/`.att` manifest after adding `new` to `existing` (the manifest now at the tag,
/// if any): existing layers are kept as they are, in order, and `new` goes last.
pub fn append_layer(
    existing: Option<&ImageManifest>,
    kind: Attachment,
    new: &NewLayer,
) -> Result<AttachmentManifest, AttachError> {
    let old = existing.map_or(&[][..], ImageManifest::layers);
    for (index, d) in old.iter().enumerate() {
        if d.media_type().as_str() != kind.layer_media_type() {
            return Err(AttachError::ForeignLayer {
                tag: kind.suffix(),
                index,
                media_type: d.media_type().to_string(),
                expected: kind.layer_media_type(),
            });
        }
    }
    if old.len() >= MAX_LAYERS {
        return Err(AttachError::Full {
            tag: kind.suffix(),
            count: old.len(),
        });
    }
    let mut layers: Vec<OutDescriptor<'_>> = old.iter().map(OutDescriptor::of).collect();
    layers.push(OutDescriptor {
        media_type: kind.layer_media_type(),
        size: new.bytes.len() as u64,
        digest: new.digest.to_string(),
        annotations: (!new.annotations.is_empty()).then_some(&new.annotations),
        artifact_type: None,
    });
    let diff_ids: Vec<String> = layers.iter().map(|l| l.digest.clone()).collect();
    let config = legacy_config(&diff_ids);
    let count = layers.len();
    let manifest = OutManifest {
        schema_version: 2,
        media_type: MediaType::OCI_MANIFEST,
        config: OutDescriptor {
            media_type: OCI_CONFIG_MEDIA_TYPE,
            size: config.len() as u64,
            digest: Digest::sha256(&config).to_string(),
            annotations: None,
            artifact_type: None,
        },
        layers,
        annotations: None,
        subject: None,
        artifact_type: None,
    };
    Ok(AttachmentManifest {
        manifest: to_json(&manifest),
        config,
        layers: count,
    })
}

/// go-containerregistry's config for an `empty.Image` with these layers appended (what
/// cosign 2.5.0 uploads with every `.sig`/`.att` manifest); `diff_ids` are `sha256:<hex>`.
pub fn legacy_config(diff_ids: &[String]) -> Vec<u8> {
    let history = vec![r#"{"created":"0001-01-01T00:00:00Z"}"#; diff_ids.len()].join(",");
    let ids = diff_ids
        .iter()
        .map(|d| format!("\"{d}\""))
        .collect::<Vec<_>>()
        .join(",");
    format!(
        r#"{{"architecture":"","created":"0001-01-01T00:00:00Z","history":[{history}],"os":"","rootfs":{{"type":"layers","diff_ids":[{ids}]}},"config":{{}}}}"#
    )
    .into_bytes()
}

/// The manifest a referrer points at: what `subject` says.
#[derive(Clone, Copy, Debug)]
pub struct Subject<'a> {
    /// The image manifest's media type.
    pub media_type: &'a MediaType,
    /// Its digest.
    pub digest: &'a Digest,
    /// Its size in bytes.
    pub size: u64,
}

/// The OCI 1.1 referrer manifest cosign v3 writes for a Sigstore bundle (`bundle`, already
/// uploaded as a blob) about `subject`, with `predicate_type` and `created` (RFC 3339 UTC,
/// seconds, e.g. `2026-11-27T11:01:57Z`) in its annotations. Upload [`EMPTY_CONFIG`] too.
pub fn referrer_manifest(
    subject: Subject<'_>,
    bundle: &[u8],
    predicate_type: &str,
    created: &str,
) -> Vec<u8> {
    let annotations: BTreeMap<String, String> = [
        (BUNDLE_CONTENT_ANNOTATION, "dsse-envelope"),
        (BUNDLE_PREDICATE_TYPE_ANNOTATION, predicate_type),
        (CREATED_ANNOTATION, created),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    let manifest = OutManifest {
        schema_version: 2,
        media_type: MediaType::OCI_MANIFEST,
        config: OutDescriptor {
            media_type: MediaType::OCI_EMPTY,
            size: EMPTY_CONFIG.len() as u64,
            digest: Digest::sha256(EMPTY_CONFIG).to_string(),
            annotations: None,
            artifact_type: Some(BUNDLE_V0_3_MEDIA_TYPE),
        },
        layers: vec![OutDescriptor {
            media_type: BUNDLE_V0_3_MEDIA_TYPE,
            size: bundle.len() as u64,
            digest: Digest::sha256(bundle).to_string(),
            annotations: None,
            artifact_type: None,
        }],
        annotations: Some(&annotations),
        subject: Some(OutDescriptor {
            media_type: subject.media_type.as_str(),
            size: subject.size,
            digest: subject.digest.to_string(),
            annotations: None,
            artifact_type: None,
        }),
        artifact_type: Some(BUNDLE_V0_3_MEDIA_TYPE),
    };
    to_json(&manifest)
}
