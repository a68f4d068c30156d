/*
 * fetch_many.c -- the smallest useful libsalvo program: fetch every URL given on the
 * command line at once, and print one line per result as each one finishes.
 *
 * What it teaches
 *   - The life of an engine: salvo_config_init, salvo_new, salvo_submit, salvo_run,
 *     salvo_free. Nothing happens until salvo_run(), and salvo_run() returns only when
 *     every submitted request has had its callback.
 *   - The callback contract: each accepted submit gets exactly one callback, also for a
 *     URL that does not parse or a site that does not answer. A failure is a result
 *     (error class + message), not a missing line.
 *   - The result is valid only during the callback: print or copy what you need there.
 *   - Results arrive in completion order; the `index` given to salvo_submit says which
 *     URL a result belongs to.
 *
 * Build: make examples (the binary is build/examples/fetch_many).
 * Run:   build/examples/fetch_many http://example.test/ https://example.test/slow
 * Output, one line per URL:  INDEX STATUS ERROR BYTES TOTAL_MS URL [MESSAGE]
 *   STATUS is 0 when no response arrived. ERROR is an error class ("dns",
 *   "connect_refused", "timeout", ...), or "ok" when a whole response arrived, whatever
 *   its status. TOTAL_MS is "-" when the request never started. Exit status: 0 when
 *   every result is ok (no error and a status below 400), else 1.
 */
#include <stdio.h>

#include <salvo.h>

/* What the callbacks share: here, only a count of failures. Anything the program needs
 * in its callbacks travels through the user pointer; there are no globals to set. */
struct tally {
    int not_ok;
};

/* Runs once per URL, from inside salvo_run(). */
static void on_done(const salvo_result_t *r, void *user)
{
    struct tally *t = user;
    char total[32] = "-";

    /* ok: a whole response arrived and its status is below 400. */
    if (!r->ok)
        t->not_ok++;
    /* A negative duration means "does not apply": total_ms is negative when the request
     * never got a slot (a URL that did not parse, say). */
    if (r->total_ms >= 0)
        snprintf(total, sizeof(total), "%.1f", r->total_ms);
    printf("%llu %d %s %llu %s %s", (unsigned long long)r->index, r->status,
           salvo_err_name(r->error), (unsigned long long)r->bytes, total, r->url);
    if (r->message)
        printf(" %s", r->message);
    printf("\n");
    /* Flushed per result, so that a reader of a pipe sees each one as it happens. */
    fflush(stdout);
}

int main(int argc, char **argv)
{
    salvo_config_t cfg;
    salvo_t *engine;
    struct tally t = {0};
    char err[256];

    if (argc < 2) {
        fprintf(stderr, "usage: %s URL...\n", argv[0]);
        return 2;
    }

    /* Start from the defaults (those of the salvo command) and change what matters. */
    salvo_config_init(&cfg);
    cfg.concurrency = 20; /* at most 20 requests in flight; the rest wait their turn */
    cfg.max_time = 10;    /* seconds per attempt */
    cfg.retry = 0;        /* report the first failure as it is */

    if (salvo_new(&engine, &cfg, err, sizeof(err), NULL, 0) < 0) {
        fprintf(stderr, "fetch_many: %s\n", err);
        return 2;
    }

    /* Submitting only queues the request: nothing is sent before salvo_run(). A NULL
     * request means a plain GET. The index is ours to choose; here, the argv position. */
    for (int i = 1; i < argc; i++) {
        if (salvo_submit(engine, argv[i], (uint64_t)(i - 1), NULL, on_done, &t) < 0) {
            /* A refused submit never gets a callback, so it is reported here. */
            fprintf(stderr, "fetch_many: %s: %s\n", argv[i], salvo_last_error(engine));
            t.not_ok++;
        }
    }

    /* One thread, one loop: every request progresses while this call runs. */
    if (salvo_run(engine) < 0) {
        fprintf(stderr, "fetch_many: the engine failed\n");
        t.not_ok++;
    }
    salvo_free(engine);
    return t.not_ok ? 1 : 0;
}
