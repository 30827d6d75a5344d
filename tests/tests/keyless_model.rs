//! Keyless (Sigstore) OpenSSF model signatures: `tollgate verify model` with
//! `--certificate-identity` / `--certificate-oidc-issuer` against the private Sigstore instance
//! in `testdata/keyless` (its own Fulcio CA, Rekor and CT log keys; see its README), for a model
//! directory with `--signature` and for a model artifact in a real registry with the signature
//! attached as a referrer.
//!
//! `testdata/keyless/model.sig` is laid out as model_signing's `sign sigstore` writes it:
//! bundle v0.3, one Fulcio certificate, a dsse 0.0.1 Rekor entry (index 5) with SET and
//! inclusion proof, DSSE of an in-toto statement with predicate
//! `https://model_signing/signature/v1.0` over `testdata/keyless/model` (files, sha256).
//! Every rejection differs from the accepted run in one thing only.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::Value;
use tollgate_e2e::registry::Registry;
use tollgate_e2e::{Run, Tollgate, testdata};

const IDENTITY: &str =
    "https://github.com/tollgate-test/app/.github/workflows/release.yml@refs/heads/main";
const ISSUER: &str = "https://token.actions.githubusercontent.com";

fn path(rel: &str) -> String {
    testdata(&format!("keyless/{rel}"))
        .to_str()
        .unwrap()
        .to_owned()
}

/// `tollgate verify model MODEL --signature SIG` keyless, with the test trust root, plus
/// `extra`.
fn verify(model: &str, sig: &str, extra: &[&str]) -> Run {
    Tollgate::new([
        "verify",
        "model",
        model,
        "--signature",
        sig,
        "--no-progress",
    ])
    .args(extra)
    .run()
}

fn keyless_flags(identity: &str, issuer: &str) -> Vec<String> {
    vec![
        "--certificate-identity".into(),
        identity.into(),
        "--certificate-oidc-issuer".into(),
        issuer.into(),
        "--trusted-root".into(),
        path("trusted_root.json"),
    ]
}

fn verify_keyless(model: &str, sig: &str, identity: &str, issuer: &str, extra: &[&str]) -> Run {
    let mut args: Vec<String> = keyless_flags(identity, issuer);
    args.extend(extra.iter().map(|s| (*s).to_owned()));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    verify(model, sig, &args)
}

/// Copies `testdata/keyless/model` into a temporary `…/model`.
fn copy_model() -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().unwrap();
    let dst = dir.path().join("model");
    for rel in ["README.md", "config.json", "weights/layer0.bin"] {
        let to = dst.join(rel);
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        std::fs::copy(testdata(&format!("keyless/model/{rel}")), &to).unwrap();
    }
    let shown = dst.to_str().unwrap().to_owned();
    (dir, shown)
}

#[test]
fn keyless_model_signature_verifies_and_reports_the_identity() {
    let run = verify_keyless(
        &path("model"),
        &path("model.sig"),
        IDENTITY,
        ISSUER,
        &["--output", "json"],
    );
    run.assert_code(0);
    let out = run.json();
    assert_eq!(out["verified"], true, "{out}");
    assert_eq!(out["identity"], IDENTITY, "{out}");
    assert_eq!(out["issuer"], ISSUER, "{out}");
    assert_eq!(out["log_index"], 5, "{out}");
    assert_eq!(out["log_entry_kind"], "dsse/0.0.1", "{out}");
    assert_eq!(out["integrated_time"], "2026-11-01T12:01:00Z", "{out}");
    assert_eq!(out["serialization"]["method"], "files", "{out}");
    let stmt = statement(&signature());
    assert_eq!(
        out["root"].as_str().unwrap(),
        format!(
            "sha256:{}",
            stmt["subject"][0]["digest"]["sha256"].as_str().unwrap()
        )
    );

    let text = verify_keyless(&path("model"), &path("model.sig"), IDENTITY, ISSUER, &[]);
    text.assert_code(0);
    assert!(
        text.stdout.contains(&format!(
            "signed by {IDENTITY} (issuer {ISSUER}), transparency log index 5"
        )),
        "{}",
        text.stdout
    );
}

#[test]
fn identity_issuer_and_trust_root_must_match() {
    let model = path("model");
    let sig = path("model.sig");
    let wrong_identity = verify_keyless(
        &model,
        &sig,
        "https://github.com/someone-else/app/.github/workflows/release.yml@refs/heads/main",
        ISSUER,
        &[],
    );
    wrong_identity.assert_code(1);
    assert!(
        wrong_identity.stdout.contains("identity") && wrong_identity.stdout.contains(IDENTITY),
        "{}",
        wrong_identity.stdout
    );

    let wrong_issuer = verify_keyless(&model, &sig, IDENTITY, "https://accounts.google.com", &[]);
    wrong_issuer.assert_code(1);
    assert!(
        wrong_issuer.stdout.contains("issuer") && wrong_issuer.stdout.contains(ISSUER),
        "{}",
        wrong_issuer.stdout
    );

    // The public-good production root knows neither this private Rekor log nor its Fulcio CA.
    let production = verify(
        &model,
        &sig,
        &[
            "--certificate-identity",
            IDENTITY,
            "--certificate-oidc-issuer",
            ISSUER,
        ],
    );
    production.assert_code(1);
    assert!(
        production.stdout.contains("model.sig")
            && ["log", "certificate"]
                .iter()
                .any(|w| production.stdout.to_lowercase().contains(w)),
        "{}",
        production.stdout
    );
}

#[test]
fn a_changed_model_file_is_reported() {
    let (_dir, model) = copy_model();
    verify_keyless(&model, &path("model.sig"), IDENTITY, ISSUER, &[]).assert_code(0);
    std::fs::write(
        std::path::Path::new(&model).join("config.json"),
        b"{\"hidden_size\":9,\"layers\":2}\n",
    )
    .unwrap();
    let run = verify_keyless(
        &model,
        &path("model.sig"),
        IDENTITY,
        ISSUER,
        &["--output", "json"],
    );
    run.assert_code(1);
    let out: Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(out["verified"], false, "{out}");
    assert_eq!(
        out["differences"]["changed"][0]["name"], "config.json",
        "{out}"
    );
    assert_eq!(
        out["identity"], IDENTITY,
        "the signature itself verified: {out}"
    );
}

#[test]
fn key_and_ca_are_refused_for_a_keyless_signature() {
    let with_key = verify(
        &path("model"),
        &path("model.sig"),
        &["--key", &path("key.pub")],
    );
    with_key.assert_code(1);
    assert!(
        with_key.stdout.contains("keyless") && with_key.stdout.contains("--certificate-identity"),
        "{}",
        with_key.stdout
    );
    let ca = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(ca.path(), ca_pem()).unwrap();
    let with_ca = verify(
        &path("model"),
        &path("model.sig"),
        &["--ca", ca.path().to_str().unwrap()],
    );
    with_ca.assert_code(1);
    assert!(
        with_ca.stdout.contains("keyless") && with_ca.stdout.contains("instead of --ca"),
        "{}",
        with_ca.stdout
    );
    // --key and the keyless flags ask for two different things.
    verify(
        &path("model"),
        &path("model.sig"),
        &[
            "--key",
            &path("key.pub"),
            "--certificate-identity",
            IDENTITY,
        ],
    )
    .assert_input_error(&["--key", "--certificate-identity"]);
}

#[test]
fn a_re_signed_statement_does_not_verify() {
    // Rename a signed file: the root digest (over the resource digests only) still matches
    // the subject, but the DSSE signature and the log entry's payload hash do not.
    let mut bundle = signature();
    let mut stmt = statement(&bundle);
    assert_eq!(stmt["predicate"]["resources"][0]["name"], "README.md");
    stmt["predicate"]["resources"][0]["name"] = Value::String("README.txt".into());
    bundle["dsseEnvelope"]["payload"] =
        Value::String(STANDARD.encode(serde_json::to_vec(&stmt).unwrap()));
    let dir = tempfile::tempdir().unwrap();
    let sig = dir.path().join("tampered.sig");
    std::fs::write(&sig, serde_json::to_vec(&bundle).unwrap()).unwrap();
    let run = verify_keyless(&path("model"), sig.to_str().unwrap(), IDENTITY, ISSUER, &[]);
    run.assert_code(1);
    assert!(run.stdout.contains("tampered.sig"), "{}", run.stdout);
}

#[test]
fn keyless_model_in_a_registry_verifies_by_layer_digest() {
    let reg = Registry::start();
    let r = reg.reference("models/keyless:v1");
    let tollgate = |args: &[&str]| Tollgate::new(args).arg("--plain-http").run();
    tollgate(&["push", "model", &path("model"), &r]).assert_code(0);
    tollgate(&["attach", &r, "--signature", &path("model.sig")]).assert_code(0);
    let flags = keyless_flags(IDENTITY, ISSUER);
    let mut args = vec!["verify", "model", &r, "--output", "json"];
    args.extend(flags.iter().map(String::as_str));
    let run = tollgate(&args);
    run.assert_code(0);
    let out = run.json();
    assert_eq!(out["verified"], true, "{out}");
    assert_eq!(out["identity"], IDENTITY, "{out}");
    assert_eq!(out["log_index"], 5, "{out}");

    let wrong = keyless_flags("https://example.com/someone-else", ISSUER);
    let mut args = vec!["verify", "model", &r];
    args.extend(wrong.iter().map(String::as_str));
    let run = tollgate(&args);
    run.assert_code(1);
    assert!(
        run.stdout.contains("no attached signature verifies") && run.stdout.contains("identity"),
        "{}",
        run.stdout
    );
}

fn signature() -> Value {
    serde_json::from_slice(&std::fs::read(path("model.sig")).unwrap()).unwrap()
}

fn statement(bundle: &Value) -> Value {
    let payload = STANDARD
        .decode(bundle["dsseEnvelope"]["payload"].as_str().unwrap())
        .unwrap();
    serde_json::from_slice(&payload).unwrap()
}

/// The test Fulcio CA as PEM, from the trust root.
fn ca_pem() -> String {
    let root: Value =
        serde_json::from_slice(&std::fs::read(path("trusted_root.json")).unwrap()).unwrap();
    let der = root["certificateAuthorities"][0]["certChain"]["certificates"][0]["rawBytes"]
        .as_str()
        .unwrap();
    let mut pem = String::from("-----BEGIN CERTIFICATE-----\n");
    for chunk in der.as_bytes().chunks(64) {
        pem.push_str(std::str::from_utf8(chunk).unwrap());
        pem.push('\n');
    }
    pem.push_str("-----END CERTIFICATE-----\n");
    pem
}
