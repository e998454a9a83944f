# gatehouse — see README.md. `make`, `make check`, `make demo`, `make fuzz`.
# Every knob can be overridden: make PREFIX=/usr DESTDIR=/tmp/pkg install
PKG_CONFIG ?= pkg-config
PREFIX ?= /usr/local
SBINDIR ?= $(PREFIX)/sbin
LIBEXECDIR ?= $(PREFIX)/libexec
PKGLIBEXECDIR ?= $(LIBEXECDIR)/gatehouse
SYSCONFDIR ?= /etc
MANDIR ?= $(PREFIX)/share/man
SYSTEMDUNITDIR ?= $(shell $(PKG_CONFIG) --variable=systemdsystemunitdir systemd 2>/dev/null || echo /lib/systemd/system)
SYSTEMDGENERATORDIR ?= $(shell $(PKG_CONFIG) --variable=systemdsystemgeneratordir systemd 2>/dev/null || echo /lib/systemd/system-generators)
SYSUSERSDIR ?= $(shell $(PKG_CONFIG) --variable=sysusersdir systemd 2>/dev/null || echo /usr/lib/sysusers.d)
TMPFILESDIR ?= $(shell $(PKG_CONFIG) --variable=tmpfilesdir systemd 2>/dev/null || echo /usr/lib/tmpfiles.d)
BUILD ?= build
VERSION ?= 0.1.0
WERROR ?= 1
SAN ?= 0
V ?= 0

CC ?= cc
CFLAGS ?= -O2 -g
CFLAGS += -std=c11 -D_GNU_SOURCE -Wall -Wextra -Wstrict-prototypes \
	-Wmissing-prototypes -Wmissing-declarations -Wshadow -Wpointer-arith \
	-Wsign-compare -Wcast-qual -Wformat=2 -fno-strict-aliasing \
	-I. -MMD -MP \
	-DGATEHOUSE_VERSION='"$(VERSION)"' \
	-DGATEHOUSE_LIBEXECDIR='"$(PKGLIBEXECDIR)"' \
	-DGATEHOUSE_SYSCONFDIR='"$(SYSCONFDIR)"'
ifeq ($(WERROR),1)
CFLAGS += -Werror
endif
# NOSECCOMP=1: daemons skip their sandbox, for valgrind runs only
ifeq ($(NOSECCOMP),1)
CFLAGS += -DGATEHOUSE_NO_SECCOMP
endif
ifeq ($(SAN),1)
CFLAGS += -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer -O1
LDFLAGS += -fsanitize=address,undefined
endif
# Hardening, as Debian's hardening=+all gives it, for a plain `make` too:
# tests/hardening/check.sh reads it back from the binaries. A flag the
# caller already set (dpkg-buildflags, e.g. _FORTIFY_SOURCE=3) is left as
# is. No fortify under SAN=1: ASan checks those bounds itself.
HARDEN_CFLAGS := -fstack-protector-strong -fPIE
ifneq ($(SAN),1)
HARDEN_CFLAGS += -D_FORTIFY_SOURCE=2
endif
HARDEN_LDFLAGS := -pie -Wl,-z,relro -Wl,-z,now
CALLER_FLAGS := $(CFLAGS) $(LDFLAGS)
CFLAGS += $(foreach f,$(HARDEN_CFLAGS),$(if $(findstring $(firstword $(subst =, ,$(f))),$(CALLER_FLAGS)),,$(f)))
LDFLAGS += $(foreach f,$(HARDEN_LDFLAGS),$(if $(findstring $(f),$(CALLER_FLAGS)),,$(f)))

LIBS_SYSTEMD := $(shell $(PKG_CONFIG) --libs libsystemd)
LIBS_SECCOMP := $(shell $(PKG_CONFIG) --libs libseccomp)
LIBS_SSL := $(shell $(PKG_CONFIG) --libs libssl libcrypto)
# router/quic_* (QUIC Initial keys): everything that links librouter.a
LIBS_CRYPTO := $(shell $(PKG_CONFIG) --libs libcrypto)
LIBS_CHECK := $(shell $(PKG_CONFIG) --libs check)

ifeq ($(V),1)
Q :=
else
Q := @
endif

obj = $(patsubst %.c,$(BUILD)/%.o,$(1))

ROUTER_OBJ := $(call obj,$(wildcard router/*.c))
COMMON_OBJ := $(call obj,$(wildcard common/*.c))
POLICY_OBJ := $(call obj,$(wildcard policy/*.c))
LISTENER_OBJ := $(call obj,$(wildcard listener/*.c))
FORWARDER_OBJ := $(call obj,$(wildcard forwarder/*.c))
METRICS_OBJ := $(call obj,$(wildcard metrics/*.c))
HEALTH_OBJ := $(call obj,$(wildcard health/*.c))
CONFIGD_OBJ := $(call obj,$(wildcard configd/*.c))
CLI_OBJ := $(call obj,$(filter-out cli/generator.c,$(wildcard cli/*.c)))
UNIT_OBJ := $(call obj,$(wildcard tests/unit/*.c))
# import-haproxy's passes, for the unit tests and the fuzz target
IMPORT_SRC := $(wildcard cli/import_*.c)
HELPER_SRC := $(wildcard tests/helpers/*.c)
HELPERS := $(patsubst tests/helpers/%.c,$(BUILD)/tests/%,$(HELPER_SRC))
FUZZ_TARGETS := $(patsubst tests/fuzz/fuzz_%.c,%,$(wildcard tests/fuzz/fuzz_*.c))
FUZZ_REPLAY := $(patsubst %,$(BUILD)/tests/replay_%,$(FUZZ_TARGETS))

BINS := $(BUILD)/gatehouse $(BUILD)/gatehouse-listener $(BUILD)/gatehouse-forwarder $(BUILD)/gatehouse-generator \
	$(BUILD)/gatehouse-metrics $(BUILD)/gatehouse-health $(BUILD)/gatehouse-config
UNIT_IN := $(wildcard units/*.in)
# units as installed, and a copy pointing at this build tree for `verify`
UNITS := $(patsubst units/%.in,$(BUILD)/units/%,$(UNIT_IN))
UNITS_LOCAL := $(patsubst units/%.in,$(BUILD)/units-local/%,$(UNIT_IN))

.PHONY: check-quick check-import check-man check-system check-package check-stress stress deb
.PHONY: all tests check check-suites check-unit check-fuzz check-integration \
	check-asan demo fuzz install uninstall clean lint
.DEFAULT_GOAL := all

all: $(BINS) $(UNITS) $(UNITS_LOCAL)

# Paths compiled in or written into units: when they change, rebuild those.
PATHS := $(PREFIX) $(SBINDIR) $(PKGLIBEXECDIR) $(SYSCONFDIR) $(VERSION)
$(BUILD)/paths.stamp: FORCE
	@mkdir -p $(BUILD)
	@echo '$(PATHS)' | cmp -s - $@ || echo '$(PATHS)' > $@
.PHONY: FORCE
FORCE:
$(call obj,cli/run.c cli/main.c cli/check.c cli/generator.c listener/main.c forwarder/main.c configd/main.c): $(BUILD)/paths.stamp

$(BUILD)/units/%: units/%.in $(BUILD)/paths.stamp
	@mkdir -p $(dir $@)
	$(Q)sed -e 's|@PKGLIBEXECDIR@|$(PKGLIBEXECDIR)|g' -e 's|@SBINDIR@|$(SBINDIR)|g' \
		-e 's|@SYSCONFDIR@|$(SYSCONFDIR)|g' $< > $@
$(BUILD)/units-local/%: units/%.in $(BUILD)/paths.stamp
	@mkdir -p $(dir $@)
	$(Q)sed -e 's|@PKGLIBEXECDIR@|$(abspath $(BUILD))|g' -e 's|@SBINDIR@|$(abspath $(BUILD))|g' \
		-e 's|@SYSCONFDIR@|$(SYSCONFDIR)|g' $< > $@

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	@[ "$(V)" = 1 ] || echo "  CC      $<"
	$(Q)$(CC) $(CFLAGS) -c -o $@ $<

$(BUILD)/librouter.a: $(ROUTER_OBJ)
	$(Q)rm -f $@ && $(AR) rcs $@ $^
$(BUILD)/libcommon.a: $(COMMON_OBJ)
	$(Q)rm -f $@ && $(AR) rcs $@ $^
$(BUILD)/libpolicy.a: $(POLICY_OBJ)
	$(Q)rm -f $@ && $(AR) rcs $@ $^

LINK = @[ "$(V)" = 1 ] || echo "  LD      $@"; $(CC) $(LDFLAGS) -o $@

$(BUILD)/gatehouse: $(CLI_OBJ) $(BUILD)/libcommon.a $(BUILD)/libpolicy.a $(BUILD)/librouter.a
	$(LINK) $^ $(LIBS_SYSTEMD) $(LIBS_SECCOMP) $(LIBS_CRYPTO)
$(BUILD)/gatehouse-generator: $(BUILD)/cli/generator.o $(BUILD)/libcommon.a $(BUILD)/librouter.a
	$(LINK) $^ $(LIBS_CRYPTO)

$(BUILD)/gatehouse-listener: $(LISTENER_OBJ) $(BUILD)/libcommon.a $(BUILD)/libpolicy.a $(BUILD)/librouter.a
	$(LINK) $^ $(LIBS_SYSTEMD) $(LIBS_SECCOMP) $(LIBS_CRYPTO)
$(BUILD)/gatehouse-forwarder: $(FORWARDER_OBJ) $(BUILD)/libcommon.a $(BUILD)/libpolicy.a $(BUILD)/librouter.a
	$(LINK) $^ $(LIBS_SYSTEMD) $(LIBS_SECCOMP) $(LIBS_CRYPTO)
$(BUILD)/gatehouse-metrics: $(METRICS_OBJ) $(BUILD)/libcommon.a $(BUILD)/libpolicy.a $(BUILD)/librouter.a
	$(LINK) $^ $(LIBS_SYSTEMD) $(LIBS_SECCOMP) $(LIBS_CRYPTO)
$(BUILD)/gatehouse-health: $(HEALTH_OBJ) $(BUILD)/libcommon.a $(BUILD)/libpolicy.a $(BUILD)/librouter.a
	$(LINK) $^ $(LIBS_SYSTEMD) $(LIBS_SECCOMP) $(LIBS_CRYPTO)
$(BUILD)/gatehouse-config: $(CONFIGD_OBJ) $(BUILD)/libcommon.a $(BUILD)/libpolicy.a $(BUILD)/librouter.a
	$(LINK) $^ $(LIBS_SYSTEMD) $(LIBS_SECCOMP) $(LIBS_CRYPTO)

# the listener's modules but its main(), for tests/unit/listener_tests.c
LISTENER_LIB_OBJ := $(filter-out $(BUILD)/listener/main.o,$(LISTENER_OBJ))
# the forwarder's modules but its main(), for the unit tests of its decisions
$(BUILD)/libforwarder.a: $(filter-out $(BUILD)/forwarder/main.o,$(FORWARDER_OBJ))
	$(Q)rm -f $@ && $(AR) rcs $@ $^

$(BUILD)/tests/unit-tests: $(UNIT_OBJ) $(LISTENER_LIB_OBJ) $(filter-out $(BUILD)/metrics/main.o,$(METRICS_OBJ)) $(filter-out $(BUILD)/health/main.o,$(HEALTH_OBJ)) $(call obj,$(IMPORT_SRC)) $(BUILD)/libforwarder.a $(BUILD)/libcommon.a $(BUILD)/libpolicy.a $(BUILD)/librouter.a
	$(LINK) $^ $(LIBS_CHECK) $(LIBS_SSL) $(LIBS_SYSTEMD) $(LIBS_SECCOMP)

$(BUILD)/tests/sandbox-tests: $(call obj,$(wildcard tests/sandbox/*.c)) $(BUILD)/libpolicy.a $(BUILD)/libcommon.a $(BUILD)/librouter.a
	$(LINK) $^ $(LIBS_CHECK) $(LIBS_SECCOMP) $(LIBS_CRYPTO)

$(BUILD)/tests/%: tests/helpers/%.c $(BUILD)/libcommon.a $(BUILD)/librouter.a
	@mkdir -p $(dir $@)
	$(LINK) $(CFLAGS) $^ $(LIBS_SSL) $(LIBS_SYSTEMD)

# fuzz targets may also drive the listener's pure decision code
FUZZ_LISTENER_SRC := listener/decide.c common/reply.c common/handoff.c common/handoff_quic.c
$(BUILD)/tests/replay_%: tests/fuzz/fuzz_%.c tests/fuzz/replay.c $(call obj,$(FUZZ_LISTENER_SRC) $(IMPORT_SRC)) $(BUILD)/librouter.a
	@mkdir -p $(dir $@)
	$(LINK) $(CFLAGS) $^ $(LIBS_CRYPTO)

tests: all $(BUILD)/tests/unit-tests $(BUILD)/tests/sandbox-tests $(HELPERS) $(FUZZ_REPLAY)

# `make check`: every suite, plain and under ASan+UBSan.
check: check-layout check-suites check-units check-man check-system check-package check-stress check-asan

check-suites: check-unit check-fuzz check-integration check-import

# `make check-quick`: the unprivileged, fast part, for the edit-compile-test loop
check-quick: check-layout check-unit check-fuzz check-import

# real systemd as PID 1 in systemd-nspawn, units from `make install`
check-system: all
	BUILD=$(BUILD) bash tests/system/run.sh

# install the .deb in systemd-nspawn, route through the packaged units, purge
# (builds $(BUILD)/package/deb with scripts/build-deb.sh when it holds no .deb)
check-package:
	rm -rf $(BUILD)/package/deb
	BUILD=$(BUILD) bash tests/package/run.sh $(BUILD)/package/deb

# hostile clients, valgrind: `make stress` in full, `check-stress` shortened
stress: all
	$(MAKE) BUILD=$(BUILD)-vg NOSECCOMP=1 all
	BUILD=$(BUILD) VALGRIND_BUILD=$(BUILD)-vg bash tests/stress/run.sh

check-stress: all
	$(MAKE) BUILD=$(BUILD)-vg NOSECCOMP=1 all
	BUILD=$(BUILD) VALGRIND_BUILD=$(BUILD)-vg bash tests/stress/run.sh --short

check-import: all
	BUILD=$(BUILD) bash tests/import/run.sh

# calls run one way inside each folder; the daemons never include each other
check-layout:
	python3 scripts/layering.py --quiet

check-man:
	@set -e; n=0; for m in man/*.5 man/*.8; do o=$$(groff -man -ww -z $$m 2>&1); \
		[ -z "$$o" ] || { echo "$$m: $$o"; exit 1; }; n=$$((n + 1)); done; echo "man: $$n passed, 0 failed"

DEBDIR ?= build-deb-out
deb:
	bash scripts/build-deb.sh $(DEBDIR)

# The units: `systemd-analyze verify` must print nothing, and the exposure
# scores must stay under the issue's bars (listener 1.0, forwarder 1.5).
check-units: all
	BUILD=$(BUILD) bash tests/units/check-units.sh

check-unit: tests
	BUILD=$(BUILD) SAN=$(SAN) bash tests/hardening/check.sh
	$(BUILD)/tests/unit-tests
ifneq ($(SAN),1)
	$(BUILD)/tests/sandbox-tests
endif

check-fuzz: tests
	@set -e; for t in $(FUZZ_TARGETS); do \
		$(BUILD)/tests/replay_$$t tests/fuzz/corpora/$$t; done

check-integration: tests
	BUILD=$(BUILD) bash tests/integration/run.sh

check-asan:
	$(MAKE) BUILD=build-asan SAN=1 CC=$(CC) check-suites

# `make fuzz`: a libFuzzer campaign, FUZZ_TIME seconds per target.
FUZZ_TIME ?= 60
FUZZ_CC ?= clang
fuzz:
	@mkdir -p build-fuzz
	@set -e; for t in $(FUZZ_TARGETS); do \
		$(FUZZ_CC) -g -O1 -std=c11 -D_GNU_SOURCE -I. \
		  -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
		  -o build-fuzz/fuzz_$$t tests/fuzz/fuzz_$$t.c router/*.c $(FUZZ_LISTENER_SRC) $(IMPORT_SRC) $(LIBS_CRYPTO); \
		mkdir -p build-fuzz/corpus_$$t; \
		build-fuzz/fuzz_$$t -max_total_time=$(FUZZ_TIME) -max_len=20000 \
		  -artifact_prefix=build-fuzz/crash_$$t- \
		  build-fuzz/corpus_$$t tests/fuzz/corpora/$$t; \
	done

demo:
	bash scripts/install-deps.sh
	$(MAKE) all
	BUILD=$(BUILD) bash scripts/demo.sh

# `make bench`: gatehouse side by side with HAProxy, nginx, sniproxy, a floor
# proxy and no proxy (bench/README.md); as root, installs what it needs.
# Writes bench/RESULTS.md; `make bench-quick` writes bench/RESULTS-quick.md.
.PHONY: bench bench-quick bench-ab bench-quic
bench:
	bash bench/install-deps.sh
	$(MAKE) BUILD=build-bench all
	python3 bench/bench.py --build build-bench

# `make bench-quic`: HTTP/3 through the QUIC passthrough vs nginx's UDP
# relay (bench/quic.py); rewrites only its own section of bench/RESULTS.md.
bench-quic:
	bash scripts/install-deps.sh nginx libnginx-mod-stream ngtcp2-server ngtcp2-client python3 openssl
	$(MAKE) BUILD=build-bench all
	python3 bench/quic.py --build build-bench

bench-quick:
	bash bench/install-deps.sh
	$(MAKE) BUILD=build-bench all
	python3 bench/bench.py --build build-bench --quick --out bench/RESULTS-quick.md --json bench/results-quick.json

# `make bench-edge`: an access-list lookup with 10 vs 100 000 prefixes and a
# per-source admit + release (hot sources, and a flood of new ones), timed,
# then counted in instructions by callgrind (not tests: no threshold)
.PHONY: bench-edge
EDGE_BENCH := $(BUILD)/bench/prefixset $(BUILD)/bench/srclimit
$(EDGE_BENCH): $(BUILD)/bench/%: bench/%.c $(BUILD)/librouter.a
	@mkdir -p $(dir $@)
	$(LINK) $(CFLAGS) $(filter %.c %.a,$^)
CALLGRIND = valgrind --tool=callgrind --callgrind-out-file=/dev/null
bench-edge: $(EDGE_BENCH)
	$(BUILD)/bench/prefixset
	@for n in 10 100000; do $(CALLGRIND) --toggle-collect=prefixset_lookup \
		$(BUILD)/bench/prefixset 1000000 $$n 2>&1 | awk -v n=$$n \
		'/Collected/ { printf "prefixes=%s instructions_per_lookup=%.1f\n", n, $$4 / 1000000 }'; done
	$(BUILD)/bench/srclimit
	@for m in hot churn; do $(CALLGRIND) --toggle-collect=srclimit_admit --toggle-collect=srclimit_release \
		$(BUILD)/bench/srclimit 1000000 $$m 2>&1 | awk -v m=$$m \
		'/Collected/ { printf "mode=%s instructions_per_admit_and_release=%.1f\n", m, $$4 / 1000000 }'; done

# `make bench-sites`: 100 000 sites (issue #13.5): check time and peak RSS,
# `gatehouse run` ready time and each daemon's private memory
# (bench/many_sites.py; writes bench/results-sites.json)
.PHONY: bench-sites bench-sites-systemd
bench-sites: all
	python3 bench/many_sites.py --build $(BUILD) --rounds 3 --json bench/results-sites.json
# the same with the daemons started as the units start them: with
# gatehouse-config's image, and each parsing (bench/results-sites-systemd.json)
bench-sites-systemd: all
	python3 bench/many_sites.py --build $(BUILD) --rounds 3 --systemd --json bench/results-sites-systemd.json

# A/B of builds on the L4 hello row: make bench-ab REVS="HEAD~3 ."
# (AB_ROW=bulk: the bulk row, CPU per GB)
REVS ?= HEAD .
AB_ROW ?= hello
bench-ab:
	bash bench/install-deps.sh
	python3 bench/ab.py --row $(AB_ROW) $(REVS)

lint:
	clang-tidy --quiet $(wildcard router/*.c common/*.c listener/*.c forwarder/*.c metrics/*.c health/*.c configd/*.c policy/*.c cli/*.c) -- $(CFLAGS)

install: all
	install -d "$(DESTDIR)$(SBINDIR)" "$(DESTDIR)$(PKGLIBEXECDIR)"
	install -m 0755 $(BUILD)/gatehouse "$(DESTDIR)$(SBINDIR)/gatehouse"
	install -m 0755 $(BUILD)/gatehouse-listener $(BUILD)/gatehouse-forwarder $(BUILD)/gatehouse-metrics $(BUILD)/gatehouse-health \
		$(BUILD)/gatehouse-config \
		"$(DESTDIR)$(PKGLIBEXECDIR)/"
	install -d "$(DESTDIR)$(SYSTEMDUNITDIR)" "$(DESTDIR)$(SYSTEMDGENERATORDIR)" \
		"$(DESTDIR)$(SYSUSERSDIR)" "$(DESTDIR)$(TMPFILESDIR)"
	install -m 0644 $(UNITS) "$(DESTDIR)$(SYSTEMDUNITDIR)/"
	install -m 0755 $(BUILD)/gatehouse-generator "$(DESTDIR)$(SYSTEMDGENERATORDIR)/"
	install -m 0644 units/gatehouse.sysusers "$(DESTDIR)$(SYSUSERSDIR)/gatehouse.conf"
	install -m 0644 units/gatehouse.tmpfiles "$(DESTDIR)$(TMPFILESDIR)/gatehouse.conf"
	install -d "$(DESTDIR)$(MANDIR)/man5" "$(DESTDIR)$(MANDIR)/man8"
	install -m 0644 man/gatehouse.conf.5 "$(DESTDIR)$(MANDIR)/man5/"
	install -m 0644 man/gatehouse.8 man/gatehouse-listener.8 man/gatehouse-forwarder.8 man/gatehouse-metrics.8 man/gatehouse-health.8 man/gatehouse-config.8 "$(DESTDIR)$(MANDIR)/man8/"

uninstall:
	rm -f "$(DESTDIR)$(SBINDIR)/gatehouse" \
	  "$(DESTDIR)$(PKGLIBEXECDIR)/gatehouse-listener" "$(DESTDIR)$(PKGLIBEXECDIR)/gatehouse-forwarder" \
	  "$(DESTDIR)$(PKGLIBEXECDIR)/gatehouse-metrics" "$(DESTDIR)$(PKGLIBEXECDIR)/gatehouse-health" \
	  "$(DESTDIR)$(PKGLIBEXECDIR)/gatehouse-config" "$(DESTDIR)$(MANDIR)/man8/gatehouse-config.8" \
	  "$(DESTDIR)$(MANDIR)/man5/gatehouse.conf.5" "$(DESTDIR)$(MANDIR)/man8/gatehouse.8" \
	  "$(DESTDIR)$(MANDIR)/man8/gatehouse-listener.8" "$(DESTDIR)$(MANDIR)/man8/gatehouse-forwarder.8" \
	  "$(DESTDIR)$(MANDIR)/man8/gatehouse-metrics.8" "$(DESTDIR)$(MANDIR)/man8/gatehouse-health.8"

clean:
	rm -rf build build-asan build-fuzz build-vg

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
