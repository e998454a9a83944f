/* SPDX-License-Identifier: MIT */
/*
 * The compiled config's reader: every offset, count, string, address and
 * value a daemon will use is checked once, before any of it is used; the
 * big arrays are then used in place (config_image.h).
 */
#include <errno.h>
#include <stddef.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "router/config_image.h"
#include "router/config_image_format.h"
#include "router/config_parser.h"
#include "router/gh_limits.h"
#include "router/prefixset.h"
#include "router/routes.h"
#include "router/srclimit.h"

struct config_image_ref {
	const void *base;
	size_t len;
	config_image_release_fn release;
	char **names;		/* every site name, pointing into the image */
};

struct ci_reader {
	const uint8_t *b;
	size_t len;
	struct ci_header h;
	uint64_t end;		/* where the last array checked so far ends */
	char *why;
	size_t why_size;
};

static int ci_bad(struct ci_reader *rd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int ci_bad(struct ci_reader *rd, const char *fmt, ...)
{
	va_list ap;

	if (rd->why && rd->why_size) {
		va_start(ap, fmt);
		vsnprintf(rd->why, rd->why_size, fmt, ap);
		va_end(ap);
	}
	return -EINVAL;
}

/* An array of count elements of elem bytes inside the image, aligned. */
static int ci_range_ok(struct ci_reader *rd, const struct ci_range *r, size_t elem, const char *what)
{
	if (r->off % CI_ALIGN || r->off < sizeof(rd->h) || r->off > rd->len ||
	    r->count > (rd->len - r->off) / elem || r->count >= CI_NONE)
		return ci_bad(rd, "%s: offset %llu, %llu elements: outside the image (%zu bytes)", what,
			      (unsigned long long)r->off, (unsigned long long)r->count, rd->len);
	if (r->count && r->off + r->count * elem > rd->end)
		rd->end = r->off + r->count * elem;
	return 0;
}

/* first..first+n inside an array of count elements */
static bool ci_span_ok(uint32_t first, uint32_t n, uint64_t count)
{
	return (uint64_t)first + n <= count;
}

/* A NUL-terminated string of the strings array, without inner NULs. */
static const char *ci_string(struct ci_reader *rd, const struct ci_name *n)
{
	const char *s = (const char *)rd->b + rd->h.strings.off;
	uint64_t count = rd->h.strings.count;

	if (n->off >= count || n->len >= count - n->off || s[n->off + n->len] != '\0' ||
	    memchr(s + n->off, '\0', n->len))
		return NULL;
	return s + n->off;
}

static bool ci_addr_ok(const struct gh_addr *a, bool may_be_empty)
{
	if (!memchr(a->text, '\0', sizeof(a->text)))
		return false;
	if (a->len == 0)
		return may_be_empty;
	if (a->ss.ss_family == AF_INET6)
		return a->len == sizeof(struct sockaddr_in6);
	if (a->ss.ss_family == AF_INET)
		return a->len == sizeof(struct sockaddr_in);
	return false;
}

/* The image is read-only memory: the daemon's structs point into it with
 * their usual non-const pointer types (gh_site has no const members), and
 * nothing writes through them; a write would fault, not corrupt. */
static void *ci_unconst(const void *p)
{
	return (void *)(uintptr_t)p;
}

/* on 0 or 1; off (unset or `off`) with no prefix bits left over */
static bool ci_prefix_ok(const struct ci_prefix *p)
{
	static const uint8_t zero[sizeof(p->prefix)];

	return p->on == 1 || (p->on == 0 && !memcmp(p->prefix, zero, sizeof(zero)));
}

static struct gh_source_prefix ci_prefix_get(const struct ci_prefix *p)
{
	struct gh_source_prefix sp = { .on = p->on == 1, .line = p->line };

	memcpy(sp.prefix, p->prefix, sizeof(sp.prefix));
	return sp;
}

/* `source-rate N/DURATION` as parsed, or none (both 0) */
static bool ci_rate_ok(uint32_t rate, uint32_t window_ms)
{
	if (rate == 0)
		return window_ms == 0;
	return rate <= CONFIG_SOURCE_RATE_MAX && window_ms >= 1 && window_ms <= CONFIG_MAX_DURATION_MS;
}

static int ci_header_ok(struct ci_reader *rd)
{
	struct ci_header *h = &rd->h;

	if (rd->len < sizeof(*h))
		return ci_bad(rd, "truncated: %zu bytes, the header alone is %zu", rd->len, sizeof(*h));
	memcpy(h, rd->b, sizeof(*h));
	if (memcmp(h->magic, CONFIG_IMAGE_MAGIC, CONFIG_IMAGE_MAGIC_LEN) != 0)
		return ci_bad(rd, "not a gatehouse config image (bad magic)");
	if (h->version != CI_VERSION || h->endian != CI_ENDIAN || h->sizeof_header != sizeof(*h) ||
	    h->sizeof_addr != sizeof(struct gh_addr) || h->sizeof_listen != sizeof(struct ci_listen) ||
	    h->sizeof_entry != sizeof(struct prefixset_entry) || h->sizeof_slot != sizeof(struct routes_slot) ||
	    h->sizeof_check != sizeof(struct gh_check_target))
		return ci_bad(rd, "image version %u from another build (this one reads version %u)",
			      h->version, CI_VERSION);
	if (h->size != rd->len)
		return ci_bad(rd, "truncated or padded: the header says %llu bytes, the image has %zu",
			      (unsigned long long)h->size, rd->len);
	if (ci_range_ok(rd, &h->listens, sizeof(struct ci_listen), "listens") ||
	    ci_range_ok(rd, &h->sites, sizeof(struct ci_site), "sites") ||
	    ci_range_ok(rd, &h->addrs, sizeof(struct gh_addr), "servers") ||
	    ci_range_ok(rd, &h->names, sizeof(struct ci_name), "names") ||
	    ci_range_ok(rd, &h->strings, 1, "strings") ||
	    ci_range_ok(rd, &h->entries, sizeof(struct prefixset_entry), "access rules") ||
	    ci_range_ok(rd, &h->alpns, sizeof(struct ci_alpn), "tls-alpn routes") ||
	    ci_range_ok(rd, &h->checks, sizeof(struct gh_check_target), "health checks") ||
	    ci_range_ok(rd, &h->check_of, sizeof(uint32_t), "servers' health checks"))
		return -EINVAL;
	if (h->checks.count > GH_MAX_CHECKS)
		return ci_bad(rd, "%llu servers to check, at most %u", (unsigned long long)h->checks.count,
			      GH_MAX_CHECKS);
	if (h->listens.count > CONFIG_MAX_LISTENS)
		return ci_bad(rd, "%llu listens, at most %u", (unsigned long long)h->listens.count,
			      CONFIG_MAX_LISTENS);
	if (h->http_mode > GH_HTTP_REDIRECT_HTTPS || h->forwarders > CONFIG_MAX_FORWARDERS ||
	    h->max_head < CONFIG_MIN_HEAD || h->max_head > CONFIG_MAX_HEAD ||
	    h->inspect_timeout_ms > CONFIG_MAX_DURATION_MS || h->connect_timeout_ms > CONFIG_MAX_DURATION_MS ||
	    h->idle_timeout_ms > CONFIG_MAX_DURATION_MS || h->quic_idle_timeout_ms > CONFIG_MAX_DURATION_MS ||
	    h->queue_timeout_ms > CONFIG_MAX_DURATION_MS)
		return ci_bad(rd, "a setting out of range (http-mode, forwarders, max-head-size or a timeout)");
	for (int k = 0; k < GH_KIND_COUNT; k++)
		if (h->default_site[k] != GH_NO_SITE && h->default_site[k] >= h->sites.count)
			return ci_bad(rd, "default %s: site %u of %llu", gh_kind_str((enum gh_kind)k),
				      h->default_site[k], (unsigned long long)h->sites.count);
	if (!ci_addr_ok(&h->metrics, true))
		return ci_bad(rd, "bad metrics address");
	if (!ci_prefix_ok(&h->source_prefix))
		return ci_bad(rd, "global source-prefix is corrupt");
	/* the ranges config_limits.c accepts */
	if (!ci_rate_ok(h->src_rate, h->src_window_ms) || h->src_inspecting > GH_MAX_INSPECTING ||
	    h->src_v6_prefix > 128 || h->src_connections > CONFIG_SOURCE_CONNECTIONS_MAX ||
	    (h->src_slots && (h->src_slots < GH_MAX_INSPECTING || h->src_slots > SRCLIMIT_MAX_SLOTS)))
		return ci_bad(rd, "a per-source limit out of range (source-rate, source-inspecting, "
			      "source-prefix-v6, source-table or source-connections)");
	if (h->refuse_direct > 1 || h->proxy_listen_lists > 1)
		return ci_bad(rd, "direct-clients or the listens' accept-proxy flag is corrupt");
	return 0;
}

/* allow_only: an accept-proxy list (its rules trust, they never deny) */
static int ci_acl(struct ci_reader *rd, uint32_t first, uint32_t n, uint32_t line, struct gh_acl *acl,
		  bool allow_only, const char *where)
{
	const struct prefixset_entry *e = (const void *)(rd->b + rd->h.entries.off);
	int r;

	if (!ci_span_ok(first, n, rd->h.entries.count) || n > CONFIG_MAX_ACL_RULES)
		return ci_bad(rd, "%s: access rules %u+%u outside the image", where, first, n);
	acl->line = line;
	if (n == 0)
		return 0;
	for (uint32_t i = 0; i < n; i++)
		if ((e[first + i].value != GH_ACL_DENY || allow_only) && e[first + i].value != GH_ACL_ALLOW)
			return ci_bad(rd, "%s: access rule %u is neither allow nor deny%s", where, i,
				      allow_only ? " (accept-proxy: allow only)" : "");
	acl->rules = malloc(n * sizeof(*acl->rules));
	if (!acl->rules)
		return -ENOMEM;
	memcpy(acl->rules, e + first, n * sizeof(*acl->rules));
	acl->n_rules = n;
	r = config_acl_build(acl);
	if (r == -EINVAL)
		return ci_bad(rd, "%s: a malformed access rule", where);
	return r;
}

static int ci_alpn(struct ci_reader *rd, uint32_t first, uint32_t n, struct gh_alpn_route **out,
		   size_t *n_out, const char *where)
{
	const struct ci_alpn *a = (const void *)(rd->b + rd->h.alpns.off);
	const struct gh_addr *addrs = (const void *)(rd->b + rd->h.addrs.off);
	struct gh_alpn_route *l;

	if (!ci_span_ok(first, n, rd->h.alpns.count) || n > 2 * CONFIG_MAX_ALPN_ROUTES)
		return ci_bad(rd, "%s: tls-alpn routes %u+%u outside the image", where, first, n);
	if (n == 0)
		return 0;
	l = calloc(n, sizeof(*l));
	if (!l)
		return -ENOMEM;
	*out = l;
	*n_out = n;
	for (uint32_t i = 0; i < n; i++) {
		const struct ci_alpn *ca = &a[first + i];

		if (ca->protocol_len == 0 || ca->protocol_len >= sizeof(ca->protocol) ||
		    memchr(ca->protocol, '\0', ca->protocol_len) || ca->protocol[ca->protocol_len] != '\0' ||
		    ca->inherited > 1 || ca->n_servers > CONFIG_MAX_SERVERS ||
		    !ci_span_ok(ca->servers, ca->n_servers, rd->h.addrs.count))
			return ci_bad(rd, "%s: tls-alpn route %u is corrupt", where, i);
		memcpy(l[i].protocol, ca->protocol, sizeof(l[i].protocol));
		l[i].protocol_len = (uint8_t)ca->protocol_len;
		l[i].inherited = ca->inherited;
		l[i].servers = ci_unconst(addrs + ca->servers);
		l[i].n_servers = ca->n_servers;
		l[i].line = ca->line;
	}
	return 0;
}

/* A check target as config_check.c makes it: a TCP kind, a site, the
 * parser's ranges, and only the options that apply to its kind. */
static bool ci_check_ok(const struct gh_check_target *t, uint64_t n_sites)
{
	const struct gh_check *o = &t->opts;
	/* a bool read with another byte in it is undefined: look at the byte */
	uint8_t tls_hello = ((const uint8_t *)t)[offsetof(struct gh_check_target, opts.tls_hello)];
	unsigned kind = (unsigned)t->kind;
	const char *end = memchr(o->http_path, '\0', sizeof(o->http_path));

	if (kind >= GH_KIND_TCP_COUNT || t->site >= n_sites || !ci_addr_ok(&t->addr, false) || tls_hello > 1)
		return false;
	if (o->inter_ms < CONFIG_CHECK_MIN_INTER_MS || o->inter_ms > CONFIG_CHECK_MAX_INTER_MS ||
	    o->rise < 1 || o->rise > CONFIG_CHECK_MAX_COUNT || o->fall < 1 || o->fall > CONFIG_CHECK_MAX_COUNT)
		return false;
	if (o->http_status && (o->http_status < 100 || o->http_status > 599 || kind != GH_KIND_HTTP))
		return false;
	if (tls_hello && kind != GH_KIND_TLS)
		return false;
	if (!end || !config_check_path_ok(o->http_path, (size_t)(end - o->http_path), sizeof(o->http_path)))
		return false;
	return o->http_status || !strcmp(o->http_path, "/");
}

static int ci_checks(struct ci_reader *rd, struct gh_config *c)
{
	const struct gh_check_target *t = (const void *)(rd->b + rd->h.checks.off);

	for (uint64_t i = 0; i < rd->h.checks.count; i++)
		if (!ci_check_ok(&t[i], rd->h.sites.count))
			return ci_bad(rd, "health check %llu is corrupt (kind, site, address or options)",
				      (unsigned long long)i);
	c->checks = rd->h.checks.count ? ci_unconst(t) : NULL;
	c->n_checks = rd->h.checks.count;
	return 0;
}

/* Server o of site s's kind k in the dial-state layout (config.h). */
static const struct gh_addr *ci_dial_server(const struct gh_site *s, int k, size_t o)
{
	if (o < s->n_servers[k])
		return &s->servers[k][o];
	o -= s->n_servers[k];
	for (size_t r = 0; k == GH_KIND_TLS && r < s->n_alpn; r++) {
		if (o < s->alpn[r].n_servers)
			return &s->alpn[r].servers[o];
		o -= s->alpn[r].n_servers;
	}
	return NULL;
}

/* A site's check_of maps: one entry per server the forwarder dials (it
 * reads them all), each GH_NO_CHECK or a target of that kind and address;
 * QUIC servers are never checked. c->checks already read. */
static int ci_check_of(struct ci_reader *rd, const struct gh_config *c, const struct ci_site *x,
		       struct gh_site *s, const char *where)
{
	const uint32_t *all = (const void *)(rd->b + rd->h.check_of.off);

	for (int k = 0; k < GH_KIND_COUNT; k++) {
		size_t want = s->n_servers[k];

		for (size_t r = 0; k == GH_KIND_TLS && r < s->n_alpn; r++)
			want += s->alpn[r].n_servers;
		if (x->check_of[k] == CI_NONE) {
			if (x->n_check_of[k])
				return ci_bad(rd, "%s: %u %s health checks without an array", where,
					      x->n_check_of[k], gh_kind_str((enum gh_kind)k));
			continue;
		}
		if (k >= GH_KIND_TCP_COUNT || x->n_check_of[k] != want ||
		    !ci_span_ok(x->check_of[k], x->n_check_of[k], rd->h.check_of.count))
			return ci_bad(rd, "%s: %s health checks %u+%u: not its %zu servers inside the image", where,
				      gh_kind_str((enum gh_kind)k), x->check_of[k], x->n_check_of[k], want);
		const uint32_t *m = all + x->check_of[k];
		for (size_t o = 0; o < want; o++) {
			const struct gh_addr *a = ci_dial_server(s, k, o);

			if (m[o] != GH_NO_CHECK &&
			    (m[o] >= c->n_checks || (unsigned)c->checks[m[o]].kind != (unsigned)k ||
			     strcmp(c->checks[m[o]].addr.text, a->text)))
				return ci_bad(rd, "%s: %s server %zu: health check %u is not its own (of %zu)", where,
					      gh_kind_str((enum gh_kind)k), o, m[o], c->n_checks);
		}
		/* non-NULL even when empty, as the parser leaves it */
		s->check_of[k] = ci_unconst(m);
	}
	return 0;
}

static int ci_sites(struct ci_reader *rd, struct gh_config *c)
{
	const struct ci_site *cs = (const void *)(rd->b + rd->h.sites.off);
	const struct ci_name *names = (const void *)(rd->b + rd->h.names.off);
	const struct gh_addr *addrs = (const void *)(rd->b + rd->h.addrs.off);
	char **ptrs;
	int r;

	c->image->names = ptrs = calloc(rd->h.names.count ? rd->h.names.count : 1, sizeof(*ptrs));
	c->sites = calloc(rd->h.sites.count ? rd->h.sites.count : 1, sizeof(*c->sites));
	if (!ptrs || !c->sites)
		return -ENOMEM;
	/* all of them, so config_image_free frees what a failed site took */
	c->n_sites = rd->h.sites.count;
	for (uint64_t i = 0; i < rd->h.names.count; i++) {
		const char *s = ci_string(rd, &names[i]);

		if (!s || !s[0])
			return ci_bad(rd, "site name %llu outside the strings", (unsigned long long)i);
		ptrs[i] = ci_unconst(s);
	}
	/* once for all: every server a site or tls-alpn route points at */
	for (uint64_t i = 0; i < rd->h.addrs.count; i++)
		if (!ci_addr_ok(&addrs[i], false))
			return ci_bad(rd, "server %llu: bad address", (unsigned long long)i);
	for (uint64_t i = 0; i < rd->h.sites.count; i++) {
		const struct ci_site *x = &cs[i];
		struct gh_site *s = &c->sites[i];
		char where[48];

		snprintf(where, sizeof(where), "site %llu", (unsigned long long)i);
		if (x->n_names == 0 || !ci_span_ok(x->names, x->n_names, rd->h.names.count))
			return ci_bad(rd, "%s: names %u+%u outside the image", where, x->names, x->n_names);
		s->names = ptrs + x->names;
		s->n_names = x->n_names;
		s->name = s->names[0];
		for (int k = 0; k < GH_KIND_COUNT; k++) {
			if (x->n_servers[k] > CONFIG_MAX_SERVERS ||
			    !ci_span_ok(x->servers[k], x->n_servers[k], rd->h.addrs.count))
				return ci_bad(rd, "%s: servers %u+%u outside the image", where, x->servers[k],
					      x->n_servers[k]);
			s->servers[k] = x->n_servers[k] ? ci_unconst(addrs + x->servers[k]) : NULL;
			s->n_servers[k] = x->n_servers[k];
		}
		if (x->proxy_protocol < 0 || x->proxy_protocol > 2)
			return ci_bad(rd, "%s: proxy-protocol %d", where, x->proxy_protocol);
		s->proxy_protocol = x->proxy_protocol;
		s->max_connections = x->max_connections;
		s->line = x->line;
		if ((r = ci_alpn(rd, x->alpn, x->n_alpn, &s->alpn, &s->n_alpn, where)) < 0 ||
		    (r = ci_acl(rd, x->acl, x->n_acl, x->acl_line, &s->acl, false, where)) < 0 ||
		    (r = ci_check_of(rd, c, x, s, where)) < 0)
			return r;
		if (!ci_prefix_ok(&x->source_prefix) || !ci_rate_ok(x->src_rate, x->src_window_ms) ||
		    x->src_connections > CONFIG_SOURCE_CONNECTIONS_MAX)
			return ci_bad(rd, "%s: source-prefix, source-rate or source-connections corrupt", where);
		s->source_prefix = ci_prefix_get(&x->source_prefix);
		s->src_connections = x->src_connections;
		s->line_src_connections = x->line_src_connections;
		s->src_rate = x->src_rate;
		s->src_window_ms = x->src_window_ms;
		s->line_src_rate = x->line_src_rate;
	}
	return 0;
}

/* listens with their own accept-proxy lists; proxy_listen_lists from them */
static int ci_listens(struct ci_reader *rd, struct gh_config *c)
{
	const struct ci_listen *ls = (const void *)(rd->b + rd->h.listens.off);
	char where[48];
	int r;

	if (rd->h.listens.count == 0)
		return 0;
	c->listens = calloc(rd->h.listens.count, sizeof(*c->listens));
	if (!c->listens)
		return -ENOMEM;
	/* all of them, so config_image_free frees what a failed listen took */
	c->n_listens = rd->h.listens.count;
	for (uint64_t i = 0; i < rd->h.listens.count; i++) {
		struct gh_listen *l = &c->listens[i];

		if (ls[i].kind >= GH_KIND_COUNT || !ci_addr_ok(&ls[i].addr, false))
			return ci_bad(rd, "listen %llu: bad kind or address", (unsigned long long)i);
		l->kind = (enum gh_kind)ls[i].kind;
		l->addr = ls[i].addr;
		l->line = ls[i].line;
		snprintf(where, sizeof(where), "listen %llu accept-proxy", (unsigned long long)i);
		/* config_listen_options refuses it: QUIC has no PROXY header */
		if (l->kind == GH_KIND_QUIC && ls[i].n_proxy)
			return ci_bad(rd, "listen %llu: quic with an accept-proxy list", (unsigned long long)i);
		r = ci_acl(rd, ls[i].proxy, ls[i].n_proxy, ls[i].proxy_line, &l->proxy, true, where);
		if (r < 0)
			return r;
		c->proxy_listen_lists |= l->proxy.n_rules > 0;
	}
	return 0;
}

static int ci_routes(struct ci_reader *rd, const struct ci_routes *cr, struct routes **out, const char *what)
{
	struct routes_flat f = { 0 };
	const char *why = NULL;
	int r;

	if (ci_range_ok(rd, &cr->exact.slots, sizeof(struct routes_slot), what) ||
	    ci_range_ok(rd, &cr->wild.slots, sizeof(struct routes_slot), what) ||
	    ci_range_ok(rd, &cr->strings, 1, what))
		return -EINVAL;
	f.exact = (struct routes_flat_table){ .slots = (const void *)(rd->b + cr->exact.slots.off),
					      .size = cr->exact.slots.count, .count = cr->exact.count,
					      .max_len = cr->exact.max_len };
	f.wild = (struct routes_flat_table){ .slots = (const void *)(rd->b + cr->wild.slots.off),
					     .size = cr->wild.slots.count, .count = cr->wild.count,
					     .max_len = cr->wild.max_len };
	f.strings = (const char *)rd->b + cr->strings.off;
	f.strings_len = cr->strings.count;
	r = routes_view(&f, (uint32_t)rd->h.sites.count, out, &why);
	if (r == -EINVAL)
		return ci_bad(rd, "%s: %s", what, why);
	return r;
}

int config_image_open(const void *image, size_t len, config_image_release_fn release,
		      struct gh_config **out, char *why, size_t why_size)
{
	struct ci_reader rd = { .b = image, .len = len, .end = sizeof(struct ci_header), .why = why,
				.why_size = why_size };
	struct gh_config *c;
	int r;

	*out = NULL;
	if (why && why_size)
		why[0] = '\0';
	if (!image || (uintptr_t)image % CI_ALIGN)
		return ci_bad(&rd, "image not aligned");
	r = ci_header_ok(&rd);
	if (r < 0)
		return r;
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->image = calloc(1, sizeof(*c->image));
	if (!c->image) {
		free(c);
		return -ENOMEM;
	}
	/* release stays NULL until the end: a failure does not give back
	 * memory the caller still owns */
	c->image->base = image;
	c->image->len = len;

	const struct ci_header *h = &rd.h;
	c->inspect_timeout_ms = h->inspect_timeout_ms;
	c->connect_timeout_ms = h->connect_timeout_ms;
	c->idle_timeout_ms = h->idle_timeout_ms;
	c->quic_idle_timeout_ms = h->quic_idle_timeout_ms;
	c->http_mode = (enum gh_http_mode)h->http_mode;
	for (int k = 0; k < GH_KIND_COUNT; k++)
		c->default_site[k] = h->default_site[k];
	c->forwarders = h->forwarders;
	c->max_connections = h->max_connections;
	c->queue_timeout_ms = h->queue_timeout_ms;
	c->max_head = (size_t)h->max_head;
	c->metrics = h->metrics;

	const char *user = h->user.off == CI_NONE ? NULL : ci_string(&rd, &h->user);
	const char *dir = h->chroot_dir.off == CI_NONE ? NULL : ci_string(&rd, &h->chroot_dir);
	if ((h->user.off != CI_NONE && !user) || (h->chroot_dir.off != CI_NONE && !dir)) {
		r = ci_bad(&rd, "user or chroot outside the strings");
		goto fail;
	}
	if ((user && !(c->user = strdup(user))) || (dir && !(c->chroot_dir = strdup(dir)))) {
		r = -ENOMEM;
		goto fail;
	}
	c->source_prefix = ci_prefix_get(&h->source_prefix);
	c->src = (struct gh_source_limits){
		.rate = h->src_rate, .window_ms = h->src_window_ms, .inspecting = h->src_inspecting,
		.v6_prefix = h->src_v6_prefix, .slots = h->src_slots, .connections = h->src_connections,
		.line_rate = h->src_line_rate, .line_inspecting = h->src_line_inspecting,
		.line_prefix = h->src_line_prefix, .line_table = h->src_line_table,
		.line_connections = h->src_line_connections,
	};
	c->refuse_direct = h->refuse_direct == 1;
	if ((r = ci_listens(&rd, c)) < 0 ||
	    (r = ci_acl(&rd, h->accept_proxy, h->n_accept_proxy, h->accept_proxy_line, &c->accept_proxy, true,
			"global accept-proxy")) < 0)
		goto fail;
	/* what config_proxy_finish() derived and checked, still true */
	if (c->proxy_listen_lists != (h->proxy_listen_lists == 1) ||
	    (c->refuse_direct && !c->accept_proxy.n_rules && !c->proxy_listen_lists)) {
		r = ci_bad(&rd, "accept-proxy lists and direct-clients disagree");
		goto fail;
	}
	if ((r = ci_acl(&rd, h->acl, h->n_acl, h->acl_line, &c->acl, false, "global")) < 0 ||
	    (r = ci_alpn(&rd, h->alpn, h->n_alpn, &c->alpn, &c->n_alpn, "global")) < 0 ||
	    (r = ci_checks(&rd, c)) < 0 || (r = ci_sites(&rd, c)) < 0)
		goto fail;
	/* a checks_id that is not the list's would make every forwarder
	 * ignore the health page (common/health.c): recomputed, not trusted.
	 * 0 is what a config without `check` lines has. */
	c->checks_id = h->checks_id;
	if (c->n_checks || h->checks_id) {
		if (h->checks_id != config_checks_hash(c)) {
			r = ci_bad(&rd, "health checks: checks_id %#llx is not their list's",
				   (unsigned long long)h->checks_id);
			goto fail;
		}
	}
	/* config_finish refuses a default site without servers of its kind */
	for (int k = 0; k < GH_KIND_COUNT; k++)
		if (c->default_site[k] != GH_NO_SITE && c->sites[c->default_site[k]].n_servers[k] == 0) {
			r = ci_bad(&rd, "default %s: site %u has no %s servers", gh_kind_str((enum gh_kind)k),
				   c->default_site[k], gh_kind_str((enum gh_kind)k));
			goto fail;
		}
	for (int k = 0; k < GH_KIND_COUNT; k++) {
		int same = -1;

		/* kinds that shared one table share it again (routes_free_each) */
		for (int j = 0; j < k && same < 0; j++)
			if (!memcmp(&h->routes[k], &h->routes[j], sizeof(h->routes[k])))
				same = j;
		if (same >= 0) {
			c->routes[k] = c->routes[same];
			continue;
		}
		if ((r = ci_routes(&rd, &h->routes[k], &c->routes[k], gh_kind_str((enum gh_kind)k))) < 0)
			goto fail;
	}
	if ((r = ci_routes(&rd, &h->by_name, &c->site_by_name, "site names")) < 0)
		goto fail;
	if (rd.end != len) {
		r = ci_bad(&rd, "%zu bytes, but its arrays end at %llu", len, (unsigned long long)rd.end);
		goto fail;
	}
	c->image->release = release;
	*out = c;
	return 0;
fail:
	config_image_free(c);
	return r;
}

void config_image_free(struct gh_config *c)
{
	struct config_image_ref *ref = c->image;

	for (size_t i = 0; i < c->n_sites; i++) {
		free(c->sites[i].alpn);	/* the servers are the image's */
		config_acl_free(&c->sites[i].acl);
	}
	free(c->sites);
	free(c->alpn);
	config_acl_free(&c->acl);
	config_acl_free(&c->accept_proxy);
	for (size_t i = 0; c->listens && i < c->n_listens; i++)
		config_acl_free(&c->listens[i].proxy);
	free(c->listens);
	routes_free_each(c->routes, GH_KIND_COUNT);
	routes_free(c->site_by_name);
	free(c->user);
	free(c->chroot_dir);
	free(ref->names);
	if (ref->release)
		ref->release(ref->base, ref->len);
	free(ref);
	free(c);
}
