/* SPDX-License-Identifier: MIT */
/*
 * Routing by ACL (import_read.h): `acl NAME req_ssl_sni -i a.example ...`
 * and `use_backend BACKEND if NAME || { hdr(host) -i b.example }` become
 * the names a backend is reached by. Only conditions that list host names
 * translate: an ACL on anything else (addresses, paths, suffixes, files),
 * negation or 'and' is reported and the rule left out, since gatehouse
 * routes by the name alone.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "cli/import_read.h"

/* The fetch of a name-routing rule, for a frontend of the given mode. */
bool hx_fetch_ok(const char *f, size_t n, bool tcp)
{
	if (tcp)
		return (n == 11 && !strncmp(f, "req_ssl_sni", n)) ||
		       (n == 11 && !strncmp(f, "req.ssl_sni", n));
	/* req.hdr(host), hdr(host), req.fhdr(Host,1)... */
	if (n > 4 && !strncmp(f, "req.", 4)) {
		f += 4;
		n -= 4;
	}
	if (n > 4 && !strncmp(f, "hdr(", 4)) {
		f += 4;
		n -= 4;
	} else if (n > 5 && !strncmp(f, "fhdr(", 5)) {
		f += 5;
		n -= 5;
	} else {
		return false;
	}
	if (n < 5 || f[n - 1] != ')' || strncasecmp(f, "host", 4) != 0)
		return false;
	if (n == 5)
		return true;
	/* an occurrence: gatehouse refuses two different Hosts with 400 */
	return f[4] == ',' && strspn(f + 5, "-0123456789") == n - 6;
}

static void add_host(char ***hosts, size_t *n, const char *h)
{
	for (size_t i = 0; i < *n; i++)
		if (!strcmp((*hosts)[i], h))
			return;
	*hosts = hx_grow(*hosts, *n + 1, sizeof(**hosts));
	(*hosts)[(*n)++] = hx_strdup(h);
}

/* One ACL term, words [from, to): FETCH [-i] [-m str] [--] VALUE...; its
 * names into *hosts. NULL, or why it names no hosts gatehouse routes by
 * (static text). Values that are not plain host names are said and left
 * out; the others still route. */
static const char *term(struct hx *x, const struct hx_proxy *p, const struct hx_line *l, size_t from,
			size_t to, char ***hosts, size_t *n)
{
	const char *fetch = l->argv[from];
	bool nocase = false;
	size_t i = from + 1;

	if (!hx_fetch_ok(fetch, strlen(fetch), p->tcp))
		return p->tcp ? "it does not test the TLS SNI (req_ssl_sni)" : "it does not test the Host (hdr(host))";
	for (; i < to && l->argv[i][0] == '-'; i++) {
		const char *f = l->argv[i];

		if (!strcmp(f, "--")) {
			i++;
			break;
		}
		if (!strcmp(f, "-i")) {
			nocase = true;
		} else if (!strcmp(f, "-m") && i + 1 < to) {
			if (strcmp(l->argv[++i], "str"))
				return "only whole names match ('-m str'): gatehouse has no suffix, prefix or regex matches";
		} else if (!strcmp(f, "-f")) {
			return "patterns from a file ('-f')";
		} else {
			return "an ACL flag other than -i and -m str";
		}
	}
	if (i == to)
		return "no value to match";
	for (; i < to; i++) {
		char lower[HOSTNAME_MAX + 1], norm[HOSTNAME_MAX + 1];
		const char *v = l->argv[i];
		size_t len = strlen(v), nlen;
		bool upper = false;

		if (len > HOSTNAME_MAX) {
			hx_say(x, l->no, HX_MINOR, "'%s': '%.40s...' is too long for a host name; left out", l->text, v);
			continue;
		}
		for (size_t c = 0; c <= len; c++) {
			upper |= v[c] >= 'A' && v[c] <= 'Z';
			lower[c] = v[c] >= 'A' && v[c] <= 'Z' ? (char)(v[c] - 'A' + 'a') : v[c];
		}
		if (upper && !nocase) {
			/* HAProxy compared case-sensitively; clients send lower case */
			hx_say(x, l->no, HX_NOTE,
			       "'%s': '%s' without -i never matched a lower-case name in HAProxy; gatehouse compares names without case",
			       l->text, v);
		}
		if (hostname_normalize_pattern((const uint8_t *)lower, len, norm, &nlen) != HOSTNAME_OK ||
		    strcmp(norm, lower) || lower[0] == '*') {
			hx_say(x, l->no, HX_MINOR, "'%s': '%s' is not a host name gatehouse routes; left out", l->text,
			       v);
			continue;
		}
		add_host(hosts, n, norm);
	}
	return NULL;
}

void hx_acl(struct hx *x, struct hx_proxy *p, const struct hx_line *l)
{
	struct hx_acl *a = NULL;
	const char *why;

	if (l->argc < 3) {
		hx_say(x, l->no, HX_MINOR, "'%s': an acl without a fetch", l->text);
		return;
	}
	for (size_t i = 0; i < p->n_acls && !a; i++)
		if (!strcmp(p->acls[i].name, l->argv[1]))
			a = &p->acls[i];
	if (!a) {
		p->acls = hx_grow(p->acls, p->n_acls + 1, sizeof(*p->acls));
		a = &p->acls[p->n_acls++];
		memset(a, 0, sizeof(*a));
		a->name = hx_strdup(l->argv[1]);
		a->line = l->no;
	}
	/* said where the ACL is used, if it is: an unused one costs nothing */
	why = term(x, p, l, 2, l->argc, &a->hosts, &a->n_hosts);
	if (why && !a->why)
		a->why = why;
}

static const struct hx_acl *find(const struct hx_proxy *p, const char *name)
{
	for (size_t i = 0; i < p->n_acls; i++)
		if (!strcmp(p->acls[i].name, name))
			return &p->acls[i];
	return NULL;
}

bool hx_cond_hosts(struct hx *x, struct hx_proxy *p, const struct hx_line *l, size_t from, struct hx_rule *r)
{
	bool want_term = true;
	const char *why = NULL;

	for (size_t i = from; i < l->argc && !why; i++) {
		const char *w = l->argv[i];

		if (!strcmp(w, "||") || !strcmp(w, "or")) {
			if (want_term)
				why = "'or' without a term before it";
			want_term = true;
			continue;
		}
		if (!want_term) {
			why = "conditions joined by 'and': gatehouse routes by the name alone";
			break;
		}
		want_term = false;
		if (w[0] == '!') {
			why = "a negated condition";
		} else if (!strcmp(w, "{")) {
			size_t end = i + 1;

			while (end < l->argc && strcmp(l->argv[end], "}"))
				end++;
			if (end == l->argc || end == i + 1)
				why = "an unclosed or empty { } condition";
			else
				why = term(x, p, l, i + 1, end, &r->hosts, &r->n_hosts);
			i = end;
		} else {
			const struct hx_acl *a = find(p, w);

			if (!a) {
				why = "an ACL not defined before this line in the frontend";
			} else if (a->why) {
				hx_say(x, l->no, HX_ESSENTIAL, "'%s': acl '%s' (line %u) names no hosts: %s", l->text,
				       a->name, a->line, a->why);
				why = "";	/* said */
			} else {
				for (size_t h = 0; h < a->n_hosts; h++)
					add_host(&r->hosts, &r->n_hosts, a->hosts[h]);
			}
		}
	}
	if (!why && want_term)
		why = "a condition that ends in 'or'";
	if (!why && r->n_hosts == 0)
		why = "no host name gatehouse can route by";
	if (why) {
		if (*why)
			hx_say(x, l->no, HX_ESSENTIAL, "'%s': %s", l->text, why);
		for (size_t h = 0; h < r->n_hosts; h++)
			free(r->hosts[h]);
		free(r->hosts);
		r->hosts = NULL;
		r->n_hosts = 0;
		return false;
	}
	return true;
}
