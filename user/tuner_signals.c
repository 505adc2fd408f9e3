/* SPDX-License-Identifier: BSD-2-Clause */
/* The tuner's signals; see tuner_signals.h. */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "ldap_conn.h"
#include "maps.h"	/* mxg_now_ns: CLOCK_MONOTONIC */
#include "parse.h"
#include "tuner_signals.h"

/* /proc/PID/limits is ~1.4 KB, a pressure file ~100 bytes, comm 16. */
#define PROC_FILE_MAX 4096
/* A pid file holds a pid and a line end; anything longer is not one. */
#define PID_FILE_MAX 32
/* The kernel keeps 15 bytes of a process name (TASK_COMM_LEN - 1). */
#define COMM_MAX 15
#define PSI_PERCENT_MAX 100

/* ---- small readers ----------------------------------------------------- */

/* A whole small file into buf, NUL-terminated. -errno; -EFBIG when it
 * does not fit. */
static int read_small(const char *path, char *buf, size_t size, size_t *len)
{
	size_t n = 0;
	ssize_t r;
	int fd = open(path, O_RDONLY | O_CLOEXEC), ret = 0;

	if (fd < 0)
		return -errno;
	/* procfs gives a file in more than one read when it likes. */
	while (n < size - 1) {
		r = read(fd, buf + n, size - 1 - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			ret = -errno;
			break;
		}
		if (!r)
			break;
		n += (size_t)r;
	}
	if (!ret && n == size - 1) {
		char more;

		r = read(fd, &more, 1);
		if (r > 0)
			ret = -EFBIG;
	}
	close(fd);
	buf[n] = '\0';
	*len = n;
	return ret;
}

/* Up to max bytes of s, control bytes as '?', for a message. */
static void shown(char *out, size_t outlen, const char *s, size_t len,
		  size_t max)
{
	size_t n = len < max ? len : max, i;

	if (!outlen)
		return;
	if (n > outlen - 4)
		n = outlen - 4;
	for (i = 0; i < n; i++)
		out[i] = (unsigned char)s[i] >= 0x20 && (unsigned char)s[i] < 0x7f ? s[i] : '?';
	if (len > n) {
		memcpy(out + n, "...", 3);
		n += 3;
	}
	out[n] = '\0';
}

/* ---- pressure stall information ---------------------------------------- */

/* "D.DD" (the kernel prints LOAD_INT.LOAD_FRAC, always two decimals), a
 * percent, into hundredths; *s moves past it. */
static int parse_centi(const char **s, uint64_t *out)
{
	const char *p = *s;
	uint64_t v = 0;
	int digits = 0;

	while (isdigit((unsigned char)*p) && digits < 4) {
		v = v * 10 + (uint64_t)(*p++ - '0');
		digits++;
	}
	if (!digits || isdigit((unsigned char)*p) || *p++ != '.' ||
	    !isdigit((unsigned char)p[0]) || !isdigit((unsigned char)p[1]) ||
	    isdigit((unsigned char)p[2]))
		return -EINVAL;
	v = v * 100 + (uint64_t)(p[0] - '0') * 10 + (uint64_t)(p[1] - '0');
	if (v > PSI_PERCENT_MAX * 100)
		return -ERANGE;
	*s = p + 2;
	*out = v;
	return 0;
}

/*
 * The first line must be the kernel's "some" line, all of it:
 * "some avg10=D.DD avg60=D.DD avg300=D.DD total=N". Whatever follows (the
 * "full" line of newer kernels) is not read.
 */
int mxg_psi_parse(const char *text, uint64_t *avg10_centi)
{
	static const char *const fields[] = { "some avg10=", " avg60=", " avg300=" };
	const char *p = text;
	uint64_t v[3];
	int ret;

	for (unsigned i = 0; i < 3; i++) {
		size_t n = strlen(fields[i]);

		if (strncmp(p, fields[i], n))
			return -EINVAL;
		p += n;
		ret = parse_centi(&p, &v[i]);
		if (ret)
			return ret;
	}
	if (strncmp(p, " total=", 7))
		return -EINVAL;
	p += 7;
	if (!isdigit((unsigned char)*p))
		return -EINVAL;
	while (isdigit((unsigned char)*p))
		p++;
	if (*p != '\n' && *p != '\0')
		return -EINVAL;
	*avg10_centi = v[0];
	return 0;
}

int mxg_psi_read(const char *path, uint64_t *avg10_centi, char *err,
		 size_t errlen)
{
	char buf[PROC_FILE_MAX], text[64];
	size_t len;
	int ret = read_small(path, buf, sizeof(buf), &len);

	if (ret == -ENOENT) {
		snprintf(err, errlen, "%s: no such file (a kernel without PSI, or psi=0 on its command line)",
			 path);
		return ret;
	}
	if (ret == -EOPNOTSUPP) {
		/* CONFIG_PSI_DEFAULT_DISABLED: the files are there, empty. */
		snprintf(err, errlen, "cannot read %s: %s (PSI is off: psi=1 on the kernel command line turns it on)",
			 path, strerror(-ret));
		return ret;
	}
	if (ret) {
		snprintf(err, errlen, "cannot read %s: %s", path, strerror(-ret));
		return ret;
	}
	ret = mxg_psi_parse(buf, avg10_centi);
	if (ret) {
		const char *nl = memchr(buf, '\n', len);

		shown(text, sizeof(text), buf, nl ? (size_t)(nl - buf) : len, 48);
		snprintf(err, errlen, "%s: '%s' is not a pressure line (expected 'some avg10=N.NN avg60=... total=N')",
			 path, text);
		return -EINVAL;
	}
	return 0;
}

/* ---- the directory's descriptors --------------------------------------- */

int mxg_limits_parse_nofile(const char *text, uint64_t *soft)
{
	static const char key[] = "Max open files";
	const char *line = text, *p, *end;
	char word[32];
	size_t n;

	/* The key at the start of a line; "Limit ... Units" heads the table. */
	while (line && strncmp(line, key, sizeof(key) - 1)) {
		line = strchr(line, '\n');
		if (line)
			line++;
	}
	if (!line)
		return -ENOENT;
	p = line + sizeof(key) - 1;
	if (*p != ' ')
		return -EINVAL;
	while (*p == ' ')
		p++;
	for (end = p; *end && *end != ' ' && *end != '\n'; end++)
		;
	/* The hard limit follows: a soft limit alone is not the table. */
	if (*end != ' ')
		return -EINVAL;
	n = (size_t)(end - p);
	if (!n || n >= sizeof(word))
		return -EINVAL;
	memcpy(word, p, n);
	word[n] = '\0';
	if (!strcmp(word, "unlimited")) {
		*soft = UINT64_MAX;
		return 0;
	}
	return mxg_parse_u64(word, 0, UINT64_MAX - 1, soft);
}

/* The pid of a pid file: one decimal number, an optional line end. */
static int read_pid_file(const char *pid_file, pid_t *pid, char *err,
			 size_t errlen)
{
	char buf[PID_FILE_MAX], text[40];
	size_t len;
	uint32_t v;
	int ret = read_small(pid_file, buf, sizeof(buf), &len);

	if (ret && ret != -EFBIG) {
		snprintf(err, errlen, "cannot read pid file %s: %s", pid_file,
			 strerror(-ret));
		return ret;
	}
	shown(text, sizeof(text), buf, len, 24);
	if (!ret && len && buf[len - 1] == '\n')
		buf[--len] = '\0';
	/* pid_max is at most 2^22 (PID_MAX_LIMIT); pid 0 is no process. */
	if (ret || len != strlen(buf) || mxg_parse_u32(buf, 1, 4194304, &v)) {
		snprintf(err, errlen, "pid file %s: '%s' is not a pid (one decimal number expected)",
			 pid_file, text);
		return -EINVAL;
	}
	*pid = (pid_t)v;
	return 0;
}

/* The process's socket inodes, sorted, for accept_queued(). */
struct inodes {
	unsigned long *v;
	size_t n, cap;
};

static int cmp_inode(const void *a, const void *b)
{
	unsigned long x = *(const unsigned long *)a, y = *(const unsigned long *)b;

	return x < y ? -1 : x > y;
}

static int add_inode(struct inodes *in, unsigned long inode)
{
	if (in->n == in->cap) {
		size_t cap = in->cap ? in->cap * 2 : 256;
		unsigned long *v = realloc(in->v, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		in->v = v;
		in->cap = cap;
	}
	in->v[in->n++] = inode;
	return 0;
}

/* The entries of /proc/PID/fd, and the inodes of those that are
 * sockets ("socket:[N]"). */
static int count_fds(const char *dir, uint64_t *n, struct inodes *sockets)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	uint64_t count = 0;
	char target[64];
	unsigned long inode;
	ssize_t len;
	int ret = 0;

	if (!d)
		return -errno;
	errno = 0;
	while ((e = readdir(d))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		count++;
		/* A descriptor closed under us is simply not a socket. */
		len = readlinkat(dirfd(d), e->d_name, target, sizeof(target) - 1);
		if (len > 0) {
			target[len] = '\0';
			if (sscanf(target, "socket:[%lu]", &inode) == 1 &&
			    (ret = add_inode(sockets, inode)))
				break;
		}
		errno = 0;
	}
	/* A process that exits under us ends the listing with an error. */
	if (!ret && errno)
		ret = -errno;
	closedir(d);
	if (ret)
		return ret;
	if (sockets->n)
		qsort(sockets->v, sockets->n, sizeof(*sockets->v), cmp_inode);
	*n = count;
	return 0;
}

/*
 * The connections waiting in the accept queues of the process's listening
 * TCP sockets: for a socket in LISTEN, /proc/net/tcp's rx_queue is its
 * accept backlog. Each will take a descriptor once accepted, and the
 * guard counts it already. One file: 0, or -errno (-ENOENT: no such
 * table, e.g. no IPv6).
 */
static int accept_queued(const char *path, const struct inodes *sockets,
			 uint64_t *queued)
{
	FILE *f = fopen(path, "re");
	unsigned long inode, rxq;
	unsigned st;
	char *line = NULL;
	size_t size = 0;

	if (!f)
		return -errno;
	while (getline(&line, &size, f) > 0) {
		/* sl local rem st tx_queue:rx_queue tr:when retrnsmt uid timeout inode */
		if (sscanf(line, " %*u: %*[0-9A-Fa-f]:%*x %*[0-9A-Fa-f]:%*x %x %*x:%lx %*x:%*x %*x %*u %*u %lu",
			   &st, &rxq, &inode) != 3 || st != 0x0A /* TCP_LISTEN */)
			continue;
		if (sockets->n && bsearch(&inode, sockets->v, sockets->n,
					  sizeof(*sockets->v), cmp_inode))
			*queued += rxq;
	}
	free(line);
	fclose(f);
	return 0;
}

/* What a failed read of /proc/PID/<what> means: the process is gone (the
 * pid file is stale) or the file cannot be read, and why. */
static int proc_read_failed(int ret, const char *path, const char *pid_file,
			    pid_t pid, char *err, size_t errlen)
{
	if (ret == -ENOENT || ret == -ESRCH) {
		snprintf(err, errlen, "stale pid file %s: no process %d", pid_file,
			 (int)pid);
		return -ESRCH;
	}
	snprintf(err, errlen, "cannot read %s: %s%s", path, strerror(-ret),
		 ret == -EACCES ? " (another user's process: that takes root with CAP_DAC_READ_SEARCH; see mxguardd(8))" : "");
	return ret;
}

int mxg_fd_read(const char *proc, const char *pid_file, const char *process,
		struct mxg_fd_reading *out, char *err, size_t errlen)
{
	char path[512], buf[PROC_FILE_MAX], comm[COMM_MAX + 1];
	struct inodes sockets = { 0 };
	struct stat st;
	size_t len;
	pid_t pid;
	int ret;

	ret = read_pid_file(pid_file, &pid, err, errlen);
	if (ret)
		return ret;
	snprintf(path, sizeof(path), "%s/%d", proc, (int)pid);
	if (stat(path, &st) || !S_ISDIR(st.st_mode))
		return proc_read_failed(-ENOENT, path, pid_file, pid, err, errlen);

	/* A pid reused by another process since the pid file was written
	 * must not be read as the directory. */
	snprintf(path, sizeof(path), "%s/%d/comm", proc, (int)pid);
	ret = read_small(path, buf, sizeof(buf), &len);
	if (ret)
		return proc_read_failed(ret, path, pid_file, pid, err, errlen);
	if (len && buf[len - 1] == '\n')
		buf[--len] = '\0';
	/* The kernel keeps the first 15 bytes of a longer name. */
	if (strlen(process) > COMM_MAX ? strncmp(buf, process, COMM_MAX) || len != COMM_MAX :
					 strcmp(buf, process)) {
		shown(comm, sizeof(comm), buf, len, COMM_MAX);
		snprintf(err, errlen, "pid file %s names %d, which is '%s', not %s",
			 pid_file, (int)pid, comm, process);
		return -ESRCH;
	}

	snprintf(path, sizeof(path), "%s/%d/fd", proc, (int)pid);
	ret = count_fds(path, &out->in_use, &sockets);
	if (ret)
		goto out_read;
	out->queued = 0;
	for (int i = 0; i < 2; i++) {
		snprintf(path, sizeof(path), "%s/%d/net/%s", proc, (int)pid,
			 i ? "tcp6" : "tcp");
		ret = accept_queued(path, &sockets, &out->queued);
		if (ret == -ENOENT)
			ret = 0;	/* no such family here */
		if (ret)
			goto out_read;
	}

	snprintf(path, sizeof(path), "%s/%d/limits", proc, (int)pid);
	ret = read_small(path, buf, sizeof(buf), &len);
	if (ret)
		goto out_read;
	ret = mxg_limits_parse_nofile(buf, &out->limit);
	if (ret) {
		snprintf(err, errlen, "%s: no 'Max open files' soft limit in it", path);
		ret = -EINVAL;
		goto out;
	}
	out->pid = pid;
	goto out;
out_read:
	ret = proc_read_failed(ret, path, pid_file, pid, err, errlen);
out:
	free(sockets.v);
	return ret;
}

/* ---- the directory's latency ------------------------------------------- */

struct mxg_ldap_probe {
	struct mxg_ldap_config cfg;
	uint64_t timeout_ns;
	LDAP *ld;		/* NULL until connected, and after a failure */
};

int mxg_ldap_probe_new(struct mxg_ldap_probe **out,
		       const struct mxg_ldap_config *cfg, uint64_t timeout_ns)
{
	struct mxg_ldap_probe *p;

	if (!cfg->uri[0] || !timeout_ns)
		return -EINVAL;
	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	p->cfg = *cfg;
	p->timeout_ns = timeout_ns;
	*out = p;
	return 0;
}

/* The session ends: an answer still on its way is never read. */
static void probe_drop(struct mxg_ldap_probe *p, int msgid)
{
	if (!p->ld)
		return;
	if (msgid >= 0)
		ldap_abandon_ext(p->ld, msgid, NULL, NULL);
	ldap_unbind_ext_s(p->ld, NULL, NULL);
	p->ld = NULL;
}

static struct timeval timeval_left(uint64_t deadline_ns)
{
	uint64_t now = mxg_now_ns();
	uint64_t left = deadline_ns > now ? deadline_ns - now : 0;
	struct timeval tv = { (time_t)(left / 1000000000ULL),
			      (suseconds_t)(left % 1000000000ULL / 1000) };

	/* A zero timeval would be a poll, or "no limit" to the server. */
	if (!tv.tv_sec && tv.tv_usec < 1000)
		tv.tv_usec = 1000;
	return tv;
}

/* What a search ends with. */
enum search_end {
	SEARCH_ANSWERED,	/* *latency_ns is the search's time */
	SEARCH_SLOW,		/* no answer in time: the timeout */
	SEARCH_GONE,		/* the connection is gone: try a fresh one */
	SEARCH_FAILED,		/* the server refused the search; err set */
};

static enum search_end probe_search(struct mxg_ldap_probe *p,
				    uint64_t deadline_ns, uint64_t *latency_ns,
				    int *ret, char *err, size_t errlen)
{
	/* "1.1": no attributes (RFC 4511 4.5.1.8). The server still finds
	 * the entry and checks its access to it, as for any lookup, but the
	 * answer's size never depends on what the base entry holds, so the
	 * time is the server's, not the transfer's. */
	char *attrs[] = { "1.1", NULL };
	struct timeval tv = timeval_left(deadline_ns);
	LDAPMessage *res = NULL;
	char *diag = NULL;
	int msgid = -1, rc, code = LDAP_SERVER_DOWN;
	uint64_t start;

	start = mxg_now_ns();
	/* tv also goes to the server as the search's time limit (whole
	 * seconds, at least 1). */
	rc = ldap_search_ext(p->ld, p->cfg.base, LDAP_SCOPE_BASE, "(objectClass=*)",
			     attrs, 0, NULL, NULL, &tv, 1, &msgid);
	if (rc == LDAP_SERVER_DOWN || rc == LDAP_CONNECT_ERROR) {
		probe_drop(p, -1);
		return SEARCH_GONE;
	}
	if (rc != LDAP_SUCCESS) {
		mxg_ldap_error(err, errlen, p->ld, rc, "search");
		*ret = mxg_ldap_errno(rc);
		probe_drop(p, -1);
		return SEARCH_FAILED;
	}
	tv = timeval_left(deadline_ns);
	rc = ldap_result(p->ld, msgid, LDAP_MSG_ALL, &tv, &res);
	*latency_ns = mxg_now_ns() - start;
	if (rc == 0) {
		probe_drop(p, msgid);
		return SEARCH_SLOW;
	}
	if (rc < 0) {
		ldap_get_option(p->ld, LDAP_OPT_RESULT_CODE, &code);
		ldap_msgfree(res);
		probe_drop(p, msgid);
		if (code == LDAP_TIMEOUT)
			return SEARCH_SLOW;
		return SEARCH_GONE;
	}
	rc = ldap_parse_result(p->ld, res, &code, NULL, &diag, NULL, NULL, 1);
	if (rc != LDAP_SUCCESS) {
		ldap_memfree(diag);
		mxg_ldap_error(err, errlen, p->ld, rc, "search");
		*ret = -EIO;
		probe_drop(p, -1);
		return SEARCH_FAILED;
	}
	switch (code) {
	case LDAP_SUCCESS:
		ldap_memfree(diag);
		return SEARCH_ANSWERED;
	case LDAP_TIMELIMIT_EXCEEDED:
	case LDAP_BUSY:
		/* The server's own way of saying it is slow: the timeout,
		 * not an unreadable signal. */
		ldap_memfree(diag);
		return SEARCH_SLOW;
	default:
		/* The session itself is fine: kept for the next probe. */
		snprintf(err, errlen, "search of %s: %s%s%s%s", p->cfg.base,
			 ldap_err2string(code),
			 diag && *diag ? " (" : "", diag && *diag ? diag : "",
			 diag && *diag ? ")" : "");
		ldap_memfree(diag);
		*ret = mxg_ldap_errno(code);
		return SEARCH_FAILED;
	}
}

int mxg_ldap_probe_run(struct mxg_ldap_probe *p, uint64_t *latency_ns,
		       char *err, size_t errlen)
{
	uint64_t start = mxg_now_ns(), deadline = start + p->timeout_ns, took = 0;
	/* The base and the server's diagnostic fit. */
	char why[1024];
	int ret = 0;

	if (errlen)
		err[0] = '\0';
	for (int attempt = 0; attempt < 2; attempt++) {
		bool fresh = !p->ld;
		uint64_t now = mxg_now_ns();

		if (fresh) {
			const struct mxg_ldap_timeouts t = {
				.network_ns = p->timeout_ns,
				.op_ns = p->timeout_ns,
				.total_ns = deadline > now ? deadline - now : 1,
				.connect_now = true,
			};

			ret = mxg_ldap_connect(&p->cfg, &t, &p->ld, why, sizeof(why));
			/* The server took the connection but did not answer
			 * StartTLS or the bind in time: slow, not gone. */
			if (ret == -ETIMEDOUT) {
				*latency_ns = p->timeout_ns;
				return 0;
			}
			if (ret) {
				/* A URI libldap refuses names itself already. */
				bool named = !strncmp(why, p->cfg.uri, strlen(p->cfg.uri));

				snprintf(err, errlen, "%s%s%s", named ? "" : p->cfg.uri,
					 named ? "" : ": ", why);
				return ret;
			}
		}
		switch (probe_search(p, deadline, &took, &ret, why, sizeof(why))) {
		case SEARCH_ANSWERED:
			*latency_ns = took;
			return 0;
		case SEARCH_SLOW:
			*latency_ns = p->timeout_ns;
			return 0;
		case SEARCH_FAILED:
			snprintf(err, errlen, "%s: %s", p->cfg.uri, why);
			return ret;
		case SEARCH_GONE:
			/* A kept session the server has closed since (its
			 * idletimeout, a restart): once more on a new one. */
			if (!fresh && mxg_now_ns() < deadline)
				continue;
			snprintf(err, errlen, "%s: search: %s", p->cfg.uri,
				 ldap_err2string(LDAP_SERVER_DOWN));
			return -EIO;
		}
	}
	snprintf(err, errlen, "%s: search: %s", p->cfg.uri,
		 ldap_err2string(LDAP_SERVER_DOWN));
	return -EIO;
}

void mxg_ldap_probe_free(struct mxg_ldap_probe *p)
{
	if (!p)
		return;
	probe_drop(p, -1);
	free(p);
}
