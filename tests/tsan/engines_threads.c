/*
 * engines_threads.c -- the documented threading model under ThreadSanitizer: one engine
 * per thread, several threads at once, each on a small stack.
 *
 * Four threads, each created with a 128 KiB stack (what a thread pool of a server
 * application may give its workers, far below glibc's 8 MiB default), each run its own
 * engine over 200 URLs of the test server, bodies up to 100 KB (more than one of
 * the engine's reads). Over https each engine builds its own TLS context and the four
 * handshake at once, so OpenSSL's own start-up and any state salvo keeps around it are
 * exercised from four threads together. Nothing is shared between the engines, so
 * TSan must report nothing (it would find shared state the library keeps behind the
 * caller's back: a static buffer, a lazily initialised table, OpenSSL or c-ares set up
 * twice), and every URL must come back in its own thread's callback, answered.
 *
 * Usage: engines_threads BASE_URL [CA_FILE], BASE_URL as http://127.0.0.1:PORT or
 * https://127.0.0.1:PORT (then CA_FILE is the CA that signed the server's certificate).
 * Exits 0 when every result arrived ok.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <salvo.h>

#define THREADS    4
#define URLS       200
#define STACK_SIZE (128 * 1024)

struct worker {
    int id;
    const char *base_url; /* scheme://host:port */
    const char *cacert;   /* NULL: the system's CAs */
    pthread_t thread;
    int done, ok;   /* results seen; results answered 200 */
    int seen[URLS]; /* each index comes back once */
    char err[256];
};

static void on_done(const salvo_result_t *r, void *user)
{
    struct worker *w = user;

    w->done++;
    if (r->index < URLS)
        w->seen[r->index]++;
    if (r->error == SALVO_E_OK && r->status == 200)
        w->ok++;
}

static void *run_worker(void *arg)
{
    struct worker *w = arg;
    salvo_config_t cfg;
    salvo_t *engine;
    char url[128];
    int i;

    salvo_config_init(&cfg);
    cfg.concurrency = 20;
    cfg.cacert = w->cacert;
    if (salvo_new(&engine, &cfg, w->err, sizeof w->err, NULL, 0) < 0)
        return NULL;
    for (i = 0; i < URLS; i++) {
        snprintf(url, sizeof url, "%s/size/%d?thread=%d", w->base_url, 100 + i * 500, w->id);
        if (salvo_submit(engine, url, (uint64_t)i, NULL, on_done, w) < 0) {
            snprintf(w->err, sizeof w->err, "submit: %s", salvo_last_error(engine));
            salvo_free(engine);
            return NULL;
        }
    }
    if (salvo_run(engine) < 0)
        snprintf(w->err, sizeof w->err, "run: %s", salvo_last_error(engine));
    salvo_free(engine);
    return NULL;
}

int main(int argc, char **argv)
{
    struct worker workers[THREADS];
    pthread_attr_t attr;
    int i, j, failed = 0;

    if (argc != 2 && argc != 3) {
        fprintf(stderr, "usage: engines_threads BASE_URL [CA_FILE]\n");
        return 2;
    }
    memset(workers, 0, sizeof workers);
    pthread_attr_init(&attr);
    if (pthread_attr_setstacksize(&attr, STACK_SIZE) != 0) {
        fprintf(stderr, "engines_threads: cannot set a %d-byte stack\n", STACK_SIZE);
        return 1;
    }
    for (i = 0; i < THREADS; i++) {
        workers[i].id = i;
        workers[i].base_url = argv[1];
        workers[i].cacert = argc == 3 ? argv[2] : NULL;
        if (pthread_create(&workers[i].thread, &attr, run_worker, &workers[i]) != 0) {
            fprintf(stderr, "engines_threads: pthread_create failed\n");
            return 1;
        }
    }
    for (i = 0; i < THREADS; i++)
        pthread_join(workers[i].thread, NULL);
    pthread_attr_destroy(&attr);

    for (i = 0; i < THREADS; i++) {
        struct worker *w = &workers[i];
        int once = 1;
        for (j = 0; j < URLS; j++)
            once &= w->seen[j] == 1;
        printf("thread %d: %d results, %d ok%s%s\n", i, w->done, w->ok,
               once ? "" : ", an index missing or repeated", w->err[0] ? ", " : "");
        if (w->err[0])
            printf("  %s\n", w->err);
        if (w->done != URLS || w->ok != URLS || !once || w->err[0])
            failed = 1;
    }
    return failed;
}
