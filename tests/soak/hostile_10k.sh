#!/usr/bin/env bash
# Soak: 10,000 URLs over 1,000 origins, 20% of them hostile, at -c 1000 with retries on,
# with the plain build and then the sanitizer build (build-san, when it was built; an
# argument names other build directories: hostile_10k.sh DIR...).
#
# Origins are names site<K>.soak.test pinned with --resolve to one of 16 testd listeners
# (127.0.0.2..17), except the unresolvable ones (nx<K>.nx.soak.test: a dnsmasq reached
# with --dns-servers answers NXDOMAIN). Every fifth origin is hostile, 10 URLs each, its
# mode from the table below; the other URLs are ordinary and must all be ok.
# Checks: exactly 10,000 records, one per index; each hostile URL classified as its mode
# predicts; every ordinary URL ok; the run ends within the bound its flags imply (no hang
# at the end); salvo's open file descriptors after the engine is freed equal those before
# it started (--stats' open_fds_start and open_fds); peak RSS under a stated bound.
. "$(dirname "$0")/../lib.sh"
here=$(cd "$(dirname "$0")" && pwd)
builds=("$@")
if [ ${#builds[@]} -eq 0 ]; then
    builds=("$SALVO_BUILD")
    [ -x "$SALVO_ROOT/build-san/salvo" ] && [ -x "$SALVO_ROOT/build-san/testd" ] &&
        builds+=("$SALVO_ROOT/build-san")
fi

N=10000
ORIGINS=1000
PER=$((N / ORIGINS))
C=1000
M=3        # -m: one attempt's deadline
CT=2       # --connect-timeout
RETRY=2
BACKOFF=0.2
# Peak RSS bounds (KiB, /usr/bin/time's %M): measured 38,800 KiB with the plain build and
# 215,400 KiB under ASan+UBSan; the bounds are about 1.5x that.
RSS_PLAIN=${RSS_PLAIN:-60000}
RSS_SAN=${RSS_SAN:-330000}

# mode -> path on the origin and the error classes it must end in. The flood of bytes is
# /size/50000000 against --max-filesize 1M, not /gzip-bomb: testd compresses a bomb as
# fast as its socket buffers drain, and 200 of them keep the single-threaded server busy
# for seconds, so every other origin's answers were late (salvo's timeouts were right).
MODES=(stall reset_mid garbage size_flood endless_body tls_silent refused nxdomain headers_flood close_early)
declare -A EXPECT=(
    [stall]=timeout [reset_mid]="reset partial" [garbage]=protocol [size_flood]=too_large
    [endless_body]=timeout [tls_silent]=tls_timeout [refused]=connect_refused
    [nxdomain]=dns [headers_flood]=too_large [close_early]=partial [normal]=ok)

listen=()
for a in $(seq 2 17); do listen+=(--listen "127.0.0.$a:0"); done
start_testd soak "${listen[@]}" || exit 1
mapfile -t PORTS <"$T_DIR/soak.port"
start_dnsmasq soak --address=/nx.soak.test/ || exit 1
# A port that completes TCP handshakes (the kernel's backlog) and never says a word: a
# TLS handshake to it can only time out.
silent_pf="$T_DIR/silent.port"
timeout 900 python3 -c '
import socket, sys, time
s = socket.socket(); s.bind(("127.0.0.18", 0)); s.listen(4096)
open(sys.argv[1] + ".tmp", "w").write("%d\n" % s.getsockname()[1])
import os; os.rename(sys.argv[1] + ".tmp", sys.argv[1])
time.sleep(900)' "$silent_pf" &
T_PIDS+=($!)
for i in $(seq 1 100); do [ -s "$silent_pf" ] && break; sleep 0.05; done
SILENT_PORT=$(head -1 "$silent_pf")
CLOSED_PORT=$(free_port)

# The input (URL, mode) and the pins.
in="$T_DIR/in.txt"
modes="$T_DIR/modes.txt"
pins="$T_DIR/pins.txt"
: >"$in"; : >"$modes"; : >"$pins"
idx=0
for r in $(seq 0 $((PER - 1))); do
    for k in $(seq 0 $((ORIGINS - 1))); do
        port=${PORTS[$((k % 16))]}
        ip=127.0.0.$((k % 16 + 2))
        host=site$k.soak.test
        [ "$r" = 0 ] && echo "--resolve=$host:$port:$ip" >>"$pins"
        if [ $((k % 5)) = 0 ]; then
            mode=${MODES[$((k / 5 % ${#MODES[@]}))]}
            base="http://$host:$port"
            case $mode in
                stall) url="$base/stall" ;;
                reset_mid) url="$base/reset-mid/200000" ;;
                garbage) url="$base/garbage" ;;
                size_flood) url="$base/size/50000000" ;;
                endless_body) url="$base/redirect/302?body=endless" ;;
                tls_silent)
                    url="https://$host:$SILENT_PORT/"
                    [ "$r" = 0 ] && echo "--resolve=$host:$SILENT_PORT:127.0.0.18" >>"$pins" ;;
                refused)
                    url="http://$host:$CLOSED_PORT/"
                    [ "$r" = 0 ] && echo "--resolve=$host:$CLOSED_PORT:127.0.0.1" >>"$pins" ;;
                nxdomain) url="http://nx$k.nx.soak.test:$port/" ;;
                headers_flood) url="$base/headers-flood" ;;
                close_early) url="$base/close-early/100000" ;;
            esac
            sep='?'; case $url in *\?*) sep='&' ;; esac
            url="$url${sep}i=$idx"
        else
            mode=normal
            case $((idx % 5)) in
                0) url="http://$host:$port/?i=$idx" ;;
                1) url="http://$host:$port/size/$((idx % 20000))?i=$idx" ;;
                2) url="http://$host:$port/delay/$((idx % 50))?i=$idx" ;;
                3) url="http://$host:$port/gzip/$((idx % 30000))?i=$idx" ;;
                4) url="http://$host:$port/chunked/$((idx % 10000))?i=$idx" ;;
            esac
        fi
        echo "$url" >>"$in"
        echo "$mode" >>"$modes"
        idx=$((idx + 1))
    done
done
mapfile -t PINS <"$pins"

# The bound: an attempt lasts at most max(-m, --connect-timeout) s, a URL at most
# (1 + retries) attempts plus the backoff sleeps (base*2^k each, k = 0..retries-1).
# Handing URLs to C slots greedily finishes within (sum of per-URL times) / C + the
# longest one (list scheduling); an ordinary URL counts one attempt of -m s. The margin
# covers process start, the input's parsing and the sanitizer's slowness.
per_url=$(awk -v m=$M -v ct=$CT -v r=$RETRY -v b=$BACKOFF \
    'BEGIN { a = m > ct ? m : ct; s = 0; for (k = 0; k < r; k++) s += b * 2 ^ k; print a * (r + 1) + s }')
hostile=$(grep -vc '^normal$' "$modes")
bound=$(awk -v p="$per_url" -v h="$hostile" -v n=$N -v c=$C -v m=$M \
    'BEGIN { printf "%.1f", (h * p + (n - h) * m) / c + p }')
MARGIN=20

run_one() {
    local build=$1 rss_bound=$2 tag
    tag=$(basename "$build")
    local out="$T_DIR/out.$tag.jsonl" err="$T_DIR/err.$tag" tm="$T_DIR/time.$tag"
    local start wall rc
    start=$(now)
    timeout 300 /usr/bin/time -f %M -o "$tm" "$build/salvo" -s --stats -c $C -m $M \
        --connect-timeout $CT --retry $RETRY --retry-backoff $BACKOFF --max-filesize 1M \
        --dns-servers "127.0.0.1:$DNS_PORT" "${PINS[@]}" -i "$in" -o "$out" 2>"$err"
    rc=$?
    wall=$(since "$start")
    local stats rss fds0 fds1 retries
    stats=$(grep '^{"submitted"' "$err" | tail -1)
    rss=$(tail -1 "$tm" 2>/dev/null)
    fds0=$(jq -r '.open_fds_start // "?"' <<<"${stats:-{\}}")
    fds1=$(jq -r '.open_fds // "?"' <<<"${stats:-{\}}")
    retries=$(jq -r '.retries // "?"' <<<"${stats:-{\}}")
    echo "# $tag: records $(wc -l <"$out" 2>/dev/null), wall ${wall} s (bound $bound + $MARGIN s)," \
        "peak RSS ${rss} KiB (bound $rss_bound), fds before $fds0 after $fds1, retries $retries," \
        "attempts $(jq -r '.attempts // "?"' <<<"${stats:-{\}}"), exit $rc"
    check "$tag: salvo ended by itself (exit 0 or 1)" test "$rc" -le 1
    check_eq "$tag: $N records, all parseable, one per index" "$N $N $N" \
        "$(wc -l <"$out") $(jq -c . "$out" | wc -l) $(jq .index "$out" | sort -u | wc -l)"
    # Each record's outcome (ok, its error class, or "checks") in index order, beside the
    # line's mode: the mismatches, counted, with a few shown.
    local got="$T_DIR/got.$tag" bad
    jq -r '[.index, (if .ok then "ok" else (.error // "checks") end)] | @tsv' "$out" |
        sort -n | cut -f2 | paste -d' ' "$modes" - >"$got"
    bad=$(awk -v want="$(for m in "${!EXPECT[@]}"; do printf '%s=%s;' "$m" "${EXPECT[$m]}"; done)" '
            BEGIN { n = split(want, e, ";"); for (i = 1; i <= n; i++) if (e[i] != "") {
                split(e[i], kv, "="); w[kv[1]] = " " kv[2] " " } }
            index(w[$1], " " $2 " ") == 0 { print "index " NR - 1 ": " $1 " got " $2 }' "$got" 2>&1)
    check_eq "$tag: every URL classified as its mode predicts ($(echo -n "$bad" | grep -c .) mismatches)" "" \
        "$(echo "$bad" | head -10)"
    [ -n "$bad" ] && echo "$bad" | awk '{print $3, "->", $5}' | sort | uniq -c | sed 's/^/# /'
    echo "# $tag: per mode: $(sort "$got" | uniq -c | awk '{printf "%s %s=%s, ", $2, $3, $1}')"
    check_le "$tag: wall ${wall} s within the flags' bound $bound s + $MARGIN s" "$wall" \
        "$(awk -v b="$bound" -v m=$MARGIN 'BEGIN { print b + m }')"
    check_eq "$tag: open fds after the engine was freed = before it started" "$fds0" "$fds1"
    check_le "$tag: peak RSS ${rss} KiB <= $rss_bound KiB" "${rss:-999999999}" "$rss_bound"
}

echo "# $N URLs, $ORIGINS origins ($hostile hostile URLs), -c $C -m $M --connect-timeout $CT" \
    "--retry $RETRY --retry-backoff $BACKOFF; per-URL worst $per_url s, bound $bound s"
for b in "${builds[@]}"; do
    case $b in *san*) run_one "$b" "$RSS_SAN" ;; *) run_one "$b" "$RSS_PLAIN" ;; esac
done
[ -n "${SOAK_KEEP:-}" ] && cp -r "$T_DIR" "$SOAK_KEEP"
finish
