//! Sigstore bundles: the JSON container that carries a signature with its verification
//! material.
//!
//! Owns reading bundles v0.1–v0.3 (both v0.3 media-type spellings; any other media type is
//! refused) and writing v0.3 in the exact shape model_signing and cosign write. It parses into
//! validated types; checking signatures, chains and transparency-log entries is the job of the
//! callers ([`crate::model`] today). Hand-written rather than `sigstore-types`: reading this
//! JSON is a few structs, and the keyless verifier (which will use sigstore-verify) arrives with
//! its own issue.

use std::io::Read;
use std::path::Path;

use base64::Engine as _;
use serde_json::{Value, json};

use crate::dsse::{self, DsseError, Envelope};

/// Bundles larger than this are refused without being read further.
pub const MAX_BUNDLE_BYTES: u64 = 64 << 20;

/// At most this many certificates in `x509CertificateChain`.
const MAX_CHAIN: usize = 10;

/// Bundle format versions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MediaType {
    /// `application/vnd.dev.sigstore.bundle+json;version=0.1`
    V0_1,
    /// `application/vnd.dev.sigstore.bundle+json;version=0.2`
    V0_2,
    /// `application/vnd.dev.sigstore.bundle.v0.3+json` (or `…bundle+json;version=0.3`)
    V0_3,
}

impl MediaType {
    /// The media type tollgate writes for this version.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::V0_1 => "application/vnd.dev.sigstore.bundle+json;version=0.1",
            Self::V0_2 => "application/vnd.dev.sigstore.bundle+json;version=0.2",
            Self::V0_3 => "application/vnd.dev.sigstore.bundle.v0.3+json",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        match s {
            "application/vnd.dev.sigstore.bundle+json;version=0.1" => Some(Self::V0_1),
            "application/vnd.dev.sigstore.bundle+json;version=0.2" => Some(Self::V0_2),
            "application/vnd.dev.sigstore.bundle.v0.3+json"
            | "application/vnd.dev.sigstore.bundle+json;version=0.3" => Some(Self::V0_3),
            _ => None,
        }
    }
}

/// Who signed, as the bundle claims it (unauthenticated until checked).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum VerificationMaterial {
    /// A self-managed key sent out of band; `hint` identifies it.
    PublicKey {
        /// Key hint (model_signing: hex SHA-256 of the public key PEM), if any.
        hint: Option<String>,
    },
    /// DER certificates, leaf first.
    X509CertificateChain(Vec<Vec<u8>>),
    /// One DER leaf certificate (v0.3 keyless).
    Certificate(Vec<u8>),
}

/// A signature over an artifact digest (cosign blobs).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MessageSignature {
    /// `messageDigest.algorithm`, e.g. `SHA2_256`.
    pub digest_algorithm: String,
    /// `messageDigest.digest`: an unauthenticated hint.
    pub digest: Vec<u8>,
    /// The signature bytes.
    pub signature: Vec<u8>,
}

/// What is signed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Content {
    /// A DSSE envelope.
    DsseEnvelope(Envelope),
    /// A plain signature over a digest.
    MessageSignature(MessageSignature),
}

/// A parsed Sigstore bundle.
#[derive(Clone, Debug)]
pub struct Bundle {
    /// Format version.
    pub media_type: MediaType,
    /// Key or certificates.
    pub verification_material: VerificationMaterial,
    /// Transparency-log entries as JSON (verified by the keyless verifier, not here).
    pub tlog_entries: Vec<Value>,
    /// The signed content.
    pub content: Content,
}

/// Why a bundle could not be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BundleError {
    /// Reading the file failed.
    #[error("{path}: cannot read bundle: {err}")]
    Io {
        /// The file.
        path: String,
        /// What the OS said.
        err: std::io::Error,
    },
    /// Larger than [`MAX_BUNDLE_BYTES`].
    #[error("{path}: bundle is larger than {MAX_BUNDLE_BYTES} bytes; refusing to read it")]
    TooLarge {
        /// The file.
        path: String,
    },
    /// Not JSON, or not shaped like a bundle.
    #[error("bundle: {0}")]
    Malformed(String),
    /// A media type tollgate does not read.
    #[error("bundle: unknown mediaType {0:?} (expected a Sigstore bundle v0.1, v0.2 or v0.3)")]
    UnknownMediaType(String),
    /// The DSSE envelope inside is malformed.
    #[error("bundle: {0}")]
    Dsse(#[from] DsseError),
}

impl Bundle {
    /// Reads and parses a bundle file, refusing files over [`MAX_BUNDLE_BYTES`].
    pub fn read_file(path: &Path) -> Result<Self, BundleError> {
        let shown = path.display().to_string();
        let io = |err| BundleError::Io {
            path: shown.clone(),
            err,
        };
        let file = std::fs::File::open(path).map_err(io)?;
        if file.metadata().map_err(io)?.len() > MAX_BUNDLE_BYTES {
            return Err(BundleError::TooLarge { path: shown });
        }
        let mut bytes = Vec::new();
        file.take(MAX_BUNDLE_BYTES + 1)
            .read_to_end(&mut bytes)
            .map_err(io)?;
        if bytes.len() as u64 > MAX_BUNDLE_BYTES {
            return Err(BundleError::TooLarge { path: shown });
        }
        Self::parse(&bytes)
    }

    /// Parses bundle JSON.
    pub fn parse(bytes: &[u8]) -> Result<Self, BundleError> {
        if bytes.len() as u64 > MAX_BUNDLE_BYTES {
            return Err(BundleError::TooLarge {
                path: "<input>".into(),
            });
        }
        let v: Value =
            serde_json::from_slice(bytes).map_err(|e| BundleError::Malformed(e.to_string()))?;
        let media = v
            .get("mediaType")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let media_type = MediaType::parse(media)
            .ok_or_else(|| BundleError::UnknownMediaType(media.chars().take(100).collect()))?;
        let material = v
            .get("verificationMaterial")
            .ok_or_else(|| BundleError::Malformed("missing verificationMaterial".into()))?;
        let tlog_entries = match material.get("tlogEntries") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(a)) => a.clone(),
            Some(_) => return Err(BundleError::Malformed("tlogEntries is not a list".into())),
        };
        Ok(Self {
            media_type,
            verification_material: parse_material(material)?,
            tlog_entries,
            content: parse_content(&v)?,
        })
    }

    /// The bundle as v0.3 JSON bytes, compact, keys in the order model_signing writes them.
    pub fn to_json_bytes(&self) -> Vec<u8> {
        let b64 = base64::engine::general_purpose::STANDARD;
        let mut material = match &self.verification_material {
            VerificationMaterial::PublicKey { hint } => {
                json!({"publicKey": {"hint": hint.clone().unwrap_or_default()}})
            }
            VerificationMaterial::X509CertificateChain(certs) => json!({"x509CertificateChain": {
                "certificates": certs.iter().map(|c| json!({"rawBytes": b64.encode(c)})).collect::<Vec<_>>()
            }}),
            VerificationMaterial::Certificate(c) => {
                json!({"certificate": {"rawBytes": b64.encode(c)}})
            }
        };
        material["tlogEntries"] = Value::Array(self.tlog_entries.clone());
        let mut out =
            json!({"mediaType": MediaType::V0_3.as_str(), "verificationMaterial": material});
        match &self.content {
            Content::DsseEnvelope(env) => out["dsseEnvelope"] = env.to_json(),
            Content::MessageSignature(m) => {
                out["messageSignature"] = json!({
                    "messageDigest": {"algorithm": m.digest_algorithm, "digest": b64.encode(&m.digest)},
                    "signature": b64.encode(&m.signature),
                })
            }
        }
        serde_json::to_vec(&out).expect("a Value always serializes")
    }
}

fn parse_material(m: &Value) -> Result<VerificationMaterial, BundleError> {
    let bad = |s: &str| BundleError::Malformed(s.to_owned());
    let forms = ["publicKey", "x509CertificateChain", "certificate"];
    let present: Vec<&str> = forms
        .iter()
        .copied()
        .filter(|k| m.get(k).is_some_and(|v| !v.is_null()))
        .collect();
    if present.len() != 1 {
        return Err(bad(
            "verificationMaterial must hold exactly one of publicKey, x509CertificateChain, certificate",
        ));
    }
    match present[0] {
        "publicKey" => {
            // Pre-1.1 model_signing bundles also carry rawBytes/keyDetails: ignored, as the
            // key always comes from the verifier's own configuration.
            let hint = m["publicKey"]
                .get("hint")
                .and_then(Value::as_str)
                .filter(|h| !h.is_empty())
                .map(str::to_owned);
            Ok(VerificationMaterial::PublicKey { hint })
        }
        "x509CertificateChain" => {
            let certs = m["x509CertificateChain"]
                .get("certificates")
                .and_then(Value::as_array)
                .ok_or_else(|| bad("x509CertificateChain.certificates is not a list"))?;
            if certs.is_empty() || certs.len() > MAX_CHAIN {
                return Err(bad("x509CertificateChain must hold 1 to 10 certificates"));
            }
            certs
                .iter()
                .map(raw_bytes)
                .collect::<Result<_, _>>()
                .map(VerificationMaterial::X509CertificateChain)
        }
        _ => raw_bytes(&m["certificate"]).map(VerificationMaterial::Certificate),
    }
}

fn raw_bytes(v: &Value) -> Result<Vec<u8>, BundleError> {
    let text = v
        .get("rawBytes")
        .and_then(Value::as_str)
        .ok_or_else(|| BundleError::Malformed("certificate rawBytes missing".into()))?;
    dsse::decode_b64(text).map_err(|e| BundleError::Malformed(format!("certificate rawBytes: {e}")))
}

fn parse_content(v: &Value) -> Result<Content, BundleError> {
    match (v.get("dsseEnvelope"), v.get("messageSignature")) {
        (Some(env), None) => Ok(Content::DsseEnvelope(Envelope::from_json(env)?)),
        (None, Some(m)) => {
            let text = |x: Option<&Value>, what: &str| {
                x.and_then(Value::as_str).map(str::to_owned).ok_or_else(|| {
                    BundleError::Malformed(format!("messageSignature.{what} missing"))
                })
            };
            let digest = m.get("messageDigest");
            let decode = |s: String, what: &str| {
                dsse::decode_b64(&s)
                    .map_err(|e| BundleError::Malformed(format!("messageSignature.{what}: {e}")))
            };
            Ok(Content::MessageSignature(MessageSignature {
                digest_algorithm: text(
                    digest.and_then(|d| d.get("algorithm")),
                    "messageDigest.algorithm",
                )?,
                digest: decode(
                    text(digest.and_then(|d| d.get("digest")), "messageDigest.digest")?,
                    "messageDigest.digest",
                )?,
                signature: decode(text(m.get("signature"), "signature")?, "signature")?,
            }))
        }
        _ => Err(BundleError::Malformed(
            "bundle must hold exactly one of dsseEnvelope, messageSignature".into(),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vector(name: &str) -> Vec<u8> {
        std::fs::read(
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../testdata/model-signing/sigs")
                .join(name),
        )
        .unwrap()
    }

    #[test]
    fn reads_model_signing_bundles_and_writes_them_back() {
        let key = Bundle::parse(&vector("key.sig")).unwrap();
        assert_eq!(key.media_type, MediaType::V0_3);
        assert!(
            matches!(&key.verification_material, VerificationMaterial::PublicKey { hint: Some(h) } if h.len() == 64)
        );
        let Content::DsseEnvelope(env) = &key.content else {
            panic!("not dsse")
        };
        assert_eq!(env.payload_type(), "application/vnd.in-toto+json");
        assert_eq!(env.payload(), vector("key.payload.json"));
        // Byte-identical re-serialisation: same key order and base64 forms as model_signing.
        assert_eq!(key.to_json_bytes(), vector("key.sig"));

        let cert = Bundle::parse(&vector("certificate.sig")).unwrap();
        assert!(
            matches!(&cert.verification_material, VerificationMaterial::X509CertificateChain(c) if c.len() == 2)
        );
        assert_eq!(cert.to_json_bytes(), vector("certificate.sig"));
    }

    #[test]
    fn media_types_are_strict() {
        let text = String::from_utf8(vector("key.sig")).unwrap();
        let alt = text.replace("bundle.v0.3+json", "bundle+json;version=0.3");
        assert_eq!(
            Bundle::parse(alt.as_bytes()).unwrap().media_type,
            MediaType::V0_3
        );
        for bad in [
            "bundle+json;version=99.9",
            "bundle.v0.4+json",
            "BUNDLE.v0.3+json",
        ] {
            let t = text.replace("bundle.v0.3+json", bad);
            assert!(
                matches!(
                    Bundle::parse(t.as_bytes()),
                    Err(BundleError::UnknownMediaType(_))
                ),
                "{bad}"
            );
        }
    }

    #[test]
    fn oversized_files_are_refused_unread() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("huge.sig");
        let f = std::fs::File::create(&p).unwrap();
        f.set_len(100 << 20).unwrap();
        assert!(matches!(
            Bundle::read_file(&p),
            Err(BundleError::TooLarge { .. })
        ));
    }

    #[test]
    fn material_must_be_exactly_one_form() {
        let text = String::from_utf8(vector("key.sig")).unwrap();
        let both = text.replace(
            r#""publicKey":"#,
            r#""certificate":{"rawBytes":"AA=="},"publicKey":"#,
        );
        assert!(matches!(
            Bundle::parse(both.as_bytes()),
            Err(BundleError::Malformed(_))
        ));
    }
}
