#!/bin/sh
# Regenerates tollgate's own Notation test PKI (test keys only; nothing here is secret).
# Root CA -> intermediate CA (pathlen 0) -> code-signing leaves of every Notary key type,
# plus a CRL of the intermediate that revokes the "revoked" leaf. Validity: 10 years from
# generation (2026-11-27); tests verify at fixed times inside it.
set -eu
cd "$(dirname "$0")"
cat > ext.cnf <<'CNF'
[root]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
[inter]
basicConstraints = critical, CA:TRUE, pathlen:0
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
[leaf]
basicConstraints = CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = codeSigning
[leafcdp]
basicConstraints = CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = codeSigning
crlDistributionPoints = URI:http://crl.tollgate.invalid/inter.crl
[ca_section]
dir = .
database = index.txt
new_certs_dir = .
serial = serial
crlnumber = crlnumber
default_md = sha256
default_crl_days = 3650
CNF
subj() { echo "/C=US/ST=WA/L=Seattle/O=Tollgate Test/OU=Notation/CN=$1"; }
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-384 -out root.key
openssl req -new -x509 -key root.key -subj "$(subj 'Tollgate Test Root')" -days 3650 \
  -sha384 -extensions root -config ext.cnf -out root.pem
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out inter.key
openssl req -new -key inter.key -subj "$(subj 'Tollgate Test Intermediate')" -out inter.csr
openssl x509 -req -in inter.csr -CA root.pem -CAkey root.key -set_serial 2 -days 3650 \
  -sha384 -extfile ext.cnf -extensions inter -out inter.pem
leaf() { # name keyopts ext serial
  openssl genpkey $2 -out "$1.key"
  openssl req -new -key "$1.key" -subj "$(subj "$1")" -out "$1.csr"
  openssl x509 -req -in "$1.csr" -CA inter.pem -CAkey inter.key -set_serial "$4" -days 3650 \
    -sha256 -extfile ext.cnf -extensions "$3" -out "$1.pem"
  cat "$1.pem" inter.pem root.pem > "$1.chain.pem"
}
leaf rsa2048 "-algorithm RSA -pkeyopt rsa_keygen_bits:2048" leaf 10
leaf rsa3072 "-algorithm RSA -pkeyopt rsa_keygen_bits:3072" leaf 11
leaf rsa4096 "-algorithm RSA -pkeyopt rsa_keygen_bits:4096" leaf 12
leaf p256 "-algorithm EC -pkeyopt ec_paramgen_curve:P-256" leaf 13
leaf p384 "-algorithm EC -pkeyopt ec_paramgen_curve:P-384" leaf 14
leaf p521 "-algorithm EC -pkeyopt ec_paramgen_curve:P-521" leaf 15
leaf revoked "-algorithm EC -pkeyopt ec_paramgen_curve:P-256" leafcdp 16
leaf withcdp "-algorithm EC -pkeyopt ec_paramgen_curve:P-256" leafcdp 17
# CRL of the intermediate revoking "revoked".
: > index.txt; echo 01 > crlnumber; echo 20 > serial
sed -i 's/^\[ca_section\]/[ca]\ndefault_ca = ca_section\n[ca_section]/' ext.cnf
openssl ca -config ext.cnf -keyfile inter.key -cert inter.pem -revoke revoked.pem \
  -crl_reason keyCompromise
openssl ca -config ext.cnf -keyfile inter.key -cert inter.pem -gencrl -out inter.crl.pem
openssl crl -in inter.crl.pem -outform DER -out inter.crl
rm -f ./*.csr index.txt* crlnumber* serial* ./*.old inter.crl.pem ./1*.pem ./2*.pem ext.cnf
