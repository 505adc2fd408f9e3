/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Header parsing for the admission path and the SMTP reader: Ethernet with
 * up to two VLAN tags, IPv4 with options, IPv6 with a bounded walk over
 * extension headers, TCP; and the one form every map gives an address
 * (IPv4 mapped into ::ffff:0:0/96).
 *
 * Each parse_*() advances a cursor and checks what the protocol requires,
 * not only what the verifier requires: IHL and data offset at least 5,
 * total and payload lengths that cover the headers, fragment offsets.
 * Headers are read from the linear data; lengths are checked against the
 * whole frame (on tc, skb->len: a segment's payload may sit in page
 * fragments, and it is still the segment the IP header describes).
 *
 * What the parser cannot judge, it says how:
 *  - MXG_FRAME_MALFORMED: truncated or inconsistent, in a way the kernel's
 *    own stack discards; passed (a guard never drops what it could not
 *    read) and counted;
 *  - MXG_FRAME_FRAGMENT: a later fragment, which cannot open a connection
 *    without its first; passed and counted;
 *  - MXG_FRAME_BOGUS: what no legitimate stack sends and what would
 *    otherwise slip past the judge: an IPv6 source that is an IPv4-mapped
 *    or -compatible address (it would be aggregated with IPv4 sources, and
 *    its /64 covers them all), a first fragment too short to hold the TCP
 *    header (its SYN flag and port would be judged by nobody), a fragment
 *    that overlaps the TCP header (RFC 1858); dropped and counted;
 *  - MXG_FRAME_UNSEEN: a frame whose transport header the parser cannot
 *    reach (more IPv6 extension headers than it walks, headers past what
 *    the tc program could pull): judged by its source alone, and dropped
 *    if that is denied or in the penalty box.
 */
#ifndef MXG_PARSING_H
#define MXG_PARSING_H

#include "vmlinux.h"
#include <bpf/bpf_endian.h>
#include "mxguard.h"
#include "bounds.h"

#define ETH_P_IP 0x0800
#define ETH_P_IPV6 0x86DD
#define ETH_P_8021Q 0x8100
#define ETH_P_8021AD 0x88A8
#define IPPROTO_HOPOPTS 0
#define IPPROTO_ROUTING 43
#define IPPROTO_FRAGMENT 44
#define IPPROTO_AH 51
#define IPPROTO_DSTOPTS 60
#define IP_MF 0x2000
#define IP_OFFSET 0x1FFF
#define IP6_OFFSET_MASK 0xFFF8	/* fragment offset bits of frag_off */

struct cursor {
	void *pos;
	void *end;		/* of the linear data: headers are read there */
	void *start;		/* of the frame */
	__u32 len;		/* of the whole frame: lengths are checked here */
};

static __always_inline struct cursor cursor_init(void *data, void *data_end,
						 __u32 frame_len)
{
	struct cursor c = { .pos = data, .end = data_end, .start = data,
			    .len = frame_len };
	return c;
}

/* What the parser found (see the top of this file). */
enum mxg_frame {
	MXG_FRAME_OTHER = 0,	/* well formed, not a SYN we judge */
	MXG_FRAME_SYN,		/* a SYN without ACK; syn filled in */
	MXG_FRAME_MALFORMED,	/* truncated or inconsistent headers */
	MXG_FRAME_FRAGMENT,	/* non-first fragment: no TCP header here */
	MXG_FRAME_BOGUS,	/* never legitimate: dropped */
	MXG_FRAME_UNSEEN,	/* transport out of reach: judged by source */
};

struct mxg_syn {
	__u8 saddr[MXG_ADDR_LEN];	/* IPv4 mapped into ::ffff:0:0/96 */
	__u16 dport;			/* host order */
	__be16 sport;			/* sport and seq: with the addresses, */
	__be32 seq;			/* what a retransmission repeats */
	__u8 is_v4;
	__u8 has_saddr;			/* saddr is filled in */
	__u8 first_frag;		/* the first of several fragments */
	void *l3;			/* the IP header, for a reader that needs more */
};

/* Bytes from the frame's start to the cursor. */
static __always_inline __u32 cursor_off(const struct cursor *c)
{
	return c->pos - c->start;
}

/* A header that does not fit the linear data: malformed when the frame
 * ends there, out of reach when the rest of it is paged. */
static __always_inline int cut_short(const struct cursor *c)
{
	return (__u32)(c->end - c->start) < c->len ? MXG_FRAME_UNSEEN :
						     MXG_FRAME_MALFORMED;
}

/* An IPv4 address (4 bytes, network order) as every map holds it: mapped
 * into ::ffff:0:0/96. The one place that builds this form: the parser,
 * the SMTP reader's flow keys and the sockets' addresses (sock_addr())
 * must agree on it byte for byte. */
static __always_inline void addr_map_v4(__u8 out[MXG_ADDR_LEN], const void *v4)
{
	__builtin_memset(out, 0, 10);
	out[10] = 0xff;
	out[11] = 0xff;
	__builtin_memcpy(&out[12], v4, 4);
}

/* An address of that form. */
static __always_inline int addr_is_v4_mapped(const __u8 addr[MXG_ADDR_LEN])
{
	const __u32 *w = (const __u32 *)addr;

	return w[0] == 0 && w[1] == 0 && w[2] == bpf_htonl(0xffff);
}

/* Ethernet and up to MXG_VLAN_MAX tags; returns the inner ethertype
 * (network order) or 0 if the frame is too short. */
static __always_inline __be16 parse_eth(struct cursor *c)
{
	struct ethhdr *eth = c->pos;
	struct vlan_hdr *vlan;
	__be16 proto;

	if ((void *)(eth + 1) > c->end)
		return 0;
	proto = eth->h_proto;
	c->pos = eth + 1;

#pragma unroll
	for (int i = 0; i < MXG_VLAN_MAX; i++) {
		if (proto != bpf_htons(ETH_P_8021Q) &&
		    proto != bpf_htons(ETH_P_8021AD))
			break;
		vlan = c->pos;
		if ((void *)(vlan + 1) > c->end)
			return 0;
		proto = vlan->h_vlan_encapsulated_proto;
		c->pos = vlan + 1;
	}
	return proto;
}

/*
 * IPv4: returns the L4 protocol, or a negative enum mxg_frame value for a
 * frame that cannot be judged. *l4_len is what the IP header says the
 * transport part holds, so TCP can check its own length against it.
 */
static __always_inline int parse_ipv4(struct cursor *c, struct mxg_syn *syn,
				      __u32 *l4_len)
{
	struct iphdr *ip = c->pos;
	__u32 hdr_len, tot_len, frag;

	if ((void *)(ip + 1) > c->end)
		return -cut_short(c);
	if (ip->version != 4 || ip->ihl < 5)
		return -MXG_FRAME_MALFORMED;
	hdr_len = ip->ihl * 4;
	tot_len = mxg_ntohs(ip->tot_len);
	/* The frame may carry link-layer padding after the datagram, but
	 * never less than the datagram. */
	if (tot_len < hdr_len || cursor_off(c) + tot_len > c->len)
		return -MXG_FRAME_MALFORMED;
	if (c->pos + hdr_len > c->end)
		return -cut_short(c);

	addr_map_v4(syn->saddr, &ip->saddr);
	syn->is_v4 = 1;
	syn->has_saddr = 1;
	syn->l3 = ip;

	frag = mxg_ntohs(ip->frag_off);
	if (frag & IP_OFFSET) {
		/* Offset 1 (8 bytes) rewrites the TCP flags of the first
		 * fragment at reassembly (RFC 1858); no stack sends it. */
		if ((frag & IP_OFFSET) == 1 && ip->protocol == IPPROTO_TCP)
			return -MXG_FRAME_BOGUS;
		return -MXG_FRAME_FRAGMENT;
	}
	syn->first_frag = !!(frag & IP_MF);

	*l4_len = tot_len - hdr_len;
	c->pos += hdr_len;
	return ip->protocol;
}

/* An IPv6 extension header's first two bytes; AH counts its length in
 * 4-byte units, the others in 8-byte units, both excluding the first 8. */
struct ipv6_opt_hdr_min {
	__u8 nexthdr;
	__u8 hdrlen;
};

/* An IPv4-mapped (::ffff:0:0/96) or IPv4-compatible (::/96) address. */
static __always_inline int v6_is_v4_form(const __u8 a[MXG_ADDR_LEN])
{
	const __u32 *w = (const __u32 *)a;

	if (addr_is_v4_mapped(a))
		return 1;
	/* ::a.b.c.d, but not :: and ::1, which are no IPv4 address. */
	return w[0] == 0 && w[1] == 0 && w[2] == 0 && bpf_ntohl(w[3]) > 1;
}

static __always_inline int ipv6_is_ext(__u8 next)
{
	return next == IPPROTO_HOPOPTS || next == IPPROTO_ROUTING ||
	       next == IPPROTO_DSTOPTS || next == IPPROTO_AH ||
	       next == IPPROTO_FRAGMENT;
}

static __always_inline int parse_ipv6(struct cursor *c, struct mxg_syn *syn,
				      __u32 *l4_len)
{
	struct ipv6hdr *ip6 = c->pos;
	struct ipv6_opt_hdr_min *opt;
	struct frag_hdr *frag;
	__u32 payload, len;
	__u8 next;

	if ((void *)(ip6 + 1) > c->end)
		return -cut_short(c);
	if (ip6->version != 6)
		return -MXG_FRAME_MALFORMED;
	payload = mxg_ntohs(ip6->payload_len);
	/* payload_len 0 means a jumbogram; a SYN is never one. */
	if (cursor_off(c) + sizeof(*ip6) + payload > c->len)
		return -MXG_FRAME_MALFORMED;
	__builtin_memcpy(syn->saddr, &ip6->saddr, MXG_ADDR_LEN);
	/* ::ffff:0:0/96 and ::/96 are IPv4 addresses, never an IPv6
	 * packet's source on the wire (RFC 4291, 6890; the kernel drops
	 * them): as IPv6 their /64 would be every IPv4 source at once. */
	if (v6_is_v4_form(syn->saddr))
		return -MXG_FRAME_BOGUS;
	syn->is_v4 = 0;
	syn->has_saddr = 1;
	syn->l3 = ip6;
	next = ip6->nexthdr;
	c->pos = ip6 + 1;

#pragma unroll
	for (int i = 0; i < MXG_IPV6_EXT_MAX; i++) {
		switch (next) {
		case IPPROTO_HOPOPTS:
		case IPPROTO_ROUTING:
		case IPPROTO_DSTOPTS:
		case IPPROTO_AH:
			opt = c->pos;
			if ((void *)(opt + 1) > c->end)
				return -cut_short(c);
			len = next == IPPROTO_AH ? (opt->hdrlen + 2) * 4 :
						   (opt->hdrlen + 1) * 8;
			if (len > payload)
				return -MXG_FRAME_MALFORMED;
			payload -= len;
			next = opt->nexthdr;
			c->pos += len;
			break;
		case IPPROTO_FRAGMENT:
			frag = c->pos;
			if ((void *)(frag + 1) > c->end)
				return -cut_short(c);
			if (payload < sizeof(*frag))
				return -MXG_FRAME_MALFORMED;
			if (frag->frag_off & bpf_htons(IP6_OFFSET_MASK))
				return -MXG_FRAME_FRAGMENT;
			/* M set: the first of several. */
			syn->first_frag = !!(frag->frag_off & bpf_htons(1));
			payload -= sizeof(*frag);
			next = frag->nexthdr;
			c->pos = frag + 1;
			break;
		default:
			*l4_len = payload;
			return next;
		}
	}
	/* More extension headers than we walk: the transport is out of
	 * reach; its source is not. */
	if (ipv6_is_ext(next))
		return -MXG_FRAME_UNSEEN;
	*l4_len = payload;
	return next;
}

/*
 * The TCP header at the cursor, against the l4_len bytes IP says the
 * transport holds: MXG_FRAME_OTHER when it is there, else why not. Its
 * fixed part must be in the linear data, its data offset at least 5 and,
 * options included, within l4_len, except in the first of several
 * fragments (first_frag), whose options may go on in the next fragment:
 * its flags and ports are here all the same.
 */
static __always_inline enum mxg_frame check_tcp(const struct cursor *c,
						__u32 l4_len, int first_frag)
{
	struct tcphdr *tcp = c->pos;

	/* A first fragment with less than a TCP header is a SYN nobody
	 * would judge: reassembled, the listener would answer it. */
	if (l4_len < sizeof(*tcp))
		return first_frag ? MXG_FRAME_BOGUS : MXG_FRAME_MALFORMED;
	if ((void *)(tcp + 1) > c->end)
		return cut_short(c);
	if (tcp->doff < 5 || (tcp->doff * 4 > l4_len && !first_frag))
		return MXG_FRAME_MALFORMED;
	return MXG_FRAME_OTHER;
}

/* TCP: a SYN without ACK whose header fits what IP says it carries. */
static __always_inline enum mxg_frame parse_tcp(struct cursor *c,
						struct mxg_syn *syn,
						__u32 l4_len)
{
	struct tcphdr *tcp = c->pos;
	enum mxg_frame frame = check_tcp(c, l4_len, syn->first_frag);

	if (frame != MXG_FRAME_OTHER)
		return frame;
	if (!tcp->syn || tcp->ack)
		return MXG_FRAME_OTHER;
	syn->dport = bpf_ntohs(tcp->dest);
	syn->sport = tcp->source;
	syn->seq = tcp->seq;
	return MXG_FRAME_SYN;
}

/* From the link layer to the transport header: returns the IP protocol
 * with the cursor on its header, or a negative enum mxg_frame. */
static __always_inline int parse_to_l4(struct cursor *c, struct mxg_syn *syn,
				       __u32 *l4_len)
{
	__be16 proto = parse_eth(c);

	syn->has_saddr = 0;
	syn->first_frag = 0;

	if (proto == bpf_htons(ETH_P_IP))
		return parse_ipv4(c, syn, l4_len);
	if (proto == bpf_htons(ETH_P_IPV6))
		return parse_ipv6(c, syn, l4_len);
	return proto ? -MXG_FRAME_OTHER : -MXG_FRAME_MALFORMED;
}

/* The whole walk from the link layer to TCP; frame_len is the frame's
 * whole length (on XDP the linear data, on tc skb->len). */
static __always_inline enum mxg_frame parse_frame(void *data, void *data_end,
						  __u32 frame_len,
						  struct mxg_syn *syn)
{
	struct cursor c = cursor_init(data, data_end, frame_len);
	__u32 l4_len = 0;
	int l4;

	l4 = parse_to_l4(&c, syn, &l4_len);
	if (l4 < 0)
		return -l4;
	if (l4 != IPPROTO_TCP)
		return MXG_FRAME_OTHER;
	return parse_tcp(&c, syn, l4_len);
}

#endif /* MXG_PARSING_H */
