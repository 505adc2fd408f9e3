/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Header parsing for the admission path: Ethernet with up to two VLAN tags,
 * IPv4 with options, IPv6 with a bounded walk over extension headers, TCP.
 *
 * Each parse_*() advances a cursor and checks what the protocol requires,
 * not only what the verifier requires: IHL and data offset at least 5,
 * total and payload lengths that cover the headers, fragment offsets. A
 * frame that fails any check is MXG_FRAME_MALFORMED and is passed: the
 * kernel's own stack discards what is really broken, and a guard must never
 * drop what it could not understand.
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
	void *end;
};

/* What the parser found. Only MXG_FRAME_SYN is judged. */
enum mxg_frame {
	MXG_FRAME_OTHER = 0,	/* well formed, not a SYN we judge */
	MXG_FRAME_SYN,		/* a SYN without ACK; syn filled in */
	MXG_FRAME_MALFORMED,	/* truncated or inconsistent headers */
	MXG_FRAME_FRAGMENT,	/* non-first fragment: no TCP header here */
};

struct mxg_syn {
	__u8 saddr[MXG_ADDR_LEN];	/* IPv4 mapped into ::ffff:0:0/96 */
	__u16 dport;			/* host order */
	__u8 is_v4;
	void *l3;			/* the IP header, for a reader that needs more */
};

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
	__u32 hdr_len, tot_len;

	if ((void *)(ip + 1) > c->end)
		return -MXG_FRAME_MALFORMED;
	if (ip->version != 4 || ip->ihl < 5)
		return -MXG_FRAME_MALFORMED;
	hdr_len = ip->ihl * 4;
	tot_len = mxg_ntohs(ip->tot_len);
	/* The frame may carry link-layer padding after the datagram, but
	 * never less than the datagram. */
	if (tot_len < hdr_len || c->pos + tot_len > c->end)
		return -MXG_FRAME_MALFORMED;
	if (ip->frag_off & bpf_htons(IP_OFFSET))
		return -MXG_FRAME_FRAGMENT;

	__builtin_memset(syn->saddr, 0, 10);
	syn->saddr[10] = 0xff;
	syn->saddr[11] = 0xff;
	__builtin_memcpy(&syn->saddr[12], &ip->saddr, 4);
	syn->is_v4 = 1;
	syn->l3 = ip;

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
		return -MXG_FRAME_MALFORMED;
	if (ip6->version != 6)
		return -MXG_FRAME_MALFORMED;
	payload = mxg_ntohs(ip6->payload_len);
	/* payload_len 0 means a jumbogram; a SYN is never one. */
	if ((void *)(ip6 + 1) + payload > c->end)
		return -MXG_FRAME_MALFORMED;
	__builtin_memcpy(syn->saddr, &ip6->saddr, MXG_ADDR_LEN);
	syn->is_v4 = 0;
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
				return -MXG_FRAME_MALFORMED;
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
			if ((void *)(frag + 1) > c->end || payload < sizeof(*frag))
				return -MXG_FRAME_MALFORMED;
			if (frag->frag_off & bpf_htons(IP6_OFFSET_MASK))
				return -MXG_FRAME_FRAGMENT;
			payload -= sizeof(*frag);
			next = frag->nexthdr;
			c->pos = frag + 1;
			break;
		default:
			*l4_len = payload;
			return next;
		}
	}
	/* More extension headers than we walk: not a SYN we can judge. */
	if (ipv6_is_ext(next))
		return -MXG_FRAME_MALFORMED;
	*l4_len = payload;
	return next;
}

/* TCP: a SYN without ACK whose header fits what IP says it carries. */
static __always_inline enum mxg_frame parse_tcp(struct cursor *c,
						struct mxg_syn *syn,
						__u32 l4_len)
{
	struct tcphdr *tcp = c->pos;

	if ((void *)(tcp + 1) > c->end || l4_len < sizeof(*tcp))
		return MXG_FRAME_MALFORMED;
	if (tcp->doff < 5 || tcp->doff * 4 > l4_len)
		return MXG_FRAME_MALFORMED;
	if (!tcp->syn || tcp->ack)
		return MXG_FRAME_OTHER;
	syn->dport = bpf_ntohs(tcp->dest);
	return MXG_FRAME_SYN;
}

/* From the link layer to the transport header: returns the IP protocol
 * with the cursor on its header, or a negative enum mxg_frame. */
static __always_inline int parse_to_l4(struct cursor *c, struct mxg_syn *syn,
				       __u32 *l4_len)
{
	__be16 proto = parse_eth(c);

	if (proto == bpf_htons(ETH_P_IP))
		return parse_ipv4(c, syn, l4_len);
	if (proto == bpf_htons(ETH_P_IPV6))
		return parse_ipv6(c, syn, l4_len);
	return proto ? -MXG_FRAME_OTHER : -MXG_FRAME_MALFORMED;
}

/* The whole walk from the link layer to TCP. */
static __always_inline enum mxg_frame parse_frame(void *data, void *data_end,
						  struct mxg_syn *syn)
{
	struct cursor c = { .pos = data, .end = data_end };
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
