//! The legacy-layer-as-bundle reading, on the generated keyless material in
//! `testdata/keyless` (see its README): the real layer verifies, each malformed annotation is
//! named.

use std::path::PathBuf;

use serde_json::Value;

use super::*;
use crate::cosign::image::{IdentityRule, ImageSignatureError, signature_layers};
use crate::oci::ImageManifest;
use crate::sigstore::{Artifact, IdentityPolicy, Matcher, Trust, TrustRoot, TrustRootSource};

const IDENTITY: &str =
    "https://github.com/tollgate-test/app/.github/workflows/release.yml@refs/heads/main";
/// A change to a Rekor bundle annotation.
type Mutation = Box<dyn Fn(&mut Value)>;

const ISSUER: &str = "https://token.actions.githubusercontent.com";

fn read(name: &str) -> Vec<u8> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../testdata/keyless");
    std::fs::read(dir.join(name)).unwrap()
}

fn annotations() -> BTreeMap<String, String> {
    serde_json::from_slice(&read("sig/annotations.json")).unwrap()
}

fn image() -> Digest {
    let text = String::from_utf8(read("image/digest.txt")).unwrap();
    crate::oci::descriptor::parse_digest(text.trim()).unwrap()
}

fn keyless() -> Trust {
    let root = String::from_utf8(read("trusted_root.json")).unwrap();
    Trust::Keyless {
        policy: IdentityPolicy::new(Matcher::exact(IDENTITY), Matcher::exact(ISSUER)),
        root: TrustRoot::from_json(&root, TrustRootSource::File("trusted_root.json".into()))
            .unwrap(),
    }
}

fn bundle_for(annotations: &BTreeMap<String, String>) -> Result<SigstoreBundle, LegacyBundleError> {
    let payload = read("sig/payload.json");
    legacy_bundle(
        annotations,
        LegacyContent::MessageSignature {
            payload: &payload,
            signature_b64: &annotations["dev.cosignproject.cosign/signature"],
        },
    )
}

#[test]
fn legacy_sig_layer_verifies_as_a_bundle() {
    let bundle = bundle_for(&annotations()).unwrap();
    assert!(bundle.has_certificate());
    assert_eq!(
        bundle.media_type(),
        "application/vnd.dev.sigstore.bundle+json;version=0.1"
    );
    let payload = read("sig/payload.json");
    let verified = crate::sigstore::verify(
        &bundle,
        Artifact::Sha256(&Digest::sha256(&payload)),
        &keyless(),
    )
    .unwrap();
    assert_eq!(verified.identity().unwrap().san, IDENTITY);
    assert_eq!(verified.log_index(), Some(3));
    assert_eq!(verified.log_kind(), Some("hashedrekord/0.0.1"));
}

#[test]
fn signature_layer_verify_with_trust_applies_payload_checks() {
    let payload = read("sig/payload.json");
    let manifest = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                   "digest": Digest::sha256(b"{}").to_string(), "size": 2},
        "layers": [{"mediaType": "application/vnd.dev.cosign.simplesigning.v1+json",
                    "digest": Digest::sha256(&payload).to_string(), "size": payload.len(),
                    "annotations": annotations()}],
    });
    let manifest = ImageManifest::parse(&serde_json::to_vec(&manifest).unwrap(), None).unwrap();
    let layer = &signature_layers(&manifest).unwrap()[0];
    let none = BTreeMap::new();
    let trust = keyless();
    let v = layer
        .verify_with_trust(&payload, &trust, &image(), &IdentityRule::None, &none)
        .unwrap();
    assert_eq!(v.sigstore().unwrap().identity().unwrap().issuer, ISSUER);
    assert_eq!(
        v.payload().docker_reference(),
        "registry.example/keyless/app"
    );
    // Another image digest: the payload check still runs after Sigstore verification.
    let other = Digest::sha256(b"another image");
    assert!(matches!(
        layer.verify_with_trust(&payload, &trust, &other, &IdentityRule::None, &none),
        Err(ImageSignatureError::DigestMismatch { .. })
    ));
}

#[test]
fn malformed_rekor_bundles_are_named() {
    let set: Value = serde_json::from_str(&annotations()[REKOR_BUNDLE_ANNOTATION]).unwrap();
    let cases: [(&str, Mutation); 5] = [
        ("not JSON", Box::new(|v| *v = Value::String("x".into()))),
        (
            "unknown field",
            Box::new(|v| v["Extra"] = Value::Bool(true)),
        ),
        ("logID", Box::new(|v| v["Payload"]["logID"] = "abc".into())),
        (
            "negative",
            Box::new(|v| v["Payload"]["logIndex"] = (-1).into()),
        ),
        (
            "Payload.body",
            Box::new(|v| v["Payload"]["body"] = "e30=".into()),
        ),
    ];
    for (name, mutate) in cases {
        let mut v = set.clone();
        mutate(&mut v);
        let mut a = annotations();
        a.insert(REKOR_BUNDLE_ANNOTATION.into(), v.to_string());
        let err = bundle_for(&a).unwrap_err();
        assert!(
            matches!(err, LegacyBundleError::RekorEntry(_)),
            "{name}: {err}"
        );
    }
    let mut a = annotations();
    a.remove(REKOR_BUNDLE_ANNOTATION);
    assert!(matches!(
        bundle_for(&a),
        Err(LegacyBundleError::NoRekorEntry)
    ));
    let mut a = annotations();
    a.insert(
        CERTIFICATE_ANNOTATION.into(),
        "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n".into(),
    );
    assert!(matches!(
        bundle_for(&a),
        Err(LegacyBundleError::Certificate {
            annotation: CERTIFICATE_ANNOTATION,
            ..
        })
    ));
}
