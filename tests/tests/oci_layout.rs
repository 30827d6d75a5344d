//! End to end: OCI image layouts written by the real oras 1.2 (Debian trixie package) are
//! accepted by `tollgate verify layout` and resolved by `tollgate hash oci:DIR:TAG` to the
//! digest oras reports; tampering with a blob makes both fail naming it. A missing oras fails
//! the test; `scripts/install-oras` installs it (scripts/install-test-deps should call it).

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;
use tollgate_e2e::{Tollgate, run_oras};

/// A layout pushed by oras at `<tmp>/layout` with tag `v1`: two files as layers.
fn pushed() -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    fs::write(tmp.path().join("weights.bin"), vec![7u8; 100_000]).unwrap();
    fs::write(tmp.path().join("config.json"), br#"{"layers": 2}"#).unwrap();
    run_oras(
        tmp.path(),
        &[
            "push",
            "--oci-layout",
            "layout:v1",
            "--artifact-type",
            "application/vnd.example.model",
            "weights.bin:application/vnd.example.weights",
            "config.json",
        ],
    );
    let layout = tmp.path().join("layout");
    (tmp, layout)
}

fn oci(layout: &Path, tag: &str) -> String {
    format!("oci:{}{tag}", layout.display())
}

fn sha256_hex(path: &Path) -> String {
    let out = Command::new("sha256sum").arg(path).output().unwrap();
    assert!(out.status.success());
    String::from_utf8(out.stdout).unwrap()[..64].to_owned()
}

fn blob_of(layout: &Path, digest: &str) -> PathBuf {
    layout
        .join("blobs/sha256")
        .join(digest.strip_prefix("sha256:").unwrap())
}

#[test]
fn oras_layout_verifies_and_hash_resolves_the_tag() {
    let (tmp, layout) = pushed();
    let run = Tollgate::new(["verify", "layout", &oci(&layout, "")]).run();
    let out = run.ok();
    assert!(out.starts_with("verified: oci:"), "{out}");
    assert!(out.contains("4 blobs (1 manifests or indexes)"), "{out}");
    assert_eq!(out.lines().count(), 1, "{out}");

    let descriptor: Value = serde_json::from_str(&run_oras(
        tmp.path(),
        &[
            "manifest",
            "fetch",
            "--oci-layout",
            "layout:v1",
            "--descriptor",
        ],
    ))
    .unwrap();
    let digest = descriptor["digest"].as_str().unwrap();
    assert_eq!(
        digest,
        format!("sha256:{}", sha256_hex(&blob_of(&layout, digest)))
    );

    let text = Tollgate::new(["hash", &oci(&layout, ":v1")]).run();
    let text = text.ok();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], digest, "{text}");
    assert_eq!(lines.len(), 5, "manifest digest, then 4 blobs:\n{text}");
    assert_eq!(
        lines[1],
        format!(
            "{digest}  application/vnd.oci.image.manifest.v1+json  {}",
            descriptor["size"]
        )
    );
    assert!(
        lines
            .iter()
            .any(|l| l.ends_with("  application/vnd.example.weights  100000")),
        "{text}"
    );

    let json = Tollgate::new(["hash", &oci(&layout, ":v1"), "--output", "json"]).run();
    let json: Value = serde_json::from_str(json.ok()).unwrap();
    assert_eq!(json["digest"], digest);
    assert_eq!(
        json["mediaType"],
        "application/vnd.oci.image.manifest.v1+json"
    );
    assert_eq!(json["blobs"].as_array().unwrap().len(), 4);
    // Without a tag the only manifest is the one.
    let untagged = Tollgate::new(["hash", &oci(&layout, "")]).run();
    assert_eq!(untagged.ok().lines().next(), Some(digest));
}

#[test]
fn an_oras_referrer_is_part_of_the_tagged_graph() {
    let (tmp, layout) = pushed();
    fs::write(tmp.path().join("sig.txt"), b"a signature").unwrap();
    let out = run_oras(
        tmp.path(),
        &[
            "attach",
            "--oci-layout",
            "layout:v1",
            "--artifact-type",
            "application/vnd.example.sig",
            "sig.txt",
        ],
    );
    assert!(out.contains("Attached"), "{out}");
    let hash = Tollgate::new(["hash", &oci(&layout, ":v1")]).run();
    let text = hash.ok();
    // manifest, config, 2 layers, referrer manifest, its layer (the empty config is shared).
    assert_eq!(text.lines().count(), 7, "{text}");
    let verify = Tollgate::new(["verify", "layout", &oci(&layout, ""), "--output", "json"]).run();
    let report: Value = serde_json::from_str(verify.ok()).unwrap();
    assert_eq!(report["verified"], true);
    assert_eq!(report["manifests"], 2);
    // Two manifests in index.json: `oci:DIR` alone no longer names one.
    Tollgate::new(["hash", &oci(&layout, "")])
        .run()
        .assert_input_error(&["lists 2 manifests", "oci:DIR:TAG", "available tags: v1"]);
}

#[test]
fn tampering_with_an_oras_blob_is_named() {
    let (tmp, layout) = pushed();
    let weights = format!("sha256:{}", sha256_hex(&tmp.path().join("weights.bin")));
    let path = blob_of(&layout, &weights);
    let mut bytes = fs::read(&path).unwrap();
    bytes[50_000] ^= 0xff;
    fs::write(&path, &bytes).unwrap();

    let run = Tollgate::new(["verify", "layout", &oci(&layout, ":v1")]).run();
    run.assert_code(1);
    let hex = weights.strip_prefix("sha256:").unwrap();
    let line = format!("blobs/sha256/{hex}: digest mismatch (expected {weights}, got sha256:");
    assert!(run.stdout.contains(&line), "{}", run.stdout);
    assert!(
        run.stdout.starts_with("verification failed: "),
        "{}",
        run.stdout
    );
    Tollgate::new(["hash", &oci(&layout, ":v1")])
        .run()
        .assert_input_error(&[&line]);

    // Truncated: a size mismatch, caught before hashing.
    fs::write(&path, &bytes[..10]).unwrap();
    let run = Tollgate::new(["verify", "layout", &oci(&layout, "")]).run();
    run.assert_code(1);
    assert!(
        run.stdout.contains(&format!(
            "{hex}: size mismatch (expected 100000 bytes, got 10)"
        )),
        "{}",
        run.stdout
    );
}

#[test]
fn malformed_layouts_are_input_errors() {
    let (_tmp, layout) = pushed();
    Tollgate::new(["verify", "layout", &oci(&layout, ":nope")])
        .run()
        .assert_input_error(&["tag \"nope\" not found", "available tags: v1"]);
    Tollgate::new(["verify", "layout", "not-a-ref"])
        .run()
        .assert_input_error(&["not an OCI layout reference"]);
    fs::write(layout.join("index.json"), b"{\"schemaVersion\": 2").unwrap();
    Tollgate::new(["verify", "layout", &oci(&layout, "")])
        .run()
        .assert_input_error(&["index.json", "not a valid manifest or index"]);
    fs::remove_file(layout.join("oci-layout")).unwrap();
    Tollgate::new(["hash", &oci(&layout, ":v1")])
        .run()
        .assert_input_error(&["not an OCI image layout"]);
}
