/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Unit tests for user/metrics.c's renderer: the document is the text
 * exposition format (each family's # HELP and # TYPE once, before its
 * samples; names and label values as the format allows), the names keep
 * Prometheus's conventions (counters end in _total), label values are
 * escaped, and the figures are the snapshot's, under the names stats
 * uses. promtool checks a live document in tests/integration/test_metrics.sh.
 */
#include <errno.h>
#include <regex.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "metrics.h"

#include "unit/unit.h"

static char *render(const struct mxg_metrics_snap *s)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	assert_non_null(f);
	assert_int_equal(mxg_metrics_render(s, f), 0);
	assert_int_equal(fclose(f), 0);
	return buf;
}

static void snap_example(struct mxg_metrics_snap *s)
{
	memset(s, 0, sizeof(*s));
	strcpy(s->classes[0].name, "smtp");
	strcpy(s->classes[2].name, "ldap");
	s->stats[0].count[MXG_PASS] = 10;
	s->stats[0].count[MXG_PASS_ALLOW] = 2;
	s->stats[0].count[MXG_DROP_RATE] = 7;
	s->stats[2].count[MXG_DROP_NEW_SOURCE] = 3;
	s->stats[MXG_STATS_GLOBAL].count[MXG_GLOBAL_MALFORMED] = 5;
	s->stats[MXG_STATS_GLOBAL].count[MXG_GLOBAL_SOURCES_CREATED] = 99;
	s->stats[MXG_STATS_GLOBAL].count[MXG_GLOBAL_EVENTS_LOST] = 4;
	s->conns[0] = 6;
	s->rcpt.count[MXG_RCPT_UNKNOWN] = 8;
	s->rcpt.count[MXG_RCPT_PENALIZED] = 1;
	s->map_entries[MXG_MM_SOURCES] = 99;
	s->map_capacity[MXG_MM_SOURCES] = 4096;
	s->bans_by_origin[MXG_ORIGIN_INSPECT] = 2;
	s->bans_by_origin[MXG_ORIGIN_FLEET] = 3;
	s->daemon[MXG_DAEMON_LOOKUP_TEMP] = 12;
	/* An interface name with every byte the format escapes. */
	memcpy(s->links[3].ifname, "e\"t\\h\n0", 8);
	s->links[3].mode = MXG_LINK_TC;
	strcpy(s->links[5].ifname, "eth1");
	s->links[5].mode = MXG_LINK_XDP_NATIVE;
	s->tuning[0].scale_permille = 500;
	s->mono_ns = 1000ULL * 1000000000ULL;
	s->real_ns = 1700000000ULL * 1000000000ULL;
}

static bool has_line(const char *doc, const char *line)
{
	size_t n = strlen(line);

	for (const char *p = doc; (p = strstr(p, line)); p++)
		if ((p == doc || p[-1] == '\n') && p[n] == '\n')
			return true;
	return false;
}

/* The format, line by line: comments are HELP then TYPE of a family not
 * seen before; a sample belongs to the family declared last (a counter's
 * samples carry its _total name) and its value is a number. */
static void check_format(const struct mxg_metrics_snap *s)
{
	regex_t sample_re, name_re;
	char family[128] = "", type[16] = "", seen[8192] = " ";
	char *doc, *save = NULL;
	unsigned samples = 0;

	assert_int_equal(regcomp(&sample_re,
		"^([a-zA-Z_:][a-zA-Z0-9_:]*)"
		"(\\{[a-zA-Z_][a-zA-Z0-9_]*=\"([^\"\\\\]|\\\\[\"\\\\n])*\""
		"(,[a-zA-Z_][a-zA-Z0-9_]*=\"([^\"\\\\]|\\\\[\"\\\\n])*\")*\\})?"
		" (-?[0-9]+(\\.[0-9]+)?(e[-+]?[0-9]+)?|\\+Inf|NaN)$",
		REG_EXTENDED), 0);
	assert_int_equal(regcomp(&name_re, "^mxguard_[a-z0-9_]+$", REG_EXTENDED | REG_NOSUB), 0);
	doc = render(s);
	assert_true(strlen(doc) > 0 && doc[strlen(doc) - 1] == '\n');
	for (char *line = strtok_r(doc, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		char name[128], t[16], key[140];
		regmatch_t m[2];

		if (!strncmp(line, "# HELP ", 7)) {
			assert_int_equal(sscanf(line + 7, "%127s", name), 1);
			assert_int_equal(regexec(&name_re, name, 0, NULL, 0), 0);
			snprintf(key, sizeof(key), " %s ", name);
			if (strstr(seen, key))
				fail_msg("family %s declared twice", name);
			assert_true(strlen(seen) + strlen(key) < sizeof(seen));
			strcat(seen, key + 1);
			strcpy(family, name);
			type[0] = '\0';
			continue;
		}
		if (!strncmp(line, "# TYPE ", 7)) {
			assert_int_equal(sscanf(line + 7, "%127s %15s", name, t), 2);
			assert_string_equal(name, family);
			assert_true(!strcmp(t, "counter") || !strcmp(t, "gauge"));
			strcpy(type, t);
			/* Counters are _total, gauges never. */
			assert_int_equal(!strcmp(t, "counter"),
					 strlen(name) > 6 &&
					 !strcmp(name + strlen(name) - 6, "_total"));
			continue;
		}
		if (regexec(&sample_re, line, 2, m, 0))
			fail_msg("not a sample line: '%s'", line);
		assert_true(type[0]);
		snprintf(name, sizeof(name), "%.*s", (int)(m[1].rm_eo - m[1].rm_so), line);
		assert_string_equal(name, family);
		samples++;
	}
	assert_true(samples > 40);
	regfree(&sample_re);
	regfree(&name_re);
	free(doc);
}

static void test_format(void **state)
{
	struct mxg_metrics_snap s;

	snap_example(&s);
	check_format(&s);
	/* With a fleet that runs, every family of it has samples. */
	s.fleet.state = MXG_FLEET_REFRESHING;
	s.fleet.mode = MXG_SYNC_SYNCREPL;
	strcpy(s.fleet.error, "a \"quoted\" error\nover two lines");
	check_format(&s);
}

/* The figures under stats' names, and the labels of the bounded sets. */
static void test_figures(void **state)
{
	struct mxg_metrics_snap s;
	char *doc;

	snap_example(&s);
	doc = render(&s);
	assert_true(has_line(doc, "mxguard_syns_passed_total{class=\"smtp\"} 12"));
	assert_true(has_line(doc, "mxguard_syns_allowed_total{class=\"smtp\"} 2"));
	assert_true(has_line(doc, "mxguard_syns_dropped_total{class=\"smtp\",reason=\"rate\"} 7"));
	assert_true(has_line(doc, "mxguard_syns_dropped_total{class=\"ldap\",reason=\"new_source\"} 3"));
	assert_true(has_line(doc, "mxguard_syns_dropped_total{class=\"ldap\",reason=\"deny\"} 0"));
	/* Unused class slots have no samples. */
	assert_null(strstr(doc, "class=\"\""));
	assert_true(has_line(doc, "mxguard_malformed_frames_total 5"));
	assert_true(has_line(doc, "mxguard_events_lost_total 4"));
	assert_true(has_line(doc, "mxguard_connections{class=\"smtp\"} 6"));
	assert_true(has_line(doc, "mxguard_sources_tracked 99"));
	assert_true(has_line(doc, "mxguard_sources_created_total 99"));
	assert_true(has_line(doc, "mxguard_map_capacity{map=\"sources\"} 4096"));
	assert_true(has_line(doc, "mxguard_recipients_total{result=\"unknown\"} 8"));
	assert_true(has_line(doc, "mxguard_penalized_total 1"));
	assert_true(has_line(doc, "mxguard_penalty_box_entries{origin=\"inspect\"} 2"));
	assert_true(has_line(doc, "mxguard_penalty_box_entries{origin=\"fleet\"} 3"));
	assert_true(has_line(doc, "mxguard_penalty_box_entries{origin=\"cli\"} 0"));
	assert_null(strstr(doc, "origin=\"unknown\""));
	assert_true(has_line(doc, "mxguard_lookups_total{result=\"temp\"} 12"));
	assert_true(has_line(doc, "mxguard_program_attached{interface=\"e\\\"t\\\\h\\n0\",mode=\"tc\"} 1"));
	assert_true(has_line(doc, "mxguard_program_attached{interface=\"eth1\",mode=\"xdp\"} 1"));
	assert_true(has_line(doc, "mxguard_programs_attached 2"));
	assert_true(has_line(doc, "mxguard_tuner_scale_ratio{class=\"smtp\"} 0.5"));
	assert_true(has_line(doc, "mxguard_tuner_scale_ratio{class=\"ldap\"} 1"));
	assert_true(has_line(doc, "mxguard_tuner_enabled 0"));
	/* No [ldap]: the mode says so, and nothing can alert on a mirror
	 * that does not exist. */
	assert_true(has_line(doc, "mxguard_mirror_sync_mode{mode=\"none\"} 1"));
	assert_null(strstr(doc, "\nmxguard_mirror_ready "));
	assert_null(strstr(doc, "\nmxguard_tuner_signal_value{"));
	/* No [fleet]: its state says off, nothing can alert on staleness
	 * or pending writes; the counters are there (zero). */
	assert_true(has_line(doc, "mxguard_fleet_state{state=\"off\"} 1"));
	assert_true(has_line(doc, "mxguard_fleet_state{state=\"synced\"} 0"));
	assert_null(strstr(doc, "\nmxguard_fleet_age_seconds "));
	assert_null(strstr(doc, "\nmxguard_fleet_pending_changes "));
	assert_null(strstr(doc, "\nmxguard_fleet_sync_mode{"));
	assert_true(has_line(doc, "mxguard_fleet_publish_errors_total 0"));
	assert_true(has_line(doc, "mxguard_fleet_last_error_timestamp_seconds 0"));
	free(doc);
}

/* The fleet's families: a state set over the four states, the record's
 * figures, never a host, a server or a prefix as a label. */
static void test_fleet(void **state)
{
	struct mxg_metrics_snap s;
	unsigned states = 0;
	char *doc;

	snap_example(&s);
	s.fleet.state = MXG_FLEET_SYNCED;
	s.fleet.mode = MXG_SYNC_SYNCREPL;
	s.fleet.synced_ns = s.mono_ns - 2ULL * 1000000000ULL;
	s.fleet.peer_entries = 7;
	s.fleet.applied = 5;
	s.fleet.refused = 2;
	s.fleet.published = 4;
	s.fleet.pending = 1;
	s.fleet.publish_errors = 9;
	s.fleet.error_s = 1699999900;
	strcpy(s.fleet.host, "mx1.example.org");
	strcpy(s.fleet.server, "ldap://dir1.example.org/");
	strcpy(s.fleet.error, "cannot add cn=198.51.100.7/32: Insufficient access");
	doc = render(&s);
	assert_true(has_line(doc, "mxguard_fleet_state{state=\"off\"} 0"));
	assert_true(has_line(doc, "mxguard_fleet_state{state=\"connecting\"} 0"));
	assert_true(has_line(doc, "mxguard_fleet_state{state=\"refreshing\"} 0"));
	assert_true(has_line(doc, "mxguard_fleet_state{state=\"synced\"} 1"));
	for (const char *p = doc; (p = strstr(p, "\nmxguard_fleet_state{")); p++)
		states++;
	assert_int_equal(states, 4);
	assert_true(has_line(doc, "mxguard_fleet_sync_mode{mode=\"syncrepl\"} 1"));
	assert_true(has_line(doc, "mxguard_fleet_age_seconds 2"));
	assert_true(has_line(doc, "mxguard_fleet_last_sync_timestamp_seconds 1699999998"));
	assert_true(has_line(doc, "mxguard_fleet_peer_entries 7"));
	assert_true(has_line(doc, "mxguard_fleet_applied_bans 5"));
	assert_true(has_line(doc, "mxguard_fleet_refused_total 2"));
	assert_true(has_line(doc, "mxguard_fleet_published_entries 4"));
	assert_true(has_line(doc, "mxguard_fleet_pending_changes 1"));
	assert_true(has_line(doc, "mxguard_fleet_publish_errors_total 9"));
	assert_true(has_line(doc, "mxguard_fleet_last_error_timestamp_seconds 1699999900"));
	/* Unbounded values stay out of the document. */
	assert_null(strstr(doc, "mx1.example.org"));
	assert_null(strstr(doc, "dir1.example.org"));
	assert_null(strstr(doc, "198.51.100.7"));
	free(doc);

	/* Connecting, never confirmed. */
	s.fleet.state = MXG_FLEET_CONNECTING;
	s.fleet.mode = MXG_SYNC_POLL;
	s.fleet.synced_ns = 0;
	doc = render(&s);
	assert_true(has_line(doc, "mxguard_fleet_state{state=\"connecting\"} 1"));
	assert_true(has_line(doc, "mxguard_fleet_state{state=\"synced\"} 0"));
	assert_true(has_line(doc, "mxguard_fleet_sync_mode{mode=\"poll\"} 1"));
	assert_true(has_line(doc, "mxguard_fleet_age_seconds +Inf"));
	assert_true(has_line(doc, "mxguard_fleet_last_sync_timestamp_seconds 0"));
	free(doc);
}

static void test_mirror_and_tuner(void **state)
{
	struct mxg_metrics_snap s;
	char *doc;

	snap_example(&s);
	s.mirror.mode = MXG_SYNC_POLL;
	s.mirror.entries = 42;
	s.mirror.max_age_ns = 600ULL * 1000000000ULL;
	s.mirror.synced_ns = s.mono_ns - 30ULL * 1000000000ULL;
	s.mirror_ready = true;
	s.daemon[MXG_DAEMON_MIRROR_ERRORS] = 3;
	s.daemon[MXG_DAEMON_MIRROR_ERROR_TIME] = 1699999000;
	s.tuner.enabled = 1;
	s.tuner.signals[MXG_SIGNAL_LATENCY].reading = MXG_READING_OVER;
	s.tuner.signals[MXG_SIGNAL_LATENCY].value = 250000000;	/* 250 ms */
	s.tuner.signals[MXG_SIGNAL_LATENCY].target = 100000000;
	s.tuner.signals[MXG_SIGNAL_CPU].reading = MXG_READING_UNDER;
	s.tuner.signals[MXG_SIGNAL_CPU].value = 1250;		/* 12.5 % */
	doc = render(&s);
	assert_true(has_line(doc, "mxguard_mirror_sync_mode{mode=\"poll\"} 1"));
	assert_true(has_line(doc, "mxguard_mirror_ready 1"));
	assert_true(has_line(doc, "mxguard_mirror_error 1"));	/* not connected */
	assert_true(has_line(doc, "mxguard_mirror_entries 42"));
	assert_true(has_line(doc, "mxguard_mirror_age_seconds 30"));
	assert_true(has_line(doc, "mxguard_mirror_last_sync_timestamp_seconds 1699999970"));
	assert_true(has_line(doc, "mxguard_mirror_max_age_seconds 600"));
	assert_true(has_line(doc, "mxguard_mirror_errors_total 3"));
	assert_true(has_line(doc, "mxguard_mirror_last_error_timestamp_seconds 1699999000"));
	assert_true(has_line(doc, "mxguard_tuner_enabled 1"));
	assert_true(has_line(doc, "mxguard_tuner_signal_value{signal=\"latency\"} 0.25"));
	assert_true(has_line(doc, "mxguard_tuner_signal_target{signal=\"latency\"} 0.1"));
	assert_true(has_line(doc, "mxguard_tuner_signal_reading{signal=\"latency\",reading=\"over\"} 1"));
	assert_true(has_line(doc, "mxguard_tuner_signal_value{signal=\"cpu_pressure\"} 0.125"));
	/* Signals that are off have no samples. */
	assert_null(strstr(doc, "signal=\"descriptors\""));
	free(doc);

	s.mirror.synced_ns = 0;	/* never synced */
	doc = render(&s);
	assert_true(has_line(doc, "mxguard_mirror_age_seconds +Inf"));
	assert_true(has_line(doc, "mxguard_mirror_last_sync_timestamp_seconds 0"));
	free(doc);
}

static void test_escape(void **state)
{
	char out[64];

	assert_int_equal(mxg_metrics_escape("plain", out, sizeof(out)), 5);
	assert_string_equal(out, "plain");
	assert_int_equal(mxg_metrics_escape("a\"b\\c\nd", out, sizeof(out)), 10);
	assert_string_equal(out, "a\\\"b\\\\c\\nd");
	/* Truncated, always terminated, the length it needs returned. */
	assert_int_equal(mxg_metrics_escape("\"\"\"", out, 4), 6);
	assert_string_equal(out, "\\\"\\");
	assert_int_equal(mxg_metrics_escape("", out, sizeof(out)), 0);
	assert_string_equal(out, "");
}

/* A map that cannot be read fails the whole scrape, with its name: the
 * endpoint answers 500 with this reason, never a partial document. */
static void test_collect_fails_whole(void **state)
{
	struct mxg_maps m = MXG_MAPS_INIT;
	char err[256] = "", *text = (char *)"x";
	size_t len = 1;

	assert_int_equal(mxg_metrics_collect(&m, &text, &len, err, sizeof(err)), -EBADF);
	assert_null(text);
	assert_int_equal(len, 0);
	assert_non_null(strstr(err, "cannot read mxg_classes: "));
	assert_null(strchr(err, '\n'));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_format),
		cmocka_unit_test(test_figures),
		cmocka_unit_test(test_mirror_and_tuner),
		cmocka_unit_test(test_fleet),
		cmocka_unit_test(test_escape),
		cmocka_unit_test(test_collect_fails_whole),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
