/* SPDX-License-Identifier: MIT */
/* `gatehouse run`: the notify socket, where its children say READY=1 and
 * hand over their pages (run_state.h). */
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <systemd/sd-daemon.h>
#include "cli/run_fds.h"
#include "cli/run_state.h"
#include "common/health.h"

void on_notify(struct launcher *L)
{
	for (;;) {
		char buf[512];
		union {
			char c[CMSG_SPACE(sizeof(struct ucred)) + CMSG_SPACE(sizeof(int))];
			struct cmsghdr align;
		} ctl;
		struct iovec iov = { .iov_base = buf, .iov_len = sizeof(buf) - 1 };
		struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.c,
				     .msg_controllen = sizeof(ctl.c) };
		ssize_t n = recvmsg(L->notify_fd, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
		if (n < 0)
			return;
		buf[n] = '\0';
		struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
		struct cmsghdr *fdm = cm ? CMSG_NXTHDR(&mh, cm) : NULL;
		int fd = -1;
		if (fdm && fdm->cmsg_type == SCM_RIGHTS && fdm->cmsg_len == CMSG_LEN(sizeof(int)))
			memcpy(&fd, CMSG_DATA(fdm), sizeof(int));
		if (!cm || cm->cmsg_type != SCM_CREDENTIALS) {
			if (fd >= 0)
				close(fd);
			continue;
		}
		struct ucred uc;
		memcpy(&uc, CMSG_DATA(cm), sizeof(uc));
		if (fd >= 0 && uc.pid == L->health_pid && L->health_fd < 0 && !strcmp(buf, HEALTH_NOTIFY)) {
			/* the checker's page (common/health.h), for this
			 * generation's forwarders and the exporter */
			L->health_fd = fd;
			runm_health(&L->metrics, L->gen, fd);
			continue;
		}
		if (fd >= 0) {
			/* a daemon's counters page (counters.h), for the exporter;
			 * one per daemon: a compromised listener's later fds are not */
			for (unsigned i = 0; i < MAX_CHILDREN && fd >= 0; i++)
				if (L->children[i].pid == uc.pid && !L->children[i].page_sent &&
				    !strcmp(buf, "GATEHOUSE_COUNTERS=1")) {
					struct child *c = &L->children[i];
					c->page_sent = true;
					runm_page(&L->metrics, c->gen, c->pid, c->is_listener, c->index, fd);
					fd = -1;
				}
			if (fd >= 0)
				close(fd);
			continue;
		}
		if (!strstr(buf, "READY=1"))
			continue;
		for (unsigned i = 0; i < MAX_CHILDREN; i++)
			if (L->children[i].pid == uc.pid)
				L->children[i].ready = true;
	}
}

void check_ready(struct launcher *L)
{
	if (L->announced)
		return;
	for (unsigned i = 0; i < MAX_CHILDREN; i++) {
		const struct child *c = &L->children[i];
		if (c->pid && c->gen == L->gen && !c->ready)
			return;
	}
	L->announced = true;
	say("ready: listener %d, %u forwarder%s", (int)L->listener_pid, L->n_forwarders, L->n_forwarders == 1 ? "" : "s");
	sd_notify(0, "READY=1");
}
