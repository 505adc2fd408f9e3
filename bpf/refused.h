/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The identity of a SYN refused as new_source, as its TCP repeats it when
 * it retransmits (addresses, ports, sequence number), and where it is kept
 * in mxg_refused (mxguard.h). Pure arithmetic, compiled into both the BPF
 * programs and the tests, which aim SYNs at one line with it.
 */
#ifndef MXG_REFUSED_H
#define MXG_REFUSED_H

#include "mxguard.h"

/*
 * Multiply and xor-shift the fields into 64 bits: the line is the low
 * bits, the tag the high ones. Not keyed: an attacker who can repeat a SYN
 * needs no collision, and one who cannot see a client's sequence number
 * cannot aim at its line.
 */
static inline __u64 mxg_syn_identity(const __u8 saddr[MXG_ADDR_LEN],
				     __be16 sport, __be32 seq, __u16 dport)
{
	const __u64 k = 0x9e3779b97f4a7c15ULL;	/* 2^64 / golden ratio */
	__u64 a, b, h;

	__builtin_memcpy(&a, saddr, 8);
	__builtin_memcpy(&b, saddr + 8, 8);
	h = ((__u64)seq << 32 | (__u64)sport << 16 | dport) * k;
	h = (h ^ a ^ (h >> 29)) * k;
	h = (h ^ b ^ (h >> 29)) * k;
	return h ^ (h >> 32);
}

static inline __u32 mxg_refused_line_of(__u64 id)
{
	return (__u32)id & (MXG_REFUSED_LINES - 1);
}

/* The slot's upper half; never 0, which is a free slot. */
static inline __u64 mxg_refused_tag(__u64 id)
{
	return (id >> 32 | 1) << 32;
}

/* The slot's lower half: the time in 2^20 ns (~1 ms) units, which wraps
 * after 52 days; only differences of a few seconds are compared. */
static inline __u32 mxg_refused_time(__u64 now_ns)
{
	return (__u32)(now_ns >> 20);
}

#endif /* MXG_REFUSED_H */
