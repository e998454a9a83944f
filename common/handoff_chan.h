/* SPDX-License-Identifier: MIT */
#pragma once
/*
 * A replacement forwarder channel, from `gatehouse run` to its running
 * listener. When a forwarder of the current generation dies, the launcher
 * starts another in its place and passes the listener the other end of
 * the new channel over a control socket (SOCK_SEQPACKET socketpair, the
 * LISTEN_FDNAMES name "control") that only the launcher sends on and never
 * reads: the listener, which may not connect, gains a channel without any
 * new way to reach out.
 *
 * One message: struct handoff_chan, exactly, with SCM_RIGHTS [channel] or
 * [channel, load page memfd]. The launcher took the page off the new
 * channel itself (common/load.h load_receive_fd: sealed, the right size),
 * so the listener only maps it read-only (load_map). The listener receives
 * it with recvmmsg: its filter allows that call on this socket's fd and
 * its QUIC sockets only (policy/seccomp.c), never recvmsg.
 */
#include <stddef.h>
#include <stdint.h>

#define HANDOFF_CHAN_MAGIC 0x4e414843u	/* "CHAN" */

struct handoff_chan {
	uint32_t magic;		/* HANDOFF_CHAN_MAGIC */
	uint32_t slot;		/* the channel's place, as in LISTEN_FDNAMES order */
	uint32_t page_size;	/* 0: no load page; else load_receive_fd's size */
	uint32_t reserved;	/* zero */
};

/* The send buffer the launcher gives a replacement channel's listener end
 * (the listener may not setsockopt once sandboxed); the listener sets the
 * same on the channels it starts with. Few fd hand-offs in flight keeps a
 * stuck forwarder from stranding many clients (listener/main.c); with
 * QUIC, datagrams need room for bursts (listener/quic_rx.h). */
#define HANDOFF_CHANNEL_SNDBUF 8192
#define HANDOFF_CHANNEL_SNDBUF_QUIC (256 * 1024)

/* Launcher: pass chan (and page_fd, if >= 0, of page_size bytes) for slot.
 * 0 or -errno; the caller still closes its copies. */
int handoff_chan_send(int ctl, unsigned slot, int chan, int page_fd, size_t page_size);

/* Listener: one message off ctl (non-blocking). 1: *slot, *chan and
 * *page_fd (-1 if none) with *page_size; 0: nothing there; -EBADMSG: a
 * message refused (its fds closed; the next may be fine); -EPIPE at EOF
 * (the launcher is gone); else -errno. */
int handoff_chan_recv(int ctl, unsigned *slot, int *chan, int *page_fd, size_t *page_size);
