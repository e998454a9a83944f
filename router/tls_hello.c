/* STUB */
#include "tls_hello.h"
enum tls_hello_status tls_hello_parse(const uint8_t *buf, size_t len, struct tls_hello *out)
{ (void)buf; (void)len; out->error = TLS_HELLO_E_NOT_TLS; return TLS_HELLO_INVALID; }
const char *tls_hello_error_str(enum tls_hello_error e) { (void)e; return "stub"; }
