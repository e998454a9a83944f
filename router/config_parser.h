/* SPDX-License-Identifier: MIT */
#pragma once
/*
 * Inside the config parser: its state, the directive table and the helpers
 * its parts share (config.c: lines and the whole-file checks;
 * config_values.c: words, numbers, durations, addresses, error messages;
 * config_directives.c: one handler per directive; config_acl.c: the
 * allow/deny lists). Nothing outside router/ includes this.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "router/config.h"
#include "router/gh_limits.h"

#define CONFIG_MAX_DURATION_MS (24u * 3600u * 1000u)
#define CONFIG_MAX_FORWARDERS GH_MAX_FORWARDERS
#define CONFIG_MIN_HEAD 1024u
#define CONFIG_MAX_HEAD 65536u
/* far more than anyone needs, and they keep the duplicate scans cheap */
#define CONFIG_MAX_SERVERS GH_MAX_SERVERS		/* per site and kind */
#define CONFIG_MAX_LISTENS GH_MAX_LISTENS
/* tls-alpn lines per site, and global: a site's routes, own and copied,
 * stay under 256 so a hand-off names one in a byte */
#define CONFIG_MAX_ALPN_ROUTES 16u
/* prefixes in one allow/deny list: lookups cost the same at any size
 * (router/prefixset.h); this bounds the build's memory (~17 B a prefix) */
#define CONFIG_MAX_ACL_RULES 1000000u
/* `source-rate N/...` and `source-connections N` at most (config_limits.c;
 * the compiled config's reader checks the same, config_image_read.c).
 * Connection counters are 32-bit; this is far above any relay cap. */
#define CONFIG_SOURCE_RATE_MAX 1000000u
#define CONFIG_SOURCE_CONNECTIONS_MAX 1000000u
/* `check inter D`, `rise N`, `fall N` (config_check.c; the compiled
 * config's reader checks the same) */
#define CONFIG_CHECK_MIN_INTER_MS 100u
#define CONFIG_CHECK_MAX_INTER_MS 3600000u
#define CONFIG_CHECK_MAX_COUNT 100u
/* longest word quoted back in a message; the rest becomes "..." */
#define CONFIG_QUOTE_MAX 80u

struct config_tok {
	const char *s;
	size_t len;
};

struct config_parser {
	const char *file;
	unsigned line;
	config_error_fn err;
	void *userdata;
	unsigned n_errors;

	struct gh_config *c;
	size_t sites_cap;
	size_t listens_cap;
	/* every site name (not only the first) -> site, to refuse reuse */
	struct routes *names;
	uint32_t cur;			/* latest site, or GH_NO_SITE */
	unsigned cur_proxy_line;	/* its proxy-protocol line, 0 = none yet */
	unsigned cur_maxconn_line;	/* its site-max-connections line, 0 = none yet */

	/* line of a single-valued directive's first use, 0 = not seen */
	unsigned seen_inspect, seen_connect, seen_idle, seen_mode;
	unsigned seen_forwarders, seen_head, seen_user, seen_chroot, seen_maxconn, seen_queue;
	unsigned seen_metrics, seen_direct, seen_quic_idle;
	unsigned default_line[GH_KIND_COUNT];
	char *default_name[GH_KIND_COUNT];	/* NULL: reject */

	struct config_tok *toks;
	size_t toks_cap;
};

struct config_directive {
	const char *name;
	size_t min_args, max_args;
	const char *usage;
	int (*fn)(struct config_parser *p, const struct config_directive *d,
		  const struct config_tok *arg, size_t n);
};

#define QUOTE_BUF (CONFIG_QUOTE_MAX * 4 + 8)
#define Q(buf, tok) config_quote(buf, sizeof(buf), (tok)->s, (tok)->len)
#define config_error(p, ...) config_error_at((p), (p)->line, __VA_ARGS__)

enum {
	ADDR_STAR = 1 << 0,	/* "*:80" means "[::]:80" (listen only) */
	ADDR_DIALABLE = 1 << 1,	/* refuse the unspecified address (servers) */
};

/* config_values.c */
bool tok_is(const struct config_tok *t, const char *word);
const char *config_quote(char *buf, size_t size, const char *s, size_t len);
__attribute__((format(printf, 3, 4)))
void config_error_at(struct config_parser *p, unsigned line, const char *fmt, ...);
bool config_uint(const char *s, size_t len, uint64_t limit, uint64_t *out);
const char *config_duration(const char *s, size_t len, uint32_t *ms);
const char *config_addr(const char *s, size_t len, unsigned flags, struct gh_addr *out);
int config_kind(const struct config_tok *t);

/* config_directives.c */
uint32_t config_site_with_name(const struct config_parser *p, const char *name, size_t len);
int config_add_listen(struct config_parser *p, enum gh_kind kind, const struct gh_addr *a,
		      unsigned line);
extern const struct config_directive config_directives[];

/* config_alpn.c */
int config_do_tls_alpn(struct config_parser *p, const struct config_directive *d,
		       const struct config_tok *arg, size_t n);
int config_alpn_finish(struct gh_config *c);
void config_alpn_free(struct gh_alpn_route *routes, size_t n);
extern const size_t config_n_directives;

/* config_check.c */
int config_do_check(struct config_parser *p, const struct config_directive *d,
		    const struct config_tok *arg, size_t n);
/* the rules resolved into cfg->checks and each site's check_of */
int config_check_finish(struct config_parser *p);
void config_check_free(struct gh_config *c);
/* An http-path as `check` accepts it: s[0..len), len under max. */
bool config_check_path_ok(const char *s, size_t len, size_t max);
/* What cfg->checks_id is for c's checks list (c->sites' names included):
 * the compiled config's reader recomputes it rather than trust it. */
uint64_t config_checks_hash(const struct gh_config *c);

/* config_srcaddr.c */
int config_do_source_prefix(struct config_parser *p, const struct config_directive *d,
			    const struct config_tok *arg, size_t n);
/* sites inherit the global line; IPv4 servers under a prefix are errors */
void config_srcaddr_finish(struct config_parser *p);

/* config_acl.c */
int config_do_acl(struct config_parser *p, const struct config_directive *d,
		  const struct config_tok *arg, size_t n);
/* errors for sites with different lists sharing a server of kind k */
int config_check_shared(struct config_parser *p, enum gh_kind k);
int config_acl_build(struct gh_acl *acl);	/* 0 or -errno */
struct prefix;
/* append one rule; 0, 1 after reporting the list full, or -ENOMEM */
int config_acl_add(struct config_parser *p, struct gh_acl *acl, const struct prefix *px,
		   uint32_t verdict);
void config_acl_free(struct gh_acl *acl);

/* config_limits.c: source-rate, source-inspecting, source-prefix-v6,
 * source-table, source-connections */
int config_do_source(struct config_parser *p, const struct config_directive *d,
		     const struct config_tok *arg, size_t n);

/* config_proxy.c */
int config_do_accept_proxy(struct config_parser *p, const struct config_directive *d,
			   const struct config_tok *arg, size_t n);
int config_do_direct_clients(struct config_parser *p, const struct config_directive *d,
			     const struct config_tok *arg, size_t n);
/* whole-file checks of the two (errors through config_error_at) */
void config_proxy_finish(struct config_parser *p);
/* a listen line's words after its address: `accept-proxy CIDR...` */
int config_listen_options(struct config_parser *p, struct gh_listen *l, const struct config_tok *arg,
			  size_t n);
