/*
 * hash.h - streaming SHA-256 through OpenSSL's EVP interface.
 */
#ifndef DSCK_HASH_H
#define DSCK_HASH_H

#include "err.h"

#include <stddef.h>
#include <stdint.h>

#define DSCK_SHA256_HEX 65 /* 64 hex digits + NUL */

struct dsck_sha256 {
	void *ctx; /* EVP_MD_CTX, owned */
};

enum dsck_err dsck_sha256_init(struct dsck_sha256 *h, struct dsck_error *err);
enum dsck_err dsck_sha256_update(struct dsck_sha256 *h, const void *buf, size_t n,
				 struct dsck_error *err);
/* Finish into 64 lowercase hex digits + NUL, and free the context. */
enum dsck_err dsck_sha256_final(struct dsck_sha256 *h, char hex[DSCK_SHA256_HEX],
				struct dsck_error *err);
/* Free without finishing; accepts a released hash. */
void dsck_sha256_release(struct dsck_sha256 *h);

/* One-shot helper. */
enum dsck_err dsck_sha256_buf(const void *buf, size_t n, char hex[DSCK_SHA256_HEX],
			      struct dsck_error *err);

#endif
