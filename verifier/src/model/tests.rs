use super::*;
use crate::digest::engine::NoProgress;
use crate::keys;
use crate::test_util::{copy_dir, model_signing_vectors};
use serde_json::{Value, json};
use std::time::Duration;

fn vectors() -> PathBuf {
    model_signing_vectors()
}

fn public_key(name: &str) -> PublicKey {
    PublicKey::from_pem(&std::fs::read(vectors().join("keys").join(name)).unwrap()).unwrap()
}

fn signing_key() -> keys::SigningKey {
    keys::load_private_key(
        &std::fs::read(vectors().join("keys/signing-key.pem")).unwrap(),
        None,
    )
    .unwrap()
}

fn certs(name: &str) -> Vec<Certificate> {
    Certificate::parse_pem_bundle(&std::fs::read(vectors().join("pki").join(name)).unwrap())
        .unwrap()
}

/// A time inside the vector PKI's validity (the leaf's notBefore plus a minute).
fn valid_time() -> SystemTime {
    certs("signing-cert.pem")[0].not_before() + Duration::from_secs(60)
}

fn bundle(name: &str) -> Bundle {
    Bundle::read_file(&vectors().join("sigs").join(name)).unwrap()
}

fn trust_for(name: &str) -> Trust {
    if name.contains("certificate") {
        Trust::Roots {
            roots: certs("root-ca.pem"),
            at: valid_time(),
        }
    } else {
        Trust::Key(public_key("signing-key.pub.pem"))
    }
}

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

fn verify_dir(name: &str, dir: &Path) -> Result<ModelVerification, ModelError> {
    let signed = verify_signature(&bundle(name), &trust_for(name))?;
    verify_model(&signed, dir, &VerifyOptions::default(), &NoProgress)
}

#[test]
fn every_vector_verifies() {
    for name in VECTORS {
        let result =
            verify_dir(name, &vectors().join("model")).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(result.diff.is_empty(), "{name}:\n{}", result.diff);
    }
}

#[test]
fn every_vector_fails_with_the_wrong_key_or_only_the_intermediate() {
    for name in VECTORS {
        let trust = if name.contains("certificate") {
            Trust::Roots {
                roots: certs("intermediate-ca.pem"),
                at: valid_time(),
            }
        } else {
            Trust::Key(public_key("other-key.pub.pem"))
        };
        let err = verify_signature(&bundle(name), &trust).unwrap_err();
        assert!(
            matches!(err, ModelError::KeyMismatch { .. } | ModelError::X509(_)),
            "{name}: {err}"
        );
    }
}

#[test]
fn wrong_key_without_hint_fails_on_the_signature() {
    let mut b = bundle("key.sig");
    b.verification_material = VerificationMaterial::PublicKey { hint: None };
    let err = verify_signature(&b, &Trust::Key(public_key("other-key.pub.pem"))).unwrap_err();
    assert!(
        matches!(err, ModelError::Dsse(DsseError::BadSignature)),
        "{err}"
    );
}

#[test]
fn every_vector_fails_after_a_file_is_changed_added_or_removed() {
    type Tamper = (&'static str, fn(&Path));
    let tampers: [Tamper; 3] = [
        ("changed", |d| {
            std::fs::write(d.join("tokenizer/vocab.txt"), b"tampered").unwrap()
        }),
        ("added", |d| {
            std::fs::write(d.join("nested/new.bin"), b"new").unwrap()
        }),
        ("removed", |d| {
            std::fs::remove_file(d.join("config.json")).unwrap()
        }),
    ];
    for (what, tamper) in tampers {
        for name in VECTORS {
            let dir = tempfile::tempdir().unwrap();
            copy_dir(&vectors().join("model"), dir.path());
            tamper(dir.path());
            let result = verify_dir(name, dir.path()).unwrap();
            assert!(!result.diff.is_empty(), "{name} {what}");
            let text = result.diff.to_string();
            let named = ["vocab.txt", "nested/new.bin", "config.json"]
                .iter()
                .any(|n| text.contains(n));
            assert!(named, "{name} {what}: {text}");
        }
    }
}

#[test]
fn certificates_are_checked_at_the_given_time() {
    let leaf = &certs("signing-cert.pem")[0];
    for at in [
        leaf.not_before() - Duration::from_secs(60),
        leaf.not_after() + Duration::from_secs(60),
    ] {
        let trust = Trust::Roots {
            roots: certs("root-ca.pem"),
            at,
        };
        let err = verify_signature(&bundle("certificate.sig"), &trust).unwrap_err();
        assert!(matches!(err, ModelError::X509(_)), "{err}");
    }
}

#[test]
fn sign_then_verify_round_trips_every_serialization() {
    let key = signing_key();
    let configs = [
        HashConfig::default(),
        HashConfig {
            method: manifest::Method::Shards { shard_size: 64 },
            ..Default::default()
        },
        HashConfig {
            algorithm: HashAlgorithm::Blake2b,
            ..Default::default()
        },
        HashConfig {
            algorithm: HashAlgorithm::Blake3,
            ..Default::default()
        },
    ];
    for config in configs {
        let m = manifest::hash_model(
            &vectors().join("model"),
            &WalkOptions::default(),
            &config,
            &NoProgress,
        )
        .unwrap();
        let b = sign(&m, &key, SigningMaterial::Key).unwrap();
        let parsed = Bundle::parse(&b.to_json_bytes()).unwrap();
        let signed = verify_signature(&parsed, &trust_for("key")).unwrap();
        assert_eq!(signed.manifest().root_digest(), m.root_digest());
        let result = verify_model(
            &signed,
            &vectors().join("model"),
            &VerifyOptions::default(),
            &NoProgress,
        )
        .unwrap();
        assert!(result.diff.is_empty(), "{config:?}: {}", result.diff);
    }
}

#[test]
fn certificate_signing_needs_the_matching_key() {
    let m = manifest::hash_model(
        &vectors().join("model"),
        &WalkOptions::default(),
        &HashConfig::default(),
        &NoProgress,
    )
    .unwrap();
    let mut chain = certs("signing-cert.pem");
    chain.extend(certs("intermediate-ca.pem"));
    // The vector leaf belongs to pki/signing-key.pem, not keys/signing-key.pem.
    let err = sign(
        &m,
        &signing_key(),
        SigningMaterial::Certificates(chain.clone()),
    )
    .unwrap_err();
    assert!(err.to_string().contains("different key"), "{err}");
    let leaf_key = keys::load_private_key(
        &std::fs::read(vectors().join("pki/signing-key.pem")).unwrap(),
        None,
    )
    .unwrap();
    let b = sign(&m, &leaf_key, SigningMaterial::Certificates(chain)).unwrap();
    let signed = verify_signature(&b, &trust_for("certificate")).unwrap();
    assert!(
        matches!(signed.signer(), SignedBy::Certificate(s) if s.contains("CN=")),
        "{:?}",
        signed.signer()
    );
}

/// Re-signs an edited statement with the right key, so only the edit can make it fail.
fn resign(edit: impl FnOnce(&mut Value)) -> Bundle {
    let original = bundle("key.sig");
    let Content::DsseEnvelope(env) = &original.content else {
        unreachable!()
    };
    let mut statement: Value = serde_json::from_slice(env.payload()).unwrap();
    edit(&mut statement);
    let payload = serde_json::to_vec(&statement).unwrap();
    let envelope = Envelope::sign(intoto::PAYLOAD_TYPE, payload, &signing_key()).unwrap();
    Bundle {
        content: Content::DsseEnvelope(envelope),
        ..original
    }
}

fn signature_error(b: &Bundle) -> String {
    verify_signature(b, &trust_for("key"))
        .unwrap_err()
        .to_string()
}

#[test]
fn bad_statements_are_refused_even_when_properly_signed() {
    let two_subjects = resign(|s| {
        let first = s["subject"][0].clone();
        s["subject"].as_array_mut().unwrap().push(first);
    });
    assert!(signature_error(&two_subjects).contains("2 subjects"));

    let root = resign(|s| s["subject"][0]["digest"]["sha256"] = json!("00".repeat(32)));
    assert!(signature_error(&root).contains("manifest is inconsistent"));

    for bad in ["../etc/passwd", "/etc/passwd", "a/../../b", "a//b"] {
        let b = resign(|s| s["predicate"]["resources"][0]["name"] = json!(bad));
        assert!(
            signature_error(&b).contains("not a relative path inside the model"),
            "{bad}"
        );
    }

    let dup = resign(|s| {
        let r = s["predicate"]["resources"].as_array_mut().unwrap();
        let first = r[0].clone();
        r.insert(0, first);
    });
    assert!(
        signature_error(&dup).contains("listed twice"),
        "{}",
        signature_error(&dup)
    );

    let ptype = resign(|s| s["predicateType"] = json!("https://example.com/other"));
    assert!(signature_error(&ptype).contains("predicateType"));
    let legacy = resign(|s| s["predicateType"] = json!(LEGACY_PREDICATE_TYPE));
    assert!(signature_error(&legacy).contains("not supported"));
}

#[test]
fn payload_type_and_pae_are_enforced() {
    let original = bundle("key.sig");
    let Content::DsseEnvelope(env) = &original.content else {
        unreachable!()
    };
    let key = signing_key();
    let other_type = Envelope::sign("application/json", env.payload().to_vec(), &key).unwrap();
    let b = Bundle {
        content: Content::DsseEnvelope(other_type),
        ..original.clone()
    };
    assert!(signature_error(&b).contains("payloadType"));

    // A signature over the bare payload (not PAE) must not verify.
    let mut json = env.to_json();
    let raw_sig = Signer::sign(&key, env.payload()).unwrap();
    json["signatures"][0]["sig"] = json!(base64::Engine::encode(
        &base64::engine::general_purpose::STANDARD,
        raw_sig
    ));
    let b = Bundle {
        content: Content::DsseEnvelope(Envelope::from_json(&json).unwrap()),
        ..original
    };
    assert!(signature_error(&b).contains("does not verify"));
}

#[test]
fn ignore_unsigned_files_and_unsafe_names() {
    let dir = tempfile::tempdir().unwrap();
    copy_dir(&vectors().join("model"), dir.path());
    std::fs::write(dir.path().join("unsigned-extra.txt"), b"x").unwrap();
    let signed = verify_signature(&bundle("key.sig"), &trust_for("key")).unwrap();
    let strict = verify_model(&signed, dir.path(), &VerifyOptions::default(), &NoProgress).unwrap();
    assert_eq!(strict.diff.extra, ["unsigned-extra.txt"]);
    let lenient = VerifyOptions {
        ignore_unsigned_files: true,
        ..Default::default()
    };
    assert!(
        verify_model(&signed, dir.path(), &lenient, &NoProgress)
            .unwrap()
            .diff
            .is_empty()
    );
    std::fs::remove_file(dir.path().join("LICENSE")).unwrap();
    let missing = verify_model(&signed, dir.path(), &lenient, &NoProgress).unwrap();
    assert_eq!(missing.diff.missing, ["LICENSE"]);
}

/// The keyless model signature of `testdata/keyless` (see its README): checked by
/// `sigstore::verify` over the claimed root, then compared with the model like any other.
#[test]
fn keyless_model_signature_verifies_through_sigstore() {
    let dir = vectors().join("../keyless");
    let raw = std::fs::read(dir.join("model.sig")).unwrap();
    let bundle = Bundle::parse(&raw).unwrap();
    let root = claimed_root_digest(&bundle).unwrap();
    let trust = |identity: &str| sigstore::Trust::Keyless {
        policy: sigstore::IdentityPolicy::new(
            sigstore::Matcher::exact(identity),
            sigstore::Matcher::exact("https://token.actions.githubusercontent.com"),
        ),
        root: sigstore::TrustRoot::from_file(&dir.join("trusted_root.json")).unwrap(),
    };
    let identity =
        "https://github.com/tollgate-test/app/.github/workflows/release.yml@refs/heads/main";
    let sb = sigstore::SigstoreBundle::from_json(&raw).unwrap();
    let verified =
        sigstore::verify(&sb, sigstore::Artifact::Sha256(&root), &trust(identity)).unwrap();
    let signed = SignedModel::from_sigstore(&verified).unwrap();
    assert_eq!(signed.manifest().root_digest(), root);
    assert!(matches!(signed.signer(), SignedBy::Keyless { identity: i, .. } if i == identity));
    let checked = verify_model(
        &signed,
        &dir.join("model"),
        &VerifyOptions::default(),
        &NoProgress,
    )
    .unwrap();
    assert!(checked.diff.is_empty(), "{}", checked.diff);

    // Another identity is refused by sigstore::verify, so no SignedModel can be made.
    assert!(
        sigstore::verify(
            &sb,
            sigstore::Artifact::Sha256(&root),
            &trust("https://example.com/other")
        )
        .is_err()
    );
    // The same proof for any other digest does not make a SignedModel.
    let other = Digest::sha256(b"not the model");
    assert!(sigstore::verify(&sb, sigstore::Artifact::Sha256(&other), &trust(identity)).is_err());
    // The key and CA methods point to the keyless flags.
    let key = public_key("signing-key.pub.pem");
    let err = verify_signature(&bundle, &Trust::Key(key))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("keyless") && err.contains("--certificate-identity"),
        "{err}"
    );
}
