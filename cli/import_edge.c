/* SPDX-License-Identifier: MIT */
/*
 * Per-source policy from HAProxy's tcp-request rules (import_edge.h):
 * `accept|reject if|unless { src CIDR... }` (or a named `acl NAME src`)
 * become the global allow/deny list in their order, which is HAProxy's
 * (the first rule that decides wins, as in gatehouse's lists);
 * `reject if { sc_conn_cur(0) gt N }` and `{ sc_conn_rate(0) gt N }` over
 * a `track-sc0 src` stick table become source-connections and
 * source-rate. Anything else is said, as before.
 */
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>
#include "cli/import_edge.h"

static void add(char ***v, size_t *n, const char *s)
{
	for (size_t i = 0; i < *n; i++)
		if (!strcmp((*v)[i], s))
			return;
	*v = hx_grow(*v, *n + 1, sizeof(**v));
	(*v)[(*n)++] = hx_strdup(s);
}

/* An HAProxy `src` value as gatehouse writes a prefix, host bits cleared
 * (HAProxy masks them; gatehouse refuses them as a likely typo). */
static bool cidr(const char *v, char *out, size_t size, bool *masked)
{
	char addr[INET6_ADDRSTRLEN + 1];
	const char *slash = strchr(v, '/');
	size_t alen = slash ? (size_t)(slash - v) : strlen(v);
	uint8_t b[16];
	int family, max;
	long len;
	char *end;

	if (alen == 0 || alen >= sizeof(addr))
		return false;
	memcpy(addr, v, alen);
	addr[alen] = '\0';
	family = strchr(addr, ':') ? AF_INET6 : AF_INET;
	max = family == AF_INET6 ? 128 : 32;
	if (inet_pton(family, addr, b) != 1)
		return false;
	len = max;
	if (slash) {
		len = strtol(slash + 1, &end, 10);
		if (!slash[1] || *end || len < 0 || len > max)
			return false;
	}
	*masked = false;
	for (int i = (int)len; i < max; i++) {
		*masked |= (b[i / 8] & (0x80u >> (i % 8))) != 0;
		b[i / 8] &= (uint8_t) ~(0x80u >> (i % 8));
	}
	if (!inet_ntop(family, b, addr, sizeof(addr)))
		return false;
	snprintf(out, size, "%s/%ld", addr, len);
	return true;
}

const char *hx_src_term(struct hx *x, const struct hx_line *l, size_t from, size_t to, char ***cidrs, size_t *n)
{
	size_t i = from + 1;

	if (from >= to || strcmp(l->argv[from], "src"))
		return "it does not test the client's address (src)";
	if (i < to && !strcmp(l->argv[i], "-f"))
		return "addresses from a file ('-f')";
	if (i < to && !strcmp(l->argv[i], "--"))
		i++;
	if (i == to)
		return "no address to match";
	for (; i < to; i++) {
		char c[INET6_ADDRSTRLEN + 8];
		bool masked;

		if (!cidr(l->argv[i], c, sizeof(c), &masked)) {
			hx_say(x, l->no, HX_ESSENTIAL, "'%s': '%s' is not an address or prefix", l->text, l->argv[i]);
			return "";	/* said */
		}
		if (masked)
			hx_say(x, l->no, HX_NOTE, "'%s': '%s' has host bits set; written as %s", l->text,
			       l->argv[i], c);
		add(cidrs, n, c);
	}
	return NULL;
}

/* One src condition from word `from` on: `{ src ... }`, `!{ src ... }`,
 * NAME or !NAME. NULL or why not (""); *neg when negated. */
static const char *src_cond(struct hx *x, const struct hx_proxy *p, const struct hx_line *l, size_t from,
			    char ***cidrs, size_t *n, bool *neg)
{
	const char *w = l->argv[from];

	*neg = w[0] == '!';
	if (*neg)
		w++;
	if (!strcmp(w, "{") || (!*w && from + 1 < l->argc && !strcmp(l->argv[from + 1], "{"))) {
		size_t open = *w ? from : from + 1, end = open + 1;

		while (end < l->argc && strcmp(l->argv[end], "}"))
			end++;
		if (end != l->argc - 1)
			return "only one { src ... } term";
		return hx_src_term(x, l, open + 1, end, cidrs, n);
	}
	if (from + 1 != l->argc)
		return "only one condition";
	for (size_t i = 0; i < p->n_acls; i++) {
		const struct hx_acl *a = &p->acls[i];

		if (strcmp(a->name, w))
			continue;
		if (a->src_why)
			return a->src_why;
		for (size_t c = 0; c < a->n_cidrs; c++)
			add(cidrs, n, a->cidrs[c]);
		return NULL;
	}
	return "an ACL not defined before this line in the frontend";
}

/* `{ FETCH gt|ge N }` on the tracked source: which limit, and N. */
static bool limit_cond(const struct hx_line *l, size_t from, bool *rate, unsigned *max)
{
	static const char *const cur[] = { "sc_conn_cur(0)", "sc0_conn_cur", "src_conn_cur" };
	static const char *const rt[] = { "sc_conn_rate(0)", "sc0_conn_rate", "src_conn_rate" };
	char *end;
	unsigned long v;
	bool found = false;

	if (l->argc != from + 5 || strcmp(l->argv[from], "{") || strcmp(l->argv[from + 4], "}"))
		return false;
	for (size_t i = 0; i < HX_ARRAY(cur); i++) {
		if (!strcmp(l->argv[from + 1], cur[i]) || !strcmp(l->argv[from + 1], rt[i])) {
			*rate = !strcmp(l->argv[from + 1], rt[i]);
			found = true;
		}
	}
	v = strtoul(l->argv[from + 3], &end, 10);
	if (!found || *end || v > 1000000)
		return false;
	/* "gt N": N at most; "ge N": N - 1 */
	if (!strcmp(l->argv[from + 2], "ge"))
		v = v ? v - 1 : 0;
	else if (strcmp(l->argv[from + 2], "gt"))
		return false;
	if (v == 0)
		return false;	/* no client at all: not a limit gatehouse writes */
	*max = (unsigned)v;
	return true;
}

bool hx_tcp_policy(struct hx *x, struct hx_proxy *p, const struct hx_line *l)
{
	bool accept, unless, neg = false, rate = false;
	struct hx_src_rule r = { .line = l->no };
	const char *why;
	unsigned max = 0;

	if (l->argc < 3 || (strcmp(l->argv[1], "connection") && strcmp(l->argv[1], "content")))
		return false;
	if (l->argc == 4 && !strcmp(l->argv[2], "track-sc0") && !strcmp(l->argv[3], "src")) {
		p->track_line = l->no;
		snprintf(p->track_text, sizeof(p->track_text), "%s", l->text);
		return true;
	}
	accept = !strcmp(l->argv[2], "accept");
	if ((!accept && strcmp(l->argv[2], "reject")) || l->argc < 5)
		return false;
	unless = !strcmp(l->argv[3], "unless");
	if (!unless && strcmp(l->argv[3], "if"))
		return false;
	if (!accept && !unless && limit_cond(l, 4, &rate, &max)) {
		if (rate) {
			p->conn_rate = max;
			p->conn_rate_line = l->no;
		} else {
			p->conn_cur = max;
			p->conn_cur_line = l->no;
		}
		return true;
	}
	/* a src condition, or not this module's line */
	if (strcmp(l->argv[4], "{") && strcmp(l->argv[4], "!{") && strcmp(l->argv[4], "!")) {
		bool is_src = false;
		const char *w = l->argv[4][0] == '!' ? l->argv[4] + 1 : l->argv[4];

		for (size_t i = 0; i < p->n_acls; i++)
			is_src |= !strcmp(p->acls[i].name, w) && (p->acls[i].n_cidrs || p->acls[i].src_why == NULL);
		if (!is_src)
			return false;
	} else if (!strcmp(l->argv[4], "{") || !strcmp(l->argv[4], "!{")) {
		if (l->argc < 6 || strcmp(l->argv[5], "src"))
			return false;
	}
	why = src_cond(x, p, l, 4, &r.cidrs, &r.n_cidrs, &neg);
	if (!why && accept && unless != neg) {
		/* accept unless SRC: every other client is accepted at once
		 * but SRC goes on to later rules; no first-match list says it */
		why = "'accept unless' (or 'accept if !'): write it as reject rules";
	}
	if (why) {
		if (*why)
			hx_say(x, l->no, HX_ESSENTIAL, "'%s': %s", l->text, why);
		for (size_t i = 0; i < r.n_cidrs; i++)
			free(r.cidrs[i]);
		free(r.cidrs);
		return true;
	}
	snprintf(r.text, sizeof(r.text), "%s", l->text);
	r.allow = accept || unless != neg;	/* reject unless SRC: SRC is allowed, then everyone else denied */
	p->src_rules = hx_grow(p->src_rules, p->n_src_rules + 2, sizeof(*p->src_rules));
	p->src_rules[p->n_src_rules++] = r;
	if (!accept) {
		if (r.allow) {
			struct hx_src_rule all = { .allow = false, .line = l->no };

			add(&all.cidrs, &all.n_cidrs, "all");
			snprintf(all.text, sizeof(all.text), "%s", l->text);
			p->src_rules[p->n_src_rules++] = all;
		}
	}
	return true;
}

void hx_stick_table(struct hx_proxy *p, const struct hx_line *l)
{
	p->table_line = l->no;
	snprintf(p->table_text, sizeof(p->table_text), "%s", l->text);
	for (size_t i = 1; i + 1 < l->argc; i++) {
		char *save = NULL, *list;

		if (strcmp(l->argv[i], "store"))
			continue;
		list = hx_strdup(l->argv[i + 1]);
		for (char *d = strtok_r(list, ",", &save); d; d = strtok_r(NULL, ",", &save)) {
			size_t n = strlen(d);
			uint64_t ms;
			char *period;

			if (strncmp(d, "conn_rate(", 10) || d[n - 1] != ')')
				continue;
			d[n - 1] = '\0';
			period = d + 10;
			if (hx_duration(period, &ms) && ms > 0)
				p->rate_period_ms = ms;
		}
		free(list);
	}
}

static bool rules_equal(const struct hx_proxy *a, const struct hx_proxy *b)
{
	if (a->n_src_rules != b->n_src_rules || a->conn_cur != b->conn_cur || a->conn_rate != b->conn_rate ||
	    a->rate_period_ms != b->rate_period_ms)
		return false;
	for (size_t i = 0; i < a->n_src_rules; i++) {
		const struct hx_src_rule *ra = &a->src_rules[i], *rb = &b->src_rules[i];

		if (ra->allow != rb->allow || ra->n_cidrs != rb->n_cidrs)
			return false;
		for (size_t c = 0; c < ra->n_cidrs; c++)
			if (strcmp(ra->cidrs[c], rb->cidrs[c]))
				return false;
	}
	return true;
}

/* The limits of p, checked; false when its stick table cannot carry them. */
static bool limits_ok(struct hx *x, const struct hx_proxy *p)
{
	if (!p->conn_cur_line && !p->conn_rate_line)
		return true;
	if (!p->track_line || !p->table_line) {
		hx_say(x, p->conn_cur_line ? p->conn_cur_line : p->conn_rate_line, HX_ESSENTIAL,
		       "per-source limits need 'tcp-request connection track-sc0 src' and the frontend's own stick-table");
		return false;
	}
	if (p->conn_rate_line && !p->rate_period_ms) {
		hx_say(x, p->conn_rate_line, HX_ESSENTIAL, "the stick-table at line %u stores no conn_rate(PERIOD)",
		       p->table_line);
		return false;
	}
	return true;
}

void hx_write_edge(struct hx *x, FILE *o)
{
	const struct hx_proxy *first = NULL;
	bool any = false;

	/* limits a frontend cannot carry are said and dropped; its lists stay */
	for (int k = 0; k < GH_KIND_TCP_COUNT; k++) {
		for (size_t i = 0; i < x->kinds[k].n_fe; i++) {
			struct hx_proxy *p = x->kinds[k].fe[i];

			if (!limits_ok(x, p)) {
				p->conn_cur_line = p->conn_rate_line = 0;
				p->conn_cur = p->conn_rate = 0;
				p->limits_said = true;
			}
		}
	}

	for (int k = 0; k < GH_KIND_TCP_COUNT; k++) {
		for (size_t i = 0; i < x->kinds[k].n_fe; i++) {
			const struct hx_proxy *p = x->kinds[k].fe[i];
			bool has = p->n_src_rules || p->conn_cur_line || p->conn_rate_line;

			/* a table or tracking nothing uses: no stick tables */
			if (p->table_line && !p->conn_cur_line && !p->conn_rate_line && !p->limits_said)
				hx_say(x, p->table_line, HX_MINOR, "'%s': no stick tables (not essential: converted without it)",
				       p->table_text);
			if (p->track_line && !p->conn_cur_line && !p->conn_rate_line && !p->limits_said)
				hx_say(x, p->track_line, HX_MINOR, "'%s': tracking for nothing gatehouse translates",
				       p->track_text);
			if (!has)
				continue;
			if (!first) {
				first = p;
			} else if (!rules_equal(first, p)) {
				hx_say(x, p->line, HX_ESSENTIAL,
				       "frontend '%s' has other access rules or limits than frontend '%s': gatehouse has one global list and one set of limits; '%s' taken",
				       p->name, first->name, first->name);
				continue;
			} else {
				continue;
			}
			any = true;
		}
	}
	if (!any)
		return;
	fprintf(o, "# who may connect, and how much (tcp-request rules of frontend %s)\n", first->name);
	for (size_t i = 0; i < first->n_src_rules; i++) {
		const struct hx_src_rule *r = &first->src_rules[i];
		char line[512];
		size_t n = (size_t)snprintf(line, sizeof(line), "%s", r->allow ? "allow" : "deny");

		for (size_t c = 0; c < r->n_cidrs && n < sizeof(line); c++)
			n += (size_t)snprintf(line + n, sizeof(line) - n, " %s", r->cidrs[c]);
		fprintf(o, "%-27s # %s:%u %s\n", line, x->file, r->line, r->text);
	}
	if (first->conn_cur_line)
		fprintf(o, "source-connections %-8u # %s:%u (per source address; IPv6 by /64)\n", first->conn_cur, x->file,
			first->conn_cur_line);
	if (first->conn_rate_line) {
		char d[32], w[64];

		snprintf(w, sizeof(w), "%u/%s", first->conn_rate, hx_fmt_ms(first->rate_period_ms, d, sizeof(d)));
		fprintf(o, "source-rate %-15s # %s:%u with %s:%u's conn_rate period\n", w, x->file,
			first->conn_rate_line, x->file, first->table_line);
		hx_say(x, first->conn_rate_line, HX_NOTE,
		       "HAProxy counts over a sliding period; gatehouse's source-rate is a token bucket (%u at once, then one each period/%u)",
		       first->conn_rate, first->conn_rate);
	}
	if (first->n_src_rules || first->conn_cur_line || first->conn_rate_line) {
		bool one_kind = !x->kinds[GH_KIND_HTTP].n_fe || !x->kinds[GH_KIND_TLS].n_fe;
		bool both_have = true;

		for (int k = 0; k < GH_KIND_TCP_COUNT; k++)
			for (size_t i = 0; i < x->kinds[k].n_fe; i++)
				both_have &= x->kinds[k].fe[i]->n_src_rules || x->kinds[k].fe[i]->conn_cur_line ||
					     x->kinds[k].fe[i]->conn_rate_line;
		if (!one_kind && !both_have)
			hx_say(x, first->line, HX_NOTE,
			       "frontend '%s''s access rules and limits apply to every listen in gatehouse, port 80 and 443 alike",
			       first->name);
	}
	fputc('\n', o);
}
