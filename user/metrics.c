/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The metrics of metrics.h: read the pinned maps into a snapshot, then
 * render it. Every family is written with its # HELP and # TYPE even when
 * it has no sample, so a dashboard finds the name; names follow
 * Prometheus's conventions (mxguard_ prefix, _total counters, seconds,
 * ratios in 0..1) and labels take bounded sets only: class, reason,
 * result, map, interface, mode, signal, origin, state; never an address,
 * a prefix or a host name (the fleet's peers are in ban list, not here).
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <bpf/bpf.h>
#include "metrics.h"
#include "names.h"
#include "rcpt.h"
#include "recipients.h"

#ifndef MXG_VERSION
#define MXG_VERSION "unknown"
#endif

#define NS_PER_S 1e9

/* ---- reading ---- */

static const char *const map_names[MXG_MM_COUNT] = {
	[MXG_MM_SOURCES] = "sources",
	[MXG_MM_CONNS] = "conns",
	[MXG_MM_ALLOW] = "allow",
	[MXG_MM_DENY] = "deny",
	[MXG_MM_BANS] = "bans",
};

static uint64_t clock_ns(clockid_t clk)
{
	struct timespec ts;

	clock_gettime(clk, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static int capacity(int fd, uint64_t *out)
{
	struct bpf_map_info info = {};
	__u32 len = sizeof(info);

	if (bpf_obj_get_info_by_fd(fd, &info, &len))
		return -errno;
	*out = info.max_entries;
	return 0;
}

/* The bans, and how many of each origin. */
struct ban_count {
	uint64_t n, *by_origin;
};

static int count_ban(const struct mxg_lpm_key *key, const void *value, void *ctx)
{
	const struct mxg_ban *ban = value;
	struct ban_count *c = ctx;

	c->n++;
	c->by_origin[ban->origin < MXG_METRICS_ORIGINS ? ban->origin : 0]++;
	return 0;
}

static int count_keys(int fd, size_t key_size, uint64_t *n,
		      uint64_t by_origin[MXG_METRICS_ORIGINS])
{
	struct ban_count c = { 0, by_origin };
	int ret;

	if (!by_origin)
		return mxg_map_count(fd, key_size, n);
	ret = mxg_lpm_foreach(fd, sizeof(struct mxg_ban), count_ban, &c);
	*n = c.n;
	return ret;
}

static int read_daemon(const struct mxg_maps *m, uint64_t out[MXG_DAEMON_COUNTERS])
{
	for (__u32 k = 0; k < MXG_DAEMON_COUNTERS; k++)
		if (bpf_map_lookup_elem(m->daemon, &k, &out[k]))
			return -errno;
	return 0;
}

static int read_tuner(const struct mxg_maps *m, struct mxg_tuner_state *out)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(m->tuner, &zero, out) ? -errno : 0;
}

/* Not pinned by a guard of an earlier version: then off (all zero). */
static int read_fleet(const struct mxg_maps *m, struct mxg_fleet *out)
{
	__u32 zero = 0;

	if (m->fleet < 0)
		return 0;
	return bpf_map_lookup_elem(m->fleet, &zero, out) ? -errno : 0;
}

/* Every array and record, in one pass; *what names the map that failed. */
static int read_records(const struct mxg_maps *m, struct mxg_metrics_snap *s,
			const char **what)
{
	int ret;

	*what = MXG_MAP_NAME(classes);
	ret = mxg_classes_read(m, s->classes);
	if (!ret) {
		*what = MXG_MAP_NAME(stats);
		ret = mxg_stats_read(m, s->stats);
	}
	if (!ret) {
		*what = MXG_MAP_NAME(class_conns);
		ret = mxg_class_conns_read(m, s->conns);
	}
	if (!ret) {
		*what = MXG_MAP_NAME(rcpt_stats);
		ret = mxg_rcpt_stats_read(m, &s->rcpt);
	}
	if (!ret) {
		*what = MXG_MAP_NAME(mirror);
		ret = mxg_mirror_read(m, &s->mirror);
	}
	if (!ret) {
		*what = MXG_MAP_NAME(links);
		ret = mxg_links_read(m, s->links);
	}
	if (!ret) {
		*what = MXG_MAP_NAME(tuning);
		ret = mxg_tuning_read(m, s->tuning);
	}
	if (!ret) {
		*what = MXG_MAP_NAME(tuner);
		ret = read_tuner(m, &s->tuner);
	}
	if (!ret) {
		*what = MXG_MAP_NAME(daemon);
		ret = read_daemon(m, s->daemon);
	}
	if (!ret) {
		*what = MXG_MAP_NAME(fleet);
		ret = read_fleet(m, &s->fleet);
	}
	return ret;
}

int mxg_metrics_read(const struct mxg_maps *m, struct mxg_metrics_snap *s,
		     char *err, size_t errlen)
{
	static const size_t key_size[MXG_MM_COUNT] = {
		[MXG_MM_CONNS] = sizeof(struct mxg_source_key),
		[MXG_MM_ALLOW] = sizeof(struct mxg_lpm_key),
		[MXG_MM_DENY] = sizeof(struct mxg_lpm_key),
		[MXG_MM_BANS] = sizeof(struct mxg_lpm_key),
	};
	const int fds[MXG_MM_COUNT] = {
		[MXG_MM_SOURCES] = m->sources, [MXG_MM_CONNS] = m->conns,
		[MXG_MM_ALLOW] = m->allow, [MXG_MM_DENY] = m->deny,
		[MXG_MM_BANS] = m->bans,
	};
	const char *what;
	uint64_t created;
	int ret;

	memset(s, 0, sizeof(*s));
	ret = read_records(m, s, &what);
	for (int i = 0; !ret && i < MXG_MM_COUNT; i++) {
		what = map_names[i];
		ret = capacity(fds[i], &s->map_capacity[i]);
		if (!ret && i != MXG_MM_SOURCES)
			ret = count_keys(fds[i], key_size[i], &s->map_entries[i],
					 i == MXG_MM_BANS ? s->bans_by_origin : NULL);
	}
	if (ret) {
		snprintf(err, errlen, "cannot read %s%s: %s",
			 strncmp(what, "mxg_", 4) ? "mxg_" : "", what,
			 strerror(-ret));
		return ret;
	}
	/* Nothing deletes from mxg_sources, so every entry created is there
	 * until the LRU evicts it for a newer one: never walked. */
	created = s->stats[MXG_STATS_GLOBAL].count[MXG_GLOBAL_SOURCES_CREATED];
	s->map_entries[MXG_MM_SOURCES] =
		created < s->map_capacity[MXG_MM_SOURCES] ?
		created : s->map_capacity[MXG_MM_SOURCES];
	s->mono_ns = mxg_now_ns();
	s->real_ns = clock_ns(CLOCK_REALTIME);
	s->mirror_ready = mxg_mirror_ready(&s->mirror, s->mono_ns);
	return 0;
}

/* ---- rendering ---- */

size_t mxg_metrics_escape(const char *in, char *out, size_t len)
{
	size_t n = 0;

	for (; *in; in++) {
		const char *rep = *in == '\\' ? "\\\\" : *in == '"' ? "\\\"" :
				  *in == '\n' ? "\\n" : NULL;
		char one[2] = { *in, '\0' };

		for (const char *r = rep ? rep : one; *r; r++, n++)
			if (n + 1 < len)
				out[n] = *r;
	}
	if (len)
		out[n < len ? n : len - 1] = '\0';
	return n;
}

static void family(FILE *f, const char *name, const char *type,
		   const char *help)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* One sample; labels is NULL-terminated pairs of name, value. */
static void sample_labels(FILE *f, const char *name, const char *const *labels,
			  double v)
{
	char esc[256];

	fputs(name, f);
	for (int i = 0; labels && labels[i]; i += 2) {
		mxg_metrics_escape(labels[i + 1], esc, sizeof(esc));
		fprintf(f, "%s%s=\"%s\"", i ? "," : "{", labels[i], esc);
	}
	if (labels && labels[0])
		fputc('}', f);
	if (isinf(v))
		fputs(" +Inf\n", f);
	else if (v == (double)(uint64_t)v && v < 1e19)
		fprintf(f, " %" PRIu64 "\n", (uint64_t)v);
	else
		fprintf(f, " %.9g\n", v);
}

static void sample(FILE *f, const char *name, double v)
{
	sample_labels(f, name, NULL, v);
}

static void sample1(FILE *f, const char *name, const char *label,
		    const char *value, double v)
{
	const char *const l[] = { label, value, NULL };

	sample_labels(f, name, l, v);
}

static void sample2(FILE *f, const char *name, const char *l1, const char *v1,
		    const char *l2, const char *v2, double v)
{
	const char *const l[] = { l1, v1, l2, v2, NULL };

	sample_labels(f, name, l, v);
}

/* The class slots in use, by name (the names are bounded: 8 slots). */
#define FOR_CLASS(s, c) \
	for (uint32_t c = 0; c < MXG_MAX_CLASSES; c++) \
		if ((s)->classes[c].name[0])

static void render_verdicts(const struct mxg_metrics_snap *s, FILE *f)
{
	const __u64 *g = s->stats[MXG_STATS_GLOBAL].count;
	static const struct {
		enum mxg_global_counter idx;
		const char *name, *help;
	} globals[] = {
		{ MXG_GLOBAL_MALFORMED, "mxguard_malformed_frames_total",
		  "Frames with a truncated or inconsistent header (stats: malformed)." },
		{ MXG_GLOBAL_FRAGMENT, "mxguard_fragments_total",
		  "Non-first fragments, which cannot be judged (stats: fragments)." },
		{ MXG_GLOBAL_CONNS_UNTRACKED, "mxguard_conns_untracked_total",
		  "Connections not counted because mxg_conns was full (stats: conns_untracked)." },
		{ MXG_GLOBAL_BOGUS, "mxguard_bogus_dropped_total",
		  "Frames dropped as never legitimate (stats: bogus_dropped)." },
		{ MXG_GLOBAL_UNSEEN_DROPPED, "mxguard_unseen_dropped_total",
		  "Frames with the transport out of reach dropped from denied or banned sources (stats: unseen_dropped)." },
		{ MXG_GLOBAL_NEW_RESENT, "mxguard_new_source_resent_total",
		  "New sources admitted when their TCP sent a refused SYN again (stats: new_source_resent)." },
		{ MXG_GLOBAL_EVENTS_LOST, "mxguard_events_lost_total",
		  "Events (penalties, drops) not logged because the ring buffer was full." },
	};

	family(f, "mxguard_syns_passed_total", "counter",
	       "SYNs passed per class, allow-listed included (stats: passed).");
	FOR_CLASS(s, c)
		sample1(f, "mxguard_syns_passed_total", "class", s->classes[c].name,
			(double)(s->stats[c].count[MXG_PASS] +
				 s->stats[c].count[MXG_PASS_ALLOW]));
	family(f, "mxguard_syns_allowed_total", "counter",
	       "SYNs passed per class because the source is on the allow list (stats: allowed).");
	FOR_CLASS(s, c)
		sample1(f, "mxguard_syns_allowed_total", "class", s->classes[c].name,
			(double)s->stats[c].count[MXG_PASS_ALLOW]);
	family(f, "mxguard_syns_dropped_total", "counter",
	       "SYNs dropped per class and reason (stats: dropped).");
	FOR_CLASS(s, c)
		for (size_t d = 0; d < MXG_NDROPS; d++)
			sample2(f, "mxguard_syns_dropped_total", "class",
				s->classes[c].name, "reason",
				mxg_verdict_names[mxg_drop_order[d]],
				(double)s->stats[c].count[mxg_drop_order[d]]);
	for (size_t i = 0; i < sizeof(globals) / sizeof(globals[0]); i++) {
		family(f, globals[i].name, "counter", globals[i].help);
		sample(f, globals[i].name, (double)g[globals[i].idx]);
	}
	family(f, "mxguard_connections", "gauge",
	       "Connections established now per class (stats: conns).");
	FOR_CLASS(s, c)
		sample1(f, "mxguard_connections", "class", s->classes[c].name,
			(double)s->conns[c]);
}

static void render_maps(const struct mxg_metrics_snap *s, FILE *f)
{
	family(f, "mxguard_sources_tracked", "gauge",
	       "Sources in mxg_sources: min(sources created, capacity), never walked.");
	sample(f, "mxguard_sources_tracked", (double)s->map_entries[MXG_MM_SOURCES]);
	family(f, "mxguard_sources_created_total", "counter",
	       "Entries created in mxg_sources (new sources admitted).");
	sample(f, "mxguard_sources_created_total",
	       (double)s->stats[MXG_STATS_GLOBAL].count[MXG_GLOBAL_SOURCES_CREATED]);
	family(f, "mxguard_map_entries", "gauge",
	       "Entries in the maps worth alerting on (sources: as mxguard_sources_tracked).");
	for (int i = 0; i < MXG_MM_COUNT; i++)
		sample1(f, "mxguard_map_entries", "map", map_names[i],
			(double)s->map_entries[i]);
	family(f, "mxguard_map_capacity", "gauge", "The maps' max_entries.");
	for (int i = 0; i < MXG_MM_COUNT; i++)
		sample1(f, "mxguard_map_capacity", "map", map_names[i],
			(double)s->map_capacity[i]);
}

static void render_recipients(const struct mxg_metrics_snap *s, FILE *f)
{
	static const enum mxg_rcpt_counter results[] = {
		MXG_RCPT_KNOWN, MXG_RCPT_UNKNOWN, MXG_RCPT_FOREIGN,
		MXG_RCPT_NOT_JUDGED, MXG_RCPT_INVALID,
	};
	static const struct {
		enum mxg_rcpt_counter idx;
		const char *name, *help;
	} others[] = {
		{ MXG_RCPT_NULL_SENDER, "mxguard_smtp_null_senders_total",
		  "MAIL FROM:<> seen by the SMTP reader (stats: rcpt.null_sender)." },
		{ MXG_RCPT_UNINSPECTABLE, "mxguard_smtp_sessions_uninspectable_total",
		  "SMTP sessions under TLS the reader cannot read (stats: rcpt.uninspectable)." },
		{ MXG_RCPT_PENALIZED, "mxguard_penalized_total",
		  "Sources put in the penalty box by the SMTP reader (stats: rcpt.penalized)." },
		{ MXG_RCPT_DROPPED, "mxguard_smtp_segments_dropped_total",
		  "Segments of unknown recipients only dropped (stats: rcpt.dropped_segments)." },
		{ MXG_RCPT_LOST, "mxguard_smtp_sessions_lost_total",
		  "SMTP sessions no longer followed (stats: rcpt.lost_sessions)." },
		{ MXG_RCPT_OVER_BUDGET, "mxguard_smtp_sessions_over_budget_total",
		  "Of the lost sessions, those over the reader's budget (stats: rcpt.over_budget)." },
	};

	family(f, "mxguard_recipients_total", "counter",
	       "RCPT TO seen by the SMTP reader by result (stats: rcpt.<result>).");
	for (size_t i = 0; i < sizeof(results) / sizeof(results[0]); i++)
		sample1(f, "mxguard_recipients_total", "result",
			mxg_rcpt_counter_names[results[i]],
			(double)s->rcpt.count[results[i]]);
	for (size_t i = 0; i < sizeof(others) / sizeof(others[0]); i++) {
		family(f, others[i].name, "counter", others[i].help);
		sample(f, others[i].name, (double)s->rcpt.count[others[i].idx]);
	}
	family(f, "mxguard_penalty_box_entries", "gauge",
	       "Bans in the penalty box now, by who put them there (fleet: a peer's).");
	for (int o = 1; o < MXG_METRICS_ORIGINS; o++)
		sample1(f, "mxguard_penalty_box_entries", "origin",
			mxg_name_of(&mxg_origins, o), (double)s->bans_by_origin[o]);
}

static double unix_s(const struct mxg_metrics_snap *s, uint64_t mono_ns)
{
	double ago = s->mono_ns > mono_ns ? (s->mono_ns - mono_ns) / NS_PER_S : 0;

	return floor(s->real_ns / NS_PER_S - ago);
}

static void render_mirror(const struct mxg_metrics_snap *s, FILE *f)
{
	const struct mxg_mirror *r = &s->mirror;
	const uint64_t *d = s->daemon;
	bool on = r->mode != MXG_SYNC_NONE;
	static const struct {
		enum mxg_daemon_counter idx;
		const char *result;
	} lookups[] = {
		{ MXG_DAEMON_LOOKUP_OK, "ok" },
		{ MXG_DAEMON_LOOKUP_NOTFOUND, "notfound" },
		{ MXG_DAEMON_LOOKUP_TEMP, "temp" },
		{ MXG_DAEMON_LOOKUP_PERM, "perm" },
	};

	family(f, "mxguard_mirror_sync_mode", "gauge",
	       "1, labelled with how the recipient mirror syncs (none: no [ldap]).");
	sample1(f, "mxguard_mirror_sync_mode", "mode",
		mxg_name_of(&mxg_sync_modes, r->mode), 1);
	/* Without [ldap] there is no mirror to be ready or stale: its
	 * families stay empty so that no alert fires on them. */
	family(f, "mxguard_mirror_ready", "gauge",
	       "1 when the recipient mirror is ready (synced within max_age).");
	if (on)
		sample(f, "mxguard_mirror_ready", s->mirror_ready);
	family(f, "mxguard_mirror_connected", "gauge",
	       "1 when the directory answers the mirror's writer now.");
	if (on)
		sample(f, "mxguard_mirror_connected", r->connected ? 1 : 0);
	family(f, "mxguard_mirror_entries", "gauge", "Addresses in the recipient mirror.");
	if (on)
		sample(f, "mxguard_mirror_entries", (double)r->entries);
	family(f, "mxguard_mirror_generation", "gauge",
	       "Full refreshes swapped in since the mirror was created.");
	if (on)
		sample(f, "mxguard_mirror_generation", (double)r->generation);
	family(f, "mxguard_mirror_age_seconds", "gauge",
	       "Seconds since the last good sync (+Inf: never synced).");
	if (on)
		sample(f, "mxguard_mirror_age_seconds", r->synced_ns ?
		       (s->mono_ns > r->synced_ns ? (s->mono_ns - r->synced_ns) / NS_PER_S : 0) :
		       INFINITY);
	family(f, "mxguard_mirror_last_sync_timestamp_seconds", "gauge",
	       "Unix time of the last good sync (0: never).");
	if (on)
		sample(f, "mxguard_mirror_last_sync_timestamp_seconds",
		       r->synced_ns ? unix_s(s, r->synced_ns) : 0);
	family(f, "mxguard_mirror_max_age_seconds", "gauge",
	       "Older than this the mirror is not ready ([ldap] max_age).");
	if (on)
		sample(f, "mxguard_mirror_max_age_seconds", r->max_age_ns / NS_PER_S);
	/* Per sync, not since start: a gauge. */
	family(f, "mxguard_mirror_skipped_values", "gauge",
	       "Directory values refused as not addresses, at the last sync.");
	if (on)
		sample(f, "mxguard_mirror_skipped_values", (double)r->skipped);
	family(f, "mxguard_mirror_error", "gauge",
	       "1 when the mirror's last contact with the directory failed (mxguardd's log says why).");
	if (on)
		sample(f, "mxguard_mirror_error", r->connected ? 0 : 1);
	family(f, "mxguard_mirror_errors_total", "counter",
	       "Times the directory failed the mirror's writer.");
	sample(f, "mxguard_mirror_errors_total", (double)d[MXG_DAEMON_MIRROR_ERRORS]);
	family(f, "mxguard_mirror_last_error_timestamp_seconds", "gauge",
	       "Unix time of the last failure (0: never).");
	sample(f, "mxguard_mirror_last_error_timestamp_seconds",
	       (double)d[MXG_DAEMON_MIRROR_ERROR_TIME]);
	family(f, "mxguard_lookups_total", "counter",
	       "Recipient lookups answered on the [lookup] socket, by result.");
	for (size_t i = 0; i < sizeof(lookups) / sizeof(lookups[0]); i++)
		sample1(f, "mxguard_lookups_total", "result", lookups[i].result,
			(double)d[lookups[i].idx]);
	family(f, "mxguard_lookup_clients_refused_total", "counter",
	       "Lookup clients refused: no slot free, in all or for their user.");
	sample(f, "mxguard_lookup_clients_refused_total",
	       (double)d[MXG_DAEMON_LOOKUP_REFUSED]);
}

static void render_fleet(const struct mxg_metrics_snap *s, FILE *f)
{
	const struct mxg_fleet *r = &s->fleet;
	bool on = r->state != MXG_FLEET_OFF;
	const struct {
		const char *name, *help;
		uint64_t value;
	} gauges[] = {
		{ "mxguard_fleet_peer_entries",
		  "Peers' live entries seen in the fleet subtree.", r->peer_entries },
		{ "mxguard_fleet_applied_bans",
		  "Peers' bans applied here now (origin fleet in the penalty box).",
		  r->applied },
		{ "mxguard_fleet_published_entries",
		  "This host's bans in the directory now.", r->published },
		{ "mxguard_fleet_pending_changes",
		  "This host's ban changes not written to the directory yet (retried with backoff).",
		  r->pending },
	};

	/* A state set: one sample per state, 1 for the one it is in. */
	family(f, "mxguard_fleet_state", "gauge",
	       "1 for the fleet's sync state (off: no [fleet]), 0 for the others.");
	for (size_t i = 0; i < mxg_fleet_states.n; i++)
		sample1(f, "mxguard_fleet_state", "state", mxg_fleet_states.names[i].name,
			mxg_fleet_states.names[i].value == r->state ? 1 : 0);
	/* Without [fleet] nothing below can be stale or pending: no
	 * samples, so that no alert fires on them. */
	family(f, "mxguard_fleet_sync_mode", "gauge",
	       "1, labelled with how the fleet subtree is followed.");
	if (on)
		sample1(f, "mxguard_fleet_sync_mode", "mode",
			mxg_name_of(&mxg_sync_modes, r->mode), 1);
	family(f, "mxguard_fleet_age_seconds", "gauge",
	       "Seconds since the directory last confirmed the fleet subtree (+Inf: never).");
	if (on)
		sample(f, "mxguard_fleet_age_seconds", r->synced_ns ?
		       (s->mono_ns > r->synced_ns ? (s->mono_ns - r->synced_ns) / NS_PER_S : 0) :
		       INFINITY);
	family(f, "mxguard_fleet_last_sync_timestamp_seconds", "gauge",
	       "Unix time the directory last confirmed the fleet subtree (0: never).");
	if (on)
		sample(f, "mxguard_fleet_last_sync_timestamp_seconds",
		       r->synced_ns ? unix_s(s, r->synced_ns) : 0);
	for (size_t i = 0; i < sizeof(gauges) / sizeof(gauges[0]); i++) {
		family(f, gauges[i].name, "gauge", gauges[i].help);
		if (on)
			sample(f, gauges[i].name, (double)gauges[i].value);
	}
	family(f, "mxguard_fleet_refused_total", "counter",
	       "Peers' entries refused here since mxguardd started (malformed, allow-listed, too wide).");
	sample(f, "mxguard_fleet_refused_total", (double)r->refused);
	family(f, "mxguard_fleet_publish_errors_total", "counter",
	       "Failed writes of this host's bans to the directory since mxguardd started.");
	sample(f, "mxguard_fleet_publish_errors_total", (double)r->publish_errors);
	family(f, "mxguard_fleet_last_error_timestamp_seconds", "gauge",
	       "Unix time of the fleet's last error (0: none; mxguardd's log and status say what).");
	sample(f, "mxguard_fleet_last_error_timestamp_seconds", (double)r->error_s);
}

static void render_links(const struct mxg_metrics_snap *s, FILE *f)
{
	unsigned n = 0;

	family(f, "mxguard_program_attached", "gauge",
	       "1 per interface the admission program is attached to, labelled with its mode.");
	for (int i = 0; i < MXG_MAX_LINKS; i++) {
		const struct mxg_link *l = &s->links[i];
		char ifname[sizeof(l->ifname) + 1];

		if (l->mode == MXG_LINK_NONE)
			continue;
		memcpy(ifname, l->ifname, sizeof(l->ifname));
		ifname[sizeof(l->ifname)] = '\0';
		sample2(f, "mxguard_program_attached", "interface", ifname, "mode",
			mxg_link_mode_name(l->mode), 1);
		n++;
	}
	family(f, "mxguard_programs_attached", "gauge",
	       "Interfaces the admission program is attached to.");
	sample(f, "mxguard_programs_attached", n);
}

/* A signal's value in base units: seconds, descriptors, ratios. */
static double signal_base(enum mxg_signal sig, uint64_t v)
{
	switch (sig) {
	case MXG_SIGNAL_LATENCY:
		return v / NS_PER_S;
	case MXG_SIGNAL_CPU:
	case MXG_SIGNAL_MEMORY:
		return v / 10000.0;	/* % * 100 */
	default:
		return (double)v;
	}
}

static void render_tuner(const struct mxg_metrics_snap *s, FILE *f)
{
	const struct mxg_tuner_state *t = &s->tuner;

	family(f, "mxguard_tuner_enabled", "gauge", "1 when the [tuner] runs.");
	sample(f, "mxguard_tuner_enabled", t->enabled ? 1 : 0);
	family(f, "mxguard_tuner_scale_ratio", "gauge",
	       "What the tuner scales each class's limits by (1: as configured).");
	FOR_CLASS(s, c) {
		uint32_t p = s->tuning[c].scale_permille;

		sample1(f, "mxguard_tuner_scale_ratio", "class", s->classes[c].name,
			!p || p >= MXG_SCALE_ONE ? 1.0 : p / (double)MXG_SCALE_ONE);
	}
	family(f, "mxguard_tuner_signal_value", "gauge",
	       "A tuner signal's last reading (latency in seconds, descriptors, pressure as a ratio).");
	for (int g = 0; t->enabled && g < MXG_SIGNALS; g++)
		if (t->signals[g].reading != MXG_READING_OFF)
			sample1(f, "mxguard_tuner_signal_value", "signal",
				mxg_name_of(&mxg_tuner_signals, g),
				signal_base(g, t->signals[g].value));
	family(f, "mxguard_tuner_signal_target", "gauge",
	       "A tuner signal's target: over it the tuner scales down.");
	for (int g = 0; t->enabled && g < MXG_SIGNALS; g++)
		if (t->signals[g].reading != MXG_READING_OFF)
			sample1(f, "mxguard_tuner_signal_target", "signal",
				mxg_name_of(&mxg_tuner_signals, g),
				signal_base(g, t->signals[g].target));
	family(f, "mxguard_tuner_signal_reading", "gauge",
	       "1, labelled with a tuner signal's last reading against its target.");
	for (int g = 0; t->enabled && g < MXG_SIGNALS; g++)
		if (t->signals[g].reading != MXG_READING_OFF)
			sample2(f, "mxguard_tuner_signal_reading", "signal",
				mxg_name_of(&mxg_tuner_signals, g), "reading",
				mxg_name_of(&mxg_tuner_readings, t->signals[g].reading), 1);
}

int mxg_metrics_render(const struct mxg_metrics_snap *s, FILE *f)
{
	family(f, "mxguard_build_info", "gauge", "1, labelled with mxguard's version.");
	sample1(f, "mxguard_build_info", "version", MXG_VERSION, 1);
	render_verdicts(s, f);
	render_maps(s, f);
	render_recipients(s, f);
	render_mirror(s, f);
	render_fleet(s, f);
	render_links(s, f);
	render_tuner(s, f);
	return ferror(f) ? -EIO : 0;
}

int mxg_metrics_collect(const struct mxg_maps *m, char **text, size_t *len,
			char *err, size_t errlen)
{
	struct mxg_metrics_snap *s = malloc(sizeof(*s));
	char *buf = NULL;
	size_t size = 0;
	FILE *f;
	int ret;

	*text = NULL;
	*len = 0;
	if (!s) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	ret = mxg_metrics_read(m, s, err, errlen);
	if (ret)
		goto out;
	f = open_memstream(&buf, &size);
	if (!f) {
		ret = -errno;
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	ret = mxg_metrics_render(s, f);
	if (fclose(f) && !ret)
		ret = -ENOMEM;
	if (ret) {
		snprintf(err, errlen, "cannot render the metrics: %s", strerror(-ret));
		free(buf);
		goto out;
	}
	*text = buf;
	*len = size;
out:
	free(s);
	return ret;
}
