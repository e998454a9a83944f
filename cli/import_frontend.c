/* SPDX-License-Identifier: MIT */
/*
 * The reader's frontend keywords (import_read.h): bind, use_backend,
 * redirect and the request rules gatehouse already does itself.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "cli/import_read.h"

enum {
	BO_OK,			/* nothing to say */
	BO_V6ONLY,
	BO_ACCEPT_PROXY,	/* written as gatehouse's accept-proxy (import_write.c) */
	BO_TLS,			/* TLS termination */
	BO_ESSENTIAL,
	BO_MINOR,
};

static const struct hx_opt hx_bind_opts[] = {
	{ "v4v6", 0, BO_OK }, { "v6only", 0, BO_V6ONLY }, { "name", 1, BO_OK }, { "id", 1, BO_OK },
	{ "defer-accept", 0, BO_OK }, { "tfo", 0, BO_OK }, { "backlog", 1, BO_OK },
	{ "process", 1, BO_OK }, { "thread", 1, BO_OK }, { "nice", 1, BO_OK },
	{ "shards", 1, BO_OK }, { "user", 1, BO_OK }, { "group", 1, BO_OK }, { "uid", 1, BO_OK },
	{ "gid", 1, BO_OK }, { "mode", 1, BO_OK }, { "level", 1, BO_OK },
	{ "expose-fd", 1, BO_OK }, { "severity-output", 1, BO_OK },
	{ "maxconn", 1, BO_MINOR }, { "mss", 1, BO_MINOR }, { "tcp-ut", 1, BO_MINOR },
	{ "interface", 1, BO_ESSENTIAL }, { "namespace", 1, BO_ESSENTIAL },
	{ "transparent", 0, BO_ESSENTIAL }, { "accept-proxy", 0, BO_ACCEPT_PROXY },
	{ "accept-netscaler-cip", 1, BO_ESSENTIAL }, { "proto", 1, BO_ESSENTIAL },
	{ "ssl", 0, BO_TLS }, { "crt", 1, BO_TLS }, { "crt-list", 1, BO_TLS },
	{ "ca-file", 1, BO_TLS }, { "crl-file", 1, BO_TLS }, { "verify", 1, BO_TLS },
	{ "alpn", 1, BO_TLS }, { "npn", 1, BO_TLS }, { "ciphers", 1, BO_TLS },
	{ "ciphersuites", 1, BO_TLS }, { "curves", 1, BO_TLS }, { "ecdhe", 1, BO_TLS },
	{ "ssl-min-ver", 1, BO_TLS }, { "ssl-max-ver", 1, BO_TLS }, { "strict-sni", 0, BO_TLS },
	{ "no-sslv3", 0, BO_TLS }, { "no-tlsv10", 0, BO_TLS }, { "no-tlsv11", 0, BO_TLS },
	{ "no-tlsv12", 0, BO_TLS }, { "no-tlsv13", 0, BO_TLS }, { "no-tls-tickets", 0, BO_TLS },
	{ "prefer-client-ciphers", 0, BO_TLS }, { "allow-0rtt", 0, BO_TLS },
	{ "generate-certificates", 0, BO_TLS }, { "ca-sign-file", 1, BO_TLS },
	{ "ssl-default-bind-options", 1, BO_TLS },
};

void hx_bind(struct hx *x, struct hx_proxy *p, const struct hx_line *l)
{
	bool v6only = false, tls = false, accept_proxy = false;
	char *list, *save = NULL;

	if (l->argc < 2) {
		hx_say(x, l->no, HX_ESSENTIAL, "'%s': bind without an address", l->text);
		return;
	}
	for (size_t i = 2; i < l->argc; i++) {
		const struct hx_opt *o = hx_opt_find(hx_bind_opts, HX_ARRAY(hx_bind_opts), l->argv[i]);

		if (!o) {
			hx_say(x, l->no, HX_ESSENTIAL, "'%s': unknown bind option '%s'", l->text, l->argv[i]);
			break;
		}
		if (o->what == BO_V6ONLY)
			v6only = true;
		else if (o->what == BO_ACCEPT_PROXY)
			accept_proxy = true;
		else if (o->what == BO_TLS)
			tls = true;
		else if (o->what == BO_ESSENTIAL)
			hx_say(x, l->no, HX_ESSENTIAL, "'%s': bind option '%s' has no counterpart",
			       l->text, o->name);
		else if (o->what == BO_MINOR)
			hx_say(x, l->no, HX_MINOR, "'%s': bind option '%s'", l->text, o->name);
		i += o->args;
	}
	if (tls) {
		/* this frontend speaks HTTP inside TLS it terminates: gatehouse
		 * holds no keys, so there is nothing to stand in for */
		hx_say(x, l->no, HX_ESSENTIAL,
		       "'%s': TLS termination ('ssl crt'): gatehouse never terminates TLS; route by SNI in a mode tcp frontend and keep the keys on the servers; frontend '%s' left out",
		       l->text, p->name);
		p->skip = true;
		return;
	}
	list = hx_strdup(l->argv[1]);
	for (char *a = strtok_r(list, ",", &save); a; a = strtok_r(NULL, ",", &save)) {
		struct hx_bind b = { .v6only = v6only, .accept_proxy = accept_proxy, .line = l->no };
		const char *why;
		bool odd;

		why = hx_parse_addr(a, true, &b.a, &odd);
		if (!why && b.a.port == 0)
			why = "missing port";
		if (why) {
			hx_say(x, l->no, HX_ESSENTIAL, "'%s': address '%s': %s", l->text, a, why);
			continue;
		}
		snprintf(b.text, sizeof(b.text), "%s", l->text);
		p->binds = hx_grow(p->binds, p->n_binds + 1, sizeof(*p->binds));
		p->binds[p->n_binds++] = b;
	}
	free(list);
}

void hx_use_backend(struct hx *x, struct hx_proxy *p, const struct hx_line *l)
{
	const char *e, *open, *close = NULL;
	struct hx_rule r = { .line = l->no };
	const char *conv;
	int depth = 0;

	if (l->argc < 2) {
		hx_say(x, l->no, HX_ESSENTIAL, "'%s': use_backend without a backend", l->text);
		return;
	}
	e = l->argv[1];
	if (l->argc > 2) {
		if (strcmp(l->argv[2], "if") || l->argc == 3 || strchr(e, '%')) {
			hx_say(x, l->no, HX_ESSENTIAL,
			       "'%s': only 'use_backend NAME if CONDITION' naming hosts is translated (gatehouse routes by the name itself)",
			       l->text);
			return;
		}
		if (p->default_by_rule) {
			hx_say(x, l->no, HX_NOTE,
			       "'%s': after an unconditional use_backend at line %u, this rule never applies",
			       l->text, p->default_line);
			return;
		}
		if (hx_cond_hosts(x, p, l, 3, &r)) {
			r.backend = hx_strdup(e);
			p->rules = hx_grow(p->rules, p->n_rules + 1, sizeof(*p->rules));
			p->rules[p->n_rules++] = r;
		}
		return;
	}
	open = strstr(e, "%[");
	if (!open) {
		/* unconditional: every client not routed by an earlier rule
		 * goes there, which is what a default is */
		if (!p->default_by_rule) {
			free(p->default_backend);
			p->default_backend = hx_strdup(e);
			p->default_line = l->no;
			p->default_by_rule = true;
		}
		return;
	}
	for (const char *c = open + 2; *c && !close; c++) {
		if (*c == '(')
			depth++;
		else if (*c == ')')
			depth--;
		else if (*c == ']' && depth == 0)
			close = c;
	}
	if (!close || strchr(close + 1, '%') || memchr(e, '%', (size_t)(open - e))) {
		hx_say(x, l->no, HX_ESSENTIAL,
		       "'%s': only one %%[...] expression naming the host is translated", l->text);
		return;
	}
	if (p->default_by_rule) {
		hx_say(x, l->no, HX_NOTE,
		       "'%s': after an unconditional use_backend at line %u, this rule never applies",
		       l->text, p->default_line);
		return;
	}
	if (close == open + 2) {
		hx_say(x, l->no, HX_ESSENTIAL, "'%s': empty %%[] expression", l->text);
		return;
	}
	/* the fetch, then converters, split at commas outside parentheses */
	conv = open + 2;
	for (bool first = true; conv < close; first = false) {
		const char *end = conv;
		size_t n;

		for (depth = 0; end < close && (depth > 0 || *end != ','); end++)
			depth += *end == '(' ? 1 : *end == ')' ? -1 : 0;
		n = (size_t)(end - conv);
		if (first) {
			if (!hx_fetch_ok(conv, n, p->tcp)) {
				hx_say(x, l->no, HX_ESSENTIAL,
				       "'%s': routing by '%.*s': gatehouse routes %s only",
				       l->text, (int)n, conv,
				       p->tcp ? "a mode tcp frontend by the TLS SNI (req_ssl_sni)"
					      : "a mode http frontend by the Host (req.hdr(host))");
				return;
			}
		} else if (n == 5 && !strncmp(conv, "lower", n)) {
			r.lower = true;
		} else if ((n == 9 && !strncmp(conv, "word(1,:)", n)) ||
			   (n == 10 && !strncmp(conv, "field(1,:)", n))) {
			/* strips ":port"; gatehouse always does */
		} else {
			hx_say(x, l->no, HX_ESSENTIAL,
			       "'%s': converter '%.*s': only lower, word(1,:) and field(1,:) are translated",
			       l->text, (int)n, conv);
			return;
		}
		conv = end < close ? end + 1 : end;
	}
	r.prefix = malloc((size_t)(open - e) + 1);
	if (!r.prefix)
		hx_oom();
	memcpy(r.prefix, e, (size_t)(open - e));
	r.prefix[open - e] = '\0';
	r.suffix = hx_strdup(close + 1);
	p->rules = hx_grow(p->rules, p->n_rules + 1, sizeof(*p->rules));
	p->rules[p->n_rules++] = r;
}

/* `[http-request] redirect scheme https [code N] [...] [if !{ ssl_fc }]`,
 * words from i on. */
void hx_redirect(struct hx *x, struct hx_proxy *p, const struct hx_line *l, size_t i)
{
	unsigned code = 302;	/* HAProxy's default */
	size_t cond;

	if (i + 1 >= l->argc || strcmp(l->argv[i], "scheme") || strcmp(l->argv[i + 1], "https")) {
		hx_say(x, l->no, HX_ESSENTIAL,
		       "'%s': only 'redirect scheme https' is translated (http-mode redirect-https)",
		       l->text);
		return;
	}
	for (i += 2; i < l->argc; i++) {
		const char *w = l->argv[i];

		if (!strcmp(w, "if") || !strcmp(w, "unless"))
			break;
		if (!strcmp(w, "code") && i + 1 < l->argc) {
			code = (unsigned)strtoul(l->argv[++i], NULL, 10);
		} else if (!strcmp(w, "drop-query") || !strcmp(w, "append-slash") ||
			   !strcmp(w, "ignore-empty") || !strcmp(w, "keep-query")) {
			hx_say(x, l->no, HX_MINOR,
			       "'%s': redirect option '%s': gatehouse keeps the path and query as sent",
			       l->text, w);
		} else if ((!strcmp(w, "set-cookie") || !strcmp(w, "clear-cookie")) && i + 1 < l->argc) {
			hx_say(x, l->no, HX_MINOR, "'%s': redirect option '%s'", l->text, w);
			i++;
		} else {
			hx_say(x, l->no, HX_ESSENTIAL, "'%s': unknown redirect option '%s'", l->text, w);
			return;
		}
	}
	cond = i;
	/* on a plain-HTTP frontend ssl_fc is always false: the condition
	 * "not over TLS" always holds */
	if (cond < l->argc && !hx_words(l, cond, "if !{ ssl_fc }") &&
	    !hx_words(l, cond, "unless { ssl_fc }")) {
		hx_say(x, l->no, HX_ESSENTIAL,
		       "'%s': a redirect with a condition: gatehouse redirects every request but ACME challenges",
		       l->text);
		return;
	}
	if (!p->fe) {
		hx_say(x, l->no, HX_ESSENTIAL, "'%s': a redirect outside a frontend is not translated",
		       l->text);
		return;
	}
	if (!p->redirect_line)
		p->redirect_line = l->no;
	if (code != 301 && code != 308)
		hx_say(x, l->no, HX_NOTE,
		       "'%s': HAProxy answers %u; gatehouse answers 301 (GET, HEAD) or 308 (other methods), and passes only well-formed ACME challenges (GET or HEAD /.well-known/acme-challenge/TOKEN) to the site",
		       l->text, code);
}

void hx_tcp_request(struct hx *x, struct hx_proxy *p, const struct hx_line *l)
{
	static const char *const fetch[] = { "req_ssl_hello_type", "req.ssl_hello_type" };

	if (l->argc == 3 && !strcmp(l->argv[1], "inspect-delay")) {
		hx_set_ms(x, &p->inspect, l, l->argv[2]);
		return;
	}
	/* waiting for a ClientHello (and refusing anything else) is what
	 * gatehouse's tls listener does anyway */
	for (size_t i = 0; i < HX_ARRAY(fetch); i++) {
		char accept[80], reject1[80], reject2[80];

		snprintf(accept, sizeof(accept), "content accept if { %s 1 }", fetch[i]);
		snprintf(reject1, sizeof(reject1), "content reject unless { %s 1 }", fetch[i]);
		snprintf(reject2, sizeof(reject2), "content reject if !{ %s 1 }", fetch[i]);
		if (hx_words(l, 1, accept) || hx_words(l, 1, reject1) || hx_words(l, 1, reject2)) {
			p->hello_rule = true;
			return;
		}
	}
	hx_say(x, l->no, HX_ESSENTIAL,
	       "'%s': TCP request rules (filters, limits, captures) have no counterpart", l->text);
}

void hx_http_request(struct hx *x, struct hx_proxy *p, const struct hx_line *l)
{
	const char *act = l->argc > 1 ? l->argv[1] : "";

	if (!strcmp(act, "redirect")) {
		hx_redirect(x, p, l, 2);
		return;
	}
	if (!strncmp(act, "set-header", 10) || !strncmp(act, "add-header", 10) ||
	    !strncmp(act, "replace-header", 14)) {
		hx_say(x, l->no, HX_ESSENTIAL,
		       "'%s': gatehouse never changes requests (for the client's address, see proxy-protocol)",
		       l->text);
		return;
	}
	hx_say(x, l->no, HX_ESSENTIAL,
	       "'%s': HTTP request rules: gatehouse routes requests by their Host and never changes or filters them",
	       l->text);
}
