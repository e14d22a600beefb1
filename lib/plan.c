/* plan.c - building a plan and laying out its files (plan.h, formats.md §10). */
#include "plan.h"

#include "arith.h"
#include "index.h"
#include "progress.h"

#include <cjson/cJSON.h>

#include <fcntl.h>
#include <sys/stat.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void dsck_plan_init(struct dsck_plan *p, const char *kind)
{
	memset(p, 0, sizeof *p);
	p->block_rows = 128;
	p->block_cols = 128;
	/* PL-R1: every output file carries the metadata transformers writes */
	dsck_plan_add_meta(p, "format", "pt", NULL);
	snprintf(p->kind, sizeof p->kind, "%s", kind ? kind : "plan");
}

void dsck_plan_release(struct dsck_plan *p)
{
	for (size_t i = 0; i < p->n; i++)
		free(p->t[i].name);
	for (size_t i = 0; i < p->n_files; i++) {
		free(p->files[i].name);
		free(p->files[i].header);
		free(p->files[i].order);
		free(p->files[i].begin);
	}
	for (size_t i = 0; i < p->n_side; i++) {
		free(p->side[i].name);
		free(p->side[i].data);
		free(p->side[i].src_name);
	}
	free(p->t);
	free(p->files);
	free(p->pieces);
	free(p->side);
	char kind[sizeof p->kind];
	memcpy(kind, p->kind, sizeof kind);
	dsck_plan_init(p, kind);
}

/* Grow *arr (of elem-byte elements, *cap of them) to hold one more. */
static int grow(void **arr, size_t *cap, size_t n, size_t elem)
{
	if (n < *cap)
		return 0;
	size_t nc = *cap ? *cap * 2 : 64;
	uint64_t bytes;
	if (dsck_mul_u64(nc, elem, &bytes) || bytes > SIZE_MAX)
		return -1;
	void *q = realloc(*arr, bytes);
	if (!q)
		return -1;
	*arr = q;
	*cap = nc;
	return 0;
}

enum dsck_err dsck_plan_add_meta(struct dsck_plan *p, const char *key,
				 const char *value, struct dsck_error *err)
{
	size_t k = 2 * p->n_meta;
	if (p->n_meta == DSCK_PLAN_MAX_META || strlen(key) >= sizeof p->meta_store[0] ||
	    strlen(value) >= sizeof p->meta_store[0])
		return dsck_error_set(err, DSCK_E_LIMIT, "plan metadata");
	snprintf(p->meta_store[k], sizeof p->meta_store[k], "%s", key);
	snprintf(p->meta_store[k + 1], sizeof p->meta_store[k + 1], "%s", value);
	p->meta_kv[k] = p->meta_store[k];
	p->meta_kv[k + 1] = p->meta_store[k + 1];
	p->n_meta++;
	return DSCK_OK;
}

enum dsck_err dsck_plan_add_piece(struct dsck_plan *p,
				  const struct dsck_plan_piece *pc, size_t *out,
				  struct dsck_error *err)
{
	if (grow((void **)&p->pieces, &p->cap_pieces, p->n_pieces, sizeof *p->pieces))
		return dsck_error_set(err, DSCK_E_NOMEM, "plan pieces");
	p->pieces[p->n_pieces] = *pc;
	if (out)
		*out = p->n_pieces;
	p->n_pieces++;
	return DSCK_OK;
}

enum dsck_err dsck_plan_add_file(struct dsck_plan *p, const char *name,
				 struct dsck_error *err)
{
	if (grow((void **)&p->files, &p->cap_files, p->n_files, sizeof *p->files))
		return dsck_error_set(err, DSCK_E_NOMEM, "plan files");
	struct dsck_plan_file *f = &p->files[p->n_files];
	memset(f, 0, sizeof *f);
	f->name = strdup(name);
	if (!f->name)
		return dsck_error_set(err, DSCK_E_NOMEM, "plan file name");
	f->t0 = p->n;
	p->n_files++;
	return DSCK_OK;
}

enum dsck_err dsck_plan_add_tensor(struct dsck_plan *p,
				   const struct dsck_plan_tensor *spec,
				   size_t *out, struct dsck_error *err)
{
	if (!p->n_files)
		return dsck_error_set(err, DSCK_E_USAGE, "plan tensor before any file");
	if (grow((void **)&p->t, &p->cap, p->n, sizeof *p->t))
		return dsck_error_set(err, DSCK_E_NOMEM, "plan tensors");
	struct dsck_plan_tensor *t = &p->t[p->n];
	*t = *spec;
	t->name = strdup(spec->name);
	if (!t->name)
		return dsck_error_set(err, DSCK_E_NOMEM, "plan tensor name");
	if (out)
		*out = p->n;
	p->n++;
	p->files[p->n_files - 1].n++;
	return DSCK_OK;
}

enum dsck_err dsck_plan_add_side(struct dsck_plan *p, const char *name,
				 const void *data, size_t len,
				 const char *src_name, uint64_t size,
				 struct dsck_error *err)
{
	if (grow((void **)&p->side, &p->cap_side, p->n_side, sizeof *p->side))
		return dsck_error_set(err, DSCK_E_NOMEM, "plan side files");
	struct dsck_plan_side *s = &p->side[p->n_side];
	memset(s, 0, sizeof *s);
	s->name = strdup(name);
	if (src_name)
		s->src_name = strdup(src_name);
	if (data) {
		s->data = malloc(len ? len : 1);
		if (s->data)
			memcpy(s->data, data, len);
	}
	s->len = len;
	s->size = data ? len : size;
	p->n_side++; /* counted before the checks so release frees what exists */
	if (!s->name || (src_name && !s->src_name) || (data && !s->data))
		return dsck_error_set(err, DSCK_E_NOMEM, "plan side file");
	return DSCK_OK;
}

uint64_t dsck_plan_tensor_bytes(const struct dsck_plan *p, size_t i)
{
	const struct dsck_plan_tensor *t = &p->t[i];
	uint64_t n = 1;
	for (uint32_t d = 0; d < t->ndim; d++)
		if (dsck_mul_u64(n, t->shape[d], &n))
			return UINT64_MAX;
	uint64_t bytes;
	if (dsck_dtype_nbytes(t->dtype, n, &bytes))
		return UINT64_MAX;
	return bytes;
}

enum dsck_err dsck_plan_layout(struct dsck_plan *p, struct dsck_error *err)
{
	enum dsck_err rc = DSCK_OK;
	struct dsck_st_spec *specs = NULL;
	uint64_t *end = NULL;

	for (size_t fi = 0; fi < p->n_files && !rc; fi++) {
		struct dsck_plan_file *f = &p->files[fi];
		size_t n = f->n ? f->n : 1;
		free(f->header);
		free(f->order);
		free(f->begin);
		f->header = NULL;
		f->order = calloc(n, sizeof *f->order);
		f->begin = calloc(n, sizeof *f->begin);
		free(specs);
		free(end);
		specs = calloc(n, sizeof *specs);
		end = calloc(n, sizeof *end);
		if (!f->order || !f->begin || !specs || !end) {
			rc = dsck_error_set(err, DSCK_E_NOMEM, "plan layout");
			break;
		}
		for (size_t i = 0; i < f->n; i++) {
			const struct dsck_plan_tensor *t = &p->t[f->t0 + i];
			specs[i].name = t->name;
			specs[i].dtype = t->dtype;
			specs[i].ndim = t->ndim;
			memcpy(specs[i].shape, t->shape, sizeof t->shape);
		}
		rc = dsck_st_header_build(specs, f->n, p->meta_kv, p->n_meta,
					  &f->header, &f->header_len, f->order,
					  f->begin, end, err);
		if (rc) {
			dsck_error_file(err, f->name);
			break;
		}
		f->size = f->header_len;
		if (f->n && dsck_add_u64(f->size, end[f->order[f->n - 1]], &f->size))
			rc = dsck_error_set(err, DSCK_E_OVERFLOW, "output file size");
	}
	free(specs);
	free(end);
	return rc;
}

uint64_t dsck_plan_out_bytes(const struct dsck_plan *p)
{
	uint64_t s = 0;
	for (size_t i = 0; i < p->n_files; i++)
		s += p->files[i].size;
	for (size_t i = 0; i < p->n_side; i++)
		s += p->side[i].size;
	return s;
}

uint64_t dsck_plan_in_bytes(const struct dsck_plan *p, const struct dsck_ckpt *ck)
{
	uint64_t s = 0;
	for (size_t i = 0; i < p->n; i++) {
		const struct dsck_plan_tensor *t = &p->t[i];
		if (t->xf == DSCK_XF_QSCALE)
			continue;
		const struct dsck_st_tensor *st = ck->tensors[t->src].t;
		if (t->npieces) {
			for (uint32_t k = 0; k < t->npieces; k++) {
				const struct dsck_plan_piece *pc = &p->pieces[t->piece0 + k];
				const struct dsck_st_tensor *ps = ck->tensors[pc->src].t;
				s += pc->rows * pc->cols * (dsck_dtype_bits(ps->dtype) / 8);
			}
		} else {
			s += st->end - st->begin;
		}
		if (t->src_scale >= 0) {
			const struct dsck_st_tensor *sc = ck->tensors[t->src_scale].t;
			s += sc->end - sc->begin;
		}
	}
	return s;
}

/* One entry of the source directory: a regular, non-hidden file that is
 * not a shard, the index or the skipped name is copied. */
struct dir_ctx {
	const struct dsck_ckpt *ck;
	struct dsck_plan *p;
	const char *skip;
};

static enum dsck_err dir_one(const char *name, void *user, struct dsck_error *err)
{
	struct dir_ctx *c = user;
	struct stat sb;
	size_t n = strlen(name);
	if (name[0] == '.' || strcmp(name, "model.safetensors.index.json") == 0 ||
	    (n >= 12 && strcmp(name + n - 12, ".safetensors") == 0) ||
	    (c->skip && strcmp(name, c->skip) == 0))
		return DSCK_OK;
	if (fstatat(c->ck->dirfd, name, &sb, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISREG(sb.st_mode))
		return DSCK_OK;
	return dsck_plan_add_side(c->p, name, NULL, 0, name, (uint64_t)sb.st_size, err);
}

static int side_cmp(const void *a, const void *b)
{
	return strcmp(((const struct dsck_plan_side *)a)->name,
		      ((const struct dsck_plan_side *)b)->name);
}

enum dsck_err dsck_plan_add_dir_files(struct dsck_plan *p, const struct dsck_ckpt *ck,
				      const char *skip, struct dsck_error *err)
{
	struct dir_ctx c = { ck, p, skip };
	size_t first = p->n_side;
	enum dsck_err rc = dsck_dir_each(ck->dirfd, ck->dir, dir_one, &c, err);
	if (!rc) /* readdir order is the file system's: sort for stable plans */
		qsort(p->side + first, p->n_side - first, sizeof *p->side, side_cmp);
	return rc;
}

enum dsck_err dsck_plan_add_index(struct dsck_plan *p, struct dsck_error *err)
{
	const char **names = calloc(p->n ? p->n : 1, sizeof *names);
	uint32_t *shard_of = calloc(p->n ? p->n : 1, sizeof *shard_of);
	const char **files = calloc(p->n_files ? p->n_files : 1, sizeof *files);
	char *text = NULL;
	size_t len = 0;
	uint64_t total = 0;
	enum dsck_err rc = DSCK_OK;

	if (!names || !shard_of || !files) {
		rc = dsck_error_set(err, DSCK_E_NOMEM, "index");
		goto out;
	}
	for (size_t f = 0; f < p->n_files; f++) {
		files[f] = p->files[f].name;
		for (size_t i = 0; i < p->files[f].n; i++) {
			size_t t = p->files[f].t0 + i;
			names[t] = p->t[t].name;
			shard_of[t] = (uint32_t)f;
			total += dsck_plan_tensor_bytes(p, t);
		}
	}
	rc = dsck_index_build(names, shard_of, p->n, files, total, &text, &len, err);
	if (!rc)
		rc = dsck_plan_add_side(p, "model.safetensors.index.json", text, len, NULL, 0, err);
out:
	free(text);
	free(names);
	free(shard_of);
	free(files);
	return rc;
}


enum dsck_err dsck_plan_check_space(const struct dsck_plan *p, const char *dst,
				    uint64_t free_bytes, struct dsck_error *err)
{
	char a[32], b[32];
	uint64_t need = dsck_plan_out_bytes(p);
	if (free_bytes >= need)
		return DSCK_OK;
	dsck_error_file(err, dst);
	dsck_error_expect(err, "%s free", dsck_format_bytes(a, sizeof a, need));
	dsck_error_found(err, "%s", dsck_format_bytes(b, sizeof b, free_bytes));
	return dsck_error_set(err, DSCK_E_NOSPACE,
			      "not enough disk space for the output; free some or choose another DST (--no-space-check skips this check)");
}

void dsck_plan_result_line(const struct dsck_plan_result *res, double seconds, char *buf,
			   size_t n)
{
	char kept[64] = "", redone[64] = "", a[32], b[32], c[32];
	if (res->files_kept)
		snprintf(kept, sizeof kept, ", %zu kept from the interrupted run", res->files_kept);
	if (res->files_redone)
		snprintf(redone, sizeof redone, ", %zu redone after failing their check",
			 res->files_redone);
	snprintf(buf, n, "%zu files written%s%s; read %s, wrote %s in %.1f s (%s/s)",
		 res->files_written, kept, redone, dsck_format_bytes(a, sizeof a, res->bytes_read),
		 dsck_format_bytes(b, sizeof b, res->bytes_written), seconds,
		 dsck_format_bytes(c, sizeof c, seconds > 0 ? (uint64_t)((double)res->bytes_written / seconds) : 0));
}

cJSON *dsck_plan_result_json(const struct dsck_plan_result *res, const char *dst,
			     double seconds)
{
	cJSON *doc = cJSON_CreateObject();
	if (!doc)
		return NULL;
	cJSON_AddStringToObject(doc, "destination", dst);
	cJSON_AddNumberToObject(doc, "files_written", (double)res->files_written);
	cJSON_AddNumberToObject(doc, "files_kept", (double)res->files_kept);
	cJSON_AddNumberToObject(doc, "files_redone", (double)res->files_redone);
	cJSON_AddNumberToObject(doc, "bytes_read", (double)res->bytes_read);
	cJSON_AddNumberToObject(doc, "bytes_written", (double)res->bytes_written);
	cJSON_AddNumberToObject(doc, "seconds", seconds);
	cJSON_AddNumberToObject(doc, "threads", res->threads);
	return doc;
}
