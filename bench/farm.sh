#!/usr/bin/env bash
# bench/farm.sh -- a farm of many distinct web sites on one machine, for the benchmarks
# and the demo: ONE Debian nginx (2 workers, echo module) listening on a separate
# loopback address per site, plain http and https.
#
#   . tests/lib.sh; . bench/farm.sh      then farm_start N ... (run.sh and demo.sh do this)
#   bench/farm.sh [N]                    starts N sites (default 200), prints how to reach
#                                        them, and runs until Ctrl-C
#
# Site K (1-based) is siteK.farm.test on address 127.1.A.B (A = (K-1)/250, B = (K-1)%250+1;
# Linux answers on any 127/8 address without configuring it), port FARM_HTTP (http) and
# FARM_HTTPS (https, a wildcard certificate for *.farm.test from a CA made here, in
# FARM_CA). No tool may resolve these names through the system resolver: every client
# gets the name-to-address map as --resolve pins (farm_pins), and DNS benchmarks use a
# local dnsmasq that knows only the farm (farm_dnsmasq). Endpoints on every site:
#   /delay/MS   answers "ok" after MS milliseconds (echo_sleep)
#   /1k /100k   1,024 and 102,400 bytes from a static file
#   /           the site's address
# The nginx master is started in the background and recorded in T_PIDS (tests/lib.sh), so
# it is stopped by its PID when the script that sourced this file exits; farm_stop stops
# it earlier. Everything listens on 127.0.0.0/8 only.

FARM_TLD=farm.test

# farm_addr K: the loopback address of site K.
farm_addr() { echo "127.1.$((($1 - 1) / 250)).$((($1 - 1) % 250 + 1))"; }

# farm_url K PATH [SCHEME]: the URL of PATH on site K (http unless SCHEME is https).
farm_url() {
    if [ "${3:-http}" = https ]; then
        echo "https://site$1.$FARM_TLD:$FARM_HTTPS$2"
    else
        echo "http://site$1.$FARM_TLD:$FARM_HTTP$2"
    fi
}

# farm_urls COUNT SITES PATH [SCHEME]: COUNT URLs of PATH spread over sites 1..SITES in
# turn (URL i goes to site i % SITES + 1), one a line.
farm_urls() {
    local port=$FARM_HTTP
    [ "${4:-http}" = https ] && port=$FARM_HTTPS
    awk -v n="$1" -v s="$2" -v p="$3" -v sch="${4:-http}" -v port="$port" -v tld="$FARM_TLD" \
        'BEGIN { for (i = 0; i < n; i++) printf "%s://site%d.%s:%d%s\n", sch, i % s + 1, tld, port, p }'
}

# farm_pins SITES FILE: the --resolve pins of sites 1..SITES (both ports), one
# HOST:PORT:ADDR a line, as salvo and curl take them.
farm_pins() {
    awk -v n="$1" -v tld="$FARM_TLD" -v hp="$FARM_HTTP" -v sp="$FARM_HTTPS" 'BEGIN {
        for (k = 1; k <= n; k++) {
            a = sprintf("127.1.%d.%d", int((k - 1) / 250), (k - 1) % 250 + 1)
            printf "site%d.%s:%d:%s\nsite%d.%s:%d:%s\n", k, tld, hp, a, k, tld, sp, a
        }
    }' >"$2"
}

# farm_pin_args FILE: sets PINS to "--resolve PIN" for every line of FILE.
farm_pin_args() {
    local p
    PINS=()
    while read -r p; do PINS+=(--resolve "$p"); done <"$1"
}

# farm_certs DIR: a CA (ca.pem) and a leaf for *.farm.test (leaf.pem, leaf.key) in DIR,
# EC P-256, valid 30 days.
farm_certs() {
    local d=$1
    mkdir -p "$d" || return 1
    cat >"$d/ext.cnf" <<EOF
[req]
distinguished_name = dn
[dn]
[ca]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
[leaf]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = DNS:*.$FARM_TLD, DNS:$FARM_TLD
authorityKeyIdentifier = keyid
EOF
    (
        cd "$d" &&
            openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out ca.key &&
            openssl req -x509 -new -key ca.key -subj "/O=salvo bench/CN=salvo bench CA" \
                -days 30 -sha256 -config ext.cnf -extensions ca -out ca.pem &&
            openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out leaf.key &&
            openssl req -new -key leaf.key -subj "/O=salvo bench/CN=*.$FARM_TLD" -out leaf.csr &&
            openssl x509 -req -in leaf.csr -CA ca.pem -CAkey ca.key \
                -set_serial "0x$(openssl rand -hex 8)" -days 30 -sha256 -extfile ext.cnf \
                -extensions leaf -out leaf.pem
    ) >"$d/openssl.log" 2>&1 || { cat "$d/openssl.log" >&2; return 1; }
}

# farm_block SITES DIR: the http {} body for SITES sites, files under DIR.
farm_block() {
    local n=$1 d=$2 k a
    cat <<NGINX
    keepalive_requests 1000000;
    keepalive_timeout 60s;
    default_type application/octet-stream;
    ssl_certificate $d/certs/leaf.pem;
    ssl_certificate_key $d/certs/leaf.key;
    ssl_protocols TLSv1.2 TLSv1.3;
    ssl_session_cache shared:farm:20m;
    server {
NGINX
    for k in $(seq 1 "$n"); do
        a=$(farm_addr "$k")
        echo "        listen $a:$FARM_HTTP;"
        echo "        listen $a:$FARM_HTTPS ssl;"
    done
    # echo_sleep takes seconds: the regular expressions turn milliseconds into a decimal.
    cat <<NGINX
        root $d/www;
        location = / { return 200 "\$server_addr\n"; }
        location ~ "^/delay/(\d)$" { echo_sleep 0.00\$1; echo ok; }
        location ~ "^/delay/(\d\d)$" { echo_sleep 0.0\$1; echo ok; }
        location ~ "^/delay/(\d\d\d)$" { echo_sleep 0.\$1; echo ok; }
        location ~ "^/delay/(\d+)(\d\d\d)$" { echo_sleep \$1.\$2; echo ok; }
    }
NGINX
}

# farm_start SITES: starts the farm of SITES sites (at most 62,500) on two free ports.
# Needs T_DIR and T_PIDS (tests/lib.sh). Sets FARM_DIR, FARM_HTTP, FARM_HTTPS, FARM_CA,
# FARM_PID, FARM_SITES. Waits (at most 5 s per address checked) until it accepts.
farm_start() {
    local n=$1 k
    FARM_SITES=$n
    FARM_DIR=${FARM_DIR:-$T_DIR/farm}
    mkdir -p "$FARM_DIR/tmp" "$FARM_DIR/www" || return 1
    farm_certs "$FARM_DIR/certs" || return 1
    FARM_CA=$FARM_DIR/certs/ca.pem
    head -c 1024 /dev/zero | tr '\0' x >"$FARM_DIR/www/1k"
    head -c 102400 /dev/zero | tr '\0' x >"$FARM_DIR/www/100k"
    FARM_HTTP=$(free_port)
    FARM_HTTPS=$(free_port)
    while [ "$FARM_HTTPS" = "$FARM_HTTP" ]; do FARM_HTTPS=$(free_port); done
    # Thousands of listeners: wait for the first and the last site's only.
    NGINX_CONNECTIONS=16384 NGINX_NOFILE=65536 NGINX_WAIT="$(farm_addr 1):$FARM_HTTP \
$(farm_addr 1):$FARM_HTTPS $(farm_addr "$n"):$FARM_HTTP $(farm_addr "$n"):$FARM_HTTPS" \
        start_nginx farm "$(farm_block "$n" "$FARM_DIR")" || return 1
    FARM_PID=$NGINX_PID
}

# farm_stop: stops the farm's nginx (master and workers) and waits for it.
farm_stop() {
    [ -n "${FARM_PID:-}" ] || return 0
    kill "$FARM_PID" 2>/dev/null
    wait "$FARM_PID" 2>/dev/null
    FARM_PID=
}

# farm_dnsmasq PINS_FILE: a local dnsmasq (tests/lib.sh start_dnsmasq) that answers the
# names of a farm_pins file from a hosts file and knows nothing else (no upstream, no
# /etc/hosts). Sets DNS_PORT.
farm_dnsmasq() {
    awk -F: '{ print $3, $1 }' "$1" | sort -u >"$T_DIR/farm.hosts"
    start_dnsmasq farm --addn-hosts="$T_DIR/farm.hosts" --local="/$FARM_TLD/" \
        --cache-size=10000
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
    cd "$(dirname "$0")/.." || exit 2
    . tests/lib.sh
    farm_start "${1:-200}" || exit 1
    farm_pins "$FARM_SITES" "$T_DIR/pins.txt"
    echo "farm: $FARM_SITES sites, http port $FARM_HTTP, https port $FARM_HTTPS (nginx PID $FARM_PID)"
    echo "pins (HOST:PORT:ADDR, one a line): $T_DIR/pins.txt; CA: $FARM_CA"
    echo "try:  build/salvo --resolve $(head -1 "$T_DIR/pins.txt") $(farm_url 1 /delay/250)"
    echo "Ctrl-C stops the farm."
    trap 'exit 0' INT TERM
    wait "$FARM_PID"
fi
