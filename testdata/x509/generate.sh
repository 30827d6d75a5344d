#!/usr/bin/env bash
# Regenerates the X.509 fixtures of verifier/src/x509 tests (see README.md beside this script).
#
# Needs only the `openssl` command-line tool (written against OpenSSL 3.0). Every certificate gets
# fixed validity dates through `openssl ca -startdate/-enddate`, so the tests check them at a fixed
# instant (2030-06-01T00:00:00Z) and never depend on the clock. Keys are made fresh on each run and
# deleted: no test signs anything, and no private key is kept in the repository. Regenerating
# changes every file (new keys, new ECDSA signatures) but no test outcome.
set -euo pipefail

out="$(cd "$(dirname "$0")" && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cd "$work"

# Validity windows. The tests verify at 2030-06-01.
VALID_FROM=20250101000000Z
VALID_TO=20450101000000Z

cat > ca.cnf <<'CNF'
[ ca ]
default_ca = tg

[ tg ]
dir = .
database = ./index.txt
new_certs_dir = ./new
serial = ./serial
policy = anything
unique_subject = no
copy_extensions = none
email_in_dn = no
default_md = sha256

[ anything ]
organizationName = optional
commonName = supplied

[ root ]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash

[ intermediate ]
basicConstraints = critical, CA:TRUE, pathlen:0
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always

[ intermediate_pathlen1 ]
basicConstraints = critical, CA:TRUE, pathlen:1
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always

[ sub_intermediate ]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always

[ ca_no_keycertsign ]
basicConstraints = critical, CA:TRUE
keyUsage = critical, digitalSignature, cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always

[ not_ca_issuer ]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyCertSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always

[ no_bc_issuer ]
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always

[ leaf ]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = codeSigning
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always

[ leaf_eku_only ]
basicConstraints = critical, CA:FALSE
extendedKeyUsage = codeSigning

[ leaf_ku_only ]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature

[ leaf_no_signing ]
basicConstraints = critical, CA:FALSE
keyUsage = critical, keyEncipherment
extendedKeyUsage = serverAuth

[ leaf_no_usage ]
basicConstraints = critical, CA:FALSE

[ leaf_is_ca ]
basicConstraints = critical, CA:TRUE
keyUsage = critical, digitalSignature, keyCertSign
extendedKeyUsage = codeSigning

[ leaf_unknown_critical ]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = codeSigning
1.3.6.1.4.1.55555.1 = critical, ASN1:NULL
CNF

mkdir new
echo 1000 > serial
: > index.txt

key() { # NAME TYPE
    case "$2" in
        p256) openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1.key" ;;
        p384) openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-384 -out "$1.key" ;;
        p521) openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-521 -out "$1.key" ;;
        rsa2048) openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$1.key" ;;
        rsa3072) openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:3072 -out "$1.key" ;;
        ed25519) openssl genpkey -algorithm ED25519 -out "$1.key" ;;
    esac 2>/dev/null
}

# issue NAME KEYTYPE "CN" ISSUER|self EXT FROM TO [extra openssl ca args...]
issue() {
    local name="$1" type="$2" cn="$3" issuer="$4" ext="$5" from="$6" to="$7"
    shift 7
    key "$name" "$type"
    openssl req -new -key "$name.key" -subj "/O=Tollgate Test/CN=$cn" -out "$name.csr" 2>/dev/null
    local signer=(-cert "$issuer.pem" -keyfile "$issuer.key")
    if [ "$issuer" = self ]; then signer=(-selfsign -keyfile "$name.key"); fi
    openssl ca -batch -config ca.cnf -notext -preserveDN -in "$name.csr" -out "$name.pem" \
        "${signer[@]}" -extensions "$ext" -startdate "$from" -enddate "$to" "$@" 2>/dev/null
    cp "$name.pem" "$out/$name.pem"
}

# The main test PKI: ECDSA P-384 root -> P-256 intermediate (pathlen 0) -> leaves.
issue root-ca p384 "Tollgate Test Root CA" self root "$VALID_FROM" "$VALID_TO" -md sha384
issue intermediate-ca p256 "Tollgate Test Intermediate CA" root-ca intermediate "$VALID_FROM" "$VALID_TO" -md sha384
issue leaf p256 "leaf" intermediate-ca leaf "$VALID_FROM" "$VALID_TO"
issue leaf-eku-only p256 "leaf eku only" intermediate-ca leaf_eku_only "$VALID_FROM" "$VALID_TO"
issue leaf-ku-only p256 "leaf ku only" intermediate-ca leaf_ku_only "$VALID_FROM" "$VALID_TO"
issue leaf-expired p256 "leaf expired" intermediate-ca leaf 20250101000000Z 20260101000000Z
issue leaf-not-yet-valid p256 "leaf not yet valid" intermediate-ca leaf 20350101000000Z 20400101000000Z
issue leaf-no-signing-usage p256 "leaf no signing usage" intermediate-ca leaf_no_signing "$VALID_FROM" "$VALID_TO"
issue leaf-no-usage p256 "leaf no usage extensions" intermediate-ca leaf_no_usage "$VALID_FROM" "$VALID_TO"
issue leaf-is-ca p256 "leaf is ca" intermediate-ca leaf_is_ca "$VALID_FROM" "$VALID_TO"
issue leaf-unknown-critical p256 "leaf unknown critical" intermediate-ca leaf_unknown_critical "$VALID_FROM" "$VALID_TO"
issue leaf-self-signed p256 "leaf self-signed" self leaf "$VALID_FROM" "$VALID_TO"
issue leaf-sha1 p256 "leaf sha1" intermediate-ca leaf "$VALID_FROM" "$VALID_TO" -md sha1

# Issuers that break CA rules, each with a leaf under it.
issue ca-no-keycertsign p256 "CA without keyCertSign" root-ca ca_no_keycertsign "$VALID_FROM" "$VALID_TO"
issue leaf-under-ca-no-keycertsign p256 "leaf under CA without keyCertSign" ca-no-keycertsign leaf "$VALID_FROM" "$VALID_TO"
issue not-ca-issuer p256 "Not a CA" root-ca not_ca_issuer "$VALID_FROM" "$VALID_TO"
issue leaf-under-not-ca p256 "leaf under not a CA" not-ca-issuer leaf "$VALID_FROM" "$VALID_TO"
issue no-bc-issuer p256 "No basicConstraints" root-ca no_bc_issuer "$VALID_FROM" "$VALID_TO"
issue leaf-under-no-bc p256 "leaf under no basicConstraints" no-bc-issuer leaf "$VALID_FROM" "$VALID_TO"
# intermediate-ca has pathlen:0, so a CA under it breaks the constraint.
issue sub-intermediate-ca p256 "Sub-intermediate under pathlen 0" intermediate-ca sub_intermediate "$VALID_FROM" "$VALID_TO"
issue leaf-under-sub-intermediate p256 "leaf under sub-intermediate" sub-intermediate-ca leaf "$VALID_FROM" "$VALID_TO"
# The same depth is fine under a pathlen:1 intermediate.
issue intermediate-pathlen1 p256 "Intermediate pathlen 1" root-ca intermediate_pathlen1 "$VALID_FROM" "$VALID_TO"
issue sub-intermediate-ok p256 "Sub-intermediate under pathlen 1" intermediate-pathlen1 sub_intermediate "$VALID_FROM" "$VALID_TO"
issue leaf-deep p256 "leaf two intermediates deep" sub-intermediate-ok leaf "$VALID_FROM" "$VALID_TO"
# Expired CAs: an intermediate and a root, each over a leaf that is itself valid.
issue intermediate-expired p256 "Expired Intermediate CA" root-ca intermediate "$VALID_FROM" 20260101000000Z
issue leaf-under-expired-intermediate p256 "leaf under expired intermediate" intermediate-expired leaf "$VALID_FROM" "$VALID_TO"
issue root-expired p256 "Expired Root CA" self root 20200101000000Z 20260101000000Z
issue leaf-under-expired-root p256 "leaf under expired root" root-expired leaf "$VALID_FROM" "$VALID_TO"

# Wrong anchors: a different root, and an impostor with root-ca's exact name but its own key.
issue other-root-ca p256 "Other Root CA" self root "$VALID_FROM" "$VALID_TO"
issue impostor-root-ca p384 "Tollgate Test Root CA" self root "$VALID_FROM" "$VALID_TO" -md sha384

# Other algorithms: P-521 (ECDSA SHA-512), RSA (PKCS#1 v1.5 and PSS), Ed25519.
issue root-p521 p521 "Tollgate Test P-521 Root CA" self root "$VALID_FROM" "$VALID_TO" -md sha512
issue leaf-p521 p521 "leaf p521" root-p521 leaf "$VALID_FROM" "$VALID_TO" -md sha512
issue root-rsa rsa3072 "Tollgate Test RSA Root CA" self root "$VALID_FROM" "$VALID_TO" -md sha384
issue leaf-rsa rsa2048 "leaf rsa" root-rsa leaf "$VALID_FROM" "$VALID_TO" -md sha256
issue leaf-rsa-pss rsa2048 "leaf rsa pss" root-rsa leaf "$VALID_FROM" "$VALID_TO" -md sha256 \
    -sigopt rsa_padding_mode:pss -sigopt rsa_pss_saltlen:digest -sigopt rsa_mgf1_md:sha256
issue root-ed25519 ed25519 "Tollgate Test Ed25519 Root CA" self root "$VALID_FROM" "$VALID_TO" -md default
issue leaf-ed25519 ed25519 "leaf ed25519" root-ed25519 leaf "$VALID_FROM" "$VALID_TO" -md default

echo "wrote $(ls "$out"/*.pem | wc -l) certificates to $out"
