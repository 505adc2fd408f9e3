/* SPDX-License-Identifier: BSD-2-Clause */
/* One connection to the [ldap] directory; see ldap_conn.h. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>
#include "ldap_conn.h"
#include "maps.h"	/* mxg_now_ns */

#define PASSWORD_MAX 1024	/* the file's first line, with its line end */

void mxg_ldap_error(char *err, size_t errlen, LDAP *ld, int rc,
		    const char *what)
{
	char *diag = NULL;

	if (ld)
		ldap_get_option(ld, LDAP_OPT_DIAGNOSTIC_MESSAGE, &diag);
	snprintf(err, errlen, "%s: %s%s%s%s", what, ldap_err2string(rc),
		 diag && *diag ? " (" : "", diag && *diag ? diag : "",
		 diag && *diag ? ")" : "");
	ldap_memfree(diag);
}

int mxg_ldap_errno(int rc)
{
	switch (rc) {
	case LDAP_SUCCESS:
		return 0;
	case LDAP_TIMEOUT:
	case LDAP_TIMELIMIT_EXCEEDED:
		return -ETIMEDOUT;
	case LDAP_INVALID_CREDENTIALS:
	case LDAP_INAPPROPRIATE_AUTH:
	case LDAP_INSUFFICIENT_ACCESS:
	case LDAP_STRONG_AUTH_REQUIRED:
	case LDAP_CONFIDENTIALITY_REQUIRED:
	case LDAP_UNWILLING_TO_PERFORM:
		return -EACCES;
	case LDAP_NO_SUCH_OBJECT:
		return -ENOENT;
	case LDAP_PARAM_ERROR:
		return -EINVAL;
	case LDAP_NO_MEMORY:
		return -ENOMEM;
	default:
		return -EIO;
	}
}

int mxg_ldap_root_dse_lists(LDAP *ld, const char *attr, const char *value,
			    bool *found, char *err, size_t errlen)
{
	char *attrs[] = { (char *)attr, NULL };
	size_t len = strlen(value);
	LDAPMessage *res = NULL, *e;
	struct berval **vals;
	int rc;

	*found = false;
	rc = ldap_search_ext_s(ld, "", LDAP_SCOPE_BASE, "(objectClass=*)", attrs,
			       0, NULL, NULL, NULL, 1, &res);
	if (rc == LDAP_SERVER_DOWN || rc == LDAP_CONNECT_ERROR ||
	    rc == LDAP_TIMEOUT) {
		mxg_ldap_error(err, errlen, ld, rc, "connect");
		ldap_msgfree(res);
		return -EIO;
	}
	/* A root DSE we may not read: not offered, as far as we can tell. */
	e = rc == LDAP_SUCCESS ? ldap_first_entry(ld, res) : NULL;
	vals = e ? ldap_get_values_len(ld, e, attr) : NULL;
	for (int i = 0; vals && vals[i] && !*found; i++)
		*found = vals[i]->bv_len == len &&
			 !memcmp(vals[i]->bv_val, value, len);
	ldap_value_free_len(vals);
	ldap_msgfree(res);
	return 0;
}

/* The password is the file's first line, without its line end
 * (docs/configuration.md): what follows it (a comment, a second secret)
 * is never sent. */
static int read_password(const char *path, struct berval *pw, char *err,
			 size_t errlen)
{
	char buf[PASSWORD_MAX];
	const char *why = NULL;
	ssize_t n;
	size_t len;
	char *nl;
	int fd = open(path, O_RDONLY | O_CLOEXEC), ret;

	if (fd < 0) {
		ret = -errno;
		snprintf(err, errlen, "cannot read bind_password_file %s: %s",
			 path, strerror(-ret));
		return ret;
	}
	n = read(fd, buf, sizeof(buf));
	ret = n < 0 ? -errno : 0;
	close(fd);
	if (n < 0) {
		snprintf(err, errlen, "cannot read bind_password_file %s: %s",
			 path, strerror(-ret));
		return ret;
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
		snprintf(err, errlen, "bind_password_file %s: %s", path, why);
		memset(buf, 0, sizeof(buf));
		return -EINVAL;
	}
	pw->bv_val = strndup(buf, len);
	pw->bv_len = len;
	memset(buf, 0, sizeof(buf));
	return pw->bv_val ? 0 : -ENOMEM;
}

static struct timeval timeval_of(uint64_t ns)
{
	struct timeval tv = { (time_t)(ns / 1000000000ULL),
			      (suseconds_t)(ns % 1000000000ULL / 1000) };

	/* libldap reads a zero timeout as "its default" (no bound at all for
	 * most calls), not as "poll": at least 1 ms. */
	if (!tv.tv_sec && tv.tv_usec < 1000)
		tv.tv_usec = 1000;
	return tv;
}

/* The timeouts for the next step: as configured, cut to what is left of
 * the whole connection's bound. -ETIMEDOUT when nothing is left. */
static int set_timeouts(LDAP *ld, const struct mxg_ldap_timeouts *t,
			uint64_t start_ns)
{
	uint64_t net = t->network_ns, op = t->op_ns, used, left;
	struct timeval tv;

	if (t->total_ns) {
		used = mxg_now_ns() - start_ns;
		if (used >= t->total_ns)
			return -ETIMEDOUT;
		left = t->total_ns - used;
		net = net && net < left ? net : left;
		op = op && op < left ? op : left;
	}
	if (net) {
		tv = timeval_of(net);
		ldap_set_option(ld, LDAP_OPT_NETWORK_TIMEOUT, &tv);
	}
	if (op) {
		tv = timeval_of(op);
		ldap_set_option(ld, LDAP_OPT_TIMEOUT, &tv);
	}
	return 0;
}

/* A step that failed: what it is called in err. A bind that fails
 * because the server is gone is a failure to connect, not a refusal. */
static const char *step_name(const char *step, int rc)
{
	if (rc == LDAP_SERVER_DOWN || rc == LDAP_CONNECT_ERROR ||
	    rc == LDAP_TIMEOUT)
		return "connect";
	return step;
}

unsigned mxg_ldap_uri_count(const char *list)
{
	unsigned n = 0;

	for (const char *p = list; *p; p += strcspn(p, " ")) {
		p += strspn(p, " ");
		n += *p != '\0';
	}
	return n;
}

/* One server: the session as cfg says, with uri (one URI) in place of
 * cfg->uri and pw read already. Same returns as mxg_ldap_connect. */
static int connect_one(const struct mxg_ldap_config *cfg, const char *uri,
		       struct berval *pw, const struct mxg_ldap_timeouts *t,
		       bool connect_now, uint64_t start_ns, LDAP **out,
		       char *err, size_t errlen)
{
	int version = LDAP_VERSION3, rc, zero = 0, idle = 10, probes = 3, intvl = 5;
	LDAP *ld = NULL;
	int ret;

	*out = NULL;
	rc = ldap_initialize(&ld, uri);
	if (rc != LDAP_SUCCESS) {
		mxg_ldap_error(err, errlen, NULL, rc, uri);
		return -EINVAL;
	}
	ldap_set_option(ld, LDAP_OPT_PROTOCOL_VERSION, &version);
	ldap_set_option(ld, LDAP_OPT_REFERRALS, LDAP_OPT_OFF);
	if (t->keepalive) {
		/* A directory that vanishes without a FIN is noticed within
		 * ~25 s. */
		ldap_set_option(ld, LDAP_OPT_X_KEEPALIVE_IDLE, &idle);
		ldap_set_option(ld, LDAP_OPT_X_KEEPALIVE_PROBES, &probes);
		ldap_set_option(ld, LDAP_OPT_X_KEEPALIVE_INTERVAL, &intvl);
	}
	if (cfg->ca_file[0]) {
		ldap_set_option(ld, LDAP_OPT_X_TLS_CACERTFILE, cfg->ca_file);
		ldap_set_option(ld, LDAP_OPT_X_TLS_NEWCTX, &zero);
	}
	/* Never left at libldap's default, which is to wait forever. */
	ret = set_timeouts(ld, t, start_ns);
	if (ret) {
		mxg_ldap_error(err, errlen, NULL, LDAP_TIMEOUT, "connect");
		goto fail;
	}
	if (connect_now) {
		rc = ldap_connect(ld);
		if (rc != LDAP_SUCCESS) {
			mxg_ldap_error(err, errlen, ld, rc, "connect");
			ret = -EIO;
			goto fail;
		}
	}
	if (cfg->starttls) {
		ret = set_timeouts(ld, t, start_ns);
		if (ret) {
			mxg_ldap_error(err, errlen, NULL, LDAP_TIMEOUT, "starttls");
			goto fail;
		}
		rc = ldap_start_tls_s(ld, NULL, NULL);
		if (rc != LDAP_SUCCESS) {
			mxg_ldap_error(err, errlen, ld, rc, "starttls");
			ret = mxg_ldap_errno(rc);
			goto fail;
		}
	}
	if (cfg->bind_dn[0]) {
		ret = set_timeouts(ld, t, start_ns);
		if (ret) {
			mxg_ldap_error(err, errlen, NULL, LDAP_TIMEOUT,
				       step_name("bind as the bind_dn", LDAP_TIMEOUT));
			goto fail;
		}
		rc = ldap_sasl_bind_s(ld, cfg->bind_dn, LDAP_SASL_SIMPLE,
				      pw, NULL, NULL, NULL);
		if (rc != LDAP_SUCCESS) {
			mxg_ldap_error(err, errlen, ld, rc,
				       step_name("bind as the bind_dn", rc));
			ret = mxg_ldap_errno(rc);
			goto fail;
		}
	}
	*out = ld;
	return 0;
fail:
	ldap_unbind_ext_s(ld, NULL, NULL);
	return ret;
}

int mxg_ldap_connect_first(const struct mxg_ldap_config *cfg,
			   const struct mxg_ldap_timeouts *t, LDAP **out,
			   char *server, size_t serverlen, char *err,
			   size_t errlen)
{
	unsigned nuris = mxg_ldap_uri_count(cfg->uri);
	uint64_t start_ns = mxg_now_ns();
	struct berval pw = { 0, NULL };
	char uri[sizeof(cfg->uri)], why[512];
	size_t used = 0;
	int ret = -EINVAL, telling = 0;

	*out = NULL;
	if (serverlen)
		server[0] = '\0';
	if (errlen)
		err[0] = '\0';
	/* The password is the config's, not a server's: a file that cannot
	 * be read fails every URI alike, so it is read once, before any. */
	if (cfg->bind_dn[0]) {
		ret = read_password(cfg->bind_password_file, &pw, err, errlen);
		if (ret)
			return ret;
	}
	if (nuris <= 1) {
		/* One URI: as it always was (libldap may still try several
		 * addresses of its host name). */
		ret = connect_one(cfg, cfg->uri, &pw, t, t->connect_now,
				  start_ns, out, err, errlen);
		if (!ret && serverlen)
			snprintf(server, serverlen, "%s", cfg->uri);
		goto out;
	}
	/*
	 * Several: each in turn, in order, the whole of connect, StartTLS and
	 * bind, so that the session is known to be on one server, which is
	 * named to the caller (libldap's own list would connect to the first
	 * that takes TCP and not say which), and a server that takes the
	 * connection but refuses the bind is skipped too. Connected at once:
	 * a list is tried for real, never left to the first request.
	 */
	for (const char *p = cfg->uri; *p;) {
		size_t len;

		p += strspn(p, " ");
		len = strcspn(p, " ");
		if (!len)
			break;
		snprintf(uri, sizeof(uri), "%.*s", (int)len, p);
		p += len;
		ret = connect_one(cfg, uri, &pw, t, true, start_ns, out, why,
				  sizeof(why));
		if (!ret) {
			if (serverlen)
				snprintf(server, serverlen, "%s", uri);
			/* What the servers before it said is for nobody. */
			if (errlen)
				err[0] = '\0';
			goto out;
		}
		/* "URI: why; URI: why" */
		if (used < errlen)
			used += (size_t)snprintf(err + used, errlen - used, "%s%s: %s",
						 used ? "; " : "", uri, why);
		/* A server that answered, slowly or with a refusal, says more
		 * than one that is gone. */
		if (!telling && ret != -EIO)
			telling = ret;
		if (t->total_ns && mxg_now_ns() - start_ns >= t->total_ns)
			break;
	}
	if (telling)
		ret = telling;
out:
	if (pw.bv_val) {
		memset(pw.bv_val, 0, pw.bv_len);
		free(pw.bv_val);
	}
	return ret;
}

int mxg_ldap_connect(const struct mxg_ldap_config *cfg,
		     const struct mxg_ldap_timeouts *t, LDAP **out, char *err,
		     size_t errlen)
{
	return mxg_ldap_connect_first(cfg, t, out, NULL, 0, err, errlen);
}
