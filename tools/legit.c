/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * legit: the well-behaved client of a benchmark or of the demo. Every -i
 * milliseconds it starts one TCP connection to DST:PORT (non-blocking, so
 * a slow one never delays the next: the schedule is the client's, not the
 * server's), from the -b source addresses in turn, and measures the time
 * from connect() to the handshake's completion. A connection not
 * established within -T counts as failed; -T above 1 s lets one lost SYN
 * be retransmitted, as a real client's would be, which then shows in p99.
 * With -n, each connection comes from the next of COUNT consecutive
 * sources after the one -b address: a sender the server has never seen,
 * every time (the addresses must be local, e.g. through a `local` route
 * for their prefix on lo).
 *
 * With -s each connection carries one mail, as an MTA delivering it would
 * (no pipelining, every reply read whole, multi-line ones included):
 * EHLO, MAIL FROM, RCPT TO (the -r recipients in turn), DATA, a small
 * body, ".", QUIT. The transaction's latency runs from connect() to the
 * 250 after the dot; a 4xx or 5xx reply at any step fails it and its code
 * is counted; no 250 within -T (from connect()) fails it as a timeout.
 *
 * Stops after -c connections or -t time (plus one -T for the last ones);
 * prints one JSON line: attempts, successes, success ratio, p50/p99/max
 * connect latency in ms of the connections established, and p50/p99 of
 * every attempt, a failed one ranking after all that succeeded (null when
 * more than 50% or 1% failed); with -s also an "smtp" object: transactions
 * delivered, success, p50/p99/max transaction latency, the failures by
 * cause and reply code, and the queue ids the server gave (Postfix's
 * "queued as"), so that a caller can follow each mail into the server's
 * log.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "json.h"
#include "loadgen.h"

#define TOOL "legit"
#define MAX_INFLIGHT 256	/* connections pending at once */
#define MAX_SOURCES 16
#define MAX_RCPTS 16
#define MAX_QUEUE_IDS 1024	/* queue ids kept for the JSON line */
#define QUEUE_ID_MAX 32
#define REPLY_BUF 1024		/* longer than any reply line a server sends */
#define ADDR_MAX 254		/* RFC 5321 path limit, without the brackets */

enum step { CONNECTING, BANNER, EHLO, MAIL, RCPT, DATA, DOT, QUIT };

static const char *const step_names[] = {
	[CONNECTING] = "connect", [BANNER] = "banner", [EHLO] = "ehlo", [MAIL] = "mail",
	[RCPT] = "rcpt", [DATA] = "data", [DOT] = "dot", [QUIT] = "quit",
};

struct pending {
	int fd;
	enum step st;
	uint64_t started;
	uint64_t seq;		/* which transaction: picks the recipient */
	size_t len;
	char buf[REPLY_BUF];
};

struct smtp_opts {
	bool on;
	const char *from, *helo;
	const char *rcpt[MAX_RCPTS];
	size_t nrcpt;
};

/* What -s counts beside the connect figures. */
struct smtp_totals {
	uint64_t ok, connect_failed, timeout, closed, bad_reply;
	uint64_t code[200];		/* failures by reply code 400..599 */
	uint64_t *lat;
	size_t nqid;
	char qid[MAX_QUEUE_IDS][QUEUE_ID_MAX];
	char first_error[200];		/* step and reply of the first failure */
};

static void usage(FILE *f)
{
	fprintf(f,
		"usage: " TOOL " -d DST [-p PORT] [-b SRC]... [-n COUNT] [-i MS] [-c COUNT] [-t DURATION]\n"
		"             [-T TIMEOUT] [-s -r RCPT... [-f FROM] [-H NAME]]\n"
		"  one TCP connection every MS milliseconds; prints connect latency as JSON\n"
		"  -d DST       server, in 198.18.0.0/15 or 2001:db8::/32\n"
		"  -p PORT      default 25\n"
		"  -b SRC       local source address, repeatable (up to %d, used in turn)\n"
		"  -n COUNT     with one -b SRC: each connection from the next of COUNT sources\n"
		"               from SRC (IPv4: SRC + i; IPv6: one /64 each), a first-time sender\n"
		"               every time until they wrap; they must be local addresses\n"
		"  -i MS        interval between connections (default 50)\n"
		"  -c COUNT     stop after COUNT connections (default 100000)\n"
		"  -t DURATION  stop starting new ones after DURATION (default 5s)\n"
		"  -T TIMEOUT   a connection not established by then failed (default 3s);\n"
		"               with -s, a transaction without its final 250 by then (default 30s)\n"
		"  -s           one SMTP transaction per connection: EHLO, MAIL, RCPT, DATA, QUIT;\n"
		"               also prints its latency (connect to the 250 after the dot)\n"
		"  -r RCPT      recipient, repeatable (up to %d, one per transaction, in turn)\n"
		"  -f FROM      envelope sender (default legit@client.example; '' for <>)\n"
		"  -H NAME      EHLO name (default client.example)\n",
		MAX_SOURCES, MAX_RCPTS);
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* The nearest rank (1..n) of percentile p among n > 0 values. */
static size_t pct_rank(size_t n, double p)
{
	size_t rank = (size_t)(p / 100.0 * (double)n + 0.999999);

	return rank < 1 ? 1 : rank > n ? n : rank;
}

/* Nearest-rank percentile of sorted v[0..n). */
static double pct_ms(const uint64_t *v, size_t n, double p)
{
	return n ? (double)v[pct_rank(n, p) - 1] / 1e6 : 0;
}

/* The same among all attempts, the ok ones' latencies sorted in v and the
 * failed ones ranked after them: null when the rank falls on a failure,
 * which took longer than any time this run could give. */
static void json_pct_of_attempts(struct json *j, const uint64_t *v, size_t ok,
				 uint64_t attempts, double p)
{
	size_t rank = attempts ? pct_rank(attempts, p) : 0;

	if (rank && rank <= ok)
		json_double(j, (double)v[rank - 1] / 1e6);
	else
		json_null(j);
}

/* The source of connection number seq: the -b addresses in turn, or with
 * -n the next fresh one, built in *fresh (main checked that the last one
 * is still in the lab). NULL: the kernel picks. */
static const struct lg_addr *source_of(const struct lg_addr *src, size_t nsrc, uint64_t nfresh,
				       uint64_t seq, struct lg_addr *fresh)
{
	if (!nsrc)
		return NULL;
	if (!nfresh)
		return &src[seq % nsrc];
	*fresh = src[0];
	lg_source_nth(src[0].a16, src[0].v4, seq % nfresh, fresh->a16);
	lg_addr_set(fresh, 0);
	return fresh;
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

/* An address for MAIL FROM / RCPT TO: no brackets, blanks or line ends
 * (they would break the command), at most ADDR_MAX bytes. */
static bool valid_path(const char *s, bool empty_ok)
{
	return (empty_ok || *s) && strlen(s) <= ADDR_MAX && !strpbrk(s, "<> \t\r\n");
}

/* Commands and the body are far below the socket buffer: one send each,
 * or the transaction fails. */
static int send_str(int fd, const char *s)
{
	size_t len = strlen(s);

	return send(fd, s, len, MSG_NOSIGNAL) == (ssize_t)len ? 0 : -EIO;
}

/* Postfix's "250 2.0.0 Ok: queued as 4Xyz..."; other servers say it
 * otherwise, and then no id is kept. */
static void keep_queue_id(struct smtp_totals *t, const char *reply)
{
	const char *p = strstr(reply, "queued as ");
	size_t n;

	if (!p || t->nqid == MAX_QUEUE_IDS)
		return;
	p += strlen("queued as ");
	n = strspn(p, "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz");
	if (!n || n >= QUEUE_ID_MAX)
		return;
	memcpy(t->qid[t->nqid], p, n);
	t->qid[t->nqid++][n] = '\0';
}

static void note_failure(struct smtp_totals *t, struct pending *p, const char *what)
{
	if (!t->first_error[0])
		snprintf(t->first_error, sizeof(t->first_error), "%s: %s",
			 step_names[p->st], what);
}

/* Advance one transaction on a complete reply; -1 when it is over (the
 * socket then closes). */
static int on_reply(struct pending *p, int code, const char *line, const struct smtp_opts *o,
		    struct smtp_totals *t, uint64_t now)
{
	char cmd[ADDR_MAX + 32];
	bool good;

	switch (p->st) {
	case DATA:
		good = code == 354;
		break;
	case QUIT:
		return -1;	/* 221 or not: the mail was already taken */
	default:
		good = code / 100 == 2;
		break;
	}
	if (!good) {
		if (code >= 400 && code <= 599)
			t->code[code - 400]++;
		else
			t->bad_reply++;
		note_failure(t, p, line);
		send_str(p->fd, "QUIT\r\n");
		return -1;
	}
	switch (p->st) {
	case BANNER:
		snprintf(cmd, sizeof(cmd), "EHLO %s\r\n", o->helo);
		p->st = EHLO;
		break;
	case EHLO:
		snprintf(cmd, sizeof(cmd), "MAIL FROM:<%s>\r\n", o->from);
		p->st = MAIL;
		break;
	case MAIL:
		snprintf(cmd, sizeof(cmd), "RCPT TO:<%s>\r\n", o->rcpt[p->seq % o->nrcpt]);
		p->st = RCPT;
		break;
	case RCPT:
		snprintf(cmd, sizeof(cmd), "DATA\r\n");
		p->st = DATA;
		break;
	case DATA: {
		char body[2 * ADDR_MAX + 256];

		/* A line starting with "." would need dot-stuffing: none does. */
		snprintf(body, sizeof(body),
			 "From: <%s>\r\nTo: <%s>\r\nSubject: legit %llu\r\n\r\n"
			 "One legitimate mail, transaction %llu.\r\n.\r\n",
			 o->from, o->rcpt[p->seq % o->nrcpt], (unsigned long long)p->seq,
			 (unsigned long long)p->seq);
		p->st = DOT;
		if (send_str(p->fd, body)) {
			t->closed++;
			note_failure(t, p, "send failed");
			return -1;
		}
		return 0;
	}
	case DOT:
		t->lat[t->ok++] = now - p->started;
		keep_queue_id(t, line);
		snprintf(cmd, sizeof(cmd), "QUIT\r\n");
		p->st = QUIT;
		break;
	default:
		return -1;
	}
	if (send_str(p->fd, cmd)) {
		if (p->st != QUIT) {
			t->closed++;
			note_failure(t, p, "send failed");
		}
		return -1;
	}
	return 0;
}

/* Read what arrived; -1 when the transaction is over. */
static int on_readable(struct pending *p, const struct smtp_opts *o, struct smtp_totals *t,
		       uint64_t now)
{
	ssize_t n = recv(p->fd, p->buf + p->len, sizeof(p->buf) - p->len, 0);
	char line[160];
	int code;

	if (n <= 0) {
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return 0;
		if (p->st != QUIT) {	/* after the 250: fine */
			t->closed++;
			note_failure(t, p, n ? strerror(errno) : "connection closed");
		}
		return -1;
	}
	p->len += (size_t)n;
	while ((code = lg_smtp_take_reply(p->buf, &p->len, line, sizeof(line))))
		if (on_reply(p, code, line, o, t, now))
			return -1;
	if (p->len == sizeof(p->buf)) {	/* a line longer than any reply */
		t->bad_reply++;
		note_failure(t, p, "reply line too long");
		return -1;
	}
	return 0;
}

static void print_json(uint64_t attempts, uint64_t ok, const uint64_t *lat,
		       const struct smtp_opts *o, struct smtp_totals *t)
{
	struct json j;
	char code[8];

	json_init(&j, stdout);
	json_begin_object(&j);
	json_kv_string(&j, "tool", TOOL);
	json_kv_u64(&j, "attempts", attempts);
	json_kv_u64(&j, "ok", ok);
	json_key(&j, "success");
	json_double(&j, attempts ? (double)ok / (double)attempts : 0.0);
	json_key(&j, "p50_ms");
	json_double(&j, pct_ms(lat, ok, 50));
	json_key(&j, "p99_ms");
	json_double(&j, pct_ms(lat, ok, 99));
	json_key(&j, "max_ms");
	json_double(&j, ok ? (double)lat[ok - 1] / 1e6 : 0.0);
	json_key(&j, "p50_all_ms");
	json_pct_of_attempts(&j, lat, ok, attempts, 50);
	json_key(&j, "p99_all_ms");
	json_pct_of_attempts(&j, lat, ok, attempts, 99);
	if (o->on) {
		json_key(&j, "smtp");
		json_begin_object(&j);
		json_kv_u64(&j, "transactions", attempts);
		json_kv_u64(&j, "ok", t->ok);
		json_key(&j, "success");
		json_double(&j, attempts ? (double)t->ok / (double)attempts : 0.0);
		json_key(&j, "p50_ms");
		json_double(&j, pct_ms(t->lat, t->ok, 50));
		json_key(&j, "p99_ms");
		json_double(&j, pct_ms(t->lat, t->ok, 99));
		json_key(&j, "max_ms");
		json_double(&j, t->ok ? (double)t->lat[t->ok - 1] / 1e6 : 0.0);
		json_key(&j, "failed");
		json_begin_object(&j);
		json_kv_u64(&j, "connect", t->connect_failed);
		json_kv_u64(&j, "timeout", t->timeout);
		json_kv_u64(&j, "closed", t->closed);
		json_kv_u64(&j, "bad_reply", t->bad_reply);
		json_key(&j, "codes");
		json_begin_object(&j);
		for (int c = 0; c < 200; c++) {
			if (!t->code[c])
				continue;
			snprintf(code, sizeof(code), "%d", c + 400);
			json_kv_u64(&j, code, t->code[c]);
		}
		json_end_object(&j);
		json_end_object(&j);
		if (t->first_error[0])
			json_kv_string(&j, "first_error", t->first_error);
		json_key(&j, "queue_ids");
		json_begin_array(&j);
		for (size_t i = 0; i < t->nqid; i++)
			json_string(&j, t->qid[i]);
		json_end_array(&j);
		json_end_object(&j);
	}
	json_end_object(&j);
	json_finish(&j);
}

int main(int argc, char **argv)
{
	uint64_t port = 25, interval_ms = 50, count = 100000, dur_ns = 5000000000ULL;
	uint64_t tmo_ns = 0, attempts = 0, ok = 0, start, next, stop_at, now;
	struct smtp_opts o = { .from = "legit@client.example", .helo = "client.example" };
	static struct smtp_totals t;
	static struct pending pend[MAX_INFLIGHT];
	struct lg_addr dst, src[MAX_SOURCES], fresh;
	const char *dst_s = NULL, *src_s[MAX_SOURCES];
	struct pollfd pfd[MAX_INFLIGHT];
	size_t nsrc = 0, npend = 0;
	uint64_t nfresh = 0, *lat;
	int opt;

	const struct lg_common common = { &port, &count, &dur_ns, 10000000 };

	while ((opt = getopt(argc, argv, "d:p:b:n:i:c:t:T:sr:f:H:h")) != -1) {
		switch (opt) {
		case 'd': dst_s = optarg; break;
		case 'b':
			if (nsrc == MAX_SOURCES) {
				fprintf(stderr, TOOL ": at most %d -b\n", MAX_SOURCES);
				return 2;
			}
			src_s[nsrc++] = optarg;
			break;
		case 'n':
			if (lg_opt_u64(TOOL, 'n', optarg, 1, 0xffffffffULL, &nfresh))
				return 2;
			break;
		case 'i':
			if (lg_opt_u64(TOOL, 'i', optarg, 1, 60000, &interval_ms))
				return 2;
			break;
		case 'T':
			if (lg_opt_duration(TOOL, 'T', optarg, &tmo_ns))
				return 2;
			break;
		case 's': o.on = true; break;
		case 'r':
			if (o.nrcpt == MAX_RCPTS) {
				fprintf(stderr, TOOL ": at most %d -r\n", MAX_RCPTS);
				return 2;
			}
			if (!valid_path(optarg, false)) {
				fprintf(stderr, TOOL ": -r '%s' is not a recipient address\n", optarg);
				return 2;
			}
			o.rcpt[o.nrcpt++] = optarg;
			break;
		case 'f':
			if (!valid_path(optarg, true)) {
				fprintf(stderr, TOOL ": -f '%s' is not a sender address\n", optarg);
				return 2;
			}
			o.from = optarg;
			break;
		case 'H':
			if (!*optarg || strlen(optarg) > 253 || strpbrk(optarg, "<>@ \t\r\n")) {
				fprintf(stderr, TOOL ": -H '%s' is not a host name\n", optarg);
				return 2;
			}
			o.helo = optarg;
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
	if (o.on != (o.nrcpt > 0)) {
		fprintf(stderr, TOOL ": %s\n", o.on ? "-s needs at least one -r RCPT" :
						    "-r is for -s only");
		return 2;
	}
	if (!tmo_ns)
		tmo_ns = o.on ? 30000000000ULL : 3000000000ULL;
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
	if (nfresh && nsrc != 1) {
		fprintf(stderr, TOOL ": -n needs exactly one -b, the first source\n");
		return 2;
	}
	if (nfresh && lg_source_nth(src[0].a16, src[0].v4, nfresh - 1, fresh.a16)) {
		fprintf(stderr, TOOL ": %llu sources from %s leave the lab range\n",
			(unsigned long long)nfresh, src_s[0]);
		return 2;
	}
	/* No more connections than the schedule can start. */
	if (count > dur_ns / (interval_ms * 1000000ULL) + 1)
		count = dur_ns / (interval_ms * 1000000ULL) + 1;
	lat = calloc(count, sizeof(*lat));
	t.lat = calloc(count, sizeof(*t.lat));
	if (!lat || !t.lat) {
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
				int fd = start_connect(&dst, source_of(src, nsrc, nfresh,
								       attempts, &fresh));

				if (fd >= 0) {
					pend[npend].fd = fd;
					pend[npend].st = CONNECTING;
					pend[npend].started = now;
					pend[npend].seq = attempts;
					pend[npend].len = 0;
					pfd[npend].fd = fd;
					pfd[npend].events = POLLOUT;
					npend++;
				} else {
					t.connect_failed++;
				}
			} else {
				t.connect_failed++;	/* too many stuck: counts as a failure */
			}
			attempts++;
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
			struct pending *p = &pend[i];
			bool done = false;

			if (pfd[i].revents && p->st == CONNECTING) {
				int soerr = 0;
				socklen_t sl = sizeof(soerr);

				getsockopt(p->fd, SOL_SOCKET, SO_ERROR, &soerr, &sl);
				if (!soerr && ok < count)
					lat[ok++] = now - p->started;
				if (soerr) {
					t.connect_failed++;
					done = true;
				} else if (o.on) {
					p->st = BANNER;
					pfd[i].events = POLLIN;
				} else {
					done = true;
				}
			} else if (pfd[i].revents) {
				done = on_readable(p, &o, &t, now) != 0;
			}
			if (!done && now - p->started >= tmo_ns) {
				if (p->st == CONNECTING) {
					t.connect_failed++;
				} else if (p->st != QUIT) {
					t.timeout++;
					note_failure(&t, p, "timeout");
				}
				done = true;
			}
			if (!done) {
				i++;
				continue;
			}
			close(p->fd);
			pend[i] = pend[npend - 1];
			/* The moved entry's revents are from this same poll. */
			pfd[i] = pfd[npend - 1];
			npend--;
		}
	}
	qsort(lat, ok, sizeof(*lat), cmp_u64);
	qsort(t.lat, t.ok, sizeof(*t.lat), cmp_u64);
	print_json(attempts, ok, lat, &o, &t);
	free(lat);
	free(t.lat);
	return 0;
}
