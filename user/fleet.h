/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The fleet (docs/fleet.md): a thread of mxguardd that shares the penalty
 * box with the other guards through entries in their directory.
 *
 * It publishes: every 100 ms it reads mxg_bans, and each local ban (origin
 * CLI or INSPECT) becomes an entry cn=PREFIX,cn=HOST,BASE (fleet_entry.h),
 * changed when its classes or expiry change and deleted when the ban
 * leaves the map. It follows: a syncrepl refreshAndPersist search of BASE
 * (or a search every poll_interval), whose full refresh is read before
 * anything is applied; each peer's entry that mxg_fleet_admit() accepts
 * becomes an mxg_bans entry of origin FLEET, with its peer in
 * mxg_fleet_bans. A local ban is never overwritten; a peer's ban that the
 * operator deletes here (`mxguardctl ban del`) is deleted in the directory
 * too, and not applied again meanwhile. Writes that fail stay pending and
 * are retried with backoff; the state is in mxg_fleet for mxguardctl.
 *
 * Two LDAP sessions (ldap_conn.h), one for following and one for writing,
 * driven by one thread, so that the tables it keeps need no lock.
 */
#ifndef MXG_FLEET_H
#define MXG_FLEET_H

#include "config.h"
#include "maps.h"

struct mxg_fleet_sync;

/* Start the thread for cfg->fleet (enabled). cfg is copied. With follow
 * = no, the peers' bans are removed first; with publish = no, this host's
 * records. */
int mxg_fleet_start(struct mxg_fleet_sync **out, const struct mxg_config *cfg,
		    const struct mxg_maps *maps);

/* Stop it within a second: interrupts a blocking LDAP call, joins the
 * thread. What it applied stays (the next start, or mxg_fleet_clear(),
 * makes it right). NULL is fine. */
void mxg_fleet_stop(struct mxg_fleet_sync *f);

/* Without [fleet]: every ban of origin FLEET and every mxg_fleet_bans
 * record removed, mxg_fleet OFF. 0 or the first -errno. */
int mxg_fleet_clear(const struct mxg_maps *maps);

#endif
