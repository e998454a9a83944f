/* SPDX-License-Identifier: MIT */
#pragma once
/*
 * Logging for the daemons. Two sinks, chosen once by log_setup():
 *  - journald's native protocol, when stderr is connected to the journal
 *    (JOURNAL_STREAM matches it): structured fields per record. The datagram
 *    socket is connected in log_setup(), before any sandbox, and only
 *    send() is used afterwards: after chroot a path could not be reached.
 *  - stderr otherwise: one readable line per record, "<N>" priority prefix
 *    only when stderr is a journal stream without native access.
 * Library code (router/) never logs; the programs do.
 */
#include <stddef.h>
#include <syslog.h>

struct log_field {
	const char *key;	/* e.g. "GATEHOUSE_SITE" */
	const char *value;	/* NUL-terminated; escaped here if untrusted */
};

void log_setup(const char *ident);

/* Start-up and operational messages. */
void log_msg(int priority, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* A failure: logs "<message>: strerror(-r)" at LOG_ERR and returns r, a
 * negative errno, so that `return log_errno(-errno, "open %s", p);` keeps
 * the errno of the call (it is read before anything here runs) and
 * `return log_errno(r, ...)` passes on what a callee returned without
 * setting errno. */
int log_errno(int r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* One record with fields; message is the readable line (MESSAGE=). */
void log_record(int priority, const char *message, const struct log_field *fields, size_t n);

/* Copy untrusted bytes into out (size >= 4*len+1) as printable ASCII:
 * anything outside 0x21..0x7e becomes \xNN. Returns out. */
char *log_escape(const char *in, size_t len, char *out, size_t out_size);

/* In an event loop: keep records until log_flush() at the end of the
 * round (one system call for all of them). Off: each record goes at once. */
void log_batching(int on);
void log_flush(void);

/* True when records go to the journal (for tests and messages). */
int log_to_journal(void);
/* The journal socket (-1: none), for the seccomp filter: known before it
 * loads, so its rows can name this fd. */
int log_journal_fd(void);

/* Format a sockaddr as "[v6]:port" or "a.b.c.d:port" (IPv4-mapped shown as IPv4). */
struct sockaddr;
char *log_format_addr(const struct sockaddr *sa, char *out, size_t size);
