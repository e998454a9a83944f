/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include "common/config_load.h"
#include "common/log.h"
#include "router/config_image.h"
#include "metrics/pages.h"

#define CONFIG_MAX (16u * 1024u * 1024u)

static struct mgen *find_gen(struct pages *ps, uint32_t gen)
{
	for (unsigned i = 0; i < ps->n_gens; i++)
		if (ps->gens[i].gen == gen)
			return &ps->gens[i];
	return NULL;
}

/* FNV-1a: telling configs apart and indexing site names; not a defence
 * (forwarders send configs; names come from configs, not clients) */
static uint64_t text_hash(const char *p, size_t len)
{
	uint64_t h = 0xcbf29ce484222325ull;
	for (size_t i = 0; i < len; i++)
		h = (h ^ (unsigned char)p[i]) * 0x100000001b3ull;
	return h;
}

/* ps->index: name -> place in sites[], open addressing, slot + 1 (0:
 * empty), at most half full. A scan of sites[] per name made taking a
 * generation of 100 000 sites quadratic: billions of strcmp. */
static int index_grow(struct pages *ps)
{
	unsigned cap = ps->index_cap ? ps->index_cap * 2 : 64;
	uint32_t *t = calloc(cap, sizeof(*t));

	if (!t)
		return -ENOMEM;
	for (unsigned i = 0; i < ps->n_sites; i++) {
		size_t h = text_hash(ps->sites[i].name, strlen(ps->sites[i].name)) & (cap - 1);
		while (t[h])
			h = (h + 1) & (cap - 1);
		t[h] = i + 1;
	}
	free(ps->index);
	ps->index = t;
	ps->index_cap = cap;
	return 0;
}

static int site_slot(struct pages *ps, const char *name)
{
	if ((ps->n_sites + 1) * 2 > ps->index_cap && index_grow(ps) < 0)
		return -ENOMEM;
	size_t h = text_hash(name, strlen(name)) & (ps->index_cap - 1);
	for (; ps->index[h]; h = (h + 1) & (ps->index_cap - 1))
		if (!strcmp(ps->sites[ps->index[h] - 1].name, name))
			return (int)ps->index[h] - 1;
	if (ps->n_sites == ps->sites_cap) {
		unsigned cap = ps->sites_cap ? ps->sites_cap * 2 : 16;
		struct msite *n = realloc(ps->sites, cap * sizeof(*n));
		if (!n)
			return -ENOMEM;
		ps->sites = n;
		ps->sites_cap = cap;
	}
	struct msite *s = &ps->sites[ps->n_sites];
	memset(s, 0, sizeof(*s));
	if (!(s->name = strdup(name)))
		return -ENOMEM;
	ps->index[h] = ps->n_sites + 1;
	return (int)ps->n_sites++;
}

static void drop_gen(struct mgen *g)
{
	health_view_close(&g->hv);
	config_free(g->cfg);
	free(g->site_slot);
	free(g->srv_site);
	free(g->srv_kind);
	free(g->srv_addr);
	memset(g, 0, sizeof(*g));
}

static void label_slot(void *arg, uint32_t slot, uint32_t site, unsigned kind, const struct gh_addr *a)
{
	struct mgen *g = arg;

	g->srv_site[slot] = site;
	g->srv_kind[slot] = (uint8_t)kind;
	g->srv_addr[slot] = a;
}

/* The labels of g's per-server slots; false when out of memory (then the
 * generation has none: its pages' per-server counts are not shown). */
static bool label_servers(struct mgen *g)
{
	uint32_t n = counters_server_slots(g->cfg, NULL, NULL);

	g->srv_site = calloc(n ? n : 1, sizeof(*g->srv_site));
	g->srv_kind = calloc(n ? n : 1, sizeof(*g->srv_kind));
	g->srv_addr = calloc(n ? n : 1, sizeof(*g->srv_addr));
	if (!g->srv_site || !g->srv_kind || !g->srv_addr)
		return false;
	counters_server_slots(g->cfg, label_slot, g);
	g->n_servers = n;
	return true;
}

/* Generations no page uses, but the newest, are forgotten. */
static void prune_gens(struct pages *ps)
{
	for (unsigned i = 0; i < ps->n_gens;) {
		bool used = ps->gens[i].gen == ps->newest_gen;
		for (unsigned j = 0; !used && j < ps->n_pages; j++)
			used = ps->pages[j].gen == ps->gens[i].gen;
		if (used) {
			i++;
			continue;
		}
		drop_gen(&ps->gens[i]);
		ps->gens[i] = ps->gens[--ps->n_gens];
		for (unsigned j = 0; j < ps->n_pages; j++)
			if (ps->pages[j].g == &ps->gens[ps->n_gens])
				ps->pages[j].g = &ps->gens[i];
	}
}

static void no_errors(void *ud, const char *msg)
{
	(void)ud;
	log_msg(LOG_WARNING, "config snapshot: %s", msg);
}

/* A snapshot's text (NULL: out of memory); *len its length. */
static char *read_text(int fd, size_t *len)
{
	size_t cap = 65536;
	char *buf = malloc(cap);

	*len = 0;
	while (buf) {
		ssize_t n = pread(fd, buf + *len, cap - *len, (off_t)*len);
		if (n <= 0)
			break;
		*len += (size_t)n;
		if (*len == cap) {
			char *nb = cap < CONFIG_MAX ? realloc(buf, cap * 2) : NULL;
			if (!nb)
				break;
			buf = nb;
			cap *= 2;
		}
	}
	return buf;
}

/* A generation's snapshot fd: a compiled image (under systemd with
 * gatehouse-config) or the config's text. Its *hash and *len tell
 * generations apart; *text: the text to parse (NULL for an image).
 * False if unreadable. */
static bool snapshot_read(int fd, char **text, uint64_t *hash, size_t *len)
{
	char magic[CONFIG_IMAGE_MAGIC_LEN];

	*text = NULL;
	if (pread(fd, magic, sizeof(magic), 0) == (ssize_t)sizeof(magic) &&
	    !memcmp(magic, CONFIG_IMAGE_MAGIC, sizeof(magic))) {
		off_t size = lseek(fd, 0, SEEK_END);
		void *p = size > 0 ? mmap(NULL, (size_t)size, PROT_READ, MAP_SHARED, fd, 0) : MAP_FAILED;
		if (p == MAP_FAILED)
			return false;
		*hash = text_hash(p, (size_t)size);
		*len = (size_t)size;
		munmap(p, (size_t)size);
		return true;
	}
	*text = read_text(fd, len);
	if (*text)
		*hash = text_hash(*text, *len);
	return *text != NULL;
}

/* The config of a snapshot_read(): an image is mapped and checked as
 * the daemons do (sealed, or refused), not parsed again. NULL if it
 * does not load. Frees text. */
static struct gh_config *snapshot_config(int fd, char *text, size_t len)
{
	struct gh_config *cfg = NULL;

	if (!text) {
		if (config_load_image_fd(fd, "(config image)", NULL, &cfg) < 0)
			log_msg(LOG_WARNING, "config image: refused (not sealed, or corrupt)");
		return cfg;
	}
	if (config_parse("(snapshot)", text, len, no_errors, NULL, &cfg) < 0)
		cfg = NULL;
	free(text);
	return cfg;
}

/* Add a generation's config (taken over, freed on failure); false if
 * there is no room. */
static bool add_parsed(struct pages *ps, uint32_t gen, uint32_t why, struct gh_config *cfg, uint64_t hash,
		       size_t len)
{
	bool added = false;

	if (cfg) {
		prune_gens(ps);
		struct mgen *g = ps->n_gens < GENS_MAX ? &ps->gens[ps->n_gens] : NULL;
		uint32_t *slots = calloc(cfg->n_sites ? cfg->n_sites : 1, sizeof(*slots));
		bool ok = g && slots;
		for (size_t i = 0; ok && i < cfg->n_sites; i++) {
			int s = site_slot(ps, cfg->sites[i].name);
			ok = s >= 0;
			if (ok)
				slots[i] = (uint32_t)s;
		}
		if (ok) {
			*g = (struct mgen){ .gen = gen, .cfg = cfg, .site_slot = slots,
					    .text_hash = hash, .text_len = len };
			if (!label_servers(g))
				log_msg(LOG_WARNING, "generation %u: no memory for per-server labels", gen);
			ps->n_gens++;
			ps->newest_gen = gen;
			ps->generations++;
			ps->reloads += why == CTR_GEN_RELOAD;
			ps->restarts += why == CTR_GEN_RESTART;
			cfg = NULL;
			slots = NULL;
			added = true;
		}
		free(slots);
	}
	config_free(cfg);
	return added;
}

static void add_config(struct pages *ps, uint32_t gen, uint32_t why, int fd)
{
	uint64_t hash = 0;
	size_t len = 0;
	char *text;
	struct gh_config *cfg = snapshot_read(fd, &text, &hash, &len) ? snapshot_config(fd, text, len) : NULL;

	if (!add_parsed(ps, gen, why, cfg, hash, len))
		log_msg(LOG_WARNING, "generation %u: config snapshot unreadable, or no room for it", gen);
	close(fd);
}

uint32_t pages_config_gen(struct pages *ps, int fd)
{
	uint64_t h = 0;
	size_t len = 0;
	uint32_t gen = 0;
	char *text;

	if (!snapshot_read(fd, &text, &h, &len)) {
		close(fd);
		return 0;
	}
	for (unsigned i = 0; i < ps->n_gens && !gen; i++)
		if (ps->gens[i].text_hash == h && ps->gens[i].text_len == len)
			gen = ps->gens[i].gen;
	if (gen) {
		free(text);
		close(fd);
		return gen;
	}
	gen = ps->newest_gen + 1;
	struct gh_config *cfg = snapshot_config(fd, text, len);
	close(fd);
	if (!add_parsed(ps, gen, ps->generations ? CTR_GEN_RELOAD : CTR_GEN_FIRST, cfg, h, len)) {
		log_msg(LOG_WARNING, "a forwarder's config snapshot: unreadable, or no room for it");
		gen = 0;
	}
	return gen;
}

static void add_page(struct pages *ps, const struct ctr_msg *m, int fd)
{
	struct mgen *g = find_gen(ps, m->gen);
	off_t size = lseek(fd, 0, SEEK_END);
	int seals = fcntl(fd, F_GET_SEALS);
	const int need = F_SEAL_SHRINK | F_SEAL_FUTURE_WRITE;

	/* a page that could shrink under us would SIGBUS our reads */
	if ((!g && m->role != CTR_LISTENER) || ps->n_pages == PAGES_MAX || size < (off_t)sizeof(struct gh_counters) ||
	    size > (64 << 20) ||
	    seals < 0 || (seals & need) != need || (m->role != CTR_LISTENER && m->role != CTR_FORWARDER)) {
		log_msg(LOG_WARNING, "counters page of pid %d refused", (int)m->pid);
		close(fd);
		return;
	}
	void *p = mmap(NULL, (size_t)size, PROT_READ, MAP_SHARED, fd, 0);
	close(fd);
	if (p == MAP_FAILED) {
		log_msg(LOG_WARNING, "counters page of pid %d: mmap: %s", (int)m->pid, strerror(errno));
		return;
	}
	const struct gh_counters *c = p;
	size_t room = ((size_t)size - sizeof(*c)) / sizeof(struct ctr_site);
	/* read once (volatile: no second read the writer could change) */
	uint32_t n = *(const volatile uint32_t *)&c->n_sites;
	if (n > room)
		n = (uint32_t)room;
	if (n > (g ? g->cfg->n_sites : 0))
		n = g ? (uint32_t)g->cfg->n_sites : 0;
	/* the per-server counts follow the page's own n_sites sites: only when
	 * that is the config's count do their slots mean what ours do */
	uint32_t ns = 0;
	if (g && m->role == CTR_FORWARDER && n == g->cfg->n_sites) {
		size_t left = (size_t)size - sizeof(*c) - (size_t)n * sizeof(struct ctr_site);
		ns = *(const volatile uint32_t *)&c->n_servers;
		if (ns > g->n_servers)
			ns = g->n_servers;
		if (ns > left / sizeof(uint64_t))
			ns = (uint32_t)(left / sizeof(uint64_t));
	}
	ps->pages[ps->n_pages++] = (struct mpage){ .pid = m->pid, .gen = m->gen, .role = m->role,
						   .index = m->index, .c = c, .size = (size_t)size,
						   .n_sites = n, .n_servers = ns, .g = g };
}

static uint64_t rd(const _Atomic uint64_t *v)
{
	return atomic_load_explicit(v, memory_order_relaxed);
}

static void add_server(struct mtotals *t, unsigned site, unsigned kind, const char *addr, uint64_t fails)
{
	for (unsigned i = 0; i < t->n_servers; i++) {
		struct mserver *v = &t->servers[i];
		if (v->site == site && v->kind == kind && !strcmp(v->addr, addr)) {
			v->fails += fails;
			return;
		}
	}
	if (t->n_servers == t->servers_cap) {
		unsigned cap = t->servers_cap ? t->servers_cap * 2 : 16;
		struct mserver *n = realloc(t->servers, cap * sizeof(*n));
		if (!n)
			return;	/* a series less, never a wrong one */
		t->servers = n;
		t->servers_cap = cap;
	}
	struct mserver *v = &t->servers[t->n_servers++];
	v->site = site;
	v->kind = kind;
	snprintf(v->addr, sizeof(v->addr), "%s", addr);
	v->fails = fails;
}

/* One page's figures added to sites[] (parallel to ps->sites) and *t;
 * live: the page's daemon runs (gauges count only then). */
static void add_figures(const struct mpage *pg, struct msite *sites, struct mtotals *t, bool live)
{
	const struct gh_counters *c = pg->c;
	if (pg->role == CTR_LISTENER) {
		t->accepted += rd(&c->accepted);
		t->handed_off += rd(&c->handed_off);
		for (unsigned a = 0; a < CTR_ANSWERS; a++)
			t->answers[a] += rd(&c->answers[a]);
		for (unsigned b = 0; b < CTR_INSPECT_SLOTS; b++)
			t->inspect[b] += rd(&c->inspect[b]);
		t->inspect_sum_us += rd(&c->inspect_sum_us);
		return;
	}
	t->taken += rd(&c->taken);
	for (unsigned b = 0; b < CTR_CONNECT_SLOTS; b++)
		t->connect[b] += rd(&c->connect[b]);
	t->connect_sum_us += rd(&c->connect_sum_us);
	for (uint32_t i = 0; i < pg->n_sites; i++) {
		struct msite *s = &sites[pg->g->site_slot[i]];
		const struct ctr_site *cs = &c->sites[i];
		for (unsigned k = 0; k < GH_KIND_COUNT; k++)
			for (unsigned r = 0; r < CTR_RESULTS; r++)
				s->conns[k][r] += rd(&cs->conns[k][r]);
		s->bytes_in += rd(&cs->bytes_in);
		s->bytes_out += rd(&cs->bytes_out);
		if (live)
			s->queued += rd(&cs->queued);
		s->queue_waits += rd(&cs->queue_waits);
		s->queue_wait_ms += rd(&cs->queue_wait_ms);
	}
	const _Atomic uint64_t *fails = counters_servers(c);
	for (uint32_t j = 0; j < pg->n_servers; j++) {
		uint64_t v = rd(&fails[j]);
		if (v)
			add_server(t, pg->g->site_slot[pg->g->srv_site[j]], pg->g->srv_kind[j], pg->g->srv_addr[j]->text,
				   v);
	}
}

static void gone(struct pages *ps, int32_t pid)
{
	for (unsigned i = 0; i < ps->n_pages; i++) {
		struct mpage *pg = &ps->pages[i];
		if (pg->pid != pid)
			continue;
		/* its last figures stay in the sums: counters never go back */
		add_figures(pg, ps->sites, &ps->gone, false);
		munmap((void *)(uintptr_t)pg->c, pg->size);
		*pg = ps->pages[--ps->n_pages];
		break;
	}
	prune_gens(ps);
}

/* A generation's health page: mapped read-only if it is sealed and made
 * for that generation's config (common/health.h). */
static void add_health(struct pages *ps, const struct ctr_msg *m, int fd)
{
	struct mgen *g = find_gen(ps, m->gen);
	int r = -ENOENT;

	if (g) {
		struct health_view hv;
		/* a refused page leaves the one the generation has */
		if ((r = health_view_open(&hv, fd, g->cfg)) == 0) {
			health_view_close(&g->hv);
			g->hv = hv;
		}
	}
	if (r < 0)
		log_msg(LOG_WARNING, "health page of generation %u refused: %s", m->gen, strerror(-r));
	close(fd);
}

void pages_apply(struct pages *ps, const struct ctr_msg *m, int fd)
{
	if (m->type == CTR_MSG_HEALTH && fd >= 0)
		add_health(ps, m, fd);
	else if (m->type == CTR_MSG_CONFIG && fd >= 0)
		add_config(ps, m->gen, m->index, fd);
	else if (m->type == CTR_MSG_PAGE && fd >= 0)
		add_page(ps, m, fd);
	else {
		if (fd >= 0)
			close(fd);
		if (m->type == CTR_MSG_GONE)
			gone(ps, m->pid);
	}
}

void pages_sum(const struct pages *ps, struct msite *out, struct mtotals *t)
{
	for (unsigned i = 0; i < ps->n_sites; i++)
		out[i] = ps->sites[i];
	*t = ps->gone;
	/* the carried-over servers, copied: the live ones are added to the copy */
	t->servers = NULL;
	t->n_servers = t->servers_cap = 0;
	if (ps->gone.n_servers && (t->servers = malloc(ps->gone.n_servers * sizeof(*t->servers)))) {
		memcpy(t->servers, ps->gone.servers, ps->gone.n_servers * sizeof(*t->servers));
		t->n_servers = t->servers_cap = ps->gone.n_servers;
	}
	for (unsigned i = 0; i < ps->n_pages; i++)
		add_figures(&ps->pages[i], out, t, true);
}

void pages_free(struct pages *ps)
{
	for (unsigned i = 0; i < ps->n_pages; i++)
		munmap((void *)(uintptr_t)ps->pages[i].c, ps->pages[i].size);
	for (unsigned i = 0; i < ps->n_gens; i++)
		drop_gen(&ps->gens[i]);
	for (unsigned i = 0; i < ps->n_sites; i++)
		free(ps->sites[i].name);
	free(ps->sites);
	free(ps->index);
	free(ps->gone.servers);
	memset(ps, 0, sizeof(*ps));
}
