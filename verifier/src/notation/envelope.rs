//! What a Notation envelope signs, independent of its encoding: the payload (a descriptor of the
//! target artifact), the signed attributes (signing scheme, times, extended attributes), the
//! certificate chain and the signature, with the integrity rules common to JWS and COSE.
//!
//! [`Envelope::parse`] reads either format and enforces the header rules of the
//! specification ("Signature Envelope", "crit" and the signing schemes); [`Envelope::verify_integrity`]
//! then binds the algorithm to the signing key, checks the signature over the exact received
//! bytes and applies the Notary chain rules ([`super::x509`]).

use std::collections::BTreeMap;
use std::path::Path;
use std::time::SystemTime;

use serde::{Deserialize, Serialize};

use crate::x509::Certificate;

use super::{MAX_ENVELOPE_SIZE, MAX_PAYLOAD_SIZE, NotationError, SignatureAlgorithm, alg};

/// `io.cncf.notary.signingScheme`.
pub const HEADER_SIGNING_SCHEME: &str = "io.cncf.notary.signingScheme";
/// `io.cncf.notary.signingTime` (untrusted, `notary.x509`).
pub const HEADER_SIGNING_TIME: &str = "io.cncf.notary.signingTime";
/// `io.cncf.notary.authenticSigningTime` (`notary.x509.signingAuthority`).
pub const HEADER_AUTHENTIC_SIGNING_TIME: &str = "io.cncf.notary.authenticSigningTime";
/// `io.cncf.notary.expiry`.
pub const HEADER_EXPIRY: &str = "io.cncf.notary.expiry";
/// `io.cncf.notary.verificationPlugin`.
pub const HEADER_VERIFICATION_PLUGIN: &str = "io.cncf.notary.verificationPlugin";
/// `io.cncf.notary.verificationPluginMinVersion`.
pub const HEADER_VERIFICATION_PLUGIN_MIN_VERSION: &str =
    "io.cncf.notary.verificationPluginMinVersion";
/// Unprotected `io.cncf.notary.timestampSignature` (RFC 3161 TimeStampToken).
pub const HEADER_TIMESTAMP_SIGNATURE: &str = "io.cncf.notary.timestampSignature";
/// Unprotected `io.cncf.notary.signingAgent`.
pub const HEADER_SIGNING_AGENT: &str = "io.cncf.notary.signingAgent";

/// The two envelope encodings.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum EnvelopeFormat {
    /// JWS JSON flattened serialization, `application/jose+json`.
    Jws,
    /// COSE_Sign1_Tagged, `application/cose`.
    Cose,
}

impl EnvelopeFormat {
    /// The media type (signature manifest layer, `--signature-format` in notation).
    pub fn media_type(self) -> &'static str {
        match self {
            Self::Jws => super::MEDIA_TYPE_JWS,
            Self::Cose => super::MEDIA_TYPE_COSE,
        }
    }

    /// The format selected by a media type.
    pub fn from_media_type(media_type: &str) -> Option<Self> {
        match media_type {
            super::MEDIA_TYPE_JWS => Some(Self::Jws),
            super::MEDIA_TYPE_COSE => Some(Self::Cose),
            _ => None,
        }
    }

    /// `jws` or `cose`: the CLI name and the blob signature extension segment.
    pub fn name(self) -> &'static str {
        match self {
            Self::Jws => "jws",
            Self::Cose => "cose",
        }
    }

    /// Parses `jws` / `cose`.
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "jws" => Some(Self::Jws),
            "cose" => Some(Self::Cose),
            _ => None,
        }
    }

    fn label(self) -> &'static str {
        match self {
            Self::Jws => "JWS",
            Self::Cose => "COSE",
        }
    }

    /// The detached blob signature file name: `{blob file name}.{jws|cose}.sig`.
    pub fn blob_signature_name(self, blob_file_name: &str) -> String {
        format!("{blob_file_name}.{}.sig", self.name())
    }

    /// The format of a blob signature file from its name, which must end in `.jws.sig` or
    /// `.cose.sig` (as notation requires).
    pub fn from_signature_path(path: &Path) -> Result<Self, NotationError> {
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        let bad = |detail: &str| NotationError::malformed("blob signature", detail.to_owned());
        let stem = name.strip_suffix(".sig").ok_or_else(|| {
            bad("the signature file name must end in .jws.sig or .cose.sig (notation's naming)")
        })?;
        let (_, ext) = stem.rsplit_once('.').ok_or_else(|| {
            bad("the signature file name has no format segment; name it <blob>.jws.sig or <blob>.cose.sig")
        })?;
        Self::from_name(ext).ok_or_else(|| {
            bad("the signature format segment must be jws or cose (<blob>.jws.sig, <blob>.cose.sig)")
        })
    }
}

/// `io.cncf.notary.signingScheme`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SigningScheme {
    /// `notary.x509`: trust from `ca` stores, time from a TSA countersignature.
    X509,
    /// `notary.x509.signingAuthority`: trust from `signingAuthority` stores, authentic signing
    /// time asserted by the signing authority.
    X509SigningAuthority,
}

impl SigningScheme {
    /// The header value.
    pub fn name(self) -> &'static str {
        match self {
            Self::X509 => "notary.x509",
            Self::X509SigningAuthority => "notary.x509.signingAuthority",
        }
    }

    /// Parses the header value.
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "notary.x509" => Some(Self::X509),
            "notary.x509.signingAuthority" => Some(Self::X509SigningAuthority),
            _ => None,
        }
    }
}

/// An OCI descriptor as Notation signs it (`targetArtifact`).
///
/// Serialized in the order of the OCI `Descriptor` struct, as notation-go writes it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Descriptor {
    /// `mediaType`.
    #[serde(rename = "mediaType")]
    pub media_type: String,
    /// `artifactType` (OCI descriptors only; notation drops it when signing).
    #[serde(
        rename = "artifactType",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub artifact_type: Option<String>,
    /// `digest`, `<algorithm>:<hex>`.
    pub digest: String,
    /// `size` in bytes.
    pub size: u64,
    /// User metadata; keys with the `io.cncf.notary` prefix are reserved.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

impl Descriptor {
    /// Whether `other` names the same content: mediaType, digest and size equal (annotations and
    /// artifactType are not compared, as in notation).
    pub fn same_target(&self, other: &Self) -> bool {
        self.media_type == other.media_type
            && self.digest == other.digest
            && self.size == other.size
    }
}

/// The signed payload: `{"targetArtifact": <descriptor>}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Payload {
    /// The artifact the signature is about.
    #[serde(rename = "targetArtifact")]
    pub target_artifact: Descriptor,
}

impl Payload {
    /// Parses payload bytes (bounded by [`MAX_PAYLOAD_SIZE`]).
    pub fn parse(bytes: &[u8]) -> Result<Self, NotationError> {
        if bytes.len() > MAX_PAYLOAD_SIZE {
            return Err(NotationError::TooLarge {
                what: "payload".into(),
                size: bytes.len(),
                max: MAX_PAYLOAD_SIZE,
            });
        }
        serde_json::from_slice(bytes).map_err(|e| {
            NotationError::malformed(
                "payload",
                format!("not a Notary payload {{\"targetArtifact\": <descriptor>}}: {e}"),
            )
        })
    }

    /// The payload bytes notation-go writes (compact JSON, descriptor field order).
    pub fn to_bytes(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }
}

/// A signed attribute outside the ones the specification names.
#[derive(Clone, Debug, PartialEq)]
pub struct ExtendedAttribute {
    /// Header name.
    pub key: String,
    /// Its value (COSE values shown as the nearest JSON value).
    pub value: serde_json::Value,
    /// Whether `crit` lists it.
    pub critical: bool,
}

/// The signed attributes of an envelope.
#[derive(Clone, Debug, PartialEq)]
pub struct SignedAttributes {
    /// `io.cncf.notary.signingScheme`.
    pub scheme: SigningScheme,
    /// `io.cncf.notary.signingTime` (self-asserted).
    pub signing_time: Option<SystemTime>,
    /// `io.cncf.notary.authenticSigningTime`.
    pub authentic_signing_time: Option<SystemTime>,
    /// `io.cncf.notary.expiry`.
    pub expiry: Option<SystemTime>,
    /// `io.cncf.notary.verificationPlugin`.
    pub verification_plugin: Option<String>,
    /// `io.cncf.notary.verificationPluginMinVersion`.
    pub verification_plugin_min_version: Option<String>,
    /// Every other signed attribute, in received order.
    pub extended: Vec<ExtendedAttribute>,
}

/// The headers of a protected header block, before the Notary rules are applied.
pub(crate) struct RawHeaders {
    pub(crate) crit: Vec<String>,
    /// Every key present in the protected header, registered ones included.
    pub(crate) present: Vec<String>,
    pub(crate) scheme: Option<String>,
    pub(crate) signing_time: Option<SystemTime>,
    pub(crate) authentic_signing_time: Option<SystemTime>,
    pub(crate) expiry: Option<SystemTime>,
    pub(crate) plugin: Option<String>,
    pub(crate) plugin_min_version: Option<String>,
    pub(crate) extended: Vec<(String, serde_json::Value)>,
}

/// Keys a Notary verifier understands when they are critical.
const UNDERSTOOD_CRITICAL: [&str; 3] = [
    HEADER_SIGNING_SCHEME,
    HEADER_AUTHENTIC_SIGNING_TIME,
    HEADER_EXPIRY,
];

impl RawHeaders {
    /// Applies the `crit` and signing-scheme rules shared by JWS and COSE.
    pub(crate) fn into_attributes(
        self,
        format: &'static str,
    ) -> Result<SignedAttributes, NotationError> {
        let err = |d: String| NotationError::header(format, d);
        if self.crit.is_empty() {
            return Err(err(format!(
                "crit is missing or empty; it must list {HEADER_SIGNING_SCHEME}"
            )));
        }
        for (i, c) in self.crit.iter().enumerate() {
            if self.crit[..i].contains(c) {
                return Err(err(format!("crit lists {c:?} twice")));
            }
            if !self.present.contains(c) {
                return Err(err(format!(
                    "crit lists {c:?} but the protected header has no such attribute"
                )));
            }
        }
        let critical = |k: &str| self.crit.iter().any(|c| c == k);
        if !critical(HEADER_SIGNING_SCHEME) {
            return Err(err(format!("crit must list {HEADER_SIGNING_SCHEME}")));
        }
        let scheme_name = self
            .scheme
            .ok_or_else(|| err(format!("{HEADER_SIGNING_SCHEME} is missing")))?;
        let scheme = SigningScheme::from_name(&scheme_name).ok_or_else(|| {
            err(format!(
                "unsupported signing scheme {scheme_name:?} (notary.x509 or \
                 notary.x509.signingAuthority)"
            ))
        })?;
        if self.expiry.is_some() && !critical(HEADER_EXPIRY) {
            return Err(err(format!(
                "{HEADER_EXPIRY} is present but not listed in crit"
            )));
        }
        let time = match scheme {
            SigningScheme::X509 => {
                if self.authentic_signing_time.is_some() {
                    return Err(err(format!(
                        "{HEADER_AUTHENTIC_SIGNING_TIME} is not allowed with signing scheme \
                         notary.x509"
                    )));
                }
                self.signing_time.ok_or_else(|| {
                    err(format!(
                        "{HEADER_SIGNING_TIME} is required with signing scheme notary.x509"
                    ))
                })?
            }
            SigningScheme::X509SigningAuthority => {
                let t = self.authentic_signing_time.ok_or_else(|| {
                    err(format!(
                        "{HEADER_AUTHENTIC_SIGNING_TIME} is required with signing scheme \
                         notary.x509.signingAuthority"
                    ))
                })?;
                if self.signing_time.is_some() {
                    return Err(err(format!(
                        "{HEADER_SIGNING_TIME} is not allowed with signing scheme \
                         notary.x509.signingAuthority"
                    )));
                }
                if !critical(HEADER_AUTHENTIC_SIGNING_TIME) {
                    return Err(err(format!(
                        "{HEADER_AUTHENTIC_SIGNING_TIME} must be listed in crit"
                    )));
                }
                t
            }
        };
        if let Some(expiry) = self.expiry
            && expiry <= time
        {
            return Err(err(format!(
                "expiry {} is not after the signing time {}",
                super::format_rfc3339(expiry),
                super::format_rfc3339(time)
            )));
        }
        // A verification plugin is a critical extension tollgate cannot honour: name it.
        if let Some(plugin) = &self.plugin
            && critical(HEADER_VERIFICATION_PLUGIN)
        {
            return Err(NotationError::PluginRequired {
                plugin: plugin.clone(),
                min_version: self.plugin_min_version.clone(),
            });
        }
        let extended: Vec<ExtendedAttribute> = self
            .extended
            .into_iter()
            .map(|(key, value)| ExtendedAttribute {
                critical: critical(&key),
                key,
                value,
            })
            .collect();
        for c in &self.crit {
            let understood = UNDERSTOOD_CRITICAL.contains(&c.as_str());
            if !understood {
                return Err(err(format!(
                    "unknown critical header {c:?}: tollgate does not understand it, and a \
                     verifier must reject a signature with a critical attribute it does not \
                     understand"
                )));
            }
        }
        Ok(SignedAttributes {
            scheme,
            signing_time: self.signing_time,
            authentic_signing_time: self.authentic_signing_time,
            expiry: self.expiry,
            verification_plugin: self.plugin,
            verification_plugin_min_version: self.plugin_min_version,
            extended,
        })
    }
}

/// A parsed envelope of either format.
#[derive(Clone, Debug)]
pub struct Envelope {
    /// JWS or COSE.
    pub format: EnvelopeFormat,
    /// The protected `alg`.
    pub algorithm: SignatureAlgorithm,
    /// The signed attributes, after the header rules.
    pub attributes: SignedAttributes,
    /// The payload bytes exactly as signed.
    pub payload: Vec<u8>,
    /// `x5c` / `x5chain`, leaf first, root last.
    pub certificates: Vec<Certificate>,
    /// The signature value (raw `r || s` for ECDSA).
    pub signature: Vec<u8>,
    /// `io.cncf.notary.timestampSignature`, the RFC 3161 TimeStampToken (DER).
    pub timestamp_token: Option<Vec<u8>>,
    /// `io.cncf.notary.signingAgent`.
    pub signing_agent: Option<String>,
    /// The bytes the signature covers (JWS signing input or COSE Sig_structure).
    pub(crate) signed_bytes: Vec<u8>,
}

impl Envelope {
    /// Parses an envelope of `format`, applying the structural and header rules. Input over
    /// [`MAX_ENVELOPE_SIZE`] is refused before parsing.
    pub fn parse(format: EnvelopeFormat, bytes: &[u8]) -> Result<Self, NotationError> {
        if bytes.len() > MAX_ENVELOPE_SIZE {
            return Err(NotationError::TooLarge {
                what: format!("{} envelope", format.label()),
                size: bytes.len(),
                max: MAX_ENVELOPE_SIZE,
            });
        }
        match format {
            EnvelopeFormat::Jws => super::jws::parse(bytes),
            EnvelopeFormat::Cose => super::cose::parse(bytes),
        }
    }

    /// Parses by media type (`application/jose+json`, `application/cose`).
    pub fn parse_media_type(media_type: &str, bytes: &[u8]) -> Result<Self, NotationError> {
        let format = EnvelopeFormat::from_media_type(media_type).ok_or_else(|| {
            NotationError::malformed(
                "signature",
                format!(
                    "unsupported envelope media type {media_type:?} (application/jose+json or \
                     application/cose)"
                ),
            )
        })?;
        Self::parse(format, bytes)
    }

    /// The signing certificate (`x5c[0]`).
    pub fn signing_certificate(&self) -> &Certificate {
        // parse() refuses an empty chain.
        &self.certificates[0]
    }

    /// The decoded payload.
    pub fn payload(&self) -> Result<Payload, NotationError> {
        Payload::parse(&self.payload)
    }

    /// The integrity check: algorithm bound to the signing key, signature over the received
    /// bytes, Notary code-signing chain rules, readable payload.
    pub fn verify_integrity(&self) -> Result<Payload, NotationError> {
        let label = self.format.label();
        let leaf = self.signing_certificate();
        alg::check_bound(label, self.algorithm, leaf.spki_der(), &leaf.subject())?;
        if !self
            .algorithm
            .verify(leaf.spki_der(), &self.signed_bytes, &self.signature)
        {
            return Err(NotationError::BadSignature {
                subject: leaf.subject(),
            });
        }
        super::x509::validate_code_signing_chain(&self.certificates)?;
        self.payload()
    }
}

/// Parses the certificate chain of an envelope (leaf first), bounded in length.
pub(crate) fn parse_chain(
    format: &'static str,
    ders: Vec<Vec<u8>>,
) -> Result<Vec<Certificate>, NotationError> {
    if ders.is_empty() {
        return Err(NotationError::malformed(
            format,
            "the certificate chain (x5c / x5chain) is missing or empty",
        ));
    }
    if ders.len() > crate::x509::MAX_CHAIN_LEN {
        return Err(NotationError::malformed(
            format,
            format!(
                "the certificate chain has {} certificates, over the limit of {}",
                ders.len(),
                crate::x509::MAX_CHAIN_LEN
            ),
        ));
    }
    ders.iter()
        .enumerate()
        .map(|(i, der)| {
            Certificate::from_der(der).map_err(|e| {
                NotationError::malformed(format, format!("certificate {i} of the chain: {e}"))
            })
        })
        .collect()
}
