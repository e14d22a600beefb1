/*
 * fuzz_config.c - libFuzzer target for config.json parsing and the
 * inventory it implies (formats.md §4, §5).
 *
 * Every input goes through dsck_config_parse; an accepted config is turned
 * into both inventories (FP8 and BF16) and released. What this guards:
 * no crash, leak or undefined behaviour on any text; and no accepted config
 * can make the inventory allocate or loop without bound: the CF-R4 caps
 * still allow ~25 million tensors, so dsck_inventory_build refuses more
 * than DSCK_INVENTORY_MAX_TENSORS from the count alone (LIMIT) before it
 * allocates. Invariants of a built inventory are asserted with
 * __builtin_trap so a violation is a crash the fuzzer reports.
 *
 *   make fuzz    (seeds: tests/fuzz/seeds/fuzz_config/)
 */
#include "config.h"
#include "inventory.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fuzz_check(int cond)
{
	if (!cond)
		__builtin_trap();
}

static void fuzz_inventory(const struct dsck_config *cfg, enum dsck_ckpt_dtype dt)
{
	struct dsck_inventory inv;
	struct dsck_error err;
	uint64_t count = 0;

	dsck_error_clear(&err);
	enum dsck_err rc_count = dsck_inventory_count(cfg, dt, &count, &err);
	enum dsck_err rc = dsck_inventory_build(cfg, dt, &inv, &err);
	if (rc != DSCK_OK) {
		/* Only resource or size refusals are possible for a parsed config. */
		fuzz_check(rc == DSCK_E_LIMIT || rc == DSCK_E_OVERFLOW ||
			   rc == DSCK_E_NOMEM);
		fuzz_check(inv.n == 0 && inv.t == NULL);
		return;
	}
	fuzz_check(rc_count == DSCK_OK && count == inv.n);
	fuzz_check(inv.n <= DSCK_INVENTORY_MAX_TENSORS);
	fuzz_check(inv.n == inv.n_main + inv.n_mtp);
	fuzz_check(inv.params_active <= inv.params_main);
	/* Spot checks: first, last and a lookup of each. */
	fuzz_check(strcmp(inv.t[0].name, "model.embed_tokens.weight") == 0);
	fuzz_check(dsck_inventory_find(&inv, inv.t[inv.n - 1].name,
				       strlen(inv.t[inv.n - 1].name)) ==
		   (long)inv.n - 1);
	(void)dsck_config_family_name(cfg);
	dsck_inventory_release(&inv);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct dsck_config cfg;
	struct dsck_error err;

	dsck_error_clear(&err);
	if (dsck_config_parse((const char *)data, size, &cfg, &err) != DSCK_OK)
		return 0;
	fuzz_inventory(&cfg, DSCK_CKPT_FP8);
	fuzz_inventory(&cfg, DSCK_CKPT_BF16);
	return 0;
}
