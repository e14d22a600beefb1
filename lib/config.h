/*
 * config.h - HF config.json of the DeepSeek-V3 family as a typed struct.
 *
 * Covers deepseek_v3 (V3, R1, V3.1 with scale_fmt ue8m0, Moonlight), kimi_k2
 * and deepseek_v2 (V2, V2-Lite). Every field is range-checked and every
 * divisibility the inventory relies on is checked, with named errors
 * (formats.md §4, CF-R1..CF-R9). auto_map and other code references are
 * never followed (CF-R8).
 */
#ifndef DSCK_CONFIG_H
#define DSCK_CONFIG_H

#include "err.h"

#include <stddef.h>
#include <stdint.h>

#define DSCK_CONFIG_MAX_BYTES (1u << 20) /* L-R5: 1 MiB */

enum dsck_family {
	DSCK_FAMILY_DEEPSEEK_V3, /* model_type deepseek_v3: V3, R1, V3.1, Moonlight */
	DSCK_FAMILY_KIMI_K2,     /* model_type kimi_k2 */
	DSCK_FAMILY_DEEPSEEK_V2, /* model_type deepseek_v2: V2, V2-Lite */
};

enum dsck_score_func { DSCK_SCORE_SOFTMAX, DSCK_SCORE_SIGMOID };

enum dsck_topk_method {
	DSCK_TOPK_GREEDY,               /* "greedy" */
	DSCK_TOPK_GROUP_LIMITED_GREEDY, /* "group_limited_greedy" (V2) */
	DSCK_TOPK_NOAUX_TC,             /* "noaux_tc": e_score_correction_bias present */
};

enum dsck_scale_fmt { DSCK_SCALE_FLOAT, DSCK_SCALE_UE8M0 };

struct dsck_config {
	enum dsck_family family;
	char model_type[32];
	char torch_dtype[16];            /* "bfloat16", "float16", "float32" or empty (torch_dtype, else dtype) */

	uint64_t vocab_size;
	uint64_t hidden_size;
	uint64_t intermediate_size;      /* dense FFN */
	uint64_t moe_intermediate_size;  /* per expert; 0 only in a dense model */
	uint64_t num_hidden_layers;      /* main model, MTP not included */
	uint64_t first_k_dense_replace;
	uint64_t moe_layer_freq;
	uint64_t num_attention_heads;
	uint64_t num_key_value_heads;    /* 0 when absent or null (MLA: bookkeeping only) */
	uint64_t n_routed_experts;       /* 0: no MoE layers (absent or null) */
	uint64_t n_shared_experts;
	uint64_t num_experts_per_tok;    /* 0 only in a dense model */
	uint64_t n_group;                /* 1 when absent */
	uint64_t topk_group;             /* 1 when absent */
	enum dsck_topk_method topk_method;
	enum dsck_score_func scoring_func;
	int norm_topk_prob;
	double routed_scaling_factor;
	uint64_t q_lora_rank;            /* 0: plain wq (JSON null or absent) */
	uint64_t kv_lora_rank;
	uint64_t qk_nope_head_dim;
	uint64_t qk_rope_head_dim;
	uint64_t v_head_dim;
	uint64_t max_position_embeddings; /* 0 when absent */
	double rope_theta;
	double rms_norm_eps;
	int tie_word_embeddings;
	uint64_t num_nextn_predict_layers; /* MTP layers after the main ones */
	int64_t bos_token_id, eos_token_id; /* -1 when absent */

	/* rope_scaling; has_rope_scaling 0 when null or absent. Absent keys
	 * take the YaRN defaults: original 4096, beta 32/1, mscale 1, all_dim 0. */
	int has_rope_scaling;
	char rope_type[16];               /* "yarn" */
	double rope_factor;
	uint64_t rope_original_max_position_embeddings;
	double rope_beta_fast, rope_beta_slow;
	double rope_mscale, rope_mscale_all_dim;

	/* quantization_config; quantized 0 for a BF16 checkpoint. The block is
	 * 128 x 128 when weight_block_size is absent and in a BF16 config (so an
	 * FP8 inventory of a BF16 config is defined). */
	int quantized;
	uint64_t block_rows, block_cols;  /* weight_block_size [rows, cols], 1..4096 */
	enum dsck_scale_fmt scale_fmt;

	int has_auto_map;                 /* present and not null; noted by inspect, never followed (CF-R8) */
};

/*
 * Parse config.json text into *cfg (fully overwritten; zeroed on error).
 * Errors name the JSON key in err->tensor ("hidden_size",
 * "rope_scaling.factor"): CONFIG_MISSING, CONFIG_TYPE, CONFIG_RANGE,
 * UNSUPPORTED, or the JSON profile's codes; LIMIT above 1 MiB.
 */
enum dsck_err dsck_config_parse(const char *text, size_t len,
				struct dsck_config *cfg, struct dsck_error *err);

/* Read (at most DSCK_CONFIG_MAX_BYTES) and parse a config.json file; every
 * error names path in err->file. */
enum dsck_err dsck_config_load(const char *path, struct dsck_config *cfg,
			       struct dsck_error *err);

/* True if layer L (0-based, main or MTP) has an MoE FFN. */
int dsck_config_layer_is_moe(const struct dsck_config *cfg, uint64_t layer);

/*
 * A human name for inspect. Never NULL:
 *   kimi_k2: "Kimi-K2"; deepseek_v2: "DeepSeek-V2-Lite" when q_lora_rank is
 *   null, else "DeepSeek-V2"; deepseek_v3 with hidden_size 7168:
 *   "DeepSeek-V3.1" when scale_fmt is ue8m0, else "DeepSeek-V3" (also R1);
 *   other deepseek_v3: "Moonlight" with hidden_size 2048 and q_lora_rank
 *   null, else "DeepSeek-V3-family".
 */
const char *dsck_config_family_name(const struct dsck_config *cfg);

/*
 * The config.json of a converted checkpoint (formats.md CV-R5): text with
 * torch_dtype (and dtype) set to dtype ("bfloat16"), and quantization_config
 * set to the JSON value quant_json, or removed when quant_json is NULL
 * (left as it is when keep_quant is set).
 * Everything else is kept byte for byte. *out is NUL-terminated, the
 * caller frees it.
 */
enum dsck_err dsck_config_edit(const char *text, size_t len, const char *dtype,
			       const char *quant_json, int keep_quant,
			       char **out, size_t *out_len,
			       struct dsck_error *err);

/* The same minimal edit for one top-level key: set it to the JSON text
 * value_json (appended when missing), or remove it when value_json is NULL. */
enum dsck_err dsck_config_set(const char *text, size_t len, const char *key,
			      const char *value_json, char **out, size_t *out_len,
			      struct dsck_error *err);

#endif
