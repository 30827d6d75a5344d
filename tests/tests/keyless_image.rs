//! Keyless (Sigstore) image signatures and attestations in a real registry: `tollgate verify
//! image` / `verify attestation` with `--certificate-identity` / `--certificate-oidc-issuer`
//! against the private Sigstore instance in `testdata/keyless` (its own Fulcio CA, Rekor key
//! and CT log key; see its README), for cosign 2.x legacy layers (`.sig` / `.att` with
//! certificate, chain and Rekor SET annotations) and cosign v3 bundle referrers; and a
//! key-signed bundle whose Rekor entry is verified with `--key`.
//!
//! Every rejection is shown on material that differs from an accepted one in one thing only.

mod cosign_common;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use cosign_common::{client, tag, tollgate};
use serde_json::{Value, json};
use tollgate_e2e::registry::Registry;
use tollgate_e2e::{Run, testdata};
use tollgate_registry::{Digest, MediaType, Reference};

const IDENTITY: &str =
    "https://github.com/tollgate-test/app/.github/workflows/release.yml@refs/heads/main";
const ISSUER: &str = "https://token.actions.githubusercontent.com";
const ATTEST_TYPE: &str = "https://tollgate.dev/test/keyless/v1";
const SIGN_TYPE: &str = "https://sigstore.dev/cosign/sign/v1";
const SET_ANNOTATION: &str = "dev.sigstore.cosign/bundle";

fn read(rel: &str) -> Vec<u8> {
    std::fs::read(testdata(&format!("keyless/{rel}"))).unwrap()
}

fn json_file(rel: &str) -> Value {
    serde_json::from_slice(&read(rel)).unwrap()
}

fn trusted_root() -> String {
    testdata("keyless/trusted_root.json")
        .to_str()
        .unwrap()
        .to_owned()
}

/// What to push next to the image.
#[derive(Default)]
struct Material {
    /// `.sig` layer: payload bytes and annotations.
    sig: Option<(Vec<u8>, Value)>,
    /// `.att` layer: envelope bytes and annotations.
    att: Option<(Vec<u8>, Value)>,
    /// Bundle referrers: bundle bytes and predicate type.
    referrers: Vec<(Vec<u8>, &'static str)>,
}

fn legacy_sig() -> (Vec<u8>, Value) {
    (read("sig/payload.json"), json_file("sig/annotations.json"))
}

fn legacy_att() -> (Vec<u8>, Value) {
    (read("att/envelope.json"), json_file("att/annotations.json"))
}

/// Pushes the test image and `material` to `repo:v1`; returns the image reference by tag.
fn push(reg: &Registry, repo: &str, material: Material) -> String {
    let c = client();
    let tagged = reg.reference(&format!("{repo}:v1"));
    let r: Reference = tagged.parse().unwrap();
    let manifest = read("image/manifest.json");
    for blob in [read("image/config.json"), read("image/layer.bin")] {
        c.push_blob(&r, blob.clone(), &Digest::sha256(&blob))
            .unwrap();
    }
    let oci = MediaType::parse(MediaType::OCI_MANIFEST).unwrap();
    let digest = c.put_manifest(&r, &manifest, &oci).unwrap();
    assert_eq!(
        digest.to_string(),
        String::from_utf8(read("image/digest.txt")).unwrap().trim(),
        "the test image must be the one the material signs"
    );
    let config = b"{}".to_vec();
    c.push_blob(&r, config.clone(), &Digest::sha256(&config))
        .unwrap();
    let config_desc = json!({"mediaType": "application/vnd.oci.image.config.v1+json", "digest": Digest::sha256(&config).to_string(), "size": 2});
    for (suffix, media_type, layer) in [
        (
            "sig",
            "application/vnd.dev.cosign.simplesigning.v1+json",
            &material.sig,
        ),
        (
            "att",
            "application/vnd.dsse.envelope.v1+json",
            &material.att,
        ),
    ] {
        let Some((bytes, annotations)) = layer else {
            continue;
        };
        c.push_blob(&r, bytes.clone(), &Digest::sha256(bytes))
            .unwrap();
        let m = serde_json::to_vec(&json!({
            "schemaVersion": 2,
            "mediaType": MediaType::OCI_MANIFEST,
            "config": config_desc,
            "layers": [{"mediaType": media_type, "digest": Digest::sha256(bytes).to_string(),
                        "size": bytes.len(), "annotations": annotations}],
        }))
        .unwrap();
        let at: Reference = reg
            .reference(&format!("{repo}:{}", tag(&digest, suffix)))
            .parse()
            .unwrap();
        c.put_manifest(&at, &m, &oci).unwrap();
    }
    let empty = b"{}".to_vec();
    for (bundle, predicate_type) in &material.referrers {
        let bundle_type = "application/vnd.dev.sigstore.bundle.v0.3+json";
        c.push_blob(&r, bundle.clone(), &Digest::sha256(bundle))
            .unwrap();
        let m = serde_json::to_vec(&json!({
            "schemaVersion": 2,
            "mediaType": MediaType::OCI_MANIFEST,
            "artifactType": bundle_type,
            "config": {"mediaType": "application/vnd.oci.empty.v1+json", "digest": Digest::sha256(&empty).to_string(), "size": 2},
            "layers": [{"mediaType": bundle_type, "digest": Digest::sha256(bundle).to_string(), "size": bundle.len()}],
            "annotations": {"dev.sigstore.bundle.content": "dsse-envelope", "dev.sigstore.bundle.predicateType": predicate_type},
            "subject": {"mediaType": MediaType::OCI_MANIFEST, "digest": digest.to_string(), "size": manifest.len()},
        }))
        .unwrap();
        c.attach_referrer(&r.with_digest(&digest), &m, &oci)
            .unwrap();
    }
    tagged
}

/// `verify image REF` keyless with the test identity and trust root, plus `extra`.
fn verify_image(reference: &str, extra: &[&str]) -> Run {
    let mut args = vec![
        "verify",
        "image",
        reference,
        "--certificate-identity",
        IDENTITY,
        "--certificate-oidc-issuer",
        ISSUER,
    ];
    args.extend_from_slice(extra);
    tollgate(&args, "")
}

fn with_root<'a>(extra: &[&'a str], root: &'a str) -> Vec<&'a str> {
    let mut v = vec!["--trusted-root", root];
    v.extend_from_slice(extra);
    v
}

fn rejected(run: &Run, mentions: &[&str]) {
    run.assert_code(1);
    for m in mentions {
        assert!(
            run.stdout.contains(m),
            "expected {m:?} in the output:\n{}",
            run.stdout
        );
    }
}

/// Flips one bit in the middle of a base64 string's decoded bytes.
fn flip_b64(b64: &str) -> String {
    let mut bytes = STANDARD.decode(b64).unwrap();
    let i = bytes.len() / 2;
    bytes[i] ^= 1;
    STANDARD.encode(bytes)
}

/// The `.sig` annotations with the Rekor bundle annotation changed by `f`.
fn with_set(mut annotations: Value, f: impl FnOnce(&mut Value)) -> Value {
    let mut set: Value =
        serde_json::from_str(annotations[SET_ANNOTATION].as_str().unwrap()).unwrap();
    f(&mut set);
    annotations[SET_ANNOTATION] = json!(set.to_string());
    annotations
}

#[test]
fn legacy_sig_keyless_verifies_for_the_right_identity_only() {
    let reg = Registry::start();
    let root = trusted_root();
    let image = push(
        &reg,
        "keyless/legacy",
        Material {
            sig: Some(legacy_sig()),
            ..Material::default()
        },
    );
    let ok = with_root(&["--identity", "none", "-a", "env=prod"], &root);

    let run = verify_image(&image, &[ok.as_slice(), &["--output", "json"]].concat());
    run.assert_code(0);
    let v = run.json();
    assert_eq!(v["verified"], true);
    let sig = &v["signatures"][0];
    assert_eq!(sig["layout"], "legacy");
    assert_eq!(sig["identity"], IDENTITY);
    assert_eq!(sig["issuer"], ISSUER);
    assert_eq!(sig["log_index"], 3);
    assert_eq!(sig["log_entry_kind"], "hashedrekord/0.0.1");
    assert_eq!(sig["integrated_time"], "2026-11-01T12:01:00Z");
    assert_eq!(sig["docker_reference"], "registry.example/keyless/app");
    assert_eq!(v["key"], Value::Null);

    let run = verify_image(&image, &ok);
    run.assert_code(0);
    assert!(run.stdout.contains(&format!("signed by {IDENTITY} (issuer {ISSUER}), transparency log index 3, integrated 2026-11-01T12:01:00Z")), "{}", run.stdout);

    // An RE2 identity, unanchored as in cosign, pinned here.
    let regexp = with_root(
        &[
            "--identity",
            "none",
            "--certificate-identity-regexp",
            "^https://github\\.com/tollgate-test/",
            "--certificate-oidc-issuer",
            ISSUER,
        ],
        &root,
    );
    tollgate(&[&["verify", "image", &image][..], &regexp].concat(), "").assert_code(0);

    // The payload checks still apply: the signed name, the annotations.
    rejected(
        &verify_image(&image, &with_root(&[], &root)),
        &["names image \"registry.example/keyless/app\""],
    );
    rejected(
        &verify_image(
            &image,
            &with_root(&["--identity", "none", "-a", "env=dev"], &root),
        ),
        &["annotation \"env\""],
    );

    // Another signer, another issuer, another trust root.
    let other = tollgate(
        &[
            "verify",
            "image",
            &image,
            "--identity",
            "none",
            "--trusted-root",
            &root,
            "--certificate-identity",
            "https://github.com/attacker/app/.github/workflows/release.yml@refs/heads/main",
            "--certificate-oidc-issuer",
            ISSUER,
        ],
        "",
    );
    rejected(&other, &["identity", IDENTITY]);
    let issuer = tollgate(
        &[
            "verify",
            "image",
            &image,
            "--identity",
            "none",
            "--trusted-root",
            &root,
            "--certificate-identity",
            IDENTITY,
            "--certificate-oidc-issuer",
            "https://accounts.google.com",
        ],
        "",
    );
    rejected(&issuer, &["issuer", ISSUER]);
    // The embedded public-good root knows neither this CA nor this log.
    rejected(
        &verify_image(&image, &["--identity", "none"]),
        &["No log key valid"],
    );

    // A root that knows the log but trusts another CA (public-good Fulcio's), or no CT log:
    // each piece is needed.
    let production: Value = serde_json::from_slice(
        &std::fs::read(testdata(
            "sigstore-conformance/production_trusted_root.json",
        ))
        .unwrap(),
    )
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    for (field, value, mentions) in [
        (
            "certificateAuthorities",
            production["certificateAuthorities"].clone(),
            "certificate chain",
        ),
        ("ctlogs", json!([]), "no CT log keys"),
    ] {
        let mut partial = json_file("trusted_root.json");
        partial[field] = value;
        let path = dir.path().join(format!("no-{field}.json"));
        std::fs::write(&path, partial.to_string()).unwrap();
        let run = verify_image(
            &image,
            &[
                "--identity",
                "none",
                "--trusted-root",
                path.to_str().unwrap(),
            ],
        );
        rejected(&run, &[mentions]);
    }

    // A key does not verify a keyless signature.
    let key = tollgate(
        &[
            "verify",
            "image",
            &image,
            "--identity",
            "none",
            "--key",
            testdata("keyless/key.pub").to_str().unwrap(),
        ],
        "",
    );
    rejected(&key, &["does not verify with key"]);

    // Neither a key nor an identity: a usage error.
    tollgate(&["verify", "image", &image], "").assert_code(2);
    tollgate(
        &[
            "verify",
            "image",
            &image,
            "--key",
            "k.pub",
            "--certificate-identity",
            IDENTITY,
        ],
        "",
    )
    .assert_code(2);
}

#[test]
fn legacy_sig_tampering_is_rejected() {
    let reg = Registry::start();
    let root = trusted_root();
    let args = with_root(&["--identity", "none"], &root);
    let (payload, annotations) = legacy_sig();

    let cases: Vec<(&str, Vec<u8>, Value, &[&str])> = vec![
        (
            "set",
            payload.clone(),
            with_set(annotations.clone(), |s| {
                s["SignedEntryTimestamp"] =
                    json!(flip_b64(s["SignedEntryTimestamp"].as_str().unwrap()));
            }),
            &["SET verification failed"],
        ),
        (
            "time",
            payload.clone(),
            with_set(annotations.clone(), |s| {
                let t = s["Payload"]["integratedTime"].as_i64().unwrap();
                s["Payload"]["integratedTime"] = json!(t - 3600);
            }),
            &["SET verification failed"],
        ),
        (
            "payload",
            String::from_utf8(payload.clone())
                .unwrap()
                .replace("prod", "prud")
                .into_bytes(),
            annotations.clone(),
            &["signature does not verify"],
        ),
        (
            "norekor",
            payload.clone(),
            {
                let mut a = annotations.clone();
                a.as_object_mut().unwrap().remove(SET_ANNOTATION);
                a
            },
            &["no dev.sigstore.cosign/bundle annotation"],
        ),
        (
            "cert",
            payload,
            {
                let mut a = annotations;
                a["dev.sigstore.cosign/certificate"] = json!("not a certificate");
                a
            },
            &["dev.sigstore.cosign/certificate annotation is malformed"],
        ),
    ];
    for (name, payload, annotations, mentions) in cases {
        let image = push(
            &reg,
            &format!("keyless/tamper-{name}"),
            Material {
                sig: Some((payload, annotations)),
                ..Material::default()
            },
        );
        let run = verify_image(&image, &args);
        run.assert_no_panic();
        rejected(&run, mentions);
    }
}

/// A bundle's DSSE statement with `f` applied (the signature left as it was).
fn tamper_statement(bundle: &[u8], f: impl FnOnce(&mut Value)) -> Vec<u8> {
    let mut b: Value = serde_json::from_slice(bundle).unwrap();
    let mut stmt: Value = serde_json::from_slice(
        &STANDARD
            .decode(b["dsseEnvelope"]["payload"].as_str().unwrap())
            .unwrap(),
    )
    .unwrap();
    f(&mut stmt);
    b["dsseEnvelope"]["payload"] = json!(STANDARD.encode(stmt.to_string()));
    serde_json::to_vec(&b).unwrap()
}

fn tamper_promise(bundle: &[u8]) -> Vec<u8> {
    let mut b: Value = serde_json::from_slice(bundle).unwrap();
    let set = &mut b["verificationMaterial"]["tlogEntries"][0]["inclusionPromise"]["signedEntryTimestamp"];
    *set = json!(flip_b64(set.as_str().unwrap()));
    serde_json::to_vec(&b).unwrap()
}

#[test]
fn bundle_referrer_keyless() {
    let reg = Registry::start();
    let root = trusted_root();
    let sign = read("referrer/sign.sigstore.json");
    let image = push(
        &reg,
        "keyless/bundle",
        Material {
            referrers: vec![(sign.clone(), SIGN_TYPE)],
            ..Material::default()
        },
    );
    let ok = with_root(
        &["--identity", "none", "-a", "env=prod", "--output", "json"],
        &root,
    );
    let run = verify_image(&image, &ok);
    run.assert_code(0);
    let sig = &run.json()["signatures"][0];
    assert_eq!(sig["layout"], "bundle");
    assert_eq!(sig["identity"], IDENTITY);
    assert_eq!(sig["log_index"], 0);
    assert_eq!(sig["log_entry_kind"], "dsse/0.0.1");

    // cosign v3 names no repository: the default identity rule cannot accept it.
    rejected(
        &verify_image(&image, &with_root(&[], &root)),
        &["names no repository"],
    );
    rejected(
        &verify_image(
            &image,
            &with_root(&["--identity", "none", "-a", "env=dev"], &root),
        ),
        &["annotation \"env\""],
    );
    rejected(
        &tollgate(
            &[
                "verify",
                "image",
                &image,
                "--identity",
                "none",
                "--trusted-root",
                &root,
                "--certificate-identity",
                IDENTITY,
                "--certificate-oidc-issuer",
                "https://accounts.google.com",
            ],
            "",
        ),
        &["issuer"],
    );
    rejected(
        &verify_image(&image, &["--identity", "none"]),
        &["No log key valid"],
    );

    let args = with_root(&["--identity", "none"], &root);
    for (name, bundle, mentions) in [
        (
            "payload",
            tamper_statement(&sign, |s| {
                s["subject"][0]["annotations"]["env"] = json!("dev")
            }),
            &["signature"][..],
        ),
        (
            "promise",
            tamper_promise(&sign),
            &["SET verification failed"][..],
        ),
    ] {
        let image = push(
            &reg,
            &format!("keyless/bundle-{name}"),
            Material {
                referrers: vec![(bundle, SIGN_TYPE)],
                ..Material::default()
            },
        );
        rejected(&verify_image(&image, &args), mentions);
    }
}

#[test]
fn key_bundle_with_log_entry_is_verified_with_the_trust_root() {
    let reg = Registry::start();
    let root = trusted_root();
    let key = testdata("keyless/key.pub");
    let key = key.to_str().unwrap();
    let sign = read("referrer/sign-key.sigstore.json");
    let image = push(
        &reg,
        "keyless/key",
        Material {
            referrers: vec![(sign.clone(), SIGN_TYPE)],
            ..Material::default()
        },
    );
    let with_key = |image: &str, root: Option<&str>| {
        let mut args = vec![
            "verify",
            "image",
            image,
            "--identity",
            "none",
            "--key",
            key,
            "--output",
            "json",
        ];
        if let Some(root) = root {
            args.extend(["--trusted-root", root]);
        }
        tollgate(&args, "")
    };
    let run = with_key(&image, Some(&root));
    run.assert_code(0);
    let sig = &run.json()["signatures"][0];
    assert_eq!(sig["log_index"], 2, "{sig}");
    assert_eq!(sig["integrated_time"], "2026-11-01T12:01:00Z");
    // The log entry is checked: the production root does not know this log, and a changed
    // promise fails.
    rejected(&with_key(&image, None), &["No matching Rekor key"]);
    let tampered = push(
        &reg,
        "keyless/key-promise",
        Material {
            referrers: vec![(tamper_promise(&sign), SIGN_TYPE)],
            ..Material::default()
        },
    );
    rejected(
        &with_key(&tampered, Some(&root)),
        &["SET verification failed"],
    );
    // Keyless flags do not accept a key-signed bundle.
    rejected(
        &verify_image(&image, &with_root(&["--identity", "none"], &root)),
        &["no signing certificate"],
    );
}

fn verify_attestation(reference: &str, extra: &[&str]) -> Run {
    let mut args = vec!["verify", "attestation", reference, "--type", ATTEST_TYPE];
    args.extend_from_slice(extra);
    tollgate(&args, "")
}

#[test]
fn attestations_keyless_legacy_and_bundle() {
    let reg = Registry::start();
    let root = trusted_root();
    let keyless = [
        "--certificate-identity",
        IDENTITY,
        "--certificate-oidc-issuer",
        ISSUER,
        "--trusted-root",
        root.as_str(),
    ];
    let image = push(
        &reg,
        "keyless/att",
        Material {
            att: Some(legacy_att()),
            referrers: vec![(read("referrer/attest.sigstore.json"), ATTEST_TYPE)],
            ..Material::default()
        },
    );
    let run = verify_attestation(&image, &[&keyless[..], &["--output", "json"]].concat());
    run.assert_code(0);
    let v = run.json();
    let found = v["attestations"].as_array().unwrap();
    assert_eq!(found.len(), 2, "{v}");
    let legacy = found.iter().find(|a| a["layout"] == "legacy").unwrap();
    assert_eq!(legacy["identity"], IDENTITY);
    assert_eq!(legacy["log_entry_kind"], "intoto/0.0.2");
    assert_eq!(legacy["log_index"], 4);
    assert_eq!(legacy["statement"]["predicate"]["stage"], "legacy");
    let bundle = found.iter().find(|a| a["layout"] == "bundle").unwrap();
    assert_eq!(bundle["log_index"], 1);
    assert_eq!(bundle["statement"]["predicate"]["stage"], "bundle");

    // Text: statements on stdout, who signed on stderr.
    let run = verify_attestation(&image, &keyless);
    run.assert_code(0);
    assert_eq!(run.stdout.lines().count(), 2, "{}", run.stdout);
    assert!(
        run.stderr.contains(&format!("signed by {IDENTITY}")),
        "{}",
        run.stderr
    );

    let wrong_san = [
        "--certificate-identity",
        "someone@example.com",
        "--certificate-oidc-issuer",
        ISSUER,
        "--trusted-root",
        root.as_str(),
    ];
    rejected(
        &verify_attestation(&image, &wrong_san),
        &["someone@example.com"],
    );
    rejected(
        &verify_attestation(&image, &keyless[..4]),
        &["no attestation"],
    );
    rejected(
        &tollgate(
            &[
                &[
                    "verify",
                    "attestation",
                    &image,
                    "--type",
                    "https://slsa.dev/provenance/v1",
                ][..],
                &keyless,
            ]
            .concat(),
            "",
        ),
        &["predicateType"],
    );

    // A changed SET on the legacy layer: only the bundle still verifies.
    let (envelope, annotations) = legacy_att();
    let tampered = push(
        &reg,
        "keyless/att-set",
        Material {
            att: Some((
                envelope,
                with_set(annotations, |s| s["Payload"]["logIndex"] = json!(5)),
            )),
            referrers: vec![(read("referrer/attest.sigstore.json"), ATTEST_TYPE)],
            ..Material::default()
        },
    );
    let run = verify_attestation(&tampered, &[&keyless[..], &["--output", "json"]].concat());
    run.assert_code(0);
    let v = run.json();
    assert_eq!(v["attestations"].as_array().unwrap().len(), 1, "{v}");
    assert_eq!(v["attestations"][0]["layout"], "bundle");
    assert!(
        v["rejected"][0]["error"]
            .as_str()
            .unwrap()
            .contains("SET verification failed"),
        "{v}"
    );
}

/// PEM of a DER `kind` ("PUBLIC KEY", "CERTIFICATE") given in base64.
fn pem(kind: &str, der_b64: &str) -> String {
    let b64 = der_b64
        .as_bytes()
        .chunks(64)
        .map(|c| std::str::from_utf8(c).unwrap())
        .collect::<Vec<_>>()
        .join("\n");
    format!("-----BEGIN {kind}-----\n{b64}\n-----END {kind}-----\n")
}

/// The peer agrees: cosign 2.5.0 verifies the legacy keyless signature offline against the
/// same CA, Rekor key and CT log key (its `SIGSTORE_*` overrides, since its legacy path reads
/// the Rekor keys through TUF even with --trusted-root), and refuses another identity; so the
/// test material is what cosign accepts, not only what tollgate does.
#[test]
fn cosign_verifies_the_legacy_keyless_signature() {
    let reg = Registry::start();
    let image = push(
        &reg,
        "keyless/cosign",
        Material {
            sig: Some(legacy_sig()),
            att: Some(legacy_att()),
            ..Material::default()
        },
    );
    let root = json_file("trusted_root.json");
    let dir = tempfile::tempdir().unwrap();
    let files = [
        (
            "SIGSTORE_REKOR_PUBLIC_KEY",
            "rekor.pub",
            pem(
                "PUBLIC KEY",
                root["tlogs"][0]["publicKey"]["rawBytes"].as_str().unwrap(),
            ),
        ),
        (
            "SIGSTORE_CT_LOG_PUBLIC_KEY_FILE",
            "ct.pub",
            pem(
                "PUBLIC KEY",
                root["ctlogs"][0]["publicKey"]["rawBytes"].as_str().unwrap(),
            ),
        ),
        (
            "SIGSTORE_ROOT_FILE",
            "fulcio.pem",
            pem(
                "CERTIFICATE",
                root["certificateAuthorities"][0]["certChain"]["certificates"][0]["rawBytes"]
                    .as_str()
                    .unwrap(),
            ),
        ),
    ];
    let run = |command: &[&str], identity: &str| {
        let mut cmd = std::process::Command::new(tollgate_e2e::cosign_bin());
        cmd.args(command)
            .args([
                "--allow-insecure-registry",
                "--offline",
                "--certificate-identity",
                identity,
                "--certificate-oidc-issuer",
                ISSUER,
                &image,
            ])
            .env("TUF_ROOT", dir.path().join("no-tuf"))
            .stdin(std::process::Stdio::null());
        for (var, name, text) in &files {
            let path = dir.path().join(name);
            std::fs::write(&path, text).unwrap();
            cmd.env(var, path);
        }
        cmd.output().unwrap()
    };
    let ok = run(&["verify"], IDENTITY);
    assert!(ok.status.success(), "{}", cosign_common::text(&ok));
    let att = run(&["verify-attestation", "--type", ATTEST_TYPE], IDENTITY);
    assert!(att.status.success(), "{}", cosign_common::text(&att));
    let other = run(&["verify"], "someone@example.com");
    let text = cosign_common::text(&other);
    assert!(
        !other.status.success() && text.contains("expected identities"),
        "{text}"
    );
}
