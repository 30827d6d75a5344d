#!/usr/bin/env python3
"""Print the manifest the real model_signing (1.1.1) computes for a model, as JSON.

Used by tests/tests/model_signing_interop.rs as the reference side of differential tests.

Single model:
    ms_manifest.py MODEL [--algorithm sha256|blake2b|blake3] [--shard-size N]
                         [--ignore PATH]... [--no-ignore-git-paths] [--allow-symlinks]
prints one object:
    {"root": hex, "model_name": str, "serialization": {...},
     "resources": [{"name": str, "digest": hex, "algorithm": str}, ...]}
where root is SHA-256 over the concatenated raw resource digests, in the order
model_signing lists them (its canonical order; this is what it signs as subject digest).

Batch (one interpreter start for many requests; importing model_signing takes ~1 s):
    ms_manifest.py --batch  < [{"model": path, "algorithm": .., "shard_size": N|null,
                                "ignore": [..], "ignore_git_paths": bool,
                                "allow_symlinks": bool}, ...]
prints a JSON list with one such object per request, or {"error": "..."} where
model_signing raised (e.g. it refused a symlink).

Server (what the Rust tests use: one interpreter per test process):
    ms_manifest.py --serve
reads one batch (a JSON list, as above) per line on stdin and answers each with one line
holding the JSON list of results; exits at end of input.
"""

import argparse
import hashlib
import json
import sys

try:
    from model_signing import hashing
except ImportError as err:  # pragma: no cover - environment problem, reported clearly
    sys.exit(
        f"ms_manifest.py: cannot import model_signing ({err}); "
        "run scripts/test, which installs model-signing==1.1.1 and pyopenssl"
    )

# model_signing names BLAKE2b-512 "blake2" in its API but records "blake2b".
API_ALGORITHM = {"sha256": "sha256", "blake2b": "blake2", "blake2": "blake2", "blake3": "blake3"}


def manifest(model, algorithm="sha256", shard_size=None, ignore=(),
             ignore_git_paths=True, allow_symlinks=False):
    algorithm = API_ALGORITHM[algorithm]
    config = hashing.Config()
    if shard_size is None:
        config.use_file_serialization(hashing_algorithm=algorithm,
                                      allow_symlinks=allow_symlinks)
    else:
        config.use_shard_serialization(hashing_algorithm=algorithm,
                                       shard_size=int(shard_size),
                                       allow_symlinks=allow_symlinks)
    config.set_ignored_paths(paths=list(ignore), ignore_git_paths=ignore_git_paths)
    # Config.hash() re-applies its own flag, overriding the serializer's argument above.
    config.set_allow_symlinks(allow_symlinks)
    result = config.hash(model)
    root = hashlib.sha256()
    resources = []
    for descriptor in result.resource_descriptors():
        root.update(descriptor.digest.digest_value)
        resources.append({
            "name": descriptor.identifier,
            "digest": descriptor.digest.digest_value.hex(),
            "algorithm": descriptor.digest.algorithm,
        })
    serialization = dict(result.serialization_type)
    if "ignore_paths" in serialization:
        serialization["ignore_paths"] = sorted(str(p) for p in serialization["ignore_paths"])
    return {
        "root": root.hexdigest(),
        "model_name": result.model_name,
        "serialization": serialization,
        "resources": resources,
    }


def answer(requests):
    out = []
    for request in requests:
        request = dict(request)
        model = request.pop("model")
        try:
            out.append(manifest(model, **request))
        except Exception as err:  # noqa: BLE001 - reported to the caller as data
            out.append({"error": f"{type(err).__name__}: {err}"})
    return out


def main():
    if sys.argv[1:] == ["--batch"]:
        json.dump(answer(json.load(sys.stdin)), sys.stdout)
        sys.stdout.write("\n")
        return
    if sys.argv[1:] == ["--serve"]:
        for line in sys.stdin:
            if line.strip():
                sys.stdout.write(json.dumps(answer(json.loads(line))) + "\n")
                sys.stdout.flush()
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model")
    parser.add_argument("--algorithm", default="sha256", choices=sorted(API_ALGORITHM))
    parser.add_argument("--shard-size", type=int)
    parser.add_argument("--ignore", action="append", default=[])
    parser.add_argument("--no-ignore-git-paths", action="store_true")
    parser.add_argument("--allow-symlinks", action="store_true")
    args = parser.parse_args()
    json.dump(manifest(args.model, args.algorithm, args.shard_size, args.ignore,
                       not args.no_ignore_git_paths, args.allow_symlinks),
              sys.stdout, indent=2)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
