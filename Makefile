# Makefile: the one, non-recursive build of hvpatch (host tools, demo guest,
# tests, fuzzers, benchmarks). `make V=1` shows full commands.

.DEFAULT_GOAL := all
B := build

ifeq ($(V),1)
Q :=
msg = @true
else
Q := @
msg = @printf '  %-7s %s\n' $(1) $(2)
endif

# ---------------------------------------------------------------- host code
CC := gcc
PKGS := jansson
HOST_CPPFLAGS := -Iinclude -I. -D_GNU_SOURCE -MMD -MP
HOST_CFLAGS := -std=c11 -O2 -g -Wall -Wextra -Werror -Wshadow \
	-Wformat=2 -Wstrict-prototypes -Wmissing-prototypes -Wvla \
	-fstack-protector-strong -fstack-clash-protection -fcf-protection \
	-D_FORTIFY_SOURCE=2 -fPIE
HOST_LDFLAGS := -pie -Wl,-z,relro,-z,now,-z,noexecstack
HOST_LIBS := -Wl,--as-needed -ljansson -lcbor -lmbedtls -lmbedx509 \
	-lmbedcrypto -ltss2-esys -ltss2-tctildr -ltss2-mu -ltss2-rc -lseccomp \
	-lpthread

# One source per line, grouped by component.
HV_SRCS := \
	hv/hv_kvm.c \
	hv/hv_kvm_x86_64.c \
	hv/hv_vcpu.c \
	hv/hv_elf.c \
	hv/hv_prot.c \
	hv/hv_dev_serial.c \
	hv/hv_hypercall.c \
	hv/hv_control.c \
	hv/hv_log.c \
	hv/hv_run.c
FW_SRCS := \
	firmware/fw_boot.c
CLI_SRCS := \
	cli/hvpatch.c \
	cli/cli_control.c
# verifier/ and keys/ (signed packages): one source per line.
VRF_SRCS :=
KEYS_SRCS :=
# TPM, measured boot and event log: one source per line.
TPM_SRCS :=

HOST_SRCS := $(HV_SRCS) $(FW_SRCS) $(VRF_SRCS) $(KEYS_SRCS) $(TPM_SRCS) \
	$(CLI_SRCS)
HOST_OBJS := $(HOST_SRCS:%.c=$(B)/host/%.o)
ASAN_OBJS := $(HOST_SRCS:%.c=$(B)/asan/%.o)
DEMO_OBJ := $(B)/host/hv/hv_demo_image.o
ASAN_DEMO_OBJ := $(B)/asan/hv/hv_demo_image.o

# The ASan+UBSan build of the same host code, run by `make check`.
SAN_FLAGS := -fsanitize=address,undefined -fno-sanitize-recover=all \
	-fno-omit-frame-pointer

$(B)/host/%.o: %.c
	$(call msg,CC,$@)
	@mkdir -p $(@D)
	$(Q)$(CC) $(HOST_CPPFLAGS) $(HOST_CFLAGS) -c $< -o $@

$(B)/asan/%.o: %.c
	$(call msg,CC-SAN,$@)
	@mkdir -p $(@D)
	$(Q)$(CC) $(HOST_CPPFLAGS) $(filter-out -D_FORTIFY_SOURCE=2,$(HOST_CFLAGS)) \
		-O1 $(SAN_FLAGS) -c $< -o $@

# The demo guest image is linked into the binary: `hvpatch run` needs no
# other file.
$(B)/host/hv/hv_demo_image.o $(B)/asan/hv/hv_demo_image.o: \
		hv/hv_demo_image.S $(B)/guest/demo.elf
	$(call msg,AS,$@)
	@mkdir -p $(@D)
	$(Q)$(CC) -c -DDEMO_ELF='"$(B)/guest/demo.elf"' $< -o $@

$(B)/hvpatch: $(HOST_OBJS) $(DEMO_OBJ)
	$(call msg,LD,$@)
	$(Q)$(CC) $(HOST_LDFLAGS) $^ $(HOST_LIBS) -o $@

$(B)/asan/hvpatch: $(ASAN_OBJS) $(ASAN_DEMO_OBJ)
	$(call msg,LD-SAN,$@)
	$(Q)$(CC) $(HOST_LDFLAGS) $(SAN_FLAGS) $^ $(HOST_LIBS) -o $@

# ---------------------------------------------------------------- demo guest
# Freestanding x86-64, linked at fixed addresses (see hv/hv_abi.h).
GUEST_CC := gcc
GUEST_CFLAGS := -std=c11 -O2 -g -Wall -Wextra -Werror \
	-ffreestanding -nostdlib -fno-builtin \
	-fno-pic -fno-pie \
	-fno-stack-protector \
	-fcf-protection=none \
	-mno-red-zone \
	-mgeneral-regs-only \
	-fno-asynchronous-unwind-tables \
	-fpatchable-function-entry=5,0
# -fno-pic/-fno-pie: fixed link addresses, no GOT.
# -fno-stack-protector: no TLS canary in a freestanding image.
# -fcf-protection=none: no endbr64, so a function starts with its patch pad.
# -mno-red-zone: exceptions at CPL 0 push onto the current stack.
# -mgeneral-regs-only: no SSE/x87/AVX state; CPUID hides XSAVE anyway.
# -fpatchable-function-entry=5,0: a 5-byte NOP pad at every function entry,
#   where a hot patch writes its `jmp rel32` (the ftrace-style site).
GUEST_LDFLAGS := -nostdlib -static -no-pie -Wl,--build-id=none \
	-Wl,-z,max-page-size=4096 -Wl,-z,noexecstack
GUEST_SRCS := \
	guest/entry.S \
	guest/kernel.c \
	guest/ulib.c \
	guest/workload.c
GUEST_OBJS := $(patsubst %,$(B)/%.o,$(GUEST_SRCS))

$(B)/guest/%.c.o: guest/%.c
	$(call msg,GUEST-CC,$@)
	@mkdir -p $(@D)
	$(Q)$(GUEST_CC) -I. -MMD -MP $(GUEST_CFLAGS) -c $< -o $@

$(B)/guest/%.S.o: guest/%.S
	$(call msg,GUEST-AS,$@)
	@mkdir -p $(@D)
	$(Q)$(GUEST_CC) -I. -MMD -MP $(GUEST_CFLAGS) -c $< -o $@

$(B)/guest/demo.elf: $(GUEST_OBJS) guest/guest.ld
	$(call msg,GUEST-LD,$@)
	$(Q)$(GUEST_CC) $(GUEST_CFLAGS) $(GUEST_LDFLAGS) -T guest/guest.ld \
		$(GUEST_OBJS) -o $@

# ---------------------------------------------------------------- tests
# Tiny hostile guests for the monitor's fatal paths (tests/guests/*.S).
TEST_GUESTS := \
	unknown_port \
	triple_fault \
	mmio_read
TEST_GUEST_ELFS := $(TEST_GUESTS:%=$(B)/tests/guests/%.elf)

$(B)/tests/guests/%.elf: tests/guests/%.S tests/guests/test.ld
	$(call msg,GUEST-LD,$@)
	@mkdir -p $(@D)
	$(Q)$(GUEST_CC) $(GUEST_CFLAGS) $(GUEST_LDFLAGS) -T tests/guests/test.ld \
		$< -o $@

CMOCKA_LIBS := -lcmocka
# Unit tests: tests/unit/test_<name>.c, linked with the host objects they
# name in UNIT_DEPS_<name>.
# Monitor.
UNIT_TESTS := \
	elf \
	control
UNIT_DEPS_elf := hv/hv_elf.c hv/hv_log.c
UNIT_DEPS_control := hv/hv_control.c hv/hv_log.c
# Signed packages (verifier/, keys/).
UNIT_TESTS +=
# TPM and event log.
UNIT_TESTS +=
UNIT_BINS := $(UNIT_TESTS:%=$(B)/tests/unit/test_%)

define unit_rule
$(B)/tests/unit/test_$(1): tests/unit/test_$(1).c \
		$(UNIT_DEPS_$(1):%.c=$(B)/asan/%.o)
	$$(call msg,TEST-LD,$$@)
	@mkdir -p $$(@D)
	$$(Q)$$(CC) $$(HOST_CPPFLAGS) $$(filter-out -D_FORTIFY_SOURCE=2,$$(HOST_CFLAGS)) \
		-O1 $$(SAN_FLAGS) $$^ $$(CMOCKA_LIBS) $$(HOST_LIBS) -o $$@
endef
$(foreach t,$(UNIT_TESTS),$(eval $(call unit_rule,$(t))))

# libFuzzer targets: tests/fuzz/fuzz_<name>.c with the sources in
# FUZZ_DEPS_<name>, built by clang with ASan+UBSan (LSan included).
FUZZ_CC := clang
# Monitor.
FUZZ_TARGETS := \
	elf \
	control
FUZZ_DEPS_elf := hv/hv_elf.c hv/hv_log.c
FUZZ_DEPS_control := hv/hv_control.c hv/hv_log.c
# Signed packages (verifier/, keys/).
FUZZ_TARGETS +=
# TPM and event log.
FUZZ_TARGETS +=
FUZZ_BINS := $(FUZZ_TARGETS:%=$(B)/fuzz/fuzz_%)
FUZZ_FLAGS := -std=c11 -g -O1 -Wall -Wextra -Werror -Iinclude -I. \
	-D_GNU_SOURCE -fsanitize=fuzzer,address,undefined \
	-fno-sanitize-recover=all -DHV_FUZZING

define fuzz_rule
$(B)/fuzz/fuzz_$(1): tests/fuzz/fuzz_$(1).c $(FUZZ_DEPS_$(1))
	$$(call msg,FUZZ-LD,$$@)
	@mkdir -p $$(@D)
	$$(Q)$$(FUZZ_CC) $$(FUZZ_FLAGS) $$^ $$(HOST_LIBS) -o $$@
endef
$(foreach t,$(FUZZ_TARGETS),$(eval $(call fuzz_rule,$(t))))

# ---------------------------------------------------------------- targets
.PHONY: all deps deps-test build-check check demo bench fuzz clean format

all: deps $(B)/hvpatch

deps:
	@scripts/deps.sh build
deps-test:
	@scripts/deps.sh test

build-check: $(B)/hvpatch $(B)/asan/hvpatch $(UNIT_BINS) $(FUZZ_BINS) \
	$(TEST_GUEST_ELFS)

# The whole test suite; ends with one line "N passed, N failed, N skipped".
check: deps-test
	$(Q)$(MAKE) --no-print-directory build-check
	$(Q)tests/run

demo: deps
	$(Q)$(MAKE) --no-print-directory $(B)/hvpatch
	$(Q)tests/demo.sh

bench: deps-test
	$(Q)$(MAKE) --no-print-directory $(B)/hvpatch
	$(Q)tests/bench/bench.sh

# Longer fuzzing than `make check` does: FUZZ_SECONDS per target.
FUZZ_SECONDS ?= 300
fuzz: deps-test
	$(Q)$(MAKE) --no-print-directory $(FUZZ_BINS)
	$(Q)FUZZ_SECONDS=$(FUZZ_SECONDS) tests/fuzz/run.sh $(FUZZ_TARGETS)

format:
	clang-format -i $(filter %.c %.h,$(HOST_SRCS) $(wildcard */*.h))

clean:
	rm -rf $(B)

-include $(shell find $(B) -name '*.d' 2>/dev/null)
