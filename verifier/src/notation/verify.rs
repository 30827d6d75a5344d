//! The verification workflow (specification "Signature Verification"): pick the trust policy
//! statement, then integrity, authenticity, expiry, authentic timestamp and revocation, each
//! enforced, logged or skipped by the statement's level and overrides, then the artifact check.
//!
//! Every check gets a [`CheckResult`]; the first *enforced* failure ends verification (later
//! checks are reported as not run). The artifact check (payload `targetArtifact` against the
//! resolved descriptor; for blobs size, digest with the key's hash and optionally media type;
//! user metadata) is outside the level table and always fails verification.
//!
//! Revocation of the signing chain uses the [`CrlStore`] given to the verifier; a certificate
//! whose revocation cannot be checked offline fails the revocation check *with that reason*,
//! and the level decides (strict: fails; permissive/audit: logged; override `revocation: skip`
//! skips it). Inside the authentic-timestamp check, a revoked TSA certificate fails the
//! timestamp; a TSA certificate whose revocation cannot be checked offline is reported in the
//! check's message but does not fail it (notation would ask the TSA's OCSP/CRL servers).

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;
use std::time::SystemTime;

use crate::x509::Certificate;

use super::envelope::{Descriptor, Envelope, Payload, SigningScheme};
use super::policy::{
    Action, Check, Identity, Level, PolicyKind, TrustPolicy, TrustPolicyDocument, VerifyTimestamp,
    identity_matches,
};
use super::revocation::CrlStore;
use super::truststore::{StoreType, TrustStore};
use super::{DigestAlgorithm, NotationError, format_rfc3339};

/// What was signed, as the caller resolved it.
#[derive(Clone, Debug)]
pub enum Artifact {
    /// An OCI artifact: its repository (`registry/namespace/repo`, selects the statement) and
    /// the descriptor the reference resolved to.
    Oci {
        /// `registry/namespace/repository`.
        repository: String,
        /// The resolved descriptor (mediaType, digest, size are compared).
        descriptor: Descriptor,
    },
    /// A blob.
    Blob(BlobTarget),
}

/// A blob as verification needs it: its size and its digests (the envelope's key decides
/// which hash counts), optionally the media type the user expects.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BlobTarget {
    /// Byte length.
    pub size: u64,
    /// `<alg>:<hex>` digests; [`BlobTarget::from_bytes`] computes SHA-256, SHA-384 and SHA-512.
    pub digests: Vec<String>,
    /// The media type the signature must name, when the user gives one.
    pub media_type: Option<String>,
}

impl BlobTarget {
    /// Computes the three SHA-2 digests of `blob`.
    pub fn from_bytes(blob: &[u8]) -> Self {
        Self {
            size: u64::try_from(blob.len()).unwrap_or(u64::MAX),
            digests: [
                DigestAlgorithm::Sha256,
                DigestAlgorithm::Sha384,
                DigestAlgorithm::Sha512,
            ]
            .into_iter()
            .map(|a| a.oci_digest(blob))
            .collect(),
            media_type: None,
        }
    }

    /// Streams the three SHA-2 digests of a file (no size limit, constant memory).
    pub fn from_file(path: &Path) -> Result<Self, NotationError> {
        use std::io::Read as _;
        let mut f = std::fs::File::open(path).map_err(|e| NotationError::io(path, &e))?;
        let mut ctx = [
            aws_lc_rs::digest::Context::new(&aws_lc_rs::digest::SHA256),
            aws_lc_rs::digest::Context::new(&aws_lc_rs::digest::SHA384),
            aws_lc_rs::digest::Context::new(&aws_lc_rs::digest::SHA512),
        ];
        let mut buf = vec![0u8; 1 << 20];
        let mut size = 0u64;
        loop {
            let n = f.read(&mut buf).map_err(|e| NotationError::io(path, &e))?;
            if n == 0 {
                break;
            }
            size += n as u64;
            for c in &mut ctx {
                c.update(&buf[..n]);
            }
        }
        let names = ["sha256", "sha384", "sha512"];
        Ok(Self {
            size,
            digests: ctx
                .into_iter()
                .zip(names)
                .map(|(c, n)| format!("{n}:{}", super::alg::hex(c.finish().as_ref())))
                .collect(),
            media_type: None,
        })
    }
}

/// One verification request.
#[derive(Clone, Debug)]
pub struct Request<'a> {
    /// The artifact.
    pub artifact: Artifact,
    /// The envelope bytes.
    pub envelope: &'a [u8],
    /// The envelope media type (`application/jose+json` or `application/cose`).
    pub media_type: &'a str,
    /// Blob only: the statement name (`--policy-name`); `None` = the global statement.
    pub policy_name: Option<&'a str>,
    /// Annotations that must be in the signed `targetArtifact.annotations`.
    pub user_metadata: BTreeMap<String, String>,
    /// The verification time ("now"; injectable for tests and forensics).
    pub at: SystemTime,
}

/// The state of one check.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Status {
    /// Ran and passed.
    Passed,
    /// Ran and failed.
    Failed,
    /// Not run: the level or an override skips it.
    Skipped,
    /// Not run: an earlier enforced failure ended verification.
    NotRun,
}

impl Status {
    /// `passed`, `failed`, `skipped`, `not run`.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Passed => "passed",
            Self::Failed => "failed",
            Self::Skipped => "skipped",
            Self::NotRun => "not run",
        }
    }
}

/// The result of one check.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CheckResult {
    /// Which check.
    pub check: Check,
    /// What the policy does with a failure.
    pub action: Action,
    /// What happened.
    pub status: Status,
    /// Details: the reason of a failure, notes on a pass.
    pub message: String,
}

impl CheckResult {
    /// A failure that was only logged.
    pub fn is_logged_failure(&self) -> bool {
        self.status == Status::Failed && self.action == Action::Log
    }
}

/// The result of a verification.
#[derive(Clone, Debug)]
pub struct Outcome {
    /// The statement used, if one applied.
    pub policy: Option<String>,
    /// Its level.
    pub level: Option<Level>,
    /// One result per check, in order ([`Check::ALL`]); empty if no statement applied.
    pub checks: Vec<CheckResult>,
    /// The artifact check's failure, if any.
    pub artifact_error: Option<String>,
    /// Why verification failed; `None` on success.
    pub failure: Option<String>,
    /// The signing certificate's subject, when the envelope could be read.
    pub signer: Option<String>,
    /// The signed payload, when the envelope could be read.
    pub payload: Option<Payload>,
}

impl Outcome {
    /// Whether the artifact passes verification at the statement's level.
    pub fn is_success(&self) -> bool {
        self.failure.is_none()
    }

    /// The result of `check`.
    pub fn check(&self, check: Check) -> Option<&CheckResult> {
        self.checks.iter().find(|c| c.check == check)
    }

    /// Multi-line text: one line per check, then the verdict.
    pub fn summary(&self) -> String {
        self.to_string()
    }

    /// The outcome as JSON for `--output json`: `verified`, `policy`, `level`, `signer`,
    /// `checks` (`check`, `status`, `action`, `message`), `artifactError`, `failure`,
    /// `targetArtifact`.
    pub fn to_json(&self) -> serde_json::Value {
        let checks: Vec<serde_json::Value> = self
            .checks
            .iter()
            .map(|c| {
                serde_json::json!({
                    "check": c.check.name(),
                    "status": c.status.name(),
                    "action": c.action.name(),
                    "message": c.message,
                })
            })
            .collect();
        serde_json::json!({
            "verified": self.is_success(),
            "policy": self.policy,
            "level": self.level.map(Level::name),
            "signer": self.signer,
            "checks": checks,
            "artifactError": self.artifact_error,
            "failure": self.failure,
            "targetArtifact": self.payload.as_ref().map(|p| &p.target_artifact),
        })
    }
}

/// Of several signatures of one artifact, notation accepts the artifact when one verifies:
/// the first successful outcome, or all outcomes when none succeeds (to report each reason).
pub fn first_success(outcomes: Vec<Outcome>) -> Result<Outcome, Vec<Outcome>> {
    let mut failed = Vec::new();
    for o in outcomes {
        if o.is_success() {
            return Ok(o);
        }
        failed.push(o);
    }
    Err(failed)
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let (Some(p), Some(l)) = (&self.policy, self.level) {
            writeln!(f, "trust policy {p:?}, level {l}")?;
        }
        for c in &self.checks {
            let mut line = format!(
                "  {:<19} {:<8} ({})",
                c.check.name(),
                c.status.name(),
                c.action.name()
            );
            if !c.message.is_empty() {
                line.push_str(": ");
                line.push_str(&c.message);
            }
            writeln!(f, "{line}")?;
        }
        if let Some(e) = &self.artifact_error {
            writeln!(f, "  artifact            failed: {e}")?;
        }
        match &self.failure {
            None if self.level == Some(Level::Skip) => write!(f, "verification skipped by policy"),
            None => write!(f, "verified"),
            Some(reason) => write!(f, "verification failed: {reason}"),
        }
    }
}

/// A verifier bound to a trust policy document, a trust store and CRLs.
#[derive(Debug)]
pub struct Verifier {
    policy: TrustPolicyDocument,
    store: TrustStore,
    crls: CrlStore,
}

impl Verifier {
    /// A verifier over a validated policy document and a trust store, without CRLs.
    pub fn new(policy: TrustPolicyDocument, store: TrustStore) -> Self {
        Self {
            policy,
            store,
            crls: CrlStore::empty(),
        }
    }

    /// notation's configuration directory: its trust policy of `kind` and its trust store.
    pub fn from_config_dir(dir: &Path, kind: PolicyKind) -> Result<Self, NotationError> {
        Ok(Self::new(
            TrustPolicyDocument::load_from_config_dir(dir, kind)?,
            TrustStore::from_config_dir(dir),
        ))
    }

    /// Uses `crls` for revocation checks.
    #[must_use]
    pub fn with_crls(mut self, crls: CrlStore) -> Self {
        self.crls = crls;
        self
    }

    /// The policy document.
    pub fn policy(&self) -> &TrustPolicyDocument {
        &self.policy
    }

    /// Verifies one signature.
    pub fn verify(&self, req: &Request<'_>) -> Outcome {
        let mut out = Outcome {
            policy: None,
            level: None,
            checks: Vec::new(),
            artifact_error: None,
            failure: None,
            signer: None,
            payload: None,
        };
        let statement = match self.select(req) {
            Ok(s) => s,
            Err(e) => {
                out.failure = Some(e.to_string());
                return out;
            }
        };
        out.policy = Some(statement.name.clone());
        out.level = Some(statement.level);
        let mut run = Run {
            statement,
            checks: Vec::new(),
            stopped: None,
        };
        if statement.level == Level::Skip {
            for check in Check::ALL {
                run.record(check, Err("level skip: signatures are not verified".into()));
            }
            out.checks = run.checks;
            return out;
        }
        let envelope = match Envelope::parse_media_type(req.media_type, req.envelope)
            .and_then(|env| env.verify_integrity().map(|payload| (env, payload)))
        {
            Ok((env, payload)) => {
                run.record(Check::Integrity, Ok(String::new()));
                out.signer = Some(env.signing_certificate().subject());
                out.payload = Some(payload.clone());
                Some((env, payload))
            }
            Err(e) => {
                run.record(Check::Integrity, Err(e.to_string()));
                None
            }
        };
        if let Some((env, payload)) = &envelope {
            self.run_checks(&mut run, env, req.at);
            if run.stopped.is_none()
                && let Err(e) = check_artifact(req, env, payload)
            {
                out.artifact_error = Some(e.clone());
                run.stopped = Some(e);
            }
        }
        out.failure = run.stopped.clone();
        out.checks = run.finish();
        out
    }

    fn select(&self, req: &Request<'_>) -> Result<&TrustPolicy, NotationError> {
        match (&req.artifact, self.policy.kind) {
            (Artifact::Oci { repository, .. }, PolicyKind::Oci) => {
                self.policy.select_oci(repository)
            }
            (Artifact::Blob(_), PolicyKind::Blob) => self.policy.select_blob(req.policy_name),
            (Artifact::Oci { .. }, PolicyKind::Blob) => Err(NotationError::policy(
                "a blob trust policy cannot verify an OCI artifact; use trustpolicy.oci.json"
                    .to_owned(),
            )),
            (Artifact::Blob(_), PolicyKind::Oci) => Err(NotationError::policy(
                "an OCI trust policy cannot verify a blob; use trustpolicy.blob.json".to_owned(),
            )),
        }
    }

    fn run_checks(&self, run: &mut Run<'_>, env: &Envelope, at: SystemTime) {
        let statement = run.statement;
        if run.wants(Check::Authenticity) {
            let r = self.authenticity(statement, env);
            run.record(Check::Authenticity, r);
        }
        if run.wants(Check::Expiry) {
            let r = match env.attributes.expiry {
                Some(expiry) if at >= expiry => Err(format!(
                    "the signature expired at {} (verification time {})",
                    format_rfc3339(expiry),
                    format_rfc3339(at)
                )),
                Some(expiry) => Ok(format!("expires at {}", format_rfc3339(expiry))),
                None => Ok("no expiry set".into()),
            };
            run.record(Check::Expiry, r);
        }
        if run.wants(Check::AuthenticTimestamp) {
            let r = self.authentic_timestamp(statement, env, at);
            run.record(Check::AuthenticTimestamp, r);
        }
        if run.wants(Check::Revocation) {
            let status = self.crls.check_chain(&env.certificates, at);
            let r = if let Some((subject, when)) = status.revoked() {
                Err(format!(
                    "certificate {subject} was revoked at {}",
                    format_rfc3339(when)
                ))
            } else if status.unknown().is_empty() {
                Ok(String::new())
            } else {
                Err(format!(
                    "revocation could not be checked: {}",
                    status.unknown().join("; ")
                ))
            };
            run.record(Check::Revocation, r);
        }
    }

    fn load_stores(
        &self,
        statement: &TrustPolicy,
        store_type: StoreType,
    ) -> Result<Vec<Certificate>, String> {
        let mut certs = Vec::new();
        for name in statement.stores_of(store_type) {
            certs.extend(
                self.store
                    .load(store_type, name)
                    .map_err(|e| e.to_string())?,
            );
        }
        Ok(certs)
    }

    fn authenticity(&self, statement: &TrustPolicy, env: &Envelope) -> Result<String, String> {
        let store_type = match env.attributes.scheme {
            SigningScheme::X509 => StoreType::Ca,
            SigningScheme::X509SigningAuthority => StoreType::SigningAuthority,
        };
        if statement.stores_of(store_type).next().is_none() {
            return Err(format!(
                "signing scheme {} needs a {store_type} trust store, and statement {:?} lists \
                 none",
                env.attributes.scheme.name(),
                statement.name
            ));
        }
        let anchors = self.load_stores(statement, store_type)?;
        let trusted = env.certificates.iter().find(|c| anchors.contains(c));
        let Some(anchor) = trusted else {
            return Err(format!(
                "no certificate of the signature's chain is in the {store_type} trust stores \
                 {:?}: the signature was made under a root you do not trust",
                statement.stores_of(store_type).collect::<Vec<_>>()
            ));
        };
        let leaf = env.signing_certificate().subject();
        match identity_matches(&statement.trusted_identities, &leaf) {
            Ok(true) => Ok(format!("trusted via {}; signer {leaf}", anchor.subject())),
            Ok(false) => Err(format!(
                "signing certificate {leaf} matches none of the trusted identities {}",
                describe_identities(&statement.trusted_identities)
            )),
            Err(e) => Err(e),
        }
    }

    fn authentic_timestamp(
        &self,
        statement: &TrustPolicy,
        env: &Envelope,
        at: SystemTime,
    ) -> Result<String, String> {
        let chain = &env.certificates;
        if env.attributes.scheme == SigningScheme::X509SigningAuthority {
            let t = env
                .attributes
                .authentic_signing_time
                .ok_or("the authentic signing time is missing")?;
            return within_validity(chain, t, t, "the authentic signing time")
                .map(|()| format!("authentic signing time {}", format_rfc3339(t)));
        }
        let has_tsa = statement.stores_of(StoreType::Tsa).next().is_some();
        let expired = chain.iter().any(|c| at > c.not_after());
        let check_token =
            has_tsa && (statement.verify_timestamp == VerifyTimestamp::Always || expired);
        if !check_token {
            return within_validity(chain, at, at, "the verification time")
                .map(|()| "no timestamp verification required; the chain is valid now".to_owned());
        }
        let token = env
            .timestamp_token
            .as_deref()
            .ok_or("no timestamp countersignature was found in the signature envelope")?;
        let roots = self.load_stores(statement, StoreType::Tsa)?;
        let ts =
            super::timestamp::verify(token, &env.signature, &roots).map_err(|e| e.to_string())?;
        let tsa_status = self.crls.check_chain(&ts.chain, ts.gen_time);
        if let Some((subject, when)) = tsa_status.revoked() {
            return Err(format!(
                "TSA certificate {subject} was revoked at {}",
                format_rfc3339(when)
            ));
        }
        within_validity(chain, ts.earliest(), ts.latest(), "the timestamp")?;
        let mut msg = format!(
            "timestamp {} by {}",
            format_rfc3339(ts.gen_time),
            ts.chain[0].subject()
        );
        let unknown = tsa_status.unknown();
        if !unknown.is_empty() {
            msg.push_str(&format!(
                "; TSA certificate revocation not checked offline ({})",
                unknown.join("; ")
            ));
        }
        Ok(msg)
    }
}

fn describe_identities(ids: &[Identity]) -> String {
    let items: Vec<String> = ids
        .iter()
        .map(|i| match i {
            Identity::Any => "*".to_owned(),
            Identity::Subject(attrs) => format!(
                "x509.subject: {}",
                attrs
                    .iter()
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        })
        .collect();
    format!("[{}]", items.join("; "))
}

/// Every certificate valid over [earliest, latest].
fn within_validity(
    chain: &[Certificate],
    earliest: SystemTime,
    latest: SystemTime,
    what: &str,
) -> Result<(), String> {
    for c in chain {
        if earliest < c.not_before() {
            return Err(format!(
                "{what} {} is before certificate {} becomes valid ({}); the timestamp can be \
                 before the certificate's validity period",
                format_rfc3339(earliest),
                c.subject(),
                format_rfc3339(c.not_before())
            ));
        }
        if latest > c.not_after() {
            return Err(format!(
                "{what} {} is after certificate {} expired ({}); renew the certificate or \
                 timestamp signatures (tsa trust store) so they outlive it",
                format_rfc3339(latest),
                c.subject(),
                format_rfc3339(c.not_after())
            ));
        }
    }
    Ok(())
}

fn check_artifact(req: &Request<'_>, env: &Envelope, payload: &Payload) -> Result<(), String> {
    let target = &payload.target_artifact;
    match &req.artifact {
        Artifact::Oci { descriptor, .. } => {
            if !target.same_target(descriptor) {
                return Err(format!(
                    "the signature is for {} {} ({} bytes), not for the artifact {} {} ({} bytes)",
                    target.media_type,
                    target.digest,
                    target.size,
                    descriptor.media_type,
                    descriptor.digest,
                    descriptor.size
                ));
            }
        }
        Artifact::Blob(blob) => {
            let hash = env.algorithm.hash();
            if blob.size != target.size {
                return Err(format!(
                    "integrity check failed: signature does not match the given blob (size {} \
                     vs signed {})",
                    blob.size, target.size
                ));
            }
            let prefix = format!("{}:", hash.name());
            let ours = blob.digests.iter().find(|d| d.starts_with(&prefix));
            match ours {
                Some(d) if *d == target.digest => {}
                Some(_) => {
                    return Err(
                        "integrity check failed: signature does not match the given blob \
                         (digest differs)"
                            .into(),
                    );
                }
                None => {
                    return Err(format!(
                        "no {} digest of the blob was given; the signing key requires it",
                        hash.name()
                    ));
                }
            }
            if let Some(mt) = &blob.media_type
                && *mt != target.media_type
            {
                return Err(format!(
                    "the signature is for media type {:?}, not {mt:?}",
                    target.media_type
                ));
            }
        }
    }
    for (k, v) in &req.user_metadata {
        if target.annotations.get(k) != Some(v) {
            return Err(format!(
                "user metadata {k}={v} is not in the signed annotations {:?}",
                target.annotations
            ));
        }
    }
    Ok(())
}

/// The running state of one verification.
struct Run<'p> {
    statement: &'p TrustPolicy,
    checks: Vec<CheckResult>,
    stopped: Option<String>,
}

impl Run<'_> {
    fn wants(&mut self, check: Check) -> bool {
        let action = self.statement.action(check);
        if self.stopped.is_some() {
            return false;
        }
        if action == Action::Skip {
            self.checks.push(CheckResult {
                check,
                action,
                status: Status::Skipped,
                message: String::new(),
            });
            return false;
        }
        true
    }

    fn record(&mut self, check: Check, result: Result<String, String>) {
        let action = self.statement.action(check);
        let (status, message) = match (action, result) {
            (Action::Skip, r) => (Status::Skipped, r.err().unwrap_or_default()),
            (_, Ok(m)) => (Status::Passed, m),
            (_, Err(m)) => (Status::Failed, m),
        };
        if status == Status::Failed && action == Action::Enforce && self.stopped.is_none() {
            self.stopped = Some(format!("{check}: {message}"));
        }
        self.checks.push(CheckResult {
            check,
            action,
            status,
            message,
        });
    }

    fn finish(mut self) -> Vec<CheckResult> {
        for check in Check::ALL {
            if !self.checks.iter().any(|c| c.check == check) {
                self.checks.push(CheckResult {
                    check,
                    action: self.statement.action(check),
                    status: Status::NotRun,
                    message: String::new(),
                });
            }
        }
        self.checks
            .sort_by_key(|c| Check::ALL.iter().position(|x| *x == c.check));
        self.checks
    }
}
