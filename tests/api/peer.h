/*
 * peer.h -- starts and stops the project's test server (build/testd) for the API test
 * programs, which see only <salvo.h>. Header-only: each test program is one file.
 */
#ifndef SALVO_TEST_PEER_H
#define SALVO_TEST_PEER_H

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

struct peer {
    pid_t pid;
    int port;
};

/* Starts testd with the extra arguments (NULL-terminated list, may be empty); waits at
 * most 10 s for its port. Returns 0 or -1. */
static inline int peer_start(struct peer *p, char *const extra[])
{
    const char *b = getenv("SALVO_BUILD");
    char bin[512], pf[] = "/tmp/salvo-peer-port.XXXXXX";
    snprintf(bin, sizeof bin, "%s/testd", b ? b : "build");
    int fd = mkstemp(pf);
    if (fd < 0)
        return -1;
    close(fd);
    unlink(pf);
    char *argv[16] = {bin, "--port-file", pf};
    int n = 3;
    for (int i = 0; extra != NULL && extra[i] != NULL && n < 15; i++)
        argv[n++] = extra[i];
    argv[n] = NULL;
    p->port = 0;
    p->pid = fork();
    if (p->pid == 0) {
        execv(bin, argv);
        _exit(127);
    }
    for (int i = 0; i < 200 && p->port == 0; i++) {
        FILE *fp = fopen(pf, "r");
        if (fp != NULL) {
            if (fscanf(fp, "%d", &p->port) != 1)
                p->port = 0;
            fclose(fp);
        }
        if (p->port == 0)
            usleep(50000);
    }
    unlink(pf);
    return p->port > 0 ? 0 : -1;
}

static inline void peer_stop(struct peer *p)
{
    if (p->pid > 0) {
        kill(p->pid, SIGTERM);
        waitpid(p->pid, NULL, 0);
        p->pid = 0;
    }
}

/* The test server of a group of cases, started by its setup and stopped by its
 * teardown, and the base URL it answers on. */
static struct peer testd __attribute__((unused));
static char base[64] __attribute__((unused));

static inline int start_testd(void **state)
{
    (void)state;
    if (peer_start(&testd, NULL) < 0)
        return -1;
    snprintf(base, sizeof base, "http://127.0.0.1:%d", testd.port);
    return 0;
}

static inline int stop_testd(void **state)
{
    (void)state;
    peer_stop(&testd);
    return 0;
}

/* base + path, in one of eight rotating buffers (a case may hold a few at once). */
static inline const char *url(const char *path)
{
    static char buf[8][256];
    static int next;
    char *b = buf[next++ % 8];
    snprintf(b, 256, "%s%s", base, path);
    return b;
}

#endif
