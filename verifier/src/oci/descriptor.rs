//! OCI content descriptors: [`MediaType`], [`Descriptor`] and [`Platform`].
//!
//! This module owns what a descriptor may say (image-spec `descriptor.md`): a media type in
//! RFC 6838 form, a digest tollgate can check (`sha256:` and 64 lowercase hex digits; `sha512`
//! is refused as unsupported, anything else as unknown), a size that is a non-negative int64,
//! and, if present, embedded `data` that must match both. Descriptors are only built by
//! parsing, so a [`Descriptor`] in hand is always one whose blob name is plain hex.

use std::collections::BTreeMap;
use std::fmt;

use base64::Engine as _;
use serde::Deserialize;

use crate::digest::{Digest, HashAlgorithm};

/// Longest media type accepted (type and subtype are at most 127 characters each).
const MAX_MEDIA_TYPE: usize = 255;

/// Why a descriptor (or a media type inside one) is not acceptable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DescriptorError {
    /// The media type is not `type/subtype` in RFC 6838 characters.
    #[error("media type {0:?} is not of the form type/subtype")]
    MediaType(String),
    /// The digest does not look like `algorithm:encoded`.
    #[error("digest {0:?} is not of the form algorithm:encoded")]
    DigestSyntax(String),
    /// A registered algorithm tollgate does not compute yet.
    #[error("digest {0:?} uses sha512, which tollgate does not support yet (only sha256)")]
    Sha512Unsupported(String),
    /// An algorithm the image spec does not register.
    #[error("digest {0:?} uses an unknown algorithm (only sha256 is supported)")]
    UnknownAlgorithm(String),
    /// The encoded part is not lowercase hex of the algorithm's length.
    #[error("digest {0:?} must be sha256: followed by 64 lowercase hex digits")]
    DigestEncoding(String),
    /// The size is larger than the int64 the spec allows.
    #[error("size {0} is larger than the int64 maximum")]
    Size(u64),
    /// Embedded `data` is not base64 or does not match the digest and size.
    #[error("embedded data of {digest} {what}")]
    Data {
        /// The descriptor's digest.
        digest: String,
        /// What is wrong, e.g. `is not base64`.
        what: String,
    },
}

/// A media type such as `application/vnd.oci.image.manifest.v1+json`.
///
/// Checked against the image spec's grammar: `type/subtype`, each part starting with an
/// alphanumeric and made of `A-Za-z0-9!#$&^_.+-`, at most 127 characters each.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MediaType(String);

impl MediaType {
    /// OCI image manifest.
    pub const OCI_MANIFEST: &'static str = "application/vnd.oci.image.manifest.v1+json";
    /// OCI image index.
    pub const OCI_INDEX: &'static str = "application/vnd.oci.image.index.v1+json";
    /// Docker image manifest v2 schema 2.
    pub const DOCKER_MANIFEST: &'static str =
        "application/vnd.docker.distribution.manifest.v2+json";
    /// Docker manifest list v2 schema 2.
    pub const DOCKER_MANIFEST_LIST: &'static str =
        "application/vnd.docker.distribution.manifest.list.v2+json";
    /// The empty descriptor's media type (`{}`).
    pub const OCI_EMPTY: &'static str = "application/vnd.oci.empty.v1+json";

    /// Parses and validates a media type.
    pub fn parse(s: &str) -> Result<Self, DescriptorError> {
        let bad = || DescriptorError::MediaType(s.chars().take(MAX_MEDIA_TYPE).collect());
        let (ty, sub) = s.split_once('/').ok_or_else(bad)?;
        let part_ok = |p: &str| {
            (1..=127).contains(&p.len())
                && p.as_bytes()[0].is_ascii_alphanumeric()
                && p.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"!#$&^_.+-".contains(&b))
        };
        if part_ok(ty) && part_ok(sub) {
            Ok(Self(s.to_owned()))
        } else {
            Err(bad())
        }
    }

    /// The media type text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// An image manifest (OCI or Docker v2 schema 2).
    pub fn is_image_manifest(&self) -> bool {
        self.0 == Self::OCI_MANIFEST || self.0 == Self::DOCKER_MANIFEST
    }

    /// An image index (OCI or Docker manifest list).
    pub fn is_index(&self) -> bool {
        self.0 == Self::OCI_INDEX || self.0 == Self::DOCKER_MANIFEST_LIST
    }
}

impl fmt::Display for MediaType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Parses an OCI digest string: `sha256:<64 lowercase hex>`.
pub fn parse_digest(s: &str) -> Result<Digest, DescriptorError> {
    let shown = || s.chars().take(160).collect::<String>();
    let (alg, encoded) = s
        .split_once(':')
        .ok_or_else(|| DescriptorError::DigestSyntax(shown()))?;
    let alg_ok = !alg.is_empty()
        && alg
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"+._-".contains(&b));
    let enc_ok = !encoded.is_empty()
        && encoded
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"=_-".contains(&b));
    if !alg_ok || !enc_ok {
        return Err(DescriptorError::DigestSyntax(shown()));
    }
    match alg {
        "sha256" => {}
        "sha512" => return Err(DescriptorError::Sha512Unsupported(shown())),
        _ => return Err(DescriptorError::UnknownAlgorithm(shown())),
    }
    let lower_hex = encoded.len() == 64
        && encoded
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
    if !lower_hex {
        return Err(DescriptorError::DigestEncoding(shown()));
    }
    Digest::from_hex(HashAlgorithm::Sha256, encoded)
        .map_err(|_| DescriptorError::DigestEncoding(shown()))
}

/// The platform an image in an index runs on.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, serde::Serialize)]
pub struct Platform {
    /// CPU architecture, e.g. `amd64`.
    pub architecture: String,
    /// Operating system, e.g. `linux`.
    pub os: String,
    /// Operating system version.
    #[serde(
        rename = "os.version",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub os_version: Option<String>,
    /// Required operating system features.
    #[serde(rename = "os.features", default, skip_serializing_if = "Vec::is_empty")]
    pub os_features: Vec<String>,
    /// CPU variant, e.g. `v8`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
}

/// A descriptor as it appears in JSON; validated into [`Descriptor`].
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct RawDescriptor {
    media_type: String,
    digest: String,
    size: u64,
    #[serde(default)]
    annotations: Option<BTreeMap<String, String>>,
    #[serde(default)]
    platform: Option<Platform>,
    #[serde(default)]
    artifact_type: Option<String>,
    #[serde(default)]
    data: Option<String>,
}

/// A validated content descriptor: what a blob is, its digest and its size.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Descriptor {
    media_type: MediaType,
    digest: Digest,
    size: u64,
    annotations: BTreeMap<String, String>,
    platform: Option<Platform>,
    artifact_type: Option<MediaType>,
}

impl Descriptor {
    /// Validates a raw descriptor.
    pub(super) fn from_raw(raw: RawDescriptor) -> Result<Self, DescriptorError> {
        let media_type = MediaType::parse(&raw.media_type)?;
        let digest = parse_digest(&raw.digest)?;
        if raw.size > i64::MAX as u64 {
            return Err(DescriptorError::Size(raw.size));
        }
        let artifact_type = raw
            .artifact_type
            .as_deref()
            .map(MediaType::parse)
            .transpose()?;
        if let Some(data) = &raw.data {
            let data_err = |what: String| DescriptorError::Data {
                digest: digest.to_string(),
                what,
            };
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(data)
                .map_err(|_| data_err("is not base64".into()))?;
            if bytes.len() as u64 != raw.size {
                return Err(data_err(format!(
                    "is {} bytes, the descriptor says {}",
                    bytes.len(),
                    raw.size
                )));
            }
            let actual = Digest::sha256(&bytes);
            if actual != digest {
                return Err(data_err(format!("has digest {actual}")));
            }
        }
        Ok(Self {
            media_type,
            digest,
            size: raw.size,
            annotations: raw.annotations.unwrap_or_default(),
            platform: raw.platform,
            artifact_type,
        })
    }

    /// The content's media type.
    pub fn media_type(&self) -> &MediaType {
        &self.media_type
    }

    /// The content's digest (always SHA-256 today).
    pub fn digest(&self) -> &Digest {
        &self.digest
    }

    /// The content's size in bytes.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Annotations (empty if none).
    pub fn annotations(&self) -> &BTreeMap<String, String> {
        &self.annotations
    }

    /// The platform, for manifests listed in an index.
    pub fn platform(&self) -> Option<&Platform> {
        self.platform.as_ref()
    }

    /// The artifact type, for manifests of artifacts.
    pub fn artifact_type(&self) -> Option<&MediaType> {
        self.artifact_type.as_ref()
    }

    /// The `org.opencontainers.image.ref.name` annotation: the tag in an image layout.
    pub fn ref_name(&self) -> Option<&str> {
        self.annotations
            .get(super::REF_NAME_ANNOTATION)
            .map(String::as_str)
    }

    /// The blob's path relative to a layout root: `blobs/<algorithm>/<hex>`.
    pub fn blob_path(&self) -> String {
        format!("blobs/{}/{}", self.digest.algorithm(), self.digest.hex())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(json: &str) -> Result<Descriptor, DescriptorError> {
        Descriptor::from_raw(serde_json::from_str(json).unwrap())
    }

    #[test]
    fn media_types() {
        for ok in [
            MediaType::OCI_MANIFEST,
            "application/x-test",
            "text/plain",
            MediaType::DOCKER_MANIFEST_LIST,
        ] {
            assert!(MediaType::parse(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "application",
            "/x",
            "a/",
            "a/b/c",
            "a b/c",
            "-a/b",
            "a/b;charset=x",
        ] {
            assert!(MediaType::parse(bad).is_err(), "{bad:?}");
        }
        assert!(MediaType::parse(&format!("a/{}", "b".repeat(128))).is_err());
    }

    #[test]
    fn digests_are_strict() {
        let hex = "a".repeat(64);
        assert!(parse_digest(&format!("sha256:{hex}")).is_ok());
        assert!(matches!(
            parse_digest(&format!("sha256:{}", "A".repeat(64))),
            Err(DescriptorError::DigestEncoding(_))
        ));
        assert!(matches!(
            parse_digest(&format!("sha512:{}", "a".repeat(128))),
            Err(DescriptorError::Sha512Unsupported(_))
        ));
        assert!(matches!(
            parse_digest("md5:abcd"),
            Err(DescriptorError::UnknownAlgorithm(_))
        ));
        for bad in [
            "sha256:../../etc/passwd".to_owned(),
            format!("sha256:{}/x", &hex[..60]),
            format!("sha256:{}", &hex[..63]),
            hex.clone(),
            format!("../sha256:{hex}"),
        ] {
            assert!(parse_digest(&bad).is_err(), "{bad}");
        }
        let err = parse_digest("sha512:abc").unwrap_err().to_string();
        assert!(
            err.contains("sha512") && err.contains("not support"),
            "{err}"
        );
    }

    #[test]
    fn embedded_data_must_match() {
        let ok = r#"{"mediaType":"application/vnd.oci.empty.v1+json","digest":"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a","size":2,"data":"e30="}"#;
        assert_eq!(raw(ok).unwrap().size(), 2);
        let wrong = ok.replace("e30=", "e319");
        assert!(matches!(raw(&wrong), Err(DescriptorError::Data { .. })));
        let bad_size = ok.replace("\"size\":2", "\"size\":3");
        assert!(matches!(raw(&bad_size), Err(DescriptorError::Data { .. })));
        let negative: Result<RawDescriptor, _> =
            serde_json::from_str(&ok.replace("\"size\":2", "\"size\":-1"));
        assert!(negative.is_err());
    }
}
