/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The limits in force for a class: its configured limits (mxg_classes)
 * times the tuner's scale, and its total_conns at most the tuner's cap
 * (mxg_tuning). Pure arithmetic, compiled into the BPF programs, which
 * judge by it, and into mxguardctl, which shows it: what `limit show`
 * prints as effective is what a SYN is judged by.
 *
 * A scale s < 1 scales the rate (the GCRA interval grows by 1/s), the
 * burst and both connection caps; a limit that is set never drops below
 * 1, and a limit that is not set (0) stays unset. The new-source limit is
 * not scaled: it is sized for the sources a spoofed flood invents, which
 * the protected servers never see.
 */
#ifndef MXG_TUNING_H
#define MXG_TUNING_H

#include "mxguard.h"

struct mxg_limits_now {
	__u64 interval_ns;	/* 0 = no rate limit */
	__u64 tolerance_ns;
	__u32 burst;
	__u32 source_conns;	/* 0 = no limit */
	__u32 total_conns;	/* 0 = no limit */
};

static inline __u32 mxg_scale_count(__u32 n, __u32 scale)
{
	__u64 v = (__u64)n * scale / MXG_SCALE_ONE;

	if (!n)
		return 0;
	return v ? (__u32)v : 1;
}

static inline void mxg_limits_effective(const struct mxg_class *cls,
					const struct mxg_tuning *t,
					struct mxg_limits_now *out)
{
	__u32 scale = t ? t->scale_permille : 0;
	__u32 cap = t ? t->total_conns_cap : 0;

	out->interval_ns = cls->interval_ns;
	out->tolerance_ns = cls->tolerance_ns;
	out->burst = cls->burst;
	out->source_conns = cls->source_conns;
	out->total_conns = cls->total_conns;
	if (scale && scale < MXG_SCALE_ONE) {
		out->burst = mxg_scale_count(cls->burst, scale);
		out->source_conns = mxg_scale_count(cls->source_conns, scale);
		out->total_conns = mxg_scale_count(cls->total_conns, scale);
		if (cls->interval_ns) {
			out->interval_ns = cls->interval_ns * MXG_SCALE_ONE / scale;
			out->tolerance_ns = out->interval_ns *
					    (out->burst ? out->burst - 1 : 0);
		}
	}
	if (cap && (!out->total_conns || cap < out->total_conns))
		out->total_conns = cap;
}

#endif /* MXG_TUNING_H */
