# Makefile for the asynckit headers.  Everything lands in build/.
#
#   make                 build every example
#   make test            run every test (installs what it needs when root)
#   make bench           run the benchmarks
#   make demo            build and run the demonstration
#   make CROSS=aarch64-linux-gnu-        cross-build the examples
#   make test CROSS=arm-linux-gnueabihf- unit tests cross-built, run under qemu
#
# CC, CFLAGS, LDFLAGS and CROSS can be overridden.

CROSS ?=
ifeq ($(origin CC),default)
CC := $(CROSS)gcc
endif
CFLAGS ?= -O2 -g
WARN := -std=c99 -Wall -Wextra -pedantic
LDFLAGS ?=
BUILD := build
PKG_CONFIG ?= pkg-config

EXAMPLES :=

include mk/*.mk

.PHONY: all test bench demo deps clean
all: $(EXAMPLES)

$(BUILD):
	mkdir -p $(BUILD)

deps:
	@bash tests/deps.sh

test: deps
	@CC="$(CC)" CROSS="$(CROSS)" bash tests/run.sh

bench: deps all
	@bash bench/run.sh

demo: deps all
	@bash examples/demo.sh

clean:
	rm -rf $(BUILD)
