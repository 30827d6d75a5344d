//! In-process hashing kernels: what the hash functions and the engine reach without process
//! start-up, directory walking or output.
//!
//! - `hasher/*`: [`Hasher`] over a 64 MiB in-memory buffer — SHA-256, BLAKE2b-512 and BLAKE3
//!   serially, and BLAKE3 through `update_parallel` (rayon; SHA-256 and BLAKE2b have no parallel
//!   form, their `update_parallel` is `update`).
//! - `engine/*`: [`engine::hash_items`] over temp files, page cache warm — one 256 MiB file
//!   whole (SHA-256 serial; BLAKE3 spread over the pool), the same file as 16 shards of 16 MiB
//!   (SHA-256 over the pool), and 200 files of 64 KiB.
//!
//! Kept short for a 2-core machine: 10 samples, 3 s measurement. Run with
//! `cargo bench -p tollgate-verifier --bench kernels` (add `-- engine` to filter).

use std::hint::black_box;
use std::io::Write;
use std::path::Path;
use std::time::Duration;

use criterion::measurement::WallTime;
use criterion::{BenchmarkGroup, Criterion, Throughput, criterion_group, criterion_main};
use tollgate_verifier::digest::engine::{self, NoProgress, WorkItem};
use tollgate_verifier::digest::{HashAlgorithm, Hasher};

const BUFFER: usize = 64 << 20;
const BIG_FILE: u64 = 256 << 20;
const SHARDS: u64 = 16;
const SMALL_FILES: usize = 200;
const SMALL_FILE: usize = 64 << 10;

/// Deterministic incompressible-looking bytes (xorshift64*), fast enough to fill 256 MiB.
fn pseudo_random(len: usize, seed: u64) -> Vec<u8> {
    let mut state = seed | 1;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        out.extend_from_slice(&state.wrapping_mul(0x2545_f491_4f6c_dd1d).to_le_bytes());
    }
    out.truncate(len);
    out
}

fn configure(group: &mut BenchmarkGroup<'_, WallTime>, bytes: u64) {
    group
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .throughput(Throughput::Bytes(bytes));
}

fn hasher(c: &mut Criterion) {
    let data = pseudo_random(BUFFER, 1);
    let mut group = c.benchmark_group("hasher");
    configure(&mut group, BUFFER as u64);
    for alg in HashAlgorithm::ALL {
        group.bench_function(format!("{alg}/serial"), |b| {
            b.iter(|| {
                let mut h = Hasher::new(alg);
                h.update(black_box(&data));
                h.finalize()
            });
        });
    }
    group.bench_function("blake3/update_parallel", |b| {
        b.iter(|| {
            let mut h = Hasher::new(HashAlgorithm::Blake3);
            h.update_parallel(black_box(&data));
            h.finalize()
        });
    });
    group.finish();
}

fn write_file(path: &Path, data: &[u8]) {
    let mut f = std::fs::File::create(path).expect("create bench file");
    f.write_all(data).expect("write bench file");
}

/// Reads every item once so the measured runs see the page cache warm.
fn warm(items: &[WorkItem]) {
    engine::hash_items(items, HashAlgorithm::Blake3, &NoProgress).expect("warm-up hash");
}

fn engine_bench(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("temp dir");

    let big = dir.path().join("big.bin");
    write_file(&big, &pseudo_random(BIG_FILE as usize, 2));
    let whole = vec![WorkItem::whole(big.clone(), BIG_FILE)];
    let shard = BIG_FILE / SHARDS;
    let shards: Vec<WorkItem> = (0..SHARDS)
        .map(|i| WorkItem {
            path: big.clone(),
            start: i * shard,
            end: (i + 1) * shard,
            file_size: BIG_FILE,
            modified: None,
        })
        .collect();

    let small_dir = dir.path().join("small");
    std::fs::create_dir(&small_dir).expect("small dir");
    let small_data = pseudo_random(SMALL_FILES * SMALL_FILE, 3);
    let small: Vec<WorkItem> = small_data
        .chunks(SMALL_FILE)
        .enumerate()
        .map(|(i, chunk)| {
            let p = small_dir.join(format!("f{i:04}"));
            write_file(&p, chunk);
            WorkItem::whole(p, SMALL_FILE as u64)
        })
        .collect();
    warm(&whole);
    warm(&small);

    let cases: [(&str, &[WorkItem], HashAlgorithm); 5] = [
        ("1x256MiB/sha256", &whole, HashAlgorithm::Sha256),
        ("1x256MiB/sha256-16-shards", &shards, HashAlgorithm::Sha256),
        ("1x256MiB/blake3", &whole, HashAlgorithm::Blake3),
        ("200x64KiB/sha256", &small, HashAlgorithm::Sha256),
        ("200x64KiB/blake3", &small, HashAlgorithm::Blake3),
    ];
    let mut group = c.benchmark_group("engine");
    for (name, items, alg) in cases {
        configure(&mut group, items.iter().map(|i| i.end - i.start).sum());
        group.bench_function(name, |b| {
            b.iter(|| engine::hash_items(black_box(items), alg, &NoProgress).expect("hash"));
        });
    }
    group.finish();
}

criterion_group!(benches, hasher, engine_bench);
criterion_main!(benches);
