//! Making cosign image signatures and attestations: the signed bytes, never the upload.
//!
//! - [`sign_payload`]: a legacy `.sig` layer, the [`SimpleSigning`] payload with its base64
//!   signature in the [`SIGNATURE_ANNOTATION`] (what `cosign sign --key` appends).
//! - [`statement`]: an in-toto Statement v1 about an image digest, serialized compactly in
//!   the field order cosign v3's protojson uses (`_type`, `subject`, `predicateType`,
//!   `predicate`; subject fields `name`, `digest`, `annotations`).
//! - [`SignedStatement`]: a statement signed over DSSE PAE, rendered as a legacy `.att`
//!   layer ([`SignedStatement::envelope_json`]) or as a Sigstore bundle v0.3
//!   ([`SignedStatement::bundle_json`]) for a referrer.
//!
//! Every signature is made as cosign 2.5.0 makes it with a key file: ECDSA over SHA-256
//! whatever the curve, RSA PKCS#1 v1.5 SHA-256, Ed25519 pure ([`sign_sha256`]); these are
//! exactly the schemes [`super::verify_simple_signing`] and
//! [`super::attestation::verify_attestation`] accept, and for P-256 keys (cosign's default)
//! also what cosign v3's sigstore-go signer produces.
//!
//! cosign v3 `sign` statements (predicate type [`COSIGN_SIGN_PREDICATE_TYPE`]) carry no
//! `name` in their subject, so nothing binds such a signature to a repository. tollgate adds
//! the repository as the subject's `name` (cosign ignores it; every in-toto reader accepts
//! it), so that its bundle signatures can be held to the same identity rule as legacy ones.

use std::collections::BTreeMap;

use base64::Engine as _;
use serde::Serialize;
use serde_json::Value;

use super::attach::NewLayer;
use super::attestation::BUNDLE_V0_3_MEDIA_TYPE;
use super::{SIGNATURE_ANNOTATION, SimpleSigning};
use crate::cosign::blob::key_hint;
use crate::digest::Digest;
use crate::dsse::pae;
use crate::intoto::{PAYLOAD_TYPE, STATEMENT_TYPE_V1};
use crate::keys::{KeyAlgorithm, KeyError, PublicKey, Signer};

/// The predicate type of cosign v3 image signatures (bundle referrers).
pub const COSIGN_SIGN_PREDICATE_TYPE: &str = "https://sigstore.dev/cosign/sign/v1";

/// Layer annotation of a legacy `.att` layer naming its predicate type.
pub const PREDICATE_TYPE_ANNOTATION: &str = super::attestation::PREDICATE_TYPE_ANNOTATION;

/// Signs `message` as cosign 2.5.0 does with a key: ECDSA and RSA over its SHA-256 (whatever
/// the curve), Ed25519 over the message. Signers that cannot sign a digest (PKCS#11 tokens)
/// sign the message with their own scheme.
pub fn sign_sha256(signer: &dyn Signer, message: &[u8]) -> Result<Vec<u8>, KeyError> {
    if signer.public_key().algorithm() != KeyAlgorithm::Ed25519 {
        let digest = Digest::sha256(message);
        if let Some(signature) = signer.sign_digest(&aws_lc_rs::digest::SHA256, digest.as_bytes()) {
            return signature;
        }
    }
    signer.sign(message)
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// A `.sig` layer: `payload`'s bytes as cosign 2.5.0 writes them, signed, with the base64
/// signature as the layer's [`SIGNATURE_ANNOTATION`].
pub fn sign_payload(payload: &SimpleSigning, signer: &dyn Signer) -> Result<NewLayer, KeyError> {
    let bytes = payload.to_bytes();
    let signature = sign_sha256(signer, &bytes)?;
    let annotations = BTreeMap::from([(SIGNATURE_ANNOTATION.to_owned(), b64(&signature))]);
    Ok(NewLayer::new(bytes, annotations))
}

#[derive(Serialize)]
struct OutStatement<'a> {
    #[serde(rename = "_type")]
    type_: &'static str,
    subject: [OutSubject<'a>; 1],
    #[serde(rename = "predicateType")]
    predicate_type: &'a str,
    predicate: &'a Value,
}

#[derive(Serialize)]
struct OutSubject<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<&'a str>,
    digest: BTreeMap<&'static str, String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    annotations: Option<&'a BTreeMap<String, String>>,
}

/// An in-toto Statement v1 about the image `image` (one subject: `name` if given, its sha256
/// digest, and `annotations` if given), compact JSON without a trailing newline.
pub fn statement(
    name: Option<&str>,
    image: &Digest,
    annotations: Option<&BTreeMap<String, String>>,
    predicate_type: &str,
    predicate: &Value,
) -> Vec<u8> {
    let out = OutStatement {
        type_: STATEMENT_TYPE_V1,
        subject: [OutSubject {
            name,
            digest: BTreeMap::from([("sha256", image.hex())]),
            annotations,
        }],
        predicate_type,
        predicate,
    };
    serde_json::to_vec(&out).expect("strings and JSON values always serialize")
}

/// The statement `cosign sign` (v3) signs for `image`: predicate type
/// [`COSIGN_SIGN_PREDICATE_TYPE`], an empty predicate, the `-a` annotations on the subject
/// (`{}` when none, as protojson writes them), plus the repository as the subject's `name`
/// (see the module docs).
pub fn sign_statement(
    repository: &str,
    image: &Digest,
    annotations: &BTreeMap<String, String>,
) -> Vec<u8> {
    statement(
        Some(repository),
        image,
        Some(annotations),
        COSIGN_SIGN_PREDICATE_TYPE,
        &Value::Object(serde_json::Map::new()),
    )
}

/// A statement and the signer's signature over its DSSE PAE.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignedStatement {
    statement: Vec<u8>,
    signature: Vec<u8>,
}

impl SignedStatement {
    /// Signs `statement` (payload type `application/vnd.in-toto+json`) with [`sign_sha256`].
    pub fn sign(statement: Vec<u8>, signer: &dyn Signer) -> Result<Self, KeyError> {
        let signature = sign_sha256(signer, &pae(PAYLOAD_TYPE, &statement))?;
        Ok(Self {
            statement,
            signature,
        })
    }

    /// The statement bytes.
    pub fn statement(&self) -> &[u8] {
        &self.statement
    }

    /// The DSSE envelope as cosign 2.5.0 stores it in a `.att` layer:
    /// `{"payloadType","payload","signatures":[{"keyid":"","sig"}]}`.
    pub fn envelope_json(&self) -> Vec<u8> {
        #[derive(Serialize)]
        struct Sig {
            keyid: &'static str,
            sig: String,
        }
        #[derive(Serialize)]
        struct Envelope<'a> {
            #[serde(rename = "payloadType")]
            payload_type: &'a str,
            payload: String,
            signatures: [Sig; 1],
        }
        let out = Envelope {
            payload_type: PAYLOAD_TYPE,
            payload: b64(&self.statement),
            signatures: [Sig {
                keyid: "",
                sig: b64(&self.signature),
            }],
        };
        serde_json::to_vec(&out).expect("strings always serialize")
    }

    /// A `.att` layer: [`SignedStatement::envelope_json`] with cosign's annotations (an empty
    /// [`SIGNATURE_ANNOTATION`] and the [`PREDICATE_TYPE_ANNOTATION`]).
    pub fn attestation_layer(&self, predicate_type: &str) -> NewLayer {
        let annotations = BTreeMap::from([
            (SIGNATURE_ANNOTATION.to_owned(), String::new()),
            (
                PREDICATE_TYPE_ANNOTATION.to_owned(),
                predicate_type.to_owned(),
            ),
        ]);
        NewLayer::new(self.envelope_json(), annotations)
    }

    /// A Sigstore bundle v0.3 holding the envelope, as cosign writes it for a key:
    /// `publicKey.hint` = base64 SHA-256 of the key's SubjectPublicKeyInfo, no transparency
    /// log entries, the DSSE signature without `keyid`.
    pub fn bundle_json(&self, key: &PublicKey) -> Vec<u8> {
        let bundle = serde_json::json!({
            "mediaType": BUNDLE_V0_3_MEDIA_TYPE,
            "verificationMaterial": {"publicKey": {"hint": key_hint(key)}},
            "dsseEnvelope": {
                "payload": b64(&self.statement),
                "payloadType": PAYLOAD_TYPE,
                "signatures": [{"sig": b64(&self.signature)}],
            },
        });
        serde_json::to_vec(&bundle).expect("a Value always serializes")
    }
}

#[cfg(test)]
mod tests;
