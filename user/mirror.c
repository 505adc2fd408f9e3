/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The recipient mirror's writer thread (see mirror.h): a session with the
 * directory, followed with syncrepl or polled, and when it fails the next
 * one after a backoff. The directory side is mirror_ldap.c, the inner maps
 * mirror_store.c, the readiness record mirror_record.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "ldap_conn.h"
#include "log.h"
#include "mirror.h"
#include "mirror_ldap.h"
#include "mirror_record.h"
#include "mirror_store.h"
#include "recipients.h"

#define BACKOFF_MIN_MS 1000
#define BACKOFF_MAX_MS 60000
#define SESSION_LASTED_NS (30 * 1000000000ULL)

struct mxg_mirror_writer {
	pthread_t thread;
	bool thread_started;
	atomic_bool stop;
	int wake[2];		/* a byte here ends a backoff sleep */
	struct mxg_mirror_store store;
	struct mxg_mirror_session session;
};

/* Sleep ms unless stopped; returns false when stopped. */
static bool nap(struct mxg_mirror_writer *w, int ms)
{
	struct pollfd p = { .fd = w->wake[0], .events = POLLIN };

	if (atomic_load(&w->stop))
		return false;
	poll(&p, 1, ms);
	return !atomic_load(&w->stop);
}

static int run_poll(struct mxg_mirror_writer *w)
{
	int ret;

	for (;;) {
		ret = mxg_mirror_refresh_paged(&w->session);
		if (ret)
			return ret;
		if (!nap(w, w->session.cfg.poll_interval_ns / 1000000))
			return 0;
	}
}

/* An open session followed to its end: 0 when stopped, else -errno with
 * the session's last_error saying why. */
static int follow(struct mxg_mirror_writer *w)
{
	uint32_t mode;
	int ret = mxg_mirror_session_mode(&w->session, &mode);

	if (ret)
		return ret;
	mxg_mirror_record_mode(&w->store.maps, mode);
	if (mode == MXG_SYNC_SYNCREPL)
		return mxg_mirror_follow_syncrepl(&w->session);
	/* With syncrepl asked for, session_mode said why it polls. */
	if (w->session.cfg.sync == MXG_SYNC_POLL)
		mxg_info("recipient mirror: polling %s every %llu s", w->session.server,
			 (unsigned long long)(w->session.cfg.poll_interval_ns / 1000000000ULL));
	return run_poll(w);
}

/* The line for a failure: the server of a session that ended, else the
 * configured URI (one), else nothing more (several: last_error names
 * each with its reason). */
static void failure_line(struct mxg_mirror_writer *w, bool opened, char *line,
			 size_t len)
{
	const struct mxg_mirror_session *s = &w->session;

	if (opened)
		snprintf(line, len, "%s: %s", s->server, s->last_error);
	else if (mxg_ldap_uri_count(s->cfg.uri) <= 1)
		snprintf(line, len, "%s: %s", s->cfg.uri, s->last_error);
	else
		snprintf(line, len, "no server answers: %s", s->last_error);
}

static void *writer_main(void *arg)
{
	struct mxg_mirror_writer *w = arg;
	/* The server followed last, to say when the next is another. */
	char followed[sizeof(w->session.server)] = "";
	char line[sizeof(w->session.server) + sizeof(w->session.last_error) + 32];
	char logged[sizeof(line)] = "";
	int backoff = BACKOFF_MIN_MS, ret;

	while (!atomic_load(&w->stop)) {
		uint64_t start = mxg_now_ns(), swaps = w->store.swaps;
		bool opened;

		w->session.last_error[0] = '\0';
		ret = mxg_mirror_session_open(&w->session);
		opened = !ret;
		if (opened) {
			/* Failover (or back): which server the mirror follows
			 * now, since the directory's replicas may lag. */
			if (followed[0] && strcmp(followed, w->session.server))
				mxg_info("recipient mirror: switched from %s to %s",
					 followed, w->session.server);
			memcpy(followed, w->session.server, sizeof(followed));
			ret = follow(w);
			mxg_mirror_session_close(&w->session);
			if (!ret || atomic_load(&w->stop))
				break;
			/*
			 * A session that lasted, or that gave a whole mirror:
			 * its server worked, so its end is news: retry soon
			 * (the next URI that answers, when it is gone), and
			 * say the next failure even if it reads the same.
			 * The mirror keeps answering meanwhile, up to
			 * max_age: a failover within it is never seen.
			 */
			if (mxg_now_ns() - start > SESSION_LASTED_NS ||
			    w->store.swaps != swaps) {
				backoff = BACKOFF_MIN_MS;
				logged[0] = '\0';
			}
		}
		mxg_mirror_record_disconnected(&w->store.maps);
		/* One line per distinct failure, not one per retry. */
		if (w->session.last_error[0]) {
			failure_line(w, opened, line, sizeof(line));
			if (strcmp(logged, line)) {
				mxg_err("recipient mirror: %s (keeping the last mirror, retrying)",
					line);
				memcpy(logged, line, sizeof(logged));
			}
		}
		if (!nap(w, backoff))
			break;
		backoff = backoff * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : backoff * 2;
	}
	mxg_mirror_record_disconnected(&w->store.maps);
	return NULL;
}

int mxg_mirror_start(struct mxg_mirror_writer **out, const struct mxg_config *cfg,
		     const struct mxg_maps *maps, const struct mxg_inner_btf *btf)
{
	struct mxg_mirror_writer *w;
	int ret;

	w = calloc(1, sizeof(*w));
	if (!w)
		return -ENOMEM;
	w->wake[0] = w->wake[1] = -1;
	w->store.live.fd = w->store.fresh.fd = -1;
	mxg_mirror_session_init(&w->session, &cfg->ldap, cfg->recipient_delimiter,
				&w->store, &w->stop);

	ret = mxg_hash_key_ensure(maps, &w->session.key);
	if (!ret)
		ret = mxg_mirror_record_config(maps, cfg);
	/* The configured mode until the server says which one it can be. */
	if (!ret)
		ret = mxg_mirror_record_mode(maps, cfg->ldap.sync);
	if (!ret && pipe2(w->wake, O_CLOEXEC | O_NONBLOCK))
		ret = -errno;
	/* Keep serving what is pinned until the first refresh replaces it. */
	if (!ret)
		ret = mxg_mirror_store_open(&w->store, maps, cfg->pin_dir,
					    btf);
	if (ret)
		goto fail;
	ret = -pthread_create(&w->thread, NULL, writer_main, w);
	if (ret)
		goto fail;
	w->thread_started = true;
	*out = w;
	return 0;
fail:
	mxg_mirror_stop(w);
	return ret;
}

void mxg_mirror_stop(struct mxg_mirror_writer *w)
{
	if (!w)
		return;
	if (w->thread_started) {
		atomic_store(&w->stop, true);
		if (w->wake[1] >= 0)
			(void)!write(w->wake[1], "x", 1);
		mxg_mirror_session_interrupt(&w->session);
		pthread_join(w->thread, NULL);
	}
	mxg_mirror_store_close(&w->store);
	mxg_mirror_session_destroy(&w->session);
	if (w->wake[0] >= 0)
		close(w->wake[0]);
	if (w->wake[1] >= 0)
		close(w->wake[1]);
	free(w);
}
