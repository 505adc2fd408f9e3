/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The tuner's signals, each read on its own: the directory's search
 * latency (a timed base-scope search on the tuner's own session, never
 * the mirror's), the directory's descriptors (its pid file and /proc),
 * and the host's pressure stall information. Each returns 0 with a value
 * or -errno with one line in err saying what could not be read and why,
 * for the tuner to report once.
 */
#ifndef MXG_TUNER_SIGNALS_H
#define MXG_TUNER_SIGNALS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include "config.h"

/*
 * "some avg10" of a /proc/pressure file, in hundredths of a percent
 * (0..10000). The parse is strict: the text must begin with the kernel's
 * whole "some avg10=D.DD avg60=D.DD avg300=D.DD total=N" line, else
 * -EINVAL (-ERANGE for a percent over 100). The read gives -ENOENT on a
 * kernel without PSI (err says so), -errno naming the file otherwise.
 */
int mxg_psi_parse(const char *text, uint64_t *avg10_centi);
int mxg_psi_read(const char *path, uint64_t *avg10_centi, char *err,
		 size_t errlen);

/* The directory process's descriptors. */
struct mxg_fd_reading {
	pid_t pid;
	uint64_t in_use;	/* entries of /proc/PID/fd */
	uint64_t limit;		/* soft "Max open files" of /proc/PID/limits */
	/* Connections waiting in its listening sockets' accept queues
	 * (/proc/PID/net/tcp{,6}): established, so the guard counts them,
	 * but holding no descriptor until it accepts them. */
	uint64_t queued;
};

/* The soft "Max open files" of a /proc/PID/limits text ("unlimited":
 * UINT64_MAX). -ENOENT without that line, -EINVAL for a line that is not
 * the kernel's. */
int mxg_limits_parse_nofile(const char *text, uint64_t *soft);

/*
 * Read the directory's descriptors: its pid from pid_file (-errno naming
 * it when it cannot be read; one decimal number and an optional line end,
 * else -EINVAL), checked to be a live process whose /proc/PID/comm is
 * process (the first 15 bytes of a longer name, as the kernel keeps
 * them), so a stale pid file whose pid was reused is not read as the
 * directory (-ESRCH: "stale pid file PATH: no process PID", "pid file
 * PATH names PID, which is 'foo', not slapd").
 * in_use counts the entries of /proc/PID/fd, queued the connections in
 * the accept queues of its listening sockets. proc is "/proc" (the tests
 * give a tree of their own). Another user's /proc/PID/fd needs root.
 */
int mxg_fd_read(const char *proc, const char *pid_file, const char *process,
		struct mxg_fd_reading *out, char *err, size_t errlen);

/* The directory's latency probe, on a session of its own ([ldap]'s uri,
 * starttls, ca_file and bind; never the mirror's). new connects to
 * nothing yet: -EINVAL without a uri or a timeout, -ENOMEM. */
struct mxg_ldap_probe;

int mxg_ldap_probe_new(struct mxg_ldap_probe **out,
		       const struct mxg_ldap_config *cfg, uint64_t timeout_ns);
/*
 * One probe: connect (StartTLS, bind) if not connected, then a
 * base-scope search of cfg->base for no attribute ("1.1"), timed on
 * CLOCK_MONOTONIC from the request to the whole answer. A fresh
 * session's connect is not counted in the latency. The whole run, connect
 * included, blocks at most timeout_ns.
 *
 * 0 with *latency_ns: a search that gets no answer within the run's
 * timeout gives the timeout (the session is dropped, its search
 * abandoned, so a late answer is never read as the next probe's); so do a
 * server that took the connection but did not answer StartTLS or the
 * bind in time, and a search answered timeLimitExceeded or busy: the
 * directory is slow then, not gone. A kept session the server has closed
 * since the last run is opened again once within the run.
 *
 * -errno with one line in err ("URI: connect: Can't contact LDAP
 * server", "URI: bind as the bind_dn: Invalid credentials", "URI: search
 * of BASE: No such object") when the directory cannot be reached, refuses
 * the bind or refuses the search: the signal is unreadable then, not
 * slow. A refused search keeps the session. The caller ignores SIGPIPE
 * (mxguardd does): libldap writes to a connection the server may have
 * reset.
 */
int mxg_ldap_probe_run(struct mxg_ldap_probe *p, uint64_t *latency_ns,
		       char *err, size_t errlen);
void mxg_ldap_probe_free(struct mxg_ldap_probe *p);

#endif
