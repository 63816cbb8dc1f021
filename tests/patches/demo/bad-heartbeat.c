/* bad-heartbeat.c: a deliberately bad, correctly signed patch for the
 * demo guest's shared user library (tests only): ulib_heartbeat
 * (guest/ulib.c) returns without its system call, so every workload keeps
 * running but no vCPU reports a heartbeat to the monitor any more. The
 * monitor's health watch must see that and revert the patch
 * (tests/integration/auto_revert.bats); after the revert the heartbeats
 * come back. Sequence 3: above the demo fixes, 1 and 2. */
#include <stdint.h>

long bad_ulib_heartbeat(uint64_t count);

long bad_ulib_heartbeat(uint64_t count)
{
    (void)count;
    return 0;
}
