/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The ABI between mxguard's BPF programs and its userspace: map names, map
 * keys and values, enums and limits. Both sides include this file and
 * nothing here may be re-declared elsewhere. Only fixed-width types, so the
 * layout is the same for clang -target bpf and for the host compiler; the
 * sizes that userspace relies on are checked at the bottom.
 */
#ifndef MXGUARD_H
#define MXGUARD_H

#ifdef __bpf__
/* vmlinux.h provides the __u8.. types on the BPF side. */
#else
#include <linux/types.h>
#endif

/* Port classes: a port maps to at most one class. */
#define MXG_MAX_CLASSES 8
#define MXG_CLASS_NAME_LEN 16
#define MXG_PORTS 65536

/* Every source and rule address is 16 bytes; IPv4 is mapped into
 * ::ffff:0:0/96, so one key type and one LPM trie serve both families. */
#define MXG_ADDR_LEN 16
#define MXG_V4_MAPPED_BITS 96

/* Bounds for the admission parser (named, so the verifier and a reader
 * see the same numbers). */
#define MXG_VLAN_MAX 2		/* 802.1ad outer + 802.1Q inner */
#define MXG_IPV6_EXT_MAX 8	/* extension headers walked before giving up */

/* Default sizes; max_sources is set from the config before load. */
#define MXG_DEFAULT_MAX_SOURCES 1048576
#define MXG_MAX_RULES 65536	/* allow / deny / ban entries each */
/* Sources with connections open at once (mxg_conns). Only sources that
 * completed a handshake get an entry, so this is far below max_sources;
 * past it a connection is left uncounted (fail open) and counted as such.
 * The hash's bucket array costs 16 bytes per slot even when empty. */
#define MXG_MAX_CONN_SOURCES 262144

/*
 * The registry of maps: every map of the BPF object, once. Each entry is
 * X(field, at_start, what):
 *  - the map is mxg_<field> in the BPF object and pinned under that name
 *    (MXG_MAP_NAME(field)); field also names its fd in userspace (struct
 *    mxg_maps in user/maps.h, generated from this list, as are its
 *    initialiser, open and close, and the skeleton mapping);
 *  - at_start is what mxguardd does when the map pinned under pin_dir has
 *    another layout (type, key or value size, max_entries, flags: another
 *    version's, or another max_sources): DROP the pin, so the map starts
 *    anew, where it holds nothing that is not rewritten at start or is
 *    not worth keeping; REFUSE to start where it holds what an operator
 *    cannot lose (bans, rules, open connection counts, the mirror and
 *    its key): `mxguardctl unload` removes it, knowingly;
 *  - what: what the map holds, for the log line or the refusal.
 * A map in the object that is missing here makes mxguardd refuse to load.
 */
enum mxg_pin_stale {
	MXG_PIN_REFUSE = 0,
	MXG_PIN_DROP,
};

#define MXG_MAPS(X)							\
	X(ports, DROP, "the port table (rewritten from the config)")	\
	X(classes, DROP, "the class records (rewritten from the config)") \
	X(tuning, DROP, "the tuner's scales (the configured limits apply until it runs)") \
	X(tuner, DROP, "what the tuner measured (rewritten every interval)") \
	X(sources, DROP, "per-source rate state")			\
	X(new_sources, DROP, "the new-source buckets (they start full)") \
	X(refused, DROP, "the tags of refused new sources' SYNs (their second chance)") \
	X(allow, REFUSE, "the allow list")				\
	X(deny, REFUSE, "the deny list")				\
	X(bans, REFUSE, "the penalty box")				\
	X(stats, DROP, "counting")					\
	X(links, REFUSE, "the record of where the programs are attached") \
	X(conns, REFUSE, "the counts of open connections")		\
	X(class_conns, REFUSE, "the counts of open connections per class") \
	X(conn_marks, REFUSE, "the marks of counted sockets")		\
	X(settings, DROP, "the settings (rewritten at every start)")	\
	X(rcpt_template, DROP, "the recipient mirror's template (empty)") \
	X(rcpt_slot, REFUSE, "the recipient mirror")			\
	X(rcpt_domains, DROP, "the local domains (rewritten from the config)") \
	X(mirror, REFUSE, "the recipient mirror's readiness record")	\
	X(hash_key, REFUSE, "the recipient mirror's hash key")		\
	X(inspect, DROP, "the SMTP reader's settings (rewritten from the config)") \
	X(flows, DROP, "the SMTP sessions in progress (no longer followed)") \
	X(rcpt_sources, DROP, "the SMTP reader's per-source recipient counts") \
	X(rcpt_stats, DROP, "the SMTP reader's counting")		\
	X(smtp_scratch, DROP, "the SMTP reader's per-CPU scratch (it holds no state)") \
	X(events, DROP, "the events not logged yet")			\
	X(daemon, DROP, "mxguardd's own counters (lookups, mirror errors)") \
	X(fleet, DROP, "the fleet's sync state (rewritten while it runs)") \
	X(fleet_bans, DROP, "the peers of the fleet's bans (the directory holds them)")

#define MXG_MAP_NAME(field) "mxg_" #field

/*
 * What admission decided for one judged SYN. Every verdict is counted per
 * class; the order of the DROP reasons is the order they are checked in,
 * except that a new verdict is appended, never inserted, so that a
 * counter keeps its index across versions (MXG_DROP_NEW_SOURCE is judged
 * at the same step as MXG_DROP_RATE: a source missing from mxg_sources).
 */
enum mxg_verdict {
	MXG_PASS = 0,		/* within every limit */
	MXG_PASS_ALLOW,		/* on the allow list: never limited */
	MXG_DROP_DENY,		/* on the deny list */
	MXG_DROP_PENALTY,	/* in the penalty box (ban) */
	MXG_DROP_TOTAL_CONNS,	/* class is at total_conns */
	MXG_DROP_SOURCE_CONNS,	/* source is at source_conns */
	MXG_DROP_RATE,		/* source's token bucket is empty */
	MXG_DROP_NEW_SOURCE,	/* source not tracked yet and the class's
				 * new-source bucket is empty */
	MXG_VERDICT_COUNT,
};

/* Frames that were not judged but are worth counting, in the extra stats
 * slot at index MXG_MAX_CLASSES. Unguarded traffic is not counted at all:
 * it must cost as little as possible. */
enum mxg_global_counter {
	MXG_GLOBAL_MALFORMED = 0, /* a header truncated or inconsistent */
	MXG_GLOBAL_FRAGMENT,	  /* a non-first fragment, cannot be judged */
	MXG_GLOBAL_CONNS_UNTRACKED, /* a connection not counted: map full */
	MXG_GLOBAL_BOGUS,	  /* dropped: never legitimate (a tiny first
				   * fragment, an IPv4-mapped IPv6 source) */
	MXG_GLOBAL_UNSEEN_DROPPED, /* dropped: transport out of reach, from a
				    * denied or banned source */
	MXG_GLOBAL_NEW_RESENT,	  /* a new source's SYN refused once and
				   * admitted when its TCP sent it again */
	MXG_GLOBAL_SOURCES_CREATED, /* entries inserted into mxg_sources:
				     * nothing deletes from it, so the entries
				     * are min(this, max_entries), read in
				     * O(1) where a walk would take seconds */
	MXG_GLOBAL_EVENTS_LOST,	  /* events not logged: mxg_events was full */
	MXG_GLOBAL_COUNT,
};

/* How the SMTP inspector treats a port's sessions. */
enum mxg_port_inspect {
	MXG_INSPECT_NONE = 0,	/* not read */
	MXG_INSPECT_PLAIN,	/* SMTP in clear text until STARTTLS */
	MXG_INSPECT_TLS,	/* implicit TLS (465): uninspectable */
};

/* mxg_ports: array [MXG_PORTS], index = destination port (host order). */
struct mxg_port {
	__u8 guarded;		/* 0: pass at once */
	__u8 class_idx;		/* index into mxg_classes */
	__u8 inspect;		/* enum mxg_port_inspect */
	__u8 pad;
};

/*
 * mxg_classes: array [MXG_MAX_CLASSES]. The limits as configured, written
 * by userspace (the config, `mxguardctl limit set`), read per judged SYN.
 * Everything the BPF side needs is precomputed here so the hot path does
 * no mask arithmetic, and no division while the tuner leaves the class at
 * its configured limits (mxg_tuning, bpf/tuning.h).
 */
struct mxg_class {
	char name[MXG_CLASS_NAME_LEN];	/* "" = slot unused */
	__u64 interval_ns;	/* 1e9 / rate; 0 = no rate limit */
	__u64 tolerance_ns;	/* interval_ns * (burst - 1): GCRA's tau */
	__u32 rate_milli;	/* configured rate, new conns/s * 1000 */
	__u32 burst;		/* configured burst */
	__u32 source_conns;	/* 0 = no limit */
	__u32 total_conns;	/* 0 = no limit */
	__u8 ipv4_prefix;	/* source aggregation, bits of the IPv4 address */
	__u8 ipv6_prefix;	/* source aggregation, bits of the IPv6 address */
	__u8 pad[6];
	__u8 mask[MXG_ADDR_LEN]; /* source mask for IPv6 */
	__u8 mask4[MXG_ADDR_LEN]; /* source mask for IPv4-mapped addresses */
	/* The class-wide limit on sources not in mxg_sources yet, as GCRA on
	 * each CPU's own bucket (mxg_new_sources): userspace divides the rate
	 * and the burst among the possible CPUs, so these are per CPU. */
	__u64 new_interval_ns;	/* 1e9 * ncpus / new_sources; 0 = no limit */
	__u64 new_tolerance_ns;	/* new_interval_ns * (burst per CPU - 1) */
	__u32 new_sources_milli; /* configured, new sources/s * 1000, whole host */
	__u32 new_sources_burst; /* configured, whole host */
};

/*
 * mxg_tuning: array [MXG_MAX_CLASSES], what the tuner makes of each class's
 * configured limits; written by mxguardd's tuner only, so it never races
 * `mxguardctl limit set` or a reload, which write mxg_classes. Read per
 * judged SYN; bpf/tuning.h turns both into the limits in force.
 */
#define MXG_SCALE_ONE 1000	/* scale_permille of the limits as configured */
struct mxg_tuning {
	/* Rate, burst and both connection caps times scale / 1000 (never
	 * below 1 where a limit is set); 0 or 1000: as configured. */
	__u32 scale_permille;
	/* At most this many connections open in the class, whatever its
	 * total_conns: the directory's free descriptors above its reserve.
	 * 0 = no cap. */
	__u32 total_conns_cap;
};

/*
 * mxg_tuner: array [1], what the tuner measured and did, for `mxguardctl
 * tuner`, the metrics and bpftool; written by mxguardd's tuner, read by
 * nothing on the BPF side.
 */
enum mxg_signal {
	MXG_SIGNAL_LATENCY = 0,	/* the directory's search latency, p90, ns */
	MXG_SIGNAL_DESCRIPTORS,	/* the directory's open descriptors */
	MXG_SIGNAL_CPU,		/* /proc/pressure/cpu some avg10, % * 100 */
	MXG_SIGNAL_MEMORY,	/* /proc/pressure/memory some avg10, % * 100 */
	MXG_SIGNALS,
};

/* A signal's last reading against its target. */
enum mxg_reading {
	MXG_READING_OFF = 0,	/* not configured */
	MXG_READING_UNREADABLE,	/* configured, cannot be read: error says why */
	MXG_READING_UNDER,	/* under the target's lower band: may scale up */
	MXG_READING_NEAR,	/* between the band and the target: hold */
	MXG_READING_OVER,	/* over the target: scale down */
};

#define MXG_TUNER_TEXT 96
struct mxg_tuner_signal {
	__u32 reading;		/* enum mxg_reading */
	__u32 class_mask;	/* bit i: the signal acts on class slot i */
	__u64 value;		/* unit as in enum mxg_signal */
	__u64 target;		/* over it: OVER; descriptors: limit - reserve */
	__u64 limit;		/* descriptors: RLIMIT_NOFILE; else 0 */
	__u64 read_ns;		/* CLOCK_MONOTONIC of the last reading */
	char error[MXG_TUNER_TEXT];	/* why UNREADABLE, else "" */
};

struct mxg_tuner_change {
	__u64 time_ns;		/* CLOCK_MONOTONIC; 0 = never */
	__u32 from_permille;
	__u32 to_permille;
	char reason[MXG_TUNER_TEXT];
};

struct mxg_tuner_state {
	__u32 enabled;
	__u32 interval_ms;
	__u32 floor_permille;
	__u32 last_class;	/* slot of the last change */
	__u64 tick_ns;		/* CLOCK_MONOTONIC of the last interval */
	struct mxg_tuner_signal signals[MXG_SIGNALS];
	struct mxg_tuner_change changes[MXG_MAX_CLASSES]; /* last, per class */
};

/*
 * mxg_daemon: array [MXG_DAEMON_COUNTERS] of __u64, what only mxguardd's
 * threads count, kept in a map so that `mxguardctl metrics` and the
 * daemon's /metrics endpoint read the same figures; written by mxguardd
 * only (each entry by one thread, so a plain update is exact), read by
 * nothing on the BPF side. Counters survive a restart with the pin.
 */
enum mxg_daemon_counter {
	MXG_DAEMON_LOOKUP_OK = 0,	/* lookups answered OK (known) */
	MXG_DAEMON_LOOKUP_NOTFOUND,	/* answered NOTFOUND */
	MXG_DAEMON_LOOKUP_TEMP,		/* answered TEMP (mirror not ready) */
	MXG_DAEMON_LOOKUP_PERM,		/* answered PERM (bad request) */
	MXG_DAEMON_LOOKUP_REFUSED,	/* clients refused: no slot free */
	MXG_DAEMON_MIRROR_ERRORS,	/* times the directory failed the mirror */
	MXG_DAEMON_MIRROR_ERROR_TIME,	/* CLOCK_REALTIME s of the last; 0 = never */
	MXG_DAEMON_COUNTERS,
};

/* mxg_sources: LRU hash, key = masked source + class. */
struct mxg_source_key {
	__u8 addr[MXG_ADDR_LEN];
	__u8 class_idx;
	__u8 pad[3];		/* always zero: part of the hash */
};

struct mxg_source {
	__u64 tat_ns;		/* GCRA theoretical arrival time (ktime) */
	__u32 syns;		/* SYNs judged from this source */
	__u32 drops;		/* of which dropped for rate */
};

/*
 * mxg_new_sources: per-CPU array [MXG_MAX_CLASSES], each CPU's bucket of
 * new sources for a class. Per CPU because a spoofed flood reaches this
 * bucket with every packet: one shared TAT would bounce its cache line
 * between the CPUs at the flood's rate (and need a CAS loop). A CPU's
 * copy is written by that CPU only, so a plain store does: the worst a
 * program interrupted on the same CPU can cause is one source more.
 */
struct mxg_new_source_bucket {
	__u64 tat_ns;		/* GCRA theoretical arrival time (ktime) */
	__u64 resent_tat_ns;	/* the same, for SYNs sent again (below) */
};

/*
 * mxg_refused: array [MXG_REFUSED_LINES] of lines of MXG_REFUSED_WAYS
 * slots, one slot per SYN refused as new_source: a 32-bit tag of what its
 * TCP repeats when it retransmits it (addresses, ports, sequence number)
 * above the 32-bit time it was refused, in 2^20 ns units. A line is one
 * cache line, and a new tag takes its oldest slot: with 2M slots (16 MiB)
 * a flood of 400 kpps writes each line 1.5 times a second, so a tag
 * outlives the 1 to 3 s until its SYN comes again unless 8 newer ones
 * land on its line first (under 1 in 1000 at 1 s).
 */
#define MXG_REFUSED_WAYS 8
#define MXG_REFUSED_LINES (1U << 18)

struct mxg_refused_line {
	__u64 slot[MXG_REFUSED_WAYS];	/* tag << 32 | time; 0 = free */
};

/* mxg_allow, mxg_deny, mxg_bans: LPM tries over 16-byte addresses. */
struct mxg_lpm_key {
	__u32 prefixlen;	/* IPv4 /n is stored as /(96 + n) */
	__u8 addr[MXG_ADDR_LEN];
};

/* Who put a rule there: a config reload replaces its own rules only. */
enum mxg_origin {
	MXG_ORIGIN_CONFIG = 1,
	MXG_ORIGIN_CLI = 2,
	MXG_ORIGIN_INSPECT = 3,	/* penalty box, from SMTP inspection */
	MXG_ORIGIN_FLEET = 4,	/* a peer's ban, applied from the directory
				 * (user/fleet.c); its peer is in mxg_fleet_bans */
};

struct mxg_rule {
	__u32 origin;		/* enum mxg_origin */
	__u32 pad;
	__u64 created_ns;	/* CLOCK_MONOTONIC, as bpf_ktime_get_ns() */
};

struct mxg_ban {
	__u32 origin;		/* enum mxg_origin */
	__u32 class_mask;	/* bit i = applies to class i */
	__u64 created_ns;	/* CLOCK_MONOTONIC */
	__u64 expires_ns;	/* CLOCK_MONOTONIC; 0 = until removed */
};

/*
 * The fleet (docs/fleet.md): guards share the penalty box through entries
 * in their directory. Both maps are written by mxguardd only and read by
 * mxguardctl (ban list, status) and the metrics; the programs never look
 * at them, since a peer's ban is an ordinary mxg_bans entry of origin
 * MXG_ORIGIN_FLEET.
 *
 * mxg_fleet_bans: hash [MXG_MAX_RULES], key struct mxg_lpm_key (as in
 * mxg_bans): for a ban of origin FLEET, the peer whose entry it applies;
 * for a local ban (CLI, INSPECT) that is published, this host's record
 * with MXG_FLEET_PUBLISHED set.
 */
#define MXG_FLEET_HOST_LEN 64	/* host names as published (the entry's DN) */
#define MXG_FLEET_REASON_LEN 64

enum mxg_fleet_ban_flag {
	MXG_FLEET_PUBLISHED = 1U << 0,	/* this host's ban, in the directory */
};

struct mxg_fleet_ban {
	char host[MXG_FLEET_HOST_LEN];	/* NUL-terminated; the peer, or this host */
	char reason[MXG_FLEET_REASON_LEN]; /* as published, printable ASCII */
	__u64 expires_s;		/* CLOCK_REALTIME s from the entry; 0 = until removed */
	__u32 flags;			/* enum mxg_fleet_ban_flag */
	__u32 pad;
};

/* mxg_fleet: array [1], the fleet subtree's sync state. */
enum mxg_fleet_state {
	MXG_FLEET_OFF = 0,		/* no [fleet] section */
	MXG_FLEET_CONNECTING,		/* no session yet, or between retries */
	MXG_FLEET_REFRESHING,		/* reading the subtree (not applied yet) */
	MXG_FLEET_SYNCED,		/* refresh done: following it */
};

struct mxg_fleet {
	__u32 state;		/* enum mxg_fleet_state */
	__u32 mode;		/* enum mxg_sync_mode, as the mirror's */
	__u64 synced_ns;	/* CLOCK_MONOTONIC the subtree was last confirmed; 0 = never */
	__u64 peer_entries;	/* peers' live entries seen in the subtree */
	__u64 applied;		/* peers' bans in mxg_bans now */
	__u64 refused;		/* peers' entries refused since start (malformed,
				 * allow-listed, wider than the widest prefix) */
	__u64 published;	/* this host's entries in the directory now */
	__u64 pending;		/* this host's changes not written yet */
	__u64 publish_errors;	/* failed writes since start */
	__u64 error_s;		/* CLOCK_REALTIME s of the last error; 0 = none */
	char host[MXG_FLEET_HOST_LEN];	/* this host's name in the fleet */
	char server[128];	/* the URI of the server followed now; "" = none */
	char error[160];	/* the last error, one line; "" = none */
};

/*
 * Concurrent connections, counted by the sock_ops program when a passive
 * connection on a guarded port is established and uncounted when it
 * closes, whichever way. Not an LRU: an evicted count would be a lost one.
 * mxg_conns: hash, key = masked source + class (as mxg_sources).
 */
struct mxg_conn {
	__u32 conns;		/* established now */
	__u32 pad;
	__u64 last_ns;		/* last change, for the daemon's sweep of zeros */
};

/* mxg_class_conns: array [MXG_MAX_CLASSES], the class totals. */
struct mxg_class_conns {
	__u64 conns;
};

/* mxg_conn_marks: socket local storage on every counted socket, holding
 * the exact key it was counted under, so it is uncounted once and under
 * the same key even if the class's prefix changed in between. */
struct mxg_conn_mark {
	struct mxg_source_key key;
	__u32 counted;		/* 1 from the count until the uncount */
};

/* mxg_settings: array [1], what the programs need beside the classes. */
struct mxg_settings {
	/* Only sockets of this network namespace are counted (the daemon's,
	 * where the guarded interfaces are); 0 = every namespace. */
	__u64 netns_cookie;
	/* The parts the running kernel could not load (enum mxg_feature in
	 * user/probe.h), for mxguardctl status; BPF never reads it. */
	__u32 features_off;
	__u32 pad;
};

/*
 * The recipient mirror. Addresses are normalised (bpf/rcpt.h) and hashed
 * with keyed SipHash-2-4; the key is random per installation and pinned,
 * so a remote sender cannot craft collisions.
 *
 * mxg_rcpt_slot: array of maps [1]; slot 0 holds the live inner hash
 * (key __u64 hash, value struct mxg_rcpt). A full refresh fills a fresh
 * inner map and swaps it in with one update of the slot, so a reader never
 * sees a half-filled mirror.
 * mxg_rcpt_domains: hash, key __u64 hash of a local domain, value __u32.
 * mxg_mirror: array [1], the readiness record.
 * mxg_hash_key: array [1], struct mxg_hash_key.
 */
#define MXG_RCPT_MAX 254	/* longest address accepted (RFC 5321 path - 2) */
#define MXG_RCPT_BUF 256	/* buffers for normalised addresses */
#define MXG_DELIM_MAX 8		/* recipient_delimiter characters */
#define MXG_MAX_DOMAINS 4096
#define MXG_MAX_FLOWS 16384	/* SMTP sessions followed at once */
#define MXG_MAX_RCPT_SOURCES 65536 /* sources with recipient counts */

struct mxg_hash_key {
	__u64 k0, k1;
};

struct mxg_rcpt {
	__u32 refs;		/* directory values that map to this address */
	__u32 pad;
};

enum mxg_sync_mode {
	MXG_SYNC_NONE = 0,
	MXG_SYNC_SYNCREPL,
	MXG_SYNC_POLL,
};

struct mxg_mirror {
	__u64 generation;	/* bumped at every full refresh (swap) */
	__u64 entries;		/* addresses in the live inner map */
	__u64 synced_ns;	/* CLOCK_MONOTONIC of the last good sync */
	__u64 max_age_ns;	/* older than this: not ready */
	__u32 mode;		/* enum mxg_sync_mode */
	__u32 connected;	/* the directory answers right now */
	__u64 skipped;		/* directory values refused (bad address) */
	char recipient_delimiter[MXG_DELIM_MAX];
};

/*
 * SMTP inspection: a TC ingress program reads the client's commands on
 * plain-text SMTP sessions and classifies each RCPT TO as known, unknown
 * (local domain, not in the mirror) or foreign.
 */
enum mxg_inspect_mode {
	MXG_INSPECT_OFF = 0,
	MXG_INSPECT_OBSERVE,	/* count only */
	MXG_INSPECT_PENALIZE,	/* and put sources over the threshold in the penalty box */
	MXG_INSPECT_DROP,	/* and drop segments whose recipients are all unknown */
};

/* mxg_inspect: array [1]. */
struct mxg_inspect {
	__u32 mode;		/* enum mxg_inspect_mode */
	__u32 unknown_threshold;/* unknown recipients within window... */
	__u64 window_ns;
	__u64 penalty_ns;	/* ...put the source in the box for this long */
};

/* What the inspector counted (mxg_rcpt_stats: per-CPU array [1]). */
enum mxg_rcpt_counter {
	MXG_RCPT_KNOWN = 0,
	MXG_RCPT_UNKNOWN,
	MXG_RCPT_FOREIGN,
	MXG_RCPT_NULL_SENDER,	/* MAIL FROM:<>, a bounce */
	MXG_RCPT_UNINSPECTABLE,	/* sessions under TLS (STARTTLS, port 465) */
	MXG_RCPT_NOT_JUDGED,	/* recipients seen while the mirror was not ready */
	MXG_RCPT_INVALID,	/* RCPT arguments the normaliser refused */
	MXG_RCPT_PENALIZED,	/* sources put in the penalty box */
	MXG_RCPT_DROPPED,	/* segments dropped (mode drop) */
	MXG_RCPT_LOST,		/* sessions no longer followed (a gap in the stream) */
	MXG_RCPT_OVER_BUDGET,	/* of those, for sending command lines faster
				 * than the reader's budget */
	MXG_RCPT_COUNTERS,
};

struct mxg_rcpt_stats {
	__u64 count[MXG_RCPT_COUNTERS];
};

/* mxg_flows (LRU hash, one SMTP session) and mxg_smtp_scratch hold the
 * SMTP reader's own state, which only the reader reads: its types are in
 * bpf/smtp_state.h, not in this ABI. */

/* mxg_rcpt_sources: LRU hash, key struct mxg_source_key (SMTP class):
 * what one source did within the current window. */
struct mxg_rcpt_source {
	__u64 window_start_ns;
	__u32 known;
	__u32 unknown;
	__u32 foreign;
	__u32 null_sender;
	__u32 unknown_total;	/* since first seen, for top --by unknown */
	__u32 penalties;
};

/* mxg_events: ring buffer, sampled events for mxguardd to log. */
enum mxg_event_type {
	MXG_EVENT_PENALTY = 1,	/* a source went into the penalty box */
	MXG_EVENT_DROP,		/* a segment of unknown recipients was dropped */
};

struct mxg_event {
	__u64 time_ns;
	__u32 type;		/* enum mxg_event_type */
	__u32 unknown;		/* unknown recipients in the window */
	__u8 addr[MXG_ADDR_LEN];
};

/* mxg_stats: per-CPU array [MXG_MAX_CLASSES + 1]; slot MXG_MAX_CLASSES
 * holds enum mxg_global_counter, the others enum mxg_verdict. */
#define MXG_STATS_GLOBAL MXG_MAX_CLASSES
struct mxg_stats {
	__u64 count[MXG_VERDICT_COUNT];
};

/*
 * mxg_links: array [MXG_MAX_LINKS], where the programs are attached. Only
 * userspace writes and reads it; it is a map (not a file) because bpffs
 * holds only BPF objects, and so that bpftool shows it too.
 */
#define MXG_MAX_LINKS 16
enum mxg_link_mode {
	MXG_LINK_NONE = 0,
	MXG_LINK_XDP_NATIVE,
	MXG_LINK_XDP_GENERIC,
	MXG_LINK_TC,
};

struct mxg_link {
	char ifname[16];	/* IFNAMSIZ */
	__u32 ifindex;
	__u32 mode;		/* enum mxg_link_mode */
	__u32 prog_id;
	__u32 inspector;	/* the SMTP reader is on its tc ingress */
	__u64 netns_ino;	/* the network namespace the ifindex is in */
};

/*
 * Every struct that crosses the boundary (map keys and values, ring buffer
 * records), sized on both sides: clang -target bpf and the host compiler
 * must agree, and a change of size is a change of the pinned layout (see
 * MXG_MAPS). The SMTP reader's own state (bpf/smtp_state.h) and the
 * normaliser's (bpf/rcpt.h) are checked where they are declared.
 */
_Static_assert(sizeof(struct mxg_port) == 4, "mxg_port layout");
_Static_assert(sizeof(struct mxg_class) == 112, "mxg_class layout");
_Static_assert(sizeof(struct mxg_tuning) == 8, "mxg_tuning layout");
_Static_assert(sizeof(struct mxg_tuner_signal) == 136, "mxg_tuner_signal layout");
_Static_assert(sizeof(struct mxg_tuner_change) == 112, "mxg_tuner_change layout");
_Static_assert(sizeof(struct mxg_tuner_state) ==
	       24 + 136 * MXG_SIGNALS + 112 * MXG_MAX_CLASSES, "mxg_tuner_state layout");
_Static_assert(sizeof(struct mxg_source_key) == 20, "mxg_source_key layout");
_Static_assert(sizeof(struct mxg_source) == 16, "mxg_source layout");
_Static_assert(sizeof(struct mxg_new_source_bucket) == 16, "mxg_new_source_bucket layout");
_Static_assert(sizeof(struct mxg_refused_line) == 64, "mxg_refused_line: one cache line");
_Static_assert(sizeof(struct mxg_lpm_key) == 20, "mxg_lpm_key layout");
_Static_assert(sizeof(struct mxg_rule) == 16, "mxg_rule layout");
_Static_assert(sizeof(struct mxg_ban) == 24, "mxg_ban layout");
_Static_assert(sizeof(struct mxg_conn) == 16, "mxg_conn layout");
_Static_assert(sizeof(struct mxg_fleet_ban) == 144, "mxg_fleet_ban layout");
_Static_assert(sizeof(struct mxg_fleet) == 72 + 64 + 128 + 160, "mxg_fleet layout");
_Static_assert(sizeof(struct mxg_class_conns) == 8, "mxg_class_conns layout");
_Static_assert(sizeof(struct mxg_conn_mark) == 24, "mxg_conn_mark layout");
_Static_assert(sizeof(struct mxg_settings) == 16, "mxg_settings layout");
_Static_assert(sizeof(struct mxg_hash_key) == 16, "mxg_hash_key layout");
_Static_assert(sizeof(struct mxg_rcpt) == 8, "mxg_rcpt layout");
_Static_assert(sizeof(struct mxg_mirror) == 56, "mxg_mirror layout");
_Static_assert(sizeof(struct mxg_inspect) == 24, "mxg_inspect layout");
_Static_assert(sizeof(struct mxg_rcpt_stats) == 8 * MXG_RCPT_COUNTERS, "mxg_rcpt_stats layout");
_Static_assert(sizeof(struct mxg_rcpt_source) == 32, "mxg_rcpt_source layout");
_Static_assert(sizeof(struct mxg_event) == 32, "mxg_event layout");
_Static_assert(sizeof(struct mxg_stats) == 8 * MXG_VERDICT_COUNT, "mxg_stats layout");
_Static_assert(sizeof(struct mxg_link) == 40, "mxg_link layout");
_Static_assert((int)MXG_GLOBAL_COUNT <= (int)MXG_VERDICT_COUNT, "global counters fit");

#endif /* MXGUARD_H */
