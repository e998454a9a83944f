/* STUB */
#include <errno.h>
#include "hostname.h"
enum hostname_status hostname_normalize(const uint8_t *in, size_t len, char *out, size_t *out_len)
{ (void)in; (void)len; (void)out; (void)out_len; return HOSTNAME_E_EMPTY; }
enum hostname_status hostname_normalize_pattern(const uint8_t *in, size_t len, char *out, size_t *out_len)
{ (void)in; (void)len; (void)out; (void)out_len; return HOSTNAME_E_EMPTY; }
const char *hostname_status_str(enum hostname_status s) { (void)s; return "stub"; }
