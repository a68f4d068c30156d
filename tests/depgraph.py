#!/usr/bin/env python3
"""The dependency graph of libsalvo's object files, from their symbols.

    tests/depgraph.py [BUILD_DIR]        (default: $SALVO_BUILD, else build/)

A file depends on another when it has an undefined symbol (a function it calls, data it
reads or writes) that the other one defines. Headers and their static inline functions
do not count: only what the linker has to resolve between object files. The objects are
BUILD_DIR/obj/*.o, the library's own (llhttp's in obj/llhttp/ and the command's in
obj/cli/ are not read). Prints, one line each:

    request -> buf conn dns ...        the graph, one line per file (every file, even
                                       one that depends on nothing)
    via: A -> B: sym1 sym2 ...         the symbols behind each edge
    unread: FILE: REASON               an object file nm could not read
    no-object: src/X.c                 a library source with no object in the build
    cycle: a b c                       files that depend on each other, in a circle
                                       (a strongly connected component of more than one
                                       file); one line per component
    unplaced: X                        a file that LAYERS below does not place
    upward: A -> B (A's layer, B's layer above it): symbols
                                       an edge that goes up the layer order

Exit status: 0 when nothing but graph lines were printed, 1 otherwise.
Standard library only; nm comes from binutils ($NM overrides it).
"""

import glob
import os
import subprocess
import sys

# The layer order, top first. A file may depend on files of its own layer or of layers
# below it, never above: the public API drives the engine, the engine's drivers run the
# core, the core uses services, services use connections, connections use transports
# and parsers, and everything may use the loop. Files that depend on each other within
# a layer are still a cycle. Names that do not exist (yet) are harmless here.
LAYERS = [
    ("api", ["salvo"]),
    ("drivers", ["drive", "blocking"]),
    ("core", ["request", "limiter"]),
    ("services", ["pool", "dns", "race", "record", "redirect", "retry", "result", "trace", "proxy"]),
    ("connections", ["conn", "http1", "http1_body", "http1_request"]),
    (
        "transports",
        ["tcp", "tls_transport", "tunnel", "tls", "chunked", "decode", "dns_cache", "url", "sock"],
    ),
    ("base", ["loop", "timer_heap", "buf", "base64"]),
]

# nm's global symbol types: U (and w/v, weak) are references, the rest are definitions.
UNDEFINED = set("Uwv")


def read_symbols(nm, path):
    """(defined, undefined) global symbol sets of one object file, or an error string."""
    try:
        p = subprocess.run(
            [nm, "-P", "-g", path], capture_output=True, text=True, timeout=60, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as e:
        return str(e)
    if p.returncode != 0:
        return (p.stderr.strip() or "nm exited with status %d" % p.returncode).splitlines()[0]
    defined, undefined = set(), set()
    for line in p.stdout.splitlines():
        fields = line.split()
        if len(fields) < 2:
            continue
        name, kind = fields[0], fields[1]
        if kind in UNDEFINED:
            undefined.add(name)
        elif kind.isupper() or kind in "iu":
            defined.add(name)
    return defined, undefined


def strongly_connected(nodes, edges):
    """Tarjan's algorithm: the components of the graph, each a sorted list."""
    index, low, on_stack, stack, out = {}, {}, set(), [], []
    counter = [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in sorted(edges[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            out.append(sorted(comp))

    for v in sorted(nodes):
        if v not in index:
            visit(v)
    return out


def main(argv):
    here = os.path.dirname(os.path.abspath(__file__))
    root = os.environ.get("SALVO_ROOT") or os.path.dirname(here)
    build = (
        argv[1]
        if len(argv) > 1
        else os.environ.get("SALVO_BUILD") or os.path.join(root, "build")
    )
    nm = os.environ.get("NM", "nm")
    problems = 0

    objects = sorted(glob.glob(os.path.join(build, "obj", "*.o")))
    names = [os.path.basename(o)[:-2] for o in objects]
    sources = sorted(glob.glob(os.path.join(root, "src", "*.c")))
    for src in sources:
        stem = os.path.basename(src)[:-2]
        if stem not in names:
            print("no-object: src/%s.c" % stem)
            problems += 1
    if not objects:
        print("unread: %s: no object file" % os.path.join(build, "obj", "*.o"))
        return 1

    defined, undefined = {}, {}
    for path, name in zip(objects, names):
        syms = read_symbols(nm, path)
        if isinstance(syms, str):
            print("unread: %s: %s" % (path, syms))
            problems += 1
            continue
        defined[name], undefined[name] = syms

    definers = {}
    for name, syms in defined.items():
        for s in syms:
            definers.setdefault(s, set()).add(name)
    nodes = sorted(defined)
    edges = {v: set() for v in nodes}
    via = {}
    for a in nodes:
        for s in undefined[a]:
            for b in definers.get(s, ()):
                if b != a:
                    edges[a].add(b)
                    via.setdefault((a, b), set()).add(s)

    for a in nodes:
        print(("%s -> %s" % (a, " ".join(sorted(edges[a])))).rstrip())
    for a, b in sorted(via):
        print("via: %s -> %s: %s" % (a, b, " ".join(sorted(via[(a, b)]))))

    for comp in strongly_connected(nodes, edges):
        if len(comp) > 1:
            print("cycle: %s" % " ".join(comp))
            problems += 1

    rank = {}
    for i, (layer, members) in enumerate(LAYERS):
        for m in members:
            rank[m] = (i, layer)
    for a in nodes:
        if a not in rank:
            print("unplaced: %s" % a)
            problems += 1
    for a, b in sorted(via):
        if a in rank and b in rank and rank[b][0] < rank[a][0]:
            print(
                "upward: %s -> %s (%s, %s above it): %s"
                % (a, b, rank[a][1], rank[b][1], " ".join(sorted(via[(a, b)])))
            )
            problems += 1
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
