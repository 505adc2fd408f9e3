/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * connflood: real TCP connections, completed handshakes, as fast as one
 * thread can open them: the flood a SYN cookie does not stop and a
 * per-source rate limit must. Up to -P connects pending at once, each
 * closed as soon as it is established, or held: to the end with -k, to
 * pile up connections on a server the way the 2013 cascade did; for -H
 * each, like a slow spammer that keeps a server's processes busy. -M caps
 * the connections held at once (the oldest closes first).
 *
 * Stops after -c attempts or -t time; prints one JSON line: attempts,
 * established, failed, most held at once, connections per second.
 */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/resource.h>
#include "loadgen.h"

#define TOOL "connflood"
#define MAX_PARALLEL 1024
#define CONNECT_TIMEOUT_NS 1000000000ULL	/* one SYN, no retransmission */

/* Held connections, oldest first: with one hold time for all, the oldest
 * is also the first to end. */
struct held {
	int fd;
	uint64_t since;
};

static void usage(FILE *f)
{
	fprintf(f,
		"usage: " TOOL " -d DST [-p PORT] [-b SRC] [-P PARALLEL] [-c COUNT] [-t DURATION]\n"
		"                 [-T TIMEOUT] [-k | -H HOLD] [-M MAX_HELD]\n"
		"  TCP connections as fast as possible; prints counts as JSON\n"
		"  -d DST       server, in 198.18.0.0/15 or 2001:db8::/32\n"
		"  -p PORT      default 25\n"
		"  -b SRC       local source address (default: the kernel's choice)\n"
		"  -P PARALLEL  connects pending at once (default 64, at most %d)\n"
		"  -c COUNT     stop after COUNT attempts (default 1000000)\n"
		"  -t DURATION  stop after DURATION (default 5s)\n"
		"  -T TIMEOUT   a connect not established by then failed (default 1s)\n"
		"  -k           keep established connections open until the end\n"
		"  -H HOLD      keep each established connection open for HOLD\n"
		"  -M MAX_HELD  with -k or -H, at most MAX_HELD open at once, the oldest\n"
		"               closed first (default: what the descriptor limit allows)\n",
		MAX_PARALLEL);
}

int main(int argc, char **argv)
{
	uint64_t port = 25, parallel = 64, count = 1000000, dur_ns = 5000000000ULL;
	uint64_t attempts = 0, established = 0, failed = 0, start, deadline, now;
	uint64_t tmo_ns = CONNECT_TIMEOUT_NS, hold_ns = 0, max_held_opt = 0;
	const char *dst_s = NULL, *src_s = NULL;
	struct pollfd pfd[MAX_PARALLEL];
	uint64_t started[MAX_PARALLEL];
	size_t npend = 0, nheld = 0, held_first = 0, max_held = 0, held_cap = 0;
	struct lg_addr dst, src;
	struct rlimit rl;
	bool keep = false;
	struct held *held = NULL;
	int opt;

	const struct lg_common common = { &port, &count, &dur_ns, LG_MAX_COUNT };

	while ((opt = getopt(argc, argv, "d:p:b:P:c:t:T:kH:M:h")) != -1) {
		switch (opt) {
		case 'd': dst_s = optarg; break;
		case 'b': src_s = optarg; break;
		case 'P':
			if (lg_opt_u64(TOOL, 'P', optarg, 1, MAX_PARALLEL, &parallel))
				return 2;
			break;
		case 'k': keep = true; break;
		case 'T':
			if (lg_opt_duration(TOOL, 'T', optarg, &tmo_ns))
				return 2;
			break;
		case 'H':
			if (lg_opt_duration(TOOL, 'H', optarg, &hold_ns))
				return 2;
			break;
		case 'M':
			if (lg_opt_u64(TOOL, 'M', optarg, 1, 1000000, &max_held_opt))
				return 2;
			break;
		case 'h': usage(stdout); return 0;
		default:
			if (lg_common_opt(TOOL, opt, optarg, &common, usage))
				return 2;
			break;
		}
	}
	if (!dst_s || optind != argc) {
		usage(stderr);
		return 2;
	}
	if (lg_check_addr(TOOL, "destination", dst_s, (uint16_t)port, &dst))
		return 2;
	if (src_s && lg_check_addr(TOOL, "source", src_s, 0, &src))
		return 2;
	if (keep && hold_ns) {
		fprintf(stderr, TOOL ": -k holds to the end, -H for a time: one or the other\n");
		return 2;
	}
	if (max_held_opt && !keep && !hold_ns) {
		fprintf(stderr, TOOL ": -M is for -k or -H\n");
		return 2;
	}
	if (hold_ns)
		keep = true;
	if (keep) {
		/* Held connections are bounded by our own descriptor limit. */
		if (getrlimit(RLIMIT_NOFILE, &rl) || rl.rlim_cur < parallel + 16) {
			fprintf(stderr, TOOL ": descriptor limit too low for -%c\n", hold_ns ? 'H' : 'k');
			return 1;
		}
		held_cap = rl.rlim_cur - parallel - 16;
		if (max_held_opt && max_held_opt < held_cap)
			held_cap = max_held_opt;
		held = calloc(held_cap, sizeof(*held));
		if (!held) {
			fprintf(stderr, TOOL ": out of memory\n");
			return 1;
		}
	}

	start = now = lg_now_ns();
	deadline = start + dur_ns;
	while (npend || (attempts < count && now < deadline)) {
		/* Refill to PARALLEL pending (while the bounds allow). */
		while (npend < parallel && attempts < count && now < deadline &&
		       (!keep || hold_ns || nheld + npend < held_cap)) {
			int fd = socket(dst.ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

			attempts++;
			if (fd < 0 ||
			    (src_s && bind(fd, (struct sockaddr *)&src.ss, src.len)) ||
			    (connect(fd, (struct sockaddr *)&dst.ss, dst.len) && errno != EINPROGRESS)) {
				failed++;
				if (fd >= 0)
					close(fd);
				continue;
			}
			pfd[npend].fd = fd;
			pfd[npend].events = POLLOUT;
			started[npend++] = now;
		}
		if (poll(pfd, npend, 10) < 0 && errno != EINTR) {
			fprintf(stderr, TOOL ": poll: %s\n", strerror(errno));
			return 1;
		}
		now = lg_now_ns();
		for (size_t i = 0; i < npend;) {
			int soerr = 0;
			socklen_t sl = sizeof(soerr);

			if (!pfd[i].revents && now - started[i] < tmo_ns) {
				i++;
				continue;
			}
			if (pfd[i].revents)
				getsockopt(pfd[i].fd, SOL_SOCKET, SO_ERROR, &soerr, &sl);
			if (pfd[i].revents && !soerr) {
				established++;
				/* -H: room for the newest by closing the oldest. */
				if (hold_ns && nheld == held_cap) {
					close(held[held_first].fd);
					held_first = (held_first + 1) % held_cap;
					nheld--;
				}
				if (keep && nheld < held_cap) {
					held[(held_first + nheld) % held_cap] =
						(struct held){ .fd = pfd[i].fd, .since = now };
					nheld++;
				} else {
					close(pfd[i].fd);
				}
			} else {
				failed++;
				close(pfd[i].fd);
			}
			pfd[i] = pfd[npend - 1];
			started[i] = started[npend - 1];
			npend--;
		}
		if (nheld > max_held)
			max_held = nheld;
		while (hold_ns && nheld && now - held[held_first].since >= hold_ns) {
			close(held[held_first].fd);
			held_first = (held_first + 1) % held_cap;
			nheld--;
		}
		/* Past the deadline nothing new starts; pending ones end by
		 * their timeout, so this loop is bounded too. */
	}
	for (size_t i = 0; i < nheld; i++)
		close(held[(held_first + i) % held_cap].fd);
	free(held);
	{
		double secs = (double)(now - start) / 1e9;

		printf("{\"tool\":\"connflood\",\"attempts\":%llu,\"established\":%llu,"
		       "\"failed\":%llu,\"max_held\":%zu,\"seconds\":%.3f,\"conns_per_s\":%.0f}\n",
		       (unsigned long long)attempts, (unsigned long long)established,
		       (unsigned long long)failed, max_held, secs,
		       secs > 0 ? (double)established / secs : 0.0);
	}
	return 0;
}
