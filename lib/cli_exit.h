/* cli_exit.h: the exit codes of every hvpatch program (the CLI's
 * subcommands, hvpatch-monitor behind `hvpatch run`); values never change
 * (README, "Exit codes"). */
#ifndef CLI_EXIT_H
#define CLI_EXIT_H

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

#endif /* CLI_EXIT_H */
