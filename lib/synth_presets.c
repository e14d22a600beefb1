/*
 * synth_presets.c - the configs dsck-synth writes (synth.h).
 *
 * A preset is JSON text: the real 671B config.json (reference notes §1.1)
 * as the base, and for the smaller presets an overlay of the size fields.
 * The text goes through the same path as a user's config.json: strict JSON
 * parse, overrides edited into the tree, quantization_config set for the
 * dtype, printed the way transformers saves a config (sorted keys, 2-space
 * indent, ": " and ",\n"), then parsed back with dsck_config_parse so a
 * preset or an override that breaks a rule of formats.md §4 is refused with
 * the same named error a user file would get.
 *
 * Preset shapes and why:
 *   tiny  hidden 320, 8 heads (nope 64, rope 64, v 64), q_lora 192, kv_lora
 *         160, dense inter 1024, moe inter 256, 2 shared + 16 routed experts
 *         in 4 groups (topk_group 2, 4 per token), 4 layers (2 dense, 2 MoE)
 *         + 1 MTP layer, vocab 1024: about 22 MB. Reshardable to 1, 2, 4
 *         ranks under convert.py rules: every split dim of an FP8 tensor is
 *         a multiple of 4 x 128 = 512 (q_b rows 8*128 = 1024, kv_b rows
 *         8*128 = 1024, dense gate/up rows 1024, shared gate/up rows 2*256 =
 *         512, o_proj cols 8*64 = 512, dense down cols 1024, shared down
 *         cols 512), BF16 split dims (vocab rows) a multiple of 4, experts
 *         16 = 4 * 4. Unsplit dims hidden 320, q_lora 192, kv_lora 160,
 *         kv_a rows 224 are not multiples of 128: partial edge blocks.
 *   small hidden 1024, 16 heads (128/64/128 like the real model), q_lora
 *         512, kv_lora 256 (kv_a rows 320: a partial block), dense inter
 *         4096, moe inter 1024, 1 shared + 32 routed in 8 groups (topk_group
 *         4, 8 per token), 8 layers (2 dense) + 1 MTP, vocab 32768: about
 *         1.1 GB (1.8 GB with --experts 64). Every split dim is a multiple
 *         of 8 x 128 = 1024, so 1, 2, 4 and 8 ranks divide.
 *   671b  the real config, 163 shards named -of-000163 (SY-R3).
 */
#include "synth.h"

#include "io.h"
#include "json.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *const dsck_synth_preset_names[] = { "tiny", "small", "671b", NULL };

/* The DeepSeek-V3 / R1 config.json, every field of reference notes §1.1. */
static const char preset_base[] =
	"{\"architectures\":[\"DeepseekV3ForCausalLM\"],"
	"\"attention_bias\":false,"
	"\"attention_dropout\":0.0,"
	"\"auto_map\":{"
	"\"AutoConfig\":\"configuration_deepseek.DeepseekV3Config\","
	"\"AutoModel\":\"modeling_deepseek.DeepseekV3Model\","
	"\"AutoModelForCausalLM\":\"modeling_deepseek.DeepseekV3ForCausalLM\"},"
	"\"aux_loss_alpha\":0.001,"
	"\"bos_token_id\":0,"
	"\"eos_token_id\":1,"
	"\"ep_size\":1,"
	"\"first_k_dense_replace\":3,"
	"\"hidden_act\":\"silu\","
	"\"hidden_size\":7168,"
	"\"initializer_range\":0.02,"
	"\"intermediate_size\":18432,"
	"\"kv_lora_rank\":512,"
	"\"max_position_embeddings\":163840,"
	"\"model_type\":\"deepseek_v3\","
	"\"moe_intermediate_size\":2048,"
	"\"moe_layer_freq\":1,"
	"\"n_group\":8,"
	"\"n_routed_experts\":256,"
	"\"n_shared_experts\":1,"
	"\"norm_topk_prob\":true,"
	"\"num_attention_heads\":128,"
	"\"num_experts_per_tok\":8,"
	"\"num_hidden_layers\":61,"
	"\"num_key_value_heads\":128,"
	"\"num_nextn_predict_layers\":1,"
	"\"pretraining_tp\":1,"
	"\"q_lora_rank\":1536,"
	"\"qk_nope_head_dim\":128,"
	"\"qk_rope_head_dim\":64,"
	"\"quantization_config\":{\"activation_scheme\":\"dynamic\","
	"\"fmt\":\"e4m3\",\"quant_method\":\"fp8\","
	"\"weight_block_size\":[128,128]},"
	"\"rms_norm_eps\":1e-06,"
	"\"rope_scaling\":{\"beta_fast\":32,\"beta_slow\":1,\"factor\":40,"
	"\"mscale\":1.0,\"mscale_all_dim\":1.0,"
	"\"original_max_position_embeddings\":4096,\"type\":\"yarn\"},"
	"\"rope_theta\":10000,"
	"\"routed_scaling_factor\":2.5,"
	"\"scoring_func\":\"sigmoid\","
	"\"seq_aux\":true,"
	"\"tie_word_embeddings\":false,"
	"\"topk_group\":4,"
	"\"topk_method\":\"noaux_tc\","
	"\"torch_dtype\":\"bfloat16\","
	"\"transformers_version\":\"4.46.3\","
	"\"use_cache\":true,"
	"\"v_head_dim\":128,"
	"\"vocab_size\":129280}";

static const char overlay_tiny[] =
	"{\"first_k_dense_replace\":2,\"hidden_size\":320,"
	"\"intermediate_size\":1024,\"kv_lora_rank\":160,"
	"\"max_position_embeddings\":4096,\"moe_intermediate_size\":256,"
	"\"n_group\":4,\"n_routed_experts\":16,\"n_shared_experts\":2,"
	"\"num_attention_heads\":8,\"num_experts_per_tok\":4,"
	"\"num_hidden_layers\":4,\"num_key_value_heads\":8,"
	"\"q_lora_rank\":192,\"qk_nope_head_dim\":64,\"qk_rope_head_dim\":64,"
	"\"rope_scaling\":{\"beta_fast\":32,\"beta_slow\":1,\"factor\":4,"
	"\"mscale\":1.0,\"mscale_all_dim\":1.0,"
	"\"original_max_position_embeddings\":1024,\"type\":\"yarn\"},"
	"\"topk_group\":2,\"v_head_dim\":64,\"vocab_size\":1024}";

static const char overlay_small[] =
	"{\"first_k_dense_replace\":2,\"hidden_size\":1024,"
	"\"intermediate_size\":4096,\"kv_lora_rank\":256,"
	"\"max_position_embeddings\":16384,\"moe_intermediate_size\":1024,"
	"\"n_group\":8,\"n_routed_experts\":32,\"n_shared_experts\":1,"
	"\"num_attention_heads\":16,\"num_experts_per_tok\":8,"
	"\"num_hidden_layers\":8,\"num_key_value_heads\":16,"
	"\"q_lora_rank\":512,"
	"\"rope_scaling\":{\"beta_fast\":32,\"beta_slow\":1,\"factor\":4,"
	"\"mscale\":1.0,\"mscale_all_dim\":1.0,"
	"\"original_max_position_embeddings\":4096,\"type\":\"yarn\"},"
	"\"topk_group\":4,\"vocab_size\":32768}";

struct preset_row {
	const char *name;
	const char *overlay;  /* NULL: the base as is */
	size_t n_shards;
	int six_digit_total;
};

static const struct preset_row preset_table[] = {
	{ "tiny", overlay_tiny, 5, 0 },
	{ "small", overlay_small, 8, 0 },
	{ "671b", NULL, 163, 1 },
};

static const char quant_fp8[] =
	"{\"activation_scheme\":\"dynamic\",\"fmt\":\"e4m3\","
	"\"quant_method\":\"fp8\",\"weight_block_size\":[128,128]}";

/* Keys whose integral values transformers writes as floats ("0.0"). */
static int key_is_float(const char *k)
{
	static const char *const keys[] = {
		"attention_dropout", "mscale", "mscale_all_dim",
		"routed_scaling_factor", "rms_norm_eps", "initializer_range",
		"aux_loss_alpha", "temperature", "top_p", NULL,
	};
	for (size_t i = 0; k && keys[i]; i++)
		if (strcmp(k, keys[i]) == 0)
			return 1;
	return 0;
}

static int item_cmp(const void *a, const void *b)
{
	const cJSON *x = *(const cJSON *const *)a, *y = *(const cJSON *const *)b;
	return strcmp(x->string, y->string);
}

static void buf_indent(struct dsck_jsonw *b, int depth)
{
	dsck_jsonw_puts(b, "\n");
	for (int i = 0; i < depth; i++)
		dsck_jsonw_puts(b, "  ");
}

/*
 * Print item like json.dumps(indent=2, sort_keys=True). Depth is bounded by
 * the strict parser (J-R4), so the recursion is too.
 */
static void buf_json_item(struct dsck_jsonw *b, const cJSON *item,
			  int depth)
{
	if (cJSON_IsObject(item) || cJSON_IsArray(item)) {
		int obj = cJSON_IsObject(item);
		size_t n = 0, i = 0;
		const cJSON *c;
		for (c = item->child; c; c = c->next)
			n++;
		if (n == 0) {
			dsck_jsonw_puts(b, obj ? "{}" : "[]");
			return;
		}
		const cJSON **kids = malloc(n * sizeof *kids);
		if (!kids) {
			b->nomem = 1;
			return;
		}
		for (c = item->child; c; c = c->next)
			kids[i++] = c;
		if (obj)
			qsort(kids, n, sizeof *kids, item_cmp);
		dsck_jsonw_puts(b, obj ? "{" : "[");
		for (i = 0; i < n; i++) {
			buf_indent(b, depth + 1);
			if (obj) {
				dsck_jsonw_str(b, kids[i]->string, DSCK_JSONW_UTF8);
				dsck_jsonw_puts(b, ": ");
			}
			buf_json_item(b, kids[i], depth + 1);
			if (i + 1 < n)
				dsck_jsonw_puts(b, ",");
		}
		buf_indent(b, depth);
		dsck_jsonw_puts(b, obj ? "}" : "]");
		free(kids);
	} else if (cJSON_IsString(item)) {
		dsck_jsonw_str(b, item->valuestring, DSCK_JSONW_UTF8);
	} else if (cJSON_IsNumber(item)) {
		dsck_jsonw_double(b, item->valuedouble, key_is_float(item->string));
	} else if (cJSON_IsTrue(item)) {
		dsck_jsonw_puts(b, "true");
	} else if (cJSON_IsFalse(item)) {
		dsck_jsonw_puts(b, "false");
	} else {
		dsck_jsonw_puts(b, "null");
	}
}

/*
 * Set key of obj to item (replacing), taking ownership of item. The key is
 * copied first: cJSON frees item->string before copying the key, and an
 * overlay item passes its own string as the key.
 */
static int tree_set(cJSON *obj, const char *key, cJSON *item)
{
	int rc = -1;
	char *k = key ? strdup(key) : NULL;
	if (!item || !k) {
		cJSON_Delete(item);
		free(k);
		return -1;
	}
	if (cJSON_GetObjectItemCaseSensitive(obj, k))
		rc = cJSON_ReplaceItemInObjectCaseSensitive(obj, k, item) ? 0 : -1;
	else
		rc = cJSON_AddItemToObject(obj, k, item) ? 0 : -1;
	if (rc != 0)
		cJSON_Delete(item);
	free(k);
	return rc;
}

static enum dsck_err tree_parse(const char *text, size_t len, const char *what,
				cJSON **out, struct dsck_error *err)
{
	enum dsck_err rc = dsck_json_parse(text, len, 0, out, err);
	if (rc) {
		dsck_error_file(err, what);
		return rc;
	}
	if (!cJSON_IsObject(*out)) {
		cJSON_Delete(*out);
		*out = NULL;
		dsck_error_file(err, what);
		return dsck_error_set(err, DSCK_E_INVALID_JSON,
				      "top level is not an object");
	}
	return DSCK_OK;
}

void dsck_synth_config_release(struct dsck_synth_config *sc)
{
	free(sc->json);
	sc->json = NULL;
	sc->json_len = 0;
}

enum dsck_err dsck_synth_config_make(const struct dsck_synth_opts *opts,
				     struct dsck_synth_config *sc,
				     struct dsck_error *err)
{
	enum dsck_err rc = DSCK_OK;
	char *user_text = NULL;
	size_t user_len = 0;
	cJSON *root = NULL, *overlay = NULL;
	struct dsck_jsonw b = DSCK_JSONW_INIT;
	const struct preset_row *row = NULL;

	memset(sc, 0, sizeof *sc);
	if (opts->config_path) {
		rc = dsck_file_read_all(opts->config_path, DSCK_CONFIG_MAX_BYTES,
					&user_text, &user_len, err);
		if (rc)
			goto out;
		rc = tree_parse(user_text, user_len, opts->config_path, &root, err);
		if (rc)
			goto out;
		snprintf(sc->name, sizeof sc->name, "custom");
	} else {
		const char *want = opts->preset ? opts->preset : "tiny";
		for (size_t i = 0; i < sizeof preset_table / sizeof preset_table[0]; i++)
			if (strcmp(preset_table[i].name, want) == 0)
				row = &preset_table[i];
		if (!row) {
			rc = dsck_error_set(err, DSCK_E_USAGE,
					    "unknown preset '%s' (tiny, small, 671b)",
					    want);
			goto out;
		}
		rc = tree_parse(preset_base, sizeof preset_base - 1, "preset",
				&root, err);
		if (rc)
			goto out;
		if (row->overlay) {
			rc = tree_parse(row->overlay, strlen(row->overlay),
					"preset", &overlay, err);
			if (rc)
				goto out;
			/* detach each overlay field and move it into the base */
			while (overlay->child) {
				cJSON *it = cJSON_DetachItemViaPointer(overlay,
								       overlay->child);
				if (tree_set(root, it->string, it) != 0) {
					rc = dsck_error_set(err, DSCK_E_NOMEM,
							    "preset overlay");
					goto out;
				}
			}
		}
		sc->n_shards = row->n_shards;
		sc->six_digit_total = row->six_digit_total;
		sc->from_preset = 1;
		snprintf(sc->name, sizeof sc->name, "%s", row->name);
	}

	if (opts->layers >= 0 &&
	    tree_set(root, "num_hidden_layers",
		     cJSON_CreateNumber((double)opts->layers)) != 0) {
		rc = dsck_error_set(err, DSCK_E_NOMEM, "config override");
		goto out;
	}
	if (opts->experts >= 0 &&
	    tree_set(root, "n_routed_experts",
		     cJSON_CreateNumber((double)opts->experts)) != 0) {
		rc = dsck_error_set(err, DSCK_E_NOMEM, "config override");
		goto out;
	}
	if (opts->dtype == DSCK_SYNTH_DTYPE_BF16) {
		/* INV-R6: a BF16 checkpoint is one without quantization_config */
		cJSON_DeleteItemFromObjectCaseSensitive(root, "quantization_config");
	} else if (opts->dtype == DSCK_SYNTH_DTYPE_FP8 &&
		   !cJSON_GetObjectItemCaseSensitive(root, "quantization_config")) {
		cJSON *q = cJSON_Parse(quant_fp8);
		if (tree_set(root, "quantization_config", q) != 0) {
			rc = dsck_error_set(err, DSCK_E_NOMEM, "config quantization");
			goto out;
		}
	}

	buf_json_item(&b, root, 0);
	dsck_jsonw_puts(&b, "\n");
	rc = dsck_jsonw_check(&b, "config text", err);
	if (rc)
		goto out;
	rc = dsck_config_parse(b.p, b.len, &sc->cfg, err);
	if (rc) {
		char what[64];
		snprintf(what, sizeof what, "preset %s", sc->name);
		dsck_error_file(err, opts->config_path ? opts->config_path : what);
		goto out;
	}
	sc->json = dsck_jsonw_take(&b, &sc->json_len);
out:
	dsck_jsonw_release(&b);
	cJSON_Delete(overlay);
	cJSON_Delete(root);
	free(user_text);
	return rc;
}
