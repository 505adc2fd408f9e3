/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Unit tests for user/mirror_record.c, the readiness record's one writer:
 * the main thread reloads the config part over and over while a writer
 * thread marks syncs, swaps and disconnects, as mxguardd's threads do when
 * a SIGHUP comes during a sync; afterwards no swap, no `connected`, no
 * sync time and no config field may be missing. Both threads run against
 * a real BPF array of struct mxg_mirror (root: CAP_BPF), the layout the
 * programs read.
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <cmocka.h>

#include "mirror_record.h"
#include "recipients.h"
#include "rcpt.h"

#define SWAPS 10000
/* The main thread stops reloading once the writer is done; this bounds it
 * if the writer never gets there. */
#define RELOADS_MAX (100 * SWAPS)

struct race {
	struct mxg_maps maps;
	pthread_barrier_t go;
	atomic_uint reloads;
	atomic_bool writer_done;
	uint64_t last_sync_before;	/* the writer's clock before its last mark */
};

static int record_fd(void)
{
	return bpf_map_create(BPF_MAP_TYPE_ARRAY, "mxg_test_mirror",
			      sizeof(uint32_t), sizeof(struct mxg_mirror), 1, NULL);
}

static void *writer(void *arg)
{
	struct race *r = arg;
	int ret = 0;

	pthread_barrier_wait(&r->go);
	for (unsigned i = 1; i <= SWAPS && !ret; i++) {
		/* Not ahead of the reloads: every mark below has one
		 * running beside it (waits on their count, not a clock). */
		while (atomic_load(&r->reloads) < i)
			sched_yield();
		ret = mxg_mirror_record_disconnected(&r->maps);
		if (!ret && i == SWAPS)
			r->last_sync_before = mxg_now_ns();
		if (!ret)
			ret = mxg_mirror_record_synced(&r->maps, i, i, true);
	}
	atomic_store(&r->writer_done, true);
	return (void *)(intptr_t)ret;
}

static void test_reload_during_sync(void **state)
{
	struct race r = { 0 };
	struct mxg_config cfg[2];
	struct mxg_mirror rec = { 0 };
	unsigned n = 0, last = 0;
	pthread_t t;
	void *wret;
	int fd = *(int *)*state;

	/* The config parts the reloads alternate between. */
	memset(cfg, 0, sizeof(cfg));
	for (int i = 0; i < 2; i++) {
		cfg[i].ldap.enabled = true;
		cfg[i].ldap.sync = MXG_SYNC_SYNCREPL;
		cfg[i].ldap.max_age_ns = (uint64_t)(i + 1) * 3600 * 1000000000ULL;
		snprintf(cfg[i].recipient_delimiter,
			 sizeof(cfg[i].recipient_delimiter), "%s", i ? "+-" : "+");
	}
	r.maps.mirror = fd;
	assert_int_equal(pthread_barrier_init(&r.go, NULL, 2), 0);
	assert_int_equal(pthread_create(&t, NULL, writer, &r), 0);
	pthread_barrier_wait(&r.go);

	while (!atomic_load(&r.writer_done) && n < RELOADS_MAX) {
		last = n & 1;
		assert_int_equal(mxg_mirror_record_config(&r.maps, &cfg[last]), 0);
		atomic_fetch_add(&r.reloads, 1);
		n++;
	}
	/* Lets a writer stalled at its wait finish, then joins it. */
	atomic_store(&r.reloads, RELOADS_MAX);
	assert_int_equal(pthread_join(t, &wret), 0);
	assert_int_equal((intptr_t)wret, 0);
	assert_true(n >= SWAPS);
	pthread_barrier_destroy(&r.go);

	assert_int_equal(mxg_mirror_read(&r.maps, &rec), 0);
	/* The writer's fields: every swap, the last sync, connected. */
	if (rec.generation != SWAPS)
		fail_msg("%llu of %u swaps in the record: a reload wrote over the others",
			 (unsigned long long)rec.generation, SWAPS);
	assert_int_equal(rec.entries, SWAPS);
	assert_int_equal(rec.skipped, SWAPS);
	assert_int_equal(rec.connected, 1);
	assert_true(rec.synced_ns >= r.last_sync_before);
	/* The config's fields: the last reload's. */
	assert_int_equal(rec.max_age_ns, cfg[last].ldap.max_age_ns);
	assert_string_equal(rec.recipient_delimiter, cfg[last].recipient_delimiter);
	assert_int_equal(rec.mode, MXG_SYNC_SYNCREPL);
}

/* What each change sets, and what it leaves alone. */
static void test_record_fields(void **state)
{
	struct mxg_maps maps = { .mirror = *(int *)*state };
	struct mxg_config cfg;
	struct mxg_mirror rec;
	uint64_t before;

	memset(&cfg, 0, sizeof(cfg));
	cfg.ldap.enabled = true;
	cfg.ldap.sync = MXG_SYNC_SYNCREPL;
	cfg.ldap.max_age_ns = 60 * 1000000000ULL;
	strcpy(cfg.recipient_delimiter, "+");
	assert_int_equal(mxg_mirror_record_config(&maps, &cfg), 0);
	before = mxg_now_ns();
	assert_int_equal(mxg_mirror_record_synced(&maps, 7, 2, true), 0);
	assert_int_equal(mxg_mirror_record_mode(&maps, MXG_SYNC_POLL), 0);
	assert_int_equal(mxg_mirror_read(&maps, &rec), 0);
	assert_int_equal(rec.generation, 1);
	assert_int_equal(rec.entries, 7);
	assert_int_equal(rec.skipped, 2);
	assert_int_equal(rec.connected, 1);
	assert_true(rec.synced_ns >= before);
	assert_int_equal(rec.mode, MXG_SYNC_POLL);
	assert_int_equal(rec.max_age_ns, cfg.ldap.max_age_ns);
	assert_string_equal(rec.recipient_delimiter, "+");
	assert_true(mxg_mirror_ready(&rec, mxg_now_ns()));

	/* A sync that is not a swap keeps the generation. */
	assert_int_equal(mxg_mirror_record_synced(&maps, 8, 0, false), 0);
	assert_int_equal(mxg_mirror_read(&maps, &rec), 0);
	assert_int_equal(rec.generation, 1);
	assert_int_equal(rec.entries, 8);
	assert_int_equal(rec.skipped, 0);

	/* Disconnected: the mirror stays, only `connected` goes. */
	assert_int_equal(mxg_mirror_record_disconnected(&maps), 0);
	assert_int_equal(mxg_mirror_read(&maps, &rec), 0);
	assert_int_equal(rec.connected, 0);
	assert_int_equal(rec.entries, 8);
	assert_int_equal(rec.generation, 1);

	/* A reload with [ldap] keeps the writer's fields, the mode in use
	 * among them (poll: this server lacks syncrepl); one without it says
	 * so: no mode, not connected, the mirror itself untouched. */
	assert_int_equal(mxg_mirror_record_synced(&maps, 8, 0, false), 0);
	cfg.ldap.max_age_ns *= 2;
	assert_int_equal(mxg_mirror_record_config(&maps, &cfg), 0);
	assert_int_equal(mxg_mirror_read(&maps, &rec), 0);
	assert_int_equal(rec.connected, 1);
	assert_int_equal(rec.mode, MXG_SYNC_POLL);
	assert_int_equal(rec.max_age_ns, cfg.ldap.max_age_ns);
	cfg.ldap.enabled = false;
	assert_int_equal(mxg_mirror_record_config(&maps, &cfg), 0);
	assert_int_equal(mxg_mirror_read(&maps, &rec), 0);
	assert_int_equal(rec.mode, MXG_SYNC_NONE);
	assert_int_equal(rec.connected, 0);
	assert_int_equal(rec.entries, 8);
	assert_int_equal(rec.generation, 1);
	/* [ldap] back: the configured mode until a writer finds its own. */
	cfg.ldap.enabled = true;
	assert_int_equal(mxg_mirror_record_config(&maps, &cfg), 0);
	assert_int_equal(mxg_mirror_read(&maps, &rec), 0);
	assert_int_equal(rec.mode, MXG_SYNC_SYNCREPL);
}

static int map_setup(void **state)
{
	static int fd;

	fd = record_fd();
	if (fd < 0)
		return -1;
	*state = &fd;
	return 0;
}

static int map_teardown(void **state)
{
	close(*(int *)*state);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_record_fields, map_setup,
						map_teardown),
		cmocka_unit_test_setup_teardown(test_reload_during_sync,
						map_setup, map_teardown),
	};
	int fd = record_fd();

	/* The record is a BPF map: without CAP_BPF there is nothing to test
	 * (tests/run.sh reports the skip). */
	if (fd < 0) {
		printf("skipped: cannot create a BPF map (%s): needs root\n",
		       strerror(errno));
		return 77;
	}
	close(fd);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
