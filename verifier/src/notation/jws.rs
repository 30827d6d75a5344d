//! The JWS envelope (`application/jose+json`): JSON flattened serialization with exactly the
//! members `payload`, `protected`, `header`, `signature` (specification
//! `signature-envelope-jws.md`).
//!
//! `payload`, `protected` and `signature` are unpadded base64url (a `=` is refused, like Go's
//! `RawURLEncoding`); `x5c` entries and `io.cncf.notary.timestampSignature` are standard padded
//! base64 (Go encodes `[]byte` that way). Times are RFC 3339 strings. The writer produces the
//! bytes notation-go does: compact JSON, protected header keys sorted (Go marshals a map), `crit`
//! in notation's order (signing scheme, authentic signing time, critical extended attributes,
//! expiry) and the unprotected members in Go struct order.

use std::collections::BTreeMap;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::envelope::{
    Envelope, EnvelopeFormat, HEADER_AUTHENTIC_SIGNING_TIME, HEADER_EXPIRY, HEADER_SIGNING_SCHEME,
    HEADER_SIGNING_TIME, HEADER_VERIFICATION_PLUGIN, HEADER_VERIFICATION_PLUGIN_MIN_VERSION,
    RawHeaders, parse_chain,
};
use super::sign::SignRequest;
use super::{NotationError, PAYLOAD_MEDIA_TYPE, SignatureAlgorithm};

const FORMAT: &str = "JWS";

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Flattened {
    payload: String,
    protected: String,
    header: Unprotected,
    signature: String,
}

#[derive(Deserialize, Serialize, Default)]
struct Unprotected {
    #[serde(
        rename = "io.cncf.notary.timestampSignature",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    timestamp: Option<String>,
    #[serde(default)]
    x5c: Vec<String>,
    #[serde(
        rename = "io.cncf.notary.signingAgent",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    signing_agent: Option<String>,
}

#[derive(Serialize)]
struct FlattenedOut<'a> {
    payload: &'a str,
    protected: &'a str,
    header: &'a Unprotected,
    signature: &'a str,
}

fn b64url(what: &str, s: &str) -> Result<Vec<u8>, NotationError> {
    URL_SAFE_NO_PAD.decode(s).map_err(|e| {
        NotationError::malformed(
            FORMAT,
            format!("{what} is not unpadded base64url as JWS requires ({e})"),
        )
    })
}

/// Parses a JWS envelope (see the module docs for the exact form accepted).
pub(crate) fn parse(bytes: &[u8]) -> Result<Envelope, NotationError> {
    let env: Flattened = serde_json::from_slice(bytes).map_err(|e| {
        NotationError::malformed(
            FORMAT,
            format!(
                "not a JWS JSON flattened serialization with exactly payload, protected, \
                 header and signature: {e}"
            ),
        )
    })?;
    let payload = b64url("payload", &env.payload)?;
    let protected = b64url("protected", &env.protected)?;
    let signature = b64url("signature", &env.signature)?;
    let header: Map<String, Value> = serde_json::from_slice(&protected).map_err(|e| {
        NotationError::malformed(
            FORMAT,
            format!("the protected header is not a JSON object: {e}"),
        )
    })?;
    let (algorithm, raw) = read_protected(header)?;
    let attributes = raw.into_attributes(FORMAT)?;
    let ders = env
        .header
        .x5c
        .iter()
        .enumerate()
        .map(|(i, c)| {
            STANDARD.decode(c).map_err(|e| {
                NotationError::malformed(
                    FORMAT,
                    format!("x5c[{i}] is not standard base64 of a DER certificate ({e})"),
                )
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let certificates = parse_chain(FORMAT, ders)?;
    let timestamp_token = env
        .header
        .timestamp
        .map(|t| {
            STANDARD.decode(t).map_err(|e| {
                NotationError::malformed(
                    FORMAT,
                    format!("io.cncf.notary.timestampSignature is not standard base64 ({e})"),
                )
            })
        })
        .transpose()?;
    let mut signed_bytes = env.protected.into_bytes();
    signed_bytes.push(b'.');
    signed_bytes.extend_from_slice(env.payload.as_bytes());
    Ok(Envelope {
        format: EnvelopeFormat::Jws,
        algorithm,
        attributes,
        payload,
        certificates,
        signature,
        timestamp_token,
        signing_agent: env.header.signing_agent,
        signed_bytes,
    })
}

fn read_protected(
    header: Map<String, Value>,
) -> Result<(SignatureAlgorithm, RawHeaders), NotationError> {
    let err = |d: String| NotationError::header(FORMAT, d);
    let string = |k: &str, v: &Value| -> Result<String, NotationError> {
        v.as_str()
            .map(str::to_owned)
            .ok_or_else(|| err(format!("{k} must be a string")))
    };
    let time = |k: &str, v: &Value| {
        let s = string(k, v)?;
        super::parse_rfc3339(&s)
            .map(Some)
            .ok_or_else(|| err(format!("{k} {s:?} is not an RFC 3339 time")))
    };
    let mut raw = RawHeaders {
        crit: Vec::new(),
        present: header.keys().cloned().collect(),
        scheme: None,
        signing_time: None,
        authentic_signing_time: None,
        expiry: None,
        plugin: None,
        plugin_min_version: None,
        extended: Vec::new(),
    };
    let mut alg = None;
    let mut cty = None;
    for (k, v) in &header {
        match k.as_str() {
            "alg" => alg = Some(string(k, v)?),
            "cty" => cty = Some(string(k, v)?),
            "crit" => {
                let items = v
                    .as_array()
                    .ok_or_else(|| err("crit must be an array of strings".into()))?;
                raw.crit = items
                    .iter()
                    .map(|i| string("crit item", i))
                    .collect::<Result<_, _>>()?;
            }
            HEADER_SIGNING_SCHEME => raw.scheme = Some(string(k, v)?),
            HEADER_SIGNING_TIME => raw.signing_time = time(k, v)?,
            HEADER_AUTHENTIC_SIGNING_TIME => raw.authentic_signing_time = time(k, v)?,
            HEADER_EXPIRY => raw.expiry = time(k, v)?,
            HEADER_VERIFICATION_PLUGIN => raw.plugin = Some(string(k, v)?),
            HEADER_VERIFICATION_PLUGIN_MIN_VERSION => raw.plugin_min_version = Some(string(k, v)?),
            _ => raw.extended.push((k.clone(), v.clone())),
        }
    }
    let alg = alg.ok_or_else(|| err("alg is missing".into()))?;
    let algorithm = SignatureAlgorithm::from_jws_name(&alg).ok_or_else(|| {
        err(format!(
            "alg {alg:?} is not allowed (PS256, PS384, PS512, ES256, ES384, ES512)"
        ))
    })?;
    match cty.as_deref() {
        Some(PAYLOAD_MEDIA_TYPE) => {}
        Some(other) => {
            return Err(err(format!(
                "cty {other:?} is not supported; it must be {PAYLOAD_MEDIA_TYPE}"
            )));
        }
        None => {
            return Err(err(format!(
                "cty is missing; it must be {PAYLOAD_MEDIA_TYPE}"
            )));
        }
    }
    Ok((algorithm, raw))
}

/// The protected header notation-go writes for `req` (sorted keys, crit in notation's order).
pub(crate) fn protected_header(req: &SignRequest, alg: SignatureAlgorithm) -> Vec<u8> {
    let mut h: BTreeMap<String, Value> = BTreeMap::new();
    h.insert("alg".into(), alg.jws_name().into());
    h.insert("cty".into(), req.content_type.clone().into());
    h.insert(HEADER_SIGNING_SCHEME.into(), req.scheme.name().into());
    let mut crit = vec![HEADER_SIGNING_SCHEME.to_owned()];
    let time = super::format_rfc3339(req.signing_time);
    match req.scheme {
        super::envelope::SigningScheme::X509 => {
            h.insert(HEADER_SIGNING_TIME.into(), time.into());
        }
        super::envelope::SigningScheme::X509SigningAuthority => {
            h.insert(HEADER_AUTHENTIC_SIGNING_TIME.into(), time.into());
            crit.push(HEADER_AUTHENTIC_SIGNING_TIME.into());
        }
    }
    if let Some(expiry) = req.expiry {
        h.insert(HEADER_EXPIRY.into(), super::format_rfc3339(expiry).into());
    }
    for attr in &req.extended {
        if attr.critical {
            crit.push(attr.key.clone());
        }
        h.insert(attr.key.clone(), attr.value.clone());
    }
    if req.expiry.is_some() {
        crit.push(HEADER_EXPIRY.into());
    }
    h.insert("crit".into(), crit.into());
    serde_json::to_vec(&h).unwrap_or_default()
}

/// The JWS signing input for a protected header and payload.
pub(crate) fn signing_input(protected: &[u8], payload: &[u8]) -> (String, String, Vec<u8>) {
    let p = URL_SAFE_NO_PAD.encode(protected);
    let pl = URL_SAFE_NO_PAD.encode(payload);
    let input = format!("{p}.{pl}").into_bytes();
    (p, pl, input)
}

/// Serializes a signed JWS envelope.
pub(crate) fn write(
    protected_b64: &str,
    payload_b64: &str,
    signature: &[u8],
    chain: &[Vec<u8>],
    timestamp: Option<&[u8]>,
    signing_agent: Option<&str>,
) -> Vec<u8> {
    let header = Unprotected {
        timestamp: timestamp.map(|t| STANDARD.encode(t)),
        x5c: chain.iter().map(|c| STANDARD.encode(c)).collect(),
        signing_agent: signing_agent.map(str::to_owned),
    };
    let out = FlattenedOut {
        payload: payload_b64,
        protected: protected_b64,
        header: &header,
        signature: &URL_SAFE_NO_PAD.encode(signature),
    };
    serde_json::to_vec(&out).unwrap_or_default()
}
