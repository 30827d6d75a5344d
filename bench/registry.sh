#!/usr/bin/env bash
# Registry transfer benchmark: `tollgate push model` / `tollgate pull model` against
# `oras push` / `oras pull` (oras 1.2), same model, same local CNCF distribution registry
# (docker-registry, plain HTTP on 127.0.0.1, storage on disk), page cache warm.
#
# Every round pushes into a fresh repository (so no blob is skipped) and pulls into a fresh
# directory; tools alternate which goes first. Reports the median wall time per command and
# the ratio oras / tollgate (> 1.0: tollgate is faster).
#
# Pulls are compared twice, because the tools promise different things: `tollgate pull model`
# syncs every file to disk before naming it (a crash never leaves a named file with unwritten
# content), so it is compared with `oras pull && sync`; `tollgate pull model --no-sync` is
# compared with plain `oras pull`, which leaves the writeback to the kernel.
#
# Usage: bench/registry.sh
#   BENCH_DIR=/tmp/tollgate-bench-registry  model, registry storage and pulls (deleted at the end)
#   BENCH_SCALE=1    divide the model size by this integer for a quick run (e.g. 16)
#   FILES=8          number of files; each is 4 GiB / FILES / BENCH_SCALE
#   RUNS=3           rounds (median reported)
#   TOLLGATE_BIN=    use this tollgate binary instead of building the release one
#   TOLLGATE_CACHE=<repo>/.cache   oras is cached under it/peers (scripts/install-oras)
#
# Peak disk use: the model (4 GiB), one copy in the registry, and one pulled copy (~12 GiB).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BENCH_DIR=${BENCH_DIR:-/tmp/tollgate-bench-registry}
BENCH_SCALE=${BENCH_SCALE:-1}
FILES=${FILES:-8}
RUNS=${RUNS:-3}

log() { printf '==> %s\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 2; }

[[ $BENCH_SCALE =~ ^[1-9][0-9]*$ ]] || die "BENCH_SCALE must be a positive integer"
[[ $FILES =~ ^[1-9][0-9]*$ ]] || die "FILES must be a positive integer"
[[ $RUNS =~ ^[1-9][0-9]*$ ]] || die "RUNS must be a positive integer"
FILE_BYTES=$(((4096 << 20) / FILES / BENCH_SCALE))

if [[ -n ${TOLLGATE_BIN:-} ]]; then
    TG=$TOLLGATE_BIN # e.g. a debug build, to smoke-test this script
else
    log "building tollgate (release)"
    (cd "$ROOT" && cargo build --release -q -p tollgate)
    TG=${CARGO_TARGET_DIR:-$ROOT/target}/release/tollgate
fi
[[ -x $TG ]] || die "no tollgate binary at $TG"
ORAS=$("$ROOT/scripts/install-oras")
"$ROOT/scripts/install-registry" >/dev/null 2>&1 || true
REGISTRY_BIN=${TOLLGATE_DOCKER_REGISTRY:-$(command -v docker-registry || true)}
[[ -x $REGISTRY_BIN ]] || die "docker-registry is not installed: run scripts/install-registry"

rm -rf "$BENCH_DIR"
mkdir -p "$BENCH_DIR/model" "$BENCH_DIR/storage" "$BENCH_DIR/pulled"
REG_PID=
cleanup() {
    [[ -n $REG_PID ]] && kill "$REG_PID" 2>/dev/null && wait "$REG_PID" 2>/dev/null || true
    rm -rf "$BENCH_DIR"
}
trap cleanup EXIT

log "writing the model: $FILES x $FILE_BYTES bytes"
for i in $(seq 1 "$FILES"); do
    # Incompressible bytes, fast: AES-CTR keystream from openssl.
    { openssl enc -aes-128-ctr -nosalt -pass "pass:tollgate-bench-$i" </dev/zero 2>/dev/null || true; } |
        head -c "$FILE_BYTES" >"$BENCH_DIR/model/model-$(printf '%05d' "$i")-of-$(printf '%05d' "$FILES").safetensors"
done
cat "$BENCH_DIR"/model/* >/dev/null # page cache warm for both tools

PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
HOST=127.0.0.1:$PORT
cat >"$BENCH_DIR/config.yml" <<EOF
version: 0.1
log:
  level: error
storage:
  filesystem:
    rootdirectory: $BENCH_DIR/storage
  delete:
    enabled: true
http:
  addr: $HOST
EOF
"$REGISTRY_BIN" serve "$BENCH_DIR/config.yml" >"$BENCH_DIR/registry.log" 2>&1 &
REG_PID=$!
for _ in $(seq 1 100); do
    curl -sf "http://$HOST/v2/" >/dev/null 2>&1 && break
    sleep 0.1
done
curl -sf "http://$HOST/v2/" >/dev/null || die "the registry did not start: $(cat "$BENCH_DIR/registry.log")"

# seconds COMMAND...: wall time of one run, output discarded (a failure aborts the benchmark).
seconds() {
    local start end
    start=$(date +%s.%N)
    "$@" >/dev/null 2>"$BENCH_DIR/last.err" || die "$* failed: $(cat "$BENCH_DIR/last.err")"
    end=$(date +%s.%N)
    python3 -c "print(f'{$end - $start:.3f}')"
}

declare -A TIMES
record() { TIMES[$1]="${TIMES[$1]:-} $2"; }

push_tollgate() { "$TG" push model "$BENCH_DIR/model" "$HOST/bench/tollgate-$1:v1" --plain-http --no-progress; }
pull_tollgate() { "$TG" pull model "$HOST/bench/tollgate-$1:v1" "$BENCH_DIR/pulled/tollgate-$1" --plain-http; }
nosync_tollgate() { "$TG" pull model "$HOST/bench/tollgate-$1:v1" "$BENCH_DIR/pulled/tollgate-$1" --plain-http --no-sync; }
push_oras() { (cd "$BENCH_DIR/model" && "$ORAS" push --plain-http "$HOST/bench/oras-$1:v1" ./*.safetensors); }
pull_oras() { "$ORAS" pull --plain-http -o "$BENCH_DIR/pulled/oras-$1" "$HOST/bench/oras-$1:v1" && sync; }
nosync_oras() { "$ORAS" pull --plain-http -o "$BENCH_DIR/pulled/oras-$1" "$HOST/bench/oras-$1:v1"; }

export HOME=$BENCH_DIR # oras keeps its credential store there
for round in $(seq 1 "$RUNS"); do
    if ((round % 2)); then order="tollgate oras"; else order="oras tollgate"; fi
    for tool in $order; do
        t=$(seconds "push_$tool" "$round"); record "push_$tool" "$t"
        sync
        for op in pull nosync; do
            t=$(seconds "${op}_$tool" "$round"); record "${op}_$tool" "$t"
            cmp -s "$BENCH_DIR/model/$(ls "$BENCH_DIR/model" | head -1)" \
                "$BENCH_DIR/pulled/$tool-$round/$(ls "$BENCH_DIR/model" | head -1)" || die "$tool pulled different bytes"
            rm -rf "$BENCH_DIR/pulled/$tool-$round"
            sync
        done
        log "round $round $tool: push ${TIMES[push_$tool]##* } s, pull+sync ${TIMES[pull_$tool]##* } s, pull ${TIMES[nosync_$tool]##* } s"
    done
done

median() { tr ' ' '\n' | grep -v '^$' | sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
TOTAL=$((FILE_BYTES * FILES))
printf '\nmodel: %d files, %d bytes; %d rounds; registry: %s (distribution %s)\n' \
    "$FILES" "$TOTAL" "$RUNS" "$HOST" "$("$REGISTRY_BIN" --version 2>/dev/null | awk '{print $3}')"
printf '%-28s %10s %10s %8s %14s\n' "operation (tollgate | oras)" tollgate_s oras_s ratio tollgate_MB/s
for op in push pull nosync; do
    case $op in
        push) label="push | push" ;;
        pull) label="pull | pull && sync" ;;
        nosync) label="pull --no-sync | pull" ;;
    esac
    tg=$(echo "${TIMES[${op}_tollgate]}" | median)
    or=$(echo "${TIMES[${op}_oras]}" | median)
    python3 -c "print(f'{\"$label\":<28} {$tg:>10.2f} {$or:>10.2f} {$or / $tg:>7.2f}x {$TOTAL / $tg / 1e6:>14.0f}')"
done
