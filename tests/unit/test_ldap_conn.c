/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Unit tests for user/ldap_conn.c's URI list (failover): the count of a
 * list, and mxg_ldap_connect_first against servers on loopback that need
 * no directory: ports with nothing listening (refused at once), and a
 * listener that takes the TCP connection but never says a word (a hung
 * server). Which URI is named, what err says of each, the return that
 * tells most, and a password file read once before any server. The
 * failover against real slapd instances is tests/integration/
 * test_failover.sh.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>
#include <cmocka.h>

#include "ldap_conn.h"

#include "unit/unit.h"

#define MS 1000000ULL

static void test_uri_count(void **state)
{
	static const struct {
		const char *list;
		unsigned n;
	} rows[] = {
		{ "", 0 },
		{ "   ", 0 },
		{ "ldap://a/", 1 },
		{ "ldap://a/ ldap://b/", 2 },
		{ "  ldap://a/   ldap://b/ ldapi://%2Frun%2Fs  ", 3 },
	};

	for (size_t i = 0; i < ARRAY_SIZE(rows); i++)
		expect_int(mxg_ldap_uri_count(rows[i].list), rows[i].n, rows[i].list);
}

/* A loopback port: listening (backlog only, never accepted) or, with
 * listening false, closed (bound once to find a free one, then closed). */
static int loopback_port(bool listening, int *fd_out)
{
	struct sockaddr_in sa = { .sin_family = AF_INET,
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
	if (listening) {
		assert_int_equal(listen(fd, 8), 0);
		*fd_out = fd;
	} else {
		close(fd);
		*fd_out = -1;
	}
	return ntohs(sa.sin_port);
}

static void config(struct mxg_ldap_config *cfg, const char *uris)
{
	memset(cfg, 0, sizeof(*cfg));
	snprintf(cfg->uri, sizeof(cfg->uri), "%s", uris);
}

static const struct mxg_ldap_timeouts quick = {
	.network_ns = 500 * MS,
	.op_ns = 300 * MS,
};

static void test_none_answers(void **state)
{
	struct mxg_ldap_config cfg;
	char uris[256], a[64], b[64], server[256] = "x", err[1024];
	LDAP *ld = (LDAP *)1;
	int fd, pa = loopback_port(false, &fd), pb;

	do	/* two ports, not one twice */
		pb = loopback_port(false, &fd);
	while (pb == pa);

	snprintf(a, sizeof(a), "ldap://127.0.0.1:%d/", pa);
	snprintf(b, sizeof(b), "ldap://127.0.0.1:%d/", pb);
	snprintf(uris, sizeof(uris), "%s %s", a, b);
	config(&cfg, uris);
	assert_int_equal(mxg_ldap_connect_first(&cfg, &quick, &ld, server, sizeof(server),
						err, sizeof(err)), -EIO);
	assert_null(ld);
	assert_string_equal(server, "");
	/* Each server, in order, with its reason. */
	expect_has(err, a);
	expect_has(err, "; ");
	expect_has(err, b);
	assert_true(strstr(err, a) < strstr(err, b));
	expect_has(err, "connect: Can't contact LDAP server");

	/* One URI: err as mxg_ldap_connect always said it, no URI in it. */
	config(&cfg, a);
	assert_int_equal(mxg_ldap_connect(&cfg, &(struct mxg_ldap_timeouts){
						 .network_ns = 500 * MS, .connect_now = true },
					  &ld, err, sizeof(err)), -EIO);
	assert_string_equal(err, "connect: Can't contact LDAP server");
}

static void test_first_that_answers(void **state)
{
	struct mxg_ldap_config cfg;
	char uris[256], a[64], b[64], server[256], err[1024];
	int fd_a, fd_b, pa = loopback_port(false, &fd_a), pb = loopback_port(true, &fd_b);
	LDAP *ld = NULL;

	snprintf(a, sizeof(a), "ldap://127.0.0.1:%d/", pa);
	snprintf(b, sizeof(b), "ldap://127.0.0.1:%d/", pb);
	snprintf(uris, sizeof(uris), "%s %s", a, b);
	config(&cfg, uris);
	/* Anonymous, no StartTLS: with a list it connects at once all the
	 * same, so the server named is one that took the connection. */
	assert_int_equal(mxg_ldap_connect_first(&cfg, &quick, &ld, server, sizeof(server),
						err, sizeof(err)), 0);
	assert_non_null(ld);
	assert_string_equal(server, b);
	assert_string_equal(err, "");
	ldap_unbind_ext_s(ld, NULL, NULL);
	close(fd_b);
}

static void test_hung_then_gone(void **state)
{
	struct mxg_ldap_config cfg;
	char uris[256], a[64], b[64], server[256], err[1024], pwpath[] = "/tmp/mxg-unit-pw.XXXXXX";
	int fd_a, fd_b, pa = loopback_port(true, &fd_a), pb = loopback_port(false, &fd_b);
	int pwfd = mkstemp(pwpath);
	LDAP *ld = NULL;

	assert_true(pwfd >= 0);
	assert_int_equal(write(pwfd, "secret\n", 7), 7);
	close(pwfd);
	snprintf(a, sizeof(a), "ldap://127.0.0.1:%d/", pa);
	snprintf(b, sizeof(b), "ldap://127.0.0.1:%d/", pb);
	snprintf(uris, sizeof(uris), "%s %s", a, b);
	config(&cfg, uris);
	snprintf(cfg.bind_dn, sizeof(cfg.bind_dn), "cn=mxguard,dc=example,dc=org");
	snprintf(cfg.bind_password_file, sizeof(cfg.bind_password_file), "%s", pwpath);
	/* The first takes the connection and never answers the bind: that
	 * is what the return says (slow, not gone), though the second was
	 * tried after it and is gone. */
	assert_int_equal(mxg_ldap_connect_first(&cfg, &quick, &ld, server, sizeof(server),
						err, sizeof(err)), -ETIMEDOUT);
	assert_null(ld);
	assert_string_equal(server, "");
	expect_has(err, a);
	expect_has(err, b);

	/* A password file that cannot be read fails before any server. */
	unlink(pwpath);
	assert_int_equal(mxg_ldap_connect_first(&cfg, &quick, &ld, server, sizeof(server),
						err, sizeof(err)), -ENOENT);
	expect_has(err, "cannot read bind_password_file");
	assert_null(strstr(err, a));
	close(fd_a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_uri_count),
		cmocka_unit_test(test_none_answers),
		cmocka_unit_test(test_first_that_answers),
		cmocka_unit_test(test_hung_then_gone),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
