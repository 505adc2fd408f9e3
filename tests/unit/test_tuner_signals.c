/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Unit tests for user/tuner_signals.c, the parts that need no directory:
 * the PSI and limits parsers against tables of the kernel's texts and of
 * junk, the PSI reader on the real /proc/pressure and on files of its
 * own, and the descriptor reader over a fake /proc tree in a temp dir
 * (good, missing, garbage and stale pid files, a reused pid, unlimited)
 * and over the real /proc for this very process. The LDAP probe runs
 * against a real slapd in tests/integration/test_tuner_probe.sh.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "tuner_signals.h"

#include "unit/unit.h"
#define ERR_LEN 512

/* ---- PSI ---------------------------------------------------------------- */

static void test_psi_parse(void **state)
{
	static const struct {
		const char *in;
		int ret;
		uint64_t centi;
	} cases[] = {
		{ "some avg10=0.00 avg60=0.00 avg300=0.00 total=0\n", 0, 0 },
		{ "some avg10=0.48 avg60=3.93 avg300=4.30 total=5183006404\n"
		  "full avg10=0.00 avg60=0.00 avg300=0.00 total=0\n", 0, 48 },
		{ "some avg10=12.34 avg60=1.00 avg300=0.10 total=99", 0, 1234 },
		{ "some avg10=100.00 avg60=100.00 avg300=100.00 total=1\n", 0, 10000 },
		{ "some avg10=7.05 avg60=0.00 avg300=0.00 total=0\nanything\n", 0, 705 },
		/* Junk: each must be refused, never read as some number. */
		{ "", -EINVAL, 0 },
		{ "\n", -EINVAL, 0 },
		{ "full avg10=0.00 avg60=0.00 avg300=0.00 total=0\n", -EINVAL, 0 },
		{ " some avg10=0.00 avg60=0.00 avg300=0.00 total=0\n", -EINVAL, 0 },
		{ "some  avg10=0.00 avg60=0.00 avg300=0.00 total=0\n", -EINVAL, 0 },
		{ "some avg10=1.5 avg60=0.00 avg300=0.00 total=0\n", -EINVAL, 0 },
		{ "some avg10=1.500 avg60=0.00 avg300=0.00 total=0\n", -EINVAL, 0 },
		{ "some avg10=.50 avg60=0.00 avg300=0.00 total=0\n", -EINVAL, 0 },
		{ "some avg10=1 avg60=0.00 avg300=0.00 total=0\n", -EINVAL, 0 },
		{ "some avg10=-1.00 avg60=0.00 avg300=0.00 total=0\n", -EINVAL, 0 },
		{ "some avg10=1,00 avg60=0.00 avg300=0.00 total=0\n", -EINVAL, 0 },
		{ "some avg10=abc avg60=0.00 avg300=0.00 total=0\n", -EINVAL, 0 },
		{ "some avg10=00001.00 avg60=0.00 avg300=0.00 total=0\n", -EINVAL, 0 },
		{ "some avg10=100.01 avg60=0.00 avg300=0.00 total=0\n", -ERANGE, 0 },
		{ "some avg10=999.99 avg60=0.00 avg300=0.00 total=0\n", -ERANGE, 0 },
		{ "some avg10=1.00\n", -EINVAL, 0 },
		{ "some avg10=1.00 avg60=0.00 avg300=0.00\n", -EINVAL, 0 },
		{ "some avg10=1.00 avg60=0.00 avg300=0.00 total=\n", -EINVAL, 0 },
		{ "some avg10=1.00 avg60=0.00 avg300=0.00 total=12x\n", -EINVAL, 0 },
		{ "some avg10=1.00 avg60=0.00 avg300=0.00 total=12 \n", -EINVAL, 0 },
		{ "some avg10=1.00 avg60=x avg300=0.00 total=12\n", -EINVAL, 0 },
		{ "some avg60=0.00 avg10=1.00 avg300=0.00 total=12\n", -EINVAL, 0 },
	};

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		uint64_t v = 424242;

		expect_int(mxg_psi_parse(cases[i].in, &v), cases[i].ret, cases[i].in);
		if (!cases[i].ret)
			expect_int(v, cases[i].centi, cases[i].in);
		else
			expect_int(v, 424242, cases[i].in);
	}
}

/* A temp dir for the test's files; removed by rm_tree at its end. */
static char *temp_dir(void)
{
	char tmpl[] = "/tmp/mxg-test-signals.XXXXXX";
	char *d = mkdtemp(tmpl);

	assert_non_null(d);
	return strdup(d);
}

static void rm_tree(const char *dir)
{
	char cmd[PATH_MAX + 16];

	/* Only what temp_dir made. */
	assert_true(!strncmp(dir, "/tmp/mxg-test-signals.", 22));
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
}

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	assert_int_equal(fputs(text, f) >= 0, 1);
	assert_int_equal(fclose(f), 0);
}

static void test_psi_read(void **state)
{
	char err[ERR_LEN], *dir = temp_dir(), path[PATH_MAX];
	uint64_t v;
	int ret;

	/* The real files, where this kernel has them. */
	ret = mxg_psi_read("/proc/pressure/cpu", &v, err, sizeof(err));
	if (access("/proc/pressure/cpu", R_OK) == 0) {
		if (ret)
			fail_msg("/proc/pressure/cpu: %s", err);
		assert_true(v <= 10000);
	} else {
		assert_int_equal(ret, -ENOENT);
	}

	snprintf(path, sizeof(path), "%s/pressure/cpu", dir);
	assert_int_equal(mxg_psi_read(path, &v, err, sizeof(err)), -ENOENT);
	expect_has(err, path);
	expect_has(err, "no such file (a kernel without PSI, or psi=0 on its command line)");

	snprintf(path, sizeof(path), "%s/cpu", dir);
	write_file(path, "some avg10=3.25 avg60=0.00 avg300=0.00 total=7\n"
			 "full avg10=0.00 avg60=0.00 avg300=0.00 total=0\n");
	assert_int_equal(mxg_psi_read(path, &v, err, sizeof(err)), 0);
	assert_int_equal(v, 325);

	write_file(path, "some avg10=3.25\001 junk\n");
	assert_int_equal(mxg_psi_read(path, &v, err, sizeof(err)), -EINVAL);
	expect_has(err, path);
	expect_has(err, "'some avg10=3.25? junk' is not a pressure line");

	/* A directory where the file should be: the errno, named. */
	snprintf(path, sizeof(path), "%s", dir);
	assert_int_equal(mxg_psi_read(path, &v, err, sizeof(err)), -EISDIR);
	expect_has(err, "cannot read");
	expect_has(err, strerror(EISDIR));

	rm_tree(dir);
	free(dir);
}

/* ---- limits ------------------------------------------------------------- */

#define LIMITS_HEAD								\
	"Limit                     Soft Limit           Hard Limit           Units     \n" \
	"Max cpu time              unlimited            unlimited            seconds   \n" \
	"Max processes             63458                63458                processes \n"
#define LIMITS_TAIL								\
	"Max locked memory         8388608              8388608              bytes     \n"

static void test_limits_parse(void **state)
{
	static const struct {
		const char *in;
		int ret;
		uint64_t soft;
	} cases[] = {
		{ LIMITS_HEAD "Max open files            1024                 1048576              files     \n" LIMITS_TAIL,
		  0, 1024 },
		{ LIMITS_HEAD "Max open files            unlimited            unlimited            files     \n",
		  0, UINT64_MAX },
		{ "Max open files            64                   64                   files     \n", 0, 64 },
		{ "Max open files            0                    4096                 files     \n", 0, 0 },
		{ LIMITS_HEAD LIMITS_TAIL, -ENOENT, 0 },
		{ "", -ENOENT, 0 },
		/* Only at the start of a line. */
		{ "x Max open files            64                   64                   files\n", -ENOENT, 0 },
		{ "Max open files            1k                   64                   files\n", -EINVAL, 0 },
		{ "Max open files            -1                   64                   files\n", -EINVAL, 0 },
		{ "Max open files            64\n", -EINVAL, 0 },
		{ "Max open files            \n", -EINVAL, 0 },
		{ "Max open filesx           64                   64                   files\n", -EINVAL, 0 },
		{ "Max open files            unlimitedx           64                   files\n", -EINVAL, 0 },
		{ "Max open files            99999999999999999999 64                   files\n", -ERANGE, 0 },
	};

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		uint64_t v = 424242;

		expect_int(mxg_limits_parse_nofile(cases[i].in, &v), cases[i].ret, cases[i].in);
		if (!cases[i].ret)
			assert_true(v == cases[i].soft);
		else
			expect_int(v, 424242, cases[i].in);
	}
}

/* The kernel's own table gives what getrlimit() says. */
static void test_limits_parse_self(void **state)
{
	char buf[8192];
	struct rlimit rl;
	uint64_t v;
	FILE *f = fopen("/proc/self/limits", "r");
	size_t n;

	assert_non_null(f);
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	assert_int_equal(getrlimit(RLIMIT_NOFILE, &rl), 0);
	assert_int_equal(mxg_limits_parse_nofile(buf, &v), 0);
	if (rl.rlim_cur == RLIM_INFINITY)
		assert_true(v == UINT64_MAX);
	else
		assert_true(v == (uint64_t)rl.rlim_cur);
}

/* ---- descriptors over a fake /proc ------------------------------------- */

struct fake {
	char *dir;
	char proc[PATH_MAX];
	char pid_file[PATH_MAX];
};

/* proc/PID with comm, NFDS entries in fd/ and limits saying NOFILE. */
static void fake_process(struct fake *f, int pid, const char *comm,
			 unsigned nfds, const char *nofile)
{
	char path[PATH_MAX + 64], text[512];

	snprintf(path, sizeof(path), "%s/%d", f->proc, pid);
	assert_int_equal(mkdir(path, 0755), 0);
	snprintf(path, sizeof(path), "%s/%d/comm", f->proc, pid);
	snprintf(text, sizeof(text), "%s\n", comm);
	write_file(path, text);
	snprintf(path, sizeof(path), "%s/%d/fd", f->proc, pid);
	assert_int_equal(mkdir(path, 0755), 0);
	for (unsigned i = 0; i < nfds; i++) {
		snprintf(path, sizeof(path), "%s/%d/fd/%u", f->proc, pid, i);
		assert_int_equal(symlink("socket:[1234]", path), 0);
	}
	snprintf(path, sizeof(path), "%s/%d/limits", f->proc, pid);
	snprintf(text, sizeof(text),
		 LIMITS_HEAD "Max open files            %-20s 1048576              files     \n" LIMITS_TAIL,
		 nofile);
	write_file(path, text);
}

static int fake_setup(void **state)
{
	struct fake *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	f->dir = temp_dir();
	snprintf(f->proc, sizeof(f->proc), "%s/proc", f->dir);
	snprintf(f->pid_file, sizeof(f->pid_file), "%s/slapd.pid", f->dir);
	assert_int_equal(mkdir(f->proc, 0755), 0);
	fake_process(f, 4242, "slapd", 7, "1024");
	fake_process(f, 5151, "foo", 3, "1024");
	fake_process(f, 6161, "slapd", 0, "unlimited");
	*state = f;
	return 0;
}

static int fake_teardown(void **state)
{
	struct fake *f = *state;

	rm_tree(f->dir);
	free(f->dir);
	free(f);
	return 0;
}

static void test_fd_good(void **state)
{
	struct fake *f = *state;
	struct mxg_fd_reading r = { 0 };
	char err[ERR_LEN] = "";

	write_file(f->pid_file, "4242\n");
	if (mxg_fd_read(f->proc, f->pid_file, "slapd", &r, err, sizeof(err)))
		fail_msg("%s", err);
	assert_int_equal(r.pid, 4242);
	assert_int_equal(r.in_use, 7);
	assert_int_equal(r.limit, 1024);

	/* The line end is optional. */
	write_file(f->pid_file, "4242");
	assert_int_equal(mxg_fd_read(f->proc, f->pid_file, "slapd", &r, err, sizeof(err)), 0);
	assert_int_equal(r.in_use, 7);
}

static void test_fd_unlimited(void **state)
{
	struct fake *f = *state;
	struct mxg_fd_reading r = { 0 };
	char err[ERR_LEN] = "";

	write_file(f->pid_file, "6161\n");
	if (mxg_fd_read(f->proc, f->pid_file, "slapd", &r, err, sizeof(err)))
		fail_msg("%s", err);
	assert_int_equal(r.pid, 6161);
	assert_int_equal(r.in_use, 0);
	assert_true(r.limit == UINT64_MAX);
}

static void test_fd_missing_pid_file(void **state)
{
	struct fake *f = *state;
	struct mxg_fd_reading r = { 0 };
	char err[ERR_LEN] = "", want[PATH_MAX + 64];

	unlink(f->pid_file);
	assert_int_equal(mxg_fd_read(f->proc, f->pid_file, "slapd", &r, err, sizeof(err)), -ENOENT);
	snprintf(want, sizeof(want), "cannot read pid file %s: %s", f->pid_file, strerror(ENOENT));
	assert_string_equal(err, want);
}

static void test_fd_garbage_pid_file(void **state)
{
	static const char *const texts[] = {
		"", "\n", "abc\n", "42 43\n", "4242\n\n", " 4242\n", "4242 \n",
		"+4242\n", "-4242\n", "0\n", "0x1092\n", "4242\r\n", "4242abc",
		"4194305\n", "99999999999999999999\n", "\0014242",
		"4242\n4242\n", "12345678901234567890123456789012345678901234567890\n",
	};
	struct fake *f = *state;
	struct mxg_fd_reading r = { 0 };
	char err[ERR_LEN];

	for (size_t i = 0; i < ARRAY_SIZE(texts); i++) {
		err[0] = '\0';
		write_file(f->pid_file, texts[i]);
		expect_int(mxg_fd_read(f->proc, f->pid_file, "slapd", &r, err, sizeof(err)),
			   -EINVAL, texts[i]);
		expect_has(err, f->pid_file);
		expect_has(err, "is not a pid (one decimal number expected)");
		assert_null(strchr(err, '\n'));
		assert_null(strchr(err, '\001'));
	}
}

static void test_fd_stale_pid(void **state)
{
	struct fake *f = *state;
	struct mxg_fd_reading r = { 0 };
	char err[ERR_LEN] = "", want[PATH_MAX + 64];

	write_file(f->pid_file, "999\n");
	assert_int_equal(mxg_fd_read(f->proc, f->pid_file, "slapd", &r, err, sizeof(err)), -ESRCH);
	snprintf(want, sizeof(want), "stale pid file %s: no process 999", f->pid_file);
	assert_string_equal(err, want);
}

static void test_fd_wrong_comm(void **state)
{
	struct fake *f = *state;
	struct mxg_fd_reading r = { 0 };
	char err[ERR_LEN] = "", want[PATH_MAX + 64];

	write_file(f->pid_file, "5151\n");
	assert_int_equal(mxg_fd_read(f->proc, f->pid_file, "slapd", &r, err, sizeof(err)), -ESRCH);
	snprintf(want, sizeof(want), "pid file %s names 5151, which is 'foo', not slapd",
		 f->pid_file);
	assert_string_equal(err, want);
	/* A prefix of the name is not the name. */
	write_file(f->pid_file, "4242\n");
	assert_int_equal(mxg_fd_read(f->proc, f->pid_file, "slap", &r, err, sizeof(err)), -ESRCH);
	assert_int_equal(mxg_fd_read(f->proc, f->pid_file, "slapd2", &r, err, sizeof(err)), -ESRCH);
}

/* The kernel keeps 15 bytes of a name: a longer configured name matches
 * by those. */
static void test_fd_long_comm(void **state)
{
	struct fake *f = *state;
	struct mxg_fd_reading r = { 0 };
	char err[ERR_LEN] = "";

	fake_process(f, 7171, "a-long-directo", 2, "64");	/* 14 bytes */
	fake_process(f, 7272, "a-long-director", 2, "64");	/* 15 bytes */
	write_file(f->pid_file, "7272\n");
	if (mxg_fd_read(f->proc, f->pid_file, "a-long-directory-server", &r, err, sizeof(err)))
		fail_msg("%s", err);
	assert_int_equal(r.limit, 64);
	write_file(f->pid_file, "7171\n");
	assert_int_equal(mxg_fd_read(f->proc, f->pid_file, "a-long-directory-server", &r, err,
				     sizeof(err)), -ESRCH);
}

static void test_fd_bad_limits(void **state)
{
	struct fake *f = *state;
	struct mxg_fd_reading r = { 0 };
	char err[ERR_LEN] = "", path[PATH_MAX + 32];

	fake_process(f, 8181, "slapd", 1, "lots");
	write_file(f->pid_file, "8181\n");
	assert_int_equal(mxg_fd_read(f->proc, f->pid_file, "slapd", &r, err, sizeof(err)), -EINVAL);
	snprintf(path, sizeof(path), "%s/8181/limits", f->proc);
	expect_has(err, path);
	expect_has(err, "Max open files");
}

/* Connections waiting in the accept queue of the process's own listening
 * sockets count as queued, in both tables; another process's listener
 * and a socket not listening do not. */
static void test_fd_queued(void **state)
{
	struct fake *f = *state;
	struct mxg_fd_reading r = { 0 };
	char path[PATH_MAX + 64], err[ERR_LEN] = "";
#define TCP_HEAD "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n"

	snprintf(path, sizeof(path), "%s/4242/net", f->proc);
	assert_int_equal(mkdir(path, 0755), 0);
	snprintf(path, sizeof(path), "%s/4242/net/tcp", f->proc);
	write_file(path, TCP_HEAD
		   /* its listener on 389, 5 waiting */
		   "   0: 0100A8C0:0185 00000000:0000 0A 00000000:00000005 00:00000000 00000000   106        0 1234 1 0000000000000000 100 0 0 10 0\n"
		   /* someone else's listener, 7 waiting */
		   "   1: 0100A8C0:0019 00000000:0000 0A 00000000:00000007 00:00000000 00000000   107        0 9999 1 0000000000000000 100 0 0 10 0\n"
		   /* an established connection with bytes unread */
		   "   2: 0100A8C0:0185 0200A8C0:D431 01 00000000:00000003 00:00000000 00000000   106        0 1234 1 0000000000000000 20 4 30 10 -1\n");
	snprintf(path, sizeof(path), "%s/4242/net/tcp6", f->proc);
	write_file(path, TCP_HEAD
		   "   0: 00000000000000000000000000000000:0185 00000000000000000000000000000000:0000 0A 00000000:00000002 00:00000000 00000000   106        0 1234 1 0000000000000000 100 0 0 10 0\n");
	write_file(f->pid_file, "4242\n");
	if (mxg_fd_read(f->proc, f->pid_file, "slapd", &r, err, sizeof(err)))
		fail_msg("%s", err);
	assert_int_equal(r.queued, 7);
	assert_int_equal(r.in_use, 7);
#undef TCP_HEAD
}

/* ---- descriptors of this very process, through the real /proc ---------- */

static void test_fd_self(void **state)
{
	char *dir = temp_dir(), pid_file[PATH_MAX], comm[64], text[32], err[ERR_LEN] = "";
	struct mxg_fd_reading r = { 0 }, r2 = { 0 };
	struct rlimit rl;
	FILE *f = fopen("/proc/self/comm", "r");
	int fd;

	assert_non_null(f);
	assert_non_null(fgets(comm, sizeof(comm), f));
	fclose(f);
	comm[strcspn(comm, "\n")] = '\0';
	snprintf(pid_file, sizeof(pid_file), "%s/self.pid", dir);
	snprintf(text, sizeof(text), "%d\n", (int)getpid());
	write_file(pid_file, text);

	if (mxg_fd_read("/proc", pid_file, comm, &r, err, sizeof(err)))
		fail_msg("%s", err);
	assert_int_equal(r.pid, getpid());
	/* stdin, stdout, stderr at least (the runner may close stdin). */
	assert_true(r.in_use >= 2);
	assert_int_equal(getrlimit(RLIMIT_NOFILE, &rl), 0);
	if (rl.rlim_cur == RLIM_INFINITY)
		assert_true(r.limit == UINT64_MAX);
	else
		assert_true(r.limit == (uint64_t)rl.rlim_cur);

	/* One more descriptor open, one more counted (one thread: nothing
	 * else opens or closes in between). */
	fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(mxg_fd_read("/proc", pid_file, comm, &r2, err, sizeof(err)), 0);
	close(fd);
	assert_int_equal(r2.in_use, r.in_use + 1);

	/* Three connections to its own listener, never accepted: queued,
	 * each with a descriptor on the connecting side only. */
	{
		struct sockaddr_in a = { .sin_family = AF_INET,
					 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
		socklen_t alen = sizeof(a);
		int l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), c[3];

		assert_true(l >= 0);
		assert_int_equal(bind(l, (struct sockaddr *)&a, sizeof(a)), 0);
		assert_int_equal(listen(l, 8), 0);
		assert_int_equal(getsockname(l, (struct sockaddr *)&a, &alen), 0);
		for (int i = 0; i < 3; i++) {
			c[i] = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
			assert_true(c[i] >= 0);
			/* Loopback: the handshake completes within connect(). */
			assert_int_equal(connect(c[i], (struct sockaddr *)&a, sizeof(a)), 0);
		}
		assert_int_equal(mxg_fd_read("/proc", pid_file, comm, &r2, err, sizeof(err)), 0);
		assert_int_equal(r2.queued, 3);
		assert_int_equal(r2.in_use, r.in_use + 4);
		for (int i = 0; i < 3; i++)
			close(c[i]);
		close(l);
	}

	/* Its own name, not another's. */
	assert_int_equal(mxg_fd_read("/proc", pid_file, "slapd", &r2, err, sizeof(err)), -ESRCH);
	expect_has(err, "not slapd");

	rm_tree(dir);
	free(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_psi_parse),
		cmocka_unit_test(test_psi_read),
		cmocka_unit_test(test_limits_parse),
		cmocka_unit_test(test_limits_parse_self),
		cmocka_unit_test_setup_teardown(test_fd_good, fake_setup, fake_teardown),
		cmocka_unit_test_setup_teardown(test_fd_unlimited, fake_setup, fake_teardown),
		cmocka_unit_test_setup_teardown(test_fd_missing_pid_file, fake_setup, fake_teardown),
		cmocka_unit_test_setup_teardown(test_fd_garbage_pid_file, fake_setup, fake_teardown),
		cmocka_unit_test_setup_teardown(test_fd_stale_pid, fake_setup, fake_teardown),
		cmocka_unit_test_setup_teardown(test_fd_wrong_comm, fake_setup, fake_teardown),
		cmocka_unit_test_setup_teardown(test_fd_long_comm, fake_setup, fake_teardown),
		cmocka_unit_test_setup_teardown(test_fd_bad_limits, fake_setup, fake_teardown),
		cmocka_unit_test_setup_teardown(test_fd_queued, fake_setup, fake_teardown),
		cmocka_unit_test(test_fd_self),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
