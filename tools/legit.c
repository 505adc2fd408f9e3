/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * legit: the well-behaved client of a benchmark. Every -i milliseconds it
 * starts one TCP connection to DST:PORT (non-blocking, so a slow one never
 * delays the next: the schedule is the client's, not the server's), from
 * the -b source addresses in turn, and measures the time from connect() to
 * the handshake's completion. A connection not established within -T
 * counts as failed; -T above 1 s lets one lost SYN be retransmitted, as a
 * real client's would be, which then shows in p99.
 *
 * Stops after -c connections or -t time (plus one -T for the last ones);
 * prints one JSON line: attempts, successes, success ratio, p50/p99/max
 * connect latency in ms.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "loadgen.h"

#define TOOL "legit"
#define MAX_INFLIGHT 256	/* connections pending at once */
#define MAX_SOURCES 16

struct pending {
	int fd;
	uint64_t started;
};

static void usage(FILE *f)
{
	fprintf(f,
		"usage: " TOOL " -d DST [-p PORT] [-b SRC]... [-i MS] [-c COUNT] [-t DURATION] [-T TIMEOUT]\n"
		"  one TCP connection every MS milliseconds; prints connect latency as JSON\n"
		"  -d DST       server, in 198.18.0.0/15 or 2001:db8::/32\n"
		"  -p PORT      default 25\n"
		"  -b SRC       local source address, repeatable (up to %d, used in turn)\n"
		"  -i MS        interval between connections (default 50)\n"
		"  -c COUNT     stop after COUNT connections (default 100000)\n"
		"  -t DURATION  stop starting new ones after DURATION (default 5s)\n"
		"  -T TIMEOUT   a connection not established by then failed (default 3s)\n",
		MAX_SOURCES);
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* Nearest-rank percentile of sorted v[0..n). */
static double pct_ms(const uint64_t *v, size_t n, double p)
{
	size_t rank;

	if (!n)
		return 0;
	rank = (size_t)(p / 100.0 * (double)n + 0.999999);
	if (rank < 1)
		rank = 1;
	return (double)v[(rank > n ? n : rank) - 1] / 1e6;
}

static int start_connect(const struct lg_addr *dst, const struct lg_addr *src)
{
	int fd = socket(dst->ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -errno;
	if (src && bind(fd, (const struct sockaddr *)&src->ss, src->len)) {
		int err = -errno;

		close(fd);
		return err;
	}
	if (connect(fd, (const struct sockaddr *)&dst->ss, dst->len) && errno != EINPROGRESS) {
		int err = -errno;

		close(fd);
		return err;
	}
	return fd;
}

int main(int argc, char **argv)
{
	uint64_t port = 25, interval_ms = 50, count = 100000, dur_ns = 5000000000ULL;
	uint64_t tmo_ns = 3000000000ULL, attempts = 0, ok = 0, start, next, stop_at, now;
	struct lg_addr dst, src[MAX_SOURCES];
	const char *dst_s = NULL, *src_s[MAX_SOURCES];
	struct pending pend[MAX_INFLIGHT];
	struct pollfd pfd[MAX_INFLIGHT];
	size_t nsrc = 0, npend = 0;
	uint64_t *lat;
	int opt;

	const struct lg_common common = { &port, &count, &dur_ns, 10000000 };
	int ret;

	while ((opt = getopt(argc, argv, "d:p:b:i:c:t:T:h")) != -1) {
		switch (opt) {
		case 'd': dst_s = optarg; break;
		case 'b':
			if (nsrc == MAX_SOURCES) {
				fprintf(stderr, TOOL ": at most %d -b\n", MAX_SOURCES);
				return 2;
			}
			src_s[nsrc++] = optarg;
			break;
		case 'i':
			if (lg_opt_u64(TOOL, 'i', optarg, 1, 60000, &interval_ms))
				return 2;
			break;
		case 'T':
			if (lg_opt_duration(TOOL, 'T', optarg, &tmo_ns))
				return 2;
			break;
		case 'h': usage(stdout); return 0;
		default:
			ret = lg_common_opt(TOOL, opt, optarg, &common);
			if (ret <= 0) {
				if (!ret)
					usage(stderr);
				return 2;
			}
			break;
		}
	}
	if (!dst_s || optind != argc) {
		usage(stderr);
		return 2;
	}
	if (lg_check_addr(TOOL, "destination", dst_s, (uint16_t)port, &dst))
		return 2;
	for (size_t i = 0; i < nsrc; i++) {
		if (lg_check_addr(TOOL, "source", src_s[i], 0, &src[i]))
			return 2;
		if (src[i].v4 != dst.v4) {
			fprintf(stderr, TOOL ": source %s and destination %s differ in family\n",
				src_s[i], dst_s);
			return 2;
		}
	}
	/* No more connections than the schedule can start. */
	if (count > dur_ns / (interval_ms * 1000000ULL) + 1)
		count = dur_ns / (interval_ms * 1000000ULL) + 1;
	lat = calloc(count, sizeof(*lat));
	if (!lat) {
		fprintf(stderr, TOOL ": out of memory\n");
		return 1;
	}

	start = next = now = lg_now_ns();
	stop_at = start + dur_ns;
	/* Ends when nothing is pending and no more may start; every pending
	 * connection ends by its timeout, so this is bounded by
	 * DURATION + TIMEOUT. */
	while (npend || (attempts < count && now < stop_at)) {
		int wait_ms, r;

		if (attempts < count && now < stop_at && now >= next) {
			if (npend < MAX_INFLIGHT) {
				int fd = start_connect(&dst, nsrc ? &src[attempts % nsrc] : NULL);

				attempts++;
				if (fd >= 0) {
					pend[npend].fd = fd;
					pend[npend].started = now;
					pfd[npend].fd = fd;
					pfd[npend].events = POLLOUT;
					npend++;
				}
			} else {
				attempts++;	/* too many stuck: counts as a failure */
			}
			next += interval_ms * 1000000ULL;
		}
		wait_ms = (int)((next > now ? next - now : 0) / 1000000ULL) + 1;
		if (attempts >= count || now >= stop_at)
			wait_ms = 10;
		r = poll(pfd, npend, wait_ms);
		if (r < 0 && errno != EINTR) {
			fprintf(stderr, TOOL ": poll: %s\n", strerror(errno));
			return 1;
		}
		now = lg_now_ns();
		for (size_t i = 0; i < npend;) {
			bool done = false;

			if (pfd[i].revents) {
				int soerr = 0;
				socklen_t sl = sizeof(soerr);

				getsockopt(pend[i].fd, SOL_SOCKET, SO_ERROR, &soerr, &sl);
				if (!soerr && ok < count)
					lat[ok++] = now - pend[i].started;
				done = true;
			} else if (now - pend[i].started >= tmo_ns) {
				done = true;
			}
			if (!done) {
				i++;
				continue;
			}
			close(pend[i].fd);
			pend[i] = pend[npend - 1];
			/* The moved entry's revents are from this same poll. */
			pfd[i] = pfd[npend - 1];
			npend--;
		}
	}
	qsort(lat, ok, sizeof(*lat), cmp_u64);
	printf("{\"tool\":\"legit\",\"attempts\":%llu,\"ok\":%llu,\"success\":%.4f,"
	       "\"p50_ms\":%.3f,\"p99_ms\":%.3f,\"max_ms\":%.3f}\n",
	       (unsigned long long)attempts, (unsigned long long)ok,
	       attempts ? (double)ok / (double)attempts : 0.0, pct_ms(lat, ok, 50),
	       pct_ms(lat, ok, 99), ok ? (double)lat[ok - 1] / 1e6 : 0.0);
	free(lat);
	return 0;
}
