/*
 * blocking_mistake.c -- the classic mistake of asynchronous code, and how salvo points at
 * it: a completion callback that makes a blocking call.
 *
 * The mistake
 *   Every request of an engine runs on one thread, in one event loop. A callback runs on
 *   that thread too, so while it runs nothing else does: no socket is read, no request is
 *   sent, no deadline fires. Here the callback "saves each result to a database" with a
 *   synchronous write, played by usleep(200 ms). With three URLs that is 600 ms during
 *   which every other request stands still; with ten thousand it is more than half an
 *   hour. Worse, the harm shows up elsewhere: answers that arrived on time sit unread
 *   in the kernel, so the next results carry inflated ttfb_ms and total_ms, and requests
 *   can fail with `timeout` because their deadline ran out while the thread slept.
 *
 * How salvo shows it
 *   config.debug_loop_ms = 50 makes the engine time every callback of its loop and print
 *   one line on stderr for each that held the thread longer than 50 ms, saying what kind
 *   of callback it was and what it belongs to (the salvo command: --debug-loop MS):
 *       salvo: loop: io of request 0 held the thread for 200.3 ms (over 50 ms)
 *   ("unlabelled io" when the engine has not said whose the callback is). salvo_stats()
 *   also keeps the longest hold in loop_max_lag_ms.
 *
 * The fix
 *   Do in the callback only what is quick: copy what you need out of the result (it is
 *   valid only during the callback) and queue it. Do the slow work elsewhere: after
 *   salvo_run() returns (what `--queue` does below), or in a worker thread that takes
 *   records from a queue, or through a database client that is itself asynchronous.
 *
 * Build: make examples (the binary is build/examples/blocking_mistake).
 * Run:   build/examples/blocking_mistake URL...           the mistake: lag reports
 *        build/examples/blocking_mistake --queue URL...   the fix: none
 * Output, one line per URL:  INDEX STATUS ERROR URL, a line "saved INDEX STATUS" as each
 * record is written, and on stderr the longest time a callback held the thread.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <salvo.h>

/* The time one "database write" takes. */
#define DB_WRITE_US 200000

/* Stands for any synchronous call: a database INSERT, an fsync, a blocking HTTP call, a
 * getaddrinfo. */
static void save_to_database(const char *record)
{
    usleep(DB_WRITE_US);
    printf("saved %s\n", record);
}

/* Records waiting to be saved, for the fixed version. */
struct queue {
    char **records;
    size_t len;
    int use_queue; /* 0: save in the callback (the mistake); 1: queue, save later */
    int not_ok;
};

static void on_done(const salvo_result_t *r, void *user)
{
    struct queue *q = user;
    char record[512];

    if (!r->ok)
        q->not_ok++;
    printf("%llu %d %s %s\n", (unsigned long long)r->index, r->status, salvo_err_name(r->error),
           r->url);
    fflush(stdout);
    snprintf(record, sizeof(record), "%llu %d", (unsigned long long)r->index, r->status);

    if (!q->use_queue) {
        save_to_database(record); /* THE MISTAKE: the whole engine waits for this */
        return;
    }
    /* The fix: a copy and a pointer, microseconds. */
    char **more = realloc(q->records, (q->len + 1) * sizeof(*more));
    char *copy = strdup(record);
    if (!more || !copy) {
        free(copy);
        if (more)
            q->records = more;
        fprintf(stderr, "blocking_mistake: out of memory, record %s lost\n", record);
        q->not_ok++;
        return;
    }
    more[q->len++] = copy;
    q->records = more;
}

int main(int argc, char **argv)
{
    struct queue q = {0};
    salvo_config_t cfg;
    salvo_stats_t st;
    salvo_t *engine;
    char err[256];
    int first = 1;

    if (argc > 1 && strcmp(argv[1], "--queue") == 0) {
        q.use_queue = 1;
        first = 2;
    }
    if (first >= argc) {
        fprintf(stderr, "usage: %s [--queue] URL...\n", argv[0]);
        return 2;
    }

    salvo_config_init(&cfg);
    cfg.debug_loop_ms = 50; /* report any callback that holds the thread over 50 ms */
    cfg.retry = 0;
    if (salvo_new(&engine, &cfg, err, sizeof(err), NULL, 0) < 0) {
        fprintf(stderr, "blocking_mistake: %s\n", err);
        return 2;
    }
    for (int i = first; i < argc; i++) {
        if (salvo_submit(engine, argv[i], (uint64_t)(i - first), NULL, on_done, &q) < 0) {
            fprintf(stderr, "blocking_mistake: %s: %s\n", argv[i], salvo_last_error(engine));
            q.not_ok++;
        }
    }
    if (salvo_run(engine) < 0) {
        fprintf(stderr, "blocking_mistake: the engine failed\n");
        q.not_ok++;
    }
    salvo_stats(engine, &st);
    salvo_free(engine);

    /* The fixed version saves its records here, with no request waiting on them. */
    for (size_t i = 0; i < q.len; i++) {
        save_to_database(q.records[i]);
        free(q.records[i]);
    }
    free(q.records);
    fprintf(stderr, "blocking_mistake: a callback held the thread for up to %.0f ms\n",
            st.loop_max_lag_ms);
    return q.not_ok ? 1 : 0;
}
