#!/usr/bin/env bash
# Compressed bodies: salvo asks for gzip and deflate and decodes them as they arrive;
# `bytes`, the hash and --max-filesize are about decoded bytes, `wire_bytes` about what
# crossed the wire, so a decompression bomb stops at the cap.
. "$(dirname "$0")/../lib.sh"
start_testd gz || exit 1
U="http://127.0.0.1:$TESTD_PORT"
out=$T_DIR/out.jsonl
body_hash() { yes abcdefghijklmnopqrstuvwxyz | head -c "$1" | sha256sum | cut -d' ' -f1; }

"$SALVO" --hash "$U/gzip/100000" "$U/gzip-chunked/100000" "$U/deflate/100000" \
    "$U/deflate-raw/100000" "$U/gzip/0" >"$out"
check_eq "every coding decodes" 5 "$(jq_count '.ok' "$out")"
for p in gzip gzip-chunked deflate deflate-raw; do
    check_eq "/$p: the decoded sha256 is the body's" "$(body_hash 100000) 100000" \
        "$(jq -r "select(.url == \"$U/$p/100000\") | \"\(.sha256) \(.bytes)\"" "$out")"
done
check "/gzip: fewer bytes on the wire than decoded" \
    test "$(jq -r "select(.url == \"$U/gzip/100000\") | .wire_bytes" "$out")" -lt 10000
check_eq "an empty gzip body" "0 $(body_hash 0)" \
    "$(jq -r "select(.url == \"$U/gzip/0\") | \"\(.bytes) \(.sha256)\"" "$out")"

r=$("$SALVO" --retry 2 "$U/gzip-corrupt")
check_eq "a corrupt stream is decode, with zlib's reason, not retried" "decode 200 1" \
    "$(jq -r '"\(.error) \(.status) \(.attempts)"' <<<"$r")"
check "... and a message" test -n "$(jq -r .message <<<"$r")"

# A bomb: 10 GiB of zeros, about 10 MB compressed. The cap counts decoded bytes.
start=$(now)
r=$("$SALVO" --max-filesize 10M -m 20 "$U/gzip-bomb/10737418240")
el=$(since "$start")
check_eq "a decompression bomb stops at --max-filesize as too_large" "too_large 10485760" \
    "$(jq -r '"\(.error) \(.bytes)"' <<<"$r")"
check "... after reading a fraction of it from the wire" \
    test "$(jq -r .wire_bytes <<<"$r")" -lt 1048576
check_le "... quickly" "$el" 5

# The request asks for the codings salvo can decode, and a -H replaces that.
v=$("$SALVO" --version | cut -d' ' -f2)
want=$(printf 'GET /echo HTTP/1.1\r\nHost: 127.0.0.1:%s\r\nUser-Agent: salvo/%s\r\nAccept: */*\r\nAccept-Encoding: identity\r\n\r\n' "$TESTD_PORT" "$v" | sha256sum | cut -d' ' -f1)
check_eq "-H 'Accept-Encoding: identity' replaces the default" "$want" \
    "$("$SALVO" --hash -H 'Accept-Encoding: identity' "$U/echo" | jq -r .sha256)"

finish
