/*
 * keep.h -- what the command keeps of each response (--body N, --output-dir DIR): the
 * first N decoded bytes for the record, and the whole body streamed to
 * DIR/<index>.body through DIR/<index>.body.part, renamed when the response arrived
 * whole (whatever its status) and removed when it did not. Nothing of a body is held in
 * memory but the N bytes of --body.
 *
 * One struct keep per request, made at submit and given to the engine as the user
 * pointer of its response callbacks and of its completion; keep_finish turns it into
 * the record's extra fields, and keep_free frees it after the record is written.
 */
#ifndef SALVO_KEEP_H
#define SALVO_KEEP_H

#include <stddef.h>
#include <stdint.h>

#include <salvo.h>

#include "checks.h"

struct keep_config {
    size_t body_max;        /* --body N: bytes kept for the record; 0: none */
    size_t capture_max;     /* bytes kept in all (the body check may want more) */
    const char *output_dir; /* --output-dir: NULL for none */
};

struct keep {
    const struct keep_config *cfg;
    void *owner; /* the command's run, for the completion callback */
    uint64_t index;
    char *body; /* capture_max + 1 bytes, NUL after the kept ones */
    size_t body_len;
    int fd;                /* the .part file while writing, -1 otherwise */
    int write_errno;       /* why writing the file failed, 0 while it has not */
    char path[4096];       /* DIR/<index>.body (and .part while writing) */
    int saved;             /* the file was renamed into place */
    int got_head;          /* a response's head arrived (else there is no body to show) */
    char *name;            /* a JSON input line's name (owned), NULL when none */
    struct checks *checks; /* its own checks (owned), NULL when none */
};

/* Creates DIR if needed and checks that files can be made in it. Returns 0, or -1 with
 * errno set. */
int keep_check_dir(const char *dir);

/* A keep for request index; NULL on a shortage of memory. */
struct keep *keep_new(const struct keep_config *cfg, void *owner, uint64_t index);

/* The engine's response callbacks (salvo_request_ext_t), with a struct keep as user. */
int keep_on_headers(const salvo_response_t *resp, void *user);
int keep_on_body(uint64_t index, const void *data, size_t len, void *user);

/* At completion: renames or removes the file. Returns the message the record should
 * carry instead of the engine's when saving failed (NULL otherwise). */
const char *keep_finish(struct keep *k, const salvo_result_t *r, char *msg, size_t msglen);

void keep_free(struct keep *k);

#endif
