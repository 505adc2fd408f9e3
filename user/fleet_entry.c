/* SPDX-License-Identifier: BSD-2-Clause */
/* The fleet's entries; see fleet_entry.h. */
#include <string.h>
#include "fleet_entry.h"

bool mxg_fleet_host_valid(const char *host)
{
	size_t len = strlen(host);

	return len >= 1 && len < MXG_FLEET_HOST_LEN &&
	       strspn(host, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
			    "0123456789.-") == len;
}
