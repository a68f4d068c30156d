/*
 * drive.h -- the asynchronous driver: runs requests through their states on the loop,
 * many at once. One function per step (as curl's multi.c): each is entered from a loop
 * event (a granted slot, a DNS answer, the connect race, socket readiness, a timer) and
 * either waits for the next event or moves on:
 *
 *   QUEUED -> RESOLVING -> [WAIT_IP] -> CONNECTING -> [TLS] -> SENDING -> RECEIVING
 *     |  \________________ (a pooled connection) _______________/            |
 *     |                                                                     |
 *     +<- BACKOFF <- (a retryable failure, or 429/502/503/504) <------------+
 *     +<------------ (a redirect with -L: the next URL) <-------------------+
 *                                                                           v
 *                                                                         DONE
 *
 * Two doors lead out of an attempt (a whole answer, a failure) and one out of a request:
 * finish(), which gives back everything the request holds here (slot, connection, DNS
 * subscription, per-IP wait, connect race) before req_complete.
 *
 * The scheduling pass (drive_pass) runs from a deferred callback once per loop pass:
 * it pulls input from the feed while fewer than a window's worth wait, grants free
 * slots, and stops the loop when nothing is left to do. When a pacer (--rate,
 * --per-host-rate) held a waiter back, one timer runs the pass again when it may go.
 */
#ifndef SALVO_DRIVE_H
#define SALVO_DRIVE_H

#include "engine.h"
#include "request.h"

/* Sets up the engine's deferred callbacks (the pass and the delivery of results). */
void drive_init(struct salvo *eng);

/* Takes a new request: queues it for a slot, or completes one whose URL did not parse.
 * Returns 0, or -ENOMEM (then r is discarded: no callback will run). */
int drive_submit(struct req *r);

/* Stops the pacing timer (the engine is going away). */
void drive_stop(struct salvo *eng);

/* Queues a scheduling pass for the end of this loop pass. */
void drive_schedule(struct salvo *eng);

/* Runs the loop until every request is done and the input has ended, or a cancel was
 * carried out. Returns 0 or negative errno. */
int drive_run(struct salvo *eng);

/* Ends r now with err (a cancel), whatever it was doing. */
void drive_abort(struct req *r, salvo_err_t err, const char *msg);

#endif
