/* SPDX-License-Identifier: BSD-2-Clause */
/* The mirror's side of the directory; see mirror_ldap.h. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include "ldap_conn.h"
#include "log.h"
#include "mirror_ldap.h"
#include "rcpt.h"

#define PAGE_SIZE_ENTRIES 1000
#define NETWORK_TIMEOUT_S 5
#define OP_TIMEOUT_S 30
#define SYNC_POLL_S 1		/* how often the writer looks up from a sync */
#define SKIP_LOG_INTERVAL_NS (60ULL * 1000000000ULL)
/*
 * A persistent search says nothing while nothing changes, so a server that
 * hangs with the connection open (its host's TCP still acknowledges, and
 * keepalive never fires) would look alive for ever. A liveness search of
 * the root DSE on the same session every LIVENESS_EVERY_NS tells: while one
 * is unanswered for LIVENESS_STALL_NS the mirror is no longer stamped
 * current, and after LIVENESS_TIMEOUT_NS the session counts as lost (the
 * next server is tried). The same session, not a new connection: a
 * directory out of descriptors still serves the one it has.
 */
#define LIVENESS_EVERY_NS (5ULL * 1000000000ULL)
#define LIVENESS_STALL_NS (2ULL * 1000000000ULL)
#define LIVENESS_TIMEOUT_NS (10ULL * 1000000000ULL)

void mxg_mirror_session_init(struct mxg_mirror_session *s,
			     const struct mxg_ldap_config *cfg,
			     const char *delims, struct mxg_mirror_store *store,
			     const atomic_bool *stop)
{
	memset(s, 0, sizeof(*s));
	s->cfg = *cfg;
	memcpy(s->delims, delims, sizeof(s->delims));
	s->store = store;
	s->stop = stop;
	pthread_mutex_init(&s->lock, NULL);
}

void mxg_mirror_session_destroy(struct mxg_mirror_session *s)
{
	mxg_mirror_session_close(s);
	pthread_mutex_destroy(&s->lock);
}

/* ---- directory values to hashes ---------------------------------------- */

static void skip_value(struct mxg_mirror_session *s, const struct berval *v,
		       const char *why)
{
	uint64_t now = mxg_now_ns();
	char shown[64];
	size_t n = v->bv_len < 40 ? v->bv_len : 40;

	s->store->skipped++;
	/* Rate-limited: one line now and then, with a count, never one per
	 * value (a directory full of junk must not flood the log). */
	if (s->last_skip_log_ns && now - s->last_skip_log_ns < SKIP_LOG_INTERVAL_NS)
		return;
	for (size_t i = 0; i < n; i++)
		shown[i] = v->bv_val[i] >= 0x20 && v->bv_val[i] < 0x7f ? v->bv_val[i] : '?';
	shown[n] = '\0';
	mxg_info("recipient mirror: skipped %llu directory value(s) that are not addresses (latest: '%s%s': %s)",
		 (unsigned long long)(s->store->skipped - s->skipped_logged), shown,
		 v->bv_len > n ? "..." : "", why);
	s->skipped_logged = s->store->skipped;
	s->last_skip_log_ns = now;
}

/* The address hashes of one entry, in any order (the store sorts them).
 * All of them: a role account or a list entry may hold thousands of
 * addresses, and one left out would get a false 550. 8 bytes each. */
static int entry_hashes(struct mxg_mirror_session *s, LDAPMessage *e,
			uint64_t **out, uint32_t *n)
{
	char norm[MXG_RCPT_BUF];
	uint64_t *h = NULL, *tmp;
	size_t count = 0, cap = 0;
	uint32_t at;
	int ret = 0;

	for (unsigned a = 0; a < s->cfg.nattributes && !ret; a++) {
		struct berval **vals = ldap_get_values_len(s->ld, e, s->cfg.attributes[a]);

		for (int i = 0; vals && vals[i]; i++) {
			const struct berval *v = vals[i];
			int len;

			if (!mxg_utf8_valid(v->bv_val, v->bv_len)) {
				skip_value(s, v, "not UTF-8");
				continue;
			}
			len = mxg_rcpt_normalize(v->bv_val, v->bv_len, norm,
						 s->delims, &at);
			if (len < 0) {
				skip_value(s, v, mxg_rcpt_strerror(len));
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
			h[count++] = mxg_rcpt_key(&s->key, norm, len);
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
	*out = h;
	*n = (uint32_t)count;
	return 0;
}

/* An entry as the directory has it now, into the store. */
static int entry_apply(struct mxg_mirror_session *s, LDAPMessage *e,
		       const struct berval *uuid)
{
	uint64_t *h;
	uint32_t n;
	int ret = entry_hashes(s, e, &h, &n);

	if (ret)
		return ret;
	return mxg_mirror_store_apply(s->store, uuid ? uuid->bv_val : NULL,
				      uuid ? uuid->bv_len : 0, h, n);
}

/* ---- the session ------------------------------------------------------- */

static void set_error(struct mxg_mirror_session *s, LDAP *ld, int rc,
		      const char *what)
{
	mxg_ldap_error(s->last_error, sizeof(s->last_error), ld, rc, what);
}

int mxg_mirror_session_open(struct mxg_mirror_session *s)
{
	/* A long-lived session: each step bounded on its own, and a
	 * directory that vanishes without a FIN is noticed within ~25 s, so
	 * the mirror's age starts counting. */
	const struct mxg_ldap_timeouts t = {
		.network_ns = NETWORK_TIMEOUT_S * 1000000000ULL,
		.op_ns = OP_TIMEOUT_S * 1000000000ULL,
		.keepalive = true,
	};
	LDAP *ld;
	int ret = mxg_ldap_connect_first(&s->cfg, &t, &ld, s->server,
					 sizeof(s->server), s->last_error,
					 sizeof(s->last_error));

	if (ret)
		return ret;
	pthread_mutex_lock(&s->lock);
	s->ld = ld;
	pthread_mutex_unlock(&s->lock);
	return 0;
}

void mxg_mirror_session_close(struct mxg_mirror_session *s)
{
	pthread_mutex_lock(&s->lock);
	if (s->ld)
		ldap_unbind_ext_s(s->ld, NULL, NULL);
	s->ld = NULL;
	pthread_mutex_unlock(&s->lock);
}

void mxg_mirror_session_interrupt(struct mxg_mirror_session *s)
{
	int fd;

	pthread_mutex_lock(&s->lock);
	if (s->ld && ldap_get_option(s->ld, LDAP_OPT_DESC, &fd) == LDAP_OPT_SUCCESS &&
	    fd >= 0)
		shutdown(fd, SHUT_RDWR);
	pthread_mutex_unlock(&s->lock);
}

/* Does the server offer the Content Synchronization control? The root
 * DSE says so. It is also the first request of an anonymous session, so
 * an unreachable server is reported from here. */
static int offers_syncrepl(struct mxg_mirror_session *s, bool *found)
{
	return mxg_ldap_root_dse_lists(s->ld, "supportedControl",
				       LDAP_CONTROL_SYNC, found, s->last_error,
				       sizeof(s->last_error));
}

int mxg_mirror_session_mode(struct mxg_mirror_session *s, uint32_t *mode)
{
	bool syncrepl;
	int ret = offers_syncrepl(s, &syncrepl);

	if (ret)
		return ret;
	if (s->cfg.sync == MXG_SYNC_SYNCREPL && !syncrepl)
		mxg_info("recipient mirror: %s does not offer syncrepl (RFC 4533): polling every %llu s",
			 s->server,
			 (unsigned long long)(s->cfg.poll_interval_ns / 1000000000ULL));
	*mode = s->cfg.sync == MXG_SYNC_SYNCREPL && syncrepl ? MXG_SYNC_SYNCREPL :
								 MXG_SYNC_POLL;
	return 0;
}

/* ---- full refreshes ---------------------------------------------------- */

/* The attribute list for the search, and an empty map to fill. */
static int refresh_begin(struct mxg_mirror_session *s,
			 char *attrs[MXG_LDAP_MAX_ATTRS + 1])
{
	for (unsigned i = 0; i < s->cfg.nattributes; i++)
		attrs[i] = s->cfg.attributes[i];
	attrs[s->cfg.nattributes] = NULL;
	s->skipped_logged = 0;
	return mxg_mirror_store_begin(s->store);
}

/* ---- poll: a paged full refresh ---------------------------------------- */

int mxg_mirror_refresh_paged(struct mxg_mirror_session *s)
{
	struct berval *cookie = NULL;
	struct timeval tmo = { OP_TIMEOUT_S, 0 };
	char *attrs[MXG_LDAP_MAX_ATTRS + 1];
	int ret = 0, rc, err;

	ret = refresh_begin(s, attrs);
	if (ret)
		return ret;
	do {
		LDAPControl *page = NULL, *ctrls[2] = { NULL, NULL }, **rctrls = NULL;
		LDAPMessage *res = NULL, *e;
		ber_int_t total;

		rc = ldap_create_page_control(s->ld, PAGE_SIZE_ENTRIES, cookie, 0, &page);
		if (rc != LDAP_SUCCESS) {
			set_error(s, s->ld, rc, "paged results control");
			ret = -EIO;
			break;
		}
		ctrls[0] = page;
		rc = ldap_search_ext_s(s->ld, s->cfg.base, LDAP_SCOPE_SUBTREE,
				       s->cfg.filter, attrs, 0, ctrls, NULL, &tmo,
				       LDAP_NO_LIMIT, &res);
		ldap_control_free(page);
		if (rc != LDAP_SUCCESS) {
			set_error(s, s->ld, rc, rc == LDAP_NO_SUCH_OBJECT ?
				  "search: the base does not exist" : "search");
			ldap_msgfree(res);
			ret = -EIO;
			break;
		}
		for (e = ldap_first_entry(s->ld, res); e && !ret; e = ldap_next_entry(s->ld, e))
			ret = entry_apply(s, e, NULL);
		ber_bvfree(cookie);
		cookie = NULL;
		rc = ldap_parse_result(s->ld, res, &err, NULL, NULL, NULL, &rctrls, 0);
		if (rc == LDAP_SUCCESS && err == LDAP_SUCCESS && rctrls) {
			LDAPControl *pr = ldap_control_find(LDAP_CONTROL_PAGEDRESULTS,
							    rctrls, NULL);
			struct berval c = { 0, NULL };

			if (pr && ldap_parse_pageresponse_control(s->ld, pr, &total, &c) == LDAP_SUCCESS &&
			    c.bv_len)
				cookie = ber_bvdup(&c);
			ber_memfree(c.bv_val);
		} else if (rc != LDAP_SUCCESS || err != LDAP_SUCCESS) {
			set_error(s, s->ld, rc != LDAP_SUCCESS ? rc : err, "search");
			ret = -EIO;
		}
		ldap_controls_free(rctrls);
		ldap_msgfree(res);
	} while (!ret && cookie && !atomic_load(s->stop));
	ber_bvfree(cookie);
	if (ret || atomic_load(s->stop)) {
		mxg_mirror_store_abort(s->store);
		return ret ? ret : -EINTR;
	}
	return mxg_mirror_store_swap(s->store);
}

/* ---- syncrepl: refreshAndPersist --------------------------------------- */

static int sync_entry(ldap_sync_t *ls, LDAPMessage *msg, struct berval *uuid,
		      ldap_sync_refresh_t phase)
{
	struct mxg_mirror_session *s = ls->ls_private;
	int ret;

	switch (phase) {
	case LDAP_SYNC_CAPI_ADD:
	case LDAP_SYNC_CAPI_MODIFY:
		ret = entry_apply(s, msg, uuid);
		break;
	case LDAP_SYNC_CAPI_DELETE:
		ret = mxg_mirror_store_delete(s->store, uuid->bv_val, uuid->bv_len);
		break;
	default:	/* PRESENT: we always start without a cookie */
		return LDAP_SUCCESS;
	}
	if (ret) {
		snprintf(s->last_error, sizeof(s->last_error),
			 "cannot update the mirror: %s", strerror(-ret));
		return LDAP_OTHER;
	}
	if (!s->store->refreshing)
		mxg_mirror_store_synced(s->store);
	return LDAP_SUCCESS;
}

static int sync_intermediate(ldap_sync_t *ls, LDAPMessage *msg,
			     BerVarray uuids, ldap_sync_refresh_t phase)
{
	struct mxg_mirror_session *s = ls->ls_private;

	if (phase == LDAP_SYNC_CAPI_DELETES_IDSET)
		for (int i = 0; uuids && uuids[i].bv_val; i++)
			mxg_mirror_store_delete(s->store, uuids[i].bv_val,
						uuids[i].bv_len);
	/* The refresh phase is over: the fresh map is complete. */
	if (phase == LDAP_SYNC_CAPI_DONE && s->store->refreshing &&
	    mxg_mirror_store_swap(s->store))
		return LDAP_OTHER;
	return LDAP_SUCCESS;
}

/* A SearchResultDone with success and the Sync Done control: the server
 * ended the search. libldap's poll then returns success and would go on
 * waiting on a search that is over, with the mirror stamped current every
 * second: the session ends here instead, and the next one refreshes. */
static int sync_result(ldap_sync_t *ls, LDAPMessage *msg, int refresh_deletes)
{
	struct mxg_mirror_session *s = ls->ls_private;

	s->search_ended = true;
	return LDAP_SUCCESS;
}

/* The liveness search: one at a time, its id in *msgid (-1: none). */
struct liveness {
	int msgid;
	uint64_t sent_ns;	/* when the outstanding one was sent */
	uint64_t answered_ns;	/* when the last one was answered */
};

/* 0 while the server answers in time; -EIO (and last_error) when not. */
static int liveness_check(struct mxg_mirror_session *s, struct liveness *l,
			  uint64_t now)
{
	static char *no_attrs[] = { LDAP_NO_ATTRS, NULL };
	struct timeval tv = { 0, 1000 };	/* 0 would be libldap's default */
	LDAPMessage *res = NULL;
	int rc;

	if (l->msgid < 0) {
		if (now - l->answered_ns < LIVENESS_EVERY_NS)
			return 0;
		rc = ldap_search_ext(s->ld, "", LDAP_SCOPE_BASE, "(objectClass=*)",
				     no_attrs, 0, NULL, NULL, NULL, 1, &l->msgid);
		if (rc != LDAP_SUCCESS) {
			set_error(s, s->ld, rc, "syncrepl session: liveness search");
			return -EIO;
		}
		l->sent_ns = now;
		return 0;
	}
	/* Its answer was read, and queued, while the poll waited. */
	rc = ldap_result(s->ld, l->msgid, LDAP_MSG_ALL, &tv, &res);
	ldap_msgfree(res);
	if (rc > 0) {
		l->msgid = -1;
		l->answered_ns = now;
		return 0;
	}
	if (rc < 0) {
		set_error(s, s->ld, LDAP_SERVER_DOWN, "syncrepl session: liveness search");
		return -EIO;
	}
	if (now - l->sent_ns < LIVENESS_TIMEOUT_NS)
		return 0;
	snprintf(s->last_error, sizeof(s->last_error),
		 "syncrepl session ended: %.200s has not answered a search in %llu s",
		 s->server, LIVENESS_TIMEOUT_NS / 1000000000ULL);
	return -EIO;
}

int mxg_mirror_follow_syncrepl(struct mxg_mirror_session *s)
{
	struct liveness live = { .msgid = -1 };
	char *attrs[MXG_LDAP_MAX_ATTRS + 1];
	uint64_t last_mark = 0;
	ldap_sync_t ls;
	int rc, ret = 0;

	ret = refresh_begin(s, attrs);
	if (ret)
		return ret;

	ldap_sync_initialize(&ls);
	ls.ls_ld = s->ld;
	ls.ls_base = s->cfg.base;
	ls.ls_scope = LDAP_SCOPE_SUBTREE;
	ls.ls_filter = s->cfg.filter;
	ls.ls_attrs = attrs;
	ls.ls_timeout = SYNC_POLL_S;
	ls.ls_search_entry = sync_entry;
	ls.ls_intermediate = sync_intermediate;
	ls.ls_search_result = sync_result;
	ls.ls_private = s;
	s->search_ended = false;

	rc = ldap_sync_init_refresh_and_persist(&ls);
	if (rc != LDAP_SUCCESS) {
		set_error(s, s->ld, rc, rc == LDAP_NO_SUCH_OBJECT ?
			  "syncrepl search: the base does not exist" : "syncrepl search");
		ret = -EIO;
		goto out;
	}
	/* A server that ends the refresh without the refreshDone flag. */
	if (s->store->refreshing && mxg_mirror_store_swap(s->store)) {
		ret = -EIO;
		goto out;
	}
	mxg_info("recipient mirror: following %s with syncrepl", s->server);
	live.answered_ns = mxg_now_ns();
	while (!atomic_load(s->stop)) {
		uint64_t now;

		/* Also when the refresh itself was ended so. */
		if (s->search_ended) {
			snprintf(s->last_error, sizeof(s->last_error),
				 "syncrepl session ended: the server ended the search");
			ret = -EIO;
			break;
		}
		rc = ldap_sync_poll(&ls);
		if (rc != LDAP_SUCCESS) {
			set_error(s, s->ld, rc < 0 ? LDAP_SERVER_DOWN : rc,
				  "syncrepl session ended");
			ret = -EIO;
			break;
		}
		now = mxg_now_ns();
		ret = liveness_check(s, &live, now);
		if (ret)
			break;
		/* While the persistent search lives and the server answers,
		 * the mirror is current. */
		if (now - last_mark >= 1000000000ULL &&
		    (live.msgid < 0 || now - live.sent_ns < LIVENESS_STALL_NS)) {
			mxg_mirror_store_synced(s->store);
			last_mark = now;
		}
	}
out:
	if (s->store->refreshing)
		mxg_mirror_store_abort(s->store);
	/* ldap_sync_destroy would unbind the session: ours to close. */
	ber_memfree(ls.ls_cookie.bv_val);
	return ret;
}
