/* SPDX-License-Identifier: MIT */
/*
 * `gatehouse run -c FILE`: systemd's part, for a machine without it (or a
 * newcomer's laptop). It binds the `listen` addresses, makes one channel
 * per forwarder (socketpair SOCK_SEQPACKET), and starts the same
 * gatehouse-listener and gatehouse-forwarder binaries the units run, with
 * the same LISTEN_FDS protocol.
 *
 * Generations: a listener and its forwarders form a generation. When the
 * listener exits (crash, or it lost its last forwarder and restarted
 * itself) or on SIGHUP (reload), a new generation starts; the old
 * forwarders see their channels close, finish their relays and exit on
 * their own. A forwarder of the running generation that dies is started
 * again in place and its channel handed to the running listener
 * (run_replace.h): only what that forwarder held is lost. The listening
 * sockets stay here the whole time, so nothing is refused.
 *
 * Readiness: children report READY=1 to a notify socket owned by the
 * launcher; once the whole first generation is ready the launcher says
 * READY=1 to its own NOTIFY_SOCKET (if any) and "ready" on stderr.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <malloc.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <systemd/sd-daemon.h>
#include "cli/capacity.h"
#include "cli/cli.h"
#include "cli/run.h"
#include "cli/run_fds.h"
#include "cli/run_metrics.h"
#include "cli/run_replace.h"
#include "cli/run_state.h"
#include <stdarg.h>
#include "common/clock.h"
#include "common/config_load.h"
#include "common/counters.h"
#include "common/daemon.h"
#include "common/health.h"
#include "common/log.h"
#include "router/gh_limits.h"

static struct child *child_slot(struct launcher *L)
{
	for (unsigned i = 0; i < MAX_CHILDREN; i++)
		if (!L->children[i].pid)
			return &L->children[i];
	return NULL;
}

/* fork + exec bin with fds[] as 3.. and LISTEN_FDNAMES=names; the
 * compiled config after them, and then health_fd (if >= 0) as
 * GATEHOUSE_HEALTH_FD */
static pid_t spawn(struct launcher *L, const char *bin, const int *fds, unsigned n, const char *names, int health_fd)
{
	pid_t pid = fork();
	if (pid != 0)
		return pid;
	/* child: move the fds out of the way first, then into 3..; the
	 * compiled config goes right after the LISTEN_FDS range */
	int tmp[GH_MAX_PASSED_FDS + 3];	/* + control, config, health */
	unsigned extra = health_fd >= 0 ? 1 : 0;
	/* above the target range 3..3+n(+1), and low: RLIMIT_NOFILE may be small */
	int floor_fd = 4 + (int)(n + extra);
	for (unsigned i = 0; i < n; i++)
		tmp[i] = fcntl(fds[i], F_DUPFD_CLOEXEC, floor_fd);
	tmp[n] = fcntl(L->image_fd, F_DUPFD_CLOEXEC, floor_fd);
	if (extra)
		tmp[n + 1] = fcntl(health_fd, F_DUPFD_CLOEXEC, floor_fd);
	for (unsigned i = 0; i <= n + extra; i++) {
		if (tmp[i] < 0 || dup2(tmp[i], 3 + (int)i) < 0)
			_exit(127);
	}
	/* nothing else we hold or inherited reaches a sandbox (a root-only
	 * file our caller's shell left open, our notify socket, the tmp[]
	 * copies): only stdio, the LISTEN_FDS range and the config */
	close_from(4 + (int)(n + extra));
	if (extra) {
		char hfd[16];
		snprintf(hfd, sizeof(hfd), "%u", 4 + n);
		setenv(HEALTH_FD_ENV, hfd, 1);
	} else {
		setenv(HEALTH_FD_ENV, "none", 1);	/* not a systemd checker's either */
	}
	char conf[32];
	snprintf(conf, sizeof(conf), "/dev/fd/%u", 3 + n);
	char nfds[16], pidbuf[16];
	snprintf(nfds, sizeof(nfds), "%u", n);
	snprintf(pidbuf, sizeof(pidbuf), "%d", (int)getpid());
	setenv("LISTEN_FDS", nfds, 1);
	setenv("LISTEN_PID", pidbuf, 1);
	setenv("LISTEN_FDNAMES", names, 1);
	setenv("NOTIFY_SOCKET", L->notify_path, 1);
	char ppid[16];
	snprintf(ppid, sizeof(ppid), "%d", (int)getppid());
	setenv("GATEHOUSE_PARENT", ppid, 1);	/* the listener dies with us */
	sigset_t none;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	execl(bin, bin, "-c", conf, (char *)NULL);
	fprintf(stderr, "gatehouse: exec %s: %s\n", bin, strerror(errno));
	_exit(127);
}

/* How long a generation's start waits for its checker's page. */
#define HEALTH_WAIT_MS 2000
/* A lost checker brings a new generation at most this often. */
#define HEALTH_RENEW_MS 10000

/* An older generation's checker is done once the newest has its own (its
 * draining forwarders take no new client; the few queued ones find its
 * page stale and dial as before checks), or its last daemon is gone:
 * checks stay one per server and interval across reloads. */
static void retire_health(struct launcher *L)
{
	for (unsigned i = 0; i < MAX_CHILDREN; i++) {
		const struct child *h = &L->children[i];
		if (!h->pid || !h->is_health || h->gen == L->gen)
			continue;
		bool used = false;
		for (unsigned j = 0; j < MAX_CHILDREN && !used; j++)
			used = L->children[j].pid && !L->children[j].is_health && L->children[j].gen == h->gen;
		if (!used || L->health_fd >= 0)
			kill(h->pid, SIGTERM);
	}
}

/* The generation's checker (with `check` lines), and its page before any
 * forwarder starts: they map it as they start. Without a page in time the
 * forwarders run without one, and every server counts as up. */
static void start_health(struct launcher *L)
{
	if (L->health_fd >= 0)
		close(L->health_fd);	/* the older generation's forwarders have theirs */
	L->health_fd = -1;
	L->health_pid = 0;
	if (!L->has_checks)
		return;
	struct child *c = child_slot(L);
	pid_t pid = c ? spawn(L, L->health_bin, NULL, 0, "", -1) : -1;
	if (pid < 0) {
		say("health checker: cannot start (%s); servers count as up", c ? strerror(errno) : "too many children");
		return;
	}
	*c = (struct child){ .pid = pid, .gen = L->gen, .is_health = true };
	L->health_pid = pid;
	uint64_t until = clock_now_ms() + HEALTH_WAIT_MS;
	for (uint64_t now = clock_now_ms(); L->health_fd < 0 && now < until; now = clock_now_ms()) {
		struct pollfd p = { .fd = L->notify_fd, .events = POLLIN };
		if (poll(&p, 1, (int)(until - now)) > 0)
			on_notify(L);
	}
	if (L->health_fd < 0)
		say("health checker %d sent no page within %d ms: generation %u dials every server", (int)pid,
		    HEALTH_WAIT_MS, L->gen);
	retire_health(L);
}

/* Forwarder slot of the current generation on channel chan: its channel,
 * then a copy of every QUIC socket, on which it only sends (replies to
 * clients), in the listener's order. */
static pid_t start_forwarder(struct launcher *L, unsigned slot, int chan)
{
	int ffds[1 + GH_MAX_LISTENS] = { chan };
	char fnames[8 + GH_MAX_LISTENS * 5] = "forward";
	unsigned nf = 1;
	struct child *c = child_slot(L);

	for (unsigned i = 0; i < L->n_listen; i++) {
		if (L->listens[i].kind != GH_KIND_QUIC)
			continue;
		ffds[nf++] = L->listen_fds[i];
		strcat(fnames, ":quic");
	}
	if (!c) {
		errno = EAGAIN;
		return -1;
	}
	pid_t pid = spawn(L, L->forwarder_bin, ffds, nf, fnames, L->health_fd);
	if (pid > 0)
		*c = (struct child){ .pid = pid, .gen = L->gen, .index = slot };
	return pid;
}

/* A forwarder of the running generation died: another takes its slot,
 * and the running listener gets its channel (run_replace.h). */
static void replace_forwarders(struct launcher *L, uint64_t now)
{
	int slot, chan;
	while (L->listener_pid && !L->stopping && (slot = replace_next_due(&L->rep, now)) >= 0) {
		int r = replace_channel(&L->rep, (unsigned)slot, &chan);
		pid_t pid = r < 0 ? -1 : start_forwarder(L, (unsigned)slot, chan);
		if (r >= 0)
			close(chan);
		if (pid < 0) {
			say("forwarder channel %d: cannot start a forwarder in its place: %s", slot + 1,
			    strerror(r < 0 ? -r : errno));
			replace_abort(&L->rep, (unsigned)slot);
		} else {
			say("forwarder channel %d: started forwarder %d in its place", slot + 1, (int)pid);
		}
	}
	replace_run(&L->rep, now);
}

static int start_generation(struct launcher *L)
{
	int chan[MAX_FORWARDERS][2];
	unsigned made = 0;
	int r = 0, ctl = -1;

	L->gen++;
	/* the compiled image, which the exporter maps like every daemon,
	 * not the text it would parse into a private copy */
	runm_config(&L->metrics, L->gen, L->image_fd, L->gen_why);
	start_health(L);
	for (; made < L->n_forwarders; made++) {
		if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, chan[made]) < 0) {
			r = -errno;
			goto out;
		}
	}
	for (unsigned i = 0; i < L->n_forwarders; i++) {
		if (start_forwarder(L, i, chan[i][1]) < 0) {
			r = -errno;
			goto out;
		}
	}
	int fds[GH_MAX_PASSED_FDS + 1];
	char names[(GH_MAX_PASSED_FDS + 1) * 8] = "";
	unsigned n = 0;
	for (unsigned i = 0; i < L->n_listen; i++) {
		fds[n++] = L->listen_fds[i];
		strcat(names, L->listens[i].kind == GH_KIND_TLS ? "tls:" : L->listens[i].kind == GH_KIND_QUIC ? "quic:" : "http:");
	}
	for (unsigned i = 0; i < L->n_forwarders; i++) {
		fds[n++] = chan[i][0];
		strcat(names, "forward:");
	}
	if ((r = replace_new_generation(&L->rep, &ctl)) < 0)
		goto out;
	fds[n++] = ctl;
	strcat(names, "control");
	struct child *c = child_slot(L);
	if (!c) {
		r = -EAGAIN;
		goto out;
	}
	pid_t pid = spawn(L, L->listener_bin, fds, n, names, -1);
	if (pid < 0) {
		r = -errno;
		goto out;
	}
	*c = (struct child){ .pid = pid, .gen = L->gen, .is_listener = true };
	L->listener_pid = pid;
out:
	if (ctl >= 0)
		close(ctl);
	for (unsigned i = 0; i < made; i++) {
		close(chan[i][0]);
		close(chan[i][1]);
	}
	return r;
}

static void reap(struct launcher *L, bool *need_new_gen)
{
	for (;;) {
		int status;
		pid_t pid = waitpid(-1, &status, WNOHANG);
		if (pid <= 0)
			return;
		for (unsigned i = 0; i < MAX_CHILDREN; i++) {
			struct child *c = &L->children[i];
			if (c->pid != pid)
				continue;
			runm_gone(&L->metrics, pid, clock_now_ms());
			bool clean = WIFEXITED(status) && WEXITSTATUS(status) == 0;
			if (!clean) {
				if (WIFSIGNALED(status))
					say("%s %d killed by signal %d", c->is_listener ? "listener" : c->is_health ? "health checker" : c->gen ? "forwarder" : "metrics exporter",
					    (int)pid, WTERMSIG(status));
				else
					say("%s %d exited with status %d", c->is_listener ? "listener" : c->is_health ? "health checker" : c->gen ? "forwarder" : "metrics exporter",
					    (int)pid, WEXITSTATUS(status));
			}
			if (c->is_health && c->gen == L->gen && !L->stopping && L->listener_pid) {
				/* its forwarders would count every server up from
				 * now on: a new generation brings a new checker;
				 * but not in a loop, for a checker that keeps dying */
				uint64_t now = clock_now_ms();
				if (L->health_renewed_ms && now - L->health_renewed_ms < HEALTH_RENEW_MS) {
					say("health checker %d of generation %u is gone again: every server counts as up "
					    "until the next reload", (int)pid, c->gen);
				} else {
					say("health checker %d of generation %u is gone: starting a new generation",
					    (int)pid, c->gen);
					L->health_renewed_ms = now;
					kill(L->listener_pid, SIGTERM);
				}
			}
			if (c->is_listener && pid == L->listener_pid) {
				L->listener_pid = 0;
				L->listener_died_early = !c->ready;
				*need_new_gen = true;
			}
			/* one of the running listener's forwarders: another in its
			 * place (with one forwarder the listener restarts instead) */
			if (!c->is_listener && !c->is_health && c->gen && c->gen == L->gen && L->listener_pid &&
			    !L->stopping && L->n_forwarders > 1 &&
			    !replace_died(&L->rep, c->index, !c->ready, clock_now_ms()))
				say("forwarder channel %u keeps dying before it is ready: running without it "
				    "until the next generation", c->index + 1);
			c->pid = 0;
		}
		retire_health(L);
	}
}

/* Listeners first: a forwarder stopping before its listener would look
 * to the listener like a crash. */
static void kill_all(struct launcher *L, int sig)
{
	for (int pass = 0; pass < 2; pass++)
		for (unsigned i = 0; i < MAX_CHILDREN; i++)
			if (L->children[i].pid && L->children[i].is_listener == (pass == 0))
				kill(L->children[i].pid, sig);
}

/* gatehouse-metrics, with the metrics socket and a fresh control channel;
 * started again (a second after it died) with every live page */
static void start_exporter(struct launcher *L)
{
	struct child *c = child_slot(L);
	int r;

	L->metrics.restart_at_ms = UINT64_MAX;
	if (!c || (r = runm_rearm(&L->metrics)) < 0) {
		say("metrics exporter: cannot start (%s)", c ? strerror(-r) : "too many children");
		return;
	}
	int fds[2] = { L->metrics.listen_fd, L->metrics.ctl_child };
	pid_t pid = spawn(L, L->metrics_bin, fds, 2, "metrics:control", -1);
	if (pid > 0)
		*c = (struct child){ .pid = pid };	/* generation 0: not waited for */
	runm_spawned(&L->metrics, pid > 0 ? pid : 0);
}

static unsigned live_children(struct launcher *L)
{
	unsigned n = 0;
	for (unsigned i = 0; i < MAX_CHILDREN; i++)
		n += L->children[i].pid != 0;
	return n;
}

int cmd_run(const char *config_path, unsigned forwarders)
{
	struct launcher L = { .config_path = config_path, .notify_fd = -1, .restart_at_ms = UINT64_MAX,
			      .health_fd = -1 };
	struct gh_config *cfg = NULL;
	bool quic = false;
	int r;

	log_setup("gatehouse");
	if (config_load_snapshot(config_path, stderr, &cfg, &L.config_fd) < 0)
		return 1;
	/* parsed once, here: the daemons map this instead of parsing again */
	if ((r = config_load_image(cfg, &L.image_fd)) < 0) {
		fprintf(stderr, "gatehouse: %s: compiling the config: %s\n", config_path, strerror(-r));
		return 1;
	}
	find_bin("gatehouse-listener", L.listener_bin, sizeof(L.listener_bin));
	find_bin("gatehouse-forwarder", L.forwarder_bin, sizeof(L.forwarder_bin));
	find_bin("gatehouse-metrics", L.metrics_bin, sizeof(L.metrics_bin));
	find_bin("gatehouse-health", L.health_bin, sizeof(L.health_bin));
	L.has_checks = cfg->n_checks > 0;
	runm_init(&L.metrics);
	/* the limits of router/gh_limits.h, which size the tables here and
	 * in the daemons: refuse what does not fit rather than start part */
	if (cfg->n_listens > GH_MAX_LISTENS) {
		fprintf(stderr, "gatehouse: %s: %zu listen lines, at most %u can run\n", config_path,
			cfg->n_listens, GH_MAX_LISTENS);
		return 1;
	}
	if (forwarders > MAX_FORWARDERS || cfg->forwarders > MAX_FORWARDERS) {
		fprintf(stderr, "gatehouse: %u forwarders asked for, at most %u can run\n",
			forwarders > MAX_FORWARDERS ? forwarders : cfg->forwarders, MAX_FORWARDERS);
		return 1;
	}
	L.n_forwarders = forwarders ? forwarders : daemon_forwarders(cfg);
	if (L.n_forwarders > MAX_FORWARDERS) {
		say("one forwarder per CPU would be %u: starting %u, the most that can run", L.n_forwarders,
		    MAX_FORWARDERS);
		L.n_forwarders = MAX_FORWARDERS;
	}
	for (size_t i = 0; i < cfg->n_listens; i++) {
		r = cfg->listens[i].kind == GH_KIND_QUIC ? bind_quic(&cfg->listens[i], &L.listen_fds[L.n_listen])
							  : bind_listen(&cfg->listens[i], &L.listen_fds[L.n_listen]);
		if (r < 0) {
			fprintf(stderr, "gatehouse: listen %s %s: %s\n", gh_kind_str(cfg->listens[i].kind),
				cfg->listens[i].addr.text, strerror(-r));
			return 1;
		}
		L.listens[L.n_listen++] = cfg->listens[i];
		say("listening for %s on %s", gh_kind_str(cfg->listens[i].kind), cfg->listens[i].addr.text);
		quic = quic || cfg->listens[i].kind == GH_KIND_QUIC;
	}
	replace_init(&L.rep, quic);
	if (cfg->metrics.len && (r = runm_bind(&L.metrics, &cfg->metrics)) < 0) {
		fprintf(stderr, "gatehouse: metrics %s: %s\n", cfg->metrics.text, strerror(-r));
		return 1;
	}
	if (cfg->metrics.len) {
		say("serving metrics on http://%s/metrics", cfg->metrics.text);
		setenv("GATEHOUSE_METRICS", "1", 1);	/* the daemons send their counters pages */
	}
	explain_sandbox(cfg);
	/* before any daemon starts: they inherit the limit, raise soft to
	 * hard and budget their relays from it (common/fdbudget.h) */
	char cap[512];
	uint64_t nofile, need;
	r = capacity_raise_limit(cfg, L.n_forwarders, &nofile, &need);
	if (r < 0)
		say("max-connections %u needs RLIMIT_NOFILE %llu per forwarder, and raising it from %llu failed: %s",
		    cfg->max_connections, (unsigned long long)need, (unsigned long long)nofile, strerror(-r));
	capacity_describe(cfg, L.n_forwarders, nofile, cap, sizeof(cap));
	say("%s", cap);
	config_free(cfg);
	/* the parse was the launcher's biggest allocation and is gone for
	 * good: give its pages back rather than keep them for nothing */
	malloc_trim(0);
	char nf[16];
	snprintf(nf, sizeof(nf), "%u", L.n_forwarders);
	setenv("GATEHOUSE_FORWARDERS", nf, 1);
	if ((r = setup_notify(&L.notify_fd, L.notify_path, sizeof(L.notify_path))) < 0) {
		log_errno(r, "notify socket");
		return 1;
	}
	sigset_t mask;
	sigemptyset(&mask);
	sigaddset(&mask, SIGCHLD);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	signal(SIGPIPE, SIG_IGN);
	int sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	if (sfd < 0) {
		log_errno(-errno, "signalfd");
		return 1;
	}
	if (L.metrics.listen_fd >= 0)
		start_exporter(&L);
	if ((r = start_generation(&L)) < 0) {
		log_errno(r, "start");
		return 1;
	}

	bool stopping = false, gave_up = false;
	uint64_t stop_deadline = 0;
	for (;;) {
		struct pollfd p[2 + MAX_FORWARDERS] = { { .fd = sfd, .events = POLLIN },
							{ .fd = L.notify_fd, .events = POLLIN } };
		unsigned np = 2 + replace_pollfds(&L.rep, p + 2, MAX_FORWARDERS);
		uint64_t next = L.restart_at_ms < L.metrics.restart_at_ms ? L.restart_at_ms : L.metrics.restart_at_ms;
		if (replace_deadline(&L.rep) < next)
			next = replace_deadline(&L.rep);
		int timeout = stopping ? 200 : clock_timeout_until(next, clock_now_ms());
		if (poll(p, np, timeout) < 0 && errno != EINTR)
			break;
		if (p[1].revents & POLLIN) {
			on_notify(&L);
			check_ready(&L);
		}
		bool need_new_gen = false;
		struct signalfd_siginfo si;
		while (read(sfd, &si, sizeof(si)) == sizeof(si)) {
			if (si.ssi_signo == SIGCHLD)
				continue;
			if (si.ssi_signo == SIGHUP && !stopping) {
				struct gh_config *n = NULL;
				int fd = -1;
				int image = -1;
				if (config_load_snapshot(config_path, stderr, &n, &fd) < 0) {
					say("reload: %s has errors, keeping the running configuration", config_path);
					continue;
				}
				L.has_checks = n->n_checks > 0;
				r = config_load_image(n, &image);
				config_free(n);
				malloc_trim(0);
				if (r < 0) {
					say("reload: compiling %s: %s; keeping the running configuration", config_path,
					    strerror(-r));
					close(fd);
					continue;
				}
				close(L.config_fd);
				close(L.image_fd);
				L.config_fd = fd;
				L.image_fd = image;
				say("reload: starting a new generation with %s", config_path);
				pid_t old = L.listener_pid;
				L.listener_pid = 0;
				if (revive_listens(L.listens, L.listen_fds, L.n_listen) < 0) {
					gave_up = true;
					kill_all(&L, SIGTERM);
					stopping = L.stopping = true;
					stop_deadline = clock_now_ms() + 5000;
					continue;
				}
				L.gen_why = CTR_GEN_RELOAD;
				if ((r = start_generation(&L)) < 0)
					log_errno(r, "reload: cannot start");
				if (old)
					kill(old, SIGTERM);
				continue;
			}
			if (!stopping) {
				say("stopping");
				stopping = L.stopping = true;
				stop_deadline = clock_now_ms() + 5000;
				kill_all(&L, SIGTERM);
			}
		}
		reap(&L, &need_new_gen);
		if (stopping) {
			if (live_children(&L) == 0)
				break;
			if (clock_now_ms() > stop_deadline) {
				kill_all(&L, SIGKILL);
				stop_deadline = UINT64_MAX;
			}
			continue;
		}
		if (need_new_gen) {
			/* A listener that dies before READY=1 cannot start (bad
			 * sandbox, bad fds): back off, and give up after five in a
			 * row rather than fork forever. A crash after READY is
			 * restarted at once. */
			L.early_failures = L.listener_died_early ? L.early_failures + 1 : 0;
			if (L.early_failures >= 5) {
				say("listener keeps dying before it is ready; giving up");
				gave_up = true;
				kill_all(&L, SIGTERM);
				stopping = L.stopping = true;
				stop_deadline = clock_now_ms() + 5000;
				continue;
			}
			L.restart_at_ms = clock_now_ms() + 200u * L.early_failures;
		}
		replace_forwarders(&L, clock_now_ms());
		if (clock_now_ms() >= L.metrics.restart_at_ms) {
			say("starting the metrics exporter again");
			start_exporter(&L);
		}
		if (L.restart_at_ms != UINT64_MAX && clock_now_ms() >= L.restart_at_ms) {
			L.restart_at_ms = UINT64_MAX;
			if (revive_listens(L.listens, L.listen_fds, L.n_listen) < 0) {
				gave_up = true;
				kill_all(&L, SIGTERM);
				stopping = L.stopping = true;
				stop_deadline = clock_now_ms() + 5000;
				continue;
			}
			say("starting a new listener generation");
			L.gen_why = CTR_GEN_RESTART;
			if ((r = start_generation(&L)) < 0)
				log_errno(r, "cannot start a new generation");
		}
	}
	/* 0 only for a requested stop: a supervisor must see a give-up */
	return gave_up ? 1 : 0;
}
