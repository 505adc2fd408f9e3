/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * lookup-watch [-r RATE] [-t SECS] SOCKET EXPECT-FILE: a steady socketmap
 * load on mxguardd's [lookup] socket that checks every answer, for the
 * failover test and bench (tests/integration/test_failover.sh,
 * tools/failover-bench.sh) while a directory server dies under the
 * mirror.
 *
 * EXPECT-FILE has one lookup a line, "OK ADDRESS" or "NOTFOUND ADDRESS":
 * the answer the mirror must give. The keys are asked in turn, one request
 * in flight (as an MTA asks), RATE a second (default 500) until SECS have
 * passed (default 60) or SIGTERM/SIGINT. Each answer is right (the
 * expected one), wrong (OK for a NOTFOUND or the reverse: a false unknown
 * or a false known), TEMP (the mirror not ready: the MTA defers, which is
 * safe) or other (PERM, TIMEOUT, garbage). A connection that fails is an
 * error and is opened again 10 ms later.
 *
 * Prints one JSON line at the end: the counts; temp_s, the time spent
 * answering TEMP (from a TEMP answer to the next answer that is not);
 * first_temp and last_temp, the wall-clock time (s since the epoch, as
 * bash's EPOCHREALTIME) of the first and last TEMP answers (null when
 * none); start and end; and the first wrong answer. Every change between
 * TEMP and not is also a line on stderr with its time, and so is the
 * first answer (a caller waits for it before it acts).
 */
#include <errno.h>
#include <stdbool.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include "socketmap.h"

#define MAX_KEYS 100000
#define KEY_MAX 512

struct key {
	char *addr;
	bool found;	/* OK expected, else NOTFOUND */
};

static volatile sig_atomic_t stopping;

static void on_signal(int sig)
{
	stopping = 1;
}

static double mono_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double wall_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void nap(double s)
{
	struct timespec ts = { (time_t)s, (long)((s - (double)(time_t)s) * 1e9) };

	nanosleep(&ts, NULL);
}

static int open_socket(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	if (fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		close(fd);
		fd = -1;
	}
	return fd;
}

static void json_string(const char *s)
{
	putchar('"');
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			printf("\\%c", *s);
		else if ((unsigned char)*s < 0x20)
			printf("\\u%04x", *s);
		else
			putchar(*s);
	}
	putchar('"');
}

static void json_time(const char *name, double t)
{
	if (t > 0)
		printf(",\"%s\":%.3f", name, t);
	else
		printf(",\"%s\":null", name);
}

int main(int argc, char **argv)
{
	unsigned long long lookups = 0, right = 0, wrong = 0, temp = 0, other = 0, errors = 0;
	double rate = 500, secs = 60, start, start_wall, deadline, temp_since = 0;
	double temp_s = 0, first_temp = 0, last_temp = 0, end_wall;
	char line[KEY_MAX + 16], first_wrong[2048] = "";
	struct sigaction sa = { .sa_handler = on_signal };
	struct key *keys;
	size_t nkeys = 0;
	FILE *f;
	int opt, fd = -1;

	while ((opt = getopt(argc, argv, "r:t:")) != -1) {
		if (opt == 'r')
			rate = atof(optarg);
		else if (opt == 't')
			secs = atof(optarg);
		else
			goto usage;
	}
	if (argc - optind != 2 || rate <= 0 || rate > 100000 || secs <= 0 || secs > 3600)
		goto usage;
	f = fopen(argv[optind + 1], "re");
	if (!f) {
		fprintf(stderr, "lookup-watch: %s: %s\n", argv[optind + 1], strerror(errno));
		return 1;
	}
	keys = calloc(MAX_KEYS, sizeof(*keys));
	while (keys && nkeys < MAX_KEYS && fgets(line, sizeof(line), f)) {
		char *sp;

		line[strcspn(line, "\n")] = '\0';
		sp = strchr(line, ' ');
		if (!sp || (strncmp(line, "OK ", 3) && strncmp(line, "NOTFOUND ", 9))) {
			fprintf(stderr, "lookup-watch: '%s': want OK or NOTFOUND, a blank, an address\n", line);
			return 1;
		}
		keys[nkeys].found = line[0] == 'O';
		keys[nkeys].addr = strdup(sp + 1);
		if (!keys[nkeys++].addr)
			return 1;
	}
	fclose(f);
	if (!nkeys) {
		fprintf(stderr, "lookup-watch: no keys\n");
		return 1;
	}
	/* No SA_RESTART: a blocked read returns at once. */
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);

	start = mono_s();
	start_wall = wall_s();
	deadline = start + secs;
	for (unsigned long long i = 0; !stopping;) {
		const struct key *k = &keys[i % nkeys];
		double due = start + (double)i / rate, now = mono_s();
		char req[KEY_MAX + 32], reply[1024];
		bool is_temp;
		int n;

		if (now >= deadline)
			break;
		if (due > now) {
			nap(due < deadline ? due - now : deadline - now);
			continue;
		}
		if (fd < 0) {
			fd = open_socket(argv[optind]);
			if (fd < 0) {
				errors++;
				nap(0.01);
				continue;
			}
		}
		i++;
		n = snprintf(req, sizeof(req), "%zu:rcpt %s,", strlen(k->addr) + 5, k->addr);
		if (write(fd, req, (size_t)n) != n || socketmap_read_reply(fd, reply, sizeof(reply))) {
			if (stopping)
				break;
			errors++;
			close(fd);
			fd = -1;
			continue;
		}
		if (!lookups++)
			fprintf(stderr, "lookup-watch: %.3f first answer\n", wall_s());
		is_temp = !strncmp(reply, "TEMP", 4);
		if (is_temp) {
			temp++;
			last_temp = wall_s();
			if (!temp_since) {
				temp_since = mono_s();
				if (!first_temp)
					first_temp = last_temp;
				fprintf(stderr, "lookup-watch: %.3f TEMP from here (%s)\n", last_temp, reply);
			}
		} else {
			if (temp_since) {
				temp_s += mono_s() - temp_since;
				temp_since = 0;
				fprintf(stderr, "lookup-watch: %.3f TEMP no more\n", wall_s());
			}
			if ((k->found && !strncmp(reply, "OK", 2)) ||
			    (!k->found && !strncmp(reply, "NOTFOUND", 8))) {
				right++;
			} else if (!strncmp(reply, "OK", 2) || !strncmp(reply, "NOTFOUND", 8)) {
				wrong++;
				if (!first_wrong[0])
					snprintf(first_wrong, sizeof(first_wrong), "%.3f %.512s: %.256s, want %s",
						 wall_s(), k->addr, reply, k->found ? "OK" : "NOTFOUND");
			} else {
				other++;
			}
		}
	}
	if (temp_since)
		temp_s += mono_s() - temp_since;
	if (fd >= 0)
		close(fd);
	end_wall = wall_s();
	printf("{\"lookups\":%llu,\"right\":%llu,\"wrong\":%llu,\"temp\":%llu,\"other\":%llu,\"errors\":%llu,\"temp_s\":%.3f",
	       lookups, right, wrong, temp, other, errors, temp_s);
	json_time("first_temp", first_temp);
	json_time("last_temp", last_temp);
	json_time("start", start_wall);
	json_time("end", end_wall);
	printf(",\"first_wrong\":");
	json_string(first_wrong);
	printf("}\n");
	for (size_t i = 0; i < nkeys; i++)
		free(keys[i].addr);
	free(keys);
	return 0;
usage:
	fprintf(stderr, "usage: lookup-watch [-r RATE] [-t SECS] SOCKET EXPECT-FILE\n");
	return 2;
}
