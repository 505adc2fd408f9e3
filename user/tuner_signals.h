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

/* "some avg10" of a /proc/pressure file, in hundredths of a percent. */
int mxg_psi_parse(const char *text, uint64_t *avg10_centi);
int mxg_psi_read(const char *path, uint64_t *avg10_centi, char *err,
		 size_t errlen);

/* The directory process's descriptors. */
struct mxg_fd_reading {
	pid_t pid;
	uint64_t in_use;	/* entries of /proc/PID/fd */
	uint64_t limit;		/* soft "Max open files" of /proc/PID/limits */
};

/* The soft "Max open files" of a /proc/PID/limits text ("unlimited":
 * UINT64_MAX). */
int mxg_limits_parse_nofile(const char *text, uint64_t *soft);

/*
 * Read the directory's descriptors: its pid from pid_file, checked to be
 * a live process whose /proc/PID/comm is process (so a stale pid file
 * whose pid was reused is not read as the directory). proc is "/proc"
 * (the tests give a tree of their own).
 */
int mxg_fd_read(const char *proc, const char *pid_file, const char *process,
		struct mxg_fd_reading *out, char *err, size_t errlen);

/* The directory's latency probe, on a session of its own. */
struct mxg_ldap_probe;

int mxg_ldap_probe_new(struct mxg_ldap_probe **out,
		       const struct mxg_ldap_config *cfg, uint64_t timeout_ns);
/*
 * One probe: connect (and bind) if not connected, then a base-scope
 * search of cfg->base for one attribute, timed. 0 with *latency_ns: a
 * search that timed out gives the timeout (the session is dropped, so a
 * late answer is never read as the next probe's). -errno with err when
 * the directory cannot be reached or refuses the search: the signal is
 * unreadable then, not slow.
 */
int mxg_ldap_probe_run(struct mxg_ldap_probe *p, uint64_t *latency_ns,
		       char *err, size_t errlen);
void mxg_ldap_probe_free(struct mxg_ldap_probe *p);

#endif
