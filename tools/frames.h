/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Crafted frames for the BPF fixtures: a small builder that writes Ethernet
 * (with VLAN tags), IPv4 (with options) or IPv6 (with extension headers) and
 * TCP into a buffer, plus the ways to break each layer that the tests use.
 * Checksums are left zero: the programs never read them.
 */
#ifndef MXG_FRAMES_H
#define MXG_FRAMES_H

#include <arpa/inet.h>
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <bpf/bpf.h>
#include "mxguard.h"
#include "smtp_state.h"

#define FRAME_MAX 4096

enum { F_FIN = 0x01, F_SYN = 0x02, F_RST = 0x04, F_PSH = 0x08, F_ACK = 0x10 };

/* How to break a frame. */
enum breakage {
	BREAK_NONE = 0,
	BREAK_IHL_SMALL,	/* IPv4 ihl = 4 */
	BREAK_IP_VERSION,	/* version 6 behind ethertype IPv4 */
	BREAK_TOTLEN_LONG,	/* IPv4 total length beyond the frame */
	BREAK_TOTLEN_SHORT,	/* IPv4 total length below the header */
	BREAK_TOTLEN_NO_TCP,	/* IPv4 total length ends inside TCP */
	BREAK_DOFF_SMALL,	/* TCP data offset 4 */
	BREAK_DOFF_LONG,	/* TCP data offset past the segment */
	BREAK_V4_FRAG_LATER,	/* IPv4 fragment offset != 0 */
	BREAK_V4_FRAG_FIRST,	/* IPv4 MF set, offset 0: still judged */
	BREAK_PAYLOAD_LONG,	/* IPv6 payload length beyond the frame */
	BREAK_EXT_LEN_LONG,	/* IPv6 ext header longer than the payload */
	BREAK_FRAG_TINY,	/* first fragment (MF/M) with 8 bytes of TCP:
				 * ports, no flags (for IPv6 with ext 44) */
	BREAK_V4_FRAG_OFF1,	/* IPv4 fragment at offset 8 bytes, over the
				 * first fragment's TCP flags (RFC 1858) */
};

#define EXT_MAX 12

struct frame_spec {
	int vlans;		/* 0, 1 (802.1Q) or 2 (802.1ad + 802.1Q) */
	int family;		/* 4, 6, or 0 for an ARP frame */
	const char *saddr;
	uint16_t dport;
	uint8_t flags;		/* TCP flags */
	uint8_t l4;		/* 0 = TCP, else this IP protocol (e.g. 17) */
	int ip_opts;		/* IPv4 option bytes, multiple of 4 */
	uint8_t ext[EXT_MAX];	/* IPv6 extension header types, 0-terminated
				 * except that HOPOPTS (0) is written as 255 */
	int tcp_opts;		/* TCP option bytes, multiple of 4 */
	enum breakage breakage;
	int truncate;		/* keep only this many bytes (0 = all) */
	int ether_pad;		/* link-layer padding after the datagram */
	const char *payload;	/* TCP payload (payload_len bytes) */
	int payload_len;
	uint32_t seq;		/* TCP sequence number */
	uint16_t sport;		/* 0: 40000 */
	const char *daddr;	/* NULL: 198.18.0.1 / 2001:db8::1 */
};

#define EXT_HOPOPTS 255	/* stands for 0 in frame_spec.ext */

static inline void put16(uint8_t *p, uint16_t v)
{
	p[0] = v >> 8;
	p[1] = v & 0xff;
}

/* Returns the frame length. */
static inline int build_frame(const struct frame_spec *s, uint8_t *buf)
{
	uint8_t *p = buf, *ip, *tcp, *len_field = NULL;
	uint8_t next_hdr_proto = s->l4 ? s->l4 : 6;
	int l4_len = (s->l4 ? 8 : 20 + s->tcp_opts + s->payload_len), n;

	memset(buf, 0, FRAME_MAX);
	memcpy(p, "\x02\x00\x00\x00\x00\x01\x02\x00\x00\x00\x00\x02", 12);
	p += 12;
	if (s->vlans == 2) {
		put16(p, 0x88A8);
		put16(p + 2, 100);
		p += 4;
	}
	if (s->vlans >= 1) {
		put16(p, 0x8100);
		put16(p + 2, 200);
		p += 4;
	}
	if (s->family == 0) {
		put16(p, 0x0806);	/* ARP */
		p += 2;
		memset(p, 0xaa, 28);
		p += 28;
		return p - buf;
	}
	put16(p, s->family == 4 ? 0x0800 : 0x86DD);
	p += 2;
	ip = p;
	if (s->family == 4) {
		int hdr = 20 + s->ip_opts;

		ip[0] = 0x40 | (hdr / 4);
		put16(ip + 2, hdr + l4_len);
		ip[8] = 64;
		ip[9] = next_hdr_proto;
		inet_pton(AF_INET, s->saddr, ip + 12);
		inet_pton(AF_INET, s->daddr ? s->daddr : "198.18.0.1", ip + 16);
		memset(ip + 20, 1, s->ip_opts);	/* NOP options */
		p += hdr;
		switch (s->breakage) {
		case BREAK_IHL_SMALL:
			ip[0] = 0x44;
			break;
		case BREAK_IP_VERSION:
			ip[0] = 0x65;
			break;
		case BREAK_TOTLEN_LONG:
			put16(ip + 2, hdr + l4_len + 100);
			break;
		case BREAK_TOTLEN_SHORT:
			put16(ip + 2, 10);
			break;
		case BREAK_TOTLEN_NO_TCP:
			put16(ip + 2, hdr + 10);
			break;
		case BREAK_V4_FRAG_LATER:
			put16(ip + 6, 0x0010);
			break;
		case BREAK_V4_FRAG_FIRST:
			put16(ip + 6, 0x2000);
			break;
		case BREAK_FRAG_TINY:
			put16(ip + 6, 0x2000);
			put16(ip + 2, hdr + 8);
			break;
		case BREAK_V4_FRAG_OFF1:
			put16(ip + 6, 0x0001);
			break;
		default:
			break;
		}
	} else {
		uint8_t *next = ip + 6;
		int payload = l4_len;

		ip[0] = 0x60;
		ip[7] = 64;
		inet_pton(AF_INET6, s->saddr, ip + 8);
		inet_pton(AF_INET6, s->daddr ? s->daddr : "2001:db8::1", ip + 24);
		len_field = ip + 4;
		p += 40;
		for (n = 0; n < EXT_MAX && s->ext[n]; n++) {
			uint8_t type = s->ext[n] == EXT_HOPOPTS ? 0 : s->ext[n];

			*next = type;
			next = p;	/* each ext header's first byte */
			if (type == 44) {		/* fragment: 8 bytes */
				p += 8;
				payload += 8;
			} else if (type == 51) {	/* AH: (len+2)*4 = 16 */
				p[1] = 2;
				p += 16;
				payload += 16;
			} else {			/* (len+1)*8 = 16 */
				p[1] = 1;
				p += 16;
				payload += 16;
			}
		}
		*next = next_hdr_proto;
		put16(len_field, payload);
		if (s->breakage == BREAK_PAYLOAD_LONG)
			put16(len_field, payload + 100);
		if (s->breakage == BREAK_EXT_LEN_LONG && n)
			ip[40 + 1] = 200;
	}
	tcp = p;
	if (s->l4) {
		put16(tcp + 2, s->dport);
		put16(tcp + 4, 8);
		p += 8;
	} else {
		put16(tcp, s->sport ? s->sport : 40000);
		put16(tcp + 2, s->dport);
		tcp[4] = s->seq >> 24;
		tcp[5] = s->seq >> 16;
		tcp[6] = s->seq >> 8;
		tcp[7] = s->seq;
		tcp[12] = ((20 + s->tcp_opts) / 4) << 4;
		tcp[13] = s->flags;
		memset(tcp + 20, 1, s->tcp_opts);
		if (s->payload_len)
			memcpy(tcp + 20 + s->tcp_opts, s->payload, s->payload_len);
		if (s->breakage == BREAK_DOFF_SMALL)
			tcp[12] = 4 << 4;
		if (s->breakage == BREAK_DOFF_LONG)
			tcp[12] = 15 << 4;
		p += 20 + s->tcp_opts + s->payload_len;
	}
	/* Fragment offset for IPv6 is set on the first fragment header. */
	if (s->family == 6) {
		uint8_t *q = ip + 40;

		for (n = 0; n < EXT_MAX && s->ext[n]; n++) {
			if (s->ext[n] == 44) {
				if (s->breakage == BREAK_V4_FRAG_LATER)
					put16(q + 2, 0x0010 << 3);
				if (s->breakage == BREAK_FRAG_TINY)
					put16(q + 2, 1);	/* M */
				break;
			}
			q += s->ext[n] == 44 ? 8 : 16;
		}
		if (s->breakage == BREAK_FRAG_TINY)
			put16(len_field, (tcp - ip - 40) + 8);
	}
	if (s->breakage == BREAK_FRAG_TINY)
		p = tcp + 8;
	p += s->ether_pad;
	n = p - buf;
	if (s->truncate && s->truncate < n)
		n = s->truncate;
	return n;
}

/* An address as a flow key holds it: IPv6, or IPv4 mapped. */
static inline void flow_key_addr(uint8_t out[16], const char *addr)
{
	memset(out, 0, 16);
	if (inet_pton(AF_INET6, addr, out) == 1)
		return;
	out[10] = out[11] = 0xff;
	inet_pton(AF_INET, addr, out + 12);
}

/*
 * What mxg_sockops does when the host's TCP completes the handshake of the
 * session that spec's frames belong to: the flow starts at rcv_nxt, the
 * first byte the client sends. The SMTP reader reads nothing before it,
 * and PROG_TEST_RUN cannot run sock_ops, so the tests and the bench stand
 * in for it here.
 */
static inline int flow_establish(int flows_fd, const struct frame_spec *s,
				 uint32_t rcv_nxt)
{
	struct mxg_flow_key key = {
		.sport = htons(s->sport ? s->sport : 40000),
		.dport = htons(s->dport),
	};
	struct mxg_flow flow = { .next_seq = rcv_nxt };

	flow_key_addr(key.saddr, s->saddr);
	flow_key_addr(key.daddr, s->daddr ? s->daddr :
				 s->family == 4 ? "198.18.0.1" : "2001:db8::1");
	return bpf_map_update_elem(flows_fd, &key, &flow, BPF_ANY) ? -errno : 0;
}

#endif
