#!/usr/bin/env bash
# Hostile peers and bad input: each URL gets its own error class while the run goes on,
# and every URL yields exactly one record.
. "$(dirname "$0")/../lib.sh"
start_testd hostile || exit 1
U="http://127.0.0.1:$TESTD_PORT"
start_dnsmasq errs --address=/known.test/127.0.0.1 --local=/test/ || exit 1
# A port that refuses: bind one, note it, close it.
refused=$(free_port)
out=$T_DIR/out.jsonl

urls=(
    "$U/"                                    # ok
    "not a url"                              # bad_url
    "http://"                                # bad_url
    "http://host:99999/"                     # bad_url
    "ftp://example.test/file"                # unsupported_scheme
    "http://127.0.0.1:$refused/"             # connect_refused
    "http://missing.test:$TESTD_PORT/"       # dns (NXDOMAIN from dnsmasq)
    "$U/stall"                               # timeout
    "$U/size/300000"                         # too_large with --max-filesize 100k
    "$U/garbage"                             # protocol
    "$U/reset-mid/200000"                    # reset
    "$U/close-early/100000"                  # partial
    "$U/empty"                               # empty_reply
    "$U/headers-flood"                       # too_large (headers over 64 KiB)
    "$U/status/500"                          # ok=false, error null
    "http://known.test:$TESTD_PORT/size/10"  # ok, through the resolver
)
"$SALVO" --retry 0 -m 1.5 --max-filesize 100k --dns-servers "127.0.0.1:$DNS_PORT" \
    -c 20 "${urls[@]}" >"$out"
check_eq "exit status 1: some records are not ok" 1 $?
check_eq "one record per URL" "${#urls[@]}" "$(wc -l <"$out")"
check_eq "indexes 0..n-1 each once" "$(seq 0 $((${#urls[@]} - 1)) | tr '\n' ' ')" \
    "$(jq -r .index "$out" | sort -n | tr '\n' ' ')"
cls() { jq -r "select(.index == $1) | .error // \"null\"" "$out"; }
expect() { check_eq "${urls[$1]} -> $2" "$2" "$(cls "$1")"; }
expect 0 null
expect 1 bad_url
expect 2 bad_url
expect 3 bad_url
expect 4 unsupported_scheme
expect 5 connect_refused
expect 6 dns
expect 7 timeout
expect 8 too_large
expect 9 protocol
expect 10 reset
expect 11 partial
expect 12 empty_reply
expect 13 too_large
expect 14 null
expect 15 null
check_eq "a 500 is a completed response that is not ok" "false 500" \
    "$(jq -r 'select(.index == 14) | "\(.ok) \(.status)"' "$out")"
check_eq "a failed body keeps the status whose headers arrived" "200" \
    "$(jq -r 'select(.index == 11) | .status' "$out")"
check_eq "every failure has a message" 0 \
    "$(jq -c 'select(.error != null and (.message == null or .message == ""))' "$out" | wc -l)"
check_eq "malformed URLs are never attempted" "0 0 0 0" \
    "$(jq -r 'select(.index >= 1 and .index <= 4) | .attempts' "$out" | tr '\n' ' ' | sed 's/ $//')"
check_le "the stalled URL ends at -m (1.5 s), not later" \
    "$(jq -r 'select(.index == 7) | .total_ms' "$out")" 3000

# Records are valid JSON whatever bytes the input holds.
printf 'http://127.0.0.1:%s/\xff\xfe\x01"\\\n\xc3\x28 http://x\x7f.test/\n\xed\xa0\x80\xf4\x90\x80\x80\n' \
    "$refused" >"$T_DIR/bytes.txt"
"$SALVO" --retry 0 -i "$T_DIR/bytes.txt" >"$out" 2>/dev/null
check_eq "records for hostile bytes parse with jq" 3 "$(jq -c . "$out" | wc -l)"
check_eq "invalid UTF-8 becomes U+FFFD" "true" \
    "$(jq -s 'any(.[]; .url | contains("\ufffd"))' "$out")"

# A silent resolver: dns_timeout within the connect deadline.
silent=$(free_port)
python3 -c "import socket,time; s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM); s.bind(('127.0.0.1',$silent)); open('$T_DIR/silent.ready','w').close(); time.sleep(20)" &
T_PIDS+=($!)
# Until it is bound, a query would be refused (a dns error), not left unanswered.
for _ in $(seq 1 100); do [ -e "$T_DIR/silent.ready" ] && break; sleep 0.05; done
start=$(now)
r=$("$SALVO" --retry 0 --connect-timeout 1 --dns-servers "127.0.0.1:$silent" "http://quiet.test/")
el=$(since "$start")
check_eq "a resolver that never answers -> dns_timeout" dns_timeout "$(jq -r .error <<<"$r")"
check_le "... within the connect deadline (1 s, margin 2x)" "$el" 2

finish
