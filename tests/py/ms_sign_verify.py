#!/usr/bin/env python3
"""Sign and verify models with the real model_signing (1.1.1): the peer side of
tests/tests/model_sign_verify.rs.

Subcommands (every path should be absolute: the model_signing CLI resolves relative ones
against the current directory):

    ms_sign_verify.py cli ARGS...
        Runs the model_signing CLI (`model_signing ARGS...`) in this interpreter, exactly as
        the `model_signing` console script does, and exits with its exit code.

    ms_sign_verify.py sign --method key|certificate --private-key KEY --signature OUT
                           [--signing-certificate LEAF] [--certificate-chain PEM]...
                           [--algorithm sha256|blake2b|blake3] [--shard-size N] MODEL
        Signs through the Python API with an explicit hashing config (the CLI has no hash or
        shard options in 1.1.1).

    ms_sign_verify.py verify --method key|certificate (--public-key PUB |
                             --certificate-chain PEM...) --signature SIG
                             [--algorithm ...] [--shard-size N] [--ignore-unsigned-files] MODEL
        Verifies through the Python API with an explicit hashing config matching the
        signature (1.1.1 mis-guesses blake2b and float shard sizes, so never let it guess).

    ms_sign_verify.py batch REQUESTS.json
        One interpreter for many requests (importing model_signing costs ~0.6 s): the file
        holds a JSON list of objects, each one of
            {"cmd": "cli", "args": [...]}
            {"cmd": "sign", "model", "signature", "method", "private_key",
             "signing_certificate"?, "certificate_chain"?: [...], "algorithm"?, "shard_size"?}
            {"cmd": "verify", "model", "signature", "method", "public_key"?,
             "certificate_chain"?: [...], "algorithm"?, "shard_size"?,
             "ignore_unsigned_files"?}
        and stdout gets one JSON list with an answer per request, in order:
            {"ok": bool, "code": int, "output": str}
        where `code` is the CLI's exit code (0/1; API requests: 0 or 1 when it raised) and
        `output` is what the CLI printed, or the API's error as "ExceptionType: message".

`sign` and `verify` exit 0 on success, 1 (printing the error) on failure.
"""

import argparse
import contextlib
import io
import json
import logging
import sys
import traceback

try:
    import model_signing
    from model_signing import _cli, hashing, signing, verifying
except ImportError as err:  # pragma: no cover - environment problem, reported clearly
    sys.exit(
        f"ms_sign_verify.py: cannot import model_signing ({err}); "
        "run scripts/test, which installs model-signing==1.1.1 and pyopenssl"
    )

# model_signing names BLAKE2b-512 "blake2" in its API but records "blake2b".
API_ALGORITHM = {"sha256": "sha256", "blake2b": "blake2", "blake2": "blake2", "blake3": "blake3"}


def hashing_config(algorithm="sha256", shard_size=None):
    """The explicit hashing config for a serialization (git paths ignored, as by default)."""
    algorithm = API_ALGORITHM[algorithm]
    config = hashing.Config()
    if shard_size is None:
        config.use_file_serialization(hashing_algorithm=algorithm)
    else:
        config.use_shard_serialization(hashing_algorithm=algorithm, shard_size=int(shard_size))
    return config


def api_sign(model, signature, method, private_key, signing_certificate=None,
             certificate_chain=(), algorithm="sha256", shard_size=None):
    config = signing.Config()
    if method == "key":
        config.use_elliptic_key_signer(private_key=private_key)
    elif method == "certificate":
        config.use_certificate_signer(
            private_key=private_key,
            signing_certificate=signing_certificate,
            certificate_chain=list(certificate_chain),
        )
    else:
        raise ValueError(f"unknown signing method {method!r}")
    config.set_hashing_config(hashing_config(algorithm, shard_size)).sign(model, signature)


def api_verify(model, signature, method, public_key=None, certificate_chain=(),
               algorithm="sha256", shard_size=None, ignore_unsigned_files=False):
    config = verifying.Config()
    if method == "key":
        config.use_elliptic_key_verifier(public_key=public_key)
    elif method == "certificate":
        config.use_certificate_verifier(certificate_chain=list(certificate_chain))
    else:
        raise ValueError(f"unknown verification method {method!r}")
    config.set_hashing_config(hashing_config(algorithm, shard_size))
    config.set_ignore_unsigned_files(ignore_unsigned_files)
    config.verify(model, signature)


def run_cli(args):
    """Runs `model_signing ARGS` in-process; returns (exit code, stdout + stderr)."""
    out = io.StringIO()
    code = 0
    # The CLI's logging.basicConfig() binds the first stderr it sees; start afresh each run so
    # its log lines land in this run's output.
    for handler in list(logging.root.handlers):
        logging.root.removeHandler(handler)
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
        try:
            _cli.main.main(args=list(args), prog_name="model_signing", standalone_mode=True)
        except SystemExit as exit_:
            if exit_.code is None:
                code = 0
            elif isinstance(exit_.code, int):
                code = exit_.code
            else:
                print(exit_.code)
                code = 1
        except Exception:  # noqa: BLE001 - an uncaught CLI crash is reported, not raised
            traceback.print_exc()
            code = 1
    return code, out.getvalue()


def run_api(function, request):
    try:
        function(**request)
    except Exception as err:  # noqa: BLE001 - reported to the caller as data
        return 1, f"{type(err).__name__}: {err}"
    return 0, ""


def answer(request):
    request = dict(request)
    cmd = request.pop("cmd")
    if cmd == "cli":
        code, output = run_cli(request["args"])
    elif cmd == "sign":
        code, output = run_api(api_sign, request)
    elif cmd == "verify":
        code, output = run_api(api_verify, request)
    else:
        code, output = 2, f"unknown cmd {cmd!r}"
    return {"ok": code == 0, "code": code, "output": output}


def main():
    argv = sys.argv[1:]
    if argv[:1] == ["cli"]:
        code, output = run_cli(argv[1:])
        sys.stdout.write(output)
        sys.exit(code)
    if argv[:1] == ["batch"] and len(argv) == 2:
        with open(argv[1], encoding="utf-8") as f:
            requests = json.load(f)
        json.dump([answer(r) for r in requests], sys.stdout)
        sys.stdout.write("\n")
        return

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="cmd", required=True)
    for name in ("sign", "verify"):
        p = sub.add_parser(name)
        p.add_argument("model")
        p.add_argument("--method", choices=["key", "certificate"], required=True)
        p.add_argument("--signature", required=True)
        p.add_argument("--certificate-chain", action="append", default=[])
        p.add_argument("--algorithm", default="sha256", choices=sorted(API_ALGORITHM))
        p.add_argument("--shard-size", type=int)
        if name == "sign":
            p.add_argument("--private-key", required=True)
            p.add_argument("--signing-certificate")
        else:
            p.add_argument("--public-key")
            p.add_argument("--ignore-unsigned-files", action="store_true")
    sub.add_parser("batch").add_argument("requests")
    sub.add_parser("cli").add_argument("args", nargs=argparse.REMAINDER)
    args = vars(parser.parse_args())
    cmd = args.pop("cmd")
    function = api_sign if cmd == "sign" else api_verify
    code, output = run_api(function, args)
    print(output or f"{cmd}: ok (model_signing {model_signing.__version__})")
    sys.exit(code)


if __name__ == "__main__":
    main()
