/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The docs are part of the interface: every config key the parser accepts
 * is defined in its own section of the man page, the reference and the
 * example file, and every mxguardctl command in its help is in its man
 * page and its bash completion. Run from the top of the tree (make test).
 */
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
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

/* The three documents the config keys must be in, each with its own way
 * of opening a section and of defining a key in it. */
enum doc_kind { DOC_MAN, DOC_MD, DOC_EXAMPLE };

/* A section heading of the document: the line that opens a section. */
static bool is_heading(enum doc_kind kind, const char *line)
{
	switch (kind) {
	case DOC_MAN:
		return !strncmp(line, ".SS ", 4) || !strncmp(line, ".SH ", 4);
	case DOC_MD:
		return line[0] == '#';
	case DOC_EXAMPLE:
		/* "[global]" or, commented out, ";[ldap]" */
		line += line[0] == ';';
		return line[0] == '[';
	}
	return false;
}

/* The heading names the config section: "[sect]" or "[sect NAME]"
 * somewhere in it ("[allow] and [deny]" names both). */
static bool heading_names(const char *line, const char *section)
{
	size_t n = strlen(section);

	for (const char *p = strchr(line, '['); p; p = strchr(p + 1, '['))
		if (!strncmp(p + 1, section, n) && (p[1 + n] == ']' || p[1 + n] == ' '))
			return true;
	return false;
}

/* The line defines the key (prev: the line before it):
 *   man      ".TP" then ".B key"
 *   md       a table row "| `key` | ..."
 *   example  "key = ..." or, commented out, ";key = ..." */
static bool defines_key(enum doc_kind kind, const char *prev, const char *line, const char *key)
{
	size_t n = strlen(key);
	char want[96];

	switch (kind) {
	case DOC_MAN:
		snprintf(want, sizeof(want), ".B %s", key);
		return !strcmp(prev, ".TP") &&
		       !strncmp(line, want, strlen(want)) &&
		       (line[strlen(want)] == '\0' || line[strlen(want)] == ' ');
	case DOC_MD:
		snprintf(want, sizeof(want), "| `%s` |", key);
		return !strncmp(line, want, strlen(want));
	case DOC_EXAMPLE:
		line += line[0] == ';';
		if (strncmp(line, key, n))
			return false;
		line += n;
		line += strspn(line, " \t");
		return *line == '=';
	}
	return false;
}

/* Is the key defined in (one of) the document's sections for the config
 * section? Not a match anywhere in the page: `mode`, `socket` or `base`
 * are words of every page. */
static bool documented(enum doc_kind kind, const char *doc, const char *section,
		       const char *key)
{
	char prev[512] = "", line[512];
	bool inside = false;

	for (const char *p = doc; *p;) {
		size_t len = strcspn(p, "\n");

		snprintf(line, sizeof(line), "%.*s", (int)len, p);
		p += len + (p[len] == '\n');
		if (is_heading(kind, line))
			inside = heading_names(line, section);
		else if (inside && defines_key(kind, prev, line, key))
			return true;
		snprintf(prev, sizeof(prev), "%s", line);
	}
	return false;
}

/* The finder must be able to say no: a key only named in another section,
 * or in prose, is not documented. */
static void test_documented_needs_the_section(void **state)
{
	const char *man = ".SS [lookup]\n.TP\n.B socket\nthe path; see mode\n"
			  ".SS [smtp_inspect]\n.TP\n.B mode\noff\n";
	const char *md = "## `[lookup]`\n| `socket` | path |\nsee `mode`\n"
			 "## `[ldap]`\n| `base` | DN |\n";
	const char *example = "[global]\n# mode = is explained below\n;[lookup]\n"
			      ";socket = /run/x\n[class smtp]\nrate = 5/s\n";

	assert_true(documented(DOC_MAN, man, "lookup", "socket"));
	assert_false(documented(DOC_MAN, man, "lookup", "mode"));
	assert_true(documented(DOC_MAN, man, "smtp_inspect", "mode"));
	assert_true(documented(DOC_MD, md, "lookup", "socket"));
	assert_false(documented(DOC_MD, md, "lookup", "mode"));
	assert_false(documented(DOC_MD, md, "lookup", "base"));
	assert_true(documented(DOC_EXAMPLE, example, "lookup", "socket"));
	assert_false(documented(DOC_EXAMPLE, example, "global", "mode"));
	assert_true(documented(DOC_EXAMPLE, example, "class", "rate"));
	assert_false(documented(DOC_EXAMPLE, example, "lookup", "rate"));
}

static void test_config_keys_documented(void **state)
{
	char *man = slurp("docs/man/mxguard.conf.5");
	char *md = slurp("docs/configuration.md");
	char *example = slurp("docs/mxguard.conf.example");

	strip_roff(man);
	for (const char *const *k = mxg_config_keys; *k; k++) {
		const char *dot = strchr(*k, '.');
		char section[64];

		assert_non_null(dot);
		snprintf(section, sizeof(section), "%.*s", (int)(dot - *k), *k);
		if (!documented(DOC_MAN, man, section, dot + 1))
			fail_msg("key %s is not in [%s] of mxguard.conf(5)", *k, section);
		if (!documented(DOC_MD, md, section, dot + 1))
			fail_msg("key %s is not in [%s] of docs/configuration.md", *k, section);
		if (!documented(DOC_EXAMPLE, example, section, dot + 1))
			fail_msg("key %s is not in [%s] of docs/mxguard.conf.example", *k, section);
	}
	free(man);
	free(md);
	free(example);
}

/*
 * The page writes a command as its object followed by its verb, or by
 * alternatives ("allow add|del CIDR..."): is verb one of the words that
 * follow "object " on some line? A verb that merely stands somewhere in
 * the page does not count.
 */
static bool command_in_page(const char *man, const char *object,
			    const char *verb)
{
	size_t ol = strlen(object), vl = strlen(verb);

	for (const char *p = strstr(man, object); p; p = strstr(p + 1, object)) {
		const char *w = p + ol, *eol;

		if ((p > man && p[-1] != '\n' && p[-1] != ' ') || *w != ' ')
			continue;
		eol = strchr(w, '\n');
		if (!eol)
			eol = w + strlen(w);
		/* The words right after the object: "add", "add|del". */
		for (w++; w + vl <= eol && *w != ' '; w++) {
			if (!strncmp(w, verb, vl) &&
			    (w[vl] == ' ' || w[vl] == '|' || w + vl == eol) &&
			    (w[-1] == ' ' || w[-1] == '|'))
				return true;
		}
	}
	return false;
}

/* Calls fn for every command line of `mxguardctl help` ("  object [verb]
 * [ARGS]"; verb NULL for an object that is the command) and fails the
 * test unless help succeeds and lists at least ten. */
static void for_each_ctl_command(void (*fn)(const char *object, const char *verb,
					    void *ctx), void *ctx)
{
	char line[512], object[64], verb[64], cmd[PATH_MAX + 32];
	/* tests/run.sh says which build it runs (build/, build-san/). */
	const char *build = getenv("MXG_BUILD") ? getenv("MXG_BUILD") : "build";
	FILE *help;
	int n = 0;

	snprintf(cmd, sizeof(cmd), "%s/mxguardctl help", build);
	help = popen(cmd, "r");
	assert_non_null(help);
	while (fgets(line, sizeof(line), help)) {
		/* Command lines are "  object [verb] [ARGS]"; help lines are
		 * indented further, option lines start with '-'. */
		if (strncmp(line, "  ", 2) || line[2] < 'a' || line[2] > 'z')
			continue;
		verb[0] = '\0';
		if (sscanf(line, " %63s %63s", object, verb) < 1)
			continue;
		fn(object, verb[0] >= 'a' && verb[0] <= 'z' ? verb : NULL, ctx);
		n++;
	}
	assert_int_equal(pclose(help), 0);
	assert_true(n >= 10);
}

static void command_in_man(const char *object, const char *verb, void *man)
{
	if (!strstr(man, object))
		fail_msg("object '%s' is not in mxguardctl(8)", object);
	if (verb && !command_in_page(man, object, verb))
		fail_msg("command '%s %s' is not in mxguardctl(8)", object, verb);
}

static void test_ctl_commands_documented(void **state)
{
	char *man = slurp("docs/man/mxguardctl.8");

	strip_roff(man);
	for_each_ctl_command(command_in_man, man);
	free(man);
}

/* word, bounded by a non-name character on both sides, in text. */
static bool has_word(const char *text, const char *word)
{
	size_t n = strlen(word);

	for (const char *p = strstr(text, word); p; p = strstr(p + 1, word)) {
		char before = p > text ? p[-1] : ' ', after = p[n];

		if (!strchr("abcdefghijklmnopqrstuvwxyz_-", before) &&
		    !strchr("abcdefghijklmnopqrstuvwxyz_-", after ? after : ' '))
			return true;
	}
	return false;
}

/*
 * In the completion file, the words of the line that declares KEY="...":
 * objects="a b c" (pattern NULL), or the verbs of object, on a case line
 * "allow | deny) verbs="add del list"" whose pattern names it. Into buf;
 * false when there is no such line.
 */
static bool completion_words(const char *compl, const char *key,
			     const char *object, char *buf, size_t len)
{
	char needle[64];

	snprintf(needle, sizeof(needle), "%s=\"", key);
	for (const char *p = strstr(compl, needle); p; p = strstr(p + 1, needle)) {
		const char *bol = p, *q = p + strlen(needle), *end = strchr(q, '"');
		char pattern[128];

		while (bol > compl && bol[-1] != '\n')
			bol--;
		if (!end)
			return false;
		if (bol[strspn(bol, " \t")] == '#')
			continue;	/* a comment */
		if (object) {
			const char *paren = memchr(bol, ')', p - bol);

			if (!paren || (size_t)(paren - bol) >= sizeof(pattern))
				continue;
			snprintf(pattern, sizeof(pattern), "%.*s", (int)(paren - bol), bol);
			if (!has_word(pattern, object))
				continue;
		}
		snprintf(buf, len, "%.*s", (int)(end - q), q);
		return true;
	}
	return false;
}

static void command_in_completion(const char *object, const char *verb, void *compl)
{
	char words[512];

	if (!completion_words(compl, "objects", NULL, words, sizeof(words)) ||
	    !has_word(words, object))
		fail_msg("object '%s' is not in objects=\"...\" of docs/mxguardctl.bash-completion",
			 object);
	if (verb && (!completion_words(compl, "verbs", object, words, sizeof(words)) ||
		     !has_word(words, verb)))
		fail_msg("command '%s %s' is not in the verbs=\"...\" of %s) in docs/mxguardctl.bash-completion",
			 object, verb, object);
}

/* docs/mxguardctl.bash-completion (installed by the package) offers every
 * object of mxguardctl's table in its objects="..." and every command in
 * its object's verbs="...", and bash can read it. */
static void test_ctl_completion(void **state)
{
	char *compl = slurp("docs/mxguardctl.bash-completion");

	for_each_ctl_command(command_in_completion, compl);
	if (system("bash -n docs/mxguardctl.bash-completion"))
		fail_msg("bash -n docs/mxguardctl.bash-completion failed");
	free(compl);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_documented_needs_the_section),
		cmocka_unit_test(test_config_keys_documented),
		cmocka_unit_test(test_ctl_commands_documented),
		cmocka_unit_test(test_ctl_completion),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
