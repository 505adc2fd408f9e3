/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The tuner's thread (see tuner.h): every interval, read each configured
 * signal, run each class's controller over the signals acting on it,
 * write the scales and the directory's descriptor cap to mxg_tuning and
 * what was seen to mxg_tuner, and log what changed, aggregated.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "log.h"
#include "tuner.h"
#include "tuner_control.h"
#include "tuner_signals.h"

#define NSEC_PER_MSEC 1000000ULL
/* At most one log line of scale changes this often; the first change
 * after a quiet spell is logged at once. */
#define LOG_EVERY_NS (5 * 1000000000ULL)

/* What the log calls each signal (mxguardctl has its own short names). */
static const char *const signal_what[MXG_SIGNALS] = {
	[MXG_SIGNAL_LATENCY] = "directory latency",
	[MXG_SIGNAL_DESCRIPTORS] = "directory descriptors",
	[MXG_SIGNAL_CPU] = "cpu pressure",
	[MXG_SIGNAL_MEMORY] = "memory pressure",
};

struct mxg_tuner {
	struct mxg_tuner_config cfg;
	const struct mxg_maps *maps;
	pthread_t thread;
	bool thread_started;
	atomic_bool stop;
	int wake[2];		/* a byte here ends the wait for the next tick */

	struct mxg_ldap_probe *probe;	/* NULL: latency off */
	struct mxg_window window;
	struct mxg_tuner_params params;
	uint64_t tick;
	struct mxg_class_control ctl[MXG_MAX_CLASSES];
	char names[MXG_MAX_CLASSES][MXG_CLASS_NAME_LEN];	/* per slot */
	uint32_t cap[MXG_MAX_CLASSES];
	struct mxg_tuner_state st;
	bool error_logged[MXG_SIGNALS];

	/* Changes not logged yet: each slot's scale before the first. */
	bool pending[MXG_MAX_CLASSES];
	uint32_t pending_from[MXG_MAX_CLASSES];
	char pending_reason[MXG_TUNER_TEXT];
	uint64_t last_log_ns;
};

/* ---- which slots a signal acts on ---- */

/* The slots whose class is named in names[0..n), every named slot when
 * n is 0 (the default: every class). */
static uint32_t slots_of(const struct mxg_tuner *t,
			 char (*names)[MXG_CLASS_NAME_LEN], unsigned n)
{
	uint32_t mask = 0;

	for (unsigned s = 0; s < MXG_MAX_CLASSES; s++) {
		if (!t->names[s][0])
			continue;
		if (!n)
			mask |= 1u << s;
		for (unsigned i = 0; i < n; i++)
			if (!strcmp(names[i], t->names[s]))
				mask |= 1u << s;
	}
	return mask;
}

static int slot_of(const struct mxg_tuner *t, const char *name)
{
	for (int s = 0; s < MXG_MAX_CLASSES; s++)
		if (t->names[s][0] && !strcmp(t->names[s], name))
			return s;
	return -1;
}

/* ---- the signals ---- */

static void set_unreadable(struct mxg_tuner *t, enum mxg_signal i,
			   const char *why)
{
	struct mxg_tuner_signal *sig = &t->st.signals[i];

	/* Reported once per cause, not every interval. */
	if (!t->error_logged[i] || strncmp(sig->error, why, sizeof(sig->error) - 1))
		mxg_err("tuner: %s cannot be read: %s; the scales it acts on hold",
			signal_what[i], why);
	t->error_logged[i] = true;
	sig->reading = MXG_READING_UNREADABLE;
	snprintf(sig->error, sizeof(sig->error), "%s", why);
}

static void set_reading(struct mxg_tuner *t, enum mxg_signal i,
			uint64_t value, uint64_t target)
{
	struct mxg_tuner_signal *sig = &t->st.signals[i];

	if (t->error_logged[i])
		mxg_info("tuner: %s is read again", signal_what[i]);
	t->error_logged[i] = false;
	sig->error[0] = '\0';
	sig->value = value;
	sig->target = target;
	sig->reading = mxg_reading_of(value, target, t->cfg.recover_permille);
}

static void read_latency(struct mxg_tuner *t, uint64_t now)
{
	struct mxg_tuner_signal *sig = &t->st.signals[MXG_SIGNAL_LATENCY];
	uint64_t sample, pct;
	char err[MXG_TUNER_TEXT * 2];

	if (!t->probe)
		return;
	sig->class_mask = slots_of(t, t->cfg.latency_classes,
				   t->cfg.nlatency_classes);
	if (mxg_ldap_probe_run(t->probe, &sample, err, sizeof(err))) {
		set_unreadable(t, MXG_SIGNAL_LATENCY, err);
		return;
	}
	sig->read_ns = now;
	mxg_window_add(&t->window, sample);
	if (mxg_window_percentile(&t->window, t->cfg.latency_percentile, &pct)) {
		/* Too few probes yet for a percentile (at start, after a
		 * decrease): hold, whatever the other signals say. */
		set_reading(t, MXG_SIGNAL_LATENCY, sample,
			    t->cfg.latency_target_ns);
		sig->reading = MXG_READING_NEAR;
		return;
	}
	set_reading(t, MXG_SIGNAL_LATENCY, pct, t->cfg.latency_target_ns);
}

static void read_descriptors(struct mxg_tuner *t, uint64_t now,
			     const uint64_t conns[MXG_MAX_CLASSES])
{
	struct mxg_tuner_signal *sig = &t->st.signals[MXG_SIGNAL_DESCRIPTORS];
	const struct mxg_tuner_config *c = &t->cfg;
	struct mxg_fd_reading fd;
	uint64_t reserve;
	char err[MXG_TUNER_TEXT * 2];
	int slot;

	if (!c->descriptors_pid_file[0])
		return;
	slot = slot_of(t, c->descriptors_class);
	sig->class_mask = slot >= 0 ? 1u << slot : 0;
	if (mxg_fd_read("/proc", c->descriptors_pid_file,
			c->descriptors_process, &fd, err, sizeof(err))) {
		/* The last cap stays: the directory's limit did not change
		 * because it cannot be read. */
		set_unreadable(t, MXG_SIGNAL_DESCRIPTORS, err);
		return;
	}
	reserve = c->descriptors_reserve;
	if (c->descriptors_reserve_pct)
		reserve = fd.limit == UINT64_MAX ? 0 :
			  fd.limit / 10000 * reserve +
			  fd.limit % 10000 * reserve / 10000;
	sig->read_ns = now;
	sig->limit = fd.limit;
	set_reading(t, MXG_SIGNAL_DESCRIPTORS, fd.in_use,
		    fd.limit > reserve ? fd.limit - reserve : 0);
	if (slot >= 0) {
		/* The class's connections that hold a descriptor: those
		 * still in the accept queue do not yet, and would otherwise
		 * raise the cap by as many as a directory too slow to
		 * accept lets pile up. */
		uint64_t held = conns[slot] > fd.queued ?
				conns[slot] - fd.queued : 0;
		uint32_t cap = mxg_descriptor_cap(held, fd.in_use, fd.limit,
						  reserve);

		/* No limit to keep a reserve of: no cap. */
		t->cap[slot] = cap == UINT32_MAX ? 0 : cap;
	}
}

static void read_pressure(struct mxg_tuner *t, enum mxg_signal i,
			  const char *path, uint32_t target_centi,
			  uint64_t now)
{
	struct mxg_tuner_signal *sig = &t->st.signals[i];
	char err[MXG_TUNER_TEXT * 2];
	uint64_t v;

	if (!target_centi)
		return;
	sig->class_mask = slots_of(t, t->cfg.pressure_classes,
				   t->cfg.npressure_classes);
	if (mxg_psi_read(path, &v, err, sizeof(err))) {
		set_unreadable(t, i, err);
		return;
	}
	sig->read_ns = now;
	set_reading(t, i, v, target_centi);
}

/* "directory latency p90 182.4 ms over 50.0 ms" */
static void describe(const struct mxg_tuner *t, enum mxg_signal i,
		     char *buf, size_t len)
{
	const struct mxg_tuner_signal *sig = &t->st.signals[i];
	unsigned long long v = sig->value, target = sig->target;

	switch (i) {
	case MXG_SIGNAL_LATENCY:
		/* A tenth of a millisecond: "20 ms over 20 ms" says nothing. */
		snprintf(buf, len, "%s p%u %.1f ms over %.1f ms", signal_what[i],
			 t->cfg.latency_percentile, v / 1e6, target / 1e6);
		break;
	case MXG_SIGNAL_DESCRIPTORS:
		snprintf(buf, len, "%s %llu over %llu", signal_what[i], v,
			 target);
		break;
	default:
		snprintf(buf, len, "%s %llu.%02llu%% over %llu.%02llu%%",
			 signal_what[i], v / 100, v % 100, target / 100,
			 target % 100);
		break;
	}
}

/* ---- one interval ---- */

/* Slots whose class changed (a reload, `limit set` cannot rename) start
 * again at their configured limits. */
static void follow_classes(struct mxg_tuner *t)
{
	struct mxg_class classes[MXG_MAX_CLASSES];

	if (mxg_classes_read(t->maps, classes))
		return;
	for (unsigned s = 0; s < MXG_MAX_CLASSES; s++) {
		if (!strncmp(t->names[s], classes[s].name, MXG_CLASS_NAME_LEN))
			continue;
		memcpy(t->names[s], classes[s].name, MXG_CLASS_NAME_LEN);
		t->names[s][MXG_CLASS_NAME_LEN - 1] = '\0';
		t->ctl[s] = (struct mxg_class_control){
			.scale_permille = MXG_SCALE_ONE };
		t->cap[s] = 0;
		t->pending[s] = false;
		memset(&t->st.changes[s], 0, sizeof(t->st.changes[s]));
	}
}

static void control(struct mxg_tuner *t, uint64_t now)
{
	static const enum mxg_signal scaling[] = {
		MXG_SIGNAL_LATENCY, MXG_SIGNAL_CPU, MXG_SIGNAL_MEMORY,
	};
	bool restart_window = false;

	for (unsigned s = 0; s < MXG_MAX_CLASSES; s++) {
		enum mxg_reading readings[3];
		enum mxg_signal which[3];
		struct mxg_tuner_change *ch = &t->st.changes[s];
		uint32_t from = t->ctl[s].scale_permille;
		enum mxg_control_step step;
		unsigned n = 0;
		int decider;

		if (!t->names[s][0])
			continue;
		for (unsigned i = 0; i < 3; i++) {
			const struct mxg_tuner_signal *sig = &t->st.signals[scaling[i]];

			if (sig->reading == MXG_READING_OFF ||
			    !(sig->class_mask & (1u << s)))
				continue;
			which[n] = scaling[i];
			readings[n++] = sig->reading;
		}
		step = mxg_control_step(&t->ctl[s], &t->params, t->tick,
					readings, n, &decider);
		if (step == MXG_CONTROL_HOLD)
			continue;
		/* The probes before a decrease say nothing of the load
		 * after it: read over again when the cooldown ends, they
		 * would cut the same overload twice. */
		if (step == MXG_CONTROL_DOWN &&
		    (t->st.signals[MXG_SIGNAL_LATENCY].class_mask & (1u << s)))
			restart_window = true;
		ch->time_ns = now;
		ch->from_permille = from;
		ch->to_permille = t->ctl[s].scale_permille;
		if (step == MXG_CONTROL_DOWN && decider >= 0)
			describe(t, which[decider], ch->reason,
				 sizeof(ch->reason));
		else
			snprintf(ch->reason, sizeof(ch->reason),
				 "every signal under %u%% of its target",
				 t->cfg.recover_permille / 10);
		t->st.last_class = s;
		if (!t->pending[s]) {
			t->pending[s] = true;
			t->pending_from[s] = from;
		}
		memcpy(t->pending_reason, ch->reason, sizeof(ch->reason));
	}
	if (restart_window)
		mxg_window_init(&t->window, t->cfg.latency_window);
}

/* "tuner: smtp 1.00 -> 0.50, ldap 1.00 -> 0.50 (directory latency ...)" */
static void log_changes(struct mxg_tuner *t, uint64_t now)
{
	char line[512];
	size_t off = 0;

	if (now - t->last_log_ns < LOG_EVERY_NS)
		return;
	for (unsigned s = 0; s < MXG_MAX_CLASSES; s++) {
		uint32_t to = t->ctl[s].scale_permille;

		if (!t->pending[s])
			continue;
		t->pending[s] = false;
		if (off < sizeof(line))
			off += snprintf(line + off, sizeof(line) - off,
					"%s%s %u.%02u -> %u.%02u", off ? ", " : "",
					t->names[s], t->pending_from[s] / 1000,
					t->pending_from[s] % 1000 / 10, to / 1000,
					to % 1000 / 10);
	}
	if (!off)
		return;
	mxg_info("tuner: %s (%s)", line, t->pending_reason);
	t->last_log_ns = now;
}

static void publish(struct mxg_tuner *t, uint64_t now)
{
	for (uint32_t s = 0; s < MXG_MAX_CLASSES; s++) {
		struct mxg_tuning tu = { 0 };
		int ret;

		if (t->names[s][0]) {
			tu.scale_permille = t->ctl[s].scale_permille;
			tu.total_conns_cap = t->cap[s];
		}
		ret = mxg_tuning_write(t->maps, s, &tu);
		if (ret)
			mxg_err("tuner: cannot write the scale of slot %u: %s",
				s, strerror(-ret));
	}
	t->st.tick_ns = now;
	if (mxg_tuner_state_write(t->maps, &t->st))
		mxg_debug("tuner: cannot write mxg_tuner: %s", strerror(errno));
}

static void interval(struct mxg_tuner *t)
{
	uint64_t conns[MXG_MAX_CLASSES] = { 0 };
	uint64_t now;

	follow_classes(t);
	if (mxg_class_conns_read(t->maps, conns))
		memset(conns, 0, sizeof(conns));
	read_latency(t, mxg_now_ns());
	now = mxg_now_ns();
	read_descriptors(t, now, conns);
	read_pressure(t, MXG_SIGNAL_CPU, "/proc/pressure/cpu",
		      t->cfg.pressure_cpu_centi, now);
	read_pressure(t, MXG_SIGNAL_MEMORY, "/proc/pressure/memory",
		      t->cfg.pressure_memory_centi, now);
	control(t, now);
	publish(t, now);
	log_changes(t, now);
	t->tick++;
}

static void *run(void *arg)
{
	struct mxg_tuner *t = arg;
	struct pollfd p = { .fd = t->wake[0], .events = POLLIN };
	uint64_t start, spent, every = t->cfg.interval_ns;

	while (!atomic_load(&t->stop)) {
		start = mxg_now_ns();
		interval(t);
		/* A probe that took the whole interval starts the next one
		 * at once: the readings stay one per interval at most. */
		spent = mxg_now_ns() - start;
		if (spent < every)
			poll(&p, 1, (int)((every - spent + NSEC_PER_MSEC - 1) /
					  NSEC_PER_MSEC));
	}
	return NULL;
}

/* ---- start and stop ---- */

static void init_state(struct mxg_tuner *t)
{
	const struct mxg_tuner_config *c = &t->cfg;
	struct mxg_tuning tuning[MXG_MAX_CLASSES];

	t->params = (struct mxg_tuner_params){
		.floor_permille = c->floor_permille,
		.decrease_permille = c->decrease_permille,
		.increase_permille = c->increase_permille,
		.cooldown_ticks = (uint32_t)((c->cooldown_ns + c->interval_ns - 1) /
					     c->interval_ns),
		.band_permille = c->recover_permille,
	};
	mxg_window_init(&t->window, c->latency_window);
	/* The last run's changes stay on show; its readings do not. */
	if (mxg_tuner_state_read(t->maps, &t->st))
		memset(&t->st, 0, sizeof(t->st));
	memset(t->st.signals, 0, sizeof(t->st.signals));
	t->st.enabled = 1;
	t->st.interval_ms = (uint32_t)(c->interval_ns / NSEC_PER_MSEC);
	t->st.floor_permille = c->floor_permille;
	follow_classes(t);
	/* Resume from the scales in force: a restart during an outage
	 * neither jumps to 1.0 nor forgets the directory's cap. */
	if (!mxg_tuning_read(t->maps, tuning))
		for (unsigned s = 0; s < MXG_MAX_CLASSES; s++) {
			uint32_t sc = tuning[s].scale_permille;

			if (!t->names[s][0] || !sc || sc > MXG_SCALE_ONE)
				continue;
			t->ctl[s].scale_permille = sc < c->floor_permille ?
						   c->floor_permille : sc;
			t->cap[s] = tuning[s].total_conns_cap;
		}
}

int mxg_tuner_start(struct mxg_tuner **out, const struct mxg_config *cfg,
		    const struct mxg_maps *maps, char *err, size_t errlen)
{
	struct mxg_tuner *t;
	int ret;

	*out = NULL;
	t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	t->cfg = cfg->tuner;
	t->maps = maps;
	t->wake[0] = t->wake[1] = -1;
	if (pipe2(t->wake, O_CLOEXEC | O_NONBLOCK)) {
		ret = -errno;
		snprintf(err, errlen, "tuner: %s", strerror(-ret));
		goto fail;
	}
	if (t->cfg.latency_target_ns) {
		ret = mxg_ldap_probe_new(&t->probe, &cfg->ldap,
					 t->cfg.latency_timeout_ns);
		if (ret) {
			snprintf(err, errlen, "tuner: cannot make the directory's probe: %s",
				 strerror(-ret));
			goto fail;
		}
	}
	init_state(t);
	ret = -pthread_create(&t->thread, NULL, run, t);
	if (ret) {
		snprintf(err, errlen, "tuner: cannot start its thread: %s",
			 strerror(-ret));
		goto fail;
	}
	t->thread_started = true;
	mxg_info("tuner: on, every %llu ms, floor %u.%02u",
		 (unsigned long long)(t->cfg.interval_ns / NSEC_PER_MSEC), t->cfg.floor_permille / 1000,
		 t->cfg.floor_permille % 1000 / 10);
	*out = t;
	return 0;
fail:
	mxg_tuner_stop(t);
	return ret;
}

void mxg_tuner_stop(struct mxg_tuner *t)
{
	if (!t)
		return;
	if (t->thread_started) {
		atomic_store(&t->stop, true);
		if (write(t->wake[1], "", 1) < 0)
			mxg_debug("tuner: wake: %s", strerror(errno));
		pthread_join(t->thread, NULL);
		t->st.enabled = 0;
		if (mxg_tuner_state_write(t->maps, &t->st))
			mxg_debug("tuner: cannot write mxg_tuner: %s",
				  strerror(errno));
	}
	mxg_ldap_probe_free(t->probe);
	if (t->wake[0] >= 0)
		close(t->wake[0]);
	if (t->wake[1] >= 0)
		close(t->wake[1]);
	free(t);
}

int mxg_tuner_reset(const struct mxg_maps *maps)
{
	static const struct mxg_tuning none;
	struct mxg_tuner_state st = { 0 };
	int ret;

	for (uint32_t s = 0; s < MXG_MAX_CLASSES; s++) {
		ret = mxg_tuning_write(maps, s, &none);
		if (ret)
			return ret;
	}
	return mxg_tuner_state_write(maps, &st);
}
