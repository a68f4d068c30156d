#!/usr/bin/env bash
# --shard K/N: shards of one input partition it exactly (every index once in all, none
# twice), each origin falls in one shard only and in the shard its published hash
# (FNV-1a 64 of scheme://host:port, modulo N, plus 1) names, lines with no origin are
# shard 1's, and the merged shard outputs equal a single run's (index, status, bytes,
# sha256, error). N = 1, 3, 7 by hand, then GNU parallel over 4 shards of 10,000 URLs.
# An empty shard exits 0 with no record; bad K/N are usage errors.
. "$(dirname "$0")/../lib.sh"
# 16 origins: one testd listening on 16 loopback addresses, each on its own port.
listen=()
for a in $(seq 1 16); do listen+=(--listen "127.0.0.$a:0"); done
start_testd shard "${listen[@]}" || exit 1
mapfile -t ports <"$T_DIR/shard.port"
check_eq "testd listens on 16 addresses" 16 "${#ports[@]}"

# make_input COUNT FILE: URLs spread over the 16 origins, written in the forms a user
# might paste (upper-case scheme and an explicit default-free port are the same origin),
# plus lines with no origin: not URLs and a JSON line without a url.
make_input() {
    local i a
    for i in $(seq 0 $(($1 - 1))); do
        a=$((i % 16 + 1))
        case $((i % 50)) in
        0) echo "not a url $i" ;;
        1) echo "{\"name\":\"no url $i\"}" ;;
        2) echo "HTTP://127.0.0.$a:${ports[a - 1]}/size/10?i=$i" ;;
        3) echo "{\"url\":\"http://127.0.0.$a:${ports[a - 1]}/size/20?i=$i\",\"name\":\"j$i\"}" ;;
        *) echo "http://127.0.0.$a:${ports[a - 1]}/size/$((i % 7 * 50))?i=$i" ;;
        esac
    done >"$2"
}

cat >"$T_DIR/shardcheck.py" <<'PY'
# shardcheck.py N SINGLE SHARD1 ... SHARDN: the shard outputs partition the single run.
import json, sys
from urllib.parse import urlsplit

def fnv1a64(s):
    h = 0xcbf29ce484222325
    for b in s.encode():
        h = ((h ^ b) * 0x100000001b3) % (1 << 64)
    return h

def origin(url):
    try:
        u = urlsplit(url)
        if u.scheme.lower() not in ("http", "https") or not u.hostname:
            return None
        port = u.port or (443 if u.scheme.lower() == "https" else 80)
        return "%s://%s:%d" % (u.scheme.lower(), u.hostname.lower(), port)
    except ValueError:
        return None

def load(path):
    return [json.loads(l) for l in open(path)]

n = int(sys.argv[1])
single = {r["index"]: r for r in load(sys.argv[2])}
seen, shard_of_origin, problems = {}, {}, []
for k, path in enumerate(sys.argv[3:], 1):
    for r in load(path):
        i = r["index"]
        if i in seen:
            problems.append("index %d in shards %d and %d" % (i, seen[i], k))
        seen[i] = k
        o = origin(r["url"]) if r["error"] not in ("bad_url", "bad_input") else None
        want = 1 if o is None else fnv1a64(o) % n + 1
        if want != k:
            problems.append("index %d (%s) in shard %d, its hash says %d" % (i, o, k, want))
        if o is not None:
            shard_of_origin.setdefault(o, set()).add(k)
        s = single.get(i)
        key = ("status", "bytes", "sha256", "error", "url")
        if s is None or any(r[f] != s[f] for f in key):
            problems.append("index %d differs: %s vs %s" % (
                i, [r[f] for f in key], s and [s[f] for f in key]))
missing = sorted(set(single) - set(seen))
if missing:
    problems.append("%d indexes in no shard, e.g. %s" % (len(missing), missing[:5]))
split = [o for o, ks in shard_of_origin.items() if len(ks) > 1]
if split:
    problems.append("origins in more than one shard: %s" % split)
if problems:
    sys.exit("\n".join(problems[:20]))
print("%d records, %d origins, %d shards" % (len(seen), len(shard_of_origin), n))
PY

run() { "$SALVO" -s -c 100 --retry 0 --hash "$@"; }
make_input 2000 "$T_DIR/in.txt"
run -i "$T_DIR/in.txt" >"$T_DIR/single.jsonl"
check_eq "the single run: 2000 records" 2000 "$(wc -l <"$T_DIR/single.jsonl")"
for n in 1 3 7; do
    outs=()
    for k in $(seq 1 "$n"); do
        run --shard "$k/$n" -i "$T_DIR/in.txt" >"$T_DIR/s$k-$n.jsonl"
        outs+=("$T_DIR/s$k-$n.jsonl")
    done
    check "--shard K/$n: a partition by origin hash, records equal the single run's" \
        python3 "$T_DIR/shardcheck.py" "$n" "$T_DIR/single.jsonl" "${outs[@]}"
done
check_eq "with N = 7, shard 1 holds every line with no origin" 80 \
    "$(jq_count '.error == "bad_url" or .error == "bad_input"' "$T_DIR/s1-7.jsonl")"

# An empty shard: one URL, the other shard of two exits 0 and writes nothing.
one="http://127.0.0.1:${ports[0]}/size/1"
"$SALVO" -s --shard 1/2 "$one" >"$T_DIR/e1" 2>&1; r1=$?
"$SALVO" -s --shard 2/2 "$one" >"$T_DIR/e2" 2>&1; r2=$?
check_eq "one URL over two shards: both exit 0, one record in all" "0 0 1" \
    "$r1 $r2 $(cat "$T_DIR/e1" "$T_DIR/e2" | wc -l)"
: >"$T_DIR/empty.txt"
"$SALVO" -s --shard 1/2 -i "$T_DIR/empty.txt" >/dev/null 2>&1
check_eq "an input with no line at all is still 'nothing to fetch' (exit 2)" 2 "$?"

for bad in 0/3 4/3 3/0 a/b 1/ /3 -1/3 1/3x 1/70000; do
    "$SALVO" --shard "$bad" "$one" >"$T_DIR/bad.out" 2>"$T_DIR/bad.err"
    rc=$?
    check_eq "--shard $bad: exit 2, a message, no record" "2 1 0" \
        "$rc $(grep -c -- "--shard" "$T_DIR/bad.err") $(wc -c <"$T_DIR/bad.out")"
done

# The Kubernetes example's command, as each pod of the Indexed Job runs it (sh, with
# JOB_COMPLETION_INDEX 0..7), over this test's input: 8 shards that partition it.
awk '/^ *- \|$/ {on = 1; next} on && /^ *volumeMounts:/ {exit} on {sub(/^ +/, ""); print}' \
    "$SALVO_ROOT/examples/salvo-shards-job.yaml" |
    sed "s|/config/urls.txt|$T_DIR/in.txt|" >"$T_DIR/pod.sh"
"$SALVO" -s -c 100 --retry 0 -i "$T_DIR/in.txt" >"$T_DIR/single-nohash.jsonl"
outs=()
for i in $(seq 0 7); do
    PATH="$SALVO_BUILD:$PATH" JOB_COMPLETION_INDEX=$i sh "$T_DIR/pod.sh" >"$T_DIR/k$i.jsonl"
    echo "$?" >>"$T_DIR/k.status"
    outs+=("$T_DIR/k$i.jsonl")
done
check_eq "examples/salvo-shards-job.yaml's command: 8 pods that succeed" "0 0 0 0 0 0 0 0" \
    "$(paste -sd' ' "$T_DIR/k.status")"
check "... and whose outputs partition the input by origin hash" \
    python3 "$T_DIR/shardcheck.py" 8 "$T_DIR/single-nohash.jsonl" "${outs[@]}"

# GNU parallel, as a scheduler on one machine would run it: 4 shards of 10,000 URLs.
if ! parallel --version 2>/dev/null | grep -q "GNU parallel"; then
    not_ok "GNU parallel is installed (make deps installs parallel)"
else
    make_input 10000 "$T_DIR/big.txt"
    run -i "$T_DIR/big.txt" >"$T_DIR/big.jsonl"
    parallel --will-cite -j 4 "$SALVO" -s -c 100 --retry 0 --hash --shard {}/4 \
        -i "$T_DIR/big.txt" -o "$T_DIR/p{}.jsonl" ::: 1 2 3 4
    check_eq "parallel: 4 shards ran, each exit 0 or 1 (some lines are not URLs)" 4 \
        "$(ls "$T_DIR"/p?.jsonl | wc -l)"
    check "parallel, 4 shards of 10,000: a partition, merged records equal one run's" \
        python3 "$T_DIR/shardcheck.py" 4 "$T_DIR/big.jsonl" "$T_DIR"/p1.jsonl \
        "$T_DIR"/p2.jsonl "$T_DIR"/p3.jsonl "$T_DIR"/p4.jsonl
    check_eq "merged by index: 10000 records, 10000 distinct indexes" "10000 10000" \
        "$(cat "$T_DIR"/p?.jsonl | jq -s 'sort_by(.index) | "\(length) \(map(.index) | unique | length)"' -r)"
fi
finish
