//! The parts one by one: Notary X.509 chain rules on notation-core-go's certificates,
//! certificate file forms, identity matching, the spec's policy examples, signature manifests
//! and RFC 3339 times.

use serde_json::json;

use super::super::envelope::{Descriptor, EnvelopeFormat};
use super::super::manifest::{
    ANNOTATION_THUMBPRINT, SignatureManifest, is_signature_referrer, referrers_tag,
};
use super::super::policy::{
    Action, Check, Identity, Level, PolicyKind, TrustPolicyDocument, VerifyTimestamp,
    identity_matches,
};
use super::super::truststore::{StoreType, parse_certificates};
use super::super::x509::{validate_code_signing_chain, validate_timestamping_chain};
use super::super::{NotationError, format_rfc3339, parse_rfc3339};
use super::{pki, testdata};
use crate::x509::Certificate;

fn cert(name: &str) -> Certificate {
    let path = testdata().join("core-go/x509").join(name);
    parse_certificates(&std::fs::read(&path).expect("cert"))
        .expect("parse")
        .remove(0)
}

fn cs(names: &[&str]) -> Vec<Certificate> {
    names
        .iter()
        .map(|n| cert(&format!("codesigning/{n}.pem")))
        .collect()
}

fn chain_err(names: &[&str]) -> String {
    validate_code_signing_chain(&cs(names))
        .expect_err("invalid chain")
        .to_string()
}

#[test]
fn code_signing_chain_rules_on_notation_core_go_certificates() {
    let valid = [
        "codeSigningLeaf",
        "intermediateCert2",
        "intermediateCert1",
        "rootCert",
    ];
    validate_code_signing_chain(&cs(&valid)).expect("valid chain");
    validate_code_signing_chain(&cs(&["openSSLMinimum"])).expect("minimal self-signed");
    validate_code_signing_chain(&cs(&["validNoOptionsLeaf"])).expect("self-signed leaf");
    assert!(chain_err(&["codeSigningLeaf"]).contains("is not self-signed"));
    assert!(
        chain_err(&["codeSigningLeaf", "intermediateCert2", "intermediateCert1"])
            .contains("not self-signed")
    );
    assert!(
        chain_err(&[
            "codeSigningLeaf",
            "intermediateCert1",
            "intermediateCert2",
            "rootCert"
        ])
        .contains("is not issued by")
    );
    assert!(
        chain_err(&[
            "codeSigningLeaf",
            "unrelatedCert",
            "intermediateCert2",
            "intermediateCert1",
            "rootCert"
        ])
        .contains("is not issued by")
    );
    assert!(chain_err(&["rootCert", "rootCert", "rootCert"]).contains("leaf certificate"));
    assert!(
        chain_err(&[
            "codeSigningLeaf",
            "intermediateCert2",
            "intermediateCert1",
            "rootCert",
            "rootCert"
        ])
        .contains("intermediate certificate")
    );
    assert!(
        chain_err(&[
            "codeSigningLeafInvalidPathLen",
            "intermediateCertInvalidPathLen",
            "intermediateCert2",
            "intermediateCert1",
            "rootCert"
        ])
        .contains("pathLenConstraint")
    );
    // The CA rules, certificate by certificate.
    use super::super::x509::{validate_ca, validate_code_signing_leaf};
    for (ca, reason) in [
        (
            "noBasicConstraintsCa",
            "basicConstraints is missing or has cA=false",
        ),
        (
            "basicConstraintsNotCa",
            "basicConstraints is missing or has cA=false",
        ),
        ("kuNotCriticalCertSignCa", "must be marked critical"),
        ("kuMissingCa", "keyUsage extension must be present"),
        ("kuNotCertSignCa", "must include keyCertSign"),
    ] {
        let certs = parse_certificates(
            &std::fs::read(testdata().join(format!("core-go/x509/codesigning/{ca}.pem")))
                .expect("pem"),
        );
        // basicConstraintsNotCa (CA:FALSE with a pathlen) may already fail to parse.
        let err = match certs {
            Ok(mut c) => validate_ca(&c.remove(0), 0).expect_err(ca).to_string(),
            Err(e) => e.to_string(),
        };
        assert!(
            err.contains(reason) || ca == "basicConstraintsNotCa",
            "{ca}: {err}"
        );
    }
    validate_ca(&cert("codesigning/rootCert.pem"), 2).expect("root with pathLen 2");
    let err = validate_ca(&cert("codesigning/rootCert.pem"), 3)
        .expect_err("pathLen 3")
        .to_string();
    assert!(err.contains("pathLenConstraint 2"), "{err}");
    // The leaf rules, certificate by certificate.
    for (leaf, reason) in [
        ("caTrueLeaf", "cA=true"),
        ("kuNoDigitalSignatureLeaf", "must include digitalSignature"),
        ("kuWrongValuesLeaf", "must not include keyCertSign"),
        ("rsaKeyTooSmallLeaf", "1024-bit key is too small"),
        ("ecdsaKeyTooSmallLeaf", "224-bit key is too small"),
        ("ekuWrongValuesCodeLeaf", "must not contain serverAuth"),
        ("ekuMissingCodeSigningLeaf", "must not contain OCSPSigning"),
    ] {
        let err = validate_code_signing_leaf(&cert(&format!("codesigning/{leaf}.pem")))
            .expect_err(leaf)
            .to_string();
        assert!(err.contains(reason), "{leaf}: {err}");
    }
    validate_code_signing_leaf(&cert("codesigning/codeSigningLeaf.pem")).expect("good leaf");
}

#[test]
fn timestamping_chain_rules() {
    let ts = |names: &[&str]| -> Vec<Certificate> {
        names
            .iter()
            .map(|n| cert(&format!("timestamping/{n}.crt")))
            .collect()
    };
    validate_timestamping_chain(&ts(&[
        "timestamp_leaf",
        "timestamp_intermediate",
        "timestamp_root",
    ]))
    .expect("valid");
    assert!(validate_timestamping_chain(&ts(&["timestamp_leaf"])).is_err());
    assert!(
        validate_timestamping_chain(&ts(&["timestamp_leaf", "timestamp_intermediate"])).is_err()
    );
    assert!(validate_timestamping_chain(&ts(&["timestamp_root", "timestamp_root"])).is_err());
    assert!(
        validate_timestamping_chain(&ts(&[
            "timestamp_leaf",
            "timestamp_intermediate",
            "timestamp_root",
            "timestamp_root"
        ]))
        .is_err()
    );
    let mut mixed = ts(&["timestamp_leaf"]);
    mixed.extend(cs(&["intermediateCert2", "intermediateCert1", "rootCert"]));
    assert!(validate_timestamping_chain(&mixed).is_err());
    // A code-signing chain is not a timestamping chain.
    let err = validate_timestamping_chain(&cs(&[
        "codeSigningLeaf",
        "intermediateCert2",
        "intermediateCert1",
        "rootCert",
    ]))
    .expect_err("not a TSA")
    .to_string();
    assert!(err.contains("id-kp-timeStamping"), "{err}");
    // tollgate's own chains are valid code-signing chains.
    let own = Certificate::parse_pem_bundle(&std::fs::read(pki("p256.chain.pem")).expect("pem"))
        .expect("chain");
    validate_code_signing_chain(&own).expect("tollgate test chain");
}

#[test]
fn certificate_files_in_every_form() {
    let read =
        |n: &str| std::fs::read(testdata().join("core-go/x509/readcert").join(n)).expect("file");
    assert_eq!(parse_certificates(&read("pem.crt")).expect("pem").len(), 1);
    assert_eq!(
        parse_certificates(&read("multi-pem.crt"))
            .expect("multi pem")
            .len(),
        2
    );
    assert_eq!(parse_certificates(&read("der.der")).expect("der").len(), 1);
    assert_eq!(
        parse_certificates(&read("multi-der.der"))
            .expect("multi der")
            .len(),
        2
    );
    assert!(parse_certificates(&read("invalid")).is_err());
    let mut truncated = read("multi-der.der");
    truncated.pop();
    assert!(parse_certificates(&truncated).is_err());
}

#[test]
fn trusted_identities_match_subsets_of_the_leaf_subject() {
    let leaf = Certificate::parse_pem_bundle(
        &std::fs::read(testdata().join("go/verifier/signing-cert.pem")).expect("pem"),
    )
    .expect("cert")
    .remove(0);
    let doc = |ids: serde_json::Value| {
        TrustPolicyDocument::parse(
            json!({"version": "1.0", "trustPolicies": [{"name": "a", "registryScopes": ["*"],
                "signatureVerification": {"level": "strict"}, "trustStores": ["ca:x"],
                "trustedIdentities": ids}]})
            .to_string()
            .as_bytes(),
            PolicyKind::Oci,
        )
    };
    let ids = |d: TrustPolicyDocument| d.statements[0].trusted_identities.clone();
    let yes = ids(doc(json!(["x509.subject:C=US,O=SomeOrg,ST=WA"])).expect("policy"));
    assert_eq!(identity_matches(&yes, &leaf.subject()), Ok(true));
    let no = ids(doc(json!(["x509.subject:C=IND,O=SomeOrg,ST=TS"])).expect("policy"));
    assert_eq!(identity_matches(&no, &leaf.subject()), Ok(false));
    let either = ids(doc(json!([
        "x509.subject:C=IND,O=SomeOrg,ST=TS",
        "x509.subject: C=US, S=WA, O=SomeOrg, CN=SomeCN"
    ]))
    .expect("policy"));
    assert_eq!(identity_matches(&either, &leaf.subject()), Ok(true));
    assert_eq!(identity_matches(&[Identity::Any], "anything"), Ok(true));
    assert!(doc(json!(["nonX509Prefix:my-custom-identity"])).is_err());
    let bad = Certificate::parse_pem_bundle(
        &std::fs::read(testdata().join("go/verifier/bad-cert.pem")).expect("pem"),
    )
    .expect("cert")
    .remove(0);
    assert!(
        identity_matches(&yes, &bad.subject())
            .expect_err("=#")
            .contains("=#")
    );
    // Escapes: a comma inside a value.
    let escaped = ids(doc(json!(["x509.subject: C=US, ST=WA, O=Acme\\, Inc."])).expect("policy"));
    assert_eq!(
        identity_matches(&escaped, "CN=x,O=Acme\\, Inc.,ST=WA,C=US"),
        Ok(true)
    );
}

#[test]
fn spec_policy_examples_parse_and_select() {
    let load = |n: &str, kind| {
        TrustPolicyDocument::load(&testdata().join("spec-examples").join(n), kind)
            .unwrap_or_else(|e| panic!("{n}: {e}"))
    };
    let ex1 = load("trustpolicy.oci.example1.json", PolicyKind::Oci);
    assert_eq!(
        ex1.select_oci("any.registry/any/repo")
            .expect("global")
            .level,
        Level::Audit
    );
    let ex2 = load("trustpolicy.oci.example2.json", PolicyKind::Oci);
    assert!(ex2.statements.iter().any(|s| s.level == Level::Skip));
    let overridden = ex2
        .statements
        .iter()
        .find(|s| !s.overrides.is_empty())
        .expect("an override");
    assert_eq!(overridden.action(Check::Expiry), Action::Log);
    assert_eq!(overridden.action(Check::Revocation), Action::Skip);
    assert_eq!(overridden.action(Check::Integrity), Action::Enforce);
    let ex3 = load("trustpolicy.oci.example3-timestamp.json", PolicyKind::Oci);
    assert!(
        ex3.statements
            .iter()
            .any(|s| s.verify_timestamp == VerifyTimestamp::AfterCertExpiry
                && s.stores_of(StoreType::Tsa).next().is_some())
    );
    let b1 = load("trustpolicy.blob.example1.json", PolicyKind::Blob);
    assert!(b1.select_blob(None).expect("global").global);
    let named = b1.statements[0].name.clone();
    assert_eq!(b1.select_blob(Some(&named)).expect("by name").name, named);
    assert!(b1.select_blob(Some("no-such")).is_err());
    load("trustpolicy.blob.example2-timestamp.json", PolicyKind::Blob);
    // Levels and their default actions.
    assert_eq!(
        Level::Permissive.action(Check::Authenticity),
        Action::Enforce
    );
    assert_eq!(Level::Permissive.action(Check::Expiry), Action::Log);
    assert_eq!(Level::Audit.action(Check::Authenticity), Action::Log);
    assert_eq!(Level::Audit.action(Check::Integrity), Action::Enforce);
    // An OCI document where only the exact scope matches.
    let exact = TrustPolicyDocument::parse(
        json!({"version": "1.0", "trustPolicies": [{"name": "a", "registryScopes": ["r.io/a/b"],
            "signatureVerification": {"level": "strict"}, "trustStores": ["ca:x"], "trustedIdentities": ["*"]}]})
        .to_string().as_bytes(),
        PolicyKind::Oci,
    )
    .expect("policy");
    assert!(exact.select_oci("r.io/a/b").is_ok());
    assert!(exact.select_oci("r.io/a/c").is_err());
    // The configuration-directory lookup: trustpolicy.oci.json, then trustpolicy.json.
    let dir = tempfile::tempdir().expect("tmp");
    assert!(TrustPolicyDocument::load_from_config_dir(dir.path(), PolicyKind::Oci).is_err());
    std::fs::copy(
        testdata().join("spec-examples/trustpolicy.oci.example1.json"),
        dir.path().join("trustpolicy.json"),
    )
    .expect("copy");
    assert!(TrustPolicyDocument::load_from_config_dir(dir.path(), PolicyKind::Oci).is_ok());
}

#[test]
fn signature_manifests_both_forms_and_thumbprints() {
    let read = |n: &str| std::fs::read(testdata().join("spec-examples").join(n)).expect("manifest");
    let new = SignatureManifest::parse(&read("signature-manifest.artifactType.json"))
        .expect("artifactType form");
    assert_eq!(new.envelope_format().expect("format"), EnvelopeFormat::Jws);
    let legacy = SignatureManifest::parse(&read("signature-manifest.legacy-config-mediaType.json"))
        .expect("legacy form");
    assert!(legacy.artifact_type.is_none());
    // Built by us: parses back, names the layer, thumbprints in chain order, lowercase hex.
    let chain = Certificate::parse_pem_bundle(&std::fs::read(pki("p256.chain.pem")).expect("pem"))
        .expect("chain");
    let subject: Descriptor = serde_json::from_value(json!({
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "digest": "sha256:19dbd2e48e921426ee8ace4dc892edfb2ecdc1d1a72d5416c83670c30acecef0",
        "size": 481}))
    .expect("descriptor");
    let envelope = b"{\"payload\":\"...\"}";
    let m = SignatureManifest::new(
        EnvelopeFormat::Cose,
        envelope,
        &subject,
        &chain,
        parse_rfc3339("2027-01-01T00:00:00Z").expect("t"),
    );
    let bytes = m.to_bytes();
    let back = SignatureManifest::parse(&bytes).expect("parse back");
    assert_eq!(back, m);
    assert_eq!(back.envelope_format().expect("f"), EnvelopeFormat::Cose);
    back.check_envelope(envelope).expect("layer matches");
    assert!(back.check_envelope(b"other").is_err());
    let prints = back.thumbprints().expect("thumbprints");
    assert_eq!(prints.len(), 3);
    assert_eq!(prints[0], chain[0].sha256_fingerprint().hex());
    assert!(
        prints
            .iter()
            .all(|p| p.len() == 64 && !p.chars().any(|c| c.is_ascii_uppercase()))
    );
    let text = String::from_utf8(bytes).expect("utf8");
    assert!(text.contains(r#""artifactType":"application/vnd.cncf.notary.signature""#));
    assert!(text.contains(r#""config":{"mediaType":"application/vnd.oci.empty.v1+json","digest":"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a","size":2,"data":"e30="}"#));
    assert!(text.contains(ANNOTATION_THUMBPRINT));
    // Not signature manifests.
    let mut other: serde_json::Value = serde_json::from_str(&text).expect("json");
    other["artifactType"] = "application/vnd.example".into();
    assert!(matches!(
        SignatureManifest::parse(other.to_string().as_bytes()),
        Err(NotationError::Manifest { .. })
    ));
    other.as_object_mut().expect("o").remove("artifactType");
    assert!(!SignatureManifest::is_signature_manifest(
        other.to_string().as_bytes()
    ));
    let mut two = serde_json::from_str::<serde_json::Value>(&text).expect("json");
    two["layers"] = json!([two["layers"][0], two["layers"][0]]);
    assert!(SignatureManifest::parse(two.to_string().as_bytes()).is_err());
}

#[test]
fn rfc3339_times_with_offsets() {
    let utc = parse_rfc3339("2023-06-27T05:30:33Z").expect("utc");
    assert_eq!(parse_rfc3339("2023-06-27T13:30:33+08:00"), Some(utc));
    assert_eq!(parse_rfc3339("2023-06-26T22:30:33-07:00"), Some(utc));
    assert_eq!(parse_rfc3339("2023-06-27T05:30:33.999Z"), Some(utc));
    assert_eq!(format_rfc3339(utc), "2023-06-27T05:30:33Z");
    for bad in [
        "2023-06-27",
        "2023-06-27T05:30:33",
        "2023-13-01T00:00:00Z",
        "2023-06-27T05:30:33+24:00",
        "2023-06-27 05:30:33Z",
        "x023-06-27T05:30:33Z",
        "1969-12-31T23:59:59Z",
    ] {
        assert_eq!(parse_rfc3339(bad), None, "{bad}");
    }
}

#[test]
fn referrers_tag_schema_and_filter() {
    let hex = "19dbd2e48e921426ee8ace4dc892edfb2ecdc1d1a72d5416c83670c30acecef0";
    assert_eq!(
        referrers_tag(&format!("sha256:{hex}")),
        format!("sha256-{hex}")
    );
    let long = format!("sha512:{}", "a".repeat(128));
    assert_eq!(referrers_tag(&long), format!("sha512-{}", "a".repeat(64)));
    assert_eq!(referrers_tag("my+alg:x/y"), "my-alg-x-y");
    assert!(is_signature_referrer(
        Some("application/vnd.cncf.notary.signature"),
        None
    ));
    assert!(is_signature_referrer(
        None,
        Some("application/vnd.cncf.notary.signature")
    ));
    assert!(!is_signature_referrer(
        Some("application/vnd.dev.cosign.artifact.sig.v1+json"),
        None
    ));
    assert!(!is_signature_referrer(
        None,
        Some("application/vnd.oci.empty.v1+json")
    ));
}
