/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target: http_head_parse(), and through it hostname_normalize().
 * Also: what acme_challenge() accepts stays inside the challenge directory.
 * Input: byte 0 picks the cap (64 + 64 * b, at most 16 KiB), byte 1 a
 * prefix length, the rest is what the client sent. Invariants fail with
 * abort(), so replay.c checks them in any build, sanitizers or not.
 *
 * Why these invariants hold: the parser scans min(len, cap) bytes left to
 * right and decides each byte from the bytes before it, so a prefix either
 * runs out (NEED_MORE, only while len < cap) or stops where the whole stops,
 * with the same answer. 414/431 need len >= cap, and then prefix and whole
 * scan the same cap bytes, so no exception is needed for them. A larger cap
 * changes only answers that came from the cap.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "router/acme_challenge.h"
#include "router/http_head.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(x) do { if (!(x)) abort(); } while (0)

static bool inside(const uint8_t *p, size_t n, const uint8_t *buf, size_t len)
{
	return p >= buf && n <= len && (size_t)(p - buf) <= len - n;
}

static bool name_byte(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       c == '-' || c == '_' || c == '.' || c == '[' || c == ']' || c == ':';
}

/* a normalised name: bounded, terminated, allowed bytes, a fixed point */
static void check_name(const char *name, size_t len, bool pattern)
{
	char again[HOSTNAME_MAX + 1];
	size_t again_len = 0;
	enum hostname_status r;

	CHECK(len > 0 && len <= HOSTNAME_MAX);
	CHECK(name[len] == '\0' && strlen(name) == len);
	for (size_t i = 0; i < len; i++)
		CHECK(name_byte(name[i]) || (pattern && i == 0 && name[i] == '*'));
	CHECK(name[len - 1] != '.');
	if (pattern)
		r = hostname_normalize_pattern((const uint8_t *)name, len, again, &again_len);
	else
		r = hostname_normalize((const uint8_t *)name, len, again, &again_len);
	CHECK(r == HOSTNAME_OK && again_len == len && memcmp(again, name, len + 1) == 0);
}

/* what redirect-https routes can hold no way out of the challenge
 * directory: no '/', '.', '%', '?' or '#' after the prefix, no body */
static void check_acme(const struct http_head *h)
{
	const size_t plen = sizeof(ACME_CHALLENGE_PREFIX) - 1;

	if (!acme_challenge(h))
		return;
	CHECK(!h->has_body);
	CHECK(h->path_len > plen && memcmp(h->path, ACME_CHALLENGE_PREFIX, plen) == 0);
	for (size_t i = plen; i < h->path_len; i++)
		CHECK(memchr("/.%?#=", h->path[i], 6) == NULL);
	CHECK((h->method_len == 3 && memcmp(h->method, "GET", 3) == 0) ||
	      (h->method_len == 4 && memcmp(h->method, "HEAD", 4) == 0));
}

/* what must hold for any single answer */
static void check_one(const uint8_t *buf, size_t len, size_t cap,
		      enum http_head_status r, const struct http_head *h)
{
	CHECK(h->reason != NULL);
	switch (r) {
	case HTTP_HEAD_NEED_MORE:
		CHECK(len < cap);
		break;
	case HTTP_HEAD_INVALID:
		CHECK(h->status == 400 || h->status == 405 || h->status == 414 ||
		      h->status == 431 || h->status == 505);
		if (h->status == 414 || h->status == 431)
			CHECK(len >= cap);
		break;
	case HTTP_HEAD_DONE:
		CHECK(h->head_len > 0 && h->head_len <= len && h->head_len <= cap);
		CHECK(buf[h->head_len - 1] == '\n');
		CHECK(h->method_len > 0 && inside(h->method, h->method_len, buf, h->head_len));
		CHECK(h->target_len > 0 && inside(h->target, h->target_len, buf, h->head_len));
		CHECK(h->path_len > 0);
		CHECK(inside(h->path, h->path_len, buf, h->head_len) ||
		      (h->path_len == 1 && h->path[0] == '/'));
		CHECK(h->version_minor == 0 || h->version_minor == 1);
		CHECK(h->host_len <= HOSTNAME_MAX && h->host[h->host_len] == '\0');
		CHECK(h->has_host == (h->host_len > 0));
		if (h->has_host)
			check_name(h->host, h->host_len, false);
		check_acme(h);
		break;
	default:
		abort();
	}
}

static void same_answer(enum http_head_status ra, const struct http_head *a, const uint8_t *abuf,
			enum http_head_status rb, const struct http_head *b, const uint8_t *bbuf)
{
	CHECK(ra == rb);
	CHECK(a->status == b->status && strcmp(a->reason, b->reason) == 0);
	if (ra != HTTP_HEAD_DONE)
		return;
	CHECK(a->head_len == b->head_len && a->version_minor == b->version_minor);
	CHECK(a->has_host == b->has_host && a->host_len == b->host_len);
	CHECK(strcmp(a->host, b->host) == 0);
	CHECK(a->method - abuf == b->method - bbuf && a->method_len == b->method_len);
	CHECK(a->target - abuf == b->target - bbuf && a->target_len == b->target_len);
	CHECK(a->path_len == b->path_len && memcmp(a->path, b->path, a->path_len) == 0);
}

/* parse from an exact-size copy, so ASan sees a read past len */
static enum http_head_status parse_copy(const uint8_t *in, size_t len, size_t cap,
					struct http_head *h, uint8_t **copy)
{
	*copy = malloc(len ? len : 1);
	CHECK(*copy != NULL);
	if (len)
		memcpy(*copy, in, len);
	return http_head_parse(*copy, len, cap, h);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct http_head whole, part, other;
	uint8_t *pbuf, *obuf;

	if (size < 2)
		return 0;
	size_t cap = 64 + (size_t)data[0] * 64;
	if (cap > HTTP_HEAD_DEFAULT_CAP)
		cap = HTTP_HEAD_DEFAULT_CAP;
	const uint8_t *in = data + 2;
	size_t len = size - 2;
	size_t k = len * data[1] / 255;

	enum http_head_status r = http_head_parse(in, len, cap, &whole);
	check_one(in, len, cap, r, &whole);

	/* a prefix never contradicts the whole */
	enum http_head_status pr = parse_copy(in, k, cap, &part, &pbuf);
	check_one(pbuf, k, cap, pr, &part);
	if (pr != HTTP_HEAD_NEED_MORE)
		same_answer(pr, &part, pbuf, r, &whole, in);
	if (r == HTTP_HEAD_DONE)
		CHECK((pr == HTTP_HEAD_DONE) == (k >= whole.head_len));
	if (r != HTTP_HEAD_NEED_MORE && k >= cap)
		CHECK(pr != HTTP_HEAD_NEED_MORE);
	free(pbuf);

	/* bytes after the head are never looked at */
	if (r == HTTP_HEAD_DONE && whole.head_len < len) {
		enum http_head_status hr = parse_copy(in, whole.head_len, cap, &part, &pbuf);
		same_answer(hr, &part, pbuf, r, &whole, in);
		free(pbuf);
	}

	/* a larger cap changes only what the cap decided */
	enum http_head_status br = parse_copy(in, len, HTTP_HEAD_DEFAULT_CAP * 2, &other, &obuf);
	check_one(obuf, len, HTTP_HEAD_DEFAULT_CAP * 2, br, &other);
	if (r == HTTP_HEAD_NEED_MORE || r == HTTP_HEAD_DONE ||
	    (whole.status != 414 && whole.status != 431))
		same_answer(r, &whole, in, br, &other, obuf);
	free(obuf);

	/* the head exactly at the cap still fits; one byte less does not */
	if (r == HTTP_HEAD_DONE) {
		enum http_head_status er = http_head_parse(in, len, whole.head_len, &other);
		same_answer(r, &whole, in, er, &other, in);
		er = http_head_parse(in, len, whole.head_len - 1, &other);
		CHECK(er == HTTP_HEAD_INVALID && (other.status == 414 || other.status == 431));
	}

	/* the same bytes straight into the name normaliser */
	char name[HOSTNAME_MAX + 1];
	size_t name_len = 0;

	if (hostname_normalize(in, len, name, &name_len) == HOSTNAME_OK)
		check_name(name, name_len, false);
	if (hostname_normalize_pattern(in, len, name, &name_len) == HOSTNAME_OK)
		check_name(name, name_len, true);
	return 0;
}
