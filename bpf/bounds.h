/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Bounds that are true of a value but that the verifiers of the kernels
 * mail hosts run cannot derive on their own. Each helper states the fact
 * in an instruction the verifier follows, never by clamping a value: what
 * comes out is what went in, only with a range attached.
 *
 * Every one is needed by a kernel that `make test-kernels` boots (Debian
 * 12's 6.1, its 6.12); this machine's newer verifier would do without.
 */
#ifndef MXG_BOUNDS_H
#define MXG_BOUNDS_H

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

/*
 * A 16-bit field of a header, in host order. 6.1 and 6.12 track no range
 * through a byte swap (BPF_END): the result of bpf_ntohs() is to them any
 * 64-bit value, and a packet pointer plus it is refused. A 16-bit swap is
 * at most 0xffff; the AND says so. clang knows it too and would drop a C
 * AND as redundant, hence the asm.
 */
static __always_inline __u32 mxg_ntohs(__be16 v)
{
	__u32 h = bpf_ntohs(v);

	asm volatile("%0 &= 0xffff" : "+r"(h));
	return h;
}

/*
 * A helper's length argument from a length known to be 1..max: n - 1,
 * or max or more when n is 0 or above max. The caller tests the result
 * against max and passes it + 1. 6.1 learns nothing from `n == 0` (it
 * needs a minimum of 1 for a helper's size, "invalid zero-sized read"),
 * but does from an unsigned `n - 1 < max`. The barrier keeps clang from
 * folding (n - 1) + 1 back into the n the verifier has no floor for.
 */
static __always_inline __u32 mxg_len_less1(__u32 n)
{
	__u32 m = n - 1;

	barrier_var(m);
	return m;
}

#endif /* MXG_BOUNDS_H */
