/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Recipient lookups for the MTA: a Postfix socketmap server on a unix
 * socket, answered from the recipient mirror only, never from LDAP.
 *
 * By role: the protocol's codec (lookup_codec.h: netstrings, requests),
 * what is answered (lookup_answer.h: the mirror's verdict as a reply),
 * and here the server. Exim's readsocket expansion speaks the protocol
 * too (docs/mta.md): it writes one request, shuts its side down and reads
 * until the server closes.
 *
 * One thread with its own epoll serves every client; buffers per client
 * are fixed, clients are capped in all and per user (uid, from
 * SO_PEERCRED), a request must be whole within a deadline from its first
 * byte, idle clients are closed: no local user can hold every slot.
 */
#ifndef MXG_LOOKUP_H
#define MXG_LOOKUP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "lookup_codec.h"
/* The daemon's answer function comes with the server. */
#include "lookup_answer.h"

#define MXG_LOOKUP_MAX_CLIENTS 1024
#define MXG_LOOKUP_IDLE_MS 60000
/* A request must be whole this long after its first byte: Postfix and
 * Exim write each in one go, so only a client that trickles it waits. */
#define MXG_LOOKUP_REQUEST_MS 5000

struct mxg_lookup_opts {
	const char *path;	/* the socket; its directory must exist */
	uint32_t mode;		/* permission bits of the socket file */
	bool set_group;		/* give the socket file to group gid */
	uint32_t gid;
	unsigned max_clients;	/* 0: MXG_LOOKUP_MAX_CLIENTS */
	/* Clients of one user (uid) at once; 0: half of max_clients (512).
	 * The MTA's own (Postfix's smtpd, trivial-rewrite, proxymap: one
	 * connection a process, all of user postfix; default_process_limit
	 * is 100) fit with room, and no other user can take the rest. */
	unsigned max_per_uid;
	unsigned idle_ms;	/* 0: MXG_LOOKUP_IDLE_MS */
	unsigned request_ms;	/* 0: MXG_LOOKUP_REQUEST_MS */
	mxg_lookup_fn answer;
	void *ctx;
	/* Count the answers by result and the refused clients into this
	 * mxg_daemon map (mxguard.h), for the metrics. */
	bool counted;
	int counters_fd;
};

struct mxg_lookup_server;

/* What can be checked before the daemon touches anything: an absolute
 * path that fits a unix socket, in a directory that exists, not taken by
 * a file that is not a socket. 0 or -errno with a message in err. */
int mxg_lookup_check_path(const char *path, char *err, size_t errlen);

/*
 * Create the socket (replacing a stale one that nobody listens on; never
 * a live one, nor a file that is not a socket) and start the thread.
 * Returns 0 or -errno with a message in err.
 */
int mxg_lookup_start(struct mxg_lookup_server **out,
		     const struct mxg_lookup_opts *opts, char *err,
		     size_t errlen);

/* Stop the thread, close every client, remove the socket file if it is
 * still ours. NULL is fine. */
void mxg_lookup_stop(struct mxg_lookup_server *s);

#endif
