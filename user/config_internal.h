/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * What the three parts of the config reader share, and nothing else
 * includes: the reader (config.c) cuts the file into sections and keys,
 * the key table (config_keys.c) checks and stores each value, the
 * whole-file checks (config_check.c) look at what only makes sense
 * together. All three work on one struct parser.
 */
#ifndef MXG_CONFIG_INTERNAL_H
#define MXG_CONFIG_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "config.h"

/* A section header's name, with its NUL: longer is no section. */
#define SECTION_NAME_MAX 64
/* Room for every key of the table (config_keys.c asserts it fits). */
#define CONFIG_MAX_KEYS 96

#define NSEC_PER_SEC 1000000000ULL

enum section {
	SECT_NONE = 0,
	SECT_GLOBAL,
	SECT_CLASS,
	SECT_ALLOW,
	SECT_DENY,
	SECT_LDAP,
	SECT_SMTP_INSPECT,
	SECT_LOOKUP,
	SECT_TUNER,
	SECT_METRICS,
	SECT_FLEET,
};

/* What the reader saw on the line inih is about to hand to the handler. */
enum line_kind {
	LINE_OTHER = 0,	/* blank, comment, section header */
	LINE_KEY,	/* key = value */
	LINE_CONT,	/* indented: more value for the key above */
};

struct parser;
struct key_def;
typedef int key_set_fn(struct parser *p, const struct key_def *k,
		       const char *value);

/* KEY_LIST: an indented line continues the value with more items.
 * KEY_REPEAT: the key may also be written again in the same section.
 * KEY_LIMIT: a class limit, which `mxguardctl limit set` may change at
 * run time through the same setter. */
#define KEY_LIST 1
#define KEY_REPEAT 2
#define KEY_LIMIT 4

struct key_def {
	enum section sect;
	const char *name;
	int flags;
	key_set_fn *set;
};

struct parser {
	const char *name;		/* file name for messages */
	const char *pos, *end;		/* the text not read yet */
	unsigned lineno;
	bool prev_key;			/* inih's prev_name is set */
	enum line_kind kind;

	enum section sect;
	/* "[class smtp]" for messages: "[NAME]" of any name read_line()
	 * passes on fits. */
	char label[SECTION_NAME_MAX + 2];
	unsigned sect_line;
	struct mxg_class_config *cls;	/* in [class NAME] */
	unsigned cls_idx;
	unsigned key_line[CONFIG_MAX_KEYS];	/* per key, this section */

	/* Where each section was first given; sections may not repeat. */
	unsigned global_line, allow_line, deny_line, ldap_line, inspect_line;
	unsigned lookup_line, lookup_group_line, tuner_line, metrics_line;
	unsigned fleet_line;
	/* Where each key of a section given once ([ldap], [tuner]...) was,
	 * for the checks of keys together at the end. */
	unsigned sect_key_line[CONFIG_MAX_KEYS];
	unsigned class_line[MXG_MAX_CLASSES];
	unsigned ports_line[MXG_MAX_CLASSES];
	bool burst_given[MXG_MAX_CLASSES];
	bool new_burst_given[MXG_MAX_CLASSES];
	bool is_default[MXG_MAX_CLASSES];

	bool attributes_given;		/* [ldap] attributes replaced defaults */

	bool failed;
	char *err;
	size_t errlen;

	/* The private copy being filled; NULL when a class limit is set
	 * alone (mxg_class_limit_set()), where only cls is written. */
	struct mxg_config *cfg;
};

/* Record the first error only: it is the one the operator should fix,
 * later ones are often its consequences. Always returns -EINVAL. */
int __attribute__((format(printf, 3, 4)))
config_fail_at(struct parser *p, unsigned line, const char *fmt, ...);

#define fail_at(p, line, ...) config_fail_at((p), (line), __VA_ARGS__)
#define fail(p, ...) config_fail_at((p), (p)->lineno, __VA_ARGS__)

/* "[global] attach: 'x' is not ..." */
#define fail_value(p, k, value, what, ...)				\
	fail((p), "%s %s: '%s' is not " what, (p)->label, (k)->name,	\
	     (value), ##__VA_ARGS__)

/* ---- the key table (config_keys.c) ---- */

/* The key of a section, NULL if there is none. */
const struct key_def *config_key_find(enum section sect, const char *name);
/* A key's index in the table, for key_line[]. */
unsigned config_key_index(const struct key_def *k);
/* "a, b, c": the keys of a section, for the unknown-key message. */
void config_keys_list(enum section sect, char *buf, size_t len);
/* The defaults the file then changes. */
void config_defaults(struct parser *p);
/* A group name or number to a gid; -ENOENT when the host has no such
 * group. */
int config_resolve_group(const char *name, uint32_t *gid);

/* ---- whole-file checks (config_check.c) ---- */

/* Every check that needs the whole file, in order; fills in what
 * depends on several keys (a class's default burst). */
int config_check(struct parser *p);

#endif
