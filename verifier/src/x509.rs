//! X.509 certificates: parsing them, and deciding whether a signing certificate chains to a root
//! CA the user trusts, at a given time, for a given use.
//!
//! This module owns the certificate rules of the certificate method of OpenSSF model signing
//! (the chain travels leaf first in the bundle; `certs[1:]` are untrusted intermediates; the
//! user names the root CAs) and is built to take Notation's rules next: both come down to "build
//! a path from the leaf to a given self-signed root through the offered intermediates, every
//! certificate valid at one instant, every issuer a CA allowed to issue, the leaf allowed to
//! sign".
//!
//! Two libraries do the parts that must not be hand-written:
//!
//! - `x509-cert` 0.2 parses DER and decodes names and extensions. 0.2 rather than 0.3 because the
//!   `sigstore-verify` family that will verify Sigstore bundles here is on 0.2 (der 0.7, spki
//!   0.7, const-oid 0.9), as is pkcs8 0.10 (`keys`); 0.3 would put a second copy of each of
//!   those crates in the build. Its one duplicate today, const-oid 0.9 beside 0.10 (from sha2
//!   0.11's digest), comes with sigstore-verify anyway.
//! - `rustls-webpki` (the rustls path validator, aws-lc-rs provider) checks every signature, the
//!   RFC 5280 constraints it knows (basicConstraints, pathLenConstraint, name constraints, unknown
//!   critical extensions, strict DER) and accepts only SHA-2 ECDSA P-256/P-384/P-521, RSA ≥ 2048
//!   (PKCS#1 v1.5 and PSS) and Ed25519 signatures. Nothing is accepted without its approval.
//!
//! What is hand-written, and why: PEM reading (lenient about line width and text between blocks,
//! like OpenSSL, but bounded), choosing the candidate paths by name (so that a failure can name
//! the certificate at fault: webpki reports only an error kind), and the rules webpki leaves to
//! its caller: the leaf's usage ([`Usage`]), `keyCertSign` on issuers, the root's own validity
//! and CA-ness (webpki treats a root as a bare name and key). Every error names the certificate
//! by subject and says what to do.
//!
//! Where tollgate is stricter than model_signing 1.1.1 (pyOpenSSL): validity is checked at the
//! time given (model_signing sets the store time to the leaf's notBefore, so it never sees an
//! expired chain); a CA certificate as leaf, SHA-1 or MD5 signatures, RSA issuer keys under 2048
//! bits and v1/v2 certificates below the root are refused. Like OpenSSL without `X509_V_FLAG_PARTIAL_CHAIN`, a
//! path must end at a self-issued root among those given, and unknown critical extensions fail.
//!
//! Bounds: a PEM input is at most [`MAX_PEM_INPUT`] bytes and [`MAX_BUNDLE_CERTS`] certificates,
//! a certificate at most [`MAX_CERT_DER`] bytes, a chain at most [`MAX_CHAIN_LEN`] certificates.
//!
//! ```no_run
//! use std::time::SystemTime;
//! use tollgate_verifier::x509::{Certificate, Usage, verify_chain};
//!
//! let chain = Certificate::parse_pem_bundle(&std::fs::read("chain.pem")?)?; // leaf first
//! let roots = Certificate::parse_pem_bundle(&std::fs::read("root-ca.pem")?)?;
//! let (leaf, intermediates) = chain.split_first().ok_or("empty chain")?;
//! let verified = verify_chain(leaf, intermediates, &roots, SystemTime::now(), Usage::CodeSigning)?;
//! println!("signed by {} under {}", verified.leaf().subject(), verified.root().subject());
//! // verified.leaf().spki_der() is the key that must verify the signature.
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod chain;
mod pem;

pub use chain::{Role, Usage, VerifiedChain, verify_chain};

use std::fmt;
use std::time::SystemTime;

use base64::Engine as _;
use x509_cert::der::oid::{AssociatedOid, ObjectIdentifier};
use x509_cert::der::{DateTime, Decode, Encode};
use x509_cert::ext::pkix::{BasicConstraints, ExtendedKeyUsage, KeyUsage, KeyUsages};

use crate::digest::Digest;

/// Largest PEM (or DER) input [`Certificate::parse_pem_bundle`] reads: 1 MiB, room for a
/// public CA bundle several times over.
pub const MAX_PEM_INPUT: usize = 1 << 20;
/// Most certificates one PEM input may hold.
pub const MAX_BUNDLE_CERTS: usize = 1000;
/// Largest DER certificate accepted: 64 KiB (real ones are 0.5–4 KiB).
pub const MAX_CERT_DER: usize = 64 * 1024;
/// Longest chain, leaf and root included: the leaf, at most six intermediates (rustls-webpki's
/// limit) and the root.
pub const MAX_CHAIN_LEN: usize = 8;
/// Most intermediate certificates [`verify_chain`] takes (unrelated ones may be among them).
pub const MAX_INTERMEDIATES: usize = 10;
/// Most root certificates [`verify_chain`] takes.
pub const MAX_ROOTS: usize = MAX_BUNDLE_CERTS;

/// Why certificates could not be read or a chain was not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum X509Error {
    /// The input is over its size limit.
    #[error("{what} is {size} bytes, over the {max}-byte limit; pass only the certificates needed")]
    TooLarge {
        /// What was too large ("PEM input", "certificate 3").
        what: String,
        /// Its size in bytes.
        size: usize,
        /// The limit.
        max: usize,
    },
    /// More certificates than allowed.
    #[error("{what} holds more than {max} certificates; pass only the certificates needed")]
    TooManyCertificates {
        /// What held them ("PEM input", "intermediates", "root CAs").
        what: &'static str,
        /// The limit.
        max: usize,
    },
    /// The input holds no certificate at all.
    #[error(
        "no certificate found: the input has no -----BEGIN CERTIFICATE----- block and is not a \
         DER certificate"
    )]
    NoCertificate,
    /// A PEM block is broken or is not a certificate.
    #[error("PEM block {block} (line {line}): {problem}")]
    Pem {
        /// 1-based index of the block in the input.
        block: usize,
        /// 1-based line of its BEGIN line.
        line: usize,
        /// What is wrong and what to do.
        problem: String,
    },
    /// Bytes that are not a DER X.509 certificate (garbage, truncated, trailing data, BER).
    #[error("{location} is not a valid X.509 certificate: {detail}")]
    Malformed {
        /// "certificate", or "certificate 2 of the PEM input (line 14)".
        location: String,
        /// What the decoder found.
        detail: String,
    },
    /// A certificate parses but one of its extensions is broken.
    #[error("certificate {subject}: {detail}")]
    BadExtension {
        /// Subject of the certificate.
        subject: String,
        /// What is wrong.
        detail: String,
    },
    /// The verification time cannot be represented (before 1970).
    #[error("verification time is before 1970-01-01; pass a real time")]
    TimeOutOfRange,
    /// A certificate of the chain had expired at the verification time.
    #[error(
        "{role} {subject} expired at {} (checked at {}); renew it or verify at a time inside its \
         validity",
        fmt_time(*not_after),
        fmt_time(*at)
    )]
    Expired {
        /// Where the certificate sits in the chain.
        role: Role,
        /// Its subject.
        subject: String,
        /// Its notAfter.
        not_after: SystemTime,
        /// The verification time.
        at: SystemTime,
    },
    /// A certificate of the chain was not yet valid at the verification time.
    #[error(
        "{role} {subject} is not valid before {} (checked at {}); check the clock or verify at a \
         time inside its validity",
        fmt_time(*not_before),
        fmt_time(*at)
    )]
    NotYetValid {
        /// Where the certificate sits in the chain.
        role: Role,
        /// Its subject.
        subject: String,
        /// Its notBefore.
        not_before: SystemTime,
        /// The verification time.
        at: SystemTime,
    },
    /// No chain of names leads from the leaf to a given root CA.
    #[error("no path from signing certificate {leaf} to a given root CA: {detail}")]
    NoPathToRoot {
        /// Subject of the signing certificate.
        leaf: String,
        /// Where the path ends, what is missing and what to pass.
        detail: String,
    },
    /// A certificate's signature does not verify with its issuer's key.
    #[error(
        "signature on {role} {subject} does not verify with the public key of its issuer \
         {issuer}; the certificate was altered or was issued by another CA of the same name"
    )]
    BadSignature {
        /// Where the certificate sits in the chain.
        role: Role,
        /// Its subject.
        subject: String,
        /// Subject of the issuer whose key was tried.
        issuer: String,
    },
    /// A certificate is signed with an algorithm, or its issuer has a key, that is not accepted.
    #[error(
        "{role} {subject} is signed with {detail}, which tollgate does not accept; accepted are \
         ECDSA P-256/P-384/P-521 and RSA 2048-8192 (PKCS#1 v1.5 or PSS) with SHA-2, and Ed25519"
    )]
    UnsupportedAlgorithm {
        /// Where the certificate sits in the chain.
        role: Role,
        /// Its subject.
        subject: String,
        /// The signature algorithm and issuer key type found.
        detail: String,
    },
    /// The signing certificate is not allowed for the requested use.
    #[error("signing certificate {subject} cannot be used for signing: {detail}")]
    NotForSigning {
        /// Subject of the signing certificate.
        subject: String,
        /// Which rule failed and what was found.
        detail: String,
    },
    /// An issuer or the leaf breaks a CA rule (basicConstraints, keyUsage, pathLenConstraint).
    #[error("{role} {subject} {detail}")]
    CaConstraint {
        /// Where the certificate sits in the chain.
        role: Role,
        /// Its subject.
        subject: String,
        /// The rule broken, e.g. "is not a CA (basicConstraints cA=false) but issued CN=leaf".
        detail: String,
    },
    /// Path validation rejected a certificate for a reason not covered above (an unknown
    /// critical extension, a name-constraint violation, a certificate version webpki refuses).
    #[error("{role} {subject} rejected by path validation: {reason}")]
    Rejected {
        /// Where the certificate sits in the chain.
        role: Role,
        /// Its subject.
        subject: String,
        /// What the validator said.
        reason: String,
    },
}

/// An X.509 certificate: its DER bytes and the fields tollgate reads.
///
/// Parsing checks that the bytes are canonical DER (re-encoding gives them back), so the names
/// and key shown are exactly what the issuer signed. Nothing here says the certificate is
/// trustworthy: that is [`verify_chain`]'s job.
#[derive(Clone)]
pub struct Certificate {
    der: Vec<u8>,
    spki: Vec<u8>,
    subject: String,
    issuer: String,
    subject_der: Vec<u8>,
    issuer_der: Vec<u8>,
    not_before: SystemTime,
    not_after: SystemTime,
    version_1: bool,
    signature_algorithm: ObjectIdentifier,
    ext: Extensions,
}

/// The extensions the chain rules read, decoded once.
#[derive(Clone, Debug, Default)]
struct Extensions {
    /// basicConstraints: (cA, pathLenConstraint).
    basic_constraints: Option<(bool, Option<u8>)>,
    key_usage: Option<KeyUsage>,
    /// extendedKeyUsage purposes; `None` without the extension.
    eku: Option<Vec<ObjectIdentifier>>,
}

impl Certificate {
    /// Parses one DER certificate; the whole input must be that certificate.
    pub fn from_der(der: &[u8]) -> Result<Self, X509Error> {
        Self::parse(der, || "certificate".to_owned())
    }

    /// Parses concatenated PEM `CERTIFICATE` blocks, in order; text around the blocks (as in CA
    /// bundles) is ignored. A single DER certificate is accepted too.
    ///
    /// Other PEM labels (a private key pasted into a chain file) are an error, not skipped.
    pub fn parse_pem_bundle(input: &[u8]) -> Result<Vec<Self>, X509Error> {
        if input.len() > MAX_PEM_INPUT {
            return Err(X509Error::TooLarge {
                what: "PEM input".to_owned(),
                size: input.len(),
                max: MAX_PEM_INPUT,
            });
        }
        // DER starts with SEQUENCE and a long-form length; PEM text never has a byte >= 0x80
        // second (an explanatory line starting with '0' would have 0x30 first).
        if let [0x30, len, ..] = input
            && *len >= 0x80
        {
            return Ok(vec![Self::from_der(input)?]);
        }
        let blocks = pem::blocks(input)?;
        if blocks.is_empty() {
            return Err(X509Error::NoCertificate);
        }
        let mut certs = Vec::with_capacity(blocks.len());
        for (i, block) in blocks.iter().enumerate() {
            let der = base64::engine::general_purpose::STANDARD
                .decode(&block.base64)
                .map_err(|e| X509Error::Pem {
                    block: i + 1,
                    line: block.line,
                    problem: format!("base64 is invalid ({e}); the file is damaged or truncated"),
                })?;
            certs.push(Self::parse(&der, || {
                format!(
                    "certificate {} of the PEM input (line {})",
                    i + 1,
                    block.line
                )
            })?);
        }
        Ok(certs)
    }

    fn parse(der: &[u8], location: impl Fn() -> String) -> Result<Self, X509Error> {
        if der.len() > MAX_CERT_DER {
            return Err(X509Error::TooLarge {
                what: location(),
                size: der.len(),
                max: MAX_CERT_DER,
            });
        }
        let malformed = |detail: String| X509Error::Malformed {
            location: location(),
            detail,
        };
        let cert = x509_cert::Certificate::from_der(der).map_err(|e| malformed(e.to_string()))?;
        // Strict DER: what we show and match must be byte for byte what was signed.
        match cert.to_der() {
            Ok(again) if again == der => {}
            _ => {
                return Err(malformed(
                    "not canonical DER (BER or non-minimal encoding)".into(),
                ));
            }
        }
        let tbs = &cert.tbs_certificate;
        let encode = |what: &str, r: x509_cert::der::Result<Vec<u8>>| {
            r.map_err(|e| malformed(format!("cannot re-encode its {what}: {e}")))
        };
        let subject = tbs.subject.to_string();
        let mut parsed = Self {
            der: der.to_vec(),
            spki: encode("public key", tbs.subject_public_key_info.to_der())?,
            issuer: tbs.issuer.to_string(),
            subject_der: encode("subject", tbs.subject.to_der())?,
            issuer_der: encode("issuer", tbs.issuer.to_der())?,
            not_before: tbs.validity.not_before.to_system_time(),
            not_after: tbs.validity.not_after.to_system_time(),
            version_1: tbs.version == x509_cert::Version::V1,
            signature_algorithm: cert.signature_algorithm.oid,
            ext: Extensions::default(),
            subject,
        };
        parsed.ext = parsed.decode_extensions(tbs.extensions.as_deref().unwrap_or_default())?;
        Ok(parsed)
    }

    fn decode_extensions(
        &self,
        exts: &[x509_cert::ext::Extension],
    ) -> Result<Extensions, X509Error> {
        let bad = |detail: String| X509Error::BadExtension {
            subject: self.label(),
            detail,
        };
        let mut out = Extensions::default();
        for (i, ext) in exts.iter().enumerate() {
            if exts[..i].iter().any(|e| e.extn_id == ext.extn_id) {
                return Err(bad(format!(
                    "extension {} appears twice (RFC 5280 allows one)",
                    ext.extn_id
                )));
            }
            let value = ext.extn_value.as_bytes();
            if ext.extn_id == BasicConstraints::OID {
                let bc = BasicConstraints::from_der(value)
                    .map_err(|e| bad(format!("basicConstraints is malformed: {e}")))?;
                out.basic_constraints = Some((bc.ca, bc.path_len_constraint));
            } else if ext.extn_id == KeyUsage::OID {
                let ku = KeyUsage::from_der(value)
                    .map_err(|e| bad(format!("keyUsage is malformed: {e}")))?;
                out.key_usage = Some(ku);
            } else if ext.extn_id == ExtendedKeyUsage::OID {
                let eku = ExtendedKeyUsage::from_der(value)
                    .map_err(|e| bad(format!("extendedKeyUsage is malformed: {e}")))?;
                if eku.0.is_empty() {
                    return Err(bad("extendedKeyUsage is empty".into()));
                }
                out.eku = Some(eku.0);
            }
        }
        Ok(out)
    }

    /// The certificate's DER bytes, as given.
    pub fn der(&self) -> &[u8] {
        &self.der
    }

    /// The DER `SubjectPublicKeyInfo`: build the signature-checking key from this.
    pub fn spki_der(&self) -> &[u8] {
        &self.spki
    }

    /// The subject name in RFC 4514 form (most specific attribute first, e.g.
    /// `CN=Example Test Root CA,O=Example Test`), with RFC 4514 escapes; attributes of unknown
    /// type or string kind appear as `OID=#hex`.
    pub fn subject(&self) -> String {
        self.subject.clone()
    }

    /// The issuer name, in the same form as [`Certificate::subject`].
    pub fn issuer(&self) -> String {
        self.issuer.clone()
    }

    /// Start of the validity period.
    pub fn not_before(&self) -> SystemTime {
        self.not_before
    }

    /// End of the validity period (inclusive).
    pub fn not_after(&self) -> SystemTime {
        self.not_after
    }

    /// SHA-256 of the DER bytes (Notation's `x509chain.thumbprint#S256` entries, `openssl x509
    /// -fingerprint -sha256`).
    pub fn sha256_fingerprint(&self) -> Digest {
        Digest::sha256(&self.der)
    }

    /// Whether basicConstraints says cA=true.
    pub fn is_ca(&self) -> bool {
        matches!(self.ext.basic_constraints, Some((true, _)))
    }

    /// Whether subject and issuer are the same name (byte for byte), as in a root CA. This
    /// does not check the self-signature.
    pub fn is_self_issued(&self) -> bool {
        self.subject_der == self.issuer_der
    }

    /// The subject for messages; a certificate with an empty subject (names only in
    /// subjectAltName) is described by its fingerprint instead.
    fn label(&self) -> String {
        if self.subject.is_empty() {
            let hex = self.sha256_fingerprint().hex();
            format!(
                "<empty subject, sha256 {}…>",
                hex.get(..16).unwrap_or_default()
            )
        } else {
            self.subject.clone()
        }
    }

    fn key_usage_has(&self, usage: KeyUsages) -> Option<bool> {
        self.ext.key_usage.map(|ku| ku.0.contains(usage))
    }
}

impl fmt::Debug for Certificate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Certificate")
            .field("subject", &self.subject)
            .field("issuer", &self.issuer)
            .field("sha256", &self.sha256_fingerprint())
            .finish_non_exhaustive()
    }
}

impl PartialEq for Certificate {
    fn eq(&self, other: &Self) -> bool {
        self.der == other.der
    }
}

impl Eq for Certificate {}

/// A time as RFC 3339 UTC, for messages.
fn fmt_time(t: SystemTime) -> String {
    match DateTime::from_system_time(t) {
        Ok(dt) => dt.to_string(),
        Err(_) => "a time outside 1970-9999".to_owned(),
    }
}

#[cfg(test)]
mod tests;
