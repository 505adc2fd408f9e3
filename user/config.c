/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * mxguard.conf, read: inih cuts the file into sections and keys, each
 * value goes through its key's setter (config_keys.c) into a private copy
 * of struct mxg_config, the whole is checked (config_check.c) and copied
 * out only when everything is right, so a bad file never half-applies.
 *
 * Debian's inih is built without INI_HANDLER_LINENO, so the line reader
 * handed to ini_parse_stream() counts lines itself. It also classifies each
 * line the way inih will (comment, section, key, continuation), because
 * inih does not call the handler for a section header: an empty
 * "[class foo]" or an unknown "[bogus]" would otherwise go unnoticed, and
 * a continuation line would look like the key given twice.
 *
 * Comments: a line whose first non-blank is '#' or ';', and the rest of a
 * line from a '#' or ';' after a blank (inih cuts the ';' itself; Debian
 * builds it with ';' as the only inline prefix, so the reader cuts the
 * '#'), the way operators write "mode = 0666   # default". A '#' that
 * begins a value is the value ("recipient_delimiter = #"); a value that
 * needs a blank before a '#' writes it escaped (RFC 4514 "\#" in a DN,
 * RFC 4515 "\23" in a filter).
 */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <ini.h>

#include "config_internal.h"
#include "parse.h"

/* A config file is a few hundred lines; refuse to slurp something else. */
#define MXG_CONFIG_MAX_SIZE (16 << 20)

#define SECTIONS_ALLOWED "[global], [class NAME], [allow], [deny], [ldap], [smtp_inspect], [lookup], [tuner], [metrics], [fleet]"

int config_fail_at(struct parser *p, unsigned line, const char *fmt, ...)
{
	va_list ap;
	int n = 0;

	if (p->failed)
		return -EINVAL;
	p->failed = true;
	if (!p->err || !p->errlen)
		return -EINVAL;
	if (line)
		n = snprintf(p->err, p->errlen, "%s:%u: ", p->name, line);
	else
		n = snprintf(p->err, p->errlen, "%s: ", p->name);
	if (n < 0 || (size_t)n >= p->errlen)
		return -EINVAL;
	va_start(ap, fmt);
	vsnprintf(p->err + n, p->errlen - n, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

/* ---- sections ---------------------------------------------------------- */

static int find_class(struct parser *p, const char *name)
{
	unsigned i;

	for (i = 0; i < p->cfg->nclasses; i++)
		if (!strcmp(p->cfg->classes[i].name, name))
			return (int)i;
	return -1;
}

static int begin_class(struct parser *p, const char *name, const char *raw)
{
	struct mxg_class_config *c;
	int idx;

	if (mxg_check_class_name(name))
		return fail(p, "[%s]: '%s' is not a class name "
			    "(1..%d of a-z 0-9 _ -)", raw, name,
			    MXG_CLASS_NAME_LEN - 1);
	idx = find_class(p, name);
	if (idx >= 0 && p->class_line[idx])
		return fail(p, "[class %s] is given twice (first at line %u)",
			    name, p->class_line[idx]);
	if (idx < 0) {
		if (p->cfg->nclasses >= MXG_MAX_CLASSES)
			return fail(p, "[class %s]: one class too many "
				    "(at most %d, smtp and ldap included)",
				    name, MXG_MAX_CLASSES);
		idx = (int)p->cfg->nclasses++;
		c = &p->cfg->classes[idx];
		memset(c, 0, sizeof(*c));
		strcpy(c->name, name);
		c->ipv4_prefix = 32;
		c->ipv6_prefix = 64;
	}
	p->class_line[idx] = p->lineno;
	p->cls_idx = (unsigned)idx;
	p->cls = &p->cfg->classes[idx];
	snprintf(p->label, sizeof(p->label), "[class %s]", name);
	return 0;
}

/* A section header, already cut to the text between '[' and ']'. */
static int begin_section(struct parser *p, char *name)
{
	unsigned *first = NULL;
	char *end;
	int err = 0;

	/* inih passes the name untrimmed; "[ global ]" means [global]. */
	while (isspace((unsigned char)*name))
		name++;
	end = name + strlen(name);
	while (end > name && isspace((unsigned char)end[-1]))
		*--end = '\0';

	memset(p->key_line, 0, sizeof(p->key_line));
	p->cls = NULL;
	p->sect_line = p->lineno;
	if (!strcmp(name, "global")) {
		p->sect = SECT_GLOBAL;
		first = &p->global_line;
	} else if (!strcmp(name, "allow")) {
		p->sect = SECT_ALLOW;
		first = &p->allow_line;
	} else if (!strcmp(name, "deny")) {
		p->sect = SECT_DENY;
		first = &p->deny_line;
	} else if (!strcmp(name, "ldap")) {
		p->sect = SECT_LDAP;
		first = &p->ldap_line;
		p->cfg->ldap.enabled = true;
	} else if (!strcmp(name, "smtp_inspect")) {
		p->sect = SECT_SMTP_INSPECT;
		first = &p->inspect_line;
	} else if (!strcmp(name, "lookup")) {
		p->sect = SECT_LOOKUP;
		first = &p->lookup_line;
		p->cfg->lookup.enabled = true;
	} else if (!strcmp(name, "metrics")) {
		p->sect = SECT_METRICS;
		first = &p->metrics_line;
		p->cfg->metrics.enabled = true;
	} else if (!strcmp(name, "fleet")) {
		p->sect = SECT_FLEET;
		first = &p->fleet_line;
		p->cfg->fleet.enabled = true;
	} else if (!strcmp(name, "tuner")) {
		p->sect = SECT_TUNER;
		first = &p->tuner_line;
		p->cfg->tuner.enabled = true;
	} else if (!strncmp(name, "class", 5) &&
		   (!name[5] || isspace((unsigned char)name[5]))) {
		char *cname = name + 5;

		while (isspace((unsigned char)*cname))
			cname++;
		p->sect = SECT_CLASS;
		return begin_class(p, cname, name);
	} else {
		return fail(p, "[%s]: unknown section (allowed: "
			    SECTIONS_ALLOWED ")", name);
	}
	if (*first)
		return fail(p, "[%s] is given twice (first at line %u)", name,
			    *first);
	*first = p->lineno;
	snprintf(p->label, sizeof(p->label), "[%s]", name);
	return err;
}

/* ---- the line reader --------------------------------------------------- */

/* inih's find_chars_or_comment(): an inline comment is a ';' after a
 * blank. */
static char *find_chars_or_comment(char *s, const char *chars)
{
	bool was_space = false;

	while (*s && (!chars || !strchr(chars, *s)) &&
	       !(was_space && *s == ';')) {
		was_space = isspace((unsigned char)*s);
		s++;
	}
	return s;
}

/* The start of an inline comment in s, '#' or ';' after a blank, or its
 * end. s itself is taken as following a blank when after_blank. */
static char *find_inline_comment(char *s, bool after_blank)
{
	bool was_space = after_blank;

	while (*s && !(was_space && (*s == ';' || *s == '#'))) {
		was_space = isspace((unsigned char)*s);
		s++;
	}
	return s;
}

/*
 * Hand inih the next line and decide what it is, mirroring inih's own
 * order of tests (comment, continuation, section, pair). Returning NULL
 * ends the parse, which is how the first error stops it: inih itself
 * carries on after a failed handler.
 */
static char *read_line(char *str, int num, void *stream)
{
	struct parser *p = stream;
	const char *nl;
	char *start, *end;
	size_t len;

	if (p->failed || p->pos >= p->end)
		return NULL;
	p->lineno++;
	p->kind = LINE_OTHER;
	nl = memchr(p->pos, '\n', p->end - p->pos);
	len = (nl ? nl : p->end) - p->pos;
	if (memchr(p->pos, '\0', len)) {
		fail(p, "line contains a NUL byte");
		return NULL;
	}
	/* inih would silently split a longer line into two. */
	if (len > (size_t)num - 1) {
		fail(p, "line too long (at most %d characters)", num - 1);
		return NULL;
	}
	memcpy(str, p->pos, len);
	str[len] = '\0';
	p->pos += len + (nl ? 1 : 0);

	start = str;
	if (p->lineno == 1 && !memcmp(start, "\xEF\xBB\xBF", 3))
		start += 3;
	end = start + strlen(start);
	while (end > start && isspace((unsigned char)end[-1]))
		end--;
	while (start < end && isspace((unsigned char)*start))
		start++;

	if (start == end || *start == ';' || *start == '#')
		return str;
	if (p->prev_key && start > str) {
		/* inih (55) keeps inline comments on continuation lines; cut
		 * them here so that "  a, b ; note" reads as on a key line. */
		*find_inline_comment(start, false) = '\0';
		p->kind = LINE_CONT;
		return str;
	}
	if (*start == '[') {
		char name[SECTION_NAME_MAX], *close, *rest;

		close = find_chars_or_comment(start + 1, "]");
		if (*close != ']') {
			fail(p, "section header without ']'");
			return NULL;
		}
		rest = close + 1;
		while (isspace((unsigned char)*rest))
			rest++;
		if (*rest && *rest != ';' && *rest != '#') {
			fail(p, "unexpected text after ']'");
			return NULL;
		}
		/* Longer than any valid section; inih would truncate it. */
		if ((size_t)(close - start - 1) >= sizeof(name)) {
			fail(p, "[%.*s...]: unknown section (allowed: "
			     SECTIONS_ALLOWED ")", 16, start + 1);
			return NULL;
		}
		memcpy(name, start + 1, close - start - 1);
		name[close - start - 1] = '\0';
		p->prev_key = false;
		if (begin_section(p, name))
			return NULL;
		return str;
	}
	end = find_chars_or_comment(start, "=:");
	if (*end != '=' && *end != ':') {
		fail(p, "expected 'key = value', '[section]' or a comment");
		return NULL;
	}
	/* A '#' comment after the value; the value's first character is
	 * the value's, even a '#'. */
	for (end++; isspace((unsigned char)*end); end++)
		;
	if (*end)
		*find_inline_comment(end + 1, false) = '\0';
	p->prev_key = true;
	p->kind = LINE_KEY;
	return str;
}

/* inih's handler: nonzero means success. */
static int handle_pair(void *user, const char *section, const char *name,
		       const char *value)
{
	struct parser *p = user;
	const struct key_def *k;
	unsigned idx;

	if (p->failed)
		return 0;
	if (p->sect == SECT_NONE) {
		fail(p, "%s: key outside of a section (sections: "
		     SECTIONS_ALLOWED ")", name);
		return 0;
	}
	if (!*name) {
		fail(p, "%s: a key is missing before '='", p->label);
		return 0;
	}
	k = config_key_find(p->sect, name);
	if (!k) {
		char keys[256];

		config_keys_list(p->sect, keys, sizeof(keys));
		fail(p, "%s %s: unknown key (allowed: %s)", p->label, name,
		     keys);
		return 0;
	}
	idx = config_key_index(k);
	if (p->kind == LINE_CONT) {
		if (!(k->flags & KEY_LIST)) {
			fail(p, "%s %s: given twice (an indented line "
			     "continues the key above; only lists may "
			     "continue)", p->label, name);
			return 0;
		}
	} else if (p->key_line[idx]) {
		if (!(k->flags & KEY_REPEAT)) {
			fail(p, "%s %s: given twice (first at line %u)",
			     p->label, name, p->key_line[idx]);
			return 0;
		}
	} else {
		p->key_line[idx] = p->lineno;
		if (p->sect != SECT_CLASS)
			p->sect_key_line[idx] = p->lineno;
	}
	return k->set(p, k, value) ? 0 : 1;
}

int mxg_config_load_string(const char *name, const char *text,
			   struct mxg_config *cfg, char *err, size_t errlen)
{
	struct parser p = { 0 };
	int ret;

	if (err && errlen)
		err[0] = '\0';
	if (!name)
		name = "(config)";
	if (strlen(name) >= sizeof(cfg->path)) {
		if (err && errlen)
			snprintf(err, errlen, "%.64s...: file name too long",
				 name);
		return -ENAMETOOLONG;
	}
	/* The private copy is large (the rule lists); keep it off the
	 * stack. */
	p.cfg = calloc(1, sizeof(*p.cfg));
	if (!p.cfg) {
		if (err && errlen)
			snprintf(err, errlen, "%s: out of memory", name);
		return -ENOMEM;
	}
	p.name = name;
	p.pos = text;
	p.end = text + strlen(text);
	p.err = err;
	p.errlen = errlen;
	config_defaults(&p);
	strcpy(p.cfg->path, name);

	ret = ini_parse_stream(read_line, &p, handle_pair, &p);
	/* The reader catches every syntax error inih knows about; this is
	 * only a guard in case a later inih finds one more. */
	if (ret && !p.failed)
		fail_at(&p, ret > 0 ? (unsigned)ret : 0,
			"cannot parse this line");
	ret = config_check(&p);
	if (!ret)
		*cfg = *p.cfg;
	free(p.cfg);
	return ret;
}

int mxg_config_load(const char *path, struct mxg_config *cfg,
		    char *err, size_t errlen)
{
	char *text = NULL;
	size_t len = 0, cap = 0, n;
	FILE *f;
	int ret;

	if (err && errlen)
		err[0] = '\0';
	f = fopen(path, "re");
	if (!f) {
		ret = -errno;
		goto fail_errno;
	}
	for (;;) {
		if (cap - len < 4096) {
			char *tmp;

			if (cap >= MXG_CONFIG_MAX_SIZE) {
				ret = -EFBIG;
				goto fail_errno;
			}
			cap = cap ? cap * 2 : 8192;
			tmp = realloc(text, cap + 1);
			if (!tmp) {
				ret = -ENOMEM;
				goto fail_errno;
			}
			text = tmp;
		}
		n = fread(text + len, 1, cap - len, f);
		len += n;
		if (n)
			continue;
		if (ferror(f)) {
			ret = errno ? -errno : -EIO;
			goto fail_errno;
		}
		break;
	}
	text[len] = '\0';
	/* The string parser stops at the first NUL; a NUL in the file must
	 * not hide the rest of it. */
	if (strlen(text) != len) {
		unsigned line = 1;
		const char *c;

		for (c = text; *c; c++)
			line += *c == '\n';
		if (err && errlen)
			snprintf(err, errlen, "%s:%u: line contains a NUL byte",
				 path, line);
		ret = -EINVAL;
		goto out;
	}
	ret = mxg_config_load_string(path, text, cfg, err, errlen);
	goto out;

fail_errno:
	if (err && errlen)
		snprintf(err, errlen, "%s: cannot read: %s", path,
			 strerror(-ret));
out:
	if (f)
		fclose(f);
	free(text);
	return ret;
}
