/* SPDX-License-Identifier: MIT */
#pragma once
/*
 * The compiled config's layout (config_image.h), shared by its writer
 * (config_image_write.c) and its reader (config_image_read.c) only. A
 * header at offset 0 with the scalars and, for each array, its byte
 * offset and element count; then the arrays, each 8-byte aligned, the
 * last one ending the image. Arrays of plain data (addresses, listens,
 * access rules, route slots, strings) are stored as the structs the
 * daemons use, so a daemon points into the image instead of copying; what
 * holds pointers (sites, tls-alpn routes) is stored with indexes and
 * rebuilt privately (a few dozen bytes a site).
 */
#include <stdint.h>
#include "router/config.h"
#include "router/config_image.h"
#include "router/prefixset.h"
#include "router/routes.h"

#define CI_VERSION 1u
#define CI_ENDIAN 0x01020304u
#define CI_NONE UINT32_MAX
#define CI_ALIGN 8u

/*
 * Every field of gh_config and gh_site must reach the image, or a daemon
 * started from it would silently run without a directive the launcher
 * parsed. A field added to either struct changes its size and stops the
 * build here: carry it in ci_header/ci_site (write and open), then update
 * the size. Checked where the sizes are known (x86-64, the CI machine).
 */
#if defined(__x86_64__)
_Static_assert(sizeof(struct gh_config) == 376, "gh_config changed: carry the new field in the config image");
_Static_assert(sizeof(struct gh_site) == 120, "gh_site changed: carry the new field in the config image");
_Static_assert(sizeof(struct gh_alpn_route) == 288, "gh_alpn_route changed: carry the new field in the config image");
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

struct ci_site {
	uint32_t names, n_names;			/* in names */
	uint32_t servers[GH_KIND_COUNT], n_servers[GH_KIND_COUNT];	/* in addrs */
	uint32_t alpn, n_alpn;				/* in alpns */
	uint32_t acl, n_acl, acl_line;			/* in entries */
	int32_t proxy_protocol;
	uint32_t max_connections, line;
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
	uint32_t sizeof_header, sizeof_addr, sizeof_listen, sizeof_entry, sizeof_slot, pad0;

	uint32_t inspect_timeout_ms, connect_timeout_ms, idle_timeout_ms, http_mode;
	uint32_t default_site[GH_KIND_COUNT];
	uint32_t forwarders, max_connections, queue_timeout_ms;
	uint32_t acl, n_acl, acl_line;			/* in entries */
	uint32_t alpn, n_alpn;				/* in alpns */
	uint64_t max_head;
	struct ci_name user, chroot_dir;
	struct gh_addr metrics;

	struct ci_range listens, sites, addrs, names, strings, entries, alpns;
	struct ci_routes routes[GH_KIND_COUNT], by_name;
};
