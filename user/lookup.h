/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Recipient lookups for the MTA: a Postfix socketmap server on a unix
 * socket, answered from the recipient mirror only, never from LDAP.
 *
 * Protocol (Postfix socketmap_table(5)): each request is a netstring
 * "LEN:NAME KEY," and each reply a netstring "OK value", "NOTFOUND ",
 * "TEMP reason", "TIMEOUT reason" or "PERM reason". Exim's readsocket
 * expansion speaks it too (docs/mta.md): it writes one request, shuts its
 * side down and reads until the server closes.
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
#include "maps.h"
#include "recipients.h"

#define MXG_LOOKUP_REQ_MAX 4096		/* longest request payload served */
#define MXG_LOOKUP_REPLY_MAX 512	/* longest reply payload written */
#define MXG_LOOKUP_MAX_CLIENTS 1024
#define MXG_LOOKUP_IDLE_MS 60000
/* A request must be whole this long after its first byte: Postfix and
 * Exim write each in one go, so only a client that trickles it waits. */
#define MXG_LOOKUP_REQUEST_MS 5000

/*
 * Find one netstring at the start of buf[0..len).
 * Returns 1 when it is complete: the payload is buf[*hdr .. *hdr + *plen)
 * and the whole netstring is *hdr + *plen + 1 bytes. Returns 0 when more
 * bytes are needed. Returns -EMSGSIZE when the declared length is over
 * max: *hdr and *plen are set, so the caller may discard the payload and
 * keep the connection. Returns -EPROTO when the framing is broken (no
 * digits, a leading zero, no ':', no ',' after the payload); *why says
 * which, and nothing after it can be trusted.
 */
int mxg_netstring_parse(const char *buf, size_t len, size_t max, size_t *hdr,
			uint64_t *plen, const char **why);

/*
 * Answer one key: write the reply payload ("OK ...", "NOTFOUND ", ...),
 * NUL-terminated, into reply (MXG_LOOKUP_REPLY_MAX bytes). ctx is the
 * server's.
 */
typedef void (*mxg_lookup_fn)(void *ctx, const char *key, size_t keylen,
			      char *reply);

/*
 * The reply payload for one request payload "NAME KEY" (any NAME): PERM
 * when it is not "NAME KEY" or holds a NUL byte, else answer()'s.
 */
void mxg_lookup_request(const char *req, size_t len, mxg_lookup_fn answer,
			void *ctx, char *reply);

/*
 * The mirror's answer for a key, as the MTA needs it (docs/mta.md):
 * ready and known -> "OK <normalised address>"; not one of our domains,
 * or no "user@domain" at all (Postfix's "@domain" and bare "user"
 * lookups) -> "NOTFOUND "; local domain but the mirror not ready ->
 * "TEMP mirror not ready"; local domain, ready, not known -> "NOTFOUND ";
 * an address no mirror can hold (too long, control bytes) -> PERM.
 * ret/why are mxg_rcpt_check()'s.
 */
void mxg_lookup_rcpt_reply(int ret, const struct mxg_rcpt_answer *ans,
			   const char *why, char *reply);

/* answer() for the daemon: mxg_rcpt_check() on the maps in ctx. */
void mxg_lookup_answer_rcpt(void *ctx, const char *key, size_t keylen,
			    char *reply);

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
