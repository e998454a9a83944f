/* SPDX-License-Identifier: MIT */
/*
 * The resolver (import_resolve.h): frontends become the two kinds (mode
 * http -> http, mode tcp -> tls); a backend reached by a frontend's
 * `use_backend PREFIX%[name fetch,converters]SUFFIX` rule becomes the site
 * named by the middle of its name, so NAME_http and NAME_tls join in one
 * `site NAME`; a default backend reached by no name gets a site named
 * under .invalid.
 */
#include <stdlib.h>
#include <string.h>
#include "cli/import_resolve.h"

static bool hx_str_eq(const char *a, const char *b)
{
	return (!a && !b) || (a && b && !strcmp(a, b));
}

static bool hx_rules_equal(const struct hx_proxy *a, const struct hx_proxy *b)
{
	if (a->n_rules != b->n_rules)
		return false;
	for (size_t i = 0; i < a->n_rules; i++) {
		const struct hx_rule *ra = &a->rules[i], *rb = &b->rules[i];

		if (!hx_str_eq(ra->prefix, rb->prefix) || !hx_str_eq(ra->suffix, rb->suffix) ||
		    !hx_str_eq(ra->backend, rb->backend) || ra->n_hosts != rb->n_hosts)
			return false;
		for (size_t h = 0; h < ra->n_hosts; h++)
			if (strcmp(ra->hosts[h], rb->hosts[h]))
				return false;
	}
	return true;
}


static void hx_kinds(struct hx *x)
{
	for (size_t i = 0; i < x->n_px; i++) {
		struct hx_proxy *p = x->px[i];
		enum gh_kind k = p->tcp ? GH_KIND_TLS : GH_KIND_HTTP;
		struct hx_kind *kd = &x->kinds[k];
		bool only443 = p->n_binds > 0;

		if (!p->fe || p->disabled || p->skip)
			continue;
		if (p->n_binds == 0) {
			hx_say(x, p->line, HX_NOTE, "frontend '%s' binds no address; left out", p->name);
			continue;
		}
		for (size_t b = 0; b < p->n_binds; b++)
			only443 &= p->binds[b].a.port == 443;
		if (p->tcp && p->n_rules == 0 && !p->hello_rule && !only443) {
			hx_say(x, p->line, HX_ESSENTIAL,
			       "mode tcp frontend '%s' neither routes by SNI nor waits for a ClientHello: gatehouse passes only TLS; left out",
			       p->name);
			continue;
		}
		if (kd->n_fe) {
			const struct hx_proxy *first = kd->fe[0];

			if (!hx_rules_equal(first, p) || !hx_str_eq(hx_fallback(first), hx_fallback(p)) ||
			    (first->redirect_line != 0) != (p->redirect_line != 0)) {
				hx_say(x, p->line, HX_ESSENTIAL,
				       "frontend '%s' routes differently from frontend '%s' (line %u): gatehouse has one route table for all %s listeners; left out",
				       p->name, first->name, first->line, gh_kind_str(k));
				continue;
			}
		}
		kd->fe = hx_grow(kd->fe, kd->n_fe + 1, sizeof(*kd->fe));
		kd->fe[kd->n_fe++] = p;
		for (size_t b = 0; b < p->n_binds; b++) {
			unsigned port = p->binds[b].a.port;

			kd->port = kd->port == 0 || kd->port == port ? port : UINT32_MAX;
		}
	}
}

static struct hx_site *hx_site_get(struct hx *x, const char *name, bool synthetic)
{
	for (size_t i = 0; i < x->n_sites; i++)
		if (!strcmp(x->sites[i].name, name))
			return &x->sites[i];
	x->sites = hx_grow(x->sites, x->n_sites + 1, sizeof(*x->sites));
	memset(&x->sites[x->n_sites], 0, sizeof(x->sites[0]));
	snprintf(x->sites[x->n_sites].name, sizeof(x->sites[0].name), "%s", name);
	x->sites[x->n_sites].synthetic = synthetic;
	return &x->sites[x->n_sites++];
}

/* The host a rule turns into this backend's name, or false. */
static bool hx_rule_host(struct hx *x, const struct hx_rule *r, const struct hx_proxy *b,
			 char *host, size_t size)
{
	if (r->backend)
		return false;	/* an ACL rule: hx_acl_sites */
	size_t pl = strlen(r->prefix), sl = strlen(r->suffix), nl = strlen(b->name);
	char lower[HOSTNAME_MAX + 1], norm[HOSTNAME_MAX + 1];
	enum hostname_status hs;
	size_t mid, len;

	if (nl <= pl + sl || strncmp(b->name, r->prefix, pl) || strcmp(b->name + nl - sl, r->suffix))
		return false;
	mid = nl - pl - sl;
	if (mid > HOSTNAME_MAX) {
		hx_say(x, b->line, HX_MINOR, "backend '%s': the name it is reached by is too long; left out",
		       b->name);
		return false;
	}
	for (size_t i = 0; i < mid; i++) {
		char c = b->name[pl + i];

		if (r->lower && c >= 'A' && c <= 'Z') {
			hx_say(x, b->line, HX_NOTE,
			       "backend '%s': the rule at line %u lowercases names, so HAProxy never reached it; left out",
			       b->name, r->line);
			return false;
		}
		lower[i] = c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
	}
	lower[mid] = '\0';
	hs = hostname_normalize_pattern((const uint8_t *)lower, mid, norm, &len);
	/* a name gatehouse would rewrite (trailing dot, port) or read as a
	 * wildcard is not the literal name HAProxy compared */
	if (hs != HOSTNAME_OK || strcmp(norm, lower) || lower[0] == '*') {
		hx_say(x, b->line, HX_MINOR,
		       "backend '%s': '%s' (from the rule at line %u) is not a host name gatehouse routes (%s); left out",
		       b->name, lower, r->line,
		       hs != HOSTNAME_OK ? hostname_status_str(hs) : "it would match other names");
		return false;
	}
	snprintf(host, size, "%s", norm);
	return true;
}

/* Does a name rule before rule `upto` send host to a backend that exists?
 * Then HAProxy took that one (the first rule that matches wins). */
static bool hx_earlier_name_rule(const struct hx *x, const struct hx_proxy *fe, size_t upto, const char *host,
				 bool tcp)
{
	for (size_t i = 0; i < upto; i++) {
		const struct hx_rule *r = &fe->rules[i];
		char name[2 * HOSTNAME_MAX + 8];
		const struct hx_proxy *b;

		if (r->backend)
			continue;
		snprintf(name, sizeof(name), "%s%s%s", r->prefix, host, r->suffix);
		b = hx_find(x, name, true);
		if (b && !b->disabled && b->tcp == tcp)
			return true;
	}
	return false;
}

/* use_backend BACKEND if COND: each host it names becomes a site with
 * that backend, unless an earlier rule took the host. */
static void hx_acl_sites(struct hx *x, enum gh_kind k)
{
	const struct hx_proxy *fe = x->kinds[k].fe[0];

	for (size_t i = 0; i < fe->n_rules; i++) {
		const struct hx_rule *r = &fe->rules[i];
		struct hx_proxy *b;

		if (!r->backend)
			continue;
		b = hx_find(x, r->backend, true);
		if (!b || b->disabled || b->tcp != (k == GH_KIND_TLS)) {
			hx_say(x, r->line, HX_ESSENTIAL, !b ? "no backend named '%s'" : b->disabled ?
			       "backend '%s' is disabled" : "backend '%s' is not of its frontend's mode",
			       r->backend);
			continue;
		}
		for (size_t h = 0; h < r->n_hosts; h++) {
			struct hx_site *s;

			if (hx_earlier_name_rule(x, fe, i, r->hosts[h], k == GH_KIND_TLS))
				continue;
			s = hx_site_get(x, r->hosts[h], false);
			if (s->be[k]) {
				hx_say(x, r->line, HX_NOTE, "'%s' already reaches backend '%s'; this rule's '%s' never applies",
				       r->hosts[h], s->be[k]->name, r->backend);
				continue;
			}
			s->be[k] = b;
			b->used = true;
		}
	}
}

static void hx_sites(struct hx *x)
{
	for (int k = 0; k < GH_KIND_TCP_COUNT; k++)
		if (x->kinds[k].n_fe)
			hx_acl_sites(x, (enum gh_kind)k);
	for (size_t i = 0; i < x->n_px; i++) {
		struct hx_proxy *b = x->px[i];
		enum gh_kind k = b->tcp ? GH_KIND_TLS : GH_KIND_HTTP;
		const struct hx_kind *kd = &x->kinds[k];

		if (!b->be || b->disabled || kd->n_fe == 0)
			continue;
		for (size_t r = 0; r < kd->fe[0]->n_rules; r++) {
			char host[HOSTNAME_MAX + 1];
			struct hx_site *s;

			if (!hx_rule_host(x, &kd->fe[0]->rules[r], b, host, sizeof(host)))
				continue;
			s = hx_site_get(x, host, false);
			if (s->be[k]) {
				hx_say(x, b->line, HX_NOTE,
				       "backend '%s': name '%s' already reaches backend '%s'; left out",
				       b->name, host, s->be[k]->name);
				continue;
			}
			s->be[k] = b;
			b->used = true;
			break;
		}
	}

	for (int k = 0; k < GH_KIND_TCP_COUNT; k++) {
		struct hx_kind *kd = &x->kinds[k];
		const char *name;
		struct hx_proxy *b;
		struct hx_site *s = NULL;

		if (kd->n_fe == 0 || !(name = hx_fallback(kd->fe[0])))
			continue;
		kd->default_backend = name;
		kd->default_line = kd->fe[0]->default_backend ? kd->fe[0]->default_line : kd->fe[0]->line;
		b = hx_find(x, name, true);
		if (!b) {
			hx_say(x, kd->default_line, HX_ESSENTIAL, "no backend named '%s'", name);
			continue;
		}
		if (b->tcp != (k == GH_KIND_TLS)) {
			hx_say(x, kd->default_line, HX_ESSENTIAL,
			       "backend '%s' is mode %s, its frontend mode %s", name,
			       b->tcp ? "tcp" : "http", k == GH_KIND_TLS ? "tcp" : "http");
			continue;
		}
		for (size_t i = 0; i < x->n_sites && !s; i++)
			if (x->sites[i].be[k] == b)
				s = &x->sites[i];
		if (!s) {
			/* reached by no name, only as the default: a name that
			 * can't exist (RFC 6761 .invalid) keeps it that way */
			char syn[HOSTNAME_MAX + 1];
			size_t n = 0;

			for (const char *c = name; *c && n < HOSTNAME_LABEL_MAX; c++) {
				char ch = *c >= 'A' && *c <= 'Z' ? (char)(*c - 'A' + 'a') : *c;

				syn[n++] = (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
					   ch == '_' ? ch : '-';
			}
			snprintf(syn + n, sizeof(syn) - n, "%s.invalid", n ? "" : "default");
			s = hx_site_get(x, syn, true);
			if (s->be[k] && s->be[k] != b) {
				hx_say(x, kd->default_line, HX_ESSENTIAL,
				       "backend '%s': its site name '%s' is taken", name, syn);
				continue;
			}
			s->be[k] = b;
			b->used = true;
		}
		kd->default_site = (size_t)(s - x->sites) + 1;
	}

	for (size_t i = 0; i < x->n_px; i++) {
		const struct hx_proxy *b = x->px[i];

		if (b->be && !b->fe && !b->used && !b->disabled)
			hx_say(x, b->line, HX_NOTE,
			       "backend '%s' is reached by no translated frontend rule; left out", b->name);
	}
}

void hx_resolve(struct hx *x)
{
	hx_kinds(x);
	if (x->kinds[GH_KIND_HTTP].n_fe + x->kinds[GH_KIND_TLS].n_fe == 0)
		hx_say(x, 0, HX_ESSENTIAL, "no frontend gatehouse can stand in for");
	hx_sites(x);
}
