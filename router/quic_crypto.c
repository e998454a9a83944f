/* SPDX-License-Identifier: MIT */
/*
 * QUIC Initial keys and packet protection with libcrypto EVP.
 *
 * HKDF is written out over HMAC-SHA256 rather than through EVP_KDF: every
 * output here is at most one hash long, so HKDF-Expand is a single HMAC of
 * info || 0x01, and one HMAC context re-keyed per call avoids building
 * OSSL_PARAM arrays on the per-flow path.
 */
#include <stdlib.h>
#include <string.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include "router/quic_crypto.h"

struct quic_crypto {
	EVP_MAC *hmac;
	EVP_MAC_CTX *hmac_ctx;
	EVP_CIPHER *ecb;
	EVP_CIPHER *gcm;
	EVP_CIPHER_CTX *ecb_ctx;
	EVP_CIPHER_CTX *gcm_ctx;
	uint8_t scratch[QUIC_MAX_DATAGRAM];
};

/* RFC 9001 §5.2 */
static const uint8_t salt_v1[20] = {
	0x38, 0x76, 0x2c, 0xf7, 0xf5, 0x59, 0x34, 0xb3, 0x4d, 0x17,
	0x9a, 0xe6, 0xa4, 0xc8, 0x0c, 0xad, 0xcc, 0xbb, 0x7f, 0x0a,
};
/* RFC 9369 §3.3.1 */
static const uint8_t salt_v2[20] = {
	0x0d, 0xed, 0xe3, 0xde, 0xf7, 0x00, 0xa6, 0xdb, 0x81, 0x93,
	0x81, 0xbe, 0x6e, 0x26, 0x9d, 0xcb, 0xf9, 0xbd, 0x2e, 0xd9,
};

struct version_labels {
	const char *key, *iv, *hp;
};

static const struct version_labels labels_v1 = { "quic key", "quic iv", "quic hp" };
static const struct version_labels labels_v2 = { "quicv2 key", "quicv2 iv", "quicv2 hp" };

bool quic_version_supported(uint32_t version)
{
	return version == QUIC_VERSION_1 || version == QUIC_VERSION_2;
}

struct quic_crypto *quic_crypto_new(void)
{
	struct quic_crypto *c = calloc(1, sizeof(*c));
	char digest[] = "SHA256";
	OSSL_PARAM params[] = {
		OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
		OSSL_PARAM_construct_end(),
	};

	if (!c)
		return NULL;
	/* no cleanup at exit: it takes locks (futex), and a sandboxed daemon's
	 * filter refuses them; the process is ending anyway. Only the first
	 * initialisation's flags count, so this comes before any other use. */
	OPENSSL_init_crypto(OPENSSL_INIT_NO_ATEXIT, NULL);
	c->hmac = EVP_MAC_fetch(NULL, "HMAC", NULL);
	c->ecb = EVP_CIPHER_fetch(NULL, "AES-128-ECB", NULL);
	c->gcm = EVP_CIPHER_fetch(NULL, "AES-128-GCM", NULL);
	c->ecb_ctx = EVP_CIPHER_CTX_new();
	c->gcm_ctx = EVP_CIPHER_CTX_new();
	if (!c->hmac || !c->ecb || !c->gcm || !c->ecb_ctx || !c->gcm_ctx)
		goto fail;
	c->hmac_ctx = EVP_MAC_CTX_new(c->hmac);
	if (!c->hmac_ctx || !EVP_MAC_CTX_set_params(c->hmac_ctx, params))
		goto fail;
	return c;
fail:
	quic_crypto_free(c);
	return NULL;
}

void quic_crypto_free(struct quic_crypto *c)
{
	if (!c)
		return;
	EVP_MAC_CTX_free(c->hmac_ctx);
	EVP_MAC_free(c->hmac);
	EVP_CIPHER_CTX_free(c->ecb_ctx);
	EVP_CIPHER_CTX_free(c->gcm_ctx);
	EVP_CIPHER_free(c->ecb);
	EVP_CIPHER_free(c->gcm);
	free(c);
}

uint8_t *quic_crypto_scratch(struct quic_crypto *c)
{
	return c->scratch;
}

/* HMAC-SHA256(key, a || b) */
static bool hmac2(struct quic_crypto *c, const uint8_t *key, size_t key_len,
		  const uint8_t *a, size_t a_len, const uint8_t *b, size_t b_len,
		  uint8_t out[QUIC_SECRET_LEN])
{
	size_t out_len = 0;

	if (!EVP_MAC_init(c->hmac_ctx, key, key_len, NULL) ||
	    !EVP_MAC_update(c->hmac_ctx, a, a_len) ||
	    (b_len && !EVP_MAC_update(c->hmac_ctx, b, b_len)) ||
	    !EVP_MAC_final(c->hmac_ctx, out, &out_len, QUIC_SECRET_LEN))
		return false;
	return out_len == QUIC_SECRET_LEN;
}

/* HKDF-Expand-Label(secret, label, "", len) for len <= 32 (RFC 8446 §7.1):
 * info = uint16 len || uint8 (6 + |label|) || "tls13 " label || uint8 0 */
static bool expand_label(struct quic_crypto *c, const uint8_t secret[QUIC_SECRET_LEN],
			 const char *label, uint8_t *out, size_t len)
{
	uint8_t info[2 + 1 + 6 + 32 + 1 + 1], t[QUIC_SECRET_LEN];
	size_t llen = strlen(label), n = 0;

	if (llen > 32 || len > QUIC_SECRET_LEN)
		return false;
	info[n++] = (uint8_t)(len >> 8);
	info[n++] = (uint8_t)len;
	info[n++] = (uint8_t)(6 + llen);
	memcpy(info + n, "tls13 ", 6);
	n += 6;
	memcpy(info + n, label, llen);
	n += llen;
	info[n++] = 0;		/* empty context */
	info[n++] = 1;		/* HKDF-Expand's counter for the first block */
	if (!hmac2(c, secret, QUIC_SECRET_LEN, info, n, NULL, 0, t))
		return false;
	memcpy(out, t, len);
	return true;
}

bool quic_initial_secret(struct quic_crypto *c, uint32_t version, const uint8_t *dcid,
			 size_t dcid_len, bool server, uint8_t secret[QUIC_SECRET_LEN])
{
	const uint8_t *salt;
	uint8_t prk[QUIC_SECRET_LEN];

	if (version == QUIC_VERSION_1)
		salt = salt_v1;
	else if (version == QUIC_VERSION_2)
		salt = salt_v2;
	else
		return false;
	/* HKDF-Extract(salt, dcid) = HMAC(salt, dcid); an empty DCID is
	 * legal on the wire (servers reject it later, RFC 9000 §7.2) */
	if (!hmac2(c, salt, sizeof(salt_v1), dcid, dcid_len, NULL, 0, prk))
		return false;
	return expand_label(c, prk, server ? "server in" : "client in", secret,
			    QUIC_SECRET_LEN);
}

bool quic_keys_from_secret(struct quic_crypto *c, uint32_t version,
			   const uint8_t secret[QUIC_SECRET_LEN], struct quic_keys *out)
{
	const struct version_labels *l;

	if (version == QUIC_VERSION_1)
		l = &labels_v1;
	else if (version == QUIC_VERSION_2)
		l = &labels_v2;
	else
		return false;
	return expand_label(c, secret, l->key, out->key, QUIC_KEY_LEN) &&
	       expand_label(c, secret, l->iv, out->iv, QUIC_IV_LEN) &&
	       expand_label(c, secret, l->hp, out->hp, QUIC_KEY_LEN);
}

bool quic_initial_keys(struct quic_crypto *c, uint32_t version, const uint8_t *dcid,
		       size_t dcid_len, bool server, struct quic_keys *out)
{
	uint8_t secret[QUIC_SECRET_LEN];

	return quic_initial_secret(c, version, dcid, dcid_len, server, secret) &&
	       quic_keys_from_secret(c, version, secret, out);
}

bool quic_hp_mask(struct quic_crypto *c, const uint8_t hp[QUIC_KEY_LEN],
		  const uint8_t sample[QUIC_SAMPLE_LEN], uint8_t mask[5])
{
	uint8_t block[QUIC_SAMPLE_LEN + 16];
	int n = 0;

	if (!EVP_EncryptInit_ex2(c->ecb_ctx, c->ecb, hp, NULL, NULL) ||
	    !EVP_CIPHER_CTX_set_padding(c->ecb_ctx, 0) ||
	    !EVP_EncryptUpdate(c->ecb_ctx, block, &n, sample, QUIC_SAMPLE_LEN) ||
	    n != QUIC_SAMPLE_LEN)
		return false;
	memcpy(mask, block, 5);
	return true;
}

void quic_nonce(const struct quic_keys *k, uint64_t pn, uint8_t nonce[QUIC_IV_LEN])
{
	memcpy(nonce, k->iv, QUIC_IV_LEN);
	for (size_t i = 0; i < 8; i++)
		nonce[QUIC_IV_LEN - 1 - i] ^= (uint8_t)(pn >> (8 * i));
}

enum quic_aead_result quic_aead_open(struct quic_crypto *c, const struct quic_keys *k,
				     uint64_t pn, const uint8_t *aad, size_t aad_len,
				     const uint8_t *ct, size_t ct_len, uint8_t *out)
{
	uint8_t nonce[QUIC_IV_LEN], tag[QUIC_TAG_LEN];
	size_t pt_len = ct_len - QUIC_TAG_LEN;
	int n = 0, fin = 0;

	if (ct_len < QUIC_TAG_LEN || aad_len > INT32_MAX || ct_len > INT32_MAX)
		return QUIC_AEAD_LIB_ERROR;
	quic_nonce(k, pn, nonce);
	memcpy(tag, ct + pt_len, QUIC_TAG_LEN);
	if (!EVP_DecryptInit_ex2(c->gcm_ctx, c->gcm, k->key, nonce, NULL) ||
	    !EVP_DecryptUpdate(c->gcm_ctx, NULL, &n, aad, (int)aad_len) ||
	    (pt_len && !EVP_DecryptUpdate(c->gcm_ctx, out, &n, ct, (int)pt_len)) ||
	    !EVP_CIPHER_CTX_ctrl(c->gcm_ctx, EVP_CTRL_AEAD_SET_TAG, QUIC_TAG_LEN, tag))
		return QUIC_AEAD_LIB_ERROR;
	/* the only failure left is a tag mismatch */
	if (EVP_DecryptFinal_ex(c->gcm_ctx, out + pt_len, &fin) != 1)
		return QUIC_AEAD_FORGED;
	return QUIC_AEAD_OK;
}

bool quic_aead_seal(struct quic_crypto *c, const struct quic_keys *k, uint64_t pn,
		    const uint8_t *aad, size_t aad_len, const uint8_t *pt, size_t pt_len,
		    uint8_t *out)
{
	uint8_t nonce[QUIC_IV_LEN];
	int n = 0, fin = 0;

	if (aad_len > INT32_MAX || pt_len > INT32_MAX)
		return false;
	quic_nonce(k, pn, nonce);
	return EVP_EncryptInit_ex2(c->gcm_ctx, c->gcm, k->key, nonce, NULL) &&
	       EVP_EncryptUpdate(c->gcm_ctx, NULL, &n, aad, (int)aad_len) &&
	       (pt_len == 0 || EVP_EncryptUpdate(c->gcm_ctx, out, &n, pt, (int)pt_len)) &&
	       EVP_EncryptFinal_ex(c->gcm_ctx, out + pt_len, &fin) &&
	       EVP_CIPHER_CTX_ctrl(c->gcm_ctx, EVP_CTRL_AEAD_GET_TAG, QUIC_TAG_LEN,
				   out + pt_len);
}
