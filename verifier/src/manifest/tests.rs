use super::*;
use crate::digest::engine::NoProgress;
use crate::test_util::{copy_dir, model_signing_vectors};
use proptest::prelude::*;
use std::path::PathBuf;

fn testdata() -> PathBuf {
    model_signing_vectors()
}

fn payload(name: &str) -> Value {
    let text = std::fs::read_to_string(testdata().join("sigs").join(name)).unwrap();
    serde_json::from_str(&text).unwrap()
}

fn signed_root(statement: &Value) -> Digest {
    let hex = statement["subject"][0]["digest"]["sha256"]
        .as_str()
        .unwrap();
    Digest::from_hex(HashAlgorithm::Sha256, hex).unwrap()
}

/// Every model_signing vector: our hash of the model equals the signed manifest, resource by
/// resource, and the root equals the signed subject digest.
#[test]
fn roots_match_model_signing_vectors() {
    let cases = [
        ("key.payload.json", HashAlgorithm::Sha256, Method::Files),
        (
            "key-shards64.payload.json",
            HashAlgorithm::Sha256,
            Method::Shards { shard_size: 64 },
        ),
        (
            "key-shards-default.payload.json",
            HashAlgorithm::Sha256,
            Method::Shards {
                shard_size: DEFAULT_SHARD_SIZE,
            },
        ),
        (
            "key-blake2.payload.json",
            HashAlgorithm::Blake2b,
            Method::Files,
        ),
        (
            "key-blake3.payload.json",
            HashAlgorithm::Blake3,
            Method::Files,
        ),
        (
            "reimpl-key-shards64.payload.json",
            HashAlgorithm::Sha256,
            Method::Shards { shard_size: 64 },
        ),
    ];
    for (file, algorithm, method) in cases {
        let statement = payload(file);
        let signed = Manifest::from_predicate("model", &statement["predicate"]).unwrap();
        assert_eq!(
            signed.root_digest(),
            signed_root(&statement),
            "{file}: listed order"
        );

        let config = HashConfig {
            algorithm,
            method,
            shard_empty_files: false,
        };
        let ours = hash_model(
            &testdata().join("model"),
            &WalkOptions::default(),
            &config,
            &NoProgress,
        )
        .unwrap();
        assert!(
            signed.diff(&ours).is_empty(),
            "{file}:\n{}",
            signed.diff(&ours)
        );
        assert_eq!(ours.root_digest(), signed_root(&statement), "{file}: root");
        assert_eq!(
            ours.serialization(),
            signed.serialization(),
            "{file}: serialization"
        );
    }
}

#[test]
fn tampered_model_is_named_in_the_diff() {
    let statement = payload("key.payload.json");
    let signed = Manifest::from_predicate("model", &statement["predicate"]).unwrap();
    let dir = tempfile::tempdir().unwrap();
    copy_dir(&testdata().join("model"), dir.path());
    std::fs::write(dir.path().join("config.json"), b"{}").unwrap();
    std::fs::write(dir.path().join("added.bin"), b"x").unwrap();
    std::fs::remove_file(dir.path().join("empty.txt")).unwrap();
    let ours = hash_model(
        dir.path(),
        &WalkOptions::default(),
        &HashConfig::default(),
        &NoProgress,
    )
    .unwrap();
    let diff = signed.diff(&ours);
    assert_eq!(diff.extra, ["added.bin"]);
    assert_eq!(diff.missing, ["empty.txt"]);
    assert_eq!(diff.changed.len(), 1);
    assert_eq!(diff.changed[0].name, "config.json");
    let text = diff.to_string();
    assert!(
        text.contains("config.json: digest mismatch (expected sha256:"),
        "{text}"
    );
    assert_ne!(ours.root_digest(), signed.root_digest());
}

#[test]
fn predicate_round_trips_with_integer_shard_size() {
    let config = HashConfig {
        method: Method::Shards { shard_size: 64 },
        ..Default::default()
    };
    let m = hash_model(
        &testdata().join("model"),
        &WalkOptions::default(),
        &config,
        &NoProgress,
    )
    .unwrap();
    let p = m.to_predicate();
    assert_eq!(p["serialization"]["shard_size"], json!(64));
    assert_eq!(p["resources"][0]["algorithm"], "sha256-sharded-64");
    let back = Manifest::from_predicate("model", &p).unwrap();
    assert_eq!(back.resources(), m.resources());
    assert_eq!(back.serialization(), m.serialization());
}

#[test]
fn malformed_predicates_are_rejected_with_the_field_named() {
    let base = payload("key-shards64.payload.json")["predicate"].clone();
    type Case = (&'static str, fn(&mut Value));
    let cases: [Case; 6] = [
        ("shard_size", |p| {
            p["serialization"]["shard_size"] = json!(64.5)
        }),
        ("shard_size", |p| {
            p["serialization"]["shard_size"] = json!(0)
        }),
        ("hash_type", |p| {
            p["serialization"]["hash_type"] = json!("md5")
        }),
        ("method", |p| p["serialization"]["method"] = json!("chunks")),
        ("not path:start:end", |p| {
            p["resources"][0]["name"] = json!("LICENSE:0")
        }),
        ("digest", |p| p["resources"][0]["digest"] = json!("abc")),
    ];
    for (needle, mutate) in cases {
        let mut p = base.clone();
        mutate(&mut p);
        let err = Manifest::from_predicate("m", &p).unwrap_err().to_string();
        assert!(err.contains(needle), "{needle}: {err}");
    }
}

#[test]
fn shard_mode_rules() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("empty"), b"").unwrap();
    std::fs::write(dir.path().join("w"), [7u8; 10]).unwrap();
    let shards = |size, empty| HashConfig {
        method: Method::Shards { shard_size: size },
        shard_empty_files: empty,
        ..Default::default()
    };
    let names = |m: &Manifest| {
        m.resources()
            .iter()
            .map(|r| r.key.to_string())
            .collect::<Vec<_>>()
    };
    let m = hash_model(
        dir.path(),
        &WalkOptions::default(),
        &shards(4, false),
        &NoProgress,
    )
    .unwrap();
    assert_eq!(names(&m), ["w:0:4", "w:4:8", "w:8:10"]);
    let m = hash_model(
        dir.path(),
        &WalkOptions::default(),
        &shards(4, true),
        &NoProgress,
    )
    .unwrap();
    assert_eq!(names(&m), ["empty:0:0", "w:0:4", "w:4:8", "w:8:10"]);
    let m = hash_model(
        dir.path(),
        &WalkOptions::default(),
        &shards(10, false),
        &NoProgress,
    )
    .unwrap();
    assert_eq!(names(&m), ["w:0:10"]);

    std::fs::write(dir.path().join("a:b"), b"x").unwrap();
    let err = hash_model(
        dir.path(),
        &WalkOptions::default(),
        &shards(4, false),
        &NoProgress,
    )
    .unwrap_err();
    assert!(
        matches!(err, ManifestError::ColonInShardedName { .. }),
        "{err}"
    );
    let files = hash_model(
        dir.path(),
        &WalkOptions::default(),
        &HashConfig::default(),
        &NoProgress,
    )
    .unwrap();
    assert!(names(&files).contains(&"a:b".to_owned()));

    let blake3 = HashConfig {
        algorithm: HashAlgorithm::Blake3,
        ..shards(4, false)
    };
    assert!(matches!(
        hash_model(dir.path(), &WalkOptions::default(), &blake3, &NoProgress),
        Err(ManifestError::Config(_))
    ));
}

#[test]
fn single_file_model_is_named_dot() {
    let m = hash_model(
        &testdata().join("model/config.json"),
        &WalkOptions::default(),
        &HashConfig::default(),
        &NoProgress,
    )
    .unwrap();
    assert_eq!(m.model_name(), "config.json");
    assert_eq!(m.resources()[0].key.to_string(), ".");
}

#[test]
fn empty_model_has_the_empty_root() {
    let dir = tempfile::tempdir().unwrap();
    let m = hash_model(
        dir.path(),
        &WalkOptions::default(),
        &HashConfig::default(),
        &NoProgress,
    )
    .unwrap();
    assert!(m.resources().is_empty());
    assert_eq!(m.root_digest(), Digest::sha256(b""));
}

#[test]
fn component_order_differs_from_string_order() {
    let key = |p: &str| ResourceKey::File { path: p.into() };
    assert!(key("tokenizer/vocab.txt") < key("tokenizer.json"));
    assert!("tokenizer/vocab.txt" > "tokenizer.json");
    let shard = |s, e| ResourceKey::Shard {
        path: "w".into(),
        start: s,
        end: e,
    };
    assert!(shard(2_000_000_000, 3_000_000_000) < shard(10_000_000_000, 11_000_000_000));
}

fn path_strategy() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop::sample::select(vec!["a", "a.b", "a-", "b", "ü", "A", "a b"]),
        1..4,
    )
    .prop_map(|parts| parts.join("/"))
}

proptest! {
    /// Canonical order is the order of (components, start, end) tuples: a total order that
    /// Python's sorted() over PurePosixPath would produce.
    #[test]
    fn order_is_componentwise(a in path_strategy(), b in path_strategy(), s1 in 0u64..5, s2 in 0u64..5) {
        let ka = ResourceKey::Shard { path: a.clone(), start: s1, end: s1 + 1 };
        let kb = ResourceKey::Shard { path: b.clone(), start: s2, end: s2 + 1 };
        let ca: Vec<&str> = a.split('/').collect();
        let cb: Vec<&str> = b.split('/').collect();
        prop_assert_eq!(ka.cmp(&kb), (ca, s1).cmp(&(cb, s2)));
        prop_assert_eq!(ka.cmp(&kb), kb.cmp(&ka).reverse());
    }

    /// Shards tile each file exactly: contiguous, in order, all full-size but the last, and
    /// the shard names parse back to the same ranges.
    #[test]
    fn shards_tile_files(size in 0u64..10_000, shard_size in 1u64..3_000) {
        let tree = ModelTree {
            model_name: "m".into(),
            files: vec![walk::ModelFile { name: "f".into(), path: "/nonexistent".into(), size, modified: None }],
            ignore_paths: vec![],
            allow_symlinks: false,
        };
        let config = HashConfig { method: Method::Shards { shard_size }, ..Default::default() };
        let planned = plan(&tree, &config).unwrap();
        let mut next = 0;
        for (i, (key, item)) in planned.iter().enumerate() {
            prop_assert_eq!(item.start, next);
            prop_assert!(item.end > item.start);
            if i + 1 < planned.len() {
                prop_assert_eq!(item.end - item.start, shard_size);
            }
            prop_assert_eq!(parse_shard_name(&key.to_string()).unwrap(), key.clone());
            next = item.end;
        }
        prop_assert_eq!(next, size);
        prop_assert_eq!(planned.len() as u64, size.div_ceil(shard_size));
    }
}
