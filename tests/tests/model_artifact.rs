//! End to end: models as OCI artifacts against the real CNCF distribution 2.8 registry and oras
//! 1.2. `tollgate push model` output pulled by `oras pull` gives identical files; an
//! `oras push`ed artifact is pulled by `tollgate pull model` and its attached signature verifies
//! from the registry; `push --sign` + `verify model REF` pass with the right key and fail with
//! another; a blob altered in the registry's storage fails the pull with no file under its final
//! name; a manifest retitled or with layers swapped after signing fails `verify model REF`
//! naming the files; malicious titles are refused; a second push skips every blob. Missing
//! docker-registry or oras fails the test (scripts/install-registry, scripts/install-oras).

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use serde_json::{Value, json};
use tollgate_e2e::registry::Registry;
use tollgate_e2e::{Model, Run, Tollgate, bytes, run_oras};
use tollgate_registry::{BlockingClient, Digest, MediaType, Options, Reference};

/// `tollgate ARGS --plain-http`.
fn tollgate(args: &[&str]) -> Run {
    Tollgate::new(args).arg("--plain-http").run()
}

/// A small model: weights in a subdirectory, config, tokenizer, README, an empty file.
fn model() -> Model {
    let m = Model::new();
    m.random_file("model-00001-of-00002.safetensors", 300_000)
        .random_file("model-00002-of-00002.safetensors", 123_457)
        .file("config.json", br#"{"architectures": ["Demo"]}"#)
        .file("tokenizer/tokenizer.json", br#"{"vocab": {}}"#)
        .file("README.md", b"# demo\n")
        .file("empty.txt", b"");
    m
}

/// Every regular file under `dir`, by relative path.
fn files(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<String, Vec<u8>>) {
        for entry in fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(root, &path, out);
            } else {
                let rel = path
                    .strip_prefix(root)
                    .unwrap()
                    .to_string_lossy()
                    .into_owned();
                out.insert(rel, fs::read(&path).unwrap());
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(dir, dir, &mut out);
    out
}

/// An unencrypted key pair `<dir>/<name>.key` + `.pub`.
fn keypair(dir: &Path, name: &str) -> (PathBuf, PathBuf) {
    let prefix = dir.join(name);
    Tollgate::new(["keygen", "--no-password", "--output"])
        .arg(&prefix)
        .run()
        .assert_code(0);
    (prefix.with_extension("key"), prefix.with_extension("pub"))
}

fn client() -> BlockingClient {
    BlockingClient::new(Options::plain_http()).unwrap()
}

fn manifest_json(reg: &Registry, reference: &str) -> (Digest, Value) {
    let r: Reference = reg.reference(reference).parse().unwrap();
    let m = client().get_manifest(&r).unwrap();
    (m.digest, serde_json::from_slice(&m.bytes).unwrap())
}

/// Pushes `manifest` (JSON) to `tag` of `repo`.
fn put_manifest(reg: &Registry, repo: &str, tag: &str, manifest: &Value) -> Digest {
    let r: Reference = reg.reference(&format!("{repo}:{tag}")).parse().unwrap();
    let bytes = serde_json::to_vec(manifest).unwrap();
    let mt = MediaType::parse(MediaType::OCI_MANIFEST).unwrap();
    client().put_manifest(&r, &bytes, &mt).unwrap()
}

#[test]
fn pushed_model_is_modelpack_and_oras_pulls_identical_files() {
    let reg = Registry::start();
    let m = model();
    let r = reg.reference("models/demo:v1");
    let out = tollgate(&[
        "push",
        "model",
        m.path().to_str().unwrap(),
        &r,
        "--output",
        "json",
    ])
    .json();
    assert_eq!(out["files"], 6);
    assert_eq!(out["uploaded"], 6);

    let (digest, manifest) = manifest_json(&reg, "models/demo:v1");
    assert_eq!(out["digest"], digest.to_string());
    assert_eq!(
        manifest["artifactType"],
        "application/vnd.cncf.model.manifest.v1+json"
    );
    assert_eq!(
        manifest["config"]["mediaType"],
        "application/vnd.cncf.model.config.v1+json"
    );
    let types: BTreeMap<String, String> = manifest["layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            let title = l["annotations"]["org.opencontainers.image.title"]
                .as_str()
                .unwrap();
            assert_eq!(l["annotations"]["org.cncf.model.filepath"], title);
            (
                title.to_owned(),
                l["mediaType"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        types["model-00001-of-00002.safetensors"],
        "application/vnd.cncf.model.weight.v1.raw"
    );
    assert_eq!(
        types["tokenizer/tokenizer.json"],
        "application/vnd.cncf.model.weight.config.v1.raw"
    );
    assert_eq!(types["README.md"], "application/vnd.cncf.model.doc.v1.raw");

    let work = tempfile::tempdir().unwrap();
    run_oras(work.path(), &["pull", "--plain-http", "-o", "out", &r]);
    assert_eq!(files(&work.path().join("out")), files(m.path()));
}

#[test]
fn oras_pushed_artifact_pulls_and_its_attached_signature_verifies() {
    let reg = Registry::start();
    let work = tempfile::tempdir().unwrap();
    let src = work.path().join("src");
    fs::create_dir_all(src.join("sub")).unwrap();
    fs::write(src.join("weights.bin"), bytes(200_000, 7)).unwrap();
    fs::write(src.join("sub/config.json"), br#"{"a": 1}"#).unwrap();
    let r = reg.reference("models/oras:v1");
    run_oras(
        &src,
        &[
            "push",
            "--plain-http",
            "--artifact-type",
            "application/vnd.example.model",
            &r,
            "weights.bin",
            "sub/config.json",
        ],
    );

    let dir = work.path().join("pulled");
    let out = tollgate(&["pull", "model", &r, dir.to_str().unwrap()]);
    assert!(out.ok().starts_with("pulled "), "{}", out.stdout);
    assert_eq!(files(&dir), files(&src));

    // Sign the files, attach the signature to oras' artifact, verify it from the registry.
    let (key, public) = keypair(work.path(), "release");
    let sig = work.path().join("model.sig");
    Tollgate::new(["sign", "model"])
        .arg(&src)
        .arg("--key")
        .arg(&key)
        .arg("--signature")
        .arg(&sig)
        .run()
        .assert_code(0);
    let attached = tollgate(&["attach", &r, "--signature", sig.to_str().unwrap()]);
    assert!(
        attached.ok().starts_with("attached "),
        "{}",
        attached.stdout
    );
    let verified = tollgate(&["verify", "model", &r, "--key", public.to_str().unwrap()]);
    assert!(
        verified.ok().starts_with("verified: "),
        "{}",
        verified.stdout
    );
    // The pulled directory verifies against the same signature on disk.
    Tollgate::new(["verify", "model"])
        .arg(&dir)
        .arg("--signature")
        .arg(&sig)
        .arg("--key")
        .arg(&public)
        .run()
        .assert_code(0);
    // oras sees the signature as a Sigstore bundle referrer.
    let discovered: Value = serde_json::from_str(&run_oras(
        work.path(),
        &["discover", "--plain-http", "--format", "json", &r],
    ))
    .unwrap();
    // oras 1.2 lists them under "manifests" (later versions: "referrers").
    let referrers = discovered["manifests"]
        .as_array()
        .or_else(|| discovered["referrers"].as_array())
        .unwrap_or_else(|| panic!("{discovered}"));
    assert_eq!(referrers.len(), 1, "{discovered}");
    assert_eq!(
        referrers[0]["artifactType"],
        "application/vnd.dev.sigstore.bundle.v0.3+json"
    );
}

#[test]
fn signed_push_verifies_from_the_registry_only_with_the_right_key() {
    let reg = Registry::start();
    let m = model();
    let (key, public) = keypair(m.outside(), "release");
    let (_, other) = keypair(m.outside(), "other");
    let r = reg.reference("models/signed:v1");
    let out = tollgate(&[
        "push",
        "model",
        m.path().to_str().unwrap(),
        &r,
        "--sign",
        "--key",
        key.to_str().unwrap(),
        "--output",
        "json",
    ])
    .json();
    assert!(out["signature"].as_str().unwrap().starts_with("sha256:"));

    let ok = tollgate(&[
        "verify",
        "model",
        &r,
        "--key",
        public.to_str().unwrap(),
        "--output",
        "json",
    ])
    .json();
    assert_eq!(ok["verified"], true);
    assert_eq!(ok["root"], out["root"]);
    // The root is what `tollgate hash` (and model_signing) computes for the directory.
    let hashed = Tollgate::hash(m.path()).run();
    assert_eq!(hashed.first_line(), out["root"].as_str().unwrap());

    let wrong = tollgate(&["verify", "model", &r, "--key", other.to_str().unwrap()]);
    wrong.assert_code(1);
    assert!(
        wrong.stdout.contains("no attached signature verifies") && wrong.stdout.contains("key"),
        "{}",
        wrong.stdout
    );
    // An unsigned artifact has nothing to verify.
    let bare = reg.reference("models/bare:v1");
    tollgate(&["push", "model", m.path().to_str().unwrap(), &bare]).assert_code(0);
    let none = tollgate(&["verify", "model", &bare, "--key", public.to_str().unwrap()]);
    none.assert_code(1);
    assert!(
        none.stdout.contains("no signature is attached"),
        "{}",
        none.stdout
    );
}

#[test]
fn altered_blob_fails_the_pull_and_leaves_no_file() {
    let reg = Registry::start();
    let m = model();
    let r = reg.reference("models/tamper:v1");
    tollgate(&["push", "model", m.path().to_str().unwrap(), &r]).assert_code(0);
    let (_, manifest) = manifest_json(&reg, "models/tamper:v1");
    let layer = manifest["layers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| {
            l["annotations"]["org.opencontainers.image.title"] == "model-00002-of-00002.safetensors"
        })
        .unwrap();
    let hex = layer["digest"]
        .as_str()
        .unwrap()
        .strip_prefix("sha256:")
        .unwrap();
    let blob = reg.blob_file(hex);
    let mut data = fs::read(&blob).unwrap();
    data[1000] ^= 1;
    fs::write(&blob, data).unwrap();

    let out_dir = m.outside().join("pulled");
    let run = tollgate(&["pull", "model", &r, out_dir.to_str().unwrap()]);
    run.assert_code(2);
    assert!(run.stdout.is_empty());
    run.assert_stderr_mentions(&[hex]);
    // Nothing under any final name, and no staging left behind.
    let left: Vec<_> = fs::read_dir(&out_dir).unwrap().collect();
    assert!(left.is_empty(), "{left:?}");
}

#[test]
fn retitled_or_swapped_layers_fail_verification_naming_the_files() {
    let reg = Registry::start();
    let m = model();
    let (key, public) = keypair(m.outside(), "release");
    let r = reg.reference("models/swap:v1");
    tollgate(&[
        "push",
        "model",
        m.path().to_str().unwrap(),
        &r,
        "--sign",
        "--key",
        key.to_str().unwrap(),
    ])
    .assert_code(0);
    let sig = m.outside().join("model.sig");
    Tollgate::new(["sign", "model"])
        .arg(m.path())
        .arg("--key")
        .arg(&key)
        .arg("--signature")
        .arg(&sig)
        .run()
        .assert_code(0);
    let (_, original) = manifest_json(&reg, "models/swap:v1");
    let title = |l: &Value| {
        l["annotations"]["org.opencontainers.image.title"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let index = |t: &str| {
        original["layers"]
            .as_array()
            .unwrap()
            .iter()
            .position(|l| title(l) == t)
            .unwrap()
    };

    // Layer contents swapped between two files (titles kept).
    let mut swapped = original.clone();
    let (a, b) = (index("config.json"), index("README.md"));
    let da = swapped["layers"][a]["digest"].clone();
    let sa = swapped["layers"][a]["size"].clone();
    swapped["layers"][a]["digest"] = swapped["layers"][b]["digest"].clone();
    swapped["layers"][a]["size"] = swapped["layers"][b]["size"].clone();
    swapped["layers"][b]["digest"] = da;
    swapped["layers"][b]["size"] = sa;
    put_manifest(&reg, "models/swap", "swapped", &swapped);
    let swapped_ref = reg.reference("models/swap:swapped");
    tollgate(&["attach", &swapped_ref, "--signature", sig.to_str().unwrap()]).assert_code(0);
    let run = tollgate(&[
        "verify",
        "model",
        &swapped_ref,
        "--key",
        public.to_str().unwrap(),
    ]);
    run.assert_code(1);
    assert!(
        run.stdout.contains("do not match")
            && run.stdout.contains("config.json")
            && run.stdout.contains("README.md"),
        "{}",
        run.stdout
    );

    // One file renamed.
    let mut retitled = original.clone();
    let c = index("config.json");
    let ann = json!({"org.opencontainers.image.title": "config2.json", "org.cncf.model.filepath": "config2.json"});
    retitled["layers"][c]["annotations"] = ann;
    put_manifest(&reg, "models/swap", "retitled", &retitled);
    let retitled_ref = reg.reference("models/swap:retitled");
    tollgate(&[
        "attach",
        &retitled_ref,
        "--signature",
        sig.to_str().unwrap(),
    ])
    .assert_code(0);
    let run = tollgate(&[
        "verify",
        "model",
        &retitled_ref,
        "--key",
        public.to_str().unwrap(),
        "--output",
        "json",
    ]);
    run.assert_code(1);
    let v: Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(v["verified"], false);
    assert_eq!(v["differences"]["missing"], json!(["config.json"]));
    assert_eq!(v["differences"]["extra"], json!(["config2.json"]));

    // The original still verifies.
    tollgate(&["verify", "model", &r, "--key", public.to_str().unwrap()]).assert_code(0);
}

#[test]
fn malicious_titles_are_refused() {
    let reg = Registry::start();
    let c = client();
    let repo: Reference = reg.reference("models/evil:base").parse().unwrap();
    let data = b"owned".to_vec();
    let d = Digest::sha256(&data);
    c.push_blob(&repo, data, &d).unwrap();
    let empty = b"{}".to_vec();
    let ed = Digest::sha256(&empty);
    c.push_blob(&repo, empty, &ed).unwrap();
    let layer = |title: &str| {
        json!({
            "mediaType": "application/octet-stream", "digest": d.to_string(), "size": 5,
            "annotations": {"org.opencontainers.image.title": title},
        })
    };
    let work = tempfile::tempdir().unwrap();
    for (tag, layers, why) in [
        ("dotdot", vec![layer("../x")], "unsafe file name"),
        (
            "absolute",
            vec![layer("/tmp/tollgate-evil-x")],
            "unsafe file name",
        ),
        ("inner", vec![layer("a/../../x")], "unsafe file name"),
        ("dup", vec![layer("x"), layer("x")], "used twice"),
        (
            "untitled",
            vec![
                json!({"mediaType": "application/octet-stream", "digest": d.to_string(), "size": 5}),
            ],
            "no file name",
        ),
    ] {
        let manifest = json!({
            "schemaVersion": 2, "mediaType": MediaType::OCI_MANIFEST,
            "config": {"mediaType": MediaType::OCI_EMPTY, "digest": ed.to_string(), "size": 2},
            "layers": layers,
        });
        put_manifest(&reg, "models/evil", tag, &manifest);
        let dir = work.path().join(tag).join("out");
        let r = reg.reference(&format!("models/evil:{tag}"));
        tollgate(&["pull", "model", &r, dir.to_str().unwrap()]).assert_input_error(&[why]);
        assert!(
            !dir.exists() || fs::read_dir(&dir).unwrap().next().is_none(),
            "{tag}"
        );
        assert!(!work.path().join(tag).join("x").exists());
    }
    assert!(!Path::new("/tmp/tollgate-evil-x").exists());
}

#[test]
fn second_push_skips_every_blob_and_pull_refuses_to_overwrite() {
    let reg = Registry::start();
    let m = model();
    let r = reg.reference("models/again:v1");
    let first = tollgate(&[
        "push",
        "model",
        m.path().to_str().unwrap(),
        &r,
        "--output",
        "json",
    ])
    .json();
    let second = tollgate(&[
        "push",
        "model",
        m.path().to_str().unwrap(),
        &r,
        "--output",
        "json",
    ])
    .json();
    assert_eq!(first["uploaded"], 6);
    assert_eq!(second["uploaded"], 0);
    assert_eq!(second["skipped"], 6);
    assert_eq!(first["digest"], second["digest"]);

    let dir = m.outside().join("pulled");
    tollgate(&["pull", "model", &r, dir.to_str().unwrap()]).assert_code(0);
    fs::write(dir.join("README.md"), b"local edit").unwrap();
    tollgate(&["pull", "model", &r, dir.to_str().unwrap()])
        .assert_input_error(&["already exists", "--force"]);
    assert_eq!(fs::read(dir.join("README.md")).unwrap(), b"local edit");
    tollgate(&["pull", "model", &r, dir.to_str().unwrap(), "--force"]).assert_code(0);
    assert_eq!(files(&dir), files(m.path()));
}

#[test]
fn verify_model_tells_local_paths_from_references() {
    let m = model();
    let (_, public) = keypair(m.outside(), "k");
    // An existing path without --signature is never taken for a registry reference.
    Tollgate::new(["verify", "model"])
        .arg(m.path())
        .arg("--key")
        .arg(&public)
        .run()
        .assert_input_error(&["local path", "--signature"]);
}

#[test]
fn a_sharded_signature_cannot_be_checked_by_layer_digest() {
    let reg = Registry::start();
    let m = model();
    let (key, public) = keypair(m.outside(), "release");
    let r = reg.reference("models/shards:v1");
    tollgate(&["push", "model", m.path().to_str().unwrap(), &r]).assert_code(0);
    let sig = m.outside().join("shards.sig");
    Tollgate::new(["sign", "model"])
        .arg(m.path())
        .args(["--shards", "--key"])
        .arg(&key)
        .arg("--signature")
        .arg(&sig)
        .run()
        .assert_code(0);
    tollgate(&["attach", &r, "--signature", sig.to_str().unwrap()]).assert_code(0);
    tollgate(&["verify", "model", &r, "--key", public.to_str().unwrap()]).assert_input_error(&[
        "shards",
        "pull the model",
        "--signature",
    ]);
}
