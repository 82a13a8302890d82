# frugal build. `make` builds build/frugal and build/libfrugal.a.
# `make run MODEL=x.gguf` generates text; `make test` runs every test (release + ASan/UBSan).
CC ?= cc
ifeq ($(origin CC),default)
CC := gcc
endif
BUILD ?= build
OPT ?= -O2
SAN ?=
# Extra flags for the SIMD sources only (tests/fuzz/run.sh builds them without UBSan: clang 14
# with it spent over 13 minutes on each of the larger unrolled kernel files)
SAN_SIMD ?=
CFLAGS_BASE := -std=c17 -D_GNU_SOURCE -Wall -Wextra -Wshadow -Wno-unused-parameter $(OPT) -g \
	-Iinclude -Isrc -Isrc/core -pthread $(SAN)
CFLAGS_AVX2 := -mavx2 -mfma -mf16c
CFLAGS_VNNI := $(CFLAGS_AVX2) -mavxvnni
CFLAGS_AVX512 := $(CFLAGS_AVX2) -mavx512f
CFLAGS_AVX512VNNI := $(CFLAGS_AVX512) -mavx512bw -mavx512vnni
CFLAGS_AMX := $(CFLAGS_AVX512VNNI) -mamx-tile -mamx-int8
CFLAGS_AVX512BF16 := $(CFLAGS_AVX512) -mavx512bw -mavx512bf16
LDLIBS := -pthread -lm $(shell pkg-config --libs jansson 2>/dev/null || echo -ljansson)
# tokenizer: Oniguruma (the regex engine of Hugging Face's tokenizers) and utf8proc (NFC/NFKC)
LDLIBS += $(shell pkg-config --libs oniguruma 2>/dev/null || echo -lonig) \
	$(shell pkg-config --libs libutf8proc 2>/dev/null || echo -lutf8proc) \
	$(shell pkg-config --libs libedit 2>/dev/null || echo -ledit) \
	$(shell pkg-config --libs libmicrohttpd 2>/dev/null || echo -lmicrohttpd)
DEPFLAGS = -MMD -MP

# The target's SIMD sources: x86 (*_avx2.c, *_vnni.c, *_avx512*.c, *_amx.c; each built with its own
# flags and run only where the CPU has them) or AArch64 (*_neon.c); other targets build the
# portable C alone.
TARGET_ARCH_NAME := $(firstword $(subst -, ,$(shell $(CC) -dumpmachine 2>/dev/null)))
X86_SIMD_SRC := $(shell find src -name '*_avx2.c' -o -name '*_vnni.c' -o -name '*_avx512.c' -o -name '*_avx512vnni.c' -o -name '*_avx512bf16.c' \
	-o -name '*_amx.c')
NEON_SRC := $(shell find src -name '*_neon.c')
ifneq ($(filter x86_64 i686 i586 i386,$(TARGET_ARCH_NAME)),)
ARCH_EXCLUDE := $(NEON_SRC)
else ifeq ($(TARGET_ARCH_NAME),aarch64)
ARCH_EXCLUDE := $(X86_SIMD_SRC)
else
ARCH_EXCLUDE := $(X86_SIMD_SRC) $(NEON_SRC)
endif
CFLAGS_NEON := -march=armv8.2-a+dotprod
LIB_SRC := $(sort $(filter-out $(ARCH_EXCLUDE),$(shell find src -name '*.c')))
CLI_SRC := $(sort $(wildcard apps/cli/*.c apps/serve/*.c))
TEST_SRC := $(sort $(wildcard tests/unit/test_*.c))
TEST_COMMON := $(filter-out $(TEST_SRC),$(wildcard tests/unit/*.c))

LIB_OBJ := $(LIB_SRC:%.c=$(BUILD)/obj/%.o)
CLI_OBJ := $(CLI_SRC:%.c=$(BUILD)/obj/%.o) $(BUILD)/obj/gen/webui.o
TEST_COMMON_OBJ := $(TEST_COMMON:%.c=$(BUILD)/obj/%.o)
TEST_BIN := $(TEST_SRC:tests/unit/%.c=$(BUILD)/tests/%)

.PHONY: all setup run test test-release test-asan test-arm64 test-cross tests clean format fuzz print-ldlibs
all: $(BUILD)/frugal $(BUILD)/libfrugal.a

$(BUILD)/obj/%_avx2.o: %_avx2.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_BASE) $(SAN_SIMD) $(CFLAGS_AVX2) $(DEPFLAGS) -c $< -o $@

$(BUILD)/obj/%_vnni.o: %_vnni.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_BASE) $(SAN_SIMD) $(CFLAGS_VNNI) $(DEPFLAGS) -c $< -o $@

$(BUILD)/obj/%_avx512vnni.o: %_avx512vnni.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_BASE) $(SAN_SIMD) $(CFLAGS_AVX512VNNI) $(DEPFLAGS) -c $< -o $@

$(BUILD)/obj/%_avx512bf16.o: %_avx512bf16.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_BASE) $(SAN_SIMD) $(CFLAGS_AVX512BF16) $(DEPFLAGS) -c $< -o $@

$(BUILD)/obj/%_amx.o: %_amx.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_BASE) $(SAN_SIMD) $(CFLAGS_AMX) $(DEPFLAGS) -c $< -o $@

$(BUILD)/obj/%_avx512.o: %_avx512.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_BASE) $(SAN_SIMD) $(CFLAGS_AVX512) $(DEPFLAGS) -c $< -o $@

$(BUILD)/obj/%_neon.o: %_neon.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_BASE) $(SAN_SIMD) $(CFLAGS_NEON) $(DEPFLAGS) -c $< -o $@

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_BASE) $(DEPFLAGS) -c $< -o $@

# the chat page of `frugal serve`, bundled into the binary
$(BUILD)/tools/embed: tools/embed.c
	@mkdir -p $(dir $@)
	$(CC) -O1 -o $@ $<

$(BUILD)/gen/webui.c: apps/serve/webui.html $(BUILD)/tools/embed
	@mkdir -p $(dir $@)
	$(BUILD)/tools/embed frugal_webui_html $< $@

$(BUILD)/obj/gen/webui.o: $(BUILD)/gen/webui.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_BASE) -c $< -o $@

$(BUILD)/libfrugal.a: $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/frugal: $(CLI_OBJ) $(BUILD)/libfrugal.a
	$(CC) $(CFLAGS_BASE) -o $@ $(CLI_OBJ) $(BUILD)/libfrugal.a $(LDLIBS)

$(BUILD)/tests/%: $(BUILD)/obj/tests/unit/%.o $(TEST_COMMON_OBJ) $(BUILD)/libfrugal.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_BASE) -o $@ $< $(TEST_COMMON_OBJ) $(BUILD)/libfrugal.a $(LDLIBS)

tests: $(TEST_BIN) $(BUILD)/frugal

setup:
	@sh scripts/setup.sh

# Coverage-guided fuzzing of the parsers (clang + libFuzzer; not part of `make test`):
# FUZZ_SECONDS per target (tests/fuzz/run.sh).
FUZZ_SECONDS ?= 60
fuzz:
	@sh tests/fuzz/run.sh $(FUZZ_SECONDS)

print-ldlibs:
	@echo $(LDLIBS)

# Release tests, then the same tests built with AddressSanitizer + UBSan, each build on every
# CPU (tests/run.sh runs the suites side by side too); each phase says when it starts.
NPROC := $(shell nproc 2>/dev/null || echo 1)
test: setup
	@echo "== release build and tests ($$(date -u +%H:%M:%S))"
	@$(MAKE) --no-print-directory -j$(NPROC) test-release
	@echo "== ASan + UBSan build and tests ($$(date -u +%H:%M:%S))"
	@$(MAKE) --no-print-directory test-asan
	@echo "== AArch64 build and tests ($$(date -u +%H:%M:%S))"
	@$(MAKE) --no-print-directory test-cross
	@echo "== all tests passed ($$(date -u +%H:%M:%S))"

# On x86-64 hosts, the AArch64 build and its NEON kernels too (test-arm64), where the cross
# compiler and qemu exist (scripts/setup.sh installs them); with CI=true their absence fails.
test-cross:
	@if [ "$$(uname -m)" != x86_64 ]; then exit 0; fi; \
	if command -v $(ARM_CC) >/dev/null 2>&1 && command -v qemu-aarch64-static >/dev/null 2>&1; then \
	  $(MAKE) --no-print-directory test-arm64; \
	elif [ "$${CI:-}" = true ]; then \
	  echo "FAIL arm64: $(ARM_CC) or qemu-aarch64-static missing (CI=true)"; exit 1; \
	else \
	  echo "SKIPPED arm64: install gcc-aarch64-linux-gnu and qemu-user-static to test the NEON kernels"; \
	fi

test-release: tests
	@sh tests/run.sh $(BUILD) release

test-asan:
	@$(MAKE) --no-print-directory -j$(NPROC) BUILD=build/asan OPT=-O1 \
	  SAN="-fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer" tests
	@FRUGAL_SANITIZED=1 ASAN_OPTIONS=detect_leaks=1 sh tests/run.sh build/asan asan

# AArch64: the library cross-compiled (gcc-aarch64-linux-gnu) and the unit tests that need no
# model files run under qemu-user-static: the NEON kernels against the scalar references, bit
# for bit. `make test` runs it where scripts/setup.sh could install the cross tools. The tests
# are linked statically (no host loader or multiarch libc can get in the way) and built with
# -O1: Debian's aarch64 gcc 12 crashes in its vectorizer on test_quants.c and test_quants_k.c
# at -O2 (the library itself is built as usual).
ARM_CC ?= aarch64-linux-gnu-gcc
ARM_BUILD := build/arm64
ARM_TESTS := test_tiles test_runtime test_quants test_quants_k test_gguf test_sampler test_json_guard test_wrow test_mla_kernels
test-arm64:
	@$(MAKE) --no-print-directory -j$(NPROC) BUILD=$(ARM_BUILD) CC=$(ARM_CC) $(ARM_BUILD)/libfrugal.a
	@mkdir -p $(ARM_BUILD)/tests
	@for t in $(ARM_TESTS); do \
	  $(ARM_CC) $(CFLAGS_BASE) -O1 -Itests/unit -o $(ARM_BUILD)/tests/$$t tests/unit/$$t.c \
	    $(ARM_BUILD)/libfrugal.a -static -pthread -lm || exit 1; done
	@FRUGAL_QEMU=qemu-aarch64-static sh tests/run_arm64.sh $(ARM_BUILD) $(ARM_TESTS)

MODEL ?=
run: setup all
	@sh scripts/run.sh "$(MODEL)"

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	rm -rf build

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)
