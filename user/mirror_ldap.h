/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The mirror's side of the directory (libldap): one session (opened
 * through ldap_conn.h, as the tuner's probe opens its own), the choice
 * between syncrepl and polling, a paged full refresh, and a syncrepl
 * refreshAndPersist search followed until it ends.
 * Each entry's values become address hashes here (normalised and hashed
 * as the BPF side does, bpf/rcpt.h) and go to the store (mirror_store.h).
 * Run by the writer thread; only mxg_mirror_session_interrupt() is called
 * from another.
 */
#ifndef MXG_MIRROR_LDAP_H
#define MXG_MIRROR_LDAP_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <ldap.h>
#include "config.h"
#include "mirror_store.h"

struct mxg_mirror_session {
	struct mxg_ldap_config cfg;	/* a copy: libldap takes char * */
	char delims[MXG_DELIM_MAX];	/* recipient_delimiter */
	struct mxg_hash_key key;	/* the installation's (set by the writer) */
	struct mxg_mirror_store *store;
	const atomic_bool *stop;	/* set by the stopper */
	pthread_mutex_t lock;		/* guards ld against the stopper */
	LDAP *ld;			/* NULL between sessions */
	uint64_t skipped_logged, last_skip_log_ns;
	/* The URI of the open session (one of cfg.uri's), "" before one
	 * opened; kept after it closes, for the line that says why. */
	char server[sizeof(((struct mxg_ldap_config *)0)->uri)];
	/* The server ended the persistent search (with success): the
	 * session no longer follows anything. */
	bool search_ended;
	/* Why the last session failed, for the thread's log line; with
	 * several URIs and none answering, it names each. */
	char last_error[1024];
};

void mxg_mirror_session_init(struct mxg_mirror_session *s,
			     const struct mxg_ldap_config *cfg,
			     const char *delims, struct mxg_mirror_store *store,
			     const atomic_bool *stop);
void mxg_mirror_session_destroy(struct mxg_mirror_session *s);

/* Connect, StartTLS and bind as configured (ldap_conn.h): with several
 * URIs, to the first server that answers, named in server. 0, or -errno
 * with last_error set (and server ""). */
int mxg_mirror_session_open(struct mxg_mirror_session *s);
void mxg_mirror_session_close(struct mxg_mirror_session *s);

/* From another thread: a blocking libldap call of the session returns
 * once its socket is shut. */
void mxg_mirror_session_interrupt(struct mxg_mirror_session *s);

/* The mode to run: syncrepl when configured and the server offers it
 * (its root DSE says so), else poll. -EIO when the server does not
 * answer. */
int mxg_mirror_session_mode(struct mxg_mirror_session *s, uint32_t *mode);

/* One paged full refresh, swapped in when whole. -EINTR when stopped. */
int mxg_mirror_refresh_paged(struct mxg_mirror_session *s);

/* A syncrepl refresh, swapped in when whole, then every change applied as
 * it comes until stopped (0) or the session ends (-EIO). */
int mxg_mirror_follow_syncrepl(struct mxg_mirror_session *s);

#endif
