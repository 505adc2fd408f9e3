/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Messages to stderr: lower-case, naming the object and the cause. libbpf's
 * own log is shown only with -v, since its verifier dumps drown the line
 * that matters.
 */
#ifndef MXG_LOG_H
#define MXG_LOG_H

#include <stdbool.h>

extern const char *mxg_prog_name;
extern bool mxg_verbose;

void mxg_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void mxg_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void mxg_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Send messages to syslog (daemon facility) instead of stderr. */
void mxg_log_to_syslog(void);
/* Route libbpf's messages through mxg_debug. */
void mxg_log_setup_libbpf(void);

#endif
