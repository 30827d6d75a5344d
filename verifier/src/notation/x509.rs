//! The Notary X.509 rules (specification "Certificate Requirements", notation-core-go
//! `x509/cert_validations.go`): how a certificate chain in an envelope or a timestamp token
//! must look, independent of trust.
//!
//! A chain is leaf first; each certificate is issued by the next (name and signature); the last
//! one is a self-signed root (a single self-signed certificate is also a chain, and then meets
//! the leaf rules). CA certificates: basicConstraints with cA=true, pathLenConstraint (if any)
//! at least the number of CAs below it, keyUsage present, critical, with keyCertSign. Code
//! signing leaf: basicConstraints, if present, cA=false; keyUsage present, critical, with
//! digitalSignature and none of keyEncipherment, dataEncipherment, keyAgreement, keyCertSign,
//! cRLSign, encipherOnly, decipherOnly; extendedKeyUsage, if present, without serverAuth,
//! clientAuth, emailProtection, timeStamping or OCSPSigning; RSA ≥ 2048 or EC ≥ 256 bits.
//! Timestamping leaf: the same basicConstraints rule, keyUsage with digitalSignature,
//! extendedKeyUsage present, critical and exactly id-kp-timeStamping.
//!
//! "Self-signed" means the signature verifies with the certificate's own key *and* issuer
//! equals subject byte for byte: the mock vectors carry leaves named like their root. Validity
//! periods are not checked here (the verifier checks them at the authentic time). Signatures on
//! certificates are checked with aws-lc-rs for RSA PKCS#1 v1.5 and ECDSA with SHA-2; SHA-1 and
//! RSASSA-PSS certificate signatures are refused.

use aws_lc_rs::signature::{self as sig, UnparsedPublicKey};
use x509_cert::der::asn1::ObjectIdentifier;
use x509_cert::der::{Decode as _, Encode as _};
use x509_cert::ext::pkix::{BasicConstraints, ExtendedKeyUsage, KeyUsage, KeyUsages};

use crate::x509::Certificate;

use super::NotationError;

const OID_BASIC_CONSTRAINTS: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.19");
const OID_KEY_USAGE: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.15");
const OID_EKU: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.37");
const OID_SERVER_AUTH: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.3.1");
const OID_CLIENT_AUTH: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.3.2");
const OID_EMAIL_PROTECTION: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.3.4");
const OID_TIME_STAMPING: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.3.8");
const OID_OCSP_SIGNING: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.3.9");
const OID_RSA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");
const OID_EC: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
const OID_P224: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.132.0.33");
const OID_P256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.7");
const OID_P384: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.132.0.34");
const OID_P521: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.132.0.35");
const OID_SHA256_RSA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.11");
const OID_SHA384_RSA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.12");
const OID_SHA512_RSA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.13");
const OID_ECDSA_SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.2");
const OID_ECDSA_SHA384: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.3");
const OID_ECDSA_SHA512: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.4");

/// The public key of a certificate, as far as the rules care.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum KeyKind {
    Rsa { bits: usize },
    Ec { bits: usize },
    Other,
}

/// The fields of a certificate the Notary rules read.
pub(crate) struct Info {
    /// (critical, cA, pathLenConstraint)
    basic_constraints: Option<(bool, bool, Option<u8>)>,
    key_usage: Option<(bool, KeyUsage)>,
    eku: Option<(bool, Vec<ObjectIdentifier>)>,
    pub(crate) key: KeyKind,
    tbs: Vec<u8>,
    signature_algorithm: ObjectIdentifier,
    signature: Vec<u8>,
    subject_der: Vec<u8>,
    issuer_der: Vec<u8>,
}

fn chain_err(detail: String) -> NotationError {
    NotationError::chain(detail)
}

/// Decodes what the rules read. `Certificate` already proved the DER canonical, so re-encoding
/// the TBS gives the signed bytes.
pub(crate) fn info(cert: &Certificate) -> Result<Info, NotationError> {
    let bad = |e: x509_cert::der::Error| chain_err(format!("certificate {}: {e}", cert.subject()));
    let c = x509_cert::Certificate::from_der(cert.der()).map_err(bad)?;
    let tbs = &c.tbs_certificate;
    let mut out = Info {
        basic_constraints: None,
        key_usage: None,
        eku: None,
        key: key_kind(&tbs.subject_public_key_info),
        tbs: tbs.to_der().map_err(bad)?,
        signature_algorithm: c.signature_algorithm.oid,
        signature: c.signature.raw_bytes().to_vec(),
        subject_der: tbs.subject.to_der().map_err(bad)?,
        issuer_der: tbs.issuer.to_der().map_err(bad)?,
    };
    for ext in tbs.extensions.as_deref().unwrap_or_default() {
        let value = ext.extn_value.as_bytes();
        if ext.extn_id == OID_BASIC_CONSTRAINTS {
            let bc = BasicConstraints::from_der(value).map_err(bad)?;
            out.basic_constraints = Some((ext.critical, bc.ca, bc.path_len_constraint));
        } else if ext.extn_id == OID_KEY_USAGE {
            out.key_usage = Some((ext.critical, KeyUsage::from_der(value).map_err(bad)?));
        } else if ext.extn_id == OID_EKU {
            out.eku = Some((
                ext.critical,
                ExtendedKeyUsage::from_der(value).map_err(bad)?.0,
            ));
        }
    }
    Ok(out)
}

fn key_kind(spki: &x509_cert::spki::SubjectPublicKeyInfoOwned) -> KeyKind {
    if spki.algorithm.oid == OID_RSA {
        let der = spki.to_der().unwrap_or_default();
        return aws_lc_rs::rsa::PublicKey::from_der(&der).map_or(KeyKind::Other, |k| {
            KeyKind::Rsa {
                bits: k.modulus_len() * 8,
            }
        });
    }
    if spki.algorithm.oid == OID_EC {
        let curve = spki
            .algorithm
            .parameters
            .as_ref()
            .and_then(|p| p.decode_as::<ObjectIdentifier>().ok());
        return match curve {
            Some(OID_P224) => KeyKind::Ec { bits: 224 },
            Some(OID_P256) => KeyKind::Ec { bits: 256 },
            Some(OID_P384) => KeyKind::Ec { bits: 384 },
            Some(OID_P521) => KeyKind::Ec { bits: 521 },
            _ => KeyKind::Other,
        };
    }
    KeyKind::Other
}

fn verification(
    signature_algorithm: ObjectIdentifier,
    issuer_key: KeyKind,
) -> Option<&'static dyn sig::VerificationAlgorithm> {
    Some(match (signature_algorithm, issuer_key) {
        (OID_SHA256_RSA, KeyKind::Rsa { .. }) => &sig::RSA_PKCS1_2048_8192_SHA256,
        (OID_SHA384_RSA, KeyKind::Rsa { .. }) => &sig::RSA_PKCS1_2048_8192_SHA384,
        (OID_SHA512_RSA, KeyKind::Rsa { .. }) => &sig::RSA_PKCS1_2048_8192_SHA512,
        (OID_ECDSA_SHA256, KeyKind::Ec { bits: 256 }) => &sig::ECDSA_P256_SHA256_ASN1,
        (OID_ECDSA_SHA384, KeyKind::Ec { bits: 256 }) => &sig::ECDSA_P256_SHA384_ASN1,
        (OID_ECDSA_SHA512, KeyKind::Ec { bits: 256 }) => &sig::ECDSA_P256_SHA512_ASN1,
        (OID_ECDSA_SHA256, KeyKind::Ec { bits: 384 }) => &sig::ECDSA_P384_SHA256_ASN1,
        (OID_ECDSA_SHA384, KeyKind::Ec { bits: 384 }) => &sig::ECDSA_P384_SHA384_ASN1,
        (OID_ECDSA_SHA512, KeyKind::Ec { bits: 384 }) => &sig::ECDSA_P384_SHA512_ASN1,
        (OID_ECDSA_SHA256, KeyKind::Ec { bits: 521 }) => &sig::ECDSA_P521_SHA256_ASN1,
        (OID_ECDSA_SHA384, KeyKind::Ec { bits: 521 }) => &sig::ECDSA_P521_SHA384_ASN1,
        (OID_ECDSA_SHA512, KeyKind::Ec { bits: 521 }) => &sig::ECDSA_P521_SHA512_ASN1,
        _ => return None,
    })
}

/// Whether `signature` by the key of `signer` over `message` verifies with the algorithm of
/// `signature_algorithm` (a certificate or CRL signature).
pub(crate) fn verify_signed(
    signer: &Certificate,
    signature_algorithm: ObjectIdentifier,
    message: &[u8],
    signature: &[u8],
) -> bool {
    let Ok(signer_info) = info(signer) else {
        return false;
    };
    verification(signature_algorithm, signer_info.key).is_some_and(|alg| {
        UnparsedPublicKey::new(alg, signer.spki_der())
            .verify(message, signature)
            .is_ok()
    })
}

/// Whether `child` names `parent` as issuer and carries a valid signature by its key.
pub(crate) fn issued_by(child: &Certificate, parent: &Certificate) -> bool {
    let (Ok(c), Ok(p)) = (info(child), info(parent)) else {
        return false;
    };
    c.issuer_der == p.subject_der
        && verification(c.signature_algorithm, p.key).is_some_and(|alg| {
            UnparsedPublicKey::new(alg, parent.spki_der())
                .verify(&c.tbs, &c.signature)
                .is_ok()
        })
}

/// Whether `cert` is self-signed: issuer = subject and its signature verifies with its own key.
pub fn is_self_signed(cert: &Certificate) -> bool {
    issued_by(cert, cert)
}

/// Which leaf rule a chain is checked against.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Purpose {
    CodeSigning,
    Timestamping,
}

/// Checks an envelope chain (leaf first, ending in its self-signed root) against the Notary
/// code-signing rules.
pub fn validate_code_signing_chain(chain: &[Certificate]) -> Result<(), NotationError> {
    validate_chain(chain, Purpose::CodeSigning)
}

/// Checks a timestamp token chain (TSA leaf first, ending in a self-signed root) against the
/// Notary timestamping rules.
pub fn validate_timestamping_chain(chain: &[Certificate]) -> Result<(), NotationError> {
    validate_chain(chain, Purpose::Timestamping)
}

/// The CA rules alone, for a CA with `expected_path_len` CA certificates below it.
pub fn validate_ca(cert: &Certificate, expected_path_len: usize) -> Result<(), NotationError> {
    ca_rules(cert, &info(cert)?, expected_path_len)
}

/// The code-signing leaf rules alone.
pub fn validate_code_signing_leaf(cert: &Certificate) -> Result<(), NotationError> {
    leaf_rules(cert, &info(cert)?, Purpose::CodeSigning)
}

fn validate_chain(chain: &[Certificate], purpose: Purpose) -> Result<(), NotationError> {
    let Some(first) = chain.first() else {
        return Err(chain_err("the certificate chain is empty".into()));
    };
    if chain.len() > crate::x509::MAX_CHAIN_LEN {
        return Err(chain_err(format!(
            "{} certificates, over the limit of {}",
            chain.len(),
            crate::x509::MAX_CHAIN_LEN
        )));
    }
    if chain.len() == 1 {
        if !is_self_signed(first) {
            return Err(chain_err(format!(
                "the only certificate, {}, is not self-signed; a chain must end in its \
                 self-signed root certificate (include the intermediates and the root)",
                first.subject()
            )));
        }
        return leaf_rules(first, &info(first)?, purpose);
    }
    let last = chain.len() - 1;
    for (i, cert) in chain.iter().enumerate() {
        let cert_info = info(cert)?;
        if i == last {
            if !is_self_signed(cert) {
                return Err(chain_err(format!(
                    "root certificate {} is not self-signed; the chain must end with a \
                     self-signed root certificate",
                    cert.subject()
                )));
            }
            ca_rules(cert, &cert_info, i - 1)?;
            continue;
        }
        if is_self_signed(cert) {
            let role = if i == 0 { "leaf" } else { "intermediate" };
            return Err(chain_err(format!(
                "{role} certificate {} is self-signed; only the last certificate may be",
                cert.subject()
            )));
        }
        let parent = &chain[i + 1];
        if !issued_by(cert, parent) {
            return Err(chain_err(format!(
                "certificate {} is not issued by {} (name or signature does not match); \
                 order the chain leaf first and leave out unrelated certificates",
                cert.subject(),
                parent.subject()
            )));
        }
        if i == 0 {
            leaf_rules(cert, &cert_info, purpose)?;
        } else {
            ca_rules(cert, &cert_info, i - 1)?;
        }
    }
    Ok(())
}

fn ca_rules(cert: &Certificate, i: &Info, expected_path_len: usize) -> Result<(), NotationError> {
    let subject = cert.subject();
    match i.basic_constraints {
        Some((_, true, path_len)) => {
            if let Some(max) = path_len
                && usize::from(max) < expected_path_len
            {
                return Err(chain_err(format!(
                    "CA certificate {subject} has pathLenConstraint {max} but {expected_path_len} \
                     CA certificates follow it below"
                )));
            }
        }
        _ => {
            return Err(chain_err(format!(
                "certificate {subject} issues certificates but its basicConstraints is missing \
                 or has cA=false"
            )));
        }
    }
    key_usage_present(cert, i)?;
    if !i
        .key_usage
        .is_some_and(|(_, ku)| ku.0.contains(KeyUsages::KeyCertSign))
    {
        return Err(chain_err(format!(
            "CA certificate {subject}: keyUsage must include keyCertSign"
        )));
    }
    Ok(())
}

fn key_usage_present(cert: &Certificate, i: &Info) -> Result<(), NotationError> {
    match i.key_usage {
        None => Err(chain_err(format!(
            "certificate {}: the keyUsage extension must be present",
            cert.subject()
        ))),
        Some((false, _)) => Err(chain_err(format!(
            "certificate {}: the keyUsage extension must be marked critical",
            cert.subject()
        ))),
        Some(_) => Ok(()),
    }
}

fn leaf_rules(cert: &Certificate, i: &Info, purpose: Purpose) -> Result<(), NotationError> {
    let subject = cert.subject();
    if let Some((_, true, _)) = i.basic_constraints {
        return Err(chain_err(format!(
            "signing certificate {subject} has basicConstraints cA=true; a leaf must not be a CA"
        )));
    }
    match purpose {
        Purpose::CodeSigning => {
            key_usage_present(cert, i)?;
            code_signing_key_usage(&subject, i)?;
            if let Some((_, eku)) = &i.eku {
                let denied = [
                    (OID_SERVER_AUTH, "serverAuth"),
                    (OID_CLIENT_AUTH, "clientAuth"),
                    (OID_EMAIL_PROTECTION, "emailProtection"),
                    (OID_TIME_STAMPING, "timeStamping"),
                    (OID_OCSP_SIGNING, "OCSPSigning"),
                ];
                if let Some((_, name)) = denied.iter().find(|(oid, _)| eku.contains(oid)) {
                    return Err(chain_err(format!(
                        "signing certificate {subject}: extendedKeyUsage must not contain \
                         {name} (code signing certificates only)"
                    )));
                }
            }
        }
        Purpose::Timestamping => {
            if !i
                .key_usage
                .is_some_and(|(_, ku)| ku.0.contains(KeyUsages::DigitalSignature))
            {
                return Err(chain_err(format!(
                    "timestamping certificate {subject}: keyUsage must be present with \
                     digitalSignature"
                )));
            }
            match &i.eku {
                Some((true, eku)) if eku.as_slice() == [OID_TIME_STAMPING] => {}
                _ => {
                    return Err(chain_err(format!(
                        "timestamping certificate {subject}: extendedKeyUsage must be present, \
                         critical and exactly id-kp-timeStamping"
                    )));
                }
            }
        }
    }
    match i.key {
        KeyKind::Rsa { bits } if bits >= 2048 => Ok(()),
        KeyKind::Ec { bits } if bits >= 256 => Ok(()),
        KeyKind::Rsa { bits } | KeyKind::Ec { bits } => Err(chain_err(format!(
            "signing certificate {subject}: a {bits}-bit key is too small (RSA at least 2048, \
             EC at least 256 bits)"
        ))),
        KeyKind::Other => Err(chain_err(format!(
            "signing certificate {subject}: unsupported key type (RSA or EC P-256/P-384/P-521)"
        ))),
    }
}

fn code_signing_key_usage(subject: &str, i: &Info) -> Result<(), NotationError> {
    let Some((_, ku)) = i.key_usage else {
        return Ok(());
    };
    if !ku.0.contains(KeyUsages::DigitalSignature) {
        return Err(chain_err(format!(
            "signing certificate {subject}: keyUsage must include digitalSignature"
        )));
    }
    let denied = [
        (KeyUsages::KeyEncipherment, "keyEncipherment"),
        (KeyUsages::DataEncipherment, "dataEncipherment"),
        (KeyUsages::KeyAgreement, "keyAgreement"),
        (KeyUsages::KeyCertSign, "keyCertSign"),
        (KeyUsages::CRLSign, "cRLSign"),
        (KeyUsages::EncipherOnly, "encipherOnly"),
        (KeyUsages::DecipherOnly, "decipherOnly"),
    ];
    if let Some((_, name)) = denied.iter().find(|(u, _)| ku.0.contains(*u)) {
        return Err(chain_err(format!(
            "signing certificate {subject}: keyUsage must not include {name}"
        )));
    }
    Ok(())
}
