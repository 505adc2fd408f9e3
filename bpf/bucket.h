/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The per-source token bucket, as GCRA (the generic cell rate algorithm):
 * the whole state is one theoretical arrival time (TAT), so several CPUs
 * judging the same source agree through a single compare-and-swap instead
 * of a lock. Pure arithmetic, compiled into both the BPF programs and the
 * unit tests.
 *
 * A source may send when TAT - now <= tolerance, where tolerance is
 * interval * (burst - 1); each admitted SYN moves TAT one interval on from
 * max(TAT, now). An idle source's TAT falls behind now, which is the refill.
 */
#ifndef MXG_BUCKET_H
#define MXG_BUCKET_H

#include "mxguard.h"

/* Returns the TAT to store if one more SYN is admitted at now_ns, or 0 if
 * the bucket is empty (0 is never a valid TAT: it is at least now_ns +
 * interval_ns, and interval_ns > 0 here). */
static inline __u64 mxg_bucket_take(__u64 tat_ns, __u64 now_ns,
				    __u64 interval_ns, __u64 tolerance_ns)
{
	if (tat_ns < now_ns)
		tat_ns = now_ns;
	if (tat_ns - now_ns > tolerance_ns)
		return 0;
	return tat_ns + interval_ns;
}

#endif /* MXG_BUCKET_H */
