/* hvpatch.c: the `hvpatch` binary: dispatch to one subcommand. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "lib/hv_exe.h"

/* `hvpatch run`: the monitor is its own program, hvpatch-monitor, so the
 * VMM maps none of the libraries the other subcommands need (tpm2-tss,
 * libcrypto, X.509). It replaces this process: same pid, same options. */
static int run_monitor(int argc, char **argv)
{
    char path[PATH_MAX];
    (void)argc;
    if (hv_exe_find(HV_EXE_MONITOR, path, sizeof path) != 0)
        return CLI_EXIT_HOST;
    argv[0] = "hvpatch run"; /* its getopt messages name the command */
    execv(path, argv);
    fprintf(stderr, "hvpatch run: execv %s failed: %s\n", path,
            strerror(errno));
    return CLI_EXIT_HOST;
}

/* One row per subcommand, in the order `hvpatch --help` lists them. */
static const struct cli_cmd cli_cmds[] = {
    {"run", run_monitor, "boot a guest under the monitor (default: the demo)"},
    {"status", cli_cmd_status, "show a running VM's state"},
    {"pause", cli_cmd_pause, "pause every vCPU of a running VM"},
    {"resume", cli_cmd_resume, "resume a paused VM"},
    {"quit", cli_cmd_quit, "stop a running VM"},
    {"lock", cli_cmd_lock, "lock a Linux guest's kernel text (once booted)"},
    {"control", cli_cmd_control, "send raw JSON requests to a control socket"},
    {"apply", cli_cmd_apply, "apply a signed patch to a running guest"},
    {"revert", cli_cmd_revert, "undo the latest patch in a running guest"},
    {"attest", cli_cmd_attest, "get a TPM quote and event log from a VM"},
    {"trust", cli_cmd_trust, "trust reload: re-read a running VM's trust store"},
    {"keygen", cli_cmd_keygen, "make a root CA and a patch-signing key"},
    {"build", cli_cmd_build, "build an unsigned patch package from a manifest"},
    {"sign", cli_cmd_sign, "sign a patch package"},
    {"inspect", cli_cmd_inspect, "show every field of a patch package"},
    {"verify", cli_cmd_verify, "run the package verifier offline"},
    {"revoke", cli_cmd_revoke, "issue a CRL revoking signing certificates"},
    {"verify-attestation", cli_cmd_verify_attestation,
     "check an attestation directory (offline)"},
    {"lab", cli_cmd_lab, "probe hosts for hot patch eligibility (libvirt)"},
    {"audit", cli_cmd_audit,
     "check a libvirt guest's kernel text; verify an audit log"},
};

static void usage(FILE *f)
{
    fprintf(f, "usage: hvpatch COMMAND [OPTIONS]   (hvpatch COMMAND --help)\n"
               "\nCommands:\n");
    for (size_t i = 0; i < sizeof cli_cmds / sizeof cli_cmds[0]; i++)
        fprintf(f, "  %-10s %s\n", cli_cmds[i].name, cli_cmds[i].summary);
    fprintf(f, "\nExit codes: 0 ok, 1 usage, 2 host set-up failure, "
               "3 guest failure, 4 request refused, 9 apply --wait-healthy:\n"
               "the guest failed, the patch was reverted automatically.\n");
}

int cli_wants_help(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--") == 0)
            return 0;
        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0)
            return 1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    /* tpm2-tss would log failures this program already reports, decoded. */
    setenv("TSS2_LOG", "all+NONE", 0);
    if (argc < 2) {
        usage(stderr);
        return CLI_EXIT_USAGE;
    }
    if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0 ||
        strcmp(argv[1], "help") == 0) {
        usage(stdout);
        return CLI_EXIT_OK;
    }
    for (size_t i = 0; i < sizeof cli_cmds / sizeof cli_cmds[0]; i++)
        if (strcmp(argv[1], cli_cmds[i].name) == 0)
            return cli_cmds[i].run(argc - 1, argv + 1);
    fprintf(stderr, "hvpatch: unknown command '%s' (see hvpatch --help)\n",
            argv[1]);
    return CLI_EXIT_USAGE;
}
