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
 * checked here before any map is opened: anything wrong with the command
 * line (an option, a count, a value of a type checkable without the maps)
 * exits 2 whether or not anything is pinned; what goes wrong after (the
 * pin directory, a map, a class that does not exist) exits 1. Either way
 * stderr gets one line naming the object and the cause and, with -j,
 * stdout gets exactly one JSON document, {"error": ...} on an error. The
 * verbs live in one file per object under user/ctl/, each with a text and
 * a JSON printer.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <linux/magic.h>
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
	ARG_ADDRESS,	/* something that can be a mail address */
	ARG_OBJECT,	/* an object of the table (help) */
};

static ctl_check_fn check_object;

static ctl_check_fn *const arg_check[] = {
	[ARG_CIDR] = ctl_check_cidr,
	[ARG_LIMIT] = ctl_check_limit,
	[ARG_ADDRESS] = ctl_check_address,
	[ARG_OBJECT] = check_object,
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
	const char *value;	/* what its value is, as help -j shows it */
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
	{ "number", 'n', "-n", OPT_NUMBER, "N" },
	{ "by", 'b', "--by", OPT_BY, "rate|conns|unknown" },
	{}
};

static const struct verb_opt ban_add_opts[] = {
	{ "ttl", 't', "--ttl", OPT_TTL, "DURATION" },
	{ "class", 'c', "--class", OPT_CLASS, "CLASS" },
	{}
};

static const struct verb_opt metrics_opts[] = {
	{ "output", 'o', "--output", OPT_OUTPUT, "FILE" },
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
	{ "status", NULL, ctl_status, "", "where it is attached, classes, sources, rules, mirror, fleet",
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
	{ "ban", "list", ctl_ban_list, "", "bans in force: origin, time left, fleet peer, published",
	  .needs_maps = true },
	{ "rcpt", "check", ctl_rcpt_check, "ADDRESS", "is it a valid recipient, per the mirror",
	  .min = 1, .max = 1, .first = ARG_ADDRESS, .needs_maps = true },
	{ "rcpt", "stats", ctl_rcpt_stats, "", "the recipient mirror: entries, age, sync mode",
	  .needs_maps = true },
	{ "metrics", NULL, ctl_metrics, "[--output FILE]", "the counters in the Prometheus text format (FILE: written atomically, for node_exporter's textfile collector)",
	  .opts = metrics_opts, .needs_maps = true, .text_only = true },
	{ "unload", NULL, ctl_unload, "", "detach everything and remove the pins",
	  .needs_maps = true },
	{ "help", NULL, cmd_help, "[OBJECT]", "this help, or one object's commands (with -j: the table as JSON)",
	  .max = 1, .first = ARG_OBJECT },
};
#define NCOMMANDS (sizeof(commands) / sizeof(commands[0]))

/* mxguardctl's own options, before the object: getopt_long()'s table
 * and the help come from this one. */
static const struct global_opt {
	const char *name;
	char short_name;	/* 0: none */
	const char *value;	/* NULL: takes none */
	const char *help;
} global_opts[] = {
	{ "json", 'j', NULL, "JSON output: one document per run, errors included" },
	{ "pretty", 'p', NULL, "JSON output, indented (implies -j)" },
	{ "pin-dir", 0, "DIR", "where mxguardd pinned its maps (default " MXG_DEFAULT_PIN_DIR ")" },
	{ "verbose", 'v', NULL, "also show libbpf's log" },
	{ "help", 'h', NULL, "this help (as help)" },
};
#define NGLOBAL_OPTS (sizeof(global_opts) / sizeof(global_opts[0]))

#define SYNOPSIS "mxguardctl [-j] [-p] [-v] [--pin-dir DIR] OBJECT [COMMAND] [ARGS]"

static void print_help_text(const char *object)
{
	printf("usage: " SYNOPSIS "\n");
	for (size_t i = 0; i < NGLOBAL_OPTS; i++) {
		const struct global_opt *o = &global_opts[i];
		char left[32];

		snprintf(left, sizeof(left), "--%s%s%s", o->name,
			 o->value ? " " : "", o->value ? o->value : "");
		if (o->short_name)
			printf("  -%c, %-16s %s\n", o->short_name, left, o->help);
		else
			printf("      %-16s %s\n", left, o->help);
	}
	printf("\n");
	/* One line per command, its help on the next: the docs test reads
	 * the command lines (lower-case words are object and verb, the
	 * arguments are upper-case or bracketed). */
	for (size_t i = 0; i < NCOMMANDS; i++) {
		if (object && strcmp(object, commands[i].object))
			continue;
		printf("  %s%s%s%s%s\n", commands[i].object,
		       commands[i].verb ? " " : "",
		       commands[i].verb ? commands[i].verb : "",
		       commands[i].args[0] ? " " : "", commands[i].args);
		if (commands[i].help[0])
			printf("      %s\n", commands[i].help);
	}
}

/* The table as JSON, for scripts and the tests: {"usage", "options",
 * "objects", "commands": [{"object", "verb", "args", "help",
 * "min_args", "max_args" (null: any number), "json" (false: -j is a
 * usage error), "options"}]}. */
static void print_help_json(struct json *j, const char *object)
{
	json_begin_object(j);
	json_kv_string(j, "usage", SYNOPSIS);
	json_key(j, "options");
	json_begin_array(j);
	for (size_t i = 0; i < NGLOBAL_OPTS; i++) {
		const struct global_opt *o = &global_opts[i];
		char name[32], short_name[3] = { '-', o->short_name, 0 };

		snprintf(name, sizeof(name), "--%s", o->name);
		json_begin_object(j);
		json_kv_string(j, "name", name);
		json_kv_string(j, "short", o->short_name ? short_name : NULL);
		json_kv_string(j, "value", o->value);
		json_kv_string(j, "help", o->help);
		json_end_object(j);
	}
	json_end_array(j);
	json_key(j, "objects");
	json_begin_array(j);
	for (size_t i = 0; i < NCOMMANDS; i++)
		if ((!i || strcmp(commands[i - 1].object, commands[i].object)) &&
		    (!object || !strcmp(object, commands[i].object)))
			json_string(j, commands[i].object);
	json_end_array(j);
	json_key(j, "commands");
	json_begin_array(j);
	for (size_t i = 0; i < NCOMMANDS; i++) {
		const struct command *c = &commands[i];

		if (object && strcmp(object, c->object))
			continue;
		json_begin_object(j);
		json_kv_string(j, "object", c->object);
		json_kv_string(j, "verb", c->verb);
		json_kv_string(j, "args", c->args);
		json_kv_string(j, "help", c->help);
		json_kv_u64(j, "min_args", c->min);
		json_key(j, "max_args");
		if (c->max == ARGS_MANY)
			json_null(j);
		else
			json_u64(j, c->max);
		json_kv_bool(j, "json", !c->text_only);
		json_key(j, "options");
		json_begin_array(j);
		for (const struct verb_opt *o = c->opts; o && o->name; o++) {
			char name[32], short_name[3] = { '-', o->short_name, 0 };

			snprintf(name, sizeof(name), "--%s", o->name);
			json_begin_object(j);
			json_kv_string(j, "name", name);
			json_kv_string(j, "short", short_name);
			json_kv_string(j, "value", o->value);
			json_end_object(j);
		}
		json_end_array(j);
		json_end_object(j);
	}
	json_end_array(j);
	json_end_object(j);
	json_finish(j);
}

static void print_help(struct ctl *ctl, const char *object)
{
	if (ctl->json)
		print_help_json(&ctl->out, object);
	else
		print_help_text(object);
}

static int cmd_help(struct ctl *ctl, const struct ctl_args *a)
{
	print_help(ctl, a->argc ? a->argv[0] : NULL);
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

/* help's argument: an object, or an unambiguous prefix of one (which
 * becomes its name). */
static int check_object(struct ctl *ctl, const struct ctl_args *a, int i)
{
	const char *names[NCOMMANDS];
	int k;

	for (size_t n = 0; n < NCOMMANDS; n++)
		names[n] = commands[n].object;
	k = match(a->argv[i], names, NCOMMANDS);
	if (k < 0) {
		ctl_error(ctl, "help: %s object '%s' (try mxguardctl help)",
			  k == -2 ? "ambiguous" : "unknown", a->argv[i]);
		return -EINVAL;
	}
	a->argv[i] = (char *)commands[k].object;
	return 0;
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
	/* ':' first: a missing value is told apart from an unknown option. */
	char optstring[2 * VERB_OPTS_MAX + 2] = ":";
	size_t n = 0;
	int opt;

	for (const struct verb_opt *o = cmd->opts; o->name; o++) {
		if (n == VERB_OPTS_MAX) {
			ctl_error(ctl, "%s: more options in the table than room for them",
				  name);
			return EXIT_USAGE;
		}
		longopts[n] = (struct option){ o->name, required_argument, NULL,
					       o->short_name };
		optstring[2 * n + 1] = o->short_name;
		optstring[2 * n + 2] = ':';
		n++;
	}
	/* getopt_long() sees the verb as argv[0]; optind 0 starts it
	 * afresh. Its own messages are off (opterr): ours are one line. */
	optind = 0;
	opterr = 0;
	while ((opt = getopt_long(argc + 1, argv - 1, optstring, longopts,
				  NULL)) != -1) {
		const struct verb_opt *o = cmd->opts;

		if (opt == '?' || opt == ':') {
			char bad[64];

			/* A missing value: the option as written (optopt
			 * of --ttl is 't'). */
			if (opt == '?' && optopt)
				snprintf(bad, sizeof(bad), "-%c", optopt);
			else
				snprintf(bad, sizeof(bad), "%s", argv[optind - 2]);
			ctl_error(ctl, "%s: %s '%s' (usage: %s %s)", name,
				  opt == ':' ? "no value for option" : "unknown option",
				  bad, name, cmd->args);
			return EXIT_USAGE;
		}
		while (o->name && o->short_name != opt)
			o++;
		if (!o->name || take_option(ctl, name, o, optarg, a))
			return EXIT_USAGE;
	}
	/* getopt_long() moved the options before the others. */
	a->argc = argc + 1 - optind;
	a->argv = argv - 1 + optind;
	return 0;
}

/*
 * The verb's arguments as the table declares them: options, then the
 * count of the others, then each value a type can check. Returns 0, or
 * EXIT_USAGE with the message said: a wrong option, count or value are
 * all usage errors, found without the maps.
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
			return EXIT_USAGE;
	}
	return 0;
}

/*
 * Whether pin_dir can hold mxguardd's pins: a directory on a bpf
 * filesystem. Says why not (one line) and returns -errno; the maps are
 * only opened after. A missing directory is the common case of nothing
 * pinned.
 */
static int check_pin_dir(struct ctl *ctl)
{
	struct statfs fs;
	struct stat st;

	if (stat(ctl->pin_dir, &st)) {
		int err = -errno;

		if (err == -ENOENT)
			ctl_error(ctl, "nothing pinned under %s: no such directory (is mxguardd running? see --pin-dir)",
				  ctl->pin_dir);
		else
			ctl_error(ctl, "pin dir %s: %s", ctl->pin_dir, strerror(-err));
		return err;
	}
	if (!S_ISDIR(st.st_mode)) {
		ctl_error(ctl, "pin dir %s: not a directory (see --pin-dir)", ctl->pin_dir);
		return -ENOTDIR;
	}
	if (statfs(ctl->pin_dir, &fs)) {
		int err = -errno;

		ctl_error(ctl, "pin dir %s: %s", ctl->pin_dir, strerror(-err));
		return err;
	}
	if (fs.f_type != BPF_FS_MAGIC) {
		ctl_error(ctl, "pin dir %s: not on a bpf filesystem, so nothing can be pinned there (see --pin-dir)",
			  ctl->pin_dir);
		return -EINVAL;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct option opts[NGLOBAL_OPTS + 1] = {};
	struct ctl ctl = { .pin_dir = MXG_DEFAULT_PIN_DIR,
			   .maps = MXG_MAPS_INIT };
	struct ctl_args args = { .number = TOP_DEFAULT, .by = TOP_RATE };
	/* '+': stop at the object, so that command options stay theirs;
	 * ':': a missing value told apart from an unknown option. */
	char optstring[2 * NGLOBAL_OPTS + 3] = "+:", bad[128] = "";
	const struct command *cmd;
	bool help = false;
	char err[512];
	int opt, ret;
	size_t n = 2;

	mxg_prog_name = "mxguardctl";
	for (size_t i = 0; i < NGLOBAL_OPTS; i++) {
		const struct global_opt *o = &global_opts[i];

		opts[i] = (struct option){ o->name, o->value ? required_argument :
							     no_argument,
					   NULL, o->short_name ? o->short_name :
								 'A' + (int)i };
		if (o->short_name)
			optstring[n++] = o->short_name;
	}
	/* Every option is read before a bad one is told, so that -j given
	 * after it still makes the error a JSON document. */
	opterr = 0;
	while ((opt = getopt_long(argc, argv, optstring, opts, NULL)) != -1) {
		switch (opt) {
		case 'p':	/* -j, indented, as in bpftool */
			ctl.pretty = true;
			ctl.json = true;
			break;
		case 'j':
			ctl.json = true;
			break;
		case 'A' + 2:	/* --pin-dir */
			ctl.pin_dir = optarg;
			break;
		case 'v':
			mxg_verbose = true;
			break;
		case 'h':
			help = true;
			break;
		case ':':
			if (!bad[0])
				snprintf(bad, sizeof(bad), "no value for option '%s'",
					 argv[optind - 1]);
			break;
		default:
			if (bad[0])
				break;
			if (optopt)
				snprintf(bad, sizeof(bad), "unknown option '-%c'", optopt);
			else
				snprintf(bad, sizeof(bad), "unknown option '%s'",
					 argv[optind - 1]);
			break;
		}
	}
	mxg_log_setup_libbpf();
	json_init(&ctl.out, stdout);
	json_set_pretty(&ctl.out, ctl.pretty);
	if (bad[0]) {
		ctl_error(&ctl, "%s (try mxguardctl help)", bad);
		return EXIT_USAGE;
	}
	if (help) {
		print_help(&ctl, NULL);
		return 0;
	}
	argc -= optind;
	argv += optind;
	if (!argc) {
		ctl_error(&ctl, "no object given (try mxguardctl help)");
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
		ret = check_pin_dir(&ctl);
		if (ret) {
			ret = 1;
			goto out;
		}
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
