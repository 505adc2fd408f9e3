/* SPDX-License-Identifier: BSD-2-Clause */
/* What the cmocka unit tests share: table sizes and table-row asserts. */
#ifndef MXG_TESTS_UNIT_H
#define MXG_TESTS_UNIT_H

#include <string.h>

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* assert_int_equal() that names the table row that failed. */
#define expect_int(got, want, input)					\
	do {								\
		long long got_ = (got), want_ = (want);			\
									\
		if (got_ != want_)					\
			fail_msg("'%s': got %lld, want %lld", (input),	\
				 got_, want_);				\
	} while (0)

/* text holds part. */
#define expect_has(text, part)						\
	do {								\
		if (!strstr((text), (part)))				\
			fail_msg("'%s' does not say '%s'", (text), (part)); \
	} while (0)

#endif
