# memfab - one Makefile, out-of-tree builds in build/$(VARIANT)/.
#
#   make            build build/release/memfab (optimised; results equal the debug build's)
#   make run        install missing Debian packages, build, run scenarios/default.yaml
#   make test       build (debug, assertions on) and run every Check suite and the
#                   end-to-end tests
#   make asan       the same tests under AddressSanitizer + UBSan
#   make bench      event-core, replay and sweep benchmarks (prints figures, asserts nothing)
#   make install    PREFIX=/usr/local DESTDIR=
#   make fuzz       libFuzzer harnesses of tests/fuzz/ (clang), each run FUZZ_SECONDS
#   VARIANT=debug|release|asan   WERROR=1 adds -Werror (CI sets it)
#   (VARIANT=fuzz is the clang build `make fuzz` makes for itself)

VARIANT ?= release
ifeq ($(filter $(VARIANT),debug release asan fuzz),)
$(error unknown VARIANT '$(VARIANT)': use debug, release or asan)
endif

PREFIX ?= /usr/local
DESTDIR ?=
PKG_CONFIG ?= pkg-config
CC ?= cc
PKGS := gsl sqlite3 yaml-0.1 jansson
DEB_PACKAGES := build-essential pkg-config libgsl-dev libsqlite3-dev libyaml-dev libjansson-dev check gnuplot-nox sqlite3

B := build/$(VARIANT)
WARN := -Wall -Wextra -pedantic -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
        -Wwrite-strings -Wundef -Wno-unused-parameter
ifeq ($(WERROR),1)
WARN += -Werror
endif

CFLAGS_debug := -O1 -g
CFLAGS_release := -O2 -g -DNDEBUG -fno-semantic-interposition
CFLAGS_asan := -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
LDFLAGS_asan := -fsanitize=address,undefined
# libFuzzer: the library is instrumented for coverage, the harnesses link
# the fuzzer's main (clang only).
FUZZ_CC ?= clang
ifeq ($(VARIANT),fuzz)
CC := $(FUZZ_CC)
endif
CFLAGS_fuzz := -O1 -g -fsanitize=fuzzer-no-link,address,undefined -fno-omit-frame-pointer \
               -fno-sanitize-recover=undefined
LDFLAGS_fuzz := -fsanitize=fuzzer,address,undefined

PKG_CFLAGS = $(shell $(PKG_CONFIG) --cflags $(PKGS) 2>/dev/null)
PKG_LIBS = $(shell $(PKG_CONFIG) --libs $(PKGS) 2>/dev/null)
CHECK_CFLAGS = $(shell $(PKG_CONFIG) --cflags check 2>/dev/null)
CHECK_LIBS = $(shell $(PKG_CONFIG) --libs check 2>/dev/null)

CPPFLAGS += -MMD -MP -I. -Isim -D_GNU_SOURCE -DMEMFAB_VERSION='"$(VERSION)"'
CFLAGS += -std=c11 $(WARN) $(CFLAGS_$(VARIANT)) -fPIC $(PKG_CFLAGS)
LDFLAGS += $(LDFLAGS_$(VARIANT)) -rdynamic
LDLIBS += $(PKG_LIBS) -lm -ldl

VERSION := $(shell git describe --always --dirty 2>/dev/null || echo 0.1)

LIB_SRC := $(sort $(wildcard sim/*.c models/*.c models/*/*.c results/*.c) $(filter-out tools/main.c tools/sweep_mpi.c,$(wildcard tools/*.c)))
LIB_OBJ := $(LIB_SRC:%.c=$(B)/%.o) $(B)/gen/schema_sql.o $(B)/gen/step_presets.o
MAIN_OBJ := $(B)/tools/main.o
TEST_SRC := $(sort $(wildcard tests/check_*.c))
TEST_BIN := $(TEST_SRC:tests/%.c=$(B)/tests/%)
PLUGIN_SRC := $(wildcard tests/plugins/*.c)
PLUGIN_SO := $(PLUGIN_SRC:tests/plugins/%.c=$(B)/plugins/%.so)
BIN := $(B)/memfab

# Keep test objects: they are intermediate files of the test programs.
.SECONDARY:

.PHONY: all run test test-only check asan bench install deps clean valgrind valgrind-only regress study fuzz fuzz-build FORCE
all: $(BIN) $(PLUGIN_SO)

$(B)/%.o: %.c
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) -c $< -o $@

# results/schema.sql is compiled into the binary as a C string.
$(B)/gen/schema_sql.c: results/schema.sql
	@mkdir -p $(@D)
	@{ echo '/* generated from results/schema.sql: do not edit */'; \
	   echo 'const char res_schema_sql[] ='; \
	   sed -e 's/\\/\\\\/g' -e 's/"/\\"/g' -e 's/^/"/' -e 's/$$/\\n"/' $<; \
	   echo ';'; } > $@
$(B)/gen/schema_sql.o: $(B)/gen/schema_sql.c
	$(CC) $(CFLAGS) -Wno-overlength-strings -c $< -o $@

# The step-time coefficient presets are compiled in for `memfab presets`:
# path, text, path, text, ..., NULL; of the step tables (CSV), the leading
# comment lines (their source and derivation).
STEP_PRESETS := $(sort $(wildcard scenarios/presets/step-time/*.yaml))
STEP_TABLES := $(sort $(wildcard scenarios/presets/step-time/*.csv))
$(B)/gen/step_presets.c: $(STEP_PRESETS) $(STEP_TABLES) Makefile
	@mkdir -p $(@D)
	@{ echo '/* generated from scenarios/presets/step-time/: do not edit */'; \
	   echo '#include <stddef.h>'; \
	   echo '#include "tools/presets.h"'; \
	   echo 'const char *const memfab_step_presets[] = {'; \
	   for f in $(STEP_PRESETS); do \
	     echo "\"$$f\","; \
	     sed -e 's/\\/\\\\/g' -e 's/"/\\"/g' -e 's/^/"/' -e 's/$$/\\n"/' "$$f"; \
	     echo ','; \
	   done; \
	   echo 'NULL};'; \
	   echo 'const char *const memfab_step_tables[] = {'; \
	   for f in $(STEP_TABLES); do \
	     echo "\"$$f\","; \
	     sed -n -e '/^#/!q' -e 's/\\/\\\\/g' -e 's/"/\\"/g' -e 's/^/"/' -e 's/$$/\\n"/' -e p "$$f"; \
	     echo ','; \
	   done; \
	   echo 'NULL};'; } > $@
$(B)/gen/step_presets.o: $(B)/gen/step_presets.c
	$(CC) $(CPPFLAGS) $(CFLAGS) -Wno-overlength-strings -c $< -o $@

$(B)/libmemfab.a: $(LIB_OBJ)
	@rm -f $@
	$(AR) rcs $@ $^

# MPI sweeps: with mpicc, tools/sweep_mpi.c joins the binary (not the library
# or the tests) and the binary links with mpicc.
MPICC := $(shell command -v mpicc 2>/dev/null)
MPI_OBJ := $(if $(MPICC),$(B)/tools/sweep_mpi.o)
$(B)/tools/sweep_mpi.o: tools/sweep_mpi.c
	@mkdir -p $(@D)
	$(MPICC) $(CPPFLAGS) $(CFLAGS) -c $< -o $@

# What was detected is part of the build: installing (or removing) MPI
# later relinks the binary on the next make.
MPI_STAMP := $(B)/mpi.stamp
$(MPI_STAMP): FORCE
	@mkdir -p $(@D)
	@echo '$(MPICC)' | cmp -s - $@ || echo '$(MPICC)' > $@
FORCE:

$(BIN): $(MAIN_OBJ) $(MPI_OBJ) $(B)/libmemfab.a $(MPI_STAMP)
	$(if $(MPICC),$(MPICC),$(CC)) $(LDFLAGS) $(filter-out $(MPI_STAMP),$^) -o $@ $(LDLIBS)

$(B)/tests/%: $(B)/tests/%.o $(B)/libmemfab.a
	$(CC) $(LDFLAGS) $^ -o $@ $(LDLIBS) $(CHECK_LIBS)
$(B)/tests/%.o: tests/%.c
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(CHECK_CFLAGS) -c $< -o $@

# ---- fuzzing: tests/fuzz/ (see tests/fuzz/fuzz.h) ---------------------------
# One harness per input format; the trace harness is built once per reader.
FUZZ_HARNESSES := scenario trace_mooncake trace_azure trace_burstgpt trace_qwen trace_native \
                  baseline tolerances sweep
fuzz_src = tests/fuzz/fuzz_$(if $(filter trace_%,$(1)),trace,$(1)).c
fuzz_fmt_mooncake := MOONCAKE
fuzz_fmt_azure := AZURE
fuzz_fmt_burstgpt := BURSTGPT
fuzz_fmt_qwen := QWEN
fuzz_fmt_native := NATIVE
fuzz_def = $(if $(filter trace_%,$(1)),-DFUZZ_TRACE_FMT=TRACE_$(fuzz_fmt_$(1:trace_%=%)))
# entry_H.o: the harness with its entry point renamed, for the Check replay
# (tests/check_fuzz.c, any variant); main_H.o: the libFuzzer harness.
define fuzz_rules
$(B)/tests/fuzz/entry_$(1).o: $(call fuzz_src,$(1))
	@mkdir -p $$(@D)
	$$(CC) $$(CPPFLAGS) $$(CFLAGS) $(call fuzz_def,$(1)) -DFUZZ_ENTRY=fuzz_$(1)_one -c $$< -o $$@
$(B)/tests/fuzz/main_$(1).o: $(call fuzz_src,$(1))
	@mkdir -p $$(@D)
	$$(CC) $$(CPPFLAGS) $$(CFLAGS) $(call fuzz_def,$(1)) -c $$< -o $$@
$(B)/fuzz/fuzz_$(1): $(B)/tests/fuzz/main_$(1).o $(B)/tests/fuzz/fuzz_util.o $(B)/libmemfab.a
	@mkdir -p $$(@D)
	$$(CC) $$(LDFLAGS) $$^ -o $$@ $$(LDLIBS)
endef
$(foreach h,$(FUZZ_HARNESSES),$(eval $(call fuzz_rules,$(h))))
FUZZ_ENTRY_OBJ := $(FUZZ_HARNESSES:%=$(B)/tests/fuzz/entry_%.o) $(B)/tests/fuzz/fuzz_util.o
$(B)/tests/check_fuzz: $(B)/tests/check_fuzz.o $(FUZZ_ENTRY_OBJ) $(B)/libmemfab.a
	$(CC) $(LDFLAGS) $^ -o $@ $(LDLIBS) $(CHECK_LIBS)

# make fuzz FUZZ_SECONDS=N: build the harnesses with clang and libFuzzer
# (ASan + UBSan) and run each for N seconds, one after the other, on one
# core; FUZZ_ONLY="sweep baseline" runs some. New inputs go to
# build/fuzz/corpus/H/, crashes to build/fuzz/artifacts/H/ (copy each into
# tests/fuzz/regress/H/ with its fix, so that make test replays it).
FUZZ_SECONDS ?= 60
FUZZ_TIMEOUT ?= 10
FUZZ_RSS_MB ?= 2048
FUZZ_ONLY ?= $(FUZZ_HARNESSES)
fuzz:
	@command -v $(FUZZ_CC) >/dev/null || { echo "make fuzz: $(FUZZ_CC) is needed (apt-get install clang)" >&2; exit 2; }
	@$(MAKE) --no-print-directory VARIANT=fuzz fuzz-build
	@FUZZ_SECONDS=$(FUZZ_SECONDS) FUZZ_TIMEOUT=$(FUZZ_TIMEOUT) FUZZ_RSS_MB=$(FUZZ_RSS_MB) \
	 sh tests/fuzz/run-fuzz.sh build/fuzz $(FUZZ_ONLY)
fuzz-build: $(FUZZ_ONLY:%=$(B)/fuzz/fuzz_%)

$(B)/plugins/%.so: tests/plugins/%.c
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) -shared $< -o $@ $(LDFLAGS_$(VARIANT))

deps:
	@PKGS="$(PKGS) check" DEB_PACKAGES="$(DEB_PACKAGES)" sh tools/install-deps.sh

# make run, make test and make asan build on every core unless -j was given
NPROC := $(shell nproc 2>/dev/null || echo 1)
JOBS_FLAG = $(if $(filter -j%,$(MAKEFLAGS)),,-j$(NPROC))

run: deps
	@$(MAKE) --no-print-directory $(JOBS_FLAG) all
	$(BIN) run scenarios/default.yaml

# Tests find the binary, the plugins and the public traces through the environment.
TRACE_DIR := $(firstword $(wildcard ../shared/traces))
# The suites run on the debug build (assertions, invariant checks) unless a
# variant is given on the command line (make asan, make test VARIANT=release).
TEST_VARIANT = $(if $(filter command line,$(origin VARIANT)),$(VARIANT),debug)
test check: deps
	@$(MAKE) --no-print-directory $(JOBS_FLAG) VARIANT=$(TEST_VARIANT) test-only

TRACE_PATH_ENV = MEMFAB_TRACE_PATH="$(if $(TRACE_DIR),$(abspath $(TRACE_DIR)))$(if $(MEMFAB_TRACE_PATH),:$(MEMFAB_TRACE_PATH))"
TEST_ENV = MEMFAB_BIN=$(abspath $(BIN)) MEMFAB_PLUGIN_DIR=$(abspath $(B)/plugins) \
	 $(TRACE_PATH_ENV) MEMFAB_SRC=$(CURDIR)

test-only: all $(TEST_BIN)
	@$(TEST_ENV) sh tests/run-tests.sh $(TEST_BIN)

asan:
	$(MAKE) VARIANT=asan test

valgrind:
	@$(MAKE) --no-print-directory VARIANT=$(TEST_VARIANT) valgrind-only
valgrind-only: all $(TEST_BIN)
	@command -v valgrind >/dev/null || { echo "make valgrind: valgrind is not installed (apt-get install valgrind)" >&2; exit 2; }
	@for t in $(TEST_BIN); do $(TEST_ENV) CK_FORK=no valgrind -q --error-exitcode=1 --leak-check=full $$t || exit 1; done

# make study: the convergence study (scenarios/study/convergence.yaml) into
# results/study/ (table.md, table.tex, cells.tsv, figures, study.db); a rerun
# resumes. STUDY_JOBS workers (default 2). The README's copy of the table
# (between the study-table markers) is then replaced by results/study/table.md.
STUDY_JOBS ?= 2
study: all
	@MEMFAB_TRACE_PATH="$(if $(TRACE_DIR),$(abspath $(TRACE_DIR)))$(if $(MEMFAB_TRACE_PATH),:$(MEMFAB_TRACE_PATH))" \
	 $(BIN) study scenarios/study/convergence.yaml -j $(STUDY_JOBS)
	@awk -v t=results/study/table.md \
	  '/^<!-- study-table: begin/ { print; while ((getline l < t) > 0) print l; skip = 1; next } \
	   /^<!-- study-table: end/ { skip = 0 } !skip' README.md > README.md.tmp && \
	 mv README.md.tmp README.md && echo "make study: README.md's table is results/study/table.md"

# make regress: run scenarios/regress/ and compare with its committed baselines
# (exit 3 on a regression). UPDATE=1 rewrites the baselines; REGRESS_FORMAT=md
# prints one markdown report for a pull-request comment (verdict first, the
# worst regressions, the rest folded), at most REGRESS_MAX_BYTES (60000).
regress: all
	@$(TRACE_PATH_ENV) \
	 $(if $(REGRESS_MAX_BYTES),REGRESS_MAX_BYTES=$(REGRESS_MAX_BYTES)) \
	 sh scenarios/regress/regress.sh $(abspath $(BIN)) $(if $(UPDATE),--update) \
	 $(if $(REGRESS_FORMAT),--format $(REGRESS_FORMAT))

# Each issue-18 target is printed with its goal; the figures are CPU time
# of one process (cpu_s), so a loaded machine inflates them less than wall.
SCALE_BENCH = build/release/memfab bench replay --scenario scenarios/scale.yaml \
	--set workload.synthetic.requests=200000
bench:
	@$(MAKE) --no-print-directory VARIANT=release all
	@echo '== target 1: the Mooncake hour with KV tiers over the fabric, <= 0.5 s CPU (fluid flows; peer: the 32 MiB chunk model) =='
	$(TRACE_PATH_ENV) build/release/memfab bench replay --scenario scenarios/routing-policies.yaml --set components.fabric.flow_model=fluid --label replay-kv-fluid
	$(TRACE_PATH_ENV) build/release/memfab bench replay --scenario scenarios/routing-policies.yaml --label replay-kv-fabric
	@echo '== target 2: pending-event set: >= 2x a 16-byte binary heap at 10^3, >= 4x at 10^6 and 10^7, <= 24 B per pending event =='
	build/release/memfab bench events
	@echo '== target 3: KV store: <= 64 B per cached block, eviction policy included =='
	build/release/memfab bench kv
	@echo '== target 4: scale: CPU per request (cpu_us/req) independent of the instance count =='
	$(SCALE_BENCH) --set workload.instances.count=16 --set workload.synthetic.rate=32/s --label scale-16
	$(SCALE_BENCH) --set workload.instances.count=1000 --set workload.synthetic.rate=2000/s --label scale-1000
	$(SCALE_BENCH) --set workload.instances.count=16 --set workload.synthetic.rate=32/s --set router.policy=dynamo --label dynamo-16
	$(SCALE_BENCH) --set workload.instances.count=1000 --set workload.synthetic.rate=2000/s --set router.policy=dynamo --label dynamo-1000
	@echo '== target 5: sweeps: -j N scales with the cores, MPI ranks too; the merge under 5% of a 1,000-point sweep =='
	build/release/memfab bench sweep
	@echo '== other replays =='
	$(TRACE_PATH_ENV) build/release/memfab bench replay
	$(TRACE_PATH_ENV) build/release/memfab bench replay --scenario scenarios/pd-disaggregation.yaml --label replay-pd
	@db=$$(mktemp -u /tmp/memfab-bench-XXXXXX.db); \
	 build/release/memfab run scenarios/leaf-spine-64.yaml -o $$db 2>&1 | grep 'complete:'; rm -f $$db

install: $(BIN)
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/include/memfab
	install -m 755 $(BIN) $(DESTDIR)$(PREFIX)/bin/memfab
	install -m 644 sim/plugin.h $(DESTDIR)$(PREFIX)/include/memfab/plugin.h

clean:
	rm -rf build

-include $(LIB_OBJ:.o=.d) $(MAIN_OBJ:.o=.d) $(TEST_BIN:=.d) $(FUZZ_ENTRY_OBJ:.o=.d) \
         $(FUZZ_HARNESSES:%=$(B)/tests/fuzz/main_%.d)
