#!/usr/bin/env bash
# What a user keeps of each response: --output-dir DIR (every decoded body streamed to
# DIR/<index>.body through a .part file that only a whole response renames into place),
# --body N (the first N decoded bytes, as text) and --headers (the final response's
# fields). Against testd, nginx and tests/server/tls_peer.py over https, and the
# fixture body_latin1 (a body that is not UTF-8, fields that repeat). The disk cases
# (a full filesystem, a read-only one) run in private mount namespaces.
. "$(dirname "$0")/../lib.sh"
FIX="$SALVO_ROOT/tests/fixtures/http1"
start_testd bodies --fixtures "$FIX" || exit 1
U="http://127.0.0.1:$TESTD_PORT"
make_certs || exit 1
CA=(--cacert "$CERTS/ca.pem")

# The pattern body of testd and tls_peer.py, 20 MiB of it; every body here is a prefix.
MAX=$((20 * 1024 * 1024))
yes abcdefghijklmnopqrstuvwxyz | head -c "$MAX" >"$T_DIR/pattern"
declare -A HASH
body_hash() {
    [ -n "${HASH[$1]:-}" ] || HASH[$1]=$(head -c "$1" "$T_DIR/pattern" | sha256sum | cut -d' ' -f1)
    echo "${HASH[$1]}"
}
file_hash() { sha256sum <"$1" | cut -d' ' -f1; }
# only_files DIR: the names in DIR, hidden ones included, on one line.
only_files() { ls -A "$1" | sort -n | tr '\n' ' ' | sed 's/ $//'; }

# nginx serves pattern files of the sizes used below over https; tls_peer.py streams them.
docroot=$T_DIR/www
mkdir -p "$docroot/f"
SIZES=(0 1 26 27 1000 1001 16384 16385 65536 200000 1048575 5000000 "$MAX")
for n in "${SIZES[@]}"; do head -c "$n" "$T_DIR/pattern" >"$docroot/f/$n"; done
NGX_PORT=$(free_port)
start_nginx bodies "    server {
        listen 127.0.0.1:$NGX_PORT ssl;
        ssl_certificate $CERTS/leaf.pem;
        ssl_certificate_key $CERTS/leaf.key;
        root $docroot;
    }" || exit 1
N="https://127.0.0.1:$NGX_PORT"
start_tls_peer bodies || exit 1
T="https://127.0.0.1:$TLS_PEER_PORT"

# ---- 1. 200 bodies of every framing, 0 B to 20 MiB, saved whole --------------------------
# Index i: framing i % 7, size from SIZES (20 MiB four times, 5 MB four times): about
# 125 MB in all.
small=(0 1 26 27 1000 1001 16384 16385 65536 200000 1048575)
size_of() {
    local i=$1
    if [ "$i" = 7 ] || [ "$i" = 12 ] || [ "$i" = 62 ] || [ "$i" = 157 ]; then
        echo "$MAX"
    elif [ $((i % 50)) = 30 ]; then
        echo 5000000
    else
        echo "${small[$((i * 7 % ${#small[@]}))]}"
    fi
}
url_of() {
    local n=$2
    case $(($1 % 7)) in
    0) echo "$U/size/$n" ;;
    1) echo "$U/chunked/$n" ;;
    2) echo "$U/gzip/$n" ;;
    3) echo "$U/gzip-chunked/$n" ;;
    4) echo "$U/close-delimited/$n" ;;
    5) echo "$N/f/$n" ;;
    6) [ $(($1 % 2)) = 0 ] && echo "$T/cl/$n" || echo "$T/chunked/$n" ;;
    esac
}
out=$T_DIR/many.jsonl
OUT=$T_DIR/saved
: >"$T_DIR/many.txt"
: >"$T_DIR/many.want"
total=0
for i in $(seq 0 199); do
    n=$(size_of "$i")
    total=$((total + n))
    url_of "$i" "$n" >>"$T_DIR/many.txt"
    printf '%s\t%s\t%s\n' "$i" "$n" "$(body_hash "$n")" >>"$T_DIR/many.want"
done
echo "# 200 URLs, $total body bytes"
check_le "the 200 bodies stay well under 300 MB" "$total" 150000000
start=$(now)
"$SALVO" --hash "${CA[@]}" -m 20 --retry 0 --output-dir "$OUT" -i "$T_DIR/many.txt" \
    >"$out" 2>"$T_DIR/many.err"
rc=$?
el=$(since "$start")
check_eq "200 bodies: exit 0, 200 records, all ok" "0 200 200" \
    "$rc $(wc -l <"$out") $(jq_count '.ok and .error == null' "$out")"
check_eq "... nothing on stderr" "" "$(cat "$T_DIR/many.err")"
check_le "... in a loose bound ($el s)" "$el" 60
check "... every record's bytes and sha256 are what the server sent" \
    diff "$T_DIR/many.want" <(jq -r '[.index, .bytes, .sha256] | @tsv' "$out" | sort -n)
check_eq "... every body_file is DIR/<index>.body" "" \
    "$(jq -c "select(.body_file != \"$OUT/\(.index).body\") | [.index, .error, .body_file]" "$out")"
check "... the directory holds the 200 files and nothing else (no .part)" \
    diff <(seq 0 199 | sed 's/$/.body/') <(ls -A "$OUT" | sort -n)
(cd "$OUT" && sha256sum -- *.body) | awk '{sub(/\.body$/, "", $2); print $2 "\t" $1}' |
    sort -n >"$T_DIR/many.files"
check "... every file hashes as the body the server sent" \
    diff <(cut -f1,3 "$T_DIR/many.want") "$T_DIR/many.files"
check "... and as its record's sha256" \
    diff <(jq -r 'select(.body_file != null) | [.index, .sha256] | @tsv' "$out" | sort -n) \
    "$T_DIR/many.files"
check_eq "... the https ones over TLS (nginx and tls_peer)" \
    "$(grep -c '^https://' "$T_DIR/many.txt")" \
    "$(jq_count '.tls_version != null and (.url | startswith("https://"))' "$out")"
check_eq "... 20 MiB gzip bodies are saved decoded (from under 1 MB on the wire)" \
    "$(grep -cE "/gzip(-chunked)?/$MAX\$" "$T_DIR/many.txt")" \
    "$(jq_count ".bytes == $MAX and .wire_bytes < 1000000 and (.url | test(\"/gzip\"))" "$out")"
check_eq "... a 0-byte body is a 0-byte file" 0 "$(stat -c %s "$OUT/0.body")"

# Large https bodies while the disk is written: the reader falls behind the server, so
# TLS holds whole records the socket no longer announces; the last one must be read
# all the same, not left until the deadline.
"$SALVO" --hash "${CA[@]}" -m 15 --retry 0 --output-dir "$T_DIR/large" \
    "$N/f/$MAX?a" "$N/f/$MAX?b" "$N/f/$MAX?c" "$N/f/$MAX?d" >"$T_DIR/large.jsonl"
check_eq "four 20 MiB https bodies at once: every one whole, in record and file" \
    "$(printf 'null %s %s\n' "$MAX" "$(body_hash "$MAX")" "$MAX" "$(body_hash "$MAX")" \
        "$MAX" "$(body_hash "$MAX")" "$MAX" "$(body_hash "$MAX")")" \
    "$(jq -r '"\(.error) \(.bytes) \(.sha256)"' "$T_DIR/large.jsonl")"
check_eq "... and saved" "$(for i in 0 1 2 3; do body_hash "$MAX"; done)" \
    "$(for i in 0 1 2 3; do file_hash "$T_DIR/large/$i.body" 2>/dev/null || echo missing; done)"

# A second run into the same directory replaces a stale file with the new body.
printf 'stale and longer than the new body\n' >"$T_DIR/stale.body"
mkdir -p "$T_DIR/again"
cp "$T_DIR/stale.body" "$T_DIR/again/0.body"
"$SALVO" --output-dir "$T_DIR/again" "$U/size/5" >/dev/null
check_eq "an existing DIR/<index>.body is replaced by the new body" "abcde" \
    "$(cat "$T_DIR/again/0.body")"
r=$("$SALVO" --output-dir "$T_DIR/made/by/salvo" "$U/size/3")
check_eq "a missing --output-dir is made, parents and all" "abc $T_DIR/made/by/salvo/0.body" \
    "$(cat "$T_DIR/made/by/salvo/0.body") $(jq -r .body_file <<<"$r")"

# ---- 2. a failed transfer leaves nothing; any whole response is saved ---------------------
# close-early and reset-mid are retried once (each attempt starts its file afresh); the
# file goes only when no attempt brought the whole body.
refused=$(free_port)
FAIL=$T_DIR/fail
"$SALVO" --retry 1 --retry-backoff 0.05 -m 10 --max-filesize 100000 --output-dir "$FAIL" \
    "$U/close-early/50000" "$U/reset-mid/60000" "$U/size/100001" "$U/gzip/300000" \
    "$U/status/404" "$U/size/10" "$U/reset" "http://127.0.0.1:$refused/" "$U/status/503" \
    "$U/garbage" >"$out" 2>"$T_DIR/fail.err"
rc=$?
rec() { jq -r "select(.index == $1) | $2" "$out"; }
check_eq "failures: exit 1, ten records" "1 10" "$rc $(wc -l <"$out")"
check_eq "close-early: partial after 2 attempts, no body_file" "partial 2 null" \
    "$(rec 0 '"\(.error) \(.attempts) \(.body_file)"')"
check_eq "reset-mid: reset, no body_file" "reset null" "$(rec 1 '"\(.error) \(.body_file)"')"
check_eq "over --max-filesize (plain and gzip): too_large, no body_file" \
    "too_large null too_large null" \
    "$(rec 2 '"\(.error) \(.body_file)"') $(rec 3 '"\(.error) \(.body_file)"')"
check_eq "no answer, refused, not HTTP: no body_file" \
    "reset null connect_refused null protocol null" \
    "$(for i in 6 7 9; do rec "$i" '"\(.error) \(.body_file)"'; done | tr '\n' ' ' | sed 's/ $//')"
check_eq "a 404 is a whole response: saved, ok false, error null" \
    "false null $FAIL/4.body status 404" \
    "$(rec 4 '"\(.ok) \(.error) \(.body_file)"') $(cat "$FAIL/4.body")"
check_eq "a 503 that stays 503 after its retry is saved too" "503 2 $FAIL/8.body status 503" \
    "$(rec 8 '"\(.status) \(.attempts) \(.body_file)"') $(cat "$FAIL/8.body")"
check_eq "the directory holds the whole responses only: no .part left" "4.body 5.body 8.body" \
    "$(only_files "$FAIL")"
check_eq "... the good one beside the failures is whole" "$(body_hash 10)" \
    "$(file_hash "$FAIL/5.body")"

# A .part that cannot be made (a directory in its way): that request ends with resource
# and says why, its head having arrived (status 200); the next one is saved.
mkdir -p "$T_DIR/inway/0.body.part"
"$SALVO" --retry 2 --output-dir "$T_DIR/inway" "$U/size/10" "$U/size/20" >"$out"
check_eq "a .part that cannot be made: resource, not retried, no body_file" \
    "false resource 1 null" "$(rec 0 '"\(.ok) \(.error) \(.attempts) \(.body_file)"')"
check_eq "... the message says why" "saving the body to $T_DIR/inway/0.body.part: Is a directory" \
    "$(rec 0 .message)"
check_eq "... the status is the answer's, whose head arrived" 200 "$(rec 0 .status)"
check_eq "... and the next request is saved" "$T_DIR/inway/1.body $(body_hash 20)" \
    "$(rec 1 .body_file) $(file_hash "$T_DIR/inway/1.body")"

# A 503 retried into a 200: the file holds the final answer, not the 503 before it.
r=$("$SALVO" --retry 1 --retry-backoff 0.05 --output-dir "$T_DIR/flaky" "$U/flaky/save/1/503")
check_eq "a retried 503 then 200: the file is the 200's body" "200 2 recovered" \
    "$(jq -r '"\(.status) \(.attempts)"' <<<"$r") $(cat "$T_DIR/flaky/0.body")"
r=$("$SALVO" -L --output-dir "$T_DIR/redir" "$U/redirect/302?to=%2Fsize%2F7")
check_eq "-L: the file is the final answer's body, not the redirect's" \
    "1 $(body_hash 7) 0.body" \
    "$(jq -r .redirects <<<"$r") $(file_hash "$T_DIR/redir/0.body") $(only_files "$T_DIR/redir")"

# ---- 3. a full disk -----------------------------------------------------------------------
# A 1 MiB tmpfs in a private mount namespace: the 5 MB body cannot fit. That request
# fails with resource, naming the disk's problem; its .part goes; the run goes on.
# in_tmpfs DIR OPTS CMD...: CMD in a new mount namespace where DIR is a fresh tmpfs.
in_tmpfs() {
    unshare -m sh -c 'd=$0 o=$1; shift; mount -t tmpfs -o "$o" tmpfs "$d" && exec "$@"' "$@"
}
FULL=$T_DIR/full
mkdir -p "$FULL"
if ! in_tmpfs "$FULL" size=1m true 2>"$T_DIR/unshare.err"; then
    ok "# SKIP a full disk: no private mount namespace here ($(head -1 "$T_DIR/unshare.err"))"
else
    for mode in engine blocking; do
        flag=()
        [ "$mode" = blocking ] && flag=(--blocking)
        # Writes the records to $F, then prints the exit status and what the directory
        # held at the end, seen from inside the namespace.
        f=$T_DIR/full.$mode.jsonl
        F=$f D=$FULL in_tmpfs "$FULL" size=1m sh -c '"$@" >"$F"; echo "rc=$?"; ls -A "$D"' sh \
            "$SALVO" "${flag[@]}" -c 1 --hash --output-dir "$FULL" \
            "$U/size/100" "$U/size/5000000" "$U/size/1000" "$U/chunked/2000" \
            >"$T_DIR/full.$mode.ls" 2>"$T_DIR/full.$mode.err"
        check_eq "$mode, full disk: exit 1, four records" "rc=1 4" \
            "$(head -1 "$T_DIR/full.$mode.ls") $(wc -l <"$f")"
        check_eq "$mode, full disk: the 5 MB body fails with resource, once, no body_file" \
            "false resource 1 null" \
            "$(jq -r 'select(.index == 1) | "\(.ok) \(.error) \(.attempts) \(.body_file)"' "$f")"
        msg=$(jq -r 'select(.index == 1) | .message' "$f")
        check "$mode, full disk: the message names the disk's problem ($msg)" \
            grep -q "No space left on device" <<<"$msg"
        check_eq "$mode, full disk: the other requests of the run are saved, nothing else" \
            "0.body 2.body 3.body" \
            "$(tail -n +2 "$T_DIR/full.$mode.ls" | sort -n | tr '\n' ' ' | sed 's/ $//')"
        check_eq "$mode, full disk: the others are ok with their bodies" \
            "$(printf '0 %s\n2 %s\n3 %s' "$(body_hash 100)" "$(body_hash 1000)" \
                "$(body_hash 2000)")" \
            "$(jq -r 'select(.index != 1 and .ok) | "\(.index) \(.sha256)"' "$f" | sort -n)"
        check_eq "$mode, full disk: nothing on stderr" "" "$(cat "$T_DIR/full.$mode.err")"
    done
fi

# ---- 4. an --output-dir that cannot be written: exit 2, nothing fetched -------------------
# A testd of its own: its accept count is the proof that nothing was sent.
start_testd idle || exit 1
I="http://127.0.0.1:$TESTD_PORT"
touch "$T_DIR/regular"
bad_dir() { # NAME CMD...: runs CMD, checks exit 2, one stderr line, no record
    local name=$1; shift
    "$@" >"$T_DIR/bad.out" 2>"$T_DIR/bad.err"
    local rc=$? lines named records
    lines=$(wc -l <"$T_DIR/bad.err")
    named=$(grep -c -- '--output-dir' "$T_DIR/bad.err")
    records=$(wc -l <"$T_DIR/bad.out")
    check_eq "$name: exit 2, one line on stderr naming --output-dir, no record" "2 1 1 0" \
        "$rc $lines $named $records"
}
bad_dir "a path under a regular file" "$SALVO" --output-dir "$T_DIR/regular/sub" "$I/"
check "... which stderr says is not a directory" grep -q "Not a directory" "$T_DIR/bad.err"
bad_dir "a regular file as the directory" "$SALVO" --output-dir "$T_DIR/regular" "$I/"
bad_dir "--blocking, a path under a regular file" "$SALVO" --blocking \
    --output-dir "$T_DIR/regular/sub" "$I/"
bad_dir "an empty --output-dir" "$SALVO" --output-dir "" "$I/"
RO=$T_DIR/ro
mkdir -p "$RO"
if in_tmpfs "$RO" ro,size=1m true 2>/dev/null; then
    bad_dir "a read-only filesystem" in_tmpfs "$RO" ro,size=1m "$SALVO" --output-dir "$RO" "$I/"
    check "... which stderr names" grep -q "Read-only file system" "$T_DIR/bad.err"
    bad_dir "a directory to make on a read-only filesystem" \
        in_tmpfs "$RO" ro,size=1m "$SALVO" --output-dir "$RO/a/b" "$I/"
    bad_dir "--blocking, a read-only filesystem" \
        in_tmpfs "$RO" ro,size=1m "$SALVO" --blocking --output-dir "$RO" "$I/"
else
    ok "# SKIP a read-only filesystem: no private mount namespace here"
fi
check_eq "... and the server never saw a connection (its stats request is the first)" 1 \
    "$(curl -s "$I/__stats" | jq .accepts)"

# ---- 5. --body N ---------------------------------------------------------------------------
prefix() { head -c "$1" "$T_DIR/pattern"; }
P50=$(prefix 50 | sha256sum | cut -d' ' -f1)
P1000=$(prefix 1000 | sha256sum | cut -d' ' -f1)
# body_sha JSONL INDEX: the sha256 of the record's body as raw bytes (jq -j adds nothing).
body_sha() { jq -j "select(.index == $2) | .body" "$1" | sha256sum | cut -d' ' -f1; }
"$SALVO" --retry 0 "${CA[@]}" --body 1000 "$U/gzip/100000" "$U/gzip-chunked/100000" \
    "$U/size/5" "$U/size/0" "$U/close-early/5000" "$U/close-early/100" "$U/status/404" \
    "$N/f/65536" "$T/chunked/16385" "$U/deflate/3000" >"$out"
check_eq "--body 1000: the first 1000 decoded bytes of a gzip body" "$P1000 $P1000" \
    "$(body_sha "$out" 0) $(body_sha "$out" 1)"
check_eq "--body 1000: deflate too, and https (nginx, tls_peer)" "$P1000 $P1000 $P1000" \
    "$(body_sha "$out" 9) $(body_sha "$out" 7) $(body_sha "$out" 8)"
check_eq "--body 1000: a shorter body whole, an empty one \"\" (not null)" '"abcde" ""' \
    "$(rec 2 '.body | tojson') $(rec 3 '.body | tojson')"
check_eq "--body 1000: kept when the transfer then failed (partial)" \
    "partial $P1000" "$(rec 4 .error) $(body_sha "$out" 4)"
check_eq "--body 1000: what arrived of a body cut short (50 of 100 bytes)" \
    "partial $(prefix 50 | sha256sum | cut -d' ' -f1)" "$(rec 5 .error) $(body_sha "$out" 5)"
check_eq "--body 1000: a 404's body" '"status 404\n"' "$(rec 6 '.body | tojson')"

# Bytes that are not UTF-8 become U+FFFD (one per maximal invalid subpart, as Python's
# errors="replace" does); valid UTF-8 stays; a sequence cut by N is replaced too.
latin=$T_DIR/latin.jsonl
for n in 100 8 35 34; do
    "$SALVO" --retry 0 --body "$n" "$U/fixture/body_latin1" >>"$latin"
done
check "--body: a Latin-1 body is valid JSON text with U+FFFD, cut anywhere" python3 - \
    "$FIX/body_latin1.http" "$latin" <<'PY'
import json, sys
raw = open(sys.argv[1], "rb").read()
body = raw.split(b"\r\n\r\n", 1)[1]
ok = True
for line, n in zip(open(sys.argv[2], "rb"), (100, 8, 35, 34)):
    line.decode("utf-8")  # strict: the record itself is UTF-8
    got = json.loads(line)["body"]
    want = body[:n].decode("utf-8", "replace")
    if got != want or "\ufffd" not in got:
        print("--body %d: %r, expected %r" % (n, got, want))
        ok = False
sys.exit(0 if ok else 1)
PY

r=$("$SALVO" --retry 1 --retry-backoff 0.05 --body 100 "$U/flaky/body/1/503")
check_eq "--body: a 503 retried into a 200 keeps the 200's body only" '2 "recovered\n"' \
    "$(jq -r '"\(.attempts) \(.body | tojson)"' <<<"$r")"
r=$("$SALVO" -L --body 100 "$U/redirect/302?to=%2Fsize%2F4")
check_eq "--body with -L: the final answer's body, not the redirect's" '"abcd"' \
    "$(jq -c .body <<<"$r")"
for v in abc -1 ''; do
    "$SALVO" --body "$v" "$I/" >"$T_DIR/bad.out" 2>"$T_DIR/bad.err"
    rc=$? lines=$(wc -l <"$T_DIR/bad.err") records=$(wc -l <"$T_DIR/bad.out")
    check_eq "--body '$v': exit 2, one line naming the flag, no record" "2 1 1 0" \
        "$rc $lines $(grep -c -- '--body' "$T_DIR/bad.err") $records"
done

# ---- 6. --headers ----------------------------------------------------------------------
r=$("$SALVO" --retry 0 --headers "$U/fixture/body_latin1")
check_eq "--headers: names lower-cased, a repeated field joined with \", \"" \
    '{"content-length":"35","content-type":"text/plain; charset=iso-8859-1","x-tag":"one, two"}' \
    "$(jq -cS '.headers | del(.["set-cookie"])' <<<"$r")"
check_eq "--headers: set-cookie joined with \"\\n\"" \
    '"a=1; Path=/\nb=2; Expires=Wed, 21 Oct 2015 07:28:00 GMT"' \
    "$(jq -c '.headers["set-cookie"]' <<<"$r")"
r=$("$SALVO" --headers "$U/size/10")
check_eq "--headers: testd's fields as sent" \
    '{"content-length":"10","content-type":"text/plain","server":"testd"}' \
    "$(jq -cS .headers <<<"$r")"
r=$("$SALVO" -L --headers "$U/redirect/301?to=%2Fgzip%2F100")
check_eq "--headers with -L: the final answer's fields, not the redirect's" \
    '[null,"gzip",1]' \
    "$(jq -c '[.headers.location, .headers["content-encoding"], .redirects]' <<<"$r")"
r=$("$SALVO" --headers "$U/redirect/302?to=%2Fsize%2F4")
check_eq "--headers without -L: the redirect is the final answer, its Location shown" \
    "302 /size/4" "$(jq -r '"\(.status) \(.headers.location)"' <<<"$r")"
r=$("$SALVO" --retry 1 --retry-backoff 0.05 --headers "$U/retry-after/hdr/1/0")
check_eq "--headers: a 503 retried into a 200 shows the 200's fields (no retry-after)" \
    "200 2 null 10" \
    "$(jq -r '"\(.status) \(.attempts) \(.headers["retry-after"])"
        + " \(.headers["content-length"])"' <<<"$r")"
r=$("$SALVO" --retry 0 --headers "$U/close-early/1000")
check_eq "--headers: a head that arrived before the body failed is shown" "partial 1000" \
    "$(jq -r '"\(.error) \(.headers["content-length"])"' <<<"$r")"
r=$("$SALVO" --retry 0 --headers "http://127.0.0.1:$refused/")
check_eq "--headers: no response, headers null" "connect_refused null" \
    "$(jq -r '"\(.error) \(.headers)"' <<<"$r")"
r=$("$SALVO" --headers "${CA[@]}" "$N/f/1000")
check_eq "--headers over https (nginx)" "nginx 1000" \
    "$(jq -r '"\(.headers.server | split("/")[0]) \(.headers["content-length"])"' <<<"$r")"

# ---- 7. the three flags with --blocking agree with the engine ---------------------------
mixed=("$U/size/3000" "$U/gzip/5000" "$U/chunked/2500" "$U/close-delimited/700" "$N/f/16385"
    "$T/chunked/1001" "$U/status/404" "$U/close-early/4000" "$U/fixture/body_latin1"
    "$U/gzip-chunked/0" "$U/size/100001")
want_files="0.body 1.body 2.body 3.body 4.body 5.body 6.body 8.body 9.body"
for mode in engine blocking; do
    flag=()
    [ "$mode" = blocking ] && flag=(--blocking)
    j=$T_DIR/$mode.jsonl
    "$SALVO" "${flag[@]}" --retry 0 --hash --headers --body 50 --max-filesize 100000 \
        "${CA[@]}" --output-dir "$T_DIR/$mode" "${mixed[@]}" >"$j"
    check_eq "$mode: the saved files are the whole responses" "$want_files" \
        "$(only_files "$T_DIR/$mode")"
    check_eq "$mode: each file hashes as its record" \
        "$(jq -r 'select(.body_file != null) | .sha256' "$j" | sort)" \
        "$(for f in "$T_DIR/$mode"/*.body; do file_hash "$f"; done | sort)"
    check_eq "$mode: bodies as sent" \
        "$(for n in 3000 5000 2500 700 16385 1001 0; do body_hash "$n"; done)" \
        "$(for i in 0 1 2 3 4 5 9; do file_hash "$T_DIR/$mode/$i.body"; done)"
    check_eq "$mode: --body 50 of a gzip body, of a failed one, of a Latin-1 one" \
        "$P50 $P50 true" "$(body_sha "$j" 1) $(body_sha "$j" 7) $(jq -r 'select(.index == 8) |
            .body | contains("\ufffd")' "$j")"
    check_eq "$mode: --headers joined and lower-cased" '["one, two","gzip","testd"]' \
        "$(jq -sc 'sort_by(.index) | [.[8].headers["x-tag"], .[1].headers["content-encoding"],
            .[0].headers.server]' "$j")"
done
# nginx's Date may have ticked between the two runs, and the baseline asks each server
# to close (Connection: close), which testd's answer says.
fields='[.index, .status, .error, .bytes, .sha256, (.headers // {} | del(.date, .connection)),
    .body, (.body_file // "" | split("/") | last)] | tojson'
check "--blocking and the engine agree: status, error, bytes, sha256, headers, body, file" \
    diff <(jq -c "$fields" "$T_DIR/engine.jsonl" | sort) \
    <(jq -c "$fields" "$T_DIR/blocking.jsonl" | sort)
check "... and identical files" diff -r "$T_DIR/engine" "$T_DIR/blocking"

# ---- 8. every record has every field; the new ones are null without their flags ----------
# The record's fields in the contract's order (later fields may sit between them).
KEYS="index url ok status error message attempts remote_ip bytes wire_bytes queue_ms dns_ms \
connect_ms tls_ms ttfb_ms transfer_ms total_ms reused tls_version tls_cipher alpn tls_resumed \
cert_expiry chain_expiry cert_days_left cert_subject cert_issuer final_url redirects sha256 \
attempts_log start_ms headers body body_file"
# in_order FILE: "yes" when every record of FILE has the same fields and KEYS are among
# them in this order.
in_order() {
    jq -r 'keys_unsorted | join(" ")' "$1" | sort -u | awk -v want="$KEYS" '
        { n = split(want, w, " "); m = split($0, k, " "); j = 1
          for (i = 1; i <= m && j <= n; i++) if (k[i] == w[j]) j++
          lines++; found = (j > n) }
        END { print (lines == 1 && found) ? "yes" : "no: " lines " field lists" }'
}
for mode in engine blocking; do
    flag=()
    [ "$mode" = blocking ] && flag=(--blocking)
    "$SALVO" "${flag[@]}" --retry 0 "$U/size/10" "$U/close-early/10" "$U/status/404" \
        "http://127.0.0.1:$refused/" "not a url" >"$out"
    plain=$(jq -r 'keys_unsorted | join(" ")' "$out" | head -1)
    check_eq "$mode, without the flags: every record has every field, in order" yes \
        "$(in_order "$out")"
    check_eq "$mode, without the flags: headers, body and body_file null in every record" 5 \
        "$(jq_count '.headers == null and .body == null and .body_file == null' "$out")"
    "$SALVO" "${flag[@]}" --retry 0 --headers --body 5 --output-dir "$T_DIR/keys.$mode" \
        "$U/size/10" "$U/close-early/10" "$U/status/404" "http://127.0.0.1:$refused/" \
        "not a url" >"$out"
    check_eq "$mode, with the flags: the same fields, in the same order" \
        "yes $plain" "$(in_order "$out") $(jq -r 'keys_unsorted | join(" ")' "$out" | head -1)"
    check_eq "$mode, with the flags: filled where a response arrived" \
        '0 true "abcde" true
1 true "abcde" false
2 true "statu" true
3 false false
4 false false' \
        "$(jq -r '[.index, (.headers != null)] + (if .index < 3 then [(.body | tojson)] else [] end)
            + [(.body_file != null)] | join(" ")' "$out" | sort -n)"
    # A request that got no response has no body to show: "" or null, never more.
    check_eq "$mode, with the flags: no response, no body" 2 \
        "$(jq_count '.index >= 3 and (.body // "") == ""' "$out")"
done

finish
