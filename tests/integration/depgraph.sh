#!/usr/bin/env bash
# Dependencies between libsalvo's object files flow one way: no two files depend on each
# other, directly or around a circle, and no file depends on a layer above its own.
# tests/depgraph.py reads the symbols of $SALVO_BUILD/obj/*.o with nm and prints the
# graph; this script first checks the checker on small objects built here with a known
# cycle, then checks the library.
. "$(dirname "$0")/../lib.sh"
DEPGRAPH=$SALVO_ROOT/tests/depgraph.py
CC=${CC:-cc}

# ---- the checker, on objects whose graph is known ---------------------------------------
# salvo and request depend on each other (a call one way, a data reference the other),
# so request and loop (a call) both reach up into salvo, buf stands alone, url.c has no object and garbage.o is no
# object file at all.
fake=$T_DIR/fake
mkdir -p "$fake/src" "$fake/build/obj"
printf '%s\n' 'int request_y(void);' 'int salvo_flag = 1;' \
    'int salvo_x(void) { return request_y(); }' >"$fake/src/salvo.c"
printf '%s\n' 'extern int salvo_flag;' 'int request_y(void) { return salvo_flag; }' \
    >"$fake/src/request.c"
printf '%s\n' 'int salvo_x(void);' 'int loop_z(void) { return salvo_x(); }' >"$fake/src/loop.c"
printf '%s\n' 'static int n;' 'int buf_w(void) { return ++n; }' >"$fake/src/buf.c"
printf '%s\n' 'int url_v(void) { return 0; }' >"$fake/src/url.c"
built=yes
for m in salvo request loop buf; do
    "$CC" -c -o "$fake/build/obj/$m.o" "$fake/src/$m.c" 2>>"$T_DIR/fake.cc.log" || built=no
done
echo "not an object file" >"$fake/build/obj/garbage.o"
check_eq "small objects with a known graph build" yes "$built"

out=$(SALVO_ROOT=$fake python3 "$DEPGRAPH" "$fake/build" 2>&1)
rc=$?
check_eq "the checker fails on them" 1 "$rc"
expected="buf ->
loop -> salvo
request -> salvo
salvo -> request"
check_eq "the checker draws their graph, data references included" "$expected" \
    "$(grep -E '^[a-z_0-9]+ ->' <<<"$out")"
check_eq "the checker names their cycle" "cycle: request salvo" "$(grep '^cycle:' <<<"$out")"
check_eq "the checker names the edges that go up a layer" \
    "upward: loop -> salvo (base, api above it): salvo_x
upward: request -> salvo (core, api above it): salvo_flag" "$(grep '^upward:' <<<"$out")"
check_eq "the checker names the source with no object" "no-object: src/url.c" \
    "$(grep '^no-object:' <<<"$out")"
check_eq "the checker names the object nm cannot read" "$fake/build/obj/garbage.o" \
    "$(sed -n 's/^unread: \([^:]*\):.*/\1/p' <<<"$out")"

# ---- the library ----------------------------------------------------------------------
out=$(python3 "$DEPGRAPH" "$SALVO_BUILD" 2>&1)
rc=$?
graph=$(grep -E '^[a-z_0-9]+ ->' <<<"$out")
echo "$graph"
problems=$(grep -E '^(unread|no-object|cycle|unplaced|upward):' <<<"$out")
check_eq "the checker's exit status agrees with what it found" \
    "$([ -n "$problems" ] && echo 1 || echo 0)" "$rc"

objects=$(for o in "$SALVO_BUILD"/obj/*.o; do [ -f "$o" ] && basename "$o" .o; done | sort)
nodes=$(sed 's/ ->.*//' <<<"$graph" | sort)
missing=$(grep -E '^(unread|no-object):' <<<"$out")
if [ -n "$objects" ] && [ "$objects" == "$nodes" ] && [ -z "$missing" ]; then
    ok "no object file is missing from the graph"
else
    not_ok "no object file is missing from the graph" "$missing" \
        "objects: $(tr '\n' ' ' <<<"$objects")" "graph:   $(tr '\n' ' ' <<<"$nodes")"
fi

cycles=$(grep '^cycle:' <<<"$out")
if [ -z "$cycles" ] && [ -n "$graph" ]; then
    ok "no dependency cycle between the library's object files"
else
    # The edges inside each cycle, with the symbols that make them.
    inside=$(while read -r _ files; do
        for a in $files; do for b in $files; do
            grep -F "via: $a -> $b: " <<<"$out"
        done; done
    done <<<"$cycles")
    [ -n "$graph" ] || inside=$out # no graph: what the checker said instead
    not_ok "no dependency cycle between the library's object files" "$cycles" "$inside"
fi

unplaced=$(grep '^unplaced:' <<<"$out")
if [ -z "$unplaced" ] && [ -n "$graph" ]; then ok "every object file has a layer"
else not_ok "every object file has a layer" "$unplaced"; fi

upward=$(grep '^upward:' <<<"$out")
if [ -z "$upward" ] && [ -n "$graph" ]; then ok "no dependency goes up the layer order"
else not_ok "no dependency goes up the layer order" "$upward"; fi

finish
