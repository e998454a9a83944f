/* SPDX-License-Identifier: MIT */
/*
 * The listener's per-connection state machine (listener/decide.c) driven by
 * arbitrary byte chunks, hang-ups and timeouts, as a client on the network
 * can. Input: byte 0 picks the port and config; then ops: a byte < 0xf0 is a
 * chunk of (byte % 64) + 1 input bytes taken from what follows; 0xf0-0xf7 is
 * the inspect timeout; 0xf8-0xff the client hanging up.
 * Invariants (abort on violation):
 *  - feeding in chunks decides exactly what feeding the same bytes at once
 *    decides (the listener re-parses from the first byte each time);
 *  - a hand-off names a site that has servers of that kind;
 *  - an answer is an HTTP response (for :80), written in the caller's answer
 *    buffer, or the TLS alert (for :443);
 *  - under redirect-https, a hand-off is a lone ACME challenge head, and
 *    carries it as its one request;
 *  - the name is NUL-terminated, normalised and at most 253 bytes.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "router/config.h"
#include "listener/decide.h"
#include "router/acme_challenge.h"
#include "router/hostname.h"
#include "router/http_head.h"

static struct gh_config *cfgs[2];
/* the answer buffers decide_*() write into: theirs is the only memory an
 * answer may be in, apart from the static TLS alert */
static char ans[DECIDE_ANSWER_MAX], ans2[DECIDE_ANSWER_MAX];

static void no_errors(void *u, const char *m)
{
	(void)u;
	(void)m;
	abort();
}

static void setup(void)
{
	static const char route[] =
		"max-head-size 2k\n"
		"site a.example www.a.example *.w.example\n  http [::1]:80\n  tls [::1]:443\n"
		"site b.example\n  tls [2001:db8::1]:443\n"
		"default tls b.example\n";
	static const char redirect[] =
		"http-mode redirect-https\n"
		"site a.example\n  http [::1]:80\n  tls [::1]:443\n"
		"default http a.example\n";
	if (cfgs[0])
		return;
	if (config_parse("route", route, sizeof(route) - 1, no_errors, NULL, &cfgs[0]) < 0 ||
	    config_parse("redirect", redirect, sizeof(redirect) - 1, no_errors, NULL, &cfgs[1]) < 0)
		abort();
}

static void check(const struct gh_config *cfg, unsigned kind, const struct decision *d,
		  const uint8_t *seen, size_t len, const char *answer)
{
	size_t nl = strnlen(d->name, sizeof(d->name));
	if (nl >= sizeof(d->name) || nl > HOSTNAME_MAX)
		abort();
	if (nl) {
		char again[HOSTNAME_MAX + 1];
		size_t al;
		if (hostname_normalize((const uint8_t *)d->name, nl, again, &al) != HOSTNAME_OK ||
		    al != nl || memcmp(again, d->name, nl))
			abort();
	}
	switch (d->action) {
	case DECIDE_HANDOFF:
		if (d->site >= cfg->n_sites || cfg->sites[d->site].n_servers[kind] == 0)
			abort();
		/* one request: only under redirect-https, a whole ACME head with
		 * nothing after it */
		if (d->one_request) {
			struct http_head h;
			if (cfg->http_mode != GH_HTTP_REDIRECT_HTTPS || d->one_request != len ||
			    http_head_parse(seen, len, cfg->max_head, &h) != HTTP_HEAD_DONE ||
			    h.head_len != len || !acme_challenge(&h))
				abort();
		} else if (kind == GH_KIND_HTTP && cfg->http_mode == GH_HTTP_REDIRECT_HTTPS) {
			abort();	/* redirect-https tunnels nothing */
		}
		break;
	case DECIDE_ANSWER:
		if (!d->result)
			abort();
		if (d->answer_len && kind == GH_KIND_HTTP &&
		    (d->answer_len < 12 || memcmp(d->answer, "HTTP/1.1 ", 9) ||
		     d->answer != (const uint8_t *)answer || d->answer_len > DECIDE_ANSWER_MAX))
			abort();
		if (d->answer_len && kind == GH_KIND_TLS && (d->answer_len != 7 || d->answer[0] != 0x15))
			abort();
		break;
	default:
		break;
	}
}

static int same(const struct decision *a, const struct decision *b)
{
	return a->action == b->action && a->site == b->site && !strcmp(a->name, b->name) &&
	       a->status == b->status && a->answer_len == b->answer_len &&
	       a->one_request == b->one_request &&
	       (a->answer_len == 0 || !memcmp(a->answer, b->answer, a->answer_len)) &&
	       (a->result == b->result || (a->result && b->result && !strcmp(a->result, b->result)));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	setup();
	unsigned kind = data[0] & 1;
	const struct gh_config *cfg = cfgs[(data[0] >> 1) & 1];
	uint8_t *seen = malloc(size);
	size_t len = 0, i = 1;
	struct decision d, whole;

	if (!seen)
		return 0;
	while (i < size) {
		uint8_t op = data[i++];
		if (op >= 0xf0 && op < 0xf8) {
			decide_timeout(kind, len > 0, &d, ans, sizeof(ans));
			check(cfg, kind, &d, seen, len, ans);
			if (d.action != DECIDE_ANSWER)
				abort();	/* a timeout always ends the client */
			break;
		}
		bool closed = op >= 0xf8;
		if (!closed) {
			size_t n = (size_t)(op % 64) + 1;
			if (n > size - i)
				n = size - i;
			memcpy(seen + len, data + i, n);
			len += n;
			i += n;
		}
		decide_bytes(cfg, kind, seen, len, closed, &d, ans, sizeof(ans));
		check(cfg, kind, &d, seen, len, ans);
		decide_bytes(cfg, kind, seen, len, closed, &whole, ans2, sizeof(ans2));
		if (!same(&d, &whole))
			abort();	/* deterministic */
		if (d.action != DECIDE_WAIT)
			break;
		if (closed)
			abort();	/* a hang-up never leaves a client waiting */
	}
	free(seen);
	return 0;
}
