//! in-toto Statement v1: what a DSSE payload says about which artifacts.
//!
//! Owns parsing and writing the Statement layer (`_type`, `subject`, `predicateType`,
//! `predicate`) with the spec's field names. Written by hand: the `in-toto` crate models the
//! legacy layout/link format, and a Statement is four fields of serde.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The `_type` of an in-toto Statement v1.
pub const STATEMENT_TYPE_V1: &str = "https://in-toto.io/Statement/v1";

/// The DSSE `payloadType` of in-toto statements.
pub const PAYLOAD_TYPE: &str = "application/vnd.in-toto+json";

/// Statements larger than this are refused before parsing.
pub const MAX_STATEMENT_BYTES: usize = 64 << 20;

/// One artifact a statement is about.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Subject {
    /// The artifact's name (for models, the model directory's name).
    pub name: String,
    /// Algorithm name (lowercase, e.g. `sha256`) → lowercase hex digest.
    pub digest: BTreeMap<String, String>,
}

/// A parsed in-toto Statement v1.
#[derive(Clone, Debug, PartialEq)]
pub struct Statement {
    /// The artifacts.
    pub subject: Vec<Subject>,
    /// URI naming the predicate's schema.
    pub predicate_type: String,
    /// The predicate body.
    pub predicate: Value,
}

/// Why a statement could not be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StatementError {
    /// Not JSON, or not the expected shape.
    #[error("in-toto statement: {0}")]
    Malformed(String),
    /// `_type` is not Statement v1.
    #[error("in-toto statement: _type is {0:?}, expected {STATEMENT_TYPE_V1:?}")]
    WrongType(String),
    /// Larger than [`MAX_STATEMENT_BYTES`].
    #[error("in-toto statement is {0} bytes, more than the {MAX_STATEMENT_BYTES}-byte limit")]
    TooLarge(usize),
}

#[derive(Serialize, Deserialize)]
struct Raw {
    #[serde(rename = "_type")]
    type_: String,
    subject: Vec<Subject>,
    #[serde(rename = "predicateType")]
    predicate_type: String,
    #[serde(default)]
    predicate: Value,
}

impl Statement {
    /// Parses statement bytes (a DSSE payload).
    pub fn parse(bytes: &[u8]) -> Result<Self, StatementError> {
        if bytes.len() > MAX_STATEMENT_BYTES {
            return Err(StatementError::TooLarge(bytes.len()));
        }
        let raw: Raw =
            serde_json::from_slice(bytes).map_err(|e| StatementError::Malformed(e.to_string()))?;
        if raw.type_ != STATEMENT_TYPE_V1 {
            return Err(StatementError::WrongType(raw.type_));
        }
        Ok(Self {
            subject: raw.subject,
            predicate_type: raw.predicate_type,
            predicate: raw.predicate,
        })
    }

    /// The statement as compact JSON, fields in spec order.
    pub fn to_bytes(&self) -> Vec<u8> {
        let raw = Raw {
            type_: STATEMENT_TYPE_V1.to_owned(),
            subject: self.subject.clone(),
            predicate_type: self.predicate_type.clone(),
            predicate: self.predicate.clone(),
        };
        serde_json::to_vec(&raw).expect("a Value-based struct always serializes")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_checks() {
        let s = Statement {
            subject: vec![Subject {
                name: "m".into(),
                digest: [("sha256".to_owned(), "ab".repeat(32))].into(),
            }],
            predicate_type: "https://example/p".into(),
            predicate: serde_json::json!({"k": 1}),
        };
        let bytes = s.to_bytes();
        assert!(bytes.starts_with(br#"{"_type":"https://in-toto.io/Statement/v1","subject""#));
        assert_eq!(Statement::parse(&bytes).unwrap(), s);

        let v01 = String::from_utf8(bytes)
            .unwrap()
            .replace("Statement/v1", "Statement/v0.1");
        assert!(matches!(
            Statement::parse(v01.as_bytes()),
            Err(StatementError::WrongType(_))
        ));
        assert!(matches!(
            Statement::parse(b"[1]"),
            Err(StatementError::Malformed(_))
        ));
        assert!(matches!(
            Statement::parse(b"{\"_type\":"),
            Err(StatementError::Malformed(_))
        ));
    }
}
