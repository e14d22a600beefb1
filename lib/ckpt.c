/*
 * ckpt.c - open a checkpoint (directory, index.json or one .safetensors
 * file) as one name-sorted table of tensors (ckpt.h).
 *
 * Only headers are read: memory is O(sum of header sizes), never tensor
 * data. Shards are opened inside the directory by name with O_NOFOLLOW
 * (IX-R5) and cross-checked against the index (IX-R6..IX-R8); without an
 * index the directory is globbed (IX-R9). Shard descriptors stay open for
 * the life of the ckpt so dsck_ckpt_read is a pread.
 *
 * Headers are parsed in parallel by ckpt_shards.c, with the sequential
 * outcome (G-R5).
 */
#include "ckpt_int.h"

#include "arith.h"
#include "io.h"
#include "mp.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define CKPT_INDEX_NAME "model.safetensors.index.json"
#define CKPT_SINGLE_NAME "model.safetensors"
#define CKPT_CONFIG_NAME "config.json"

int ckpt_has_suffix(const char *s, const char *suffix)
{
	size_t n = strlen(s), k = strlen(suffix);
	return n >= k && memcmp(s + n - k, suffix, k) == 0;
}

char *ckpt_join(const char *dir, const char *name)
{
	size_t a = strlen(dir), b = strlen(name);
	char *p = malloc(a + b + 2);
	if (!p)
		return NULL;
	memcpy(p, dir, a);
	p[a] = '/';
	memcpy(p + a + 1, name, b + 1);
	return p;
}

/* Does name exist in dirfd (any file type, symlinks not followed)?
 * Returns 1, 0, or -1 with errno set for another failure. */
static int ckpt_exists_at(int dirfd, const char *name)
{
	struct stat st;
	if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0)
		return 1;
	return errno == ENOENT ? 0 : -1;
}

int ckpt_cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Name order, then shard order, so duplicates are adjacent and reported
 * with the lower shard first (deterministic messages). */
static int ckpt_cmp_tensor(const void *a, const void *b)
{
	const struct dsck_ckpt_tensor *x = a, *y = b;
	int c = strcmp(x->t->name, y->t->name);
	if (c)
		return c;
	return (x->shard > y->shard) - (x->shard < y->shard);
}

/* Append a copy of name to ck->shard_names (capacity *cap, grown here). */
static enum dsck_err ckpt_add_shard_name(struct dsck_ckpt *ck, size_t *cap,
					 const char *name, struct dsck_error *err)
{
	if (ck->n_shards == *cap) {
		size_t ncap = *cap ? *cap * 2 : 8;
		char **np = realloc(ck->shard_names, ncap * sizeof *np);
		if (!np)
			return dsck_error_set(err, DSCK_E_NOMEM, "shard list");
		ck->shard_names = np;
		*cap = ncap;
	}
	ck->shard_names[ck->n_shards] = strdup(name);
	if (!ck->shard_names[ck->n_shards])
		return dsck_error_set(err, DSCK_E_NOMEM, "shard name");
	ck->n_shards++;
	return DSCK_OK;
}

/* What ckpt_glob_entry needs while the directory is walked. */
struct ckpt_glob {
	struct dsck_ckpt *ck;
	size_t cap;                 /* entries allocated at ck->shard_names */
};

/* dsck_dir_each callback: collect one *.safetensors name (IX-R9). */
static enum dsck_err ckpt_glob_entry(const char *name, void *user,
				     struct dsck_error *err)
{
	struct ckpt_glob *g = user;

	if (!ckpt_has_suffix(name, CKPT_SUFFIX))
		return DSCK_OK;
	/* The same IX-R4 policy as for index names: a file whose name
	 * would garble a report is refused, not skipped silently. */
	if (dsck_index_check_shard_name(name, strlen(name)) != 0) {
		dsck_error_file(err, g->ck->dir);
		return dsck_error_set(err, DSCK_E_BAD_SHARD_PATH,
				      "a .safetensors file name holds control bytes");
	}
	return ckpt_add_shard_name(g->ck, &g->cap, name, err);
}

/*
 * MP-R4: files model0-mpN .. model{N-1}-mpN and nothing else are the
 * model-parallel layout of DeepSeek's inference code: shards go in rank
 * order, and the same names repeat across ranks (the table keeps them all).
 */
static enum dsck_err ckpt_detect_mp(struct dsck_ckpt *ck, struct dsck_error *err)
{
	uint32_t n = 0, r, m;
	for (size_t i = 0; i < ck->n_shards; i++)
		if (dsck_mp_file_parse(ck->shard_names[i], &r, &m) || (n && m != n))
			return DSCK_OK; /* not (only) rank files: plain shards */
		else
			n = m;
	char **by_rank = calloc(n, sizeof *by_rank);
	if (!by_rank)
		return dsck_error_set(err, DSCK_E_NOMEM, "rank table");
	for (size_t i = 0; i < ck->n_shards; i++) {
		dsck_mp_file_parse(ck->shard_names[i], &r, &m);
		by_rank[r] = ck->shard_names[i];
	}
	for (r = 0; r < n; r++)
		if (!by_rank[r]) {
			free(by_rank);
			dsck_error_file(err, ck->dir);
			dsck_error_expect(err, "model0-mp%u .. model%u-mp%u.safetensors", n, n - 1, n);
			dsck_error_found(err, "no model%u-mp%u.safetensors", r, n);
			return dsck_error_set(err, DSCK_E_MISSING_SHARD,
					      "a rank file of this MP(%u) directory is missing", n);
		}
	memcpy(ck->shard_names, by_rank, n * sizeof *by_rank);
	free(by_rank);
	ck->mp_ranks = n;
	return DSCK_OK;
}

/* IX-R9: model.safetensors alone, else every *.safetensors in name order. */
static enum dsck_err ckpt_glob_shards(struct dsck_ckpt *ck, struct dsck_error *err)
{
	struct ckpt_glob g = { ck, 0 };
	enum dsck_err rc;
	int single = ckpt_exists_at(ck->dirfd, CKPT_SINGLE_NAME);

	if (single < 0) {
		int e = errno;
		dsck_error_file(err, ck->dir);
		return dsck_error_set(err, dsck_err_from_errno(e), "stat %s: %s",
				      CKPT_SINGLE_NAME, strerror(e));
	}
	if (single)
		return ckpt_add_shard_name(ck, &g.cap, CKPT_SINGLE_NAME, err);
	rc = dsck_dir_each(ck->dirfd, ck->dir, ckpt_glob_entry, &g, err);
	if (rc)
		return rc;
	if (ck->n_shards == 0) {
		dsck_error_file(err, ck->dir);
		return dsck_error_set(err, DSCK_E_NOT_FOUND,
				      "no " CKPT_INDEX_NAME ", no " CKPT_SINGLE_NAME
				      " and no *.safetensors file");
	}
	qsort(ck->shard_names, ck->n_shards, sizeof *ck->shard_names, ckpt_cmp_str);
	return ckpt_detect_mp(ck, err);
}

/* Global table sorted by name, duplicates refused (IX-R7 / IX-R9), byte
 * totals with checked sums (G-R2). */
static enum dsck_err ckpt_build_table(struct dsck_ckpt *ck, struct dsck_error *err)
{
	size_t n = 0, k = 0;
	for (size_t s = 0; s < ck->n_shards; s++) {
		const struct dsck_st *st = ck->shards[s];
		if (st->n_tensors > SIZE_MAX / sizeof *ck->tensors - n)
			return dsck_error_set(err, DSCK_E_OVERFLOW, "checkpoint byte totals");
		n += st->n_tensors;
	}
	ck->tensors = calloc(n ? n : 1, sizeof *ck->tensors);
	if (!ck->tensors)
		return dsck_error_set(err, DSCK_E_NOMEM, "tensor table");
	for (size_t s = 0; s < ck->n_shards; s++) {
		const struct dsck_st *st = ck->shards[s];
		for (size_t i = 0; i < st->n_tensors; i++) {
			uint64_t sum;
			ck->tensors[k].t = &st->tensors[i];
			ck->tensors[k].shard = (uint32_t)s;
			k++;
			if (dsck_add_u64(ck->payload_bytes,
					 st->tensors[i].end - st->tensors[i].begin, &sum))
				return dsck_error_set(err, DSCK_E_OVERFLOW, "payload byte total");
			ck->payload_bytes = sum;
		}
	}
	ck->n = n;
	if (ck->mp_ranks)
		return DSCK_OK; /* MP-R4: rank by rank, names repeat; no name map */
	qsort(ck->tensors, n, sizeof *ck->tensors, ckpt_cmp_tensor);
	if (dsck_strmap_reserve(&ck->by_name, n))
		return dsck_error_set(err, DSCK_E_NOMEM, "tensor name map");
	for (size_t i = 0; i < n; i++) {
		const struct dsck_ckpt_tensor *ct = &ck->tensors[i];
		if (i > 0 && strcmp(ck->tensors[i - 1].t->name, ct->t->name) == 0) {
			dsck_error_file(err, ck->dir);
			dsck_error_tensor(err, ct->t->name);
			dsck_error_expect(err, "one shard");
			dsck_error_found(err, "%s and %s",
					 ck->shard_names[ck->tensors[i - 1].shard],
					 ck->shard_names[ct->shard]);
			return dsck_error_set(err, DSCK_E_INDEX_MISMATCH,
					      "tensor is stored in two shards");
		}
		if (dsck_strmap_insert(&ck->by_name, ct->t->name, ct->t->name_len,
				       (uint32_t)i, NULL) != 0)
			return dsck_error_set(err, DSCK_E_NOMEM, "tensor name map");
	}
	ck->names = &ck->by_name;
	return DSCK_OK;
}

/* Sum of header and file sizes over the shards (G-R2). */
static enum dsck_err ckpt_sum_files(struct dsck_ckpt *ck, struct dsck_error *err)
{
	for (size_t s = 0; s < ck->n_shards; s++) {
		const struct dsck_st *st = ck->shards[s];
		uint64_t hdr, file;
		if (dsck_add_u64(ck->header_bytes, st->data_start, &hdr) ||
		    dsck_add_u64(ck->file_bytes, st->file.size, &file))
			return dsck_error_set(err, DSCK_E_OVERFLOW, "checkpoint byte totals");
		ck->header_bytes = hdr;
		ck->file_bytes = file;
	}
	return DSCK_OK;
}

/*
 * The common case with an index: every entry is in the shard it names and
 * the shards hold nothing else (IX-R7). Then the table is the index's
 * entry order, already by name, and the index's name map serves
 * dsck_ckpt_find: no sort, no second map, and each lookup is in one
 * shard's small map. Sets *done when that holds; otherwise the table is
 * left empty for ckpt_build_table and ckpt_check_index, which find and
 * report the failure exactly.
 */
static enum dsck_err ckpt_table_from_index(struct dsck_ckpt *ck, int *done,
					   struct dsck_error *err)
{
	const struct dsck_index *idx = &ck->idx;
	struct dsck_ckpt_tensor *t = NULL;
	size_t held = 0;
	uint64_t payload = 0;

	*done = 0;
	/* Entries are distinct names, each found below in its shard; with
	 * as many shard tensors as entries, none is left over (and none is
	 * in two shards). Shard numbers of the index and of ck coincide:
	 * shard_names were copied from idx->shards in order. */
	for (size_t s = 0; s < ck->n_shards; s++) {
		if (ck->shards[s]->n_tensors > idx->n - held)
			return DSCK_OK;
		held += ck->shards[s]->n_tensors;
	}
	if (held != idx->n)
		return DSCK_OK;
	t = malloc((idx->n ? idx->n : 1) * sizeof *t);
	if (!t)
		return dsck_error_set(err, DSCK_E_NOMEM, "tensor table");
	for (size_t i = 0; i < idx->n; i++) {
		const struct dsck_index_entry *e = &idx->entries[i];
		const struct dsck_st *st = ck->shards[e->shard];
		long k = dsck_st_find(st, e->name, strlen(e->name));
		if (k < 0 || dsck_add_u64(payload, st->tensors[k].end - st->tensors[k].begin,
					  &payload)) {
			free(t);
			return DSCK_OK;
		}
		t[i].t = &st->tensors[k];
		t[i].shard = e->shard;
	}
	ck->tensors = t;
	ck->n = idx->n;
	ck->payload_bytes = payload;
	ck->names = &idx->by_name;
	*done = 1;
	return DSCK_OK;
}

/* IX-R8: total_size, when given, is the sum of the tensors' sizes. */
static enum dsck_err ckpt_check_total(struct dsck_ckpt *ck, const char *index_display,
				      struct dsck_error *err)
{
	const struct dsck_index *idx = &ck->idx;
	if (idx->has_total_size && idx->total_size != ck->payload_bytes) {
		dsck_error_file(err, index_display);
		dsck_error_tensor(err, "metadata.total_size");
		dsck_error_expect(err, "%llu", (unsigned long long)idx->total_size);
		dsck_error_found(err, "%llu bytes of tensors",
				 (unsigned long long)ck->payload_bytes);
		return dsck_error_set(err, DSCK_E_INDEX_MISMATCH,
				      "total_size differs from the sum of tensor sizes");
	}
	return DSCK_OK;
}

/* IX-R7: the index and the shards agree exactly (the general path, which
 * names the first disagreement in name order). */
static enum dsck_err ckpt_check_index(struct dsck_ckpt *ck, const char *index_display,
				      struct dsck_error *err)
{
	const struct dsck_index *idx = &ck->idx;

	/* Index shard numbers and ck shard numbers coincide: shard_names
	 * were copied from idx->shards in order. */
	for (size_t i = 0; i < ck->n; i++) {
		const struct dsck_ckpt_tensor *ct = &ck->tensors[i];
		uint32_t e;
		if (!dsck_strmap_find(&idx->by_name, ct->t->name, ct->t->name_len, &e)) {
			dsck_error_file(err, index_display);
			dsck_error_tensor(err, ct->t->name);
			dsck_error_found(err, "in %s", ck->shard_names[ct->shard]);
			return dsck_error_set(err, DSCK_E_INDEX_MISMATCH,
					      "shard holds a tensor the index does not list");
		}
		if (idx->entries[e].shard != ct->shard) {
			dsck_error_file(err, index_display);
			dsck_error_tensor(err, ct->t->name);
			dsck_error_expect(err, "in %s", idx->shards[idx->entries[e].shard]);
			dsck_error_found(err, "in %s", ck->shard_names[ct->shard]);
			return dsck_error_set(err, DSCK_E_INDEX_MISMATCH,
					      "tensor is not in the shard the index names");
		}
	}
	for (size_t i = 0; i < idx->n; i++) {
		const struct dsck_index_entry *ie = &idx->entries[i];
		if (!dsck_ckpt_find(ck, ie->name, strlen(ie->name))) {
			dsck_error_file(err, index_display);
			dsck_error_tensor(err, ie->name);
			dsck_error_expect(err, "in %s", idx->shards[ie->shard]);
			dsck_error_found(err, "absent");
			return dsck_error_set(err, DSCK_E_INDEX_MISMATCH,
					      "the index lists a tensor its shard does not hold");
		}
	}
	return DSCK_OK;
}

/* Directory flow; index_name is NULL to look for the default index. */
static enum dsck_err ckpt_open_dir(struct dsck_ckpt *ck, const char *index_name,
				   struct dsck_error *err)
{
	enum dsck_err rc = DSCK_OK;
	char *cfg_path = NULL, *index_display = NULL, *text = NULL;
	size_t len = 0;
	struct ckpt_spec spec;
	int r;

	memset(&spec, 0, sizeof spec);

	ck->dirfd = open(ck->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (ck->dirfd < 0) {
		int e = errno;
		dsck_error_file(err, ck->dir);
		rc = dsck_error_set(err, dsck_err_from_errno(e), "open directory: %s",
				    strerror(e));
		goto out;
	}

	/* config.json is a fixed name, not a path taken from a file, so the
	 * config loader may open it by path. Errors propagate. */
	r = ckpt_exists_at(ck->dirfd, CKPT_CONFIG_NAME);
	if (r > 0) {
		cfg_path = ckpt_join(ck->dir, CKPT_CONFIG_NAME);
		if (!cfg_path) {
			rc = dsck_error_set(err, DSCK_E_NOMEM, "config path");
			goto out;
		}
		rc = dsck_config_load(cfg_path, &ck->cfg, err);
		if (rc)
			goto out;
		ck->has_config = 1;
	}

	if (!index_name) {
		r = ckpt_exists_at(ck->dirfd, CKPT_INDEX_NAME);
		if (r < 0) {
			int e = errno;
			dsck_error_file(err, ck->dir);
			rc = dsck_error_set(err, dsck_err_from_errno(e), "stat %s: %s",
					    CKPT_INDEX_NAME, strerror(e));
			goto out;
		}
		if (r > 0)
			index_name = CKPT_INDEX_NAME;
	}

	if (index_name) {
		index_display = ckpt_join(ck->dir, index_name);
		if (!index_display) {
			rc = dsck_error_set(err, DSCK_E_NOMEM, "index path");
			goto out;
		}
		/* Shard names are known once the index is parsed; their
		 * headers are parsed meanwhile on the other CPUs. */
		ckpt_spec_start(&spec, ck);
		/* IX-R1 / L-R4: refused by size before the buffer exists. */
		rc = dsck_file_read_all_at(ck->dirfd, index_name, index_display,
					   DSCK_INDEX_MAX_BYTES, &text, &len, err);
		if (rc == DSCK_OK)
			rc = dsck_index_parse(text, len, index_display, &ck->idx, err);
		if (rc)
			goto out;
		ck->has_index = 1;
		ckpt_spec_finish(&spec, 0);
		size_t cap = 0;
		for (size_t i = 0; i < ck->idx.n_shards; i++) {
			rc = ckpt_add_shard_name(ck, &cap, ck->idx.shards[i], err);
			if (rc)
				goto out;
		}
		rc = ckpt_spec_adopt(&spec, ck, err);
		if (rc)
			goto out;
		ckpt_spec_release(&spec);
	} else {
		rc = ckpt_glob_shards(ck, err);
		if (rc)
			goto out;
	}

	rc = ckpt_open_shards(ck, err);
	if (rc)
		goto out;
	rc = ckpt_sum_files(ck, err);
	if (rc)
		goto out;
	int done = 0;
	if (ck->has_index) {
		rc = ckpt_table_from_index(ck, &done, err);
		if (rc)
			goto out;
	}
	if (!done) {
		rc = ckpt_build_table(ck, err);
		if (rc)
			goto out;
		if (ck->has_index)
			rc = ckpt_check_index(ck, index_display, err);
		if (rc)
			goto out;
	}
	if (ck->has_index)
		rc = ckpt_check_total(ck, index_display, err);
out:
	ckpt_spec_release(&spec);
	free(text);
	free(index_display);
	free(cfg_path);
	return rc;
}

/* One explicitly named .safetensors file: it is the whole checkpoint. */
static enum dsck_err ckpt_open_file(struct dsck_ckpt *ck, const char *base,
				    struct dsck_error *err)
{
	size_t cap = 0;
	enum dsck_err rc;

	ck->dirfd = open(ck->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (ck->dirfd < 0) {
		int e = errno;
		dsck_error_file(err, ck->dir);
		return dsck_error_set(err, dsck_err_from_errno(e), "open directory: %s",
				      strerror(e));
	}
	rc = ckpt_add_shard_name(ck, &cap, base, err);
	if (rc)
		return rc;
	ck->shards = calloc(1, sizeof *ck->shards);
	if (!ck->shards)
		return dsck_error_set(err, DSCK_E_NOMEM, "shard table");
	/* The user named this path, so it is opened as given. */
	rc = dsck_st_open(ck->path, &ck->shards[0], err);
	if (rc)
		return rc;
	rc = ckpt_sum_files(ck, err);
	if (rc)
		return rc;
	return ckpt_build_table(ck, err);
}

enum dsck_err dsck_ckpt_open(const char *path, struct dsck_ckpt **out,
			     struct dsck_error *err)
{
	enum dsck_err rc;
	struct dsck_ckpt *ck = NULL;
	struct stat st;
	const char *slash, *base;

	*out = NULL;
	ck = calloc(1, sizeof *ck);
	if (!ck)
		return dsck_error_set(err, DSCK_E_NOMEM, "checkpoint");
	ck->dirfd = -1;
	ck->by_name = (struct dsck_strmap)DSCK_STRMAP_INIT;
	ck->path = strdup(path);
	if (!ck->path) {
		rc = dsck_error_set(err, DSCK_E_NOMEM, "checkpoint path");
		goto out;
	}
	if (stat(path, &st) != 0) {
		int e = errno;
		dsck_error_file(err, path);
		rc = dsck_error_set(err, dsck_err_from_errno(e), "%s", strerror(e));
		goto out;
	}
	if (S_ISDIR(st.st_mode)) {
		ck->dir = strdup(path);
		if (!ck->dir) {
			rc = dsck_error_set(err, DSCK_E_NOMEM, "checkpoint path");
			goto out;
		}
		rc = ckpt_open_dir(ck, NULL, err);
		goto out;
	}

	slash = strrchr(path, '/');
	base = slash ? slash + 1 : path;
	ck->dir = slash ? strndup(path, slash == path ? 1 : (size_t)(slash - path))
			: strdup(".");
	if (!ck->dir) {
		rc = dsck_error_set(err, DSCK_E_NOMEM, "checkpoint path");
		goto out;
	}
	if (S_ISREG(st.st_mode) && ckpt_has_suffix(base, ".json")) {
		rc = ckpt_open_dir(ck, base, err);
	} else if (S_ISREG(st.st_mode) && ckpt_has_suffix(base, CKPT_SUFFIX)) {
		rc = ckpt_open_file(ck, base, err);
	} else {
		dsck_error_file(err, path);
		rc = dsck_error_set(err, DSCK_E_USAGE,
				    "not a checkpoint directory, an index .json or a .safetensors file");
	}
out:
	if (rc) {
		dsck_ckpt_close(ck);
		return rc;
	}
	*out = ck;
	return DSCK_OK;
}

const struct dsck_ckpt_tensor *dsck_ckpt_find(const struct dsck_ckpt *ck,
					      const char *name, size_t len)
{
	uint32_t i;
	if (!ck->names || !dsck_strmap_find(ck->names, name, len, &i))
		return NULL;
	return &ck->tensors[i];
}

enum dsck_err dsck_ckpt_read(const struct dsck_ckpt *ck,
			     const struct dsck_ckpt_tensor *ct, uint64_t off,
			     void *buf, size_t n, struct dsck_error *err)
{
	const struct dsck_st *st;
	if (!ct || ct->shard >= ck->n_shards)
		return dsck_error_set(err, DSCK_E_USAGE, "tensor not from this checkpoint");
	st = ck->shards[ct->shard];
	/* ct->t points into st->tensors, so the difference is its index. */
	return dsck_st_read(st, (size_t)(ct->t - st->tensors), off, buf, n, err);
}

void dsck_ckpt_close(struct dsck_ckpt *ck)
{
	if (!ck)
		return;
	if (ck->shards)
		for (size_t i = 0; i < ck->n_shards; i++)
			dsck_st_free(ck->shards[i]);
	free(ck->shards);
	if (ck->shard_names)
		for (size_t i = 0; i < ck->n_shards; i++)
			free(ck->shard_names[i]);
	free(ck->shard_names);
	free(ck->tensors);
	dsck_strmap_release(&ck->by_name);
	if (ck->has_index)
		dsck_index_release(&ck->idx);
	if (ck->dirfd >= 0)
		close(ck->dirfd);
	free(ck->dir);
	free(ck->path);
	free(ck);
}
