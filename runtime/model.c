/*
 * model.c - the fp32 reference forward pass (model.h, formats.md §13).
 *
 * Shapes (S tokens of one call, H heads): x [S, dim]; q [S, H, nope+rope];
 * kv_a [S, kv_lora+rope]; naive caches k [T, H, nope+rope], v [T, H, v];
 * absorb caches kv [T, kv_lora], pe [T, rope]; scores [S, H, T].
 */
#include "model.h"

#include "mp.h"
#include "../kernels/dot.h"

#include <cblas.h>
#undef I /* cblas.h brings <complex.h>; I is a size here */

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define NAME 160

struct dsck_layer {
	int moe;
	struct dsck_weight attn_norm, ffn_norm;
	struct dsck_weight wq, wq_a, q_norm, wq_b;
	struct dsck_weight wkv_a, kv_norm, wkv_b, wo;
	struct dsck_weight w1, w2, w3;            /* dense MLP */
	struct dsck_weight gate, bias;
	int has_bias;
	struct dsck_weight *ew;                   /* routed experts: [E][3] w1, w2, w3 */
	int has_shared;
	struct dsck_weight sw1, sw2, sw3;
};

struct dsck_seq {
	uint64_t len, cap;          /* positions held, allocated */
	uint64_t mtp_len;           /* positions the MTP block has seen */
	float *hid;                 /* last main call's final residual [hid_n, dim] */
	uint64_t hid_n, hid_pos0;
	uint64_t n_layers;
	float **k, **v;             /* naive, per layer */
	float **kv, **pe;           /* absorb, per layer */
};

static enum dsck_err load_weight(struct dsck_model *m, struct dsck_weight *w, uint64_t rows,
			  uint64_t cols, int optional, int *found, struct dsck_error *err,
			  const char *fmt, ...) __attribute__((format(printf, 8, 9)));

static enum dsck_err load_weight(struct dsck_model *m, struct dsck_weight *w, uint64_t rows,
			  uint64_t cols, int optional, int *found, struct dsck_error *err,
			  const char *fmt, ...)
{
	char name[NAME];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(name, sizeof name, fmt, ap);
	va_end(ap);
	enum dsck_err rc = dsck_weight_get(&m->map, name, rows, cols, optional, w, found, err);
	if (rc || m->size == 1 || (found && !*found))
		return rc;
	/* RT-R10: this rank's slice, by the split table of MP-R2 */
	char mp[NAME];
	struct dsck_mp_info mi;
	if (dsck_mp_name(name, mp, sizeof mp, &mi) || mi.split == DSCK_SPLIT_REPLICA ||
	    mi.split == DSCK_SPLIT_EXPERT)
		return DSCK_OK;
	uint64_t n = m->size, r = m->rank;
	if (mi.split == DSCK_SPLIT_ROWS)
		return dsck_weight_get_rect(&m->map, name, r * (w->rows / n), w->rows / n, 0, 0, w, err);
	return dsck_weight_get_rect(&m->map, name, 0, 0, r * (w->cols / n), w->cols / n, w, err);
}

static enum dsck_err load_layer(struct dsck_model *m, uint64_t i, struct dsck_layer *L,
				struct dsck_error *err)
{
	const struct dsck_config *c = m->cfg;
	uint64_t H = m->n_heads, qk = m->nope + m->rope, D = m->dim;
	enum dsck_err rc;
	const char *p = "model.layers";
#define GET(w, r, cl, ...) do { rc = load_weight(m, w, r, cl, 0, NULL, err, __VA_ARGS__); if (rc) return rc; } while (0)
	GET(&L->attn_norm, 1, D, "%s.%llu.input_layernorm.weight", p, (unsigned long long)i);
	GET(&L->ffn_norm, 1, D, "%s.%llu.post_attention_layernorm.weight", p, (unsigned long long)i);
	if (m->q_lora) {
		GET(&L->wq_a, m->q_lora, D, "%s.%llu.self_attn.q_a_proj.weight", p, (unsigned long long)i);
		GET(&L->q_norm, 1, m->q_lora, "%s.%llu.self_attn.q_a_layernorm.weight", p, (unsigned long long)i);
		GET(&L->wq_b, H * qk, m->q_lora, "%s.%llu.self_attn.q_b_proj.weight", p, (unsigned long long)i);
	} else {
		GET(&L->wq, H * qk, D, "%s.%llu.self_attn.q_proj.weight", p, (unsigned long long)i);
	}
	GET(&L->wkv_a, m->kv_lora + m->rope, D, "%s.%llu.self_attn.kv_a_proj_with_mqa.weight", p,
	    (unsigned long long)i);
	GET(&L->kv_norm, 1, m->kv_lora, "%s.%llu.self_attn.kv_a_layernorm.weight", p, (unsigned long long)i);
	GET(&L->wkv_b, H * (m->nope + m->vdim), m->kv_lora, "%s.%llu.self_attn.kv_b_proj.weight", p,
	    (unsigned long long)i);
	GET(&L->wo, D, H * m->vdim, "%s.%llu.self_attn.o_proj.weight", p, (unsigned long long)i);
	L->moe = dsck_config_layer_is_moe(c, i);
	if (!L->moe) {
		uint64_t I = c->intermediate_size;
		GET(&L->w1, I, D, "%s.%llu.mlp.gate_proj.weight", p, (unsigned long long)i);
		GET(&L->w3, I, D, "%s.%llu.mlp.up_proj.weight", p, (unsigned long long)i);
		GET(&L->w2, D, I, "%s.%llu.mlp.down_proj.weight", p, (unsigned long long)i);
		return DSCK_OK;
	}
	uint64_t E = c->n_routed_experts, I = c->moe_intermediate_size;
	GET(&L->gate, E, D, "%s.%llu.mlp.gate.weight", p, (unsigned long long)i);
	rc = load_weight(m, &L->bias, 1, E, 1, &L->has_bias, err, "%s.%llu.mlp.gate.e_score_correction_bias",
		  p, (unsigned long long)i);
	if (rc)
		return rc;
	L->ew = calloc(E * 3, sizeof *L->ew);
	if (!L->ew)
		return dsck_error_set(err, DSCK_E_NOMEM, "expert table");
	for (uint64_t e = m->expert0; e < m->expert0 + m->expert_n; e++) {
		GET(&L->ew[3 * e], I, D, "%s.%llu.mlp.experts.%llu.gate_proj.weight", p,
		    (unsigned long long)i, (unsigned long long)e);
		GET(&L->ew[3 * e + 1], D, I, "%s.%llu.mlp.experts.%llu.down_proj.weight", p,
		    (unsigned long long)i, (unsigned long long)e);
		GET(&L->ew[3 * e + 2], I, D, "%s.%llu.mlp.experts.%llu.up_proj.weight", p,
		    (unsigned long long)i, (unsigned long long)e);
	}
	if (c->n_shared_experts) {
		uint64_t SI = c->n_shared_experts * I;
		L->has_shared = 1;
		GET(&L->sw1, SI, D, "%s.%llu.mlp.shared_experts.gate_proj.weight", p, (unsigned long long)i);
		GET(&L->sw3, SI, D, "%s.%llu.mlp.shared_experts.up_proj.weight", p, (unsigned long long)i);
		GET(&L->sw2, D, SI, "%s.%llu.mlp.shared_experts.down_proj.weight", p, (unsigned long long)i);
	}
#undef GET
	return DSCK_OK;
}

/*
 * RT-R4: RoPE frequencies of model.py's precompute_freqs_cis, in fp32:
 * base^(-2i/d), with YaRN's ramp between the correction dims when the
 * model's sequence limit exceeds the original one.
 */
static int rope_table(struct dsck_model *m)
{
	const struct dsck_config *c = m->cfg;
	uint64_t half = m->rope / 2;
	float *freqs = malloc(half * sizeof *freqs);
	m->cos = malloc(m->max_seq * half * sizeof *m->cos);
	m->sin = malloc(m->max_seq * half * sizeof *m->sin);
	if (!freqs || !m->cos || !m->sin) {
		free(freqs);
		return -1;
	}
	double base = c->rope_theta, d = (double)m->rope;
	for (uint64_t i = 0; i < half; i++)
		freqs[i] = 1.0f / powf((float)base, (float)(2 * i) / (float)m->rope);
	uint64_t limit = c->max_position_embeddings;
	uint64_t orig = c->rope_original_max_position_embeddings;
	if (c->has_rope_scaling && limit > orig) {
		double lowf = d * log((double)orig / (c->rope_beta_fast * 2 * M_PI)) / (2 * log(base));
		double highf = d * log((double)orig / (c->rope_beta_slow * 2 * M_PI)) / (2 * log(base));
		double low = floor(lowf), high = ceil(highf);
		if (low < 0)
			low = 0;
		if (high > d - 1)
			high = d - 1;
		if (low == high)
			high += 0.001;
		for (uint64_t i = 0; i < half; i++) {
			float ramp = ((float)i - (float)low) / (float)(high - low);
			ramp = ramp < 0 ? 0 : ramp > 1 ? 1 : ramp;
			float smooth = 1 - ramp;
			freqs[i] = freqs[i] / (float)c->rope_factor * (1 - smooth) + freqs[i] * smooth;
		}
	}
	for (uint64_t t = 0; t < m->max_seq; t++)
		for (uint64_t i = 0; i < half; i++) {
			float a = (float)t * freqs[i];
			m->cos[t * half + i] = cosf(a);
			m->sin[t * half + i] = sinf(a);
		}
	free(freqs);
	/* softmax scale: qk^-0.5, times mscale^2 when YaRN is on (RT-R4) */
	m->softmax_scale = 1.0f / sqrtf((float)(m->nope + m->rope));
	if (c->has_rope_scaling && limit > orig) {
		double ms = c->rope_mscale_all_dim > 0 ? c->rope_mscale_all_dim : c->rope_mscale;
		float mscale = (float)(0.1 * ms * log(c->rope_factor) + 1.0);
		m->softmax_scale *= mscale * mscale;
	}
	return 0;
}

enum dsck_err dsck_model_open(const struct dsck_ckpt *ck, const struct dsck_model_opts *o,
			      struct dsck_model **out, struct dsck_error *err)
{
	struct dsck_model *m = NULL;
	enum dsck_err rc;
	const struct dsck_config *c = &ck->cfg;
	int found;

	*out = NULL;
	if (!ck->has_config) {
		dsck_error_file(err, ck->path);
		return dsck_error_set(err, DSCK_E_CONFIG_MISSING, "the forward pass needs config.json");
	}
	m = calloc(1, sizeof *m);
	if (!m)
		return dsck_error_set(err, DSCK_E_NOMEM, "model");
	m->ck = ck;
	m->cfg = c;
	m->attn = o->attn;
	m->dim = c->hidden_size;
	m->n_heads = c->num_attention_heads;
	m->q_lora = c->q_lora_rank;
	m->kv_lora = c->kv_lora_rank;
	m->nope = c->qk_nope_head_dim;
	m->rope = c->qk_rope_head_dim;
	m->vdim = c->v_head_dim;
	m->vocab = c->vocab_size;
	m->n_layers = c->num_hidden_layers;
	m->comm = o->comm && o->comm->size > 1 ? o->comm : NULL;
	m->rank = m->comm ? m->comm->rank : 0;
	m->size = m->comm ? m->comm->size : 1;
	/* RT-R10: heads, vocabulary and experts divide over the ranks as in
	 * DeepSeek's MP layout (MP-R5 checks the weights' slices) */
	if (m->n_heads % (uint64_t)m->size || m->vocab % (uint64_t)m->size ||
	    (c->n_routed_experts && c->n_routed_experts % (uint64_t)m->size)) {
		rc = dsck_error_set(err, DSCK_E_UNSUPPORTED,
				    "%d ranks do not divide the heads (%llu), vocabulary (%llu) and experts (%llu)",
				    m->size, (unsigned long long)m->n_heads, (unsigned long long)m->vocab,
				    (unsigned long long)c->n_routed_experts);
		goto fail;
	}
	m->heads = m->n_heads / (uint64_t)m->size;
	m->vocab_n = m->vocab / (uint64_t)m->size;
	m->vocab0 = (uint64_t)m->rank * m->vocab_n;
	m->expert_n = c->n_routed_experts / (uint64_t)m->size;
	m->expert0 = (uint64_t)m->rank * m->expert_n;
	m->max_seq = o->max_seq ? o->max_seq : 4096;
	if (c->max_position_embeddings && m->max_seq > c->max_position_embeddings)
		m->max_seq = c->max_position_embeddings;
	/* the pool splits the rows; OpenBLAS runs inside each worker, alone */
	openblas_set_num_threads(1);
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	m->pool = dsck_pool_create(o->threads ? o->threads : (unsigned)(ncpu > 0 ? ncpu : 1));
	if (!m->pool || rope_table(m)) {
		rc = dsck_error_set(err, DSCK_E_NOMEM, "model tables");
		goto fail;
	}
	rc = dsck_wmap_open(ck, m->size > 1, &m->map, err);
	if (rc)
		goto fail;
	rc = load_weight(m, &m->embed, m->vocab, m->dim, 0, NULL, err, "model.embed_tokens.weight");
	if (!rc)
		rc = load_weight(m, &m->norm, 1, m->dim, 0, NULL, err, "model.norm.weight");
	if (!rc) {
		rc = load_weight(m, &m->head, m->vocab, m->dim, c->tie_word_embeddings, &found, err,
				 "lm_head.weight");
		if (!rc && !found)
			m->head = m->embed;
	}
	if (rc)
		goto fail;
	m->layers = calloc(m->n_layers + 1, sizeof *m->layers);
	if (!m->layers) {
		rc = dsck_error_set(err, DSCK_E_NOMEM, "layers");
		goto fail;
	}
	for (uint64_t i = 0; i < m->n_layers && !rc; i++)
		rc = load_layer(m, i, &m->layers[i], err);
	if (rc)
		goto fail;
	/* RT-R11: the first MTP layer, when the checkpoint has it */
	uint64_t L = m->n_layers;
	if (c->num_nextn_predict_layers) {
		rc = load_weight(m, &m->mtp_eh, m->dim, 2 * m->dim, 1, &found, err,
				 "model.layers.%llu.eh_proj.weight", (unsigned long long)L);
		if (!rc && found) {
			rc = load_layer(m, L, &m->layers[L], err);
#define MTPW(w, r, cl, nm) if (!rc) rc = load_weight(m, w, r, cl, 0, NULL, err, \
				"model.layers.%llu." nm, (unsigned long long)L)
			MTPW(&m->mtp_enorm, 1, m->dim, "enorm.weight");
			MTPW(&m->mtp_hnorm, 1, m->dim, "hnorm.weight");
			MTPW(&m->mtp_norm, 1, m->dim, "shared_head.norm.weight");
			MTPW(&m->mtp_head, m->vocab, m->dim, "shared_head.head.weight");
			MTPW(&m->mtp_embed, m->vocab, m->dim, "embed_tokens.weight");
#undef MTPW
			if (!rc)
				m->n_mtp = 1;
		}
		if (rc)
			goto fail;
	}
	*out = m;
	return DSCK_OK;
fail:
	dsck_model_close(m);
	return rc;
}

void dsck_model_close(struct dsck_model *m)
{
	if (!m)
		return;
	for (uint64_t i = 0; m->layers && i <= m->n_layers; i++)
		free(m->layers[i].ew);
	free(m->layers);
	dsck_wmap_close(&m->map);
	dsck_pool_free(m->pool);
	free(m->cos);
	free(m->sin);
	free(m);
}

/* ---- sequences -------------------------------------------------------- */

enum dsck_err dsck_seq_new(const struct dsck_model *m, struct dsck_seq **out,
			   struct dsck_error *err)
{
	struct dsck_seq *s = calloc(1, sizeof *s);
	*out = NULL;
	if (!s)
		return dsck_error_set(err, DSCK_E_NOMEM, "sequence");
	s->n_layers = m->n_layers + m->n_mtp;
	s->k = calloc(s->n_layers, sizeof *s->k);
	s->v = calloc(s->n_layers, sizeof *s->v);
	s->kv = calloc(s->n_layers, sizeof *s->kv);
	s->pe = calloc(s->n_layers, sizeof *s->pe);
	if (!s->k || !s->v || !s->kv || !s->pe) {
		dsck_seq_free(s);
		return dsck_error_set(err, DSCK_E_NOMEM, "sequence");
	}
	*out = s;
	return DSCK_OK;
}

uint64_t dsck_seq_len(const struct dsck_seq *s)
{
	return s->len;
}

void dsck_seq_free(struct dsck_seq *s)
{
	if (!s)
		return;
	for (uint64_t i = 0; i < s->n_layers; i++) {
		if (s->k)
			free(s->k[i]);
		if (s->v)
			free(s->v[i]);
		if (s->kv)
			free(s->kv[i]);
		if (s->pe)
			free(s->pe[i]);
	}
	free(s->k);
	free(s->v);
	free(s->kv);
	free(s->pe);
	free(s->hid);
	free(s);
}

/* Room for `need` positions: caches grow by doubling (RT-R6). */
static int seq_reserve(const struct dsck_model *m, struct dsck_seq *s, uint64_t need)
{
	if (need <= s->cap)
		return 0;
	uint64_t cap = s->cap ? s->cap : 64;
	while (cap < need)
		cap *= 2;
	if (cap > m->max_seq)
		cap = m->max_seq;
	uint64_t H = m->heads;
	for (uint64_t l = 0; l < s->n_layers; l++) {
		float **a, **b;
		uint64_t na, nb;
		if (m->attn == DSCK_ATTN_NAIVE) {
			a = &s->k[l];
			b = &s->v[l];
			na = H * (m->nope + m->rope);
			nb = H * m->vdim;
		} else {
			a = &s->kv[l];
			b = &s->pe[l];
			na = m->kv_lora;
			nb = m->rope;
		}
		float *x = realloc(*a, cap * na * sizeof *x);
		if (!x)
			return -1;
		*a = x;
		float *y = realloc(*b, cap * nb * sizeof *y);
		if (!y)
			return -1;
		*b = y;
	}
	s->cap = cap;
	return 0;
}

/* ---- pieces of the forward pass --------------------------------------- */

/* RT-R3: RMSNorm in fp32: x * 1/sqrt(mean(x^2) + eps) * w, rows of n. */
static void rmsnorm(float *y, const float *x, const float *w, size_t rows, size_t n, float eps)
{
	for (size_t r = 0; r < rows; r++) {
		const float *xr = x + r * n;
		float ss = 0;
		for (size_t i = 0; i < n; i++)
			ss += xr[i] * xr[i];
		float inv = 1.0f / sqrtf(ss / (float)n + eps);
		for (size_t i = 0; i < n; i++)
			y[r * n + i] = xr[i] * inv * w[i];
	}
}

/* Interleaved pairs (x[2i], x[2i+1]) rotated by position pos (RT-R4). */
static void rope_apply(const struct dsck_model *m, float *x, uint64_t pos)
{
	uint64_t half = m->rope / 2;
	const float *cs = m->cos + pos * half, *sn = m->sin + pos * half;
	for (uint64_t i = 0; i < half; i++) {
		float a = x[2 * i], b = x[2 * i + 1];
		x[2 * i] = a * cs[i] - b * sn[i];
		x[2 * i + 1] = a * sn[i] + b * cs[i];
	}
}

/* Where each row of a forward call sits: its sequence and position
 * (rows of one sequence are consecutive, in position order). */
struct rowmap {
	struct dsck_seq **seq;     /* [rows] */
	const uint64_t *pos;       /* [rows] */
};

struct attn_ctx {
	const struct dsck_model *m;
	const struct dsck_layer *L;
	const struct rowmap *rm;
	uint64_t l;
	size_t S;
	const float *q;        /* [S, H, nope+rope], q_pe roped */
	const float *qn;       /* absorb: [S, H, kv_lora] */
	float *o;              /* naive: [S, H, v]; absorb: o_lat [S, H, kv_lora] */
	float *scores;         /* per item scratch: [items][T] */
	uint64_t T;
};

static void softmax(float *p, uint64_t n)
{
	float mx = -INFINITY, sum = 0;
	for (uint64_t i = 0; i < n; i++)
		mx = p[i] > mx ? p[i] : mx;
	for (uint64_t i = 0; i < n; i++) {
		p[i] = expf(p[i] - mx);
		sum += p[i];
	}
	for (uint64_t i = 0; i < n; i++)
		p[i] /= sum;
}

/* One (token, head) of naive attention over the cache, causal (RT-R5). */
static void attn_naive(const struct attn_ctx *c, size_t it)
{
	const struct dsck_model *m = c->m;
	uint64_t H = m->heads, qk = m->nope + m->rope;
	size_t si = it / H, h = it % H;
	uint64_t T = c->rm->pos[si] + 1; /* causal: positions 0..pos */
	float *p = c->scores + it * c->T;
	const float *q = c->q + (si * H + h) * qk;
	const float *K = c->rm->seq[si]->k[c->l], *V = c->rm->seq[si]->v[c->l];
	for (uint64_t t = 0; t < T; t++)
		p[t] = dsck_k_dot(q, K + (t * H + h) * qk, qk) * m->softmax_scale;
	softmax(p, T);
	float *o = c->o + (si * H + h) * m->vdim;
	memset(o, 0, m->vdim * sizeof *o);
	for (uint64_t t = 0; t < T; t++) {
		const float *v = V + (t * H + h) * m->vdim;
		for (uint64_t i = 0; i < m->vdim; i++)
			o[i] += p[t] * v[i];
	}
}

/*
 * Absorbed attention for heads [h0, h1) of token si: every head reads the
 * same cache, so the scores and the output are two matrix products over
 * the run of heads (sgemm, one thread): scores [nh, T] = (qn . KV^T +
 * q_pe . PE^T) * softmax_scale, softmax by row, o_lat [nh, R] = P . KV.
 */
static void attn_absorb(const struct attn_ctx *c, size_t si, size_t h0, size_t h1)
{
	const struct dsck_model *m = c->m;
	uint64_t H = m->heads, qk = m->nope + m->rope, R = m->kv_lora;
	int T = (int)(c->rm->pos[si] + 1), nh = (int)(h1 - h0), ld = (int)c->T;
	float *p = c->scores + (si * H + h0) * c->T;
	const float *KV = c->rm->seq[si]->kv[c->l], *PE = c->rm->seq[si]->pe[c->l];
	float sc = m->softmax_scale;
	cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, nh, T, (int)R, sc,
		    c->qn + (si * H + h0) * R, (int)R, KV, (int)R, 0.0f, p, ld);
	cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, nh, T, (int)m->rope, sc,
		    c->q + (si * H + h0) * qk + m->nope, (int)qk, PE, (int)m->rope, 1.0f, p, ld);
	for (int h = 0; h < nh; h++)
		softmax(p + (size_t)h * c->T, (uint64_t)T);
	cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, nh, (int)R, T, 1.0f, p, ld, KV,
		    (int)R, 0.0f, c->o + (si * H + h0) * R, (int)R);
}

/* Items [b, e) of (token, head) pairs, token-major. */
static void attn_items(void *vctx, size_t b, size_t e)
{
	struct attn_ctx *c = vctx;
	uint64_t H = c->m->heads;
	if (c->m->attn == DSCK_ATTN_NAIVE) {
		for (size_t it = b; it < e; it++)
			attn_naive(c, it);
		return;
	}
	for (size_t it = b; it < e;) { /* runs of heads of one token */
		size_t si = it / H, end = (si + 1) * H < e ? (si + 1) * H : e;
		attn_absorb(c, si, it % H, it % H + (end - it));
		it = end;
	}
}

/* Absorbed attention's two products with wkv_b, head by head, each row of
 * wkv_b dequantized once per call (RT-R3). */
struct absorb_ctx {
	const struct dsck_model *m;
	const struct dsck_weight *w;   /* wkv_b [heads * (nope + v), kv_lora] */
	size_t S;
	const float *q;                /* [S, H, nope + rope] */
	const float *olat;             /* [S, H, kv_lora] */
	float *qn;                     /* out: [S, H, kv_lora] */
	float *ov;                     /* out: [S, H, v] */
};

/* qn[s, h, :] = sum_d q_nope[s, h, d] * W[h*(nope+v) + d, :]: the head's
 * nope rows of wkv_b dequantized once, then one sgemm over the tokens */
static void absorb_q(void *vctx, size_t b, size_t e)
{
	struct absorb_ctx *c = vctx;
	const struct dsck_model *m = c->m;
	uint64_t H = m->heads, qk = m->nope + m->rope, R = m->kv_lora;
	if (c->S == 1) { /* one token: each row once, no tile */
		float *row = malloc(R * sizeof *row);
		if (!row)
			abort(); /* a few KiB per thread */
		for (size_t h = b; h < e; h++) {
			float *y = c->qn + h * R;
			memset(y, 0, R * sizeof *y);
			for (uint64_t d = 0; d < m->nope; d++)
				dsck_weight_axpy_row(c->w, h * (m->nope + m->vdim) + d, c->q[h * qk + d],
						     y, row);
		}
		free(row);
		return;
	}
	float *tile = malloc(m->nope * R * sizeof *tile);
	if (!tile)
		abort(); /* a few hundred KiB per thread */
	for (size_t h = b; h < e; h++) {
		for (uint64_t d = 0; d < m->nope; d++)
			dsck_weight_row(c->w, h * (m->nope + m->vdim) + d, tile + d * R);
		cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)c->S, (int)R,
			    (int)m->nope, 1.0f, c->q + h * qk, (int)(H * qk), tile, (int)R, 0.0f,
			    c->qn + h * R, (int)(H * R));
	}
	free(tile);
}

/* ov[s, h, j] = o_lat[s, h, :] . W[h*(nope+v) + nope + j, :] */
static void absorb_o(void *vctx, size_t b, size_t e)
{
	struct absorb_ctx *c = vctx;
	const struct dsck_model *m = c->m;
	uint64_t H = m->heads, R = m->kv_lora;
	if (c->S == 1) { /* one token: a dot with each row, from its codes */
		for (size_t h = b; h < e; h++)
			dsck_weight_dot_rows(c->w, h * (m->nope + m->vdim) + m->nope, m->vdim,
					     c->olat + h * R, c->ov + h * m->vdim);
		return;
	}
	float *tile = malloc(m->vdim * R * sizeof *tile);
	if (!tile)
		abort();
	for (size_t h = b; h < e; h++) {
		for (uint64_t j = 0; j < m->vdim; j++)
			dsck_weight_row(c->w, h * (m->nope + m->vdim) + m->nope + j, tile + j * R);
		cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)c->S, (int)m->vdim,
			    (int)R, 1.0f, c->olat + h * R, (int)(H * R), tile, (int)R, 0.0f,
			    c->ov + h * m->vdim, (int)(H * m->vdim));
	}
	free(tile);
}

/* MLA (RT-R3): out [S, dim] from h [S, dim], row r at rm's sequence and
 * position; each row's latent goes into its sequence's cache first. */
static enum dsck_err attention(const struct dsck_model *m, const struct dsck_layer *L,
			       const struct rowmap *rm, uint64_t l, const float *h, size_t S,
			       float *out, struct dsck_error *err)
{
	uint64_t H = m->heads, qk = m->nope + m->rope, kvd = m->kv_lora + m->rope;
	float eps = (float)m->cfg->rms_norm_eps;
	float *q = malloc(S * H * qk * sizeof *q);
	float *kv = malloc(S * kvd * sizeof *kv);
	float *qa = m->q_lora ? malloc(S * m->q_lora * sizeof *qa) : NULL;
	float *wvec = malloc((m->q_lora > m->kv_lora ? m->q_lora : m->kv_lora) * sizeof *wvec);
	uint64_t T = 0; /* the longest row's positions */
	for (size_t si = 0; si < S; si++)
		T = rm->pos[si] + 1 > T ? rm->pos[si] + 1 : T;
	float *scores = malloc(S * H * T * sizeof *scores);
	uint64_t olen = m->attn == DSCK_ATTN_NAIVE ? m->vdim : m->kv_lora;
	float *o = malloc(S * H * olen * sizeof *o);
	float *ov = malloc(S * H * m->vdim * sizeof *ov);
	float *qn = NULL, *kvb = NULL;
	enum dsck_err rc = DSCK_OK;

	if (!q || !kv || (m->q_lora && !qa) || !wvec || !scores || !o || !ov) {
		rc = dsck_error_set(err, DSCK_E_NOMEM, "attention buffers");
		goto out;
	}
	if (m->q_lora) {
		dsck_matmul2(m->pool, &L->wq_a, &L->wkv_a, h, S, qa, kv);
		dsck_weight_vec(&L->q_norm, wvec);
		rmsnorm(qa, qa, wvec, S, m->q_lora, eps);
		dsck_matmul(m->pool, &L->wq_b, qa, S, q);
	} else {
		dsck_matmul2(m->pool, &L->wq, &L->wkv_a, h, S, q, kv);
	}
	dsck_weight_vec(&L->kv_norm, wvec);
	for (size_t si = 0; si < S; si++) {
		float *row = kv + si * kvd;
		rmsnorm(row, row, wvec, 1, m->kv_lora, eps);  /* kv_norm on the latent only */
		rope_apply(m, row + m->kv_lora, rm->pos[si]);  /* k_pe: one shared head */
		for (uint64_t hh = 0; hh < H; hh++)
			rope_apply(m, q + (si * H + hh) * qk + m->nope, rm->pos[si]);
	}
	if (m->attn == DSCK_ATTN_NAIVE) {
		uint64_t kvbd = H * (m->nope + m->vdim);
		float *lat = malloc(S * m->kv_lora * sizeof *lat);
		kvb = malloc(S * kvbd * sizeof *kvb);
		if (!lat || !kvb) {
			free(lat);
			rc = dsck_error_set(err, DSCK_E_NOMEM, "attention buffers");
			goto out;
		}
		for (size_t si = 0; si < S; si++)
			memcpy(lat + si * m->kv_lora, kv + si * kvd, m->kv_lora * sizeof *lat);
		dsck_matmul(m->pool, &L->wkv_b, lat, S, kvb);
		free(lat);
		for (size_t si = 0; si < S; si++)
			for (uint64_t hh = 0; hh < H; hh++) {
				float *k = rm->seq[si]->k[l] + (rm->pos[si] * H + hh) * qk;
				const float *src = kvb + si * kvbd + hh * (m->nope + m->vdim);
				memcpy(k, src, m->nope * sizeof *k);
				memcpy(k + m->nope, kv + si * kvd + m->kv_lora, m->rope * sizeof *k);
				memcpy(rm->seq[si]->v[l] + (rm->pos[si] * H + hh) * m->vdim, src + m->nope,
				       m->vdim * sizeof(float));
			}
	} else {
		for (size_t si = 0; si < S; si++) {
			memcpy(rm->seq[si]->kv[l] + rm->pos[si] * m->kv_lora, kv + si * kvd,
			       m->kv_lora * sizeof(float));
			memcpy(rm->seq[si]->pe[l] + rm->pos[si] * m->rope, kv + si * kvd + m->kv_lora,
			       m->rope * sizeof(float));
		}
		/* absorb: q_nope' = q_nope . W_kv_b[h, :nope]  [S, H, kv_lora] */
		qn = malloc(S * H * m->kv_lora * sizeof *qn);
		if (!qn) {
			rc = dsck_error_set(err, DSCK_E_NOMEM, "attention buffers");
			goto out;
		}
		/* one pool run over the heads: each thread takes whole heads */
		struct absorb_ctx ac = { m, &L->wkv_b, S, q, NULL, qn, NULL };
		dsck_pool_run(m->pool, H, 1, absorb_q, &ac);
	}
	struct attn_ctx c = { m, L, rm, l, S, q, qn, o, scores, T };
	dsck_pool_run(m->pool, S * H, 1, attn_items, &c);
	if (m->attn == DSCK_ATTN_NAIVE) {
		memcpy(ov, o, S * H * m->vdim * sizeof *ov);
	} else {
		/* o[h] = o_lat[h] . W_kv_b[h, nope:]^T  [S, H, v] */
		struct absorb_ctx ac = { m, &L->wkv_b, S, NULL, o, NULL, ov };
		dsck_pool_run(m->pool, H, 1, absorb_o, &ac);
	}
	dsck_matmul(m->pool, &L->wo, ov, S, out);
	if (m->comm) /* wo is split by columns: partial sums */
		m->comm->allreduce_sum(m->comm, out, S * m->dim);
out:
	free(q);
	free(kv);
	free(qa);
	free(wvec);
	free(scores);
	free(o);
	free(ov);
	free(qn);
	free(kvb);
	return rc;
}

static float silu(float x)
{
	return x / (1.0f + expf(-x));
}

/* SwiGLU MLP: y = w2(silu(w1 x) * w3 x); x [S, dim] -> y [S, dim]. */
static enum dsck_err mlp(const struct dsck_model *m, const struct dsck_weight *w1,
			 const struct dsck_weight *w2, const struct dsck_weight *w3,
			 const float *x, size_t S, float *y, struct dsck_error *err)
{
	float *a = malloc(S * w1->rows * sizeof *a), *b = malloc(S * w3->rows * sizeof *b);
	if (!a || !b) {
		free(a);
		free(b);
		return dsck_error_set(err, DSCK_E_NOMEM, "MLP buffers");
	}
	dsck_matmul2(m->pool, w1, w3, x, S, a, b);
	for (size_t i = 0; i < S * w1->rows; i++)
		a[i] = silu(a[i]) * b[i];
	dsck_matmul(m->pool, w2, a, S, y);
	free(a);
	free(b);
	return DSCK_OK;
}

/* Indices of the k largest of v[0..n) into idx, largest first; ties go to
 * the lower index (torch.topk on CPU keeps the first occurrence). */
static void topk(const float *v, size_t n, size_t k, uint32_t *idx)
{
	for (size_t j = 0; j < k; j++) {
		size_t best = SIZE_MAX;
		for (size_t i = 0; i < n; i++) {
			int taken = 0;
			for (size_t q = 0; q < j && !taken; q++)
				taken = idx[q] == i;
			if (taken)
				continue;
			if (best == SIZE_MAX || v[i] > v[best])
				best = i;
		}
		idx[j] = (uint32_t)best;
	}
}

/* RT-R7 routing of one token: sc [E] the gate's logits in, scores out;
 * idx [K] the chosen experts, wts [K] their weights. sel [E], gs and gidx
 * [n_group] are scratch. */
static void route(const struct dsck_model *m, const struct dsck_layer *L, float *sc,
		  const float *bias, float *sel, float *gs, uint32_t *gidx, uint32_t *idx,
		  float *wts)
{
	const struct dsck_config *c = m->cfg;
	uint64_t E = c->n_routed_experts, K = c->num_experts_per_tok;
	uint64_t G = c->n_group > 0 ? c->n_group : 1, TG = c->topk_group;
	if (c->scoring_func == DSCK_SCORE_SIGMOID)
		for (uint64_t e = 0; e < E; e++)
			sc[e] = 1.0f / (1.0f + expf(-sc[e]));
	else
		softmax(sc, E);
	for (uint64_t e = 0; e < E; e++)
		sel[e] = L->has_bias ? sc[e] + bias[e] : sc[e];
	if (G > 1 && TG < G) {
		uint64_t per = E / G;
		for (uint64_t g = 0; g < G; g++) {
			const float *v = sel + g * per;
			if (L->has_bias) { /* sum of the top 2 of the group */
				uint32_t t2[2];
				topk(v, per, per >= 2 ? 2 : 1, t2);
				gs[g] = v[t2[0]] + (per >= 2 ? v[t2[1]] : 0);
			} else {
				float mx = v[0];
				for (uint64_t i = 1; i < per; i++)
					mx = v[i] > mx ? v[i] : mx;
				gs[g] = mx;
			}
		}
		topk(gs, G, TG, gidx);
		for (uint64_t g = 0; g < G; g++) {
			int keep = 0;
			for (uint64_t j = 0; j < TG; j++)
				keep |= gidx[j] == g;
			if (!keep) /* model.py masks losing groups with -inf */
				for (uint64_t i = 0; i < per; i++)
					sel[g * per + i] = -INFINITY;
		}
	}
	topk(sel, E, K, idx);
	float sum = 0;
	for (uint64_t k = 0; k < K; k++) {
		wts[k] = sc[idx[k]]; /* unbiased scores */
		sum += wts[k];
	}
	for (uint64_t k = 0; k < K; k++) {
		if (c->norm_topk_prob)
			wts[k] /= sum;
		wts[k] *= (float)c->routed_scaling_factor;
	}
}

/* SwiGLU's middle: a = silu(a) * b over n values. */
static void swiglu(float *a, const float *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		a[i] = silu(a[i]) * b[i];
}

/*
 * DeepSeekMoE (RT-R7): x [S, dim] -> y [S, dim]. Pool runs, not one per
 * expert: the gate with the shared expert's w1 and w3; then for each group
 * of routed experts (at most max(S, min(64, S * K)) routed rows, so
 * buffers stay O(S)), their w1 and w3 in one run and their w2 (with the
 * shared w2 in the first) in another. Expert outputs are added in id order, as model.py
 * adds them.
 */
static enum dsck_err moe(const struct dsck_model *m, const struct dsck_layer *L,
			 const float *x, size_t S, float *y, struct dsck_error *err)
{
	const struct dsck_config *c = m->cfg;
	uint64_t E = c->n_routed_experts, K = c->num_experts_per_tok, D = m->dim;
	uint64_t I = c->moe_intermediate_size, SI = L->has_shared ? L->sw1.rows : 0;
	uint64_t G = c->n_group > 0 ? c->n_group : 1;
	/* routed rows per group: at least S (an expert's rows fit), at most the
	 * S * K a call can route, 64 in between */
	size_t cap = S * K < 64 ? S * K : S > 64 ? S : 64;
	uint64_t e_end = m->expert0 + m->expert_n;
	float *scores = malloc(S * E * sizeof *scores), *sel = malloc(E * sizeof *sel);
	float *bias = malloc(E * sizeof *bias), *gs = malloc(G * sizeof *gs);
	uint32_t *idx = malloc(S * K * sizeof *idx), *gidx = malloc(G * sizeof *gidx);
	float *wts = malloc(S * K * sizeof *wts);
	float *xg = malloc(cap * D * sizeof *xg), *yg = malloc(cap * D * sizeof *yg);
	float *ag = malloc(cap * I * sizeof *ag), *bg = malloc(cap * I * sizeof *bg);
	float *sa = malloc((SI ? S * SI : 1) * sizeof *sa);
	float *sb = malloc((SI ? S * SI : 1) * sizeof *sb);
	float *ys = malloc(S * D * sizeof *ys);
	uint32_t *rows = malloc(cap * sizeof *rows);
	float *rw = malloc(cap * sizeof *rw);
	size_t *n_of = calloc(E, sizeof *n_of);
	struct dsck_mm *mm = malloc((2 * (E + 1) + 1) * sizeof *mm);
	enum dsck_err rc = DSCK_OK;

	if (!scores || !sel || !bias || !gs || !idx || !gidx || !wts || !xg || !yg || !ag || !bg ||
	    !sa || !sb || !ys || !rows || !rw || !n_of || !mm) {
		rc = dsck_error_set(err, DSCK_E_NOMEM, "MoE buffers");
		goto out;
	}
	size_t nm = 0;
	mm[nm++] = (struct dsck_mm){ &L->gate, x, S, scores };
	if (L->has_shared) {
		mm[nm++] = (struct dsck_mm){ &L->sw1, x, S, sa };
		mm[nm++] = (struct dsck_mm){ &L->sw3, x, S, sb };
	}
	dsck_matmul_n(m->pool, mm, nm);
	if (L->has_bias)
		dsck_weight_vec(&L->bias, bias);
	for (size_t si = 0; si < S; si++)
		route(m, L, scores + si * E, bias, sel, gs, gidx, idx + si * K, wts + si * K);
	for (size_t i = 0; i < S * K; i++)
		n_of[idx[i]]++;
	if (L->has_shared)
		swiglu(sa, sb, S * SI);
	memset(y, 0, S * D * sizeof *y);
	int shared_done = !L->has_shared;
	/* this rank's experts in id order, in groups of at most cap rows */
	for (uint64_t e0 = m->expert0; e0 < e_end || !shared_done;) {
		uint64_t e1 = e0;
		size_t used = 0, nw = 0;
		for (; e1 < e_end && used + n_of[e1] <= cap; e1++)
			used += n_of[e1];
		nm = 0;
		for (uint64_t e = e0, off = 0; e < e1; off += n_of[e], e++) {
			if (!n_of[e])
				continue;
			size_t n = 0;
			for (size_t si = 0; si < S; si++)
				for (uint64_t k = 0; k < K; k++)
					if (idx[si * K + k] == e) {
						rows[off + n] = (uint32_t)si;
						rw[off + n] = wts[si * K + k];
						memcpy(xg + (off + n) * D, x + si * D, D * sizeof *xg);
						n++;
					}
			mm[nm++] = (struct dsck_mm){ &L->ew[3 * e], xg + off * D, n, ag + off * I };
			mm[nm++] = (struct dsck_mm){ &L->ew[3 * e + 2], xg + off * D, n, bg + off * I };
		}
		dsck_matmul_n(m->pool, mm, nm);
		swiglu(ag, bg, used * I);
		for (uint64_t e = e0, off = 0; e < e1; off += n_of[e], e++)
			if (n_of[e])
				mm[nw++] = (struct dsck_mm){ &L->ew[3 * e + 1], ag + off * I, n_of[e],
							     yg + off * D };
		if (!shared_done) {
			mm[nw++] = (struct dsck_mm){ &L->sw2, sa, S, ys };
			shared_done = 1;
		}
		dsck_matmul_n(m->pool, mm, nw);
		for (size_t j = 0; j < used; j++)
			for (uint64_t i = 0; i < D; i++)
				y[rows[j] * D + i] += yg[j * D + i] * rw[j];
		e0 = e1;
	}
	if (m->comm)
		m->comm->allreduce_sum(m->comm, y, S * D);
	if (L->has_shared) {
		if (m->comm)
			m->comm->allreduce_sum(m->comm, ys, S * D);
		for (size_t i = 0; i < S * D; i++)
			y[i] += ys[i];
	}
out:
	free(scores);
	free(sel);
	free(bias);
	free(gs);
	free(idx);
	free(gidx);
	free(wts);
	free(xg);
	free(yg);
	free(ag);
	free(bg);
	free(sa);
	free(sb);
	free(ys);
	free(rows);
	free(rw);
	free(n_of);
	free(mm);
	return rc;
}

/* One block (RT-R3) on x [n, D] in place, rows placed by rm. */
static enum dsck_err block(const struct dsck_model *m, const struct rowmap *rm, uint64_t l,
			   float *x, size_t n, float *h, float *a, float *w,
			   struct dsck_error *err)
{
	const struct dsck_layer *L = &m->layers[l];
	uint64_t D = m->dim;
	float eps = (float)m->cfg->rms_norm_eps;
	dsck_weight_vec(&L->attn_norm, w);
	rmsnorm(h, x, w, n, D, eps);
	enum dsck_err rc = attention(m, L, rm, l, h, n, a, err);
	if (rc)
		return rc;
	for (size_t i = 0; i < n * D; i++)
		x[i] += a[i];
	dsck_weight_vec(&L->ffn_norm, w);
	rmsnorm(h, x, w, n, D, eps);
	rc = L->moe ? moe(m, L, h, n, a, err) : mlp(m, &L->w1, &L->w2, &L->w3, h, n, a, err);
	if (rc)
		return rc;
	if (!L->moe && m->comm) /* w2 is split by columns */
		m->comm->allreduce_sum(m->comm, a, n * D);
	for (size_t i = 0; i < n * D; i++)
		x[i] += a[i];
	return DSCK_OK;
}

/* Embedding rows of tokens into x [n, D]: each rank its vocabulary rows. */
static void embed(const struct dsck_model *m, const struct dsck_weight *e,
		  const uint32_t *tokens, size_t n, float *x)
{
	uint64_t D = m->dim;
	for (size_t i = 0; i < n; i++) {
		if (tokens[i] >= m->vocab0 && tokens[i] < m->vocab0 + m->vocab_n)
			dsck_weight_row(e, tokens[i] - m->vocab0, x + i * D);
		else
			memset(x + i * D, 0, D * sizeof *x);
	}
	if (m->comm)
		m->comm->allreduce_sum(m->comm, x, n * D);
}

/* logits [rows, vocab] = head(h [rows, D]); ranks gather their rows. */
static enum dsck_err head_logits(const struct dsck_model *m, const struct dsck_weight *hw,
				 const float *h, size_t rows, float *logits,
				 struct dsck_error *err)
{
	if (!m->comm) {
		dsck_matmul(m->pool, hw, h, rows, logits);
		return DSCK_OK;
	}
	size_t part = rows * m->vocab_n;
	float *mine = malloc(part * sizeof *mine);
	float *every = malloc(part * (size_t)m->size * sizeof *every);
	if (!mine || !every) {
		free(mine);
		free(every);
		return dsck_error_set(err, DSCK_E_NOMEM, "logits");
	}
	dsck_matmul(m->pool, hw, h, rows, mine);
	m->comm->allgather(m->comm, mine, part, every);
	for (int k = 0; k < m->size; k++)
		for (size_t r = 0; r < rows; r++)
			memcpy(logits + r * m->vocab + (size_t)k * m->vocab_n,
			       every + ((size_t)k * rows + r) * m->vocab_n, m->vocab_n * sizeof *logits);
	free(mine);
	free(every);
	return DSCK_OK;
}

/* The checks of a batch before anything is fed: token ids, room in each
 * sequence, no sequence twice. */
static enum dsck_err batch_check(const struct dsck_model *m, const struct dsck_batch *b,
				 size_t nb, struct dsck_error *err)
{
	for (size_t k = 0; k < nb; k++) {
		for (size_t i = 0; i < b[k].n; i++)
			if (b[k].tokens[i] >= m->vocab) {
				dsck_error_expect(err, "token ids below %llu", (unsigned long long)m->vocab);
				dsck_error_found(err, "%u at position %zu of sequence %zu", b[k].tokens[i],
						 i, k);
				return dsck_error_set(err, DSCK_E_USAGE, "token id out of range");
			}
		if (b[k].seq->len + b[k].n > m->max_seq) {
			dsck_error_expect(err, "at most %llu positions", (unsigned long long)m->max_seq);
			dsck_error_found(err, "%llu in sequence %zu",
					 (unsigned long long)(b[k].seq->len + b[k].n), k);
			return dsck_error_set(err, DSCK_E_LIMIT, "sequence longer than the context");
		}
		for (size_t j = 0; j < k; j++)
			if (b[j].seq == b[k].seq)
				return dsck_error_set(err, DSCK_E_USAGE,
						      "a sequence appears twice in one batch");
	}
	return DSCK_OK;
}

enum dsck_err dsck_model_forward_batch(const struct dsck_model *m, struct dsck_batch *b,
				       size_t nb, dsck_layer_hook hook, void *hook_user,
				       struct dsck_error *err)
{
	uint64_t D = m->dim;
	float eps = (float)m->cfg->rms_norm_eps;
	enum dsck_err rc;
	size_t n = 0, hr = 0;
	float *x = NULL, *h = NULL, *a = NULL, *w = NULL, *lg = NULL;
	uint32_t *tok = NULL;
	uint64_t *pos = NULL;
	struct dsck_seq **seq = NULL;

	rc = batch_check(m, b, nb, err);
	if (rc)
		return rc;
	for (size_t k = 0; k < nb; k++) {
		n += b[k].n;
		hr += b[k].logits && b[k].n ? (b[k].all ? b[k].n : 1) : 0;
	}
	if (n == 0)
		return DSCK_OK;
	for (size_t k = 0; k < nb; k++)
		if (seq_reserve(m, b[k].seq, b[k].seq->len + b[k].n))
			return dsck_error_set(err, DSCK_E_NOMEM, "KV cache");
	x = malloc(n * D * sizeof *x);
	h = malloc(n * D * sizeof *h);
	a = malloc(n * D * sizeof *a);
	w = malloc(D * sizeof *w);
	tok = malloc(n * sizeof *tok);
	pos = malloc(n * sizeof *pos);
	seq = malloc(n * sizeof *seq);
	lg = hr ? malloc(hr * m->vocab * sizeof *lg) : NULL;
	if (!x || !h || !a || !w || !tok || !pos || !seq || (hr && !lg)) {
		rc = dsck_error_set(err, DSCK_E_NOMEM, "activations");
		goto out;
	}
	/* the batch's rows side by side, each sequence's in position order */
	for (size_t k = 0, r = 0; k < nb; k++)
		for (size_t i = 0; i < b[k].n; i++, r++) {
			tok[r] = b[k].tokens[i];
			pos[r] = b[k].seq->len + i;
			seq[r] = b[k].seq;
		}
	struct rowmap rm = { seq, pos };
	embed(m, &m->embed, tok, n, x);
	for (uint64_t l = 0; l < m->n_layers && !rc; l++) {
		rc = block(m, &rm, l, x, n, h, a, w, err);
		if (!rc && hook)
			hook(hook_user, l, x, n, D);
	}
	if (rc)
		goto out;
	for (size_t k = 0, r = 0; k < nb && m->n_mtp; r += b[k].n, k++) {
		/* RT-R11: the MTP block reads these residuals */
		struct dsck_seq *s = b[k].seq;
		if (!b[k].n)
			continue;
		float *keep = realloc(s->hid, b[k].n * D * sizeof *keep);
		if (!keep) {
			rc = dsck_error_set(err, DSCK_E_NOMEM, "MTP hidden states");
			goto out;
		}
		memcpy(keep, x + r * D, b[k].n * D * sizeof *keep);
		s->hid = keep;
		s->hid_n = b[k].n;
		s->hid_pos0 = s->len;
	}
	if (hr) { /* the rows asked for, through the final norm and the head */
		dsck_weight_vec(&m->norm, w);
		for (size_t k = 0, r = 0, o = 0; k < nb; r += b[k].n, k++) {
			size_t rows = b[k].all ? b[k].n : 1, first = r + b[k].n - rows;
			if (!b[k].logits || !b[k].n)
				continue;
			rmsnorm(h + o * D, x + first * D, w, rows, D, eps);
			o += rows;
		}
		rc = head_logits(m, &m->head, h, hr, lg, err);
		if (rc)
			goto out;
		for (size_t k = 0, o = 0; k < nb; k++) {
			size_t rows = b[k].all ? b[k].n : 1;
			if (!b[k].logits || !b[k].n)
				continue;
			memcpy(b[k].logits, lg + o * m->vocab, rows * m->vocab * sizeof *lg);
			o += rows;
		}
	}
	for (size_t k = 0; k < nb; k++)
		b[k].seq->len += b[k].n;
out:
	free(x);
	free(h);
	free(a);
	free(w);
	free(tok);
	free(pos);
	free(seq);
	free(lg);
	return rc;
}

enum dsck_err dsck_model_forward(const struct dsck_model *m, struct dsck_seq *s,
				 const uint32_t *tokens, size_t n, int all,
				 float *logits, dsck_layer_hook hook, void *hook_user,
				 struct dsck_error *err)
{
	struct dsck_batch one = { s, tokens, n, all, logits };
	return dsck_model_forward_batch(m, &one, 1, hook, hook_user, err);
}

enum dsck_err dsck_model_forward_mtp(const struct dsck_model *m, struct dsck_seq *s,
				     const uint32_t *next, size_t k, float *logits,
				     struct dsck_error *err)
{
	uint64_t D = m->dim, p = s->mtp_len, L = m->n_layers;
	float eps = (float)m->cfg->rms_norm_eps;
	float *e = NULL, *cat = NULL, *x = NULL, *h = NULL, *a = NULL, *w = NULL;
	struct dsck_seq **rseq = NULL;
	uint64_t *rpos = NULL;
	struct rowmap rm;
	enum dsck_err rc = DSCK_OK;

	if (!m->n_mtp)
		return dsck_error_set(err, DSCK_E_UNSUPPORTED, "the checkpoint has no MTP layer");
	if (k == 0)
		return DSCK_OK;
	if (p < s->hid_pos0 || p + k > s->hid_pos0 + s->hid_n)
		return dsck_error_set(err, DSCK_E_USAGE,
				      "the MTP block follows the positions of the last forward call");
	for (size_t i = 0; i < k; i++)
		if (next[i] >= m->vocab)
			return dsck_error_set(err, DSCK_E_USAGE, "token id out of range");
	e = malloc(k * D * sizeof *e);
	cat = malloc(k * 2 * D * sizeof *cat);
	x = malloc(k * D * sizeof *x);
	h = malloc(k * D * sizeof *h);
	a = malloc(k * D * sizeof *a);
	w = malloc(D * sizeof *w);
	rseq = malloc(k * sizeof *rseq);
	rpos = malloc(k * sizeof *rpos);
	if (!e || !cat || !x || !h || !a || !w || !rseq || !rpos) {
		rc = dsck_error_set(err, DSCK_E_NOMEM, "MTP activations");
		goto out;
	}
	/* x = eh_proj([enorm(embed(t_{i+1})); hnorm(norm(h_i))]) */
	embed(m, &m->mtp_embed, next, k, e);
	dsck_weight_vec(&m->mtp_enorm, w);
	rmsnorm(e, e, w, k, D, eps);
	dsck_weight_vec(&m->norm, w);
	rmsnorm(h, s->hid + (p - s->hid_pos0) * D, w, k, D, eps);
	dsck_weight_vec(&m->mtp_hnorm, w);
	rmsnorm(h, h, w, k, D, eps);
	for (size_t i = 0; i < k; i++) {
		memcpy(cat + i * 2 * D, e + i * D, D * sizeof *cat);
		memcpy(cat + i * 2 * D + D, h + i * D, D * sizeof *cat);
	}
	dsck_matmul(m->pool, &m->mtp_eh, cat, k, x);
	rm.seq = rseq;
	rm.pos = rpos;
	for (size_t i = 0; i < k; i++) {
		rseq[i] = s;
		rpos[i] = p + i;
	}
	rc = block(m, &rm, L, x, k, h, a, w, err);
	if (rc)
		goto out;
	dsck_weight_vec(&m->mtp_norm, w);
	rmsnorm(h, x, w, k, D, eps);
	rc = head_logits(m, &m->mtp_head, h, k, logits, err);
	if (!rc)
		s->mtp_len = p + k;
out:
	free(e);
	free(cat);
	free(x);
	free(h);
	free(a);
	free(w);
	free(rseq);
	free(rpos);
	return rc;
}
