// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * mxguard's programs. Admission: the same core (admission.h) behind an XDP
 * and a TC entry point, so that a host whose driver has no native XDP can
 * still drop over-limit SYNs before the socket layer. Connection counting
 * (conns.bpf.h): sock_ops on the cgroup v2 root, the close tracepoint, and
 * the iterator that counts connections older than mxguard.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include "admission.h"
#include "conns.bpf.h"
#include "smtp.bpf.h"

#define TC_ACT_UNSPEC (-1)
#define TC_ACT_OK 0
#define TC_ACT_SHOT 2

SEC("xdp")
int mxg_xdp(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;

	return judge_frame(data, data_end, data_end - data) ? XDP_DROP : XDP_PASS;
}

/* On tc the headers may not be in the linear data yet (drivers that
 * build an skb from page fragments leave everything after Ethernet
 * there): up to this much is pulled in, when it is not already, so the
 * parser sees the headers of what the frame's length says is there. */
#define MXG_TC_PULL 256

static __always_inline void pull_headers(struct __sk_buff *skb)
{
	__u32 want = skb->len < MXG_TC_PULL ? skb->len : MXG_TC_PULL;
	void *data, *data_end;

	/* Loaded in asm: the caller loads both fields again after the pull,
	 * and clang would share one context pointer plus offset between
	 * the loads, which the verifier refuses ("modified ctx ptr"). */
	asm volatile("%0 = *(u32 *)(%1 + %2)" : "=r"(data)
		     : "r"(skb), "i"(offsetof(struct __sk_buff, data)));
	asm volatile("%0 = *(u32 *)(%1 + %2)" : "=r"(data_end)
		     : "r"(skb), "i"(offsetof(struct __sk_buff, data_end)));
	if (data + want > data_end)
		bpf_skb_pull_data(skb, want);
}

SEC("tc")
int mxg_tc(struct __sk_buff *skb)
{
	void *data, *data_end;

	pull_headers(skb);
	data = (void *)(long)skb->data;
	data_end = (void *)(long)skb->data_end;
	/* Not TC_ACT_OK: in direct-action mode that ends the filter chain,
	 * and the SMTP reader, the next filter, would never see a packet.
	 * TC_ACT_UNSPEC lets the chain go on and, at its end, the packet
	 * through. */
	return judge_frame(data, data_end, skb->len) ? TC_ACT_SHOT : TC_ACT_UNSPEC;
}

/* SMTP inspection, on TC ingress whatever admission is attached with:
 * it needs the payload, which may be in paged skb data. */
SEC("tc")
int mxg_smtp(struct __sk_buff *skb)
{
	pull_headers(skb);
	return inspect_segment(skb) ? TC_ACT_SHOT : TC_ACT_OK;
}

SEC("sockops")
int mxg_sockops(struct bpf_sock_ops *skops)
{
	struct bpf_sock *sk = skops->sk;
	__u32 raddr6[4];

	if (skops->op != BPF_SOCK_OPS_PASSIVE_ESTABLISHED_CB || !sk)
		return 1;
	if (!netns_counted(bpf_get_netns_cookie(skops)))
		return 1;
	raddr6[0] = skops->remote_ip6[0];
	raddr6[1] = skops->remote_ip6[1];
	raddr6[2] = skops->remote_ip6[2];
	raddr6[3] = skops->remote_ip6[3];
	conn_seen(sk, skops->family, skops->local_port, raddr6,
		  skops->remote_ip4);
	smtp_flow_begin(skops);
	return 1;
}

SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(mxg_conn_close, const struct sock *sk, const int oldstate,
	     const int newstate)
{
	struct mxg_conn_mark *mark;

	if (newstate != BPF_TCP_CLOSE || sk->sk_protocol != IPPROTO_TCP)
		return 0;
	mark = bpf_sk_storage_get(&mxg_conn_marks, (struct sock *)sk, 0, 0);
	if (!mark || !mark->counted)
		return 0;
	conn_uncount(mark);
	smtp_flow_end(sk);
	bpf_sk_storage_delete(&mxg_conn_marks, (struct sock *)sk);
	return 0;
}

/* Run by the loader at every start, in the daemon's network namespace:
 * sockets already marked are skipped, so a restart counts nothing twice. */
SEC("iter/tcp")
int mxg_conn_seed(struct bpf_iter__tcp *ctx)
{
	struct sock_common *skc = ctx->sk_common;
	struct tcp_sock *tp;
	__u32 raddr6[4];
	int state;

	if (!skc)
		return 0;
	/* Full sockets only: request and time-wait sockets hold no fd. */
	tp = bpf_skc_to_tcp_sock(skc);
	if (!tp)
		return 0;
	state = skc->skc_state;
	if (state == BPF_TCP_LISTEN || state == BPF_TCP_SYN_SENT ||
	    state == BPF_TCP_SYN_RECV || state == BPF_TCP_CLOSE)
		return 0;
	__builtin_memcpy(raddr6, &skc->skc_v6_daddr, sizeof(raddr6));
	/* A passive connection has the guarded port as its local port. */
	conn_seen(tp, skc->skc_family, skc->skc_num, raddr6, skc->skc_daddr);
	return 0;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
