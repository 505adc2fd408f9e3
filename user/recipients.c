/* SPDX-License-Identifier: BSD-2-Clause */
/* Readers' side of the recipient mirror; see rcpt.h. */
#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <sys/random.h>
#include <bpf/bpf.h>
#include "recipients.h"
/* The BPF side's normaliser and hash, compiled here too. */
#include "rcpt.h"

int mxg_hash_key_get(const struct mxg_maps *m, struct mxg_hash_key *key)
{
	uint32_t zero = 0;

	return bpf_map_lookup_elem(m->hash_key, &zero, key) ? -errno : 0;
}

int mxg_hash_key_ensure(const struct mxg_maps *m, struct mxg_hash_key *key)
{
	uint32_t zero = 0;
	int ret = mxg_hash_key_get(m, key);

	if (ret)
		return ret;
	if (key->k0 || key->k1)
		return 0;
	if (getrandom(key, sizeof(*key), 0) != sizeof(*key))
		return -errno;
	/* BPF_NOEXIST does not apply to arrays: the key is written once, by
	 * the one mxguardd that holds the pin dir's lock. */
	return bpf_map_update_elem(m->hash_key, &zero, key, BPF_ANY) ? -errno : 0;
}

int mxg_mirror_read(const struct mxg_maps *m, struct mxg_mirror *out)
{
	uint32_t zero = 0;

	return bpf_map_lookup_elem(m->mirror, &zero, out) ? -errno : 0;
}

/* A domain's key is the hash of the part after '@', exactly as for the
 * domain of an address. */
static uint64_t domain_key(const struct mxg_hash_key *key, const char *domain)
{
	char buf[MXG_RCPT_BUF] = "@";
	size_t len = strlen(domain);

	if (len > MXG_RCPT_BUF - 2)
		len = MXG_RCPT_BUF - 2;
	memcpy(buf + 1, domain, len);
	return mxg_domain_key(key, buf, len + 1, 0);
}

int mxg_domains_sync(const struct mxg_maps *m, const struct mxg_hash_key *key,
		     const struct mxg_ldap_config *ldap)
{
	uint64_t want[MXG_MAX_CONFIG_DOMAINS], k, next, *prev = NULL;
	uint32_t one = 1;
	bool keep;

	for (unsigned i = 0; i < ldap->ndomains; i++) {
		want[i] = domain_key(key, ldap->domains[i]);
		if (bpf_map_update_elem(m->rcpt_domains, &want[i], &one, BPF_ANY))
			return -errno;
	}
	/* Then drop the ones no longer configured. */
	while (!bpf_map_get_next_key(m->rcpt_domains, prev, &next)) {
		keep = false;
		for (unsigned i = 0; i < ldap->ndomains && !keep; i++)
			keep = want[i] == next;
		if (!keep && !bpf_map_delete_elem(m->rcpt_domains, &next))
			continue;	/* the walk goes on from prev */
		k = next;
		prev = &k;
	}
	return errno == ENOENT ? 0 : -errno;
}

int mxg_rcpt_inner_fd(const struct mxg_maps *m)
{
	uint32_t zero = 0, id;
	int fd;

	if (bpf_map_lookup_elem(m->rcpt_slot, &zero, &id))
		return -ENOENT;	/* nothing swapped in yet */
	fd = bpf_map_get_fd_by_id(id);
	return fd < 0 ? -errno : fd;
}

int mxg_rcpt_check(const struct mxg_maps *m, const char *addr,
		   struct mxg_rcpt_answer *ans, const char **why)
{
	struct mxg_hash_key key;
	struct mxg_mirror rec;
	struct mxg_rcpt val;
	uint64_t h, d;
	uint32_t at, flag;
	int len, fd, ret;

	memset(ans, 0, sizeof(*ans));
	ret = mxg_hash_key_get(m, &key);
	if (!ret)
		ret = mxg_mirror_read(m, &rec);
	if (ret)
		return ret;
	len = mxg_rcpt_normalize(addr, strlen(addr), ans->normalized,
				 rec.recipient_delimiter, &at);
	if (len < 0) {
		*why = mxg_rcpt_strerror(len);
		return -EINVAL;
	}
	ans->ready = mxg_mirror_ready(&rec, mxg_now_ns());
	d = mxg_domain_key(&key, ans->normalized, len, at);
	ans->local_domain = !bpf_map_lookup_elem(m->rcpt_domains, &d, &flag);
	h = mxg_rcpt_key(&key, ans->normalized, len);
	fd = mxg_rcpt_inner_fd(m);
	if (fd >= 0) {
		ans->known = !bpf_map_lookup_elem(fd, &h, &val);
		close(fd);
	}
	return 0;
}
