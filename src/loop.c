/*
 * loop.c -- the reactor: epoll watchers, a timer heap, deferred callbacks, a closing list
 * and the lag monitor, in the manner of Redis's ae.c and libuv's uv_run.
 *
 * One iteration (loop_run calls iterate() until loop_stop):
 *   1. refresh the cached time and run the timers that are due;
 *   2. wait in epoll_wait for at most the time to the next timer, then dispatch the batch;
 *   3. run the deferred callbacks queued before step 3 began;
 *   4. free the watchers closed during the iteration.
 *
 * What can go wrong in the middle of a dispatch, and the defense chosen for each:
 *   - A callback closes a watcher whose event sits later in the same batch. The kernel
 *     gave us data.ptr, not an fd, so the watcher must stay valid until the batch ends:
 *     loop_io_close() only flags it and puts it on the closing list, and the dispatcher
 *     skips flagged watchers (libuv's invalidate-in-batch, with a flag instead of a
 *     rewrite of the batch). The fd is removed from epoll at once, so its owner may close
 *     it and the number may be reused by a new watcher right away: the stale event still
 *     points at the old, flagged watcher.
 *   - A callback drops the interest an event of the batch was for (it stops writing, say).
 *     The reported bits are filtered by the interest at dispatch time, Redis's live-mask
 *     re-check, so a callback never sees an event it no longer asked for.
 *   - A timer callback re-arms itself, or another due timer, with 0 ms. Expiry is two-phase
 *     (see run_timers), so no timer runs twice in one iteration and a 0 ms timer armed in
 *     a loop of callbacks cannot starve the poll.
 *   - A deferred callback defers again. The queue is detached before it runs, so the new
 *     entry waits for the next iteration instead of looping here forever.
 *   - A callback frees the owner its timer or deferred entry is embedded in (a request
 *     that finishes). The label the lag monitor may print is copied before the call, so
 *     nothing of the entry is read after it.
 */
#include "loop.h"

#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

/* Events taken from one epoll_wait. More ready fds simply stay ready (level-triggered)
 * and come back in the next batch, after the timers and deferred callbacks had a turn. */
#define LOOP_MAX_EVENTS 256

struct loop_io {
    struct loop *loop;            /* the loop it belongs to */
    int fd;                       /* borrowed: the owner opens and closes it */
    unsigned interest;            /* LOOP_READ | LOOP_WRITE */
    int registered;               /* the fd is in the epoll set */
    int closing;                  /* loop_io_close() was called: skip, then free */
    loop_io_fn *cb;               /* receives the events */
    void *data;                   /* owner */
    struct loop_label label;      /* what it belongs to, for the lag report */
    struct loop_io *next_closing; /* link in the loop's closing list */
};

struct loop {
    int epfd;                                   /* the epoll instance */
    int wakefd;                                 /* eventfd written by loop_wakeup() */
    struct loop_io *wake_io;                    /* watcher of wakefd */
    void (*wake_fn)(void *data);                /* runs after a wakeup */
    void *wake_data;                            /* argument of wake_fn */
    uint64_t now;                               /* cached CLOCK_MONOTONIC, ms */
    struct timer_heap timers;                   /* armed loop_timer nodes */
    struct loop_defer *defer_head;              /* queue for the next run_defers() */
    struct loop_defer *defer_tail;              /* its last entry, for O(1) append */
    struct loop_defer *defer_running;           /* entries of the current run, not yet run */
    struct loop_io *closing;                    /* closed watchers waiting to be freed */
    int stop;                                   /* loop_stop() was called */
    int saw_all_ready;                          /* the last wait reported every ready fd */
    double lag_threshold_ms;                    /* > 0: report callbacks longer than this */
    double max_lag_ms;                          /* longest callback seen */
    uint64_t noted_us;                          /* time noted inside the running callback */
    struct epoll_event events[LOOP_MAX_EVENTS]; /* one batch */
};

/* ---- time and the lag monitor ------------------------------------------------------ */

uint64_t loop_now_us(void)
{
    struct timespec ts;

    /* CLOCK_MONOTONIC cannot fail with a valid pointer on Linux; it never jumps with the
     * wall clock, which is what deadlines need. */
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

uint64_t loop_now(const struct loop *l)
{
    return l->now;
}

void loop_update_time(struct loop *l)
{
    l->now = loop_now_us() / 1000u;
}

void loop_set_lag_threshold(struct loop *l, double ms)
{
    l->lag_threshold_ms = ms;
}

int loop_saw_all_ready(const struct loop *l)
{
    return l->saw_all_ready;
}

double loop_max_lag_ms(const struct loop *l)
{
    return l->max_lag_ms;
}

static void set_label(struct loop_label *lb, const char *what, uint64_t id)
{
    lb->what = what;
    lb->id = id;
}

void loop_timer_set_label(struct loop_timer *t, const char *what, uint64_t id)
{
    set_label(&t->label, what, id);
}

void loop_defer_set_label(struct loop_defer *d, const char *what, uint64_t id)
{
    set_label(&d->label, what, id);
}

void loop_io_set_label(struct loop_io *w, const char *what, uint64_t id)
{
    set_label(&w->label, what, id);
}

/* One report line, "<kind> of <what> <id>" or "unlabelled <kind>" (see loop.h). */
static void lag_report(const struct loop *l, const char *kind, struct loop_label lb, double ms)
{
    if (!lb.what)
        fprintf(stderr, "salvo: loop: unlabelled %s held the thread for %.1f ms (over %g ms)\n",
                kind, ms, l->lag_threshold_ms);
    else if (lb.id == LOOP_NO_ID)
        fprintf(stderr, "salvo: loop: %s of %s held the thread for %.1f ms (over %g ms)\n", kind,
                lb.what, ms, l->lag_threshold_ms);
    else
        fprintf(stderr, "salvo: loop: %s of %s %llu held the thread for %.1f ms (over %g ms)\n",
                kind, lb.what, (unsigned long long)lb.id, ms, l->lag_threshold_ms);
}

/* Called after every callback with the time it started and the label it had then (a copy:
 * the callback may have freed what the label was stored in). A blocking call made inside
 * the loop (a synchronous DNS lookup, a slow disk write) stalls every connection at once
 * and is otherwise invisible, so this is measured always and reported on request. */
static void lag_check(struct loop *l, const char *kind, struct loop_label lb, uint64_t start_us)
{
    uint64_t us = loop_now_us() - start_us;

    /* Work inside the callback that was timed and reported on its own (loop_lag_note)
     * is not blamed on the callback a second time. */
    us = us > l->noted_us ? us - l->noted_us : 0;
    l->noted_us = 0;
    double ms = (double)us / 1000.0;
    if (ms > l->max_lag_ms)
        l->max_lag_ms = ms;
    if (l->lag_threshold_ms > 0 && ms > l->lag_threshold_ms)
        lag_report(l, kind, lb, ms);
}

int loop_lag_reporting(const struct loop *l)
{
    return l->lag_threshold_ms > 0;
}

void loop_lag_note(struct loop *l, const char *kind, const char *what, uint64_t id,
                   uint64_t start_us)
{
    struct loop_label lb = {what, id};
    uint64_t noted = l->noted_us;
    l->noted_us = 0;
    lag_check(l, kind, lb, start_us);
    l->noted_us = noted + (loop_now_us() - start_us);
}

/* ---- timers ------------------------------------------------------------------------ */

#define timer_of(n) ((struct loop_timer *)((char *)(n)-offsetof(struct loop_timer, node)))

void loop_timer_init(struct loop_timer *t, loop_timer_fn *cb, void *data)
{
    timer_node_init(&t->node);
    t->cb = cb;
    t->data = data;
    set_label(&t->label, NULL, LOOP_NO_ID);
}

void loop_timer_start(struct loop *l, struct loop_timer *t, uint64_t after_ms)
{
    uint64_t deadline = after_ms > UINT64_MAX - l->now ? UINT64_MAX : l->now + after_ms;

    /* Only the heap array can fail to grow (a re-arm never allocates). Every caller would
     * need an error path for an event that leaves the process unable to keep any deadline,
     * so, as Redis does with zmalloc, this one allocation failure is fatal. Everything
     * else in salvo handles ENOMEM. */
    if (timer_heap_push(&l->timers, &t->node, deadline) < 0) {
        fputs("salvo: out of memory growing the timer heap\n", stderr);
        abort();
    }
}

void loop_timer_stop(struct loop *l, struct loop_timer *t)
{
    timer_heap_remove(&l->timers, &t->node);
}

int loop_timer_active(const struct loop_timer *t)
{
    return timer_node_queued(&t->node);
}

/* Runs every timer due at the start of the call, once. The two phases (collect the due
 * timers, then run them) are done without a second list: the due set is exactly the
 * nodes with deadline <= now and a sequence number older than the fence taken here. A
 * timer armed or re-armed by a callback gets a newer sequence number and a deadline of at
 * least now, so it sorts after every due node and the loop stops at it. A due timer that
 * a callback stops or re-arms later simply leaves the due set, as it would leave libuv's
 * ready queue. */
static void run_timers(struct loop *l)
{
    uint64_t now = l->now;
    uint64_t fence = l->timers.next_seq;
    struct timer_node *n;

    while ((n = timer_heap_peek(&l->timers)) && n->deadline <= now && n->seq < fence) {
        struct loop_timer *t = timer_of(n);
        struct loop_label lb = t->label;
        uint64_t start = loop_now_us();

        /* Unqueued before the call, so the callback sees its timer inactive and may
         * start it again. */
        timer_heap_remove(&l->timers, n);
        t->cb(t, t->data);
        lag_check(l, "timer", lb, start);
    }
}

/* ---- deferred callbacks ------------------------------------------------------------ */

void loop_defer_init(struct loop_defer *d, loop_defer_fn *cb, void *data)
{
    d->next = NULL;
    d->cb = cb;
    d->data = data;
    d->queued = 0;
    set_label(&d->label, NULL, LOOP_NO_ID);
}

void loop_defer(struct loop *l, struct loop_defer *d)
{
    if (d->queued)
        return;
    d->next = NULL;
    d->queued = 1;
    if (l->defer_tail)
        l->defer_tail->next = d;
    else
        l->defer_head = d;
    l->defer_tail = d;
}

/* Unlinks d from a singly linked list. Returns 1 and the entry that preceded d (NULL when
 * d was first) in *prev, or 0 when d is not in the list. */
static int unlink_defer(struct loop_defer **head, struct loop_defer *d, struct loop_defer **prev)
{
    struct loop_defer **p = head;

    *prev = NULL;
    while (*p && *p != d) {
        *prev = *p;
        p = &(*p)->next;
    }
    if (!*p)
        return 0;
    *p = d->next;
    d->next = NULL;
    return 1;
}

/* Accepted limitation: the queue is singly linked (the struct has one link), so a cancel
 * is a linear search. Queues are short-lived and cancels rare (a request torn down while
 * its completion is pending), so this costs less than a second pointer in every owner. */
void loop_defer_cancel(struct loop *l, struct loop_defer *d)
{
    struct loop_defer *prev;

    if (!d->queued)
        return;
    d->queued = 0;
    if (unlink_defer(&l->defer_running, d, &prev))
        return;
    if (unlink_defer(&l->defer_head, d, &prev) && l->defer_tail == d)
        l->defer_tail = prev;
}

/* Runs the entries queued so far. The queue is detached first: entries queued from here
 * go to the new queue and run next iteration. The detached list lives in the loop, not
 * on the stack, so that loop_defer_cancel() can still take out an entry not yet run. */
static void run_defers(struct loop *l)
{
    struct loop_defer *d;

    l->defer_running = l->defer_head;
    l->defer_head = l->defer_tail = NULL;
    while ((d = l->defer_running)) {
        struct loop_label lb = d->label;
        uint64_t start = loop_now_us();

        l->defer_running = d->next;
        d->next = NULL;
        d->queued = 0;
        d->cb(d, d->data);
        lag_check(l, "deferred", lb, start);
    }
}

/* ---- watchers ---------------------------------------------------------------------- */

struct loop_io *loop_io_new(struct loop *l, int fd, loop_io_fn *cb, void *data)
{
    struct loop_io *w;

    if (fd < 0) {
        errno = EBADF;
        return NULL;
    }
    w = calloc(1, sizeof(*w));
    if (!w)
        return NULL;
    w->loop = l;
    w->fd = fd;
    w->cb = cb;
    w->data = data;
    set_label(&w->label, NULL, LOOP_NO_ID);
    return w;
}

int loop_io_set(struct loop_io *w, unsigned interest)
{
    struct epoll_event ev = {0};

    if (w->closing)
        return -EBADF;
    interest &= LOOP_READ | LOOP_WRITE;
    if (w->registered && interest == w->interest)
        return 0;
    /* Interest 0 keeps the fd in the set with an empty mask: epoll still reports
     * EPOLLERR and EPOLLHUP, which is how an idle connection learns that it died. */
    ev.events = (interest & LOOP_READ ? EPOLLIN : 0) | (interest & LOOP_WRITE ? EPOLLOUT : 0);
    ev.data.ptr = w;
    if (epoll_ctl(w->loop->epfd, w->registered ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, w->fd, &ev) < 0)
        return -errno;
    w->registered = 1;
    w->interest = interest;
    return 0;
}

unsigned loop_io_interest(const struct loop_io *w)
{
    return w->interest;
}

void loop_io_set_owner(struct loop_io *w, loop_io_fn *cb, void *data)
{
    /* Events already collected in this batch go to the new owner: it is the one that
     * holds the connection now. */
    w->cb = cb;
    w->data = data;
    set_label(&w->label, NULL, LOOP_NO_ID);
}

int loop_io_fd(const struct loop_io *w)
{
    return w->fd;
}

void loop_io_close(struct loop_io *w)
{
    struct epoll_event ev = {0}; /* ignored by DEL, but kernels before 2.6.9 want one */

    if (!w || w->closing)
        return;
    /* A failure here means the owner closed the fd first (EBADF) or it was never added;
     * either way the fd is no longer watched, which is all this call promises. */
    if (w->registered)
        (void)epoll_ctl(w->loop->epfd, EPOLL_CTL_DEL, w->fd, &ev);
    w->registered = 0;
    w->closing = 1;
    w->next_closing = w->loop->closing;
    w->loop->closing = w;
}

static void free_closing(struct loop *l)
{
    while (l->closing) {
        struct loop_io *w = l->closing;

        l->closing = w->next_closing;
        free(w);
    }
}

/* Turns epoll bits into LOOP_* bits, filtered by the interest as it is now. */
static unsigned events_of(const struct loop_io *w, uint32_t e)
{
    unsigned ev = 0;

    if (e & (EPOLLERR | EPOLLHUP))
        ev |= LOOP_ERROR;
    if ((e & EPOLLIN) && (w->interest & LOOP_READ))
        ev |= LOOP_READ;
    if ((e & EPOLLOUT) && (w->interest & LOOP_WRITE))
        ev |= LOOP_WRITE;
    return ev;
}

static void dispatch(struct loop *l, int n)
{
    for (int i = 0; i < n; i++) {
        struct loop_io *w = l->events[i].data.ptr;
        struct loop_label lb;
        unsigned ev;
        uint64_t start;

        if (w->closing)
            continue;
        ev = events_of(w, l->events[i].events);
        if (!ev)
            continue;
        lb = w->label;
        start = loop_now_us();
        w->cb(w, ev, w->data);
        lag_check(l, "io", lb, start);
    }
}

/* ---- wakeup ------------------------------------------------------------------------ */

void loop_wakeup(struct loop *l)
{
    uint64_t one = 1;
    int saved = errno; /* a signal handler must leave errno as it found it */
    ssize_t r;

    /* EAGAIN means the counter is already huge: the loop is woken anyway. */
    r = write(l->wakefd, &one, sizeof(one));
    (void)r;
    errno = saved;
}

void loop_on_wakeup(struct loop *l, void (*fn)(void *data), void *data)
{
    l->wake_fn = fn;
    l->wake_data = data;
}

/* One read resets the eventfd counter, so any number of wakeups since the last drain
 * coalesce into one call of wake_fn. */
static void on_wakefd(struct loop_io *w, unsigned events, void *data)
{
    struct loop *l = data;
    uint64_t count;
    ssize_t r;

    (void)events;
    r = read(w->fd, &count, sizeof(count));
    (void)r;
    if (l->wake_fn)
        l->wake_fn(l->wake_data);
}

/* ---- the loop ---------------------------------------------------------------------- */

int loop_new(struct loop **out)
{
    struct loop *l = calloc(1, sizeof(*l));
    int rc = -ENOMEM;

    *out = NULL;
    if (!l)
        return -ENOMEM;
    l->wakefd = -1;
    timer_heap_init(&l->timers);
    l->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (l->epfd < 0)
        goto fail_errno;
    l->wakefd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (l->wakefd < 0)
        goto fail_errno;
    l->wake_io = loop_io_new(l, l->wakefd, on_wakefd, l);
    if (!l->wake_io)
        goto fail;
    /* What runs here is the owner's wakeup function (an engine's cancel, say). */
    loop_io_set_label(l->wake_io, "wakeup", LOOP_NO_ID);
    rc = loop_io_set(l->wake_io, LOOP_READ);
    if (rc < 0)
        goto fail;
    loop_update_time(l);
    *out = l;
    return 0;

fail_errno:
    rc = -errno;
fail:
    loop_io_close(l->wake_io);
    free_closing(l);
    if (l->wakefd >= 0)
        close(l->wakefd);
    if (l->epfd >= 0)
        close(l->epfd);
    free(l);
    return rc;
}

void loop_free(struct loop *l)
{
    if (!l)
        return;
    loop_io_close(l->wake_io);
    free_closing(l);
    close(l->wakefd);
    close(l->epfd);
    timer_heap_free(&l->timers);
    free(l);
}

void loop_stop(struct loop *l)
{
    l->stop = 1;
}

/* The epoll_wait timeout: 0 when work is already waiting, -1 with no timer, otherwise
 * the time to the nearest deadline rounded up to whole ms (rounding down would wake the
 * loop just before the deadline, to find nothing due and poll again), clamped to int. */
static int poll_timeout(struct loop *l)
{
    struct timer_node *n;
    uint64_t now_us, diff_us;

    if (l->stop || l->defer_head)
        return 0;
    n = timer_heap_peek(&l->timers);
    if (!n)
        return -1;
    if (n->deadline > UINT64_MAX / 1000u)
        return INT_MAX;
    /* The clock is read afresh: callbacks since the last update may have taken a while. */
    now_us = loop_now_us();
    if (n->deadline * 1000u <= now_us)
        return 0;
    diff_us = n->deadline * 1000u - now_us;
    if (diff_us / 1000u >= (uint64_t)INT_MAX)
        return INT_MAX;
    return (int)((diff_us + 999u) / 1000u);
}

static int iterate(struct loop *l)
{
    int n, rc = 0;

    loop_update_time(l);
    run_timers(l);
    n = epoll_wait(l->epfd, l->events, LOOP_MAX_EVENTS, poll_timeout(l));
    if (n < 0) {
        /* A signal interrupted the wait: that is a batch of zero events. */
        if (errno != EINTR) {
            rc = -errno;
            goto out;
        }
        n = 0;
    }
    /* The wait may have lasted long: timers armed by the io callbacks must count from the
     * time the events arrived, not from before the wait. */
    loop_update_time(l);
    l->saw_all_ready = n < LOOP_MAX_EVENTS;
    dispatch(l, n);
    run_defers(l);
out:
    free_closing(l);
    return rc;
}

int loop_run(struct loop *l)
{
    int rc = 0;

    while (!l->stop && rc == 0)
        rc = iterate(l);
    l->stop = 0;
    return rc;
}
