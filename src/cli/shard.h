/*
 * shard.h -- --shard K/N: which of N processes fetches a URL. A URL belongs to the shard
 * of its origin (salvo_url_origin), so every site's connections and politeness stay in
 * one process. The hash is FNV-1a 64 of the origin string, modulo N, plus 1: simple
 * enough that another tool can compute the same split.
 */
#ifndef SALVO_SHARD_H
#define SALVO_SHARD_H

#include <stddef.h>
#include <stdint.h>

struct shard {
    uint32_t k; /* this process's shard, 1..n */
    uint32_t n; /* the number of shards; 0: no sharding */
};

/* Parses "K/N" (1 <= K <= N <= 65536). Returns 0, or -1 with a reason in why. */
int shard_parse(struct shard *s, const char *arg, char *why, size_t whylen);

/* FNV-1a 64 of the NUL-terminated string s. */
uint64_t shard_fnv1a64(const char *s);

/* The shard (1..n) of url; a URL with no origin (it will be a bad_url record) is in
 * shard 1, as is a line with no URL at all (url NULL). */
uint32_t shard_of_url(const char *url, uint32_t n);

/* Whether s keeps url: always when there is no sharding. */
int shard_keeps(const struct shard *s, const char *url);

#endif
