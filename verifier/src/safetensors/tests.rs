use super::*;
use proptest::prelude::*;
use std::io::Cursor;

/// A safetensors file from header JSON text and data bytes.
fn file(header: &str, data: &[u8]) -> Vec<u8> {
    file_bytes(header.as_bytes(), data)
}

fn file_bytes(header: &[u8], data: &[u8]) -> Vec<u8> {
    let mut out = (header.len() as u64).to_le_bytes().to_vec();
    out.extend_from_slice(header);
    out.extend_from_slice(data);
    out
}

fn check_bytes(bytes: &[u8]) -> FileCheck {
    check_reader(Cursor::new(bytes), bytes.len() as u64).unwrap()
}

fn codes(check: &FileCheck) -> Vec<&'static str> {
    check.violations.iter().map(Violation::code).collect()
}

const VALID: &str = r#"{"__metadata__":{"format":"pt"},"a":{"dtype":"F32","shape":[2,3],"data_offsets":[0,24]},"b":{"dtype":"F16","shape":[4],"data_offsets":[24,32]}}"#;

#[test]
fn valid_file_summary() {
    let c = check_bytes(&file(VALID, &[0; 32]));
    assert_eq!(c.violations, []);
    assert!(c.header_parsed());
    let s = &c.summary;
    assert_eq!(s.header_bytes, VALID.len() as u64);
    assert_eq!(s.data_bytes, 32);
    assert_eq!(s.tensors.len(), 2);
    assert_eq!(s.parameters, 10);
    assert_eq!(
        s.dtypes,
        BTreeMap::from([("F16".into(), 1), ("F32".into(), 1)])
    );
    assert_eq!(s.metadata, BTreeMap::from([("format".into(), "pt".into())]));
    assert_eq!(s.tensors[0].data_offsets, Some([0, 24]));
}

#[test]
fn real_fixture_is_clean() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../testdata/model-signing/model/model.safetensors");
    let c = check_file(&path).unwrap();
    assert_eq!(c.violations, []);
    assert_eq!(c.summary.tensors.len(), 2);
    assert_eq!(c.summary.parameters, 40);
    assert_eq!(c.summary.header_bytes + c.summary.data_bytes + 8, 320);
}

#[test]
fn truncated_data_is_out_of_bounds() {
    let c = check_bytes(&file(VALID, &[0; 30]));
    assert_eq!(
        c.violations,
        [Violation::OutOfBounds {
            tensor: "b".into(),
            begin: 24,
            end: 32,
            data_len: 30
        }]
    );
}

#[test]
fn header_length_beyond_file() {
    let mut bytes = 9_999_999u64.to_le_bytes().to_vec();
    bytes.extend_from_slice(b"{}");
    let c = check_bytes(&bytes);
    assert_eq!(
        c.violations,
        [Violation::HeaderBeyondFile {
            len: 9_999_999,
            file_len: 10
        }]
    );
    assert_eq!(
        c.violations[0].to_string(),
        "header length 9999999 exceeds the file (10 bytes)"
    );
}

#[test]
fn header_length_over_limit_allocates_nothing() {
    // Only the 8 length bytes exist; a reader that tried to read the header would fail.
    let len = MAX_HEADER_LEN + 1;
    let c = check_reader(Cursor::new(len.to_le_bytes()), u64::MAX).unwrap();
    assert_eq!(c.violations, [Violation::HeaderTooLarge { len }]);
    // In an 8-byte file it is also beyond the file: both are reported.
    let c = check_bytes(&u64::MAX.to_le_bytes());
    assert_eq!(codes(&c), ["header-too-large", "header-beyond-file"]);
    assert_eq!(
        c.violations[1].to_string(),
        "header length 18446744073709551615 exceeds the file (8 bytes)"
    );
}

#[test]
fn short_file() {
    let c = check_bytes(b"\x02\0\0");
    assert_eq!(c.violations, [Violation::TooShort { file_len: 3 }]);
    assert!(!c.header_parsed());
}

#[test]
fn header_not_json_or_not_utf8() {
    let c = check_bytes(&file("{not json", &[]));
    assert_eq!(codes(&c), ["header-not-json"]);
    let c = check_bytes(&file_bytes(b"{\"a\xff\":1}", &[]));
    assert_eq!(c.violations, [Violation::HeaderNotUtf8 { offset: 3 }]);
}

#[test]
fn header_not_an_object() {
    for (text, found) in [("[]", "array"), ("\"x\"", "string"), ("null", "null")] {
        let c = check_bytes(&file(text, &[]));
        assert_eq!(
            c.violations,
            [Violation::HeaderNotObject { found }],
            "{text}"
        );
    }
}

#[test]
fn empty_object_with_no_data_is_clean() {
    assert_eq!(check_bytes(&file("{}", &[])).violations, []);
    // upstream pads headers with spaces to 8-byte alignment
    assert_eq!(check_bytes(&file("{}      ", &[])).violations, []);
}

#[test]
fn overlapping_tensors() {
    let h = r#"{"a":{"dtype":"U8","shape":[8],"data_offsets":[0,8]},"b":{"dtype":"U8","shape":[8],"data_offsets":[4,12]}}"#;
    let c = check_bytes(&file(h, &[0; 12]));
    let v = &c.violations;
    assert_eq!(codes(&c), ["overlap"], "{v:?}");
    assert_eq!(
        v[0].to_string(),
        r#"tensor "b": data_offsets [4, 12] overlap tensor "a" [0, 8]"#
    );
}

#[test]
fn gap_between_tensors() {
    let h = r#"{"a":{"dtype":"U8","shape":[4],"data_offsets":[0,4]},"b":{"dtype":"U8","shape":[4],"data_offsets":[8,12]}}"#;
    let c = check_bytes(&file(h, &[0; 12]));
    assert_eq!(
        c.violations,
        [Violation::Gap {
            begin: 4,
            end: 8,
            next: "b".into()
        }]
    );
}

#[test]
fn trailing_bytes() {
    let h = r#"{"a":{"dtype":"U8","shape":[4],"data_offsets":[0,4]}}"#;
    let c = check_bytes(&file(h, &[0; 7]));
    assert_eq!(
        c.violations,
        [Violation::TrailingBytes {
            end: 4,
            data_len: 7
        }]
    );
    assert_eq!(
        c.violations[0].to_string(),
        "3 trailing bytes: tensors end at 4 but the data region is 7 bytes"
    );
}

#[test]
fn wrong_dtype_size() {
    let h = r#"{"w":{"dtype":"F32","shape":[2,3],"data_offsets":[0,20]}}"#;
    let c = check_bytes(&file(h, &[0; 20]));
    assert_eq!(codes(&c), ["size-mismatch"]);
    assert_eq!(
        c.violations[0].to_string(),
        r#"tensor "w": dtype F32 × shape [2, 3] = 24 bytes but data_offsets span 20 bytes"#
    );
}

#[test]
fn sub_byte_dtypes_count_bits() {
    let h = r#"{"q":{"dtype":"F4","shape":[3,2],"data_offsets":[0,3]}}"#;
    assert_eq!(check_bytes(&file(h, &[0; 3])).violations, []);
    let h = r#"{"q":{"dtype":"F4","shape":[3],"data_offsets":[0,2]}}"#;
    assert_eq!(codes(&check_bytes(&file(h, &[0; 2]))), ["partial-byte"]);
}

#[test]
fn unknown_dtype_is_reported_and_layout_still_checked() {
    let h = r#"{"w":{"dtype":"F12","shape":[1],"data_offsets":[0,2]}}"#;
    let c = check_bytes(&file(h, &[0; 4]));
    assert_eq!(codes(&c), ["unknown-dtype", "trailing-bytes"]);
    assert_eq!(c.violations[0].tensor(), Some("w"));
}

#[test]
fn shape_product_overflow() {
    let h = r#"{"w":{"dtype":"F64","shape":[4294967296,4294967296],"data_offsets":[0,0]}}"#;
    let c = check_bytes(&file(h, &[]));
    assert_eq!(codes(&c), ["shape-overflow"]);
    let h = r#"{"w":{"dtype":"U8","shape":[18446744073709551615,2],"data_offsets":[0,0]}}"#;
    assert_eq!(codes(&check_bytes(&file(h, &[]))), ["shape-overflow"]);
}

#[test]
fn metadata_with_non_string_value() {
    let h = r#"{"__metadata__":{"ok":"x","n":1}}"#;
    let c = check_bytes(&file(h, &[]));
    assert_eq!(
        c.violations,
        [Violation::MetadataValueNotString {
            key: "n".into(),
            found: "number"
        }]
    );
    assert_eq!(c.summary.metadata.len(), 1);
    let c = check_bytes(&file(r#"{"__metadata__":[]}"#, &[]));
    assert_eq!(codes(&c), ["metadata-not-object"]);
}

#[test]
fn malformed_tensor_fields() {
    let h = r#"{"a":1,"b":{"dtype":7,"shape":[-1],"data_offsets":[0]},"c":{}}"#;
    let c = check_bytes(&file(h, &[]));
    assert_eq!(
        codes(&c),
        [
            "tensor-not-object",
            "bad-field",
            "bad-field",
            "bad-field",
            "missing-field",
            "missing-field",
            "missing-field"
        ]
    );
    assert_eq!(
        c.violations[2].to_string(),
        r#"tensor "b": shape must be an array of non-negative integers, found [-1]"#
    );
}

#[test]
fn reversed_offsets_and_duplicate_keys() {
    let h = r#"{"a":{"dtype":"U8","shape":[0],"data_offsets":[4,0]},"a":{"dtype":"U8","shape":[0],"data_offsets":[0,0]}}"#;
    let c = check_bytes(&file(h, &[]));
    assert_eq!(codes(&c), ["offsets-reversed", "duplicate-key"]);
}

#[test]
fn every_violation_is_reported() {
    let h = r#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,4]},"b":{"dtype":"X","shape":[1],"data_offsets":[2,3]},"c":{"dtype":"U8","shape":[1],"data_offsets":[10,11]}}"#;
    let c = check_bytes(&file(h, &[0; 12]));
    assert_eq!(
        codes(&c),
        [
            "size-mismatch",
            "unknown-dtype",
            "overlap",
            "gap",
            "trailing-bytes"
        ]
    );
}

// --- index -------------------------------------------------------------------------------

fn write(dir: &Path, name: &str, bytes: &[u8]) {
    fs::write(dir.join(name), bytes).unwrap();
}

fn shard(names: &[&str]) -> Vec<u8> {
    let entries: Vec<String> = names
        .iter()
        .enumerate()
        .map(|(i, n)| {
            format!(
                r#""{n}":{{"dtype":"U8","shape":[1],"data_offsets":[{i},{}]}}"#,
                i + 1
            )
        })
        .collect();
    file(&format!("{{{}}}", entries.join(",")), &vec![0; names.len()])
}

fn sharded(index: &str) -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    write(d.path(), "m-1.safetensors", &shard(&["a", "b"]));
    write(d.path(), "m-2.safetensors", &shard(&["c"]));
    write(d.path(), "m.safetensors.index.json", index.as_bytes());
    d
}

fn index_codes(c: &IndexCheck) -> Vec<&'static str> {
    c.violations.iter().map(IndexViolation::code).collect()
}

#[test]
fn valid_index() {
    let d = sharded(
        r#"{"metadata":{"total_size":3},"weight_map":{"a":"m-1.safetensors","b":"m-1.safetensors","c":"m-2.safetensors"}}"#,
    );
    let c = check_index(&d.path().join("m.safetensors.index.json")).unwrap();
    assert_eq!(c.violations, []);
    assert_eq!(c.summary.shards, ["m-1.safetensors", "m-2.safetensors"]);
    assert_eq!(c.summary.tensor_count, 3);
    assert_eq!(c.summary.metadata["total_size"], 3);
}

#[test]
fn index_naming_missing_shard() {
    let d = sharded(
        r#"{"weight_map":{"a":"m-1.safetensors","b":"m-1.safetensors","c":"m-3.safetensors"}}"#,
    );
    let c = check_index(&d.path().join("m.safetensors.index.json")).unwrap();
    assert_eq!(
        c.violations,
        [IndexViolation::MissingShard {
            shard: "m-3.safetensors".into(),
            tensors: 1
        }]
    );
}

#[test]
fn index_tensor_not_in_shard_and_unindexed_tensors() {
    let d = sharded(
        r#"{"weight_map":{"a":"m-1.safetensors","c":"m-1.safetensors","z":"m-2.safetensors"}}"#,
    );
    let c = check_index(&d.path().join("m.safetensors.index.json")).unwrap();
    assert_eq!(
        index_codes(&c),
        [
            "tensor-not-in-shard",
            "unindexed-tensor",
            "tensor-not-in-shard",
            "tensor-in-other-shard"
        ],
        "{:?}",
        c.violations
    );
    assert!(c.violations.contains(&IndexViolation::TensorNotInShard {
        tensor: "z".into(),
        shard: "m-2.safetensors".into()
    }));
}

#[test]
fn index_shard_names_cannot_escape() {
    let d = sharded(
        r#"{"weight_map":{"a":"../m-1.safetensors","b":"/etc/passwd","c":"..","d":"sub\\x"}}"#,
    );
    let c = check_index(&d.path().join("m.safetensors.index.json")).unwrap();
    assert_eq!(index_codes(&c), ["unsafe-shard-name"; 4]);
    assert_eq!(
        c.violations[1].to_string(),
        r#"shard "../m-1.safetensors" (1 tensors) is not a plain file name beside the index"#
    );
}

#[test]
fn index_structure_errors() {
    for (text, code) in [
        ("[1]", "index-not-object"),
        ("{", "index-not-json"),
        ("{}", "missing-weight-map"),
        (r#"{"weight_map":[]}"#, "weight-map-not-object"),
        (r#"{"metadata":1,"weight_map":{}}"#, "metadata-not-object"),
        (r#"{"weight_map":{"a":1}}"#, "shard-not-string"),
        (r#"{"weight_map":{},"weight_map":{}}"#, "duplicate-key"),
    ] {
        let d = sharded(text);
        let c = check_index(&d.path().join("m.safetensors.index.json")).unwrap();
        assert_eq!(index_codes(&c), [code], "{text}");
    }
}

#[test]
fn index_shard_unreadable_or_not_a_file() {
    let d = sharded(r#"{"weight_map":{"a":"bad.safetensors","b":"dir"}}"#);
    write(d.path(), "bad.safetensors", b"junk");
    fs::create_dir(d.path().join("dir")).unwrap();
    let c = check_index(&d.path().join("m.safetensors.index.json")).unwrap();
    assert_eq!(index_codes(&c), ["shard-unreadable", "shard-not-file"]);
}

// --- never panic ---------------------------------------------------------------------------

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        (0u64..64).prop_map(Value::from),
        prop::sample::select(vec!["F32", "F4", "BOOL", "X", "", "__metadata__"])
            .prop_map(Value::from),
    ];
    leaf.prop_recursive(4, 32, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::from),
            prop::collection::vec((field_name(), inner), 0..6)
                .prop_map(|kv| Value::Object(kv.into_iter().collect())),
        ]
    })
}

fn field_name() -> impl Strategy<Value = String> {
    prop::sample::select(vec![
        "dtype",
        "shape",
        "data_offsets",
        "__metadata__",
        "w",
        "x",
    ])
    .prop_map(str::to_owned)
}

/// Tensor-shaped entries with arbitrary numbers, to reach the size and layout checks.
fn tensor_entry() -> impl Strategy<Value = Value> {
    (
        prop::sample::select(Dtype::ALL.to_vec()),
        prop::collection::vec(prop_oneof![0u64..8, any::<u64>()], 0..4),
        prop_oneof![0u64..64, any::<u64>()],
        prop_oneof![0u64..64, any::<u64>()],
    )
        .prop_map(|(d, shape, b, e)| {
            serde_json::json!({"dtype": d.name(), "shape": shape, "data_offsets": [b, e]})
        })
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
        let _ = check_bytes(&bytes);
    }

    #[test]
    fn arbitrary_headers_never_panic(
        entries in prop::collection::vec(
            (field_name(), prop_oneof![json_value(), tensor_entry()]), 0..8),
        data in prop::collection::vec(any::<u8>(), 0..96),
        declared in prop_oneof![Just(None), any::<u64>().prop_map(Some)],
    ) {
        let header: String = format!("{{{}}}", entries
            .iter()
            .map(|(k, v)| format!("{}:{v}", Value::from(k.as_str())))
            .collect::<Vec<_>>()
            .join(","));
        let mut bytes = file(&header, &data);
        if let Some(len) = declared {
            bytes[..8].copy_from_slice(&len.to_le_bytes());
        }
        let c = check_bytes(&bytes);
        for v in &c.violations {
            prop_assert!(!v.to_string().is_empty());
        }
    }
}
