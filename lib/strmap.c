/* strmap.c - open addressing with linear probing, load factor <= 1/2. */
#include "strmap.h"

#include <stdlib.h>
#include <string.h>

/* FNV-1a, 64-bit: keys are tensor names, short and not adversarially tuned
 * beyond what the tensor-count cap (formats.md L-R2) already bounds. */
static uint64_t strmap_hash(const char *key, size_t len)
{
	uint64_t h = 1469598103934665603ull;
	for (size_t i = 0; i < len; i++) {
		h ^= (unsigned char)key[i];
		h *= 1099511628211ull;
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

static int strmap_grow(struct dsck_strmap *m)
{
	size_t ncap = m->cap ? m->cap * 2 : 16;
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

int dsck_strmap_insert(struct dsck_strmap *m, const char *key, size_t len,
		       uint32_t value, uint32_t *existing)
{
	if (len > UINT32_MAX)
		return -1;
	if ((m->count + 1) * 2 > m->cap && strmap_grow(m))
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
