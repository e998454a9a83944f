/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>
#include "health/page.h"

int page_create(const struct gh_config *cfg, struct gh_health_page **out)
{
	size_t size = health_page_size((uint32_t)cfg->n_checks);
	int fd = memfd_create("gatehouse-health", MFD_CLOEXEC | MFD_ALLOW_SEALING), r;

	if (fd < 0)
		return -errno;
	void *p = MAP_FAILED;
	if (ftruncate(fd, (off_t)size) < 0 ||
	    (p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0)) == MAP_FAILED)
		goto fail;
	/* our mapping stays writable; any made after this, by any holder of
	 * the fd, is read-only for good, and nobody can resize it under the
	 * readers (a shrink would SIGBUS them) */
	if (fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_FUTURE_WRITE | F_SEAL_SEAL) < 0)
		goto fail;
	struct gh_health_page *pg = p;
	pg->magic = HEALTH_MAGIC;
	pg->version = HEALTH_VERSION;
	pg->checks_id = cfg->checks_id;
	pg->n_slots = (uint32_t)cfg->n_checks;
	*out = pg;
	return fd;
fail:
	r = -errno;
	if (p != MAP_FAILED)
		munmap(p, size);
	close(fd);
	return r;
}

void page_set(struct gh_health_page *pg, uint32_t slot, uint32_t state, uint32_t changes)
{
	if (!pg || slot >= pg->n_slots)
		return;
	atomic_store_explicit(&pg->slots[slot].changes, changes, memory_order_relaxed);
	atomic_store_explicit(&pg->slots[slot].state, state, memory_order_relaxed);
}

void page_beat(struct gh_health_page *pg, uint64_t now_ms)
{
	if (pg)
		atomic_store_explicit(&pg->heartbeat_ms, now_ms, memory_order_relaxed);
}
