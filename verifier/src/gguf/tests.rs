use super::*;
use proptest::prelude::*;
use std::io::Cursor;

/// Builds GGUF files field by field.
#[derive(Default)]
struct Gguf(Vec<u8>);

impl Gguf {
    fn header(version: u32, tensors: u64, kvs: u64) -> Self {
        Self::default()
            .raw(b"GGUF")
            .u32(version)
            .u64(tensors)
            .u64(kvs)
    }
    fn raw(mut self, b: &[u8]) -> Self {
        self.0.extend_from_slice(b);
        self
    }
    fn u32(self, v: u32) -> Self {
        self.raw(&v.to_le_bytes())
    }
    fn u64(self, v: u64) -> Self {
        self.raw(&v.to_le_bytes())
    }
    fn str(self, s: &str) -> Self {
        self.u64(s.len() as u64).raw(s.as_bytes())
    }
    fn kv_str(self, k: &str, v: &str) -> Self {
        self.str(k).u32(TYPE_STRING).str(v)
    }
    fn kv_u32(self, k: &str, v: u32) -> Self {
        self.str(k).u32(TYPE_UINT32).u32(v)
    }
    fn tensor(self, name: &str, dims: &[u64], ty: u32, offset: u64) -> Self {
        let mut g = self.str(name).u32(dims.len() as u32);
        for &d in dims {
            g = g.u64(d);
        }
        g.u32(ty).u64(offset)
    }
    /// Pads to `align` then appends `data` bytes of tensor data.
    fn data(mut self, align: usize, data: usize) -> Self {
        while !self.0.len().is_multiple_of(align) {
            self.0.push(0);
        }
        self.0.resize(self.0.len() + data, 0);
        self
    }
}

fn check(g: &Gguf) -> FileCheck {
    check_reader(Cursor::new(&g.0), g.0.len() as u64).unwrap()
}

fn codes(c: &FileCheck) -> Vec<&'static str> {
    c.violations.iter().map(Violation::code).collect()
}

/// Two F32 tensors of 4×2 and 8 elements, then a Q4_0 tensor of 64 elements (2 blocks).
fn valid() -> Gguf {
    Gguf::header(3, 3, 3)
        .kv_str("general.architecture", "llama")
        .kv_u32("general.alignment", 32)
        .str("tokenizer.ggml.tokens")
        .u32(TYPE_ARRAY)
        .u32(TYPE_STRING)
        .u64(2)
        .str("a")
        .str("bc")
        .tensor("w", &[4, 2], 0, 0)
        .tensor("b", &[8], 0, 32)
        .tensor("q", &[64], 2, 64)
        .data(32, 64 + 36)
}

#[test]
fn valid_file_summary() {
    let c = check(&valid());
    assert_eq!(c.violations, []);
    let s = &c.summary;
    assert_eq!(s.version, 3);
    assert_eq!((s.tensor_count, s.kv_count), (3, 3));
    assert_eq!(s.architecture.as_deref(), Some("llama"));
    assert_eq!(s.alignment, 32);
    assert_eq!(s.parameters, 8 + 8 + 64);
    assert_eq!(s.data_bytes, 32 + 32 + 36);
    assert_eq!(
        s.types,
        BTreeMap::from([("F32".into(), 2), ("Q4_0".into(), 1)])
    );
    assert_eq!(s.data_offset.map(|o| o % 32), Some(0));
    assert_eq!(s.tensors[2].size, Some(36));
}

#[test]
fn bad_magic() {
    let c = check(&Gguf::default().raw(b"GGML").u32(3).u64(0).u64(0));
    assert_eq!(c.violations, [Violation::BadMagic { found: *b"GGML" }]);
    assert_eq!(
        c.violations[0].to_string(),
        r#"magic is "GGML", not "GGUF""#
    );
    let c = check(&Gguf::default().raw(b"GG"));
    assert_eq!(codes(&c), ["truncated"]);
}

#[test]
fn versions() {
    for (v, code) in [
        (1, "unsupported-version"),
        (4, "unsupported-version"),
        (0x0300_0000, "byte-swapped"),
    ] {
        let c = check(&Gguf::header(v, 0, 0));
        assert_eq!(codes(&c), [code], "{v}");
    }
    assert_eq!(check(&Gguf::header(2, 0, 0)).violations, []);
}

#[test]
fn huge_kv_count() {
    let c = check(&Gguf::header(3, 0, u64::MAX).raw(&[0; 64]));
    assert_eq!(
        c.violations,
        [Violation::CountBeyondFile {
            field: "metadata_kv_count",
            count: u64::MAX,
            min_each: MIN_KV_LEN,
            left: 64
        }]
    );
    let c = check(&Gguf::header(3, 1 << 40, 0).raw(&[0; 64]));
    assert_eq!(codes(&c), ["count-beyond-file"]);
}

#[test]
fn count_over_limit() {
    // Small enough to fit in a (large) file, over tollgate's limit: no bytes need exist.
    let g = Gguf::header(3, 0, MAX_KV_COUNT + 1);
    let c = check_reader(Cursor::new(&g.0), u64::MAX).unwrap();
    assert_eq!(codes(&c), ["count-over-limit"]);
}

#[test]
fn string_length_beyond_file() {
    let g = Gguf::header(3, 0, 1)
        .str("general.name")
        .u32(TYPE_STRING)
        .u64(1000)
        .raw(b"short");
    let c = check(&g);
    assert_eq!(
        c.violations,
        [Violation::Truncated {
            what: r#"key "general.name": string of 1000 bytes"#.into(),
            offset: 24 + 20 + 4 + 8,
            left: 5
        }]
    );
    // the same for a key, and for an array of strings claiming more than the file holds
    let c = check(&Gguf::header(3, 0, 1).u64(u64::MAX).raw(&[0; 16]));
    assert_eq!(codes(&c), ["truncated"]);
    let arr = Gguf::header(3, 0, 1)
        .str("k")
        .u32(TYPE_ARRAY)
        .u32(TYPE_STRING)
        .u64(u64::MAX / 2)
        .raw(&[0; 16]);
    assert_eq!(codes(&check(&arr)), ["truncated"]);
}

#[test]
fn nested_arrays_are_walked_and_bounded() {
    let nested = |depth: usize| {
        let mut g = Gguf::header(3, 0, 1).str("k").u32(TYPE_ARRAY);
        for _ in 0..depth {
            g = g.u32(TYPE_ARRAY).u64(1);
        }
        g.u32(0).u64(3).raw(&[1, 2, 3])
    };
    assert_eq!(check(&nested(3)).violations, []);
    assert_eq!(
        codes(&check(&nested(MAX_ARRAY_DEPTH as usize))),
        ["array-too-deep"]
    );
}

#[test]
fn metadata_violations() {
    let g = Gguf::header(3, 0, 5)
        .kv_str("a", "x")
        .kv_str("a", "y")
        .str("")
        .u32(TYPE_BOOL)
        .raw(&[2])
        .kv_str("general.alignment", "32")
        .str("z")
        .u32(99);
    assert_eq!(
        codes(&check(&g)),
        [
            "duplicate-key",
            "empty-key",
            "bad-bool",
            "alignment-type",
            "bad-value-type"
        ]
    );
    let bad_align = Gguf::header(3, 0, 1).kv_u32("general.alignment", 48);
    assert_eq!(codes(&check(&bad_align)), ["bad-alignment"]);
}

#[test]
fn tensor_beyond_file() {
    let g = Gguf::header(3, 1, 0).tensor("w", &[16], 0, 0).data(32, 60);
    let c = check(&g);
    assert_eq!(codes(&c), ["tensor-beyond-file"]);
    assert_eq!(c.violations[0].tensor(), Some("w"));
    // an offset near u64::MAX must not overflow
    let g = Gguf::header(3, 1, 0)
        .tensor("w", &[1], 0, u64::MAX - 31)
        .data(32, 4);
    assert_eq!(codes(&check(&g)), ["tensor-beyond-file"]);
}

#[test]
fn tensor_violations() {
    let g = Gguf::header(3, 6, 0)
        .tensor("u", &[4], 77, 0)
        .tensor("q", &[33], 2, 0)
        .tensor("d", &[1, 1, 1, 1, 1], 0, 0)
        .tensor("o", &[1 << 32, 1 << 32], 0, 0)
        .tensor("m", &[8], 0, 8)
        .tensor("m", &[8], 0, 0)
        .data(32, 64);
    let c = check(&g);
    assert_eq!(
        codes(&c),
        [
            "unknown-type",
            "partial-block",
            "too-many-dims",
            "shape-overflow",
            "duplicate-tensor",
            "misaligned-offset",
            "overlap"
        ],
        "{:?}",
        c.violations
    );
    assert_eq!(
        c.violations[0].to_string(),
        r#"tensor "u": unknown ggml type 77"#
    );
}

#[test]
fn empty_tensors_may_share_an_offset() {
    let g = Gguf::header(3, 2, 0)
        .tensor("e", &[0], 0, 0)
        .tensor("w", &[8], 0, 0)
        .data(32, 32);
    assert_eq!(check(&g).violations, []);
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        let _ = check_reader(Cursor::new(&bytes), bytes.len() as u64).unwrap();
    }

    #[test]
    fn arbitrary_bodies_never_panic(
        tensors in prop_oneof![0u64..4, any::<u64>()],
        kvs in prop_oneof![0u64..4, any::<u64>()],
        body in prop::collection::vec(
            prop_oneof![any::<u8>(), Just(0u8), 0u8..13], 0..512),
        claimed_len in prop_oneof![Just(None), any::<u64>().prop_map(Some)],
    ) {
        let g = Gguf::header(3, tensors, kvs).raw(&body);
        // A claimed length beyond the bytes present may end in an I/O error, never a panic.
        let len = claimed_len.unwrap_or(g.0.len() as u64);
        let _ = check_reader(Cursor::new(&g.0), len);
    }
}
