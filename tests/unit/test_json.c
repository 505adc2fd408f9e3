/* SPDX-License-Identifier: BSD-2-Clause */
/* The JSON writer: separators, nesting, escaping, the indented form. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "json.h"

static char *render_as(void (*fn)(struct json *j), bool pretty)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	struct json j;

	assert_non_null(f);
	json_init(&j, f);
	json_set_pretty(&j, pretty);
	fn(&j);
	fclose(f);
	return buf;
}

static char *render(void (*fn)(struct json *j))
{
	return render_as(fn, false);
}

static void doc_stats(struct json *j)
{
	json_begin_object(j);
	json_key(j, "classes");
	json_begin_object(j);
	json_key(j, "smtp");
	json_begin_object(j);
	json_kv_u64(j, "passed", 3);
	json_key(j, "dropped");
	json_begin_object(j);
	json_kv_u64(j, "rate", 18446744073709551615ULL);
	json_kv_u64(j, "deny", 0);
	json_end_object(j);
	json_end_object(j);
	json_end_object(j);
	json_key(j, "list");
	json_begin_array(j);
	json_u64(j, 1);
	json_string(j, "two");
	json_bool(j, false);
	json_null(j);
	json_begin_object(j);
	json_end_object(j);
	json_end_array(j);
	json_end_object(j);
	json_finish(j);
}

static void test_nesting(void **state)
{
	char *out = render(doc_stats);

	assert_string_equal(out,
		"{\"classes\":{\"smtp\":{\"passed\":3,\"dropped\":{\"rate\":18446744073709551615,\"deny\":0}}},"
		"\"list\":[1,\"two\",false,null,{}]}\n");
	free(out);
}

static void doc_escape(struct json *j)
{
	json_begin_object(j);
	json_kv_string(j, "s", "a\"b\\c\nd\te\x01" "f");
	json_end_object(j);
}

static void test_escaping(void **state)
{
	char *out = render(doc_escape);

	assert_string_equal(out, "{\"s\":\"a\\\"b\\\\c\\nd\\te\\u0001f\"}");
	free(out);
}

static void doc_empty_array(struct json *j)
{
	json_begin_array(j);
	json_end_array(j);
	json_begin_array(j);
	json_end_array(j);
}

/* Two top-level values are separated like array items: callers print one
 * document per command, but the writer must never emit "[][]". */
static void test_top_level(void **state)
{
	char *out = render(doc_empty_array);

	assert_string_equal(out, "[],[]");
	free(out);
}

/* -p: the same document, indented as bpftool -p indents. */
static void test_pretty(void **state)
{
	char *out = render_as(doc_stats, true);

	assert_string_equal(out,
		"{\n"
		"    \"classes\": {\n"
		"        \"smtp\": {\n"
		"            \"passed\": 3,\n"
		"            \"dropped\": {\n"
		"                \"rate\": 18446744073709551615,\n"
		"                \"deny\": 0\n"
		"            }\n"
		"        }\n"
		"    },\n"
		"    \"list\": [\n"
		"        1,\n"
		"        \"two\",\n"
		"        false,\n"
		"        null,\n"
		"        {}\n"
		"    ]\n"
		"}\n");
	free(out);
	out = render_as(doc_empty_array, true);
	assert_string_equal(out, "[],[]");
	free(out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_nesting),
		cmocka_unit_test(test_escaping),
		cmocka_unit_test(test_top_level),
		cmocka_unit_test(test_pretty),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
