/* hv_main.c: main of hvpatch-monitor, the VMM behind `hvpatch run` (which
 * execs it with the same options). A program of its own so that the
 * monitor maps only what it needs (libc, jansson, seccomp, mbedcrypto's
 * SHA-256): no tpm2-tss, libcrypto or X.509, which belong to the verifier
 * (hvpatch-verifier) and the other subcommands. */
#include "hv/hv.h"

int main(int argc, char **argv)
{
    return hv_cmd_run(argc, argv);
}
