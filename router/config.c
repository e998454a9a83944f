/* STUB */
#include <errno.h>
#include "config.h"
int config_parse(const char *filename, const char *text, size_t len,
		 config_error_fn err, void *userdata, struct gh_config **out)
{ (void)filename; (void)text; (void)len; (void)out; err(userdata, "stub"); return -EINVAL; }
void config_free(struct gh_config *c) { (void)c; }
uint32_t config_route(const struct gh_config *c, enum gh_kind kind, const char *name, size_t len)
{ (void)c; (void)kind; (void)name; (void)len; return GH_NO_SITE; }
uint32_t config_site_index(const struct gh_config *c, const char *name, size_t len)
{ (void)c; (void)name; (void)len; return GH_NO_SITE; }
int config_parse_duration(const char *s, size_t len, uint32_t *ms) { (void)s; (void)len; (void)ms; return -EINVAL; }
int config_parse_addr(const char *s, size_t len, struct gh_addr *out) { (void)s; (void)len; (void)out; return -EINVAL; }
const char *gh_kind_str(enum gh_kind k) { return k == GH_KIND_TLS ? "tls" : "http"; }
