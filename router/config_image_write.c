/* SPDX-License-Identifier: MIT */
/* The compiled config's writer: layout from the config's counts, then one
 * pass copying every array (config_image_format.h). */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include "router/config_image.h"
#include "router/config_image_format.h"
#include "router/routes.h"

/* Entries of a site's check_of[k]: the dial-state layout (config.h) */
static uint64_t ci_check_len(const struct gh_site *s, int k)
{
	uint64_t n = s->n_servers[k];

	for (size_t r = 0; k == GH_KIND_TLS && r < s->n_alpn; r++)
		n += s->alpn[r].n_servers;
	return n;
}

/* Where each array goes, from c's counts; h->size the total, 0 if too big. */
static void ci_layout(const struct gh_config *c, struct ci_header *h, struct routes_flat fl[GH_KIND_COUNT + 1])
{
	uint64_t addrs = 0, names = 0, strings = 0, alpns = c->n_alpn;
	uint64_t entries = c->acl.n_rules + c->accept_proxy.n_rules, check_of = 0;
	uint64_t at = sizeof(*h), end = at;
	bool big = false;

	for (size_t g = 0; g < c->n_alpn; g++)
		addrs += c->alpn[g].n_servers;
	for (size_t l = 0; l < c->n_listens; l++)
		entries += c->listens[l].proxy.n_rules;
	for (size_t i = 0; i < c->n_sites; i++) {
		const struct gh_site *s = &c->sites[i];

		names += s->n_names;
		for (size_t j = 0; j < s->n_names; j++)
			strings += strlen(s->names[j]) + 1;
		for (int k = 0; k < GH_KIND_COUNT; k++)
			addrs += s->n_servers[k];
		for (size_t r = 0; r < s->n_alpn; r++)
			addrs += s->alpn[r].n_servers;
		alpns += s->n_alpn;
		entries += s->acl.n_rules;
		for (int k = 0; k < GH_KIND_COUNT; k++)
			if (s->check_of[k])
				check_of += ci_check_len(s, k);
	}
	if (c->user)
		strings += strlen(c->user) + 1;
	if (c->chroot_dir)
		strings += strlen(c->chroot_dir) + 1;

	/* an empty array at the header's end, inside the image: placed
	 * after an unaligned last array (strings) its aligned offset could
	 * pass the image's end, which the reader refuses */
#define CI_PLACE(r, n, elem) do { \
		(r).off = (n) ? at : sizeof(*h); (r).count = (n); \
		big |= (n) >= CI_NONE; \
		if ((n) && at + (uint64_t)(n) * (elem) > end) \
			end = at + (uint64_t)(n) * (elem); \
		at += ((uint64_t)(n) * (elem) + CI_ALIGN - 1) & ~(uint64_t)(CI_ALIGN - 1); \
	} while (0)
	CI_PLACE(h->listens, c->n_listens, sizeof(struct ci_listen));
	CI_PLACE(h->sites, c->n_sites, sizeof(struct ci_site));
	CI_PLACE(h->addrs, addrs, sizeof(struct gh_addr));
	CI_PLACE(h->names, names, sizeof(struct ci_name));
	CI_PLACE(h->strings, strings, 1);
	CI_PLACE(h->entries, entries, sizeof(struct prefixset_entry));
	CI_PLACE(h->alpns, alpns, sizeof(struct ci_alpn));
	CI_PLACE(h->checks, c->n_checks, sizeof(struct gh_check_target));
	CI_PLACE(h->check_of, check_of, sizeof(uint32_t));
	for (int k = 0; k <= GH_KIND_COUNT; k++) {
		struct ci_routes *cr = k < GH_KIND_COUNT ? &h->routes[k] : &h->by_name;
		const struct routes *r = k < GH_KIND_COUNT ? c->routes[k] : c->site_by_name;

		memset(&fl[k], 0, sizeof(fl[k]));
		/* kinds sharing one table (config.c) share its arrays here too */
		int same = -1;
		for (int j = 0; j < k && k < GH_KIND_COUNT && r; j++)
			if (c->routes[j] == r && same < 0)
				same = j;
		if (same >= 0) {
			*cr = h->routes[same];
			continue;
		}
		if (r)
			routes_flat(r, &fl[k]);
		CI_PLACE(cr->exact.slots, fl[k].exact.size, sizeof(struct routes_slot));
		CI_PLACE(cr->wild.slots, fl[k].wild.size, sizeof(struct routes_slot));
		CI_PLACE(cr->strings, fl[k].strings_len, 1);
		cr->exact.count = fl[k].exact.count;
		cr->exact.max_len = fl[k].exact.max_len;
		cr->wild.count = fl[k].wild.count;
		cr->wild.max_len = fl[k].wild.max_len;
	}
#undef CI_PLACE
	/* no padding after the last array: any cut loses bytes a reader
	 * needs, and the reader can insist on it (ci_header_ok) */
	h->size = big ? 0 : end;
}

size_t config_image_size(const struct gh_config *c)
{
	struct ci_header h = { 0 };
	struct routes_flat fl[GH_KIND_COUNT + 1];

	ci_layout(c, &h, fl);
	return h.size > SIZE_MAX ? 0 : (size_t)h.size;
}

static struct ci_name ci_put_string(char *strings, uint32_t *at, const char *s)
{
	struct ci_name n = { .off = CI_NONE };

	if (!s)
		return n;
	n.off = *at;
	n.len = (uint32_t)strlen(s);
	memcpy(strings + *at, s, n.len + 1u);
	*at += n.len + 1u;
	return n;
}

/* n servers into the addrs array; their index */
static uint32_t ci_put_addrs(struct gh_addr *addrs, uint32_t *at, const struct gh_addr *a, size_t n)
{
	uint32_t first = *at;

	if (n)
		memcpy(addrs + first, a, n * sizeof(*a));
	*at += (uint32_t)n;
	return first;
}

static uint32_t ci_put_alpn(struct ci_alpn *alpns, uint32_t *at, struct gh_addr *addrs, uint32_t *addr_at,
			    const struct gh_alpn_route *routes, size_t n)
{
	uint32_t first = *at;

	for (size_t r = 0; r < n; r++) {
		struct ci_alpn *a = &alpns[(*at)++];

		memcpy(a->protocol, routes[r].protocol, sizeof(a->protocol));
		a->protocol_len = routes[r].protocol_len;
		a->inherited = routes[r].inherited;
		a->n_servers = (uint32_t)routes[r].n_servers;
		a->servers = ci_put_addrs(addrs, addr_at, routes[r].servers, routes[r].n_servers);
		a->line = routes[r].line;
	}
	return first;
}

static struct ci_prefix ci_prefix(const struct gh_source_prefix *sp)
{
	struct ci_prefix p = { .on = sp->on, .line = sp->line };

	memcpy(p.prefix, sp->prefix, sizeof(p.prefix));
	return p;
}

static uint32_t ci_put_rules(struct prefixset_entry *entries, uint32_t *at, const struct gh_acl *acl)
{
	uint32_t first = *at;

	if (acl->n_rules)
		memcpy(entries + first, acl->rules, acl->n_rules * sizeof(*acl->rules));
	*at += (uint32_t)acl->n_rules;
	return first;
}

int config_image_write(const struct gh_config *c, void *buf, size_t size)
{
	struct ci_header h = { 0 };
	struct routes_flat fl[GH_KIND_COUNT + 1];
	uint8_t *b = buf;
	uint32_t addr_at = 0, name_at = 0, str_at = 0, entry_at = 0, alpn_at = 0, check_at = 0;

	ci_layout(c, &h, fl);
	if (h.size == 0 || h.size != size)
		return -EINVAL;
	memset(b, 0, size);
	struct gh_addr *addrs = (void *)(b + h.addrs.off);
	struct ci_name *names = (void *)(b + h.names.off);
	char *strings = (void *)(b + h.strings.off);
	struct prefixset_entry *entries = (void *)(b + h.entries.off);
	struct ci_alpn *alpns = (void *)(b + h.alpns.off);
	struct ci_site *sites = (void *)(b + h.sites.off);
	uint32_t *check_of = (void *)(b + h.check_of.off);

	memcpy(h.magic, CONFIG_IMAGE_MAGIC, CONFIG_IMAGE_MAGIC_LEN);
	h.version = CI_VERSION;
	h.endian = CI_ENDIAN;
	h.sizeof_header = sizeof(h);
	h.sizeof_addr = sizeof(struct gh_addr);
	h.sizeof_listen = sizeof(struct ci_listen);
	h.sizeof_entry = sizeof(struct prefixset_entry);
	h.sizeof_slot = sizeof(struct routes_slot);
	h.sizeof_check = sizeof(struct gh_check_target);
	h.inspect_timeout_ms = c->inspect_timeout_ms;
	h.connect_timeout_ms = c->connect_timeout_ms;
	h.idle_timeout_ms = c->idle_timeout_ms;
	h.quic_idle_timeout_ms = c->quic_idle_timeout_ms;
	h.http_mode = c->http_mode;
	for (int k = 0; k < GH_KIND_COUNT; k++)
		h.default_site[k] = c->default_site[k];
	h.forwarders = c->forwarders;
	h.max_connections = c->max_connections;
	h.queue_timeout_ms = c->queue_timeout_ms;
	h.max_head = c->max_head;
	h.metrics = c->metrics;
	h.user = ci_put_string(strings, &str_at, c->user);
	h.chroot_dir = ci_put_string(strings, &str_at, c->chroot_dir);
	h.n_acl = (uint32_t)c->acl.n_rules;
	h.acl_line = c->acl.line;
	h.acl = ci_put_rules(entries, &entry_at, &c->acl);
	h.n_alpn = (uint32_t)c->n_alpn;
	h.alpn = ci_put_alpn(alpns, &alpn_at, addrs, &addr_at, c->alpn, c->n_alpn);
	h.source_prefix = ci_prefix(&c->source_prefix);
	h.src_rate = c->src.rate;
	h.src_window_ms = c->src.window_ms;
	h.src_inspecting = c->src.inspecting;
	h.src_v6_prefix = c->src.v6_prefix;
	h.src_slots = c->src.slots;
	h.src_connections = c->src.connections;
	h.src_line_rate = c->src.line_rate;
	h.src_line_inspecting = c->src.line_inspecting;
	h.src_line_prefix = c->src.line_prefix;
	h.src_line_table = c->src.line_table;
	h.src_line_connections = c->src.line_connections;
	h.n_accept_proxy = (uint32_t)c->accept_proxy.n_rules;
	h.accept_proxy_line = c->accept_proxy.line;
	h.accept_proxy = ci_put_rules(entries, &entry_at, &c->accept_proxy);
	h.refuse_direct = c->refuse_direct;
	h.proxy_listen_lists = c->proxy_listen_lists;
	/* check_rules stay behind: parse-time only (config_image_format.h) */
	h.checks_id = c->checks_id;
	if (c->n_checks)
		memcpy(b + h.checks.off, c->checks, c->n_checks * sizeof(*c->checks));
	for (size_t l = 0; l < c->n_listens; l++) {
		struct ci_listen *cl = (struct ci_listen *)(void *)(b + h.listens.off) + l;
		const struct gh_listen *gl = &c->listens[l];

		cl->addr = gl->addr;
		cl->kind = gl->kind;
		cl->line = gl->line;
		cl->n_proxy = (uint32_t)gl->proxy.n_rules;
		cl->proxy_line = gl->proxy.line;
		cl->proxy = ci_put_rules(entries, &entry_at, &gl->proxy);
	}

	for (size_t i = 0; i < c->n_sites; i++) {
		const struct gh_site *s = &c->sites[i];
		struct ci_site *cs = &sites[i];

		cs->names = name_at;
		cs->n_names = (uint32_t)s->n_names;
		for (size_t j = 0; j < s->n_names; j++)
			names[name_at++] = ci_put_string(strings, &str_at, s->names[j]);
		for (int k = 0; k < GH_KIND_COUNT; k++) {
			cs->n_servers[k] = (uint32_t)s->n_servers[k];
			cs->servers[k] = ci_put_addrs(addrs, &addr_at, s->servers[k], s->n_servers[k]);
		}
		cs->n_alpn = (uint32_t)s->n_alpn;
		cs->alpn = ci_put_alpn(alpns, &alpn_at, addrs, &addr_at, s->alpn, s->n_alpn);
		cs->n_acl = (uint32_t)s->acl.n_rules;
		cs->acl_line = s->acl.line;
		cs->acl = ci_put_rules(entries, &entry_at, &s->acl);
		cs->proxy_protocol = s->proxy_protocol;
		cs->max_connections = s->max_connections;
		cs->line = s->line;
		cs->source_prefix = ci_prefix(&s->source_prefix);
		cs->src_connections = s->src_connections;
		cs->line_src_connections = s->line_src_connections;
		cs->src_rate = s->src_rate;
		cs->src_window_ms = s->src_window_ms;
		cs->line_src_rate = s->line_src_rate;
		for (int k = 0; k < GH_KIND_COUNT; k++) {
			uint64_t n = s->check_of[k] ? ci_check_len(s, k) : 0;

			cs->check_of[k] = s->check_of[k] ? check_at : CI_NONE;
			cs->n_check_of[k] = (uint32_t)n;
			if (n)
				memcpy(check_of + check_at, s->check_of[k], n * sizeof(uint32_t));
			check_at += (uint32_t)n;
		}
	}
	for (int k = 0; k <= GH_KIND_COUNT; k++) {
		const struct ci_routes *cr = k < GH_KIND_COUNT ? &h.routes[k] : &h.by_name;

		if (fl[k].exact.size)
			memcpy(b + cr->exact.slots.off, fl[k].exact.slots, fl[k].exact.size * sizeof(struct routes_slot));
		if (fl[k].wild.size)
			memcpy(b + cr->wild.slots.off, fl[k].wild.slots, fl[k].wild.size * sizeof(struct routes_slot));
		if (fl[k].strings_len)
			memcpy(b + cr->strings.off, fl[k].strings, fl[k].strings_len);
	}
	memcpy(b, &h, sizeof(h));
	return 0;
}
