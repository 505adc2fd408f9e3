/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * tcp-sink: the server side of the kernel matrix's live checks
 * (tools/kernel-guest.sh). It listens on ADDR at each PORT with a deep
 * backlog, accepts every connection and holds it, reads and discards what
 * the client sends, and closes its side only when the client has closed
 * its own: a server that never refuses and never closes first, so that the
 * connection counter and the SMTP reader see exactly what the client did.
 * busybox nc listens with a backlog of 1 and serves one connection, too
 * little to hold several at once.
 *
 * Prints "listening" once every port is bound, then runs until killed.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <netinet/in.h>
#include <sys/socket.h>

#define MAX_PORTS 8
#define MAX_FDS 1024	/* listeners plus held connections */

static int listen_on(const struct in_addr *addr, long port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr = *addr,
				  .sin_port = htons((unsigned short)port) };
	int one = 1, fd;

	fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    bind(fd, (struct sockaddr *)&sa, sizeof(sa)) || listen(fd, 4096)) {
		fprintf(stderr, "tcp-sink: cannot listen on port %ld: %s\n", port,
			strerror(errno));
		return -1;
	}
	return fd;
}

int main(int argc, char **argv)
{
	struct pollfd pfd[MAX_FDS];
	size_t nlisten = 0, n;
	struct in_addr addr;
	char buf[4096];

	if (argc < 3 || argc - 2 > MAX_PORTS || inet_pton(AF_INET, argv[1], &addr) != 1) {
		fprintf(stderr, "usage: tcp-sink IPV4_ADDR PORT... (at most %d ports)\n",
			MAX_PORTS);
		return 2;
	}
	for (int i = 2; i < argc; i++) {
		char *end;
		long port;

		errno = 0;
		port = strtol(argv[i], &end, 10);
		if (errno || end == argv[i] || *end || port < 1 || port > 65535) {
			fprintf(stderr, "tcp-sink: '%s' is not a port (1..65535)\n", argv[i]);
			return 2;
		}
		pfd[nlisten].fd = listen_on(&addr, port);
		if (pfd[nlisten].fd < 0)
			return 1;
		pfd[nlisten++].events = POLLIN;
	}
	n = nlisten;
	printf("listening\n");
	fflush(stdout);

	for (;;) {
		/* Full: the listeners wait (no busy loop) until one closes. */
		for (size_t l = 0; l < nlisten; l++)
			pfd[l].events = n < MAX_FDS ? POLLIN : 0;
		if (poll(pfd, n, -1) < 0) {
			if (errno == EINTR)
				continue;
			fprintf(stderr, "tcp-sink: poll: %s\n", strerror(errno));
			return 1;
		}
		/* Connections first, from the end: closing one moves the last
		 * into its slot, which has been looked at already. */
		for (size_t i = n; i-- > nlisten;) {
			ssize_t r;

			if (!pfd[i].revents)
				continue;
			r = read(pfd[i].fd, buf, sizeof(buf));
			if (r > 0 || (r < 0 && errno == EAGAIN))
				continue;
			close(pfd[i].fd);
			pfd[i] = pfd[--n];
		}
		for (size_t l = 0; l < nlisten; l++) {
			if (!pfd[l].revents)
				continue;
			/* Past MAX_FDS the backlog holds the rest: they stay
			 * established, just not read yet. */
			while (n < MAX_FDS) {
				int fd = accept4(pfd[l].fd, NULL, NULL,
						 SOCK_NONBLOCK | SOCK_CLOEXEC);

				if (fd < 0)
					break;
				pfd[n].fd = fd;
				pfd[n++].events = POLLIN;
			}
		}
	}
}
