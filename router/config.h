/* SPDX-License-Identifier: MIT */
#pragma once
/*
 * The configuration: /etc/gatehouse/gatehouse.conf, parsed from a buffer (no
 * I/O here; the caller reads the file). Every error is reported through the
 * callback as "FILE:LINE: message"; parsing goes on after an error so a user
 * sees all of them at once.
 *
 * Backend and listen addresses are numeric only: no name is ever resolved.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include "router/hostname.h"

struct routes;
struct prefixset;
struct prefixset_entry;

/* An access list (`allow`/`deny` lines) as written, and built for lookup:
 * first match in written order decides, no match allows (nginx). */
enum { GH_ACL_DENY = 0, GH_ACL_ALLOW = 1 };

struct gh_acl {
	struct prefixset_entry *rules;	/* in written order; value GH_ACL_* */
	size_t n_rules;
	unsigned line;			/* its first allow/deny line, 0 = none */
	struct prefixset *set;		/* built by config_parse; NULL if no rules */
};

/* Per-source limits (`source-*` lines, router/config_limits.c), decided in
 * the listener at accept with one router/srclimit.h table. Off (no table)
 * unless source-rate or source-inspecting is set. */
struct gh_source_limits {
	uint32_t rate;			/* `source-rate N/DURATION`: N; 0 = no rate limit */
	uint32_t window_ms;		/* ... DURATION */
	uint32_t inspecting;		/* `source-inspecting K`; 0 = no cap */
	unsigned v6_prefix;		/* `source-prefix-v6 LEN`; default 64 */
	uint32_t slots;			/* `source-table N`; default 65536 */
	/* `source-connections N` before any site: connections one source
	 * holds at once through every forwarder (relays and hand-offs not yet
	 * taken); 0 = no cap. Counted apart from the table above
	 * (router/srcbucket.h, listener/srcconn.h). */
	uint32_t connections;
	/* first line of each, 0 = not set */
	unsigned line_rate, line_inspecting, line_prefix, line_table, line_connections;
};

enum gh_kind {
	GH_KIND_HTTP = 0,
	GH_KIND_TLS = 1,
	GH_KIND_QUIC = 2,	/* UDP: QUIC routed by the SNI of its Initial packets */
	GH_KIND_COUNT = 3,
};
/* the kinds carried over TCP (a client fd per hand-off) */
#define GH_KIND_TCP_COUNT 2

enum gh_http_mode {
	GH_HTTP_ROUTE = 0,
	GH_HTTP_REDIRECT_HTTPS,	/* except /.well-known/acme-challenge/ */
};

#define GH_NO_SITE UINT32_MAX

struct gh_addr {
	struct sockaddr_storage ss;	/* AF_INET6 or AF_INET */
	socklen_t len;
	char text[64];			/* "[2001:db8::1]:443" or "192.0.2.1:80" */
};

/* `tls-alpn PROTOCOL ADDRESS:PORT...` (router/config_alpn.c) */
struct gh_alpn_route {
	char protocol[256];		/* NUL-terminated, 1..255 visible ASCII bytes */
	uint8_t protocol_len;
	bool inherited;			/* a site's copy of a global line */
	struct gh_addr *servers;
	size_t n_servers;
	unsigned line;
};

/* `check` (router/config_check.c): an active health check's options */
struct gh_check {
	uint32_t inter_ms;		/* between checks; default 2s */
	uint8_t rise, fall;		/* successes to come back, failures to go down (2, 3) */
	bool tls_hello;			/* tls servers: a ClientHello must get a ServerHello */
	uint16_t http_status;		/* http servers: `GET http_path` must answer this; 0: a connect */
	char http_path[128];		/* default "/" */
};

/* One server a health daemon checks: an address, the kind of its lines and
 * the options that apply; servers with the same three are checked once. */
struct gh_check_target {
	struct gh_addr addr;
	enum gh_kind kind;
	struct gh_check opts;
	uint32_t site;			/* the first site it serves: Host and SNI of its check */
};

/* A `check` line as written (config_check.c resolves them at the end). */
struct gh_check_rule {
	struct gh_check opts;
	bool off;
	struct gh_addr *addrs;		/* only these servers of the site; none: all of them */
	size_t n_addrs;
	uint32_t site;			/* GH_NO_SITE: before any site, every site's default */
	unsigned line;
};

#define GH_NO_CHECK UINT32_MAX

/* `source-prefix PREFIX/96|off` (router/config_srcaddr.c): the IPv6 /96
 * that IPv4 clients' addresses are embedded in (RFC 6052) to make the
 * source address of their backend connections */
struct gh_source_prefix {
	uint8_t prefix[12];		/* the /96's first 96 bits */
	bool on;
	unsigned line;			/* its line; 0: none here (a site inherits the global one) */
};

struct gh_site {
	char *name;			/* the first name on its `site` line */
	char **names;			/* every name, normalised ("*.x" kept) */
	size_t n_names;
	struct gh_addr *servers[GH_KIND_COUNT];
	size_t n_servers[GH_KIND_COUNT];
	int proxy_protocol;		/* 0 off, 1 or 2 */
	unsigned max_connections;	/* `site-max-connections N`: its relays at once; 0: no cap */
	/* tls-alpn routes in match order: the site's own lines as written,
	 * then the global ones it has no own line for; a hand-off names one
	 * as 1 + its index (0: the `tls` servers) */
	struct gh_alpn_route *alpn;
	size_t n_alpn;
	struct gh_acl acl;		/* `allow`/`deny` inside the site */
	/* health check target (index in cfg->checks) of each server, laid
	 * out as the forwarder's dial state: a kind's own servers, then for
	 * TLS the tls-alpn routes' in order; NULL: none checked */
	uint32_t *check_of[GH_KIND_COUNT];
	struct gh_source_prefix source_prefix;	/* its own, else the global one once parsed */
	uint32_t src_connections;	/* `source-connections N` inside the site: per source, to it; 0 = no cap */
	unsigned line_src_connections;
	/* `source-rate N/DURATION` inside the site: new connections per
	 * source to it (decided once routed); src_rate 0 = none */
	uint32_t src_rate, src_window_ms;
	unsigned line_src_rate;
	unsigned line;
};

struct gh_listen {
	enum gh_kind kind;
	struct gh_addr addr;
	unsigned line;
	/* `listen ... accept-proxy CIDR...`: this listen's own balancers, on
	 * top of the global list (all rules GH_ACL_ALLOW); no rules: none */
	struct gh_acl proxy;
};

struct gh_config {
	uint32_t inspect_timeout_ms;	/* default 5s */
	uint32_t connect_timeout_ms;	/* default 5s */
	uint32_t idle_timeout_ms;	/* default 50s */
	uint32_t quic_idle_timeout_ms;	/* `quic-idle-timeout`: a QUIC flow with no
					 * datagram either way ends; default 30s */
	enum gh_http_mode http_mode;	/* default route */

	struct gh_listen *listens;
	size_t n_listens;

	struct gh_site *sites;
	size_t n_sites;
	uint32_t default_site[GH_KIND_COUNT];	/* GH_NO_SITE means reject */

	/* per kind: names of sites having servers of that kind */
	struct routes *routes[GH_KIND_COUNT];
	/* site name -> site index */
	struct routes *site_by_name;

	/* extensions beyond the DESIGN.md contract */
	unsigned forwarders;		/* `forwarders N`; 0 = daemon_forwarders() default */
	size_t max_head;		/* `max-head-size 16k`; default HTTP_HEAD_DEFAULT_CAP */
	char *user;			/* `user NAME`: identity when started as root; NULL: default */
	char *chroot_dir;		/* `chroot DIR`: absolute; NULL: /var/lib/gatehouse */
	unsigned max_connections;	/* `max-connections N`: relays at once, all forwarders; 0: no cap */
	uint32_t queue_timeout_ms;	/* `queue-timeout`: longest wait for a site's slot; default connect-timeout */
	/* `tls-alpn` lines before any site, as written (copied into sites) */
	struct gh_alpn_route *alpn;
	size_t n_alpn;
	/* `metrics ADDRESS:PORT`: where `gatehouse run` serves Prometheus
	 * text (gatehouse-metrics); metrics.len 0: off */
	struct gh_addr metrics;
	struct gh_acl acl;		/* `allow`/`deny` before any site: every client */
	/* `check` lines, and the servers they make a health daemon check:
	 * checks_id hashes the list, so that a health page written for
	 * another server list is never read as this one's. check_rules are
	 * parse-time only (config_check_finish): a config read from the
	 * compiled image has none, only checks and the sites' check_of */
	struct gh_check_rule *check_rules;
	size_t n_check_rules;
	struct gh_check_target *checks;
	size_t n_checks;
	uint64_t checks_id;
	struct gh_source_prefix source_prefix;	/* `source-prefix` before any site */
	struct gh_source_limits src;	/* `source-*`: global per-source limits */
	/* `accept-proxy CIDR...`: peers that must send a PROXY header, on
	 * every listen (all rules GH_ACL_ALLOW); no rules: none */
	struct gh_acl accept_proxy;
	/* `direct-clients refuse`: a peer not in accept_proxy is answered as
	 * a denied client (listener) and its hand-off refused (forwarder) */
	bool refuse_direct;
	/* a listen has its own accept-proxy list: the daemons must find the
	 * listen of each connection (config_listen_at) */
	bool proxy_listen_lists;

	/* set when read from a compiled image (router/config_image.h): names,
	 * servers and route tables point into it; config_free gives it back */
	struct config_image_ref *image;
};

/* Receives one complete message "FILE:LINE: text" (no newline). */
typedef void (*config_error_fn)(void *userdata, const char *message);

/* Parse text[0..len) read from filename. Returns 0 and *out, or -EINVAL after
 * reporting every error through err (at least one), or -ENOMEM. */
int config_parse(const char *filename, const char *text, size_t len,
		 config_error_fn err, void *userdata, struct gh_config **out);

void config_free(struct gh_config *c);

/* The site for a normalised name on a kind: exact, longest wildcard, then the
 * kind's default. GH_NO_SITE when none (reject). */
uint32_t config_route(const struct gh_config *c, enum gh_kind kind, const char *name, size_t len);

/* Site index by its name (the first name on its `site` line), or GH_NO_SITE. */
uint32_t config_site_index(const struct gh_config *c, const char *name, size_t len);

/* Parse a duration "500ms", "5s", "2m", "1h" into milliseconds. 0 or -EINVAL. */
int config_parse_duration(const char *s, size_t len, uint32_t *ms);

/* Parse "[v6]:port" or "v4:port" (numeric only). 0 or -EINVAL. */
int config_parse_addr(const char *s, size_t len, struct gh_addr *out);

/* The tls-alpn route (1 + index in s->alpn) for a client offering the
 * ALPN list offered[0..len) (RFC 7301 wire form, as tls_hello keeps it):
 * the first route, in order, whose protocol is offered; 0 if none. */
unsigned config_alpn_pick(const struct gh_site *s, const uint8_t *offered, size_t len);

/* Does site have hand-off route alpn_route for kind (0 always; else TLS
 * and within its routes)? The forwarder's check of a listener's word. */
bool config_alpn_route_ok(const struct gh_config *c, uint32_t site, unsigned kind,
			  unsigned alpn_route);

/* The servers a client of site, kind and route (config_alpn_route_ok) goes to. */
const struct gh_addr *config_servers(const struct gh_config *c, uint32_t site, unsigned kind,
				     unsigned alpn_route, size_t *n);
/* The health check target of server i of what config_servers gives for
 * (site, kind, alpn_route); GH_NO_CHECK when it is not checked. */
uint32_t config_server_check(const struct gh_config *c, uint32_t site, unsigned kind,
			     unsigned alpn_route, size_t i);
/* The longest interval of any check (0: none): a health page older than a
 * few of these is a checker gone. */
uint32_t config_check_max_inter(const struct gh_config *c);

/* An access list's verdict for a client address (family AF_INET: 4 bytes,
 * AF_INET6: 16, IPv4-mapped matched as IPv4): true to let it in. */
bool config_acl_allows(const struct gh_acl *acl, int family, const uint8_t *addr);

/* The source address a backend connection of site's client takes: the
 * site's source-prefix with the client's IPv4 address (family AF_INET, 4
 * bytes) as its last 32 bits, port 0. False, *out untouched, when the site
 * has none or the client is IPv6: it keeps the host's normal source. */
bool config_source_addr(const struct gh_config *c, uint32_t site, int family,
			const uint8_t *addr, struct sockaddr_in6 *out);
/* Does any site take source addresses from a source-prefix? */
bool config_uses_source_prefix(const struct gh_config *c);
/* Are per-source limits on (a table to build)? */
bool config_source_limits_on(const struct gh_config *c);
/* The table's slots and the IPv6 grouping, defaults applied. */
uint32_t config_source_slots(const struct gh_config *c);
unsigned config_source_v6_prefix(const struct gh_config *c);
/* Is `source-connections` set, globally or for any site? */
bool config_source_connections_on(const struct gh_config *c);
/* Does any site have its own `source-rate`? */
bool config_site_rates_on(const struct gh_config *c);
/* The listen a connection is on, from the address it reached (its
 * socket's getsockname(), or the listening socket's): the listen of
 * exactly that address, else the wildcard one of its port ([::] takes
 * every family, 0.0.0.0 IPv4), as the kernel picks; NULL if none. For
 * TCP connections: quic listens are passed over (UDP, they may share a
 * tls listen's address); the TCP kinds are not looked at (their
 * addresses are unique), so a forwarder finds its listen without the
 * listener's word. */
const struct gh_listen *config_listen_at(const struct gh_config *c, const struct sockaddr *local);

/* Is a peer at addr (as config_acl_allows), connected to listen `on`
 * (NULL: none known), a trusted balancer whose connections start with a
 * PROXY header: in the global `accept-proxy` list or the listen's own? */
bool config_proxy_trusted(const struct gh_config *c, const struct gh_listen *on, int family,
			  const uint8_t *addr);

/* Does listen `on` (NULL: none known) have balancers at all (the global
 * list or its own)? Only then is a PROXY header looked for, and only then
 * does `direct-clients refuse` refuse the other peers. */
bool config_proxy_any(const struct gh_config *c, const struct gh_listen *on);

/* Is a peer that is not a trusted balancer of `on` refused there
 * (`direct-clients refuse`, and the listen has balancers)? */
bool config_proxy_refuses(const struct gh_config *c, const struct gh_listen *on);

const char *gh_kind_str(enum gh_kind k);
const char *gh_http_mode_str(enum gh_http_mode m);
