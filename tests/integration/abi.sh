#!/usr/bin/env bash
# Programs built against salvo 0.1.0 keep working with the libsalvo.so.0 of this tree.
# tests/abi/old_client.c, compiled against the frozen 0.1.0 header and linked
# dynamically, runs against the test server through the shared library built here: its
# requests (methods, headers, bodies, pins, a size cap, a cancel) must give the results
# they gave in 0.1.0, and no struct of the library may have grown under it.
. "$(dirname "$0")/../lib.sh"
OLD=$SALVO_BUILD/abi/old_client
start_testd abi || exit 1
sha() { printf "$@" | sha256sum | cut -d' ' -f1; }

check "the frozen header is the 0.1.0 one" \
    grep -q '^#define SALVO_VERSION "0.1.0"$' "$SALVO_ROOT/tests/abi/salvo-0.1.0.h"
check "old_client needs libsalvo.so.0, by its SONAME" \
    bash -c "readelf -d '$OLD' | grep -q 'NEEDED.*\[libsalvo.so.0\]'"
check_eq "old_client holds no copy of the library" 0 \
    "$(nm "$OLD" | grep -cE ' [TtDdBb] salvo_')"
check "the loader takes libsalvo.so.0 from this build" \
    bash -c "LD_LIBRARY_PATH='$SALVO_BUILD' ldd '$OLD' | grep -qF 'libsalvo.so.0 => $SALVO_BUILD/libsalvo.so.0'"

# Every symbol bound at start, so that a function gone from the library fails here and
# not halfway through the run.
LD_LIBRARY_PATH=$SALVO_BUILD LD_BIND_NOW=1 "$OLD" "$TESTD_PORT" >"$T_DIR/out" 2>"$T_DIR/err"
rc=$?
check_eq "old_client: exit 0, none of its own checks failed" "0 " "$rc $(cat "$T_DIR/err")"

# INDEX STATUS ERROR OK BYTES ATTEMPTS LOG_LEN SHA256, in index order.
check_eq "GET / through a --resolve pin, hashed, with an attempt log" \
    "0 200 ok 1 6 1 1 $(sha 'hello\n')" "$(grep '^0 ' "$T_DIR/out")"
check_eq "the config's user_agent is sent" \
    "1 200 ok 1 17 1 1 $(sha 'old-client/0.1.0\n')" "$(grep '^1 ' "$T_DIR/out")"
check_eq "POST with a 23-byte body: the server sees Content-Length 23" \
    "2 200 ok 1 3 1 1 $(sha '23\n')" "$(grep '^2 ' "$T_DIR/out")"
check_eq "PUT with two headers and a body: the header arrives" \
    "3 200 ok 1 7 1 1 $(sha 'frozen\n')" "$(grep '^3 ' "$T_DIR/out")"
check_eq "HEAD: a length and no body" "4 200 ok 1 0 1 1 $(sha '')" "$(grep '^4 ' "$T_DIR/out")"
check_eq "max_filesize 1000 cuts a 5000-byte body: too_large" \
    "5 200 too_large 0 1000 1 1 -" "$(grep '^5 ' "$T_DIR/out")"
check_eq "a 404 is a whole response, not ok" \
    "6 404 ok 0 11 1 1 $(sha 'status 404\n')" "$(grep '^6 ' "$T_DIR/out")"
check_eq "a URL that does not parse: bad_url, no attempt" "7 0 bad_url 0 0 0 0 -" \
    "$(grep '^7 ' "$T_DIR/out")"
check_eq "no other result" 8 "$(grep -cE '^[0-9]+ ' "$T_DIR/out")"
check_eq "salvo_stats through the 0.1.0 struct" \
    "stats submitted=8 completed=8 attempts=7 concurrency=3" "$(grep '^stats ' "$T_DIR/out")"
check_eq "salvo_cancel from a callback: the slow request ends cancelled" \
    "cancel calls=2 slow=cancelled" "$(grep '^cancel ' "$T_DIR/out")"

finish
