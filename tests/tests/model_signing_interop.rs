//! Differential tests: `tollgate hash` against the real model_signing 1.1.1 Python API on
//! generated models, and against the signatures model_signing made of the bundled model.
//!
//! For every model and hashing configuration, tollgate's root digest, model name,
//! serialization and every resource (name, algorithm, digest, in order) must equal what
//! model_signing computes. Needs `$TOLLGATE_MODEL_SIGNING_PYTHON` (set by `scripts/test`).

use std::fs;
use std::path::Path;

use serde_json::Value;
use tollgate_e2e::{HashSpec, Model, ModelSigning, Tollgate, bare_root, resources, signed_model};

/// model_signing's default shard size.
const DEFAULT_SHARD: u64 = 1_000_000_000;

/// The configurations both tools support, with a small shard size that splits test files.
fn all_specs(shard: u64) -> Vec<HashSpec> {
    vec![
        HashSpec::files("sha256"),
        HashSpec::shards("sha256", shard),
        HashSpec::shards("sha256", DEFAULT_SHARD),
        HashSpec::files("blake2b"),
        HashSpec::shards("blake2b", shard),
        HashSpec::files("blake3"),
    ]
}

/// Asserts tollgate and model_signing agree on `model` for every spec.
fn assert_same_as_model_signing(model: &Path, specs: &[HashSpec]) {
    let expected = ModelSigning::manifests(model, specs);
    for (spec, ms) in specs.iter().zip(&expected) {
        assert!(
            ms.get("error").is_none(),
            "model_signing refused {} with [{spec}]: {}",
            model.display(),
            ms["error"]
        );
        let ours = spec.tollgate(model).run().json();
        let context = format!("model {} with [{spec}]", model.display());
        assert_eq!(
            resources(&ours),
            resources(ms),
            "resources differ from model_signing's for {context}"
        );
        assert_eq!(
            bare_root(ours["root"].as_str().unwrap_or_default()),
            ms["root"].as_str().unwrap(),
            "root digest differs from model_signing's for {context}"
        );
        assert!(
            ours["root"].as_str().unwrap().starts_with("sha256:"),
            "{context}: root {} lacks the sha256: prefix",
            ours["root"]
        );
        assert_eq!(
            ours["model_name"], ms["model_name"],
            "model name, {context}"
        );
        assert_same_serialization(&ours["serialization"], &ms["serialization"], &context);
    }
}

/// Same serialization parameters (ignore paths as a set; model_signing keeps a set).
fn assert_same_serialization(ours: &Value, theirs: &Value, context: &str) {
    for key in ["method", "hash_type", "allow_symlinks", "shard_size"] {
        assert_eq!(
            ours.get(key),
            theirs.get(key),
            "serialization.{key} differs, {context}: ours {ours}, model_signing {theirs}"
        );
    }
    let set = |v: &Value| {
        let mut paths: Vec<String> = v
            .get("ignore_paths")
            .and_then(Value::as_array)
            .map(|a| a.iter().map(|p| p.as_str().unwrap().to_owned()).collect())
            .unwrap_or_default();
        paths.sort();
        paths
    };
    assert_eq!(
        set(ours),
        set(theirs),
        "serialization.ignore_paths differ, {context}"
    );
}

#[test]
fn file_sizes_around_shard_boundaries() {
    let m = Model::new();
    for size in [0, 1, 63, 64, 65, 127, 128, 129, 1000] {
        m.random_file(format!("size-{size}.bin"), size);
    }
    m.file("empty-too", b"");
    assert_same_as_model_signing(m.path(), &all_specs(64));
}

#[test]
fn default_shard_size_with_small_files() {
    let m = Model::new();
    m.random_file("weights.bin", 5000)
        .random_file("config.json", 12)
        .file("empty.txt", b"");
    assert_same_as_model_signing(
        m.path(),
        &[
            HashSpec::shards("sha256", DEFAULT_SHARD),
            HashSpec::shards("blake2b", DEFAULT_SHARD),
        ],
    );
    // `--shards` means exactly model_signing's default shard size.
    let with_flag = Tollgate::hash(m.path())
        .args(["--shards", "--output", "json"])
        .run()
        .json();
    let explicit = HashSpec::shards("sha256", DEFAULT_SHARD)
        .tollgate(m.path())
        .run()
        .json();
    assert_eq!(with_flag, explicit);
}

/// Files larger than the memory-map threshold (1 MiB) and BLAKE3's parallel threshold, with a
/// shard size that is not a power of two, so shard ends fall inside mapped segments.
#[test]
fn multi_megabyte_files() {
    let m = Model::new();
    m.random_file("big.bin", 3 * (1 << 20) + 7)
        .random_file("exactly-1MiB.bin", 1 << 20)
        .random_file("just-under.bin", (1 << 20) - 1)
        .random_file("small.txt", 10);
    assert_same_as_model_signing(
        m.path(),
        &[
            HashSpec::files("sha256"),
            HashSpec::shards("sha256", 1_000_000),
            HashSpec::shards("blake2b", 1_048_577),
            HashSpec::files("blake3"),
        ],
    );
}

#[test]
fn names_with_spaces_unicode_and_punctuation() {
    let m = Model::new();
    for name in [
        "a b.txt",
        "ü/ñ.bin",
        "日本語/モデル.safetensors",
        "emoji-🦀.json",
        "quote\"and\\backslash",
        "tab\there",
        "new\nline",
        "-leading-dash",
        "#hash %41 &amp;",
        "trailing space ",
        "é",
        "e\u{301}", // the same letter, decomposed: a different name
    ] {
        m.random_file(name, name.len() * 7);
    }
    assert_same_as_model_signing(m.path(), &all_specs(16));
}

/// Canonical order compares path components, then numeric shard offsets: `x/…` sorts before
/// `x.json`, `w:960:…` before `w:1024:…`. Plain string sorting would disagree on both.
#[test]
fn resource_order_matches_model_signing() {
    let m = Model::new();
    m.random_file("x.json", 10)
        .random_file("x/a", 11)
        .random_file("x/b/c", 12)
        .random_file("x-y", 13)
        .random_file("x.json.bak", 14)
        .random_file("tokenizer.json", 15)
        .random_file("tokenizer/vocab.txt", 16)
        .random_file("B", 17)
        .random_file("a/b.c", 19)
        .random_file("a.b/c", 19)
        .random_file("z", 20)
        .random_file("é", 21)
        .random_file("w.bin", 1100);
    assert_same_as_model_signing(m.path(), &all_specs(64));
}

#[test]
fn nested_directories_dotfiles_and_git_paths() {
    let m = Model::new();
    m.random_file("deep/a/b/c/d/e/f/leaf.bin", 100)
        .random_file(".hidden", 5)
        .random_file("sub/.gitignore", 6)
        .random_file("sub/.git/config", 7)
        .random_file(".git/HEAD", 8)
        .random_file(".git/objects/ab/cdef", 9)
        .random_file(".gitattributes", 10)
        .random_file(".github/workflows/ci.yml", 11)
        .random_file(".gitignore", 12)
        .random_file(".gitmodules", 13) // not a default ignore
        .dir("empty/dir/chain")
        .random_file("README.md", 200);
    assert_same_as_model_signing(m.path(), &all_specs(64));
    assert_same_as_model_signing(
        m.path(),
        &[
            HashSpec::files("sha256").no_ignore_git_paths(),
            HashSpec::shards("sha256", 64).no_ignore_git_paths(),
        ],
    );
}

#[test]
fn ignored_paths() {
    let m = Model::new();
    m.random_file("keep.bin", 100)
        .random_file("a b.txt", 10)
        .random_file("logs/run1.txt", 10)
        .random_file("logs/run2.txt", 10)
        .random_file("logs-old/x", 10) // shares a prefix with `logs`, not a component
        .random_file("sub/dir/file", 10)
        .random_file("sub/dir2/file", 10)
        .random_file("optimizer.pt", 70);
    let specs: Vec<HashSpec> = [HashSpec::files("sha256"), HashSpec::shards("sha256", 64)]
        .into_iter()
        .flat_map(|s| {
            [
                s.clone().ignore("logs").ignore("a b.txt"),
                s.clone().ignore("sub/dir").ignore("optimizer.pt"),
                s.ignore("does-not-exist").no_ignore_git_paths(),
            ]
        })
        .collect();
    assert_same_as_model_signing(m.path(), &specs);
}

/// A model that is one file: its resource is named `.` (model_signing 1.1.1).
#[test]
fn single_file_model() {
    let m = Model::new();
    m.random_file("model.gguf", 200).file("empty.bin", b"");
    assert_same_as_model_signing(&m.join("model.gguf"), &all_specs(64));
    assert_same_as_model_signing(
        &m.join("empty.bin"),
        &[
            HashSpec::files("sha256"),
            HashSpec::shards("sha256", 64),
            HashSpec::files("blake3"),
        ],
    );
}

/// An empty model has no resources and the root is SHA-256 of nothing.
#[test]
fn empty_directory_model() {
    let m = Model::new();
    m.dir("only/empty/dirs");
    assert_same_as_model_signing(m.path(), &all_specs(64));
    let out = Tollgate::hash(m.path()).run();
    assert_eq!(
        out.first_line(),
        "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    );
}

/// `:` in a file name is fine with whole-file serialization (tollgate refuses it only for
/// shards; see bad_input.rs).
#[test]
fn colon_in_name_files_mode() {
    let m = Model::new();
    m.random_file("a:b.txt", 10)
        .random_file("c:0:10", 20)
        .random_file("plain", 5);
    assert_same_as_model_signing(
        m.path(),
        &[
            HashSpec::files("sha256"),
            HashSpec::files("blake2b"),
            HashSpec::files("blake3"),
        ],
    );
}

/// With symlinks allowed, a file link is hashed by its target's content under the link's own
/// name and a directory link is skipped, as in model_signing.
#[test]
fn symlinks_inside_the_model() {
    let m = Model::new();
    m.random_file("real/weights.bin", 300)
        .random_file("config.json", 20)
        .symlink("alias.bin", "real/weights.bin")
        .symlink("nested/cfg-link.json", "../config.json")
        .symlink("real-dir-link", "real");
    assert_same_as_model_signing(
        m.path(),
        &[
            HashSpec::files("sha256").allow_symlinks(),
            HashSpec::shards("sha256", 64).allow_symlinks(),
            HashSpec::files("blake3").allow_symlinks(),
        ],
    );
    // Both refuse the model when symlinks are not allowed.
    let ms = ModelSigning::manifests(m.path(), &[HashSpec::files("sha256")]);
    assert!(
        ms[0]["error"]
            .as_str()
            .is_some_and(|e| e.contains("symlink")),
        "model_signing should refuse symlinks: {}",
        ms[0]
    );
    Tollgate::hash(m.path())
        .run()
        .assert_input_error(&["symbolic link"]);
}

/// The signatures model_signing 1.1.1 made of the bundled model: tollgate computes the signed
/// root (`subject[0].digest.sha256`) and the signed resources for each one's serialization.
#[test]
fn bundled_signature_vectors() {
    let sigs = signed_model().join("../sigs");
    let mut checked = 0;
    let mut entries: Vec<_> = fs::read_dir(&sigs)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for payload in entries {
        let name = payload.file_name().unwrap().to_string_lossy().into_owned();
        if !name.ends_with(".payload.json") {
            continue;
        }
        let statement: Value = serde_json::from_slice(&fs::read(&payload).unwrap()).unwrap();
        let signed_root = statement["subject"][0]["digest"]["sha256"]
            .as_str()
            .unwrap_or_else(|| panic!("{name}: no subject digest"));
        let ser = &statement["predicate"]["serialization"];
        let algorithm = ser["hash_type"].as_str().unwrap();
        let mut args: Vec<String> = vec!["-a".into(), algorithm.into()];
        match ser["method"].as_str().unwrap() {
            "files" => {}
            "shards" => {
                let size = ser["shard_size"].as_f64().unwrap();
                args.extend(["--shard-size".into(), format!("{}", size as u64)]);
            }
            other => panic!("{name}: unknown method {other}"),
        }
        let mut ignore: Vec<&str> = ser["ignore_paths"]
            .as_array()
            .map(|a| a.iter().map(|p| p.as_str().unwrap()).collect())
            .unwrap_or_default();
        ignore.sort_unstable();
        assert_eq!(
            ignore,
            [".git", ".gitattributes", ".github", ".gitignore"],
            "{name}: the vectors use the default ignores"
        );
        let ours = Tollgate::hash(signed_model())
            .args(&args)
            .args(["--output", "json"])
            .run()
            .json();
        assert_eq!(
            bare_root(ours["root"].as_str().unwrap()),
            signed_root,
            "{name}: tollgate hash {} differs from the signed root",
            args.join(" ")
        );
        assert_eq!(
            resources(&ours),
            resources(&statement["predicate"]),
            "{name}: resources differ from the signed ones"
        );
        // The text output's first line is the same root.
        let text = Tollgate::hash(signed_model()).args(&args).run();
        assert_eq!(text.first_line(), format!("sha256:{signed_root}"), "{name}");
        checked += 1;
    }
    assert!(
        checked >= 6,
        "expected the bundled payloads in {}, found {checked}",
        sigs.display()
    );
}

/// The bundled model itself, checked live against model_signing too (not only the stored
/// vectors), including a shard size that splits every file.
#[test]
fn bundled_model_live() {
    assert_same_as_model_signing(&signed_model(), &all_specs(7));
}
