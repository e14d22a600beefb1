/*
 * test_config.c - config.json parsing (lib/config.c) against formats.md §4,
 * CF-R1..CF-R9: the real configs of the family (DeepSeek-V3 671B, V3.1,
 * Kimi-K2, Moonlight, DeepSeek-V2-Lite; values of the reference notes),
 * the defaults of a minimal config, and every guard on both sides of its
 * boundary. The configs are read from tests/fuzz/seeds/fuzz_config/
 * (fixtures.h). Edited configs are made by replacing one key of the 671B
 * text with raw JSON (cJSON_CreateRaw), so the bytes under test are exact.
 */
#include "../test.h"
#include "fixtures.h"
#include "../../lib/config.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- helpers -------------------------------------------------------- */

/*
 * Copy of base with up to two edits. An edit is a key path ("a" or "a.b")
 * and raw JSON text for its value; raw NULL deletes the key. A NULL path
 * ends the list. Returns malloc'd compact JSON text.
 */
static char *cfg_edit(const char *base, const char *p1, const char *r1,
		      const char *p2, const char *r2)
{
	cJSON *root = cJSON_Parse(base);
	const char *paths[2] = { p1, p2 }, *raws[2] = { r1, r2 };
	if (!root)
		return NULL;
	for (int i = 0; i < 2 && paths[i]; i++) {
		char key[128];
		snprintf(key, sizeof key, "%s", paths[i]);
		cJSON *obj = root;
		char *dot = strchr(key, '.');
		if (dot) {
			*dot = '\0';
			obj = cJSON_GetObjectItemCaseSensitive(root, key);
			if (!obj) { /* create the parent object */
				obj = cJSON_CreateObject();
				cJSON_AddItemToObject(root, key, obj);
			}
			memmove(key, dot + 1, strlen(dot + 1) + 1);
		}
		cJSON_DeleteItemFromObjectCaseSensitive(obj, key);
		if (raws[i])
			cJSON_AddItemToObject(obj, key, cJSON_CreateRaw(raws[i]));
	}
	char *out = cJSON_PrintUnformatted(root);
	cJSON_Delete(root);
	return out;
}

static enum dsck_err parse_text(const char *text, struct dsck_config *cfg,
				struct dsck_error *err)
{
	return dsck_config_parse(text, strlen(text), cfg, err);
}

/*
 * One guard check: edit the 671B config, expect code; for config errors
 * also expect err.tensor to name field (the edited key when field NULL).
 */
struct guard_case {
	const char *rule;
	const char *p1, *r1, *p2, *r2;
	enum dsck_err want;
	const char *field;
};

static void check_guard(const char *base, const struct guard_case *g)
{
	struct dsck_config cfg;
	struct dsck_error err;
	char *text = cfg_edit(base, g->p1, g->r1, g->p2, g->r2);
	enum dsck_err got = text ? parse_text(text, &cfg, &err) : DSCK_E_NOMEM;
	char what[256];
	snprintf(what, sizeof what, "%s: %s=%s%s%s%s -> %s", g->rule, g->p1,
		 g->r1 ? g->r1 : "(deleted)", g->p2 ? ", " : "",
		 g->p2 ? g->p2 : "", g->p2 ? (g->r2 ? g->r2 : "(deleted)") : "",
		 dsck_err_name(g->want));
	CHECK(got == g->want, "%s (got %s: %s)", what, dsck_err_name(got),
	      got ? err.detail : "");
	if (got == g->want && got >= DSCK_E_CONFIG_MISSING &&
	    got <= DSCK_E_UNSUPPORTED) {
		const char *field = g->field ? g->field : g->p1;
		CHECK(strcmp(err.tensor, field) == 0,
		      "%s names field '%s' (got '%s')", g->rule, field, err.tensor);
	}
	cJSON_free(text);
}

#define OK_ DSCK_OK
#define MISS DSCK_E_CONFIG_MISSING
#define TYPE DSCK_E_CONFIG_TYPE
#define RANGE DSCK_E_CONFIG_RANGE
#define UNSUP DSCK_E_UNSUPPORTED

/* ---- the real configs ------------------------------------------------ */

static void test_671b(void)
{
	struct dsck_config c;
	struct dsck_error err;
	enum dsck_err rc = parse_text(fixture_config(FIXTURE_671B), &c, &err);
	CHECK(rc == DSCK_OK, "671B config parses (%s)", err.detail);
	CHECK(c.family == DSCK_FAMILY_DEEPSEEK_V3, "671B family deepseek_v3");
	CHECK(strcmp(c.model_type, "deepseek_v3") == 0, "671B model_type");
	CHECK(strcmp(c.torch_dtype, "bfloat16") == 0, "671B torch_dtype");
	CHECK_EQ_U64(c.vocab_size, 129280, "671B vocab_size");
	CHECK_EQ_U64(c.hidden_size, 7168, "671B hidden_size");
	CHECK_EQ_U64(c.intermediate_size, 18432, "671B intermediate_size");
	CHECK_EQ_U64(c.moe_intermediate_size, 2048, "671B moe_intermediate_size");
	CHECK_EQ_U64(c.num_hidden_layers, 61, "671B num_hidden_layers");
	CHECK_EQ_U64(c.first_k_dense_replace, 3, "671B first_k_dense_replace");
	CHECK_EQ_U64(c.moe_layer_freq, 1, "671B moe_layer_freq");
	CHECK_EQ_U64(c.num_attention_heads, 128, "671B num_attention_heads");
	CHECK_EQ_U64(c.num_key_value_heads, 128, "671B num_key_value_heads");
	CHECK_EQ_U64(c.n_routed_experts, 256, "671B n_routed_experts");
	CHECK_EQ_U64(c.n_shared_experts, 1, "671B n_shared_experts");
	CHECK_EQ_U64(c.num_experts_per_tok, 8, "671B num_experts_per_tok");
	CHECK_EQ_U64(c.n_group, 8, "671B n_group");
	CHECK_EQ_U64(c.topk_group, 4, "671B topk_group");
	CHECK(c.topk_method == DSCK_TOPK_NOAUX_TC, "671B topk_method noaux_tc");
	CHECK(c.scoring_func == DSCK_SCORE_SIGMOID, "671B scoring_func sigmoid");
	CHECK(c.norm_topk_prob == 1, "671B norm_topk_prob");
	CHECK(c.routed_scaling_factor == 2.5, "671B routed_scaling_factor 2.5");
	CHECK_EQ_U64(c.q_lora_rank, 1536, "671B q_lora_rank");
	CHECK_EQ_U64(c.kv_lora_rank, 512, "671B kv_lora_rank");
	CHECK_EQ_U64(c.qk_nope_head_dim, 128, "671B qk_nope_head_dim");
	CHECK_EQ_U64(c.qk_rope_head_dim, 64, "671B qk_rope_head_dim");
	CHECK_EQ_U64(c.v_head_dim, 128, "671B v_head_dim");
	CHECK_EQ_U64(c.max_position_embeddings, 163840, "671B max_position_embeddings");
	CHECK(c.rope_theta == 10000.0, "671B rope_theta");
	CHECK(c.rms_norm_eps == 1e-6, "671B rms_norm_eps");
	CHECK(c.tie_word_embeddings == 0, "671B tie_word_embeddings false");
	CHECK_EQ_U64(c.num_nextn_predict_layers, 1, "671B num_nextn_predict_layers");
	CHECK(c.bos_token_id == 0 && c.eos_token_id == 1, "671B bos 0 / eos 1");
	CHECK(c.has_rope_scaling == 1 && strcmp(c.rope_type, "yarn") == 0,
	      "671B rope_scaling yarn");
	CHECK(c.rope_factor == 40.0, "671B rope factor 40");
	CHECK_EQ_U64(c.rope_original_max_position_embeddings, 4096,
		     "671B rope original_max_position_embeddings");
	CHECK(c.rope_beta_fast == 32.0 && c.rope_beta_slow == 1.0,
	      "671B rope beta 32/1");
	CHECK(c.rope_mscale == 1.0 && c.rope_mscale_all_dim == 1.0,
	      "671B rope mscale 1/1");
	CHECK(c.quantized == 1, "671B quantized");
	CHECK_EQ_U64(c.block_rows, 128, "671B block rows");
	CHECK_EQ_U64(c.block_cols, 128, "671B block cols");
	CHECK(c.scale_fmt == DSCK_SCALE_FLOAT, "671B scale_fmt float");
	CHECK(c.has_auto_map == 1, "CF-R8: 671B auto_map recorded");
	CHECK(strcmp(dsck_config_family_name(&c), "DeepSeek-V3") == 0,
	      "671B family name DeepSeek-V3");
	CHECK(!dsck_config_layer_is_moe(&c, 0) && !dsck_config_layer_is_moe(&c, 2),
	      "INV-R3: layers 0 and 2 dense");
	CHECK(dsck_config_layer_is_moe(&c, 3) && dsck_config_layer_is_moe(&c, 60) &&
	      dsck_config_layer_is_moe(&c, 61), "INV-R3: layers 3, 60, 61 (MTP) MoE");
}

static void test_v31(void)
{
	struct dsck_config c;
	struct dsck_error err;
	char *text = cfg_edit(fixture_config(FIXTURE_671B), "quantization_config.scale_fmt",
			      "\"ue8m0\"", NULL, NULL);
	CHECK(parse_text(text, &c, &err) == DSCK_OK, "V3.1 config parses (%s)",
	      err.detail);
	CHECK(c.scale_fmt == DSCK_SCALE_UE8M0, "V3.1 scale_fmt ue8m0");
	CHECK(c.quantized == 1 && c.block_rows == 128, "V3.1 quantized 128x128");
	CHECK(strcmp(dsck_config_family_name(&c), "DeepSeek-V3.1") == 0,
	      "V3.1 family name");
	cJSON_free(text);
	text = cfg_edit(fixture_config(FIXTURE_671B), "quantization_config.scale_fmt", "null", NULL, NULL);
	CHECK(parse_text(text, &c, &err) == DSCK_OK && c.scale_fmt == DSCK_SCALE_FLOAT,
	      "CF-R6: scale_fmt null is float scales");
	cJSON_free(text);
}

static void test_kimi(void)
{
	struct dsck_config c;
	struct dsck_error err;
	CHECK(parse_text(fixture_config(FIXTURE_KIMI_K2), &c, &err) == DSCK_OK, "Kimi-K2 parses (%s)",
	      err.detail);
	CHECK(c.family == DSCK_FAMILY_KIMI_K2, "Kimi-K2 family");
	CHECK(strcmp(dsck_config_family_name(&c), "Kimi-K2") == 0, "Kimi-K2 name");
	CHECK_EQ_U64(c.n_routed_experts, 384, "Kimi-K2 experts");
	CHECK_EQ_U64(c.num_attention_heads, 64, "Kimi-K2 heads");
	CHECK_EQ_U64(c.first_k_dense_replace, 1, "Kimi-K2 first_k_dense_replace");
	CHECK_EQ_U64(c.n_group, 1, "Kimi-K2 n_group");
	CHECK_EQ_U64(c.vocab_size, 163840, "Kimi-K2 vocab");
	CHECK_EQ_U64(c.num_nextn_predict_layers, 0, "Kimi-K2 no MTP");
	CHECK(c.routed_scaling_factor == 2.827, "Kimi-K2 routed_scaling_factor");
	CHECK(c.rope_theta == 50000.0, "Kimi-K2 rope_theta");
	CHECK(c.rope_factor == 32.0 && c.rope_beta_fast == 1.0 &&
	      c.rope_beta_slow == 1.0, "Kimi-K2 yarn 32, beta 1/1");
	CHECK(c.bos_token_id == 163584 && c.eos_token_id == 163585, "Kimi-K2 tokens");
	CHECK(c.quantized == 1, "Kimi-K2 FP8");
}

static void test_moonlight(void)
{
	struct dsck_config c;
	struct dsck_error err;
	CHECK(parse_text(fixture_config(FIXTURE_MOONLIGHT), &c, &err) == DSCK_OK,
	      "Moonlight parses (%s)", err.detail);
	CHECK(c.family == DSCK_FAMILY_DEEPSEEK_V3, "Moonlight family deepseek_v3");
	CHECK(strcmp(dsck_config_family_name(&c), "Moonlight") == 0, "Moonlight name");
	CHECK_EQ_U64(c.q_lora_rank, 0, "CF-R3: Moonlight q_lora_rank null -> 0");
	CHECK_EQ_U64(c.hidden_size, 2048, "Moonlight hidden");
	CHECK_EQ_U64(c.n_shared_experts, 2, "Moonlight 2 shared experts");
	CHECK(c.has_rope_scaling == 0, "CF-R6: Moonlight rope_scaling null");
	CHECK(c.quantized == 0, "Moonlight BF16 (no quantization_config)");
	CHECK_EQ_U64(c.block_rows, 128, "Moonlight default block 128");
	CHECK(c.rms_norm_eps == 1e-5, "Moonlight rms_norm_eps 1e-5");
	CHECK(c.routed_scaling_factor == 2.446, "Moonlight routed_scaling_factor");
	CHECK(c.topk_method == DSCK_TOPK_NOAUX_TC, "Moonlight noaux_tc");
	CHECK(c.eos_token_id == 163586, "Moonlight eos");
}

static void test_v2_lite(void)
{
	struct dsck_config c;
	struct dsck_error err;
	CHECK(parse_text(fixture_config(FIXTURE_V2_LITE), &c, &err) == DSCK_OK,
	      "V2-Lite parses (%s)", err.detail);
	CHECK(c.family == DSCK_FAMILY_DEEPSEEK_V2, "V2-Lite family deepseek_v2");
	CHECK(strcmp(dsck_config_family_name(&c), "DeepSeek-V2-Lite") == 0,
	      "V2-Lite name");
	CHECK(c.topk_method == DSCK_TOPK_GREEDY, "V2-Lite greedy");
	CHECK(c.scoring_func == DSCK_SCORE_SOFTMAX, "V2-Lite softmax");
	CHECK(c.norm_topk_prob == 0, "V2-Lite norm_topk_prob false");
	CHECK(c.rope_mscale == 0.707 && c.rope_mscale_all_dim == 0.707,
	      "V2-Lite mscale 0.707");
	CHECK_EQ_U64(c.num_nextn_predict_layers, 0, "CF-R7: V2-Lite nextn absent -> 0");
	CHECK_EQ_U64(c.vocab_size, 102400, "V2-Lite vocab");
	CHECK_EQ_U64(c.intermediate_size, 10944, "V2-Lite intermediate");
	char *text = cfg_edit(fixture_config(FIXTURE_V2_LITE), "q_lora_rank", "1536", NULL, NULL);
	CHECK(parse_text(text, &c, &err) == DSCK_OK &&
	      strcmp(dsck_config_family_name(&c), "DeepSeek-V2") == 0,
	      "deepseek_v2 with q_lora_rank is DeepSeek-V2");
	cJSON_free(text);
	text = cfg_edit(fixture_config(FIXTURE_V2_LITE), "model_type", "\"deepseek_v3\"",
			"q_lora_rank", "1536");
	CHECK(parse_text(text, &c, &err) == DSCK_OK &&
	      strcmp(dsck_config_family_name(&c), "DeepSeek-V3-family") == 0,
	      "small deepseek_v3 with q_lora is DeepSeek-V3-family");
	cJSON_free(text);
}

static void test_defaults(void)
{
	struct dsck_config c;
	struct dsck_error err;
	CHECK(parse_text(fixture_config(FIXTURE_MINIMAL), &c, &err) == DSCK_OK,
	      "CF-R2: the required fields alone parse (%s)", err.detail);
	CHECK_EQ_U64(c.n_routed_experts, 0, "dense when n_routed_experts absent");
	CHECK_EQ_U64(c.n_group, 1, "CF-R7 n_group 1");
	CHECK_EQ_U64(c.topk_group, 1, "CF-R7 topk_group 1");
	CHECK_EQ_U64(c.moe_layer_freq, 1, "CF-R7 moe_layer_freq 1");
	CHECK_EQ_U64(c.n_shared_experts, 0, "CF-R7 n_shared_experts 0");
	CHECK(c.routed_scaling_factor == 1.0, "CF-R7 routed_scaling_factor 1.0");
	CHECK(c.scoring_func == DSCK_SCORE_SOFTMAX, "CF-R7 scoring_func softmax");
	CHECK(c.topk_method == DSCK_TOPK_GREEDY, "CF-R7 topk_method greedy");
	CHECK(c.norm_topk_prob == 0, "CF-R7 norm_topk_prob false");
	CHECK(c.rope_theta == 10000.0, "CF-R7 rope_theta 10000");
	CHECK(c.rms_norm_eps == 1e-6, "CF-R7 rms_norm_eps 1e-6");
	CHECK_EQ_U64(c.num_nextn_predict_layers, 0, "CF-R7 nextn 0");
	CHECK(c.tie_word_embeddings == 0, "CF-R7 tie_word_embeddings false");
	CHECK_EQ_U64(c.q_lora_rank, 0, "q_lora_rank absent -> 0 (q_proj)");
	CHECK_EQ_U64(c.first_k_dense_replace, 0, "first_k_dense_replace absent -> 0");
	CHECK_EQ_U64(c.num_key_value_heads, 0, "num_key_value_heads absent -> 0");
	CHECK_EQ_U64(c.max_position_embeddings, 0, "max_position_embeddings absent -> 0");
	CHECK(c.bos_token_id == -1 && c.eos_token_id == -1, "token ids absent -> -1");
	CHECK(c.has_rope_scaling == 0 && c.quantized == 0 && c.has_auto_map == 0,
	      "no rope_scaling, quantization or auto_map");
	CHECK(c.torch_dtype[0] == '\0', "torch_dtype absent -> empty");
	CHECK(!dsck_config_layer_is_moe(&c, 0) && !dsck_config_layer_is_moe(&c, 1),
	      "INV-R3: no MoE layer without routed experts");
	CHECK(strcmp(dsck_config_family_name(&c), "DeepSeek-V3-family") == 0,
	      "minimal family name");
}

/* ---- guards ------------------------------------------------------------ */

static const struct guard_case guard_cases[] = {
	/* CF-R2: required fields (CF-01) */
	{ "CF-R2", "model_type", NULL, NULL, NULL, MISS, NULL },
	{ "CF-R2", "vocab_size", NULL, NULL, NULL, MISS, NULL },
	{ "CF-R2", "hidden_size", NULL, NULL, NULL, MISS, NULL },
	{ "CF-R2", "num_hidden_layers", NULL, NULL, NULL, MISS, NULL },
	{ "CF-R2", "num_attention_heads", NULL, NULL, NULL, MISS, NULL },
	{ "CF-R2", "intermediate_size", NULL, NULL, NULL, MISS, NULL },
	{ "CF-R2", "kv_lora_rank", NULL, NULL, NULL, MISS, NULL },
	{ "CF-R2", "qk_nope_head_dim", NULL, NULL, NULL, MISS, NULL },
	{ "CF-R2", "qk_rope_head_dim", NULL, NULL, NULL, MISS, NULL },
	{ "CF-R2", "v_head_dim", NULL, NULL, NULL, MISS, NULL },
	{ "CF-R2", "moe_intermediate_size", NULL, NULL, NULL, MISS, NULL },
	{ "CF-R2", "num_experts_per_tok", NULL, NULL, NULL, MISS, NULL },
	{ "CF-R2", "moe_intermediate_size", "null", NULL, NULL, MISS, NULL },
	{ "CF-R2", "moe_intermediate_size", NULL, "n_routed_experts", "0", OK_, NULL },
	{ "CF-R2", "num_experts_per_tok", NULL, "n_routed_experts", NULL, OK_, NULL },
	{ "CF-R2", "n_routed_experts", "null", NULL, NULL, OK_, NULL },
	/* optional fields may be absent */
	{ "CF-R7", "n_group", NULL, "topk_group", NULL, OK_, NULL },
	{ "CF-R7", "num_key_value_heads", NULL, NULL, NULL, OK_, NULL },
	{ "CF-R7", "rope_scaling", NULL, "quantization_config", NULL, OK_, NULL },
	{ "CF-R7", "max_position_embeddings", NULL, NULL, NULL, OK_, NULL },
	/* CF-R3: one JSON type per field (CF-02) */
	{ "CF-R3", "hidden_size", "\"7168\"", NULL, NULL, TYPE, NULL },
	{ "CF-R3", "hidden_size", "7168.5", NULL, NULL, TYPE, NULL },
	{ "CF-R3", "hidden_size", "true", NULL, NULL, TYPE, NULL },
	{ "CF-R3", "hidden_size", "null", NULL, NULL, TYPE, NULL },
	{ "CF-R3", "hidden_size", "[7168]", NULL, NULL, TYPE, NULL },
	{ "CF-R3", "hidden_size", "{}", NULL, NULL, TYPE, NULL },
	{ "CF-R3", "hidden_size", "7168.0", NULL, NULL, OK_, NULL },
	{ "CF-R3", "hidden_size", "7.168e3", NULL, NULL, OK_, NULL },
	{ "CF-R3", "vocab_size", "1e-3", NULL, NULL, TYPE, NULL },
	{ "CF-R3", "q_lora_rank", "null", NULL, NULL, OK_, NULL },
	{ "CF-R3", "q_lora_rank", "\"1536\"", NULL, NULL, TYPE, NULL },
	{ "CF-R3", "num_key_value_heads", "null", NULL, NULL, OK_, NULL },
	{ "CF-R3", "first_k_dense_replace", "null", NULL, NULL, TYPE, NULL },
	{ "CF-R3", "rope_theta", "\"10000\"", NULL, NULL, TYPE, NULL },
	{ "CF-R3", "rope_theta", "10000.5", NULL, NULL, OK_, NULL },
	{ "CF-R3", "rms_norm_eps", "null", NULL, NULL, TYPE, NULL },
	{ "CF-R3", "norm_topk_prob", "1", NULL, NULL, TYPE, NULL },
	{ "CF-R3", "norm_topk_prob", "\"true\"", NULL, NULL, TYPE, NULL },
	{ "CF-R3", "tie_word_embeddings", "null", NULL, NULL, TYPE, NULL },
	{ "CF-R3", "tie_word_embeddings", "true", NULL, NULL, OK_, NULL },
	{ "CF-R3", "model_type", "3", NULL, NULL, TYPE, NULL },
	{ "CF-R3", "model_type", "null", NULL, NULL, TYPE, NULL },
	{ "CF-R3", "scoring_func", "1", NULL, NULL, TYPE, NULL },
	{ "CF-R3", "bos_token_id", "null", NULL, NULL, OK_, NULL },
	{ "CF-R3", "bos_token_id", "\"0\"", NULL, NULL, TYPE, NULL },
	{ "CF-R3", "eos_token_id", "[1]", NULL, NULL, TYPE, NULL },
	{ "CF-R3", "architectures", "\"DeepseekV3ForCausalLM\"", NULL, NULL, TYPE, NULL },
	{ "CF-R3", "architectures", "[3]", NULL, NULL, TYPE, NULL },
	/* CF-R4: ranges, both sides of each bound (CF-03, CF-05) */
	{ "CF-R4", "vocab_size", "0", NULL, NULL, RANGE, NULL },
	{ "CF-R4", "vocab_size", "1", NULL, NULL, OK_, NULL },
	{ "CF-R4", "vocab_size", "16777216", NULL, NULL, OK_, NULL },
	{ "CF-R4", "vocab_size", "16777217", NULL, NULL, RANGE, NULL },
	{ "CF-R4", "vocab_size", "1099511627776", NULL, NULL, RANGE, NULL },
	{ "CF-R4", "vocab_size", "-1", NULL, NULL, RANGE, NULL },
	{ "CF-R4", "vocab_size", "1e400", NULL, NULL, RANGE, NULL },
	{ "CF-R4", "hidden_size", "0", NULL, NULL, RANGE, NULL },
	{ "CF-R4", "hidden_size", "1", NULL, NULL, OK_, NULL },
	{ "CF-R4", "hidden_size", "1048576", NULL, NULL, OK_, NULL },
	{ "CF-R4", "hidden_size", "1048577", NULL, NULL, RANGE, NULL },
	{ "CF-R4", "hidden_size", "18446744073709551616", NULL, NULL, RANGE, NULL },
	{ "CF-R4", "intermediate_size", "0", NULL, NULL, RANGE, NULL },
	{ "CF-R4", "intermediate_size", "1048576", NULL, NULL, OK_, NULL },
	{ "CF-R4", "intermediate_size", "1048577", NULL, NULL, RANGE, NULL },
	{ "CF-R4", "moe_intermediate_size", "0", NULL, NULL, RANGE, NULL },
	{ "CF-R4", "moe_intermediate_size", "1", NULL, NULL, OK_, NULL },
	{ "CF-R4", "moe_intermediate_size", "1048576", NULL, NULL, OK_, NULL },
	{ "CF-R4", "moe_intermediate_size", "1048577", NULL, NULL, RANGE, NULL },
	{ "CF-R4", "num_hidden_layers", "0", NULL, NULL, RANGE, NULL },
	{ "CF-R4", "num_hidden_layers", "1024", NULL, NULL, OK_, NULL },
	{ "CF-R4", "num_hidden_layers", "1025", NULL, NULL, RANGE, NULL },
	{ "CF-R4", "num_hidden_layers", "1000000000", NULL, NULL, RANGE, NULL },
	{ "CF-R4", "num_attention_heads", "0", NULL, NULL, RANGE, NULL },
	{ "CF-R4", "num_attention_heads", "-1", NULL, NULL, RANGE, NULL },
	{ "CF-R4", "num_attention_heads", "1", "num_key_value_heads", NULL, OK_, NULL },
	{ "CF-R4", "num_attention_heads", "1024", NULL, NULL, OK_, NULL },
	{ "CF-R4", "num_attention_heads", "1025", "num_key_value_heads", NULL, RANGE, NULL },
	{ "CF-R4", "num_key_value_heads", "0", NULL, NULL, RANGE, NULL },
	{ "CF-R4", "num_key_value_heads", "1", NULL, NULL, OK_, NULL },
	{ "CF-R4", "num_key_value_heads", "1024", "num_attention_heads", "1024", OK_, NULL },
	{ "CF-R4", "num_key_value_heads", "1025", NULL, NULL, RANGE, NULL },
	{ "CF-R4", "q_lora_rank", "0", NULL, NULL, RANGE, NULL },
	{ "CF-R4", "q_lora_rank", "1", NULL, NULL, OK_, NULL },
	{ "CF-R4", "q_lora_rank", "1048576", NULL, NULL, OK_, NULL },
	{ "CF-R4", "q_lora_rank", "1048577", NULL, NULL, RANGE, NULL },
	{ "CF-R4", "kv_lora_rank", "0", NULL, NULL, RANGE, NULL },
	{ "CF-R4", "kv_lora_rank", "1", NULL, NULL, OK_, NULL },
	{ "CF-R4", "kv_lora_rank", "1048576", NULL, NULL, OK_, NULL },
	{ "CF-R4", "kv_lora_rank", "1048577", NULL, NULL, RANGE, NULL },
	{ "CF-R4", "qk_nope_head_dim", "0", NULL, NULL, RANGE, NULL },
	{ "CF-R4", "qk_nope_head_dim", "1048576", NULL, NULL, OK_, NULL },
	{ "CF-R4", "qk_nope_head_dim", "1048577", NULL, NULL, RANGE, NULL },
	{ "CF-R4", "qk_rope_head_dim", "0", NULL, NULL, RANGE, NULL },
	{ "CF-R4", "qk_rope_head_dim", "1", NULL, NULL, OK_, NULL },
	{ "CF-R4", "qk_rope_head_dim", "1048577", NULL, NULL, RANGE, NULL },
	{ "CF-R4", "v_head_dim", "0", NULL, NULL, RANGE, NULL },
	{ "CF-R4", "v_head_dim", "1048576", NULL, NULL, OK_, NULL },
	{ "CF-R4", "v_head_dim", "1048577", NULL, NULL, RANGE, NULL },
	{ "CF-R4", "n_routed_experts", "0", NULL, NULL, OK_, NULL },
	{ "CF-R4", "n_routed_experts", "4096", NULL, NULL, OK_, NULL },
	{ "CF-R4", "n_routed_experts", "4097", NULL, NULL, RANGE, NULL },
	{ "CF-R4", "n_shared_experts", "0", NULL, NULL, OK_, NULL },
	{ "CF-R4", "n_shared_experts", "4096", NULL, NULL, OK_, NULL },
	{ "CF-R4", "n_shared_experts", "4097", NULL, NULL, RANGE, NULL },
	{ "CF-R4", "num_experts_per_tok", "0", NULL, NULL, RANGE, NULL },
	{ "CF-R4", "num_experts_per_tok", "1", NULL, NULL, OK_, NULL },
	{ "CF-R4", "num_experts_per_tok", "4097", NULL, NULL, RANGE, NULL },
	{ "CF-R4", "n_group", "0", NULL, NULL, RANGE, NULL },
	{ "CF-R4", "n_group", "4097", NULL, NULL, RANGE, NULL },
	{ "CF-R4", "topk_group", "0", NULL, NULL, RANGE, NULL },
	{ "CF-R4", "topk_group", "4097", NULL, NULL, RANGE, NULL },
	{ "CF-R4", "moe_layer_freq", "0", NULL, NULL, RANGE, NULL },
	{ "CF-R4", "moe_layer_freq", "1024", NULL, NULL, OK_, NULL },
	{ "CF-R4", "moe_layer_freq", "1025", NULL, NULL, RANGE, NULL },
	{ "CF-R4", "num_nextn_predict_layers", "0", NULL, NULL, OK_, NULL },
	{ "CF-R4", "num_nextn_predict_layers", "1024", NULL, NULL, OK_, NULL },
	{ "CF-R4", "num_nextn_predict_layers", "1025", NULL, NULL, RANGE, NULL },
	{ "CF-R4", "num_nextn_predict_layers", "-1", NULL, NULL, RANGE, NULL },
	{ "CF-R4", "max_position_embeddings", "0", NULL, NULL, RANGE, NULL },
	{ "CF-R4", "max_position_embeddings", "1", NULL, NULL, OK_, NULL },
	{ "CF-R4", "max_position_embeddings", "16777216", NULL, NULL, OK_, NULL },
	{ "CF-R4", "max_position_embeddings", "16777217", NULL, NULL, RANGE, NULL },
	{ "CF-R4", "max_position_embeddings", "4611686018427387904", NULL, NULL, RANGE, NULL },
	{ "CF-R4", "rms_norm_eps", "0", NULL, NULL, RANGE, NULL },
	{ "CF-R4", "rms_norm_eps", "1e-30", NULL, NULL, OK_, NULL },
	{ "CF-R4", "rms_norm_eps", "0.999", NULL, NULL, OK_, NULL },
	{ "CF-R4", "rms_norm_eps", "1", NULL, NULL, RANGE, NULL },
	{ "CF-R4", "rms_norm_eps", "-1e-06", NULL, NULL, RANGE, NULL },
	{ "CF-R4", "rope_theta", "0", NULL, NULL, RANGE, NULL },
	{ "CF-R4", "rope_theta", "-10000", NULL, NULL, RANGE, NULL },
	{ "CF-R4", "rope_theta", "1e-9", NULL, NULL, OK_, NULL },
	{ "CF-R4", "rope_theta", "1e400", NULL, NULL, RANGE, NULL },
	{ "CF-R4", "routed_scaling_factor", "0", NULL, NULL, RANGE, NULL },
	{ "CF-R4", "routed_scaling_factor", "0.001", NULL, NULL, OK_, NULL },
	{ "CF-R4", "routed_scaling_factor", "-2.5", NULL, NULL, RANGE, NULL },
	{ "CF-R4", "bos_token_id", "-1", NULL, NULL, RANGE, NULL },
	{ "CF-R4", "bos_token_id", "9007199254740992", NULL, NULL, OK_, NULL },
	{ "CF-R4", "bos_token_id", "18014398509481984", NULL, NULL, RANGE, NULL },
	{ "CF-R4", "quantization_config.weight_block_size", "[0,128]", NULL, NULL, RANGE, NULL },
	{ "CF-R4", "quantization_config.weight_block_size", "[128,0]", NULL, NULL, RANGE, NULL },
	{ "CF-R4", "quantization_config.weight_block_size", "[1,1]", NULL, NULL, OK_, NULL },
	{ "CF-R4", "quantization_config.weight_block_size", "[4096,4096]", NULL, NULL, OK_, NULL },
	{ "CF-R4", "quantization_config.weight_block_size", "[4097,128]", NULL, NULL, RANGE, NULL },
	{ "CF-R4", "quantization_config.weight_block_size", "[128,4097]", NULL, NULL, RANGE, NULL },
	{ "CF-R3", "quantization_config.weight_block_size", "[128]", NULL, NULL, TYPE, NULL },
	{ "CF-R3", "quantization_config.weight_block_size", "[128,128,1]", NULL, NULL, TYPE, NULL },
	{ "CF-R3", "quantization_config.weight_block_size", "[128.5,128]", NULL, NULL, TYPE, NULL },
	{ "CF-R3", "quantization_config.weight_block_size", "\"128\"", NULL, NULL, TYPE, NULL },
	{ "CF-R3", "quantization_config.weight_block_size", "[\"128\",128]", NULL, NULL, TYPE, NULL },
	{ "CF-R7", "quantization_config.weight_block_size", NULL, NULL, NULL, OK_, NULL },
	{ "CF-R4", "rope_scaling.factor", "0", NULL, NULL, RANGE, NULL },
	{ "CF-R4", "rope_scaling.factor", "0.5", NULL, NULL, OK_, NULL },
	{ "CF-R4", "rope_scaling.factor", "-40", NULL, NULL, RANGE, NULL },
	{ "CF-R2", "rope_scaling.factor", NULL, NULL, NULL, MISS, NULL },
	{ "CF-R3", "rope_scaling.factor", "\"40\"", NULL, NULL, TYPE, NULL },
	{ "CF-R4", "rope_scaling.original_max_position_embeddings", "0", NULL, NULL, RANGE, NULL },
	{ "CF-R4", "rope_scaling.original_max_position_embeddings", "16777217", NULL, NULL, RANGE, NULL },
	{ "CF-R4", "rope_scaling.beta_fast", "0", NULL, NULL, RANGE, NULL },
	{ "CF-R4", "rope_scaling.beta_slow", "-1", NULL, NULL, RANGE, NULL },
	{ "CF-R4", "rope_scaling.mscale", "0", NULL, NULL, OK_, NULL },
	{ "CF-R4", "rope_scaling.mscale_all_dim", "-0.5", NULL, NULL, RANGE, NULL },
	/* CF-R5: consistency (CF-03, CF-04) */
	{ "CF-R5", "num_hidden_layers", "3", NULL, NULL, OK_, NULL },
	{ "CF-R5", "num_hidden_layers", "2", NULL, NULL, RANGE, "first_k_dense_replace" },
	{ "CF-R5", "first_k_dense_replace", "61", NULL, NULL, OK_, NULL },
	{ "CF-R5", "first_k_dense_replace", "62", NULL, NULL, RANGE, NULL },
	{ "CF-R5", "first_k_dense_replace", "0", NULL, NULL, OK_, NULL },
	{ "CF-R5", "num_attention_heads", "192", NULL, NULL, RANGE, "num_key_value_heads" },
	{ "CF-R5", "num_attention_heads", "256", NULL, NULL, OK_, NULL },
	{ "CF-R5", "num_key_value_heads", "3", NULL, NULL, RANGE, NULL },
	{ "CF-R5", "num_key_value_heads", "64", NULL, NULL, OK_, NULL },
	{ "CF-R5", "num_key_value_heads", "256", NULL, NULL, RANGE, NULL },
	{ "CF-R5", "num_experts_per_tok", "128", NULL, NULL, OK_, NULL },
	{ "CF-R5", "num_experts_per_tok", "129", NULL, NULL, RANGE, NULL },
	{ "CF-R5", "num_experts_per_tok", "256", "topk_group", "8", OK_, NULL },
	{ "CF-R5", "num_experts_per_tok", "257", "topk_group", "8", RANGE, NULL },
	{ "CF-R5", "n_group", "7", NULL, NULL, RANGE, NULL },
	{ "CF-R5", "n_group", "16", NULL, NULL, OK_, NULL },
	{ "CF-R5", "n_group", "256", "topk_group", "8", OK_, NULL },
	{ "CF-R5", "n_group", "512", NULL, NULL, RANGE, NULL },
	{ "CF-R5", "n_group", "3", "n_routed_experts", "255", RANGE, "topk_group" },
	{ "CF-R5", "topk_group", "8", NULL, NULL, OK_, NULL },
	{ "CF-R5", "topk_group", "9", NULL, NULL, RANGE, NULL },
	{ "CF-R5", "topk_group", "1", NULL, NULL, OK_, NULL },
	{ "CF-R5", "topk_group", "1", "num_experts_per_tok", "33", RANGE, "num_experts_per_tok" },
	{ "CF-R5", "n_routed_experts", "4096", NULL, NULL, OK_, NULL },
	{ "CF-R5", "n_routed_experts", "4", NULL, NULL, RANGE, "num_experts_per_tok" },
	{ "CF-R5", "n_routed_experts", "0", "num_experts_per_tok", "9", OK_, NULL },
	/* hidden_size % num_attention_heads is not a rule: MLA head dims are
	 * explicit (formats.md CF-R5 lists the divisibilities dsck relies on). */
	{ "CF-R5", "hidden_size", "7000", NULL, NULL, OK_, NULL },
	/* CF-R6: closed sets (CF-08, CF-09) */
	{ "CF-R6", "model_type", "\"llama\"", NULL, NULL, UNSUP, NULL },
	{ "CF-R6", "model_type", "\"deepseek_v32\"", NULL, NULL, UNSUP, NULL },
	{ "CF-R6", "model_type", "\"DeepSeek_V3\"", NULL, NULL, UNSUP, NULL },
	{ "CF-R6", "model_type", "\"\"", NULL, NULL, UNSUP, NULL },
	{ "CF-R6", "model_type", "\"kimi_k2\"", NULL, NULL, OK_, NULL },
	{ "CF-R6", "model_type", "\"deepseek_v2\"", NULL, NULL, OK_, NULL },
	{ "CF-R6", "model_type", "\"llama\"", "hidden_size", NULL, UNSUP, "model_type" },
	{ "CF-R6", "scoring_func", "\"softmax\"", NULL, NULL, OK_, NULL },
	{ "CF-R6", "scoring_func", "\"relu\"", NULL, NULL, UNSUP, NULL },
	{ "CF-R6", "topk_method", "\"greedy\"", NULL, NULL, OK_, NULL },
	{ "CF-R6", "topk_method", "\"group_limited_greedy\"", NULL, NULL, OK_, NULL },
	{ "CF-R6", "topk_method", "\"noaux\"", NULL, NULL, UNSUP, NULL },
	{ "CF-R6", "torch_dtype", "\"float32\"", NULL, NULL, OK_, NULL },
	{ "CF-R6", "torch_dtype", "\"int4\"", NULL, NULL, UNSUP, NULL },
	{ "CF-R6", "torch_dtype", "null", NULL, NULL, OK_, NULL },
	{ "CF-R6", "torch_dtype", NULL, "dtype", "\"float8\"", UNSUP, "dtype" },
	{ "CF-R6", "torch_dtype", NULL, "dtype", "\"bfloat16\"", OK_, NULL },
	{ "CF-R6", "architectures", "[\"LlamaForCausalLM\"]", NULL, NULL, UNSUP, NULL },
	{ "CF-R6", "architectures", "[\"DeepseekV2ForCausalLM\"]", NULL, NULL, OK_, NULL },
	{ "CF-R6", "architectures", "null", NULL, NULL, OK_, NULL },
	{ "CF-R6", "rope_scaling", "null", NULL, NULL, OK_, NULL },
	{ "CF-R6", "rope_scaling", "\"yarn\"", NULL, NULL, TYPE, NULL },
	{ "CF-R6", "rope_scaling", "[]", NULL, NULL, TYPE, NULL },
	{ "CF-R6", "rope_scaling.type", "\"linear\"", NULL, NULL, UNSUP, NULL },
	{ "CF-R6", "rope_scaling.type", "\"YARN\"", NULL, NULL, UNSUP, NULL },
	{ "CF-R6", "rope_scaling.type", "3", NULL, NULL, TYPE, NULL },
	{ "CF-R6", "rope_scaling.type", NULL, NULL, NULL, MISS, NULL },
	{ "CF-R6", "rope_scaling.type", NULL, "rope_scaling.rope_type", "\"yarn\"", OK_, NULL },
	{ "CF-R6", "rope_scaling.type", NULL, "rope_scaling.rope_type", "\"dynamic\"", UNSUP,
	  "rope_scaling.rope_type" },
	{ "CF-R6", "rope_scaling.rope_type", "\"linear\"", NULL, NULL, UNSUP, NULL },
	{ "CF-R6", "quantization_config", "\"fp8\"", NULL, NULL, TYPE, NULL },
	{ "CF-R6", "quantization_config", "null", NULL, NULL, OK_, NULL },
	{ "CF-R6", "quantization_config.quant_method", "\"awq\"", NULL, NULL, UNSUP, NULL },
	{ "CF-R6", "quantization_config.quant_method", NULL, NULL, NULL, MISS, NULL },
	{ "CF-R6", "quantization_config.fmt", "\"e5m2\"", NULL, NULL, UNSUP, NULL },
	{ "CF-R6", "quantization_config.fmt", NULL, NULL, NULL, OK_, NULL },
	{ "CF-R6", "quantization_config.scale_fmt", "\"e8m0\"", NULL, NULL, UNSUP, NULL },
	{ "CF-R6", "quantization_config.scale_fmt", "1", NULL, NULL, TYPE, NULL },
	/* CF-R8, CF-R9 (CF-10) */
	{ "CF-R8", "auto_map", "{\"AutoModel\":\"../../evil.Model\"}", NULL, NULL, OK_, NULL },
	{ "CF-R8", "auto_map", "\"x\"", NULL, NULL, OK_, NULL },
	{ "CF-R9", "zz_unknown", "{\"a\":[1,{\"b\":null}]}", NULL, NULL, OK_, NULL },
	{ "CF-R9", "quantization_config.zz_unknown", "[]", NULL, NULL, OK_, NULL },
};

static void test_guards(void)
{
	for (size_t i = 0; i < sizeof guard_cases / sizeof guard_cases[0]; i++)
		check_guard(fixture_config(FIXTURE_671B), &guard_cases[i]);
}

/* Parsed values of edited configs (the guard table only checks codes). */
static void test_edited_values(void)
{
	struct dsck_config c;
	struct dsck_error err;
	char *t;

	t = cfg_edit(fixture_config(FIXTURE_671B), "rope_scaling.type", NULL, "rope_scaling.rope_type",
		     "\"yarn\"");
	CHECK(parse_text(t, &c, &err) == DSCK_OK && c.has_rope_scaling &&
	      strcmp(c.rope_type, "yarn") == 0, "CF-R6: rope_type key accepted");
	cJSON_free(t);
	t = cfg_edit(fixture_config(FIXTURE_671B), "rope_scaling", "{\"type\":\"yarn\",\"factor\":4}",
		     NULL, NULL);
	CHECK(parse_text(t, &c, &err) == DSCK_OK && c.rope_factor == 4.0 &&
	      c.rope_original_max_position_embeddings == 4096 &&
	      c.rope_beta_fast == 32.0 && c.rope_beta_slow == 1.0 &&
	      c.rope_mscale == 1.0 && c.rope_mscale_all_dim == 0.0,
	      "rope_scaling defaults for absent YaRN keys");
	cJSON_free(t);
	t = cfg_edit(fixture_config(FIXTURE_671B), "quantization_config.weight_block_size", "[64,32]",
		     NULL, NULL);
	CHECK(parse_text(t, &c, &err) == DSCK_OK && c.block_rows == 64 &&
	      c.block_cols == 32, "weight_block_size [64,32] is rows 64, cols 32");
	cJSON_free(t);
	t = cfg_edit(fixture_config(FIXTURE_671B), "auto_map", "null", NULL, NULL);
	CHECK(parse_text(t, &c, &err) == DSCK_OK && c.has_auto_map == 0,
	      "CF-R8: auto_map null is not recorded");
	cJSON_free(t);
	t = cfg_edit(fixture_config(FIXTURE_671B), "hidden_size", "7.168e3", NULL, NULL);
	CHECK(parse_text(t, &c, &err) == DSCK_OK && c.hidden_size == 7168,
	      "CF-R3: 7.168e3 is the integer 7168");
	cJSON_free(t);
	t = cfg_edit(fixture_config(FIXTURE_671B), "hidden_size", "4096.5", NULL, NULL);
	CHECK(parse_text(t, &c, &err) == DSCK_E_CONFIG_TYPE && c.hidden_size == 0 &&
	      c.vocab_size == 0, "a failed parse leaves the struct zeroed");
	cJSON_free(t);
	t = cfg_edit(fixture_config(FIXTURE_671B), "vocab_size", "0", NULL, NULL);
	parse_text(t, &c, &err);
	char line[1024];
	dsck_error_format(&err, line, sizeof line);
	CHECK(strstr(line, "vocab_size") && strstr(line, "CF-R4") &&
	      strstr(err.expected, "16777216") && strcmp(err.found, "0") == 0,
	      "range error names field, rule, bounds and value: %s", line);
	cJSON_free(t);
}

/* CF-R1: the strict JSON profile and the size cap (CF-07, CF-11). */
static void test_json_profile(void)
{
	struct dsck_config c;
	struct dsck_error err;
	static const struct {
		const char *key, *raw;
		enum dsck_err want;
	} lit[] = {
		{ "rope_theta", "NaN", DSCK_E_INVALID_JSON },
		{ "rope_theta", "Infinity", DSCK_E_INVALID_JSON },
		{ "rms_norm_eps", "-Infinity", DSCK_E_INVALID_JSON },
		{ "hidden_size", "+7168", DSCK_E_INVALID_JSON },
		{ "hidden_size", "07168", DSCK_E_INVALID_JSON },
		{ "hidden_size", "0x1c00", DSCK_E_INVALID_JSON },
	};
	for (size_t i = 0; i < sizeof lit / sizeof lit[0]; i++) {
		char *t = cfg_edit(fixture_config(FIXTURE_671B), lit[i].key, lit[i].raw, NULL, NULL);
		enum dsck_err got = parse_text(t, &c, &err);
		CHECK(got == lit[i].want, "CF-R1: %s=%s -> %s (got %s)", lit[i].key,
		      lit[i].raw, dsck_err_name(lit[i].want), dsck_err_name(got));
		cJSON_free(t);
	}
	CHECK(parse_text("[]", &c, &err) == DSCK_E_INVALID_JSON,
	      "CF-R1: top level array is INVALID_JSON");
	CHECK(parse_text("\"deepseek_v3\"", &c, &err) == DSCK_E_INVALID_JSON,
	      "CF-R1: top level string is INVALID_JSON");
	CHECK(parse_text("", &c, &err) == DSCK_E_INVALID_JSON,
	      "CF-R1: empty text is INVALID_JSON");
	CHECK(parse_text("{\"model_type\":\"deepseek_v3\",\"model_type\":\"deepseek_v3\"}",
			 &c, &err) == DSCK_E_DUPLICATE_KEY,
	      "CF-R1 / J-R6: duplicate key");

	/* Size cap L-R5: exactly 1 MiB passes, one byte more is LIMIT. */
	size_t base = strlen(fixture_config(FIXTURE_671B));
	char *big = malloc(DSCK_CONFIG_MAX_BYTES + 2);
	memcpy(big, fixture_config(FIXTURE_671B), base);
	memset(big + base, ' ', DSCK_CONFIG_MAX_BYTES + 1 - base);
	CHECK(dsck_config_parse(big, DSCK_CONFIG_MAX_BYTES, &c, &err) == DSCK_OK,
	      "L-R5: a 1 MiB config parses");
	CHECK(dsck_config_parse(big, DSCK_CONFIG_MAX_BYTES + 1, &c, &err) ==
	      DSCK_E_LIMIT, "L-R5: 1 MiB + 1 byte is LIMIT");
	free(big);
}

/* dsck_config_load: reads through io, names the file in every error. */
static void test_load(void)
{
	char dir[] = "/tmp/dsck-test-config-XXXXXX";
	char path[256], line[1024];
	struct dsck_config c;
	struct dsck_error err;
	FILE *f;

	if (!mkdtemp(dir)) {
		CHECK(0, "mkdtemp");
		return;
	}
	snprintf(path, sizeof path, "%s/config.json", dir);
	f = fopen(path, "wb");
	fputs(fixture_config(FIXTURE_671B), f);
	fclose(f);
	CHECK(dsck_config_load(path, &c, &err) == DSCK_OK && c.hidden_size == 7168,
	      "load the 671B config from a file");

	char *t = cfg_edit(fixture_config(FIXTURE_671B), "num_attention_heads", NULL, NULL, NULL);
	f = fopen(path, "wb");
	fputs(t, f);
	fclose(f);
	cJSON_free(t);
	CHECK(dsck_config_load(path, &c, &err) == DSCK_E_CONFIG_MISSING &&
	      strcmp(err.file, path) == 0 &&
	      strcmp(err.tensor, "num_attention_heads") == 0,
	      "load error names the file and the field");
	dsck_error_format(&err, line, sizeof line);
	CHECK(strstr(line, path) && strstr(line, "num_attention_heads"),
	      "formatted: %s", line);

	f = fopen(path, "wb");
	fputs("{\"rope_theta\": NaN}", f);
	fclose(f);
	CHECK(dsck_config_load(path, &c, &err) == DSCK_E_INVALID_JSON &&
	      strcmp(err.file, path) == 0, "CF-07: NaN literal, file named");

	f = fopen(path, "wb");
	for (unsigned i = 0; i <= DSCK_CONFIG_MAX_BYTES; i++)
		fputc(' ', f);
	fclose(f);
	CHECK(dsck_config_load(path, &c, &err) == DSCK_E_LIMIT &&
	      strcmp(err.file, path) == 0, "L-R5: a 1 MiB + 1 file is LIMIT");
	unlink(path);

	CHECK(dsck_config_load(path, &c, &err) == DSCK_E_NOT_FOUND &&
	      strcmp(err.file, path) == 0, "a missing file is NOT_FOUND");
	rmdir(dir);
}

int main(void)
{
	test_671b();
	test_v31();
	test_kimi();
	test_moonlight();
	test_v2_lite();
	test_defaults();
	test_guards();
	test_edited_values();
	test_json_profile();
	test_load();
	return test_done();
}
