/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include "cli/run_metrics.h"
#include "common/fdpass.h"
#include "common/counters.h"
#include "common/log.h"

/* an exporter that died is started again after this long */
#define RUNM_RESTART_MS 1000

void runm_init(struct runm *m)
{
	memset(m, 0, sizeof(*m));
	m->listen_fd = m->ctl = m->ctl_child = -1;
	m->restart_at_ms = UINT64_MAX;
}

int runm_rearm(struct runm *m)
{
	int sp[2];

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp) < 0)
		return -errno;
	/* a slow exporter must never stall the launcher: what it has not
	 * read when this fills is dropped (and said), not waited for */
	int big = 1 << 20;
	setsockopt(sp[0], SOL_SOCKET, SO_SNDBUF, &big, sizeof(big));
	if (m->ctl >= 0)
		close(m->ctl);
	if (m->ctl_child >= 0)
		close(m->ctl_child);
	m->ctl = sp[0];
	m->ctl_child = sp[1];
	return 0;
}

int runm_bind(struct runm *m, const struct gh_addr *addr)
{
	int one = 1, r;
	int fd = socket(addr->ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);

	if (fd < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (const struct sockaddr *)&addr->ss, addr->len) < 0 || listen(fd, 64) < 0) {
		r = -errno;
		close(fd);
		return r;
	}
	if ((r = runm_rearm(m)) < 0) {
		close(fd);
		return r;
	}
	m->listen_fd = fd;
	return 0;
}

static void send_msg(struct runm *m, const struct ctr_msg *msg, int fd)
{
	/* EPIPE: the exporter is gone (stopping, or it died: reap says so) */
	if (m->ctl >= 0 && m->pid && fdpass_send(m->ctl, msg, sizeof(*msg), fd, MSG_DONTWAIT | MSG_NOSIGNAL) < 0 &&
	    errno != EPIPE)
		log_errno(-errno, "metrics: message %u for pid %d lost", msg->type, (int)msg->pid);
}

static void send_page(struct runm *m, const struct runm_page *p)
{
	struct ctr_msg msg = { .type = CTR_MSG_PAGE, .gen = p->gen, .pid = p->pid,
			       .role = p->listener ? CTR_LISTENER : CTR_FORWARDER, .index = p->index };
	send_msg(m, &msg, p->fd);
}

static void send_config(struct runm *m, unsigned gen, int fd, unsigned why)
{
	struct ctr_msg msg = { .type = CTR_MSG_CONFIG, .gen = gen, .index = why };
	send_msg(m, &msg, fd);
}

void runm_spawned(struct runm *m, pid_t pid)
{
	m->pid = pid;
	if (m->ctl_child >= 0)
		close(m->ctl_child);
	m->ctl_child = -1;
	/* the configs oldest first: the exporter's newest generation is the last */
	for (unsigned i = 0; i < m->n_gens; i++) {
		send_config(m, m->gens[i].gen, m->gens[i].fd, CTR_GEN_FIRST);
		if (m->gens[i].health_fd >= 0) {
			struct ctr_msg msg = { .type = CTR_MSG_HEALTH, .gen = m->gens[i].gen };
			send_msg(m, &msg, m->gens[i].health_fd);
		}
	}
	for (unsigned i = 0; i < m->n_pages; i++)
		send_page(m, &m->pages[i]);
}

/* Configs no live daemon runs, but the newest, are let go. */
static void prune_gens(struct runm *m)
{
	for (unsigned i = 0; i + 1 < m->n_gens;) {
		bool used = false;
		for (unsigned j = 0; !used && j < m->n_pages; j++)
			used = m->pages[j].gen == m->gens[i].gen;
		if (used) {
			i++;
			continue;
		}
		close(m->gens[i].fd);
		if (m->gens[i].health_fd >= 0)
			close(m->gens[i].health_fd);
		memmove(&m->gens[i], &m->gens[i + 1], (m->n_gens - i - 1) * sizeof(m->gens[0]));
		m->n_gens--;
	}
}

void runm_config(struct runm *m, unsigned gen, int config_fd, unsigned why)
{
	if (m->listen_fd < 0)
		return;
	prune_gens(m);
	if (m->n_gens == RUNM_GENS) {	/* the oldest goes: its pages are read without names */
		close(m->gens[0].fd);
		if (m->gens[0].health_fd >= 0)
			close(m->gens[0].health_fd);
		memmove(&m->gens[0], &m->gens[1], (RUNM_GENS - 1) * sizeof(m->gens[0]));
		m->n_gens--;
	}
	int fd = fcntl(config_fd, F_DUPFD_CLOEXEC, 3);
	if (fd < 0) {
		log_errno(-errno, "metrics: keeping generation %u's config", gen);
		return;
	}
	m->gens[m->n_gens].gen = gen;
	m->gens[m->n_gens].health_fd = -1;
	m->gens[m->n_gens++].fd = fd;
	send_config(m, gen, fd, why);
}

void runm_health(struct runm *m, unsigned gen, int fd)
{
	for (unsigned i = 0; m->listen_fd >= 0 && i < m->n_gens; i++) {
		if (m->gens[i].gen != gen || m->gens[i].health_fd >= 0)
			continue;
		m->gens[i].health_fd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
		if (m->gens[i].health_fd < 0) {
			log_errno(-errno, "metrics: keeping generation %u's health page", gen);
			return;
		}
		struct ctr_msg msg = { .type = CTR_MSG_HEALTH, .gen = gen };
		send_msg(m, &msg, m->gens[i].health_fd);
		return;
	}
}

void runm_page(struct runm *m, unsigned gen, pid_t pid, bool listener, unsigned index, int fd)
{
	if (m->listen_fd < 0 || m->n_pages == RUNM_MAX) {
		close(fd);
		return;
	}
	struct runm_page *p = &m->pages[m->n_pages++];
	*p = (struct runm_page){ .pid = pid, .gen = gen, .index = index, .listener = listener, .fd = fd };
	send_page(m, p);
}

bool runm_gone(struct runm *m, pid_t pid, uint64_t now_ms)
{
	if (m->pid && pid == m->pid) {
		m->pid = 0;
		m->restart_at_ms = now_ms + RUNM_RESTART_MS;
		return true;
	}
	for (unsigned i = 0; i < m->n_pages; i++) {
		if (m->pages[i].pid != pid)
			continue;
		struct ctr_msg msg = { .type = CTR_MSG_GONE, .pid = pid };
		send_msg(m, &msg, -1);
		close(m->pages[i].fd);
		m->pages[i] = m->pages[--m->n_pages];
		break;
	}
	return false;
}
