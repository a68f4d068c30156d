/*
 * save_pages.c -- the core of a crawler: fetch many pages at once and save each one to a
 * directory as its bytes arrive, never holding a whole page in memory.
 *
 * What it teaches
 *   - salvo_submit_ext with a salvo_request_ext_t: zero it, set .size = sizeof it, then
 *     the callbacks wanted. The headers callback runs once the answer's head is in
 *     (status and fields), the body callback with each piece of the decoded body (gzip
 *     and chunked framing already undone) as it arrives, and the completion callback
 *     once at the end, as always.
 *   - Streaming: each piece is written to DIR/INDEX.part and dropped. A 2 GB page costs
 *     the same memory as a 2 kB one, and a thousand pages in flight cost a thousand
 *     open files, not a thousand bodies.
 *   - The headers callback is where a file is opened, and it may run again for the same
 *     request: when a transfer fails halfway and salvo retries, the new attempt's head
 *     arrives with attempt > 1, and what was written so far belongs to the failed one.
 *     Truncate and start over.
 *   - Keep or discard in the completion callback: only a page that arrived whole with a
 *     2xx status is renamed to DIR/INDEX; anything else (a 404, a connection cut
 *     halfway, a body over max_filesize) leaves no file behind, not even a .part.
 *   - A callback's return value stops a transfer: a write that fails (a full disk)
 *     returns SALVO_E_RESOURCE, which ends that request with that class and closes its
 *     connection; the other requests go on.
 *   - The callbacks run on the engine's one thread. Writing a regular file is quick, so
 *     doing it inline is fine; a slow sink (a network share, a database) would stall
 *     every transfer (see blocking_mistake.c).
 *
 * Build: make examples (the binary is build/examples/save_pages).
 * Run:   build/examples/save_pages DIR URL...
 * Output, one line per URL:  INDEX STATUS ERROR BYTES FILE URL [MESSAGE]
 *   FILE is DIR/INDEX, or "-" when nothing was saved. STATUS is 0 when no answer came.
 *   Exit status: 0 when every page was saved, 1 otherwise, 2 for a usage error.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <salvo.h>

/* What the whole run shares. */
struct crawl {
    int not_saved;
};

/* One page being saved: the user pointer of its three callbacks. */
struct page {
    struct crawl *crawl;
    int fd;         /* DIR/INDEX.part while the body arrives, -1 otherwise */
    int save_errno; /* why writing failed, 0 while it has not */
    char part[4096];
    char final[4096];
};

/* The head is in: decide whether this answer is worth keeping, and open its file. */
static int on_headers(const salvo_response_t *resp, void *user)
{
    struct page *p = user;
    /* A second call is a new attempt after a failure mid-body: start the file again. */
    if (p->fd >= 0) {
        close(p->fd);
        p->fd = -1;
        unlink(p->part);
    }
    if (resp->status < 200 || resp->status > 299)
        return 0; /* not a page to save; its body is simply not written */
    p->fd = open(p->part, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (p->fd < 0) {
        p->save_errno = errno;
        return SALVO_E_RESOURCE; /* stop this transfer: there is nowhere to put it */
    }
    return 0;
}

/* A piece of the decoded body: write it out and forget it. */
static int on_body(uint64_t index, const void *data, size_t len, void *user)
{
    struct page *p = user;
    const char *b = data;
    (void)index;
    while (p->fd >= 0 && len > 0) {
        ssize_t n = write(p->fd, b, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            p->save_errno = n < 0 ? errno : EIO;
            return SALVO_E_RESOURCE;
        }
        b += n;
        len -= (size_t)n;
    }
    return 0;
}

/* The request is over: keep the file if the page arrived whole, else remove it. */
static void on_done(const salvo_result_t *r, void *user)
{
    struct page *p = user;
    const char *saved = "-";
    if (p->fd >= 0) {
        if (close(p->fd) < 0 && p->save_errno == 0)
            p->save_errno = errno;
        p->fd = -1;
        if (r->error == SALVO_E_OK && p->save_errno == 0 && rename(p->part, p->final) == 0)
            saved = p->final;
        else
            unlink(p->part);
    }
    if (strcmp(saved, "-") == 0)
        p->crawl->not_saved++;
    printf("%llu %d %s %llu %s %s", (unsigned long long)r->index, r->status,
           salvo_err_name(r->error), (unsigned long long)r->bytes, saved, r->url);
    if (p->save_errno != 0)
        printf(" saving: %s", strerror(p->save_errno));
    else if (r->message != NULL)
        printf(" %s", r->message);
    printf("\n");
    fflush(stdout);
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: %s DIR URL...\n", argv[0]);
        return 2;
    }
    const char *dir = argv[1];
    if (mkdir(dir, 0755) < 0 && errno != EEXIST) {
        fprintf(stderr, "save_pages: %s: %s\n", dir, strerror(errno));
        return 2;
    }

    salvo_config_t cfg;
    salvo_config_init(&cfg);
    cfg.concurrency = 20;
    cfg.max_time = 60;
    cfg.retry = 1;
    cfg.max_filesize = (uint64_t)4 << 30; /* 4 GiB: the page is on disk, not in memory */
    salvo_t *engine;
    char err[256];
    if (salvo_new(&engine, &cfg, err, sizeof(err), NULL, 0) < 0) {
        fprintf(stderr, "save_pages: %s\n", err);
        return 2;
    }

    /* One struct page per URL. They must outlive salvo_run(): the callbacks run inside
     * it. The engine copies the URL, not the user pointer's target. */
    size_t n = (size_t)(argc - 2);
    struct page *pages = calloc(n, sizeof(*pages));
    struct crawl crawl = {0};
    if (pages == NULL) {
        fprintf(stderr, "save_pages: out of memory\n");
        salvo_free(engine);
        return 2;
    }
    for (size_t i = 0; i < n; i++) {
        struct page *p = &pages[i];
        p->crawl = &crawl;
        p->fd = -1;
        snprintf(p->final, sizeof(p->final), "%s/%zu", dir, i);
        snprintf(p->part, sizeof(p->part), "%s/%zu.part", dir, i);
        salvo_request_ext_t ext;
        memset(&ext, 0, sizeof(ext));
        ext.size = sizeof(ext); /* what this program knows of the struct */
        ext.on_headers = on_headers;
        ext.on_body = on_body;
        ext.user = p;
        if (salvo_submit_ext(engine, argv[i + 2], i, NULL, &ext, on_done, p) < 0) {
            fprintf(stderr, "save_pages: %s: %s\n", argv[i + 2], salvo_last_error(engine));
            crawl.not_saved++;
        }
    }

    if (salvo_run(engine) < 0) {
        fprintf(stderr, "save_pages: the engine failed\n");
        crawl.not_saved++;
    }
    salvo_free(engine);
    free(pages);
    return crawl.not_saved ? 1 : 0;
}
