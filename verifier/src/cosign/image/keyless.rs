//! Legacy cosign layers (`.sig` and `.att`) with a certificate or a Rekor entry, read as the
//! Sigstore bundle v0.1 they are equivalent to, so that sigstore-verify checks them through
//! [`crate::sigstore::verify`] exactly as it checks bundles: the Fulcio chain at the SET's
//! integrated time, the embedded SCT, the SET against the trust root's Rekor keys, the
//! signature, and the log entry's consistency with signature, certificate and payload.
//!
//! cosign 2.x stores on each layer (all strings):
//!
//! - `dev.sigstore.cosign/certificate`: the signing certificate, PEM;
//! - `dev.sigstore.cosign/chain`: its issuers, PEM (intermediates and the root);
//! - `dev.sigstore.cosign/bundle`: Rekor's answer, JSON
//!   `{"SignedEntryTimestamp": b64, "Payload": {"body": b64, "integratedTime": n, "logIndex": n,
//!   "logID": hex}}` (Go field names, capitalised).
//!
//! The bundle made from them: `x509CertificateChain` = the leaf and the chain's non-root
//! certificates (roots come only from the trust root; a bundle must not carry them), or a
//! `publicKey` for a key-signed layer with a Rekor entry; one tlog entry with
//! `canonicalizedBody` = `Payload.body`, `integratedTime`, `logIndex`, `logId` = the hex
//! `logID`, `kindVersion` from the body's own `kind` / `apiVersion`, and `inclusionPromise` =
//! the SET; content = a `messageSignature` over the simple-signing payload (`.sig`) or the
//! DSSE envelope itself (`.att`). Rekor v1 SETs carry no inclusion proof, which bundle v0.1
//! allows; so the log entry is proven by the SET alone, as cosign 2.x proves it offline.
//!
//! RFC 3161 timestamps (`dev.sigstore.cosign/rfc3161timestamp`) are not carried over: a layer
//! without a Rekor entry cannot be verified keylessly here (no verified signing time).

use std::collections::BTreeMap;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde::Deserialize;
use serde_json::{Value, json};
use x509_cert::der::{Decode, Encode};

use super::{CERTIFICATE_ANNOTATION, REKOR_BUNDLE_ANNOTATION};
use crate::digest::{Digest, HashAlgorithm};
use crate::sigstore::{SigstoreBundle, SigstoreError};

/// Layer annotation holding the signing certificate's issuers (PEM).
pub const CHAIN_ANNOTATION: &str = "dev.sigstore.cosign/chain";

/// Most certificates read from a chain annotation.
const MAX_CHAIN: usize = 10;

/// Why a legacy layer could not be read as a Sigstore bundle.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LegacyBundleError {
    /// No Rekor entry: nothing proves when the certificate was used.
    #[error(
        "the layer has a certificate but no {REKOR_BUNDLE_ANNOTATION} annotation (no Rekor entry), so no signing time can be verified offline; re-sign with the transparency log enabled"
    )]
    NoRekorEntry,
    /// Neither a certificate nor a Rekor entry: a plain key signature.
    #[error(
        "the layer carries no certificate and no Rekor entry: it was signed with a self-managed key; verify it with --key"
    )]
    KeySigned,
    /// The Rekor bundle annotation is malformed.
    #[error("the layer's {REKOR_BUNDLE_ANNOTATION} annotation is malformed: {0}")]
    RekorEntry(String),
    /// The certificate or chain annotation is malformed.
    #[error("the layer's {annotation} annotation is malformed: {detail}")]
    Certificate {
        /// Which annotation.
        annotation: &'static str,
        /// What is wrong.
        detail: String,
    },
    /// The equivalent bundle did not parse.
    #[error("the layer's signature material does not form a Sigstore bundle: {0}")]
    Bundle(#[source] SigstoreError),
}

/// What a legacy layer signs.
#[derive(Clone, Copy, Debug)]
#[non_exhaustive]
pub enum LegacyContent<'a> {
    /// A `.sig` layer: the signature (base64, the layer's signature annotation) over the
    /// payload bytes.
    MessageSignature {
        /// The simple-signing payload as stored.
        payload: &'a [u8],
        /// The base64 signature annotation.
        signature_b64: &'a str,
    },
    /// A `.att` layer: the DSSE envelope as stored (JSON).
    Dsse(&'a Value),
}

/// Whether the layer carries a Rekor entry (then its log entry can be verified).
pub fn has_rekor_entry(annotations: &BTreeMap<String, String>) -> bool {
    annotations.contains_key(REKOR_BUNDLE_ANNOTATION)
}

/// The Sigstore bundle v0.1 equivalent to a legacy layer (see the module docs). A layer
/// without a certificate becomes a public-key bundle (verified with a key).
pub fn legacy_bundle(
    annotations: &BTreeMap<String, String>,
    content: LegacyContent<'_>,
) -> Result<SigstoreBundle, LegacyBundleError> {
    let set = annotations.get(REKOR_BUNDLE_ANNOTATION).ok_or(
        if annotations.contains_key(CERTIFICATE_ANNOTATION) {
            LegacyBundleError::NoRekorEntry
        } else {
            LegacyBundleError::KeySigned
        },
    )?;
    let entry = tlog_entry(set)?;
    let material = match annotations.get(CERTIFICATE_ANNOTATION) {
        Some(leaf) => {
            let chain = certificates(annotations, leaf)?;
            json!({"x509CertificateChain": {"certificates": chain}, "tlogEntries": [entry]})
        }
        None => json!({"publicKey": {"hint": ""}, "tlogEntries": [entry]}),
    };
    let mut bundle = json!({
        "mediaType": "application/vnd.dev.sigstore.bundle+json;version=0.1",
        "verificationMaterial": material,
    });
    match content {
        LegacyContent::MessageSignature {
            payload,
            signature_b64,
        } => {
            bundle["messageSignature"] = json!({
                "messageDigest": {
                    "algorithm": "SHA2_256",
                    "digest": STANDARD.encode(Digest::sha256(payload).as_bytes()),
                },
                "signature": signature_b64.trim(),
            });
        }
        LegacyContent::Dsse(envelope) => bundle["dsseEnvelope"] = envelope.clone(),
    }
    let bytes = serde_json::to_vec(&bundle).expect("JSON values always serialize");
    SigstoreBundle::from_json(&bytes).map_err(LegacyBundleError::Bundle)
}

/// cosign's `RekorBundle` (Go field names).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRekorBundle {
    #[serde(rename = "SignedEntryTimestamp")]
    signed_entry_timestamp: String,
    #[serde(rename = "Payload")]
    payload: RawRekorPayload,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRekorPayload {
    body: String,
    #[serde(rename = "integratedTime")]
    integrated_time: i64,
    #[serde(rename = "logIndex")]
    log_index: i64,
    #[serde(rename = "logID")]
    log_id: String,
}

/// The `kind` and `apiVersion` every Rekor entry body starts with.
#[derive(Deserialize)]
struct RawBodyKind {
    kind: String,
    #[serde(rename = "apiVersion")]
    api_version: String,
}

/// The bundle's tlog entry from the Rekor bundle annotation.
fn tlog_entry(set: &str) -> Result<Value, LegacyBundleError> {
    let bad = |d: String| LegacyBundleError::RekorEntry(d);
    let raw: RawRekorBundle = serde_json::from_str(set).map_err(|e| bad(e.to_string()))?;
    let p = &raw.payload;
    let body = STANDARD
        .decode(&p.body)
        .map_err(|e| bad(format!("Payload.body is not base64: {e}")))?;
    let kind: RawBodyKind = serde_json::from_slice(&body)
        .map_err(|e| bad(format!("Payload.body is not a Rekor entry: {e}")))?;
    let log_id = Digest::from_hex(HashAlgorithm::Sha256, &p.log_id)
        .map_err(|_| bad("Payload.logID is not 64 hex digits".into()))?;
    if p.integrated_time < 0 || p.log_index < 0 {
        return Err(bad("negative integratedTime or logIndex".into()));
    }
    Ok(json!({
        "logIndex": p.log_index.to_string(),
        "logId": {"keyId": STANDARD.encode(log_id.as_bytes())},
        "kindVersion": {"kind": kind.kind, "version": kind.api_version},
        "integratedTime": p.integrated_time.to_string(),
        "inclusionPromise": {"signedEntryTimestamp": raw.signed_entry_timestamp},
        "canonicalizedBody": p.body,
    }))
}

/// The leaf, then the chain's certificates that are not self-issued roots, as bundle
/// `{"rawBytes"}` entries.
fn certificates(
    annotations: &BTreeMap<String, String>,
    leaf: &str,
) -> Result<Vec<Value>, LegacyBundleError> {
    let leaf = pem_chain(CERTIFICATE_ANNOTATION, leaf)?;
    let [leaf] = leaf.as_slice() else {
        return Err(LegacyBundleError::Certificate {
            annotation: CERTIFICATE_ANNOTATION,
            detail: format!("{} certificates, expected one", leaf.len()),
        });
    };
    let chain = match annotations.get(CHAIN_ANNOTATION) {
        Some(pem) => pem_chain(CHAIN_ANNOTATION, pem)?,
        None => Vec::new(),
    };
    let mut out = vec![leaf];
    out.extend(chain.iter().filter(|c| {
        let tbs = &c.tbs_certificate;
        tbs.subject != tbs.issuer && *c != leaf
    }));
    out.into_iter()
        .map(|c| {
            let der = c.to_der().map_err(|e| LegacyBundleError::Certificate {
                annotation: CERTIFICATE_ANNOTATION,
                detail: e.to_string(),
            })?;
            Ok(json!({"rawBytes": STANDARD.encode(der)}))
        })
        .collect()
}

fn pem_chain(
    annotation: &'static str,
    pem: &str,
) -> Result<Vec<x509_cert::Certificate>, LegacyBundleError> {
    let bad = |detail: String| LegacyBundleError::Certificate { annotation, detail };
    let certs = x509_cert::Certificate::load_pem_chain(pem.as_bytes())
        .map_err(|e| bad(format!("not PEM certificates: {e}")))?;
    if certs.is_empty() || certs.len() > MAX_CHAIN {
        return Err(bad(format!(
            "{} certificates (expected 1 to {MAX_CHAIN})",
            certs.len()
        )));
    }
    // Re-parse from DER so that what is verified is exactly what was encoded.
    certs
        .into_iter()
        .map(|c| {
            let der = c.to_der().map_err(|e| bad(e.to_string()))?;
            x509_cert::Certificate::from_der(&der).map_err(|e| bad(e.to_string()))
        })
        .collect()
}

/// SHA-256 of the SubjectPublicKeyInfo of a DER certificate (the keyless signer's key
/// fingerprint, comparable with [`crate::keys::PublicKey::fingerprint`]).
pub(crate) fn certificate_key_fingerprint(der: &[u8]) -> Option<Digest> {
    let cert = x509_cert::Certificate::from_der(der).ok()?;
    let spki = cert.tbs_certificate.subject_public_key_info.to_der().ok()?;
    Some(Digest::sha256(&spki))
}

#[cfg(test)]
mod tests;
