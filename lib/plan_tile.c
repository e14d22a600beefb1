/*
 * plan_tile.c - work items of the plan engine: how a tensor is cut into
 * tiles, which file bytes a tile reads and writes, and the transform of one
 * tile (formats.md PL-R2..PL-R5).
 *
 * A tile is rows [r0, r1) x cols [c0, c1) of a tensor's 2-D view. Its
 * output bytes are gathered in one buffer in the order of its output
 * segments (row by row; for QUANT the FP8 rows, then the scale rows); the
 * same tile computed again and compared with those segments read back is
 * how resume checks an output (PL-R6).
 */
#include "plan_int.h"

#include "../kernels/convert.h"
#include "arith.h"
#include "logical.h"

#include <fcntl.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
	       "safetensors data are little-endian; the engine writes host order");

/* PL-R4: the amax floor of DeepSeek's act_quant, so an all-zero block gets
 * the scale 1e-4f / 448 (2^-22 with ue8m0) and no division by zero. */
#define PE_AMAX_FLOOR 1e-4f
#define PE_E4M3_MAX 448.0f

static uint64_t min_u64(uint64_t a, uint64_t b) { return a < b ? a : b; }
static uint64_t max_u64(uint64_t a, uint64_t b) { return a > b ? a : b; }

static unsigned esize(enum dsck_dtype d) { return dsck_dtype_bits(d) / 8; }

uint32_t pe_units(const struct dsck_plan *p, size_t t)
{
	return p->t[t].npieces ? p->t[t].npieces : 1;
}

static int whole_copy(const struct dsck_plan_tensor *pt)
{
	return pt->xf == DSCK_XF_COPY && pt->npieces == 0;
}

void pe_geom(const struct pe_engine *e, size_t t, uint32_t u, struct pe_geom *g)
{
	const struct dsck_plan *p = e->p;
	const struct dsck_plan_tensor *pt = &p->t[t];
	uint64_t E = e->tile_elems, br = p->block_rows, bc = p->block_cols;

	memset(g, 0, sizeof *g);
	if (pt->xf == DSCK_XF_QSCALE)
		return;
	if (whole_copy(pt)) {
		g->rows = 1;
		g->cols = dsck_plan_tensor_bytes(p, t);
		g->tr = 1;
		g->tc = E * 4; /* bytes */
	} else {
		uint64_t eb = E;
		if (pt->xf == DSCK_XF_COPY) {
			const struct dsck_plan_piece *pc = &p->pieces[pt->piece0 + u];
			g->rows = pc->rows;
			g->cols = pc->cols;
			eb = max_u64(1, E * 4 / esize(pt->dtype));
		} else {
			dsck_shape_2d(pt->ndim, pt->shape, &g->rows, &g->cols);
		}
		if (pt->xf == DSCK_XF_QUANT) {
			/* whole blocks: amax needs all of a block (PL-R4) */
			if (g->cols <= E / br) {
				g->tc = g->cols;
				g->tr = br * max_u64(1, E / (g->cols * br));
			} else {
				g->tr = br;
				g->tc = max_u64(bc, E / br / bc * bc);
			}
		} else if (g->cols <= eb) {
			g->tc = g->cols;
			g->tr = max_u64(1, eb / max_u64(1, g->cols));
		} else {
			g->tr = 1;
			g->tc = max_u64(bc, eb / bc * bc);
		}
	}
	if (g->rows && g->cols) {
		g->ntr = dsck_div_up_u64(g->rows, g->tr);
		g->ntc = dsck_div_up_u64(g->cols, g->tc);
	}
}

/* Does tensor at disk position k of file f have items? Sets *t. */
static int tensor_has_items(const struct pe_engine *e, size_t f, uint32_t k,
			    uint32_t *t)
{
	const struct dsck_plan_file *pf = &e->p->files[f];
	*t = (uint32_t)(pf->t0 + pf->order[k]);
	for (uint32_t u = 0; u < pe_units(e->p, *t); u++) {
		struct pe_geom g;
		pe_geom(e, *t, u, &g);
		if (g.ntr && g.ntc)
			return 1;
	}
	return 0;
}

/* Move to the first item at or after (k, u); 0 past the file's end. */
static int settle(const struct pe_engine *e, struct pe_item *it, uint32_t k,
		  uint32_t u)
{
	const struct dsck_plan_file *pf = &e->p->files[it->f];
	for (; k < pf->n; k++, u = 0) {
		uint32_t t;
		if (!tensor_has_items(e, it->f, k, &t))
			continue;
		for (; u < pe_units(e->p, t); u++) {
			struct pe_geom g;
			pe_geom(e, t, u, &g);
			if (g.ntr && g.ntc) {
				it->k = k;
				it->t = t;
				it->u = u;
				it->ti = it->tj = 0;
				return 1;
			}
		}
	}
	return 0;
}

int pe_item_first(const struct pe_engine *e, size_t f, struct pe_item *it)
{
	memset(it, 0, sizeof *it);
	it->f = (uint32_t)f;
	return settle(e, it, 0, 0);
}

int pe_item_next(const struct pe_engine *e, struct pe_item *it)
{
	struct pe_geom g;
	pe_geom(e, it->t, it->u, &g);
	if (++it->tj < g.ntc)
		return 1;
	it->tj = 0;
	if (++it->ti < g.ntr)
		return 1;
	return settle(e, it, it->k, it->u + 1);
}

uint64_t pe_file_items(const struct pe_engine *e, size_t f)
{
	const struct dsck_plan_file *pf = &e->p->files[f];
	uint64_t n = 0;
	for (size_t i = 0; i < pf->n; i++)
		for (uint32_t u = 0; u < pe_units(e->p, pf->t0 + i); u++) {
			struct pe_geom g;
			pe_geom(e, pf->t0 + i, u, &g);
			n += g.ntr * g.ntc;
		}
	return n;
}

void pe_buf_release(struct pe_buf *b)
{
	free(b->in);
	free(b->f32);
	free(b->out);
	free(b->scl);
	free(b->iseg);
	free(b->oseg);
	free(b->chk);
	memset(b, 0, sizeof *b);
}

/* Grow *buf to at least need bytes. */
static int ensure(void *buf, size_t *cap, uint64_t need)
{
	void **pp = buf;
	if (need <= *cap)
		return 0;
	if (need > SIZE_MAX / 2)
		return -1;
	void *q = realloc(*pp, (size_t)need);
	if (!q)
		return -1;
	*pp = q;
	*cap = (size_t)need;
	return 0;
}

int pe_ensure_bytes(struct pe_buf *b, uint64_t n)
{
	return ensure(&b->out, &b->out_cap, n ? n : 1);
}

/* Append a segment, merging it with the previous one when contiguous. */
static void seg_add(struct pe_seg *s, size_t *n, uint64_t off, uint64_t len)
{
	if (*n && s[*n - 1].off + s[*n - 1].len == off) {
		s[*n - 1].len += len;
		return;
	}
	s[*n].off = off;
	s[*n].len = len;
	(*n)++;
}

struct tile {
	const struct dsck_plan_tensor *pt;
	struct pe_geom g;
	uint64_t r0, r1, c0, c1;     /* in the unit's view */
	uint64_t h, w;
};

static void tile_of(const struct pe_engine *e, const struct pe_item *it,
		    struct tile *tl)
{
	tl->pt = &e->p->t[it->t];
	pe_geom(e, it->t, it->u, &tl->g);
	tl->r0 = it->ti * tl->g.tr;
	tl->r1 = min_u64(tl->r0 + tl->g.tr, tl->g.rows);
	tl->c0 = it->tj * tl->g.tc;
	tl->c1 = min_u64(tl->c0 + tl->g.tc, tl->g.cols);
	tl->h = tl->r1 - tl->r0;
	tl->w = tl->c1 - tl->c0;
}

static uint64_t tensor_base(const struct pe_engine *e, size_t f, size_t t)
{
	const struct dsck_plan_file *pf = &e->p->files[f];
	return pf->header_len + pf->begin[t - pf->t0];
}

enum dsck_err pe_item_out_segs(const struct pe_engine *e, const struct pe_item *it,
			       struct pe_buf *b, size_t *n, uint64_t *bytes,
			       struct dsck_error *err)
{
	const struct dsck_plan *p = e->p;
	struct tile tl;
	tile_of(e, it, &tl);
	const struct dsck_plan_tensor *pt = tl.pt;
	uint64_t base = tensor_base(e, it->f, it->t);
	uint64_t nb = pt->xf == DSCK_XF_QUANT ? dsck_div_up_u64(tl.h, p->block_rows) + 1 : 0;
	uint64_t ns = 0;

	if (ensure(&b->oseg, &b->oseg_cap, (tl.h + nb + 1) * sizeof *b->oseg))
		return dsck_error_set(err, DSCK_E_NOMEM, "tile segments");
	*n = 0;
	if (whole_copy(pt)) {
		seg_add(b->oseg, n, base + tl.c0, tl.w);
		ns = tl.w;
	} else {
		unsigned osz = esize(pt->dtype);
		uint64_t vr, vc, dr = 0, dc = 0;
		dsck_shape_2d(pt->ndim, pt->shape, &vr, &vc);
		if (pt->xf == DSCK_XF_COPY) {
			const struct dsck_plan_piece *pc = &p->pieces[pt->piece0 + it->u];
			dr = pc->dst_row;
			dc = pc->dst_col;
		}
		for (uint64_t r = tl.r0; r < tl.r1; r++)
			seg_add(b->oseg, n, base + ((dr + r) * vc + dc + tl.c0) * osz,
				tl.w * osz);
		ns = tl.h * tl.w * osz;
		if (pt->xf == DSCK_XF_QUANT) {
			uint64_t sbase = tensor_base(e, it->f, (size_t)pt->out_scale);
			uint64_t scols = dsck_div_up_u64(vc, p->block_cols);
			uint64_t k0 = tl.c0 / p->block_cols, k1 = dsck_div_up_u64(tl.c1, p->block_cols);
			for (uint64_t bi = tl.r0 / p->block_rows; bi < dsck_div_up_u64(tl.r1, p->block_rows); bi++)
				seg_add(b->oseg, n, sbase + (bi * scols + k0) * 4, (k1 - k0) * 4);
			ns += (dsck_div_up_u64(tl.r1, p->block_rows) - tl.r0 / p->block_rows) * (k1 - k0) * 4;
		}
	}
	*bytes = ns;
	return DSCK_OK;
}

/* Read the tile's input into b->in (segments in row order). */
static enum dsck_err read_input(struct pe_engine *e, const struct pe_item *it,
				const struct tile *tl, struct pe_buf *b,
				uint64_t *in_len, struct dsck_error *err)
{
	const struct dsck_plan *p = e->p;
	const struct dsck_plan_tensor *pt = tl->pt;
	uint32_t src = pt->src;
	if (pt->xf == DSCK_XF_COPY && pt->npieces)
		src = p->pieces[pt->piece0 + it->u].src;
	const struct dsck_ckpt_tensor *ct = &e->ck->tensors[src];
	const struct dsck_st_tensor *st = ct->t;
	const struct dsck_st *shard = e->ck->shards[ct->shard];
	unsigned isz = esize(st->dtype);
	size_t n = 0;
	uint64_t total = 0;
	enum dsck_err rc;

	if (ensure(&b->iseg, &b->iseg_cap, (tl->h + 1) * sizeof *b->iseg))
		return dsck_error_set(err, DSCK_E_NOMEM, "tile segments");
	if (whole_copy(pt)) {
		seg_add(b->iseg, &n, tl->c0, tl->w);
	} else {
		uint64_t vr, vc, sr = 0, sc = 0;
		dsck_shape_2d(st->ndim, st->shape, &vr, &vc);
		if (pt->xf == DSCK_XF_COPY) {
			const struct dsck_plan_piece *pc = &p->pieces[pt->piece0 + it->u];
			sr = pc->src_row;
			sc = pc->src_col;
		}
		for (uint64_t r = tl->r0; r < tl->r1; r++)
			seg_add(b->iseg, &n, ((sr + r) * vc + sc + tl->c0) * isz, tl->w * isz);
	}
	for (size_t i = 0; i < n; i++)
		total += b->iseg[i].len;
	if (ensure(&b->in, &b->in_cap, total))
		return dsck_error_set(err, DSCK_E_NOMEM, "tile input buffer");
	uint64_t pos = 0;
	for (size_t i = 0; i < n; i++) {
		rc = dsck_ckpt_read(e->ck, ct, b->iseg[i].off, b->in + pos,
				    (size_t)b->iseg[i].len, err);
		if (rc)
			return rc;
		/* PL-R7: read once, then out of the page cache */
		dsck_file_drop_cache(&shard->file, shard->data_start + st->begin + b->iseg[i].off,
				     b->iseg[i].len);
		pos += b->iseg[i].len;
	}
	*in_len = total;
	return DSCK_OK;
}

/* PL-R3: scale element `at` of scale tensor cs is not a finite value > 0. */
static enum dsck_err bad_scale(const struct pe_engine *e, const struct dsck_ckpt_tensor *cs,
			       uint64_t at, float s, struct dsck_error *err)
{
	const struct dsck_st *shard = e->ck->shards[cs->shard];
	uint64_t srows, scols;
	dsck_shape_2d(cs->t->ndim, cs->t->shape, &srows, &scols);
	dsck_error_file(err, shard->file.path);
	dsck_error_tensor(err, cs->t->name);
	dsck_error_offset(err, (int64_t)(shard->data_start + cs->t->begin + at * 4));
	dsck_error_expect(err, "a finite scale > 0");
	dsck_error_found(err, "%g at block [%llu, %llu]", (double)s,
			 (unsigned long long)(at / scols), (unsigned long long)(at % scols));
	return dsck_error_set(err, DSCK_E_BAD_VALUE,
			      "cannot dequantize with this scale; the file is damaged (re-download it)");
}

/* PL-R3: read and check the scale blocks covering the tile into b->scl,
 * [block rows of the tile] x [block cols of the tile]. */
static enum dsck_err read_scales(struct pe_engine *e, const struct tile *tl,
				 struct pe_buf *b, uint64_t *nk_out,
				 uint64_t *in_len, struct dsck_error *err)
{
	const struct dsck_plan *p = e->p;
	const struct dsck_ckpt_tensor *cs = &e->ck->tensors[tl->pt->src_scale];
	uint64_t srows, scols;
	dsck_shape_2d(cs->t->ndim, cs->t->shape, &srows, &scols);
	uint64_t b0 = tl->r0 / p->block_rows, b1 = (tl->r1 - 1) / p->block_rows;
	uint64_t k0 = tl->c0 / p->block_cols, k1 = (tl->c1 - 1) / p->block_cols;
	uint64_t nk = k1 - k0 + 1;
	enum dsck_err rc;

	if (ensure(&b->scl, &b->scl_cap, (b1 - b0 + 1) * nk * sizeof(float)))
		return dsck_error_set(err, DSCK_E_NOMEM, "tile scale buffer");
	for (uint64_t bi = b0; bi <= b1; bi++) {
		uint64_t off = (bi * scols + k0) * 4;
		float *dst = b->scl + (bi - b0) * nk;
		rc = dsck_ckpt_read(e->ck, cs, off, dst, (size_t)(nk * 4), err);
		if (rc)
			return rc;
		for (uint64_t k = 0; k < nk; k++)
			if (!(isfinite(dst[k]) && dst[k] > 0))
				return bad_scale(e, cs, bi * scols + k0 + k, dst[k], err);
	}
	*nk_out = nk;
	*in_len += (b1 - b0 + 1) * nk * 4;
	return DSCK_OK;
}

enum dsck_err pe_scale_check(const struct pe_engine *e, uint32_t scale,
			     struct pe_buf *b, struct dsck_error *err)
{
	const struct dsck_ckpt_tensor *cs = &e->ck->tensors[scale];
	uint64_t n = (cs->t->end - cs->t->begin) / 4, chunk = 1u << 18;
	enum dsck_err rc;

	if (ensure(&b->scl, &b->scl_cap, chunk * sizeof(float)))
		return dsck_error_set(err, DSCK_E_NOMEM, "scale buffer");
	for (uint64_t i0 = 0; i0 < n; i0 += chunk) {
		uint64_t k = min_u64(chunk, n - i0);
		rc = dsck_ckpt_read(e->ck, cs, i0 * 4, b->scl, (size_t)(k * 4), err);
		if (rc)
			return rc;
		for (uint64_t i = 0; i < k; i++)
			if (!(isfinite(b->scl[i]) && b->scl[i] > 0))
				return bad_scale(e, cs, i0 + i, b->scl[i], err);
	}
	return DSCK_OK;
}

static void to_f32(enum dsck_dtype d, const uint8_t *src, size_t n, float *dst)
{
	if (d == DSCK_BF16)
		dsck_k_bf16_to_f32((const uint16_t *)(const void *)src, n, dst);
	else if (d == DSCK_F16)
		dsck_k_f16_to_f32((const uint16_t *)(const void *)src, n, dst);
	else
		memcpy(dst, src, n * 4);
}

static void from_f32(enum dsck_dtype d, const float *src, size_t n, uint8_t *dst)
{
	if (d == DSCK_BF16)
		dsck_k_f32_to_bf16(src, n, (uint16_t *)(void *)dst);
	else if (d == DSCK_F16)
		dsck_k_f32_to_f16(src, n, (uint16_t *)(void *)dst);
	else
		memcpy(dst, src, n * 4);
}

static void dequant_seg(enum dsck_dtype d, const uint8_t *src, size_t n,
			float s, uint8_t *dst)
{
	if (d == DSCK_BF16)
		dsck_k_e4m3_to_bf16(src, n, s, (uint16_t *)(void *)dst);
	else if (d == DSCK_F16)
		dsck_k_e4m3_to_f16(src, n, s, (uint16_t *)(void *)dst);
	else
		dsck_k_e4m3_to_f32(src, n, s, (float *)(void *)dst);
}

/*
 * PL-R4: the scale of a block whose largest magnitude is amax.
 * float: amax / 448, as DeepSeek's act_quant.
 * ue8m0: the smallest power of two s with amax / s <= 464, the largest
 * value that still rounds (to nearest even) to 448: no element is clipped
 * beyond its rounding, and quantize(dequantize(q)) == q for every block so
 * made (the block maximum then has a code of 240..448, and 2 x 240 > 464).
 * act_quant's 2^ceil(log2(amax / 448)) differs only when amax / 2^k is in
 * (224, 232] and is not idempotent there: such a block's maximum rounds
 * to 224 and a second pass halves its scale.
 */
static float quant_scale(float amax, int ue8m0)
{
	if (amax < PE_AMAX_FLOOR)
		amax = PE_AMAX_FLOOR;
	if (!ue8m0)
		return amax / PE_E4M3_MAX;
	float s = amax / 464.0f;
	uint32_t bits;
	memcpy(&bits, &s, 4);
	if (bits & 0x7FFFFFu) /* not a power of two: up to the next one */
		bits = (bits & 0xFF800000u) + 0x800000u;
	memcpy(&s, &bits, 4);
	/* the division rounded: settle the bound exactly (products by powers
	 * of two are exact in this range) */
	if (amax > 464.0f * s)
		s *= 2.0f;
	else if (amax <= 232.0f * s)
		s *= 0.5f;
	return s;
}

static enum dsck_err quantize(struct pe_engine *e, const struct tile *tl, struct pe_buf *b,
			      struct dsck_error *err)
{
	const struct dsck_plan *p = e->p;
	uint64_t br = p->block_rows, bc = p->block_cols;
	uint64_t h = tl->h, w = tl->w;
	uint8_t *q = b->out;
	size_t si = 0;
	uint64_t nscl = (dsck_div_up_u64(tl->r1, br) - tl->r0 / br) * (dsck_div_up_u64(tl->c1, bc) - tl->c0 / bc);

	if (ensure(&b->scl, &b->scl_cap, nscl * sizeof(float)))
		return dsck_error_set(err, DSCK_E_NOMEM, "tile scale buffer");

	for (uint64_t bi = tl->r0 / br; bi < dsck_div_up_u64(tl->r1, br); bi++) {
		uint64_t ra = max_u64(tl->r0, bi * br), rb = min_u64(tl->r1, (bi + 1) * br);
		for (uint64_t ca = tl->c0; ca < tl->c1; ca = (ca / bc + 1) * bc) {
			uint64_t cb = min_u64(tl->c1, (ca / bc + 1) * bc);
			float amax = 0;
			for (uint64_t r = ra; r < rb; r++) {
				float m = dsck_k_amax_f32(b->f32 + (r - tl->r0) * w + (ca - tl->c0),
							  (size_t)(cb - ca));
				if (!(m <= amax)) /* also takes NaN */
					amax = m;
			}
			if (!isfinite(amax)) {
				const struct dsck_ckpt_tensor *ct = &e->ck->tensors[tl->pt->src];
				dsck_error_file(err, e->ck->shards[ct->shard]->file.path);
				dsck_error_tensor(err, ct->t->name);
				dsck_error_expect(err, "finite values");
				dsck_error_found(err, "%s in block [%llu, %llu]",
						 isnan(amax) ? "NaN" : "Inf",
						 (unsigned long long)bi, (unsigned long long)(ca / bc));
				return dsck_error_set(err, DSCK_E_BAD_VALUE,
						      "cannot quantize a non-finite value to FP8");
			}
			float s = quant_scale(amax, p->scale_ue8m0);
			b->scl[si++] = s;
			for (uint64_t r = ra; r < rb; r++) {
				uint64_t o = (r - tl->r0) * w + (ca - tl->c0);
				dsck_k_f32_to_e4m3(b->f32 + o, (size_t)(cb - ca), s, q + o);
			}
		}
	}
	/* the scale rows follow the FP8 bytes in the output buffer, as the
	 * output segments do; h * w need not be a multiple of 4 */
	memcpy(q + h * w, b->scl, si * sizeof(float));
	return DSCK_OK;
}

enum dsck_err pe_item_run(struct pe_engine *e, const struct pe_item *it,
			  struct pe_buf *b, const struct dsck_file *check,
			  int *match, uint64_t *out_len, uint64_t *in_len,
			  struct dsck_error *err)
{
	const struct dsck_plan *p = e->p;
	struct tile tl;
	size_t nseg = 0;
	uint64_t obytes = 0;
	enum dsck_err rc;
	const uint8_t *out;

	tile_of(e, it, &tl);
	const struct dsck_plan_tensor *pt = tl.pt;
	rc = pe_item_out_segs(e, it, b, &nseg, &obytes, err);
	if (!rc)
		rc = read_input(e, it, &tl, b, in_len, err);
	if (rc)
		return rc;
	size_t n = (size_t)(tl.h * tl.w);
	if (pt->xf == DSCK_XF_COPY) {
		out = b->in;
	} else {
		uint64_t need = obytes;
		if (ensure(&b->out, &b->out_cap, need))
			return dsck_error_set(err, DSCK_E_NOMEM, "tile output buffer");
		if ((pt->xf == DSCK_XF_CAST || pt->xf == DSCK_XF_QUANT) &&
		    ensure(&b->f32, &b->f32_cap, (uint64_t)n * 4))
			return dsck_error_set(err, DSCK_E_NOMEM, "tile f32 buffer");
		enum dsck_dtype sd = e->ck->tensors[pt->src].t->dtype;
		if (pt->xf == DSCK_XF_CAST) {
			to_f32(sd, b->in, n, b->f32);
			from_f32(pt->dtype, b->f32, n, b->out);
		} else if (pt->xf == DSCK_XF_DEQUANT) {
			uint64_t nk = 0;
			rc = read_scales(e, &tl, b, &nk, in_len, err);
			if (rc)
				return rc;
			unsigned osz = esize(pt->dtype);
			uint64_t b0 = tl.r0 / p->block_rows, k0 = tl.c0 / p->block_cols;
			for (uint64_t r = tl.r0; r < tl.r1; r++) {
				const float *srow = b->scl + (r / p->block_rows - b0) * nk;
				uint64_t i = r - tl.r0;
				for (uint64_t ca = tl.c0; ca < tl.c1;
				     ca = (ca / p->block_cols + 1) * p->block_cols) {
					uint64_t cb = min_u64(tl.c1, (ca / p->block_cols + 1) * p->block_cols);
					uint64_t o = i * tl.w + (ca - tl.c0);
					dequant_seg(pt->dtype, b->in + o, (size_t)(cb - ca),
						    srow[ca / p->block_cols - k0], b->out + o * osz);
				}
			}
		} else { /* QUANT */
			to_f32(sd, b->in, n, b->f32);
			rc = quantize(e, &tl, b, err);
			if (rc)
				return rc;
		}
		out = b->out;
	}

	*out_len = obytes;
	if (check) {
		/* PL-R6: compare with what an earlier run wrote */
		uint64_t pos = 0;
		if (ensure(&b->chk, &b->chk_cap, obytes ? obytes : 1))
			return dsck_error_set(err, DSCK_E_NOMEM, "check buffer");
		*match = 1;
		for (size_t i = 0; i < nseg && *match; i++) {
			struct dsck_error ignored;
			if (dsck_file_pread(check, b->oseg[i].off, b->chk + pos,
					    (size_t)b->oseg[i].len, &ignored) ||
			    memcmp(b->chk + pos, out + pos, (size_t)b->oseg[i].len) != 0)
				*match = 0;
			dsck_file_drop_cache(check, b->oseg[i].off, b->oseg[i].len);
			pos += b->oseg[i].len;
		}
		return DSCK_OK;
	}
	struct pe_file *pf = &e->files[it->f];
	uint64_t pos = 0, lo = UINT64_MAX, hi = 0;
	for (size_t i = 0; i < nseg; i++) {
		rc = dsck_writer_pwrite(&pf->w, b->oseg[i].off, out + pos,
					(size_t)b->oseg[i].len, err);
		if (rc)
			return rc;
		pos += b->oseg[i].len;
		lo = min_u64(lo, b->oseg[i].off);
		hi = max_u64(hi, b->oseg[i].off + b->oseg[i].len);
	}
	/* PL-R7: start write-back now so dirty pages do not pile up */
	if (nseg)
		sync_file_range(pf->w.fd, (off64_t)lo, (off64_t)(hi - lo), SYNC_FILE_RANGE_WRITE);
	return DSCK_OK;
}
