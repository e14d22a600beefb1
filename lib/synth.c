/*
 * synth.c - write a synthetic checkpoint directory (synth.h, formats.md §8).
 *
 * Plan: config (synth_presets.c) -> inventory (lib/inventory.c) -> shard
 * assignment -> files. Shards follow the upstream grouping: tensors in
 * inventory order with cumulative start offsets s_i (bytes before tensor i)
 * and total T; tensor i goes to shard floor(s_i * n / T), so shard k holds
 * the tensors starting in [k*T/n, (k+1)*T/n). A weight and its scale can
 * fall on either side of a boundary (SY-R3). Shards that would be empty are
 * dropped and the rest renumbered, so every shard has a tensor.
 *
 * Values (SY-R2): element i of tensor "name" is computed from
 * r = mix(key + (i' + 1) * PHI), key = mix(seed ^ fnv1a64(name)), where i'
 * is i or i/3 (FP8 packs three 20-bit draws in one word). Nothing depends
 * on chunk boundaries or on which shard a tensor is in. Distributions:
 *   FP8 weight  e4m3 codes from a 2^20-entry inverse-CDF table of a
 *               bell-shaped (Irwin-Hall, 3 terms) distribution scaled to
 *               +-464 and saturated at +-448, so every one of the 254
 *               finite codes occurs (NaN 0x7F/0xFF never); the table is
 *               built with + - * / only, so it is the same on every host
 *   scale_inv   F32 (1 + m) * 2^e, e uniform in -12..-7, m a random 23-bit
 *               mantissa: positive, finite, a different magnitude per block;
 *               m = 0 (powers of two) when the config says scale_fmt ue8m0
 *   norm        BF16 1 +- 0.05
 *   router      BF16 ~N(0, 0.01); e_score_correction_bias F32 in +-0.09
 *   embed/head  BF16 ~N(0, 0.02)
 *   BF16 proj   BF16 ~N(0, 1/sqrt(in_features)), eh_proj the same
 * "Normal" is a 4-term Irwin-Hall sum of 16-bit uniforms. F32 -> BF16 is
 * round-to-nearest-even. All output is little-endian, written bytewise.
 *
 * Planted weights (SY-R8, synth_planted.c) change the distributions:
 *   FP8 weight  the same codes as above
 *   scale_inv   2^e, e uniform in -19..-16 (so |w| <= 448 * 2^-16)
 *   BF16 proj   exactly e4m3(code) * scale of the FP8 checkpoint: the codes
 *               and scales above, dequantized (exact in BF16), so a BF16
 *               planted checkpoint equals the FP8 one converted
 *   norm        1.0; router bias 0.0; router as above
 *   embed/head  the one-hot rows of synth_planted.c (MTP copies the same)
 *   eh_proj     [I | 0] plus ~N(0, 2^-12) off the identity's diagonal
 */
#include "synth.h"

#include "arith.h"
#include "dtype.h"
#include "index.h"
#include "inventory.h"
#include "io.h"
#include "safetensors.h"

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define PHI 0x9e3779b97f4a7c15ull
#define FP8_TABLE_BITS 20
#define FP8_EDGE 464.0                 /* support edge of the FP8 draw */
#define SHARD_TARGET (4ull << 30)      /* custom configs: about 4 GiB a shard */

void dsck_synth_opts_init(struct dsck_synth_opts *o)
{
	memset(o, 0, sizeof *o);
	o->preset = "tiny";
	o->layers = -1;
	o->experts = -1;
	o->dtype = DSCK_SYNTH_DTYPE_CONFIG;
}

/* ---- values ----------------------------------------------------------- */

static uint64_t mix64(uint64_t z)
{
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/* Draw number i of the stream keyed by key. */
static inline uint64_t draw(uint64_t key, uint64_t i)
{
	return mix64(key + (i + 1) * PHI);
}

static uint64_t fnv1a64(const char *s)
{
	uint64_t h = 0xcbf29ce484222325ull;
	for (; *s; s++) {
		h ^= (unsigned char)*s;
		h *= 0x100000001b3ull;
	}
	return h;
}

static uint64_t tensor_key(uint64_t seed, const char *name)
{
	return mix64(seed ^ fnv1a64(name));
}

/* Value of e4m3fn magnitude code c (0..126), formats.md D-R1. */
static double e4m3_value(unsigned c)
{
	unsigned e = (c >> 3) & 0xF, m = c & 7;
	if (e == 0)
		return (double)m / 8.0 / 64.0;     /* subnormal: m/8 * 2^-6 */
	double v = 1.0 + (double)m / 8.0;
	for (unsigned k = 7; k > e; k--)
		v /= 2.0;
	for (unsigned k = 7; k < e; k++)
		v *= 2.0;
	return v;
}

/* CDF of the sum of three U(0,1), evaluated at s. */
static double ih3_cdf(double s)
{
	if (s <= 0.0)
		return 0.0;
	if (s < 1.0)
		return s * s * s / 6.0;
	if (s < 2.0)
		return (-2.0 * s * s * s + 9.0 * s * s - 9.0 * s + 3.0) / 6.0;
	if (s < 3.0) {
		double t = 3.0 - s;
		return 1.0 - t * t * t / 6.0;
	}
	return 1.0;
}

/* CDF of an FP8 draw in value units: the IH3 sum mapped to [-EDGE, EDGE]. */
static double fp8_cdf(double v)
{
	return ih3_cdf(v * 1.5 / FP8_EDGE + 1.5);
}

/*
 * Fill table[2^20] so that table[u] is the e4m3 code of the draw whose CDF
 * is (u + 0.5) / 2^20: codes in value order, each covering the entries
 * between the CDF at its lower and upper rounding boundary (midpoints to
 * its neighbours; beyond 448 saturates to +-448; +0 and -0 split zero).
 */
static void fp8_table_build(uint8_t *table)
{
	const size_t n = (size_t)1 << FP8_TABLE_BITS;
	double mag[127];
	size_t pos = 0;
	for (unsigned c = 0; c < 127; c++)
		mag[c] = e4m3_value(c);
	/* 254 codes in increasing value: -448 .. -min, -0, +0, +min .. 448 */
	for (int k = 0; k < 254; k++) {
		unsigned c;
		double upper;
		if (k < 127) {
			c = 126u - (unsigned)k;            /* magnitude, negative */
			upper = c == 0 ? 0.0 : -(mag[c] + mag[c - 1]) / 2.0;
			c |= 0x80u;
		} else {
			c = (unsigned)k - 127u;
			upper = c == 126 ? INFINITY : (mag[c] + mag[c + 1]) / 2.0;
		}
		double f = isinf(upper) ? 1.0 : fp8_cdf(upper);
		size_t end = (size_t)(f * (double)n + 0.5);
		if (end > n)
			end = n;
		for (; pos < end; pos++)
			table[pos] = (uint8_t)c;
	}
	for (; pos < n; pos++)
		table[pos] = 0x7E;
}

static uint16_t f32_to_bf16(float f)
{
	uint32_t x;
	memcpy(&x, &f, sizeof x);
	if ((x & 0x7fffffffu) > 0x7f800000u)
		return 0x7fc0; /* NaN: cannot come from the generators */
	x += 0x7fffu + ((x >> 16) & 1u);
	return (uint16_t)(x >> 16);
}

/* Uniform in [0, 1) from the top 24 bits. */
static inline float unit24(uint64_t r)
{
	return (float)(r >> 40) * (1.0f / 16777216.0f);
}

/* Approximately N(0, 1): four 16-bit uniforms, centred, variance 1. */
static inline float normal4(uint64_t r)
{
	float s = 0.0f;
	for (int k = 0; k < 4; k++)
		s += ((float)((r >> (16 * k)) & 0xffffu) + 0.5f) * (1.0f / 65536.0f);
	return (s - 2.0f) * 1.7320508f; /* sqrt(12 / 4) */
}

static inline void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static inline void put32(uint8_t *p, uint32_t v)
{
	for (int k = 0; k < 4; k++)
		p[k] = (uint8_t)(v >> (8 * k));
}

static inline uint32_t f32_bits(float f)
{
	uint32_t x;
	memcpy(&x, &f, sizeof x);
	return x;
}

enum gen_kind { GEN_FP8, GEN_SCALE, GEN_NORM, GEN_NORMAL_BF16, GEN_BIAS_F32,
		GEN_NORMAL_F32,
		/* planted (SY-R8) */
		GEN_PL_CONST, GEN_PL_SCALE, GEN_PL_EMBED, GEN_PL_HEAD, GEN_PL_EH,
		GEN_PL_DEQ };

struct gen {
	enum gen_kind kind;
	uint64_t key;
	uint32_t mant_mask;     /* scales: random mantissa bits (0: powers of two) */
	float sigma;
	const uint8_t *fp8_table;
	/* planted */
	const struct dsck_synth_planted *pl;
	int f32;                /* output F32, else BF16 */
	float value;            /* GEN_PL_CONST */
	uint64_t cols;          /* row length of the 2-D view */
	uint64_t skey;          /* GEN_PL_DEQ: key of NAME_scale_inv */
	uint64_t br, bc, scols; /* GEN_PL_DEQ: block and scale grid columns */
};

/* Planted scale of draw r: 2^e, e in DSCK_PLANTED_SCALE_EXP - 3 .. EXP. */
static inline float planted_scale(uint64_t r)
{
	uint32_t e = (uint32_t)(127 + DSCK_PLANTED_SCALE_EXP - (int)((r >> 32) % 4));
	uint32_t x = e << 23;
	float f;
	memcpy(&f, &x, sizeof f);
	return f;
}

/* Signed value of e4m3fn code c (never NaN here). */
static float e4m3_signed(unsigned c)
{
	double v = e4m3_value(c & 0x7fu);
	return (float)((c & 0x80u) ? -v : v);
}

/* FP8 code of element i of the stream keyed by key (GEN_FP8's layout). */
static inline unsigned fp8_code(const struct gen *g, uint64_t key, uint64_t i)
{
	uint64_t r = draw(key, i / 3);
	unsigned slot = (unsigned)(i % 3);
	return g->fp8_table[(unsigned)(r >> (FP8_TABLE_BITS * slot)) &
			    ((1u << FP8_TABLE_BITS) - 1)];
}

/* Planted kinds (SY-R8); FP8 weights and the router keep theirs. */
static void gen_planted(const struct dsck_inv_tensor *t, uint64_t seed,
			const struct dsck_config *cfg, struct gen *g)
{
	g->f32 = t->dtype == DSCK_F32;
	g->cols = t->ndim == 2 ? t->shape[1] : t->shape[0];
	switch (t->role) {
	case DSCK_ROLE_SCALE:
		g->kind = GEN_PL_SCALE;
		break;
	case DSCK_ROLE_NORM:
		g->kind = GEN_PL_CONST;
		g->value = 1.0f;
		break;
	case DSCK_ROLE_ROUTER_BIAS:
		g->kind = GEN_PL_CONST;
		g->value = 0.0f;
		break;
	case DSCK_ROLE_EMBED:
		g->kind = GEN_PL_EMBED;
		break;
	case DSCK_ROLE_HEAD:
		g->kind = GEN_PL_HEAD;
		break;
	case DSCK_ROLE_EH_PROJ:
		g->kind = GEN_PL_EH;
		g->sigma = 1.0f / 4096.0f;
		break;
	case DSCK_ROLE_PROJ:
		if (t->dtype != DSCK_F8_E4M3 && t->ndim == 2) {
			/* the FP8 checkpoint's codes and scales, dequantized */
			char sname[256];
			snprintf(sname, sizeof sname, "%s_scale_inv", t->name);
			g->kind = GEN_PL_DEQ;
			g->skey = tensor_key(seed, sname);
			g->br = cfg->block_rows ? cfg->block_rows : 128;
			g->bc = cfg->block_cols ? cfg->block_cols : 128;
			g->scols = (g->cols + g->bc - 1) / g->bc;
		}
		break;
	case DSCK_ROLE_ROUTER:
		break;
	}
}

static void gen_for(const struct dsck_inv_tensor *t, uint64_t seed,
		    const struct dsck_config *cfg, const uint8_t *table,
		    const struct dsck_synth_planted *pl, struct gen *g)
{
	memset(g, 0, sizeof *g);
	g->pl = pl;
	g->key = tensor_key(seed, t->name);
	/* scale_fmt ue8m0 (V3.1): scales are exact powers of two */
	g->mant_mask = cfg->scale_fmt == DSCK_SCALE_UE8M0 ? 0 : 0x7fffffu;
	g->fp8_table = table;
	g->sigma = 0.02f;
	double in = t->ndim == 2 && t->shape[1] ? (double)t->shape[1] : 1.0;
	switch (t->role) {
	case DSCK_ROLE_SCALE:
		g->kind = GEN_SCALE;
		break;
	case DSCK_ROLE_NORM:
		g->kind = GEN_NORM;
		break;
	case DSCK_ROLE_ROUTER_BIAS:
		g->kind = GEN_BIAS_F32;
		break;
	case DSCK_ROLE_ROUTER:
		g->kind = GEN_NORMAL_BF16;
		g->sigma = 0.01f;
		break;
	case DSCK_ROLE_PROJ:
	case DSCK_ROLE_EH_PROJ:
		g->kind = GEN_NORMAL_BF16;
		g->sigma = (float)(1.0 / sqrt(in));
		break;
	case DSCK_ROLE_EMBED:
	case DSCK_ROLE_HEAD:
	default:
		g->kind = GEN_NORMAL_BF16;
		break;
	}
	/* the dtype decides the encoding; roles only pick the distribution */
	if (t->dtype == DSCK_F8_E4M3)
		g->kind = GEN_FP8;
	else if (t->dtype == DSCK_F32 && g->kind == GEN_NORMAL_BF16)
		g->kind = GEN_NORMAL_F32;
	if (pl)
		gen_planted(t, seed, cfg, g);
}

static inline void put_val(const struct gen *g, uint8_t *out, size_t j, float v)
{
	if (g->f32)
		put32(out + 4 * j, f32_bits(v));
	else
		put16(out + 2 * j, f32_to_bf16(v));
}

/*
 * Bytes [off, off + n) of a tensor of element size esize, into out.
 * off and n are multiples of esize (chunks are cut on element bounds).
 */
static void gen_fill(const struct gen *g, unsigned esize, uint64_t off,
		     uint8_t *out, size_t n)
{
	uint64_t i0 = off / esize;
	size_t cnt = n / esize;
	switch (g->kind) {
	case GEN_FP8: {
		/* element i takes bits 20*(i%3).. of draw i/3: one draw per
		 * triple, whatever the chunk start */
		const unsigned mask = (1u << FP8_TABLE_BITS) - 1;
		uint64_t word = i0 / 3;
		unsigned slot = (unsigned)(i0 % 3);
		uint64_t r = draw(g->key, word);
		for (size_t j = 0; j < cnt; j++) {
			out[j] = g->fp8_table[(unsigned)(r >> (FP8_TABLE_BITS * slot)) & mask];
			if (++slot == 3) {
				slot = 0;
				r = draw(g->key, ++word);
			}
		}
		break;
	}
	case GEN_SCALE:
		for (size_t j = 0; j < cnt; j++) {
			uint64_t r = draw(g->key, i0 + j);
			uint32_t e = (uint32_t)(127 - 12 + (r >> 32) % 6);
			put32(out + 4 * j, (e << 23) | ((uint32_t)r & g->mant_mask));
		}
		break;
	case GEN_NORM:
		for (size_t j = 0; j < cnt; j++) {
			float u = unit24(draw(g->key, i0 + j));
			put16(out + 2 * j, f32_to_bf16(1.0f + 0.05f * (2.0f * u - 1.0f)));
		}
		break;
	case GEN_NORMAL_BF16:
		for (size_t j = 0; j < cnt; j++) {
			float v = g->sigma * normal4(draw(g->key, i0 + j));
			put16(out + 2 * j, f32_to_bf16(v));
		}
		break;
	case GEN_BIAS_F32:
		for (size_t j = 0; j < cnt; j++) {
			float u = unit24(draw(g->key, i0 + j));
			put32(out + 4 * j, f32_bits(0.09f * (2.0f * u - 1.0f)));
		}
		break;
	case GEN_NORMAL_F32:
		for (size_t j = 0; j < cnt; j++) {
			float v = g->sigma * normal4(draw(g->key, i0 + j));
			put32(out + 4 * j, f32_bits(v));
		}
		break;
	case GEN_PL_CONST:
		for (size_t j = 0; j < cnt; j++)
			put_val(g, out, j, g->value);
		break;
	case GEN_PL_SCALE:
		for (size_t j = 0; j < cnt; j++)
			put32(out + 4 * j, f32_bits(planted_scale(draw(g->key, i0 + j))));
		break;
	case GEN_PL_EMBED:
	case GEN_PL_HEAD:
		for (size_t j = 0; j < cnt; j++) {
			uint64_t i = i0 + j, r = i / g->cols, c = i % g->cols;
			put_val(g, out, j, g->kind == GEN_PL_EMBED
						   ? dsck_synth_planted_embed(g->pl, r, c)
						   : dsck_synth_planted_head(g->pl, r, c));
		}
		break;
	case GEN_PL_EH:
		for (size_t j = 0; j < cnt; j++) {
			uint64_t i = i0 + j, r = i / g->cols, c = i % g->cols;
			float v = c == r ? 1.0f : g->sigma * normal4(draw(g->key, i));
			put_val(g, out, j, v);
		}
		break;
	case GEN_PL_DEQ:
		for (size_t j = 0; j < cnt; j++) {
			uint64_t i = i0 + j, r = i / g->cols, c = i % g->cols;
			uint64_t b = (r / g->br) * g->scols + c / g->bc;
			float v = e4m3_signed(fp8_code(g, g->key, i)) *
				  planted_scale(draw(g->skey, b));
			put_val(g, out, j, v);
		}
		break;
	}
}

/* ---- directory and small files --------------------------------------- */

/* mkdir -p; an existing directory is fine. */
static enum dsck_err dir_make(const char *path, struct dsck_error *err)
{
	enum dsck_err rc = DSCK_OK;
	char *p = strdup(path);
	if (!p)
		return dsck_error_set(err, DSCK_E_NOMEM, "path");
	for (char *s = p + 1; ; s++) {
		int end = *s == '\0';
		if (*s == '/' || end) {
			char keep = *s;
			*s = '\0';
			if (mkdir(p, 0755) != 0 && errno != EEXIST) {
				int e = errno;
				dsck_error_file(err, p);
				rc = dsck_error_set(err, dsck_err_from_errno(e),
						    "cannot create directory: %s",
						    strerror(e));
				break;
			}
			*s = keep;
		}
		if (end)
			break;
	}
	if (rc == DSCK_OK) {
		struct stat st;
		if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode)) {
			dsck_error_file(err, path);
			rc = dsck_error_set(err, DSCK_E_IO, "not a directory");
		}
	}
	free(p);
	return rc;
}

static enum dsck_err dir_check_empty(const char *path, struct dsck_error *err)
{
	enum dsck_err rc = DSCK_OK;
	DIR *d = opendir(path);
	struct dirent *de;
	if (!d) {
		int e = errno;
		dsck_error_file(err, path);
		return dsck_error_set(err, dsck_err_from_errno(e),
				      "cannot read directory: %s", strerror(e));
	}
	while (rc == DSCK_OK && (de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		dsck_error_file(err, path);
		rc = dsck_error_set(err, DSCK_E_USAGE,
				    "output directory is not empty (force to write into it)");
	}
	closedir(d);
	return rc;
}

static char *path_join(const char *dir, const char *name)
{
	size_t n = strlen(dir) + strlen(name) + 2;
	char *p = malloc(n);
	if (p)
		snprintf(p, n, "%s/%s", dir, name);
	return p;
}

static enum dsck_err file_put(const char *dir, const char *name,
			      const char *text, uint64_t *bytes,
			      struct dsck_error *err)
{
	char *path = path_join(dir, name);
	if (!path)
		return dsck_error_set(err, DSCK_E_NOMEM, "path");
	size_t n = strlen(text);
	enum dsck_err rc = dsck_write_file_atomic(path, text, n, err);
	free(path);
	if (rc == DSCK_OK)
		*bytes += n;
	return rc;
}

static char *generation_config_text(const struct dsck_config *cfg)
{
	struct dsck_jsonw b = DSCK_JSONW_INIT;
	long long bos = cfg->bos_token_id >= 0 ? (long long)cfg->bos_token_id : 0;
	long long eos = cfg->eos_token_id >= 0 ? (long long)cfg->eos_token_id : 1;
	dsck_jsonw_printf(&b,
			      "{\n  \"_from_model_config\": true,\n"
			      "  \"bos_token_id\": %lld,\n"
			      "  \"do_sample\": true,\n"
			      "  \"eos_token_id\": %lld,\n"
			      "  \"temperature\": 0.6,\n"
			      "  \"top_p\": 0.95,\n"
			      "  \"transformers_version\": \"4.46.3\"\n}\n",
			      bos, eos);
	return dsck_jsonw_take(&b, NULL); /* NULL when out of memory */
}

/* ---- the write ---------------------------------------------------------- */

struct plan {
	struct dsck_synth_config sc;
	struct dsck_inventory inv;
	int have_inv;
	size_t n_shards;
	size_t *first;          /* [n_shards + 1]: inventory range of shard k */
	uint32_t *shard_of;     /* [inv.n] */
	char **shard_names;     /* [n_shards] */
};

static void plan_release(struct plan *p)
{
	if (p->shard_names)
		for (size_t k = 0; k < p->n_shards; k++)
			free(p->shard_names[k]);
	free(p->shard_names);
	free(p->shard_of);
	free(p->first);
	if (p->have_inv)
		dsck_inventory_release(&p->inv);
	dsck_synth_config_release(&p->sc);
}

/* Shard assignment (file comment); drops empty shards. */
static enum dsck_err plan_shards(struct plan *p, struct dsck_error *err)
{
	const struct dsck_inventory *inv = &p->inv;
	uint64_t total = inv->payload_bytes, start = 0, want = p->sc.n_shards;
	uint32_t *raw = NULL;
	enum dsck_err rc = DSCK_OK;

	if (want == 0 && dsck_ceil_div_u64(total, SHARD_TARGET, &want))
		want = 1;
	if (want == 0)
		want = 1;
	if (want > inv->n)
		want = inv->n;
	p->shard_of = malloc((inv->n ? inv->n : 1) * sizeof *p->shard_of);
	raw = malloc((inv->n ? inv->n : 1) * sizeof *raw);
	p->first = malloc(((size_t)want + 1) * sizeof *p->first);
	p->shard_names = calloc((size_t)want, sizeof *p->shard_names);
	if (!p->shard_of || !raw || !p->first || !p->shard_names) {
		rc = dsck_error_set(err, DSCK_E_NOMEM, "shard plan");
		goto out;
	}
	for (size_t i = 0; i < inv->n; i++) {
		/* start < total, so the quotient is < want (fits 32 bits) */
		unsigned __int128 q = (unsigned __int128)start * want;
		raw[i] = total ? (uint32_t)(q / total) : 0;
		start += inv->t[i].nbytes; /* sums to total: no overflow */
	}
	/* renumber the non-empty shards 0..n-1 (assignment is monotone) */
	size_t n = 0;
	for (size_t i = 0; i < inv->n; i++) {
		if (i == 0 || raw[i] != raw[i - 1])
			p->first[n++] = i;
		p->shard_of[i] = (uint32_t)(n - 1);
	}
	p->first[n] = inv->n;
	p->n_shards = n;
	for (size_t k = 0; k < n; k++) {
		char name[64];
		snprintf(name, sizeof name,
			 p->sc.six_digit_total ? "model-%05zu-of-%06zu.safetensors"
					       : "model-%05zu-of-%05zu.safetensors",
			 k + 1, n);
		p->shard_names[k] = strdup(name);
		if (!p->shard_names[k]) {
			rc = dsck_error_set(err, DSCK_E_NOMEM, "shard names");
			goto out;
		}
	}
out:
	free(raw);
	return rc;
}

struct writer_ctx {
	const struct dsck_synth_opts *opts;
	const struct plan *p;
	uint8_t *buf;           /* DSCK_SYNTH_CHUNK bytes */
	uint8_t *fp8_table;     /* 2^20 entries */
	const struct dsck_synth_planted *pl; /* planted weights, or NULL */
	struct dsck_st_spec *specs;
	struct dsck_synth_progress prog;
	uint64_t file_bytes, data_written;
};

static void progress_note(struct writer_ctx *c)
{
	if (c->opts->progress)
		c->opts->progress(c->opts->progress_arg, &c->prog);
}

static enum dsck_err shard_write(struct writer_ctx *c, size_t k,
				 struct dsck_error *err)
{
	const struct plan *p = c->p;
	const struct dsck_inventory *inv = &p->inv;
	size_t lo = p->first[k], n = p->first[k + 1] - lo;
	static const char *const meta[] = { "format", "pt" };
	struct dsck_stw stw;
	enum dsck_err rc;
	char *path = path_join(c->opts->out_dir, p->shard_names[k]);

	if (!path)
		return dsck_error_set(err, DSCK_E_NOMEM, "path");
	for (size_t j = 0; j < n; j++) {
		const struct dsck_inv_tensor *t = &inv->t[lo + j];
		struct dsck_st_spec *s = &c->specs[j];
		memset(s, 0, sizeof *s);
		s->name = t->name;
		s->dtype = t->dtype;
		s->ndim = t->ndim;
		for (uint32_t d = 0; d < t->ndim && d < 2; d++)
			s->shape[d] = t->shape[d];
	}
	c->prog.shard = k + 1;
	rc = dsck_stw_open(&stw, path, c->specs, n, meta, 1,
			   c->opts->sparse, err);
	if (rc)
		goto out;
	for (size_t j = 0; j < n && !c->opts->sparse; j++) {
		const struct dsck_inv_tensor *t = &inv->t[lo + stw.order[j]];
		unsigned esize = dsck_dtype_bits(t->dtype) / 8;
		/* chunk: a whole number of elements (and of FP8 triples) */
		size_t chunk = DSCK_SYNTH_CHUNK - DSCK_SYNTH_CHUNK % 12;
		struct gen g;
		gen_for(t, c->opts->seed, &p->sc.cfg, c->fp8_table, c->pl, &g);
		for (uint64_t off = 0; off < t->nbytes;) {
			uint64_t left = t->nbytes - off;
			size_t m = left < chunk ? (size_t)left : chunk;
			gen_fill(&g, esize, off, c->buf, m);
			rc = dsck_stw_write(&stw, c->buf, m, err);
			if (rc) {
				dsck_error_tensor(err, t->name);
				dsck_stw_abort(&stw);
				goto out;
			}
			off += m;
			c->data_written += m;
			c->prog.bytes_done += m;
			progress_note(c);
		}
	}
	if (c->opts->sparse)
		for (size_t j = 0; j < n; j++)
			c->prog.bytes_done += inv->t[lo + j].nbytes;
	c->file_bytes += stw.total_size;
	rc = dsck_stw_commit(&stw, err);
	if (rc == DSCK_OK)
		progress_note(c);
out:
	free(path);
	return rc;
}

enum dsck_err dsck_synth_write(const struct dsck_synth_opts *opts,
			       struct dsck_synth_result *result,
			       struct dsck_error *err)
{
	enum dsck_err rc;
	struct plan p = { 0 };
	struct writer_ctx c = { 0 };
	struct dsck_synth_result res = { 0 };
	char *tok_json = NULL, *tok_cfg = NULL, *gen_cfg = NULL, *index_path = NULL;
	const char **names = NULL;
	size_t max_in_shard = 0;
	struct dsck_synth_planted pl = { 0 };

	if (!opts->out_dir || !opts->out_dir[0]) {
		rc = dsck_error_set(err, DSCK_E_USAGE, "no output directory");
		goto out;
	}
	if (opts->planted && opts->sparse) {
		rc = dsck_error_set(err, DSCK_E_USAGE,
				    "planted weights need data: not with sparse");
		goto out;
	}
	rc = dsck_synth_config_make(opts, &p.sc, err);
	if (rc)
		goto out;
	if (opts->planted) {
		rc = dsck_synth_planted_make(&p.sc.cfg, &pl, err);
		if (rc)
			goto out;
		c.pl = &pl;
	}
	rc = dsck_inventory_build(&p.sc.cfg,
				  p.sc.cfg.quantized ? DSCK_CKPT_FP8 : DSCK_CKPT_BF16,
				  &p.inv, err);
	if (rc)
		goto out;
	p.have_inv = 1;
	rc = plan_shards(&p, err);
	if (rc)
		goto out;
	res.n_shards = p.n_shards;
	res.n_files = p.n_shards + 5;
	res.n_tensors = p.inv.n;
	res.payload_bytes = p.inv.payload_bytes;
	res.fp8 = p.sc.cfg.quantized;
	res.planted = opts->planted != 0;
	if (!opts->sparse && opts->max_dense_bytes &&
	    p.inv.payload_bytes > opts->max_dense_bytes) {
		rc = dsck_error_set(err, DSCK_E_USAGE,
				    "would write %llu bytes (%.1f GiB) of tensor data; "
				    "use sparse data (file holes) or force it",
				    (unsigned long long)p.inv.payload_bytes,
				    (double)p.inv.payload_bytes / (1024.0 * 1024 * 1024));
		goto out;
	}

	rc = dsck_synth_tokenizer_build(&p.sc.cfg, &tok_json, &tok_cfg, err);
	if (rc)
		goto out;
	gen_cfg = generation_config_text(&p.sc.cfg);
	for (size_t k = 0; k < p.n_shards; k++)
		if (p.first[k + 1] - p.first[k] > max_in_shard)
			max_in_shard = p.first[k + 1] - p.first[k];
	names = malloc((p.inv.n ? p.inv.n : 1) * sizeof *names);
	c.specs = malloc((max_in_shard ? max_in_shard : 1) * sizeof *c.specs);
	c.buf = opts->sparse ? NULL : malloc(DSCK_SYNTH_CHUNK);
	c.fp8_table = opts->sparse ? NULL : malloc((size_t)1 << FP8_TABLE_BITS);
	index_path = path_join(opts->out_dir, "model.safetensors.index.json");
	if (!gen_cfg || !names || !c.specs || !index_path ||
	    (!opts->sparse && (!c.buf || !c.fp8_table))) {
		rc = dsck_error_set(err, DSCK_E_NOMEM, "synth buffers");
		goto out;
	}
	if (c.fp8_table)
		fp8_table_build(c.fp8_table);

	rc = dir_make(opts->out_dir, err);
	if (rc == DSCK_OK && !opts->force)
		rc = dir_check_empty(opts->out_dir, err);
	if (rc)
		goto out;

	c.opts = opts;
	c.p = &p;
	c.prog.n_shards = p.n_shards;
	c.prog.bytes_total = p.inv.payload_bytes;
	rc = file_put(opts->out_dir, "config.json", p.sc.json, &c.file_bytes, err);
	if (rc == DSCK_OK)
		rc = file_put(opts->out_dir, "generation_config.json", gen_cfg,
			      &c.file_bytes, err);
	if (rc == DSCK_OK)
		rc = file_put(opts->out_dir, "tokenizer.json", tok_json,
			      &c.file_bytes, err);
	if (rc == DSCK_OK)
		rc = file_put(opts->out_dir, "tokenizer_config.json", tok_cfg,
			      &c.file_bytes, err);
	for (size_t k = 0; rc == DSCK_OK && k < p.n_shards; k++)
		rc = shard_write(&c, k, err);
	if (rc)
		goto out;

	/* the index last: its presence means every shard is complete */
	for (size_t i = 0; i < p.inv.n; i++)
		names[i] = p.inv.t[i].name;
	rc = dsck_index_write(index_path, names, p.shard_of, p.inv.n,
			      (const char *const *)p.shard_names,
			      p.inv.payload_bytes, err);
	if (rc)
		goto out;
	{
		struct stat st;
		if (stat(index_path, &st) == 0)
			c.file_bytes += (uint64_t)st.st_size;
	}
	res.file_bytes = c.file_bytes;
	res.data_written = c.data_written;
out:
	if (result)
		*result = res;
	free(index_path);
	free(c.fp8_table);
	free(c.buf);
	free(c.specs);
	free(names);
	free(gen_cfg);
	free(tok_json);
	free(tok_cfg);
	dsck_synth_planted_release(&pl);
	plan_release(&p);
	return rc;
}
