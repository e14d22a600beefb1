/*
 * test_hash.c - SHA-256 (hash.h) against the FIPS 180-2 known answers, and
 * streaming in uneven chunks equal to one-shot hashing.
 */
#include "hash.h"
#include "../test.h"

#include <stdlib.h>
#include <string.h>

#define SHA_EMPTY "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
#define SHA_ABC "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
#define SHA_MILLION_A "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0"
#define SHA_448 "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"

int main(void)
{
	struct dsck_error err;
	char hex[DSCK_SHA256_HEX];
	struct dsck_sha256 h;

	dsck_error_clear(&err);
	CHECK(dsck_sha256_buf("", 0, hex, &err) == DSCK_OK && strcmp(hex, SHA_EMPTY) == 0,
	      "sha256(\"\") known answer");
	CHECK(dsck_sha256_buf("abc", 3, hex, &err) == DSCK_OK && strcmp(hex, SHA_ABC) == 0,
	      "sha256(\"abc\") known answer");
	const char *m448 = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
	CHECK(dsck_sha256_buf(m448, strlen(m448), hex, &err) == DSCK_OK &&
	      strcmp(hex, SHA_448) == 0, "sha256 of the 448-bit message");

	/* One million 'a', streamed in chunks of 1000. */
	char chunk[1000];
	memset(chunk, 'a', sizeof chunk);
	int ok = dsck_sha256_init(&h, &err) == DSCK_OK;
	for (int i = 0; ok && i < 1000; i++)
		ok = dsck_sha256_update(&h, chunk, sizeof chunk, &err) == DSCK_OK;
	ok = ok && dsck_sha256_final(&h, hex, &err) == DSCK_OK;
	CHECK(ok && strcmp(hex, SHA_MILLION_A) == 0, "sha256 of 10^6 'a' in 1000-byte chunks");
	CHECK(h.ctx == NULL, "final frees the context");

	/* The same million one-shot. */
	char *big = malloc(1000000);
	CHECK(big != NULL, "allocate 1 MB");
	if (big) {
		memset(big, 'a', 1000000);
		CHECK(dsck_sha256_buf(big, 1000000, hex, &err) == DSCK_OK &&
		      strcmp(hex, SHA_MILLION_A) == 0, "sha256 of 10^6 'a' one-shot");
		free(big);
	}

	/* Uneven chunk sizes, including zero-length updates. */
	static const size_t cuts[] = { 0, 1, 0, 63, 64, 65, 127, 1000, 4096 };
	unsigned char data[5416]; /* the sum of cuts */
	for (size_t i = 0; i < sizeof data; i++)
		data[i] = (unsigned char)(i * 131 + 7);
	char one[DSCK_SHA256_HEX];
	dsck_sha256_buf(data, sizeof data, one, &err);
	ok = dsck_sha256_init(&h, &err) == DSCK_OK;
	size_t pos = 0;
	for (size_t i = 0; ok && i < sizeof cuts / sizeof cuts[0]; i++) {
		ok = dsck_sha256_update(&h, data + pos, cuts[i], &err) == DSCK_OK;
		pos += cuts[i];
	}
	ok = ok && pos == sizeof data && dsck_sha256_final(&h, hex, &err) == DSCK_OK;
	dsck_sha256_release(&h);
	CHECK(ok && strcmp(hex, one) == 0, "uneven chunks hash like one buffer");
	CHECK(strlen(hex) == 64, "64 hex digits");

	/* Release is idempotent and refuses use after release. */
	CHECK(dsck_sha256_init(&h, &err) == DSCK_OK, "init");
	dsck_sha256_release(&h);
	dsck_sha256_release(&h);
	CHECK(dsck_sha256_update(&h, "x", 1, &err) != DSCK_OK, "update after release is an error");
	CHECK(dsck_sha256_final(&h, hex, &err) != DSCK_OK, "final after release is an error");
	return test_done();
}
