//! Key files made by `tollgate keygen` against the real peers: OpenSSL reads our encrypted
//! PKCS#8, cosign 2.5.0 reads our cosign keys (and we read cosign's), SoftHSM serves a key to
//! `tollgate key inspect pkcs11:...`. A missing peer fails the test; `scripts/install-cosign`
//! and `scripts/install-softhsm` install them.

use std::fs;
use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use serde_json::Value;
use tollgate_e2e::{Run, Tollgate, cosign_bin, require_tool, testdata};

const PASSWORD: &str = "correct horse battery staple";

/// `tollgate ARGS` with no password variables inherited from the caller's environment.
fn tollgate(args: &[&str], dir: &Path, env: &[(&str, &str)]) -> Run {
    let mut t = Tollgate::new(args).current_dir(dir);
    for (k, v) in env {
        t = t.env(k, v);
    }
    let run = t.run();
    run.assert_no_panic();
    run
}

fn run_ok(cmd: &mut Command) -> Output {
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed ({}):\n{}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn inspect_json(path: &Path, env: &[(&str, &str)]) -> Value {
    let run = tollgate(
        &["key", "inspect", path.to_str().unwrap(), "--output", "json"],
        Path::new("/"),
        env,
    );
    run.assert_code(0);
    serde_json::from_str(&run.stdout).expect("key inspect --output json")
}

#[test]
fn openssl_reads_keygen_pkcs8_keys() {
    require_tool("openssl", "openssl");
    let dir = tempfile::tempdir().unwrap();
    for algorithm in [
        "ecdsa-p256",
        "ecdsa-p384",
        "ecdsa-p521",
        "ed25519",
        "rsa-3072",
    ] {
        let prefix = dir.path().join(algorithm);
        let prefix = prefix.to_str().unwrap();
        tollgate(
            &["keygen", "-a", algorithm, "-o", prefix],
            dir.path(),
            &[("TOLLGATE_PASSWORD", PASSWORD)],
        )
        .assert_code(0);
        let key = format!("{prefix}.key");
        let public = fs::read(format!("{prefix}.pub")).unwrap();
        assert_eq!(
            fs::metadata(&key).unwrap().permissions().mode() & 0o777,
            0o600,
            "{key}"
        );
        assert!(
            fs::read_to_string(&key)
                .unwrap()
                .starts_with("-----BEGIN ENCRYPTED PRIVATE KEY-----\n")
        );
        let out = run_ok(
            Command::new("openssl")
                .args(["pkey", "-in", &key, "-passin"])
                .arg(format!("pass:{PASSWORD}"))
                .arg("-pubout"),
        );
        assert_eq!(
            out.stdout, public,
            "{algorithm}: openssl's public key differs from {prefix}.pub"
        );
        let wrong = Command::new("openssl")
            .args(["pkey", "-in", &key, "-passin", "pass:wrong", "-noout"])
            .output()
            .unwrap();
        assert!(!wrong.status.success(), "openssl accepted a wrong password");
    }
    // Unencrypted keys too.
    let prefix = dir.path().join("plain");
    let prefix = prefix.to_str().unwrap();
    tollgate(&["keygen", "--no-password", "-o", prefix], dir.path(), &[]).assert_code(0);
    let out =
        run_ok(Command::new("openssl").args(["pkey", "-in", &format!("{prefix}.key"), "-pubout"]));
    assert_eq!(out.stdout, fs::read(format!("{prefix}.pub")).unwrap());
}

#[test]
fn tollgate_reads_openssl_encrypted_keys() {
    require_tool("openssl", "openssl");
    let dir = tempfile::tempdir().unwrap();
    let plain = dir.path().join("plain.pem");
    run_ok(
        Command::new("openssl")
            .args([
                "genpkey",
                "-algorithm",
                "EC",
                "-pkeyopt",
                "ec_paramgen_curve:P-256",
                "-out",
            ])
            .arg(&plain),
    );
    let public = dir.path().join("plain.pub");
    run_ok(
        Command::new("openssl")
            .arg("pkey")
            .arg("-in")
            .arg(&plain)
            .arg("-pubout")
            .arg("-out")
            .arg(&public),
    );
    let expected = inspect_json(&public, &[])["fingerprint"].clone();
    for (name, args) in [
        ("pbkdf2.pem", &["-v2", "aes-256-cbc"][..]),
        ("scrypt.pem", &["-scrypt"][..]),
    ] {
        let encrypted = dir.path().join(name);
        run_ok(
            Command::new("openssl")
                .args(["pkcs8", "-topk8", "-in"])
                .arg(&plain)
                .args(args)
                .arg("-passout")
                .arg(format!("pass:{PASSWORD}"))
                .arg("-out")
                .arg(&encrypted),
        );
        let report = inspect_json(&encrypted, &[("TOLLGATE_PASSWORD", PASSWORD)]);
        assert_eq!(report["fingerprint"], expected, "{name}");
        assert_eq!(report["format"], "encrypted-pkcs8-pem");
        assert_eq!(report["encrypted"], true);
        let run = tollgate(
            &["key", "inspect", encrypted.to_str().unwrap()],
            dir.path(),
            &[("TOLLGATE_PASSWORD", "wrong")],
        );
        run.assert_code(2);
        assert!(
            run.stderr.contains(&format!(
                "wrong password for {} (or the key file is corrupt)",
                encrypted.display()
            )),
            "{}",
            run.stderr
        );
    }
}

#[test]
fn cosign_reads_keygen_cosign_keys() {
    let cosign = cosign_bin();
    let dir = tempfile::tempdir().unwrap();
    for (algorithm, password) in [
        ("ecdsa-p256", PASSWORD),
        ("ecdsa-p384", ""),
        ("ed25519", PASSWORD),
    ] {
        let prefix = dir.path().join(format!("cosign-{algorithm}"));
        let prefix = prefix.to_str().unwrap();
        let env: &[(&str, &str)] = if password.is_empty() {
            &[]
        } else {
            &[("COSIGN_PASSWORD", password)]
        };
        let mut args = vec![
            "keygen", "--format", "cosign", "-a", algorithm, "-o", prefix,
        ];
        if password.is_empty() {
            args.push("--no-password");
        }
        tollgate(&args, dir.path(), env).assert_code(0);
        let key = format!("{prefix}.key");
        assert!(
            fs::read_to_string(&key)
                .unwrap()
                .starts_with("-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\n")
        );
        let out = run_ok(
            Command::new(&cosign)
                .args(["public-key", "--key", &key])
                .env("COSIGN_PASSWORD", password),
        );
        assert_eq!(
            out.stdout,
            fs::read(format!("{prefix}.pub")).unwrap(),
            "{algorithm}: cosign's public key differs from ours"
        );
        let wrong = Command::new(&cosign)
            .args(["public-key", "--key", &key])
            .env("COSIGN_PASSWORD", "wrong")
            .stdin(Stdio::null())
            .output()
            .unwrap();
        assert!(!wrong.status.success(), "cosign accepted a wrong password");
    }
}

#[test]
fn tollgate_reads_cosign_generated_keys() {
    let cosign = cosign_bin();
    let dir = tempfile::tempdir().unwrap();
    run_ok(
        Command::new(&cosign)
            .args(["generate-key-pair"])
            .current_dir(dir.path())
            .env("COSIGN_PASSWORD", PASSWORD),
    );
    let private = inspect_json(
        &dir.path().join("cosign.key"),
        &[("COSIGN_PASSWORD", PASSWORD)],
    );
    let public = inspect_json(&dir.path().join("cosign.pub"), &[]);
    assert_eq!(private["format"], "cosign");
    assert_eq!(private["kind"], "private");
    assert_eq!(private["algorithm"], "ecdsa-p256");
    assert_eq!(private["fingerprint"], public["fingerprint"]);
    assert_eq!(
        private["public_key_pem"].as_str().unwrap().as_bytes(),
        fs::read(dir.path().join("cosign.pub")).unwrap()
    );
    // TOLLGATE_PASSWORD wins over COSIGN_PASSWORD.
    let run = tollgate(
        &[
            "key",
            "inspect",
            dir.path().join("cosign.key").to_str().unwrap(),
        ],
        dir.path(),
        &[
            ("TOLLGATE_PASSWORD", "wrong"),
            ("COSIGN_PASSWORD", PASSWORD),
        ],
    );
    run.assert_code(2);
}

#[test]
fn keygen_refuses_to_overwrite_and_to_guess_a_password() {
    let dir = tempfile::tempdir().unwrap();
    let run = tollgate(&["keygen"], dir.path(), &[]);
    run.assert_code(2);
    assert!(
        run.stderr
            .contains("set TOLLGATE_PASSWORD or run on a terminal"),
        "{}",
        run.stderr
    );
    assert!(!dir.path().join("tollgate.key").exists());

    tollgate(&["keygen"], dir.path(), &[("TOLLGATE_PASSWORD", PASSWORD)]).assert_code(0);
    let first = fs::read(dir.path().join("tollgate.key")).unwrap();
    let run = tollgate(&["keygen"], dir.path(), &[("TOLLGATE_PASSWORD", PASSWORD)]);
    run.assert_code(2);
    assert!(run.stderr.contains("--force"), "{}", run.stderr);
    assert_eq!(fs::read(dir.path().join("tollgate.key")).unwrap(), first);
    tollgate(&["keygen", "--force", "--no-password"], dir.path(), &[]).assert_code(0);
    assert_ne!(fs::read(dir.path().join("tollgate.key")).unwrap(), first);
    let names: Vec<_> = fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names.len(), 2, "temporary files left behind: {names:?}");

    let run = tollgate(&["keygen", "-a", "rsa-1024"], dir.path(), &[]);
    run.assert_code(2);
}

#[test]
fn key_inspect_reports_test_keys() {
    let public = inspect_json(&testdata("keys/test-only-c.pub"), &[]);
    assert_eq!(public["kind"], "public");
    assert_eq!(public["format"], "spki-pem");
    assert_eq!(public["algorithm"], "ecdsa-p256");
    let private = inspect_json(
        &testdata("keys/test-only-c.key"),
        &[("TOLLGATE_PASSWORD", "pw-c")],
    );
    assert_eq!(private["fingerprint"], public["fingerprint"]);

    // The hint is model_signing's: sha256 of the PEM file as OpenSSL wrote it.
    let pem = testdata("model-signing/keys/signing-key.pub.pem");
    let report = inspect_json(&pem, &[]);
    let sha = run_ok(Command::new("sha256sum").arg(&pem));
    let sha = String::from_utf8(sha.stdout).unwrap();
    assert_eq!(
        report["model_signing_hint"].as_str().unwrap(),
        sha.split_whitespace().next().unwrap()
    );
    let key = inspect_json(&testdata("model-signing/keys/signing-key.pem"), &[]);
    assert_eq!(key["fingerprint"], report["fingerprint"]);
    assert_eq!(key["encrypted"], false);

    let text = tollgate(
        &[
            "key",
            "inspect",
            testdata("keys/test-only-a.pub").to_str().unwrap(),
        ],
        Path::new("/"),
        &[],
    );
    text.assert_code(0);
    assert!(
        text.stdout.contains("fingerprint: sha256:"),
        "{}",
        text.stdout
    );

    let run = tollgate(
        &[
            "key",
            "inspect",
            testdata("keys/test-only-a.key").to_str().unwrap(),
        ],
        Path::new("/"),
        &[],
    );
    run.assert_code(2);
    assert!(
        run.stderr
            .contains("set TOLLGATE_PASSWORD or run on a terminal"),
        "{}",
        run.stderr
    );
    let run = tollgate(
        &[
            "key",
            "inspect",
            testdata("model-signing/model/config.json")
                .to_str()
                .unwrap(),
        ],
        Path::new("/"),
        &[],
    );
    run.assert_code(2);
}

#[test]
fn softhsm_token_key_inspects_and_signs_a_model() {
    require_tool("softhsm2-util", "softhsm2");
    let dir = tempfile::tempdir().unwrap();
    let tokens = dir.path().join("tokens");
    fs::create_dir(&tokens).unwrap();
    let conf = dir.path().join("softhsm2.conf");
    fs::write(
        &conf,
        format!(
            "directories.tokendir = {}\nobjectstore.backend = file\nlog.level = ERROR\n",
            tokens.display()
        ),
    )
    .unwrap();
    run_ok(
        Command::new("softhsm2-util")
            .args([
                "--init-token",
                "--free",
                "--label",
                "tollgate-test",
                "--pin",
                "1234",
                "--so-pin",
                "5678",
            ])
            .env("SOFTHSM2_CONF", &conf),
    );
    let prefix = dir.path().join("k");
    tollgate(
        &["keygen", "--no-password", "-o", prefix.to_str().unwrap()],
        dir.path(),
        &[],
    )
    .assert_code(0);
    run_ok(
        Command::new("softhsm2-util")
            .arg("--import")
            .arg(dir.path().join("k.key"))
            .args([
                "--token",
                "tollgate-test",
                "--label",
                "k",
                "--id",
                "01",
                "--pin",
                "1234",
            ])
            .env("SOFTHSM2_CONF", &conf),
    );
    let expected = inspect_json(&dir.path().join("k.pub"), &[]);
    let conf = conf.to_str().unwrap();
    let report = inspect_json(
        Path::new("pkcs11:token=tollgate-test;object=k;pin-value=1234"),
        &[("SOFTHSM2_CONF", conf)],
    );
    assert_eq!(report["format"], "pkcs11");
    assert_eq!(report["fingerprint"], expected["fingerprint"]);
    assert!(
        !report["key"].as_str().unwrap().contains("1234"),
        "the PIN was echoed: {report}"
    );
    let report = inspect_json(
        Path::new("pkcs11:token=tollgate-test;object=k"),
        &[("SOFTHSM2_CONF", conf), ("TOLLGATE_PKCS11_PIN", "1234")],
    );
    assert_eq!(report["fingerprint"], expected["fingerprint"]);
    let run = tollgate(
        &["key", "inspect", "pkcs11:token=tollgate-test;object=k"],
        dir.path(),
        &[("SOFTHSM2_CONF", conf)],
    );
    run.assert_code(2);
    assert!(run.stderr.contains("TOLLGATE_PKCS11_PIN"), "{}", run.stderr);
    let run = tollgate(
        &[
            "key",
            "inspect",
            "pkcs11:token=tollgate-test;object=k;pin-value=0000",
        ],
        dir.path(),
        &[("SOFTHSM2_CONF", conf)],
    );
    run.assert_code(2);
    assert!(run.stderr.contains("login"), "{}", run.stderr);

    // Sign a model with the token's key; verify with the exported public key, and see a
    // different key refuse it.
    let model = testdata("model-signing/model");
    let sig = dir.path().join("model.sig");
    let (model, sig_arg) = (model.to_str().unwrap(), sig.to_str().unwrap());
    let uri = "pkcs11:token=tollgate-test;object=k;pin-value=1234";
    let signed = tollgate(
        &["sign", "model", model, "--key", uri, "--signature", sig_arg],
        dir.path(),
        &[("SOFTHSM2_CONF", conf)],
    );
    signed.assert_code(0);
    let public = dir.path().join("k.pub");
    let verified = tollgate(
        &[
            "verify",
            "model",
            model,
            "--signature",
            sig_arg,
            "--key",
            public.to_str().unwrap(),
        ],
        dir.path(),
        &[],
    );
    verified.assert_code(0);
    assert!(
        verified.stdout.starts_with("verified:"),
        "{}",
        verified.stdout
    );
    let other = testdata("model-signing/keys/other-key.pub.pem");
    let refused = tollgate(
        &[
            "verify",
            "model",
            model,
            "--signature",
            sig_arg,
            "--key",
            other.to_str().unwrap(),
        ],
        dir.path(),
        &[],
    );
    refused.assert_code(1);
    assert!(
        refused.stdout.contains("key mismatch"),
        "{}",
        refused.stdout
    );
}
