# vsp: one Makefile for the whole tree.
#
#   make            build ./vsp
#   make check      install missing dependencies, build, run every test (TAP, prove),
#                   the Xen ones too (a patched QEMU is built for them once)
#   make demo       boot the bundled guest and enforce an example policy on it
#   make bench      run the side-by-side benchmarks
#   make deps       install the Debian packages the build and the tests need
#   make install    PREFIX=/usr/local DESTDIR= (binary, packs, man page,
#                   vsp@.service in UNITDIR, reading SYSCONFDIR/vsp/guests/)
#
# Sources are found by wildcard: a new file in base/, fastpath/, interp/,
# lang/, engine/ or vmi/ joins libvsp; tests/<stage>/t_*.c each become one TAP
# program.

PREFIX  ?= /usr/local
DESTDIR ?=
SYSCONFDIR ?= /etc
UNITDIR ?= $(PREFIX)/lib/systemd/system
SAN     ?=
# Sanitized objects must not mix with plain ones: each SAN build has its tree.
ifneq ($(SAN),)
BUILD   ?= build-san$(if $(filter fuzz,$(SAN)),-fuzz)
endif
BUILD   ?= build
CC      ?= cc
FUZZ_SECONDS ?= 60
FUZZ_BUILD   ?= build-fuzz

PKGS     := capstone json-c libffi libbpf zlib liblzma liblz4 libzstd
DEB_PKGS := build-essential flex bison pkg-config libcapstone-dev libffi-dev \
            libjson-c-dev libbpf-dev libxen-dev libseccomp-dev libpcap-dev \
            liblua5.4-dev qemu-system-x86 busybox-static cpio lz4 \
            libclang-rt-14-dev clang zlib1g-dev liblzma-dev libbz2-dev \
            liblz4-dev libzstd-dev libsystemd-dev systemd \
            python3-prometheus-client \
            meson ninja-build libglib2.0-dev libpixman-1-dev libfdt-dev \
            libedit-dev tmux libvirt-dev libvirt-daemon \
            libvirt-daemon-driver-qemu libvirt-clients

XEN_PKGS := xencontrol xenevtchn xenforeignmemory xenstore

# The configuration is probed after the dependencies are installed, never
# before: $(BUILD)/config.mk holds what pkg-config said (the libraries'
# flags, and whether libxen-dev is there for the Xen backend).  make builds
# it before anything else (`make deps` first) and restarts with it read, so
# a fresh machine gets the Xen backend on its first `make`.  Goals that
# compile nothing skip it.
CONFIG := $(BUILD)/config.mk
ifneq ($(filter-out deps clean,$(or $(MAKECMDGOALS),all)),)
include $(CONFIG)
endif

CFLAGS  ?= -O2 -g
EXTDIR  ?= $(PREFIX)/lib/vsp/extensions
CFLAGS  += -std=c11 -D_GNU_SOURCE -Wall -Wextra -Wno-unused-parameter \
           -DVSP_EXT_DEFAULT_DIR='"$(EXTDIR)"' \
           -DVSP_POLICY_DEFAULT_DIR='"$(PREFIX)/share/vsp/stdlib-policies"' \
           -I. -I$(BUILD) $(PKG_CFLAGS)
LDLIBS  += $(PKG_LIBS) -lbz2 -lm -lpthread -ldl

# The Xen backend is built when libxen-dev is installed.
ifeq ($(HAVE_XEN),1)
CFLAGS += -DVSP_HAVE_XEN=1
LDLIBS += $(XEN_LIBS)
endif

# journald audit records and sd_notify, when libsystemd-dev is installed.
ifeq ($(HAVE_SYSTEMD),1)
CFLAGS += -DVSP_HAVE_SYSTEMD=1 $(SYSTEMD_CFLAGS)
LDLIBS += $(SYSTEMD_LIBS)
endif

# vsp attach --libvirt DOMAIN, when libvirt-dev is installed.
ifeq ($(HAVE_LIBVIRT),1)
CFLAGS += -DVSP_HAVE_LIBVIRT=1 $(LIBVIRT_CFLAGS)
LDLIBS += $(LIBVIRT_LIBS)
endif

# Line editing, history and completion in `vsp repl`, when libedit-dev is
# installed; without it the session reads plain lines.
ifeq ($(HAVE_EDIT),1)
CFLAGS += -DVSP_HAVE_EDIT=1 $(EDIT_CFLAGS)
LDLIBS += $(EDIT_LIBS)
endif

ifeq ($(SAN),1)
CFLAGS  += -O1 -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
LDFLAGS += -fsanitize=address,undefined
endif
# SAN=fuzz (clang only; `make fuzz` sets it): libvsp with libFuzzer's coverage
# hooks plus ASan and UBSan; the fuzz targets link libFuzzer's main.
ifeq ($(SAN),fuzz)
CFLAGS  += -O1 -fsanitize=fuzzer-no-link,address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
CFLAGS  += $(if $(wildcard tests/fuzz/known-bugs.ignore),-fsanitize-ignorelist=tests/fuzz/known-bugs.ignore)
LDFLAGS += -fsanitize=address,undefined
endif

ifneq ($(wildcard lang/parser.y),)
GEN_C   := $(BUILD)/lang/parser.c $(BUILD)/lang/lexer.c
GEN_H   := $(BUILD)/lang/parser.h $(BUILD)/lang/lexer.h
endif
LIB_SRC := $(sort $(wildcard base/*.c fastpath/*.c interp/*.c lang/*.c engine/*.c vmi/*.c))
LIB_OBJ := $(LIB_SRC:%.c=$(BUILD)/%.o) $(GEN_C:%.c=%.o)
CLI_SRC := $(sort $(wildcard cli/*.c))
CLI_OBJ := $(CLI_SRC:%.c=$(BUILD)/%.o)
TEST_SRC := $(sort $(wildcard tests/*/t_*.c))
TEST_BIN := $(TEST_SRC:%.c=$(BUILD)/%.t)
# tests/fuzz/fuzz_*.c: each a libFuzzer target (.fuzz) and, with the plain
# compiler, a replayer of saved inputs (.replay) for tests/fuzz/regress.t.
FUZZ_SRC    := $(sort $(wildcard tests/fuzz/fuzz_*.c))
FUZZ_REPLAY := $(FUZZ_SRC:%.c=$(BUILD)/%.replay)
FUZZ_BIN    := $(FUZZ_SRC:%.c=$(BUILD)/%.fuzz)

# Extension libraries (extern functions): the examples' and the tests',
# each one C file, into one directory that the tests allow (--extern-path).
EXT_SRC := $(sort $(wildcard examples/extensions/*.c tests/extensions/*.c))
EXT_SO  := $(patsubst %.c,$(BUILD)/extensions/%.so,$(notdir $(EXT_SRC)))
EXAMPLE_SO := $(patsubst %.c,$(BUILD)/extensions/%.so,$(notdir $(wildcard examples/extensions/*.c)))

.PHONY: all check deps demo bench fuzz fuzz-build install clean guest tests
all: $(BUILD)/vsp $(EXT_SO)
ifeq ($(BUILD),build)
all: vsp
vsp: $(BUILD)/vsp
	ln -sf $(BUILD)/vsp vsp
endif

$(BUILD)/vsp: $(CLI_OBJ) $(BUILD)/libvsp.a
	$(CC) $(LDFLAGS) -o $@ $(CLI_OBJ) $(BUILD)/libvsp.a $(LDLIBS)

$(BUILD)/extensions/%.so: examples/extensions/%.c examples/extensions/vsp_extension.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -fPIC -shared $(LDFLAGS) -o $@ $<

$(BUILD)/extensions/%.so: tests/extensions/%.c examples/extensions/vsp_extension.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -fPIC -shared $(LDFLAGS) -o $@ $<

$(BUILD)/libvsp.a: $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/lang/parser.c $(BUILD)/lang/parser.h &: lang/parser.y
	@mkdir -p $(dir $@)
	bison -Wall -Werror --defines=$(BUILD)/lang/parser.h -o $(BUILD)/lang/parser.c $<

$(BUILD)/lang/lexer.c $(BUILD)/lang/lexer.h &: lang/lexer.l $(BUILD)/lang/parser.h
	@mkdir -p $(dir $@)
	flex --header-file=$(BUILD)/lang/lexer.h -o $(BUILD)/lang/lexer.c $<

# Generated sources get the warnings their generators cannot avoid waived.
# -MMD as for the others: the parser includes base/kinds.h, whose tables
# size its lists.
$(BUILD)/lang/%.o: $(BUILD)/lang/%.c $(GEN_H)
	$(CC) $(CFLAGS) -Wno-sign-compare -Wno-unused-function -Wno-unused-but-set-variable -MMD -MP -c -o $@ $<

$(BUILD)/%.o: %.c $(GEN_H)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -MMD -MP -c -o $@ $<

$(BUILD)/tests/%.t: tests/%.c $(BUILD)/libvsp.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(BUILD)/libvsp.a $(LDLIBS)

$(BUILD)/tests/fuzz/%.replay: tests/fuzz/%.c tests/fuzz/replay.c $(BUILD)/libvsp.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< tests/fuzz/replay.c $(BUILD)/libvsp.a $(LDLIBS)

$(BUILD)/tests/fuzz/%.fuzz: tests/fuzz/%.c $(BUILD)/libvsp.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -DFZ_FUZZING=1 -fsanitize=fuzzer,address,undefined -o $@ $< $(BUILD)/libvsp.a $(LDLIBS)

-include $(LIB_OBJ:.o=.d) $(CLI_OBJ:.o=.d)
# Whether the Xen backend is in follows the configuration.
$(filter $(BUILD)/vmi/xen%.o $(BUILD)/vmi/libvirt.o,$(LIB_OBJ)): $(CONFIG)

$(CONFIG): Makefile
	@$(MAKE) --no-print-directory deps
	@mkdir -p $(dir $@)
	@pkg-config --exists $(PKGS) || { echo "Makefile: pkg-config does not find $(PKGS) (run make deps)" >&2; exit 1; }
	@{ echo "PKG_CFLAGS := $$(pkg-config --cflags $(PKGS))"; \
	   echo "PKG_LIBS := $$(pkg-config --libs $(PKGS))"; \
	   if pkg-config --exists $(XEN_PKGS); then \
	     echo "HAVE_XEN := 1"; echo "XEN_LIBS := $$(pkg-config --libs $(XEN_PKGS))"; \
	   else echo "HAVE_XEN :="; fi; \
	   if pkg-config --exists libsystemd; then \
	     echo "HAVE_SYSTEMD := 1"; \
	     echo "SYSTEMD_CFLAGS := $$(pkg-config --cflags libsystemd)"; \
	     echo "SYSTEMD_LIBS := $$(pkg-config --libs libsystemd)"; \
	   else echo "HAVE_SYSTEMD :="; fi; \
	   if pkg-config --exists libvirt libvirt-qemu; then \
	     echo "HAVE_LIBVIRT := 1"; \
	     echo "LIBVIRT_CFLAGS := $$(pkg-config --cflags libvirt libvirt-qemu)"; \
	     echo "LIBVIRT_LIBS := $$(pkg-config --libs libvirt libvirt-qemu)"; \
	   else echo "HAVE_LIBVIRT :="; fi; \
	   if pkg-config --exists libedit; then \
	     echo "HAVE_EDIT := 1"; \
	     echo "EDIT_CFLAGS := $$(pkg-config --cflags libedit)"; \
	     echo "EDIT_LIBS := $$(pkg-config --libs libedit)"; \
	   else echo "HAVE_EDIT :="; fi; } >$@.tmp
	@mv $@.tmp $@
	@echo "configured: $$(grep -q 'HAVE_XEN := 1' $@ && echo 'with' || echo 'without') the Xen backend ($@)"

# Install only what is missing, so a prepared machine pays one dpkg query.
deps:
	@missing=$$(for p in $(DEB_PKGS); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  echo "installing:" $$missing; \
	  if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
	  $$SUDO apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing >/dev/null; \
	fi

# VSP_SAN_FLAGS: what a shell test that links its own program against
# libvsp.a must add under SAN=1 (empty otherwise).
# The Xen tests need a QEMU with the SVM #BP intercept fix: built once
# (about 6 minutes) and cached in ~/.cache/vsp/xen; if the build fails they
# skip and say why.
# Under SAN=1 the rule packs' live tests (pack-*.t, benign.t) and the
# other Debian kernels' (kernels.t) are left out: they test the packs'
# rules and other kernel builds, and the monitor's code they run is the
# hook, syscall and kill code the other live tests run under the
# sanitizers; a plain `make check` runs them.  So is the Xen test
# (tests/xen/xen.t): with the hypercall stubs trapped, a vsp built with
# the sanitizers answers the PVH guest's timer hypercalls (vcpu_op, from
# interrupt context) slower than the timer comes due again, and the
# guest, Xen and dom0 under QEMU stop making progress (two of four SAN
# runs sat silent until the boot's limit); the backend's code is run
# under the sanitizers by tests/vmi/t_xen_loop.c.
CHECK_T := $(sort $(wildcard tests/*/*.t))
ifneq ($(SAN),)
CHECK_T := $(filter-out tests/guest/pack-%.t tests/guest/benign.t tests/guest/kernels.t tests/xen/xen.t,$(CHECK_T))
endif

check: deps
	$(MAKE) all tests
	tests/xen/rig.sh qemu || echo "Makefile: the patched QEMU did not build; tests/xen/xen.t will skip"
	VSP=$(CURDIR)/$(BUILD)/vsp BUILD=$(CURDIR)/$(BUILD) VSP_SAN_FLAGS="$(filter -fsanitize=%,$(LDFLAGS))" \
	  prove $(TEST_BIN) $(CHECK_T)

tests: all $(TEST_BIN) $(FUZZ_REPLAY)

demo: deps all
	tests/guest/demo.sh

guest: all
	tests/guest/rig.sh symbols

bench: deps all
	$(MAKE) -C bench run

# Builds the targets with clang into $(FUZZ_BUILD)/ and runs each for
# FUZZ_SECONDS on its corpus (tests/fuzz/README.md).
fuzz: deps
	$(MAKE) BUILD=$(FUZZ_BUILD)/san CC=clang SAN=fuzz fuzz-build
	FUZZ_SECONDS=$(FUZZ_SECONDS) tests/fuzz/run.sh $(FUZZ_BUILD)/san

fuzz-build: $(FUZZ_BIN) $(FUZZ_REPLAY)

install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/vsp/stdlib-policies \
	  $(DESTDIR)$(PREFIX)/share/vsp/examples $(DESTDIR)$(PREFIX)/share/man/man1
	install -m 755 $(BUILD)/vsp $(DESTDIR)$(PREFIX)/bin/vsp
	install -m 644 stdlib-policies/*.vsp stdlib-policies/*.paths $(DESTDIR)$(PREFIX)/share/vsp/stdlib-policies/
	install -m 644 examples/*.vsp examples/*.jsonl examples/*.paths $(DESTDIR)$(PREFIX)/share/vsp/examples/
	install -m 644 docs/vsp.1 $(DESTDIR)$(PREFIX)/share/man/man1/
	install -d $(DESTDIR)$(EXTDIR) $(DESTDIR)$(PREFIX)/share/vsp/examples/extensions \
	  $(DESTDIR)$(PREFIX)/include/vsp
	install -m 755 $(EXAMPLE_SO) $(DESTDIR)$(EXTDIR)/
	install -m 644 examples/extensions/*.vsp examples/extensions/*.jsonl examples/extensions/*.[ch] \
	  $(DESTDIR)$(PREFIX)/share/vsp/examples/extensions/
	install -m 644 examples/extensions/vsp_extension.h $(DESTDIR)$(PREFIX)/include/vsp/extension.h
	install -d $(DESTDIR)$(UNITDIR) $(DESTDIR)$(PREFIX)/share/doc/vsp
	sed -e 's|@BINDIR@|$(PREFIX)/bin|g' -e 's|@SYSCONFDIR@|$(SYSCONFDIR)|g' -e 's|@DOCDIR@|$(PREFIX)/share/doc/vsp|g' \
	  dist/vsp@.service.in > $(DESTDIR)$(UNITDIR)/vsp@.service
	chmod 644 $(DESTDIR)$(UNITDIR)/vsp@.service
	install -m 644 dist/guest.conf.example $(DESTDIR)$(PREFIX)/share/vsp/guest.conf.example
	install -m 644 docs/service.md $(DESTDIR)$(PREFIX)/share/doc/vsp/service.md

clean:
	rm -rf $(BUILD) vsp
