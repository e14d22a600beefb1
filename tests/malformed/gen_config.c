/*
 * gen_config.c - config.json cases of the malformed-input corpus
 * (formats.md §9; input-safety list CF-01 .. CF-11), checked with
 * dsck_config_load. Every case is the published DeepSeek-V3 671B config
 * with one or two keys replaced by raw JSON text (so invalid literals such
 * as NaN reach the file byte for byte), or a hand-made text for the size
 * and nesting caps. Ids are "CF-NN" plus a letter per variant; the letters
 * are stable, never reused.
 */
#include "corpus.h"
#include "../../lib/config.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* DeepSeek-V3 671B config.json (deepseek-v3.md §1.1), compact. */
static const char gc_base[] =
	"{\"architectures\":[\"DeepseekV3ForCausalLM\"],"
	"\"attention_bias\":false,\"attention_dropout\":0.0,\"auto_map\":{"
	"\"AutoConfig\":\"configuration_deepseek.DeepseekV3Config\","
	"\"AutoModel\":\"modeling_deepseek.DeepseekV3Model\","
	"\"AutoModelForCausalLM\":\"modeling_deepseek.DeepseekV3ForCausalLM\"},"
	"\"aux_loss_alpha\":0.001,\"bos_token_id\":0,\"eos_token_id\":1,"
	"\"ep_size\":1,\"first_k_dense_replace\":3,\"hidden_act\":\"silu\","
	"\"hidden_size\":7168,\"initializer_range\":0.02,"
	"\"intermediate_size\":18432,\"kv_lora_rank\":512,"
	"\"max_position_embeddings\":163840,\"model_type\":\"deepseek_v3\","
	"\"moe_intermediate_size\":2048,\"moe_layer_freq\":1,\"n_group\":8,"
	"\"n_routed_experts\":256,\"n_shared_experts\":1,"
	"\"norm_topk_prob\":true,\"num_attention_heads\":128,"
	"\"num_experts_per_tok\":8,\"num_hidden_layers\":61,"
	"\"num_key_value_heads\":128,\"num_nextn_predict_layers\":1,"
	"\"pretraining_tp\":1,\"q_lora_rank\":1536,"
	"\"qk_nope_head_dim\":128,\"qk_rope_head_dim\":64,"
	"\"quantization_config\":{\"activation_scheme\":\"dynamic\","
	"\"fmt\":\"e4m3\",\"quant_method\":\"fp8\","
	"\"weight_block_size\":[128,128]},\"rms_norm_eps\":1e-06,"
	"\"rope_scaling\":{\"beta_fast\":32,\"beta_slow\":1,\"factor\":40,"
	"\"mscale\":1.0,\"mscale_all_dim\":1.0,"
	"\"original_max_position_embeddings\":4096,\"type\":\"yarn\"},"
	"\"rope_theta\":10000,\"routed_scaling_factor\":2.5,"
	"\"scoring_func\":\"sigmoid\",\"seq_aux\":true,"
	"\"tie_word_embeddings\":false,\"topk_group\":4,"
	"\"topk_method\":\"noaux_tc\",\"torch_dtype\":\"bfloat16\","
	"\"transformers_version\":\"4.46.3\",\"use_cache\":true,"
	"\"v_head_dim\":128,\"vocab_size\":129280}"
	;

/* Replace (raw non-NULL) or delete (raw NULL) key path "a" or "a.b". */
static void gc_apply(cJSON *root, const char *path, const char *raw)
{
	char key[128];
	cJSON *obj = root;
	snprintf(key, sizeof key, "%s", path);
	char *dot = strchr(key, '.');
	if (dot) {
		*dot = '\0';
		obj = cJSON_GetObjectItemCaseSensitive(root, key);
		if (!obj) {
			obj = cJSON_CreateObject();
			cJSON_AddItemToObject(root, key, obj);
		}
		memmove(key, dot + 1, strlen(dot + 1) + 1);
	}
	cJSON_DeleteItemFromObjectCaseSensitive(obj, key);
	if (raw)
		cJSON_AddItemToObject(obj, key, cJSON_CreateRaw(raw));
}

/* Register the base config with up to two edits (p2 NULL: one edit). */
static void gc_case(struct corpus *c, const char *id, enum dsck_err expect,
		    const char *what, const char *p1, const char *r1,
		    const char *p2, const char *r2)
{
	cJSON *root = cJSON_Parse(gc_base);
	if (!root) {
		fprintf(stderr, "gen_config: base config does not parse\n");
		exit(3);
	}
	if (p1)
		gc_apply(root, p1, r1);
	if (p2)
		gc_apply(root, p2, r2);
	char *text = cJSON_PrintUnformatted(root);
	cJSON_Delete(root);
	if (!text) {
		fprintf(stderr, "gen_config: out of memory\n");
		exit(3);
	}
	corpus_add(c, id, CORPUS_CONFIG, expect, what, text, strlen(text));
	cJSON_free(text);
}

#define ONE(id, exp, what, p, r) gc_case(c, id, exp, what, p, r, NULL, NULL)

void gen_config(struct corpus *c)
{
	/* CF-01: a required field missing (CF-R2), named in the error. */
	ONE("CF-01a", DSCK_E_CONFIG_MISSING, "hidden_size missing", "hidden_size", NULL);
	ONE("CF-01b", DSCK_E_CONFIG_MISSING, "num_attention_heads missing",
	    "num_attention_heads", NULL);
	ONE("CF-01c", DSCK_E_CONFIG_MISSING, "num_hidden_layers missing",
	    "num_hidden_layers", NULL);
	ONE("CF-01d", DSCK_E_CONFIG_MISSING, "vocab_size missing", "vocab_size", NULL);
	ONE("CF-01e", DSCK_E_CONFIG_MISSING, "model_type missing", "model_type", NULL);
	ONE("CF-01f", DSCK_E_CONFIG_MISSING,
	    "moe_intermediate_size missing with routed experts",
	    "moe_intermediate_size", NULL);
	ONE("CF-01g", DSCK_E_CONFIG_MISSING, "kv_lora_rank missing", "kv_lora_rank", NULL);

	/* CF-02: a field of the wrong JSON type (CF-R3). */
	ONE("CF-02a", DSCK_E_CONFIG_TYPE, "hidden_size is the string \"4096\"",
	    "hidden_size", "\"4096\"");
	ONE("CF-02b", DSCK_E_CONFIG_TYPE, "hidden_size is 4096.5", "hidden_size", "4096.5");
	ONE("CF-02c", DSCK_E_CONFIG_TYPE, "hidden_size is true", "hidden_size", "true");
	ONE("CF-02d", DSCK_E_CONFIG_TYPE, "hidden_size is null", "hidden_size", "null");
	ONE("CF-02e", DSCK_OK, "q_lora_rank null (plain q_proj) is accepted",
	    "q_lora_rank", "null");
	ONE("CF-02f", DSCK_E_CONFIG_TYPE, "rope_theta is a string", "rope_theta",
	    "\"10000\"");
	ONE("CF-02g", DSCK_E_CONFIG_TYPE, "norm_topk_prob is 1", "norm_topk_prob", "1");

	/* CF-03: zero or negative divisors and counts (CF-R4), no division
	 * by zero anywhere. */
	ONE("CF-03a", DSCK_E_CONFIG_RANGE, "num_attention_heads 0",
	    "num_attention_heads", "0");
	ONE("CF-03b", DSCK_E_CONFIG_RANGE, "num_attention_heads -1",
	    "num_attention_heads", "-1");
	ONE("CF-03c", DSCK_E_CONFIG_RANGE, "num_key_value_heads 0",
	    "num_key_value_heads", "0");
	ONE("CF-03d", DSCK_E_CONFIG_RANGE, "n_group 0", "n_group", "0");
	ONE("CF-03e", DSCK_E_CONFIG_RANGE, "moe_layer_freq 0", "moe_layer_freq", "0");
	ONE("CF-03f", DSCK_E_CONFIG_RANGE, "weight_block_size [0,128]",
	    "quantization_config.weight_block_size", "[0,128]");

	/* CF-04: divisibility and consistency (CF-R5). hidden_size need not
	 * be a multiple of the heads: MLA head dims are explicit, and CF-R5
	 * lists no such rule, so that variant is accepted. */
	ONE("CF-04a", DSCK_E_CONFIG_RANGE, "num_attention_heads % num_key_value_heads != 0",
	    "num_key_value_heads", "3");
	ONE("CF-04b", DSCK_OK, "hidden_size % num_attention_heads != 0 (MLA: allowed)",
	    "hidden_size", "7000");
	ONE("CF-04c", DSCK_E_CONFIG_RANGE, "n_routed_experts % n_group != 0", "n_group", "7");
	ONE("CF-04d", DSCK_E_CONFIG_RANGE, "topk_group > n_group", "topk_group", "9");
	ONE("CF-04e", DSCK_E_CONFIG_RANGE,
	    "num_experts_per_tok > topk_group * experts per group",
	    "num_experts_per_tok", "129");
	ONE("CF-04f", DSCK_E_CONFIG_RANGE, "first_k_dense_replace > num_hidden_layers",
	    "first_k_dense_replace", "62");
	ONE("CF-04g", DSCK_E_CONFIG_RANGE, "num_experts_per_tok > n_routed_experts",
	    "num_experts_per_tok", "257");

	/* CF-05: huge values, capped before any sizing math (CF-R4). */
	ONE("CF-05a", DSCK_E_CONFIG_RANGE, "vocab_size 2^40", "vocab_size",
	    "1099511627776");
	ONE("CF-05b", DSCK_E_CONFIG_RANGE, "max_position_embeddings 2^62",
	    "max_position_embeddings", "4611686018427387904");
	ONE("CF-05c", DSCK_E_CONFIG_RANGE, "num_hidden_layers 10^9", "num_hidden_layers",
	    "1000000000");
	ONE("CF-05d", DSCK_E_CONFIG_RANGE, "n_routed_experts 4097", "n_routed_experts",
	    "4097");
	ONE("CF-05e", DSCK_E_CONFIG_RANGE, "hidden_size 2^20 + 1", "hidden_size",
	    "1048577");
	ONE("CF-05f", DSCK_E_CONFIG_RANGE, "hidden_size 2^64", "hidden_size",
	    "18446744073709551616");
	ONE("CF-05g", DSCK_E_CONFIG_RANGE, "rms_norm_eps 1", "rms_norm_eps", "1");
	ONE("CF-05h", DSCK_E_CONFIG_RANGE, "rope_theta 1e400 (overflows a double)",
	    "rope_theta", "1e400");

	/* CF-06 (config disagrees with the tensors: MODEL_MISMATCH) needs a
	 * checkpoint beside the config; it is covered by dsck-verify's CLI
	 * tests, not by this single-file corpus. */

	/* CF-07: Python's non-standard literals (CF-R1, a documented
	 * differential with Python's json). */
	ONE("CF-07a", DSCK_E_INVALID_JSON, "rope_theta NaN", "rope_theta", "NaN");
	ONE("CF-07b", DSCK_E_INVALID_JSON, "rms_norm_eps Infinity", "rms_norm_eps",
	    "Infinity");
	ONE("CF-07c", DSCK_E_INVALID_JSON, "rope_theta -Infinity", "rope_theta",
	    "-Infinity");

	/* CF-08: unknown model or dtype names (CF-R6). */
	ONE("CF-08a", DSCK_E_UNSUPPORTED, "model_type llama", "model_type", "\"llama\"");
	ONE("CF-08b", DSCK_E_UNSUPPORTED, "model_type deepseek_v32", "model_type",
	    "\"deepseek_v32\"");
	ONE("CF-08c", DSCK_E_UNSUPPORTED, "architectures [LlamaForCausalLM]",
	    "architectures", "[\"LlamaForCausalLM\"]");
	ONE("CF-08d", DSCK_E_UNSUPPORTED, "torch_dtype int4", "torch_dtype", "\"int4\"");
	ONE("CF-08e", DSCK_E_UNSUPPORTED, "quant_method awq",
	    "quantization_config.quant_method", "\"awq\"");
	ONE("CF-08f", DSCK_E_UNSUPPORTED, "scale_fmt e8m0",
	    "quantization_config.scale_fmt", "\"e8m0\"");
	ONE("CF-08g", DSCK_E_UNSUPPORTED, "scoring_func relu", "scoring_func",
	    "\"relu\"");
	ONE("CF-08h", DSCK_OK, "scale_fmt ue8m0 (V3.1) is accepted",
	    "quantization_config.scale_fmt", "\"ue8m0\"");

	/* CF-09: rope_scaling null / object / string / unknown type. */
	ONE("CF-09a", DSCK_OK, "rope_scaling null", "rope_scaling", "null");
	ONE("CF-09b", DSCK_OK, "rope_scaling absent", "rope_scaling", NULL);
	ONE("CF-09c", DSCK_E_CONFIG_TYPE, "rope_scaling is a string", "rope_scaling",
	    "\"yarn\"");
	ONE("CF-09d", DSCK_E_UNSUPPORTED, "rope_scaling type linear", "rope_scaling.type",
	    "\"linear\"");
	gc_case(c, "CF-09e", DSCK_OK, "rope_scaling with rope_type yarn",
		"rope_scaling.type", NULL, "rope_scaling.rope_type", "\"yarn\"");
	ONE("CF-09f", DSCK_E_CONFIG_MISSING, "rope_scaling without a type",
	    "rope_scaling.type", NULL);
	ONE("CF-09g", DSCK_E_CONFIG_RANGE, "rope_scaling factor 0", "rope_scaling.factor",
	    "0");

	/* CF-10: code references are recorded, never followed (CF-R8). */
	ONE("CF-10a", DSCK_OK, "auto_map present (as published)", NULL, NULL);
	ONE("CF-10b", DSCK_OK, "auto_map naming a path outside the directory",
	    "auto_map", "{\"AutoModel\":\"../../../tmp/evil.Model\"}");

	/* CF-11: duplicate keys (J-R6), size cap (L-R5), nesting (J-R4). */
	{
		static const char dup[] =
			"{\"model_type\":\"deepseek_v3\",\"hidden_size\":7168,"
			"\"hidden_size\":4096}";
		corpus_add(c, "CF-11a", CORPUS_CONFIG, DSCK_E_DUPLICATE_KEY,
			   "hidden_size twice", dup, sizeof dup - 1);
	}
	{
		/* The base text padded with spaces to 1 MiB + 1 byte, and to
		 * exactly 1 MiB. Any larger file (a 64 MB one) takes the same
		 * path: refused from its size before a byte is read. */
		size_t cap = DSCK_CONFIG_MAX_BYTES, base = sizeof gc_base - 1;
		char *big = malloc(cap + 1);
		if (!big) {
			fprintf(stderr, "gen_config: out of memory\n");
			exit(3);
		}
		memcpy(big, gc_base, base);
		memset(big + base, ' ', cap + 1 - base);
		corpus_add(c, "CF-11b", CORPUS_CONFIG, DSCK_E_LIMIT,
			   "config.json of 1 MiB + 1 byte", big, cap + 1);
		corpus_add(c, "CF-11c", CORPUS_CONFIG, DSCK_OK,
			   "config.json of exactly 1 MiB", big, cap);
		free(big);
	}
	{
		/* 10,000 nested arrays under an unknown key. */
		const size_t depth = 10000;
		const char head[] = "{\"model_type\":\"deepseek_v3\",\"x\":";
		size_t hl = sizeof head - 1, n = hl + 2 * depth + 1;
		char *deep = malloc(n);
		if (!deep) {
			fprintf(stderr, "gen_config: out of memory\n");
			exit(3);
		}
		memcpy(deep, head, hl);
		memset(deep + hl, '[', depth);
		memset(deep + hl + depth, ']', depth);
		deep[n - 1] = '}';
		corpus_add(c, "CF-11d", CORPUS_CONFIG, DSCK_E_INVALID_JSON,
			   "10,000 nested arrays", deep, n);
		free(deep);
	}
}
