/* cli.h: the `hvpatch` subcommands and helpers shared by their front ends. */
#ifndef CLI_H
#define CLI_H

#include "lib/cli_exit.h" /* exit codes, shared with the monitor */

struct cli_cmd {
    const char *name;
    int (*run)(int argc, char **argv); /* argv[0] is the subcommand name */
    const char *summary;
};

/* Subcommands. Each handles its own --help and returns an exit code. */
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
int cli_cmd_lab(int argc, char **argv);   /* cli/cli_lab.c */
int cli_cmd_audit(int argc, char **argv); /* cli/cli_lab_audit.c */
/* `hvpatch audit verify`, dispatched by cli_cmd_audit: argv[0] is
 * "verify". */
int cli_cmd_audit_verify(int argc, char **argv); /* vrf_audit_cli.c */

/* True if argv holds -h or --help before any "--". */
int cli_wants_help(int argc, char **argv);

#endif /* CLI_H */
