/* SPDX-License-Identifier: MIT */
#include <dirent.h>
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>
#include "common/log.h"
#include "policy/policy.h"

#define DEFAULT_CHROOT "/var/lib/gatehouse"

/* root-owned, a directory, writable by nobody else; created if missing */
static int prepare_chroot(const char *dir)
{
	struct stat st;

	if (mkdir(dir, 0755) < 0 && errno != EEXIST)
		return log_errno(-errno, "sandbox: mkdir %s", dir);
	if (stat(dir, &st) < 0)
		return log_errno(-errno, "sandbox: %s", dir);
	if (!S_ISDIR(st.st_mode) || st.st_uid != 0 || (st.st_mode & (S_IWGRP | S_IWOTH))) {
		log_msg(LOG_ERR, "sandbox: %s must be a directory owned by root and writable by root only", dir);
		return -EPERM;
	}
	DIR *d = opendir(dir);
	if (d) {
		struct dirent *de;
		while ((de = readdir(d)))
			if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..")) {
				log_msg(LOG_WARNING, "sandbox: %s is not empty (%s), continuing", dir, de->d_name);
				break;
			}
		closedir(d);
	}
	return 0;
}

/* uid 0 -> non-zero empties the permitted and effective sets; the
 * bounding set too, so that nothing this process could ever exec (it
 * cannot: seccomp) would get a capability back. Needs CAP_SETPCAP: as root. */
static int clear_bounding_set(void)
{
	for (int cap = 0; prctl(PR_CAPBSET_READ, cap, 0, 0, 0) >= 0; cap++) {
		if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) == 0)
			continue;
		/* root without CAP_SETPCAP (a container may withhold it): the
		 * uid drop still empties every other set, and nothing can be
		 * exec'd to use the bounding set */
		if (errno == EPERM) {
			log_msg(LOG_NOTICE, "sandbox: capability bounding set left as is (no CAP_SETPCAP)");
			return 0;
		}
		return log_errno(-errno, "sandbox: dropping capability %d from the bounding set", cap);
	}
	return 0;
}

/* The listener talks only on the sockets it was given, which keep the
 * network namespace they were made in: an empty one of its own leaves it
 * nothing else to reach (what PrivateNetwork= does in its unit). Where
 * namespaces are not ours to make (a container without CAP_SYS_ADMIN), say
 * so and go on: seccomp already forbids socket(). */
static int own_netns(void)
{
	if (unshare(CLONE_NEWNET) == 0)
		return 0;
	if (errno == EPERM || errno == EINVAL || errno == ENOSPC || errno == EUSERS) {
		log_msg(LOG_NOTICE, "sandbox: no network namespace of its own: %s", strerror(errno));
		return 0;
	}
	return log_errno(-errno, "sandbox: unshare(CLONE_NEWNET)");
}

static int drop_root(enum policy_proc proc, const struct policy_opts *o)
{
	const char *dir = o->chroot_dir ? o->chroot_dir : DEFAULT_CHROOT;
	const char *name = o->user ? o->user : "gatehouse";
	struct passwd *pw = getpwnam(name);
	int r;

	if (!pw && !o->user) {
		pw = getpwnam("nobody");
		if (pw && !getenv("GATEHOUSE_SANDBOX_NOTED"))
			log_msg(LOG_NOTICE, "sandbox: no user 'gatehouse' (useradd --system gatehouse); using 'nobody'");
	}
	if (!pw) {
		log_msg(LOG_ERR, "sandbox: unknown user '%s'", name);
		return -ESRCH;
	}
	if (pw->pw_uid == 0) {
		log_msg(LOG_ERR, "sandbox: user '%s' is root; refusing", name);
		return -EPERM;
	}
	uid_t uid = pw->pw_uid;
	gid_t gid = pw->pw_gid;
	/* gatehouse-config reads the config file on every request: no
	 * chroot, only the user drop (its filter opens read-only) */
	if (proc != POLICY_CONFIG && (r = prepare_chroot(dir)) < 0)
		return r;
	if (proc == POLICY_LISTENER && (r = own_netns()) < 0)
		return r;
	if (proc != POLICY_CONFIG && (chroot(dir) < 0 || chdir("/") < 0))
		return log_errno(-errno, "sandbox: chroot %s", dir);
	if ((r = clear_bounding_set()) < 0)
		return r;
	if (setgroups(0, NULL) < 0 || setresgid(gid, gid, gid) < 0 || setresuid(uid, uid, uid) < 0)
		return log_errno(-errno, "sandbox: dropping to %s", name);
	/* must not be able to get root back */
	if (setresuid(0, 0, 0) == 0) {
		log_msg(LOG_ERR, "sandbox: could regain root after dropping it");
		return -EPERM;
	}
	return 0;
}

static void limit(int resource, rlim_t v)
{
	struct rlimit rl = { v, v };
	struct rlimit cur;
	if (getrlimit(resource, &cur) == 0 && cur.rlim_max < v)
		rl.rlim_cur = rl.rlim_max = cur.rlim_max;
	setrlimit(resource, &rl);
}

/* Under `gatehouse run` the listener holds the listening sockets too: it
 * must not outlive a launcher killed with SIGKILL (a restart could not bind).
 * Forwarders need not: their channel closes with the listener and they
 * finish their relays. */
static int die_with_parent(const struct policy_opts *o)
{
	const char *parent = getenv("GATEHOUSE_PARENT");

	if (!o->die_with_parent || !parent)
		return 0;
	if (prctl(PR_SET_PDEATHSIG, SIGTERM, 0, 0, 0) < 0 || getppid() != (pid_t)atoi(parent)) {
		log_msg(LOG_ERR, "sandbox: the launcher is gone");
		return -ESRCH;
	}
	return 0;
}

int policy_enter(enum policy_proc proc, const struct policy_opts *o)
{
	int r;

	if (policy_seccomp_disabled()) {
		/* LeakSanitizer reads /proc/self/maps and ptraces its own
		 * threads, valgrind needs its own system calls: no chroot, no
		 * uid change (it clears dumpable), no NPROC limit. The plain
		 * build is the one that ships. */
		log_msg(LOG_WARNING, "sandbox: sanitizer or NOSECCOMP build (testing only), "
			"only no_new_privs applied: no seccomp, chroot or user switch");
		if ((r = die_with_parent(o)) < 0)
			return r;
		if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
			return log_errno(-errno, "sandbox: no_new_privs");
		return 0;
	}
	if (geteuid() == 0) {
		if ((r = drop_root(proc, o)) < 0)
			return r;
	} else if (!getenv("GATEHOUSE_SANDBOX_NOTED")) {
		log_msg(LOG_INFO, "sandbox: started as uid %d: no chroot or user switch here "
			"(the service unit provides them); seccomp still applies", (int)geteuid());
	}
	/* after the user switch, which clears the parent-death signal */
	if ((r = die_with_parent(o)) < 0)
		return r;
	limit(RLIMIT_CORE, 0);		/* no client bytes in core files */
	limit(RLIMIT_NPROC, 0);		/* no new processes, belt to seccomp's braces */
	limit(RLIMIT_MEMLOCK, 0);
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return log_errno(-errno, "sandbox: no_new_privs");
	/* libseccomp returns -errno and leaves errno as it finds it */
	if (proc == POLICY_HEALTH)
		r = policy_seccomp_load_health(o->allow_ipv4, o->serve_fd);
	else if (proc == POLICY_CONFIG)
		r = policy_seccomp_load_config(o->serve_fd);
	else if (proc == POLICY_LISTENER)
		r = policy_seccomp_load_listener(o->quic_fds, o->n_quic_fds, o->ctl_fd > 0 ? o->ctl_fd : -1);
	else
		r = policy_seccomp_load_full(proc, o->allow_ipv4, o->allow_source_bind, o->quic_fds, o->n_quic_fds);
	if (r < 0)
		return log_errno(r, "sandbox: seccomp");
	return 0;
}
