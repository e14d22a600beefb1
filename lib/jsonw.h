/*
 * jsonw.h - the one JSON text writer of libdsck: a growable byte buffer with
 * appenders for raw text, JSON strings under an escaping policy, and numbers.
 *
 * Every JSON document dsck writes (safetensors headers, index.json,
 * manifests, the synthetic config, tokenizer and generation files) is built
 * here. The appenders never fail one by one: the first allocation failure,
 * size overflow or crossing of the caller's limit is latched, later appends
 * are no-ops, and the caller checks once at the end with dsck_jsonw_check.
 * So a document is written as straight-line code with one error exit.
 *
 * Invariant: while w->p is not NULL, w->p[w->len] == '\0' and
 * w->len < w->cap, so the text can be handed out as a C string.
 */
#ifndef DSCK_JSONW_H
#define DSCK_JSONW_H

#include "err.h"

#include <stddef.h>
#include <stdint.h>

/*
 * How a JSON string is escaped. Each policy reproduces, byte for byte, the
 * writer whose output dsck must match, so neither may change. Documents no
 * other tool writes (manifests, synthetic config and tokenizer files) use
 * DSCK_JSONW_UTF8. Every policy writes '"' and '\\' as \" and \\; they
 * differ in the other control bytes and in bytes above 0x7E.
 */
enum dsck_jsonw_esc {
	/* Python json.dumps(ensure_ascii=True), for index.json (IX-W1): \b \f
	 * \n \r \t short, every other byte outside 0x20..0x7E as \uXXXX
	 * (lowercase hex), code points above U+FFFF as a surrogate pair. The
	 * only policy that decodes UTF-8: invalid UTF-8 is refused. */
	DSCK_JSONW_ASCII,
	/* serde_json, which safetensors.save_file uses for headers (ST-W1),
	 * and equally Python json.dumps(ensure_ascii=False): \b \f \n \r \t
	 * short, other bytes below 0x20 as \u00xx, everything else (DEL,
	 * UTF-8) as it is. */
	DSCK_JSONW_UTF8,
};

/* A growing text; owns p. Zero-initialised (DSCK_JSONW_INIT) = empty. */
struct dsck_jsonw {
	char *p;        /* NUL-terminated text, NULL until the first append */
	size_t len;     /* bytes of text, the NUL not counted */
	size_t cap;     /* bytes allocated at p */
	size_t limit;   /* largest len allowed; 0 means no limit of the caller */
	int nomem;      /* latched: allocation failed or a size overflowed */
	int over;       /* latched: an append would pass limit */
};

#define DSCK_JSONW_INIT { NULL, 0, 0, 0, 0, 0 }

/* Append n raw bytes (the caller's own JSON syntax or pre-escaped text). */
void dsck_jsonw_put(struct dsck_jsonw *w, const void *s, size_t n);

/* Append the C string s raw. */
void dsck_jsonw_puts(struct dsck_jsonw *w, const char *s);

/* Append printf output raw (short fragments: numbers, fixed templates). */
void dsck_jsonw_printf(struct dsck_jsonw *w, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/*
 * Append the C string s as a quoted JSON string escaped under esc. Returns
 * 0, or -1 when esc is DSCK_JSONW_ASCII and s is not valid UTF-8; the text
 * then ends inside the string and the caller discards the document. The
 * UTF-8 policies copy bytes above 0x7F unchecked: callers pass text that
 * was validated on the way in (J-R2, ST-W3).
 */
int dsck_jsonw_str(struct dsck_jsonw *w, const char *s, enum dsck_jsonw_esc esc);

/* Append a decimal integer. */
void dsck_jsonw_u64(struct dsck_jsonw *w, uint64_t v);

/*
 * Append v the way Python's json module prints a float (repr: the shortest
 * text that reads back as v). An integral v below 2^53 in magnitude prints
 * as "N.0" when as_float is set, as "N" otherwise (an int field Python
 * kept as int). A non-finite v, which no strict parse produces, prints as
 * null so the text stays valid JSON.
 */
void dsck_jsonw_double(struct dsck_jsonw *w, double v, int as_float);

/*
 * DSCK_OK if every append so far succeeded; else DSCK_E_LIMIT (an append
 * would have passed w->limit) or DSCK_E_NOMEM, recorded in err with what
 * naming the document. Does not release w.
 */
enum dsck_err dsck_jsonw_check(const struct dsck_jsonw *w, const char *what,
			       struct dsck_error *err);

/*
 * Hand the text to the caller (who frees it) and reset w to empty. Returns
 * NULL, releasing w, if any append failed or nothing was appended.
 * *len (may be NULL) gets the length.
 */
char *dsck_jsonw_take(struct dsck_jsonw *w, size_t *len);

/* Free the text and reset w to empty (limit kept); accepts an empty w. */
void dsck_jsonw_release(struct dsck_jsonw *w);

#endif
