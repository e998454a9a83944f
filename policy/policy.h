/* SPDX-License-Identifier: MIT */
#pragma once
/*
 * Sandboxing, applied by each daemon itself after its start-up work and
 * before it reads a client byte or a hand-off (DESIGN.md rule 2: the units
 * apply the same again; either alone must hold). Order, once, here:
 *   1. resolve the user (needs /etc/passwd: before chroot)
 *   2. chroot into an empty root-owned directory, chdir("/")
 *   2a. the listener: an empty network namespace of its own (its
 *      sockets are inherited and keep theirs)
 *   3. empty the capability bounding set, drop to that user and group; no
 *      supplementary groups, so no capability is left (uid 0 -> non-zero
 *      clears them all)
 *   4. rlimits: no core dumps, no new processes, no locked memory
 *   5. no_new_privs, then the seccomp allowlist (policy/seccomp.c)
 * Steps 1-3 need root: started unprivileged (e.g. by systemd with
 * DynamicUser=, which also sets RootDirectory=) they are skipped and said
 * once; the seccomp filter is always loaded.
 */
#include <stdbool.h>

enum policy_proc {
	POLICY_LISTENER,
	POLICY_FORWARDER,
	POLICY_METRICS,		/* gatehouse-metrics, the exporter */
	POLICY_HEALTH,		/* gatehouse-health, the health checker */
	POLICY_CONFIG,		/* gatehouse-config, the config image service (no chroot:
				 * it reads the config file on each request) */
};

struct policy_opts {
	const char *chroot_dir;		/* NULL: /var/lib/gatehouse */
	const char *user;		/* NULL: "gatehouse", else "nobody" */
	bool allow_ipv4;		/* forwarder, health: some backend is IPv4 */
	bool allow_source_bind;		/* forwarder: `source-prefix` (IPV6_FREEBIND + bind) */
	bool die_with_parent;		/* listener under `gatehouse run`: SIGTERM when
					 * the launcher dies, so no orphan holds the ports */
	int serve_fd;			/* health under systemd, config: the listening
					 * socket it hands its page or image out on (0 or
					 * less: none) */
	/* the shared QUIC UDP sockets: the listener reads them (recvmmsg on
	 * these fds only); the forwarder sends on them and may not read them */
	const int *quic_fds;
	unsigned n_quic_fds;
	/* the listener under `gatehouse run`: the launcher's control socket,
	 * on which it may recvmmsg replacement channels (-1 or 0: none) */
	int ctl_fd;
};

/* Returns 0, or a negative errno after logging what failed. Never returns
 * having applied only part of what it could: on error the caller exits. */
int policy_enter(enum policy_proc proc, const struct policy_opts *o);

/* Only the seccomp step (used by the sandbox test suite). */
int policy_seccomp_load(enum policy_proc proc, bool allow_ipv4);
/* The same for the health checker, which may also hand its page out on
 * the listening socket serve_fd (> 0; else not). */
int policy_seccomp_load_health(bool allow_ipv4, int serve_fd);
/* The same for gatehouse-config, serving on the listening socket serve_fd. */
int policy_seccomp_load_config(int serve_fd);
/* The same with the forwarder's source-address rows (allow_source_bind). */
int policy_seccomp_load_bind(enum policy_proc proc, bool allow_ipv4, bool allow_source_bind);
/* The same with QUIC sockets (policy_opts.quic_fds). */
int policy_seccomp_load_quic(enum policy_proc proc, bool allow_ipv4, const int *quic_fds, unsigned n_quic_fds);
/* The listener's filter with its QUIC sockets and its launcher's control
 * socket (ctl_fd < 0: none). */
int policy_seccomp_load_listener(const int *quic_fds, unsigned n_quic_fds, int ctl_fd);
/* Both: every option of the forwarder's filter. */
int policy_seccomp_load_full(enum policy_proc proc, bool allow_ipv4, bool allow_source_bind, const int *quic_fds,
			     unsigned n_quic_fds);

/* True in builds where seccomp is skipped (ASan/LSan need ptrace and more). */
bool policy_seccomp_disabled(void);
