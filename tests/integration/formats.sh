#!/usr/bin/env bash
# Output formats (--format jsonl|csv|table|prom), the summary and -s/--summary: a run of
# 1,000 URLs against testd in every format reads back with 1,000 records (jq, Python's
# csv module, the table's rows, promtool); csv holds the JSON fields in their order and
# values; prom keeps the last record of each (url, name); the summary's counts are the
# records'; an interrupted run leaves whole csv and prom; `| head -1` ends quietly.
. "$(dirname "$0")/../lib.sh"
start_testd formats || exit 1
U="http://127.0.0.1:$TESTD_PORT"
py=python3
command -v promtool >/dev/null || echo "# promtool is missing (make deps installs prometheus)"

# 1,000 distinct URLs: mostly 200s of a few sizes, 404s (a failed status check), refused
# connections and lines that are not URLs.
in="$T_DIR/in.txt"
for i in $(seq 0 999); do
    case $((i % 20)) in
    0) echo "$U/status/404?i=$i" ;;
    1) echo "http://127.0.0.1:1/?i=$i" ;;
    2) echo "not a url $i" ;;
    3) echo "$U/status/500?i=$i" ;;
    *) echo "$U/size/$((i % 7 * 100))?i=$i" ;;
    esac
done >"$in"
run() { "$SALVO" -c 100 --retry 0 -i "$in" "$@"; }

# ---- jsonl, the default when records do not go to a terminal -----------------------
run >"$T_DIR/default.out" 2>"$T_DIR/default.err"
check_eq "default format off a terminal: JSON Lines, 1000 records" 1000 \
    "$(jq -c . "$T_DIR/default.out" | wc -l)"
check_eq "... and nothing on stderr (no summary, no bar off a terminal)" "" \
    "$(cat "$T_DIR/default.err")"
run --format jsonl >"$T_DIR/all.jsonl"
check_eq "--format jsonl: 1000 records, each index once" "1000 1000" \
    "$(jq -c . "$T_DIR/all.jsonl" | wc -l) $(jq .index "$T_DIR/all.jsonl" | sort -u | wc -l)"

# ---- csv ------------------------------------------------------------------------------
run --format csv >"$T_DIR/all.csv"
cat >"$T_DIR/csvcheck.py" <<'PY'
# csvcheck.py CSV JSONL: the CSV's header is the JSON records' field order, every row has
# every field, and the stable fields of each row equal those of the JSON record of the
# same index (null an empty cell, booleans true/false, arrays and objects compact JSON).
import csv, json, sys
with open(sys.argv[1], newline="") as f:
    rows = list(csv.reader(f))
recs = [json.loads(l) for l in open(sys.argv[2])]
keys = list(recs[0].keys())
if rows[0] != keys:
    sys.exit("header %r != JSON fields %r" % (rows[0], keys))
body = rows[1:]
bad = [r for r in body if len(r) != len(keys)]
if bad:
    sys.exit("%d rows without every field, e.g. %r" % (len(bad), bad[0]))
def cell(v):
    if v is None: return ""
    if v is True: return "true"
    if v is False: return "false"
    if isinstance(v, (list, dict)): return json.dumps(v, separators=(",", ":"), ensure_ascii=False)
    return str(v)
by_index = {r["index"]: r for r in recs}
stable = ["index", "url", "ok", "status", "error", "attempts", "bytes", "wire_bytes",
          "redirects", "body", "checks_failed", "headers", "name", "sha256"]
for r in body:
    row = dict(zip(keys, r))
    rec = by_index.get(int(row["index"]))
    if rec is None:
        sys.exit("row of index %s has no JSON record" % row["index"])
    for k in stable:
        if k in rec and row[k] != cell(rec[k]):
            sys.exit("index %s field %s: csv %r, json %r" % (row["index"], k, row[k], cell(rec[k])))
    if rec["error"] is None and rec["total_ms"] is not None and float(row["total_ms"]) < 0:
        sys.exit("total_ms not a duration")
print(len(body))
PY
check_eq "--format csv: Python's csv reads 1000 rows, the header is the JSON field order, values match" \
    1000 "$($py "$T_DIR/csvcheck.py" "$T_DIR/all.csv" "$T_DIR/all.jsonl" 2>&1)"
check_eq "... rows end with CRLF (RFC 4180)" 1001 "$(grep -c $'\r$' "$T_DIR/all.csv")"

# Cells that need quoting: a body with a line end and a comma, header fields (an object),
# a URL with a quote and a comma, names from JSON lines, an empty string.
tricky="$T_DIR/tricky.txt"
cat >"$tricky" <<EOF
$U/size/40?a=1,2&b=\"q\"
{"url":"$U/size/30","name":"comma, \"quote\" and\\nline"}
{"url":"$U/status/404","name":""}
EOF
"$SALVO" --retry 0 --headers --body 40 --hash -i "$tricky" --format csv >"$T_DIR/tricky.csv"
"$SALVO" --retry 0 --headers --body 40 --hash -i "$tricky" --format jsonl >"$T_DIR/tricky.jsonl"
check_eq "csv: quotes, commas and line ends in cells, objects and arrays as JSON" 3 \
    "$($py "$T_DIR/csvcheck.py" "$T_DIR/tricky.csv" "$T_DIR/tricky.jsonl" 2>&1)"
check_eq "csv: an empty string is written \"\" (one name), null as nothing" "1 1" \
    "$(grep -c ',"",' "$T_DIR/tricky.csv") $(jq_count '.name == ""' "$T_DIR/tricky.jsonl")"

# ---- table ----------------------------------------------------------------------------
run --format table >"$T_DIR/all.table"
t_rows=$(grep -cE '^ *[0-9]+  ' "$T_DIR/all.table")
check_eq "--format table: a header and 1000 rows, each index once" "1 1000 1000" \
    "$(grep -cE '^ *index +status +result +total ms +bytes +url$' "$T_DIR/all.table") $t_rows \
$(grep -E '^ *[0-9]+  ' "$T_DIR/all.table" | awk '{print $1}' | sort -u | wc -l)"
ok_rows=$(grep -cE '^ *[0-9]+  +[0-9]+ +ok ' "$T_DIR/all.table")
check_eq "... its footer is the summary, counting its rows" \
    "records  1000: $ok_rows ok, $((1000 - ok_rows)) not ok" \
    "$(grep -E '^records ' "$T_DIR/all.table")"
check_eq "... the same ok count as the JSON records" "$(jq_count .ok "$T_DIR/all.jsonl")" "$ok_rows"
check_eq "... rows say the error class or the failed checks" \
    "$(jq_count '.error == "connect_refused"' "$T_DIR/all.jsonl") $(jq_count '.checks_failed == ["status"]' "$T_DIR/all.jsonl")" \
    "$(grep -cE '^ *[0-9]+  +- +connect_refused ' "$T_DIR/all.table") $(grep -cE '^ *[0-9]+  +[45]0[04] +failed status ' "$T_DIR/all.table")"
check_eq "... no colour off a terminal, and no summary on stderr" "0 0" \
    "$(run --format table 2>&1 >/dev/null | wc -c) $(grep -c $'\x1b' "$T_DIR/all.table")"
"$SALVO" --format table -s "$U/" >"$T_DIR/silent.table"
check_eq "-s: the table without its footer" "0 1" \
    "$(grep -c '^records ' "$T_DIR/silent.table") $(grep -cE '^ *0  +200 +ok ' "$T_DIR/silent.table")"
# Control bytes of a URL never reach a terminal as they are.
"$SALVO" --format table "$(printf 'http://x\033[31m.test/')" 2>/dev/null >"$T_DIR/esc.table"
check_eq "table: a control byte in a URL is shown escaped" "0 1" \
    "$(grep -c $'\x1b' "$T_DIR/esc.table") $(grep -c 'http://x\\x1b\[31m.test/' "$T_DIR/esc.table")"

# ---- prom -----------------------------------------------------------------------------
run --format prom >"$T_DIR/all.prom"
check "--format prom: promtool check metrics accepts it" promtool check metrics <"$T_DIR/all.prom"
check_eq "... one salvo_probe_success per URL (1000), with the ok count of the records" \
    "1000 $(jq_count .ok "$T_DIR/all.jsonl")" \
    "$(grep -c '^salvo_probe_success{' "$T_DIR/all.prom") $(grep -c '^salvo_probe_success{.*} 1$' "$T_DIR/all.prom")"
check_eq "... every metric has one HELP and one TYPE, its samples together" "" \
    "$(awk '/^# TYPE/{t[$3]++} /^# HELP/{h[$3]++} !/^#/{n=$1; sub(/\{.*/,"",n); if (n != last && seen[n]++) print "split: " n; last=n}
        END{for (m in t) if (t[m] != 1 || h[m] != 1) print "twice: " m}' "$T_DIR/all.prom")"
check_eq "... error and check samples match the records" \
    "$(jq_count '.error == "connect_refused"' "$T_DIR/all.jsonl") $(jq_count '.error == "bad_url"' "$T_DIR/all.jsonl") $(jq_count '.checks_failed == ["status"]' "$T_DIR/all.jsonl")" \
    "$(grep -c '^salvo_probe_error{.*class="connect_refused"} 1$' "$T_DIR/all.prom") $(grep -c '^salvo_probe_error{.*class="bad_url"} 1$' "$T_DIR/all.prom") $(grep -c '^salvo_probe_check_failed{.*check="status"} 1$' "$T_DIR/all.prom")"
check_eq "... status codes, 0 when none arrived" \
    "$(jq_count '.status == 404' "$T_DIR/all.jsonl") $(jq_count '.status == null' "$T_DIR/all.jsonl")" \
    "$(grep -c '^salvo_probe_http_status_code{.*} 404$' "$T_DIR/all.prom") $(grep -c '^salvo_probe_http_status_code{.*} 0$' "$T_DIR/all.prom")"
check_eq "... durations only for phases that ran: a refused connection has no ttfb" \
    "0 $(jq_count '.error == "connect_refused"' "$T_DIR/all.jsonl")" \
    "$(grep -c '^salvo_probe_duration_seconds{url="http://127.0.0.1:1/[^"]*",name="",phase="ttfb"}' "$T_DIR/all.prom") $(grep -c '^salvo_probe_duration_seconds{url="http://127.0.0.1:1/[^"]*",name="",phase="total"}' "$T_DIR/all.prom")"

# The last record of a (url, name) pair wins; names label samples apart; label values are
# escaped. -c 1 keeps the completion order: the n-th request for a key gets the n-th code.
cat >"$T_DIR/repeat.txt" <<EOF
$U/seq/rep/500,200
$U/seq/rep/500,200
{"url":"$U/seq/rep/500,200","name":"a \"b\" c\\\\d\\ne"}
EOF
"$SALVO" -c 1 --retry 0 -i "$T_DIR/repeat.txt" --format prom >"$T_DIR/repeat.prom"
check "a repeated URL and a name with quotes, a backslash and a line end: promtool accepts it" \
    promtool check metrics <"$T_DIR/repeat.prom"
check_eq "... the last record of the pair wins, the named line has its own samples" \
    "salvo_probe_http_status_code{url=\"$U/seq/rep/500,200\",name=\"\"} 200
salvo_probe_http_status_code{url=\"$U/seq/rep/500,200\",name=\"a \\\"b\\\" c\\\\d\\ne\"} 200" \
    "$(grep '^salvo_probe_http_status_code' "$T_DIR/repeat.prom")"

# TLS: the earliest expiry, of the leaf and the chain, in Unix seconds.
make_certs >/dev/null 2>&1
if [ -f "$CERTS/leaf.pem" ]; then
    start_tls_peer formats || exit 1
    tls=(--cacert "$CERTS/ca.pem" --resolve "localhost:$TLS_PEER_PORT:127.0.0.1"
        "https://localhost:$TLS_PEER_PORT/cl/10")
    want=$("$SALVO" "${tls[@]}" | jq '[.cert_expiry, .chain_expiry] | map(fromdate) | min')
    "$SALVO" "${tls[@]}" --format prom >"$T_DIR/tls.prom"
    check_eq "prom: salvo_probe_ssl_earliest_cert_expiry is the earlier expiry, and tls ran" \
        "$want 1" "$(awk '/^salvo_probe_ssl_earliest_cert_expiry\{/{print $2}' "$T_DIR/tls.prom") $(grep -c 'phase="tls"' "$T_DIR/tls.prom")"
    check "... promtool accepts it" promtool check metrics <"$T_DIR/tls.prom"
else
    not_ok "certificates for the TLS case" "tests/certs.sh failed"
fi

# ---- the summary ----------------------------------------------------------------------
run --summary >"$T_DIR/sum.jsonl" 2>"$T_DIR/sum.err"
J="$T_DIR/sum.jsonl"
# The counts the summary must show, from the records themselves.
want_status=$(jq -r '.status // "none" | tostring | if . == "none" then . else .[0:1] + "xx" end' "$J" |
    sort | uniq -c | awk '{print $2, $1}' | sort | tr '\n' ' ')
got_status=$(sed -n 's/^status *//p' "$T_DIR/sum.err" | tr ',' '\n' | sed 's/^ *//' | sort | tr '\n' ' ')
want_err=$(jq -r 'select(.error) | .error' "$J" | sort | uniq -c | awk '{print $2, $1}' | sort | tr '\n' ' ')
got_err=$(sed -n 's/^errors *//p' "$T_DIR/sum.err" | tr ',' '\n' | sed 's/^ *//' | sort | tr '\n' ' ')
check_eq "--summary: on stderr off a terminal, with the records' count and ok / not ok" \
    "records  1000: $(jq_count .ok "$J") ok, $(jq_count '.ok | not' "$J") not ok" \
    "$(grep '^records ' "$T_DIR/sum.err")"
check_eq "... counts per status class" "$want_status" "$got_status"
check_eq "... counts per error class" "$want_err" "$got_err"
check_eq "... bytes" "$(jq -s 'map(.bytes) | add' "$J")" "$(sed -n 's/^bytes *\([0-9]*\).*/\1/p' "$T_DIR/sum.err")"
check_eq "... failed checks" "status $(jq_count '.checks_failed == ["status"]' "$J") failed" \
    "$(sed -n 's/^checks *//p' "$T_DIR/sum.err")"
# Latency percentiles (nearest rank) of total_ms, as rounded for a person.
cat >"$T_DIR/lat.py" <<'PY'
import json, math, re, sys
lat = sorted(r["total_ms"] for r in map(json.loads, open(sys.argv[1])) if r["total_ms"] is not None)
line = [l for l in open(sys.argv[2]) if l.startswith("latency")][0]
got = dict(re.findall(r"(p50|p90|p99|max) ([0-9.]+) ms", line))
def pct(p): return lat[min(len(lat), max(1, math.ceil(p * len(lat)))) - 1]
want = {"p50": pct(0.5), "p90": pct(0.9), "p99": pct(0.99), "max": lat[-1]}
for k, v in want.items():
    g = float(got[k])
    # printed with 2, 1 or 0 decimals; kept as a float
    if abs(g - v) > 0.5 * 10 ** -(2 if v < 10 else 1 if v < 1000 else 0) + v * 1e-6:
        sys.exit("%s: summary %s, records %.3f" % (k, got[k], v))
print("ok")
PY
check_eq "... latency p50 / p90 / p99 / max of total_ms" ok "$($py "$T_DIR/lat.py" "$J" "$T_DIR/sum.err" 2>&1)"
check_eq "... wall time and requests per second" 1 \
    "$(grep -cE '^time +[0-9]+\.[0-9]{3} s, [0-9]+\.[0-9] requests/s$' "$T_DIR/sum.err")"
"$SALVO" -s "$U/" "$U/status/500" 2>"$T_DIR/s.err" >/dev/null
"$SALVO" -s --summary "$U/" "$U/status/500" 2>"$T_DIR/ss.err" >/dev/null
check_eq "-s: nothing on stderr; -s --summary: the summary" "0 records  2: 1 ok, 1 not ok" \
    "$(wc -c <"$T_DIR/s.err") $(grep '^records ' "$T_DIR/ss.err")"

# ---- interrupted runs: csv and prom stay whole ----------------------------------------
# 30 quick URLs then 30 that take 20 s: SIGINT once the quick ones are done.
slow="$T_DIR/slow.txt"
{ for i in $(seq 1 30); do echo "$U/size/10?q=$i"; done
  for i in $(seq 1 30); do echo "$U/delay/20000?s=$i"; done; } >"$slow"
interrupt() { # FORMAT OUT: runs salvo on $slow, interrupts it, sets RC
    local tr="$T_DIR/int-$1.trace" i n
    "$SALVO" -c 100 --retry 0 -i "$slow" --format "$1" --trace "$tr" >"$2" 2>"$T_DIR/int-$1.err" &
    local pid=$!
    T_PIDS+=("$pid")
    for i in $(seq 1 200); do
        n=$(grep -c '"to":"done"' "$tr" 2>/dev/null)
        [ "${n:-0}" -ge 30 ] && break
        sleep 0.05
    done
    kill -INT "$pid"
    wait "$pid"
    RC=$?
}
interrupt csv "$T_DIR/int.csv"
check_eq "interrupted csv run: exit 130, Python reads 60 whole rows (the slow ones cancelled)" \
    "130 60 30" "$RC $($py -c '
import csv, sys
rows = list(csv.reader(open(sys.argv[1], newline="")))
assert all(len(r) == len(rows[0]) for r in rows), "a torn row"
e = rows[0].index("error")
print(len(rows) - 1, sum(r[e] == "cancelled" for r in rows[1:]))' "$T_DIR/int.csv" 2>&1)"
interrupt prom "$T_DIR/int.prom"
check "interrupted prom run: exit 130 and promtool accepts the exposition" \
    test "$RC" = 130 -a -s "$T_DIR/int.prom"
check "... promtool check metrics" promtool check metrics <"$T_DIR/int.prom"
check_eq "... 60 URLs, 30 cancelled" "60 30" \
    "$(grep -c '^salvo_probe_success{' "$T_DIR/int.prom") $(grep -c 'class="cancelled"} 1$' "$T_DIR/int.prom")"

# ---- a reader that goes away ----------------------------------------------------------
for f in jsonl csv table; do
    ("$SALVO" -c 100 --retry 0 -i "$in" --format "$f" 2>"$T_DIR/head-$f.err"; echo $? >"$T_DIR/head-$f.rc") |
        head -1 >/dev/null
    check_eq "salvo --format $f ... | head -1: no message on stderr" "" "$(cat "$T_DIR/head-$f.err")"
done

# ---- bad values -----------------------------------------------------------------------
before=$(curl -s "$U/__stats" | jq .accepts)
for a in "--format" "--format yaml" "--format JSON" "--format ''"; do
    # shellcheck disable=SC2086
    eval "\"\$SALVO\" $a \"\$U/\"" >"$T_DIR/bad.out" 2>"$T_DIR/bad.err"
    check_eq "'$a': exit 2, one line on stderr, no record" "2 1 0" \
        "$? $(wc -l <"$T_DIR/bad.err") $(wc -c <"$T_DIR/bad.out")"
done
for f in csv table prom; do
    "$SALVO" --format "$f" --cacert "$T_DIR/no-such-ca.pem" "$U/" >"$T_DIR/bad.out" 2>"$T_DIR/bad.err"
    check_eq "--format $f with an unusable --cacert: exit 2, not even a header row" "2 0" \
        "$? $(wc -c <"$T_DIR/bad.out")"
done
check_eq "... and no connection was made (the one counted is this question's)" \
    $((before + 1)) "$(curl -s "$U/__stats" | jq .accepts)"
finish
