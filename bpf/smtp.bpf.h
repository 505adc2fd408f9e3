/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The SMTP reader: a TC ingress program that follows the client's side of
 * plain-text SMTP sessions and judges every RCPT TO against the recipient
 * mirror, so that the sources of backscatter to random local recipients
 * can be put in the penalty box at SYN time. This file is its walk: from
 * a frame to the segment's payload, through the payload a line, a chunk
 * or a body at a time, and a flow's start and end. The parts, by role:
 *
 *   smtp_state.h   the flow (mxg_flows) and the per-CPU scratch
 *   smtp_verbs.h   the commands, their one keyword table, the line state
 *   smtp_words.h   the word reader: whole lines, eight bytes at a time
 *   smtp_bytes.h   the byte reader: lines split anywhere, byte by byte
 *   smtp_judge.h   what a segment's recipients count for; the penalty box
 *   rcpt.h         the normal form and the hash, the same as userspace's
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
 * the bytes at hand (nearly all of them: a client writes whole lines) goes
 * to the word reader; only a line split between segments or longer than a
 * chunk goes through the byte reader's state machine kept in the flow, so
 * a command may be split anywhere; no choice of whole lines reaches it,
 * so a hostile client cannot pick the slow path. Both end in the same
 * finish of the normal form and the same judge; tests/bpf/test_smtp.c
 * sends every case both ways and checks they agree.
 */
#ifndef MXG_SMTP_BPF_H
#define MXG_SMTP_BPF_H

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include "mxguard.h"
#include "bounds.h"
#include "maps.bpf.h"
#include "parsing.h"
#include "source.bpf.h"
#include "smtp_state.h"
#include "smtp_verbs.h"
#include "smtp_judge.h"
#include "smtp_bytes.h"
#include "smtp_words.h"

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

/* CR LF . CR LF, the end of the body, as the last five bytes. */
#define EOD_PATTERN 0x0d0a2e0d0aULL
#define EOD_MASK 0xffffffffffULL

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
	const struct mxg_class *cls;
	struct mxg_smtp_scratch *s;
	struct mxg_flow *flow;
	struct mxg_port *port;
	__u32 zero = 0, skip = 0, dport;
	struct mxg_segment *sg;
	int again;

	/* The segment comes through the scratch, not as an argument: a
	 * global function's pointer argument is plain memory to the
	 * verifier, and 6.1's takes no such pointer as a map key. */
	s = smtp_scratch();
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

	cls = judge_begin(s, cfg);
	if (!cls)
		return 0;

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
	 * evidence: read again for the same verdict, counted never again. */
	again = flow->dropped && flow->drop_seq == sg->seq;
	if (judge_segment(s, cls, again)) {
		/* Only this is kept of the segment: the flow stays where it
		 * was, to read the retransmission from the same place. */
		flow->dropped = 1;
		flow->drop_seq = sg->seq;
		count_rcpt(MXG_RCPT_DROPPED);
		if (!again)
			emit_event(MXG_EVENT_DROP, s->j.now, s->j.unknown,
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
	s = smtp_scratch();
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
	s = smtp_scratch();
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
