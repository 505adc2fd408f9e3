/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * mxguardctl unload: detach every program the pin directory records,
 * the connection counter included, and remove the pins.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>
#include "ctl/ctl.h"
#include "loader.h"

int ctl_unload(struct ctl *ctl, const struct ctl_args *a)
{
	int lock_fd, failed, ret;

	/* A running mxguardd would re-attach on its next reload: stop it
	 * first, so that unload means unloaded. */
	lock_fd = open(ctl->pin_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (lock_fd >= 0 && flock(lock_fd, LOCK_EX | LOCK_NB)) {
		close(lock_fd);
		ctl_error(ctl, "mxguardd is running on %s: stop it first",
			  ctl->pin_dir);
		return -EBUSY;
	}
	failed = mxg_detach_all(&ctl->maps, ctl->pin_dir);
	if (!failed && mxg_counter_detach(ctl->pin_dir))
		failed = 1;
	if (failed) {
		if (lock_fd >= 0)
			close(lock_fd);
		ctl_error(ctl, "%d attachment(s) could not be detached; pins kept",
			  failed < 0 ? 1 : failed);
		return -EIO;
	}
	mxg_maps_close(&ctl->maps);
	ret = mxg_unpin_all(ctl->pin_dir);
	if (lock_fd >= 0)
		close(lock_fd);
	if (ret) {
		ctl_error(ctl, "cannot remove %s: %s", ctl->pin_dir, strerror(-ret));
		return ret;
	}
	if (ctl->json)
		ctl_print_ok(ctl);
	else
		printf("detached and unpinned %s\n", ctl->pin_dir);
	return 0;
}
