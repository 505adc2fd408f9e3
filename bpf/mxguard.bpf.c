// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * mxguard's admission programs: the same core (admission.h) behind an XDP
 * and a TC entry point, so that a host whose driver has no native XDP can
 * still drop over-limit SYNs before the socket layer.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include "admission.h"

#define TC_ACT_OK 0
#define TC_ACT_SHOT 2

SEC("xdp")
int mxg_xdp(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;

	return judge_frame(data, data_end) ? XDP_DROP : XDP_PASS;
}

SEC("tc")
int mxg_tc(struct __sk_buff *skb)
{
	void *data = (void *)(long)skb->data;
	void *data_end = (void *)(long)skb->data_end;

	return judge_frame(data, data_end) ? TC_ACT_SHOT : TC_ACT_OK;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
