/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * mxguardctl metrics: the Prometheus text exposition format, rendered by
 * user/metrics.c exactly as mxguardd's /metrics endpoint renders it. To
 * stdout, or with --output FILE written atomically for node_exporter's
 * textfile collector: a temporary file in the same directory (its name
 * starts with '.' and does not end in .prom, so the collector never reads
 * it half written), fsync'd, mode 0644, renamed over FILE. There is no
 * JSON form: the format is the contract, and -j is a usage error.
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "ctl/ctl.h"
#include "metrics.h"

static int write_all(int fd, const char *buf, size_t len)
{
	while (len) {
		ssize_t n = write(fd, buf, len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

/* FILE replaced whole or not at all. */
static int write_atomic(struct ctl *ctl, const char *path, const char *text,
			size_t len)
{
	char dir_copy[PATH_MAX], base_copy[PATH_MAX], tmp[PATH_MAX];
	const char *dir, *base;
	int fd, dfd, ret;

	if (strlen(path) >= sizeof(dir_copy)) {
		ctl_error(ctl, "metrics --output: the path is too long");
		return -ENAMETOOLONG;
	}
	strcpy(dir_copy, path);
	strcpy(base_copy, path);
	dir = dirname(dir_copy);
	base = basename(base_copy);
	if (snprintf(tmp, sizeof(tmp), "%s/.%s.XXXXXX", dir, base) >= (int)sizeof(tmp)) {
		ctl_error(ctl, "metrics --output: the path is too long");
		return -ENAMETOOLONG;
	}
	fd = mkstemp(tmp);
	if (fd < 0) {
		ret = -errno;
		ctl_error(ctl, "metrics --output: cannot create a temporary file in %s: %s", dir,
			  strerror(errno));
		return ret;
	}
	/* mkstemp() makes it 0600; the collector may run as another user. */
	ret = fchmod(fd, 0644) ? -errno : 0;
	if (!ret)
		ret = write_all(fd, text, len);
	if (!ret && fsync(fd))
		ret = -errno;
	if (close(fd) && !ret)
		ret = -errno;
	if (!ret && rename(tmp, path))
		ret = -errno;
	if (ret) {
		unlink(tmp);
		ctl_error(ctl, "cannot write %s: %s", path, strerror(-ret));
		return ret;
	}
	/* The rename itself durable too. */
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0) {
		fsync(dfd);
		close(dfd);
	}
	return 0;
}

int ctl_metrics(struct ctl *ctl, const struct ctl_args *a)
{
	char err[512], *text;
	size_t len;
	int ret;

	ret = mxg_metrics_collect(&ctl->maps, &text, &len, err, sizeof(err));
	if (ret) {
		ctl_error(ctl, "%s", err);
		return ret;
	}
	if (a->output) {
		ret = write_atomic(ctl, a->output, text, len);
	} else {
		ret = write_all(STDOUT_FILENO, text, len);
		if (ret)
			ctl_error(ctl, "cannot write the metrics: %s", strerror(-ret));
	}
	free(text);
	return ret;
}
