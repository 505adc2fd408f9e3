/* SPDX-License-Identifier: BSD-2-Clause */
/* The JSON writer; see json.h. */
#include <inttypes.h>
#include "json.h"

void json_init(struct json *j, FILE *out)
{
	j->out = out;
	j->depth = 0;
	j->after_key = false;
	j->pretty = false;
	j->first[0] = true;
}

void json_set_pretty(struct json *j, bool pretty)
{
	j->pretty = pretty;
}

/* Pretty: each member or item on a line of its own, indented by depth. */
static void newline(struct json *j)
{
	if (!j->pretty)
		return;
	fputc('\n', j->out);
	for (int i = 0; i < j->depth; i++)
		fputs("    ", j->out);
}

/* A value (or a key) is about to be written at the current depth. */
static void separate(struct json *j)
{
	if (!j->first[j->depth])
		fputc(',', j->out);
	/* Top-level values (one document per command) stay as they are. */
	if (j->depth)
		newline(j);
	j->first[j->depth] = false;
}

/* After a key, the value follows without a separator. */
static void value_start(struct json *j)
{
	if (j->after_key)
		j->after_key = false;
	else
		separate(j);
}

static void write_escaped(FILE *out, const char *s)
{
	fputc('"', out);
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		switch (*p) {
		case '"':
			fputs("\\\"", out);
			break;
		case '\\':
			fputs("\\\\", out);
			break;
		case '\n':
			fputs("\\n", out);
			break;
		case '\t':
			fputs("\\t", out);
			break;
		default:
			if (*p < 0x20)
				fprintf(out, "\\u%04x", *p);
			else
				fputc(*p, out);
		}
	}
	fputc('"', out);
}

void json_key(struct json *j, const char *key)
{
	separate(j);
	write_escaped(j->out, key);
	fputs(j->pretty ? ": " : ":", j->out);
	j->after_key = true;
}

static void open_nested(struct json *j, char c)
{
	value_start(j);
	fputc(c, j->out);
	if (j->depth + 1 < MXG_JSON_DEPTH)
		j->depth++;
	j->first[j->depth] = true;
}

static void close_nested(struct json *j, char c)
{
	bool empty = j->first[j->depth];

	if (j->depth > 0)
		j->depth--;
	/* "[]" and "{}" stay on one line. */
	if (!empty)
		newline(j);
	fputc(c, j->out);
}

void json_begin_object(struct json *j) { open_nested(j, '{'); }
void json_end_object(struct json *j) { close_nested(j, '}'); }
void json_begin_array(struct json *j) { open_nested(j, '['); }
void json_end_array(struct json *j) { close_nested(j, ']'); }

void json_string(struct json *j, const char *s)
{
	value_start(j);
	write_escaped(j->out, s);
}

void json_u64(struct json *j, uint64_t v)
{
	value_start(j);
	fprintf(j->out, "%" PRIu64, v);
}

void json_i64(struct json *j, int64_t v)
{
	value_start(j);
	fprintf(j->out, "%" PRId64, v);
}

void json_double(struct json *j, double v)
{
	value_start(j);
	fprintf(j->out, "%.6g", v);
}

void json_bool(struct json *j, bool v)
{
	value_start(j);
	fputs(v ? "true" : "false", j->out);
}

void json_null(struct json *j)
{
	value_start(j);
	fputs("null", j->out);
}

void json_finish(struct json *j)
{
	fputc('\n', j->out);
	fflush(j->out);
}

void json_kv_string(struct json *j, const char *key, const char *v)
{
	json_key(j, key);
	if (v)
		json_string(j, v);
	else
		json_null(j);
}

void json_kv_u64(struct json *j, const char *key, uint64_t v)
{
	json_key(j, key);
	json_u64(j, v);
}

void json_kv_bool(struct json *j, const char *key, bool v)
{
	json_key(j, key);
	json_bool(j, v);
}
