/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The SMTP reader's word reader: a command line that starts and ends in
 * the chunk at hand (nearly all of them: a client writes whole lines) is
 * read eight bytes at a time (bpf/swar.h): its end found by a word scan,
 * its keyword compared as a word against the keyword table
 * (smtp_verbs.h), the address of a RCPT lower-cased and searched for its
 * last '@' and first delimiter in one pass, then finished as the byte
 * reader's (mxg_norm_finish(), bpf/rcpt.h) and judged. What it does not
 * take whole it leaves to the byte reader (smtp_bytes.h), at the same
 * place in the line: both end in the same judge, and tests/bpf/test_smtp.c
 * checks that they agree.
 */
#ifndef MXG_SMTP_WORDS_H
#define MXG_SMTP_WORDS_H

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include "maps.bpf.h"
#include "rcpt.h"
#include "swar.h"
#include "smtp_state.h"
#include "smtp_verbs.h"
#include "smtp_judge.h"

/*
 * v, read back from the map value: an unknown scalar to the verifier.
 * Where a loop can exit at any of its iterations, each exit leaves a value
 * with its own range, and the verifier walks the rest of the function
 * once per range; passed through here, they are one state again. The
 * bounds the code needs after it come from masks, as everywhere here.
 */
static __always_inline __u64 opaque(struct mxg_smtp_scratch *s, __u64 v)
{
	s->opaque = v;
	return *(volatile __u64 *)&s->opaque;
}

static __always_inline __u64 chunk_word(const struct mxg_smtp_scratch *s,
					__u32 off)
{
	return swar_load(&s->chunk[off & (MXG_CHUNK - 1)]);
}

/* The chunk offset of the first LF at or after off, s->n if none. */
static __always_inline __u32 find_lf(const struct mxg_smtp_scratch *s,
				     __u32 off)
{
	__u32 k, n = s->n;

	for (k = 0; k < MXG_CHUNK / 8; k++) {
		__u32 at = off + 8 * k;
		__u64 i;

		if (at >= n)
			break;
		i = swar_first(swar_eq(chunk_word(s, at), '\n'));
		if (i < 8)
			return at + i < n ? at + (__u32)i : n;
	}
	return n;
}

/* The index of the last marked byte of m, which has one (branch-free
 * halving: a jump here would fork the verifier per outcome). */
static __always_inline __u64 swar_last(__u64 m)
{
	__u64 i = 0, f;

	m >>= 7;	/* marks at bits 0, 8, ...: below 2^63 for the flags */
	f = mxg_rcpt_lt(0xffffffffULL, m);
	i += 4 * f;
	m >>= 32 * f;
	f = mxg_rcpt_lt(0xffffULL, m);
	i += 2 * f;
	m >>= 16 * f;
	return i + mxg_rcpt_lt(0xffULL, m);
}

/* Is the mark set m non-empty? As a 0/1 flag, for mxg_rcpt_sel(). */
static __always_inline __u64 swar_any(__u64 m)
{
	return mxg_rcpt_lt(0, m >> 7);
}

/* The first chunk offset at or after a, below nl, whose byte is not a
 * blank (SP, HT) or CR; nl if there is none. */
static __always_inline __u32 skip_blanks(const struct mxg_smtp_scratch *s,
					 __u32 a, __u32 nl)
{
	__u32 k;
	__u64 i;

	for (k = 0; k < MXG_CHUNK / 8; k++) {
		__u64 w;

		if (a >= nl)
			return nl;
		w = chunk_word(s, a);
		i = swar_first(~(swar_eq(w, ' ') | swar_eq(w, '\t') |
				 swar_eq(w, '\r')) & SWAR_HIGHS);
		a += i;
		if (i < 8)
			return a < nl ? a : nl;
	}
	return nl;
}

/* skip_blanks() as a global function, for the line reader: it would
 * otherwise carry a copy of the loop for every command of each of its
 * lines, which the verifier walks one by one. */
__noinline int mxg_skip_blanks(__u32 a, __u32 nl)
{
	struct mxg_smtp_scratch *s = smtp_scratch();

	return s ? skip_blanks(s, a, nl) : nl;
}

/* The same where a blank is rare (the argument of MAIL FROM, what follows
 * DATA and STARTTLS): no call unless there is one. */
static __always_inline __u32 skip_rare_blanks(const struct mxg_smtp_scratch *s,
					      __u32 a, __u32 nl)
{
	__u8 c = s->chunk[a & (MXG_CHUNK - 1)];

	if (a >= nl || (c != ' ' && c != '\t' && c != '\r'))
		return a < nl ? a : nl;
	if (c == '\r' && a + 1 == nl)
		return nl;	/* the CR of CR LF */
	return mxg_skip_blanks(a, nl);
}

/*
 * The argument of a complete RCPT TO line, chunk bytes [a, nl), read a
 * word at a time into its normal form in s->out, then judged. The same
 * rules as the byte reader and mxg_rcpt_normalize() (bpf/rcpt.h): blanks
 * skipped; with '<' the address ends at '>', without at a blank; one pass
 * lower-cases it, marks control bytes, and finds its last '@' and first
 * delimiter. Inside the loop nothing branches but its exits, so the
 * verifier walks it once. A global function: one call per recipient
 * covers the reading, both hashes and the judging, and the line loop
 * that calls it stays small enough to verify.
 */
__noinline int mxg_read_rcpt(__u32 a, __u32 nl)
{
	struct mxg_smtp_scratch *s = smtp_scratch();
	__u64 bad = 0, at_k = 0, at_m = 0, delim = 0, none = 1;
	__u64 d1, d2, bracket, n = 0;
	struct mxg_rcpt_norm st = {};
	__u32 k, start, at = 0;
	int len;

	if (!s || nl > MXG_CHUNK)
		return 0;
	d1 = s->j.delim1;
	d2 = s->j.delim2;
	a = opaque(s, skip_blanks(s, a, nl));
	if (a >= nl) {
		s->j.invalid++;		/* "RCPT TO:" and nothing */
		return 0;
	}
	bracket = s->chunk[a & (MXG_CHUNK - 1)] == '<';
	start = a + bracket;

	for (k = 0; k < MXG_RCPT_BUF / 8; k++) {
		__u32 p = start + 8 * k;
		__u64 w, term, lim, t, hi, m, f;

		if (p >= nl)
			break;
		w = chunk_word(s, p);
		term = bracket * swar_eq(w, '>') +
		       (1 - bracket) * (swar_eq(w, ' ') | swar_eq(w, '\t') |
					swar_eq(w, '\r'));
		lim = nl - p;
		lim = mxg_rcpt_sel(mxg_rcpt_lt(8, lim), 8, lim);
		t = swar_first(term);
		f = mxg_rcpt_lt(t, lim);	/* the address ends here */
		lim = mxg_rcpt_sel(f, t, lim);
		hi = SWAR_HIGHS & swar_head(lim);

		bad |= (swar_lt(w, 0x20) | swar_eq(w, 0x7f)) & hi;
		swar_store(&s->out[(8 * k) & (MXG_RCPT_BUF - 8)], swar_lower(w));
		m = swar_eq(w, '@') & hi;
		at_k = mxg_rcpt_sel(swar_any(m), k, at_k);
		at_m = mxg_rcpt_sel(swar_any(m), m, at_m);
		m = (swar_eq(w, d1) | swar_eq(w, d2)) & hi;
		delim = mxg_rcpt_sel(swar_any(m) * none, 8 * k + swar_first(m), delim);
		none *= 1 - swar_any(m);
		n += lim;
		if (f)
			break;
	}
	/* What the scan found, as the byte reader's normaliser would have
	 * it, and the same finish (bpf/rcpt.h): refused when too long (also
	 * when the loop ran out of words), with a control byte, without '@'
	 * or with an empty part; a +detail cut. */
	st.n = n;
	st.toolong = mxg_rcpt_lt(MXG_RCPT_MAX, n);
	st.bad = swar_any(bad);
	st.at = swar_any(at_m) * (8 * at_k + swar_last(at_m) + 1);
	st.delim = (1 - none) * (delim + 1);
	len = mxg_norm_finish(&st, (char *)s->out, &at);
	if (len <= 0) {
		s->j.invalid++;
		return 0;
	}
	judge_addr(s, len, at);
	return 0;
}

/* BDAT's chunk size, its digits from chunk offset a (as read_bdat() reads
 * them): the flow then skips the chunk. Returns 1 for the byte reader when
 * the digits go on past ten (leading zeros), which it follows exactly. */
static __always_inline int read_bdat_words(struct mxg_smtp_scratch *s,
					   __u32 a, __u32 nl)
{
	struct mxg_flow *f = &s->flow;
	__u64 size = 0;
	__u32 i;

	for (i = 0; i < 10; i++) {
		__u8 c = s->chunk[(a + i) & (MXG_CHUNK - 1)];

		if (a + i >= nl || c < '0' || c > '9')
			break;
		if (size > (MXG_BDAT_MAX - 9) / 10) {
			/* A chunk larger than we count still comes. */
			give_up(f);
			return 0;
		}
		size = size * 10 + (c - '0');
	}
	if (i == 10 && a + i < nl) {
		__u8 c = s->chunk[(a + i) & (MXG_CHUNK - 1)];

		if (c >= '0' && c <= '9')
			return 1;
	}
	if (i && size) {
		f->bdat_left = size;
		f->state = MXG_FLOW_BDAT;
	}
	return 0;
}

/*
 * A command line that starts at off and ends with the LF at nl, both in
 * the chunk, the flow at a line start. Every command the reader follows
 * is read here, so that the byte reader only ever sees lines split
 * between segments or chunks: it costs ~20 ns a byte against a few here,
 * and a client choosing its lines must not choose the slow path. Returns
 * 0 when read, 1 when the line is for the byte reader: every RCPT when
 * more than two delimiters are configured, and BDAT sizes of more than
 * ten digits.
 */
static __always_inline int read_line(struct mxg_smtp_scratch *s, __u32 off,
				     __u32 nl)
{
	struct mxg_flow *f = &s->flow;
	__u64 w, len, arg;

	off &= MXG_CHUNK - 1;
	if (nl > MXG_CHUNK || nl < off)
		return 1;
	w = chunk_word(s, off);
	/* A tab where a keyword has a blank is a blank to the MTA (and to
	 * the byte reader): each HT (0x09) becomes SP (0x20). */
	w ^= (swar_eq(w, '\t') >> 7) * ('\t' ^ ' ');
	len = nl - off;
	if ((w & 0xff) == ' ') {
		/* Leading blanks: as the byte reader, stop following. */
		give_up(f);
		line_done(f);
		return 0;
	}
	switch ((w & 0xff) | 0x20) {
	case KW_RCPT & 0xff:
		if (len < KW_RCPT_LEN || !KW_IS(w, KW_RCPT, KW_RCPT_LEN))
			break;			/* another command */
		if (s->j.bytewise)
			return 1;
		mxg_read_rcpt(off + KW_RCPT_LEN, nl);
		break;
	case KW_MAIL & 0xff:
		if (len < KW_MAIL_LEN || !KW_IS(w, KW_MAIL, 8) ||
		    !KW_IS(chunk_word(s, off + 8), KW_MAIL2, KW_MAIL_LEN - 8))
			break;
		/* MAIL FROM:<>, maybe after blanks: the null sender ("<>"
		 * then anything, as the byte reader has it). */
		arg = skip_rare_blanks(s, off + KW_MAIL_LEN, nl);
		if (arg + 1 < nl &&
		    (chunk_word(s, arg) & 0xffff) == ('<' | '>' << 8))
			s->j.null_sender++;
		break;
	case KW_DATA & 0xff:
		/* DATA, then blanks at most. */
		if (len >= KW_DATA_LEN && KW_IS(w, KW_DATA, KW_DATA_LEN) &&
		    skip_rare_blanks(s, off + KW_DATA_LEN, nl) == nl) {
			f->state = MXG_FLOW_DATA;
			f->tail = 0x0d0a;	/* as end_line() */
		}
		break;
	case KW_BDAT & 0xff:
		if (len >= KW_BDAT_LEN && KW_IS(w, KW_BDAT, KW_BDAT_LEN) &&
		    read_bdat_words(s, skip_rare_blanks(s, off + KW_BDAT_LEN, nl), nl))
			return 1;
		break;
	case KW_STARTTLS & 0xff:
		/* STARTTLS, then blanks at most: encrypted from here on. */
		if (len >= KW_STARTTLS_LEN &&
		    KW_IS(w, KW_STARTTLS, KW_STARTTLS_LEN) &&
		    skip_rare_blanks(s, off + KW_STARTTLS_LEN, nl) == nl) {
			f->state = MXG_FLOW_TLS;
			count_rcpt(MXG_RCPT_UNINSPECTABLE);
		}
		break;
	}
	line_done(f);
	return 0;
}

#define MXG_LINES 8	/* whole lines per call of the word reader */

/*
 * Whole command lines from chunk offset off, the flow at a line start:
 * up to MXG_LINES in one call, so that the common segment (a few
 * pipelined commands) costs one call, not one per line. Every call and
 * every return costs here (~9 ns with the SRSO "safe RET" mitigation of
 * AMD Zen hosts). Returns the offset reached: past the last line read,
 * where the byte reader or the next call takes over.
 */
__noinline int mxg_read_lines(__u32 off)
{
	struct mxg_smtp_scratch *s = smtp_scratch();
	__u32 i, nl;

	if (!s)
		return off;
	s->at = off;
	for (i = 0; i < MXG_LINES; i++) {
		/* The offset goes through the map value: read back, it is
		 * an unknown scalar to the verifier, so every path through
		 * a line (each exit of the LF scan gives its own range)
		 * meets the others at the next one instead of multiplying
		 * with them. */
		off = *(volatile __u32 *)&s->at;
		if (off >= s->n || s->flow.state != MXG_FLOW_CMD)
			break;
		nl = find_lf(s, off);
		if (nl >= s->n || read_line(s, off, nl))
			break;
		s->at = nl + 1;
		s->lines++;
	}
	return s->at;
}

#endif /* MXG_SMTP_WORDS_H */
