//! DSSE (Dead Simple Signing Envelope): a payload, its type, and signatures over PAE.
//!
//! Owns the pre-authentication encoding (PAE), the envelope JSON, signing and verifying.
//! Signatures are always over `PAE(payloadType, payload)`, never the payload alone, so a
//! signature for one payload type cannot be replayed as another. Hand-written: the format is
//! three JSON fields and one byte-string encoding; no maintained crate owns just this.

use base64::Engine as _;
use serde::{Deserialize, Serialize};

use crate::keys::{PublicKey, Signer};

/// At most this many signatures are read from an envelope.
pub const MAX_SIGNATURES: usize = 16;

/// `PAE(type, body) = "DSSEv1" SP LEN(type) SP type SP LEN(body) SP body`.
pub fn pae(payload_type: &str, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(payload.len() + payload_type.len() + 32);
    out.extend_from_slice(b"DSSEv1 ");
    out.extend_from_slice(payload_type.len().to_string().as_bytes());
    out.push(b' ');
    out.extend_from_slice(payload_type.as_bytes());
    out.push(b' ');
    out.extend_from_slice(payload.len().to_string().as_bytes());
    out.push(b' ');
    out.extend_from_slice(payload);
    out
}

/// One signature of an envelope.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Signature {
    /// Raw signature bytes (ECDSA: ASN.1 DER).
    pub sig: Vec<u8>,
    /// Optional key hint; unauthenticated.
    pub keyid: String,
}

/// A DSSE envelope.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Envelope {
    payload: Vec<u8>,
    payload_type: String,
    signatures: Vec<Signature>,
}

/// Why an envelope could not be read or verified.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DsseError {
    /// The JSON does not have the envelope's shape.
    #[error("dsse envelope: {0}")]
    Malformed(String),
    /// No signatures, or more than [`MAX_SIGNATURES`].
    #[error("dsse envelope has {0} signatures (expected 1 to {MAX_SIGNATURES})")]
    SignatureCount(usize),
    /// No signature verifies with the key.
    #[error(
        "dsse signature does not verify with the given key (signed by another key, or the envelope was altered)"
    )]
    BadSignature,
    /// The signer failed.
    #[error("signing failed: {0}")]
    Sign(#[source] crate::keys::KeyError),
}

#[derive(Serialize, Deserialize)]
struct RawSignature {
    sig: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    keyid: Option<String>,
}

#[derive(Serialize, Deserialize)]
struct RawEnvelope {
    payload: String,
    #[serde(rename = "payloadType")]
    payload_type: String,
    signatures: Vec<RawSignature>,
}

impl Envelope {
    /// Signs `payload` of `payload_type` with one signer.
    pub fn sign(
        payload_type: &str,
        payload: Vec<u8>,
        signer: &dyn Signer,
    ) -> Result<Self, DsseError> {
        let sig = signer
            .sign(&pae(payload_type, &payload))
            .map_err(DsseError::Sign)?;
        Ok(Self {
            payload,
            payload_type: payload_type.to_owned(),
            signatures: vec![Signature {
                sig,
                keyid: String::new(),
            }],
        })
    }

    /// The payload bytes (unauthenticated until [`Envelope::verify`] succeeds).
    pub fn payload(&self) -> &[u8] {
        &self.payload
    }

    /// The payload type (unauthenticated until verified).
    pub fn payload_type(&self) -> &str {
        &self.payload_type
    }

    /// The signatures.
    pub fn signatures(&self) -> &[Signature] {
        &self.signatures
    }

    /// Checks that a signature over PAE verifies with `key`; returns the authenticated
    /// payload type and payload.
    pub fn verify(&self, key: &PublicKey) -> Result<VerifiedPayload<'_>, DsseError> {
        let message = pae(&self.payload_type, &self.payload);
        if self
            .signatures
            .iter()
            .any(|s| key.verify(&message, &s.sig).is_ok())
        {
            Ok(VerifiedPayload { envelope: self })
        } else {
            Err(DsseError::BadSignature)
        }
    }

    /// Parses the envelope from its JSON value (as embedded in a bundle).
    pub fn from_json(value: &serde_json::Value) -> Result<Self, DsseError> {
        let raw: RawEnvelope = serde_json::from_value(value.clone())
            .map_err(|e| DsseError::Malformed(e.to_string()))?;
        if raw.signatures.is_empty() || raw.signatures.len() > MAX_SIGNATURES {
            return Err(DsseError::SignatureCount(raw.signatures.len()));
        }
        let signatures = raw
            .signatures
            .into_iter()
            .map(|s| {
                Ok(Signature {
                    sig: decode_b64(&s.sig)
                        .map_err(|e| DsseError::Malformed(format!("signature: {e}")))?,
                    keyid: s.keyid.unwrap_or_default(),
                })
            })
            .collect::<Result<_, DsseError>>()?;
        Ok(Self {
            payload: decode_b64(&raw.payload)
                .map_err(|e| DsseError::Malformed(format!("payload: {e}")))?,
            payload_type: raw.payload_type,
            signatures,
        })
    }

    /// The envelope as JSON, fields as model_signing and cosign write them.
    pub fn to_json(&self) -> serde_json::Value {
        let b64 = base64::engine::general_purpose::STANDARD;
        let raw = RawEnvelope {
            payload: b64.encode(&self.payload),
            payload_type: self.payload_type.clone(),
            signatures: self
                .signatures
                .iter()
                .map(|s| RawSignature {
                    sig: b64.encode(&s.sig),
                    keyid: Some(s.keyid.clone()),
                })
                .collect(),
        };
        serde_json::to_value(raw).expect("strings always serialize")
    }
}

/// Proof that an envelope's signature verified: the only way to reach its payload as trusted.
#[derive(Debug)]
pub struct VerifiedPayload<'a> {
    envelope: &'a Envelope,
}

impl VerifiedPayload<'_> {
    /// The authenticated payload type.
    pub fn payload_type(&self) -> &str {
        &self.envelope.payload_type
    }

    /// The authenticated payload.
    pub fn payload(&self) -> &[u8] {
        &self.envelope.payload
    }
}

/// Decodes standard or URL-safe base64, padded or not (the DSSE spec allows either), skipping
/// line breaks.
pub(crate) fn decode_b64(text: &str) -> Result<Vec<u8>, base64::DecodeError> {
    use base64::engine::general_purpose::{STANDARD_NO_PAD, URL_SAFE_NO_PAD};
    let cleaned: String = text.chars().filter(|c| !matches!(c, '\n' | '\r')).collect();
    let trimmed = cleaned.trim_end_matches('=');
    STANDARD_NO_PAD
        .decode(trimmed)
        .or_else(|_| URL_SAFE_NO_PAD.decode(trimmed))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pae_matches_the_spec_example() {
        assert_eq!(
            pae("http://example.com/HelloWorld", b"hello world"),
            b"DSSEv1 29 http://example.com/HelloWorld 11 hello world".to_vec()
        );
        assert_eq!(pae("", b""), b"DSSEv1 0  0 ".to_vec());
    }

    #[test]
    fn base64_forms() {
        assert_eq!(decode_b64("aGk=").unwrap(), b"hi");
        assert_eq!(decode_b64("aGk").unwrap(), b"hi");
        assert_eq!(decode_b64("-_8").unwrap(), [0xfb, 0xff]);
        assert_eq!(decode_b64("+/8=").unwrap(), [0xfb, 0xff]);
        assert!(decode_b64("a$b").is_err());
    }

    #[test]
    fn malformed_envelopes() {
        use serde_json::json;
        let no_sigs = json!({"payload": "", "payloadType": "t", "signatures": []});
        assert!(matches!(
            Envelope::from_json(&no_sigs),
            Err(DsseError::SignatureCount(0))
        ));
        let bad_b64 = json!({"payload": "!!", "payloadType": "t", "signatures": [{"sig": "aGk="}]});
        assert!(matches!(
            Envelope::from_json(&bad_b64),
            Err(DsseError::Malformed(_))
        ));
        let missing = json!({"payloadType": "t", "signatures": [{"sig": "aGk="}]});
        assert!(matches!(
            Envelope::from_json(&missing),
            Err(DsseError::Malformed(_))
        ));
    }
}
