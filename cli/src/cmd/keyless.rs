//! Keyless (Sigstore) verification flags shared by the verify commands: the identity policy
//! (cosign's `--certificate-identity[-regexp]`, `--certificate-oidc-issuer[-regexp]`,
//! `--certificate-github-workflow-*`) and the trust root (`--trusted-root`, `--staging`).
//!
//! Flatten [`KeylessArgs`] into a command's args, then [`KeylessArgs::trust`] gives the
//! `Trust` for `tollgate_verifier::sigstore::verify`, and [`proof_json`] / [`describe`] render
//! the result the same way everywhere.

use std::path::PathBuf;
use std::time::SystemTime;

use anyhow::Context;
use clap::Args;
use serde_json::{Value, json};
use tollgate_verifier::keys::PublicKey;
use tollgate_verifier::sigstore::{
    GithubWorkflow, IdentityPolicy, Matcher, Signer, Trust, TrustRoot, Verified,
};

/// The flags that ask for keyless verification: a command's `--key` conflicts with them and is
/// required unless one is given.
pub(crate) const KEYLESS_FLAGS: [&str; 9] = [
    "certificate_identity",
    "certificate_identity_regexp",
    "certificate_oidc_issuer",
    "certificate_oidc_issuer_regexp",
    "certificate_github_workflow_trigger",
    "certificate_github_workflow_sha",
    "certificate_github_workflow_name",
    "certificate_github_workflow_repository",
    "certificate_github_workflow_ref",
];

/// Who must have signed, in words: `key sha256:…` or `identity SAN (issuer URL)`.
pub(crate) fn expected_signer(trust: &Trust) -> String {
    match trust {
        Trust::Key { key, .. } => format!("key {}", key.fingerprint()),
        Trust::Keyless { policy, .. } => format!(
            "identity {} (issuer {})",
            policy.identity(),
            policy.issuer()
        ),
        _ => "an unknown signer".to_owned(),
    }
}

/// Keyless identity policy and Sigstore trust root.
#[derive(Clone, Debug, Default, Args)]
pub(crate) struct KeylessArgs {
    /// Keyless: the certificate identity (SAN) that must have signed, e.g. a GitHub workflow
    /// URI `https://github.com/OWNER/REPO/.github/workflows/release.yml@refs/heads/main` or an
    /// email address. Exact match.
    #[arg(long, value_name = "SAN", help_heading = "Keyless (Sigstore)")]
    pub(crate) certificate_identity: Option<String>,
    /// Keyless: a regular expression (RE2 syntax) the identity must match. Unanchored, as in
    /// cosign: write ^...$ to match the whole identity.
    #[arg(
        long,
        value_name = "REGEXP",
        conflicts_with = "certificate_identity",
        help_heading = "Keyless (Sigstore)"
    )]
    pub(crate) certificate_identity_regexp: Option<String>,
    /// Keyless: the OIDC issuer that must have authenticated the signer, e.g.
    /// `https://token.actions.githubusercontent.com`. Exact match.
    #[arg(long, value_name = "URL", help_heading = "Keyless (Sigstore)")]
    pub(crate) certificate_oidc_issuer: Option<String>,
    /// Keyless: a regular expression the OIDC issuer must match (unanchored, as in cosign).
    #[arg(
        long,
        value_name = "REGEXP",
        conflicts_with = "certificate_oidc_issuer",
        help_heading = "Keyless (Sigstore)"
    )]
    pub(crate) certificate_oidc_issuer_regexp: Option<String>,
    /// Keyless: the GitHub workflow trigger (event), e.g. push (extension 1.3.6.1.4.1.57264.1.2).
    #[arg(long, value_name = "EVENT", help_heading = "Keyless (Sigstore)")]
    pub(crate) certificate_github_workflow_trigger: Option<String>,
    /// Keyless: the commit SHA the workflow ran on (1.3.6.1.4.1.57264.1.3).
    #[arg(long, value_name = "SHA", help_heading = "Keyless (Sigstore)")]
    pub(crate) certificate_github_workflow_sha: Option<String>,
    /// Keyless: the workflow name (1.3.6.1.4.1.57264.1.4).
    #[arg(long, value_name = "NAME", help_heading = "Keyless (Sigstore)")]
    pub(crate) certificate_github_workflow_name: Option<String>,
    /// Keyless: the repository, as OWNER/REPO (1.3.6.1.4.1.57264.1.5).
    #[arg(long, value_name = "OWNER/REPO", help_heading = "Keyless (Sigstore)")]
    pub(crate) certificate_github_workflow_repository: Option<String>,
    /// Keyless: the git ref, e.g. refs/heads/main or refs/tags/v1.0 (1.3.6.1.4.1.57264.1.6).
    #[arg(long, value_name = "REF", help_heading = "Keyless (Sigstore)")]
    pub(crate) certificate_github_workflow_ref: Option<String>,
    /// Sigstore trusted_root.json to verify against (Fulcio CAs, Rekor and CT logs, TSAs);
    /// default: the public-good production root built into tollgate. Offline; never falls back.
    #[arg(long, value_name = "FILE", help_heading = "Keyless (Sigstore)")]
    pub(crate) trusted_root: Option<PathBuf>,
    /// Use the built-in public-good staging root instead of production.
    #[arg(
        long,
        conflicts_with = "trusted_root",
        help_heading = "Keyless (Sigstore)"
    )]
    pub(crate) staging: bool,
    /// Online: fetch the current public-good root (or staging's, with --staging) from
    /// Sigstore's TUF repository before verifying, instead of the built-in copy. Fails rather
    /// than falling back.
    #[arg(
        long,
        conflicts_with = "trusted_root",
        help_heading = "Keyless (Sigstore)"
    )]
    pub(crate) tuf_refresh: bool,
}

impl KeylessArgs {
    fn github(&self) -> Option<GithubWorkflow> {
        let github = GithubWorkflow {
            trigger: self.certificate_github_workflow_trigger.clone(),
            sha: self.certificate_github_workflow_sha.clone(),
            name: self.certificate_github_workflow_name.clone(),
            repository: self.certificate_github_workflow_repository.clone(),
            git_ref: self.certificate_github_workflow_ref.clone(),
        };
        (github != GithubWorkflow::default()).then_some(github)
    }

    /// The identity policy; identity and issuer are both required (as in cosign).
    pub(crate) fn policy(&self) -> anyhow::Result<IdentityPolicy> {
        let identity = match (
            &self.certificate_identity,
            &self.certificate_identity_regexp,
        ) {
            (Some(exact), _) => Matcher::exact(exact),
            (None, Some(re)) => Matcher::regexp(re).context("--certificate-identity-regexp")?,
            (None, None) => anyhow::bail!(
                "keyless verification needs --certificate-identity or --certificate-identity-regexp (who must have signed)"
            ),
        };
        let issuer = match (
            &self.certificate_oidc_issuer,
            &self.certificate_oidc_issuer_regexp,
        ) {
            (Some(exact), _) => Matcher::exact(exact),
            (None, Some(re)) => Matcher::regexp(re).context("--certificate-oidc-issuer-regexp")?,
            (None, None) => anyhow::bail!(
                "keyless verification needs --certificate-oidc-issuer or --certificate-oidc-issuer-regexp (e.g. https://token.actions.githubusercontent.com)"
            ),
        };
        Ok(IdentityPolicy::new(identity, issuer).with_github(self.github().unwrap_or_default()))
    }

    /// The trust root: --trusted-root FILE, --tuf-refresh, --staging, or the embedded
    /// production root.
    pub(crate) fn trust_root(&self) -> anyhow::Result<TrustRoot> {
        Ok(match (&self.trusted_root, self.staging) {
            (Some(path), _) => TrustRoot::from_file(path)?,
            (None, staging) if self.tuf_refresh => TrustRoot::refresh_from_tuf(staging)?,
            (None, true) => TrustRoot::staging()?,
            (None, false) => TrustRoot::production()?,
        })
    }

    /// `Trust::Key` when `key` is given, else the keyless policy.
    pub(crate) fn trust(&self, key: Option<PublicKey>) -> anyhow::Result<Trust> {
        let root = self.trust_root()?;
        Ok(match key {
            Some(key) => Trust::Key { key, root },
            None => Trust::Keyless {
                policy: self.policy()?,
                root,
            },
        })
    }
}

fn rfc3339(t: SystemTime) -> String {
    humantime::format_rfc3339_seconds(t).to_string()
}

/// Who signed, for people: `https://…` (issuer …) or `key sha256:…`.
pub(crate) fn describe(verified: &Verified) -> String {
    let mut text = match verified.signer() {
        Signer::Key(fingerprint) => format!("key {fingerprint}"),
        Signer::Certificate(id) => format!("{} (issuer {})", id.san, id.issuer),
        _ => "an unknown signer".to_owned(),
    };
    if let Some(index) = verified.log_index() {
        text.push_str(&format!(", transparency log index {index}"));
    }
    if let Some(t) = verified.integrated_time() {
        text.push_str(&format!(", integrated {}", rfc3339(t)));
    } else if let Some(t) = verified.signed_times().first() {
        text.push_str(&format!(", timestamped {}", rfc3339(*t)));
    }
    text
}

/// The verified facts as JSON fields: signer, identity, issuer, claims, log index, times.
pub(crate) fn proof_json(verified: &Verified, trust: &Trust) -> Value {
    let (signer, identity, issuer, claims) = match verified.signer() {
        Signer::Key(fingerprint) => (format!("key {fingerprint}"), None, None, json!({})),
        Signer::Certificate(id) => (
            id.san.clone(),
            Some(id.san.clone()),
            Some(id.issuer.clone()),
            Value::Object(
                id.claims
                    .iter()
                    .map(|(k, v)| ((*k).to_owned(), json!(v)))
                    .collect(),
            ),
        ),
        _ => (String::new(), None, None, json!({})),
    };
    json!({
        "signer": signer,
        "identity": identity,
        "issuer": issuer,
        "claims": claims,
        "log_index": verified.log_index(),
        "log_entry_kind": verified.log_kind(),
        "integrated_time": verified.integrated_time().map(rfc3339),
        "signed_times": verified.signed_times().iter().map(|t| rfc3339(*t)).collect::<Vec<_>>(),
        "bundle_media_type": verified.media_type(),
        "trusted_root": trust.root().source().to_string(),
    })
}
