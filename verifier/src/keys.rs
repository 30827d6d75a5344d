//! Keys: public keys that verify, private keys that sign, and the files both live in.
//!
//! This module owns what a signature in tollgate's formats means for each key type, in one
//! place, so model signing, cosign and Notation code never pick a hash themselves:
//!
//! | [`KeyAlgorithm`] | signature | as in |
//! |---|---|---|
//! | `ecdsa-p256` | ECDSA over SHA-256, ASN.1 DER `Ecdsa-Sig-Value` | model_signing, cosign (default key) |
//! | `ecdsa-p384` | ECDSA over SHA-384, DER | model_signing, cosign `--signing-algorithm` |
//! | `ecdsa-p521` | ECDSA over SHA-512, DER | model_signing, cosign |
//! | `ed25519` | pure Ed25519 (RFC 8032), 64 bytes | cosign `sign-blob` (not Ed25519ph) |
//! | `rsa-N` | RSASSA-PKCS1-v1_5 with SHA-256, `N/8` bytes (2048 ≤ N ≤ 8192) | cosign's RSA keys |
//!
//! Every signature and key-generation operation runs on aws-lc-rs, the workspace's one
//! asymmetric crypto backend. Key *files* are read and written here:
//!
//! - public keys: SubjectPublicKeyInfo, PEM `PUBLIC KEY` or DER; [`PublicKey::to_pem`] writes
//!   exactly what OpenSSL writes, which model_signing's `publicKey.hint` hashes;
//! - private keys: PKCS#8 (plain or PBES2-encrypted, PEM or DER), SEC1 `EC PRIVATE KEY`,
//!   PKCS#1 `RSA PRIVATE KEY` (module `pkcs8`), and cosign's `ENCRYPTED SIGSTORE PRIVATE KEY`
//!   (module `cosign`);
//! - PKCS#11 tokens by RFC 7512 URI ([`pkcs11`]).
//!
//! [`load_signer`] is what the rest of tollgate calls: a file path or a `pkcs11:` URI in, a
//! [`Signer`] out. Key files are at most [`MAX_KEY_FILE_SIZE`] bytes; secrets held in Rust
//! buffers are zeroized on drop (aws-lc clears its own key structures when freed).

mod cosign;
mod pem;
pub mod pkcs11;
mod pkcs8;

use std::fmt;
use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use ::pkcs8::der::asn1::ObjectIdentifier;
use ::pkcs8::{PrivateKeyInfo, SubjectPublicKeyInfoRef};
use aws_lc_rs::encoding::{AsDer, PublicKeyX509Der};
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::KeySize;
use aws_lc_rs::signature::{
    self as sig, EcdsaKeyPair, Ed25519KeyPair, KeyPair as _, ParsedPublicKey, RsaKeyPair,
    UnparsedPublicKey,
};

use crate::digest::Digest;

pub use zeroize::Zeroizing;

/// The largest key file tollgate reads (1 MiB); real key files are a few KiB at most.
pub const MAX_KEY_FILE_SIZE: u64 = 1 << 20;

const OID_EC_PUBLIC_KEY: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
const OID_P256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.7");
const OID_P384: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.132.0.34");
const OID_P521: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.132.0.35");
const OID_ED25519: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.101.112");
const OID_RSA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");

/// Smallest and largest RSA modulus accepted, in bits.
const RSA_BITS: std::ops::RangeInclusive<u16> = 2048..=8192;

/// A key type and size, which fixes the signature scheme (see the module docs).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum KeyAlgorithm {
    /// ECDSA on NIST P-256 with SHA-256.
    EcdsaP256,
    /// ECDSA on NIST P-384 with SHA-384.
    EcdsaP384,
    /// ECDSA on NIST P-521 with SHA-512.
    EcdsaP521,
    /// Ed25519 (pure).
    Ed25519,
    /// RSA, PKCS#1 v1.5 signatures with SHA-256.
    Rsa {
        /// Modulus size in bits.
        bits: u16,
    },
}

impl KeyAlgorithm {
    /// The algorithms `tollgate keygen` makes, default first.
    pub const GENERATABLE: [Self; 6] = [
        Self::EcdsaP256,
        Self::EcdsaP384,
        Self::EcdsaP521,
        Self::Ed25519,
        Self::Rsa { bits: 3072 },
        Self::Rsa { bits: 4096 },
    ];

    /// The name used on the command line: `ecdsa-p256`, `ed25519`, `rsa-3072`, ...
    pub fn name(self) -> String {
        match self {
            Self::EcdsaP256 => "ecdsa-p256".into(),
            Self::EcdsaP384 => "ecdsa-p384".into(),
            Self::EcdsaP521 => "ecdsa-p521".into(),
            Self::Ed25519 => "ed25519".into(),
            Self::Rsa { bits } => format!("rsa-{bits}"),
        }
    }

    /// The key type alone: `ecdsa`, `ed25519` or `rsa`.
    pub fn key_type(self) -> &'static str {
        match self {
            Self::EcdsaP256 | Self::EcdsaP384 | Self::EcdsaP521 => "ecdsa",
            Self::Ed25519 => "ed25519",
            Self::Rsa { .. } => "rsa",
        }
    }

    /// The curve (`P-256`, `P-384`, `P-521`, `Curve25519`) or the RSA size (`3072 bits`).
    pub fn parameters(self) -> String {
        match self {
            Self::EcdsaP256 => "P-256".into(),
            Self::EcdsaP384 => "P-384".into(),
            Self::EcdsaP521 => "P-521".into(),
            Self::Ed25519 => "Curve25519".into(),
            Self::Rsa { bits } => format!("{bits} bits"),
        }
    }

    /// The signature scheme this key type produces and accepts.
    pub fn signature_scheme(self) -> &'static str {
        match self {
            Self::EcdsaP256 => "ECDSA with SHA-256, ASN.1 DER",
            Self::EcdsaP384 => "ECDSA with SHA-384, ASN.1 DER",
            Self::EcdsaP521 => "ECDSA with SHA-512, ASN.1 DER",
            Self::Ed25519 => "Ed25519 (pure)",
            Self::Rsa { .. } => "RSASSA-PKCS1-v1_5 with SHA-256",
        }
    }

    /// The hash [`PublicKey::verify`] and [`Signer::sign`] apply to the message: the curve's
    /// SHA-2 for ECDSA, SHA-256 for RSA; `None` for Ed25519, which is pure.
    pub fn message_hash(self) -> Option<&'static aws_lc_rs::digest::Algorithm> {
        match self {
            Self::EcdsaP256 | Self::Rsa { .. } => Some(&aws_lc_rs::digest::SHA256),
            Self::EcdsaP384 => Some(&aws_lc_rs::digest::SHA384),
            Self::EcdsaP521 => Some(&aws_lc_rs::digest::SHA512),
            Self::Ed25519 => None,
        }
    }

    /// Verification of a `hash` digest for [`PublicKey::verify_digest`]: ECDSA with SHA-256
    /// or the curve's hash, RSA with SHA-256.
    fn digest_verification(
        self,
        hash: &'static aws_lc_rs::digest::Algorithm,
    ) -> Option<&'static dyn sig::VerificationAlgorithm> {
        if self.message_hash() == Some(hash) {
            return Some(self.verification());
        }
        match (self, hash == &aws_lc_rs::digest::SHA256) {
            (Self::EcdsaP384, true) => Some(&sig::ECDSA_P384_SHA256_ASN1),
            (Self::EcdsaP521, true) => Some(&sig::ECDSA_P521_SHA256_ASN1),
            _ => None,
        }
    }

    fn verification(self) -> &'static dyn sig::VerificationAlgorithm {
        match self {
            Self::EcdsaP256 => &sig::ECDSA_P256_SHA256_ASN1,
            Self::EcdsaP384 => &sig::ECDSA_P384_SHA384_ASN1,
            Self::EcdsaP521 => &sig::ECDSA_P521_SHA512_ASN1,
            Self::Ed25519 => &sig::ED25519,
            Self::Rsa { .. } => &sig::RSA_PKCS1_2048_8192_SHA256,
        }
    }

    fn ecdsa_signing(self) -> Option<&'static sig::EcdsaSigningAlgorithm> {
        match self {
            Self::EcdsaP256 => Some(&sig::ECDSA_P256_SHA256_ASN1_SIGNING),
            Self::EcdsaP384 => Some(&sig::ECDSA_P384_SHA384_ASN1_SIGNING),
            Self::EcdsaP521 => Some(&sig::ECDSA_P521_SHA512_ASN1_SIGNING),
            _ => None,
        }
    }

    /// The ECDSA algorithm for a named-curve OID.
    fn from_curve(oid: ObjectIdentifier) -> Option<Self> {
        match oid {
            OID_P256 => Some(Self::EcdsaP256),
            OID_P384 => Some(Self::EcdsaP384),
            OID_P521 => Some(Self::EcdsaP521),
            _ => None,
        }
    }
}

impl fmt::Display for KeyAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name())
    }
}

impl FromStr for KeyAlgorithm {
    type Err = KeyError;

    /// Parses one of the [`KeyAlgorithm::GENERATABLE`] names.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::GENERATABLE
            .into_iter()
            .find(|a| a.name() == s)
            .ok_or_else(|| KeyError::UnknownAlgorithmName(s.chars().take(64).collect()))
    }
}

/// Why a key could not be read, written or used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// A key file could not be read.
    #[error("cannot read key file {}: {err}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// What the OS said.
        err: std::io::Error,
    },
    /// Something went wrong with a named key file.
    #[error("{}: {err}", path.display())]
    InFile {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        err: Box<Self>,
    },
    /// The input is larger than any key file.
    #[error(
        "key file is {size} bytes; key files are at most {limit} bytes (is this the right file?)"
    )]
    TooLarge {
        /// Bytes given.
        size: u64,
        /// [`MAX_KEY_FILE_SIZE`].
        limit: u64,
    },
    /// The PEM armour is malformed.
    #[error("malformed PEM: {reason}")]
    Pem {
        /// What is wrong.
        reason: &'static str,
    },
    /// A PEM block tollgate does not read.
    #[error(
        "unsupported PEM block {label:?} (tollgate reads PUBLIC KEY, PRIVATE KEY, ENCRYPTED PRIVATE KEY, \
         EC PRIVATE KEY, RSA PRIVATE KEY and ENCRYPTED SIGSTORE PRIVATE KEY)"
    )]
    UnknownPemLabel {
        /// The label found.
        label: String,
    },
    /// OpenSSL's pre-PKCS#8 PEM encryption (`Proc-Type: 4,ENCRYPTED`).
    #[error(
        "legacy OpenSSL PEM encryption (Proc-Type header) is not supported; convert the key with \
         `openssl pkcs8 -topk8 -v2 aes-256-cbc -in OLD -out NEW`"
    )]
    LegacyPemEncryption,
    /// Binary input that is no key structure tollgate knows.
    #[error("not a key file: expected PEM or DER SubjectPublicKeyInfo, PKCS#8, SEC1 or PKCS#1")]
    NotAKey,
    /// A DER structure is malformed.
    #[error("malformed {what}: {reason}")]
    Der {
        /// The structure, e.g. `SubjectPublicKeyInfo`.
        what: &'static str,
        /// The parser's explanation.
        reason: String,
    },
    /// A key of a type tollgate does not use.
    #[error(
        "unsupported key algorithm {algorithm} (tollgate uses ECDSA P-256/P-384/P-521, Ed25519 \
         and RSA 2048-8192)"
    )]
    UnsupportedAlgorithm {
        /// The algorithm (OID or description).
        algorithm: String,
    },
    /// `--algorithm` named something that cannot be generated.
    #[error(
        "unknown key algorithm {0:?} (expected one of ecdsa-p256, ecdsa-p384, ecdsa-p521, ed25519, \
         rsa-3072, rsa-4096)"
    )]
    UnknownAlgorithmName(String),
    /// aws-lc refused the key material.
    #[error("invalid {what}: {reason}")]
    Rejected {
        /// What was being loaded.
        what: &'static str,
        /// aws-lc's reason.
        reason: String,
    },
    /// A public key was given where a private key is needed.
    #[error("this is a public key; signing needs the private key file")]
    NotPrivate,
    /// A private key was given where a public key is expected.
    #[error("this is a private key ({format}); give the public key (e.g. the .pub file)")]
    NotPublic {
        /// The private key format found.
        format: KeyFormat,
    },
    /// The key is encrypted and no password was given.
    #[error("{} is encrypted: a password is required", path.as_deref().map_or_else(|| "the key".into(), |p| p.display().to_string()))]
    PasswordRequired {
        /// The key file, when known.
        path: Option<PathBuf>,
    },
    /// Decryption failed: the password is wrong, or the ciphertext was altered.
    #[error("wrong password for {} (or the key file is corrupt)", path.as_deref().map_or_else(|| "the key".into(), |p| p.display().to_string()))]
    WrongPassword {
        /// The key file, when known.
        path: Option<PathBuf>,
    },
    /// An encrypted PKCS#8 key uses an encryption scheme tollgate does not implement.
    #[error(
        "unsupported private key encryption: {scheme} (tollgate reads PBES2 with PBKDF2-HMAC-SHA1/256/384/512 \
         or scrypt and AES-CBC; re-encrypt with `openssl pkcs8 -topk8 -v2 aes-256-cbc`)"
    )]
    UnsupportedEncryption {
        /// What the file asks for.
        scheme: String,
    },
    /// The key file asks for a key derivation more expensive than tollgate allows.
    #[error("key file asks for {cost}, beyond tollgate's limit ({limit})")]
    KdfTooCostly {
        /// What the file asks for.
        cost: String,
        /// The limit.
        limit: &'static str,
    },
    /// A field of a cosign key file is missing or has a value cosign would refuse.
    #[error("cosign key file: field {field} {problem}")]
    CosignField {
        /// JSON path of the field, e.g. `kdf.name`.
        field: &'static str,
        /// What is wrong with it.
        problem: String,
    },
    /// The signature does not verify with this key.
    #[error("signature verification failed")]
    BadSignature,
    /// The system random number generator failed.
    #[error("the system random number generator failed")]
    Random,
    /// A cryptographic operation failed inside aws-lc.
    #[error("{operation} failed")]
    Crypto {
        /// What was being done, e.g. `RSA-4096 key generation`.
        operation: String,
    },
    /// `tollgate keygen` cannot make this algorithm.
    #[error(
        "cannot generate {0} keys (choose one of ecdsa-p256, ecdsa-p384, ecdsa-p521, ed25519, rsa-3072, rsa-4096)"
    )]
    CannotGenerate(KeyAlgorithm),
    /// A PKCS#11 token could not be used.
    #[error(transparent)]
    Pkcs11(#[from] pkcs11::Pkcs11Error),
}

impl KeyError {
    /// Attaches the key file's name: password errors name it in their message, others are
    /// prefixed with `PATH: `.
    pub fn with_path(self, path: &Path) -> Self {
        match self {
            Self::PasswordRequired { path: None } => Self::PasswordRequired {
                path: Some(path.to_owned()),
            },
            Self::WrongPassword { path: None } => Self::WrongPassword {
                path: Some(path.to_owned()),
            },
            err @ (Self::Io { .. }
            | Self::InFile { .. }
            | Self::PasswordRequired { .. }
            | Self::WrongPassword { .. }) => err,
            err => Self::InFile {
                path: path.to_owned(),
                err: Box::new(err),
            },
        }
    }

    /// Whether this error means "ask for a password and try again".
    pub fn is_password_required(&self) -> bool {
        match self {
            Self::PasswordRequired { .. } => true,
            Self::InFile { err, .. } => err.is_password_required(),
            _ => false,
        }
    }
}

fn rejected(what: &'static str) -> impl FnOnce(aws_lc_rs::error::KeyRejected) -> KeyError {
    move |e| KeyError::Rejected {
        what,
        reason: e.to_string(),
    }
}

fn der_error<E: fmt::Display>(what: &'static str) -> impl FnOnce(E) -> KeyError {
    move |e| KeyError::Der {
        what,
        reason: e.to_string(),
    }
}

/// A public key: a validated SubjectPublicKeyInfo of a supported [`KeyAlgorithm`].
///
/// Equality compares the DER bytes. The DER is kept exactly as given, so [`PublicKey::to_pem`]
/// of a key read from OpenSSL's PEM gives back the same bytes.
#[derive(Clone, PartialEq, Eq)]
pub struct PublicKey {
    algorithm: KeyAlgorithm,
    spki_der: Vec<u8>,
}

impl PublicKey {
    /// Parses and validates a DER SubjectPublicKeyInfo (the point must be on the curve, the RSA
    /// modulus 2048 to 8192 bits).
    pub fn from_spki_der(der: &[u8]) -> Result<Self, KeyError> {
        check_size(der.len())?;
        let spki =
            SubjectPublicKeyInfoRef::try_from(der).map_err(der_error("SubjectPublicKeyInfo"))?;
        let oid = spki.algorithm.oid;
        let algorithm = match oid {
            OID_EC_PUBLIC_KEY => {
                let curve = spki.algorithm.parameters_oid().map_err(|_| KeyError::Der {
                    what: "SubjectPublicKeyInfo",
                    reason: "EC key without a named curve".into(),
                })?;
                KeyAlgorithm::from_curve(curve).ok_or_else(|| KeyError::UnsupportedAlgorithm {
                    algorithm: format!("EC curve {curve}"),
                })?
            }
            OID_ED25519 => KeyAlgorithm::Ed25519,
            OID_RSA => {
                let key =
                    aws_lc_rs::rsa::PublicKey::from_der(der).map_err(rejected("RSA public key"))?;
                let bits = rsa_bits(key.modulus_len())?;
                KeyAlgorithm::Rsa { bits }
            }
            other => {
                return Err(KeyError::UnsupportedAlgorithm {
                    algorithm: other.to_string(),
                });
            }
        };
        ParsedPublicKey::new(algorithm.verification(), der).map_err(rejected("public key"))?;
        Ok(Self {
            algorithm,
            spki_der: der.to_vec(),
        })
    }

    /// Parses a PEM `PUBLIC KEY` block (text before it is ignored).
    pub fn from_pem(pem: &[u8]) -> Result<Self, KeyError> {
        check_size(pem.len())?;
        let block = pem::decode(pem)?;
        match block.label.as_str() {
            "PUBLIC KEY" => Self::from_spki_der(&block.der),
            label => match label_format(label) {
                Some(format) => Err(KeyError::NotPublic { format }),
                None => Err(KeyError::UnknownPemLabel {
                    label: label.to_owned(),
                }),
            },
        }
    }

    /// Parses a public key file: PEM if it has a `-----BEGIN` line, else DER.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, KeyError> {
        if pem::looks_like_pem(bytes) {
            Self::from_pem(bytes)
        } else {
            Self::from_spki_der(bytes)
        }
    }

    /// The key as PEM, byte-identical to `openssl pkey -pubout` and python-cryptography:
    /// `-----BEGIN PUBLIC KEY-----\n`, 64-column base64 lines, `-----END PUBLIC KEY-----\n`.
    pub fn to_pem(&self) -> String {
        pem::encode("PUBLIC KEY", &self.spki_der).to_string()
    }

    /// The DER SubjectPublicKeyInfo.
    pub fn spki_der(&self) -> &[u8] {
        &self.spki_der
    }

    /// SHA-256 of the DER SubjectPublicKeyInfo (cosign's and Sigstore's key id).
    pub fn fingerprint(&self) -> Digest {
        Digest::sha256(&self.spki_der)
    }

    /// SHA-256 of [`PublicKey::to_pem`]: model_signing's `publicKey.hint` (lowercase hex).
    pub fn pem_hint(&self) -> Digest {
        Digest::sha256(self.to_pem().as_bytes())
    }

    /// The key's algorithm.
    pub fn algorithm(&self) -> KeyAlgorithm {
        self.algorithm
    }

    /// Verifies `signature` over `message` with the scheme of [`PublicKey::algorithm`]: ECDSA
    /// signatures are ASN.1 DER over the curve's hash of `message` (P-256 SHA-256, P-384 SHA-384,
    /// P-521 SHA-512), Ed25519 is pure, RSA is PKCS#1 v1.5 with SHA-256.
    pub fn verify(&self, message: &[u8], signature: &[u8]) -> Result<(), KeyError> {
        UnparsedPublicKey::new(self.algorithm.verification(), &self.spki_der)
            .verify(message, signature)
            .map_err(|_| KeyError::BadSignature)
    }

    /// Verifies `signature` over a message of which `digest` is the `hash` digest, without the
    /// message. ECDSA takes SHA-256 on every curve (cosign 2.5.0 signs blobs and images with
    /// SHA-256 whatever the curve) or the curve's own hash ([`KeyAlgorithm::message_hash`]);
    /// RSA takes SHA-256. Ed25519 (pure) cannot be verified from a digest.
    pub fn verify_digest(
        &self,
        hash: &'static aws_lc_rs::digest::Algorithm,
        digest: &[u8],
        signature: &[u8],
    ) -> Result<(), KeyError> {
        let verification = self
            .algorithm
            .digest_verification(hash)
            .ok_or_else(|| unsupported_digest(self.algorithm, hash))?;
        let digest = import_digest(hash, digest)?;
        UnparsedPublicKey::new(verification, &self.spki_der)
            .verify_digest(&digest, signature)
            .map_err(|_| KeyError::BadSignature)
    }
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PublicKey")
            .field("algorithm", &self.algorithm)
            .field("fingerprint", &self.fingerprint())
            .finish()
    }
}

fn rsa_bits(modulus_len: usize) -> Result<u16, KeyError> {
    let bits = u16::try_from(modulus_len.saturating_mul(8)).unwrap_or(u16::MAX);
    if RSA_BITS.contains(&bits) {
        Ok(bits)
    } else {
        Err(KeyError::UnsupportedAlgorithm {
            algorithm: format!("RSA with a {bits}-bit modulus"),
        })
    }
}

fn check_size(len: usize) -> Result<(), KeyError> {
    let size = u64::try_from(len).unwrap_or(u64::MAX);
    if size > MAX_KEY_FILE_SIZE {
        return Err(KeyError::TooLarge {
            size,
            limit: MAX_KEY_FILE_SIZE,
        });
    }
    Ok(())
}

fn unsupported_digest(algorithm: KeyAlgorithm, hash: &aws_lc_rs::digest::Algorithm) -> KeyError {
    KeyError::UnsupportedAlgorithm {
        algorithm: format!("{algorithm} over a precomputed {hash:?} digest"),
    }
}

fn import_digest(
    hash: &'static aws_lc_rs::digest::Algorithm,
    digest: &[u8],
) -> Result<aws_lc_rs::digest::Digest, KeyError> {
    aws_lc_rs::digest::Digest::import_less_safe(digest, hash).map_err(|_| KeyError::Crypto {
        operation: format!(
            "importing a {}-byte digest (expected {} bytes)",
            digest.len(),
            hash.output_len()
        ),
    })
}

/// Something that signs: an in-memory [`SigningKey`] or a key on a PKCS#11 token.
///
/// Signatures use the encodings [`PublicKey::verify`] accepts for `public_key()`.
pub trait Signer: Send + Sync + fmt::Debug {
    /// The public half of the signing key.
    fn public_key(&self) -> &PublicKey;

    /// Signs `message` (the whole message: hashing is part of the scheme).
    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, KeyError>;

    /// Signs a message of which `digest` is the `hash` digest, without the message; the
    /// signature verifies with [`PublicKey::verify_digest`] for the same `hash`. `None` when
    /// this signer cannot (Ed25519 is pure; PKCS#11 tokens for now): sign the message instead.
    fn sign_digest(
        &self,
        hash: &'static aws_lc_rs::digest::Algorithm,
        digest: &[u8],
    ) -> Option<Result<Vec<u8>, KeyError>> {
        let _ = (hash, digest);
        None
    }
}

enum KeyPair {
    Ecdsa(EcdsaKeyPair),
    Ed25519(Ed25519KeyPair),
    Rsa(RsaKeyPair),
}

/// A private key held in memory.
///
/// `Debug` shows only the algorithm and public key fingerprint. The private key lives inside
/// aws-lc, which clears it when freed; every copy tollgate makes (PKCS#8 DER, decrypted file
/// contents) is a [`Zeroizing`] buffer.
pub struct SigningKey {
    pair: KeyPair,
    public: PublicKey,
}

impl SigningKey {
    /// Generates a fresh key from the system random number generator.
    pub fn generate(algorithm: KeyAlgorithm) -> Result<Self, KeyError> {
        let failed = || KeyError::Crypto {
            operation: format!("{algorithm} key generation"),
        };
        let pair = match algorithm {
            KeyAlgorithm::Ed25519 => {
                KeyPair::Ed25519(Ed25519KeyPair::generate().map_err(|_| failed())?)
            }
            KeyAlgorithm::Rsa { bits: 3072 } => {
                KeyPair::Rsa(RsaKeyPair::generate(KeySize::Rsa3072).map_err(|_| failed())?)
            }
            KeyAlgorithm::Rsa { bits: 4096 } => {
                KeyPair::Rsa(RsaKeyPair::generate(KeySize::Rsa4096).map_err(|_| failed())?)
            }
            KeyAlgorithm::Rsa { .. } => return Err(KeyError::CannotGenerate(algorithm)),
            ecdsa => {
                let alg = ecdsa
                    .ecdsa_signing()
                    .ok_or(KeyError::CannotGenerate(algorithm))?;
                KeyPair::Ecdsa(EcdsaKeyPair::generate(alg).map_err(|_| failed())?)
            }
        };
        Self::from_pair(pair)
    }

    /// Loads an unencrypted PKCS#8 `PrivateKeyInfo` (DER).
    pub fn from_pkcs8_der(der: &[u8]) -> Result<Self, KeyError> {
        check_size(der.len())?;
        let info = PrivateKeyInfo::try_from(der).map_err(der_error("PKCS#8 private key"))?;
        let pair = match info.algorithm.oid {
            OID_EC_PUBLIC_KEY => {
                let curve = info.algorithm.parameters_oid().map_err(|_| KeyError::Der {
                    what: "PKCS#8 private key",
                    reason: "EC key without a named curve".into(),
                })?;
                let algorithm = KeyAlgorithm::from_curve(curve).ok_or_else(|| {
                    KeyError::UnsupportedAlgorithm {
                        algorithm: format!("EC curve {curve}"),
                    }
                })?;
                let alg = algorithm.ecdsa_signing().ok_or(KeyError::NotAKey)?;
                KeyPair::Ecdsa(
                    EcdsaKeyPair::from_pkcs8(alg, der).map_err(rejected("EC private key"))?,
                )
            }
            OID_ED25519 => KeyPair::Ed25519(
                Ed25519KeyPair::from_pkcs8_maybe_unchecked(der)
                    .map_err(rejected("Ed25519 private key"))?,
            ),
            OID_RSA => {
                KeyPair::Rsa(RsaKeyPair::from_pkcs8(der).map_err(rejected("RSA private key"))?)
            }
            other => {
                return Err(KeyError::UnsupportedAlgorithm {
                    algorithm: other.to_string(),
                });
            }
        };
        Self::from_pair(pair)
    }

    /// Loads a SEC1 `ECPrivateKey` (DER, the body of `EC PRIVATE KEY`) on P-256, P-384 or P-521.
    pub fn from_sec1_der(der: &[u8]) -> Result<Self, KeyError> {
        check_size(der.len())?;
        for algorithm in [
            KeyAlgorithm::EcdsaP256,
            KeyAlgorithm::EcdsaP384,
            KeyAlgorithm::EcdsaP521,
        ] {
            let Some(alg) = algorithm.ecdsa_signing() else {
                continue;
            };
            if let Ok(pair) = EcdsaKeyPair::from_private_key_der(alg, der) {
                return Self::from_pair(KeyPair::Ecdsa(pair));
            }
        }
        Err(KeyError::Rejected {
            what: "SEC1 EC private key",
            reason: "not an ECPrivateKey on P-256, P-384 or P-521".into(),
        })
    }

    /// Loads a PKCS#1 `RSAPrivateKey` (DER, the body of `RSA PRIVATE KEY`).
    pub fn from_pkcs1_der(der: &[u8]) -> Result<Self, KeyError> {
        check_size(der.len())?;
        let pair = RsaKeyPair::from_der(der).map_err(rejected("PKCS#1 RSA private key"))?;
        Self::from_pair(KeyPair::Rsa(pair))
    }

    fn from_pair(pair: KeyPair) -> Result<Self, KeyError> {
        let der: Result<PublicKeyX509Der<'static>, _> = match &pair {
            KeyPair::Ecdsa(p) => p.public_key().as_der(),
            KeyPair::Ed25519(p) => p.public_key().as_der(),
            KeyPair::Rsa(p) => p.public_key().as_der(),
        };
        let der = der.map_err(|_| KeyError::Crypto {
            operation: "encoding the public key".into(),
        })?;
        let public = PublicKey::from_spki_der(der.as_ref())?;
        Ok(Self { pair, public })
    }

    /// The key's algorithm.
    pub fn algorithm(&self) -> KeyAlgorithm {
        self.public.algorithm
    }

    /// The unencrypted PKCS#8 v1 `PrivateKeyInfo` (DER), as OpenSSL writes it.
    pub fn to_pkcs8_der(&self) -> Result<Zeroizing<Vec<u8>>, KeyError> {
        let failed = |_| KeyError::Crypto {
            operation: "encoding the private key".into(),
        };
        let der = match &self.pair {
            KeyPair::Ecdsa(p) => Zeroizing::new(p.to_pkcs8v1().map_err(failed)?.as_ref().to_vec()),
            KeyPair::Ed25519(p) => {
                Zeroizing::new(p.to_pkcs8v1().map_err(failed)?.as_ref().to_vec())
            }
            KeyPair::Rsa(p) => {
                let doc: aws_lc_rs::encoding::Pkcs8V1Der<'static> = p.as_der().map_err(failed)?;
                Zeroizing::new(doc.as_ref().to_vec())
            }
        };
        Ok(der)
    }

    /// PKCS#8 PEM: `PRIVATE KEY` without a password; with one, `ENCRYPTED PRIVATE KEY` under
    /// PBES2 with PBKDF2-HMAC-SHA256 (600,000 iterations) and AES-256-CBC, which OpenSSL,
    /// python-cryptography and Go read.
    pub fn to_pkcs8_pem(&self, password: Option<&[u8]>) -> Result<Zeroizing<String>, KeyError> {
        let der = self.to_pkcs8_der()?;
        match password {
            None => Ok(pem::encode("PRIVATE KEY", &der)),
            Some(password) => {
                let encrypted = pkcs8::encrypt(&der, password)?;
                Ok(pem::encode("ENCRYPTED PRIVATE KEY", &encrypted))
            }
        }
    }

    /// cosign's `ENCRYPTED SIGSTORE PRIVATE KEY`: PKCS#8 sealed with nacl/secretbox under a
    /// scrypt (N=65536, r=8, p=1) key, as `cosign generate-key-pair` writes. An empty password
    /// is valid, as in cosign.
    pub fn to_cosign_pem(&self, password: &[u8]) -> Result<String, KeyError> {
        let der = self.to_pkcs8_der()?;
        cosign::encrypt(&der, password, cosign::WRITE_LOG_N)
    }
}

impl Signer for SigningKey {
    fn public_key(&self) -> &PublicKey {
        &self.public
    }

    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, KeyError> {
        let failed = || KeyError::Crypto {
            operation: format!("{} signing", self.algorithm()),
        };
        let rng = SystemRandom::new();
        match &self.pair {
            KeyPair::Ecdsa(p) => Ok(p
                .sign(&rng, message)
                .map_err(|_| failed())?
                .as_ref()
                .to_vec()),
            KeyPair::Ed25519(p) => Ok(p.sign(message).as_ref().to_vec()),
            KeyPair::Rsa(p) => {
                let mut signature = vec![0; p.public_modulus_len()];
                p.sign(&sig::RSA_PKCS1_SHA256, &rng, message, &mut signature)
                    .map_err(|_| failed())?;
                Ok(signature)
            }
        }
    }

    fn sign_digest(
        &self,
        hash: &'static aws_lc_rs::digest::Algorithm,
        digest: &[u8],
    ) -> Option<Result<Vec<u8>, KeyError>> {
        let algorithm = self.algorithm();
        self.algorithm().digest_verification(hash)?;
        let failed = |_| KeyError::Crypto {
            operation: format!("{algorithm} signing"),
        };
        Some(match &self.pair {
            KeyPair::Ed25519(_) => return None,
            KeyPair::Ecdsa(p) => {
                // aws-lc binds an ECDSA key pair to its curve's hash. A shorter digest (SHA-256
                // on P-384/P-521) is signed as that hash's length with leading zero bytes:
                // ECDSA turns the digest into the same integer (bits2int, FIPS 186-5 6.4.1),
                // so the signature is the one over SHA-256 that verifiers expect.
                let own = algorithm.message_hash()?;
                if let Err(err) = import_digest(hash, digest) {
                    return Some(Err(err));
                }
                let mut padded = vec![0u8; own.output_len().saturating_sub(digest.len())];
                padded.extend_from_slice(digest);
                let digest = if hash == own { digest } else { &padded[..] };
                import_digest(own, digest)
                    .and_then(|d| Ok(p.sign_digest(&d).map_err(failed)?.as_ref().to_vec()))
            }
            KeyPair::Rsa(p) => import_digest(hash, digest).and_then(|d| {
                let mut signature = vec![0; p.public_modulus_len()];
                p.sign_digest(&sig::RSA_PKCS1_SHA256, &d, &mut signature)
                    .map_err(failed)?;
                Ok(signature)
            }),
        })
    }
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKey")
            .field("algorithm", &self.algorithm())
            .field("public_key_fingerprint", &self.public.fingerprint())
            .finish_non_exhaustive()
    }
}

/// How a key file is encoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum KeyFormat {
    /// PEM `PUBLIC KEY` (SubjectPublicKeyInfo).
    SpkiPem,
    /// DER SubjectPublicKeyInfo.
    SpkiDer,
    /// PEM `PRIVATE KEY` (unencrypted PKCS#8).
    Pkcs8Pem,
    /// DER unencrypted PKCS#8.
    Pkcs8Der,
    /// PEM `ENCRYPTED PRIVATE KEY` (PKCS#8 `EncryptedPrivateKeyInfo`).
    EncryptedPkcs8Pem,
    /// DER `EncryptedPrivateKeyInfo`.
    EncryptedPkcs8Der,
    /// PEM `EC PRIVATE KEY` (SEC1).
    Sec1Pem,
    /// DER SEC1 `ECPrivateKey`.
    Sec1Der,
    /// PEM `RSA PRIVATE KEY` (PKCS#1).
    Pkcs1Pem,
    /// DER PKCS#1 `RSAPrivateKey`.
    Pkcs1Der,
    /// cosign's `ENCRYPTED SIGSTORE PRIVATE KEY`.
    Cosign,
    /// cosign's older label `ENCRYPTED COSIGN PRIVATE KEY` (same contents).
    CosignLegacy,
}

impl KeyFormat {
    /// A short name: `spki-pem`, `pkcs8-pem`, `encrypted-pkcs8-pem`, `cosign`, ...
    pub fn name(self) -> &'static str {
        match self {
            Self::SpkiPem => "spki-pem",
            Self::SpkiDer => "spki-der",
            Self::Pkcs8Pem => "pkcs8-pem",
            Self::Pkcs8Der => "pkcs8-der",
            Self::EncryptedPkcs8Pem => "encrypted-pkcs8-pem",
            Self::EncryptedPkcs8Der => "encrypted-pkcs8-der",
            Self::Sec1Pem => "sec1-pem",
            Self::Sec1Der => "sec1-der",
            Self::Pkcs1Pem => "pkcs1-pem",
            Self::Pkcs1Der => "pkcs1-der",
            Self::Cosign => "cosign",
            Self::CosignLegacy => "cosign-legacy",
        }
    }

    /// What the format is, for people.
    pub fn description(self) -> &'static str {
        match self {
            Self::SpkiPem => "PEM PUBLIC KEY (SubjectPublicKeyInfo)",
            Self::SpkiDer => "DER SubjectPublicKeyInfo",
            Self::Pkcs8Pem => "PEM PRIVATE KEY (PKCS#8)",
            Self::Pkcs8Der => "DER PKCS#8",
            Self::EncryptedPkcs8Pem => "PEM ENCRYPTED PRIVATE KEY (PKCS#8, PBES2)",
            Self::EncryptedPkcs8Der => "DER encrypted PKCS#8 (PBES2)",
            Self::Sec1Pem => "PEM EC PRIVATE KEY (SEC1)",
            Self::Sec1Der => "DER SEC1 EC private key",
            Self::Pkcs1Pem => "PEM RSA PRIVATE KEY (PKCS#1)",
            Self::Pkcs1Der => "DER PKCS#1 RSA private key",
            Self::Cosign => "cosign ENCRYPTED SIGSTORE PRIVATE KEY (scrypt + secretbox)",
            Self::CosignLegacy => "cosign ENCRYPTED COSIGN PRIVATE KEY (scrypt + secretbox)",
        }
    }

    /// Whether the file holds a private key.
    pub fn is_private(self) -> bool {
        !matches!(self, Self::SpkiPem | Self::SpkiDer)
    }

    /// Whether the file is password-protected.
    pub fn is_encrypted(self) -> bool {
        matches!(
            self,
            Self::EncryptedPkcs8Pem | Self::EncryptedPkcs8Der | Self::Cosign | Self::CosignLegacy
        )
    }
}

impl fmt::Display for KeyFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

fn label_format(label: &str) -> Option<KeyFormat> {
    Some(match label {
        "PUBLIC KEY" => KeyFormat::SpkiPem,
        "PRIVATE KEY" => KeyFormat::Pkcs8Pem,
        "ENCRYPTED PRIVATE KEY" => KeyFormat::EncryptedPkcs8Pem,
        "EC PRIVATE KEY" => KeyFormat::Sec1Pem,
        "RSA PRIVATE KEY" => KeyFormat::Pkcs1Pem,
        "ENCRYPTED SIGSTORE PRIVATE KEY" => KeyFormat::Cosign,
        "ENCRYPTED COSIGN PRIVATE KEY" => KeyFormat::CosignLegacy,
        _ => return None,
    })
}

enum Body {
    Der(Zeroizing<Vec<u8>>),
    Cosign(cosign::EncryptedKey),
}

/// A key file whose encoding has been recognised and checked, but which may still need a
/// password to be used.
pub struct KeyFile {
    format: KeyFormat,
    body: Body,
}

impl KeyFile {
    /// Recognises a key file (PEM or DER) and checks its structure. Encrypted keys are not
    /// decrypted yet; cosign files have their KDF and cipher parameters checked.
    pub fn parse(bytes: &[u8]) -> Result<Self, KeyError> {
        check_size(bytes.len())?;
        if pem::looks_like_pem(bytes) {
            let block = pem::decode(bytes)?;
            let format = label_format(&block.label).ok_or_else(|| KeyError::UnknownPemLabel {
                label: block.label.clone(),
            })?;
            let body = match format {
                KeyFormat::SpkiPem => {
                    PublicKey::from_spki_der(&block.der)?;
                    Body::Der(block.der)
                }
                KeyFormat::Pkcs8Pem => {
                    PrivateKeyInfo::try_from(&block.der[..])
                        .map_err(der_error("PKCS#8 private key"))?;
                    Body::Der(block.der)
                }
                KeyFormat::EncryptedPkcs8Pem => {
                    pkcs8::check_encrypted(&block.der)?;
                    Body::Der(block.der)
                }
                KeyFormat::Cosign | KeyFormat::CosignLegacy => {
                    Body::Cosign(cosign::EncryptedKey::parse(&block.der)?)
                }
                _ => Body::Der(block.der),
            };
            return Ok(Self { format, body });
        }
        if bytes.first() != Some(&0x30) {
            return Err(KeyError::NotAKey);
        }
        let der = Zeroizing::new(bytes.to_vec());
        let format = if SubjectPublicKeyInfoRef::try_from(bytes).is_ok() {
            PublicKey::from_spki_der(bytes)?;
            KeyFormat::SpkiDer
        } else if PrivateKeyInfo::try_from(bytes).is_ok() {
            KeyFormat::Pkcs8Der
        } else if pkcs8::is_encrypted_private_key(bytes) {
            pkcs8::check_encrypted(bytes)?;
            KeyFormat::EncryptedPkcs8Der
        } else if SigningKey::from_sec1_der(bytes).is_ok() {
            KeyFormat::Sec1Der
        } else if SigningKey::from_pkcs1_der(bytes).is_ok() {
            KeyFormat::Pkcs1Der
        } else {
            return Err(KeyError::NotAKey);
        };
        Ok(Self {
            format,
            body: Body::Der(der),
        })
    }

    /// The file's encoding.
    pub fn format(&self) -> KeyFormat {
        self.format
    }

    /// Whether the file holds a private key.
    pub fn is_private(&self) -> bool {
        self.format.is_private()
    }

    /// Whether the file is password-protected.
    pub fn is_encrypted(&self) -> bool {
        self.format.is_encrypted()
    }

    /// The public key, for public key files and unencrypted private keys; an encrypted key
    /// gives [`KeyError::PasswordRequired`] (use [`KeyFile::signing_key`]).
    pub fn public_key(&self) -> Result<PublicKey, KeyError> {
        match (&self.body, self.format) {
            (Body::Der(der), KeyFormat::SpkiPem | KeyFormat::SpkiDer) => {
                PublicKey::from_spki_der(der)
            }
            _ if self.is_encrypted() => Err(KeyError::PasswordRequired { path: None }),
            _ => Ok(self.signing_key(None)?.public),
        }
    }

    /// The private key. `password` is needed (and only used) for encrypted files; `None` for
    /// an encrypted file gives [`KeyError::PasswordRequired`], a wrong one
    /// [`KeyError::WrongPassword`].
    pub fn signing_key(&self, password: Option<&[u8]>) -> Result<SigningKey, KeyError> {
        let required = || KeyError::PasswordRequired { path: None };
        match (&self.body, self.format) {
            (Body::Cosign(key), _) => {
                let der = key.decrypt(password.ok_or_else(required)?)?;
                SigningKey::from_pkcs8_der(&der)
            }
            (Body::Der(_), KeyFormat::SpkiPem | KeyFormat::SpkiDer) => Err(KeyError::NotPrivate),
            (Body::Der(der), KeyFormat::Pkcs8Pem | KeyFormat::Pkcs8Der) => {
                SigningKey::from_pkcs8_der(der)
            }
            (Body::Der(der), KeyFormat::EncryptedPkcs8Pem | KeyFormat::EncryptedPkcs8Der) => {
                let plain = pkcs8::decrypt(der, password.ok_or_else(required)?)?;
                SigningKey::from_pkcs8_der(&plain)
            }
            (Body::Der(der), KeyFormat::Sec1Pem | KeyFormat::Sec1Der) => {
                SigningKey::from_sec1_der(der)
            }
            (Body::Der(der), KeyFormat::Pkcs1Pem | KeyFormat::Pkcs1Der) => {
                SigningKey::from_pkcs1_der(der)
            }
            (Body::Der(_), KeyFormat::Cosign | KeyFormat::CosignLegacy) => Err(KeyError::NotAKey),
        }
    }
}

impl fmt::Debug for KeyFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyFile")
            .field("format", &self.format)
            .finish_non_exhaustive()
    }
}

/// Reads a key file, refusing anything over [`MAX_KEY_FILE_SIZE`]. The bytes are zeroized on
/// drop.
pub fn read_key_file(path: &Path) -> Result<Zeroizing<Vec<u8>>, KeyError> {
    let io = |err| KeyError::Io {
        path: path.to_owned(),
        err,
    };
    let file = std::fs::File::open(path).map_err(io)?;
    let mut bytes = Zeroizing::new(Vec::new());
    file.take(MAX_KEY_FILE_SIZE + 1)
        .read_to_end(&mut bytes)
        .map_err(io)?;
    check_size(bytes.len()).map_err(|e| e.with_path(path))?;
    Ok(bytes)
}

/// Loads a private key from file contents in any format [`KeyFile::parse`] recognises.
pub fn load_private_key(bytes: &[u8], password: Option<&[u8]>) -> Result<SigningKey, KeyError> {
    KeyFile::parse(bytes)?.signing_key(password)
}

/// Loads a public key from file contents (SubjectPublicKeyInfo, PEM or DER).
pub fn load_public_key(bytes: &[u8]) -> Result<PublicKey, KeyError> {
    PublicKey::from_bytes(bytes)
}

/// [`read_key_file`] + [`load_private_key`], with the path in every error.
pub fn load_private_key_file(path: &Path, password: Option<&[u8]>) -> Result<SigningKey, KeyError> {
    let bytes = read_key_file(path)?;
    load_private_key(&bytes, password).map_err(|e| e.with_path(path))
}

/// [`read_key_file`] + [`load_public_key`], with the path in every error.
pub fn load_public_key_file(path: &Path) -> Result<PublicKey, KeyError> {
    let bytes = read_key_file(path)?;
    load_public_key(&bytes).map_err(|e| e.with_path(path))
}

/// Opens a signer: a `pkcs11:` URI (RFC 7512, see [`pkcs11`]) or the path of a private key
/// file. `password` decrypts an encrypted key file; when it is `None` and the file is
/// encrypted, the error answers [`KeyError::is_password_required`] so a caller can prompt and
/// retry. Tokens take their PIN from the URI or `TOLLGATE_PKCS11_PIN`.
pub fn load_signer(spec: &str, password: Option<&[u8]>) -> Result<Box<dyn Signer>, KeyError> {
    if spec.starts_with("pkcs11:") {
        return Ok(Box::new(pkcs11::Pkcs11Signer::open(spec)?));
    }
    Ok(Box::new(load_private_key_file(Path::new(spec), password)?))
}

#[cfg(test)]
mod tests;
