/*
 * manifest_int.h - helpers shared by the manifest module's files
 * (manifest.c, manifest_json.c, manifest_compare.c); not part of the
 * public API, which is manifest.h alone.
 */
#ifndef DSCK_MANIFEST_INT_H
#define DSCK_MANIFEST_INT_H

#include "manifest.h"

#include <stddef.h>

/* qsort/bsearch order of struct dsck_manifest_file: name, bytewise. */
int dsck_manifest_cmp_file(const void *a, const void *b);

/* 64 lowercase hex digits (then NUL) -> 32 bytes; -1 if hex is not of that
 * form. Uppercase is refused: it is not the canonical form. */
int dsck_manifest_hex_decode(const char *hex, unsigned char raw[32]);

/*
 * The shape of t as text into buf (always NUL-terminated, truncated to
 * n - 1 bytes): "a,b,c" with sep "," and no bracket for MF-R3, or
 * "[a, b, c]" with sep ", " and bracket set for messages.
 */
void dsck_manifest_shape_text(const struct dsck_manifest_tensor *t,
			      const char *sep, int bracket, char *buf, size_t n);

/* MF-R6: m->tensors from the logical tensors of an MP(N) directory
 * (manifest_logical.c); buf_bytes bounds the read buffer. */
enum dsck_err mf_logical_tensors(const struct dsck_ckpt *ck, struct dsck_manifest *m,
				 size_t buf_bytes, struct dsck_error *err);

#endif
