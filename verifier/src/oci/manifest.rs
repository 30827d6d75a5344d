//! OCI image manifests and image indexes (and their Docker v2 schema 2 equivalents), parsed
//! strictly from bytes.
//!
//! This module owns the shape checks of image-spec `manifest.md` and `image-index.md`: input
//! at most [`MAX_MANIFEST_SIZE`] bytes, `schemaVersion` 2, a `mediaType` (if the document has
//! one) equal to what the referring descriptor says, `config` + `layers` for a manifest and
//! `manifests` for an index but never both (the ambiguity the spec warns about), and every
//! descriptor valid ([`super::descriptor`]). Unknown properties are ignored, as the spec
//! requires; duplicate properties are refused.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::descriptor::{Descriptor, DescriptorError, MediaType, RawDescriptor};

/// Largest manifest or index read: 4 MiB, what registries accept.
pub const MAX_MANIFEST_SIZE: u64 = 4 << 20;

/// Why a manifest or index is not acceptable.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ManifestError {
    /// Larger than [`MAX_MANIFEST_SIZE`].
    #[error("{size} bytes is larger than the {limit}-byte limit for manifests and indexes")]
    TooLarge {
        /// Bytes given (or at least this many).
        size: u64,
        /// The limit.
        limit: u64,
    },
    /// Not JSON of the expected shape.
    #[error("not a valid manifest or index: {0}")]
    Json(String),
    /// `schemaVersion` is not 2.
    #[error("schemaVersion is {0}, expected 2")]
    SchemaVersion(i64),
    /// The document's own `mediaType` disagrees with the descriptor that points at it.
    #[error("mediaType is {found:?} but it is referenced as {expected:?}")]
    MediaTypeMismatch {
        /// What the referring descriptor says.
        expected: String,
        /// What the document says.
        found: String,
    },
    /// A required property is absent.
    #[error("{0} is missing")]
    Missing(&'static str),
    /// A property of the other kind of document is present (an index with `layers`, ...).
    #[error("{field} must not appear in {kind}")]
    Unexpected {
        /// The property.
        field: &'static str,
        /// `an image manifest` or `an image index`.
        kind: &'static str,
    },
    /// A descriptor inside is invalid.
    #[error("{field}: {err}")]
    Descriptor {
        /// Where, e.g. `layers[2]`.
        field: String,
        /// What is wrong.
        err: DescriptorError,
    },
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawDocument {
    schema_version: i64,
    #[serde(default)]
    media_type: Option<String>,
    #[serde(default)]
    artifact_type: Option<String>,
    #[serde(default)]
    config: Option<RawDescriptor>,
    #[serde(default)]
    layers: Option<Vec<RawDescriptor>>,
    #[serde(default)]
    manifests: Option<Vec<RawDescriptor>>,
    #[serde(default)]
    subject: Option<RawDescriptor>,
    #[serde(default)]
    annotations: Option<BTreeMap<String, String>>,
}

impl RawDocument {
    fn parse(bytes: &[u8], expected: Option<&MediaType>) -> Result<Self, ManifestError> {
        if bytes.len() as u64 > MAX_MANIFEST_SIZE {
            return Err(ManifestError::TooLarge {
                size: bytes.len() as u64,
                limit: MAX_MANIFEST_SIZE,
            });
        }
        let doc: Self =
            serde_json::from_slice(bytes).map_err(|e| ManifestError::Json(e.to_string()))?;
        if doc.schema_version != 2 {
            return Err(ManifestError::SchemaVersion(doc.schema_version));
        }
        if let (Some(expected), Some(found)) = (expected, &doc.media_type)
            && expected.as_str() != found
        {
            return Err(ManifestError::MediaTypeMismatch {
                expected: expected.to_string(),
                found: found.chars().take(255).collect(),
            });
        }
        Ok(doc)
    }
}

fn descriptor(raw: RawDescriptor, field: impl Into<String>) -> Result<Descriptor, ManifestError> {
    Descriptor::from_raw(raw).map_err(|err| ManifestError::Descriptor {
        field: field.into(),
        err,
    })
}

fn media_type(raw: Option<String>, field: &str) -> Result<Option<MediaType>, ManifestError> {
    raw.as_deref()
        .map(MediaType::parse)
        .transpose()
        .map_err(|err| ManifestError::Descriptor {
            field: field.to_owned(),
            err,
        })
}

/// An image manifest: a config and layers (OCI or Docker v2 schema 2).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImageManifest {
    media_type: Option<MediaType>,
    artifact_type: Option<MediaType>,
    config: Descriptor,
    layers: Vec<Descriptor>,
    subject: Option<Descriptor>,
    annotations: BTreeMap<String, String>,
}

impl ImageManifest {
    /// Parses a manifest; `expected` is the media type of the descriptor pointing at it.
    pub fn parse(bytes: &[u8], expected: Option<&MediaType>) -> Result<Self, ManifestError> {
        let doc = RawDocument::parse(bytes, expected)?;
        let kind = "an image manifest";
        if doc.manifests.is_some() {
            return Err(ManifestError::Unexpected {
                field: "manifests",
                kind,
            });
        }
        let config = descriptor(
            doc.config.ok_or(ManifestError::Missing("config"))?,
            "config",
        )?;
        let layers = doc
            .layers
            .ok_or(ManifestError::Missing("layers"))?
            .into_iter()
            .enumerate()
            .map(|(i, raw)| descriptor(raw, format!("layers[{i}]")))
            .collect::<Result<_, _>>()?;
        Ok(Self {
            media_type: media_type(doc.media_type, "mediaType")?,
            artifact_type: media_type(doc.artifact_type, "artifactType")?,
            config,
            layers,
            subject: doc.subject.map(|s| descriptor(s, "subject")).transpose()?,
            annotations: doc.annotations.unwrap_or_default(),
        })
    }

    /// The document's own `mediaType`, if it has one.
    pub fn media_type(&self) -> Option<&MediaType> {
        self.media_type.as_ref()
    }

    /// The artifact type, for artifacts.
    pub fn artifact_type(&self) -> Option<&MediaType> {
        self.artifact_type.as_ref()
    }

    /// The config blob.
    pub fn config(&self) -> &Descriptor {
        &self.config
    }

    /// The layers, in order.
    pub fn layers(&self) -> &[Descriptor] {
        &self.layers
    }

    /// The manifest this one refers to (signatures, SBOMs: OCI 1.1 referrers).
    pub fn subject(&self) -> Option<&Descriptor> {
        self.subject.as_ref()
    }

    /// Annotations (empty if none).
    pub fn annotations(&self) -> &BTreeMap<String, String> {
        &self.annotations
    }
}

/// An image index: a list of manifests (OCI, Docker manifest list, or a layout's
/// `index.json`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImageIndex {
    media_type: Option<MediaType>,
    artifact_type: Option<MediaType>,
    manifests: Vec<Descriptor>,
    subject: Option<Descriptor>,
    annotations: BTreeMap<String, String>,
}

impl ImageIndex {
    /// Parses an index; `expected` is the media type of the descriptor pointing at it (`None`
    /// for a layout's `index.json`).
    pub fn parse(bytes: &[u8], expected: Option<&MediaType>) -> Result<Self, ManifestError> {
        let doc = RawDocument::parse(bytes, expected)?;
        let kind = "an image index";
        if doc.config.is_some() {
            return Err(ManifestError::Unexpected {
                field: "config",
                kind,
            });
        }
        if doc.layers.is_some() {
            return Err(ManifestError::Unexpected {
                field: "layers",
                kind,
            });
        }
        let media = media_type(doc.media_type, "mediaType")?;
        if let Some(m) = &media
            && !m.is_index()
        {
            return Err(ManifestError::MediaTypeMismatch {
                expected: MediaType::OCI_INDEX.to_owned(),
                found: m.to_string(),
            });
        }
        let manifests = doc
            .manifests
            .ok_or(ManifestError::Missing("manifests"))?
            .into_iter()
            .enumerate()
            .map(|(i, raw)| descriptor(raw, format!("manifests[{i}]")))
            .collect::<Result<_, _>>()?;
        Ok(Self {
            media_type: media,
            artifact_type: media_type(doc.artifact_type, "artifactType")?,
            manifests,
            subject: doc.subject.map(|s| descriptor(s, "subject")).transpose()?,
            annotations: doc.annotations.unwrap_or_default(),
        })
    }

    /// The document's own `mediaType`, if it has one.
    pub fn media_type(&self) -> Option<&MediaType> {
        self.media_type.as_ref()
    }

    /// The artifact type, for artifacts.
    pub fn artifact_type(&self) -> Option<&MediaType> {
        self.artifact_type.as_ref()
    }

    /// The manifests listed, in order.
    pub fn manifests(&self) -> &[Descriptor] {
        &self.manifests
    }

    /// The manifest this index refers to, if any.
    pub fn subject(&self) -> Option<&Descriptor> {
        self.subject.as_ref()
    }

    /// Annotations (empty if none).
    pub fn annotations(&self) -> &BTreeMap<String, String> {
        &self.annotations
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const EMPTY: &str = r#"{"mediaType":"application/vnd.oci.empty.v1+json","digest":"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a","size":2}"#;

    fn manifest_json(extra: &str) -> String {
        format!(
            r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{EMPTY},"layers":[{EMPTY}]{extra}}}"#
        )
    }

    #[test]
    fn parses_a_manifest() {
        let m = ImageManifest::parse(manifest_json("").as_bytes(), None).unwrap();
        assert_eq!(m.layers().len(), 1);
        assert_eq!(m.config().size(), 2);
        let expected = MediaType::parse(MediaType::OCI_MANIFEST).unwrap();
        assert!(ImageManifest::parse(manifest_json("").as_bytes(), Some(&expected)).is_ok());
    }

    #[test]
    fn refuses_confusion_and_bad_shapes() {
        let docker = MediaType::parse(MediaType::DOCKER_MANIFEST).unwrap();
        assert!(matches!(
            ImageManifest::parse(manifest_json("").as_bytes(), Some(&docker)),
            Err(ManifestError::MediaTypeMismatch { .. })
        ));
        let both = manifest_json(r#","manifests":[]"#);
        assert!(matches!(
            ImageManifest::parse(both.as_bytes(), None),
            Err(ManifestError::Unexpected { .. })
        ));
        assert!(ImageIndex::parse(both.as_bytes(), None).is_err());
        let v1 = manifest_json("").replace("\"schemaVersion\":2", "\"schemaVersion\":1");
        assert!(matches!(
            ImageManifest::parse(v1.as_bytes(), None),
            Err(ManifestError::SchemaVersion(1))
        ));
        let dup = manifest_json(r#","schemaVersion":2"#);
        assert!(matches!(
            ImageManifest::parse(dup.as_bytes(), None),
            Err(ManifestError::Json(_))
        ));
        let bad_layer =
            manifest_json("").replace("\"size\":2}]", "\"size\":2,\"mediaType\":\"x\"}]");
        assert!(ImageManifest::parse(bad_layer.as_bytes(), None).is_err());
        let sha512 = manifest_json("").replacen(
            "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a",
            &format!("sha512:{}", "a".repeat(128)),
            2,
        );
        let err = ImageManifest::parse(sha512.as_bytes(), None)
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("config: ") && err.contains("sha512"),
            "{err}"
        );
    }

    #[test]
    fn size_bound() {
        let pad = " ".repeat(MAX_MANIFEST_SIZE as usize);
        let big = format!("{}{pad}", manifest_json(""));
        assert!(matches!(
            ImageManifest::parse(big.as_bytes(), None),
            Err(ManifestError::TooLarge { .. })
        ));
    }

    #[test]
    fn parses_an_index() {
        let idx = format!(
            r#"{{"schemaVersion":2,"manifests":[{}]}}"#,
            EMPTY.replace("vnd.oci.empty.v1+json", "vnd.oci.image.manifest.v1+json")
        );
        let i = ImageIndex::parse(idx.as_bytes(), None).unwrap();
        assert!(i.manifests()[0].media_type().is_image_manifest());
        assert!(matches!(
            ImageIndex::parse(br#"{"schemaVersion":2}"#, None),
            Err(ManifestError::Missing("manifests"))
        ));
    }
}
