/*
 * cli.h -- the salvo command line: options as CONTRACT.md defines them, parsed into a
 * salvo_config_t plus what only the CLI cares about (input, output, --stats).
 */
#ifndef SALVO_CLI_H
#define SALVO_CLI_H

#include <stddef.h>
#include <stdio.h>

#include <salvo.h>

#include "checks.h"
#include "shard.h"

/* --format: how records are written. AUTO becomes table when records go to a terminal
 * (no -o and stdout a tty), else jsonl. */
enum cli_format {
    CLI_FORMAT_AUTO,
    CLI_FORMAT_JSONL,
    CLI_FORMAT_CSV,
    CLI_FORMAT_TABLE,
    CLI_FORMAT_PROM
};

struct cli {
    salvo_config_t cfg;       /* engine settings */
    salvo_request_t req;      /* method, headers, body for every URL */
    const char *input_path;   /* -i FILE, "-" for stdin, NULL when not given */
    const char *output_path;  /* -o FILE, NULL for stdout */
    int stats;                /* --stats */
    enum cli_format format;   /* --format */
    int silent;               /* -s: no progress bar, no summary unless --summary */
    int summary;              /* --summary: the summary on stderr, terminal or not */
    const char *trace_path;   /* --trace FILE, "-" for stderr, NULL when not given */
    int show_headers;         /* --headers */
    uint64_t body_max;        /* --body N, 0 when not given */
    const char *output_dir;   /* --output-dir DIR, NULL when not given */
    struct checks checks;     /* --expect-*, --max-latency, --min-cert-days */
    struct shard shard;       /* --shard K/N; n == 0 when not given */
    const char *compare_path; /* --compare FILE, NULL when not given */
    int resume;               /* --resume: finish the run whose records -o holds */
    double watch;             /* --watch SEC: a round every SEC seconds; 0: one run */
    const char *proxy;        /* -x URL, "" for none, NULL when not given */
    const char *noproxy;      /* --noproxy LIST, NULL when not given */
    char **urls;              /* URL arguments (borrowed from argv) */
    size_t nurls;
    const char **headers; /* -H values (borrowed from argv) */
    size_t nheaders;
    const char **resolve; /* --resolve values (borrowed from argv) */
    size_t nresolve;
    char *body; /* -d, read from a file for @FILE (owned) */
    size_t body_len;
    char *auth;           /* -u's "Authorization: Basic ..." line (owned), or NULL */
    double rate;          /* --rate, starts per second; 0 when not given */
    double per_host_rate; /* --per-host-rate, per origin; 0 when not given */
    int family;           /* -4: 4, -6: 6, neither: 0, both: -1 (a usage error) */
};

enum cli_parse {
    CLI_RUN,   /* options are good: run */
    CLI_EXIT0, /* --help or --version was printed */
    CLI_USAGE  /* a usage error was printed: exit 2 */
};

enum cli_parse cli_parse(struct cli *c, int argc, char **argv);
void cli_free(struct cli *c);

#endif
