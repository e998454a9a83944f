/* SPDX-License-Identifier: MIT */
/*
 * http_head_parse(): one table of request heads. Every case is parsed
 * whole, then at every prefix (NEED_MORE, or the same 4xx/5xx when the
 * prefix is already wrong), then with a body or a pipelined request after
 * it (same answer). DONE cases are complete heads, so head_len == length.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "suites.h"
#include "router/acme_challenge.h"
#include "router/http_head.h"

/* a literal with its exact length, so embedded NULs count */
#define S(x) (const uint8_t *)(x), sizeof(x) - 1

struct head_case {
	const char *name;
	const uint8_t *in;
	size_t len;
	size_t cap;			/* 0: HTTP_HEAD_DEFAULT_CAP */
	enum http_head_status want;
	int status;			/* INVALID: the status expected */
	const char *method;		/* DONE: */
	const char *path;
	const char *host;		/* routing name; NULL: has_host false */
	int minor;
};

#define OK(name, in, method, path, host, minor) \
	{ name, S(in), 0, HTTP_HEAD_DONE, 0, method, path, host, minor }
#define OK_CAP(name, in, cap, method, path, host, minor) \
	{ name, S(in), cap, HTTP_HEAD_DONE, 0, method, path, host, minor }
#define BAD(name, in, status) \
	{ name, S(in), 0, HTTP_HEAD_INVALID, status, NULL, NULL, NULL, 0 }
#define BAD_CAP(name, in, cap, status) \
	{ name, S(in), cap, HTTP_HEAD_INVALID, status, NULL, NULL, NULL, 0 }
#define MORE(name, in) \
	{ name, S(in), 0, HTTP_HEAD_NEED_MORE, 0, NULL, NULL, NULL, 0 }

#define REQ11 "GET / HTTP/1.1\r\n"
#define HOST_A "Host: a.example\r\n"

static const struct head_case cases[] = {
	/* the plain case */
	OK("origin-form", REQ11 HOST_A "\r\n", "GET", "/", "a.example", 1),
	/* Host normalised: uppercase, one trailing dot, port */
	OK("host case and dot", "GET /i.html HTTP/1.1\r\nHost: Example.COM.\r\nAccept: */*\r\n\r\n",
	   "GET", "/i.html", "example.com", 1),
	OK("host port", REQ11 "Host: example.com:8080\r\n\r\n", "GET", "/", "example.com", 1),
	OK("host dot port", REQ11 "Host: EXAMPLE.com.:80\r\n\r\n", "GET", "/", "example.com", 1),
	OK("host empty port", REQ11 "Host: a.example:\r\n\r\n", "GET", "/", "a.example", 1),
	OK("host ipv6 port", REQ11 "Host: [::1]:8080\r\n\r\n", "GET", "/", "[::1]", 1),
	OK("host ipv6 upper", REQ11 "Host: [2001:DB8::1]\r\n\r\n", "GET", "/", "[2001:db8::1]", 1),
	OK("host ows trimmed", REQ11 "Host: \t a.example \t\r\n\r\n", "GET", "/", "a.example", 1),
	OK("host no ows", REQ11 "Host:a.example\r\n\r\n", "GET", "/", "a.example", 1),
	OK("host name case", REQ11 "hOST: a.example\r\n\r\n", "GET", "/", "a.example", 1),
	OK("host underscore", REQ11 "Host: _acme.example\r\n\r\n", "GET", "/", "_acme.example", 1),
	/* absolute-form names the host; a Host must name the same authority
	 * (RFC 9112 §3.2.2), compared normalised, a missing port being the
	 * scheme's default */
	OK("absolute and same host", "GET http://a.example/x?y=1 HTTP/1.1\r\nHost: a.example\r\n\r\n",
	   "GET", "/x?y=1", "a.example", 1),
	OK("absolute host case", "GET http://A.Example./x HTTP/1.1\r\nHost: a.EXAMPLE\r\n\r\n",
	   "GET", "/x", "a.example", 1),
	OK("absolute host :80", "GET http://a.example/x HTTP/1.1\r\nHost: a.example:80\r\n\r\n",
	   "GET", "/x", "a.example", 1),
	OK("absolute :80 host", "GET http://a.example:80/x HTTP/1.1\r\nHost: a.example\r\n\r\n",
	   "GET", "/x", "a.example", 1),
	OK("absolute :080 host", "GET http://a.example:080/x HTTP/1.1\r\nHost: a.example:\r\n\r\n",
	   "GET", "/x", "a.example", 1),
	OK("absolute same port", "GET http://a.example:8080/x HTTP/1.1\r\nHost: a.example:8080\r\n\r\n",
	   "GET", "/x", "a.example", 1),
	OK("absolute https :443", "GET https://a.example/x HTTP/1.1\r\nHost: a.example:443\r\n\r\n",
	   "GET", "/x", "a.example", 1),
	OK("absolute ipv6 same", "GET http://[::1]:8080/p HTTP/1.1\r\nHost: [::1]:8080\r\n\r\n",
	   "GET", "/p", "[::1]", 1),
	OK("absolute ipv6 default", "GET http://[::1]/p HTTP/1.1\r\nHost: [::1]:80\r\n\r\n",
	   "GET", "/p", "[::1]", 1),
	OK("absolute no host 1.1", "GET http://a.example/ HTTP/1.1\r\n\r\n", "GET", "/", "a.example", 1),
	OK("absolute no path", "GET HTTPS://A.Example:443 HTTP/1.1\r\nHost: a.example\r\n\r\n",
	   "GET", "/", "a.example", 1),
	OK("absolute ipv6", "GET http://[::1]:8080/p HTTP/1.0\r\n\r\n", "GET", "/p", "[::1]", 0),
	OK("absolute empty port", "GET http://a.example:/ HTTP/1.1\r\n\r\n", "GET", "/", "a.example", 1),
	/* duplicates: the same host after normalisation is fine */
	OK("two same hosts", REQ11 HOST_A HOST_A "\r\n", "GET", "/", "a.example", 1),
	OK("two equal hosts", REQ11 HOST_A "host: A.EXAMPLE.:80\r\n\r\n", "GET", "/", "a.example", 1),
	OK("two empty hosts", REQ11 "Host:\r\nHost: \r\n\r\n", "GET", "/", NULL, 1),
	/* bare LF ends lines too (RFC 9112 §2.2) */
	OK("lf only", "GET / HTTP/1.1\nHost: a.example\n\n", "GET", "/", "a.example", 1),
	OK("lf mixed", "GET / HTTP/1.1\nHost: a.example\r\nX: y\n\r\n", "GET", "/", "a.example", 1),
	/* HTTP/1.0 needs no Host; an empty Host gives no routing name */
	OK("1.0 no host", "GET / HTTP/1.0\r\n\r\n", "GET", "/", NULL, 0),
	OK("1.0 host", "GET / HTTP/1.0\r\nHost: a.example\r\n\r\n", "GET", "/", "a.example", 0),
	OK("1.1 empty host", REQ11 "Host:\r\n\r\n", "GET", "/", NULL, 1),
	OK("1.1 blank host", REQ11 "Host:  \t \r\n\r\n", "GET", "/", NULL, 1),
	/* ACME HTTP-01 challenge, query included */
	OK("acme", "GET /.well-known/acme-challenge/LoqXcYV8q5ONbJQxbmR7SCTNo3tiAXDfowyjxAjEuX0?a=1&b HTTP/1.1\r\n"
	   "Host: www.test2.example.net\r\nUser-Agent: Mozilla/5.0 (compatible; Let's Encrypt validation server)\r\n"
	   "Accept: */*\r\nAccept-Encoding: gzip\r\nConnection: close\r\n\r\n",
	   "GET", "/.well-known/acme-challenge/LoqXcYV8q5ONbJQxbmR7SCTNo3tiAXDfowyjxAjEuX0?a=1&b",
	   "www.test2.example.net", 1),
	OK("options asterisk", "OPTIONS * HTTP/1.1\r\n" HOST_A "\r\n", "OPTIONS", "*", "a.example", 1),
	/* RFC 9112 §2.2: empty lines before the request line, up to four */
	OK("one empty line", "\r\n" REQ11 HOST_A "\r\n", "GET", "/", "a.example", 1),
	OK("four empty lines", "\r\n\n\r\n\n" REQ11 HOST_A "\r\n", "GET", "/", "a.example", 1),
	/* field values: obs-text, HTAB, empty, every tchar in a name */
	OK("obs-text value", REQ11 HOST_A "X-Name: caf\xc3\xa9\xff\r\n\r\n", "GET", "/", "a.example", 1),
	OK("htab in value", REQ11 HOST_A "X: a\tb\r\n\r\n", "GET", "/", "a.example", 1),
	OK("empty value", REQ11 "X-Empty:\r\n" HOST_A "\r\n", "GET", "/", "a.example", 1),
	OK("tchar name", REQ11 HOST_A "X-!#$%&'*+-.^_`|~09az: v\r\n\r\n", "GET", "/", "a.example", 1),
	OK("colon in value", REQ11 HOST_A "Referer: http://x:1/\r\n\r\n", "GET", "/", "a.example", 1),
	/* methods: any token; case-sensitive, so "connect" is not CONNECT */
	OK("purge", "PURGE /x HTTP/1.1\r\n" HOST_A "\r\n", "PURGE", "/x", "a.example", 1),
	OK("m-search", "M-SEARCH /x HTTP/1.1\r\n" HOST_A "\r\n", "M-SEARCH", "/x", "a.example", 1),
	OK("lowercase connect", "connect /x HTTP/1.1\r\n" HOST_A "\r\n", "connect", "/x", "a.example", 1),
	/* targets */
	OK("double slash", "GET //x/../y HTTP/1.1\r\n" HOST_A "\r\n", "GET", "//x/../y", "a.example", 1),
	OK("punctuation", "GET /a%20b;c=d/~e?f=g&h=[i]#j HTTP/1.1\r\n" HOST_A "\r\n",
	   "GET", "/a%20b;c=d/~e?f=g&h=[i]#j", "a.example", 1),
	/* framing that is not ambiguous */
	OK("content-length", "POST /f HTTP/1.1\r\n" HOST_A "Content-Length: 5\r\n\r\n", "POST", "/f", "a.example", 1),
	OK("content-length zero", "POST /f HTTP/1.0\r\nContent-Length: 0\r\n\r\n", "POST", "/f", NULL, 0),
	OK("content-length same", "POST /f HTTP/1.1\r\n" HOST_A "Content-Length: 5\r\ncontent-length: 005\r\n\r\n",
	   "POST", "/f", "a.example", 1),
	OK("content-length max", "POST /f HTTP/1.1\r\n" HOST_A "Content-Length: 18446744073709551615\r\n\r\n",
	   "POST", "/f", "a.example", 1),
	OK("content-length ows", "POST /f HTTP/1.1\r\n" HOST_A "Content-Length:\t12 \r\n\r\n", "POST", "/f", "a.example", 1),
	OK("chunked", "POST /f HTTP/1.1\r\n" HOST_A "Transfer-Encoding: chunked\r\n\r\n", "POST", "/f", "a.example", 1),
	OK("gzip, chunked", "POST /f HTTP/1.1\r\n" HOST_A "Transfer-Encoding: gzip,Chunked \r\n\r\n",
	   "POST", "/f", "a.example", 1),
	OK("te two lines", "POST /f HTTP/1.1\r\n" HOST_A "Transfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n",
	   "POST", "/f", "a.example", 1),

	/* request line */
	BAD("connect", "CONNECT a.example:443 HTTP/1.1\r\nHost: a.example:443\r\n\r\n", 405),
	BAD("connect at once", "CONNECT ", 405),
	BAD("http/2.0", "GET / HTTP/2.0\r\n" HOST_A "\r\n", 505),
	BAD("http/1.2", "GET / HTTP/1.2\r\n" HOST_A "\r\n", 505),
	BAD("http/0.9", "GET / HTTP/0.9\r\n\r\n", 505),
	BAD("http/3", "GET / HTTP/3\r\n\r\n", 505),
	BAD("http/1.9 at once", "GET / HTTP/1.9", 505),
	BAD("h2 preface", "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 505),
	BAD("lowercase version", "GET / http/1.1\r\n" HOST_A "\r\n", 400),
	BAD("version space", "GET / HTTP/1.1 \r\n" HOST_A "\r\n", 400),
	BAD("version 1.10", "GET / HTTP/1.10\r\n" HOST_A "\r\n", 400),
	BAD("version 1", "GET / HTTP/1\r\n" HOST_A "\r\n", 400),
	BAD("version 11.1", "GET / HTTP/11.1\r\n" HOST_A "\r\n", 400),
	BAD("version a.1", "GET / HTTP/a.1\r\n" HOST_A "\r\n", 400),
	BAD("version 1.x", "GET / HTTP/1.x\r\n" HOST_A "\r\n", 400),
	BAD("version garbage", "GET / HTTPS/1.1\r\n" HOST_A "\r\n", 400),
	BAD("no version", "GET /\r\n\r\n", 400),
	BAD("empty version", "GET / \r\n\r\n", 400),
	BAD("two spaces", "GET  / HTTP/1.1\r\n" HOST_A "\r\n", 400),
	BAD("leading space", " GET / HTTP/1.1\r\n" HOST_A "\r\n", 400),
	BAD("tab separator", "GET\t/ HTTP/1.1\r\n" HOST_A "\r\n", 400),
	BAD("ctl in method at once", "GE\x01", 400),
	BAD("nul in method", "G\0T / HTTP/1.1\r\n" HOST_A "\r\n", 400),
	BAD("empty method", " / HTTP/1.1\r\n\r\n", 400),
	BAD("del in target", "GET /\x7f HTTP/1.1\r\n" HOST_A "\r\n", 400),
	BAD("obs-text in target", "GET /\x80 HTTP/1.1\r\n" HOST_A "\r\n", 400),
	BAD("tab in target", "GET /a\tb HTTP/1.1\r\n" HOST_A "\r\n", 400),
	BAD("nul in target", "GET /a\0 HTTP/1.1\r\n" HOST_A "\r\n", 400),
	BAD("authority-form", "GET a.example:80 HTTP/1.1\r\n" HOST_A "\r\n", 400),
	BAD("asterisk not options", "GET * HTTP/1.1\r\n" HOST_A "\r\n", 400),
	BAD("asterisk plus", "OPTIONS *x HTTP/1.1\r\n" HOST_A "\r\n", 400),
	BAD("ftp scheme", "GET ftp://a.example/ HTTP/1.1\r\n" HOST_A "\r\n", 400),
	BAD("half scheme", "GET http:/a.example/ HTTP/1.1\r\n" HOST_A "\r\n", 400),
	BAD("userinfo", "GET http://user@a.example/ HTTP/1.1\r\n" HOST_A "\r\n", 400),
	BAD("userinfo disguise", "GET http://a.example@b.example/ HTTP/1.1\r\n" HOST_A "\r\n", 400),
	BAD("empty authority", "GET http:///x HTTP/1.1\r\n" HOST_A "\r\n", 400),
	BAD("query no path", "GET http://a.example?x HTTP/1.1\r\n" HOST_A "\r\n", 400),
	BAD("bad target host", "GET http://a!b/ HTTP/1.1\r\n" HOST_A "\r\n", 400),
	BAD("empty label target", "GET http://a..example/ HTTP/1.1\r\n\r\n", 400),
	BAD("unbracketed ipv6", "GET http://::1/ HTTP/1.1\r\n\r\n", 400),
	BAD("too many empty lines", "\r\n\r\n\r\n\r\n\r\n" REQ11 HOST_A "\r\n", 400),
	/* line ends: a CR must be followed by LF */
	BAD("bare cr request line", "GET / HTTP/1.1\rHost: a.example\r\n\r\n", 400),
	BAD("bare cr in value", REQ11 "Host: a.example\rX: y\r\n\r\n", 400),
	BAD("bare cr first", "\rGET / HTTP/1.1\r\n\r\n", 400),
	BAD("bare cr blank line", REQ11 HOST_A "\r\r\n", 400),
	/* field lines */
	BAD("obs-fold", REQ11 "X: a\r\n b\r\n" HOST_A "\r\n", 400),
	BAD("obs-fold tab", REQ11 HOST_A "X: a\r\n\tb\r\n\r\n", 400),
	BAD("obs-fold host", REQ11 "Host: a\r\n .example\r\n\r\n", 400),
	BAD("space before first field", REQ11 " Host: a.example\r\n\r\n", 400),
	BAD("space before colon", REQ11 "Host : a.example\r\n\r\n", 400),
	BAD("tab before colon", REQ11 HOST_A "Content-Length\t: 5\r\n\r\n", 400),
	BAD("empty name", REQ11 HOST_A ": x\r\n\r\n", 400),
	BAD("no colon", REQ11 HOST_A "X-No-Colon\r\n\r\n", 400),
	BAD("nul in value", REQ11 HOST_A "X: a\0b\r\n\r\n", 400),
	BAD("nul in name", REQ11 HOST_A "X\0: a\r\n\r\n", 400),
	BAD("nul in host", REQ11 "Host: a\0.example\r\n\r\n", 400),
	BAD("obs-text in name", REQ11 HOST_A "X\x80: a\r\n\r\n", 400),
	BAD("del in value", REQ11 HOST_A "X: a\x7f\r\n\r\n", 400),
	BAD("esc in value", REQ11 HOST_A "X: \x1b[0m\r\n\r\n", 400),
	/* Host */
	BAD("two different hosts", REQ11 HOST_A "Host: b.example\r\n\r\n", 400),
	BAD("empty then host", REQ11 "Host:\r\n" HOST_A "\r\n", 400),
	BAD("host then empty", REQ11 HOST_A "Host:\r\n\r\n", 400),
	BAD("host space", REQ11 "Host: a b.example\r\n\r\n", 400),
	BAD("host slash", REQ11 "Host: a.example/x\r\n\r\n", 400),
	BAD("host at", REQ11 "Host: user@a.example\r\n\r\n", 400),
	BAD("host percent", REQ11 "Host: a%2eexample\r\n\r\n", 400),
	BAD("host utf-8", REQ11 "Host: b\xc3\xbc" "cher.example\r\n\r\n", 400),
	BAD("host empty label", REQ11 "Host: a..example\r\n\r\n", 400),
	BAD("host two dots", REQ11 "Host: a.example..\r\n\r\n", 400),
	BAD("host bad port", REQ11 "Host: a.example:99999\r\n\r\n", 400),
	BAD("host bad literal", REQ11 "Host: [::1\r\n\r\n", 400),
	BAD("host unbracketed ipv6", REQ11 "Host: ::1\r\n\r\n", 400),
	BAD("missing host", REQ11 "Accept: */*\r\n\r\n", 400),
	BAD("missing host lf", "GET / HTTP/1.1\n\n", 400),
	BAD("bad host with absolute", "GET http://a.example/ HTTP/1.1\r\nHost: a b\r\n\r\n", 400),
	BAD("absolute vs other host", "GET http://a.example/x HTTP/1.1\r\nHost: b.example\r\n\r\n", 400),
	BAD("absolute vs sub host", "GET http://a.example/x HTTP/1.1\r\nHost: www.a.example\r\n\r\n", 400),
	BAD("absolute vs empty host", "GET hTTp://a.example/p HTTP/1.1\r\nHost:\r\n\r\n", 400),
	BAD("absolute vs host port", "GET http://a.example/x HTTP/1.1\r\nHost: a.example:8080\r\n\r\n", 400),
	BAD("absolute port vs host", "GET http://a.example:8080/x HTTP/1.1\r\nHost: a.example\r\n\r\n", 400),
	BAD("absolute port vs port", "GET http://a.example:81/x HTTP/1.1\r\nHost: a.example:8\r\n\r\n", 400),
	BAD("https vs host :80", "GET https://a.example/x HTTP/1.1\r\nHost: a.example:80\r\n\r\n", 400),
	BAD("absolute ipv6 vs port", "GET http://[::1]/p HTTP/1.1\r\nHost: [::1]:8080\r\n\r\n", 400),
	BAD("absolute vs second host", "GET http://a.example/ HTTP/1.1\r\n" HOST_A "Host: b.example\r\n\r\n", 400),
	BAD("two hosts with absolute", "GET http://a.example/ HTTP/1.1\r\nHost: b\r\nHost: c\r\n\r\n", 400),
	/* framing: refuse what a backend could read two ways */
	BAD("te then cl", "POST / HTTP/1.1\r\n" HOST_A "Transfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n", 400),
	BAD("cl then te", "POST / HTTP/1.1\r\n" HOST_A "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n", 400),
	BAD("cl letters", "POST / HTTP/1.1\r\n" HOST_A "Content-Length: abc\r\n\r\n", 400),
	BAD("cl negative", "POST / HTTP/1.1\r\n" HOST_A "Content-Length: -1\r\n\r\n", 400),
	BAD("cl plus", "POST / HTTP/1.1\r\n" HOST_A "Content-Length: +5\r\n\r\n", 400),
	BAD("cl hex", "POST / HTTP/1.1\r\n" HOST_A "Content-Length: 0x10\r\n\r\n", 400),
	BAD("cl inner space", "POST / HTTP/1.1\r\n" HOST_A "Content-Length: 1 2\r\n\r\n", 400),
	BAD("cl list", "POST / HTTP/1.1\r\n" HOST_A "Content-Length: 5, 5\r\n\r\n", 400),
	BAD("cl empty", "POST / HTTP/1.1\r\n" HOST_A "Content-Length:\r\n\r\n", 400),
	BAD("cl overflow", "POST / HTTP/1.1\r\n" HOST_A "Content-Length: 18446744073709551616\r\n\r\n", 400),
	BAD("cl disagree", "POST / HTTP/1.1\r\n" HOST_A "Content-Length: 5\r\nContent-Length: 6\r\n\r\n", 400),
	BAD("te not chunked", "POST / HTTP/1.1\r\n" HOST_A "Transfer-Encoding: gzip\r\n\r\n", 400),
	BAD("te chunked first", "POST / HTTP/1.1\r\n" HOST_A "Transfer-Encoding: chunked, gzip\r\n\r\n", 400),
	BAD("te chunked line first", "POST / HTTP/1.1\r\n" HOST_A
	    "Transfer-Encoding: chunked\r\nTransfer-Encoding: gzip\r\n\r\n", 400),
	BAD("te xchunked", "POST / HTTP/1.1\r\n" HOST_A "Transfer-Encoding: xchunked\r\n\r\n", 400),
	BAD("te empty", "POST / HTTP/1.1\r\n" HOST_A "Transfer-Encoding:\r\n\r\n", 400),
	BAD("te in 1.0", "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", 400),

	/* cap: "GET / HTTP/1.1\r\n" is 16 bytes, the whole head 35 */
	OK_CAP("head exactly at cap", REQ11 HOST_A "\r\n", 35, "GET", "/", "a.example", 1),
	BAD_CAP("head one over cap", REQ11 HOST_A "\r\n", 34, 431),
	BAD_CAP("cap before blank line", REQ11 HOST_A "\r\n", 33, 431),
	/* exactly cap bytes in and no end yet: the answer, not NEED_MORE */
	BAD_CAP("cap bytes, cr waiting", REQ11 HOST_A "\r", 34, 431),
	BAD_CAP("cap bytes, field open", REQ11 "Host: a.exa", 27, 431),
	BAD_CAP("cap bytes, target open", "GET /abc", 8, 414),
	BAD_CAP("cap after request line", REQ11 HOST_A "\r\n", 16, 431),
	BAD_CAP("cap inside request line crlf", REQ11 HOST_A "\r\n", 15, 414),
	BAD_CAP("cap inside target", "GET /aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa HTTP/1.1\r\n" HOST_A "\r\n", 20, 414),
	BAD_CAP("cap inside empty lines", "\r\n\r\n" REQ11 HOST_A "\r\n", 3, 414),
	BAD_CAP("error before cap wins", REQ11 "X\x01: a\r\n" HOST_A "\r\n", 20, 400),
	BAD_CAP("error after cap unseen", REQ11 HOST_A "X\x01: a\r\n\r\n", 34, 431),
	OK_CAP("lf head exactly at cap", "GET / HTTP/1.1\nHost: a.example\n\n", 32, "GET", "/", "a.example", 1),

	/* incomplete but fine so far */
	MORE("empty", ""),
	MORE("method", "GET"),
	MORE("request line cr", "GET / HTTP/1.1\r"),
	MORE("empty line", "\r\n"),
	MORE("one field", REQ11 HOST_A),
	MORE("blank cr", REQ11 HOST_A "\r"),
};

/*
 * Parse in[0..len) placed at the very end of its allocation, so ASan
 * catches any read past len.
 */
static enum http_head_status parse_tail(const uint8_t *in, size_t len, size_t cap,
					struct http_head *h, uint8_t **where)
{
	uint8_t *buf = malloc(len ? len : 1);

	ck_assert_ptr_nonnull(buf);
	if (len)
		memcpy(buf, in, len);
	enum http_head_status r = http_head_parse(buf, len, cap, h);
	*where = buf;
	return r;
}

static bool inside(const uint8_t *p, size_t n, const uint8_t *buf, size_t len)
{
	return p >= buf && n <= len && (size_t)(p - buf) <= len - n;
}

/* Two answers for the same head agree in everything but pointer base. */
static void same_answer(const char *name, const struct http_head *a, const uint8_t *abuf,
			const struct http_head *b, const uint8_t *bbuf)
{
	ck_assert_msg(a->status == b->status && strcmp(a->reason, b->reason) == 0,
		      "%s: %d %s vs %d %s", name, a->status, a->reason, b->status, b->reason);
	ck_assert_uint_eq(a->head_len, b->head_len);
	ck_assert_int_eq(a->has_host, b->has_host);
	ck_assert_str_eq(a->host, b->host);
	ck_assert_uint_eq(a->method_len, b->method_len);
	ck_assert_uint_eq(a->path_len, b->path_len);
	if (a->method) {
		ck_assert_int_eq(a->method - abuf, b->method - bbuf);
		ck_assert_int_eq(a->target - abuf, b->target - bbuf);
	}
}

static void check_done(const struct head_case *c, const struct http_head *h, const uint8_t *buf)
{
	ck_assert_msg(h->head_len == c->len, "%s: head_len %zu, want %zu", c->name, h->head_len, c->len);
	ck_assert_str_eq(h->reason, "ok");
	ck_assert_msg(inside(h->method, h->method_len, buf, c->len), "%s: method outside", c->name);
	ck_assert_msg(inside(h->target, h->target_len, buf, c->len), "%s: target outside", c->name);
	ck_assert_msg(h->method_len == strlen(c->method) && memcmp(h->method, c->method, h->method_len) == 0,
		      "%s: method %.*s", c->name, (int)h->method_len, (const char *)h->method);
	if (c->minor >= 0)
		ck_assert_int_eq(h->version_minor, c->minor);
	if (c->path) {
		ck_assert_msg(h->path_len == strlen(c->path) && memcmp(h->path, c->path, h->path_len) == 0,
			      "%s: path %.*s", c->name, (int)h->path_len, (const char *)h->path);
		ck_assert_msg(inside(h->path, h->path_len, buf, c->len) ||
			      (h->path_len == 1 && h->path[0] == '/'), "%s: path outside", c->name);
	}
	if (c->host) {
		ck_assert_msg(h->has_host, "%s: no host", c->name);
		ck_assert_str_eq(h->host, c->host);
		ck_assert_uint_eq(h->host_len, strlen(c->host));
	} else if (c->minor >= 0) {
		ck_assert_msg(!h->has_host, "%s: host %s", c->name, h->host);
		ck_assert_uint_eq(h->host_len, 0);
	}
}

static void check_case(const struct head_case *c)
{
	size_t cap = c->cap ? c->cap : HTTP_HEAD_DEFAULT_CAP;
	struct http_head whole, h;
	uint8_t *wbuf, *buf;

	/* whole */
	enum http_head_status r = parse_tail(c->in, c->len, cap, &whole, &wbuf);

	ck_assert_msg(r == c->want, "%s: got %d (%d %s), want %d (%d)", c->name,
		      r, whole.status, whole.reason, c->want, c->status);
	ck_assert_ptr_nonnull(whole.reason);
	if (r == HTTP_HEAD_INVALID)
		ck_assert_msg(whole.status == c->status, "%s: status %d (%s), want %d",
			      c->name, whole.status, whole.reason, c->status);
	else if (r == HTTP_HEAD_DONE)
		check_done(c, &whole, wbuf);

	/* every prefix: NEED_MORE, or already the same error; each prefix sits
	 * at the end of one scratch buffer, so a read past it is still caught */
	uint8_t *scratch = malloc(c->len ? c->len : 1);

	ck_assert_ptr_nonnull(scratch);
	for (size_t k = 0; k < c->len; k++) {
		buf = scratch + c->len - k;
		memcpy(buf, c->in, k);
		enum http_head_status pr = http_head_parse(buf, k, cap, &h);

		ck_assert_msg(pr == HTTP_HEAD_NEED_MORE ||
			      (pr == HTTP_HEAD_INVALID && r == HTTP_HEAD_INVALID),
			      "%s: prefix %zu gives %d (%d %s)", c->name, k, pr, h.status, h.reason);
		if (pr == HTTP_HEAD_INVALID)
			ck_assert_msg(h.status == whole.status && strcmp(h.reason, whole.reason) == 0,
				      "%s: prefix %zu gives %d %s, whole %d %s", c->name, k,
				      h.status, h.reason, whole.status, whole.reason);

		/* the same prefix with the rest of the head after it, where a
		 * read at or past len would see real bytes (no ASan needed) */
		struct http_head h2;
		enum http_head_status pr2 = http_head_parse(c->in, k, cap, &h2);

		ck_assert_msg(pr2 == pr && h2.status == h.status, "%s: prefix %zu in place gives %d %d, alone %d %d",
			      c->name, k, pr2, h2.status, pr, h.status);
	}
	free(scratch);

	/* a body or a pipelined request after it changes nothing */
	static const struct {
		const uint8_t *in;
		size_t len;
	} extras[] = {
		{ S("GET / HTTP/1.1\r\nHost: other.example\r\n\r\n") },
		{ S("\0\xff\r\n\r\n") },
		{ S("\r\n") },
		{ S("hello") },
	};
	for (size_t e = 0; r != HTTP_HEAD_NEED_MORE && e < sizeof(extras) / sizeof(extras[0]); e++) {
		size_t xl = extras[e].len;
		uint8_t *more = malloc(c->len + xl);

		ck_assert_ptr_nonnull(more);
		memcpy(more, c->in, c->len);
		memcpy(more + c->len, extras[e].in, xl);
		enum http_head_status er = parse_tail(more, c->len + xl, cap, &h, &buf);

		ck_assert_msg(er == r, "%s: with extra %zu gives %d", c->name, e, er);
		same_answer(c->name, &whole, wbuf, &h, buf);
		free(buf);
		free(more);
	}
	free(wbuf);
}

/* one test for the table: a fork per case costs ~50 ms under ASan; every
 * message names its case */
START_TEST(test_cases)
{
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		check_case(&cases[i]);
}
END_TEST

/* A head of n bytes: a request line, a Host and one long field. */
static uint8_t *big_head(size_t n, size_t *len)
{
	static const char pre[] = REQ11 HOST_A "X-Big: ";
	uint8_t *b = malloc(n);

	ck_assert_ptr_nonnull(b);
	ck_assert_uint_gt(n, sizeof(pre) + 4);
	memcpy(b, pre, sizeof(pre) - 1);
	memset(b + sizeof(pre) - 1, 'v', n - (sizeof(pre) - 1) - 4);
	memcpy(b + n - 4, "\r\n\r\n", 4);
	*len = n;
	return b;
}

/* the default cap, at every prefix too: exactly at the cap is fine */
START_TEST(test_default_cap)
{
	size_t len;
	uint8_t *b = big_head(HTTP_HEAD_DEFAULT_CAP, &len);
	struct head_case c = {
		"default cap exact", b, len, 0, HTTP_HEAD_DONE, 0, "GET", "/", "a.example", 1,
	};

	check_case(&c);
	free(b);

	b = big_head(HTTP_HEAD_DEFAULT_CAP + 1, &len);
	c = (struct head_case){ "default cap + 1", b, len, 0, HTTP_HEAD_INVALID, 431, NULL, NULL, NULL, 0 };
	check_case(&c);
	free(b);
}
END_TEST

/* a 20000-byte target is 414 once the cap is reached, before the line ends */
START_TEST(test_long_target)
{
	size_t n = 20000;
	uint8_t *b = malloc(n);

	ck_assert_ptr_nonnull(b);
	memcpy(b, "GET /", 5);
	memset(b + 5, 'a', n - 5);

	struct head_case c = { "long target", b, n, 0, HTTP_HEAD_INVALID, 414, NULL, NULL, NULL, 0 };

	check_case(&c);
	free(b);
}
END_TEST

/* a Host of 253 bytes routes; 254 is 400 */
START_TEST(test_long_host)
{
	char in[600], name[300];
	struct http_head h;

	for (size_t n = 250; n <= 256; n++) {
		/* labels of 49 bytes and dots */
		for (size_t i = 0; i < n; i++)
			name[i] = (i % 50 == 49) ? '.' : (char)('a' + i % 26);
		name[n] = '\0';
		int len = snprintf(in, sizeof(in), "GET / HTTP/1.1\r\nHost: %s\r\n\r\n", name);
		enum http_head_status r = http_head_parse((const uint8_t *)in, (size_t)len, HTTP_HEAD_DEFAULT_CAP, &h);
		bool dot_end = name[n - 1] == '.';
		size_t eff = dot_end ? n - 1 : n;

		if (eff <= HOSTNAME_MAX) {
			ck_assert_msg(r == HTTP_HEAD_DONE, "%zu: %d %s", n, h.status, h.reason);
			ck_assert_uint_eq(h.host_len, eff);
			ck_assert_int_eq(memcmp(h.host, name, eff), 0);
		} else {
			ck_assert_int_eq(r, HTTP_HEAD_INVALID);
			ck_assert_int_eq(h.status, 400);
		}
	}
}
END_TEST

/*
 * acme_challenge(): what redirect-https still routes. Each head is complete
 * and parses; the table says whether it is a challenge. Every rule of
 * acme_challenge.h is broken once, and every class of the token alphabet
 * is tried at both edges and just outside them.
 */
#define TOK "LoqXcYV8q5ONbJQxbmR7SCTNo3tiAXDfowyjxAjEuX0"
#define ACME "/.well-known/acme-challenge/"
#define ACME_GET(t) "GET " ACME t " HTTP/1.1\r\n" HOST_A "\r\n"

static const struct {
	const char *head;
	bool want;
} acme_cases[] = {
	{ ACME_GET(TOK), true },
	{ "HEAD " ACME TOK " HTTP/1.1\r\n" HOST_A "\r\n", true },
	{ "GET " ACME TOK " HTTP/1.0\r\n\r\n", true },
	{ "GET http://a.example" ACME TOK " HTTP/1.1\r\n" HOST_A "\r\n", true },
	{ "GET hTTP://a.example:80" ACME TOK " HTTP/1.1\r\n\r\n", true },
	{ "GET " ACME TOK " HTTP/1.1\r\n" HOST_A "Content-Length: 0\r\n\r\n", true },
	/* the alphabet's edges: A Z a z 0 9 - _ */
	{ ACME_GET("A"), true }, { ACME_GET("Z"), true }, { ACME_GET("a"), true },
	{ ACME_GET("z"), true }, { ACME_GET("0"), true }, { ACME_GET("9"), true },
	{ ACME_GET("-"), true }, { ACME_GET("_"), true },
	/* just outside: @ [ ` { / : and the rest of the usual suspects */
	{ ACME_GET("@"), false }, { ACME_GET("["), false }, { ACME_GET("`"), false },
	{ ACME_GET("{"), false }, { ACME_GET("x/"), false }, { ACME_GET(":"), false },
	{ ACME_GET(","), false }, { ACME_GET("."), false }, { ACME_GET("="), false },
	{ ACME_GET("tok="), false }, { ACME_GET("+"), false }, { ACME_GET("~"), false },
	{ ACME_GET("^"), false }, { ACME_GET("!"), false },
	/* traversal, encoding, more segments, query, fragment */
	{ ACME_GET("../../admin"), false },
	{ ACME_GET("%2e%2e/%2e%2e/admin"), false },
	{ ACME_GET("%41"), false },
	{ ACME_GET("tok.en"), false },
	{ ACME_GET(".."), false },
	{ ACME_GET("a/b"), false },
	{ ACME_GET("/" TOK), false },
	{ ACME_GET(TOK "?x=1"), false },
	{ ACME_GET(TOK "?"), false },
	{ ACME_GET(TOK "#f"), false },
	{ ACME_GET(""), false },
	{ "GET /.well-known/acme-challenge HTTP/1.1\r\n" HOST_A "\r\n", false },
	{ "GET /.well-known/acme-challengeX HTTP/1.1\r\n" HOST_A "\r\n", false },
	{ "GET /" ACME TOK " HTTP/1.1\r\n" HOST_A "\r\n", false },
	{ "GET /.Well-Known/acme-challenge/" TOK " HTTP/1.1\r\n" HOST_A "\r\n", false },
	{ "GET /x" ACME TOK " HTTP/1.1\r\n" HOST_A "\r\n", false },
	/* methods: GET and HEAD only, case-sensitive */
	{ "POST " ACME TOK " HTTP/1.1\r\n" HOST_A "Content-Length: 0\r\n\r\n", false },
	{ "PUT " ACME TOK " HTTP/1.1\r\n" HOST_A "\r\n", false },
	{ "get " ACME TOK " HTTP/1.1\r\n" HOST_A "\r\n", false },
	{ "GETX " ACME TOK " HTTP/1.1\r\n" HOST_A "\r\n", false },
	{ "GE " ACME TOK " HTTP/1.1\r\n" HOST_A "\r\n", false },
	{ "HEADS " ACME TOK " HTTP/1.1\r\n" HOST_A "\r\n", false },
	{ "OPTIONS " ACME TOK " HTTP/1.1\r\n" HOST_A "\r\n", false },
	/* a body would follow the head to the backend */
	{ "GET " ACME TOK " HTTP/1.1\r\n" HOST_A "Content-Length: 1\r\n\r\n", false },
	{ "GET " ACME TOK " HTTP/1.1\r\n" HOST_A "Transfer-Encoding: chunked\r\n\r\n", false },
	/* absolute-form: http only */
	{ "GET https://a.example" ACME TOK " HTTP/1.1\r\n" HOST_A "\r\n", false },
	{ "GET http://a.example/" ACME TOK " HTTP/1.1\r\n" HOST_A "\r\n", false },
	{ "GET http://a.example" ACME TOK "/ HTTP/1.1\r\n" HOST_A "\r\n", false },
	{ "GET http://a.example HTTP/1.1\r\n" HOST_A "\r\n", false },
	{ "OPTIONS * HTTP/1.1\r\n" HOST_A "\r\n", false },
};

START_TEST(test_acme)
{
	for (size_t i = 0; i < sizeof(acme_cases) / sizeof(acme_cases[0]); i++) {
		const char *in = acme_cases[i].head;
		struct http_head h;
		enum http_head_status r = http_head_parse((const uint8_t *)in, strlen(in),
							  HTTP_HEAD_DEFAULT_CAP, &h);

		ck_assert_msg(r == HTTP_HEAD_DONE, "acme case %zu: %d %s", i, h.status, h.reason);
		ck_assert_msg(acme_challenge(&h) == acme_cases[i].want, "acme case %zu (%s): want %d",
			      i, in, acme_cases[i].want);
	}
}
END_TEST

/* reasons and forms the status alone does not tell apart */
START_TEST(test_reasons_forms)
{
	static const struct {
		const char *head;
		const char *reason;
		enum http_target_form form;
	} c[] = {
		{ "GET http:// HTTP/1.1\r\n\r\n", "empty authority in target", 0 },
		{ "GET https:// HTTP/1.1\r\n\r\n", "empty authority in target", 0 },
		{ "GET http:/ HTTP/1.1\r\n\r\n", "bad target form", 0 },
		{ "GET https:/x HTTP/1.1\r\n\r\n", "bad target form", 0 },
		{ "GET http://a.example/x HTTP/1.1\r\nHost: b.example\r\n\r\n", "host differs from target", 0 },
		{ "GET / HTTP/1.1\r\n" HOST_A "\r\n", "ok", HTTP_TARGET_ORIGIN },
		{ "OPTIONS * HTTP/1.1\r\n" HOST_A "\r\n", "ok", HTTP_TARGET_ASTERISK },
		{ "GET hTTp://a.example/ HTTP/1.1\r\n\r\n", "ok", HTTP_TARGET_ABSOLUTE_HTTP },
		{ "GET http://a HTTP/1.1\r\n\r\n", "ok", HTTP_TARGET_ABSOLUTE_HTTP },
		{ "GET HTTPS://a.example/ HTTP/1.1\r\n\r\n", "ok", HTTP_TARGET_ABSOLUTE_HTTPS },
		{ "GET https://a HTTP/1.1\r\n\r\n", "ok", HTTP_TARGET_ABSOLUTE_HTTPS },
	};
	for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		struct http_head h;
		enum http_head_status r = http_head_parse((const uint8_t *)c[i].head, strlen(c[i].head),
							  HTTP_HEAD_DEFAULT_CAP, &h);

		ck_assert_msg(strcmp(h.reason, c[i].reason) == 0, "%s: reason %s, want %s", c[i].head,
			      h.reason, c[i].reason);
		if (r == HTTP_HEAD_DONE)
			ck_assert_msg(h.form == c[i].form, "%s: form %d", c[i].head, h.form);
	}
}
END_TEST

/* has_body: what acme_challenge() relies on */
START_TEST(test_has_body)
{
	static const struct {
		const char *head;
		bool body;
	} c[] = {
		{ REQ11 HOST_A "\r\n", false },
		{ REQ11 HOST_A "Content-Length: 0\r\n\r\n", false },
		{ REQ11 HOST_A "Content-Length: 00\r\n\r\n", false },
		{ REQ11 HOST_A "Content-Length: 1\r\n\r\n", true },
		{ REQ11 HOST_A "Transfer-Encoding: chunked\r\n\r\n", true },
	};
	for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		struct http_head h;

		ck_assert_int_eq(http_head_parse((const uint8_t *)c[i].head, strlen(c[i].head),
						 HTTP_HEAD_DEFAULT_CAP, &h), HTTP_HEAD_DONE);
		ck_assert_msg(h.has_body == c[i].body, "has_body case %zu", i);
	}
}
END_TEST

/*
 * Character classes at both edges: every byte in each place the parser
 * sorts bytes by class, against sets spelled out byte by byte here.
 */
static const char alnum_set[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
static const char tchar_extra[] = "!#$%&'*+-.^_`|~";	/* RFC 9110 §5.6.2 */

static bool byte_in(int c, const char *set)
{
	return c != 0 && strchr(set, c) != NULL;
}

static bool ref_tchar(int c)
{
	return byte_in(c, alnum_set) || byte_in(c, tchar_extra);
}

/* head = pre c post; parse it whole */
static enum http_head_status parse_with(const char *pre, int c, const char *post, struct http_head *h)
{
	char buf[256];
	size_t a = strlen(pre), b = strlen(post);

	ck_assert_uint_lt(a + 1 + b, sizeof(buf));
	memcpy(buf, pre, a);
	buf[a] = (char)c;
	memcpy(buf + a + 1, post, b);
	return http_head_parse((const uint8_t *)buf, a + 1 + b, HTTP_HEAD_DEFAULT_CAP, h);
}

START_TEST(test_byte_classes)
{
	for (int c = 0; c < 256; c++) {
		struct http_head h;
		enum http_head_status r;

		/* method: tchar only */
		r = parse_with("G", c, "T / HTTP/1.1\r\n" HOST_A "\r\n", &h);
		ck_assert_msg((r == HTTP_HEAD_DONE) == ref_tchar(c), "method G\\x%02xT: %d", c, r);

		/* field name: tchar only (':' ends the name early: "X:Y: v") */
		r = parse_with(REQ11 HOST_A "X", c, "Y: v\r\n\r\n", &h);
		ck_assert_msg((r == HTTP_HEAD_DONE) == (ref_tchar(c) || c == ':'), "name X\\x%02xY: %d", c, r);

		/* target: VCHAR, 0x21-0x7e (a space ends it early: 400) */
		r = parse_with("GET /a", c, "b HTTP/1.1\r\n" HOST_A "\r\n", &h);
		ck_assert_msg((r == HTTP_HEAD_DONE) == (c >= 0x21 && c <= 0x7e), "target /a\\x%02xb: %d", c, r);

		/* field value: HTAB, SP, VCHAR, obs-text; not CTL, not DEL */
		r = parse_with(REQ11 HOST_A "X: a", c, "b\r\n\r\n", &h);
		ck_assert_msg((r == HTTP_HEAD_DONE) == (c == '\t' || (c >= 0x20 && c != 0x7f)),
			      "value a\\x%02xb: %d", c, r);

		/* OWS before a value is trimmed: SP and HTAB only */
		r = parse_with(REQ11 "Host:", c, "a.example\r\n\r\n", &h);
		if (c == ' ' || c == '\t') {
			ck_assert_int_eq(r, HTTP_HEAD_DONE);
			ck_assert_str_eq(h.host, "a.example");
		} else if (r == HTTP_HEAD_DONE) {
			/* the byte became part of the name */
			ck_assert_msg(h.host_len == 10, "ows \\x%02x trimmed: %s", c, h.host);
		}

		/* Host: the hostname classes, as the listener routes them */
		r = parse_with(REQ11 "Host: x", c, "y\r\n\r\n", &h);
		bool host_ok = byte_in(c, alnum_set) || c == '-' || c == '_' || c == '.';
		ck_assert_msg((r == HTTP_HEAD_DONE) == host_ok, "Host x\\x%02xy: %d", c, r);
		if (host_ok) {
			char want[4] = { 'x', (char)(byte_in(c, "ABCDEFGHIJKLMNOPQRSTUVWXYZ") ? c + 32 : c),
					 'y', '\0' };
			ck_assert_str_eq(h.host, want);
		} else {
			ck_assert_int_eq(h.status, 400);
		}

		/* Content-Length: digits only */
		r = parse_with("POST / HTTP/1.1\r\n" HOST_A "Content-Length: 1", c, "\r\n\r\n", &h);
		/* trailing OWS is trimmed; an LF ends the line (then the blank one) */
		ck_assert_msg((r == HTTP_HEAD_DONE) == byte_in(c, "0123456789 \t\n"), "cl 1\\x%02x: %d", c, r);
		r = parse_with("POST / HTTP/1.1\r\n" HOST_A "Content-Length: ", c, "\r\n\r\n", &h);
		ck_assert_msg((r == HTTP_HEAD_DONE) == byte_in(c, "0123456789"), "cl \\x%02x: %d", c, r);
		if (r == HTTP_HEAD_DONE)
			ck_assert_int_eq(h.has_body, c != '0');

		/* version: major 1 only (other digits 505), minor 0 or 1 */
		r = parse_with("GET / HTTP/", c, ".1\r\n" HOST_A "\r\n", &h);
		if (c == '1')
			ck_assert_int_eq(r, HTTP_HEAD_DONE);
		else
			ck_assert_msg(r == HTTP_HEAD_INVALID &&
				      h.status == (byte_in(c, "0123456789") ? 505 : 400),
				      "major \\x%02x: %d %d", c, r, h.status);
		r = parse_with("GET / HTTP/1.", c, "\r\n" HOST_A "\r\n", &h);
		if (c == '0' || c == '1') {
			ck_assert_int_eq(r, HTTP_HEAD_DONE);
			ck_assert_int_eq(h.version_minor, c - '0');
		} else {
			ck_assert_msg(r == HTTP_HEAD_INVALID &&
				      h.status == (byte_in(c, "0123456789") ? 505 : 400),
				      "minor \\x%02x: %d %d", c, r, h.status);
		}
	}
}
END_TEST

/* header names and the scheme match in any case, each letter both ways */
START_TEST(test_name_case)
{
	static const char *const heads[] = {
		"POST / HTTP/1.1\r\nHOST: a.example\r\nCONTENT-LENGTH: 5\r\nTRANSFER-ENCODING: chunked\r\n\r\n",
		"POST / HTTP/1.1\r\nhost: a.example\r\ncontent-length: 5\r\ntransfer-encoding: chunked\r\n\r\n",
		"POST / HTTP/1.1\r\nHoSt: a.example\r\nContent-LENGTH: 5\r\nTrAnSfEr-EnCoDiNg: chunked\r\n\r\n",
	};
	for (size_t i = 0; i < sizeof(heads) / sizeof(heads[0]); i++) {
		struct http_head h;

		/* recognised: both framings at once is 400 */
		ck_assert_int_eq(http_head_parse((const uint8_t *)heads[i], strlen(heads[i]),
						 HTTP_HEAD_DEFAULT_CAP, &h), HTTP_HEAD_INVALID);
		ck_assert_str_eq(h.reason, "content-length with transfer-encoding");
	}
	static const char *const targets[] = {
		"GET HTTP://A.EXAMPLE/ HTTP/1.1\r\n\r\n", "GET http://a.example/ HTTP/1.1\r\n\r\n",
		"GET HTTPS://A.EXAMPLE/ HTTP/1.1\r\n\r\n", "GET hTtPs://a.example/ HTTP/1.1\r\n\r\n",
	};
	for (size_t i = 0; i < sizeof(targets) / sizeof(targets[0]); i++) {
		struct http_head h;

		ck_assert_int_eq(http_head_parse((const uint8_t *)targets[i], strlen(targets[i]),
						 HTTP_HEAD_DEFAULT_CAP, &h), HTTP_HEAD_DONE);
		ck_assert_str_eq(h.host, "a.example");
	}
}
END_TEST

Suite *make_http_head_suite(void)
{
	Suite *s = suite_create("http_head");
	TCase *tc = tcase_create("parse");

	tcase_add_test(tc, test_cases);
	tcase_add_test(tc, test_long_host);
	suite_add_tcase(s, tc);

	tc = tcase_create("acme");
	tcase_add_test(tc, test_acme);
	tcase_add_test(tc, test_has_body);
	suite_add_tcase(s, tc);

	tc = tcase_create("classes");
	tcase_add_test(tc, test_byte_classes);
	tcase_add_test(tc, test_name_case);
	tcase_add_test(tc, test_reasons_forms);
	suite_add_tcase(s, tc);

	tc = tcase_create("cap");
	/* every prefix of a 16 KiB head: a second or two under ASan */
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_default_cap);
	tcase_add_test(tc, test_long_target);
	suite_add_tcase(s, tc);
	return s;
}
