/* SPDX-License-Identifier: BSD-2-Clause */
/* Class limits between the config and the BPF records; see class_limits.h. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include "class_limits.h"

void mxg_class_to_bpf(const struct mxg_class_config *c, unsigned ncpus,
		      struct mxg_class *out)
{
	unsigned bit, v4bits;

	memset(out, 0, sizeof(*out));
	memcpy(out->name, c->name, sizeof(out->name));
	out->name[sizeof(out->name) - 1] = '\0';
	out->rate_milli = c->rate_milli;
	out->burst = c->burst;
	/* GCRA: one connection per interval, burst - 1 intervals of credit. */
	if (c->rate_milli) {
		out->interval_ns = 1000000000000ULL / c->rate_milli;
		out->tolerance_ns = out->interval_ns *
				    (c->burst ? c->burst - 1 : 0);
	}
	/* Each CPU's bucket gets rate / ncpus and ceil(burst / ncpus): the
	 * host as a whole admits the configured rate and at least the
	 * configured burst, when new sources spread over the CPUs as RSS
	 * spreads connections. */
	out->new_sources_milli = c->new_sources_milli;
	out->new_sources_burst = c->new_sources_burst;
	if (c->new_sources_milli) {
		uint64_t cpus = ncpus ? ncpus : 1;
		uint64_t burst = c->new_sources_burst ? c->new_sources_burst : 1;
		uint64_t burst_cpu = (burst + cpus - 1) / cpus;

		out->new_interval_ns = 1000000000000ULL * cpus /
				       c->new_sources_milli;
		out->new_tolerance_ns = out->new_interval_ns * (burst_cpu - 1);
	}
	out->source_conns = c->source_conns;
	out->total_conns = c->total_conns;
	out->ipv4_prefix = c->ipv4_prefix;
	out->ipv6_prefix = c->ipv6_prefix;

	v4bits = MXG_V4_MAPPED_BITS + (c->ipv4_prefix > 32 ? 32 :
				       c->ipv4_prefix);
	for (bit = 0; bit < MXG_ADDR_LEN * 8; bit++) {
		uint8_t b = 0x80 >> (bit % 8);

		if (bit < c->ipv6_prefix)
			out->mask[bit / 8] |= b;
		if (bit < v4bits)
			out->mask4[bit / 8] |= b;
	}
}

void mxg_class_from_bpf(const struct mxg_class *cls,
			struct mxg_class_config *out)
{
	memset(out, 0, sizeof(*out));
	memcpy(out->name, cls->name, sizeof(out->name));
	out->name[sizeof(out->name) - 1] = '\0';
	out->rate_milli = cls->rate_milli;
	out->burst = cls->burst;
	out->source_conns = cls->source_conns;
	out->total_conns = cls->total_conns;
	out->ipv4_prefix = cls->ipv4_prefix;
	out->ipv6_prefix = cls->ipv6_prefix;
	out->new_sources_milli = cls->new_sources_milli;
	out->new_sources_burst = cls->new_sources_burst;
}

/* Slot of each configured class: the slot it already has, else a free one. */
static int assign_slots(const struct mxg_class cur[MXG_MAX_CLASSES],
			const struct mxg_config *cfg,
			int slot_of[MXG_MAX_CLASSES], char *err, size_t errlen)
{
	bool taken[MXG_MAX_CLASSES] = { false };

	for (unsigned c = 0; c < cfg->nclasses; c++) {
		slot_of[c] = -1;
		for (int s = 0; s < MXG_MAX_CLASSES; s++) {
			if (!strncmp(cur[s].name, cfg->classes[c].name,
				     MXG_CLASS_NAME_LEN) && cur[s].name[0]) {
				slot_of[c] = s;
				taken[s] = true;
				break;
			}
		}
	}
	for (unsigned c = 0; c < cfg->nclasses; c++) {
		if (slot_of[c] >= 0)
			continue;
		/* Prefer a slot that no class in the map uses either, so a
		 * removed class's slot is not reused in the same reload. */
		for (int pass = 0; pass < 2 && slot_of[c] < 0; pass++) {
			for (int s = 0; s < MXG_MAX_CLASSES; s++) {
				if (taken[s] || (pass == 0 && cur[s].name[0]))
					continue;
				slot_of[c] = s;
				taken[s] = true;
				break;
			}
		}
		if (slot_of[c] < 0) {
			snprintf(err, errlen, "no free class slot for '%s'",
				 cfg->classes[c].name);
			return -ENOSPC;
		}
	}
	return 0;
}

/* The SMTP inspector reads the ports of the class named "smtp"; 465 is
 * SMTP over implicit TLS (RFC 8314), counted but unreadable. */
#define MXG_SMTP_CLASS "smtp"
#define MXG_SMTPS_PORT 465

static uint8_t port_inspect(const struct mxg_class_config *c, uint16_t port)
{
	if (strcmp(c->name, MXG_SMTP_CLASS))
		return MXG_INSPECT_NONE;
	return port == MXG_SMTPS_PORT ? MXG_INSPECT_TLS : MXG_INSPECT_PLAIN;
}

int mxg_limits_plan(const struct mxg_class cur[MXG_MAX_CLASSES],
		    const struct mxg_config *cfg, unsigned ncpus,
		    struct mxg_limits *out, char *err, size_t errlen)
{
	int slot_of[MXG_MAX_CLASSES];
	int ret;

	ret = assign_slots(cur, cfg, slot_of, err, errlen);
	if (ret)
		return ret;
	memset(out, 0, sizeof(*out));
	for (unsigned c = 0; c < cfg->nclasses; c++) {
		const struct mxg_class_config *cc = &cfg->classes[c];
		uint32_t s = slot_of[c];

		mxg_class_to_bpf(cc, ncpus, &out->classes[s]);
		for (unsigned p = 0; p < cc->nports; p++) {
			struct mxg_port *port = &out->ports[cc->ports[p]];

			port->guarded = 1;
			port->class_idx = s;
			port->inspect = port_inspect(cc, cc->ports[p]);
		}
	}
	return 0;
}
