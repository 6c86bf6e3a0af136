# memfab - one Makefile, out-of-tree builds in build/$(VARIANT)/.
#
#   make            build build/release/memfab (optimised; results equal the debug build's)
#   make run        install missing Debian packages, build, run scenarios/default.yaml
#   make test       build (debug, assertions on) and run every Check suite and the
#                   end-to-end tests
#   make asan       the same tests under AddressSanitizer + UBSan
#   make bench      event-core and replay benchmarks (prints figures, asserts nothing)
#   make install    PREFIX=/usr/local DESTDIR=
#   VARIANT=debug|release|asan   WERROR=1 adds -Werror (CI sets it)

VARIANT ?= release
ifeq ($(filter $(VARIANT),debug release asan),)
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
CFLAGS_release := -O2 -g -DNDEBUG
CFLAGS_asan := -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
LDFLAGS_asan := -fsanitize=address,undefined

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

.PHONY: all run test test-only check asan bench install deps clean valgrind valgrind-only regress study FORCE
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
# path, text, path, text, ..., NULL.
STEP_PRESETS := $(sort $(wildcard scenarios/presets/step-time/*.yaml))
$(B)/gen/step_presets.c: $(STEP_PRESETS) Makefile
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

$(B)/plugins/%.so: tests/plugins/%.c
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) -shared $< -o $@ $(LDFLAGS_$(VARIANT))

deps:
	@PKGS="$(PKGS) check" DEB_PACKAGES="$(DEB_PACKAGES)" sh tools/install-deps.sh

run: deps
	@$(MAKE) --no-print-directory all
	$(BIN) run scenarios/default.yaml

# Tests find the binary, the plugins and the public traces through the environment.
TRACE_DIR := $(firstword $(wildcard ../shared/traces))
# The suites run on the debug build (assertions, invariant checks) unless a
# variant is given on the command line (make asan, make test VARIANT=release).
TEST_VARIANT = $(if $(filter command line,$(origin VARIANT)),$(VARIANT),debug)
test check: deps
	@$(MAKE) --no-print-directory VARIANT=$(TEST_VARIANT) test-only

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
# resumes. STUDY_JOBS workers (default 2).
STUDY_JOBS ?= 2
study: all
	@MEMFAB_TRACE_PATH="$(if $(TRACE_DIR),$(abspath $(TRACE_DIR)))$(if $(MEMFAB_TRACE_PATH),:$(MEMFAB_TRACE_PATH))" \
	 $(BIN) study scenarios/study/convergence.yaml -j $(STUDY_JOBS)

# make regress: run scenarios/regress/ and compare with its committed baselines
# (exit 3 on a regression). UPDATE=1 rewrites the baselines; REGRESS_FORMAT=md
# prints one markdown report for a pull-request comment (verdict first, the
# worst regressions, the rest folded), at most REGRESS_MAX_BYTES (60000).
regress: all
	@$(TRACE_PATH_ENV) \
	 $(if $(REGRESS_MAX_BYTES),REGRESS_MAX_BYTES=$(REGRESS_MAX_BYTES)) \
	 sh scenarios/regress/regress.sh $(abspath $(BIN)) $(if $(UPDATE),--update) \
	 $(if $(REGRESS_FORMAT),--format $(REGRESS_FORMAT))

bench:
	@$(MAKE) --no-print-directory VARIANT=release all
	build/release/memfab bench events
	$(TRACE_PATH_ENV) build/release/memfab bench replay
	$(TRACE_PATH_ENV) build/release/memfab bench replay --scenario scenarios/routing-policies.yaml --label replay-kv-fabric
	$(TRACE_PATH_ENV) build/release/memfab bench replay --scenario scenarios/pd-disaggregation.yaml --label replay-pd
	@db=$$(mktemp -u /tmp/memfab-bench-XXXXXX.db); \
	 build/release/memfab run scenarios/leaf-spine-64.yaml -o $$db 2>&1 | grep 'complete:'; rm -f $$db

install: $(BIN)
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/include/memfab
	install -m 755 $(BIN) $(DESTDIR)$(PREFIX)/bin/memfab
	install -m 644 sim/plugin.h $(DESTDIR)$(PREFIX)/include/memfab/plugin.h

clean:
	rm -rf build

-include $(LIB_OBJ:.o=.d) $(MAIN_OBJ:.o=.d) $(TEST_BIN:=.d)
