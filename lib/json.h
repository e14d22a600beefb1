/*
 * json.h - the strict JSON profile of formats.md §1 on top of cJSON.
 *
 * cJSON builds the tree; before it runs, a validating scan enforces what
 * cJSON does not (formats.md J-R1..J-R8): valid UTF-8, RFC 8259 grammar with
 * no leading zeros, '+' signs, NaN/Infinity or trailing commas, no \u0000,
 * no lone surrogates, no raw control characters, nesting depth and key
 * length caps, and (with DSCK_JSON_INTEGERS) no fraction or exponent in any
 * number. After the parse every object is checked for duplicate keys with a
 * hash set. Only JSON whitespace may surround the value.
 */
#ifndef DSCK_JSON_H
#define DSCK_JSON_H

#include "err.h"

#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdint.h>

#define DSCK_JSON_MAX_DEPTH 64          /* J-R4 */
#define DSCK_JSON_MAX_KEY (64 * 1024)   /* J-R5, bytes */

enum dsck_json_flags {
	DSCK_JSON_INTEGERS = 1 << 0, /* every number must be a non-negative integer (safetensors headers) */
};

/*
 * Parse text[0..len) (need not be NUL-terminated) into a new cJSON tree the
 * caller frees with cJSON_Delete. On error *out is NULL and err says where
 * (offset is relative to text; callers add their base). flags: enum
 * dsck_json_flags.
 */
enum dsck_err dsck_json_parse(const char *text, size_t len, unsigned flags,
			      cJSON **out, struct dsck_error *err);

/*
 * Exact non-negative integer from a number item: returns 0 and sets *out
 * when item is a number with an integral value in [0, 2^53] (J-R7, larger
 * values are not exact in a double), else -1.
 */
int dsck_json_u64(const cJSON *item, uint64_t *out);

/* Byte length of a cJSON key or string value (strings contain no NUL, J-R3). */
size_t dsck_json_strlen(const char *s);

#endif
