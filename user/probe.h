/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * What the running kernel offers mxguard. mxguard is loaded at boot on
 * whatever kernel the mail host runs (Debian 12's 6.1 is the floor); where
 * a kernel lacks something a part of mxguard needs, that part is turned
 * off and said so, by name, and the rest still guards the host.
 *
 * Two kinds of probe: cheap ones before the load (vmlinux BTF, the
 * bpf_loop helper), and, when a load fails anyway, each program loaded
 * alone, so that the verifier's own reason names the one it rejects.
 * `mxguardd --probe` runs both for every program and prints the verified
 * instruction counts (make test-kernels and make bench read them).
 */
#ifndef MXG_PROBE_H
#define MXG_PROBE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct mxguard;	/* the skeleton */

/* The parts that can be turned off; admission can not. */
enum mxg_feature {
	MXG_FEAT_INSPECT = 1 << 0,	/* the SMTP reader */
	MXG_FEAT_COUNTER = 1 << 1,	/* connection counting */
	MXG_FEAT_ALL = MXG_FEAT_INSPECT | MXG_FEAT_COUNTER,
};

/* The verifier's limit on instructions processed per program. */
#define MXG_VERIFIER_LIMIT 1000000

/* A feature's name, with what the host loses without it; 0 names
 * admission. */
const char *mxg_feature_name(unsigned feature);

/* A feature's short name for JSON ("smtp_inspection"). */
const char *mxg_feature_id(unsigned feature);

/* The feature a program serves, 0 for one that admission needs. */
unsigned mxg_prog_feature(const char *prog_name);

/* The features this kernel cannot have, found without loading anything;
 * why gets the reason of the first. */
unsigned mxg_probe_kernel(char *why, size_t whylen);

/* One program loaded alone. */
struct mxg_prog_probe {
	char name[32];
	int ret;			/* 0 loaded, else -errno */
	uint32_t insns;			/* verified instructions, when loaded */
	char reason[256];		/* the verifier's last words, or why */
};

#define MXG_MAX_PROGS 16

/* Load every program of the object alone, in a throwaway object with no
 * pins: fills out[] and returns how many, or -errno. */
int mxg_probe_programs(struct mxg_prog_probe *out, int max);

/* Turn off, in an opened skeleton, the programs of the features in off. */
void mxg_features_disable(struct mxguard *skel, unsigned off);

/* `mxguardd --probe`: the kernel, the features and every program, one line
 * each, on stdout. Returns 0 when every program loads. */
int mxg_probe_print(void);

#endif
