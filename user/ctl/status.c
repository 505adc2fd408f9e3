/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * mxguardctl status: where the programs are attached, whether mxguardd
 * runs, what the kernel could not load, the classes, the connection
 * counter, the sources, rules, tuner, recipient mirror and fleet, in one
 * view.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include "config.h"
#include "ctl/ctl.h"
#include "loader.h"
#include "names.h"
#include "probe.h"
#include "rcpt.h"
#include "recipients.h"

struct status_class {
	const struct mxg_class *cls;
	const struct mxg_tuning *tuning;	/* its slot's */
	uint16_t ports[MXG_MAX_PORTS_PER_CLASS];
	unsigned nports;
	char port_list[512];	/* "25,465,587" */
};

/* Everything status prints, read before either printer runs. */
struct status {
	const char *pin_dir;
	bool daemon_running;
	struct utsname uname;
	struct mxg_settings settings;
	struct mxg_link links[MXG_MAX_LINKS];
	struct mxg_class classes[MXG_MAX_CLASSES];
	struct status_class shown[MXG_MAX_CLASSES];
	unsigned nshown;
	uint32_t counter_link;	/* the sock_ops link's id, 0 = none */
	size_t sources;
	uint32_t max_sources;
	int nallow, ndeny, nbans;
	struct mxg_mirror mirror;
	struct mxg_tuning tuning[MXG_MAX_CLASSES];
	uint32_t tuner_enabled;
	struct mxg_fleet fleet;
	uint64_t now;
	uint64_t real_s;	/* the wall clock, for the fleet's error time */
};

static void class_ports(const struct mxg_maps *m, uint32_t idx,
			struct status_class *out)
{
	size_t len = sizeof(out->port_list), used = 0;
	char *buf = out->port_list;
	struct mxg_port p;

	buf[0] = '\0';
	out->nports = 0;
	for (uint32_t port = 1; port < MXG_PORTS; port++) {
		if (bpf_map_lookup_elem(m->ports, &port, &p) || !p.guarded ||
		    p.class_idx != idx)
			continue;
		if (out->nports < MXG_MAX_PORTS_PER_CLASS)
			out->ports[out->nports++] = port;
		if (used < len)
			used += snprintf(buf + used, len - used, "%s%u",
					 used ? "," : "", port);
	}
}

/* The id of a pinned link, 0 when there is none. */
static uint32_t pinned_link_id(const char *pin_dir, const char *name)
{
	struct bpf_link_info info = {};
	__u32 len = sizeof(info);
	char path[4096];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", pin_dir, name);
	fd = bpf_obj_get(path);
	if (fd < 0)
		return 0;
	if (bpf_obj_get_info_by_fd(fd, &info, &len))
		info.id = 0;
	close(fd);
	return info.id;
}

static int status_read(struct ctl *ctl, struct status *s)
{
	struct bpf_map_info info = {};
	__u32 info_len = sizeof(info);
	struct mxg_source_key *keys = NULL;
	void *vals = NULL;
	struct mxg_tuner_state tuner;
	uint32_t zero = 0;
	int lock_fd, ret;

	s->pin_dir = ctl->pin_dir;
	ret = mxg_links_read(&ctl->maps, s->links);
	if (!ret)
		ret = mxg_classes_read(&ctl->maps, s->classes);
	if (!ret)
		ret = mxg_mirror_read(&ctl->maps, &s->mirror);
	if (!ret)
		ret = ctl_batch_read(ctl->maps.sources, sizeof(struct mxg_source),
				     &keys, &vals, &s->sources);
	if (ret) {
		ctl_error(ctl, "cannot read the maps: %s", strerror(-ret));
		return ret;
	}
	free(keys);
	free(vals);
	ret = ctl_read_tuning(ctl, s->tuning);
	if (!ret)
		ret = ctl_read_tuner(ctl, &tuner);
	if (!ret)
		ret = ctl_read_fleet(ctl, &s->fleet);
	if (ret)
		return ret;
	s->tuner_enabled = tuner.enabled;
	/* Absent in pins of a version before it: nothing was off then. */
	bpf_map_lookup_elem(ctl->maps.settings, &zero, &s->settings);
	uname(&s->uname);
	s->counter_link = pinned_link_id(ctl->pin_dir, MXG_PIN_SOCKOPS);
	bpf_obj_get_info_by_fd(ctl->maps.sources, &info, &info_len);
	s->max_sources = info.max_entries;
	s->nallow = ctl_count_entries(ctl->maps.allow, sizeof(struct mxg_lpm_key));
	s->ndeny = ctl_count_entries(ctl->maps.deny, sizeof(struct mxg_lpm_key));
	s->nbans = ctl_count_entries(ctl->maps.bans, sizeof(struct mxg_lpm_key));
	/* mxguardd holds an exclusive lock on the pin dir while it runs. */
	lock_fd = open(ctl->pin_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (lock_fd >= 0) {
		s->daemon_running = flock(lock_fd, LOCK_SH | LOCK_NB) != 0;
		close(lock_fd);
	}
	for (uint32_t c = 0; c < MXG_MAX_CLASSES; c++) {
		if (!s->classes[c].name[0])
			continue;
		s->shown[s->nshown].cls = &s->classes[c];
		s->shown[s->nshown].tuning = &s->tuning[c];
		class_ports(&ctl->maps, c, &s->shown[s->nshown++]);
	}
	s->now = mxg_now_ns();
	s->real_s = (uint64_t)time(NULL);
	return 0;
}

/* Seconds since the fleet subtree was last confirmed (synced_ns != 0). */
static uint64_t fleet_age_s(const struct status *s)
{
	return s->now > s->fleet.synced_ns ?
		       (s->now - s->fleet.synced_ns) / NSEC_PER_SEC : 0;
}

static void fleet_json(struct json *j, const struct status *s)
{
	const struct mxg_fleet *f = &s->fleet;

	json_begin_object(j);
	json_kv_string(j, "state", mxg_name_of(&mxg_fleet_states, f->state));
	json_kv_string(j, "mode", mxg_name_of(&mxg_sync_modes, f->mode));
	json_kv_string(j, "host", f->host[0] ? f->host : NULL);
	json_kv_string(j, "server", f->server[0] ? f->server : NULL);
	json_key(j, "age_s");
	if (f->synced_ns)
		json_u64(j, fleet_age_s(s));
	else
		json_null(j);
	json_kv_u64(j, "peer_entries", f->peer_entries);
	json_kv_u64(j, "applied", f->applied);
	json_kv_u64(j, "refused", f->refused);
	json_kv_u64(j, "published", f->published);
	json_kv_u64(j, "pending", f->pending);
	json_kv_u64(j, "publish_errors", f->publish_errors);
	json_kv_string(j, "error", f->error[0] ? f->error : NULL);
	json_key(j, "error_time");
	if (f->error_s)
		json_u64(j, f->error_s);
	else
		json_null(j);
	json_end_object(j);
}

static void fleet_text(const struct status *s)
{
	const struct mxg_fleet *f = &s->fleet;
	char when[32] = "";
	time_t t = (time_t)f->error_s;
	struct tm tm;

	if (f->state == MXG_FLEET_OFF) {
		printf("fleet       off (no [fleet])\n");
		return;
	}
	/* No mode: follow = no, the state is the publishing session's. */
	printf("fleet       %s (%s)", mxg_name_of(&mxg_fleet_states, f->state),
	       f->mode == MXG_SYNC_NONE ? "publishing only" :
	       mxg_name_of(&mxg_sync_modes, f->mode));
	if (f->host[0])
		printf(" as %s", f->host);
	printf(" with %s", f->server[0] ? f->server : "no server");
	if (f->synced_ns)
		printf(", confirmed %llu s ago", (unsigned long long)fleet_age_s(s));
	else
		printf(", never confirmed");
	printf("; peers' entries %llu, applied %llu, refused %llu; published %llu, pending %llu, publish errors %llu\n",
	       (unsigned long long)f->peer_entries, (unsigned long long)f->applied,
	       (unsigned long long)f->refused, (unsigned long long)f->published,
	       (unsigned long long)f->pending, (unsigned long long)f->publish_errors);
	if (!f->error[0] && !f->error_s)
		return;
	if (f->error_s && gmtime_r(&t, &tm))
		strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
	printf("fleet error %s", when[0] ? when : "(no time)");
	if (f->error_s && s->real_s >= f->error_s)
		printf(" (%llu s ago)", (unsigned long long)(s->real_s - f->error_s));
	printf(": %s\n", f->error[0] ? f->error : "(no message)");
}

/* The lowest scale of the classes: how far the tuner tightened any. */
static double status_lowest_scale(const struct status *s)
{
	double lowest = 1.0;

	for (unsigned i = 0; i < s->nshown; i++)
		if (ctl_scale(s->shown[i].tuning) < lowest)
			lowest = ctl_scale(s->shown[i].tuning);
	return lowest;
}

static void status_print_json(struct ctl *ctl, const struct status *s)
{
	struct json *j = &ctl->out;

	json_begin_object(j);
	json_kv_string(j, "pin_dir", s->pin_dir);
	json_kv_bool(j, "daemon", s->daemon_running);
	json_key(j, "kernel");
	json_begin_object(j);
	json_kv_string(j, "release", s->uname.release);
	json_key(j, "off");
	json_begin_array(j);
	for (unsigned f = 1; f & MXG_FEAT_ALL; f <<= 1)
		if (s->settings.features_off & f)
			json_string(j, mxg_feature_id(f));
	json_end_array(j);
	json_end_object(j);
	json_key(j, "attached");
	json_begin_array(j);
	for (int i = 0; i < MXG_MAX_LINKS; i++) {
		const struct mxg_link *l = &s->links[i];

		if (l->mode == MXG_LINK_NONE)
			continue;
		json_begin_object(j);
		json_kv_string(j, "interface", l->ifname);
		json_kv_u64(j, "ifindex", l->ifindex);
		json_kv_string(j, "mode", mxg_link_mode_name(l->mode));
		json_kv_string(j, "program",
			       l->mode == MXG_LINK_TC ? "mxg_tc" : "mxg_xdp");
		json_kv_u64(j, "prog_id", l->prog_id);
		json_kv_bool(j, "smtp_reader", l->inspector);
		json_kv_u64(j, "netns", l->netns_ino);
		json_end_object(j);
	}
	json_end_array(j);
	json_key(j, "classes");
	json_begin_array(j);
	for (unsigned i = 0; i < s->nshown; i++) {
		const struct status_class *c = &s->shown[i];

		json_begin_object(j);
		json_kv_string(j, "name", c->cls->name);
		json_key(j, "ports");
		json_begin_array(j);
		for (unsigned p = 0; p < c->nports; p++)
			json_u64(j, c->ports[p]);
		json_end_array(j);
		json_key(j, "new_sources");
		json_double(j, ctl_rate_per_s(c->cls->new_sources_milli));
		json_kv_u64(j, "new_sources_burst", c->cls->new_sources_burst);
		json_end_object(j);
	}
	json_end_array(j);
	json_key(j, "counter");
	json_begin_object(j);
	json_kv_bool(j, "attached", s->counter_link != 0);
	json_kv_u64(j, "link_id", s->counter_link);
	json_end_object(j);
	json_key(j, "sources");
	json_begin_object(j);
	json_kv_u64(j, "tracked", s->sources);
	json_kv_u64(j, "max", s->max_sources);
	json_end_object(j);
	json_key(j, "rules");
	json_begin_object(j);
	json_kv_u64(j, "allow", s->nallow);
	json_kv_u64(j, "deny", s->ndeny);
	json_kv_u64(j, "bans", s->nbans);
	json_end_object(j);
	json_key(j, "tuner");
	json_begin_object(j);
	json_kv_bool(j, "enabled", s->tuner_enabled);
	json_key(j, "scale");
	json_double(j, status_lowest_scale(s));
	json_key(j, "scales");
	json_begin_object(j);
	for (unsigned i = 0; i < s->nshown; i++) {
		json_key(j, s->shown[i].cls->name);
		json_double(j, ctl_scale(s->shown[i].tuning));
	}
	json_end_object(j);
	json_end_object(j);
	json_key(j, "mirror");
	json_begin_object(j);
	ctl_mirror_json(j, &s->mirror, s->now);
	json_end_object(j);
	json_key(j, "fleet");
	fleet_json(j, s);
	json_end_object(j);
	json_finish(j);
}

static void status_print_text(struct ctl *ctl, const struct status *s)
{
	unsigned off = s->settings.features_off & MXG_FEAT_ALL;
	int attached = 0;

	printf("pin dir     %s\n", s->pin_dir);
	printf("daemon      %s\n", s->daemon_running ? "running" : "not running");
	printf("kernel      %s", s->uname.release);
	if (off)
		printf("; off here: %s (mxguardd's log says why)\n",
		       mxg_feature_name(s->settings.features_off));
	else
		printf(": every part loaded\n");
	printf("attached   ");
	for (int i = 0; i < MXG_MAX_LINKS; i++) {
		const struct mxg_link *l = &s->links[i];

		if (l->mode == MXG_LINK_NONE)
			continue;
		printf(" %s (%s, prog id %u%s)", l->ifname,
		       mxg_link_mode_name(l->mode), l->prog_id,
		       l->inspector ? ", SMTP reader on tc" : "");
		attached++;
	}
	printf("%s\n", attached ? "" : " nowhere");
	for (unsigned i = 0; i < s->nshown; i++) {
		const struct status_class *c = &s->shown[i];
		char rate[32];

		ctl_format_rate(c->cls->new_sources_milli, rate, sizeof(rate));
		printf("class       %s: ports %s; new sources %s", c->cls->name,
		       c->nports ? c->port_list : "none", rate);
		if (c->cls->new_sources_milli)
			printf(" burst %u", c->cls->new_sources_burst);
		printf("\n");
	}
	if (s->counter_link)
		printf("counter     sock_ops on the cgroup v2 root (link id %u)\n",
		       s->counter_link);
	else
		printf("counter     not attached: connections are not counted\n");
	printf("sources     %zu tracked of %u\n", s->sources, s->max_sources);
	printf("rules       allow %d, deny %d, bans %d\n", s->nallow, s->ndeny,
	       s->nbans);
	if (s->tuner_enabled) {
		printf("tuner       on:");
		for (unsigned i = 0; i < s->nshown; i++)
			printf("%s %s %.2f", i ? "," : "", s->shown[i].cls->name,
			       ctl_scale(s->shown[i].tuning));
		printf("%s\n", s->nshown ? "" : " no classes");
	} else {
		printf("tuner       off\n");
	}
	if (s->mirror.mode == MXG_SYNC_NONE)
		printf("mirror      off (no [ldap])\n");
	else
		printf("mirror      %s, %llu addresses, generation %llu, %s\n",
		       mxg_name_of(&mxg_sync_modes, s->mirror.mode),
		       (unsigned long long)s->mirror.entries,
		       (unsigned long long)s->mirror.generation,
		       mxg_mirror_ready(&s->mirror, s->now) ? "ready" : "not ready");
	fleet_text(s);
}

int ctl_status(struct ctl *ctl, const struct ctl_args *a)
{
	struct status *s = calloc(1, sizeof(*s));
	int ret;

	if (!s)
		return -ENOMEM;
	ret = status_read(ctl, s);
	if (!ret)
		(ctl->json ? status_print_json : status_print_text)(ctl, s);
	free(s);
	return ret;
}
