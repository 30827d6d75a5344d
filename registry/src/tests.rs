//! Unit tests: reference parsing, the plain-HTTP rule and manifest checks that need no network.

use super::*;

fn parse(s: &str) -> Result<Reference, ReferenceError> {
    s.parse()
}

const HEX: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

#[test]
fn references_parse_with_host_tag_and_digest() {
    let r = parse("127.0.0.1:5000/models/llama:v1").unwrap();
    assert_eq!(r.registry(), "127.0.0.1:5000");
    assert_eq!(r.repository_name(), "models/llama");
    assert_eq!(r.tag(), Some("v1"));
    assert!(r.digest().is_none());
    assert!(r.is_loopback());

    let r = parse(&format!("ghcr.io/org/img:v2@sha256:{HEX}")).unwrap();
    assert_eq!(r.tag(), Some("v2"));
    assert_eq!(r.digest().unwrap().hex(), HEX);
    assert_eq!(r.target().unwrap(), format!("sha256:{HEX}"));
    assert_eq!(r.to_string(), format!("ghcr.io/org/img:v2@sha256:{HEX}"));
    assert!(!r.is_loopback());

    let r = parse("localhost/a__b/c-d.e").unwrap();
    assert!(r.tag().is_none() && r.target().is_none());
    assert!(r.is_loopback());
    assert!(parse("[::1]:5000/x:y").unwrap().is_loopback());
    assert!(parse("127.8.9.1:80/x").unwrap().is_loopback());
    assert!(!parse("localhost.example.com/x").unwrap().is_loopback());
}

#[test]
fn bad_references_are_refused_with_a_reason() {
    for (bad, says) in [
        ("library/ubuntu:22.04", "not a registry host"),
        ("ubuntu", "no registry host"),
        ("https://ghcr.io/a/b", "without a scheme"),
        ("ghcr.io/Upper/b", "lowercase"),
        ("ghcr.io/a//b", "lowercase"),
        ("ghcr.io/a/b:", "tag"),
        ("ghcr.io/a/b:-x", "tag"),
        ("ghcr.io/a/b@sha256:abc", "64 lowercase hex"),
        ("ghcr.io/a/b@md5:abc", "unknown algorithm"),
        ("gh_cr.io:99/a", "valid registry host"),
    ] {
        let err = parse(bad).expect_err(bad).to_string();
        assert!(err.contains(says), "{bad}: {err}");
        assert!(err.starts_with("invalid image reference"), "{err}");
    }
    let long_tag = format!("ghcr.io/a/b:{}", "t".repeat(129));
    assert!(parse(&long_tag).is_err());
}

#[test]
fn plain_http_to_a_remote_registry_is_refused_before_any_request() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let client = Client::new(Options::plain_http()).unwrap();
    let r = parse("registry.example.com/a/b:v1").unwrap();
    let err = rt.block_on(client.get_manifest(&r)).unwrap_err();
    assert!(matches!(err, Error::PlainHttpRefused { .. }), "{err}");
    assert!(err.to_string().contains("registry.example.com"), "{err}");
    assert!(err.to_string().contains("insecure"), "{err}");
}

#[test]
fn oversized_or_invalid_manifests_are_not_pushed() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    // Port 9 (discard): nothing is listening, and nothing must be sent anyway.
    let client = Client::new(Options::plain_http()).unwrap();
    let r = parse("127.0.0.1:9/a/b:v1").unwrap();
    let mt = MediaType::parse(MediaType::OCI_MANIFEST).unwrap();
    let big = vec![b' '; (4 << 20) + 1];
    let err = rt.block_on(client.put_manifest(&r, &big, &mt)).unwrap_err();
    assert!(matches!(err, Error::ManifestTooLarge { .. }), "{err}");
    let err = rt
        .block_on(client.put_manifest(&r, b"{\"schemaVersion\":2}", &mt))
        .unwrap_err();
    assert!(matches!(err, Error::InvalidManifest { .. }), "{err}");
    assert!(err.to_string().contains("127.0.0.1:9/a/b"), "{err}");
}

#[test]
fn fallback_tag_is_the_referrers_tag_schema() {
    let d = Digest::sha256(b"x");
    assert_eq!(Client::fallback_tag(&d), format!("sha256-{}", d.hex()));
}

#[test]
fn debug_output_never_shows_secrets() {
    let options = Options {
        credentials: Credentials::explicit(
            Credential::Basic {
                username: "alice".into(),
                password: Secret::new("hunter2"),
            },
            "test",
        ),
        ..Options::default()
    };
    let client = Client::new(options.clone()).unwrap();
    for text in [format!("{options:?}"), format!("{client:?}")] {
        assert!(
            text.contains("alice") && text.contains("<redacted>"),
            "{text}"
        );
        assert!(!text.contains("hunter2"), "{text}");
    }
    let token = Credentials::explicit(Credential::IdentityToken(Secret::new("rt-123")), "x");
    assert!(!format!("{token:?}").contains("rt-123"));
}
