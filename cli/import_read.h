/* SPDX-License-Identifier: MIT */
#pragma once
/*
 * The import's second pass: HAProxy's sections and keywords into the
 * model (import_model.h), each line that has no counterpart reported
 * where it is met. import_read.c has the sections and the proxy keywords,
 * import_frontend.c a frontend's bind and rules, import_server.c the
 * servers.
 */
#include <stdio.h>
#include "cli/import_model.h"

/* The whole file into x; -EIO on a read error. */
int hx_read(struct hx *x, FILE *f);

/* The reader's parts, for its own files. */
void hx_bind(struct hx *x, struct hx_proxy *p, const struct hx_line *l);
void hx_use_backend(struct hx *x, struct hx_proxy *p, const struct hx_line *l);
/* `[http-request] redirect ...`, its words from i on */
void hx_redirect(struct hx *x, struct hx_proxy *p, const struct hx_line *l, size_t i);
/* a fetch that names the client's host: the SNI (tcp) or the Host (http) */
bool hx_fetch_ok(const char *f, size_t n, bool tcp);
/* `acl NAME ...` in a frontend (import_acl.c) */
void hx_acl(struct hx *x, struct hx_proxy *p, const struct hx_line *l);
/* use_backend's `if COND` from word `from` on: the hosts it names into
 * r->hosts, or false with the reason said (import_acl.c) */
bool hx_cond_hosts(struct hx *x, struct hx_proxy *p, const struct hx_line *l, size_t from, struct hx_rule *r);
void hx_tcp_request(struct hx *x, struct hx_proxy *p, const struct hx_line *l);
void hx_http_request(struct hx *x, struct hx_proxy *p, const struct hx_line *l);
void hx_server(struct hx *x, struct hx_proxy *p, const struct hx_line *l);
/* a server's or default-server's options from word `from` on into o;
 * false when the server cannot be used as translated */
bool hx_server_options(struct hx *x, const struct hx_line *l, size_t from, struct hx_srvopts *o);
