/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * One connection to the [ldap] directory as configured: ldap_initialize,
 * the options, StartTLS, and a simple bind with the first line of the
 * password file; with several URIs, to the first server that completes
 * all of it, named to the caller (failover). The recipient mirror (mirror_ldap.c) and the tuner's
 * latency probe (tuner_signals.c) each open their own sessions through
 * it, so both reach the directory the same way and say the same thing
 * when they cannot.
 */
#ifndef MXG_LDAP_CONN_H
#define MXG_LDAP_CONN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <ldap.h>
#include "config.h"

struct mxg_ldap_timeouts {
	uint64_t network_ns;	/* the TCP connect and TLS handshake */
	/* Each synchronous request: StartTLS, the bind, and (the option
	 * stays on the session) every later synchronous call that gives no
	 * timeout of its own. */
	uint64_t op_ns;
	/* The whole connection's bound, 0 for none: each step waits at
	 * most what is left of it (the probe must never block longer than
	 * its timeout; the mirror can wait step by step). */
	uint64_t total_ns;
	/* TCP keepalive on the session: for a long-lived one (the mirror's)
	 * whose server may vanish without a FIN. */
	bool keepalive;
	/* Open the connection here even when neither StartTLS nor a bind
	 * needs it: libldap otherwise connects at the first request, whose
	 * time would then include the connect (the probe times its
	 * searches). */
	bool connect_now;
};

/*
 * Connect as cfg says (several URIs: the first that answers, see
 * mxg_ldap_connect_first). 0 with *out a session for ldap_unbind_ext_s(), or
 * -errno with one line in err and nothing left open:
 *   -EINVAL     the URI is refused ("URI: Bad parameter to an ldap routine")
 *   -errno      the password file cannot be read, or its first line is
 *               empty or too long (-EINVAL)
 *   -ETIMEDOUT  the server took the connection but did not answer StartTLS
 *               or the bind in time, or total_ns ran out between steps
 *   -EACCES     the bind or StartTLS was refused
 *   -EIO        the server cannot be reached, or another failure
 * err reads "connect: Can't contact LDAP server", "starttls: ...",
 * "bind as the bind_dn: Invalid credentials", "cannot read
 * bind_password_file PATH: ...", "bind_password_file PATH: its first line
 * is empty".
 */
int mxg_ldap_connect(const struct mxg_ldap_config *cfg,
		     const struct mxg_ldap_timeouts *t, LDAP **out, char *err,
		     size_t errlen);

/*
 * mxg_ldap_connect, naming the server reached: server (serverlen bytes,
 * may be NULL with 0) gets the URI of the session, as written in cfg->uri.
 * With several URIs (blank-separated) each is tried in turn, in order,
 * with the whole of connect, StartTLS and bind (connected at once, whatever
 * connect_now says), and the first that completes them is the session;
 * total_ns, when set, bounds all of the attempts together. When none
 * does, err names each with its reason ("URI: connect: Can't contact LDAP
 * server; URI: bind as the bind_dn: Invalid credentials") and the return
 * is the first failure of a server that answered (-ETIMEDOUT, -EACCES,
 * ...), else -EIO. With one URI, err and the return are as for
 * mxg_ldap_connect. The password file is read once, before any server.
 */
int mxg_ldap_connect_first(const struct mxg_ldap_config *cfg,
			   const struct mxg_ldap_timeouts *t, LDAP **out,
			   char *server, size_t serverlen, char *err,
			   size_t errlen);

/* The URIs in a blank-separated list (a config's uri). */
unsigned mxg_ldap_uri_count(const char *list);

/* "WHAT: libldap's message (the server's diagnostic)" into err. */
void mxg_ldap_error(char *err, size_t errlen, LDAP *ld, int rc,
		    const char *what);

/*
 * Whether the server's root DSE lists value among attr's values
 * ("supportedControl" and LDAP_CONTROL_SYNC for syncrepl,
 * "supportedExtension" and LDAP_EXOP_REFRESH for RFC 2589's dynamic
 * entries). 0 with *found (false also when the root DSE may not be read),
 * or -EIO with err ("connect: ...") when the server does not answer: it is
 * often a session's first request. Shared by the mirror and the fleet.
 */
int mxg_ldap_root_dse_lists(LDAP *ld, const char *attr, const char *value,
			    bool *found, char *err, size_t errlen);

/* A libldap result code as -errno, as mxg_ldap_connect returns them
 * (-ENOENT for noSuchObject). */
int mxg_ldap_errno(int rc);

#endif
