/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * What a command line is to the SMTP reader: the commands it follows, one
 * table of their keywords that both readers match against (the byte
 * reader a byte at a time, smtp_bytes.h; the word reader eight bytes at a
 * time, smtp_words.h), and the state of the line being read, which both
 * readers start, end and give up on the same way.
 */
#ifndef MXG_SMTP_VERBS_H
#define MXG_SMTP_VERBS_H

#include "vmlinux.h"
#include "smtp_state.h"

/* The largest BDAT chunk counted; a larger one still comes, and its bytes
 * must never be read as commands. */
#define MXG_BDAT_MAX 0x7fffffff

/* Eight characters as a word, byte i of it character i (as swar_load()
 * reads memory). Keywords are words, not strings, so no global data is
 * needed: the loader pins every map, and bpffs takes no name with a dot
 * such as ".rodata". */
#define W8(a, b, c, d, e, f, g, h)                                          \
	((__u64)(a) | (__u64)(b) << 8 | (__u64)(c) << 16 | (__u64)(d) << 24 | \
	 (__u64)(e) << 32 | (__u64)(f) << 40 | (__u64)(g) << 48 |            \
	 (__u64)(h) << 56)

/* The keywords, lower case, and their lengths; bytes past a keyword's
 * length are 0. */
#define KW_RCPT W8('r', 'c', 'p', 't', ' ', 't', 'o', ':')
#define KW_RCPT_LEN 8
#define KW_MAIL W8('m', 'a', 'i', 'l', ' ', 'f', 'r', 'o')
#define KW_MAIL2 W8('m', ':', 0, 0, 0, 0, 0, 0)	/* "mail from:" goes on */
#define KW_MAIL_LEN 10
#define KW_DATA W8('d', 'a', 't', 'a', 0, 0, 0, 0)
#define KW_DATA_LEN 4
#define KW_BDAT W8('b', 'd', 'a', 't', ' ', 0, 0, 0)
#define KW_BDAT_LEN 5
#define KW_STARTTLS W8('s', 't', 'a', 'r', 't', 't', 'l', 's')
#define KW_STARTTLS_LEN 8

/*
 * The table: each command the reader follows, its keyword's length and
 * its two words. The order is enum mxg_verb's; each keyword starts with a
 * letter of its own, so a line's first byte picks the one it may be.
 */
#define MXG_KEYWORDS(X)                                 \
	X(RCPT, KW_RCPT_LEN, KW_RCPT, 0)                \
	X(MAIL, KW_MAIL_LEN, KW_MAIL, KW_MAIL2)         \
	X(DATA, KW_DATA_LEN, KW_DATA, 0)                \
	X(BDAT, KW_BDAT_LEN, KW_BDAT, 0)                \
	X(STARTTLS, KW_STARTTLS_LEN, KW_STARTTLS, 0)

/* The command a line starts with, as far as read (mxg_flow.verb). */
enum mxg_verb {
	MXG_VERB_UNKNOWN = 0,	/* still matching the first bytes */
#define X(name, len, w0, w1) MXG_VERB_##name,
	MXG_KEYWORDS(X)
#undef X
	MXG_VERB_OTHER,		/* anything else: skip to the end of the line */
};

#define MXG_VERBS (MXG_VERB_OTHER - 1)

/* The bits that OR a keyword's letters to lower case: 0x20 under each
 * letter, 0 under a blank or a colon (which must match exactly) and past
 * its end. */
#define KW_FOLD1(w, i)                                                  \
	((((w) >> (8 * (i))) & 0xff) >= 'a' &&                          \
	 (((w) >> (8 * (i))) & 0xff) <= 'z' ? 0x20ULL << (8 * (i)) : 0)
#define KW_FOLD(w)                                                      \
	(KW_FOLD1(w, 0) | KW_FOLD1(w, 1) | KW_FOLD1(w, 2) | KW_FOLD1(w, 3) | \
	 KW_FOLD1(w, 4) | KW_FOLD1(w, 5) | KW_FOLD1(w, 6) | KW_FOLD1(w, 7))

/* The first len bytes of a word (len 1..8, a constant). */
#define KW_HEAD(len) ((len) >= 8 ? ~0ULL : (1ULL << ((8 * (len)) & 63)) - 1)

/* Do the first len bytes of w spell keyword word kw, in any case? */
#define KW_IS(w, kw, len) ((((w) & KW_HEAD(len)) | KW_FOLD(kw)) == (kw))

/* Keyword v's length (v = enum mxg_verb - 1); 0 past the table. */
static __always_inline __u32 verb_len(__u32 v)
{
	switch (v) {
#define X(name, len, w0, w1) case MXG_VERB_##name - 1: return len;
	MXG_KEYWORDS(X)
#undef X
	default: return 0;
	}
}

/* Character i of keyword v, lower case. */
static __always_inline __u8 verb_char(__u32 v, __u32 i)
{
	__u64 w0 = 0, w1 = 0;

	switch (v) {
#define X(name, len, kw0, kw1) \
	case MXG_VERB_##name - 1: w0 = kw0; w1 = kw1; break;
	MXG_KEYWORDS(X)
#undef X
	}
	return i < 8 ? (w0 >> (8 * i)) & 0xff : (w1 >> (8 * ((i - 8) & 7))) & 0xff;
}

/* ---- the line ------------------------------------------------------- */

/* A line the reader cannot be sure the MTA reads as it would: rather
 * than risk reading a body as commands, the flow is no longer followed. */
static __always_inline void give_up(struct mxg_flow *f)
{
	f->state = MXG_FLOW_LOST;	/* counted at the segment's end */
}

static __always_inline void line_reset(struct mxg_flow *f)
{
	f->col = 0;
	f->verb = MXG_VERB_UNKNOWN;
	f->alive = 0;
	f->arg = ARG_BLANKS;
	f->flags = 0;
	f->norm.n = 0;
}

/* A line read to its end, by either reader: digits of a line that was
 * not a BDAT after all count for nothing. */
static __always_inline void line_done(struct mxg_flow *f)
{
	if (f->state != MXG_FLOW_BDAT)
		f->bdat_left = 0;
	line_reset(f);
}

static __always_inline int at_line_start(const struct mxg_flow *f)
{
	return f->col == 0 && f->verb == MXG_VERB_UNKNOWN;
}

/* Nothing more on this line can matter: only its end is looked for. */
static __always_inline int rest_of_line_ignored(const struct mxg_flow *f)
{
	return f->verb == MXG_VERB_OTHER ||
	       ((f->verb == MXG_VERB_RCPT || f->verb == MXG_VERB_MAIL) &&
		f->arg == ARG_REST);
}

#endif /* MXG_SMTP_VERBS_H */
