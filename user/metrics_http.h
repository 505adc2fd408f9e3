/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * mxguardd's Prometheus endpoint ([metrics] listen): GET or HEAD
 * /metrics answers the document of metrics.h, rendered per request from
 * the pinned maps (the same as `mxguardctl metrics`); any other path is
 * 404 and any other method 405. Served by libmicrohttpd on its own
 * thread, with bounded connections and timeouts; a scrape that cannot
 * read a map is a 500 with the reason on one line, never a partial
 * document.
 */
#ifndef MXG_METRICS_HTTP_H
#define MXG_METRICS_HTTP_H

#include <stddef.h>
#include "config.h"
#include "maps.h"

/* Connections at once, all clients together and from one address, and
 * how long an idle one is kept: a scraper needs one, a few more leave
 * room for a person with curl. */
#define MXG_METRICS_MAX_CONNS 16
#define MXG_METRICS_MAX_PER_IP 4
#define MXG_METRICS_TIMEOUT_S 10

struct mxg_metrics_http;

/* Listen on mc->addr and start the thread. 0, or -errno with err saying
 * why ("cannot listen on 127.0.0.1:9910: Address already in use"). */
int mxg_metrics_http_start(struct mxg_metrics_http **out,
			   const struct mxg_metrics_config *mc,
			   const struct mxg_maps *maps, char *err,
			   size_t errlen);

/* Stop the thread and close the socket. NULL is fine. */
void mxg_metrics_http_stop(struct mxg_metrics_http *h);

#endif
