/* SPDX-License-Identifier: BSD-2-Clause */
/* A config applied as one transaction; see apply.h. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/libbpf.h>
#include "apply.h"
#include "class_limits.h"
#include "loader.h"
#include "mirror.h"
#include "recipients.h"

/* ---- the step engine ---- */

/* err += "; " + text, as far as it fits. */
static void err_append(char *err, size_t errlen, const char *text)
{
	size_t len = strnlen(err, errlen);

	if (len + 1 < errlen)
		snprintf(err + len, errlen - len, "%s%s", len ? "; " : "", text);
}

int mxg_apply_steps(const struct mxg_apply_step *steps, unsigned n,
		    void *state, char *err, size_t errlen)
{
	char why[512], line[768];
	bool undo_failed = false;
	unsigned i;
	int ret = 0, undone;

	err[0] = '\0';
	for (i = 0; i < n; i++) {
		why[0] = '\0';
		ret = steps[i].run(state, why, sizeof(why));
		if (ret)
			break;
	}
	if (!ret)
		return 0;
	/* A step that gave no reason still says which step and errno. */
	if (!why[0])
		snprintf(why, sizeof(why), "cannot %s: %s", steps[i].what,
			 strerror(ret < 0 ? -ret : ret));
	snprintf(err, errlen, "%s", why);
	/* The failed step too: it may have stopped half way. */
	for (int u = (int)i; u >= 0; u--) {
		if (!steps[u].undo)
			continue;
		why[0] = '\0';
		undone = steps[u].undo(state, why, sizeof(why));
		if (!undone)
			continue;
		if (!why[0])
			snprintf(why, sizeof(why), "%s",
				 strerror(undone < 0 ? -undone : undone));
		snprintf(line, sizeof(line), "putting back what came before failed too (%s: %s)",
			 steps[u].what, why);
		err_append(err, errlen, line);
		undo_failed = true;
	}
	if (undo_failed)
		err_append(err, errlen, "parts of the new config may be in force");
	return ret;
}

/* ---- one class ---- */

int mxg_class_apply(const struct mxg_maps *m, uint32_t idx,
		    const struct mxg_class_config *c)
{
	int ncpus = libbpf_num_possible_cpus();
	struct mxg_class cls;

	if (ncpus < 0)
		return ncpus;
	if (idx >= MXG_MAX_CLASSES)
		return -EINVAL;
	mxg_class_to_bpf(c, (unsigned)ncpus, &cls);
	return mxg_class_update(m, idx, &cls);
}

/* ---- a whole config ---- */

/* What one mxg_apply() knows: the configs, and what it read before
 * writing, to put back. */
struct txn {
	const struct mxg_apply_target *t;
	const struct mxg_config *old, *cfg;
	struct mxg_limits *before, *want;	/* heap: 256 KiB each */
	struct mxg_lpm_key *allow, *deny;	/* the config's rules before */
	unsigned nallow, ndeny;
	struct mxg_inspect inspect;		/* the reader's settings before */
	bool counter;	/* the counter (re)attaches: start, or a new cgroup */
};

/*
 * Make the class and port maps hold target, where they held other (the
 * ports that differ between the two are all that can have changed). In the
 * order that never lets a port point at an empty slot: classes first, then
 * ports, then the slots no longer used. A slot that changes hands starts
 * with fresh counters.
 */
static int limits_write(const struct mxg_maps *m,
			const struct mxg_limits *target,
			const struct mxg_limits *other)
{
	static const struct mxg_class empty;
	struct mxg_class now[MXG_MAX_CLASSES];
	int ret;

	ret = mxg_classes_read(m, now);
	if (ret)
		return ret;
	for (uint32_t s = 0; s < MXG_MAX_CLASSES; s++) {
		const struct mxg_class *want = &target->classes[s];

		if (!want->name[0] || !memcmp(want, &now[s], sizeof(*want)))
			continue;
		if (strncmp(want->name, now[s].name, MXG_CLASS_NAME_LEN)) {
			ret = mxg_stats_clear(m, s);
			if (ret)
				return ret;
		}
		ret = mxg_class_update(m, s, want);
		if (ret)
			return ret;
	}
	for (uint32_t p = 0; p < MXG_PORTS; p++) {
		if (!memcmp(&target->ports[p], &other->ports[p],
			    sizeof(target->ports[p])))
			continue;
		ret = mxg_port_write(m, p, &target->ports[p]);
		if (ret)
			return ret;
	}
	for (uint32_t s = 0; s < MXG_MAX_CLASSES; s++) {
		if (target->classes[s].name[0] || !now[s].name[0])
			continue;
		ret = mxg_class_write(m, s, &empty);
		if (ret)
			return ret;
	}
	return 0;
}

/* 1. Everything that can fail without changing anything, and what the
 * maps hold now, to put back. */
static int step_prepare(void *state, char *err, size_t errlen)
{
	struct txn *x = state;
	const struct mxg_maps *m = x->t->maps;
	char cgroup[4096];
	int ncpus, ret;

	if (x->t->loader) {
		ret = mxg_ifaces_check(x->cfg, err, errlen);
		if (ret)
			return ret;
		if (x->counter) {
			ret = mxg_find_cgroup2(x->cfg->cgroup, cgroup,
					       sizeof(cgroup), err, errlen);
			if (ret)
				return ret;
		}
	}
	ncpus = libbpf_num_possible_cpus();
	if (ncpus < 0) {
		snprintf(err, errlen, "cannot count the possible CPUs: %s",
			 strerror(-ncpus));
		return ncpus;
	}
	ret = mxg_classes_read(m, x->before->classes);
	for (uint32_t p = 0; !ret && p < MXG_PORTS; p++)
		ret = mxg_port_read(m, p, &x->before->ports[p]);
	if (ret) {
		snprintf(err, errlen, "cannot read the limits (%s, %s): %s",
			 MXG_MAP_NAME(classes), MXG_MAP_NAME(ports),
			 strerror(-ret));
		return ret;
	}
	ret = mxg_limits_plan(x->before->classes, x->cfg, (unsigned)ncpus,
			      x->want, err, errlen);
	if (ret)
		return ret;
	ret = mxg_rules_of(m->allow, MXG_ORIGIN_CONFIG, &x->allow, &x->nallow);
	if (!ret)
		ret = mxg_rules_of(m->deny, MXG_ORIGIN_CONFIG, &x->deny,
				   &x->ndeny);
	if (ret) {
		snprintf(err, errlen, "cannot read the allow and deny lists: %s",
			 strerror(-ret));
		return ret;
	}
	ret = mxg_inspect_read(m, &x->inspect);
	if (ret)
		snprintf(err, errlen, "cannot read %s: %s", MXG_MAP_NAME(inspect),
			 strerror(-ret));
	return ret;
}

/* 2. Classes and ports. */
static int step_limits(void *state, char *err, size_t errlen)
{
	struct txn *x = state;
	int ret = limits_write(x->t->maps, x->want, x->before);

	if (ret)
		snprintf(err, errlen, "cannot write the limits: %s",
			 strerror(-ret));
	return ret;
}

static int undo_limits(void *state, char *err, size_t errlen)
{
	struct txn *x = state;

	return limits_write(x->t->maps, x->before, x->want);
}

/* 3. The config's allow and deny rules; those added by hand stay. */
static int rules_write(const struct mxg_maps *m, const struct mxg_lpm_key *allow,
		       unsigned nallow, const struct mxg_lpm_key *deny,
		       unsigned ndeny, char *err, size_t errlen)
{
	int ret = mxg_rules_sync(m->allow, allow, nallow, MXG_ORIGIN_CONFIG);

	if (ret) {
		snprintf(err, errlen, "cannot write the allow list (%s): %s",
			 MXG_MAP_NAME(allow), strerror(-ret));
		return ret;
	}
	ret = mxg_rules_sync(m->deny, deny, ndeny, MXG_ORIGIN_CONFIG);
	if (ret)
		snprintf(err, errlen, "cannot write the deny list (%s): %s",
			 MXG_MAP_NAME(deny), strerror(-ret));
	return ret;
}

static int step_rules(void *state, char *err, size_t errlen)
{
	struct txn *x = state;

	return rules_write(x->t->maps, x->cfg->allow, x->cfg->nallow,
			   x->cfg->deny, x->cfg->ndeny, err, errlen);
}

static int undo_rules(void *state, char *err, size_t errlen)
{
	struct txn *x = state;

	return rules_write(x->t->maps, x->allow, x->nallow, x->deny, x->ndeny,
			   err, errlen);
}

/* 4. The SMTP reader's settings. */
static int step_inspect(void *state, char *err, size_t errlen)
{
	struct txn *x = state;
	int ret = mxg_inspect_write(x->t->maps, &x->cfg->inspect);

	if (ret)
		snprintf(err, errlen, "cannot write %s: %s",
			 MXG_MAP_NAME(inspect), strerror(-ret));
	return ret;
}

static int undo_inspect(void *state, char *err, size_t errlen)
{
	struct txn *x = state;

	return mxg_inspect_write(x->t->maps, &x->inspect);
}

/* 5. The recipient mirror's maps that come from the config: the local
 * domains and the config's part of the readiness record. */
static int mirror_write(const struct mxg_maps *m, const struct mxg_config *cfg,
			char *err, size_t errlen)
{
	struct mxg_hash_key key;
	int ret;

	ret = mxg_hash_key_ensure(m, &key);
	if (!ret)
		ret = mxg_domains_sync(m, &key, &cfg->ldap);
	if (!ret)
		ret = mxg_mirror_record_config(m, cfg);
	if (ret)
		snprintf(err, errlen, "cannot set up the recipient mirror's maps: %s",
			 strerror(-ret));
	return ret;
}

static int step_mirror(void *state, char *err, size_t errlen)
{
	struct txn *x = state;

	return mirror_write(x->t->maps, x->cfg, err, errlen);
}

static int undo_mirror(void *state, char *err, size_t errlen)
{
	struct txn *x = state;

	/* At start there is no config to go back to, and a start that
	 * failed leaves no writer that reads them. */
	return x->old ? mirror_write(x->t->maps, x->old, err, errlen) : 0;
}

/* 6. The daemon's services, before the programs that rely on them. */
static int step_services(void *state, char *err, size_t errlen)
{
	struct txn *x = state;

	if (!x->t->services)
		return 0;
	return x->t->services(x->t->services_arg, x->old, x->cfg, err, errlen);
}

static int undo_services(void *state, char *err, size_t errlen)
{
	struct txn *x = state;

	if (!x->t->services)
		return 0;
	return x->t->services(x->t->services_arg, x->cfg, x->old, err, errlen);
}

/* 7. Counting before enforcing: the caps read the counts. */
static int step_counter(void *state, char *err, size_t errlen)
{
	struct txn *x = state;

	if (!x->t->loader || !x->counter)
		return 0;
	return mxg_counter_attach(x->t->loader, x->cfg, err, errlen);
}

static int undo_counter(void *state, char *err, size_t errlen)
{
	struct txn *x = state;

	if (!x->t->loader || !x->counter)
		return 0;
	if (x->old)
		return mxg_counter_attach(x->t->loader, x->old, err, errlen);
	/* At start: detached again only if there was none before. */
	mxg_detach_fresh(x->t->loader);
	return 0;
}

/* 8. The attachments. */
static int step_attach(void *state, char *err, size_t errlen)
{
	struct txn *x = state;

	if (!x->t->loader)
		return 0;
	return mxg_attach_all(x->t->loader, x->cfg, err, errlen);
}

static int undo_attach(void *state, char *err, size_t errlen)
{
	struct txn *x = state;

	if (!x->t->loader)
		return 0;
	if (x->old)
		return mxg_attach_all(x->t->loader, x->old, err, errlen);
	/* At start: what was attached before stays, adopted; what this
	 * start attached where nothing was goes again. */
	mxg_detach_fresh(x->t->loader);
	return 0;
}

static const struct mxg_apply_step apply_steps[] = {
	{ "read the state to apply over", step_prepare, NULL },
	{ "write the limits", step_limits, undo_limits },
	{ "write the allow and deny lists", step_rules, undo_rules },
	{ "write the SMTP reader's settings", step_inspect, undo_inspect },
	{ "write the recipient mirror's maps", step_mirror, undo_mirror },
	{ "start the services", step_services, undo_services },
	{ "attach the connection counter", step_counter, undo_counter },
	{ "attach", step_attach, undo_attach },
};

int mxg_apply(const struct mxg_apply_target *t, const struct mxg_config *old,
	      const struct mxg_config *cfg, char *err, size_t errlen)
{
	struct txn x = {
		.t = t,
		.old = old,
		.cfg = cfg,
		.counter = !old || strcmp(old->cgroup, cfg->cgroup),
	};
	int ret;

	x.before = calloc(1, sizeof(*x.before));
	x.want = calloc(1, sizeof(*x.want));
	if (!x.before || !x.want) {
		snprintf(err, errlen, "cannot apply the config: %s",
			 strerror(ENOMEM));
		ret = -ENOMEM;
		goto out;
	}
	ret = mxg_apply_steps(apply_steps,
			      sizeof(apply_steps) / sizeof(apply_steps[0]), &x,
			      err, errlen);
out:
	free(x.before);
	free(x.want);
	free(x.allow);
	free(x.deny);
	return ret;
}
