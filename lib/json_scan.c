/*
 * json_scan.c - the strict JSON profile (formats.md J-R1..J-R8) as a
 * validating scan, and a token reader over the texts it accepts.
 *
 * dsck_json_validate makes up to two passes over a document of len bytes:
 *   1. A grammar scan, iterative with an explicit 64-entry container stack
 *      (J-R1, J-R3..J-R5, J-R7, J-R8; L-R2 through max_root_members), which
 *      also checks J-R2 on the bytes of strings (the only place bytes
 *      >= 0x80 may stand). It allocates nothing and fills struct
 *      dsck_json_stats. When it fails, a UTF-8 pass over every byte runs,
 *      so a bad byte anywhere is INVALID_UTF8 even when the grammar breaks
 *      earlier (ST-R5 before ST-R6).
 *   2. Duplicate keys (J-R6, dsck_json_dup_check), with the token reader:
 *      one set per open object. Up to 8 keys are compared pairwise; past
 *      that a hash set of 32-bit key positions (load <= 1/2, 8 to 16 bytes
 *      a key) takes over, freed when the object closes. Keys are compared
 *      and hashed after unescaping, straight from the text, so no key is
 *      copied. Readers that see every key anyway (safetensors headers, the
 *      index) detect duplicates themselves (DSCK_JSON_CALLER_DUPS) and run
 *      this pass only on their error paths.
 */
#include "json_scan.h"

#include <stdlib.h>
#include <string.h>

/* Longest number literal accepted (J-R7). cJSON copies numbers into a
 * 64-byte buffer and would silently cut a longer one. */
#define JSON_MAX_NUMBER 63

#define JSON_2POW53 9007199254740992ull

/*
 * Bytes of the valid UTF-8 sequence starting at s[i] (i < len, s[i] >=
 * 0x80), or 0 when it is not one (J-R2). lo/hi bound the second byte:
 * that is where overlong forms (E0, F0), surrogates (ED) and code points
 * above U+10FFFF (F4) are excluded.
 */
static size_t utf8_seq_len(const unsigned char *s, size_t i, size_t len)
{
	unsigned c = s[i], need, lo = 0x80, hi = 0xBF;
	if (c >= 0xC2 && c <= 0xDF) {
		need = 1;
	} else if (c >= 0xE0 && c <= 0xEF) {
		need = 2;
		if (c == 0xE0)
			lo = 0xA0;
		else if (c == 0xED)
			hi = 0x9F;
	} else if (c >= 0xF0 && c <= 0xF4) {
		need = 3;
		if (c == 0xF0)
			lo = 0x90;
		else if (c == 0xF4)
			hi = 0x8F;
	} else {
		return 0; /* 80..C1 (continuation, overlong lead), F5..FF */
	}
	if (len - i <= need)
		return 0;
	if (s[i + 1] < lo || s[i + 1] > hi)
		return 0;
	for (unsigned k = 2; k <= need; k++)
		if ((s[i + k] & 0xC0) != 0x80)
			return 0;
	return need + 1;
}

size_t dsck_utf8_valid_prefix(const void *buf, size_t len)
{
	const unsigned char *s = buf;
	size_t i = 0;
	while (i < len) {
		if (s[i] < 0x80) {
			i++;
			continue;
		}
		size_t k = utf8_seq_len(s, i, len);
		if (k == 0)
			return i;
		i += k;
	}
	return len;
}

static int json_is_ws(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static int hex_value(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Bytes of the UTF-8 form of code point cp (<= U+10FFFF). */
static unsigned utf8_len(unsigned long cp)
{
	return cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
}

/*
 * Is the decimal literal (neg, digits int[0..ni) frac[0..nf), exponent exp)
 * exactly an integer in [0, 2^53]? Decided on the digits, not on a double,
 * so 9007199254740993 is not rounded into range (J-R7). Sets *value when
 * it is. ni + nf <= JSON_MAX_NUMBER.
 */
static int number_u53(int neg, const unsigned char *ip, size_t ni,
		      const unsigned char *fp, size_t nf, long exp, uint64_t *value)
{
	/* significant digits: int then frac, leading and trailing zeros off */
	unsigned char d[2 * JSON_MAX_NUMBER];
	size_t nd = 0;
	for (size_t k = 0; k < ni; k++)
		d[nd++] = ip[k];
	for (size_t k = 0; k < nf; k++)
		d[nd++] = fp[k];
	size_t first = 0;
	while (first < nd && d[first] == '0')
		first++;
	*value = 0;
	if (first == nd)
		return 1; /* zero, including -0 and 0.000e5 */
	if (neg)
		return 0;
	size_t last = nd;
	long trailing = 0;
	while (d[last - 1] == '0') {
		last--;
		trailing++;
	}
	/* value = digits[first..last) * 10^e10 */
	long e10 = exp - (long)nf + trailing;
	if (e10 < 0)
		return 0;
	size_t k = last - first;
	if ((long)k + e10 > 16)
		return 0; /* 17 or more digits: above 2^53 (16 digits) */
	uint64_t v = 0;
	for (size_t i = first; i < last; i++)
		v = v * 10 + (uint64_t)(d[i] - '0');
	for (long i = 0; i < e10; i++)
		v *= 10;
	if (v > JSON_2POW53)
		return 0;
	*value = v;
	return 1;
}

/* ---- pass 1: grammar scan ------------------------------------------- */

/* Where the scan is relative to the exempt member (stats). */
enum scan_exempt {
	EXEMPT_NONE,   /* its key not seen yet */
	EXEMPT_NEXT,   /* the next value is its value */
	EXEMPT_INSIDE, /* inside its value (an object or array) */
	EXEMPT_DONE,
};

struct scan {
	const unsigned char *s;
	size_t len, pos;
	unsigned flags;
	size_t max_root;
	const char *exempt; /* root key not counted once (opts->exempt_key) */
	enum scan_exempt ex;
	struct dsck_json_stats *st;
	struct dsck_error *err;
};

static void scan_skip_ws(struct scan *sc)
{
	while (sc->pos < sc->len && json_is_ws(sc->s[sc->pos]))
		sc->pos++;
}

static enum dsck_err scan_fail_at(struct scan *sc, size_t off, const char *what)
{
	dsck_error_offset(sc->err, (int64_t)off);
	return dsck_error_set(sc->err, DSCK_E_INVALID_JSON, "%s", what);
}

static enum dsck_err scan_fail(struct scan *sc, const char *what)
{
	return scan_fail_at(sc, sc->pos, what);
}

/* Four hex digits at s[pos..pos+4) as a UTF-16 code unit, or -1. */
static long scan_hex4(const struct scan *sc, size_t pos)
{
	long v = 0;
	if (pos > sc->len || sc->len - pos < 4)
		return -1;
	for (size_t k = 0; k < 4; k++) {
		int h = hex_value(sc->s[pos + k]);
		if (h < 0)
			return -1;
		v = v * 16 + h;
	}
	return v;
}

/*
 * What a byte inside a string asks of scan_string: STR_PLAIN bytes (ASCII
 * 0x20..0x7F but '"' and '\\') stand for themselves and are skipped in a
 * tight loop, which is where a header's scan spends its time.
 */
enum str_class { STR_PLAIN, STR_QUOTE, STR_ESCAPE, STR_CONTROL, STR_HIGH };

#define P STR_PLAIN
#define Q STR_QUOTE
#define E STR_ESCAPE
#define C STR_CONTROL
#define H STR_HIGH
static const unsigned char str_class[256] = {
	C, C, C, C, C, C, C, C, C, C, C, C, C, C, C, C, /* 0x00 */
	C, C, C, C, C, C, C, C, C, C, C, C, C, C, C, C,
	P, P, Q, P, P, P, P, P, P, P, P, P, P, P, P, P, /* 0x20: '"' */
	P, P, P, P, P, P, P, P, P, P, P, P, P, P, P, P,
	P, P, P, P, P, P, P, P, P, P, P, P, P, P, P, P,
	P, P, P, P, P, P, P, P, P, P, P, P, E, P, P, P, /* 0x50: '\\' */
	P, P, P, P, P, P, P, P, P, P, P, P, P, P, P, P,
	P, P, P, P, P, P, P, P, P, P, P, P, P, P, P, P,
	H, H, H, H, H, H, H, H, H, H, H, H, H, H, H, H, /* 0x80 */
	H, H, H, H, H, H, H, H, H, H, H, H, H, H, H, H,
	H, H, H, H, H, H, H, H, H, H, H, H, H, H, H, H,
	H, H, H, H, H, H, H, H, H, H, H, H, H, H, H, H,
	H, H, H, H, H, H, H, H, H, H, H, H, H, H, H, H,
	H, H, H, H, H, H, H, H, H, H, H, H, H, H, H, H,
	H, H, H, H, H, H, H, H, H, H, H, H, H, H, H, H,
	H, H, H, H, H, H, H, H, H, H, H, H, H, H, H, H,
};
#undef P
#undef Q
#undef E
#undef C
#undef H

/*
 * String at sc->pos (which holds '"'). J-R3: no raw control bytes, only the
 * escapes of RFC 8259, no \u0000, surrogate escapes only as high+low pairs.
 * J-R2 for the bytes >= 0x80 (only a string may hold them: anywhere else
 * they break the grammar); the error for a bad sequence is a placeholder
 * that dsck_json_validate replaces with the UTF-8 pass's own.
 * *decoded gets the byte length after unescaping, for the key cap J-R5:
 * the raw length less what each escape saves.
 */
static enum dsck_err scan_string(struct scan *sc, size_t *decoded)
{
	const unsigned char *s = sc->s;
	size_t start = sc->pos, p = start + 1, len = sc->len, saved = 0;
	for (;;) {
		while (p < len && str_class[s[p]] == STR_PLAIN)
			p++;
		if (p >= len)
			return scan_fail_at(sc, start, "unterminated string");
		switch (str_class[s[p]]) {
		case STR_QUOTE:
			sc->pos = p + 1;
			*decoded = p - start - 1 - saved;
			return DSCK_OK;
		case STR_CONTROL:
			return scan_fail_at(sc, p, "raw control character in string");
		case STR_HIGH: {
			size_t k = utf8_seq_len(s, p, len);
			if (k == 0)
				return scan_fail_at(sc, p, "invalid UTF-8 sequence");
			p += k;
			continue;
		}
		default:
			break; /* STR_ESCAPE */
		}
		if (p + 1 >= len)
			return scan_fail_at(sc, start, "unterminated string");
		unsigned char e = s[p + 1];
		if (strchr("\"\\/bfnrt", e) && e != '\0') {
			p += 2;
			saved += 1;
			continue;
		}
		if (e != 'u')
			return scan_fail_at(sc, p, "invalid escape in string");
		long cu = scan_hex4(sc, p + 2);
		if (cu < 0)
			return scan_fail_at(sc, p, "invalid \\u escape: expected four hex digits");
		if (cu == 0)
			return scan_fail_at(sc, p, "\\u0000 in string (names are C strings)");
		if (cu >= 0xDC00 && cu <= 0xDFFF)
			return scan_fail_at(sc, p, "unpaired low surrogate escape");
		if (cu >= 0xD800 && cu <= 0xDBFF) {
			size_t p2 = p + 6;
			long lo = -1;
			if (p2 + 1 < len && s[p2] == '\\' && s[p2 + 1] == 'u')
				lo = scan_hex4(sc, p2 + 2);
			if (lo < 0xDC00 || lo > 0xDFFF)
				return scan_fail_at(sc, p, "unpaired high surrogate escape");
			p += 12;
			saved += 12 - 4;
			continue;
		}
		p += 6;
		saved += 6 - utf8_len((unsigned long)cu);
	}
}

/* Number at sc->pos: RFC 8259 `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`. */
static enum dsck_err scan_number(struct scan *sc)
{
	size_t start = sc->pos, p = sc->pos;
	const unsigned char *s = sc->s;
	if (s[p] == '-') {
		if (sc->flags & DSCK_JSON_INTEGERS)
			return scan_fail(sc, "negative number where only non-negative integers are allowed");
		p++;
	}
	if (p >= sc->len || s[p] < '0' || s[p] > '9')
		return scan_fail_at(sc, p, "expected a digit");
	if (s[p] == '0') {
		p++;
		if (p < sc->len && s[p] >= '0' && s[p] <= '9')
			return scan_fail_at(sc, start, "leading zero in number");
	} else {
		while (p < sc->len && s[p] >= '0' && s[p] <= '9')
			p++;
	}
	if (p < sc->len && s[p] == '.') {
		if (sc->flags & DSCK_JSON_INTEGERS)
			return scan_fail_at(sc, p, "fraction where only integers are allowed");
		size_t f0 = ++p;
		while (p < sc->len && s[p] >= '0' && s[p] <= '9')
			p++;
		if (p == f0)
			return scan_fail_at(sc, p, "expected a digit after '.'");
	}
	if (p < sc->len && (s[p] == 'e' || s[p] == 'E')) {
		if (sc->flags & DSCK_JSON_INTEGERS)
			return scan_fail_at(sc, p, "exponent where only integers are allowed");
		p++;
		if (p < sc->len && (s[p] == '+' || s[p] == '-'))
			p++;
		size_t e0 = p;
		while (p < sc->len && s[p] >= '0' && s[p] <= '9')
			p++;
		if (p == e0)
			return scan_fail_at(sc, p, "expected a digit in exponent");
	}
	if (p - start > JSON_MAX_NUMBER)
		return scan_fail_at(sc, start, "number longer than 63 characters");
	sc->pos = p;
	return DSCK_OK;
}

static enum dsck_err scan_literal(struct scan *sc, const char *word)
{
	size_t n = strlen(word);
	if (sc->len - sc->pos < n || memcmp(sc->s + sc->pos, word, n) != 0)
		return scan_fail(sc, "expected a value");
	sc->pos += n;
	return DSCK_OK;
}

/* A scalar value at sc->pos (never '{' or '['); strings add to the
 * exempt member's byte count when directly inside it (depth 2). */
static enum dsck_err scan_scalar(struct scan *sc, size_t depth)
{
	size_t dec = 0;
	enum dsck_err rc;
	switch (sc->s[sc->pos]) {
	case '"':
		rc = scan_string(sc, &dec);
		if (rc == DSCK_OK && depth == 2 && sc->ex == EXEMPT_INSIDE)
			sc->st->exempt_string_bytes += dec + 1;
		return rc;
	case 't':
		return scan_literal(sc, "true");
	case 'f':
		return scan_literal(sc, "false");
	case 'n':
		return scan_literal(sc, "null");
	default:
		if (sc->s[sc->pos] == '-' || (sc->s[sc->pos] >= '0' && sc->s[sc->pos] <= '9'))
			return scan_number(sc);
		return scan_fail(sc, "expected a value");
	}
}

/*
 * Does the already scanned string s[a..b) (quotes excluded) unescape to
 * exactly target? Escapes were validated by scan_string.
 */
static int scan_string_equals(const unsigned char *s, size_t a, size_t b,
			      const char *target)
{
	size_t t = 0, tn = strlen(target);
	while (a < b) {
		unsigned char c = s[a];
		if (c == '\\') {
			unsigned char e = s[a + 1];
			if (e == 'u') {
				long cu = 0;
				for (size_t k = 0; k < 4; k++)
					cu = cu * 16 + hex_value(s[a + 2 + k]);
				if (cu >= 0x80)
					return 0; /* non-ASCII; targets are ASCII */
				c = (unsigned char)cu;
				a += 6;
			} else {
				c = e == 'b' ? '\b' : e == 'f' ? '\f' : e == 'n' ? '\n' :
				    e == 'r' ? '\r' : e == 't' ? '\t' : e;
				a += 2;
			}
		} else {
			a++;
		}
		if (t >= tn || (unsigned char)target[t] != c)
			return 0;
		t++;
	}
	return t == tn;
}

/* Key string and ':' at sc->pos. At depth 1 the member count *root_members
 * (already including this member) is checked against the cap here, once
 * the key is known (exempt_key). */
static enum dsck_err scan_key(struct scan *sc, size_t depth, size_t *root_members)
{
	size_t dec, at = sc->pos;
	enum dsck_err rc;
	if (sc->pos >= sc->len || sc->s[sc->pos] != '"')
		return scan_fail(sc, "expected a string key");
	rc = scan_string(sc, &dec);
	if (rc)
		return rc;
	if (depth == 1) {
		sc->st->root_key_bytes += dec + 1;
		if (sc->exempt && sc->ex == EXEMPT_NONE &&
		    scan_string_equals(sc->s, at + 1, sc->pos - 1, sc->exempt)) {
			sc->ex = EXEMPT_NEXT;
			sc->st->exempt_found = 1;
			--*root_members;
		}
		if (sc->max_root && *root_members > sc->max_root) {
			dsck_error_offset(sc->err, (int64_t)at);
			dsck_error_expect(sc->err, "at most %zu members%s%s", sc->max_root,
					  sc->exempt ? " besides " : "", sc->exempt ? sc->exempt : "");
			return dsck_error_set(sc->err, DSCK_E_LIMIT, "too many members in the top-level object");
		}
	} else if (depth == 2 && sc->ex == EXEMPT_INSIDE) {
		sc->st->exempt_string_bytes += dec + 1;
	}
	if (dec > DSCK_JSON_MAX_KEY) {
		dsck_error_expect(sc->err, "at most %u bytes", (unsigned)DSCK_JSON_MAX_KEY);
		dsck_error_found(sc->err, "%zu bytes", dec);
		return scan_fail_at(sc, at, "object key too long");
	}
	scan_skip_ws(sc);
	if (sc->pos >= sc->len || sc->s[sc->pos] != ':')
		return scan_fail(sc, "expected ':'");
	sc->pos++;
	return DSCK_OK;
}

static enum dsck_err scan_fail_limit(struct scan *sc)
{
	dsck_error_offset(sc->err, (int64_t)sc->pos);
	dsck_error_expect(sc->err, "at most %zu members", sc->max_root);
	return dsck_error_set(sc->err, DSCK_E_LIMIT, "too many members in the top-level array");
}

/* A member of the container at depth begins: count it where it matters. */
static void scan_count_member(struct scan *sc, size_t depth, size_t *root_members)
{
	if (depth == 1)
		++*root_members;
	else if (depth == 2 && sc->ex == EXEMPT_INSIDE)
		sc->st->exempt_members++;
}

/* The container at depth + 1 was closed: leaving the exempt value? */
static void scan_closed(struct scan *sc, size_t depth)
{
	if (depth == 1 && sc->ex == EXEMPT_INSIDE)
		sc->ex = EXEMPT_DONE;
}

/*
 * The whole document. stack[d] is '{' or '[' for the container at depth
 * d+1; state says whether a value or the continuation after one is next.
 */
static enum dsck_err scan_document(struct scan *sc)
{
	char stack[DSCK_JSON_MAX_DEPTH];
	size_t depth = 0, root_members = 0;
	enum dsck_err rc;

	scan_skip_ws(sc);
	for (;;) {
		/* state: a value starts at sc->pos */
		if (sc->pos >= sc->len)
			return scan_fail(sc, "expected a value");
		unsigned char c = sc->s[sc->pos];
		if (sc->ex == EXEMPT_NEXT) /* the value of the exempt member */
			sc->ex = c == '{' || c == '[' ? EXEMPT_INSIDE : EXEMPT_DONE;
		if (c == '{' || c == '[') {
			if (depth == DSCK_JSON_MAX_DEPTH) {
				dsck_error_expect(sc->err, "nesting depth at most %d", DSCK_JSON_MAX_DEPTH);
				return scan_fail(sc, "nesting too deep");
			}
			stack[depth++] = (char)c;
			sc->pos++;
			scan_skip_ws(sc);
			char close = c == '{' ? '}' : ']';
			if (sc->pos < sc->len && sc->s[sc->pos] == close) {
				sc->pos++;
				depth--;
				scan_closed(sc, depth);
			} else {
				scan_count_member(sc, depth, &root_members);
				if (depth == 1 && c == '[' && sc->max_root && root_members > sc->max_root)
					return scan_fail_limit(sc);
				if (c == '{') {
					rc = scan_key(sc, depth, &root_members);
					if (rc)
						return rc;
					scan_skip_ws(sc);
				}
				continue; /* a value follows */
			}
		} else {
			rc = scan_scalar(sc, depth);
			if (rc)
				return rc;
		}
		/* state: after a value */
		for (;;) {
			scan_skip_ws(sc);
			if (depth == 0) {
				if (sc->pos != sc->len)
					return scan_fail(sc, "unexpected data after the JSON value");
				sc->st->root_members = root_members;
				return DSCK_OK;
			}
			char top = stack[depth - 1];
			char close = top == '{' ? '}' : ']';
			if (sc->pos >= sc->len)
				return scan_fail(sc, top == '{' ? "expected ',' or '}'" : "expected ',' or ']'");
			c = sc->s[sc->pos];
			if (c == close) {
				sc->pos++;
				depth--;
				scan_closed(sc, depth);
				continue;
			}
			if (c != ',')
				return scan_fail(sc, top == '{' ? "expected ',' or '}'" : "expected ',' or ']'");
			sc->pos++;
			scan_skip_ws(sc);
			scan_count_member(sc, depth, &root_members);
			if (depth == 1 && top == '[' && sc->max_root && root_members > sc->max_root)
				return scan_fail_limit(sc);
			if (top == '{') {
				rc = scan_key(sc, depth, &root_members);
				if (rc)
					return rc;
				scan_skip_ws(sc);
			}
			break; /* a value follows */
		}
	}
}

/* ---- token reader (validated text) ------------------------------------ */

/* Trusted four hex digits at s[p..p+4): the scan checked them. */
static unsigned long hex4(const unsigned char *s)
{
	unsigned long v = 0;
	for (int k = 0; k < 4; k++)
		v = v * 16 + (unsigned long)hex_value(s[k]);
	return v;
}

/* End (past the closing quote) of the string whose quote is at q, and its
 * decoded length. Stays below len whatever the text. */
static size_t str_walk(const unsigned char *s, size_t len, size_t q, size_t *dec)
{
	size_t p = q + 1, n = 0;
	while (p < len && s[p] != '"') {
		if (s[p] != '\\') {
			/* Runs without escapes (most of every tensor name) are
			 * skipped with memchr, which is vectorized. */
			const unsigned char *e = memchr(s + p, '"', len - p);
			size_t stop = e ? (size_t)(e - s) : len;
			const unsigned char *b = memchr(s + p, '\\', stop - p);
			size_t run = (b ? (size_t)(b - s) : stop) - p;
			p += run;
			n += run;
		} else if (p + 1 < len && s[p + 1] == 'u' && len - p >= 6) {
			unsigned long cu = hex4(s + p + 2);
			if (cu >= 0xD800 && cu <= 0xDBFF && len - p >= 12) {
				p += 12; /* a high + low pair: one 4-byte code point */
				n += 4;
			} else {
				p += 6;
				n += utf8_len(cu);
			}
		} else {
			p += 2;
			n++;
		}
	}
	*dec = n;
	return p < len ? p + 1 : len;
}

/* Decoded bytes of a string, one at a time, straight from the text. */
struct str_iter {
	const unsigned char *s;
	size_t p, len;
	unsigned char buf[4]; /* pending bytes of an escaped code point */
	unsigned n, i;
};

static void str_iter_init(struct str_iter *it, const unsigned char *s, size_t len,
			  size_t quote)
{
	it->s = s;
	it->len = len;
	it->p = quote + 1;
	it->n = it->i = 0;
}

/* The next decoded byte, or -1 at the closing quote. */
static int str_iter_next(struct str_iter *it)
{
	if (it->i < it->n)
		return it->buf[it->i++];
	if (it->p >= it->len || it->s[it->p] == '"')
		return -1;
	unsigned char c = it->s[it->p];
	if (c != '\\') {
		it->p++;
		return c;
	}
	unsigned char e = it->p + 1 < it->len ? it->s[it->p + 1] : '\\';
	if (e != 'u' || it->len - it->p < 6) {
		it->p += 2;
		return e == 'b' ? '\b' : e == 'f' ? '\f' : e == 'n' ? '\n' :
		       e == 'r' ? '\r' : e == 't' ? '\t' : e;
	}
	unsigned long cp = hex4(it->s + it->p + 2);
	it->p += 6;
	if (cp >= 0xD800 && cp <= 0xDBFF && it->len - it->p >= 6) {
		cp = 0x10000 + ((cp - 0xD800) << 10) + (hex4(it->s + it->p + 2) - 0xDC00);
		it->p += 6;
	}
	it->i = 1;
	if (cp < 0x80) {
		it->n = 0;
		it->i = 0;
		return (int)cp;
	}
	if (cp < 0x800) {
		it->buf[0] = (unsigned char)(0xC0 | (cp >> 6));
		it->buf[1] = (unsigned char)(0x80 | (cp & 0x3F));
		it->n = 2;
	} else if (cp < 0x10000) {
		it->buf[0] = (unsigned char)(0xE0 | (cp >> 12));
		it->buf[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
		it->buf[2] = (unsigned char)(0x80 | (cp & 0x3F));
		it->n = 3;
	} else {
		it->buf[0] = (unsigned char)(0xF0 | (cp >> 18));
		it->buf[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3F));
		it->buf[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
		it->buf[3] = (unsigned char)(0x80 | (cp & 0x3F));
		it->n = 4;
	}
	return it->buf[0];
}

void dsck_json_reader_init(struct dsck_json_reader *r, const char *text, size_t len)
{
	r->s = (const unsigned char *)text;
	r->len = len;
	r->pos = 0;
}

/* Number token at r->pos (grammar already checked). */
static void reader_number(struct dsck_json_reader *r, struct dsck_json_tok *t)
{
	const unsigned char *s = r->s;
	size_t p = r->pos, i0, ni, f0, nf = 0;
	long exp = 0;
	int neg = 0;
	if (p < r->len && s[p] == '-') {
		neg = 1;
		p++;
	}
	i0 = p;
	while (p < r->len && s[p] >= '0' && s[p] <= '9')
		p++;
	ni = p - i0;
	f0 = p;
	if (p < r->len && s[p] == '.') {
		f0 = ++p;
		while (p < r->len && s[p] >= '0' && s[p] <= '9')
			p++;
		nf = p - f0;
	}
	if (p < r->len && (s[p] == 'e' || s[p] == 'E')) {
		int eneg = 0;
		p++;
		if (p < r->len && (s[p] == '+' || s[p] == '-'))
			eneg = s[p++] == '-';
		while (p < r->len && s[p] >= '0' && s[p] <= '9') {
			if (exp < 100000) /* saturate: any larger exponent decides the same */
				exp = exp * 10 + (s[p] - '0');
			p++;
		}
		if (eneg)
			exp = -exp;
	}
	t->type = DSCK_JSON_NUMBER;
	t->end = p;
	if (!neg && p - i0 == ni && ni <= 16) {
		/* plain digits (no leading zero, J-R7), below 10^16: exact iff <= 2^53 */
		uint64_t v = 0;
		for (size_t k = 0; k < ni; k++)
			v = v * 10 + (uint64_t)(s[i0 + k] - '0');
		t->exact = v <= JSON_2POW53;
		t->value = v;
	} else {
		t->exact = ni + nf <= JSON_MAX_NUMBER &&
			   number_u53(neg, s + i0, ni, s + f0, nf, exp, &t->value);
	}
	if (!t->exact)
		t->value = 0;
}

void dsck_json_next(struct dsck_json_reader *r, struct dsck_json_tok *t)
{
	const unsigned char *s = r->s;
	size_t p = r->pos;
	/* ',' and ':' carry nothing the token types do not already say */
	while (p < r->len && (json_is_ws(s[p]) || s[p] == ',' || s[p] == ':'))
		p++;
	memset(t, 0, sizeof *t);
	t->pos = p;
	t->end = p;
	if (p >= r->len) {
		t->type = DSCK_JSON_END;
		r->pos = p;
		return;
	}
	switch (s[p]) {
	case '{': t->type = DSCK_JSON_OBJ_BEGIN; t->end = p + 1; break;
	case '}': t->type = DSCK_JSON_OBJ_END; t->end = p + 1; break;
	case '[': t->type = DSCK_JSON_ARR_BEGIN; t->end = p + 1; break;
	case ']': t->type = DSCK_JSON_ARR_END; t->end = p + 1; break;
	case 't': t->type = DSCK_JSON_TRUE; t->end = p + 4; break;
	case 'f': t->type = DSCK_JSON_FALSE; t->end = p + 5; break;
	case 'n': t->type = DSCK_JSON_NULL; t->end = p + 4; break;
	case '"': {
		t->end = str_walk(s, r->len, p, &t->dec_len);
		size_t q = t->end;
		while (q < r->len && json_is_ws(s[q]))
			q++;
		t->type = q < r->len && s[q] == ':' ? DSCK_JSON_KEY : DSCK_JSON_STRING;
		break;
	}
	default:
		r->pos = p;
		reader_number(r, t);
		break;
	}
	if (t->end > r->len)
		t->end = r->len;
	r->pos = t->end;
}

void dsck_json_skip(struct dsck_json_reader *r, const struct dsck_json_tok *t)
{
	if (t->type != DSCK_JSON_OBJ_BEGIN && t->type != DSCK_JSON_ARR_BEGIN)
		return;
	const unsigned char *s = r->s;
	size_t p = r->pos, depth = 1;
	while (p < r->len) {
		unsigned char c = s[p++];
		if (c == '"') {
			while (p < r->len && s[p] != '"')
				p += s[p] == '\\' ? 2 : 1;
			p++;
		} else if (c == '{' || c == '[') {
			depth++;
		} else if ((c == '}' || c == ']') && --depth == 0) {
			break;
		}
	}
	r->pos = p < r->len ? p : r->len;
}

size_t dsck_json_decode(const char *text, const struct dsck_json_tok *t,
			char *out, size_t cap)
{
	struct str_iter it;
	size_t k = 0;
	int c;
	if (t->end - t->pos == t->dec_len + 2) {
		/* raw as long as decoded: no escape, the bytes are the value */
		k = t->dec_len < cap - 1 ? t->dec_len : cap - 1;
		memcpy(out, text + t->pos + 1, k);
		out[k] = '\0';
		return t->dec_len;
	}
	str_iter_init(&it, (const unsigned char *)text, t->end, t->pos);
	while (k + 1 < cap && (c = str_iter_next(&it)) >= 0)
		out[k++] = (char)c;
	out[k] = '\0';
	return t->dec_len;
}

int dsck_json_tok_equals(const char *text, const struct dsck_json_tok *t,
			 const char *str, size_t n)
{
	struct str_iter it;
	if ((t->type != DSCK_JSON_KEY && t->type != DSCK_JSON_STRING) || t->dec_len != n)
		return 0;
	if (t->end - t->pos == n + 2) /* raw as long as decoded: no escape */
		return memcmp(text + t->pos + 1, str, n) == 0;
	str_iter_init(&it, (const unsigned char *)text, t->end, t->pos);
	for (size_t k = 0; k < n; k++)
		if (str_iter_next(&it) != (unsigned char)str[k])
			return 0;
	return 1;
}

int64_t dsck_json_root_key_find(const char *text, size_t len, const char *key,
				size_t key_len)
{
	struct dsck_json_reader r;
	struct dsck_json_tok t;
	dsck_json_reader_init(&r, text, len);
	dsck_json_next(&r, &t);
	if (t.type != DSCK_JSON_OBJ_BEGIN)
		return -1;
	for (;;) {
		dsck_json_next(&r, &t);
		if (t.type != DSCK_JSON_KEY)
			return -1;
		if (dsck_json_tok_equals(text, &t, key, key_len))
			return (int64_t)t.pos;
		dsck_json_next(&r, &t);
		dsck_json_skip(&r, &t);
	}
}

/* ---- pass 2: duplicate keys (J-R6) ------------------------------------ */

#define DUP_SMALL 8 /* keys compared pairwise before a hash set is built */

/* One key of a hash set: its position + 1 (0 = empty) and its hash, kept
 * so that growing never rehashes the text and a probe compares the decoded
 * strings only when the 32 hash bits agree (tensor names share long
 * prefixes, so string comparisons are the expensive part). */
struct dup_slot {
	uint32_t pos1;
	uint32_t hash;
};

/* The keys of one open object (arrays get an unused level too). */
struct dup_level {
	size_t n;                  /* keys so far */
	uint32_t small[DUP_SMALL]; /* their positions while n <= DUP_SMALL */
	struct dup_slot *slots;    /* then the hash set */
	size_t cap;                /* slots; a power of two, n <= cap / 2 */
};

/* FNV-1a over the decoded bytes of the key whose quote is at q. Bytes up
 * to the first escape are taken straight from the text. */
static uint64_t dup_hash(const unsigned char *s, size_t len, size_t q)
{
	struct str_iter it;
	uint64_t h = 1469598103934665603ull;
	size_t p = q + 1;
	int c;
	while (p < len && s[p] != '"' && s[p] != '\\') {
		h ^= s[p++];
		h *= 1099511628211ull;
	}
	str_iter_init(&it, s, len, p - 1);
	while ((c = str_iter_next(&it)) >= 0) {
		h ^= (unsigned char)c;
		h *= 1099511628211ull;
	}
	return h ^ (h >> 29);
}

/* Do the keys quoted at a and b unescape to the same bytes? While the raw
 * bytes agree and hold no escape, the decoded ones agree too; the first
 * raw difference decides unless an escape is involved. */
static int dup_equal(const unsigned char *s, size_t len, size_t a, size_t b)
{
	struct str_iter x, y;
	size_t i = 1;
	int c;
	while (a + i < len && b + i < len && s[a + i] == s[b + i] && s[a + i] != '\\') {
		if (s[a + i] == '"')
			return 1;
		i++;
	}
	if (a + i < len && b + i < len && s[a + i] != '\\' && s[b + i] != '\\')
		return 0;
	str_iter_init(&x, s, len, a + i - 1);
	str_iter_init(&y, s, len, b + i - 1);
	do {
		c = str_iter_next(&x);
		if (c != str_iter_next(&y))
			return 0;
	} while (c >= 0);
	return 1;
}

/* Slot for key q (hash h) in a table: the one holding an equal key, or an
 * empty one. q == SIZE_MAX only finds an empty slot (rehashing). */
static struct dup_slot *dup_probe(struct dup_slot *slots, size_t cap,
				  const unsigned char *s, size_t len, size_t q,
				  uint32_t h)
{
	size_t i = (size_t)h & (cap - 1);
	while (slots[i].pos1 &&
	       (q == SIZE_MAX || slots[i].hash != h || !dup_equal(s, len, slots[i].pos1 - 1u, q)))
		i = (i + 1) & (cap - 1);
	return &slots[i];
}

/* Grow lv's table to ncap slots (keys from lv->small when it has none). */
static int dup_rehash(struct dup_level *lv, size_t ncap, const unsigned char *s,
		      size_t len)
{
	struct dup_slot *ns = calloc(ncap, sizeof *ns);
	if (!ns)
		return -1;
	if (lv->slots) {
		for (size_t i = 0; i < lv->cap; i++)
			if (lv->slots[i].pos1)
				*dup_probe(ns, ncap, s, len, SIZE_MAX, lv->slots[i].hash) = lv->slots[i];
	} else {
		for (size_t i = 0; i < lv->n; i++) {
			uint32_t h = (uint32_t)dup_hash(s, len, lv->small[i]);
			struct dup_slot *d = dup_probe(ns, ncap, s, len, SIZE_MAX, h);
			d->pos1 = lv->small[i] + 1u;
			d->hash = h;
		}
	}
	free(lv->slots);
	lv->slots = ns;
	lv->cap = ncap;
	return 0;
}

/* Add the key quoted at q (q < DSCK_JSON_MAX_TEXT): 0 new, 1 already
 * there, -1 out of memory. */
static int dup_insert(struct dup_level *lv, const unsigned char *s, size_t len, size_t q)
{
	if (lv->n < DUP_SMALL) {
		for (size_t i = 0; i < lv->n; i++)
			if (dup_equal(s, len, lv->small[i], q))
				return 1;
		lv->small[lv->n++] = (uint32_t)q;
		return 0;
	}
	/* keep n + 1 <= cap / 2 (the first table: 32 slots for 9 keys) */
	if ((lv->n + 1) * 2 > lv->cap) {
		size_t ncap = lv->cap ? lv->cap * 2 : 4 * DUP_SMALL;
		if (ncap > SIZE_MAX / sizeof *lv->slots || dup_rehash(lv, ncap, s, len))
			return -1;
	}
	uint32_t h = (uint32_t)dup_hash(s, len, q);
	struct dup_slot *slot = dup_probe(lv->slots, lv->cap, s, len, q, h);
	if (slot->pos1)
		return 1;
	slot->pos1 = (uint32_t)q + 1u;
	slot->hash = h;
	lv->n++;
	return 0;
}

enum dsck_err dsck_json_dup_check(const char *text, size_t len, size_t start,
				  struct dsck_error *err)
{
	const unsigned char *s = (const unsigned char *)text;
	struct dup_level lv[DSCK_JSON_MAX_DEPTH];
	struct dsck_json_reader r;
	struct dsck_json_tok t;
	size_t depth = 0; /* open containers; lv[depth - 1] is the innermost */
	enum dsck_err rc = DSCK_OK;

	dsck_json_reader_init(&r, text, len);
	r.pos = start < len ? start : len;
	for (;;) {
		dsck_json_next(&r, &t);
		if (t.type == DSCK_JSON_END)
			break;
		if (t.type == DSCK_JSON_OBJ_BEGIN || t.type == DSCK_JSON_ARR_BEGIN) {
			if (depth == DSCK_JSON_MAX_DEPTH)
				break; /* the scan refused deeper texts (J-R4) */
			memset(&lv[depth++], 0, sizeof lv[0]);
		} else if (t.type == DSCK_JSON_OBJ_END || t.type == DSCK_JSON_ARR_END) {
			if (depth == 0)
				break;
			free(lv[--depth].slots);
		} else if (t.type == DSCK_JSON_KEY && depth > 0) {
			int r2 = dup_insert(&lv[depth - 1], s, len, t.pos);
			if (r2 < 0) {
				rc = dsck_error_set(err, DSCK_E_NOMEM, "duplicate-key set");
				goto out;
			}
			if (r2 > 0) {
				char name[DSCK_ERROR_FIELD];
				dsck_json_decode(text, &t, name, sizeof name);
				dsck_error_tensor(err, name);
				dsck_error_offset(err, (int64_t)t.pos);
				rc = dsck_error_set(err, DSCK_E_DUPLICATE_KEY, "key appears twice in one object");
				goto out;
			}
		}
		if (depth == 0)
			break; /* the value that began at start is complete */
	}
out:
	while (depth > 0)
		free(lv[--depth].slots);
	return rc;
}

enum dsck_err dsck_json_validate(const char *text, size_t len,
				 const struct dsck_json_opts *opts,
				 struct dsck_json_stats *stats,
				 struct dsck_error *err)
{
	struct dsck_json_stats local;
	struct dsck_error before;
	struct scan sc;
	enum dsck_err rc;

	if (!stats)
		stats = &local;
	memset(stats, 0, sizeof *stats);
	if (len > DSCK_JSON_MAX_TEXT) {
		dsck_error_expect(err, "at most %u bytes", DSCK_JSON_MAX_TEXT);
		dsck_error_found(err, "%zu bytes", len);
		rc = dsck_error_set(err, DSCK_E_LIMIT, "JSON document too large");
		goto out;
	}
	if (err)
		before = *err;
	memset(&sc, 0, sizeof sc);
	sc.s = (const unsigned char *)text;
	sc.len = len;
	sc.flags = opts->flags;
	sc.max_root = opts->max_root_members;
	sc.exempt = opts->exempt_key;
	sc.ex = EXEMPT_NONE;
	sc.st = stats;
	sc.err = err;
	rc = scan_document(&sc);
	if (rc) {
		/* J-R2 outranks every other rule (ST-R5 before ST-R6): a bad
		 * byte anywhere, even past the scan's error, is what is
		 * reported. A text the scan accepts is valid UTF-8 already. */
		size_t good = dsck_utf8_valid_prefix(text, len);
		if (good != len) {
			if (err)
				*err = before;
			dsck_error_offset(err, (int64_t)good);
			dsck_error_found(err, "byte 0x%02x", (unsigned char)text[good]);
			rc = dsck_error_set(err, DSCK_E_INVALID_UTF8, "invalid UTF-8 sequence");
		}
		goto out;
	}
	if (!(opts->flags & DSCK_JSON_CALLER_DUPS))
		rc = dsck_json_dup_check(text, len, 0, err);
out:
	return rc;
}

enum dsck_err dsck_json_dup_outrank(const char *text, size_t len, enum dsck_err rc,
				    const struct dsck_error *scanned, int64_t base,
				    struct dsck_error *err)
{
	struct dsck_error dup;
	if (err)
		dup = *scanned;
	else
		dsck_error_clear(&dup);
	if (dsck_json_dup_check(text, len, 0, &dup) != DSCK_E_DUPLICATE_KEY)
		return rc;
	if (dup.offset >= 0)
		dup.offset += base;
	if (err)
		*err = dup;
	return DSCK_E_DUPLICATE_KEY;
}
