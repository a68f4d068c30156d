/*
 * compare.h -- --compare FILE: what changed since a previous run. The previous run's JSON
 * Lines are read whole at the start (so FILE may be the -o of this run); each record of
 * this run is then matched with one of them, by name when it has one, else by url (the
 * k-th record with that key in this run's output with the k-th in FILE), and gets the
 * first change that applies, in this order:
 *
 *   new            no record of the previous run matches
 *   down           it was ok and is not
 *   up             it was not ok and is
 *   error_changed  another error class, or other failed checks
 *   cert_soon      the certificate's days left fell below the threshold
 *                  (--min-cert-days, 14 without it)
 *   slower         total_ms more than doubled and is above 100 ms
 *
 * or none. Memory: one small entry per previous record (its key and what the rules
 * look at), sorted by key for lookup.
 */
#ifndef SALVO_COMPARE_H
#define SALVO_COMPARE_H

#include <stddef.h>

#include <salvo.h>

enum change {
    CHANGE_NONE, /* written as null */
    CHANGE_NEW,
    CHANGE_DOWN,
    CHANGE_UP,
    CHANGE_ERROR_CHANGED,
    CHANGE_CERT_SOON,
    CHANGE_SLOWER,
    CHANGE_COUNT
};

/* What the rules need of one record, this run's or the previous one's. */
struct compared {
    int ok;
    salvo_err_t error;
    unsigned checks_failed; /* bits (1 << enum check) */
    int has_cert_days;
    long long cert_days_left;
    double total_ms; /* < 0: none */
};

struct previous; /* one record of FILE */

struct compare {
    struct previous *v; /* sorted by key, then by position in FILE (once sealed) */
    size_t n, room;
    long long cert_days_min; /* the cert_soon threshold */
    size_t skipped;          /* lines of FILE that were not records (a torn last line) */
};

/* Reads FILE. Returns 0, or -1 with a reason in why (FILE unreadable). */
int compare_load(struct compare *c, const char *path, long long cert_days_min, char *why,
                 size_t whylen);

/* An empty set of previous records (for --watch, the round going on). */
void compare_init(struct compare *c, long long cert_days_min);

/* Adds a record (key name, else url) in the order they come. Returns 0, or -1 on a
 * shortage of memory. compare_seal then makes the set ready for compare_next. */
int compare_add(struct compare *c, const char *name, const char *url, const struct compared *r);
void compare_seal(struct compare *c);

/* The change of a record of this run whose key is name, else url. Each call takes the
 * next unmatched previous record with that key. */
enum change compare_next(struct compare *c, const char *name, const char *url,
                         const struct compared *now);

/* "new", "down", ...; NULL for CHANGE_NONE. */
const char *compare_name(enum change ch);

void compare_free(struct compare *c);

#endif
