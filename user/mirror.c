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
	return mode == MXG_SYNC_SYNCREPL ? mxg_mirror_follow_syncrepl(&w->session) :
					   run_poll(w);
}

static void *writer_main(void *arg)
{
	struct mxg_mirror_writer *w = arg;
	const char *why = w->session.last_error;
	char logged[sizeof(w->session.last_error)] = "";
	int backoff = BACKOFF_MIN_MS, ret;

	while (!atomic_load(&w->stop)) {
		uint64_t start = mxg_now_ns();

		w->session.last_error[0] = '\0';
		ret = mxg_mirror_session_open(&w->session);
		if (!ret) {
			ret = follow(w);
			mxg_mirror_session_close(&w->session);
			if (!ret || atomic_load(&w->stop))
				break;
			/* A session that lasted: its end is news, retry soon. */
			if (mxg_now_ns() - start > SESSION_LASTED_NS) {
				backoff = BACKOFF_MIN_MS;
				logged[0] = '\0';
			}
		}
		mxg_mirror_record_disconnected(&w->store.maps);
		/* One line per distinct failure, not one per retry. */
		if (why[0] && strcmp(logged, why)) {
			mxg_err("recipient mirror: %s: %s (keeping the last mirror, retrying)",
				w->session.cfg.uri, why);
			memcpy(logged, why, sizeof(logged));
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
