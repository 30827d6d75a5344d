//! `tollgate sign blob` / `tollgate verify blob` against cosign 2.5.0, both directions, and the
//! captured cosign vectors in `testdata/cosign` (signed by `test-only-c.key`). A missing cosign
//! fails the test; `scripts/install-cosign` installs it.

use std::fs;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use base64::Engine as _;
use tollgate_e2e::{Run, Tollgate, cosign_bin, testdata};

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;
const PASSWORD: &str = "blob test password";

/// `tollgate ARGS` with only the password variables in `env` (none inherited).
fn tollgate(args: &[&str], env: &[(&str, &str)]) -> Run {
    let mut t = Tollgate::new(args);
    for (k, v) in env {
        t = t.env(k, v);
    }
    let run = t.run();
    run.assert_no_panic();
    run
}

/// Runs cosign with `COSIGN_PASSWORD` (and nothing that makes it go online).
fn run_cosign(args: &[&str], password: &str) -> Output {
    Command::new(cosign_bin())
        .args(args)
        .env("COSIGN_PASSWORD", password)
        .env_remove("TOLLGATE_PASSWORD")
        .stdin(Stdio::null())
        .output()
        .expect("run cosign")
}

fn cosign_ok(args: &[&str], password: &str) -> Output {
    let out = run_cosign(args, password);
    assert!(
        out.status.success(),
        "cosign {} failed ({}):\n{}{}",
        args.join(" "),
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn vector(name: &str) -> String {
    testdata(&format!("cosign/{name}"))
        .to_str()
        .unwrap()
        .to_owned()
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// `tollgate verify blob BLOB --key PUB FORM...`: exit code, after checking the output line.
fn verify(blob: &str, key: &str, form: &[&str]) -> i32 {
    let mut args = vec!["verify", "blob", blob, "--key", key];
    args.extend_from_slice(form);
    let run = tollgate(&args, &[]);
    match run.code {
        Some(0) => assert!(run.stdout.starts_with("verified: "), "{}", run.stdout),
        Some(1) => assert!(
            run.stdout.starts_with("verification failed: "),
            "{}",
            run.stdout
        ),
        _ => panic!("unexpected exit\n{run:?}"),
    }
    run.code.unwrap()
}

/// A cosign-format key pair made by `tollgate keygen`: (private, public).
fn keygen(dir: &Path, algorithm: &str) -> (String, String) {
    let prefix = dir.join(algorithm);
    tollgate(
        &[
            "keygen",
            "--format",
            "cosign",
            "-a",
            algorithm,
            "-o",
            s(&prefix),
        ],
        &[("COSIGN_PASSWORD", PASSWORD)],
    )
    .assert_code(0);
    (format!("{}.key", s(&prefix)), format!("{}.pub", s(&prefix)))
}

#[test]
fn cosign_vectors_verify_with_the_right_key_only() {
    let dir = tempfile::tempdir().unwrap();
    let blob = vector("blob.bin");
    let tampered = dir.path().join("blob.bin");
    let mut bytes = fs::read(&blob).unwrap();
    bytes[3] ^= 0x20;
    fs::write(&tampered, bytes).unwrap();
    let mut sig = B64.decode(fs::read(vector("blob.sig")).unwrap()).unwrap();
    sig[10] ^= 1;
    let bad_sig = dir.path().join("bad.sig");
    fs::write(&bad_sig, B64.encode(&sig)).unwrap();

    let (c, a) = (vector("test-only-c.pub"), vector("test-only-a.pub"));
    for form in [
        ["--signature", &vector("blob.sig")],
        ["--bundle", &vector("blob.cosign-bundle.json")],
        ["--bundle", &vector("blob.sigstore.json")],
    ] {
        assert_eq!(verify(&blob, &c, &form), 0, "{form:?}");
        assert_eq!(verify(&blob, &a, &form), 1, "{form:?}");
        assert_eq!(verify(s(&tampered), &c, &form), 1, "{form:?}");
    }
    assert_eq!(verify(&blob, &c, &["--signature", s(&bad_sig)]), 1);

    let json = tollgate(
        &[
            "verify",
            "blob",
            &blob,
            "--key",
            &c,
            "--bundle",
            &vector("blob.sigstore.json"),
            "--output",
            "json",
        ],
        &[],
    )
    .json();
    assert_eq!(json["verified"], true);
    assert_eq!(json["format"], "sigstore-bundle");
    assert_eq!(
        json["sha256"],
        "sha256:1bca07cbccf8b088e3f7ce36bbc536d67bb419d5c960782cb7a4a55e9aaf8091"
    );
    let failed = tollgate(
        &[
            "verify",
            "blob",
            &blob,
            "--key",
            &a,
            "--signature",
            &vector("blob.sig"),
            "--output",
            "json",
        ],
        &[],
    );
    failed.assert_code(1);
    let failed: serde_json::Value = serde_json::from_str(&failed.stdout).unwrap();
    assert_eq!(failed["verified"], false);
    assert!(
        failed["error"]
            .as_str()
            .unwrap()
            .contains("does not verify")
    );
}

#[test]
fn cosign_verifies_tollgate_blob_signatures() {
    let dir = tempfile::tempdir().unwrap();
    let blob = dir.path().join("weights.bin");
    fs::write(&blob, tollgate_e2e::bytes(300_000, 7)).unwrap();
    let blob = s(&blob);
    let mut keys = vec![(
        vector("test-only-c.key"),
        vector("test-only-c.pub"),
        "pw-c".to_owned(),
    )];
    for algorithm in ["ecdsa-p384", "ed25519", "rsa-3072"] {
        let (key, public) = keygen(dir.path(), algorithm);
        keys.push((key, public, PASSWORD.to_owned()));
    }
    let trusted_root = vector("empty-trusted-root.json");
    for (i, (key, public, password)) in keys.iter().enumerate() {
        let out = |name: &str| s(&dir.path().join(format!("{i}-{name}"))).to_owned();
        let (sig, legacy, sigstore) = (out("sig"), out("bundle"), out("sigstore.json"));
        let env = [("COSIGN_PASSWORD", password.as_str())];
        // Default: the base64 signature on stdout, as cosign prints it.
        let printed = tollgate(&["sign", "blob", blob, "--key", key], &env);
        let printed = printed.ok().to_owned();
        assert!(printed.ends_with('\n') && !printed.trim_end().contains('\n'));
        B64.decode(printed.trim_end()).expect("stdout is base64");
        tollgate(
            &[
                "sign",
                "blob",
                blob,
                "--key",
                key,
                "--output-signature",
                &sig,
                "--bundle",
                &legacy,
            ],
            &env,
        )
        .assert_code(0);
        tollgate(
            &[
                "sign",
                "blob",
                blob,
                "--key",
                key,
                "--bundle",
                &sigstore,
                "--new-bundle-format",
            ],
            &env,
        )
        .assert_code(0);
        // Legacy bundle: exactly {"base64Signature":"…"}; the file signature has no newline.
        let legacy_text = fs::read_to_string(&legacy).unwrap();
        let b64 = legacy_text
            .strip_prefix("{\"base64Signature\":\"")
            .and_then(|t| t.strip_suffix("\"}"))
            .unwrap_or_else(|| panic!("legacy bundle layout: {legacy_text}"));
        B64.decode(b64).unwrap();
        assert!(!fs::read_to_string(&sig).unwrap().contains('\n'));
        let sigstore_text = fs::read_to_string(&sigstore).unwrap();
        assert!(
            sigstore_text.starts_with(
                "{\"mediaType\":\"application/vnd.dev.sigstore.bundle.v0.3+json\",\"verificationMaterial\":{\"publicKey\":{\"hint\":\""
            ) && !sigstore_text.contains("tlogEntries"),
            "{sigstore_text}"
        );

        let printed_sig = out("printed.sig");
        fs::write(&printed_sig, &printed).unwrap();
        for args in [
            vec!["--signature", sig.as_str()],
            vec!["--signature", &printed_sig],
            vec!["--bundle", &legacy],
            vec![
                "--bundle",
                &sigstore,
                "--new-bundle-format",
                "--trusted-root",
                &trusted_root,
            ],
        ] {
            let mut full = vec!["verify-blob", "--key", public.as_str()];
            full.extend(args.iter().copied());
            full.extend(["--insecure-ignore-tlog", blob]);
            cosign_ok(&full, "");
            // And we accept what we wrote.
            assert_eq!(verify(blob, public, &args[..2]), 0, "{key} {args:?}");
        }
    }
}

#[test]
fn tollgate_verifies_cosign_blob_signatures() {
    let dir = tempfile::tempdir().unwrap();
    let blob = dir.path().join("weights.bin");
    fs::write(&blob, tollgate_e2e::bytes(200_000, 3)).unwrap();
    let tampered = dir.path().join("tampered.bin");
    let mut bytes = fs::read(&blob).unwrap();
    bytes[150_000] ^= 1;
    fs::write(&tampered, bytes).unwrap();
    let (blob, tampered) = (s(&blob), s(&tampered));
    let (p384, p384_pub) = keygen(dir.path(), "ecdsa-p384");
    let (ed, ed_pub) = keygen(dir.path(), "ed25519");
    let keys = [
        (vector("test-only-a.key"), vector("test-only-a.pub"), "pw-a"),
        (p384, p384_pub, PASSWORD),
        (ed, ed_pub, PASSWORD),
    ];
    let other = vector("test-only-c.pub");
    for (i, (key, public, password)) in keys.iter().enumerate() {
        let out = |name: &str| s(&dir.path().join(format!("{i}-{name}"))).to_owned();
        let (sig, raw, legacy, sigstore) = (
            out("sig"),
            out("sig.der"),
            out("bundle"),
            out("sigstore.json"),
        );
        let sign = |extra: &[&str]| {
            let mut args = vec!["sign-blob", "--key", key, "--tlog-upload=false", "--yes"];
            args.extend_from_slice(extra);
            args.push(blob);
            cosign_ok(&args, password);
        };
        sign(&["--output-signature", &sig, "--bundle", &legacy]);
        sign(&["--output-signature", &raw, "--b64=false"]);
        sign(&["--new-bundle-format", "--bundle", &sigstore]);
        for form in [
            ["--signature", sig.as_str()],
            ["--signature", &raw],
            ["--bundle", &legacy],
            ["--bundle", &sigstore],
        ] {
            assert_eq!(verify(blob, public, &form), 0, "{key} {form:?}");
            assert_eq!(verify(tampered, public, &form), 1, "{key} {form:?}");
            assert_eq!(verify(blob, &other, &form), 1, "{key} {form:?}");
        }
    }
}

#[test]
fn refusals_and_input_errors() {
    let dir = tempfile::tempdir().unwrap();
    let blob = vector("blob.bin");
    let c = vector("test-only-c.pub");
    // A certificate in the bundle with --key: keyless, not a key signature (exit 1, says so).
    let keyless = dir.path().join("keyless.json");
    let text = fs::read_to_string(vector("blob.sigstore.json")).unwrap();
    let start = text.find("\"publicKey\"").unwrap();
    let end = text[start..].find("}").unwrap() + start + 1;
    fs::write(
        &keyless,
        format!(
            "{}\"certificate\":{{\"rawBytes\":\"MAA=\"}}{}",
            &text[..start],
            &text[end..]
        ),
    )
    .unwrap();
    let run = tollgate(
        &[
            "verify",
            "blob",
            &blob,
            "--key",
            &c,
            "--bundle",
            s(&keyless),
        ],
        &[],
    );
    run.assert_code(1);
    assert!(
        run.stdout.contains("verify it with --certificate-identity"),
        "{}",
        run.stdout
    );

    // Usage and input errors: exit 2, nothing on stdout.
    let missing = s(&dir.path().join("missing")).to_owned();
    tollgate(
        &[
            "verify",
            "blob",
            &missing,
            "--key",
            &c,
            "--signature",
            &vector("blob.sig"),
        ],
        &[],
    )
    .assert_input_error(&["missing"]);
    tollgate(&["verify", "blob", &blob, "--key", &c], &[]).assert_input_error(&[]);
    tollgate(
        &[
            "verify",
            "blob",
            &blob,
            "--key",
            &c,
            "--signature",
            &vector("blob.sig"),
            "--bundle",
            &vector("blob.sigstore.json"),
        ],
        &[],
    )
    .assert_input_error(&[]);
    tollgate(
        &["sign", "blob", &blob, "--key", &vector("test-only-c.key")],
        &[("COSIGN_PASSWORD", "wrong")],
    )
    .assert_input_error(&["wrong password"]);
    tollgate(
        &[
            "sign",
            "blob",
            s(dir.path()),
            "--key",
            &vector("test-only-c.key"),
        ],
        &[("COSIGN_PASSWORD", "pw-c")],
    )
    .assert_input_error(&["not a regular file"]);
    tollgate(
        &["sign", "blob", &blob, "--key", &c, "--new-bundle-format"],
        &[],
    )
    .assert_input_error(&["--bundle"]);
}
