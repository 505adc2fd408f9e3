/* SPDX-License-Identifier: BSD-2-Clause */
/* What the running kernel offers mxguard; see probe.h. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>
#include <linux/bpf.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "mxguard.skel.h"
#include "probe.h"

/* The programs that are not admission's, by the feature they serve. */
static const struct {
	const char *prog;
	unsigned feature;
} prog_features[] = {
	{ "mxg_smtp", MXG_FEAT_INSPECT },
	/* The SMTP reader follows only the flows these two begin and end. */
	{ "mxg_sockops", MXG_FEAT_COUNTER | MXG_FEAT_INSPECT },
	{ "mxg_conn_close", MXG_FEAT_COUNTER | MXG_FEAT_INSPECT },
	{ "mxg_conn_seed", MXG_FEAT_COUNTER },
};

const char *mxg_feature_name(unsigned feature)
{
	if ((feature & MXG_FEAT_ALL) == MXG_FEAT_ALL)
		return "connection counting and SMTP inspection (source_conns and total_conns go unenforced; the reader follows only connections the counter saw established)";
	if (feature & MXG_FEAT_INSPECT)
		return "SMTP inspection";
	if (feature & MXG_FEAT_COUNTER)
		return "connection counting (source_conns and total_conns go unenforced)";
	return "admission (mxguard cannot run)";
}

const char *mxg_feature_id(unsigned feature)
{
	if (feature & MXG_FEAT_INSPECT)
		return "smtp_inspection";
	if (feature & MXG_FEAT_COUNTER)
		return "connection_counting";
	return "admission";
}

unsigned mxg_prog_feature(const char *prog_name)
{
	for (size_t i = 0; i < sizeof(prog_features) / sizeof(prog_features[0]); i++)
		if (!strcmp(prog_features[i].prog, prog_name))
			return prog_features[i].feature;
	return 0;
}

unsigned mxg_probe_kernel(char *why, size_t whylen)
{
	unsigned off = 0;

	why[0] = '\0';
	/* The close tracepoint (tp_btf) and the start-up pass (iter/tcp)
	 * are typed by the kernel's own BTF. */
	if (access("/sys/kernel/btf/vmlinux", R_OK)) {
		off |= MXG_FEAT_COUNTER | MXG_FEAT_INSPECT;
		snprintf(why, whylen, "the kernel has no BTF (/sys/kernel/btf/vmlinux)");
	}
	/* The SMTP reader walks a segment with bpf_loop (5.17). */
	if (libbpf_probe_bpf_helper(BPF_PROG_TYPE_SCHED_CLS, BPF_FUNC_loop,
				    NULL) != 1) {
		if (!off)
			snprintf(why, whylen, "the kernel has no bpf_loop helper (5.17 and later have it)");
		off |= MXG_FEAT_INSPECT;
	}
	return off;
}

void mxg_features_disable(struct mxguard *skel, unsigned off)
{
	struct bpf_program *prog;

	bpf_object__for_each_program(prog, skel->obj)
		if (mxg_prog_feature(bpf_program__name(prog)) & off)
			bpf_program__set_autoload(prog, false);
}

/* The line of a verifier log that says why: the last one before the
 * closing statistics ("processed N insns ..."). */
static void log_reason(const char *log, char *out, size_t len)
{
	const char *end = log + strlen(log), *p, *line;
	size_t n;

	out[0] = '\0';
	while (end > log) {
		while (end > log && (end[-1] == '\n' || end[-1] == ' '))
			end--;
		line = end;
		while (line > log && line[-1] != '\n')
			line--;
		if (end > line && strncmp(line, "processed ", 10) &&
		    strncmp(line, "verification time", 17)) {
			n = (size_t)(end - line) < len - 1 ? (size_t)(end - line) : len - 1;
			memcpy(out, line, n);
			out[n] = '\0';
			for (p = out; *p; p++)
				if (*p == '\t')
					out[p - out] = ' ';
			return;
		}
		end = line;
	}
}

/* The verifier's log of a failed load: on 6.1 a full buffer is an
 * error of its own (ENOSPC) and keeps the head, not the reason at the
 * tail, so it is large; only the failing path is in it at level 1. */
#define PROBE_LOG_SIZE (16u << 20)

static int probe_one(const char *name, struct mxg_prog_probe *p, char *log)
{
	struct bpf_prog_info info = {};
	__u32 info_len = sizeof(info);
	struct bpf_program *prog, *it;
	struct mxguard *skel;
	int ret;

	memset(p, 0, sizeof(*p));
	snprintf(p->name, sizeof(p->name), "%s", name);
	skel = mxguard__open();
	if (!skel) {
		p->ret = -errno;
		snprintf(p->reason, sizeof(p->reason), "cannot open the BPF object");
		return p->ret;
	}
	/* Small maps: the probe measures the programs, not memory. */
	bpf_map__set_max_entries(skel->maps.mxg_sources, 1024);
	prog = NULL;
	bpf_object__for_each_program(it, skel->obj) {
		bool self = !strcmp(bpf_program__name(it), name);

		bpf_program__set_autoload(it, self);
		if (self)
			prog = it;
	}
	log[0] = '\0';
	bpf_program__set_log_buf(prog, log, PROBE_LOG_SIZE);
	ret = mxguard__load(skel);
	if (ret) {
		p->ret = ret;
		log_reason(log, p->reason, sizeof(p->reason));
		if (!p->reason[0])
			snprintf(p->reason, sizeof(p->reason), "%s", strerror(-ret));
	} else if (!bpf_obj_get_info_by_fd(bpf_program__fd(prog), &info,
					   &info_len)) {
		p->insns = info.verified_insns;
	}
	mxguard__destroy(skel);
	return p->ret;
}

int mxg_probe_programs(struct mxg_prog_probe *out, int max)
{
	struct bpf_program *prog;
	struct mxguard *skel;
	char *log;
	int n = 0;

	skel = mxguard__open();
	log = malloc(PROBE_LOG_SIZE);
	if (!skel || !log) {
		mxguard__destroy(skel);
		free(log);
		return -ENOMEM;
	}
	bpf_object__for_each_program(prog, skel->obj) {
		if (n == max)
			break;
		probe_one(bpf_program__name(prog), &out[n++], log);
	}
	mxguard__destroy(skel);
	free(log);
	return n;
}

int mxg_probe_print(void)
{
	struct mxg_prog_probe probes[MXG_MAX_PROGS];
	struct utsname u;
	char why[256];
	unsigned off;
	int n, bad = 0;

	if (!uname(&u))
		printf("kernel %s\n", u.release);
	off = mxg_probe_kernel(why, sizeof(why));
	if (off)
		printf("feature: %s; turns off %s\n", why, mxg_feature_name(off));
	n = mxg_probe_programs(probes, MXG_MAX_PROGS);
	if (n < 0) {
		printf("cannot probe the programs: %s\n", strerror(-n));
		return n;
	}
	for (int i = 0; i < n; i++) {
		const struct mxg_prog_probe *p = &probes[i];

		if (!p->ret) {
			printf("program %s: loaded, %u instructions verified (limit %u)\n",
			       p->name, p->insns, MXG_VERIFIER_LIMIT);
			continue;
		}
		printf("program %s: rejected (%s): %s; turns off %s\n", p->name,
		       strerror(-p->ret), p->reason,
		       mxg_feature_name(mxg_prog_feature(p->name)));
		bad++;
	}
	fflush(stdout);
	return bad ? -EINVAL : 0;
}
