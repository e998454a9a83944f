/* SPDX-License-Identifier: MIT */
#pragma once
/*
 * The compiled config's layout (config_image.h), shared by its writer
 * (config_image_write.c) and its reader (config_image_read.c) only. A
 * header at offset 0 with the scalars and, for each array, its byte
 * offset and element count; then the arrays, each 8-byte aligned, the
 * last one ending the image. Arrays of plain data (addresses, access
 * rules, route slots, strings) are stored as the structs the daemons use,
 * so a daemon points into the image instead of copying; what holds
 * pointers (sites, listens with their accept-proxy lists, tls-alpn routes)
 * is stored with indexes and rebuilt privately (a few dozen bytes a site).
 * Health checks: the targets (struct gh_check_target, plain data) and each
 * site's check_of maps (one uint32 array, a range per site and kind) are
 * carried; the `check` lines themselves (check_rules) are not: they are
 * resolved into those by config_check_finish at parse time and nothing
 * reads them after, so an image-loaded config has none.
 */
#include <stdint.h>
#include "router/config.h"
#include "router/config_image.h"
#include "router/prefixset.h"
#include "router/routes.h"

#define CI_VERSION 4u
#define CI_ENDIAN 0x01020304u
#define CI_NONE UINT32_MAX
#define CI_ALIGN 8u

/*
 * Every field of gh_config, gh_site and gh_listen, and of the structs
 * they hold, must reach the image, or a daemon started from it would
 * silently run without a directive the launcher parsed. A field added to
 * any of them changes its size and stops the build here (the nested ones
 * are checked on their own: padding could hide a small field in the outer
 * size): carry it in ci_header/ci_site/ci_listen (write and open), then
 * update the size. Checked where the sizes are known (x86-64, the CI
 * machine).
 */
#if defined(__x86_64__)
_Static_assert(sizeof(struct gh_config) == 544, "gh_config changed: carry the new field in the config image");
_Static_assert(sizeof(struct gh_site) == 200, "gh_site changed: carry the new field in the config image");
_Static_assert(sizeof(struct gh_listen) == 248, "gh_listen changed: carry the new field in the config image");
_Static_assert(sizeof(struct gh_alpn_route) == 288, "gh_alpn_route changed: carry the new field in the config image");
_Static_assert(sizeof(struct gh_check_target) == 352, "gh_check_target changed: carry the new field in the config image");
_Static_assert(sizeof(struct gh_check) == 140, "gh_check changed: carry the new field in the config image");
_Static_assert(sizeof(struct gh_acl) == 32, "gh_acl changed: carry the new field in the config image");
_Static_assert(sizeof(struct gh_source_prefix) == 20, "gh_source_prefix changed: carry the new field in the config image");
_Static_assert(sizeof(struct gh_source_limits) == 44, "gh_source_limits changed: carry the new field in the config image");
#endif

struct ci_range {
	uint64_t off;		/* bytes from the image's start */
	uint64_t count;		/* elements */
};

struct ci_table {
	struct ci_range slots;	/* struct routes_slot */
	uint64_t count, max_len;
};

struct ci_routes {
	struct ci_table exact, wild;
	struct ci_range strings;	/* char */
};

struct ci_name {
	uint32_t off, len;	/* in strings, NUL at off + len; off CI_NONE: none */
};

/* struct gh_source_prefix */
struct ci_prefix {
	uint8_t prefix[12];
	uint32_t on, line;
};

/* struct gh_listen; its accept-proxy list in entries (all allow) */
struct ci_listen {
	struct gh_addr addr;
	uint32_t kind, line;
	uint32_t proxy, n_proxy, proxy_line;		/* in entries */
	uint32_t pad;
};

struct ci_site {
	uint32_t names, n_names;			/* in names */
	uint32_t servers[GH_KIND_COUNT], n_servers[GH_KIND_COUNT];	/* in addrs */
	uint32_t alpn, n_alpn;				/* in alpns */
	uint32_t acl, n_acl, acl_line;			/* in entries */
	int32_t proxy_protocol;
	uint32_t max_connections, line;
	struct ci_prefix source_prefix;
	uint32_t src_connections, line_src_connections;
	uint32_t src_rate, src_window_ms, line_src_rate;
	/* in check_of: CI_NONE for none (NULL), else n_check_of[k] entries,
	 * the dial-state layout (config_server_check) */
	uint32_t check_of[GH_KIND_COUNT], n_check_of[GH_KIND_COUNT];
};

struct ci_alpn {
	char protocol[256];
	uint32_t protocol_len, inherited;
	uint32_t servers, n_servers;			/* in addrs */
	uint32_t line, pad;
};

struct ci_header {
	char magic[CONFIG_IMAGE_MAGIC_LEN];
	uint32_t version, endian;
	uint64_t size;
	/* a reader built with other struct layouts refuses the image */
	uint32_t sizeof_header, sizeof_addr, sizeof_listen, sizeof_entry, sizeof_slot, sizeof_check;

	uint32_t inspect_timeout_ms, connect_timeout_ms, idle_timeout_ms, quic_idle_timeout_ms, http_mode;
	uint32_t default_site[GH_KIND_COUNT];
	uint32_t forwarders, max_connections, queue_timeout_ms;
	uint32_t acl, n_acl, acl_line;			/* in entries */
	uint32_t alpn, n_alpn;				/* in alpns */
	uint64_t max_head;
	struct ci_name user, chroot_dir;
	struct gh_addr metrics;
	struct ci_prefix source_prefix;
	/* struct gh_source_limits */
	uint32_t src_rate, src_window_ms, src_inspecting, src_v6_prefix, src_slots, src_connections;
	uint32_t src_line_rate, src_line_inspecting, src_line_prefix, src_line_table, src_line_connections;
	uint32_t accept_proxy, n_accept_proxy, accept_proxy_line;	/* in entries (all allow) */
	uint32_t refuse_direct, proxy_listen_lists;
	/* config_check.c's hash of the checks list: a reader recomputes it */
	uint64_t checks_id;

	struct ci_range listens, sites, addrs, names, strings, entries, alpns;
	struct ci_range checks;		/* struct gh_check_target */
	struct ci_range check_of;	/* uint32_t: an index in checks or GH_NO_CHECK */
	struct ci_routes routes[GH_KIND_COUNT], by_name;
};
