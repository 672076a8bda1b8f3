# Makefile for the asynckit headers.  Everything lands in build/.
#
#   make                 build every example
#   make test            run every test (installs what it needs when root;
#                        otherwise skips, and names, what needs a missing package)
#   make bench           run the benchmarks
#   make demo            build and run the demonstration
#   make fuzz FUZZ_SECONDS=N   run every fuzz target for N seconds
#   make soak SOAK_SECONDS=N   N seconds (600) of mixed load, memory watched
#   make CROSS=aarch64-linux-gnu-        cross-build the examples into build/aarch64-linux-gnu/
#   make install PREFIX=/usr/local       headers into PREFIX/include/asynckit, pkg-config files
#   make test CROSS=arm-linux-gnueabihf- unit tests cross-built, run under qemu
#
# CC, CFLAGS, LDFLAGS and CROSS can be overridden.

CROSS ?=
# CROSS picks the compiler unless CC is given on the command line (a CC
# inherited from the environment, as make test passes it, must not turn a
# cross build back into a native one).
ifneq ($(CROSS),)
ifneq ($(origin CC),command line)
CC := $(CROSS)gcc
endif
else ifeq ($(origin CC),default)
CC := gcc
endif
CFLAGS ?= -O2 -g
WARN := -std=c99 -Wall -Wextra -pedantic
LDFLAGS ?=
PREFIX ?= /usr/local
ifeq ($(CROSS),)
BUILD ?= build
PKG_CONFIG ?= pkg-config
else
# Cross builds land beside the native ones and find the target's libusb.
TRIPLET := $(patsubst %-,%,$(CROSS))
BUILD ?= build/$(TRIPLET)
PKG_CONFIG ?= PKG_CONFIG_LIBDIR=/usr/lib/$(TRIPLET)/pkgconfig:/usr/share/pkgconfig pkg-config
endif
HEADERS := sched.h aio_stream.h asyncusb.h

EXAMPLES :=
DEMO_TOOLS :=

# The fragments below start with rules of their own: without this, the
# first of them (mk/aio_stream.mk's) would be what a plain `make` builds.
.DEFAULT_GOAL := all

include mk/*.mk

.PHONY: all test bench demo deps clean install uninstall fuzz soak
FUZZ_SECONDS ?= 60
SOAK_SECONDS ?= 600
all: $(EXAMPLES)

$(BUILD):
	mkdir -p $(BUILD)

deps:
	@bash tests/deps.sh

# Without root nothing is installed and the run skips (and names) what
# needs a missing package, instead of stopping before the first test.
test:
	@bash tests/deps.sh test
	@CC="$(CC)" CROSS="$(CROSS)" bash tests/run.sh

fuzz: deps
	@bash tests/fuzz/run.sh $(FUZZ_SECONDS)

# Not part of make test: echo load, USB torture and sched churn at once,
# each process's resident memory sampled (tests/soak.sh).
soak: deps
	@CC="$(CC)" SOAK_SECONDS=$(SOAK_SECONDS) bash tests/soak.sh

bench: deps all
	@bash bench/run.sh

# The demo installs only what it needs (tests/deps.sh demo), then builds:
# a second make, so that the build sees what was just installed.
demo:
	@bash tests/deps.sh demo
	@echo "Building the examples and build/fakecam..."
	@$(MAKE) -s --no-print-directory all $(DEMO_TOOLS)
	@bash examples/demo.sh

clean:
	rm -rf build

# Headers go to include/asynckit/, never straight into include/: a sched.h
# there would stand in front of the system's for every program.
install:
	install -d $(DESTDIR)$(PREFIX)/include/asynckit $(DESTDIR)$(PREFIX)/lib/pkgconfig
	install -m 644 $(HEADERS) $(DESTDIR)$(PREFIX)/include/asynckit/
	printf '%s\n' 'prefix=$(PREFIX)' 'includedir=$${prefix}/include' '' \
	  'Name: asynckit' 'Description: single-file headers for async I/O: sched.h, aio_stream.h' \
	  'Version: 0.2.0' 'Cflags: -I$${includedir}/asynckit' 'Libs: -lpthread' \
	  > $(DESTDIR)$(PREFIX)/lib/pkgconfig/asynckit.pc
	printf '%s\n' 'prefix=$(PREFIX)' 'includedir=$${prefix}/include' '' \
	  'Name: asyncusb' 'Description: asyncusb.h, async USB on libusb-1.0 (asynckit)' \
	  'Version: 0.2.0' 'Requires: asynckit libusb-1.0' 'Cflags: -I$${includedir}/asynckit' \
	  > $(DESTDIR)$(PREFIX)/lib/pkgconfig/asyncusb.pc

uninstall:
	rm -f $(addprefix $(DESTDIR)$(PREFIX)/include/asynckit/,$(HEADERS))
	rm -f $(DESTDIR)$(PREFIX)/lib/pkgconfig/asynckit.pc $(DESTDIR)$(PREFIX)/lib/pkgconfig/asyncusb.pc
	-rmdir $(DESTDIR)$(PREFIX)/include/asynckit
