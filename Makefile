# weir - YARA rules over many concurrent chunked streams.  Plain GNU make;
# every dependency comes from pkg-config.  `make help` lists the targets.

VERSION    := $(shell sed -n 's/^\#define WEIR_VERSION_STRING "\(.*\)"/\1/p' include/weir.h)
SOMAJOR    := $(shell sed -n 's/^\#define WEIR_VERSION_MAJOR \([0-9]*\)/\1/p' include/weir.h)
SONAME     := libweir.so.$(SOMAJOR)

CC         ?= cc
PKG_CONFIG ?= pkg-config
CLANG_FORMAT ?= clang-format
CLANG_TIDY ?= clang-tidy
CPPCHECK   ?= cppcheck
PREFIX     ?= /usr/local
DESTDIR    ?=
LIBDIR     ?= $(PREFIX)/lib
INCLUDEDIR ?= $(PREFIX)/include
BINDIR     ?= $(PREFIX)/bin
MANDIR     ?= $(PREFIX)/share/man

DEPS_PC    := libhs lmdb
DEP_CFLAGS := $(shell $(PKG_CONFIG) --cflags $(DEPS_PC) 2>/dev/null)
DEP_LIBS   := $(shell $(PKG_CONFIG) --libs $(DEPS_PC) 2>/dev/null)

CFLAGS     ?= -O2 -g
WARNINGS   := -std=c11 -Wall -Wextra -Werror
ALL_CFLAGS := $(WARNINGS) $(CFLAGS) -Iinclude -Isrc $(DEP_CFLAGS)
LIB_CFLAGS := $(ALL_CFLAGS) -fPIC -fvisibility=hidden
LDLIBS     := $(DEP_LIBS) -lm -pthread

# Sanitized builds of the library and tests, one directory per flavour.
SAN_asan   := -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
SAN_ubsan  := -fsanitize=undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
SAN_DIR_asan  := build/san
SAN_DIR_ubsan := build/ubsan

# Debian packages `make demo` and `make test` need.
DEB_DEPS   := gcc make pkg-config libvectorscan-dev liblmdb-dev yara python3

SRCS       := $(wildcard src/*.c)
OBJS       := $(SRCS:src/%.c=build/obj/%.o)
TESTS      := $(wildcard tests/test_*.c)
BENCHES    := $(wildcard bench/*.c)
TOOL_SRCS  := tools/weir.c tools/perf.c
EXAMPLES   := build/examples/stream

.PHONY: all help deps test asan ubsan tsan valgrind lint lint-all lint-cppcheck lint-comments demo bench \
        compat fuzz fuzz-deps install uninstall clean format format-check build/weir.pc
.SECONDARY:

all: build/libweir.a build/$(SONAME) build/weir $(EXAMPLES)

help:
	@echo "targets: all test demo asan ubsan tsan valgrind lint bench compat fuzz install clean" \
	  "format format-check deps"

build/obj/%.o: src/%.c $(wildcard src/*.h) include/weir.h
	@mkdir -p $(@D)
	$(CC) $(LIB_CFLAGS) -c $< -o $@

build/libweir.a: $(OBJS)
	@rm -f $@
	ar rcs $@ $^

build/$(SONAME): $(OBJS)
	$(CC) -shared -Wl,-soname,$(SONAME) $(CFLAGS) -o $@ $^ $(LDLIBS)
	ln -sf $(SONAME) build/libweir.so

build/weir: $(TOOL_SRCS) tools/cli.h include/weir.h build/libweir.a
	$(CC) $(ALL_CFLAGS) -o $@ $(TOOL_SRCS) build/libweir.a $(LDLIBS)

build/examples/%: examples/%.c include/weir.h build/libweir.a
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -o $@ $< build/libweir.a $(LDLIBS)

build/bench/%: bench/%.c include/weir.h $(wildcard src/*.h) build/libweir.a
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -o $@ $< build/libweir.a $(LDLIBS)

# Builds a flavour (-k: one broken test still leaves the others to run), then
# runs every suite; tests/run_all.sh counts a test that did not build as failed.
# The sweep over the public rule corpus runs the plain build/weir: sanitized, the
# thousand compilations take 4 minutes (`WEIR=build/san/weir tests/test_corpus.sh`).
define RUN_SUITES
-@$(MAKE) -s --no-print-directory -k build-$(1) build/$(SONAME) build/weir
@tests/run_all.sh $(SAN_DIR_$(1)) $(SAN_DIR_$(1))/weir build/$(SONAME) build/weir
endef

# One sanitized flavour: objects, test programs and a weir binary under $(SAN_DIR_x).
define SANITIZED
OBJS_$(1) := $$(SRCS:src/%.c=$$(SAN_DIR_$(1))/obj/%.o)

$$(SAN_DIR_$(1))/obj/%.o: src/%.c $$(wildcard src/*.h) include/weir.h
	@mkdir -p $$(@D)
	$$(CC) $$(ALL_CFLAGS) -O1 $$(SAN_$(1)) -c $$< -o $$@

$$(SAN_DIR_$(1))/test_%: tests/test_%.c $$(wildcard tests/*.h src/*.h) $$(OBJS_$(1))
	$$(CC) $$(ALL_CFLAGS) -O1 $$(SAN_$(1)) -o $$@ $$< $$(OBJS_$(1)) $$(LDLIBS)

$$(SAN_DIR_$(1))/weir: $$(TOOL_SRCS) tools/cli.h include/weir.h $$(OBJS_$(1))
	$$(CC) $$(ALL_CFLAGS) -O1 $$(SAN_$(1)) -o $$@ $$(TOOL_SRCS) $$(OBJS_$(1)) $$(LDLIBS)

build-$(1): $$(TESTS:tests/%.c=$$(SAN_DIR_$(1))/%) $$(SAN_DIR_$(1))/weir

$(1):
	$$(call RUN_SUITES,$(1))
.PHONY: build-$(1)
endef
$(eval $(call SANITIZED,asan))
$(eval $(call SANITIZED,ubsan))

# ThreadSanitizer: the library and tests/test_threads.c (one rule set shared by threads).
TSAN_DIR   := build/tsan
TSAN_FLAGS := -O1 -g -fsanitize=thread

$(TSAN_DIR)/obj/%.o: src/%.c $(wildcard src/*.h) include/weir.h
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) $(TSAN_FLAGS) -c $< -o $@

$(TSAN_DIR)/test_threads: tests/test_threads.c $(wildcard tests/*.h) $(SRCS:src/%.c=$(TSAN_DIR)/obj/%.o)
	$(CC) $(ALL_CFLAGS) $(TSAN_FLAGS) -o $@ $< $(filter %.o,$^) $(LDLIBS)

tsan:
	@$(MAKE) -s --no-print-directory $(TSAN_DIR)/test_threads
	TSAN_OPTIONS=halt_on_error=1 $(TSAN_DIR)/test_threads

# valgrind memcheck: a plain build of weir (-O1 -g, no sanitizer) under tests/test_cli.sh, each
# command run by scripts/valgrind-weir; any valgrind report fails (tests/valgrind.sh).
VG_DIR     := build/valgrind

$(VG_DIR)/obj/%.o: src/%.c $(wildcard src/*.h) include/weir.h
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -O1 -g -c $< -o $@

$(VG_DIR)/weir: $(TOOL_SRCS) tools/cli.h include/weir.h $(SRCS:src/%.c=$(VG_DIR)/obj/%.o)
	$(CC) $(ALL_CFLAGS) -O1 -g -o $@ $(TOOL_SRCS) $(filter %.o,$^) $(LDLIBS)

valgrind:
	@$(MAKE) -s --no-print-directory $(VG_DIR)/weir
	@tests/valgrind.sh $(VG_DIR)/weir

# Static analysis with the build's flags: clang-tidy (checks in .clang-tidy) on each file
# beside one cppcheck over all (suppressions in .cppcheck-suppressions), LINT_JOBS at a time.
# Any finding fails; so does a NOLINT or cppcheck-suppress without a reason.
LINT_JOBS  ?= 2
LINT_FLAGS := -std=c11 -Iinclude -Isrc $(DEP_CFLAGS)
TIDY_SRCS  := $(wildcard src/*.c tools/*.c examples/*.c bench/*.c fuzz/*.c)
CPPCHECK_DIRS := src tools tests examples bench fuzz

lint:
	@$(MAKE) -s --no-print-directory -k -j$(LINT_JOBS) --output-sync=target lint-all
	@echo "lint: clang-tidy ($(words $(TIDY_SRCS)) files) and cppcheck found nothing"

lint-all: lint-comments lint-cppcheck $(TIDY_SRCS:%=build/lint/%)

build/lint/%: %
	@out=$$($(CLANG_TIDY) --quiet $< -- $(LINT_FLAGS) 2>&1) || { \
	  printf '%s\n' "$$out" | grep -v 'warnings\? generated\.$$'; exit 1; }

lint-cppcheck:
	@$(CPPCHECK) --quiet --std=c11 --enable=warning,style,performance,portability \
	  --inline-suppr --suppressions-list=.cppcheck-suppressions --error-exitcode=1 \
	  --template='{file}:{line}:{column}: {severity}: {message} [{id}]' \
	  $(filter -I% -D%,$(LINT_FLAGS)) $(CPPCHECK_DIRS)

lint-comments:
	@! grep -nE 'NOLINT[A-Z]*(\([^)]*\))?( *\*/|$$)|cppcheck-suppress[^;]*($$|\*/)' \
	  $(FORMAT_FILES) || { echo "lint: a suppression above has no reason"; exit 1; }

# Checks the Debian packages; installs them as root, else says how.
deps:
	@scripts/deps.sh $(DEB_DEPS)

# Every test under ASan+UBSan, then the CLI tests; ends with "N passed, N failed".
# `make asan` is the same without the package check; `make ubsan` uses UBSan alone.
test: deps
	$(call RUN_SUITES,asan)

demo: deps
	@$(MAKE) -s --no-print-directory all
	@echo
	@echo '$$ build/weir scan -g -r examples/rules/auth.yar examples/logs/*.log'
	@build/weir scan -g -r examples/rules/auth.yar examples/logs/*.log
	@echo
	@echo '$$ build/weir scan --json -r examples/rules/auth.yar examples/logs/sshd.log'
	@build/weir scan --json -r examples/rules/auth.yar examples/logs/sshd.log

# Every benchmark in name order (bench, then scale); arguments for one go in BENCH_ARGS_<name>,
# e.g. `make bench BENCH_ARGS_scale="--streams 100000"` (bench/README.md).
bench: all $(BENCHES:bench/%.c=build/bench/%)
	@if [ -z "$(BENCHES)" ]; then echo "bench: no benchmarks in bench/ yet"; fi
	@set -e; $(foreach b,$(sort $(BENCHES:bench/%.c=%)),\
	  echo "== build/bench/$(b) $(BENCH_ARGS_$(b))"; build/bench/$(b) $(BENCH_ARGS_$(b));)

# weir against yara on public rule sets and logcheck-derived rules (bench/README.md).
compat: all
	bench/compat.sh

# libFuzzer harnesses (fuzz/), built with clang against a clang build of the library under
# ASan+UBSan; `make fuzz FUZZ_SECONDS=N` runs each for N seconds (fuzz/run.sh).
FUZZ_CC      ?= clang
FUZZ_SECONDS ?= 60
FUZZ_SAN     := -fsanitize=address,undefined -fno-sanitize-recover=undefined
FUZZERS      := $(patsubst fuzz/%.c,build/fuzz/%,$(wildcard fuzz/fuzz_*.c))

build/fuzz/obj/%.o: src/%.c $(wildcard src/*.h) include/weir.h
	@mkdir -p $(@D)
	$(FUZZ_CC) $(WARNINGS) -g -O1 -fsanitize=fuzzer-no-link $(FUZZ_SAN) -Iinclude -Isrc \
	  $(DEP_CFLAGS) -c $< -o $@

build/fuzz/libweir.a: $(SRCS:src/%.c=build/fuzz/obj/%.o)
	@rm -f $@
	ar rcs $@ $^

build/fuzz/%: fuzz/%.c build/fuzz/libweir.a
	$(FUZZ_CC) $(WARNINGS) -g -O1 -fsanitize=fuzzer $(FUZZ_SAN) -Iinclude $< build/fuzz/libweir.a \
	  $(LDLIBS) -o $@

fuzz-deps:
	@scripts/deps.sh clang libclang-rt-14-dev

fuzz: deps fuzz-deps all $(FUZZERS)
	fuzz/run.sh $(FUZZ_SECONDS)

build/weir.pc: include/weir.h Makefile
	@mkdir -p $(@D)
	printf '%s\n' 'prefix=$(PREFIX)' 'libdir=$(LIBDIR:$(PREFIX)%=$${prefix}%)' \
	  'includedir=$(INCLUDEDIR:$(PREFIX)%=$${prefix}%)' '' \
	  'Name: weir' 'Description: YARA rules over many concurrent chunked streams' \
	  'Version: $(VERSION)' 'Requires.private: $(DEPS_PC)' \
	  'Libs: -L$${libdir} -lweir' 'Libs.private: -lm -pthread' \
	  'Cflags: -I$${includedir}' > $@

install: all build/weir.pc
	install -d $(DESTDIR)$(INCLUDEDIR) $(DESTDIR)$(LIBDIR)/pkgconfig $(DESTDIR)$(BINDIR) \
	  $(DESTDIR)$(MANDIR)/man1
	install -m 644 include/weir.h $(DESTDIR)$(INCLUDEDIR)/
	install -m 644 build/libweir.a $(DESTDIR)$(LIBDIR)/
	install -m 755 build/$(SONAME) $(DESTDIR)$(LIBDIR)/
	ln -sf $(SONAME) $(DESTDIR)$(LIBDIR)/libweir.so
	install -m 644 build/weir.pc $(DESTDIR)$(LIBDIR)/pkgconfig/
	install -m 755 build/weir $(DESTDIR)$(BINDIR)/
	install -m 644 docs/weir.1 $(DESTDIR)$(MANDIR)/man1/

uninstall:
	rm -f $(DESTDIR)$(INCLUDEDIR)/weir.h $(DESTDIR)$(LIBDIR)/libweir.a \
	  $(DESTDIR)$(LIBDIR)/$(SONAME) $(DESTDIR)$(LIBDIR)/libweir.so \
	  $(DESTDIR)$(LIBDIR)/pkgconfig/weir.pc $(DESTDIR)$(BINDIR)/weir $(DESTDIR)$(MANDIR)/man1/weir.1

FORMAT_FILES = $(wildcard src/*.[ch] tools/*.[ch] tests/*.[ch] include/*.h examples/*.c bench/*.c fuzz/*.c)

format:
	$(CLANG_FORMAT) -i $(FORMAT_FILES)

format-check:
	$(CLANG_FORMAT) --dry-run -Werror $(FORMAT_FILES)

clean:
	rm -rf build
