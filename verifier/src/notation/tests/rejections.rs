//! Rejections, each with a clear reason: algorithm substitution, unknown critical headers,
//! padded base64url, garbage certificates, expired and not-yet-valid chains, signing authority
//! without authentic time, broken timestamp tokens, invalid policies and trust stores.

use std::collections::BTreeMap;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde_json::{Value, json};

use super::super::envelope::{Descriptor, Envelope, EnvelopeFormat, ExtendedAttribute};
use super::super::policy::{Check, PolicyKind, TrustPolicyDocument};
use super::super::sign::{NotationSigner, SignRequest, sign};
use super::super::truststore::StoreType;
use super::super::verify::{Artifact, Request, Status};
use super::super::{NotationError, timestamp};
use super::{Config, at, oci_policy, pki, testdata};
use crate::keys::load_private_key_file;
use crate::x509::Certificate;

fn target() -> Descriptor {
    serde_json::from_value(json!({
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "digest": "sha256:19dbd2e48e921426ee8ace4dc892edfb2ecdc1d1a72d5416c83670c30acecef0",
        "size": 481
    }))
    .expect("descriptor")
}

fn signed(name: &str, format: EnvelopeFormat, request: &SignRequest) -> Vec<u8> {
    let key = load_private_key_file(&pki(&format!("{name}.key")), None).expect("key");
    let chain = Certificate::parse_pem_bundle(
        &std::fs::read(pki(&format!("{name}.chain.pem"))).expect("chain"),
    )
    .expect("pem");
    sign(
        format,
        request,
        &NotationSigner::from_signing_key(&key).expect("signer"),
        &chain,
    )
    .expect("sign")
}

fn request() -> SignRequest {
    SignRequest::for_descriptor(&target(), at("2027-01-01T00:00:00Z"))
}

/// Re-encodes a JWS with a modified protected header (the signature no longer matters: every
/// rejection here happens before or instead of the signature check).
fn with_protected(envelope: &[u8], edit: impl FnOnce(&mut Value)) -> Vec<u8> {
    let mut doc: Value = serde_json::from_slice(envelope).expect("json");
    let mut header: Value = serde_json::from_slice(
        &URL_SAFE_NO_PAD
            .decode(doc["protected"].as_str().expect("p"))
            .expect("b64"),
    )
    .expect("header");
    edit(&mut header);
    doc["protected"] = URL_SAFE_NO_PAD.encode(header.to_string()).into();
    doc.to_string().into_bytes()
}

fn jws_error(bytes: &[u8]) -> String {
    Envelope::parse(EnvelopeFormat::Jws, bytes)
        .and_then(|e| e.verify_integrity().map(|_| ()))
        .expect_err("must be rejected")
        .to_string()
}

#[test]
fn alg_not_matching_the_key_is_algorithm_substitution() {
    let envelope = signed("p256", EnvelopeFormat::Jws, &request());
    for alg in ["ES384", "PS256"] {
        let err = jws_error(&with_protected(&envelope, |h| h["alg"] = alg.into()));
        assert!(
            err.contains("algorithm substitution is refused") && err.contains("ES256"),
            "{err}"
        );
    }
    for alg in ["none", "HS256", "RS256", "EdDSA"] {
        let err = jws_error(&with_protected(&envelope, |h| h["alg"] = alg.into()));
        assert!(err.contains("is not allowed"), "{alg}: {err}");
    }
    // COSE: swap the alg label in the protected header bytes (-7 -> -35).
    let cose = signed("p256", EnvelopeFormat::Cose, &request());
    let pos = cose
        .windows(3)
        .position(|w| w == [0x01, 0x26, 0x02])
        .expect("alg -7 then crit label");
    let mut tampered = cose;
    tampered[pos + 1] = 0x38;
    tampered.insert(pos + 2, 0x22);
    // The protected bstr grew by one byte: fix its length (a short bstr, header 0x58 len).
    let bstr = tampered
        .iter()
        .position(|b| *b == 0x58)
        .expect("bstr header");
    tampered[bstr + 1] += 1;
    let err = Envelope::parse(EnvelopeFormat::Cose, &tampered)
        .and_then(|e| e.verify_integrity().map(|_| ()))
        .expect_err("substitution")
        .to_string();
    assert!(err.contains("algorithm substitution"), "{err}");
}

#[test]
fn unknown_critical_headers_are_refused() {
    let mut req = request();
    req.extended = vec![ExtendedAttribute {
        key: "com.example.mustUnderstand".into(),
        value: "yes".into(),
        critical: true,
    }];
    for format in [EnvelopeFormat::Jws, EnvelopeFormat::Cose] {
        let envelope = signed("p256", format, &req);
        let err = Envelope::parse(format, &envelope)
            .expect_err("crit")
            .to_string();
        assert!(
            err.contains("unknown critical header \"com.example.mustUnderstand\""),
            "{err}"
        );
    }
    // A non-critical extension is fine and readable.
    let mut req = request();
    req.extended[..].clone_from_slice(&[]);
    req.extended.push(ExtendedAttribute {
        key: "com.example.note".into(),
        value: "hi".into(),
        critical: false,
    });
    let env = Envelope::parse(
        EnvelopeFormat::Cose,
        &signed("p256", EnvelopeFormat::Cose, &req),
    )
    .expect("parse");
    assert_eq!(env.attributes.extended[0].value, "hi");
    env.verify_integrity().expect("valid");
    // crit listing an absent header, or missing the signing scheme.
    let envelope = signed("p256", EnvelopeFormat::Jws, &request());
    let err = jws_error(&with_protected(&envelope, |h| {
        h["crit"] = json!(["io.cncf.notary.signingScheme", "io.cncf.notary.expiry"]);
    }));
    assert!(err.contains("no such attribute"), "{err}");
    let err = jws_error(&with_protected(&envelope, |h| {
        h.as_object_mut().expect("o").remove("crit");
    }));
    assert!(err.contains("crit is missing"), "{err}");
    let err = jws_error(&with_protected(&envelope, |h| {
        h["io.cncf.notary.expiry"] = "2030-01-01T00:00:00Z".into();
    }));
    assert!(err.contains("not listed in crit"), "{err}");
    let err = jws_error(&with_protected(&envelope, |h| {
        h["cty"] = "application/json".into()
    }));
    assert!(err.contains("cty"), "{err}");
    let err = jws_error(&with_protected(&envelope, |h| {
        h["io.cncf.notary.signingScheme"] = "notary.default.x509".into();
    }));
    assert!(err.contains("unsupported signing scheme"), "{err}");
}

#[test]
fn padded_base64url_is_an_integrity_failure() {
    let bytes = std::fs::read(testdata().join("go/envelopes/mock/ca_invalid_sig_env.json"))
        .expect("vector");
    assert!(jws_error(&bytes).contains("not unpadded base64url"));
    let mut doc: Value =
        serde_json::from_slice(&signed("p384", EnvelopeFormat::Jws, &request())).expect("json");
    let sig = format!("{}=", doc["signature"].as_str().expect("s"));
    doc["signature"] = sig.into();
    assert!(jws_error(doc.to_string().as_bytes()).contains("signature is not unpadded base64url"));
    // Standard-alphabet characters are not base64url either.
    let mut doc: Value =
        serde_json::from_slice(&signed("p384", EnvelopeFormat::Jws, &request())).expect("json");
    let p = doc["payload"].as_str().expect("p").replace(['-', '_'], "+");
    doc["payload"] = format!("{p}+").into();
    assert!(jws_error(doc.to_string().as_bytes()).contains("payload is not unpadded base64url"));
    // Unknown top-level members.
    let mut doc: Value =
        serde_json::from_slice(&signed("p384", EnvelopeFormat::Jws, &request())).expect("json");
    doc["signatures"] = json!([]);
    assert!(jws_error(doc.to_string().as_bytes()).contains("exactly payload"));
}

#[test]
fn garbage_certificates_are_refused() {
    let envelope = signed("p256", EnvelopeFormat::Jws, &request());
    let mut doc: Value = serde_json::from_slice(&envelope).expect("json");
    doc["header"]["x5c"][0] = STANDARD.encode(b"definitely not a certificate").into();
    let err = jws_error(doc.to_string().as_bytes());
    assert!(err.contains("certificate 0 of the chain"), "{err}");
    doc["header"]["x5c"][0] = "%%%".into();
    assert!(jws_error(doc.to_string().as_bytes()).contains("x5c[0] is not standard base64"));
    doc["header"]["x5c"] = json!([]);
    assert!(jws_error(doc.to_string().as_bytes()).contains("missing or empty"));
    // Chain order broken: leaf, root (intermediate left out).
    let mut doc: Value = serde_json::from_slice(&envelope).expect("json");
    let x5c = doc["header"]["x5c"].as_array().expect("a").clone();
    doc["header"]["x5c"] = json!([x5c[0], x5c[2]]);
    assert!(jws_error(doc.to_string().as_bytes()).contains("is not issued by"));
    // COSE with x5chain as a single bstr, as go-cose refuses.
    let cose = signed("p256", EnvelopeFormat::Cose, &request());
    let pos = cose
        .windows(3)
        .position(|w| w == [0x18, 0x21, 0x83])
        .expect("x5chain array of 3");
    let mut single = cose[..pos + 2].to_vec();
    single.extend_from_slice(&cose[pos + 3..]);
    let err = Envelope::parse(EnvelopeFormat::Cose, &single)
        .expect_err("single bstr")
        .to_string();
    assert!(err.contains("COSE"), "{err}");
    // Untagged COSE_Sign1.
    let err = Envelope::parse(EnvelopeFormat::Cose, &cose[1..])
        .expect_err("untagged")
        .to_string();
    assert!(err.contains("tag 18"), "{err}");
    // Truncated input of both formats.
    assert!(Envelope::parse(EnvelopeFormat::Cose, &cose[..cose.len() / 2]).is_err());
    assert!(Envelope::parse(EnvelopeFormat::Jws, &envelope[..envelope.len() / 2]).is_err());
    // Oversized input is refused before parsing.
    let huge = vec![b' '; super::super::MAX_ENVELOPE_SIZE + 1];
    assert!(matches!(
        Envelope::parse(EnvelopeFormat::Jws, &huge),
        Err(NotationError::TooLarge { .. })
    ));
}

fn verify_at(envelope: &[u8], when: &str, level: &str) -> super::super::verify::Outcome {
    let config = Config::new(&[("ca:tollgate", &[pki("root.pem")])]);
    let verifier = config.verifier(
        &oci_policy(json!({
            "name": "t", "registryScopes": ["r.example/app"],
            "signatureVerification": {"level": level},
            "trustStores": ["ca:tollgate"], "trustedIdentities": ["*"]})),
        PolicyKind::Oci,
    );
    verifier.verify(&Request {
        artifact: Artifact::Oci {
            repository: "r.example/app".into(),
            descriptor: target(),
        },
        envelope,
        media_type: EnvelopeFormat::Jws.media_type(),
        policy_name: None,
        user_metadata: BTreeMap::new(),
        at: at(when),
    })
}

#[test]
fn expired_and_not_yet_valid_certificates() {
    let envelope = signed("p256", EnvelopeFormat::Jws, &request());
    let outcome = verify_at(&envelope, "2040-01-01T00:00:00Z", "strict");
    let ts = outcome.check(Check::AuthenticTimestamp).expect("ts");
    assert_eq!(ts.status, Status::Failed);
    assert!(ts.message.contains("expired"), "{}", ts.message);
    assert!(!outcome.is_success());
    let outcome = verify_at(&envelope, "2020-01-01T00:00:00Z", "strict");
    let ts = outcome.check(Check::AuthenticTimestamp).expect("ts");
    assert!(ts.message.contains("becomes valid"), "{}", ts.message);
    assert!(!outcome.is_success());
    // Logged at permissive.
    assert!(verify_at(&envelope, "2040-01-01T00:00:00Z", "permissive").is_success());
}

#[test]
fn signing_authority_without_authentic_time_is_refused() {
    let envelope = signed("p256", EnvelopeFormat::Jws, &request());
    let err = jws_error(&with_protected(&envelope, |h| {
        h["io.cncf.notary.signingScheme"] = "notary.x509.signingAuthority".into();
    }));
    assert!(
        err.contains("io.cncf.notary.authenticSigningTime is required"),
        "{err}"
    );
    let err = jws_error(&with_protected(&envelope, |h| {
        h["io.cncf.notary.signingScheme"] = "notary.x509.signingAuthority".into();
        h.as_object_mut()
            .expect("o")
            .remove("io.cncf.notary.signingTime");
        h["io.cncf.notary.authenticSigningTime"] = "2027-01-01T00:00:00Z".into();
    }));
    assert!(err.contains("must be listed in crit"), "{err}");
    let err = jws_error(&with_protected(&envelope, |h| {
        h.as_object_mut()
            .expect("o")
            .remove("io.cncf.notary.signingTime");
    }));
    assert!(err.contains("signingTime is required"), "{err}");
    let err = jws_error(&with_protected(&envelope, |h| {
        h["io.cncf.notary.signingTime"] = "2027-01-01 00:00:00".into();
    }));
    assert!(err.contains("not an RFC 3339 time"), "{err}");
}

fn timestamp_envelope(token: Option<&[u8]>) -> Vec<u8> {
    let bytes =
        std::fs::read(testdata().join("go/envelopes/timestamp/withoutTimestamp.sig")).expect("sig");
    let mut doc: Value = serde_json::from_slice(&bytes).expect("json");
    if let Some(t) = token {
        doc["header"]["io.cncf.notary.timestampSignature"] = STANDARD.encode(t).into();
    }
    doc.to_string().into_bytes()
}

#[test]
fn broken_timestamp_tokens_fail_with_their_reason() {
    let roots = Config::new(&[(
        "tsa:ts",
        &[testdata().join("go/truststore/x509/tsa/test-timestamp")],
    )]);
    let tsa = roots.store().load(StoreType::Tsa, "ts").expect("tsa store");
    let env = Envelope::parse(EnvelopeFormat::Jws, &timestamp_envelope(None)).expect("parse");
    let cases = [
        ("TimeStampToken.p7s", "mismatched message"),
        (
            "TimeStampTokenWithInvalideContentType.p7s",
            "unexpected content type: 1.2.840.113549.1.7.1",
        ),
        (
            "TimeStampTokenWithInvalidTSTInfo.p7s",
            "cannot parse the TSTInfo",
        ),
        (
            "TimeStampTokenWithoutCertificate.p7s",
            "signing certificate not found",
        ),
    ];
    for (file, reason) in cases {
        let token =
            std::fs::read(testdata().join("go/countersignature").join(file)).expect("token");
        let err = timestamp::verify(&token, &env.signature, &tsa)
            .expect_err(file)
            .to_string();
        assert!(err.contains(reason), "{file}: {err}");
    }
    // Over "notation", the right imprint: the token verifies (genTime 2021-09-17), and fails
    // against a tsa store with another root.
    let token =
        std::fs::read(testdata().join("go/countersignature/TimeStampToken.p7s")).expect("token");
    let ts = timestamp::verify(&token, b"notation", &tsa).expect("valid over \"notation\"");
    assert_eq!(
        super::super::format_rfc3339(ts.gen_time),
        "2021-09-17T14:09:10Z"
    );
    assert_eq!(ts.chain.len(), 3);
    let other = Config::new(&[(
        "tsa:m",
        &[testdata().join("go/truststore/x509/tsa/test-mismatch")],
    )]);
    let other = other.store().load(StoreType::Tsa, "m").expect("store");
    let err = timestamp::verify(&token, b"notation", &other)
        .expect_err("other root")
        .to_string();
    assert!(err.contains("unknown authority"), "{err}");
    // core-go: a token whose CMS signature does not verify.
    let token =
        std::fs::read(testdata().join("core-go/timestamp/TimeStampTokenWithInvalidSignature.p7s"))
            .expect("token");
    let root = Certificate::from_der(
        &std::fs::read(testdata().join("core-go/timestamp/tsaRootCert.cer")).expect("root"),
    )
    .expect("cert");
    assert!(timestamp::verify(&token, b"notation", &[root]).is_err());
    // Garbage and oversized tokens.
    assert!(timestamp::verify(b"\x30\x03\x02\x01\x01", &env.signature, &tsa).is_err());
    let big = vec![0u8; timestamp::MAX_TOKEN_SIZE + 1];
    assert!(matches!(
        timestamp::verify(&big, &env.signature, &tsa),
        Err(NotationError::TooLarge { .. })
    ));
    // A valid token moved onto another signature.
    let good = Envelope::parse(
        EnvelopeFormat::Jws,
        &std::fs::read(testdata().join("go/envelopes/timestamp/jwsWithTimestamp.sig"))
            .expect("sig"),
    )
    .expect("parse");
    let token = good.timestamp_token.clone().expect("token");
    timestamp::verify(&token, &good.signature, &tsa).expect("valid token");
    let mut other_sig = good.signature;
    other_sig[0] ^= 1;
    assert!(
        timestamp::verify(&token, &other_sig, &tsa)
            .expect_err("moved")
            .to_string()
            .contains("mismatched message")
    );
}

fn policy_error(doc: Value, kind: PolicyKind) -> String {
    TrustPolicyDocument::parse(doc.to_string().as_bytes(), kind)
        .expect_err("invalid policy")
        .to_string()
}

fn stmt(name: &str, scopes: Value) -> Value {
    json!({"name": name, "registryScopes": scopes, "signatureVerification": {"level": "strict"},
           "trustStores": ["ca:x"], "trustedIdentities": ["*"]})
}

#[test]
fn invalid_policies_are_refused_with_the_statement_named() {
    let doc = |stmts: Value| json!({"version": "1.0", "trustPolicies": stmts});
    let cases: Vec<(Value, &str)> = vec![
        (
            doc(json!([
                stmt("a", json!(["r.io/x"])),
                stmt("a", json!(["r.io/y"]))
            ])),
            "two statements are named \"a\"",
        ),
        (
            doc(json!([stmt("a", json!(["r.io/x:tag"]))])),
            "registry scope \"r.io/x:tag\" is invalid",
        ),
        (
            doc(json!([stmt("a", json!(["https://r.io/x"]))])),
            "is invalid",
        ),
        (doc(json!([stmt("a", json!(["r.io/*"]))])), "is invalid"),
        (doc(json!([stmt("a", json!(["justaname"]))])), "is invalid"),
        (
            doc(json!([stmt("a", json!(["*", "r.io/x"]))])),
            "must be the only registry scope",
        ),
        (
            doc(json!([
                stmt("a", json!(["r.io/x"])),
                stmt("b", json!(["r.io/x"]))
            ])),
            "appears in statements",
        ),
        (
            doc(json!([stmt("a", json!([]))])),
            "registryScopes is missing or empty",
        ),
        (
            json!({"version": "2.0", "trustPolicies": [stmt("a", json!(["*"]))]}),
            "version \"2.0\"",
        ),
        (
            json!({"trustPolicies": [stmt("a", json!(["*"]))]}),
            "version is missing",
        ),
        (doc(json!([])), "trustPolicies is missing or empty"),
        (
            doc(
                json!([{"name": "a", "registryScopes": ["*"], "signatureVerification": {"level": "lenient"}, "trustStores": ["ca:x"], "trustedIdentities": ["*"]}]),
            ),
            "level \"lenient\"",
        ),
        (
            doc(
                json!([{"name": "a", "registryScopes": ["*"], "signatureVerification": {"level": "strict", "override": {"integrity": "log"}}, "trustStores": ["ca:x"], "trustedIdentities": ["*"]}]),
            ),
            "integrity cannot be overridden",
        ),
        (
            doc(
                json!([{"name": "a", "registryScopes": ["*"], "signatureVerification": {"level": "strict", "override": {"expiry": "skip"}}, "trustStores": ["ca:x"], "trustedIdentities": ["*"]}]),
            ),
            "skip only for revocation",
        ),
        (
            doc(
                json!([{"name": "a", "registryScopes": ["*"], "signatureVerification": {"level": "skip", "override": {"expiry": "log"}}}]),
            ),
            "cannot be customised",
        ),
        (
            doc(
                json!([{"name": "a", "registryScopes": ["*"], "signatureVerification": {"level": "skip"}, "trustStores": ["ca:x"]}]),
            ),
            "must not list trustStores",
        ),
        (
            doc(
                json!([{"name": "a", "registryScopes": ["*"], "signatureVerification": {"level": "strict"}, "trustedIdentities": ["*"]}]),
            ),
            "trustStores is missing",
        ),
        (
            doc(
                json!([{"name": "a", "registryScopes": ["*"], "signatureVerification": {"level": "strict"}, "trustStores": ["ca:x"]}]),
            ),
            "trustedIdentities is missing",
        ),
        (
            doc(
                json!([{"name": "a", "registryScopes": ["*"], "signatureVerification": {"level": "strict"}, "trustStores": ["root:x"], "trustedIdentities": ["*"]}]),
            ),
            "is not ca, signingAuthority or tsa",
        ),
        (
            doc(
                json!([{"name": "a", "registryScopes": ["*"], "signatureVerification": {"level": "strict"}, "trustStores": ["ca:x/y"], "trustedIdentities": ["*"]}]),
            ),
            "the name must use",
        ),
        (
            doc(
                json!([{"name": "a", "registryScopes": ["*"], "signatureVerification": {"level": "strict"}, "trustStores": ["ca:x"], "trustedIdentities": ["*", "x509.subject: C=US, ST=WA, O=X"]}]),
            ),
            "cannot be combined",
        ),
        (
            doc(
                json!([{"name": "a", "registryScopes": ["*"], "signatureVerification": {"level": "strict"}, "trustStores": ["ca:x"], "trustedIdentities": ["x509.subject: CN=only"]}]),
            ),
            "must contain C, ST (or S) and O",
        ),
        (
            doc(
                json!([{"name": "a", "registryScopes": ["*"], "signatureVerification": {"level": "strict"}, "trustStores": ["ca:x"], "trustedIdentities": ["x509.subject: C=US, ST=WA, O=X", "x509.subject: C=US, ST=WA, O=X, CN=y"]}]),
            ),
            "overlap",
        ),
        (
            doc(
                json!([{"name": "a", "registryScopes": ["*"], "signatureVerification": {"level": "strict"}, "trustStores": ["ca:x"], "trustedIdentities": ["x509.subject: C=US, C=CA, ST=WA, O=X"]}]),
            ),
            "appears twice",
        ),
        (
            doc(
                json!([{"name": "a", "registryScopes": ["*"], "signatureVerification": {"level": "strict"}, "trustStores": ["ca:x"], "trustedIdentities": ["x509.subject: C=US+ST=WA, O=X"]}]),
            ),
            "multi-valued",
        ),
        (
            doc(
                json!([{"name": "a", "registryScopes": ["*"], "signatureVerification": {"level": "strict"}, "trustStores": ["ca:x"], "trustedIdentities": ["x509.subject: C=US, ST=WA, O=#04024869"]}]),
            ),
            "=#",
        ),
        (
            doc(
                json!([{"name": "a", "registryScopes": ["*"], "signatureVerification": {"level": "strict"}, "trustStores": ["ca:x"], "trustedIdentities": ["nonX509Prefix: my-id"]}]),
            ),
            "is not supported",
        ),
        (
            doc(json!([{"name": "a", "registryScope": ["*"]}])),
            "unknown field `registryScope`",
        ),
        (
            doc(
                json!([{"registryScopes": ["*"], "signatureVerification": {"level": "strict"}, "trustStores": ["ca:x"], "trustedIdentities": ["*"]}]),
            ),
            "statement 0 has no name",
        ),
    ];
    for (i, (d, reason)) in cases.into_iter().enumerate() {
        let err = policy_error(d, PolicyKind::Oci);
        assert!(
            err.contains(reason),
            "case {i}: expected {reason:?} in {err}"
        );
    }
    // Blob documents.
    let blob = |stmts: Value| json!({"version": "1.0", "trustPolicies": stmts});
    let g = |name: &str, level: &str| json!({"name": name, "globalPolicy": true, "signatureVerification": {"level": level}, "trustStores": ["ca:x"], "trustedIdentities": ["*"]});
    assert!(
        policy_error(
            blob(json!([g("a", "strict"), g("b", "audit")])),
            PolicyKind::Blob
        )
        .contains("at most one may")
    );
    assert!(policy_error(blob(json!([{"name": "s", "globalPolicy": true, "signatureVerification": {"level": "skip"}}])), PolicyKind::Blob).contains("cannot have level skip"));
    assert!(
        policy_error(blob(json!([stmt("a", json!(["*"]))])), PolicyKind::Blob)
            .contains("registryScopes is not allowed")
    );
    assert!(
        policy_error(
            json!({"version": "1.0", "trustPolicies": [g("a", "strict")]}),
            PolicyKind::Oci
        )
        .contains("registryScopes is missing")
    );
    assert!(
        policy_error(json!("not an object"), PolicyKind::Oci).contains("not a valid trust policy")
    );
}

#[test]
fn invalid_trust_stores_are_refused() {
    let base = testdata().join("go/truststore/x509");
    let load = |ty: StoreType, name: &str, src: std::path::PathBuf| {
        let label = format!("{}:{name}", ty.name());
        let config = Config::new(&[(label.as_str(), &[src])]);
        config
            .store()
            .load(ty, name)
            .map(|c| c.len())
            .map_err(|e| e.to_string())
    };
    assert!(
        load(
            StoreType::Ca,
            "s",
            base.join("ca/trust-store-with-invalid-certs")
        )
        .expect_err("invalid")
        .contains("holds no valid certificate")
    );
    assert!(
        load(
            StoreType::Ca,
            "s",
            base.join("ca/trust-store-with-leaf-certs")
        )
        .expect_err("leaf")
        .contains("neither a CA certificate nor self-signed")
    );
    assert!(
        load(
            StoreType::Ca,
            "s",
            base.join("ca/trust-store-with-leaf-certs-in-single-file")
        )
        .expect_err("leaf")
        .contains("neither a CA")
    );
    assert!(
        load(StoreType::Tsa, "s", base.join("tsa/test-nonCA"))
            .expect_err("non CA")
            .contains("self-signed root CA")
    );
    assert!(
        load(StoreType::Tsa, "s", base.join("tsa/test-nonSelfIssued"))
            .expect_err("not self issued")
            .contains("self-signed root CA")
    );
    assert_eq!(
        load(StoreType::Ca, "s", base.join("ca/valid-trust-store")),
        Ok(6)
    );
    assert_eq!(
        load(StoreType::Tsa, "s", base.join("tsa/test-timestamp")),
        Ok(1)
    );
    assert_eq!(
        load(
            StoreType::Ca,
            "s",
            base.join("ca/valid-trust-store-self-signed")
        ),
        Ok(1)
    );
    // Missing store, invalid name, sub-directory, symlinked file and store.
    let config = Config::new(&[("ca:good", &[base.join("ca/valid-trust-store-2")])]);
    let store = config.store();
    assert!(
        store
            .load(StoreType::Ca, "absent")
            .expect_err("absent")
            .to_string()
            .contains("cannot be read")
    );
    assert!(
        store
            .load(StoreType::Ca, "../ca")
            .expect_err("name")
            .to_string()
            .contains("invalid store name")
    );
    let good = config.path().join("truststore/x509/ca/good");
    std::fs::create_dir(good.join("sub-dir")).expect("mkdir");
    assert!(
        store
            .load(StoreType::Ca, "good")
            .expect_err("dir")
            .to_string()
            .contains("is a directory")
    );
    std::fs::remove_dir(good.join("sub-dir")).expect("rmdir");
    std::os::unix::fs::symlink(good.join("GlobalSign.der"), good.join("link.der"))
        .expect("symlink");
    assert!(
        store
            .load(StoreType::Ca, "good")
            .expect_err("link")
            .to_string()
            .contains("symbolic link")
    );
    std::fs::remove_file(good.join("link.der")).expect("rm");
    std::os::unix::fs::symlink(&good, config.path().join("truststore/x509/ca/linked"))
        .expect("symlink");
    assert!(
        store
            .load(StoreType::Ca, "linked")
            .expect_err("linked store")
            .to_string()
            .contains("symbolic link")
    );
    assert_eq!(store.load(StoreType::Ca, "good").map(|c| c.len()), Ok(2));
    // Empty store.
    std::fs::create_dir_all(config.path().join("truststore/x509/ca/empty")).expect("mkdir");
    assert!(
        store
            .load(StoreType::Ca, "empty")
            .expect_err("empty")
            .to_string()
            .contains("holds no certificate")
    );
}
