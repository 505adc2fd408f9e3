/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * mxguardctl tuner: what mxguardd's tuner measured and did (mxg_tuner):
 * each signal's reading against its target and the classes it acts on;
 * and per class the scale (mxg_tuning), the limits as configured and as
 * in force, and the last change with its reason. Read only: both maps are
 * written by mxguardd's tuner alone. The units are the ABI's (ns, % * 100)
 * turned into the contract's: seconds and percent in JSON, milliseconds
 * in text.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "ctl/ctl.h"
#include "names.h"

/* Everything tuner prints, read before either printer runs. */
struct tuner_view {
	struct mxg_tuner_state state;
	struct mxg_class classes[MXG_MAX_CLASSES];
	struct mxg_tuning tuning[MXG_MAX_CLASSES];
	uint64_t now;
};

/* What a signal's value and target are counted in, as JSON says them:
 * the value in the ABI's unit times factor (descriptors are counts,
 * written as integers). */
struct signal_unit {
	const char *unit;
	double factor;
};

static const struct signal_unit signal_units[MXG_SIGNALS] = {
	[MXG_SIGNAL_LATENCY] = { "s", 1e-9 },
	[MXG_SIGNAL_DESCRIPTORS] = { "descriptors", 1 },
	[MXG_SIGNAL_CPU] = { "%", 0.01 },
	[MXG_SIGNAL_MEMORY] = { "%", 0.01 },
};

static double seconds_since(uint64_t now, uint64_t then_ns)
{
	return now > then_ns ? (now - then_ns) / (double)NSEC_PER_SEC : 0;
}

/* A text field of the record, which the daemon may fill to the last
 * byte: always a string here. */
static void copy_text(char out[MXG_TUNER_TEXT + 1], const char *in)
{
	size_t n = strnlen(in, MXG_TUNER_TEXT);

	memcpy(out, in, n);
	out[n] = '\0';
}

static int tuner_read(struct ctl *ctl, struct tuner_view *v)
{
	int ret = ctl_read_classes(ctl, v->classes);

	if (!ret)
		ret = ctl_read_tuning(ctl, v->tuning);
	if (!ret)
		ret = ctl_read_tuner(ctl, &v->state);
	v->now = mxg_now_ns();
	return ret;
}

static bool class_used(const struct tuner_view *v, uint32_t c)
{
	return v->classes[c].name[0];
}

/* ---- JSON ---- */

static void signal_json(struct json *j, const struct tuner_view *v,
			enum mxg_signal sig)
{
	const struct mxg_tuner_signal *s = &v->state.signals[sig];
	double f = signal_units[sig].factor;
	char error[MXG_TUNER_TEXT + 1];

	copy_text(error, s->error);
	json_key(j, mxg_name_of(&mxg_tuner_signals, sig));
	json_begin_object(j);
	json_kv_string(j, "reading", mxg_name_of(&mxg_tuner_readings, s->reading));
	if (sig == MXG_SIGNAL_DESCRIPTORS) {	/* counts, exact */
		json_kv_u64(j, "value", s->value);
		json_kv_u64(j, "target", s->target);
		json_kv_u64(j, "limit", s->limit);
	} else {
		json_key(j, "value");
		json_double(j, s->value * f);
		json_key(j, "target");
		json_double(j, s->target * f);
	}
	json_kv_string(j, "unit", signal_units[sig].unit);
	json_key(j, "classes");
	json_begin_array(j);
	for (uint32_t c = 0; c < MXG_MAX_CLASSES; c++)
		if ((s->class_mask & (1U << c)) && class_used(v, c))
			json_string(j, v->classes[c].name);
	json_end_array(j);
	json_kv_string(j, "error", error);
	json_end_object(j);
}

static void class_json(struct json *j, const struct tuner_view *v, uint32_t c)
{
	const struct mxg_tuner_change *ch = &v->state.changes[c];
	const struct mxg_tuning *t = &v->tuning[c];
	struct ctl_limits conf, eff;
	char reason[MXG_TUNER_TEXT + 1];

	ctl_limits_configured(&v->classes[c], &conf);
	ctl_limits_effective(&v->classes[c], t, &eff);
	json_key(j, v->classes[c].name);
	json_begin_object(j);
	json_key(j, "scale");
	json_double(j, ctl_scale(t));
	json_key(j, "total_conns_cap");
	if (t->total_conns_cap)
		json_u64(j, t->total_conns_cap);
	else
		json_null(j);
	ctl_limits_json(j, "configured", &conf);
	ctl_limits_json(j, "effective", &eff);
	json_key(j, "last_change");
	if (!ch->time_ns) {
		json_null(j);
	} else {
		copy_text(reason, ch->reason);
		json_begin_object(j);
		json_key(j, "age");
		json_double(j, seconds_since(v->now, ch->time_ns));
		json_key(j, "from");
		json_double(j, ch->from_permille / (double)MXG_SCALE_ONE);
		json_key(j, "to");
		json_double(j, ch->to_permille / (double)MXG_SCALE_ONE);
		json_kv_string(j, "reason", reason);
		json_end_object(j);
	}
	json_end_object(j);
}

static void tuner_print_json(struct ctl *ctl, const struct tuner_view *v)
{
	const struct mxg_tuner_state *st = &v->state;
	struct json *j = &ctl->out;

	json_begin_object(j);
	json_kv_bool(j, "enabled", st->enabled);
	json_key(j, "interval");
	json_double(j, st->interval_ms / 1000.0);
	json_key(j, "floor");
	json_double(j, st->floor_permille / (double)MXG_SCALE_ONE);
	json_key(j, "age");
	if (st->tick_ns)
		json_double(j, seconds_since(v->now, st->tick_ns));
	else
		json_null(j);
	json_key(j, "signals");
	json_begin_object(j);
	for (int sig = 0; sig < MXG_SIGNALS; sig++)
		signal_json(j, v, sig);
	json_end_object(j);
	json_key(j, "classes");
	json_begin_object(j);
	for (uint32_t c = 0; c < MXG_MAX_CLASSES; c++)
		if (class_used(v, c))
			class_json(j, v, c);
	json_end_object(j);
	json_end_object(j);
	json_finish(j);
}

/* ---- text ---- */

/* A value of the signal in the unit an operator reads it in. */
static void format_signal_value(enum mxg_signal sig, uint64_t value,
				char *buf, size_t len)
{
	switch (sig) {
	case MXG_SIGNAL_LATENCY:
		snprintf(buf, len, "%.1f ms", value / (double)NSEC_PER_MSEC);
		break;
	case MXG_SIGNAL_DESCRIPTORS:
		snprintf(buf, len, "%llu", (unsigned long long)value);
		break;
	default:
		snprintf(buf, len, "%.2f%%", value / 100.0);
		break;
	}
}

static void signal_text(const struct tuner_view *v, enum mxg_signal sig)
{
	const struct mxg_tuner_signal *s = &v->state.signals[sig];
	char value[32], target[32], error[MXG_TUNER_TEXT + 1];
	const char *sep = "; acts on ";

	printf("  %-17s %s", mxg_name_of(&mxg_tuner_signals, sig),
	       mxg_name_of(&mxg_tuner_readings, s->reading));
	if (s->reading == MXG_READING_OFF) {
		printf("\n");
		return;
	}
	format_signal_value(sig, s->value, value, sizeof(value));
	format_signal_value(sig, s->target, target, sizeof(target));
	copy_text(error, s->error);
	if (s->reading == MXG_READING_UNREADABLE)
		printf(": %s (target %s)", error[0] ? error : "no reason given",
		       target);
	else if (sig == MXG_SIGNAL_DESCRIPTORS)
		printf(": %s of %llu (target %s)", value,
		       (unsigned long long)s->limit, target);
	else
		printf(": %s (target %s)", value, target);
	for (uint32_t c = 0; c < MXG_MAX_CLASSES; c++) {
		if (!(s->class_mask & (1U << c)) || !class_used(v, c))
			continue;
		printf("%s%s", sep, v->classes[c].name);
		sep = ", ";
	}
	printf("\n");
}

static void class_text(const struct tuner_view *v, uint32_t c)
{
	const struct mxg_tuner_change *ch = &v->state.changes[c];
	const struct mxg_tuning *t = &v->tuning[c];
	char limits[256], reason[MXG_TUNER_TEXT + 1];
	struct ctl_limits conf, eff;

	ctl_limits_configured(&v->classes[c], &conf);
	ctl_limits_effective(&v->classes[c], t, &eff);
	ctl_limits_text(&conf, &eff, limits, sizeof(limits));
	printf("  %-17s scale %.2f", v->classes[c].name, ctl_scale(t));
	if (t->total_conns_cap)
		printf(", cap %u connections", t->total_conns_cap);
	printf(": %s\n", limits);
	if (!ch->time_ns) {
		printf("  %-17s last change: none\n", "");
		return;
	}
	copy_text(reason, ch->reason);
	printf("  %-17s last change %.1fs ago: %.2f -> %.2f%s%s\n", "",
	       seconds_since(v->now, ch->time_ns),
	       ch->from_permille / (double)MXG_SCALE_ONE,
	       ch->to_permille / (double)MXG_SCALE_ONE, reason[0] ? ", " : "",
	       reason);
}

static void tuner_print_text(struct ctl *ctl, const struct tuner_view *v)
{
	const struct mxg_tuner_state *st = &v->state;

	if (!st->enabled)
		printf("tuner               off\n");
	else if (st->tick_ns)
		printf("tuner               on: every %gs, floor %.2f, last interval %.1fs ago\n",
		       st->interval_ms / 1000.0,
		       st->floor_permille / (double)MXG_SCALE_ONE,
		       seconds_since(v->now, st->tick_ns));
	else
		printf("tuner               on: every %gs, floor %.2f, no interval yet\n",
		       st->interval_ms / 1000.0,
		       st->floor_permille / (double)MXG_SCALE_ONE);
	printf("signals\n");
	for (int sig = 0; sig < MXG_SIGNALS; sig++)
		signal_text(v, sig);
	printf("classes\n");
	for (uint32_t c = 0; c < MXG_MAX_CLASSES; c++)
		if (class_used(v, c))
			class_text(v, c);
}

int ctl_tuner(struct ctl *ctl, const struct ctl_args *a)
{
	struct tuner_view *v = calloc(1, sizeof(*v));
	int ret;

	if (!v) {
		ctl_error(ctl, "out of memory");
		return -ENOMEM;
	}
	ret = tuner_read(ctl, v);
	if (!ret)
		(ctl->json ? tuner_print_json : tuner_print_text)(ctl, v);
	free(v);
	return ret;
}
