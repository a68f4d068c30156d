#!/usr/bin/env bash
# tests/certs.sh DIR -- makes the test certificates of salvo's TLS tests in DIR with the
# openssl CLI (EC P-256 keys, so the whole set takes well under a second):
#
#   ca.key ca.pem                 a local root CA (tests trust it with --cacert)
#   inter.key inter.pem           an intermediate CA signed by the root
#   leaf.key leaf.pem             DNS site.test, *.site.test, localhost, IP 127.0.0.1; by the root
#   fullchain.pem                 leaf.pem + ca.pem
#   expired.key expired.pem       same names, valid 2020-01-01 .. 2021-01-01 (by the root)
#   notyet.key notyet.pem         same names, valid from 2040-01-01 (by the root)
#   wronghost.key wronghost.pem   DNS other.test only (by the root)
#   selfsigned.key selfsigned.pem same names as leaf.pem, signed by itself
#   chain-leaf.key chain-leaf.pem same names, signed by the intermediate; served alone it
#                                 is an incomplete chain
#   chain-full.pem                chain-leaf.pem + inter.pem (a complete chain)
#
# Idempotent: when DIR already holds a complete set that is valid for another day, it
# does nothing. Quiet unless it fails; then it prints openssl's output and exits non-zero.
set -eu
dir=${1:?usage: certs.sh DIR}
mkdir -p "$dir"
cd "$dir"

if [ -f .complete ] && openssl x509 -checkend 86400 -noout -in leaf.pem >/dev/null 2>&1; then
    exit 0
fi
rm -f .complete

log=$(mktemp "${TMPDIR:-/tmp}/salvo-certs.XXXXXX")
trap 'rm -f "$log"' EXIT
fail() {
    echo "certs.sh: $1 failed in $dir" >&2
    cat "$log" >&2
    exit 1
}
run() { "$@" >>"$log" 2>&1; }

names="DNS:site.test,DNS:*.site.test,DNS:localhost,IP:127.0.0.1"

# Extension sections shared by every signing step below; [req] makes the file usable as
# the whole configuration of `openssl req -x509` (whose 3.0 version has no -extfile).
cat >ext.cnf <<EOF
[req]
distinguished_name = dn
[dn]
[ca]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
[inter]
basicConstraints = critical, CA:TRUE, pathlen:0
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
[leaf]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = $names
authorityKeyIdentifier = keyid
[wronghost]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = DNS:other.test
authorityKeyIdentifier = keyid
[self]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = $names
EOF

# `openssl x509 -req` in OpenSSL 3.0 cannot set dates in the past or the future, so the
# expired and not-yet-valid certificates go through `openssl ca`, which needs this
# minimal configuration and its database files.
cat >ca.cnf <<EOF
[ca]
default_ca = testca
[testca]
dir = .
database = ca-index.txt
serial = ca-serial
new_certs_dir = ca-newcerts
certificate = ca.pem
private_key = ca.key
default_md = sha256
policy = anything
unique_subject = no
copy_extensions = none
[anything]
organizationName = optional
commonName = supplied
EOF
rm -rf ca-newcerts ca-index.txt* ca-serial*
mkdir -p ca-newcerts
: >ca-index.txt
echo 1000 >ca-serial

key() { run openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1.key" ||
    fail "key $1"; }
csr() { run openssl req -new -key "$1.key" -subj "$2" -out "$1.csr" || fail "csr $1"; }
# sign NAME ISSUER SECTION: a certificate for NAME.csr valid 10 years, signed by ISSUER.
sign() {
    run openssl x509 -req -in "$1.csr" -CA "$2.pem" -CAkey "$2.key" -set_serial "0x$(
        openssl rand -hex 8)" -days 3650 -sha256 -extfile ext.cnf -extensions "$3" \
        -out "$1.pem" || fail "sign $1"
}
# dated NAME START END: a leaf for NAME.csr signed by the root with explicit dates.
dated() {
    run openssl ca -batch -config ca.cnf -notext -in "$1.csr" -startdate "$2" -enddate "$3" \
        -extfile ext.cnf -extensions leaf -out "$1.pem" || fail "ca $1"
}

key ca
run openssl req -x509 -new -key ca.key -subj "/O=salvo tests/CN=salvo test CA" -days 3650 \
    -sha256 -config ext.cnf -extensions ca -out ca.pem || fail "ca.pem"

key inter && csr inter "/O=salvo tests/CN=salvo test intermediate" && sign inter ca inter
key leaf && csr leaf "/O=salvo tests/CN=site.test" && sign leaf ca leaf
cat leaf.pem ca.pem >fullchain.pem

key expired && csr expired "/O=salvo tests/CN=expired.site.test"
dated expired 20200101000000Z 20210101000000Z
key notyet && csr notyet "/O=salvo tests/CN=notyet.site.test"
dated notyet 20400101000000Z 20410101000000Z

key wronghost && csr wronghost "/O=salvo tests/CN=other.test" && sign wronghost ca wronghost

key selfsigned
run openssl req -x509 -new -key selfsigned.key -subj "/O=salvo tests/CN=site.test" -days 3650 \
    -sha256 -config ext.cnf -extensions self -out selfsigned.pem ||
    fail "selfsigned.pem"

key chain-leaf && csr chain-leaf "/O=salvo tests/CN=chain.site.test" &&
    sign chain-leaf inter leaf
cat chain-leaf.pem inter.pem >chain-full.pem

rm -rf ./*.csr ca-index.txt* ca-serial* ca-newcerts
touch .complete
