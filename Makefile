# salvo -- build, test and install. GNU make only; no other build system.
#
#   make            build/salvo, build/libsalvo.a, build/libsalvo.so
#   make test       install missing Debian packages, build, run every test
#   make examples   the example programs of examples/, in build/examples/
#   make sanitize   the same suite built with ASan + UBSan (in build-san/)
#   make tsan       engines in threads under ThreadSanitizer (in build-tsan/)
#   make deps       install missing Debian packages (as root), or print the command
#   make install    PREFIX=/usr/local DESTDIR=
#   make clean

PREFIX ?= /usr/local
DESTDIR ?=
B ?= build

CC ?= cc
PKGS := libcares openssl zlib
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS = $(shell pkg-config --libs $(PKGS) 2>/dev/null)

OPT ?= -O2 -g
SAN ?=
WARN := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes
BASE_CFLAGS := -std=gnu11 $(OPT) $(SAN) -fPIC -fvisibility=hidden -D_GNU_SOURCE
LLHTTP_DIR := third_party/llhttp
CFLAGS_LIB = $(BASE_CFLAGS) $(WARN) -Iinclude -Isrc -I$(LLHTTP_DIR) $(PKG_CFLAGS)
# The CLI sees only the public header (and its own): it is a client of libsalvo.
CFLAGS_CLI = $(BASE_CFLAGS) $(WARN) -Iinclude -Isrc/cli
LDLIBS = $(PKG_LIBS) -lm

SONAME := libsalvo.so.0
VERSION := $(shell sed -n 's/^\#define SALVO_VERSION "\(.*\)"/\1/p' include/salvo.h)

LIB_SRCS := $(wildcard src/*.c)
CLI_SRCS := $(wildcard src/cli/*.c)
LLHTTP_SRCS := $(LLHTTP_DIR)/api.c $(LLHTTP_DIR)/http.c $(LLHTTP_DIR)/llhttp.c
LIB_OBJS := $(LIB_SRCS:src/%.c=$(B)/obj/%.o) $(LLHTTP_SRCS:$(LLHTTP_DIR)/%.c=$(B)/obj/llhttp/%.o)
CLI_OBJS := $(CLI_SRCS:src/cli/%.c=$(B)/obj/cli/%.o)
CLI_LIB_OBJS := $(filter-out $(B)/obj/cli/main.o,$(CLI_OBJS))

UNIT_SRCS := $(wildcard tests/unit/test_*.c)
UNIT_BINS := $(UNIT_SRCS:tests/unit/%.c=$(B)/tests/%)
API_SRCS := $(wildcard tests/api/test_*.c)
API_BINS := $(API_SRCS:tests/api/%.c=$(B)/tests/api_%)
TESTD_SRCS := $(wildcard tests/server/*.c)
EXAMPLE_SRCS := $(wildcard examples/*.c)
EXAMPLE_BINS := $(EXAMPLE_SRCS:examples/%.c=$(B)/examples/%)

DEPS_PKGS := build-essential pkg-config libssl-dev libc-ares-dev zlib1g-dev node-llhttp curl time \
             python3 libcmocka-dev dnsmasq jq openssl procps gnuplot-nox nginx \
             libnginx-mod-http-echo wrk valgrind strace prometheus tmux mandoc parallel \
             tinyproxy microsocks stunnel4 python3-requests python3-aiohttp

.PHONY: all deps test sanitize clean install check-deps test-bins demo bench soak fuzz fuzz-run fuzz-merge tsan format \
        examples
all: $(B)/salvo $(B)/libsalvo.a $(B)/libsalvo.so

# ---- dependencies ---------------------------------------------------------------------
deps:
	@missing=$$(for p in $(DEPS_PKGS); do \
	    dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q 'install ok installed' || echo $$p; \
	done); \
	if [ -z "$$missing" ]; then echo "deps: all installed"; exit 0; fi; \
	echo "deps: missing:" $$missing; \
	if [ "$$(id -u)" = 0 ]; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	else \
	    echo "deps: run as root: apt-get update && apt-get install -y $$missing"; exit 1; \
	fi

# llhttp's C sources come from Debian's node-llhttp; they are copied, never committed.
# Kept once copied: make would otherwise delete them as intermediate files after each
# build, under the feet of another build running beside it.
.SECONDARY: $(LLHTTP_SRCS) $(LLHTTP_DIR)/llhttp.h
$(LLHTTP_DIR)/%.c: /usr/share/llhttp/%.c
	@mkdir -p $(LLHTTP_DIR)
	cp $< $@
$(LLHTTP_DIR)/llhttp.h: /usr/share/include/llhttp/llhttp.h
	@mkdir -p $(LLHTTP_DIR)
	cp $< $@

# ---- library and CLI ------------------------------------------------------------------
$(B)/obj/%.o: src/%.c $(LLHTTP_DIR)/llhttp.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_LIB) -MMD -MP -c $< -o $@

$(B)/obj/cli/%.o: src/cli/%.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_CLI) -MMD -MP -c $< -o $@

# Generated code: it trips -Wunused-parameter, so it gets its own, quieter flags.
$(B)/obj/llhttp/%.o: $(LLHTTP_DIR)/%.c $(LLHTTP_DIR)/llhttp.h
	@mkdir -p $(dir $@)
	$(CC) $(BASE_CFLAGS) -w -I$(LLHTTP_DIR) -c $< -o $@

$(B)/libsalvo.a: $(LIB_OBJS)
	@rm -f $@
	ar rcs $@ $^

$(B)/libsalvo.so: $(LIB_OBJS)
	$(CC) $(SAN) -shared -Wl,-soname,$(SONAME) -o $(B)/$(SONAME) $^ $(LDLIBS)
	ln -sf $(SONAME) $@

$(B)/salvo: $(CLI_OBJS) $(B)/libsalvo.a
	$(CC) $(SAN) -o $@ $(CLI_OBJS) $(B)/libsalvo.a $(LDLIBS)

# ---- tests ----------------------------------------------------------------------------
# Unit tests may reach inside the library and the CLI's own modules (not main.c).
$(B)/tests/test_%: tests/unit/test_%.c $(B)/libsalvo.a $(CLI_LIB_OBJS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_LIB) -Isrc/cli -Wno-missing-prototypes -o $@ $< $(CLI_LIB_OBJS) \
	    $(B)/libsalvo.a $(LDLIBS) -lcmocka

# API tests see only include/salvo.h, like any application.
$(B)/tests/api_%: tests/api/%.c tests/api/peer.h $(B)/libsalvo.a
	@mkdir -p $(dir $@)
	$(CC) $(BASE_CFLAGS) $(WARN) -Wno-missing-prototypes -Iinclude -o $@ $< $(B)/libsalvo.a $(LDLIBS) -lcmocka

$(B)/testd: $(TESTD_SRCS)
	@mkdir -p $(dir $@)
	$(CC) $(BASE_CFLAGS) $(WARN) -Wno-missing-prototypes -o $@ $(TESTD_SRCS) $(shell pkg-config --cflags --libs zlib) -lz

# The examples and the old ABI client are built with the tests, so that they never rot.
test-bins: all $(UNIT_BINS) $(API_BINS) $(B)/testd examples $(B)/abi/old_client \
           $(B)/bench/floor_client

# ---- examples -------------------------------------------------------------------------
# Programs that see only include/salvo.h, as any application does; tests/integration/
# examples.sh runs them.
examples: $(EXAMPLE_BINS)

$(B)/examples/%: examples/%.c include/salvo.h $(B)/libsalvo.a
	@mkdir -p $(dir $@)
	$(CC) $(BASE_CFLAGS) $(WARN) -Iinclude -o $@ $< $(B)/libsalvo.a $(LDLIBS)

# ---- ABI ------------------------------------------------------------------------------
# A program of salvo 0.1.0: built against the frozen copy of the 0.1.0 header in
# tests/abi/ (never -Iinclude) and linked dynamically, so that tests/integration/abi.sh
# runs it against the libsalvo.so.0 of this tree.
$(B)/abi/old_client: tests/abi/old_client.c tests/abi/salvo-0.1.0.h $(B)/libsalvo.so
	@mkdir -p $(dir $@)
	$(CC) $(BASE_CFLAGS) $(WARN) -Itests/abi -o $@ $< -L$(B) -lsalvo

test: deps
	$(MAKE) test-bins
	tests/run.sh $(B)

sanitize: deps
	$(MAKE) B=build-san OPT="-O1 -g -fno-omit-frame-pointer" \
	    SAN="-fsanitize=address,undefined -fno-sanitize-recover=all" test-bins
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1 \
	    tests/run.sh build-san

# make tsan: the threading model (one engine per thread, four at once, 128 KiB stacks)
# under ThreadSanitizer: the library built with -fsanitize=thread in build-tsan/, and
# tests/tsan/engines_threads run against testd over http, then over https (stunnel with
# the test CA's certificate in front of testd).
TSAN_B := build-tsan
tsan: deps
	$(MAKE) all $(B)/testd
	$(MAKE) B=$(TSAN_B) OPT="-O1 -g -fno-omit-frame-pointer" SAN="-fsanitize=thread" \
	    $(TSAN_B)/libsalvo.a
	$(CC) -std=gnu11 -O1 -g -fsanitize=thread -D_GNU_SOURCE $(WARN) -Iinclude -pthread \
	    -o $(TSAN_B)/engines_threads tests/tsan/engines_threads.c $(TSAN_B)/libsalvo.a $(LDLIBS)
	SALVO_BUILD=$(CURDIR)/$(B) tests/tsan/run.sh $(CURDIR)/$(TSAN_B)/engines_threads

demo: deps
	$(MAKE) all $(B)/testd
	bench/demo.sh

# The floor client of bench/scale10k.sh: the same traffic with nothing but the syscalls.
$(B)/bench/floor_client: bench/floor_client.c
	@mkdir -p $(dir $@)
	$(CC) $(BASE_CFLAGS) $(WARN) -Wno-missing-prototypes -o $@ $<

bench: deps
	$(MAKE) all $(B)/testd $(B)/bench/floor_client
	bench/run.sh

# Long runs that do not fit make test's time budget: each script of tests/soak/.
soak: deps
	$(MAKE) all $(B)/testd
	@fail=0; for t in tests/soak/*.sh; do echo "== $$t"; out=$$(bash $$t) || fail=1; \
	    echo "$$out"; ! echo "$$out" | grep -q '^not ok' || fail=1; done; exit $$fail

check-deps:
	@pkg-config --exists $(PKGS) && test -f /usr/share/llhttp/llhttp.c || \
	    { echo "missing dependencies: run 'make deps'"; exit 1; }

# ---- install --------------------------------------------------------------------------
install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/lib $(DESTDIR)$(PREFIX)/include \
	    $(DESTDIR)$(PREFIX)/lib/pkgconfig $(DESTDIR)$(PREFIX)/share/man/man1
	install -m 755 $(B)/salvo $(DESTDIR)$(PREFIX)/bin/salvo
	install -m 644 docs/salvo.1 $(DESTDIR)$(PREFIX)/share/man/man1/salvo.1
	install -m 644 $(B)/libsalvo.a $(DESTDIR)$(PREFIX)/lib/libsalvo.a
	install -m 755 $(B)/$(SONAME) $(DESTDIR)$(PREFIX)/lib/$(SONAME)
	ln -sf $(SONAME) $(DESTDIR)$(PREFIX)/lib/libsalvo.so
	install -m 644 include/salvo.h $(DESTDIR)$(PREFIX)/include/salvo.h
	sed -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@VERSION@|$(VERSION)|g' salvo.pc.in \
	    > $(DESTDIR)$(PREFIX)/lib/pkgconfig/salvo.pc

clean:
	rm -rf build build-san build-fuzz build-tsan $(LLHTTP_DIR)

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

-include $(shell find $(B)/obj -name '*.d' 2>/dev/null)

# ---- fuzzing --------------------------------------------------------------------------
# make fuzz [FUZZ_SECONDS=60]: builds each libFuzzer target with clang (the library
# sources it needs compiled in, with the sanitizers; nothing from build/ is reused) into
# build-fuzz/, then runs each for FUZZ_SECONDS. The seeds in tests/fuzz/corpus/<target>/
# are copied into build-fuzz/corpus/<target>/, which keeps growing from run to run; the
# repository is written only by make fuzz-merge (below). Crash reproducers go to
# build-fuzz/artifacts/<target>/.
FUZZ_SECONDS ?= 60
FUZZ_B := build-fuzz
FUZZ_CC := clang
FUZZ_TARGETS := response url decode chunked json tunnel request redirect
FUZZ_SAN := -fsanitize=address,undefined -fno-sanitize-recover=all
FUZZ_CFLAGS = -std=gnu11 -g -O1 $(FUZZ_SAN) -D_GNU_SOURCE -Wall -Wextra -Iinclude -Isrc -Isrc/cli \
              -I$(LLHTTP_DIR) $(PKG_CFLAGS)
FUZZ_SRCS_response := src/http1.c src/http1_body.c src/chunked.c src/buf.c src/decode.c
FUZZ_SRCS_url := src/url.c
FUZZ_SRCS_decode := src/decode.c
FUZZ_SRCS_chunked := src/chunked.c
FUZZ_SRCS_json := src/cli/json.c
FUZZ_SRCS_tunnel := src/tunnel.c src/buf.c
FUZZ_SRCS_request := src/http1_request.c src/buf.c src/url.c
FUZZ_SRCS_redirect := src/redirect.c src/url.c
FUZZ_OBJS_response := $(LLHTTP_SRCS:$(LLHTTP_DIR)/%.c=$(FUZZ_B)/llhttp/%.o)

$(FUZZ_B)/fuzz_response: $(FUZZ_SRCS_response) $(FUZZ_OBJS_response)
$(FUZZ_B)/fuzz_url: $(FUZZ_SRCS_url)
$(FUZZ_B)/fuzz_decode: $(FUZZ_SRCS_decode)
$(FUZZ_B)/fuzz_chunked: $(FUZZ_SRCS_chunked)
$(FUZZ_B)/fuzz_json: $(FUZZ_SRCS_json)
$(FUZZ_B)/fuzz_tunnel: $(FUZZ_SRCS_tunnel)
$(FUZZ_B)/fuzz_request: $(FUZZ_SRCS_request)
$(FUZZ_B)/fuzz_redirect: $(FUZZ_SRCS_redirect)
$(FUZZ_B)/fuzz_%: tests/fuzz/fuzz_%.c $(LLHTTP_DIR)/llhttp.h
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer -o $@ $< $(FUZZ_SRCS_$*) $(FUZZ_OBJS_$*) \
	    $(PKG_LIBS) -lm

# llhttp's generated code trips -Wunused-parameter: quieter flags, as for build/.
$(FUZZ_B)/llhttp/%.o: $(LLHTTP_DIR)/%.c $(LLHTTP_DIR)/llhttp.h
	@mkdir -p $(dir $@)
	$(FUZZ_CC) -std=gnu11 -g -O1 $(FUZZ_SAN) -fsanitize=fuzzer-no-link -w -I$(LLHTTP_DIR) \
	    -c $< -o $@

# clang (libFuzzer) is needed only here, so it is installed only here.
fuzz:
	$(MAKE) deps DEPS_PKGS=clang
	$(MAKE) fuzz-run

fuzz-run: $(FUZZ_TARGETS:%=$(FUZZ_B)/fuzz_%)
	@failed=""; for t in $(FUZZ_TARGETS); do \
	    mkdir -p $(FUZZ_B)/corpus/$$t $(FUZZ_B)/artifacts/$$t; \
	    cp tests/fuzz/corpus/$$t/* $(FUZZ_B)/corpus/$$t/; \
	    echo "fuzz: $$t for $(FUZZ_SECONDS) s"; \
	    $(FUZZ_B)/fuzz_$$t -max_total_time=$(FUZZ_SECONDS) -timeout=10 -rss_limit_mb=2048 \
	        -print_final_stats=1 -artifact_prefix=$(FUZZ_B)/artifacts/$$t/ \
	        $(FUZZ_B)/corpus/$$t 2>$(FUZZ_B)/$$t.log || failed="$$failed $$t"; \
	    grep -E '^(stat::number_of_executed_units|stat::peak_rss_mb|#[0-9]+ +DONE)' \
	        $(FUZZ_B)/$$t.log | sed "s/^/    /"; \
	done; \
	if [ -n "$$failed" ]; then \
	    echo "fuzz: FAILED:$$failed (see $(FUZZ_B)/<target>.log and $(FUZZ_B)/artifacts/)"; \
	    exit 1; \
	fi; echo "fuzz: no crash in $(FUZZ_TARGETS)"

# make fuzz-merge: what the runs found, minimised into the repository's seeds. libFuzzer
# (-set_cover_merge=1, a smaller set than -merge=1) adds an input of build-fuzz/corpus/
# <target>/ to tests/fuzz/corpus/<target>/ only when it covers something the inputs
# already there do not, so the named seeds stay and the corpus grows by few inputs.
fuzz-merge: $(FUZZ_TARGETS:%=$(FUZZ_B)/fuzz_%)
	@for t in $(FUZZ_TARGETS); do \
	    mkdir -p $(FUZZ_B)/corpus/$$t; \
	    $(FUZZ_B)/fuzz_$$t -set_cover_merge=1 -timeout=10 -rss_limit_mb=2048 tests/fuzz/corpus/$$t \
	        $(FUZZ_B)/corpus/$$t 2>$(FUZZ_B)/$$t.merge.log || exit 1; \
	    echo "fuzz-merge: $$t: $$(ls tests/fuzz/corpus/$$t | wc -l) inputs"; \
	done
