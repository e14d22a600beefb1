/*
 * strmap.h - open-addressing hash map from byte strings to uint32 values.
 *
 * Used for O(1) tensor lookup by name and for duplicate detection (formats.md
 * J-R6: a hash set, never a linear scan, so 10^6 keys stay linear time).
 * The map borrows its keys: the caller keeps each key's bytes alive and
 * unchanged for as long as the map is used. The map owns only its slot array.
 */
#ifndef DSCK_STRMAP_H
#define DSCK_STRMAP_H

#include <stddef.h>
#include <stdint.h>

struct dsck_strmap_slot {
	const char *key; /* NULL: empty slot */
	uint32_t len;
	uint32_t value;
	uint64_t hash;
};

struct dsck_strmap {
	struct dsck_strmap_slot *slots;
	size_t cap;   /* power of two, or 0 */
	size_t count;
};

#define DSCK_STRMAP_INIT { NULL, 0, 0 }

/*
 * Insert key -> value. Returns 0 if inserted, 1 if the key was already
 * present (then *existing, if not NULL, receives its value and nothing
 * changes), -1 if out of memory.
 */
int dsck_strmap_insert(struct dsck_strmap *m, const char *key, size_t len,
		       uint32_t value, uint32_t *existing);

/* Make room for n keys in all, so inserting them never regrows (and never
 * holds two tables at once). Returns 0, or -1 if out of memory. */
int dsck_strmap_reserve(struct dsck_strmap *m, size_t n);

/* Look key up: returns 1 and sets *value if present, else 0. */
int dsck_strmap_find(const struct dsck_strmap *m, const char *key, size_t len,
		     uint32_t *value);

/* Free the slot array and reset to empty. Accepts an empty map. */
void dsck_strmap_release(struct dsck_strmap *m);

#endif
