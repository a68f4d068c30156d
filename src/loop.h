/*
 * loop.h -- the reactor: one epoll instance, one thread, a timer heap and deferred
 * callbacks. Every wait in salvo (connect, TLS, first byte, idle, deadlines, backoff,
 * DNS) is a timer here, and every socket is a watcher here.
 *
 * One iteration: run expired timers, wait for and dispatch ready fds, run deferred
 * callbacks, then free the watchers closed during the iteration.
 *
 * Ownership and re-entrancy
 *   - The loop never opens or closes a file descriptor: the module that opened an fd
 *     closes it, after loop_io_close() on its watcher.
 *   - Watchers are allocated by the loop. loop_io_close() removes the fd from epoll at
 *     once (so the fd may be closed and its number reused right away) but frees the
 *     watcher only at the end of the iteration, and any events of the current batch for
 *     it are skipped. So a callback may close its own or any other watcher safely.
 *   - Timers and deferred callbacks are embedded in their owners; the owner stops or
 *     cancels them before freeing the memory. A callback may start, stop or re-arm any
 *     timer, including its own.
 *   - Not thread-safe, except loop_wakeup(), which is async-signal-safe.
 *
 * Labels
 *   Every watcher, timer and deferred callback may carry a label saying what it belongs
 *   to, so that the lag monitor can name the owner of a callback that held the thread
 *   ("timer of request 12") instead of leaving the user to guess. A label is two words
 *   stored in the watcher, timer or deferred callback itself: setting one allocates
 *   nothing, and the loop only copies it before each call.
 */
#ifndef SALVO_LOOP_H
#define SALVO_LOOP_H

#include <stdint.h>

#include "timer_heap.h"

struct loop;
struct loop_io;

/* Event bits for watchers. LOOP_ERROR covers EPOLLERR and EPOLLHUP; it is always
 * reported, whatever the interest (as epoll itself does). */
#define LOOP_READ  0x1u
#define LOOP_WRITE 0x2u
#define LOOP_ERROR 0x4u

typedef void loop_io_fn(struct loop_io *w, unsigned events, void *data);

/* What a callback belongs to. `what` names the owner's kind ("request", "dns", "pool",
 * "completion") and must outlive the loop: a string literal. `id` tells owners of that
 * kind apart (a request's index), or is LOOP_NO_ID when there is only one. A NULL `what`
 * means unlabelled. */
struct loop_label {
    const char *what; /* kind of owner, static; NULL: unlabelled */
    uint64_t id;      /* which one, or LOOP_NO_ID */
};

#define LOOP_NO_ID UINT64_MAX

struct loop_timer;
typedef void loop_timer_fn(struct loop_timer *t, void *data);

struct loop_timer {
    struct timer_node node;  /* position in the loop's heap */
    loop_timer_fn *cb;       /* called once per expiry */
    void *data;              /* owner */
    struct loop_label label; /* what it belongs to, for the lag report */
};

struct loop_defer;
typedef void loop_defer_fn(struct loop_defer *d, void *data);

struct loop_defer {
    struct loop_defer *next; /* link in the loop's queue */
    loop_defer_fn *cb;       /* called once per loop_defer() */
    void *data;              /* owner */
    int queued;              /* non-zero while waiting to run */
    struct loop_label label; /* what it belongs to, for the lag report */
};

/* Creates a loop. Returns 0 or negative errno. */
int loop_new(struct loop **out);

/* Frees the loop. Every watcher must have been closed and every timer stopped. */
void loop_free(struct loop *l);

/* Runs iterations until loop_stop() is called. Returns 0, or negative errno when
 * epoll itself fails (EINTR is not a failure). */
int loop_run(struct loop *l);

/* Makes loop_run() return after the current iteration. */
void loop_stop(struct loop *l);

/* Wakes a loop blocked in epoll_wait from a signal handler or anywhere else;
 * async-signal-safe. `fn` then runs once, from the loop, in the next iteration. */
void loop_wakeup(struct loop *l);
void loop_on_wakeup(struct loop *l, void (*fn)(void *data), void *data);

/* Cached monotonic time in milliseconds, updated at the start of each iteration and
 * before running timers. loop_now_us() reads the clock now (microseconds). */
uint64_t loop_now(const struct loop *l);
uint64_t loop_now_us(void);
void loop_update_time(struct loop *l);

/* Watchers. loop_io_new registers nothing yet; loop_io_set sets the interest (a
 * combination of LOOP_READ and LOOP_WRITE; 0 keeps the fd registered with no interest
 * except errors). Level-triggered. Returns NULL / negative errno on failure. */
struct loop_io *loop_io_new(struct loop *l, int fd, loop_io_fn *cb, void *data);
int loop_io_set(struct loop_io *w, unsigned interest);
unsigned loop_io_interest(const struct loop_io *w);
/* Hands the watcher's events to another owner (a pooled connection changes hands). The
 * label is cleared, so that a report never blames the previous owner: the new owner
 * labels the watcher again. */
void loop_io_set_owner(struct loop_io *w, loop_io_fn *cb, void *data);
int loop_io_fd(const struct loop_io *w);
void loop_io_close(struct loop_io *w);

/* Timers. Times are milliseconds. loop_timer_start re-arms a running timer. */
void loop_timer_init(struct loop_timer *t, loop_timer_fn *cb, void *data);
void loop_timer_start(struct loop *l, struct loop_timer *t, uint64_t after_ms);
void loop_timer_stop(struct loop *l, struct loop_timer *t);
int loop_timer_active(const struct loop_timer *t);

/* Deferred callbacks run at the end of the current iteration (or the next one, when
 * queued by a deferred callback), in FIFO order. Queuing an already queued one is a
 * no-op. */
void loop_defer_init(struct loop_defer *d, loop_defer_fn *cb, void *data);
void loop_defer(struct loop *l, struct loop_defer *d);
void loop_defer_cancel(struct loop *l, struct loop_defer *d);

/* Labels (see struct loop_label). A new watcher and an initialised timer or deferred
 * callback are unlabelled: label them after loop_io_new() or the *_init() call. Setting
 * a label again replaces it; a callback may relabel its own watcher, timer or deferred
 * callback, and the report names the label it had when it was called. */
void loop_io_set_label(struct loop_io *w, const char *what, uint64_t id);
void loop_timer_set_label(struct loop_timer *t, const char *what, uint64_t id);
void loop_defer_set_label(struct loop_defer *d, const char *what, uint64_t id);

/* The lag monitor: every callback is timed. With a threshold > 0, a callback that held
 * the thread longer is reported on stderr, one line each, with its kind and its label:
 *     salvo: loop: timer of request 12 held the thread for 153.2 ms (over 100 ms)
 *     salvo: loop: io of dns held the thread for 61.0 ms (over 50 ms)
 *     salvo: loop: unlabelled deferred held the thread for 75.3 ms (over 50 ms)
 * The kind is io, timer or deferred; a label whose id is LOOP_NO_ID prints no number.
 * loop_max_lag_ms() is the longest seen so far. */
void loop_set_lag_threshold(struct loop *l, double ms);

/* Times a piece of work inside a callback on its own, with its own kind and label: the
 * engine runs many users' completion callbacks in one deferred callback, and the report
 * should name the one that held the thread ("completion callback of request 12"), not
 * the batch. Its time is then not counted again against the enclosing callback. */
void loop_lag_note(struct loop *l, const char *kind, const char *what, uint64_t id,
                   uint64_t start_us);
/* Whether slow callbacks are being reported (a threshold is set). */
int loop_lag_reporting(const struct loop *l);
double loop_max_lag_ms(const struct loop *l);

/* 1 when the last epoll_wait returned fewer events than a batch holds, so that every fd
 * ready at that moment was dispatched in this pass; 0 when the batch was full (more
 * ready fds wait for the next pass) or before the first wait. */
int loop_saw_all_ready(const struct loop *l);

#endif
