//! `tollgate sign model` and `tollgate verify model` end to end, against the real model_signing
//! 1.1.1 both ways, plus the verifier's refusals.
//!
//! - tollgate signs, model_signing verifies: files + sha256 through model_signing's CLI (`verify
//!   key`, `verify certificate`), shards / BLAKE2b / BLAKE3 through its Python API with an
//!   explicit hashing config (its 1.1.1 CLI re-hashes files + sha256 only), signatures inside
//!   the model included.
//! - model_signing signs (CLI `sign key` / `sign certificate`, API for the other
//!   serializations), tollgate verifies; then a changed, an added and a removed file must fail
//!   verification, naming the file, whoever signed.
//! - `tollgate verify model` refusals: wrong key, wrong trust kind, wrong root, `--at` outside
//!   the leaf's validity, malformed and oversized bundles, a changed DSSE payloadType,
//!   `--ignore-unsigned-files`, `--output json`; `tollgate sign model` with an encrypted key.
//! - All 9 signatures in `testdata/model-signing/sigs` with the right and the wrong trust.
//!
//! model_signing runs through `tests/py/ms_sign_verify.py batch` (one interpreter per test: its
//! CLI runs in-process there, exactly as the `model_signing` console script runs it). Needs
//! `$TOLLGATE_MODEL_SIGNING_PYTHON` (set by `scripts/test`); without it the tests fail.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine as _;
use serde_json::{Value, json};
use tollgate_e2e::{
    DEFAULT_TIMEOUT, Model, ModelSigning, Run, Running, Tollgate, signed_model, testdata,
    workspace_root,
};

// ---------------------------------------------------------------------------------------------
// Fixtures

/// A file of `testdata/model-signing/keys`.
fn key(name: &str) -> PathBuf {
    testdata(&format!("model-signing/keys/{name}"))
}

/// A file of `testdata/model-signing/pki`.
fn pki(name: &str) -> PathBuf {
    testdata(&format!("model-signing/pki/{name}"))
}

/// A signature of `testdata/model-signing/sigs`.
fn vector(name: &str) -> PathBuf {
    testdata(&format!("model-signing/sigs/{name}"))
}

/// The signing key pair of `keys/` (plain key method).
fn signing_key() -> PathBuf {
    key("signing-key.pem")
}
fn signing_pub() -> PathBuf {
    key("signing-key.pub.pem")
}
fn other_pub() -> PathBuf {
    key("other-key.pub.pem")
}

/// The leaf certificate's validity (`pki/signing-cert.pem`: notBefore, notAfter). The
/// intermediate expires one second before the leaf.
const LEAF_NOT_BEFORE: &str = "2026-11-27T10:54:42Z";
const LEAF_NOT_AFTER: &str = "2036-11-24T10:54:42Z";

fn copy_dir(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap_or_else(|e| panic!("create {}: {e}", to.display()));
    for entry in fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let dst = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &dst);
        } else {
            fs::copy(entry.path(), &dst)
                .unwrap_or_else(|e| panic!("copy {}: {e}", entry.path().display()));
        }
    }
}

/// A copy of `testdata/model-signing/model` as `<tempdir>/model`.
fn bundled_copy() -> Model {
    let m = Model::new();
    copy_dir(&signed_model(), m.path());
    m
}

/// A small generated model: multi-shard weights (at 64-byte shards), an empty file, names with
/// spaces and non-ASCII letters, `x.json` beside `x/`, git paths at the root (ignored) and a
/// nested `.gitignore` (signed).
fn generated_model() -> Model {
    let m = Model::new();
    m.random_file("weights/model-00001-of-00002.safetensors", 300)
        .random_file("weights/model-00002-of-00002.safetensors", 130)
        .file(
            "config.json",
            br#"{"architectures":["Tiny"],"hidden_size":8}"#,
        )
        .file("empty.bin", b"")
        .random_file("tokenizer/merges.txt", 70)
        .file("tokenizer.json", b"{\"version\":\"1.0\"}")
        .file(
            "docs/read me.md",
            "# a model card with a space in its name\n",
        )
        .file("donn\u{e9}es/\u{fc}n\u{ef}code.txt", "\u{e9}t\u{e9}\n")
        .file(".gitignore", "*.tmp\n")
        .file(".git/HEAD", "ref: refs/heads/main\n")
        .file("nested/.gitignore", "signed, not at the root\n");
    m
}

/// A copy of `model` in a new temporary directory (as `<tempdir>/model`).
fn copy_of(model: &Model) -> Model {
    let m = Model::new();
    copy_dir(model.path(), m.path());
    m
}

// ---------------------------------------------------------------------------------------------
// tollgate

fn show(run: &Run) -> String {
    format!(
        "command: {}\nexit code: {:?} (signal {:?})\n--- stdout ---\n{}\n--- stderr ---\n{}",
        run.command, run.code, run.signal, run.stdout, run.stderr
    )
}

/// Who signs with tollgate.
#[derive(Clone, Copy, Debug)]
enum Signer {
    /// `keys/signing-key.pem`, key method.
    Key,
    /// `pki/signing-key.pem` with `--cert pki/signing-cert.pem --chain pki/intermediate-ca.pem`.
    Certificate,
}

/// `tollgate sign model MODEL --signature SIG ... HASH_ARGS`; asserts success.
fn tollgate_sign(model: &Path, signature: &Path, signer: Signer, hash_args: &[&str]) {
    let cmd = Tollgate::new(["sign", "model"])
        .arg(model)
        .arg("--signature")
        .arg(signature);
    let cmd = match signer {
        Signer::Key => cmd.arg("--key").arg(signing_key()),
        Signer::Certificate => cmd
            .arg("--key")
            .arg(pki("signing-key.pem"))
            .arg("--cert")
            .arg(pki("signing-cert.pem"))
            .arg("--chain")
            .arg(pki("intermediate-ca.pem")),
    };
    let run = cmd.args(hash_args).run();
    let out = run.ok();
    assert!(
        out.starts_with("signed ") && signature.is_file(),
        "sign did not report or write the signature\n{}",
        show(&run)
    );
}

/// What `tollgate verify model` trusts.
#[derive(Clone, Debug)]
enum Trust {
    Key(PathBuf),
    Ca(PathBuf),
}

impl Trust {
    /// The right trust for a signer.
    fn of(signer: Signer) -> Self {
        match signer {
            Signer::Key => Self::Key(signing_pub()),
            Signer::Certificate => Self::Ca(pki("root-ca.pem")),
        }
    }
}

/// `tollgate verify model MODEL --signature SIG (--key|--ca) ... EXTRA`.
fn tollgate_verify(model: &Path, signature: &Path, trust: &Trust, extra: &[&str]) -> Run {
    let cmd = Tollgate::new(["verify", "model"])
        .arg(model)
        .arg("--signature")
        .arg(signature);
    let cmd = match trust {
        Trust::Key(k) => cmd.arg("--key").arg(k),
        Trust::Ca(c) => cmd.arg("--ca").arg(c),
    };
    cmd.args(extra).run()
}

/// Asserts exit 0 and the `verified:` line.
fn assert_verified(run: &Run) {
    run.assert_code(0);
    assert!(
        run.stdout.starts_with("verified: ") && run.stderr.is_empty(),
        "expected `verified: ...` on stdout and nothing on stderr\n{}",
        show(run)
    );
}

/// Asserts exit 1, `verification failed` on stdout, every one of `mentions` on stdout.
fn assert_not_verified(run: &Run, mentions: &[&str]) {
    run.assert_code(1);
    assert!(
        run.stdout.starts_with("verification failed"),
        "expected `verification failed...` on stdout\n{}",
        show(run)
    );
    for m in mentions {
        assert!(
            run.stdout.contains(m),
            "stdout does not mention {m:?}\n{}",
            show(run)
        );
    }
}

/// The in-toto statement inside a bundle (base64 DSSE payload, decoded and parsed).
fn statement(signature: &Path) -> Value {
    let bundle: Value = serde_json::from_slice(&fs::read(signature).unwrap())
        .unwrap_or_else(|e| panic!("{} is not JSON: {e}", signature.display()));
    let payload = bundle["dsseEnvelope"]["payload"]
        .as_str()
        .unwrap_or_else(|| panic!("no dsseEnvelope.payload in {}", signature.display()));
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(payload)
        .expect("payload is base64");
    serde_json::from_slice(&bytes).expect("payload is JSON")
}

/// `predicate.serialization.ignore_paths` of a bundle.
fn ignore_paths(signature: &Path) -> Vec<String> {
    let st = statement(signature);
    st["predicate"]["serialization"]["ignore_paths"]
        .as_array()
        .unwrap_or_else(|| panic!("no ignore_paths in {st}"))
        .iter()
        .map(|p| p.as_str().unwrap().to_owned())
        .collect()
}

// ---------------------------------------------------------------------------------------------
// model_signing (tests/py/ms_sign_verify.py batch)

/// Runs a batch of requests (see `ms_sign_verify.py`) in one model_signing interpreter and
/// returns one answer `{"ok", "code", "output"}` per request.
fn model_signing(requests: &[Value]) -> Vec<Value> {
    let python = ModelSigning::python();
    let script = workspace_root().join("tests/py/ms_sign_verify.py");
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("requests.json");
    fs::write(&file, serde_json::to_vec(requests).unwrap()).unwrap();
    let mut cmd = Command::new(&python);
    cmd.arg(&script)
        .arg("batch")
        .arg(&file)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let what = format!(
        "{} {} batch ({} requests)",
        python.display(),
        script.display(),
        requests.len()
    );
    let run = Running::spawn(&mut cmd, what, DEFAULT_TIMEOUT, None).wait();
    assert_eq!(
        run.code,
        Some(0),
        "ms_sign_verify.py failed\n{}",
        show(&run)
    );
    let answers: Vec<Value> = serde_json::from_str(&run.stdout).unwrap_or_else(|e| {
        panic!(
            "ms_sign_verify.py answered invalid JSON: {e}\n{}",
            show(&run)
        )
    });
    assert_eq!(answers.len(), requests.len(), "one answer per request");
    answers
}

/// `model_signing ARGS...` (its CLI, in-process).
fn ms_cli(args: Value) -> Value {
    json!({"cmd": "cli", "args": args})
}

/// Asserts model_signing accepted request `what` (a CLI one must say so).
fn assert_ms_ok(answer: &Value, what: &str) {
    assert!(
        answer["ok"] == true,
        "model_signing failed on {what}: exit {}\n{}",
        answer["code"],
        answer["output"].as_str().unwrap_or_default()
    );
}

/// Asserts model_signing refused request `what` (exit 1), saying every one of `mentions`.
fn assert_ms_refused(answer: &Value, what: &str, mentions: &[&str]) {
    let output = answer["output"].as_str().unwrap_or_default();
    assert!(
        answer["ok"] == false && answer["code"] == 1 && mentions.iter().all(|m| output.contains(m)),
        "model_signing should have refused {what} mentioning {mentions:?}: exit {}\n{output}",
        answer["code"]
    );
}

// ---------------------------------------------------------------------------------------------
// 1. tollgate signs, model_signing verifies

/// `model_signing verify key --public_key PUB --signature SIG MODEL` (its CLI).
fn ms_cli_verify_key(public_key: &Path, sig: &Path, model: &Path) -> Value {
    ms_cli(json!([
        "verify",
        "key",
        "--public_key",
        public_key,
        "--signature",
        sig,
        model
    ]))
}

/// `model_signing verify certificate --certificate_chain CA --signature SIG MODEL` (its CLI).
fn ms_cli_verify_certificate(ca: &Path, sig: &Path, model: &Path) -> Value {
    ms_cli(json!([
        "verify",
        "certificate",
        "--certificate_chain",
        ca,
        "--signature",
        sig,
        model
    ]))
}

/// Files + sha256 (key and certificate, signature outside and inside the model) through
/// model_signing's own CLI; and the CLI still refuses a wrong key, a trust store without the
/// root and a tampered model, so the positive answers mean something.
#[test]
fn tollgate_key_and_certificate_signatures_verify_with_the_model_signing_cli() {
    let root_ca = pki("root-ca.pem");
    // (request, what, None if it must verify / Some(what the refusal says)).
    let mut checks: Vec<(Value, String, Option<&[&str]>)> = Vec::new();
    let mut keep = Vec::new();
    for (label, model) in [
        ("bundled", bundled_copy()),
        ("generated", generated_model()),
    ] {
        let m = model.path();
        let key_sig = model.outside().join("key.sig");
        let cert_sig = model.outside().join("cert.sig");
        tollgate_sign(m, &key_sig, Signer::Key, &[]);
        tollgate_sign(m, &cert_sig, Signer::Certificate, &[]);
        checks.push((
            ms_cli_verify_key(&signing_pub(), &key_sig, m),
            format!("{label}: verify key"),
            None,
        ));
        checks.push((
            ms_cli_verify_certificate(&root_ca, &cert_sig, m),
            format!("{label}: verify certificate"),
            None,
        ));

        // Signatures written inside the model: left out of the manifest, recorded in
        // ignore_paths, and model_signing (which also ignores its --signature) verifies them.
        let inside_key = copy_of(&model);
        let sig = inside_key.join("model.sig");
        tollgate_sign(inside_key.path(), &sig, Signer::Key, &[]);
        let ignored = ignore_paths(&sig);
        for p in [
            ".git",
            ".gitattributes",
            ".github",
            ".gitignore",
            "model.sig",
        ] {
            assert!(
                ignored.iter().any(|i| i == p),
                "{label}: ignore_paths {ignored:?} lacks {p}"
            );
        }
        let trust = Trust::Key(signing_pub());
        assert_verified(&tollgate_verify(inside_key.path(), &sig, &trust, &[]));
        checks.push((
            ms_cli_verify_key(&signing_pub(), &sig, inside_key.path()),
            format!("{label}: verify key, signature inside the model"),
            None,
        ));

        let inside_cert = copy_of(&model);
        inside_cert.dir("signatures");
        let sig = inside_cert.join("signatures/cert.sig");
        tollgate_sign(inside_cert.path(), &sig, Signer::Certificate, &[]);
        let ignored = ignore_paths(&sig);
        assert!(
            ignored.iter().any(|i| i == "signatures/cert.sig"),
            "{label}: ignore_paths {ignored:?} lacks signatures/cert.sig"
        );
        checks.push((
            ms_cli_verify_certificate(&root_ca, &sig, inside_cert.path()),
            format!("{label}: verify certificate, signature inside a model subdirectory"),
            None,
        ));

        // Controls: the same CLI must refuse these.
        checks.push((
            ms_cli_verify_key(&other_pub(), &key_sig, m),
            format!("{label}: verify key with the other key"),
            Some(&["Key mismatch"]),
        ));
        checks.push((
            ms_cli_verify_certificate(&pki("intermediate-ca.pem"), &cert_sig, m),
            format!("{label}: verify certificate, intermediate only"),
            Some(&["unable to get issuer certificate"]),
        ));
        let tampered = copy_of(&model);
        tampered.file("config.json", b"{\"tampered\":true}");
        checks.push((
            ms_cli_verify_key(&signing_pub(), &key_sig, tampered.path()),
            format!("{label}: verify key, config.json changed"),
            Some(&["Signature mismatch", "Hash mismatch for", "config.json"]),
        ));
        keep.extend([model, inside_key, inside_cert, tampered]);
    }
    let requests: Vec<Value> = checks.iter().map(|(r, _, _)| r.clone()).collect();
    let answers = model_signing(&requests);
    for ((_, what, refusal), answer) in checks.iter().zip(&answers) {
        match refusal {
            None => {
                assert_ms_ok(answer, what);
                let output = answer["output"].as_str().unwrap_or_default();
                assert!(
                    output.contains("Verification succeeded"),
                    "{what}: {output}"
                );
            }
            Some(mention) => assert_ms_refused(answer, what, mention),
        }
    }
}

/// A serialization both tools support: tollgate's hash options and model_signing's explicit
/// hashing config for it.
struct Serialization {
    label: &'static str,
    args: &'static [&'static str],
    algorithm: &'static str,
    shard_size: Option<u64>,
    hash_type: &'static str,
}

const API_SERIALIZATIONS: [Serialization; 5] = [
    Serialization {
        label: "shards 64",
        args: &["--shard-size", "64"],
        algorithm: "sha256",
        shard_size: Some(64),
        hash_type: "sha256",
    },
    Serialization {
        label: "shards default",
        args: &["--shards"],
        algorithm: "sha256",
        shard_size: Some(1_000_000_000),
        hash_type: "sha256",
    },
    Serialization {
        label: "blake2b files",
        args: &["-a", "blake2b"],
        algorithm: "blake2b",
        shard_size: None,
        hash_type: "blake2b",
    },
    Serialization {
        label: "blake2b shards 64",
        args: &["-a", "blake2b", "--shard-size", "64"],
        algorithm: "blake2b",
        shard_size: Some(64),
        hash_type: "blake2b",
    },
    Serialization {
        label: "blake3 files",
        args: &["-a", "blake3"],
        algorithm: "blake3",
        shard_size: None,
        hash_type: "blake3",
    },
];

fn ms_api_verify(
    model: &Path,
    sig: &Path,
    signer: Signer,
    algorithm: &str,
    shard_size: Option<u64>,
) -> Value {
    match signer {
        Signer::Key => json!({
            "cmd": "verify", "model": model, "signature": sig, "method": "key",
            "public_key": signing_pub(), "algorithm": algorithm, "shard_size": shard_size,
        }),
        Signer::Certificate => json!({
            "cmd": "verify", "model": model, "signature": sig, "method": "certificate",
            "certificate_chain": [pki("root-ca.pem")], "algorithm": algorithm,
            "shard_size": shard_size,
        }),
    }
}

/// Shards (64 and default), BLAKE2b, BLAKE3 through model_signing's Python API with the
/// matching hashing config; the recorded serialization is checked too (`shard_size` an
/// integer). Controls: the API refuses a mismatched config.
#[test]
fn tollgate_shard_and_blake_signatures_verify_with_the_model_signing_api() {
    let mut requests = Vec::new();
    let mut expect: Vec<(String, bool)> = Vec::new();
    let mut models = Vec::new();
    for (label, model) in [
        ("bundled", bundled_copy()),
        ("generated", generated_model()),
    ] {
        for (i, s) in API_SERIALIZATIONS.iter().enumerate() {
            let sig = model.outside().join(format!("api-{i}.sig"));
            tollgate_sign(model.path(), &sig, Signer::Key, s.args);
            let ser = &statement(&sig)["predicate"]["serialization"];
            let method = if s.shard_size.is_some() {
                "shards"
            } else {
                "files"
            };
            assert_eq!(ser["method"], method, "{label} {}: {ser}", s.label);
            assert_eq!(ser["hash_type"], s.hash_type, "{label} {}: {ser}", s.label);
            if let Some(n) = s.shard_size {
                assert_eq!(
                    ser["shard_size"],
                    json!(n),
                    "{label} {}: integer shard_size: {ser}",
                    s.label
                );
            }
            requests.push(ms_api_verify(
                model.path(),
                &sig,
                Signer::Key,
                s.algorithm,
                s.shard_size,
            ));
            expect.push((format!("{label}: {}", s.label), true));
            if i == 0 {
                // Control: the 64-byte shard signature does not verify as files.
                requests.push(ms_api_verify(
                    model.path(),
                    &sig,
                    Signer::Key,
                    "sha256",
                    None,
                ));
                expect.push((
                    format!("{label}: {} verified as files (control)", s.label),
                    false,
                ));
            }
        }
        // Certificate method with shards.
        let sig = model.outside().join("cert-shards.sig");
        tollgate_sign(
            model.path(),
            &sig,
            Signer::Certificate,
            &["--shard-size", "64"],
        );
        requests.push(ms_api_verify(
            model.path(),
            &sig,
            Signer::Certificate,
            "sha256",
            Some(64),
        ));
        expect.push((format!("{label}: certificate, shards 64"), true));

        // Signature inside the model with shards: the API applies the recorded ignore_paths.
        let inside = copy_of(&model);
        let sig = inside.join("model.sig");
        tollgate_sign(inside.path(), &sig, Signer::Key, &["--shard-size", "64"]);
        requests.push(ms_api_verify(
            inside.path(),
            &sig,
            Signer::Key,
            "sha256",
            Some(64),
        ));
        expect.push((
            format!("{label}: shards 64, signature inside the model"),
            true,
        ));

        // Control: a BLAKE3 signature does not verify as BLAKE2b.
        let sig = model
            .outside()
            .join(format!("api-{}.sig", API_SERIALIZATIONS.len() - 1));
        requests.push(ms_api_verify(
            model.path(),
            &sig,
            Signer::Key,
            "blake2b",
            None,
        ));
        expect.push((
            format!("{label}: blake3 verified as blake2b (control)"),
            false,
        ));
        models.extend([model, inside]);
    }
    let answers = model_signing(&requests);
    for ((what, ok), answer) in expect.iter().zip(&answers) {
        if *ok {
            assert_ms_ok(answer, what);
        } else {
            assert_ms_refused(answer, what, &["Signature mismatch"]);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// 2. model_signing signs, tollgate verifies; tampering is caught whoever signed

/// A file to change in place, and a non-empty file to remove (empty files have no shard, so
/// removing one is invisible in shard mode).
struct TamperTargets {
    change: &'static str,
    change_at: usize,
    remove: &'static str,
}

const BUNDLED_TARGETS: TamperTargets = TamperTargets {
    change: "config.json",
    change_at: 70,
    remove: "tokenizer/vocab.txt",
};
const GENERATED_TARGETS: TamperTargets = TamperTargets {
    change: "weights/model-00001-of-00002.safetensors",
    change_at: 100,
    remove: "tokenizer/merges.txt",
};

/// Changes one byte of `targets.change`, adds `added.bin`, removes `targets.remove`, each on
/// its own copy of `model`, and asserts every signature then fails to verify with exit 1,
/// naming the file.
fn assert_tampering_caught(
    model: &Model,
    targets: &TamperTargets,
    signatures: &[(String, PathBuf, Trust)],
) {
    let changed = copy_of(model);
    let mut bytes = fs::read(changed.join(targets.change)).unwrap();
    bytes[targets.change_at] ^= 0x01;
    fs::write(changed.join(targets.change), bytes).unwrap();
    let added = copy_of(model);
    added.file("added.bin", b"not signed");
    let removed = copy_of(model);
    fs::remove_file(removed.join(targets.remove)).unwrap();

    for (what, sig, trust) in signatures {
        for (copy, name, says) in [
            (&changed, targets.change, "digest mismatch"),
            (&added, "added.bin", "extra file"),
            (&removed, targets.remove, "missing"),
        ] {
            let run = tollgate_verify(copy.path(), sig, trust, &[]);
            assert_not_verified(&run, &[]);
            assert!(
                run.stdout
                    .lines()
                    .any(|l| l.starts_with(name) && l.contains(says)),
                "{what}: expected a line naming {name} with {says:?}\n{}",
                show(&run)
            );
        }
    }
}

/// model_signing's CLI (`sign key`, `sign certificate` with the intermediate as chain, and a
/// signature inside the model) and API (shards, BLAKE2b, BLAKE3, certificate with shards) sign;
/// `tollgate verify model` says verified, and refuses each after tampering.
#[test]
fn model_signing_signatures_verify_with_tollgate_and_tampering_is_caught() {
    struct Made<'a> {
        what: String,
        sig: PathBuf,
        model: &'a Path,
        signer: Signer,
        /// Index into `models` for the tampering checks; `None` for signatures inside a model.
        tamper: Option<usize>,
    }
    let models = [
        (bundled_copy(), BUNDLED_TARGETS),
        (generated_model(), GENERATED_TARGETS),
    ];
    let insides: Vec<Model> = models.iter().map(|(m, _)| copy_of(m)).collect();
    let mut requests = Vec::new();
    let mut made = Vec::new();
    for (index, (model, _)) in models.iter().enumerate() {
        let m = model.path();
        let out = model.outside();
        let label = ["bundled", "generated"][index];
        let mut add = |request: Value, what: String, sig: PathBuf, signer: Signer| {
            requests.push(request);
            made.push(Made {
                what: format!("{label}: {what}"),
                sig,
                model: m,
                signer,
                tamper: Some(index),
            });
        };
        let sig = out.join("ms-cli-key.sig");
        add(
            ms_cli(json!([
                "sign",
                "key",
                "--private_key",
                signing_key(),
                "--signature",
                sig,
                m
            ])),
            "CLI sign key".into(),
            sig,
            Signer::Key,
        );
        let sig = out.join("ms-cli-cert.sig");
        add(
            ms_cli(json!([
                "sign",
                "certificate",
                "--private_key",
                pki("signing-key.pem"),
                "--signing_certificate",
                pki("signing-cert.pem"),
                "--certificate_chain",
                pki("intermediate-ca.pem"),
                "--signature",
                sig,
                m
            ])),
            "CLI sign certificate".into(),
            sig,
            Signer::Certificate,
        );
        for (i, s) in API_SERIALIZATIONS.iter().enumerate() {
            let sig = out.join(format!("ms-api-{i}.sig"));
            add(
                json!({
                    "cmd": "sign", "model": m, "signature": sig, "method": "key",
                    "private_key": signing_key(), "algorithm": s.algorithm,
                    "shard_size": s.shard_size,
                }),
                format!("API sign key, {}", s.label),
                sig,
                Signer::Key,
            );
        }
        let sig = out.join("ms-api-cert-shards.sig");
        add(
            json!({
                "cmd": "sign", "model": m, "signature": sig, "method": "certificate",
                "private_key": pki("signing-key.pem"),
                "signing_certificate": pki("signing-cert.pem"),
                "certificate_chain": [pki("intermediate-ca.pem")],
                "algorithm": "sha256", "shard_size": 64,
            }),
            "API sign certificate, shards 64".into(),
            sig,
            Signer::Certificate,
        );
    }
    // The CLI signing into the model (it ignores its own --signature and records it).
    for (index, inside) in insides.iter().enumerate() {
        let sig = inside.join("model.sig");
        requests.push(ms_cli(json!([
            "sign",
            "key",
            "--private_key",
            signing_key(),
            "--signature",
            sig,
            inside.path()
        ])));
        made.push(Made {
            what: format!(
                "{}: CLI sign key, signature inside the model",
                ["bundled", "generated"][index]
            ),
            sig,
            model: inside.path(),
            signer: Signer::Key,
            tamper: None,
        });
    }

    let answers = model_signing(&requests);
    let mut by_model: [Vec<(String, PathBuf, Trust)>; 2] = [Vec::new(), Vec::new()];
    for (m, answer) in made.iter().zip(&answers) {
        assert_ms_ok(answer, &m.what);
        let run = tollgate_verify(m.model, &m.sig, &Trust::of(m.signer), &[]);
        assert_verified(&run);
        let signer = match m.signer {
            Signer::Key => "signed by key sha256:",
            Signer::Certificate => "signed by certificate CN=model-signer@example.com",
        };
        assert!(run.stdout.contains(signer), "{}: {}", m.what, show(&run));
        match m.tamper {
            Some(index) => {
                by_model[index].push((m.what.clone(), m.sig.clone(), Trust::of(m.signer)))
            }
            None => assert!(
                ignore_paths(&m.sig).iter().any(|p| p == "model.sig"),
                "{}: model_signing did not record model.sig in ignore_paths",
                m.what
            ),
        }
    }
    // model_signing writes shard_size as a float; tollgate read it (above).
    let shards =
        &statement(&models[0].0.outside().join("ms-api-0.sig"))["predicate"]["serialization"];
    assert_eq!(
        shards["shard_size"],
        json!(64.0),
        "model_signing's float shard_size: {shards}"
    );

    for ((model, targets), sigs) in models.iter().zip(&by_model) {
        assert_tampering_caught(model, targets, sigs);
    }
}

/// tollgate's own signatures (every serialization; key, and certificate for files and shards)
/// refuse a changed, an added and a removed file.
#[test]
fn tollgate_signatures_catch_tampering() {
    for (model, targets) in [
        (bundled_copy(), BUNDLED_TARGETS),
        (generated_model(), GENERATED_TARGETS),
    ] {
        let mut sigs = Vec::new();
        let mut serializations: Vec<(&str, &[&str])> = vec![("files sha256", &[])];
        serializations.extend(API_SERIALIZATIONS.iter().map(|s| (s.label, s.args)));
        for (i, (label, args)) in serializations.into_iter().enumerate() {
            // Key for every serialization, the certificate method for two.
            let signers: &[Signer] = if i < 2 {
                &[Signer::Key, Signer::Certificate]
            } else {
                &[Signer::Key]
            };
            for &signer in signers {
                let sig = model.outside().join(format!("tg-{i}-{signer:?}.sig"));
                tollgate_sign(model.path(), &sig, signer, args);
                assert_verified(&tollgate_verify(
                    model.path(),
                    &sig,
                    &Trust::of(signer),
                    &[],
                ));
                sigs.push((
                    format!("tollgate {signer:?} {label}"),
                    sig,
                    Trust::of(signer),
                ));
            }
        }
        assert_tampering_caught(&model, &targets, &sigs);
    }
}

// ---------------------------------------------------------------------------------------------
// 3. tollgate verify model refusals

#[test]
fn wrong_key_is_a_key_mismatch() {
    let run = tollgate_verify(
        &signed_model(),
        &vector("key.sig"),
        &Trust::Key(other_pub()),
        &[],
    );
    assert_not_verified(&run, &["key.sig", "key mismatch", "publicKey.hint"]);
}

#[test]
fn certificate_signature_with_a_key_says_to_use_ca_and_vice_versa() {
    let run = tollgate_verify(
        &signed_model(),
        &vector("certificate.sig"),
        &Trust::Key(signing_pub()),
        &[],
    );
    assert_not_verified(&run, &["made with a certificate", "--ca"]);
    let run = tollgate_verify(
        &signed_model(),
        &vector("key.sig"),
        &Trust::Ca(pki("root-ca.pem")),
        &[],
    );
    assert_not_verified(&run, &["plain key", "--key"]);
}

#[test]
fn only_the_intermediate_as_ca_fails() {
    let run = tollgate_verify(
        &signed_model(),
        &vector("certificate.sig"),
        &Trust::Ca(pki("intermediate-ca.pem")),
        &[],
    );
    assert_not_verified(
        &run,
        &[
            "no path from signing certificate",
            "root CA",
            "not self-signed",
        ],
    );
}

#[test]
fn at_outside_the_leaf_validity_fails() {
    let ca = Trust::Ca(pki("root-ca.pem"));
    let cert = vector("certificate.sig");
    // The edges themselves are inside.
    for at in [LEAF_NOT_BEFORE, "2030-06-01T00:00:00Z"] {
        assert_verified(&tollgate_verify(&signed_model(), &cert, &ca, &["--at", at]));
    }
    let run = tollgate_verify(
        &signed_model(),
        &cert,
        &ca,
        &["--at", "2026-11-27T10:54:41Z"],
    );
    assert_not_verified(
        &run,
        &["signing certificate", "not valid before", LEAF_NOT_BEFORE],
    );
    let run = tollgate_verify(
        &signed_model(),
        &cert,
        &ca,
        &["--at", "2036-11-24T10:54:43Z"],
    );
    assert_not_verified(&run, &["signing certificate", "expired at", LEAF_NOT_AFTER]);
    let run = tollgate_verify(
        &signed_model(),
        &cert,
        &ca,
        &["--at", "2040-01-01T00:00:00Z"],
    );
    assert_not_verified(&run, &["expired at"]);
    // Not a time: a usage error.
    tollgate_verify(&signed_model(), &cert, &ca, &["--at", "next tuesday"])
        .assert_input_error(&["--at", "RFC 3339"]);
}

/// `vector(name)` as JSON, edited and written to a temporary file.
fn edited_vector(name: &str, edit: impl FnOnce(&mut Value)) -> (tempfile::TempDir, PathBuf) {
    let mut bundle: Value = serde_json::from_slice(&fs::read(vector(name)).unwrap()).unwrap();
    edit(&mut bundle);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(name);
    fs::write(&path, serde_json::to_vec(&bundle).unwrap()).unwrap();
    (dir, path)
}

#[test]
fn unknown_bundle_media_type_is_refused() {
    let (_dir, sig) = edited_vector("key.sig", |b| {
        b["mediaType"] = json!("application/vnd.dev.sigstore.bundle.v9+json");
    });
    let run = tollgate_verify(&signed_model(), &sig, &Trust::Key(signing_pub()), &[]);
    assert_not_verified(&run, &["unknown mediaType", "bundle.v9+json"]);
    // Control: the unedited re-serialization verifies.
    let (_dir, same) = edited_vector("key.sig", |_| {});
    assert_verified(&tollgate_verify(
        &signed_model(),
        &same,
        &Trust::Key(signing_pub()),
        &[],
    ));
}

#[test]
fn huge_signature_file_is_refused_without_reading_it() {
    let dir = tempfile::tempdir().unwrap();
    let sig = dir.path().join("huge.sig");
    fs::File::create(&sig).unwrap().set_len(100 << 20).unwrap();
    let start = Instant::now();
    let run = Tollgate::new(["verify", "model"])
        .arg(signed_model())
        .arg("--signature")
        .arg(&sig)
        .arg("--key")
        .arg(signing_pub())
        .timeout(Duration::from_secs(30))
        .run();
    let took = start.elapsed();
    assert_not_verified(&run, &["huge.sig", "larger than 67108864 bytes"]);
    assert!(
        took < Duration::from_secs(5),
        "took {took:?}\n{}",
        show(&run)
    );
}

#[test]
fn garbage_signature_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    for (name, content) in [
        ("text.sig", &b"this is not a signature\n"[..]),
        ("cut.sig", &fs::read(vector("key.sig")).unwrap()[..200]),
        ("empty.sig", b""),
        ("array.sig", b"[1, 2, 3]"),
    ] {
        let sig = dir.path().join(name);
        fs::write(&sig, content).unwrap();
        let run = tollgate_verify(&signed_model(), &sig, &Trust::Key(signing_pub()), &[]);
        assert_not_verified(&run, &[name, "bundle"]);
    }
    // A missing signature file is no answer at all: exit 2.
    tollgate_verify(
        &signed_model(),
        &dir.path().join("absent.sig"),
        &Trust::Key(signing_pub()),
        &[],
    )
    .assert_input_error(&["absent.sig", "cannot read bundle"]);
}

#[test]
fn changed_payload_type_fails_the_signature() {
    // The PAE covers payloadType: changing it breaks the signature.
    let (_dir, sig) = edited_vector("key.sig", |b| {
        b["dsseEnvelope"]["payloadType"] = json!("application/json");
    });
    let run = tollgate_verify(&signed_model(), &sig, &Trust::Key(signing_pub()), &[]);
    assert_not_verified(&run, &["dsse signature does not verify"]);
    let (_dir, sig) = edited_vector("certificate.sig", |b| {
        b["dsseEnvelope"]["payloadType"] = json!("application/vnd.in-toto+json; x=1");
    });
    let run = tollgate_verify(&signed_model(), &sig, &Trust::Ca(pki("root-ca.pem")), &[]);
    assert_not_verified(&run, &["dsse signature does not verify"]);
}

#[test]
fn ignore_unsigned_files() {
    let model = bundled_copy();
    let sig = vector("key.sig");
    let trust = Trust::Key(signing_pub());
    model.file("unsigned.txt", b"added after signing");
    assert_not_verified(
        &tollgate_verify(model.path(), &sig, &trust, &[]),
        &["unsigned.txt: extra file"],
    );
    assert_verified(&tollgate_verify(
        model.path(),
        &sig,
        &trust,
        &["--ignore-unsigned-files"],
    ));
    // A signed file missing is still a failure.
    fs::remove_file(model.join("LICENSE")).unwrap();
    let run = tollgate_verify(model.path(), &sig, &trust, &["--ignore-unsigned-files"]);
    assert_not_verified(&run, &["LICENSE: missing"]);
    // Also in shard mode.
    let run = tollgate_verify(
        model.path(),
        &vector("key-shards64.sig"),
        &trust,
        &["--ignore-unsigned-files"],
    );
    assert_not_verified(&run, &["LICENSE:0:28: missing"]);
}

/// stdout of `run` as JSON (whatever the exit code).
fn stdout_json(run: &Run) -> Value {
    serde_json::from_str(&run.stdout)
        .unwrap_or_else(|e| panic!("stdout is not JSON: {e}\n{}", show(run)))
}

#[test]
fn json_output_on_success_and_failure() {
    let json = ["--output", "json"];
    let model = bundled_copy();
    let run = tollgate_verify(
        model.path(),
        &vector("key-shards64.sig"),
        &Trust::Key(signing_pub()),
        &json,
    );
    let v = run.json();
    assert_eq!(v["verified"], true, "{v}");
    assert_eq!(v["serialization"]["method"], "shards", "{v}");
    assert!(
        v["signer"]
            .as_str()
            .unwrap_or_default()
            .starts_with("key sha256:"),
        "{v}"
    );
    let run = tollgate_verify(
        model.path(),
        &vector("certificate.sig"),
        &Trust::Ca(pki("root-ca.pem")),
        &json,
    );
    assert_eq!(run.json()["verified"], true);

    // Failure: a changed file.
    model.file("config.json", b"{}");
    let run = tollgate_verify(
        model.path(),
        &vector("key.sig"),
        &Trust::Key(signing_pub()),
        &json,
    );
    run.assert_code(1);
    let v = stdout_json(&run);
    assert_eq!(v["verified"], false, "{v}");
    let changed = v["differences"]["changed"]
        .as_array()
        .expect("differences.changed");
    assert!(changed.iter().any(|c| c["name"] == "config.json"), "{v}");
    // Failure: the signature itself.
    let run = tollgate_verify(
        model.path(),
        &vector("key.sig"),
        &Trust::Key(other_pub()),
        &json,
    );
    run.assert_code(1);
    let v = stdout_json(&run);
    assert_eq!(v["verified"], false, "{v}");
    assert!(
        v["error"]
            .as_str()
            .unwrap_or_default()
            .contains("key mismatch"),
        "{v}"
    );
}

/// `tollgate keygen` with a password, then `sign model` with the right, a wrong and no password.
#[test]
fn sign_with_an_encrypted_key_needs_its_password() {
    let model = bundled_copy();
    let prefix = model.outside().join("enc");
    Tollgate::new(["keygen", "--output"])
        .arg(&prefix)
        .env("TOLLGATE_PASSWORD", "pw")
        .run()
        .ok();
    let key_file = model.outside().join("enc.key");
    let pem = fs::read_to_string(&key_file).unwrap();
    assert!(
        pem.starts_with("-----BEGIN ENCRYPTED PRIVATE KEY-----"),
        "{pem}"
    );
    let sign = |sig: &Path| {
        Tollgate::new(["sign", "model"])
            .arg(model.path())
            .arg("--key")
            .arg(&key_file)
            .arg("--signature")
            .arg(sig)
    };

    let good = model.outside().join("good.sig");
    sign(&good).env("TOLLGATE_PASSWORD", "pw").run().ok();
    assert_verified(&tollgate_verify(
        model.path(),
        &good,
        &Trust::Key(model.outside().join("enc.pub")),
        &[],
    ));

    let bad = model.outside().join("bad.sig");
    sign(&bad)
        .env("TOLLGATE_PASSWORD", "not-pw")
        .run()
        .assert_input_error(&["wrong password", "enc.key"]);
    assert!(!bad.exists(), "a failed sign left {}", bad.display());

    // No password in the environment and stdin not a terminal (it is /dev/null).
    let (mut cmd, guard) = sign(&bad).command();
    cmd.env_remove("TOLLGATE_PASSWORD")
        .env_remove("COSIGN_PASSWORD")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let run = Running::spawn(
        &mut cmd,
        "tollgate sign model (no password)".into(),
        DEFAULT_TIMEOUT,
        guard,
    )
    .wait();
    run.assert_input_error(&["enc.key", "encrypted", "TOLLGATE_PASSWORD", "terminal"]);
    assert!(!bad.exists(), "a failed sign left {}", bad.display());
    let left: Vec<_> = fs::read_dir(model.outside())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains(".tmp"))
        .collect();
    assert!(left.is_empty(), "temporary files left behind: {left:?}");
}

// ---------------------------------------------------------------------------------------------
// 4. The bundled vectors

const VECTORS: [&str; 9] = [
    "key.sig",
    "certificate.sig",
    "key-shards64.sig",
    "key-shards-default.sig",
    "key-blake2.sig",
    "key-blake3.sig",
    "reimpl-key.sig",
    "reimpl-key-shards64.sig",
    "reimpl-certificate.sig",
];

fn is_certificate(name: &str) -> bool {
    name.contains("certificate")
}

#[test]
fn every_vector_verifies_with_the_cli() {
    for name in VECTORS {
        let trust = if is_certificate(name) {
            Trust::Ca(pki("root-ca.pem"))
        } else {
            Trust::Key(signing_pub())
        };
        assert_verified(&tollgate_verify(
            &signed_model(),
            &vector(name),
            &trust,
            &[],
        ));
    }
}

#[test]
fn every_vector_fails_with_the_wrong_key_or_only_the_intermediate() {
    for name in VECTORS {
        let (trust, says) = if is_certificate(name) {
            (
                Trust::Ca(pki("intermediate-ca.pem")),
                "no path from signing certificate",
            )
        } else {
            (Trust::Key(other_pub()), "key mismatch")
        };
        assert_not_verified(
            &tollgate_verify(&signed_model(), &vector(name), &trust, &[]),
            &[name, says],
        );
    }
}
