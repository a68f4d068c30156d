/*
 * report.c -- records in their format, as they complete. See report.h.
 */
#include "report.h"

#include <errno.h>
#include <stdlib.h>

struct report {
    FILE *out;
};

int report_open(struct report **rp, const struct cli *c, FILE *out, const char *out_name, char *why,
                size_t whylen)
{
    (void)c;
    (void)out_name;
    struct report *r = calloc(1, sizeof *r);
    if (r == NULL) {
        snprintf(why, whylen, "out of memory");
        return -1;
    }
    r->out = out;
    *rp = r;
    return 0;
}

int report_record(struct report *rp, const salvo_result_t *r, const struct output_extra *x)
{
    /* Flushed per record: a user tailing the output sees each result as it happens. */
    if (output_json_record(rp->out, r, x) < 0 || fflush(rp->out) != 0)
        return -1;
    return 0;
}

int report_close(struct report *rp, int interrupted)
{
    (void)interrupted;
    return fflush(rp->out) != 0 ? -1 : 0;
}

void report_free(struct report *rp)
{
    free(rp);
}
