//! Signature manifests in an OCI registry or layout (specification "OCI Signatures"): an OCI
//! image manifest whose single layer is the envelope, with `subject` = the signed manifest.
//!
//! Written (notation ≥ 1.3 form): `artifactType: application/vnd.cncf.notary.signature`, the
//! empty config `application/vnd.oci.empty.v1+json` (`{}`), the annotation
//! `io.cncf.notary.x509chain.thumbprint#S256` (JSON array of lowercase SHA-256 hex fingerprints
//! of the chain, leaf first) and `org.opencontainers.image.created`. Read: that form and the
//! legacy one without `artifactType` whose `config.mediaType` is
//! `application/vnd.cncf.notary.signature`. Manifests are at most [`MAX_MANIFEST_SIZE`] bytes.

use std::collections::BTreeMap;
use std::time::SystemTime;

use serde::{Deserialize, Serialize};

use crate::x509::Certificate;

use super::envelope::{Descriptor, EnvelopeFormat};
use super::{ARTIFACT_TYPE, DigestAlgorithm, NotationError};

/// Largest signature manifest read: 4 MiB (notation's limit).
pub const MAX_MANIFEST_SIZE: usize = 4 << 20;
/// The OCI image manifest media type.
pub const OCI_MANIFEST_MEDIA_TYPE: &str = "application/vnd.oci.image.manifest.v1+json";
/// The empty config media type.
pub const EMPTY_CONFIG_MEDIA_TYPE: &str = "application/vnd.oci.empty.v1+json";
/// Digest of the empty config `{}`.
pub const EMPTY_CONFIG_DIGEST: &str =
    "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a";
/// The thumbprint annotation.
pub const ANNOTATION_THUMBPRINT: &str = "io.cncf.notary.x509chain.thumbprint#S256";
/// The creation time annotation.
pub const ANNOTATION_CREATED: &str = "org.opencontainers.image.created";

/// A config or layer descriptor of the manifest.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlobDescriptor {
    /// `mediaType`.
    #[serde(rename = "mediaType")]
    pub media_type: String,
    /// `digest`.
    pub digest: String,
    /// `size`.
    pub size: u64,
    /// `data` (inline base64; the empty config carries `e30=`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<String>,
}

/// A Notary signature manifest.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignatureManifest {
    /// Always 2.
    #[serde(rename = "schemaVersion")]
    pub schema_version: u32,
    /// Always the OCI image manifest type.
    #[serde(rename = "mediaType")]
    pub media_type: String,
    /// `application/vnd.cncf.notary.signature`, or absent in the legacy form.
    #[serde(
        rename = "artifactType",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub artifact_type: Option<String>,
    /// The config.
    pub config: BlobDescriptor,
    /// Exactly one layer: the envelope.
    pub layers: Vec<BlobDescriptor>,
    /// The signed manifest.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<Descriptor>,
    /// Annotations.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

fn merr(detail: impl Into<String>) -> NotationError {
    NotationError::Manifest {
        detail: detail.into(),
    }
}

/// The thumbprint annotation value for a chain: `["<hex>",...]`.
pub fn thumbprints(chain: &[Certificate]) -> String {
    let prints: Vec<String> = chain.iter().map(|c| c.sha256_fingerprint().hex()).collect();
    serde_json::to_string(&prints).unwrap_or_default()
}

impl SignatureManifest {
    /// The manifest for an envelope over `subject`.
    pub fn new(
        format: EnvelopeFormat,
        envelope: &[u8],
        subject: &Descriptor,
        chain: &[Certificate],
        created: SystemTime,
    ) -> Self {
        let mut annotations = BTreeMap::new();
        annotations.insert(ANNOTATION_THUMBPRINT.to_owned(), thumbprints(chain));
        annotations.insert(
            ANNOTATION_CREATED.to_owned(),
            super::format_rfc3339(created),
        );
        let subject = Descriptor {
            annotations: BTreeMap::new(),
            ..subject.clone()
        };
        Self {
            schema_version: 2,
            media_type: OCI_MANIFEST_MEDIA_TYPE.to_owned(),
            artifact_type: Some(ARTIFACT_TYPE.to_owned()),
            config: BlobDescriptor {
                media_type: EMPTY_CONFIG_MEDIA_TYPE.to_owned(),
                digest: EMPTY_CONFIG_DIGEST.to_owned(),
                size: 2,
                data: Some("e30=".to_owned()),
            },
            layers: vec![BlobDescriptor {
                media_type: format.media_type().to_owned(),
                digest: DigestAlgorithm::Sha256.oci_digest(envelope),
                size: u64::try_from(envelope.len()).unwrap_or(u64::MAX),
                data: None,
            }],
            subject: Some(subject),
            annotations,
        }
    }

    /// The manifest JSON (compact).
    pub fn to_bytes(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// Parses a manifest and checks that it is a Notary signature manifest (either form).
    pub fn parse(bytes: &[u8]) -> Result<Self, NotationError> {
        if bytes.len() > MAX_MANIFEST_SIZE {
            return Err(NotationError::TooLarge {
                what: "signature manifest".into(),
                size: bytes.len(),
                max: MAX_MANIFEST_SIZE,
            });
        }
        let m: Self = serde_json::from_slice(bytes)
            .map_err(|e| merr(format!("not an OCI image manifest: {e}")))?;
        if m.media_type != OCI_MANIFEST_MEDIA_TYPE {
            return Err(merr(format!(
                "mediaType {:?} is not {OCI_MANIFEST_MEDIA_TYPE}",
                m.media_type
            )));
        }
        match m.artifact_type.as_deref() {
            Some(ARTIFACT_TYPE) if m.config.media_type == EMPTY_CONFIG_MEDIA_TYPE => {}
            Some(ARTIFACT_TYPE) => {
                return Err(merr(format!(
                    "artifactType is {ARTIFACT_TYPE} but config.mediaType is {:?}, not \
                     {EMPTY_CONFIG_MEDIA_TYPE}",
                    m.config.media_type
                )));
            }
            Some(other) => {
                return Err(merr(format!(
                    "artifactType {other:?} is not {ARTIFACT_TYPE}"
                )));
            }
            None if m.config.media_type == ARTIFACT_TYPE => {}
            None => {
                return Err(merr(format!(
                    "neither artifactType nor config.mediaType is {ARTIFACT_TYPE}"
                )));
            }
        }
        if m.layers.len() != 1 {
            return Err(merr(format!(
                "{} layers; a signature manifest has exactly one (the envelope)",
                m.layers.len()
            )));
        }
        Ok(m)
    }

    /// Whether `bytes` is a signature manifest (for filtering referrers).
    pub fn is_signature_manifest(bytes: &[u8]) -> bool {
        Self::parse(bytes).is_ok()
    }

    /// The envelope layer (`None` only for a manifest not made by [`SignatureManifest::parse`]
    /// or [`SignatureManifest::new`]).
    pub fn envelope_layer(&self) -> Option<&BlobDescriptor> {
        match self.layers.as_slice() {
            [one] => Some(one),
            _ => None,
        }
    }

    fn layer(&self) -> Result<&BlobDescriptor, NotationError> {
        self.envelope_layer()
            .ok_or_else(|| merr("a signature manifest has exactly one layer"))
    }

    /// The envelope format of the layer.
    pub fn envelope_format(&self) -> Result<EnvelopeFormat, NotationError> {
        let layer = self.layer()?;
        EnvelopeFormat::from_media_type(&layer.media_type).ok_or_else(|| {
            merr(format!(
                "layer media type {:?} is not application/jose+json or application/cose",
                layer.media_type
            ))
        })
    }

    /// Checks that envelope bytes fetched for the layer match its digest and size.
    pub fn check_envelope(&self, envelope: &[u8]) -> Result<(), NotationError> {
        let layer = self.layer()?;
        let size_ok = u64::try_from(envelope.len()).is_ok_and(|n| n == layer.size);
        let alg = layer
            .digest
            .split_once(':')
            .and_then(|(a, _)| DigestAlgorithm::from_name(a))
            .ok_or_else(|| {
                merr(format!(
                    "layer digest {:?} is not sha256/384/512",
                    layer.digest
                ))
            })?;
        if !size_ok || alg.oci_digest(envelope) != layer.digest {
            return Err(merr(
                "the envelope blob does not match the layer's digest and size",
            ));
        }
        Ok(())
    }

    /// The fingerprints in the thumbprint annotation, if present and well-formed.
    pub fn thumbprints(&self) -> Option<Vec<String>> {
        serde_json::from_str(self.annotations.get(ANNOTATION_THUMBPRINT)?).ok()
    }
}

/// The referrers tag schema tag of a digest (distribution-spec "Referrers Tag Schema"):
/// `<alg>-<hex>`, the algorithm truncated to 32 and the encoded part to 64 characters, every
/// character outside `[a-zA-Z0-9_.-]` replaced by `-`. Used when a registry has no referrers
/// API.
pub fn referrers_tag(digest: &str) -> String {
    let (alg, encoded) = digest.split_once(':').unwrap_or((digest, ""));
    let clean = |s: &str, max: usize| -> String {
        s.chars()
            .take(max)
            .map(|c| {
                if c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-') {
                    c
                } else {
                    '-'
                }
            })
            .collect()
    };
    format!("{}-{}", clean(alg, 32), clean(encoded, 64))
}

/// Whether an entry of a referrers index (or a manifest's `artifactType` / `config.mediaType`)
/// names a Notary signature: `artifactType` is the Notary type, or (legacy) absent with the
/// Notary config media type.
pub fn is_signature_referrer(artifact_type: Option<&str>, config_media_type: Option<&str>) -> bool {
    match artifact_type {
        Some(t) => t == ARTIFACT_TYPE,
        None => config_media_type == Some(ARTIFACT_TYPE),
    }
}
