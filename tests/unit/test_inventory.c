/*
 * test_inventory.c - the expected tensor inventory (lib/inventory.c)
 * against formats.md §5, INV-R1..INV-R8: the published 671B figures
 * (91,991 tensors, 688,574,839,360 payload bytes, 671,026,419,200 main and
 * 684,489,845,504 total parameters), per-tensor names, dtypes, shapes,
 * roles and scale links, the order, BF16 checkpoints, the smaller family
 * members (Kimi-K2, Moonlight, DeepSeek-V2-Lite) and the tensor-count cap.
 */
#include "../test.h"
#include "fixtures.h"
#include "../../lib/inventory.h"

#include <cjson/cJSON.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- helpers -------------------------------------------------------- */

/*
 * Parse base with edits applied: "key", "raw JSON" pairs, NULL-terminated;
 * raw NULL deletes the key. Fails the test run on a parse error.
 */
static int cfg_make(struct dsck_config *cfg, const char *base, ...)
{
	cJSON *root = cJSON_Parse(base);
	va_list ap;
	va_start(ap, base);
	for (;;) {
		const char *key = va_arg(ap, const char *);
		if (!key)
			break;
		const char *raw = va_arg(ap, const char *);
		cJSON_DeleteItemFromObjectCaseSensitive(root, key);
		if (raw)
			cJSON_AddItemToObject(root, key, cJSON_CreateRaw(raw));
	}
	va_end(ap);
	char *text = cJSON_PrintUnformatted(root);
	cJSON_Delete(root);
	struct dsck_error err;
	enum dsck_err rc = dsck_config_parse(text, strlen(text), cfg, &err);
	cJSON_free(text);
	if (rc)
		printf("# config: %s: %s %s\n", dsck_err_name(rc), err.tensor, err.detail);
	return rc == DSCK_OK;
}

static const struct dsck_inv_tensor *find(const struct dsck_inventory *inv,
					  const char *name)
{
	long i = dsck_inventory_find(inv, name, strlen(name));
	return i < 0 ? NULL : &inv->t[i];
}

/* Check one tensor: dtype, shape [d0] (d1 == 0 and ndim 1) or [d0, d1]. */
static void check_tensor(const struct dsck_inventory *inv, const char *name,
			 enum dsck_dtype dt, uint32_t ndim, uint64_t d0,
			 uint64_t d1, enum dsck_role role)
{
	const struct dsck_inv_tensor *t = find(inv, name);
	CHECK(t && t->dtype == dt && t->ndim == ndim && t->shape[0] == d0 &&
	      (ndim == 1 || t->shape[1] == d1) && t->role == role,
	      "%s is %s [%llu%s%llu] role %d", name, dsck_dtype_name(dt),
	      (unsigned long long)d0, ndim == 2 ? ", " : "",
	      ndim == 2 ? (unsigned long long)d1 : 0ull, (int)role);
	if (t && (t->dtype != dt || t->shape[0] != d0 || t->shape[1] != d1))
		printf("#   got %s [%llu, %llu] role %d\n", dsck_dtype_name(t->dtype),
		       (unsigned long long)t->shape[0],
		       (unsigned long long)t->shape[1], (int)t->role);
}

/* An FP8 projection and its scale: F8_E4M3 [out, in], scale F32 [so, si]
 * right after it (INV-R6, INV-R7), linked both ways. */
static void check_proj(const struct dsck_inventory *inv, const char *name,
		       uint64_t out, uint64_t in, uint64_t so, uint64_t si)
{
	char sname[256];
	snprintf(sname, sizeof sname, "%s_scale_inv", name);
	check_tensor(inv, name, DSCK_F8_E4M3, 2, out, in, DSCK_ROLE_PROJ);
	check_tensor(inv, sname, DSCK_F32, 2, so, si, DSCK_ROLE_SCALE);
	long w = dsck_inventory_find(inv, name, strlen(name));
	long s = dsck_inventory_find(inv, sname, strlen(sname));
	CHECK(w >= 0 && s == w + 1 && inv->t[w].scale == s &&
	      inv->t[s].scale_of == w, "INV-R7: %s is followed by its scale", name);
}

static int absent(const struct dsck_inventory *inv, const char *name)
{
	return dsck_inventory_find(inv, name, strlen(name)) < 0;
}

/*
 * Invariants every inventory keeps, checked over all tensors (one CHECK per
 * invariant, not per tensor): lookup, scale links, dtypes, MTP flags,
 * byte and parameter totals, layer order, experts ascending.
 */
static void check_invariants(const char *label, const struct dsck_inventory *inv,
			     const struct dsck_config *cfg, int fp8)
{
	int lookup = 1, links = 1, dtypes = 1, mtp = 1, bytes = 1, order = 1;
	int experts = 1;
	uint64_t payload = 0, pmain = 0, pmtp = 0;
	size_t nmain = 0, nmtp = 0;
	int64_t last_layer = -1, last_expert = -1;

	for (size_t i = 0; i < inv->n; i++) {
		const struct dsck_inv_tensor *t = &inv->t[i];
		uint64_t numel = t->ndim == 2 ? t->shape[0] * t->shape[1] : t->shape[0];
		lookup &= dsck_inventory_find(inv, t->name, strlen(t->name)) == (long)i;
		if (t->role == DSCK_ROLE_PROJ && fp8)
			links &= t->scale == (int64_t)i + 1 &&
				 inv->t[i + 1].scale_of == (int64_t)i &&
				 inv->t[i + 1].role == DSCK_ROLE_SCALE &&
				 inv->t[i + 1].shape[0] ==
					 (t->shape[0] + cfg->block_rows - 1) / cfg->block_rows &&
				 inv->t[i + 1].shape[1] ==
					 (t->shape[1] + cfg->block_cols - 1) / cfg->block_cols &&
				 strncmp(inv->t[i + 1].name, t->name, strlen(t->name)) == 0 &&
				 strcmp(inv->t[i + 1].name + strlen(t->name), "_scale_inv") == 0;
		else if (t->role == DSCK_ROLE_SCALE)
			links &= fp8 && t->scale_of == (int64_t)i - 1 && t->scale == -1;
		else
			links &= t->scale == -1 && t->scale_of == -1;
		switch (t->role) {
		case DSCK_ROLE_PROJ:
			dtypes &= t->ndim == 2 &&
				  t->dtype == (fp8 ? DSCK_F8_E4M3 : DSCK_BF16);
			break;
		case DSCK_ROLE_SCALE:
		case DSCK_ROLE_ROUTER_BIAS:
			dtypes &= t->dtype == DSCK_F32;
			break;
		default:
			dtypes &= t->dtype == DSCK_BF16;
		}
		mtp &= t->is_mtp == (t->layer >= (int64_t)cfg->num_hidden_layers);
		bytes &= t->nbytes == numel * dsck_dtype_bits(t->dtype) / 8;
		payload += t->nbytes;
		if (t->is_mtp) {
			nmtp++;
			pmtp += t->role == DSCK_ROLE_SCALE ? 0 : numel;
		} else {
			nmain++;
			pmain += t->role == DSCK_ROLE_SCALE ? 0 : numel;
		}
		/* INV-R7: embed, layers ascending, then norm and head. */
		if (i == 0)
			order &= strcmp(t->name, "model.embed_tokens.weight") == 0;
		else if (t->layer >= 0) {
			order &= t->layer >= last_layer;
			if (t->layer != last_layer)
				last_expert = -1;
			last_layer = t->layer;
		} else {
			order &= strcmp(t->name, "model.norm.weight") == 0 ||
				 strcmp(t->name, "lm_head.weight") == 0;
		}
		if (t->expert >= 0) {
			experts &= t->expert >= last_expert;
			last_expert = t->expert;
		}
	}
	CHECK(lookup, "%s: every name maps back to its index", label);
	CHECK(links, "%s: scale links (INV-R6, INV-R7)", label);
	CHECK(dtypes, "%s: dtypes by role (INV-R1..R6)", label);
	CHECK(mtp, "%s: is_mtp iff layer >= num_hidden_layers", label);
	CHECK(bytes, "%s: nbytes = numel x dtype size", label);
	CHECK(order, "%s: INV-R7 order", label);
	CHECK(experts, "%s: experts ascending within a layer", label);
	CHECK_EQ_U64(payload, inv->payload_bytes, "%s: payload_bytes is the sum", label);
	CHECK_EQ_U64(pmain, inv->params_main, "%s: params_main is the sum (INV-R8)", label);
	CHECK_EQ_U64(pmtp, inv->params_mtp, "%s: params_mtp is the sum (INV-R8)", label);
	CHECK(nmain == inv->n_main && nmtp == inv->n_mtp && nmain + nmtp == inv->n,
	      "%s: n_main + n_mtp = n", label);
	uint64_t count = 0;
	struct dsck_error err;
	CHECK(dsck_inventory_count(cfg, fp8 ? DSCK_CKPT_FP8 : DSCK_CKPT_BF16,
				   &count, &err) == DSCK_OK && count == inv->n,
	      "%s: dsck_inventory_count agrees with the build", label);
}

/* ---- 671B --------------------------------------------------------------- */

static void test_671b_fp8(void)
{
	struct dsck_config c;
	struct dsck_inventory inv;
	struct dsck_error err;
	if (!cfg_make(&c, fixture_config(FIXTURE_671B), NULL) ||
	    dsck_inventory_build(&c, DSCK_CKPT_FP8, &inv, &err) != DSCK_OK) {
		CHECK(0, "671B FP8 inventory builds (%s)", err.detail);
		return;
	}
	/* formats.md §5 figures. */
	CHECK_EQ_U64(inv.n, 91991, "671B: 91,991 tensors");
	CHECK_EQ_U64(inv.n_main, 90427, "671B: 90,427 main tensors");
	CHECK_EQ_U64(inv.n_mtp, 1564, "671B: 1,564 MTP tensors");
	CHECK_EQ_U64(inv.payload_bytes, 688574839360ull, "671B: 688,574,839,360 payload bytes");
	CHECK_EQ_U64(inv.params_main, 671026419200ull, "671B: 671,026,419,200 main parameters");
	CHECK_EQ_U64(inv.params_main + inv.params_mtp, 684489845504ull,
		     "671B: 684,489,845,504 parameters with MTP");
	CHECK_EQ_U64(inv.params_mtp, 13463426304ull, "671B: 13,463,426,304 MTP parameters");
	/* INV-R8: 58 MoE layers x 248 idle experts x 3·2048·7168. */
	CHECK_EQ_U64(inv.params_active, 671026419200ull - 58ull * 248 * 44040192,
		     "671B: active parameters (INV-R8)");
	CHECK_EQ_U64(inv.params_active, 37552297472ull, "671B: 37,552,297,472 active");

	/* Per dtype (deepseek-v3.md §2.6). */
	uint64_t cnt[DSCK_DTYPE_COUNT] = { 0 }, by[DSCK_DTYPE_COUNT] = { 0 };
	for (size_t i = 0; i < inv.n; i++) {
		cnt[inv.t[i].dtype]++;
		by[inv.t[i].dtype] += inv.t[i].nbytes;
	}
	CHECK_EQ_U64(cnt[DSCK_F8_E4M3], 45808, "671B: 45,808 F8_E4M3 tensors");
	CHECK_EQ_U64(cnt[DSCK_F32], 45867, "671B: 45,867 F32 tensors (scales + 59 biases)");
	CHECK_EQ_U64(cnt[DSCK_BF16], 316, "671B: 316 BF16 tensors");
	CHECK_EQ_U64(by[DSCK_F8_E4M3], 680571043840ull, "671B: F8 bytes");
	CHECK_EQ_U64(by[DSCK_BF16], 7837573120ull, "671B: BF16 bytes");
	CHECK_EQ_U64(by[DSCK_F32], 166222400ull, "671B: F32 bytes");

	/* INV-R1 globals and the order of INV-R7. */
	check_tensor(&inv, "model.embed_tokens.weight", DSCK_BF16, 2, 129280, 7168,
		     DSCK_ROLE_EMBED);
	check_tensor(&inv, "model.norm.weight", DSCK_BF16, 1, 7168, 0, DSCK_ROLE_NORM);
	check_tensor(&inv, "lm_head.weight", DSCK_BF16, 2, 129280, 7168, DSCK_ROLE_HEAD);
	CHECK(strcmp(inv.t[0].name, "model.embed_tokens.weight") == 0 &&
	      inv.t[0].layer == -1, "INV-R7: embed_tokens first");
	CHECK(strcmp(inv.t[1].name, "model.layers.0.input_layernorm.weight") == 0 &&
	      strcmp(inv.t[2].name, "model.layers.0.post_attention_layernorm.weight") == 0 &&
	      strcmp(inv.t[3].name, "model.layers.0.self_attn.q_a_proj.weight") == 0 &&
	      strcmp(inv.t[4].name, "model.layers.0.self_attn.q_a_proj.weight_scale_inv") == 0 &&
	      strcmp(inv.t[5].name, "model.layers.0.self_attn.q_a_layernorm.weight") == 0,
	      "INV-R7: layer 0 starts with its norms, then q_a_proj and its scale");
	CHECK(strcmp(inv.t[inv.n - 2].name, "model.norm.weight") == 0 &&
	      strcmp(inv.t[inv.n - 1].name, "lm_head.weight") == 0,
	      "INV-R7: model.norm then lm_head last");
	CHECK(strcmp(inv.t[inv.n - 3].name, "model.layers.61.shared_head.head.weight") == 0 &&
	      strcmp(inv.t[inv.n - 8].name, "model.layers.61.enorm.weight") == 0 &&
	      strcmp(inv.t[inv.n - 9].name,
		     "model.layers.61.mlp.shared_experts.down_proj.weight_scale_inv") == 0,
	      "INV-R7: MTP extras follow the MTP decoder block");

	/* INV-R2 attention with block scales (deepseek-v3.md §2.3). */
	check_proj(&inv, "model.layers.0.self_attn.q_a_proj.weight", 1536, 7168, 12, 56);
	check_tensor(&inv, "model.layers.0.self_attn.q_a_layernorm.weight", DSCK_BF16, 1,
		     1536, 0, DSCK_ROLE_NORM);
	check_proj(&inv, "model.layers.0.self_attn.q_b_proj.weight", 24576, 1536, 192, 12);
	check_proj(&inv, "model.layers.0.self_attn.kv_a_proj_with_mqa.weight", 576, 7168,
		   5, 56);
	check_tensor(&inv, "model.layers.0.self_attn.kv_a_layernorm.weight", DSCK_BF16, 1,
		     512, 0, DSCK_ROLE_NORM);
	check_proj(&inv, "model.layers.0.self_attn.kv_b_proj.weight", 32768, 512, 256, 4);
	check_proj(&inv, "model.layers.0.self_attn.o_proj.weight", 7168, 16384, 56, 128);
	check_proj(&inv, "model.layers.60.self_attn.o_proj.weight", 7168, 16384, 56, 128);
	CHECK(absent(&inv, "model.layers.0.self_attn.q_proj.weight"),
	      "INV-R2: no q_proj with a q LoRA");

	/* INV-R3 dense layers 0..2. */
	check_proj(&inv, "model.layers.0.mlp.gate_proj.weight", 18432, 7168, 144, 56);
	check_proj(&inv, "model.layers.2.mlp.up_proj.weight", 18432, 7168, 144, 56);
	check_proj(&inv, "model.layers.2.mlp.down_proj.weight", 7168, 18432, 56, 144);
	CHECK(absent(&inv, "model.layers.2.mlp.gate.weight") &&
	      absent(&inv, "model.layers.3.mlp.gate_proj.weight"),
	      "INV-R3: layer 2 dense, layer 3 MoE");

	/* INV-R4 MoE layers 3..61. */
	check_tensor(&inv, "model.layers.3.mlp.gate.weight", DSCK_BF16, 2, 256, 7168,
		     DSCK_ROLE_ROUTER);
	check_tensor(&inv, "model.layers.3.mlp.gate.e_score_correction_bias", DSCK_F32,
		     1, 256, 0, DSCK_ROLE_ROUTER_BIAS);
	CHECK(absent(&inv, "model.layers.3.mlp.gate.weight_scale_inv"),
	      "INV-R6: the router has no scale");
	check_proj(&inv, "model.layers.3.mlp.experts.0.gate_proj.weight", 2048, 7168, 16, 56);
	check_proj(&inv, "model.layers.3.mlp.experts.255.down_proj.weight", 7168, 2048,
		   56, 16);
	check_proj(&inv, "model.layers.3.mlp.shared_experts.gate_proj.weight", 2048, 7168,
		   16, 56);
	check_proj(&inv, "model.layers.60.mlp.shared_experts.down_proj.weight", 7168, 2048,
		   56, 16);
	CHECK(absent(&inv, "model.layers.3.mlp.experts.256.gate_proj.weight"),
	      "INV-R4: experts 0..255 only");
	const struct dsck_inv_tensor *t =
		find(&inv, "model.layers.3.mlp.experts.255.down_proj.weight");
	CHECK(t && t->expert == 255 && t->layer == 3 && !t->is_mtp,
	      "expert 255 of layer 3 is tagged so");
	t = find(&inv, "model.layers.3.mlp.shared_experts.down_proj.weight");
	CHECK(t && t->expert == -1, "shared experts have expert -1");

	/* INV-R5 MTP layer 61. */
	check_tensor(&inv, "model.layers.61.eh_proj.weight", DSCK_BF16, 2, 7168, 14336,
		     DSCK_ROLE_EH_PROJ);
	CHECK(absent(&inv, "model.layers.61.eh_proj.weight_scale_inv"),
	      "INV-R5: eh_proj has no scale");
	check_tensor(&inv, "model.layers.61.enorm.weight", DSCK_BF16, 1, 7168, 0,
		     DSCK_ROLE_NORM);
	check_tensor(&inv, "model.layers.61.hnorm.weight", DSCK_BF16, 1, 7168, 0,
		     DSCK_ROLE_NORM);
	check_tensor(&inv, "model.layers.61.embed_tokens.weight", DSCK_BF16, 2, 129280,
		     7168, DSCK_ROLE_EMBED);
	check_tensor(&inv, "model.layers.61.shared_head.norm.weight", DSCK_BF16, 1, 7168,
		     0, DSCK_ROLE_NORM);
	check_tensor(&inv, "model.layers.61.shared_head.head.weight", DSCK_BF16, 2,
		     129280, 7168, DSCK_ROLE_HEAD);
	check_tensor(&inv, "model.layers.61.mlp.gate.e_score_correction_bias", DSCK_F32,
		     1, 256, 0, DSCK_ROLE_ROUTER_BIAS);
	check_proj(&inv, "model.layers.61.mlp.experts.255.up_proj.weight", 2048, 7168,
		   16, 56);
	t = find(&inv, "model.layers.61.self_attn.kv_b_proj.weight");
	CHECK(t && t->is_mtp && t->layer == 61, "layer 61 tensors are MTP");
	t = find(&inv, "model.layers.60.self_attn.kv_b_proj.weight");
	CHECK(t && !t->is_mtp, "layer 60 tensors are main");
	CHECK(absent(&inv, "model.layers.62.input_layernorm.weight") &&
	      absent(&inv, "model.layers.60.eh_proj.weight"),
	      "no layer 62; MTP extras only in MTP layers");

	/* Lookup takes an explicit length. */
	CHECK(dsck_inventory_find(&inv, "lm_head.weightXYZ", 14) == (long)inv.n - 1,
	      "find uses the given length");
	CHECK(dsck_inventory_find(&inv, "lm_head.weigh", 13) == -1 &&
	      dsck_inventory_find(&inv, "", 0) == -1 &&
	      dsck_inventory_find(&inv, NULL, 0) == -1, "unknown names are -1");

	check_invariants("671B FP8", &inv, &c, 1);
	dsck_inventory_release(&inv);
	CHECK(inv.n == 0 && inv.t == NULL && inv.names_ == NULL,
	      "release empties the inventory");
	dsck_inventory_release(&inv); /* twice is harmless */
}

static void test_671b_bf16(void)
{
	struct dsck_config c;
	struct dsck_inventory inv;
	struct dsck_error err;
	if (!cfg_make(&c, fixture_config(FIXTURE_671B), NULL) ||
	    dsck_inventory_build(&c, DSCK_CKPT_BF16, &inv, &err) != DSCK_OK) {
		CHECK(0, "671B BF16 inventory builds");
		return;
	}
	/* Same weights, no scales: 91,991 - 45,808 tensors. */
	CHECK_EQ_U64(inv.n, 91991 - 45808, "INV-R6: BF16 671B has 46,183 tensors");
	size_t scales = 0, f8 = 0;
	for (size_t i = 0; i < inv.n; i++) {
		scales += inv.t[i].role == DSCK_ROLE_SCALE;
		f8 += inv.t[i].dtype == DSCK_F8_E4M3;
	}
	CHECK(scales == 0 && f8 == 0, "INV-R6: BF16 inventory has no scales, no F8");
	check_tensor(&inv, "model.layers.0.self_attn.kv_a_proj_with_mqa.weight", DSCK_BF16,
		     2, 576, 7168, DSCK_ROLE_PROJ);
	CHECK(absent(&inv, "model.layers.0.self_attn.kv_a_proj_with_mqa.weight_scale_inv"),
	      "INV-R6: no weight_scale_inv in BF16");
	check_tensor(&inv, "model.layers.3.mlp.gate.e_score_correction_bias", DSCK_F32,
		     1, 256, 0, DSCK_ROLE_ROUTER_BIAS);
	/* Parameters do not depend on the dtype; bytes: 2 per weight, 4 per
	 * bias element (59 layers x 256). */
	CHECK_EQ_U64(inv.params_main, 671026419200ull, "BF16 671B main parameters");
	CHECK_EQ_U64(inv.params_mtp, 13463426304ull, "BF16 671B MTP parameters");
	CHECK_EQ_U64(inv.payload_bytes, 2 * 684489845504ull + 2 * 59 * 256,
		     "BF16 671B payload bytes");
	check_invariants("671B BF16", &inv, &c, 0);
	dsck_inventory_release(&inv);
}

/* INV-R1: tie_word_embeddings drops lm_head. */
static void test_tied(void)
{
	struct dsck_config c;
	struct dsck_inventory inv;
	struct dsck_error err;
	if (!cfg_make(&c, fixture_config(FIXTURE_671B), "tie_word_embeddings", "true", NULL) ||
	    dsck_inventory_build(&c, DSCK_CKPT_FP8, &inv, &err) != DSCK_OK) {
		CHECK(0, "tied 671B builds");
		return;
	}
	CHECK_EQ_U64(inv.n, 91990, "INV-R1: tied embeddings, one tensor fewer");
	CHECK(absent(&inv, "lm_head.weight") &&
	      strcmp(inv.t[inv.n - 1].name, "model.norm.weight") == 0,
	      "INV-R1: no lm_head when tied; model.norm last");
	CHECK_EQ_U64(inv.params_main, 671026419200ull - 129280ull * 7168,
		     "tied: main parameters lose the head");
	dsck_inventory_release(&inv);
}

/* A non-128 block shape changes the scale grid (INV-R6). */
static void test_block_shape(void)
{
	struct dsck_config c;
	struct dsck_inventory inv;
	struct dsck_error err;
	if (!cfg_make(&c, fixture_config(FIXTURE_671B), "quantization_config",
		      "{\"quant_method\":\"fp8\",\"weight_block_size\":[64,256]}", NULL) ||
	    dsck_inventory_build(&c, DSCK_CKPT_FP8, &inv, &err) != DSCK_OK) {
		CHECK(0, "671B with 64x256 blocks builds");
		return;
	}
	/* kv_a [576, 7168]: ceil(576/64) = 9, ceil(7168/256) = 28. */
	check_tensor(&inv, "model.layers.0.self_attn.kv_a_proj_with_mqa.weight_scale_inv",
		     DSCK_F32, 2, 9, 28, DSCK_ROLE_SCALE);
	/* kv_b [32768, 512]: 512 rows blocks, 2 column blocks. */
	check_tensor(&inv, "model.layers.0.self_attn.kv_b_proj.weight_scale_inv",
		     DSCK_F32, 2, 512, 2, DSCK_ROLE_SCALE);
	check_invariants("671B 64x256", &inv, &c, 1);
	dsck_inventory_release(&inv);
}

/* ---- the other family members ---------------------------------------- */

static void test_v2_lite(void)
{
	struct dsck_config c;
	struct dsck_inventory inv;
	struct dsck_error err;
	if (!cfg_make(&c, fixture_config(FIXTURE_V2_LITE), NULL) ||
	    dsck_inventory_build(&c, DSCK_CKPT_BF16, &inv, &err) != DSCK_OK) {
		CHECK(0, "V2-Lite builds");
		return;
	}
	/* 3 globals + 1 dense layer (7 attention + 3) + 26 MoE layers
	 * (7 + router + 64·3 + 3 shared). */
	CHECK_EQ_U64(inv.n, 3 + 10 + 26 * (7 + 1 + 192 + 3), "V2-Lite: 5,291 tensors");
	check_tensor(&inv, "model.layers.0.self_attn.q_proj.weight", DSCK_BF16, 2,
		     16 * 192, 2048, DSCK_ROLE_PROJ);
	CHECK(absent(&inv, "model.layers.0.self_attn.q_a_proj.weight") &&
	      absent(&inv, "model.layers.0.self_attn.q_a_layernorm.weight"),
	      "INV-R2: V2-Lite has q_proj, no q LoRA");
	check_tensor(&inv, "model.layers.0.self_attn.kv_b_proj.weight", DSCK_BF16, 2,
		     16 * 256, 512, DSCK_ROLE_PROJ);
	check_tensor(&inv, "model.layers.0.mlp.gate_proj.weight", DSCK_BF16, 2, 10944,
		     2048, DSCK_ROLE_PROJ);
	check_tensor(&inv, "model.layers.1.mlp.gate.weight", DSCK_BF16, 2, 64, 2048,
		     DSCK_ROLE_ROUTER);
	check_tensor(&inv, "model.layers.26.mlp.shared_experts.gate_proj.weight",
		     DSCK_BF16, 2, 2 * 1408, 2048, DSCK_ROLE_PROJ);
	check_tensor(&inv, "model.layers.26.mlp.experts.63.down_proj.weight", DSCK_BF16,
		     2, 2048, 1408, DSCK_ROLE_PROJ);
	int bias = 0;
	for (size_t i = 0; i < inv.n; i++)
		bias |= inv.t[i].role == DSCK_ROLE_ROUTER_BIAS;
	CHECK(!bias, "INV-R4: greedy V2-Lite has no e_score_correction_bias");
	CHECK(inv.n_mtp == 0 && inv.params_mtp == 0, "V2-Lite has no MTP");
	CHECK_EQ_U64(inv.params_main, 15706484224ull, "V2-Lite: 15,706,484,224 parameters");
	/* 26 MoE layers x 58 idle experts x 3·1408·2048. */
	CHECK_EQ_U64(inv.params_active, 15706484224ull - 26ull * 58 * 3 * 1408 * 2048,
		     "V2-Lite: active parameters (INV-R8)");
	check_invariants("V2-Lite BF16", &inv, &c, 0);
	dsck_inventory_release(&inv);
	if (dsck_inventory_build(&c, DSCK_CKPT_FP8, &inv, &err) == DSCK_OK) {
		/* An FP8 plan of a BF16 config uses the default 128x128 block. */
		check_tensor(&inv, "model.layers.0.self_attn.q_proj.weight_scale_inv",
			     DSCK_F32, 2, 24, 16, DSCK_ROLE_SCALE);
		check_invariants("V2-Lite FP8", &inv, &c, 1);
		dsck_inventory_release(&inv);
	} else {
		CHECK(0, "V2-Lite FP8 builds");
	}
}

static void test_moonlight(void)
{
	struct dsck_config c;
	struct dsck_inventory inv;
	struct dsck_error err;
	if (!cfg_make(&c, fixture_config(FIXTURE_MOONLIGHT), NULL) ||
	    dsck_inventory_build(&c, DSCK_CKPT_BF16, &inv, &err) != DSCK_OK) {
		CHECK(0, "Moonlight builds");
		return;
	}
	/* As V2-Lite plus one bias per MoE layer. */
	CHECK_EQ_U64(inv.n, 3 + 10 + 26 * (7 + 2 + 192 + 3), "Moonlight: 5,317 tensors");
	check_tensor(&inv, "model.layers.1.mlp.gate.e_score_correction_bias", DSCK_F32,
		     1, 64, 0, DSCK_ROLE_ROUTER_BIAS);
	CHECK(absent(&inv, "model.layers.0.mlp.gate.e_score_correction_bias"),
	      "no bias in the dense layer 0");
	check_tensor(&inv, "model.layers.0.self_attn.q_proj.weight", DSCK_BF16, 2,
		     16 * 192, 2048, DSCK_ROLE_PROJ);
	check_tensor(&inv, "model.layers.0.mlp.down_proj.weight", DSCK_BF16, 2, 2048,
		     11264, DSCK_ROLE_PROJ);
	check_tensor(&inv, "lm_head.weight", DSCK_BF16, 2, 163840, 2048, DSCK_ROLE_HEAD);
	check_invariants("Moonlight BF16", &inv, &c, 0);
	dsck_inventory_release(&inv);
}

static void test_kimi(void)
{
	struct dsck_config c;
	struct dsck_inventory inv;
	struct dsck_error err;
	if (!cfg_make(&c, fixture_config(FIXTURE_KIMI_K2), NULL) ||
	    dsck_inventory_build(&c, DSCK_CKPT_FP8, &inv, &err) != DSCK_OK) {
		CHECK(0, "Kimi-K2 builds");
		return;
	}
	/* 3 + 1 dense layer (14 + 6) + 60 MoE layers (14 + 2 + 384·6 + 6). */
	CHECK_EQ_U64(inv.n, 3 + 20 + 60 * (14 + 2 + 384 * 6 + 6), "Kimi-K2: 139,583 tensors");
	check_proj(&inv, "model.layers.0.self_attn.q_b_proj.weight", 64 * 192, 1536, 96, 12);
	check_proj(&inv, "model.layers.0.self_attn.o_proj.weight", 7168, 64 * 128, 56, 64);
	check_proj(&inv, "model.layers.60.mlp.experts.383.gate_proj.weight", 2048, 7168,
		   16, 56);
	check_tensor(&inv, "model.layers.1.mlp.gate.weight", DSCK_BF16, 2, 384, 7168,
		     DSCK_ROLE_ROUTER);
	check_tensor(&inv, "model.embed_tokens.weight", DSCK_BF16, 2, 163840, 7168,
		     DSCK_ROLE_EMBED);
	CHECK(absent(&inv, "model.layers.61.input_layernorm.weight") && inv.n_mtp == 0,
	      "Kimi-K2 has no MTP layer");
	/* 60 MoE layers x 376 idle experts x 3·2048·7168. */
	CHECK_EQ_U64(inv.params_active, inv.params_main - 60ull * 376 * 44040192,
		     "Kimi-K2: active parameters (INV-R8)");
	check_invariants("Kimi-K2 FP8", &inv, &c, 1);
	dsck_inventory_release(&inv);
}

/* moe_layer_freq 2: only even layers at or past first_k_dense_replace. */
static void test_moe_freq(void)
{
	struct dsck_config c;
	struct dsck_inventory inv;
	struct dsck_error err;
	if (!cfg_make(&c, fixture_config(FIXTURE_V2_LITE), "moe_layer_freq", "2", "num_hidden_layers", "6",
		      "num_nextn_predict_layers", "2", NULL) ||
	    dsck_inventory_build(&c, DSCK_CKPT_BF16, &inv, &err) != DSCK_OK) {
		CHECK(0, "moe_layer_freq 2 builds");
		return;
	}
	CHECK(!absent(&inv, "model.layers.2.mlp.gate.weight") &&
	      !absent(&inv, "model.layers.4.mlp.gate.weight") &&
	      !absent(&inv, "model.layers.6.mlp.gate.weight") &&
	      !absent(&inv, "model.layers.3.mlp.gate_proj.weight") &&
	      !absent(&inv, "model.layers.0.mlp.gate_proj.weight") &&
	      !absent(&inv, "model.layers.7.mlp.gate_proj.weight"),
	      "INV-R3: MoE on layers 2, 4, 6 (MTP); dense on 0, 3, 7 (MTP)");
	CHECK(!absent(&inv, "model.layers.7.eh_proj.weight") &&
	      absent(&inv, "model.layers.5.eh_proj.weight"),
	      "INV-R5: two MTP layers 6 and 7");
	/* Active: only main MoE layers 2 and 4 count (INV-R8). */
	CHECK_EQ_U64(inv.params_active, inv.params_main - 2ull * 58 * 3 * 1408 * 2048,
		     "INV-R8: MTP layers are not in params_active");
	check_invariants("freq 2 + 2 MTP", &inv, &c, 0);
	dsck_inventory_release(&inv);
}

/* ---- caps and hostile structs ----------------------------------------- */

/*
 * Tiny-dimension configs whose counts sit exactly on the cap: 4093 routed
 * experts, 81 MoE layers; BF16, q_proj path, 3 globals:
 *   greedy,   475 dense layers: 3 + 475·10 + 81·(8 + 3·4093)  = 1,000,000
 *   noaux_tc, 467 dense layers: 3 + 467·10 + 81·(9 + 3·4093)  = 1,000,001
 */
static const char CFG_TINY[] =
	"{\"model_type\":\"deepseek_v3\",\"vocab_size\":1,\"hidden_size\":1,"
	"\"intermediate_size\":1,\"moe_intermediate_size\":1,"
	"\"num_attention_heads\":1,\"kv_lora_rank\":1,\"qk_nope_head_dim\":1,"
	"\"qk_rope_head_dim\":1,\"v_head_dim\":1,\"q_lora_rank\":null,"
	"\"n_routed_experts\":4093,\"num_experts_per_tok\":1}";

static void test_cap(void)
{
	struct dsck_config c;
	struct dsck_inventory inv;
	struct dsck_error err;
	uint64_t n = 0;

	if (cfg_make(&c, CFG_TINY, "num_hidden_layers", "556",
		     "first_k_dense_replace", "475", NULL)) {
		CHECK(dsck_inventory_count(&c, DSCK_CKPT_BF16, &n, &err) == DSCK_OK &&
		      n == DSCK_INVENTORY_MAX_TENSORS, "count exactly at the cap");
		CHECK(dsck_inventory_build(&c, DSCK_CKPT_BF16, &inv, &err) == DSCK_OK &&
		      inv.n == DSCK_INVENTORY_MAX_TENSORS,
		      "an inventory of exactly DSCK_INVENTORY_MAX_TENSORS builds");
		dsck_inventory_release(&inv);
		CHECK(dsck_inventory_build(&c, DSCK_CKPT_FP8, &inv, &err) == DSCK_E_LIMIT &&
		      inv.n == 0 && inv.t == NULL,
		      "its FP8 twin (with scales) is over the cap: LIMIT, nothing held");
	} else {
		CHECK(0, "cap config at 1,000,000 parses");
	}
	if (cfg_make(&c, CFG_TINY, "num_hidden_layers", "548",
		     "first_k_dense_replace", "467", "topk_method", "\"noaux_tc\"", NULL)) {
		CHECK(dsck_inventory_count(&c, DSCK_CKPT_BF16, &n, &err) == DSCK_OK &&
		      n == DSCK_INVENTORY_MAX_TENSORS + 1ull, "count one over the cap");
		CHECK(dsck_inventory_build(&c, DSCK_CKPT_BF16, &inv, &err) == DSCK_E_LIMIT &&
		      inv.t == NULL, "one tensor over the cap is LIMIT");
	} else {
		CHECK(0, "cap config at 1,000,001 parses");
	}
	/* The largest config CF-R4 allows: ~25 million tensors, refused at once. */
	if (cfg_make(&c, CFG_TINY, "num_hidden_layers", "1024",
		     "num_nextn_predict_layers", "1024", "n_routed_experts", "4096",
		     "n_shared_experts", "4096", NULL)) {
		CHECK(dsck_inventory_build(&c, DSCK_CKPT_FP8, &inv, &err) == DSCK_E_LIMIT,
		      "CF-R4 maximum config is LIMIT before allocation");
	} else {
		CHECK(0, "maximum config parses");
	}
	/* The largest sizes CF-R4 allows still fit 64 bits: vocab 2^24 x
	 * hidden 2^20, heads 1024 x (2^20 + 2^20), 4096 shared x 2^20. */
	if (cfg_make(&c, fixture_config(FIXTURE_671B), "vocab_size", "16777216", "hidden_size", "1048576",
		     "num_attention_heads", "1024", "num_key_value_heads", NULL,
		     "qk_nope_head_dim", "1048576", "qk_rope_head_dim", "1048576",
		     "n_shared_experts", "4096", "moe_intermediate_size", "1048576",
		     "num_hidden_layers", "4", "first_k_dense_replace", "0",
		     "num_nextn_predict_layers", "1", "n_routed_experts", "8",
		     "n_group", "1", "topk_group", "1", NULL)) {
		enum dsck_err rc = dsck_inventory_build(&c, DSCK_CKPT_FP8, &inv, &err);
		CHECK(rc == DSCK_OK || rc == DSCK_E_OVERFLOW,
		      "huge dimensions: built or OVERFLOW, never wrapped (%s)",
		      dsck_err_name(rc));
		if (rc == DSCK_OK)
			check_invariants("huge dims", &inv, &c, 1);
		dsck_inventory_release(&inv);
	}

	/* Hand-built structs that never went through dsck_config_parse. */
	struct dsck_config h;
	if (!cfg_make(&h, fixture_config(FIXTURE_V2_LITE), NULL))
		return;
	c = h;
	c.num_hidden_layers = UINT64_MAX;
	CHECK(dsck_inventory_build(&c, DSCK_CKPT_BF16, &inv, &err) == DSCK_E_LIMIT,
	      "2^64-1 layers: LIMIT, no loop");
	c = h;
	c.num_nextn_predict_layers = UINT64_MAX;
	CHECK(dsck_inventory_build(&c, DSCK_CKPT_BF16, &inv, &err) == DSCK_E_LIMIT,
	      "layers + MTP layers overflowing: LIMIT");
	c = h;
	c.vocab_size = 1ull << 40;
	c.hidden_size = 1ull << 40;
	CHECK(dsck_inventory_build(&c, DSCK_CKPT_BF16, &inv, &err) == DSCK_E_OVERFLOW &&
	      strcmp(err.tensor, "model.embed_tokens.weight") == 0,
	      "2^80 embedding elements: OVERFLOW naming the tensor");
	c = h;
	c.num_attention_heads = 1ull << 62;
	CHECK(dsck_inventory_build(&c, DSCK_CKPT_BF16, &inv, &err) == DSCK_E_OVERFLOW,
	      "heads x head dim overflowing: OVERFLOW");
	c = h;
	c.n_routed_experts = UINT64_MAX / 2;
	CHECK(dsck_inventory_build(&c, DSCK_CKPT_BF16, &inv, &err) == DSCK_E_OVERFLOW,
	      "expert count x 3 overflowing: OVERFLOW");
	c = h;
	c.block_rows = 0;
	CHECK(dsck_inventory_build(&c, DSCK_CKPT_FP8, &inv, &err) == DSCK_E_CONFIG_RANGE &&
	      inv.t == NULL, "block rows 0: CONFIG_RANGE, no division by zero");
	c = h;
	c.moe_layer_freq = 0;
	CHECK(dsck_inventory_build(&c, DSCK_CKPT_BF16, &inv, &err) == DSCK_OK &&
	      absent(&inv, "model.layers.1.mlp.gate.weight"),
	      "moe_layer_freq 0 (hand-built): all dense, no division by zero");
	dsck_inventory_release(&inv);
	c = h;
	c.num_experts_per_tok = 100; /* more than the 64 experts */
	CHECK(dsck_inventory_build(&c, DSCK_CKPT_BF16, &inv, &err) == DSCK_OK &&
	      inv.params_active == inv.params_main,
	      "experts_per_tok > n_routed (hand-built): nothing idle");
	dsck_inventory_release(&inv);
}

int main(void)
{
	test_671b_fp8();
	test_671b_bf16();
	test_tied();
	test_block_shape();
	test_v2_lite();
	test_moonlight();
	test_kimi();
	test_moe_freq();
	test_cap();
	return test_done();
}
