/* SPDX-License-Identifier: MIT */
#pragma once
/*
 * The listening sockets: accept clients in bounded batches, gate accepting
 * with one predicate the loop applies each round, and tell a transient
 * accept error (retry or pause) from one that means the socket no longer
 * listens (the listener exits for its supervisor to restart it).
 */
#include <stdbool.h>
#include <stdint.h>

struct listener;

struct llisten {
	uint8_t type;		/* LOBJ_LISTEN */
	uint8_t kind;		/* enum gh_kind */
	bool enabled;		/* in the epoll set with EPOLLIN */
	bool dead;		/* accept failed for good: out of the epoll set */
	int fd;
	char name[80];		/* "tls [::]:443 (fd 4)", for the logs */
};

enum accept_err {
	ACCEPT_ERR_RETRY,	/* this client's trouble, or none: go on */
	ACCEPT_ERR_PAUSE,	/* out of fds or memory: look again in a while */
	ACCEPT_ERR_FATAL,	/* the socket itself is broken (no longer listening) */
};

/* What an errno from accept4() means for the listening socket. Pure. */
enum accept_err accept_error_class(int err);

/* Name fd (kind: enum gh_kind) for the logs, from its local address; call
 * before the sandbox, which allows no getsockname(). */
void llisten_init(struct llisten *ls, int fd, unsigned kind);

/* The one accept gate (lconn_accept_wanted() over the listener's state). */
bool accept_wanted(const struct listener *l, uint64_t now_ms);

/* Each round: enable or disable the listening sockets to match the gate;
 * a pause whose time came is over. */
void accept_gate(struct listener *l, uint64_t now_ms);

/* ls has events (epoll's): accept a bounded batch and inspect each client
 * once. Returns 0, or -errno when ls can accept no more (logged once, ls
 * taken out of the epoll set): the listener must exit. */
int accept_ready(struct listener *l, struct llisten *ls, uint32_t events);
