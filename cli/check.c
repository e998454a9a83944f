/* SPDX-License-Identifier: MIT */
/* `gatehouse check`: the config's errors, or a summary of what it says. */
#include <stdio.h>
#include "cli/capacity.h"
#include "cli/cli.h"
#include "common/config_load.h"
#include "common/daemon.h"

static const char *plural(size_t n)
{
	return n == 1 ? "" : "s";
}

static void print_alpn(const char *where, const struct gh_alpn_route *r)
{
	printf("  %s: tls-alpn %s ->", where, r->protocol);
	for (size_t i = 0; i < r->n_servers; i++)
		printf(" %s", r->servers[i].text);
	printf("\n");
}

/* ALPN routes: the global lines once, then each site's own */
static void print_alpn_routes(const struct gh_config *c)
{
	for (size_t i = 0; i < c->n_alpn; i++)
		print_alpn("every TLS site without its own line", &c->alpn[i]);
	for (size_t s = 0; s < c->n_sites; s++)
		for (size_t i = 0; i < c->sites[s].n_alpn; i++)
			if (!c->sites[s].alpn[i].inherited)
				print_alpn(c->sites[s].name, &c->sites[s].alpn[i]);
}

/* QUIC only when the file mentions it, so older files read as before */
static void print_quic(const char *path, const struct gh_config *c, size_t n_servers)
{
	size_t listens = 0;

	for (size_t i = 0; i < c->n_listens; i++)
		listens += c->listens[i].kind == GH_KIND_QUIC;
	if (!listens && !n_servers)
		return;
	printf("quic: %zu server%s, %zu listen address%s, default %s, flow idle timeout %ums\n", n_servers,
	       plural(n_servers), listens, listens == 1 ? "" : "es",
	       c->default_site[GH_KIND_QUIC] == GH_NO_SITE ? "reject" : c->sites[c->default_site[GH_KIND_QUIC]].name,
	       c->quic_idle_timeout_ms);
	if (!listens)
		fprintf(stderr, "%s: note: quic servers but no 'listen quic' line: no site is reached over QUIC\n",
			path);
}

int cmd_check(const char *path)
{
	size_t names = 0, servers[GH_KIND_COUNT] = { 0 };
	struct gh_config *c;
	int r;

	if (!path)
		path = CLI_DEFAULT_CONFIG;
	r = config_load_file(path, stderr, &c);
	if (r < 0)
		return 1;
	for (size_t i = 0; i < c->n_sites; i++) {
		names += c->sites[i].n_names;
		for (int k = 0; k < GH_KIND_COUNT; k++)
			servers[k] += c->sites[i].n_servers[k];
	}
	printf("%s: OK: %zu site%s, %zu name%s, %zu server%s (http: %zu, tls: %zu), http-mode %s\n",
	       path, c->n_sites, plural(c->n_sites), names, plural(names),
	       servers[GH_KIND_HTTP] + servers[GH_KIND_TLS],
	       plural(servers[GH_KIND_HTTP] + servers[GH_KIND_TLS]),
	       servers[GH_KIND_HTTP], servers[GH_KIND_TLS], gh_http_mode_str(c->http_mode));
	print_alpn_routes(c);
	if (c->n_checks)	/* what gatehouse-health will check (README "Health checks") */
		printf("  health checks: %zu server%s, checked once per interval by gatehouse-health\n", c->n_checks,
		       plural(c->n_checks));
	print_quic(path, c, servers[GH_KIND_QUIC]);
	/* what the daemons hold under this process's fd limit (they raise
	 * soft to hard; `gatehouse run` as root raises it for max-connections) */
	unsigned nf = daemon_forwarders(c);
	char cap[512];
	capacity_describe(c, nf, capacity_nofile(), cap, sizeof(cap));
	printf("%s\n", cap);
	/* each forwarder enforces its share, rounded up (forwarder/queue.c) */
	for (size_t i = 0; i < c->n_sites && nf > 1; i++) {
		unsigned lim = c->sites[i].max_connections;
		unsigned share = (lim + nf - 1) / nf;
		if (lim && share * nf != lim)
			fprintf(stderr, "%s:%u: note: site %s: site-max-connections %u over %u forwarders is %u each, "
				"so up to %u at once; a multiple of %u (or `forwarders 1`) makes it exact\n",
				path, c->sites[i].line, c->sites[i].name, lim, nf, share, share * nf, nf);
	}
	config_free(c);
	return 0;
}
