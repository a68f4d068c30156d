#!/usr/bin/env bash
# bench/tls_handshake.sh -- TLS handshakes per second and client CPU per handshake:
# salvo against `openssl s_time`, both against the same local nginx in the same run.
#
#   bench/tls_handshake.sh            N=2000 requests per salvo run, 5 s per s_time run
#   N=500 SECS=2 bench/tls_handshake.sh
#
# salvo runs with --no-keepalive, so every request is a new connection and a handshake:
#   full     N URLs on N names (s1.site.test ... pinned with --resolve): one origin
#            each, so no session can be resumed;
#   resumed  N URLs of one origin: every handshake after a session ticket arrived can
#            resume (TLS 1.3 tickets are used once each, so with -c 50 some are full).
# Each is run for TLS 1.3 (what salvo and nginx pick) and TLS 1.2 (salvo under an
# OPENSSL_CONF whose system policy says MaxProtocol = TLSv1.2; s_time with -tls1_2).
# salvo's handshakes also carry one small HTTP request each; s_time's carry none.
# Wall time and client CPU (user+sys) come from /usr/bin/time for both clients (s_time's
# own "real seconds" are whole seconds). s_time is one connection at a time; with TLS 1.3
# its -reuse takes the session before the server's ticket arrives, so it resumes nothing
# (its 'r' marks count the resumed ones). Everything runs on 127.0.0.1; every
# process started here is stopped by its PID at exit. Not a test: it asserts nothing.
set -u
cd "$(dirname "$0")/.." || exit 2
SALVO_BUILD=${SALVO_BUILD:-$(cd "${B:-build}" && pwd)}
. tests/lib.sh
N=${N:-2000}
SECS=${SECS:-5}
C=${C:-50}
[ -x "$SALVO" ] || { echo "no $SALVO: run make first" >&2; exit 2; }
[ -x /usr/bin/time ] || { echo "needs /usr/bin/time (Debian package time)" >&2; exit 2; }
make_certs || exit 1
mkdir -p "$T_DIR/www"
printf 'ok\n' >"$T_DIR/www/i"
port=$(free_port)
start_nginx bench "    server {
        listen 127.0.0.1:$port ssl;
        ssl_certificate $CERTS/leaf.pem;
        ssl_certificate_key $CERTS/leaf.key;
        ssl_protocols TLSv1.2 TLSv1.3;
        ssl_session_cache shared:bench:10m;
        keepalive_timeout 0;
        root $T_DIR/www;
    }" || exit 1
openssl_policy "$T_DIR/maxtls12.cnf" "MaxProtocol = TLSv1.2"

names=()
for i in $(seq 1 "$N"); do
    echo "https://s$i.site.test:$port/i"
    names+=(--resolve "s$i.site.test:$port:127.0.0.1")
done >"$T_DIR/full.txt"
for i in $(seq 1 "$N"); do echo "https://site.test:$port/i"; done >"$T_DIR/resumed.txt"

rows=()
cmds=()
# salvo_run TLS MODE [ENV...]: one salvo run over $T_DIR/MODE.txt; appends a row.
salvo_run() {
    local tls=$1 mode=$2 pin=(--resolve "site.test:$port:127.0.0.1") t ok res
    shift 2
    [ "$mode" = full ] && pin=("${names[@]}")
    env "$@" /usr/bin/time -f "%e %U %S" -o "$T_DIR/time" "$SALVO" --retry 0 --no-keepalive \
        -c "$C" --cacert "$CERTS/ca.pem" "${pin[@]}" -i "$T_DIR/$mode.txt" >"$T_DIR/out.jsonl"
    read -r -a t <"$T_DIR/time"
    ok=$(jq_count ".ok and .tls_version == \"TLSv$tls\"" "$T_DIR/out.jsonl")
    res=$(jq_count '.tls_resumed == true' "$T_DIR/out.jsonl")
    rows+=("$(awk -v tls="$tls" -v m="$mode" -v n="$N" -v ok="$ok" -v res="$res" -v w="${t[0]}" \
        -v u="${t[1]}" -v s="${t[2]}" 'BEGIN {
        printf "| %s | salvo -c %d | %s | %d (%d ok) | %d | %.2f | %.0f | %.3f |", tls, '"$C"',
            m, n, ok, res, w, n / w, (u + s) * 1000 / n }')")
    local what="--resolve site.test:$port:127.0.0.1 -i $mode.txt   # $N URLs of one name"
    [ "$mode" = full ] &&
        what="--resolve sK.site.test:$port:127.0.0.1 (K = 1..$N) -i $mode.txt   # $N names"
    cmds+=("${*:+${*//=*\//=} }salvo --retry 0 --no-keepalive -c $C --cacert ca.pem $what")
}
# stime_run TLS MODE [FLAGS...]: one `openssl s_time` run; appends a row.
stime_run() {
    local tls=$1 mode=$2 conns res t
    shift 2
    /usr/bin/time -f "%e %U %S" -o "$T_DIR/time" openssl s_time -connect "127.0.0.1:$port" \
        "-$mode" -time "$SECS" "$@" >"$T_DIR/stime" 2>&1
    read -r -a t <"$T_DIR/time"
    conns=$(sed -n 's/^\([0-9]*\) connections in [0-9.]*s;.*/\1/p' "$T_DIR/stime" | head -1)
    # s_time prints one character per connection: '*' for a full handshake, 'r' resumed.
    res=$(grep -E '^[*r]+$' "$T_DIR/stime" | tr -cd r | wc -c)
    rows+=("$(awk -v tls="$tls" -v m="$mode" -v c="${conns:-0}" -v res="$res" -v w="${t[0]}" \
        -v u="${t[1]}" -v s="${t[2]}" 'BEGIN {
        printf "| %s | openssl s_time | %s | %d | %d | %.2f | %.0f | %.3f |", tls, m, c, res, w,
            (w > 0 ? c / w : 0), (c > 0 ? (u + s) * 1000 / c : 0) }')")
    cmds+=("openssl s_time -connect 127.0.0.1:$port -$mode -time $SECS${*:+ $*}")
}

salvo_run 1.3 full
salvo_run 1.3 resumed
stime_run 1.3 new
stime_run 1.3 reuse
salvo_run 1.2 full OPENSSL_CONF="$T_DIR/maxtls12.cnf"
salvo_run 1.2 resumed OPENSSL_CONF="$T_DIR/maxtls12.cnf"
stime_run 1.2 new -tls1_2
stime_run 1.2 reuse -tls1_2

# Handshakes per second of row $1 (the 7th column; awk's $8 after the leading '|').
rate() { awk -F'|' '{ gsub(/ /, "", $8); print $8 }' <<<"${rows[$1]}"; }
ratio() { awk -v a="$(rate "$1")" -v b="$(rate "$2")" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }'; }

echo "## TLS handshakes: salvo vs openssl s_time ($(nproc) CPUs, nginx $(nginx -v 2>&1 |
    sed 's|.*/||'), one worker, EC P-256 certificate)"
echo
echo "| TLS | client | mode | handshakes | resumed | wall s | handshakes/s | client CPU ms/handshake |"
echo "|---|---|---|---|---|---|---|---|"
printf '%s\n' "${rows[@]}"
echo
echo "Ratios of handshakes/s, salvo / s_time: TLS 1.3 full/new $(ratio 0 2), resumed/reuse" \
    "$(ratio 1 3); TLS 1.2 full/new $(ratio 4 6), resumed/reuse $(ratio 5 7)."
echo
echo "Commands (ca.pem from tests/certs.sh; nginx on 127.0.0.1:$port; maxtls12.cnf holds"
echo "MaxProtocol = TLSv1.2 in its system_default section):"
echo
printf '    %s\n' "${cmds[@]}"
