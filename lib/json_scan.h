/*
 * json_scan.h - the strict JSON profile of formats.md §1 without a tree.
 *
 * dsck_json_validate checks a whole document against J-R1..J-R8: valid
 * UTF-8, RFC 8259 grammar with no leading zeros, '+' signs, NaN/Infinity or
 * trailing commas, no \u0000, no lone surrogates, no raw control
 * characters, nesting depth and key length caps, (with DSCK_JSON_INTEGERS)
 * no fraction or exponent in any number, and (unless the caller takes it
 * over, DSCK_JSON_CALLER_DUPS) no object with two equal keys.
 * Only JSON whitespace may surround the value. It allocates nothing but the
 * duplicate-key sets of objects with more than 8 keys (4 bytes a slot, freed
 * when the object closes), so its memory is a fraction of the text's size.
 *
 * A text that passed can then be read as tokens with struct
 * dsck_json_reader, which checks nothing itself: the safetensors and index
 * readers build their tables straight from the tokens (no tree), and
 * json.c uses the tokens to mark cJSON numbers whose literal is not an
 * exact integer.
 */
#ifndef DSCK_JSON_SCAN_H
#define DSCK_JSON_SCAN_H

#include "err.h"

#include <stddef.h>
#include <stdint.h>

#define DSCK_JSON_MAX_DEPTH 64          /* J-R4 */
#define DSCK_JSON_MAX_KEY (64 * 1024)   /* J-R5, bytes */
/* Largest document, bytes: key positions in the duplicate sets are 32-bit.
 * Every JSON input of dsck is far smaller (L-R1, L-R4, L-R5). */
#define DSCK_JSON_MAX_TEXT 0xFFFFFFFEu

enum dsck_json_flags {
	DSCK_JSON_INTEGERS = 1 << 0, /* every number must be a non-negative integer (safetensors headers) */
	DSCK_JSON_NUL_TERMINATED = 1 << 1, /* text[len] is readable and '\0': no copy is made for cJSON */
	/* J-R6 is left to the caller, which reads every key anyway: it must
	 * refuse every duplicate it meets and, before reporting any error of
	 * its own, call dsck_json_dup_check, whose DUPLICATE_KEY outranks it
	 * (the document order of J-R6 is then kept exactly). */
	DSCK_JSON_CALLER_DUPS = 1 << 2,
};

struct dsck_json_opts {
	unsigned flags;          /* enum dsck_json_flags */
	size_t max_root_members; /* cap on members of the top-level object or
				  * array (DSCK_E_LIMIT, checked while scanning,
				  * before anything is built); 0: no cap */
	const char *exempt_key;  /* NULL, or a top-level key (compared after
				  * unescaping) whose first member is not
				  * counted: "__metadata__" beside the tensors */
};

/*
 * What the scan learns for a caller that sizes its tables before reading
 * the tokens (the safetensors reader allocates each table once, exactly).
 * Byte counts are of decoded strings plus one NUL each; every count is at
 * most the text length, so none can overflow.
 */
struct dsck_json_stats {
	size_t root_members;        /* top-level members, the exempt one excluded */
	size_t root_key_bytes;      /* sum of (decoded length + 1) over top-level keys */
	int exempt_found;           /* the exempt key is a top-level key */
	size_t exempt_members;      /* members of its value, when an object or array */
	size_t exempt_string_bytes; /* sum of (decoded length + 1) over the keys and
				     * string values directly inside that value */
};

/*
 * Check text[0..len) (need not be NUL-terminated) against J-R1..J-R8 and
 * the root member cap of opts. Error offsets are relative to text; a
 * duplicate key is reported at its second occurrence, named in err->tensor
 * (J-R6, first duplicate in document order). stats may be NULL.
 */
enum dsck_err dsck_json_validate(const char *text, size_t len,
				 const struct dsck_json_opts *opts,
				 struct dsck_json_stats *stats,
				 struct dsck_error *err);

/*
 * J-R6 on the value starting at offset start (at or before its first byte)
 * of a text dsck_json_validate accepted: DUPLICATE_KEY for the first
 * object key, in document order, that repeats a key of its object,
 * reported at its second occurrence (offset relative to text) and named in
 * err->tensor; DSCK_E_NOMEM; else DSCK_OK. Start 0 checks the document.
 * Objects with more than 8 keys get a hash set of 8 to 16 bytes a key.
 */
enum dsck_err dsck_json_dup_check(const char *text, size_t len, size_t start,
				  struct dsck_error *err);

/*
 * J-R6 outranks every rule a consumer checks after the scan: a consumer
 * that finds duplicates itself (DSCK_JSON_CALLER_DUPS) calls this when it
 * fails, and the whole text decides. Returns DUPLICATE_KEY with *err
 * describing the first duplicate (its offset shifted by base, the text's
 * position in its file) if there is one, else rc with *err untouched.
 * scanned is *err as it was after the scan. err may be NULL.
 */
enum dsck_err dsck_json_dup_outrank(const char *text, size_t len, enum dsck_err rc,
				    const struct dsck_error *scanned, int64_t base,
				    struct dsck_error *err);

/*
 * Length of the longest valid UTF-8 prefix of s[0..len) (J-R2: no overlong
 * forms, no UTF-16 surrogates, nothing above U+10FFFF). Equal to len when
 * all of s is valid.
 */
size_t dsck_utf8_valid_prefix(const void *s, size_t len);

/* ---- tokens of a validated text ------------------------------------- */

enum dsck_json_tok_type {
	DSCK_JSON_END,       /* past the value */
	DSCK_JSON_OBJ_BEGIN,
	DSCK_JSON_OBJ_END,
	DSCK_JSON_ARR_BEGIN,
	DSCK_JSON_ARR_END,
	DSCK_JSON_KEY,       /* a string followed by ':' */
	DSCK_JSON_STRING,
	DSCK_JSON_NUMBER,
	DSCK_JSON_TRUE,
	DSCK_JSON_FALSE,
	DSCK_JSON_NULL,
};

struct dsck_json_tok {
	enum dsck_json_tok_type type;
	size_t pos;      /* offset of the first byte (strings: the opening quote) */
	size_t end;      /* offset just past the token */
	size_t dec_len;  /* keys and strings: bytes after unescaping */
	int exact;       /* numbers: the literal is an integer in [0, 2^53] (J-R7) */
	uint64_t value;  /* numbers: that integer when exact, else 0 */
};

/* Reads a text that dsck_json_validate accepted; on any other text the
 * tokens are unspecified (reads stay inside text[0..len)). */
struct dsck_json_reader {
	const unsigned char *s;
	size_t len, pos;
};

void dsck_json_reader_init(struct dsck_json_reader *r, const char *text, size_t len);

/* The next token; DSCK_JSON_END once the value is done. */
void dsck_json_next(struct dsck_json_reader *r, struct dsck_json_tok *t);

/* Skip the rest of the value whose first token is t (nothing to do for a
 * scalar, up to the matching close for '{' and '['). */
void dsck_json_skip(struct dsck_json_reader *r, const struct dsck_json_tok *t);

/*
 * Unescaped bytes of key or string token t of text: at most cap - 1 of
 * them, then a NUL, into out (cap >= 1). Returns t->dec_len, so the value
 * was cut where the result is >= cap. Decoded strings hold no NUL (J-R3).
 */
size_t dsck_json_decode(const char *text, const struct dsck_json_tok *t,
			char *out, size_t cap);

/* Does key or string token t unescape to exactly s[0..n)? */
int dsck_json_tok_equals(const char *text, const struct dsck_json_tok *t,
			 const char *s, size_t n);

/*
 * Offset (relative to text) of the opening quote of the top-level key that
 * unescapes to key[0..key_len), or -1. For error messages only: O(len).
 */
int64_t dsck_json_root_key_find(const char *text, size_t len, const char *key,
				size_t key_len);

#endif
