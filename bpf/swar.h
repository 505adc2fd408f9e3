/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Eight bytes at a time: byte tests on a 64-bit word ("SIMD within a
 * register"), for the SMTP reader's line scan. Every test is exact, not
 * the classic has-zero-byte trick whose borrows mark bytes above a real
 * match: here a byte is marked (0x80 in it) if and only if it passes.
 *
 * Byte i of a word is the i-th byte in memory (little-endian loads, as on
 * every architecture the BPF JIT runs the reader on). Nothing branches, so
 * the verifier walks each use once.
 */
#ifndef MXG_SWAR_H
#define MXG_SWAR_H

#include "vmlinux.h"

#define SWAR_ONES 0x0101010101010101ULL
#define SWAR_HIGHS 0x8080808080808080ULL
#define SWAR_LOWS 0x7f7f7f7f7f7f7f7fULL

/*
 * Eight bytes from any address. clang's BPF target assumes strict
 * alignment and splits a load it cannot prove aligned into eight byte
 * loads and seven shifts; the instruction itself may be unaligned, which
 * the verifier allows where the JIT's architecture has efficient unaligned
 * access (x86-64, arm64).
 *
 * No "memory" clobber, so the compiler keeps everything else in registers
 * across it: the bytes it reads are written only by helpers (calls, which
 * the compiler never moves a volatile asm across) or by swar_store(),
 * another volatile asm, kept in program order with this one.
 */
static __always_inline __u64 swar_load(const void *p)
{
	__u64 v;

	asm volatile("%0 = *(u64 *)(%1 + 0)" : "=r"(v) : "r"(p));
	return v;
}

/* Eight bytes to any address, for the same reason; "memory", so that no
 * plain load of those bytes is moved above it. */
static __always_inline void swar_store(void *p, __u64 v)
{
	asm volatile("*(u64 *)(%0 + 0) = %1" : : "r"(p), "r"(v) : "memory");
}

/* Bytes equal to c. The low seven bits are added without a carry into the
 * next byte; the high bit is ORed in separately. */
static __always_inline __u64 swar_eq(__u64 w, __u8 c)
{
	__u64 t = w ^ (SWAR_ONES * c);

	return ~(((t & SWAR_LOWS) + SWAR_LOWS) | t) & SWAR_HIGHS;
}

/* Bytes below c, for c <= 0x80: b + (0x80 - c) reaches 0x80 exactly when
 * b >= c, and bytes from 0x80 up are never below c. */
static __always_inline __u64 swar_lt(__u64 w, __u8 c)
{
	return ~((w & SWAR_LOWS) + SWAR_ONES * (0x80 - c)) & ~w & SWAR_HIGHS;
}

/* ASCII A-Z lower-cased; every other byte as it is. */
static __always_inline __u64 swar_lower(__u64 w)
{
	__u64 upper = swar_lt(w, 'Z' + 1) & ~swar_lt(w, 'A');

	return w | upper >> 2;	/* 0x80 >> 2 = 0x20 */
}

/* The index of the first marked byte, 8 if none: the bits below the
 * lowest mark, shifted down by seven, fill one 0x01 per whole byte below
 * it; the multiplication sums them into the top byte. */
static __always_inline __u64 swar_first(__u64 m)
{
	return ((((m - 1) & ~m) >> 7) & SWAR_ONES) * SWAR_ONES >> 56;
}

/* The first n bytes of a word, n in 0..8 (two shifts: 64 is not a valid
 * shift count). */
static __always_inline __u64 swar_head(__u64 n)
{
	return ((1ULL << (4 * n)) << (4 * n)) - 1;
}

#endif /* MXG_SWAR_H */
