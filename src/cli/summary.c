/*
 * summary.c -- the run's summary. See summary.h.
 */
#include "summary.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define RED   "\x1b[31m"
#define GREEN "\x1b[32m"
#define BOLD  "\x1b[1m"
#define RESET "\x1b[0m"

void summary_init(struct summary *s)
{
    memset(s, 0, sizeof *s);
}

void summary_free(struct summary *s)
{
    free(s->lat);
    s->lat = NULL;
}

static void keep_latency(struct summary *s, double ms)
{
    if (s->nlat == s->lat_cap) {
        size_t cap = s->lat_cap ? s->lat_cap * 2 : 1024;
        float *l = realloc(s->lat, cap * sizeof *l);
        if (l == NULL) {
            s->lat_lost = 1;
            return;
        }
        s->lat = l;
        s->lat_cap = cap;
    }
    s->lat[s->nlat++] = (float)ms;
}

void summary_add(struct summary *s, const salvo_result_t *r, const struct output_extra *x)
{
    s->records++;
    if (!r->ok)
        s->not_ok++;
    int cls = r->status <= 0 ? 0 : r->status / 100;
    s->status[cls > 9 ? 9 : cls]++;
    if ((unsigned)r->error < SALVO_E_COUNT)
        s->errors[r->error]++;
    if (x != NULL && x->checked) {
        for (int k = 0; k < CHECK_COUNT; k++)
            if (x->checks_failed & (1u << k))
                s->checks[k]++;
    }
    if (x != NULL && (unsigned)x->change < CHANGE_COUNT)
        s->changes[x->change]++;
    s->bytes += r->bytes;
    if (r->total_ms >= 0 && isfinite(r->total_ms))
        keep_latency(s, r->total_ms);
}

static int cmp_float(const void *a, const void *b)
{
    float x = *(const float *)a, y = *(const float *)b;
    return x < y ? -1 : x > y;
}

/* The p-th percentile by nearest rank: the smallest value with at least p of the
 * values at or below it. lat is sorted, n > 0. */
static double percentile(const float *lat, size_t n, double p)
{
    size_t rank = (size_t)ceil(p * (double)n);
    if (rank < 1)
        rank = 1;
    if (rank > n)
        rank = n;
    return lat[rank - 1];
}

static void put_ms(FILE *fp, const char *label, double ms)
{
    fprintf(fp, "%s %.*f ms", label, ms < 10 ? 2 : ms < 1000 ? 1 : 0, ms);
}

static void put_bytes(FILE *fp, uint64_t n)
{
    static const char *const units[] = {"KiB", "MiB", "GiB", "TiB"};
    fprintf(fp, "%llu", (unsigned long long)n);
    if (n < 1024)
        return;
    double v = (double)n;
    int u = -1;
    while (v >= 1024 && u < 3) {
        v /= 1024;
        u++;
    }
    fprintf(fp, " (%.1f %s)", v, units[u]);
}

/* The error classes seen, most frequent first (ties in the classes' order). */
static void put_errors(FILE *fp, const struct summary *s, int colour)
{
    int order[SALVO_E_COUNT], n = 0;
    for (int e = 1; e < SALVO_E_COUNT; e++) {
        if (s->errors[e] == 0)
            continue;
        int i = n++;
        while (i > 0 && s->errors[order[i - 1]] < s->errors[e]) {
            order[i] = order[i - 1];
            i--;
        }
        order[i] = e;
    }
    fputs("errors   ", fp);
    if (n == 0)
        fputs("none", fp);
    for (int i = 0; i < n; i++)
        fprintf(fp, "%s%s%s %llu%s", i ? ", " : "", colour ? RED : "",
                salvo_err_name((salvo_err_t)order[i]), (unsigned long long)s->errors[order[i]],
                colour ? RESET : "");
    fputc('\n', fp);
}

void summary_write(struct summary *s, FILE *fp, double wall_s, int colour)
{
    uint64_t ok = s->records - s->not_ok;
    fprintf(fp, "%srecords%s  %llu: %s%llu ok%s, %s%llu not ok%s\n", colour ? BOLD : "",
            colour ? RESET : "", (unsigned long long)s->records, colour && ok ? GREEN : "",
            (unsigned long long)ok, colour && ok ? RESET : "", colour && s->not_ok ? RED : "",
            (unsigned long long)s->not_ok, colour && s->not_ok ? RESET : "");

    fputs("status   ", fp);
    int any = 0;
    for (int c = 1; c < 10; c++) {
        if (s->status[c] == 0)
            continue;
        fprintf(fp, "%s%dxx %llu", any ? ", " : "", c, (unsigned long long)s->status[c]);
        any = 1;
    }
    if (s->status[0] > 0 || !any)
        fprintf(fp, "%snone %llu", any ? ", " : "", (unsigned long long)s->status[0]);
    fputc('\n', fp);

    put_errors(fp, s, colour);

    any = 0;
    for (int k = 0; k < CHECK_COUNT; k++) {
        if (s->checks[k] == 0)
            continue;
        fprintf(fp, "%s%s %llu", any ? ", " : "checks   ", checks_name((enum check)k),
                (unsigned long long)s->checks[k]);
        any = 1;
    }
    if (any)
        fputs(" failed\n", fp);

    if (s->compared) {
        fputs("changes  ", fp);
        any = 0;
        for (int ch = CHANGE_NONE + 1; ch < CHANGE_COUNT; ch++) {
            if (s->changes[ch] == 0)
                continue;
            fprintf(fp, "%s%s %llu", any ? ", " : "", compare_name((enum change)ch),
                    (unsigned long long)s->changes[ch]);
            any = 1;
        }
        fprintf(fp, "%s%llu unchanged\n", any ? ", " : "",
                (unsigned long long)s->changes[CHANGE_NONE]);
    }

    fputs("latency  ", fp);
    if (s->nlat == 0) {
        fputs("none (no request got a slot)", fp);
    } else {
        qsort(s->lat, s->nlat, sizeof *s->lat, cmp_float);
        put_ms(fp, "p50", percentile(s->lat, s->nlat, 0.50));
        put_ms(fp, ", p90", percentile(s->lat, s->nlat, 0.90));
        put_ms(fp, ", p99", percentile(s->lat, s->nlat, 0.99));
        put_ms(fp, ", max", s->lat[s->nlat - 1]);
        if (s->lat_lost)
            fputs(" (some latencies could not be kept: out of memory)", fp);
    }
    fputc('\n', fp);

    fputs("bytes    ", fp);
    put_bytes(fp, s->bytes);
    fputc('\n', fp);

    double rate = wall_s > 0 ? (double)s->records / wall_s : 0;
    fprintf(fp, "time     %.3f s, %.1f requests/s\n", wall_s, rate);
}
