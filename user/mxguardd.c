/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * mxguardd: loads mxguard's programs over the pinned state, writes the
 * configured limits and rules, attaches to the configured interfaces, and
 * keeps them current: SIGHUP re-reads the config, expired bans are swept.
 *
 * Safe at boot and after a crash: the config is validated whole before
 * anything is touched, and an existing attachment is adopted, never torn
 * down and re-made, so enforcement does not stop across a restart. What
 * else can fail at start is done before attaching, and a start that fails
 * while attaching detaches what it attached. The start and every SIGHUP
 * apply the config through mxg_apply() (apply.h): a reload that fails at
 * any step leaves the running config in force, whole, and logs why. While
 * it runs, an attachment lost behind its back is re-attached.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>
#include <systemd/sd-daemon.h>
#include "apply.h"
#include "config.h"
#include "loader.h"
#include "log.h"
#include "lookup.h"
#include "maps.h"
#include "metrics_http.h"
#include "events.h"
#include "fleet.h"
#include "mirror.h"
#include "probe.h"
#include "recipients.h"
#include "tuner.h"
#include "mxguard.skel.h"

#define SWEEP_INTERVAL_MS 5000
#define CONNS_IDLE_NS (60ULL * 1000000000ULL)

struct daemon {
	struct mxg_loader loader;
	struct mxg_config *cfg;
	struct mxg_mirror_writer *mirror;	/* NULL without [ldap] */
	struct mxg_fleet_sync *fleet;		/* NULL without [fleet] */
	struct mxg_lookup_server *lookup;	/* NULL without [lookup] */
	struct mxg_rcpt_reader rcpt;		/* what the lookups read */
	struct mxg_tuner *tuner;		/* NULL without [tuner] */
	struct mxg_metrics_http *metrics;	/* NULL without [metrics] */
	struct mxg_events *events;		/* penalties and drops to log */
	int signal_fd;
};

static void usage(FILE *out)
{
	fprintf(out,
		"usage: mxguardd [-c FILE] [-f] [-t] [-v] | --probe\n"
		"  -c, --config FILE  configuration (default %s)\n"
		"  -f, --foreground   stay in the foreground, log to stderr\n"
		"  -t, --check        validate the configuration and exit\n"
		"      --probe        load each program alone on this kernel, print\n"
		"                     what loads (verified instructions) and what\n"
		"                     not, and exit (no config, nothing attached)\n"
		"  -v, --verbose      also show libbpf's log\n"
		"  -h, --help         this help\n",
		MXG_DEFAULT_CONFIG);
}

static int start_lookup(struct daemon *d, const struct mxg_lookup_config *lc,
			char *err, size_t errlen)
{
	struct mxg_lookup_opts opts = {
		.path = lc->socket,
		.mode = lc->mode,
		.set_group = true,
		.gid = lc->gid,
		.answer = mxg_lookup_answer_rcpt,
		.ctx = &d->rcpt,
		.counted = true,
		.counters_fd = d->loader.maps.daemon,
	};
	int ret;

	d->rcpt = (struct mxg_rcpt_reader){ .maps = &d->loader.maps,
					    .pin_dir = d->loader.pin_dir };

	ret = mxg_lookup_start(&d->lookup, &opts, err, errlen);
	if (!ret)
		mxg_info("lookup: serving recipient lookups on %s (mode %04o, group %s)",
			 lc->socket, lc->mode, lc->group);
	return ret;
}

static bool mirror_changed(const struct mxg_config *a,
			   const struct mxg_config *b)
{
	return memcmp(&a->ldap, &b->ldap, sizeof(a->ldap)) ||
	       strcmp(a->recipient_delimiter, b->recipient_delimiter);
}

static bool fleet_changed(const struct mxg_config *a,
			  const struct mxg_config *b)
{
	return memcmp(&a->fleet, &b->fleet, sizeof(a->fleet));
}

/* The tuner probes the [ldap] directory; it follows the classes by
 * itself (their slots are in the maps it reads every interval). */
static bool tuner_changed(const struct mxg_config *a,
			  const struct mxg_config *b)
{
	return memcmp(&a->tuner, &b->tuner, sizeof(a->tuner)) ||
	       memcmp(&a->ldap, &b->ldap, sizeof(a->ldap));
}

static int start_tuner(struct daemon *d, const struct mxg_config *cfg,
		       char *err, size_t errlen)
{
	int ret;

	if (!cfg->tuner.enabled) {
		/* Off: the configured limits, not a past run's scales. */
		ret = mxg_tuner_reset(&d->loader.maps);
		if (ret)
			snprintf(err, errlen, "cannot reset the tuner's scales: %s",
				 strerror(-ret));
		return ret;
	}
	return mxg_tuner_start(&d->tuner, cfg, &d->loader.maps, err, errlen);
}

/* The fleet's thread for [fleet]; without it, no peer's ban and no
 * fleet record stays (a reload that removes the section included). */
static int start_fleet(struct daemon *d, const struct mxg_config *cfg,
		       char *err, size_t errlen)
{
	int ret;

	if (cfg->fleet.enabled) {
		ret = mxg_fleet_start(&d->fleet, cfg, &d->loader.maps);
		if (ret)
			snprintf(err, errlen, "cannot start the fleet: %s",
				 strerror(-ret));
		return ret;
	}
	ret = mxg_fleet_clear(&d->loader.maps);
	if (ret)
		snprintf(err, errlen, "cannot remove the fleet's bans (%s, %s): %s",
			 MXG_MAP_NAME(bans), MXG_MAP_NAME(fleet_bans),
			 strerror(-ret));
	return ret;
}

/*
 * The services on top of the maps (mxg_services_fn): the mirror's writer
 * thread, the MTA lookup socket that answers from the mirror, the
 * tuner, the fleet and the metrics endpoint, each
 * restarted only when its part of the config changes. mxg_apply() calls
 * this from the running config to the new one, and back when a later step
 * fails, so a lookup socket that cannot be made puts the old one back.
 */
static int services_apply(void *arg, const struct mxg_config *from,
			  const struct mxg_config *to, char *err, size_t errlen)
{
	struct daemon *d = arg;
	struct mxg_inner_btf btf;
	bool fleet_restart = false;
	int ret;

	/* Stopped first and started last: a port that cannot be bound
	 * fails the step after the others moved, and the rollback (this
	 * function, back to from) binds the old one again. */
	if (!to || !from || memcmp(&from->metrics, &to->metrics,
				   sizeof(from->metrics))) {
		mxg_metrics_http_stop(d->metrics);
		d->metrics = NULL;
	}
	if (!to || !from || tuner_changed(from, to)) {
		mxg_tuner_stop(d->tuner);
		d->tuner = NULL;
	}
	/* The socket goes before the mirror it answers from, so the MTA
	 * gets "no such file" (a temporary error), never a stale answer. */
	if (!to || !from || memcmp(&from->lookup, &to->lookup,
				   sizeof(from->lookup))) {
		mxg_lookup_stop(d->lookup);
		d->lookup = NULL;
	}
	if (!to || !from || mirror_changed(from, to)) {
		mxg_mirror_stop(d->mirror);
		d->mirror = NULL;
	}
	if (!to || !from || fleet_changed(from, to)) {
		mxg_fleet_stop(d->fleet);
		d->fleet = NULL;
		fleet_restart = true;
	}
	if (!to)
		return 0;
	if (!d->mirror && to->ldap.enabled) {
		mxg_inner_btf_from_skel(d->loader.skel, &btf);
		ret = mxg_mirror_start(&d->mirror, to, &d->loader.maps, &btf);
		if (ret) {
			snprintf(err, errlen, "cannot start the recipient mirror: %s",
				 strerror(-ret));
			return ret;
		}
	}
	if (!d->lookup && to->lookup.enabled) {
		ret = start_lookup(d, &to->lookup, err, errlen);
		if (ret)
			return ret;
	}
	if (!d->tuner) {
		ret = start_tuner(d, to, err, errlen);
		if (ret)
			return ret;
	}
	if (fleet_restart) {
		ret = start_fleet(d, to, err, errlen);
		if (ret)
			return ret;
	}
	if (!d->metrics && to->metrics.enabled) {
		ret = mxg_metrics_http_start(&d->metrics, &to->metrics,
					     &d->loader.maps, err, errlen);
		if (ret)
			return ret;
		mxg_info("metrics: serving http://%s/metrics", to->metrics.listen);
	}
	return 0;
}

/* Make cfg the config in force (old: the one in force, NULL at start). */
static int apply(struct daemon *d, const struct mxg_config *old,
		 const struct mxg_config *cfg, char *err, size_t errlen)
{
	const struct mxg_apply_target target = {
		.maps = &d->loader.maps,
		.loader = &d->loader,
		.services = services_apply,
		.services_arg = d,
	};

	return mxg_apply(&target, old, cfg, err, errlen);
}

static int reload(struct daemon *d)
{
	struct mxg_config *cfg;
	char err[1024];
	int ret;

	sd_notify(0, "RELOADING=1");
	cfg = calloc(1, sizeof(*cfg));
	if (!cfg)
		return -ENOMEM;
	ret = mxg_config_load(d->cfg->path, cfg, err, sizeof(err));
	if (ret) {
		mxg_err("reload refused, keeping the running config: %s", err);
		goto out;
	}
	if (strcmp(cfg->pin_dir, d->cfg->pin_dir) ||
	    cfg->max_sources != d->cfg->max_sources) {
		mxg_err("reload: pin_dir and max_sources take effect at the next start only");
		snprintf(cfg->pin_dir, sizeof(cfg->pin_dir), "%s", d->cfg->pin_dir);
		cfg->max_sources = d->cfg->max_sources;
	}
	ret = apply(d, d->cfg, cfg, err, sizeof(err));
	if (ret) {
		mxg_err("reload failed, keeping the running config: %s", err);
		if (d->lookup && memcmp(&cfg->lookup, &d->cfg->lookup,
					sizeof(cfg->lookup)))
			mxg_err("reload: kept the lookup socket %s",
				d->cfg->lookup.socket);
		goto out;
	}
	free(d->cfg);
	d->cfg = cfg;
	cfg = NULL;
	mxg_info("reloaded %s", d->cfg->path);
out:
	free(cfg);
	sd_notify(0, "READY=1");
	return ret;
}

/* Expired bans, per-source connection entries idle at zero, and an
 * attachment lost behind the daemon's back. */
static void sweep(struct daemon *d)
{
	uint64_t now = mxg_now_ns();
	int n;

	mxg_attach_check(&d->loader, d->cfg);

	n = mxg_bans_sweep(d->loader.maps.bans, now);
	if (n > 0)
		mxg_debug("swept %d expired bans", n);
	n = mxg_conns_sweep(d->loader.maps.conns, now, CONNS_IDLE_NS);
	if (n > 0)
		mxg_debug("swept %d idle connection entries", n);
}

static int run(struct daemon *d)
{
	struct signalfd_siginfo si;
	struct pollfd pfd[2] = {
		{ .fd = d->signal_fd, .events = POLLIN },
		{ .fd = mxg_events_fd(d->events), .events = POLLIN },
	};
	uint64_t last_sweep = mxg_now_ns();
	int ret;

	for (;;) {
		ret = poll(pfd, 2, SWEEP_INTERVAL_MS);
		if (ret < 0 && errno != EINTR)
			return -errno;
		/* Events are logged aggregated, at most one line per kind
		 * every few seconds, however fast they come. */
		mxg_events_poll(d->events, mxg_now_ns());
		if (mxg_now_ns() - last_sweep >= SWEEP_INTERVAL_MS * 1000000ULL) {
			sweep(d);
			last_sweep = mxg_now_ns();
		}
		if (ret <= 0 || !(pfd[0].revents & POLLIN))
			continue;
		if (read(d->signal_fd, &si, sizeof(si)) != sizeof(si))
			continue;
		if (si.ssi_signo == SIGHUP) {
			reload(d);
			continue;
		}
		mxg_info("stopping on signal %u", si.ssi_signo);
		return 0;
	}
}

/*
 * Without -f: the parent stays until the child is ready or has failed and
 * exits 0 or 1 accordingly, so that the exit status still says whether
 * the guard started; until then the child's messages go to stderr.
 * Returns in the child only, with the pipe to the parent in *ready_fd.
 */
static int go_background(int *ready_fd)
{
	int pipefd[2];
	ssize_t n;
	pid_t pid;
	char ok;

	if (pipe2(pipefd, O_CLOEXEC))
		return -errno;
	pid = fork();
	if (pid < 0) {
		close(pipefd[0]);
		close(pipefd[1]);
		return -errno;
	}
	if (pid > 0) {
		close(pipefd[1]);
		do
			n = read(pipefd[0], &ok, 1);
		while (n < 0 && errno == EINTR);
		_exit(n == 1 ? 0 : 1);
	}
	close(pipefd[0]);
	setsid();
	*ready_fd = pipefd[1];
	return 0;
}

/* The child is ready: off the terminal, to syslog, and the parent exits 0. */
static void background_ready(int ready_fd)
{
	int null = open("/dev/null", O_RDWR | O_CLOEXEC);

	if (null >= 0) {
		dup2(null, STDIN_FILENO);
		dup2(null, STDOUT_FILENO);
		dup2(null, STDERR_FILENO);
		if (null > STDERR_FILENO)
			close(null);
	}
	if (chdir("/"))
		mxg_debug("cannot chdir to /: %s", strerror(errno));
	mxg_log_to_syslog();
	if (write(ready_fd, "", 1) != 1)
		mxg_err("cannot tell the parent process that the start is done: %s",
			strerror(errno));
	close(ready_fd);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "foreground", no_argument, NULL, 'f' },
		{ "check", no_argument, NULL, 't' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ "probe", no_argument, NULL, 'P' },
		{}
	};
	struct daemon d = { .signal_fd = -1 };
	const char *config_path = MXG_DEFAULT_CONFIG;
	bool foreground = false, check = false, probe = false;
	sigset_t mask;
	char err[1024], cgroup[4096];
	int opt, ret, ready_fd = -1;

	mxg_loader_init(&d.loader);

	mxg_prog_name = "mxguardd";
	while ((opt = getopt_long(argc, argv, "c:ftvh", opts, NULL)) != -1) {
		switch (opt) {
		case 'c':
			config_path = optarg;
			break;
		case 'f':
			foreground = true;
			break;
		case 't':
			check = true;
			break;
		case 'v':
			mxg_verbose = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'P':
			probe = true;
			break;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return 2;
	}
	mxg_log_setup_libbpf();
	if (probe) {
		if (geteuid() != 0) {
			mxg_err("--probe must run as root (it loads BPF programs)");
			return 1;
		}
		return mxg_probe_print() ? 1 : 0;
	}

	d.cfg = calloc(1, sizeof(*d.cfg));
	if (!d.cfg) {
		mxg_err("out of memory");
		return 1;
	}
	/* Everything is validated before anything is touched. */
	ret = mxg_config_load(config_path, d.cfg, err, sizeof(err));
	if (ret) {
		mxg_err("%s", err);
		goto cleanup;
	}
	/* Before -t says ok: a file the daemon refuses is not ok. */
	if (!d.cfg->nifaces) {
		mxg_err("%s: [global] interfaces is empty: nothing to guard",
			config_path);
		ret = -EINVAL;
		goto cleanup;
	}
	if (check) {
		printf("%s: ok\n", config_path);
		goto cleanup;
	}
	if (geteuid() != 0) {
		mxg_err("must run as root (it loads BPF programs and attaches them)");
		ret = -EPERM;
		goto cleanup;
	}

	/* Like the config, checked before anything is touched. */
	ret = mxg_find_cgroup2(d.cfg->cgroup, cgroup, sizeof(cgroup), err,
			       sizeof(err));
	if (!ret)
		ret = mxg_ifaces_check(d.cfg, err, sizeof(err));
	if (!ret && d.cfg->lookup.enabled)
		ret = mxg_lookup_check_path(d.cfg->lookup.socket, err, sizeof(err));
	if (ret) {
		mxg_err("%s", err);
		goto cleanup;
	}
	/* Before the threads (the mirror's, the lookup socket's): a thread
	 * does not survive a fork. */
	if (!foreground) {
		ret = go_background(&ready_fd);
		if (ret) {
			mxg_err("cannot go to the background: %s", strerror(-ret));
			goto cleanup;
		}
	}

	/* A write to a peer that has gone must be an EPIPE, not the end of
	 * the daemon: libldap writes its unbind to a directory that may have
	 * closed the connection, and the lookup socket's clients come and go. */
	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	d.signal_fd = signalfd(-1, &mask, SFD_CLOEXEC);
	if (d.signal_fd < 0) {
		ret = -errno;
		mxg_err("cannot create a signalfd: %s", strerror(errno));
		goto cleanup;
	}

	ret = mxg_pin_dir_prepare(d.cfg->pin_dir, &d.loader.lock_fd, err,
				  sizeof(err));
	if (!ret)
		ret = mxg_load(&d.loader, d.cfg, err, sizeof(err));
	if (ret) {
		mxg_err("%s", err);
		goto cleanup;
	}
	ret = mxg_events_open(&d.loader.maps, &d.events);
	if (ret) {
		mxg_err("cannot read %s: %s", MXG_MAP_NAME(events), strerror(-ret));
		goto cleanup;
	}
	/* Whatever else can fail comes before the attachments (mxg_apply's
	 * order), so that a start that fails leaves nothing attached and,
	 * under Restart=on-failure, does not attach and detach every 2 s:
	 * the mirror, the lookup socket (bound there, refused when a live
	 * listener holds its path). If attaching itself fails (another XDP
	 * program, a driver), what this start attached goes again; what it
	 * adopted from a previous run keeps enforcing. */
	ret = apply(&d, NULL, d.cfg, err, sizeof(err));
	if (ret) {
		mxg_err("%s", err);
		goto cleanup;
	}
	if (!foreground)
		background_ready(ready_fd);
	sd_notify(0, "READY=1");
	mxg_info("ready");

	ret = run(&d);
	sd_notify(0, "STOPPING=1");
	mxg_metrics_http_stop(d.metrics);
	d.metrics = NULL;
	/* Before the mirror it reads: the socket file goes first, so the
	 * MTA gets "no such file" (a temporary error), never a stale answer. */
	mxg_lookup_stop(d.lookup);
	d.lookup = NULL;
	mxg_mirror_stop(d.mirror);
	d.mirror = NULL;
	/* The peers' bans stay in force until they expire, as the pinned
	 * state does; the next start makes them equal to the directory. */
	mxg_fleet_stop(d.fleet);
	d.fleet = NULL;
	/* The scales stay in force with the programs (on_exit = keep), as
	 * a crash leaves them; the next start resumes from them. */
	mxg_tuner_stop(d.tuner);
	d.tuner = NULL;
	if (d.cfg->on_exit == MXG_ON_EXIT_DETACH) {
		if (mxg_detach_all(&d.loader.maps, d.cfg->pin_dir))
			ret = -EIO;
		else
			mxg_info("detached; the connection counter and the state stay under %s (mxguardctl unload removes them)",
				 d.cfg->pin_dir);
	} else {
		/* A pin removed since the last sweep would go with the
		 * links this process holds. */
		mxg_attach_check(&d.loader, d.cfg);
		mxg_info("leaving the programs attached (on_exit = keep)");
	}

cleanup:
	mxg_metrics_http_stop(d.metrics);
	mxg_tuner_stop(d.tuner);
	mxg_lookup_stop(d.lookup);
	mxg_mirror_stop(d.mirror);
	mxg_fleet_stop(d.fleet);
	mxg_events_close(d.events);
	mxg_loader_close(&d.loader);
	if (d.signal_fd >= 0)
		close(d.signal_fd);
	free(d.cfg);
	return ret ? 1 : 0;
}
