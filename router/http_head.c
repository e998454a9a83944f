/* STUB */
#include "http_head.h"
enum http_head_status http_head_parse(const uint8_t *buf, size_t len, size_t cap, struct http_head *out)
{ (void)buf; (void)len; (void)cap; out->status = 400; out->reason = "stub"; return HTTP_HEAD_INVALID; }
