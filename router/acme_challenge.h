/* SPDX-License-Identifier: MIT */
#pragma once
/*
 * The one plain-HTTP request `http-mode redirect-https` still routes: an
 * ACME HTTP-01 challenge as RFC 8555 §8.3 has the validator send it, and
 * nothing that merely starts like one.
 */
#include <stdbool.h>
#include "router/http_head.h"

#define ACME_CHALLENGE_PREFIX "/.well-known/acme-challenge/"

/* h is a parsed head (HTTP_HEAD_DONE). True only for: method GET or HEAD;
 * no body; target ACME_CHALLENGE_PREFIX + TOKEN in origin-form, or that
 * path after "http://authority" in absolute-form; TOKEN one or more bytes of
 * the base64url alphabet [A-Za-z0-9_-] (RFC 8555 §8.3: no '=' padding).
 * So no further '/', no dot segment, no percent-encoding, no query and no
 * fragment. */
bool acme_challenge(const struct http_head *h);
