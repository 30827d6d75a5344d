//! Revocation from CRLs held locally: files the user downloaded, or a cache directory a CLI
//! fills; no network here.
//!
//! For each certificate of a chain below the root, tollgate looks for a CRL issued by the next
//! certificate (issuer name equal, signature verifying with its key) and current at the
//! verification time (`thisUpdate ≤ t ≤ nextUpdate`). The result per certificate is
//! [`Status::Good`], [`Status::Revoked`] (serial listed, with the revocation time), or
//! [`Status::Unknown`] when the certificate names a CRL distribution point or OCSP responder
//! but no current CRL is at hand: revocation could not be checked, and the verification level
//! decides what that means. A certificate naming neither is good, as in notation ("no
//! revocation information"). Delta CRLs and OCSP are not implemented.
//!
//! Bounds: at most [`MAX_CRL_FILES`] CRLs of at most [`MAX_CRL_SIZE`] bytes each.

use std::path::Path;
use std::time::SystemTime;

use x509_cert::crl::CertificateList;
use x509_cert::der::asn1::ObjectIdentifier;
use x509_cert::der::{Decode as _, Encode as _};

use crate::x509::Certificate;

use super::NotationError;

/// Largest CRL read: 32 MiB.
pub const MAX_CRL_SIZE: usize = 32 << 20;
/// Most CRL files loaded from a directory.
pub const MAX_CRL_FILES: usize = 256;

const OID_CRL_DP: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.31");
const OID_AIA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.1.1");

/// Revocation status of one certificate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Status {
    /// Not revoked per a current CRL, or no revocation information in the certificate.
    Good,
    /// Listed in a current CRL of its issuer.
    Revoked {
        /// When, per the CRL.
        at: SystemTime,
    },
    /// Revocation could not be checked (no current CRL available offline).
    Unknown {
        /// Why.
        reason: String,
    },
}

/// The result for a chain.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChainStatus {
    /// (subject, status) per certificate, leaf first, the root left out.
    pub certificates: Vec<(String, Status)>,
}

impl ChainStatus {
    /// The first revoked certificate.
    pub fn revoked(&self) -> Option<(&str, SystemTime)> {
        self.certificates.iter().find_map(|(s, st)| match st {
            Status::Revoked { at } => Some((s.as_str(), *at)),
            _ => None,
        })
    }

    /// The certificates whose status is unknown, with reasons.
    pub fn unknown(&self) -> Vec<String> {
        self.certificates
            .iter()
            .filter_map(|(s, st)| match st {
                Status::Unknown { reason } => Some(format!("{s}: {reason}")),
                _ => None,
            })
            .collect()
    }
}

struct Crl {
    list: CertificateList,
    der_tbs: Vec<u8>,
}

/// CRLs available offline.
#[derive(Default)]
pub struct CrlStore {
    crls: Vec<Crl>,
}

impl std::fmt::Debug for CrlStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CrlStore")
            .field("crls", &self.crls.len())
            .finish()
    }
}

impl CrlStore {
    /// No CRLs: certificates with revocation information are [`Status::Unknown`].
    pub fn empty() -> Self {
        Self::default()
    }

    /// Adds a CRL (DER, or PEM `X509 CRL`).
    pub fn add(&mut self, bytes: &[u8], location: &str) -> Result<(), NotationError> {
        let err = |detail: String| NotationError::Crl {
            location: location.to_owned(),
            detail,
        };
        if bytes.len() > MAX_CRL_SIZE {
            return Err(err(format!("over the {MAX_CRL_SIZE}-byte limit")));
        }
        if self.crls.len() >= MAX_CRL_FILES {
            return Err(err(format!("more than {MAX_CRL_FILES} CRLs")));
        }
        let der = if bytes.starts_with(b"-----BEGIN") {
            pem_crl(bytes).ok_or_else(|| err("not a PEM X509 CRL".into()))?
        } else {
            bytes.to_vec()
        };
        let list = CertificateList::from_der(&der).map_err(|e| err(format!("not a CRL: {e}")))?;
        let der_tbs = list
            .tbs_cert_list
            .to_der()
            .map_err(|e| err(e.to_string()))?;
        self.crls.push(Crl { list, der_tbs });
        Ok(())
    }

    /// Loads every regular file of `dir` as a CRL (a cache directory or downloaded CRLs).
    pub fn from_dir(dir: &Path) -> Result<Self, NotationError> {
        let mut store = Self::default();
        let entries = std::fs::read_dir(dir).map_err(|e| NotationError::io(dir, &e))?;
        let mut paths: Vec<_> = entries
            .filter_map(Result::ok)
            .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
            .map(|e| e.path())
            .collect();
        paths.sort();
        for path in paths {
            let bytes = super::truststore::read_limited(&path, MAX_CRL_SIZE)?;
            store.add(&bytes, &path.display().to_string())?;
        }
        Ok(store)
    }

    /// Revocation status of `chain` (leaf first, root last) at `at`.
    pub fn check_chain(&self, chain: &[Certificate], at: SystemTime) -> ChainStatus {
        let certificates = chain
            .windows(2)
            .map(|pair| (pair[0].subject(), self.status(&pair[0], &pair[1], at)))
            .collect();
        ChainStatus { certificates }
    }

    fn status(&self, cert: &Certificate, issuer: &Certificate, at: SystemTime) -> Status {
        let Ok(parsed) = x509_cert::Certificate::from_der(cert.der()) else {
            return Status::Unknown {
                reason: "certificate cannot be decoded".into(),
            };
        };
        let Ok(issuer_parsed) = x509_cert::Certificate::from_der(issuer.der()) else {
            return Status::Unknown {
                reason: "issuer cannot be decoded".into(),
            };
        };
        let mut stale = false;
        for crl in &self.crls {
            let tbs = &crl.list.tbs_cert_list;
            if tbs.issuer != issuer_parsed.tbs_certificate.subject
                || !super::x509::verify_signed(
                    issuer,
                    crl.list.signature_algorithm.oid,
                    &crl.der_tbs,
                    crl.list.signature.raw_bytes(),
                )
            {
                continue;
            }
            let this_update = tbs.this_update.to_system_time();
            let current =
                this_update <= at && tbs.next_update.is_none_or(|n| at <= n.to_system_time());
            if !current {
                stale = true;
                continue;
            }
            let revoked = tbs.revoked_certificates.as_deref().unwrap_or_default();
            return match revoked
                .iter()
                .find(|r| r.serial_number == parsed.tbs_certificate.serial_number)
            {
                Some(r) => Status::Revoked {
                    at: r.revocation_date.to_system_time(),
                },
                None => Status::Good,
            };
        }
        let exts = parsed
            .tbs_certificate
            .extensions
            .as_deref()
            .unwrap_or_default();
        let has_info = exts
            .iter()
            .any(|e| e.extn_id == OID_CRL_DP || e.extn_id == OID_AIA);
        if !has_info {
            return Status::Good;
        }
        Status::Unknown {
            reason: if stale {
                format!(
                    "the CRL of {} at hand is not current at the verification time",
                    issuer.subject()
                )
            } else {
                format!(
                    "it names a CRL distribution point or OCSP responder, but no CRL of {} is \
                     available offline; add one to the CRL directory",
                    issuer.subject()
                )
            },
        }
    }
}

fn pem_crl(bytes: &[u8]) -> Option<Vec<u8>> {
    use base64::Engine as _;
    let text = std::str::from_utf8(bytes).ok()?;
    let start = text.find("-----BEGIN X509 CRL-----")? + "-----BEGIN X509 CRL-----".len();
    let end = text[start..].find("-----END X509 CRL-----")? + start;
    let b64: String = text[start..end].split_whitespace().collect();
    base64::engine::general_purpose::STANDARD.decode(b64).ok()
}
