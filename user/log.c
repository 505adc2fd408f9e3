/* SPDX-License-Identifier: BSD-2-Clause */
/* Logging for mxguardd and mxguardctl; see log.h. */
#include <stdarg.h>
#include <stdio.h>
#include <syslog.h>
#include <bpf/libbpf.h>
#include "log.h"

const char *mxg_prog_name = "mxguard";
bool mxg_verbose;
static bool use_syslog;

void mxg_log_to_syslog(void)
{
	openlog(mxg_prog_name, LOG_PID, LOG_DAEMON);
	use_syslog = true;
}

static void vlog(int prio, const char *fmt, va_list ap)
{
	if (use_syslog) {
		vsyslog(prio, fmt, ap);
		return;
	}
	/*
	 * stderr is unbuffered: each call below is its own write. The tuner
	 * and the mirror log from their own threads, so without the lock one
	 * line can land inside another ("mxguardd: mxguardd: tuner: ...",
	 * then "ready" alone), and whoever waits for a line never sees it.
	 */
	flockfile(stderr);
	fprintf(stderr, "%s: ", mxg_prog_name);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	funlockfile(stderr);
}

void mxg_err(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(LOG_ERR, fmt, ap);
	va_end(ap);
}

void mxg_info(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(LOG_INFO, fmt, ap);
	va_end(ap);
}

void mxg_debug(const char *fmt, ...)
{
	va_list ap;

	if (!mxg_verbose)
		return;
	va_start(ap, fmt);
	vlog(LOG_DEBUG, fmt, ap);
	va_end(ap);
}

static int libbpf_print(enum libbpf_print_level level, const char *fmt,
			va_list ap)
{
	if (!mxg_verbose)
		return 0;
	return vfprintf(stderr, fmt, ap);
}

void mxg_log_setup_libbpf(void)
{
	libbpf_set_print(libbpf_print);
}
