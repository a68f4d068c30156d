#!/usr/bin/env bash
# Command-line values that cannot make a valid request are usage errors: exit status 2,
# one line on stderr, and nothing sent (the test server counts the connections it
# accepted). Headers that frame the message belong to salvo, not to -H.
. "$(dirname "$0")/../lib.sh"
start_testd flags || exit 1
U="http://127.0.0.1:$TESTD_PORT"
ver=$("$SALVO" --version | cut -d' ' -f2)
accepts() { curl -s "$U/__stats" | jq .accepts; } # counts its own connection: subtract 1
sha() { printf "$@" | sha256sum | cut -d' ' -f1; }
printf 'this is a text file, not a certificate\n' >"$T_DIR/text.pem"

# refused NAME ARGS...: salvo ARGS URL exits 2 with one stderr line, no record, and the
# server accepted no connection.
refused() {
    local name=$1 before rc lines records
    shift
    before=$(accepts)
    "$SALVO" --retry 0 -m 5 "$@" "$U/echo" >"$T_DIR/out" 2>"$T_DIR/err"
    rc=$?
    lines=$(wc -l <"$T_DIR/err")
    records=$(wc -l <"$T_DIR/out")
    check_eq "$name: exit 2, one line on stderr, no record, no connection" "2 1 0 0" \
        "$rc $lines $records $(($(accepts) - before - 1))"
}

refused "-H 'X Y: z' (space in the name)" -H 'X Y: z'
refused "-H ' Foo: bar' (leading space)" -H ' Foo: bar'
refused "-H 'Foo : bar' (space before the colon)" -H 'Foo : bar'
refused "-H 'Foo' (no colon)" -H 'Foo'
refused "-X 'GE T' (space in the method)" -X 'GE T'
refused "-X '' (empty method)" -X ''
refused "--cacert naming a missing file" --cacert /nonexistent/ca.pem
refused "--cacert naming a text file, not PEM" --cacert "$T_DIR/text.pem"

# salvo frames the message itself: a length, a transfer coding or a connection upgrade
# given with -H would contradict what it sends.
refused "-H 'Content-Length: 100'" -H 'Content-Length: 100'
refused "-H 'content-length: 5' (any case)" -H 'content-length: 5'
refused "-H 'Transfer-Encoding: chunked'" -H 'Transfer-Encoding: chunked'
refused "-H 'Connection: upgrade'" -H 'Connection: upgrade'

# What is valid is sent, once.
one() { printf '%s\n' "$1" | sha256sum | cut -d' ' -f1; }
r=$("$SALVO" --retry 0 --hash -H 'X-Ok: 1' "$U/header/X-Ok")
check_eq "-H 'X-Ok: 1' is sent" "true $(one 1)" "$(jq -r '"\(.ok) \(.sha256)"' <<<"$r")"
r=$("$SALVO" --retry 0 --hash -H 'Connection: close' "$U/echo")
check_eq "-H 'Connection: close': the request holds one Connection header" \
    "true $(sha 'GET /echo HTTP/1.1\r\nHost: 127.0.0.1:%s\r\nUser-Agent: salvo/%s\r\nAccept: */*\r\nAccept-Encoding: gzip, deflate\r\nConnection: close\r\n\r\n' "$TESTD_PORT" "$ver")" \
    "$(jq -r '"\(.ok) \(.sha256)"' <<<"$r")"
r=$("$SALVO" --retry 0 --hash -H 'Connection: close' "$U/header/Connection")
check_eq "... its value once" "true $(one close)" "$(jq -r '"\(.ok) \(.sha256)"' <<<"$r")"
r=$("$SALVO" --retry 0 --hash -H 'Connection: keep-alive' "$U/header/Connection")
check_eq "-H 'Connection: keep-alive' is accepted and sent once" "true $(one keep-alive)" \
    "$(jq -r '"\(.ok) \(.sha256)"' <<<"$r")"

finish
