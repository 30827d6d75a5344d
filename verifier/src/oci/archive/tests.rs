//! Unit tests: tar indexing (ustar, pax, GNU long names, base-256 sizes, every refusal),
//! archive references, docker reference normalization, and docker/OCI archives built here.

use std::path::Path;
use std::sync::Arc;

use super::tar::{Archive, ArchiveError, MemberKind};
use super::{ArchiveReference, DockerArchive, DockerSelector, normalize_docker_reference};
use crate::digest::Digest;
use crate::digest::engine::NoProgress;
use crate::oci::layout::{Layout, ProblemKind};

/// Writes tar headers by hand, so tests control every field.
#[derive(Default)]
struct TarBuilder {
    bytes: Vec<u8>,
}

impl TarBuilder {
    fn header(&mut self, name: &[u8], typeflag: u8, size: u64, link: &[u8], gnu: bool) {
        let mut h = [0u8; 512];
        h[..name.len()].copy_from_slice(name);
        h[100..108].copy_from_slice(b"0000644\0");
        h[108..116].copy_from_slice(b"0000000\0");
        h[116..124].copy_from_slice(b"0000000\0");
        if size < 0o77777777777 {
            h[124..136].copy_from_slice(format!("{size:011o}\0").as_bytes());
        } else {
            h[124] = 0x80;
            h[128..136].copy_from_slice(&size.to_be_bytes());
        }
        h[136..148].copy_from_slice(b"00000000000\0");
        h[156] = typeflag;
        h[157..157 + link.len()].copy_from_slice(link);
        if gnu {
            h[257..265].copy_from_slice(b"ustar  \0");
        } else {
            h[257..263].copy_from_slice(b"ustar\0");
            h[263..265].copy_from_slice(b"00");
        }
        let sum: u32 = h
            .iter()
            .enumerate()
            .map(|(i, &b)| {
                if (148..156).contains(&i) {
                    32
                } else {
                    u32::from(b)
                }
            })
            .sum();
        h[148..156].copy_from_slice(format!("{sum:06o}\0 ").as_bytes());
        self.bytes.extend_from_slice(&h);
    }

    fn data(&mut self, data: &[u8]) {
        self.bytes.extend_from_slice(data);
        let pad = data.len().div_ceil(512) * 512 - data.len();
        self.bytes.extend(std::iter::repeat_n(0, pad));
    }

    fn file(mut self, name: &str, data: &[u8]) -> Self {
        self.header(name.as_bytes(), b'0', data.len() as u64, b"", false);
        self.data(data);
        self
    }

    fn dir(mut self, name: &str) -> Self {
        self.header(name.as_bytes(), b'5', 0, b"", false);
        self
    }

    fn symlink(mut self, name: &str, target: &str) -> Self {
        self.header(name.as_bytes(), b'2', 0, target.as_bytes(), false);
        self
    }

    fn hardlink(mut self, name: &str, target: &str) -> Self {
        self.header(name.as_bytes(), b'1', 0, target.as_bytes(), false);
        self
    }

    fn pax(mut self, records: &[(&str, &str)]) -> Self {
        let mut body = Vec::new();
        for (k, v) in records {
            let rest = format!(" {k}={v}\n");
            let mut len = rest.len() + 1;
            while format!("{len}").len() + rest.len() != len {
                len += 1;
            }
            body.extend_from_slice(format!("{len}{rest}").as_bytes());
        }
        self.header(b"PaxHeaders/x", b'x', body.len() as u64, b"", false);
        self.data(&body);
        self
    }

    fn gnu_long_name(mut self, name: &str) -> Self {
        let mut body = name.as_bytes().to_vec();
        body.push(0);
        self.header(b"././@LongLink", b'L', body.len() as u64, b"", true);
        self.data(&body);
        self
    }

    fn raw_header(mut self, name: &str, size: u64) -> Self {
        self.header(name.as_bytes(), b'0', size, b"", false);
        self
    }

    fn finish(mut self) -> Vec<u8> {
        self.bytes.extend(std::iter::repeat_n(0, 1024));
        self.bytes
    }

    fn write(self, dir: &Path, name: &str) -> std::path::PathBuf {
        let path = dir.join(name);
        std::fs::write(&path, self.finish()).unwrap();
        path
    }
}

fn open(bytes: Vec<u8>) -> (tempfile::TempDir, Result<Archive, ArchiveError>) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a.tar");
    std::fs::write(&path, bytes).unwrap();
    let archive = Archive::open(&path);
    (dir, archive)
}

fn open_ok(builder: TarBuilder) -> (tempfile::TempDir, Archive) {
    let (dir, archive) = open(builder.finish());
    (dir, archive.unwrap())
}

fn error(bytes: Vec<u8>) -> String {
    open(bytes).1.unwrap_err().to_string()
}

#[test]
fn ustar_members_are_indexed_with_their_byte_ranges() {
    let (_dir, a) = open_ok(
        TarBuilder::default()
            .dir("./blobs/")
            .file("./blobs/sha256/x", b"hello")
            .file("index.json", &[7u8; 600])
            .symlink("link", "index.json"),
    );
    let m = a.get("blobs/sha256/x").unwrap();
    assert_eq!(
        (m.kind(), m.offset(), m.size()),
        (&MemberKind::File, 1024, 5)
    );
    assert_eq!(a.read(m, 5).unwrap(), b"hello");
    assert!(
        a.get("./blobs//sha256/./x").is_some(),
        "lookups normalize too"
    );
    let idx = a.get("index.json").unwrap();
    assert_eq!((idx.offset(), idx.size()), (2048, 600));
    assert_eq!(
        a.get("link").unwrap().kind(),
        &MemberKind::Symlink("index.json".into())
    );
    let err = a.read(a.get("link").unwrap(), 10).unwrap_err().to_string();
    assert!(err.contains("is a symlink to \"index.json\""), "{err}");
    let item = a.work_item(m);
    assert_eq!((item.start, item.end), (1024, 1029));
    let err = a.read(idx, 599).unwrap_err().to_string();
    assert!(err.contains("over the 599-byte limit"), "{err}");
}

#[test]
fn pax_gnu_and_prefix_names_and_sizes_are_read() {
    let long = format!("blobs/sha256/{}", "a".repeat(150));
    let (_dir, a) = open_ok(
        TarBuilder::default()
            .pax(&[("path", &long), ("mtime", "1.5")])
            .file("short-name-overridden", b"pax")
            .gnu_long_name("gnu/long/name/that/is/long")
            .file("cut", b"gnu"),
    );
    assert_eq!(a.read(a.get(&long).unwrap(), 10).unwrap(), b"pax");
    assert_eq!(
        a.read(a.get("gnu/long/name/that/is/long").unwrap(), 10)
            .unwrap(),
        b"gnu"
    );
    assert!(a.get("short-name-overridden").is_none());

    // ustar prefix field.
    let mut b = TarBuilder::default();
    b.header(b"name", b'0', 2, b"", false);
    let at = b.bytes.len() - 512;
    b.bytes[at + 345..at + 351].copy_from_slice(b"prefix");
    let sum: u32 = b.bytes[at..at + 512]
        .iter()
        .enumerate()
        .map(|(i, &x)| {
            if (148..156).contains(&i) {
                32
            } else {
                u32::from(x)
            }
        })
        .sum();
    b.bytes[at + 148..at + 156].copy_from_slice(format!("{sum:06o}\0 ").as_bytes());
    b.data(b"pf");
    let (_dir, a) = open_ok(b);
    assert!(a.get("prefix/name").is_some());

    // A pax size overrides the header's.
    let mut b = TarBuilder::default()
        .pax(&[("size", "3")])
        .raw_header("p", 0);
    b.data(b"abc");
    let (_dir, a) = open_ok(b.file("after", b"x"));
    assert_eq!(a.get("p").unwrap().size(), 3);
    assert!(a.get("after").is_some());
}

#[test]
fn unsafe_and_ambiguous_names_refuse_the_archive() {
    let cases: [(TarBuilder, &str); 5] = [
        (
            TarBuilder::default().file("/etc/passwd", b"x"),
            "is absolute",
        ),
        (
            TarBuilder::default().file("blobs/../../x", b"x"),
            "contains '..'",
        ),
        (
            TarBuilder::default()
                .pax(&[("path", "../x")])
                .file("x", b""),
            "contains '..'",
        ),
        (
            TarBuilder::default()
                .file("index.json", b"a")
                .file("./index.json", b"b"),
            "appears twice",
        ),
        (
            TarBuilder::default()
                .file("blobs/x", b"a")
                .symlink("blobs/x", "y"),
            "appears twice",
        ),
    ];
    for (builder, want) in cases {
        let err = error(builder.finish());
        assert!(err.contains(want), "{err}; wanted {want}");
    }
    // A repeated directory entry is harmless.
    open_ok(TarBuilder::default().dir("blobs").dir("blobs/"));
    let long = "n/".repeat(2100);
    let err = error(
        TarBuilder::default()
            .pax(&[("path", &long)])
            .file("x", b"")
            .finish(),
    );
    assert!(err.contains("longer than 4096 bytes"), "{err}");
}

#[test]
fn truncation_bad_checksums_and_compression_are_clear_errors() {
    let mut bytes = TarBuilder::default().file("big", &[1u8; 5000]).finish();
    bytes.truncate(2048);
    let err = error(bytes);
    assert!(
        err.contains(
            "member \"big\" claims 5000 bytes at offset 512, past the end of the 2048-byte file"
        ),
        "{err}"
    );
    let err = error(
        TarBuilder::default()
            .raw_header("huge", u64::MAX >> 2)
            .finish(),
    );
    assert!(err.contains("past the end"), "{err}");

    let mut bytes = TarBuilder::default().file("x", b"y").finish();
    bytes[0] = b'z';
    let err = error(bytes);
    assert!(err.contains("checksum mismatch"), "{err}");

    let mut bytes = TarBuilder::default().file("x", b"y").finish();
    bytes.truncate(300);
    assert!(error(bytes).contains("the file ends inside a header"));

    for (magic, name) in [
        (&[0x1f, 0x8b, 8, 0][..], "gzip"),
        (&[0x28, 0xb5, 0x2f, 0xfd][..], "zstd"),
        (&[0xfd, b'7', b'z', b'X', b'Z', 0][..], "xz"),
    ] {
        let mut bytes = magic.to_vec();
        bytes.resize(1024, 0);
        let err = error(bytes);
        assert!(
            err.contains(&format!("is {name}-compressed")) && err.contains("decompress it first"),
            "{err}"
        );
    }
    let err = error(
        TarBuilder::default()
            .pax(&[("size", "-1")])
            .file("x", b"")
            .finish(),
    );
    assert!(err.contains("pax size"), "{err}");
    let mut big_pax = TarBuilder::default();
    big_pax.header(b"PaxHeaders/x", b'x', 2 << 20, b"", false);
    big_pax.data(&vec![b'a'; 2 << 20]);
    let err = error(big_pax.finish());
    assert!(err.contains("over the 1048576-byte limit"), "{err}");
}

#[test]
fn an_empty_file_and_a_directory_are_not_archives_with_members() {
    let (_dir, a) = open(Vec::new());
    assert!(a.unwrap().members().is_empty());
    let dir = tempfile::tempdir().unwrap();
    let err = Archive::open(dir.path()).unwrap_err().to_string();
    assert!(err.contains("not a regular file"), "{err}");
}

#[test]
fn references_parse_like_skopeo() {
    let oci = ArchiveReference::parse("oci-archive:x.tar:v1").unwrap();
    assert_eq!(
        oci,
        ArchiveReference::Oci {
            path: "x.tar".into(),
            tag: Some("v1".into())
        }
    );
    assert_eq!(oci.to_string(), "oci-archive:x.tar:v1");
    assert_eq!(
        ArchiveReference::parse("oci-archive:a:b/c.tar").unwrap(),
        ArchiveReference::Oci {
            path: "a:b/c.tar".into(),
            tag: None
        }
    );
    let docker = ArchiveReference::parse("docker-archive:d.tar:example.com:5000/app:v1").unwrap();
    assert_eq!(
        docker,
        ArchiveReference::Docker {
            path: "d.tar".into(),
            image: Some(DockerSelector::Tag("example.com:5000/app:v1".into()))
        }
    );
    assert_eq!(
        ArchiveReference::parse("docker-archive:d.tar:@2").unwrap(),
        ArchiveReference::Docker {
            path: "d.tar".into(),
            image: Some(DockerSelector::Index(2))
        }
    );
    assert_eq!(
        ArchiveReference::parse("docker-archive:d.tar").unwrap(),
        ArchiveReference::Docker {
            path: "d.tar".into(),
            image: None
        }
    );
    for bad in [
        "oci-archive:",
        "docker-archive:",
        "docker-archive::x",
        "docker-archive:d.tar:@x",
        "docker-archive:d.tar:a b",
        "oci:x",
    ] {
        assert!(ArchiveReference::parse(bad).is_err(), "{bad}");
    }
}

#[test]
fn docker_references_normalize_like_docker() {
    for (input, want) in [
        ("busybox", "docker.io/library/busybox:latest"),
        ("busybox:1", "docker.io/library/busybox:1"),
        ("docker.io/busybox:1", "docker.io/library/busybox:1"),
        (
            "index.docker.io/library/busybox:1",
            "docker.io/library/busybox:1",
        ),
        ("me/app:v1", "docker.io/me/app:v1"),
        ("example.com/app:v1", "example.com/app:v1"),
        ("localhost:5000/app", "localhost:5000/app:latest"),
        ("localhost/app:v2", "localhost/app:v2"),
    ] {
        assert_eq!(normalize_docker_reference(input), want, "{input}");
    }
}

fn sha(data: &[u8]) -> Digest {
    Digest::sha256(data)
}

/// A docker save archive: two layers, a config naming their diff IDs, `manifest.json`.
fn docker_archive(layer_names: [&str; 2], tamper: Option<usize>) -> TarBuilder {
    let layers = [vec![1u8; 3000], vec![2u8; 100]];
    let config = format!(
        r#"{{"architecture":"amd64","os":"linux","rootfs":{{"type":"layers","diff_ids":["{}","{}"]}}}}"#,
        sha(&layers[0]),
        sha(&layers[1])
    );
    let config_name = format!("{}.json", sha(config.as_bytes()).hex());
    let manifest = format!(
        r#"[{{"Config":"{config_name}","RepoTags":["example.com/app:v1"],"Layers":["{}","{}"]}}]"#,
        layer_names[0], layer_names[1]
    );
    let mut b = TarBuilder::default();
    for (i, (name, data)) in layer_names.iter().zip(&layers).enumerate() {
        let mut data = data.clone();
        if tamper == Some(i) {
            data[10] ^= 1;
        }
        b = b.file(name, &data);
    }
    b.file(&config_name, config.as_bytes())
        .file("manifest.json", manifest.as_bytes())
}

#[test]
fn docker_archive_layers_are_checked_against_diff_ids() {
    let dir = tempfile::tempdir().unwrap();
    let path = docker_archive(["aaa/layer.tar", "bbb/layer.tar"], None).write(dir.path(), "d.tar");
    let docker = DockerArchive::open(Arc::new(Archive::open(&path).unwrap())).unwrap();
    let v = docker.verify(None, &NoProgress).unwrap();
    assert!(v.is_verified(), "{:?}", v.problems());
    assert_eq!(v.images()[0].layers().len(), 2);
    assert_eq!(v.images()[0].repo_tags(), ["example.com/app:v1"]);
    assert_eq!(
        docker
            .resolve(Some(&DockerSelector::Tag("example.com/app:v1".into())))
            .unwrap(),
        0
    );
    let err = docker
        .resolve(Some(&DockerSelector::Tag("example.com/app:v2".into())))
        .unwrap_err()
        .to_string();
    assert!(err.contains("available: example.com/app:v1"), "{err}");

    let path =
        docker_archive(["aaa/layer.tar", "bbb/layer.tar"], Some(1)).write(dir.path(), "t.tar");
    let docker = DockerArchive::open(Arc::new(Archive::open(&path).unwrap())).unwrap();
    let v = docker.verify(None, &NoProgress).unwrap();
    assert!(!v.is_verified());
    let p = &v.problems()[0];
    assert_eq!(p.member, "bbb/layer.tar");
    assert!(matches!(p.kind, ProblemKind::DigestMismatch { .. }));
    let text = p.to_string();
    assert!(
        text.starts_with("bbb/layer.tar: diff ID mismatch (expected sha256:")
            && text.ends_with("; layer of image example.com/app:v1"),
        "{text}"
    );
}

#[test]
fn docker_archive_links_and_missing_layers_are_problems() {
    let dir = tempfile::tempdir().unwrap();
    let layers = [vec![1u8; 3000], vec![2u8; 100]];
    let config = format!(
        r#"{{"rootfs":{{"type":"layers","diff_ids":["{}","{}","{}","{}"]}}}}"#,
        sha(&layers[0]),
        sha(&layers[1]),
        sha(&layers[1]),
        sha(&layers[0])
    );
    let config_name = format!("blobs/sha256/{}", sha(config.as_bytes()).hex());
    let manifest = format!(
        r#"[{{"Config":"{config_name}","RepoTags":null,"Layers":["l0","sym","gone","hard"]}}]"#
    );
    let path = TarBuilder::default()
        .file("l0", &layers[0])
        .symlink("sym", "l0")
        .hardlink("hard", "l0")
        .file(&config_name, config.as_bytes())
        .file("manifest.json", manifest.as_bytes())
        .write(dir.path(), "links.tar");
    let docker = DockerArchive::open(Arc::new(Archive::open(&path).unwrap())).unwrap();
    let v = docker.verify(None, &NoProgress).unwrap();
    let got: Vec<String> = v.problems().iter().map(ToString::to_string).collect();
    assert_eq!(got.len(), 3, "{got:?}");
    assert!(got[0].starts_with("sym: is a symlink to \"l0\"; links inside archives are not followed; layer of image sha256:"), "{got:?}");
    assert!(
        got[2].starts_with("hard: is a hard link to \"l0\""),
        "{got:?}"
    );
    assert!(
        got[1].starts_with("gone: missing; layer of image sha256:"),
        "{got:?}"
    );
}

#[test]
fn docker_config_must_match_its_name_and_layer_count() {
    let dir = tempfile::tempdir().unwrap();
    let config = br#"{"rootfs":{"type":"layers","diff_ids":[]}}"#;
    let wrong = format!("{}.json", "0".repeat(64));
    let path = TarBuilder::default()
        .file(&wrong, config)
        .file(
            "manifest.json",
            format!(r#"[{{"Config":"{wrong}","RepoTags":["a:b"],"Layers":[]}}]"#).as_bytes(),
        )
        .write(dir.path(), "c.tar");
    let docker = DockerArchive::open(Arc::new(Archive::open(&path).unwrap())).unwrap();
    let v = docker.verify(None, &NoProgress).unwrap();
    let text = v.problems()[0].to_string();
    assert!(
        text.contains(&format!(
            "image ID mismatch (expected sha256:{}, got {})",
            "0".repeat(64),
            sha(config)
        )) && text.ends_with("config of image a:b"),
        "{text}"
    );

    let name = format!("{}.json", sha(config).hex());
    let path = TarBuilder::default()
        .file(&name, config)
        .file("l", b"x")
        .file(
            "manifest.json",
            format!(r#"[{{"Config":"{name}","Layers":["l"]}}]"#).as_bytes(),
        )
        .write(dir.path(), "n.tar");
    let docker = DockerArchive::open(Arc::new(Archive::open(&path).unwrap())).unwrap();
    let err = docker.verify(None, &NoProgress).unwrap_err().to_string();
    assert!(
        err.contains("the config lists 0 diff IDs but manifest.json lists 1 layers"),
        "{err}"
    );

    let path = TarBuilder::default()
        .file("manifest.json", b"{}")
        .write(dir.path(), "m.tar");
    let err = DockerArchive::open(Arc::new(Archive::open(&path).unwrap()))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("m.tar/manifest.json: not a docker save manifest"),
        "{err}"
    );
    let path = TarBuilder::default()
        .file("index.json", b"{}")
        .write(dir.path(), "o.tar");
    let err = DockerArchive::open(Arc::new(Archive::open(&path).unwrap()))
        .unwrap_err()
        .to_string();
    assert!(err.contains("no manifest.json member"), "{err}");
}

#[test]
fn oci_archive_blobs_are_hashed_in_place_and_links_refused() {
    let layer = vec![9u8; 5000];
    let config = b"{}";
    let manifest = format!(
        r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{{"mediaType":"application/vnd.oci.empty.v1+json","digest":"{}","size":2}},"layers":[{{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"{}","size":5000}}]}}"#,
        sha(config),
        sha(&layer)
    );
    let index = format!(
        r#"{{"schemaVersion":2,"manifests":[{{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"{}","size":{},"annotations":{{"org.opencontainers.image.ref.name":"v1"}}}}]}}"#,
        sha(manifest.as_bytes()),
        manifest.len()
    );
    let blob = |d: Digest| format!("blobs/sha256/{}", d.hex());
    let build = |layer_bytes: &[u8], link: bool| {
        let b = TarBuilder::default()
            .file("oci-layout", br#"{"imageLayoutVersion":"1.0.0"}"#)
            .file("index.json", index.as_bytes())
            .file(&blob(sha(manifest.as_bytes())), manifest.as_bytes())
            .file(&blob(sha(config)), config);
        if link {
            b.file("elsewhere", layer_bytes)
                .symlink(&blob(sha(&layer)), "../../elsewhere")
        } else {
            b.file(&blob(sha(&layer)), layer_bytes)
        }
    };
    let dir = tempfile::tempdir().unwrap();
    let verify = |path: &Path| {
        let layout = Layout::open_archive(Arc::new(Archive::open(path).unwrap())).unwrap();
        layout
            .graph(Some("v1"))
            .unwrap()
            .verify(&NoProgress)
            .unwrap()
    };
    let v = verify(&build(&layer, false).write(dir.path(), "ok.tar"));
    assert!(v.is_verified(), "{:?}", v.problems());
    assert_eq!(v.blobs().len(), 3);

    let mut bad = layer.clone();
    bad[4999] ^= 1;
    let v = verify(&build(&bad, false).write(dir.path(), "bad.tar"));
    assert!(matches!(
        v.problems()[0].kind,
        ProblemKind::DigestMismatch { .. }
    ));

    let v = verify(&build(&layer, true).write(dir.path(), "link.tar"));
    assert_eq!(v.problems()[0].kind, ProblemKind::NotAFile);

    let path = TarBuilder::default()
        .file("index.json", b"{}")
        .write(dir.path(), "nolayout.tar");
    let err = Layout::open_archive(Arc::new(Archive::open(&path).unwrap())).unwrap_err();
    assert!(err.to_string().contains("not an OCI image layout"), "{err}");
}
