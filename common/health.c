/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>
#include "common/health.h"
#include "common/fdpass.h"

/* heartbeats missed before the page counts as stale: the checker beats
 * once a round, at least every HEALTH_BEAT_MS (health/main.c) */
#define HEALTH_STALE_MIN_MS 3000u

size_t health_page_size(uint32_t n_slots)
{
	size_t need = sizeof(struct gh_health_page) + (size_t)n_slots * sizeof(struct health_slot);
	return (need + 4095) & ~(size_t)4095;
}

int health_view_open(struct health_view *v, int fd, const struct gh_config *cfg)
{
	const int need = F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_FUTURE_WRITE;
	size_t want = health_page_size((uint32_t)cfg->n_checks);

	memset(v, 0, sizeof(*v));
	int seals = fcntl(fd, F_GET_SEALS);
	if (seals < 0)
		return -errno;
	if ((seals & need) != need)
		return -EPERM;
	off_t size = lseek(fd, 0, SEEK_END);
	if (size < 0)
		return -errno;
	if ((size_t)size != want)
		return -ESTALE;
	void *p = mmap(NULL, want, PROT_READ, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED)
		return -errno;
	const struct gh_health_page *pg = p;
	if (pg->magic != HEALTH_MAGIC || pg->version != HEALTH_VERSION || pg->checks_id != cfg->checks_id ||
	    pg->n_slots != cfg->n_checks) {
		munmap(p, want);
		return -ESTALE;
	}
	uint64_t stale = 3ull * config_check_max_inter(cfg) + cfg->connect_timeout_ms;
	v->page = pg;
	v->size = want;
	v->n_slots = (uint32_t)cfg->n_checks;
	v->stale_ms = stale > HEALTH_STALE_MIN_MS ? stale : HEALTH_STALE_MIN_MS;
	return 0;
}

void health_view_close(struct health_view *v)
{
	if (v->page)
		munmap((void *)(uintptr_t)v->page, v->size);
	memset(v, 0, sizeof(*v));
}

enum health_state health_state_of(const struct health_view *v, uint32_t check, uint64_t now_ms)
{
	if (!v || !v->page || check >= v->n_slots)
		return HEALTH_UNKNOWN;
	uint64_t beat = atomic_load_explicit(&v->page->heartbeat_ms, memory_order_relaxed);
	if (!beat || (now_ms > beat && now_ms - beat > v->stale_ms))
		return HEALTH_UNKNOWN;
	uint32_t s = atomic_load_explicit(&v->page->slots[check].state, memory_order_relaxed);
	return s == HEALTH_UP || s == HEALTH_DOWN ? (enum health_state)s : HEALTH_UNKNOWN;
}

bool health_down(const struct health_view *v, uint32_t check, uint64_t now_ms)
{
	return health_state_of(v, check, now_ms) == HEALTH_DOWN;
}

int health_fetch(const char *path, int timeout_ms)
{
	char hello[16];
	const char *step;
	int fd;
	bool cut;
	ssize_t n = fdpass_ask(path, timeout_ms, false, NULL, hello, sizeof(hello), &fd, &cut, &step);

	if (n < 0)
		return (int)n;
	if (fd >= 0 && n == (ssize_t)sizeof(HEALTH_HELLO) && !memcmp(hello, HEALTH_HELLO, sizeof(HEALTH_HELLO)) && !cut)
		return fd;
	if (fd >= 0)
		close(fd);
	return -EPROTO;
}
