/* SPDX-License-Identifier: BSD-2-Clause */
/* The recipient mirror's writer; see mirror.h. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <ldap.h>
#include <uthash.h>
#include <bpf/bpf.h>
#include "log.h"
#include "mirror.h"
#include "recipients.h"
#include "rcpt.h"

#define PAGE_SIZE_ENTRIES 1000
#define INNER_MIN_ENTRIES 1024
#define BACKOFF_MIN_MS 1000
#define BACKOFF_MAX_MS 60000
#define NETWORK_TIMEOUT_S 5
#define OP_TIMEOUT_S 30
#define SYNC_POLL_S 1		/* how often the writer looks up from a sync */
#define SKIP_LOG_INTERVAL_NS (60ULL * 1000000000ULL)
#define UUID_LEN 16

/* entryUUID -> the address hashes that entry contributed, so a delete or
 * a modify can take exactly those back out. */
struct uuid_entry {
	unsigned char uuid[UUID_LEN];
	uint32_t n;
	uint64_t *hashes;
	UT_hash_handle hh;
};

/* One inner map being filled or kept current. */
struct inner {
	int fd;
	uint32_t max_entries;
	uint64_t entries;	/* distinct addresses in it */
};

struct mxg_mirror_writer {
	pthread_t thread;
	atomic_bool stop;
	int wake[2];		/* a byte here ends a backoff sleep */
	pthread_mutex_t lock;	/* guards ld against the stopper */
	LDAP *ld;

	struct mxg_ldap_config cfg;
	char delims[MXG_DELIM_MAX];
	struct mxg_maps maps;
	struct mxg_inner_btf btf;
	struct mxg_hash_key key;

	struct inner live;	/* what is in the slot (fd owned) */
	struct inner fresh;	/* being filled by a full refresh */
	bool refreshing;
	struct uuid_entry *uuids, *fresh_uuids;

	uint64_t swaps;		/* full refreshes swapped in by this writer */
	uint64_t skipped, skipped_logged, last_skip_log_ns;
	char last_error[512];
};

static void uuids_free(struct uuid_entry **table)
{
	struct uuid_entry *e, *tmp;

	HASH_ITER(hh, *table, e, tmp) {
		HASH_DEL(*table, e);
		free(e->hashes);
		free(e);
	}
}

/* ---- the readiness record ---------------------------------------------- */

static int record_update(struct mxg_mirror_writer *w,
			 void (*change)(struct mxg_mirror *rec, void *arg),
			 void *arg)
{
	struct mxg_mirror rec;
	uint32_t zero = 0;
	int ret = mxg_mirror_read(&w->maps, &rec);

	if (ret)
		return ret;
	change(&rec, arg);
	return bpf_map_update_elem(w->maps.mirror, &zero, &rec, BPF_ANY) ? -errno : 0;
}

static void set_config(struct mxg_mirror *rec, const struct mxg_config *cfg)
{
	rec->mode = cfg->ldap.enabled ? cfg->ldap.sync : MXG_SYNC_NONE;
	rec->max_age_ns = cfg->ldap.max_age_ns;
	memcpy(rec->recipient_delimiter, cfg->recipient_delimiter,
	       sizeof(rec->recipient_delimiter));
}

int mxg_mirror_record_config(const struct mxg_maps *maps,
			     const struct mxg_config *cfg)
{
	struct mxg_mirror rec;
	uint32_t zero = 0;
	int ret = mxg_mirror_read(maps, &rec);

	if (ret)
		return ret;
	set_config(&rec, cfg);
	if (!cfg->ldap.enabled)
		rec.connected = 0;
	return bpf_map_update_elem(maps->mirror, &zero, &rec, BPF_ANY) ? -errno : 0;
}

static void mark_synced(struct mxg_mirror *rec, void *arg)
{
	struct mxg_mirror_writer *w = arg;

	rec->synced_ns = mxg_now_ns();
	rec->entries = w->live.entries;
	rec->connected = 1;
	rec->skipped = w->skipped;
}

static void mark_swapped(struct mxg_mirror *rec, void *arg)
{
	rec->generation++;
	mark_synced(rec, arg);
}

static void mark_disconnected(struct mxg_mirror *rec, void *arg)
{
	rec->connected = 0;
}

/* The mode in use, which is poll when syncrepl was asked for but the
 * server does not offer it. */
static void mark_mode(struct mxg_mirror *rec, void *arg)
{
	rec->mode = *(const uint32_t *)arg;
}

/* ---- inner maps --------------------------------------------------------- */

static uint32_t round_pow2(uint64_t n)
{
	uint32_t p = INNER_MIN_ENTRIES;

	while (p < n && p < (1U << 30))
		p <<= 1;
	return p;
}

static int inner_create(struct mxg_mirror_writer *w, struct inner *in,
			uint64_t hint)
{
	/* Room for a quarter more than expected before the first regrow;
	 * elements are allocated as used, only the buckets are not. */
	in->max_entries = round_pow2(hint + hint / 4);
	in->entries = 0;
	in->fd = mxg_rcpt_inner_create(&w->btf, in->max_entries);
	return in->fd < 0 ? in->fd : 0;
}

static void inner_close(struct inner *in)
{
	if (in->fd >= 0)
		close(in->fd);
	in->fd = -1;
	in->entries = 0;
}

static int slot_set(struct mxg_mirror_writer *w, int fd)
{
	uint32_t zero = 0;

	return bpf_map_update_elem(w->maps.rcpt_slot, &zero, &fd, BPF_ANY) ? -errno : 0;
}

#define GROW_BATCH 4096

/* Twice the size, everything copied over in batches (three syscalls per
 * entry one by one made growing the slowest part of a large sync); the
 * live one is swapped. */
static int inner_grow(struct mxg_mirror_writer *w, struct inner *in, bool live)
{
	uint64_t keys[GROW_BATCH], in_batch = 0, out_batch = 0;
	struct mxg_rcpt vals[GROW_BATCH];
	struct inner big;
	bool first = true;
	int ret;

	/* inner_create() adds a quarter and rounds up: twice the size. */
	ret = inner_create(w, &big, in->max_entries);
	if (ret)
		return ret;
	for (;;) {
		__u32 n = GROW_BATCH;
		int rc = bpf_map_lookup_batch(in->fd, first ? NULL : &in_batch,
					      &out_batch, keys, vals, &n, NULL);

		if (rc && errno != ENOENT) {
			ret = -errno;
			goto fail;
		}
		if (n && bpf_map_update_batch(big.fd, keys, vals, &n, NULL)) {
			ret = -errno;
			goto fail;
		}
		if (rc)		/* ENOENT: that was the last batch */
			break;
		in_batch = out_batch;
		first = false;
	}
	big.entries = in->entries;
	if (live) {
		ret = slot_set(w, big.fd);
		if (ret)
			goto fail;
	}
	inner_close(in);
	*in = big;
	return 0;
fail:
	inner_close(&big);
	return ret;
}

static int inner_add(struct mxg_mirror_writer *w, struct inner *in, bool live,
		     uint64_t h)
{
	struct mxg_rcpt v = { .refs = 1 };

	/* Most addresses are new: try the insert first. */
	if (!bpf_map_update_elem(in->fd, &h, &v, BPF_NOEXIST)) {
		in->entries++;
		return 0;
	}
	if (errno == EEXIST) {
		if (bpf_map_lookup_elem(in->fd, &h, &v))
			return -errno;
		v.refs++;
		return bpf_map_update_elem(in->fd, &h, &v, BPF_EXIST) ? -errno : 0;
	}
	if (errno != E2BIG)
		return -errno;
	if (inner_grow(w, in, live))
		return -ENOMEM;
	return inner_add(w, in, live, h);
}

static int inner_remove(struct inner *in, uint64_t h)
{
	struct mxg_rcpt v;

	if (bpf_map_lookup_elem(in->fd, &h, &v))
		return 0;	/* never there: nothing to take back */
	if (v.refs > 1) {
		v.refs--;
		return bpf_map_update_elem(in->fd, &h, &v, BPF_EXIST) ? -errno : 0;
	}
	if (bpf_map_delete_elem(in->fd, &h))
		return -errno;
	in->entries--;
	return 0;
}

/* The fresh map becomes the live one. */
static int swap_in(struct mxg_mirror_writer *w)
{
	uint64_t before = w->live.entries;
	bool first = w->swaps++ == 0;
	int ret = slot_set(w, w->fresh.fd);

	if (ret)
		return ret;
	inner_close(&w->live);
	w->live = w->fresh;
	w->fresh.fd = -1;
	w->refreshing = false;
	uuids_free(&w->uuids);
	w->uuids = w->fresh_uuids;
	w->fresh_uuids = NULL;
	record_update(w, mark_swapped, w);
	/* Every poll swaps: only a first load or a change is worth a line. */
	if (first || before != w->live.entries)
		mxg_info("recipient mirror: %llu addresses (full refresh)",
			 (unsigned long long)w->live.entries);
	return 0;
}

/* ---- directory values to hashes ---------------------------------------- */

static void skip_value(struct mxg_mirror_writer *w, const struct berval *v,
		       const char *why)
{
	uint64_t now = mxg_now_ns();
	char shown[64];
	size_t n = v->bv_len < 40 ? v->bv_len : 40;

	w->skipped++;
	/* Rate-limited: one line now and then, with a count, never one per
	 * value (a directory full of junk must not flood the log). */
	if (w->last_skip_log_ns && now - w->last_skip_log_ns < SKIP_LOG_INTERVAL_NS)
		return;
	for (size_t i = 0; i < n; i++)
		shown[i] = v->bv_val[i] >= 0x20 && v->bv_val[i] < 0x7f ? v->bv_val[i] : '?';
	shown[n] = '\0';
	mxg_info("recipient mirror: skipped %llu directory value(s) that are not addresses (latest: '%s%s': %s)",
		 (unsigned long long)(w->skipped - w->skipped_logged), shown,
		 v->bv_len > n ? "..." : "", why);
	w->skipped_logged = w->skipped;
	w->last_skip_log_ns = now;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* The address hashes of one entry, each once, sorted (has_hash bisects).
 * All of them: a role account or a list entry may hold thousands of
 * addresses, and one left out would get a false 550. 8 bytes each. */
static int entry_hashes(struct mxg_mirror_writer *w, LDAP *ld, LDAPMessage *e,
			uint64_t **out, uint32_t *n)
{
	char norm[MXG_RCPT_BUF];
	uint64_t *h = NULL, *tmp;
	size_t count = 0, cap = 0, u = 0;
	uint32_t at;
	int ret = 0;

	for (unsigned a = 0; a < w->cfg.nattributes && !ret; a++) {
		struct berval **vals = ldap_get_values_len(ld, e, w->cfg.attributes[a]);

		for (int i = 0; vals && vals[i]; i++) {
			const struct berval *v = vals[i];
			int len;

			if (!mxg_utf8_valid(v->bv_val, v->bv_len)) {
				skip_value(w, v, "not UTF-8");
				continue;
			}
			len = mxg_rcpt_normalize(v->bv_val, v->bv_len, norm,
						 w->delims, &at);
			if (len < 0) {
				skip_value(w, v, mxg_rcpt_strerror(len));
				continue;
			}
			if (count == cap) {
				cap = cap ? 2 * cap : 16;
				tmp = realloc(h, cap * sizeof(*h));
				if (!tmp) {
					ret = -ENOMEM;
					break;
				}
				h = tmp;
			}
			h[count++] = mxg_rcpt_key(&w->key, norm, len);
		}
		ldap_value_free_len(vals);
	}
	/* An LDAP message of 4G values is not one any server sends. */
	if (!ret && count > UINT32_MAX)
		ret = -E2BIG;
	if (ret) {
		free(h);
		return ret;
	}
	if (count) {
		qsort(h, count, sizeof(*h), cmp_u64);
		for (size_t i = 0; i < count; i++)
			if (!u || h[u - 1] != h[i])
				h[u++] = h[i];
		/* syncrepl keeps it for as long as the mirror lives. */
		tmp = realloc(h, u * sizeof(*h));
		if (tmp)
			h = tmp;
	}
	*out = h;
	*n = (uint32_t)u;
	return 0;
}

static bool has_hash(const uint64_t *h, uint32_t n, uint64_t k)
{
	return n && bsearch(&k, h, n, sizeof(*h), cmp_u64);
}

/* An entry as it is now: take back what it no longer has, add what it
 * has new. uuid may be NULL (paged refresh: no later changes to follow). */
static int apply_entry(struct mxg_mirror_writer *w, struct inner *in, bool live,
		       struct uuid_entry **table, const struct berval *uuid,
		       uint64_t *hashes, uint32_t n)
{
	struct uuid_entry *e = NULL;
	int ret = 0;

	if (uuid && uuid->bv_len == UUID_LEN)
		HASH_FIND(hh, *table, uuid->bv_val, UUID_LEN, e);
	for (uint32_t i = 0; i < n && !ret; i++)
		if (!e || !has_hash(e->hashes, e->n, hashes[i]))
			ret = inner_add(w, in, live, hashes[i]);
	if (e)
		for (uint32_t i = 0; i < e->n && !ret; i++)
			if (!has_hash(hashes, n, e->hashes[i]))
				ret = inner_remove(in, e->hashes[i]);
	if (ret || !uuid || uuid->bv_len != UUID_LEN) {
		free(hashes);
		return ret;
	}
	if (!e) {
		e = calloc(1, sizeof(*e));
		if (!e) {
			free(hashes);
			return -ENOMEM;
		}
		memcpy(e->uuid, uuid->bv_val, UUID_LEN);
		HASH_ADD(hh, *table, uuid, UUID_LEN, e);
	}
	free(e->hashes);
	e->hashes = hashes;
	e->n = n;
	return 0;
}

static int delete_entry(struct inner *in, struct uuid_entry **table,
			const struct berval *uuid)
{
	struct uuid_entry *e = NULL;
	int ret = 0;

	if (uuid->bv_len == UUID_LEN)
		HASH_FIND(hh, *table, uuid->bv_val, UUID_LEN, e);
	if (!e)
		return 0;
	for (uint32_t i = 0; i < e->n && !ret; i++)
		ret = inner_remove(in, e->hashes[i]);
	HASH_DEL(*table, e);
	free(e->hashes);
	free(e);
	return ret;
}

/* ---- LDAP session ------------------------------------------------------ */

static void set_error(struct mxg_mirror_writer *w, LDAP *ld, int rc,
		      const char *what)
{
	char *diag = NULL;

	if (ld)
		ldap_get_option(ld, LDAP_OPT_DIAGNOSTIC_MESSAGE, &diag);
	snprintf(w->last_error, sizeof(w->last_error), "%s: %s%s%s%s", what,
		 ldap_err2string(rc), diag && *diag ? " (" : "",
		 diag && *diag ? diag : "", diag && *diag ? ")" : "");
	ldap_memfree(diag);
}

/* The password is the file's first line, without its line end
 * (docs/configuration.md): what follows it (a comment, a second secret)
 * is never sent. */
static int read_password(struct mxg_mirror_writer *w, struct berval *pw)
{
	char buf[1024];
	const char *why = NULL;
	ssize_t n;
	size_t len;
	char *nl;
	int fd = open(w->cfg.bind_password_file, O_RDONLY | O_CLOEXEC);

	if (fd < 0) {
		snprintf(w->last_error, sizeof(w->last_error),
			 "cannot read bind_password_file %s: %s",
			 w->cfg.bind_password_file, strerror(errno));
		return -errno;
	}
	n = read(fd, buf, sizeof(buf));
	close(fd);
	if (n < 0) {
		snprintf(w->last_error, sizeof(w->last_error),
			 "cannot read bind_password_file %s: %s",
			 w->cfg.bind_password_file, strerror(errno));
		return -EIO;
	}
	nl = memchr(buf, '\n', (size_t)n);
	len = nl ? (size_t)(nl - buf) : (size_t)n;
	if (len && buf[len - 1] == '\r')
		len--;
	if (!nl && n == sizeof(buf))
		why = "its first line is longer than 1023 bytes";
	else if (!len)
		/* An empty password would be an unauthenticated bind (RFC
		 * 4513), which servers refuse or treat as anonymous. */
		why = "its first line is empty";
	if (why) {
		snprintf(w->last_error, sizeof(w->last_error),
			 "bind_password_file %s: %s", w->cfg.bind_password_file,
			 why);
		memset(buf, 0, sizeof(buf));
		return -EINVAL;
	}
	pw->bv_val = strndup(buf, len);
	pw->bv_len = len;
	memset(buf, 0, sizeof(buf));
	return pw->bv_val ? 0 : -ENOMEM;
}

static int session_open(struct mxg_mirror_writer *w, LDAP **out)
{
	struct timeval net = { NETWORK_TIMEOUT_S, 0 }, op = { OP_TIMEOUT_S, 0 };
	int version = LDAP_VERSION3, rc, zero = 0, idle = 10, probes = 3, intvl = 5;
	struct berval pw = { 0, NULL };
	LDAP *ld = NULL;

	rc = ldap_initialize(&ld, w->cfg.uri);
	if (rc != LDAP_SUCCESS) {
		set_error(w, NULL, rc, w->cfg.uri);
		return -EINVAL;
	}
	ldap_set_option(ld, LDAP_OPT_PROTOCOL_VERSION, &version);
	ldap_set_option(ld, LDAP_OPT_NETWORK_TIMEOUT, &net);
	ldap_set_option(ld, LDAP_OPT_TIMEOUT, &op);
	ldap_set_option(ld, LDAP_OPT_REFERRALS, LDAP_OPT_OFF);
	/* A directory that vanishes without a FIN is noticed within ~25 s,
	 * so the mirror's age starts counting. */
	ldap_set_option(ld, LDAP_OPT_X_KEEPALIVE_IDLE, &idle);
	ldap_set_option(ld, LDAP_OPT_X_KEEPALIVE_PROBES, &probes);
	ldap_set_option(ld, LDAP_OPT_X_KEEPALIVE_INTERVAL, &intvl);
	if (w->cfg.ca_file[0]) {
		ldap_set_option(ld, LDAP_OPT_X_TLS_CACERTFILE, w->cfg.ca_file);
		ldap_set_option(ld, LDAP_OPT_X_TLS_NEWCTX, &zero);
	}
	if (w->cfg.starttls) {
		rc = ldap_start_tls_s(ld, NULL, NULL);
		if (rc != LDAP_SUCCESS) {
			set_error(w, ld, rc, "starttls");
			goto fail;
		}
	}
	if (w->cfg.bind_dn[0]) {
		if (read_password(w, &pw))
			goto fail_quiet;
		rc = ldap_sasl_bind_s(ld, w->cfg.bind_dn, LDAP_SASL_SIMPLE, &pw,
				      NULL, NULL, NULL);
		memset(pw.bv_val, 0, pw.bv_len);
		free(pw.bv_val);
		if (rc != LDAP_SUCCESS) {
			set_error(w, ld, rc, rc == LDAP_SERVER_DOWN || rc == LDAP_CONNECT_ERROR ||
				  rc == LDAP_TIMEOUT ? "connect" : "bind as the bind_dn");
			goto fail;
		}
	}
	pthread_mutex_lock(&w->lock);
	w->ld = ld;
	pthread_mutex_unlock(&w->lock);
	*out = ld;
	return 0;
fail:
fail_quiet:
	ldap_unbind_ext_s(ld, NULL, NULL);
	return -EIO;
}

static void session_close(struct mxg_mirror_writer *w, LDAP *ld)
{
	pthread_mutex_lock(&w->lock);
	w->ld = NULL;
	ldap_unbind_ext_s(ld, NULL, NULL);
	pthread_mutex_unlock(&w->lock);
}

/* Does the server offer the Content Synchronization control? The root
 * DSE says so. It is also the first request of an anonymous session, so
 * an unreachable server is reported from here. */
static int offers_syncrepl(struct mxg_mirror_writer *w, LDAP *ld, bool *found)
{
	char *attrs[] = { "supportedControl", NULL };
	LDAPMessage *res = NULL, *e;
	struct berval **vals;
	int rc;

	*found = false;
	rc = ldap_search_ext_s(ld, "", LDAP_SCOPE_BASE, "(objectClass=*)", attrs,
			       0, NULL, NULL, NULL, 1, &res);
	if (rc == LDAP_SERVER_DOWN || rc == LDAP_CONNECT_ERROR ||
	    rc == LDAP_TIMEOUT) {
		set_error(w, ld, rc, "connect");
		ldap_msgfree(res);
		return -EIO;
	}
	/* A root DSE we may not read: no syncrepl as far as we can tell. */
	e = rc == LDAP_SUCCESS ? ldap_first_entry(ld, res) : NULL;
	vals = e ? ldap_get_values_len(ld, e, "supportedControl") : NULL;
	for (int i = 0; vals && vals[i] && !*found; i++)
		*found = vals[i]->bv_len == strlen(LDAP_CONTROL_SYNC) &&
			 !memcmp(vals[i]->bv_val, LDAP_CONTROL_SYNC, vals[i]->bv_len);
	ldap_value_free_len(vals);
	ldap_msgfree(res);
	return 0;
}

/* ---- full refreshes ---------------------------------------------------- */

/* The attribute list for the search, and an empty map to fill. */
static int refresh_begin(struct mxg_mirror_writer *w,
			 char *attrs[MXG_LDAP_MAX_ATTRS + 1])
{
	for (unsigned i = 0; i < w->cfg.nattributes; i++)
		attrs[i] = w->cfg.attributes[i];
	attrs[w->cfg.nattributes] = NULL;
	uuids_free(&w->fresh_uuids);
	/* "skipped" counts the bad values of the mirror being built (and of
	 * the changes after it), not every time they are read again. */
	w->skipped = w->skipped_logged = 0;
	return inner_create(w, &w->fresh, w->live.entries);
}

/* ---- poll: a paged full refresh ---------------------------------------- */

static int refresh_paged(struct mxg_mirror_writer *w, LDAP *ld)
{
	struct berval *cookie = NULL;
	struct timeval tmo = { OP_TIMEOUT_S, 0 };
	char *attrs[MXG_LDAP_MAX_ATTRS + 1];
	int ret = 0, rc, err;

	ret = refresh_begin(w, attrs);
	if (ret)
		return ret;
	do {
		LDAPControl *page = NULL, *ctrls[2] = { NULL, NULL }, **rctrls = NULL;
		LDAPMessage *res = NULL, *e;
		ber_int_t total;

		rc = ldap_create_page_control(ld, PAGE_SIZE_ENTRIES, cookie, 0, &page);
		if (rc != LDAP_SUCCESS) {
			set_error(w, ld, rc, "paged results control");
			ret = -EIO;
			break;
		}
		ctrls[0] = page;
		rc = ldap_search_ext_s(ld, w->cfg.base, LDAP_SCOPE_SUBTREE,
				       w->cfg.filter, attrs, 0, ctrls, NULL, &tmo,
				       LDAP_NO_LIMIT, &res);
		ldap_control_free(page);
		if (rc != LDAP_SUCCESS) {
			set_error(w, ld, rc, rc == LDAP_NO_SUCH_OBJECT ?
				  "search: the base does not exist" : "search");
			ldap_msgfree(res);
			ret = -EIO;
			break;
		}
		for (e = ldap_first_entry(ld, res); e && !ret; e = ldap_next_entry(ld, e)) {
			uint64_t *h;
			uint32_t n;

			ret = entry_hashes(w, ld, e, &h, &n);
			if (!ret)
				ret = apply_entry(w, &w->fresh, false, NULL, NULL, h, n);
		}
		ber_bvfree(cookie);
		cookie = NULL;
		rc = ldap_parse_result(ld, res, &err, NULL, NULL, NULL, &rctrls, 0);
		if (rc == LDAP_SUCCESS && err == LDAP_SUCCESS && rctrls) {
			LDAPControl *pr = ldap_control_find(LDAP_CONTROL_PAGEDRESULTS,
							    rctrls, NULL);
			struct berval c = { 0, NULL };

			if (pr && ldap_parse_pageresponse_control(ld, pr, &total, &c) == LDAP_SUCCESS &&
			    c.bv_len)
				cookie = ber_bvdup(&c);
			ber_memfree(c.bv_val);
		} else if (rc != LDAP_SUCCESS || err != LDAP_SUCCESS) {
			set_error(w, ld, rc != LDAP_SUCCESS ? rc : err, "search");
			ret = -EIO;
		}
		ldap_controls_free(rctrls);
		ldap_msgfree(res);
	} while (!ret && cookie && !atomic_load(&w->stop));
	ber_bvfree(cookie);
	if (ret || atomic_load(&w->stop)) {
		inner_close(&w->fresh);
		return ret ? ret : -EINTR;
	}
	return swap_in(w);
}

/* Sleep ms unless stopped; returns false when stopped. */
static bool nap(struct mxg_mirror_writer *w, int ms)
{
	struct pollfd p = { .fd = w->wake[0], .events = POLLIN };

	if (atomic_load(&w->stop))
		return false;
	poll(&p, 1, ms);
	return !atomic_load(&w->stop);
}

static int run_poll(struct mxg_mirror_writer *w, LDAP *ld)
{
	int ret;

	for (;;) {
		ret = refresh_paged(w, ld);
		if (ret)
			return ret;
		if (!nap(w, w->cfg.poll_interval_ns / 1000000))
			return 0;
	}
}

/* ---- syncrepl: refreshAndPersist --------------------------------------- */

static int sync_entry(ldap_sync_t *ls, LDAPMessage *msg, struct berval *uuid,
		      ldap_sync_refresh_t phase)
{
	struct mxg_mirror_writer *w = ls->ls_private;
	struct inner *in = w->refreshing ? &w->fresh : &w->live;
	struct uuid_entry **table = w->refreshing ? &w->fresh_uuids : &w->uuids;
	uint64_t *h;
	uint32_t n;
	int ret;

	switch (phase) {
	case LDAP_SYNC_CAPI_ADD:
	case LDAP_SYNC_CAPI_MODIFY:
		ret = entry_hashes(w, ls->ls_ld, msg, &h, &n);
		if (!ret)
			ret = apply_entry(w, in, !w->refreshing, table, uuid, h, n);
		break;
	case LDAP_SYNC_CAPI_DELETE:
		ret = delete_entry(in, table, uuid);
		break;
	default:	/* PRESENT: we always start without a cookie */
		return LDAP_SUCCESS;
	}
	if (ret) {
		snprintf(w->last_error, sizeof(w->last_error),
			 "cannot update the mirror: %s", strerror(-ret));
		return LDAP_OTHER;
	}
	if (!w->refreshing)
		record_update(w, mark_synced, w);
	return LDAP_SUCCESS;
}

static int sync_intermediate(ldap_sync_t *ls, LDAPMessage *msg,
			     BerVarray uuids, ldap_sync_refresh_t phase)
{
	struct mxg_mirror_writer *w = ls->ls_private;
	struct inner *in = w->refreshing ? &w->fresh : &w->live;
	struct uuid_entry **table = w->refreshing ? &w->fresh_uuids : &w->uuids;

	if (phase == LDAP_SYNC_CAPI_DELETES_IDSET)
		for (int i = 0; uuids && uuids[i].bv_val; i++)
			delete_entry(in, table, &uuids[i]);
	/* The refresh phase is over: the fresh map is complete. */
	if (phase == LDAP_SYNC_CAPI_DONE && w->refreshing && swap_in(w))
		return LDAP_OTHER;
	return LDAP_SUCCESS;
}

static int run_syncrepl(struct mxg_mirror_writer *w, LDAP *ld)
{
	char *attrs[MXG_LDAP_MAX_ATTRS + 1];
	uint64_t last_mark = 0;
	ldap_sync_t ls;
	int rc, ret = 0;

	ret = refresh_begin(w, attrs);
	if (ret)
		return ret;
	w->refreshing = true;

	ldap_sync_initialize(&ls);
	ls.ls_ld = ld;
	ls.ls_base = w->cfg.base;
	ls.ls_scope = LDAP_SCOPE_SUBTREE;
	ls.ls_filter = w->cfg.filter;
	ls.ls_attrs = attrs;
	ls.ls_timeout = SYNC_POLL_S;
	ls.ls_search_entry = sync_entry;
	ls.ls_intermediate = sync_intermediate;
	ls.ls_private = w;

	rc = ldap_sync_init_refresh_and_persist(&ls);
	if (rc != LDAP_SUCCESS) {
		set_error(w, ld, rc, rc == LDAP_NO_SUCH_OBJECT ?
			  "syncrepl search: the base does not exist" : "syncrepl search");
		ret = -EIO;
		goto out;
	}
	/* A server that ends the refresh without the refreshDone flag. */
	if (w->refreshing && swap_in(w)) {
		ret = -EIO;
		goto out;
	}
	mxg_info("recipient mirror: following %s with syncrepl", w->cfg.uri);
	while (!atomic_load(&w->stop)) {
		uint64_t now;

		rc = ldap_sync_poll(&ls);
		if (rc != LDAP_SUCCESS) {
			set_error(w, ld, rc < 0 ? LDAP_SERVER_DOWN : rc,
				  "syncrepl session ended");
			ret = -EIO;
			break;
		}
		/* While the persistent search lives, the mirror is current. */
		now = mxg_now_ns();
		if (now - last_mark >= 1000000000ULL) {
			record_update(w, mark_synced, w);
			last_mark = now;
		}
	}
out:
	if (w->refreshing) {
		inner_close(&w->fresh);
		uuids_free(&w->fresh_uuids);
		w->refreshing = false;
	}
	/* ldap_sync_destroy would unbind the session: ours to close. */
	ber_memfree(ls.ls_cookie.bv_val);
	return ret;
}

/* ---- the thread -------------------------------------------------------- */

static void *writer_main(void *arg)
{
	struct mxg_mirror_writer *w = arg;
	char logged[sizeof(w->last_error)] = "";
	int backoff = BACKOFF_MIN_MS, ret;
	bool syncrepl;
	LDAP *ld;

	while (!atomic_load(&w->stop)) {
		uint64_t start = mxg_now_ns();

		w->last_error[0] = '\0';
		ret = session_open(w, &ld);
		if (!ret) {
			ret = offers_syncrepl(w, ld, &syncrepl);
			if (!ret && w->cfg.sync == MXG_SYNC_SYNCREPL && !syncrepl)
				mxg_info("recipient mirror: %s does not offer syncrepl (RFC 4533): polling every %llu s",
					 w->cfg.uri,
					 (unsigned long long)(w->cfg.poll_interval_ns / 1000000000ULL));
			if (!ret) {
				uint32_t mode = w->cfg.sync == MXG_SYNC_SYNCREPL && syncrepl ?
						MXG_SYNC_SYNCREPL : MXG_SYNC_POLL;

				record_update(w, mark_mode, &mode);
				ret = mode == MXG_SYNC_SYNCREPL ? run_syncrepl(w, ld) :
								  run_poll(w, ld);
			}
			session_close(w, ld);
			if (!ret || atomic_load(&w->stop))
				break;
			/* A session that lasted: its end is news, retry soon. */
			if (mxg_now_ns() - start > 30 * 1000000000ULL) {
				backoff = BACKOFF_MIN_MS;
				logged[0] = '\0';
			}
		}
		record_update(w, mark_disconnected, NULL);
		/* One line per distinct failure, not one per retry. */
		if (w->last_error[0] && strcmp(logged, w->last_error)) {
			mxg_err("recipient mirror: %s: %s (keeping the last mirror, retrying)",
				w->cfg.uri, w->last_error);
			memcpy(logged, w->last_error, sizeof(logged));
		}
		if (!nap(w, backoff))
			break;
		backoff = backoff * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : backoff * 2;
	}
	record_update(w, mark_disconnected, NULL);
	return NULL;
}

int mxg_mirror_start(struct mxg_mirror_writer **out, const struct mxg_config *cfg,
		     const struct mxg_maps *maps, const struct mxg_inner_btf *btf)
{
	struct mxg_mirror_writer *w;
	int ret;

	w = calloc(1, sizeof(*w));
	if (!w)
		return -ENOMEM;
	w->cfg = cfg->ldap;
	memcpy(w->delims, cfg->recipient_delimiter, sizeof(w->delims));
	w->maps = *maps;
	w->btf = *btf;
	w->live.fd = w->fresh.fd = -1;
	w->wake[0] = w->wake[1] = -1;
	pthread_mutex_init(&w->lock, NULL);

	ret = mxg_hash_key_ensure(maps, &w->key);
	if (!ret)
		ret = mxg_mirror_record_config(maps, cfg);
	if (!ret && pipe2(w->wake, O_CLOEXEC | O_NONBLOCK))
		ret = -errno;
	if (ret)
		goto fail;
	/* Keep serving what is pinned until the first refresh replaces it. */
	w->live.fd = mxg_rcpt_inner_fd(maps);
	if (w->live.fd >= 0) {
		struct mxg_mirror rec;

		if (!mxg_mirror_read(maps, &rec))
			w->live.entries = rec.entries;
	}
	ret = -pthread_create(&w->thread, NULL, writer_main, w);
	if (ret)
		goto fail;
	*out = w;
	return 0;
fail:
	mxg_mirror_stop(w);
	return ret;
}

void mxg_mirror_stop(struct mxg_mirror_writer *w)
{
	int fd;

	if (!w)
		return;
	if (w->thread) {
		atomic_store(&w->stop, true);
		if (w->wake[1] >= 0)
			(void)!write(w->wake[1], "x", 1);
		/* A blocking LDAP call returns once its socket is shut. */
		pthread_mutex_lock(&w->lock);
		if (w->ld && ldap_get_option(w->ld, LDAP_OPT_DESC, &fd) == LDAP_OPT_SUCCESS &&
		    fd >= 0)
			shutdown(fd, SHUT_RDWR);
		pthread_mutex_unlock(&w->lock);
		pthread_join(w->thread, NULL);
	}
	inner_close(&w->live);
	inner_close(&w->fresh);
	uuids_free(&w->uuids);
	uuids_free(&w->fresh_uuids);
	if (w->wake[0] >= 0)
		close(w->wake[0]);
	if (w->wake[1] >= 0)
		close(w->wake[1]);
	pthread_mutex_destroy(&w->lock);
	free(w);
}
