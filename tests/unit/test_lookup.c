/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Unit tests for the lookup socket: the codec (user/lookup_codec.c: the
 * netstring parser and writer, requests), the mapping of a mirror answer
 * to a socketmap reply (user/lookup_answer.c), and the server itself
 * (user/lookup.c) on a unix
 * socket in a temporary directory with a fake answer function (no BPF,
 * no privileges): pipelined and split requests, every malformed request
 * with the connection kept or closed as the protocol allows, Exim's
 * write-shutdown-read, the client cap, stale and live socket files; the
 * request deadline, and (as root) the cap per user, with another user's
 * slow clients holding what they can while a fresh client is answered.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "lookup.h"
#include "rcpt.h"

#include "unit/unit.h"

/* ---- the parser -------------------------------------------------------- */

struct ns_case {
	const char *in;
	size_t len;		/* 0: strlen(in) */
	int want;		/* 1, 0, -EMSGSIZE, -EPROTO */
	size_t hdr;
	uint64_t plen;
	const char *why;	/* part of the reason for -EPROTO */
};

static const struct ns_case ns_cases[] = {
	{ "3:abc,", 0, 1, 2, 3, NULL },
	{ "0:,", 0, 1, 2, 0, NULL },
	{ "3:abc,4:more,", 0, 1, 2, 3, NULL },	/* the first one only */
	{ "10:rcpt a@b.c,", 0, 1, 3, 10, NULL },
	{ "", 0, 0, 0, 0, NULL },
	{ "1", 0, 0, 0, 0, NULL },
	{ "12", 0, 0, 0, 0, NULL },
	{ "3:", 0, 0, 2, 3, NULL },
	{ "3:ab", 0, 0, 2, 3, NULL },
	{ "3:abc", 0, 0, 2, 3, NULL },
	{ "4096:", 0, 0, 5, 4096, NULL },
	{ "4097:", 0, -EMSGSIZE, 5, 4097, NULL },
	{ "9999999999:", 0, -EMSGSIZE, 11, 9999999999ULL, NULL },
	{ "3:abcd", 0, -EPROTO, 0, 0, "no ',' after its payload" },
	{ "3:abc;", 0, -EPROTO, 0, 0, "no ',' after its payload" },
	{ ":abc,", 0, -EPROTO, 0, 0, "no length before ':'" },
	{ "x:abc,", 0, -EPROTO, 0, 0, "no length at its start" },
	{ "1x:a,", 0, -EPROTO, 0, 0, "non-digit in its length" },
	{ "-1:a,", 0, -EPROTO, 0, 0, "no length at its start" },
	{ " 3:abc,", 0, -EPROTO, 0, 0, "no length at its start" },
	{ "03:abc,", 0, -EPROTO, 0, 0, "leading zero" },
	{ "00:,", 0, -EPROTO, 0, 0, "leading zero" },
	{ "12345678901:", 0, -EPROTO, 0, 0, "more than 10 digits" },
	{ "3\0:abc,", 7, -EPROTO, 0, 0, "non-digit" },
	{ "rcpt a@b\n", 0, -EPROTO, 0, 0, "no length at its start" },
};

static void test_netstring_parse(void **state)
{
	for (size_t i = 0; i < ARRAY_SIZE(ns_cases); i++) {
		const struct ns_case *t = &ns_cases[i];
		size_t len = t->len ? t->len : strlen(t->in), hdr = 0;
		uint64_t plen = 0;
		const char *why = NULL;
		int ret = mxg_netstring_parse(t->in, len, MXG_LOOKUP_REQ_MAX,
					      &hdr, &plen, &why);

		if (ret != t->want)
			fail_msg("'%s': got %d, want %d", t->in, ret, t->want);
		if (ret == 1 || ret == -EMSGSIZE) {
			assert_int_equal(hdr, t->hdr);
			assert_int_equal(plen, t->plen);
		}
		if (ret == -EPROTO && !strstr(why, t->why))
			fail_msg("'%s': reason '%s', want '%s'", t->in, why, t->why);
	}
}

static void test_netstring_put(void **state)
{
	static const char *payloads[] = { "", "OK known@lab.example", "NOTFOUND ",
					  "TEMP mirror not ready" };
	char buf[MXG_LOOKUP_REPLY_NS_MAX], big[MXG_LOOKUP_REPLY_MAX];
	const char *why = NULL;
	uint64_t plen;
	size_t hdr;
	int n;

	n = mxg_netstring_put(buf, sizeof(buf), "OK a@b", 6);
	assert_int_equal(n, 9);
	assert_memory_equal(buf, "6:OK a@b,", 9);
	n = mxg_netstring_put(buf, sizeof(buf), "", 0);
	assert_int_equal(n, 3);
	assert_memory_equal(buf, "0:,", 3);
	/* Exactly the room it needs, and one byte less. */
	assert_int_equal(mxg_netstring_put(buf, 9, "OK a@b", 6), 9);
	assert_int_equal(mxg_netstring_put(buf, 8, "OK a@b", 6), -ENOSPC);
	assert_int_equal(mxg_netstring_put(buf, 0, "", 0), -ENOSPC);
	/* What it writes, the parser reads back whole. */
	for (size_t i = 0; i < ARRAY_SIZE(payloads); i++) {
		size_t len = strlen(payloads[i]);

		n = mxg_netstring_put(buf, sizeof(buf), payloads[i], len);
		assert_true(n > 0);
		assert_int_equal(mxg_netstring_parse(buf, (size_t)n, MXG_LOOKUP_REQ_MAX,
						     &hdr, &plen, &why), 1);
		assert_int_equal(plen, len);
		assert_int_equal(hdr + plen + 1, (size_t)n);
		assert_memory_equal(buf + hdr, payloads[i], len);
	}
	/* The longest reply fits in MXG_LOOKUP_REPLY_NS_MAX. */
	memset(big, 'x', sizeof(big));
	n = mxg_netstring_put(buf, sizeof(buf), big, sizeof(big) - 1);
	assert_int_equal(n, (int)(4 + sizeof(big) - 1 + 1));
}

/* ---- requests and answers ---------------------------------------------- */

/* The fake mirror: "known@lab.example" is known, other lab.example
 * addresses are not, "slow@..." is "not ready". */
static void fake_answer(void *ctx, const char *key, size_t keylen,
			char *reply)
{
	int *calls = ctx;

	if (calls)
		(*calls)++;
	if (keylen == 17 && !memcmp(key, "known@lab.example", 17))
		snprintf(reply, MXG_LOOKUP_REPLY_MAX, "OK known@lab.example");
	else if (keylen >= 5 && !memcmp(key, "slow@", 5))
		snprintf(reply, MXG_LOOKUP_REPLY_MAX, "TEMP mirror not ready");
	else
		snprintf(reply, MXG_LOOKUP_REPLY_MAX, "NOTFOUND ");
}

static void test_request(void **state)
{
	char reply[MXG_LOOKUP_REPLY_MAX];
	int calls = 0;

	mxg_lookup_request("rcpt known@lab.example", 22, fake_answer, &calls, reply);
	assert_string_equal(reply, "OK known@lab.example");
	/* Any map name, even an empty one. */
	mxg_lookup_request(" known@lab.example", 18, fake_answer, &calls, reply);
	assert_string_equal(reply, "OK known@lab.example");
	mxg_lookup_request("x other@lab.example", 19, fake_answer, &calls, reply);
	assert_string_equal(reply, "NOTFOUND ");
	assert_int_equal(calls, 3);
	mxg_lookup_request("rcptknown@lab.example", 21, fake_answer, &calls, reply);
	assert_string_equal(reply, "PERM request is not 'NAME KEY'");
	mxg_lookup_request("rcpt a\0b@lab.example", 20, fake_answer, &calls, reply);
	assert_string_equal(reply, "PERM request contains a NUL byte");
	mxg_lookup_request("", 0, fake_answer, &calls, reply);
	assert_string_equal(reply, "PERM request is not 'NAME KEY'");
	assert_int_equal(calls, 3);
}

static void test_rcpt_reply(void **state)
{
	struct mxg_rcpt_answer a = { .normalized = "alice@lab.example" };
	char reply[MXG_LOOKUP_REPLY_MAX];

	a.known = a.local_domain = a.ready = true;
	mxg_lookup_rcpt_reply(0, &a, NULL, reply);
	assert_string_equal(reply, "OK alice@lab.example");
	/* Fail safe: a local domain without a ready mirror is a 4xx, known
	 * or not, never a 550. */
	a.ready = false;
	mxg_lookup_rcpt_reply(0, &a, NULL, reply);
	assert_string_equal(reply, "TEMP mirror not ready");
	a.known = false;
	mxg_lookup_rcpt_reply(0, &a, NULL, reply);
	assert_string_equal(reply, "TEMP mirror not ready");
	a.ready = true;
	mxg_lookup_rcpt_reply(0, &a, NULL, reply);
	assert_string_equal(reply, "NOTFOUND ");
	/* Foreign domains are not ours to validate, ready or not. */
	a.local_domain = false;
	mxg_lookup_rcpt_reply(0, &a, NULL, reply);
	assert_string_equal(reply, "NOTFOUND ");
	a.ready = false;
	mxg_lookup_rcpt_reply(0, &a, NULL, reply);
	assert_string_equal(reply, "NOTFOUND ");
	/* Postfix's "@domain" and bare "user" lookups. */
	mxg_lookup_rcpt_reply(-EINVAL, &a, mxg_rcpt_strerror(MXG_RCPT_EEMPTY), reply);
	assert_string_equal(reply, "NOTFOUND ");
	mxg_lookup_rcpt_reply(-EINVAL, &a, mxg_rcpt_strerror(MXG_RCPT_ENOAT), reply);
	assert_string_equal(reply, "NOTFOUND ");
	mxg_lookup_rcpt_reply(-EINVAL, &a, mxg_rcpt_strerror(MXG_RCPT_ECTRL), reply);
	assert_string_equal(reply, "PERM bad address: control byte in address");
	mxg_lookup_rcpt_reply(-EINVAL, &a, mxg_rcpt_strerror(MXG_RCPT_ETOOLONG), reply);
	assert_string_equal(reply, "PERM bad address: address longer than 254 bytes");
	mxg_lookup_rcpt_reply(-ENOENT, &a, NULL, reply);
	assert_string_equal(reply, "TEMP mirror unavailable: No such file or directory");
}

/* ---- the server -------------------------------------------------------- */

struct srv {
	char dir[64];
	char path[128];
	struct mxg_lookup_server *s;
	int calls;
};

static int srv_setup(void **state)
{
	struct srv *t = calloc(1, sizeof(*t));

	if (!t)
		return -1;
	strcpy(t->dir, "/tmp/mxg-test-lookup-XXXXXX");
	if (!mkdtemp(t->dir))
		return -1;
	snprintf(t->path, sizeof(t->path), "%s/lookup.sock", t->dir);
	*state = t;
	return 0;
}

static int srv_teardown(void **state)
{
	struct srv *t = *state;

	mxg_lookup_stop(t->s);
	unlink(t->path);
	rmdir(t->dir);
	free(t);
	return 0;
}

/* The server on t->path with the fake mirror; o's limits (and mode, if
 * set) over the defaults. */
static int srv_start_opts(struct srv *t, struct mxg_lookup_opts o, char *err,
			  size_t errlen)
{
	o.path = t->path;
	o.mode = o.mode ? o.mode : 0660;
	o.answer = fake_answer;
	o.ctx = &t->calls;
	return mxg_lookup_start(&t->s, &o, err, errlen);
}

static int srv_start(struct srv *t, unsigned max_clients, unsigned idle_ms,
		     char *err, size_t errlen)
{
	struct mxg_lookup_opts o = {
		.max_clients = max_clients,
		.idle_ms = idle_ms,
	};

	return srv_start_opts(t, o, err, errlen);
}

static int dial(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct timeval tv = { .tv_sec = 5 };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	strcpy(sa.sun_path, path);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		close(fd);
		return -errno;
	}
	/* A test that waits for a reply that never comes fails, it does not
	 * hang. */
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	return fd;
}

static void send_all(int fd, const void *buf, size_t len)
{
	assert_int_equal(send(fd, buf, len, MSG_NOSIGNAL), (ssize_t)len);
}

static void send_str(int fd, const char *s)
{
	send_all(fd, s, strlen(s));
}

/* Read exactly one netstring reply; returns its payload in buf, or NULL
 * at EOF. */
static const char *recv_reply(int fd, char *buf, size_t size)
{
	size_t n = 0, len = 0;
	char c;

	for (;;) {
		ssize_t r = read(fd, &c, 1);

		if (r == 0 && n == 0)
			return NULL;
		assert_int_equal(r, 1);
		if (c == ':')
			break;
		assert_true(c >= '0' && c <= '9');
		len = len * 10 + (size_t)(c - '0');
		n++;
	}
	assert_true(len + 1 < size);
	for (n = 0; n < len + 1;) {
		ssize_t r = read(fd, buf + n, len + 1 - n);

		assert_true(r > 0);
		n += (size_t)r;
	}
	assert_int_equal(buf[len], ',');
	buf[len] = '\0';
	return buf;
}

static void expect_reply(int fd, const char *want)
{
	char buf[1024];
	const char *got = recv_reply(fd, buf, sizeof(buf));

	if (!got)
		fail_msg("EOF, want '%s'", want);
	if (strcmp(got, want))
		fail_msg("reply '%s', want '%s'", got, want);
}

static void expect_eof(int fd)
{
	char buf[16];

	assert_int_equal(read(fd, buf, sizeof(buf)), 0);
}

static void test_server_answers(void **state)
{
	struct srv *t = *state;
	char err[512], big[8192];
	struct stat st;
	int fd, i;

	assert_int_equal(srv_start(t, 0, 0, err, sizeof(err)), 0);
	assert_int_equal(stat(t->path, &st), 0);
	assert_true(S_ISSOCK(st.st_mode));
	assert_int_equal(st.st_mode & 07777, 0660);

	fd = dial(t->path);
	assert_true(fd >= 0);
	send_str(fd, "22:rcpt known@lab.example,");
	expect_reply(fd, "OK known@lab.example");
	send_str(fd, "22:rcpt other@lab.example,");
	expect_reply(fd, "NOTFOUND ");
	send_str(fd, "21:rcpt slow@lab.example,");
	expect_reply(fd, "TEMP mirror not ready");

	/* Pipelined in one write, and split at every odd place. */
	send_str(fd, "22:rcpt known@lab.example,22:rcpt other@lab.example,");
	expect_reply(fd, "OK known@lab.example");
	expect_reply(fd, "NOTFOUND ");
	for (const char *p = "22:rcpt known@lab.example,"; *p; p++) {
		send_all(fd, p, 1);
		usleep(1000);
	}
	expect_reply(fd, "OK known@lab.example");

	/* Malformed but framed: answered, and the connection stays. */
	send_str(fd, "21:rcptknown@lab.example,");
	expect_reply(fd, "PERM request is not 'NAME KEY'");
	send_all(fd, "22:rcpt kn\0wn@lab.example,", 26);
	expect_reply(fd, "PERM request contains a NUL byte");
	/* 64 KiB and more: answered, the payload skipped as it comes. */
	send_str(fd, "70000:");
	memset(big, 'a', sizeof(big));
	for (i = 0; i < 70000 / (int)sizeof(big); i++)
		send_all(fd, big, sizeof(big));
	send_all(fd, big, 70000 % sizeof(big));
	send_str(fd, ",");
	expect_reply(fd, "PERM request longer than 4096 bytes");
	send_str(fd, "22:rcpt known@lab.example,");
	expect_reply(fd, "OK known@lab.example");
	close(fd);

	/* Broken framing: a reply saying why, then the end. */
	fd = dial(t->path);
	send_str(fd, "22:rcpt known@lab.example;");
	expect_reply(fd, "PERM bad netstring: no ',' after its payload");
	expect_eof(fd);
	close(fd);
	fd = dial(t->path);
	send_str(fd, "rcpt known@lab.example\n");
	expect_reply(fd, "PERM bad netstring: no length at its start");
	expect_eof(fd);
	close(fd);
	fd = dial(t->path);
	send_str(fd, "5:");
	send_all(fd, big, 5);
	send_str(fd, "X");
	expect_reply(fd, "PERM bad netstring: no ',' after its payload");
	expect_eof(fd);
	close(fd);
	fd = dial(t->path);
	send_str(fd, "5000:");
	send_all(fd, big, 5000);
	send_str(fd, "X");
	expect_reply(fd, "PERM request longer than 4096 bytes");
	expect_reply(fd, "PERM bad netstring: no ',' after its payload");
	expect_eof(fd);
	close(fd);

	/* Exim's readsocket: write, shut down, read to the end. */
	fd = dial(t->path);
	send_str(fd, "22:rcpt known@lab.example,");
	shutdown(fd, SHUT_WR);
	expect_reply(fd, "OK known@lab.example");
	expect_eof(fd);
	close(fd);
	/* ... with a length that does not match: said, not swallowed. */
	fd = dial(t->path);
	send_str(fd, "30:rcpt known@lab.example,");
	shutdown(fd, SHUT_WR);
	expect_reply(fd, "PERM bad netstring: incomplete at end of input");
	expect_eof(fd);
	close(fd);

	/* Other clients were never disturbed. */
	fd = dial(t->path);
	send_str(fd, "22:rcpt known@lab.example,");
	expect_reply(fd, "OK known@lab.example");
	close(fd);

	mxg_lookup_stop(t->s);
	t->s = NULL;
	assert_int_equal(stat(t->path, &st), -1);
	assert_int_equal(errno, ENOENT);
}

/* A client that writes many requests and reads nothing for a while: its
 * replies stop being produced when its out buffer is full, and all arrive
 * once it reads, in order. The writes come from a thread, since they
 * block once the socket buffers are full. */
#define BP_REQUESTS 20000
static const char bp_req[] = "22:rcpt known@lab.example,";

static void *bp_writer(void *arg)
{
	int fd = *(int *)arg;

	for (int i = 0; i < BP_REQUESTS; i++)
		if (send(fd, bp_req, sizeof(bp_req) - 1, MSG_NOSIGNAL) !=
		    (ssize_t)(sizeof(bp_req) - 1))
			return (void *)1;
	return NULL;
}

static void test_server_backpressure(void **state)
{
	struct srv *t = *state;
	char err[512], buf[1024];
	pthread_t writer;
	int fd, i, queued;
	void *res;

	assert_int_equal(srv_start(t, 0, 0, err, sizeof(err)), 0);
	fd = dial(t->path);
	assert_int_equal(pthread_create(&writer, NULL, bp_writer, &fd), 0);
	/* Read nothing until replies are queued here (1 KiB, 40 of them:
	 * the server writes each on its own when it is not behind, and a
	 * unix socket's buffer holds a few hundred such writes, so more is
	 * not sure to come before the writer blocks): bounded, 5 s. */
	for (i = 0, queued = 0; i < 500 && queued < 1024; i++) {
		assert_int_equal(ioctl(fd, FIONREAD, &queued), 0);
		usleep(10000);
	}
	assert_true(queued >= 1024);
	for (i = 0; i < BP_REQUESTS; i++) {
		const char *got = recv_reply(fd, buf, sizeof(buf));

		assert_non_null(got);
		assert_string_equal(got, "OK known@lab.example");
	}
	pthread_join(writer, &res);
	assert_null(res);
	assert_int_equal(t->calls, BP_REQUESTS);
	close(fd);
}

static void test_server_cap_and_idle(void **state)
{
	struct srv *t = *state;
	/* Both clients are of one user here: the cap in all, not per user. */
	struct mxg_lookup_opts o = { .max_clients = 2, .max_per_uid = 2,
				     .idle_ms = 300 };
	char err[512], buf[16];
	struct pollfd p;
	int fd[3];

	assert_int_equal(srv_start_opts(t, o, err, sizeof(err)), 0);
	fd[0] = dial(t->path);
	fd[1] = dial(t->path);
	send_str(fd[0], "22:rcpt known@lab.example,");
	expect_reply(fd[0], "OK known@lab.example");
	send_str(fd[1], "22:rcpt known@lab.example,");
	expect_reply(fd[1], "OK known@lab.example");
	/* The third is closed at once. */
	fd[2] = dial(t->path);
	assert_true(fd[2] >= 0);
	expect_eof(fd[2]);
	close(fd[2]);
	/* Idle ones are closed after idle_ms (the tick is 1 s). */
	p.fd = fd[0];
	p.events = POLLIN;
	assert_int_equal(poll(&p, 1, 3000), 1);
	assert_int_equal(read(fd[0], buf, sizeof(buf)), 0);
	close(fd[0]);
	close(fd[1]);
	/* Room again. */
	fd[0] = dial(t->path);
	send_str(fd[0], "22:rcpt known@lab.example,");
	expect_reply(fd[0], "OK known@lab.example");
	close(fd[0]);
}

static unsigned count_str(const char *text, const char *needle)
{
	unsigned n = 0;

	for (const char *p = text; (p = strstr(p, needle)); p++)
		n++;
	return n;
}

static uint64_t ms_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Read until EOF; returns how long it took in ms (at most 5 s). */
static uint64_t ms_to_eof(int fd)
{
	uint64_t t0 = ms_now();
	char buf[256];

	while (read(fd, buf, sizeof(buf)) > 0)
		;
	return ms_now() - t0;
}

/* A request must be whole request_ms after its first byte; bytes that
 * trickle in never reset that (they once reset the idle timer). A client
 * between requests is not on a deadline. */
static void test_server_deadline(void **state)
{
	struct srv *t = *state;
	struct mxg_lookup_opts o = { .request_ms = 300, .idle_ms = 10000 };
	const char *req = "22:rcpt known@lab.example,";
	char err[512];
	uint64_t t0, took;
	int slow, trickle, calm;

	assert_int_equal(srv_start_opts(t, o, err, sizeof(err)), 0);

	/* One length digit, then nothing: cut within the deadline and one
	 * sweep (1 s), with a reply saying why. */
	slow = dial(t->path);
	send_str(slow, "2");
	/* A length digit every 100 ms: never whole, cut all the same. */
	trickle = dial(t->path);
	/* Between requests: quiet for longer than the deadline, kept. */
	calm = dial(t->path);
	send_str(calm, req);
	expect_reply(calm, "OK known@lab.example");

	t0 = ms_now();
	for (const char *p = req; *p && ms_now() - t0 < 2500; p++) {
		struct pollfd pf = { .fd = trickle, .events = POLLIN };

		if (send(trickle, p, 1, MSG_NOSIGNAL) != 1 || poll(&pf, 1, 100) > 0)
			break;
	}
	expect_reply(trickle, "PERM request not complete within 300 ms");
	took = ms_now() - t0 + ms_to_eof(trickle);
	if (took > 1800)
		fail_msg("the trickling client was closed after %llu ms, want < 1800",
			 (unsigned long long)took);
	expect_reply(slow, "PERM request not complete within 300 ms");
	assert_true(ms_to_eof(slow) < 1000);
	close(slow);
	close(trickle);

	send_str(calm, req);
	expect_reply(calm, "OK known@lab.example");
	close(calm);
}

/* Another user's clients hold at most half the slots: with 20 of them
 * sending one length digit each, a fresh client of ours is still answered,
 * the other user's are cut at the deadline, and the refusals are logged
 * in one line, not one per client. Needs root (to be another user). */
#define PEER_CLIENTS 20
#define PEER_CAP 8	/* half of the server's 16 slots, per user */
static void test_server_per_uid(void **state)
{
	struct srv *t = *state;
	struct mxg_lookup_opts o = {
		.mode = 0666, .max_clients = 16, .request_ms = 500,
		.idle_ms = 10000,
	};
	char err[512], logname[] = "/tmp/mxg-test-lookup-log-XXXXXX", *logtext;
	int report[2], go[2], status, fd, logfd, saved_err, counts[2] = { -1, -1 };
	FILE *f;
	long len;
	pid_t pid;

	if (geteuid() != 0)
		skip();
	assert_int_equal(chmod(t->dir, 0755), 0);
	/* The log goes to stderr: catch it in a file for this test. */
	logfd = mkstemp(logname);
	assert_true(logfd >= 0);
	saved_err = dup(2);
	dup2(logfd, 2);
	assert_int_equal(srv_start_opts(t, o, err, sizeof(err)), 0);
	assert_int_equal(pipe(report), 0);
	assert_int_equal(pipe(go), 0);

	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		/* User nobody: connect PEER_CLIENTS clients, each sends one
		 * length digit; report how many stay open, then, once told,
		 * how many were cut with the deadline's reply. */
		int fds[PEER_CLIENTS], open = 0, cut = 0;
		char c, buf[128];

		/* Never outlives a parent whose test failed half-way. */
		alarm(10);
		close(go[1]);
		close(report[0]);
		if (setgroups(0, NULL) || setgid(65534) || setuid(65534))
			_exit(2);
		for (int i = 0; i < PEER_CLIENTS; i++) {
			struct sockaddr_un sa = { .sun_family = AF_UNIX };
			struct timeval tv = { .tv_sec = 3 };

			fds[i] = socket(AF_UNIX, SOCK_STREAM, 0);
			strcpy(sa.sun_path, t->path);
			if (connect(fds[i], (struct sockaddr *)&sa, sizeof(sa)))
				_exit(3);
			setsockopt(fds[i], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
			send(fds[i], "2", 1, MSG_NOSIGNAL);
		}
		/* The server closes the clients over the cap as it reads
		 * them: wait (bounded) until no more than the cap are left
		 * open, never for a fixed time. */
		for (int round = 0; round < 300; round++) {
			open = 0;
			for (int i = 0; i < PEER_CLIENTS; i++) {
				struct pollfd pf = { .fd = fds[i], .events = POLLIN };

				open += poll(&pf, 1, 0) == 0;
			}
			if (open <= PEER_CAP)
				break;
			usleep(10000);
		}
		if (write(report[1], &open, sizeof(open)) != sizeof(open) ||
		    read(go[0], &c, 1) != 1)
			_exit(4);
		for (int i = 0; i < PEER_CLIENTS; i++) {
			ssize_t n = read(fds[i], buf, sizeof(buf) - 1);

			if (n > 0) {
				buf[n] = '\0';
				cut += strstr(buf, "PERM request not complete within 500 ms") != NULL &&
				       read(fds[i], buf, sizeof(buf)) == 0;
			}
		}
		if (write(report[1], &cut, sizeof(cut)) != sizeof(cut))
			_exit(5);
		_exit(0);
	}
	assert_int_equal(read(report[0], &counts[0], sizeof(int)), sizeof(int));
	/* Half of 16 slots for user nobody; the rest were closed at once. */
	assert_int_equal(counts[0], PEER_CAP);

	/* A fresh client of another user (root here, the MTA's in life). */
	fd = dial(t->path);
	assert_true(fd >= 0);
	send_str(fd, "22:rcpt known@lab.example,");
	expect_reply(fd, "OK known@lab.example");

	assert_int_equal(write(go[1], "g", 1), 1);
	assert_int_equal(read(report[0], &counts[1], sizeof(int)), sizeof(int));
	assert_int_equal(counts[1], PEER_CAP);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	/* Ours stayed: no deadline between requests. */
	send_str(fd, "22:rcpt known@lab.example,");
	expect_reply(fd, "OK known@lab.example");
	close(fd);

	mxg_lookup_stop(t->s);
	t->s = NULL;
	fflush(stderr);
	dup2(saved_err, 2);
	close(saved_err);
	f = fdopen(logfd, "r");
	fseek(f, 0, SEEK_END);
	len = ftell(f);
	rewind(f);
	logtext = calloc(1, (size_t)len + 1);
	assert_int_equal(fread(logtext, 1, (size_t)len, f), (size_t)len);
	fclose(f);
	unlink(logname);
	/* 12 refused: one line (the first refusal of the minute), naming the
	 * cap and the user; never one per client. */
	if (!strstr(logtext, "clients in the last minute over the cap of 8 per user (the latest of uid 65534)") ||
	    count_str(logtext, "lookup: refused") != 1)
		fail_msg("log: %s", logtext);
	free(logtext);
	close(report[0]);
	close(report[1]);
	close(go[0]);
	close(go[1]);
}

static void test_server_socket_files(void **state)
{
	struct srv *t = *state;
	struct mxg_lookup_server *other = NULL;
	struct mxg_lookup_opts o = { .mode = 0666, .answer = fake_answer };
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char err[512], path[160];
	int fd;

	/* A stale socket (its server gone) is replaced. */
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	strcpy(sa.sun_path, t->path);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	close(fd);
	assert_int_equal(srv_start(t, 0, 0, err, sizeof(err)), 0);
	fd = dial(t->path);
	send_str(fd, "22:rcpt known@lab.example,");
	expect_reply(fd, "OK known@lab.example");
	close(fd);

	/* A live one is not. */
	o.path = t->path;
	assert_int_equal(mxg_lookup_start(&other, &o, err, sizeof(err)), -EADDRINUSE);
	assert_null(other);
	assert_non_null(strstr(err, "another process serves it"));
	fd = dial(t->path);
	send_str(fd, "22:rcpt known@lab.example,");
	expect_reply(fd, "OK known@lab.example");
	close(fd);

	/* Nor a file that is not a socket. */
	snprintf(path, sizeof(path), "%s/file", t->dir);
	fd = creat(path, 0600);
	close(fd);
	o.path = path;
	assert_int_equal(mxg_lookup_start(&other, &o, err, sizeof(err)), -EEXIST);
	assert_non_null(strstr(err, "not a socket is in the way"));
	assert_int_equal(access(path, F_OK), 0);
	unlink(path);

	/* A missing directory is named. */
	snprintf(path, sizeof(path), "%s/nodir/lookup.sock", t->dir);
	o.path = path;
	assert_int_equal(mxg_lookup_start(&other, &o, err, sizeof(err)), -ENOENT);
	snprintf(path, sizeof(path), "directory %s/nodir does not exist", t->dir);
	if (!strstr(err, path))
		fail_msg("message: %s", err);

	/* Stop removes only its own file: here someone replaced it. */
	assert_int_equal(unlink(t->path), 0);
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	mxg_lookup_stop(t->s);
	t->s = NULL;
	assert_int_equal(access(t->path, F_OK), 0);
	close(fd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_netstring_parse),
		cmocka_unit_test(test_netstring_put),
		cmocka_unit_test(test_request),
		cmocka_unit_test(test_rcpt_reply),
		cmocka_unit_test_setup_teardown(test_server_answers, srv_setup,
						srv_teardown),
		cmocka_unit_test_setup_teardown(test_server_backpressure,
						srv_setup, srv_teardown),
		cmocka_unit_test_setup_teardown(test_server_cap_and_idle,
						srv_setup, srv_teardown),
		cmocka_unit_test_setup_teardown(test_server_deadline,
						srv_setup, srv_teardown),
		cmocka_unit_test_setup_teardown(test_server_per_uid,
						srv_setup, srv_teardown),
		cmocka_unit_test_setup_teardown(test_server_socket_files,
						srv_setup, srv_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
