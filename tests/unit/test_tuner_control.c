/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The tuner's controller (user/tuner_control.c) on recorded signal traces,
 * and the limits in force it leads to (bpf/tuning.h, the same code the BPF
 * programs run).
 *
 * A latency trace is a list of runs, each a latency held for as many
 * intervals as its expected string has characters, one per interval:
 * '.' hold, 'D' decrease, 'U' increase. Each sample goes through what the
 * tuner does every interval: the window (size 10), its p90, the reading
 * against the target, the step; after a decrease the window starts again,
 * so the next reading is of probes taken at the new scale. A readings
 * trace gives each signal's reading per interval instead: '_' off,
 * '?' unreadable, 'u' under, 'n' near, 'O' over, and the signal expected
 * to decide each step ('-' none).
 *
 * The gains are the [tuner] defaults: floor 0.1, decrease 0.5, increase
 * 0.05, cooldown 5 intervals, recover_at 0.8; the target is 50 ms.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>
#include "tuner_control.h"
#include "tuning.h"

#define MS 1000000ULL
#define TARGET (50 * MS)
#define WINDOW 10
#define PCT 90

static const struct mxg_tuner_params defaults = {
	.floor_permille = 100,
	.decrease_permille = 500,
	.increase_permille = 50,
	.cooldown_ticks = 5,
	.band_permille = 800,
};

/* The step's arithmetic, whatever the trace: a hold changes nothing, a
 * decrease halves down to the floor, an increase adds 0.05 up to 1.0. */
static void check_arithmetic(const struct mxg_tuner_params *p, uint32_t from,
			     enum mxg_control_step step, uint32_t to)
{
	uint32_t want = from;

	if (step == MXG_CONTROL_DOWN) {
		want = from * p->decrease_permille / 1000;
		if (want < p->floor_permille)
			want = p->floor_permille;
	} else if (step == MXG_CONTROL_UP) {
		want = from + p->increase_permille;
		if (want > 1000)
			want = 1000;
	}
	assert_int_equal(to, want);
	assert_in_range(to, p->floor_permille, 1000);
}

static char step_char(enum mxg_control_step s)
{
	return s == MXG_CONTROL_DOWN ? 'D' : s == MXG_CONTROL_UP ? 'U' : '.';
}

/* What the tuner does each interval for a class the latency acts on. */
struct loop {
	struct mxg_class_control c;
	struct mxg_tuner_params p;
	struct mxg_window w;
	uint64_t tick;
	bool keep_window;	/* do not restart the window after a decrease */
};

static void loop_init(struct loop *l, const struct mxg_tuner_params *p,
		      uint32_t start)
{
	memset(l, 0, sizeof(*l));
	l->p = *p;
	l->c.scale_permille = start ? start : MXG_SCALE_ONE;
	mxg_window_init(&l->w, WINDOW);
}

static enum mxg_control_step loop_interval(struct loop *l, uint64_t sample)
{
	enum mxg_reading r = MXG_READING_UNREADABLE;
	enum mxg_control_step step;
	uint32_t from = l->c.scale_permille;
	uint64_t p90;
	int decider;

	mxg_window_add(&l->w, sample);
	/* Too few probes yet: no reading, which holds. */
	if (!mxg_window_percentile(&l->w, PCT, &p90))
		r = mxg_reading_of(p90, TARGET, l->p.band_permille);
	step = mxg_control_step(&l->c, &l->p, l->tick++, &r, 1, &decider);
	check_arithmetic(&l->p, from, step, l->c.scale_permille);
	if (step == MXG_CONTROL_DOWN && !l->keep_window)
		mxg_window_init(&l->w, WINDOW);
	return step;
}

struct run {
	uint64_t ms;
	const char *expect;
};

struct latency_trace {
	const char *what;
	uint32_t band;		/* 0: the default */
	uint32_t start;		/* 0: 1.0 */
	struct run runs[8];
	uint32_t end;
};

/* The warm-up every trace starts from: a window of fast probes, the
 * first four too few for a reading. */
#define FAST { 20, ".........." }

static const struct latency_trace latency_traces[] = {
	/* The second slow probe makes p90 (rank 9 of 10) slow: down at the
	 * second slow interval, then once per cooldown, 1.0 0.5 0.25 0.125,
	 * and the floor (0.1, not 0.0625), where it stays. */
	{ "latency steps up and stays: down at its 2nd interval, to the floor",
	  0, 0, { FAST, { 200, ".D....D....D....D........" } }, 100 },
	/* After the floor's decrease the window held only slow probes; the
	 * ninth fast one leaves one slow probe in ten, p90 is fast: then
	 * 0.05 per interval, 18 of them, to exactly 1.0, and no further. */
	{ "recovery: additive, one step per interval, stops at 1.0",
	  0, 0, { FAST, { 200, ".D....D....D....D....." },
		  { 20, "........UUUUUUUUUUUUUUUUUU......" } }, 1000 },
	{ "one slow probe moves nothing",
	  0, 0, { FAST, { 500, "." }, { 20, "...................." } }, 1000 },
	{ "slow probes further apart than the window move nothing",
	  0, 0, { FAST, { 500, "." }, { 20, "........." }, { 500, "." },
		  { 20, "........." }, { 500, "." }, { 20, "..........." } }, 1000 },
	/* Two in ten is what p90 means: a trend, not an outlier. After the
	 * decrease the new window reads fast at its fifth probe, the same
	 * interval the cooldown ends: up at once. */
	{ "two slow probes in one window: down once, then back",
	  0, 0, { FAST, { 500, "." }, { 20, "...." }, { 500, "D" },
		  { 20, "....UUUUUUUUUU....." } }, 1000 },
	{ "under at 1.0 holds", 0, 0, { { 20, "................................" } }, 1000 },
	{ "over at the floor holds", 0, 100, { { 900, "................................" } }, 100 },
	{ "in the band (45 ms: over 40, not over 50) holds at 1.0",
	  0, 0, { { 45, "................................" } }, 1000 },
	{ "in the band after a decrease holds there",
	  0, 0, { FAST, { 80, ".D" }, { 45, "................................" } }, 500 },
	/* At the target is not over; just over it is. */
	{ "just over the target decreases, just under it holds",
	  0, 0, { FAST, { 51, ".D" }, { 49, "........................" },
		  { 50, "........................" } }, 500 },
	/* Without the band the same trace climbs back the moment latency is
	 * under the target, into the load that made it slow. */
	{ "without the band, just under the target climbs",
	  1000, 0, { FAST, { 51, ".D" }, { 49, "....UUUUUUUUUU..........." } }, 1000 },
	/* A decrease only every cooldown, however far over. */
	{ "cooldown: one decrease per 5 intervals, however slow",
	  0, 0, { { 5000, "....D....D....D....D....." } }, 100 },
};

static void run_latency_trace(const struct latency_trace *t)
{
	struct mxg_tuner_params p = defaults;
	struct loop l;

	if (t->band)
		p.band_permille = t->band;
	loop_init(&l, &p, t->start);
	print_message("  %s\n", t->what);
	for (size_t r = 0; r < sizeof(t->runs) / sizeof(t->runs[0]) && t->runs[r].expect; r++) {
		const struct run *run = &t->runs[r];

		for (size_t i = 0; run->expect[i]; i++) {
			uint64_t tick = l.tick;
			char got = step_char(loop_interval(&l, run->ms * MS));

			if (got != run->expect[i])
				fail_msg("%s: run %zu (%llu ms), interval %zu (tick %llu): "
					 "'%c', expected '%c' (scale now %u)", t->what, r,
					 (unsigned long long)run->ms, i,
					 (unsigned long long)tick, got, run->expect[i],
					 l.c.scale_permille);
		}
	}
	if (l.c.scale_permille != t->end)
		fail_msg("%s: ends at %u, expected %u", t->what, l.c.scale_permille,
			 t->end);
}

static void test_latency_traces(void **state)
{
	for (size_t i = 0; i < sizeof(latency_traces) / sizeof(latency_traces[0]); i++)
		run_latency_trace(&latency_traces[i]);
}

struct readings_trace {
	const char *what;
	uint32_t start;		/* 0: 1.0 */
	const char *signals[MXG_SIGNALS];	/* each the same length */
	const char *expect;
	const char *decider;
	uint32_t end;
};

static const struct readings_trace readings_traces[] = {
	{ "unreadable holds at 0.5: neither to the floor nor up", 500,
	  { "????????????????????" },
	  "....................", "00000000000000000000", 500 },
	{ "unreadable beside under holds and is named", 500,
	  { "uuuuuuuu", "????????" }, "........", "11111111", 500 },
	{ "unreadable beside over: over decides", 1000,
	  { "??????", "OOOOOO" }, "D....D", "111111", 250 },
	/* An outage it cannot see: held, then the climb goes on from there. */
	{ "an outage holds, the climb resumes where it was", 500,
	  { "uu??????????uuuuuuuuuuu" },
	  "UU..........UUUUUUUU...", "--0000000000-----------", 1000 },
	{ "in the band holds and is named", 500,
	  { "nnnnnn", "uuuuuu" }, "......", "000000", 500 },
	{ "the first signal in the band or unreadable is named", 500,
	  { "nuu", "?nu", "u??" }, "...", "012", 500 },
	{ "all off holds, nobody named", 500,
	  { "______", "______", "______", "______" }, "......", "------", 500 },
	{ "off signals are skipped", 900,
	  { "____", "uuuu", "____" }, "UU..", "----", 1000 },
	{ "under after a decrease waits out the cooldown", 1000,
	  { "Ouuuuuuuu" }, "D....UUUU", "0--------", 700 },
	{ "over within the cooldown holds, named", 1000,
	  { "OOOOOO" }, "D....D", "000000", 250 },
	{ "the first signal over decides", 1000,
	  { "uO", "OO" }, "D.", "10", 500 },
	{ "over beats the band and the unreadable", 1000,
	  { "n", "?", "O", "u" }, "D", "2", 500 },
	{ "at the floor, over holds, named", 100,
	  { "_O", "OO" }, "..", "10", 100 },
};

static enum mxg_reading reading_of_char(char ch)
{
	switch (ch) {
	case '_': return MXG_READING_OFF;
	case '?': return MXG_READING_UNREADABLE;
	case 'u': return MXG_READING_UNDER;
	case 'n': return MXG_READING_NEAR;
	case 'O': return MXG_READING_OVER;
	}
	fail_msg("bad reading '%c' in a trace", ch);
	return MXG_READING_OFF;
}

static void run_readings_trace(const struct readings_trace *t)
{
	struct mxg_class_control c = { .scale_permille = t->start ? t->start : 1000 };
	size_t len = strlen(t->expect);
	unsigned n = 0;

	print_message("  %s\n", t->what);
	while (n < MXG_SIGNALS && t->signals[n])
		assert_int_equal(strlen(t->signals[n++]), len);
	assert_int_equal(strlen(t->decider), len);
	for (size_t i = 0; i < len; i++) {
		enum mxg_reading r[MXG_SIGNALS];
		uint32_t from = c.scale_permille;
		int decider = 42;
		enum mxg_control_step step;
		int want = t->decider[i] == '-' ? -1 : t->decider[i] - '0';

		for (unsigned s = 0; s < n; s++)
			r[s] = reading_of_char(t->signals[s][i]);
		step = mxg_control_step(&c, &defaults, 1000 + i, r, n, &decider);
		check_arithmetic(&defaults, from, step, c.scale_permille);
		if (step_char(step) != t->expect[i] || decider != want)
			fail_msg("%s: interval %zu: '%c' decided by %d, expected '%c' by %d",
				 t->what, i, step_char(step), decider, t->expect[i], want);
	}
	if (c.scale_permille != t->end)
		fail_msg("%s: ends at %u, expected %u", t->what, c.scale_permille, t->end);
}

static void test_readings_traces(void **state)
{
	for (size_t i = 0; i < sizeof(readings_traces) / sizeof(readings_traces[0]); i++)
		run_readings_trace(&readings_traces[i]);
}

/*
 * Closed loop: the directory's p90 follows the scale, 20 ms plus 60 ms at
 * full load (80 ms at 1.0, 50 ms at 0.5). With the band the scale goes
 * down once and stays where latency sits in the band; without it, it
 * climbs as soon as latency is at the target and falls again, for ever.
 */
static uint64_t plant(uint32_t scale)
{
	return 20 * MS + 60 * MS * scale / 1000;
}

struct loop_outcome {
	unsigned downs, ups, reversals, last_change;
	uint32_t first_downs[2];	/* ticks of the first two decreases */
};

static struct loop_outcome close_loop(uint32_t band, bool keep_window, unsigned ticks)
{
	struct mxg_tuner_params p = defaults;
	struct loop_outcome o = { 0 };
	enum mxg_control_step last = MXG_CONTROL_HOLD;
	struct loop l;

	p.band_permille = band;
	loop_init(&l, &p, 0);
	l.keep_window = keep_window;
	for (unsigned t = 0; t < ticks; t++) {
		enum mxg_control_step s = loop_interval(&l, plant(l.c.scale_permille));

		if (s == MXG_CONTROL_HOLD)
			continue;
		if (s == MXG_CONTROL_DOWN && o.downs < 2)
			o.first_downs[o.downs] = t;
		o.downs += s == MXG_CONTROL_DOWN;
		o.ups += s == MXG_CONTROL_UP;
		o.reversals += last != MXG_CONTROL_HOLD && s != last;
		o.last_change = t;
		last = s;
	}
	return o;
}

static void test_no_oscillation(void **state)
{
	struct loop_outcome o = close_loop(800, false, 300);

	/* One decrease, at the fifth probe (the first with a reading). */
	assert_int_equal(o.downs, 1);
	assert_int_equal(o.first_downs[0], 4);
	assert_int_equal(o.ups, 0);
	assert_int_equal(o.last_change, 4);

	/* Without the band: a saw-tooth through the whole run. */
	o = close_loop(1000, false, 300);
	assert_true(o.downs >= 20);
	assert_true(o.ups >= 20);
	assert_true(o.reversals >= 40);
	assert_true(o.last_change >= 290);
}

/* Why the window starts again after a decrease: the probes taken before
 * it would otherwise still read over when the cooldown ends, and the
 * same step of load would be cut twice (0.25, where 0.5 was enough). */
static void test_window_restart(void **state)
{
	struct loop_outcome o = close_loop(800, true, 300);

	assert_true(o.downs >= 2);
	assert_int_equal(o.first_downs[0], 4);
	assert_int_equal(o.first_downs[1], 9);
}

static void test_step_edges(void **state)
{
	struct mxg_class_control c = { 0 };
	struct mxg_tuner_params p = defaults;
	enum mxg_reading over = MXG_READING_OVER, under = MXG_READING_UNDER;
	int decider = 42;

	/* No readings at all: hold. */
	c.scale_permille = 500;
	assert_int_equal(mxg_control_step(&c, &p, 1, NULL, 0, &decider), MXG_CONTROL_HOLD);
	assert_int_equal(decider, -1);
	assert_int_equal(c.scale_permille, 500);

	/* A zeroed state is 1.0, as mxg_tuning's 0 is. */
	memset(&c, 0, sizeof(c));
	assert_int_equal(mxg_control_step(&c, &p, 7, &over, 1, &decider), MXG_CONTROL_DOWN);
	assert_int_equal(c.scale_permille, 500);
	assert_true(c.decreased);
	assert_int_equal(c.last_decrease_tick, 7);

	/* A tick count that went backwards is no endless cooldown. */
	assert_int_equal(mxg_control_step(&c, &p, 3, &under, 1, &decider), MXG_CONTROL_UP);
	assert_int_equal(c.scale_permille, 550);
	/* The cooldown ends at last decrease + cooldown_ticks exactly. */
	assert_int_equal(mxg_control_step(&c, &p, 11, &over, 1, &decider), MXG_CONTROL_HOLD);
	assert_int_equal(decider, 0);
	assert_int_equal(mxg_control_step(&c, &p, 12, &over, 1, &decider), MXG_CONTROL_DOWN);
	assert_int_equal(c.scale_permille, 275);
	assert_int_equal(mxg_control_step(&c, &p, 16, &under, 1, &decider), MXG_CONTROL_HOLD);
	assert_int_equal(decider, -1);
	assert_int_equal(mxg_control_step(&c, &p, 17, &under, 1, &decider), MXG_CONTROL_UP);
	assert_int_equal(c.scale_permille, 325);

	/* No cooldown: every interval over halves. */
	p.cooldown_ticks = 0;
	c = (struct mxg_class_control){ .scale_permille = 1000 };
	for (uint64_t t = 0; t < 3; t++)
		assert_int_equal(mxg_control_step(&c, &p, t, &over, 1, &decider),
				 MXG_CONTROL_DOWN);
	assert_int_equal(c.scale_permille, 125);

	/* A floor raised above the scale (a reload): over holds, under climbs. */
	p.floor_permille = 200;
	assert_int_equal(mxg_control_step(&c, &p, 10, &over, 1, &decider), MXG_CONTROL_HOLD);
	assert_int_equal(c.scale_permille, 125);
	assert_int_equal(mxg_control_step(&c, &p, 11, &under, 1, &decider), MXG_CONTROL_UP);
	assert_int_equal(c.scale_permille, 175);

	/* Gains out of their range neither wrap nor move the wrong way. */
	p.increase_permille = UINT32_MAX;
	assert_int_equal(mxg_control_step(&c, &p, 12, &under, 1, &decider), MXG_CONTROL_UP);
	assert_int_equal(c.scale_permille, 1000);
	p.decrease_permille = 1000;
	assert_int_equal(mxg_control_step(&c, &p, 13, &over, 1, &decider), MXG_CONTROL_HOLD);
	assert_int_equal(c.scale_permille, 1000);
	p.increase_permille = 0;
	c.scale_permille = 500;
	assert_int_equal(mxg_control_step(&c, &p, 14, &under, 1, &decider), MXG_CONTROL_HOLD);
	assert_int_equal(c.scale_permille, 500);
}

static void test_reading_of(void **state)
{
	/* target 50 ms, band 0.8: under at or below 40 ms. */
	assert_int_equal(mxg_reading_of(40 * MS, TARGET, 800), MXG_READING_UNDER);
	assert_int_equal(mxg_reading_of(40 * MS + 1, TARGET, 800), MXG_READING_NEAR);
	assert_int_equal(mxg_reading_of(TARGET, TARGET, 800), MXG_READING_NEAR);
	assert_int_equal(mxg_reading_of(TARGET + 1, TARGET, 800), MXG_READING_OVER);
	assert_int_equal(mxg_reading_of(0, TARGET, 800), MXG_READING_UNDER);
	/* No band: nothing is near. */
	assert_int_equal(mxg_reading_of(TARGET, TARGET, 1000), MXG_READING_UNDER);
	/* Target 0: anything above it is over. */
	assert_int_equal(mxg_reading_of(0, 0, 800), MXG_READING_UNDER);
	assert_int_equal(mxg_reading_of(1, 0, 800), MXG_READING_OVER);
	/* A huge target does not wrap its band. */
	assert_int_equal(mxg_reading_of(UINT64_MAX / 2, UINT64_MAX, 800), MXG_READING_UNDER);
	assert_int_equal(mxg_reading_of(UINT64_MAX - 1, UINT64_MAX, 800), MXG_READING_NEAR);
	assert_int_equal(mxg_reading_of(UINT64_MAX, UINT64_MAX, 800), MXG_READING_NEAR);
	/* Descriptors: 58 usable, under at 46. */
	assert_int_equal(mxg_reading_of(46, 58, 800), MXG_READING_UNDER);
	assert_int_equal(mxg_reading_of(47, 58, 800), MXG_READING_NEAR);
	assert_int_equal(mxg_reading_of(59, 58, 800), MXG_READING_OVER);
}

static void test_window(void **state)
{
	struct mxg_window w;
	uint64_t v = 0;

	/* Half the window, rounded up, before a reading. */
	mxg_window_init(&w, 10);
	for (unsigned i = 1; i <= 4; i++) {
		mxg_window_add(&w, i);
		assert_int_equal(mxg_window_percentile(&w, 90, &v), -EAGAIN);
	}
	mxg_window_add(&w, 5);
	assert_int_equal(mxg_window_percentile(&w, 90, &v), 0);
	assert_int_equal(v, 5);	/* rank ceil(4.5) = 5 of 5 */
	for (unsigned i = 6; i <= 10; i++)
		mxg_window_add(&w, i);
	assert_int_equal(mxg_window_percentile(&w, 90, &v), 0);
	assert_int_equal(v, 9);	/* rank 9 of 10 */
	assert_int_equal(mxg_window_percentile(&w, 50, &v), 0);
	assert_int_equal(v, 5);
	assert_int_equal(mxg_window_percentile(&w, 100, &v), 0);
	assert_int_equal(v, 10);
	assert_int_equal(mxg_window_percentile(&w, 1, &v), 0);
	assert_int_equal(v, 1);
	assert_int_equal(mxg_window_percentile(&w, 0, &v), -EINVAL);
	assert_int_equal(mxg_window_percentile(&w, 101, &v), -EINVAL);

	/* Wrapping: the oldest goes first; order of arrival does not matter. */
	mxg_window_add(&w, 100);	/* replaces 1 */
	assert_int_equal(mxg_window_percentile(&w, 1, &v), 0);
	assert_int_equal(v, 2);
	assert_int_equal(mxg_window_percentile(&w, 90, &v), 0);
	assert_int_equal(v, 10);
	for (unsigned i = 0; i < 9; i++)
		mxg_window_add(&w, 7);
	assert_int_equal(mxg_window_percentile(&w, 90, &v), 0);
	assert_int_equal(v, 7);	/* 100 is the only one above */
	assert_int_equal(mxg_window_percentile(&w, 100, &v), 0);
	assert_int_equal(v, 100);

	/* Sizes 1, 3, 64, and out of range clamped. */
	mxg_window_init(&w, 1);
	assert_int_equal(mxg_window_percentile(&w, 90, &v), -EAGAIN);
	mxg_window_add(&w, 3);
	mxg_window_add(&w, 4);
	assert_int_equal(mxg_window_percentile(&w, 90, &v), 0);
	assert_int_equal(v, 4);
	mxg_window_init(&w, 3);
	mxg_window_add(&w, 3);
	assert_int_equal(mxg_window_percentile(&w, 90, &v), -EAGAIN);
	mxg_window_add(&w, 1);
	assert_int_equal(mxg_window_percentile(&w, 90, &v), 0);
	assert_int_equal(v, 3);
	mxg_window_init(&w, 64);
	for (unsigned i = 64; i >= 1; i--) {
		mxg_window_add(&w, i);
		assert_int_equal(mxg_window_percentile(&w, 90, &v),
				 64 - i + 1 < 32 ? -EAGAIN : 0);
	}
	assert_int_equal(v, 58);	/* ceil(57.6) */
	mxg_window_init(&w, 0);
	assert_int_equal(w.size, 1);
	/* A window never initialised takes nothing and reads nothing. */
	memset(&w, 0, sizeof(w));
	mxg_window_add(&w, 5);
	assert_int_equal(w.n, 0);
	assert_int_equal(mxg_window_percentile(&w, 90, &v), -EINVAL);
	mxg_window_init(&w, 1000);
	assert_int_equal(w.size, MXG_WINDOW_MAX);
}

static void test_descriptor_cap(void **state)
{
	/* 1024 descriptors, 10% reserve: 922 usable, 100 in use, 10 ours. */
	assert_int_equal(mxg_descriptor_cap(10, 100, 1024, 102), 10 + 822);
	/* Exactly at the reserve: what the class holds, no more. */
	assert_int_equal(mxg_descriptor_cap(40, 922, 1024, 102), 40);
	/* Into the reserve, and past the limit: no wrap, what it holds. */
	assert_int_equal(mxg_descriptor_cap(40, 1000, 1024, 102), 40);
	assert_int_equal(mxg_descriptor_cap(40, 5000, 1024, 102), 40);
	/* A reserve larger than the limit. */
	assert_int_equal(mxg_descriptor_cap(3, 10, 64, 100), 3);
	/* Unlimited: the largest cap, not a wrapped small one. */
	assert_int_equal(mxg_descriptor_cap(10, 100, UINT64_MAX, 102), UINT32_MAX);
	assert_int_equal(mxg_descriptor_cap(UINT64_MAX, 0, UINT64_MAX, 0), UINT32_MAX);
	assert_int_equal(mxg_descriptor_cap(1ULL << 40, 0, 64, 6), UINT32_MAX);
	/* Zero connections: the free ones, and never 0 (no cap at all). */
	assert_int_equal(mxg_descriptor_cap(0, 20, 64, 6), 38);
	assert_int_equal(mxg_descriptor_cap(0, 58, 64, 6), 1);
	assert_int_equal(mxg_descriptor_cap(0, 64, 64, 6), 1);
	assert_int_equal(mxg_descriptor_cap(0, 0, 0, 0), 1);
	/* No reserve: up to the limit itself. */
	assert_int_equal(mxg_descriptor_cap(5, 60, 64, 0), 9);
}

/* bpf/tuning.h: what the BPF programs judge by. */
static const struct mxg_class configured = {
	.interval_ns = 100 * MS,	/* 10/s */
	.tolerance_ns = 100 * MS * 19,
	.burst = 20,
	.source_conns = 10,
	.total_conns = 100,
};

static struct mxg_limits_now effective(const struct mxg_class *cls,
				       uint32_t scale, uint32_t cap)
{
	struct mxg_tuning t = { .scale_permille = scale, .total_conns_cap = cap };
	struct mxg_limits_now out;

	memset(&out, 0xa5, sizeof(out));
	mxg_limits_effective(cls, &t, &out);
	return out;
}

static void assert_configured(const struct mxg_class *cls, const struct mxg_limits_now *l)
{
	assert_int_equal(l->interval_ns, cls->interval_ns);
	assert_int_equal(l->tolerance_ns, cls->tolerance_ns);
	assert_int_equal(l->burst, cls->burst);
	assert_int_equal(l->source_conns, cls->source_conns);
	assert_int_equal(l->total_conns, cls->total_conns);
}

static void test_limits_effective(void **state)
{
	struct mxg_limits_now l;
	struct mxg_class cls;

	/* 0, 1000, no record, or above 1000: as configured. */
	l = effective(&configured, 0, 0);
	assert_configured(&configured, &l);
	l = effective(&configured, 1000, 0);
	assert_configured(&configured, &l);
	l = effective(&configured, 1500, 0);
	assert_configured(&configured, &l);
	mxg_limits_effective(&configured, NULL, &l);
	assert_configured(&configured, &l);

	/* 0.5: half the rate (twice the interval), half of each count. */
	l = effective(&configured, 500, 0);
	assert_int_equal(l.interval_ns, 200 * MS);
	assert_int_equal(l.burst, 10);
	assert_int_equal(l.tolerance_ns, 200 * MS * 9);
	assert_int_equal(l.source_conns, 5);
	assert_int_equal(l.total_conns, 50);

	/* 0.1: the set limits never below 1. */
	cls = configured;
	cls.burst = 5;
	cls.tolerance_ns = cls.interval_ns * 4;
	cls.source_conns = 3;
	cls.total_conns = 9;
	l = effective(&cls, 100, 0);
	assert_int_equal(l.interval_ns, 1000 * MS);
	assert_int_equal(l.burst, 1);
	assert_int_equal(l.tolerance_ns, 0);
	assert_int_equal(l.source_conns, 1);
	assert_int_equal(l.total_conns, 1);
	l = effective(&cls, 1, 0);
	assert_int_equal(l.burst, 1);
	assert_int_equal(l.interval_ns, 1000 * 100 * MS);

	/* Unset limits stay unset; no rate stays no rate. */
	cls = configured;
	cls.interval_ns = 0;
	cls.tolerance_ns = 0;
	cls.source_conns = 0;
	cls.total_conns = 0;
	l = effective(&cls, 500, 0);
	assert_int_equal(l.interval_ns, 0);
	assert_int_equal(l.tolerance_ns, 0);
	assert_int_equal(l.source_conns, 0);
	assert_int_equal(l.total_conns, 0);
	assert_int_equal(l.burst, 10);

	/* The cap: lowers total_conns, applies where it is unset, never
	 * raises it, and scale and cap combine (the lower wins). */
	l = effective(&configured, 0, 30);
	assert_int_equal(l.total_conns, 30);
	assert_int_equal(l.source_conns, 10);
	l = effective(&configured, 0, 300);
	assert_int_equal(l.total_conns, 100);
	l = effective(&cls, 0, 30);
	assert_int_equal(l.total_conns, 30);
	l = effective(&configured, 500, 60);
	assert_int_equal(l.total_conns, 50);
	l = effective(&configured, 500, 40);
	assert_int_equal(l.total_conns, 40);
	l = effective(&configured, 0, 1);
	assert_int_equal(l.total_conns, 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_latency_traces),
		cmocka_unit_test(test_readings_traces),
		cmocka_unit_test(test_no_oscillation),
		cmocka_unit_test(test_window_restart),
		cmocka_unit_test(test_step_edges),
		cmocka_unit_test(test_reading_of),
		cmocka_unit_test(test_window),
		cmocka_unit_test(test_descriptor_cap),
		cmocka_unit_test(test_limits_effective),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
