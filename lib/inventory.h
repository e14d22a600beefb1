/*
 * inventory.h - the tensors a config implies (formats.md §5, INV-R1..R8).
 *
 * For an FP8 checkpoint every 2-D projection inside a decoder block is
 * F8_E4M3 with a F32 "<name>_scale_inv" grid [ceil(out/br), ceil(in/bc)];
 * everything else is BF16 except e_score_correction_bias (F32). A BF16
 * checkpoint has the same names with BF16 projections and no scales. MTP
 * layers follow the main ones. For the 671B config: 91,991 tensors (90,427
 * main + 1,564 MTP), 688,574,839,360 payload bytes, 671,026,419,200 main
 * parameters (684,489,845,504 with MTP), 37,552,297,472 active per token.
 *
 * The config caps of CF-R4 alone allow ~25 million tensors (1024 layers x
 * 4096 experts x 6); an inventory is refused with DSCK_E_LIMIT above
 * DSCK_INVENTORY_MAX_TENSORS, decided from the count before any allocation.
 */
#ifndef DSCK_INVENTORY_H
#define DSCK_INVENTORY_H

#include "config.h"
#include "dtype.h"
#include "err.h"
#include "strmap.h"

#include <stddef.h>
#include <stdint.h>

/* Most tensors one inventory may hold (the largest real member, Kimi-K2,
 * has ~140k); bounds memory (~200 MB) and time for any accepted config. */
#define DSCK_INVENTORY_MAX_TENSORS 1000000u

/* What a tensor is, for split rules, stats and verify. */
enum dsck_role {
	DSCK_ROLE_EMBED,        /* embed_tokens (main and MTP) */
	DSCK_ROLE_HEAD,         /* lm_head, MTP shared_head.head */
	DSCK_ROLE_NORM,         /* any RMSNorm weight */
	DSCK_ROLE_PROJ,         /* a 2-D projection that is FP8 in an FP8 checkpoint */
	DSCK_ROLE_SCALE,        /* weight_scale_inv of a PROJ */
	DSCK_ROLE_ROUTER,       /* mlp.gate.weight */
	DSCK_ROLE_ROUTER_BIAS,  /* mlp.gate.e_score_correction_bias */
	DSCK_ROLE_EH_PROJ,      /* MTP eh_proj (BF16, no scale) */
};

struct dsck_inv_tensor {
	char *name;            /* HF name, owned by the inventory */
	enum dsck_dtype dtype;
	uint32_t ndim;
	uint64_t shape[2];
	uint64_t nbytes;
	enum dsck_role role;
	int64_t layer;         /* -1 for global tensors */
	int64_t expert;        /* routed expert index, -1 otherwise */
	int is_mtp;
	int64_t scale_of;      /* SCALE: index of its weight; else -1 */
	int64_t scale;         /* PROJ in FP8: index of its scale; else -1 */
};

struct dsck_inventory {
	size_t n;
	struct dsck_inv_tensor *t;     /* INV-R7 order: embed, layers 0..L-1, MTP layers, norm, lm_head */
	struct dsck_strmap by_name;
	uint64_t payload_bytes;        /* sum of nbytes */
	uint64_t params_main;          /* weight elements, scales excluded */
	uint64_t params_mtp;
	uint64_t params_active;        /* INV-R8: params_main minus the unselected routed
	                                  experts of each main MoE layer; whole embedding included */
	size_t n_main, n_mtp;          /* tensor counts (scales included) */
	struct dsck_inv_chunk *names_; /* private: storage of every name */
};

enum dsck_ckpt_dtype { DSCK_CKPT_FP8, DSCK_CKPT_BF16 };

/*
 * Number of tensors dsck_inventory_build would produce, in O(layers) time
 * and without allocating. DSCK_E_OVERFLOW cannot happen for a parsed config
 * (kept for hand-built ones).
 */
enum dsck_err dsck_inventory_count(const struct dsck_config *cfg,
				   enum dsck_ckpt_dtype dt, uint64_t *n,
				   struct dsck_error *err);

/*
 * Build the inventory of cfg for a checkpoint of kind dt. Owns its memory;
 * on error *inv is empty. DSCK_E_LIMIT above DSCK_INVENTORY_MAX_TENSORS,
 * DSCK_E_OVERFLOW if a size does not fit 64 bits, DSCK_E_NOMEM.
 */
enum dsck_err dsck_inventory_build(const struct dsck_config *cfg,
				   enum dsck_ckpt_dtype dt,
				   struct dsck_inventory *inv,
				   struct dsck_error *err);

/* Index of name or -1. */
long dsck_inventory_find(const struct dsck_inventory *inv, const char *name,
			 size_t len);

void dsck_inventory_release(struct dsck_inventory *inv);

#endif
