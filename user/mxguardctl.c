/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * mxguardctl: inspect and change mxguard's live state through the pinned
 * maps, with or without mxguardd running.
 *
 *   mxguardctl [-j] [-p] [--pin-dir DIR] OBJECT [COMMAND] [ARGS]
 *
 * Objects and commands are one table; the help is generated from it, any
 * unambiguous prefix selects an entry (bpftool-style). Each entry declares
 * its arguments (how many, of what type, which options), and they are
 * checked here before any map is opened: a usage error exits 2 and a bad
 * value 1, whether or not anything is pinned. The verbs live in one file
 * per object under user/ctl/, each with a text and a JSON printer.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "config.h"
#include "ctl/ctl.h"
#include "log.h"
#include "names.h"
#include "parse.h"

#define TOP_DEFAULT 20
#define TOP_MAX 1000000
#define TTL_MAX_NS (366ULL * 86400 * NSEC_PER_SEC)

#define EXIT_USAGE 2

/* What a positional argument must be, checked without the maps. */
enum arg_type {
	ARG_ANY = 0,	/* checked by the verb: a class name against the
			 * maps, an address by the mirror's normaliser */
	ARG_CIDR,	/* an address or CIDR */
	ARG_LIMIT,	/* KEY=VALUE, a limit of the class given first */
};

static ctl_check_fn *const arg_check[] = {
	[ARG_CIDR] = ctl_check_cidr,
	[ARG_LIMIT] = ctl_check_limit,
};

/* An option of a verb, and where its checked value goes. */
enum opt_type {
	OPT_NUMBER,	/* struct ctl_args number: 1..TOP_MAX */
	OPT_BY,		/* by: one of top_by_names */
	OPT_TTL,	/* ttl_ns: a duration from 1 s to 366 d */
	OPT_CLASS,	/* classes[]: may repeat */
	OPT_OUTPUT,	/* output: a file name */
};

/* Options one verb may have (getopt_long()'s tables are sized by it). */
#define VERB_OPTS_MAX 8

struct verb_opt {
	const char *name;	/* --name */
	char short_name;	/* -c */
	const char *shown;	/* as the help and the messages write it */
	enum opt_type type;
};

#define ARGS_MANY UINT_MAX

struct command {
	const char *object;
	const char *verb;	/* NULL: the object is the command */
	int (*fn)(struct ctl *ctl, const struct ctl_args *a);
	const char *args;
	const char *help;
	unsigned min, max;	/* positional arguments */
	enum arg_type first;	/* the type of the first one */
	enum arg_type rest;	/* and of the others */
	const struct verb_opt *opts;	/* ends with a NULL name */
	bool needs_maps;
	bool text_only;		/* no JSON form: -j is a usage error */
};

static const struct verb_opt top_opts[] = {
	{ "number", 'n', "-n", OPT_NUMBER },
	{ "by", 'b', "--by", OPT_BY },
	{}
};

static const struct verb_opt ban_add_opts[] = {
	{ "ttl", 't', "--ttl", OPT_TTL },
	{ "class", 'c', "--class", OPT_CLASS },
	{}
};

static const struct verb_opt metrics_opts[] = {
	{ "output", 'o', "--output", OPT_OUTPUT },
	{}
};

static const struct mxg_name top_by[] = {
	{ TOP_RATE, "rate" },
	{ TOP_CONNS, "conns" },
	{ TOP_UNKNOWN, "unknown" },
};
static const struct mxg_names top_by_names = {
	top_by, sizeof(top_by) / sizeof(top_by[0]), "?",
};

static int cmd_help(struct ctl *ctl, const struct ctl_args *a);

static const struct command commands[] = {
	{ "status", NULL, ctl_status, "", "where it is attached, classes, sources, rules",
	  .needs_maps = true },
	{ "stats", NULL, ctl_stats, "", "verdicts per class and reason",
	  .needs_maps = true },
	{ "top", NULL, ctl_top, "[-n N] [--by rate|conns|unknown]", "the busiest sources",
	  .opts = top_opts, .needs_maps = true },
	{ "limit", "show", ctl_limit_show, "[CLASS]", "a class's limits",
	  .max = 1, .needs_maps = true },
	{ "limit", "set", ctl_limit_set, "CLASS KEY=VALUE...", "change limits (rate, burst, source_conns, total_conns, ipv4_prefix, ipv6_prefix, new_sources, new_sources_burst)",
	  .min = 2, .max = ARGS_MANY, .rest = ARG_LIMIT, .needs_maps = true },
	{ "tuner", NULL, ctl_tuner, "", "what the tuner measured: signals, scales, limits in force, last changes",
	  .needs_maps = true },
	{ "allow", "add", ctl_allow_add, "CIDR...", "never limit these sources",
	  .min = 1, .max = ARGS_MANY, .first = ARG_CIDR, .rest = ARG_CIDR, .needs_maps = true },
	{ "allow", "del", ctl_allow_del, "CIDR...", "remove from the allow list",
	  .min = 1, .max = ARGS_MANY, .first = ARG_CIDR, .rest = ARG_CIDR, .needs_maps = true },
	{ "allow", "list", ctl_allow_list, "", "the allow list, with each entry's origin",
	  .needs_maps = true },
	{ "deny", "add", ctl_deny_add, "CIDR...", "drop every SYN from these sources",
	  .min = 1, .max = ARGS_MANY, .first = ARG_CIDR, .rest = ARG_CIDR, .needs_maps = true },
	{ "deny", "del", ctl_deny_del, "CIDR...", "remove from the deny list",
	  .min = 1, .max = ARGS_MANY, .first = ARG_CIDR, .rest = ARG_CIDR, .needs_maps = true },
	{ "deny", "list", ctl_deny_list, "", "the deny list, with each entry's origin",
	  .needs_maps = true },
	{ "ban", "add", ctl_ban_add, "ADDR|CIDR [--ttl DURATION] [--class CLASS]...", "put a source in the penalty box",
	  .min = 1, .max = 1, .first = ARG_CIDR, .opts = ban_add_opts, .needs_maps = true },
	{ "ban", "del", ctl_ban_del, "ADDR|CIDR", "take a source out of the penalty box",
	  .min = 1, .max = 1, .first = ARG_CIDR, .needs_maps = true },
	{ "ban", "list", ctl_ban_list, "", "bans in force, with time left",
	  .needs_maps = true },
	{ "rcpt", "check", ctl_rcpt_check, "ADDRESS", "is it a valid recipient, per the mirror",
	  .min = 1, .max = 1, .needs_maps = true },
	{ "rcpt", "stats", ctl_rcpt_stats, "", "the recipient mirror: entries, age, sync mode",
	  .needs_maps = true },
	{ "metrics", NULL, ctl_metrics, "[--output FILE]", "the counters in the Prometheus text format (FILE: written atomically, for node_exporter's textfile collector)",
	  .opts = metrics_opts, .needs_maps = true, .text_only = true },
	{ "unload", NULL, ctl_unload, "", "detach everything and remove the pins",
	  .needs_maps = true },
	{ "help", NULL, cmd_help, "", "this help", .max = ARGS_MANY },
};
#define NCOMMANDS (sizeof(commands) / sizeof(commands[0]))

static void usage(FILE *out)
{
	fprintf(out,
		"usage: mxguardctl [-j] [-p] [-v] [--pin-dir DIR] OBJECT [COMMAND] [ARGS]\n"
		"  -j, --json       JSON output\n"
		"  -p, --pretty     JSON output, indented (implies -j)\n"
		"  --pin-dir DIR    where mxguardd pinned its maps (default %s)\n"
		"  -v, --verbose    also show libbpf's log\n\n",
		MXG_DEFAULT_PIN_DIR);
	/* One line per command, its help on the next: the docs test reads
	 * the command lines (lower-case words are object and verb, the
	 * arguments are upper-case or bracketed). */
	for (size_t i = 0; i < NCOMMANDS; i++) {
		fprintf(out, "  %s%s%s%s%s\n", commands[i].object,
			commands[i].verb ? " " : "",
			commands[i].verb ? commands[i].verb : "",
			commands[i].args[0] ? " " : "", commands[i].args);
		if (commands[i].help[0])
			fprintf(out, "      %s\n", commands[i].help);
	}
}

static int cmd_help(struct ctl *ctl, const struct ctl_args *a)
{
	usage(stdout);
	return 0;
}

/* Unambiguous prefix match: an exact name wins, else exactly one prefix. */
static int match(const char *word, const char *const *names, size_t n)
{
	int found = -1;

	for (size_t i = 0; i < n; i++)
		if (names[i] && !strcmp(word, names[i]))
			return i;
	for (size_t i = 0; i < n; i++) {
		if (!names[i] || strncmp(word, names[i], strlen(word)))
			continue;
		if (found >= 0 && strcmp(names[found], names[i]))
			return -2;	/* ambiguous */
		if (found < 0)
			found = i;
	}
	return found;
}

static const struct command *lookup(struct ctl *ctl, int *argc, char ***argv)
{
	const char *names[NCOMMANDS];
	const char *object;
	int i;

	for (size_t k = 0; k < NCOMMANDS; k++)
		names[k] = commands[k].object;
	i = match((*argv)[0], names, NCOMMANDS);
	if (i < 0) {
		ctl_error(ctl, "%s object '%s' (try mxguardctl help)",
			  i == -2 ? "ambiguous" : "unknown", (*argv)[0]);
		return NULL;
	}
	object = commands[i].object;
	(*argc)--;
	(*argv)++;
	if (!commands[i].verb)
		return &commands[i];
	if (!*argc) {
		ctl_error(ctl, "%s needs a command (try mxguardctl help)", object);
		return NULL;
	}
	for (size_t k = 0; k < NCOMMANDS; k++)
		names[k] = strcmp(commands[k].object, object) ? NULL : commands[k].verb;
	i = match((*argv)[0], names, NCOMMANDS);
	if (i < 0) {
		ctl_error(ctl, "%s command '%s %s' (try mxguardctl help)",
			  i == -2 ? "ambiguous" : "unknown", object, (*argv)[0]);
		return NULL;
	}
	(*argc)--;
	(*argv)++;
	return &commands[i];
}

/* One option's value into *a: 0, or -EINVAL with the message said. */
static int take_option(struct ctl *ctl, const char *name,
		       const struct verb_opt *o, const char *value,
		       struct ctl_args *a)
{
	char allowed[64];
	uint32_t by;

	switch (o->type) {
	case OPT_NUMBER:
		if (!mxg_parse_u32(value, 1, TOP_MAX, &a->number))
			return 0;
		ctl_error(ctl, "%s %s: '%s' is not a number from 1 to %u", name,
			  o->shown, value, TOP_MAX);
		return -EINVAL;
	case OPT_BY:
		if (!mxg_name_parse(&top_by_names, value, &by)) {
			a->by = by;
			return 0;
		}
		mxg_names_list(&top_by_names, allowed, sizeof(allowed));
		ctl_error(ctl, "%s %s: '%s' is not one of %s", name, o->shown,
			  value, allowed);
		return -EINVAL;
	case OPT_TTL:
		if (!mxg_parse_duration(value, NSEC_PER_SEC, TTL_MAX_NS, &a->ttl_ns))
			return 0;
		ctl_error(ctl, "%s %s: '%s' is not a duration from 1s to 366d (examples: 600, 10m, 2h)",
			  name, o->shown, value);
		return -EINVAL;
	case OPT_CLASS:
		a->classes[a->nclasses++] = value;
		return 0;
	case OPT_OUTPUT:
		if (value[0]) {
			a->output = value;
			return 0;
		}
		ctl_error(ctl, "%s %s: an empty file name", name, o->shown);
		return -EINVAL;
	}
	return -EINVAL;
}

/* The verb's options through getopt_long(), each value into *a; the
 * others are left in a->argc, a->argv. Returns as check_args(). */
static int take_options(struct ctl *ctl, const struct command *cmd,
			const char *name, int argc, char **argv,
			struct ctl_args *a)
{
	struct option longopts[VERB_OPTS_MAX + 1] = {};
	char optstring[2 * VERB_OPTS_MAX + 1] = "";
	size_t n = 0;
	int opt;

	for (const struct verb_opt *o = cmd->opts; o->name; o++) {
		if (n == VERB_OPTS_MAX) {
			ctl_error(ctl, "%s: more options in the table than room for them",
				  name);
			return 1;
		}
		longopts[n] = (struct option){ o->name, required_argument, NULL,
					       o->short_name };
		optstring[2 * n] = o->short_name;
		optstring[2 * n + 1] = ':';
		n++;
	}
	/* getopt_long() sees the verb as argv[0], so its own messages name
	 * it; optind 0 starts it afresh. */
	optind = 0;
	while ((opt = getopt_long(argc + 1, argv - 1, optstring, longopts,
				  NULL)) != -1) {
		const struct verb_opt *o = cmd->opts;

		while (o->name && o->short_name != opt)
			o++;
		if (!o->name) {	/* '?': unknown, or its value missing */
			ctl_error(ctl, "usage: %s %s", name, cmd->args);
			return EXIT_USAGE;
		}
		if (take_option(ctl, name, o, optarg, a))
			return 1;
	}
	/* getopt_long() moved the options before the others. */
	a->argc = argc + 1 - optind;
	a->argv = argv - 1 + optind;
	return 0;
}

/*
 * The verb's arguments as the table declares them: options, then the
 * count of the others, then each value a type can check. Returns 0, or
 * the exit status with the message said: EXIT_USAGE for a wrong option
 * or count, 1 for a value that is not of its type.
 */
static int check_args(struct ctl *ctl, const struct command *cmd, int argc,
		      char **argv, struct ctl_args *a)
{
	char name[64];
	unsigned count;
	int ret;

	snprintf(name, sizeof(name), "%s%s%s", cmd->object,
		 cmd->verb ? " " : "", cmd->verb ? cmd->verb : "");
	a->argc = argc;
	a->argv = argv;
	if (cmd->text_only && ctl->json) {
		ctl_error(ctl, "%s has no JSON form (its output is the Prometheus text format): drop -j",
			  name);
		return EXIT_USAGE;
	}
	/* Verbs without options take every argument as it is (an argument
	 * may begin with '-'). */
	if (cmd->opts) {
		ret = take_options(ctl, cmd, name, argc, argv, a);
		if (ret)
			return ret;
	}
	count = (unsigned)a->argc;
	if (count && !cmd->max) {
		if (cmd->opts)
			ctl_error(ctl, "%s: unexpected argument '%s'", name,
				  a->argv[0]);
		else
			ctl_error(ctl, "%s takes no arguments", name);
		return EXIT_USAGE;
	}
	if (count < cmd->min || count > cmd->max) {
		ctl_error(ctl, "usage: %s %s", name, cmd->args);
		return EXIT_USAGE;
	}
	for (int i = 0; i < a->argc; i++) {
		enum arg_type t = i ? cmd->rest : cmd->first;

		if (arg_check[t] && arg_check[t](ctl, a, i))
			return 1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "pretty", no_argument, NULL, 'p' },
		{ "pin-dir", required_argument, NULL, 'd' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{}
	};
	struct ctl ctl = { .pin_dir = MXG_DEFAULT_PIN_DIR,
			   .maps = MXG_MAPS_INIT };
	struct ctl_args args = { .number = TOP_DEFAULT, .by = TOP_RATE };
	const struct command *cmd;
	char err[512];
	int opt, ret;

	mxg_prog_name = "mxguardctl";
	/* '+': stop at the object, so that command options stay theirs. */
	while ((opt = getopt_long(argc, argv, "+jpvh", opts, NULL)) != -1) {
		switch (opt) {
		case 'p':	/* -j, indented, as in bpftool */
			ctl.pretty = true;
			ctl.json = true;
			break;
		case 'j':
			ctl.json = true;
			break;
		case 'd':
			ctl.pin_dir = optarg;
			break;
		case 'v':
			mxg_verbose = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	mxg_log_setup_libbpf();
	json_init(&ctl.out, stdout);
	json_set_pretty(&ctl.out, ctl.pretty);
	argc -= optind;
	argv += optind;
	if (!argc) {
		usage(stderr);
		return EXIT_USAGE;
	}
	cmd = lookup(&ctl, &argc, &argv);
	if (!cmd)
		return EXIT_USAGE;
	/* Room for every --class an argument list can hold. */
	args.classes = calloc(argc + 1, sizeof(*args.classes));
	if (!args.classes) {
		ctl_error(&ctl, "out of memory");
		return 1;
	}
	ret = check_args(&ctl, cmd, argc, argv, &args);
	if (ret)
		goto out;
	if (cmd->needs_maps) {
		ret = mxg_maps_open(ctl.pin_dir, &ctl.maps, err, sizeof(err));
		if (ret) {
			ctl_error(&ctl, "%s", err);
			ret = 1;
			goto out;
		}
	}
	ret = cmd->fn(&ctl, &args) ? 1 : 0;
	mxg_maps_close(&ctl.maps);
out:
	free(args.classes);
	return ret;
}
