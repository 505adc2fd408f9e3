/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The socketmap server of lookup.h: one thread, one epoll, level-triggered.
 * The bytes are framed by the codec (lookup_codec.h); each key is
 * answered by the function the daemon gives (lookup_answer.h).
 *
 * Each client owns two fixed buffers: requests in (one request of
 * MXG_LOOKUP_REQ_MAX plus its framing) and replies out. A client that
 * sends faster than it reads stops being read once its replies fill the
 * out buffer, so memory per client never grows. Longer requests are
 * answered PERM and their payload discarded as it arrives; broken framing
 * is answered PERM and that client is closed after its replies are out.
 * Nothing is logged per request: a busy MTA asks hundreds of times a
 * second.
 *
 * Slots are what a local user could starve the MTA of: each user (uid)
 * gets at most max_per_uid of them, refused ones counted and logged once
 * a minute; a request not whole request_ms after its first byte is
 * answered PERM and its client closed; the idle time counts from the
 * last answer, so a byte now and then keeps nothing open.
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <bpf/bpf.h>
#include "log.h"
#include "lookup.h"
#include "mxguard.h"

/* One request of the longest length with its framing. */
#define IN_SIZE (MXG_LOOKUP_REQ_MAX + MXG_NETSTRING_DIGITS_MAX + 2)
#define OUT_SIZE (4 * MXG_LOOKUP_REPLY_NS_MAX)
#define MAX_EVENTS 64
#define READS_PER_EVENT 16
#define ACCEPT_BATCH 64
#define TICK_MS 1000
#define ACCEPT_PAUSE_NS (100 * 1000000ULL)
#define REFUSED_LOG_NS (60 * 1000000000ULL)
/* Descriptors the rest of the daemon may need besides the clients. */
#define FD_RESERVE 256

struct client {
	int fd;
	uid_t uid;		/* the peer's, at connect (SO_PEERCRED) */
	unsigned events;	/* what epoll waits for now */
	bool eof;		/* the peer shut its side down */
	bool closing;		/* framing broken: flush, then close */
	bool skip_comma;	/* after skipping a payload, its ',' */
	uint64_t skip;		/* oversized payload bytes still to drop */
	uint64_t last_ns;	/* accepted, or its last answer */
	uint64_t req_ns;	/* a request began, not whole yet; 0: none */
	size_t inlen, outoff, outlen;
	struct client *prev, *next;
	char in[IN_SIZE];
	char out[OUT_SIZE];
};

struct mxg_lookup_server {
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	dev_t dev;		/* the socket file we made, so that stop */
	ino_t ino;		/* never removes a successor's */
	int listen_fd, epoll_fd, stop_fd;
	bool thread_started;
	pthread_t thread;
	mxg_lookup_fn answer;
	void *ctx;
	unsigned max_clients, nclients, max_per_uid;
	uint64_t idle_ns, request_ns;
	unsigned request_ms;
	struct client *clients;
	/* Clients per uid: at most one entry per client, so max_clients
	 * entries are enough. */
	struct uid_count {
		uid_t uid;
		unsigned n;
	} *uids;
	unsigned nuids;
	bool accept_paused;
	uint64_t accept_resume_ns;
	uint64_t refused, refused_uid, refused_logged_ns;
	uid_t refused_uid_last;
	/* The answers by result and the clients refused, kept in mxg_daemon
	 * (this thread writes its entries alone) for the metrics. */
	int counters_fd;	/* -1: not counted */
	uint64_t counts[MXG_DAEMON_COUNTERS];
};

/* Sentinels in epoll_event.data.ptr for the two non-client fds. */
static char listen_tag, stop_tag;

/* ---- clients ----------------------------------------------------------- */

static struct uid_count *uid_find(struct mxg_lookup_server *s, uid_t uid)
{
	for (unsigned i = 0; i < s->nuids; i++)
		if (s->uids[i].uid == uid)
			return &s->uids[i];
	return NULL;
}

/* One more client of uid, unless it has max_per_uid already. The caller
 * checked nclients < max_clients, so a new entry has room. */
static bool uid_take(struct mxg_lookup_server *s, uid_t uid)
{
	struct uid_count *u = uid_find(s, uid);

	if (!u) {
		u = &s->uids[s->nuids++];
		u->uid = uid;
		u->n = 0;
	}
	if (u->n >= s->max_per_uid)
		return false;
	u->n++;
	return true;
}

static void uid_put(struct mxg_lookup_server *s, uid_t uid)
{
	struct uid_count *u = uid_find(s, uid);

	if (u && !--u->n)
		*u = s->uids[--s->nuids];
}

static void client_close(struct mxg_lookup_server *s, struct client *c)
{
	uid_put(s, c->uid);
	close(c->fd);
	if (c->prev)
		c->prev->next = c->next;
	else
		s->clients = c->next;
	if (c->next)
		c->next->prev = c->prev;
	free(c);
	s->nclients--;
	/* A descriptor is free again. */
	s->accept_resume_ns = 0;
}

static void consume(struct client *c, size_t n)
{
	memmove(c->in, c->in + n, c->inlen - n);
	c->inlen -= n;
}

static void count(struct mxg_lookup_server *s, enum mxg_daemon_counter what)
{
	__u32 key = what;

	s->counts[what]++;
	/* One syscall per answer; lost only if the map went away. */
	if (s->counters_fd >= 0)
		bpf_map_update_elem(s->counters_fd, &key, &s->counts[what], BPF_ANY);
}

/* The answer's result, from its first word (lookup_answer.h). */
static void count_reply(struct mxg_lookup_server *s, const char *payload)
{
	if (!strncmp(payload, "OK", 2))
		count(s, MXG_DAEMON_LOOKUP_OK);
	else if (!strncmp(payload, "NOTFOUND", 8))
		count(s, MXG_DAEMON_LOOKUP_NOTFOUND);
	else if (!strncmp(payload, "TEMP", 4))
		count(s, MXG_DAEMON_LOOKUP_TEMP);
	else
		count(s, MXG_DAEMON_LOOKUP_PERM);
}

static void put_reply(struct mxg_lookup_server *s, struct client *c,
		      const char *payload)
{
	size_t len = strlen(payload);
	int n;

	count_reply(s, payload);
	if (c->outoff == c->outlen)
		c->outoff = c->outlen = 0;
	else if (c->outoff) {
		memmove(c->out, c->out + c->outoff, c->outlen - c->outoff);
		c->outlen -= c->outoff;
		c->outoff = 0;
	}
	/* The caller checked for MXG_LOOKUP_REPLY_NS_MAX bytes of room. */
	n = mxg_netstring_put(c->out + c->outlen, OUT_SIZE - c->outlen, payload,
			      len);
	if (n > 0)
		c->outlen += (size_t)n;
}

static size_t out_room(const struct client *c)
{
	return OUT_SIZE - (c->outlen - c->outoff);
}

/* A request answered: its deadline is met, and the client is not idle. */
static void answered(struct client *c, uint64_t now)
{
	c->req_ns = 0;
	c->last_ns = now;
}

/* Answer the complete requests in the in buffer while replies fit.
 * Returns true when it stopped for lack of room in the out buffer. */
static bool client_process(struct mxg_lookup_server *s, struct client *c,
			   uint64_t now)
{
	char reply[MXG_LOOKUP_REPLY_MAX];
	const char *why = "";
	uint64_t plen;
	size_t hdr;
	int ret;

	while (!c->closing) {
		if (c->skip) {
			size_t n = c->skip < c->inlen ? (size_t)c->skip : c->inlen;

			consume(c, n);
			c->skip -= n;
			if (c->skip)
				return false;
		}
		if (c->skip_comma) {
			if (!c->inlen)
				return false;
			if (out_room(c) < MXG_LOOKUP_REPLY_NS_MAX)
				return true;
			if (c->in[0] != ',') {
				put_reply(s, c, "PERM bad netstring: no ',' after its payload");
				c->closing = true;
				return false;
			}
			consume(c, 1);
			c->skip_comma = false;
			answered(c, now);
		}
		if (!c->inlen)
			return false;
		if (out_room(c) < MXG_LOOKUP_REPLY_NS_MAX)
			return true;
		ret = mxg_netstring_parse(c->in, c->inlen, MXG_LOOKUP_REQ_MAX,
					  &hdr, &plen, &why);
		if (ret == 0) {
			if (c->eof) {
				/* Nothing more will come: say why instead of
				 * closing silently (an Exim expansion with a
				 * wrong length ends here). */
				put_reply(s, c, "PERM bad netstring: incomplete at end of input");
				c->closing = true;
			}
			return false;
		}
		if (ret == -EPROTO) {
			snprintf(reply, sizeof(reply), "PERM %s", why);
			put_reply(s, c, reply);
			c->closing = true;
			return false;
		}
		if (ret == -EMSGSIZE) {
			snprintf(reply, sizeof(reply), "PERM request longer than %d bytes",
				 MXG_LOOKUP_REQ_MAX);
			put_reply(s, c, reply);
			consume(c, hdr);
			c->skip = plen;
			c->skip_comma = true;
			continue;
		}
		mxg_lookup_request(c->in + hdr, (size_t)plen, s->answer, s->ctx,
				   reply);
		put_reply(s, c, reply);
		consume(c, hdr + (size_t)plen + 1);
		answered(c, now);
	}
	return false;
}

/* Returns 0, -EAGAIN when the socket is full, or -errno when the client
 * is gone. */
static int client_flush(struct client *c)
{
	while (c->outoff < c->outlen) {
		ssize_t n = send(c->fd, c->out + c->outoff, c->outlen - c->outoff,
				 MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return errno == EAGAIN || errno == EWOULDBLOCK ? -EAGAIN :
									 -errno;
		}
		c->outoff += (size_t)n;
	}
	c->outoff = c->outlen = 0;
	return 0;
}

/* Read what fits; returns -errno when the client is gone. */
static int client_read(struct client *c)
{
	int i;

	/* Bounded per event, so that one client streaming a long skipped
	 * payload cannot hold the thread; epoll brings it back. */
	for (i = 0; i < READS_PER_EVENT && !c->eof && c->inlen < IN_SIZE; i++) {
		ssize_t n = read(c->fd, c->in + c->inlen, IN_SIZE - c->inlen);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -errno;
		}
		if (n == 0)
			c->eof = true;
		c->inlen += (size_t)n;
		/* Drop a skipped payload as it comes, so a long one needs no
		 * room. */
		if (c->skip) {
			size_t k = c->skip < c->inlen ? (size_t)c->skip : c->inlen;

			consume(c, k);
			c->skip -= k;
		}
	}
	return 0;
}

static void client_event(struct mxg_lookup_server *s, struct client *c,
			 unsigned events)
{
	struct epoll_event ev = { .data.ptr = c };
	uint64_t now = mxg_now_ns();
	bool stalled = false;
	int ret = 0;

	if (events & (EPOLLIN | EPOLLHUP | EPOLLERR | EPOLLRDHUP)) {
		ret = client_read(c);
		if (ret)
			goto close;
	}
	/* Replies out, then more requests, until the in buffer is done or
	 * the socket is full: at most IN_SIZE bytes of requests a round. */
	for (;;) {
		stalled = client_process(s, c, now);
		ret = client_flush(c);
		if (ret == -EAGAIN)
			break;
		if (ret)
			goto close;
		if (!stalled)
			break;
	}
	if ((c->eof || c->closing) && c->outoff == c->outlen && !stalled)
		goto close;
	/* Bytes of a request not whole yet: its deadline runs from now (they
	 * came in this round). Stalled, the client waits on its own reads,
	 * not we on its writes; the idle time bounds that. */
	if (stalled || (!c->inlen && !c->skip && !c->skip_comma))
		c->req_ns = 0;
	else if (!c->req_ns)
		c->req_ns = now;

	ev.events = 0;
	/* Read while requests can still be answered; a full out buffer
	 * stops it (back pressure), so does EOF or a broken frame. */
	if (!c->eof && !c->closing && c->inlen < IN_SIZE && !stalled)
		ev.events |= EPOLLIN | EPOLLRDHUP;
	if (c->outoff < c->outlen || stalled)
		ev.events |= EPOLLOUT;
	if (ev.events != c->events) {
		if (epoll_ctl(s->epoll_fd, EPOLL_CTL_MOD, c->fd, &ev))
			goto close;
		c->events = ev.events;
	}
	return;
close:
	client_close(s, c);
}

/* At most two lines a minute, whatever the number of clients refused. */
static void log_refused(struct mxg_lookup_server *s, uint64_t now)
{
	if ((!s->refused && !s->refused_uid) ||
	    now - s->refused_logged_ns < REFUSED_LOG_NS)
		return;
	if (s->refused)
		mxg_err("lookup: refused %llu clients in the last minute (at most %u at once)",
			(unsigned long long)s->refused, s->max_clients);
	if (s->refused_uid)
		mxg_err("lookup: refused %llu clients in the last minute over the cap of %u per user (the latest of uid %u)",
			(unsigned long long)s->refused_uid, s->max_per_uid,
			(unsigned)s->refused_uid_last);
	s->refused = s->refused_uid = 0;
	s->refused_logged_ns = now;
}

static void set_accepting(struct mxg_lookup_server *s, bool on)
{
	struct epoll_event ev = { .events = on ? EPOLLIN : 0,
				  .data.ptr = &listen_tag };

	if (s->accept_paused == !on)
		return;
	if (!epoll_ctl(s->epoll_fd, EPOLL_CTL_MOD, s->listen_fd, &ev))
		s->accept_paused = !on;
}

static void accept_clients(struct mxg_lookup_server *s)
{
	uint64_t now = mxg_now_ns();
	int i;

	for (i = 0; i < ACCEPT_BATCH; i++) {
		struct ucred cred = { .uid = (uid_t)-1 };
		socklen_t credlen = sizeof(cred);
		struct epoll_event ev;
		struct client *c;
		int fd = accept4(s->listen_fd, NULL, NULL,
				 SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				break;
			/* Out of descriptors or memory: a level-triggered
			 * listener would spin; wait a little or until a
			 * client goes. */
			set_accepting(s, false);
			s->accept_resume_ns = now + ACCEPT_PAUSE_NS;
			s->refused++;
			count(s, MXG_DAEMON_LOOKUP_REFUSED);
			break;
		}
		/* Over the cap: closed at once, so the MTA sees the end of
		 * the connection (and defers) instead of a full backlog. */
		if (s->nclients >= s->max_clients ||
		    !(c = calloc(1, sizeof(*c)))) {
			close(fd);
			s->refused++;
			count(s, MXG_DAEMON_LOOKUP_REFUSED);
			continue;
		}
		/* The uid at connect; a socket that cannot say shares the
		 * slots of uid -1 with every other such one. */
		getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &credlen);
		if (!uid_take(s, cred.uid)) {
			close(fd);
			free(c);
			s->refused_uid++;
			count(s, MXG_DAEMON_LOOKUP_REFUSED);
			s->refused_uid_last = cred.uid;
			continue;
		}
		c->fd = fd;
		c->uid = cred.uid;
		c->last_ns = now;
		c->events = EPOLLIN | EPOLLRDHUP;
		ev.events = c->events;
		ev.data.ptr = c;
		if (epoll_ctl(s->epoll_fd, EPOLL_CTL_ADD, fd, &ev)) {
			uid_put(s, cred.uid);
			close(fd);
			free(c);
			s->refused++;
			continue;
		}
		c->next = s->clients;
		if (s->clients)
			s->clients->prev = c;
		s->clients = c;
		s->nclients++;
	}
	log_refused(s, now);
}

/* Close the clients past their request's deadline (saying why, if the
 * reply fits without blocking) and the idle ones. */
static void sweep_clients(struct mxg_lookup_server *s, uint64_t now)
{
	struct client *c = s->clients, *next;
	char reply[64];

	while (c) {
		next = c->next;
		if (c->req_ns && now - c->req_ns > s->request_ns) {
			if (out_room(c) >= MXG_LOOKUP_REPLY_NS_MAX) {
				snprintf(reply, sizeof(reply), "PERM request not complete within %u ms",
					 s->request_ms);
				put_reply(s, c, reply);
				client_flush(c);
			}
			client_close(s, c);
		} else if (now - c->last_ns > s->idle_ns) {
			client_close(s, c);
		}
		c = next;
	}
}

static void *lookup_thread(void *arg)
{
	struct mxg_lookup_server *s = arg;
	struct epoll_event evs[MAX_EVENTS];
	uint64_t last_sweep = mxg_now_ns(), now;
	int n, i;

	for (;;) {
		n = epoll_wait(s->epoll_fd, evs, MAX_EVENTS, TICK_MS);
		if (n < 0 && errno != EINTR) {
			mxg_err("lookup: epoll_wait: %s; the lookup socket stops answering",
				strerror(errno));
			break;
		}
		for (i = 0; i < n; i++) {
			void *p = evs[i].data.ptr;

			if (p == &stop_tag)
				return NULL;
			if (p == &listen_tag)
				accept_clients(s);
			else
				client_event(s, p, evs[i].events);
		}
		now = mxg_now_ns();
		if (s->accept_paused && now >= s->accept_resume_ns)
			set_accepting(s, true);
		if (now - last_sweep >= TICK_MS * 1000000ULL) {
			sweep_clients(s, now);
			log_refused(s, now);
			last_sweep = now;
		}
	}
	return NULL;
}

/* ---- start and stop ---------------------------------------------------- */

int mxg_lookup_check_path(const char *path, char *err, size_t errlen)
{
	char copy[sizeof(((struct sockaddr_un *)0)->sun_path)], dir[sizeof(copy)];
	struct stat st;
	int ret;

	if (!path || path[0] != '/' || strlen(path) >= sizeof(copy)) {
		snprintf(err, errlen, "lookup socket '%s': not an absolute path of at most %zu characters",
			 path ? path : "", sizeof(copy) - 1);
		return -EINVAL;
	}
	/* The most common mistake gets its own message: bind() would only
	 * say "No such file or directory". */
	strcpy(copy, path);
	snprintf(dir, sizeof(dir), "%s", dirname(copy));
	ret = stat(dir, &st) ? -errno : S_ISDIR(st.st_mode) ? 0 : -ENOTDIR;
	if (ret) {
		snprintf(err, errlen, "cannot create the lookup socket %s: directory %s %s (create it first, e.g. RuntimeDirectory=mxguard in the systemd unit)",
			 path, dir, ret == -ENOENT ? "does not exist" :
			 ret == -ENOTDIR ? "is not a directory" : strerror(-ret));
		return ret;
	}
	if (!lstat(path, &st) && !S_ISSOCK(st.st_mode)) {
		snprintf(err, errlen, "cannot create the lookup socket %s: a file that is not a socket is in the way (not replacing it)",
			 path);
		return -EEXIST;
	}
	return 0;
}

/* A socket file at path: stale (nobody accepts on it) or live? */
static int check_existing(const char *path, char *err, size_t errlen)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct stat st;
	int fd, ret;

	if (lstat(path, &st)) {
		if (errno == ENOENT)
			return 0;
		ret = -errno;
		snprintf(err, errlen, "cannot create the lookup socket %s: %s",
			 path, strerror(errno));
		return ret;
	}
	if (!S_ISSOCK(st.st_mode)) {
		snprintf(err, errlen, "cannot create the lookup socket %s: a file that is not a socket is in the way (not replacing it)",
			 path);
		return -EEXIST;
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		ret = -errno;
		snprintf(err, errlen, "cannot create a unix socket: %s", strerror(errno));
		return ret;
	}
	strcpy(sa.sun_path, path);
	ret = connect(fd, (struct sockaddr *)&sa, sizeof(sa)) ? -errno : 0;
	close(fd);
	/* Refused: the socket of a process that is gone; replace it. A full
	 * backlog (EAGAIN) means someone listens. */
	if (ret == -ECONNREFUSED) {
		if (unlink(path) && errno != ENOENT) {
			ret = -errno;
			snprintf(err, errlen, "cannot remove the stale lookup socket %s: %s",
				 path, strerror(errno));
			return ret;
		}
		mxg_info("lookup: replaced the stale socket %s", path);
		return 0;
	}
	snprintf(err, errlen, "cannot create the lookup socket %s: another process serves it (another mxguardd?)",
		 path);
	return -EADDRINUSE;
}

/* Enough descriptors for the clients: raise the soft limit toward the
 * hard one (systemd's default soft limit is 1024) and cap the clients to
 * what is there. */
static unsigned fit_fd_limit(unsigned want)
{
	struct rlimit rl;
	rlim_t need = (rlim_t)want + FD_RESERVE;

	if (getrlimit(RLIMIT_NOFILE, &rl))
		return want;
	if (rl.rlim_cur < need) {
		rl.rlim_cur = rl.rlim_max == RLIM_INFINITY || rl.rlim_max >= need ?
			      need : rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
		getrlimit(RLIMIT_NOFILE, &rl);
	}
	if (rl.rlim_cur >= need)
		return want;
	return rl.rlim_cur > 2 * FD_RESERVE ? (unsigned)(rl.rlim_cur - FD_RESERVE) :
					      FD_RESERVE / 4;
}

static void server_free(struct mxg_lookup_server *s)
{
	struct stat st;

	while (s->clients)
		client_close(s, s->clients);
	if (s->listen_fd >= 0) {
		close(s->listen_fd);
		/* Only our own file: a newer server may have replaced it. */
		if (!lstat(s->path, &st) && st.st_dev == s->dev &&
		    st.st_ino == s->ino)
			unlink(s->path);
	}
	if (s->epoll_fd >= 0)
		close(s->epoll_fd);
	if (s->stop_fd >= 0)
		close(s->stop_fd);
	free(s->uids);
	free(s);
}

int mxg_lookup_start(struct mxg_lookup_server **out,
		     const struct mxg_lookup_opts *opts, char *err,
		     size_t errlen)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct epoll_event ev = { .events = EPOLLIN };
	struct mxg_lookup_server *s;
	struct stat st;
	int ret;

	*out = NULL;
	ret = mxg_lookup_check_path(opts->path, err, errlen);
	if (ret)
		return ret;
	s = calloc(1, sizeof(*s));
	if (!s) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	s->listen_fd = s->epoll_fd = s->stop_fd = -1;
	strcpy(s->path, opts->path);
	s->answer = opts->answer;
	s->ctx = opts->ctx;
	s->counters_fd = opts->counted ? opts->counters_fd : -1;
	/* Counting goes on from the pinned figures across restarts. */
	for (__u32 k = 0; s->counters_fd >= 0 && k < MXG_DAEMON_COUNTERS; k++)
		bpf_map_lookup_elem(s->counters_fd, &k, &s->counts[k]);
	s->idle_ns = (uint64_t)(opts->idle_ms ? opts->idle_ms : MXG_LOOKUP_IDLE_MS) *
		     1000000ULL;
	s->request_ms = opts->request_ms ? opts->request_ms : MXG_LOOKUP_REQUEST_MS;
	s->request_ns = (uint64_t)s->request_ms * 1000000ULL;
	s->max_clients = fit_fd_limit(opts->max_clients ? opts->max_clients :
				      MXG_LOOKUP_MAX_CLIENTS);
	/* Half the slots (also when fewer descriptors made them fewer). */
	s->max_per_uid = opts->max_per_uid ? opts->max_per_uid :
			 s->max_clients / 2;
	if (s->max_per_uid > s->max_clients)
		s->max_per_uid = s->max_clients;
	if (!s->max_per_uid)
		s->max_per_uid = 1;
	s->uids = calloc(s->max_clients, sizeof(*s->uids));
	if (!s->uids) {
		snprintf(err, errlen, "out of memory");
		ret = -ENOMEM;
		goto fail;
	}

	ret = check_existing(opts->path, err, errlen);
	if (ret)
		goto fail;

	s->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (s->listen_fd < 0) {
		ret = -errno;
		snprintf(err, errlen, "cannot create a unix socket: %s", strerror(errno));
		goto fail;
	}
	strcpy(sa.sun_path, opts->path);
	if (bind(s->listen_fd, (struct sockaddr *)&sa, sizeof(sa))) {
		ret = -errno;
		snprintf(err, errlen, "cannot bind the lookup socket %s: %s",
			 opts->path, strerror(errno));
		close(s->listen_fd);
		s->listen_fd = -1;	/* not ours to unlink */
		goto fail;
	}
	if (!lstat(opts->path, &st)) {
		s->dev = st.st_dev;
		s->ino = st.st_ino;
	}
	/* Before listen(): no client can connect while the mode and group
	 * are still the umask's and root's. */
	if (opts->set_group && chown(opts->path, (uid_t)-1, (gid_t)opts->gid)) {
		ret = -errno;
		snprintf(err, errlen, "cannot give the lookup socket %s to group %u: %s%s",
			 opts->path, (unsigned)opts->gid, strerror(errno),
			 errno == EPERM ? " (that takes CAP_CHOWN: see mxguardd(8))" : "");
		goto fail;
	}
	if (chmod(opts->path, opts->mode)) {
		ret = -errno;
		snprintf(err, errlen, "cannot set mode %04o on the lookup socket %s: %s",
			 opts->mode, opts->path, strerror(errno));
		goto fail;
	}
	if (listen(s->listen_fd, SOMAXCONN)) {
		ret = -errno;
		snprintf(err, errlen, "cannot listen on the lookup socket %s: %s",
			 opts->path, strerror(errno));
		goto fail;
	}
	s->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
	s->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (s->epoll_fd < 0 || s->stop_fd < 0) {
		ret = -errno;
		snprintf(err, errlen, "lookup: cannot create an epoll or eventfd: %s",
			 strerror(errno));
		goto fail;
	}
	ev.data.ptr = &listen_tag;
	if (epoll_ctl(s->epoll_fd, EPOLL_CTL_ADD, s->listen_fd, &ev))
		goto fail_epoll;
	ev.data.ptr = &stop_tag;
	if (epoll_ctl(s->epoll_fd, EPOLL_CTL_ADD, s->stop_fd, &ev))
		goto fail_epoll;
	ret = -pthread_create(&s->thread, NULL, lookup_thread, s);
	if (ret) {
		snprintf(err, errlen, "lookup: cannot start its thread: %s",
			 strerror(-ret));
		goto fail;
	}
	s->thread_started = true;
	*out = s;
	return 0;

fail_epoll:
	ret = -errno;
	snprintf(err, errlen, "lookup: epoll_ctl: %s", strerror(errno));
fail:
	server_free(s);
	return ret;
}

void mxg_lookup_stop(struct mxg_lookup_server *s)
{
	uint64_t one = 1;

	if (!s)
		return;
	if (s->thread_started) {
		if (write(s->stop_fd, &one, sizeof(one)) != sizeof(one))
			mxg_err("lookup: cannot signal its thread: %s", strerror(errno));
		pthread_join(s->thread, NULL);
	}
	server_free(s);
}
