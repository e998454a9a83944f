/* SPDX-License-Identifier: MIT */
/*
 * The reader's servers (import_read.h): `server` and `default-server`
 * lines, their options sorted into what gatehouse keeps (address, PROXY
 * header, backup, disabled, maxconn, check inter rise fall) and what it
 * reports.
 */
#include <stdlib.h>
#include <string.h>
#include "cli/import_read.h"

enum {
	SO_SILENT,
	SO_HEALTH,
	SO_LOAD,
	SO_MAXCONN,
	SO_PERSIST,
	SO_TLS,
	SO_ESSENTIAL,
	SO_PROXY1,
	SO_PROXY2,
	SO_PROXY2_TLV,
	SO_NOPROXY,
	SO_BACKUP,
	SO_NOBACKUP,
	SO_DISABLED,
	SO_ENABLED,
	SO_CHECK,
	SO_NOCHECK,
	SO_INTER,
	SO_RISE,
	SO_FALL,
};

static const struct hx_opt hx_server_opts[] = {
	{ "check", 0, SO_CHECK }, { "no-check", 0, SO_NOCHECK }, { "check-ssl", 0, SO_HEALTH },
	{ "check-send-proxy", 0, SO_HEALTH }, { "agent-check", 0, SO_HEALTH },
	{ "no-agent-check", 0, SO_SILENT }, { "inter", 1, SO_INTER }, { "fastinter", 1, SO_HEALTH },
	{ "downinter", 1, SO_HEALTH }, { "rise", 1, SO_RISE }, { "fall", 1, SO_FALL },
	{ "port", 1, SO_HEALTH }, { "addr", 1, SO_HEALTH }, { "agent-port", 1, SO_HEALTH },
	{ "agent-inter", 1, SO_HEALTH }, { "agent-addr", 1, SO_HEALTH },
	{ "agent-send", 1, SO_HEALTH }, { "observe", 1, SO_HEALTH }, { "on-error", 1, SO_HEALTH },
	{ "on-marked-down", 1, SO_HEALTH }, { "on-marked-up", 1, SO_HEALTH },
	{ "error-limit", 1, SO_HEALTH }, { "slowstart", 1, SO_HEALTH },
	{ "check-sni", 1, SO_HEALTH }, { "check-alpn", 1, SO_HEALTH },
	{ "check-proto", 1, SO_HEALTH }, { "track", 1, SO_HEALTH }, { "health-check", 1, SO_HEALTH },
	{ "weight", 1, SO_LOAD }, { "maxconn", 1, SO_MAXCONN }, { "maxqueue", 1, SO_LOAD },
	{ "minconn", 1, SO_LOAD },
	{ "cookie", 1, SO_PERSIST }, { "non-stick", 0, SO_PERSIST }, { "stick", 0, SO_SILENT },
	{ "id", 1, SO_SILENT }, { "tfo", 0, SO_SILENT }, { "pool-max-conn", 1, SO_SILENT },
	{ "pool-low-conn", 1, SO_SILENT }, { "pool-purge-delay", 1, SO_SILENT },
	{ "max-reuse", 1, SO_SILENT }, { "tcp-ut", 1, SO_SILENT },
	{ "resolvers", 1, SO_SILENT }, { "resolve-prefer", 1, SO_SILENT },
	{ "resolve-net", 1, SO_SILENT }, { "resolve-opts", 1, SO_SILENT },
	{ "init-addr", 1, SO_SILENT }, { "log-proto", 1, SO_SILENT },
	{ "ssl", 0, SO_TLS }, { "verify", 1, SO_TLS }, { "verifyhost", 1, SO_TLS },
	{ "no-verifyhost", 0, SO_TLS }, { "sni", 1, SO_TLS }, { "ca-file", 1, SO_TLS },
	{ "crt", 1, SO_TLS }, { "crl-file", 1, SO_TLS }, { "alpn", 1, SO_TLS },
	{ "npn", 1, SO_TLS }, { "ciphers", 1, SO_TLS }, { "ciphersuites", 1, SO_TLS },
	{ "ssl-min-ver", 1, SO_TLS }, { "ssl-max-ver", 1, SO_TLS }, { "no-ssl-reuse", 0, SO_TLS },
	{ "ssl-reuse", 0, SO_TLS }, { "force-sslv3", 0, SO_TLS }, { "force-tlsv10", 0, SO_TLS },
	{ "force-tlsv11", 0, SO_TLS }, { "force-tlsv12", 0, SO_TLS }, { "force-tlsv13", 0, SO_TLS },
	{ "no-sslv3", 0, SO_TLS }, { "no-tlsv10", 0, SO_TLS }, { "no-tlsv11", 0, SO_TLS },
	{ "no-tlsv12", 0, SO_TLS }, { "no-tlsv13", 0, SO_TLS }, { "allow-0rtt", 0, SO_TLS },
	{ "no-ssl", 0, SO_SILENT },
	{ "source", 1, SO_ESSENTIAL }, { "usesrc", 1, SO_ESSENTIAL },
	{ "namespace", 1, SO_ESSENTIAL }, { "proto", 1, SO_ESSENTIAL }, { "redir", 1, SO_ESSENTIAL },
	{ "socks4", 1, SO_ESSENTIAL }, { "set-proxy-v2-tlv-fmt", 1, SO_ESSENTIAL },
	{ "send-proxy", 0, SO_PROXY1 }, { "send-proxy-v2", 0, SO_PROXY2 },
	{ "send-proxy-v2-ssl", 0, SO_PROXY2_TLV }, { "send-proxy-v2-ssl-cn", 0, SO_PROXY2_TLV },
	{ "proxy-v2-options", 1, SO_PROXY2_TLV }, { "no-send-proxy", 0, SO_NOPROXY },
	{ "no-send-proxy-v2", 0, SO_NOPROXY }, { "backup", 0, SO_BACKUP },
	{ "no-backup", 0, SO_NOBACKUP }, { "disabled", 0, SO_DISABLED }, { "enabled", 0, SO_ENABLED },
};

/* The options of a server or default-server line, words from `from` on,
 * into o. Returns false when the server can't be used as translated. */
bool hx_server_options(struct hx *x, const struct hx_line *l, size_t from,
			      struct hx_srvopts *o)
{
	char health[HX_TEXT_MAX + 4] = "", load[HX_TEXT_MAX + 4] = "", persist[HX_TEXT_MAX + 4] = "";
	bool usable = true, tls = false;

	for (size_t i = from; i < l->argc; i++) {
		const struct hx_opt *op = hx_opt_find(hx_server_opts, HX_ARRAY(hx_server_opts), l->argv[i]);
		char *group = NULL;

		if (!op) {
			hx_say(x, l->no, HX_ESSENTIAL, "'%s': unknown server option '%s'", l->text, l->argv[i]);
			break;
		}
		switch (op->what) {
		case SO_HEALTH: group = health; break;
		case SO_LOAD: group = load; break;
		case SO_PERSIST: group = persist; break;
		case SO_TLS: tls = true; break;
		case SO_ESSENTIAL:
			hx_say(x, l->no, HX_ESSENTIAL, "'%s': server option '%s' has no counterpart",
			       l->text, op->name);
			usable = false;
			break;
		case SO_PROXY2_TLV:
			hx_say(x, l->no, HX_MINOR,
			       "'%s': '%s': gatehouse sends a plain PROXY v2 header (no TLVs)",
			       l->text, op->name);
			if (op->args)
				break;
			/* fall through */
		case SO_PROXY2:
		case SO_PROXY1:
			o->proxy = op->what == SO_PROXY1 ? 1 : 2;
			o->proxy_line = l->no;
			break;
		case SO_NOPROXY:
			o->proxy = 0;
			o->proxy_line = l->no;
			break;
		case SO_BACKUP: o->backup = true; break;
		case SO_NOBACKUP: o->backup = false; break;
		case SO_DISABLED: o->disabled = true; break;
		case SO_ENABLED: o->disabled = false; break;
		case SO_CHECK:
			o->check = true;
			o->check_line = l->no;
			break;
		case SO_NOCHECK:
			o->check = false;
			break;
		case SO_INTER: {
			/* gatehouse's `check inter` takes 100ms to 1h */
			uint64_t ms = 0;
			const char *v = i + 1 < l->argc ? l->argv[i + 1] : "";
			if (!hx_duration(v, &ms) || ms == 0) {
				hx_say(x, l->no, HX_MINOR, "'%s': inter '%s' left out (not a duration)", l->text, v);
				break;
			}
			if (ms < 100 || ms > 3600000) {
				hx_say(x, l->no, HX_NOTE, "'%s': inter '%s' made %s (gatehouse checks every 100ms to 1h)",
				       l->text, v, ms < 100 ? "100ms" : "1h");
				ms = ms < 100 ? 100 : 3600000;
			}
			o->inter_ms = ms;
			break;
		}
		case SO_RISE:
		case SO_FALL: {
			char *end = NULL;
			unsigned long v = i + 1 < l->argc ? strtoul(l->argv[i + 1], &end, 10) : 0;
			if (!end || *end || v == 0 || v > 100) {
				hx_say(x, l->no, HX_MINOR, "'%s': %s '%s' left out (gatehouse takes 1 to 100)", l->text,
				       op->name, i + 1 < l->argc ? l->argv[i + 1] : "");
				break;
			}
			if (op->what == SO_RISE)
				o->rise = (unsigned)v;
			else
				o->fall = (unsigned)v;
			break;
		}
		case SO_MAXCONN: {
			/* summed over a site's servers into site-max-connections */
			char *end = NULL;
			unsigned long v = i + 1 < l->argc ? strtoul(l->argv[i + 1], &end, 10) : 0;
			if (!end || *end || v == 0 || v > 10000000) {
				hx_say(x, l->no, HX_MINOR, "'%s': maxconn '%s' left out (gatehouse takes 1 to 10000000)",
				       l->text, i + 1 < l->argc ? l->argv[i + 1] : "");
				v = 0;
			}
			o->maxconn = (unsigned)v;
			break;
		}
		default: break;
		}
		if (group) {
			size_t len = strlen(group);

			snprintf(group + len, HX_TEXT_MAX - len, "%s%s", len ? " " : "", op->name);
		}
		i += op->args;
	}
	if (health[0])
		hx_say(x, l->no, HX_MINOR,
		       "'%s': %s: not translated; gatehouse checks with `check inter rise fall` (a connect, or "
		       "`http-status` / `tls-hello` written by hand)",
		       l->text, health);
	if (load[0])
		hx_say(x, l->no, HX_MINOR, "'%s': %s: gatehouse's round robin has no weights or server queues",
		       l->text, load);
	if (persist[0])
		hx_say(x, l->no, HX_MINOR, "'%s': %s: no server persistence; one connection goes to one server",
		       l->text, persist);
	if (tls) {
		hx_say(x, l->no, HX_ESSENTIAL,
		       "'%s': TLS to the server ('ssl'): gatehouse never terminates or re-encrypts TLS; the client's own TLS reaches the server",
		       l->text);
		usable = false;
	}
	return usable;
}

void hx_server(struct hx *x, struct hx_proxy *p, const struct hx_line *l)
{
	struct hx_server s = { .o = p->defsrv, .line = l->no };
	const char *why;
	bool odd;

	p->server_lines++;
	if (l->argc < 3) {
		hx_say(x, l->no, HX_ESSENTIAL, "'%s': server without an address", l->text);
		return;
	}
	why = hx_parse_addr(l->argv[2], false, &s.a, &odd);
	if (why) {
		hx_say(x, l->no, HX_ESSENTIAL, "'%s': server %s at '%s': %s", l->text, l->argv[1],
		       l->argv[2], why);
		return;
	}
	if (odd) {
		char t[80];

		hx_addr_text(&s.a, s.a.port, t, sizeof(t));
		hx_say(x, l->no, HX_NOTE,
		       "'%s': HAProxy reads '%s' as %s (the last colon separates the port); bracket the address to make that plain",
		       l->text, l->argv[2], t);
	}
	if (!hx_server_options(x, l, 3, &s.o))
		return;
	s.name = hx_strdup(l->argv[1]);
	p->servers = hx_grow(p->servers, p->n_servers + 1, sizeof(*p->servers));
	p->servers[p->n_servers++] = s;
}
