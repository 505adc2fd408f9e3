/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The SMTP reader's judge: what a segment's recipients and senders count
 * for. Both readers hand it a recipient in normal form (judge_addr());
 * it tallies the segment in the scratch and, once the segment is read,
 * counts the tally into the per-CPU counters and the source's window,
 * puts a source over the threshold into the penalty box, and says
 * whether mode drop drops the segment (judge_segment()).
 *
 * Every recipient is judged only while the mirror is ready; anything the
 * reader does not understand is passed and counted, never penalised.
 */
#ifndef MXG_SMTP_JUDGE_H
#define MXG_SMTP_JUDGE_H

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include "mxguard.h"
#include "maps.bpf.h"
#include "rcpt.h"
#include "smtp_state.h"
#include "source.bpf.h"

static __always_inline void count_rcpt(__u32 what)
{
	__u32 zero = 0;
	struct mxg_rcpt_stats *st = bpf_map_lookup_elem(&mxg_rcpt_stats, &zero);

	if (st && what < MXG_RCPT_COUNTERS)
		st->count[what]++;
}

/* An event for mxguardd's log; lost, not waited for, when the ring is
 * full (the log aggregates anyway). */
static __always_inline void emit_event(__u32 type, __u64 now, __u32 unknown,
				       const __u8 addr[MXG_ADDR_LEN])
{
	struct mxg_event *ev = bpf_ringbuf_reserve(&mxg_events, sizeof(*ev), 0);

	if (!ev) {
		count_verdict(MXG_STATS_GLOBAL, MXG_GLOBAL_EVENTS_LOST);
		return;
	}
	ev->time_ns = now;
	ev->type = type;
	ev->unknown = unknown;
	__builtin_memcpy(ev->addr, addr, MXG_ADDR_LEN);
	bpf_ringbuf_submit(ev, 0);
}

/* The recipient delimiters as the word reader takes them: the first two
 * that mxg_norm_init() would take (0x21..0x7e, up to the first NUL), a
 * NUL for none (a NUL makes an address invalid anyway), and bytewise set
 * when there are more than two. */
static __always_inline void word_delims(struct mxg_judge *j)
{
	__u32 count = 0, ended = 0;

#pragma unroll
	for (int i = 0; i < MXG_DELIM_MAX; i++) {
		__u8 c = j->delims[i];

		ended |= c == 0;
		if (ended || c <= 0x20 || c >= 0x7f)
			continue;
		if (count == 0)
			j->delim1 = j->delim2 = c;
		else if (count == 1)
			j->delim2 = c;
		count++;
	}
	j->bytewise = count > 2;
}

/*
 * The judge for one segment of the source in s->sg: the inspection
 * settings, the mirror's record and hash key, the source's class. Returns
 * the class, NULL when there is nothing to judge with.
 */
static __always_inline const struct mxg_class *
judge_begin(struct mxg_smtp_scratch *s, const struct mxg_inspect *cfg)
{
	const struct mxg_mirror *mirror;
	const struct mxg_hash_key *hkey;
	const struct mxg_class *cls;
	struct mxg_judge *j = &s->j;
	__u32 zero = 0;

	mirror = bpf_map_lookup_elem(&mxg_mirror, &zero);
	hkey = bpf_map_lookup_elem(&mxg_hash_key, &zero);
	if (!mirror || !hkey)
		return NULL;
	__builtin_memset(j, 0, sizeof(*j));
	cls = port_class(s->sg.dport, &j->class_idx);
	if (!cls)
		return NULL;
	j->mode = cfg->mode;
	j->threshold = cfg->unknown_threshold;
	j->window_ns = cfg->window_ns;
	j->penalty_ns = cfg->penalty_ns;
	j->mirror = *mirror;
	j->key = *hkey;
	__builtin_memcpy(j->delims, mirror->recipient_delimiter, MXG_DELIM_MAX);
	word_delims(j);
	__builtin_memcpy(j->saddr, s->sg.key.saddr, MXG_ADDR_LEN);
	j->is_v4 = s->sg.is_v4;
	return cls;
}

/* The clock, read once per segment and only for one that names a
 * recipient or a sender: most segments of a session need no time. */
static __always_inline void clock_once(struct mxg_judge *r)
{
	if (r->now)
		return;
	r->now = bpf_ktime_get_coarse_ns();
	r->ready = mxg_mirror_ready(&r->mirror, r->now);
}

/*
 * One RCPT TO address in normal form, s->out[0..len) with its '@' at
 * index at: known, unknown or foreign, tallied in the scratch.
 *
 * The address is looked up first: a valid recipient, the common case,
 * costs one hash and one lookup. Only a miss pays for the domain, which
 * tells an unknown local recipient from a foreign one. An address the
 * mirror holds counts as known whatever its domain: it is deliverable.
 */
static __always_inline void judge_addr(struct mxg_smtp_scratch *s, __u32 len,
				       __u32 at)
{
	struct mxg_judge *r = &s->j;
	struct mxg_rcpt *found;
	__u32 zero = 0;
	__u64 h, d;
	void *inner;

	clock_once(r);
	if (!r->ready) {
		r->not_judged++;
		return;
	}
	/* A quoted local part or a source route (<"user"@dom>, <@r:u@dom>)
	 * is a known recipient to the MTA once unquoted or stripped, which
	 * the reader does not do: never judged, never a false unknown. */
	if (len == 0 || len > MXG_RCPT_MAX || at >= len ||
	    s->out[0] == '"' || s->out[0] == '@') {
		r->invalid++;
		return;
	}
	h = mxg_rcpt_key(&r->key, (const char *)s->out, len);
	inner = bpf_map_lookup_elem(&mxg_rcpt_slot, &zero);
	found = inner ? bpf_map_lookup_elem(inner, &h) : NULL;
	s->found = found ? *found : (struct mxg_rcpt){};
	if (s->found.refs) {
		r->known++;
		return;
	}
	d = mxg_domain_key(&r->key, (const char *)s->out, len, at);
	if (bpf_map_lookup_elem(&mxg_rcpt_domains, &d))
		r->unknown++;
	else
		r->foreign++;
}

/* The same for the byte reader, called once per address: a global
 * function, so its many paths do not carry a copy of the judge each. */
__noinline int mxg_judge_addr(__u32 len, __u32 at)
{
	struct mxg_smtp_scratch *s = smtp_scratch();

	if (s)
		judge_addr(s, len, at);
	return 0;
}

/* The segment's tally into the per-CPU counters, one lookup for all. */
static __always_inline void count_tally(const struct mxg_judge *r)
{
	__u32 zero = 0;
	struct mxg_rcpt_stats *st = bpf_map_lookup_elem(&mxg_rcpt_stats, &zero);

	if (!st)
		return;
	st->count[MXG_RCPT_KNOWN] += r->known;
	st->count[MXG_RCPT_UNKNOWN] += r->unknown;
	st->count[MXG_RCPT_FOREIGN] += r->foreign;
	st->count[MXG_RCPT_NULL_SENDER] += r->null_sender;
	st->count[MXG_RCPT_NOT_JUDGED] += r->not_judged;
	st->count[MXG_RCPT_INVALID] += r->invalid;
}

/*
 * The segment's tally into its source's counts for the window, once per
 * segment; past the threshold, the source goes into the penalty box. Only
 * sources that sent unknown recipients are tracked. Returns 1 when the
 * source is in the box (put there now, or still there from before), which
 * is when mode drop drops its segments of unknown recipients.
 */
static __always_inline int note_source(struct mxg_smtp_scratch *s,
				       const struct mxg_class *cls)
{
	struct mxg_judge *r = &s->j;
	struct mxg_rcpt_source *src;
	struct mxg_ban *old;

	if (!r->known && !r->unknown && !r->foreign && !r->null_sender)
		return 0;
	clock_once(r);
	source_key(&s->skey, r->saddr, r->is_v4, r->class_idx, cls);
	src = bpf_map_lookup_elem(&mxg_rcpt_sources, &s->skey);
	if (!src) {
		if (!r->unknown)
			return 0;
		__builtin_memset(&s->fresh, 0, sizeof(s->fresh));
		s->fresh.window_start_ns = r->now;
		bpf_map_update_elem(&mxg_rcpt_sources, &s->skey, &s->fresh,
				    BPF_NOEXIST);
		src = bpf_map_lookup_elem(&mxg_rcpt_sources, &s->skey);
		if (!src)
			return 0;
	}
	if (r->now - src->window_start_ns > r->window_ns) {
		src->window_start_ns = r->now;
		src->known = src->unknown = src->foreign = src->null_sender = 0;
	}
	src->known += r->known;
	src->foreign += r->foreign;
	src->null_sender += r->null_sender;
	src->unknown += r->unknown;
	src->unknown_total += r->unknown;
	if (!r->unknown || r->mode < MXG_INSPECT_PENALIZE)
		return 0;

	/* The box, at the class's prefix, for the SMTP class only. A ban
	 * already there is left alone unless it is an expired one of ours:
	 * an operator's ban is theirs. */
	__builtin_memset(&s->ban_key, 0, sizeof(s->ban_key));
	s->ban_key.prefixlen = r->is_v4 ?
		MXG_V4_MAPPED_BITS + cls->ipv4_prefix : cls->ipv6_prefix;
	__builtin_memcpy(s->ban_key.addr, s->skey.addr, MXG_ADDR_LEN);
	old = bpf_map_lookup_elem(&mxg_bans, &s->ban_key);
	if (old && (old->origin != MXG_ORIGIN_INSPECT ||
		    !old->expires_ns || old->expires_ns > r->now))
		return 1;
	if (src->unknown <= r->threshold)
		return 0;
	/* Past the threshold: into the box. */
	s->ban.origin = MXG_ORIGIN_INSPECT;
	s->ban.class_mask = 1U << r->class_idx;
	s->ban.created_ns = r->now;
	s->ban.expires_ns = r->now + r->penalty_ns;
	if (bpf_map_update_elem(&mxg_bans, &s->ban_key, &s->ban, BPF_ANY))
		return 0;
	src->penalties++;
	count_rcpt(MXG_RCPT_PENALIZED);
	emit_event(MXG_EVENT_PENALTY, r->now, src->unknown, s->skey.addr);
	/* The next penalty takes a threshold's worth of new evidence. */
	src->window_start_ns = r->now;
	src->unknown = 0;
	return 1;
}

/*
 * The segment read: its tally counted, unless it is the retransmission
 * of the segment dropped last (again), the same evidence, counted when it
 * first came and read again only for the same verdict; its source noted.
 * Returns 1 when mode drop drops it: a segment of unknown recipients
 * only, from a source in the penalty box, never reaches the MTA. A sender
 * below the threshold (a typo) gets the MTA's own 550.
 */
static __always_inline int judge_segment(struct mxg_smtp_scratch *s,
					 const struct mxg_class *cls, int again)
{
	struct mxg_judge *j = &s->j;
	int boxed;

	if (!again)
		count_tally(j);
	/* Only a boxed source's segments are ever dropped. */
	boxed = again || note_source(s, cls);
	return j->mode == MXG_INSPECT_DROP && boxed && j->unknown &&
	       !j->known && !j->foreign;
}

#endif /* MXG_SMTP_JUDGE_H */
