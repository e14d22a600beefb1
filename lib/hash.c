/*
 * hash.c - streaming SHA-256 over OpenSSL EVP (hash.h).
 *
 * One EVP_MD_CTX per dsck_sha256; contexts are independent, so different
 * threads may hash with different contexts at the same time.
 */
#include "hash.h"

#include <openssl/evp.h>
#include <stdio.h>

enum dsck_err dsck_sha256_init(struct dsck_sha256 *h, struct dsck_error *err)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	h->ctx = NULL;
	if (!ctx)
		return dsck_error_set(err, DSCK_E_NOMEM, "SHA-256 context");
	if (EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1) {
		EVP_MD_CTX_free(ctx);
		return dsck_error_set(err, DSCK_E_IO, "SHA-256 init failed");
	}
	h->ctx = ctx;
	return DSCK_OK;
}

enum dsck_err dsck_sha256_update(struct dsck_sha256 *h, const void *buf, size_t n,
				 struct dsck_error *err)
{
	if (!h->ctx)
		return dsck_error_set(err, DSCK_E_IO, "SHA-256 update on a released hash");
	if (n == 0)
		return DSCK_OK;
	if (EVP_DigestUpdate(h->ctx, buf, n) != 1)
		return dsck_error_set(err, DSCK_E_IO, "SHA-256 update failed");
	return DSCK_OK;
}

enum dsck_err dsck_sha256_final(struct dsck_sha256 *h, char hex[DSCK_SHA256_HEX],
				struct dsck_error *err)
{
	static const char digits[] = "0123456789abcdef";
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int len = 0;
	enum dsck_err rc = DSCK_OK;

	hex[0] = '\0';
	if (!h->ctx)
		return dsck_error_set(err, DSCK_E_IO, "SHA-256 final on a released hash");
	if (EVP_DigestFinal_ex(h->ctx, md, &len) != 1 || len != 32) {
		rc = dsck_error_set(err, DSCK_E_IO, "SHA-256 final failed");
		goto out;
	}
	for (unsigned i = 0; i < 32; i++) {
		hex[2 * i] = digits[md[i] >> 4];
		hex[2 * i + 1] = digits[md[i] & 15];
	}
	hex[64] = '\0';
out:
	dsck_sha256_release(h);
	return rc;
}

void dsck_sha256_release(struct dsck_sha256 *h)
{
	if (h && h->ctx) {
		EVP_MD_CTX_free(h->ctx);
		h->ctx = NULL;
	}
}

enum dsck_err dsck_sha256_buf(const void *buf, size_t n, char hex[DSCK_SHA256_HEX],
			      struct dsck_error *err)
{
	struct dsck_sha256 h;
	enum dsck_err rc = dsck_sha256_init(&h, err);
	if (rc)
		return rc;
	rc = dsck_sha256_update(&h, buf, n, err);
	if (rc) {
		dsck_sha256_release(&h);
		return rc;
	}
	return dsck_sha256_final(&h, hex, err);
}
