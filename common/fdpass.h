/* SPDX-License-Identifier: MIT */
#pragma once
/*
 * One message with at most one fd (SCM_RIGHTS) over a UNIX socket: how the
 * load page, the health page, the counters pages and the launcher's
 * control messages pass between gatehouse's processes. The flags are the
 * caller's, unchanged: several seccomp filters allow sendmsg/recvmsg with
 * exact flags only.
 */
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* buf[len] with fd (none if < 0); sendmsg's result (-1 and errno). */
ssize_t fdpass_send(int sock, const void *buf, size_t len, int fd, int flags);

/* One message into buf[cap] and the fd it carries into *fd: -1 unless it
 * carried exactly one SCM_RIGHTS fd. *cut: the message or its control data
 * did not fit (then the caller should not trust it; *fd, if any, is still
 * the caller's to close). recvmsg's result (-1 and errno). */
ssize_t fdpass_recv(int sock, void *buf, size_t cap, int *fd, bool *cut, int flags);

/*
 * Ask the SOCK_SEQPACKET server at path for one message with an fd (the
 * health page, the config image): connect; with peer_root, refuse a peer
 * that is not root (-EPERM; *peer says who) before reading a byte; wait
 * up to timeout_ms (-ETIMEDOUT); read the answer as fdpass_recv does.
 * The answer's length, or -errno with *step naming what failed.
 */
struct ucred;
ssize_t fdpass_ask(const char *path, int timeout_ms, bool peer_root, struct ucred *peer, void *buf, size_t cap,
		   int *fd, bool *cut, const char **step);
