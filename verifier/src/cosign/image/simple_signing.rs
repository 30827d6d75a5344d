//! The simple-signing payload: what a cosign (or skopeo) image signature signs.
//!
//! Read exactly as containers/image 5.34 reads it (`ParanoidUnmarshalJSONObjectExactFields`):
//! the top level has exactly `critical` and `optional`; `critical` exactly `type`, `image`
//! and `identity`; `image` exactly `docker-manifest-digest`; `identity` exactly
//! `docker-reference`; `type` is `cosign container image signature`. `optional` is `null`
//! (cosign without `-a`) or an object: `creator` (a string) and `timestamp` (an integer) are
//! what skopeo writes there, and every other key is an annotation (cosign's `-a k=v`, string
//! values). Duplicate keys are refused at every level. Payloads are at most
//! [`MAX_PAYLOAD_BYTES`].
//!
//! Written byte-identically to cosign 2.5.0 (Go `encoding/json` of sigstore's
//! `SimpleContainerImage`: struct field order `identity`, `image`, `type`; map keys sorted;
//! compact; `<`, `>`, `&`, U+2028 and U+2029 escaped as `\u…`; `"optional":null` when there
//! are no annotations).

use std::collections::BTreeMap;
use std::fmt;

use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::digest::Digest;
use crate::oci::descriptor::{DescriptorError, parse_digest};

/// `critical.type` of every cosign image signature.
pub const SIGNATURE_TYPE: &str = "cosign container image signature";

/// Largest payload read (64 KiB; cosign's are about 250 bytes).
pub const MAX_PAYLOAD_BYTES: usize = 64 << 10;

/// Why a payload is not a simple-signing payload.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PayloadError {
    /// Larger than [`MAX_PAYLOAD_BYTES`].
    #[error(
        "simple-signing payload is {size} bytes, more than the {MAX_PAYLOAD_BYTES}-byte limit; it is not a cosign signature payload"
    )]
    TooLarge {
        /// Its size.
        size: usize,
    },
    /// Not JSON of exactly the payload's shape (unknown, missing or duplicate fields).
    #[error("simple-signing payload is malformed: {0}")]
    Malformed(String),
    /// `critical.type` is not [`SIGNATURE_TYPE`].
    #[error("simple-signing payload has critical.type {0:?}, expected {SIGNATURE_TYPE:?}")]
    WrongType(String),
    /// `critical.image.docker-manifest-digest` is not a sha256 digest.
    #[error("simple-signing payload: critical.image.docker-manifest-digest: {0}")]
    Digest(#[source] DescriptorError),
}

/// A simple-signing payload (`critical` + `optional`).
#[derive(Clone, Debug, PartialEq)]
pub struct SimpleSigning {
    docker_reference: String,
    manifest_digest: Digest,
    /// `None` is JSON `null`.
    optional: Option<BTreeMap<String, Value>>,
}

impl SimpleSigning {
    /// The payload `cosign sign` writes for `manifest_digest` under `docker_reference` (cosign
    /// writes the repository without tag or digest), with its `-a k=v` annotations.
    pub fn new(
        docker_reference: impl Into<String>,
        manifest_digest: Digest,
        annotations: &BTreeMap<String, String>,
    ) -> Self {
        let optional = (!annotations.is_empty()).then(|| {
            annotations
                .iter()
                .map(|(k, v)| (k.clone(), Value::String(v.clone())))
                .collect()
        });
        Self {
            docker_reference: docker_reference.into(),
            manifest_digest,
            optional,
        }
    }

    /// Parses payload bytes strictly (see the module docs).
    pub fn parse(bytes: &[u8]) -> Result<Self, PayloadError> {
        if bytes.len() > MAX_PAYLOAD_BYTES {
            return Err(PayloadError::TooLarge { size: bytes.len() });
        }
        let raw: RawPayload =
            serde_json::from_slice(bytes).map_err(|e| PayloadError::Malformed(e.to_string()))?;
        if raw.critical.type_ != SIGNATURE_TYPE {
            return Err(PayloadError::WrongType(
                raw.critical.type_.chars().take(200).collect(),
            ));
        }
        let manifest_digest = parse_digest(&raw.critical.image.docker_manifest_digest)
            .map_err(PayloadError::Digest)?;
        let optional = match raw.optional {
            Nullable::Null => None,
            Nullable::Map(StrictMap(map)) => {
                match map.get("creator") {
                    None | Some(Value::String(_)) => {}
                    Some(_) => {
                        return Err(PayloadError::Malformed(
                            "optional.creator is not a string".into(),
                        ));
                    }
                }
                if let Some(t) = map.get("timestamp")
                    && integer(t).is_none()
                {
                    return Err(PayloadError::Malformed(
                        "optional.timestamp is not an integer".into(),
                    ));
                }
                Some(map)
            }
        };
        Ok(Self {
            docker_reference: raw.critical.identity.docker_reference,
            manifest_digest,
            optional,
        })
    }

    /// The payload as cosign 2.5.0 writes it (see the module docs); no trailing newline.
    pub fn to_bytes(&self) -> Vec<u8> {
        let out = OutPayload {
            critical: OutCritical {
                identity: OutIdentity {
                    docker_reference: &self.docker_reference,
                },
                image: OutImage {
                    docker_manifest_digest: self.manifest_digest.to_string(),
                },
                type_: SIGNATURE_TYPE,
            },
            optional: self.optional.as_ref(),
        };
        let json = serde_json::to_string(&out).expect("strings and values always serialize");
        go_escape(&json).into_bytes()
    }

    /// `critical.identity.docker-reference`, as written (unchecked text).
    pub fn docker_reference(&self) -> &str {
        &self.docker_reference
    }

    /// `critical.image.docker-manifest-digest`.
    pub fn manifest_digest(&self) -> &Digest {
        &self.manifest_digest
    }

    /// `optional.creator` (skopeo: `containers/image 5.34.2`).
    pub fn creator(&self) -> Option<&str> {
        self.optional.as_ref()?.get("creator")?.as_str()
    }

    /// `optional.timestamp`, Unix seconds (skopeo writes it).
    pub fn timestamp(&self) -> Option<i64> {
        integer(self.optional.as_ref()?.get("timestamp")?)
    }

    /// Every `optional` entry (cosign's `-a` annotations, and skopeo's `creator`/`timestamp`);
    /// empty when `optional` is `null`.
    pub fn optional(&self) -> impl Iterator<Item = (&str, &Value)> {
        self.optional.iter().flatten().map(|(k, v)| (k.as_str(), v))
    }

    /// `optional[key]`, if present.
    pub fn optional_value(&self, key: &str) -> Option<&Value> {
        self.optional.as_ref()?.get(key)
    }
}

/// An integral JSON number (containers/image reads a float64 and requires it to be integral).
fn integer(v: &Value) -> Option<i64> {
    let n = v.as_number()?;
    if let Some(i) = n.as_i64() {
        return Some(i);
    }
    let f = n.as_f64()?;
    // Exactly representable range of i64 as f64 is below 2^63.
    (f.fract() == 0.0 && f.abs() < 9.2e18).then_some(f as i64)
}

/// Go `encoding/json`'s HTML-safe escaping, applied to compact serde_json output (these
/// characters can only occur inside strings there).
fn go_escape(json: &str) -> String {
    let mut out = String::with_capacity(json.len());
    for c in json.chars() {
        match c {
            '<' => out.push_str("\\u003c"),
            '>' => out.push_str("\\u003e"),
            '&' => out.push_str("\\u0026"),
            '\u{2028}' => out.push_str("\\u2028"),
            '\u{2029}' => out.push_str("\\u2029"),
            c => out.push(c),
        }
    }
    out
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPayload {
    critical: RawCritical,
    optional: Nullable,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCritical {
    #[serde(rename = "type")]
    type_: String,
    image: RawImage,
    identity: RawIdentity,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawImage {
    #[serde(rename = "docker-manifest-digest")]
    docker_manifest_digest: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawIdentity {
    #[serde(rename = "docker-reference")]
    docker_reference: String,
}

/// `null` or an object; a missing field is an error (unlike `Option`).
enum Nullable {
    Null,
    Map(StrictMap),
}

impl<'de> Deserialize<'de> for Nullable {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Nullable;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("null or a JSON object")
            }
            fn visit_unit<E: de::Error>(self) -> Result<Nullable, E> {
                Ok(Nullable::Null)
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Nullable, A::Error> {
                StrictMap::from_access(map).map(Nullable::Map)
            }
        }
        d.deserialize_any(V)
    }
}

/// A JSON object whose keys appear once.
struct StrictMap(BTreeMap<String, Value>);

impl StrictMap {
    fn from_access<'de, A: MapAccess<'de>>(mut access: A) -> Result<Self, A::Error> {
        let mut map = BTreeMap::new();
        while let Some((k, v)) = access.next_entry::<String, Value>()? {
            if map.contains_key(&k) {
                return Err(de::Error::custom(format_args!(
                    "duplicate key {k:?} in optional"
                )));
            }
            map.insert(k, v);
        }
        Ok(Self(map))
    }
}

#[derive(Serialize)]
struct OutPayload<'a> {
    critical: OutCritical<'a>,
    optional: Option<&'a BTreeMap<String, Value>>,
}

#[derive(Serialize)]
struct OutCritical<'a> {
    identity: OutIdentity<'a>,
    image: OutImage,
    #[serde(rename = "type")]
    type_: &'static str,
}

#[derive(Serialize)]
struct OutIdentity<'a> {
    #[serde(rename = "docker-reference")]
    docker_reference: &'a str,
}

#[derive(Serialize)]
struct OutImage {
    #[serde(rename = "docker-manifest-digest")]
    docker_manifest_digest: String,
}
