/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * A small streaming JSON writer: objects and arrays nest, commas are placed
 * by the writer, strings are escaped. Enough for -j output; keys come out in
 * the order they are written, which keeps the contract's order stable.
 */
#ifndef MXG_JSON_H
#define MXG_JSON_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#define MXG_JSON_DEPTH 16

struct json {
	FILE *out;
	int depth;
	bool after_key;		/* a key was written, its value is next */
	bool pretty;		/* indented, one member per line */
	bool first[MXG_JSON_DEPTH];
};

void json_init(struct json *j, FILE *out);
/* Indent by four spaces per level, one member or item per line, ": "
 * after keys (bpftool -p). Off after json_init(). */
void json_set_pretty(struct json *j, bool pretty);
void json_key(struct json *j, const char *key);
void json_begin_object(struct json *j);
void json_end_object(struct json *j);
void json_begin_array(struct json *j);
void json_end_array(struct json *j);
void json_string(struct json *j, const char *s);
void json_u64(struct json *j, uint64_t v);
void json_i64(struct json *j, int64_t v);
void json_double(struct json *j, double v);
void json_bool(struct json *j, bool v);
void json_null(struct json *j);
/* Finish the document with a newline. */
void json_finish(struct json *j);

/* key + value in one call, for the common case (json_kv_string: v NULL
 * is null). */
void json_kv_string(struct json *j, const char *key, const char *v);
void json_kv_u64(struct json *j, const char *key, uint64_t v);
void json_kv_bool(struct json *j, const char *key, bool v);

#endif
