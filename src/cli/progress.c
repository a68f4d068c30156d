/*
 * progress.c -- the progress bar. See progress.h.
 */
#include "progress.h"

#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#define ERASE_LINE "\r\x1b[K"

double progress_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void progress_init(struct progress *p, FILE *fp, double start)
{
    memset(p, 0, sizeof *p);
    p->fp = fp;
    p->start = start;
    p->last_draw = -1;
}

void progress_set_total(struct progress *p, uint64_t total)
{
    p->total = total;
    p->total_known = 1;
}

/* The terminal's width in columns, 80 when it does not say. */
static int columns(FILE *fp)
{
    struct winsize ws;
    if (ioctl(fileno(fp), TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0)
        return ws.ws_col;
    return 80;
}

void progress_tick(struct progress *p, uint64_t done, uint64_t failed, double now)
{
    if (p->last_draw >= 0 && now - p->last_draw < PROGRESS_INTERVAL)
        return;
    double elapsed = now - p->start;
    double rate = elapsed > 0 ? (double)done / elapsed : 0;
    char stats[160];
    int n;
    if (p->total_known)
        n = snprintf(stats, sizeof stats, "%llu/%llu  %.0f/s  %llu failed  %.1f s",
                     (unsigned long long)done, (unsigned long long)p->total, rate,
                     (unsigned long long)failed, elapsed);
    else
        n = snprintf(stats, sizeof stats, "%llu done  %.0f/s  %llu failed  %.1f s",
                     (unsigned long long)done, rate, (unsigned long long)failed, elapsed);
    if (n < 0)
        return;
    if ((size_t)n >= sizeof stats)
        n = sizeof stats - 1;

    /* One column is left free: a line that fills the last column wraps on some
     * terminals, and "\r" would then not reach its start. */
    int width = columns(p->fp) - 1;
    char line[512];
    size_t len = 0;
    memcpy(line, ERASE_LINE, sizeof ERASE_LINE - 1);
    len = sizeof ERASE_LINE - 1;
    int bar = width - n - 3; /* "[", "]", a space */
    if (bar > 40)
        bar = 40;
    if (p->total_known && bar >= 10) {
        int fill = p->total > 0 ? (int)((double)bar * (double)done / (double)p->total) : bar;
        if (fill > bar)
            fill = bar;
        line[len++] = '[';
        memset(line + len, '#', (size_t)fill);
        memset(line + len + fill, '.', (size_t)(bar - fill));
        len += (size_t)bar;
        line[len++] = ']';
        line[len++] = ' ';
    }
    int room = width - (int)(len - (sizeof ERASE_LINE - 1));
    if (room < 0)
        room = 0;
    if (n > room)
        n = room;
    memcpy(line + len, stats, (size_t)n);
    len += (size_t)n;
    fwrite(line, 1, len, p->fp);
    fflush(p->fp);
    p->drawn = 1;
    p->last_draw = now;
}

void progress_erase(struct progress *p)
{
    if (!p->drawn)
        return;
    fputs(ERASE_LINE, p->fp);
    fflush(p->fp);
    p->drawn = 0;
}
