/*
 * test_loop.c -- the reactor against real file descriptors: timers, deferred callbacks,
 * watchers on AF_UNIX socketpairs, closing in the middle of a batch, wakeup from a signal
 * handler, loop_stop and the lag monitor with the labels that name a slow callback's owner.
 *
 * Every test that runs the loop arms a watchdog timer (WATCHDOG_MS) that stops the loop
 * and fails the test, so no test can block for long; the signal test, which must run with
 * no timer at all, is bounded by a POSIX timer whose signal kills the process instead.
 * Callback counts follow libuv's style: *_cb_called counters checked at the end.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "loop.h"

#define WATCHDOG_MS 3000

static struct loop *L;
static struct loop_timer watchdog;
static int watchdog_cb_called;

static void watchdog_cb(struct loop_timer *t, void *data)
{
    (void)t;
    (void)data;
    watchdog_cb_called++;
    loop_stop(L);
}

static int setup(void **state)
{
    (void)state;
    if (loop_new(&L) != 0)
        return -1;
    watchdog_cb_called = 0;
    loop_timer_init(&watchdog, watchdog_cb, NULL);
    loop_timer_start(L, &watchdog, WATCHDOG_MS);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    loop_timer_stop(L, &watchdog);
    loop_free(L);
    L = NULL;
    return 0;
}

/* Runs the loop and checks that it returned because a test callback stopped it. */
static void run_ok(void)
{
    assert_int_equal(loop_run(L), 0);
    assert_int_equal(watchdog_cb_called, 0);
}

static void stop_cb(struct loop_timer *t, void *data)
{
    (void)t;
    (void)data;
    loop_stop(L);
}

/* ---- timers -------------------------------------------------------------------------- */

struct fired {
    int id;         /* which timer */
    uint64_t armed; /* loop_now() when it was started */
    uint64_t after; /* its delay */
    int cb_called;  /* times it ran */
};

static int order[16];
static int order_len;

static void record_cb(struct loop_timer *t, void *data)
{
    struct fired *f = data;

    (void)t;
    f->cb_called++;
    /* Never early: the cached time has reached the deadline. */
    assert_true(loop_now(L) >= f->armed + f->after);
    if (order_len < 16)
        order[order_len++] = f->id;
}

static void start_recorded(struct loop_timer *t, struct fired *f, int id, uint64_t after)
{
    f->id = id;
    f->armed = loop_now(L);
    f->after = after;
    f->cb_called = 0;
    loop_timer_init(t, record_cb, f);
    loop_timer_start(L, t, after);
    assert_true(loop_timer_active(t));
}

static void test_timers_order_once(void **state)
{
    struct loop_timer t[4], stop;
    struct fired f[4];
    uint64_t start_us = loop_now_us();

    (void)state;
    order_len = 0;
    /* Timers count from the cached time, which is as old as the loop here. */
    loop_update_time(L);
    start_recorded(&t[0], &f[0], 3, 30);
    start_recorded(&t[1], &f[1], 1, 10);
    start_recorded(&t[2], &f[2], 2, 20);
    start_recorded(&t[3], &f[3], 4, 30); /* same deadline as id 3, armed later */
    loop_timer_init(&stop, stop_cb, NULL);
    loop_timer_start(L, &stop, 60);
    run_ok();

    assert_int_equal(order_len, 4);
    for (int i = 0; i < 4; i++) {
        assert_int_equal(order[i], i + 1);
        assert_int_equal(f[i].cb_called, 1);
        assert_false(loop_timer_active(&t[i]));
    }
    /* The 60 ms timer cannot fire before 59 ms of real time (ms granularity). */
    assert_true(loop_now_us() - start_us >= 59000);
}

static struct loop_timer victim;
static int victim_cb_called;
static int stopper_cb_called;

static void victim_cb(struct loop_timer *t, void *data)
{
    (void)t;
    (void)data;
    victim_cb_called++;
}

static void stopper_cb(struct loop_timer *t, void *data)
{
    (void)t;
    (void)data;
    stopper_cb_called++;
    assert_true(loop_timer_active(&victim));
    loop_timer_stop(L, &victim);
    assert_false(loop_timer_active(&victim));
}

static void test_timer_stop(void **state)
{
    struct loop_timer never, stopper, stop;

    (void)state;
    victim_cb_called = stopper_cb_called = 0;
    /* Stopped from outside the loop, before it ever runs. */
    loop_timer_init(&never, victim_cb, NULL);
    loop_timer_start(L, &never, 5);
    loop_timer_stop(L, &never);
    loop_timer_stop(L, &never); /* twice: a no-op */
    assert_false(loop_timer_active(&never));
    /* Stopped from another timer's callback, before its own expiry. Both are due in the
     * same iteration once 20 ms have passed. */
    loop_timer_init(&victim, victim_cb, NULL);
    loop_timer_start(L, &victim, 20);
    loop_timer_init(&stopper, stopper_cb, NULL);
    loop_timer_start(L, &stopper, 10);
    loop_timer_init(&stop, stop_cb, NULL);
    loop_timer_start(L, &stop, 40);
    run_ok();
    assert_int_equal(stopper_cb_called, 1);
    assert_int_equal(victim_cb_called, 0);
}

/* A deferred callback that re-queues itself counts iterations: it runs once at the end of
 * each one (a re-queue from the queue waits for the next iteration). */
static struct loop_defer ticker;
static int iterations;

static void ticker_cb(struct loop_defer *d, void *data)
{
    (void)data;
    iterations++;
    loop_defer(L, d);
}

static int rearm_cb_called;
static int rearm_seen_iteration[8];

static void rearm_cb(struct loop_timer *t, void *data)
{
    (void)data;
    assert_false(loop_timer_active(t));
    rearm_seen_iteration[rearm_cb_called++] = iterations;
    if (rearm_cb_called < 5) {
        loop_timer_start(L, t, 0); /* due at once, yet not again in this iteration */
        assert_true(loop_timer_active(t));
    } else {
        loop_stop(L);
    }
}

static void test_timer_rearm_own_cb(void **state)
{
    struct loop_timer t;

    (void)state;
    rearm_cb_called = iterations = 0;
    loop_defer_init(&ticker, ticker_cb, NULL);
    loop_defer(L, &ticker);
    loop_timer_init(&t, rearm_cb, NULL);
    loop_timer_start(L, &t, 0);
    run_ok();
    loop_defer_cancel(L, &ticker);
    assert_int_equal(rearm_cb_called, 5);
    for (int i = 1; i < 5; i++)
        assert_int_equal(rearm_seen_iteration[i], rearm_seen_iteration[i - 1] + 1);
    assert_false(loop_timer_active(&t));
}

static void test_timer_rearm_earlier(void **state)
{
    struct loop_timer t, stop;
    struct fired f;

    (void)state;
    order_len = 0;
    start_recorded(&t, &f, 1, 10000);
    /* Re-armed while running: moved, not duplicated. */
    loop_timer_start(L, &t, 5);
    f.after = 5;
    loop_timer_init(&stop, stop_cb, NULL);
    loop_timer_start(L, &stop, 30);
    run_ok();
    assert_int_equal(f.cb_called, 1);
    assert_false(loop_timer_active(&t));
}

static void test_loop_stop(void **state)
{
    struct loop_timer a, b, after_stop;
    struct fired fa, fb, fc;

    (void)state;
    order_len = 0;
    /* Both due in the first iteration; a's stop still lets b run in that iteration. */
    loop_timer_init(&a, stop_cb, NULL);
    loop_timer_start(L, &a, 0);
    start_recorded(&b, &fb, 2, 0);
    start_recorded(&after_stop, &fc, 3, 20);
    run_ok();
    assert_int_equal(fb.cb_called, 1);
    assert_int_equal(fc.cb_called, 0);
    /* The stop flag is consumed: the loop runs again until the next stop. */
    start_recorded(&a, &fa, 1, 40);
    loop_timer_init(&b, stop_cb, NULL);
    loop_timer_start(L, &b, 50);
    run_ok();
    assert_int_equal(fc.cb_called, 1);
    assert_int_equal(fa.cb_called, 1);
    assert_int_equal(order_len, 3);
    assert_int_equal(order[1], 3);
    assert_int_equal(order[2], 1);
}

static void test_loop_stop_is_prompt(void **state)
{
    struct loop_timer t;
    uint64_t start_us = loop_now_us();

    (void)state;
    /* The next timer is the watchdog, seconds away: after a stop the loop must not sleep
     * until it before returning. */
    loop_timer_init(&t, stop_cb, NULL);
    loop_timer_start(L, &t, 0);
    run_ok();
    assert_true(loop_now_us() - start_us < (WATCHDOG_MS / 2) * 1000u);
}

/* ---- deferred callbacks -------------------------------------------------------------- */

static struct loop_defer da, db, dc, dd;
static int defer_order[8];
static int defer_order_len;
static int dd_cb_called;

static void note_cb(struct loop_defer *d, void *data)
{
    (void)d;
    defer_order[defer_order_len++] = (int)(intptr_t)data;
}

static void dc_cb(struct loop_defer *d, void *data)
{
    note_cb(d, data);
    loop_defer(L, &dd);
    assert_true(dd.queued);
    loop_stop(L); /* returns after this iteration: dd must not have run by then */
}

static void dd_cb(struct loop_defer *d, void *data)
{
    (void)d;
    (void)data;
    dd_cb_called++;
    loop_stop(L);
}

static void test_defer_fifo(void **state)
{
    (void)state;
    defer_order_len = dd_cb_called = 0;
    loop_defer_init(&da, note_cb, (void *)1);
    loop_defer_init(&db, note_cb, (void *)2);
    loop_defer_init(&dc, dc_cb, (void *)3);
    loop_defer_init(&dd, dd_cb, NULL);
    loop_defer(L, &da);
    loop_defer(L, &db);
    loop_defer(L, &da); /* already queued: no-op, keeps its place */
    loop_defer(L, &dc);
    run_ok();
    assert_int_equal(defer_order_len, 3);
    assert_int_equal(defer_order[0], 1);
    assert_int_equal(defer_order[1], 2);
    assert_int_equal(defer_order[2], 3);
    assert_int_equal(dd_cb_called, 0);
    assert_true(dd.queued);
    run_ok();
    assert_int_equal(dd_cb_called, 1);
    assert_false(dd.queued);
    assert_int_equal(defer_order_len, 3);
}

static void cancel_next_cb(struct loop_defer *d, void *data)
{
    note_cb(d, data);
    loop_defer_cancel(L, &dc); /* not yet run in this pass */
    loop_defer(L, &db);        /* queued during the run: next iteration */
    loop_defer_cancel(L, &db); /* and taken back again */
}

static void test_defer_cancel(void **state)
{
    struct loop_timer stop;

    (void)state;
    defer_order_len = 0;
    loop_defer_init(&da, cancel_next_cb, (void *)1);
    loop_defer_init(&db, note_cb, (void *)2);
    loop_defer_init(&dc, note_cb, (void *)3);
    loop_defer_init(&dd, note_cb, (void *)4);
    /* Cancel from outside: the middle, then the tail, which must fix the tail link. */
    loop_defer(L, &db);
    loop_defer(L, &da);
    loop_defer(L, &dd);
    loop_defer_cancel(L, &db);
    loop_defer_cancel(L, &dd);
    loop_defer_cancel(L, &dd); /* not queued: no-op */
    loop_defer(L, &dc);
    loop_defer(L, &dd);
    loop_timer_init(&stop, stop_cb, NULL);
    loop_timer_start(L, &stop, 20);
    run_ok();
    assert_int_equal(defer_order_len, 2);
    assert_int_equal(defer_order[0], 1);
    assert_int_equal(defer_order[1], 4);
    assert_false(da.queued || db.queued || dc.queued || dd.queued);
}

/* ---- watchers ------------------------------------------------------------------------ */

struct io_case {
    struct loop_io *w;      /* the watcher */
    int fd;                 /* its fd */
    int cb_called;          /* times called */
    unsigned events;        /* events of the last call */
    int close_self;         /* close the watcher from its own callback */
    struct io_case *victim; /* closed from this callback, if any */
    struct io_case *mute;   /* interest set to 0 from this callback, if any */
    int stop;               /* loop_stop from the callback */
};

static void io_cb(struct loop_io *w, unsigned events, void *data)
{
    struct io_case *c = data;
    char b[16];

    assert_ptr_equal(w, c->w);
    c->cb_called++;
    c->events = events;
    if (events & LOOP_READ)
        (void)!read(c->fd, b, sizeof(b));
    if (c->victim && c->victim->w) {
        loop_io_close(c->victim->w);
        c->victim->w = NULL;
    }
    if (c->mute && c->mute->w)
        assert_int_equal(loop_io_set(c->mute->w, 0), 0);
    if (c->close_self) {
        loop_io_close(w);
        c->w = NULL;
    }
    if (c->stop)
        loop_stop(L);
}

static void pair(int sv[2])
{
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv), 0);
}

static void watch_with(struct io_case *c, int fd, unsigned interest, loop_io_fn *cb)
{
    memset(c, 0, sizeof(*c));
    c->fd = fd;
    c->w = loop_io_new(L, fd, cb, c);
    assert_non_null(c->w);
    assert_int_equal(loop_io_fd(c->w), fd);
    assert_int_equal(loop_io_set(c->w, interest), 0);
    assert_int_equal(loop_io_interest(c->w), interest);
}

static void watch(struct io_case *c, int fd, unsigned interest)
{
    watch_with(c, fd, interest, io_cb);
}

static void unwatch(struct io_case *c)
{
    loop_io_close(c->w);
    c->w = NULL;
}

static void test_io_readable(void **state)
{
    struct io_case c;
    int sv[2];

    (void)state;
    pair(sv);
    watch(&c, sv[0], LOOP_READ);
    c.stop = 1;
    assert_int_equal(write(sv[1], "x", 1), 1);
    run_ok();
    assert_int_equal(c.cb_called, 1);
    assert_int_equal(c.events, LOOP_READ);
    unwatch(&c);
    close(sv[0]);
    close(sv[1]);
}

static void test_io_writable(void **state)
{
    struct io_case c;
    int sv[2];

    (void)state;
    pair(sv);
    watch(&c, sv[0], LOOP_READ | LOOP_WRITE);
    c.stop = 1;
    run_ok();
    /* Nothing to read: only the write side is ready. */
    assert_int_equal(c.cb_called, 1);
    assert_int_equal(c.events, LOOP_WRITE);
    unwatch(&c);
    close(sv[0]);
    close(sv[1]);
}

static void test_io_hangup(void **state)
{
    struct io_case idle, reader;
    int sv[2], sv2[2];

    (void)state;
    pair(sv);
    pair(sv2);
    /* Interest 0: registered for errors only. Data that arrives is not reported... */
    watch(&idle, sv[0], LOOP_WRITE);
    assert_int_equal(loop_io_set(idle.w, 0), 0);
    assert_int_equal(write(sv[1], "x", 1), 1);
    watch(&reader, sv2[0], LOOP_READ);
    reader.stop = 1;
    assert_int_equal(write(sv2[1], "y", 1), 1);
    run_ok();
    assert_int_equal(idle.cb_called, 0);
    assert_int_equal(reader.cb_called, 1);
    /* ...but the peer's close is, to both, with the read bit only where asked for. */
    close(sv[1]);
    close(sv2[1]);
    idle.stop = 1;
    run_ok();
    assert_int_equal(idle.cb_called, 1);
    assert_int_equal(idle.events, LOOP_ERROR);
    assert_int_equal(reader.cb_called, 2);
    assert_int_equal(reader.events, LOOP_ERROR | LOOP_READ);
    unwatch(&idle);
    unwatch(&reader);
    close(sv[0]);
    close(sv2[0]);
}

static struct io_case *reuse_target;
static struct io_case reuse_new;
static int sv_spare[2];

/* Closes the other watcher and its fd, then puts a new watcher on the same fd number:
 * the stale event of the batch must reach neither the old watcher nor the new one. */
static void close_other_cb(struct loop_io *w, unsigned events, void *data)
{
    struct io_case *c = data;
    struct io_case *other = c->victim;
    int fd = other->fd;
    char b;

    (void)w;
    (void)events;
    c->cb_called++;
    assert_int_equal(read(c->fd, &b, 1), 1); /* level-triggered: else it fires again */
    loop_io_close(other->w);
    other->w = NULL;
    assert_int_equal(dup2(sv_spare[0], fd), fd); /* closes the old socket, reuses fd */
    watch(&reuse_new, fd, LOOP_READ);
    reuse_target = &reuse_new;
    loop_stop(L);
}

static void test_io_close_other_in_batch(void **state)
{
    struct io_case a, b;
    int sa[2], sb[2];

    (void)state;
    pair(sa);
    pair(sb);
    pair(sv_spare);
    reuse_target = NULL;
    /* Both readable before the loop polls, so both events come in one batch; whichever
     * callback runs first closes the other. */
    assert_int_equal(write(sa[1], "a", 1), 1);
    assert_int_equal(write(sb[1], "b", 1), 1);
    assert_int_equal(write(sv_spare[1], "s", 1), 1);
    watch_with(&a, sa[0], LOOP_READ, close_other_cb);
    watch_with(&b, sb[0], LOOP_READ, close_other_cb);
    a.victim = &b;
    b.victim = &a;
    run_ok();
    assert_int_equal(a.cb_called + b.cb_called, 1);
    assert_non_null(reuse_target);
    assert_int_equal(reuse_new.cb_called, 0);
    /* The new watcher gets its own event in a later batch. */
    reuse_new.stop = 1;
    run_ok();
    assert_int_equal(reuse_new.cb_called, 1);
    assert_int_equal(reuse_new.events, LOOP_READ);
    assert_int_equal(a.cb_called + b.cb_called, 1);
    unwatch(a.w ? &a : &b);
    unwatch(&reuse_new);
    close(sa[0]);
    close(sa[1]);
    close(sb[0]);
    close(sb[1]);
    close(sv_spare[0]);
    close(sv_spare[1]);
}

static void test_io_interest_dropped_in_batch(void **state)
{
    struct io_case a, b;
    int sa[2], sb[2];

    (void)state;
    pair(sa);
    pair(sb);
    /* Both writable at once, so both events come in one batch; whichever callback runs
     * first drops the other's interest, and the other's event must then be filtered out
     * (it would otherwise report a write the owner no longer asked for). */
    watch(&a, sa[0], LOOP_WRITE);
    watch(&b, sb[0], LOOP_WRITE);
    a.mute = &b;
    b.mute = &a;
    a.stop = b.stop = 1;
    run_ok();
    assert_int_equal(a.cb_called + b.cb_called, 1);
    assert_int_equal(loop_io_interest(a.cb_called ? b.w : a.w), 0);
    assert_int_equal(loop_io_interest(a.cb_called ? a.w : b.w), LOOP_WRITE);
    unwatch(&a);
    unwatch(&b);
    close(sa[0]);
    close(sa[1]);
    close(sb[0]);
    close(sb[1]);
}

static void test_io_close_self(void **state)
{
    struct loop_timer stop;
    struct io_case c;
    int sv[2];

    (void)state;
    pair(sv);
    /* Still writable after its callback: a watcher that survived its own close would be
     * called again in every iteration until the stop timer. */
    watch(&c, sv[0], LOOP_READ | LOOP_WRITE);
    c.close_self = 1;
    assert_int_equal(write(sv[1], "x", 1), 1);
    loop_timer_init(&stop, stop_cb, NULL);
    loop_timer_start(L, &stop, 30);
    run_ok();
    assert_int_equal(c.cb_called, 1);
    assert_int_equal(c.events, LOOP_READ | LOOP_WRITE);
    assert_null(c.w);
    close(sv[0]);
    close(sv[1]);
}

static void test_io_errors(void **state)
{
    struct loop_io *w;
    int sv[2];

    (void)state;
    errno = 0;
    assert_null(loop_io_new(L, -1, io_cb, NULL));
    assert_int_equal(errno, EBADF);
    /* A closed fd cannot be added: the error comes back and nothing is registered. */
    pair(sv);
    close(sv[1]);
    w = loop_io_new(L, sv[1], io_cb, NULL);
    assert_non_null(w);
    assert_int_equal(loop_io_set(w, LOOP_READ), -EBADF);
    assert_int_equal(loop_io_interest(w), 0);
    loop_io_close(w);
    loop_io_close(NULL);
    close(sv[0]);
}

/* ---- wakeup -------------------------------------------------------------------------- */

static int wake_cb_called;
static volatile sig_atomic_t alarm_called;

static void on_alarm(int sig)
{
    (void)sig;
    alarm_called++;
    loop_wakeup(L);
}

static void wake_cb(void *data)
{
    assert_ptr_equal(data, &wake_cb_called);
    wake_cb_called++;
    loop_stop(L);
}

static void test_wakeup_coalesces(void **state)
{
    (void)state;
    wake_cb_called = 0;
    loop_on_wakeup(L, wake_cb, &wake_cb_called);
    loop_wakeup(L);
    loop_wakeup(L);
    loop_wakeup(L);
    run_ok();
    assert_int_equal(wake_cb_called, 1);
    loop_on_wakeup(L, NULL, NULL);
}

static void test_wakeup_from_signal(void **state)
{
    struct sigaction sa = {0}, old;
    struct itimerval it = {{0, 0}, {0, 20000}};
    struct sigevent sev = {0};
    struct itimerspec guard = {{0, 0}, {10, 0}};
    timer_t guard_id;

    (void)state;
    wake_cb_called = 0;
    alarm_called = 0;
    /* No timer at all may be armed, so the loop blocks in epoll_wait(-1). The bound is a
     * POSIX timer whose SIGUSR2 (default action: terminate) ends the process if the
     * wakeup never arrives. */
    loop_timer_stop(L, &watchdog);
    sev.sigev_notify = SIGEV_SIGNAL;
    sev.sigev_signo = SIGUSR2;
    assert_int_equal(timer_create(CLOCK_MONOTONIC, &sev, &guard_id), 0);
    assert_int_equal(timer_settime(guard_id, 0, &guard, NULL), 0);

    sa.sa_handler = on_alarm;
    sigemptyset(&sa.sa_mask);
    assert_int_equal(sigaction(SIGALRM, &sa, &old), 0);
    loop_on_wakeup(L, wake_cb, &wake_cb_called);
    assert_int_equal(setitimer(ITIMER_REAL, &it, NULL), 0);
    /* The signal interrupts epoll_wait (EINTR, never a failure) and the eventfd then makes
     * the loop call wake_cb. */
    assert_int_equal(loop_run(L), 0);

    timer_delete(guard_id);
    sigaction(SIGALRM, &old, NULL);
    loop_on_wakeup(L, NULL, NULL);
    assert_int_equal(alarm_called, 1);
    assert_int_equal(wake_cb_called, 1);
}

/* ---- lag monitor --------------------------------------------------------------------- */

static void slow_cb(struct loop_timer *t, void *data)
{
    struct timespec ts = {0, 30 * 1000 * 1000};

    (void)t;
    (void)data;
    nanosleep(&ts, NULL);
    loop_stop(L);
}

static void quick_defer_cb(struct loop_defer *d, void *data)
{
    (void)d;
    (void)data;
}

/* Runs the loop with fd 2 sent to a temporary file; returns what was written there. */
static void run_capturing_stderr(char *out, size_t cap)
{
    FILE *tmp = tmpfile();
    int saved = dup(2);
    ssize_t n;

    assert_non_null(tmp);
    assert_true(saved >= 0);
    fflush(stderr);
    assert_int_equal(dup2(fileno(tmp), 2), 2);
    run_ok();
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    n = pread(fileno(tmp), out, cap - 1, 0);
    assert_true(n >= 0);
    out[n] = '\0';
    fclose(tmp);
}

static void test_lag_monitor(void **state)
{
    struct loop_timer slow;
    struct loop_defer quick;
    char text[512];

    (void)state;
    assert_true(loop_max_lag_ms(L) < 30.0);
    loop_set_lag_threshold(L, 10.0);
    loop_timer_init(&slow, slow_cb, NULL);
    loop_timer_start(L, &slow, 0);
    loop_defer_init(&quick, quick_defer_cb, NULL);
    loop_defer(L, &quick);
    run_capturing_stderr(text, sizeof(text));
    assert_true(loop_max_lag_ms(L) >= 30.0);
    assert_non_null(strstr(text, "salvo: loop: unlabelled timer held the thread for "));
    /* Only the slow callback is reported: one line. */
    assert_ptr_equal(strchr(text, '\n'), text + strlen(text) - 1);

    /* No threshold: measured, not reported. */
    loop_set_lag_threshold(L, 0);
    loop_timer_start(L, &slow, 0);
    run_capturing_stderr(text, sizeof(text));
    assert_string_equal(text, "");
}

/* Callbacks that hold the thread for SLOW_MS, reported with a threshold of LAG_MS. */
#define SLOW_MS 60
#define LAG_MS  20.0

static void hold_thread(void)
{
    struct timespec ts = {0, SLOW_MS * 1000 * 1000};

    nanosleep(&ts, NULL);
}

/* A timer embedded in an owner that its own callback frees, as a request's deadline does
 * when it ends the request: the report must still name the owner. */
struct owner {
    struct loop_timer timer;
    int *cb_called;
};

static void slow_owner_cb(struct loop_timer *t, void *data)
{
    struct owner *o = data;

    assert_ptr_equal(t, &o->timer);
    (*o->cb_called)++;
    hold_thread();
    free(o);
}

static void slow_io_cb(struct loop_io *w, unsigned events, void *data)
{
    char b[16];

    (void)events;
    (*(int *)data)++;
    (void)!read(loop_io_fd(w), b, sizeof(b));
    hold_thread();
}

static void slow_defer_cb(struct loop_defer *d, void *data)
{
    (void)d;
    (*(int *)data)++;
    hold_thread();
}

static void fast_timer_cb(struct loop_timer *t, void *data)
{
    (void)t;
    (*(int *)data)++;
}

static void fast_stop_defer_cb(struct loop_defer *d, void *data)
{
    (void)d;
    (*(int *)data)++;
    loop_stop(L);
}

/* The report line that starts with `head` (the kind and the label): checks its
 * duration, at least the time slept and under the watchdog, and its threshold. */
static void check_report(const char *text, const char *head)
{
    char pattern[128], tail[64];
    const char *line = strstr(text, head);
    double ms = 0;

    assert_non_null(line);
    snprintf(pattern, sizeof(pattern), "%s held the thread for %%lf ms %%63[^\n]", head);
    assert_int_equal(sscanf(line, pattern, &ms, tail), 2);
    assert_true(ms >= SLOW_MS);
    assert_true(ms < WATCHDOG_MS);
    assert_string_equal(tail, "(over 20 ms)");
}

static int count_lines(const char *text)
{
    int n = 0;

    for (; *text; text++)
        n += *text == '\n';
    return n;
}

/* One slow callback of each kind, each with a different sort of label, among fast
 * labelled ones: exactly the slow ones are reported, each naming its owner. */
static void test_lag_report_names_owner(void **state)
{
    struct owner *o = malloc(sizeof(*o));
    struct loop_timer fast;
    struct loop_defer slow_d, stop_d;
    struct io_case c;
    int owner_called = 0, io_called = 0, slow_d_called = 0, fast_called = 0, stop_called = 0;
    int sv[2];
    char text[1024];

    (void)state;
    assert_non_null(o);
    loop_set_lag_threshold(L, LAG_MS);

    o->cb_called = &owner_called;
    loop_timer_init(&o->timer, slow_owner_cb, o);
    loop_timer_set_label(&o->timer, "request", 12);
    loop_timer_start(L, &o->timer, 0);
    loop_timer_init(&fast, fast_timer_cb, &fast_called);
    loop_timer_set_label(&fast, "pool", 7);
    loop_timer_start(L, &fast, 0);

    pair(sv);
    watch_with(&c, sv[0], LOOP_READ, slow_io_cb);
    loop_io_set_owner(c.w, slow_io_cb, &io_called);
    loop_io_set_label(c.w, "dns", LOOP_NO_ID);
    assert_int_equal(write(sv[1], "x", 1), 1);

    loop_defer_init(&slow_d, slow_defer_cb, &slow_d_called);
    loop_defer(L, &slow_d);
    loop_defer_init(&stop_d, fast_stop_defer_cb, &stop_called);
    loop_defer_set_label(&stop_d, "completion", 3);
    loop_defer(L, &stop_d);

    run_capturing_stderr(text, sizeof(text));
    assert_int_equal(owner_called, 1);
    assert_int_equal(fast_called, 1);
    assert_int_equal(io_called, 1);
    assert_int_equal(slow_d_called, 1);
    assert_int_equal(stop_called, 1);

    check_report(text, "salvo: loop: timer of request 12");
    check_report(text, "salvo: loop: io of dns");
    check_report(text, "salvo: loop: unlabelled deferred");
    assert_int_equal(count_lines(text), 3);
    assert_null(strstr(text, "pool"));
    assert_null(strstr(text, "completion"));
    assert_true(loop_max_lag_ms(L) >= SLOW_MS);

    unwatch(&c);
    close(sv[0]);
    close(sv[1]);
}

/* A watcher's label names its owner: handing the watcher to another owner clears it,
 * and the new owner's label is the one reported. */
static void test_lag_label_follows_owner(void **state)
{
    struct loop_defer stop_d;
    struct io_case c;
    int io_called = 0, stop_called = 0;
    int sv[2];
    char text[1024];

    (void)state;
    loop_set_lag_threshold(L, LAG_MS);
    pair(sv);
    watch_with(&c, sv[0], LOOP_READ, slow_io_cb);
    loop_io_set_label(c.w, "request", 4);
    loop_io_set_owner(c.w, slow_io_cb, &io_called);
    loop_defer_init(&stop_d, fast_stop_defer_cb, &stop_called);

    assert_int_equal(write(sv[1], "x", 1), 1);
    loop_defer(L, &stop_d);
    run_capturing_stderr(text, sizeof(text));
    assert_int_equal(io_called, 1);
    check_report(text, "salvo: loop: unlabelled io");
    assert_int_equal(count_lines(text), 1);

    loop_io_set_label(c.w, "pool", 9);
    assert_int_equal(write(sv[1], "x", 1), 1);
    loop_defer(L, &stop_d);
    run_capturing_stderr(text, sizeof(text));
    assert_int_equal(io_called, 2);
    check_report(text, "salvo: loop: io of pool 9");
    assert_int_equal(count_lines(text), 1);

    unwatch(&c);
    close(sv[0]);
    close(sv[1]);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_timers_order_once),
        T(test_timer_stop),
        T(test_timer_rearm_own_cb),
        T(test_timer_rearm_earlier),
        T(test_loop_stop),
        T(test_loop_stop_is_prompt),
        T(test_defer_fifo),
        T(test_defer_cancel),
        T(test_io_readable),
        T(test_io_writable),
        T(test_io_hangup),
        T(test_io_close_other_in_batch),
        T(test_io_interest_dropped_in_batch),
        T(test_io_close_self),
        T(test_io_errors),
        T(test_wakeup_coalesces),
        T(test_wakeup_from_signal),
        T(test_lag_monitor),
        T(test_lag_report_names_owner),
        T(test_lag_label_follows_owner),
    };
#undef T

    return cmocka_run_group_tests(tests, NULL, NULL);
}
