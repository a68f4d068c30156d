/*
 * resume.h -- --resume with -o FILE: finishing a run that was killed (SIGKILL, an OOM
 * kill, a power cut) or interrupted (Ctrl-C).
 *
 * FILE is read first: each whole line that is a record, whose error is not "cancelled"
 * and whose index was not seen before, counts as done. Everything else (a torn last
 * line, a cancelled record, a duplicate) is dropped: FILE is rewritten without it
 * through a temporary file in the same directory, fsync'd and renamed over FILE, so a
 * crash during the rewrite leaves the old FILE or the new one, never a mix. The run then
 * appends the records of the lines not done.
 *
 * What is kept per index is one bit (done) and a 32-bit hash of the record's url, so that
 * an input that changed under FILE is noticed: 4 bytes and a bit per input line.
 */
#ifndef SALVO_RESUME_H
#define SALVO_RESUME_H

#include <stddef.h>
#include <stdint.h>

#include <salvo.h>

#include "output.h"

struct resume {
    uint32_t *url_hash; /* per index: the hash of the recorded url, 0 when not done */
    uint64_t nindex;    /* entries of url_hash */
    uint64_t kept;      /* records kept from FILE */
    uint64_t dropped;   /* lines dropped: torn, cancelled or duplicated */
};

/* Reads and rewrites path as above (a missing FILE is a run with nothing done). Returns
 * 0, or -1 with a reason in why. */
int resume_prepare(struct resume *rs, const char *path, char *why, size_t whylen);

/* Whether index has its record in FILE. */
int resume_done(const struct resume *rs, uint64_t index);

/* Whether the record at index was made from url (as the record shows it: masked).
 * Only meaningful when resume_done(index). */
int resume_same_url(const struct resume *rs, uint64_t index, const char *url);

/* Calls cb for each record of FILE (after resume_prepare), with what the exit status
 * and the summary need of it: index, ok, status, error, bytes, total_ms, and the failed
 * checks. Returns 0, or -1 with errno set when FILE cannot be read. */
typedef void resume_record_cb(const salvo_result_t *r, const struct output_extra *x, void *user);
int resume_replay(const char *path, resume_record_cb *cb, void *user);

void resume_free(struct resume *rs);

#endif
