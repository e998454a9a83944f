/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>
#include "common/counters.h"
#include "common/log.h"
#include "common/notify.h"

const uint64_t ctr_inspect_bounds_us[CTR_INSPECT_SLOTS - 1] = { CTR_INSPECT_BOUNDS_US };
const uint64_t ctr_connect_bounds_us[CTR_CONNECT_SLOTS - 1] = { CTR_CONNECT_BOUNDS_US };
const char *const ctr_result_names[CTR_RESULTS] = { CTR_RESULT_NAMES };
const char *const ctr_answer_names[CTR_ANSWERS] = { CTR_ANSWER_NAMES };

/* before counters_setup: room for the header only (n_sites 0) */
static struct gh_counters ctr_none;
struct gh_counters *gh_ctr = &ctr_none;

size_t counters_size(uint32_t n_sites, uint32_t n_servers)
{
	size_t sz = sizeof(struct gh_counters) + (size_t)n_sites * sizeof(struct ctr_site) +
		    (size_t)n_servers * sizeof(uint64_t);
	return (sz + 4095) & ~(size_t)4095;
}

uint32_t counters_server_slots(const struct gh_config *c,
			       void (*fn)(void *arg, uint32_t slot, uint32_t site, unsigned kind, const struct gh_addr *a),
			       void *arg)
{
	uint32_t slot = 0;

	for (unsigned k = 0; k < GH_KIND_TCP_COUNT; k++) {
		for (size_t s = 0; s < c->n_sites; s++) {
			const struct gh_site *site = &c->sites[s];
			unsigned routes = k == GH_KIND_TLS ? (unsigned)site->n_alpn : 0;

			for (unsigned r = 0; r <= routes; r++) {
				size_t n;
				const struct gh_addr *a = config_servers(c, (uint32_t)s, k, r, &n);

				for (size_t i = 0; i < n; i++, slot++)
					if (fn)
						fn(arg, slot, (uint32_t)s, k, &a[i]);
			}
		}
	}
	return slot;
}

unsigned counters_index(const char *const *names, unsigned n, const char *result)
{
	for (unsigned i = 0; i + 1 < n; i++)
		if (!strcmp(names[i], result))
			return i;
	return n - 1;
}

int counters_page(enum ctr_role role, uint32_t n_sites, uint32_t n_servers, struct gh_counters **out)
{
	size_t size = counters_size(n_sites, n_servers);
	const char *step = "memfd_create";
	void *p = MAP_FAILED;
	int fd = memfd_create("gatehouse-counters", MFD_CLOEXEC | MFD_ALLOW_SEALING);

	if (fd < 0)
		goto fail;
	step = "ftruncate";
	if (ftruncate(fd, (off_t)size) < 0)
		goto fail;
	step = "mmap";
	p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED)
		goto fail;
	/* as the load page (load.c): after our mapping, no one can map it
	 * writable again, nor shrink it under us (SIGBUS) or grow it */
	step = "seal";
	if (fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_FUTURE_WRITE | F_SEAL_SEAL) < 0)
		goto fail;
	struct gh_counters *c = p;
	c->magic = CTR_MAGIC;
	c->version = CTR_VERSION;
	c->role = role;
	c->n_sites = n_sites;
	c->n_servers = n_servers;
	c->start_time = (uint64_t)time(NULL);
	*out = c;
	return fd;
fail:;
	int r = -errno;
	log_errno(r, "counters page: %s (no metrics from this process)", step);
	if (p != MAP_FAILED)
		munmap(p, size);
	if (fd >= 0)
		close(fd);
	return r;
}

/* the offer counters_setup prepares, sent by counters_offer_pending */
static struct {
	const char *path;
	enum ctr_role role;
	int page, config, health;
} pend = { NULL, CTR_LISTENER, -1, -1, -1 };

void counters_offer_health(int health_fd)
{
	if (pend.page < 0 || pend.health >= 0 || health_fd < 0)
		return;
	pend.health = fcntl(health_fd, F_DUPFD_CLOEXEC, 3);
	if (pend.health < 0)
		log_errno(-errno, "counters: keeping the health page for the exporter");
}

void counters_offer_pending(void)
{
	if (pend.page < 0)
		return;
	(void)counters_offer_fds(pend.path, pend.role, pend.page, pend.config, pend.health);
	close(pend.page);
	if (pend.config >= 0)
		close(pend.config);
	if (pend.health >= 0)
		close(pend.health);
	pend.page = pend.config = pend.health = -1;
}

void counters_setup(enum ctr_role role, uint32_t n_sites, uint32_t n_servers, int config_fd)
{
	struct gh_counters *c = NULL;
	int fd = counters_page(role, n_sites, n_servers, &c);
	const char *offer = NULL;

	if (fd >= 0) {
		gh_ctr = c;
		if (getenv("GATEHOUSE_METRICS")) {
			notify_send_fd("GATEHOUSE_COUNTERS=1", fd);
		} else if ((offer = counters_offer_path()) && role == CTR_LISTENER) {
			(void)counters_offer(offer, role, fd, config_fd);
		} else if (offer) {
			/* a forwarder's once its set-up has fetched the health
			 * page (counters_offer_pending) */
			pend.path = offer;
			pend.role = role;
			pend.page = fd;
			pend.config = config_fd;
			return;
		}
		close(fd);
		if (config_fd >= 0)
			close(config_fd);
		return;
	}
	if (config_fd >= 0)
		close(config_fd);
	/* counting goes on in private memory */
	c = calloc(1, counters_size(n_sites, n_servers));
	if (c) {
		c->n_sites = n_sites;
		c->n_servers = n_servers;
		gh_ctr = c;
	}
}
