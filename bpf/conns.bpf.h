/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Concurrent connections per (class, source) and per class, for the
 * source_conns and total_conns caps that admission enforces at SYN time.
 *
 * A connection is counted once, when a passive connection on a guarded
 * port is established (sock_ops), or, for connections that existed before
 * mxguard was loaded, by the iter/tcp pass the loader runs at every start.
 * Either way the socket gets a mark in socket local storage holding the key
 * it was counted under; whoever finds no mark, or a mark already counted,
 * does nothing, so a socket is never counted twice.
 *
 * It is uncounted when the socket reaches TCP_CLOSE, which every way of
 * closing goes through (FIN, RST, timeouts, its process killed), seen by
 * the inet_sock_set_state tracepoint: unlike sock_ops' state callback that
 * needs no per-socket flag, which the sockets found by the iterator could
 * not be given on kernels before 6.10. The mark is cleared at the same
 * time, so a socket is uncounted exactly once.
 */
#ifndef MXG_CONNS_BPF_H
#define MXG_CONNS_BPF_H

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include "mxguard.h"
#include "maps.bpf.h"
#include "parsing.h"
#include "source.bpf.h"

#define MXG_DEC_RETRIES 8

/* Decrement without ever wrapping below zero: a count that wrapped would
 * lock its source out. */
static __always_inline void dec_u32(__u32 *v)
{
	for (int i = 0; i < MXG_DEC_RETRIES; i++) {
		__u32 old = *(volatile __u32 *)v;

		if (!old || __sync_val_compare_and_swap(v, old, old - 1) == old)
			return;
	}
}

static __always_inline void dec_u64(__u64 *v)
{
	for (int i = 0; i < MXG_DEC_RETRIES; i++) {
		__u64 old = *(volatile __u64 *)v;

		if (!old || __sync_val_compare_and_swap(v, old, old - 1) == old)
			return;
	}
}

/* Count one connection of a marked socket that is not counted yet. */
static __always_inline void conn_count(struct mxg_conn_mark *mark,
				       const struct mxg_source_key *key)
{
	struct mxg_class_conns *total;
	__u32 class_idx = key->class_idx;
	struct mxg_conn *c;

	c = bpf_map_lookup_elem(&mxg_conns, key);
	if (!c) {
		struct mxg_conn fresh = {};

		/* EEXIST from a race with another CPU is fine: look again. */
		bpf_map_update_elem(&mxg_conns, key, &fresh, BPF_NOEXIST);
		c = bpf_map_lookup_elem(&mxg_conns, key);
		if (!c) {
			count_verdict(MXG_STATS_GLOBAL, MXG_GLOBAL_CONNS_UNTRACKED);
			return;
		}
	}
	__sync_fetch_and_add(&c->conns, 1);
	c->last_ns = bpf_ktime_get_ns();
	total = bpf_map_lookup_elem(&mxg_class_conns, &class_idx);
	if (total)
		__sync_fetch_and_add(&total->conns, 1);
	mark->key = *key;
	mark->counted = 1;
}

static __always_inline void conn_uncount(struct mxg_conn_mark *mark)
{
	__u32 class_idx = mark->key.class_idx;
	struct mxg_class_conns *total;
	struct mxg_conn *c;

	mark->counted = 0;
	c = bpf_map_lookup_elem(&mxg_conns, &mark->key);
	if (c) {
		dec_u32(&c->conns);
		c->last_ns = bpf_ktime_get_ns();
	}
	total = bpf_map_lookup_elem(&mxg_class_conns, &class_idx);
	if (total)
		dec_u64(&total->conns);
}

static __always_inline int netns_counted(__u64 cookie)
{
	__u32 zero = 0;
	struct mxg_settings *s = bpf_map_lookup_elem(&mxg_settings, &zero);

	return !s || !s->netns_cookie || s->netns_cookie == cookie;
}

/* Count a socket by its local port and remote address. */
static __always_inline void conn_seen(void *sk, __u16 family, __u32 lport,
				      const __u32 raddr6[4], __u32 raddr4)
{
	struct mxg_source_key key;
	const struct mxg_class *cls;
	struct mxg_conn_mark *mark;
	__u8 addr[MXG_ADDR_LEN];
	__u32 class_idx;
	int is_v4;

	cls = port_class(lport, &class_idx);
	if (!cls)
		return;
	if (family != MXG_AF_INET && family != MXG_AF_INET6)
		return;
	sock_addr(addr, family, raddr6, raddr4);
	/* An IPv4 client of a dual-stack listener (AF_INET6, mapped): its
	 * SYN was judged as IPv4, so it is counted as IPv4 too. */
	is_v4 = addr_is_v4_mapped(addr);
	source_key(&key, addr, is_v4, class_idx, cls);
	mark = bpf_sk_storage_get(&mxg_conn_marks, sk, 0,
				  BPF_SK_STORAGE_GET_F_CREATE);
	if (!mark) {
		count_verdict(MXG_STATS_GLOBAL, MXG_GLOBAL_CONNS_UNTRACKED);
		return;
	}
	if (!mark->counted)
		conn_count(mark, &key);
}

#endif /* MXG_CONNS_BPF_H */
