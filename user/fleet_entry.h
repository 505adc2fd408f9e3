/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The fleet's entries (docs/fleet.md, schema docs/mxguard.schema): one ban
 * as the directory holds it, parsed strictly from what a peer wrote, named
 * for what this host writes, and judged before it may apply here. Pure: no
 * LDAP session, no maps, so every refusal is unit-tested.
 *
 *   dn: cn=198.51.100.7/32,cn=mx1.example.org,ou=fleet,dc=example,dc=org
 *   objectClass: mxguardBan
 *   cn: 198.51.100.7/32
 *   mxgBanClasses: smtp
 *   mxgBanReason: inspect
 *   mxgBanExpires: 20261130184000Z
 *
 * The publisher is the parent's cn, not an attribute: a directory ACL that
 * lets each guard write only below its own container then also stops one
 * guard from publishing, or deleting, in another's name.
 */
#ifndef MXG_FLEET_ENTRY_H
#define MXG_FLEET_ENTRY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <lber.h>
#include "config.h"
#include "mxguard.h"

#define MXG_FLEET_OC		"mxguardBan"
#define MXG_FLEET_AT_CLASSES	"mxgBanClasses"
#define MXG_FLEET_AT_REASON	"mxgBanReason"
#define MXG_FLEET_AT_EXPIRES	"mxgBanExpires"
/* The container of one host's entries: a standard class (core.schema). */
#define MXG_FLEET_HOST_OC	"applicationProcess"
/* RFC 2589: the directory expires entries of this class itself (slapo-dds). */
#define MXG_FLEET_DYNAMIC_OC	"dynamicObject"
#define MXG_FLEET_TIME_LEN	16	/* "YYYYMMDDHHMMSSZ" and its NUL */

struct mxg_fleet_entry {
	struct mxg_lpm_key key;			/* canonical (host bits zero) */
	char host[MXG_FLEET_HOST_LEN];		/* the publisher, from the DN */
	char reason[MXG_FLEET_REASON_LEN];	/* "" when absent */
	char classes[MXG_MAX_CLASSES][MXG_CLASS_NAME_LEN];
	unsigned nclasses;
	uint64_t expires_s;			/* UTC; 0 = until removed */
};

/* One entry's values as libldap returns them (ldap_get_values_len);
 * NULL = the attribute is absent. */
struct mxg_fleet_values {
	struct berval **cn;
	struct berval **classes;
	struct berval **reason;
	struct berval **expires;
};

/* A host name the fleet accepts: 1..63 of A-Z a-z 0-9 . - */
bool mxg_fleet_host_valid(const char *host);

/*
 * Parse a peer's entry: dn must be cn=PREFIX,cn=HOST,BASE (compared as
 * DNs, so case and spacing of BASE do not matter), the one cn value equal
 * to the RDN's prefix, which must be canonical; 1..MXG_MAX_CLASSES class
 * names; at most one reason of printable ASCII, shorter than
 * MXG_FLEET_REASON_LEN; at most one expiry, a GeneralizedTime in UTC.
 * Returns 0, -ENOENT for an entry that is not a ban (BASE itself, a host's
 * container: the caller skips it silently), or -EINVAL with one line in why
 * ("cn=10.0.0.0/8 under cn=mx2: mxgBanExpires '2026' is not a UTC time").
 */
int mxg_fleet_entry_parse(const char *dn, const char *base,
			  const struct mxg_fleet_values *v,
			  struct mxg_fleet_entry *e, char *why, size_t whylen);

/* The DN of a host's container, and of one of its entries (e->host's).
 * 0, or -ENAMETOOLONG when it does not fit in len. Values are escaped as
 * RFC 4514 asks. */
int mxg_fleet_host_dn(const char *host, const char *base, char *buf,
		      size_t len);
int mxg_fleet_entry_dn(const struct mxg_fleet_entry *e, const char *base,
		       char *buf, size_t len);

/* UTC seconds as "YYYYMMDDHHMMSSZ" (buf at least MXG_FLEET_TIME_LEN), and
 * a GeneralizedTime back: fractions ignored, only "Z" (UTC) accepted,
 * fields range-checked; 0 or -EINVAL. */
int mxg_fleet_time_format(uint64_t s, char *buf, size_t len);
int mxg_fleet_time_parse(const char *s, size_t len, uint64_t *out);

/*
 * Whether a peer's ban may apply on this guard, and to which of its
 * classes: class_names[i] names slot i ("" for a free slot); names this
 * guard lacks are ignored. Refused with -EPERM and why when the prefix is
 * wider than fc's widest for its family (0.0.0.0/0 always is, unless the
 * operator set 0), when it overlaps an allow-list prefix (contains one or
 * is inside one: the allow list wins), or when it names no class of this
 * guard; -ESTALE when it expired before now_s. 0 with *class_mask.
 */
int mxg_fleet_admit(const struct mxg_fleet_entry *e,
		    const struct mxg_fleet_config *fc,
		    const char (*class_names)[MXG_CLASS_NAME_LEN],
		    unsigned nslots, const struct mxg_lpm_key *allow,
		    unsigned nallow, uint64_t now_s, uint32_t *class_mask,
		    char *why, size_t whylen);

#endif
