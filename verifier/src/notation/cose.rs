//! The COSE envelope (`application/cose`): `COSE_Sign1_Tagged` (CBOR tag 18) with an embedded
//! payload (specification `signature-envelope-cose.md`).
//!
//! Protected header: `1` alg, `2` crit, `3` content type, and the Notary attributes under their
//! text labels, times as CBOR tag 1 over integer epoch seconds. Unprotected header: `33`
//! x5chain as an array of DER certificates (leaf first; a single bstr is refused, as go-cose
//! does), `io.cncf.notary.timestampSignature` (bstr), `io.cncf.notary.signingAgent` (tstr);
//! other unprotected labels are ignored. The signature covers
//! `Sig_structure = ["Signature1", protected bstr as received, h'', payload]`; the received
//! protected bytes are hashed, never a re-encoding.
//!
//! Parsing is coset's (it refuses duplicate labels and trailing data). The writer encodes maps
//! in RFC 8949 core deterministic order (bytewise order of the encoded keys), which is the
//! order of notation-core-go's conformance vector, and `crit` in notation's order (signing
//! scheme, authentic signing time, expiry, critical extended attributes).

use coset::TaggedCborSerializable as _;
use coset::cbor::value::Value;
use coset::{CoseSign1, Label, RegisteredLabel, RegisteredLabelWithPrivate};

use super::envelope::{
    Envelope, EnvelopeFormat, HEADER_AUTHENTIC_SIGNING_TIME, HEADER_EXPIRY, HEADER_SIGNING_AGENT,
    HEADER_SIGNING_SCHEME, HEADER_SIGNING_TIME, HEADER_TIMESTAMP_SIGNATURE,
    HEADER_VERIFICATION_PLUGIN, HEADER_VERIFICATION_PLUGIN_MIN_VERSION, RawHeaders, SigningScheme,
    parse_chain,
};
use super::sign::SignRequest;
use super::{NotationError, PAYLOAD_MEDIA_TYPE, SignatureAlgorithm};

const FORMAT: &str = "COSE";
/// The COSE header label of `x5chain` (RFC 9360).
const X5CHAIN: i64 = 33;
/// CBOR tag of COSE_Sign1.
const TAG_SIGN1: u64 = 18;
/// CBOR tag of an epoch-based date/time.
const TAG_EPOCH: u64 = 1;

fn label_name(label: &Label) -> String {
    match label {
        Label::Int(i) => i.to_string(),
        Label::Text(t) => t.clone(),
    }
}

/// Parses a COSE envelope (see the module docs).
pub(crate) fn parse(bytes: &[u8]) -> Result<Envelope, NotationError> {
    let msg = CoseSign1::from_tagged_slice(bytes).map_err(|e| {
        NotationError::malformed(
            FORMAT,
            format!("not a tagged COSE_Sign1 message (CBOR tag 18): {e}"),
        )
    })?;
    let payload = msg.payload.clone().ok_or_else(|| {
        NotationError::malformed(
            FORMAT,
            "the payload is detached; Notary COSE envelopes embed it",
        )
    })?;
    let (algorithm, raw) = read_protected(&msg.protected.header)?;
    let attributes = raw.into_attributes(FORMAT)?;
    let mut chain = None;
    let mut timestamp_token = None;
    let mut signing_agent = None;
    for (label, value) in &msg.unprotected.rest {
        match (label, value) {
            (Label::Int(X5CHAIN), Value::Array(items)) => {
                let ders = items
                    .iter()
                    .map(|v| match v {
                        Value::Bytes(b) => Ok(b.clone()),
                        _ => Err(NotationError::malformed(
                            FORMAT,
                            "x5chain must hold byte strings (DER certificates)",
                        )),
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                chain = Some(ders);
            }
            (Label::Int(X5CHAIN), _) => {
                return Err(NotationError::malformed(
                    FORMAT,
                    "x5chain must be an array of certificates (a single bstr is not accepted)",
                ));
            }
            (Label::Text(t), Value::Bytes(b)) if t == HEADER_TIMESTAMP_SIGNATURE => {
                timestamp_token = Some(b.clone());
            }
            (Label::Text(t), Value::Text(s)) if t == HEADER_SIGNING_AGENT => {
                signing_agent = Some(s.clone());
            }
            (Label::Text(t), _) if t == HEADER_TIMESTAMP_SIGNATURE || t == HEADER_SIGNING_AGENT => {
                return Err(NotationError::malformed(
                    FORMAT,
                    format!("unprotected {t} has the wrong CBOR type"),
                ));
            }
            _ => {}
        }
    }
    let certificates = parse_chain(
        FORMAT,
        chain.ok_or_else(|| {
            NotationError::malformed(FORMAT, "the unprotected header has no x5chain (label 33)")
        })?,
    )?;
    let signed_bytes = msg.tbs_data(&[]);
    Ok(Envelope {
        format: EnvelopeFormat::Cose,
        algorithm,
        attributes,
        payload,
        certificates,
        signature: msg.signature,
        timestamp_token,
        signing_agent,
        signed_bytes,
    })
}

fn read_protected(h: &coset::Header) -> Result<(SignatureAlgorithm, RawHeaders), NotationError> {
    let err = |d: String| NotationError::header(FORMAT, d);
    let label = match &h.alg {
        Some(RegisteredLabelWithPrivate::Assigned(a)) => *a as i64,
        Some(RegisteredLabelWithPrivate::PrivateUse(i)) => *i,
        Some(RegisteredLabelWithPrivate::Text(t)) => {
            return Err(err(format!("alg {t:?} is not an allowed algorithm")));
        }
        None => return Err(err("alg (label 1) is missing".into())),
    };
    let algorithm = SignatureAlgorithm::from_cose_label(label).ok_or_else(|| {
        err(format!(
            "alg {label} is not allowed (PS256 -37, PS384 -38, PS512 -39, ES256 -7, ES384 -35, \
             ES512 -36)"
        ))
    })?;
    match &h.content_type {
        Some(RegisteredLabel::Text(t)) if t == PAYLOAD_MEDIA_TYPE => {}
        other => {
            return Err(err(format!(
                "content type (label 3) is {other:?}; it must be {PAYLOAD_MEDIA_TYPE}"
            )));
        }
    }
    if !h.key_id.is_empty() || !h.iv.is_empty() || !h.partial_iv.is_empty() {
        return Err(err(
            "kid / IV headers are not part of a Notary envelope".into()
        ));
    }
    let mut present = vec!["1".to_owned(), "3".to_owned()];
    if !h.crit.is_empty() {
        present.push("2".to_owned());
    }
    let crit = h
        .crit
        .iter()
        .map(|c| match c {
            RegisteredLabelWithPrivate::Text(t) => t.clone(),
            RegisteredLabelWithPrivate::Assigned(a) => (*a as i64).to_string(),
            RegisteredLabelWithPrivate::PrivateUse(i) => i.to_string(),
        })
        .collect();
    let mut raw = RawHeaders {
        crit,
        present,
        scheme: None,
        signing_time: None,
        authentic_signing_time: None,
        expiry: None,
        plugin: None,
        plugin_min_version: None,
        extended: Vec::new(),
    };
    let text = |k: &str, v: &Value| match v {
        Value::Text(s) => Ok(s.clone()),
        _ => Err(err(format!("{k} must be a text string"))),
    };
    let time = |k: &str, v: &Value| match v {
        Value::Tag(TAG_EPOCH, inner) => match inner.as_ref() {
            Value::Integer(i) => u64::try_from(i128::from(*i))
                .ok()
                .map(|s| Some(std::time::UNIX_EPOCH + std::time::Duration::from_secs(s)))
                .ok_or_else(|| err(format!("{k} is before 1970"))),
            _ => Err(err(format!("{k} must be tag 1 over integer seconds"))),
        },
        _ => Err(err(format!(
            "{k} must be a CBOR tag 1 (epoch) date-time over integer seconds"
        ))),
    };
    for (label, value) in &h.rest {
        let name = label_name(label);
        raw.present.push(name.clone());
        match name.as_str() {
            HEADER_SIGNING_SCHEME => raw.scheme = Some(text(&name, value)?),
            HEADER_SIGNING_TIME => raw.signing_time = time(&name, value)?,
            HEADER_AUTHENTIC_SIGNING_TIME => raw.authentic_signing_time = time(&name, value)?,
            HEADER_EXPIRY => raw.expiry = time(&name, value)?,
            HEADER_VERIFICATION_PLUGIN => raw.plugin = Some(text(&name, value)?),
            HEADER_VERIFICATION_PLUGIN_MIN_VERSION => {
                raw.plugin_min_version = Some(text(&name, value)?);
            }
            _ => raw.extended.push((name, cbor_to_json(value))),
        }
    }
    Ok((algorithm, raw))
}

/// The nearest JSON value of a CBOR value, for showing extended attributes.
fn cbor_to_json(v: &Value) -> serde_json::Value {
    match v {
        Value::Text(s) => s.clone().into(),
        Value::Bool(b) => (*b).into(),
        Value::Integer(i) => {
            i64::try_from(i128::from(*i)).map_or(serde_json::Value::Null, Into::into)
        }
        Value::Array(a) => a.iter().map(cbor_to_json).collect(),
        Value::Tag(_, inner) => cbor_to_json(inner),
        other => format!("{other:?}").into(),
    }
}

fn json_to_cbor(v: &serde_json::Value) -> Value {
    match v {
        serde_json::Value::String(s) => Value::Text(s.clone()),
        serde_json::Value::Bool(b) => Value::Bool(*b),
        serde_json::Value::Number(n) => n
            .as_i64()
            .map_or_else(|| Value::Text(n.to_string()), |i| Value::Integer(i.into())),
        serde_json::Value::Array(a) => Value::Array(a.iter().map(json_to_cbor).collect()),
        serde_json::Value::Null => Value::Null,
        serde_json::Value::Object(_) => Value::Text(v.to_string()),
    }
}

fn encode(v: &Value) -> Vec<u8> {
    let mut out = Vec::new();
    // Writing CBOR into a Vec cannot fail.
    let _ = coset::cbor::ser::into_writer(v, &mut out);
    out
}

/// A CBOR map in RFC 8949 core deterministic order (bytewise order of the encoded keys).
fn deterministic_map(mut entries: Vec<(Value, Value)>) -> Value {
    entries.sort_by_cached_key(|(k, _)| encode(k));
    Value::Map(entries)
}

fn epoch(t: std::time::SystemTime) -> Value {
    Value::Tag(
        TAG_EPOCH,
        Box::new(Value::Integer(super::time::unix_seconds(t).into())),
    )
}

/// The encoded protected header notation-core-go writes for `req`.
pub(crate) fn protected_header(req: &SignRequest, alg: SignatureAlgorithm) -> Vec<u8> {
    let text = |s: &str| Value::Text(s.to_owned());
    let mut crit = vec![text(HEADER_SIGNING_SCHEME)];
    let mut entries = vec![
        (
            Value::Integer(1.into()),
            Value::Integer(alg.cose_label().into()),
        ),
        (Value::Integer(3.into()), text(&req.content_type)),
        (text(HEADER_SIGNING_SCHEME), text(req.scheme.name())),
    ];
    match req.scheme {
        SigningScheme::X509 => {
            entries.push((text(HEADER_SIGNING_TIME), epoch(req.signing_time)));
        }
        SigningScheme::X509SigningAuthority => {
            entries.push((text(HEADER_AUTHENTIC_SIGNING_TIME), epoch(req.signing_time)));
            crit.push(text(HEADER_AUTHENTIC_SIGNING_TIME));
        }
    }
    if let Some(expiry) = req.expiry {
        entries.push((text(HEADER_EXPIRY), epoch(expiry)));
        crit.push(text(HEADER_EXPIRY));
    }
    for attr in &req.extended {
        if attr.critical {
            crit.push(text(&attr.key));
        }
        entries.push((text(&attr.key), json_to_cbor(&attr.value)));
    }
    entries.push((Value::Integer(2.into()), Value::Array(crit)));
    encode(&deterministic_map(entries))
}

/// The Sig_structure over an encoded protected header and a payload.
pub(crate) fn sig_structure(protected: &[u8], payload: &[u8]) -> Vec<u8> {
    encode(&Value::Array(vec![
        Value::Text("Signature1".into()),
        Value::Bytes(protected.to_vec()),
        Value::Bytes(Vec::new()),
        Value::Bytes(payload.to_vec()),
    ]))
}

/// Serializes a signed COSE_Sign1_Tagged envelope.
pub(crate) fn write(
    protected: &[u8],
    payload: &[u8],
    signature: &[u8],
    chain: &[Vec<u8>],
    timestamp: Option<&[u8]>,
    signing_agent: Option<&str>,
) -> Vec<u8> {
    let mut unprotected = Vec::new();
    if !chain.is_empty() {
        unprotected.push((
            Value::Integer(X5CHAIN.into()),
            Value::Array(chain.iter().map(|c| Value::Bytes(c.clone())).collect()),
        ));
    }
    if let Some(agent) = signing_agent {
        unprotected.push((
            Value::Text(HEADER_SIGNING_AGENT.into()),
            Value::Text(agent.into()),
        ));
    }
    if let Some(token) = timestamp {
        unprotected.push((
            Value::Text(HEADER_TIMESTAMP_SIGNATURE.into()),
            Value::Bytes(token.to_vec()),
        ));
    }
    encode(&Value::Tag(
        TAG_SIGN1,
        Box::new(Value::Array(vec![
            Value::Bytes(protected.to_vec()),
            deterministic_map(unprotected),
            Value::Bytes(payload.to_vec()),
            Value::Bytes(signature.to_vec()),
        ])),
    ))
}
