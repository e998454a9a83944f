/* SPDX-License-Identifier: MIT */
#pragma once
/*
 * Hand-off of decided clients to the forwarders over their channels, with
 * backpressure: what cannot be sent waits in a bounded ring (and while it
 * is not empty the loop stops accepting), and each batch goes to the
 * least-loaded forwarder read from its load page. Calls down into lconn
 * only; what the loop must do about it (drain when a channel is lost,
 * stop accepting while the ring holds clients) it reads from here.
 */
#include <stdbool.h>
#include <stdint.h>
#include "common/handoff.h"
#include "common/load.h"
#include "router/gh_limits.h"
#include "listener/lconn.h"

/* A forwarder with this many hand-offs not yet taken is busy: others get
 * the next clients while they can take them. */
#define IN_FLIGHT_MAX 4
/* One that has taken none of its waiting hand-offs for this long is
 * stuck (stopped, or wedged): it gets nothing while another channel can
 * be sent to. Together these bound the clients stranded in a stuck
 * forwarder's channel to about IN_FLIGHT_MAX, instead of the channel's
 * buffer (CHANNEL_SNDBUF in main.c). */
#define STALL_MS 100

struct lchannel {
	uint8_t type;		/* LOBJ_CHANNEL */
	bool dead;
	bool blocked;		/* last send hit EAGAIN; waiting for EPOLLOUT */
	bool spare;		/* takes nothing until an active channel dies */
	int fd;
	uint32_t sent;		/* hand-offs sent, ever (wraps) */
	const struct gh_load *load;	/* the forwarder's figures, or NULL */
	const struct gh_load_src *load_src;	/* its per-source counts (as mapped), or NULL */
	uint32_t seen_taken;	/* load->taken when last seen to move ... */
	uint64_t moved_ms;	/* ... and when (see stalled() in dispatch.c) */
	uint32_t ended_seen;	/* load->ended_head last read (quic_rx.c) */
};

/* A decided client waiting to be sent to a forwarder. */
struct lpending {
	struct handoff_msg msg;
	int fd;
	struct srcconn_ticket ticket;	/* counted from decision until taken */
};

struct dispatch {
	int epfd;		/* the channels are in it */
	struct srcconn *src;	/* source-connections counts, or NULL (tests) */
	struct lchannel channels[GH_MAX_FORWARDERS];
	unsigned n_channels;
	bool all_loads;		/* every forwarder sent its load page */
	unsigned next_channel;	/* round robin among equals starts here */
	/* ring of decided clients not yet sent */
	struct lpending *pending;
	unsigned pending_head, pending_len, pending_cap;
	/* The last flush left clients in the ring (every channel full or
	 * gone): accept no more until one takes them. Between flushes the
	 * ring fills up to a batch without this. */
	bool backed_up;
	/* A channel died: why. A listener cannot open a new one (it may not
	 * connect), so the loop drains and exits for a fresh listener --
	 * unless its launcher passes replacements (replaceable: `gatehouse
	 * run`'s control socket) and another channel is still alive, or a
	 * spare channel (systemd: connected at start) takes the dead one's
	 * place. */
	const char *lost;
	bool replaceable;
	/* channels that died since the loop last looked (bit = index): their
	 * QUIC flows end (quic_rx.h lquic_channel_gone) */
	uint64_t gone;
};

/* An empty dispatcher with a ring of pending_cap; -ENOMEM. */
int dispatch_init(struct dispatch *d, int epfd, unsigned pending_cap);

/* A decided client for site: into the ring, sent when a batch fills or at
 * the end of the round (dispatch_flush). c is gone after the call.
 * one_request: 0, a tunnel; else the bytes of the client's the forwarder
 * carries to the backend (handoff.h). alpn_route, proxy_len: handoff.h. */
void dispatch_queue(struct dispatch *d, struct lconns *t, struct lconn *c, const char *site, const char *name,
		    uint32_t one_request, unsigned alpn_route, unsigned proxy_len);

/* Send what the ring holds, as far as the channels take it. */
void dispatch_flush(struct dispatch *d, struct lconns *t);

void dispatch_channel_event(struct dispatch *d, struct lconns *t, struct lchannel *ch, uint32_t events);

/* Where the next batch goes, and how much of it (*room); NULL when no
 * channel can be sent to. No I/O, and time is passed in (now_ms, the
 * clock the stall test runs on); it only advances the round robin and
 * notes when each page's `taken` moved. */
struct lchannel *dispatch_pick(struct dispatch *d, uint64_t now_ms, unsigned *room);

/* Channel slot (dead, or dying: it is ended first, and counts as gone)
 * now runs on fd, a new forwarder's channel, with its load page ld and
 * counts src (either may be NULL). Nothing in flight is carried over.
 * 0, or -EINVAL for a slot that never was, -EPROTO when source-connections
 * needs counts the page lacks; on error the slot stays dead and fd, ld and
 * src are still the caller's. */
int dispatch_replace(struct dispatch *d, unsigned slot, int fd, const struct gh_load *ld,
		     const struct gh_load_src *src);

/* Channels that are not dead (spares included). */
unsigned dispatch_live(const struct dispatch *d);

/* At exit: close what the ring still holds. */
void dispatch_close(struct dispatch *d);
