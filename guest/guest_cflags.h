/* guest_cflags.h: the demo guest's compiler flags, kept in this one
 * place: the Makefile builds the guest with them (it reads the
 * GUEST_CFLAG lines) and `hvpatch build` compiles a demo package's code
 * with them (keys_build.c includes this list), so a patch is code of the
 * same kind as what it replaces. One flag a line, with why it is there. */
GUEST_CFLAG("-std=c11")
GUEST_CFLAG("-O2")
GUEST_CFLAG("-g")
GUEST_CFLAG("-Wall")
GUEST_CFLAG("-Wextra")
GUEST_CFLAG("-Werror")
/* Freestanding: no libc, no host start files, no builtins that call it. */
GUEST_CFLAG("-ffreestanding")
GUEST_CFLAG("-nostdlib")
GUEST_CFLAG("-fno-builtin")
/* Fixed link addresses, no GOT. */
GUEST_CFLAG("-fno-pic")
GUEST_CFLAG("-fno-pie")
/* No TLS canary in a freestanding image. */
GUEST_CFLAG("-fno-stack-protector")
/* No endbr64, so a function starts with its patch pad. */
GUEST_CFLAG("-fcf-protection=none")
/* Exceptions at CPL 0 push onto the current stack. */
GUEST_CFLAG("-mno-red-zone")
/* No SSE/x87/AVX state; CPUID hides XSAVE anyway. */
GUEST_CFLAG("-mgeneral-regs-only")
GUEST_CFLAG("-fno-asynchronous-unwind-tables")
/* A 5-byte NOP pad at every function entry, where a hot patch writes its
 * `jmp rel32` (the ftrace-style site). */
GUEST_CFLAG("-fpatchable-function-entry=5,0")
