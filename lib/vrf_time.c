/* vrf_time.c: UTC times as text (ISO 8601), for the verifier's messages
 * and audit records and the monitor's status. Kept apart from vrf_util.c
 * so that the monitor, which needs only these, links no X.509 code. */
#include <stdio.h>

#include "lib/vrf_time.h"

void vrf_format_time(int64_t t, char *buf, size_t size)
{
    int64_t z = (t >= 0 ? t : t - 86399) / 86400;
    int64_t secs = t - z * 86400;
    int64_t era, doe, yoe, y, doy, mp, d, m;

    /* civil_from_days, the inverse of days_from_civil. */
    z += 719468;
    era = (z >= 0 ? z : z - 146096) / 146097;
    doe = z - era * 146097;
    yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    y = yoe + era * 400;
    doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    mp = (5 * doy + 2) / 153;
    d = doy - (153 * mp + 2) / 5 + 1;
    m = mp < 10 ? mp + 3 : mp - 9;
    y += m <= 2;
    snprintf(buf, size, "%04lld-%02lld-%02lldT%02lld:%02lld:%02lldZ",
             (long long)y, (long long)m, (long long)d, (long long)(secs / 3600),
             (long long)(secs / 60 % 60), (long long)(secs % 60));
}

void vrf_format_time_ms(uint64_t unix_ms, char out[32])
{
    vrf_format_time((int64_t)(unix_ms / 1000), out, 32);
    snprintf(out + 19, 32 - 19, ".%03uZ", (unsigned)(unix_ms % 1000));
}
