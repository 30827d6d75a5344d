//! Trust policy documents, version 1.0, for OCI artifacts (`trustpolicy.oci.json`, fallback
//! `trustpolicy.json`) and blobs (`trustpolicy.blob.json`), exactly as notation reads them
//! (specification "Trust Policy").
//!
//! A document is checked as a whole when loaded, with an error naming the statement and field:
//! version `1.0`; statement names unique and non-empty; `level` strict/permissive/audit/skip;
//! `override` only on non-skip levels, keys `authenticity`, `authenticTimestamp`, `expiry`
//! (`enforce`/`log`) and `revocation` (`enforce`/`log`/`skip`), never `integrity`;
//! `verifyTimestamp` `always` or `afterCertExpiry`; non-skip statements need `trustStores`
//! (`ca|signingAuthority|tsa:name`) and `trustedIdentities`, skip statements have neither.
//! OCI: `registryScopes` of fully qualified repositories or the single `*`, each scope in one
//! statement only, at most one global statement. Blob: no scopes, at most one `globalPolicy`,
//! which cannot be skip. Identities: `*` alone, or `x509.subject: <DN>` with C, ST and O, no
//! duplicate or multi-valued attributes, no `=#`, no item a subset of another.
//!
//! Unknown members are refused (a misspelt `trustStore` must not silently drop trust roots).

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

use serde::Deserialize;

use super::truststore::{StoreType, is_valid_store_name};
use super::{MAX_POLICY_SIZE, NotationError};

/// Which kind of document.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PolicyKind {
    /// OCI artifacts: statements select by `registryScopes`.
    Oci,
    /// Blobs: statements select by name or `globalPolicy`.
    Blob,
}

/// A verification level.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Level {
    /// Every check enforced.
    Strict,
    /// Integrity and authenticity enforced, the rest logged.
    Permissive,
    /// Integrity enforced, the rest logged.
    Audit,
    /// Nothing verified.
    Skip,
}

impl Level {
    /// The policy name.
    pub fn name(self) -> &'static str {
        match self {
            Self::Strict => "strict",
            Self::Permissive => "permissive",
            Self::Audit => "audit",
            Self::Skip => "skip",
        }
    }

    /// Parses a level name.
    pub fn from_name(name: &str) -> Option<Self> {
        [Self::Strict, Self::Permissive, Self::Audit, Self::Skip]
            .into_iter()
            .find(|l| l.name() == name)
    }

    /// What the level does with `check` (before overrides).
    pub fn action(self, check: Check) -> Action {
        match (self, check) {
            (Self::Skip, _) => Action::Skip,
            (_, Check::Integrity) | (Self::Strict, _) => Action::Enforce,
            (Self::Permissive, Check::Authenticity) => Action::Enforce,
            _ => Action::Log,
        }
    }
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The verification checks, in the order they run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Check {
    /// Envelope signature, headers, chain rules.
    Integrity,
    /// Chain to a trusted root, trusted identity.
    Authenticity,
    /// Signature not past `io.cncf.notary.expiry`.
    Expiry,
    /// Certificates valid at an authentic time (timestamp or authentic signing time).
    AuthenticTimestamp,
    /// No certificate of the chain revoked.
    Revocation,
}

impl Check {
    /// Every check, in order.
    pub const ALL: [Self; 5] = [
        Self::Integrity,
        Self::Authenticity,
        Self::Expiry,
        Self::AuthenticTimestamp,
        Self::Revocation,
    ];

    /// The policy / output name.
    pub fn name(self) -> &'static str {
        match self {
            Self::Integrity => "integrity",
            Self::Authenticity => "authenticity",
            Self::Expiry => "expiry",
            Self::AuthenticTimestamp => "authenticTimestamp",
            Self::Revocation => "revocation",
        }
    }

    fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.name() == name)
    }
}

impl fmt::Display for Check {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What a failed check does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// Fails verification.
    Enforce,
    /// Recorded, verification continues.
    Log,
    /// Not run.
    Skip,
}

impl Action {
    /// The policy name.
    pub fn name(self) -> &'static str {
        match self {
            Self::Enforce => "enforce",
            Self::Log => "log",
            Self::Skip => "skip",
        }
    }
}

/// `verifyTimestamp`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum VerifyTimestamp {
    /// Always verify the countersignature when a tsa store is configured (default).
    #[default]
    Always,
    /// Only when a certificate of the chain has expired.
    AfterCertExpiry,
}

/// A trusted identity.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Identity {
    /// `*`: any identity.
    Any,
    /// `x509.subject: <DN>`: these attributes (type, value) must all be in the leaf subject.
    Subject(Vec<(String, String)>),
}

/// A validated trust policy statement.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TrustPolicy {
    /// `name`.
    pub name: String,
    /// `registryScopes` (OCI).
    pub registry_scopes: Vec<String>,
    /// `globalPolicy` (blob).
    pub global: bool,
    /// `signatureVerification.level`.
    pub level: Level,
    /// `signatureVerification.override`.
    pub overrides: BTreeMap<Check, Action>,
    /// `signatureVerification.verifyTimestamp`.
    pub verify_timestamp: VerifyTimestamp,
    /// `trustStores`, parsed.
    pub trust_stores: Vec<(StoreType, String)>,
    /// `trustedIdentities`, parsed.
    pub trusted_identities: Vec<Identity>,
}

impl TrustPolicy {
    /// What this statement does with `check`: the level's action, or the override.
    pub fn action(&self, check: Check) -> Action {
        if self.level == Level::Skip {
            return Action::Skip;
        }
        self.overrides
            .get(&check)
            .copied()
            .unwrap_or_else(|| self.level.action(check))
    }

    /// The named stores of one type.
    pub fn stores_of(&self, store_type: StoreType) -> impl Iterator<Item = &str> {
        self.trust_stores
            .iter()
            .filter(move |(t, _)| *t == store_type)
            .map(|(_, n)| n.as_str())
    }
}

/// A validated trust policy document.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TrustPolicyDocument {
    /// OCI or blob.
    pub kind: PolicyKind,
    /// The statements, in document order.
    pub statements: Vec<TrustPolicy>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDocument {
    version: Option<String>,
    #[serde(rename = "trustPolicies")]
    trust_policies: Option<Vec<RawStatement>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStatement {
    name: Option<String>,
    #[serde(rename = "registryScopes")]
    registry_scopes: Option<Vec<String>>,
    #[serde(rename = "globalPolicy", default)]
    global_policy: bool,
    #[serde(rename = "signatureVerification")]
    signature_verification: Option<RawVerification>,
    #[serde(rename = "trustStores", default)]
    trust_stores: Vec<String>,
    #[serde(rename = "trustedIdentities", default)]
    trusted_identities: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawVerification {
    level: Option<String>,
    #[serde(rename = "override", default)]
    overrides: BTreeMap<String, String>,
    #[serde(rename = "verifyTimestamp")]
    verify_timestamp: Option<String>,
}

fn perr(detail: String) -> NotationError {
    NotationError::policy(detail)
}

impl TrustPolicyDocument {
    /// Parses and validates a document.
    pub fn parse(bytes: &[u8], kind: PolicyKind) -> Result<Self, NotationError> {
        if bytes.len() > MAX_POLICY_SIZE {
            return Err(NotationError::TooLarge {
                what: "trust policy".into(),
                size: bytes.len(),
                max: MAX_POLICY_SIZE,
            });
        }
        let raw: RawDocument = serde_json::from_slice(bytes)
            .map_err(|e| perr(format!("not a valid trust policy document: {e}")))?;
        match raw.version.as_deref() {
            Some("1.0") => {}
            Some(v) => return Err(perr(format!("version {v:?} is not supported; use \"1.0\""))),
            None => return Err(perr("version is missing; use \"1.0\"".into())),
        }
        let raw_statements = raw
            .trust_policies
            .filter(|s| !s.is_empty())
            .ok_or_else(|| perr("trustPolicies is missing or empty".into()))?;
        let mut statements: Vec<TrustPolicy> = Vec::with_capacity(raw_statements.len());
        for (i, s) in raw_statements.into_iter().enumerate() {
            let st = statement(s, i, kind)?;
            if statements.iter().any(|o| o.name == st.name) {
                return Err(perr(format!(
                    "two statements are named {:?}; statement names must be unique",
                    st.name
                )));
            }
            statements.push(st);
        }
        let doc = Self { kind, statements };
        doc.check_selection()?;
        Ok(doc)
    }

    /// Reads and validates a document file.
    pub fn load(path: &Path, kind: PolicyKind) -> Result<Self, NotationError> {
        let bytes = super::truststore::read_limited(path, MAX_POLICY_SIZE)?;
        Self::parse(&bytes, kind).map_err(|e| match e {
            NotationError::Policy { detail } => NotationError::Policy {
                detail: format!("{}: {detail}", path.display()),
            },
            other => other,
        })
    }

    /// The document notation would use in configuration directory `dir`: OCI
    /// `trustpolicy.oci.json`, falling back to `trustpolicy.json`; blob `trustpolicy.blob.json`.
    pub fn load_from_config_dir(dir: &Path, kind: PolicyKind) -> Result<Self, NotationError> {
        let candidates: &[&str] = match kind {
            PolicyKind::Oci => &["trustpolicy.oci.json", "trustpolicy.json"],
            PolicyKind::Blob => &["trustpolicy.blob.json"],
        };
        for name in candidates {
            let path = dir.join(name);
            if path.exists() {
                return Self::load(&path, kind);
            }
        }
        Err(perr(format!(
            "no trust policy in {} (looked for {}); create one (notation policy import)",
            dir.display(),
            candidates.join(", ")
        )))
    }

    fn check_selection(&self) -> Result<(), NotationError> {
        match self.kind {
            PolicyKind::Oci => {
                let mut seen: Vec<(&str, &str)> = Vec::new();
                for st in &self.statements {
                    for scope in &st.registry_scopes {
                        if let Some((_, other)) = seen.iter().find(|(s, _)| *s == scope) {
                            return Err(perr(format!(
                                "registry scope {scope:?} appears in statements {other:?} and \
                                 {:?}; a scope may appear in one statement only",
                                st.name
                            )));
                        }
                        seen.push((scope, &st.name));
                    }
                }
            }
            PolicyKind::Blob => {
                let globals: Vec<&str> = self
                    .statements
                    .iter()
                    .filter(|s| s.global)
                    .map(|s| s.name.as_str())
                    .collect();
                if globals.len() > 1 {
                    return Err(perr(format!(
                        "statements {globals:?} all set globalPolicy; at most one may"
                    )));
                }
            }
        }
        Ok(())
    }

    /// The statement for an artifact in `repository` (`registry/namespace/repo`): the one whose
    /// scopes name it, else the global `*` one.
    pub fn select_oci(&self, repository: &str) -> Result<&TrustPolicy, NotationError> {
        self.statements
            .iter()
            .find(|s| s.registry_scopes.iter().any(|r| r == repository))
            .or_else(|| {
                self.statements
                    .iter()
                    .find(|s| s.registry_scopes.iter().any(|r| r == "*"))
            })
            .ok_or_else(|| {
                perr(format!(
                    "no statement applies to {repository:?}: add its repository to a \
                     statement's registryScopes, or add a statement with scope \"*\""
                ))
            })
    }

    /// The blob statement named `name`, or the global one.
    pub fn select_blob(&self, name: Option<&str>) -> Result<&TrustPolicy, NotationError> {
        match name {
            Some(n) => self
                .statements
                .iter()
                .find(|s| s.name == n)
                .ok_or_else(|| perr(format!("no statement is named {n:?}"))),
            None => self.statements.iter().find(|s| s.global).ok_or_else(|| {
                perr("no statement has globalPolicy: true; name one with --policy-name".into())
            }),
        }
    }
}

fn statement(
    s: RawStatement,
    index: usize,
    kind: PolicyKind,
) -> Result<TrustPolicy, NotationError> {
    let name = s
        .name
        .filter(|n| !n.trim().is_empty())
        .ok_or_else(|| perr(format!("statement {index} has no name")))?;
    let at = |d: String| perr(format!("statement {name:?}: {d}"));
    let v = s
        .signature_verification
        .ok_or_else(|| at("signatureVerification is missing".into()))?;
    let level_name = v
        .level
        .ok_or_else(|| at("signatureVerification.level is missing".into()))?;
    let level = Level::from_name(&level_name).ok_or_else(|| {
        at(format!(
            "level {level_name:?} is not one of strict, permissive, audit, skip"
        ))
    })?;
    let mut overrides = BTreeMap::new();
    if level == Level::Skip && !v.overrides.is_empty() {
        return Err(at("a skip level cannot be customised with override".into()));
    }
    for (k, val) in &v.overrides {
        let check = Check::from_name(k)
            .filter(|c| *c != Check::Integrity)
            .ok_or_else(|| {
                at(format!(
                    "override {k:?} is not allowed (authenticity, authenticTimestamp, expiry, \
                     revocation; integrity cannot be overridden)"
                ))
            })?;
        let action = match (val.as_str(), check) {
            ("enforce", _) => Action::Enforce,
            ("log", _) => Action::Log,
            ("skip", Check::Revocation) => Action::Skip,
            _ => {
                return Err(at(format!(
                    "override {k}: {val:?} is not allowed (enforce or log; skip only for \
                     revocation)"
                )));
            }
        };
        overrides.insert(check, action);
    }
    let verify_timestamp = match v.verify_timestamp.as_deref() {
        None | Some("always") => VerifyTimestamp::Always,
        Some("afterCertExpiry") => VerifyTimestamp::AfterCertExpiry,
        Some(other) => {
            return Err(at(format!(
                "verifyTimestamp {other:?} is not always or afterCertExpiry"
            )));
        }
    };
    let registry_scopes = match kind {
        PolicyKind::Oci => {
            let scopes = s
                .registry_scopes
                .filter(|r| !r.is_empty())
                .ok_or_else(|| at("registryScopes is missing or empty".into()))?;
            check_scopes(&scopes).map_err(at)?;
            scopes
        }
        PolicyKind::Blob => {
            if s.registry_scopes.is_some() {
                return Err(at(
                    "registryScopes is not allowed in a blob trust policy".into()
                ));
            }
            Vec::new()
        }
    };
    if kind == PolicyKind::Oci && s.global_policy {
        return Err(at(
            "globalPolicy is for blob trust policies; use registryScopes [\"*\"]".into(),
        ));
    }
    if kind == PolicyKind::Blob && s.global_policy && level == Level::Skip {
        return Err(at("the global blob statement cannot have level skip".into()));
    }
    let (trust_stores, trusted_identities) = if level == Level::Skip {
        if !s.trust_stores.is_empty() || !s.trusted_identities.is_empty() {
            return Err(at(
                "a skip statement must not list trustStores or trustedIdentities".into(),
            ));
        }
        (Vec::new(), Vec::new())
    } else {
        if s.trust_stores.is_empty() {
            return Err(at("trustStores is missing or empty".into()));
        }
        if s.trusted_identities.is_empty() {
            return Err(at(
                "trustedIdentities is missing or empty (use [\"*\"] to trust any identity)".into(),
            ));
        }
        let stores = s
            .trust_stores
            .iter()
            .map(|t| parse_store_ref(t).map_err(&at))
            .collect::<Result<Vec<_>, _>>()?;
        (stores, parse_identities(&s.trusted_identities).map_err(at)?)
    };
    Ok(TrustPolicy {
        name,
        registry_scopes,
        global: s.global_policy,
        level,
        overrides,
        verify_timestamp,
        trust_stores,
        trusted_identities,
    })
}

fn parse_store_ref(t: &str) -> Result<(StoreType, String), String> {
    let (ty, name) = t
        .split_once(':')
        .ok_or_else(|| format!("trust store {t:?} must be <type>:<name>, e.g. ca:my-roots"))?;
    let store_type = StoreType::from_name(ty).ok_or_else(|| {
        format!("trust store {t:?}: type {ty:?} is not ca, signingAuthority or tsa")
    })?;
    if !is_valid_store_name(name) {
        return Err(format!(
            "trust store {t:?}: the name must use letters, digits, '_', '.' and '-' only"
        ));
    }
    Ok((store_type, name.to_owned()))
}

fn check_scopes(scopes: &[String]) -> Result<(), String> {
    if scopes.iter().any(|s| s == "*") {
        if scopes.len() > 1 {
            return Err("the wildcard scope \"*\" must be the only registry scope".into());
        }
        return Ok(());
    }
    for (i, s) in scopes.iter().enumerate() {
        if scopes[..i].contains(s) {
            return Err(format!("registry scope {s:?} is listed twice"));
        }
        let valid = s.split_once('/').is_some_and(|(host, path)| {
            !host.is_empty()
                && !path.is_empty()
                && !s.contains("://")
                && !s.contains('*')
                && !s.contains('@')
                && !path.contains(':')
                && !s.ends_with('/')
                && !s.contains("//")
                && !s.chars().any(char::is_whitespace)
        });
        if !valid {
            return Err(format!(
                "registry scope {s:?} is invalid: use a fully qualified repository \
                 <registry>/<namespace>/<repository> without scheme, tag, digest or wildcard, \
                 or the single scope \"*\""
            ));
        }
    }
    Ok(())
}

const SUBJECT_PREFIX: &str = "x509.subject:";

fn parse_identities(items: &[String]) -> Result<Vec<Identity>, String> {
    if items.iter().any(|i| i == "*") {
        if items.len() > 1 {
            return Err("the wildcard identity \"*\" cannot be combined with others".into());
        }
        return Ok(vec![Identity::Any]);
    }
    let mut out: Vec<Identity> = Vec::new();
    for item in items {
        let dn = item.strip_prefix(SUBJECT_PREFIX).ok_or_else(|| {
            format!(
                "trusted identity {item:?} is not supported: use \"x509.subject: <DN>\" or \"*\" \
                 (other prefixes need Notation plugins)"
            )
        })?;
        let attrs = parse_dn(dn.trim()).map_err(|e| format!("trusted identity {item:?}: {e}"))?;
        for required in ["C", "ST", "O"] {
            if !attrs.iter().any(|(k, _)| k == required) {
                return Err(format!(
                    "trusted identity {item:?} must contain C, ST (or S) and O"
                ));
            }
        }
        out.push(Identity::Subject(attrs));
    }
    for (i, a) in out.iter().enumerate() {
        for (j, b) in out.iter().enumerate() {
            if let (Identity::Subject(x), Identity::Subject(y)) = (a, b)
                && i != j
                && x.iter().all(|kv| y.contains(kv))
            {
                return Err(format!(
                    "trusted identities {:?} and {:?} overlap: one is a subset of the other",
                    items[i], items[j]
                ));
            }
        }
    }
    Ok(out)
}

/// Parses an RFC 4514 distinguished name into (type, value) pairs; types are upper case with
/// `S` read as `ST`.
pub fn parse_dn(dn: &str) -> Result<Vec<(String, String)>, String> {
    parse_dn_with(dn, true)
}

fn parse_dn_with(dn: &str, unique: bool) -> Result<Vec<(String, String)>, String> {
    if dn.contains("=#") {
        return Err(format!(
            "distinguished name {dn:?} contains \"=#\" (hex-encoded values), which Notation \
             does not support"
        ));
    }
    let mut out: Vec<(String, String)> = Vec::new();
    for rdn in split_unescaped(dn, ',')? {
        if split_unescaped(&rdn, '+')?.len() > 1 {
            return Err(format!("multi-valued RDN {rdn:?} is not supported"));
        }
        let (ty, value) = rdn
            .split_once('=')
            .ok_or_else(|| format!("{rdn:?} is not <type>=<value>"))?;
        let mut ty = ty.trim().to_ascii_uppercase();
        if ty == "S" {
            ty = "ST".into();
        }
        if ty.is_empty() {
            return Err(format!("{rdn:?} has an empty attribute type"));
        }
        let value = unescape(value.trim())?;
        if unique && out.iter().any(|(k, _)| *k == ty) {
            return Err(format!("attribute {ty} appears twice"));
        }
        out.push((ty, value));
    }
    if out.is_empty() {
        return Err("the distinguished name is empty".into());
    }
    Ok(out)
}

/// Splits on `sep` not preceded by a backslash escape (escapes are kept).
fn split_unescaped(s: &str, sep: char) -> Result<Vec<String>, String> {
    let mut parts = Vec::new();
    let mut cur = String::new();
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            cur.push(c);
            cur.push(
                chars
                    .next()
                    .ok_or_else(|| format!("{s:?} ends with a lone backslash"))?,
            );
        } else if c == sep {
            parts.push(std::mem::take(&mut cur));
        } else {
            cur.push(c);
        }
    }
    parts.push(cur);
    Ok(parts)
}

fn unescape(v: &str) -> Result<String, String> {
    let mut out = Vec::new();
    let bytes = v.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\\' {
            let next = *bytes.get(i + 1).ok_or("value ends with a lone backslash")?;
            let hex = bytes.get(i + 1..i + 3).and_then(|h| {
                std::str::from_utf8(h)
                    .ok()
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
            });
            if let Some(b) = hex {
                out.push(b);
                i += 3;
            } else {
                out.push(next);
                i += 2;
            }
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| "escaped value is not UTF-8".to_owned())
}

/// Whether the leaf subject `subject` (RFC 4514, as [`crate::x509::Certificate::subject`])
/// matches one of `identities`.
pub fn identity_matches(identities: &[Identity], subject: &str) -> Result<bool, String> {
    if identities.contains(&Identity::Any) {
        return Ok(true);
    }
    // A certificate subject may repeat an attribute (two OUs); each must then be allowed.
    let leaf =
        parse_dn_with(subject, false).map_err(|e| format!("signing certificate subject: {e}"))?;
    Ok(identities.iter().any(|id| match id {
        Identity::Any => true,
        Identity::Subject(attrs) => attrs.iter().all(|kv| leaf.contains(kv)),
    }))
}
