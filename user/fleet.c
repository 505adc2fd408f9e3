/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The fleet's thread (fleet.h): two directory sessions, one that follows
 * the subtree and one that writes this host's entries, and the tables
 * that tie both to mxg_bans. One thread drives both, in ticks of at most
 * 100 ms: the followed session's messages are read as they come, the
 * penalty box is read every tick, and writes get a bounded share of each
 * tick so that a directory slow to write never delays what is followed
 * for long.
 *
 * The tables, keyed by what each side knows:
 *   slots  one per prefix: the peers' entries of it and which one is in
 *          mxg_bans (following), this host's ban of it and what the
 *          directory holds of it (publishing).
 *   peers  one per peer entry, by entryUUID (the DN when a server gives
 *          none): what a syncrepl delete names.
 * Both are bounded: MXG_MAX_RULES peer entries, and a slot exists only
 * for a prefix that is a peer's, in mxg_bans, or in the directory.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <ldap.h>
#include "fleet.h"
#include "fleet_entry.h"
#include "ldap_conn.h"
#include "log.h"
#include "names.h"
#include "parse.h"

#define NSEC 1000000000ULL
#define MSEC 1000000ULL
#define TICK_MS 100			/* the penalty box is read this often */
#define RULES_NS (1 * NSEC)		/* classes and allow list re-read */
#define BACKOFF_MIN_MS 1000
#define BACKOFF_MAX_MS 60000
#define SESSION_LASTED_NS (30 * NSEC)
/* Short: the thread must stop within about a second, and a URI that does
 * not answer should hand over to the next in the list quickly. */
#define CONNECT_TIMEOUT_NS (1 * NSEC)
#define OP_TIMEOUT_S 5			/* each later synchronous request */
#define SEARCH_TIMEOUT_S 30		/* a poll's search of the whole subtree */
#define WRITE_BUDGET_NS (200 * MSEC)	/* writes per tick, then follow again */
#define FOLLOW_BATCH 256		/* messages read per tick at most */
/* A dynamic entry outlives its ban by this much, so that the directory
 * never removes it first; slapo-dds's default dds-max-ttl caps a TTL. */
#define TTL_GRACE_S 60
#define TTL_MAX_S 86400
#define BUCKETS 65536
#define MAX_PEERS MXG_MAX_RULES
#define MAX_SLOTS (2 * MXG_MAX_RULES)

static char *follow_attrs[] = { "cn", MXG_FLEET_AT_CLASSES, MXG_FLEET_AT_REASON,
				MXG_FLEET_AT_EXPIRES, NULL };
static char *poll_attrs[] = { "cn", MXG_FLEET_AT_CLASSES, MXG_FLEET_AT_REASON,
			      MXG_FLEET_AT_EXPIRES, "entryUUID", NULL };
static char *own_attrs[] = { "cn", MXG_FLEET_AT_CLASSES, MXG_FLEET_AT_REASON,
			     MXG_FLEET_AT_EXPIRES, "objectClass", NULL };
static const char ban_filter[] = "(objectClass=" MXG_FLEET_OC ")";

struct slot;

struct peer {
	struct peer *next_id;		/* the id table's chain */
	struct peer *next_key;		/* the slot's other peers' entries */
	struct slot *slot;		/* NULL: refused as malformed */
	char *dn;
	struct mxg_fleet_entry e;
	uint32_t mask;			/* this guard's classes, when admitted */
	uint32_t gen;			/* the refresh it was last seen in */
	uint32_t hash;
	bool admitted;
	bool suppressed;		/* deleted here by the operator */
	bool delete_pending;		/* ... and not yet in the directory */
	bool refusal_logged;
	bool own;			/* this host's: never applied */
	uint16_t idlen;
	unsigned char id[];
};

struct slot {
	struct slot *next;
	struct mxg_lpm_key key;
	uint32_t hash;
	/* Following: the peers' entries of this prefix, and the one of
	 * them that is in mxg_bans (applied). */
	struct peer *peers;
	bool applied;
	uint64_t applied_expires_s;
	uint32_t applied_mask;
	char applied_host[MXG_FLEET_HOST_LEN];
	bool seen;			/* in mxg_bans at this scan */
	/* Publishing: this host's ban (want) and the directory's entry. */
	bool want, local_seen;
	uint32_t want_origin, want_mask;
	uint64_t want_expires_ns, want_expires_s;
	bool in_dir, dir_dynamic;
	bool recorded;			/* its PUBLISHED record is written */
	/* Deletes of its entry this host made and the followed session has
	 * not shown yet: any other delete was someone else's. */
	unsigned own_deletes;
	uint32_t dir_origin, dir_mask;
	uint64_t dir_expires_s;
	/* The entry's TTL as last set (0: not yet, the directory's default
	 * applies), when it runs out, and the expiry it was set for. */
	uint64_t dir_ttl_s, dir_ttl_end_s, dir_ttl_for_s;
};

struct session {
	LDAP *ld;			/* NULL between sessions; under f->lock */
	uint64_t next_ns;		/* no attempt before this (backoff) */
	int backoff_ms;
	uint64_t started_ns;
	bool failing;
	char error[512];		/* why the last attempt failed */
	char logged[512];		/* the failure logged last */
	char server[128];
};

struct mxg_fleet_sync {
	pthread_t thread;
	bool thread_started;
	atomic_bool stop;
	int wake[2];
	pthread_mutex_t lock;		/* the sessions' ld against the stopper */
	struct mxg_fleet_config cfg;
	struct mxg_maps maps;
	/* The running guard's class slots and allow list (re-read). */
	char class_names[MXG_MAX_CLASSES][MXG_CLASS_NAME_LEN];
	uint32_t used_mask;
	struct mxg_lpm_key *allow;
	unsigned nallow;
	uint64_t rules_ns;
	/* Following. */
	struct session fol;
	ldap_sync_t ls;
	bool ls_active, ended, refreshing;
	bool moved;			/* the last read handled a message */
	uint32_t mode, gen;
	uint64_t synced_ns, next_poll_ns, progress;
	struct peer **ids;
	unsigned npeers, nparsed;
	bool full_logged;
	/* Publishing. */
	struct session pub;
	bool dds;
	unsigned pending_deletes;
	/* Both. */
	struct slot **slots;
	unsigned nslots, napplied, npublished, npending;
	uint64_t refused, publish_errors, error_s;
	char error[160];
	uint64_t next_scan_ns;
	struct mxg_fleet rec;
	bool rec_written;
};

/* ---- time ---------------------------------------------------------- */

static uint64_t real_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * NSEC + (uint64_t)ts.tv_nsec;
}

/* A wall-clock expiry (s) as CLOCK_MONOTONIC ns, the bans' clock; 0 stays
 * 0 (until removed), a past one is 1 (expired). */
static uint64_t mono_of(uint64_t expires_s)
{
	uint64_t now = mxg_now_ns(), real = real_ns(), at = expires_s * NSEC;

	if (!expires_s)
		return 0;
	return at > real ? now + (at - real) : 1;
}

/* A ban's CLOCK_MONOTONIC expiry as wall-clock seconds, rounded up. */
static uint64_t real_of(uint64_t expires_ns)
{
	uint64_t now = mxg_now_ns(), real = real_ns();

	if (!expires_ns)
		return 0;
	if (expires_ns <= now)
		return real / NSEC;
	return (real + (expires_ns - now) + NSEC - 1) / NSEC;
}

/* ---- tables -------------------------------------------------------- */

static uint32_t hash_bytes(const void *p, size_t n)
{
	const unsigned char *b = p;
	uint32_t h = 2166136261u;

	for (size_t i = 0; i < n; i++)
		h = (h ^ b[i]) * 16777619u;
	return h;
}

static struct slot *slot_find(struct mxg_fleet_sync *f,
			      const struct mxg_lpm_key *key, bool create)
{
	uint32_t h = hash_bytes(key, sizeof(*key));
	struct slot *s;

	for (s = f->slots[h % BUCKETS]; s; s = s->next)
		if (!memcmp(&s->key, key, sizeof(*key)))
			return s;
	if (!create || f->nslots >= MAX_SLOTS)
		return NULL;
	s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	s->key = *key;
	s->hash = h;
	s->next = f->slots[h % BUCKETS];
	f->slots[h % BUCKETS] = s;
	f->nslots++;
	return s;
}

/* Free a slot nothing refers to any more. */
static void slot_release(struct mxg_fleet_sync *f, struct slot *s)
{
	struct slot **pp;

	if (s->peers || s->applied || s->want || s->in_dir)
		return;
	for (pp = &f->slots[s->hash % BUCKETS]; *pp; pp = &(*pp)->next) {
		if (*pp == s) {
			*pp = s->next;
			f->nslots--;
			free(s);
			return;
		}
	}
}

#define FOR_EACH_SLOT(f, s, nx)						\
	for (unsigned _b = 0; _b < BUCKETS; _b++)			\
		for (struct slot *s = (f)->slots[_b], *nx; s && ((nx = s->next), 1); s = nx)

#define FOR_EACH_PEER(f, p, nx)						\
	for (unsigned _b = 0; _b < BUCKETS; _b++)			\
		for (struct peer *p = (f)->ids[_b], *nx; p && ((nx = p->next_id), 1); p = nx)

static struct peer *peer_find(struct mxg_fleet_sync *f, const void *id,
			      size_t idlen)
{
	uint32_t h = hash_bytes(id, idlen);

	for (struct peer *p = f->ids[h % BUCKETS]; p; p = p->next_id)
		if (p->idlen == idlen && !memcmp(p->id, id, idlen))
			return p;
	return NULL;
}

static struct peer *peer_find_dn(struct mxg_fleet_sync *f, const char *dn)
{
	FOR_EACH_PEER(f, p, nx)
		if (p->dn && !strcasecmp(p->dn, dn))
			return p;
	return NULL;
}

static struct peer *peer_add(struct mxg_fleet_sync *f, const void *id,
			     size_t idlen)
{
	struct peer *p;

	if (idlen > UINT16_MAX)
		return NULL;
	p = calloc(1, sizeof(*p) + idlen);
	if (!p)
		return NULL;
	memcpy(p->id, id, idlen);
	p->idlen = (uint16_t)idlen;
	p->hash = hash_bytes(id, idlen);
	p->next_id = f->ids[p->hash % BUCKETS];
	f->ids[p->hash % BUCKETS] = p;
	f->npeers++;
	return p;
}

/* Take p out of its slot's list; returns the slot (NULL if none). */
static struct slot *peer_unlink(struct mxg_fleet_sync *f, struct peer *p)
{
	struct slot *s = p->slot;

	if (!s)
		return NULL;
	for (struct peer **pp = &s->peers; *pp; pp = &(*pp)->next_key) {
		if (*pp == p) {
			*pp = p->next_key;
			break;
		}
	}
	p->slot = NULL;
	p->next_key = NULL;
	f->nparsed--;
	return s;
}

static void peer_link(struct mxg_fleet_sync *f, struct peer *p, struct slot *s)
{
	p->slot = s;
	p->next_key = s->peers;
	s->peers = p;
	f->nparsed++;
}

/* ---- the maps ------------------------------------------------------ */

static void note_error(struct mxg_fleet_sync *f, const char *what)
{
	/* One line, cut to what the record holds. */
	snprintf(f->error, sizeof(f->error), "%.*s", (int)sizeof(f->error) - 1,
		 what);
	f->error_s = real_ns() / NSEC;
}

/* The peer's record of a prefix goes; this host's published one stays. */
static void record_del_peer(struct mxg_fleet_sync *f,
			    const struct mxg_lpm_key *key)
{
	struct mxg_fleet_ban r;

	if (!bpf_map_lookup_elem(f->maps.fleet_bans, key, &r) &&
	    !(r.flags & MXG_FLEET_PUBLISHED))
		bpf_map_delete_elem(f->maps.fleet_bans, key);
}

static void record_del_published(struct mxg_fleet_sync *f,
				 const struct mxg_lpm_key *key)
{
	struct mxg_fleet_ban r;

	if (!bpf_map_lookup_elem(f->maps.fleet_bans, key, &r) &&
	    (r.flags & MXG_FLEET_PUBLISHED))
		bpf_map_delete_elem(f->maps.fleet_bans, key);
}

static void record_put(struct mxg_fleet_sync *f, const struct mxg_lpm_key *key,
		       const char *host, const char *reason, uint64_t expires_s,
		       uint32_t flags)
{
	struct mxg_fleet_ban r = { .expires_s = expires_s, .flags = flags };

	snprintf(r.host, sizeof(r.host), "%s", host);
	snprintf(r.reason, sizeof(r.reason), "%s", reason);
	bpf_map_update_elem(f->maps.fleet_bans, key, &r, BPF_ANY);
}

/*
 * Make mxg_bans hold what the peers' entries of s say: the admitted, not
 * suppressed, not expired entry that lasts longest, as a ban of origin
 * FLEET; none when there is no such entry. A local ban of the prefix is
 * never touched: it wins, and its record is the publisher's.
 */
static void settle(struct mxg_fleet_sync *f, struct slot *s)
{
	uint64_t now_s = real_ns() / NSEC;
	struct peer *best = NULL;
	struct mxg_ban cur, ban;
	bool have;

	for (struct peer *p = s->peers; p; p = p->next_key) {
		if (!p->admitted || p->suppressed ||
		    (p->e.expires_s && p->e.expires_s <= now_s))
			continue;
		if (!best || !p->e.expires_s ||
		    (best->e.expires_s && p->e.expires_s > best->e.expires_s))
			best = p;
	}
	have = !bpf_map_lookup_elem(f->maps.bans, &s->key, &cur);
	if (have && cur.origin != MXG_ORIGIN_FLEET) {
		s->applied = false;
		return;
	}
	if (!best) {
		if (have)
			bpf_map_delete_elem(f->maps.bans, &s->key);
		record_del_peer(f, &s->key);
		s->applied = false;
		return;
	}
	if (have && s->applied && s->applied_expires_s == best->e.expires_s &&
	    s->applied_mask == best->mask &&
	    !strcmp(s->applied_host, best->e.host))
		return;
	ban = (struct mxg_ban){
		.origin = MXG_ORIGIN_FLEET,
		.class_mask = best->mask,
		.created_ns = have ? cur.created_ns : mxg_now_ns(),
		.expires_ns = mono_of(best->e.expires_s),
	};
	/* NOEXIST for a new one: a local ban that came in since the lookup
	 * wins the race too. */
	if (bpf_map_update_elem(f->maps.bans, &s->key, &ban,
				have ? BPF_EXIST : BPF_NOEXIST)) {
		char line[160], cidr[MXG_CIDR_STRLEN];

		if (errno == EEXIST || errno == ENOENT)
			return;	/* changed meanwhile: the next scan sees it */
		mxg_format_cidr(&s->key, cidr, sizeof(cidr));
		snprintf(line, sizeof(line), "cannot apply %s's ban on %s: %s",
			 best->e.host, cidr, strerror(errno));
		if (strcmp(line, f->error))
			mxg_err("fleet: %s", line);
		note_error(f, line);
		return;
	}
	record_put(f, &s->key, best->e.host, best->e.reason, best->e.expires_s, 0);
	s->applied = true;
	s->applied_expires_s = best->e.expires_s;
	s->applied_mask = best->mask;
	snprintf(s->applied_host, sizeof(s->applied_host), "%s", best->e.host);
}

static void settle_all(struct mxg_fleet_sync *f)
{
	FOR_EACH_SLOT(f, s, nx) {
		settle(f, s);
		slot_release(f, s);
	}
}

static int drop_stray_ban(const struct mxg_lpm_key *key, const void *value,
			  void *ctx)
{
	struct mxg_fleet_sync *f = ctx;
	const struct mxg_ban *b = value;
	struct slot *s;

	if (b->origin != MXG_ORIGIN_FLEET)
		return 0;
	s = slot_find(f, key, false);
	if (!s || !s->applied)
		bpf_map_delete_elem(f->maps.bans, key);
	return 0;
}

static int drop_stray_record(const struct mxg_lpm_key *key, const void *value,
			     void *ctx)
{
	struct mxg_fleet_sync *f = ctx;
	const struct mxg_fleet_ban *r = value;
	struct slot *s;

	if (r->flags & MXG_FLEET_PUBLISHED)
		return 0;
	s = slot_find(f, key, false);
	if (!s || !s->applied)
		bpf_map_delete_elem(f->maps.fleet_bans, key);
	return 0;
}

/* After a whole refresh: the FLEET bans and peer records nothing in it
 * accounts for (left by an earlier run, or deleted while away) go. */
static void drop_strays(struct mxg_fleet_sync *f)
{
	mxg_lpm_foreach(f->maps.bans, sizeof(struct mxg_ban), drop_stray_ban, f);
	mxg_lpm_foreach(f->maps.fleet_bans, sizeof(struct mxg_fleet_ban),
			drop_stray_record, f);
}

static int drop_fleet_ban(const struct mxg_lpm_key *key, const void *value,
			  void *ctx)
{
	const struct mxg_ban *b = value;
	int fd = *(int *)ctx;

	if (b->origin == MXG_ORIGIN_FLEET && bpf_map_delete_elem(fd, key) &&
	    errno != ENOENT)
		return -errno;
	return 0;
}

struct record_drop {
	int fd;
	uint32_t published;	/* which records go: PUBLISHED ones or not */
	bool all;
};

static int drop_record(const struct mxg_lpm_key *key, const void *value,
		       void *ctx_)
{
	const struct mxg_fleet_ban *r = value;
	struct record_drop *ctx = ctx_;

	if (!ctx->all && (r->flags & MXG_FLEET_PUBLISHED) != ctx->published)
		return 0;
	if (bpf_map_delete_elem(ctx->fd, key) && errno != ENOENT)
		return -errno;
	return 0;
}

static int drop_peers_bans(const struct mxg_maps *m)
{
	struct record_drop rd = { .fd = m->fleet_bans, .published = 0 };
	int fd = m->bans;
	int ret = mxg_lpm_foreach(m->bans, sizeof(struct mxg_ban),
				  drop_fleet_ban, &fd);

	if (!ret)
		ret = mxg_lpm_foreach(m->fleet_bans, sizeof(struct mxg_fleet_ban),
				      drop_record, &rd);
	return ret;
}

int mxg_fleet_clear(const struct mxg_maps *maps)
{
	struct record_drop rd = { .fd = maps->fleet_bans, .all = true };
	const struct mxg_fleet off = { .state = MXG_FLEET_OFF };
	uint32_t zero = 0;
	int fd = maps->bans, ret;

	ret = mxg_lpm_foreach(maps->bans, sizeof(struct mxg_ban),
			      drop_fleet_ban, &fd);
	if (!ret)
		ret = mxg_lpm_foreach(maps->fleet_bans,
				      sizeof(struct mxg_fleet_ban), drop_record,
				      &rd);
	if (!ret && bpf_map_update_elem(maps->fleet, &zero, &off, BPF_ANY))
		ret = -errno;
	return ret;
}

/* ---- what this guard runs with ------------------------------------- */

static int collect_allow(const struct mxg_lpm_key *key, const void *value,
			 void *ctx)
{
	struct mxg_fleet_sync *f = ctx;
	struct mxg_lpm_key *grown;

	if (f->nallow % 64 == 0) {
		grown = realloc(f->allow, (f->nallow + 64) * sizeof(*grown));
		if (!grown)
			return -ENOMEM;
		f->allow = grown;
	}
	f->allow[f->nallow++] = *key;
	return 0;
}

static void admit(struct mxg_fleet_sync *f, struct peer *p)
{
	char why[256];
	uint32_t mask = 0;
	int ret;

	ret = mxg_fleet_admit(&p->e, &f->cfg, (const char (*)[MXG_CLASS_NAME_LEN])f->class_names,
			      MXG_MAX_CLASSES, f->allow, f->nallow,
			      real_ns() / NSEC, &mask, why, sizeof(why));
	p->admitted = !ret;
	p->mask = ret ? 0 : mask;
	if (ret && ret != -ESTALE && !p->refusal_logged) {
		f->refused++;
		p->refusal_logged = true;
		mxg_info("fleet: refused a peer's ban: %s", why);
	}
}

/* The class slots and the allow list, every second: when either changed,
 * every peer's entry is judged again. */
static void rules_read(struct mxg_fleet_sync *f, bool force)
{
	char names[MXG_MAX_CLASSES][MXG_CLASS_NAME_LEN] = { { 0 } };
	struct mxg_class classes[MXG_MAX_CLASSES];
	struct mxg_lpm_key *old = f->allow;
	unsigned nold = f->nallow;
	uint32_t used = 0;
	bool changed;

	f->rules_ns = mxg_now_ns();
	if (mxg_classes_read(&f->maps, classes))
		return;
	for (unsigned i = 0; i < MXG_MAX_CLASSES; i++) {
		memcpy(names[i], classes[i].name, MXG_CLASS_NAME_LEN);
		names[i][MXG_CLASS_NAME_LEN - 1] = '\0';
		if (names[i][0])
			used |= 1U << i;
	}
	f->allow = NULL;
	f->nallow = 0;
	if (mxg_lpm_foreach(f->maps.allow, sizeof(struct mxg_rule),
			    collect_allow, f)) {
		free(f->allow);
		f->allow = old;
		f->nallow = nold;
		return;
	}
	changed = force || memcmp(names, f->class_names, sizeof(names)) ||
		  nold != f->nallow ||
		  (nold && memcmp(old, f->allow, nold * sizeof(*old)));
	free(old);
	memcpy(f->class_names, names, sizeof(names));
	f->used_mask = used;
	if (!changed)
		return;
	FOR_EACH_PEER(f, p, nx)
		if (p->slot && !p->own)
			admit(f, p);
	if (!f->refreshing)
		settle_all(f);
}

/* ---- following: the peers' entries ---------------------------------- */

/* Remove a peer's entry (deleted in the directory, or gone from it). */
static void peer_drop(struct mxg_fleet_sync *f, struct peer *p)
{
	struct slot *s = peer_unlink(f, p);
	struct peer **pp;

	if (p->delete_pending)
		f->pending_deletes--;
	for (pp = &f->ids[p->hash % BUCKETS]; *pp; pp = &(*pp)->next_id) {
		if (*pp == p) {
			*pp = p->next_id;
			break;
		}
	}
	f->npeers--;
	free(p->dn);
	free(p);
	if (s) {
		if (!f->refreshing)
			settle(f, s);
		slot_release(f, s);
	}
}

/* An entry as the directory has it now (id: its entryUUID, or NULL for
 * its DN). Not applied while a refresh is read: refresh_done() does. */
static void entry_received(struct mxg_fleet_sync *f, LDAP *ld, LDAPMessage *msg,
			   const void *id, size_t idlen)
{
	struct mxg_fleet_values v;
	struct mxg_fleet_entry e;
	struct slot *old, *s;
	struct peer *p;
	char why[256], *dn = ldap_get_dn(ld, msg), *dup;
	bool own;
	int ret;

	if (!dn)
		return;
	v.cn = ldap_get_values_len(ld, msg, "cn");
	v.classes = ldap_get_values_len(ld, msg, MXG_FLEET_AT_CLASSES);
	v.reason = ldap_get_values_len(ld, msg, MXG_FLEET_AT_REASON);
	v.expires = ldap_get_values_len(ld, msg, MXG_FLEET_AT_EXPIRES);
	why[0] = '\0';
	ret = mxg_fleet_entry_parse(dn, f->cfg.conn.base, &v, &e, why, sizeof(why));
	ldap_value_free_len(v.cn);
	ldap_value_free_len(v.classes);
	ldap_value_free_len(v.reason);
	ldap_value_free_len(v.expires);
	if (!id) {
		id = dn;
		idlen = strlen(dn);
	}
	p = peer_find(f, id, idlen);
	/* Not a ban (the base, a container). */
	if (ret == -ENOENT) {
		if (p)
			peer_drop(f, p);
		goto out;
	}
	own = !ret && !strcasecmp(e.host, f->cfg.host);
	if (!p) {
		p = f->npeers < MAX_PEERS ? peer_add(f, id, idlen) : NULL;
		if (!p) {
			if (!f->full_logged)
				mxg_err("fleet: more than %u entries in %s: ignoring the rest",
					MAX_PEERS, f->cfg.conn.base);
			f->full_logged = true;
			goto out;
		}
	}
	p->gen = f->gen;
	dup = strdup(dn);
	if (dup) {
		free(p->dn);
		p->dn = dup;
	}
	old = p->slot;
	if (own) {
		/* Kept only to know its prefix when its delete comes. */
		p->own = true;
		p->e = e;
		p->admitted = false;
		if (old) {
			peer_unlink(f, p);
			if (!f->refreshing)
				settle(f, old);
			slot_release(f, old);
		}
		goto out;
	}
	p->own = false;
	if (ret) {
		/* Malformed: kept (its delete may come), never applied. */
		if (old)
			peer_unlink(f, p);
		p->admitted = false;
		if (!p->refusal_logged) {
			f->refused++;
			p->refusal_logged = true;
			mxg_info("fleet: ignoring an entry that is not a ban: %s", why);
		}
		if (old) {
			if (!f->refreshing)
				settle(f, old);
			slot_release(f, old);
		}
		goto out;
	}
	p->e = e;
	admit(f, p);
	if (!old || memcmp(&old->key, &e.key, sizeof(e.key))) {
		s = slot_find(f, &e.key, true);
		if (old)
			peer_unlink(f, p);
		if (!s) {
			p->admitted = false;
		} else {
			peer_link(f, p, s);
			if (!f->refreshing)
				settle(f, s);
		}
		if (old) {
			if (!f->refreshing)
				settle(f, old);
			slot_release(f, old);
		}
	} else if (!f->refreshing) {
		settle(f, old);
	}
out:
	ldap_memfree(dn);
}

/*
 * One of this host's entries left the directory. When this host did not
 * delete it, someone did on purpose (a peer's operator deleted the ban
 * there, or an operator the entry): the ban goes here too, so that a `ban
 * del` anywhere is one fleet-wide.
 */
static void own_deleted(struct mxg_fleet_sync *f, struct peer *p)
{
	struct slot *s = slot_find(f, &p->e.key, false);
	char cidr[MXG_CIDR_STRLEN];
	struct mxg_ban b;

	if (!s)
		return;
	if (s->own_deletes) {
		s->own_deletes--;
		return;
	}
	if (!s->in_dir)
		return;
	mxg_format_cidr(&s->key, cidr, sizeof(cidr));
	mxg_info("fleet: this host's ban on %s was deleted from the directory: deleting it here too",
		 cidr);
	if (!bpf_map_lookup_elem(f->maps.bans, &s->key, &b) &&
	    (b.origin == MXG_ORIGIN_CLI || b.origin == MXG_ORIGIN_INSPECT))
		bpf_map_delete_elem(f->maps.bans, &s->key);
	s->in_dir = s->want = s->recorded = false;
	s->want_expires_ns = s->want_expires_s = 0;
	record_del_published(f, &s->key);
	settle(f, s);	/* a peer's ban of the prefix may apply now */
	slot_release(f, s);
}

static void entry_deleted(struct mxg_fleet_sync *f, LDAP *ld, LDAPMessage *msg,
			  const void *id, size_t idlen)
{
	struct peer *p = id ? peer_find(f, id, idlen) : NULL;
	char *dn;

	if (!p && msg && (dn = ldap_get_dn(ld, msg))) {
		p = peer_find_dn(f, dn);
		ldap_memfree(dn);
	}
	if (p && p->own && !f->refreshing)
		own_deleted(f, p);
	if (p)
		peer_drop(f, p);
}

static void refresh_begin(struct mxg_fleet_sync *f)
{
	f->gen++;
	f->refreshing = true;
}

/* The whole subtree is read: what it lacks goes, and mxg_bans is made
 * equal to it. One of this host's entries that went while away (or
 * between two polls) went as a delete seen live would have. */
static void refresh_done(struct mxg_fleet_sync *f)
{
	FOR_EACH_PEER(f, p, nx) {
		if (p->gen == f->gen)
			continue;
		if (p->own)
			own_deleted(f, p);
		peer_drop(f, p);
	}
	f->refreshing = false;
	settle_all(f);
	drop_strays(f);
	f->synced_ns = mxg_now_ns();
}

/* ---- sessions ------------------------------------------------------ */

/* Where the session went: the URI when there is one, else the peer's
 * address under the first URI's scheme (libldap tries the list in order
 * and does not say which one answered). */
static void server_of(LDAP *ld, const char *uris, char *buf, size_t len)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	char host[INET6_ADDRSTRLEN] = "";
	const char *sep = strstr(uris, "://");
	int fd = -1, port = 0;

	snprintf(buf, len, "%.*s", (int)strcspn(uris, " "), uris);
	if (!strchr(uris, ' ') || !sep ||
	    ldap_get_option(ld, LDAP_OPT_DESC, &fd) != LDAP_OPT_SUCCESS || fd < 0 ||
	    getpeername(fd, (struct sockaddr *)&ss, &sl))
		return;
	if (ss.ss_family == AF_INET) {
		struct sockaddr_in *a = (struct sockaddr_in *)&ss;

		inet_ntop(AF_INET, &a->sin_addr, host, sizeof(host));
		port = ntohs(a->sin_port);
		snprintf(buf, len, "%.*s://%s:%d/", (int)(sep - uris), uris, host, port);
	} else if (ss.ss_family == AF_INET6) {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;

		inet_ntop(AF_INET6, &a->sin6_addr, host, sizeof(host));
		port = ntohs(a->sin6_port);
		snprintf(buf, len, "%.*s://[%s]:%d/", (int)(sep - uris), uris, host, port);
	}
}

static int session_open(struct mxg_fleet_sync *f, struct session *ss)
{
	const struct mxg_ldap_timeouts t = {
		.network_ns = CONNECT_TIMEOUT_NS,
		.op_ns = CONNECT_TIMEOUT_NS,
		.keepalive = true,
	};
	struct timeval tv = { OP_TIMEOUT_S, 0 };
	LDAP *ld;
	int ret;

	ss->error[0] = '\0';
	ret = mxg_ldap_connect(&f->cfg.conn, &t, &ld, ss->error, sizeof(ss->error));
	if (ret)
		return ret;
	/* Every later synchronous request: longer than a connect's step. */
	ldap_set_option(ld, LDAP_OPT_TIMEOUT, &tv);
	server_of(ld, f->cfg.conn.uri, ss->server, sizeof(ss->server));
	pthread_mutex_lock(&f->lock);
	ss->ld = ld;
	pthread_mutex_unlock(&f->lock);
	ss->started_ns = mxg_now_ns();
	return 0;
}

static void session_close(struct mxg_fleet_sync *f, struct session *ss)
{
	pthread_mutex_lock(&f->lock);
	if (ss->ld)
		ldap_unbind_ext_s(ss->ld, NULL, NULL);
	ss->ld = NULL;
	pthread_mutex_unlock(&f->lock);
}

static void session_interrupt(struct mxg_fleet_sync *f)
{
	struct session *all[] = { &f->fol, &f->pub };
	int fd;

	pthread_mutex_lock(&f->lock);
	for (unsigned i = 0; i < 2; i++)
		if (all[i]->ld &&
		    ldap_get_option(all[i]->ld, LDAP_OPT_DESC, &fd) == LDAP_OPT_SUCCESS &&
		    fd >= 0)
			shutdown(fd, SHUT_RDWR);
	pthread_mutex_unlock(&f->lock);
}

/* A failed attempt or a lost session: the next one after the backoff,
 * and one log line per distinct failure, not one per retry. */
static void session_failed(struct mxg_fleet_sync *f, struct session *ss,
			   const char *what, const char *keeps)
{
	uint64_t now = mxg_now_ns();

	if (ss->ld && now - ss->started_ns > SESSION_LASTED_NS)
		ss->backoff_ms = 0;
	session_close(f, ss);
	if (!ss->error[0])
		snprintf(ss->error, sizeof(ss->error), "the session ended");
	if (strcmp(ss->logged, ss->error)) {
		mxg_err("fleet: %s %s: %s (%s; retrying)", what, f->cfg.conn.uri,
			ss->error, keeps);
		memcpy(ss->logged, ss->error, sizeof(ss->logged));
	}
	note_error(f, ss->error);
	ss->failing = true;
	ss->backoff_ms = ss->backoff_ms ? ss->backoff_ms * 2 : BACKOFF_MIN_MS;
	if (ss->backoff_ms > BACKOFF_MAX_MS)
		ss->backoff_ms = BACKOFF_MAX_MS;
	ss->next_ns = now + (uint64_t)ss->backoff_ms * MSEC;
}

/* ---- following: syncrepl or polling ------------------------------ */

static int sync_entry(ldap_sync_t *ls, LDAPMessage *msg, struct berval *uuid,
		      ldap_sync_refresh_t phase)
{
	struct mxg_fleet_sync *f = ls->ls_private;
	struct peer *p;

	f->progress++;
	switch (phase) {
	case LDAP_SYNC_CAPI_ADD:
	case LDAP_SYNC_CAPI_MODIFY:
		entry_received(f, ls->ls_ld, msg, uuid->bv_val, uuid->bv_len);
		break;
	case LDAP_SYNC_CAPI_DELETE:
		entry_deleted(f, ls->ls_ld, msg, uuid->bv_val, uuid->bv_len);
		break;
	default:	/* PRESENT: still there */
		p = peer_find(f, uuid->bv_val, uuid->bv_len);
		if (p)
			p->gen = f->gen;
		break;
	}
	return LDAP_SUCCESS;
}

static int sync_intermediate(ldap_sync_t *ls, LDAPMessage *msg,
			     BerVarray uuids, ldap_sync_refresh_t phase)
{
	struct mxg_fleet_sync *f = ls->ls_private;
	struct peer *p;

	f->progress++;
	for (int i = 0; uuids && uuids[i].bv_val; i++) {
		if (phase == LDAP_SYNC_CAPI_DELETES_IDSET) {
			entry_deleted(f, ls->ls_ld, NULL, uuids[i].bv_val,
				      uuids[i].bv_len);
		} else if (phase == LDAP_SYNC_CAPI_PRESENTS_IDSET) {
			p = peer_find(f, uuids[i].bv_val, uuids[i].bv_len);
			if (p)
				p->gen = f->gen;
		}
	}
	if (phase == LDAP_SYNC_CAPI_DONE && f->refreshing)
		refresh_done(f);
	return LDAP_SUCCESS;
}

/* refreshAndPersist never ends with a result while the session lives. */
static int sync_result(ldap_sync_t *ls, LDAPMessage *msg, int refresh_deletes)
{
	struct mxg_fleet_sync *f = ls->ls_private;

	f->ended = true;
	return LDAP_SUCCESS;
}

/* One search of the whole subtree, applied when whole (sync = poll, or a
 * server without syncrepl). */
static int poll_once(struct mxg_fleet_sync *f)
{
	struct timeval tmo = { SEARCH_TIMEOUT_S, 0 };
	LDAP *ld = f->fol.ld;
	LDAPMessage *res = NULL;
	int rc;

	refresh_begin(f);
	rc = ldap_search_ext_s(ld, f->cfg.conn.base, LDAP_SCOPE_SUBTREE,
			       ban_filter, poll_attrs, 0, NULL, NULL, &tmo,
			       LDAP_NO_LIMIT, &res);
	if (rc != LDAP_SUCCESS) {
		/* Never a partial subtree (a size limit): nothing applied. */
		mxg_ldap_error(f->fol.error, sizeof(f->fol.error), ld, rc,
			       rc == LDAP_NO_SUCH_OBJECT ?
				       "search: the base does not exist" : "search");
		ldap_msgfree(res);
		f->refreshing = false;
		return -EIO;
	}
	for (LDAPMessage *e = ldap_first_entry(ld, res); e && !atomic_load(&f->stop);
	     e = ldap_next_entry(ld, e)) {
		struct berval **uuid = ldap_get_values_len(ld, e, "entryUUID");

		if (uuid && uuid[0])
			entry_received(f, ld, e, uuid[0]->bv_val, uuid[0]->bv_len);
		else
			entry_received(f, ld, e, NULL, 0);
		ldap_value_free_len(uuid);
	}
	ldap_msgfree(res);
	if (atomic_load(&f->stop)) {
		f->refreshing = false;
		return -EINTR;
	}
	refresh_done(f);
	f->next_poll_ns = mxg_now_ns() + f->cfg.conn.poll_interval_ns;
	return 0;
}

static void sync_end(struct mxg_fleet_sync *f)
{
	if (f->ls_active) {
		/* ldap_sync_destroy would unbind the session: ours to close. */
		ber_memfree(f->ls.ls_cookie.bv_val);
		f->ls.ls_cookie.bv_val = NULL;
		f->ls_active = false;
	}
	if (f->refreshing)
		f->refreshing = false;
}

/* Connect, and read the whole subtree once: syncrepl's refresh (then
 * followed in follow_read) or the first poll. */
static int follow_start(struct mxg_fleet_sync *f)
{
	bool syncrepl;
	int ret, rc;

	ret = session_open(f, &f->fol);
	if (ret)
		return ret;
	ret = mxg_ldap_root_dse_lists(f->fol.ld, "supportedControl",
				      LDAP_CONTROL_SYNC, &syncrepl, f->fol.error,
				      sizeof(f->fol.error));
	if (ret)
		return ret;
	if (f->cfg.conn.sync == MXG_SYNC_SYNCREPL && !syncrepl)
		mxg_info("fleet: %s does not offer syncrepl (RFC 4533): polling every %llu s",
			 f->fol.server,
			 (unsigned long long)(f->cfg.conn.poll_interval_ns / NSEC));
	f->mode = f->cfg.conn.sync == MXG_SYNC_SYNCREPL && syncrepl ?
			  MXG_SYNC_SYNCREPL : MXG_SYNC_POLL;
	if (f->mode == MXG_SYNC_POLL) {
		ret = poll_once(f);
		if (!ret)
			mxg_info("fleet: following %s (polling)", f->fol.server);
		return ret;
	}
	ldap_sync_initialize(&f->ls);
	f->ls.ls_ld = f->fol.ld;
	f->ls.ls_base = f->cfg.conn.base;
	f->ls.ls_scope = LDAP_SCOPE_SUBTREE;
	f->ls.ls_filter = (char *)ban_filter;
	f->ls.ls_attrs = follow_attrs;
	/* ldap_sync_poll's wait, in s; it runs only once the socket is
	 * readable (libldap reads a zero timeout as its default one). */
	f->ls.ls_timeout = 1;
	f->ls.ls_search_entry = sync_entry;
	f->ls.ls_intermediate = sync_intermediate;
	f->ls.ls_search_result = sync_result;
	f->ls.ls_private = f;
	f->ls_active = true;
	f->ended = false;
	refresh_begin(f);
	rc = ldap_sync_init_refresh_and_persist(&f->ls);
	if (rc != LDAP_SUCCESS || f->ended) {
		mxg_ldap_error(f->fol.error, sizeof(f->fol.error), f->fol.ld,
			       rc != LDAP_SUCCESS ? rc : LDAP_OTHER,
			       rc == LDAP_NO_SUCH_OBJECT ?
				       "syncrepl search: the base does not exist" :
				       "syncrepl search");
		sync_end(f);
		return -EIO;
	}
	/* A server that ends the refresh without the refreshDone flag. */
	if (f->refreshing)
		refresh_done(f);
	mxg_info("fleet: following %s with syncrepl", f->fol.server);
	return 0;
}

static bool data_buffered(LDAP *ld)
{
	Sockbuf *sb = NULL;

	return ldap_get_option(ld, LDAP_OPT_SOCKBUF, &sb) == LDAP_OPT_SUCCESS &&
	       sb && ber_sockbuf_ctrl(sb, LBER_SB_OPT_DATA_READY, NULL) > 0;
}

static bool fd_readable(LDAP *ld)
{
	struct pollfd p = { .fd = -1, .events = POLLIN };

	return ldap_get_option(ld, LDAP_OPT_DESC, &p.fd) == LDAP_OPT_SUCCESS &&
	       p.fd >= 0 && poll(&p, 1, 0) > 0;
}

/* What the persistent search brought: called when its socket is
 * readable, and reads on while more is there. */
static int follow_read(struct mxg_fleet_sync *f)
{
	for (unsigned i = 0; i < FOLLOW_BATCH; i++) {
		uint64_t before = f->progress;
		int rc;

		if (i && !data_buffered(f->fol.ld) && !fd_readable(f->fol.ld))
			break;
		rc = ldap_sync_poll(&f->ls);

		if (rc != LDAP_SUCCESS || f->ended) {
			mxg_ldap_error(f->fol.error, sizeof(f->fol.error),
				       f->fol.ld, rc < 0 || rc == LDAP_SUCCESS ?
						  LDAP_SERVER_DOWN : rc,
				       "syncrepl session ended");
			return -EIO;
		}
		/* Nothing whole came (a message half read stays buffered
		 * until its rest arrives: no spinning on it). */
		f->moved = f->progress != before;
		if (!f->moved)
			break;
	}
	return 0;
}

/* ---- publishing ---------------------------------------------------- */

/* The classes of a ban as this guard names them ("all" = every slot). */
static unsigned class_list(struct mxg_fleet_sync *f, uint32_t mask,
			   char (*out)[MXG_CLASS_NAME_LEN])
{
	unsigned n = 0;

	for (unsigned i = 0; i < MXG_MAX_CLASSES; i++)
		if ((mask & f->used_mask & (1U << i)) && n < MXG_MAX_CLASSES)
			memcpy(out[n++], f->class_names[i], MXG_CLASS_NAME_LEN);
	return n;
}

static uint32_t mask_of(struct mxg_fleet_sync *f, const struct mxg_fleet_entry *e)
{
	uint32_t mask = 0;

	for (unsigned c = 0; c < e->nclasses; c++)
		for (unsigned i = 0; i < MXG_MAX_CLASSES; i++)
			if ((f->used_mask & (1U << i)) &&
			    !strcmp(e->classes[c], f->class_names[i]))
				mask |= 1U << i;
	return mask;
}

static bool want_dynamic(struct mxg_fleet_sync *f, const struct slot *s)
{
	return f->dds && s->want_expires_s;
}

/* Publishable: a local ban on at least one class this guard has. */
static bool wanted(struct mxg_fleet_sync *f, const struct slot *s)
{
	return f->cfg.publish && s->want && (s->want_mask & f->used_mask);
}

static bool ttl_due(const struct slot *s, uint64_t now_s)
{
	return s->dir_dynamic && s->dir_ttl_end_s < s->want_expires_s + TTL_GRACE_S &&
	       now_s + s->dir_ttl_s / 2 >= s->dir_ttl_end_s;
}

/* The entry differs from the ban (or should not be there). */
static bool needs_entry_write(struct mxg_fleet_sync *f, const struct slot *s)
{
	if (!wanted(f, s))
		return s->in_dir;
	return !s->in_dir || s->dir_mask != (s->want_mask & f->used_mask) ||
	       s->dir_expires_s != s->want_expires_s ||
	       s->dir_origin != s->want_origin ||
	       s->dir_dynamic != want_dynamic(f, s);
}

/* A dynamic entry as it should be whose TTL is to be set: new, its ban's
 * expiry changed, or a capped TTL half run down. */
static bool needs_ttl(struct mxg_fleet_sync *f, const struct slot *s,
		      uint64_t now_s)
{
	return wanted(f, s) && s->in_dir && s->dir_dynamic &&
	       (!s->dir_ttl_s || s->dir_ttl_for_s != s->want_expires_s ||
		ttl_due(s, now_s));
}

static bool needs_write(struct mxg_fleet_sync *f, const struct slot *s,
			uint64_t now_s)
{
	return needs_entry_write(f, s) || needs_ttl(f, s, now_s);
}

/* This host's entries as the directory holds them, read at each connect:
 * what is there and no longer in the map is deleted by the next writes. */
static int own_load(struct mxg_fleet_sync *f)
{
	struct timeval tmo = { SEARCH_TIMEOUT_S, 0 };
	LDAP *ld = f->pub.ld;
	LDAPMessage *res = NULL;
	char dn[1024], why[256];
	int rc, ret;

	FOR_EACH_SLOT(f, s, nx) {
		s->in_dir = s->recorded = false;
		slot_release(f, s);
	}
	ret = mxg_fleet_host_dn(f->cfg.host, f->cfg.conn.base, dn, sizeof(dn));
	if (ret) {
		snprintf(f->pub.error, sizeof(f->pub.error),
			 "the host's DN is too long");
		return ret;
	}
	rc = ldap_search_ext_s(ld, dn, LDAP_SCOPE_ONELEVEL, ban_filter, own_attrs,
			       0, NULL, NULL, &tmo, LDAP_NO_LIMIT, &res);
	if (rc == LDAP_NO_SUCH_OBJECT) {	/* no container yet */
		ldap_msgfree(res);
		return 0;
	}
	if (rc != LDAP_SUCCESS) {
		mxg_ldap_error(f->pub.error, sizeof(f->pub.error), ld, rc,
			       "search of this host's entries");
		ldap_msgfree(res);
		return -EIO;
	}
	for (LDAPMessage *m = ldap_first_entry(ld, res); m; m = ldap_next_entry(ld, m)) {
		struct mxg_fleet_values v;
		struct mxg_fleet_entry e;
		struct berval **oc;
		char *edn = ldap_get_dn(ld, m);
		uint32_t origin = 0;
		struct slot *s;

		if (!edn)
			continue;
		v.cn = ldap_get_values_len(ld, m, "cn");
		v.classes = ldap_get_values_len(ld, m, MXG_FLEET_AT_CLASSES);
		v.reason = ldap_get_values_len(ld, m, MXG_FLEET_AT_REASON);
		v.expires = ldap_get_values_len(ld, m, MXG_FLEET_AT_EXPIRES);
		oc = ldap_get_values_len(ld, m, "objectClass");
		ret = mxg_fleet_entry_parse(edn, f->cfg.conn.base, &v, &e, why,
					    sizeof(why));
		s = ret ? NULL : slot_find(f, &e.key, true);
		if (s) {
			s->in_dir = true;
			s->dir_mask = mask_of(f, &e);
			s->dir_expires_s = e.expires_s;
			mxg_name_parse(&mxg_origins, e.reason, &origin);
			s->dir_origin = origin;
			s->dir_dynamic = false;
			for (int i = 0; oc && oc[i]; i++)
				if (oc[i]->bv_len == strlen(MXG_FLEET_DYNAMIC_OC) &&
				    !strncasecmp(oc[i]->bv_val, MXG_FLEET_DYNAMIC_OC,
						 oc[i]->bv_len))
					s->dir_dynamic = true;
			/* Its TTL is unknown: refreshed at the first write. */
			s->dir_ttl_end_s = 0;
			s->dir_ttl_s = 0;
		}
		ldap_value_free_len(v.cn);
		ldap_value_free_len(v.classes);
		ldap_value_free_len(v.reason);
		ldap_value_free_len(v.expires);
		ldap_value_free_len(oc);
		ldap_memfree(edn);
	}
	ldap_msgfree(res);
	return 0;
}

/*
 * Does the server take RFC 2589's refresh? The root DSE may say so, but
 * slapo-dds registers the operation hidden from it: a refresh of an entry
 * that does not exist then tells, without side effects (noSuchObject with
 * dds, "unsupported extended operation" without).
 */
static int dds_offered(struct mxg_fleet_sync *f, bool *found)
{
	char dn[1024], probe[1200];
	struct berval bdn;
	ber_int_t ttl = 0;
	int ret, rc;

	ret = mxg_ldap_root_dse_lists(f->pub.ld, "supportedExtension",
				      LDAP_EXOP_REFRESH, found, f->pub.error,
				      sizeof(f->pub.error));
	if (ret || *found)
		return ret;
	if (mxg_fleet_host_dn(f->cfg.host, f->cfg.conn.base, dn, sizeof(dn)))
		return 0;
	snprintf(probe, sizeof(probe), "cn=mxguard-refresh-probe,%s", dn);
	bdn = (struct berval){ strlen(probe), probe };
	rc = ldap_refresh_s(f->pub.ld, &bdn, 1, &ttl, NULL, NULL);
	if (rc == LDAP_SERVER_DOWN || rc == LDAP_CONNECT_ERROR || rc == LDAP_TIMEOUT) {
		mxg_ldap_error(f->pub.error, sizeof(f->pub.error), f->pub.ld, rc,
			       "connect");
		return -EIO;
	}
	*found = rc != LDAP_PROTOCOL_ERROR && rc != LDAP_UNAVAILABLE &&
		 rc != LDAP_UNWILLING_TO_PERFORM && rc != LDAP_OTHER;
	return 0;
}

static int publish_start(struct mxg_fleet_sync *f)
{
	int ret = session_open(f, &f->pub);

	if (ret)
		return ret;
	if (f->cfg.publish)
		ret = dds_offered(f, &f->dds);
	if (!ret && f->cfg.publish)
		ret = own_load(f);
	return ret;
}

struct write_fail {
	int rc;
	const char *what;
};

/* The container cn=HOST,BASE, the first time one of its entries is. */
static int add_container(struct mxg_fleet_sync *f, struct write_fail *wf)
{
	char dn[1024], *oc[] = { "top", MXG_FLEET_HOST_OC, NULL },
		       *cn[] = { f->cfg.host, NULL };
	LDAPMod m_oc = { LDAP_MOD_ADD, "objectClass", { .modv_strvals = oc } },
		m_cn = { LDAP_MOD_ADD, "cn", { .modv_strvals = cn } },
		*mods[] = { &m_oc, &m_cn, NULL };
	int rc;

	if (mxg_fleet_host_dn(f->cfg.host, f->cfg.conn.base, dn, sizeof(dn)))
		return -ENAMETOOLONG;
	rc = ldap_add_ext_s(f->pub.ld, dn, mods, NULL, NULL);
	if (rc == LDAP_SUCCESS || rc == LDAP_ALREADY_EXISTS)
		return 0;
	wf->rc = rc;
	wf->what = "add this host's container";
	return -EIO;
}

/* The entry's attributes, for an add (op LDAP_MOD_ADD) or a modify
 * (LDAP_MOD_REPLACE: no expiry then deletes the attribute). */
struct entry_mods {
	char classes[MXG_MAX_CLASSES][MXG_CLASS_NAME_LEN];
	char *classv[MXG_MAX_CLASSES + 1];
	char cidr[MXG_CIDR_STRLEN], expires[MXG_FLEET_TIME_LEN], reason[32];
	char *ocv[3], *cnv[2], *reasonv[2], *expiresv[2];
	LDAPMod oc, cn, cls, rsn, exp;
	LDAPMod *mods[6];
};

static void mods_build(struct mxg_fleet_sync *f, const struct slot *s, int op,
		       bool dynamic, struct entry_mods *m)
{
	unsigned n = class_list(f, s->want_mask, m->classes), k = 0;

	memset(m->classv, 0, sizeof(m->classv));
	for (unsigned i = 0; i < n; i++)
		m->classv[i] = m->classes[i];
	mxg_format_cidr(&s->key, m->cidr, sizeof(m->cidr));
	snprintf(m->reason, sizeof(m->reason), "%s",
		 mxg_name_of(&mxg_origins, s->want_origin));
	m->expires[0] = '\0';
	if (s->want_expires_s)
		mxg_fleet_time_format(s->want_expires_s, m->expires, sizeof(m->expires));
	m->ocv[0] = MXG_FLEET_OC;
	m->ocv[1] = dynamic ? MXG_FLEET_DYNAMIC_OC : NULL;
	m->ocv[2] = NULL;
	m->cnv[0] = m->cidr;
	m->cnv[1] = NULL;
	m->reasonv[0] = m->reason;
	m->reasonv[1] = NULL;
	m->expiresv[0] = m->expires[0] ? m->expires : NULL;
	m->expiresv[1] = NULL;
	m->oc = (LDAPMod){ op, "objectClass", { .modv_strvals = m->ocv } };
	m->cn = (LDAPMod){ op, "cn", { .modv_strvals = m->cnv } };
	m->cls = (LDAPMod){ op, MXG_FLEET_AT_CLASSES, { .modv_strvals = m->classv } };
	m->rsn = (LDAPMod){ op, MXG_FLEET_AT_REASON, { .modv_strvals = m->reasonv } };
	m->exp = (LDAPMod){ op, MXG_FLEET_AT_EXPIRES, { .modv_strvals = m->expiresv } };
	if (op == LDAP_MOD_ADD) {
		m->mods[k++] = &m->oc;
		m->mods[k++] = &m->cn;
	}
	m->mods[k++] = &m->cls;
	m->mods[k++] = &m->rsn;
	if (op != LDAP_MOD_ADD || m->expires[0])
		m->mods[k++] = &m->exp;
	m->mods[k] = NULL;
}

/* Delete this host's entry of s; one it does not find is gone already.
 * 0, or -EIO with wf set. */
static int delete_own(struct mxg_fleet_sync *f, struct slot *s,
		      const char *dn, struct write_fail *wf)
{
	int rc = ldap_delete_ext_s(f->pub.ld, dn, NULL, NULL);

	if (rc != LDAP_SUCCESS && rc != LDAP_NO_SUCH_OBJECT) {
		wf->rc = rc;
		wf->what = "delete";
		return -EIO;
	}
	/* The follow session will see it go: counted, so as not to take
	 * it for someone else's delete of this host's ban. */
	if (rc == LDAP_SUCCESS && f->cfg.follow)
		s->own_deletes++;
	s->in_dir = false;
	return 0;
}

/* Bring one entry to what the map says. 0, or -EIO with wf set. */
static int write_slot(struct mxg_fleet_sync *f, struct slot *s,
		      struct write_fail *wf)
{
	struct mxg_fleet_entry e = { .key = s->key };
	struct entry_mods m;
	char dn[1024];
	bool dynamic;
	int rc;

	snprintf(e.host, sizeof(e.host), "%s", f->cfg.host);
	if (mxg_fleet_entry_dn(&e, f->cfg.conn.base, dn, sizeof(dn)))
		return 0;	/* cannot be named: never published */
	if (!wanted(f, s)) {
		if (delete_own(f, s, dn, wf))
			return -EIO;
		s->recorded = false;
		record_del_published(f, &s->key);
		return 0;
	}
	dynamic = want_dynamic(f, s);
	if (s->in_dir && s->dir_dynamic != dynamic) {
		/* dynamicObject cannot be taken off (RFC 2589): again. */
		if (delete_own(f, s, dn, wf))
			return -EIO;
	}
	if (!s->in_dir) {
		mods_build(f, s, LDAP_MOD_ADD, dynamic, &m);
		rc = ldap_add_ext_s(f->pub.ld, dn, m.mods, NULL, NULL);
		if (rc == LDAP_NO_SUCH_OBJECT) {
			if (add_container(f, wf))
				return -EIO;
			rc = ldap_add_ext_s(f->pub.ld, dn, m.mods, NULL, NULL);
		}
		if (rc == LDAP_ALREADY_EXISTS) {
			/* Written by an earlier run since own_load(): take it
			 * over as it is, and change it below. */
			mods_build(f, s, LDAP_MOD_REPLACE, dynamic, &m);
			rc = ldap_modify_ext_s(f->pub.ld, dn, m.mods, NULL, NULL);
		}
		if ((rc == LDAP_OBJECT_CLASS_VIOLATION || rc == LDAP_UNDEFINED_TYPE ||
		     rc == LDAP_INVALID_SYNTAX) && dynamic) {
			mxg_info("fleet: the directory refuses dynamic entries (%s): publishing static ones",
				 ldap_err2string(rc));
			f->dds = false;
			return write_slot(f, s, wf);
		}
		if (rc != LDAP_SUCCESS) {
			wf->rc = rc;
			wf->what = "add";
			return -EIO;
		}
		s->dir_ttl_end_s = 0;
		s->dir_ttl_s = 0;
	} else if (s->dir_mask != (s->want_mask & f->used_mask) ||
		   s->dir_expires_s != s->want_expires_s ||
		   s->dir_origin != s->want_origin) {
		mods_build(f, s, LDAP_MOD_REPLACE, dynamic, &m);
		rc = ldap_modify_ext_s(f->pub.ld, dn, m.mods, NULL, NULL);
		if (rc == LDAP_NO_SUCH_OBJECT) {
			/* Gone behind our back (its TTL, an operator). */
			s->in_dir = false;
			return write_slot(f, s, wf);
		}
		if (rc != LDAP_SUCCESS) {
			wf->rc = rc;
			wf->what = "modify";
			return -EIO;
		}
	}
	s->in_dir = true;
	s->dir_dynamic = dynamic;
	s->dir_mask = s->want_mask & f->used_mask;
	s->dir_expires_s = s->want_expires_s;
	s->dir_origin = s->want_origin;
	record_put(f, &s->key, f->cfg.host, mxg_name_of(&mxg_origins, s->want_origin),
		   s->want_expires_s, MXG_FLEET_PUBLISHED);
	s->recorded = true;
	return 0;
}

/* Set a dynamic entry's TTL to its ban's remaining time and a grace: after
 * the entry writes of a round, since until then the directory's default
 * TTL holds it and the peers wait for the entries, not their TTLs. */
static int refresh_ttl(struct mxg_fleet_sync *f, struct slot *s,
		       struct write_fail *wf)
{
	struct mxg_fleet_entry e = { .key = s->key };
	uint64_t now_s = real_ns() / NSEC, left;
	struct berval bdn;
	ber_int_t ttl, granted = 0;
	char dn[1024];
	int rc;

	snprintf(e.host, sizeof(e.host), "%s", f->cfg.host);
	if (mxg_fleet_entry_dn(&e, f->cfg.conn.base, dn, sizeof(dn)))
		return 0;
	bdn = (struct berval){ strlen(dn), dn };
	left = s->want_expires_s > now_s ? s->want_expires_s - now_s : 0;
	ttl = (ber_int_t)(left + TTL_GRACE_S > TTL_MAX_S ? TTL_MAX_S :
						    left + TTL_GRACE_S);
	rc = ldap_refresh_s(f->pub.ld, &bdn, ttl, &granted, NULL, NULL);
	if (rc == LDAP_NO_SUCH_OBJECT) {
		s->in_dir = false;
		return 0;	/* the next round adds it */
	}
	if (rc == LDAP_INSUFFICIENT_ACCESS || rc == LDAP_UNWILLING_TO_PERFORM ||
	    rc == LDAP_PROTOCOL_ERROR || rc == LDAP_SIZELIMIT_EXCEEDED) {
		/* An entry the directory would expire on its own
		 * schedule, not the ban's, is worse than a static
		 * one: static from now on (docs/fleet.md). */
		mxg_err("fleet: the directory refuses to refresh the TTL of %s (%s; the bind DN needs manage access to entryTtl): publishing static entries",
			dn, ldap_err2string(rc));
		f->dds = false;
		return write_slot(f, s, wf);
	}
	if (rc != LDAP_SUCCESS) {
		wf->rc = rc;
		wf->what = "refresh the TTL of";
		return -EIO;
	}
	s->dir_ttl_s = granted > 0 ? (uint64_t)granted : (uint64_t)ttl;
	s->dir_ttl_end_s = now_s + s->dir_ttl_s;
	s->dir_ttl_for_s = s->want_expires_s;
	return 0;
}

/* The operator deleted a peer's ban here: its entry goes fleet-wide. */
static int delete_peer_entry(struct mxg_fleet_sync *f, struct peer *p,
			     struct write_fail *wf)
{
	int rc = ldap_delete_ext_s(f->pub.ld, p->dn, NULL, NULL);

	if (rc == LDAP_INSUFFICIENT_ACCESS || rc == LDAP_UNWILLING_TO_PERFORM) {
		/* Final: retrying will not change the directory's mind. It
		 * stays deleted here, until the peer's entry goes. */
		mxg_err("fleet: the directory refuses to delete %s (%s): the ban stays deleted on this host only",
			p->dn, ldap_err2string(rc));
	} else if (rc != LDAP_SUCCESS && rc != LDAP_NO_SUCH_OBJECT) {
		wf->rc = rc;
		wf->what = "delete a peer's entry";
		return -EIO;
	}
	p->delete_pending = false;
	f->pending_deletes--;
	return 0;
}

static void publish_failed(struct mxg_fleet_sync *f, const struct write_fail *wf)
{
	bool lost = wf->rc == LDAP_SERVER_DOWN || wf->rc == LDAP_CONNECT_ERROR ||
		    wf->rc == LDAP_TIMEOUT;

	f->publish_errors++;
	mxg_ldap_error(f->pub.error, sizeof(f->pub.error), f->pub.ld, wf->rc, wf->what);
	if (lost) {
		session_failed(f, &f->pub, "cannot publish to",
			       "local bans keep working");
		return;
	}
	/* Refused (an ACL, a read-only replica's referral): the session
	 * stays, the writes wait for the backoff. */
	if (strcmp(f->pub.logged, f->pub.error)) {
		mxg_err("fleet: cannot publish to %s: %s (local bans keep working; retrying)",
			f->pub.server, f->pub.error);
		memcpy(f->pub.logged, f->pub.error, sizeof(f->pub.logged));
	}
	note_error(f, f->pub.error);
	f->pub.failing = true;
	f->pub.backoff_ms = f->pub.backoff_ms ? f->pub.backoff_ms * 2 : BACKOFF_MIN_MS;
	if (f->pub.backoff_ms > BACKOFF_MAX_MS)
		f->pub.backoff_ms = BACKOFF_MAX_MS;
	f->pub.next_ns = mxg_now_ns() + (uint64_t)f->pub.backoff_ms * MSEC;
}

/* The writes due, for at most WRITE_BUDGET_NS; true when some are left
 * for the next round. */
static bool publish_work(struct mxg_fleet_sync *f)
{
	uint64_t start = mxg_now_ns(), now_s = real_ns() / NSEC;
	struct write_fail wf = { 0 };
	bool wrote = false, left = false;

	if (f->pending_deletes) {
		FOR_EACH_PEER(f, p, nx) {
			if (!p->delete_pending)
				continue;
			if (delete_peer_entry(f, p, &wf))
				goto failed;
			wrote = true;
		}
	}
	/* The entries first, what the peers wait for; then the TTLs. */
	for (int pass = 0; pass < 2 && !left; pass++) {
		FOR_EACH_SLOT(f, s, nx) {
			if (pass ? !needs_ttl(f, s, now_s) : !needs_entry_write(f, s))
				continue;
			if (atomic_load(&f->stop) ||
			    mxg_now_ns() - start > WRITE_BUDGET_NS) {
				left = true;
				break;
			}
			if (pass ? refresh_ttl(f, s, &wf) : write_slot(f, s, &wf))
				goto failed;
			wrote = true;
			slot_release(f, s);
		}
	}
	if (wrote && f->pub.failing) {
		mxg_info("fleet: publishing to %s works again", f->pub.server);
		f->pub.failing = false;
		f->pub.logged[0] = '\0';
	}
	if (wrote)
		f->pub.backoff_ms = 0;
	return left;
failed:
	publish_failed(f, &wf);
	return false;
}

/* ---- the penalty box ----------------------------------------------- */

struct scan_ctx {
	struct mxg_fleet_sync *f;
	uint64_t now;
};

static int scan_one(const struct mxg_lpm_key *key, const void *value, void *ctx_)
{
	struct scan_ctx *ctx = ctx_;
	struct mxg_fleet_sync *f = ctx->f;
	const struct mxg_ban *b = value;
	struct slot *s;

	if (b->expires_ns && b->expires_ns <= ctx->now)
		return 0;	/* expired: the sweep takes it */
	if (b->origin == MXG_ORIGIN_FLEET) {
		s = slot_find(f, key, false);
		if (s)
			s->seen = true;
		return 0;
	}
	if (b->origin != MXG_ORIGIN_CLI && b->origin != MXG_ORIGIN_INSPECT)
		return 0;
	s = slot_find(f, key, f->cfg.publish);
	if (!s)
		return 0;
	if (s->applied) {
		/* An operator's ban over a peer's: it wins. */
		s->applied = false;
		record_del_peer(f, key);
	}
	if (!f->cfg.publish)
		return 0;
	s->local_seen = true;
	s->want = true;
	s->want_origin = b->origin;
	s->want_mask = b->class_mask;
	if (s->want_expires_ns != b->expires_ns || !s->want_expires_s != !b->expires_ns) {
		s->want_expires_ns = b->expires_ns;
		s->want_expires_s = real_of(b->expires_ns);
	}
	return 0;
}

/* A peer's ban left mxg_bans without us: at its expiry (the sweep), or
 * the operator's `ban del`, which then goes fleet-wide. */
static void vanished(struct mxg_fleet_sync *f, struct slot *s)
{
	uint64_t now_s = real_ns() / NSEC;
	char cidr[MXG_CIDR_STRLEN];

	s->applied = false;
	record_del_peer(f, &s->key);
	if (s->applied_expires_s && s->applied_expires_s <= now_s + 1)
		return;
	mxg_format_cidr(&s->key, cidr, sizeof(cidr));
	mxg_info("fleet: %s's ban on %s was deleted here: deleting it in the directory",
		 s->applied_host, cidr);
	for (struct peer *p = s->peers; p; p = p->next_key) {
		if (!p->admitted || p->suppressed)
			continue;
		p->suppressed = true;
		if (!p->delete_pending) {
			p->delete_pending = true;
			f->pending_deletes++;
		}
	}
}

/* Read mxg_bans: this host's bans to publish, the peers' that left. */
static void scan(struct mxg_fleet_sync *f)
{
	struct scan_ctx ctx = { f, mxg_now_ns() };
	uint64_t now_s = real_ns() / NSEC;
	unsigned applied = 0, published = 0, pending = 0;

	if (mxg_lpm_foreach(f->maps.bans, sizeof(struct mxg_ban), scan_one, &ctx))
		return;
	FOR_EACH_SLOT(f, s, nx) {
		if (s->applied && !s->seen && !f->refreshing)
			vanished(f, s);
		if (s->want && !s->local_seen) {
			s->want = false;
			s->want_expires_ns = s->want_expires_s = 0;
			/* A peer's ban of the same prefix may apply now. */
			if (s->peers && !f->refreshing)
				settle(f, s);
		}
		s->seen = s->local_seen = false;
		/* An entry found in the directory as it should be. */
		if (s->in_dir && wanted(f, s) && !s->recorded &&
		    !needs_write(f, s, now_s)) {
			record_put(f, &s->key, f->cfg.host,
				   mxg_name_of(&mxg_origins, s->want_origin),
				   s->want_expires_s, MXG_FLEET_PUBLISHED);
			s->recorded = true;
		}
		applied += s->applied;
		published += s->in_dir;
		pending += needs_write(f, s, now_s);
		slot_release(f, s);
	}
	f->napplied = applied;
	f->npublished = published;
	f->npending = pending + f->pending_deletes;
}

/* ---- the state record ---------------------------------------------- */

static void record_state(struct mxg_fleet_sync *f)
{
	struct mxg_fleet r = {
		.mode = f->cfg.follow ? f->mode : MXG_SYNC_NONE,
		.synced_ns = f->synced_ns,
		.peer_entries = f->nparsed,
		.applied = f->napplied,
		.refused = f->refused,
		.published = f->npublished,
		.pending = f->npending,
		.publish_errors = f->publish_errors,
		.error_s = f->error_s,
	};
	const struct session *ss = f->cfg.follow ? &f->fol : &f->pub;
	uint32_t zero = 0;

	if (!ss->ld)
		r.state = MXG_FLEET_CONNECTING;
	else if (f->cfg.follow && f->refreshing)
		r.state = MXG_FLEET_REFRESHING;
	else
		r.state = MXG_FLEET_SYNCED;
	snprintf(r.host, sizeof(r.host), "%s", f->cfg.host);
	if (ss->ld)
		snprintf(r.server, sizeof(r.server), "%s", ss->server);
	snprintf(r.error, sizeof(r.error), "%s", f->error);
	if (f->rec_written && !memcmp(&r, &f->rec, sizeof(r)))
		return;
	if (!bpf_map_update_elem(f->maps.fleet, &zero, &r, BPF_ANY)) {
		f->rec = r;
		f->rec_written = true;
	}
}

/* ---- the thread ---------------------------------------------------- */

/* Wait until the next tick, the followed session has something, or the
 * stopper wakes us. Returns whether the session is readable. */
static bool wait_tick(struct mxg_fleet_sync *f, uint64_t until_ns)
{
	struct pollfd p[2] = { { .fd = f->wake[0], .events = POLLIN },
			       { .fd = -1, .events = POLLIN } };
	uint64_t now = mxg_now_ns();
	int ms = until_ns > now ? (int)((until_ns - now + MSEC - 1) / MSEC) : 0, fd;
	char buf[16];

	if (f->ls_active && f->fol.ld) {
		if (f->moved && data_buffered(f->fol.ld))
			return true;
		if (ldap_get_option(f->fol.ld, LDAP_OPT_DESC, &fd) == LDAP_OPT_SUCCESS)
			p[1].fd = fd;
	}
	if (poll(p, 2, ms) > 0) {
		if (p[0].revents & POLLIN)
			(void)!read(f->wake[0], buf, sizeof(buf));
		return p[1].revents != 0;
	}
	return false;
}

static void follow_tick(struct mxg_fleet_sync *f, bool readable)
{
	uint64_t now = mxg_now_ns();
	int ret = 0;

	if (!f->fol.ld) {
		if (now < f->fol.next_ns)
			return;
		ret = follow_start(f);
		if (!ret && f->fol.failing) {
			mxg_info("fleet: %s answers again", f->fol.server);
			f->fol.failing = false;
			f->fol.logged[0] = '\0';
		}
	} else if (f->mode == MXG_SYNC_SYNCREPL) {
		if (readable)
			ret = follow_read(f);
		/* While the persistent search lives, the subtree is current. */
		if (!ret && !f->refreshing && now - f->synced_ns >= NSEC)
			f->synced_ns = now;
	} else if (now >= f->next_poll_ns) {
		ret = poll_once(f);
	}
	if (ret && !atomic_load(&f->stop)) {
		sync_end(f);
		session_failed(f, &f->fol, "cannot follow",
			       "the peers' bans stay as last read");
	}
}

/* True when writes are left for the next round. */
static bool publish_tick(struct mxg_fleet_sync *f)
{
	uint64_t now = mxg_now_ns();
	int ret;

	if (!f->cfg.publish && !f->pending_deletes)
		return false;
	if (now < f->pub.next_ns)
		return false;
	if (!f->pub.ld) {
		ret = publish_start(f);
		if (ret) {
			if (!atomic_load(&f->stop))
				session_failed(f, &f->pub, "cannot publish to",
					       "local bans keep working");
			return false;
		}
		if (f->pub.failing && !f->npending) {
			mxg_info("fleet: publishing to %s works again", f->pub.server);
			f->pub.failing = false;
			f->pub.logged[0] = '\0';
		}
	}
	return publish_work(f);
}

static void *fleet_main(void *arg)
{
	struct mxg_fleet_sync *f = arg;
	bool readable = false, left;
	uint64_t next_tick = 0;

	rules_read(f, true);
	while (!atomic_load(&f->stop)) {
		uint64_t now = mxg_now_ns(), cost;

		if (f->cfg.follow)
			follow_tick(f, readable);
		if (atomic_load(&f->stop))
			break;
		now = mxg_now_ns();
		if (now >= next_tick) {
			if (now - f->rules_ns >= RULES_NS)
				rules_read(f, false);
			scan(f);
			left = publish_tick(f);
			/* A penalty box of thousands costs a walk of
			 * thousands of keys: at most a tenth of the time. */
			cost = mxg_now_ns() - now;
			next_tick = now + (cost * 10 > TICK_MS * MSEC ? cost * 10 :
							     TICK_MS * MSEC);
			/* Writes left: on with them once what is followed
			 * has been read. */
			if (left)
				next_tick = mxg_now_ns();
		}
		record_state(f);
		readable = wait_tick(f, next_tick);
	}
	sync_end(f);
	session_close(f, &f->fol);
	session_close(f, &f->pub);
	record_state(f);
	return NULL;
}

int mxg_fleet_start(struct mxg_fleet_sync **out, const struct mxg_config *cfg,
		    const struct mxg_maps *maps)
{
	struct mxg_fleet_sync *f;
	struct record_drop rd;
	int ret = 0;

	f = calloc(1, sizeof(*f));
	if (!f)
		return -ENOMEM;
	f->wake[0] = f->wake[1] = -1;
	pthread_mutex_init(&f->lock, NULL);
	f->cfg = cfg->fleet;
	f->maps = *maps;
	f->ids = calloc(BUCKETS, sizeof(*f->ids));
	f->slots = calloc(BUCKETS, sizeof(*f->slots));
	if (!f->ids || !f->slots)
		ret = -ENOMEM;
	if (!ret && pipe2(f->wake, O_CLOEXEC | O_NONBLOCK))
		ret = -errno;
	/* What this configuration no longer does goes now. */
	if (!ret && !f->cfg.follow)
		ret = drop_peers_bans(maps);
	/* This host's records come back as its entries are confirmed. */
	if (!ret) {
		rd = (struct record_drop){ .fd = maps->fleet_bans,
					   .published = MXG_FLEET_PUBLISHED };
		ret = mxg_lpm_foreach(maps->fleet_bans, sizeof(struct mxg_fleet_ban),
				      drop_record, &rd);
	}
	if (ret)
		goto fail;
	record_state(f);
	mxg_info("fleet: host %s under %s (publish %s, follow %s)", f->cfg.host,
		 f->cfg.conn.base, f->cfg.publish ? "yes" : "no",
		 f->cfg.follow ? "yes" : "no");
	ret = -pthread_create(&f->thread, NULL, fleet_main, f);
	if (ret)
		goto fail;
	f->thread_started = true;
	*out = f;
	return 0;
fail:
	mxg_fleet_stop(f);
	return ret;
}

void mxg_fleet_stop(struct mxg_fleet_sync *f)
{
	if (!f)
		return;
	if (f->thread_started) {
		atomic_store(&f->stop, true);
		if (f->wake[1] >= 0)
			(void)!write(f->wake[1], "x", 1);
		session_interrupt(f);
		pthread_join(f->thread, NULL);
	}
	if (f->ids) {
		FOR_EACH_PEER(f, p, nx) {
			free(p->dn);
			free(p);
		}
	}
	if (f->slots) {
		FOR_EACH_SLOT(f, s, nx)
			free(s);
	}
	free(f->ids);
	free(f->slots);
	free(f->allow);
	if (f->wake[0] >= 0)
		close(f->wake[0]);
	if (f->wake[1] >= 0)
		close(f->wake[1]);
	pthread_mutex_destroy(&f->lock);
	free(f);
}
