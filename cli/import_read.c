/* SPDX-License-Identifier: MIT */
/*
 * The reader (import_read.h): sections, and the keywords of a proxy
 * section, each either kept in the model or reported with its class.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "cli/import_edge.h"
#include "cli/import_read.h"

/* ------------------------------------------------------------------ */
/* sections                                                            */

static const char *const hx_ignored_sections[] = {
	"resolvers", "peers", "userlist", "mailers", "program", "http-errors", "cache",
	"ring", "log-forward", "crt-store", "traces", "acme",
};

static void hx_new_proxy(struct hx *x, const struct hx_line *l, bool fe, bool be)
{
	struct hx_proxy *p = calloc(1, sizeof(*p));
	const struct hx_proxy *d = &x->defaults;

	if (!p)
		hx_oom();
	x->cur = p;
	p->line = l->no;
	p->fe = fe;
	p->be = be;
	/* what a defaults section gives every proxy after it */
	p->tcp = d->tcp;
	p->t = d->t;
	p->defsrv = d->defsrv;
	p->disabled = d->disabled;
	if (fe) {
		p->inspect = d->inspect;
		if (d->default_backend) {
			p->default_backend = hx_strdup(d->default_backend);
			p->default_line = d->default_line;
		}
	}
	if (l->argc < 2) {
		hx_say(x, l->no, HX_ESSENTIAL, "'%s': section without a name", l->text);
		p->name = hx_strdup("");
		p->skip = true;
	} else {
		p->name = hx_strdup(l->argv[1]);
		if (hx_find(x, p->name, false))
			hx_say(x, l->no, HX_NOTE, "'%s': a second proxy named '%s' (HAProxy refuses this)",
			       l->text, p->name);
	}
	if (l->argc > 2)
		hx_say(x, l->no, HX_ESSENTIAL, "'%s': named defaults ('from') are not followed", l->text);
	x->px = hx_grow(x->px, x->n_px + 1, sizeof(*x->px));
	x->px[x->n_px++] = p;
}

/* Returns true when the line opened a section. */
static bool hx_section(struct hx *x, const struct hx_line *l)
{
	const char *kw = l->argv[0];

	if (!strcmp(kw, "global")) {
		x->global_line = l->no;
	} else if (!strcmp(kw, "defaults")) {
		/* a defaults section replaces the previous one entirely */
		hx_defaults_reset(&x->defaults);
		if (l->argc > 2)
			hx_say(x, l->no, HX_ESSENTIAL, "'%s': named defaults ('from') are not followed",
			       l->text);
	} else if (!strcmp(kw, "frontend")) {
		hx_new_proxy(x, l, true, false);
	} else if (!strcmp(kw, "backend")) {
		hx_new_proxy(x, l, false, true);
	} else if (!strcmp(kw, "listen")) {
		hx_new_proxy(x, l, true, true);
	} else {
		size_t i;

		for (i = 0; i < HX_ARRAY(hx_ignored_sections); i++)
			if (!strcmp(kw, hx_ignored_sections[i]))
				break;
		if (i == HX_ARRAY(hx_ignored_sections))
			return false;
		hx_say(x, l->no, HX_NOTE, "'%s': this section has no counterpart; ignored", l->text);
	}
	x->in_defaults = !strcmp(kw, "defaults");
	if (strcmp(kw, "frontend") && strcmp(kw, "backend") && strcmp(kw, "listen"))
		x->cur = NULL;
	return true;
}

/* ------------------------------------------------------------------ */
/* proxy keywords                                                      */

static void hx_timeout(struct hx *x, struct hx_proxy *p, const struct hx_line *l,
		       const char *which, const char *value)
{
	static const char *const silent[] = {
		"check", "http-keep-alive", "client-fin", "server-fin", "tarpit",
		"client-hs",
	};

	if (!strcmp(which, "connect"))
		hx_set_ms(x, &p->t.connect, l, value);
	else if (!strcmp(which, "client"))
		hx_set_ms(x, &p->t.client, l, value);
	else if (!strcmp(which, "server"))
		hx_set_ms(x, &p->t.server, l, value);
	else if (!strcmp(which, "tunnel"))
		hx_set_ms(x, &p->t.tunnel, l, value);
	else if (!strcmp(which, "http-request"))
		hx_set_ms(x, &p->t.http_request, l, value);
	else if (!strcmp(which, "queue"))
		hx_set_ms(x, &p->t.queue, l, value);
	else {
		for (size_t i = 0; i < HX_ARRAY(silent); i++)
			if (!strcmp(which, silent[i]))
				return;
		hx_say(x, l->no, HX_MINOR, "'%s': unknown timeout", l->text);
	}
}

enum {
	OP_SILENT,
	OP_HEALTH,
	OP_CONN,
	OP_STRICT,
	OP_ESSENTIAL,
};

static const struct {
	const char *name;
	int what;
} hx_options[] = {
	{ "httplog", OP_SILENT }, { "tcplog", OP_SILENT }, { "httpslog", OP_SILENT },
	{ "dontlognull", OP_SILENT }, { "dontlog-normal", OP_SILENT }, { "logasap", OP_SILENT },
	{ "log-separate-errors", OP_SILENT }, { "log-health-checks", OP_SILENT },
	{ "redispatch", OP_SILENT }, { "splice-auto", OP_SILENT }, { "splice-request", OP_SILENT },
	{ "splice-response", OP_SILENT }, { "tcpka", OP_SILENT }, { "clitcpka", OP_SILENT },
	{ "srvtcpka", OP_SILENT }, { "contstats", OP_SILENT }, { "socket-stats", OP_SILENT },
	{ "http-buffer-request", OP_SILENT }, { "abortonclose", OP_SILENT },
	{ "nolinger", OP_SILENT }, { "prefer-last-server", OP_SILENT },
	{ "http-ignore-probes", OP_SILENT }, { "independent-streams", OP_SILENT },
	{ "idle-close-on-response", OP_SILENT }, { "http-pretend-keepalive", OP_SILENT },
	{ "http-no-delay", OP_SILENT }, { "tcp-smart-accept", OP_SILENT },
	{ "tcp-smart-connect", OP_SILENT }, { "http-use-htx", OP_SILENT },
	{ "httpchk", OP_HEALTH }, { "ssl-hello-chk", OP_HEALTH }, { "tcp-check", OP_HEALTH },
	{ "mysql-check", OP_HEALTH }, { "pgsql-check", OP_HEALTH }, { "redis-check", OP_HEALTH },
	{ "smtpchk", OP_HEALTH }, { "ldap-check", OP_HEALTH }, { "spop-check", OP_HEALTH },
	{ "external-check", OP_HEALTH }, { "allbackups", OP_HEALTH },
	{ "http-server-close", OP_CONN }, { "httpclose", OP_CONN }, { "http-keep-alive", OP_CONN },
	{ "forceclose", OP_CONN }, { "http-tunnel", OP_CONN },
	{ "accept-invalid-http-request", OP_STRICT }, { "accept-invalid-http-response", OP_STRICT },
	{ "accept-unsafe-violations-in-http-request", OP_STRICT },
	{ "accept-unsafe-violations-in-http-response", OP_STRICT },
	{ "forwardfor", OP_ESSENTIAL }, { "originalto", OP_ESSENTIAL },
	{ "http-use-proxy-header", OP_ESSENTIAL }, { "transparent", OP_ESSENTIAL },
	{ "http_proxy", OP_ESSENTIAL }, { "http-restrict-req-hdr-names", OP_ESSENTIAL },
	{ "checkcache", OP_STRICT }, { "persist", OP_HEALTH },
};

static void hx_option(struct hx *x, const struct hx_line *l)
{
	const char *name;

	if (l->argc < 2) {
		hx_say(x, l->no, HX_ESSENTIAL, "'%s': option without a name", l->text);
		return;
	}
	name = l->argv[1];
	for (size_t i = 0; i < HX_ARRAY(hx_options); i++) {
		if (strcmp(name, hx_options[i].name))
			continue;
		switch (hx_options[i].what) {
		case OP_SILENT:
			return;
		case OP_HEALTH:
			hx_say(x, l->no, HX_MINOR,
			       "'%s': not translated: gatehouse's health checks are `check` lines (a connect; "
			       "`http-status`, `tls-hello` by hand)",
			       l->text);
			return;
		case OP_CONN:
			hx_say(x, l->no, HX_MINOR,
			       "'%s': gatehouse routes a connection by its first request, then tunnels it",
			       l->text);
			return;
		case OP_STRICT:
			hx_say(x, l->no, HX_MINOR,
			       "'%s': gatehouse is strict: a malformed request head gets 400", l->text);
			return;
		default:
			hx_say(x, l->no, HX_ESSENTIAL,
			       "'%s': gatehouse never changes requests (for the client's address, see proxy-protocol)",
			       l->text);
			return;
		}
	}
	hx_say(x, l->no, HX_MINOR, "'%s': unknown option", l->text);
}

static const struct {
	const char *kw;
	enum hx_class c;
	const char *why;
} hx_keywords[] = {
	{ "log", HX_SILENT, NULL }, { "log-format", HX_SILENT, NULL },
	{ "log-format-sd", HX_SILENT, NULL }, { "error-log-format", HX_SILENT, NULL },
	{ "log-tag", HX_SILENT, NULL }, { "log-steps", HX_SILENT, NULL },
	{ "description", HX_SILENT, NULL }, { "id", HX_SILENT, NULL },
	{ "retries", HX_SILENT, NULL }, { "fullconn", HX_SILENT, NULL },
	{ "hash-type", HX_SILENT, NULL }, { "hash-balance-factor", HX_SILENT, NULL },
	{ "http-reuse", HX_SILENT, NULL }, { "bind-process", HX_SILENT, NULL },
	{ "max-keep-alive-queue", HX_SILENT, NULL }, { "declare", HX_SILENT, NULL },
	{ "capture", HX_SILENT, NULL }, { "acl", HX_SILENT, NULL }, { "grace", HX_SILENT, NULL },
	{ "server-state-file-name", HX_SILENT, NULL },
	{ "load-server-state-from-file", HX_SILENT, NULL }, { "backlog", HX_SILENT, NULL },
	{ "guid", HX_SILENT, NULL },
	{ "maxconn", HX_MINOR, "connection limits: gatehouse bounds clients under inspection, not per proxy" },
	{ "rate-limit", HX_MINOR, "no rate limits" },
	{ "stats", HX_MINOR, "no statistics page: `systemctl status` shows counters, the journal has a record per connection" },
	{ "monitor-uri", HX_MINOR, "no monitoring URI" }, { "monitor", HX_MINOR, "no monitoring URI" },
	{ "monitor-net", HX_MINOR, "no monitoring" },
	{ "errorloc", HX_MINOR, "gatehouse answers errors with its own short pages" },
	{ "errorloc302", HX_MINOR, "gatehouse answers errors with its own short pages" },
	{ "errorloc303", HX_MINOR, "gatehouse answers errors with its own short pages" },
	{ "errorfiles", HX_MINOR, "gatehouse answers errors with its own short pages" },
	{ "http-error", HX_MINOR, "gatehouse answers errors with its own short pages" },
	{ "cookie", HX_MINOR, "no server persistence: one connection goes to one server" },
	{ "stick-table", HX_MINOR, "no stick tables" },
	{ "stick", HX_MINOR, "no server persistence" }, { "stick-on", HX_MINOR, "no server persistence" },
	{ "stick-match", HX_MINOR, "no server persistence" },
	{ "stick-store-request", HX_MINOR, "no server persistence" },
	{ "stick-store-response", HX_MINOR, "no server persistence" },
	{ "persist", HX_MINOR, "no server persistence" },
	{ "force-persist", HX_MINOR, "no server persistence" },
	{ "ignore-persist", HX_MINOR, "no server persistence" },
	{ "http-check", HX_MINOR, "not translated: gatehouse's health checks are `check` lines (a connect; `http-status`, `tls-hello` by hand)" },
	{ "tcp-check", HX_MINOR, "not translated: gatehouse's health checks are `check` lines (a connect; `http-status`, `tls-hello` by hand)" },
	{ "external-check", HX_MINOR, "no health checks" },
	{ "email-alert", HX_MINOR, "no e-mail alerts: see the journal" },
	{ "compression", HX_MINOR, "no compression: responses pass as the server sends them" },
	{ "unique-id-format", HX_MINOR, "no request ids" },
	{ "unique-id-header", HX_MINOR, "no request ids" },
	{ "http-response", HX_ESSENTIAL, "gatehouse never changes or filters responses" },
	{ "http-after-response", HX_ESSENTIAL, "gatehouse never changes or filters responses" },
	{ "tcp-response", HX_ESSENTIAL, "TCP response rules have no counterpart" },
	{ "filter", HX_ESSENTIAL, "filters have no counterpart" },
	{ "server-template", HX_ESSENTIAL, "templates need name resolution: list each server's address" },
	{ "use-server", HX_ESSENTIAL, "server selection rules have no counterpart" },
	{ "dispatch", HX_ESSENTIAL, "write the address as a server" },
	{ "source", HX_ESSENTIAL, "no source address of your choosing (backends can see IPv4 clients through an IPv6 /96: source-prefix, gatehouse.conf(5))" },
	{ "transparent", HX_ESSENTIAL, "no transparent proxying" },
	{ "http-send-name-header", HX_ESSENTIAL, "gatehouse never changes requests" },
	{ "reqadd", HX_ESSENTIAL, "gatehouse never changes requests" },
	{ "reqrep", HX_ESSENTIAL, "gatehouse never changes requests" },
	{ "rspadd", HX_ESSENTIAL, "gatehouse never changes responses" },
	{ "rsprep", HX_ESSENTIAL, "gatehouse never changes responses" },
};

/* One line inside frontend/backend/listen (or defaults: dflt). */
static void hx_proxy_line(struct hx *x, struct hx_proxy *p, bool dflt, const struct hx_line *l)
{
	const char *kw = l->argv[0];
	bool fe = dflt || p->fe, be = dflt || p->be;

	if (!strcmp(kw, "mode")) {
		if (l->argc == 2 && !strcmp(l->argv[1], "http")) {
			p->tcp = false;
		} else if (l->argc == 2 && !strcmp(l->argv[1], "tcp")) {
			p->tcp = true;
		} else {
			hx_say(x, l->no, HX_ESSENTIAL, "'%s': only modes http and tcp are translated", l->text);
			p->skip = true;
		}
	} else if (!strcmp(kw, "timeout") && l->argc == 3) {
		hx_timeout(x, p, l, l->argv[1], l->argv[2]);
	} else if ((!strcmp(kw, "contimeout") || !strcmp(kw, "clitimeout") ||
		    !strcmp(kw, "srvtimeout")) && l->argc == 2) {
		hx_timeout(x, p, l, kw[0] == 'c' && kw[1] == 'o' ? "connect" :
				    kw[0] == 'c' ? "client" : "server", l->argv[1]);
	} else if (!strcmp(kw, "disabled")) {
		p->disabled = true;
	} else if (!strcmp(kw, "enabled")) {
		p->disabled = false;
	} else if (!strcmp(kw, "no")) {
		/* `no option X`, `no log`: turning something off leaves
		 * nothing for gatehouse to do */
	} else if (!strcmp(kw, "option")) {
		hx_option(x, l);
	} else if (!strcmp(kw, "errorfile")) {
		/* Debian's stock pages say what gatehouse's own answers say */
		if (l->argc < 3 || strncmp(l->argv[2], "/etc/haproxy/errors/", 20) != 0)
			hx_say(x, l->no, HX_MINOR, "'%s': gatehouse answers errors with its own short pages",
			       l->text);
	} else if (!strcmp(kw, "balance")) {
		if (l->argc < 2 || (strcmp(l->argv[1], "roundrobin") && strcmp(l->argv[1], "static-rr")))
			hx_say(x, l->no, HX_MINOR, "'%s': gatehouse balances by round robin", l->text);
	} else if (!strcmp(kw, "bind") && p->fe && !dflt) {
		hx_bind(x, p, l);
	} else if (!strcmp(kw, "stick-table") && p->fe && !dflt) {
		hx_stick_table(p, l);
	} else if (!strcmp(kw, "acl") && p->fe && !dflt) {
		hx_acl(x, p, l);
	} else if (!strcmp(kw, "use_backend") && p->fe && !dflt) {
		hx_use_backend(x, p, l);
	} else if (!strcmp(kw, "default_backend") && fe) {
		if (l->argc != 2) {
			hx_say(x, l->no, HX_ESSENTIAL, "'%s': default_backend takes one name", l->text);
		} else if (!p->default_by_rule) {
			free(p->default_backend);
			p->default_backend = hx_strdup(l->argv[1]);
			p->default_line = l->no;
		}
	} else if (!strcmp(kw, "http-request") && fe) {
		hx_http_request(x, p, l);
	} else if (!strcmp(kw, "redirect") && fe) {
		hx_redirect(x, p, l, 1);
	} else if (!strcmp(kw, "tcp-request") && fe) {
		hx_tcp_request(x, p, l);
	} else if (!strcmp(kw, "server") && p->be && !dflt) {
		hx_server(x, p, l);
	} else if (!strcmp(kw, "default-server") && be) {
		hx_server_options(x, l, 1, &p->defsrv);
	} else if (!strcmp(kw, "bind") || !strcmp(kw, "use_backend") || !strcmp(kw, "server") ||
		   !strcmp(kw, "default_backend") || !strcmp(kw, "http-request") ||
		   !strcmp(kw, "tcp-request") || !strcmp(kw, "redirect") ||
		   !strcmp(kw, "default-server")) {
		hx_say(x, l->no, HX_MINOR, "'%s': not allowed in this section (HAProxy ignores or refuses it)",
		       l->text);
	} else {
		for (size_t i = 0; i < HX_ARRAY(hx_keywords); i++) {
			if (strcmp(kw, hx_keywords[i].kw))
				continue;
			hx_say(x, l->no, hx_keywords[i].c, "'%s': %s", l->text, hx_keywords[i].why);
			return;
		}
		hx_say(x, l->no, HX_ESSENTIAL, "'%s': unknown keyword", l->text);
	}
}

int hx_read(struct hx *x, FILE *f)
{
	struct hx_line l = { 0 };
	char *buf = NULL;
	size_t cap = 0;
	ssize_t n;
	bool outside = true;

	while ((n = getline(&buf, &cap, f)) >= 0) {
		while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
			buf[--n] = '\0';
		l.no++;
		hx_tokenize(&l, buf);
		if (l.argc == 0)
			continue;
		if (hx_section(x, &l)) {
			outside = false;
			continue;
		}
		if (x->in_defaults)
			hx_proxy_line(x, &x->defaults, true, &l);
		else if (x->cur)
			hx_proxy_line(x, x->cur, false, &l);
		else if (outside)
			hx_say(x, l.no, HX_ESSENTIAL, "'%s': outside any section", l.text);
		/* else: global and ignored sections */
	}
	hx_line_clear(&l);
	free(l.argv);
	free(buf);
	return ferror(f) ? -EIO : 0;
}
