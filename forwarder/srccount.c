/* SPDX-License-Identifier: MIT */
#include "forwarder/srccount.h"
#include "forwarder/state.h"
#include "router/srcbucket.h"

/* the site's own rows move only for a site with its own limit: fewer
 * sources share those buckets */
static bool site_rows(const struct forwarder *f, const struct fconn *c)
{
	return c->site < f->cfg->n_sites && f->cfg->sites[c->site].src_connections;
}

static void count(struct forwarder *f, const struct fconn *c, int delta)
{
	struct srcbucket b;
	if (srcbucket_of(f->load->src_key, 32, config_source_v6_prefix(f->cfg), c->client_family, c->client_addr,
			 c->site, &b) == 0)
		load_src_add(f->src_counts, &b, site_rows(f, c), delta);
}

void srccount_take(struct forwarder *f, struct fconn *c)
{
	if (!f->src_counts)
		return;
	count(f, c, 1);
	c->src_counted = true;
}

void srccount_end(struct forwarder *f, struct fconn *c)
{
	if (!c->src_counted)
		return;
	c->src_counted = false;
	count(f, c, -1);
}
