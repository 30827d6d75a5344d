//! Unit tests: every sigstore-conformance vector in `testdata/sigstore-conformance` with the
//! error *kind* each `_fail` case is meant to trigger (several would also fail for an earlier,
//! unrelated reason; see the vectors' README), and the identity policy.

use std::path::{Path, PathBuf};

use super::*;

const IDENTITY: &str = "https://github.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon/.github/workflows/extremely-dangerous-oidc-beacon.yml@refs/heads/main";
const ISSUER: &str = "https://token.actions.githubusercontent.com";

fn vectors() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../testdata/sigstore-conformance")
}

/// One conformance case: its bundle, artifact, trust root and expected identity.
struct Case {
    dir: PathBuf,
}

impl Case {
    fn new(name: &str) -> Self {
        Self {
            dir: vectors().join("bundle-verify").join(name),
        }
    }

    fn bundle(&self) -> Result<SigstoreBundle, SigstoreError> {
        SigstoreBundle::from_json(&std::fs::read(self.dir.join("bundle.sigstore.json")).unwrap())
    }

    fn artifact(&self) -> PathBuf {
        let own = self.dir.join("artifact");
        if own.exists() {
            own
        } else {
            vectors().join("bundle-verify/a.txt")
        }
    }

    fn root(&self) -> TrustRoot {
        let own = self.dir.join("trusted_root.json");
        if own.exists() {
            TrustRoot::from_file(&own).unwrap()
        } else {
            TrustRoot::production().unwrap()
        }
    }

    fn read(&self, file: &str, default: &str) -> String {
        std::fs::read_to_string(self.dir.join(file))
            .map(|s| s.trim().to_owned())
            .unwrap_or_else(|_| default.to_owned())
    }

    fn trust(&self) -> Trust {
        let key = self.dir.join("key.pub");
        if key.exists() {
            return Trust::Key {
                key: PublicKey::from_bytes(&std::fs::read(key).unwrap()).unwrap(),
                root: self.root(),
            };
        }
        self.keyless(IdentityPolicy::new(
            Matcher::exact(self.read("identity", IDENTITY)),
            Matcher::exact(self.read("issuer", ISSUER)),
        ))
    }

    fn keyless(&self, policy: IdentityPolicy) -> Trust {
        Trust::Keyless {
            policy,
            root: self.root(),
        }
    }

    /// Verifies by path and by digest; both must agree.
    fn verify_with(&self, trust: &Trust) -> Result<Verified, SigstoreError> {
        let bundle = self.bundle()?;
        let artifact = self.artifact();
        let by_path = verify(&bundle, Artifact::File(&artifact), trust);
        let digest = Digest::sha256(&std::fs::read(&artifact).unwrap());
        let by_digest = verify(&bundle, Artifact::Sha256(&digest), trust);
        assert_eq!(
            by_path.as_ref().map_err(SigstoreError::kind).err(),
            by_digest.as_ref().map_err(SigstoreError::kind).err(),
            "{}: PATH and DIGEST disagree",
            self.dir.display()
        );
        by_path
    }

    fn verify(&self) -> Result<Verified, SigstoreError> {
        self.verify_with(&self.trust())
    }
}

/// Every `_fail` case in the vectors and the check meant to reject it.
const FAIL_CASES: &[(&str, ErrorKind)] = &[
    (
        "bundle-empty-certificate-chain_fail",
        ErrorKind::NoCertificate,
    ),
    ("bundle-invalid-base64-signature_fail", ErrorKind::Malformed),
    ("bundle-negative-log-index_fail", ErrorKind::Malformed),
    // Would also fail on its v0.1 inclusion proof without checkpoint; tollgate refuses the
    // root first, and `bundle_supplied_roots_are_never_anchors` shows that check alone.
    ("bundle-with-root-cert_fail", ErrorKind::CertificateChain),
    ("checkpoint-bad-keyhint_fail", ErrorKind::Checkpoint),
    ("dsse-invalid-sig_fail", ErrorKind::Signature),
    ("dsse-mismatch-sig_fail", ErrorKind::LogEntryMismatch),
    (
        "inclusion-proof-corrupted-hash_fail",
        ErrorKind::InclusionProof,
    ),
    (
        "integrated-time-in-future_fail",
        ErrorKind::CertificateValidity,
    ),
    // The entry's envelope signature is not in intoto/0.0.2's double-base64 form: it cannot
    // be this envelope's signature (sigstore-verify: MalformedEntry).
    (
        "intoto-log-entry-mismatch_fail",
        ErrorKind::LogEntryMismatch,
    ),
    (
        "intoto-set-outside-signing-cert-validity_fail",
        ErrorKind::CertificateValidity,
    ),
    ("invalid-ct-key_fail", ErrorKind::Sct),
    ("managed-key-no-key_fail", ErrorKind::NoCertificate),
    ("message-digest-mismatch_fail", ErrorKind::ArtifactMismatch),
    (
        "rekor2-checkpoint-missing-log-signature_fail",
        ErrorKind::Checkpoint,
    ),
    (
        "rekor2-checkpoint-missing-root-hash_fail",
        ErrorKind::Checkpoint,
    ),
    ("rekor2-dsse-invalid-sig_fail", ErrorKind::Signature),
    ("rekor2-dsse-mismatch-sig_fail", ErrorKind::LogEntryMismatch),
    ("rekor2-no-inclusion-proof_fail", ErrorKind::Malformed),
    (
        "rekor2-timestamp-outside-trust-root-tsa-validity_fail",
        ErrorKind::TimestampAuthorityValidity,
    ),
    (
        "rekor2-timestamp-payload-mismatch_fail",
        ErrorKind::Timestamp,
    ),
    (
        "rekor2-timestamp-untrusted-tsa-without-embedded-cert_fail",
        ErrorKind::Timestamp,
    ),
    ("signature-mismatch_fail", ErrorKind::Signature),
    (
        "wrong-hashedrekord-artifact_fail",
        ErrorKind::LogEntryMismatch,
    ),
    ("wrong-hashedrekord-entry_fail", ErrorKind::LogEntryMismatch),
];

fn case_names() -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(vectors().join("bundle-verify"))
        .unwrap()
        .map(|e| e.unwrap())
        .filter(|e| e.file_type().unwrap().is_dir())
        .map(|e| e.file_name().into_string().unwrap())
        .collect();
    names.sort();
    names
}

#[test]
fn every_case_gives_the_expected_outcome_and_error_kind() {
    let names = case_names();
    assert_eq!(names.len(), 35, "the vectors hold 35 cases");
    let mut wrong = Vec::new();
    for name in &names {
        let result = Case::new(name).verify();
        let expected = FAIL_CASES.iter().find(|(n, _)| n == name).map(|(_, k)| *k);
        let actual = result.as_ref().err().map(SigstoreError::kind);
        if actual != expected {
            wrong.push(format!(
                "{name}: expected {expected:?}, got {actual:?} ({result:?})"
            ));
        }
        assert_eq!(
            name.ends_with("_fail"),
            expected.is_some(),
            "{name} missing from FAIL_CASES"
        );
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

/// `bundle-with-root-cert_fail` without its checkpoint-less inclusion proof (a v0.1 bundle may
/// carry the SET alone) and with the certificate's own identity: only the root certificate
/// in the bundle's chain rejects it. Without the root, the same bundle verifies.
#[test]
fn bundle_supplied_roots_are_never_anchors() {
    let case = Case::new("bundle-with-root-cert_fail");
    let mut json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(case.dir.join("bundle.sigstore.json")).unwrap())
            .unwrap();
    let entry = &mut json["verificationMaterial"]["tlogEntries"][0];
    assert!(entry["inclusionPromise"].is_object());
    entry.as_object_mut().unwrap().remove("inclusionProof");
    let bundle = SigstoreBundle::from_json(&serde_json::to_vec(&json).unwrap()).unwrap();
    let artifact = case.artifact();
    let trust = case.keyless(IdentityPolicy::new(
        Matcher::exact("a@tny.town"),
        Matcher::regexp(".").unwrap(),
    ));
    let err = verify(&bundle, Artifact::File(&artifact), &trust).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::CertificateChain, "{err}");
    assert!(err.to_string().contains("root certificate"), "{err}");

    let certs = json["verificationMaterial"]["x509CertificateChain"]["certificates"]
        .as_array_mut()
        .unwrap();
    certs.truncate(1);
    let bundle = SigstoreBundle::from_json(&serde_json::to_vec(&json).unwrap()).unwrap();
    let verified = verify(&bundle, Artifact::File(&artifact), &trust).unwrap();
    assert_eq!(verified.identity().unwrap().san, "a@tny.town");
}

fn happy() -> Case {
    Case::new("happy-path-v0.3")
}

fn keyless_kind(identity: Matcher, issuer: Matcher, github: GithubWorkflow) -> Option<ErrorKind> {
    let case = happy();
    let trust = case.keyless(IdentityPolicy::new(identity, issuer).with_github(github));
    case.verify_with(&trust).err().map(|e| e.kind())
}

#[test]
fn verified_proof_carries_identity_issuer_log_index_and_time() {
    let verified = happy().verify().unwrap();
    let id = verified.identity().unwrap();
    assert_eq!(id.san, IDENTITY);
    assert_eq!(id.issuer, ISSUER);
    assert!(verified.log_index().is_some());
    assert_eq!(verified.log_kind(), Some("hashedrekord/0.0.1"));
    let integrated = verified.integrated_time().unwrap();
    assert!(verified.signed_times().contains(&integrated));
    assert_eq!(
        verified.sha256().unwrap(),
        &Digest::sha256(&std::fs::read(happy().artifact()).unwrap())
    );
    eprintln!("{verified:?}");
}

#[test]
fn wrong_identity_or_issuer_is_rejected_with_the_reason() {
    let ok = |s: &str| Matcher::exact(s);
    let none = GithubWorkflow::default();
    assert_eq!(keyless_kind(ok(IDENTITY), ok(ISSUER), none.clone()), None);
    let other = IDENTITY.replace("refs/heads/main", "refs/heads/evil");
    assert_eq!(
        keyless_kind(ok(&other), ok(ISSUER), none.clone()),
        Some(ErrorKind::Identity)
    );
    assert_eq!(
        keyless_kind(ok(IDENTITY), ok("https://accounts.google.com"), none),
        Some(ErrorKind::Issuer)
    );
    let case = happy();
    let trust = case.keyless(IdentityPolicy::new(ok(&other), ok(ISSUER)));
    let message = case.verify_with(&trust).unwrap_err().to_string();
    assert!(
        message.contains(&other) && message.contains(IDENTITY),
        "{message}"
    );
}

/// cosign's regexps are unanchored (Go `MatchString`); `^…$` pins the whole value.
#[test]
fn regexps_match_unanchored_like_cosign() {
    let re = |s: &str| Matcher::regexp(s).unwrap();
    let issuer = || Matcher::exact(ISSUER);
    let none = GithubWorkflow::default;
    for (pattern, accepted) in [
        ("extremely-dangerous-public-oidc-beacon", true),
        ("^https://github\\.com/sigstore-conformance/", true),
        (
            "^https://github\\.com/sigstore-conformance/.*@refs/heads/main$",
            true,
        ),
        ("^extremely-dangerous", false),
        ("oidc-beacon\\.yml$", false),
        (
            "^https://github\\.com/sigstore-conformance/.*@refs/heads/mai$",
            false,
        ),
    ] {
        assert_eq!(
            keyless_kind(re(pattern), issuer(), none()).is_none(),
            accepted,
            "{pattern}"
        );
    }
    assert_eq!(
        keyless_kind(
            Matcher::exact(IDENTITY),
            re("^https://token\\.actions\\."),
            none()
        ),
        None
    );
    assert_eq!(
        keyless_kind(Matcher::exact(IDENTITY), re("^https://accounts\\."), none()),
        Some(ErrorKind::Issuer)
    );
    assert!(Matcher::regexp("(unclosed").is_err());
    assert!(Matcher::regexp(&"a".repeat(5000)).is_err());
}

#[test]
fn github_workflow_claims_are_checked() {
    let verified = happy().verify().unwrap();
    let claims = &verified.identity().unwrap().claims;
    let claim = |name: &str| {
        claims
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.clone())
    };
    let github = GithubWorkflow {
        trigger: claim("github_workflow_trigger"),
        sha: claim("github_workflow_sha"),
        name: claim("github_workflow_name"),
        repository: claim("github_workflow_repository"),
        git_ref: claim("github_workflow_ref"),
    };
    assert_eq!(
        github.repository.as_deref(),
        Some("sigstore-conformance/extremely-dangerous-public-oidc-beacon")
    );
    assert!(github.trigger.is_some() && github.sha.is_some() && github.git_ref.is_some());
    let exact = || (Matcher::exact(IDENTITY), Matcher::exact(ISSUER));
    let (i, s) = exact();
    assert_eq!(keyless_kind(i, s, github.clone()), None);
    let wrong = [
        GithubWorkflow {
            trigger: Some("release".into()),
            ..github.clone()
        },
        GithubWorkflow {
            sha: Some("0".repeat(40)),
            ..github.clone()
        },
        GithubWorkflow {
            name: Some("other".into()),
            ..github.clone()
        },
        GithubWorkflow {
            repository: Some("evil/repo".into()),
            ..github.clone()
        },
        GithubWorkflow {
            git_ref: Some("refs/heads/evil".into()),
            ..github
        },
    ];
    for w in wrong {
        let (i, s) = exact();
        assert_eq!(
            keyless_kind(i, s, w.clone()),
            Some(ErrorKind::GithubClaim),
            "{w:?}"
        );
    }
}

#[test]
fn trust_roots_load_and_never_fall_back() {
    assert_eq!(
        TrustRoot::production().unwrap().source(),
        &TrustRootSource::Production
    );
    assert_eq!(
        TrustRoot::staging().unwrap().source(),
        &TrustRootSource::Staging
    );
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.json");
    assert_eq!(
        TrustRoot::from_file(&missing).unwrap_err().kind(),
        ErrorKind::TrustRoot
    );
    let bad = dir.path().join("bad.json");
    std::fs::write(&bad, b"{\"mediaType\": 1}").unwrap();
    assert_eq!(
        TrustRoot::from_file(&bad).unwrap_err().kind(),
        ErrorKind::TrustRoot
    );
    // Any JSON object loads upstream as an empty root: refused here.
    let not_root = happy().dir.join("bundle.sigstore.json");
    let err = TrustRoot::from_file(&not_root).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::TrustRoot);
    assert!(err.to_string().contains("mediaType"), "{err}");
    let empty = dir.path().join("empty.json");
    std::fs::write(
        &empty,
        br#"{"mediaType": "application/vnd.dev.sigstore.trustedroot+json;version=0.1"}"#,
    )
    .unwrap();
    assert_eq!(
        TrustRoot::from_file(&empty).unwrap_err().kind(),
        ErrorKind::TrustRoot
    );
    // The staging root does not verify a production bundle.
    let case = happy();
    let trust = Trust::Keyless {
        policy: IdentityPolicy::new(Matcher::exact(IDENTITY), Matcher::exact(ISSUER)),
        root: TrustRoot::staging().unwrap(),
    };
    assert!(case.verify_with(&trust).is_err());
}

#[test]
fn key_and_keyless_bundles_need_the_matching_trust() {
    let managed = Case::new("managed-key-and-trusted-root");
    let verified = managed.verify().unwrap();
    assert!(matches!(verified.signer(), Signer::Key(_)));
    // Another key: the signature does not verify.
    let other =
        PublicKey::from_bytes(&std::fs::read(vectors().join("../cosign/test-only-a.pub")).unwrap())
            .unwrap();
    let trust = Trust::Key {
        key: other,
        root: managed.root(),
    };
    assert_eq!(
        managed.verify_with(&trust).unwrap_err().kind(),
        ErrorKind::Signature
    );
    // A keyless bundle given a key.
    let trust = Trust::Key {
        key: PublicKey::from_bytes(&std::fs::read(managed.dir.join("key.pub")).unwrap()).unwrap(),
        root: TrustRoot::production().unwrap(),
    };
    assert_eq!(
        happy().verify_with(&trust).unwrap_err().kind(),
        ErrorKind::NotKeyBundle
    );
}

#[test]
fn oversized_or_garbage_bundles_are_malformed() {
    let big = vec![b' '; MAX_BUNDLE_BYTES as usize + 1];
    assert_eq!(
        SigstoreBundle::from_json(&big).unwrap_err().kind(),
        ErrorKind::Malformed
    );
    for bad in [
        &b"\xff"[..],
        b"{}",
        b"[]",
        b"{\"mediaType\":\"application/vnd.dev.sigstore.bundle+json;version=99.9\"}",
    ] {
        assert_eq!(
            SigstoreBundle::from_json(bad).unwrap_err().kind(),
            ErrorKind::Malformed
        );
    }
}
