/* strmap.c - open addressing with linear probing, load factor <= 1/2. */
#include "strmap.h"

#include <stdlib.h>
#include <string.h>

/* Eight bytes at a time, each word mixed by a multiply and a shift
 * (tensor names are 40-60 bytes: a per-byte hash was a measurable part of
 * opening the 671B index). Keys are not adversarially tuned beyond what the
 * tensor-count cap (formats.md L-R2) already bounds. */
static uint64_t strmap_hash(const char *key, size_t len)
{
	const uint64_t k = 0x9e3779b97f4a7c15ull;
	uint64_t h = (uint64_t)len * k, w;
	size_t i = 0;
	for (; i + 8 <= len; i += 8) {
		memcpy(&w, key + i, 8);
		h = (h ^ w) * k;
		h ^= h >> 32;
	}
	if (i < len) {
		w = 0;
		memcpy(&w, key + i, len - i);
		h = (h ^ w) * k;
		h ^= h >> 32;
	}
	return h ^ (h >> 29);
}

static struct dsck_strmap_slot *strmap_probe(struct dsck_strmap_slot *slots,
					     size_t cap, const char *key,
					     size_t len, uint64_t h)
{
	size_t i = (size_t)h & (cap - 1);
	for (;;) {
		struct dsck_strmap_slot *s = &slots[i];
		if (!s->key)
			return s;
		if (s->hash == h && s->len == len && memcmp(s->key, key, len) == 0)
			return s;
		i = (i + 1) & (cap - 1);
	}
}

static int strmap_resize(struct dsck_strmap *m, size_t ncap)
{
	if (ncap > SIZE_MAX / sizeof(struct dsck_strmap_slot))
		return -1;
	struct dsck_strmap_slot *ns = calloc(ncap, sizeof *ns);
	if (!ns)
		return -1;
	for (size_t i = 0; i < m->cap; i++) {
		struct dsck_strmap_slot *s = &m->slots[i];
		if (s->key)
			*strmap_probe(ns, ncap, s->key, s->len, s->hash) = *s;
	}
	free(m->slots);
	m->slots = ns;
	m->cap = ncap;
	return 0;
}

int dsck_strmap_reserve(struct dsck_strmap *m, size_t n)
{
	size_t ncap = m->cap ? m->cap : 16;
	if (n > SIZE_MAX / 4)
		return -1;
	while (ncap < 2 * n)
		ncap *= 2;
	return ncap == m->cap ? 0 : strmap_resize(m, ncap);
}

int dsck_strmap_insert(struct dsck_strmap *m, const char *key, size_t len,
		       uint32_t value, uint32_t *existing)
{
	if (len > UINT32_MAX)
		return -1;
	if ((m->count + 1) * 2 > m->cap && strmap_resize(m, m->cap ? m->cap * 2 : 16))
		return -1;
	uint64_t h = strmap_hash(key, len);
	struct dsck_strmap_slot *s = strmap_probe(m->slots, m->cap, key, len, h);
	if (s->key) {
		if (existing)
			*existing = s->value;
		return 1;
	}
	s->key = key;
	s->len = (uint32_t)len;
	s->value = value;
	s->hash = h;
	m->count++;
	return 0;
}

int dsck_strmap_find(const struct dsck_strmap *m, const char *key, size_t len,
		     uint32_t *value)
{
	if (m->cap == 0)
		return 0;
	uint64_t h = strmap_hash(key, len);
	struct dsck_strmap_slot *s = strmap_probe(m->slots, m->cap, key, len, h);
	if (!s->key)
		return 0;
	if (value)
		*value = s->value;
	return 1;
}

void dsck_strmap_release(struct dsck_strmap *m)
{
	free(m->slots);
	m->slots = NULL;
	m->cap = 0;
	m->count = 0;
}
