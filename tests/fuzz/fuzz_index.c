/*
 * fuzz_index.c - libFuzzer entry for the index.json reader (IX-R1..IX-R4):
 * any bytes must give DSCK_OK or a clean error, never a crash, a leak or a
 * read outside the input. Seeds: tests/fuzz/seeds/fuzz_index/.
 */
#include "index.h"

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct dsck_index idx;
	struct dsck_error err;

	dsck_error_clear(&err);
	if (dsck_index_parse((const char *)data, size, "fuzz", &idx, &err) == DSCK_OK) {
		/* Exercise the lookups the checkpoint layer relies on. */
		for (size_t i = 0; i < idx.n; i++) {
			uint32_t v;
			const char *name = idx.entries[i].name;
			size_t len = 0;
			while (name[len])
				len++;
			if (!dsck_strmap_find(&idx.by_name, name, len, &v) || v != i ||
			    idx.entries[i].shard >= idx.n_shards)
				__builtin_trap();
		}
		dsck_index_release(&idx);
	}
	return 0;
}
