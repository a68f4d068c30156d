/*
 * resume.c -- what an interrupted run already has (see resume.h).
 */
#include "resume.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "record_in.h"
#include "shard.h"

/* Indexes beyond this are not believed (a hostile or corrupt FILE must not make the
 * bitmap huge): 2^32 input lines is far past any list salvo is given. */
#define RESUME_MAX_INDEX (UINT64_C(1) << 32)

/* A record's url as a nonzero 32-bit hash (the FNV-1a of --shard, folded). */
static uint32_t url_hash(const char *url)
{
    uint64_t h = shard_fnv1a64(url);
    uint32_t v = (uint32_t)(h ^ (h >> 32));
    return v != 0 ? v : 1;
}

static int grow(struct resume *rs, uint64_t index)
{
    if (index < rs->nindex)
        return 0;
    uint64_t n = rs->nindex ? rs->nindex : 1024;
    while (n <= index)
        n *= 2;
    uint32_t *v = realloc(rs->url_hash, n * sizeof *v);
    if (v == NULL)
        return -1;
    memset(v + rs->nindex, 0, (n - rs->nindex) * sizeof *v);
    rs->url_hash = v;
    rs->nindex = n;
    return 0;
}

/* fsync of the directory holding path, so that a rename in it survives a power cut. */
static int sync_dir_of(const char *path)
{
    char *copy = strdup(path);
    if (copy == NULL)
        return -1;
    int fd = open(dirname(copy), O_RDONLY | O_DIRECTORY);
    free(copy);
    if (fd < 0)
        return -1;
    int rc = fsync(fd);
    close(fd);
    return rc;
}

/* Copies the records of in that count as done to out. Returns 0, or an errno. */
static int keep_done(struct resume *rs, FILE *in, FILE *out)
{
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    int err = 0;
    while (err == 0 && (len = getline(&line, &cap, in)) >= 0) {
        struct record_in r;
        /* A line without its newline was cut short by the crash, whatever it holds. */
        int whole = len > 0 && line[len - 1] == '\n';
        if (whole && record_in_parse(&r, line) == 0 && !r.cancelled && r.index < RESUME_MAX_INDEX &&
            !resume_done(rs, r.index)) {
            if (grow(rs, r.index) < 0)
                err = ENOMEM;
            else if (fwrite(line, 1, (size_t)len, out) != (size_t)len)
                err = errno ? errno : EIO;
            else {
                rs->url_hash[r.index] = url_hash(r.url);
                rs->kept++;
            }
        } else {
            rs->dropped++;
        }
        if (whole)
            record_in_free(&r);
    }
    if (err == 0 && ferror(in))
        err = errno ? errno : EIO;
    free(line);
    return err;
}

int resume_prepare(struct resume *rs, const char *path, char *why, size_t whylen)
{
    memset(rs, 0, sizeof *rs);
    FILE *in = fopen(path, "r");
    if (in == NULL) {
        if (errno == ENOENT)
            return 0; /* nothing done yet */
        snprintf(why, whylen, "--resume: cannot read %s: %s", path, strerror(errno));
        return -1;
    }
    char tmp[4096];
    int n = snprintf(tmp, sizeof tmp, "%s.resume.XXXXXX", path);
    int fd = n > 0 && (size_t)n < sizeof tmp ? mkstemp(tmp) : -1;
    struct stat st;
    if (fd >= 0 && fstat(fileno(in), &st) == 0)
        (void)fchmod(fd, st.st_mode & 07777); /* the rewritten FILE keeps its mode */
    FILE *out = fd >= 0 ? fdopen(fd, "w") : NULL;
    if (out == NULL) {
        snprintf(why, whylen, "--resume: cannot write next to %s: %s", path, strerror(errno));
        if (fd >= 0) {
            close(fd);
            unlink(tmp);
        }
        fclose(in);
        return -1;
    }
    int err = keep_done(rs, in, out);
    fclose(in);
    if (err == 0 && (fflush(out) != 0 || fsync(fileno(out)) != 0))
        err = errno;
    if (fclose(out) != 0 && err == 0)
        err = errno;
    if (err == 0 && rename(tmp, path) != 0)
        err = errno;
    if (err == 0)
        (void)sync_dir_of(path); /* best effort: the records themselves are safe */
    if (err != 0) {
        unlink(tmp);
        snprintf(why, whylen, "--resume: rewriting %s: %s", path, strerror(err));
        resume_free(rs);
        return -1;
    }
    return 0;
}

int resume_done(const struct resume *rs, uint64_t index)
{
    return index < rs->nindex && rs->url_hash[index] != 0;
}

int resume_same_url(const struct resume *rs, uint64_t index, const char *url)
{
    return resume_done(rs, index) && rs->url_hash[index] == url_hash(url);
}

int resume_replay(const char *path, resume_record_cb *cb, void *user)
{
    FILE *in = fopen(path, "r");
    if (in == NULL)
        return errno == ENOENT ? 0 : -1;
    char *line = NULL;
    size_t cap = 0;
    while (getline(&line, &cap, in) >= 0) {
        struct record_in r;
        if (record_in_parse(&r, line) == 0) {
            salvo_result_t res = {
                .index = r.index,
                .url = r.url,
                .ok = r.ok,
                .status = r.status,
                .error = r.error < SALVO_E_COUNT ? r.error : SALVO_E_PROTOCOL,
                .bytes = r.bytes,
                .total_ms = r.total_ms,
            };
            struct output_extra x = {.checks_failed = r.checks_failed, .checked = r.checked};
            cb(&res, &x, user);
        }
        record_in_free(&r);
    }
    int rc = ferror(in) ? -1 : 0;
    free(line);
    fclose(in);
    return rc;
}

void resume_free(struct resume *rs)
{
    free(rs->url_hash);
    rs->url_hash = NULL;
    rs->nindex = 0;
}
