#!/usr/bin/env bash
# Proxies: http:// and https:// targets through real proxies on loopback: tinyproxy (an
# HTTP proxy: absolute-form requests and CONNECT tunnels, Basic credentials, a CONNECT
# refused with 403), stunnel in front of tinyproxy (an HTTPS proxy) and microsocks (SOCKS5,
# with and without credentials, names resolved by salvo or by the proxy). The proxy comes
# from -x or, as curl reads it, from the environment; the choice is compared with curl's
# on the same inputs. Each peer is first checked with curl ("peer:" cases), so that a
# failing salvo case points at salvo.
. "$(dirname "$0")/../lib.sh"
make_certs || exit 1
CA=(--cacert "$CERTS/ca.pem")
# Every salvo run is bounded; --retry 0 unless the case is about retries.
B=(--retry 0 -m 5 --connect-timeout 3)
out=$T_DIR/out.jsonl
field() { jq -r "$1" <<<"$r"; }
# pc ARGS...: curl's status code for one request (000 when it failed).
pc() { curl -s -o /dev/null -w '%{http_code}' -m 5 "$@"; }
subject() { openssl x509 -noout -subject -nameopt RFC2253 -in "$1" | sed 's/^subject=//'; }
SUBJ=$(subject "$CERTS/leaf.pem") # the origins' certificate: CN=site.test,O=salvo tests
body_of() { yes abcdefghijklmnopqrstuvwxyz | head -c "$1"; }
# new_requests LOG N: the request lines a tinyproxy logged after its first N.
new_requests() { grep 'Request (file descriptor' "$1" | tail -n +$(($2 + 1)); }
# socks_conns LOG: how many tunnels a microsocks opened so far.
socks_conns() { grep -c 'connected to' "$1" 2>/dev/null; }

# ---- peers ---------------------------------------------------------------------------
# Origins: testd (http) and nginx with the test CA's certificates (https).
start_testd origin || exit 1
H=http://127.0.0.1:$TESTD_PORT
ports=()
while [ ${#ports[@]} -lt 4 ]; do
    p=$(free_port)
    [[ " ${ports[*]} " == *" $p "* ]] || ports+=("$p")
done
PG=${ports[0]} PWH=${ports[1]} REFUSED=${ports[2]} PSILENT=${ports[3]}
S=https://127.0.0.1:$PG
start_nginx origins "    keepalive_requests 100000;
    server { listen 127.0.0.1:$PG ssl; ssl_protocols TLSv1.2 TLSv1.3;
        ssl_certificate $CERTS/leaf.pem; ssl_certificate_key $CERTS/leaf.key;
        location / { return 200 \"ok\\n\"; } }
    server { listen 127.0.0.1:$PWH ssl;
        ssl_certificate $CERTS/wronghost.pem; ssl_certificate_key $CERTS/wronghost.key;
        location / { return 200 \"ok\\n\"; } }" || exit 1

# The proxies' own resolver: a dnsmasq on port 53 of a 127.53.x.y address, which the
# proxies started with --dns reach through a private /etc/resolv.conf (resolver_ns). The
# names below resolve there only: salvo's own resolver (--dns-servers, a dnsmasq that
# answers NXDOMAIN for them) and the machine's do not know them.
NS=1 NS_WHY=""
if ! start_proxy_dns proxyside --address=/example.test/127.0.0.1 \
    --address=/notexample.test/127.0.0.1 --address=/hidden.site.test/127.0.0.1 \
    >"$T_DIR/proxy_dns.err" 2>&1; then
    NS=0 NS_WHY="no DNS server on port 53 here: $(head -1 "$T_DIR/proxy_dns.err")"
elif ! resolver_ns "$PROXY_DNS_ADDR" || ! "${RESOLVER_NS[@]}" true 2>"$T_DIR/unshare.err"; then
    NS=0 NS_WHY="no private mount namespace here: $(head -1 "$T_DIR/unshare.err")"
fi
DNSOPT=()
[ "$NS" = 1 ] && DNSOPT=(--dns "$PROXY_DNS_ADDR")
start_dnsmasq salvoside --local=/hidden.site.test/ --local=/example.test/ \
    --local=/notexample.test/ || exit 1
LOCALDNS=(--dns-servers "127.0.0.1:$DNS_PORT")

# The main HTTP proxy listens on 127.0.0.2: remote_ip then tells the proxy's address
# from the origins' (127.0.0.1).
start_tinyproxy --listen 127.0.0.2 "${DNSOPT[@]}" || exit 1
TPX=http://127.0.0.2:$TINYPROXY_PORT TPLOG=$TINYPROXY_LOG
start_tinyproxy --auth pxuser:pxsecret99 || exit 1
APX=127.0.0.1:$TINYPROXY_PORT
start_tinyproxy --connect-port 443 || exit 1 # CONNECT to any test port: 403
RPX=http://127.0.0.1:$TINYPROXY_PORT RPLOG=$TINYPROXY_LOG

check_eq "peer: tinyproxy forwards an http request (curl)" 200 "$(pc -x "$TPX" "$H/")"
check_eq "peer: tinyproxy tunnels https, origin verified (curl)" 200 \
    "$(pc -x "$TPX" "${CA[@]}" "$S/")"
check "peer: tinyproxy logs CONNECT lines" grep -q "CONNECT 127.0.0.1:$PG HTTP/1.1" "$TPLOG"
n=$(grep -c "CONNECT 127.0.0.1:$PG " "$TPLOG")
curl -s -m 5 -x "$TPX" "${CA[@]}" "$S/a" "$S/b" "$S/c" >/dev/null
check_eq "peer: three requests through one tunnel: one CONNECT (curl)" 1 \
    "$(($(grep -c "CONNECT 127.0.0.1:$PG " "$TPLOG") - n))"
check_eq "peer: wrong-host origin fails verification through tinyproxy (curl exit 60)" 60 \
    "$(pc -x "$TPX" "${CA[@]}" "https://127.0.0.1:$PWH/" >/dev/null; echo $?)"
check_eq "peer: credentials proxy: 407 for http, 200 with credentials (curl)" "407 200 200" \
    "$(pc -x "http://$APX" "$H/") $(pc -x "http://pxuser:pxsecret99@$APX" "$H/") $(
        pc -x "http://pxuser:pxsecret99@$APX" "${CA[@]}" "$S/")"
check "peer: credentials proxy answers CONNECT without credentials with 407 (curl)" \
    grep -q "^< HTTP/1.[01] 407" <<<"$(curl -sv -o /dev/null -m 5 -x "http://$APX" "${CA[@]}" \
        "$S/" 2>&1)"
check "peer: ConnectPort 443 proxy answers CONNECT to another port with 403 (curl)" \
    grep -q "^< HTTP/1.[01] 403" <<<"$(curl -sv -o /dev/null -m 5 -x "$RPX" "${CA[@]}" "$S/" 2>&1)"

# ---- 1. an http target through an HTTP proxy -------------------------------------------
n=$(proxy_requests "$TPLOG")
r=$("$SALVO" "${B[@]}" --hash -x "$TPX" "$H/size/100")
check_eq "http via tinyproxy: 200, proxy and remote_ip are the proxy's" \
    "200 null $TPX 127.0.0.2" "$(field '"\(.status) \(.error) \(.proxy) \(.remote_ip)"')"
check_eq "... the body whole" "$(body_of 100 | sha256sum | cut -d' ' -f1)" "$(field .sha256)"
check "... tinyproxy read it as an absolute-form request" \
    grep -q ": GET $H/size/100 HTTP/1.1$" <<<"$(new_requests "$TPLOG" "$n")"
r=$("$SALVO" "${B[@]}" "$H/size/1")
check_eq "without -x (and no proxy in the environment): proxy null" "200 null 127.0.0.1" \
    "$(field '"\(.status) \(.proxy) \(.remote_ip)"')"

# ---- 2. an https target through a CONNECT tunnel ---------------------------------------
n=$(proxy_requests "$TPLOG")
r=$("$SALVO" "${B[@]}" "${CA[@]}" -x "$TPX" "$S/")
check_eq "https via tinyproxy: 200, verified, proxy and remote_ip are the proxy's" \
    "200 null $TPX 127.0.0.2" "$(field '"\(.status) \(.error) \(.proxy) \(.remote_ip)"')"
check_eq "... the TLS fields are the origin's" "true $SUBJ" \
    "$(field '"\(.tls_version != null) \(.cert_subject)"')"
check "... tinyproxy logged the CONNECT" \
    grep -q ": CONNECT 127.0.0.1:$PG HTTP/1.1$" <<<"$(new_requests "$TPLOG" "$n")"
r=$("$SALVO" "${B[@]}" "${CA[@]}" -x "$TPX" "https://127.0.0.1:$PWH/")
check_eq "an origin whose certificate does not name it, through the proxy -> tls_verify" \
    "tls_verify $TPX CN=other.test,O=salvo tests" "$(field '"\(.error) \(.proxy) \(.cert_subject)"')"
r=$("$SALVO" "${B[@]}" -x "$TPX" "$S/")
check_eq "an origin of an unknown CA (no --cacert), through the proxy -> tls_verify" \
    "tls_verify" "$(field .error)"

# ---- 3. proxy credentials ----------------------------------------------------------------
pw=pxsecret99
pwb64=$(printf 'pxuser:%s' "$pw" | base64) # what a Proxy-Authorization header carries
r=$("$SALVO" "${B[@]}" -x "http://$APX" "$H/")
check_eq "credentials proxy, none given, http target: the proxy's 407 is the status" \
    "407 null http://$APX" "$(field '"\(.status) \(.error) \(.proxy)"')"
r=$("$SALVO" "${B[@]}" "${CA[@]}" -x "http://$APX" "$S/")
check_eq "... https target: CONNECT answered 407 -> proxy" "proxy null" \
    "$(field '"\(.error) \(.status)"')"
check "... the message names the 407 (got: $(field .message))" grep -q 407 <<<"$(field .message)"
"$SALVO" -m 5 --connect-timeout 3 --retry 0 "${CA[@]}" -x "http://pxuser:$pw@$APX" \
    --trace "$T_DIR/trace.jsonl" --stats --summary -o "$T_DIR/auth.jsonl" "$H/size/10" "$S/" \
    >"$T_DIR/auth.out" 2>"$T_DIR/auth.err"
check_eq "with user:pass in -x: both targets 200, proxy without the credentials" \
    "200 http://$APX|200 http://$APX" \
    "$(jq -rs 'sort_by(.index) | map("\(.status) \(.proxy)") | join("|")' "$T_DIR/auth.jsonl")"
# tinyproxy 1.11 answers wrong credentials with 401 (407 only when there are none).
wrong=$(pc -x "http://pxuser:wrong-$pw@$APX" "$H/")
check_eq "peer: tinyproxy answers wrong credentials with 401 (curl)" 401 "$wrong"
"$SALVO" -m 5 --connect-timeout 3 --retry 1 --retry-backoff 0.01 --attempt-log "${CA[@]}" \
    -x "http://pxuser:wrong-$pw@$APX" --trace "$T_DIR/trace2.jsonl" "$H/size/10" "$S/" \
    >"$T_DIR/auth2.jsonl" 2>"$T_DIR/auth2.err"
check_eq "with a wrong password: the proxy's $wrong for http, proxy for https" \
    "$wrong null|null proxy" \
    "$(jq -rs 'sort_by(.index) | map("\(.status) \(.error)") | join("|")' "$T_DIR/auth2.jsonl")"
seen=("$T_DIR"/auth*.jsonl "$T_DIR"/auth*.out "$T_DIR"/auth*.err "$T_DIR"/trace*.jsonl)
check_eq "the proxy password appears nowhere: records, stdout, stderr, --trace" "0 0" \
    "$(cat "${seen[@]}" 2>/dev/null | grep -c "$pw") $(cat "${seen[@]}" 2>/dev/null |
        grep -c "$pwb64")"
check "... and the trace file was written" test -s "$T_DIR/trace.jsonl"

# ---- 4. failures before the tunnel: class proxy -------------------------------------------
n=$(proxy_requests "$RPLOG")
r=$("$SALVO" --retry 2 --retry-backoff 0.01 -m 5 "${CA[@]}" -x "$RPX" "$S/")
check_eq "CONNECT answered 403 -> proxy, not retried (--retry 2)" "proxy 1 null" \
    "$(field '"\(.error) \(.attempts) \(.status)"')"
check "... the message names the 403 (got: $(field .message))" grep -q 403 <<<"$(field .message)"
check_eq "... the proxy saw one CONNECT" 1 "$(new_requests "$RPLOG" "$n" | grep -c CONNECT)"
r=$("$SALVO" --retry 1 --retry-backoff 0.01 -m 5 -x "http://127.0.0.1:$REFUSED" "$H/")
check_eq "a proxy that is not listening -> proxy, retried (--retry 1)" "proxy 2" \
    "$(field '"\(.error) \(.attempts)"')"
check "... the message is about reaching the proxy (got: $(field .message))" \
    grep -qiE "refused|connect" <<<"$(field .message)"
r=$("$SALVO" --retry 0 -m 5 "${CA[@]}" -x "http://127.0.0.1:$REFUSED" "$S/")
check_eq "... the same for an https target" "proxy http://127.0.0.1:$REFUSED" \
    "$(field '"\(.error) \(.proxy)"')"
# A proxy that accepts and never answers the CONNECT.
start_silent "$PSILENT"
start=$(now)
r=$("$SALVO" --retry 0 -m 3 --connect-timeout 1 "${CA[@]}" -x "http://127.0.0.1:$PSILENT" "$S/")
el=$(since "$start")
check_eq "a proxy that never answers the CONNECT -> proxy" proxy "$(field .error)"
check_le "... bounded by the deadlines ($el s)" "$el" 4

# ---- 5. --noproxy ------------------------------------------------------------------------
for np in 127.0.0.1 '*'; do
    n=$(wc -l <"$TPLOG")
    r=$("$SALVO" "${B[@]}" "${CA[@]}" -x "$TPX" --noproxy "$np" "$H/" "$S/" | jq -s -c .)
    check_eq "--noproxy '$np' with -x: both targets direct (proxy null, remote_ip the origin's)" \
        "200 null 127.0.0.1|200 null 127.0.0.1" \
        "$(jq -r 'sort_by(.index) | map("\(.status) \(.proxy) \(.remote_ip)") | join("|")' <<<"$r")"
    check_eq "... tinyproxy's log has nothing new" "$n" "$(wc -l <"$TPLOG")"
done

# ---- 6. the environment, as curl reads it -------------------------------------------------
# Four distinguishable proxies: tinyproxies A, B, C and microsocks D. For each row, curl and
# salvo run with only PATH and the row's variables (env -i), and the proxies' logs tell
# which one each used (or none). salvo's choice must be curl's, and its record must name it.
start_tinyproxy "${DNSOPT[@]}" || exit 1
PA=http://127.0.0.1:$TINYPROXY_PORT LA=$TINYPROXY_LOG
start_tinyproxy "${DNSOPT[@]}" || exit 1
PB=http://127.0.0.1:$TINYPROXY_PORT LB=$TINYPROXY_LOG
start_tinyproxy "${DNSOPT[@]}" || exit 1
PC=http://127.0.0.1:$TINYPROXY_PORT LC=$TINYPROXY_LOG
start_microsocks "${DNSOPT[@]}" || exit 1
PD=socks5h://127.0.0.1:$MICROSOCKS_PORT LD=$MICROSOCKS_LOG
counts() { echo "$(proxy_requests "$LA") $(proxy_requests "$LB") $(proxy_requests "$LC") $(socks_conns "$LD")"; }
# used BEFORE: which proxies have new lines since the counts BEFORE ("A", "A+B", "none").
used() {
    local b=($1) a=($(counts)) l=(A B C D) i u=""
    for i in 0 1 2 3; do [ "${a[$i]}" -gt "${b[$i]}" ] && u="$u+${l[$i]}"; done
    u=${u#+}
    echo "${u:-none}"
}
letter() { # a record's proxy field as a letter
    case $1 in "$PA") echo A ;; "$PB") echo B ;; "$PC") echo C ;; "$PD") echo D ;;
        null) echo none ;; *) echo "?$1" ;; esac
}
HN=http://host.example.test:$TESTD_PORT/ SN=https://host.example.test:$PG/
PIN=(--resolve "host.example.test:$TESTD_PORT:127.0.0.1" --resolve "host.example.test:$PG:127.0.0.1"
    --resolve "notexample.test:$TESTD_PORT:127.0.0.1")
SALVO_ENV=(ASAN_OPTIONS="$ASAN_OPTIONS" UBSAN_OPTIONS="$UBSAN_OPTIONS")
# TARGET | VARIABLES (;-separated, @A..@D = the proxies) | salvo and curl arguments
rows=(
    "$HN|http_proxy=@A|"
    "$HN|HTTP_PROXY=@A|"
    "$HN|http_proxy=@A;HTTP_PROXY=@B|"
    "$SN|https_proxy=@A|"
    "$SN|HTTPS_PROXY=@A|"
    "$SN|https_proxy=@A;HTTPS_PROXY=@B|"
    "$SN|http_proxy=@A|"
    "$HN|https_proxy=@A|"
    "$HN|all_proxy=@C|"
    "$SN|ALL_PROXY=@C|"
    "$HN|all_proxy=@C;ALL_PROXY=@B|"
    "$HN|all_proxy=@C;http_proxy=@A|"
    "$SN|all_proxy=@C;https_proxy=@B|"
    "$HN|HTTP_PROXY=@A;ALL_PROXY=@C|"
    "$SN|http_proxy=@A;all_proxy=@C|"
    "$H/|all_proxy=@D|"
    "$S/|https_proxy=@D|"
    "$HN|http_proxy=@A;no_proxy=example.test|"
    "$HN|http_proxy=@A;no_proxy=.example.test|"
    "$HN|http_proxy=@A;no_proxy=host.example.test|"
    "http://notexample.test:$TESTD_PORT/|http_proxy=@A;no_proxy=example.test|"
    "$HN|http_proxy=@A;no_proxy=other.test,example.test|"
    "$HN|http_proxy=@A;no_proxy=other.test, example.test|"
    "$HN|http_proxy=@A;no_proxy=other.test|"
    "$H/|http_proxy=@A;no_proxy=127.0.0.1|"
    "$H/|http_proxy=@A;no_proxy=127.0.0.2|"
    "$S/|https_proxy=@A;no_proxy=127.0.0.1|"
    "$HN|http_proxy=@A;no_proxy=*|"
    "$SN|https_proxy=@A;NO_PROXY=example.test|"
    "$HN|http_proxy=@A;NO_PROXY=*|"
    "$HN|http_proxy=@A;no_proxy=other.test;NO_PROXY=example.test|"
    "$HN|http_proxy=@A|-x @B"
    "$SN|https_proxy=@A;all_proxy=@C|-x @B"
    "$HN|no_proxy=example.test|-x @B"
    "$HN|http_proxy=@A|--noproxy example.test"
    "$HN|http_proxy=@A;no_proxy=example.test|--noproxy other.test"
    "$SN|https_proxy=@A|--noproxy *"
)
sub() { local v=${1//@A/$PA}; v=${v//@B/$PB}; v=${v//@C/$PC}; echo "${v//@D/$PD}"; }
table=() failed=0
for row in "${rows[@]}"; do
    IFS='|' read -r url vars args <<<"$row"
    IFS=';' read -ra envs <<<"$(sub "$vars")"
    read -ra extra <<<"$(sub "$args")"
    c=$(counts)
    env -i PATH=/usr/bin:/bin "${envs[@]}" curl -s -o /dev/null -k -m 5 "${PIN[@]}" \
        "${extra[@]}" "$url"
    want=$(used "$c")
    c=$(counts)
    r=$(env -i PATH=/usr/bin:/bin "${SALVO_ENV[@]}" "${envs[@]}" "$SALVO" "${B[@]}" -k \
        "${PIN[@]}" "${extra[@]}" "$url")
    got=$(used "$c")
    rec=$(letter "$(field .proxy)")
    host=${url#*//}
    line="$vars${args:+ $args} -> ${url%%:*}://${host%%:*}: curl $want, salvo $got (record: $rec, status $(field .status))"
    table+=("$line")
    if [ "$got" = "$want" ] && [ "$rec" = "$want" ]; then ok "env: $line"
    else not_ok "env: $line"; failed=1; fi
done
if [ "$failed" = 1 ]; then
    echo "# the whole table (A B C: tinyproxies, D: microsocks (socks5h)):"
    printf '#   %s\n' "${table[@]}"
fi

# ---- 7. SOCKS5 ---------------------------------------------------------------------------
start_microsocks "${DNSOPT[@]}" || exit 1
SX=127.0.0.1:$MICROSOCKS_PORT SLOG=$MICROSOCKS_LOG
start_microsocks --auth sxuser:sxsecret55 || exit 1
SAX=127.0.0.1:$MICROSOCKS_PORT
check_eq "peer: microsocks, http and https targets (curl)" "200 200" \
    "$(pc -x "socks5://$SX" "$H/") $(pc -x "socks5://$SX" "${CA[@]}" "$S/")"
check_eq "peer: microsocks with credentials: right, wrong, none (curl)" "200 000 000" \
    "$(pc -x "socks5://sxuser:sxsecret55@$SAX" "$H/") $(pc -x "socks5://sxuser:wrong@$SAX" \
        "$H/") $(pc -x "socks5://$SAX" "$H/")"
r=$("$SALVO" "${B[@]}" -x "socks5://$SX" "$H/")
check_eq "socks5, http target: 200, proxy and remote_ip" "200 null socks5://$SX 127.0.0.1" \
    "$(field '"\(.status) \(.error) \(.proxy) \(.remote_ip)"')"
r=$("$SALVO" "${B[@]}" "${CA[@]}" -x "socks5://$SX" "$S/")
check_eq "socks5, https target: 200, the origin's certificate verified" \
    "200 null socks5://$SX $SUBJ" "$(field '"\(.status) \(.error) \(.proxy) \(.cert_subject)"')"
if [ "$NS" = 1 ]; then
    U=https://hidden.site.test:$PG/
    check_eq "peer: socks5h to a name only the proxy side resolves (curl)" 200 \
        "$(pc -x "socks5h://$SX" "${CA[@]}" "$U")"
    check_eq "peer: the machine's resolver does not know it (curl, socks5: exit 97)" 97 \
        "$(pc -x "socks5://$SX" "${CA[@]}" "$U" >/dev/null; echo $?)"
    q=$(dns_queries hidden.site.test) pq=$(grep -c 'query\[A\] hidden.site.test' "$PROXY_DNS_LOG")
    r=$("$SALVO" "${B[@]}" "${CA[@]}" "${LOCALDNS[@]}" -x "socks5h://$SX" "$U")
    check_eq "socks5h: the proxy resolves the name: 200, the origin's certificate" \
        "200 null socks5h://$SX $SUBJ" \
        "$(field '"\(.status) \(.error) \(.proxy) \(.cert_subject)"')"
    check_eq "... salvo asked its resolver nothing, the proxy side asked" "0 true" \
        "$(($(dns_queries hidden.site.test) - q)) $(
            [ "$(grep -c 'query\[A\] hidden.site.test' "$PROXY_DNS_LOG")" -gt "$pq" ] &&
                echo true || echo false)"
    n=$(socks_conns "$SLOG")
    r=$("$SALVO" "${B[@]}" "${CA[@]}" "${LOCALDNS[@]}" -x "socks5://$SX" "$U")
    check_eq "socks5 (names resolved by salvo): the same URL -> dns, proxy named" \
        "dns socks5://$SX" "$(field '"\(.error) \(.proxy)"')"
    check_eq "... and no tunnel was opened" "$n" "$(socks_conns "$SLOG")"
else
    ok "# SKIP socks5h name isolation: $NS_WHY"
fi
r=$("$SALVO" "${B[@]}" -x "socks5://sxuser:sxsecret55@$SAX" "$H/")
check_eq "socks5 with user:pass: 200, proxy without the credentials" "200 socks5://$SAX" \
    "$(field '"\(.status) \(.proxy)"')"
"$SALVO" "${B[@]}" -x "socks5://sxuser:wrong-sxsecret55@$SAX" --trace "$T_DIR/strace.jsonl" \
    "$H/" >"$T_DIR/socks.jsonl" 2>"$T_DIR/socks.err"
r=$(cat "$T_DIR/socks.jsonl")
check_eq "socks5 with a wrong password -> proxy" "proxy null" "$(field '"\(.error) \(.status)"')"
check_eq "... the password appears nowhere" 0 \
    "$(cat "$T_DIR/socks.jsonl" "$T_DIR/socks.err" "$T_DIR/strace.jsonl" 2>/dev/null |
        grep -c sxsecret55)"
r=$("$SALVO" "${B[@]}" -x "socks5://$SAX" "$H/")
check_eq "socks5 without credentials to a proxy that requires them -> proxy" proxy "$(field .error)"

# ---- 8. an HTTPS proxy: stunnel in front of tinyproxy ----------------------------------
# The proxy's certificate (chain.site.test, signed by the intermediate, sent with it) is
# not the origins' (site.test), so the record tells whose TLS fields it holds.
start_tinyproxy || exit 1
SPLOG=$TINYPROXY_LOG
start_stunnel --cert "$CERTS/chain-full.pem" --key "$CERTS/chain-leaf.key" || exit 1
SPX=https://127.0.0.1:$STUNNEL_PORT
start_stunnel --cert "$CERTS/selfsigned.pem" --key "$CERTS/selfsigned.key" || exit 1
BADPX=https://127.0.0.1:$STUNNEL_PORT
check_eq "peer: HTTPS proxy, https and http targets (curl --proxy-cacert)" "200 200" \
    "$(pc -x "$SPX" --proxy-cacert "$CERTS/ca.pem" "${CA[@]}" "$S/") $(pc -x "$SPX" \
        --proxy-cacert "$CERTS/ca.pem" "$H/")"
check_eq "peer: HTTPS proxy with a self-signed certificate is refused (curl exit 60)" 60 \
    "$(pc -x "$BADPX" --proxy-cacert "$CERTS/ca.pem" "${CA[@]}" "$S/" >/dev/null; echo $?)"
n=$(proxy_requests "$SPLOG")
r=$("$SALVO" "${B[@]}" "${CA[@]}" -x "$SPX" "$S/")
check_eq "HTTPS proxy, https target: 200, the TLS fields are the origin's" \
    "200 null $SPX 127.0.0.1 $SUBJ" \
    "$(field '"\(.status) \(.error) \(.proxy) \(.remote_ip) \(.cert_subject)"')"
r=$("$SALVO" "${B[@]}" "${CA[@]}" -x "$SPX" "$H/")
check_eq "HTTPS proxy, http target: 200" "200 null $SPX" "$(field '"\(.status) \(.error) \(.proxy)"')"
check_eq "... tinyproxy behind stunnel saw a CONNECT and a GET" "CONNECT GET" \
    "$(new_requests "$SPLOG" "$n" | grep -oE ': (CONNECT|GET) ' | tr -d ': ' | tr '\n' ' ' |
        sed 's/ $//')"
r=$("$SALVO" "${B[@]}" "${CA[@]}" -x "$BADPX" "$S/")
check_eq "HTTPS proxy whose certificate is not trusted (the origin's is) -> proxy" \
    "proxy $BADPX" "$(field '"\(.error) \(.proxy)"')"
check "... the message is about the proxy's TLS (got: $(field .message))" \
    grep -qiE "tls|ssl|certificate|verif" <<<"$(field .message)"
# A TLS proxy that breaks its own TLS: after the request (absolute form) or after its 200
# to CONNECT and the target's ClientHello, it writes bytes that are not TLS records of its
# session. The failure is the proxy's, classified, and not retried.
PGARB=$(free_port)
python3 -c "
import os, socket, ssl
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain('$CERTS/chain-full.pem', '$CERTS/chain-leaf.key')
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(('127.0.0.1', $PGARB)); s.listen(8); s.settimeout(20)
for _ in range(6):
    try:
        c = ctx.wrap_socket(s.accept()[0], server_side=True)
        c.settimeout(5)
        head = b''
        while b'\r\n\r\n' not in head:
            head += c.recv(4096)
        if head.startswith(b'CONNECT'):
            c.sendall(b'HTTP/1.1 200 Connection established\r\n\r\n')
            c.recv(4096)
        os.write(c.fileno(), b'\x17\x03\x03\x00\x05garbage' * 4)
        c.recv(1)
    except Exception:
        pass
" &
T_PIDS+=($!)
wait_listen 127.0.0.1 "$PGARB" || echo "# the garbling proxy did not start"
r=$("$SALVO" --retry 2 --retry-backoff 0.1 -m 5 "${CA[@]}" -x "https://127.0.0.1:$PGARB" "$H/")
check_eq "a TLS proxy that garbles its TLS, http target: no crash, proxy, not retried" \
    "proxy 1" "$(field '"\(.error) \(.attempts)"')"
r=$("$SALVO" --retry 2 --retry-backoff 0.1 -m 5 "${CA[@]}" -x "https://127.0.0.1:$PGARB" "$S/")
check_eq "... https target (garbled during the target's handshake): proxy, not retried" \
    "proxy 1" "$(field '"\(.error) \(.attempts)"')"
check "... the message says it is the proxy's TLS (got: $(field .message))" \
    grep -q "TLS to the proxy" <<<"$(field .message)"

# ---- 9. keep-alive through the tunnels -----------------------------------------------------
n=$(grep -c "CONNECT 127.0.0.1:$PG " "$TPLOG")
for i in $(seq 1 1000); do echo "$S/k$i"; done >"$T_DIR/1000.txt"
"$SALVO" --retry 0 -m 10 -c 10 "${CA[@]}" -x "$TPX" --stats -i "$T_DIR/1000.txt" >"$out" \
    2>"$T_DIR/stats"
check_eq "1,000 https requests through tinyproxy with -c 10: all 200" 1000 \
    "$(jq_count '.status == 200 and .proxy != null' "$out")"
opened=$(tail -1 "$T_DIR/stats" | jq .connections_opened)
check_le "... at most 10 connections opened (engine counter: $opened)" "${opened:-999}" 10
check_le "... at most 10 CONNECTs seen by the proxy" \
    "$(($(grep -c "CONNECT 127.0.0.1:$PG " "$TPLOG") - n))" 10
check_le "... at least 990 records on a reused connection" 990 "$(jq_count '.reused' "$out")"

finish
