/* tok_regex.c - Split regexes widened to Unicode 16.0 classes (tok_regex.h). */
#include "tok_regex.h"

#include "tokenizer_ucd.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A growing text; NULL p after an allocation failure. */
struct buf {
	char *p;
	size_t len, cap;
};

static void put(struct buf *b, const char *s, size_t n)
{
	if (!b->p && b->cap)
		return; /* failed before */
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 64;
		while (cap < b->len + n + 1)
			cap *= 2;
		char *q = realloc(b->p, cap);
		if (!q) {
			free(b->p);
			b->p = NULL;
			b->cap = 1;
			return;
		}
		b->p = q;
		b->cap = cap;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

/* The ranges added to class c, as \x{lo}-\x{hi} items of a class. */
static void put_ranges(struct buf *b, char c)
{
	char item[40];
	for (size_t i = 0; i < sizeof dsck_ucd_added / sizeof dsck_ucd_added[0]; i++)
		if (dsck_ucd_added[i].cls == c) {
			int k = snprintf(item, sizeof item, "\\x{%X}-\\x{%X}",
					 (unsigned)dsck_ucd_added[i].lo, (unsigned)dsck_ucd_added[i].hi);
			put(b, item, (size_t)k);
		}
}

/* The class letter of the property escape at s[0..n) (s[0] is 'p' or 'P',
 * after the backslash) and its length, or 0 when it is not one we widen. */
static char property(const char *s, size_t n, size_t *len)
{
	char c = 0;
	if (n >= 2 && s[1] != '{') {
		c = s[1];
		*len = 2;
	} else if (n >= 4 && s[1] == '{' && s[3] == '}') {
		c = s[2];
		*len = 4;
	}
	return c && strchr("LMNPS", c) ? c : 0;
}

char *dsck_tok_regex_widen(const char *src, size_t n, size_t *out_len)
{
	struct buf b = { NULL, 0, 0 };
	int in_class = 0;
	size_t i = 0;
	while (i < n) {
		if (src[i] == '\\' && i + 1 < n) {
			size_t len = 0;
			char c = src[i + 1] == 'p' || src[i + 1] == 'P' ? property(src + i + 1, n - i - 1, &len) : 0;
			if (src[i + 1] == 'Q') { /* literal text up to \E */
				const char *e = NULL;
				for (size_t j = i + 2; j + 1 < n && !e; j++)
					if (src[j] == '\\' && src[j + 1] == 'E')
						e = src + j + 2;
				size_t k = e ? (size_t)(e - (src + i)) : n - i;
				put(&b, src + i, k);
				i += k;
				continue;
			}
			if (c && src[i + 1] == 'p') {
				char head[8];
				int k = snprintf(head, sizeof head, "%s\\p{%c}", in_class ? "" : "[", c);
				put(&b, head, (size_t)k);
				put_ranges(&b, c);
				if (!in_class)
					put(&b, "]", 1);
				i += 1 + len;
				continue;
			}
			if (c && !in_class) { /* \P{X}: not in the widened class */
				char head[8];
				int k = snprintf(head, sizeof head, "[^\\p{%c}", c);
				put(&b, head, (size_t)k);
				put_ranges(&b, c);
				put(&b, "]", 1);
				i += 1 + len;
				continue;
			}
			put(&b, src + i, 2); /* any other escape, as it is */
			i += 2;
			continue;
		}
		if (!in_class && src[i] == '[') {
			size_t k = 1;
			if (i + k < n && src[i + k] == '^')
				k++;
			if (i + k < n && src[i + k] == ']') /* a leading ] is literal */
				k++;
			put(&b, src + i, k);
			i += k;
			in_class = 1;
			continue;
		}
		if (in_class && src[i] == '[' && i + 1 < n && src[i + 1] == ':') {
			const char *e = strstr(src + i, ":]"); /* POSIX [:name:] */
			size_t k = e && (size_t)(e - src) + 2 <= n ? (size_t)(e - (src + i)) + 2 : 1;
			put(&b, src + i, k);
			i += k;
			continue;
		}
		if (in_class && src[i] == ']')
			in_class = 0;
		put(&b, src + i, 1);
		i++;
	}
	if (!b.p && !b.cap)
		put(&b, "", 0); /* an empty pattern */
	if (b.p)
		*out_len = b.len;
	return b.p;
}
