#!/usr/bin/env bash
# -4 and -6: only the addresses of one family are tried, whatever gave them (a resolver's
# A and AAAA answer, a --resolve pin, an IP literal), in the engine and in the blocking
# baseline; a name with none of that family fails with class dns and says so. -4 -6
# together is a usage error.
. "$(dirname "$0")/../lib.sh"

if ! python3 -c 'import socket; socket.socket(socket.AF_INET6).bind(("::1", 0))' 2>/dev/null; then
    echo "ok 1 - # SKIP no ::1"
    exit 0
fi

P=$(free_port)
start_testd fam --listen "127.0.0.1:$P" --listen "[::1]:$P" || exit 1
start_dnsmasq fam --address=/both.test/127.0.0.1 --address=/both.test/::1 \
    --address=/v4.test/127.0.0.1 --address=/v6.test/::1 --local=/test/ || exit 1
D=(--dns-servers "127.0.0.1:$DNS_PORT" --retry 0 -m 5)
F='"\(.ok) \(.error) \(.remote_ip)"'
one() { "$SALVO" "${D[@]}" "$@" | jq -r "$F"; }

check_eq "both families by default: ok" true "$(one "http://both.test:$P/" | cut -d' ' -f1)"
check_eq "-4: the IPv4 address" "true null 127.0.0.1" "$(one -4 "http://both.test:$P/")"
check_eq "-6: the IPv6 address" "true null ::1" "$(one -6 "http://both.test:$P/")"
check_eq "--ipv4 and --ipv6 spell them out" "true null 127.0.0.1 true null ::1" \
    "$(one --ipv4 "http://both.test:$P/") $(one --ipv6 "http://both.test:$P/")"

r=$("$SALVO" "${D[@]}" -6 "http://v4.test:$P/")
check_eq "-6 and a name with only an IPv4 address: dns" "false dns null" "$(jq -r "$F" <<<"$r")"
check_eq "... and the message says why" "v4.test: no IPv6 address" "$(jq -r .message <<<"$r")"
r=$("$SALVO" "${D[@]}" -4 "http://v6.test:$P/")
check_eq "-4 and a name with only an IPv6 address: dns, said so" "dns v6.test: no IPv4 address" \
    "$(jq -r '"\(.error) \(.message)"' <<<"$r")"

# Several names in one run, from the cache on the second round.
"$SALVO" "${D[@]}" -6 -c 4 "http://both.test:$P/?a" "http://v4.test:$P/?a" \
    "http://v6.test:$P/?a" "http://both.test:$P/?b" "http://v4.test:$P/?b" >"$T_DIR/mix.jsonl"
check_eq "-6 over a mixed list: the IPv6 ones ok on ::1, the others dns" "3 2" \
    "$(jq_count '.ok and .remote_ip == "::1"' "$T_DIR/mix.jsonl") $(jq_count '.error == "dns"' "$T_DIR/mix.jsonl")"

# Pins and literals are filtered too.
pin=(--resolve "pin.test:$P:127.0.0.1,[::1]")
check_eq "a pin with both: -6 takes ::1" "true null ::1" "$(one "${pin[@]}" -6 "http://pin.test:$P/")"
check_eq "... -4 takes 127.0.0.1" "true null 127.0.0.1" "$(one "${pin[@]}" -4 "http://pin.test:$P/")"
check_eq "a pin with IPv4 only and -6: dns" "false dns null" \
    "$(one --resolve "pin4.test:$P:127.0.0.1" -6 "http://pin4.test:$P/")"
check_eq "an IPv4 literal and -6: dns" "false dns null" "$(one -6 "http://127.0.0.1:$P/")"
check_eq "an IPv6 literal and -4: dns" "false dns null" "$(one -4 "http://[::1]:$P/")"

# The blocking baseline: pins through the same filter.
check_eq "--blocking -6 with a pin: ::1" "true null ::1" \
    "$(one --blocking "${pin[@]}" -6 "http://pin.test:$P/")"
check_eq "--blocking -4 and an IPv6 pin only: dns" "false dns null" \
    "$(one --blocking --resolve "pin6.test:$P:[::1]" -4 "http://pin6.test:$P/")"

"$SALVO" -4 -6 "http://127.0.0.1:$P/" >/dev/null 2>"$T_DIR/err"
check_eq "-4 -6: exit 2" 2 $?
check_eq "... with a message" 1 "$(grep -c -- '-4 and -6' "$T_DIR/err")"

finish
