use std::path::PathBuf;

use super::*;

fn testdata(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../testdata")
        .join(rel)
}

fn read(rel: &str) -> Vec<u8> {
    std::fs::read(testdata(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

fn sign_verify(signer: &dyn Signer, public: &PublicKey) {
    let message = b"tollgate test message";
    let signature = signer.sign(message).unwrap();
    public.verify(message, &signature).unwrap();
    assert!(matches!(
        public.verify(b"another message", &signature),
        Err(KeyError::BadSignature)
    ));
}

#[test]
fn errors_stay_small() {
    // Every Result<_, KeyError> carries this much; keep it well under clippy's 128 bytes.
    assert!(size_of::<KeyError>() <= 80, "{}", size_of::<KeyError>());
}

#[test]
fn algorithm_names() {
    for algorithm in KeyAlgorithm::GENERATABLE {
        assert_eq!(algorithm.name().parse::<KeyAlgorithm>().unwrap(), algorithm);
        assert_eq!(algorithm.to_string(), algorithm.name());
    }
    assert_eq!(KeyAlgorithm::Rsa { bits: 3072 }.name(), "rsa-3072");
    let err = "rsa-1024".parse::<KeyAlgorithm>().unwrap_err();
    assert!(err.to_string().contains("ecdsa-p256"), "{err}");
    assert!(matches!(
        SigningKey::generate(KeyAlgorithm::Rsa { bits: 2048 }),
        Err(KeyError::CannotGenerate(_))
    ));
}

/// generate → write (PKCS#8 plain, PKCS#8 encrypted, cosign) → load → sign → verify.
fn round_trip(algorithm: KeyAlgorithm) {
    let key = SigningKey::generate(algorithm).unwrap();
    assert_eq!(key.algorithm(), algorithm);
    assert_eq!(key.public_key().algorithm(), algorithm);
    sign_verify(&key, key.public_key());
    let public = PublicKey::from_pem(key.public_key().to_pem().as_bytes()).unwrap();
    assert_eq!(&public, key.public_key());

    let plain = key.to_pkcs8_pem(None).unwrap();
    assert!(plain.starts_with("-----BEGIN PRIVATE KEY-----\n"));
    let file = KeyFile::parse(plain.as_bytes()).unwrap();
    assert_eq!(file.format(), KeyFormat::Pkcs8Pem);
    assert!(!file.is_encrypted());
    assert_eq!(&file.public_key().unwrap(), key.public_key());
    let loaded = load_private_key(plain.as_bytes(), Some(b"ignored")).unwrap();
    sign_verify(&loaded, key.public_key());

    let der = key.to_pkcs8_der().unwrap();
    assert_eq!(KeyFile::parse(&der).unwrap().format(), KeyFormat::Pkcs8Der);
    sign_verify(&load_private_key(&der, None).unwrap(), key.public_key());

    let encrypted = key.to_pkcs8_pem(Some(b"pkcs8 password")).unwrap();
    assert!(encrypted.starts_with("-----BEGIN ENCRYPTED PRIVATE KEY-----\n"));
    let file = KeyFile::parse(encrypted.as_bytes()).unwrap();
    assert_eq!(file.format(), KeyFormat::EncryptedPkcs8Pem);
    assert!(file.public_key().unwrap_err().is_password_required());
    let loaded = file.signing_key(Some(b"pkcs8 password")).unwrap();
    assert_eq!(loaded.public_key(), key.public_key());
    sign_verify(&loaded, key.public_key());

    // The cosign wrapping, with N=1024 instead of 65536 so unoptimised test builds stay fast;
    // the real N is exercised by cosign_output_is_compact_json_as_go_writes_it and the
    // cosign test keys.
    let cosign_pem = cosign::encrypt(&key.to_pkcs8_der().unwrap(), b"cosign password", 10).unwrap();
    assert!(cosign_pem.starts_with("-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\n"));
    assert!(matches!(
        KeyFile::parse(cosign_pem.as_bytes()),
        Err(KeyError::CosignField {
            field: "kdf.params",
            ..
        })
    ));
    let block = pem::decode(cosign_pem.as_bytes()).unwrap();
    let sealed = cosign::EncryptedKey::parse_accepting(&block.der, &[(1024, 8, 1)]).unwrap();
    assert!(matches!(
        sealed.decrypt(b"wrong"),
        Err(KeyError::WrongPassword { .. })
    ));
    let loaded = SigningKey::from_pkcs8_der(&sealed.decrypt(b"cosign password").unwrap()).unwrap();
    assert_eq!(loaded.public_key(), key.public_key());
    sign_verify(&loaded, key.public_key());
}

#[test]
fn round_trip_ecdsa_p256() {
    round_trip(KeyAlgorithm::EcdsaP256);
}

#[test]
fn round_trip_ecdsa_p384() {
    round_trip(KeyAlgorithm::EcdsaP384);
}

#[test]
fn round_trip_ecdsa_p521() {
    round_trip(KeyAlgorithm::EcdsaP521);
}

#[test]
fn round_trip_ed25519() {
    round_trip(KeyAlgorithm::Ed25519);
}

#[test]
fn round_trip_rsa_3072() {
    round_trip(KeyAlgorithm::Rsa { bits: 3072 });
}

#[test]
fn round_trip_rsa_4096() {
    round_trip(KeyAlgorithm::Rsa { bits: 4096 });
}

#[test]
fn cosign_output_is_compact_json_as_go_writes_it() {
    let key = SigningKey::generate(KeyAlgorithm::EcdsaP256).unwrap();
    let pem_text = key.to_cosign_pem(b"").unwrap();
    assert!(pem_text.lines().all(|l| l.len() <= 64));
    let block = pem::decode(pem_text.as_bytes()).unwrap();
    let json = std::str::from_utf8(&block.der).unwrap();
    assert!(
        json.starts_with(r#"{"kdf":{"name":"scrypt","params":{"N":65536,"r":8,"p":1},"salt":""#),
        "{json}"
    );
    assert!(
        json.contains(r#""},"cipher":{"name":"nacl/secretbox","nonce":""#),
        "{json}"
    );
    let value: serde_json::Value = serde_json::from_str(json).unwrap();
    let b64 = |v: &serde_json::Value| {
        use base64::Engine as _;
        base64::engine::general_purpose::STANDARD
            .decode(v.as_str().unwrap())
            .unwrap()
            .len()
    };
    assert_eq!(b64(&value["kdf"]["salt"]), 32);
    assert_eq!(b64(&value["cipher"]["nonce"]), 24);
    // P-256 PKCS#8 (138 bytes) + the 16-byte tag, as cosign.
    assert_eq!(b64(&value["ciphertext"]), 138 + 16);
    // The empty password is a password.
    let file = KeyFile::parse(pem_text.as_bytes()).unwrap();
    assert!(file.signing_key(None).unwrap_err().is_password_required());
    assert_eq!(
        file.signing_key(Some(b"")).unwrap().public_key(),
        key.public_key()
    );
}

#[test]
fn cosign_test_keys_decrypt_to_their_public_keys() {
    for (name, password) in [("a", "pw-a"), ("c", "pw-c")] {
        let key = load_private_key_file(
            &testdata(&format!("keys/test-only-{name}.key")),
            Some(password.as_bytes()),
        )
        .unwrap();
        let pub_pem = read(&format!("keys/test-only-{name}.pub"));
        let public = PublicKey::from_pem(&pub_pem).unwrap();
        assert_eq!(key.public_key(), &public, "test-only-{name}");
        assert_eq!(public.to_pem().as_bytes(), &pub_pem[..]);
        assert_eq!(public.algorithm(), KeyAlgorithm::EcdsaP256);
        sign_verify(&key, &public);
    }
}

#[test]
fn wrong_and_missing_passwords() {
    let path = testdata("keys/test-only-c.key");
    let err = load_private_key_file(&path, Some(b"pw-a")).unwrap_err();
    assert!(matches!(err, KeyError::WrongPassword { .. }), "{err:?}");
    assert_eq!(
        err.to_string(),
        format!(
            "wrong password for {} (or the key file is corrupt)",
            path.display()
        )
    );
    let err = load_private_key_file(&path, None).unwrap_err();
    assert!(err.is_password_required(), "{err:?}");
    assert!(
        err.to_string().contains("test-only-c.key is encrypted"),
        "{err}"
    );

    let key = SigningKey::generate(KeyAlgorithm::EcdsaP256).unwrap();
    let encrypted = key.to_pkcs8_pem(Some(b"right")).unwrap();
    for wrong in [&b"wrong"[..], b"", b"righ", b"right "] {
        let err = load_private_key(encrypted.as_bytes(), Some(wrong)).unwrap_err();
        assert!(matches!(err, KeyError::WrongPassword { .. }), "{err:?}");
    }
    assert!(
        load_private_key(encrypted.as_bytes(), None)
            .unwrap_err()
            .is_password_required()
    );
}

#[test]
fn openssl_written_private_keys_load() {
    let cases: &[(&str, &str, Option<&str>, KeyFormat, KeyAlgorithm)] = &[
        (
            "sec1-p256.pem",
            "sec1-p256.pub",
            None,
            KeyFormat::Sec1Pem,
            KeyAlgorithm::EcdsaP256,
        ),
        (
            "pkcs1-rsa2048.pem",
            "pkcs1-rsa2048.pub",
            None,
            KeyFormat::Pkcs1Pem,
            KeyAlgorithm::Rsa { bits: 2048 },
        ),
        (
            "pkcs8-p384.pem",
            "pkcs8-p384.pub",
            None,
            KeyFormat::Pkcs8Pem,
            KeyAlgorithm::EcdsaP384,
        ),
        (
            "pkcs8-ed25519.pem",
            "pkcs8-ed25519.pub",
            None,
            KeyFormat::Pkcs8Pem,
            KeyAlgorithm::Ed25519,
        ),
        (
            "pkcs8-p521-scrypt.pem",
            "pkcs8-p521-scrypt.pub",
            Some("pw-scrypt"),
            KeyFormat::EncryptedPkcs8Pem,
            KeyAlgorithm::EcdsaP521,
        ),
        (
            "pkcs8-p256-aes128-sha1.pem",
            "sec1-p256.pub",
            Some("pw-sha1"),
            KeyFormat::EncryptedPkcs8Pem,
            KeyAlgorithm::EcdsaP256,
        ),
        (
            "pkcs8-rsa2048-aes256.der",
            "pkcs1-rsa2048.pub",
            Some("pw-rsa"),
            KeyFormat::EncryptedPkcs8Der,
            KeyAlgorithm::Rsa { bits: 2048 },
        ),
    ];
    for (file, public, password, format, algorithm) in cases {
        let bytes = read(&format!("keys/{file}"));
        let parsed = KeyFile::parse(&bytes).unwrap_or_else(|e| panic!("{file}: {e}"));
        assert_eq!(parsed.format(), *format, "{file}");
        let key = parsed
            .signing_key(password.map(str::as_bytes))
            .unwrap_or_else(|e| panic!("{file}: {e}"));
        let pub_pem = read(&format!("keys/{public}"));
        let public = PublicKey::from_pem(&pub_pem).unwrap();
        assert_eq!(key.public_key(), &public, "{file}");
        assert_eq!(public.algorithm(), *algorithm, "{file}");
        assert_eq!(public.to_pem().as_bytes(), &pub_pem[..], "{file}");
        sign_verify(&key, &public);
    }
    // SEC1 and PKCS#1 as DER too.
    let sec1 = pem::decode(&read("keys/sec1-p256.pem")).unwrap();
    assert_eq!(
        KeyFile::parse(&sec1.der).unwrap().format(),
        KeyFormat::Sec1Der
    );
    let pkcs1 = pem::decode(&read("keys/pkcs1-rsa2048.pem")).unwrap();
    assert_eq!(
        KeyFile::parse(&pkcs1.der).unwrap().format(),
        KeyFormat::Pkcs1Der
    );
    let spki = pem::decode(&read("keys/pkcs8-p384.pub")).unwrap();
    assert_eq!(
        KeyFile::parse(&spki.der).unwrap().format(),
        KeyFormat::SpkiDer
    );
    assert_eq!(
        load_public_key(&spki.der).unwrap().algorithm(),
        KeyAlgorithm::EcdsaP384
    );
}

#[test]
fn unsupported_encryptions_are_named() {
    let err =
        load_private_key(&read("keys/pkcs8-rsa2048-pbes1.pem"), Some(b"pw-pbes1")).unwrap_err();
    assert!(
        matches!(
            err,
            KeyError::UnsupportedEncryption { .. } | KeyError::Der { .. }
        ),
        "{err:?}"
    );
    let err = KeyFile::parse(&read("keys/sec1-p256-legacy-encrypted.pem")).unwrap_err();
    assert!(matches!(err, KeyError::LegacyPemEncryption), "{err:?}");
}

#[test]
fn model_signing_keys() {
    let pub_pem = read("model-signing/keys/signing-key.pub.pem");
    let public = PublicKey::from_pem(&pub_pem).unwrap();
    // Byte-identical, so the model_signing hint (sha256 of the PEM text) matches.
    assert_eq!(public.to_pem().as_bytes(), &pub_pem[..]);
    assert_eq!(public.pem_hint(), Digest::sha256(&pub_pem));
    let key = load_private_key(&read("model-signing/keys/signing-key.pem"), None).unwrap();
    assert_eq!(key.public_key(), &public);
    sign_verify(&key, &public);
    let other = PublicKey::from_pem(&read("model-signing/keys/other-key.pub.pem")).unwrap();
    let signature = key.sign(b"m").unwrap();
    assert!(other.verify(b"m", &signature).is_err());
}

#[test]
fn fingerprint_is_sha256_of_spki_der() {
    let public = PublicKey::from_pem(&read("keys/test-only-c.pub")).unwrap();
    assert_eq!(public.fingerprint(), Digest::sha256(public.spki_der()));
    assert_eq!(public.spki_der()[0], 0x30);
}

fn cosign_file_with(edit: impl FnOnce(&mut serde_json::Value)) -> Vec<u8> {
    let block = pem::decode(&read("keys/test-only-a.key")).unwrap();
    let mut value: serde_json::Value = serde_json::from_slice(&block.der).unwrap();
    edit(&mut value);
    pem::encode(
        "ENCRYPTED SIGSTORE PRIVATE KEY",
        &serde_json::to_vec(&value).unwrap(),
    )
    .as_bytes()
    .to_vec()
}

#[test]
fn cosign_files_cosign_would_refuse_are_refused_by_field() {
    use serde_json::json;
    type Edit = Box<dyn FnOnce(&mut serde_json::Value)>;
    let cases: Vec<(&str, Edit)> = vec![
        (
            "kdf.name",
            Box::new(|v| v["kdf"]["name"] = json!("argon2id")),
        ),
        (
            "kdf.params",
            Box::new(|v| v["kdf"]["params"]["N"] = json!(16384)),
        ),
        (
            "kdf.params",
            Box::new(|v| v["kdf"]["params"]["r"] = json!(16)),
        ),
        (
            "kdf.params",
            Box::new(|v| v["kdf"]["params"]["p"] = json!(2)),
        ),
        (
            "kdf.params.N",
            Box::new(|v| v["kdf"]["params"] = json!({"r": 8, "p": 1})),
        ),
        (
            "kdf.salt",
            Box::new(|v| v["kdf"]["salt"] = json!("not base64!")),
        ),
        (
            "cipher.name",
            Box::new(|v| v["cipher"]["name"] = json!("aes-256-gcm")),
        ),
        (
            "cipher.nonce",
            Box::new(|v| v["cipher"]["nonce"] = json!("AAAA")),
        ),
        ("ciphertext", Box::new(|v| v["ciphertext"] = json!("AAAA"))),
        (
            "cipher",
            Box::new(|v| drop(v.as_object_mut().unwrap().remove("cipher"))),
        ),
        ("(document)", Box::new(|v| *v = json!([1, 2]))),
    ];
    for (field, edit) in cases {
        let err = KeyFile::parse(&cosign_file_with(edit)).unwrap_err();
        match &err {
            KeyError::CosignField { field: f, .. } => assert_eq!(f, &field, "{err}"),
            other => panic!("{field}: {other:?}"),
        }
        assert!(err.to_string().contains(field), "{err}");
    }
    // The older label reads the same contents.
    let block = pem::decode(&read("keys/test-only-a.key")).unwrap();
    let legacy = pem::encode("ENCRYPTED COSIGN PRIVATE KEY", &block.der);
    assert_eq!(
        KeyFile::parse(legacy.as_bytes()).unwrap().format(),
        KeyFormat::CosignLegacy
    );
    // A flipped ciphertext byte is indistinguishable from a wrong password.
    let tampered = cosign_file_with(|v| {
        use base64::Engine as _;
        let engine = base64::engine::general_purpose::STANDARD;
        let mut ct = engine.decode(v["ciphertext"].as_str().unwrap()).unwrap();
        ct[20] ^= 1;
        v["ciphertext"] = serde_json::Value::String(engine.encode(ct));
    });
    let err = load_private_key(&tampered, Some(b"pw-a")).unwrap_err();
    assert!(matches!(err, KeyError::WrongPassword { .. }), "{err:?}");
}

#[test]
fn pkcs8_kdf_costs_are_bounded() {
    use ::pkcs8::der::Encode as _;
    use ::pkcs8::pkcs5;
    let salt = [7u8; 16];
    let iv = [9u8; 16];
    let ciphertext = [0u8; 32];
    let params = pkcs5::pbes2::Parameters::pbkdf2_sha256_aes256cbc(50_000_000, &salt, &iv).unwrap();
    assert!(!pkcs8::is_encrypted_private_key(&[]));
    let info = ::pkcs8::EncryptedPrivateKeyInfo {
        encryption_algorithm: pkcs5::EncryptionScheme::Pbes2(params),
        encrypted_data: &ciphertext,
    };
    let der = info.to_der().unwrap();
    let err = load_private_key(&der, Some(b"x")).unwrap_err();
    assert!(matches!(err, KeyError::KdfTooCostly { .. }), "{err:?}");

    let params = pkcs5::pbes2::Parameters {
        kdf: pkcs5::pbes2::Kdf::Scrypt(pkcs5::pbes2::ScryptParams {
            salt: &salt,
            cost_parameter: 1 << 24,
            block_size: 8,
            parallelization: 1,
            key_length: None,
        }),
        encryption: pkcs5::pbes2::EncryptionScheme::Aes256Cbc { iv: &iv },
    };
    let info = ::pkcs8::EncryptedPrivateKeyInfo {
        encryption_algorithm: pkcs5::EncryptionScheme::Pbes2(params),
        encrypted_data: &ciphertext,
    };
    let err = KeyFile::parse(&info.to_der().unwrap()).unwrap_err();
    assert!(matches!(err, KeyError::KdfTooCostly { .. }), "{err:?}");
}

#[test]
fn truncated_and_garbage_inputs_are_errors() {
    let files = [
        "keys/test-only-a.key",
        "keys/test-only-a.pub",
        "keys/sec1-p256.pem",
        "keys/pkcs1-rsa2048.pem",
        "keys/pkcs8-p521-scrypt.pem",
        "keys/pkcs8-rsa2048-aes256.der",
        "model-signing/keys/signing-key.pem",
    ];
    for file in files {
        let bytes = read(file);
        // Every strict prefix either fails to parse or (PEM whose END line survived) still
        // parses; none panics.
        for len in 0..bytes.len() {
            let prefix = &bytes[..len];
            if let Ok(parsed) = KeyFile::parse(prefix) {
                assert!(
                    len + 2 >= bytes.len(),
                    "{file} truncated to {len} still parses as {:?}",
                    parsed
                );
            }
            let _ = PublicKey::from_bytes(prefix);
        }
        // Flip each byte of the first 200: never a panic.
        for i in 0..bytes.len().min(200) {
            let mut copy = bytes.clone();
            copy[i] ^= 0x55;
            if let Ok(parsed) = KeyFile::parse(&copy)
                && !parsed.is_encrypted()
            {
                let _ = parsed.signing_key(None);
            }
        }
    }
    let garbage: &[&[u8]] = &[
        b"",
        b"hello",
        &[0x30],
        &[0x30, 0x82, 0xff, 0xff],
        &[0xff; 300],
        b"-----BEGIN PUBLIC KEY-----\n!!!!\n-----END PUBLIC KEY-----\n",
        b"-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE\n-----END PUBLIC KEY-----\n",
        b"-----BEGIN CERTIFICATE-----\nMAA=\n-----END CERTIFICATE-----\n",
        b"-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\ne30=\n-----END ENCRYPTED SIGSTORE PRIVATE KEY-----\n",
    ];
    for input in garbage {
        assert!(
            KeyFile::parse(input).is_err(),
            "{:?}",
            String::from_utf8_lossy(input)
        );
        assert!(load_private_key(input, Some(b"x")).is_err());
        assert!(PublicKey::from_bytes(input).is_err());
    }
    assert!(matches!(
        KeyFile::parse(b"-----BEGIN CERTIFICATE-----\nMAA=\n-----END CERTIFICATE-----\n"),
        Err(KeyError::UnknownPemLabel { .. })
    ));
    let huge = vec![b'A'; usize::try_from(MAX_KEY_FILE_SIZE).unwrap() + 1];
    assert!(matches!(
        KeyFile::parse(&huge),
        Err(KeyError::TooLarge { .. })
    ));
}

#[test]
fn public_and_private_are_not_confused() {
    let err = PublicKey::from_pem(&read("model-signing/keys/signing-key.pem")).unwrap_err();
    assert!(
        matches!(
            err,
            KeyError::NotPublic {
                format: KeyFormat::Pkcs8Pem
            }
        ),
        "{err:?}"
    );
    let err = load_private_key(&read("keys/test-only-a.pub"), None).unwrap_err();
    assert!(matches!(err, KeyError::NotPrivate), "{err:?}");
}

#[test]
fn debug_output_is_redacted() {
    let key = SigningKey::generate(KeyAlgorithm::Ed25519).unwrap();
    let debug = format!("{key:?}");
    assert!(debug.starts_with("SigningKey {"), "{debug}");
    assert!(
        debug.contains(&key.public_key().fingerprint().hex()),
        "{debug}"
    );
    let pkcs8 = key.to_pkcs8_der().unwrap();
    let seed_hex: String = pkcs8[pkcs8.len() - 32..]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert!(!debug.contains(&seed_hex));
}

#[test]
fn load_signer_reads_files_and_reports_paths() {
    let dir = tempfile::tempdir().unwrap();
    let key = SigningKey::generate(KeyAlgorithm::EcdsaP384).unwrap();
    let path = dir.path().join("k.pem");
    std::fs::write(&path, key.to_pkcs8_pem(Some(b"pw")).unwrap().as_bytes()).unwrap();
    let spec = path.to_str().unwrap();
    let err = load_signer(spec, None).unwrap_err();
    assert!(err.is_password_required());
    let signer = load_signer(spec, Some(b"pw")).unwrap();
    assert_eq!(signer.public_key(), key.public_key());
    sign_verify(signer.as_ref(), key.public_key());
    let missing = dir.path().join("missing.pem");
    let err = load_signer(missing.to_str().unwrap(), None).unwrap_err();
    assert!(err.to_string().contains("missing.pem"), "{err}");
    let garbage = dir.path().join("garbage.pem");
    std::fs::write(&garbage, "-----BEGIN PRIVATE KEY-----\nAAAA\n").unwrap();
    let err = load_signer(garbage.to_str().unwrap(), None).unwrap_err();
    assert!(
        err.to_string().starts_with(&garbage.display().to_string()),
        "{err}"
    );
    assert!(err.to_string().contains("truncated"), "{err}");
}
