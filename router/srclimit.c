/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include "router/srclimit.h"

#define NIL UINT32_MAX
/* the masked address (16 bytes), then 4 bytes: the family in the top
 * bit, the site of srclimit_take() (or 0) below; 20 bytes keep a slot at
 * 56 */
#define KEY_LEN 20

struct src {
	uint8_t key[KEY_LEN];
	uint32_t live;			/* connections admitted and not released */
	uint32_t prev, next;		/* idle list (live == 0), least recently seen first */
	uint64_t hash;
	uint64_t credit;		/* token bucket: one token is window_ms credits */
	uint64_t refill_ms;		/* when credit was last brought up to date */
};

struct srclimit {
	struct srclimit_config cfg;
	uint8_t key[SIPHASH_KEY_LEN];
	struct src *src;		/* [slots]; src[0..used) in use */
	size_t slots, used;
	uint32_t *index;		/* [mask + 1]: entry number + 1, 0 = empty */
	size_t mask;
	uint32_t idle_head, idle_tail;
};

static const uint8_t mapped_prefix[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

struct srclimit *srclimit_new(size_t slots, const struct srclimit_config *cfg, const uint8_t key[SIPHASH_KEY_LEN])
{
	struct srclimit *t;
	size_t buckets = 1;

	if (slots == 0 || slots > SRCLIMIT_MAX_SLOTS || cfg->v4_prefix < 1 || cfg->v4_prefix > 32 ||
	    cfg->v6_prefix < 1 || cfg->v6_prefix > 128 ||
	    (cfg->rate && (cfg->window_ms < 1 || cfg->window_ms > 86400000u))) {
		errno = EINVAL;
		return NULL;
	}
	while (buckets < 2 * slots)	/* load at most 1/2: short probes */
		buckets *= 2;
	t = calloc(1, sizeof(*t));
	if (!t)
		return NULL;
	t->src = calloc(slots, sizeof(*t->src));
	t->index = calloc(buckets, sizeof(*t->index));
	if (!t->src || !t->index) {
		srclimit_free(t);
		errno = ENOMEM;
		return NULL;
	}
	/* touched now: the memory is taken at start, not as sources come
	 * (calloc may hand out pages the kernel has not backed yet);
	 * explicit_bzero, since a compiler may drop a memset after calloc */
	explicit_bzero(t->src, slots * sizeof(*t->src));
	explicit_bzero(t->index, buckets * sizeof(*t->index));
	t->cfg = *cfg;
	memcpy(t->key, key, SIPHASH_KEY_LEN);
	t->slots = slots;
	t->mask = buckets - 1;
	t->idle_head = t->idle_tail = NIL;
	return t;
}

void srclimit_free(struct srclimit *t)
{
	if (!t)
		return;
	free(t->src);
	free(t->index);
	free(t);
}

void srclimit_group(unsigned v4_prefix, unsigned v6_prefix, int family, const uint8_t *addr,
		   uint8_t key[SRCLIMIT_GROUP_LEN])
{
	unsigned len;

	memset(key, 0, SRCLIMIT_GROUP_LEN);
	if (family == AF_INET6 && memcmp(addr, mapped_prefix, 12) == 0) {
		family = AF_INET;
		addr += 12;
	}
	key[0] = family == AF_INET ? 4 : 6;
	len = family == AF_INET ? v4_prefix : v6_prefix;
	memcpy(key + 1, addr, len / 8);
	if (len % 8)
		key[1 + len / 8] = (uint8_t)(addr[len / 8] & (0xff00 >> (len % 8)));
}

static void source_key(const struct srclimit *t, int family, const uint8_t *addr, uint32_t tag,
		       uint8_t key[KEY_LEN])
{
	uint8_t g[SRCLIMIT_GROUP_LEN];

	srclimit_group(t->cfg.v4_prefix, t->cfg.v6_prefix, family, addr, g);
	memcpy(key, g + 1, 16);
	uint32_t w = (tag & 0x7fffffffu) | (g[0] == 6 ? 0x80000000u : 0);
	memcpy(key + 16, &w, sizeof(w));
}

/* The index position holding entry e (it is there: it was inserted). */
static size_t position_of(const struct srclimit *t, uint32_t e)
{
	size_t i = t->src[e].hash & t->mask;
	while (t->index[i] != e + 1)
		i = (i + 1) & t->mask;
	return i;
}

/* Entry number of a key, or NIL; *slot: where it would be inserted. */
static uint32_t find(const struct srclimit *t, const uint8_t key[KEY_LEN], uint64_t h, size_t *slot)
{
	size_t i = h & t->mask;
	while (t->index[i]) {
		uint32_t e = t->index[i] - 1;
		if (t->src[e].hash == h && memcmp(t->src[e].key, key, KEY_LEN) == 0)
			return e;
		i = (i + 1) & t->mask;
	}
	*slot = i;
	return NIL;
}

/* Remove an index position; later entries of the probe run move back so
 * every entry stays reachable from its home bucket (no tombstones). */
static void index_delete(struct srclimit *t, size_t i)
{
	size_t j = i;

	t->index[i] = 0;
	for (;;) {
		j = (j + 1) & t->mask;
		if (!t->index[j])
			return;
		size_t home = t->src[t->index[j] - 1].hash & t->mask;
		/* stays if its home lies cyclically in (i, j] */
		bool stays = i <= j ? (home > i && home <= j) : (home > i || home <= j);
		if (stays)
			continue;
		t->index[i] = t->index[j];
		t->index[j] = 0;
		i = j;
	}
}

static void idle_unlink(struct srclimit *t, uint32_t e)
{
	struct src *s = &t->src[e];
	if (s->prev != NIL)
		t->src[s->prev].next = s->next;
	else
		t->idle_head = s->next;
	if (s->next != NIL)
		t->src[s->next].prev = s->prev;
	else
		t->idle_tail = s->prev;
	s->prev = s->next = NIL;
}

static void idle_append(struct srclimit *t, uint32_t e)
{
	struct src *s = &t->src[e];
	s->prev = t->idle_tail;
	s->next = NIL;
	if (t->idle_tail != NIL)
		t->src[t->idle_tail].next = e;
	else
		t->idle_head = e;
	t->idle_tail = e;
}

/* A slot for a new source: a free one, else the least recently seen idle
 * source's, else NIL. */
static uint32_t take_slot(struct srclimit *t)
{
	if (t->used < t->slots)
		return (uint32_t)t->used++;
	uint32_t e = t->idle_head;
	if (e == NIL)
		return NIL;
	idle_unlink(t, e);
	index_delete(t, position_of(t, e));
	return e;
}

/* a token bucket's parameters: the table's, or a site's (srclimit_take) */
struct rate {
	uint32_t n, window_ms;
};

static uint64_t bucket_full(struct rate r)
{
	return (uint64_t)r.n * r.window_ms;
}

static void refill(struct rate r, struct src *s, uint64_t now_ms)
{
	if (now_ms <= s->refill_ms)
		return;		/* a clock that stands still (or steps back) adds nothing */
	uint64_t dt = now_ms - s->refill_ms;
	if (dt > r.window_ms)
		dt = r.window_ms;	/* a whole window refills everything */
	s->credit += dt * r.n;
	if (s->credit > bucket_full(r))
		s->credit = bucket_full(r);
	s->refill_ms = now_ms;
}

/* Take a token from s's bucket, or say when the next one comes. */
static bool take_token(struct rate r, struct src *s, uint64_t now_ms, uint32_t *retry_after_s)
{
	refill(r, s, now_ms);
	if (s->credit < r.window_ms) {
		uint64_t ms = (r.window_ms - s->credit + r.n - 1) / r.n;
		*retry_after_s = (uint32_t)((ms + 999) / 1000);
		return false;
	}
	s->credit -= r.window_ms;
	return true;
}

/* The entry of key, made (with a full bucket) if new and seen now: to
 * the end of the idle list if idle. NIL when the table is full of live
 * sources. */
static uint32_t entry(struct srclimit *t, const uint8_t key[KEY_LEN], struct rate r, uint64_t now_ms)
{
	size_t slot = 0;
	uint64_t h = siphash24(t->key, key, KEY_LEN);
	uint32_t e = find(t, key, h, &slot);
	struct src *s;

	if (e == NIL) {
		e = take_slot(t);
		if (e == NIL)
			return NIL;
		s = &t->src[e];
		memcpy(s->key, key, KEY_LEN);
		s->hash = h;
		s->live = 0;
		s->credit = bucket_full(r);
		s->refill_ms = now_ms;
		/* an eviction may have moved the probe run: look again for
		 * the empty bucket (the key is still absent) */
		(void)find(t, key, h, &slot);
		t->index[slot] = e + 1;
		idle_append(t, e);
	}
	s = &t->src[e];
	if (s->live == 0) {		/* seen now: to the end of the idle list */
		idle_unlink(t, e);
		idle_append(t, e);
	}
	return e;
}

enum srclimit_status srclimit_admit(struct srclimit *t, int family, const uint8_t *addr, uint64_t now_ms,
				    uint32_t *retry_after_s)
{
	uint8_t key[KEY_LEN];
	const struct rate r = { t->cfg.rate, t->cfg.window_ms };

	*retry_after_s = 0;
	source_key(t, family, addr, 0, key);
	uint32_t e = entry(t, key, r, now_ms);
	if (e == NIL)
		return SRCLIMIT_FULL;
	struct src *s = &t->src[e];
	if (t->cfg.max_concurrent && s->live >= t->cfg.max_concurrent)
		return SRCLIMIT_OVER_CONCURRENT;
	if (t->cfg.rate && !take_token(r, s, now_ms, retry_after_s))
		return SRCLIMIT_OVER_RATE;
	if (s->live++ == 0)
		idle_unlink(t, e);
	return SRCLIMIT_OK;
}

enum srclimit_status srclimit_take(struct srclimit *t, int family, const uint8_t *addr, uint32_t site,
				   uint32_t rate, uint32_t window_ms, uint64_t now_ms, uint32_t *retry_after_s)
{
	uint8_t key[KEY_LEN];
	const struct rate r = { rate, window_ms };

	*retry_after_s = 0;
	if (rate == 0 || window_ms == 0)
		return SRCLIMIT_OK;
	source_key(t, family, addr, site, key);
	uint32_t e = entry(t, key, r, now_ms);
	if (e == NIL)
		return SRCLIMIT_FULL;	/* only with live sources from srclimit_admit */
	return take_token(r, &t->src[e], now_ms, retry_after_s) ? SRCLIMIT_OK : SRCLIMIT_OVER_RATE;
}

long srclimit_slot(const struct srclimit *t, int family, const uint8_t *addr)
{
	uint8_t key[KEY_LEN];
	size_t slot;

	source_key(t, family, addr, 0, key);
	uint32_t e = find(t, key, siphash24(t->key, key, KEY_LEN), &slot);
	return e == NIL ? -1 : (long)e;
}

int srclimit_release_slot(struct srclimit *t, uint32_t e)
{
	if (e >= t->used || t->src[e].live == 0)
		return -1;
	if (--t->src[e].live == 0)
		idle_append(t, e);
	return 0;
}

int srclimit_release(struct srclimit *t, int family, const uint8_t *addr)
{
	long e = srclimit_slot(t, family, addr);
	return e < 0 ? -1 : srclimit_release_slot(t, (uint32_t)e);
}

size_t srclimit_used(const struct srclimit *t)
{
	return t->used;
}

size_t srclimit_memory(const struct srclimit *t)
{
	return sizeof(*t) + t->slots * sizeof(*t->src) + (t->mask + 1) * sizeof(*t->index);
}

size_t srclimit_bucket(const struct srclimit *t, int family, const uint8_t *addr)
{
	uint8_t key[KEY_LEN];
	source_key(t, family, addr, 0, key);
	return siphash24(t->key, key, KEY_LEN) & t->mask;
}

size_t srclimit_buckets(const struct srclimit *t)
{
	return t->mask + 1;
}
