//! End to end: `tollgate attest` / `tollgate verify attestation` against a real CNCF
//! distribution 2.8 registry and cosign 2.5.0, both directions and both layouts (legacy
//! `sha256-<hex>.att`; Sigstore bundle referrer via the `sha256-<hex>` fallback index), plus
//! bad predicates, wrong keys and types, and an attestation altered in the registry's storage.

mod cosign_common;

use base64::Engine as _;
use cosign_common::*;
use serde_json::{Value, json};
use tollgate_e2e::registry::Registry;
use tollgate_registry::Digest;

const TYPE: &str = "https://example.com/model-card/v1";

fn predicate(dir: &std::path::Path) -> std::path::PathBuf {
    let p = dir.join("card.json");
    std::fs::write(&p, br#"{"model":"demo","note":"example predicate","n":3}"#).unwrap();
    p
}

fn attest(
    image: &str,
    file: &std::path::Path,
    key: (&str, &str),
    extra: &[&str],
) -> tollgate_e2e::Run {
    let k = private_key(key);
    let mut args = vec![
        "attest",
        image,
        "--predicate",
        file.to_str().unwrap(),
        "--type",
        TYPE,
        "--key",
        k.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    tollgate(&args, key.1)
}

fn verify(
    image: &str,
    predicate_type: &str,
    key: (&str, &str),
    extra: &[&str],
) -> tollgate_e2e::Run {
    let k = public_key(key);
    let mut args = vec![
        "verify",
        "attestation",
        image,
        "--type",
        predicate_type,
        "--key",
        k.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    tollgate(&args, "")
}

/// `cosign verify-attestation`, legacy or (`bundle`) Sigstore bundle referrers.
fn cosign_verify(image: &str, key: (&str, &str), bundle: bool) -> std::process::Output {
    let k = public_key(key);
    let root = empty_trusted_root();
    let mut args = vec![
        "verify-attestation",
        "--key",
        k.to_str().unwrap(),
        "--insecure-ignore-tlog",
        "--allow-http-registry",
        "--type",
        TYPE,
    ];
    if bundle {
        args.extend([
            "--new-bundle-format",
            "--trusted-root",
            root.to_str().unwrap(),
        ]);
    }
    args.push(image);
    cosign(&args, "")
}

/// The statements cosign printed (one DSSE envelope JSON per line).
fn cosign_statements(out: &std::process::Output) -> Vec<Value> {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let env: Value = serde_json::from_str(l).unwrap();
            let payload = base64::engine::general_purpose::STANDARD
                .decode(env["payload"].as_str().unwrap())
                .unwrap();
            serde_json::from_slice(&payload).unwrap()
        })
        .collect()
}

#[test]
fn tollgate_attests_and_cosign_verifies_both_layouts() {
    let reg = Registry::start();
    let dir = tempfile::tempdir().unwrap();
    let img = push_image(&reg, "demo/attested:v1", 11);
    let out = attest(
        &img.tagged,
        &predicate(dir.path()),
        KEY_A,
        &["--output", "json"],
    )
    .json();
    assert_eq!(out["digest"], img.digest.to_string());

    for bundle in [false, true] {
        let ok = cosign_verify(&img.tagged, KEY_A, bundle);
        assert!(ok.status.success(), "bundle={bundle}\n{}", text(&ok));
        let statements = cosign_statements(&ok);
        assert_eq!(statements.len(), 1, "{}", text(&ok));
        let s = &statements[0];
        assert_eq!(s["_type"], "https://in-toto.io/Statement/v1");
        assert_eq!(s["predicateType"], TYPE);
        assert_eq!(s["subject"][0]["digest"]["sha256"], img.digest.hex());
        assert_eq!(s["subject"][0]["name"], img.repository);
        assert_eq!(s["predicate"]["n"], 3);
        let wrong = cosign_verify(&img.tagged, KEY_C, bundle);
        assert!(
            !wrong.status.success(),
            "bundle={bundle}: key c accepted\n{}",
            text(&wrong)
        );
    }

    // tollgate reads both back and prints the statements.
    let v = verify(&img.tagged, TYPE, KEY_A, &["--output", "json"]).json();
    let atts = v["attestations"].as_array().unwrap();
    assert_eq!(atts.len(), 2, "{v}");
    assert_eq!(atts[0]["layout"], "legacy");
    assert_eq!(atts[1]["layout"], "bundle");
    assert_eq!(
        atts[0]["statement"]["predicate"],
        json!({"model":"demo","note":"example predicate","n":3})
    );
    let text_out = verify(&img.tagged, TYPE, KEY_A, &[]).ok().to_owned();
    let lines: Vec<Value> = text_out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[0]["predicateType"], TYPE);
}

#[test]
fn cosign_attests_and_tollgate_verifies() {
    let reg = Registry::start();
    let dir = tempfile::tempdir().unwrap();
    let img = push_image(&reg, "demo/cosign-att:v1", 12);
    let file = predicate(dir.path());
    let key = private_key(KEY_C);
    for extra in [&[][..], &["--new-bundle-format"][..]] {
        let mut args = vec![
            "attest",
            "--key",
            key.to_str().unwrap(),
            "--tlog-upload=false",
            "--allow-http-registry",
            "--predicate",
            file.to_str().unwrap(),
            "--type",
            TYPE,
        ];
        args.extend_from_slice(extra);
        args.push(&img.by_digest);
        cosign_ok(&args, KEY_C.1);
    }
    let v = verify(&img.tagged, TYPE, KEY_C, &["--output", "json"]).json();
    let atts = v["attestations"].as_array().unwrap();
    assert_eq!(atts.len(), 2, "{v}");
    for a in atts {
        // cosign 2.5.0 writes in-toto Statement v0.1.
        assert_eq!(a["statement"]["_type"], "https://in-toto.io/Statement/v0.1");
        assert_eq!(a["statement"]["predicate"]["n"], 3);
        assert_eq!(
            a["statement"]["subject"][0]["digest"]["sha256"],
            img.digest.hex()
        );
    }
    // Wrong key, wrong type.
    let run = verify(&img.tagged, TYPE, KEY_A, &[]);
    run.assert_code(1);
    assert_eq!(
        run.stdout.matches("does not verify with key").count(),
        2,
        "{}",
        run.stdout
    );
    let run = verify(&img.tagged, "https://slsa.dev/provenance/v1", KEY_C, &[]);
    run.assert_code(1);
    assert!(
        run.stdout.contains("verification failed: no attestation"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("https://slsa.dev/provenance/v1"),
        "{}",
        run.stdout
    );

    // tollgate's attestation appends to cosign's .att manifest.
    attest(&img.tagged, &file, KEY_A, &["--format", "legacy"]).ok();
    let r: tollgate_registry::Reference = format!("{}:{}", img.repository, tag(&img.digest, "att"))
        .parse()
        .unwrap();
    let m: Value = serde_json::from_slice(&client().get_manifest(&r).unwrap().bytes).unwrap();
    assert_eq!(m["layers"].as_array().unwrap().len(), 2);
    let ok = cosign_verify(&img.tagged, KEY_A, false);
    assert!(ok.status.success(), "{}", text(&ok));
}

#[test]
fn bad_predicates_and_altered_attestations_are_refused() {
    let reg = Registry::start();
    let dir = tempfile::tempdir().unwrap();
    let img = push_image(&reg, "demo/bad:v1", 13);

    let not_json = dir.path().join("card.txt");
    std::fs::write(&not_json, "model: demo\n").unwrap();
    attest(&img.tagged, &not_json, KEY_A, &[]).assert_input_error(&["the predicate is not JSON"]);
    let huge = dir.path().join("huge.json");
    std::fs::write(&huge, format!("\"{}\"", "x".repeat(300 << 10))).unwrap();
    attest(&img.tagged, &huge, KEY_A, &[]).assert_input_error(&["larger than 262144 bytes"]);
    let k = private_key(KEY_A);
    tollgate(
        &[
            "attest",
            &img.tagged,
            "--predicate",
            "x",
            "--type",
            "model card",
            "--key",
            k.to_str().unwrap(),
        ],
        "",
    )
    .assert_input_error(&["not a predicate type URI"]);

    // Nothing attested yet.
    let run = verify(&img.tagged, TYPE, KEY_A, &[]);
    run.assert_code(1);
    assert!(run.stdout.contains("has no attestations"), "{}", run.stdout);

    // Attest, then alter both stored envelopes (same size).
    attest(&img.tagged, &predicate(dir.path()), KEY_A, &[]).ok();
    verify(&img.tagged, TYPE, KEY_A, &[]).ok();
    let r: tollgate_registry::Reference = format!("{}:{}", img.repository, tag(&img.digest, "att"))
        .parse()
        .unwrap();
    let c = client();
    let att: Value = serde_json::from_slice(&c.get_manifest(&r).unwrap().bytes).unwrap();
    let mut altered: Vec<Digest> = vec![
        att["layers"][0]["digest"]
            .as_str()
            .unwrap()
            .parse()
            .unwrap(),
    ];
    let referrer = &c.referrers(&r, &img.digest).unwrap().descriptors[0];
    let rm: Value = serde_json::from_slice(
        &c.get_manifest(&r.with_digest(referrer.digest()))
            .unwrap()
            .bytes,
    )
    .unwrap();
    altered.push(rm["layers"][0]["digest"].as_str().unwrap().parse().unwrap());
    for d in &altered {
        let file = reg.blob_file(&d.hex());
        let mut bytes = std::fs::read(&file).unwrap();
        let i = bytes.len() / 2;
        bytes[i] ^= 0x01;
        std::fs::write(&file, bytes).unwrap();
    }
    let run = verify(&img.tagged, TYPE, KEY_A, &[]);
    run.assert_code(1);
    assert_eq!(
        run.stdout.matches("digest mismatch").count(),
        2,
        "{}",
        run.stdout
    );
}
