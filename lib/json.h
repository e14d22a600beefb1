/*
 * json.h - the strict JSON profile of formats.md §1 on top of cJSON.
 *
 * dsck_json_validate (json_scan.h) checks the whole profile first: valid
 * UTF-8, RFC 8259 grammar with no leading zeros, '+' signs, NaN/Infinity or
 * trailing commas, no \u0000, no lone surrogates, no raw control
 * characters, nesting depth and key length caps, no duplicate keys, and
 * (with DSCK_JSON_INTEGERS) no fraction or exponent in any number. Only then
 * does cJSON build the tree. For config and manifest documents; the
 * safetensors and index readers use the token reader of json_scan.h
 * instead.
 */
#ifndef DSCK_JSON_H
#define DSCK_JSON_H

#include "err.h"
#include "json_scan.h"

#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Set by dsck_json_parse in the type of every number item whose literal is
 * not exactly an integer in [0, 2^53] (a fraction, a minus sign, or a value
 * a double would round, such as 9007199254740993). cJSON ignores bits above
 * 0xFF in type checks and cJSON_Delete looks only at bits 8 and 9.
 */
#define DSCK_JSON_INEXACT (1 << 13)

/*
 * Parse text[0..len) (need not be NUL-terminated) into a new cJSON tree the
 * caller frees with cJSON_Delete. On error *out is NULL and err says where
 * (offset is relative to text; callers add their base). flags: enum
 * dsck_json_flags.
 */
enum dsck_err dsck_json_parse(const char *text, size_t len, unsigned flags,
			      cJSON **out, struct dsck_error *err);

/* Same, with a cap on the top-level member count (formats.md L-R2). */
enum dsck_err dsck_json_parse_opts(const char *text, size_t len,
				   const struct dsck_json_opts *opts,
				   cJSON **out, struct dsck_error *err);

/*
 * Exact non-negative integer from a number item: returns 0 and sets *out
 * when item is a number with an integral value in [0, 2^53] (J-R7, larger
 * values are not exact in a double), else -1. For items from
 * dsck_json_parse the literal itself is checked (DSCK_JSON_INEXACT), so
 * 2^53 + 1, which a double rounds to 2^53, is refused, never rounded.
 * "1.0" and "1e3" have integral values and are accepted here; documents
 * parsed with DSCK_JSON_INTEGERS never contain them.
 */
int dsck_json_u64(const cJSON *item, uint64_t *out);

/* Byte length of a cJSON key or string value (strings contain no NUL, J-R3). */
size_t dsck_json_strlen(const char *s);

#endif
