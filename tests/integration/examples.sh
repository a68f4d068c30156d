#!/usr/bin/env bash
# The programs of examples/ against the test server: each prints what its top comment
# promises. fetch_many reports every URL, failures included; stream_feed reads stdin
# lazily, without blocking the requests in flight; blocking_mistake's sleeping callback
# is named by the lag report on stderr, and its fixed version is not. Then the salvo
# command's own lag report, --debug-loop MS. Last, the response callbacks: save_pages
# streams each page to a file, first_chars decodes the first 100 characters of each.
. "$(dirname "$0")/../lib.sh"
EX=$SALVO_BUILD/examples
start_testd examples || exit 1
U="http://127.0.0.1:$TESTD_PORT"
sha() { printf "$@" | sha256sum | cut -d' ' -f1; }

# lag_lines FILE: the lag report lines of FILE, as "MS THRESHOLD" (one per line).
lag_lines() {
    sed -nE 's/^salvo: loop: .+ held the thread for ([0-9.]+) ms \(over ([0-9.]+) ms\)$/\1 \2/p' "$1"
}

# ---- fetch_many ---------------------------------------------------------------------
refused_port=$(free_port)
"$EX/fetch_many" "$U/" "$U/status/404" "$U/size/1000" "http://127.0.0.1:$refused_port/" \
    "not a url" >"$T_DIR/many.out" 2>"$T_DIR/many.err"
rc=$?
check_eq "fetch_many: exit 1 when a result is not ok" 1 "$rc"
check_eq "fetch_many: one line per URL, by index: status, error, bytes, url" \
    "0 200 ok 6 $U/
1 404 ok 11 $U/status/404
2 200 ok 1000 $U/size/1000
3 0 connect_refused 0 http://127.0.0.1:$refused_port/
4 0 bad_url 0 not" \
    "$(sort -n "$T_DIR/many.out" | awk '{print $1, $2, $3, $4, $6}')"
check_eq "fetch_many: a request that never started has no total" "- not a url" \
    "$(awk '$1 == 4 {print $5, $6, $7, $8}' "$T_DIR/many.out")"
check "fetch_many: a failure carries its message" \
    grep -q "^3 0 connect_refused 0 [0-9.]* http://127.0.0.1:$refused_port/ ." "$T_DIR/many.out"
check_eq "fetch_many: nothing on stderr" "" "$(cat "$T_DIR/many.err")"

# Ten answers that each take 500 ms, fetched at once: the server sees all ten waiting
# together (a second server, so that its counters see only these).
start_testd many || exit 1
M="http://127.0.0.1:$TESTD_PORT"
urls=()
for i in $(seq 0 9); do urls+=("$M/delay/500?i=$i"); done
"$EX/fetch_many" "${urls[@]}" >"$T_DIR/slow.out" 2>&1
check_eq "fetch_many: ten slow URLs, exit 0" "0 10" "$? $(grep -c ' 200 ok 3 ' "$T_DIR/slow.out")"
check_eq "fetch_many: the server held all ten requests at once" 10 \
    "$(curl -s "$M/__stats" | jq .max_active)"

# ---- stream_feed --------------------------------------------------------------------
# A producer that writes its second URL only once the first result is out: a feed that
# waited for more input with a blocking read would hold every request until then.
mkfifo "$T_DIR/feed.in"
"$EX/stream_feed" <"$T_DIR/feed.in" >"$T_DIR/feed.out" 2>"$T_DIR/feed.err" &
feed_pid=$!
T_PIDS+=("$feed_pid")
exec 7>"$T_DIR/feed.in"
printf '%s\n' "$U/size/100" >&7
first_before_second=no
for i in $(seq 1 100); do
    grep -q '^0 ' "$T_DIR/feed.out" && { first_before_second=yes; break; }
    sleep 0.05
done
# A comment, a blank line, padding, and a last line with no newline.
printf '# a comment\n\n  %s  \r\n%s' "$U/status/204" "$U/size/7" >&7
exec 7>&-
wait "$feed_pid"
rc=$?
check_eq "stream_feed: the first result came before the second URL was written" yes \
    "$first_before_second"
check_eq "stream_feed: every URL of the input, in index order" \
    "0 200 ok $U/size/100
1 204 ok $U/status/204
2 200 ok $U/size/7" "$(sort -n "$T_DIR/feed.out")"
check_eq "stream_feed: exit 0 and a count on stderr" "0 stream_feed: 3 URLs, 0 not ok" \
    "$rc $(cat "$T_DIR/feed.err")"

# A file far longer than the engine's window (100): every URL once, in the end.
for i in $(seq 0 999); do echo "$U/size/$((i % 50))"; done >"$T_DIR/long.txt"
"$EX/stream_feed" <"$T_DIR/long.txt" >"$T_DIR/long.out" 2>"$T_DIR/long.err"
rc=$?
check_eq "stream_feed: 1000 URLs from a file, exit 0" "0 stream_feed: 1000 URLs, 0 not ok" \
    "$rc $(cat "$T_DIR/long.err")"
check_eq "stream_feed: indices 0 to 999, each once" "1000 0 999" \
    "$(cut -d' ' -f1 "$T_DIR/long.out" | sort -n | uniq | awk 'NR == 1 {a = $1} {b = $1; n++} END {print n, a, b}')"
check_eq "stream_feed: each index has its own URL" 0 \
    "$(awk -v u="$U" '$4 != u "/size/" ($1 % 50) || $2 != 200' "$T_DIR/long.out" | wc -l)"

# ---- blocking_mistake ---------------------------------------------------------------
"$EX/blocking_mistake" "$U/" "$U/size/5" "$U/status/201" >"$T_DIR/mistake.out" \
    2>"$T_DIR/mistake.err"
rc=$?
check_eq "blocking_mistake: exit 0, three results, three records saved" "0 3 3" \
    "$rc $(grep -cE '^[0-9]+ 20[01] ok ' "$T_DIR/mistake.out") $(grep -c '^saved ' "$T_DIR/mistake.out")"
check_eq "blocking_mistake: results as fetched" "0 200 ok $U/
1 200 ok $U/size/5
2 201 ok $U/status/201" "$(grep -v '^saved' "$T_DIR/mistake.out" | sort -n)"
lag_lines "$T_DIR/mistake.err" >"$T_DIR/mistake.lag"
check_eq "blocking_mistake: the lag report names each 200 ms callback, over 50 ms" "3 3" \
    "$(wc -l <"$T_DIR/mistake.lag") $(awk '$1 >= 200 && $2 == 50' "$T_DIR/mistake.lag" | wc -l)"
check_eq "blocking_mistake: stderr holds the reports and the longest hold, nothing else" 4 \
    "$(wc -l <"$T_DIR/mistake.err")"
check_le "blocking_mistake: the longest hold is at least the 200 ms sleep" 200 \
    "$(sed -n 's/^blocking_mistake: a callback held the thread for up to \([0-9]*\) ms$/\1/p' "$T_DIR/mistake.err")"

"$EX/blocking_mistake" --queue "$U/" "$U/size/5" "$U/status/201" >"$T_DIR/fixed.out" \
    2>"$T_DIR/fixed.err"
rc=$?
check_eq "blocking_mistake --queue: exit 0, the same results, all saved after the run" \
    "0 $(grep -v '^saved' "$T_DIR/mistake.out" | sort -n | tr '\n' ' ')saved 0 200 saved 1 200 saved 2 201" \
    "$rc $(grep -v '^saved' "$T_DIR/fixed.out" | sort -n | tr '\n' ' ')$(grep '^saved' "$T_DIR/fixed.out" | sort | tr '\n' ' ' | sed 's/ $//')"
check_eq "blocking_mistake --queue: no lag report" "" "$(grep '^salvo: loop:' "$T_DIR/fixed.err")"

# ---- salvo --debug-loop -------------------------------------------------------------
for v in abc 0 -5 12x ''; do
    "$SALVO" --debug-loop "$v" "$U/" >"$T_DIR/dl.out" 2>"$T_DIR/dl.err"
    rc=$?
    check_eq "--debug-loop '$v': exit 2, one line naming the flag, no record" "2 1 1 0" \
        "$rc $(wc -l <"$T_DIR/dl.err") $(grep -c -- "--debug-loop" "$T_DIR/dl.err") $(wc -l <"$T_DIR/dl.out")"
done
check "--debug-loop is in salvo --help" bash -c "'$SALVO' --help | grep -q -- '--debug-loop MS'"

# Records go to a pipe whose reader starts late: once the pipe is full, writing a record
# blocks the thread inside the engine's callback, which is what --debug-loop is for.
for i in $(seq 0 399); do echo "$U/size/10?i=$i"; done >"$T_DIR/dl.txt"
"$SALVO" --debug-loop 50 -i "$T_DIR/dl.txt" 2>"$T_DIR/dl.err" | { sleep 0.5; wc -l; } \
    >"$T_DIR/dl.count"
check_eq "--debug-loop 50: every record arrives through the slow pipe" 400 \
    "$(tr -d ' ' <"$T_DIR/dl.count")"
lag_lines "$T_DIR/dl.err" >"$T_DIR/dl.lag"
check_le "--debug-loop 50: the callback stuck on the full pipe is reported" 1 \
    "$(awk '$1 > 50 && $2 == 50' "$T_DIR/dl.lag" | wc -l)"
check_eq "--debug-loop 50: stderr holds only lag reports" "$(wc -l <"$T_DIR/dl.err")" \
    "$(wc -l <"$T_DIR/dl.lag")"
"$SALVO" -i "$T_DIR/dl.txt" 2>"$T_DIR/nodl.err" | { sleep 0.5; wc -l; } >/dev/null
check_eq "without --debug-loop: the same run reports nothing" "" "$(cat "$T_DIR/nodl.err")"

# ---- save_pages ---------------------------------------------------------------------
# Each page streamed to DIR/INDEX through DIR/INDEX.part: saved when it arrived whole with
# a 2xx status, and nothing left behind otherwise.
refused=$(free_port)
"$EX/save_pages" "$T_DIR/pages" "$U/size/100000" "$U/gzip/50000" "$U/chunked/3000" \
    "$U/status/404" "$U/close-early/1000" "http://127.0.0.1:$refused/" "$U/size/0" \
    "$U/gzip-chunked/20000000" >"$T_DIR/pages.out" 2>"$T_DIR/pages.err"
rc=$?
check_eq "save_pages: exit 1 when a page is not saved, nothing on stderr" "1" \
    "$rc$(cat "$T_DIR/pages.err")"
check_eq "save_pages: one line per URL: status, error, bytes, file" \
    "0 200 ok 100000 $T_DIR/pages/0
1 200 ok 50000 $T_DIR/pages/1
2 200 ok 3000 $T_DIR/pages/2
3 404 ok 11 -
4 200 partial 500 -
5 0 connect_refused 0 -
6 200 ok 0 $T_DIR/pages/6
7 200 ok 20000000 $T_DIR/pages/7" "$(sort -n "$T_DIR/pages.out" | cut -d' ' -f1-5)"
check_eq "save_pages: the directory holds the saved pages only, no .part" "0 1 2 6 7" \
    "$(ls -A "$T_DIR/pages" | sort -n | tr '\n' ' ' | sed 's/ $//')"
check_eq "save_pages: each file is the decoded body the server sent" \
    "$(for n in 100000 50000 3000 0 20000000; do
        yes abcdefghijklmnopqrstuvwxyz | head -c "$n" | sha256sum | cut -d' ' -f1
    done)" \
    "$(for i in 0 1 2 6 7; do sha256sum <"$T_DIR/pages/$i" | cut -d' ' -f1; done)"

# A file that cannot be made (a directory in the way of the .part) stops that page with
# resource, saying why; the other page is saved.
mkdir -p "$T_DIR/blocked/0.part"
"$EX/save_pages" "$T_DIR/blocked" "$U/size/10" "$U/size/20" >"$T_DIR/blocked.out" 2>&1
rc=$? why=$(grep -o 'saving: .*' "$T_DIR/blocked.out")
check_eq "save_pages: a page that cannot be saved ends with resource and says why" \
    "1 resource - saving: Is a directory" \
    "$rc $(awk '$1 == 0 {print $3, $5}' "$T_DIR/blocked.out") $why"
check_eq "save_pages: ... and the other page is saved" "ok $T_DIR/blocked/1 20" \
    "$(awk '$1 == 1 {print $3, $5}' "$T_DIR/blocked.out") $(wc -c <"$T_DIR/blocked/1")"
check_eq "save_pages: no URL, exit 2" 2 "$("$EX/save_pages" "$T_DIR/x" >/dev/null 2>&1; echo $?)"

# ---- first_chars --------------------------------------------------------------------
# The first 100 characters of each page, decoded by its charset (UTF-8 unless it says
# ISO-8859-1), one line each. Python's resp.text[:100] is the oracle: bytes.decode with
# errors="replace", then the example's escapes.
start_testd chars --fixtures "$SALVO_ROOT/tests/fixtures/http1" || exit 1
C="http://127.0.0.1:$TESTD_PORT"
# A peer that sends its pages one byte at a time, so that characters of several bytes
# arrive cut in two: /utf8 (300 characters of one to four bytes each) and /bad (bytes that
# are not UTF-8, ending in a cut sequence).
cat >"$T_DIR/pages.py" <<'EOF'
import http.server, os, sys, time
PAGES = {
    "/utf8": ("caf\u00e9 \u20ac5 \U0001F600 na\u00efve " * 20).encode(),
    "/bad": b"ok \xff \xe2\x82 x \xed\xa0\x80 \xf0\x9f\x98 \xc3",
}
class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    def do_GET(self):
        body = PAGES.get(self.path, b"not found\n")
        self.send_response(200 if self.path in PAGES else 404)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Connection", "close")
        self.end_headers()
        try:
            for i in range(len(body)):
                self.wfile.write(body[i:i + 1])
                time.sleep(0.001)
        except OSError:
            pass  # the client had enough
    def log_message(self, *args):
        pass
if __name__ == "__main__":
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    with open(sys.argv[1] + ".tmp", "w") as f:
        f.write("%d\n" % server.server_address[1])
    os.rename(sys.argv[1] + ".tmp", sys.argv[1])
    server.serve_forever()
EOF
python3 "$T_DIR/pages.py" "$T_DIR/pages.port" 2>"$T_DIR/pages.log" &
T_PIDS+=($!)
for i in $(seq 1 100); do [ -s "$T_DIR/pages.port" ] && break; sleep 0.05; done
Y="http://127.0.0.1:$(cat "$T_DIR/pages.port")"

start=$(now)
"$EX/first_chars" "$C/size/1000" "$C/size/5" "$C/gzip/100000" "$C/status/404" \
    "$C/size/107374182400" "$C/fixture/body_latin1" "$Y/utf8" "$Y/bad" \
    "http://127.0.0.1:$refused/" >"$T_DIR/chars.out" 2>"$T_DIR/chars.err"
rc=$?
el=$(since "$start")
check_eq "first_chars: exit 1 (one page failed), nothing on stderr, nine lines" "1 9" \
    "$rc $(cat "$T_DIR/chars.err")$(wc -l <"$T_DIR/chars.out")"
cat >"$T_DIR/chars.py" <<'EOF'
import sys
sys.path.insert(0, sys.argv[2])
from pages import PAGES  # the peer's pages
out, _, latin_fixture, C, Y, refused = sys.argv[1:]
pattern = b"abcdefghijklmnopqrstuvwxyz\n" * 40
latin_body = open(latin_fixture, "rb").read().split(b"\r\n\r\n", 1)[1]
def esc(text):
    out = []
    for ch in text:
        o = ord(ch)
        if ch == "\\": out.append("\\\\")
        elif ch == "\n": out.append("\\n")
        elif ch == "\r": out.append("\\r")
        elif ch == "\t": out.append("\\t")
        elif o < 0x20 or o == 0x7f: out.append("\\x%02x" % o)
        else: out.append(ch)
    return "".join(out)
want = [
    (200, C + "/size/1000", pattern.decode()),
    (200, C + "/size/5", "abcde"),
    (200, C + "/gzip/100000", pattern.decode()),
    (404, C + "/status/404", "status 404\n"),
    (200, C + "/size/107374182400", pattern.decode()),
    (200, C + "/fixture/body_latin1", latin_body.decode("latin-1")),  # charset=iso-8859-1
    (200, Y + "/utf8", PAGES["/utf8"].decode("utf-8", "replace")),
    (200, Y + "/bad", PAGES["/bad"].decode("utf-8", "replace")),
]
lines = {}
for line in open(out, encoding="utf-8"):
    index, rest = line.rstrip("\n").split(" ", 1)
    lines[int(index)] = rest
ok = True
for i, (status, url, text) in enumerate(want):
    expect = "%d %s\t%s" % (status, url, esc(text[:100]))
    if lines.get(i) != expect:
        print("line %d:\n  got    %r\n  wanted %r" % (i, lines.get(i), expect))
        ok = False
if not lines.get(8, "").startswith("0 http://127.0.0.1:%s/\terror: connect_refused " % refused):
    print("line 8: %r" % lines.get(8))
    ok = False
sys.exit(0 if ok else 1)
EOF
check "first_chars: each line is the page's text[:100], as Python decodes it" python3 \
    "$T_DIR/chars.py" "$T_DIR/chars.out" "$T_DIR" \
    "$SALVO_ROOT/tests/fixtures/http1/body_latin1.http" "$C" "$Y" "$refused"
# 100 GiB could not be read within the example's 30 s deadline: the text came because
# the transfer was stopped once it had enough.
check_le "first_chars: a 100 GiB page is stopped after its first characters (loose bound)" \
    "$el" 10
check_eq "first_chars: no URL, exit 2" 2 "$("$EX/first_chars" >/dev/null 2>&1; echo $?)"

finish
