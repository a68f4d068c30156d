/*
 * blocking.h -- the blocking baseline (salvo_config_t.blocking, --blocking): the same
 * requests and records as the engine, one URL at a time on blocking sockets, as a
 * simple script does it. A driver beside drive.c, over the same request core.
 */
#ifndef SALVO_BLOCKING_H
#define SALVO_BLOCKING_H

#include "engine.h"

/* Runs every submitted request (and the feed's) to its end, one at a time, delivering
 * each result as it completes. Returns 0. */
int blocking_run(struct salvo *eng);

#endif
