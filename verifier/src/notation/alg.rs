//! The six Notary signature algorithms and their binding to the certificate key
//! (specification "Algorithm Selection"): the key type and size fix the algorithm, so a
//! signature whose `alg` names another one is refused before any maths (no substitution).
//!
//! RSASSA-PSS uses MGF1 with the same hash and a salt as long as the hash; ECDSA signatures
//! are the raw fixed-width `r || s` (JWS/COSE form), never ASN.1 DER.

use std::fmt;

use aws_lc_rs::signature::{self as sig, UnparsedPublicKey};

use crate::keys::{KeyAlgorithm, PublicKey};

use super::NotationError;

/// A Notary signature algorithm.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SignatureAlgorithm {
    /// RSASSA-PSS with SHA-256 (RSA 2048).
    Ps256,
    /// RSASSA-PSS with SHA-384 (RSA 3072).
    Ps384,
    /// RSASSA-PSS with SHA-512 (RSA 4096).
    Ps512,
    /// ECDSA P-256 with SHA-256.
    Es256,
    /// ECDSA P-384 with SHA-384.
    Es384,
    /// ECDSA P-521 with SHA-512.
    Es512,
}

impl SignatureAlgorithm {
    /// Every algorithm, in the specification's order.
    pub const ALL: [Self; 6] = [
        Self::Ps256,
        Self::Ps384,
        Self::Ps512,
        Self::Es256,
        Self::Es384,
        Self::Es512,
    ];

    /// The JWS `alg` name.
    pub fn jws_name(self) -> &'static str {
        match self {
            Self::Ps256 => "PS256",
            Self::Ps384 => "PS384",
            Self::Ps512 => "PS512",
            Self::Es256 => "ES256",
            Self::Es384 => "ES384",
            Self::Es512 => "ES512",
        }
    }

    /// The COSE algorithm label.
    pub fn cose_label(self) -> i64 {
        match self {
            Self::Ps256 => -37,
            Self::Ps384 => -38,
            Self::Ps512 => -39,
            Self::Es256 => -7,
            Self::Es384 => -35,
            Self::Es512 => -36,
        }
    }

    /// Parses a JWS `alg` (case-sensitive).
    pub fn from_jws_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.jws_name() == name)
    }

    /// Parses a COSE algorithm label.
    pub fn from_cose_label(label: i64) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.cose_label() == label)
    }

    /// The hash of the algorithm; also the payload digest of blobs and the TSA request hash.
    pub fn hash(self) -> DigestAlgorithm {
        match self {
            Self::Ps256 | Self::Es256 => DigestAlgorithm::Sha256,
            Self::Ps384 | Self::Es384 => DigestAlgorithm::Sha384,
            Self::Ps512 | Self::Es512 => DigestAlgorithm::Sha512,
        }
    }

    /// The algorithm a key must use: RSA 2048/3072/4096 and EC P-256/P-384/P-521 exactly.
    pub fn for_key(key: KeyAlgorithm) -> Result<Self, String> {
        match key {
            KeyAlgorithm::Rsa { bits: 2048 } => Ok(Self::Ps256),
            KeyAlgorithm::Rsa { bits: 3072 } => Ok(Self::Ps384),
            KeyAlgorithm::Rsa { bits: 4096 } => Ok(Self::Ps512),
            KeyAlgorithm::EcdsaP256 => Ok(Self::Es256),
            KeyAlgorithm::EcdsaP384 => Ok(Self::Es384),
            KeyAlgorithm::EcdsaP521 => Ok(Self::Es512),
            other => Err(format!(
                "{other} keys are not allowed by the Notary specification (RSA 2048/3072/4096 or \
                 EC P-256/P-384/P-521)"
            )),
        }
    }

    /// The algorithm bound to a certificate's public key.
    pub fn for_spki(spki_der: &[u8]) -> Result<Self, String> {
        let key = PublicKey::from_spki_der(spki_der).map_err(|e| e.to_string())?;
        Self::for_key(key.algorithm())
    }

    fn verification(self) -> &'static dyn sig::VerificationAlgorithm {
        match self {
            Self::Ps256 => &sig::RSA_PSS_2048_8192_SHA256,
            Self::Ps384 => &sig::RSA_PSS_2048_8192_SHA384,
            Self::Ps512 => &sig::RSA_PSS_2048_8192_SHA512,
            Self::Es256 => &sig::ECDSA_P256_SHA256_FIXED,
            Self::Es384 => &sig::ECDSA_P384_SHA384_FIXED,
            Self::Es512 => &sig::ECDSA_P521_SHA512_FIXED,
        }
    }

    /// Verifies `signature` over `message` with the certificate key `spki_der`. The caller has
    /// already checked that this algorithm is the one bound to the key.
    pub(crate) fn verify(self, spki_der: &[u8], message: &[u8], signature: &[u8]) -> bool {
        UnparsedPublicKey::new(self.verification(), spki_der)
            .verify(message, signature)
            .is_ok()
    }

    pub(crate) fn rsa_padding(self) -> Option<&'static dyn sig::RsaEncoding> {
        match self {
            Self::Ps256 => Some(&sig::RSA_PSS_SHA256),
            Self::Ps384 => Some(&sig::RSA_PSS_SHA384),
            Self::Ps512 => Some(&sig::RSA_PSS_SHA512),
            _ => None,
        }
    }

    pub(crate) fn ecdsa_signing(self) -> Option<&'static sig::EcdsaSigningAlgorithm> {
        match self {
            Self::Es256 => Some(&sig::ECDSA_P256_SHA256_FIXED_SIGNING),
            Self::Es384 => Some(&sig::ECDSA_P384_SHA384_FIXED_SIGNING),
            Self::Es512 => Some(&sig::ECDSA_P521_SHA512_FIXED_SIGNING),
            _ => None,
        }
    }

    /// Width of one ECDSA scalar in bytes (`r` and `s` each), for DER conversion.
    pub(crate) fn ecdsa_scalar_len(self) -> Option<usize> {
        match self {
            Self::Es256 => Some(32),
            Self::Es384 => Some(48),
            Self::Es512 => Some(66),
            _ => None,
        }
    }
}

impl fmt::Display for SignatureAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.jws_name())
    }
}

/// Checks that `alg` is the algorithm of the leaf key: the anti-substitution rule.
pub(crate) fn check_bound(
    format: &'static str,
    alg: SignatureAlgorithm,
    leaf_spki: &[u8],
    leaf_subject: &str,
) -> Result<(), NotationError> {
    let expected = SignatureAlgorithm::for_spki(leaf_spki).map_err(|e| {
        NotationError::header(format, format!("signing certificate {leaf_subject}: {e}"))
    })?;
    if expected != alg {
        return Err(NotationError::header(
            format,
            format!(
                "the signature algorithm is {alg} but the key of signing certificate \
                 {leaf_subject} requires {expected}; algorithm substitution is refused"
            ),
        ));
    }
    Ok(())
}

/// The SHA-2 hashes Notation uses for payload digests, timestamp imprints and CMS.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DigestAlgorithm {
    /// SHA-256.
    Sha256,
    /// SHA-384.
    Sha384,
    /// SHA-512.
    Sha512,
}

impl DigestAlgorithm {
    /// The OCI digest prefix: `sha256`, `sha384`, `sha512`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Sha256 => "sha256",
            Self::Sha384 => "sha384",
            Self::Sha512 => "sha512",
        }
    }

    /// Parses an OCI digest prefix.
    pub fn from_name(name: &str) -> Option<Self> {
        [Self::Sha256, Self::Sha384, Self::Sha512]
            .into_iter()
            .find(|a| a.name() == name)
    }

    pub(crate) fn aws(self) -> &'static aws_lc_rs::digest::Algorithm {
        match self {
            Self::Sha256 => &aws_lc_rs::digest::SHA256,
            Self::Sha384 => &aws_lc_rs::digest::SHA384,
            Self::Sha512 => &aws_lc_rs::digest::SHA512,
        }
    }

    /// The digest of `data`.
    pub fn digest(self, data: &[u8]) -> Vec<u8> {
        aws_lc_rs::digest::digest(self.aws(), data)
            .as_ref()
            .to_vec()
    }

    /// `<name>:<lowercase hex>` of `data`, an OCI digest string.
    pub fn oci_digest(self, data: &[u8]) -> String {
        format!("{}:{}", self.name(), hex(&self.digest(data)))
    }
}

/// Lowercase hex.
pub(crate) fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(out, "{b:02x}");
    }
    out
}
