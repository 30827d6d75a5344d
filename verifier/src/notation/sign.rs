//! Signing: a Notary JWS or COSE envelope over an OCI descriptor or a blob, from a key and the
//! certificate chain that certifies it.
//!
//! What notation-go does, and so do we: the algorithm follows the key (never chosen by the
//! caller); the chain is checked against the Notary code-signing rules and must end in its
//! self-signed root, which is included in `x5c`/`x5chain`; every certificate must be valid at
//! the signing time; the signing time is truncated to seconds; `expiry` must follow it. RSA keys
//! sign RSASSA-PSS (salt = hash length), EC keys raw `r || s`.
//!
//! ```no_run
//! use std::time::{Duration, SystemTime};
//! use tollgate_verifier::notation::{envelope::{Descriptor, EnvelopeFormat}, sign::{NotationSigner, SignRequest, sign}};
//! use tollgate_verifier::{keys, x509::Certificate};
//!
//! let key = keys::load_private_key_file("key.pem".as_ref(), None)?;
//! let chain = Certificate::parse_pem_bundle(&std::fs::read("chain.pem")?)?; // leaf first, root last
//! let target: Descriptor = serde_json::from_str(r#"{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:...","size":1}"#)?;
//! let now = SystemTime::now();
//! let request = SignRequest::for_descriptor(&target, now).with_expiry(now + Duration::from_secs(86400));
//! let envelope = sign(EnvelopeFormat::Jws, &request, &NotationSigner::from_signing_key(&key)?, &chain)?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::time::SystemTime;

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{EcdsaKeyPair, RsaKeyPair};

use crate::keys::{KeyAlgorithm, Signer, SigningKey};
use crate::x509::Certificate;

use super::envelope::{Descriptor, EnvelopeFormat, ExtendedAttribute, Payload, SigningScheme};
use super::{NotationError, PAYLOAD_MEDIA_TYPE, SignatureAlgorithm, cose, jws};

/// The signing agent tollgate writes into `io.cncf.notary.signingAgent`.
pub const SIGNING_AGENT: &str = concat!("tollgate/", env!("CARGO_PKG_VERSION"));

/// What to sign and with which signed attributes.
#[derive(Clone, Debug)]
pub struct SignRequest {
    /// Payload bytes (normally [`Payload::to_bytes`]).
    pub payload: Vec<u8>,
    /// `cty` / COSE content type.
    pub content_type: String,
    /// Signing scheme.
    pub scheme: SigningScheme,
    /// Signing time (self-asserted for `notary.x509`), truncated to seconds when written.
    pub signing_time: SystemTime,
    /// Optional expiry.
    pub expiry: Option<SystemTime>,
    /// Extended signed attributes, in order.
    pub extended: Vec<ExtendedAttribute>,
    /// `io.cncf.notary.signingAgent` (`None` leaves it out).
    pub signing_agent: Option<String>,
}

impl SignRequest {
    /// A `notary.x509` request over `{"targetArtifact": target}` (mediaType, digest, size and
    /// annotations kept, as notation-go's `SanitizeTargetArtifact`).
    pub fn for_descriptor(target: &Descriptor, signing_time: SystemTime) -> Self {
        let target = Descriptor {
            artifact_type: None,
            ..target.clone()
        };
        Self::for_payload(
            Payload {
                target_artifact: target,
            }
            .to_bytes(),
            signing_time,
        )
    }

    /// A request over arbitrary payload bytes.
    pub fn for_payload(payload: Vec<u8>, signing_time: SystemTime) -> Self {
        Self {
            payload,
            content_type: PAYLOAD_MEDIA_TYPE.to_owned(),
            scheme: SigningScheme::X509,
            signing_time: super::time::truncate(signing_time),
            expiry: None,
            extended: Vec::new(),
            signing_agent: Some(SIGNING_AGENT.to_owned()),
        }
    }

    /// Sets the expiry (truncated to seconds).
    #[must_use]
    pub fn with_expiry(mut self, expiry: SystemTime) -> Self {
        self.expiry = Some(super::time::truncate(expiry));
        self
    }
}

/// The descriptor of a blob as Notation signs it: the digest uses the hash of the key's
/// algorithm (RSA-3072 → `sha384:`), `size` is the byte length.
pub fn blob_descriptor(blob: &[u8], media_type: &str, algorithm: SignatureAlgorithm) -> Descriptor {
    Descriptor {
        media_type: media_type.to_owned(),
        artifact_type: None,
        digest: algorithm.hash().oci_digest(blob),
        size: u64::try_from(blob.len()).unwrap_or(u64::MAX),
        annotations: Default::default(),
    }
}

enum Inner {
    Rsa(RsaKeyPair),
    Ecdsa(EcdsaKeyPair),
    External(Box<dyn Signer>),
}

/// A key that makes Notary signatures.
pub struct NotationSigner {
    algorithm: SignatureAlgorithm,
    spki: Vec<u8>,
    inner: Inner,
}

impl std::fmt::Debug for NotationSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NotationSigner")
            .field("algorithm", &self.algorithm)
            .finish_non_exhaustive()
    }
}

fn sign_err(detail: impl Into<String>) -> NotationError {
    NotationError::Sign {
        detail: detail.into(),
    }
}

impl NotationSigner {
    /// Uses an in-memory key (RSA 2048/3072/4096 or EC P-256/P-384/P-521).
    pub fn from_signing_key(key: &SigningKey) -> Result<Self, NotationError> {
        let public = key.public_key();
        let algorithm = SignatureAlgorithm::for_key(public.algorithm()).map_err(sign_err)?;
        let pkcs8 = key.to_pkcs8_der().map_err(|e| sign_err(e.to_string()))?;
        let inner = match algorithm.ecdsa_signing() {
            Some(ecdsa) => Inner::Ecdsa(
                EcdsaKeyPair::from_pkcs8(ecdsa, &pkcs8)
                    .map_err(|e| sign_err(format!("EC key rejected: {e}")))?,
            ),
            None => Inner::Rsa(
                RsaKeyPair::from_pkcs8(&pkcs8)
                    .map_err(|e| sign_err(format!("RSA key rejected: {e}")))?,
            ),
        };
        Ok(Self {
            algorithm,
            spki: public.spki_der().to_vec(),
            inner,
        })
    }

    /// Uses any [`Signer`] (a PKCS#11 token, say) holding an EC key: its DER ECDSA signatures
    /// are converted to `r || s`. RSA needs PSS, which the [`Signer`] interface does not offer:
    /// load RSA keys with [`NotationSigner::from_signing_key`].
    pub fn from_signer(signer: Box<dyn Signer>) -> Result<Self, NotationError> {
        let public = signer.public_key().clone();
        let algorithm = SignatureAlgorithm::for_key(public.algorithm()).map_err(sign_err)?;
        if matches!(public.algorithm(), KeyAlgorithm::Rsa { .. }) {
            return Err(sign_err(
                "Notary RSA signatures are RSASSA-PSS; this key source signs PKCS#1 v1.5 only. \
                 Use a key file for RSA, or an EC key",
            ));
        }
        Ok(Self {
            algorithm,
            spki: public.spki_der().to_vec(),
            inner: Inner::External(signer),
        })
    }

    /// The algorithm the key signs with.
    pub fn algorithm(&self) -> SignatureAlgorithm {
        self.algorithm
    }

    /// The DER SubjectPublicKeyInfo of the key.
    pub fn spki_der(&self) -> &[u8] {
        &self.spki
    }

    pub(crate) fn sign(&self, message: &[u8]) -> Result<Vec<u8>, NotationError> {
        let rng = SystemRandom::new();
        match &self.inner {
            Inner::Rsa(pair) => {
                let padding = self
                    .algorithm
                    .rsa_padding()
                    .ok_or_else(|| sign_err("RSA key without a PSS algorithm"))?;
                let mut sig = vec![0; pair.public_modulus_len()];
                pair.sign(padding, &rng, message, &mut sig)
                    .map_err(|_| sign_err("RSA-PSS signing failed"))?;
                Ok(sig)
            }
            Inner::Ecdsa(pair) => pair
                .sign(&rng, message)
                .map(|s| s.as_ref().to_vec())
                .map_err(|_| sign_err("ECDSA signing failed")),
            Inner::External(signer) => {
                let der = signer.sign(message).map_err(|e| sign_err(e.to_string()))?;
                let width = self
                    .algorithm
                    .ecdsa_scalar_len()
                    .ok_or_else(|| sign_err("not an EC key"))?;
                ecdsa_der_to_raw(&der, width)
            }
        }
    }

    fn public_matches(&self, leaf: &Certificate) -> bool {
        leaf.spki_der() == self.spki.as_slice()
    }
}

fn ecdsa_der_to_raw(der_sig: &[u8], width: usize) -> Result<Vec<u8>, NotationError> {
    use x509_cert::der::asn1::UintRef;
    use x509_cert::der::{Decode as _, Reader as _, SliceReader};
    let parse = || -> x509_cert::der::Result<(Vec<u8>, Vec<u8>)> {
        let mut reader = SliceReader::new(der_sig)?;
        let pair = reader.sequence(|r| {
            let a = UintRef::decode(r)?;
            let b = UintRef::decode(r)?;
            Ok((a.as_bytes().to_vec(), b.as_bytes().to_vec()))
        })?;
        reader.finish(pair)
    };
    let (r, s) = parse()
        .map_err(|e| sign_err(format!("the key returned a malformed ECDSA signature: {e}")))?;
    let mut out = vec![0u8; width * 2];
    for (i, part) in [r, s].iter().enumerate() {
        if part.len() > width {
            return Err(sign_err(
                "the key returned an ECDSA signature of the wrong size",
            ));
        }
        let end = (i + 1) * width;
        out[end - part.len()..end].copy_from_slice(part);
    }
    Ok(out)
}

/// Signs `request` as a `format` envelope with `signer`, whose certificate chain (leaf first,
/// ending in the self-signed root) is `chain`.
pub fn sign(
    format: EnvelopeFormat,
    request: &SignRequest,
    signer: &NotationSigner,
    chain: &[Certificate],
) -> Result<Vec<u8>, NotationError> {
    let leaf = chain
        .first()
        .ok_or_else(|| sign_err("the certificate chain is empty"))?;
    if !signer.public_matches(leaf) {
        return Err(sign_err(format!(
            "the key does not match signing certificate {}; pass the certificate chain of this key",
            leaf.subject()
        )));
    }
    super::x509::validate_code_signing_chain(chain)?;
    for cert in chain {
        if request.signing_time < cert.not_before() || request.signing_time > cert.not_after() {
            return Err(sign_err(format!(
                "certificate {} is not valid at the signing time {} (valid {} to {})",
                cert.subject(),
                super::format_rfc3339(request.signing_time),
                super::format_rfc3339(cert.not_before()),
                super::format_rfc3339(cert.not_after())
            )));
        }
    }
    if let Some(expiry) = request.expiry
        && expiry <= request.signing_time
    {
        return Err(sign_err("the expiry must be after the signing time"));
    }
    let ders: Vec<Vec<u8>> = chain.iter().map(|c| c.der().to_vec()).collect();
    let alg = signer.algorithm();
    let agent = request.signing_agent.as_deref();
    Ok(match format {
        EnvelopeFormat::Jws => {
            let protected = jws::protected_header(request, alg);
            let (p, pl, input) = jws::signing_input(&protected, &request.payload);
            let signature = signer.sign(&input)?;
            jws::write(&p, &pl, &signature, &ders, None, agent)
        }
        EnvelopeFormat::Cose => {
            let protected = cose::protected_header(request, alg);
            let tbs = cose::sig_structure(&protected, &request.payload);
            let signature = signer.sign(&tbs)?;
            cose::write(&protected, &request.payload, &signature, &ders, None, agent)
        }
    })
}
