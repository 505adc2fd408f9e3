/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * smtpflood: SMTP backscatter as a mail host receives it: many concurrent
 * sessions, each HELO, MAIL FROM:<> (a bounce) and RCPT TO random local
 * parts of one domain, which the server can only judge by looking every
 * recipient up (in 2013: in the directory, one search each). Each reply
 * is read before the next command (no pipelining), so every session waits
 * on the server as a real bounce sender does.
 *
 * Stops after -c sessions or -t time (sessions still open then are given
 * -T to finish); prints one JSON line: sessions, completed, refused
 * before RCPT, failed (connect, timeout, I/O), recipients accepted (2xx),
 * deferred (4xx), rejected (5xx).
 */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "loadgen.h"

#define TOOL "smtpflood"
#define MAX_PARALLEL 1024
#define MAX_RCPTS 100
#define LINE_MAX_LEN 1024

enum state { CONNECTING, BANNER, HELO, MAIL, RCPT, QUIT };

struct session {
	int fd;
	enum state st;
	unsigned rcpts_left;
	uint64_t started;
	size_t len;
	char buf[LINE_MAX_LEN];
};

struct totals {
	uint64_t sessions, completed, refused, failed, rcpt_ok, rcpt_temp, rcpt_perm;
};

struct opts {
	struct lg_addr dst;
	const char *domain;
	unsigned rcpts;
	uint64_t rng;
};

static void usage(FILE *f)
{
	fprintf(f,
		"usage: " TOOL " -d DST -D DOMAIN [-p PORT] [-P PARALLEL] [-n RCPTS] [-c COUNT]\n"
		"                 [-t DURATION] [-T TIMEOUT]\n"
		"  concurrent SMTP sessions of MAIL FROM:<> to random recipients of DOMAIN\n"
		"  -d DST       server, in 198.18.0.0/15 or 2001:db8::/32\n"
		"  -D DOMAIN    recipient domain (the server's local domain)\n"
		"  -p PORT      default 25\n"
		"  -P PARALLEL  sessions open at once (default 50, at most %d)\n"
		"  -n RCPTS     recipients per session (default 1, at most %d)\n"
		"  -c COUNT     stop after COUNT sessions (default 1000)\n"
		"  -t DURATION  start no session after DURATION (default 10s)\n"
		"  -T TIMEOUT   a session not finished by then failed (default 10s)\n",
		MAX_PARALLEL, MAX_RCPTS);
}

static int send_line(struct session *s, const char *line)
{
	size_t len = strlen(line);

	/* A command is far below the socket buffer: one send, or failure. */
	return send(s->fd, line, len, MSG_NOSIGNAL) == (ssize_t)len ? 0 : -EIO;
}

static int send_rcpt(struct session *s, struct opts *o)
{
	char line[300];

	snprintf(line, sizeof(line), "RCPT TO:<u%010llx@%s>\r\n",
		 (unsigned long long)(lg_rand(&o->rng) >> 24), o->domain);
	return send_line(s, line);
}

/* A complete reply's code, or 0 when its last line has not arrived yet. */
static int take_reply(struct session *s)
{
	return lg_smtp_take_reply(s->buf, &s->len, NULL, 0);
}

/* Advance one session on a reply; -1 when the session is over. */
static int on_reply(struct session *s, int code, struct opts *o, struct totals *t)
{
	switch (s->st) {
	case BANNER:
		if (code != 220)
			break;
		s->st = HELO;
		return send_line(s, "HELO flood.lab.example\r\n") ? -1 : 0;
	case HELO:
		if (code / 100 != 2)
			break;
		s->st = MAIL;
		return send_line(s, "MAIL FROM:<>\r\n") ? -1 : 0;
	case MAIL:
		if (code / 100 != 2)
			break;
		s->st = RCPT;
		return send_rcpt(s, o) ? -1 : 0;
	case RCPT:
		if (code / 100 == 2)
			t->rcpt_ok++;
		else if (code / 100 == 4)
			t->rcpt_temp++;
		else
			t->rcpt_perm++;
		if (--s->rcpts_left)
			return send_rcpt(s, o) ? -1 : 0;
		s->st = QUIT;
		return send_line(s, "QUIT\r\n") ? -1 : 0;
	case QUIT:
		t->completed++;
		return -1;
	case CONNECTING:
		break;
	}
	/* Refused before the recipients: say goodbye, count it, close. */
	send_line(s, "QUIT\r\n");
	t->refused++;
	return -1;
}

/* Read what arrived; -1 when the session is over. */
static int on_readable(struct session *s, struct opts *o, struct totals *t)
{
	ssize_t n = recv(s->fd, s->buf + s->len, sizeof(s->buf) - s->len, 0);
	int code;

	if (n <= 0) {
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return 0;
		if (s->st == QUIT)	/* closed after QUIT without 221: fine */
			t->completed++;
		else
			t->failed++;
		return -1;
	}
	s->len += (size_t)n;
	while ((code = take_reply(s)))
		if (on_reply(s, code, o, t))
			return -1;
	if (s->len == sizeof(s->buf)) {	/* a line longer than any reply */
		t->failed++;
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	uint64_t port = 25, parallel = 50, count = 1000, rcpts = 1, dur_ns = 10000000000ULL;
	uint64_t tmo_ns = 10000000000ULL, start, deadline, now;
	static struct session sess[MAX_PARALLEL];
	struct pollfd pfd[MAX_PARALLEL];
	struct opts o = { .domain = NULL };
	struct totals t = { 0 };
	const char *dst_s = NULL;
	size_t nopen = 0;
	int opt;

	const struct lg_common common = { &port, &count, &dur_ns, LG_MAX_COUNT };

	while ((opt = getopt(argc, argv, "d:D:p:P:n:c:t:T:h")) != -1) {
		switch (opt) {
		case 'd': dst_s = optarg; break;
		case 'D': o.domain = optarg; break;
		case 'P':
			if (lg_opt_u64(TOOL, 'P', optarg, 1, MAX_PARALLEL, &parallel))
				return 2;
			break;
		case 'n':
			if (lg_opt_u64(TOOL, 'n', optarg, 1, MAX_RCPTS, &rcpts))
				return 2;
			break;
		case 'T':
			if (lg_opt_duration(TOOL, 'T', optarg, &tmo_ns))
				return 2;
			break;
		case 'h': usage(stdout); return 0;
		default:
			if (lg_common_opt(TOOL, opt, optarg, &common, usage))
				return 2;
			break;
		}
	}
	if (!dst_s || !o.domain || optind != argc) {
		usage(stderr);
		return 2;
	}
	if (!*o.domain || strlen(o.domain) > 253 || strpbrk(o.domain, "<>@ \r\n")) {
		fprintf(stderr, TOOL ": -D '%s' is not a domain\n", o.domain);
		return 2;
	}
	if (lg_check_addr(TOOL, "destination", dst_s, (uint16_t)port, &o.dst))
		return 2;
	o.rcpts = (unsigned)rcpts;
	o.rng = lg_seed();

	start = now = lg_now_ns();
	deadline = start + dur_ns;
	while (nopen || (t.sessions < count && now < deadline)) {
		while (nopen < parallel && t.sessions < count && now < deadline) {
			struct session *s = &sess[nopen];
			int fd = socket(o.dst.ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

			t.sessions++;
			if (fd < 0 || (connect(fd, (struct sockaddr *)&o.dst.ss, o.dst.len) &&
				       errno != EINPROGRESS)) {
				t.failed++;
				if (fd >= 0)
					close(fd);
				continue;
			}
			*s = (struct session){ .fd = fd, .st = CONNECTING, .rcpts_left = o.rcpts,
					       .started = now };
			pfd[nopen] = (struct pollfd){ .fd = fd, .events = POLLOUT };
			nopen++;
		}
		if (poll(pfd, nopen, 10) < 0 && errno != EINTR) {
			fprintf(stderr, TOOL ": poll: %s\n", strerror(errno));
			return 1;
		}
		now = lg_now_ns();
		for (size_t i = 0; i < nopen;) {
			struct session *s = &sess[i];
			int over = 0;

			if (pfd[i].revents && s->st == CONNECTING) {
				int soerr = 0;
				socklen_t sl = sizeof(soerr);

				getsockopt(s->fd, SOL_SOCKET, SO_ERROR, &soerr, &sl);
				if (soerr) {
					t.failed++;
					over = 1;
				} else {
					s->st = BANNER;
					pfd[i].events = POLLIN;
				}
			} else if (pfd[i].revents) {
				over = on_readable(s, &o, &t);
			}
			if (!over && now - s->started >= tmo_ns) {
				t.failed++;
				over = 1;
			}
			if (!over) {
				i++;
				continue;
			}
			close(s->fd);
			sess[i] = sess[nopen - 1];
			pfd[i] = pfd[nopen - 1];
			nopen--;
		}
	}
	printf("{\"tool\":\"smtpflood\",\"sessions\":%llu,\"completed\":%llu,\"refused\":%llu,"
	       "\"failed\":%llu,\"rcpt_ok\":%llu,\"rcpt_temp\":%llu,\"rcpt_perm\":%llu,"
	       "\"seconds\":%.3f}\n",
	       (unsigned long long)t.sessions, (unsigned long long)t.completed,
	       (unsigned long long)t.refused, (unsigned long long)t.failed,
	       (unsigned long long)t.rcpt_ok, (unsigned long long)t.rcpt_temp,
	       (unsigned long long)t.rcpt_perm, (double)(now - start) / 1e9);
	return 0;
}
