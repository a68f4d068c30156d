/*
 * keep.c -- keeping bodies for the record and on disk. See keep.h.
 */
#include "keep.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int keep_check_dir(const char *dir)
{
    char path[4096];
    size_t n = strlen(dir);
    if (n == 0 || n >= sizeof path - 64) {
        errno = n == 0 ? ENOENT : ENAMETOOLONG;
        return -1;
    }
    /* mkdir -p: each parent in turn, then the directory itself. */
    memcpy(path, dir, n + 1);
    for (char *p = path + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(path, 0755) < 0 && errno != EEXIST)
            return -1;
        *p = '/';
    }
    if (mkdir(path, 0755) < 0 && errno != EEXIST)
        return -1;
    /* Ask by doing: permissions alone do not tell about a read-only filesystem. */
    snprintf(path, sizeof path, "%s/.salvo-check-%ld", dir, (long)getpid());
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0)
        return -1;
    close(fd);
    unlink(path);
    return 0;
}

struct keep *keep_new(const struct keep_config *cfg, void *owner, uint64_t index)
{
    struct keep *k = calloc(1, sizeof *k);
    if (k == NULL)
        return NULL;
    k->cfg = cfg;
    k->owner = owner;
    k->index = index;
    k->fd = -1;
    if (cfg->capture_max > 0 && (k->body = malloc(cfg->capture_max + 1)) == NULL) {
        free(k);
        return NULL;
    }
    if (k->body != NULL)
        k->body[0] = '\0';
    if (cfg->output_dir != NULL)
        snprintf(k->path, sizeof k->path, "%s/%llu.body", cfg->output_dir,
                 (unsigned long long)index);
    return k;
}

/* path + ".part" */
static void part_path(const struct keep *k, char *out, size_t cap)
{
    snprintf(out, cap, "%s.part", k->path);
}

int keep_on_headers(const salvo_response_t *resp, void *user)
{
    (void)resp;
    struct keep *k = user;
    k->got_head = 1;
    /* A later call is a new attempt: what was kept so far belongs to a failed one. */
    k->body_len = 0;
    if (k->body != NULL)
        k->body[0] = '\0';
    if (k->cfg->output_dir == NULL)
        return 0;
    char part[sizeof k->path + 8];
    part_path(k, part, sizeof part);
    if (k->fd >= 0)
        close(k->fd);
    k->fd = open(part, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (k->fd < 0) {
        k->write_errno = errno;
        return SALVO_E_RESOURCE;
    }
    return 0;
}

int keep_on_body(uint64_t index, const void *data, size_t len, void *user)
{
    (void)index;
    struct keep *k = user;
    if (k->body != NULL && k->body_len < k->cfg->capture_max) {
        size_t n = k->cfg->capture_max - k->body_len;
        n = n < len ? n : len;
        memcpy(k->body + k->body_len, data, n);
        k->body_len += n;
        k->body[k->body_len] = '\0';
    }
    /* A regular file does not make a writer wait as a socket does: plain write(2). */
    const char *p = data;
    while (k->fd >= 0 && len > 0) {
        ssize_t w = write(k->fd, p, len);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            k->write_errno = w < 0 ? errno : EIO;
            return SALVO_E_RESOURCE;
        }
        p += w;
        len -= (size_t)w;
    }
    return 0;
}

const char *keep_finish(struct keep *k, const salvo_result_t *r, char *msg, size_t msglen)
{
    char part[sizeof k->path + 8];
    part_path(k, part, sizeof part);
    if (k->fd >= 0) {
        if (close(k->fd) < 0 && k->write_errno == 0)
            k->write_errno = errno;
        k->fd = -1;
        /* Whole responses only, whatever their status; anything else leaves no file. */
        if (r->error == SALVO_E_OK && k->write_errno == 0 && rename(part, k->path) == 0)
            k->saved = 1;
        else
            unlink(part);
    }
    if (k->write_errno == 0)
        return NULL;
    snprintf(msg, msglen, "saving the body to %s: %s", part, strerror(k->write_errno));
    return msg;
}

void keep_free(struct keep *k)
{
    if (k == NULL)
        return;
    if (k->fd >= 0)
        close(k->fd);
    free(k->body);
    free(k->name);
    if (k->checks != NULL) {
        checks_free(k->checks);
        free(k->checks);
    }
    free(k);
}
