//! End to end: image archives written by the real skopeo 1.18 (`oci-archive:`,
//! `docker-archive:`) and by GNU tar in the layouts of older and newer `docker save` are
//! verified by `tollgate verify layout` and hashed by `tollgate hash` to the digests skopeo
//! reports; tampering with a layer or config, links used as blobs, unsafe member names and
//! compressed archives are named. A missing skopeo fails the test; `scripts/install-skopeo`
//! installs it.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{Value, json};
use tollgate_e2e::{Tollgate, bytes, require_tool, skopeo};

fn sha256_hex(data: &[u8]) -> String {
    use std::io::Write;
    let mut child = Command::new("sha256sum")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(data).unwrap();
    let out = child.wait_with_output().unwrap();
    String::from_utf8(out.stdout).unwrap()[..64].to_owned()
}

/// An OCI image layout at `<tmp>/img` tagged `v1`: two uncompressed layers (random bytes, as
/// skopeo does not look inside) and a config whose diff IDs name them.
struct Image {
    tmp: tempfile::TempDir,
    layers: Vec<Vec<u8>>,
    manifest_digest: String,
}

impl Image {
    fn new() -> Self {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("img");
        fs::create_dir_all(dir.join("blobs/sha256")).unwrap();
        fs::write(dir.join("oci-layout"), br#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
        let put = |data: &[u8]| {
            let hex = sha256_hex(data);
            fs::write(dir.join("blobs/sha256").join(&hex), data).unwrap();
            (format!("sha256:{hex}"), data.len())
        };
        let layers = vec![bytes(300_000, 1), bytes(5_000, 2)];
        let descs: Vec<(String, usize)> = layers.iter().map(|l| put(l)).collect();
        let config = json!({
            "architecture": "amd64",
            "os": "linux",
            "config": {},
            "rootfs": {"type": "layers", "diff_ids": descs.iter().map(|d| &d.0).collect::<Vec<_>>()},
        });
        let (cd, cs) = put(config.to_string().as_bytes());
        let manifest = json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cd, "size": cs},
            "layers": descs.iter().map(|(d, s)| json!({
                "mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": d, "size": s
            })).collect::<Vec<_>>(),
        });
        let (md, ms) = put(manifest.to_string().as_bytes());
        let index = json!({"schemaVersion": 2, "manifests": [{
            "mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": md, "size": ms,
            "annotations": {"org.opencontainers.image.ref.name": "v1"}
        }]});
        fs::write(dir.join("index.json"), index.to_string()).unwrap();
        Self {
            tmp,
            layers,
            manifest_digest: md,
        }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.tmp.path().join(name)
    }

    fn oci(&self) -> String {
        format!("oci:{}:v1", self.path("img").display())
    }

    /// `skopeo copy` of the layout to `dest` (an `oci-archive:`/`docker-archive:` reference).
    fn copy_to(&self, dest: &str) {
        let policy = self.path("policy.json");
        fs::write(
            &policy,
            r#"{"default":[{"type":"insecureAcceptAnything"}]}"#,
        )
        .unwrap();
        skopeo(&[
            "--policy",
            policy.to_str().unwrap(),
            "copy",
            "--quiet",
            &self.oci(),
            dest,
        ]);
    }
}

/// Flips one byte of `needle`'s first occurrence in `file` (a member's bytes inside a tar).
fn flip_inside(file: &Path, needle: &[u8], at: usize) {
    let mut data = fs::read(file).unwrap();
    let pos = data
        .windows(needle.len())
        .position(|w| w == needle)
        .expect("member bytes not found in the archive");
    data[pos + at] ^= 0xff;
    fs::write(file, data).unwrap();
}

fn skopeo_inspect(args: &[&str]) -> Value {
    serde_json::from_str(&skopeo(&[&["inspect"], args].concat())).unwrap()
}

#[test]
fn skopeo_oci_archive_verifies_and_hashes_to_skopeos_digest() {
    let img = Image::new();
    let tar = img.path("x.tar");
    let archive = format!("oci-archive:{}", tar.display());
    img.copy_to(&format!("{archive}:v1"));

    let out = Tollgate::new(["verify", "layout", &archive]).run();
    assert!(
        out.ok().starts_with(&format!(
            "verified: {archive}: 4 blobs (1 manifests or indexes), "
        )),
        "{}",
        out.stdout
    );
    // skopeo compresses the layers on the way, so the manifest is its own: ask it.
    let raw = skopeo(&["inspect", "--raw", &format!("{archive}:v1")]);
    let digest = format!("sha256:{}", sha256_hex(raw.as_bytes()));
    assert_ne!(digest, img.manifest_digest);
    let hash = Tollgate::new(["hash", &format!("{archive}:v1")]).run();
    let text = hash.ok();
    assert_eq!(text.lines().next(), Some(digest.as_str()), "{text}");
    assert_eq!(text.lines().count(), 5, "{text}");
    let json = Tollgate::new(["hash", &format!("{archive}:v1"), "--output", "json"]).run();
    let json = json.json();
    assert_eq!(json["reference"], format!("{archive}:v1"));
    assert_eq!(json["blobs"].as_array().unwrap().len(), 4);

    // A byte flipped inside the first layer's member: named, exit 1; hash prints nothing.
    let manifest: Value = serde_json::from_str(&raw).unwrap();
    let hex = manifest["layers"][0]["digest"].as_str().unwrap()[7..].to_owned();
    let member = Command::new("tar")
        .arg("-xOf")
        .arg(&tar)
        .arg(format!("blobs/sha256/{hex}"))
        .output()
        .unwrap()
        .stdout;
    assert_eq!(sha256_hex(&member), hex);
    flip_inside(&tar, &member[1000..1064], 7);
    let run = Tollgate::new(["verify", "layout", &format!("{archive}:v1")]).run();
    run.assert_code(1);
    assert!(
        run.stdout.contains(&format!(
            "blobs/sha256/{hex}: digest mismatch (expected sha256:{hex}, got sha256:"
        )),
        "{}",
        run.stdout
    );
    Tollgate::new(["hash", &format!("{archive}:v1")])
        .run()
        .assert_input_error(&["1 bad blob(s), no digest printed", &hex]);
}

#[test]
fn skopeo_docker_archive_layers_match_the_diff_ids_skopeo_reports() {
    let img = Image::new();
    let tar = img.path("d.tar");
    let archive = format!("docker-archive:{}", tar.display());
    img.copy_to(&format!("{archive}:example.com/demo:v1"));

    let run = Tollgate::new(["verify", "layout", &archive]).run();
    assert!(
        run.ok()
            .starts_with(&format!("verified: {archive}: 1 image(s), 2 layers, ")),
        "{}",
        run.stdout
    );
    // skopeo reports the layers (uncompressed: their digests are the diff IDs) and config.
    let inspect = skopeo_inspect(&[&archive]);
    let config = skopeo(&["inspect", "--config", "--raw", &archive]);
    let image_id = format!("sha256:{}", sha256_hex(config.as_bytes()));
    for reference in [
        format!("{archive}:example.com/demo:v1"),
        format!("{archive}:@0"),
        archive.clone(),
    ] {
        let hash = Tollgate::new(["hash", &reference]).run();
        let lines: Vec<&str> = hash.ok().lines().collect();
        assert_eq!(lines[0], image_id, "{}", hash.stdout);
        let layers: Vec<&str> = lines[2..]
            .iter()
            .map(|l| l.split("  ").next().unwrap())
            .collect();
        let want: Vec<&str> = inspect["Layers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
        assert_eq!(layers, want);
    }
    let json = Tollgate::new(["hash", &archive, "--output", "json"]).run();
    let json = json.json();
    assert_eq!(json["imageId"], image_id);
    assert_eq!(json["repoTags"], json!(["example.com/demo:v1"]));
    Tollgate::new(["hash", &format!("{archive}:example.com/demo:v2")])
        .run()
        .assert_input_error(&[
            "image \"example.com/demo:v2\" not found",
            "example.com/demo:v1",
        ]);

    // Tampered layer: a diff ID mismatch naming the member and the image.
    flip_inside(&tar, &img.layers[0][..64], 3);
    let hex = sha256_hex(&img.layers[0]);
    let run = Tollgate::new(["verify", "layout", &archive]).run();
    run.assert_code(1);
    assert!(
        run.stdout.contains(&format!(
            "{hex}.tar: diff ID mismatch (expected sha256:{hex}, got sha256:"
        )) && run.stdout.contains("; layer of image example.com/demo:v1"),
        "{}",
        run.stdout
    );
    let json = Tollgate::new(["verify", "layout", &archive, "--output", "json"]).run();
    json.assert_code(1);
    let report: Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(report["verified"], false);
    assert_eq!(report["problems"][0]["problem"], "digest mismatch");
}

#[test]
fn skopeo_reads_the_older_docker_save_layout_tollgate_verifies() {
    // docker < 25: <v1 id>/layer.tar (uncompressed), <image id>.json, manifest.json.
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("save");
    let layers = [bytes(200_000, 5), bytes(3_000, 6)];
    let diff_ids: Vec<String> = layers
        .iter()
        .map(|l| format!("sha256:{}", sha256_hex(l)))
        .collect();
    let config = json!({"architecture": "amd64", "os": "linux", "config": {},
        "rootfs": {"type": "layers", "diff_ids": diff_ids}})
    .to_string();
    let id = sha256_hex(config.as_bytes());
    let mut names = Vec::new();
    for (i, layer) in layers.iter().enumerate() {
        let v1 = format!("{i}{}", &"0".repeat(63));
        fs::create_dir_all(root.join(&v1)).unwrap();
        fs::write(root.join(&v1).join("layer.tar"), layer).unwrap();
        fs::write(root.join(&v1).join("VERSION"), "1.0").unwrap();
        names.push(format!("{v1}/layer.tar"));
    }
    fs::write(root.join(format!("{id}.json")), &config).unwrap();
    let manifest =
        json!([{"Config": format!("{id}.json"), "RepoTags": ["busybox:old"], "Layers": names}]);
    fs::write(root.join("manifest.json"), manifest.to_string()).unwrap();
    let tar = tmp.path().join("old.tar");
    tar_dir(&root, &tar, &["."]);
    let archive = format!("docker-archive:{}", tar.display());

    let inspect = skopeo_inspect(&[&archive]);
    assert_eq!(
        inspect["Layers"],
        json!(diff_ids),
        "skopeo reads the fixture"
    );
    let hash = Tollgate::new(["hash", &format!("{archive}:docker.io/library/busybox:old")]).run();
    assert_eq!(
        hash.ok().lines().next(),
        Some(format!("sha256:{id}").as_str())
    );

    // A config changed in place (same size): it no longer hashes to its name.
    flip_inside(&tar, config.as_bytes(), 0);
    let run = Tollgate::new(["verify", "layout", &archive]).run();
    run.assert_code(1);
    assert!(
        run.stdout.contains(&format!(
            "{id}.json: image ID mismatch (expected sha256:{id}, got sha256:"
        )),
        "{}",
        run.stdout
    );
}

/// `tar -cf TAR -C DIR NAMES...` with GNU tar.
fn tar_dir(dir: &Path, tar: &Path, names: &[&str]) {
    require_tool("tar", "tar");
    let out = Command::new("tar")
        .arg("-cf")
        .arg(tar)
        .arg("-C")
        .arg(dir)
        .args(names)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn docker_25_archives_are_checked_in_both_views() {
    // docker >= 25: an OCI layout (oci-layout, index.json, blobs) plus manifest.json naming
    // the same blobs. Made from the OCI layout skopeo reads.
    let img = Image::new();
    let dir = img.path("img");
    let index: Value = serde_json::from_slice(&fs::read(dir.join("index.json")).unwrap()).unwrap();
    let md = index["manifests"][0]["digest"].as_str().unwrap().to_owned();
    let manifest: Value =
        serde_json::from_slice(&fs::read(dir.join("blobs/sha256").join(&md[7..])).unwrap())
            .unwrap();
    let blob = |d: &Value| format!("blobs/sha256/{}", &d.as_str().unwrap()[7..]);
    let items = json!([{
        "Config": blob(&manifest["config"]["digest"]),
        "RepoTags": ["example.com/new:v1"],
        "Layers": manifest["layers"].as_array().unwrap().iter().map(|l| blob(&l["digest"])).collect::<Vec<_>>(),
    }]);
    fs::write(dir.join("manifest.json"), items.to_string()).unwrap();
    let tar = img.path("new.tar");
    tar_dir(
        &dir,
        &tar,
        &["oci-layout", "index.json", "manifest.json", "blobs"],
    );
    let docker = format!("docker-archive:{}", tar.display());
    let oci = format!("oci-archive:{}", tar.display());
    skopeo_inspect(&[&docker]);
    skopeo_inspect(&[&format!("{oci}:v1")]);

    let run = Tollgate::new(["verify", "layout", &docker]).run();
    assert!(
        run.ok().contains(
            "every image ID and diff ID matches; OCI layout side: 4 blobs (1 manifests or indexes)"
        ),
        "{}",
        run.stdout
    );
    Tollgate::new(["verify", "layout", &oci]).run().ok();

    flip_inside(&tar, &img.layers[1][..64], 1);
    let hex = sha256_hex(&img.layers[1]);
    let run = Tollgate::new(["verify", "layout", &docker]).run();
    run.assert_code(1);
    assert!(run.stdout.contains("2 bad blob(s)"), "{}", run.stdout);
    assert!(
        run.stdout
            .contains(&format!("blobs/sha256/{hex}: digest mismatch"))
            && run
                .stdout
                .contains(&format!("blobs/sha256/{hex}: diff ID mismatch")),
        "{}",
        run.stdout
    );
}

#[test]
fn links_unsafe_names_and_compressed_archives_are_refused() {
    let img = Image::new();
    let dir = img.path("img");
    // A layer blob replaced by a symlink to a file elsewhere in the archive.
    let hex = sha256_hex(&img.layers[1]);
    fs::rename(dir.join("blobs/sha256").join(&hex), dir.join("elsewhere")).unwrap();
    std::os::unix::fs::symlink("../../elsewhere", dir.join("blobs/sha256").join(&hex)).unwrap();
    let tar = img.path("link.tar");
    tar_dir(&dir, &tar, &["."]);
    let run = Tollgate::new([
        "verify",
        "layout",
        &format!("oci-archive:{}", tar.display()),
    ])
    .run();
    run.assert_code(1);
    assert!(
        run.stdout.contains(&format!(
            "blobs/sha256/{hex}: not a regular file; layer of sha256:"
        )),
        "{}",
        run.stdout
    );

    // Absolute member names (tar -P keeps them) and duplicates refuse the whole archive.
    let abs = img.path("abs.tar");
    let out = Command::new("tar")
        .arg("-cPf")
        .arg(&abs)
        .arg(dir.join("index.json"))
        .output()
        .unwrap();
    assert!(out.status.success());
    Tollgate::new([
        "verify",
        "layout",
        &format!("oci-archive:{}", abs.display()),
    ])
    .run()
    .assert_input_error(&["is absolute; refusing the archive"]);
    let dup = img.path("dup.tar");
    tar_dir(&dir, &dup, &["index.json", "oci-layout", "index.json"]);
    Tollgate::new([
        "verify",
        "layout",
        &format!("docker-archive:{}", dup.display()),
    ])
    .run()
    .assert_input_error(&["member \"index.json\" appears twice"]);

    // gzip: a clear "decompress it first".
    let out = Command::new("gzip").arg("-k").arg(&tar).output().unwrap();
    assert!(out.status.success());
    let gz = format!("oci-archive:{}.gz", tar.display());
    Tollgate::new(["hash", &gz])
        .run()
        .assert_input_error(&["is gzip-compressed", "decompress it first"]);
    // Not a tar at all; a directory; bad references.
    Tollgate::new([
        "verify",
        "layout",
        &format!("oci-archive:{}", dir.join("index.json").display()),
    ])
    .run()
    .assert_input_error(&["not a valid tar archive at byte 0"]);
    Tollgate::new([
        "verify",
        "layout",
        &format!("docker-archive:{}", dir.display()),
    ])
    .run()
    .assert_input_error(&["not a regular file"]);
    Tollgate::new(["verify", "layout", "docker-archive:x.tar:@one"])
        .run()
        .assert_input_error(&["not an archive reference"]);
}
