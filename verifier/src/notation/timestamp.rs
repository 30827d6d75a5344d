//! RFC 3161 timestamp countersignatures (`io.cncf.notary.timestampSignature`): a CMS SignedData
//! TimeStampToken over the hash of the envelope's raw signature bytes, verified against the
//! roots of the policy's `tsa` stores.
//!
//! Checks, in order, each with its own error: content type signedData; encapsulated content
//! id-ct-TSTInfo; TSTInfo parses; messageImprint = hash(signature) with its SHA-2 algorithm;
//! the signer certificate is in the token (by issuer and serial, or subject key identifier);
//! signed attributes hold content-type id-ct-TSTInfo, the message-digest of the TSTInfo and a
//! signing-certificate(-v2) naming the signer's certificate hash; the CMS signature verifies
//! (RSA PKCS#1 v1.5 or ECDSA with SHA-2); a chain from the signer through the token's
//! certificates reaches a root of a `tsa` store; the chain meets the Notary timestamping rules
//! ([`super::x509::validate_timestamping_chain`]); every certificate is valid at genTime.
//! Accuracy is the token's, or 1 s under the RFC 3628 baseline policy without one.
//!
//! Bounds: a token is at most [`MAX_TOKEN_SIZE`] bytes and carries at most
//! [`MAX_TOKEN_CERTS`] certificates.

use std::time::{Duration, SystemTime};

use cms::content_info::ContentInfo;
use cms::signed_data::{CertificateSet, SignedData, SignerIdentifier};
use x509_cert::der::asn1::{AnyRef, GeneralizedTime, Int, ObjectIdentifier, OctetString};
use x509_cert::der::{
    Decode as _, Encode as _, Reader as _, SliceReader, Tag, TagNumber, Tagged as _,
};
use x509_cert::spki::AlgorithmIdentifierOwned;

use crate::x509::Certificate;

use super::NotationError;
use super::alg::DigestAlgorithm;

/// Largest token read: 256 KiB.
pub const MAX_TOKEN_SIZE: usize = 256 * 1024;
/// Most certificates a token may carry.
pub const MAX_TOKEN_CERTS: usize = 16;

const OID_SIGNED_DATA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.7.2");
const OID_TST_INFO: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.16.1.4");
const OID_CONTENT_TYPE: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.3");
const OID_MESSAGE_DIGEST: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.4");
const OID_SIGNING_CERT: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.16.2.12");
const OID_SIGNING_CERT_V2: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.16.2.47");
const OID_SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.1");
const OID_SHA384: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.2");
const OID_SHA512: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.3");
const OID_RSA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");
const OID_SHA256_RSA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.11");
const OID_SHA384_RSA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.12");
const OID_SHA512_RSA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.13");
const OID_ECDSA_SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.2");
const OID_ECDSA_SHA384: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.3");
const OID_ECDSA_SHA512: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.4");
const OID_EC_PUBLIC_KEY: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
const OID_SKI: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.14");
/// ETSI RFC 3628 baseline time-stamp policy: accuracy 1 s when the token states none.
const OID_BASELINE_POLICY: ObjectIdentifier = ObjectIdentifier::new_unwrap("0.4.0.2023.1.1");

/// The TSTInfo fields verification reads (RFC 3161 section 2.4.2).
struct TstInfo {
    version: u8,
    policy: ObjectIdentifier,
    imprint_algorithm: ObjectIdentifier,
    imprint: Vec<u8>,
    gen_time: GeneralizedTime,
    /// (seconds, millis, micros)
    accuracy: Option<(u64, u64, u64)>,
}

impl TstInfo {
    fn from_der(bytes: &[u8]) -> x509_cert::der::Result<Self> {
        let mut reader = SliceReader::new(bytes)?;
        let tst = reader.sequence(|r| {
            let version = u8::decode(r)?;
            let policy = ObjectIdentifier::decode(r)?;
            let (imprint_algorithm, imprint) = r.sequence(|r| {
                let alg = AlgorithmIdentifierOwned::decode(r)?;
                let hash = OctetString::decode(r)?;
                Ok((alg.oid, hash.into_bytes()))
            })?;
            let _serial = Int::decode(r)?;
            let gen_time = GeneralizedTime::decode(r)?;
            let mut accuracy = None;
            if !r.is_finished() && r.peek_tag()? == Tag::Sequence {
                accuracy = Some(r.sequence(|r| {
                    let mut acc = (0u64, 0u64, 0u64);
                    while !r.is_finished() {
                        let any = AnyRef::decode(r)?;
                        let value = unsigned(any.value());
                        match any.tag() {
                            Tag::Integer => acc.0 = value,
                            Tag::ContextSpecific { number, .. } if number == TagNumber::N0 => {
                                acc.1 = value;
                            }
                            Tag::ContextSpecific { number, .. } if number == TagNumber::N1 => {
                                acc.2 = value;
                            }
                            _ => {}
                        }
                    }
                    Ok(acc)
                })?);
            }
            // ordering, nonce, tsa, extensions: not used.
            while !r.is_finished() {
                AnyRef::decode(r)?;
            }
            Ok(Self {
                version,
                policy,
                imprint_algorithm,
                imprint,
                gen_time,
                accuracy,
            })
        })?;
        reader.finish(tst)
    }
}

/// A small big-endian unsigned integer (saturating).
fn unsigned(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0u64, |acc, b| {
        acc.saturating_mul(256).saturating_add(u64::from(*b))
    })
}

/// A verified timestamp.
#[derive(Clone, Debug)]
pub struct Timestamp {
    /// `genTime`.
    pub gen_time: SystemTime,
    /// The accuracy (± around genTime).
    pub accuracy: Duration,
    /// The TSA chain, signer first, ending at the trusted root.
    pub chain: Vec<Certificate>,
}

impl Timestamp {
    /// Earliest time the timestamp may stand for.
    pub fn earliest(&self) -> SystemTime {
        self.gen_time
            .checked_sub(self.accuracy)
            .unwrap_or(self.gen_time)
    }

    /// Latest time the timestamp may stand for.
    pub fn latest(&self) -> SystemTime {
        self.gen_time + self.accuracy
    }
}

fn terr(detail: impl Into<String>) -> NotationError {
    NotationError::timestamp(detail)
}

fn digest_for(oid: &ObjectIdentifier) -> Option<DigestAlgorithm> {
    match *oid {
        OID_SHA256 => Some(DigestAlgorithm::Sha256),
        OID_SHA384 => Some(DigestAlgorithm::Sha384),
        OID_SHA512 => Some(DigestAlgorithm::Sha512),
        _ => None,
    }
}

/// Verifies `token` as the countersignature of `signature` and its TSA chain against
/// `tsa_roots`.
pub fn verify(
    token: &[u8],
    signature: &[u8],
    tsa_roots: &[Certificate],
) -> Result<Timestamp, NotationError> {
    if token.len() > MAX_TOKEN_SIZE {
        return Err(NotationError::TooLarge {
            what: "timestamp token".into(),
            size: token.len(),
            max: MAX_TOKEN_SIZE,
        });
    }
    let ci = ContentInfo::from_der(token)
        .map_err(|e| terr(format!("the token is not a CMS ContentInfo: {e}")))?;
    if ci.content_type != OID_SIGNED_DATA {
        return Err(terr(format!(
            "unexpected content type {} (expected signedData)",
            ci.content_type
        )));
    }
    let sd: SignedData = ci
        .content
        .decode_as()
        .map_err(|e| terr(format!("the token's SignedData is malformed: {e}")))?;
    if sd.encap_content_info.econtent_type != OID_TST_INFO {
        return Err(terr(format!(
            "unexpected content type: {} (expected id-ct-TSTInfo)",
            sd.encap_content_info.econtent_type
        )));
    }
    let econtent = sd
        .encap_content_info
        .econtent
        .as_ref()
        .ok_or_else(|| terr("the token has no TSTInfo"))?;
    let tst_der = OctetString::from_der(&econtent.to_der().map_err(|e| terr(e.to_string()))?)
        .map_err(|e| {
            terr(format!(
                "the TSTInfo is not wrapped in an OCTET STRING: {e}"
            ))
        })?
        .into_bytes();
    let tst =
        TstInfo::from_der(&tst_der).map_err(|e| terr(format!("cannot parse the TSTInfo: {e}")))?;
    if tst.version != 1 {
        return Err(terr(format!("TSTInfo version {} is not 1", tst.version)));
    }
    let imprint_alg = digest_for(&tst.imprint_algorithm).ok_or_else(|| {
        terr(format!(
            "messageImprint hash {} is not SHA-256/384/512",
            tst.imprint_algorithm
        ))
    })?;
    let certs = token_certificates(sd.certificates.as_ref())?;
    let [signer_info] = sd.signer_infos.0.as_slice() else {
        return Err(terr("the token must have exactly one signer"));
    };
    let signer = find_signer(&signer_info.sid, &certs)?;
    let attrs = signer_info
        .signed_attrs
        .as_ref()
        .ok_or_else(|| terr("the token's signer has no signed attributes"))?;
    let digest_alg = digest_for(&signer_info.digest_alg.oid).ok_or_else(|| {
        terr(format!(
            "CMS digest algorithm {} is not SHA-256/384/512",
            signer_info.digest_alg.oid
        ))
    })?;
    check_signed_attributes(attrs, &tst_der, digest_alg, signer)?;
    let signed = attrs.to_der().map_err(|e| terr(e.to_string()))?;
    if !verify_cms_signature(
        signer,
        &signer_info.signature_algorithm.oid,
        digest_alg,
        &signed,
        signer_info.signature.as_bytes(),
    ) {
        return Err(terr(format!(
            "cms verification failure: the token signature does not verify with the key of \
             {}",
            signer.subject()
        )));
    }
    if imprint_alg.digest(signature) != tst.imprint {
        return Err(terr(
            "invalid TSTInfo: mismatched message (the token does not timestamp this signature)",
        ));
    }
    let gen_time = tst.gen_time.to_system_time();
    let chain = build_chain(signer, &certs, tsa_roots)?;
    super::x509::validate_timestamping_chain(&chain)
        .map_err(|e| terr(format!("TSA certificate chain: {e}")))?;
    for cert in &chain {
        if gen_time < cert.not_before() || gen_time > cert.not_after() {
            return Err(terr(format!(
                "TSA certificate {} is not valid at the timestamp time {}",
                cert.subject(),
                super::format_rfc3339(gen_time)
            )));
        }
    }
    Ok(Timestamp {
        gen_time,
        accuracy: accuracy(&tst),
        chain,
    })
}

fn accuracy(tst: &TstInfo) -> Duration {
    match tst.accuracy {
        Some((s, ms, us)) => {
            Duration::from_secs(s) + Duration::from_millis(ms) + Duration::from_micros(us)
        }
        None if tst.policy == OID_BASELINE_POLICY => Duration::from_secs(1),
        None => Duration::ZERO,
    }
}

fn token_certificates(set: Option<&CertificateSet>) -> Result<Vec<Certificate>, NotationError> {
    let mut out = Vec::new();
    for choice in set.map(|s| s.0.iter()).into_iter().flatten() {
        if let cms::cert::CertificateChoices::Certificate(c) = choice {
            if out.len() >= MAX_TOKEN_CERTS {
                return Err(terr(format!(
                    "the token carries more than {MAX_TOKEN_CERTS} certificates"
                )));
            }
            let der = c.to_der().map_err(|e| terr(e.to_string()))?;
            out.push(
                Certificate::from_der(&der)
                    .map_err(|e| terr(format!("a certificate in the token: {e}")))?,
            );
        }
    }
    Ok(out)
}

fn find_signer<'a>(
    sid: &SignerIdentifier,
    certs: &'a [Certificate],
) -> Result<&'a Certificate, NotationError> {
    let found = certs.iter().find(|cert| {
        let Ok(c) = x509_cert::Certificate::from_der(cert.der()) else {
            return false;
        };
        match sid {
            SignerIdentifier::IssuerAndSerialNumber(ias) => {
                c.tbs_certificate.issuer == ias.issuer
                    && c.tbs_certificate.serial_number == ias.serial_number
            }
            SignerIdentifier::SubjectKeyIdentifier(ski) => c
                .tbs_certificate
                .extensions
                .as_deref()
                .unwrap_or_default()
                .iter()
                .any(|e| {
                    e.extn_id == OID_SKI
                        && OctetString::from_der(e.extn_value.as_bytes())
                            .is_ok_and(|v| v.as_bytes() == ski.0.as_bytes())
                }),
        }
    });
    found.ok_or_else(|| terr("signing certificate not found in the timestamp token"))
}

fn check_signed_attributes(
    attrs: &x509_cert::attr::Attributes,
    tst_der: &[u8],
    digest_alg: DigestAlgorithm,
    signer: &Certificate,
) -> Result<(), NotationError> {
    let single = |oid: ObjectIdentifier| {
        attrs
            .iter()
            .find(|a| a.oid == oid)
            .and_then(|a| a.values.get(0).cloned())
    };
    let ct = single(OID_CONTENT_TYPE)
        .and_then(|v| v.decode_as::<ObjectIdentifier>().ok())
        .ok_or_else(|| terr("the signed attributes have no content-type"))?;
    if ct != OID_TST_INFO {
        return Err(terr(format!(
            "signed content-type {ct} is not id-ct-TSTInfo"
        )));
    }
    let md = single(OID_MESSAGE_DIGEST)
        .and_then(|v| v.decode_as::<OctetString>().ok())
        .ok_or_else(|| terr("the signed attributes have no message-digest"))?;
    if md.as_bytes() != digest_alg.digest(tst_der) {
        return Err(terr(
            "the signed message-digest does not match the TSTInfo (the token was altered)",
        ));
    }
    // signing-certificate(-v2) binds the signer certificate: its hash must appear in it.
    let (value, hashes) = if let Some(v) = single(OID_SIGNING_CERT_V2) {
        let der = signer.der();
        (
            v,
            vec![
                DigestAlgorithm::Sha256.digest(der),
                DigestAlgorithm::Sha384.digest(der),
                DigestAlgorithm::Sha512.digest(der),
            ],
        )
    } else if let Some(v) = single(OID_SIGNING_CERT) {
        let sha1 =
            aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA1_FOR_LEGACY_USE_ONLY, signer.der());
        (v, vec![sha1.as_ref().to_vec()])
    } else {
        return Err(terr(
            "the signed attributes have no signing-certificate-v2 (RFC 5816) attribute",
        ));
    };
    let raw = value.to_der().map_err(|e| terr(e.to_string()))?;
    if !hashes
        .iter()
        .any(|h| raw.windows(h.len()).any(|w| w == h.as_slice()))
    {
        return Err(terr(format!(
            "the signing-certificate attribute does not name the signer certificate {}",
            signer.subject()
        )));
    }
    Ok(())
}

fn verify_cms_signature(
    signer: &Certificate,
    sig_alg: &ObjectIdentifier,
    digest_alg: DigestAlgorithm,
    message: &[u8],
    signature: &[u8],
) -> bool {
    // rsaEncryption / id-ecPublicKey as "signature algorithm" mean: with the digest algorithm.
    let effective = match (*sig_alg, digest_alg) {
        (OID_RSA, DigestAlgorithm::Sha256) => OID_SHA256_RSA,
        (OID_RSA, DigestAlgorithm::Sha384) => OID_SHA384_RSA,
        (OID_RSA, DigestAlgorithm::Sha512) => OID_SHA512_RSA,
        (OID_EC_PUBLIC_KEY, DigestAlgorithm::Sha256) => OID_ECDSA_SHA256,
        (OID_EC_PUBLIC_KEY, DigestAlgorithm::Sha384) => OID_ECDSA_SHA384,
        (OID_EC_PUBLIC_KEY, DigestAlgorithm::Sha512) => OID_ECDSA_SHA512,
        (other, _) => other,
    };
    super::x509::verify_signed(signer, effective, message, signature)
}

/// Builds signer → ... → root, using the token's certificates and ending at a `tsa` root.
fn build_chain(
    signer: &Certificate,
    certs: &[Certificate],
    roots: &[Certificate],
) -> Result<Vec<Certificate>, NotationError> {
    let mut chain = vec![signer.clone()];
    let mut current = signer.clone();
    for _ in 0..crate::x509::MAX_CHAIN_LEN {
        if roots.contains(&current) {
            return Ok(chain);
        }
        if let Some(root) = roots.iter().find(|r| super::x509::issued_by(&current, r)) {
            chain.push(root.clone());
            return Ok(chain);
        }
        let next = certs
            .iter()
            .find(|c| **c != current && super::x509::issued_by(&current, c));
        match next {
            Some(n) => {
                chain.push(n.clone());
                current = n.clone();
            }
            None => break,
        }
    }
    Err(terr(format!(
        "certificate signed by unknown authority: the TSA chain of {} does not lead to a root \
         of the policy's tsa trust stores",
        signer.subject()
    )))
}
