/* vrf_main.c: main of hvpatch-verifier, the verifier process as its own
 * executable. The monitor (hv/svc/hv_vrf.c) starts it; every input is checked
 * here as if the monitor were hostile, before vrf_proc_main runs. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "firmware/hv_linux.h"
#include "lib/hv_abi.h"
#include "lib/hv_elf.h"
#include "lib/hv_log.h"
#include "tpm/vrf_tpm.h"
#include "verifier/vrf_proc.h"

static const char vrf_main_usage[] =
    "hvpatch-verifier is started by the monitor (hvpatch run), which passes\n"
    "its socket and the guest image as file descriptors; it is not run by\n"
    "hand. See docs/MONITOR.md, \"Processes\".\n";

struct vrf_main_args {
    struct vrf_proc_cfg cfg;
    long monitor_pid;
    int has_initrd;
};

/* An unsigned decimal in [lo, hi] for option name; -1 (logged) if not. */
static int parse_num(const char *name, const char *s, uint64_t lo, uint64_t hi,
                     uint64_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s || *end || s[0] == '-' || v < lo || v > hi) {
        hv_err("verifier: --%s '%s': not a number in %" PRIu64 "..%" PRIu64,
               name, s, lo, hi);
        return -1;
    }
    *out = v;
    return 0;
}

/* OPT_TCTI .. OPT_AUDIT are the text options, contiguous (text_opt). */
enum {
    OPT_PID = 256,
    OPT_KIND,
    OPT_MEM,
    OPT_CPUS,
    OPT_TPM_FLAGS,
    OPT_TCTI,
    OPT_CMDLINE,
    OPT_TRUST,
    OPT_AUDIT,
    OPT_INITRD
};

static const struct option vrf_main_opts[] = {
    {"monitor-pid", required_argument, NULL, OPT_PID},
    {"kind", required_argument, NULL, OPT_KIND},
    {"mem-size", required_argument, NULL, OPT_MEM},
    {"cpus", required_argument, NULL, OPT_CPUS},
    {"tpm-flags", required_argument, NULL, OPT_TPM_FLAGS},
    {"tcti", required_argument, NULL, OPT_TCTI},
    {"cmdline", required_argument, NULL, OPT_CMDLINE},
    {"trust", required_argument, NULL, OPT_TRUST},
    {"audit", required_argument, NULL, OPT_AUDIT},
    {"initrd", no_argument, NULL, OPT_INITRD},
    {NULL, 0, NULL, 0},
};

/* Where the value of a text option (kept as given) goes, or NULL. */
static const char **text_opt(struct vrf_proc_cfg *cfg, int c)
{
    const char **const field[] = {
        [OPT_TCTI - OPT_TCTI] = &cfg->tcti,
        [OPT_CMDLINE - OPT_TCTI] = &cfg->cmdline,
        [OPT_TRUST - OPT_TCTI] = &cfg->trust_dir,
        [OPT_AUDIT - OPT_TCTI] = &cfg->audit_path,
    };
    return c >= OPT_TCTI && c <= OPT_AUDIT ? field[c - OPT_TCTI] : NULL;
}

/* One option into a; -1 (logged) if its value is out of range. */
static int take_opt(struct vrf_main_args *a, int c, const char *v)
{
    const char **text = text_opt(&a->cfg, c);
    uint64_t n = 0;
    if (text) {
        *text = v;
        return 0;
    }
    switch (c) {
    case OPT_PID:
        if (parse_num("monitor-pid", v, 2, INT32_MAX, &n))
            return -1;
        a->monitor_pid = (long)n;
        return 0;
    case OPT_KIND:
        if (strcmp(v, "demo") != 0 && strcmp(v, "linux") != 0) {
            hv_err("verifier: --kind '%s': not demo or linux", v);
            return -1;
        }
        a->cfg.kind = v;
        return 0;
    case OPT_MEM:
        /* At most HV_MAX_MEM_MIB, 2 MiB-aligned, as `hvpatch run --mem`. */
        if (parse_num("mem-size", v, 2u << 20, (uint64_t)HV_MAX_MEM_MIB << 20,
                      &n))
            return -1;
        if (n % (2u << 20)) {
            hv_err("verifier: --mem-size %s: not a multiple of 2 MiB", v);
            return -1;
        }
        a->cfg.mem_size = n;
        return 0;
    case OPT_CPUS:
        if (parse_num("cpus", v, 1, HV_MAX_VCPUS, &n))
            return -1;
        a->cfg.ncpus = (unsigned)n;
        return 0;
    case OPT_TPM_FLAGS:
        if (parse_num("tpm-flags", v, 0,
                      VRF_TPM_OPEN_FLUSH_TRANSIENT | VRF_TPM_OPEN_TSS_TCTI, &n))
            return -1;
        a->cfg.tpm_flags = (unsigned)n;
        return 0;
    case OPT_INITRD:
        a->has_initrd = 1;
        return 0;
    }
    return -1;
}

static int parse_args(int argc, char **argv, struct vrf_main_args *a)
{
    int c;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "", vrf_main_opts, NULL)) != -1) {
        if (c == '?') {
            hv_err("verifier: unknown option or missing value: %s",
                   argv[optind - 1]);
            return -1;
        }
        if (take_opt(a, c, optarg) != 0)
            return -1;
    }
    if (optind < argc) {
        hv_err("verifier: unexpected argument '%s'", argv[optind]);
        return -1;
    }
    if (!a->monitor_pid || !a->cfg.kind || !a->cfg.mem_size || !a->cfg.ncpus) {
        hv_err("verifier: --monitor-pid, --kind, --mem-size and --cpus are "
               "required");
        return -1;
    }
    if (a->has_initrd && strcmp(a->cfg.kind, "linux") != 0) {
        hv_err("verifier: --initrd needs --kind linux");
        return -1;
    }
    return 0;
}

/* Maps fd (what: for messages) read-only, private: it must be a memfd
 * sealed with VRF_INPUT_SEALS, 1..max bytes. Returns the mapping, or NULL
 * (logged). */
static uint8_t *map_input(int fd, const char *what, uint64_t max, size_t *len)
{
    struct stat st;
    int seals = fcntl(fd, F_GET_SEALS);
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        hv_err("verifier: fd %d (%s): not a regular file", fd, what);
        return NULL;
    }
    if (seals < 0 || (seals & VRF_INPUT_SEALS) != VRF_INPUT_SEALS) {
        hv_err("verifier: fd %d (%s): not a memfd sealed against writes "
               "(seals %#x)",
               fd, what, seals < 0 ? 0 : seals);
        return NULL;
    }
    if (st.st_size <= 0 || (uint64_t)st.st_size > max) {
        hv_err("verifier: fd %d (%s): %lld bytes, not 1..%" PRIu64, fd, what,
               (long long)st.st_size, max);
        return NULL;
    }
    void *p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (p == MAP_FAILED) {
        hv_err("verifier: mmap fd %d (%s) failed: %s", fd, what,
               strerror(errno));
        return NULL;
    }
    *len = (size_t)st.st_size;
    return p;
}

int main(int argc, char **argv)
{
    struct vrf_main_args a = {0};
    const uint8_t *image;
    size_t len = 0;

    if (argc < 2 || strcmp(argv[1], "--help") == 0 ||
        strcmp(argv[1], "-h") == 0) {
        fputs(vrf_main_usage, stderr);
        return VRF_EXIT_USAGE;
    }
    if (parse_args(argc, argv, &a) != 0)
        return VRF_EXIT_USAGE;
    if (getppid() != (pid_t)a.monitor_pid) {
        hv_err("verifier: parent is process %d, not the monitor %ld: "
               "exiting",
               (int)getppid(), a.monitor_pid);
        return VRF_EXIT_FAIL;
    }
    /* tpm2-tss would log failures this program already reports, decoded. */
    setenv("TSS2_LOG", "all+NONE", 0);
    int is_linux = strcmp(a.cfg.kind, "linux") == 0;
    image = map_input(VRF_PROC_FD_IMAGE, "guest image",
                      is_linux ? HV_LINUX_MAX_SIZE : HV_ELF_MAX_SIZE, &len);
    /* The initrd is loaded into guest RAM, so it is smaller than that. */
    if (a.has_initrd)
        a.cfg.initrd = map_input(VRF_PROC_FD_INITRD, "initrd", a.cfg.mem_size,
                                 &a.cfg.initrd_len);
    if (!image || (a.has_initrd && !a.cfg.initrd))
        return VRF_EXIT_FAIL;
    vrf_proc_main(VRF_PROC_FD_SOCK, image, len, &a.cfg);
}
