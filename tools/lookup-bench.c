/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * lookup-bench SOCKET KEYS-FILE CONNECTIONS [ROUNDS]: socketmap lookups
 * per second against a running server (mxguardd's [lookup] socket), the
 * way an MTA asks: each connection sends one request and waits for its
 * reply before the next (no pipelining), CONNECTIONS threads at once, each
 * walking the keys (one per line) ROUNDS times (default 1) from its own
 * offset. Prints "lookups N seconds S per_second R found F errors E".
 * Used by tools/lookup-bench.sh; nothing is asserted.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include "socketmap.h"

#define MAX_CONNS 256
#define MAX_KEYS 1000000
#define KEY_MAX 512

struct worker {
	pthread_t thread;
	const char *path;
	char **keys;
	size_t nkeys, offset;
	unsigned rounds;
	unsigned long long lookups, found, errors;
};

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void *work(void *arg)
{
	struct worker *w = arg;
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char req[KEY_MAX + 32], reply[1024];
	int fd;

	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", w->path);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		w->errors++;
		goto out;
	}
	for (unsigned r = 0; r < w->rounds; r++) {
		for (size_t i = 0; i < w->nkeys; i++) {
			const char *key = w->keys[(w->offset + i) % w->nkeys];
			int n = snprintf(req, sizeof(req), "%zu:rcpt %s,",
					 strlen(key) + 5, key);

			if (write(fd, req, (size_t)n) != n ||
			    socketmap_read_reply(fd, reply, sizeof(reply))) {
				w->errors++;
				goto out;
			}
			w->lookups++;
			w->found += !strncmp(reply, "OK ", 3);
		}
	}
out:
	if (fd >= 0)
		close(fd);
	return NULL;
}

int main(int argc, char **argv)
{
	static struct worker workers[MAX_CONNS];
	unsigned long long lookups = 0, found = 0, errors = 0;
	char line[KEY_MAX], **keys = NULL;
	size_t nkeys = 0;
	unsigned conns, rounds = 1;
	double t0, secs;
	FILE *f;
	int ret = 1;

	if (argc < 4 || argc > 5) {
		fprintf(stderr, "usage: lookup-bench SOCKET KEYS-FILE CONNECTIONS [ROUNDS]\n");
		return 2;
	}
	conns = (unsigned)atoi(argv[3]);
	if (argc == 5)
		rounds = (unsigned)atoi(argv[4]);
	if (conns < 1 || conns > MAX_CONNS || rounds < 1) {
		fprintf(stderr, "lookup-bench: 1..%d connections, >= 1 round\n", MAX_CONNS);
		return 2;
	}
	f = fopen(argv[2], "re");
	if (!f) {
		fprintf(stderr, "lookup-bench: %s: %s\n", argv[2], strerror(errno));
		return 1;
	}
	keys = calloc(MAX_KEYS, sizeof(*keys));
	while (keys && nkeys < MAX_KEYS && fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\n")] = '\0';
		if (line[0] && !(keys[nkeys++] = strdup(line)))
			goto cleanup;
	}
	if (!nkeys) {
		fprintf(stderr, "lookup-bench: no keys in %s\n", argv[2]);
		goto cleanup;
	}

	t0 = now_s();
	for (unsigned i = 0; i < conns; i++) {
		workers[i] = (struct worker){
			.path = argv[1], .keys = keys, .nkeys = nkeys,
			.offset = nkeys * i / conns, .rounds = rounds,
		};
		if (pthread_create(&workers[i].thread, NULL, work, &workers[i])) {
			fprintf(stderr, "lookup-bench: cannot start a thread\n");
			conns = i;
			break;
		}
	}
	for (unsigned i = 0; i < conns; i++) {
		pthread_join(workers[i].thread, NULL);
		lookups += workers[i].lookups;
		found += workers[i].found;
		errors += workers[i].errors;
	}
	secs = now_s() - t0;
	printf("lookups %llu seconds %.3f per_second %.0f found %llu errors %llu\n",
	       lookups, secs, secs > 0 ? (double)lookups / secs : 0.0, found, errors);
	ret = errors ? 1 : 0;
cleanup:
	fclose(f);
	for (size_t i = 0; i < nkeys; i++)
		free(keys[i]);
	free(keys);
	return ret;
}
