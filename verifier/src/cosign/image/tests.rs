//! Tests against the captured cosign 2.5.0 and skopeo 1.18 image signatures.

use std::collections::BTreeMap;
use std::path::PathBuf;

use super::attestation::{
    AttestationError, BUNDLE_V0_3_MEDIA_TYPE, FallbackEntry, FallbackIndex, ReferrerHint,
    ReferrerKind, attestation_layers, classify_referrer, referrer_bundle_layers,
    verify_bundle_attestation, verify_bundle_layer,
};
use super::*;
use crate::keys::load_public_key;
use crate::oci::descriptor::parse_digest;

const IMAGE: &str = "sha256:347df478c1b52175044cf42dc3b48ea9354356dd51fab632fd5ff484ece48f8a";
const PREDICATE: &str = "https://example.com/model-card/v1";

fn read(name: &str) -> Vec<u8> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../testdata/cosign");
    std::fs::read(dir.join(name)).unwrap()
}

fn key(name: &str) -> PublicKey {
    load_public_key(&read(&format!("test-only-{name}.pub"))).unwrap()
}

fn image() -> Digest {
    parse_digest(IMAGE).unwrap()
}

fn manifest(name: &str) -> ImageManifest {
    ImageManifest::parse(&read(name), None).unwrap()
}

fn repo(r: &str) -> IdentityRule {
    IdentityRule::Repository(DockerReference::parse(r).unwrap())
}

fn exact(r: &str) -> IdentityRule {
    IdentityRule::Exact(ExactReference::parse(r).unwrap())
}

fn none() -> BTreeMap<String, String> {
    BTreeMap::new()
}

/// (payload, signature, signing key, other key) for cosign's and skopeo's captures.
fn captured(which: &str) -> (Vec<u8>, String, PublicKey, PublicKey) {
    let (prefix, signer, other) = match which {
        "cosign" => ("cosign", "c", "a"),
        _ => ("skopeo", "a", "c"),
    };
    let layers = signature_layers(&manifest(&format!("{prefix}-sig-manifest.json"))).unwrap();
    assert_eq!(layers.len(), 1);
    (
        read(&format!("{prefix}-sig-payload.json")),
        layers[0].signature_b64().to_owned(),
        key(signer),
        key(other),
    )
}

#[test]
fn captured_signatures_verify_with_their_key_only() {
    for which in ["cosign", "skopeo"] {
        let (payload, sig, right, wrong) = captured(which);
        let v = verify_simple_signing(
            &payload,
            &sig,
            &right,
            &image(),
            &IdentityRule::None,
            &none(),
        )
        .unwrap_or_else(|e| panic!("{which}: {e}"));
        assert_eq!(v.manifest_digest(), &image());
        assert_eq!(v.signer(), &right.fingerprint());
        assert!(!v.notes().is_empty(), "identity rule none is noted");
        let err = verify_simple_signing(
            &payload,
            &sig,
            &wrong,
            &image(),
            &IdentityRule::None,
            &none(),
        )
        .unwrap_err();
        assert!(
            matches!(err, ImageSignatureError::BadSignature { .. }),
            "{which}: {err}"
        );
        assert!(err.to_string().contains(&wrong.fingerprint().to_string()));
    }
}

#[test]
fn tampered_payload_fails() {
    let (payload, sig, key, _) = captured("cosign");
    for i in [0, 40, payload.len() - 2] {
        let mut p = payload.clone();
        p[i] ^= 0x01;
        assert!(matches!(
            verify_simple_signing(&p, &sig, &key, &image(), &IdentityRule::None, &none()),
            Err(ImageSignatureError::BadSignature { .. })
        ));
    }
    // Re-serialized (whitespace added) but semantically equal: still refused.
    let spaced = String::from_utf8(payload).unwrap().replacen(':', ": ", 1);
    assert!(matches!(
        verify_simple_signing(
            spaced.as_bytes(),
            &sig,
            &key,
            &image(),
            &IdentityRule::None,
            &none()
        ),
        Err(ImageSignatureError::BadSignature { .. })
    ));
}

#[test]
fn wrong_expected_digest_names_both() {
    let (payload, sig, key, _) = captured("skopeo");
    let other = Digest::sha256(b"another image");
    let err = verify_simple_signing(&payload, &sig, &key, &other, &IdentityRule::None, &none())
        .unwrap_err();
    assert!(matches!(err, ImageSignatureError::DigestMismatch { .. }));
    let msg = err.to_string();
    assert!(
        msg.contains(IMAGE) && msg.contains(&other.to_string()),
        "{msg}"
    );
}

#[test]
fn identity_rules() {
    let (c_payload, c_sig, c_key, _) = captured("cosign");
    let (s_payload, s_sig, s_key, _) = captured("skopeo");
    let cosign = |rule: &IdentityRule| {
        verify_simple_signing(&c_payload, &c_sig, &c_key, &image(), rule, &none())
    };
    let skopeo = |rule: &IdentityRule| {
        verify_simple_signing(&s_payload, &s_sig, &s_key, &image(), rule, &none())
    };
    // cosign signs "127.0.0.1:5000/demo/cosigned"; skopeo "127.0.0.1:5000/demo/hello:v1".
    assert!(cosign(&repo("127.0.0.1:5000/demo/cosigned")).is_ok());
    assert!(cosign(&repo("127.0.0.1:5000/demo/cosigned:v1")).is_ok());
    assert!(skopeo(&repo("127.0.0.1:5000/demo/hello")).is_ok());
    assert!(skopeo(&repo(&format!("127.0.0.1:5000/demo/hello@{IMAGE}"))).is_ok());
    assert!(skopeo(&exact("127.0.0.1:5000/demo/hello:v1")).is_ok());
    // Copied to another repository: refused under Repository, accepted under None.
    let moved = repo("127.0.0.1:5000/demo/moved");
    for r in [cosign(&moved), skopeo(&moved)] {
        let err = r.unwrap_err();
        assert!(
            matches!(err, ImageSignatureError::IdentityMismatch { .. }),
            "{err}"
        );
        assert!(err.to_string().contains("demo/moved"), "{err}");
    }
    assert!(cosign(&IdentityRule::None).is_ok());
    assert!(skopeo(&IdentityRule::None).is_ok());
    // Another registry, same path: another repository.
    assert!(cosign(&repo("127.0.0.2:5000/demo/cosigned")).is_err());
    // Exact: another tag fails; cosign's repository-only identity never matches.
    assert!(matches!(
        skopeo(&exact("127.0.0.1:5000/demo/hello:v2")),
        Err(ImageSignatureError::IdentityMismatch { .. })
    ));
    assert!(matches!(
        cosign(&exact("127.0.0.1:5000/demo/cosigned:v1")),
        Err(ImageSignatureError::IdentityMismatch { .. })
    ));
    assert!(ExactReference::parse("127.0.0.1:5000/demo/cosigned").is_err());
}

#[test]
fn required_annotations() {
    let (c_payload, c_sig, c_key, _) = captured("cosign");
    let (s_payload, s_sig, s_key, _) = captured("skopeo");
    let want = |k: &str, v: &str| BTreeMap::from([(k.to_owned(), v.to_owned())]);
    // cosign's payload has "optional": null: any required annotation is missing.
    let err = verify_simple_signing(
        &c_payload,
        &c_sig,
        &c_key,
        &image(),
        &IdentityRule::None,
        &want("env", "prod"),
    )
    .unwrap_err();
    assert!(
        matches!(err, ImageSignatureError::AnnotationMissing { .. }),
        "{err}"
    );
    assert!(err.to_string().contains("env=prod"));
    // skopeo's optional has creator (a string) and timestamp (a number).
    let ok = verify_simple_signing(
        &s_payload,
        &s_sig,
        &s_key,
        &image(),
        &IdentityRule::None,
        &want("creator", "containers/image 5.34.2"),
    );
    assert!(ok.is_ok());
    let err = verify_simple_signing(
        &s_payload,
        &s_sig,
        &s_key,
        &image(),
        &IdentityRule::None,
        &want("creator", "cosign"),
    )
    .unwrap_err();
    assert!(
        matches!(err, ImageSignatureError::AnnotationMismatch { .. }),
        "{err}"
    );
    let err = verify_simple_signing(
        &s_payload,
        &s_sig,
        &s_key,
        &image(),
        &IdentityRule::None,
        &want("timestamp", "1795777299"),
    )
    .unwrap_err();
    assert!(
        matches!(err, ImageSignatureError::AnnotationMismatch { .. }),
        "{err}"
    );
}

#[test]
fn annotations_are_checked_after_the_signature() {
    use crate::keys::{KeyAlgorithm, Signer, SigningKey};
    use base64::Engine as _;
    let signer = SigningKey::generate(KeyAlgorithm::EcdsaP256).unwrap();
    let annotations = BTreeMap::from([
        ("env".to_owned(), "prod".to_owned()),
        ("a&b".to_owned(), "<x>".to_owned()),
    ]);
    let payload = SimpleSigning::new("reg.example/team/app", image(), &annotations).to_bytes();
    assert!(
        String::from_utf8_lossy(&payload)
            .contains(r#""optional":{"a\u0026b":"\u003cx\u003e","env":"prod"}"#)
    );
    let sig = base64::engine::general_purpose::STANDARD.encode(signer.sign(&payload).unwrap());
    let pk = signer.public_key();
    let rule = repo("reg.example/team/app");
    let v = verify_simple_signing(&payload, &sig, pk, &image(), &rule, &annotations).unwrap();
    assert_eq!(
        v.payload().optional_value("env"),
        Some(&Value::String("prod".into()))
    );
    let other = BTreeMap::from([("env".to_owned(), "dev".to_owned())]);
    assert!(matches!(
        verify_simple_signing(&payload, &sig, pk, &image(), &rule, &other),
        Err(ImageSignatureError::AnnotationMismatch { .. })
    ));
}

#[test]
fn p384_image_signatures_are_sha256() {
    use crate::keys::{KeyAlgorithm, Signer, SigningKey};
    use base64::Engine as _;
    let signer = SigningKey::generate(KeyAlgorithm::EcdsaP384).unwrap();
    let payload = SimpleSigning::new("reg.example/app", image(), &none()).to_bytes();
    let b64 = |s: Vec<u8>| base64::engine::general_purpose::STANDARD.encode(s);
    let sha256_sig = signer
        .sign_digest(&SHA256, Digest::sha256(&payload).as_bytes())
        .unwrap()
        .unwrap();
    let pk = signer.public_key();
    let check = |sig: &str| {
        verify_simple_signing(&payload, sig, pk, &image(), &IdentityRule::None, &none())
    };
    assert!(check(&b64(sha256_sig)).is_ok());
    // SHA-384 (the curve's hash) is not what cosign or containers/image verify.
    assert!(check(&b64(signer.sign(&payload).unwrap())).is_err());
}

#[test]
fn payloads_round_trip_byte_identically() {
    for name in ["cosign-sig-payload.json", "skopeo-sig-payload.json"] {
        let bytes = read(name);
        let p = SimpleSigning::parse(&bytes).unwrap();
        assert_eq!(p.to_bytes(), bytes, "{name}");
    }
    let written = SimpleSigning::new("127.0.0.1:5000/demo/cosigned", image(), &none()).to_bytes();
    assert_eq!(written, read("cosign-sig-payload.json"));
    let skopeo = SimpleSigning::parse(&read("skopeo-sig-payload.json")).unwrap();
    assert_eq!(skopeo.creator(), Some("containers/image 5.34.2"));
    assert_eq!(skopeo.timestamp(), Some(1795777299));
    assert_eq!(skopeo.docker_reference(), "127.0.0.1:5000/demo/hello:v1");
}

#[test]
fn payload_parsing_is_strict() {
    let good = String::from_utf8(read("cosign-sig-payload.json")).unwrap();
    let bad = [
        good.replace(r#""type":"#, r#""extra":1,"type":"#),
        good.replace(
            "cosign container image signature",
            "atomic container signature",
        ),
        good.replace(r#","optional":null"#, ""),
        good.replace(r#""optional":null"#, r#""optional":null,"other":1"#),
        good.replace(r#""optional":null"#, r#""optional":[]"#),
        good.replace(r#""optional":null"#, r#""optional":{"timestamp":1.5}"#),
        good.replace(r#""optional":null"#, r#""optional":{"creator":1}"#),
        good.replace(r#""optional":null"#, r#""optional":{"a":"1","a":"2"}"#),
        good.replace(
            r#""docker-manifest-digest":"#,
            r#""x":1,"docker-manifest-digest":"#,
        ),
        good.replace(r#"{"docker-reference":"#, r#"{"x":1,"docker-reference":"#),
        good.replace("sha256:347d", "sha256:347D"),
        good.replace(r#"{"critical""#, r#"{"optional":null,"critical""#),
        format!("{good} x"),
        good.replace(r#""critical""#, r#""critical":{},"critical""#),
    ];
    for b in &bad {
        assert!(SimpleSigning::parse(b.as_bytes()).is_err(), "{b}");
    }
    assert!(matches!(
        SimpleSigning::parse(bad[1].as_bytes()),
        Err(PayloadError::WrongType(_))
    ));
    let ok = good.replace(
        r#""optional":null"#,
        r#""optional":{"timestamp":2.0,"k":{"n":[1]}}"#,
    );
    assert_eq!(
        SimpleSigning::parse(ok.as_bytes()).unwrap().timestamp(),
        Some(2)
    );
    let big = format!("{good}{}", " ".repeat(MAX_PAYLOAD_BYTES));
    assert!(matches!(
        SimpleSigning::parse(big.as_bytes()),
        Err(PayloadError::TooLarge { .. })
    ));
}

#[test]
fn signature_manifests() {
    let two = signature_layers(&manifest("cosign-sig-manifest-two-signers.json")).unwrap();
    assert_eq!(two.len(), 2);
    let payload = read("cosign-sig-payload.json");
    let rule = repo("127.0.0.1:5000/demo/cosigned");
    // Layer 0 was signed with key c, layer 1 with key a.
    for (layer, right, wrong) in [(&two[0], "c", "a"), (&two[1], "a", "c")] {
        assert!(
            layer
                .verify(&payload, &key(right), &image(), &rule, &none())
                .is_ok()
        );
        assert!(
            layer
                .verify(&payload, &key(wrong), &image(), &rule, &none())
                .is_err()
        );
        assert!(!layer.has_certificate());
    }
    // The payload given must be the layer's blob.
    let err = two[0]
        .verify(
            &read("skopeo-sig-payload.json"),
            &key("c"),
            &image(),
            &rule,
            &none(),
        )
        .unwrap_err();
    assert!(
        matches!(err, ImageSignatureError::PayloadDigestMismatch { .. }),
        "{err}"
    );
    // An attestation manifest is not a signature manifest.
    assert!(matches!(
        signature_layers(&manifest("cosign-att-manifest.json")),
        Err(ImageSignatureError::LayerMediaType { index: 0, .. })
    ));
    let unsigned = String::from_utf8(read("cosign-sig-manifest.json"))
        .unwrap()
        .replace(SIGNATURE_ANNOTATION, "other");
    assert!(matches!(
        signature_layers(&ImageManifest::parse(unsigned.as_bytes(), None).unwrap()),
        Err(ImageSignatureError::MissingSignature { index: 0 })
    ));
}

#[test]
fn legacy_attestation() {
    let layers = attestation_layers(&manifest("cosign-att-manifest.json")).unwrap();
    assert_eq!(layers.len(), 1);
    assert_eq!(layers[0].predicate_type_hint(), Some(PREDICATE));
    let dsse = read("cosign-att-dsse.json");
    let v = layers[0]
        .verify(&dsse, &key("c"), &image(), PREDICATE)
        .unwrap();
    assert_eq!(v.predicate_type(), PREDICATE);
    assert_eq!(v.statement_type(), "https://in-toto.io/Statement/v0.1");
    assert_eq!(v.predicate()["model"], "demo");
    assert!(matches!(
        layers[0].verify(&dsse, &key("a"), &image(), PREDICATE),
        Err(AttestationError::BadSignature { .. })
    ));
    assert!(matches!(
        layers[0].verify(&dsse, &key("c"), &image(), "https://slsa.dev/provenance/v1"),
        Err(AttestationError::PredicateType { .. })
    ));
    let other = Digest::sha256(b"x");
    let err = layers[0]
        .verify(&dsse, &key("c"), &other, PREDICATE)
        .unwrap_err();
    assert!(
        matches!(err, AttestationError::SubjectMismatch { .. }),
        "{err}"
    );
    assert!(err.to_string().contains(&other.to_string()));
    assert!(matches!(
        layers[0].verify(
            &read("cosign-sig-payload.json"),
            &key("c"),
            &image(),
            PREDICATE
        ),
        Err(AttestationError::Blob(_))
    ));
    assert!(matches!(
        attestation_layers(&manifest("cosign-sig-manifest.json")),
        Err(AttestationError::LayerMediaType { .. })
    ));
}

#[test]
fn referrer_bundle_attestation() {
    let m = manifest("cosign-referrer-manifest.json");
    let layers = referrer_bundle_layers(&m, &image()).unwrap();
    assert_eq!(layers.len(), 1);
    let bundle = read("cosign-referrer-bundle.json");
    let v = verify_bundle_layer(&layers[0], &bundle, &key("c"), &image(), PREDICATE).unwrap();
    assert_eq!(
        v.subjects()[0].name.as_deref(),
        Some("127.0.0.1:5000/demo/cosigned")
    );
    assert!(matches!(
        verify_bundle_attestation(&bundle, &key("a"), &image(), PREDICATE),
        Err(AttestationError::BadSignature { .. })
    ));
    assert!(matches!(
        verify_bundle_attestation(
            &bundle,
            &key("c"),
            &image(),
            "https://sigstore.dev/cosign/sign/v1"
        ),
        Err(AttestationError::PredicateType { .. })
    ));
    assert!(matches!(
        verify_bundle_attestation(&bundle, &key("c"), &Digest::sha256(b"x"), PREDICATE),
        Err(AttestationError::SubjectMismatch { .. })
    ));
    assert!(matches!(
        referrer_bundle_layers(&m, &Digest::sha256(b"x")),
        Err(AttestationError::ReferrerSubject { .. })
    ));
    // A blob signature bundle is not an attestation.
    assert!(matches!(
        verify_bundle_attestation(&read("blob.sigstore.json"), &key("c"), &image(), PREDICATE),
        Err(AttestationError::NotDsse)
    ));
}

#[test]
fn fallback_index() {
    let index = FallbackIndex::parse(&read("cosign-referrers-fallback-index.json")).unwrap();
    assert_eq!(index.entries().len(), 1);
    let entry = &index.entries()[0];
    // ggcr lists cosign's bundle referrer with the config media type, so the hint is not
    // enough to decide; reading the manifest is.
    assert_eq!(entry.hint, ReferrerHint::EmptyConfig);
    let referrer = read("cosign-referrer-manifest.json");
    match classify_referrer(entry, &referrer, &image()).unwrap() {
        ReferrerKind::SigstoreBundle(layers) => assert_eq!(layers.len(), 1),
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        classify_referrer(entry, &referrer, &Digest::sha256(b"x")).unwrap(),
        ReferrerKind::NotASignature(_)
    ));
    // A listed manifest that is not a bundle: an SBOM-like referrer.
    let sbom = String::from_utf8(referrer)
        .unwrap()
        .replace(BUNDLE_V0_3, "application/spdx+json");
    let sbom_entry = FallbackEntry {
        descriptor: descriptor_for(sbom.as_bytes()),
        hint: ReferrerHint::Missing,
    };
    assert!(matches!(
        classify_referrer(&sbom_entry, sbom.as_bytes(), &image()).unwrap(),
        ReferrerKind::NotASignature(_)
    ));
    // The manifest must be the one listed.
    assert!(matches!(
        classify_referrer(entry, sbom.as_bytes(), &image()),
        Err(AttestationError::Blob(_))
    ));
    // Hints from artifactType.
    let idx = String::from_utf8(read("cosign-referrers-fallback-index.json")).unwrap();
    let hinted = |t: &str| {
        FallbackIndex::parse(
            idx.replace("application/vnd.oci.empty.v1+json", t)
                .as_bytes(),
        )
        .unwrap()
        .entries()[0]
            .hint
            .clone()
    };
    assert_eq!(hinted(BUNDLE_V0_3), ReferrerHint::SigstoreBundle);
    assert!(matches!(
        hinted("application/spdx+json"),
        ReferrerHint::Other(_)
    ));
    // An index listing something other than manifests is refused.
    let nested = idx.replace(
        "vnd.oci.image.manifest.v1+json",
        "vnd.oci.image.index.v1+json",
    );
    assert!(FallbackIndex::parse(nested.as_bytes()).is_err());
}

const BUNDLE_V0_3: &str = BUNDLE_V0_3_MEDIA_TYPE;

fn descriptor_for(bytes: &[u8]) -> Descriptor {
    let index = format!(
        r#"{{"schemaVersion":2,"manifests":[{{"mediaType":"application/vnd.oci.image.manifest.v1+json","size":{},"digest":"{}"}}]}}"#,
        bytes.len(),
        Digest::sha256(bytes)
    );
    crate::oci::ImageIndex::parse(index.as_bytes(), None)
        .unwrap()
        .manifests()[0]
        .clone()
}
