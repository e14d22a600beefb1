/*
 * output.c - dsck-inspect renderings: text for people, one JSON document
 * (--json) and JSON lines (--jsonl) for programs.
 *
 * JSON integers are written from uint64_t with "%llu" (cJSON raw items), so
 * byte counts print exactly and never in exponent form; floats with "%.17g",
 * which reads back to the same double; non-finite floats (min of a tensor
 * without finite values) as null. Tensor names come from files: cJSON
 * escapes them; the text renderer prints control bytes as '?'.
 */
#include "inspect.h"
#include "progress.h"

#include "config.h"

#include <cjson/cJSON.h>
#include <fnmatch.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- small formatters ---------------------------------------------------- */

/* 688574839360 -> "688,574,839,360" */
static const char *fmt_commas(char *buf, size_t n, uint64_t v)
{
	char tmp[32];
	int len = snprintf(tmp, sizeof tmp, "%" PRIu64, v);
	size_t o = 0;
	for (int i = 0; i < len && o + 1 < n; i++) {
		if (i > 0 && (len - i) % 3 == 0 && o + 2 < n)
			buf[o++] = ',';
		buf[o++] = tmp[i];
	}
	buf[o] = '\0';
	return buf;
}

/* Decimal units for parameter counts: "671.03B", "37.55B", "1.2M". */
static const char *fmt_count(char *buf, size_t n, uint64_t v)
{
	if (v >= 1000000000ull)
		snprintf(buf, n, "%.2fB", (double)v / 1e9);
	else if (v >= 1000000ull)
		snprintf(buf, n, "%.2fM", (double)v / 1e6);
	else if (v >= 1000ull)
		snprintf(buf, n, "%.2fK", (double)v / 1e3);
	else
		snprintf(buf, n, "%" PRIu64, v);
	return buf;
}

static const char *fmt_shape(char *buf, size_t n, const struct dsck_st_tensor *t)
{
	size_t o = 0;
	int k = snprintf(buf, n, "[");
	o = k > 0 ? (size_t)k : 0;
	for (uint32_t d = 0; d < t->ndim && o < n; d++) {
		k = snprintf(buf + o, n - o, "%s%" PRIu64, d ? ", " : "", t->shape[d]);
		o += k > 0 ? (size_t)k : 0;
	}
	if (o < n)
		snprintf(buf + o, n - o, "]");
	return buf;
}

/* A name from a file, with control bytes shown as '?', on out. */
static void put_name(FILE *out, const char *name, int width)
{
	int len = 0;
	for (const char *p = name; *p; p++, len++) {
		unsigned char c = (unsigned char)*p;
		fputc(c < 0x20 || c == 0x7f ? '?' : c, out);
	}
	for (; len < width; len++)
		fputc(' ', out);
}

static int selected(const char *glob, const char *name)
{
	return !glob || fnmatch(glob, name, 0) == 0;
}

static uint64_t tensor_file_offset(const struct dsck_ckpt *ck, const struct dsck_ckpt_tensor *ct)
{
	return ck->shards[ct->shard]->data_start + ct->t->begin;
}

/* ---- text ---------------------------------------------------------------- */

static void text_config(FILE *out, const struct dsck_config *c)
{
	fprintf(out, "config:      hidden %" PRIu64 ", layers %" PRIu64 " + %" PRIu64
		     " MTP, heads %" PRIu64 ", vocab %" PRIu64 "\n",
		c->hidden_size, c->num_hidden_layers, c->num_nextn_predict_layers,
		c->num_attention_heads, c->vocab_size);
	if (c->n_routed_experts > 0)
		fprintf(out, "             experts %" PRIu64 " routed + %" PRIu64
			     " shared, %" PRIu64 " active, %" PRIu64 " groups (top %" PRIu64
			     "), first %" PRIu64 " layers dense\n",
			c->n_routed_experts, c->n_shared_experts, c->num_experts_per_tok,
			c->n_group, c->topk_group, c->first_k_dense_replace);
	else
		fprintf(out, "             dense (no routed experts)\n");
	if (c->q_lora_rank)
		fprintf(out, "             q_lora %" PRIu64 ", kv_lora %" PRIu64, c->q_lora_rank,
			c->kv_lora_rank);
	else
		fprintf(out, "             q_lora none (plain q_proj), kv_lora %" PRIu64,
			c->kv_lora_rank);
	if (c->has_rope_scaling)
		fprintf(out, ", rope %s x%g (original %" PRIu64 ")\n", c->rope_type,
			c->rope_factor, c->rope_original_max_position_embeddings);
	else
		fprintf(out, ", rope unscaled\n");
	if (c->quantized)
		fprintf(out, "             quantization fp8 e4m3, block %" PRIu64 "x%" PRIu64
			     ", scale_fmt %s\n",
			c->block_rows, c->block_cols,
			c->scale_fmt == DSCK_SCALE_UE8M0 ? "ue8m0" : "float");
	else
		fprintf(out, "             quantization none\n");
}

static void text_tensors(FILE *out, const struct dsck_ckpt *ck, const char *glob)
{
	int w = 4;
	char shape[160], num[32];
	for (size_t i = 0; i < ck->n; i++)
		if (selected(glob, ck->tensors[i].t->name) && ck->tensors[i].t->name_len > (uint32_t)w)
			w = ck->tensors[i].t->name_len > 120 ? 120 : (int)ck->tensors[i].t->name_len;
	fprintf(out, "\n%-*s  %-11s  %-20s  %15s  %-36s  %s\n", w, "NAME", "DTYPE", "SHAPE",
		"BYTES", "SHARD", "OFFSET");
	for (size_t i = 0; i < ck->n; i++) {
		const struct dsck_ckpt_tensor *ct = &ck->tensors[i];
		if (!selected(glob, ct->t->name))
			continue;
		put_name(out, ct->t->name, w);
		fprintf(out, "  %-11s  %-20s  %15s  %-36s  %" PRIu64 "\n",
			dsck_dtype_name(ct->t->dtype), fmt_shape(shape, sizeof shape, ct->t),
			fmt_commas(num, sizeof num, ct->t->end - ct->t->begin),
			ck->shard_names[ct->shard], tensor_file_offset(ck, ct));
	}
}

static void text_stats(FILE *out, const struct insp_view *v)
{
	int w = 4;
	for (size_t i = 0; i < v->n_st; i++) {
		size_t len = strlen(v->st[i].name);
		if (len > (size_t)w)
			w = len > 120 ? 120 : (int)len;
	}
	fprintf(out, "\n%-*s  %-8s %12s %13s %13s %13s %13s %13s %9s %9s %9s  %s\n", w, "NAME",
		"DTYPE", "COUNT", "MIN", "MAX", "MEAN", "STD", "ABSMAX", "NAN", "INF", "ZERO",
		"DEQUANT");
	for (size_t i = 0; i < v->n_st; i++) {
		const struct dsck_tensor_stats *r = &v->st[i];
		put_name(out, r->name, w);
		fprintf(out, "  %-8s %12" PRIu64, dsck_dtype_name(r->dtype), r->s.count);
		if (!r->computed) {
			fprintf(out, "  (values of this dtype are not computed)\n");
			continue;
		}
		if (r->s.finite)
			fprintf(out, " %13.6g %13.6g %13.6g %13.6g %13.6g", r->s.min, r->s.max,
				r->s.mean, dsck_stats_std(&r->s), r->s.absmax);
		else
			fprintf(out, " %13s %13s %13s %13s %13s", "-", "-", "-", "-", "-");
		fprintf(out, " %9" PRIu64 " %9" PRIu64 " %9" PRIu64 "  ", r->s.nan_count,
			r->s.inf_count, r->s.zero_count);
		if (r->dequantized)
			fprintf(out, "%" PRIu64 "x%" PRIu64 " blocks\n", r->block_rows, r->block_cols);
		else
			fprintf(out, "no\n");
	}
}

int insp_print_text(FILE *out, const struct dsck_ckpt *ck,
		    const struct insp_summary *s, const struct insp_view *v)
{
	char a[64], b[64], c[64], d[64];
	fprintf(out, "path:        %s\n", ck->path);
	if (ck->has_config) {
		fprintf(out, "family:      %s (model_type %s)\n",
			dsck_config_family_name(&ck->cfg), ck->cfg.model_type);
		text_config(out, &ck->cfg);
	} else {
		fprintf(out, "family:      unknown (no config.json)\n");
	}
	fprintf(out, "shards:      %s\n", fmt_commas(a, sizeof a, ck->n_shards));
	fprintf(out, "tensors:     %s\n", fmt_commas(a, sizeof a, ck->n));
	fprintf(out, "payload:     %s (%s bytes)\n", dsck_format_bytes(a, sizeof a, ck->payload_bytes),
		fmt_commas(b, sizeof b, ck->payload_bytes));
	fprintf(out, "files:       %s (%s bytes; headers %s bytes)\n",
		dsck_format_bytes(a, sizeof a, ck->file_bytes), fmt_commas(b, sizeof b, ck->file_bytes),
		fmt_commas(c, sizeof c, ck->header_bytes));
	int first = 1;
	for (int t = 0; t < DSCK_DTYPE_COUNT; t++) {
		if (!s->count_by_dtype[t])
			continue;
		fprintf(out, "%s%-11s %8s tensors  %12s  (%s bytes)\n",
			first ? "by dtype:    " : "             ", dsck_dtype_name((enum dsck_dtype)t),
			fmt_commas(a, sizeof a, s->count_by_dtype[t]),
			dsck_format_bytes(b, sizeof b, s->bytes_by_dtype[t]),
			fmt_commas(c, sizeof c, s->bytes_by_dtype[t]));
		first = 0;
	}
	if (s->has_inv) {
		const struct dsck_inventory *inv = &s->inv;
		uint64_t total = inv->params_main + inv->params_mtp;
		fprintf(out, "parameters:  total %s (%s)\n", fmt_count(a, sizeof a, total),
			fmt_commas(b, sizeof b, total));
		fprintf(out, "             main %s (%s), MTP %s (%s)\n",
			fmt_count(a, sizeof a, inv->params_main),
			fmt_commas(b, sizeof b, inv->params_main),
			fmt_count(c, sizeof c, inv->params_mtp),
			fmt_commas(d, sizeof d, inv->params_mtp));
		fprintf(out, "             active per token %s (%s)\n",
			fmt_count(a, sizeof a, inv->params_active),
			fmt_commas(b, sizeof b, inv->params_active));
	}
	fprintf(out, "%s present %s (%s, scales excluded)\n",
		s->has_inv ? "            " : "parameters: ", fmt_count(a, sizeof a, s->params_present),
		fmt_commas(b, sizeof b, s->params_present));
	if (s->layout_fp8)
		fprintf(out, "layout:      FP8 e4m3 with %" PRIu64 "x%" PRIu64 " block scales\n",
			s->block_rows, s->block_cols);
	else
		fprintf(out, "layout:      BF16 (no FP8 tensors)\n");
	if (ck->mp_ranks)
		fprintf(out, "mp:          DeepSeek model-parallel files for %u ranks (model{r}-mp%u);\n"
			"             tensors and bytes above count every rank's file (replicas included);\n"
			"             dsck-shard --hf rebuilds the HF layout\n", ck->mp_ranks, ck->mp_ranks);
	if (ck->has_config && ck->cfg.has_auto_map)
		fprintf(out, "notes:       config.json names remote code (auto_map); dsck never runs it\n");
	if (s->n_findings == 0)
		fprintf(out, "findings:    none\n");
	else
		fprintf(out, "findings:    %zu\n", s->n_findings);
	for (size_t i = 0; i < s->n_findings; i++) {
		const struct insp_finding *f = &s->findings[i];
		fprintf(out, "  - %s: %s", f->kind, f->message);
		for (size_t k = 0; k < f->n_examples; k++) {
			fputs(k ? ", " : (f->count > f->n_examples ? " (first: " : " ("), out);
			put_name(out, f->examples[k], 0);
		}
		fputs(f->n_examples ? ")\n" : "\n", out);
	}
	if (v->tensors)
		text_tensors(out, ck, v->tensors_glob);
	if (v->stats)
		text_stats(out, v);
	return 0;
}

/* ---- JSON ---------------------------------------------------------------- */

/* Each helper returns 0, or -1 when cJSON could not allocate. */
static int j_u64(cJSON *o, const char *key, uint64_t v)
{
	char buf[32];
	snprintf(buf, sizeof buf, "%" PRIu64, v);
	return cJSON_AddRawToObject(o, key, buf) ? 0 : -1;
}

static int j_f64(cJSON *o, const char *key, double v)
{
	char buf[40];
	if (!isfinite(v))
		return cJSON_AddNullToObject(o, key) ? 0 : -1;
	snprintf(buf, sizeof buf, "%.17g", v);
	return cJSON_AddRawToObject(o, key, buf) ? 0 : -1;
}

static int j_str(cJSON *o, const char *key, const char *v)
{
	if (!v)
		return cJSON_AddNullToObject(o, key) ? 0 : -1;
	return cJSON_AddStringToObject(o, key, v) ? 0 : -1;
}

static int j_bool(cJSON *o, const char *key, int v)
{
	return cJSON_AddBoolToObject(o, key, v != 0) ? 0 : -1;
}

static int j_arr_u64(cJSON *a, uint64_t v)
{
	char buf[32];
	snprintf(buf, sizeof buf, "%" PRIu64, v);
	cJSON *n = cJSON_CreateRaw(buf);
	return n && cJSON_AddItemToArray(a, n) ? 0 : -1;
}

static cJSON *j_shape(const struct dsck_st_tensor *t)
{
	cJSON *a = cJSON_CreateArray();
	for (uint32_t d = 0; a && d < t->ndim; d++)
		if (j_arr_u64(a, t->shape[d])) {
			cJSON_Delete(a);
			return NULL;
		}
	return a;
}

static int j_config(cJSON *root, const struct dsck_config *c)
{
	int e = 0;
	cJSON *o = cJSON_AddObjectToObject(root, "config");
	if (!o)
		return -1;
	e |= j_str(o, "model_type", c->model_type);
	e |= j_u64(o, "vocab_size", c->vocab_size);
	e |= j_u64(o, "hidden_size", c->hidden_size);
	e |= j_u64(o, "intermediate_size", c->intermediate_size);
	e |= j_u64(o, "moe_intermediate_size", c->moe_intermediate_size);
	e |= j_u64(o, "num_hidden_layers", c->num_hidden_layers);
	e |= j_u64(o, "num_nextn_predict_layers", c->num_nextn_predict_layers);
	e |= j_u64(o, "first_k_dense_replace", c->first_k_dense_replace);
	e |= j_u64(o, "num_attention_heads", c->num_attention_heads);
	e |= j_u64(o, "n_routed_experts", c->n_routed_experts);
	e |= j_u64(o, "n_shared_experts", c->n_shared_experts);
	e |= j_u64(o, "num_experts_per_tok", c->num_experts_per_tok);
	e |= j_u64(o, "n_group", c->n_group);
	e |= j_u64(o, "topk_group", c->topk_group);
	if (c->q_lora_rank)
		e |= j_u64(o, "q_lora_rank", c->q_lora_rank);
	else
		e |= j_str(o, "q_lora_rank", NULL);
	e |= j_u64(o, "kv_lora_rank", c->kv_lora_rank);
	e |= j_u64(o, "qk_nope_head_dim", c->qk_nope_head_dim);
	e |= j_u64(o, "qk_rope_head_dim", c->qk_rope_head_dim);
	e |= j_u64(o, "v_head_dim", c->v_head_dim);
	e |= j_u64(o, "max_position_embeddings", c->max_position_embeddings);
	e |= j_bool(o, "tie_word_embeddings", c->tie_word_embeddings);
	if (c->has_rope_scaling) {
		cJSON *r = cJSON_AddObjectToObject(o, "rope_scaling");
		if (!r)
			return -1;
		e |= j_str(r, "type", c->rope_type);
		e |= j_f64(r, "factor", c->rope_factor);
		e |= j_u64(r, "original_max_position_embeddings",
			   c->rope_original_max_position_embeddings);
	} else {
		e |= j_str(o, "rope_scaling", NULL);
	}
	if (c->quantized) {
		cJSON *q = cJSON_AddObjectToObject(o, "quantization");
		cJSON *blk = q ? cJSON_AddArrayToObject(q, "weight_block_size") : NULL;
		if (!blk)
			return -1;
		e |= j_str(q, "quant_method", "fp8");
		e |= j_str(q, "fmt", "e4m3");
		e |= j_arr_u64(blk, c->block_rows);
		e |= j_arr_u64(blk, c->block_cols);
		e |= j_str(q, "scale_fmt", c->scale_fmt == DSCK_SCALE_UE8M0 ? "ue8m0" : NULL);
	} else {
		e |= j_str(o, "quantization", NULL);
	}
	e |= j_bool(o, "auto_map", c->has_auto_map);
	return e ? -1 : 0;
}

/* Fields of one tensor into o. */
static int j_tensor_fields(cJSON *o, const struct dsck_ckpt *ck,
			   const struct dsck_ckpt_tensor *ct)
{
	int e = 0;
	cJSON *shape = j_shape(ct->t);
	if (!shape)
		return -1;
	e |= j_str(o, "name", ct->t->name);
	e |= j_str(o, "dtype", dsck_dtype_name(ct->t->dtype));
	e |= cJSON_AddItemToObject(o, "shape", shape) ? 0 : -1;
	e |= j_u64(o, "bytes", ct->t->end - ct->t->begin);
	e |= j_str(o, "shard", ck->shard_names[ct->shard]);
	e |= j_u64(o, "offset", tensor_file_offset(ck, ct));
	return e ? -1 : 0;
}

/* Stats fields of one result into o. */
static int j_stats_fields(cJSON *o, const struct dsck_tensor_stats *r)
{
	int e = 0;
	int have = r->computed && r->s.finite > 0;
	e |= j_bool(o, "computed", r->computed);
	e |= j_u64(o, "count", r->s.count);
	e |= j_u64(o, "finite", r->s.finite);
	e |= j_u64(o, "nan", r->s.nan_count);
	e |= j_u64(o, "inf", r->s.inf_count);
	e |= j_u64(o, "zero", r->s.zero_count);
	e |= j_f64(o, "min", have ? r->s.min : NAN);
	e |= j_f64(o, "max", have ? r->s.max : NAN);
	e |= j_f64(o, "absmax", have ? r->s.absmax : NAN);
	e |= j_f64(o, "mean", have ? r->s.mean : NAN);
	e |= j_f64(o, "std", have ? dsck_stats_std(&r->s) : NAN);
	e |= j_bool(o, "dequantized", r->dequantized);
	e |= j_str(o, "scale", r->dequantized ? r->scale_name : NULL);
	if (r->dequantized) {
		cJSON *b = cJSON_AddArrayToObject(o, "block");
		if (!b)
			return -1;
		e |= j_arr_u64(b, r->block_rows);
		e |= j_arr_u64(b, r->block_cols);
	} else {
		e |= j_str(o, "block", NULL);
	}
	return e ? -1 : 0;
}

static int j_emit(FILE *out, cJSON *root, int pretty)
{
	char *text = pretty ? cJSON_Print(root) : cJSON_PrintUnformatted(root);
	if (!text)
		return -1;
	fputs(text, out);
	fputc('\n', out);
	free(text);
	return 0;
}

int insp_print_json(FILE *out, const struct dsck_ckpt *ck,
		    const struct insp_summary *s, const struct insp_view *v)
{
	int e = 0;
	cJSON *root = cJSON_CreateObject();
	if (!root)
		return -1;
	e |= j_str(root, "path", ck->path);
	e |= j_str(root, "family", ck->has_config ? dsck_config_family_name(&ck->cfg) : NULL);
	if (ck->has_config)
		e |= j_config(root, &ck->cfg);
	else
		e |= j_str(root, "config", NULL);
	e |= j_u64(root, "shards", ck->n_shards);
	e |= j_u64(root, "tensors", ck->n);
	e |= j_u64(root, "payload_bytes", ck->payload_bytes);
	e |= j_u64(root, "file_bytes", ck->file_bytes);
	e |= j_u64(root, "header_bytes", ck->header_bytes);

	cJSON *bd = cJSON_AddObjectToObject(root, "bytes_by_dtype");
	cJSON *cd = cJSON_AddObjectToObject(root, "tensors_by_dtype");
	if (!bd || !cd)
		e = -1;
	for (int t = 0; !e && t < DSCK_DTYPE_COUNT; t++) {
		if (!s->count_by_dtype[t])
			continue;
		e |= j_u64(bd, dsck_dtype_name((enum dsck_dtype)t), s->bytes_by_dtype[t]);
		e |= j_u64(cd, dsck_dtype_name((enum dsck_dtype)t), s->count_by_dtype[t]);
	}

	cJSON *pa = cJSON_AddObjectToObject(root, "params");
	if (!pa) {
		e = -1;
	} else if (s->has_inv) {
		e |= j_u64(pa, "total", s->inv.params_main + s->inv.params_mtp);
		e |= j_u64(pa, "main", s->inv.params_main);
		e |= j_u64(pa, "mtp", s->inv.params_mtp);
		e |= j_u64(pa, "active", s->inv.params_active);
		e |= j_u64(pa, "present", s->params_present);
	} else {
		e |= j_str(pa, "total", NULL);
		e |= j_str(pa, "main", NULL);
		e |= j_str(pa, "mtp", NULL);
		e |= j_str(pa, "active", NULL);
		e |= j_u64(pa, "present", s->params_present);
	}

	cJSON *lay = cJSON_AddObjectToObject(root, "layout");
	if (!lay) {
		e = -1;
	} else {
		e |= j_str(lay, "kind", s->layout_fp8 ? "fp8" : "bf16");
		if (s->layout_fp8) {
			cJSON *b = cJSON_AddArrayToObject(lay, "block");
			e |= b ? 0 : -1;
			if (b) {
				e |= j_arr_u64(b, s->block_rows);
				e |= j_arr_u64(b, s->block_cols);
			}
		} else {
			e |= j_str(lay, "block", NULL);
		}
	}

	cJSON *fa = cJSON_AddArrayToObject(root, "findings");
	for (size_t i = 0; fa && !e && i < s->n_findings; i++) {
		const struct insp_finding *f = &s->findings[i];
		cJSON *o = cJSON_CreateObject();
		cJSON *ex = o ? cJSON_AddArrayToObject(o, "examples") : NULL;
		if (!o || !cJSON_AddItemToArray(fa, o) || !ex) {
			e = -1;
			break;
		}
		e |= j_str(o, "kind", f->kind);
		e |= j_str(o, "message", f->message);
		e |= j_u64(o, "count", f->count);
		for (size_t k = 0; k < f->n_examples; k++) {
			cJSON *str = cJSON_CreateString(f->examples[k]);
			e |= str && cJSON_AddItemToArray(ex, str) ? 0 : -1;
		}
	}
	if (!fa)
		e = -1;

	if (v->tensors && !e) {
		cJSON *tl = cJSON_AddArrayToObject(root, "tensor_list");
		for (size_t i = 0; tl && !e && i < ck->n; i++) {
			const struct dsck_ckpt_tensor *ct = &ck->tensors[i];
			if (!selected(v->tensors_glob, ct->t->name))
				continue;
			cJSON *o = cJSON_CreateObject();
			if (!o || !cJSON_AddItemToArray(tl, o)) {
				cJSON_Delete(o);
				e = -1;
				break;
			}
			e |= j_tensor_fields(o, ck, ct);
		}
		if (!tl)
			e = -1;
	}
	if (v->stats && !e) {
		cJSON *sa = cJSON_AddArrayToObject(root, "stats");
		for (size_t i = 0; sa && !e && i < v->n_st; i++) {
			const struct dsck_tensor_stats *r = &v->st[i];
			cJSON *o = cJSON_CreateObject();
			cJSON *shape = j_shape(ck->tensors[r->tensor].t);
			if (!o || !shape || !cJSON_AddItemToArray(sa, o)) {
				cJSON_Delete(o);
				cJSON_Delete(shape);
				e = -1;
				break;
			}
			e |= j_str(o, "name", r->name);
			e |= j_str(o, "dtype", dsck_dtype_name(r->dtype));
			e |= cJSON_AddItemToObject(o, "shape", shape) ? 0 : -1;
			e |= j_stats_fields(o, r);
		}
		if (!sa)
			e = -1;
	}
	if (!e)
		e = j_emit(out, root, 1);
	cJSON_Delete(root);
	return e ? -1 : 0;
}

/*
 * --jsonl: one object per tensor selected by --tensors or --stats, in name
 * order; stats fields are added when --stats computed that tensor.
 */
int insp_print_jsonl(FILE *out, const struct dsck_ckpt *ck, const struct insp_view *v)
{
	size_t k = 0; /* next stats result; both lists are in name order */
	int e = 0;
	for (size_t i = 0; !e && i < ck->n; i++) {
		const struct dsck_ckpt_tensor *ct = &ck->tensors[i];
		const struct dsck_tensor_stats *r = NULL;
		if (k < v->n_st && v->st[k].tensor == i)
			r = &v->st[k++];
		if (!r && !(v->tensors && selected(v->tensors_glob, ct->t->name)))
			continue;
		cJSON *o = cJSON_CreateObject();
		if (!o)
			return -1;
		e |= j_tensor_fields(o, ck, ct);
		if (r) {
			cJSON *so = cJSON_AddObjectToObject(o, "stats");
			e |= so ? j_stats_fields(so, r) : -1;
		}
		if (!e)
			e = j_emit(out, o, 0);
		cJSON_Delete(o);
	}
	return e ? -1 : 0;
}
