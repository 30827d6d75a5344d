//! End to end: tollgate-registry against the real CNCF distribution registry 2.8 (Debian package
//! docker-registry, no referrers API), started on 127.0.0.1 with a random free port and a
//! temporary storage directory. Push and pull back byte-identical, refuse a blob altered in the
//! registry's storage and a manifest over 4 MiB, keep both referrers in the `sha256-<hex>`
//! tag-schema index, refuse plain HTTP to a non-loopback host. A missing docker-registry fails
//! the test; `scripts/install-registry` installs it.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::PathBuf;
use std::time::Duration;

use tollgate_e2e::registry::Registry;

use tollgate_registry::{
    BlockingClient, Digest, Document, Error, MediaType, Options, Reference, ReferrerSource,
};

/// A reference in the test registry.
fn reference(reg: &Registry, rest: &str) -> Reference {
    reg.reference(rest).parse().unwrap()
}

/// The storage file of a blob.
fn blob_file(reg: &Registry, digest: &Digest) -> PathBuf {
    reg.blob_file(&digest.hex())
}

fn client() -> BlockingClient {
    BlockingClient::new(Options::plain_http()).unwrap()
}

fn manifest_type() -> MediaType {
    MediaType::parse(MediaType::OCI_MANIFEST).unwrap()
}

/// Pseudo-random bytes.
fn bytes(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

/// Pushes `{}` (config) and `layer`, returns the manifest bytes referencing them (optionally with
/// a subject and annotations).
fn push_image(
    c: &BlockingClient,
    r: &Reference,
    layer: &[u8],
    subject: Option<(&Digest, usize)>,
    annotation: Option<&str>,
) -> Vec<u8> {
    let config = b"{}".to_vec();
    let config_digest = Digest::sha256(&config);
    c.push_blob(r, config, &config_digest).unwrap();
    let layer_digest = Digest::sha256(layer);
    c.push_blob(r, layer.to_vec(), &layer_digest).unwrap();
    let mut m = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": MediaType::OCI_MANIFEST,
        "config": {"mediaType": MediaType::OCI_EMPTY, "digest": config_digest.to_string(), "size": 2},
        "layers": [{"mediaType": "application/octet-stream", "digest": layer_digest.to_string(), "size": layer.len()}],
    });
    if let Some((digest, size)) = subject {
        m["artifactType"] = "application/vnd.example.signature".into();
        m["subject"] = serde_json::json!({"mediaType": MediaType::OCI_MANIFEST, "digest": digest.to_string(), "size": size});
    }
    if let Some(a) = annotation {
        m["annotations"] = serde_json::json!({"org.example.note": a});
    }
    serde_json::to_vec(&m).unwrap()
}

#[test]
fn push_then_resolve_and_pull_back_byte_identical() {
    let reg = Registry::start();
    let c = client();
    let r = reference(&reg, "models/llama:v1");
    let layer = bytes(300_000, 1);
    let manifest = push_image(&c, &r, &layer, None, None);
    let pushed = c.put_manifest(&r, &manifest, &manifest_type()).unwrap();
    assert_eq!(pushed, Digest::sha256(&manifest));

    assert_eq!(c.resolve(&r).unwrap(), pushed);
    let got = c.get_manifest(&r).unwrap();
    assert_eq!(got.bytes, manifest, "manifest bytes differ");
    let Document::Manifest(m) = &got.document else {
        panic!("not a manifest")
    };
    let by_digest = c.get_manifest(&r.with_digest(&pushed)).unwrap();
    assert_eq!(by_digest.bytes, manifest);

    let layer_desc = &m.layers()[0];
    assert!(c.blob_exists(&r, layer_desc.digest()).unwrap());
    assert!(!c.blob_exists(&r, &Digest::sha256(b"absent")).unwrap());
    let out = tempfile::tempdir().unwrap();
    let dest = out.path().join("layer");
    let n = c
        .pull_blob_to_file(&r, layer_desc.digest(), Some(layer_desc.size()), &dest)
        .unwrap();
    assert_eq!(n, layer.len() as u64);
    assert_eq!(std::fs::read(&dest).unwrap(), layer, "pulled blob differs");
    assert_eq!(c.list_tags(&r).unwrap(), vec!["v1".to_owned()]);

    let err = c
        .get_manifest(&reference(&reg, "models/llama:absent"))
        .unwrap_err();
    assert!(matches!(err, Error::ManifestNotFound { .. }), "{err}");
}

#[test]
fn a_blob_altered_in_storage_is_refused_and_no_file_is_left() {
    let reg = Registry::start();
    let c = client();
    let r = reference(&reg, "models/tampered:v1");
    let layer = bytes(200_000, 2);
    let digest = Digest::sha256(&layer);
    c.push_blob(&r, layer.clone(), &digest).unwrap();

    let file = blob_file(&reg, &digest);
    let mut stored = std::fs::read(&file).expect("blob data file in the registry's storage");
    assert_eq!(stored, layer);
    stored[1000] ^= 0x01;
    std::fs::write(&file, &stored).unwrap();

    let out = tempfile::tempdir().unwrap();
    let dest = out.path().join("layer");
    let err = c
        .pull_blob_to_file(&r, &digest, Some(layer.len() as u64), &dest)
        .unwrap_err();
    assert!(matches!(err, Error::DigestMismatch { .. }), "{err}");
    let msg = err.to_string();
    assert!(
        msg.contains(&digest.to_string()) && msg.contains(reg.host()),
        "{msg}"
    );
    assert!(
        !dest.exists(),
        "the refused blob was left at its destination"
    );
    let left: Vec<_> = std::fs::read_dir(out.path()).unwrap().collect();
    assert!(left.is_empty(), "temporary files left: {left:?}");

    // Also cut short: the data file truncated (size mismatch, still no file).
    std::fs::write(&file, &layer[..1000]).unwrap();
    let err = c
        .pull_blob_to_file(&r, &digest, Some(layer.len() as u64), &dest)
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::SizeMismatch { .. } | Error::DigestMismatch { .. } | Error::Transport { .. }
        ),
        "{err}"
    );
    assert!(!dest.exists());
}

#[test]
fn referrers_use_the_tag_schema_on_distribution_2_8_and_keep_both() {
    let reg = Registry::start();
    let c = client();
    let r = reference(&reg, "models/signed:v1");
    let subject = push_image(&c, &r, &bytes(1000, 3), None, None);
    let subject_digest = c.put_manifest(&r, &subject, &manifest_type()).unwrap();

    let none = c.referrers(&r, &subject_digest).unwrap();
    assert_eq!(none.source, ReferrerSource::None);
    assert!(none.descriptors.is_empty());

    let subject_ref = Some((&subject_digest, subject.len()));
    let first = push_image(&c, &r, b"signature one", subject_ref, Some("one"));
    let second = push_image(&c, &r, b"signature two", subject_ref, Some("two"));
    let repo = reference(&reg, "models/signed");
    let d1 = c.attach_referrer(&repo, &first, &manifest_type()).unwrap();
    let d2 = c.attach_referrer(&repo, &second, &manifest_type()).unwrap();
    // Attaching again does not duplicate the entry.
    assert_eq!(
        c.attach_referrer(&repo, &second, &manifest_type()).unwrap(),
        d2
    );

    let found = c.referrers(&r, &subject_digest).unwrap();
    assert_eq!(
        found.source,
        ReferrerSource::TagSchema,
        "distribution 2.8 has no referrers API"
    );
    let digests: Vec<_> = found.descriptors.iter().map(|d| *d.digest()).collect();
    assert_eq!(digests, vec![d1, d2]);
    assert_eq!(found.descriptors[0].size(), first.len() as u64);
    assert_eq!(
        found.descriptors[1]
            .annotations()
            .get("org.example.note")
            .map(String::as_str),
        Some("two")
    );
    assert_eq!(
        found.descriptors[0].artifact_type().map(MediaType::as_str),
        Some("application/vnd.example.signature")
    );
    let tags = c.list_tags(&r).unwrap();
    assert!(
        tags.contains(&format!("sha256-{}", subject_digest.hex())),
        "{tags:?}"
    );
    // The referrers themselves are there, by digest.
    assert_eq!(c.get_manifest(&r.with_digest(&d1)).unwrap().bytes, first);

    let no_subject = push_image(&c, &r, b"plain", None, None);
    let err = c
        .attach_referrer(&repo, &no_subject, &manifest_type())
        .unwrap_err();
    assert!(matches!(err, Error::NoSubject { .. }), "{err}");
}

#[test]
fn a_manifest_over_4_mib_is_refused() {
    let reg = Registry::start();
    let c = client();
    let r = reference(&reg, "models/big:v1");
    let config = b"{}".to_vec();
    let config_digest = Digest::sha256(&config);
    c.push_blob(&r, config, &config_digest).unwrap();
    let big = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2,
        "mediaType": MediaType::OCI_MANIFEST,
        "config": {"mediaType": MediaType::OCI_EMPTY, "digest": config_digest.to_string(), "size": 2},
        "layers": [],
        "annotations": {"padding": "x".repeat(5 << 20)},
    }))
    .unwrap();

    // Our client refuses to push it...
    let err = c.put_manifest(&r, &big, &manifest_type()).unwrap_err();
    assert!(matches!(err, Error::ManifestTooLarge { .. }), "{err}");

    // ...and to read one a registry serves. distribution refuses such a PUT itself, so a tiny
    // loopback server plays the registry: once with Content-Length (refused before reading),
    // once chunked without it (refused once 4 MiB have streamed in).
    for chunked in [false, true] {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let host = listener.local_addr().unwrap().to_string();
        let body = big.clone();
        let server = std::thread::spawn(move || {
            let (mut s, _) = listener.accept().unwrap();
            // The client stops reading; its connection is closed only when its runtime next
            // runs, so do not block on a full socket buffer.
            s.set_write_timeout(Some(Duration::from_secs(3))).unwrap();
            let mut req = [0u8; 4096];
            let _ = s.read(&mut req);
            let head = if chunked {
                "HTTP/1.1 200 OK\r\nContent-Type: application/vnd.oci.image.manifest.v1+json\r\n\
                 Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
                    .to_owned()
            } else {
                format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: application/vnd.oci.image.manifest.v1+json\r\n\
                     Content-Length: {}\r\nConnection: close\r\n\r\n",
                    body.len()
                )
            };
            let _ = s.write_all(head.as_bytes());
            for part in body.chunks(64 << 10) {
                let ok = if chunked {
                    s.write_all(format!("{:x}\r\n", part.len()).as_bytes())
                        .and_then(|()| s.write_all(part))
                        .and_then(|()| s.write_all(b"\r\n"))
                } else {
                    s.write_all(part)
                };
                if ok.is_err() {
                    return;
                }
            }
            let _ = s.write_all(b"0\r\n\r\n");
        });
        let fake: Reference = format!("{host}/models/big:v1").parse().unwrap();
        let err = c.get_manifest(&fake).unwrap_err();
        assert!(
            matches!(err, Error::ManifestTooLarge { .. }),
            "chunked={chunked}: {err}"
        );
        assert!(err.to_string().contains("models/big"), "{err}");
        drop(server.join());
    }
}

#[test]
fn plain_http_to_a_non_loopback_registry_is_refused_without_insecure() {
    let c = client();
    let r: Reference = "registry.example.com:5000/models/llama:v1".parse().unwrap();
    let err = c.resolve(&r).unwrap_err();
    assert!(matches!(err, Error::PlainHttpRefused { .. }), "{err}");
    assert!(
        err.to_string().contains("registry.example.com:5000"),
        "{err}"
    );
    let err = c
        .push_blob(&r, b"x".to_vec(), &Digest::sha256(b"x"))
        .unwrap_err();
    assert!(matches!(err, Error::PlainHttpRefused { .. }), "{err}");
    // A registry name without a host is refused too (no implicit docker.io).
    assert!("library/ubuntu:22.04".parse::<Reference>().is_err());
}
