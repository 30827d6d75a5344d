//! Who must have signed: the keyless identity policy (cosign's `--certificate-identity[-regexp]`,
//! `--certificate-oidc-issuer[-regexp]` and `--certificate-github-workflow-*`), checked by
//! tollgate on the certificate sigstore-verify has verified.
//!
//! Regular expressions follow cosign 2.5.0 exactly: RE2 syntax (the `regex` crate's is the same
//! for everything but back-references, which neither supports) matched **unanchored** — cosign
//! calls Go's `regexp.MatchString`, which finds the pattern anywhere in the value. A pattern
//! `https://github.com/org/` therefore also accepts `https://evil.example/https://github.com/org/`;
//! write `^…$` to pin the whole value.
//!
//! The GitHub workflow claims are the legacy Fulcio extensions cosign compares,
//! `1.3.6.1.4.1.57264.1.2` to `.6`, matched exactly.

use std::fmt;

use regex::Regex;
use sigstore_verify::crypto::CertificateInfo;

use super::SigstoreError;

/// The longest regular expression accepted (bounds the compiled program).
const MAX_PATTERN_LEN: usize = 4096;

/// How one certificate value must look.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum Matcher {
    /// Equal to this string.
    Exact(String),
    /// Contains a match of this RE2 regular expression (unanchored, like cosign).
    Regexp(Regex),
}

/// A regular expression that does not compile.
#[derive(Debug, thiserror::Error)]
#[error("invalid regular expression {pattern:?}: {detail}")]
pub struct PatternError {
    pattern: String,
    detail: String,
}

impl Matcher {
    /// An exact value.
    pub fn exact(value: impl Into<String>) -> Self {
        Self::Exact(value.into())
    }

    /// An RE2 pattern, matched unanchored (see the module docs).
    pub fn regexp(pattern: &str) -> Result<Self, PatternError> {
        let error = |detail: String| PatternError {
            pattern: pattern.to_owned(),
            detail,
        };
        if pattern.len() > MAX_PATTERN_LEN {
            return Err(error(format!("longer than {MAX_PATTERN_LEN} bytes")));
        }
        regex::RegexBuilder::new(pattern)
            .size_limit(1 << 20)
            .build()
            .map(Self::Regexp)
            .map_err(|e| error(e.to_string()))
    }

    /// Whether `value` satisfies this matcher.
    pub fn matches(&self, value: &str) -> bool {
        match self {
            Self::Exact(expected) => value == expected,
            Self::Regexp(re) => re.is_match(value),
        }
    }
}

impl fmt::Display for Matcher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Exact(value) => f.write_str(value),
            Self::Regexp(re) => write!(f, "matching /{}/", re.as_str()),
        }
    }
}

/// Expected GitHub Actions claims (cosign's `--certificate-github-workflow-*`); `None` = any.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct GithubWorkflow {
    /// `1.3.6.1.4.1.57264.1.2`, the triggering event, e.g. `push`.
    pub trigger: Option<String>,
    /// `1.3.6.1.4.1.57264.1.3`, the commit SHA.
    pub sha: Option<String>,
    /// `1.3.6.1.4.1.57264.1.4`, the workflow name.
    pub name: Option<String>,
    /// `1.3.6.1.4.1.57264.1.5`, the repository as `owner/name`.
    pub repository: Option<String>,
    /// `1.3.6.1.4.1.57264.1.6`, the git ref, e.g. `refs/heads/main`.
    pub git_ref: Option<String>,
}

/// The signer a keyless bundle must come from. Identity and issuer are both required (as in
/// cosign): there is no "any signer" policy.
#[derive(Clone, Debug)]
pub struct IdentityPolicy {
    identity: Matcher,
    issuer: Matcher,
    github: GithubWorkflow,
}

impl IdentityPolicy {
    /// The certificate SAN must match `identity` and its OIDC issuer `issuer`.
    pub fn new(identity: Matcher, issuer: Matcher) -> Self {
        Self {
            identity,
            issuer,
            github: GithubWorkflow::default(),
        }
    }

    /// Also require these GitHub workflow claims.
    pub fn with_github(mut self, github: GithubWorkflow) -> Self {
        self.github = github;
        self
    }

    /// The identity matcher.
    pub fn identity(&self) -> &Matcher {
        &self.identity
    }

    /// The issuer matcher.
    pub fn issuer(&self) -> &Matcher {
        &self.issuer
    }

    /// Checks a verified certificate against the policy.
    pub(super) fn check(&self, cert: &CertificateInfo) -> Result<(), SigstoreError> {
        let san = cert.identity.as_ref().map(|s| s.as_str());
        if !san.is_some_and(|san| self.identity.matches(san)) {
            return Err(SigstoreError::Identity {
                expected: self.identity.to_string(),
                actual: san.unwrap_or("none").to_owned(),
            });
        }
        let issuer = cert.issuer.as_deref();
        if !issuer.is_some_and(|issuer| self.issuer.matches(issuer)) {
            return Err(SigstoreError::Issuer {
                expected: self.issuer.to_string(),
                actual: issuer.unwrap_or("none").to_owned(),
            });
        }
        let claims = &cert.ci_claims.deprecated_github;
        let checks = [
            (
                "trigger",
                "1.3.6.1.4.1.57264.1.2",
                &self.github.trigger,
                &claims.workflow_trigger,
            ),
            (
                "sha",
                "1.3.6.1.4.1.57264.1.3",
                &self.github.sha,
                &claims.workflow_sha,
            ),
            (
                "name",
                "1.3.6.1.4.1.57264.1.4",
                &self.github.name,
                &claims.workflow_name,
            ),
            (
                "repository",
                "1.3.6.1.4.1.57264.1.5",
                &self.github.repository,
                &claims.workflow_repository,
            ),
            (
                "ref",
                "1.3.6.1.4.1.57264.1.6",
                &self.github.git_ref,
                &claims.workflow_ref,
            ),
        ];
        for (claim, oid, expected, actual) in checks {
            if let Some(expected) = expected
                && actual.as_deref() != Some(expected.as_str())
            {
                return Err(SigstoreError::GithubClaim {
                    claim,
                    oid,
                    expected: expected.clone(),
                    actual: actual.clone().unwrap_or_else(|| "absent".into()),
                });
            }
        }
        Ok(())
    }
}
