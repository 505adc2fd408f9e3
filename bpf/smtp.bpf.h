/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The SMTP reader: a TC ingress program that follows the client's side of
 * plain-text SMTP sessions and judges every RCPT TO against the recipient
 * mirror, so that the sources of backscatter to random local recipients
 * can be put in the penalty box at SYN time.
 *
 * A session is followed from its SYN (a flow without one is never
 * guessed at: its bytes could be a message body). The reader is a byte
 * state machine kept in the flow, so a command may be split anywhere
 * between segments, and several may share one (pipelining):
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

#define MXG_CHUNK 512		/* bytes read from the skb at a time */
#define MXG_MAX_CHUNKS 128	/* 64 KiB: a GRO-merged segment */
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

/* CR LF . CR LF, the end of the body, as the last five bytes. */
#define EOD_PATTERN 0x0d0a2e0d0aULL
#define EOD_MASK 0xffffffffffULL

/* What judging a recipient needs, and the segment's tally. It lives in
 * the per-CPU scratch, not on the stack: the reader's call chain (program,
 * segment, two bpf_loop callbacks, byte, judge, hash) would otherwise go
 * past the 512 bytes of BPF stack. */
struct mxg_judge {
	/* Read as 32-bit words by source_key(): keep it aligned. */
	__u8 saddr[MXG_ADDR_LEN] __attribute__((aligned(8)));
	struct mxg_hash_key key;
	__u64 window_ns, penalty_ns, now;
	__u32 class_idx;
	__u32 mode;
	__u32 threshold;
	__u32 known, unknown, foreign;	/* this segment's, out */
	char delims[MXG_DELIM_MAX];
	__u8 ready;		/* the mirror may be believed */
	__u8 is_v4;
	__u8 pad[6];
};

/* What the header walk found, for the reader (in the scratch too). */
struct mxg_segment {
	struct mxg_flow_key key;
	__u32 seq;
	__u32 hdr;		/* payload offset in the frame */
	__u32 len;		/* payload bytes */
	__u32 dport;		/* host order */
	__u8 syn, ack, fin, rst;
	__u8 is_v4;
	__u8 pad[3];
};

/* Per-CPU room the reader works in: a copy of the flow (committed only
 * when the segment passes), the normalised address, a chunk of payload. */
struct mxg_smtp_scratch {
	struct mxg_flow flow;
	__u8 chunk[MXG_CHUNK];
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
	__u32 stop;		/* the block reader left the command state */
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct mxg_smtp_scratch);
} mxg_smtp_scratch SEC(".maps");

/* What one segment's reading needs and finds (the bpf_loop context). */
struct mxg_reader {
	struct mxg_smtp_scratch *s;
	__u32 len;		/* bytes in the chunk */
	__u32 used;		/* bytes of it consumed */
};

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
	__u8 uc = c >= 'a' && c <= 'z' ? c - ('a' - 'A') : c;
	__u32 col = f->col, v;

	if (col == 0) {
		switch (uc) {
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

static __always_inline void line_reset(struct mxg_flow *f)
{
	f->col = 0;
	f->verb = MXG_VERB_UNKNOWN;
	f->alive = 0;
	f->arg = ARG_BLANKS;
	f->flags = 0;
	f->norm.n = 0;
}

/* A byte of the argument of MAIL FROM / RCPT TO: the address is
 * normalised as it is read (bpf/rcpt.h). */
static __always_inline void read_address(struct mxg_flow *f, __u8 c,
					 const char delims[MXG_DELIM_MAX])
{
	switch (f->arg) {
	case ARG_BLANKS:
		if (c == ' ' || c == '\r')
			return;
		f->arg = ARG_ADDR;
		mxg_norm_init(&f->norm, delims);
		if (c == '<') {
			f->flags |= LINE_BRACKET;
			return;
		}
		break;
	case ARG_ADDR:
		if (f->flags & LINE_BRACKET ? c == '>' : c == ' ' || c == '\r') {
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
	if (c >= '0' && c <= '9' && !(f->arg)) {
		if (f->bdat_left > (MXG_BDAT_MAX - 9) / 10) {
			f->verb = MXG_VERB_OTHER;	/* not a size we follow */
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

/* The source's counts for the window; put it in the box past the
 * threshold. */
static __always_inline void note_unknown(struct mxg_smtp_scratch *s,
					 const struct mxg_class *cls)
{
	struct mxg_judge *r = &s->j;
	struct mxg_rcpt_source *src;
	struct mxg_ban *old;

	source_key(&s->skey, r->saddr, r->is_v4, r->class_idx, cls);
	src = bpf_map_lookup_elem(&mxg_rcpt_sources, &s->skey);
	if (!src) {
		__builtin_memset(&s->fresh, 0, sizeof(s->fresh));
		s->fresh.window_start_ns = r->now;
		bpf_map_update_elem(&mxg_rcpt_sources, &s->skey, &s->fresh,
				    BPF_NOEXIST);
		src = bpf_map_lookup_elem(&mxg_rcpt_sources, &s->skey);
		if (!src)
			return;
	}
	if (r->now - src->window_start_ns > r->window_ns) {
		src->window_start_ns = r->now;
		src->known = src->unknown = src->foreign = src->null_sender = 0;
	}
	src->unknown++;
	src->unknown_total++;
	if (r->mode < MXG_INSPECT_PENALIZE || src->unknown <= r->threshold)
		return;

	/* Past the threshold: into the box, at the class's prefix, for the
	 * SMTP class only. A ban already there is left alone unless it is
	 * an expired one of ours: an operator's ban is theirs. */
	__builtin_memset(&s->ban_key, 0, sizeof(s->ban_key));
	s->ban_key.prefixlen = r->is_v4 ?
		MXG_V4_MAPPED_BITS + cls->ipv4_prefix : cls->ipv6_prefix;
	__builtin_memcpy(s->ban_key.addr, s->skey.addr, MXG_ADDR_LEN);
	old = bpf_map_lookup_elem(&mxg_bans, &s->ban_key);
	if (old && (old->origin != MXG_ORIGIN_INSPECT ||
		    !old->expires_ns || old->expires_ns > r->now))
		return;
	s->ban.origin = MXG_ORIGIN_INSPECT;
	s->ban.class_mask = 1U << r->class_idx;
	s->ban.created_ns = r->now;
	s->ban.expires_ns = r->now + r->penalty_ns;
	if (bpf_map_update_elem(&mxg_bans, &s->ban_key, &s->ban, BPF_ANY))
		return;
	src->penalties++;
	count_rcpt(MXG_RCPT_PENALIZED);
	emit_event(MXG_EVENT_PENALTY, r->now, src->unknown, s->skey.addr);
	/* The next penalty takes a threshold's worth of new evidence. */
	src->window_start_ns = r->now;
	src->unknown = 0;
}

static __always_inline void note_known(struct mxg_smtp_scratch *s,
				       const struct mxg_class *cls, int foreign)
{
	struct mxg_judge *r = &s->j;
	struct mxg_rcpt_source *src;

	source_key(&s->skey, r->saddr, r->is_v4, r->class_idx, cls);
	src = bpf_map_lookup_elem(&mxg_rcpt_sources, &s->skey);
	if (!src)
		return;	/* only sources that sent unknowns are tracked */
	if (foreign)
		src->foreign++;
	else
		src->known++;
}

/* One RCPT TO address, complete: known, unknown or foreign. */
__noinline int mxg_judge_rcpt(void)
{
	struct mxg_smtp_scratch *s;
	struct mxg_judge *r;
	const struct mxg_class *cls;
	__u32 zero = 0, at = 0, class_idx;
	struct mxg_rcpt *found;
	struct mxg_flow *f;
	__u64 h, d;
	void *inner;
	int len;

	s = bpf_map_lookup_elem(&mxg_smtp_scratch, &zero);
	if (!s)
		return 0;
	r = &s->j;
	if (!r->ready) {
		count_rcpt(MXG_RCPT_NOT_JUDGED);
		return 0;
	}
	class_idx = r->class_idx;
	cls = bpf_map_lookup_elem(&mxg_classes, &class_idx);
	if (!cls)
		return 0;
	f = &s->flow;
	len = f->arg == ARG_BLANKS ? -1 : mxg_norm_finish(&f->norm, f->addr, &at);
	if (len <= 0) {
		count_rcpt(MXG_RCPT_INVALID);
		return 0;
	}
	d = mxg_domain_key(&r->key, f->addr, len, at);
	if (!bpf_map_lookup_elem(&mxg_rcpt_domains, &d)) {
		r->foreign++;
		count_rcpt(MXG_RCPT_FOREIGN);
		note_known(s, cls, 1);
		return 0;
	}
	h = mxg_rcpt_key(&r->key, f->addr, len);
	inner = bpf_map_lookup_elem(&mxg_rcpt_slot, &zero);
	found = inner ? bpf_map_lookup_elem(inner, &h) : NULL;
	s->found = found ? *found : (struct mxg_rcpt){};
	if (s->found.refs) {
		r->known++;
		count_rcpt(MXG_RCPT_KNOWN);
		note_known(s, cls, 0);
		return 0;
	}
	r->unknown++;
	count_rcpt(MXG_RCPT_UNKNOWN);
	note_unknown(s, cls);
	return 0;
}

/* The end of a command line. */
static __always_inline void end_line(struct mxg_flow *f)
{
	switch (f->verb) {
	case MXG_VERB_RCPT:
		mxg_judge_rcpt();
		break;
	case MXG_VERB_MAIL:
		/* MAIL FROM:<>: the null sender of a bounce. */
		if ((f->flags & LINE_BRACKET) && !f->norm.n && f->arg == ARG_REST)
			count_rcpt(MXG_RCPT_NULL_SENDER);
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
	/* Digits of a line that was not a BDAT after all count for nothing. */
	if (f->state != MXG_FLOW_BDAT)
		f->bdat_left = 0;
	line_reset(f);
}

/* One byte of a command line; returns 1 when the session leaves the
 * command state (the rest is a body, a chunk, or encrypted). */
static __always_inline int read_byte(struct mxg_flow *f, __u8 c,
				     const char delims[MXG_DELIM_MAX])
{
	if (c == '\n') {
		end_line(f);
		return f->state != MXG_FLOW_CMD;
	}
	if (f->verb == MXG_VERB_UNKNOWN)
		match_verb(f, c);
	else if (f->verb == MXG_VERB_RCPT || f->verb == MXG_VERB_MAIL)
		read_address(f, c, delims);
	else if (f->verb == MXG_VERB_BDAT)
		read_bdat(f, c);
	else if ((f->verb == MXG_VERB_DATA || f->verb == MXG_VERB_STARTTLS) &&
		 c != ' ' && c != '\r')
		f->verb = MXG_VERB_OTHER;	/* "DATAX", "STARTTLS now" */
	if (f->col < 0xffff)
		f->col++;
	return 0;
}

#define MXG_BLOCK 16	/* bytes per call of the global reader */

/*
 * Up to MXG_BLOCK bytes of the chunk, from off. A global function, so the
 * verifier checks this state machine once, on its own, instead of once per
 * path of every caller; a block per call, not a byte, because the call
 * and the bpf_loop step cost more than the byte's work. Returns the bytes
 * consumed; s->stop says the session left the command state.
 */
__noinline int mxg_read_block(__u32 off, __u32 len)
{
	struct mxg_smtp_scratch *s;
	__u32 zero = 0, k;

	s = bpf_map_lookup_elem(&mxg_smtp_scratch, &zero);
	if (!s)
		return MXG_BLOCK;
	for (k = 0; k < MXG_BLOCK; k++) {
		__u32 idx = off + k;

		if (idx >= len || idx >= MXG_CHUNK)
			break;
		/* Keep the mask: clang would drop it after the test above,
		 * and the verifier does not know off. */
		asm volatile("" : "+r"(idx));
		if (read_byte(&s->flow, s->chunk[idx & (MXG_CHUNK - 1)],
			      s->j.delims)) {
			s->stop = 1;
			return k + 1;
		}
	}
	return k;
}

/* bpf_loop's callback over the blocks of a chunk. */
static long read_command_block(__u32 i, void *ctx)
{
	struct mxg_reader *r = ctx;
	__u32 off = i * MXG_BLOCK;
	int n;

	if (off >= r->len)
		return 1;
	r->s->stop = 0;
	n = mxg_read_block(off, r->len);
	r->used = off + (n > 0 ? n : 0);
	return r->s->stop ? 1 : 0;
}

/* In a body: look at the segment's last bytes for CR LF . CR LF. */
static __always_inline void read_body_tail(struct __sk_buff *skb,
					   struct mxg_flow *f, __u32 pos,
					   __u32 end)
{
	__u8 b[5] = {};
	__u32 n = end - pos;

	if (n > 5) {
		pos = end - 5;
		n = 5;
	}
	if (n == 0 || n > 5 || bpf_skb_load_bytes(skb, pos, b, n))
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

/* Where a segment's reading stands, across chunks (bpf_loop context). */
struct mxg_segment_read {
	struct __sk_buff *skb;
	struct mxg_reader *r;
	__u32 pos, end;
};

/* One step over [pos, end): a body tail, a BDAT skip, or a chunk of
 * commands. Returns 1 when the segment is done. */
static long read_chunk(__u32 k, void *ctx)
{
	struct mxg_segment_read *sr = ctx;
	struct mxg_reader *r = sr->r;
	struct mxg_flow *f = &r->s->flow;
	__u32 n, skip;

	if (sr->pos >= sr->end)
		return 1;
	switch (f->state) {
	case MXG_FLOW_DATA:
		read_body_tail(sr->skb, f, sr->pos, sr->end);
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
		break;
	default:
		return 1;
	}
	n = sr->end - sr->pos;
	if (n > MXG_CHUNK)
		n = MXG_CHUNK;
	if (n == 0 || bpf_skb_load_bytes(sr->skb, sr->pos, r->s->chunk, n))
		return 1;
	r->len = n;
	r->used = n;
	bpf_loop((n + MXG_BLOCK - 1) / MXG_BLOCK, read_command_block, r, 0);
	sr->pos += r->used;
	return 0;
}

/* Read the payload [pos, end) of one segment into the flow copy. */
static __always_inline void read_segment(struct __sk_buff *skb,
					 struct mxg_reader *r, __u32 pos,
					 __u32 end)
{
	struct mxg_segment_read sr = { .skb = skb, .r = r, .pos = pos, .end = end };

	bpf_loop(MXG_MAX_CHUNKS, read_chunk, &sr, 0);
}

/* Is seq a before b, in sequence-number arithmetic? */
static __always_inline int seq_before(__u32 a, __u32 b)
{
	return (__s32)(a - b) < 0;
}

/*
 * Everything after the header walk. A global function: the verifier
 * checks it once, not once per path through the walk (IPv6 extension
 * headers alone make dozens). Returns non-zero to drop the segment.
 */
__noinline int mxg_read_segment(struct __sk_buff *skb, struct mxg_segment *sg)
{
	const struct mxg_inspect *cfg;
	const struct mxg_mirror *mirror;
	const struct mxg_hash_key *hkey;
	struct mxg_reader r = {};
	struct mxg_judge *j;
	struct mxg_flow *flow;
	struct mxg_port *port;
	__u32 zero = 0, skip = 0, dport;
	int drop = 0;

	if (!skb || !sg)
		return 0;
	dport = sg->dport;
	port = bpf_map_lookup_elem(&mxg_ports, &dport);
	if (!port || !port->guarded || !port->inspect)
		return 0;
	cfg = bpf_map_lookup_elem(&mxg_inspect, &zero);
	if (!cfg || cfg->mode == MXG_INSPECT_OFF)
		return 0;

	/* A session is followed from its first byte or not at all. */
	if (sg->syn && !sg->ack) {
		struct mxg_smtp_scratch *fresh;

		fresh = bpf_map_lookup_elem(&mxg_smtp_scratch, &zero);
		if (!fresh)
			return 0;
		__builtin_memset(&fresh->flow, 0, sizeof(fresh->flow));
		fresh->flow.next_seq = sg->seq + 1;
		line_reset(&fresh->flow);
		if (port->inspect == MXG_INSPECT_TLS) {
			fresh->flow.state = MXG_FLOW_TLS;
			count_rcpt(MXG_RCPT_UNINSPECTABLE);
		}
		bpf_map_update_elem(&mxg_flows, &sg->key, &fresh->flow, BPF_ANY);
		return 0;
	}
	flow = bpf_map_lookup_elem(&mxg_flows, &sg->key);
	if (!flow)
		return 0;
	if (flow->state >= MXG_FLOW_TLS || !sg->len)
		goto out;

	/* Retransmitted bytes were read already; a gap means bytes we never
	 * saw, and the reader no longer knows where it stands. */
	if (sg->seq != flow->next_seq) {
		if (seq_before(flow->next_seq, sg->seq)) {
			flow->state = MXG_FLOW_LOST;
			count_rcpt(MXG_RCPT_LOST);
			goto out;
		}
		skip = flow->next_seq - sg->seq;
		if (skip >= sg->len)
			goto out;
	}

	r.s = bpf_map_lookup_elem(&mxg_smtp_scratch, &zero);
	mirror = bpf_map_lookup_elem(&mxg_mirror, &zero);
	hkey = bpf_map_lookup_elem(&mxg_hash_key, &zero);
	if (!r.s || !mirror || !hkey)
		goto out;
	j = &r.s->j;
	__builtin_memset(j, 0, sizeof(*j));
	if (!port_class(dport, &j->class_idx))
		goto out;
	j->mode = cfg->mode;
	j->threshold = cfg->unknown_threshold;
	j->window_ns = cfg->window_ns;
	j->penalty_ns = cfg->penalty_ns;
	j->now = bpf_ktime_get_coarse_ns();
	j->ready = mxg_mirror_ready(mirror, j->now);
	j->key = *hkey;
	__builtin_memcpy(j->delims, mirror->recipient_delimiter, MXG_DELIM_MAX);
	__builtin_memcpy(j->saddr, sg->key.saddr, MXG_ADDR_LEN);
	j->is_v4 = sg->is_v4;

	/* Work on a copy: a dropped segment comes again, and must then be
	 * read from the same place. */
	__builtin_memcpy(&r.s->flow, flow, sizeof(*flow));
	read_segment(skb, &r, sg->hdr + skip, sg->hdr + sg->len);

	drop = j->mode == MXG_INSPECT_DROP && j->unknown && !j->known &&
	       !j->foreign;
	if (drop) {
		count_rcpt(MXG_RCPT_DROPPED);
		emit_event(MXG_EVENT_DROP, j->now, j->unknown, sg->key.saddr);
		return 1;
	}
	r.s->flow.next_seq = sg->seq + sg->len;
	__builtin_memcpy(flow, &r.s->flow, sizeof(*flow));
out:
	/* The session is over: free its slot at once. */
	if (sg->fin || sg->rst)
		bpf_map_delete_elem(&mxg_flows, &sg->key);
	return drop;
}

/* The header walk, then the reader. Returns non-zero to drop. */
static __always_inline int inspect_segment(struct __sk_buff *skb)
{
	void *data = (void *)(long)skb->data;
	void *data_end = (void *)(long)skb->data_end;
	struct cursor c = { .pos = data, .end = data_end };
	struct mxg_smtp_scratch *scratch;
	struct mxg_segment *sg;
	struct mxg_syn syn = {};
	struct tcphdr *tcp;
	__u32 l4_len = 0, zero = 0;

	if (parse_to_l4(&c, &syn, &l4_len) != IPPROTO_TCP)
		return 0;
	scratch = bpf_map_lookup_elem(&mxg_smtp_scratch, &zero);
	if (!scratch)
		return 0;
	sg = &scratch->sg;
	tcp = c.pos;
	if ((void *)(tcp + 1) > data_end || l4_len < sizeof(*tcp) ||
	    tcp->doff < 5 || tcp->doff * 4 > l4_len)
		return 0;
	__builtin_memset(sg, 0, sizeof(*sg));
	__builtin_memcpy(sg->key.saddr, syn.saddr, MXG_ADDR_LEN);
	if (syn.is_v4) {
		struct iphdr *ip = syn.l3;

		if (!ip || (void *)(ip + 1) > data_end)
			return 0;
		sg->key.daddr[10] = sg->key.daddr[11] = 0xff;
		__builtin_memcpy(&sg->key.daddr[12], &ip->daddr, 4);
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
	sg->ack = tcp->ack;
	sg->fin = tcp->fin;
	sg->rst = tcp->rst;
	sg->is_v4 = syn.is_v4;
	return mxg_read_segment(skb, sg);
}

#endif /* MXG_SMTP_BPF_H */
