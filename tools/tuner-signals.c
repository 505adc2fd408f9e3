/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * tuner-signals: the tuner's signals (user/tuner_signals.h) read one at a
 * time from the command line, as mxguardd's tuner reads them, for the
 * lab's tests and for an operator who wants to see what the tuner would
 * see.
 *
 *   tuner-signals ldap -H URI -b BASE [-D DN -y PASSWORD_FILE] [-Z]
 *                 [-C CA_FILE] -t TIMEOUT [-n COUNT] [-i INTERVAL] [-s]
 *       COUNT probes (default 1), one every INTERVAL (default 1s), on one
 *       probe session; with -s, one probe per line read from standard
 *       input instead, until its end (a test then decides when each
 *       probe runs). One line per probe:
 *         ok latency_us=N took_us=N
 *         error errno=-N took_us=N MESSAGE
 *       took_us is how long the call blocked, connect included.
 *   tuner-signals fd PROC PID_FILE PROCESS
 *         pid=N in_use=N limit=N|unlimited   or   error errno=-N MESSAGE
 *   tuner-signals psi PATH
 *         avg10=N.NN                         or   error errno=-N MESSAGE
 *
 * Exit status: 0 when every reading was read, 1 when one was not, 2 for
 * a usage error.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "maps.h"	/* mxg_now_ns */
#include "parse.h"
#include "tuner_signals.h"

#define ERR_LEN 1024

static int usage(void)
{
	fprintf(stderr,
		"usage: tuner-signals ldap -H URI -b BASE [-D DN -y PASSWORD_FILE] [-Z] [-C CA_FILE]\n"
		"                          -t TIMEOUT [-n COUNT] [-i INTERVAL] [-s]\n"
		"       tuner-signals fd PROC PID_FILE PROCESS\n"
		"       tuner-signals psi PATH\n");
	return 2;
}

/* A string option into a fixed buffer of the config. */
static int copy_arg(char *dst, size_t size, const char *what, const char *s)
{
	if (strlen(s) >= size) {
		fprintf(stderr, "tuner-signals: %s: longer than %zu bytes\n", what, size - 1);
		return -EINVAL;
	}
	strcpy(dst, s);
	return 0;
}

static void sleep_ns(uint64_t ns)
{
	struct timespec ts = { (time_t)(ns / 1000000000ULL), (long)(ns % 1000000000ULL) };

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

static int cmd_ldap(int argc, char **argv)
{
	struct mxg_ldap_config cfg = { .enabled = true };
	uint64_t timeout_ns = 0, interval_ns = 1000000000ULL, count = 1;
	struct mxg_ldap_probe *p = NULL;
	bool from_stdin = false;
	char err[ERR_LEN], line[64];
	int opt, ret, status = 0;

	while ((opt = getopt(argc, argv, "H:b:D:y:ZC:t:n:i:s")) != -1) {
		switch (opt) {
		case 'H':
			ret = copy_arg(cfg.uri, sizeof(cfg.uri), "-H", optarg);
			break;
		case 'b':
			ret = copy_arg(cfg.base, sizeof(cfg.base), "-b", optarg);
			break;
		case 'D':
			ret = copy_arg(cfg.bind_dn, sizeof(cfg.bind_dn), "-D", optarg);
			break;
		case 'y':
			ret = copy_arg(cfg.bind_password_file, sizeof(cfg.bind_password_file),
				       "-y", optarg);
			break;
		case 'Z':
			cfg.starttls = true;
			ret = 0;
			break;
		case 'C':
			ret = copy_arg(cfg.ca_file, sizeof(cfg.ca_file), "-C", optarg);
			break;
		case 't':
			ret = mxg_parse_duration(optarg, 1000000ULL, 3600000000000ULL, &timeout_ns);
			if (ret)
				fprintf(stderr, "tuner-signals: -t: '%s' is not a duration from 1ms to 1h\n",
					optarg);
			break;
		case 'n':
			ret = mxg_parse_u64(optarg, 1, 1000000, &count);
			if (ret)
				fprintf(stderr, "tuner-signals: -n: '%s' is not a count from 1 to 1000000\n",
					optarg);
			break;
		case 'i':
			ret = mxg_parse_duration(optarg, 0, 3600000000000ULL, &interval_ns);
			if (ret)
				fprintf(stderr, "tuner-signals: -i: '%s' is not a duration up to 1h\n",
					optarg);
			break;
		case 's':
			from_stdin = true;
			ret = 0;
			break;
		default:
			return usage();
		}
		if (ret)
			return 2;
	}
	if (optind != argc || !cfg.uri[0] || !cfg.base[0] || !timeout_ns ||
	    !cfg.bind_dn[0] != !cfg.bind_password_file[0])
		return usage();

	ret = mxg_ldap_probe_new(&p, &cfg, timeout_ns);
	if (ret) {
		fprintf(stderr, "tuner-signals: %s\n", strerror(-ret));
		return 1;
	}
	/* Each line goes out as it is written: a test reads it at once. */
	setvbuf(stdout, NULL, _IOLBF, 0);
	for (uint64_t i = 0; from_stdin || i < count; i++) {
		uint64_t latency = 0, start, took;

		if (from_stdin && !fgets(line, sizeof(line), stdin))
			break;
		if (!from_stdin && i)
			sleep_ns(interval_ns);
		start = mxg_now_ns();
		ret = mxg_ldap_probe_run(p, &latency, err, sizeof(err));
		took = mxg_now_ns() - start;
		if (ret) {
			printf("error errno=%d took_us=%llu %s\n", ret,
			       (unsigned long long)(took / 1000), err);
			status = 1;
		} else {
			printf("ok latency_us=%llu took_us=%llu\n",
			       (unsigned long long)(latency / 1000),
			       (unsigned long long)(took / 1000));
		}
	}
	mxg_ldap_probe_free(p);
	return status;
}

static int cmd_fd(int argc, char **argv)
{
	struct mxg_fd_reading r;
	char err[ERR_LEN];
	int ret;

	if (argc != 4)
		return usage();
	ret = mxg_fd_read(argv[1], argv[2], argv[3], &r, err, sizeof(err));
	if (ret) {
		printf("error errno=%d %s\n", ret, err);
		return 1;
	}
	if (r.limit == UINT64_MAX)
		printf("pid=%d in_use=%llu limit=unlimited\n", (int)r.pid,
		       (unsigned long long)r.in_use);
	else
		printf("pid=%d in_use=%llu limit=%llu\n", (int)r.pid,
		       (unsigned long long)r.in_use, (unsigned long long)r.limit);
	return 0;
}

static int cmd_psi(int argc, char **argv)
{
	char err[ERR_LEN];
	uint64_t v;
	int ret;

	if (argc != 2)
		return usage();
	ret = mxg_psi_read(argv[1], &v, err, sizeof(err));
	if (ret) {
		printf("error errno=%d %s\n", ret, err);
		return 1;
	}
	printf("avg10=%llu.%02llu\n", (unsigned long long)(v / 100),
	       (unsigned long long)(v % 100));
	return 0;
}

int main(int argc, char **argv)
{
	/* As mxguardd: a write to a connection the directory reset is an
	 * error to report, not a signal that ends the process. */
	signal(SIGPIPE, SIG_IGN);
	if (argc < 2)
		return usage();
	if (!strcmp(argv[1], "ldap"))
		return cmd_ldap(argc - 1, argv + 1);
	if (!strcmp(argv[1], "fd"))
		return cmd_fd(argc - 1, argv + 1);
	if (!strcmp(argv[1], "psi"))
		return cmd_psi(argc - 1, argv + 1);
	return usage();
}
