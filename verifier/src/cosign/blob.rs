//! Blob signatures as `cosign sign-blob --key` writes them and `cosign verify-blob --key`
//! checks them (cosign 2.5.0).
//!
//! A blob signature is the key's signature over the file's bytes: ECDSA (ASN.1 DER) over
//! SHA-256 **whatever the curve** (cosign 2.5.0 loads file keys with SHA-256, so a P-384 key
//! signs SHA-256, not SHA-384), RSA PKCS#1 v1.5 over SHA-256, pure Ed25519. It travels in one
//! of three forms:
//!
//! - a signature file: base64 of the signature (cosign's default) or the raw bytes
//!   (`--b64=false`);
//! - cosign's legacy bundle, `{"base64Signature":"…"}` (plus `cert` and `rekorBundle` when a
//!   certificate or transparency log was used);
//! - a Sigstore bundle (`--new-bundle-format`): `messageSignature` with `messageDigest`
//!   (`SHA2_256` of the blob, a hint that must still match) and the signature;
//!   `verificationMaterial.publicKey.hint` is base64 SHA-256 of the key's DER
//!   SubjectPublicKeyInfo.
//!
//! ECDSA and RSA blobs are never read whole into memory: SHA-256 runs on the hashing engine
//! (memory-mapped, SHA-NI) and the key signs or verifies the digest
//! ([`Signer::sign_digest`], [`PublicKey::verify_digest`]); a bundle's SHA-384/512
//! `messageDigest` streams through aws-lc. Ed25519 signs the message itself, so Ed25519 blobs
//! (and blobs signed on PKCS#11 tokens) are read into memory, at most [`MAX_IN_MEMORY_BLOB`]
//! bytes.
//!
//! Only the key is checked: transparency-log entries, timestamps and certificates are not
//! verified here (keyless verification arrives with its own issue). [`verify`] says so in
//! [`Verified::notes`], and refuses bundles signed with a certificate.

use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use base64::Engine as _;
use serde_json::{Value, json};

use crate::bundle::{Bundle, BundleError, Content, MAX_BUNDLE_BYTES, VerificationMaterial};
use crate::digest::engine::{self, HashError};
use crate::digest::{Digest, HashAlgorithm};
use crate::dsse::decode_b64;
use crate::keys::{KeyAlgorithm, KeyError, PublicKey, Signer};
use aws_lc_rs::digest::SHA256;

/// The largest blob read into memory, for schemes that cannot start from a digest (1 GiB).
pub const MAX_IN_MEMORY_BLOB: u64 = 1 << 30;

/// The largest signature file read (64 KiB; an RSA-8192 signature in base64 is 1.4 KB).
pub const MAX_SIGNATURE_FILE: u64 = 64 << 10;

/// Read size when streaming SHA-384/512.
const CHUNK: usize = 1 << 20;

/// `messageDigest.algorithm` values this module reads, with their hashes.
const MESSAGE_DIGESTS: [(&str, &aws_lc_rs::digest::Algorithm); 3] = [
    ("SHA2_256", &SHA256),
    ("SHA2_384", &aws_lc_rs::digest::SHA384),
    ("SHA2_512", &aws_lc_rs::digest::SHA512),
];

/// Why a blob could not be signed or verified.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BlobError {
    /// The blob is not a regular file.
    #[error("{}: not a regular file", path.display())]
    NotAFile {
        /// The path given.
        path: PathBuf,
    },
    /// Reading the blob failed.
    #[error("{}: cannot read: {err}", path.display())]
    Io {
        /// The blob.
        path: PathBuf,
        /// What the OS said.
        err: std::io::Error,
    },
    /// Hashing the blob failed (unreadable, or changed while hashed).
    #[error(transparent)]
    Hash(#[from] HashError),
    /// The blob changed between two passes over it.
    #[error(
        "{}: file changed while it was hashed; no signature was made or checked — re-run once nothing writes to it",
        path.display()
    )]
    Changed {
        /// The blob.
        path: PathBuf,
    },
    /// The blob must be read into memory and is too large.
    #[error(
        "{}: {size} bytes; {why} signs the whole message, so tollgate reads it into memory, at most {limit} bytes (an ECDSA or RSA key file signs blobs of any size)",
        path.display()
    )]
    TooLarge {
        /// The blob.
        path: PathBuf,
        /// Its size.
        size: u64,
        /// [`MAX_IN_MEMORY_BLOB`].
        limit: u64,
        /// Why it is read whole, e.g. `an Ed25519 key`.
        why: String,
    },
    /// The signer failed.
    #[error("signing failed: {0}")]
    Sign(#[source] KeyError),
    /// The signature file or bundle is malformed.
    #[error("{0}")]
    Malformed(String),
    /// The bundle is signed with a certificate.
    #[error(
        "the bundle carries a certificate (keyless), not a key signature: verify it with \
         --certificate-identity and --certificate-oidc-issuer instead of --key"
    )]
    Keyless,
    /// The bundle holds something other than a blob signature.
    #[error(
        "the bundle holds a DSSE envelope (an attestation, as `cosign attest-blob` writes), not a blob signature"
    )]
    NotMessageSignature,
    /// `messageDigest.algorithm` is not one tollgate computes.
    #[error(
        "bundle messageDigest algorithm {0:?} is not supported (expected SHA2_256, SHA2_384 or SHA2_512)"
    )]
    DigestAlgorithm(String),
    /// The bundle's `messageDigest` is not the blob's digest.
    #[error(
        "the blob's {algorithm} digest ({actual}) differs from the bundle's messageDigest ({expected}): the blob changed, or the bundle is for another blob"
    )]
    DigestMismatch {
        /// `messageDigest.algorithm`.
        algorithm: String,
        /// The bundle's digest, base64.
        expected: String,
        /// The blob's digest, base64.
        actual: String,
    },
    /// A legacy bundle's `cert` names another public key.
    #[error("the bundle's cert field holds public key {bundle}, not --key {given}")]
    OtherKey {
        /// The bundle's key fingerprint (`sha256:…` of its SubjectPublicKeyInfo).
        bundle: String,
        /// The given key's fingerprint.
        given: String,
    },
    /// The signature does not verify with the key.
    #[error(
        "signature does not verify with key {fingerprint} (signed by another key, or the blob or signature changed)"
    )]
    BadSignature {
        /// `sha256:…` of the key's SubjectPublicKeyInfo.
        fingerprint: String,
    },
}

impl BlobError {
    /// Whether this error is the answer "not verified" (exit 1) rather than "could not
    /// answer" (an unreadable or too large blob, a failing signer: exit 2).
    pub fn is_rejection(&self) -> bool {
        matches!(
            self,
            Self::Malformed(_)
                | Self::Keyless
                | Self::NotMessageSignature
                | Self::DigestAlgorithm(_)
                | Self::DigestMismatch { .. }
                | Self::OtherKey { .. }
                | Self::BadSignature { .. }
        )
    }
}

/// A signature over a blob.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BlobSignature {
    /// SHA-256 of the blob (the Sigstore bundle's `messageDigest`).
    pub sha256: Digest,
    /// The signature bytes (ECDSA: ASN.1 DER).
    pub signature: Vec<u8>,
}

impl BlobSignature {
    /// Base64 of the signature: what `cosign sign-blob` prints and `--output-signature` writes.
    pub fn to_base64(&self) -> String {
        b64(&self.signature)
    }

    /// cosign's legacy bundle as cosign 2.5.0 writes it with `--key --tlog-upload=false`:
    /// `{"base64Signature":"…"}`, no trailing newline.
    pub fn legacy_bundle_json(&self) -> Vec<u8> {
        serde_json::to_vec(&json!({"base64Signature": self.to_base64()}))
            .expect("a Value always serializes")
    }

    /// A Sigstore bundle v0.3 with `messageSignature`, as `cosign sign-blob --key
    /// --new-bundle-format` writes it: `publicKey.hint` = base64 SHA-256 of the key's DER
    /// SubjectPublicKeyInfo, `messageDigest` SHA2_256, no `tlogEntries`; compact JSON, no
    /// trailing newline (cosign's protojson puts random spaces after some commas; ignored by
    /// every reader).
    pub fn sigstore_bundle_json(&self, key: &PublicKey) -> Vec<u8> {
        let bundle = json!({
            "mediaType": crate::bundle::MediaType::V0_3.as_str(),
            "verificationMaterial": {"publicKey": {"hint": key_hint(key)}},
            "messageSignature": {
                "messageDigest": {"algorithm": "SHA2_256", "digest": b64(self.sha256.as_bytes())},
                "signature": self.to_base64(),
            },
        });
        serde_json::to_vec(&bundle).expect("a Value always serializes")
    }
}

/// cosign's `publicKey.hint`: base64 SHA-256 of the DER SubjectPublicKeyInfo.
pub fn key_hint(key: &PublicKey) -> String {
    b64(key.fingerprint().as_bytes())
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// Signs the file at `path` as `cosign sign-blob --key` does.
///
/// With an ECDSA or RSA key file the blob is hashed, never loaded; Ed25519 keys and PKCS#11
/// tokens sign the message, so their blobs are read into memory (at most
/// [`MAX_IN_MEMORY_BLOB`] bytes).
pub fn sign(path: &Path, signer: &dyn Signer) -> Result<BlobSignature, BlobError> {
    let algorithm = signer.public_key().algorithm();
    if algorithm != KeyAlgorithm::Ed25519 {
        let hashed = Blob::open(path)?.hash(None)?;
        if let Some(signature) = signer.sign_digest(&SHA256, hashed.sha256.as_bytes()) {
            return Ok(BlobSignature {
                sha256: hashed.sha256,
                signature: signature.map_err(BlobError::Sign)?,
            });
        }
    }
    let why = match algorithm {
        KeyAlgorithm::Ed25519 => "an Ed25519 key".to_owned(),
        other => format!("this signer ({other} on a token)"),
    };
    let message = Blob::open(path)?.read_all(&why)?;
    let signature = signer.sign(&message).map_err(BlobError::Sign)?;
    Ok(BlobSignature {
        sha256: Digest::sha256(&message),
        signature,
    })
}

/// Where a blob signature to verify comes from.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum SignatureSource {
    /// A bare signature (from a signature file).
    Signature(Vec<u8>),
    /// cosign's legacy bundle.
    LegacyBundle(LegacyBundle),
    /// A Sigstore bundle.
    Bundle(Box<Bundle>),
}

impl SignatureSource {
    /// What kind of signature this is: `signature`, `cosign-bundle` or `sigstore-bundle`.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Signature(_) => "signature",
            Self::LegacyBundle(_) => "cosign-bundle",
            Self::Bundle(_) => "sigstore-bundle",
        }
    }
}

/// cosign's legacy `--bundle` file (`LocalSignedPayload`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LegacyBundle {
    /// `base64Signature`, decoded.
    pub signature: Vec<u8>,
    /// `cert`, decoded from base64: a PEM certificate (keyless) or public key (cosign HEAD
    /// with a key); `None` when absent or empty.
    pub cert: Option<Vec<u8>>,
    /// Whether a `rekorBundle` (transparency-log entry) is present.
    pub has_rekor_bundle: bool,
}

/// Parses a signature file: base64 (surrounding whitespace allowed, as cosign writes it) or the
/// raw signature (`cosign sign-blob --b64=false`).
pub fn parse_signature(bytes: &[u8]) -> Result<Vec<u8>, BlobError> {
    if bytes.len() as u64 > MAX_SIGNATURE_FILE {
        return Err(BlobError::Malformed(format!(
            "signature file is {} bytes; signatures are at most {MAX_SIGNATURE_FILE}",
            bytes.len()
        )));
    }
    let text = bytes.trim_ascii();
    if text.is_empty() {
        return Err(BlobError::Malformed("signature file is empty".into()));
    }
    // A raw signature (Ed25519: 64 arbitrary bytes) may start with `{` too: only refuse JSON.
    if text.first() == Some(&b'{') && serde_json::from_slice::<serde::de::IgnoredAny>(text).is_ok()
    {
        return Err(BlobError::Malformed(
            "the signature file is JSON: pass a bundle with --bundle".into(),
        ));
    }
    let is_b64 = text
        .iter()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'=' | b'\n' | b'\r'));
    if is_b64
        && let Ok(text) = std::str::from_utf8(text)
        && let Ok(signature) = decode_b64(text)
    {
        return Ok(signature);
    }
    Ok(bytes.to_vec())
}

/// Parses a bundle file: a Sigstore bundle (it has a `mediaType`) or cosign's legacy bundle
/// (it has `base64Signature`).
pub fn parse_bundle(bytes: &[u8]) -> Result<SignatureSource, BlobError> {
    if bytes.len() as u64 > MAX_BUNDLE_BYTES {
        return Err(BlobError::Malformed(format!(
            "bundle is larger than {MAX_BUNDLE_BYTES} bytes"
        )));
    }
    let value: Value = serde_json::from_slice(bytes)
        .map_err(|e| BlobError::Malformed(format!("bundle is not JSON: {e}")))?;
    let Some(object) = value.as_object() else {
        return Err(BlobError::Malformed("bundle is not a JSON object".into()));
    };
    if object.contains_key("mediaType") {
        let bundle =
            Bundle::parse(bytes).map_err(|e: BundleError| BlobError::Malformed(e.to_string()))?;
        return Ok(SignatureSource::Bundle(Box::new(bundle)));
    }
    let Some(sig) = object.get("base64Signature") else {
        return Err(BlobError::Malformed(
            "bundle has neither mediaType (Sigstore bundle) nor base64Signature (cosign bundle)"
                .into(),
        ));
    };
    let signature = sig
        .as_str()
        .ok_or_else(|| BlobError::Malformed("bundle: base64Signature is not a string".into()))
        .and_then(|s| {
            decode_b64(s).map_err(|e| BlobError::Malformed(format!("bundle: base64Signature: {e}")))
        })?;
    let cert = match object.get("cert") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if s.is_empty() => None,
        Some(Value::String(s)) => {
            Some(decode_b64(s).map_err(|e| BlobError::Malformed(format!("bundle: cert: {e}")))?)
        }
        Some(_) => return Err(BlobError::Malformed("bundle: cert is not a string".into())),
    };
    Ok(SignatureSource::LegacyBundle(LegacyBundle {
        signature,
        cert,
        has_rekor_bundle: object.get("rekorBundle").is_some_and(|v| !v.is_null()),
    }))
}

/// A verified blob signature.
#[derive(Clone, Debug)]
pub struct Verified {
    /// SHA-256 of the blob.
    pub sha256: Digest,
    /// SHA-256 of the key's SubjectPublicKeyInfo.
    pub signer: Digest,
    /// What was not checked, for people (transparency-log entries, timestamps).
    pub notes: Vec<String>,
}

/// Verifies a blob signature with `key`, as `cosign verify-blob --key --insecure-ignore-tlog`
/// does: the signature over the file's bytes and, for Sigstore bundles, that `messageDigest`
/// is the file's digest. Certificates are refused ([`BlobError::Keyless`]).
pub fn verify(
    path: &Path,
    key: &PublicKey,
    source: &SignatureSource,
) -> Result<Verified, BlobError> {
    let only_key = "only the signature with --key is checked";
    let mut notes = Vec::new();
    let mut expected_digest = None;
    let signature = match source {
        SignatureSource::Signature(sig) => sig,
        SignatureSource::LegacyBundle(legacy) => {
            if let Some(cert) = &legacy.cert {
                check_legacy_cert(cert, key)?;
            }
            if legacy.has_rekor_bundle {
                notes.push(format!(
                    "the bundle's Rekor entry (rekorBundle) is not verified; {only_key}"
                ));
            }
            &legacy.signature
        }
        SignatureSource::Bundle(bundle) => {
            match &bundle.verification_material {
                VerificationMaterial::PublicKey { .. } => {}
                _ => return Err(BlobError::Keyless),
            }
            let Content::MessageSignature(m) = &bundle.content else {
                return Err(BlobError::NotMessageSignature);
            };
            let hash = MESSAGE_DIGESTS
                .iter()
                .find(|(name, _)| *name == m.digest_algorithm)
                .map(|(_, hash)| *hash)
                .ok_or_else(|| BlobError::DigestAlgorithm(m.digest_algorithm.clone()))?;
            if !bundle.tlog_entries.is_empty() {
                notes.push(format!(
                    "the bundle's {} transparency-log entries are not verified; {only_key}",
                    bundle.tlog_entries.len()
                ));
            }
            expected_digest = Some((m.digest_algorithm.as_str(), hash, m.digest.as_slice()));
            &m.signature
        }
    };
    let algorithm = key.algorithm();
    let fingerprint = key.fingerprint();
    let bad = |_| BlobError::BadSignature {
        fingerprint: fingerprint.to_string(),
    };
    let extra = expected_digest.map(|(_, hash, _)| hash);
    let (sha256, actual_extra) = if algorithm != KeyAlgorithm::Ed25519 {
        let hashed = Blob::open(path)?.hash(extra)?;
        key.verify_digest(&SHA256, hashed.sha256.as_bytes(), signature)
            .map_err(bad)?;
        (hashed.sha256, hashed.extra)
    } else {
        let message = Blob::open(path)?.read_all(&format!("an {algorithm} key"))?;
        key.verify(&message, signature).map_err(bad)?;
        let extra = extra.map(|h| aws_lc_rs::digest::digest(h, &message).as_ref().to_vec());
        (Digest::sha256(&message), extra)
    };
    if let (Some((name, _, expected)), Some(actual)) = (expected_digest, actual_extra)
        && expected != actual.as_slice()
    {
        return Err(BlobError::DigestMismatch {
            algorithm: name.to_owned(),
            expected: b64(expected),
            actual: b64(&actual),
        });
    }
    Ok(Verified {
        sha256,
        signer: fingerprint,
        notes,
    })
}

/// A legacy bundle's `cert`: a certificate means keyless; a public key must be `key`.
fn check_legacy_cert(cert: &[u8], key: &PublicKey) -> Result<(), BlobError> {
    let text = String::from_utf8_lossy(cert);
    if text.contains("-----BEGIN CERTIFICATE-----") {
        return Err(BlobError::Keyless);
    }
    let named = PublicKey::from_pem(cert).map_err(|e| {
        BlobError::Malformed(format!(
            "bundle: cert is neither a certificate nor a public key: {e}"
        ))
    })?;
    if &named != key {
        return Err(BlobError::OtherKey {
            bundle: named.fingerprint().to_string(),
            given: key.fingerprint().to_string(),
        });
    }
    Ok(())
}

/// What a blob hashes to.
struct Hashed {
    sha256: Digest,
    /// The digest asked for as `extra`, if any.
    extra: Option<Vec<u8>>,
}

/// A blob on disk, with the size and modification time it had when opened.
struct Blob<'a> {
    path: &'a Path,
    len: u64,
    modified: Option<SystemTime>,
}

impl<'a> Blob<'a> {
    fn open(path: &'a Path) -> Result<Self, BlobError> {
        let meta = std::fs::metadata(path).map_err(|err| BlobError::Io {
            path: path.to_owned(),
            err,
        })?;
        if !meta.is_file() {
            return Err(BlobError::NotAFile {
                path: path.to_owned(),
            });
        }
        Ok(Self {
            path,
            len: meta.len(),
            modified: meta.modified().ok(),
        })
    }

    fn io(&self) -> impl Fn(std::io::Error) -> BlobError + '_ {
        |err| BlobError::Io {
            path: self.path.to_owned(),
            err,
        }
    }

    /// Fails if the file is no longer what [`Blob::open`] saw.
    fn check_unchanged(&self, file: &File) -> Result<(), BlobError> {
        let meta = file.metadata().map_err(self.io())?;
        if meta.len() != self.len || meta.modified().ok() != self.modified {
            return Err(BlobError::Changed {
                path: self.path.to_owned(),
            });
        }
        Ok(())
    }

    /// SHA-256 on the engine, plus `extra` (streamed when it is not SHA-256). The file never
    /// sits in memory.
    fn hash(
        &self,
        extra: Option<&'static aws_lc_rs::digest::Algorithm>,
    ) -> Result<Hashed, BlobError> {
        let sha256 = engine::hash_file(self.path, HashAlgorithm::Sha256)?;
        let extra = match extra {
            None => None,
            Some(hash) if *hash == SHA256 => Some(sha256.as_bytes().to_vec()),
            Some(hash) => self.stream(&[hash])?.pop(),
        };
        Ok(Hashed { sha256, extra })
    }

    /// Streams the file through several aws-lc digests at once.
    fn stream(
        &self,
        hashes: &[&'static aws_lc_rs::digest::Algorithm],
    ) -> Result<Vec<Vec<u8>>, BlobError> {
        let mut file = File::open(self.path).map_err(self.io())?;
        self.check_unchanged(&file)?;
        let mut contexts: Vec<_> = hashes
            .iter()
            .map(|h| aws_lc_rs::digest::Context::new(h))
            .collect();
        let mut buf = vec![0u8; CHUNK];
        let mut total = 0u64;
        loop {
            let n = match file.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(self.io()(e)),
            };
            total += n as u64;
            for c in &mut contexts {
                c.update(&buf[..n]);
            }
        }
        if total != self.len {
            return Err(BlobError::Changed {
                path: self.path.to_owned(),
            });
        }
        self.check_unchanged(&file)?;
        Ok(contexts
            .into_iter()
            .map(|c| c.finish().as_ref().to_vec())
            .collect())
    }

    /// The whole file, for schemes that sign the message itself; `why` names the scheme.
    fn read_all(&self, why: &str) -> Result<Vec<u8>, BlobError> {
        if self.len > MAX_IN_MEMORY_BLOB {
            return Err(BlobError::TooLarge {
                path: self.path.to_owned(),
                size: self.len,
                limit: MAX_IN_MEMORY_BLOB,
                why: why.to_owned(),
            });
        }
        let file = File::open(self.path).map_err(self.io())?;
        self.check_unchanged(&file)?;
        let mut bytes = Vec::with_capacity(usize::try_from(self.len).unwrap_or(0));
        (&file)
            .take(MAX_IN_MEMORY_BLOB + 1)
            .read_to_end(&mut bytes)
            .map_err(self.io())?;
        if bytes.len() as u64 != self.len {
            return Err(BlobError::Changed {
                path: self.path.to_owned(),
            });
        }
        self.check_unchanged(&file)?;
        Ok(bytes)
    }
}

#[cfg(test)]
mod tests;
