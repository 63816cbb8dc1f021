/* hv_exe.h: where hvpatch's own executables are: `hvpatch run` starts
 * hvpatch-monitor, the monitor starts hvpatch-verifier, each a separate
 * program so that neither maps the other's code or libraries. */
#ifndef HV_EXE_H
#define HV_EXE_H

#include <stddef.h>

#define HV_EXE_MONITOR "hvpatch-monitor"
#define HV_EXE_VERIFIER "hvpatch-verifier"

/* Writes to path[0..size) the executable `name` found next to the running
 * program (the directory of /proc/self/exe: build/hvpatch finds
 * build/hvpatch-monitor, build/asan/hvpatch build/asan/hvpatch-monitor),
 * else in HV_LIBEXECDIR (the install location, fixed at build time). No
 * environment variable can point elsewhere: the monitor and the verifier
 * are what the operator installed. Returns 0, or -1 with an error naming
 * every path tried. */
int hv_exe_find(const char *name, char *path, size_t size);

#endif /* HV_EXE_H */
