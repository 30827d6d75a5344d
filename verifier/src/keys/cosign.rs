//! cosign's encrypted key file: PEM `ENCRYPTED SIGSTORE PRIVATE KEY` (or the older
//! `ENCRYPTED COSIGN PRIVATE KEY`) around compact JSON
//!
//! ```text
//! {"kdf":{"name":"scrypt","params":{"N":65536,"r":8,"p":1},"salt":"<b64, 32 bytes>"},
//!  "cipher":{"name":"nacl/secretbox","nonce":"<b64, 24 bytes>"},"ciphertext":"<b64>"}
//! ```
//!
//! key = scrypt(password, salt, N, r, p, 32); ciphertext = XSalsa20-Poly1305 secretbox (tag
//! first) of the PKCS#8 DER. This is go-securesystemslib's `encrypted` package as cosign uses
//! it; no crate reads it except sigstore-rs's, which brings its whole client stack. Reading
//! accepts what cosign's `Decrypt` accepts: kdf `scrypt` with (N, r, p) one of (32768, 8, 1),
//! (65536, 8, 1), (131072, 8, 1), cipher `nacl/secretbox`; anything else is refused naming the
//! field. Writing uses N=65536 and writes the JSON byte for byte as Go's `encoding/json` does.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use crypto_secretbox::aead::{Aead as _, KeyInit as _};
use crypto_secretbox::{Nonce, XSalsa20Poly1305};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use super::{KeyError, pem};

/// log2(N) written: N = 65536, cosign's current default.
pub(crate) const WRITE_LOG_N: u8 = 16;
/// (N, r, p) cosign accepts.
const ACCEPTED: [(u64, u64, u64); 3] = [(32768, 8, 1), (65536, 8, 1), (131072, 8, 1)];
const SALT_LEN: usize = 32;
const NONCE_LEN: usize = 24;
const TAG_LEN: usize = 16;

/// The JSON as written (field order is Go's struct order).
#[derive(Serialize)]
struct Envelope<'a> {
    kdf: KdfOut<'a>,
    cipher: CipherOut<'a>,
    ciphertext: String,
}

#[derive(Serialize)]
struct KdfOut<'a> {
    name: &'a str,
    params: ParamsOut,
    salt: String,
}

#[derive(Serialize)]
struct ParamsOut {
    #[serde(rename = "N")]
    n: u64,
    r: u64,
    p: u64,
}

#[derive(Serialize)]
struct CipherOut<'a> {
    name: &'a str,
    nonce: String,
}

/// The JSON as read: every field optional so a missing one is reported by name.
#[derive(Deserialize)]
struct RawEnvelope {
    kdf: Option<RawKdf>,
    cipher: Option<RawCipher>,
    ciphertext: Option<String>,
}

#[derive(Deserialize)]
struct RawKdf {
    name: Option<String>,
    params: Option<RawParams>,
    salt: Option<String>,
}

#[derive(Deserialize)]
struct RawParams {
    #[serde(rename = "N")]
    n: Option<u64>,
    r: Option<u64>,
    p: Option<u64>,
}

#[derive(Deserialize)]
struct RawCipher {
    name: Option<String>,
    nonce: Option<String>,
}

/// A checked cosign key file, not yet decrypted.
pub(crate) struct EncryptedKey {
    log_n: u8,
    r: u32,
    p: u32,
    salt: Vec<u8>,
    nonce: [u8; NONCE_LEN],
    ciphertext: Vec<u8>,
}

fn field(field: &'static str, problem: impl Into<String>) -> KeyError {
    KeyError::CosignField {
        field,
        problem: problem.into(),
    }
}

fn missing(name: &'static str) -> KeyError {
    field(name, "is missing")
}

fn base64_field(name: &'static str, value: Option<String>) -> Result<Vec<u8>, KeyError> {
    let value = value.ok_or_else(|| missing(name))?;
    STANDARD
        .decode(value.as_bytes())
        .map_err(|_| field(name, "is not standard base64"))
}

fn shorten(s: &str) -> String {
    s.chars().take(64).collect()
}

impl EncryptedKey {
    /// Checks the JSON body of a cosign PEM block.
    pub(crate) fn parse(json: &[u8]) -> Result<Self, KeyError> {
        Self::parse_accepting(json, &ACCEPTED)
    }

    /// [`EncryptedKey::parse`] with another set of accepted (N, r, p): lets tests round-trip
    /// every key type through the format without paying for N=65536 each time.
    pub(crate) fn parse_accepting(
        json: &[u8],
        accepted: &[(u64, u64, u64)],
    ) -> Result<Self, KeyError> {
        let raw: RawEnvelope = serde_json::from_slice(json).map_err(|e| KeyError::CosignField {
            field: "(document)",
            problem: format!("is not the JSON cosign writes: {e}"),
        })?;
        let kdf = raw.kdf.ok_or_else(|| missing("kdf"))?;
        let name = kdf.name.ok_or_else(|| missing("kdf.name"))?;
        if name != "scrypt" {
            return Err(field(
                "kdf.name",
                format!("is {:?}; cosign supports only \"scrypt\"", shorten(&name)),
            ));
        }
        let params = kdf.params.ok_or_else(|| missing("kdf.params"))?;
        let n = params.n.ok_or_else(|| missing("kdf.params.N"))?;
        let r = params.r.ok_or_else(|| missing("kdf.params.r"))?;
        let p = params.p.ok_or_else(|| missing("kdf.params.p"))?;
        if !accepted.contains(&(n, r, p)) || !n.is_power_of_two() || r != 8 || p != 1 {
            return Err(field(
                "kdf.params",
                format!(
                    "is N={n} r={r} p={p}; cosign accepts only N=32768, 65536 or 131072 with r=8, p=1"
                ),
            ));
        }
        let salt = base64_field("kdf.salt", kdf.salt)?;
        if salt.is_empty() {
            return Err(field("kdf.salt", "is empty"));
        }
        let cipher = raw.cipher.ok_or_else(|| missing("cipher"))?;
        let cipher_name = cipher.name.ok_or_else(|| missing("cipher.name"))?;
        if cipher_name != "nacl/secretbox" {
            return Err(field(
                "cipher.name",
                format!(
                    "is {:?}; cosign supports only \"nacl/secretbox\"",
                    shorten(&cipher_name)
                ),
            ));
        }
        let nonce = base64_field("cipher.nonce", cipher.nonce)?;
        let nonce: [u8; NONCE_LEN] = nonce.as_slice().try_into().map_err(|_| {
            field(
                "cipher.nonce",
                format!("is {} bytes; secretbox needs {NONCE_LEN}", nonce.len()),
            )
        })?;
        let ciphertext = base64_field("ciphertext", raw.ciphertext)?;
        if ciphertext.len() <= TAG_LEN {
            return Err(field("ciphertext", "is too short to hold a key"));
        }
        Ok(Self {
            // N is one of the accepted powers of two: 15, 16 or 17.
            log_n: u8::try_from(n.trailing_zeros()).unwrap_or(u8::MAX),
            r: 8,
            p: 1,
            salt,
            nonce,
            ciphertext,
        })
    }

    /// Decrypts to the PKCS#8 DER inside.
    pub(crate) fn decrypt(&self, password: &[u8]) -> Result<Zeroizing<Vec<u8>>, KeyError> {
        let key = derive(password, &self.salt, self.log_n, self.r, self.p)?;
        let cipher = XSalsa20Poly1305::new_from_slice(&key[..]).map_err(|_| KeyError::Crypto {
            operation: "secretbox key setup".into(),
        })?;
        cipher
            .decrypt(Nonce::from_slice(&self.nonce), self.ciphertext.as_slice())
            .map(Zeroizing::new)
            .map_err(|_| KeyError::WrongPassword { path: None })
    }
}

fn derive(
    password: &[u8],
    salt: &[u8],
    log_n: u8,
    r: u32,
    p: u32,
) -> Result<Zeroizing<[u8; 32]>, KeyError> {
    let params = scrypt::Params::new(log_n, r, p).map_err(|_| KeyError::Crypto {
        operation: "scrypt parameter setup".into(),
    })?;
    let mut key = Zeroizing::new([0u8; 32]);
    scrypt::scrypt(password, salt, &params, &mut key[..]).map_err(|_| KeyError::Crypto {
        operation: "scrypt".into(),
    })?;
    Ok(key)
}

/// Seals PKCS#8 DER into a cosign PEM file with scrypt N = 2^`log_n`, r=8, p=1.
pub(crate) fn encrypt(pkcs8_der: &[u8], password: &[u8], log_n: u8) -> Result<String, KeyError> {
    let mut salt = [0u8; SALT_LEN];
    let mut nonce = [0u8; NONCE_LEN];
    aws_lc_rs::rand::fill(&mut salt).map_err(|_| KeyError::Random)?;
    aws_lc_rs::rand::fill(&mut nonce).map_err(|_| KeyError::Random)?;
    let key = derive(password, &salt, log_n, 8, 1)?;
    let cipher = XSalsa20Poly1305::new_from_slice(&key[..]).map_err(|_| KeyError::Crypto {
        operation: "secretbox key setup".into(),
    })?;
    let ciphertext = cipher
        .encrypt(Nonce::from_slice(&nonce), pkcs8_der)
        .map_err(|_| KeyError::Crypto {
            operation: "secretbox encryption".into(),
        })?;
    let envelope = Envelope {
        kdf: KdfOut {
            name: "scrypt",
            params: ParamsOut {
                n: 1 << log_n,
                r: 8,
                p: 1,
            },
            salt: STANDARD.encode(salt),
        },
        cipher: CipherOut {
            name: "nacl/secretbox",
            nonce: STANDARD.encode(nonce),
        },
        ciphertext: STANDARD.encode(&ciphertext),
    };
    let json = serde_json::to_vec(&envelope).map_err(|e| KeyError::Der {
        what: "cosign key JSON",
        reason: e.to_string(),
    })?;
    Ok(pem::encode("ENCRYPTED SIGSTORE PRIVATE KEY", &json).to_string())
}
