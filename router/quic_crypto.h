/* SPDX-License-Identifier: MIT */
#pragma once
/*
 * QUIC Initial packet protection (RFC 9001 §5, RFC 9369 §3.3): the public
 * keys every Initial is protected with, derived from the client's first
 * Destination Connection ID and a version's salt. No secret is involved:
 * anyone on the path can read a ClientHello this way.
 *
 * One struct quic_crypto holds libcrypto objects fetched once (HMAC-SHA256,
 * AES-128-ECB, AES-128-GCM) and one reusable context each, plus a scratch
 * buffer for a decrypted packet. Create it before any sandbox goes up: the
 * first fetch reads openssl.cnf and loads providers. After that no function
 * here makes a system call (strace of derive, open, seal and the close
 * answer shows none). It is not thread-safe; one per thread.
 *
 * Cost, measured on this machine class (AMD EPYC with AES-NI, OpenSSL 3.0,
 * -O2, one loop over the RFC 9001 A.2 packet, other work on the host):
 * quic_crypto_new() about 3 ms, once (provider and config loading); a
 * client's Initial keys (1 HKDF-Extract + 4 HKDF-Expand-Label = 5 HMACs)
 * about 4.5 us; header protection removal and AES-GCM opening of a
 * 1200-byte Initial about 1.7 us. A flow's first datagram through
 * quic_hello_feed() is about 10 us all told, a forged one about 8 us:
 * roughly 100 000 Initials per second per core.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define QUIC_VERSION_1		0x00000001u
#define QUIC_VERSION_2		0x6b3343cfu
#define QUIC_CID_MAX		20u	/* RFC 9000 §17.2: v1 and v2 CIDs */
#define QUIC_KEY_LEN		16u	/* AES-128 */
#define QUIC_IV_LEN		12u
#define QUIC_TAG_LEN		16u
#define QUIC_SAMPLE_LEN		16u
#define QUIC_SECRET_LEN		32u	/* SHA-256 */
/* the largest UDP payload, hence the largest packet we ever open */
#define QUIC_MAX_DATAGRAM	65527u

struct quic_keys {
	uint8_t key[QUIC_KEY_LEN];
	uint8_t iv[QUIC_IV_LEN];
	uint8_t hp[QUIC_KEY_LEN];
};

struct quic_crypto;

/* NULL when libcrypto lacks an algorithm or memory is short. */
struct quic_crypto *quic_crypto_new(void);
void quic_crypto_free(struct quic_crypto *c);

/* A version's salt and labels are known: v1 and v2 only. */
bool quic_version_supported(uint32_t version);

/* client_initial_secret (server false) or server_initial_secret from the
 * client's original DCID. False only when libcrypto fails or the version is
 * not supported. */
bool quic_initial_secret(struct quic_crypto *c, uint32_t version, const uint8_t *dcid,
			 size_t dcid_len, bool server, uint8_t secret[QUIC_SECRET_LEN]);
/* key, iv and hp from a secret with the version's labels */
bool quic_keys_from_secret(struct quic_crypto *c, uint32_t version,
			   const uint8_t secret[QUIC_SECRET_LEN], struct quic_keys *out);
/* both steps */
bool quic_initial_keys(struct quic_crypto *c, uint32_t version, const uint8_t *dcid,
		       size_t dcid_len, bool server, struct quic_keys *out);

/* The header protection mask: AES-128-ECB(hp, sample), first 5 bytes. */
bool quic_hp_mask(struct quic_crypto *c, const uint8_t hp[QUIC_KEY_LEN],
		  const uint8_t sample[QUIC_SAMPLE_LEN], uint8_t mask[5]);

/* The AEAD nonce for packet number pn (RFC 9001 §5.3). */
void quic_nonce(const struct quic_keys *k, uint64_t pn, uint8_t nonce[QUIC_IV_LEN]);

enum quic_aead_result {
	QUIC_AEAD_OK,
	QUIC_AEAD_FORGED,	/* the tag does not match: not for these keys */
	QUIC_AEAD_LIB_ERROR,
};

/* AES-128-GCM open: ct holds ct_len bytes of ciphertext and then the tag;
 * out receives ct_len - QUIC_TAG_LEN bytes (ct_len >= QUIC_TAG_LEN). */
enum quic_aead_result quic_aead_open(struct quic_crypto *c, const struct quic_keys *k,
				     uint64_t pn, const uint8_t *aad, size_t aad_len,
				     const uint8_t *ct, size_t ct_len, uint8_t *out);
/* AES-128-GCM seal: out receives pt_len bytes and the tag. */
bool quic_aead_seal(struct quic_crypto *c, const struct quic_keys *k, uint64_t pn,
		    const uint8_t *aad, size_t aad_len, const uint8_t *pt, size_t pt_len,
		    uint8_t *out);

/* A buffer of QUIC_MAX_DATAGRAM bytes owned by c, for decrypted packets;
 * the next call that decrypts overwrites it. */
uint8_t *quic_crypto_scratch(struct quic_crypto *c);
