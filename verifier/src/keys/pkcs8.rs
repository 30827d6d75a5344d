//! Encrypted PKCS#8 (`ENCRYPTED PRIVATE KEY`): PBES2 (RFC 8018) over aws-lc-rs.
//!
//! The ASN.1 (`EncryptedPrivateKeyInfo`, PBES2 parameters) is the `pkcs8`/`pkcs5` crates';
//! the key derivation and cipher are aws-lc-rs's PBKDF2 and AES-CBC, plus the `scrypt` crate
//! for scrypt-based files (`openssl pkcs8 -scrypt`). `pkcs5`'s own `pbes2` feature would add a
//! second SHA-2/AES/HMAC stack (an older RustCrypto generation than the workspace's), and in
//! unoptimised test builds its PBKDF2 takes ~10 s per 600,000-iteration key; what remains here
//! is wiring of library primitives, not cryptography.
//!
//! Writing: PBKDF2-HMAC-SHA256, 600,000 iterations (OWASP 2023), 16-byte salt, AES-256-CBC
//! with a random IV: OpenSSL 1.1+/3, python-cryptography and Go read it. Reading: PBKDF2 with
//! HMAC-SHA1/256/384/512 or scrypt, AES-128/192/256-CBC; costs are bounded so a hostile file
//! cannot make tollgate spin or allocate gigabytes.

use std::num::NonZeroU32;

use ::pkcs8::der::{Decode as _, Encode as _};
use ::pkcs8::pkcs5::EncryptionScheme;
use ::pkcs8::pkcs5::pbes2::{self, Kdf, Pbkdf2Prf};
use ::pkcs8::{EncryptedPrivateKeyInfo, PrivateKeyInfo};
use aws_lc_rs::cipher::{
    AES_128, AES_192, AES_256, DecryptionContext, PaddedBlockDecryptingKey,
    PaddedBlockEncryptingKey, UnboundCipherKey,
};
use aws_lc_rs::pbkdf2;
use zeroize::Zeroizing;

use super::KeyError;

/// PBKDF2 iterations written.
pub(crate) const WRITE_ITERATIONS: u32 = 600_000;
/// Most PBKDF2 iterations read (RFC 8018 mentions 10,000,000 for "especially critical keys").
const MAX_ITERATIONS: u32 = 10_000_000;
/// Most scrypt memory read: 128·r·N bytes.
const MAX_SCRYPT_MEMORY: u64 = 256 << 20;
/// Largest scrypt parallelisation read.
const MAX_SCRYPT_P: u16 = 16;

/// Checks that `der` is an `EncryptedPrivateKeyInfo` tollgate can decrypt (without a password).
pub(crate) fn check_encrypted(der: &[u8]) -> Result<(), KeyError> {
    let info = parse(der)?;
    plan(&info).map(drop)
}

/// Whether `der` is structurally an `EncryptedPrivateKeyInfo`.
pub(crate) fn is_encrypted_private_key(der: &[u8]) -> bool {
    parse(der).is_ok()
}

fn parse(der: &[u8]) -> Result<EncryptedPrivateKeyInfo<'_>, KeyError> {
    EncryptedPrivateKeyInfo::from_der(der).map_err(|e| KeyError::Der {
        what: "encrypted PKCS#8 private key",
        reason: e.to_string(),
    })
}

/// What decrypting takes: the PBES2 parameters and the AES key length.
fn plan<'a>(
    info: &'a EncryptedPrivateKeyInfo<'a>,
) -> Result<(&'a pbes2::Parameters<'a>, usize), KeyError> {
    let params = match &info.encryption_algorithm {
        EncryptionScheme::Pbes2(params) => params,
        EncryptionScheme::Pbes1(alg) => {
            return Err(KeyError::UnsupportedEncryption {
                scheme: format!("PBES1 ({})", alg.encryption.oid()),
            });
        }
        other => {
            return Err(KeyError::UnsupportedEncryption {
                scheme: other.oid().to_string(),
            });
        }
    };
    let key_len = match params.encryption {
        pbes2::EncryptionScheme::Aes128Cbc { .. } => 16,
        pbes2::EncryptionScheme::Aes192Cbc { .. } => 24,
        pbes2::EncryptionScheme::Aes256Cbc { .. } => 32,
        other => {
            return Err(KeyError::UnsupportedEncryption {
                scheme: format!("PBES2 cipher {}", other.oid()),
            });
        }
    };
    if let Some(len) = params.kdf.key_length()
        && usize::from(len) != key_len
    {
        return Err(KeyError::Der {
            what: "encrypted PKCS#8 private key",
            reason: format!("KDF key length {len} does not fit the cipher's {key_len}"),
        });
    }
    match &params.kdf {
        Kdf::Pbkdf2(p) => {
            if p.iteration_count == 0 || p.iteration_count > MAX_ITERATIONS {
                return Err(KeyError::KdfTooCostly {
                    cost: format!("{} PBKDF2 iterations", p.iteration_count),
                    limit: "1 to 10,000,000",
                });
            }
            if p.prf == Pbkdf2Prf::HmacWithSha224 {
                return Err(KeyError::UnsupportedEncryption {
                    scheme: "PBKDF2 with HMAC-SHA224".into(),
                });
            }
        }
        Kdf::Scrypt(s) => {
            let n = s.cost_parameter;
            let memory = 128u64
                .saturating_mul(u64::from(s.block_size))
                .saturating_mul(n);
            if !n.is_power_of_two() || n < 2 || s.block_size == 0 || s.parallelization == 0 {
                return Err(KeyError::Der {
                    what: "encrypted PKCS#8 private key",
                    reason: "invalid scrypt parameters".into(),
                });
            }
            if memory > MAX_SCRYPT_MEMORY || s.parallelization > MAX_SCRYPT_P {
                return Err(KeyError::KdfTooCostly {
                    cost: format!("scrypt N={n} r={} p={}", s.block_size, s.parallelization),
                    limit: "128·r·N at most 256 MiB, p at most 16",
                });
            }
        }
        other => {
            return Err(KeyError::UnsupportedEncryption {
                scheme: format!("PBES2 key derivation {}", other.oid()),
            });
        }
    }
    Ok((params, key_len))
}

/// Decrypts an `EncryptedPrivateKeyInfo` to the `PrivateKeyInfo` DER inside.
pub(crate) fn decrypt(der: &[u8], password: &[u8]) -> Result<Zeroizing<Vec<u8>>, KeyError> {
    let info = parse(der)?;
    let (params, key_len) = plan(&info)?;
    let mut key = Zeroizing::new(vec![0u8; key_len]);
    match &params.kdf {
        Kdf::Pbkdf2(p) => {
            let algorithm = match p.prf {
                Pbkdf2Prf::HmacWithSha1 => pbkdf2::PBKDF2_HMAC_SHA1,
                Pbkdf2Prf::HmacWithSha256 => pbkdf2::PBKDF2_HMAC_SHA256,
                Pbkdf2Prf::HmacWithSha384 => pbkdf2::PBKDF2_HMAC_SHA384,
                Pbkdf2Prf::HmacWithSha512 => pbkdf2::PBKDF2_HMAC_SHA512,
                other => {
                    return Err(KeyError::UnsupportedEncryption {
                        scheme: format!("PBKDF2 PRF {}", other.oid()),
                    });
                }
            };
            let iterations = NonZeroU32::new(p.iteration_count).ok_or(KeyError::KdfTooCostly {
                cost: "0 PBKDF2 iterations".into(),
                limit: "1 to 10,000,000",
            })?;
            pbkdf2::derive(algorithm, iterations, p.salt, password, &mut key);
        }
        Kdf::Scrypt(s) => {
            // `plan` checked N is a power of two no larger than 2^21.
            let log_n = u8::try_from(s.cost_parameter.trailing_zeros()).unwrap_or(u8::MAX);
            let scrypt_params =
                scrypt::Params::new(log_n, u32::from(s.block_size), u32::from(s.parallelization))
                    .map_err(|_| KeyError::Der {
                    what: "encrypted PKCS#8 private key",
                    reason: "invalid scrypt parameters".into(),
                })?;
            scrypt::scrypt(password, s.salt, &scrypt_params, &mut key).map_err(|_| {
                KeyError::Crypto {
                    operation: "scrypt".into(),
                }
            })?;
        }
        other => {
            return Err(KeyError::UnsupportedEncryption {
                scheme: format!("PBES2 key derivation {}", other.oid()),
            });
        }
    }
    let (cipher, iv) = match params.encryption {
        pbes2::EncryptionScheme::Aes128Cbc { iv } => (&AES_128, iv),
        pbes2::EncryptionScheme::Aes192Cbc { iv } => (&AES_192, iv),
        pbes2::EncryptionScheme::Aes256Cbc { iv } => (&AES_256, iv),
        other => {
            return Err(KeyError::UnsupportedEncryption {
                scheme: format!("PBES2 cipher {}", other.oid()),
            });
        }
    };
    let crypto = |operation: &str| KeyError::Crypto {
        operation: operation.into(),
    };
    let key = UnboundCipherKey::new(cipher, &key).map_err(|_| crypto("AES key setup"))?;
    let decrypting =
        PaddedBlockDecryptingKey::cbc_pkcs7(key).map_err(|_| crypto("AES key setup"))?;
    let mut buffer = Zeroizing::new(info.encrypted_data.to_vec());
    let plain = decrypting
        .decrypt(&mut buffer, DecryptionContext::Iv128((*iv).into()))
        .map_err(|_| KeyError::WrongPassword { path: None })?;
    // A wrong key passes the padding check about once in 256 tries: the structure check
    // catches those.
    if PrivateKeyInfo::from_der(plain).is_err() {
        return Err(KeyError::WrongPassword { path: None });
    }
    Ok(Zeroizing::new(plain.to_vec()))
}

/// Encrypts a `PrivateKeyInfo` DER under `password` (see the module docs for the parameters).
pub(crate) fn encrypt(plain: &[u8], password: &[u8]) -> Result<Vec<u8>, KeyError> {
    encrypt_with(plain, password, WRITE_ITERATIONS)
}

pub(crate) fn encrypt_with(
    plain: &[u8],
    password: &[u8],
    iterations: u32,
) -> Result<Vec<u8>, KeyError> {
    let mut salt = [0u8; 16];
    aws_lc_rs::rand::fill(&mut salt).map_err(|_| KeyError::Random)?;
    let iterations_nz = NonZeroU32::new(iterations).ok_or(KeyError::KdfTooCostly {
        cost: "0 PBKDF2 iterations".into(),
        limit: "1 to 10,000,000",
    })?;
    let mut key = Zeroizing::new([0u8; 32]);
    pbkdf2::derive(
        pbkdf2::PBKDF2_HMAC_SHA256,
        iterations_nz,
        &salt,
        password,
        &mut key[..],
    );
    let crypto = |operation: &str| KeyError::Crypto {
        operation: operation.into(),
    };
    let key = UnboundCipherKey::new(&AES_256, &key[..]).map_err(|_| crypto("AES key setup"))?;
    let encrypting =
        PaddedBlockEncryptingKey::cbc_pkcs7(key).map_err(|_| crypto("AES key setup"))?;
    // Room for the padding up front, so the buffer holding plaintext never reallocates and
    // leaves an unzeroized copy behind.
    let mut buffer = Vec::with_capacity(plain.len() + 16);
    buffer.extend_from_slice(plain);
    let context = encrypting
        .encrypt(&mut buffer)
        .map_err(|_| crypto("AES-256-CBC encryption"))?;
    let iv: [u8; 16] = match context {
        DecryptionContext::Iv128(iv) => {
            <[u8; 16]>::try_from(iv).map_err(|_| crypto("AES-256-CBC encryption"))?
        }
        _ => return Err(crypto("AES-256-CBC encryption")),
    };
    let params =
        pbes2::Parameters::pbkdf2_sha256_aes256cbc(iterations, &salt, &iv).map_err(|e| {
            KeyError::Der {
                what: "PBES2 parameters",
                reason: e.to_string(),
            }
        })?;
    let info = EncryptedPrivateKeyInfo {
        encryption_algorithm: EncryptionScheme::Pbes2(params),
        encrypted_data: &buffer,
    };
    info.to_der().map_err(|e| KeyError::Der {
        what: "encrypted PKCS#8 private key",
        reason: e.to_string(),
    })
}
