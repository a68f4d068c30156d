#!/usr/bin/env bash
# Plain HTTP/1.1 against the project's test server: bodies of every framing, methods,
# headers, hashes, inputs and exit status.
. "$(dirname "$0")/../lib.sh"
start_testd basic || exit 1
U="http://127.0.0.1:$TESTD_PORT"
out=$T_DIR/out.jsonl

# One URL of every framing, hashed: the sha256 must be the body's.
"$SALVO" --hash "$U/" "$U/size/100000" "$U/chunked/50000" "$U/close-delimited/3000" \
    "$U/continue" >"$out"
check_eq "exit status 0 when every record is ok" 0 $?
check_eq "five records" 5 "$(wc -l <"$out")"
expect_hash() { # URL-suffix, body-generator
    local want got
    want=$($2 | sha256sum | cut -d' ' -f1)
    got=$(jq -r "select(.url == \"$U$1\") | .sha256" "$out")
    check_eq "sha256 of $1" "$want" "$got"
}
# The test server's deterministic body: "abcdefghijklmnopqrstuvwxyz\n" repeated.
body_of() { yes abcdefghijklmnopqrstuvwxyz | head -c "$1"; }
expect_hash "/" "printf hello\n"
expect_hash "/size/100000" "body_of 100000"
expect_hash "/chunked/50000" "body_of 50000"
expect_hash "/close-delimited/3000" "body_of 3000"
check_eq "100 Continue then the final 200" "200 6" \
    "$(jq -r "select(.url == \"$U/continue\") | \"\(.status) \(.bytes)\"" "$out")"
check_eq "bytes counted for a chunked body" 50000 \
    "$(jq -r "select(.url == \"$U/chunked/50000\") | .bytes" "$out")"

# A 1xx ends at its empty line, whatever its headers say: a 103 announcing a
# Content-Length has no body, and the 200 after it is read whole.
r=$("$SALVO" --retry 0 -m 5 --hash "$U/hints-length")
check_eq "103 with Content-Length: 5, then 200: the 200 and its own 6 bytes" \
    "200 null 6 $(printf 'final\n' | sha256sum | cut -d' ' -f1)" \
    "$(jq -r '"\(.status) \(.error) \(.bytes) \(.sha256)"' <<<"$r")"
# Interim responses count towards the 64 KiB of headers: a flood of them is too_large.
start=$(now)
r=$("$SALVO" --retry 0 -m 10 "$U/interim-flood/100000")
el=$(since "$start")
check_eq "100,000 interim responses before the 200 -> too_large" "too_large null" \
    "$(jq -r '"\(.error) \(.status)"' <<<"$r")"
check_le "... without a hang ($el s)" "$el" 5

# Every field of CONTRACT.md is present in every record.
fields='["index","url","ok","status","error","message","attempts","remote_ip","bytes","wire_bytes","queue_ms","dns_ms","connect_ms","tls_ms","ttfb_ms","transfer_ms","total_ms","reused","tls_version","tls_cipher","alpn","tls_resumed","cert_expiry","chain_expiry","cert_days_left","cert_subject","cert_issuer","final_url","redirects","sha256","attempts_log","start_ms","name","headers","body","body_file","checks_failed","round","change","proxy"]'
check_eq "every record has every field" 0 \
    "$(jq -c --argjson f "$fields" 'select((keys_unsorted - $f | length) > 0 or ($f - keys_unsorted | length) > 0)' "$out" | wc -l)"
check_eq "timings of a plain-HTTP success" "true" \
    "$(jq -s 'all(.[]; .connect_ms >= 0 and .ttfb_ms >= 0 and .total_ms >= .ttfb_ms and .tls_ms == null and .queue_ms >= 0)' "$out")"

# HEAD: Content-Length with no body must not wait for the body.
r=$("$SALVO" -X HEAD -m 2 "$U/head-length/5000")
check_eq "HEAD with Content-Length ends at the headers" "true 200 0" \
    "$(jq -r '"\(.ok) \(.status) \(.bytes)"' <<<"$r")"
# 204 and 304 carry no body.
r=$("$SALVO" -m 2 "$U/status/204" "$U/status/304" | jq -r '.status' | sort | tr '\n' ' ')
check_eq "204 and 304 complete with no body" "204 304 " "$r"

# Method, headers and body reach the server as given: /echo answers with the request it
# received, byte for byte, so its hash is the hash of what salvo sent.
"$SALVO" -X PUT -H 'X-Salvo-Test: yes' -H 'User-Agent: probe/1' -d 'name=value' --hash \
    "$U/echo" -o "$T_DIR/rec.jsonl"
check_eq "-o writes the records to a file" 1 "$(wc -l <"$T_DIR/rec.jsonl")"
want=$(printf 'PUT /echo HTTP/1.1\r\nHost: 127.0.0.1:%s\r\nUser-Agent: probe/1\r\nAccept: */*\r\nAccept-Encoding: gzip, deflate\r\nX-Salvo-Test: yes\r\nContent-Length: 10\r\n\r\nname=value' "$TESTD_PORT" | sha256sum | cut -d' ' -f1)
check_eq "the request on the wire: method, Host, -H replacing User-Agent, body" "$want" \
    "$(jq -r .sha256 "$T_DIR/rec.jsonl")"
want=$(printf 'GET /echo HTTP/1.1\r\nHost: 127.0.0.1:%s\r\nUser-Agent: salvo/%s\r\nAccept: */*\r\nAccept-Encoding: gzip, deflate\r\n\r\n' "$TESTD_PORT" "$("$SALVO" --version | cut -d' ' -f2)" | sha256sum | cut -d' ' -f1)
check_eq "a plain GET sends salvo's User-Agent" "$want" "$("$SALVO" --hash "$U/echo" | jq -r .sha256)"
ver=$("$SALVO" --version | cut -d' ' -f2)
want=$(printf 'POST /echo HTTP/1.1\r\nHost: 127.0.0.1:%s\r\nUser-Agent: salvo/%s\r\nAccept: */*\r\nAccept-Encoding: gzip, deflate\r\nContent-Length: 1\r\n\r\nx' "$TESTD_PORT" "$ver" | sha256sum | cut -d' ' -f1)
check_eq "-d without -X is a POST" "$want" "$("$SALVO" -d x --hash "$U/echo" | jq -r .sha256)"

# Inputs: arguments first, then the file; blank and # lines skipped; indexes in order.
printf '# a comment\n\n  %s/size/1  \r\n%s/size/2\n' "$U" "$U" >"$T_DIR/urls.txt"
"$SALVO" "$U/size/3" -i "$T_DIR/urls.txt" >"$out"
check_eq "indexes follow arguments then file lines" "0:3 1:1 2:2" \
    "$(jq -r '"\(.index):\(.bytes)"' "$out" | sort | tr '\n' ' ' | sed 's/ $//')"
printf '%s/size/7\n' "$U" | "$SALVO" >"$out"
check_eq "URLs from stdin" 7 "$(jq -r .bytes "$out")"
printf '%s/size/8\n' "$U" | "$SALVO" -i - >"$out"
check_eq "-i - reads stdin" 8 "$(jq -r .bytes "$out")"

# Exit status: 1 when a record is not ok, 2 for usage errors.
"$SALVO" "$U/status/404" >/dev/null
check_eq "exit 1 when a record is not ok (404)" 1 $?
"$SALVO" --no-such-flag "$U/" >/dev/null 2>"$T_DIR/err"
check_eq "exit 2 for an unknown flag" 2 $?
check_eq "one diagnostic line for it" 1 "$(wc -l <"$T_DIR/err")"
"$SALVO" -c 0 "$U/" >/dev/null 2>&1
check_eq "exit 2 for -c 0" 2 $?
"$SALVO" -m abc "$U/" >/dev/null 2>&1
check_eq "exit 2 for a bad duration" 2 $?
"$SALVO" --max-filesize 12Q "$U/" >/dev/null 2>&1
check_eq "exit 2 for a bad size" 2 $?
"$SALVO" -i "$T_DIR/does-not-exist" >/dev/null 2>&1
check_eq "exit 2 for an unreadable input file" 2 $?
printf '# only a comment\n\n' | "$SALVO" >/dev/null 2>&1
check_eq "exit 2 when there is nothing to fetch" 2 $?
"$SALVO" --help | grep -q -- '--concurrency'
check_eq "--help lists the flags" 0 $?
check_eq "--version" "salvo 0.1.0" "$("$SALVO" --version)"

finish
