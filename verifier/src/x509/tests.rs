//! Tests of certificate reading and chain verification: the model_signing vector PKI
//! (`testdata/model-signing/pki`) and the fixtures of `testdata/x509` (see its README), checked
//! at fixed instants so no test depends on the clock.

use std::path::PathBuf;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use proptest::prelude::*;

use super::*;
use crate::digest::Digest;

/// 2030-06-01T00:00:00Z: inside every fixture's validity unless it is meant to be outside, and
/// inside the model_signing PKI's (2026-11-27T10:54:41Z .. 2036-11-24T10:54:41Z).
const AT: u64 = 1_906_502_400;

fn at(secs: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(secs)
}

fn testdata(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../testdata")
        .join(rel)
}

fn load(rel: &str) -> Vec<Certificate> {
    let bytes = std::fs::read(testdata(rel)).unwrap();
    Certificate::parse_pem_bundle(&bytes).unwrap()
}

fn one(rel: &str) -> Certificate {
    let mut certs = load(rel);
    assert_eq!(certs.len(), 1, "{rel}");
    certs.remove(0)
}

/// A fixture of `testdata/x509`.
fn fx(name: &str) -> Certificate {
    one(&format!("x509/{name}.pem"))
}

struct Pki {
    leaf: Certificate,
    intermediate: Certificate,
    root: Certificate,
}

fn model_signing() -> Pki {
    Pki {
        leaf: one("model-signing/pki/signing-cert.pem"),
        intermediate: one("model-signing/pki/intermediate-ca.pem"),
        root: one("model-signing/pki/root-ca.pem"),
    }
}

/// Verifies a fixture leaf under `intermediates` and `root` at [`AT`].
fn verify_fx(
    leaf: &str,
    intermediates: &[&str],
    roots: &[&str],
) -> Result<VerifiedChain, X509Error> {
    let inter: Vec<Certificate> = intermediates.iter().map(|n| fx(n)).collect();
    let roots: Vec<Certificate> = roots.iter().map(|n| fx(n)).collect();
    verify_chain(&fx(leaf), &inter, &roots, at(AT), Usage::CodeSigning)
}

fn subjects(chain: &VerifiedChain) -> Vec<String> {
    chain.certificates().map(Certificate::subject).collect()
}

// --- reading certificates -------------------------------------------------------------------

#[test]
fn model_signing_leaf_fields() {
    let pki = model_signing();
    let leaf = &pki.leaf;
    assert_eq!(leaf.subject(), "CN=model-signer@example.com,O=Example Test");
    assert_eq!(
        leaf.issuer(),
        "CN=Example Test Intermediate CA,O=Example Test"
    );
    assert_eq!(leaf.not_before(), at(1_795_776_882)); // 2026-11-27T10:54:42Z
    assert_eq!(leaf.not_after(), at(2_111_136_882)); // 2036-11-24T10:54:42Z
    // openssl x509 -fingerprint -sha256
    assert_eq!(
        leaf.sha256_fingerprint().to_string(),
        "sha256:135ee629bd8f333b01bdd70bb0f193c03ac38d33a765f7b763b0d122a8105d36"
    );
    // openssl x509 -pubkey | openssl pkey -pubin -outform DER | sha256sum
    assert_eq!(
        Digest::sha256(leaf.spki_der()).hex(),
        "a8421e7e3120a2a045deab5253266c18223d22d34b75230919e953fa73beb0ef"
    );
    assert!(!leaf.is_ca() && !leaf.is_self_issued());
    assert!(pki.root.is_ca() && pki.root.is_self_issued());
    assert!(pki.intermediate.is_ca() && !pki.intermediate.is_self_issued());
    let again = Certificate::from_der(leaf.der()).unwrap();
    assert_eq!(&again, leaf);
    assert_ne!(leaf, &pki.root);
}

#[test]
fn pem_bundle_keeps_order_and_accepts_der() {
    let chain = load("model-signing/pki/chain.pem");
    let names: Vec<String> = chain.iter().map(Certificate::subject).collect();
    assert_eq!(
        names,
        [
            "CN=Example Test Intermediate CA,O=Example Test",
            "CN=Example Test Root CA,O=Example Test"
        ]
    );
    let der = model_signing().root.der().to_vec();
    let from_der = Certificate::parse_pem_bundle(&der).unwrap();
    assert_eq!(from_der, [model_signing().root]);
}

/// Re-wraps a certificate as PEM with the given line width, line ending and surrounding text.
fn wrap(cert: &Certificate, width: usize, eol: &str) -> String {
    let b64 = base64::engine::general_purpose::STANDARD.encode(cert.der());
    let mut out = format!("-----BEGIN CERTIFICATE-----{eol}");
    for chunk in b64.as_bytes().chunks(width) {
        out.push_str(std::str::from_utf8(chunk).unwrap());
        out.push_str(eol);
    }
    out.push_str(&format!("-----END CERTIFICATE-----{eol}"));
    out
}

#[test]
fn pem_is_read_leniently_like_openssl() {
    let pki = model_signing();
    let text = format!(
        "\u{feff}{}# Issuer: CN=Example Test Intermediate CA\r\n  explanatory text\n{}",
        wrap(&pki.root, 76, "\r\n"),
        wrap(&pki.intermediate, 64, "\n")
    );
    let certs = Certificate::parse_pem_bundle(text.as_bytes()).unwrap();
    assert_eq!(certs, [pki.root, pki.intermediate]);
}

#[test]
fn pem_errors_are_specific() {
    let pki = model_signing();
    let good = wrap(&pki.root, 64, "\n");
    let pem_err = |input: &str| match Certificate::parse_pem_bundle(input.as_bytes()) {
        Err(X509Error::Pem {
            block,
            line,
            problem,
        }) => (block, line, problem),
        other => panic!("expected a PEM error, got {other:?}"),
    };

    let key = format!("{good}-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n");
    let (block, line, problem) = pem_err(&key);
    assert_eq!((block, line), (2, good.lines().count() + 1));
    assert!(
        problem.contains("PRIVATE KEY, not a CERTIFICATE"),
        "{problem}"
    );

    let truncated = &good[..good.len() / 2];
    assert!(pem_err(truncated).2.contains("truncated"));

    let bad_char = good.replacen("M", "*", 1);
    assert!(pem_err(&bad_char).2.contains("not base64"));

    let bad_b64 = good.replacen("-----\n", "-----\nA", 1);
    assert!(pem_err(&bad_b64).2.contains("base64 is invalid"));

    let header = good.replacen("-----\n", "-----\nProc-Type: 4,ENCRYPTED\n", 1);
    assert!(pem_err(&header).2.contains("PEM header"));

    let wrong_end = good.replace("END CERTIFICATE", "END X509 CRL");
    assert!(
        pem_err(&wrong_end)
            .2
            .contains("expected -----END CERTIFICATE-----")
    );

    let stray_end = format!("text\n-----END CERTIFICATE-----\n{good}");
    assert_eq!(pem_err(&stray_end).0, 1);

    for nothing in ["", "just some text\n", "0 leading zero text"] {
        assert_eq!(
            Certificate::parse_pem_bundle(nothing.as_bytes()),
            Err(X509Error::NoCertificate),
            "{nothing:?}"
        );
    }
}

#[test]
fn pem_inside_block_is_not_a_bad_certificate_but_a_bad_block() {
    // A certificate whose base64 decodes but whose DER is cut: names the certificate and line.
    let pki = model_signing();
    let b64 = base64::engine::general_purpose::STANDARD.encode(&pki.root.der()[..300]);
    let text = format!("\n\n-----BEGIN CERTIFICATE-----\n{b64}\n-----END CERTIFICATE-----\n");
    match Certificate::parse_pem_bundle(text.as_bytes()) {
        Err(X509Error::Malformed { location, .. }) => {
            assert_eq!(location, "certificate 1 of the PEM input (line 3)");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn input_bounds() {
    let root = model_signing().root;
    let big = vec![b' '; MAX_PEM_INPUT + 1];
    assert!(matches!(
        Certificate::parse_pem_bundle(&big),
        Err(X509Error::TooLarge { size, .. }) if size == MAX_PEM_INPUT + 1
    ));

    let one = wrap(&root, 64, "\n");
    let many = one.repeat(MAX_BUNDLE_CERTS + 1);
    assert!(
        many.len() <= MAX_PEM_INPUT,
        "test needs a smaller certificate"
    );
    assert_eq!(
        Certificate::parse_pem_bundle(many.as_bytes()),
        Err(X509Error::TooManyCertificates {
            what: "PEM input",
            max: MAX_BUNDLE_CERTS
        })
    );
    assert_eq!(
        Certificate::parse_pem_bundle(one.repeat(MAX_BUNDLE_CERTS).as_bytes())
            .unwrap()
            .len(),
        MAX_BUNDLE_CERTS
    );

    // A DER certificate over the size limit (a SEQUENCE header claiming 64 KiB + 1).
    let mut huge = vec![0x30, 0x83, 0x01, 0x00, 0x01];
    huge.resize(MAX_CERT_DER + 1, 0);
    assert!(matches!(
        Certificate::from_der(&huge),
        Err(X509Error::TooLarge { .. })
    ));
}

#[test]
fn garbage_and_truncated_der_are_malformed() {
    let der = model_signing().leaf.der().to_vec();
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("truncated", der[..der.len() - 1].to_vec()),
        ("trailing", [der.as_slice(), &[0]].concat()),
        ("header only", der[..4].to_vec()),
        ("empty", Vec::new()),
        ("garbage", b"\x30\x82\xff\xffnot a certificate".to_vec()),
        (
            // The outer length in non-minimal long form: BER, not DER.
            "non-minimal length",
            [&[0x30, 0x83, 0x00][..], &der[2..]].concat(),
        ),
    ];
    for (what, bytes) in cases {
        match Certificate::from_der(&bytes) {
            Err(X509Error::Malformed { location, detail }) => {
                assert_eq!(location, "certificate", "{what}");
                assert!(!detail.is_empty(), "{what}");
            }
            other => panic!("{what}: {other:?}"),
        }
    }
}

// --- the model_signing PKI --------------------------------------------------------------------

#[test]
fn model_signing_chain_verifies_with_root_as_anchor() {
    let pki = model_signing();
    let chain = verify_chain(
        &pki.leaf,
        std::slice::from_ref(&pki.intermediate),
        std::slice::from_ref(&pki.root),
        at(AT),
        Usage::CodeSigning,
    )
    .unwrap();
    assert_eq!(chain.leaf(), &pki.leaf);
    assert_eq!(
        chain.intermediates(),
        std::slice::from_ref(&pki.intermediate)
    );
    assert_eq!(chain.root(), &pki.root);
    assert_eq!(chain.certificates().count(), 3);
    assert_eq!(chain.verified_at(), at(AT));
    assert_eq!(chain.usage(), Usage::CodeSigning);
}

#[test]
fn model_signing_bundle_with_root_inside_verifies() {
    // chain.pem is intermediate + root, as a bundle's certs[1:] may be; the copy of the root
    // among the untrusted certificates must neither anchor nor loop.
    let pki = model_signing();
    let bundle = load("model-signing/pki/chain.pem");
    let chain = verify_chain(
        &pki.leaf,
        &bundle,
        std::slice::from_ref(&pki.root),
        at(AT),
        Usage::CodeSigning,
    )
    .unwrap();
    assert_eq!(chain.certificates().count(), 3);
    // ...and the bundle alone, without a given root, is not trusted.
    let err = verify_chain(&pki.leaf, &bundle, &[], at(AT), Usage::CodeSigning).unwrap_err();
    assert!(matches!(err, X509Error::NoPathToRoot { .. }), "{err}");
}

#[test]
fn model_signing_intermediate_as_only_anchor_fails() {
    let pki = model_signing();
    let err = verify_chain(
        &pki.leaf,
        std::slice::from_ref(&pki.intermediate),
        std::slice::from_ref(&pki.intermediate),
        at(AT),
        Usage::CodeSigning,
    )
    .unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, X509Error::NoPathToRoot { .. }), "{msg}");
    assert_eq!(
        msg,
        "no path from signing certificate CN=model-signer@example.com,O=Example Test to a given \
         root CA: it is issued by CN=Example Test Intermediate CA,O=Example Test, which chains \
         to no given root CA (CN=Example Test Intermediate CA,O=Example Test is issued by \
         CN=Example Test Root CA,O=Example Test, which was not given); pass the root CA \
         certificate; CN=Example Test Intermediate CA,O=Example Test was given as a root CA but \
         is not self-signed, so it cannot anchor trust"
    );
}

#[test]
fn model_signing_without_intermediate_fails() {
    let pki = model_signing();
    let err = verify_chain(&pki.leaf, &[], &[pki.root], at(AT), Usage::CodeSigning).unwrap_err();
    assert!(
        err.to_string().contains(
            "it is issued by CN=Example Test Intermediate CA,O=Example Test, which is neither \
             among the given intermediates nor a given root CA"
        ),
        "{err}"
    );
}

#[test]
fn model_signing_after_not_after_fails() {
    let pki = model_signing();
    let verify = |t: SystemTime| {
        verify_chain(
            &pki.leaf,
            std::slice::from_ref(&pki.intermediate),
            std::slice::from_ref(&pki.root),
            t,
            Usage::CodeSigning,
        )
    };
    // Last valid second of the CAs (the leaf outlives them by one second).
    verify(pki.root.not_after()).unwrap();
    // After the leaf's notAfter: the leaf is named.
    let t = pki.leaf.not_after() + Duration::from_secs(1);
    match verify(t).unwrap_err() {
        X509Error::Expired {
            role,
            subject,
            not_after,
            at,
        } => {
            assert_eq!(role, Role::SigningCertificate);
            assert_eq!(subject, pki.leaf.subject());
            assert_eq!(not_after, pki.leaf.not_after());
            assert_eq!(at, t);
        }
        other => panic!("{other}"),
    }
    // Between the intermediate's notAfter and the leaf's: the intermediate is named.
    let t = pki.intermediate.not_after() + Duration::from_millis(500);
    let err = verify(t).unwrap_err();
    assert!(
        matches!(&err, X509Error::Expired { role: Role::Intermediate, subject, .. }
            if *subject == pki.intermediate.subject()),
        "{err}"
    );
    assert_eq!(
        err.to_string(),
        "intermediate certificate CN=Example Test Intermediate CA,O=Example Test expired at \
         2036-11-24T10:54:41Z (checked at 2036-11-24T10:54:41Z); renew it or verify at a time \
         inside its validity"
    );
}

#[test]
fn model_signing_before_not_before_fails() {
    let pki = model_signing();
    let t = pki.leaf.not_before() - Duration::from_secs(1);
    let err = verify_chain(
        &pki.leaf,
        &[pki.intermediate],
        &[pki.root],
        t,
        Usage::CodeSigning,
    )
    .unwrap_err();
    assert_eq!(
        err,
        X509Error::NotYetValid {
            role: Role::SigningCertificate,
            subject: "CN=model-signer@example.com,O=Example Test".into(),
            not_before: at(1_795_776_882),
            at: t,
        }
    );
    assert!(
        err.to_string()
            .contains("not valid before 2026-11-27T10:54:42Z"),
        "{err}"
    );
}

#[test]
fn model_signing_wrong_root_fails() {
    let pki = model_signing();
    for wrong in ["other-root-ca", "root-ca", "impostor-root-ca"] {
        let err = verify_chain(
            &pki.leaf,
            std::slice::from_ref(&pki.intermediate),
            &[fx(wrong)],
            at(AT),
            Usage::CodeSigning,
        )
        .unwrap_err();
        assert!(
            matches!(err, X509Error::NoPathToRoot { .. }),
            "{wrong}: {err}"
        );
    }
}

#[test]
fn time_before_1970_is_refused() {
    let pki = model_signing();
    let t = UNIX_EPOCH - Duration::from_secs(1);
    assert_eq!(
        verify_chain(&pki.leaf, &[], &[pki.root], t, Usage::CodeSigning).unwrap_err(),
        X509Error::TimeOutOfRange
    );
}

#[test]
fn too_many_intermediates_are_refused() {
    let pki = model_signing();
    let many = vec![pki.intermediate.clone(); MAX_INTERMEDIATES + 1];
    assert_eq!(
        verify_chain(&pki.leaf, &many, &[pki.root], at(AT), Usage::CodeSigning).unwrap_err(),
        X509Error::TooManyCertificates {
            what: "intermediates",
            max: MAX_INTERMEDIATES
        }
    );
}

// --- testdata/x509: chains that verify -------------------------------------------------------

#[test]
fn fixture_leaves_with_either_usage_extension_verify() {
    for leaf in ["leaf", "leaf-eku-only", "leaf-ku-only"] {
        let chain = verify_fx(leaf, &["intermediate-ca"], &["root-ca"]).unwrap();
        assert_eq!(
            chain.root().subject(),
            "CN=Tollgate Test Root CA,O=Tollgate Test",
            "{leaf}"
        );
    }
}

#[test]
fn two_intermediates_given_in_any_order_verify() {
    let chain = verify_fx(
        "leaf-deep",
        &[
            "intermediate-ca",
            "sub-intermediate-ok",
            "intermediate-pathlen1",
        ],
        &["other-root-ca", "root-ca"],
    )
    .unwrap();
    assert_eq!(
        subjects(&chain),
        [
            "CN=leaf two intermediates deep,O=Tollgate Test",
            "CN=Sub-intermediate under pathlen 1,O=Tollgate Test",
            "CN=Intermediate pathlen 1,O=Tollgate Test",
            "CN=Tollgate Test Root CA,O=Tollgate Test",
        ]
    );
}

#[test]
fn other_algorithms_verify() {
    for (leaf, root) in [
        ("leaf-p521", "root-p521"),
        ("leaf-rsa", "root-rsa"),
        ("leaf-rsa-pss", "root-rsa"),
        ("leaf-ed25519", "root-ed25519"),
    ] {
        let chain = verify_fx(leaf, &[], &[root]).unwrap_or_else(|e| panic!("{leaf}: {e}"));
        assert_eq!(chain.certificates().count(), 2, "{leaf}");
        assert!(chain.intermediates().is_empty());
    }
}

#[test]
fn impostor_root_beside_the_real_one_is_skipped() {
    let chain = verify_fx(
        "leaf",
        &["intermediate-ca"],
        &["impostor-root-ca", "root-ca"],
    )
    .unwrap();
    assert_eq!(chain.root(), &fx("root-ca"));
}

#[test]
fn self_signed_leaf_given_as_root_verifies_alone() {
    let chain = verify_fx("leaf-self-signed", &[], &["leaf-self-signed"]).unwrap();
    assert_eq!(chain.certificates().count(), 1);
    assert_eq!(chain.root(), chain.leaf());
    let err = verify_fx("leaf-self-signed", &[], &["root-ca"]).unwrap_err();
    assert!(err.to_string().contains("it is self-issued"), "{err}");
}

// --- testdata/x509: each broken certificate fails with its own error -------------------------

#[test]
fn expired_leaf_fails() {
    let err = verify_fx("leaf-expired", &["intermediate-ca"], &["root-ca"]).unwrap_err();
    assert_eq!(
        err,
        X509Error::Expired {
            role: Role::SigningCertificate,
            subject: "CN=leaf expired,O=Tollgate Test".into(),
            not_after: at(1_767_225_600), // 2026-01-01
            at: at(AT),
        }
    );
}

#[test]
fn not_yet_valid_leaf_fails() {
    let err = verify_fx("leaf-not-yet-valid", &["intermediate-ca"], &["root-ca"]).unwrap_err();
    assert!(
        matches!(&err, X509Error::NotYetValid { role: Role::SigningCertificate, subject, .. }
            if subject == "CN=leaf not yet valid,O=Tollgate Test"),
        "{err}"
    );
    assert!(err.to_string().contains("2035-01-01T00:00:00Z"), "{err}");
}

#[test]
fn leaf_without_signing_usage_fails() {
    let err = verify_fx("leaf-no-signing-usage", &["intermediate-ca"], &["root-ca"]).unwrap_err();
    assert_eq!(
        err.to_string(),
        "signing certificate CN=leaf no signing usage,O=Tollgate Test cannot be used for signing: \
         it has neither keyUsage digitalSignature nor extendedKeyUsage codeSigning (keyUsage: \
         keyEncipherment; extendedKeyUsage: serverAuth); use a certificate issued for code signing"
    );
    let err = verify_fx("leaf-no-usage", &["intermediate-ca"], &["root-ca"]).unwrap_err();
    assert!(matches!(err, X509Error::NotForSigning { .. }), "{err}");
    assert!(
        err.to_string()
            .contains("(no keyUsage; no extendedKeyUsage)"),
        "{err}"
    );
}

#[test]
fn ca_certificate_as_leaf_fails() {
    let err = verify_fx("leaf-is-ca", &["intermediate-ca"], &["root-ca"]).unwrap_err();
    assert!(
        matches!(&err, X509Error::CaConstraint { role: Role::SigningCertificate, detail, .. }
            if detail.contains("cA=true")),
        "{err}"
    );
}

#[test]
fn unknown_critical_extension_fails() {
    let err = verify_fx("leaf-unknown-critical", &["intermediate-ca"], &["root-ca"]).unwrap_err();
    assert!(
        matches!(&err, X509Error::Rejected { role: Role::SigningCertificate, subject, reason }
            if subject == "CN=leaf unknown critical,O=Tollgate Test"
                && reason.contains("critical extension")),
        "{err}"
    );
}

#[test]
fn sha1_signature_fails() {
    let err = verify_fx("leaf-sha1", &["intermediate-ca"], &["root-ca"]).unwrap_err();
    match &err {
        X509Error::UnsupportedAlgorithm {
            role: Role::SigningCertificate,
            subject,
            detail,
        } => {
            assert_eq!(subject, "CN=leaf sha1,O=Tollgate Test");
            assert_eq!(
                detail,
                "ecdsa-with-SHA1 by CN=Tollgate Test Intermediate CA,O=Tollgate Test with an EC \
                 key (secp256r1)"
            );
        }
        other => panic!("{other}"),
    }
}

#[test]
fn issuer_without_key_cert_sign_fails() {
    let err = verify_fx(
        "leaf-under-ca-no-keycertsign",
        &["ca-no-keycertsign"],
        &["root-ca"],
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "intermediate certificate CN=CA without keyCertSign,O=Tollgate Test issued CN=leaf under \
         CA without keyCertSign,O=Tollgate Test but its keyUsage lacks keyCertSign, so it may not \
         issue certificates"
    );
}

#[test]
fn issuer_that_is_not_a_ca_fails() {
    let err = verify_fx("leaf-under-not-ca", &["not-ca-issuer"], &["root-ca"]).unwrap_err();
    assert!(
        matches!(&err, X509Error::CaConstraint { role: Role::Intermediate, subject, detail }
            if subject == "CN=Not a CA,O=Tollgate Test" && detail.contains("cA=false")),
        "{err}"
    );
    let err = verify_fx("leaf-under-no-bc", &["no-bc-issuer"], &["root-ca"]).unwrap_err();
    assert!(
        matches!(&err, X509Error::CaConstraint { role: Role::Intermediate, detail, .. }
            if detail.contains("no basicConstraints")),
        "{err}"
    );
}

#[test]
fn path_len_violation_fails() {
    let err = verify_fx(
        "leaf-under-sub-intermediate",
        &["sub-intermediate-ca", "intermediate-ca"],
        &["root-ca"],
    )
    .unwrap_err();
    assert_eq!(
        err,
        X509Error::CaConstraint {
            role: Role::Intermediate,
            subject: "CN=Tollgate Test Intermediate CA,O=Tollgate Test".into(),
            detail: "allows 0 intermediate CA certificate(s) below it (pathLenConstraint) but \
                     the chain has 1; the chain was issued against its constraints"
                .into(),
        }
    );
}

#[test]
fn expired_intermediate_and_root_are_named() {
    let err = verify_fx(
        "leaf-under-expired-intermediate",
        &["intermediate-expired"],
        &["root-ca"],
    )
    .unwrap_err();
    assert!(
        matches!(&err, X509Error::Expired { role: Role::Intermediate, subject, .. }
            if subject == "CN=Expired Intermediate CA,O=Tollgate Test"),
        "{err}"
    );
    let err = verify_fx("leaf-under-expired-root", &[], &["root-expired"]).unwrap_err();
    assert!(
        matches!(&err, X509Error::Expired { role: Role::Root, subject, .. }
            if subject == "CN=Expired Root CA,O=Tollgate Test"),
        "{err}"
    );
}

#[test]
fn impostor_root_with_the_same_name_is_a_bad_signature() {
    let err = verify_fx("leaf", &["intermediate-ca"], &["impostor-root-ca"]).unwrap_err();
    assert_eq!(
        err,
        X509Error::BadSignature {
            role: Role::Intermediate,
            subject: "CN=Tollgate Test Intermediate CA,O=Tollgate Test".into(),
            issuer: "CN=Tollgate Test Root CA,O=Tollgate Test".into(),
        }
    );
}

#[test]
fn tampered_leaf_signature_is_a_bad_signature() {
    // The leaf's signature value altered: still well-formed, no longer the issuer's signature.
    let mut der = fx("leaf").der().to_vec();
    // Flip a bit inside the signature value (the last bytes of the certificate).
    let last = der.len() - 3;
    der[last] ^= 0x01;
    let tampered = Certificate::from_der(&der).unwrap();
    let err = verify_chain(
        &tampered,
        &[fx("intermediate-ca")],
        &[fx("root-ca")],
        at(AT),
        Usage::CodeSigning,
    )
    .unwrap_err();
    assert!(
        matches!(&err, X509Error::BadSignature { role: Role::SigningCertificate, issuer, .. }
            if issuer == "CN=Tollgate Test Intermediate CA,O=Tollgate Test"),
        "{err}"
    );
}

// --- no panics on any input -----------------------------------------------------------------

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
        let _ = Certificate::from_der(&bytes);
        let _ = Certificate::parse_pem_bundle(&bytes);
    }

    #[test]
    fn mutated_certificates_never_panic(
        which in 0usize..3,
        edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..4),
        cut in any::<prop::sample::Index>(),
        truncate in any::<bool>(),
    ) {
        let pki = model_signing();
        let mut der = [&pki.leaf, &pki.intermediate, &pki.root][which].der().to_vec();
        for (i, b) in &edits {
            let i = i.index(der.len());
            der[i] = *b;
        }
        if truncate {
            der.truncate(cut.index(der.len()));
        }
        let _ = Certificate::parse_pem_bundle(&der);
        if let Ok(cert) = Certificate::from_der(&der) {
            let _ = cert.subject();
            let (leaf, inter, root) = match which {
                0 => (cert, pki.intermediate, pki.root),
                1 => (pki.leaf, cert, pki.root),
                _ => (pki.leaf, pki.intermediate, cert),
            };
            let _ = verify_chain(&leaf, &[inter], &[root], at(AT), Usage::CodeSigning);
        }
    }

    #[test]
    fn mutated_pem_never_panics(
        edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..4),
    ) {
        let mut pem = std::fs::read(testdata("model-signing/pki/chain.pem")).unwrap();
        for (i, b) in &edits {
            let i = i.index(pem.len());
            pem[i] = *b;
        }
        let _ = Certificate::parse_pem_bundle(&pem);
    }
}
