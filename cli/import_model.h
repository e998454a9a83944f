/* SPDX-License-Identifier: MIT */
#pragma once
/*
 * What the reader (import_read.h) makes of an HAProxy config: the proxies
 * with only what gatehouse can express, and what the resolver
 * (import_resolve.h) makes of them: sites, and the frontends of each kind.
 * The writer (import_write.h) prints it. Also the messages every pass
 * gives, with their class.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include "router/config.h"
#include "router/hostname.h"
#include "cli/import_lex.h"

enum hx_class {
	HX_SILENT,	/* gatehouse does this itself, or it only concerns HAProxy */
	HX_NOTE,	/* translated, with a difference worth knowing */
	HX_MINOR,	/* not translated; the names still reach the same servers */
	HX_ESSENTIAL,	/* not translated; the result does not behave the same */
};

/* A duration and where it was set; line 0 means unset. */
struct hx_ms {
	uint64_t ms;
	unsigned line;
	char text[HX_TEXT_MAX + 4];
};

struct hx_timeouts {
	struct hx_ms connect, client, server, tunnel, http_request, queue;
};

struct hx_srvopts {
	int proxy;		/* PROXY header: 0 off, 1 or 2 */
	unsigned proxy_line;	/* where that was said; 0 = nowhere */
	bool backup, disabled;
	unsigned maxconn;	/* 0: none (HAProxy: no limit) */
	/* `check` and its `inter rise fall` (0: HAProxy's defaults, which
	 * are gatehouse's: 2s, 2, 3) */
	bool check;
	unsigned check_line;
	uint64_t inter_ms;
	unsigned rise, fall;
};

struct hx_server {
	char *name;
	struct hx_addr a;
	struct hx_srvopts o;
	unsigned line;
};

struct hx_bind {
	struct hx_addr a;
	bool v6only;
	bool accept_proxy;	/* `accept-proxy`: every peer sends a PROXY header */
	unsigned line;
	char text[HX_TEXT_MAX + 4];
};

/* use_backend PREFIX%[fetch,converters]SUFFIX, or (backend set)
 * use_backend BACKEND if COND, COND naming the hosts[] that go there */
struct hx_rule {
	char *prefix, *suffix;
	bool lower;		/* `lower` converter: capitals in a backend name are unreachable */
	unsigned line;
	char *backend;		/* an ACL rule: prefix and suffix NULL */
	char **hosts;
	size_t n_hosts;
};

/* `acl NAME FETCH [-i] [-m str] VALUE...` naming hosts; every line of a
 * name adds to it (HAProxy ORs them). why: NULL, or why it is not a list
 * of names gatehouse can route by. */
struct hx_acl {
	char *name;
	char **hosts;
	size_t n_hosts;
	const char *why;
	unsigned line;		/* its first line */
	/* `acl NAME src CIDR...` (import_edge.c): src_why NULL when every
	 * line of the name was one */
	char **cidrs;
	size_t n_cidrs;
	const char *src_why;
};

/* `tcp-request connection|content accept|reject if|unless SRC`: an
 * allow or deny line of gatehouse's global list (import_edge.c) */
struct hx_src_rule {
	bool allow;
	char **cidrs;		/* "all": every source */
	size_t n_cidrs;
	unsigned line;
	char text[HX_TEXT_MAX + 4];
};

struct hx_proxy {
	char *name;
	unsigned line;
	bool fe, be;		/* frontend, backend; both for `listen` */
	bool disabled;
	bool skip;		/* a frontend gatehouse cannot stand in for */
	bool tcp;		/* mode tcp (HAProxy's default mode) */
	struct hx_timeouts t;
	struct hx_srvopts defsrv;
	/* frontend */
	struct hx_bind *binds;
	size_t n_binds;
	struct hx_rule *rules;
	size_t n_rules;
	struct hx_acl *acls;
	size_t n_acls;
	/* per-source policy from tcp-request rules (import_edge.c) */
	struct hx_src_rule *src_rules;
	size_t n_src_rules;
	unsigned conn_cur, conn_cur_line;	/* reject if { sc_conn_cur(0) gt N }: source-connections N */
	unsigned conn_rate, conn_rate_line;	/* reject if { sc_conn_rate(0) gt N }: source-rate N/period */
	uint64_t rate_period_ms;		/* stick-table ... store conn_rate(PERIOD) */
	unsigned table_line, track_line;	/* stick-table; tcp-request ... track-sc0 src */
	bool limits_said;			/* its limits were refused, with the reason */
	char table_text[HX_TEXT_MAX + 4], track_text[HX_TEXT_MAX + 4];
	char *default_backend;		/* default_backend, or an unconditional use_backend */
	unsigned default_line;
	bool default_by_rule;		/* it came from `use_backend NAME` */
	unsigned redirect_line;		/* `redirect scheme https`; 0 = none */
	bool hello_rule;		/* tcp-request content ... req_ssl_hello_type 1 */
	struct hx_ms inspect;		/* tcp-request inspect-delay */
	/* backend */
	struct hx_server *servers;
	size_t n_servers;
	unsigned server_lines;		/* translated or not */
	bool used;			/* part of a site */
};

struct hx_site {
	char name[HOSTNAME_MAX + 1];
	bool synthetic;		/* "<backend>.invalid": reached only as a default */
	struct hx_proxy *be[GH_KIND_TCP_COUNT];
	bool has[GH_KIND_TCP_COUNT];	/* servers of that kind were written */
};

/* The frontends of one kind, merged: gatehouse has one route table each. */
struct hx_kind {
	struct hx_proxy **fe;
	size_t n_fe;
	unsigned port;		/* the one port they bind, 0 none, UINT32_MAX several */
	size_t default_site;	/* 1 + its index in x->sites (which grows); 0: none */
	unsigned default_line;
	const char *default_backend;
};

struct hx {
	const char *file;		/* as shown in messages and comments */
	FILE *err;			/* where messages go */
	unsigned n_essential;
	struct hx_proxy defaults;	/* the latest `defaults` section */
	bool in_defaults;
	struct hx_proxy *cur;		/* proxy section being read; NULL elsewhere */
	struct hx_proxy **px;
	size_t n_px;
	unsigned global_line;
	struct hx_site *sites;
	size_t n_sites;
	struct hx_kind kinds[GH_KIND_TCP_COUNT];
};

/* "FILE:LINE: cannot translate: ..." or "FILE:LINE: note: ..." on x->err;
 * line 0: no line. */
__attribute__((format(printf, 4, 5)))
void hx_say(struct hx *x, unsigned line, enum hx_class c, const char *fmt, ...);

void hx_init(struct hx *x, const char *file, FILE *err);
void hx_free(struct hx *x);
void hx_proxy_free(struct hx_proxy *p);
/* forget what the last defaults section said: HAProxy's own defaults */
void hx_defaults_reset(struct hx_proxy *d);
/* the proxy named name; be: only a backend (or listen) */
struct hx_proxy *hx_find(const struct hx *x, const char *name, bool be);
/* The backend a frontend uses for clients no rule routed (a `listen`
 * section with servers is its own); NULL: none. */
const char *hx_fallback(const struct hx_proxy *p);
/* the site clients of kind k go to when no name matched; NULL: none */
struct hx_site *hx_default_site(const struct hx *x, enum gh_kind k);

/* A keyword's options (bind, server): name, words taken, class. */
struct hx_opt {
	const char *name;
	unsigned char args;	/* words taken after the option's name */
	unsigned char what;
};
const struct hx_opt *hx_opt_find(const struct hx_opt *t, size_t n, const char *name);

/* A duration keyword's value into m, or a message naming the line. */
void hx_set_ms(struct hx *x, struct hx_ms *m, const struct hx_line *l, const char *value);
