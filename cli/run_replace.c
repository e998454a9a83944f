/* SPDX-License-Identifier: MIT */
/* Replacing a dead forwarder under `gatehouse run`: run_replace.h. */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include "cli/run_fds.h"
#include "cli/run_replace.h"
#include "common/handoff_chan.h"
#include "common/load.h"

void replace_init(struct run_replace *R, bool quic)
{
	memset(R, 0, sizeof(*R));
	R->ctl = -1;
	R->sndbuf = quic ? HANDOFF_CHANNEL_SNDBUF_QUIC : HANDOFF_CHANNEL_SNDBUF;
	for (unsigned i = 0; i < GH_MAX_FORWARDERS; i++)
		R->wait[i].chan = -1;
}

int replace_new_generation(struct run_replace *R, int *listener_end)
{
	int sv[2];

	if (R->ctl >= 0)
		close(R->ctl);
	R->ctl = -1;
	for (unsigned i = 0; i < GH_MAX_FORWARDERS; i++) {
		/* its forwarder sees the channel close and exits */
		if (R->wait[i].chan >= 0)
			close(R->wait[i].chan);
		R->wait[i].chan = -1;
		R->early[i] = 0;
	}
	R->due = 0;
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		return -errno;
	/* we only send; a listener that wrote here would fill nothing we read */
	shutdown(sv[0], SHUT_RD);
	R->ctl = sv[0];
	*listener_end = sv[1];
	return 0;
}

bool replace_died(struct run_replace *R, unsigned slot, bool early, uint64_t now)
{
	if (slot >= GH_MAX_FORWARDERS || R->ctl < 0)
		return false;
	R->early[slot] = early ? R->early[slot] + 1 : 0;
	if (R->early[slot] >= REPLACE_MAX_EARLY)
		return false;
	R->due |= 1ull << slot;
	R->due_at[slot] = now + (uint64_t)REPLACE_BACKOFF_MS * R->early[slot];
	return true;
}

int replace_next_due(struct run_replace *R, uint64_t now)
{
	for (uint64_t m = R->due; m; m &= m - 1) {
		unsigned i = (unsigned)__builtin_ctzll(m);
		if (R->due_at[i] <= now) {
			R->due &= ~(1ull << i);
			return (int)i;
		}
	}
	return -1;
}

int replace_channel(struct run_replace *R, unsigned slot, int *forwarder_end)
{
	int sv[2];

	if (slot >= GH_MAX_FORWARDERS)
		return -EINVAL;
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		return -errno;
	/* what the listener sets on the channels it starts with; once
	 * sandboxed it may not (no setsockopt, no fcntl) */
	setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &R->sndbuf, sizeof(R->sndbuf));
	fcntl(sv[0], F_SETFL, fcntl(sv[0], F_GETFL) | O_NONBLOCK);
	if (R->wait[slot].chan >= 0)
		close(R->wait[slot].chan);
	R->wait[slot].chan = sv[0];
	R->wait[slot].deadline_ms = 0;	/* set by the caller's clock: replace_run */
	*forwarder_end = sv[1];
	return 0;
}

void replace_abort(struct run_replace *R, unsigned slot)
{
	if (slot < GH_MAX_FORWARDERS && R->wait[slot].chan >= 0) {
		close(R->wait[slot].chan);
		R->wait[slot].chan = -1;
	}
}

unsigned replace_pollfds(const struct run_replace *R, struct pollfd *p, unsigned max)
{
	unsigned n = 0;
	for (unsigned i = 0; i < GH_MAX_FORWARDERS && n < max; i++)
		if (R->wait[i].chan >= 0)
			p[n++] = (struct pollfd){ .fd = R->wait[i].chan, .events = POLLIN };
	return n;
}

uint64_t replace_deadline(const struct run_replace *R)
{
	uint64_t d = UINT64_MAX;
	for (unsigned i = 0; i < GH_MAX_FORWARDERS; i++) {
		if (R->wait[i].chan >= 0 && R->wait[i].deadline_ms < d)
			d = R->wait[i].deadline_ms;
		if ((R->due & (1ull << i)) && R->due_at[i] < d)
			d = R->due_at[i];
	}
	return d;
}

void replace_run(struct run_replace *R, uint64_t now)
{
	for (unsigned i = 0; i < GH_MAX_FORWARDERS; i++) {
		int chan = R->wait[i].chan;
		if (chan < 0)
			continue;
		if (!R->wait[i].deadline_ms)
			R->wait[i].deadline_ms = now + REPLACE_PAGE_WAIT_MS;
		struct pollfd p = { .fd = chan, .events = POLLIN };
		bool came = poll(&p, 1, 0) > 0;
		if (!came && now < R->wait[i].deadline_ms)
			continue;
		/* the forwarder's first message: its load page, vetted here
		 * (sealed, one of the two sizes) where fstat is allowed */
		size_t size = 0;
		int page = came ? load_receive_fd(chan, 0, &size) : -1;
		int r = handoff_chan_send(R->ctl, i, chan, page, size);
		if (r < 0)
			say("forwarder channel %u: cannot pass it to the listener: %s", i + 1, strerror(-r));
		else
			say("forwarder channel %u: a new forwarder took the dead one's place%s", i + 1,
			    page >= 0 ? "" : " (without a load page)");
		if (page >= 0)
			close(page);
		close(chan);
		R->wait[i].chan = -1;
	}
}
