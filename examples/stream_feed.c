/*
 * stream_feed.c -- an input of any length through a bounded amount of memory: the
 * engine pulls URLs from stdin through a feed callback (salvo_feed_cb) as it has room
 * for them, instead of the program submitting them all up front.
 *
 * What it teaches
 *   - The feed: config.feed is called whenever the engine can take `room` more requests.
 *     It submits up to `room` of them and returns 0, or returns 1 when the input is over.
 *     Memory follows config.window (requests waiting for a slot), not the input's length,
 *     so a list of ten million URLs costs what a list of a hundred does.
 *   - Never block the loop, not even to read the input. stdin may be a pipe from a slow
 *     producer (`tail -f`, another program). A blocking read inside the feed would freeze
 *     every request in flight until the next line arrives. So stdin is made non-blocking,
 *     and when no whole line is there yet the feed calls salvo_feed_wait(engine, fd) and
 *     returns 0: the engine goes on with its requests and calls the feed again once stdin
 *     is readable.
 *   - Each result is printed as soon as its request ends, while the input is still being
 *     read: results of early lines come out before late lines have even been written.
 *
 * Build: make examples (the binary is build/examples/stream_feed).
 * Run:   producer | build/examples/stream_feed        or   build/examples/stream_feed < urls.txt
 * Input: one URL per line; blank lines and lines starting with '#' are skipped.
 * Output, one line per URL:  INDEX STATUS ERROR URL
 *   INDEX counts URLs from 0 in input order. Exit status: 0 when every result is ok.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <salvo.h>

/* The longest line taken; a longer one is skipped with a message. */
#define LINE_MAX_BYTES 8192

/* The reader's state: bytes read from stdin that do not make a whole line yet. */
struct reader {
    char buf[LINE_MAX_BYTES];
    size_t len;       /* bytes in buf */
    int skipping;     /* inside an over-long line: drop bytes up to its end */
    int eof;          /* read() returned 0 */
    uint64_t next;    /* index of the next URL */
    uint64_t not_ok;  /* results that were not ok */
    uint64_t refused; /* URLs salvo_submit refused */
};

static void on_done(const salvo_result_t *r, void *user)
{
    struct reader *rd = user;

    if (!r->ok)
        rd->not_ok++;
    printf("%llu %d %s %s\n", (unsigned long long)r->index, r->status, salvo_err_name(r->error),
           r->url);
    fflush(stdout);
}

/* Submits one line, unless it is blank or a comment. Returns 1 when a URL was taken. */
static int take_line(salvo_t *engine, struct reader *rd, char *line)
{
    size_t n = strlen(line);

    while (n > 0 && (line[n - 1] == '\r' || line[n - 1] == ' ' || line[n - 1] == '\t'))
        line[--n] = '\0';
    while (*line == ' ' || *line == '\t')
        line++;
    if (*line == '\0' || *line == '#')
        return 0;
    /* salvo_submit copies the URL: the buffer may be reused at once. */
    if (salvo_submit(engine, line, rd->next, NULL, on_done, rd) < 0) {
        fprintf(stderr, "stream_feed: URL %llu: %s\n", (unsigned long long)rd->next,
                salvo_last_error(engine));
        rd->refused++;
    }
    rd->next++;
    return 1;
}

/* Takes the first whole line out of the buffer. Returns 1 when there was one. */
static int next_line(struct reader *rd, char *line)
{
    char *nl = memchr(rd->buf, '\n', rd->len);
    size_t used;

    if (!nl)
        return 0;
    used = (size_t)(nl - rd->buf) + 1;
    memcpy(line, rd->buf, used - 1);
    line[used - 1] = '\0';
    memmove(rd->buf, rd->buf + used, rd->len - used);
    rd->len -= used;
    if (rd->skipping) {
        rd->skipping = 0;
        line[0] = '\0'; /* the tail of an over-long line: not a URL */
    }
    return 1;
}

/* The feed. `room` is how many more requests the engine takes now. */
static int feed(salvo_t *engine, size_t room, void *user)
{
    struct reader *rd = user;
    char line[LINE_MAX_BYTES + 1];

    while (room > 0) {
        if (next_line(rd, line)) {
            room -= (size_t)take_line(engine, rd, line);
            continue;
        }
        if (rd->eof) {
            /* A last line without a newline is still a line. */
            if (rd->len > 0 && !rd->skipping) {
                memcpy(line, rd->buf, rd->len);
                line[rd->len] = '\0';
                take_line(engine, rd, line);
            }
            return 1; /* the input is over: the feed is not called again */
        }
        if (rd->len == sizeof(rd->buf)) {
            fprintf(stderr, "stream_feed: a line longer than %d bytes was skipped\n",
                    LINE_MAX_BYTES);
            rd->skipping = 1;
            rd->len = 0;
        }
        ssize_t n = read(STDIN_FILENO, rd->buf + rd->len, sizeof(rd->buf) - rd->len);
        if (n > 0) {
            rd->len += (size_t)n;
        } else if (n == 0) {
            rd->eof = 1;
        } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
            /* No whole line yet. Ask to be called again when stdin is readable, and let
             * the requests already submitted go on meanwhile. */
            if (salvo_feed_wait(engine, STDIN_FILENO) == 0)
                return 0;
            fprintf(stderr, "stream_feed: cannot watch stdin\n");
            return 1;
        } else if (errno != EINTR) {
            fprintf(stderr, "stream_feed: reading stdin: %s\n", strerror(errno));
            return 1;
        }
    }
    return 0; /* the engine is full for now: it calls again when requests finish */
}

int main(void)
{
    static struct reader rd; /* 8 KiB of buffer: static rather than on the stack */
    salvo_config_t cfg;
    salvo_t *engine;
    char err[256];
    int rc = 0;

    salvo_config_init(&cfg);
    cfg.concurrency = 10;
    cfg.window = 100; /* at most 100 requests wait for a slot: the memory bound */
    cfg.max_time = 10;
    cfg.feed = feed;
    cfg.feed_user = &rd;
    if (salvo_new(&engine, &cfg, err, sizeof(err), NULL, 0) < 0) {
        fprintf(stderr, "stream_feed: %s\n", err);
        return 2;
    }

    /* The file description of stdin may be shared with the shell or the producer, so its
     * flags are put back as they were before the program exits. */
    int flags = fcntl(STDIN_FILENO, F_GETFL);
    if (flags >= 0)
        (void)fcntl(STDIN_FILENO, F_SETFL, flags | O_NONBLOCK);

    /* No salvo_submit here: the engine calls the feed from inside salvo_run(). */
    if (salvo_run(engine) < 0) {
        fprintf(stderr, "stream_feed: the engine failed\n");
        rc = 1;
    }
    salvo_free(engine);
    if (flags >= 0)
        (void)fcntl(STDIN_FILENO, F_SETFL, flags);
    fprintf(stderr, "stream_feed: %llu URLs, %llu not ok\n", (unsigned long long)rd.next,
            (unsigned long long)(rd.not_ok + rd.refused));
    if (rd.not_ok || rd.refused)
        rc = 1;
    return rc;
}
