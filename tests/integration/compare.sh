#!/usr/bin/env bash
# --compare FILE: each record's change against a crafted previous run, every value at
# least once (new, down, up, error_changed by class and by checks, cert_soon, slower, and
# null), matched by name before url and the k-th occurrence with the k-th; the summary's
# changes line counts them; FILE may be the -o of the same run (read whole first); an
# unreadable FILE is a usage error, a torn line in it is skipped with a warning.
. "$(dirname "$0")/../lib.sh"
start_testd compare || exit 1
U="http://127.0.0.1:$TESTD_PORT"
make_certs >/dev/null 2>&1
start_tls_peer compare || exit 1
S="https://localhost:$TLS_PEER_PORT/cl/10"
tls=(--cacert "$CERTS/ca.pem" --resolve "localhost:$TLS_PEER_PORT:127.0.0.1")
left=$("$SALVO" "${tls[@]}" "$S" | jq -r .cert_days_left)
check "the TLS peer's certificate has days left to read" test "$left" -gt 0

# rec URL OK ERROR CHECKS [NAME [DAYS [TOTAL]]]: one record of the previous run.
rec() {
    jq -cn --arg url "$1" --argjson ok "$2" --argjson error "$3" --argjson checks "$4" \
        --argjson name "${5:-null}" --argjson days "${6:-null}" --argjson total "${7:-5}" \
        '{index: 0, url: $url, ok: $ok, status: 200, error: $error, total_ms: $total,
          cert_days_left: $days, name: $name, checks_failed: $checks}'
}
prev="$T_DIR/prev.jsonl"
{
    rec "$U/status/500?was=ok" true null '[]'
    rec "$U/status/200?was=down" false '"timeout"' null
    rec "$U/status/500?was=refused" false '"connect_refused"' null
    rec "$U/status/500?was=body" false null '["body"]'
    rec "$S" false null '["cert"]' null $((left + 1000))
    rec "$U/delay/300?was=fast" true null '[]' null null 20
    rec "$U/status/200?same" true null '[]'
    rec "http://elsewhere.test/" true null '[]' '"by-name"'
    rec "$U/status/200?twice" true null '[]'
    rec "$U/status/200?twice" false '"dns"' null
    echo '{"index": 9, "url": "torn'
} >"$prev"

in="$T_DIR/in.txt"
cat >"$in" <<IN
$U/status/500?was=ok
$U/status/200?was=down
$U/status/500?was=refused
$U/status/500?was=body
$S
$U/delay/300?was=fast
$U/status/200?same
{"url": "$U/status/200?renamed", "name": "by-name"}
$U/status/200?twice
$U/status/200?twice
$U/status/200?never-seen
IN
"$SALVO" --retry 0 --min-cert-days $((left + 1)) "${tls[@]}" --compare "$prev" \
    --summary -s -i "$in" -o "$prev" 2>"$T_DIR/err"
check_eq "FILE was also the output: read whole first, then replaced" 11 "$(wc -l <"$prev")"
got=$(jq -r '[.url, .change // "null"] | @tsv' "$prev" | sed "s|$U||; s|$S|TLS|" | sort)
want=$(printf '%s\t%s\n' \
    "/status/500?was=ok" down \
    "/status/200?was=down" up \
    "/status/500?was=refused" error_changed \
    "/status/500?was=body" error_changed \
    TLS cert_soon \
    "/delay/300?was=fast" slower \
    "/status/200?same" null \
    "/status/200?renamed" null \
    "/status/200?twice" null \
    "/status/200?twice" up \
    "/status/200?never-seen" new | sort)
check_eq "each change value, in the contract's order of rules" "$want" "$got"
# The same url twice: the first to finish meets the first in FILE (ok, so no change),
# the second the second (not ok then, so up).
check_eq "the k-th occurrence meets the k-th" "null up" \
    "$(jq -r 'select(.url | endswith("twice")) | .change // "null"' "$prev" | paste -sd' ')"
check_eq "the summary's changes line" \
    "changes  new 1, down 1, up 2, error_changed 2, cert_soon 1, slower 1, 3 unchanged" \
    "$(grep '^changes' "$T_DIR/err")"
check_eq "the torn line of FILE is skipped, with a warning" 1 \
    "$(grep -c 'lines of .* are not records; ignored' "$T_DIR/err")"

# Without --compare, change is null and there is no changes line.
r=$("$SALVO" --summary -s "$U/status/200" 2>"$T_DIR/err2")
check_eq "without --compare: change null, no changes line" "null 0" \
    "$(jq -c .change <<<"$r") $(grep -c '^changes' "$T_DIR/err2")"

# A FILE salvo cannot read: exit 2 before anything is sent.
"$SALVO" --compare "$T_DIR/missing.jsonl" "$U/status/200" >"$T_DIR/o" 2>"$T_DIR/e"
check_eq "an unreadable --compare FILE: exit 2, a message, no record" "2 1 0" \
    "$? $(grep -c 'compare: cannot read' "$T_DIR/e") $(wc -c <"$T_DIR/o")"
finish
