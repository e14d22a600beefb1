/*
 * jsonw.c - the JSON text writer (jsonw.h): buffer growth, string escaping
 * under the four policies, number formatting.
 *
 * Growth doubles from JSONW_FIRST_CAP, so n appends cost O(total) copies;
 * with a caller limit the capacity never exceeds limit + 1, so a document
 * refused for its size never allocated more than the limit (L-R1: a
 * safetensors header over 100 MB is refused, not built).
 */
#include "jsonw.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define JSONW_FIRST_CAP 4096u

/* Make room for n more bytes plus the NUL; 0 on success, else latches. */
static int jsonw_reserve(struct dsck_jsonw *w, size_t n)
{
	size_t need, cap;

	if (w->nomem || w->over)
		return -1;
	if (__builtin_add_overflow(w->len, n, &need) || need == SIZE_MAX) {
		w->nomem = 1;
		return -1;
	}
	if (w->limit && need > w->limit) {
		w->over = 1;
		return -1;
	}
	need++; /* the NUL */
	if (need <= w->cap)
		return 0;
	cap = w->cap ? w->cap : JSONW_FIRST_CAP;
	while (cap < need) {
		if (cap > SIZE_MAX / 2) {
			cap = need;
			break;
		}
		cap *= 2;
	}
	if (w->limit && cap > w->limit + 1)
		cap = w->limit + 1; /* >= need: need - 1 <= limit above */
	char *np = realloc(w->p, cap);
	if (!np) {
		w->nomem = 1;
		return -1;
	}
	w->p = np;
	w->cap = cap;
	return 0;
}

void dsck_jsonw_put(struct dsck_jsonw *w, const void *s, size_t n)
{
	if (jsonw_reserve(w, n) != 0)
		return;
	if (n)
		memcpy(w->p + w->len, s, n);
	w->len += n;
	w->p[w->len] = '\0';
}

void dsck_jsonw_puts(struct dsck_jsonw *w, const char *s)
{
	dsck_jsonw_put(w, s, strlen(s));
}

void dsck_jsonw_printf(struct dsck_jsonw *w, const char *fmt, ...)
{
	char tmp[256];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(tmp, sizeof tmp, fmt, ap);
	va_end(ap);
	if (n < 0) {
		w->nomem = 1; /* an encoding error: the text would be wrong */
		return;
	}
	if ((size_t)n < sizeof tmp) {
		dsck_jsonw_put(w, tmp, (size_t)n);
		return;
	}
	/* Longer than the stack buffer: format straight into the text. */
	if (jsonw_reserve(w, (size_t)n) != 0)
		return;
	va_start(ap, fmt);
	vsnprintf(w->p + w->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	w->len += (size_t)n;
}

void dsck_jsonw_u64(struct dsck_jsonw *w, uint64_t v)
{
	char tmp[24];
	int n = snprintf(tmp, sizeof tmp, "%llu", (unsigned long long)v);
	dsck_jsonw_put(w, tmp, (size_t)n);
}

void dsck_jsonw_double(struct dsck_jsonw *w, double v, int as_float)
{
	char tmp[40];

	if (!isfinite(v)) {
		dsck_jsonw_puts(w, "null");
		return;
	}
	/* Below 2^53 Python prints an integral float in positional form
	 * (repr switches to an exponent only from 1e16 on). */
	if (v == floor(v) && fabs(v) < 9007199254740992.0) {
		dsck_jsonw_printf(w, as_float ? "%.1f" : "%.0f", v);
		return;
	}
	for (int prec = 1; prec <= 17; prec++) {
		snprintf(tmp, sizeof tmp, "%.*g", prec, v);
		if (strtod(tmp, NULL) == v)
			break;
	}
	dsck_jsonw_puts(w, tmp);
}

/*
 * Decode one UTF-8 sequence at s (n bytes left, n >= 1). Returns its length
 * and sets *cp, or 0 for an invalid sequence (truncated, overlong,
 * surrogate, above U+10FFFF), the J-R2 rules.
 */
static size_t jsonw_utf8_next(const unsigned char *s, size_t n, uint32_t *cp)
{
	uint32_t c = s[0], min;
	size_t len;

	if (c < 0x80) {
		*cp = c;
		return 1;
	} else if ((c & 0xE0) == 0xC0) {
		len = 2, c &= 0x1F, min = 0x80;
	} else if ((c & 0xF0) == 0xE0) {
		len = 3, c &= 0x0F, min = 0x800;
	} else if ((c & 0xF8) == 0xF0) {
		len = 4, c &= 0x07, min = 0x10000;
	} else {
		return 0;
	}
	if (len > n)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xC0) != 0x80)
			return 0;
		c = (c << 6) | (s[i] & 0x3F);
	}
	if (c < min || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF))
		return 0;
	*cp = c;
	return len;
}

/* The short escape of an ASCII byte (the same under both policies), or
 * NULL if it has none. */
static const char *jsonw_short_escape(unsigned c)
{
	switch (c) {
	case '"': return "\\\"";
	case '\\': return "\\\\";
	case '\n': return "\\n";
	case '\r': return "\\r";
	case '\t': return "\\t";
	case '\b': return "\\b";
	case '\f': return "\\f";
	default: return NULL;
	}
}

/* Does ASCII byte c (no short escape) need a \u escape under esc? */
static int jsonw_needs_u(unsigned c, enum dsck_jsonw_esc esc)
{
	if (c < 0x20)
		return 1;
	return c == 0x7F && esc == DSCK_JSONW_ASCII;
}

int dsck_jsonw_str(struct dsck_jsonw *w, const char *s, enum dsck_jsonw_esc esc)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t n = strlen(s), run = 0; /* run: raw bytes not yet appended */
	char u[16];

	dsck_jsonw_put(w, "\"", 1);
	while (run < n) {
		const unsigned char *at = p + run;
		size_t left = n - run, k = 1;
		uint32_t cp = at[0];
		const char *e = NULL;

		if (cp >= 0x80) {
			if (esc != DSCK_JSONW_ASCII) {
				run++;
				continue;
			}
			k = jsonw_utf8_next(at, left, &cp);
			if (k == 0)
				return -1;
			if (cp < 0x10000) {
				snprintf(u, sizeof u, "\\u%04x", (unsigned)cp);
			} else {
				uint32_t v = cp - 0x10000;
				snprintf(u, sizeof u, "\\u%04x\\u%04x",
					 (unsigned)(0xD800 + (v >> 10)),
					 (unsigned)(0xDC00 + (v & 0x3FF)));
			}
			e = u;
		} else if ((e = jsonw_short_escape(cp)) == NULL) {
			if (!jsonw_needs_u(cp, esc)) {
				run++;
				continue;
			}
			snprintf(u, sizeof u, "\\u%04x", (unsigned)cp);
			e = u;
		}
		/* Flush the raw run before this character, then its escape. */
		dsck_jsonw_put(w, p, run);
		dsck_jsonw_puts(w, e);
		p = at + k;
		n = left - k;
		run = 0;
	}
	dsck_jsonw_put(w, p, run);
	dsck_jsonw_put(w, "\"", 1);
	return 0;
}

enum dsck_err dsck_jsonw_check(const struct dsck_jsonw *w, const char *what,
			       struct dsck_error *err)
{
	if (w->over) {
		dsck_error_expect(err, "at most %zu bytes", w->limit);
		return dsck_error_set(err, DSCK_E_LIMIT, "%s too large", what);
	}
	if (w->nomem)
		return dsck_error_set(err, DSCK_E_NOMEM, "%s", what);
	return DSCK_OK;
}

char *dsck_jsonw_take(struct dsck_jsonw *w, size_t *len)
{
	char *p = NULL;

	if (!w->nomem && !w->over && w->p) {
		p = w->p;
		if (len)
			*len = w->len;
		w->p = NULL;
	} else if (len) {
		*len = 0;
	}
	dsck_jsonw_release(w);
	return p;
}

void dsck_jsonw_release(struct dsck_jsonw *w)
{
	size_t limit = w->limit;
	free(w->p);
	*w = (struct dsck_jsonw)DSCK_JSONW_INIT;
	w->limit = limit;
}
