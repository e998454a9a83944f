/* SPDX-License-Identifier: MIT */
#pragma once
/*
 * Intrusive doubly linked list used as a deadline queue. Every entry in one
 * queue has the same timeout (inspect, connect or idle), so appending at the
 * tail keeps the queue sorted by deadline: the head is always the next to
 * expire and insert/remove are O(1), no heap or timer wheel needed.
 */
#include <stddef.h>

struct dlist {
	struct dlist *prev, *next;
};

static inline void dlist_init(struct dlist *h)
{
	h->prev = h->next = h;
}

static inline int dlist_empty(const struct dlist *h)
{
	return h->next == h;
}

static inline void dlist_append(struct dlist *h, struct dlist *e)
{
	e->prev = h->prev;
	e->next = h;
	h->prev->next = e;
	h->prev = e;
}

static inline void dlist_remove(struct dlist *e)
{
	if (!e->next)
		return;
	e->prev->next = e->next;
	e->next->prev = e->prev;
	e->prev = e->next = NULL;
}

#define dlist_entry(ptr, type, member) ((type *)(void *)((char *)(ptr) - offsetof(type, member)))
