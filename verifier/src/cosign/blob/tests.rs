use super::*;
use crate::keys::{SigningKey, load_public_key};

fn vectors() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../testdata/cosign")
}

fn vector(name: &str) -> Vec<u8> {
    std::fs::read(vectors().join(name)).unwrap()
}

fn public(name: &str) -> PublicKey {
    load_public_key(&vector(name)).unwrap()
}

fn blob() -> PathBuf {
    vectors().join("blob.bin")
}

/// blob.bin with one byte changed, in a temporary directory.
fn tampered_blob(dir: &Path) -> PathBuf {
    let mut bytes = vector("blob.bin");
    bytes[0] ^= 1;
    let path = dir.join("blob.bin");
    std::fs::write(&path, bytes).unwrap();
    path
}

fn sources() -> Vec<SignatureSource> {
    vec![
        SignatureSource::Signature(parse_signature(&vector("blob.sig")).unwrap()),
        parse_bundle(&vector("blob.cosign-bundle.json")).unwrap(),
        parse_bundle(&vector("blob.sigstore.json")).unwrap(),
    ]
}

#[test]
fn cosign_vectors_verify_with_key_c_only() {
    let c = public("test-only-c.pub");
    let a = public("test-only-a.pub");
    let dir = tempfile::tempdir().unwrap();
    let tampered = tampered_blob(dir.path());
    let kinds: Vec<_> = sources().iter().map(SignatureSource::kind).collect();
    assert_eq!(kinds, ["signature", "cosign-bundle", "sigstore-bundle"]);
    for source in sources() {
        let kind = source.kind();
        let ok = verify(&blob(), &c, &source).unwrap_or_else(|e| panic!("{kind}: {e}"));
        assert_eq!(ok.sha256, Digest::sha256(&vector("blob.bin")), "{kind}");
        assert_eq!(ok.signer, c.fingerprint());
        assert!(ok.notes.is_empty(), "{kind}: {:?}", ok.notes);
        let wrong = verify(&blob(), &a, &source).unwrap_err();
        assert!(
            matches!(wrong, BlobError::BadSignature { .. }),
            "{kind}: {wrong}"
        );
        assert!(wrong.is_rejection());
        let changed = verify(&tampered, &c, &source).unwrap_err();
        assert!(changed.is_rejection(), "{kind}: {changed}");
        if kind == "sigstore-bundle" {
            // The digest hint is checked too, whatever the signature says.
            assert!(
                matches!(
                    changed,
                    BlobError::BadSignature { .. } | BlobError::DigestMismatch { .. }
                ),
                "{changed}"
            );
        } else {
            assert!(
                matches!(changed, BlobError::BadSignature { .. }),
                "{changed}"
            );
        }
    }
}

#[test]
fn tampered_signatures_fail() {
    let c = public("test-only-c.pub");
    let mut sig = parse_signature(&vector("blob.sig")).unwrap();
    let last = sig.len() - 1;
    sig[last] ^= 1;
    let err = verify(&blob(), &c, &SignatureSource::Signature(sig)).unwrap_err();
    assert!(matches!(err, BlobError::BadSignature { .. }), "{err}");
}

#[test]
fn bundles_are_written_as_cosign_writes_them() {
    let c = public("test-only-c.pub");
    // The vectors' hint is base64 SHA-256 of the SPKI DER.
    assert!(
        String::from_utf8(vector("blob.sigstore.json"))
            .unwrap()
            .contains(&format!("\"hint\":\"{}\"", key_hint(&c)))
    );
    let sha256 = Digest::sha256(&vector("blob.bin"));
    let legacy = BlobSignature {
        sha256,
        signature: parse_signature(&vector("blob.sig")).unwrap(),
    };
    assert_eq!(legacy.to_base64().as_bytes(), vector("blob.sig"));
    assert_eq!(
        legacy.legacy_bundle_json(),
        vector("blob.cosign-bundle.json")
    );

    let SignatureSource::Bundle(bundle) = parse_bundle(&vector("blob.sigstore.json")).unwrap()
    else {
        panic!("not a Sigstore bundle")
    };
    let Content::MessageSignature(m) = &bundle.content else {
        panic!("not a message signature")
    };
    let ours = BlobSignature {
        sha256,
        signature: m.signature.clone(),
    }
    .sigstore_bundle_json(&c);
    // cosign's protojson adds a space after some commas; otherwise byte-identical.
    let theirs = String::from_utf8(vector("blob.sigstore.json"))
        .unwrap()
        .replace(", \"", ",\"");
    assert_eq!(String::from_utf8(ours.clone()).unwrap(), theirs);
    // And we read back what we write.
    assert!(matches!(
        parse_bundle(&ours).unwrap(),
        SignatureSource::Bundle(_)
    ));
}

#[test]
fn every_key_type_signs_and_verifies_in_every_form() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("blob");
    std::fs::write(&path, b"some weights").unwrap();
    let tampered = dir.path().join("tampered");
    std::fs::write(&tampered, b"some weightz").unwrap();
    for algorithm in KeyAlgorithm::GENERATABLE {
        let key = SigningKey::generate(algorithm).unwrap();
        let public = key.public_key().clone();
        let signed = sign(&path, &key).unwrap();
        assert_eq!(signed.sha256, Digest::sha256(b"some weights"));
        let forms = [
            SignatureSource::Signature(parse_signature(signed.to_base64().as_bytes()).unwrap()),
            SignatureSource::Signature(parse_signature(&signed.signature).unwrap()),
            parse_bundle(&signed.legacy_bundle_json()).unwrap(),
            parse_bundle(&signed.sigstore_bundle_json(&public)).unwrap(),
        ];
        for source in &forms {
            verify(&path, &public, source)
                .unwrap_or_else(|e| panic!("{algorithm} {}: {e}", source.kind()));
            assert!(
                verify(&tampered, &public, source)
                    .unwrap_err()
                    .is_rejection()
            );
        }
        // Digest signing and verification against aws-lc's own message-based schemes.
        let sha256 = aws_lc_rs::digest::digest(&SHA256, b"some weights");
        let by_message = key.sign(b"some weights").unwrap();
        match algorithm.message_hash() {
            Some(own) => {
                let by_digest = key.sign_digest(&SHA256, sha256.as_ref()).unwrap().unwrap();
                public
                    .verify_digest(&SHA256, sha256.as_ref(), &by_digest)
                    .unwrap();
                public
                    .verify_digest(&SHA256, sha256.as_ref(), &signed.signature)
                    .unwrap();
                let own_digest = aws_lc_rs::digest::digest(own, b"some weights");
                public
                    .verify_digest(own, own_digest.as_ref(), &by_message)
                    .unwrap();
                if *own == SHA256 {
                    public.verify(b"some weights", &by_digest).unwrap();
                } else {
                    // P-384/P-521 over SHA-256 (cosign's choice), checked by aws-lc's
                    // ECDSA_Pxxx_SHA256 verification, independent of how it was signed.
                    let alg: &dyn aws_lc_rs::signature::VerificationAlgorithm = match algorithm {
                        KeyAlgorithm::EcdsaP384 => &aws_lc_rs::signature::ECDSA_P384_SHA256_ASN1,
                        _ => &aws_lc_rs::signature::ECDSA_P521_SHA256_ASN1,
                    };
                    aws_lc_rs::signature::UnparsedPublicKey::new(alg, public.spki_der())
                        .verify(b"some weights", &by_digest)
                        .unwrap();
                    assert!(public.verify(b"some weights", &by_digest).is_err());
                }
                let wrong = aws_lc_rs::digest::digest(&SHA256, b"other");
                assert!(
                    public
                        .verify_digest(&SHA256, wrong.as_ref(), &by_digest)
                        .is_err()
                );
                assert!(
                    key.sign_digest(&SHA256, &[0; 7]).unwrap().is_err(),
                    "wrong length"
                );
            }
            None => {
                assert!(key.sign_digest(&SHA256, sha256.as_ref()).is_none());
                assert!(
                    public
                        .verify_digest(&SHA256, sha256.as_ref(), &by_message)
                        .is_err()
                );
            }
        }
    }
}

#[test]
fn signature_files_are_base64_or_raw() {
    let raw = parse_signature(&vector("blob.sig")).unwrap();
    assert_eq!(raw[0], 0x30, "DER");
    let mut with_newline = vector("blob.sig");
    with_newline.extend_from_slice(b"\n");
    assert_eq!(parse_signature(&with_newline).unwrap(), raw);
    assert_eq!(parse_signature(&raw).unwrap(), raw);
    for (bad, says) in [
        (&b""[..], "empty"),
        (b"  \n", "empty"),
        (b"{\"base64Signature\":\"AA==\"}", "--bundle"),
    ] {
        let err = parse_signature(bad).unwrap_err();
        assert!(err.to_string().contains(says), "{err}");
    }
    assert!(parse_signature(&vec![b'A'; 100_000]).is_err());
    // A raw Ed25519 signature is 64 arbitrary bytes: one that starts with `{` (or with
    // whitespace, then `{`) is still a raw signature, not JSON.
    for lead in [&b"{"[..], b" {", b"\n{"] {
        let mut ed25519: Vec<u8> = lead.to_vec();
        ed25519.extend((0..64 - lead.len()).map(|i| (i * 37 + 5) as u8));
        assert_eq!(parse_signature(&ed25519).unwrap(), ed25519);
    }
}

fn rejects(bundle: &str, key: &PublicKey) -> BlobError {
    let source = match parse_bundle(bundle.as_bytes()) {
        Ok(s) => s,
        Err(e) => return e,
    };
    verify(&blob(), key, &source).unwrap_err()
}

#[test]
fn bundles_that_cannot_be_verified_with_a_key_are_refused() {
    let c = public("test-only-c.pub");
    let a = public("test-only-a.pub");
    let sigstore = String::from_utf8(vector("blob.sigstore.json")).unwrap();
    let legacy = String::from_utf8(vector("blob.cosign-bundle.json")).unwrap();
    let b64 = |s: &str| b64(s.as_bytes());

    let cert = sigstore.replace(
        "\"publicKey\":{\"hint\":\"sEuolnTA8yr4lnwEMJwiaJK2Y3wSyaRV4eOrBarkLFY=\"}",
        "\"certificate\":{\"rawBytes\":\"MAA=\"}",
    );
    assert_ne!(cert, sigstore);
    let err = rejects(&cert, &c);
    assert!(matches!(err, BlobError::Keyless), "{err}");
    assert!(
        err.to_string()
            .contains("verify it with --certificate-identity")
    );

    let pem_cert = "-----BEGIN CERTIFICATE-----\nMAA=\n-----END CERTIFICATE-----\n";
    let legacy_cert = legacy.replace("\"}", &format!("\",\"cert\":\"{}\"}}", b64(pem_cert)));
    assert!(matches!(rejects(&legacy_cert, &c), BlobError::Keyless));

    let pub_a = String::from_utf8(vector("test-only-a.pub")).unwrap();
    let pub_c = String::from_utf8(vector("test-only-c.pub")).unwrap();
    let legacy_other = legacy.replace("\"}", &format!("\",\"cert\":\"{}\"}}", b64(&pub_a)));
    assert!(matches!(
        rejects(&legacy_other, &c),
        BlobError::OtherKey { .. }
    ));
    let legacy_same = legacy.replace(
        "\"}",
        &format!("\",\"cert\":\"{}\",\"rekorBundle\":{{}}}}", b64(&pub_c)),
    );
    let source = parse_bundle(legacy_same.as_bytes()).unwrap();
    let ok = verify(&blob(), &c, &source).unwrap();
    assert!(ok.notes[0].contains("only the signature with --key is checked"));
    assert!(verify(&blob(), &a, &source).is_err());

    let with_tlog = sigstore.replace(
        "}}, \"messageSignature\"",
        "}, \"tlogEntries\":[{}]}, \"messageSignature\"",
    );
    assert_ne!(with_tlog, sigstore);
    let source = parse_bundle(with_tlog.as_bytes()).unwrap();
    let ok = verify(&blob(), &c, &source).unwrap();
    assert!(
        ok.notes[0].contains("1 transparency-log entries are not verified"),
        "{:?}",
        ok.notes
    );

    let digest = "G8oHy8z4sIjj9842u8U21nu0GdXJYHgst6SlXpqvgJE=";
    let other_digest = b64("x".repeat(32).as_str());
    let err = rejects(&sigstore.replace(digest, &other_digest), &c);
    assert!(matches!(err, BlobError::DigestMismatch { .. }), "{err}");
    let err = rejects(&sigstore.replace("SHA2_256", "SHA3_256"), &c);
    assert!(matches!(err, BlobError::DigestAlgorithm(_)), "{err}");
    // A SHA2_256 label on a SHA-512 digest is a mismatch, not a crash.
    let long = b64(&"x".repeat(64));
    assert!(matches!(
        rejects(&sigstore.replace(digest, &long), &c),
        BlobError::DigestMismatch { .. }
    ));

    let dsse = String::from_utf8(
        std::fs::read(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../testdata/model-signing/sigs/key.sig"),
        )
        .unwrap(),
    )
    .unwrap();
    assert!(matches!(rejects(&dsse, &c), BlobError::NotMessageSignature));

    for (bad, says) in [
        ("[]", "not a JSON object"),
        ("{}", "neither mediaType"),
        ("{\"base64Signature\":7}", "not a string"),
        ("{\"base64Signature\":\"@@\"}", "base64Signature"),
        ("{\"mediaType\":\"x\"}", "mediaType"),
        ("not json", "not JSON"),
    ] {
        let err = rejects(bad, &c);
        assert!(matches!(err, BlobError::Malformed(_)), "{bad}: {err}");
        assert!(err.to_string().contains(says), "{bad}: {err}");
    }
}

#[test]
fn other_message_digests_are_checked() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("blob");
    std::fs::write(&path, b"payload").unwrap();
    for algorithm in [
        KeyAlgorithm::EcdsaP256,
        KeyAlgorithm::EcdsaP384,
        KeyAlgorithm::Ed25519,
    ] {
        let key = SigningKey::generate(algorithm).unwrap();
        let signed = sign(&path, &key).unwrap();
        for (name, hash) in MESSAGE_DIGESTS {
            let bundle = |digest: &[u8]| {
                format!(
                    r#"{{"mediaType":"application/vnd.dev.sigstore.bundle.v0.3+json","verificationMaterial":{{"publicKey":{{}}}},"messageSignature":{{"messageDigest":{{"algorithm":"{name}","digest":"{}"}},"signature":"{}"}}}}"#,
                    b64(digest),
                    signed.to_base64()
                )
            };
            let right = aws_lc_rs::digest::digest(hash, b"payload");
            let source = parse_bundle(bundle(right.as_ref()).as_bytes()).unwrap();
            verify(&path, key.public_key(), &source)
                .unwrap_or_else(|e| panic!("{algorithm} {name}: {e}"));
            let wrong = aws_lc_rs::digest::digest(hash, b"payloaD");
            let source = parse_bundle(bundle(wrong.as_ref()).as_bytes()).unwrap();
            let err = verify(&path, key.public_key(), &source).unwrap_err();
            assert!(
                matches!(err, BlobError::DigestMismatch { .. }),
                "{algorithm} {name}: {err}"
            );
        }
    }
}

#[test]
fn large_blobs_are_hashed_not_loaded() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("big");
    let file = File::create(&path).unwrap();
    // Sparse: no disk space used, one byte over the in-memory limit.
    file.set_len(MAX_IN_MEMORY_BLOB + 1).unwrap();
    drop(file);

    let ed = SigningKey::generate(KeyAlgorithm::Ed25519).unwrap();
    let err = sign(&path, &ed).unwrap_err();
    assert!(matches!(err, BlobError::TooLarge { .. }), "{err}");
    assert!(!err.is_rejection());
    assert!(err.to_string().contains("Ed25519"), "{err}");
    let sig = SignatureSource::Signature(vec![0; 64]);
    assert!(matches!(
        verify(&path, ed.public_key(), &sig).unwrap_err(),
        BlobError::TooLarge { .. }
    ));

    // P-384 exercises both the engine (SHA-256) and the streamed SHA-384.
    let key = SigningKey::generate(KeyAlgorithm::EcdsaP384).unwrap();
    let signed = sign(&path, &key).unwrap();
    let bundle = parse_bundle(&signed.sigstore_bundle_json(key.public_key())).unwrap();
    verify(&path, key.public_key(), &bundle).unwrap();
}

#[test]
fn blobs_must_be_regular_files() {
    let key = SigningKey::generate(KeyAlgorithm::EcdsaP256).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let err = sign(dir.path(), &key).unwrap_err();
    assert!(matches!(err, BlobError::NotAFile { .. }), "{err}");
    let err = sign(&dir.path().join("missing"), &key).unwrap_err();
    assert!(matches!(err, BlobError::Io { .. }), "{err}");
    assert!(!err.is_rejection());
}
