/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Recipient addresses as the mirror knows them: one normal form and one
 * keyed hash. The LDAP side that fills the mirror, `mxguardctl rcpt check`
 * and the BPF SMTP inspector all include this file, so they cannot
 * disagree on what "the same address" is: a difference here would turn a
 * valid recipient into an unknown one.
 *
 * Written for the verifier as much as for the host compiler:
 *  - every loop runs a fixed number of times, bounded by a named constant;
 *    buffers are MXG_RCPT_BUF bytes and every index stays inside them;
 *  - the data-dependent positions (the last '@', the first delimiter, the
 *    length) are computed without branches (the mxg_rcpt_lt()/_sel()
 *    flags below). Were they set under an `if`, each iteration would fork
 *    the verifier into a path per possible position and the number of
 *    states would grow with the square of the address length. As opaque
 *    values they cost one walk of each loop.
 * On the host the same code is simply a little slower than a strchr()
 * version, which does not matter for an LDAP value or a CLI argument.
 */
#ifndef MXG_RCPT_H
#define MXG_RCPT_H

#include "mxguard.h"

#ifdef __bpf__
#include "swar.h"
/* Everything is inlined into the inspector, which puts SipHash behind a
 * global function of its own (verified once, whatever calls it). */
#define MXG_RCPT_INLINE static inline __attribute__((always_inline))
#define MXG_RCPT_SUBPROG MXG_RCPT_INLINE
#else
#define MXG_RCPT_INLINE static inline
#define MXG_RCPT_SUBPROG static inline
#endif

/*
 * The normaliser's state while an address arrives byte by byte; the bytes
 * themselves go to a buffer of MXG_RCPT_BUF. The SMTP reader keeps one in
 * each flow (bpf/smtp_state.h), so an address may be split between
 * segments; the word reader fills one from its own scan.
 */
struct mxg_rcpt_norm {
	__u64 dlo, dhi;		/* the delimiter set, bit per ASCII byte */
	__u16 n;		/* bytes stored */
	__u16 at;		/* index of the last '@' + 1; 0 = none yet */
	__u16 delim;		/* index of the first delimiter + 1; 0 = none */
	__u8 bad;		/* a control byte was seen */
	__u8 toolong;		/* more than MXG_RCPT_MAX bytes */
	__u8 ended;		/* (init only) the delimiter string ended */
	__u8 pad[7];
};

_Static_assert(sizeof(struct mxg_rcpt_norm) == 32, "mxg_rcpt_norm layout");

/* Why an address has no normal form. Not errno: BPF has none. The
 * functions return them negated. */
enum mxg_rcpt_err {
	MXG_RCPT_ETOOLONG = 1,	/* over MXG_RCPT_MAX bytes (never truncated) */
	MXG_RCPT_ENOAT,		/* no '@' */
	MXG_RCPT_ECTRL,		/* a byte < 0x20 (NUL included) or 0x7f */
	MXG_RCPT_EEMPTY,	/* empty local part or domain */
};

#define MXG_SIP_BLOCKS (MXG_RCPT_BUF / 8)
#define MXG_RCPT_MASK (MXG_RCPT_BUF - 1)

#if (MXG_RCPT_BUF & MXG_RCPT_MASK) || MXG_RCPT_BUF < MXG_RCPT_MAX + 2
#error "MXG_RCPT_BUF must be a power of two and hold MXG_RCPT_MAX + 2 bytes"
#endif

/*
 * Branch-free comparisons, as flags (1 or 0). Operands are below 2^63, so
 * the sign of the 64-bit difference is the answer. BPF has no conditional
 * move or set-on-compare: a C comparison or ?: becomes a jump, and every
 * jump forks the verifier. Flags are 0/1 and select by multiplication,
 * not all-ones masks: recent verifiers (maybe_fork_scalars(), 6.19 and
 * stable backports such as 6.18.y) fork on a [-1, 0] value ANDed or ORed
 * with a constant, the pattern LLVM emits for selects, which would bring
 * the forks back.
 */
MXG_RCPT_INLINE __u64 mxg_rcpt_lt(__u64 a, __u64 b)
{
	__u64 d = a - b;

	/* Both sides opaque to the optimiser, which would otherwise see a
	 * compare in the shift, or a select in what uses the flag, and
	 * lower either to a jump again. The verifier sees plain ALU ops. */
	asm("" : "+r"(d));
	d >>= 63;
	asm("" : "+r"(d));
	return d;
}

MXG_RCPT_INLINE __u64 mxg_rcpt_eq(__u64 a, __u64 b)
{
	return mxg_rcpt_lt(a ^ b, 1);
}

/* flag ? a : b */
MXG_RCPT_INLINE __u64 mxg_rcpt_sel(__u64 flag, __u64 a, __u64 b)
{
	return b + (a - b) * flag;
}

/* ---- SipHash-2-4 ---------------------------------------------------- */

#define MXG_SIP_ROTL(x, b) (((x) << (b)) | ((x) >> (64 - (b))))

#define MXG_SIPROUND(v0, v1, v2, v3)				\
	do {							\
		v0 += v1; v1 = MXG_SIP_ROTL(v1, 13); v1 ^= v0;	\
		v0 = MXG_SIP_ROTL(v0, 32);			\
		v2 += v3; v3 = MXG_SIP_ROTL(v3, 16); v3 ^= v2;	\
		v0 += v3; v3 = MXG_SIP_ROTL(v3, 21); v3 ^= v0;	\
		v2 += v1; v1 = MXG_SIP_ROTL(v1, 17); v1 ^= v2;	\
		v2 = MXG_SIP_ROTL(v2, 32);			\
	} while (0)

/*
 * Eight bytes at off as a little-endian word.
 *
 * In BPF, one load: buf must then have MXG_RCPT_ROOM bytes, so that a word
 * at any off below MXG_RCPT_BUF stays inside it (bytes past the message
 * are masked off by the caller). The load may be unaligned (the domain
 * starts anywhere), which the verifier allows on the architectures whose
 * JIT has efficient unaligned access; byte loads cost ~10 ns more per
 * address, and the SMTP reader hashes two per recipient.
 *
 * On the host, any buffer of MXG_RCPT_BUF: byte by byte, wrapping inside
 * it; only bytes of the final block that the caller masks off can wrap.
 */
#define MXG_RCPT_ROOM (MXG_RCPT_BUF + 8)

MXG_RCPT_INLINE __u64 mxg_sip_load(const __u8 *buf, __u32 off)
{
#ifdef __bpf__
	return swar_load(buf + (off & MXG_RCPT_MASK));
#else
	__u64 m = 0;
	__u32 k;

	for (k = 0; k < 8; k++)
		m |= (__u64)buf[(off + k) & MXG_RCPT_MASK] << (8 * k);
	return m;
#endif
}

/*
 * SipHash-2-4 of the len bytes at buf + off. buf is MXG_RCPT_BUF bytes
 * (MXG_RCPT_ROOM in BPF, see mxg_sip_load) and off + len <= MXG_RCPT_BUF;
 * the final block is read whole and all but its
 * len % 8 bytes are masked off, so what lies past the message (padding,
 * or the rest of an address for mxg_domain_key) never counts.
 */
MXG_RCPT_SUBPROG __u64 mxg_siphash_at(const struct mxg_hash_key *key,
				      const __u8 *buf, __u32 off, __u32 len)
{
	__u64 v0 = 0x736f6d6570736575ULL ^ key->k0;
	__u64 v1 = 0x646f72616e646f6dULL ^ key->k1;
	__u64 v2 = 0x6c7967656e657261ULL ^ key->k0;
	__u64 v3 = 0x7465646279746573ULL ^ key->k1;
	__u64 b = (__u64)len << 56;
	__u32 nblocks = len / 8, i;

	for (i = 0; i < MXG_SIP_BLOCKS; i++) {
		__u64 m = mxg_sip_load(buf, off + i * 8);

		if (i >= nblocks) {
			/* len % 8 < 8, so the shift is defined; 0 bytes
			 * gives an empty mask. */
			b |= m & ((1ULL << ((len % 8) * 8)) - 1);
			break;
		}
		v3 ^= m;
		MXG_SIPROUND(v0, v1, v2, v3);
		MXG_SIPROUND(v0, v1, v2, v3);
		v0 ^= m;
	}

	v3 ^= b;
	MXG_SIPROUND(v0, v1, v2, v3);
	MXG_SIPROUND(v0, v1, v2, v3);
	v0 ^= b;
	v2 ^= 0xff;
	MXG_SIPROUND(v0, v1, v2, v3);
	MXG_SIPROUND(v0, v1, v2, v3);
	MXG_SIPROUND(v0, v1, v2, v3);
	MXG_SIPROUND(v0, v1, v2, v3);
	return v0 ^ v1 ^ v2 ^ v3;
}

/* SipHash-2-4, 64-bit output, of buf[0..len), len <= MXG_RCPT_BUF; buf
 * is MXG_RCPT_BUF bytes (see mxg_siphash_at). */
MXG_RCPT_INLINE __u64 mxg_siphash(const struct mxg_hash_key *key,
				  const __u8 *buf, __u32 len)
{
	return mxg_siphash_at(key, buf, 0, len);
}

/* ---- Normal form ---------------------------------------------------- */

/*
 * The normal form of an address:
 *  - one pair of surrounding angle brackets is removed ("<a@b>");
 *  - ASCII A-Z are lower-cased, bytes >= 0x80 are kept as they are;
 *  - the local part ends at the LAST '@' (a quoted local part may hold one);
 *  - the local part is cut at its first character in delims (Postfix's
 *    recipient_delimiter: "+" or "+-"; "" = none), unless that character
 *    is its first one: like Postfix, "+foo@b" and "-x+y@b" stay whole.
 *    A quoted local part ('"' first) is never cut: a cut inside the quotes
 *    would give a form no directory holds. Delimiters are matched before
 *    lower-casing, as Postfix matches them; only 0x21..0x7e can be
 *    delimiters, others are ignored (the config should refuse them);
 *  - one trailing '.' of the domain is removed.
 * Refused, never truncated: over MXG_RCPT_MAX bytes once the brackets are
 * gone, a byte < 0x20 or 0x7f (so a NUL within inlen too), no '@', an
 * empty local part or domain (also "a@.").
 *
 * The work is done a byte at a time as the address arrives (struct
 * mxg_rcpt_norm above), so the SMTP reader normalises while it reads a
 * RCPT line, at no cost beyond the byte it handles anyway; the finish
 * (mxg_norm_finish()) only checks, and moves the domain left when a
 * +detail is cut. mxg_rcpt_normalize() is the same steps over a whole
 * string; the SMTP reader's word reader does the steps a word at a time
 * and ends in the same finish.
 */

MXG_RCPT_INLINE void mxg_norm_init(struct mxg_rcpt_norm *st,
				   const char delims[MXG_DELIM_MAX])
{
	__u32 i;

	__builtin_memset(st, 0, sizeof(*st));
	/* All MXG_DELIM_MAX bytes, masked after the NUL: a break would
	 * leave the verifier a path per delimiter count. */
	for (i = 0; i < MXG_DELIM_MAX; i++) {
		__u64 d = (__u8)delims[i], bit;

		st->ended |= d == 0;
		bit = (__u64)(!st->ended && d > 0x20 && d < 0x7f) << (d & 63);
		if (d < 64)
			st->dlo |= bit;
		else
			st->dhi |= bit;
	}
}

/* One more byte of the address (the brackets already taken off). */
MXG_RCPT_INLINE void mxg_norm_step(struct mxg_rcpt_norm *st,
				   char out[MXG_RCPT_BUF], __u8 c)
{
	__u64 word = c < 64 ? st->dlo : st->dhi;

	if (st->n >= MXG_RCPT_MAX) {
		st->toolong = 1;
		return;
	}
	if (c < 0x20 || c == 0x7f)
		st->bad = 1;
	if (c == '@')
		st->at = st->n + 1;
	if (!st->delim && c < 128 && ((word >> (c & 63)) & 1))
		st->delim = st->n + 1;
	out[st->n & MXG_RCPT_MASK] = c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c;
	st->n++;
}

/*
 * The eight bytes at from moved to to, from > to, in place. In BPF one
 * word: out then has MXG_RCPT_ROOM bytes, as for mxg_sip_load(). On the
 * host byte by byte inside MXG_RCPT_BUF; what would land past it is past
 * the address and left out.
 */
MXG_RCPT_INLINE void mxg_rcpt_move8(char *out, __u32 to, __u32 from)
{
	__u64 w = mxg_sip_load((const __u8 *)out, from);
#ifdef __bpf__
	swar_store(out + (to & MXG_RCPT_MASK), w);
#else
	__u32 k;

	for (k = 0; k < 8; k++)
		if (to + k < MXG_RCPT_BUF)
			out[to + k] = (char)(w >> (8 * k));
#endif
}

/*
 * The finishing step, the one both sides and both SMTP readers end in:
 * the normal form in out, returns its length and sets *at to the index of
 * its '@', or returns -enum mxg_rcpt_err. Bytes of out past the length are
 * not defined (the hash never reads them: mxg_siphash_at masks them off).
 * In BPF out has MXG_RCPT_ROOM bytes (mxg_rcpt_move8()).
 */
MXG_RCPT_INLINE int mxg_norm_finish(const struct mxg_rcpt_norm *st,
				    char *out, __u32 *at)
{
	__u64 n = st->n, pos_at, local, dom, k;

	if (st->toolong)
		return -MXG_RCPT_ETOOLONG;
	if (st->bad)
		return -MXG_RCPT_ECTRL;
	if (!st->at)
		return -MXG_RCPT_ENOAT;
	pos_at = st->at - 1;
	local = pos_at;
	/* The first delimiter overall is the first of the local part when
	 * it comes before the last '@'. */
	if (st->delim > 1 && (__u64)st->delim - 1 < pos_at && out[0] != '"')
		local = st->delim - 1;
	dom = n - pos_at - 1;
	if (dom && out[(n - 1) & MXG_RCPT_MASK] == '.')
		dom--;
	if (!local || !dom)
		return -MXG_RCPT_EEMPTY;
	if (local != pos_at) {
		/* Close the "+detail" gap: the '@' and the domain move left,
		 * a word at a time, forwards: the source is always ahead, so
		 * no byte is read after it was written. */
		for (k = 0; k < MXG_RCPT_BUF / 8; k++) {
			if (8 * k > dom)
				break;
			mxg_rcpt_move8(out, local + 8 * k, pos_at + 8 * k);
		}
	}
	*at = (__u32)local;
	return (int)(local + 1 + dom);
}

/*
 * mxg_rcpt_normalize: the normal form of in[0..inlen) in out, which is
 * MXG_RCPT_BUF bytes and zero past the result. Returns the length and
 * sets *at to the index of the '@' in out, or returns -enum mxg_rcpt_err.
 */
MXG_RCPT_INLINE int mxg_rcpt_normalize(const char *in, __u32 inlen,
				       char out[MXG_RCPT_BUF],
				       const char delims[MXG_DELIM_MAX],
				       __u32 *at)
{
	struct mxg_rcpt_norm st;
	__u32 start, n, i;
	int len;

	if (inlen > MXG_RCPT_MAX + 2)
		return -MXG_RCPT_ETOOLONG;
	if (inlen == 0)
		return -MXG_RCPT_ENOAT;
	start = inlen > 1 && in[0] == '<' && in[inlen - 1] == '>';
	n = inlen - 2 * start;
	if (n > MXG_RCPT_MAX)
		return -MXG_RCPT_ETOOLONG;
	__builtin_memset(out, 0, MXG_RCPT_BUF);
	mxg_norm_init(&st, delims);
	for (i = 0; i < MXG_RCPT_MAX; i++) {
		if (i >= n)
			break;
		mxg_norm_step(&st, out, (__u8)in[(start + i) & MXG_RCPT_MASK]);
	}
	len = mxg_norm_finish(&st, out, at);
	/* Zero past the result: a cut leaves domain bytes behind. */
	for (i = 0; len > 0 && i < MXG_RCPT_BUF; i++)
		if (i >= (__u32)len)
			out[i] = 0;
	return len;
}

/* The mirror's key of a normalised address (out, len from
 * mxg_rcpt_normalize). */
MXG_RCPT_INLINE __u64 mxg_rcpt_key(const struct mxg_hash_key *key,
				   const char out[MXG_RCPT_BUF], __u32 len)
{
	return mxg_siphash(key, (const __u8 *)out, len);
}

/*
 * The key of the domain alone (mxg_rcpt_domains), the bytes after the '@'
 * at index at. Hashed in place rather than copied to a zeroed buffer first:
 * the final block is masked to the domain's length anyway, and 256 bytes
 * of BPF stack is half of what the inspector has. Equal to mxg_siphash()
 * of the domain in a buffer of its own (the tests check it). at < len as
 * mxg_rcpt_normalize() returns them; otherwise the domain counts as empty.
 */
MXG_RCPT_INLINE __u64 mxg_domain_key(const struct mxg_hash_key *key,
				     const char out[MXG_RCPT_BUF], __u32 len,
				     __u32 at)
{
	__u64 dlen = ((__u64)len - at - 1) * mxg_rcpt_lt(at, len);

	return mxg_siphash_at(key, (const __u8 *)out, (at + 1) & MXG_RCPT_MASK,
			      (__u32)dlen);
}

/* ---- Readiness ------------------------------------------------------ */

/*
 * Whether the mirror may judge a recipient unknown: it has entries, it was
 * synced at least once, and not longer than max_age_ns ago. Anything else
 * fails open. now_ns below synced_ns is a clock read on one CPU racing the
 * daemon's update on another, not staleness.
 */
MXG_RCPT_INLINE int mxg_mirror_ready(const struct mxg_mirror *m,
				     __u64 now_ns)
{
	if (!m->entries || !m->synced_ns)
		return 0;
	if (now_ns < m->synced_ns)
		return 1;
	return now_ns - m->synced_ns <= m->max_age_ns;
}

#ifndef __bpf__
/* ---- Userspace only ------------------------------------------------- */

/* A short lower-case cause, for log lines and `rcpt check`. Takes the
 * negated return value or the enum itself. */
static inline const char *mxg_rcpt_strerror(int err)
{
	switch (err < 0 ? -err : err) {
	case MXG_RCPT_ETOOLONG:
		return "address longer than 254 bytes";
	case MXG_RCPT_ENOAT:
		return "no '@' in address";
	case MXG_RCPT_ECTRL:
		return "control byte in address";
	case MXG_RCPT_EEMPTY:
		return "empty local part or domain";
	case 0:
		return "success";
	default:
		return "unknown address error";
	}
}

/*
 * Strict UTF-8 (RFC 3629): no overlong forms, no surrogates, nothing above
 * U+10FFFF, no truncated sequence. The LDAP side refuses other values: the
 * BPF side treats bytes >= 0x80 as opaque, so an invalid address would only
 * ever hash to a key nobody sends, and skipping it is counted instead.
 * Returns 1 if valid.
 */
static inline int mxg_utf8_valid(const char *s, __u32 len)
{
	const unsigned char *p = (const unsigned char *)s;
	__u32 i = 0;

	while (i < len) {
		__u32 c = p[i], need, cp, min, k;

		if (c < 0x80) {
			i++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf) {	/* 0xc0, 0xc1: overlong */
			need = 1;
			cp = c & 0x1f;
			min = 0x80;
		} else if ((c & 0xf0) == 0xe0) {
			need = 2;
			cp = c & 0x0f;
			min = 0x800;
		} else if (c >= 0xf0 && c <= 0xf4) {
			need = 3;
			cp = c & 0x07;
			min = 0x10000;
		} else {
			return 0;
		}
		if (len - i - 1 < need)
			return 0;
		for (k = 1; k <= need; k++) {
			if ((p[i + k] & 0xc0) != 0x80)
				return 0;
			cp = cp << 6 | (p[i + k] & 0x3f);
		}
		if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return 0;
		i += need + 1;
	}
	return 1;
}
#endif /* !__bpf__ */

#endif /* MXG_RCPT_H */
