/*
 * test_fairness.c -- no head-of-line blocking behind a busy host, seen through the
 * public API. The input holds 1,000 URLs of one slow site first, then 200 URLs of 200
 * other sites that answer after 500 ms. With --per-host 6 the slow site can hold only six
 * slots, so the 200 must finish in about one of their own delays, not after the 1,000.
 * Once the 200 are in, the test ends the run with salvo_cancel.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include <salvo.h>

#include "peer.h"

#define SLOW_URLS    1000
#define FAST_SITES   200
#define FAST_DELAY_S 0.5

static struct peer slow, fast;

static int start_peers(void **state)
{
    (void)state;
    char *slow_args[] = {"--delay-all", "5000", NULL};
    char *fast_args[] = {"--delay-all", "500", NULL};
    if (peer_start(&slow, slow_args) < 0 || peer_start(&fast, fast_args) < 0)
        return -1;
    return 0;
}

static int stop_peers(void **state)
{
    (void)state;
    peer_stop(&slow);
    peer_stop(&fast);
    return 0;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

struct run {
    salvo_t *engine;
    double start;
    int fast_done, fast_ok, slow_done;
    double fast_last_s; /* when the 200th fast site finished, from the start */
};

static void on_done(const salvo_result_t *r, void *user)
{
    struct run *run = user;
    if (r->index < SLOW_URLS) {
        run->slow_done++;
        return;
    }
    run->fast_done++;
    run->fast_ok += r->ok;
    if (run->fast_done == FAST_SITES) {
        run->fast_last_s = now_s() - run->start;
        salvo_cancel(run->engine); /* the point is made; the slow 1,000 need not finish */
    }
}

static void test_busy_host_does_not_block_others(void **state)
{
    (void)state;
    static char pins[FAST_SITES + 1][96];
    const char *resolve[FAST_SITES + 1];
    for (int i = 0; i < FAST_SITES; i++) {
        snprintf(pins[i], sizeof pins[i], "site%d.test:%d:127.0.0.1", i, fast.port);
        resolve[i] = pins[i];
    }
    snprintf(pins[FAST_SITES], sizeof pins[0], "slow.test:%d:127.0.0.1", slow.port);
    resolve[FAST_SITES] = pins[FAST_SITES];

    salvo_config_t cfg;
    salvo_config_init(&cfg);
    cfg.concurrency = 250;
    cfg.per_host = 6;
    cfg.retry = 0;
    cfg.resolve = resolve;
    cfg.resolve_len = FAST_SITES + 1;
    struct run run = {0};
    char err[256];
    assert_int_equal(salvo_new(&run.engine, &cfg, err, sizeof err, NULL, 0), 0);

    char url[128];
    for (int i = 0; i < SLOW_URLS; i++) {
        snprintf(url, sizeof url, "http://slow.test:%d/n%d", slow.port, i);
        assert_int_equal(salvo_submit(run.engine, url, (uint64_t)i, NULL, on_done, &run), 0);
    }
    for (int i = 0; i < FAST_SITES; i++) {
        snprintf(url, sizeof url, "http://site%d.test:%d/", i, fast.port);
        assert_int_equal(
            salvo_submit(run.engine, url, (uint64_t)(SLOW_URLS + i), NULL, on_done, &run), 0);
    }
    run.start = now_s();
    assert_int_equal(salvo_run(run.engine), 0);

    salvo_stats_t st;
    salvo_stats(run.engine, &st);
    salvo_free(run.engine);
    print_message("# 200 sites done after %.3f s; the slow site had %d of 1,000 done\n",
                  run.fast_last_s, run.slow_done);
    assert_int_equal(run.fast_done, FAST_SITES);
    assert_int_equal(run.fast_ok, FAST_SITES);
    /* About one delay, with the generous margin of two. */
    assert_true(run.fast_last_s < 2 * FAST_DELAY_S);
    /* The slow site never had more connections than --per-host allows... */
    assert_true(st.max_in_flight <= FAST_SITES + 6);
    /* ...and every one of the 1,200 got its callback: done, or cancelled. */
    assert_int_equal(run.slow_done, SLOW_URLS);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_busy_host_does_not_block_others),
    };
    return cmocka_run_group_tests(tests, start_peers, stop_peers);
}
