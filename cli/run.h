/* SPDX-License-Identifier: MIT */
#pragma once
/* `gatehouse run -c FILE`: bind, start listener and forwarders, supervise.
 * forwarders 0 means the config's `forwarders`, else one per CPU. */
int cmd_run(const char *config_path, unsigned forwarders);
