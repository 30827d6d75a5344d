//! End to end: `--notation` on `sign image` / `verify image` / `sign blob` / `verify blob`.
//!
//! Against a real CNCF distribution registry (no referrers API, so signatures are found through
//! the `sha256-<hex>` tag schema index) and oras 1.2.0, which must list what tollgate pushed as
//! Notary signatures. Keys and chains are tollgate's test PKI (`testdata/notation/tollgate/`);
//! the OCI layout case verifies notation-go's own JWS and COSE fixtures over its alpine
//! layout, attached with `oras attach --oci-layout`. Every rejection names the failing check.

mod cosign_common;

use std::fs;
use std::path::{Path, PathBuf};

use cosign_common::{client, push_image};
use serde_json::Value;
use tollgate_e2e::registry::Registry;
use tollgate_e2e::{Run, Tollgate, run_oras, testdata};
use tollgate_registry::Reference;

const NOTARY: &str = "application/vnd.cncf.notary.signature";

fn pki(name: &str) -> String {
    testdata(&format!("notation/tollgate/{name}"))
        .to_str()
        .unwrap()
        .to_owned()
}

/// A trust policy (OCI statement over `scope`, or a global blob statement) and a trust store
/// whose `ca:<store>` holds `root`, in a temporary directory.
struct Trust {
    dir: tempfile::TempDir,
}

impl Trust {
    fn new(kind: &str, scope: &str, root: &Path) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let store = dir.path().join("x509/ca/roots");
        fs::create_dir_all(&store).unwrap();
        fs::copy(root, store.join("root.pem")).unwrap();
        let selector = if kind == "oci" {
            format!(r#""registryScopes": ["{scope}"]"#)
        } else {
            r#""globalPolicy": true"#.to_owned()
        };
        let policy = format!(
            r#"{{"version": "1.0", "trustPolicies": [{{"name": "test", {selector},
              "signatureVerification": {{"level": "strict"}},
              "trustStores": ["ca:roots"], "trustedIdentities": ["*"]}}]}}"#
        );
        fs::write(dir.path().join("policy.json"), policy).unwrap();
        Self { dir }
    }

    fn tollgate_root(kind: &str, scope: &str) -> Self {
        Self::new(kind, scope, &testdata("notation/tollgate/root.pem"))
    }

    fn args(&self) -> Vec<String> {
        let p = self.dir.path();
        vec![
            "--trust-policy".into(),
            p.join("policy.json").display().to_string(),
            "--trust-store".into(),
            p.join("x509").display().to_string(),
        ]
    }
}

fn run(args: &[&str], extra: &[String]) -> Run {
    let run = Tollgate::new(args).args(extra).run();
    run.assert_no_panic();
    run
}

fn sign_image(image: &str, key: &str, extra: &[&str]) -> Value {
    let (k, c) = (pki(&format!("{key}.key")), pki(&format!("{key}.chain.pem")));
    let mut args = vec![
        "sign",
        "image",
        image,
        "--notation",
        "--key",
        &k,
        "--cert",
        &c,
    ];
    args.extend_from_slice(extra);
    args.extend(["--plain-http", "--output", "json"]);
    run(&args, &[]).json()
}

fn verify_image(image: &str, trust: &Trust, extra: &[&str]) -> Run {
    let mut args = vec!["verify", "image", image, "--notation", "--plain-http"];
    args.extend_from_slice(extra);
    run(&args, &trust.args())
}

/// The check line of `check` in text output, e.g. `authenticity        failed   (enforce): …`.
fn check_line<'a>(stdout: &'a str, check: &str) -> &'a str {
    stdout
        .lines()
        .map(str::trim_start)
        .find(|l| l.starts_with(&format!("{check} ")))
        .unwrap_or_else(|| panic!("no {check} line in:\n{stdout}"))
}

fn manifest_json(reference: &str) -> Value {
    let r: Reference = reference.parse().unwrap();
    serde_json::from_slice(&client().get_manifest(&r).unwrap().bytes).unwrap()
}

#[test]
fn jws_and_cose_signatures_verify_and_oras_lists_them() {
    let reg = Registry::start();
    let img = push_image(&reg, "team/app:v1", 1);
    let jws = sign_image(&img.tagged, "p256", &["-a", "env=prod"]);
    let cose = sign_image(&img.by_digest, "rsa3072", &["--envelope", "cose"]);
    assert_eq!(jws["envelope"], "jws");
    assert_eq!(cose["envelope"], "cose");
    assert_eq!(jws["digest"], img.digest.to_string());

    // The signature manifest: artifactType, empty config, one envelope layer, subject,
    // thumbprints of the whole chain.
    let m = manifest_json(jws["signature"].as_str().unwrap());
    assert_eq!(m["artifactType"], NOTARY);
    assert_eq!(
        m["config"]["mediaType"],
        "application/vnd.oci.empty.v1+json"
    );
    assert_eq!(m["layers"][0]["mediaType"], "application/jose+json");
    assert_eq!(m["subject"]["digest"], img.digest.to_string());
    let prints: Vec<String> = serde_json::from_str(
        m["annotations"]["io.cncf.notary.x509chain.thumbprint#S256"]
            .as_str()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(prints.len(), 3, "{m}");
    let c = manifest_json(cose["signature"].as_str().unwrap());
    assert_eq!(c["layers"][0]["mediaType"], "application/cose");

    // oras finds both through the fallback tag schema.
    let tmp = tempfile::tempdir().unwrap();
    let listed: Value = serde_json::from_str(&run_oras(
        tmp.path(),
        &[
            "discover",
            "--plain-http",
            "--format",
            "json",
            &img.by_digest,
        ],
    ))
    .unwrap();
    let referrers = listed["manifests"]
        .as_array()
        .expect("oras json has manifests");
    assert_eq!(referrers.len(), 2, "{listed}");
    assert!(
        referrers.iter().all(|r| r["artifactType"] == NOTARY),
        "{listed}"
    );

    // tollgate verifies both; the text names every check and the verdict.
    let trust = Trust::tollgate_root("oci", &img.repository);
    let out = verify_image(&img.tagged, &trust, &[]);
    let stdout = out.ok();
    assert!(stdout.starts_with("verified: "), "{stdout}");
    assert!(stdout.contains("(2 of 2 signatures verify)"), "{stdout}");
    for check in [
        "integrity",
        "authenticity",
        "expiry",
        "authenticTimestamp",
        "revocation",
    ] {
        assert!(check_line(stdout, check).contains("passed"), "{stdout}");
    }
    // JSON: both signatures with their checks.
    let out = verify_image(&img.tagged, &trust, &["--output", "json"]).json();
    assert_eq!(out["verified"], true);
    let sigs = out["signatures"].as_array().unwrap();
    assert_eq!(sigs.len(), 2);
    assert!(
        sigs.iter()
            .all(|s| s["verified"] == true && s["checks"].as_array().unwrap().len() == 5)
    );

    // User metadata: signed into the JWS signature only; -a requires it.
    let out = verify_image(&img.tagged, &trust, &["-a", "env=prod", "--output", "json"]).json();
    let verified: Vec<bool> = out["signatures"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["verified"] == true)
        .collect();
    assert_eq!(verified.iter().filter(|v| **v).count(), 1, "{out}");
    let out = verify_image(&img.tagged, &trust, &["-a", "env=dev"]);
    out.assert_code(1);
    assert!(out.stdout.contains("env"), "{}", out.stdout);
}

#[test]
fn untrusted_roots_missing_signatures_and_unscoped_repositories_are_refused() {
    let reg = Registry::start();
    let img = push_image(&reg, "team/app:v1", 2);

    // No signature at all.
    let trust = Trust::tollgate_root("oci", &img.repository);
    let out = verify_image(&img.tagged, &trust, &[]);
    out.assert_code(1);
    assert!(
        out.stdout.contains("has no Notary signature"),
        "{}",
        out.stdout
    );

    sign_image(&img.tagged, "p384", &[]);
    // Another root in the store: authenticity fails, and is named.
    let other = Trust::new(
        "oci",
        &img.repository,
        &testdata("notation/derived/truststore/x509/ca/x5c-leaves/alpine-2000-2123.pem"),
    );
    let out = verify_image(&img.tagged, &other, &[]);
    out.assert_code(1);
    assert!(
        out.stdout.starts_with("verification failed: "),
        "{}",
        out.stdout
    );
    assert!(
        check_line(&out.stdout, "authenticity").contains("failed"),
        "{}",
        out.stdout
    );

    // A policy that names another repository: an input error naming registryScopes.
    let elsewhere = Trust::tollgate_root("oci", &reg.reference("team/other"));
    verify_image(&img.tagged, &elsewhere, &[]).assert_input_error(&["registryScopes"]);

    // cosign's flags do not mix with --notation; Notation flags need --notation.
    let t = trust.args();
    run(
        &[
            "verify",
            "image",
            &img.tagged,
            "--notation",
            "--key",
            "k.pub",
        ],
        &t,
    )
    .assert_input_error(&["--notation"]);
    run(
        &[
            "sign",
            "image",
            &img.tagged,
            "--notation",
            "--key",
            &pki("p256.key"),
        ],
        &[],
    )
    .assert_input_error(&["--cert"]);
    run(&["verify", "image", &img.tagged, "--key", "k.pub"], &t).assert_input_error(&["--key"]);
}

#[test]
fn a_tampered_envelope_in_registry_storage_is_rejected() {
    let reg = Registry::start();
    let img = push_image(&reg, "team/app:v1", 3);
    let signed = sign_image(&img.tagged, "p256", &[]);
    let m = manifest_json(signed["signature"].as_str().unwrap());
    let digest = m["layers"][0]["digest"].as_str().unwrap();
    let file = reg.blob_file(digest.strip_prefix("sha256:").unwrap());
    let mut bytes = fs::read(&file).unwrap();
    let at = bytes.len() / 2;
    bytes[at] ^= 1;
    fs::write(&file, bytes).unwrap();

    let trust = Trust::tollgate_root("oci", &img.repository);
    let out = verify_image(&img.tagged, &trust, &["--output", "json"]);
    out.assert_code(1);
    let v: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(v["verified"], false);
    let why = v["signatures"][0]["failure"].as_str().unwrap();
    assert!(why.contains(digest), "{v}");
}

/// notation-go's alpine layout with its JWS and COSE fixtures attached by oras.
fn vector_layout() -> (tempfile::TempDir, String) {
    let tmp = tempfile::tempdir().unwrap();
    let layout = tmp.path().join("oci-layout");
    let src = testdata("notation/go/oci-layout");
    fs::create_dir_all(layout.join("blobs/sha256")).unwrap();
    for f in ["oci-layout", "index.json"] {
        fs::copy(src.join(f), layout.join(f)).unwrap();
    }
    for entry in fs::read_dir(src.join("blobs/sha256")).unwrap() {
        let entry = entry.unwrap();
        fs::copy(
            entry.path(),
            layout.join("blobs/sha256").join(entry.file_name()),
        )
        .unwrap();
    }
    for (file, media_type) in [
        ("jws_signature.sig", "application/jose+json"),
        ("cose_signature.sig", "application/cose"),
    ] {
        fs::copy(
            testdata(&format!("notation/go/envelopes/local/{file}")),
            tmp.path().join(file),
        )
        .unwrap();
        run_oras(
            tmp.path(),
            &[
                "attach",
                "--oci-layout",
                "oci-layout:v2",
                "--artifact-type",
                NOTARY,
                &format!("{file}:{media_type}"),
            ],
        );
    }
    let reference = format!("oci:{}:v2", layout.display());
    (tmp, reference)
}

#[test]
fn notation_go_fixtures_in_an_oci_layout_verify() {
    let (_tmp, reference) = vector_layout();
    let alpine = testdata("notation/derived/truststore/x509/ca/x5c-leaves/alpine-2000-2123.pem");
    // The layout's statement scope is local/<directory name>.
    let trust = Trust::new("oci", "local/oci-layout", &alpine);
    let out = run(
        &[
            "verify",
            "image",
            &reference,
            "--notation",
            "--at",
            "2026-01-01T00:00:00Z",
        ],
        &trust.args(),
    );
    assert!(
        out.ok().contains("(2 of 2 signatures verify)"),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains("CN=alpine"), "{}", out.stdout);

    // Before the certificate's validity: the chain is not valid then.
    let out = run(
        &[
            "verify",
            "image",
            &reference,
            "--notation",
            "--at",
            "1999-01-01T00:00:00Z",
        ],
        &trust.args(),
    );
    out.assert_code(1);
    assert!(
        check_line(&out.stdout, "authenticTimestamp").contains("failed"),
        "{}",
        out.stdout
    );

    // Trusting tollgate's root instead: authenticity fails.
    let wrong = Trust::tollgate_root("oci", "local/oci-layout");
    let out = run(
        &["verify", "image", &reference, "--notation"],
        &wrong.args(),
    );
    out.assert_code(1);
    assert!(
        check_line(&out.stdout, "authenticity").contains("failed"),
        "{}",
        out.stdout
    );
}

fn sign_blob(blob: &Path, key: &str, extra: &[&str]) -> PathBuf {
    let (k, c) = (pki(&format!("{key}.key")), pki(&format!("{key}.chain.pem")));
    let dir = blob.parent().unwrap().to_str().unwrap().to_owned();
    let mut args = vec![
        "sign",
        "blob",
        blob.to_str().unwrap(),
        "--notation",
        "--key",
        &k,
        "--cert",
        &c,
    ];
    args.extend(["--signature-directory", &dir]);
    args.extend_from_slice(extra);
    PathBuf::from(run(&args, &[]).ok().trim())
}

fn verify_blob(blob: &Path, sig: &Path, trust: &Trust, extra: &[&str]) -> Run {
    let mut args = vec![
        "verify",
        "blob",
        blob.to_str().unwrap(),
        "--notation",
        "--signature",
        sig.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    run(&args, &trust.args())
}

#[test]
fn blob_signatures_round_trip_and_tampering_is_named() {
    let tmp = tempfile::tempdir().unwrap();
    let blob = tmp.path().join("model.bin");
    fs::write(&blob, tollgate_e2e::bytes(200_000, 7)).unwrap();
    let jws = sign_blob(&blob, "p384", &[]);
    let cose = sign_blob(&blob, "rsa2048", &["--envelope", "cose"]);
    assert_eq!(jws, tmp.path().join("model.bin.jws.sig"));
    assert_eq!(cose, tmp.path().join("model.bin.cose.sig"));

    let trust = Trust::tollgate_root("blob", "");
    for sig in [&jws, &cose] {
        let out = verify_blob(&blob, sig, &trust, &[]);
        assert!(out.ok().starts_with("verified: "), "{}", out.stdout);
    }
    // The envelope is a real JWS / COSE file.
    let v: Value = serde_json::from_slice(&fs::read(&jws).unwrap()).unwrap();
    assert!(v["protected"].is_string() && v["header"]["x5c"].as_array().unwrap().len() == 3);
    assert_eq!(fs::read(&cose).unwrap()[0], 0xd2, "COSE_Sign1 tag 18");

    // A changed blob: the artifact check fails for both formats.
    let mut bytes = fs::read(&blob).unwrap();
    bytes[1000] ^= 1;
    fs::write(&blob, bytes).unwrap();
    for sig in [&jws, &cose] {
        let out = verify_blob(&blob, sig, &trust, &[]);
        out.assert_code(1);
        assert!(
            out.stdout.contains("artifact            failed"),
            "{}",
            out.stdout
        );
    }
    // A signature file not named {blob}.{jws|cose}.sig is a usage error.
    let renamed = tmp.path().join("model.sig");
    fs::copy(&jws, &renamed).unwrap();
    verify_blob(&blob, &renamed, &trust, &[]).assert_input_error(&[".jws.sig"]);
    // No global statement and no --policy-name.
    let named = tempfile::tempdir().unwrap();
    fs::write(
        named.path().join("p.json"),
        r#"{"version":"1.0","trustPolicies":[{"name":"only","signatureVerification":{"level":"strict"},"trustStores":["ca:roots"],"trustedIdentities":["*"]}]}"#,
    )
    .unwrap();
    let policy = named.path().join("p.json");
    let args = [
        "verify",
        "blob",
        blob.to_str().unwrap(),
        "--notation",
        "--signature",
        jws.to_str().unwrap(),
        "--trust-policy",
        policy.to_str().unwrap(),
    ];
    run(&args, &[]).assert_input_error(&["globalPolicy"]);
}

#[test]
fn the_verification_time_decides_expiry() {
    let tmp = tempfile::tempdir().unwrap();
    let blob = tmp.path().join("data.txt");
    fs::write(&blob, b"hello notation\n").unwrap();
    let trust = Trust::tollgate_root("blob", "");

    // The test PKI is valid 2026-11-27 to 2036-11-24.
    let sig = sign_blob(&blob, "p256", &[]);
    verify_blob(&blob, &sig, &trust, &["--at", "2030-01-01T00:00:00Z"]).ok();
    let out = verify_blob(&blob, &sig, &trust, &["--at", "2037-01-01T00:00:00Z"]);
    out.assert_code(1);
    assert!(
        check_line(&out.stdout, "authenticTimestamp").contains("failed"),
        "{}",
        out.stdout
    );
    assert!(
        check_line(&out.stdout, "integrity").contains("passed"),
        "{}",
        out.stdout
    );

    // A signature that expires after an hour: valid now, expired later.
    let sig = sign_blob(&blob, "p256", &["--expiry", "1h"]);
    verify_blob(&blob, &sig, &trust, &[]).ok();
    let out = verify_blob(&blob, &sig, &trust, &["--at", "2030-01-01T00:00:00Z"]);
    out.assert_code(1);
    assert!(
        check_line(&out.stdout, "expiry").contains("failed"),
        "{}",
        out.stdout
    );

    // --at is checked.
    verify_blob(&blob, &sig, &trust, &["--at", "yesterday"]).assert_input_error(&["RFC 3339"]);
}

#[test]
fn legacy_signature_manifests_are_read_and_skip_statements_pass() {
    let reg = Registry::start();
    let img = push_image(&reg, "team/app:v1", 4);
    let signed = sign_image(&img.tagged, "p521", &[]);

    // notation < 1.3's form of the same signature: no artifactType, the Notary type as the
    // config media type (the config blob is `{}` either way).
    let mut legacy = manifest_json(signed["signature"].as_str().unwrap());
    let m = legacy.as_object_mut().unwrap();
    m.remove("artifactType");
    m["config"]["mediaType"] = NOTARY.into();
    m["annotations"]["org.opencontainers.image.created"] = "2020-01-01T00:00:00Z".into();
    let bytes = serde_json::to_vec(&legacy).unwrap();
    let at: Reference = img.by_digest.parse().unwrap();
    let media_type =
        tollgate_registry::MediaType::parse(tollgate_registry::MediaType::OCI_MANIFEST).unwrap();
    let legacy_digest = client().attach_referrer(&at, &bytes, &media_type).unwrap();

    let trust = Trust::tollgate_root("oci", &img.repository);
    let out = verify_image(&img.tagged, &trust, &["--output", "json"]).json();
    let sigs = out["signatures"].as_array().unwrap();
    assert_eq!(sigs.len(), 2, "{out}");
    assert!(sigs.iter().all(|s| s["verified"] == true), "{out}");
    assert!(
        sigs.iter().any(|s| s["location"]
            .as_str()
            .unwrap()
            .ends_with(&legacy_digest.to_string())),
        "{out}"
    );

    // A skip statement: passes without signatures.
    let unsigned = push_image(&reg, "team/unsigned:v1", 5);
    let dir = tempfile::tempdir().unwrap();
    let policy = dir.path().join("skip.json");
    fs::write(
        &policy,
        format!(
            r#"{{"version":"1.0","trustPolicies":[{{"name":"dev","registryScopes":["{}"],"signatureVerification":{{"level":"skip"}}}}]}}"#,
            unsigned.repository
        ),
    )
    .unwrap();
    let args = [
        "verify",
        "image",
        &unsigned.tagged,
        "--notation",
        "--plain-http",
    ];
    let out = run(
        &args,
        &["--trust-policy".into(), policy.display().to_string()],
    );
    assert!(
        out.ok().starts_with("verification skipped: "),
        "{}",
        out.stdout
    );
    // The same policy does not apply to the signed repository.
    let out = run(
        &["verify", "image", &img.tagged, "--notation", "--plain-http"],
        &["--trust-policy".into(), policy.display().to_string()],
    );
    out.assert_input_error(&["registryScopes"]);
}
