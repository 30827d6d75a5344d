#!/usr/bin/env bash
# Whole-command hashing benchmark: tollgate against b3sum, `openssl dgst -sha256` and the
# model_signing 1.1.1 CLI, on the same files, in the same run, page cache warm.
#
# Usage: bench/hash.sh
#   BENCH_DIR=/tmp/tollgate-bench  where the datasets are written (deleted at the end unless KEEP=1)
#   BENCH_SCALE=1                  divide dataset sizes by this integer for a quick run (e.g. 16)
#   RUNS=5                         timed runs per command (the median is reported)
#   WARMUP=1                       untimed runs per command before timing
#   KEEP=0                         1: keep the datasets; REUSE=1: reuse kept datasets of the right size
#   MEMORY=1                       0: skip the 10 GB / 1,000-file memory measurement
#   THREADS=                       pass --threads N to tollgate (default: all cores)
#   TOLLGATE_CACHE=<repo>/.cache   peers (b3sum, model_signing venv) are cached under it/peers
#
# Datasets (at BENCH_SCALE=1): one 4 GiB file; 8 x 512 MiB files; 2,000 x 64 KiB files; then,
# after those are deleted, a 10 GB model of 1,000 x 10 MB files for the memory measurement.
# Peak disk use is about 10 GB (18 GB with KEEP=1).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BENCH_DIR=${BENCH_DIR:-/tmp/tollgate-bench}
BENCH_SCALE=${BENCH_SCALE:-1}
RUNS=${RUNS:-5}
WARMUP=${WARMUP:-1}
KEEP=${KEEP:-0}
REUSE=${REUSE:-0}
MEMORY=${MEMORY:-1}
THREADS=${THREADS:-}
CACHE=${TOLLGATE_CACHE:-$ROOT/.cache}
PEERS=$CACHE/peers

log() { printf '==> %s\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 2; }

[[ $BENCH_SCALE =~ ^[1-9][0-9]*$ ]] || die "BENCH_SCALE must be a positive integer"
[[ $RUNS =~ ^[1-9][0-9]*$ ]] || die "RUNS must be a positive integer"

MIB=$((1 << 20))
BIG_BYTES=$(((4096 / BENCH_SCALE) * MIB))          # one file
EIGHT_BYTES=$(((512 / BENCH_SCALE) * MIB))         # each of 8 files
SMALL_COUNT=$((2000 / BENCH_SCALE))                # files of 64 KiB
((SMALL_COUNT >= 50)) || SMALL_COUNT=50
SMALL_BYTES=65536
MODEL_COUNT=$((1000 / BENCH_SCALE))                # files of 10 MB
((MODEL_COUNT >= 10)) || MODEL_COUNT=10
MODEL_BYTES=10000000
SHARD_SIZE=${SHARD_SIZE:-$((BIG_BYTES / 16))}      # 256 MiB at full scale: 16 equal shards

# ---------------------------------------------------------------------------------------------
# Tools
# ---------------------------------------------------------------------------------------------
apt_install() { # best effort: the script may install what it measures with
    if [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null; then
        log "apt-get install -y $*"
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$@" >&2 ||
            { apt-get update -q >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$@" >&2; } ||
            log "could not install $*"
    fi
}

log "building tollgate (release)"
(cd "$ROOT" && cargo build --release -q -p tollgate)
TG=${CARGO_TARGET_DIR:-$ROOT/target}/release/tollgate
[[ -x $TG ]] || die "no tollgate binary at $TG"

command -v hyperfine >/dev/null || apt_install hyperfine
[[ -x /usr/bin/time ]] || apt_install time
command -v openssl >/dev/null || die "openssl is required"
command -v python3 >/dev/null || die "python3 is required"

# b3sum: Debian 13's package, downloaded (not installed) with a private apt configuration so the
# machine's own sources stay untouched. The mirror comes from the machine's apt sources.
B3SUM=$PEERS/root/usr/bin/b3sum
if [[ ! -x $B3SUM ]]; then
    log "downloading Debian 13 b3sum into $PEERS"
    D=$PEERS/apt
    mkdir -p "$D/sources" "$D/lists/partial" "$D/cache/archives/partial" "$D/debs" "$PEERS/root"
    URI=$(grep -hs '^URIs:' /etc/apt/sources.list.d/*.sources | awk '{print $2}' | grep -v security | head -1 || true)
    if [[ -z $URI ]]; then
        URI=$(grep -hs '^deb ' /etc/apt/sources.list | awk '{print $2}' | grep -v security | head -1 || true)
    fi
    [[ -n $URI ]] || die "no Debian mirror found in /etc/apt/sources*"
    printf 'Types: deb\nURIs: %s\nSuites: trixie\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' \
        "$URI" >"$D/sources/trixie.sources"
    A=(-o Dir::Etc::SourceList=/dev/null -o "Dir::Etc::SourceParts=$D/sources"
        -o "Dir::State::Lists=$D/lists" -o "Dir::Cache=$D/cache" -o Dir::Cache::pkgcache=
        -o Dir::Cache::srcpkgcache= -o APT::Sandbox::User=root)
    apt-get "${A[@]}" update -q >&2
    (cd "$D/debs" && apt-get "${A[@]}" download b3sum >&2)
    for f in "$D"/debs/b3sum_*.deb; do dpkg-deb -x "$f" "$PEERS/root"; done
fi
"$B3SUM" --version >/dev/null || die "b3sum at $B3SUM does not run"

MS=$PEERS/venv/bin/model_signing
if [[ ! -x $MS ]]; then
    log "installing model-signing 1.1.1 into $PEERS/venv"
    python3 -m venv "$PEERS/venv"
    "$PEERS/venv/bin/pip" install -q model-signing==1.1.1 pyopenssl >&2
fi

# ---------------------------------------------------------------------------------------------
# Datasets
# ---------------------------------------------------------------------------------------------
# Bytes come from AES-CTR over zeros: incompressible, and faster to write than /dev/urandom.
stream() { # stream SEED BYTES
    # openssl dies of SIGPIPE when head has enough: not a failure.
    { openssl enc -aes-128-ctr -nosalt -pbkdf2 -pass "pass:tollgate-bench-$1" </dev/zero 2>/dev/null || true; } |
        head -c "$2"
}
# make_dataset NAME COUNT BYTES_EACH: NAME/fNNNN, COUNT files of BYTES_EACH bytes.
make_dataset() {
    local dir=$BENCH_DIR/$1 count=$2 each=$3
    if [[ $REUSE == 1 && -d $dir ]] &&
        [[ $(find "$dir" -type f -size "${each}c" | wc -l) == "$count" ]] &&
        [[ $(find "$dir" -type f | wc -l) == "$count" ]]; then
        log "reusing $dir"
        return
    fi
    log "writing $dir: $count x $each bytes"
    rm -rf "$dir"
    mkdir -p "$dir"
    stream "$1" $((count * each)) | (cd "$dir" && split -a 4 -d -b "$each" - f)
}
warm() { # read every file once so all commands see the page cache warm
    find "$1" -type f -exec cat {} + >/dev/null
}

mkdir -p "$BENCH_DIR"
LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)
OUT=$(mktemp -d "${TMPDIR:-/tmp}/tollgate-bench-results.XXXXXX")
cleanup() {
    # Keep the raw timings (small) next to the datasets for a second look.
    cp "$OUT"/*.times "$OUT"/results.tsv "$OUT"/sizes.tsv "$BENCH_DIR"/ 2>/dev/null || true
    rm -rf "$OUT"
    if [[ $KEEP != 1 ]]; then rm -rf "$BENCH_DIR"/{big,eight,small,model}; fi
}
trap cleanup EXIT

openssl ecparam -name prime256v1 -genkey -noout -out "$OUT/key.pem" 2>/dev/null

TGF=(--no-progress)
[[ -n $THREADS ]] && TGF+=(--threads "$THREADS")
TGS="$TG hash ${TGF[*]}"

# ---------------------------------------------------------------------------------------------
# Timing. Rounds are interleaved (round 1 runs every command once, then round 2, ...) so load
# that comes and goes on a shared machine hits every command alike; the median per command is
# reported. Each run is timed by hyperfine (-N: no shell, paths already expanded) when present,
# else by date +%s.%N around the command. As root, timed commands run at nice -10 (BENCH_NICE)
# so that background jobs on a small machine disturb them less.
# ---------------------------------------------------------------------------------------------
NICE=()
if [[ $(id -u) == 0 && ${BENCH_NICE:--10} != 0 ]]; then
    NICE=(nice -n "${BENCH_NICE:--10}")
    # With autogroup scheduling, nice only ranks tasks inside one session: raise this session too.
    if [[ -w /proc/self/autogroup ]]; then echo "${BENCH_NICE:--10}" >/proc/self/autogroup 2>/dev/null || true; fi
fi

# Waits (up to QUIET_WAIT seconds, default 30) until other processes use less than
# QUIET_BUSY percent (default 20) of all CPUs over half a second. Counts runs started busy.
BUSY_STARTS=0
cpu_busy_pct() {
    local a b
    a=($(head -1 /proc/stat))
    sleep 0.5
    b=($(head -1 /proc/stat))
    local idle=$(((b[4] + b[5]) - (a[4] + a[5]))) total=0 i
    for i in 1 2 3 4 5 6 7 8; do total=$((total + b[i] - a[i])); done
    ((total > 0)) || { echo 0; return; }
    echo $((100 * (total - idle) / total))
}
wait_quiet() {
    local deadline=$((SECONDS + ${QUIET_WAIT:-30}))
    while (($(cpu_busy_pct) >= ${QUIET_BUSY:-20})); do
        if ((SECONDS >= deadline)); then
            BUSY_STARTS=$((BUSY_STARTS + 1))
            return
        fi
        sleep 1
    done
}

time_once() { # time_once CMD: prints seconds
    if command -v hyperfine >/dev/null; then
        "${NICE[@]}" hyperfine -N --runs 1 --style none --export-json "$OUT/once.json" "$1" >/dev/null 2>&1 ||
            die "failed: $1"
        python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["results"][0]["median"])' "$OUT/once.json"
    else
        local t0 t1
        t0=$(date +%s.%N)
        # shellcheck disable=SC2086 # the command is a word list; paths hold no blanks or globs
        "${NICE[@]}" $1 >/dev/null 2>&1 || die "failed: $1"
        t1=$(date +%s.%N)
        awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.6f\n", b - a}'
    fi
}

# bench DATASET NAME1 CMD1 NAME2 CMD2 ...: appends "dataset<TAB>name<TAB>median" to results.tsv.
bench() {
    local ds=$1
    shift
    local names=() cmds=() i r w
    while (($#)); do names+=("$1"); cmds+=("$2"); shift 2; done
    for ((w = 0; w < WARMUP; w++)); do
        for i in "${!cmds[@]}"; do time_once "${cmds[$i]}" >/dev/null; done
    done
    : >"$OUT/$ds.times"
    for ((r = 1; r <= RUNS; r++)); do
        for i in "${!cmds[@]}"; do
            local t
            wait_quiet
            t=$(time_once "${cmds[$i]}")
            log "$ds round $r/$RUNS: ${names[$i]}: ${t}s"
            printf '%s\t%s\n' "${names[$i]}" "$t" >>"$OUT/$ds.times"
        done
    done
    python3 - "$OUT/$ds.times" "$ds" >>"$OUT/results.tsv" <<'PY'
import statistics, sys
times = {}
for line in open(sys.argv[1]):
    name, t = line.rstrip("\n").split("\t")
    times.setdefault(name, []).append(float(t))
for name, ts in times.items():
    print(f"{sys.argv[2]}\t{name}\t{statistics.median(ts):.4f}\t{min(ts):.4f}\t{max(ts):.4f}")
PY
}

: >"$OUT/results.tsv"
: >"$OUT/sizes.tsv"

# run_dataset DATASET [NAME CMD]...: the anchors and tollgate's BLAKE3 and files-mode SHA-256.
run_dataset() {
    local ds=$1 dir=$BENCH_DIR/$1
    shift
    printf '%s\t%s\t%s\n' "$ds" "$(find "$dir" -type f -printf '%s\n' | awk '{s+=$1} END {printf "%.0f", s}')" \
        "$(find "$dir" -type f | wc -l)" >>"$OUT/sizes.tsv"
    warm "$dir"
    local files
    files=$(find "$dir" -type f | sort | tr '\n' ' ')
    bench "$ds" \
        "b3sum" "$B3SUM $files" \
        "openssl dgst -sha256" "openssl dgst -sha256 $files" \
        "model_signing sign key" "$MS sign key --private_key $OUT/key.pem --signature $OUT/$ds.sig $dir" \
        "tollgate hash -a blake3" "$TGS -a blake3 $dir" \
        "tollgate hash (sha256 files)" "$TGS $dir" \
        "$@"
}

make_dataset big 1 "$BIG_BYTES"
run_dataset big \
    "tollgate hash --shards (sha256, 1e9 B)" "$TGS --shards $BENCH_DIR/big" \
    "tollgate hash --shard-size $SHARD_SIZE (sha256)" "$TGS --shard-size $SHARD_SIZE $BENCH_DIR/big"
[[ $KEEP == 1 ]] || rm -rf "$BENCH_DIR/big"

make_dataset eight 8 "$EIGHT_BYTES"
run_dataset eight
[[ $KEEP == 1 ]] || rm -rf "$BENCH_DIR/eight"

make_dataset small "$SMALL_COUNT" "$SMALL_BYTES"
run_dataset small
[[ $KEEP == 1 ]] || rm -rf "$BENCH_DIR/small"

# ---------------------------------------------------------------------------------------------
# Report
# ---------------------------------------------------------------------------------------------
report() {
    python3 - "$OUT/results.tsv" "$OUT/sizes.tsv" <<'EOF'
import sys
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1]) if l.strip()]
sizes = {d: (int(b), int(n)) for d, b, n in (l.split() for l in open(sys.argv[2]) if l.strip())}
anchors = ["b3sum", "openssl dgst -sha256", "model_signing sign key"]
def human(n):
    for unit, f in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= f and n % f == 0:
            return f"{n // f} {unit}"
    return f"{n} B"
print("| dataset | command | median s | min–max s | GB/s | x b3sum | x openssl | x model_signing |")
print("|---|---|---:|---:|---:|---:|---:|---:|")
for ds in dict.fromkeys(r[0] for r in rows):
    total, count = sizes[ds]
    name = f"{count} x {human(total // count)}"
    med = {c: float(t) for d, c, t, *_ in rows if d == ds}
    rng = {c: f"{float(lo):.3f}–{float(hi):.3f}" for d, c, _, lo, hi in rows if d == ds}
    for cmd, t in med.items():
        ratios = [f"{med[a] / t:.2f}" if a in med else "-" for a in anchors]
        print(f"| {name} | `{cmd}` | {t:.3f} | {rng[cmd]} | {total / 1e9 / t:.2f} | " + " | ".join(ratios) + " |")
EOF
}

# ---------------------------------------------------------------------------------------------
# Memory: a 10 GB model of 1,000 x 10 MB files. Peak RSS from /usr/bin/time -v, and anonymous
# RSS sampled from /proc/PID/status while tollgate runs (file-backed pages of the maps are the
# page cache, shared and reclaimable; anonymous memory is what the process really allocates).
# ---------------------------------------------------------------------------------------------
measure_memory() { # measure_memory LABEL ARGS...
    local label=$1
    shift
    local tf=$OUT/time.txt
    /usr/bin/time -v -o "$tf" "$TG" hash "${TGF[@]}" "$@" >/dev/null &
    local tpid=$! pid="" anon=0 k v _
    while kill -0 "$tpid" 2>/dev/null; do
        [[ -n $pid ]] || pid=$(pgrep -P "$tpid" || true)
        if [[ -n $pid && -r /proc/$pid/status ]]; then
            while read -r k v _; do
                if [[ $k == RssAnon: ]] && ((v > anon)); then anon=$v; fi
            done <"/proc/$pid/status" 2>/dev/null || true
        fi
        sleep 0.005
    done
    wait "$tpid"
    local maxrss wall
    maxrss=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$tf")
    wall=$(awk -F': ' '/Elapsed \(wall clock\)/ {print $2}' "$tf")
    awk -v l="$label" -v w="$wall" -v m="$maxrss" -v a="$anon" \
        'BEGIN {printf "| %s | %s | %.1f MiB | %.1f MiB |\n", l, w, m / 1024, a / 1024}'
}

MEM_TABLE=""
if [[ $MEMORY == 1 ]]; then
    make_dataset model "$MODEL_COUNT" "$MODEL_BYTES"
    warm "$BENCH_DIR/model"
    MEM_TABLE=$(
        echo "| tollgate hash of $MODEL_COUNT x 10 MB | wall (m:ss) | max RSS (time -v) | peak RssAnon (sampled) |"
        echo "|---|---:|---:|---:|"
        measure_memory "sha256, files" "$BENCH_DIR/model"
        measure_memory "blake3, files" -a blake3 "$BENCH_DIR/model"
        measure_memory "sha256, --shards" --shards "$BENCH_DIR/model"
    )
    [[ $KEEP == 1 ]] || rm -rf "$BENCH_DIR/model"
fi

echo
echo "Machine: $(nproc) cores, $(grep -m1 '^model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')," \
    "$(awk '/MemTotal/ {printf "%.0f GiB RAM", $2/1048576}' /proc/meminfo);" \
    "$($TG --version), $($B3SUM --version), $(openssl version | cut -d' ' -f1-2), model_signing $("$PEERS/venv/bin/pip" show model-signing 2>/dev/null | awk '/^Version/ {print $2}')"
echo "Runs: median of $RUNS interleaved rounds after $WARMUP warm-up, page cache warm, ${NICE[*]:-no nice}; BENCH_SCALE=$BENCH_SCALE; $BUSY_STARTS timed runs started while other processes used >= ${QUIET_BUSY:-20}% CPU; load average at start $LOAD0, at end $(cut -d' ' -f1-3 /proc/loadavg)"
echo
report
if [[ -n $MEM_TABLE ]]; then
    echo
    echo "$MEM_TABLE"
fi
