/*
 * inventory.c - the tensors a config implies (inventory.h; formats.md §5,
 * INV-R1..INV-R8).
 *
 * Two steps. dsck_inventory_count computes the tensor count from the config
 * alone (O(layers), no allocation) so the cap DSCK_INVENTORY_MAX_TENSORS is
 * enforced before anything is allocated; the config's own caps (CF-R4) would
 * otherwise allow ~25 million tensors. dsck_inventory_build then allocates
 * exactly that many entries and emits them in INV-R7 order; it refuses to
 * write past the count, so the two can never disagree silently (the unit
 * tests also compare them for every family).
 *
 * Shapes are [out, in] (torch Linear layout) for projections, [n] for
 * vectors. Every element count, byte size and total is computed with the
 * checked helpers of arith.h (G-R2): configs are untrusted, and a hand-built
 * struct need not have passed dsck_config_parse.
 *
 * Names live in 64 KiB chunks owned by the inventory (a few hundred chunks
 * for the 671B model instead of 92k small allocations).
 */
#include "inventory.h"
#include "arith.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#define INV_CHUNK_BYTES (64u * 1024u)
/* Longest name: "model.layers.2047.mlp.experts.4095.gate_proj.weight_scale_inv"
 * is 62 bytes; room to spare for hand-built configs with 20-digit numbers. */
#define INV_NAME_MAX 160

struct dsck_inv_chunk {
	struct dsck_inv_chunk *next;
	size_t used;              /* bytes of data in use */
	char data[INV_CHUNK_BYTES];
};

struct inv_builder {
	const struct dsck_config *cfg;
	struct dsck_inventory *inv;
	size_t cap;               /* entries allocated in inv->t (the count) */
	int fp8;                  /* INV-R6: projections F8_E4M3 with scales */
	struct dsck_error *err;
};

/* The layer being emitted: its name prefix "model.layers.L." and flags. */
struct inv_layer {
	char prefix[40];
	size_t prefix_len;
	int64_t layer;
	int is_mtp;
};

/*
 * Names are assembled with memcpy and inv_put_u64, not snprintf: 92k names
 * for the 671B config made formatting most of building the inventory.
 * inv_cat writes a (an bytes) then b (NUL-terminated) into dst[cap] and
 * returns the length, or -1 when it does not fit (nothing then is used).
 */
static int inv_cat(char *dst, size_t cap, const char *a, size_t an, const char *b)
{
	size_t bn = strlen(b);
	if (an >= cap || bn >= cap - an)
		return -1;
	memcpy(dst, a, an);
	memcpy(dst + an, b, bn + 1);
	return (int)(an + bn);
}

/* Decimal digits of v at dst (room for 20), no NUL; returns their count. */
static size_t inv_put_u64(char *dst, uint64_t v)
{
	char tmp[20];
	size_t n = 0;
	do {
		tmp[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	for (size_t i = 0; i < n; i++)
		dst[i] = tmp[n - 1 - i];
	return n;
}

/* ---- counting ------------------------------------------------------- */

/* Tensors of one projection: the weight, plus its scale in FP8 (INV-R6). */
static uint64_t inv_proj_tensors(int fp8)
{
	return fp8 ? 2 : 1;
}

enum dsck_err dsck_inventory_count(const struct dsck_config *cfg,
				   enum dsck_ckpt_dtype dt, uint64_t *n,
				   struct dsck_error *err)
{
	const uint64_t p = inv_proj_tensors(dt == DSCK_CKPT_FP8);
	uint64_t layers, total;

	/* Every layer has at least 7 tensors, so more layers than the cap can
	 * never fit; decided first so the loop below stays short. */
	if (dsck_add_u64(cfg->num_hidden_layers, cfg->num_nextn_predict_layers,
			 &layers) || layers > DSCK_INVENTORY_MAX_TENSORS) {
		dsck_error_expect(err, "at most %u tensors", DSCK_INVENTORY_MAX_TENSORS);
		dsck_error_found(err, "more than %llu layers",
				 (unsigned long long)DSCK_INVENTORY_MAX_TENSORS);
		return dsck_error_set(err, DSCK_E_LIMIT,
				      "the config implies too many tensors");
	}

	/* INV-R2: two norms, kv_a_layernorm, kv_a, kv_b, o; q_a + q_a_layernorm
	 * + q_b with a q LoRA, else q_proj. */
	uint64_t attn = 3 + 3 * p + (cfg->q_lora_rank ? 1 + 2 * p : p);
	uint64_t dense = 3 * p; /* INV-R3 */
	/* INV-R4: router, bias iff noaux_tc, 3 per routed expert, 3 shared. */
	uint64_t moe = 0, experts = 0;
	if (dsck_mul_u64(cfg->n_routed_experts, 3 * p, &experts) ||
	    dsck_add_u64(experts, 1 + (cfg->topk_method == DSCK_TOPK_NOAUX_TC) +
				  (cfg->n_shared_experts ? 3 * p : 0), &moe))
		goto overflow;
	const uint64_t mtp_extra = 6; /* INV-R5 */

	total = cfg->tie_word_embeddings ? 2 : 3; /* INV-R1 */
	for (uint64_t l = 0; l < layers; l++) {
		uint64_t per = attn;
		if (dsck_add_u64(per, dsck_config_layer_is_moe(cfg, l) ? moe : dense,
				 &per))
			goto overflow;
		if (l >= cfg->num_hidden_layers &&
		    dsck_add_u64(per, mtp_extra, &per))
			goto overflow;
		if (dsck_add_u64(total, per, &total))
			goto overflow;
	}
	*n = total;
	return DSCK_OK;
overflow:
	return dsck_error_set(err, DSCK_E_OVERFLOW,
			      "tensor count of the config overflows 64 bits");
}

/* ---- emitting ------------------------------------------------------- */

/* Copy a name into the chunk storage; NULL when out of memory. */
static char *inv_store_name(struct dsck_inventory *inv, const char *s,
			    size_t len)
{
	struct dsck_inv_chunk *c = inv->names_;
	if (!c || INV_CHUNK_BYTES - c->used < len + 1) {
		c = malloc(sizeof *c);
		if (!c)
			return NULL;
		c->next = inv->names_;
		c->used = 0;
		inv->names_ = c;
	}
	char *dst = c->data + c->used;
	memcpy(dst, s, len);
	dst[len] = '\0';
	c->used += len + 1;
	return dst;
}

/*
 * Append one tensor: name is prefix + suffix, shape [d0] (ndim 1) or
 * [d0, d1]. Accumulates payload and parameter totals (INV-R8: scales are
 * not parameters). *idx receives its index.
 */
static enum dsck_err inv_push(struct inv_builder *b, const struct inv_layer *ly,
			      const char *suffix, enum dsck_dtype dtype,
			      uint32_t ndim, uint64_t d0, uint64_t d1,
			      enum dsck_role role, int64_t expert, size_t *idx)
{
	struct dsck_inventory *inv = b->inv;
	char name[INV_NAME_MAX];
	int len = inv_cat(name, sizeof name, ly ? ly->prefix : "",
			  ly ? ly->prefix_len : 0, suffix);
	uint64_t numel = d0, nbytes = 0;

	if (len < 0) {
		dsck_error_tensor(b->err, suffix);
		return dsck_error_set(b->err, DSCK_E_LIMIT, "tensor name too long");
	}
	if (inv->n >= b->cap) /* the count and the emitter disagree: a bug */
		return dsck_error_set(b->err, DSCK_E_LIMIT,
				      "inventory larger than its count");
	if ((ndim == 2 && dsck_mul_u64(d0, d1, &numel)) ||
	    dsck_dtype_nbytes(dtype, numel, &nbytes) ||
	    dsck_add_u64(inv->payload_bytes, nbytes, &inv->payload_bytes))
		goto overflow;
	if (role != DSCK_ROLE_SCALE) {
		uint64_t *params = ly && ly->is_mtp ? &inv->params_mtp
						    : &inv->params_main;
		if (dsck_add_u64(*params, numel, params))
			goto overflow;
	}

	struct dsck_inv_tensor *t = &inv->t[inv->n];
	t->name = inv_store_name(inv, name, (size_t)len);
	if (!t->name)
		return dsck_error_set(b->err, DSCK_E_NOMEM, "inventory names");
	t->dtype = dtype;
	t->ndim = ndim;
	t->shape[0] = d0;
	t->shape[1] = ndim == 2 ? d1 : 0;
	t->nbytes = nbytes;
	t->role = role;
	t->layer = ly ? ly->layer : -1;
	t->expert = expert;
	t->is_mtp = ly ? ly->is_mtp : 0;
	t->scale_of = -1;
	t->scale = -1;
	if (t->is_mtp)
		inv->n_mtp++;
	else
		inv->n_main++;
	*idx = inv->n++;
	return DSCK_OK;
overflow:
	dsck_error_tensor(b->err, name);
	return dsck_error_set(b->err, DSCK_E_OVERFLOW,
			      "size of the tensor overflows 64 bits");
}

/* A 1-D BF16 RMSNorm weight [n]. */
static enum dsck_err inv_norm(struct inv_builder *b, const struct inv_layer *ly,
			      const char *suffix, uint64_t n)
{
	size_t i;
	return inv_push(b, ly, suffix, DSCK_BF16, 1, n, 0, DSCK_ROLE_NORM, -1, &i);
}

/*
 * A projection "<stem>.weight" [out, in]: F8_E4M3 followed by
 * "<stem>.weight_scale_inv" F32 [ceil(out/br), ceil(in/bc)] in an FP8
 * checkpoint, BF16 alone otherwise (INV-R6).
 */
static enum dsck_err inv_proj(struct inv_builder *b, const struct inv_layer *ly,
			      const char *stem, uint64_t out, uint64_t in,
			      int64_t expert)
{
	char suffix[96];  /* stems are at most 63 bytes (inv_ffn, literals) */
	size_t w = 0, s = 0;
	enum dsck_err rc;
	uint64_t so = 0, si = 0;

	size_t stem_len = strlen(stem);
	if (inv_cat(suffix, sizeof suffix, stem, stem_len, ".weight") < 0) {
		dsck_error_tensor(b->err, stem);
		return dsck_error_set(b->err, DSCK_E_LIMIT, "tensor name too long");
	}
	rc = inv_push(b, ly, suffix, b->fp8 ? DSCK_F8_E4M3 : DSCK_BF16, 2, out,
		      in, DSCK_ROLE_PROJ, expert, &w);
	if (rc || !b->fp8)
		return rc;
	if (dsck_ceil_div_u64(out, b->cfg->block_rows, &so) ||
	    dsck_ceil_div_u64(in, b->cfg->block_cols, &si)) {
		dsck_error_tensor(b->err, b->inv->t[w].name);
		return dsck_error_set(b->err, DSCK_E_CONFIG_RANGE,
				      "weight_block_size has a zero entry");
	}
	if (inv_cat(suffix, sizeof suffix, stem, stem_len, ".weight_scale_inv") < 0) {
		dsck_error_tensor(b->err, stem);
		return dsck_error_set(b->err, DSCK_E_LIMIT, "tensor name too long");
	}
	rc = inv_push(b, ly, suffix, DSCK_F32, 2, so, si, DSCK_ROLE_SCALE, expert,
		      &s);
	if (rc)
		return rc;
	b->inv->t[w].scale = (int64_t)s;
	b->inv->t[s].scale_of = (int64_t)w;
	return DSCK_OK;
}

/* The three projections of one SwiGLU FFN: gate/up [inter, hidden], down
 * [hidden, inter]; stem is "mlp", "mlp.experts.E" or "mlp.shared_experts". */
static enum dsck_err inv_ffn(struct inv_builder *b, const struct inv_layer *ly,
			     const char *stem, uint64_t inter, int64_t expert)
{
	static const char *const part[3] = { ".gate_proj", ".up_proj", ".down_proj" };
	const uint64_t h = b->cfg->hidden_size;
	char s[64];       /* stem <= 47 bytes + ".gate_proj" */
	size_t n = strlen(stem);
	enum dsck_err rc = DSCK_OK;

	for (int k = 0; k < 3 && rc == DSCK_OK; k++) {
		if (inv_cat(s, sizeof s, stem, n, part[k]) < 0) {
			dsck_error_tensor(b->err, stem);
			return dsck_error_set(b->err, DSCK_E_LIMIT, "tensor name too long");
		}
		/* gate, up: [inter, hidden]; down: [hidden, inter] */
		rc = inv_proj(b, ly, s, k < 2 ? inter : h, k < 2 ? h : inter, expert);
	}
	return rc;
}

/* A dimension product of the config (heads·(nope+rope) and the like). */
static enum dsck_err inv_dim(struct inv_builder *b, uint64_t a, uint64_t m,
			     uint64_t c, uint64_t *out)
{
	uint64_t s;
	if (dsck_add_u64(m, c, &s) || dsck_mul_u64(a, s, out))
		return dsck_error_set(b->err, DSCK_E_OVERFLOW,
				      "a dimension of the config overflows 64 bits");
	return DSCK_OK;
}

/* INV-R2: the attention block of one layer, norms first. */
static enum dsck_err inv_attention(struct inv_builder *b,
				   const struct inv_layer *ly)
{
	const struct dsck_config *c = b->cfg;
	const uint64_t h = c->hidden_size;
	uint64_t q_out = 0, kv_a_out = 0, kv_b_out = 0, o_in = 0;
	enum dsck_err rc;

	if ((rc = inv_dim(b, c->num_attention_heads, c->qk_nope_head_dim,
			  c->qk_rope_head_dim, &q_out)) ||
	    (rc = inv_dim(b, 1, c->kv_lora_rank, c->qk_rope_head_dim, &kv_a_out)) ||
	    (rc = inv_dim(b, c->num_attention_heads, c->qk_nope_head_dim,
			  c->v_head_dim, &kv_b_out)) ||
	    (rc = inv_dim(b, c->num_attention_heads, c->v_head_dim, 0, &o_in)))
		return rc;

	if ((rc = inv_norm(b, ly, "input_layernorm.weight", h)) ||
	    (rc = inv_norm(b, ly, "post_attention_layernorm.weight", h)))
		return rc;
	if (c->q_lora_rank) {
		if ((rc = inv_proj(b, ly, "self_attn.q_a_proj", c->q_lora_rank, h, -1)) ||
		    (rc = inv_norm(b, ly, "self_attn.q_a_layernorm.weight",
				   c->q_lora_rank)) ||
		    (rc = inv_proj(b, ly, "self_attn.q_b_proj", q_out,
				   c->q_lora_rank, -1)))
			return rc;
	} else if ((rc = inv_proj(b, ly, "self_attn.q_proj", q_out, h, -1))) {
		return rc;
	}
	if ((rc = inv_proj(b, ly, "self_attn.kv_a_proj_with_mqa", kv_a_out, h, -1)) ||
	    (rc = inv_norm(b, ly, "self_attn.kv_a_layernorm.weight", c->kv_lora_rank)) ||
	    (rc = inv_proj(b, ly, "self_attn.kv_b_proj", kv_b_out, c->kv_lora_rank, -1)))
		return rc;
	return inv_proj(b, ly, "self_attn.o_proj", h, o_in, -1);
}

/* INV-R4: router, bias (noaux_tc), routed experts ascending, shared. */
static enum dsck_err inv_moe(struct inv_builder *b, const struct inv_layer *ly)
{
	const struct dsck_config *c = b->cfg;
	const uint64_t e_n = c->n_routed_experts;
	enum dsck_err rc;
	size_t i;
	uint64_t shared_inter = 0;

	if ((rc = inv_push(b, ly, "mlp.gate.weight", DSCK_BF16, 2, e_n,
			   c->hidden_size, DSCK_ROLE_ROUTER, -1, &i)))
		return rc;
	if (c->topk_method == DSCK_TOPK_NOAUX_TC &&
	    (rc = inv_push(b, ly, "mlp.gate.e_score_correction_bias", DSCK_F32, 1,
			   e_n, 0, DSCK_ROLE_ROUTER_BIAS, -1, &i)))
		return rc;
	char stem[48] = "mlp.experts."; /* + at most 20 digits */
	const size_t stem_len = sizeof "mlp.experts." - 1;
	for (uint64_t e = 0; e < e_n; e++) {
		stem[stem_len + inv_put_u64(stem + stem_len, e)] = '\0';
		if ((rc = inv_ffn(b, ly, stem, c->moe_intermediate_size, (int64_t)e)))
			return rc;
	}
	if (!c->n_shared_experts)
		return DSCK_OK;
	if ((rc = inv_dim(b, c->n_shared_experts, c->moe_intermediate_size, 0,
			  &shared_inter)))
		return rc;
	return inv_ffn(b, ly, "mlp.shared_experts", shared_inter, -1);
}

/* INV-R5: what an MTP layer adds after its decoder block, all BF16. */
static enum dsck_err inv_mtp(struct inv_builder *b, const struct inv_layer *ly)
{
	const uint64_t h = b->cfg->hidden_size, v = b->cfg->vocab_size;
	uint64_t h2 = 0;
	enum dsck_err rc;
	size_t i;

	if ((rc = inv_dim(b, 2, h, 0, &h2)))
		return rc;
	if ((rc = inv_norm(b, ly, "enorm.weight", h)) ||
	    (rc = inv_norm(b, ly, "hnorm.weight", h)) ||
	    (rc = inv_push(b, ly, "eh_proj.weight", DSCK_BF16, 2, h, h2,
			   DSCK_ROLE_EH_PROJ, -1, &i)) ||
	    (rc = inv_push(b, ly, "embed_tokens.weight", DSCK_BF16, 2, v, h,
			   DSCK_ROLE_EMBED, -1, &i)) ||
	    (rc = inv_norm(b, ly, "shared_head.norm.weight", h)))
		return rc;
	return inv_push(b, ly, "shared_head.head.weight", DSCK_BF16, 2, v, h,
			DSCK_ROLE_HEAD, -1, &i);
}

static enum dsck_err inv_emit(struct inv_builder *b)
{
	const struct dsck_config *c = b->cfg;
	const uint64_t layers = c->num_hidden_layers + c->num_nextn_predict_layers;
	enum dsck_err rc;
	size_t i;

	/* INV-R1, INV-R7: embedding first. */
	if ((rc = inv_push(b, NULL, "model.embed_tokens.weight", DSCK_BF16, 2,
			   c->vocab_size, c->hidden_size, DSCK_ROLE_EMBED, -1, &i)))
		return rc;
	for (uint64_t l = 0; l < layers; l++) {
		struct inv_layer ly;
		size_t k = sizeof "model.layers." - 1;
		memcpy(ly.prefix, "model.layers.", k);
		k += inv_put_u64(ly.prefix + k, l);
		ly.prefix[k++] = '.';
		ly.prefix[k] = '\0';
		ly.prefix_len = k;
		ly.layer = (int64_t)l;
		ly.is_mtp = l >= c->num_hidden_layers;
		if ((rc = inv_attention(b, &ly)))
			return rc;
		if (dsck_config_layer_is_moe(c, l))
			rc = inv_moe(b, &ly);
		else
			rc = inv_ffn(b, &ly, "mlp", c->intermediate_size, -1);
		if (rc)
			return rc;
		if (ly.is_mtp && (rc = inv_mtp(b, &ly)))
			return rc;
	}
	if ((rc = inv_push(b, NULL, "model.norm.weight", DSCK_BF16, 1,
			   c->hidden_size, 0, DSCK_ROLE_NORM, -1, &i)))
		return rc;
	if (!c->tie_word_embeddings &&
	    (rc = inv_push(b, NULL, "lm_head.weight", DSCK_BF16, 2, c->vocab_size,
			   c->hidden_size, DSCK_ROLE_HEAD, -1, &i)))
		return rc;
	return DSCK_OK;
}

/*
 * INV-R8: active parameters per token = main parameters minus, for each
 * main MoE layer, the routed experts a token does not visit
 * (n_routed - experts_per_tok, each 3·moe_inter·hidden weights).
 */
static enum dsck_err inv_active(struct inv_builder *b)
{
	const struct dsck_config *c = b->cfg;
	struct dsck_inventory *inv = b->inv;
	uint64_t per_expert, idle, unused = 0, moe_layers = 0;

	for (uint64_t l = 0; l < c->num_hidden_layers; l++)
		moe_layers += (uint64_t)dsck_config_layer_is_moe(c, l);
	idle = c->n_routed_experts > c->num_experts_per_tok
		       ? c->n_routed_experts - c->num_experts_per_tok : 0;
	if (dsck_mul_u64(c->moe_intermediate_size, c->hidden_size, &per_expert) ||
	    dsck_mul_u64(per_expert, 3, &per_expert) ||
	    dsck_mul_u64(per_expert, idle, &unused) ||
	    dsck_mul_u64(unused, moe_layers, &unused) ||
	    dsck_sub_u64(inv->params_main, unused, &inv->params_active))
		return dsck_error_set(b->err, DSCK_E_OVERFLOW,
				      "active parameter count overflows 64 bits");
	return DSCK_OK;
}

enum dsck_err dsck_inventory_build(const struct dsck_config *cfg,
				   enum dsck_ckpt_dtype dt,
				   struct dsck_inventory *inv,
				   struct dsck_error *err)
{
	struct inv_builder b = { cfg, inv, 0, dt == DSCK_CKPT_FP8, err };
	uint64_t count = 0;
	size_t n;
	enum dsck_err rc;

	memset(inv, 0, sizeof *inv);
	inv->by_name = (struct dsck_strmap)DSCK_STRMAP_INIT;
	rc = dsck_inventory_count(cfg, dt, &count, err);
	if (rc)
		goto out;
	if (count > DSCK_INVENTORY_MAX_TENSORS || dsck_u64_to_size(count, &n)) {
		dsck_error_expect(err, "at most %u tensors", DSCK_INVENTORY_MAX_TENSORS);
		dsck_error_found(err, "%llu tensors", (unsigned long long)count);
		rc = dsck_error_set(err, DSCK_E_LIMIT,
				    "the config implies too many tensors");
		goto out;
	}
	inv->t = calloc(n, sizeof *inv->t);
	if (!inv->t) {
		rc = dsck_error_set(err, DSCK_E_NOMEM, "inventory of %zu tensors", n);
		goto out;
	}
	b.cap = n;
	rc = inv_emit(&b);
	if (rc)
		goto out;
	if (inv->n != n) {
		rc = dsck_error_set(err, DSCK_E_LIMIT, "inventory smaller than its count");
		goto out;
	}
	rc = inv_active(&b);
	if (rc)
		goto out;
	if (dsck_strmap_reserve(&inv->by_name, n)) {
		rc = dsck_error_set(err, DSCK_E_NOMEM, "inventory name map");
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		const char *name = inv->t[i].name;
		int r = dsck_strmap_insert(&inv->by_name, name, strlen(name),
					   (uint32_t)i, NULL);
		if (r < 0) {
			rc = dsck_error_set(err, DSCK_E_NOMEM, "inventory name map");
			goto out;
		}
		if (r > 0) { /* names are unique by construction */
			dsck_error_tensor(err, name);
			rc = dsck_error_set(err, DSCK_E_INVALID_NAME,
					    "duplicate name in the inventory");
			goto out;
		}
	}
out:
	if (rc)
		dsck_inventory_release(inv);
	return rc;
}

long dsck_inventory_find(const struct dsck_inventory *inv, const char *name,
			 size_t len)
{
	uint32_t v;
	if (!name || !dsck_strmap_find(&inv->by_name, name, len, &v))
		return -1;
	return (long)v;
}

void dsck_inventory_release(struct dsck_inventory *inv)
{
	struct dsck_inv_chunk *c = inv->names_;
	while (c) {
		struct dsck_inv_chunk *next = c->next;
		free(c);
		c = next;
	}
	free(inv->t);
	dsck_strmap_release(&inv->by_name);
	memset(inv, 0, sizeof *inv);
}
