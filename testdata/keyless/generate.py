#!/usr/bin/env python3
"""Generates the keyless (Sigstore) image-signature test material in this directory.

A private Sigstore instance in miniature: a "Fulcio" root CA, a Rekor log key and a CT log key,
written as trusted_root.json; a Fulcio-profile leaf certificate (SAN URI, OIDC issuer extensions
1.3.6.1.4.1.57264.1.1 and .1.8, codeSigning EKU, 10-minute validity) with an embedded SCT signed
by the CT key over the RFC 6962 precertificate entry; and, for a small deterministic OCI image:

- sig/: a legacy cosign `.sig` layer (simple-signing payload, signature, certificate, chain and a
  Rekor SET bundle over a hashedrekord v0.0.1 entry),
- att/: a legacy cosign `.att` layer (DSSE envelope of an in-toto statement, with an intoto
  v0.0.2 entry and its SET),
- referrer/: Sigstore bundles v0.3 (DSSE, dsse v0.0.1 entries with an inclusion promise and an
  inclusion proof in a six-leaf tree under a signed checkpoint) for cosign v3's image
  signature (predicate https://sigstore.dev/cosign/sign/v1) and for an attestation, keyless,
  and an image signature made with a self-managed key (key.pub) whose entry was logged too;
- model/ and model.sig: a tiny model directory and its keyless OpenSSF model signing v1.0
  bundle, as model_signing's `sign sigstore` writes it (v0.3, certificate, dsse v0.0.1 entry).

All logged entries (bundles 0-2, legacy 3-4, model 5) form one RFC 6962 tree of six leaves.

Every signature is real (ECDSA P-256, SHA-256); nothing is checked by this script, tollgate's
tests verify it. Needs python3-cryptography. Run: python3 testdata/keyless/generate.py
Private keys are not kept: the material cannot be extended, only regenerated.
"""

import base64
import datetime as dt
import hashlib
import json
import os
import struct

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

HERE = os.path.dirname(os.path.abspath(__file__))
IDENTITY = "https://github.com/tollgate-test/app/.github/workflows/release.yml@refs/heads/main"
ISSUER = "https://token.actions.githubusercontent.com"
SIGNED_REPOSITORY = "registry.example/keyless/app"
ATTEST_TYPE = "https://tollgate.dev/test/keyless/v1"
INTOTO = "application/vnd.in-toto+json"
# Signing happened here (fixed, in the past): the leaf is valid for 10 minutes from T.
T = dt.datetime(2026, 11, 1, 12, 0, 0, tzinfo=dt.timezone.utc)
INTEGRATED = int(T.timestamp()) + 60
ROOT_START = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def spki(key) -> bytes:
    return key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def sign(key, data: bytes) -> bytes:
    return key.sign(data, ec.ECDSA(hashes.SHA256()))


def canonical(value) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":")).encode()


def write(rel: str, data: bytes) -> None:
    path = os.path.join(HERE, rel)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)


def write_json(rel: str, value) -> None:
    write(rel, (json.dumps(value, indent=2) + "\n").encode())


ca_key = ec.generate_private_key(ec.SECP256R1())
rekor_key = ec.generate_private_key(ec.SECP256R1())
ct_key = ec.generate_private_key(ec.SECP256R1())
leaf_key = ec.generate_private_key(ec.SECP256R1())
rekor_id = sha256(spki(rekor_key))
ct_id = sha256(spki(ct_key))

ca_name = x509.Name(
    [
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, "tollgate-test"),
        x509.NameAttribute(NameOID.COMMON_NAME, "tollgate-test-fulcio"),
    ]
)
ca = (
    x509.CertificateBuilder()
    .subject_name(ca_name)
    .issuer_name(ca_name)
    .public_key(ca_key.public_key())
    .serial_number(x509.random_serial_number())
    .not_valid_before(ROOT_START)
    .not_valid_after(ROOT_START + dt.timedelta(days=3650))
    .add_extension(x509.BasicConstraints(ca=True, path_length=1), critical=True)
    .add_extension(
        x509.KeyUsage(False, False, False, False, False, True, True, False, False),
        critical=True,
    )
    .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
    .sign(ca_key, hashes.SHA256())
)


def der_utf8(text: str) -> bytes:
    raw = text.encode()
    assert len(raw) < 128
    return bytes([0x0C, len(raw)]) + raw


def leaf_builder(serial: int):
    return (
        x509.CertificateBuilder()
        .subject_name(x509.Name([]))
        .issuer_name(ca_name)
        .public_key(leaf_key.public_key())
        .serial_number(serial)
        .not_valid_before(T)
        .not_valid_after(T + dt.timedelta(minutes=10))
        .add_extension(x509.KeyUsage(True, False, False, False, False, False, False, False, False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CODE_SIGNING]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(leaf_key.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
        .add_extension(
            x509.SubjectAlternativeName([x509.UniformResourceIdentifier(IDENTITY)]), critical=True
        )
        .add_extension(
            x509.UnrecognizedExtension(x509.ObjectIdentifier("1.3.6.1.4.1.57264.1.1"), ISSUER.encode()),
            critical=False,
        )
        .add_extension(
            x509.UnrecognizedExtension(x509.ObjectIdentifier("1.3.6.1.4.1.57264.1.8"), der_utf8(ISSUER)),
            critical=False,
        )
    )


# RFC 6962 precertificate SCT: the CT log signs the TBS without the SCT extension.
serial = x509.random_serial_number()
precert = leaf_builder(serial).sign(ca_key, hashes.SHA256())
sct_time = int(T.timestamp() * 1000)
tbs = precert.tbs_certificate_bytes
signed_entry = (
    bytes([0, 0])
    + struct.pack(">Q", sct_time)
    + struct.pack(">H", 1)
    + sha256(spki(ca_key))
    + struct.pack(">I", len(tbs))[1:]
    + tbs
    + struct.pack(">H", 0)
)
sct_sig = sign(ct_key, signed_entry)
sct = (
    bytes([0])
    + ct_id
    + struct.pack(">Q", sct_time)
    + struct.pack(">H", 0)
    + bytes([4, 3])
    + struct.pack(">H", len(sct_sig))
    + sct_sig
)
sct_list = struct.pack(">H", len(sct) + 2) + struct.pack(">H", len(sct)) + sct
assert len(sct_list) < 65536
n = len(sct_list)
length = bytes([n]) if n < 128 else bytes([0x81, n]) if n < 256 else bytes([0x82]) + struct.pack(">H", n)
octet = bytes([0x04]) + length + sct_list
leaf = (
    leaf_builder(serial)
    .add_extension(
        x509.UnrecognizedExtension(x509.ObjectIdentifier("1.3.6.1.4.1.11129.2.4.2"), octet),
        critical=False,
    )
    .sign(ca_key, hashes.SHA256())
)
leaf_der = leaf.public_bytes(serialization.Encoding.DER)
leaf_pem = leaf.public_bytes(serialization.Encoding.PEM)
ca_pem = ca.public_bytes(serialization.Encoding.PEM)


def set_for(body: bytes, index: int) -> dict:
    payload = {
        "body": b64(body),
        "integratedTime": INTEGRATED,
        "logID": rekor_id.hex(),
        "logIndex": index,
    }
    return {"SignedEntryTimestamp": b64(sign(rekor_key, canonical(payload))), "Payload": payload}


def pae(payload_type: str, payload: bytes) -> bytes:
    t = payload_type.encode()
    return b"DSSEv1 %d %s %d %s" % (len(t), t, len(payload), payload)


# The image: deterministic, pushed by the tests.
config = b'{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}'
layer = b"tollgate keyless test layer\n"
manifest = canonical(
    {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {
            "mediaType": "application/vnd.oci.image.config.v1+json",
            "digest": "sha256:" + sha256(config).hex(),
            "size": len(config),
        },
        "layers": [
            {
                "mediaType": "application/vnd.oci.image.layer.v1.tar",
                "digest": "sha256:" + sha256(layer).hex(),
                "size": len(layer),
            }
        ],
    }
)
image_hex = sha256(manifest).hex()
write("image/config.json", config)
write("image/layer.bin", layer)
write("image/manifest.json", manifest)

# Legacy .sig layer: what cosign 2.x writes after keyless signing.
payload = canonical(
    {
        "critical": {
            "identity": {"docker-reference": SIGNED_REPOSITORY},
            "image": {"docker-manifest-digest": "sha256:" + image_hex},
            "type": "cosign container image signature",
        },
        "optional": {"env": "prod"},
    }
)
sig = sign(leaf_key, payload)
hashedrekord = canonical(
    {
        "apiVersion": "0.0.1",
        "kind": "hashedrekord",
        "spec": {
            "data": {"hash": {"algorithm": "sha256", "value": sha256(payload).hex()}},
            "signature": {"content": b64(sig), "publicKey": {"content": b64(leaf_pem)}},
        },
    }
)
write("sig/payload.json", payload)
write_json(
    "sig/annotations.json",
    {
        "dev.cosignproject.cosign/signature": b64(sig),
        "dev.sigstore.cosign/certificate": leaf_pem.decode(),
        "dev.sigstore.cosign/chain": ca_pem.decode(),
        "dev.sigstore.cosign/bundle": json.dumps(set_for(hashedrekord, 3), separators=(",", ":")),
    },
)


def statement(name, predicate_type, predicate, annotations=None) -> bytes:
    subject = {"digest": {"sha256": image_hex}}
    if name:
        subject["name"] = name
    if annotations:
        subject["annotations"] = annotations
    return canonical(
        {
            "_type": "https://in-toto.io/Statement/v1",
            "subject": [subject],
            "predicateType": predicate_type,
            "predicate": predicate,
        }
    )


def envelope(stmt: bytes):
    s = sign(leaf_key, pae(INTOTO, stmt))
    env = {"payload": b64(stmt), "payloadType": INTOTO, "signatures": [{"keyid": "", "sig": b64(s)}]}
    return env, s


# Legacy .att layer: cosign 2.x attest, intoto v0.0.2 entry.
att_stmt = statement(SIGNED_REPOSITORY, ATTEST_TYPE, {"model": "demo", "stage": "legacy"})
att_env, att_sig = envelope(att_stmt)
att_bytes = json.dumps(att_env, separators=(",", ":")).encode()
intoto = canonical(
    {
        "apiVersion": "0.0.2",
        "kind": "intoto",
        "spec": {
            "content": {
                "envelope": {
                    "payloadType": INTOTO,
                    "signatures": [{"publicKey": b64(leaf_pem), "sig": b64(b64(att_sig).encode())}],
                },
                "hash": {"algorithm": "sha256", "value": sha256(att_bytes).hex()},
                "payloadHash": {"algorithm": "sha256", "value": sha256(att_stmt).hex()},
            }
        },
    }
)
write("att/envelope.json", att_bytes)
write_json(
    "att/annotations.json",
    {
        "dev.cosignproject.cosign/signature": "",
        "dev.sigstore.cosign/certificate": leaf_pem.decode(),
        "dev.sigstore.cosign/chain": ca_pem.decode(),
        "dev.sigstore.cosign/bundle": json.dumps(set_for(intoto, 4), separators=(",", ":")),
        "predicateType": ATTEST_TYPE,
    },
)

# Bundle referrers (cosign v3): v0.3, dsse v0.0.1 entries in a six-leaf tree (below): the keyless
# image signature, the keyless attestation, and an image signature made with a self-managed
# key (key.pub) that was logged too.
key_key = ec.generate_private_key(ec.SECP256R1())
key_pem = key_key.public_key().public_bytes(
    serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
)
write("key.pub", key_pem)
sign_stmt = statement(None, "https://sigstore.dev/cosign/sign/v1", {}, {"env": "prod"})
ref_att_stmt = statement(SIGNED_REPOSITORY, ATTEST_TYPE, {"model": "demo", "stage": "bundle"})
entries = []
for stmt, signer, verifier in (
    (sign_stmt, leaf_key, leaf_pem),
    (ref_att_stmt, leaf_key, leaf_pem),
    (sign_stmt, key_key, key_pem),
):
    s_ = sign(signer, pae(INTOTO, stmt))
    env = {"payload": b64(stmt), "payloadType": INTOTO, "signatures": [{"keyid": "", "sig": b64(s_)}]}
    body = canonical(
        {
            "apiVersion": "0.0.1",
            "kind": "dsse",
            "spec": {
                "envelopeHash": {
                    "algorithm": "sha256",
                    "value": sha256(json.dumps(env, separators=(",", ":")).encode()).hex(),
                },
                "payloadHash": {"algorithm": "sha256", "value": sha256(stmt).hex()},
                "signatures": [{"signature": b64(s_), "verifier": b64(verifier)}],
            },
        }
    )
    entries.append((env, body))


def node(left: bytes, right: bytes) -> bytes:
    return sha256(b"\x01" + left + right)


def split(n: int) -> int:
    """RFC 6962: the largest power of two smaller than n."""
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def mth(hashes: list) -> bytes:
    """RFC 6962 Merkle tree hash over leaf hashes."""
    if len(hashes) == 1:
        return hashes[0]
    k = split(len(hashes))
    return node(mth(hashes[:k]), mth(hashes[k:]))


def audit_path(m: int, hashes: list) -> list:
    """RFC 6962 PATH(m, D[n]), leaf to root."""
    if len(hashes) == 1:
        return []
    k = split(len(hashes))
    if m < k:
        return audit_path(m, hashes[:k]) + [mth(hashes[k:])]
    return audit_path(m - k, hashes[k:]) + [mth(hashes[:k])]


# A keyless model signature as model_signing's `sign sigstore` writes it: OMS v1.0 statement
# (files serialization, sha256) over a tiny model, DSSE, a dsse v0.0.1 entry (index 5).
MODEL_FILES = {
    "README.md": b"# keyless test model\n",
    "config.json": b'{"hidden_size":8,"layers":2}\n',
    "weights/layer0.bin": bytes(range(64)),
}
for rel, data in MODEL_FILES.items():
    write(f"model/{rel}", data)
model_resources = [
    {"name": rel, "algorithm": "sha256", "digest": sha256(data).hex()}
    for rel, data in sorted(MODEL_FILES.items())
]
model_root = sha256(b"".join(bytes.fromhex(r["digest"]) for r in model_resources)).hex()
model_stmt = json.dumps(
    {
        "_type": "https://in-toto.io/Statement/v1",
        "subject": [{"name": "model", "digest": {"sha256": model_root}}],
        "predicateType": "https://model_signing/signature/v1.0",
        "predicate": {
            "serialization": {
                "method": "files",
                "allow_symlinks": False,
                "ignore_paths": [".gitignore", ".github", ".gitattributes", ".git"],
                "hash_type": "sha256",
            },
            "resources": model_resources,
        },
    },
    indent=2,
).encode()
model_env, model_sig = envelope(model_stmt)
model_body = canonical(
    {
        "apiVersion": "0.0.1",
        "kind": "dsse",
        "spec": {
            "envelopeHash": {
                "algorithm": "sha256",
                "value": sha256(json.dumps(model_env, separators=(",", ":")).encode()).hex(),
            },
            "payloadHash": {"algorithm": "sha256", "value": sha256(model_stmt).hex()},
            "signatures": [{"signature": b64(model_sig), "verifier": b64(leaf_pem)}],
        },
    }
)

# RFC 6962 tree of six leaves: the three bundle entries (0-2), the legacy hashedrekord (3) and
# intoto (4) entries, and the model signature's entry (5).
bodies = [body for _, body in entries] + [hashedrekord, intoto, model_body]
leaves = [sha256(b"\x00" + body) for body in bodies]
TREE_SIZE = len(leaves)
root = mth(leaves)
proofs = [audit_path(i, leaves) for i in range(TREE_SIZE)]
origin = "rekor.tollgate.test - 1"
note = f"{origin}\n{TREE_SIZE}\n{b64(root)}\n"
note_sig = sign(rekor_key, note.encode())
checkpoint = f"{note}\n\u2014 rekor.tollgate.test {b64(rekor_id[:4] + note_sig)}\n"
for index, (name, (env, body)) in enumerate(zip(("sign", "attest", "sign-key"), entries)):
    promise = set_for(body, index)["SignedEntryTimestamp"]
    material = (
        {"publicKey": {"hint": b64(sha256(spki(key_key)))}}
        if name == "sign-key"
        else {"certificate": {"rawBytes": b64(leaf_der)}}
    )
    material["tlogEntries"] = [
        {
            "logIndex": str(index),
            "logId": {"keyId": b64(rekor_id)},
            "kindVersion": {"kind": "dsse", "version": "0.0.1"},
            "integratedTime": str(INTEGRATED),
            "inclusionPromise": {"signedEntryTimestamp": promise},
            "inclusionProof": {
                "logIndex": str(index),
                "rootHash": b64(root),
                "treeSize": str(TREE_SIZE),
                "hashes": [b64(h) for h in proofs[index]],
                "checkpoint": {"envelope": checkpoint},
            },
            "canonicalizedBody": b64(body),
        }
    ]
    write_json(
        f"referrer/{name}.sigstore.json",
        {
            "mediaType": "application/vnd.dev.sigstore.bundle.v0.3+json",
            "verificationMaterial": material,
            "dsseEnvelope": env,
        },
    )


def tlog_entry(index: int, body: bytes) -> dict:
    return {
        "logIndex": str(index),
        "logId": {"keyId": b64(rekor_id)},
        "kindVersion": {"kind": "dsse", "version": "0.0.1"},
        "integratedTime": str(INTEGRATED),
        "inclusionPromise": {"signedEntryTimestamp": set_for(body, index)["SignedEntryTimestamp"]},
        "inclusionProof": {
            "logIndex": str(index),
            "rootHash": b64(root),
            "treeSize": str(TREE_SIZE),
            "hashes": [b64(h) for h in proofs[index]],
            "checkpoint": {"envelope": checkpoint},
        },
        "canonicalizedBody": b64(body),
    }


write_json(
    "model.sig",
    {
        "mediaType": "application/vnd.dev.sigstore.bundle.v0.3+json",
        "verificationMaterial": {
            "certificate": {"rawBytes": b64(leaf_der)},
            "tlogEntries": [tlog_entry(5, model_body)],
        },
        "dsseEnvelope": model_env,
    },
)


def public_key(key, start):
    return {
        "rawBytes": b64(spki(key)),
        "keyDetails": "PKIX_ECDSA_P256_SHA_256",
        "validFor": {"start": start},
    }


start = ROOT_START.strftime("%Y-%m-%dT%H:%M:%SZ")
write_json(
    "trusted_root.json",
    {
        "mediaType": "application/vnd.dev.sigstore.trustedroot+json;version=0.1",
        "tlogs": [
            {
                "baseUrl": "https://rekor.tollgate.test",
                "hashAlgorithm": "SHA2_256",
                "publicKey": public_key(rekor_key, start),
                "logId": {"keyId": b64(rekor_id)},
            }
        ],
        "certificateAuthorities": [
            {
                "subject": {"organization": "tollgate-test", "commonName": "tollgate-test-fulcio"},
                "uri": "https://fulcio.tollgate.test",
                "certChain": {"certificates": [{"rawBytes": b64(ca.public_bytes(serialization.Encoding.DER))}]},
                "validFor": {"start": start},
            }
        ],
        "ctlogs": [
            {
                "baseUrl": "https://ctfe.tollgate.test",
                "hashAlgorithm": "SHA2_256",
                "publicKey": public_key(ct_key, start),
                "logId": {"keyId": b64(ct_id)},
            }
        ],
        "timestampAuthorities": [],
    },
)
write("image/digest.txt", f"sha256:{image_hex}\n".encode())
print(f"image sha256:{image_hex}")
print(f"model root sha256:{model_root}")
