//! Tests of [`super::layout`] on small layouts generated in temporary directories: a config
//! blob, two layer blobs, a manifest, `index.json` and `oci-layout`, then tampered with.

use std::fs;
use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use super::layout::{Layout, LayoutError, ProblemKind, Reference, Role, Verification};
use super::{DescriptorError, ManifestError, MediaType};
use crate::digest::Digest;
use crate::digest::engine::NoProgress;

const LAYER: &str = "application/vnd.oci.image.layer.v1.tar";
const CONFIG: &str = "application/vnd.oci.image.config.v1+json";

fn put_blob(root: &Path, bytes: &[u8]) -> Digest {
    let d = Digest::sha256(bytes);
    let dir = root.join("blobs/sha256");
    fs::create_dir_all(&dir).unwrap();
    fs::write(dir.join(d.hex()), bytes).unwrap();
    d
}

fn desc(media_type: &str, bytes: &[u8]) -> Value {
    json!({
        "mediaType": media_type,
        "digest": Digest::sha256(bytes).to_string(),
        "size": bytes.len(),
    })
}

/// A layout with one image (tag `v1`): config, two layers, a manifest.
struct Fixture {
    dir: tempfile::TempDir,
    layers: Vec<Digest>,
    manifest: Digest,
}

impl Fixture {
    fn new() -> Self {
        Self::with(|_| {})
    }

    /// Builds the layout, letting `edit` change the manifest JSON before it is written.
    fn with(edit: impl FnOnce(&mut Value)) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let config = br#"{"architecture":"amd64","os":"linux"}"#;
        let (one, two) = (b"layer one".as_slice(), b"second layer bytes".as_slice());
        put_blob(root, config);
        let layers = vec![put_blob(root, one), put_blob(root, two)];
        let mut manifest = json!({
            "schemaVersion": 2,
            "mediaType": MediaType::OCI_MANIFEST,
            "config": desc(CONFIG, config),
            "layers": [desc(LAYER, one), desc(LAYER, two)],
        });
        edit(&mut manifest);
        let bytes = serde_json::to_vec(&manifest).unwrap();
        let manifest = put_blob(root, &bytes);
        let mut entry = desc(MediaType::OCI_MANIFEST, &bytes);
        entry["annotations"] = json!({ super::REF_NAME_ANNOTATION: "v1" });
        write_index(root, &[entry]);
        fs::write(
            root.join("oci-layout"),
            br#"{"imageLayoutVersion":"1.0.0"}"#,
        )
        .unwrap();
        Self {
            dir,
            layers,
            manifest,
        }
    }

    fn root(&self) -> &Path {
        self.dir.path()
    }

    fn blob(&self, d: &Digest) -> PathBuf {
        self.root().join("blobs/sha256").join(d.hex())
    }

    fn verify(&self, tag: Option<&str>) -> Verification {
        Layout::open(self.root())
            .unwrap()
            .graph(tag)
            .unwrap()
            .verify(&NoProgress)
            .unwrap()
    }

    fn graph_err(&self, tag: Option<&str>) -> LayoutError {
        Layout::open(self.root()).unwrap().graph(tag).unwrap_err()
    }
}

fn write_index(root: &Path, manifests: &[Value]) {
    let index = json!({ "schemaVersion": 2, "manifests": manifests });
    fs::write(root.join("index.json"), serde_json::to_vec(&index).unwrap()).unwrap();
}

fn messages(v: &Verification) -> Vec<String> {
    v.problems().iter().map(ToString::to_string).collect()
}

#[test]
fn a_good_layout_verifies() {
    let f = Fixture::new();
    for tag in [None, Some("v1")] {
        let v = f.verify(tag);
        assert!(v.is_verified(), "{:?}", messages(&v));
        assert_eq!(v.blobs().len(), 4);
        assert_eq!(v.manifests(), 1);
        assert_eq!(v.blobs()[0].descriptor().digest(), &f.manifest);
        assert_eq!(v.blobs()[0].role(), Role::Manifest);
        assert_eq!(v.blobs()[1].role(), Role::Config);
    }
    let layout = Layout::open(f.root()).unwrap();
    assert_eq!(layout.resolve(None).unwrap().digest(), &f.manifest);
    assert_eq!(layout.resolve(Some("v1")).unwrap().digest(), &f.manifest);
}

#[test]
fn a_tampered_layer_is_a_digest_mismatch_naming_the_blob() {
    let f = Fixture::new();
    let path = f.blob(&f.layers[1]);
    let mut bytes = fs::read(&path).unwrap();
    bytes[3] ^= 1;
    fs::write(&path, &bytes).unwrap();
    let v = f.verify(None);
    let msgs = messages(&v);
    assert_eq!(msgs.len(), 1, "{msgs:?}");
    let hex = f.layers[1].hex();
    let want = format!(
        "blobs/sha256/{hex}: digest mismatch (expected sha256:{hex}, got {})",
        Digest::sha256(&bytes)
    );
    assert!(msgs[0].starts_with(&want), "{}", msgs[0]);
    assert!(
        msgs[0].ends_with(&format!("layer of {}", f.manifest)),
        "{}",
        msgs[0]
    );
}

#[test]
fn truncation_is_a_size_mismatch() {
    let f = Fixture::new();
    let path = f.blob(&f.layers[0]);
    fs::write(&path, b"layer").unwrap();
    let v = f.verify(Some("v1"));
    assert_eq!(
        v.problems()[0].kind,
        ProblemKind::SizeMismatch {
            expected: 9,
            actual: 5
        }
    );
    assert!(messages(&v)[0].contains("size mismatch (expected 9 bytes, got 5)"));
}

#[test]
fn a_lying_descriptor_size_is_caught_before_hashing() {
    let f = Fixture::with(|m| m["layers"][0]["size"] = json!(4));
    let v = f.verify(None);
    assert_eq!(v.problems().len(), 1);
    assert_eq!(
        v.problems()[0].kind,
        ProblemKind::SizeMismatch {
            expected: 4,
            actual: 9
        }
    );
}

#[test]
fn every_bad_blob_is_reported() {
    let f = Fixture::new();
    fs::remove_file(f.blob(&f.layers[0])).unwrap();
    fs::write(f.blob(&f.layers[1]), b"second layer bytez").unwrap();
    let v = f.verify(None);
    let msgs = messages(&v);
    assert_eq!(msgs.len(), 2, "{msgs:?}");
    assert!(msgs[0].starts_with(&format!("blobs/sha256/{}: missing", f.layers[0].hex())));
    assert!(msgs[1].contains("digest mismatch"));
}

#[test]
fn an_oversized_manifest_is_refused() {
    let f = Fixture::with(|m| {
        m["annotations"] = json!({ "pad": "x".repeat(super::MAX_MANIFEST_SIZE as usize) });
    });
    let err = f.graph_err(None);
    assert!(matches!(err, LayoutError::TooLarge { .. }), "{err}");
    assert!(err.to_string().contains("4194304-byte limit"), "{err}");
    // index.json itself is bounded too.
    let pad = " ".repeat(super::MAX_MANIFEST_SIZE as usize + 1);
    fs::write(f.root().join("index.json"), pad).unwrap();
    let err = Layout::open(f.root()).unwrap_err();
    assert!(matches!(err, LayoutError::TooLarge { .. }), "{err}");
}

#[test]
fn blob_names_cannot_escape() {
    for digest in [
        "sha256:../../../../etc/passwd".to_owned(),
        format!("sha256:{}", "A".repeat(64)),
        format!("sha256:{}/..", "a".repeat(61)),
        format!("sha256:{}", "a".repeat(63)),
    ] {
        let f = Fixture::with(|m| m["layers"][0]["digest"] = json!(digest));
        let err = f.graph_err(None);
        assert!(
            matches!(
                &err,
                LayoutError::Manifest {
                    err: ManifestError::Descriptor { .. },
                    ..
                }
            ),
            "{digest}: {err}"
        );
        assert!(err.to_string().contains("layers[0]: digest"), "{err}");
    }
}

#[test]
fn a_symlinked_blob_is_refused() {
    let f = Fixture::new();
    let path = f.blob(&f.layers[0]);
    let outside = f.root().join("outside");
    fs::rename(&path, &outside).unwrap();
    std::os::unix::fs::symlink(&outside, &path).unwrap();
    let v = f.verify(None);
    assert_eq!(v.problems()[0].kind, ProblemKind::NotAFile);
}

#[test]
fn sha512_is_refused_clearly() {
    let f = Fixture::with(|m| {
        m["layers"][1]["digest"] = json!(format!("sha512:{}", "a".repeat(128)));
    });
    let err = f.graph_err(None).to_string();
    assert!(err.contains("layers[1]") && err.contains("sha512") && err.contains("not support"));
    assert!(matches!(
        super::descriptor::parse_digest("sha512:ab"),
        Err(DescriptorError::Sha512Unsupported(_))
    ));
}

#[test]
fn an_unknown_tag_lists_the_available_ones() {
    let f = Fixture::new();
    let err = f.graph_err(Some("latest")).to_string();
    assert!(
        err.ends_with("tag \"latest\" not found (available tags: v1)"),
        "{err}"
    );
}

#[test]
fn a_tampered_manifest_is_reported_and_not_followed() {
    let f = Fixture::new();
    let path = f.blob(&f.manifest);
    let mut bytes = fs::read(&path).unwrap();
    let last = bytes.len() - 1;
    bytes[last - 1] = b' ';
    fs::write(&path, &bytes).unwrap();
    let v = f.verify(None);
    assert_eq!(v.problems().len(), 1);
    assert_eq!(v.problems()[0].role, Role::Manifest);
    assert!(messages(&v)[0].ends_with("manifest listed in index.json"));
    assert_eq!(v.blobs().len(), 1);
}

#[test]
fn layout_files_are_checked() {
    let f = Fixture::new();
    fs::write(
        f.root().join("oci-layout"),
        br#"{"imageLayoutVersion":"2.0.0"}"#,
    )
    .unwrap();
    let err = Layout::open(f.root()).unwrap_err().to_string();
    assert!(err.contains("imageLayoutVersion is \"2.0.0\""), "{err}");
    fs::remove_file(f.root().join("oci-layout")).unwrap();
    assert!(matches!(
        Layout::open(f.root()),
        Err(LayoutError::NotALayout { .. })
    ));
}

#[test]
fn nested_indexes_docker_types_and_referrers() {
    let f = Fixture::new();
    let root = f.root();
    let manifest_bytes = fs::read(f.blob(&f.manifest)).unwrap();
    // A Docker manifest list holding the OCI manifest and a Docker v2 manifest.
    let docker_layer = b"docker layer".as_slice();
    let docker_config = b"{}".as_slice();
    put_blob(root, docker_layer);
    put_blob(root, docker_config);
    let docker = serde_json::to_vec(&json!({
        "schemaVersion": 2,
        "mediaType": MediaType::DOCKER_MANIFEST,
        "config": desc("application/vnd.docker.container.image.v1+json", docker_config),
        "layers": [desc("application/vnd.docker.image.rootfs.diff.tar.gzip", docker_layer)],
    }))
    .unwrap();
    put_blob(root, &docker);
    let mut amd = desc(MediaType::OCI_MANIFEST, &manifest_bytes);
    amd["platform"] = json!({"architecture": "amd64", "os": "linux"});
    let list = serde_json::to_vec(&json!({
        "schemaVersion": 2,
        "mediaType": MediaType::DOCKER_MANIFEST_LIST,
        "manifests": [amd, desc(MediaType::DOCKER_MANIFEST, &docker)],
    }))
    .unwrap();
    let list_digest = put_blob(root, &list);
    // A signature-like referrer whose subject is the list.
    let sig = b"signature".as_slice();
    put_blob(root, sig);
    let referrer = serde_json::to_vec(&json!({
        "schemaVersion": 2,
        "mediaType": MediaType::OCI_MANIFEST,
        "artifactType": "application/vnd.example.sig",
        "config": {"mediaType": MediaType::OCI_EMPTY, "digest": Digest::sha256(b"{}").to_string(), "size": 2},
        "layers": [desc("application/vnd.example.sig", sig)],
        "subject": desc(MediaType::DOCKER_MANIFEST_LIST, &list),
    }))
    .unwrap();
    put_blob(root, &referrer);
    let mut tagged = desc(MediaType::DOCKER_MANIFEST_LIST, &list);
    tagged["annotations"] = json!({ super::REF_NAME_ANNOTATION: "multi" });
    let mut other = desc(MediaType::OCI_MANIFEST, &manifest_bytes);
    other["annotations"] = json!({ super::REF_NAME_ANNOTATION: "v1" });
    write_index(
        root,
        &[other, tagged, desc(MediaType::OCI_MANIFEST, &referrer)],
    );

    let v = f.verify(Some("multi"));
    assert!(v.is_verified(), "{:?}", messages(&v));
    assert_eq!(v.blobs()[0].descriptor().digest(), &list_digest);
    assert_eq!(v.manifests(), 4, "list, two manifests, the referrer");
    // config `{}` is shared by the docker manifest and the referrer: listed once.
    assert_eq!(v.blobs().len(), 10);
    assert!(
        v.blobs()
            .iter()
            .any(|b| b.descriptor().digest() == &Digest::sha256(sig))
    );
    // The v1 image alone does not pull in the list's referrer.
    assert_eq!(f.verify(Some("v1")).blobs().len(), 4);
    // Without a tag the choice is ambiguous.
    let err = Layout::open(root)
        .unwrap()
        .resolve(None)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("lists 3 manifests") && err.contains("v1, multi"),
        "{err}"
    );
    // But the whole layout verifies.
    assert!(f.verify(None).is_verified());
}

#[test]
fn references_parse() {
    let r = Reference::parse("oci:/tmp/img:v1").unwrap();
    assert_eq!((r.dir(), r.tag()), (Path::new("/tmp/img"), Some("v1")));
    assert_eq!(r.to_string(), "oci:/tmp/img:v1");
    let r = Reference::parse("oci:./img").unwrap();
    assert_eq!((r.dir(), r.tag()), (Path::new("./img"), None));
    let r = Reference::parse("oci:a:b/c").unwrap();
    assert_eq!((r.dir(), r.tag()), (Path::new("a:b/c"), None));
    let r = Reference::parse("oci:we:ird:").unwrap();
    assert_eq!((r.dir(), r.tag()), (Path::new("we:ird"), None));
    for bad in ["img", "oci:", "docker://x", "oci::tag"] {
        assert!(Reference::parse(bad).is_err(), "{bad}");
    }
}
