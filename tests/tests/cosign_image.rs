//! End to end: `tollgate sign image` / `tollgate verify image` against a real CNCF distribution
//! 2.8 registry (no referrers API: bundle referrers live in the `sha256-<hex>` fallback index)
//! and cosign 2.5.0, both directions: tollgate signs and cosign verifies (legacy with
//! `cosign verify`; the bundle referrer with `cosign verify-attestation --new-bundle-format`,
//! since cosign 2.5.0's `verify` reads only the `.sig` tag, even with `--new-bundle-format`); cosign signs
//! and tollgate verifies and appends. Signing from a digest reads no blob. Every rejection the
//! issue lists is shown with its message.

mod cosign_common;

use cosign_common::*;
use serde_json::Value;
use tollgate_e2e::registry::Registry;
use tollgate_registry::{Digest, MediaType, Reference};

const SIGN_TYPE: &str = "https://sigstore.dev/cosign/sign/v1";

fn sign(image: &str, key: (&str, &str), extra: &[&str]) -> tollgate_e2e::Run {
    let k = private_key(key);
    let mut args = vec!["sign", "image", image, "--key", k.to_str().unwrap()];
    args.extend_from_slice(extra);
    tollgate(&args, key.1)
}

fn verify(image: &str, key: (&str, &str), extra: &[&str]) -> tollgate_e2e::Run {
    let k = public_key(key);
    let mut args = vec!["verify", "image", image, "--key", k.to_str().unwrap()];
    args.extend_from_slice(extra);
    tollgate(&args, "")
}

fn cosign_verify(image: &str, key: (&str, &str), extra: &[&str]) -> std::process::Output {
    let k = public_key(key);
    let mut args = vec![
        "verify",
        "--key",
        k.to_str().unwrap(),
        "--insecure-ignore-tlog",
        "--allow-http-registry",
    ];
    args.extend_from_slice(extra);
    args.push(image);
    cosign(&args, "")
}

fn cosign_verify_bundle(image: &str, key: (&str, &str)) -> std::process::Output {
    let k = public_key(key);
    let root = empty_trusted_root();
    cosign(
        &[
            "verify-attestation",
            "--key",
            k.to_str().unwrap(),
            "--insecure-ignore-tlog",
            "--allow-http-registry",
            "--new-bundle-format",
            "--trusted-root",
            root.to_str().unwrap(),
            "--type",
            SIGN_TYPE,
            image,
        ],
        "",
    )
}

fn layers_of(reg: &Registry, repository: &str, tag_name: &str) -> Vec<Value> {
    let c = client();
    let _ = reg;
    let r: Reference = format!("{repository}:{tag_name}").parse().unwrap();
    let m = c.get_manifest(&r).unwrap();
    let v: Value = serde_json::from_slice(&m.bytes).unwrap();
    v["layers"].as_array().unwrap().clone()
}

#[test]
fn tollgate_signs_and_cosign_verifies_both_layouts() {
    let reg = Registry::start();
    let img = push_image(&reg, "demo/app:v1", 1);
    let out = sign(&img.tagged, KEY_A, &["-a", "env=prod", "--output", "json"]).json();
    assert_eq!(out["digest"], img.digest.to_string());
    assert_eq!(out["written"].as_array().unwrap().len(), 2, "{out}");

    // Legacy .sig: cosign verify accepts it, with and without the annotation, and only with key a.
    let ok = cosign_verify(&img.tagged, KEY_A, &["-a", "env=prod"]);
    assert!(ok.status.success(), "{}", text(&ok));
    let payloads: Value = serde_json::from_slice(&ok.stdout).unwrap();
    assert_eq!(
        payloads[0]["critical"]["image"]["docker-manifest-digest"],
        img.digest.to_string()
    );
    assert_eq!(
        payloads[0]["critical"]["identity"]["docker-reference"],
        img.repository
    );
    assert!(!cosign_verify(&img.tagged, KEY_C, &[]).status.success());
    assert!(
        !cosign_verify(&img.tagged, KEY_A, &["-a", "env=dev"])
            .status
            .success()
    );

    // Bundle referrer: a DSSE sign/v1 statement that cosign's bundle verifier accepts.
    let ok = cosign_verify_bundle(&img.tagged, KEY_A);
    assert!(ok.status.success(), "{}", text(&ok));
    assert!(!cosign_verify_bundle(&img.tagged, KEY_C).status.success());
    // The referrer is listed in the fallback index, and tollgate verifies both layouts.
    let index = client()
        .get_manifest(
            &format!("{}:{}", img.repository, tag(&img.digest, ""))
                .parse()
                .unwrap(),
        )
        .unwrap();
    assert!(matches!(
        index.document,
        tollgate_registry::Document::Index(_)
    ));
    let v = verify(&img.tagged, KEY_A, &["-a", "env=prod", "--output", "json"]).json();
    assert_eq!(v["verified"], true);
    let sigs = v["signatures"].as_array().unwrap();
    assert_eq!(sigs.len(), 2, "{v}");
    assert!(sigs.iter().all(|s| s["verified"] == true), "{v}");
    assert_eq!(sigs[0]["layout"], "legacy");
    assert_eq!(sigs[1]["layout"], "bundle");
    assert_eq!(sigs[1]["docker_reference"], img.repository);
    assert_eq!(v["identity"], format!("repository {}", img.repository));

    // --format legacy / bundle write one layout each.
    let img2 = push_image(&reg, "demo/app:v2", 2);
    sign(&img2.tagged, KEY_A, &["--format", "bundle"]).ok();
    assert!(!cosign_verify(&img2.tagged, KEY_A, &[]).status.success());
    // cosign 2.5.0's `verify` reads only the .sig tag, even with --new-bundle-format (the flag
    // is not passed on for images); v3 reads referrers. So bundle-only needs verify-attestation.
    let root = empty_trusted_root();
    let v25 = cosign_verify(
        &img2.tagged,
        KEY_A,
        &[
            "--new-bundle-format",
            "--trusted-root",
            root.to_str().unwrap(),
        ],
    );
    assert!(!v25.status.success(), "{}", text(&v25));
    assert!(cosign_verify_bundle(&img2.tagged, KEY_A).status.success());
    let img3 = push_image(&reg, "demo/app:v3", 3);
    sign(&img3.tagged, KEY_A, &["--format", "legacy"]).ok();
    assert!(cosign_verify(&img3.tagged, KEY_A, &[]).status.success());
    assert!(!cosign_verify_bundle(&img3.tagged, KEY_A).status.success());
}

#[test]
fn cosign_signs_tollgate_verifies_and_appends() {
    let reg = Registry::start();
    let img = push_image(&reg, "demo/cosigned:v1", 4);
    let c_key = private_key(KEY_C);
    cosign_ok(
        &[
            "sign",
            "--key",
            c_key.to_str().unwrap(),
            "--tlog-upload=false",
            "--allow-http-registry",
            "-a",
            "team=ml",
            &img.by_digest,
        ],
        KEY_C.1,
    );
    let text_out = verify(&img.tagged, KEY_C, &["-a", "team=ml"])
        .ok()
        .to_owned();
    assert!(text_out.starts_with("verified: "), "{text_out}");
    assert!(text_out.contains("1 of 1 signatures"), "{text_out}");
    // cosign's signature names the repository only: the exact rule cannot accept it.
    let exact = verify(&img.tagged, KEY_C, &["--identity", "exact"]);
    exact.assert_code(1);
    assert!(
        exact.stdout.contains("identity rule requires exactly"),
        "{}",
        exact.stdout
    );
    // Wrong key.
    let wrong = verify(&img.tagged, KEY_A, &[]);
    wrong.assert_code(1);
    assert!(
        wrong.stdout.contains("does not verify with key"),
        "{}",
        wrong.stdout
    );

    // tollgate appends its signature, keeping cosign's layer byte for byte.
    let before = layers_of(&reg, &img.repository, &tag(&img.digest, "sig"));
    sign(&img.tagged, KEY_A, &["--format", "legacy"]).ok();
    let after = layers_of(&reg, &img.repository, &tag(&img.digest, "sig"));
    assert_eq!(after.len(), 2);
    assert_eq!(after[0], before[0], "cosign's signature layer changed");
    // Signing again with the same key and annotations appends nothing (cosign's dupe check).
    let again = sign(
        &img.tagged,
        KEY_A,
        &["--format", "legacy", "--output", "json"],
    )
    .json();
    assert!(
        again["written"][0]["note"]
            .as_str()
            .unwrap()
            .contains("nothing appended")
    );
    assert_eq!(
        layers_of(&reg, &img.repository, &tag(&img.digest, "sig")).len(),
        2
    );

    // Both signers verify in both tools.
    for key in [KEY_A, KEY_C] {
        verify(&img.tagged, key, &[]).ok();
        let out = cosign_verify(&img.tagged, key, &[]);
        assert!(out.status.success(), "{}", text(&out));
    }
    // cosign appends after tollgate too.
    let a_key = private_key(KEY_A);
    cosign_ok(
        &[
            "sign",
            "--key",
            a_key.to_str().unwrap(),
            "--tlog-upload=false",
            "--allow-http-registry",
            "-a",
            "x=y",
            &img.by_digest,
        ],
        KEY_A.1,
    );
    assert_eq!(
        layers_of(&reg, &img.repository, &tag(&img.digest, "sig")).len(),
        3
    );
    verify(&img.tagged, KEY_A, &["-a", "x=y"]).ok();
}

#[test]
fn signing_a_digest_reads_no_blob() {
    let reg = Registry::start();
    let img = push_image(&reg, "demo/noblobs:v1", 5);
    // Remove the image's config and layer from the registry's storage: any blob read fails.
    for d in [&img.config, &img.layer] {
        std::fs::remove_file(reg.blob_file(&d.hex())).unwrap();
    }
    let r: Reference = img.tagged.parse().unwrap();
    let gone = client().pull_blob_to_file(&r, &img.layer, None, &reg.dir().join("probe"));
    assert!(gone.is_err(), "the layer blob is still served");

    let out = sign(&img.by_digest, KEY_A, &["--output", "json"]).json();
    assert_eq!(out["digest"], img.digest.to_string());
    verify(&img.by_digest, KEY_A, &[]).ok();
    let ok = cosign_verify(&img.by_digest, KEY_A, &[]);
    assert!(ok.status.success(), "{}", text(&ok));
}

#[test]
fn platform_picks_one_manifest_of_an_index() {
    let reg = Registry::start();
    let amd = push_image(&reg, "demo/multi:amd64", 11);
    let arm = push_image(&reg, "demo/multi:arm64", 12);
    let entry = |img: &Pushed, arch: &str| {
        serde_json::json!({"mediaType": MediaType::OCI_MANIFEST, "digest": img.digest.to_string(),
            "size": img.manifest.len(), "platform": {"os": "linux", "architecture": arch}})
    };
    let index = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2, "mediaType": MediaType::OCI_INDEX,
        "manifests": [entry(&amd, "amd64"), entry(&arm, "arm64")],
    }))
    .unwrap();
    let tagged = reg.reference("demo/multi:v1");
    let r: Reference = tagged.parse().unwrap();
    let index_type = MediaType::parse(MediaType::OCI_INDEX).unwrap();
    client().put_manifest(&r, &index, &index_type).unwrap();

    // --platform signs the arm64 manifest, not the index.
    let out = sign(
        &tagged,
        KEY_A,
        &["--platform", "linux/arm64", "--output", "json"],
    )
    .json();
    assert_eq!(out["digest"], arm.digest.to_string(), "{out}");
    verify(&arm.by_digest, KEY_A, &[]).ok();
    verify(&tagged, KEY_A, &["--platform", "linux/arm64/v8"]).ok();
    // The amd64 manifest and the index itself are unsigned.
    verify(&tagged, KEY_A, &["--platform", "linux/amd64"]).assert_code(1);
    verify(&tagged, KEY_A, &[]).assert_code(1);
    // A platform the index lacks: an error listing the ones it has.
    verify(&tagged, KEY_A, &["--platform", "linux/s390x"])
        .assert_code(2)
        .assert_stderr_mentions(&["linux/amd64", "linux/arm64"]);
}

#[test]
fn rejections_say_why() {
    let reg = Registry::start();
    let c = client();
    let manifest_type = MediaType::parse(MediaType::OCI_MANIFEST).unwrap();

    // Unsigned.
    let unsigned = push_image(&reg, "demo/unsigned:v1", 6);
    let run = verify(&unsigned.tagged, KEY_A, &[]);
    run.assert_code(1);
    assert!(run.stdout.contains("is not signed"), "{}", run.stdout);
    let json = verify(&unsigned.tagged, KEY_A, &["--output", "json"]);
    json.assert_code(1);
    let v: Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(v["verified"], false);
    assert!(v["error"].as_str().unwrap().contains("is not signed"));

    // A fallback index listing a manifest that is not a signature (the image itself).
    let index = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2, "mediaType": MediaType::OCI_INDEX,
        "manifests": [{"mediaType": MediaType::OCI_MANIFEST, "digest": unsigned.digest.to_string(),
                       "size": unsigned.manifest.len(), "artifactType": "application/vnd.dev.sigstore.bundle.v0.3+json"}],
    })).unwrap();
    let index_ref: Reference = format!("{}:{}", unsigned.repository, tag(&unsigned.digest, ""))
        .parse()
        .unwrap();
    c.put_manifest(
        &index_ref,
        &index,
        &MediaType::parse(MediaType::OCI_INDEX).unwrap(),
    )
    .unwrap();
    let run = verify(&unsigned.tagged, KEY_A, &[]);
    run.assert_code(1);
    assert!(run.stdout.contains("not a signature"), "{}", run.stdout);
    assert!(
        run.stdout.contains(&unsigned.digest.to_string()),
        "{}",
        run.stdout
    );

    // Signed; then copied with its signatures into another repository.
    let img = push_image(&reg, "demo/hello:v1", 7);
    sign(&img.tagged, KEY_A, &["-a", "env=prod"]).ok();
    let moved = copy_with_signatures(&reg, &img, "demo/moved");
    let run = verify(&moved, KEY_A, &[]);
    run.assert_code(1);
    assert!(
        run.stdout.contains("identity rule requires repository"),
        "{}",
        run.stdout
    );
    assert_eq!(
        run.stdout
            .matches("the image was copied or signed for another repository")
            .count(),
        2,
        "{}",
        run.stdout
    );
    verify(&moved, KEY_A, &["--identity", "none"]).ok();
    // cosign does not check the identity: it accepts the copy.
    assert!(cosign_verify(&moved, KEY_A, &[]).status.success());

    // Wrong key; missing and wrong annotations.
    let run = verify(&img.tagged, KEY_C, &[]);
    run.assert_code(1);
    assert_eq!(
        run.stdout.matches("does not verify with key").count(),
        2,
        "{}",
        run.stdout
    );
    let run = verify(&img.tagged, KEY_A, &["-a", "team=ml"]);
    run.assert_code(1);
    assert!(
        run.stdout.contains("has no annotation \"team\""),
        "{}",
        run.stdout
    );
    let run = verify(&img.tagged, KEY_A, &["-a", "env=dev"]);
    run.assert_code(1);
    assert!(
        run.stdout.contains("is \"prod\", not the required \"dev\""),
        "{}",
        run.stdout
    );

    // A tampered payload (env=dev swapped in, signature kept) and a tampered signature
    // annotation, each in its own .sig manifest.
    let sig_ref: Reference = format!("{}:{}", img.repository, tag(&img.digest, "sig"))
        .parse()
        .unwrap();
    let original = c.get_manifest(&sig_ref).unwrap().bytes;
    let mut m: Value = serde_json::from_slice(&original).unwrap();
    let payload_digest: Digest = m["layers"][0]["digest"].as_str().unwrap().parse().unwrap();
    let payload = std::fs::read(reg.blob_file(&payload_digest.hex())).unwrap();
    let forged = String::from_utf8(payload)
        .unwrap()
        .replace("\"env\":\"prod\"", "\"env\":\"dev\"")
        .into_bytes();
    let forged_digest = Digest::sha256(&forged);
    c.push_blob(&sig_ref, forged.clone(), &forged_digest)
        .unwrap();
    m["layers"][0]["digest"] = forged_digest.to_string().into();
    m["layers"][0]["size"] = forged.len().into();
    c.put_manifest(&sig_ref, &serde_json::to_vec(&m).unwrap(), &manifest_type)
        .unwrap();
    let run = verify(&img.tagged, KEY_A, &["--output", "json"]);
    run.assert_code(0); // the bundle signature still verifies
    let v: Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(v["signatures"][0]["verified"], false);
    assert!(
        v["signatures"][0]["error"]
            .as_str()
            .unwrap()
            .contains("does not verify with key"),
        "{v}"
    );
    let run = verify(&img.tagged, KEY_A, &["-a", "env=dev"]);
    run.assert_code(1);
    assert!(
        run.stdout.contains("does not verify with key"),
        "{}",
        run.stdout
    );

    let mut m: Value = serde_json::from_slice(&original).unwrap();
    let sig = m["layers"][0]["annotations"]["dev.cosignproject.cosign/signature"]
        .as_str()
        .unwrap()
        .to_owned();
    let flipped = format!(
        "{}{}",
        &sig[..10],
        if &sig[10..11] == "A" { "B" } else { "A" }
    ) + &sig[11..];
    m["layers"][0]["annotations"]["dev.cosignproject.cosign/signature"] = flipped.into();
    c.put_manifest(&sig_ref, &serde_json::to_vec(&m).unwrap(), &manifest_type)
        .unwrap();
    let v: Value =
        serde_json::from_str(&verify(&img.tagged, KEY_A, &["--output", "json"]).stdout).unwrap();
    assert_eq!(v["signatures"][0]["verified"], false, "{v}");
    c.put_manifest(&sig_ref, &original, &manifest_type).unwrap();
    verify(&img.tagged, KEY_A, &["-a", "env=prod"]).ok();

    // Blobs altered in the registry's storage (same size): both signatures refused.
    let bundle_digest = bundle_layer(&img);
    for d in [&payload_digest, &bundle_digest] {
        let file = reg.blob_file(&d.hex());
        let mut bytes = std::fs::read(&file).unwrap();
        let i = bytes.len() / 2;
        bytes[i] ^= 0x01;
        std::fs::write(&file, bytes).unwrap();
    }
    let run = verify(&img.tagged, KEY_A, &[]);
    run.assert_code(1);
    assert_eq!(
        run.stdout.matches("digest mismatch").count(),
        2,
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("the content was altered or corrupted"),
        "{}",
        run.stdout
    );
}

/// The digest of the bundle layer of `img`'s only referrer.
fn bundle_layer(img: &Pushed) -> Digest {
    let c = client();
    let r: Reference = img.tagged.parse().unwrap();
    let referrers = c.referrers(&r, &img.digest).unwrap();
    assert_eq!(referrers.descriptors.len(), 1);
    let m = c
        .get_manifest(&r.with_digest(referrers.descriptors[0].digest()))
        .unwrap();
    let v: Value = serde_json::from_slice(&m.bytes).unwrap();
    v["layers"][0]["digest"].as_str().unwrap().parse().unwrap()
}

/// Copies `img`, its `.sig` manifest and its referrers (with every blob) into `repo`, as
/// `cosign copy` or `oras cp -r` would; returns the copy's tagged reference.
fn copy_with_signatures(reg: &Registry, img: &Pushed, repo: &str) -> String {
    let c = client();
    let src: Reference = img.tagged.parse().unwrap();
    let dst: Reference = reg.reference(&format!("{repo}:v1")).parse().unwrap();
    let copy_manifest = |from: &Reference, to: &Reference| {
        let m = c.get_manifest(from).unwrap();
        let v: Value = serde_json::from_slice(&m.bytes).unwrap();
        let blobs = v["layers"]
            .as_array()
            .into_iter()
            .flatten()
            .chain(std::iter::once(&v["config"]));
        for b in blobs {
            let d: Digest = b["digest"].as_str().unwrap().parse().unwrap();
            let bytes = std::fs::read(reg.blob_file(&d.hex())).unwrap();
            c.push_blob(to, bytes, &d).unwrap();
        }
        c.put_manifest(to, &m.bytes, m.media_type.as_ref().unwrap())
            .unwrap();
    };
    copy_manifest(&src, &dst);
    let sig = tag(&img.digest, "sig");
    copy_manifest(&src.with_tag(&sig).unwrap(), &dst.with_tag(&sig).unwrap());
    for d in c.referrers(&src, &img.digest).unwrap().descriptors {
        let m = c.get_manifest(&src.with_digest(d.digest())).unwrap();
        copy_manifest(&src.with_digest(d.digest()), &dst.with_digest(d.digest()));
        c.attach_referrer(&dst, &m.bytes, m.media_type.as_ref().unwrap())
            .unwrap();
    }
    dst.to_string()
}
