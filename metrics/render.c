/* SPDX-License-Identifier: MIT */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "common/clock.h"
#include "metrics/render.h"
#include "router/gh_limits.h"

void mbuf_printf(struct mbuf *b, const char *fmt, ...)
{
	for (int tries = 0; tries < 2 && !b->failed; tries++) {
		va_list ap;
		va_start(ap, fmt);
		int n = vsnprintf(b->p ? b->p + b->len : NULL, b->p ? b->cap - b->len : 0, fmt, ap);
		va_end(ap);
		if (n < 0) {
			b->failed = true;
			return;
		}
		if (b->p && (size_t)n < b->cap - b->len) {
			b->len += (size_t)n;
			return;
		}
		size_t cap = b->cap ? b->cap : 16384;
		while (cap - b->len <= (size_t)n)
			cap *= 2;
		char *np = realloc(b->p, cap);
		if (!np) {
			b->failed = true;
			return;
		}
		b->p = np;
		b->cap = cap;
	}
}

void mbuf_free(struct mbuf *b)
{
	free(b->p);
	memset(b, 0, sizeof(*b));
}

/* A label value: site names are normalised host names already; escape
 * what the format needs anyway. */
static const char *esc(const char *s, char *out, size_t size)
{
	size_t o = 0;
	for (; *s && o + 3 < size; s++) {
		if (*s == '\\' || *s == '"' || *s == '\n') {
			out[o++] = '\\';
			out[o++] = *s == '\n' ? 'n' : *s;
		} else {
			out[o++] = *s;
		}
	}
	out[o] = '\0';
	return out;
}

static void family(struct mbuf *b, const char *name, const char *type, const char *help)
{
	mbuf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* A histogram family from per-slot counts (the last slot +Inf) over
 * bounds in microseconds: cumulative buckets in seconds, _sum, _count. */
static void histogram(struct mbuf *b, const char *name, const char *help, const uint64_t *slots,
		      const uint64_t *bounds_us, unsigned n, uint64_t sum_us)
{
	uint64_t cum = 0;

	family(b, name, "histogram", help);
	for (unsigned i = 0; i < n; i++) {
		cum += slots[i];
		if (i + 1 < n)
			mbuf_printf(b, "%s_bucket{le=\"%g\"} %llu\n", name, (double)bounds_us[i] / 1e6,
				    (unsigned long long)cum);
		else
			mbuf_printf(b, "%s_bucket{le=\"+Inf\"} %llu\n", name, (unsigned long long)cum);
	}
	mbuf_printf(b, "%s_sum %.6f\n", name, (double)sum_us / 1e6);
	mbuf_printf(b, "%s_count %llu\n", name, (unsigned long long)cum);
}

static const char *role_str(uint32_t role)
{
	return role == CTR_LISTENER ? "listener" : "forwarder";
}

/* Each checked server of the newest generation, as its checker last
 * found it: 1 up (or not checked yet), 0 down. A tls-alpn route's server
 * that is also one of the site's tls servers is one series. */
static void render_health(const struct pages *ps, struct mbuf *b)
{
	const struct mgen *g = NULL;
	char e[1024];

	for (unsigned i = 0; i < ps->n_gens; i++)
		if (ps->gens[i].gen == ps->newest_gen)
			g = &ps->gens[i];
	if (!g || !g->cfg->n_checks)
		return;
	family(b, "gatehouse_server_up", "gauge",
	       "Health of each checked server (`check`): 1 up or not checked yet, 0 down.");
	uint64_t now = clock_now_ms();
	for (size_t s = 0; s < g->cfg->n_sites; s++) {
		const struct gh_site *site = &g->cfg->sites[s];
		esc(site->name, e, sizeof(e));
		for (unsigned k = 0; k < GH_KIND_TCP_COUNT; k++) {	/* quic servers are not checked */
			size_t n = 0;
			const struct gh_addr *all[GH_MAX_SERVERS * 2];
			for (size_t i = 0; i < site->n_servers[k] && n < GH_MAX_SERVERS * 2; i++)
				all[n++] = &site->servers[k][i];
			for (size_t r = 0; k == GH_KIND_TLS && r < site->n_alpn; r++)
				for (size_t i = 0; i < site->alpn[r].n_servers && n < GH_MAX_SERVERS * 2; i++)
					all[n++] = &site->alpn[r].servers[i];
			for (size_t i = 0; site->check_of[k] && i < n; i++) {
				bool dup = false;
				for (size_t j = 0; j < i && !dup; j++)
					dup = !strcmp(all[j]->text, all[i]->text) && site->check_of[k][j] != GH_NO_CHECK;
				if (dup || site->check_of[k][i] == GH_NO_CHECK)
					continue;
				enum health_state st = health_state_of(&g->hv, site->check_of[k][i], now);
				mbuf_printf(b, "gatehouse_server_up{site=\"%s\",kind=\"%s\",server=\"%s\"} %d\n", e,
					    gh_kind_str((enum gh_kind)k), all[i]->text, st != HEALTH_DOWN);
			}
		}
	}
}

void render_metrics(const struct pages *ps, uint64_t start_time, struct mbuf *b)
{
	struct msite *sites = calloc(ps->n_sites ? ps->n_sites : 1, sizeof(*sites));
	struct mtotals t;
	char e[1024];

	if (!sites) {
		b->failed = true;
		return;
	}
	pages_sum(ps, sites, &t);

	family(b, "gatehouse_connections_total", "counter",
	       "Client connections a forwarder ended, by site, kind and result (the log record's GATEHOUSE_RESULT).");
	for (unsigned i = 0; i < ps->n_sites; i++)
		for (unsigned k = 0; k < GH_KIND_COUNT; k++)
			for (unsigned r = 0; r < CTR_RESULTS; r++)
				/* ok always, so that each site's series exists from the start */
				if (r == 0 || sites[i].conns[k][r])
					mbuf_printf(b, "gatehouse_connections_total{site=\"%s\",kind=\"%s\",result=\"%s\"} %llu\n",
						    esc(sites[i].name, e, sizeof(e)), gh_kind_str((enum gh_kind)k),
						    ctr_result_names[r], (unsigned long long)sites[i].conns[k][r]);
	family(b, "gatehouse_bytes_total", "counter",
	       "Bytes relayed by site: in from clients to servers, out from servers to clients.");
	for (unsigned i = 0; i < ps->n_sites; i++) {
		esc(sites[i].name, e, sizeof(e));
		mbuf_printf(b, "gatehouse_bytes_total{site=\"%s\",direction=\"in\"} %llu\n", e,
			    (unsigned long long)sites[i].bytes_in);
		mbuf_printf(b, "gatehouse_bytes_total{site=\"%s\",direction=\"out\"} %llu\n", e,
			    (unsigned long long)sites[i].bytes_out);
	}
	family(b, "gatehouse_relays", "gauge",
	       "Connections a running forwarder holds now (dialling, queued or relaying).");
	for (unsigned i = 0; i < ps->n_pages; i++) {
		const struct mpage *pg = &ps->pages[i];
		if (pg->role == CTR_FORWARDER)
			mbuf_printf(b, "gatehouse_relays{generation=\"%u\",forwarder=\"%u\"} %llu\n", pg->gen, pg->index,
				    (unsigned long long)atomic_load_explicit(&pg->c->open, memory_order_relaxed));
	}
	family(b, "gatehouse_accepted_total", "counter", "Clients the listener accepted.");
	mbuf_printf(b, "gatehouse_accepted_total %llu\n", (unsigned long long)t.accepted);
	family(b, "gatehouse_handoffs_total", "counter", "Clients the listener handed to a forwarder.");
	mbuf_printf(b, "gatehouse_handoffs_total %llu\n", (unsigned long long)t.handed_off);
	family(b, "gatehouse_rejections_total", "counter",
	       "Clients the listener refused or answered itself with an error, by reason.");
	unsigned redirect = counters_index(ctr_answer_names, CTR_ANSWERS, "redirect");
	for (unsigned a = 0; a < CTR_ANSWERS; a++)
		if (a != redirect)
			mbuf_printf(b, "gatehouse_rejections_total{reason=\"%s\"} %llu\n", ctr_answer_names[a],
				    (unsigned long long)t.answers[a]);
	family(b, "gatehouse_redirects_total", "counter", "HTTP requests the listener answered with a redirect to https.");
	mbuf_printf(b, "gatehouse_redirects_total %llu\n", (unsigned long long)t.answers[redirect]);
	histogram(b, "gatehouse_inspection_seconds",
		  "Time from accept to the listener's decision (hand-off or answer), in seconds.", t.inspect,
		  ctr_inspect_bounds_us, CTR_INSPECT_SLOTS, t.inspect_sum_us);
	histogram(b, "gatehouse_connect_seconds",
		  "Time from a forwarder's connect() to the server's answer, connects that succeeded, in seconds.",
		  t.connect, ctr_connect_bounds_us, CTR_CONNECT_SLOTS, t.connect_sum_us);
	family(b, "gatehouse_server_connect_failures_total", "counter",
	       "Connects to a server that failed (refused, reset or timed out), by site, kind and server; only servers that ever failed.");
	for (unsigned i = 0; t.servers && i < t.n_servers; i++) {
		const struct mserver *v = &t.servers[i];
		char a[256];
		mbuf_printf(b, "gatehouse_server_connect_failures_total{site=\"%s\",kind=\"%s\",server=\"%s\"} %llu\n",
			    esc(sites[v->site].name, e, sizeof(e)), gh_kind_str((enum gh_kind)v->kind),
			    esc(v->addr, a, sizeof(a)), (unsigned long long)v->fails);
	}
	family(b, "gatehouse_queued", "gauge", "Clients waiting for one of a site's slots (site-max-connections) now, by site.");
	for (unsigned i = 0; i < ps->n_sites; i++)
		mbuf_printf(b, "gatehouse_queued{site=\"%s\"} %llu\n", esc(sites[i].name, e, sizeof(e)),
			    (unsigned long long)sites[i].queued);
	family(b, "gatehouse_queue_waits_total", "counter", "Clients that waited for a site's slot and got one, by site.");
	for (unsigned i = 0; i < ps->n_sites; i++)
		mbuf_printf(b, "gatehouse_queue_waits_total{site=\"%s\"} %llu\n", esc(sites[i].name, e, sizeof(e)),
			    (unsigned long long)sites[i].queue_waits);
	family(b, "gatehouse_queue_wait_seconds_total", "counter",
	       "How long those clients waited, in all, by site (÷ gatehouse_queue_waits_total: the mean wait).");
	for (unsigned i = 0; i < ps->n_sites; i++)
		mbuf_printf(b, "gatehouse_queue_wait_seconds_total{site=\"%s\"} %.3f\n", esc(sites[i].name, e, sizeof(e)),
			    (double)sites[i].queue_wait_ms / 1e3);
	render_health(ps, b);
	family(b, "gatehouse_generation", "gauge", "The newest generation (a reload or a listener restart starts one).");
	mbuf_printf(b, "gatehouse_generation %u\n", ps->newest_gen);
	family(b, "gatehouse_generations_total", "counter", "Generations started since the exporter started.");
	mbuf_printf(b, "gatehouse_generations_total %llu\n", (unsigned long long)ps->generations);
	family(b, "gatehouse_reloads_total", "counter", "Generations started by a reload (SIGHUP).");
	mbuf_printf(b, "gatehouse_reloads_total %llu\n", (unsigned long long)ps->reloads);
	family(b, "gatehouse_listener_restarts_total", "counter",
	       "Generations started because the listener exited (a crash, or a lost forwarder channel).");
	mbuf_printf(b, "gatehouse_listener_restarts_total %llu\n", (unsigned long long)ps->restarts);
	family(b, "gatehouse_daemon_start_time_seconds", "gauge",
	       "Start time of each running daemon, seconds since the epoch.");
	for (unsigned i = 0; i < ps->n_pages; i++) {
		const struct mpage *pg = &ps->pages[i];
		mbuf_printf(b, "gatehouse_daemon_start_time_seconds{role=\"%s\",generation=\"%u\",index=\"%u\"} %llu\n",
			    role_str(pg->role), pg->gen, pg->index, (unsigned long long)pg->c->start_time);
	}
	family(b, "process_start_time_seconds", "gauge", "Start time of the exporter, seconds since the epoch.");
	mbuf_printf(b, "process_start_time_seconds %llu\n", (unsigned long long)start_time);
	free(sites);
	free(t.servers);
}
