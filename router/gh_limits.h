/* SPDX-License-Identifier: MIT */
#pragma once
/*
 * Every count gatehouse bounds, in one place: the config parser rejects
 * what the launcher or a daemon could not run (FILE:LINE), and the
 * launcher and both daemons size their tables from the same numbers.
 *
 * It lives in router/ (not common/) because the config parser is pure
 * router code, and router/ includes nothing of the rest of the project.
 */

/* `listen` lines in a config; listening sockets a listener takes */
#define GH_MAX_LISTENS 32u
/* forwarders (and so channels) per listener */
#define GH_MAX_FORWARDERS 64u
/* fds the launcher hands a listener: every listening socket and channel */
#define GH_MAX_PASSED_FDS (GH_MAX_LISTENS + GH_MAX_FORWARDERS)
/* servers per site and kind */
#define GH_MAX_SERVERS 256u
/* servers a health daemon checks (distinct address, kind and options):
 * its page holds one slot each */
#define GH_MAX_CHECKS 4096u
/* clients the listener inspects at once */
#define GH_MAX_INSPECTING 16384u
/* bytes a hand-off may carry as one request (handoff.h one_request): the
 * listener's peek buffer (DECIDE_PEEK_MAX), larger than any head */
#define GH_MAX_ONE_REQUEST (64u * 1024u + 1024u)
