/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>
#include "common/load.h"
#include "common/fdpass.h"
#include "common/log.h"

#define LOAD_SRC_SIZE (LOAD_PAGE + sizeof(struct gh_load_src))

struct gh_load *load_publish(int channel, uint32_t max_relays)
{
	return load_publish_src(channel, max_relays, false);
}

struct gh_load *load_publish_src(int channel, uint32_t max_relays, bool src_counts)
{
	size_t size = src_counts ? LOAD_SRC_SIZE : LOAD_PAGE;
	int fd = memfd_create("gatehouse-load", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (fd < 0) {
		log_msg(LOG_WARNING, "load page: memfd_create: %s", strerror(errno));
		return NULL;
	}
	struct gh_load *ld = NULL;
	const char *step = "ftruncate";
	if (ftruncate(fd, (off_t)size) < 0)
		goto fail;
	step = "mmap";
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED)
		goto fail;
	ld = p;
	/* the listener gets the fd too: it must not be able to shrink the
	 * page under us (our next store would die with SIGBUS), nor write or
	 * punch it (MADV_REMOVE) through a mapping of its own. FUTURE_WRITE,
	 * added after our mapping, leaves ours writable and makes every later
	 * one read-only for good (no mprotect(PROT_WRITE) back). */
	step = "seal";
	if (fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_FUTURE_WRITE | F_SEAL_SEAL) < 0)
		goto fail;
	step = "getrandom";
	if (src_counts && getrandom(ld->src_key, sizeof(ld->src_key), 0) != (ssize_t)sizeof(ld->src_key))
		goto fail;
	ld->src_offset = src_counts ? LOAD_PAGE : 0;
	ld->magic = LOAD_MAGIC;
	ld->max_relays = max_relays;

	char hello[8] = LOAD_HELLO;
	step = "send";
	if (fdpass_send(channel, hello, sizeof(hello), fd, MSG_DONTWAIT | MSG_NOSIGNAL) != (ssize_t)sizeof(hello))
		goto fail;
	close(fd);
	return ld;
fail:
	log_msg(LOG_WARNING, "load page: %s: %s (the listener will balance without it)", step, strerror(errno));
	if (ld)
		munmap(ld, size);
	close(fd);
	/* the bare hello tells the listener to stop waiting for a page */
	(void)send(channel, LOAD_HELLO, sizeof(LOAD_HELLO), MSG_DONTWAIT | MSG_NOSIGNAL);
	return NULL;
}

const struct gh_load *load_receive(int channel, int timeout_ms)
{
	return load_receive_src(channel, timeout_ms, NULL);
}

const struct gh_load *load_receive_src(int channel, int timeout_ms, const struct gh_load_src **src)
{
	size_t size;
	int fd = load_receive_fd(channel, timeout_ms, &size);
	if (src)
		*src = NULL;
	if (fd < 0)
		return NULL;
	const struct gh_load *ld = load_map(fd, size, src);
	close(fd);
	return ld;
}

int load_receive_fd(int channel, int timeout_ms, size_t *size)
{
	struct pollfd pfd = { .fd = channel, .events = POLLIN };
	if (poll(&pfd, 1, timeout_ms) <= 0 || !(pfd.revents & POLLIN))
		return -1;
	char hello[16];
	int fd;
	bool cut;
	ssize_t n = fdpass_recv(channel, hello, sizeof(hello), &fd, &cut, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
	if (n <= 0 || fd < 0) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	struct stat st;
	/* sealed against shrinking (else a read past a cut would be SIGBUS),
	 * and one of the two sizes a page comes in */
	if (n == (ssize_t)sizeof(LOAD_HELLO) && !memcmp(hello, LOAD_HELLO, sizeof(LOAD_HELLO)) && !cut &&
	    (fcntl(fd, F_GET_SEALS) & F_SEAL_SHRINK) && fstat(fd, &st) == 0 &&
	    (st.st_size == LOAD_PAGE || st.st_size == (off_t)LOAD_SRC_SIZE)) {
		*size = (size_t)st.st_size;
		return fd;
	}
	close(fd);
	return -1;
}

const struct gh_load *load_map(int fd, size_t size, const struct gh_load_src **src)
{
	if (src)
		*src = NULL;
	if (size != LOAD_PAGE && size != LOAD_SRC_SIZE)
		return NULL;
	void *p = mmap(NULL, size, PROT_READ, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED)
		return NULL;
	const struct gh_load *ld = p;
	/* counts are read only where the page's size holds them */
	if (ld->magic != LOAD_MAGIC || (ld->src_offset && (ld->src_offset != LOAD_PAGE || size != LOAD_SRC_SIZE))) {
		munmap(p, size);
		return NULL;
	}
	if (src && size == LOAD_SRC_SIZE)
		*src = (const struct gh_load_src *)((const char *)p + LOAD_PAGE);
	return ld;
}

void load_unmap(const struct gh_load *ld, const struct gh_load_src *src)
{
	if (ld)
		munmap((void *)(uintptr_t)ld, src ? LOAD_SRC_SIZE : LOAD_PAGE);
}
