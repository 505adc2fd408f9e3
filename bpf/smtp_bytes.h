/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The SMTP reader's byte reader: a state machine kept in the flow, fed
 * one byte at a time, so that a command may be split anywhere between
 * segments. Only a line the word reader (smtp_words.h) cannot take whole
 * comes here: one split between segments or chunks, or longer than a
 * chunk; and every RCPT when more than two recipient delimiters are
 * configured. It costs ~20 ns a byte, so no choice of whole lines by a
 * client reaches it.
 */
#ifndef MXG_SMTP_BYTES_H
#define MXG_SMTP_BYTES_H

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include "maps.bpf.h"
#include "rcpt.h"
#include "smtp_state.h"
#include "smtp_verbs.h"
#include "smtp_judge.h"

/* Match the line's first bytes against the one keyword its first byte
 * allows (the five start with different letters): one comparison per
 * byte, not five. f->alive holds that keyword's index + 1. */
static __always_inline void match_verb(struct mxg_flow *f, __u8 c)
{
	__u8 lc = c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c == '\t' ? ' ' : c;
	__u32 col = f->col, v;

	if (col == 0) {
		switch (lc) {
		case ' ':
			/* The MTA skips leading blanks ("  DATA" is DATA to
			 * Postfix): not a line to guess about. */
			f->flags |= LINE_GIVEUP;
			f->verb = MXG_VERB_OTHER;
			return;
#define X(name, len, w0, w1) \
		case (w0) & 0xff: f->alive = MXG_VERB_##name; break;
		MXG_KEYWORDS(X)
#undef X
		default:
			f->verb = MXG_VERB_OTHER;
			return;
		}
	}
	v = f->alive - 1;
	if (v >= MXG_VERBS || col >= verb_len(v) || lc != verb_char(v, col)) {
		f->verb = MXG_VERB_OTHER;
		return;
	}
	if (col == verb_len(v) - 1)
		f->verb = v + 1;	/* enum mxg_verb */
}

/* A byte of the argument of MAIL FROM / RCPT TO: the address is
 * normalised as it is read (bpf/rcpt.h). */
static __always_inline void read_address(struct mxg_flow *f, __u8 c,
					 const char delims[MXG_DELIM_MAX])
{
	switch (f->arg) {
	case ARG_BLANKS:
		if (c == ' ' || c == '\t' || c == '\r')
			return;
		f->arg = ARG_ADDR;
		mxg_norm_init(&f->norm, delims);
		if (c == '<') {
			f->flags |= LINE_BRACKET;
			return;
		}
		break;
	case ARG_ADDR:
		if (f->flags & LINE_BRACKET ? c == '>' :
		    c == ' ' || c == '\t' || c == '\r') {
			f->arg = ARG_REST;
			return;
		}
		break;
	default:
		return;		/* ESMTP parameters */
	}
	mxg_norm_step(&f->norm, f->addr, c);
}

/* A byte after "BDAT ": the chunk size, then " LAST" or nothing. */
static __always_inline void read_bdat(struct mxg_flow *f, __u8 c)
{
	/* More blanks before the size: the MTA skips them. */
	if ((c == ' ' || c == '\t') && !f->arg && !(f->flags & LINE_DIGITS))
		return;
	if (c >= '0' && c <= '9' && !(f->arg)) {
		if (f->bdat_left > (MXG_BDAT_MAX - 9) / 10) {
			/* A chunk larger than we count still comes: its
			 * bytes must never be read as commands. */
			f->flags |= LINE_GIVEUP;
			f->verb = MXG_VERB_OTHER;
			return;
		}
		f->bdat_left = f->bdat_left * 10 + (c - '0');
		f->flags |= LINE_DIGITS;
		return;
	}
	/* The size ends at the first non-digit; what follows (LAST) does
	 * not change how many bytes come. */
	f->arg = ARG_REST;
	if (!(f->flags & LINE_DIGITS))
		f->verb = MXG_VERB_OTHER;
}

/* The address the byte reader collected in the flow: its normal form
 * (the finish both sides share) goes to s->out and to the judge. */
__noinline int mxg_judge_flow(void)
{
	struct mxg_smtp_scratch *s = smtp_scratch();
	struct mxg_flow *f;
	__u32 at = 0;
	int len;

	if (!s)
		return 0;
	f = &s->flow;
	if (f->arg == ARG_BLANKS) {
		s->j.invalid++;		/* "RCPT TO:" and nothing */
		return 0;
	}
	/* Finished in s->out, which has room past the address for the
	 * finish's word moves (the flow's buffer has not). */
	__builtin_memcpy(s->out, f->addr, MXG_RCPT_BUF);
	len = mxg_norm_finish(&f->norm, (char *)s->out, &at);
	if (len <= 0) {
		s->j.invalid++;
		return 0;
	}
	return mxg_judge_addr(len, at);
}

/* The end of a command line. */
static __always_inline void end_line(struct mxg_smtp_scratch *s)
{
	struct mxg_flow *f = &s->flow;

	s->lines++;
	if (f->flags & LINE_GIVEUP) {
		give_up(f);
		line_done(f);
		return;
	}
	switch (f->verb) {
	case MXG_VERB_RCPT:
		mxg_judge_flow();
		break;
	case MXG_VERB_MAIL:
		/* MAIL FROM:<>: the null sender of a bounce. */
		if ((f->flags & LINE_BRACKET) && !f->norm.n && f->arg == ARG_REST)
			s->j.null_sender++;
		break;
	case MXG_VERB_DATA:
		f->state = MXG_FLOW_DATA;
		/* The CRLF that ended DATA counts: ".\r\n" right after is an
		 * empty body. */
		f->tail = 0x0d0a;
		break;
	case MXG_VERB_BDAT:
		if (f->bdat_left)
			f->state = MXG_FLOW_BDAT;
		break;
	case MXG_VERB_STARTTLS:
		f->state = MXG_FLOW_TLS;
		count_rcpt(MXG_RCPT_UNINSPECTABLE);
		break;
	}
	line_done(f);
}

/* One byte of a command line; returns 1 at the line's end. */
static __always_inline int read_byte(struct mxg_smtp_scratch *s, __u8 c)
{
	struct mxg_flow *f = &s->flow;

	if (c == '\n') {
		end_line(s);
		return 1;
	}
	if (f->verb == MXG_VERB_UNKNOWN)
		match_verb(f, c);
	else if (f->verb == MXG_VERB_RCPT || f->verb == MXG_VERB_MAIL)
		read_address(f, c, s->j.delims);
	else if (f->verb == MXG_VERB_BDAT)
		read_bdat(f, c);
	else if ((f->verb == MXG_VERB_DATA || f->verb == MXG_VERB_STARTTLS) &&
		 c != ' ' && c != '\t' && c != '\r')
		f->verb = MXG_VERB_OTHER;	/* "DATAX", "STARTTLS now" */
	if (f->col < 0xffff)
		f->col++;
	return 0;
}

#define MXG_BLOCK 16	/* bytes per call of the global byte reader */

/*
 * Up to MXG_BLOCK bytes of the chunk, from off. A global function, so the
 * verifier checks this state machine once, on its own, instead of once per
 * path of every caller; a block per call, not a byte, because the call
 * and the bpf_loop step cost more than the byte's work. Returns the bytes
 * consumed; s->stop says a line ended.
 */
__noinline int mxg_read_block(__u32 off)
{
	struct mxg_smtp_scratch *s = smtp_scratch();
	__u32 k;

	if (!s)
		return MXG_BLOCK;
	for (k = 0; k < MXG_BLOCK; k++) {
		__u32 idx = off + k;

		if (idx >= s->n || idx >= MXG_CHUNK)
			break;
		/* Keep the mask: clang would drop it after the test above,
		 * and the verifier does not know off. */
		asm volatile("" : "+r"(idx));
		if (read_byte(s, s->chunk[idx & (MXG_CHUNK - 1)])) {
			s->stop = 1;
			return k + 1;
		}
	}
	return k;
}

/* What a bpf_loop over the byte reader's blocks needs. */
struct mxg_bytes {
	struct mxg_smtp_scratch *s;
	__u32 off;		/* where in the chunk the reading started */
	__u32 used;		/* the chunk offset reached */
};

static long read_command_block(__u32 i, void *ctx)
{
	struct mxg_bytes *b = ctx;
	__u32 off = b->off + i * MXG_BLOCK;
	int n;

	if (off >= b->s->n)
		return 1;
	b->s->stop = 0;
	n = mxg_read_block(off);
	b->used = off + (n > 0 ? n : 0);
	return b->s->stop ? 1 : 0;
}

/* Byte by byte from off to the end of the line or of the chunk; returns
 * the chunk offset reached. */
static __always_inline __u32 read_bytes(struct mxg_smtp_scratch *s, __u32 off)
{
	struct mxg_bytes b = { .s = s, .off = off, .used = s->n };

	bpf_loop((MXG_CHUNK + MXG_BLOCK - 1) / MXG_BLOCK, read_command_block, &b, 0);
	return b.used;
}

#endif /* MXG_SMTP_BYTES_H */
