/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * mxguardctl checks each verb's arguments as its table declares them
 * before it opens any map: a usage error (a wrong count, option or
 * value) exits 2 with its message and never gets as far as the pin
 * directory.
 * Run against a pin directory that does not exist, so these need no root
 * and nothing pinned: a command that got to opening the maps would fail
 * there instead, naming the directory (the control case shows that it
 * does).
 */
#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#define PIN_DIR "/nonexistent/mxguard-test-ctl"
#define MAX_ARGS 12

struct run {
	int status;
	char out[8192];
	char err[8192];
};

static void read_all(int fd, char *buf, size_t len)
{
	size_t used = 0;
	ssize_t n;

	lseek(fd, 0, SEEK_SET);
	while (used + 1 < len && (n = read(fd, buf + used, len - 1 - used)) > 0)
		used += n;
	buf[used] = '\0';
	close(fd);
}

/* mxguardctl --pin-dir PIN_DIR ARGS..., its exit status and output. */
static void run_ctl(const char *const *args, struct run *r)
{
	const char *build = getenv("MXG_BUILD") ? getenv("MXG_BUILD") : "build";
	char bin[PATH_MAX], out_tmpl[] = "/tmp/mxg-test-ctl-out.XXXXXX",
	     err_tmpl[] = "/tmp/mxg-test-ctl-err.XXXXXX";
	const char *argv[MAX_ARGS + 4];
	int out, err, n = 0, st;
	pid_t pid;

	snprintf(bin, sizeof(bin), "%s/mxguardctl", build);
	argv[n++] = bin;
	argv[n++] = "--pin-dir";
	argv[n++] = PIN_DIR;
	for (int i = 0; args[i]; i++) {
		assert_true(i < MAX_ARGS);
		argv[n++] = args[i];
	}
	argv[n] = NULL;
	out = mkstemp(out_tmpl);
	err = mkstemp(err_tmpl);
	assert_true(out >= 0 && err >= 0);
	unlink(out_tmpl);
	unlink(err_tmpl);
	pid = fork();
	assert_true(pid >= 0);
	if (!pid) {
		dup2(out, STDOUT_FILENO);
		dup2(err, STDERR_FILENO);
		execv(bin, (char *const *)argv);
		_exit(127);
	}
	assert_int_equal(waitpid(pid, &st, 0), pid);
	if (!WIFEXITED(st))
		fail_msg("%s did not exit (status %#x)", bin, st);
	r->status = WEXITSTATUS(st);
	if (r->status == 127)
		fail_msg("cannot run %s (run make first)", bin);
	read_all(out, r->out, sizeof(r->out));
	read_all(err, r->err, sizeof(r->err));
}

struct ctl_case {
	const char *args[MAX_ARGS];
	int status;
	const char *message;	/* on stderr */
};

static void check_case(const struct ctl_case *c, const char *json_prefix)
{
	const char *args[MAX_ARGS + 1];
	struct run r;
	int n = 0;

	if (json_prefix)
		args[n++] = json_prefix;
	for (int i = 0; c->args[i]; i++)
		args[n++] = c->args[i];
	args[n] = NULL;
	run_ctl(args, &r);
	if (r.status != c->status || !strstr(r.err, c->message) ||
	    strstr(r.err, PIN_DIR))
		fail_msg("%s %s ...: exit %d, want %d; stderr '%s', want '%s' and no pin dir",
			 json_prefix ? json_prefix : "", c->args[0], r.status,
			 c->status, r.err, c->message);
	/* With -j the error is also a JSON document on stdout. */
	if (json_prefix && (strncmp(r.out, "{\"error\":", 9) ||
			    !strstr(r.out, c->message)))
		fail_msg("-j %s ...: stdout '%s' is not {\"error\": ...}",
			 c->args[0], r.out);
	if (!json_prefix && r.out[0])
		fail_msg("%s ...: something on stdout: '%s'", c->args[0], r.out);
}

/* Wrong number of arguments, unknown options: exit 2, before the maps. */
static const struct ctl_case usage_cases[] = {
	{ { "status", "x" }, 2, "status takes no arguments" },
	{ { "stats", "x" }, 2, "stats takes no arguments" },
	{ { "top", "x" }, 2, "top: unexpected argument 'x'" },
	{ { "top", "-x" }, 2, "usage: top [-n N] [--by rate|conns|unknown]" },
	{ { "top", "--number" }, 2, "usage: top [-n N]" },
	{ { "limit", "show", "smtp", "ldap" }, 2, "usage: limit show [CLASS]" },
	{ { "limit", "set" }, 2, "usage: limit set CLASS KEY=VALUE..." },
	{ { "limit", "set", "smtp" }, 2, "usage: limit set CLASS KEY=VALUE..." },
	{ { "allow", "add" }, 2, "usage: allow add CIDR..." },
	{ { "allow", "del" }, 2, "usage: allow del CIDR..." },
	{ { "allow", "list", "x" }, 2, "allow list takes no arguments" },
	{ { "deny", "add" }, 2, "usage: deny add CIDR..." },
	{ { "deny", "del" }, 2, "usage: deny del CIDR..." },
	{ { "deny", "list", "x" }, 2, "deny list takes no arguments" },
	{ { "ban", "add" }, 2, "usage: ban add ADDR|CIDR [--ttl DURATION] [--class CLASS]..." },
	{ { "ban", "add", "198.18.0.1", "198.18.0.2" }, 2, "usage: ban add" },
	{ { "ban", "add", "198.18.0.1", "--color", "red" }, 2, "usage: ban add" },
	{ { "ban", "del" }, 2, "usage: ban del ADDR|CIDR" },
	{ { "ban", "del", "198.18.0.1", "x" }, 2, "usage: ban del ADDR|CIDR" },
	{ { "ban", "list", "x" }, 2, "ban list takes no arguments" },
	{ { "rcpt", "check" }, 2, "usage: rcpt check ADDRESS" },
	{ { "rcpt", "check", "a@example.org", "b@example.org" }, 2, "usage: rcpt check ADDRESS" },
	{ { "rcpt", "stats", "x" }, 2, "rcpt stats takes no arguments" },
	{ { "unload", "x" }, 2, "unload takes no arguments" },
	{ { "tuner", "x" }, 2, "tuner takes no arguments" },
	{ { "tuner", "show" }, 2, "tuner takes no arguments" },
	/* Prefixes select the entry whose arguments are checked. */
	{ { "b", "l", "x" }, 2, "ban list takes no arguments" },
	{ { "lim", "se", "smtp" }, 2, "usage: limit set CLASS KEY=VALUE..." },
	{ { "nosuch" }, 2, "unknown object 'nosuch'" },
	{ { "stat" }, 2, "ambiguous object 'stat'" },
	{ { "t" }, 2, "ambiguous object 't'" },	/* top, tuner */
	{ { "tu", "-n", "5" }, 2, "tuner takes no arguments" },
	{ { "ban" }, 2, "ban needs a command" },
	{ { "ban", "nosuch" }, 2, "unknown command 'ban nosuch'" },
	{ { "help", "nosuch" }, 2, "help: unknown object 'nosuch'" },
	{ { "help", "ban", "add" }, 2, "usage: help [OBJECT]" },
	{ { "-x", "status" }, 2, "unknown option '-x'" },
	{ { "--colour", "status" }, 2, "unknown option '--colour'" },
	{ { "--pin-dir" }, 2, "no value for option '--pin-dir'" },
	{ { "top", "-n" }, 2, "top: no value for option '-n'" },
};

/* Values a type declared in the table refuses: usage errors too: exit 2,
 * before the maps. */
static const struct ctl_case value_cases[] = {
	{ { "top", "-n", "0" }, 2, "top -n: '0' is not a number from 1 to 1000000" },
	{ { "top", "--number", "1000001" }, 2, "top -n: '1000001' is not a number" },
	{ { "top", "--by", "size" }, 2, "top --by: 'size' is not one of rate, conns, unknown" },
	{ { "allow", "add", "198.18.0.0/24", "198.18.0.0/33" }, 2,
	  "'198.18.0.0/33' is not an address or CIDR" },
	{ { "deny", "add", "not-a-cidr" }, 2, "'not-a-cidr' is not an address or CIDR" },
	{ { "deny", "del", "-5" }, 2, "'-5' is not an address or CIDR" },
	{ { "ban", "add", "198.18.0.1/24" }, 2, "'198.18.0.1/24' is not an address or CIDR" },
	{ { "ban", "add", "198.18.0.1", "--ttl", "0" }, 2,
	  "ban add --ttl: '0' is not a duration from 1s to 366d" },
	{ { "ban", "add", "--ttl", "1y", "198.18.0.1" }, 2, "ban add --ttl: '1y'" },
	{ { "ban", "del", "2001:db8::/129" }, 2, "'2001:db8::/129' is not an address or CIDR" },
	/* limit set: the config file's setters and messages. */
	{ { "limit", "set", "smtp", "rate" }, 2, "limit set: 'rate' is not KEY=VALUE" },
	{ { "limit", "set", "smtp", "rate=fast" }, 2,
	  "limit set: [class smtp] rate: 'fast' is not a rate (examples: 10, 10/s, 30/min, 0.5/s, 100/h, off; 0.001/s to 1000000/s)" },
	{ { "limit", "set", "ldap", "burst=1", "burst=0" }, 2,
	  "limit set: [class ldap] burst: '0' is not a number in 1..1000000" },
	{ { "limit", "set", "smtp", "source_conns=0" }, 2,
	  "limit set: [class smtp] source_conns: '0' is not a number in 1..1000000 or 'unlimited'" },
	{ { "limit", "set", "smtp", "ipv4_prefix=33" }, 2,
	  "limit set: [class smtp] ipv4_prefix: '33' is not a prefix length in 8..32" },
	{ { "limit", "set", "smtp", "ipv6_prefix=15" }, 2,
	  "limit set: [class smtp] ipv6_prefix: '15' is not a prefix length in 16..128" },
	{ { "limit", "set", "smtp", "new_sources=lots" }, 2,
	  "limit set: [class smtp] new_sources: 'lots' is not a rate" },
	{ { "limit", "set", "smtp", "ports=25" }, 2,
	  "limit set: unknown key 'ports' (keys: rate, burst, source_conns, total_conns, ipv4_prefix, ipv6_prefix, new_sources, new_sources_burst)" },
	{ { "limit", "set", "smtp", "=5" }, 2, "limit set: unknown key ''" },
	{ { "rcpt", "check", "nobody" }, 2, "rcpt check: 'nobody' is not an address the mirror can hold: no '@'" },
	{ { "rcpt", "check", "a\001b@example.org" }, 2, "control byte in address" },
};

static void test_usage_errors(void **state)
{
	for (size_t i = 0; i < sizeof(usage_cases) / sizeof(usage_cases[0]); i++) {
		check_case(&usage_cases[i], NULL);
		check_case(&usage_cases[i], "-j");
	}
}

static void test_value_errors(void **state)
{
	for (size_t i = 0; i < sizeof(value_cases) / sizeof(value_cases[0]); i++) {
		check_case(&value_cases[i], NULL);
		check_case(&value_cases[i], "-j");
	}
}

/* The control: well-formed arguments do get to the maps, and fail there
 * on the missing pin dir, so the cases above were stopped before. */
static void test_good_arguments_reach_the_maps(void **state)
{
	static const char *const good[][MAX_ARGS] = {
		{ "status" },
		{ "top", "-n", "5", "--by", "conns" },
		{ "limit", "set", "smtp", "rate=5/s", "burst=10", "source_conns=unlimited" },
		{ "allow", "add", "198.18.0.0/24", "2001:db8::/32" },
		{ "ban", "add", "198.18.0.7", "--ttl", "1h", "--class", "smtp" },
		{ "ban", "add", "--class", "smtp", "198.18.0.7" },
		{ "rcpt", "check", "-odd@example.org" },
		{ "deny", "list" },
		{ "tuner" },
		{ "tu" },
	};

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		struct run r;

		run_ctl(good[i], &r);
		if (r.status != 1 || !strstr(r.err, PIN_DIR))
			fail_msg("%s %s: exit %d, stderr '%s': want 1 naming %s",
				 good[i][0], good[i][1] ? good[i][1] : "", r.status,
				 r.err, PIN_DIR);
	}
}

/* help needs no maps; help OBJECT (a prefix will do) shows that
 * object's commands alone. */
static void test_help(void **state)
{
	static const char *const args[] = { "help", "ba", NULL };
	struct run r;

	run_ctl(args, &r);
	assert_int_equal(r.status, 0);
	assert_non_null(strstr(r.out, "  ban add ADDR|CIDR [--ttl DURATION] [--class CLASS]...\n"));
	assert_null(strstr(r.out, "  allow add"));
	assert_string_equal(r.err, "");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_usage_errors),
		cmocka_unit_test(test_value_errors),
		cmocka_unit_test(test_good_arguments_reach_the_maps),
		cmocka_unit_test(test_help),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
