/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include "cli/status_scrape.h"
#include "common/clock.h"

#define SCRAPE_MAX (64u << 20)

static int label(struct sample *s, const char *k, size_t kl, const char *v, size_t vl)
{
	struct {
		const char *k;
		char *dst;
		size_t size;
	} t[] = {
		{ "site", s->site, sizeof(s->site) },		{ "kind", s->kind, sizeof(s->kind) },
		{ "result", s->result, sizeof(s->result) },	{ "direction", s->direction, sizeof(s->direction) },
		{ "reason", s->reason, sizeof(s->reason) },	{ "generation", s->generation, sizeof(s->generation) },
		{ "forwarder", s->forwarder, sizeof(s->forwarder) },
		{ "server", s->server, sizeof(s->server) },
	};
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		if (strlen(t[i].k) == kl && !memcmp(t[i].k, k, kl)) {
			if (vl >= t[i].size)
				return -EINVAL;
			memcpy(t[i].dst, v, vl);
			t[i].dst[vl] = '\0';
		}
	}
	return 0;	/* labels it does not need are skipped */
}

/* name{k="v",...} value — values without escapes (ours have none) */
static int parse_line(const char *p, const char *end, struct sample *s)
{
	const char *q = p;
	memset(s, 0, sizeof(*s));
	while (q < end && (*q == '_' || *q == ':' || (*q >= 'a' && *q <= 'z') || (*q >= 'A' && *q <= 'Z') ||
			   (q > p && *q >= '0' && *q <= '9')))
		q++;
	if (q == p || (size_t)(q - p) >= sizeof(s->name))
		return -EINVAL;
	memcpy(s->name, p, (size_t)(q - p));
	if (q < end && *q == '{') {
		q++;
		while (q < end && *q != '}') {
			const char *k = q;
			while (q < end && *q != '=')
				q++;
			if (q + 1 >= end || q[1] != '"')
				return -EINVAL;
			size_t kl = (size_t)(q - k);
			const char *v = q + 2;
			const char *ve = memchr(v, '"', (size_t)(end - v));
			if (!ve || memchr(v, '\\', (size_t)(ve - v)) || label(s, k, kl, v, (size_t)(ve - v)) < 0)
				return -EINVAL;
			q = ve + 1;
			if (q < end && *q == ',')
				q++;
		}
		if (q >= end)
			return -EINVAL;
		q++;
	}
	if (q >= end || *q != ' ')
		return -EINVAL;
	char num[64];
	size_t nl = (size_t)(end - q - 1);
	if (nl == 0 || nl >= sizeof(num))
		return -EINVAL;
	memcpy(num, q + 1, nl);
	num[nl] = '\0';
	char *ne;
	s->value = strtod(num, &ne);
	return *ne ? -EINVAL : 0;
}

int scrape_parse(const char *text, size_t len, struct scrape *out, unsigned *bad_line)
{
	const char *p = text, *end = text + len;
	unsigned line = 0;

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *le = nl ? nl : end;
		line++;
		if (le > p && *p != '#') {
			if (out->n == out->cap) {
				size_t cap = out->cap ? out->cap * 2 : 64;
				struct sample *ns = realloc(out->s, cap * sizeof(*ns));
				if (!ns)
					return -ENOMEM;
				out->s = ns;
				out->cap = cap;
			}
			if (parse_line(p, le, &out->s[out->n]) < 0) {
				*bad_line = line;
				return -EINVAL;
			}
			out->n++;
		}
		p = nl ? nl + 1 : end;
	}
	return 0;
}

int scrape_get(const struct gh_addr *addr, int timeout_ms, struct scrape *out)
{
	uint64_t deadline = clock_now_ms() + (uint64_t)timeout_ms;
	int fd = socket(addr->ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	static const char req[] = "GET /metrics HTTP/1.1\r\nHost: gatehouse\r\nConnection: close\r\n\r\n";
	char *buf = NULL;
	size_t len = 0, cap = 0;
	int r = 0;

	if (fd < 0 || connect(fd, (const struct sockaddr *)&addr->ss, addr->len) < 0 ||
	    send(fd, req, sizeof(req) - 1, MSG_NOSIGNAL) != (ssize_t)sizeof(req) - 1) {
		r = -errno;
		fprintf(stderr, "gatehouse: metrics at %s: %s (is a `metrics` line in the config, or "
			"gatehouse-metrics.socket, serving there?)\n", addr->text, strerror(errno));
		goto out;
	}
	for (;;) {
		uint64_t now = clock_now_ms();
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		if (now >= deadline || poll(&pfd, 1, (int)(deadline - now)) <= 0) {
			r = -ETIMEDOUT;
			fprintf(stderr, "gatehouse: metrics at %s: no complete answer in time\n", addr->text);
			goto out;
		}
		if (len + 65536 > cap) {
			char *nb = cap < SCRAPE_MAX ? realloc(buf, cap ? cap * 2 : 131072) : NULL;
			if (!nb) {
				r = -ENOMEM;
				goto out;
			}
			buf = nb;
			cap = cap ? cap * 2 : 131072;
		}
		ssize_t n = recv(fd, buf + len, cap - len - 1, 0);
		if (n < 0) {
			r = -errno;
			goto out;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	buf[len] = '\0';
	char *body = strstr(buf, "\r\n\r\n");
	unsigned bad = 0;
	if (strncmp(buf, "HTTP/1.1 200 ", 13) || !body) {
		fprintf(stderr, "gatehouse: metrics at %s: unexpected answer: %.60s\n", addr->text, buf);
		r = -EPROTO;
	} else if ((r = scrape_parse(body + 4, len - (size_t)(body + 4 - buf), out, &bad)) < 0) {
		fprintf(stderr, "gatehouse: metrics at %s: line %u of the answer unreadable\n", addr->text, bad);
	}
out:
	if (fd >= 0)
		close(fd);
	free(buf);
	return r;
}

void scrape_free(struct scrape *sc)
{
	free(sc->s);
	memset(sc, 0, sizeof(*sc));
}

static bool match(const char *want, const char *have)
{
	return !want || !strcmp(want, have);
}

double scrape_sum(const struct scrape *sc, const char *name, const char *site, const char *kind,
		  const char *result, const char *direction, const char *reason)
{
	double v = 0;
	for (size_t i = 0; i < sc->n; i++) {
		const struct sample *s = &sc->s[i];
		if (!strcmp(s->name, name) && match(site, s->site) && match(kind, s->kind) &&
		    match(result, s->result) && match(direction, s->direction) && match(reason, s->reason))
			v += s->value;
	}
	return v;
}
