/*
 * report.c -- records in their format, as they complete, and what ends the run: the
 * exposition, the table's footer, the summary, and the progress bar meanwhile. See
 * report.h.
 */
#include "report.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "format_csv.h"
#include "format_prom.h"
#include "format_table.h"
#include "progress.h"
#include "summary.h"

struct report {
    FILE *out;
    enum cli_format format; /* never CLI_FORMAT_AUTO here */
    int out_tty;            /* records go to a terminal */
    int colour;             /* the table in colour */
    int footer;             /* the table ends with the summary */
    int summary_stderr;     /* the summary goes to stderr at the end */
    int stderr_colour;      /* ... in colour */
    int progress;           /* the progress bar is on */
    int headed;             /* the csv or table header row is written */
    struct progress bar;
    struct summary sum;
    struct csv csv;
    struct prom prom;
    double start;
    uint64_t done, failed;
};

/* NO_COLOR (no-color.org): present and not empty, no colour anywhere. */
static int no_color(void)
{
    const char *v = getenv("NO_COLOR");
    return v != NULL && v[0] != '\0';
}

int report_open(struct report **rp, const struct cli *c, FILE *out, const char *out_name, char *why,
                size_t whylen)
{
    (void)out_name; /* nothing is written here: main names the stream in its messages */
    struct report *r = calloc(1, sizeof *r);
    if (r == NULL) {
        snprintf(why, whylen, "out of memory");
        return -1;
    }
    r->out = out;
    r->start = progress_now();
    r->out_tty = isatty(fileno(out));
    int err_tty = isatty(STDERR_FILENO);
    r->format = c->format;
    if (r->format == CLI_FORMAT_AUTO)
        r->format = c->output_path == NULL && r->out_tty ? CLI_FORMAT_TABLE : CLI_FORMAT_JSONL;
    r->colour = r->format == CLI_FORMAT_TABLE && r->out_tty && !no_color();
    r->stderr_colour = err_tty && !no_color();

    /* The summary: the table's footer, whatever the table's destination; otherwise on
     * stderr when that is a terminal or when asked for. -s silences both, unless
     * --summary asks for it. */
    int wanted = c->summary || !c->silent;
    if (r->format == CLI_FORMAT_TABLE)
        r->footer = wanted;
    else
        r->summary_stderr = c->summary || (err_tty && !c->silent);

    /* The bar, on a terminal only, and not when stderr carries other lines as the run
     * goes (a trace or the loop-lag report would cut through it). */
    int trace_stderr = c->trace_path != NULL && strcmp(c->trace_path, "-") == 0;
    r->progress = err_tty && !c->silent && !trace_stderr && !(c->cfg.debug_loop_ms > 0);
    progress_init(&r->bar, stderr, r->start);
    if (c->input_path == NULL && c->nurls > 0 && c->shard.n == 0)
        progress_set_total(&r->bar, c->nurls); /* the arguments are the whole input */

    summary_init(&r->sum);
    r->sum.compared = c->compare_path != NULL;
    prom_init(&r->prom);
    if (r->format == CLI_FORMAT_CSV && csv_open(&r->csv) < 0) {
        snprintf(why, whylen, "out of memory");
        report_free(r);
        return -1;
    }
    *rp = r;
    return 0;
}

/* The output failed: the bar is erased for the caller's message (none when the reader
 * of a pipe has gone, errno EPIPE: `salvo ... | head -1` wanted no more). */
static int output_failed(struct report *rp)
{
    int e = errno;
    progress_erase(&rp->bar);
    errno = e;
    return -1;
}

/* The header row of csv and table, before the first row or at the end of a run with
 * none (so that a run stopped by a usage error before it began writes nothing). */
static int put_header(struct report *rp)
{
    if (rp->headed)
        return 0;
    rp->headed = 1;
    if (rp->format == CLI_FORMAT_CSV)
        return csv_header(&rp->csv, rp->out);
    if (rp->format == CLI_FORMAT_TABLE)
        return table_header(rp->out, rp->colour);
    return 0;
}

int report_record(struct report *rp, const salvo_result_t *r, const struct output_extra *x)
{
    /* Records on the terminal of the bar: the bar goes first, and comes back later. */
    if (rp->out_tty)
        progress_erase(&rp->bar);
    int rc = put_header(rp);
    if (rc == 0) {
        switch (rp->format) {
        case CLI_FORMAT_CSV:
            rc = csv_record(&rp->csv, rp->out, r, x);
            break;
        case CLI_FORMAT_TABLE:
            rc = table_row(rp->out, r, x, rp->colour);
            break;
        case CLI_FORMAT_PROM:
            /* Kept, not written: the exposition is written whole at the end. */
            rc = prom_add(&rp->prom, r, x, x != NULL ? x->name : NULL);
            break;
        default:
            rc = output_json_record(rp->out, r, x);
        }
    }
    /* On the bar's terminal each record is flushed before the bar comes back; elsewhere
     * records reach the kernel once per batch (report_flush), a write per loop pass
     * rather than one per record. */
    if (rc < 0 || (rp->out_tty && fflush(rp->out) != 0))
        return output_failed(rp);
    summary_add(&rp->sum, r, x);
    rp->done++;
    if (!r->ok)
        rp->failed++;
    if (rp->progress)
        progress_tick(&rp->bar, rp->done, rp->failed, progress_now());
    return 0;
}

int report_flush(struct report *rp)
{
    return fflush(rp->out) != 0 ? output_failed(rp) : 0;
}

void report_count(struct report *rp, const salvo_result_t *r, const struct output_extra *x)
{
    summary_add(&rp->sum, r, x);
}

void report_input_end(struct report *rp, uint64_t urls)
{
    progress_set_total(&rp->bar, urls);
}

void report_before_stderr(struct report *rp)
{
    progress_erase(&rp->bar);
}

int report_close(struct report *rp, int interrupted)
{
    /* An interrupted run ends the same way: every record kept was written whole (csv
     * rows, table rows) or is in the exposition written now. */
    (void)interrupted;
    progress_erase(&rp->bar);
    double wall = progress_now() - rp->start;
    int rc = put_header(rp);
    if (rc == 0 && rp->format == CLI_FORMAT_PROM)
        rc = prom_write(&rp->prom, rp->out);
    if (rc == 0 && rp->format == CLI_FORMAT_TABLE && rp->footer) {
        fputc('\n', rp->out);
        summary_write(&rp->sum, rp->out, wall, rp->colour);
    }
    if (rc < 0 || fflush(rp->out) != 0 || ferror(rp->out))
        return output_failed(rp);
    if (rp->summary_stderr) {
        summary_write(&rp->sum, stderr, wall, rp->stderr_colour);
        fflush(stderr);
    }
    return 0;
}

void report_free(struct report *rp)
{
    if (rp == NULL)
        return;
    summary_free(&rp->sum);
    csv_free(&rp->csv);
    prom_free(&rp->prom);
    free(rp);
}
