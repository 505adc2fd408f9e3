/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The admission core shared by the XDP and TC entry points: judge one frame
 * and say whether to drop it. Only a SYN without ACK to a guarded port is
 * judged; everything else leaves after the header walk and, for a SYN, one
 * inlined array lookup.
 *
 * A judged SYN goes through the checks in ARCHITECTURE.md's order: allow
 * list, deny list, penalty box, class and source connection caps (counted
 * by conns.bpf.h), per-source token bucket, or for a source not tracked
 * yet the class's bucket of new sources.
 * Every verdict is counted per class in a per-CPU array.
 */
#ifndef MXG_ADMISSION_H
#define MXG_ADMISSION_H

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include "mxguard.h"
#include "maps.bpf.h"
#include "parsing.h"
#include "bucket.h"
#include "refused.h"
#include "source.bpf.h"
#include "tuning.h"

/* Compare-and-swap attempts on one source's TAT. Each failure means another
 * CPU admitted a SYN from the same source in between, so the bucket is being
 * drained from several CPUs at once: after this many, drop. */
#define MXG_CAS_RETRIES 8

static __always_inline int ban_applies(const struct mxg_lpm_key *key,
				       __u32 class_idx, __u64 now)
{
	struct mxg_ban *ban = bpf_map_lookup_elem(&mxg_bans, key);

	if (!ban || !(ban->class_mask & (1U << class_idx)))
		return 0;
	/* Expired bans stay until the daemon sweeps them; they no longer
	 * apply from the moment they expire. */
	return !ban->expires_ns || ban->expires_ns > now;
}

/*
 * A new source's SYN that the new-source bucket refused. A spoofed flood
 * sends each SYN once; a real TCP sends the same SYN again a second later.
 * So the refused SYN leaves its tag in mxg_refused (in its line's oldest
 * slot), and a SYN that finds its own tag there is a retransmission: it draws from a second bucket of
 * the class's new-source size, which the flood does not reach. A brand-new
 * sender then waits one retransmission, not for the flood to end. An
 * attacker who sends every SYN twice drains the second bucket too, and
 * new senders are back to waiting for a token, as without it: the second
 * chance is never worse than none, and at most doubles the new sources a
 * class admits.
 */
static __always_inline int take_resent_token(const struct mxg_syn *syn,
					     const struct mxg_class *cls,
					     struct mxg_new_source_bucket *b,
					     __u64 now)
{
	__u64 id = mxg_syn_identity(syn->saddr, syn->sport, syn->seq,
				    syn->dport);
	__u32 idx = mxg_refused_line_of(id), t = mxg_refused_time(now);
	__u64 tag = mxg_refused_tag(id), next;
	__u32 age, oldest_age = 0;
	struct mxg_refused_line *line;
	int i, oldest = 0;

	line = bpf_map_lookup_elem(&mxg_refused, &idx);
	if (!line)
		return 0;
	for (i = 0; i < MXG_REFUSED_WAYS; i++) {
		__u64 e = line->slot[i];

		if ((e & ~0xffffffffULL) == tag)
			break;
		age = e ? t - (__u32)e : ~0U;
		if (age >= oldest_age) {
			oldest_age = age;
			oldest = i;
		}
	}
	if (i == MXG_REFUSED_WAYS) {
		line->slot[oldest & (MXG_REFUSED_WAYS - 1)] = tag | t;
		return 0;
	}
	next = mxg_bucket_take(b->resent_tat_ns, now, cls->new_interval_ns,
			       cls->new_tolerance_ns);
	if (!next) {
		/* Refused again: the tag, fresh, waits for the next one. */
		line->slot[i & (MXG_REFUSED_WAYS - 1)] = tag | t;
		return 0;
	}
	b->resent_tat_ns = next;
	line->slot[i & (MXG_REFUSED_WAYS - 1)] = 0;
	count_verdict(MXG_STATS_GLOBAL, MXG_GLOBAL_NEW_RESENT);
	return 1;
}

/*
 * One token from this CPU's bucket of new sources for the class, or for a
 * SYN sent again, from its second bucket. A spoofed flood lands here with
 * every packet, so this is the whole cost of its drop besides the lookup
 * that missed: two array lookups (the bucket, per CPU, and the line of
 * the SYN's tag: one cache line), GCRA and one store, no atomic
 * (mxguard.h says why per CPU).
 */
static __always_inline int take_new_source_token(const struct mxg_syn *syn,
						 __u32 class_idx,
						 const struct mxg_class *cls,
						 __u64 now)
{
	struct mxg_new_source_bucket *b;
	__u64 next;

	if (!cls->new_interval_ns)
		return 1;
	b = bpf_map_lookup_elem(&mxg_new_sources, &class_idx);
	if (!b)
		return 1;
	next = mxg_bucket_take(b->tat_ns, now, cls->new_interval_ns,
			       cls->new_tolerance_ns);
	if (!next)
		return take_resent_token(syn, cls, b, now);
	b->tat_ns = next;
	return 1;
}

/*
 * Take one token from the source's bucket, creating the source if new and
 * the class's new-source bucket has a token. A source refused for that is
 * not inserted: a spoofed flood then neither pays for the insert nor
 * evicts the sources mxg_sources already knows, which keep their own
 * buckets whatever the flood does.
 */
static __always_inline enum mxg_verdict take_token(const struct mxg_syn *syn,
						   const struct mxg_source_key *key,
						   __u32 class_idx,
						   const struct mxg_class *cls,
						   const struct mxg_limits_now *lim,
						   __u64 now)
{
	struct mxg_source *src;
	__u64 tat, next;

	src = bpf_map_lookup_elem(&mxg_sources, key);
	if (!src) {
		/* burst >= 1, so a new source's first SYN always passes. */
		struct mxg_source fresh = {
			.tat_ns = now + lim->interval_ns,
			.syns = 1,
		};

		if (!take_new_source_token(syn, class_idx, cls, now))
			return MXG_DROP_NEW_SOURCE;
		if (!bpf_map_update_elem(&mxg_sources, key, &fresh,
					 BPF_NOEXIST)) {
			/* Counted only here: the metrics' tracked sources
			 * without walking an LRU of millions. */
			count_verdict(MXG_STATS_GLOBAL, MXG_GLOBAL_SOURCES_CREATED);
			return MXG_PASS;
		}
		/* Another CPU created it first: judge against its entry
		 * (the new-source token is spent all the same). */
		src = bpf_map_lookup_elem(&mxg_sources, key);
		if (!src)
			return MXG_PASS;
	}

	/* Only `mxguardctl top` reads these two: an increment lost to a
	 * race costs nothing, a locked add on every SYN costs ~5 ns. The
	 * bucket itself is exact. */
	src->syns++;
	/* Tracked only for the new-source limit: no rate of its own. */
	if (!lim->interval_ns)
		return MXG_PASS;
	for (int i = 0; i < MXG_CAS_RETRIES; i++) {
		tat = *(volatile __u64 *)&src->tat_ns;
		next = mxg_bucket_take(tat, now, lim->interval_ns,
				       lim->tolerance_ns);
		if (!next)
			break;
		if (__sync_val_compare_and_swap(&src->tat_ns, tat, next) == tat)
			return MXG_PASS;
	}
	src->drops++;
	return MXG_DROP_RATE;
}

static __always_inline enum mxg_verdict admit_syn(const struct mxg_syn *syn,
						  __u32 class_idx,
						  const struct mxg_class *cls)
{
	struct mxg_lpm_key key = { .prefixlen = MXG_ADDR_LEN * 8 };
	struct mxg_source_key src;
	struct mxg_limits_now lim;
	__u64 now;

	__builtin_memcpy(key.addr, syn->saddr, MXG_ADDR_LEN);
	if (bpf_map_lookup_elem(&mxg_allow, &key))
		return MXG_PASS_ALLOW;
	if (bpf_map_lookup_elem(&mxg_deny, &key))
		return MXG_DROP_DENY;

	/* The coarse clock (one tick, 1-4 ms) is ~13 ns cheaper per SYN than
	 * bpf_ktime_get_ns() and fine for per-source rates up to a few
	 * hundred per second; it is CLOCK_MONOTONIC_COARSE, so userspace's
	 * CLOCK_MONOTONIC stamps compare with it to within a tick. */
	now = bpf_ktime_get_coarse_ns();
	if (ban_applies(&key, class_idx, now))
		return MXG_DROP_PENALTY;

	/* Aggregate by prefix: a /64 of IPv6 addresses is one source. */
	source_key(&src, syn->saddr, syn->is_v4, class_idx, cls);
	/* The configured limits, as the tuner scales them now. */
	mxg_limits_effective(cls, bpf_map_lookup_elem(&mxg_tuning, &class_idx),
			     &lim);
	if (lim.total_conns || lim.source_conns) {
		struct mxg_class_conns *total =
			bpf_map_lookup_elem(&mxg_class_conns, &class_idx);
		__u64 open = total ? total->conns : 0;
		struct mxg_conn *c;

		if (lim.total_conns && open >= lim.total_conns)
			return MXG_DROP_TOTAL_CONNS;
		/* No source holds more than its whole class: while the class
		 * is below source_conns, the hash lookup can be skipped. */
		if (lim.source_conns && open >= lim.source_conns) {
			c = bpf_map_lookup_elem(&mxg_conns, &src);
			if (c && c->conns >= lim.source_conns)
				return MXG_DROP_SOURCE_CONNS;
		}
	}

	/* Sources are tracked for either limit: the per-source rate, or
	 * the new-source limit, which needs to know who is new. */
	if (!lim.interval_ns && !cls->new_interval_ns)
		return MXG_PASS;
	return take_token(syn, &src, class_idx, cls, &lim, now);
}

/*
 * A frame whose transport the parser cannot reach: it may be a SYN to a
 * guarded port, so what can be judged without the port is: the allow and
 * deny lists and the penalty box (a ban of any class). Returns non-zero
 * to drop.
 */
static __always_inline int judge_unseen(const struct mxg_syn *syn)
{
	struct mxg_lpm_key key = { .prefixlen = MXG_ADDR_LEN * 8 };
	struct mxg_ban *ban;
	__u64 now;

	if (!syn->has_saddr)
		return 0;
	__builtin_memcpy(key.addr, syn->saddr, MXG_ADDR_LEN);
	if (bpf_map_lookup_elem(&mxg_allow, &key))
		return 0;
	if (bpf_map_lookup_elem(&mxg_deny, &key))
		return 1;
	ban = bpf_map_lookup_elem(&mxg_bans, &key);
	if (!ban || !ban->class_mask)
		return 0;
	now = bpf_ktime_get_coarse_ns();
	return !ban->expires_ns || ban->expires_ns > now;
}

/* What is not a judged SYN: counted, and dropped when bogus, or unseen
 * from a denied or banned source. Returns non-zero to drop. */
static __always_inline int judge_other(enum mxg_frame frame,
				       const struct mxg_syn *syn)
{
	switch (frame) {
	case MXG_FRAME_MALFORMED:
		count_verdict(MXG_STATS_GLOBAL, MXG_GLOBAL_MALFORMED);
		return 0;
	case MXG_FRAME_FRAGMENT:
		count_verdict(MXG_STATS_GLOBAL, MXG_GLOBAL_FRAGMENT);
		return 0;
	case MXG_FRAME_BOGUS:
		count_verdict(MXG_STATS_GLOBAL, MXG_GLOBAL_BOGUS);
		return 1;
	case MXG_FRAME_UNSEEN:
		if (judge_unseen(syn)) {
			count_verdict(MXG_STATS_GLOBAL, MXG_GLOBAL_UNSEEN_DROPPED);
			return 1;
		}
		count_verdict(MXG_STATS_GLOBAL, MXG_GLOBAL_MALFORMED);
		return 0;
	default:
		return 0;
	}
}

/* Returns non-zero to drop the frame; frame_len is the frame's whole
 * length (XDP: the linear data; tc: skb->len). */
static __always_inline int judge_frame(void *data, void *data_end,
				       __u32 frame_len)
{
	const struct mxg_class *cls;
	enum mxg_verdict verdict;
	enum mxg_frame frame;
	struct mxg_syn syn;
	__u32 class_idx;

	frame = parse_frame(data, data_end, frame_len, &syn);
	if (frame != MXG_FRAME_SYN)
		return judge_other(frame, &syn);

	cls = port_class(syn.dport, &class_idx);
	if (!cls)
		return 0;

	verdict = admit_syn(&syn, class_idx, cls);
	count_verdict(class_idx, verdict);
	return verdict >= MXG_DROP_DENY;
}

#endif /* MXG_ADMISSION_H */
