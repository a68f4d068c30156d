/*
 * format_table.c -- the table format. See format_table.h.
 *
 * Rows stream out as records complete, so the columns have fixed widths, wide enough
 * for every error class and for indexes below ten million; the url comes last, whole.
 */
#include "format_table.h"

#include <string.h>

#include "checks.h"
#include "output.h"

#define RED    "\x1b[31m"
#define GREEN  "\x1b[32m"
#define YELLOW "\x1b[33m"
#define BOLD   "\x1b[1m"
#define RESET  "\x1b[0m"

#define W_INDEX  7
#define W_STATUS 6
#define W_RESULT 20
#define W_MS     10
#define W_BYTES  12

int table_header(FILE *out, int colour)
{
    fprintf(out, "%s%*s  %-*s %-*s %*s %*s  %s%s\n", colour ? BOLD : "", W_INDEX, "index", W_STATUS,
            "status", W_RESULT, "result", W_MS, "total ms", W_BYTES, "bytes", "url",
            colour ? RESET : "");
    return ferror(out) ? -1 : 0;
}

/* The URL for a terminal: valid UTF-8 as it is, except control characters (C0, DEL and
 * C1), written \xNN; an ill-formed sequence is one U+FFFD. */
static void put_url(FILE *out, const char *url)
{
    const unsigned char *p = (const unsigned char *)(url != NULL ? url : "");
    while (*p != '\0') {
        size_t bad, n = output_utf8_seq(p, &bad);
        if (n == 0) {
            fputs("\xef\xbf\xbd", out);
            p += bad;
        } else if (n == 1 && (*p < 0x20 || *p == 0x7f)) {
            fprintf(out, "\\x%02x", *p);
            p++;
        } else if (n == 2 && p[0] == 0xc2 && p[1] < 0xa0) {
            fprintf(out, "\\x%02x", p[1]); /* U+0080..U+009F, C1 controls */
            p += 2;
        } else {
            fwrite(p, 1, n, out);
            p += n;
        }
    }
}

int table_row(FILE *out, const salvo_result_t *r, const struct output_extra *x, int colour)
{
    char result[64];
    const char *hue = GREEN;
    if (r->error != SALVO_E_OK) {
        snprintf(result, sizeof result, "%s", salvo_err_name(r->error));
        hue = RED;
    } else if (x != NULL && x->checks_failed != 0) {
        size_t len = (size_t)snprintf(result, sizeof result, "failed ");
        for (int k = 0; k < CHECK_COUNT; k++) {
            if (!(x->checks_failed & (1u << k)))
                continue;
            int w = snprintf(result + len, sizeof result - len, "%s%s",
                             result[len - 1] == ' ' ? "" : ",", checks_name((enum check)k));
            if (w > 0 && (size_t)w < sizeof result - len)
                len += (size_t)w;
        }
        hue = YELLOW;
    } else {
        snprintf(result, sizeof result, "ok");
    }
    char status[16] = "-";
    if (r->status > 0)
        snprintf(status, sizeof status, "%d", r->status);
    char ms[32] = "-";
    if (r->total_ms >= 0 && r->total_ms < 1e12)
        snprintf(ms, sizeof ms, "%.1f", r->total_ms);

    fprintf(out, "%*llu  %-*s %s%-*s%s %*s %*llu  ", W_INDEX, (unsigned long long)r->index,
            W_STATUS, status, colour ? hue : "", W_RESULT, result, colour ? RESET : "", W_MS, ms,
            W_BYTES, (unsigned long long)r->bytes);
    put_url(out, r->url);
    fputc('\n', out);
    return ferror(out) ? -1 : 0;
}
