/*
 * cli.c -- parsing of salvo's command line (CONTRACT.md, "Invocation"). Every error is
 * one line on stderr naming the flag and the value, and a CLI_USAGE result (exit 2).
 */
#include "cli.h"

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Request bodies from --data @FILE are read whole; this is the most salvo accepts. */
#define MAX_BODY (64ull << 20)

static const char usage_text[] =
    "usage: salvo [OPTIONS] [URL ...]\n"
    "Fetch many URLs at once and print one record per URL.\n"
    "URLs come from the arguments, then from -i FILE (- = stdin), else from stdin; a line\n"
    "that starts with { is a JSON request ({\"url\":...,\"name\":...,\"expect_status\":...}).\n"
    "\n"
    "Input:\n"
    "  -i, --input FILE           read URLs from FILE, one per line (- = stdin)\n"
    "\n"
    "      --shard K/N            keep only the URLs whose origin is in shard K of N\n"
    "\n"
    "Requests:\n"
    "  -X, --request METHOD       method for every URL (GET)\n"
    "  -H, --header 'Name: value' extra request header, repeatable\n"
    "  -d, --data STRING|@FILE    request body (implies POST unless -X)\n"
    "  -A, --user-agent STRING    the User-Agent header (salvo/VERSION)\n"
    "  -u, --user USER:PASSWORD   HTTP Basic credentials, dropped when a redirect leaves\n"
    "                             the origin\n"
    "  -m, --max-time SEC         deadline for one attempt (30)\n"
    "      --connect-timeout SEC  deadline for DNS + connect + TLS (10)\n"
    "      --retry N              retries for retryable failures (2)\n"
    "      --retry-backoff SEC    base of the exponential backoff (1)\n"
    "      --retry-backoff-max SEC  cap of one backoff sleep (30)\n"
    "      --retry-max-time SEC   no attempt starts later than this (120)\n"
    "      --retry-non-idempotent also retry POST and others after sending\n"
    "      --max-filesize SIZE    cap on body bytes, k/M/G suffixes (64M)\n"
    "  -L, --location             follow redirects\n"
    "      --max-redirs N         at most N redirects (10)\n"
    "\n"
    "Connections:\n"
    "  -c, --concurrency N        requests in flight at once (50)\n"
    "      --per-host N           connections per origin (0: no cap beyond -c)\n"
    "      --per-ip N             connections per remote IP (0: no cap beyond -c)\n"
    "      --rate N[/s|/m|/h]     at most N attempt starts per second (minute, hour), evenly\n"
    "      --per-host-rate N[/s|/m|/h]  the same, per origin\n"
    "  -4, --ipv4                 connect over IPv4 only\n"
    "  -6, --ipv6                 connect over IPv6 only\n"
    "      --no-keepalive         no connection reuse\n"
    "      --idle-timeout SEC     idle pooled connection lifetime (30)\n"
    "      --max-idle N           idle pooled connections in all (256)\n"
    "      --resolve HOST:PORT:ADDR  pin a name to an address, repeatable\n"
    "      --dns-servers ADDR[:PORT][,...]  resolvers to use\n"
    "      --blocking             the blocking baseline, one URL at a time\n"
    "  -x, --proxy URL            http://, https://, socks5:// or socks5h:// proxy\n"
    "                             (else http_proxy, https_proxy, all_proxy from the env)\n"
    "      --noproxy LIST         hosts that go direct, * = all (else no_proxy)\n"
    "\n"
    "TLS:\n"
    "  -k, --insecure             skip TLS certificate verification\n"
    "      --cacert FILE          trust an extra CA bundle\n"
    "\n"
    "Checks (what ok means):\n"
    "      --expect-status LIST   statuses that pass, e.g. 200,301-308 (100-399)\n"
    "      --expect-body REGEX    the body's first 1 MiB must match (POSIX ERE)\n"
    "      --expect-header 'Name: REGEX'  a header that must match, repeatable\n"
    "      --max-latency SEC      a slower total fails the latency check\n"
    "      --min-cert-days N      fewer days before a certificate expires fails\n"
    "\n"
    "Output:\n"
    "  -o, --output FILE          write records to FILE (stdout)\n"
    "      --format FORMAT        jsonl, csv, table or prom (table on a terminal)\n"
    "  -s, --silent               no progress bar, and no summary unless --summary\n"
    "      --summary              print the summary on stderr even when not a terminal\n"
    "      --hash                 add the sha256 of the body\n"
    "      --attempt-log          add attempts_log to each record\n"
    "      --headers              add the response's header fields to each record\n"
    "      --body N               add the first N bytes of the body (as text)\n"
    "      --output-dir DIR       save each body to DIR/<index>.body\n"
    "      --watch SEC            run the input again every SEC seconds, until Ctrl-C\n"
    "      --resume               with -o FILE: finish an interrupted run\n"
    "      --compare FILE         add change: what changed since that run's records\n"
    "      --stats                print engine counters as JSON on stderr\n"
    "      --trace FILE           one JSON line per request state change (- = stderr)\n"
    "      --debug-loop MS        report loop callbacks that take over MS ms, on stderr\n"
    "\n"
    "  -h, --help                 this text\n"
    "  -V, --version              the version\n"
    "\n"
    "Exit status: 0 all records ok, 1 some not ok, 2 usage error, 130/143 interrupted.\n";

enum {
    OPT_CONNECT_TIMEOUT = 256,
    OPT_RETRY,
    OPT_RETRY_BACKOFF,
    OPT_RETRY_BACKOFF_MAX,
    OPT_RETRY_MAX_TIME,
    OPT_RETRY_NON_IDEMPOTENT,
    OPT_MAX_FILESIZE,
    OPT_RESOLVE,
    OPT_DNS_SERVERS,
    OPT_HASH,
    OPT_STATS,
    OPT_CACERT,
    OPT_PER_HOST,
    OPT_PER_IP,
    OPT_NO_KEEPALIVE,
    OPT_IDLE_TIMEOUT,
    OPT_MAX_IDLE,
    OPT_MAX_REDIRS,
    OPT_ATTEMPT_LOG,
    OPT_BLOCKING,
    OPT_TRACE,
    OPT_HEADERS,
    OPT_BODY,
    OPT_OUTPUT_DIR,
    OPT_SHARD,
    OPT_COMPARE,
    OPT_RESUME,
    OPT_WATCH,
    OPT_EXPECT_STATUS,
    OPT_EXPECT_BODY,
    OPT_EXPECT_HEADER,
    OPT_MAX_LATENCY,
    OPT_MIN_CERT_DAYS,
    OPT_DEBUG_LOOP,
    OPT_FORMAT,
    OPT_SUMMARY,
    OPT_NOPROXY,
    OPT_RATE,
    OPT_PER_HOST_RATE,
};

static const struct option long_opts[] = {
    {"concurrency", required_argument, NULL, 'c'},
    {"input", required_argument, NULL, 'i'},
    {"output", required_argument, NULL, 'o'},
    {"request", required_argument, NULL, 'X'},
    {"header", required_argument, NULL, 'H'},
    {"data", required_argument, NULL, 'd'},
    {"max-time", required_argument, NULL, 'm'},
    {"connect-timeout", required_argument, NULL, OPT_CONNECT_TIMEOUT},
    {"retry", required_argument, NULL, OPT_RETRY},
    {"retry-backoff", required_argument, NULL, OPT_RETRY_BACKOFF},
    {"retry-backoff-max", required_argument, NULL, OPT_RETRY_BACKOFF_MAX},
    {"retry-max-time", required_argument, NULL, OPT_RETRY_MAX_TIME},
    {"retry-non-idempotent", no_argument, NULL, OPT_RETRY_NON_IDEMPOTENT},
    {"max-filesize", required_argument, NULL, OPT_MAX_FILESIZE},
    {"resolve", required_argument, NULL, OPT_RESOLVE},
    {"dns-servers", required_argument, NULL, OPT_DNS_SERVERS},
    {"hash", no_argument, NULL, OPT_HASH},
    {"stats", no_argument, NULL, OPT_STATS},
    {"insecure", no_argument, NULL, 'k'},
    {"cacert", required_argument, NULL, OPT_CACERT},
    {"per-host", required_argument, NULL, OPT_PER_HOST},
    {"per-ip", required_argument, NULL, OPT_PER_IP},
    {"rate", required_argument, NULL, OPT_RATE},
    {"per-host-rate", required_argument, NULL, OPT_PER_HOST_RATE},
    {"ipv4", no_argument, NULL, '4'},
    {"ipv6", no_argument, NULL, '6'},
    {"user-agent", required_argument, NULL, 'A'},
    {"user", required_argument, NULL, 'u'},
    {"no-keepalive", no_argument, NULL, OPT_NO_KEEPALIVE},
    {"idle-timeout", required_argument, NULL, OPT_IDLE_TIMEOUT},
    {"max-idle", required_argument, NULL, OPT_MAX_IDLE},
    {"location", no_argument, NULL, 'L'},
    {"max-redirs", required_argument, NULL, OPT_MAX_REDIRS},
    {"attempt-log", no_argument, NULL, OPT_ATTEMPT_LOG},
    {"blocking", no_argument, NULL, OPT_BLOCKING},
    {"proxy", required_argument, NULL, 'x'},
    {"noproxy", required_argument, NULL, OPT_NOPROXY},
    {"trace", required_argument, NULL, OPT_TRACE},
    {"headers", no_argument, NULL, OPT_HEADERS},
    {"body", required_argument, NULL, OPT_BODY},
    {"output-dir", required_argument, NULL, OPT_OUTPUT_DIR},
    {"shard", required_argument, NULL, OPT_SHARD},
    {"compare", required_argument, NULL, OPT_COMPARE},
    {"resume", no_argument, NULL, OPT_RESUME},
    {"watch", required_argument, NULL, OPT_WATCH},
    {"expect-status", required_argument, NULL, OPT_EXPECT_STATUS},
    {"expect-body", required_argument, NULL, OPT_EXPECT_BODY},
    {"expect-header", required_argument, NULL, OPT_EXPECT_HEADER},
    {"max-latency", required_argument, NULL, OPT_MAX_LATENCY},
    {"min-cert-days", required_argument, NULL, OPT_MIN_CERT_DAYS},
    {"debug-loop", required_argument, NULL, OPT_DEBUG_LOOP},
    {"format", required_argument, NULL, OPT_FORMAT},
    {"silent", no_argument, NULL, 's'},
    {"summary", no_argument, NULL, OPT_SUMMARY},
    {"help", no_argument, NULL, 'h'},
    {"version", no_argument, NULL, 'V'},
    {NULL, 0, NULL, 0},
};

static int bad(const char *flag, const char *value, const char *why)
{
    fprintf(stderr, "salvo: %s '%s': %s (see salvo --help)\n", flag, value, why);
    return -1;
}

/* Whole numbers in [min, max]. */
static int parse_int(const char *flag, const char *s, long min, long max, int *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end != '\0')
        return bad(flag, s, "not a whole number");
    if (v < min || v > max) {
        char why[64];
        snprintf(why, sizeof why, "must be from %ld to %ld", min, max);
        return bad(flag, s, why);
    }
    *out = (int)v;
    return 0;
}

/* Durations: seconds, fractional allowed. positive: zero is refused too. */
static int parse_secs(const char *flag, const char *s, int positive, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end != '\0' || !isfinite(v))
        return bad(flag, s, "not a number of seconds");
    if (v < 0 || (positive && v == 0))
        return bad(flag, s, positive ? "must be more than 0" : "must not be negative");
    if (v > 31536000)
        return bad(flag, s, "must be at most a year");
    *out = v;
    return 0;
}

/* Milliseconds, fractional allowed, more than 0 (0 would mean "report nothing"). */
static int parse_ms(const char *flag, const char *s, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end != '\0' || !isfinite(v))
        return bad(flag, s, "not a number of milliseconds");
    if (v <= 0)
        return bad(flag, s, "must be more than 0");
    if (v > 31536000000.0)
        return bad(flag, s, "must be at most a year");
    *out = v;
    return 0;
}

/* Sizes: bytes with an optional k, M or G suffix (powers of 1024). */
static int parse_size(const char *flag, const char *s, uint64_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s || s[0] == '-')
        return bad(flag, s, "not a size");
    unsigned shift = 0;
    if (*end == 'k' || *end == 'K')
        shift = 10;
    else if (*end == 'M')
        shift = 20;
    else if (*end == 'G')
        shift = 30;
    if (shift)
        end++;
    if (*end != '\0')
        return bad(flag, s, "not a size (bytes, or a number with k, M or G)");
    if (v > (UINT64_MAX >> shift))
        return bad(flag, s, "too large");
    *out = (uint64_t)v << shift;
    return 0;
}

/* Rates: a positive number of starts, per second unless /s, /m or /h says otherwise.
 * *out is per second. Strict: "5/x", " 5", "0x5" or "inf" are refused, not guessed at. */
static int parse_rate(const char *flag, const char *s, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (!((s[0] >= '0' && s[0] <= '9') || s[0] == '.' || s[0] == '-') || errno || end == s ||
        !isfinite(v) || (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')))
        return bad(flag, s, "not a rate: N, N/s, N/m or N/h");
    double unit = 1;
    if (*end == '/') {
        if (strcmp(end, "/s") == 0)
            unit = 1;
        else if (strcmp(end, "/m") == 0)
            unit = 60;
        else if (strcmp(end, "/h") == 0)
            unit = 3600;
        else
            return bad(flag, s, "the unit must be /s, /m or /h");
    } else if (*end != '\0') {
        return bad(flag, s, "not a rate: N, N/s, N/m or N/h");
    }
    if (v <= 0)
        return bad(flag, s, "must be more than 0");
    if (v / unit < 1.0 / 31536000)
        return bad(flag, s, "must be at least one start a year");
    *out = v / unit;
    return 0;
}

static int parse_format(const char *s, enum cli_format *out)
{
    static const char *const names[] = {
        [CLI_FORMAT_JSONL] = "jsonl",
        [CLI_FORMAT_CSV] = "csv",
        [CLI_FORMAT_TABLE] = "table",
        [CLI_FORMAT_PROM] = "prom",
    };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        if (names[i] != NULL && strcmp(s, names[i]) == 0) {
            *out = (enum cli_format)i;
            return 0;
        }
    }
    return bad("--format", s, "must be jsonl, csv, table or prom");
}

static int read_body_file(struct cli *c, const char *path)
{
    FILE *fp = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
    if (fp == NULL)
        return bad("--data", path, strerror(errno));
    size_t cap = 4096, len = 0;
    char *b = malloc(cap);
    int rc = 0;
    while (b != NULL) {
        size_t n = fread(b + len, 1, cap - len, fp);
        len += n;
        if (n == 0)
            break;
        if (len == cap) {
            if (cap >= MAX_BODY) {
                rc = bad("--data", path, "file larger than 64 MiB");
                break;
            }
            char *nb = realloc(b, cap * 2);
            if (nb == NULL)
                free(b);
            b = nb;
            cap *= 2;
        }
    }
    if (b == NULL)
        rc = bad("--data", path, "out of memory");
    else if (rc == 0 && ferror(fp))
        rc = bad("--data", path, strerror(errno));
    if (fp != stdin)
        fclose(fp);
    if (rc < 0) {
        free(b);
        return rc;
    }
    c->body = b;
    c->body_len = len;
    return 0;
}

static int push(const char ***arr, size_t *n, const char *v)
{
    const char **a = realloc(*arr, (*n + 1) * sizeof **arr);
    if (a == NULL)
        return bad("option", v, "out of memory");
    a[(*n)++] = v;
    *arr = a;
    return 0;
}

/* -H and -X are checked by the library's own rules, flag by flag, so that a request the
 * engine would refuse is a usage error before anything is sent. */
static int check_request(const char *flag, const salvo_request_t *one)
{
    char why[256];
    if (salvo_request_check(one, why, sizeof why) == 0)
        return 0;
    fprintf(stderr, "salvo: %s: %s (see salvo --help)\n", flag, why);
    return -1;
}

static int check_header(const char *h)
{
    salvo_request_t one = {.headers = &h, .headers_len = 1};
    return check_request("-H", &one);
}

static int check_method(const char *m)
{
    salvo_request_t one = {.method = m};
    return check_request("-X", &one);
}

/* -A: the value must make a valid header line, as an -H would. */
static int check_user_agent(const char *ua)
{
    char line[1024];
    if (snprintf(line, sizeof line, "User-Agent: %s", ua) >= (int)sizeof line)
        return bad("-A", ua, "longer than 1000 bytes");
    const char *h = line;
    salvo_request_t one = {.headers = &h, .headers_len = 1};
    return check_request("-A", &one);
}

/* -u USER:PASSWORD: the Authorization header of HTTP Basic (RFC 7617). Never echoes the
 * value in a message: it holds a password. */
static int set_user(struct cli *c, const char *arg)
{
    static const char prefix[] = "Authorization: ";
    const char *colon = strchr(arg, ':');
    if (colon == NULL) {
        fprintf(stderr, "salvo: -u needs USER:PASSWORD: salvo cannot ask for the password "
                        "(see salvo --help)\n");
        return -1;
    }
    /* A user name has no colon (RFC 7617): the first one ends it. */
    size_t cap = sizeof prefix + 4 * (strlen(arg) + 3) / 3 + 8;
    char *user = strndup(arg, (size_t)(colon - arg));
    char *h = malloc(cap);
    if (user == NULL || h == NULL ||
        salvo_basic_auth(user, colon + 1, h + sizeof prefix - 1, cap - sizeof prefix + 1) < 0) {
        free(user);
        free(h);
        fprintf(stderr, "salvo: -u: out of memory\n");
        return -1;
    }
    memcpy(h, prefix, sizeof prefix - 1);
    free(user);
    free(c->auth);
    c->auth = h;
    return 0;
}

/* The password of -u is blanked in the process's arguments once read, so that ps and
 * /proc/PID/cmdline do not show it for the length of the run (curl does the same). */
static void hide_password(char *arg)
{
    char *colon = strchr(arg, ':');
    if (colon != NULL)
        memset(colon + 1, '*', strlen(colon + 1));
}

static int has_header(const struct cli *c, const char *name)
{
    size_t n = strlen(name);
    for (size_t i = 0; i < c->nheaders; i++)
        if (strncasecmp(c->headers[i], name, n) == 0 && c->headers[i][n] == ':')
            return 1;
    return 0;
}

/* One option; returns 0, 1 to exit 0 (help, version), or -1 on a usage error. */
static int apply(struct cli *c, int opt, const char *arg)
{
    salvo_config_t *g = &c->cfg;
    char why[192];
    switch (opt) {
    case 'c':
        return parse_int("-c", arg, 1, 1000000, &g->concurrency);
    case 'i':
        c->input_path = arg;
        return 0;
    case 'o':
        c->output_path = arg;
        return 0;
    case 'X':
        c->req.method = arg;
        return check_method(arg);
    case 'H':
        return check_header(arg) < 0 ? -1 : push(&c->headers, &c->nheaders, arg);
    case 'A':
        g->user_agent = arg;
        return check_user_agent(arg);
    case 'u':
        return set_user(c, arg);
    case '4':
    case '6':
        /* Both given is refused once all options are read: -1 remembers it. */
        c->family = c->family != 0 && c->family != opt - '0' ? -1 : opt - '0';
        return 0;
    case OPT_RATE:
        return parse_rate("--rate", arg, &c->rate);
    case OPT_PER_HOST_RATE:
        return parse_rate("--per-host-rate", arg, &c->per_host_rate);
    case 'd':
        free(c->body);
        c->body = NULL;
        if (arg[0] == '@')
            return read_body_file(c, arg + 1);
        c->body = strdup(arg);
        c->body_len = strlen(arg);
        return c->body ? 0 : bad("-d", arg, "out of memory");
    case 'm':
        return parse_secs("-m", arg, 1, &g->max_time);
    case OPT_CONNECT_TIMEOUT:
        return parse_secs("--connect-timeout", arg, 1, &g->connect_timeout);
    case OPT_RETRY:
        return parse_int("--retry", arg, 0, 1000, &g->retry);
    case OPT_RETRY_BACKOFF:
        return parse_secs("--retry-backoff", arg, 0, &g->retry_backoff);
    case OPT_RETRY_BACKOFF_MAX:
        return parse_secs("--retry-backoff-max", arg, 0, &g->retry_backoff_max);
    case OPT_RETRY_MAX_TIME:
        return parse_secs("--retry-max-time", arg, 0, &g->retry_max_time);
    case OPT_RETRY_NON_IDEMPOTENT:
        g->retry_non_idempotent = 1;
        return 0;
    case OPT_MAX_FILESIZE:
        return parse_size("--max-filesize", arg, &g->max_filesize);
    case OPT_RESOLVE:
        return push(&c->resolve, &c->nresolve, arg);
    case OPT_DNS_SERVERS:
        g->dns_servers = arg;
        return 0;
    case OPT_HASH:
        g->hash = 1;
        return 0;
    case OPT_STATS:
        c->stats = 1;
        return 0;
    case 'k':
        g->insecure = 1;
        return 0;
    case OPT_CACERT:
        g->cacert = arg;
        return 0;
    case OPT_PER_HOST:
        return parse_int("--per-host", arg, 0, 1000000, &g->per_host);
    case OPT_PER_IP:
        return parse_int("--per-ip", arg, 0, 1000000, &g->per_ip);
    case OPT_NO_KEEPALIVE:
        g->keepalive = 0;
        return 0;
    case OPT_IDLE_TIMEOUT:
        return parse_secs("--idle-timeout", arg, 1, &g->idle_timeout);
    case OPT_MAX_IDLE:
        return parse_int("--max-idle", arg, 0, 1000000, &g->max_idle);
    case 'L':
        g->follow_redirects = 1;
        return 0;
    case OPT_MAX_REDIRS:
        return parse_int("--max-redirs", arg, 0, 1000, &g->max_redirs);
    case OPT_ATTEMPT_LOG:
        g->attempt_log = 1;
        return 0;
    case OPT_BLOCKING:
        g->blocking = 1;
        return 0;
    case 'x':
        c->proxy = arg;
        return 0;
    case OPT_NOPROXY:
        c->noproxy = arg;
        return 0;
    case OPT_TRACE:
        c->trace_path = arg;
        return 0;
    case OPT_HEADERS:
        c->show_headers = 1;
        return 0;
    case OPT_BODY:
        if (parse_size("--body", arg, &c->body_max) < 0)
            return -1;
        if (c->body_max == 0 || c->body_max > MAX_BODY)
            return bad("--body", arg, "must be from 1 byte to 64M");
        return 0;
    case OPT_OUTPUT_DIR:
        c->output_dir = arg;
        return 0;
    case OPT_WATCH:
        return parse_secs("--watch", arg, 1, &c->watch);
    case OPT_RESUME:
        c->resume = 1;
        return 0;
    case OPT_COMPARE:
        c->compare_path = arg;
        return 0;
    case OPT_SHARD:
        return shard_parse(&c->shard, arg, why, sizeof why) < 0 ? bad("--shard", arg, why) : 0;
    case OPT_EXPECT_STATUS:
        return checks_set_status(&c->checks, arg, why, sizeof why) < 0
                   ? bad("--expect-status", arg, why)
                   : 0;
    case OPT_EXPECT_BODY:
        return checks_set_body(&c->checks, arg, why, sizeof why) < 0
                   ? bad("--expect-body", arg, why)
                   : 0;
    case OPT_EXPECT_HEADER:
        return checks_add_header(&c->checks, arg, why, sizeof why) < 0
                   ? bad("--expect-header", arg, why)
                   : 0;
    case OPT_MAX_LATENCY: {
        double secs;
        if (parse_secs("--max-latency", arg, 1, &secs) < 0)
            return -1;
        c->checks.max_latency_ms = secs * 1000.0;
        return 0;
    }
    case OPT_MIN_CERT_DAYS: {
        int days;
        if (parse_int("--min-cert-days", arg, 0, 100000, &days) < 0)
            return -1;
        c->checks.min_cert_days = days;
        return 0;
    }
    case OPT_DEBUG_LOOP:
        return parse_ms("--debug-loop", arg, &g->debug_loop_ms);
    case OPT_FORMAT:
        return parse_format(arg, &c->format);
    case 's':
        c->silent = 1;
        return 0;
    case OPT_SUMMARY:
        c->summary = 1;
        return 0;
    case 'h':
        fputs(usage_text, stdout);
        return 1;
    case 'V':
        printf("salvo %s\n", SALVO_VERSION);
        return 1;
    default:
        fprintf(stderr, "salvo: unknown or incomplete option (see salvo --help)\n");
        return -1;
    }
}

enum cli_parse cli_parse(struct cli *c, int argc, char **argv)
{
    memset(c, 0, sizeof *c);
    salvo_config_init(&c->cfg);
    checks_init(&c->checks);
    opterr = 0; /* our own one-line messages */
    int opt;
    while ((opt = getopt_long(argc, argv, ":c:i:o:X:H:d:m:x:A:u:46kLshV", long_opts, NULL)) != -1) {
        if (opt == ':') {
            fprintf(stderr, "salvo: option '%s' needs a value (see salvo --help)\n",
                    argv[optind - 1]);
            return CLI_USAGE;
        }
        if (opt == '?') {
            fprintf(stderr, "salvo: unknown option '%s' (see salvo --help)\n", argv[optind - 1]);
            return CLI_USAGE;
        }
        int rc = apply(c, opt, optarg);
        if (rc != 0)
            return rc > 0 ? CLI_EXIT0 : CLI_USAGE;
        if (opt == 'u')
            hide_password(optarg);
    }
    if (c->family < 0) {
        fprintf(stderr, "salvo: -4 and -6 exclude each other (see salvo --help)\n");
        return CLI_USAGE;
    }
    if (c->resume && (c->output_path == NULL || strcmp(c->output_path, "-") == 0 ||
                      (c->format != CLI_FORMAT_AUTO && c->format != CLI_FORMAT_JSONL))) {
        fprintf(stderr, "salvo: --resume needs -o FILE with JSON Lines records "
                        "(see salvo --help)\n");
        return CLI_USAGE;
    }
    if (c->cfg.blocking && c->proxy != NULL && *c->proxy != '\0') {
        fprintf(stderr, "salvo: --blocking does not go through proxies: drop -x "
                        "(see salvo --help)\n");
        return CLI_USAGE;
    }
    c->urls = argv + optind;
    c->nurls = (size_t)(argc - optind);
    /* --watch reads its input again each round: a stream can be read only once, and
     * FILE holds the last whole round, so it can be neither stdout nor resumed. */
    int from_stdin = c->input_path != NULL ? strcmp(c->input_path, "-") == 0 : c->nurls == 0;
    if (c->watch > 0 &&
        (from_stdin || c->resume || (c->output_path != NULL && strcmp(c->output_path, "-") == 0))) {
        fprintf(stderr, "salvo: --watch needs URLs as arguments or -i FILE, and no --resume "
                        "or -o - (see salvo --help)\n");
        return CLI_USAGE;
    }
    /* An -H Authorization replaces -u's, as -H replaces every header salvo makes. */
    if (c->auth != NULL && !has_header(c, "Authorization") &&
        push(&c->headers, &c->nheaders, c->auth) < 0)
        return CLI_USAGE;
    c->req.headers = c->headers;
    c->req.headers_len = c->nheaders;
    c->req.body = c->body;
    c->req.body_len = c->body_len;
    c->cfg.resolve = c->resolve;
    c->cfg.resolve_len = c->nresolve;
    return CLI_RUN;
}

void cli_free(struct cli *c)
{
    free(c->headers);
    free(c->resolve);
    free(c->body);
    free(c->auth);
    checks_free(&c->checks);
}
