//! Signing side: byte-identity with cosign's captured manifests, and round trips through the
//! verifiers of this module.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde_json::{Value, json};

use super::*;
use crate::cosign::image::attach::{
    AttachError, Attachment, EMPTY_CONFIG, Subject, append_layer, legacy_config, referrer_manifest,
};
use crate::cosign::image::attestation::{
    AttestationError, parse_envelope, verify_attestation, verify_bundle_attestation,
};
use crate::cosign::image::bundle_signature::{BundleSignatureError, verify_bundle_signature};
use crate::cosign::image::{
    DockerReference, IdentityRule, ImageSignatureError, signature_layers, verify_simple_signing,
};
use crate::keys::SigningKey;
use crate::oci::descriptor::parse_digest;
use crate::oci::{Descriptor, ImageManifest, MediaType};

const IMAGE: &str = "sha256:347df478c1b52175044cf42dc3b48ea9354356dd51fab632fd5ff484ece48f8a";
const REPO: &str = "127.0.0.1:5000/demo/cosigned";

fn read(name: &str) -> Vec<u8> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../testdata/cosign");
    std::fs::read(dir.join(name)).unwrap()
}

fn image() -> Digest {
    parse_digest(IMAGE).unwrap()
}

fn repo(r: &str) -> IdentityRule {
    IdentityRule::Repository(DockerReference::parse(r).unwrap())
}

fn key(algorithm: KeyAlgorithm) -> SigningKey {
    SigningKey::generate(algorithm).unwrap()
}

fn annotations(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

/// The descriptor of `bytes` as a bundle layer (what a referrer lists).
fn bundle_descriptor(bytes: &[u8]) -> Descriptor {
    let m = referrer_manifest(
        Subject {
            media_type: &MediaType::parse(MediaType::OCI_MANIFEST).unwrap(),
            digest: &image(),
            size: 1,
        },
        bytes,
        "x",
        "t",
    );
    ImageManifest::parse(&m, None).unwrap().layers()[0].clone()
}

#[test]
fn referrer_manifest_is_byte_identical_to_cosigns() {
    let bundle = read("cosign-referrer-bundle.json");
    let made = referrer_manifest(
        Subject {
            media_type: &MediaType::parse(MediaType::OCI_MANIFEST).unwrap(),
            digest: &image(),
            size: 401,
        },
        &bundle,
        "https://example.com/model-card/v1",
        "2026-11-27T11:01:57Z",
    );
    assert_eq!(
        String::from_utf8(made).unwrap(),
        String::from_utf8(read("cosign-referrer-manifest.json")).unwrap()
    );
    assert_eq!(
        Digest::sha256(EMPTY_CONFIG).to_string(),
        "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"
    );
}

#[test]
fn appending_reproduces_cosigns_sig_manifests_and_configs() {
    let two = ImageManifest::parse(&read("cosign-sig-manifest-two-signers.json"), None).unwrap();
    let layer = |i: usize| {
        let d = &two.layers()[i];
        NewLayer::new(read("cosign-sig-payload.json"), d.annotations().clone())
    };
    let first = append_layer(None, Attachment::Signatures, &layer(0)).unwrap();
    assert_eq!(first.manifest(), read("cosign-sig-manifest.json"));
    assert_eq!(first.config(), read("cosign-sig-config.json"));
    assert_eq!(first.layers(), 1);

    let one = ImageManifest::parse(first.manifest(), None).unwrap();
    let second = append_layer(Some(&one), Attachment::Signatures, &layer(1)).unwrap();
    assert_eq!(
        second.manifest(),
        read("cosign-sig-manifest-two-signers.json")
    );
    assert_eq!(
        Digest::sha256(second.config()),
        *two.config().digest(),
        "config differs from cosign's"
    );
    assert_eq!(second.layers(), 2);
    assert_eq!(
        Attachment::Signatures.tag(&image()),
        format!("sha256-{}.sig", image().hex())
    );
    assert!(legacy_config(&[]).starts_with(br#"{"architecture":"","created""#));
}

#[test]
fn appending_refuses_foreign_manifests() {
    let att = ImageManifest::parse(&read("cosign-att-manifest.json"), None).unwrap();
    let layer = NewLayer::new(b"{}".to_vec(), BTreeMap::new());
    let err = append_layer(Some(&att), Attachment::Signatures, &layer).unwrap_err();
    assert!(
        matches!(err, AttachError::ForeignLayer { index: 0, .. }),
        "{err}"
    );
    assert!(err.to_string().contains("refusing to modify it"), "{err}");
    // The .att manifest takes DSSE layers.
    append_layer(Some(&att), Attachment::Attestations, &layer).unwrap();
}

#[test]
fn signed_payloads_verify_and_bind_everything() {
    for alg in [
        KeyAlgorithm::EcdsaP256,
        KeyAlgorithm::EcdsaP384,
        KeyAlgorithm::Ed25519,
    ] {
        let signer = key(alg);
        let payload = SimpleSigning::new(REPO, image(), &annotations(&[("env", "prod")]));
        let layer = sign_payload(&payload, &signer).unwrap();
        assert_eq!(layer.bytes(), payload.to_bytes());
        let sig = &layer.annotations()[SIGNATURE_ANNOTATION];
        let want = annotations(&[("env", "prod")]);
        verify_simple_signing(
            layer.bytes(),
            sig,
            signer.public_key(),
            &image(),
            &repo(REPO),
            &want,
        )
        .unwrap();
        // Another key, another repository, another annotation value: refused.
        let other = key(alg);
        assert!(matches!(
            verify_simple_signing(
                layer.bytes(),
                sig,
                other.public_key(),
                &image(),
                &repo(REPO),
                &want
            ),
            Err(ImageSignatureError::BadSignature { .. })
        ));
        assert!(matches!(
            verify_simple_signing(
                layer.bytes(),
                sig,
                signer.public_key(),
                &image(),
                &repo("127.0.0.1:5000/demo/moved"),
                &want
            ),
            Err(ImageSignatureError::IdentityMismatch { .. })
        ));
        assert!(matches!(
            verify_simple_signing(
                layer.bytes(),
                sig,
                signer.public_key(),
                &image(),
                &repo(REPO),
                &annotations(&[("env", "dev")])
            ),
            Err(ImageSignatureError::AnnotationMismatch { .. })
        ));
    }
}

#[test]
fn p384_signs_sha256_as_cosign() {
    let signer = key(KeyAlgorithm::EcdsaP384);
    let sig = sign_sha256(&signer, b"payload").unwrap();
    let digest = Digest::sha256(b"payload");
    signer
        .public_key()
        .verify_digest(&aws_lc_rs::digest::SHA256, digest.as_bytes(), &sig)
        .unwrap();
}

#[test]
fn statements_have_cosigns_field_order() {
    let s = sign_statement(REPO, &image(), &BTreeMap::new());
    let text = String::from_utf8(s).unwrap();
    assert_eq!(
        text,
        format!(
            r#"{{"_type":"https://in-toto.io/Statement/v1","subject":[{{"name":"{REPO}","digest":{{"sha256":"{}"}},"annotations":{{}}}}],"predicateType":"https://sigstore.dev/cosign/sign/v1","predicate":{{}}}}"#,
            image().hex()
        )
    );
    let plain = statement(
        None,
        &image(),
        None,
        "https://p/v1",
        &json!({"b": 1, "a": 2}),
    );
    assert_eq!(
        String::from_utf8(plain).unwrap(),
        format!(
            r#"{{"_type":"https://in-toto.io/Statement/v1","subject":[{{"digest":{{"sha256":"{}"}}}}],"predicateType":"https://p/v1","predicate":{{"b":1,"a":2}}}}"#,
            image().hex()
        )
    );
}

#[test]
fn attestation_layers_and_bundles_verify() {
    let signer = key(KeyAlgorithm::EcdsaP256);
    let predicate = json!({"model": "demo"});
    let stmt = statement(Some(REPO), &image(), None, "https://p/v1", &predicate);
    let signed = SignedStatement::sign(stmt, &signer).unwrap();

    let layer = signed.attestation_layer("https://p/v1");
    assert_eq!(layer.annotations()["predicateType"], "https://p/v1");
    assert_eq!(layer.annotations()[SIGNATURE_ANNOTATION], "");
    let envelope = parse_envelope(layer.bytes()).unwrap();
    let verified =
        verify_attestation(&envelope, signer.public_key(), &image(), "https://p/v1").unwrap();
    assert_eq!(verified.predicate(), &predicate);
    assert!(matches!(
        verify_attestation(&envelope, signer.public_key(), &image(), "https://other/v1"),
        Err(AttestationError::PredicateType { .. })
    ));

    let bundle = signed.bundle_json(signer.public_key());
    let verified =
        verify_bundle_attestation(&bundle, signer.public_key(), &image(), "https://p/v1").unwrap();
    assert_eq!(verified.subjects()[0].name.as_deref(), Some(REPO));
    let v: Value = serde_json::from_slice(&bundle).unwrap();
    assert_eq!(
        v["verificationMaterial"]["publicKey"]["hint"],
        key_hint(signer.public_key())
    );
    assert!(v["verificationMaterial"].get("tlogEntries").is_none());
    assert!(matches!(
        verify_bundle_attestation(
            &bundle,
            key(KeyAlgorithm::EcdsaP256).public_key(),
            &image(),
            "https://p/v1"
        ),
        Err(AttestationError::BadSignature { .. })
    ));
}

#[test]
fn bundle_signatures_check_identity_and_annotations() {
    let signer = key(KeyAlgorithm::EcdsaP256);
    let pub_key = signer.public_key();
    let signed_annotations = annotations(&[("env", "prod")]);
    let stmt = sign_statement(REPO, &image(), &signed_annotations);
    let bundle = SignedStatement::sign(stmt, &signer)
        .unwrap()
        .bundle_json(pub_key);
    let desc = bundle_descriptor(&bundle);

    let ok = verify_bundle_signature(
        &desc,
        &bundle,
        pub_key,
        &image(),
        &repo(REPO),
        &signed_annotations,
    )
    .unwrap();
    assert_eq!(ok.docker_reference(), Some(REPO));
    assert_eq!(ok.annotations()["env"], "prod");

    let moved = verify_bundle_signature(
        &desc,
        &bundle,
        pub_key,
        &image(),
        &repo("127.0.0.1:5000/demo/moved"),
        &BTreeMap::new(),
    )
    .unwrap_err();
    assert!(
        matches!(
            moved,
            BundleSignatureError::Claims(ImageSignatureError::IdentityMismatch { .. })
        ),
        "{moved}"
    );
    verify_bundle_signature(
        &desc,
        &bundle,
        pub_key,
        &image(),
        &IdentityRule::None,
        &BTreeMap::new(),
    )
    .unwrap();
    let missing = verify_bundle_signature(
        &desc,
        &bundle,
        pub_key,
        &image(),
        &repo(REPO),
        &annotations(&[("team", "ml")]),
    )
    .unwrap_err();
    assert!(
        matches!(
            missing,
            BundleSignatureError::Claims(ImageSignatureError::AnnotationMissing { .. })
        ),
        "{missing}"
    );

    // cosign v3's statement: no name. Refused under the repository rule, accepted under none.
    let v3 = statement(
        None,
        &image(),
        Some(&BTreeMap::new()),
        COSIGN_SIGN_PREDICATE_TYPE,
        &json!({}),
    );
    let v3_bundle = SignedStatement::sign(v3, &signer)
        .unwrap()
        .bundle_json(pub_key);
    let v3_desc = bundle_descriptor(&v3_bundle);
    let err = verify_bundle_signature(
        &v3_desc,
        &v3_bundle,
        pub_key,
        &image(),
        &repo(REPO),
        &BTreeMap::new(),
    )
    .unwrap_err();
    assert!(
        matches!(err, BundleSignatureError::NoIdentity { .. }),
        "{err}"
    );
    assert!(err.to_string().contains("--identity none"), "{err}");
    verify_bundle_signature(
        &v3_desc,
        &v3_bundle,
        pub_key,
        &image(),
        &IdentityRule::None,
        &BTreeMap::new(),
    )
    .unwrap();

    // An attestation bundle is not a signature.
    let att = statement(Some(REPO), &image(), None, "https://p/v1", &json!({}));
    let att_bundle = SignedStatement::sign(att, &signer)
        .unwrap()
        .bundle_json(pub_key);
    let err = verify_bundle_signature(
        &bundle_descriptor(&att_bundle),
        &att_bundle,
        pub_key,
        &image(),
        &IdentityRule::None,
        &BTreeMap::new(),
    )
    .unwrap_err();
    assert!(
        matches!(
            err,
            BundleSignatureError::Statement(AttestationError::PredicateType { .. })
        ),
        "{err}"
    );
    // Bytes other than the descriptor's: refused before anything else.
    let err = verify_bundle_signature(
        &desc,
        &att_bundle,
        pub_key,
        &image(),
        &IdentityRule::None,
        &BTreeMap::new(),
    )
    .unwrap_err();
    assert!(
        matches!(
            err,
            BundleSignatureError::Statement(AttestationError::Blob(_))
        ),
        "{err}"
    );
}

#[test]
fn sig_manifests_we_write_are_read_back() {
    let signer = key(KeyAlgorithm::EcdsaP256);
    let payload = SimpleSigning::new(REPO, image(), &BTreeMap::new());
    let layer = sign_payload(&payload, &signer).unwrap();
    let existing = ImageManifest::parse(&read("cosign-sig-manifest.json"), None).unwrap();
    let appended = append_layer(Some(&existing), Attachment::Signatures, &layer).unwrap();
    let parsed = ImageManifest::parse(appended.manifest(), None).unwrap();
    let layers = signature_layers(&parsed).unwrap();
    assert_eq!(layers.len(), 2);
    assert_eq!(layers[0].descriptor(), &existing.layers()[0]);
    layers[1]
        .verify(
            layer.bytes(),
            signer.public_key(),
            &image(),
            &repo(REPO),
            &BTreeMap::new(),
        )
        .unwrap();
}
