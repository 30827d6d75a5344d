//! Keys on PKCS#11 tokens (HSMs, SoftHSM, smart cards), named by RFC 7512 URIs.
//!
//! ```text
//! pkcs11:token=prod-signing;object=model-key?module-path=/usr/lib/softhsm/libsofthsm2.so&pin-source=file:/run/pin
//! ```
//!
//! - Path attributes: `token` (label), `object` (key label), `id` (percent-encoded bytes),
//!   `serial`, `type` (`private` or absent); `pin-value`, `pin-source` and `module-path` are
//!   accepted in the path too, not only after `?`.
//! - Module: `module-path`, else `TOLLGATE_PKCS11_MODULE`, else the first of
//!   [`DEFAULT_MODULES`] that exists.
//! - PIN: `pin-value`, else `pin-source=file:PATH` (first line), else `TOLLGATE_PKCS11_PIN`.
//!
//! Signing is ECDSA only (as model_signing): the message is hashed with the curve's hash, signed
//! with `CKM_ECDSA`, and the token's `r || s` converted to the ASN.1 DER form
//! [`PublicKey::verify`] takes. The public key comes from the public key object with the same
//! label or id (`CKA_EC_PARAMS` + `CKA_EC_POINT`, built into a SubjectPublicKeyInfo). PKCS#11
//! login state belongs to the process: while one signer on a token is open, others on the same
//! token are logged in already. The URI
//! parser is hand-written: RFC 7512 is a dozen lines of percent-decoding and no maintained
//! crate parses it.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use ::pkcs8::der::asn1::{AnyRef, BitStringRef, OctetStringRef, SequenceOf, UintRef};
use ::pkcs8::der::{Decode as _, Encode as _};
use ::pkcs8::spki::{AlgorithmIdentifier, SubjectPublicKeyInfo};
use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::error::RvError;
use cryptoki::mechanism::Mechanism;
use cryptoki::object::{Attribute, AttributeType, KeyType, ObjectClass, ObjectHandle};
use cryptoki::session::{Session, UserType};
use cryptoki::types::AuthPin;
use zeroize::Zeroizing;

use super::{KeyAlgorithm, KeyError, OID_EC_PUBLIC_KEY, PublicKey, Signer};

/// Where the PKCS#11 module is looked for when neither the URI nor `TOLLGATE_PKCS11_MODULE`
/// names one.
pub const DEFAULT_MODULES: [&str; 3] = [
    "/usr/lib/softhsm/libsofthsm2.so",
    "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so",
    "/usr/lib64/pkcs11/libsofthsm2.so",
];

/// Environment variable naming the PKCS#11 module.
pub const ENV_MODULE: &str = "TOLLGATE_PKCS11_MODULE";
/// Environment variable holding the token PIN.
pub const ENV_PIN: &str = "TOLLGATE_PKCS11_PIN";

/// Why a PKCS#11 key could not be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Pkcs11Error {
    /// The URI is malformed or uses an attribute tollgate does not handle.
    #[error("invalid PKCS#11 URI: {reason}")]
    Uri {
        /// What is wrong.
        reason: String,
    },
    /// No module was named and none of the defaults exists.
    #[error(
        "no PKCS#11 module found (tried {tried}); set {ENV_MODULE} or add ?module-path=... to the URI"
    )]
    NoModule {
        /// The paths tried.
        tried: String,
    },
    /// The module could not be loaded or initialised.
    #[error("cannot load PKCS#11 module {}: {err}", path.display())]
    Module {
        /// The module.
        path: PathBuf,
        /// cryptoki's error.
        err: cryptoki::error::Error,
    },
    /// A PKCS#11 call failed.
    #[error("PKCS#11 {operation} failed: {err}")]
    Call {
        /// The operation, e.g. `login`.
        operation: &'static str,
        /// cryptoki's error.
        err: cryptoki::error::Error,
    },
    /// No token with the label.
    #[error("no PKCS#11 token labelled {token:?} (tokens present: {available})")]
    TokenNotFound {
        /// The label asked for.
        token: String,
        /// Labels present.
        available: String,
    },
    /// Several tokens match.
    #[error("{count} PKCS#11 tokens match {token:?}; add serial=... to the URI")]
    AmbiguousToken {
        /// The label asked for.
        token: String,
        /// How many match.
        count: usize,
    },
    /// No key object matches.
    #[error("no {class} key matching {object} on PKCS#11 token {token:?}")]
    ObjectNotFound {
        /// `private` or `public`.
        class: &'static str,
        /// The label/id asked for.
        object: String,
        /// The token.
        token: String,
    },
    /// Several key objects match.
    #[error(
        "{count} private keys match {object} on PKCS#11 token {token:?}; add id=... to the URI"
    )]
    AmbiguousObject {
        /// The label/id asked for.
        object: String,
        /// The token.
        token: String,
        /// How many match.
        count: usize,
    },
    /// No PIN was given.
    #[error(
        "PKCS#11 token {token:?} needs a PIN: set {ENV_PIN} or add pin-value=... or \
         pin-source=file:... to the URI"
    )]
    PinRequired {
        /// The token.
        token: String,
    },
    /// The `pin-source` file could not be read.
    #[error("cannot read the PIN from {}: {err}", path.display())]
    PinSource {
        /// The file.
        path: PathBuf,
        /// What the OS said.
        err: std::io::Error,
    },
    /// The key is not an EC key.
    #[error("PKCS#11 key type {key_type} is not supported (tollgate signs with EC keys on tokens)")]
    UnsupportedKeyType {
        /// The type reported by the token.
        key_type: String,
    },
    /// The token returned a malformed attribute or signature.
    #[error("PKCS#11 token returned a malformed {what}")]
    Malformed {
        /// What was malformed.
        what: &'static str,
    },
}

/// A parsed `pkcs11:` URI.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Pkcs11Uri {
    token: Option<String>,
    serial: Option<String>,
    object: Option<String>,
    id: Option<Vec<u8>>,
    pin_value: Option<Zeroizing<String>>,
    pin_source: Option<PathBuf>,
    module_path: Option<PathBuf>,
}

impl std::fmt::Debug for Pkcs11Uri {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pkcs11Uri")
            .field("token", &self.token)
            .field("serial", &self.serial)
            .field("object", &self.object)
            .field("id", &self.id)
            .field("pin_value", &self.pin_value.as_ref().map(|_| "<redacted>"))
            .field("pin_source", &self.pin_source)
            .field("module_path", &self.module_path)
            .finish()
    }
}

fn uri_error(reason: impl Into<String>) -> Pkcs11Error {
    Pkcs11Error::Uri {
        reason: reason.into(),
    }
}

fn percent_decode(value: &str) -> Result<Vec<u8>, Pkcs11Error> {
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes
                .get(i + 1..i + 3)
                .and_then(|h| std::str::from_utf8(h).ok())
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or_else(|| uri_error("bad percent-encoding"))?;
            out.push(hex);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    Ok(out)
}

fn percent_decode_str(value: &str) -> Result<String, Pkcs11Error> {
    String::from_utf8(percent_decode(value)?).map_err(|_| uri_error("attribute is not UTF-8"))
}

impl Pkcs11Uri {
    /// Parses an RFC 7512 URI (see the module docs for the attributes used).
    pub fn parse(uri: &str) -> Result<Self, Pkcs11Error> {
        if uri.len() > 4096 {
            return Err(uri_error("longer than 4096 bytes"));
        }
        let rest = uri
            .strip_prefix("pkcs11:")
            .ok_or_else(|| uri_error("must start with pkcs11:"))?;
        let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
        let mut parsed = Self::default();
        let attributes = path
            .split(';')
            .map(|a| (a, ';'))
            .chain(query.split('&').map(|a| (a, '&')));
        for (attribute, _) in attributes.filter(|(a, _)| !a.is_empty()) {
            let (name, value) = attribute
                .split_once('=')
                .ok_or_else(|| uri_error(format!("attribute {attribute:?} has no value")))?;
            match name {
                "token" => parsed.token = Some(percent_decode_str(value)?),
                "serial" => parsed.serial = Some(percent_decode_str(value)?),
                "object" => parsed.object = Some(percent_decode_str(value)?),
                "id" => parsed.id = Some(percent_decode(value)?),
                "type" => {
                    if value != "private" {
                        return Err(uri_error(format!(
                            "type={value} (tollgate signs with type=private keys)"
                        )));
                    }
                }
                "pin-value" => parsed.pin_value = Some(Zeroizing::new(percent_decode_str(value)?)),
                "pin-source" => {
                    let source = percent_decode_str(value)?;
                    let file = source.strip_prefix("file:").unwrap_or(&source);
                    let file = file.strip_prefix("//").unwrap_or(file);
                    parsed.pin_source = Some(PathBuf::from(file));
                }
                "module-path" => {
                    parsed.module_path = Some(PathBuf::from(percent_decode_str(value)?))
                }
                "manufacturer"
                | "model"
                | "library-manufacturer"
                | "library-description"
                | "library-version"
                | "slot-manufacturer"
                | "slot-description"
                | "module-name" => {}
                other if other.starts_with("x-") => {}
                other => return Err(uri_error(format!("unsupported attribute {other:?}"))),
            }
        }
        if parsed.token.is_none() {
            return Err(uri_error("token=... is required"));
        }
        if parsed.object.is_none() && parsed.id.is_none() {
            return Err(uri_error("object=... or id=... is required"));
        }
        Ok(parsed)
    }

    /// The token label.
    pub fn token(&self) -> &str {
        self.token.as_deref().unwrap_or_default()
    }

    /// The key label, if given.
    pub fn object(&self) -> Option<&str> {
        self.object.as_deref()
    }

    fn describe_object(&self) -> String {
        match (&self.object, &self.id) {
            (Some(label), None) => format!("label {label:?}"),
            (None, Some(id)) => format!("id {}", hex(id)),
            (Some(label), Some(id)) => format!("label {label:?} and id {}", hex(id)),
            (None, None) => "anything".into(),
        }
    }

    fn module(&self) -> Result<PathBuf, Pkcs11Error> {
        if let Some(path) = &self.module_path {
            return Ok(path.clone());
        }
        if let Some(path) = std::env::var_os(ENV_MODULE).filter(|p| !p.is_empty()) {
            return Ok(PathBuf::from(path));
        }
        DEFAULT_MODULES
            .iter()
            .map(Path::new)
            .find(|p| p.exists())
            .map(Path::to_path_buf)
            .ok_or_else(|| Pkcs11Error::NoModule {
                tried: DEFAULT_MODULES.join(", "),
            })
    }

    fn pin(&self) -> Result<Zeroizing<String>, Pkcs11Error> {
        if let Some(pin) = &self.pin_value {
            return Ok(pin.clone());
        }
        if let Some(path) = &self.pin_source {
            let text = read_pin_file(path).map_err(|err| Pkcs11Error::PinSource {
                path: path.clone(),
                err,
            })?;
            let first = text.lines().next().unwrap_or_default();
            return Ok(Zeroizing::new(first.to_owned()));
        }
        match std::env::var(ENV_PIN) {
            Ok(pin) => Ok(Zeroizing::new(pin)),
            Err(_) => Err(Pkcs11Error::PinRequired {
                token: self.token().to_owned(),
            }),
        }
    }
}

fn read_pin_file(path: &Path) -> std::io::Result<Zeroizing<String>> {
    use std::io::Read as _;
    let mut text = Zeroizing::new(String::new());
    std::fs::File::open(path)?
        .take(4096)
        .read_to_string(&mut text)?;
    Ok(text)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn call(operation: &'static str) -> impl FnOnce(cryptoki::error::Error) -> Pkcs11Error {
    move |err| Pkcs11Error::Call { operation, err }
}

/// A signer whose private key stays on a PKCS#11 token.
pub struct Pkcs11Signer {
    session: Mutex<Session>,
    key: ObjectHandle,
    public: PublicKey,
    label: String,
}

impl std::fmt::Debug for Pkcs11Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pkcs11Signer")
            .field("key", &self.label)
            .field("public_key", &self.public)
            .finish_non_exhaustive()
    }
}

impl Pkcs11Signer {
    /// Loads the module, finds the token and key named by `uri`, and logs in.
    pub fn open(uri: &str) -> Result<Self, Pkcs11Error> {
        let uri = Pkcs11Uri::parse(uri)?;
        let module = uri.module()?;
        let context = Pkcs11::new(&module).map_err(|err| Pkcs11Error::Module {
            path: module.clone(),
            err,
        })?;
        match context.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK)) {
            Ok(())
            | Err(cryptoki::error::Error::Pkcs11(RvError::CryptokiAlreadyInitialized, _)) => {}
            Err(err) => return Err(Pkcs11Error::Module { path: module, err }),
        }
        let token = uri.token().to_owned();
        let mut available = Vec::new();
        let mut matching = Vec::new();
        for slot in context
            .get_slots_with_token()
            .map_err(call("listing slots"))?
        {
            let info = context
                .get_token_info(slot)
                .map_err(call("reading token info"))?;
            let label = info.label().trim_end().to_owned();
            let serial_ok = uri
                .serial
                .as_deref()
                .is_none_or(|s| info.serial_number().trim_end() == s);
            if label == token && serial_ok {
                matching.push(slot);
            }
            available.push(format!("{label:?}"));
        }
        let slot = match matching.as_slice() {
            [slot] => *slot,
            [] => {
                return Err(Pkcs11Error::TokenNotFound {
                    token,
                    available: if available.is_empty() {
                        "none".into()
                    } else {
                        available.join(", ")
                    },
                });
            }
            many => {
                return Err(Pkcs11Error::AmbiguousToken {
                    token,
                    count: many.len(),
                });
            }
        };
        let session = context
            .open_ro_session(slot)
            .map_err(call("opening a session"))?;
        let pin = uri.pin()?;
        match session.login(UserType::User, Some(&AuthPin::from(pin.to_string()))) {
            Ok(()) | Err(cryptoki::error::Error::Pkcs11(RvError::UserAlreadyLoggedIn, _)) => {}
            Err(err) => return Err(call("login")(err)),
        }
        let key = find_one(&session, &uri, ObjectClass::PRIVATE_KEY)?;
        let attributes = session
            .get_attributes(
                key,
                &[
                    AttributeType::KeyType,
                    AttributeType::EcParams,
                    AttributeType::Id,
                ],
            )
            .map_err(call("reading key attributes"))?;
        let mut key_type = None;
        let mut ec_params = None;
        let mut id = None;
        for attribute in attributes {
            match attribute {
                Attribute::KeyType(t) => key_type = Some(t),
                Attribute::EcParams(p) => ec_params = Some(p),
                Attribute::Id(i) => id = Some(i),
                _ => {}
            }
        }
        match key_type {
            Some(t) if t == KeyType::EC => {}
            other => {
                return Err(Pkcs11Error::UnsupportedKeyType {
                    key_type: other.map_or_else(|| "unknown".into(), |t| t.to_string()),
                });
            }
        }
        // Find the public key by the private key's own id when the URI named only a label.
        let public_uri = Pkcs11Uri {
            id: uri.id.clone().or(id),
            ..uri.clone()
        };
        let public_handle = find_one(&session, &public_uri, ObjectClass::PUBLIC_KEY)
            .or_else(|_| find_one(&session, &uri, ObjectClass::PUBLIC_KEY))?;
        let public_attributes = session
            .get_attributes(
                public_handle,
                &[AttributeType::EcParams, AttributeType::EcPoint],
            )
            .map_err(call("reading public key attributes"))?;
        let mut point = None;
        for attribute in public_attributes {
            match attribute {
                Attribute::EcPoint(p) => point = Some(p),
                Attribute::EcParams(p) if ec_params.is_none() => ec_params = Some(p),
                _ => {}
            }
        }
        let ec_params = ec_params.ok_or(Pkcs11Error::Malformed {
            what: "CKA_EC_PARAMS",
        })?;
        let point = point.ok_or(Pkcs11Error::Malformed {
            what: "CKA_EC_POINT",
        })?;
        let public = ec_spki(&ec_params, &point)?;
        Ok(Self {
            session: Mutex::new(session),
            key,
            public,
            label: format!("{token}/{}", uri.describe_object()),
        })
    }
}

fn find_one(
    session: &Session,
    uri: &Pkcs11Uri,
    class: ObjectClass,
) -> Result<ObjectHandle, Pkcs11Error> {
    let mut template = vec![Attribute::Class(class)];
    if let Some(label) = &uri.object {
        template.push(Attribute::Label(label.as_bytes().to_vec()));
    }
    if let Some(id) = &uri.id {
        template.push(Attribute::Id(id.clone()));
    }
    let found = session
        .find_objects(&template)
        .map_err(call("finding the key"))?;
    let class_name = if class == ObjectClass::PRIVATE_KEY {
        "private"
    } else {
        "public"
    };
    match found.as_slice() {
        [one] => Ok(*one),
        [] => Err(Pkcs11Error::ObjectNotFound {
            class: class_name,
            object: uri.describe_object(),
            token: uri.token().to_owned(),
        }),
        many => Err(Pkcs11Error::AmbiguousObject {
            object: uri.describe_object(),
            token: uri.token().to_owned(),
            count: many.len(),
        }),
    }
}

/// Builds the SubjectPublicKeyInfo of an EC key from `CKA_EC_PARAMS` (a DER named-curve OID)
/// and `CKA_EC_POINT` (a DER OCTET STRING around the point, or the bare point on some tokens).
fn ec_spki(ec_params: &[u8], ec_point: &[u8]) -> Result<PublicKey, Pkcs11Error> {
    let malformed = |what| Pkcs11Error::Malformed { what };
    let params = AnyRef::from_der(ec_params).map_err(|_| malformed("CKA_EC_PARAMS"))?;
    let point = match OctetStringRef::from_der(ec_point) {
        Ok(inner) if inner.as_bytes().first() == Some(&0x04) => inner.as_bytes(),
        _ => ec_point,
    };
    let spki = SubjectPublicKeyInfo {
        algorithm: AlgorithmIdentifier {
            oid: OID_EC_PUBLIC_KEY,
            parameters: Some(params),
        },
        subject_public_key: BitStringRef::from_bytes(point)
            .map_err(|_| malformed("CKA_EC_POINT"))?,
    };
    let der = spki.to_der().map_err(|_| malformed("EC public key"))?;
    PublicKey::from_spki_der(&der).map_err(|_| malformed("EC public key"))
}

/// Converts a PKCS#11 ECDSA signature (`r || s`, each the curve's size) to ASN.1 DER.
fn raw_to_der(raw: &[u8]) -> Result<Vec<u8>, Pkcs11Error> {
    let malformed = || Pkcs11Error::Malformed {
        what: "ECDSA signature",
    };
    if raw.is_empty() || !raw.len().is_multiple_of(2) {
        return Err(malformed());
    }
    let (r, s) = raw.split_at(raw.len() / 2);
    let mut sequence = SequenceOf::<UintRef<'_>, 2>::new();
    sequence
        .add(UintRef::new(r).map_err(|_| malformed())?)
        .map_err(|_| malformed())?;
    sequence
        .add(UintRef::new(s).map_err(|_| malformed())?)
        .map_err(|_| malformed())?;
    sequence.to_der().map_err(|_| malformed())
}

impl Signer for Pkcs11Signer {
    fn public_key(&self) -> &PublicKey {
        &self.public
    }

    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, KeyError> {
        let hash = match self.public.algorithm() {
            KeyAlgorithm::EcdsaP256 => &aws_lc_rs::digest::SHA256,
            KeyAlgorithm::EcdsaP384 => &aws_lc_rs::digest::SHA384,
            KeyAlgorithm::EcdsaP521 => &aws_lc_rs::digest::SHA512,
            other => {
                return Err(Pkcs11Error::UnsupportedKeyType {
                    key_type: other.name(),
                }
                .into());
            }
        };
        let digest = aws_lc_rs::digest::digest(hash, message);
        let session = self.session.lock().map_err(|_| Pkcs11Error::Malformed {
            what: "session (a previous signing thread panicked)",
        })?;
        let raw = session
            .sign(&Mechanism::Ecdsa, self.key, digest.as_ref())
            .map_err(call("signing"))?;
        Ok(raw_to_der(&raw)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uri_parsing() {
        let uri = Pkcs11Uri::parse(
            "pkcs11:token=tollgate%20test;object=k;id=%01%02;pin-value=1234?module-path=/m.so",
        )
        .unwrap();
        assert_eq!(uri.token(), "tollgate test");
        assert_eq!(uri.object(), Some("k"));
        assert_eq!(uri.id.as_deref(), Some(&[1u8, 2][..]));
        assert_eq!(uri.pin_value.as_deref().map(String::as_str), Some("1234"));
        assert_eq!(uri.module_path.as_deref(), Some(Path::new("/m.so")));
        assert!(!format!("{uri:?}").contains("1234"));

        let uri = Pkcs11Uri::parse("pkcs11:token=t;object=k?pin-source=file:/run/pin").unwrap();
        assert_eq!(uri.pin_source.as_deref(), Some(Path::new("/run/pin")));

        for bad in [
            "file:/x",
            "pkcs11:object=k",
            "pkcs11:token=t",
            "pkcs11:token=t;object=k;frobnicate=1",
            "pkcs11:token=t;object=%zz",
            "pkcs11:token=t;object",
            "pkcs11:token=t;object=k;type=cert",
        ] {
            assert!(Pkcs11Uri::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn raw_signatures_become_der() {
        // r has its high bit set (needs a 0x00 pad), s has leading zeros (stripped).
        let mut raw = vec![0x80; 32];
        raw.extend([0u8; 31]);
        raw.push(1);
        let der = raw_to_der(&raw).unwrap();
        assert_eq!(&der[..5], &[0x30, 0x26, 0x02, 0x21, 0x00]);
        assert_eq!(&der[der.len() - 3..], &[0x02, 0x01, 0x01]);
        assert!(raw_to_der(&[1, 2, 3]).is_err());
        assert!(raw_to_der(&[]).is_err());
    }

    const TOKEN: &str = "tollgate-test";
    const PIN: &str = "1234";
    const DIR_VAR: &str = "TOLLGATE_TEST_SOFTHSM_DIR";

    fn run(cmd: &mut std::process::Command) -> std::process::Output {
        let out = cmd
            .output()
            .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
        assert!(
            out.status.success(),
            "{cmd:?} failed: {}\n{}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        out
    }

    /// A SoftHSM token in a temporary directory with two imported keys (P-256 labelled `k`,
    /// P-384 with id 02), then `softhsm_sign_inner` in a child test process whose
    /// SOFTHSM2_CONF points at it (the library crate cannot set environment variables).
    #[test]
    fn softhsm_token_signs_and_verifies() {
        let util = std::env::var_os("PATH")
            .and_then(|p| std::env::split_paths(&p).map(|d| d.join("softhsm2-util")).find(|p| p.is_file()))
            .unwrap_or_else(|| {
                panic!("softhsm2-util is not installed (Debian package softhsm2): run scripts/install-softhsm")
            });
        assert!(
            DEFAULT_MODULES.iter().any(|m| Path::new(m).exists()),
            "the SoftHSM PKCS#11 module is not installed: run scripts/install-softhsm"
        );
        let dir = tempfile::tempdir().unwrap();
        let tokens = dir.path().join("tokens");
        std::fs::create_dir(&tokens).unwrap();
        let conf = dir.path().join("softhsm2.conf");
        std::fs::write(
            &conf,
            format!(
                "directories.tokendir = {}\nobjectstore.backend = file\nlog.level = ERROR\nslots.removable = false\n",
                tokens.display()
            ),
        )
        .unwrap();
        let softhsm = || {
            let mut cmd = std::process::Command::new(&util);
            cmd.env("SOFTHSM2_CONF", &conf)
                .stdin(std::process::Stdio::null());
            cmd
        };
        run(softhsm().args([
            "--init-token",
            "--free",
            "--label",
            TOKEN,
            "--pin",
            PIN,
            "--so-pin",
            "5678",
        ]));
        for (name, algorithm, id) in [
            ("k", KeyAlgorithm::EcdsaP256, "01"),
            ("k384", KeyAlgorithm::EcdsaP384, "02"),
        ] {
            let key = crate::keys::SigningKey::generate(algorithm).unwrap();
            let pem = dir.path().join(format!("{name}.pem"));
            std::fs::write(&pem, key.to_pkcs8_pem(None).unwrap().as_bytes()).unwrap();
            std::fs::write(
                dir.path().join(format!("{name}.pub")),
                key.public_key().to_pem(),
            )
            .unwrap();
            run(softhsm()
                .arg("--import")
                .arg(&pem)
                .args(["--token", TOKEN, "--label", name, "--id", id, "--pin", PIN]));
        }
        std::fs::write(dir.path().join("pin"), format!("{PIN}\n")).unwrap();
        let exe = std::env::current_exe().unwrap();
        let out = run(std::process::Command::new(exe)
            .args([
                "--exact",
                "keys::pkcs11::tests::softhsm_sign_inner",
                "--ignored",
                "--nocapture",
                "--test-threads=1",
            ])
            .env("SOFTHSM2_CONF", &conf)
            .env(DIR_VAR, dir.path())
            .env_remove(ENV_PIN)
            .env_remove(ENV_MODULE));
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            stdout.contains("1 passed"),
            "the inner test did not run:\n{stdout}"
        );
    }

    #[test]
    #[ignore = "run by softhsm_token_signs_and_verifies, which sets up the token"]
    fn softhsm_sign_inner() {
        let dir = PathBuf::from(
            std::env::var_os(DIR_VAR).expect("run softhsm_token_signs_and_verifies instead"),
        );
        let expected = |name: &str| {
            PublicKey::from_pem(&std::fs::read(dir.join(format!("{name}.pub"))).unwrap()).unwrap()
        };

        // Failures first: PKCS#11 login state is shared by every session of the process, so
        // once a signer is logged in a wrong PIN is no longer checked.
        let err = |uri: &str| Pkcs11Signer::open(uri).unwrap_err();
        assert!(matches!(
            err(&format!("pkcs11:token={TOKEN};object=k")),
            Pkcs11Error::PinRequired { .. }
        ));
        let wrong_pin = err(&format!("pkcs11:token={TOKEN};object=k;pin-value=0000"));
        assert!(
            matches!(
                wrong_pin,
                Pkcs11Error::Call {
                    operation: "login",
                    ..
                }
            ),
            "{wrong_pin}"
        );
        let missing = err(&format!("pkcs11:token={TOKEN};object=nope;pin-value={PIN}"));
        assert!(
            matches!(missing, Pkcs11Error::ObjectNotFound { .. }),
            "{missing}"
        );
        let no_token = err(&format!("pkcs11:token=other;object=k;pin-value={PIN}"));
        assert!(no_token.to_string().contains(TOKEN), "{no_token}");
        let no_module = err(&format!(
            "pkcs11:token={TOKEN};object=k?module-path=/nonexistent/libnone.so"
        ));
        assert!(
            matches!(no_module, Pkcs11Error::Module { .. }),
            "{no_module}"
        );

        let signer = crate::keys::load_signer(
            &format!("pkcs11:token={TOKEN};object=k;pin-value={PIN}"),
            None,
        )
        .unwrap();
        assert_eq!(signer.public_key(), &expected("k"));
        let signature = signer.sign(b"signed on a token").unwrap();
        expected("k")
            .verify(b"signed on a token", &signature)
            .unwrap();
        assert!(
            expected("k")
                .verify(b"another message", &signature)
                .is_err()
        );

        let uri = format!(
            "pkcs11:token={TOKEN};id=%02?pin-source=file:{}",
            dir.join("pin").display()
        );
        let signer = crate::keys::load_signer(&uri, None).unwrap();
        assert_eq!(signer.public_key().algorithm(), KeyAlgorithm::EcdsaP384);
        let signature = signer.sign(b"p384").unwrap();
        expected("k384").verify(b"p384", &signature).unwrap();
    }

    #[test]
    fn spki_from_token_attributes() {
        let key = crate::keys::SigningKey::generate(KeyAlgorithm::EcdsaP256).unwrap();
        let spki = ::pkcs8::SubjectPublicKeyInfoRef::try_from(key.public_key().spki_der()).unwrap();
        let params = spki.algorithm.parameters.unwrap().to_der().unwrap();
        let point = spki.subject_public_key.raw_bytes();
        let wrapped = OctetStringRef::new(point).unwrap().to_der().unwrap();
        assert_eq!(&ec_spki(&params, &wrapped).unwrap(), key.public_key());
        assert_eq!(&ec_spki(&params, point).unwrap(), key.public_key());
        assert!(ec_spki(&params, &[4, 1, 2]).is_err());
    }
}
