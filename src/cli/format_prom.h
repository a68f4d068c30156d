/*
 * format_prom.h -- records as a Prometheus text exposition (what `promtool check
 * metrics` accepts and a node_exporter textfile collector reads), written whole at the
 * end of the run: every metric once, with its HELP and TYPE, its samples together, each
 * labelled url and name. When a (url, name) pair comes again, its last record wins, so
 * memory is one entry per distinct pair, not per record.
 *
 *   salvo_probe_success                  1 when the record is ok, else 0
 *   salvo_probe_http_status_code         the status, 0 when none arrived
 *   salvo_probe_duration_seconds{phase}  dns, connect, tls, ttfb, transfer, total: those
 *                                        that ran
 *   salvo_probe_ssl_earliest_cert_expiry Unix seconds, the earlier of cert_expiry and
 *                                        chain_expiry (TLS only)
 *   salvo_probe_error{class}             1, when error is not null
 *   salvo_probe_check_failed{check}      1 per failed check
 */
#ifndef SALVO_FORMAT_PROM_H
#define SALVO_FORMAT_PROM_H

#include <stdint.h>
#include <stdio.h>

#include <salvo.h>

#include "output.h"

enum prom_phase {
    PHASE_DNS,
    PHASE_CONNECT,
    PHASE_TLS,
    PHASE_TTFB,
    PHASE_TRANSFER,
    PHASE_TOTAL,
    PHASE_COUNT
};

struct prom_entry {
    char *url;  /* owned; with name, the key */
    char *name; /* owned, "" when the record has none */
    int ok;
    int status;
    double seconds[PHASE_COUNT]; /* < 0: the phase did not run */
    int64_t cert_expiry;         /* Unix seconds, when has_cert */
    int has_cert;
    salvo_err_t error;
    unsigned checks_failed; /* bits (1 << enum check) */
};

struct prom {
    struct prom_entry *e; /* in the order the pairs first appeared */
    size_t n, cap;
    size_t *slot; /* open addressing: entry index + 1, 0 when free */
    size_t nslots;
};

void prom_init(struct prom *p);

/* Keeps what the exposition needs of one record; name is the record's name (NULL when
 * it has none). Returns 0, or -1 when out of memory (errno ENOMEM). */
int prom_add(struct prom *p, const salvo_result_t *r, const struct output_extra *x,
             const char *name);

/* Writes the exposition. Returns 0, or -1 when the stream failed. */
int prom_write(const struct prom *p, FILE *out);

void prom_free(struct prom *p);

#endif
