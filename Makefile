# SPDX-License-Identifier: BSD-2-Clause
#
# mxguard build. Everything goes to build/; `make V=1` shows the commands.
# `make SANITIZE=1 ...` builds userspace with AddressSanitizer and
# UndefinedBehaviorSanitizer into build-san/ (CI runs the unit and
# integration suites so).

ARCH := $(shell uname -m | sed -e 's/x86_64/x86/' -e 's/aarch64/arm64/')
ifeq ($(SANITIZE),1)
BUILD := build-san
SAN_FLAGS := -fsanitize=address,undefined -fno-sanitize-recover=all \
	     -fno-omit-frame-pointer
else
BUILD := build
endif
PREFIX ?= /usr/local
DESTDIR ?=
# Where `make install` puts the unit, the docs and mxguardctl's completion.
# The package (debian/rules) sets UNITDIR=/lib/systemd/system, Debian 12's.
UNITDIR ?= $(PREFIX)/lib/systemd/system
DOCDIR ?= $(PREFIX)/share/doc/mxguard
# bash-completion's own directory under PREFIX (/usr: the one its pkg-config
# file names; /usr/local: .../share/bash-completion/completions, which it
# reads through XDG_DATA_DIRS).
COMPLETIONSDIR ?= $(shell pkg-config --define-variable=datadir=$(PREFIX)/share \
	--variable=completionsdir bash-completion 2>/dev/null || \
	echo $(PREFIX)/share/bash-completion/completions)

CC ?= cc
CLANG ?= clang
BPFTOOL ?= bpftool

PKGS := libbpf libelf zlib inih libsystemd libmicrohttpd
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS := $(shell pkg-config --libs $(PKGS) 2>/dev/null || echo -lbpf -lelf -lz -linih -lsystemd -lmicrohttpd)
LIBS := $(PKG_LIBS) -lldap -llber -lpthread -lm
# What mxguard_build_info says (user/metrics.c).
MXG_VERSION ?= $(shell git describe --always --dirty 2>/dev/null || echo unknown)

# CFLAGS, CPPFLAGS and LDFLAGS are the user's (make CFLAGS='-O1 -g'
# replaces only it; the package build passes Debian's hardening flags
# through them); what the build needs is in ALL_CFLAGS.
CFLAGS ?= -O2 -g
ALL_CFLAGS = $(CPPFLAGS) $(CFLAGS) -std=gnu11 -Wall -Wextra -Werror -Wno-unused-parameter \
	     -D_GNU_SOURCE -Ibpf -Iuser -I$(BUILD) $(PKG_CFLAGS) $(SAN_FLAGS) \
	     -DMXG_VERSION='"$(MXG_VERSION)"'
BPF_CFLAGS := -target bpf -g -O2 -mcpu=v3 -D__TARGET_ARCH_$(ARCH) \
	      -Wall -Werror -Ivmlinux/$(ARCH) -Ibpf

ifeq ($(V),1)
Q :=
msg :=
else
Q := @
msg = @printf '  %-8s %s\n' "$(1)" "$(2)";
endif

.DELETE_ON_ERROR:
.SECONDARY: $(BPF_OBJS)
.PHONY: all clean test test-unit test-bpf test-integration test-kernels fuzz demo bench \
	install deb vmlinux deps

BPF_SRCS := $(wildcard bpf/*.bpf.c)
BPF_HDRS := $(wildcard bpf/*.h)
BPF_OBJS := $(patsubst bpf/%.bpf.c,$(BUILD)/%.bpf.o,$(BPF_SRCS))
SKELS := $(patsubst bpf/%.bpf.c,$(BUILD)/%.skel.h,$(BPF_SRCS))

# Userspace: everything in user/ but the two mains goes into one library
# that the binaries and the tests link; mxguardctl's objects (user/ctl/)
# only into mxguardctl.
MAINS := user/mxguardd.c user/mxguardctl.c
LIB_SRCS := $(filter-out $(MAINS),$(wildcard user/*.c))
LIB_OBJS := $(patsubst user/%.c,$(BUILD)/user/%.o,$(LIB_SRCS))
CTL_OBJS := $(patsubst user/%.c,$(BUILD)/user/%.o,$(wildcard user/ctl/*.c))
USER_HDRS := $(wildcard user/*.h user/ctl/*.h)
LIB := $(BUILD)/libmxg.a
BINS := $(BUILD)/mxguardd $(BUILD)/mxguardctl

UNIT_SRCS := $(wildcard tests/unit/test_*.c)
UNIT_BINS := $(patsubst tests/unit/%.c,$(BUILD)/tests/unit/%,$(UNIT_SRCS))
BPFT_SRCS := $(wildcard tests/bpf/test_*.c)
BPFT_BINS := $(patsubst tests/bpf/%.c,$(BUILD)/tests/bpf/%,$(BPFT_SRCS))

all: $(BINS)

$(BUILD) $(BUILD)/user $(BUILD)/user/ctl $(BUILD)/tests/unit $(BUILD)/tests/bpf $(BUILD)/tools:
	$(Q)mkdir -p $@

$(BUILD)/%.bpf.o: bpf/%.bpf.c $(BPF_HDRS) vmlinux/$(ARCH)/vmlinux.h | $(BUILD)
	$(call msg,BPF,$@)
	$(Q)$(CLANG) $(BPF_CFLAGS) -c $< -o $@

$(BUILD)/%.skel.h: $(BUILD)/%.bpf.o
	$(call msg,SKEL,$@)
	$(Q)$(BPFTOOL) gen skeleton $< name $(subst .bpf.o,,$(notdir $<)) > $@

$(BUILD)/user/%.o: user/%.c $(USER_HDRS) $(BPF_HDRS) $(SKELS) | $(BUILD)/user $(BUILD)/user/ctl
	$(call msg,CC,$@)
	$(Q)$(CC) $(ALL_CFLAGS) -c $< -o $@

$(LIB): $(LIB_OBJS)
	$(call msg,AR,$@)
	$(Q)rm -f $@ && ar rcs $@ $^

$(BUILD)/mxguardd: $(BUILD)/user/mxguardd.o $(LIB)
$(BUILD)/mxguardctl: $(BUILD)/user/mxguardctl.o $(CTL_OBJS) $(LIB)
$(BINS):
	$(call msg,LINK,$@)
	$(Q)$(CC) $(ALL_CFLAGS) $(LDFLAGS) $^ $(LIBS) -o $@

# libsodium only as a second, independent SipHash for test_rcpt.
$(BUILD)/tests/unit/%: tests/unit/%.c tests/unit/unit.h $(LIB) $(USER_HDRS) $(BPF_HDRS) | $(BUILD)/tests/unit
	$(call msg,CC,$@)
	$(Q)$(CC) $(ALL_CFLAGS) -Itests $< $(LIB) $(LIBS) -lcmocka -lsodium -o $@

# The crafted frames (tools/frames.h) are the BPF suites' and mxg-bench's.
$(BUILD)/tests/bpf/%: tests/bpf/%.c tools/frames.h $(LIB) $(USER_HDRS) $(SKELS) | $(BUILD)/tests/bpf
	$(call msg,CC,$@)
	$(Q)$(CC) $(ALL_CFLAGS) -Itools $< $(LIB) $(LIBS) -lcmocka -o $@

$(BUILD)/tools/%: tools/%.c $(wildcard tools/*.h) $(LIB) $(USER_HDRS) $(SKELS) | $(BUILD)/tools
	$(call msg,CC,$@)
	$(Q)$(CC) $(ALL_CFLAGS) $< $(LIB) $(LIBS) -o $@

# The commands of the README install what is missing first (Debian
# packages, idempotent), then build in a sub-make that sees them.
deps:
	$(Q)tools/deps.sh

# The integration suite drives the lab with the load generators too, and
# reads the tuner's signals with tuner-signals; lookup-watch checks the
# lookup socket's answers through a directory failover.
LAB_TOOLS := $(addprefix $(BUILD)/tools/,legit synflood connflood tuner-signals lookup-watch)

# make bench's own programs: built by make test too, so that one no longer
# compiling is found by CI, not at the next bench.
BENCH_TOOLS := $(addprefix $(BUILD)/tools/,mxg-bench mirror-bench lookup-bench \
	synflood connflood smtpflood legit metrics-fill lookup-watch)

test: deps
	$(Q)$(MAKE) --no-print-directory all $(UNIT_BINS) $(BPFT_BINS) $(LAB_TOOLS) $(BENCH_TOOLS)
	$(Q)tests/run.sh $(BUILD)

test-unit: $(BUILD)/mxguardctl $(UNIT_BINS)
	$(Q)tests/run.sh $(BUILD) unit

test-bpf: all $(BPFT_BINS)
	$(Q)tests/run.sh $(BUILD) bpf

test-integration: all $(LAB_TOOLS)
	$(Q)tests/run.sh $(BUILD) integration

# The kernel matrix: Debian 12's 6.1 and 6.12 under qemu, each running the
# probe, the tests/bpf suites and mxguardd live (tools/test-kernels.sh).
test-kernels: deps
	$(Q)$(MAKE) --no-print-directory all $(BPFT_BINS) $(BUILD)/tools/connflood
	$(Q)tools/test-kernels.sh $(BUILD)

# The SMTP reader's differential test at length (make test runs 1,500
# sessions of it): MXG_FUZZ_SESSIONS sessions, from MXG_FUZZ_SEED (default:
# the time, printed so that a failure can be run again).
fuzz: all $(BUILD)/tests/bpf/test_smtp
	$(Q)seed=$${MXG_FUZZ_SEED:-$$(date +%s)}; echo "fuzz: seed $$seed"; \
	MXG_TEST_FILTER=test_differential MXG_FUZZ_SEED=$$seed \
	MXG_FUZZ_SESSIONS=$${MXG_FUZZ_SESSIONS:-200000} $(BUILD)/tests/bpf/test_smtp

# The incident replayed in one run, then the three scenes on their own.
demo: deps
	$(Q)$(MAKE) --no-print-directory all $(addprefix $(BUILD)/tools/,smtpflood legit connflood)
	$(Q)tools/incident.sh $(BUILD)
	$(Q)tools/demo.sh $(BUILD)

bench: deps
	$(Q)$(MAKE) --no-print-directory all $(BENCH_TOOLS)
	$(Q)tools/bench.sh $(BUILD)

vmlinux:
	$(Q)mkdir -p vmlinux/$(ARCH)
	$(Q)$(BPFTOOL) btf dump file /sys/kernel/btf/vmlinux format c > vmlinux/$(ARCH)/vmlinux.h

install: all
	install -d $(DESTDIR)$(PREFIX)/sbin $(DESTDIR)$(PREFIX)/share/man/man5 \
		$(DESTDIR)$(PREFIX)/share/man/man8 $(DESTDIR)/etc/mxguard
	install -m 755 $(BINS) $(DESTDIR)$(PREFIX)/sbin/
	install -m 644 docs/man/*.5 $(DESTDIR)$(PREFIX)/share/man/man5/
	install -m 644 docs/man/*.8 $(DESTDIR)$(PREFIX)/share/man/man8/
	install -d $(DESTDIR)$(UNITDIR)
	sed 's|/usr/sbin/mxguard|$(PREFIX)/sbin/mxguard|g' docs/mxguardd.service > \
		$(DESTDIR)$(UNITDIR)/mxguardd.service
	test -e $(DESTDIR)/etc/mxguard/mxguard.conf || \
		install -m 600 docs/mxguard.conf.example $(DESTDIR)/etc/mxguard/mxguard.conf
	install -d $(DESTDIR)$(DOCDIR)
	install -m 644 README.md docs/*.md docs/mxguard.conf.example $(wildcard docs/*.yml) \
		$(DESTDIR)$(DOCDIR)/
	if [ -f docs/mxguardctl.bash-completion ]; then \
		install -d $(DESTDIR)$(COMPLETIONSDIR) && \
		install -m 644 docs/mxguardctl.bash-completion \
			$(DESTDIR)$(COMPLETIONSDIR)/mxguardctl; \
	fi

# The Debian package, built from a copy of the tracked files in
# build/deb/src (dpkg-buildpackage cleans and builds in its source tree:
# never this one's build/); the .deb, .buildinfo and .changes land in
# build/deb/. tools/deb.sh reuses a .deb newer than every source file.
deb:
	$(Q)tools/deb.sh

clean:
	rm -rf build build-san
