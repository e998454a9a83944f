/* SPDX-License-Identifier: MIT */
#pragma once
/*
 * What both daemons' event loops share: stop signals that interrupt
 * epoll_pwait() only (blocked elsewhere, so no check-then-sleep race), and
 * the next wake-up including the watchdog's.
 */
#include <getopt.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/epoll.h>

/* SIGTERM/SIGINT set *flag; SIGPIPE ignored. Fills *waitmask: the mask to
 * pass to epoll_pwait(), under which the stop signals are deliverable. */
void daemon_signals(volatile sig_atomic_t *flag, sigset_t *waitmask);

/* The sooner of timeout_ms (-1: none) and the watchdog's next ping. */
int daemon_next_timeout(int timeout_ms, uint64_t now_ms);

/* How many forwarders: the config's `forwarders`, else one per CPU but
 * one, leaving a core to the listener (on 2 CPUs one forwarder measured
 * 8-20% less CPU per connection than two, at the same rate: bench/). */
struct gh_config;
unsigned daemon_forwarders(const struct gh_config *cfg);

/*
 * The skeleton both daemons run: options, config, setup, signals, sandbox,
 * READY=1, the event loop, teardown. Each daemon fills in what is its own;
 * everything around it is the same code. Calls run down into the daemon's
 * callbacks; they never call back into the skeleton.
 */
struct daemon_def {
	const char *name;		/* "gatehouse-listener": log ident, usage */
	const char *usage;		/* options after "-c FILE", or "" */
	unsigned counters;		/* enum ctr_role of its counters page; 0: none */
	unsigned max_events;		/* per epoll_pwait, at most 128 */
	void *ctx;			/* the daemon's own state */
	/* an option of the daemon's own (long options it lists in opts);
	 * 0, or -1 for a usage error */
	const struct option *opts;	/* {0}-terminated, may be NULL */
	int (*option)(void *ctx, int opt, const char *arg);
	/* before the sandbox: take fds, allocate; returns the epoll fd or -errno */
	int (*setup)(void *ctx, const struct gh_config *cfg);
	/* the sandbox: 0, or -errno (the daemon calls policy_enter) */
	int (*sandbox)(void *ctx, const struct gh_config *cfg);
	/* one epoll event */
	void (*event)(void *ctx, const struct epoll_event *ev);
	/* after each batch of events (deadlines, flushes, reaping) */
	void (*after_round)(void *ctx, uint64_t now_ms);
	/* the daemon's next deadline (clock_now_ms), UINT64_MAX for none */
	uint64_t (*deadline)(void *ctx);
	/* STATUS= text, asked at most once a second */
	void (*status)(void *ctx, char *buf, size_t size);
	/* before each wait: apply what the last round decided (stop: SIGTERM
	 * or SIGINT came); true to leave the loop */
	bool (*before_wait)(void *ctx, bool stop, uint64_t now_ms);
	/* after the loop: free what setup took; returns the exit code */
	int (*teardown)(void *ctx, bool stopped);
};

/* Runs the daemon; returns main()'s exit code. */
int daemon_main(const struct daemon_def *d, int argc, char **argv);
