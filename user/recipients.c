/* SPDX-License-Identifier: BSD-2-Clause */
/* Readers' side of the recipient mirror; see rcpt.h. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
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

int mxg_rcpt_live_pin(const char *pin_dir, int fd)
{
	char path[PATH_MAX], tmp[PATH_MAX + 4];
	int ret;

	snprintf(path, sizeof(path), "%s/%s", pin_dir, MXG_PIN_RCPT_LIVE);
	/* bpffs refuses names with a dot. */
	snprintf(tmp, sizeof(tmp), "%s_new", path);
	unlink(tmp);	/* left by a crash between pin and rename */
	if (bpf_obj_pin(fd, tmp))
		return -errno;
	if (rename(tmp, path)) {
		ret = -errno;
		unlink(tmp);
		return ret;
	}
	return 0;
}

static uint32_t map_id(int fd)
{
	struct bpf_map_info info = {};
	__u32 len = sizeof(info);

	return bpf_obj_get_info_by_fd(fd, &info, &len) ? 0 : info.id;
}

int mxg_rcpt_inner_fd(const struct mxg_rcpt_reader *src)
{
	uint32_t zero = 0, id;
	char path[PATH_MAX];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", src->pin_dir, MXG_PIN_RCPT_LIVE);
	/* A swap between reading the slot and opening the pin makes the two
	 * differ for a moment (the writer pins right after the swap): read
	 * both again. A pin that stays another map is stale. */
	for (int tries = 0; tries < 3; tries++) {
		if (bpf_map_lookup_elem(src->maps->rcpt_slot, &zero, &id))
			return -ENOENT;	/* nothing swapped in yet */
		fd = bpf_obj_get(path);
		if (fd < 0)
			break;
		if (map_id(fd) == id)
			return fd;
		close(fd);
	}
	fd = bpf_map_get_fd_by_id(id);
	return fd < 0 ? -errno : fd;
}

int mxg_rcpt_check(const struct mxg_rcpt_reader *src, const char *addr,
		   struct mxg_rcpt_answer *ans, const char **why)
{
	const struct mxg_maps *m = src->maps;
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
	fd = mxg_rcpt_inner_fd(src);
	/* Nothing swapped in yet: known by nobody, and not ready either. A
	 * map that is there but cannot be opened must not answer "unknown":
	 * that would be a false 550. */
	if (fd == -ENOENT)
		return 0;
	if (fd < 0)
		return fd;
	ans->known = !bpf_map_lookup_elem(fd, &h, &val);
	close(fd);
	return 0;
}
