/*
 * config.c - config.json of the DeepSeek-V3 family as a checked struct
 * (config.h; formats.md §4, CF-R1..CF-R9).
 *
 * The text is untrusted. It goes through the strict JSON profile (CF-R1,
 * lib/json.c), then every field the toolkit uses is read through one table
 * (cf_fields below) that gives its JSON type, whether it is required, its
 * default (CF-R7) and its range (CF-R4). The consistency rules of CF-R5 run
 * only after every field has passed its own range check, so no rule ever
 * divides by zero or multiplies an unchecked value, and every size the
 * inventory later multiplies is bounded here (each factor ≤ 2^24).
 *
 * Error reporting: err->tensor holds the JSON key at fault ("hidden_size",
 * "rope_scaling.factor"), err->detail says what is wrong and cites the rule,
 * expected/found give the allowed range and the value; dsck_config_load
 * adds the file path (err->file).
 *
 * Order of checks, which decides the error reported when several are wrong:
 * size cap, JSON profile, top level object, model_type (CF-R6), the field
 * table in its order (missing / type / range), MoE-required fields, string
 * enums, architectures, rope_scaling, quantization_config, then CF-R5.
 */
#include "config.h"
#include "io.h"
#include "json.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* CF-R4 caps. */
#define CF_SIZE_CAP (1ull << 20)     /* hidden, intermediate, ranks, head dims */
#define CF_VOCAB_CAP (1ull << 24)
#define CF_LAYER_CAP 1024ull         /* main layers; also MTP layers and moe_layer_freq */
#define CF_EXPERT_CAP 4096ull        /* routed, shared, per token, groups */
#define CF_HEAD_CAP 1024ull
#define CF_POS_CAP (1ull << 24)      /* max_position_embeddings */
#define CF_BLOCK_CAP 4096ull         /* weight_block_size entries */
#define CF_TOKEN_CAP (1ull << 53)    /* token ids: exact in a double (J-R7) */

/* ---- error helpers -------------------------------------------------- */

/* Record code for field (a JSON key path) with a printf detail. */
static enum dsck_err cf_fail(struct dsck_error *err, enum dsck_err code,
			     const char *field, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static enum dsck_err cf_fail(struct dsck_error *err, enum dsck_err code,
			     const char *field, const char *fmt, ...)
{
	char msg[DSCK_ERROR_FIELD];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	dsck_error_tensor(err, field);
	return dsck_error_set(err, code, "%s", msg);
}

/* Name of a JSON item's type, for "found" in CONFIG_TYPE errors. */
static const char *cf_type_name(const cJSON *it)
{
	if (cJSON_IsNull(it))
		return "null";
	if (cJSON_IsBool(it))
		return "a boolean";
	if (cJSON_IsNumber(it))
		return "a number";
	if (cJSON_IsString(it))
		return "a string";
	if (cJSON_IsArray(it))
		return "an array";
	if (cJSON_IsObject(it))
		return "an object";
	return "an unknown JSON value";
}

static enum dsck_err cf_type_error(struct dsck_error *err, const char *field,
				   const char *want, const cJSON *it)
{
	dsck_error_expect(err, "%s", want);
	dsck_error_found(err, "%s", cf_type_name(it));
	return cf_fail(err, DSCK_E_CONFIG_TYPE, field,
		       "'%s' must be %s (CF-R3)", field, want);
}

/* ---- typed readers -------------------------------------------------- */

/*
 * An integer field: a JSON number with an integral value (4096 or 4096.0,
 * J-R7). A fraction is CONFIG_TYPE; a negative, non-finite or > 2^53 value
 * is CONFIG_RANGE (it is an integer, just not a usable one). Range
 * [lo, hi] is checked here too.
 */
static enum dsck_err cf_read_u64(const cJSON *it, const char *field,
				 uint64_t lo, uint64_t hi, uint64_t *out,
				 struct dsck_error *err)
{
	if (!cJSON_IsNumber(it))
		return cf_type_error(err, field, "an integer", it);
	double d = it->valuedouble;
	if (isfinite(d) && d != floor(d)) {
		dsck_error_expect(err, "an integer");
		dsck_error_found(err, "%.17g", d);
		return cf_fail(err, DSCK_E_CONFIG_TYPE, field,
			       "'%s' must be an integer (CF-R3)", field);
	}
	uint64_t v = 0;
	if (!isfinite(d) || d < 0 || dsck_json_u64(it, &v) != 0 || v < lo ||
	    v > hi) {
		dsck_error_expect(err, "%llu..%llu", (unsigned long long)lo,
				  (unsigned long long)hi);
		/* Integral here: print it whole, not as 4.6e+18. */
		dsck_error_found(err, isfinite(d) && fabs(d) < 1e21 ? "%.0f" : "%g", d);
		return cf_fail(err, DSCK_E_CONFIG_RANGE, field,
			       "'%s' is out of range (CF-R4)", field);
	}
	*out = v;
	return DSCK_OK;
}

/* Bounds of a real field: lo < v (open) or lo <= v, and v < hi or v <= hi. */
struct cf_real_range {
	double lo, hi;
	int lo_open, hi_open;
};

static enum dsck_err cf_read_f64(const cJSON *it, const char *field,
				 const struct cf_real_range *r, double *out,
				 struct dsck_error *err)
{
	if (!cJSON_IsNumber(it))
		return cf_type_error(err, field, "a number", it);
	double d = it->valuedouble;
	int ok = isfinite(d) && (r->lo_open ? d > r->lo : d >= r->lo) &&
		 (r->hi_open ? d < r->hi : d <= r->hi);
	if (!ok) {
		dsck_error_expect(err, "%s%g, %g%s", r->lo_open ? "(" : "[",
				  r->lo, r->hi, r->hi_open ? ")" : "]");
		dsck_error_found(err, "%.17g", d);
		return cf_fail(err, DSCK_E_CONFIG_RANGE, field,
			       "'%s' is out of range (CF-R4)", field);
	}
	*out = d;
	return DSCK_OK;
}

/* Look a key up; a JSON null counts as absent only when nullable. */
static const cJSON *cf_get(const cJSON *obj, const char *key)
{
	return cJSON_GetObjectItemCaseSensitive(obj, key);
}

/* A string that must be one of names[0..n). Sets *idx. */
static enum dsck_err cf_read_enum(const cJSON *it, const char *field,
				  const char *const *names, size_t n,
				  size_t *idx, struct dsck_error *err)
{
	if (!cJSON_IsString(it) || !it->valuestring)
		return cf_type_error(err, field, "a string", it);
	for (size_t i = 0; i < n; i++) {
		if (strcmp(it->valuestring, names[i]) == 0) {
			*idx = i;
			return DSCK_OK;
		}
	}
	char want[DSCK_ERROR_FIELD];
	size_t used = 0;
	want[0] = '\0';
	for (size_t i = 0; i < n && used < sizeof want; i++) {
		int k = snprintf(want + used, sizeof want - used, "%s%s",
				 i ? ", " : "one of ", names[i]);
		if (k > 0)
			used += (size_t)k;
	}
	dsck_error_expect(err, "%s", want);
	dsck_error_found(err, "\"%.120s\"", it->valuestring);
	return cf_fail(err, DSCK_E_UNSUPPORTED, field,
		       "unsupported value of '%s' (CF-R6)", field);
}

/* ---- the field table (CF-R2, CF-R3, CF-R4, CF-R7) --------------------- */

enum cf_kind {
	CF_U64,   /* uint64_t, range [lo, hi] */
	CF_TOKEN, /* int64_t token id in [0, 2^53]; absent or null: -1 */
	CF_F64,   /* double, range rr */
	CF_BOOL,  /* int 0/1 */
};

enum cf_flags {
	CF_REQ = 1 << 0,      /* CF-R2: always required */
	CF_REQ_MOE = 1 << 1,  /* CF-R2: required when n_routed_experts > 0 */
	CF_NULLABLE = 1 << 2, /* JSON null means "absent": the default applies */
};

struct cf_field {
	const char *key;
	enum cf_kind kind;
	unsigned flags;
	size_t off;                /* offsetof(struct dsck_config, ...) */
	uint64_t lo, hi, udef;     /* CF_U64 */
	struct cf_real_range rr;   /* CF_F64 */
	double ddef;               /* CF_F64 */
	int bdef;                  /* CF_BOOL */
};

#define U64F(k, fl, l, h, d) \
	{ #k, CF_U64, fl, offsetof(struct dsck_config, k), l, h, d, { 0, 0, 0, 0 }, 0, 0 }
#define F64F(k, l, lo_o, h, hi_o, d) \
	{ #k, CF_F64, 0, offsetof(struct dsck_config, k), 0, 0, 0, { l, h, lo_o, hi_o }, d, 0 }
#define BOOLF(k, d) \
	{ #k, CF_BOOL, 0, offsetof(struct dsck_config, k), 0, 0, 0, { 0, 0, 0, 0 }, 0, d }
#define TOKF(k) \
	{ #k, CF_TOKEN, CF_NULLABLE, offsetof(struct dsck_config, k), 0, \
	  CF_TOKEN_CAP, 0, { 0, 0, 0, 0 }, 0, 0 }

/*
 * One row per numeric or boolean field. A default of 0 for a field whose
 * range starts at 1 means "absent" (num_key_value_heads,
 * max_position_embeddings, the MoE sizes of a dense model, q_lora_rank:
 * 0 selects the plain q_proj path, as JSON null does).
 */
static const struct cf_field cf_fields[] = {
	U64F(vocab_size, CF_REQ, 1, CF_VOCAB_CAP, 0),
	U64F(hidden_size, CF_REQ, 1, CF_SIZE_CAP, 0),
	U64F(intermediate_size, CF_REQ, 1, CF_SIZE_CAP, 0),
	U64F(num_hidden_layers, CF_REQ, 1, CF_LAYER_CAP, 0),
	U64F(num_attention_heads, CF_REQ, 1, CF_HEAD_CAP, 0),
	U64F(num_key_value_heads, CF_NULLABLE, 1, CF_HEAD_CAP, 0),
	U64F(q_lora_rank, CF_NULLABLE, 1, CF_SIZE_CAP, 0),
	U64F(kv_lora_rank, CF_REQ, 1, CF_SIZE_CAP, 0),
	U64F(qk_nope_head_dim, CF_REQ, 1, CF_SIZE_CAP, 0),
	U64F(qk_rope_head_dim, CF_REQ, 1, CF_SIZE_CAP, 0),
	U64F(v_head_dim, CF_REQ, 1, CF_SIZE_CAP, 0),
	U64F(n_routed_experts, CF_NULLABLE, 0, CF_EXPERT_CAP, 0),
	U64F(moe_intermediate_size, CF_REQ_MOE | CF_NULLABLE, 1, CF_SIZE_CAP, 0),
	U64F(num_experts_per_tok, CF_REQ_MOE | CF_NULLABLE, 1, CF_EXPERT_CAP, 0),
	U64F(n_shared_experts, CF_NULLABLE, 0, CF_EXPERT_CAP, 0),
	U64F(n_group, CF_NULLABLE, 1, CF_EXPERT_CAP, 1),
	U64F(topk_group, CF_NULLABLE, 1, CF_EXPERT_CAP, 1),
	U64F(first_k_dense_replace, 0, 0, CF_LAYER_CAP, 0),
	U64F(moe_layer_freq, 0, 1, CF_LAYER_CAP, 1),
	U64F(num_nextn_predict_layers, 0, 0, CF_LAYER_CAP, 0),
	U64F(max_position_embeddings, 0, 1, CF_POS_CAP, 0),
	F64F(routed_scaling_factor, 0, 1, INFINITY, 1, 1.0),
	F64F(rope_theta, 0, 1, INFINITY, 1, 10000.0),
	F64F(rms_norm_eps, 0, 1, 1, 1, 1e-6),
	BOOLF(norm_topk_prob, 0),
	BOOLF(tie_word_embeddings, 0),
	TOKF(bos_token_id),
	TOKF(eos_token_id),
};

/* Read one table row into cfg; *present says whether the key had a value. */
static enum dsck_err cf_read_field(const cJSON *root, const struct cf_field *f,
				   struct dsck_config *cfg, int *present,
				   struct dsck_error *err)
{
	char *base = (char *)cfg + f->off;
	const cJSON *it = cf_get(root, f->key);
	if (it && cJSON_IsNull(it) && (f->flags & CF_NULLABLE))
		it = NULL;
	*present = it != NULL;
	if (!it) {
		if (f->flags & CF_REQ) {
			dsck_error_expect(err, "'%s'", f->key);
			dsck_error_found(err, "nothing");
			return cf_fail(err, DSCK_E_CONFIG_MISSING, f->key,
				       "required field '%s' is missing (CF-R2)",
				       f->key);
		}
		switch (f->kind) {
		case CF_U64: memcpy(base, &f->udef, sizeof f->udef); break;
		case CF_F64: memcpy(base, &f->ddef, sizeof f->ddef); break;
		case CF_BOOL: memcpy(base, &f->bdef, sizeof f->bdef); break;
		case CF_TOKEN: {
			int64_t none = -1;
			memcpy(base, &none, sizeof none);
			break;
		}
		}
		return DSCK_OK;
	}
	enum dsck_err rc = DSCK_OK;
	switch (f->kind) {
	case CF_U64: {
		uint64_t v = 0;
		rc = cf_read_u64(it, f->key, f->lo, f->hi, &v, err);
		if (!rc)
			memcpy(base, &v, sizeof v);
		break;
	}
	case CF_TOKEN: {
		uint64_t v = 0;
		rc = cf_read_u64(it, f->key, f->lo, f->hi, &v, err);
		if (!rc) {
			int64_t s = (int64_t)v; /* v ≤ 2^53 */
			memcpy(base, &s, sizeof s);
		}
		break;
	}
	case CF_F64: {
		double v = 0;
		rc = cf_read_f64(it, f->key, &f->rr, &v, err);
		if (!rc)
			memcpy(base, &v, sizeof v);
		break;
	}
	case CF_BOOL: {
		if (!cJSON_IsBool(it))
			return cf_type_error(err, f->key, "a boolean", it);
		int v = cJSON_IsTrue(it) ? 1 : 0;
		memcpy(base, &v, sizeof v);
		break;
	}
	}
	return rc;
}

/* ---- string fields (CF-R6) ------------------------------------------ */

static const char *const cf_model_types[] = { "deepseek_v3", "kimi_k2",
					      "deepseek_v2" };
static const enum dsck_family cf_model_families[] = {
	DSCK_FAMILY_DEEPSEEK_V3, DSCK_FAMILY_KIMI_K2, DSCK_FAMILY_DEEPSEEK_V2,
};
static const char *const cf_score_funcs[] = { "softmax", "sigmoid" };
static const char *const cf_topk_methods[] = { "greedy", "group_limited_greedy",
					       "noaux_tc" };
/* torch_dtype: the checkpoint's nominal dtype; FP8 checkpoints say bfloat16. */
static const char *const cf_torch_dtypes[] = { "bfloat16", "float16", "float32" };
/* architectures entries of the supported model types (input-safety CF-08). */
static const char *const cf_archs[] = { "DeepseekV3ForCausalLM",
					"DeepseekV2ForCausalLM" };

#define CF_COUNT(a) (sizeof(a) / sizeof((a)[0]))

static enum dsck_err cf_read_strings(const cJSON *root, struct dsck_config *cfg,
				     struct dsck_error *err)
{
	enum dsck_err rc;
	size_t idx = 0;
	const cJSON *it;

	it = cf_get(root, "scoring_func");
	cfg->scoring_func = DSCK_SCORE_SOFTMAX; /* CF-R7 */
	if (it) {
		rc = cf_read_enum(it, "scoring_func", cf_score_funcs,
				  CF_COUNT(cf_score_funcs), &idx, err);
		if (rc)
			return rc;
		cfg->scoring_func = idx ? DSCK_SCORE_SIGMOID : DSCK_SCORE_SOFTMAX;
	}

	it = cf_get(root, "topk_method");
	cfg->topk_method = DSCK_TOPK_GREEDY; /* CF-R7 */
	if (it) {
		rc = cf_read_enum(it, "topk_method", cf_topk_methods,
				  CF_COUNT(cf_topk_methods), &idx, err);
		if (rc)
			return rc;
		cfg->topk_method = idx == 0 ? DSCK_TOPK_GREEDY
				 : idx == 1 ? DSCK_TOPK_GROUP_LIMITED_GREEDY
					    : DSCK_TOPK_NOAUX_TC;
	}

	/* Newer transformers writes "dtype" where older wrote "torch_dtype". */
	static const char *const dtype_keys[] = { "torch_dtype", "dtype" };
	cfg->torch_dtype[0] = '\0';
	for (size_t k = 0; k < CF_COUNT(dtype_keys); k++) {
		it = cf_get(root, dtype_keys[k]);
		if (!it || cJSON_IsNull(it))
			continue;
		rc = cf_read_enum(it, dtype_keys[k], cf_torch_dtypes,
				  CF_COUNT(cf_torch_dtypes), &idx, err);
		if (rc)
			return rc;
		if (!cfg->torch_dtype[0])
			snprintf(cfg->torch_dtype, sizeof cfg->torch_dtype, "%s",
				 cf_torch_dtypes[idx]);
	}

	it = cf_get(root, "architectures");
	if (it && !cJSON_IsNull(it)) {
		if (!cJSON_IsArray(it))
			return cf_type_error(err, "architectures",
					     "an array of strings", it);
		const cJSON *a;
		cJSON_ArrayForEach(a, it) {
			rc = cf_read_enum(a, "architectures", cf_archs,
					  CF_COUNT(cf_archs), &idx, err);
			if (rc)
				return rc;
		}
	}

	/* CF-R8: recorded, never followed or interpreted. */
	it = cf_get(root, "auto_map");
	cfg->has_auto_map = it && !cJSON_IsNull(it);
	return DSCK_OK;
}

/* ---- rope_scaling (CF-R6) ------------------------------------------- */

static enum dsck_err cf_read_rope(const cJSON *root, struct dsck_config *cfg,
				  struct dsck_error *err)
{
	static const struct cf_real_range positive = { 0, INFINITY, 1, 1 };
	static const struct cf_real_range nonneg = { 0, INFINITY, 0, 1 };
	enum dsck_err rc;
	size_t idx = 0;
	static const char *const types[] = { "yarn" };

	/* Defaults of the YaRN code of the reference model (factor has none). */
	cfg->has_rope_scaling = 0;
	cfg->rope_type[0] = '\0';
	cfg->rope_factor = 1.0;
	cfg->rope_original_max_position_embeddings = 4096;
	cfg->rope_beta_fast = 32.0;
	cfg->rope_beta_slow = 1.0;
	cfg->rope_mscale = 1.0;
	cfg->rope_mscale_all_dim = 0.0;

	const cJSON *rs = cf_get(root, "rope_scaling");
	if (!rs || cJSON_IsNull(rs))
		return DSCK_OK;
	if (!cJSON_IsObject(rs))
		return cf_type_error(err, "rope_scaling", "an object or null", rs);

	/* "type" (older) or "rope_type" (newer transformers); each given one
	 * must name a supported kind. */
	const cJSON *t1 = cf_get(rs, "type"), *t2 = cf_get(rs, "rope_type");
	if (!t1 && !t2) {
		dsck_error_expect(err, "\"type\": \"yarn\"");
		dsck_error_found(err, "nothing");
		return cf_fail(err, DSCK_E_CONFIG_MISSING, "rope_scaling.type",
			       "rope_scaling has no 'type' or 'rope_type' (CF-R6)");
	}
	if (t1 && (rc = cf_read_enum(t1, "rope_scaling.type", types,
				     CF_COUNT(types), &idx, err)))
		return rc;
	if (t2 && (rc = cf_read_enum(t2, "rope_scaling.rope_type", types,
				     CF_COUNT(types), &idx, err)))
		return rc;
	snprintf(cfg->rope_type, sizeof cfg->rope_type, "%s", types[0]);

	const cJSON *it = cf_get(rs, "factor");
	if (!it) {
		dsck_error_expect(err, "a number > 0");
		dsck_error_found(err, "nothing");
		return cf_fail(err, DSCK_E_CONFIG_MISSING, "rope_scaling.factor",
			       "rope_scaling has no 'factor' (CF-R2)");
	}
	if ((rc = cf_read_f64(it, "rope_scaling.factor", &positive,
			      &cfg->rope_factor, err)))
		return rc;

	if ((it = cf_get(rs, "original_max_position_embeddings")) &&
	    (rc = cf_read_u64(it, "rope_scaling.original_max_position_embeddings",
			      1, CF_POS_CAP,
			      &cfg->rope_original_max_position_embeddings, err)))
		return rc;

	struct {
		const char *key, *field;
		const struct cf_real_range *r;
		double *dst;
	} reals[] = {
		{ "beta_fast", "rope_scaling.beta_fast", &positive, &cfg->rope_beta_fast },
		{ "beta_slow", "rope_scaling.beta_slow", &positive, &cfg->rope_beta_slow },
		{ "mscale", "rope_scaling.mscale", &nonneg, &cfg->rope_mscale },
		{ "mscale_all_dim", "rope_scaling.mscale_all_dim", &nonneg,
		  &cfg->rope_mscale_all_dim },
	};
	for (size_t i = 0; i < CF_COUNT(reals); i++) {
		it = cf_get(rs, reals[i].key);
		if (it && (rc = cf_read_f64(it, reals[i].field, reals[i].r,
					    reals[i].dst, err)))
			return rc;
	}
	cfg->has_rope_scaling = 1;
	return DSCK_OK;
}

/* ---- quantization_config (CF-R6) ------------------------------------ */

static enum dsck_err cf_read_quant(const cJSON *root, struct dsck_config *cfg,
				   struct dsck_error *err)
{
	static const char *const methods[] = { "fp8" };
	static const char *const fmts[] = { "e4m3" };
	static const char *const scale_fmts[] = { "ue8m0" };
	enum dsck_err rc;
	size_t idx = 0;

	/* A BF16 checkpoint still gets the block shape, so an FP8 inventory
	 * of it (a planned quantization) is defined. */
	cfg->quantized = 0;
	cfg->block_rows = 128;
	cfg->block_cols = 128;
	cfg->scale_fmt = DSCK_SCALE_FLOAT;

	const cJSON *q = cf_get(root, "quantization_config");
	if (!q || cJSON_IsNull(q))
		return DSCK_OK;
	if (!cJSON_IsObject(q))
		return cf_type_error(err, "quantization_config", "an object or null", q);

	const cJSON *it = cf_get(q, "quant_method");
	if (!it) {
		dsck_error_expect(err, "\"fp8\"");
		dsck_error_found(err, "nothing");
		return cf_fail(err, DSCK_E_CONFIG_MISSING,
			       "quantization_config.quant_method",
			       "quantization_config has no 'quant_method' (CF-R6)");
	}
	if ((rc = cf_read_enum(it, "quantization_config.quant_method", methods,
			       CF_COUNT(methods), &idx, err)))
		return rc;

	it = cf_get(q, "fmt");
	if (it && (rc = cf_read_enum(it, "quantization_config.fmt", fmts,
				     CF_COUNT(fmts), &idx, err)))
		return rc;

	it = cf_get(q, "scale_fmt");
	if (it && !cJSON_IsNull(it)) {
		if ((rc = cf_read_enum(it, "quantization_config.scale_fmt",
				       scale_fmts, CF_COUNT(scale_fmts), &idx, err)))
			return rc;
		cfg->scale_fmt = DSCK_SCALE_UE8M0;
	}

	/* weight_block_size [rows, cols]; absent: [128, 128]. */
	it = cf_get(q, "weight_block_size");
	if (it) {
		const char *field = "quantization_config.weight_block_size";
		if (!cJSON_IsArray(it) || cJSON_GetArraySize(it) != 2)
			return cf_type_error(err, field, "an array of two integers", it);
		uint64_t v[2] = { 0, 0 };
		for (int i = 0; i < 2; i++) {
			rc = cf_read_u64(cJSON_GetArrayItem(it, i), field, 1,
					 CF_BLOCK_CAP, &v[i], err);
			if (rc)
				return rc;
		}
		cfg->block_rows = v[0];
		cfg->block_cols = v[1];
	}
	cfg->quantized = 1;
	return DSCK_OK;
}

/* ---- consistency (CF-R5) -------------------------------------------- */

static enum dsck_err cf_range2(struct dsck_error *err, const char *field,
			       const char *rule_text, uint64_t a, uint64_t b)
{
	dsck_error_expect(err, "%s", rule_text);
	dsck_error_found(err, "%llu vs %llu", (unsigned long long)a,
			 (unsigned long long)b);
	return cf_fail(err, DSCK_E_CONFIG_RANGE, field,
		       "'%s' is inconsistent with another field (CF-R5)", field);
}

/* All values here passed their range checks: every divisor is ≥ 1 and every
 * product is below 2^24 (experts ≤ 2^12), so no overflow is possible. */
static enum dsck_err cf_check_consistency(const struct dsck_config *c,
					  struct dsck_error *err)
{
	if (c->first_k_dense_replace > c->num_hidden_layers)
		return cf_range2(err, "first_k_dense_replace",
				 "first_k_dense_replace <= num_hidden_layers",
				 c->first_k_dense_replace, c->num_hidden_layers);
	if (c->num_key_value_heads &&
	    c->num_attention_heads % c->num_key_value_heads != 0)
		return cf_range2(err, "num_key_value_heads",
				 "num_attention_heads divisible by num_key_value_heads",
				 c->num_attention_heads, c->num_key_value_heads);
	if (c->n_routed_experts == 0)
		return DSCK_OK; /* dense model: the routing fields are unused */
	if (c->num_experts_per_tok > c->n_routed_experts)
		return cf_range2(err, "num_experts_per_tok",
				 "num_experts_per_tok <= n_routed_experts",
				 c->num_experts_per_tok, c->n_routed_experts);
	if (c->n_routed_experts % c->n_group != 0)
		return cf_range2(err, "n_group",
				 "n_group divides n_routed_experts",
				 c->n_routed_experts, c->n_group);
	if (c->topk_group > c->n_group)
		return cf_range2(err, "topk_group", "topk_group <= n_group",
				 c->topk_group, c->n_group);
	uint64_t reach = c->topk_group * (c->n_routed_experts / c->n_group);
	if (c->num_experts_per_tok > reach)
		return cf_range2(err, "num_experts_per_tok",
				 "num_experts_per_tok <= topk_group * (n_routed_experts / n_group)",
				 c->num_experts_per_tok, reach);
	return DSCK_OK;
}

/* ---- entry points --------------------------------------------------- */

static enum dsck_err cf_parse_tree(const cJSON *root, struct dsck_config *cfg,
				   struct dsck_error *err)
{
	enum dsck_err rc;
	size_t idx = 0;
	int present[CF_COUNT(cf_fields)];

	if (!cJSON_IsObject(root))
		return cf_fail(err, DSCK_E_INVALID_JSON, "",
			       "config.json must hold one JSON object (CF-R1)");

	/* model_type first: an unsupported model is reported as such, not as
	 * a missing field of a model we do not know. */
	const cJSON *mt = cf_get(root, "model_type");
	if (!mt) {
		dsck_error_expect(err, "'model_type'");
		dsck_error_found(err, "nothing");
		return cf_fail(err, DSCK_E_CONFIG_MISSING, "model_type",
			       "required field 'model_type' is missing (CF-R2)");
	}
	if ((rc = cf_read_enum(mt, "model_type", cf_model_types,
			       CF_COUNT(cf_model_types), &idx, err)))
		return rc;
	cfg->family = cf_model_families[idx];
	snprintf(cfg->model_type, sizeof cfg->model_type, "%s", cf_model_types[idx]);

	for (size_t i = 0; i < CF_COUNT(cf_fields); i++) {
		if ((rc = cf_read_field(root, &cf_fields[i], cfg, &present[i], err)))
			return rc;
	}
	if (cfg->n_routed_experts > 0) {
		for (size_t i = 0; i < CF_COUNT(cf_fields); i++) {
			const struct cf_field *f = &cf_fields[i];
			if ((f->flags & CF_REQ_MOE) && !present[i]) {
				dsck_error_expect(err, "'%s' when n_routed_experts > 0",
						  f->key);
				dsck_error_found(err, "nothing");
				return cf_fail(err, DSCK_E_CONFIG_MISSING, f->key,
					       "required field '%s' is missing (CF-R2)",
					       f->key);
			}
		}
	}
	if ((rc = cf_read_strings(root, cfg, err)))
		return rc;
	if ((rc = cf_read_rope(root, cfg, err)))
		return rc;
	if ((rc = cf_read_quant(root, cfg, err)))
		return rc;
	return cf_check_consistency(cfg, err);
}

static enum dsck_err cf_parse_text(const char *text, size_t len,
				   struct dsck_config *cfg,
				   struct dsck_error *err)
{
	cJSON *root = NULL;
	enum dsck_err rc;

	memset(cfg, 0, sizeof *cfg);
	if (len > DSCK_CONFIG_MAX_BYTES) { /* L-R5, before parsing */
		dsck_error_expect(err, "at most %u bytes", DSCK_CONFIG_MAX_BYTES);
		dsck_error_found(err, "%zu bytes", len);
		return dsck_error_set(err, DSCK_E_LIMIT, "config.json too large (L-R5)");
	}
	rc = dsck_json_parse(text, len, 0, &root, err); /* CF-R1 */
	if (rc)
		goto out;
	rc = cf_parse_tree(root, cfg, err);
out:
	cJSON_Delete(root);
	if (rc)
		memset(cfg, 0, sizeof *cfg);
	return rc;
}

enum dsck_err dsck_config_parse(const char *text, size_t len,
				struct dsck_config *cfg, struct dsck_error *err)
{
	dsck_error_clear(err);
	return cf_parse_text(text, len, cfg, err);
}

enum dsck_err dsck_config_load(const char *path, struct dsck_config *cfg,
			       struct dsck_error *err)
{
	char *text = NULL;
	size_t len = 0;
	enum dsck_err rc;

	dsck_error_clear(err);
	memset(cfg, 0, sizeof *cfg);
	rc = dsck_file_read_all(path, DSCK_CONFIG_MAX_BYTES, &text, &len, err);
	if (rc)
		goto out;
	rc = cf_parse_text(text, len, cfg, err);
out:
	if (rc)
		dsck_error_file(err, path);
	free(text);
	return rc;
}

int dsck_config_layer_is_moe(const struct dsck_config *cfg, uint64_t layer)
{
	/* INV-R3; moe_layer_freq is ≥ 1 after parsing, guarded for
	 * hand-built structs. */
	return cfg->n_routed_experts > 0 && cfg->moe_layer_freq > 0 &&
	       layer >= cfg->first_k_dense_replace &&
	       layer % cfg->moe_layer_freq == 0;
}

/*
 * Human name for inspect, from model_type and a few sizes:
 *   kimi_k2                                   Kimi-K2
 *   deepseek_v2, q_lora_rank null             DeepSeek-V2-Lite
 *   deepseek_v2, q_lora_rank set              DeepSeek-V2
 *   deepseek_v3, hidden 7168, scale_fmt ue8m0 DeepSeek-V3.1
 *   deepseek_v3, hidden 7168                  DeepSeek-V3 (also R1)
 *   deepseek_v3, hidden 2048, q_lora null     Moonlight
 *   deepseek_v3, other sizes                  DeepSeek-V3-family
 */
const char *dsck_config_family_name(const struct dsck_config *cfg)
{
	switch (cfg->family) {
	case DSCK_FAMILY_KIMI_K2:
		return "Kimi-K2";
	case DSCK_FAMILY_DEEPSEEK_V2:
		return cfg->q_lora_rank == 0 ? "DeepSeek-V2-Lite" : "DeepSeek-V2";
	case DSCK_FAMILY_DEEPSEEK_V3:
		if (cfg->hidden_size == 7168)
			return cfg->scale_fmt == DSCK_SCALE_UE8M0 ? "DeepSeek-V3.1"
								  : "DeepSeek-V3";
		if (cfg->hidden_size == 2048 && cfg->q_lora_rank == 0)
			return "Moonlight";
		return "DeepSeek-V3-family";
	}
	return "unknown";
}
