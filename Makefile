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
# Shared by every component (lib/): linked into every host binary, unit
# test, fuzzer and test tool.
LIB_SRCS := \
	lib/lib_err.c \
	lib/lib_hex.c \
	lib/lib_ksym.c
HV_SRCS := \
	hv/hv_kvm.c \
	hv/hv_kvm_x86_64.c \
	hv/hv_vcpu.c \
	hv/hv_elf.c \
	hv/hv_prot.c \
	hv/hv_dev.c \
	hv/hv_dev_serial.c \
	hv/hv_dev_platform.c \
	hv/hv_hypercall.c \
	hv/hv_control.c \
	hv/hv_log.c \
	hv/hv_run.c \
	hv/hv_patch.c \
	hv/hv_health.c \
	hv/hv_lock.c \
	hv/hv_run_linux.c \
	hv/hv_vrf.c \
	hv/hv_seccomp.c \
	hv/hv_exe.c
FW_SRCS := \
	firmware/fw_boot.c
# Linux guest boot protocol: kernel file parsers, boot firmware, ACPI.
LINUX_SRCS := \
	hv/hv_linux.c \
	firmware/fw_linux.c \
	firmware/fw_acpi.c
CLI_SRCS := \
	cli/hvpatch.c \
	cli/cli_control.c \
	cli/cli_health.c
# The verifier process and the sandbox both processes enter.
VRF_PROC_SRCS := \
	verifier/vrf_proc.c \
	verifier/vrf_msg.c \
	verifier/vrf_shm.c \
	verifier/vrf_patch.c \
	verifier/vrf_lock.c \
	verifier/vrf_proc_tpm.c \
	verifier/vrf_proc_trust.c \
	verifier/vrf_sandbox.c
# verifier/ and keys/ (signed packages): one source per line.
VRF_SRCS := \
	verifier/vrf_cbor.c \
	verifier/vrf_err.c \
	verifier/vrf_file.c \
	verifier/vrf_pkg.c \
	verifier/vrf_sig.c \
	verifier/vrf_trust.c \
	verifier/vrf_util.c \
	verifier/vrf_time.c \
	verifier/vrf_verify.c
KEYS_SRCS := \
	keys/keys_build.c \
	keys/keys_cert.c \
	keys/keys_cli.c \
	keys/keys_elf.c \
	keys/keys_err.c \
	keys/keys_gen.c \
	keys/keys_io.c \
	keys/keys_linux.c \
	keys/keys_pkg.c \
	keys/keys_show.c \
	keys/keys_sign.c \
	keys/keys_sysmap.c \
	keys/keys_trust.c
# TPM, measured boot and event log: one source per line.
TPM_SRCS := \
	firmware/fw_eventlog.c \
	firmware/fw_measure.c \
	verifier/vrf_tpm.c \
	verifier/vrf_tpm_tcti.c \
	verifier/vrf_tpm_files.c \
	verifier/vrf_tpm_check.c \
	verifier/vrf_tpm_cli.c \
	hv/hv_swtpm.c
# Test-only helper for tests/integration/tpm.bats: drives the TPM layer
# (swtpm, measured boot, quote, NV counter) without a VM, from the
# ASan+UBSan objects; built by `make check` with everything else.
$(B)/tests/tpm_tool: tests/integration/tpm_tool.c \
		$(TPM_SRCS:%.c=$(B)/asan/%.o) $(B)/asan/verifier/vrf_file.o \
		$(LIB_SRCS:%.c=$(B)/asan/%.o)
	$(call msg,TEST-LD,$@)
	@mkdir -p $(@D)
	$(Q)$(CC) $(HOST_CPPFLAGS) $(filter-out -D_FORTIFY_SOURCE=2,$(HOST_CFLAGS)) \
		-O1 $(SAN_FLAGS) $^ $(HOST_LIBS) -o $@
build-check: $(B)/tests/tpm_tool
# The same helper without sanitizers, for `make bench`'s TPM timings.
$(B)/bench/tpm_tool: tests/integration/tpm_tool.c \
		$(TPM_SRCS:%.c=$(B)/host/%.o) $(B)/host/verifier/vrf_file.o \
		$(LIB_SRCS:%.c=$(B)/host/%.o)
	$(call msg,LD,$@)
	@mkdir -p $(@D)
	$(Q)$(CC) $(HOST_CPPFLAGS) $(HOST_CFLAGS) $(HOST_LDFLAGS) $^ \
		$(HOST_LIBS) -o $@
# libvirt lab (lab/): eligibility probe and kernel-text audit; one source
# per line. libvirt and libxml2 are dlopen()ed by lab_virt.c and
# lab_probe.c when a lab command runs (the monitor must not map them), so
# only their headers are needed here.
LAB_SRCS := \
	lab/lab_err.c \
	lab/lab_symbols.c \
	lab/lab_record.c \
	lab/lab_audit.c \
	lab/lab_pkgs.c \
	lab/lab_virt.c \
	lab/lab_probe.c \
	lab/lab_cli.c \
	lab/lab_audit_cli.c
$(B)/host/lab/lab_probe.o $(B)/asan/lab/lab_probe.o: \
	HOST_CPPFLAGS += $(shell pkg-config --cflags libxml-2.0 2>/dev/null)
# ASan intercepts the XDR calls of libvirt's RPC and resolves them at
# start-up: with libvirt dlopen()ed later they would call NULL, so the
# sanitizer build loads libtirpc from the start.
$(B)/asan/hvpatch: HOST_LIBS += -Wl,--no-as-needed -l:libtirpc.so.3 \
	-Wl,--as-needed

# The verifier's hash-chained audit log (library) and `hvpatch audit
# verify`; one source per line.
AUDIT_SRCS := \
	verifier/vrf_audit.c \
	verifier/vrf_audit_cli.c

# The three programs, each linked with only what it needs (--as-needed
# drops the rest; docs/MONITOR.md, "Processes"): hvpatch, the CLI, whose
# `run` execs hvpatch-monitor, the VMM, which execs hvpatch-verifier. The
# monitor maps no tpm2-tss, libcrypto or X.509 (tests/integration/
# process.bats), the verifier no monitor code.
MONITOR_SRCS := \
	$(LIB_SRCS) \
	hv/hv_main.c \
	$(HV_SRCS) \
	$(FW_SRCS) \
	$(LINUX_SRCS) \
	hv/hv_swtpm.c \
	verifier/vrf_msg.c \
	verifier/vrf_shm.c \
	verifier/vrf_err.c \
	verifier/vrf_file.c \
	verifier/vrf_time.c \
	verifier/vrf_sandbox.c
MONITOR_LIBS := -Wl,--as-needed -ljansson -lmbedcrypto -lseccomp -lpthread
# What the verifier runs, without its main (tests/unit/test_isolation).
VERIFIER_LIB_SRCS := \
	$(LIB_SRCS) \
	$(VRF_PROC_SRCS) \
	$(VRF_SRCS) \
	$(LINUX_SRCS) \
	hv/hv_elf.c \
	hv/hv_log.c \
	firmware/fw_boot.c \
	$(filter-out verifier/vrf_tpm_cli.c hv/hv_swtpm.c,$(TPM_SRCS)) \
	verifier/vrf_audit.c \
	keys/keys_trust.c \
	keys/keys_err.c \
	keys/keys_io.c
VERIFIER_SRCS := \
	verifier/vrf_main.c \
	$(VERIFIER_LIB_SRCS)
CLI_PROG_SRCS := \
	$(LIB_SRCS) \
	$(CLI_SRCS) \
	$(KEYS_SRCS) \
	$(VRF_SRCS) \
	$(TPM_SRCS) \
	$(LAB_SRCS) \
	$(AUDIT_SRCS) \
	$(LINUX_SRCS) \
	hv/hv_exe.c \
	hv/hv_log.c \
	hv/hv_elf.c \
	hv/hv_control.c \
	verifier/vrf_msg.c

HOST_SRCS := $(LIB_SRCS) $(HV_SRCS) $(FW_SRCS) $(LINUX_SRCS) $(VRF_PROC_SRCS) $(VRF_SRCS) $(KEYS_SRCS) $(TPM_SRCS) \
	$(CLI_SRCS) $(LAB_SRCS) $(AUDIT_SRCS) hv/hv_main.c verifier/vrf_main.c
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

# Where an installed hvpatch looks for its two helper programs when they
# are not next to it (hv/hv_exe.h).
PREFIX ?= /usr/local
LIBEXECDIR := $(PREFIX)/libexec/hvpatch
$(B)/host/hv/hv_exe.o $(B)/asan/hv/hv_exe.o: \
	HOST_CPPFLAGS += -DHV_LIBEXECDIR='"$(LIBEXECDIR)"'

$(B)/hvpatch: $(CLI_PROG_SRCS:%.c=$(B)/host/%.o)
	$(call msg,LD,$@)
	$(Q)$(CC) $(HOST_LDFLAGS) $^ $(HOST_LIBS) -o $@

$(B)/hvpatch-monitor: $(MONITOR_SRCS:%.c=$(B)/host/%.o) $(DEMO_OBJ)
	$(call msg,LD,$@)
	$(Q)$(CC) $(HOST_LDFLAGS) $^ $(MONITOR_LIBS) -o $@

$(B)/hvpatch-verifier: $(VERIFIER_SRCS:%.c=$(B)/host/%.o)
	$(call msg,LD,$@)
	$(Q)$(CC) $(HOST_LDFLAGS) $^ $(HOST_LIBS) -o $@

$(B)/asan/hvpatch: $(CLI_PROG_SRCS:%.c=$(B)/asan/%.o)
	$(call msg,LD-SAN,$@)
	$(Q)$(CC) $(HOST_LDFLAGS) $(SAN_FLAGS) $^ $(HOST_LIBS) -o $@

$(B)/asan/hvpatch-monitor: $(MONITOR_SRCS:%.c=$(B)/asan/%.o) $(ASAN_DEMO_OBJ)
	$(call msg,LD-SAN,$@)
	$(Q)$(CC) $(HOST_LDFLAGS) $(SAN_FLAGS) $^ $(MONITOR_LIBS) -o $@

$(B)/asan/hvpatch-verifier: $(VERIFIER_SRCS:%.c=$(B)/asan/%.o)
	$(call msg,LD-SAN,$@)
	$(Q)$(CC) $(HOST_LDFLAGS) $(SAN_FLAGS) $^ $(HOST_LIBS) -o $@

PROGS := $(B)/hvpatch $(B)/hvpatch-monitor $(B)/hvpatch-verifier
ASAN_PROGS := $(PROGS:$(B)/%=$(B)/asan/%)

# ---------------------------------------------------------------- demo guest
# Freestanding x86-64, linked at fixed addresses (see hv/hv_abi.h). The
# flags, each with its reason, are in guest/guest_cflags.h, which
# `hvpatch build` compiles demo packages with too.
# -ffile-prefix-map: the image, and so the baseline every package names,
# is the same bytes wherever the tree is checked out.
GUEST_CC := gcc
GUEST_CFLAGS := $(shell sed -n 's/^GUEST_CFLAG("\(.*\)")$$/\1/p' \
	guest/guest_cflags.h) \
	-ffile-prefix-map=$(CURDIR)=.
GUEST_LDFLAGS := -nostdlib -static -no-pie -Wl,--build-id=none \
	-Wl,-z,max-page-size=4096 -Wl,-z,noexecstack
GUEST_SRCS := \
	guest/entry.S \
	guest/kernel.c \
	guest/ulib.c \
	guest/workload.c
GUEST_OBJS := $(patsubst %,$(B)/%.o,$(GUEST_SRCS))
$(GUEST_OBJS): guest/guest_cflags.h

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

# A tiny kernel with a PVH entry note for `hvpatch run --kernel` on any
# KVM (tests/integration/linux_run.bats): one RWX segment at 1 MiB.
$(B)/tests/guests/pvh_platform.elf: tests/guests/pvh_platform.S \
		tests/guests/pvh.ld
	$(call msg,GUEST-LD,$@)
	@mkdir -p $(@D)
	$(Q)$(GUEST_CC) $(GUEST_CFLAGS) $(GUEST_LDFLAGS) \
		-Wl,--no-warn-rwx-segments -T tests/guests/pvh.ld $< -o $@
build-check: $(B)/tests/guests/pvh_platform.elf
# The test initramfs's /bin/hvpatch-lock (tests/lib/linux-guest.sh): a
# static Linux user program, no libc.
LOCK_PORT := $(B)/tests/guests/lock_port
$(LOCK_PORT): tests/guests/lock_port.S
	$(call msg,LD,$@)
	@mkdir -p $(@D)
	$(Q)$(GUEST_CC) -nostdlib -static -no-pie -Wl,--build-id=none $< -o $@
build-check: $(LOCK_PORT)

CMOCKA_LIBS := -lcmocka
# Unit tests: tests/unit/test_<name>.c, linked with the host objects they
# name in UNIT_DEPS_<name>.
# Shared code (lib/), which every test links.
UNIT_TESTS := \
	lib
UNIT_DEPS_lib :=
# Monitor.
UNIT_TESTS += \
	elf \
	control \
	serial \
	health \
	platform
UNIT_DEPS_elf := hv/hv_elf.c hv/hv_log.c
UNIT_DEPS_control := hv/hv_control.c hv/hv_log.c verifier/vrf_msg.c
UNIT_DEPS_serial := hv/hv_dev_serial.c hv/hv_dev.c hv/hv_log.c
UNIT_DEPS_health := hv/hv_health.c hv/hv_dev_serial.c hv/hv_dev.c
UNIT_DEPS_platform := hv/hv_dev_platform.c hv/hv_dev.c
# Signed packages (verifier/, keys/).
UNIT_TESTS += \
	vrf \
	vrf_vectors \
	vrf_tamper \
	keys
UNIT_DEPS_vrf := $(VRF_SRCS) keys/keys_cert.c keys/keys_err.c \
	keys/keys_io.c keys/keys_pkg.c keys/keys_sign.c \
	tests/unit/test_vrf_support.c
UNIT_DEPS_vrf_vectors := $(UNIT_DEPS_vrf)
UNIT_DEPS_vrf_tamper := $(UNIT_DEPS_vrf) keys/keys_elf.c keys/keys_trust.c
UNIT_DEPS_keys := $(VRF_SRCS) $(filter-out keys/keys_cli.c,$(KEYS_SRCS)) \
	$(LINUX_SRCS)
# A Linux kernel's symbol table and ftrace sites (`hvpatch build`, kind
# linux).
UNIT_TESTS += \
	sysmap
UNIT_DEPS_sysmap := keys/keys_sysmap.c keys/keys_linux.c keys/keys_err.c \
	keys/keys_io.c $(VRF_SRCS) $(LINUX_SRCS)
# TPM and event log.
UNIT_TESTS += \
	eventlog \
	tpm_attest
UNIT_DEPS_eventlog := firmware/fw_eventlog.c firmware/fw_measure.c
UNIT_DEPS_tpm_attest := firmware/fw_eventlog.c firmware/fw_measure.c \
	verifier/vrf_tpm.c verifier/vrf_tpm_tcti.c verifier/vrf_tpm_files.c \
	verifier/vrf_tpm_check.c verifier/vrf_file.c
# Audit log: pcr10 members follow fw_eventlog's runtime-record rules; the
# test builds the event logs they are compared with (fw_measure).
UNIT_TESTS += \
	audit
UNIT_DEPS_audit := verifier/vrf_audit.c verifier/vrf_util.c \
	verifier/vrf_time.c \
	verifier/vrf_file.c \
	firmware/fw_eventlog.c firmware/fw_measure.c
# The verifier's patch engine.
UNIT_TESTS += \
	patch \
	lock
UNIT_DEPS_patch := verifier/vrf_patch.c verifier/vrf_msg.c \
	verifier/vrf_shm.c \
	verifier/vrf_audit.c hv/hv_log.c $(UNIT_DEPS_tpm_attest) $(VRF_SRCS) \
	keys/keys_trust.c keys/keys_err.c keys/keys_io.c
# A Linux guest's text lock against guest RAM in a memfd.
UNIT_DEPS_lock := $(UNIT_DEPS_patch) verifier/vrf_lock.c \
	verifier/vrf_proc_tpm.c $(LINUX_SRCS) firmware/fw_boot.c
# libvirt lab (lab/).
LAB_VRF_DEPS := verifier/vrf_cbor.c verifier/vrf_err.c verifier/vrf_pkg.c \
	verifier/vrf_sig.c verifier/vrf_trust.c verifier/vrf_util.c \
	verifier/vrf_time.c \
	verifier/vrf_verify.c verifier/vrf_file.c keys/keys_err.c keys/keys_io.c \
	keys/keys_trust.c
UNIT_TESTS += \
	lab_record \
	lab_audit \
	lab_probe
UNIT_DEPS_lab_record := lab/lab_err.c lab/lab_symbols.c lab/lab_record.c
UNIT_DEPS_lab_audit := lab/lab_err.c lab/lab_symbols.c lab/lab_record.c \
	lab/lab_audit.c lab/lab_pkgs.c $(LAB_VRF_DEPS)
UNIT_DEPS_lab_probe := lab/lab_err.c lab/lab_probe.c lab/lab_virt.c
# Linux boot protocol.
UNIT_TESTS += \
	linux
UNIT_DEPS_linux := $(LINUX_SRCS)
# Test-only helpers for tests/integration/linux_boot_protocol.bats: a
# driver of the library (ASan+UBSan objects) and a 64 KiB firmware stub that
# lets QEMU (TCG) enter Debian's kernel in the state the library describes.
$(B)/tests/linux_boot_tool: tests/integration/linux_boot_tool.c \
		$(LINUX_SRCS:%.c=$(B)/asan/%.o) $(LIB_SRCS:%.c=$(B)/asan/%.o)
	$(call msg,TEST-LD,$@)
	@mkdir -p $(@D)
	$(Q)$(CC) $(HOST_CPPFLAGS) $(filter-out -D_FORTIFY_SOURCE=2,$(HOST_CFLAGS)) \
		-O1 $(SAN_FLAGS) $^ -o $@
$(B)/tests/linux_qemu_stub.bin: tests/integration/linux_qemu_stub.S
	$(call msg,AS,$@)
	@mkdir -p $(@D)
	$(Q)$(CC) -c $< -o $(@:.bin=.o)
	$(Q)ld -m elf_x86_64 -Ttext 0 --oformat binary -o $@ $(@:.bin=.o)
build-check: $(B)/tests/linux_boot_tool $(B)/tests/linux_qemu_stub.bin
# Unit tests of the sandboxes, built without sanitizers: the sanitizer
# runtime needs a looser seccomp filter than the real binaries have.
PLAIN_UNIT_TESTS := isolation
PLAIN_UNIT_DEPS_isolation := $(VERIFIER_LIB_SRCS) hv/hv_seccomp.c
UNIT_BINS := $(UNIT_TESTS:%=$(B)/tests/unit/test_%) \
	$(PLAIN_UNIT_TESTS:%=$(B)/tests/unit/test_%)

define unit_rule
$(B)/tests/unit/test_$(1): tests/unit/test_$(1).c \
		$(UNIT_DEPS_$(1):%.c=$(B)/asan/%.o) $(LIB_SRCS:%.c=$(B)/asan/%.o)
	$$(call msg,TEST-LD,$$@)
	@mkdir -p $$(@D)
	$$(Q)$$(CC) $$(HOST_CPPFLAGS) $$(filter-out -D_FORTIFY_SOURCE=2,$$(HOST_CFLAGS)) \
		-O1 $$(SAN_FLAGS) $$^ $$(CMOCKA_LIBS) $$(HOST_LIBS) -o $$@
endef
$(foreach t,$(UNIT_TESTS),$(eval $(call unit_rule,$(t))))

define plain_unit_rule
$(B)/tests/unit/test_$(1): tests/unit/test_$(1).c \
		$(PLAIN_UNIT_DEPS_$(1):%.c=$(B)/host/%.o) $(LIB_SRCS:%.c=$(B)/host/%.o)
	$$(call msg,TEST-LD,$$@)
	@mkdir -p $$(@D)
	$$(Q)$$(CC) $$(HOST_CPPFLAGS) $$(HOST_CFLAGS) $$(HOST_LDFLAGS) $$^ \
		$$(CMOCKA_LIBS) $$(HOST_LIBS) -o $$@
endef
$(foreach t,$(PLAIN_UNIT_TESTS),$(eval $(call plain_unit_rule,$(t))))

# libFuzzer targets: tests/fuzz/fuzz_<name>.c with the sources in
# FUZZ_DEPS_<name>, built by clang with ASan+UBSan (LSan included).
FUZZ_CC := clang
# Monitor.
FUZZ_TARGETS := \
	elf \
	control \
	control_framing
FUZZ_DEPS_elf := hv/hv_elf.c hv/hv_log.c
FUZZ_DEPS_control := hv/hv_control.c hv/hv_log.c verifier/vrf_msg.c
FUZZ_DEPS_control_framing := hv/hv_control.c hv/hv_log.c
# Signed packages (verifier/, keys/).
FUZZ_TARGETS += \
	vrf_parse \
	vrf_verify
FUZZ_DEPS_vrf_parse := verifier/vrf_cbor.c verifier/vrf_err.c \
	verifier/vrf_pkg.c verifier/vrf_util.c verifier/vrf_file.c \
	verifier/vrf_time.c \
	keys/keys_err.c keys/keys_io.c \
	keys/keys_pkg.c
FUZZ_DEPS_vrf_verify := $(VRF_SRCS) keys/keys_cert.c keys/keys_err.c \
	keys/keys_io.c keys/keys_pkg.c
# A Linux kernel's symbol table, as `hvpatch build` reads it.
FUZZ_TARGETS += \
	sysmap
FUZZ_DEPS_sysmap := keys/keys_sysmap.c keys/keys_err.c keys/keys_io.c \
	verifier/vrf_file.c \
	verifier/vrf_err.c
# TPM and event log.
FUZZ_TARGETS += \
	eventlog \
	tpm_attest
FUZZ_DEPS_eventlog := firmware/fw_eventlog.c
FUZZ_DEPS_tpm_attest := firmware/fw_eventlog.c firmware/fw_measure.c \
	verifier/vrf_tpm.c verifier/vrf_tpm_tcti.c verifier/vrf_tpm_files.c \
	verifier/vrf_tpm_check.c verifier/vrf_file.c
# Audit log.
FUZZ_TARGETS += \
	audit
FUZZ_DEPS_audit := verifier/vrf_audit.c verifier/vrf_util.c \
	verifier/vrf_time.c \
	verifier/vrf_file.c \
	firmware/fw_eventlog.c firmware/fw_measure.c
# The verifier's patch-message handlers (what a hostile monitor sends).
FUZZ_TARGETS += \
	vrf_msg
FUZZ_DEPS_vrf_msg := $(UNIT_DEPS_patch) \
	verifier/vrf_proc_trust.c
# libvirt lab (lab/).
FUZZ_TARGETS += \
	lab_record \
	lab_map
FUZZ_DEPS_lab_record := lab/lab_err.c lab/lab_symbols.c lab/lab_record.c
FUZZ_DEPS_lab_map := lab/lab_err.c lab/lab_symbols.c
# Linux boot protocol.
FUZZ_TARGETS += \
	bzimage \
	pvh
FUZZ_DEPS_bzimage := $(LINUX_SRCS)
FUZZ_DEPS_pvh := $(LINUX_SRCS)
FUZZ_BINS := $(FUZZ_TARGETS:%=$(B)/fuzz/fuzz_%)
FUZZ_FLAGS := -std=c11 -g -O1 -Wall -Wextra -Werror -Iinclude -I. \
	-D_GNU_SOURCE -fsanitize=fuzzer,address,undefined \
	-fno-sanitize-recover=all -DHV_FUZZING

define fuzz_rule
$(B)/fuzz/fuzz_$(1): tests/fuzz/fuzz_$(1).c $(FUZZ_DEPS_$(1)) $(LIB_SRCS)
	$$(call msg,FUZZ-LD,$$@)
	@mkdir -p $$(@D)
	$$(Q)$$(FUZZ_CC) $$(FUZZ_FLAGS) $$^ $$(HOST_LIBS) -o $$@
endef
$(foreach t,$(FUZZ_TARGETS),$(eval $(call fuzz_rule,$(t))))

# ---------------------------------------------------------------- targets
.PHONY: all deps deps-test deps-linux deps-bench build-check check check-vtx \
	demo linux-demo linux-demo-amdv bench fuzz soak clean format

all: deps $(PROGS)

deps:
	@scripts/deps.sh build
deps-test:
	@scripts/deps.sh test

build-check: $(PROGS) $(ASAN_PROGS) $(UNIT_BINS) $(FUZZ_BINS) \
	$(TEST_GUEST_ELFS)

# The whole test suite; ends with one line "N passed, N failed, N skipped".
check: deps-test
	$(Q)$(MAKE) --no-print-directory build-check
	$(Q)tests/run

demo: deps
	$(Q)$(MAKE) --no-print-directory $(PROGS)
	$(Q)tests/demo.sh

# Every lab-host test (tests/lib/lab-suite.sh) on VT-x with EPT, inside
# Bochs: what `make check` runs on emulated AMD-V, slower (docs/LABHOSTS.md).
check-vtx: deps-test
	$(Q)$(MAKE) --no-print-directory build-check
	$(Q)LAB_SUITES=vtx-full TESTS_ONLY='lab/*' tests/run

# Debian's cloud kernel under hvpatch, console on the terminal: a shell in
# the guest on VT-x/AMD-V (tests/linux-demo.sh).
linux-demo: deps-linux
	$(Q)$(MAKE) --no-print-directory $(PROGS) $(LOCK_PORT)
	$(Q)tests/linux-demo.sh
deps-linux:
	@scripts/deps.sh linux

# make linux-demo inside the emulated AMD-V lab host (QEMU TCG, kvm_amd):
# a shell in the guest, on any machine (docs/LABHOSTS.md).
linux-demo-amdv: deps-test
	$(Q)$(MAKE) --no-print-directory build-check
	$(Q)tests/lib/labhost.sh run amdv -i -t 3600 -- tests/linux-demo.sh

# The in-guest livepatch rows (tests/bench/bench_klp.sh) boot Linux under
# QEMU with the boot library's test tool and stub.
bench: deps-bench
	$(Q)$(MAKE) --no-print-directory build-check $(B)/bench/tpm_tool \
		$(B)/tests/linux_boot_tool $(B)/tests/linux_qemu_stub.bin
	$(Q)tests/bench/bench.sh
deps-bench:
	@scripts/deps.sh bench

# Longer fuzzing than `make check` does: FUZZ_SECONDS per target.
FUZZ_SECONDS ?= 300
# The apply/revert soak, longer than make check's: SOAK_CYCLES (10000).
SOAK_CYCLES ?= 10000
soak: deps-test
	$(Q)$(MAKE) --no-print-directory build-check
	$(Q)HVPATCH_SOAK_CYCLES=$(SOAK_CYCLES) bats -f soak tests/integration/apply.bats

fuzz: deps-test
	$(Q)$(MAKE) --no-print-directory $(FUZZ_BINS)
	$(Q)FUZZ_SECONDS=$(FUZZ_SECONDS) tests/fuzz/run.sh $(FUZZ_TARGETS)

format:
	clang-format -i $(filter %.c %.h,$(HOST_SRCS) $(wildcard */*.h))

clean:
	rm -rf $(B)

-include $(shell find $(B) -name '*.d' 2>/dev/null)
