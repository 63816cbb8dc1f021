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

# ---------------------------------------------------------------- components
# One directory per component, each built into one static library
# ($(B)/host/lib<name>.a, and $(B)/asan/ for the sanitizer build; hv's
# layers all go into libhv.a). DEPS_<dir> names the components whose
# headers a directory's files may include: tests/lint/layers.sh (in `make
# check`) fails on any other include. A program links its main and the
# libraries it may reach; the linker takes only the members it needs.
# docs/MONITOR.md, "Layout", has the picture.
COMPONENTS := lib firmware pkg tpm audit keys lab verifier hv cli
# Shared by the processes: logging, files, the guest ABI and image parser,
# the monitor<->verifier protocol and its pause region, the sandbox, where
# the helper programs are, hex, error tables, kernel symbol tables, times.
SRCS_lib := \
	lib/hv_log.c \
	lib/hv_elf.c \
	lib/hv_exe.c \
	lib/vrf_file.c \
	lib/vrf_msg.c \
	lib/vrf_shm.c \
	lib/vrf_sandbox.c \
	lib/vrf_time.c \
	lib/vrf_err.c \
	lib/lib_err.c \
	lib/lib_hex.c \
	lib/lib_ksym.c
DEPS_lib :=
# The guest boot path: boot state, Linux kernel files and boot protocol,
# ACPI, and the measured-boot event log both processes compute.
SRCS_firmware := \
	firmware/fw_boot.c \
	firmware/hv_linux.c \
	firmware/fw_linux.c \
	firmware/fw_acpi.c \
	firmware/fw_eventlog.c \
	firmware/fw_measure.c
DEPS_firmware := lib
# Signed packages: CBOR, COSE signatures, X.509 trust, verification.
SRCS_pkg := \
	pkg/vrf_cbor.c \
	pkg/vrf_pkg.c \
	pkg/vrf_sig.c \
	pkg/vrf_trust.c \
	pkg/vrf_util.c \
	pkg/vrf_verify.c
DEPS_pkg := lib firmware
# The TPM stack (tpm2-tss): PCRs, NV counter, quotes and their checks.
SRCS_tpm := \
	tpm/vrf_tpm.c \
	tpm/vrf_tpm_tcti.c \
	tpm/vrf_tpm_files.c \
	tpm/vrf_tpm_check.c
DEPS_tpm := lib firmware
# The hash-chained audit log: writer and checker.
SRCS_audit := \
	audit/vrf_audit.c
DEPS_audit := lib firmware pkg tpm
# Keys, certificates, trust stores, package building.
SRCS_keys := \
	keys/keys_build.c \
	keys/keys_cert.c \
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
DEPS_keys := lib firmware pkg guest
# libvirt lab: eligibility probe and kernel-text audit. libvirt and
# libxml2 are dlopen()ed by lab_virt.c and lab_probe.c when a lab command
# runs, so only their headers are needed here.
SRCS_lab := \
	lab/lab_err.c \
	lab/lab_symbols.c \
	lab/lab_record.c \
	lab/lab_audit.c \
	lab/lab_pkgs.c \
	lab/lab_virt.c \
	lab/lab_probe.c
DEPS_lab := lib pkg keys
$(B)/host/lab/lab_probe.o $(B)/asan/lab/lab_probe.o: \
	HOST_CPPFLAGS += $(shell pkg-config --cflags libxml-2.0 2>/dev/null)
# The verifier process (hvpatch-verifier): the only writer of protected
# code. It loads the trust store with keys/'s loader.
MAIN_verifier := verifier/vrf_main.c
SRCS_verifier := \
	verifier/vrf_proc.c \
	verifier/vrf_patch.c \
	verifier/vrf_lock.c \
	verifier/vrf_proc_tpm.c \
	verifier/vrf_proc_trust.c
DEPS_verifier := lib firmware pkg tpm audit keys
# The monitor (hvpatch-monitor), in layers: machine (KVM VM, vCPUs, memory
# slots), dev (devices that register with the exit loop), svc (services:
# control socket, patch path, health watch, the verifier and swtpm
# processes, sandbox), and hv/ itself, which assembles a VM from them.
MAIN_hv := hv/hv_main.c
SRCS_hv := \
	hv/machine/hv_kvm.c \
	hv/machine/hv_kvm_x86_64.c \
	hv/machine/hv_vcpu.c \
	hv/machine/hv_prot.c \
	hv/machine/hv_io.c \
	hv/dev/hv_dev_serial.c \
	hv/dev/hv_dev_platform.c \
	hv/dev/hv_hypercall.c \
	hv/svc/hv_control.c \
	hv/svc/hv_patch.c \
	hv/svc/hv_health.c \
	hv/svc/hv_lock.c \
	hv/svc/hv_vrf.c \
	hv/svc/hv_swtpm.c \
	hv/svc/hv_seccomp.c \
	hv/hv_run.c \
	hv/hv_run_linux.c
DEPS_hv/machine := lib firmware
DEPS_hv/dev := lib firmware hv/machine
DEPS_hv/svc := lib firmware hv/machine
DEPS_hv := lib firmware hv/machine hv/dev hv/svc
# Every `hvpatch` subcommand's front end (hvpatch; `run` execs the
# monitor).
MAIN_cli := cli/hvpatch.c
SRCS_cli := \
	cli/cli_control.c \
	cli/cli_health.c \
	cli/cli_keys.c \
	cli/cli_tpm.c \
	cli/cli_audit.c \
	cli/cli_lab.c \
	cli/cli_lab_audit.c
DEPS_cli := lib firmware pkg tpm audit keys lab hv/svc
# The demo guest and the test guests see the guest ABI alone.
DEPS_guest := lib

HOST_SRCS := $(foreach c,$(COMPONENTS),$(MAIN_$(c)) $(SRCS_$(c)))
DEMO_OBJ := $(B)/host/hv/hv_demo_image.o
ASAN_DEMO_OBJ := $(B)/asan/hv/hv_demo_image.o

# The three programs, each linked with only what it reaches (docs/
# MONITOR.md, "Processes"): hvpatch, the CLI; hvpatch-monitor, the VMM,
# which maps no tpm2-tss, libcrypto or X.509 (tests/integration/
# process.bats); hvpatch-verifier, with no monitor code.
LIBS_cli := cli lab keys audit tpm hv pkg firmware lib
LIBS_hv := hv firmware lib
LIBS_verifier := verifier keys audit tpm pkg firmware lib
ALL_LIBS := cli hv verifier lab keys audit tpm pkg firmware lib
MONITOR_LIBS := -Wl,--as-needed -ljansson -lmbedcrypto -lseccomp -lpthread
# ar_group LIST: the .a files of LIST as one group (order-free).
ar_group = -Wl,--start-group $(filter %.a,$(1)) -Wl,--end-group

define component_rule
$(B)/host/lib$(1).a: $(SRCS_$(1):%.c=$(B)/host/%.o) $(if $(filter hv,$(1)),$(DEMO_OBJ))
	$$(call msg,AR,$$@)
	$$(Q)rm -f $$@ && ar rcs $$@ $$^
$(B)/asan/lib$(1).a: $(SRCS_$(1):%.c=$(B)/asan/%.o) $(if $(filter hv,$(1)),$(ASAN_DEMO_OBJ))
	$$(call msg,AR,$$@)
	$$(Q)rm -f $$@ && ar rcs $$@ $$^
endef
$(foreach c,$(COMPONENTS),$(eval $(call component_rule,$(c))))
HOST_ARS := $(ALL_LIBS:%=$(B)/host/lib%.a)
ASAN_ARS := $(ALL_LIBS:%=$(B)/asan/lib%.a)

# tests/lint/layers.sh reads the rules and the lists from here.
print-layers:
	@$(foreach d,$(COMPONENTS) hv/machine hv/dev hv/svc guest,echo '$(d): $(DEPS_$(d))';)
print-sources:
	@$(foreach s,$(HOST_SRCS),echo '$(s)';)

# Test-only helper for tests/integration/tpm.bats: drives the TPM layer
# (swtpm, measured boot, quote, NV counter) without a VM, from the
# ASan+UBSan objects; built by `make check` with everything else.
$(B)/tests/tpm_tool: tests/integration/tpm_tool.c $(ASAN_ARS)
	$(call msg,TEST-LD,$@)
	@mkdir -p $(@D)
	$(Q)$(CC) $(HOST_CPPFLAGS) $(filter-out -D_FORTIFY_SOURCE=2,$(HOST_CFLAGS)) \
		-O1 $(SAN_FLAGS) $< $(call ar_group,$^) $(HOST_LIBS) -o $@
build-check: $(B)/tests/tpm_tool
# The same helper without sanitizers, for `make bench`'s TPM timings.
$(B)/bench/tpm_tool: tests/integration/tpm_tool.c $(HOST_ARS)
	$(call msg,LD,$@)
	@mkdir -p $(@D)
	$(Q)$(CC) $(HOST_CPPFLAGS) $(HOST_CFLAGS) $(HOST_LDFLAGS) $< \
		$(call ar_group,$^) $(HOST_LIBS) -o $@
# ASan intercepts the XDR calls of libvirt's RPC and resolves them at
# start-up: with libvirt dlopen()ed later they would call NULL, so the
# sanitizer build loads libtirpc from the start.
$(B)/asan/hvpatch: HOST_LIBS += -Wl,--no-as-needed -l:libtirpc.so.3 \
	-Wl,--as-needed

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

# The demo guest image is linked into the monitor: `hvpatch run` needs no
# other file.
$(B)/host/hv/hv_demo_image.o $(B)/asan/hv/hv_demo_image.o: \
		hv/hv_demo_image.S $(B)/guest/demo.elf
	$(call msg,AS,$@)
	@mkdir -p $(@D)
	$(Q)$(CC) -c -DDEMO_ELF='"$(B)/guest/demo.elf"' $< -o $@

# Where an installed hvpatch looks for its two helper programs when they
# are not next to it (lib/hv_exe.h).
PREFIX ?= /usr/local
LIBEXECDIR := $(PREFIX)/libexec/hvpatch
$(B)/host/lib/hv_exe.o $(B)/asan/lib/hv_exe.o: \
	HOST_CPPFLAGS += -DHV_LIBEXECDIR='"$(LIBEXECDIR)"'

# prog_rule NAME COMPONENT EXTERNAL-LIBS: $(B)/NAME and $(B)/asan/NAME.
define prog_rule
$(B)/$(1): $(MAIN_$(2):%.c=$(B)/host/%.o) $(LIBS_$(2):%=$(B)/host/lib%.a)
	$$(call msg,LD,$$@)
	$$(Q)$$(CC) $$(HOST_LDFLAGS) $$< $$(call ar_group,$$^) $(3) -o $$@
$(B)/asan/$(1): $(MAIN_$(2):%.c=$(B)/asan/%.o) $(LIBS_$(2):%=$(B)/asan/lib%.a)
	$$(call msg,LD-SAN,$$@)
	$$(Q)$$(CC) $$(HOST_LDFLAGS) $$(SAN_FLAGS) $$< $$(call ar_group,$$^) \
		$(3) -o $$@
endef
$(eval $(call prog_rule,hvpatch,cli,$$(HOST_LIBS)))
$(eval $(call prog_rule,hvpatch-monitor,hv,$$(MONITOR_LIBS)))
$(eval $(call prog_rule,hvpatch-verifier,verifier,$$(HOST_LIBS)))

PROGS := $(B)/hvpatch $(B)/hvpatch-monitor $(B)/hvpatch-verifier
ASAN_PROGS := $(PROGS:$(B)/%=$(B)/asan/%)

# ---------------------------------------------------------------- demo guest
# Freestanding x86-64, linked at fixed addresses (see lib/hv_abi.h). The
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
# Unit tests: tests/unit/test_<name>.c, linked with the test sources
# UNIT_DEPS_<name> names and the component libraries (ASan+UBSan).
# Shared code (lib/).
UNIT_TESTS := \
	lib
# Monitor.
UNIT_TESTS += \
	elf \
	control \
	serial \
	health \
	platform
# Signed packages (pkg/, keys/).
UNIT_TESTS += \
	vrf \
	vrf_vectors \
	vrf_tamper \
	keys
UNIT_DEPS_vrf := tests/unit/test_vrf_support.c
UNIT_DEPS_vrf_vectors := $(UNIT_DEPS_vrf)
UNIT_DEPS_vrf_tamper := $(UNIT_DEPS_vrf)
# A Linux kernel's symbol table and ftrace sites (`hvpatch build`, kind
# linux).
UNIT_TESTS += \
	sysmap
# TPM and event log.
UNIT_TESTS += \
	eventlog \
	tpm_attest
# Audit log.
UNIT_TESTS += \
	audit
# The verifier's patch engine, and a Linux guest's text lock against guest
# RAM in a memfd.
UNIT_TESTS += \
	patch \
	lock
# libvirt lab (lab/).
UNIT_TESTS += \
	lab_record \
	lab_audit \
	lab_probe
# Linux boot protocol.
UNIT_TESTS += \
	linux
# Test-only helpers for tests/integration/linux_boot_protocol.bats: a
# driver of the library (ASan+UBSan objects) and a 64 KiB firmware stub that
# lets QEMU (TCG) enter Debian's kernel in the state the library describes.
$(B)/tests/linux_boot_tool: tests/integration/linux_boot_tool.c $(ASAN_ARS)
	$(call msg,TEST-LD,$@)
	@mkdir -p $(@D)
	$(Q)$(CC) $(HOST_CPPFLAGS) $(filter-out -D_FORTIFY_SOURCE=2,$(HOST_CFLAGS)) \
		-O1 $(SAN_FLAGS) $< $(call ar_group,$^) $(HOST_LIBS) -o $@
$(B)/tests/linux_qemu_stub.bin: tests/integration/linux_qemu_stub.S
	$(call msg,AS,$@)
	@mkdir -p $(@D)
	$(Q)$(CC) -c $< -o $(@:.bin=.o)
	$(Q)ld -m elf_x86_64 -Ttext 0 --oformat binary -o $@ $(@:.bin=.o)
build-check: $(B)/tests/linux_boot_tool $(B)/tests/linux_qemu_stub.bin
# Unit tests of the sandboxes, built without sanitizers: the sanitizer
# runtime needs a looser seccomp filter than the real binaries have.
PLAIN_UNIT_TESTS := isolation
UNIT_BINS := $(UNIT_TESTS:%=$(B)/tests/unit/test_%) \
	$(PLAIN_UNIT_TESTS:%=$(B)/tests/unit/test_%)

define unit_rule
$(B)/tests/unit/test_$(1): tests/unit/test_$(1).c \
		$(UNIT_DEPS_$(1):%.c=$(B)/asan/%.o) $(ASAN_ARS)
	$$(call msg,TEST-LD,$$@)
	@mkdir -p $$(@D)
	$$(Q)$$(CC) $$(HOST_CPPFLAGS) $$(filter-out -D_FORTIFY_SOURCE=2,$$(HOST_CFLAGS)) \
		-O1 $$(SAN_FLAGS) $$(filter-out %.a,$$^) $$(call ar_group,$$^) \
		$$(CMOCKA_LIBS) $$(HOST_LIBS) -o $$@
endef
$(foreach t,$(UNIT_TESTS),$(eval $(call unit_rule,$(t))))

define plain_unit_rule
$(B)/tests/unit/test_$(1): tests/unit/test_$(1).c $(HOST_ARS)
	$$(call msg,TEST-LD,$$@)
	@mkdir -p $$(@D)
	$$(Q)$$(CC) $$(HOST_CPPFLAGS) $$(HOST_CFLAGS) $$(HOST_LDFLAGS) $$< \
		$$(call ar_group,$$^) $$(CMOCKA_LIBS) $$(HOST_LIBS) -o $$@
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
FUZZ_DEPS_elf := lib/hv_elf.c lib/hv_log.c
FUZZ_DEPS_control := hv/svc/hv_control.c lib/hv_log.c lib/vrf_msg.c
FUZZ_DEPS_control_framing := hv/svc/hv_control.c lib/hv_log.c
# Signed packages (verifier/, keys/).
FUZZ_TARGETS += \
	vrf_parse \
	vrf_verify
FUZZ_DEPS_vrf_parse := pkg/vrf_cbor.c lib/vrf_err.c \
	pkg/vrf_pkg.c pkg/vrf_util.c lib/vrf_file.c \
	lib/vrf_time.c \
	keys/keys_err.c keys/keys_io.c \
	keys/keys_pkg.c
FUZZ_DEPS_vrf_verify := $(SRCS_pkg) lib/vrf_file.c lib/vrf_time.c keys/keys_cert.c keys/keys_err.c \
	keys/keys_io.c keys/keys_pkg.c
# A Linux kernel's symbol table, as `hvpatch build` reads it.
FUZZ_TARGETS += \
	sysmap
FUZZ_DEPS_sysmap := keys/keys_sysmap.c keys/keys_err.c keys/keys_io.c \
	lib/vrf_file.c \
	lib/vrf_err.c
# TPM and event log.
FUZZ_TARGETS += \
	eventlog \
	tpm_attest
FUZZ_DEPS_eventlog := firmware/fw_eventlog.c
FUZZ_DEPS_tpm_attest := firmware/fw_eventlog.c firmware/fw_measure.c \
	tpm/vrf_tpm.c tpm/vrf_tpm_tcti.c tpm/vrf_tpm_files.c \
	tpm/vrf_tpm_check.c lib/vrf_file.c
# Audit log.
FUZZ_TARGETS += \
	audit
FUZZ_DEPS_audit := audit/vrf_audit.c pkg/vrf_util.c \
	lib/vrf_time.c \
	lib/vrf_file.c \
	firmware/fw_eventlog.c firmware/fw_measure.c
# The verifier's patch-message handlers (what a hostile monitor sends).
FUZZ_TARGETS += \
	vrf_msg
FUZZ_DEPS_vrf_msg := verifier/vrf_patch.c verifier/vrf_proc_trust.c \
	audit/vrf_audit.c $(SRCS_tpm) $(SRCS_pkg) firmware/fw_eventlog.c \
	firmware/fw_measure.c keys/keys_trust.c keys/keys_err.c keys/keys_io.c
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
FUZZ_DEPS_bzimage := $(SRCS_firmware)
FUZZ_DEPS_pvh := $(SRCS_firmware)
FUZZ_BINS := $(FUZZ_TARGETS:%=$(B)/fuzz/fuzz_%)
FUZZ_FLAGS := -std=c11 -g -O1 -Wall -Wextra -Werror -Iinclude -I. \
	-D_GNU_SOURCE -fsanitize=fuzzer,address,undefined \
	-fno-sanitize-recover=all -DHV_FUZZING

define fuzz_rule
$(B)/fuzz/fuzz_$(1): tests/fuzz/fuzz_$(1).c $(FUZZ_DEPS_$(1)) $(SRCS_lib)
	$$(call msg,FUZZ-LD,$$@)
	@mkdir -p $$(@D)
	$$(Q)$$(FUZZ_CC) $$(FUZZ_FLAGS) $$^ $$(HOST_LIBS) -o $$@
endef
$(foreach t,$(FUZZ_TARGETS),$(eval $(call fuzz_rule,$(t))))

# ---------------------------------------------------------------- targets
.PHONY: all print-layers print-sources deps deps-test deps-linux deps-bench build-check check check-vtx \
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
	clang-format -i $(filter %.c %.h,$(HOST_SRCS) $(wildcard */*.h hv/*/*.h))

clean:
	rm -rf $(B)

-include $(shell find $(B) -name '*.d' 2>/dev/null)
