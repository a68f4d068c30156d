/*
 * retry.c -- the retry policy's pure parts. See retry.h.
 */
#include "retry.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

int retry_status_retryable(int status)
{
    return status == 429 || status == 502 || status == 503 || status == 504;
}

int retry_method_idempotent(const char *m)
{
    static const char *const repeatable[] = {"GET", "HEAD", "OPTIONS", "PUT", "DELETE"};
    for (size_t i = 0; i < sizeof repeatable / sizeof repeatable[0]; i++)
        if (strcmp(m, repeatable[i]) == 0)
            return 1;
    return 0;
}

uint64_t retry_backoff_ms(double base_s, double cap_s, int attempt, uint64_t rnd)
{
    double ceiling = base_s;
    for (int k = 1; k < attempt && ceiling < cap_s; k++)
        ceiling *= 2;
    if (ceiling > cap_s)
        ceiling = cap_s;
    uint64_t cap_ms = (uint64_t)(ceiling * 1000.0 + 0.5);
    return cap_ms == 0 ? 0 : rnd % (cap_ms + 1);
}

/* IMF-fixdate, the one form RFC 9110 lets senders use: "Sun, 06 Nov 1994 08:49:37 GMT".
 * The obsolete forms are accepted by strptime's %a/%b as well where they match. */
static int parse_http_date(const char *s, time_t *out)
{
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    const char *end = strptime(s, "%a, %d %b %Y %H:%M:%S GMT", &tm);
    if (end == NULL)
        end = strptime(s, "%A, %d-%b-%y %H:%M:%S GMT", &tm); /* RFC 850 */
    if (end == NULL)
        return -1;
    while (isspace((unsigned char)*end))
        end++;
    if (*end != '\0')
        return -1;
    *out = timegm(&tm);
    return *out == (time_t)-1 ? -1 : 0;
}

int retry_after_parse(const char *value, time_t now, double *secs)
{
    while (isspace((unsigned char)*value))
        value++;
    if (isdigit((unsigned char)*value)) {
        char *end;
        errno = 0;
        unsigned long long v = strtoull(value, &end, 10);
        int too_big = errno == ERANGE;
        while (isspace((unsigned char)*end))
            end++;
        if (*end != '\0')
            return -1;
        /* A number too large to hold is still a number of seconds, a very long one: it
         * saturates (and so ends the retries), it is not "unparsable" (which would fall
         * back to the backoff and retry). */
        *secs = too_big ? HUGE_VAL : (double)v;
        return 0;
    }
    time_t when;
    if (parse_http_date(value, &when) < 0)
        return -1;
    *secs = when > now ? difftime(when, now) : 0;
    return 0;
}
