/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * mxguardctl rcpt: one address looked up in the recipient mirror as the
 * SMTP reader and the MTA lookups see it, and the mirror's state.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include "ctl/ctl.h"
#include "names.h"
#include "rcpt.h"
#include "recipients.h"

/* ---- check ---- */

static void answer_print_json(struct ctl *ctl, const struct mxg_rcpt_answer *ans)
{
	struct json *j = &ctl->out;

	json_begin_object(j);
	json_kv_string(j, "address", ans->normalized);
	json_kv_bool(j, "known", ans->known);
	json_kv_bool(j, "local_domain", ans->local_domain);
	json_kv_bool(j, "mirror_ready", ans->ready);
	json_end_object(j);
	json_finish(j);
}

static void answer_print_text(struct ctl *ctl, const struct mxg_rcpt_answer *ans)
{
	printf("%s: %s%s%s\n", ans->normalized,
	       ans->known ? "known" : ans->local_domain ? "unknown" : "not a local domain",
	       ans->known && !ans->local_domain ? " (but not in a local domain)" : "",
	       ans->ready ? "" : " (mirror not ready: nobody is judged by it)");
}

int ctl_check_address(struct ctl *ctl, const struct ctl_args *a, int i)
{
	/* Without the mirror's delimiters: cutting a +detail only shortens
	 * the local part, so what fails here fails with any delimiter. */
	static const char no_delims[MXG_DELIM_MAX];
	char out[MXG_RCPT_BUF];
	uint32_t at;
	int len;

	len = mxg_rcpt_normalize(a->argv[i], strlen(a->argv[i]), out,
				 no_delims, &at);
	if (len >= 0)
		return 0;
	ctl_error(ctl, "rcpt check: '%s' is not an address the mirror can hold: %s",
		  a->argv[i], mxg_rcpt_strerror(len));
	return -EINVAL;
}

int ctl_rcpt_check(struct ctl *ctl, const struct ctl_args *a)
{
	struct mxg_rcpt_answer ans;
	const char *why = "";
	int ret;

	/* ctl_check_address() refused what is no address at all; what is
	 * left is a local part empty once the mirror's delimiter cuts it. */
	ret = mxg_rcpt_check(&(struct mxg_rcpt_reader){ .maps = &ctl->maps,
							 .pin_dir = ctl->pin_dir },
			     a->argv[0], &ans, &why);
	if (ret == -EINVAL) {
		ctl_error(ctl, "rcpt check: '%s' is not an address the mirror can hold: %s",
			  a->argv[0], why);
		return ret;
	}
	if (ret) {
		ctl_error(ctl, "rcpt check: cannot read the recipient mirror: %s", strerror(-ret));
		return ret;
	}
	(ctl->json ? answer_print_json : answer_print_text)(ctl, &ans);
	return 0;
}

/* ---- stats ---- */

static uint64_t age_s(const struct mxg_mirror *rec, uint64_t now)
{
	return (now > rec->synced_ns ? now - rec->synced_ns : 0) / NSEC_PER_SEC;
}

void ctl_mirror_json(struct json *j, const struct mxg_mirror *rec, uint64_t now)
{
	json_kv_string(j, "mode", mxg_name_of(&mxg_sync_modes, rec->mode));
	json_kv_bool(j, "ready", mxg_mirror_ready(rec, now));
	json_kv_bool(j, "connected", rec->connected);
	json_kv_u64(j, "entries", rec->entries);
	json_kv_u64(j, "generation", rec->generation);
	json_key(j, "age_s");
	if (rec->synced_ns)
		json_u64(j, age_s(rec, now));
	else
		json_null(j);
	json_kv_u64(j, "max_age_s", rec->max_age_ns / NSEC_PER_SEC);
	json_kv_u64(j, "skipped", rec->skipped);
}

struct mirror_state {
	struct mxg_mirror rec;
	uint64_t now;
	int domains;
};

static void mirror_print_json(struct ctl *ctl, const struct mirror_state *s)
{
	struct json *j = &ctl->out;

	json_begin_object(j);
	ctl_mirror_json(j, &s->rec, s->now);
	json_kv_u64(j, "domains", s->domains < 0 ? 0 : s->domains);
	json_end_object(j);
	json_finish(j);
}

static void mirror_print_text(struct ctl *ctl, const struct mirror_state *s)
{
	const struct mxg_mirror *rec = &s->rec;

	printf("mode        %s\n", mxg_name_of(&mxg_sync_modes, rec->mode));
	printf("ready       %s\n", mxg_mirror_ready(rec, s->now) ? "yes" :
			"no (nobody is judged by it)");
	printf("connected   %s\n", rec->connected ? "yes" : "no");
	printf("entries     %llu\n", (unsigned long long)rec->entries);
	printf("generation  %llu\n", (unsigned long long)rec->generation);
	if (rec->synced_ns)
		printf("synced      %llu s ago (not ready past %llu s)\n",
		       (unsigned long long)age_s(rec, s->now),
		       (unsigned long long)(rec->max_age_ns / NSEC_PER_SEC));
	else
		printf("synced      never\n");
	printf("skipped     %llu directory values that are not addresses\n",
	       (unsigned long long)rec->skipped);
	printf("domains     %d local\n", s->domains);
}

int ctl_rcpt_stats(struct ctl *ctl, const struct ctl_args *a)
{
	struct mirror_state s = { .now = mxg_now_ns() };
	int ret;

	ret = mxg_mirror_read(&ctl->maps, &s.rec);
	if (ret) {
		ctl_error(ctl, "rcpt stats: cannot read %s: %s", MXG_MAP_NAME(mirror), strerror(-ret));
		return ret;
	}
	s.domains = ctl_count_entries(ctl->maps.rcpt_domains, sizeof(uint64_t));
	(ctl->json ? mirror_print_json : mirror_print_text)(ctl, &s);
	return 0;
}
