//! Digests: the hash algorithms tollgate computes and the [`Digest`] value they produce.
//!
//! This module owns the algorithm names as the specs spell them (`sha256`, `blake2b`, `blake3`),
//! the `algorithm:hex` text form, constant-time comparison, and the incremental [`Hasher`] that
//! the engine feeds. Scheduling files and shards over threads lives in [`engine`]; reading bytes
//! (memory-mapped or buffered) lives in `mmap`, the crate's only unsafe code.

pub mod engine;
mod mmap;

pub use mmap::install_sigbus_handler;

use std::fmt;
use std::str::FromStr;

use sha2::Digest as _;

/// A hash algorithm tollgate computes.
///
/// `Blake2b` is BLAKE2b-512, the `blake2b` of model_signing; BLAKE3 has the default 32-byte
/// output.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum HashAlgorithm {
    /// SHA-256 (FIPS 180-4); uses the CPU's SHA extensions where present.
    Sha256,
    /// BLAKE2b with a 64-byte digest.
    Blake2b,
    /// BLAKE3 with a 32-byte digest; parallel inside one input.
    Blake3,
}

impl HashAlgorithm {
    /// Every algorithm, in the order help texts list them.
    pub const ALL: [Self; 3] = [Self::Sha256, Self::Blake2b, Self::Blake3];

    /// The name used in manifests and in `algorithm:hex` digests.
    pub const fn name(self) -> &'static str {
        match self {
            Self::Sha256 => "sha256",
            Self::Blake2b => "blake2b",
            Self::Blake3 => "blake3",
        }
    }

    /// Digest length in bytes.
    pub const fn output_len(self) -> usize {
        match self {
            Self::Sha256 | Self::Blake3 => 32,
            Self::Blake2b => 64,
        }
    }
}

impl fmt::Display for HashAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for HashAlgorithm {
    type Err = DigestError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|a| a.name() == s)
            .ok_or_else(|| DigestError::UnknownAlgorithm(s.chars().take(64).collect()))
    }
}

/// Why a digest could not be parsed or built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DigestError {
    /// The algorithm name is not one tollgate computes.
    #[error("unknown hash algorithm {0:?} (expected one of sha256, blake2b, blake3)")]
    UnknownAlgorithm(String),
    /// The digest has the wrong number of bytes for its algorithm.
    #[error("{algorithm} digest must be {expected} bytes, got {actual}")]
    Length {
        /// The algorithm named.
        algorithm: HashAlgorithm,
        /// Bytes that algorithm produces.
        expected: usize,
        /// Bytes given.
        actual: usize,
    },
    /// The hex text is not lowercase or uppercase hexadecimal of even length.
    #[error("digest is not hexadecimal")]
    Hex,
    /// The text has no `algorithm:` prefix.
    #[error("digest must look like algorithm:hex, e.g. sha256:e3b0c442...")]
    MissingAlgorithm,
}

/// A digest: the algorithm that produced it and its bytes.
///
/// Equality is constant-time in the digest bytes. Prints as `sha256:<hex>`.
#[derive(Clone, Copy)]
pub struct Digest {
    algorithm: HashAlgorithm,
    bytes: [u8; 64],
}

impl Digest {
    /// Builds a digest from raw bytes, checking the length against the algorithm.
    pub fn new(algorithm: HashAlgorithm, bytes: &[u8]) -> Result<Self, DigestError> {
        let expected = algorithm.output_len();
        if bytes.len() != expected {
            return Err(DigestError::Length {
                algorithm,
                expected,
                actual: bytes.len(),
            });
        }
        let mut buf = [0u8; 64];
        buf[..expected].copy_from_slice(bytes);
        Ok(Self {
            algorithm,
            bytes: buf,
        })
    }

    /// Parses the hex form of a digest of a known algorithm.
    pub fn from_hex(algorithm: HashAlgorithm, hex: &str) -> Result<Self, DigestError> {
        let expected = algorithm.output_len();
        if hex.len() != expected * 2 {
            return Err(DigestError::Length {
                algorithm,
                expected,
                actual: hex.len() / 2,
            });
        }
        let mut buf = [0u8; 64];
        for (i, pair) in hex.as_bytes().chunks_exact(2).enumerate() {
            buf[i] = (nibble(pair[0])? << 4) | nibble(pair[1])?;
        }
        Ok(Self {
            algorithm,
            bytes: buf,
        })
    }

    /// SHA-256 of an in-memory byte string.
    pub fn sha256(data: &[u8]) -> Self {
        let mut hasher = Hasher::new(HashAlgorithm::Sha256);
        hasher.update(data);
        hasher.finalize()
    }

    /// The algorithm that produced this digest.
    pub fn algorithm(&self) -> HashAlgorithm {
        self.algorithm
    }

    /// The raw digest bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes[..self.algorithm.output_len()]
    }

    /// Lowercase hex of the digest bytes, without the algorithm prefix.
    pub fn hex(&self) -> String {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let mut out = String::with_capacity(self.as_bytes().len() * 2);
        for b in self.as_bytes() {
            out.push(HEX[usize::from(b >> 4)] as char);
            out.push(HEX[usize::from(b & 0xf)] as char);
        }
        out
    }
}

fn nibble(c: u8) -> Result<u8, DigestError> {
    match c {
        b'0'..=b'9' => Ok(c - b'0'),
        b'a'..=b'f' => Ok(c - b'a' + 10),
        b'A'..=b'F' => Ok(c - b'A' + 10),
        _ => Err(DigestError::Hex),
    }
}

impl PartialEq for Digest {
    fn eq(&self, other: &Self) -> bool {
        // Constant-time over the bytes: digests guard integrity, so a comparison must not leak
        // how long a prefix matched.
        let diff = self
            .bytes
            .iter()
            .zip(other.bytes.iter())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b));
        (self.algorithm == other.algorithm) & (diff == 0)
    }
}

impl Eq for Digest {}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.algorithm, self.hex())
    }
}

impl fmt::Debug for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl FromStr for Digest {
    type Err = DigestError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (alg, hex) = s.split_once(':').ok_or(DigestError::MissingAlgorithm)?;
        Self::from_hex(alg.parse()?, hex)
    }
}

/// An incremental hasher for one [`HashAlgorithm`].
pub struct Hasher(HasherImpl);

enum HasherImpl {
    Sha256(sha2::Sha256),
    Blake2b(Box<blake2::Blake2b512>),
    Blake3(Box<blake3::Hasher>),
}

impl Hasher {
    /// A fresh hasher.
    pub fn new(algorithm: HashAlgorithm) -> Self {
        Self(match algorithm {
            HashAlgorithm::Sha256 => HasherImpl::Sha256(sha2::Sha256::new()),
            HashAlgorithm::Blake2b => HasherImpl::Blake2b(Box::default()),
            HashAlgorithm::Blake3 => HasherImpl::Blake3(Box::default()),
        })
    }

    /// Feeds bytes on the calling thread.
    pub fn update(&mut self, data: &[u8]) {
        match &mut self.0 {
            HasherImpl::Sha256(h) => h.update(data),
            HasherImpl::Blake2b(h) => h.update(data),
            HasherImpl::Blake3(h) => {
                h.update(data);
            }
        }
    }

    /// Feeds bytes using the current rayon pool where the algorithm can (BLAKE3's tree lets
    /// one input spread over threads; SHA-256 and BLAKE2b are inherently serial).
    pub fn update_parallel(&mut self, data: &[u8]) {
        match &mut self.0 {
            HasherImpl::Blake3(h) => {
                h.update_rayon(data);
            }
            _ => self.update(data),
        }
    }

    /// Whether [`Hasher::update_parallel`] actually spreads work.
    pub fn is_parallel(&self) -> bool {
        matches!(self.0, HasherImpl::Blake3(_))
    }

    /// The digest of everything fed.
    pub fn finalize(self) -> Digest {
        let (algorithm, bytes): (HashAlgorithm, Vec<u8>) = match self.0 {
            HasherImpl::Sha256(h) => (HashAlgorithm::Sha256, h.finalize().to_vec()),
            HasherImpl::Blake2b(h) => (HashAlgorithm::Blake2b, h.finalize().to_vec()),
            HasherImpl::Blake3(h) => (HashAlgorithm::Blake3, h.finalize().as_bytes().to_vec()),
        };
        Digest::new(algorithm, &bytes).expect("hasher output length matches its algorithm")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_answers() {
        let cases = [
            (
                HashAlgorithm::Sha256,
                "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
            ),
            (
                HashAlgorithm::Blake3,
                "af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262",
            ),
            (
                HashAlgorithm::Blake2b,
                "786a02f742015903c6c6fd852552d272912f4740e15847618a86e217f71f5419d25e1031afee585313896444934eb04b903a685b1448b755d56f701afe9be2ce",
            ),
        ];
        for (alg, hex) in cases {
            let d = Hasher::new(alg).finalize();
            assert_eq!(d.hex(), hex, "{alg}");
            assert_eq!(d, format!("{alg}:{hex}").parse().unwrap());
        }
    }

    #[test]
    fn parse_errors_are_specific() {
        assert_eq!(
            "sha256:00".parse::<Digest>(),
            Err(DigestError::Length {
                algorithm: HashAlgorithm::Sha256,
                expected: 32,
                actual: 1
            })
        );
        assert_eq!(
            "md5:00".parse::<Digest>(),
            Err(DigestError::UnknownAlgorithm("md5".into()))
        );
        assert_eq!("abcd".parse::<Digest>(), Err(DigestError::MissingAlgorithm));
        let bad = format!("sha256:{}", "zz".repeat(32));
        assert_eq!(bad.parse::<Digest>(), Err(DigestError::Hex));
    }

    #[test]
    fn equality_covers_algorithm_and_every_byte() {
        let a = Digest::sha256(b"a");
        let mut bytes = a.as_bytes().to_vec();
        bytes[31] ^= 1;
        assert_ne!(a, Digest::new(HashAlgorithm::Sha256, &bytes).unwrap());
        assert_ne!(a, Digest::new(HashAlgorithm::Blake3, a.as_bytes()).unwrap());
        assert_eq!(a, Digest::sha256(b"a"));
    }
}
