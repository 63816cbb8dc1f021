/* cli.h: the `hvpatch` subcommands and helpers shared by their front ends. */
#ifndef CLI_H
#define CLI_H

/* Exit codes shared by every subcommand; values never change. */
enum {
    CLI_EXIT_OK = 0,
    CLI_EXIT_USAGE = 1, /* bad command line */
    CLI_EXIT_HOST = 2,  /* host set-up failure (KVM, files, sockets, ...) */
    CLI_EXIT_GUEST = 3, /* guest failed: unexpected exit, fault, panic */
    CLI_EXIT_REFUSED = 4, /* a request was refused (bad request, policy) */
    CLI_EXIT_SIGNED_ONLY = 5, /* audit: changed only as signed packages say */
    CLI_EXIT_UNKNOWN_CHANGE = 6, /* audit: a change nobody signed */
    CLI_EXIT_NOT_ELIGIBLE = 7, /* lab probe: a host is not eligible */
    CLI_EXIT_REBOOT = 8, /* run: the guest rebooted; run it again to restart */
    CLI_EXIT_AUTO_REVERTED = 9, /* apply --wait-healthy: the guest failed,
                                   the patch was reverted automatically */
    CLI_EXIT_AUDIT_EMPTY = 9, /* audit verify: the log holds no record */
    CLI_EXIT_AUDIT_TAIL = 10, /* audit verify: garbage after the last record */
};

struct cli_cmd {
    const char *name;
    int (*run)(int argc, char **argv); /* argv[0] is the subcommand name */
    const char *summary;
};

/* Subcommands. Each handles its own --help and returns an exit code. */
int cli_cmd_run(int argc, char **argv);
int cli_cmd_status(int argc, char **argv);
int cli_cmd_pause(int argc, char **argv);
int cli_cmd_resume(int argc, char **argv);
int cli_cmd_quit(int argc, char **argv);
int cli_cmd_lock(int argc, char **argv);
int cli_cmd_control(int argc, char **argv);
int cli_cmd_attest(int argc, char **argv);
/* `hvpatch trust reload --vm SOCK`: re-read the VM's trust store. */
int cli_cmd_trust(int argc, char **argv);
int cli_cmd_apply(int argc, char **argv);
int cli_cmd_revert(int argc, char **argv);
int cli_cmd_keygen(int argc, char **argv);
int cli_cmd_sign(int argc, char **argv);
int cli_cmd_build(int argc, char **argv);
int cli_cmd_inspect(int argc, char **argv);
int cli_cmd_verify(int argc, char **argv);
int cli_cmd_revoke(int argc, char **argv);
int cli_cmd_verify_attestation(int argc, char **argv); /* vrf_tpm_cli.c */
int cli_cmd_lab(int argc, char **argv);   /* lab/lab_cli.c */
int cli_cmd_audit(int argc, char **argv); /* lab/lab_audit_cli.c */
/* `hvpatch audit verify`, dispatched by cli_cmd_audit: argv[0] is
 * "verify". */
int cli_cmd_audit_verify(int argc, char **argv); /* vrf_audit_cli.c */

/* True if argv holds -h or --help before any "--". */
int cli_wants_help(int argc, char **argv);

#endif /* CLI_H */
