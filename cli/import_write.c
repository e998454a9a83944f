/* SPDX-License-Identifier: MIT */
/*
 * The writer (import_write.h): the resolved model as gatehouse.conf text,
 * each line with a comment naming the HAProxy line it comes from.
 */
#include <stdlib.h>
#include <string.h>
#include "cli/import_edge.h"
#include "cli/import_write.h"

#define HX_MAX_MS (24ull * 3600ull * 1000ull)	/* gatehouse's longest duration */

struct hx_pick {
	uint64_t ms;
	unsigned line;
	const char *text;
	bool differ;
};

static void hx_pick(struct hx_pick *pk, const struct hx_ms *m)
{
	if (!m->line)
		return;
	if (pk->line && m->ms != pk->ms)
		pk->differ = true;
	/* 0 is "no timeout" in HAProxy: the largest of all */
	if (!pk->line || (pk->ms != 0 && (m->ms == 0 || m->ms > pk->ms))) {
		pk->ms = m->ms;
		pk->line = m->line;
		pk->text = m->text;
	}
}

static void hx_write_timeout(struct hx *x, FILE *o, const char *directive, const struct hx_pick *pk,
			     const char *why, bool say_differ)
{
	char d[32];
	uint64_t ms = pk->ms;

	if (!pk->line)
		return;
	if (ms == 0 || ms > HX_MAX_MS) {
		hx_say(x, pk->line, HX_NOTE, "'%s': gatehouse's longest %s is 24h", pk->text, directive);
		ms = HX_MAX_MS;
	}
	fprintf(o, "%-16s%-9s # %s:%u %s%s\n", directive, hx_fmt_ms(ms, d, sizeof(d)), x->file,
		pk->line, pk->text, why);
	if (pk->differ && say_differ)
		hx_say(x, pk->line, HX_NOTE, "gatehouse has one %s: took the largest, %s", directive, d);
}

static void hx_write_timeouts(struct hx *x, FILE *o)
{
	struct hx_pick inspect = { 0 }, connect = { 0 }, idle = { 0 }, queue = { 0 };

	for (int k = 0; k < GH_KIND_TCP_COUNT; k++) {
		for (size_t i = 0; i < x->kinds[k].n_fe; i++) {
			const struct hx_proxy *p = x->kinds[k].fe[i];

			hx_pick(&inspect, k == GH_KIND_TLS ? &p->inspect : &p->t.http_request);
			hx_pick(&idle, &p->t.client);
			hx_pick(&idle, &p->t.tunnel);
		}
	}
	for (size_t i = 0; i < x->n_px; i++) {
		const struct hx_proxy *p = x->px[i];

		if (!p->used)
			continue;
		hx_pick(&connect, &p->t.connect);
		hx_pick(&queue, &p->t.queue);
		hx_pick(&idle, &p->t.server);
		hx_pick(&idle, &p->t.tunnel);
	}
	if (inspect.line || connect.line || idle.line || queue.line)
		fprintf(o, "# timeouts\n");
	hx_write_timeout(x, o, "inspect-timeout", &inspect, "", true);
	hx_write_timeout(x, o, "connect-timeout", &connect, "", true);
	/* one idle timeout for both sides: the larger of client and server
	 * is the translation itself, not news */
	hx_write_timeout(x, o, "idle-timeout", &idle, " (the largest of client/server)", false);
	/* a wait for a site's slot (site-max-connections, from maxconn) */
	hx_write_timeout(x, o, "queue-timeout", &queue, "", true);
	if (inspect.line || connect.line || idle.line || queue.line)
		fputc('\n', o);
}

static void hx_write_listens(struct hx *x, FILE *o)
{
	struct {
		const struct hx_bind *b;
		enum gh_kind k;
		char text[80];
	} *all = NULL;
	size_t n = 0;
	bool any = false;

	for (int k = 0; k < GH_KIND_TCP_COUNT; k++) {
		for (size_t i = 0; i < x->kinds[k].n_fe; i++) {
			const struct hx_proxy *p = x->kinds[k].fe[i];

			for (size_t j = 0; j < p->n_binds; j++) {
				all = hx_grow(all, n + 1, sizeof(*all));
				all[n].b = &p->binds[j];
				all[n].k = (enum gh_kind)k;
				hx_addr_text(&p->binds[j].a, p->binds[j].a.port, all[n].text,
					     sizeof(all[n].text));
				n++;
			}
		}
	}
	for (size_t i = 0; i < n; i++) {
		const struct hx_bind *b = all[i].b;
		enum gh_kind k = all[i].k;
		bool dup = false;

		/* the same address twice would be refused, and a dual-stack
		 * [::]:P already takes the clients of 0.0.0.0:P */
		for (size_t j = 0; j < n && !dup; j++) {
			const struct hx_bind *c = all[j].b;

			dup = (j < i && !strcmp(all[j].text, all[i].text)) ||
			      (b->a.any && b->a.family == AF_INET && c->a.any &&
			       c->a.family == AF_INET6 && c->a.port == b->a.port);
		}
		if (dup)
			continue;
		if (!any)
			fprintf(o, "# where `gatehouse run` listens; under systemd the gatehouse-http.socket\n"
				   "# and gatehouse-tls.socket units decide (ports 80 and 443, all addresses)\n");
		any = true;
		/* `accept-proxy` on a bind: HAProxy takes a PROXY header from
		 * every peer there; so does this listen, for the operator to
		 * narrow to the balancers */
		fprintf(o, "listen %-4s %-18s%s # %s:%u %s%s\n", gh_kind_str(k), all[i].text,
			b->accept_proxy ? " accept-proxy 0.0.0.0/0 ::/0" : "", x->file, b->line, b->text,
			b->a.any && b->a.family == AF_INET ? " (IPv4 only, as in HAProxy)" : "");
		if (b->accept_proxy)
			hx_say(x, b->line, HX_NOTE,
			       "'%s': accept-proxy 0.0.0.0/0 ::/0 trusts every peer's PROXY header, as HAProxy did: narrow it to the balancers' addresses",
			       b->text);
		if (b->v6only && b->a.any && b->a.family == AF_INET6)
			hx_say(x, b->line, HX_NOTE, "'%s': gatehouse's [::]:%u is dual stack: IPv4 clients too",
			       b->text, b->a.port);
		if (b->a.port != (k == GH_KIND_HTTP ? 80u : 443u))
			hx_say(x, b->line, HX_NOTE,
			       "'%s': under systemd, set this port in gatehouse-%s.socket (systemctl edit gatehouse-%s.socket)",
			       b->text, gh_kind_str(k), gh_kind_str(k));
	}
	if (any)
		fputc('\n', o);
	free(all);
}

/* maxconn over a site's servers: their sum, the first line giving one,
 * and a server without one (then the site has no cap). */
struct hx_cap {
	unsigned long long sum;
	unsigned line, unlimited;
	const struct hx_proxy *be;	/* a backend that gave a maxconn */
};

/* A server's `check` (HAProxy's check inter rise fall), as a check line
 * of its own: only the options it set, gatehouse's defaults being
 * HAProxy's. */
static void hx_write_check(struct hx *x, FILE *o, const struct hx_server *sv, const char *addr)
{
	char line[160] = "check", d[32];
	size_t n = strlen(line);

	if (!sv->o.check)
		return;
	if (sv->o.inter_ms)
		n += (size_t)snprintf(line + n, sizeof(line) - n, " inter %s", hx_fmt_ms(sv->o.inter_ms, d, sizeof(d)));
	if (sv->o.rise)
		n += (size_t)snprintf(line + n, sizeof(line) - n, " rise %u", sv->o.rise);
	if (sv->o.fall)
		n += (size_t)snprintf(line + n, sizeof(line) - n, " fall %u", sv->o.fall);
	snprintf(line + n, sizeof(line) - n, " %s", addr);
	fprintf(o, "    %-35s # %s:%u check\n", line, x->file, sv->o.check_line ? sv->o.check_line : sv->line);
}

/* The servers of site s for kind k as gatehouse lines; returns how many,
 * and the PROXY version they agree on in *proxy (-1: they disagree). */
static size_t hx_write_servers(struct hx *x, FILE *o, const struct hx_site *s, enum gh_kind k,
			       int *proxy, unsigned *proxy_line, struct hx_cap *cap)
{
	const struct hx_proxy *b = s->be[k];
	size_t written = 0, n_seen = 0;
	char (*seen)[80] = NULL;

	if (!b)
		return 0;
	/* gatehouse has no backup tier: backups go last, so they are
	 * tried after the others when a connect fails */
	for (int pass = 0; pass < 2; pass++) {
		for (size_t i = 0; i < b->n_servers; i++) {
			const struct hx_server *sv = &b->servers[i];
			unsigned port = sv->a.port;
			char t[80];
			bool dup = false;

			if (sv->o.backup != (pass == 1))
				continue;
			if (sv->o.disabled) {
				hx_say(x, sv->line, HX_NOTE, "server '%s' is disabled; left out", sv->name);
				continue;
			}
			if (port == 0) {
				if (x->kinds[k].port == 0 || x->kinds[k].port == UINT32_MAX) {
					hx_say(x, sv->line, HX_ESSENTIAL,
					       "server '%s' has no port and the %s frontends bind several; write the port",
					       sv->name, gh_kind_str(k));
					continue;
				}
				port = x->kinds[k].port;
			}
			hx_addr_text(&sv->a, port, t, sizeof(t));
			for (size_t j = 0; j < n_seen && !dup; j++)
				dup = !strcmp(seen[j], t);
			if (dup) {
				hx_say(x, sv->line, HX_NOTE, "server '%s': %s is listed twice in backend '%s'; kept once",
				       sv->name, t, b->name);
				continue;
			}
			seen = hx_grow(seen, n_seen + 1, sizeof(*seen));
			memcpy(seen[n_seen++], t, sizeof(t));
			if (sv->o.backup)
				hx_say(x, sv->line, HX_NOTE,
				       "server '%s' is a backup: gatehouse has no backup tier, so it is listed after the others and takes its turn in the round robin",
				       sv->name);
			fprintf(o, "    %-4s %-30s # %s:%u server %s (backend %s)%s%s\n", gh_kind_str(k), t,
				x->file, sv->line, sv->name, b->name, sv->o.backup ? ", backup" : "",
				sv->a.port ? "" : ", port from the bind");
			hx_write_check(x, o, sv, t);
			if (!cap)
				;	/* the same backend as the other kind: counted there */
			else if (sv->o.maxconn) {
				cap->sum += sv->o.maxconn;
				cap->line = cap->line ? cap->line : sv->line;
				cap->be = b;
			} else {
				cap->unlimited = sv->line;
			}
			if (*proxy == -2) {
				*proxy = sv->o.proxy;
				*proxy_line = sv->o.proxy_line ? sv->o.proxy_line : sv->line;
			} else if (*proxy != sv->o.proxy && *proxy != -1) {
				hx_say(x, sv->line, HX_ESSENTIAL,
				       "server '%s' of site '%s': the servers disagree on send-proxy (see line %u): gatehouse sends a PROXY header to all servers of a site or to none; left off",
				       sv->name, s->name, *proxy_line);
				*proxy = -1;
			}
			written++;
		}
	}
	free(seen);
	if (b->server_lines == 0)
		hx_say(x, b->line, HX_NOTE,
		       "backend '%s' has no servers: HAProxy answered 503; gatehouse will %s", b->name,
		       k == GH_KIND_HTTP ? "answer 421" : "send unrecognized_name");
	return written;
}

/* HAProxy's per-server maxconn, as one cap per site: the sum over the
 * site's servers of both kinds, or none if any server has no limit. */
static void hx_write_cap(struct hx *x, FILE *m, const struct hx_site *s, const struct hx_cap *cap)
{
	char text[48];

	if (!cap->line)
		return;
	if (cap->unlimited) {
		hx_say(x, cap->unlimited, HX_NOTE,
		       "site '%s': other servers have maxconn, this one none (no limit): no site-max-connections",
		       s->name);
		return;
	}
	/* HAProxy's limit is the servers', whichever frontend: sites sharing
	 * the backend each get it whole here */
	size_t sharing = 0;
	for (size_t i = 0; i < x->n_sites; i++)
		for (int k = 0; k < GH_KIND_TCP_COUNT; k++)
			if (x->sites[i].be[k] == cap->be && (k == 0 || x->sites[i].be[0] != cap->be))
				sharing++;
	if (sharing > 1)
		hx_say(x, cap->line, HX_NOTE,
		       "backend '%s' serves %zu sites: each gets its maxconn sum as site-max-connections, so "
		       "together they may reach %zu times it", cap->be->name, sharing, sharing);
	snprintf(text, sizeof(text), "site-max-connections %llu", cap->sum > 10000000 ? 10000000ull : cap->sum);
	fprintf(m, "    %-35s # %s:%u maxconn, summed over the site's servers\n", text, x->file, cap->line);
}

static void hx_write_sites(struct hx *x, FILE *o)
{
	for (size_t i = 0; i < x->n_sites; i++) {
		struct hx_site *s = &x->sites[i];
		char *body = NULL;
		size_t body_len = 0, n = 0;
		FILE *m = open_memstream(&body, &body_len);
		int proxy = -2;
		unsigned proxy_line = 0;
		struct hx_cap cap = { 0 };

		if (!m)
			hx_oom();
		for (int k = 0; k < GH_KIND_TCP_COUNT; k++) {
			bool again = k > 0 && s->be[k] == s->be[0];
			size_t w = hx_write_servers(x, m, s, (enum gh_kind)k, &proxy, &proxy_line, again ? NULL : &cap);

			s->has[k] = w > 0;
			n += w;
		}
		if (proxy > 0)
			fprintf(m, "    %-35s # %s:%u send-proxy%s\n", proxy == 2 ? "proxy-protocol v2" :
				"proxy-protocol v1", x->file, proxy_line, proxy == 2 ? "-v2" : "");
		hx_write_cap(x, m, s, &cap);
		if (fclose(m) != 0)
			hx_oom();
		if (n == 0) {
			fprintf(o, "# site %s: no server could be translated (see the messages)\n\n", s->name);
		} else if (s->synthetic) {
			fprintf(o, "site %s   # only reached as a default (.invalid is never a real name)\n%s\n",
				s->name, body);
		} else {
			fprintf(o, "site %s\n%s\n", s->name, body);
		}
		free(body);
	}
}

static void hx_write_defaults(struct hx *x, FILE *o)
{
	static const char *const none[GH_KIND_TCP_COUNT] = {
		"no default_backend: HAProxy answered 503, gatehouse answers 421",
		"no default_backend: HAProxy closed the connection, gatehouse sends an unrecognized_name alert",
	};
	bool redirect = x->kinds[GH_KIND_HTTP].n_fe && x->kinds[GH_KIND_HTTP].fe[0]->redirect_line;

	for (int k = 0; k < GH_KIND_TCP_COUNT; k++) {
		const struct hx_kind *kd = &x->kinds[k];
		const char *ks = gh_kind_str((enum gh_kind)k);
		const struct hx_site *ds = hx_default_site(x, (enum gh_kind)k);

		if (kd->n_fe == 0)
			continue;
		if (ds && ds->has[k])
			fprintf(o, "default %-4s %-25s # %s:%u backend %s\n", ks, ds->name,
				x->file, kd->default_line, kd->default_backend);
		else if (kd->default_backend)
			fprintf(o, "default %-4s %-25s # backend '%s' has no servers here\n", ks, "reject",
				kd->default_backend);
		else if (k == GH_KIND_HTTP && redirect)
			fprintf(o, "default %-4s %-25s # only ACME challenges are routed; no site: 421\n", ks,
				"reject");
		else
			fprintf(o, "default %-4s %-25s # %s\n", ks, "reject", none[k]);
	}
}

void hx_write(struct hx *x, FILE *o)
{
	const struct hx_kind *http = &x->kinds[GH_KIND_HTTP];

	fprintf(o, "# gatehouse.conf converted from %s by `gatehouse import-haproxy`.\n"
		   "# Check it with `gatehouse check -c FILE`; see gatehouse.conf(5).\n",
		x->file);
	if (x->global_line)
		fprintf(o, "# HAProxy's global section (%s:%u: user, chroot, logging, stats socket)\n"
			   "# has no counterpart: gatehouse runs sandboxed and logs to the journal.\n",
			x->file, x->global_line);
	fputc('\n', o);
	hx_write_timeouts(x, o);
	hx_write_listens(x, o);
	hx_write_edge(x, o);
	if (http->n_fe) {
		const struct hx_proxy *p = http->fe[0];

		if (p->redirect_line)
			fprintf(o, "http-mode redirect-https  # %s:%u redirect scheme https (ACME challenges are still routed)\n\n",
				x->file, p->redirect_line);
		else
			fprintf(o, "http-mode route           # frontend %s (%s:%u)\n\n", p->name, x->file, p->line);
		if (p->n_rules > 0 || hx_fallback(p))
			fprintf(o, "# HAProxy routed each request by its own Host; gatehouse routes a\n"
				   "# connection by its first request (browsers keep one per site).\n\n");
	} else if (x->kinds[GH_KIND_TLS].n_fe) {
		fprintf(o, "# HAProxy had no mode http frontend; gatehouse still listens for HTTP\n"
			   "# (port 80) and answers 421 for names whose site has no http servers.\n\n");
	}
	hx_write_sites(x, o);
	hx_write_defaults(x, o);
}
