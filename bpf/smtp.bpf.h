/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The SMTP reader: a TC ingress program that follows the client's side of
 * plain-text SMTP sessions and judges every RCPT TO against the recipient
 * mirror, so that the sources of backscatter to random local recipients
 * can be put in the penalty box at SYN time.
 *
 * A session is followed from the moment the host's own TCP completes its
 * handshake (mxg_sockops calls smtp_flow_begin() from the established
 * callback, with the socket's rcv_nxt), never from a SYN or any segment
 * alone: those anyone can forge, from any source, while an established
 * connection proves the peer received the SYN-ACK. A flow with no such
 * start is never guessed at (its bytes could be a message body), and it
 * ends when the socket closes (smtp_flow_end(), from the close
 * tracepoint), not at a FIN or RST segment, which could be forged too.
 * Only a segment at exactly the next expected sequence number is read,
 * which a blind forger cannot hit. What the reader does:
 *
 *  - commands: the first bytes of each line are matched, any case, against
 *    RCPT TO:, MAIL FROM:, DATA, BDAT and STARTTLS; the argument of RCPT
 *    and MAIL is read up to '>' (or a blank without brackets), so ESMTP
 *    parameters after it do not matter;
 *  - after DATA the body is never read as commands: only the last bytes of
 *    each segment are looked at for CRLF . CRLF (dot-stuffing means it
 *    cannot occur earlier, and a client waits for the reply after it);
 *  - BDAT chunks are skipped by their length;
 *  - after STARTTLS, and on port 465, the session is uninspectable;
 *  - a gap in the sequence numbers (a lost segment) ends the following:
 *    the reader no longer knows where it is, and guessing could count a
 *    body line as a command.
 *
 * Two ways to read, one meaning. A command line that starts and ends in
 * the bytes at hand (nearly all of them: a client writes whole lines) is
 * read eight bytes at a time: its end found by a word scan, its keyword
 * compared as a word, its address lower-cased and searched for '@' and
 * the delimiters a word at a time (bpf/swar.h). Only a line split between
 * segments or longer than a chunk goes through a byte state machine kept
 * in the flow, so a command may be split anywhere; no choice of whole
 * lines reaches it, so a hostile client cannot pick the slow path. Both
 * end in the same judge; tests/bpf/test_smtp.c sends every case both ways
 * and checks they agree.
 *
 * Every recipient is judged only while the mirror is ready; anything the
 * reader does not understand is passed and counted, never penalised.
 */
#ifndef MXG_SMTP_BPF_H
#define MXG_SMTP_BPF_H

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include "mxguard.h"
#include "maps.bpf.h"
#include "parsing.h"
#include "rcpt.h"
#include "source.bpf.h"
#include "swar.h"

#define MXG_CHUNK 512		/* bytes read from the skb at a time */
/* Steps over one segment: each consumes a line, a chunk or a BDAT run,
 * so a 64 KiB GRO segment of empty lines fits; past this the flow is
 * marked lost rather than read half. */
#define MXG_MAX_STEPS 65536
/*
 * The reader's work has a bound no client can raise: a junk line costs
 * ~12 ns on the receive path of every other connection. At most this many
 * command lines are read from one segment, and each flow has a budget of
 * lines, a GCRA of MXG_LINE_NS a line with a burst of MXG_LINE_BURST lines
 * (a client pipelining 2,000 recipients at once stays far inside it). Past
 * either, the flow is no longer followed (lost_sessions, over_budget).
 */
#define MXG_SEGMENT_LINES 4096
#define MXG_LINE_NS 1000000ULL		/* 1,000 lines a second */
#define MXG_LINE_BURST 8192ULL
#define MXG_BDAT_MAX 0x7fffffff

/* Where in the argument of MAIL FROM / RCPT TO the reader is. */
enum mxg_arg {
	ARG_BLANKS = 0,		/* before the address */
	ARG_ADDR,		/* reading it */
	ARG_REST,		/* after it: ESMTP parameters */
};

/* mxg_flow.flags: about the current line. */
#define LINE_BRACKET 0x1	/* the argument opened with '<' */
#define LINE_DIGITS 0x4		/* BDAT: a size digit was read */
#define LINE_GIVEUP 0x8		/* the reader cannot be sure what the MTA
				 * makes of this line: stop following */

/* CR LF . CR LF, the end of the body, as the last five bytes. */
#define EOD_PATTERN 0x0d0a2e0d0aULL
#define EOD_MASK 0xffffffffffULL

/* What judging a recipient needs, and the segment's tally. It lives in
 * the per-CPU scratch, not on the stack: the reader's call chain (program,
 * segment, bpf_loop callbacks, line, judge, hash) would otherwise go past
 * the 512 bytes of BPF stack. */
struct mxg_judge {
	/* Read as 32-bit words by source_key(): keep it aligned. */
	__u8 saddr[MXG_ADDR_LEN] __attribute__((aligned(8)));
	struct mxg_hash_key key;
	struct mxg_mirror mirror;
	__u64 window_ns, penalty_ns;
	__u64 now;		/* read at the first recipient: 0 until then */
	__u32 class_idx;
	__u32 mode;
	__u32 threshold;
	/* This segment's tally, counted into the maps once at its end. */
	__u32 known, unknown, foreign, null_sender, not_judged, invalid;
	char delims[MXG_DELIM_MAX];
	__u8 delim1, delim2;	/* the delimiters for the word path */
	__u8 bytewise;		/* more than two delimiters: no word path */
	__u8 ready;		/* the mirror may be believed (once now is set) */
	__u8 is_v4;
	__u8 pad[3];
};

/* What the header walk found, for the reader (in the scratch too). */
struct mxg_segment {
	struct mxg_flow_key key;
	__u32 seq;
	__u32 hdr;		/* payload offset in the frame */
	__u32 len;		/* payload bytes */
	__u32 dport;		/* host order */
	__u8 syn;
	__u8 is_v4;
	__u8 pad[2];
};

/* Per-CPU room the reader works in: a copy of the flow (committed only
 * when the segment passes), a chunk of payload, the normalised address. */
struct mxg_smtp_scratch {
	struct mxg_flow flow;
	/* Payload bytes [base, base + n) of the frame; 16 bytes of room past
	 * the chunk so that a word at any offset in it can be loaded. */
	__u8 chunk[MXG_CHUNK + 16];
	__u32 base, n;
	__u32 at;		/* the word reader's offset (see mxg_read_lines) */
	__u32 lines;		/* command lines read from this segment */
	__u64 opaque;		/* see opaque() */
	/* The address being judged, in normal form (MXG_RCPT_ROOM: the
	 * hash loads it a word at a time). */
	__u8 out[MXG_RCPT_ROOM];
	/* The mirror's value for the last address looked up. Held by value
	 * here, struct mxg_rcpt is described whole in BTF, which the inner
	 * maps need: with a global function in the object, clang otherwise
	 * describes it only as a forward declaration. */
	struct mxg_rcpt found;
	struct mxg_judge j;
	struct mxg_segment sg;
	/* Keys and values the judge writes to maps. */
	struct mxg_source_key skey;
	struct mxg_lpm_key ban_key;
	struct mxg_rcpt_source fresh;
	struct mxg_ban ban;
	__u32 stop;		/* the byte reader reached a line end */
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct mxg_smtp_scratch);
} mxg_smtp_scratch SEC(".maps");

static __always_inline struct mxg_smtp_scratch *scratch(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&mxg_smtp_scratch, &zero);
}

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

static __always_inline void count_rcpt(__u32 what)
{
	__u32 zero = 0;
	struct mxg_rcpt_stats *st = bpf_map_lookup_elem(&mxg_rcpt_stats, &zero);

	if (st && what < MXG_RCPT_COUNTERS)
		st->count[what]++;
}

/* An event for mxguardd's log; lost, not waited for, when the ring is
 * full (the log aggregates anyway). */
static __always_inline void emit_event(__u32 type, __u64 now, __u32 unknown,
				       const __u8 addr[MXG_ADDR_LEN])
{
	struct mxg_event *ev = bpf_ringbuf_reserve(&mxg_events, sizeof(*ev), 0);

	if (!ev)
		return;
	ev->time_ns = now;
	ev->type = type;
	ev->unknown = unknown;
	__builtin_memcpy(ev->addr, addr, MXG_ADDR_LEN);
	bpf_ringbuf_submit(ev, 0);
}

/* The keywords, eight bytes to a word (byte i of a word is character i),
 * so no global data is needed: the loader pins every map, and bpffs takes
 * no name with a dot such as ".rodata". */
#define W8(a, b, c, d, e, f, g, h)                                          \
	((__u64)(a) | (__u64)(b) << 8 | (__u64)(c) << 16 | (__u64)(d) << 24 | \
	 (__u64)(e) << 32 | (__u64)(f) << 40 | (__u64)(g) << 48 |            \
	 (__u64)(h) << 56)

/* The same keywords for the word path, lower-case, and the bits that OR a
 * letter to lower case: 0x20 where the keyword has a letter, 0 where it
 * has a blank or a colon, which must match exactly. */
#define KW_RCPT W8('r', 'c', 'p', 't', ' ', 't', 'o', ':')
#define KW_RCPT_FOLD W8(0x20, 0x20, 0x20, 0x20, 0, 0x20, 0x20, 0)
#define KW_MAIL W8('m', 'a', 'i', 'l', ' ', 'f', 'r', 'o')
#define KW_MAIL_FOLD W8(0x20, 0x20, 0x20, 0x20, 0, 0x20, 0x20, 0x20)
#define KW_MAIL2 ('m' | ':' << 8)	/* "m:", the rest of "mail from:" */
#define KW_MAIL2_FOLD 0x20
#define KW_DATA W8('d', 'a', 't', 'a', 0, 0, 0, 0)
#define KW_DATA_FOLD 0x20202020U
#define KW_BDAT W8('b', 'd', 'a', 't', ' ', 0, 0, 0)	/* 5 bytes */
#define KW_BDAT_FOLD W8(0x20, 0x20, 0x20, 0x20, 0, 0, 0, 0)
#define KW_STARTTLS W8('s', 't', 'a', 'r', 't', 't', 'l', 's')
#define KW_STARTTLS_FOLD W8(0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20)

static __always_inline __u32 verb_len(__u32 v)
{
	switch (v) {
	case 0: return 8;	/* RCPT TO: */
	case 1: return 10;	/* MAIL FROM: */
	case 2: return 4;	/* DATA */
	case 3: return 5;	/* BDAT_ */
	default: return 8;	/* STARTTLS */
	}
}

static __always_inline __u8 verb_char(__u32 v, __u32 i)
{
	__u64 w0, w1 = 0;

	switch (v) {
	case 0: w0 = W8('R', 'C', 'P', 'T', ' ', 'T', 'O', ':'); break;
	case 1: w0 = W8('M', 'A', 'I', 'L', ' ', 'F', 'R', 'O');
		w1 = W8('M', ':', 0, 0, 0, 0, 0, 0); break;
	case 2: w0 = W8('D', 'A', 'T', 'A', 0, 0, 0, 0); break;
	case 3: w0 = W8('B', 'D', 'A', 'T', ' ', 0, 0, 0); break;
	default: w0 = W8('S', 'T', 'A', 'R', 'T', 'T', 'L', 'S'); break;
	}
	return i < 8 ? (w0 >> (8 * i)) & 0xff : (w1 >> (8 * ((i - 8) & 7))) & 0xff;
}

/* Match the line's first bytes against the one keyword its first byte
 * allows (the five start with different letters): one comparison per
 * byte, not five. f->alive holds that keyword's index + 1. */
static __always_inline void match_verb(struct mxg_flow *f, __u8 c)
{
	__u8 uc = c >= 'a' && c <= 'z' ? c - ('a' - 'A') : c == '\t' ? ' ' : c;
	__u32 col = f->col, v;

	if (col == 0) {
		switch (uc) {
		case ' ':
			/* The MTA skips leading blanks ("  DATA" is DATA to
			 * Postfix): not a line to guess about. */
			f->flags |= LINE_GIVEUP;
			f->verb = MXG_VERB_OTHER;
			return;
		case 'R': f->alive = 1; break;
		case 'M': f->alive = 2; break;
		case 'D': f->alive = 3; break;
		case 'B': f->alive = 4; break;
		case 'S': f->alive = 5; break;
		default:
			f->verb = MXG_VERB_OTHER;
			return;
		}
	}
	v = f->alive - 1;
	if (v >= MXG_VERBS || col >= verb_len(v) || uc != verb_char(v, col)) {
		f->verb = MXG_VERB_OTHER;
		return;
	}
	if (col == verb_len(v) - 1)
		f->verb = v + 1;	/* enum mxg_verb */
}

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

/* ---- the judge ------------------------------------------------------ */

/* The clock, read once per segment and only for one that names a
 * recipient or a sender: most segments of a session need no time. */
static __always_inline void clock_once(struct mxg_judge *r)
{
	if (r->now)
		return;
	r->now = bpf_ktime_get_coarse_ns();
	r->ready = mxg_mirror_ready(&r->mirror, r->now);
}

/*
 * One RCPT TO address in normal form, s->out[0..len) with its '@' at
 * index at: known, unknown or foreign, tallied in the scratch.
 *
 * The address is looked up first: a valid recipient, the common case,
 * costs one hash and one lookup. Only a miss pays for the domain, which
 * tells an unknown local recipient from a foreign one. An address the
 * mirror holds counts as known whatever its domain: it is deliverable.
 */
static __always_inline void judge_addr(struct mxg_smtp_scratch *s, __u32 len,
				       __u32 at)
{
	struct mxg_judge *r = &s->j;
	struct mxg_rcpt *found;
	__u32 zero = 0;
	__u64 h, d;
	void *inner;

	clock_once(r);
	if (!r->ready) {
		r->not_judged++;
		return;
	}
	/* A quoted local part or a source route (<"user"@dom>, <@r:u@dom>)
	 * is a known recipient to the MTA once unquoted or stripped, which
	 * the reader does not do: never judged, never a false unknown. */
	if (len == 0 || len > MXG_RCPT_MAX || at >= len ||
	    s->out[0] == '"' || s->out[0] == '@') {
		r->invalid++;
		return;
	}
	h = mxg_rcpt_key(&r->key, (const char *)s->out, len);
	inner = bpf_map_lookup_elem(&mxg_rcpt_slot, &zero);
	found = inner ? bpf_map_lookup_elem(inner, &h) : NULL;
	s->found = found ? *found : (struct mxg_rcpt){};
	if (s->found.refs) {
		r->known++;
		return;
	}
	d = mxg_domain_key(&r->key, (const char *)s->out, len, at);
	if (bpf_map_lookup_elem(&mxg_rcpt_domains, &d))
		r->unknown++;
	else
		r->foreign++;
}

/* The same for the byte reader, called once per address: a global
 * function, so its many paths do not carry a copy of the judge each. */
__noinline int mxg_judge_addr(__u32 len, __u32 at)
{
	struct mxg_smtp_scratch *s = scratch();

	if (s)
		judge_addr(s, len, at);
	return 0;
}

/* The address the byte reader collected in the flow: its normal form
 * (the finish both sides share) goes to s->out and to the judge. */
__noinline int mxg_judge_flow(void)
{
	struct mxg_smtp_scratch *s = scratch();
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

/* ---- the byte reader ------------------------------------------------ */

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
	struct mxg_smtp_scratch *s = scratch();
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

/* ---- the word reader ------------------------------------------------ */

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
	struct mxg_smtp_scratch *s = scratch();

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
	struct mxg_smtp_scratch *s = scratch();
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
	case 'r':
		if (len < 8 || (w | KW_RCPT_FOLD) != KW_RCPT)
			break;			/* another command */
		if (s->j.bytewise)
			return 1;
		mxg_read_rcpt(off + 8, nl);
		break;
	case 'm':
		if (len < 10 || (w | KW_MAIL_FOLD) != KW_MAIL ||
		    ((chunk_word(s, off + 8) & 0xffff) | KW_MAIL2_FOLD) != KW_MAIL2)
			break;
		/* MAIL FROM:<>, maybe after blanks: the null sender ("<>"
		 * then anything, as the byte reader has it). */
		arg = skip_rare_blanks(s, off + 10, nl);
		if (arg + 1 < nl &&
		    (chunk_word(s, arg) & 0xffff) == ('<' | '>' << 8))
			s->j.null_sender++;
		break;
	case 'd':
		/* DATA, then blanks at most. */
		if (len >= 4 && ((__u32)w | KW_DATA_FOLD) == (__u32)KW_DATA &&
		    skip_rare_blanks(s, off + 4, nl) == nl) {
			f->state = MXG_FLOW_DATA;
			f->tail = 0x0d0a;	/* as end_line() */
		}
		break;
	case 'b':
		if (len >= 5 && ((w & 0xffffffffffULL) | KW_BDAT_FOLD) == KW_BDAT &&
		    read_bdat_words(s, skip_rare_blanks(s, off + 5, nl), nl))
			return 1;
		break;
	case 's':
		/* STARTTLS, then blanks at most: encrypted from here on. */
		if (len >= 8 && (w | KW_STARTTLS_FOLD) == KW_STARTTLS &&
		    skip_rare_blanks(s, off + 8, nl) == nl) {
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
	struct mxg_smtp_scratch *s = scratch();
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

/* ---- a segment ------------------------------------------------------ */

/* In a body: look at the segment's last bytes for CR LF . CR LF. */
static __always_inline void read_body_tail(struct __sk_buff *skb,
					   struct mxg_flow *f, __u32 pos,
					   __u32 end)
{
	__u8 b[5] = {};
	__u32 n = end - pos, n1;

	if (n > 5) {
		pos = end - 5;
		n = 5;
	}
	n1 = mxg_len_less1(n);
	if (n1 >= 5 || bpf_skb_load_bytes(skb, pos, b, n1 + 1))
		return;
#pragma unroll
	for (int j = 0; j < 5; j++)
		if (j < n)
			f->tail = f->tail << 8 | b[j];
	if ((f->tail & EOD_MASK) == EOD_PATTERN) {
		f->state = MXG_FLOW_CMD;
		line_reset(f);
	}
}

/* Where a segment's reading stands (the bpf_loop context). */
struct mxg_segment_read {
	struct __sk_buff *skb;
	struct mxg_smtp_scratch *s;
	__u32 pos, end;		/* frame offsets */
};

/* The chunk from pos on. */
static __always_inline int load_chunk(struct mxg_segment_read *sr)
{
	struct mxg_smtp_scratch *s = sr->s;
	__u32 n = sr->end - sr->pos, n1;

	if (n > MXG_CHUNK)
		n = MXG_CHUNK;
	n1 = mxg_len_less1(n);
	if (n1 >= MXG_CHUNK)
		return -1;
	n = n1 + 1;
	if (bpf_skb_load_bytes(sr->skb, sr->pos, s->chunk, n))
		return -1;
	s->base = sr->pos;
	s->n = n;
	return 0;
}

/* One step over [pos, end): a body tail, a BDAT skip, a whole line, or
 * the bytes of a line to its end or the chunk's. Returns 1 when the
 * segment is done. */
static long read_step(__u32 i, void *ctx)
{
	struct mxg_segment_read *sr = ctx;
	struct mxg_smtp_scratch *s = sr->s;
	struct mxg_flow *f = &s->flow;
	__u32 off, nl, skip;

	if (sr->pos >= sr->end)
		return 1;
	switch (f->state) {
	case MXG_FLOW_DATA:
		read_body_tail(sr->skb, f, sr->pos, sr->end);
		sr->pos = sr->end;
		return 1;
	case MXG_FLOW_BDAT:
		skip = sr->end - sr->pos < f->bdat_left ? sr->end - sr->pos :
							   f->bdat_left;
		sr->pos += skip;
		f->bdat_left -= skip;
		if (!f->bdat_left)
			f->state = MXG_FLOW_CMD;
		return 0;
	case MXG_FLOW_CMD:
		/* Past the segment's lines: charge_lines() gives up. */
		if (s->lines >= MXG_SEGMENT_LINES) {
			sr->pos = sr->end;
			return 1;
		}
		break;
	default:
		sr->pos = sr->end;
		return 1;
	}
	if (sr->pos < s->base || sr->pos - s->base >= s->n) {
		if (load_chunk(sr))
			return 1;
	}
	off = sr->pos - s->base;

	if (at_line_start(f)) {
		nl = find_lf(s, off);
		if (nl >= s->n && off && s->base + s->n < sr->end) {
			/* The line goes on past the chunk: move the chunk to
			 * it, so that a line shorter than a chunk is read
			 * whole. */
			if (load_chunk(sr))
				return 1;
			off = 0;
			nl = find_lf(s, 0);
		}
		if (nl < s->n) {
			nl = mxg_read_lines(off);
			if (nl != off) {
				sr->pos = s->base + nl;
				return 0;
			}
		}
	} else if (rest_of_line_ignored(f)) {
		nl = find_lf(s, off);
		if (nl >= s->n) {
			sr->pos = s->base + s->n;
			return 0;
		}
		end_line(s);
		sr->pos = s->base + nl + 1;
		return 0;
	}
	sr->pos = s->base + read_bytes(s, off);
	return 0;
}

/* The segment's command lines against the flow's budget (see
 * MXG_LINE_NS): past it, or past MXG_SEGMENT_LINES in one segment, the
 * flow is no longer followed. */
static __always_inline void charge_lines(struct mxg_smtp_scratch *s)
{
	struct mxg_flow *f = &s->flow;
	__u64 now, tat;

	if (!s->lines)
		return;
	clock_once(&s->j);
	now = s->j.now;
	tat = f->budget_tat > now ? f->budget_tat : now;
	tat += (__u64)s->lines * MXG_LINE_NS;
	f->budget_tat = tat;
	if (s->lines >= MXG_SEGMENT_LINES ||
	    tat - now > MXG_LINE_BURST * MXG_LINE_NS) {
		give_up(f);
		count_rcpt(MXG_RCPT_OVER_BUDGET);
	}
}

/* Is seq a before b, in sequence-number arithmetic? */
static __always_inline int seq_before(__u32 a, __u32 b)
{
	return (__s32)(a - b) < 0;
}

/* The segment's tally into the per-CPU counters, one lookup for all. */
static __always_inline void count_tally(const struct mxg_judge *r)
{
	__u32 zero = 0;
	struct mxg_rcpt_stats *st = bpf_map_lookup_elem(&mxg_rcpt_stats, &zero);

	if (!st)
		return;
	st->count[MXG_RCPT_KNOWN] += r->known;
	st->count[MXG_RCPT_UNKNOWN] += r->unknown;
	st->count[MXG_RCPT_FOREIGN] += r->foreign;
	st->count[MXG_RCPT_NULL_SENDER] += r->null_sender;
	st->count[MXG_RCPT_NOT_JUDGED] += r->not_judged;
	st->count[MXG_RCPT_INVALID] += r->invalid;
}

/*
 * The segment's tally into its source's counts for the window, once per
 * segment; past the threshold, the source goes into the penalty box. Only
 * sources that sent unknown recipients are tracked. Returns 1 when the
 * source is in the box (put there now, or still there from before), which
 * is when mode drop drops its segments of unknown recipients.
 */
static __always_inline int note_source(struct mxg_smtp_scratch *s,
				       const struct mxg_class *cls)
{
	struct mxg_judge *r = &s->j;
	struct mxg_rcpt_source *src;
	struct mxg_ban *old;

	if (!r->known && !r->unknown && !r->foreign && !r->null_sender)
		return 0;
	clock_once(r);
	source_key(&s->skey, r->saddr, r->is_v4, r->class_idx, cls);
	src = bpf_map_lookup_elem(&mxg_rcpt_sources, &s->skey);
	if (!src) {
		if (!r->unknown)
			return 0;
		__builtin_memset(&s->fresh, 0, sizeof(s->fresh));
		s->fresh.window_start_ns = r->now;
		bpf_map_update_elem(&mxg_rcpt_sources, &s->skey, &s->fresh,
				    BPF_NOEXIST);
		src = bpf_map_lookup_elem(&mxg_rcpt_sources, &s->skey);
		if (!src)
			return 0;
	}
	if (r->now - src->window_start_ns > r->window_ns) {
		src->window_start_ns = r->now;
		src->known = src->unknown = src->foreign = src->null_sender = 0;
	}
	src->known += r->known;
	src->foreign += r->foreign;
	src->null_sender += r->null_sender;
	src->unknown += r->unknown;
	src->unknown_total += r->unknown;
	if (!r->unknown || r->mode < MXG_INSPECT_PENALIZE)
		return 0;

	/* The box, at the class's prefix, for the SMTP class only. A ban
	 * already there is left alone unless it is an expired one of ours:
	 * an operator's ban is theirs. */
	__builtin_memset(&s->ban_key, 0, sizeof(s->ban_key));
	s->ban_key.prefixlen = r->is_v4 ?
		MXG_V4_MAPPED_BITS + cls->ipv4_prefix : cls->ipv6_prefix;
	__builtin_memcpy(s->ban_key.addr, s->skey.addr, MXG_ADDR_LEN);
	old = bpf_map_lookup_elem(&mxg_bans, &s->ban_key);
	if (old && (old->origin != MXG_ORIGIN_INSPECT ||
		    !old->expires_ns || old->expires_ns > r->now))
		return 1;
	if (src->unknown <= r->threshold)
		return 0;
	/* Past the threshold: into the box. */
	s->ban.origin = MXG_ORIGIN_INSPECT;
	s->ban.class_mask = 1U << r->class_idx;
	s->ban.created_ns = r->now;
	s->ban.expires_ns = r->now + r->penalty_ns;
	if (bpf_map_update_elem(&mxg_bans, &s->ban_key, &s->ban, BPF_ANY))
		return 0;
	src->penalties++;
	count_rcpt(MXG_RCPT_PENALIZED);
	emit_event(MXG_EVENT_PENALTY, r->now, src->unknown, s->skey.addr);
	/* The next penalty takes a threshold's worth of new evidence. */
	src->window_start_ns = r->now;
	src->unknown = 0;
	return 1;
}

/* The recipient delimiters as the word reader takes them: the first two
 * that mxg_norm_init() would take (0x21..0x7e, up to the first NUL), a
 * NUL for none (a NUL makes an address invalid anyway), and bytewise set
 * when there are more than two. */
static __always_inline void word_delims(struct mxg_judge *j)
{
	__u32 count = 0, ended = 0;

#pragma unroll
	for (int i = 0; i < MXG_DELIM_MAX; i++) {
		__u8 c = j->delims[i];

		ended |= c == 0;
		if (ended || c <= 0x20 || c >= 0x7f)
			continue;
		if (count == 0)
			j->delim1 = j->delim2 = c;
		else if (count == 1)
			j->delim2 = c;
		count++;
	}
	j->bytewise = count > 2;
}

/* The flow's fields before its address buffer, which is copied only while
 * an address is half read. */
#define FLOW_HEAD offsetof(struct mxg_flow, addr)

/*
 * Everything after the header walk. A global function: the verifier
 * checks it once, not once per path through the walk (IPv6 extension
 * headers alone make dozens). Returns non-zero to drop the segment.
 */
__noinline int mxg_read_segment(struct __sk_buff *skb)
{
	struct mxg_segment_read sr = { .skb = skb };
	const struct mxg_inspect *cfg;
	const struct mxg_mirror *mirror;
	const struct mxg_hash_key *hkey;
	const struct mxg_class *cls;
	struct mxg_smtp_scratch *s;
	struct mxg_judge *j;
	struct mxg_flow *flow;
	struct mxg_port *port;
	__u32 zero = 0, skip = 0, dport;
	struct mxg_segment *sg;
	int drop, again, boxed;

	/* The segment comes through the scratch, not as an argument: a
	 * global function's pointer argument is plain memory to the
	 * verifier, and 6.1's takes no such pointer as a map key. */
	s = scratch();
	if (!skb || !s)
		return 0;
	sg = &s->sg;
	dport = sg->dport;
	port = bpf_map_lookup_elem(&mxg_ports, &dport);
	if (!port || !port->guarded || !port->inspect)
		return 0;
	cfg = bpf_map_lookup_elem(&mxg_inspect, &zero);
	if (!cfg || cfg->mode == MXG_INSPECT_OFF)
		return 0;

	/* Only flows the host's TCP established (smtp_flow_begin()); a
	 * SYN carries no command a client could have sent yet. */
	if (sg->syn)
		return 0;
	flow = bpf_map_lookup_elem(&mxg_flows, &sg->key);
	if (!flow)
		return 0;
	if (flow->state >= MXG_FLOW_TLS || !sg->len)
		return 0;

	/* Retransmitted bytes were read already; a gap means bytes we never
	 * saw, and the reader no longer knows where it stands. */
	if (sg->seq != flow->next_seq) {
		if (seq_before(flow->next_seq, sg->seq)) {
			flow->state = MXG_FLOW_LOST;
			count_rcpt(MXG_RCPT_LOST);
			return 0;
		}
		skip = flow->next_seq - sg->seq;
		if (skip >= sg->len)
			return 0;
	}

	/* A body segment, the bulk of a session's bytes: only its tail is
	 * looked at, in place (a body segment is never dropped, so nothing
	 * needs a copy to roll back). */
	if (flow->state == MXG_FLOW_DATA) {
		read_body_tail(skb, flow, sg->hdr + skip, sg->hdr + sg->len);
		flow->next_seq = sg->seq + sg->len;
		return 0;
	}

	mirror = bpf_map_lookup_elem(&mxg_mirror, &zero);
	hkey = bpf_map_lookup_elem(&mxg_hash_key, &zero);
	if (!mirror || !hkey)
		return 0;
	j = &s->j;
	__builtin_memset(j, 0, sizeof(*j));
	cls = port_class(dport, &j->class_idx);
	if (!cls)
		return 0;
	j->mode = cfg->mode;
	j->threshold = cfg->unknown_threshold;
	j->window_ns = cfg->window_ns;
	j->penalty_ns = cfg->penalty_ns;
	j->mirror = *mirror;
	j->key = *hkey;
	__builtin_memcpy(j->delims, mirror->recipient_delimiter, MXG_DELIM_MAX);
	word_delims(j);
	__builtin_memcpy(j->saddr, sg->key.saddr, MXG_ADDR_LEN);
	j->is_v4 = sg->is_v4;

	/* Work on a copy: a dropped segment comes again, and must then be
	 * read from the same place. */
	__builtin_memcpy(&s->flow, flow, FLOW_HEAD);
	if (flow->norm.n)
		__builtin_memcpy(s->flow.addr, flow->addr, MXG_RCPT_BUF);
	s->n = 0;
	s->lines = 0;
	sr.s = s;
	sr.pos = sg->hdr + skip;
	sr.end = sg->hdr + sg->len;
	/* The common segment, whole lines from a line start, needs no loop
	 * of steps: one call reads them. */
	if (s->flow.state == MXG_FLOW_CMD && at_line_start(&s->flow) &&
	    !load_chunk(&sr))
		sr.pos = s->base + mxg_read_lines(0);
	if (sr.pos < sr.end)
		bpf_loop(MXG_MAX_STEPS, read_step, &sr, 0);
	if (sr.pos < sr.end) {
		/* Not read to its end (a chunk the skb would not give, or
		 * more steps than allowed): where the next segment starts is
		 * no longer known. */
		s->flow.state = MXG_FLOW_LOST;
	}
	charge_lines(s);
	/* Lost in this segment: so, or given up on (give_up()). */
	if (s->flow.state == MXG_FLOW_LOST)
		count_rcpt(MXG_RCPT_LOST);

	/* A retransmission of the segment dropped last is the same
	 * evidence, counted when it first came: read again for the same
	 * verdict, counted never again. */
	again = flow->dropped && flow->drop_seq == sg->seq;
	if (!again)
		count_tally(j);
	/* Only a boxed source's segments are ever dropped. */
	boxed = again || note_source(s, cls);
	/* Mode drop: a segment of unknown recipients only, from a source
	 * in the penalty box, never reaches the MTA. A sender below the
	 * threshold (a typo) gets the MTA's own 550. */
	drop = j->mode == MXG_INSPECT_DROP && boxed && j->unknown &&
	       !j->known && !j->foreign;
	if (drop) {
		/* Only this is kept of the segment: the flow stays where it
		 * was, to read the retransmission from the same place. */
		flow->dropped = 1;
		flow->drop_seq = sg->seq;
		count_rcpt(MXG_RCPT_DROPPED);
		if (!again)
			emit_event(MXG_EVENT_DROP, j->now, j->unknown,
				   sg->key.saddr);
		return 1;
	}
	s->flow.dropped = 0;
	s->flow.next_seq = sg->seq + sg->len;
	__builtin_memcpy(flow, &s->flow, FLOW_HEAD);
	if (s->flow.norm.n)
		__builtin_memcpy(flow->addr, s->flow.addr, MXG_RCPT_BUF);
	return 0;
}

/* The header walk, then the reader. Returns non-zero to drop. */
static __always_inline int inspect_segment(struct __sk_buff *skb)
{
	void *data = (void *)(long)skb->data;
	void *data_end = (void *)(long)skb->data_end;
	struct cursor c = cursor_init(data, data_end, skb->len);
	struct mxg_smtp_scratch *s;
	struct mxg_segment *sg;
	struct mxg_syn syn = {};
	struct tcphdr *tcp;
	__u32 l4_len = 0;

	if (parse_to_l4(&c, &syn, &l4_len) != IPPROTO_TCP)
		return 0;
	s = scratch();
	if (!s)
		return 0;
	sg = &s->sg;
	/* The whole header, options included, within the datagram: the
	 * payload starts after it (a first fragment ending in the options
	 * has none to read). */
	if (check_tcp(&c, l4_len, 0) != MXG_FRAME_OTHER)
		return 0;
	tcp = c.pos;
	__builtin_memset(sg, 0, sizeof(*sg));
	__builtin_memcpy(sg->key.saddr, syn.saddr, MXG_ADDR_LEN);
	if (syn.is_v4) {
		struct iphdr *ip = syn.l3;

		if (!ip || (void *)(ip + 1) > data_end)
			return 0;
		addr_map_v4(sg->key.daddr, &ip->daddr);
	} else {
		struct ipv6hdr *ip6 = syn.l3;

		if (!ip6 || (void *)(ip6 + 1) > data_end)
			return 0;
		__builtin_memcpy(sg->key.daddr, &ip6->daddr, MXG_ADDR_LEN);
	}
	sg->key.sport = tcp->source;
	sg->key.dport = tcp->dest;
	sg->dport = bpf_ntohs(tcp->dest);
	sg->seq = bpf_ntohl(tcp->seq);
	sg->hdr = (void *)tcp - data + tcp->doff * 4;
	sg->len = l4_len - tcp->doff * 4;
	sg->syn = tcp->syn;
	sg->is_v4 = syn.is_v4;
	return mxg_read_segment(skb);
}

/* ---- a flow's start and end, from the host's TCP -------------------- */

/*
 * The host's TCP has just completed a passive handshake (sock_ops'
 * established callback): from now on the client's bytes are evidence. On
 * an inspected port the flow starts here, at rcv_nxt, the first byte the
 * client will send; on an implicit-TLS port (465) it is only counted.
 */
static __always_inline void smtp_flow_begin(struct bpf_sock_ops *skops)
{
	struct mxg_flow_key key = {};
	const struct mxg_inspect *cfg;
	struct mxg_smtp_scratch *s;
	struct mxg_port *port;
	__u32 zero = 0, lport = skops->local_port, raddr6[4], laddr6[4];

	port = bpf_map_lookup_elem(&mxg_ports, &lport);
	if (!port || !port->guarded || !port->inspect)
		return;
	cfg = bpf_map_lookup_elem(&mxg_inspect, &zero);
	if (!cfg || cfg->mode == MXG_INSPECT_OFF)
		return;
	if (port->inspect == MXG_INSPECT_TLS) {
		count_rcpt(MXG_RCPT_UNINSPECTABLE);
		return;
	}
	s = scratch();
	if (!s)
		return;
	raddr6[0] = skops->remote_ip6[0];
	raddr6[1] = skops->remote_ip6[1];
	raddr6[2] = skops->remote_ip6[2];
	raddr6[3] = skops->remote_ip6[3];
	laddr6[0] = skops->local_ip6[0];
	laddr6[1] = skops->local_ip6[1];
	laddr6[2] = skops->local_ip6[2];
	laddr6[3] = skops->local_ip6[3];
	sock_addr(key.saddr, skops->family, raddr6, skops->remote_ip4);
	sock_addr(key.daddr, skops->family, laddr6, skops->local_ip4);
	/* remote_port holds the port in network order in its upper half
	 * (on little-endian hosts), local_port in host order. */
	key.sport = bpf_htons((__u16)bpf_ntohl(skops->remote_port));
	key.dport = bpf_htons((__u16)lport);
	__builtin_memset(&s->flow, 0, sizeof(s->flow));
	s->flow.next_seq = skops->rcv_nxt;
	line_reset(&s->flow);
	bpf_map_update_elem(&mxg_flows, &key, &s->flow, BPF_ANY);
}

/* The socket has closed (the close tracepoint): its flow goes. */
static __always_inline void smtp_flow_end(const struct sock *sk)
{
	const struct sock_common *c = &sk->__sk_common;
	struct mxg_flow_key key = {};
	__u32 v6[4];

	__builtin_memcpy(v6, &c->skc_v6_daddr, sizeof(v6));
	sock_addr(key.saddr, c->skc_family, v6, c->skc_daddr);
	__builtin_memcpy(v6, &c->skc_v6_rcv_saddr, sizeof(v6));
	sock_addr(key.daddr, c->skc_family, v6, c->skc_rcv_saddr);
	key.sport = c->skc_dport;
	key.dport = bpf_htons(c->skc_num);
	bpf_map_delete_elem(&mxg_flows, &key);
}

#endif /* MXG_SMTP_BPF_H */
