/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The docs are part of the interface: every config key the parser accepts
 * is in the man page and the reference, and every mxguardctl command in
 * its help is in its man page. Run from the top of the tree (make test).
 */
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "config.h"

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "r");
	char *buf;
	long len;

	if (!f)
		fail_msg("cannot read %s (run from the top of the tree)", path);
	fseek(f, 0, SEEK_END);
	len = ftell(f);
	rewind(f);
	buf = calloc(1, len + 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, len, f), (size_t)len);
	fclose(f);
	return buf;
}

/* groff escapes dashes and underscores sometimes; compare on plain text. */
static void strip_roff(char *s)
{
	char *w = s;

	for (char *r = s; *r; r++) {
		if (r[0] == '\\' && (r[1] == '-' || r[1] == '_')) {
			*w++ = r[1];
			r++;
		} else if (r[0] == '\\' && r[1] == 'f' && r[2]) {
			r += 2;	/* \fB, \fR, \fI */
		} else {
			*w++ = *r;
		}
	}
	*w = '\0';
}

static void test_config_keys_documented(void **state)
{
	char *man = slurp("docs/man/mxguard.conf.5");
	char *md = slurp("docs/configuration.md");
	char *example = slurp("docs/mxguard.conf.example");

	strip_roff(man);
	for (const char *const *k = mxg_config_keys; *k; k++) {
		const char *key = strchr(*k, '.') + 1;
		char tick[64];

		snprintf(tick, sizeof(tick), "`%s`", key);
		if (!strstr(man, key))
			fail_msg("key %s is not in mxguard.conf(5)", *k);
		if (!strstr(md, tick))
			fail_msg("key %s is not in docs/configuration.md", *k);
		if (!strstr(example, key))
			fail_msg("key %s is not in docs/mxguard.conf.example", *k);
	}
	free(man);
	free(md);
	free(example);
}

static void test_ctl_commands_documented(void **state)
{
	char *man = slurp("docs/man/mxguardctl.8");
	char line[512], object[64], verb[64], cmd[PATH_MAX + 32];
	/* tests/run.sh says which build it runs (build/, build-san/). */
	const char *build = getenv("MXG_BUILD") ? getenv("MXG_BUILD") : "build";
	FILE *help;
	int n = 0;

	snprintf(cmd, sizeof(cmd), "%s/mxguardctl help", build);
	help = popen(cmd, "r");

	assert_non_null(help);
	strip_roff(man);
	while (fgets(line, sizeof(line), help)) {
		/* Command lines are "  object [verb] [ARGS]"; help lines are
		 * indented further, option lines start with '-'. */
		if (strncmp(line, "  ", 2) || line[2] < 'a' || line[2] > 'z')
			continue;
		verb[0] = '\0';
		if (sscanf(line, " %63s %63s", object, verb) < 1)
			continue;
		if (!strstr(man, object))
			fail_msg("object '%s' is not in mxguardctl(8)", object);
		if (verb[0] >= 'a' && verb[0] <= 'z' && !strstr(man, verb))
			fail_msg("command '%s %s' is not in mxguardctl(8)", object, verb);
		n++;
	}
	assert_int_equal(pclose(help), 0);
	assert_true(n >= 10);
	free(man);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_config_keys_documented),
		cmocka_unit_test(test_ctl_commands_documented),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
