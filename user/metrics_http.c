/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The endpoint of metrics_http.h. The listening socket is made here, not
 * by libmicrohttpd, so that a bind failure says which address and why;
 * libmicrohttpd then serves it with its one internal polling thread, so
 * scrapes are answered one at a time and never race each other's reads.
 */
#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <microhttpd.h>
#include "log.h"
#include "metrics.h"
#include "metrics_http.h"

#define NOT_FOUND "not found: the metrics are at /metrics\n"
#define NOT_ALLOWED "method not allowed: GET or HEAD /metrics\n"

struct mxg_metrics_http {
	struct MHD_Daemon *mhd;
	const struct mxg_maps *maps;
};

static void log_mhd(void *cls, const char *fmt, va_list ap)
{
	char msg[512];
	size_t n;

	vsnprintf(msg, sizeof(msg), fmt, ap);
	n = strlen(msg);
	if (n && msg[n - 1] == '\n')
		msg[n - 1] = '\0';
	mxg_err("metrics: %s", msg);
}

static enum MHD_Result reply(struct MHD_Connection *c, unsigned status,
			     const char *type, void *body, size_t len,
			     enum MHD_ResponseMemoryMode mode)
{
	struct MHD_Response *r;
	enum MHD_Result ret;

	r = MHD_create_response_from_buffer(len, body, mode);
	if (!r) {
		if (mode == MHD_RESPMEM_MUST_FREE)
			free(body);
		return MHD_NO;
	}
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
	if (status == MHD_HTTP_METHOD_NOT_ALLOWED)
		MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
	ret = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result answer(void *cls, struct MHD_Connection *c,
			      const char *url, const char *method,
			      const char *version, const char *upload_data,
			      size_t *upload_data_size, void **con_cls)
{
	struct mxg_metrics_http *h = cls;
	char err[512], *text;
	size_t len;
	int ret;

	if (strcmp(method, MHD_HTTP_METHOD_GET) &&
	    strcmp(method, MHD_HTTP_METHOD_HEAD))
		return reply(c, MHD_HTTP_METHOD_NOT_ALLOWED, "text/plain",
			     NOT_ALLOWED, strlen(NOT_ALLOWED),
			     MHD_RESPMEM_PERSISTENT);
	if (strcmp(url, "/metrics"))
		return reply(c, MHD_HTTP_NOT_FOUND, "text/plain", NOT_FOUND,
			     strlen(NOT_FOUND), MHD_RESPMEM_PERSISTENT);
	ret = mxg_metrics_collect(h->maps, &text, &len, err, sizeof(err));
	if (ret) {
		size_t n = strlen(err);

		/* One line, the reason; the scraper marks the target down. */
		if (n + 1 < sizeof(err)) {
			err[n++] = '\n';
			err[n] = '\0';
		}
		return reply(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "text/plain",
			     err, n, MHD_RESPMEM_MUST_COPY);
	}
	return reply(c, MHD_HTTP_OK, MXG_METRICS_CONTENT_TYPE, text, len,
		     MHD_RESPMEM_MUST_FREE);
}

static int listen_on(const struct mxg_metrics_config *mc, char *err,
		     size_t errlen)
{
	struct sockaddr_in6 sa6 = { .sin6_family = AF_INET6 };
	struct sockaddr_in sa4 = { .sin_family = AF_INET };
	const struct mxg_listen_addr *a = &mc->addr;
	int fd, one = 1, ret;

	fd = socket(a->is_v4 ? AF_INET : AF_INET6,
		    SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		goto fail;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (a->is_v4) {
		memcpy(&sa4.sin_addr, a->addr + 12, 4);
		sa4.sin_port = htons(a->port);
		ret = bind(fd, (struct sockaddr *)&sa4, sizeof(sa4));
	} else {
		/* [::]:PORT means IPv6 only: say 0.0.0.0 for IPv4. */
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
		memcpy(&sa6.sin6_addr, a->addr, 16);
		sa6.sin6_port = htons(a->port);
		ret = bind(fd, (struct sockaddr *)&sa6, sizeof(sa6));
	}
	if (ret || listen(fd, MXG_METRICS_MAX_CONNS))
		goto fail;
	return fd;
fail:
	ret = -errno;
	snprintf(err, errlen, "[metrics] cannot listen on %s: %s", mc->listen,
		 strerror(errno));
	if (fd >= 0)
		close(fd);
	return ret;
}

int mxg_metrics_http_start(struct mxg_metrics_http **out,
			   const struct mxg_metrics_config *mc,
			   const struct mxg_maps *maps, char *err,
			   size_t errlen)
{
	struct mxg_metrics_http *h;
	int fd;

	*out = NULL;
	h = calloc(1, sizeof(*h));
	if (!h) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	h->maps = maps;
	fd = listen_on(mc, err, errlen);
	if (fd < 0) {
		free(h);
		return fd;
	}
	h->mhd = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD |
				  MHD_USE_AUTO | MHD_USE_ERROR_LOG |
				  (mc->addr.is_v4 ? 0 : MHD_USE_IPv6),
				  0, NULL, NULL, answer, h,
				  MHD_OPTION_LISTEN_SOCKET, (MHD_socket)fd,
				  MHD_OPTION_CONNECTION_LIMIT,
				  (unsigned)MXG_METRICS_MAX_CONNS,
				  MHD_OPTION_PER_IP_CONNECTION_LIMIT,
				  (unsigned)MXG_METRICS_MAX_PER_IP,
				  MHD_OPTION_CONNECTION_TIMEOUT,
				  (unsigned)MXG_METRICS_TIMEOUT_S,
				  MHD_OPTION_CONNECTION_MEMORY_LIMIT,
				  (size_t)(32 * 1024),
				  MHD_OPTION_EXTERNAL_LOGGER, log_mhd, NULL,
				  MHD_OPTION_END);
	if (!h->mhd) {
		snprintf(err, errlen, "[metrics] cannot serve %s: libmicrohttpd failed to start",
			 mc->listen);
		close(fd);
		free(h);
		return -EIO;
	}
	*out = h;
	return 0;
}

void mxg_metrics_http_stop(struct mxg_metrics_http *h)
{
	if (!h)
		return;
	/* Closes the listening socket it was given too. */
	MHD_stop_daemon(h->mhd);
	free(h);
}
