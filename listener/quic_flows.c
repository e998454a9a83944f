/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "listener/quic_flows.h"
#include "router/siphash.h"

int lq_init(struct lqtable *t, unsigned max_flows, unsigned max_pending, unsigned max_per_prefix,
	    const uint8_t hkey[16])
{
	unsigned nb = 1024;

	memset(t, 0, sizeof(*t));
	while (nb < max_flows && nb < (1u << 20))
		nb <<= 1;
	t->buckets = calloc(nb, sizeof(*t->buckets));
	t->cids = calloc(nb, sizeof(*t->cids));
	t->ids = calloc(nb, sizeof(*t->ids));
	if (!t->buckets || !t->cids || !t->ids) {
		free(t->buckets);
		free(t->cids);
		free(t->ids);
		return -ENOMEM;
	}
	t->mask = nb - 1;
	t->max_flows = max_flows;
	t->max_pending = max_pending;
	t->max_per_prefix = max_per_prefix;
	memcpy(t->hkey, hkey, sizeof(t->hkey));
	dlist_init(&t->pending);
	dlist_init(&t->active);
	return 0;
}

static unsigned slot(const struct lqtable *t, const struct lqkey *k)
{
	return (unsigned)siphash24(t->hkey, (const uint8_t *)k, sizeof(*k)) & t->mask;
}

/* /24 of an IPv4 (v4-mapped) source, /48 of an IPv6 one, hashed */
static uint16_t prefix_bucket(const struct lqtable *t, const struct lqkey *k)
{
	static const uint8_t mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
	uint8_t p[16] = { 0 };
	size_t n = memcmp(k->client, mapped, 12) == 0 ? 15 : 6;

	memcpy(p, k->client, n);
	return (uint16_t)(siphash24(t->hkey, p, sizeof(p)) % LQ_PREFIX_BUCKETS);
}

static unsigned cid_slot(const struct lqtable *t, const uint8_t *cid, size_t len)
{
	return (unsigned)siphash24(t->hkey, cid, len) & t->mask;
}

struct lqflow *lq_find_cid(struct lqtable *t, const uint8_t *cid, size_t len)
{
	for (struct lqflow *f = t->cids[cid_slot(t, cid, len)]; f; f = f->cid_next)
		if (f->scid_len == len && memcmp(f->scid, cid, len) == 0)
			return f;
	return NULL;
}

void lq_learn_cid(struct lqtable *t, struct lqflow *f, const uint8_t *cid, size_t len)
{
	if (f->scid_len || !f->active || len == 0 || len > QUIC_CID_MAX ||
	    (len == f->odcid_len && memcmp(cid, f->odcid, len) == 0) || lq_find_cid(t, cid, len))
		return;
	memcpy(f->scid, cid, len);
	f->scid_len = (uint8_t)len;
	unsigned s = cid_slot(t, cid, len);
	f->cid_next = t->cids[s];
	t->cids[s] = f;
	t->cid_lens |= 1u << len;
}

/* ids are the listener's own, one after another: no hashing needed */
static unsigned id_slot(const struct lqtable *t, uint64_t id)
{
	return (unsigned)id & t->mask;
}

struct lqflow *lq_find_id(struct lqtable *t, uint64_t id)
{
	for (struct lqflow *f = t->ids[id_slot(t, id)]; f; f = f->id_next)
		if (f->id == id)
			return f;
	return NULL;
}

static void unlink_key(struct lqtable *t, struct lqflow *f)
{
	struct lqflow **pp = &t->buckets[slot(t, &f->key)];

	while (*pp && *pp != f)
		pp = &(*pp)->next;
	if (*pp)
		*pp = f->next;
}

void lq_rekey(struct lqtable *t, struct lqflow *f, const struct lqkey *k)
{
	unlink_key(t, f);
	f->key = *k;
	unsigned s = slot(t, k);
	f->next = t->buckets[s];
	t->buckets[s] = f;
}

struct lqflow *lq_find(struct lqtable *t, const struct lqkey *k)
{
	for (struct lqflow *f = t->buckets[slot(t, k)]; f; f = f->next)
		if (memcmp(&f->key, k, sizeof(*k)) == 0)
			return f;
	return NULL;
}

struct lqflow *lq_new_pending(struct lqtable *t, const struct lqkey *k, uint64_t deadline_ms,
			      enum lq_refusal *why)
{
	uint16_t b = prefix_bucket(t, k);

	if (t->n >= t->max_flows) {
		*why = LQ_FULL;
		return NULL;
	}
	if (t->n_pending >= t->max_pending) {
		*why = LQ_PENDING_FULL;
		return NULL;
	}
	if (t->prefix[b] >= t->max_per_prefix) {
		*why = LQ_PREFIX_FULL;
		return NULL;
	}
	struct lqflow *f = calloc(1, sizeof(*f));
	struct lqpending *p = f ? malloc(sizeof(*p)) : NULL;
	if (!p) {
		free(f);
		*why = LQ_NOMEM;
		return NULL;
	}
	quic_flow_hello_init(&p->hello);
	p->n_dgrams = 0;
	p->bytes = 0;
	p->data = NULL;
	p->cap = 0;
	f->key = *k;
	f->p = p;
	f->bucket = b;
	f->deadline_ms = deadline_ms;
	unsigned s = slot(t, k);
	f->next = t->buckets[s];
	t->buckets[s] = f;
	dlist_append(&t->pending, &f->link);
	t->n++;
	t->n_pending++;
	t->prefix[b]++;
	*why = LQ_OK;
	return f;
}

bool lq_keep(struct lqflow *f, const uint8_t *d, size_t len)
{
	struct lqpending *p = f->p;

	if (p->n_dgrams == LQ_PENDING_DGRAMS || len > LQ_PENDING_BYTES - p->bytes)
		return false;
	if (p->bytes + len > p->cap) {
		size_t cap = p->cap ? p->cap * 2 : 1536;
		while (cap < p->bytes + len)
			cap *= 2;
		if (cap > LQ_PENDING_BYTES)
			cap = LQ_PENDING_BYTES;
		uint8_t *n = realloc(p->data, cap);
		if (!n)
			return false;
		p->data = n;
		p->cap = cap;
	}
	memcpy(p->data + p->bytes, d, len);
	p->dlen[p->n_dgrams++] = (uint16_t)len;
	p->bytes += len;
	return true;
}

static void pending_done(struct lqtable *t, struct lqflow *f)
{
	if (!f->p)
		return;
	free(f->p->data);
	free(f->p);
	f->p = NULL;
	t->n_pending--;
	t->prefix[f->bucket]--;
}

void lq_activate(struct lqtable *t, struct lqflow *f, unsigned channel, uint64_t id, uint64_t deadline_ms)
{
	dlist_remove(&f->wait);
	f->waiting = false;
	if (f->p && f->p->hello.started) {
		f->odcid_len = f->p->hello.dcid_len;
		memcpy(f->odcid, f->p->hello.dcid, f->odcid_len);
	}
	pending_done(t, f);
	dlist_remove(&f->link);
	f->active = true;
	f->channel = (uint8_t)channel;
	f->id = id;
	f->id_next = t->ids[id_slot(t, id)];
	t->ids[id_slot(t, id)] = f;
	f->deadline_ms = deadline_ms;
	dlist_append(&t->active, &f->link);
}

void lq_touch(struct lqtable *t, struct lqflow *f, uint64_t deadline_ms)
{
	f->deadline_ms = deadline_ms;
	dlist_remove(&f->link);
	dlist_append(&t->active, &f->link);
}

void lq_free(struct lqtable *t, struct lqflow *f)
{
	unlink_key(t, f);
	if (f->active) {
		struct lqflow **pp = &t->ids[id_slot(t, f->id)];
		while (*pp && *pp != f)
			pp = &(*pp)->id_next;
		if (*pp)
			*pp = f->id_next;
	}
	if (f->scid_len) {
		struct lqflow **pp = &t->cids[cid_slot(t, f->scid, f->scid_len)];
		while (*pp && *pp != f)
			pp = &(*pp)->cid_next;
		if (*pp)
			*pp = f->cid_next;
	}
	pending_done(t, f);
	dlist_remove(&f->link);
	dlist_remove(&f->wait);
	t->n--;
	free(f);
}

unsigned lq_free_channel(struct lqtable *t, unsigned channel)
{
	unsigned n = 0;
	struct dlist *e = t->active.next;
	while (e != &t->active) {
		struct lqflow *f = dlist_entry(e, struct lqflow, link);
		e = e->next;
		if (f->channel == channel) {
			lq_free(t, f);
			n++;
		}
	}
	return n;
}

struct lqflow *lq_first(struct dlist *list)
{
	return dlist_empty(list) ? NULL : dlist_entry(list->next, struct lqflow, link);
}

void lq_free_all(struct lqtable *t)
{
	struct lqflow *f;

	while ((f = lq_first(&t->pending)))
		lq_free(t, f);
	while ((f = lq_first(&t->active)))
		lq_free(t, f);
	free(t->buckets);
	free(t->cids);
	free(t->ids);
	t->buckets = NULL;
	t->cids = NULL;
	t->ids = NULL;
}
