//! The sigstore-conformance bundle-verification cases (`testdata/sigstore-conformance`), each
//! run through `scripts/sigstore-conformance` exactly as the upstream suite drives a client:
//! once with the artifact's path (PATH) and once with `sha256:<hex>` (DIGEST). `_fail` cases
//! must exit non-zero, the others 0. Also: `sign-bundle` answers "unsupported offline", and
//! the keyless CLI rejects a wrong SAN, issuer, unanchored-regexp trap and a log entry for
//! another artifact with the reason printed; `--output json` carries the verified facts.

use std::path::{Path, PathBuf};
use std::process::Command;

use tollgate_e2e::{Tollgate, testdata, tollgate_bin, workspace_root};

const IDENTITY: &str = "https://github.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon/.github/workflows/extremely-dangerous-oidc-beacon.yml@refs/heads/main";
const ISSUER: &str = "https://token.actions.githubusercontent.com";

fn cases() -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(testdata("sigstore-conformance/bundle-verify"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    dirs
}

fn sha256_hex(path: &Path) -> String {
    let out = Command::new("sha256sum").arg(path).output().unwrap();
    assert!(out.status.success());
    String::from_utf8(out.stdout).unwrap()[..64].to_owned()
}

/// The protocol's `verify-bundle` arguments for a case, with the artifact (or digest) last.
fn protocol_args(dir: &Path, digest_mode: bool) -> Vec<String> {
    let read = |name: &str, default: &str| {
        std::fs::read_to_string(dir.join(name))
            .map(|s| s.trim().to_owned())
            .unwrap_or_else(|_| default.to_owned())
    };
    let mut args = vec![
        "verify-bundle".to_owned(),
        "--bundle".into(),
        dir.join("bundle.sigstore.json").display().to_string(),
    ];
    let key = dir.join("key.pub");
    if key.exists() {
        args.extend(["--key".into(), key.display().to_string()]);
    } else {
        args.extend([
            "--certificate-identity".into(),
            read("identity", IDENTITY),
            "--certificate-oidc-issuer".into(),
            read("issuer", ISSUER),
        ]);
    }
    let root = dir.join("trusted_root.json");
    if root.exists() {
        args.extend(["--trusted-root".into(), root.display().to_string()]);
    }
    let artifact = if dir.join("artifact").exists() {
        dir.join("artifact")
    } else {
        testdata("sigstore-conformance/bundle-verify/a.txt")
    };
    args.push(if digest_mode {
        format!("sha256:{}", sha256_hex(&artifact))
    } else {
        artifact.display().to_string()
    });
    args
}

fn script(args: &[String]) -> std::process::Output {
    Command::new(workspace_root().join("scripts/sigstore-conformance"))
        .args(args)
        .env("TOLLGATE_BIN", tollgate_bin())
        .output()
        .expect("run scripts/sigstore-conformance")
}

#[test]
fn every_case_gives_the_right_outcome_in_path_and_digest_mode() {
    let cases = cases();
    assert_eq!(cases.len(), 35);
    let mut wrong = Vec::new();
    for dir in &cases {
        let name = dir.file_name().unwrap().to_str().unwrap();
        for (mode, digest) in [("PATH", false), ("DIGEST", true)] {
            let out = script(&protocol_args(dir, digest));
            let stdout = String::from_utf8_lossy(&out.stdout);
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert!(!stderr.contains("panicked"), "{name} {mode}: {stderr}");
            let code = out.status.code();
            let ok = if name.ends_with("_fail") {
                // Rejected with a reason, not a crash or usage error.
                code == Some(1) && stdout.starts_with("verification failed: ")
            } else {
                code == Some(0) && stdout.starts_with("verified: ")
            };
            if !ok {
                wrong.push(format!(
                    "test_verify[{mode}-{name}]: exit {code:?}\n{stdout}{stderr}"
                ));
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn sign_bundle_is_unsupported_offline() {
    let out = script(&[
        "sign-bundle".into(),
        "--identity-token".into(),
        "x".into(),
        "--bundle".into(),
        "/nonexistent/out.json".into(),
        "a.txt".into(),
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("unsupported offline"));
    assert!(!Path::new("/nonexistent/out.json").exists());
}

fn happy(extra: &[&str]) -> tollgate_e2e::Run {
    let v = testdata("sigstore-conformance/bundle-verify");
    let mut args = vec![
        "verify".to_owned(),
        "blob".into(),
        v.join("a.txt").display().to_string(),
        "--bundle".into(),
        v.join("happy-path-v0.3/bundle.sigstore.json")
            .display()
            .to_string(),
    ];
    args.extend(extra.iter().map(|s| (*s).to_owned()));
    let run = Tollgate::new(&args).run();
    run.assert_no_panic();
    run
}

#[test]
fn wrong_identity_issuer_regexp_and_artifact_are_rejected_with_the_reason() {
    let id = ["--certificate-identity", IDENTITY];
    let iss = ["--certificate-oidc-issuer", ISSUER];
    happy(&[id[0], id[1], iss[0], iss[1]]).assert_code(0);

    let evil = IDENTITY.replace("main", "evil");
    let run = happy(&["--certificate-identity", &evil, iss[0], iss[1]]);
    run.assert_code(1);
    assert!(
        run.stdout.contains("does not match the expected identity") && run.stdout.contains(&evil),
        "{}",
        run.stdout
    );

    let run = happy(&[
        id[0],
        id[1],
        "--certificate-oidc-issuer",
        "https://accounts.google.com",
    ]);
    run.assert_code(1);
    assert!(run.stdout.contains("OIDC issuer"), "{}", run.stdout);

    // Unanchored like cosign: a fragment matches; anchors pin the whole value.
    happy(&[
        "--certificate-identity-regexp",
        "oidc-beacon",
        iss[0],
        iss[1],
    ])
    .assert_code(0);
    let run = happy(&[
        "--certificate-identity-regexp",
        "^oidc-beacon",
        iss[0],
        iss[1],
    ]);
    run.assert_code(1);
    assert!(
        run.stdout.contains("matching /^oidc-beacon/"),
        "{}",
        run.stdout
    );
    happy(&[
        "--certificate-identity-regexp",
        "oidc-beacon\\.yml$",
        iss[0],
        iss[1],
    ])
    .assert_code(1);
    happy(&[
        id[0],
        id[1],
        "--certificate-oidc-issuer-regexp",
        "^https://token\\.actions\\.",
    ])
    .assert_code(0);

    let gh = |flag: &str, value: &str| happy(&[id[0], id[1], iss[0], iss[1], flag, value]);
    gh(
        "--certificate-github-workflow-repository",
        "sigstore-conformance/extremely-dangerous-public-oidc-beacon",
    )
    .assert_code(0);
    gh("--certificate-github-workflow-ref", "refs/heads/main").assert_code(0);
    gh("--certificate-github-workflow-trigger", "workflow_dispatch").assert_code(0);
    let run = gh("--certificate-github-workflow-repository", "evil/repo");
    run.assert_code(1);
    assert!(run.stdout.contains("repository"), "{}", run.stdout);
    gh("--certificate-github-workflow-ref", "refs/heads/evil").assert_code(1);
    gh("--certificate-github-workflow-sha", &"0".repeat(40)).assert_code(1);
    gh("--certificate-github-workflow-name", "other").assert_code(1);

    // A valid certificate and log entry, but the entry is for another artifact.
    let v = testdata("sigstore-conformance/bundle-verify");
    let run = Tollgate::new([
        "verify",
        "blob",
        v.join("a.txt").to_str().unwrap(),
        "--bundle",
        v.join("wrong-hashedrekord-artifact_fail/bundle.sigstore.json")
            .to_str()
            .unwrap(),
        id[0],
        id[1],
        iss[0],
        iss[1],
    ])
    .run();
    run.assert_code(1);
    assert!(
        run.stdout
            .contains("transparency-log entry is not for this artifact"),
        "{}",
        run.stdout
    );

    // Usage errors: exit 2.
    happy(&[id[0], id[1]]).assert_code(2);
    happy(&[
        id[0],
        id[1],
        iss[0],
        iss[1],
        "--trusted-root",
        "/nonexistent.json",
    ])
    .assert_code(2);
    happy(&[
        id[0],
        id[1],
        iss[0],
        iss[1],
        "--staging",
        "--trusted-root",
        "x",
    ])
    .assert_code(2);
    happy(&[
        id[0],
        id[1],
        iss[0],
        iss[1],
        "--tuf-refresh",
        "--trusted-root",
        "x",
    ])
    .assert_code(2);
    // The staging root does not know production's CAs and logs: rejected, not an error.
    happy(&[id[0], id[1], iss[0], iss[1], "--staging"]).assert_code(1);
    // A trust root file that is not one: an error, never the built-in root.
    let bundle =
        testdata("sigstore-conformance/bundle-verify/happy-path-v0.3/bundle.sigstore.json");
    happy(&[
        id[0],
        id[1],
        iss[0],
        iss[1],
        "--trusted-root",
        bundle.to_str().unwrap(),
    ])
    .assert_code(2);
}

#[test]
fn json_output_has_identity_issuer_log_index_and_integrated_time() {
    let run = happy(&[
        "--certificate-identity",
        IDENTITY,
        "--certificate-oidc-issuer",
        ISSUER,
        "--output",
        "json",
    ]);
    run.assert_code(0);
    let json = run.json();
    assert_eq!(json["verified"], true);
    assert_eq!(json["identity"], IDENTITY);
    assert_eq!(json["issuer"], ISSUER);
    assert_eq!(json["log_index"], 79571823);
    assert_eq!(json["integrated_time"], "2024-03-19T17:26:26Z");
    assert_eq!(json["claims"]["github_workflow_ref"], "refs/heads/main");
    assert_eq!(json["trusted_root"], "embedded public-good production root");
    let failed = happy(&[
        "--certificate-identity",
        IDENTITY,
        "--certificate-oidc-issuer",
        "https://accounts.google.com",
        "--output",
        "json",
    ]);
    failed.assert_code(1);
    let failed: serde_json::Value = serde_json::from_str(&failed.stdout).unwrap();
    assert_eq!(failed["verified"], false);
    assert!(failed["error"].as_str().unwrap().contains("issuer"));
}
