#!/usr/bin/env bash
# What "up" means for a URL: --expect-status, --expect-body, --expect-header,
# --max-latency, --min-cert-days. error stays the transport's story; checks_failed names
# the failed checks of a whole response in a fixed order; ok needs no error and no
# failed check; exit 1 when any record is not ok.
. "$(dirname "$0")/../lib.sh"
start_testd checks || exit 1
U="http://127.0.0.1:$TESTD_PORT"
q() { jq -c "$1" <<<"$2"; }

# The status check always runs: 100-399 by default.
r=$("$SALVO" "$U/status/404"); rc=$?
check_eq "a 404: error null, checks_failed [status], ok false, exit 1" \
    '{"error":null,"checks_failed":["status"],"ok":false} 1' "$(q '{error,checks_failed,ok}' "$r") $rc"
r=$("$SALVO" "$U/"); rc=$?
check_eq "a 200: checks_failed [], ok true, exit 0" '{"checks_failed":[],"ok":true} 0' \
    "$(q '{checks_failed,ok}' "$r") $rc"
r=$("$SALVO" --expect-status 404,500-503 "$U/status/404" "$U/status/502" "$U/")
check_eq "--expect-status 404,500-503: 404 and 502 pass, 200 fails" '[[],[],["status"]]' \
    "$(jq -sc 'sort_by(.index) | map(.checks_failed)' <<<"$r")"

# No whole response: checks_failed is null and error says why.
r=$("$SALVO" --retry 0 "$U/close-early/100")
check_eq "a failed transfer: checks_failed null" '{"error":"partial","checks_failed":null}' \
    "$(q '{error,checks_failed}' "$r")"

# The body check sees the decoded body (gzip), within its first 1 MiB; ^ and $ at lines.
r=$("$SALVO" --expect-body '^abc' "$U/gzip/1000" "$U/status/200")
check_eq "--expect-body on decoded bytes, and on a body that lacks it" '[[],["body"]]' \
    "$(jq -sc 'sort_by(.index) | map(.checks_failed)' <<<"$r")"
r=$("$SALVO" --expect-body 'xyz$' "$U/size/81")
check_eq "--expect-body: \$ matches at a line end (REG_NEWLINE)" '[]' "$(q .checks_failed "$r")"
# "zz" never occurs in the pattern body; "yz\na" only across a line end.
r=$("$SALVO" --expect-body 'zz' --body 10 "$U/size/2000000")
check_eq "--expect-body: a 2 MB body without the text fails; --body still shows 10 bytes" \
    '{"checks_failed":["body"],"body":"abcdefghij"}' "$(q '{checks_failed,body}' "$r")"

# Header checks: the field must be there and match (names case-insensitive).
r=$("$SALVO" --expect-header 'Content-Type: ^text/plain' --expect-header 'server: testd' "$U/")
check_eq "--expect-header: two that match" '[]' "$(q .checks_failed "$r")"
r=$("$SALVO" --expect-header 'X-Missing: .' "$U/")
check_eq "--expect-header: an absent field fails" '["header"]' "$(q .checks_failed "$r")"
r=$("$SALVO" --expect-header 'Content-Type: ^application/' "$U/")
check_eq "--expect-header: a value that does not match fails" '["header"]' "$(q .checks_failed "$r")"

# Latency: total_ms above the limit.
r=$("$SALVO" --max-latency 0.1 "$U/delay/300" "$U/")
check_eq "--max-latency 0.1: a 300 ms answer fails, a quick one passes" '[["latency"],[]]' \
    "$(jq -sc 'sort_by(.index) | map(.checks_failed)' <<<"$r")"

# Several failures, in the contract's order: status, header, body, latency, cert.
r=$("$SALVO" --expect-status 200 --expect-header 'X-No: .' --expect-body 'nope' \
    --max-latency 0.05 "$U/status/404?delay=200")
check_eq "failed checks in the contract's order" '["status","header","body","latency"]' \
    "$(q .checks_failed "$r")"

# A request with no TLS passes the certificate check.
r=$("$SALVO" --min-cert-days 30 "$U/")
check_eq "--min-cert-days: plain HTTP passes" '[]' "$(q .checks_failed "$r")"

# Certificates: the test CA's leaf (tests/certs.sh) expires in days we can read back.
make_certs >/dev/null 2>&1
if [ -f "$CERTS/leaf.pem" ]; then
    start_tls_peer checks || exit 1
    left=$("$SALVO" --cacert "$CERTS/ca.pem" --resolve "localhost:$TLS_PEER_PORT:127.0.0.1" \
        "https://localhost:$TLS_PEER_PORT/cl/10" | jq -r .cert_days_left)
    r=$("$SALVO" --cacert "$CERTS/ca.pem" --min-cert-days $((left + 1)) \
        --resolve "localhost:$TLS_PEER_PORT:127.0.0.1" "https://localhost:$TLS_PEER_PORT/cl/10")
    check_eq "--min-cert-days beyond the certificate's days left fails cert" '["cert"]' \
        "$(q .checks_failed "$r")"
    r=$("$SALVO" --cacert "$CERTS/ca.pem" --min-cert-days 0 \
        --resolve "localhost:$TLS_PEER_PORT:127.0.0.1" "https://localhost:$TLS_PEER_PORT/cl/10")
    check_eq "--min-cert-days 0 passes" '[]' "$(q .checks_failed "$r")"
fi

# Bad values: exit 2, one line on stderr, nothing sent.
before=$(curl -s "$U/__stats" | jq .accepts)
for a in "--expect-status 99" "--expect-status 200-100" "--expect-status 200," \
    "--expect-body (" "--expect-header NoColon" "--max-latency -1" "--min-cert-days x"; do
    # shellcheck disable=SC2086
    "$SALVO" $a "$U/" >"$T_DIR/bad.out" 2>"$T_DIR/bad.err"
    check_eq "bad value '$a': exit 2, one line, no record" "2 1 0" \
        "$? $(wc -l <"$T_DIR/bad.err") $(wc -l <"$T_DIR/bad.out")"
done
after=$(curl -s "$U/__stats" | jq .accepts)
check_eq "... and no connection was made" $((before + 1)) "$after"
finish
