/*
 * plan_state.c - what makes a plan's run resumable and safe to repeat
 * (formats.md PL-R6, PL-R8): the plan fingerprint, the state file
 * OUT/.dsck-<kind>.state, the check of outputs an interrupted run left,
 * refusal to overwrite foreign files, removal of stale temporaries, and the
 * side files (config.json, index.json, copied tokenizer files).
 *
 * State file (JSON, rewritten atomically after every committed output):
 *   {"version": 2, "plan": "<sha256 hex>",
 *    "files": [{"name": "...", "size": N}, ...]}
 * A recorded output is kept only after its header bytes compare equal and
 * every tile, computed again from the input, equals the bytes on disk.
 */
#include "plan_int.h"

#include "hash.h"
#include "json.h"
#include "jsonw.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define STATE_MAX_BYTES (64u << 20)

static void state_name(const struct pe_engine *e, char *buf, size_t n)
{
	snprintf(buf, n, ".dsck-%s.state", e->p->kind);
}

static enum dsck_err hash_u64(struct dsck_sha256 *h, uint64_t v,
			      struct dsck_error *err)
{
	unsigned char b[8];
	for (int i = 0; i < 8; i++)
		b[i] = (unsigned char)(v >> (8 * i));
	return dsck_sha256_update(h, b, 8, err);
}

static enum dsck_err hash_str(struct dsck_sha256 *h, const char *s,
			      struct dsck_error *err)
{
	return dsck_sha256_update(h, s, strlen(s) + 1, err);
}

/* One source tensor's identity: name, dtype, shape, shard and place. */
static enum dsck_err hash_src(struct pe_engine *e, struct dsck_sha256 *h,
			      int64_t i, struct dsck_error *err)
{
	if (i < 0)
		return hash_u64(h, UINT64_MAX, err);
	const struct dsck_ckpt_tensor *ct = &e->ck->tensors[i];
	const struct dsck_st *st = e->ck->shards[ct->shard];
	enum dsck_err rc = hash_str(h, ct->t->name, err);
	if (!rc)
		rc = hash_str(h, e->ck->shard_names[ct->shard], err);
	if (!rc)
		rc = hash_u64(h, st->file.size, err);
	if (!rc)
		rc = hash_u64(h, ct->t->dtype, err);
	if (!rc)
		rc = hash_u64(h, st->data_start + ct->t->begin, err);
	if (!rc)
		rc = hash_u64(h, ct->t->end - ct->t->begin, err);
	return rc;
}

enum dsck_err pe_fingerprint(struct pe_engine *e, struct dsck_error *err)
{
	const struct dsck_plan *p = e->p;
	struct dsck_sha256 h;
	enum dsck_err rc = dsck_sha256_init(&h, err);
	if (rc)
		return rc;
	rc = hash_str(&h, "dsck-plan-1", err);
	if (!rc)
		rc = hash_str(&h, p->kind, err);
	if (!rc)
		rc = hash_u64(&h, p->block_rows, err);
	if (!rc)
		rc = hash_u64(&h, p->block_cols, err);
	if (!rc)
		rc = hash_u64(&h, (uint64_t)p->scale_ue8m0, err);
	for (size_t f = 0; f < p->n_files && !rc; f++) {
		rc = hash_str(&h, p->files[f].name, err);
		if (!rc)
			rc = dsck_sha256_update(&h, p->files[f].header, p->files[f].header_len, err);
	}
	for (size_t t = 0; t < p->n && !rc; t++) {
		const struct dsck_plan_tensor *pt = &p->t[t];
		rc = hash_u64(&h, pt->xf, err);
		if (!rc && pt->xf != DSCK_XF_QSCALE)
			rc = hash_src(e, &h, pt->src, err);
		if (!rc)
			rc = hash_src(e, &h, pt->src_scale, err);
		for (uint32_t k = 0; k < pt->npieces && !rc; k++) {
			const struct dsck_plan_piece *pc = &p->pieces[pt->piece0 + k];
			uint64_t v[6] = { pc->src_row, pc->src_col, pc->dst_row,
					  pc->dst_col, pc->rows, pc->cols };
			rc = hash_src(e, &h, pc->src, err);
			for (int j = 0; j < 6 && !rc; j++)
				rc = hash_u64(&h, v[j], err);
		}
	}
	for (size_t i = 0; i < p->n_side && !rc; i++) {
		rc = hash_str(&h, p->side[i].name, err);
		if (!rc && p->side[i].data)
			rc = dsck_sha256_update(&h, p->side[i].data, p->side[i].len, err);
		if (!rc && p->side[i].src_name)
			rc = hash_str(&h, p->side[i].src_name, err);
	}
	if (rc) {
		dsck_sha256_release(&h);
		return rc;
	}
	return dsck_sha256_final(&h, e->plan_hex, err);
}

static int exists_at(int dirfd, const char *name)
{
	struct stat sb;
	return fstatat(dirfd, name, &sb, AT_SYMLINK_NOFOLLOW) == 0;
}

/* Write the state: the fingerprint and every output that is (or, before
 * its check, claims to be) complete. Caller holds state_mu or is alone. */
static enum dsck_err state_write(struct pe_engine *e, struct dsck_error *err)
{
	struct dsck_jsonw w = DSCK_JSONW_INIT;
	char name[64], *path = NULL, *text = NULL;
	size_t len = 0;
	int first = 1;
	enum dsck_err rc;

	dsck_jsonw_puts(&w, "{\"version\": 2, \"plan\": ");
	dsck_jsonw_str(&w, e->plan_hex, DSCK_JSONW_UTF8);
	dsck_jsonw_puts(&w, ", \"files\": [");
	for (size_t f = 0; f < e->p->n_files; f++) {
		struct pe_file *pf = &e->files[f];
		if (!pf->committed && !pf->kept && !pf->has_rec)
			continue;
		dsck_jsonw_puts(&w, first ? "\n  {\"name\": " : ",\n  {\"name\": ");
		first = 0;
		dsck_jsonw_str(&w, e->p->files[f].name, DSCK_JSONW_UTF8);
		dsck_jsonw_puts(&w, ", \"size\": ");
		dsck_jsonw_u64(&w, e->p->files[f].size);
		dsck_jsonw_puts(&w, "}");
	}
	dsck_jsonw_puts(&w, "\n]}\n");
	rc = dsck_jsonw_check(&w, "state file", err);
	if (rc)
		goto out;
	text = dsck_jsonw_take(&w, &len);
	state_name(e, name, sizeof name);
	path = malloc(strlen(e->out_dir) + sizeof name + 2);
	if (!text || !path) {
		rc = dsck_error_set(err, DSCK_E_NOMEM, "state file");
		goto out;
	}
	sprintf(path, "%s/%s", e->out_dir, name);
	rc = dsck_write_file_atomic(path, text, len, err);
out:
	dsck_jsonw_release(&w);
	free(text);
	free(path);
	return rc;
}

/* Read the state file: *present, and *match when its plan is this plan;
 * then mark has_rec on the files it records that exist. */
static enum dsck_err state_read(struct pe_engine *e, int *present, int *match,
				struct dsck_error *err)
{
	char name[64], *text = NULL;
	size_t len = 0;
	cJSON *root = NULL;
	struct dsck_error ignored;

	*present = *match = 0;
	state_name(e, name, sizeof name);
	if (!exists_at(e->dirfd, name))
		return DSCK_OK;
	*present = 1;
	dsck_error_clear(&ignored);
	/* An unreadable state is a foreign run: no match, nothing recorded. */
	if (dsck_file_read_all_at(e->dirfd, name, name, STATE_MAX_BYTES, &text, &len, &ignored) ||
	    dsck_json_parse(text, len, 0, &root, &ignored))
		goto out;
	const cJSON *plan = cJSON_GetObjectItemCaseSensitive(root, "plan");
	const cJSON *files = cJSON_GetObjectItemCaseSensitive(root, "files");
	if (!cJSON_IsString(plan) || strcmp(plan->valuestring, e->plan_hex) != 0 ||
	    !cJSON_IsArray(files))
		goto out;
	*match = 1;
	const cJSON *it;
	cJSON_ArrayForEach(it, files) {
		const cJSON *n = cJSON_GetObjectItemCaseSensitive(it, "name");
		const cJSON *s = cJSON_GetObjectItemCaseSensitive(it, "size");
		uint64_t size;
		if (!cJSON_IsString(n) || dsck_json_u64(s, &size))
			continue;
		for (size_t f = 0; f < e->p->n_files; f++) {
			if (strcmp(e->p->files[f].name, n->valuestring) != 0)
				continue;
			if (exists_at(e->dirfd, n->valuestring)) {
				e->files[f].has_rec = 1;
				e->files[f].rec_size = size;
			}
		}
	}
out:
	(void)err;
	cJSON_Delete(root);
	free(text);
	return DSCK_OK;
}

struct stale_ctx {
	struct pe_engine *e;
	int dirfd;
};

/* Is name ".<planned>.dsck-tmp-XXXXXX" for one of our outputs? */
static int is_our_temp(const struct pe_engine *e, const char *name)
{
	static const char tag[] = ".dsck-tmp-";
	char sname[64];
	if (name[0] != '.')
		return 0;
	const char *t = strstr(name, tag);
	if (!t)
		return 0;
	size_t stem = (size_t)(t - name - 1);
	for (size_t f = 0; f < e->p->n_files; f++)
		if (strlen(e->p->files[f].name) == stem && !memcmp(e->p->files[f].name, name + 1, stem))
			return 1;
	for (size_t i = 0; i < e->p->n_side; i++)
		if (strlen(e->p->side[i].name) == stem && !memcmp(e->p->side[i].name, name + 1, stem))
			return 1;
	state_name(e, sname, sizeof sname);
	return strlen(sname) == stem && !memcmp(sname, name + 1, stem);
}

static enum dsck_err stale_one(const char *name, void *user, struct dsck_error *err)
{
	struct stale_ctx *c = user;
	(void)err;
	if (is_our_temp(c->e, name))
		unlinkat(c->dirfd, name, 0); /* a killed run's temporary */
	return DSCK_OK;
}

enum dsck_err pe_state_begin(struct pe_engine *e, struct dsck_error *err)
{
	int present, match;
	enum dsck_err rc = state_read(e, &present, &match, err);
	if (rc)
		return rc;
	if (present && !match && !e->opts->force) {
		dsck_error_file(err, e->out_dir);
		return dsck_error_set(err, DSCK_E_USAGE,
				      "holds an unfinished run with other inputs or options; rerun "
				      "that command to resume it, or add --force to start over");
	}
	if (!present && !e->opts->force) {
		/* PL-R8: never overwrite what an earlier run did not leave */
		const char *clash = NULL;
		for (size_t f = 0; f < e->p->n_files && !clash; f++)
			if (exists_at(e->dirfd, e->p->files[f].name))
				clash = e->p->files[f].name;
		for (size_t i = 0; i < e->p->n_side && !clash; i++)
			if (exists_at(e->dirfd, e->p->side[i].name))
				clash = e->p->side[i].name;
		if (clash) {
			size_t n = strlen(e->out_dir) + strlen(clash) + 2;
			char *path = malloc(n);
			if (path)
				snprintf(path, n, "%s/%s", e->out_dir, clash);
			dsck_error_file(err, path ? path : clash);
			free(path);
			return dsck_error_set(err, DSCK_E_USAGE,
					      "output file already exists; add --force to overwrite it");
		}
	}
	struct stale_ctx c = { e, e->dirfd };
	rc = dsck_dir_each(e->dirfd, e->out_dir, stale_one, &c, err);
	if (rc)
		return rc;
	return state_write(e, err);
}

enum dsck_err pe_state_record(struct pe_engine *e, struct dsck_error *err)
{
	pthread_mutex_lock(&e->state_mu);
	enum dsck_err rc = state_write(e, err);
	pthread_mutex_unlock(&e->state_mu);
	return rc;
}

enum dsck_err pe_state_check(struct pe_engine *e, size_t f, struct pe_buf *b,
			     int *ok, struct dsck_error *err)
{
	const struct dsck_plan_file *pf = &e->p->files[f];
	struct pe_file *st = &e->files[f];
	struct dsck_file out = DSCK_FILE_INIT;
	struct pe_item it;
	enum dsck_err rc = DSCK_OK;
	struct dsck_error ignored;

	*ok = 0;
	dsck_error_clear(&ignored);
	/* a file that cannot be opened or read is redone, not an error */
	if (st->rec_size != pf->size ||
	    dsck_file_openat(&out, e->dirfd, pf->name, pf->name, &ignored) ||
	    out.size != pf->size)
		goto out;
	if (pe_ensure_bytes(b, pf->header_len)) {
		rc = dsck_error_set(err, DSCK_E_NOMEM, "check buffer");
		goto out;
	}
	if (dsck_file_pread(&out, 0, b->out, pf->header_len, &ignored) ||
	    memcmp(b->out, pf->header, pf->header_len) != 0)
		goto out;
	int match = 1;
	for (int more = pe_item_first(e, f, &it); more && match; more = pe_item_next(e, &it)) {
		uint64_t out_len = 0, in_len = 0;
		/* input errors are real errors: the rerun would meet them too */
		rc = pe_item_run(e, &it, b, &out, &match, &out_len, &in_len, err);
		if (rc)
			goto out;
	}
	*ok = match;
out:
	dsck_file_close(&out);
	return rc;
}

enum dsck_err pe_state_finish(struct pe_engine *e, struct dsck_error *err)
{
	char name[64];
	state_name(e, name, sizeof name);
	if (unlinkat(e->dirfd, name, 0) != 0 && errno != ENOENT) {
		dsck_error_file(err, name);
		return dsck_error_set(err, dsck_err_from_errno(errno), "cannot remove the state file");
	}
	fsync(e->dirfd);
	return DSCK_OK;
}

enum dsck_err pe_side_write(struct pe_engine *e, size_t i, struct dsck_error *err)
{
	const struct dsck_plan_side *s = &e->p->side[i];
	struct dsck_file in = DSCK_FILE_INIT;
	struct dsck_writer w = DSCK_WRITER_INIT;
	char *path = malloc(strlen(e->out_dir) + strlen(s->name) + 2);
	char *buf = NULL;
	enum dsck_err rc;

	if (!path)
		return dsck_error_set(err, DSCK_E_NOMEM, "side file path");
	sprintf(path, "%s/%s", e->out_dir, s->name);
	if (s->data) {
		rc = dsck_write_file_atomic(path, s->data, s->len, err);
		goto out;
	}
	/* copied in 1 MiB pieces: a tokenizer may be large, memory stays bounded */
	buf = malloc(1u << 20);
	if (!buf) {
		rc = dsck_error_set(err, DSCK_E_NOMEM, "copy buffer");
		goto out;
	}
	rc = dsck_file_openat(&in, e->ck->dirfd, s->src_name, s->src_name, err);
	if (!rc)
		rc = dsck_writer_open(&w, path, err);
	for (uint64_t off = 0; !rc && off < in.size; off += 1u << 20) {
		size_t n = in.size - off < (1u << 20) ? (size_t)(in.size - off) : (1u << 20);
		rc = dsck_file_pread(&in, off, buf, n, err);
		if (!rc)
			rc = dsck_writer_write(&w, buf, n, err);
	}
	if (!rc)
		rc = dsck_writer_commit(&w, err);
	else
		dsck_writer_abort(&w);
out:
	dsck_file_close(&in);
	free(buf);
	free(path);
	return rc;
}
