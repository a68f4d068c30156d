#!/usr/bin/env bash
# Every response shape of tests/fixtures/http1, sent by a real server (testd's
# /fixture/NAME serves a fixture's raw bytes, then closes) and fetched by salvo: the record
# says what the fixture expects the parser to say (status, error class, decoded bytes,
# sha256). The unit tests feed the same bytes to the parser whole, byte by byte and at
# every split; this proves the same outcome end to end, through sockets and the engine.
# Then the few shapes whose outcome depends on following redirects.
. "$(dirname "$0")/../lib.sh"
FIX="$SALVO_ROOT/tests/fixtures/http1"
start_testd fixtures --fixtures "$FIX" || exit 1
U="http://127.0.0.1:$TESTD_PORT"

# expect FILE KEY: a fixture's "# KEY: value" line, or "" when it has none.
expect() { sed -n "s/^# $2: //p" "$1" | head -1; }

for f in "$FIX"/*.http; do
    name=$(basename "$f" .http)
    status=$(expect "$f" status)
    error=$(expect "$f" error)
    bytes=$(expect "$f" body-bytes)
    sha=$(expect "$f" sha256)
    method=GET
    [ "$(expect "$f" head)" = 1 ] && method=HEAD
    max=$(expect "$f" max-body)
    args=(--retry 0 -X "$method" --hash)
    [ -n "$max" ] && args+=(--max-filesize "$max")
    rec=$("$SALVO" "${args[@]}" "$U/fixture/$name")
    [ "$status" = 0 ] && status=null
    [ "$error" = ok ] && error=null || error="\"$error\""
    want="$status $error"
    got=$(jq -r '"\(.status) \(.error | tojson)"' <<<"$rec")
    if [ -n "$bytes" ] && [ "$error" = null ]; then
        want="$want $bytes"
        got="$got $(jq -r .bytes <<<"$rec")"
    fi
    if [ -n "$sha" ] && [ "$error" = null ]; then
        want="$want $sha"
        got="$got $(jq -r .sha256 <<<"$rec")"
    fi
    check_eq "fixture $name, end to end: $want" "$want" "$got"
done

# Under -L: a 3xx with an empty Location, or none, is the final answer; two different
# Locations are no target at all; the same one twice is followed.
rec=$("$SALVO" -L "$U/fixture/location_empty")
check_eq "-L: an empty Location is a final answer" "302 null 0 true" \
    "$(jq -r '"\(.status) \(.error) \(.redirects) \(.ok)"' <<<"$rec")"
rec=$("$SALVO" -L "$U/fixture/location_twice_different")
check_eq "-L: two different Locations are bad_redirect" "302 bad_redirect" \
    "$(jq -r '"\(.status) \(.error)"' <<<"$rec")"

# A redirect's body is not the user's: one without a length is not waited for (the
# server never ends it), and it counts against nothing.
start=$(now)
rec=$("$SALVO" -L -m 5 --max-filesize 5 "$U/redirect/302?to=/size/3&body=endless")
check_eq "-L: a redirect body with no end is not waited for" "200 null 3 1" \
    "$(jq -r '"\(.status) \(.error) \(.bytes) \(.redirects)"' <<<"$rec")"
check_le "... the redirect was followed at once (loose bound, the deadline is 5 s)" \
    "$(since "$start")" 2
finish
