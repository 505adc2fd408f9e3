/* SPDX-License-Identifier: BSD-2-Clause */
/* Aggregated logging of the BPF events; see events.h. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/libbpf.h>
#include "events.h"
#include "log.h"
#include "parse.h"

#define LOG_INTERVAL_NS (10ULL * 1000000000ULL)

struct tally {
	uint64_t count;
	uint32_t unknown;		/* of the example */
	uint8_t addr[MXG_ADDR_LEN];	/* an example source */
};

struct mxg_events {
	struct ring_buffer *rb;
	struct tally penalty, drop;
	uint64_t last_log_ns;
};

static int on_event(void *ctx, void *data, size_t len)
{
	struct mxg_events *ev = ctx;
	const struct mxg_event *e = data;
	struct tally *t;

	if (len < sizeof(*e))
		return 0;
	t = e->type == MXG_EVENT_PENALTY ? &ev->penalty :
	    e->type == MXG_EVENT_DROP ? &ev->drop : NULL;
	if (!t)
		return 0;
	t->count++;
	t->unknown = e->unknown;
	memcpy(t->addr, e->addr, sizeof(t->addr));
	return 0;
}

int mxg_events_open(const struct mxg_maps *m, struct mxg_events **out)
{
	struct mxg_events *ev = calloc(1, sizeof(*ev));

	if (!ev)
		return -ENOMEM;
	ev->rb = ring_buffer__new(m->events, on_event, ev, NULL);
	if (!ev->rb) {
		int ret = -errno;

		free(ev);
		return ret;
	}
	*out = ev;
	return 0;
}

void mxg_events_close(struct mxg_events *ev)
{
	if (!ev)
		return;
	ring_buffer__free(ev->rb);
	free(ev);
}

int mxg_events_fd(const struct mxg_events *ev)
{
	return ring_buffer__epoll_fd(ev->rb);
}

/* "<prefix> N <noun> in the last 10 s (latest: ADDR, K unknown
 * recipients)". */
static void log_tally(struct tally *t, const char *prefix, const char *noun)
{
	char addr[MXG_CIDR_STRLEN];

	if (!t->count)
		return;
	mxg_format_addr(t->addr, addr, sizeof(addr));
	mxg_info("%s %llu %s in the last %llu s (latest: %s, %u unknown recipients)",
		 prefix, (unsigned long long)t->count, noun,
		 (unsigned long long)(LOG_INTERVAL_NS / 1000000000ULL), addr,
		 t->unknown);
	t->count = 0;
}

void mxg_events_poll(struct mxg_events *ev, uint64_t now_ns)
{
	ring_buffer__consume(ev->rb);
	if (now_ns - ev->last_log_ns < LOG_INTERVAL_NS)
		return;
	ev->last_log_ns = now_ns;
	log_tally(&ev->penalty, "penalty box: put", "source(s) in it");
	log_tally(&ev->drop, "dropped", "segment(s) of unknown recipients only");
}
