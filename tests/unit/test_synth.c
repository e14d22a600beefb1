/*
 * test_synth.c - dsck_synth_write (lib/synth.h, formats.md §8).
 *
 * Writes checkpoints into fresh mkdtemp directories and reads them back
 * with the library: every shard parses (ST-R*), the index parses and names
 * every tensor in the shard that holds it, the tensor count equals the
 * inventory of the written config. Then: SY-R2 determinism (same seed: the
 * same bytes in every file; another seed: other data; a tensor's bytes do
 * not depend on which shard or offset it lands at), the BF16 variant, the
 * --layers / --experts overrides and their re-validation, the refusals
 * (non-empty directory, a dense write over the limit), and the 671b preset
 * in sparse mode (163 shards named -of-000163, sizes right, no data blocks).
 */
#include "config.h"
#include "dtype.h"
#include "index.h"
#include "inventory.h"
#include "io.h"
#include "safetensors.h"
#include "synth.h"

#include "../test.h"

#include <dirent.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static char *tmp_dir(void)
{
	const char *base = getenv("TMPDIR");
	char path[512];
	snprintf(path, sizeof path, "%s/dsck-synth-test-XXXXXX",
		 base && base[0] ? base : "/tmp");
	char *d = mkdtemp(path);
	return d ? strdup(d) : NULL;
}

static char *join(const char *dir, const char *name)
{
	size_t n = strlen(dir) + strlen(name) + 2;
	char *p = malloc(n);
	snprintf(p, n, "%s/%s", dir, name);
	return p;
}

/* Remove a flat directory and its files. */
static void rm_dir(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	if (!d)
		return;
	while ((de = readdir(d)) != NULL) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		char *p = join(dir, de->d_name);
		unlink(p);
		free(p);
	}
	closedir(d);
	rmdir(dir);
}

/* 1 when the two files have the same bytes. */
static int same_file(const char *a, const char *b)
{
	FILE *fa = fopen(a, "rb"), *fb = fopen(b, "rb");
	int same = fa && fb;
	char ba[65536], bb[65536];
	while (same) {
		size_t na = fread(ba, 1, sizeof ba, fa);
		size_t nb = fread(bb, 1, sizeof bb, fb);
		if (na != nb || memcmp(ba, bb, na) != 0)
			same = 0;
		if (na == 0)
			break;
	}
	if (fa)
		fclose(fa);
	if (fb)
		fclose(fb);
	return same;
}

/* Names of the regular files in dir, sorted, NULL-terminated. */
static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static char **list_dir(const char *dir, size_t *count)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	size_t n = 0, cap = 16;
	char **v = malloc(cap * sizeof *v);
	while (d && (de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		if (n + 1 >= cap)
			v = realloc(v, (cap *= 2) * sizeof *v);
		v[n++] = strdup(de->d_name);
	}
	if (d)
		closedir(d);
	qsort(v, n, sizeof *v, name_cmp);
	v[n] = NULL;
	*count = n;
	return v;
}

static void free_list(char **v)
{
	for (size_t i = 0; v && v[i]; i++)
		free(v[i]);
	free(v);
}

struct readback {
	int ok;
	size_t n_shards, n_tensors, n_scales, n_fp8;
	uint64_t payload, blocks_bytes, file_bytes;
	int sizes_ok;
	struct dsck_config cfg;
};

/*
 * Parse config, index and every shard of dir; cross-check the index
 * against the shards and the inventory of the config.
 */
static void read_back(const char *dir, struct readback *rb)
{
	struct dsck_error e;
	struct dsck_index idx;
	struct dsck_inventory inv;
	char *text = NULL;
	size_t len = 0;
	char *cfg_path = join(dir, "config.json");
	char *idx_path = join(dir, "model.safetensors.index.json");
	int have_idx = 0, have_inv = 0;

	memset(rb, 0, sizeof *rb);
	rb->sizes_ok = 1;
	dsck_error_clear(&e);
	if (dsck_config_load(cfg_path, &rb->cfg, &e) != DSCK_OK)
		goto out;
	if (dsck_inventory_build(&rb->cfg,
				 rb->cfg.quantized ? DSCK_CKPT_FP8 : DSCK_CKPT_BF16,
				 &inv, &e) != DSCK_OK)
		goto out;
	have_inv = 1;
	if (dsck_file_read_all(idx_path, DSCK_INDEX_MAX_BYTES, &text, &len, &e) ||
	    dsck_index_parse(text, len, idx_path, &idx, &e))
		goto out;
	have_idx = 1;
	rb->ok = 1;
	rb->n_shards = idx.n_shards;
	if (idx.n != inv.n)
		rb->ok = 0;
	for (size_t s = 0; s < idx.n_shards; s++) {
		char *p = join(dir, idx.shards[s]);
		struct dsck_st *st = NULL;
		struct stat sb;
		if (dsck_st_open(p, &st, &e) != DSCK_OK) {
			printf("# %s: %s\n", p, e.detail);
			rb->ok = 0;
			free(p);
			continue;
		}
		if (stat(p, &sb) == 0) {
			rb->blocks_bytes += (uint64_t)sb.st_blocks * 512;
			rb->file_bytes += (uint64_t)sb.st_size;
			if ((uint64_t)sb.st_size != st->data_start + st->data_len)
				rb->sizes_ok = 0;
		}
		if (st->n_tensors == 0)
			rb->ok = 0; /* every shard holds a tensor */
		for (size_t i = 0; i < st->n_tensors; i++) {
			const struct dsck_st_tensor *t = &st->tensors[i];
			uint32_t ent;
			long k = dsck_inventory_find(&inv, t->name, t->name_len);
			rb->n_tensors++;
			rb->payload += t->end - t->begin;
			if (t->dtype == DSCK_F8_E4M3)
				rb->n_fp8++;
			if (strstr(t->name, "_scale_inv"))
				rb->n_scales++;
			/* in the index under this shard, and as the inventory says */
			if (!dsck_strmap_find(&idx.by_name, t->name, t->name_len, &ent) ||
			    idx.entries[ent].shard != s || k < 0 ||
			    inv.t[k].dtype != t->dtype || inv.t[k].ndim != t->ndim ||
			    inv.t[k].shape[0] != t->shape[0] ||
			    (t->ndim == 2 && inv.t[k].shape[1] != t->shape[1]))
				rb->ok = 0;
		}
		dsck_st_free(st);
		free(p);
	}
	if (rb->n_tensors != inv.n || rb->payload != inv.payload_bytes ||
	    !idx.has_total_size || idx.total_size != rb->payload)
		rb->ok = 0;
out:
	if (!rb->ok && e.code)
		printf("# read back %s: %s\n", dir, e.detail);
	if (have_idx)
		dsck_index_release(&idx);
	if (have_inv)
		dsck_inventory_release(&inv);
	free(text);
	free(cfg_path);
	free(idx_path);
}

static enum dsck_err synth(struct dsck_synth_opts *o, const char *dir,
			   struct dsck_synth_result *r, struct dsck_error *e)
{
	o->out_dir = dir;
	dsck_error_clear(e);
	return dsck_synth_write(o, r, e);
}

/* Bytes of one tensor of a written checkpoint (via its index), or NULL. */
static uint8_t *tensor_bytes(const char *dir, const char *name, uint64_t *n)
{
	struct dsck_error e;
	struct dsck_index idx;
	char *text = NULL, *p = NULL;
	size_t len;
	uint8_t *out = NULL;
	struct dsck_st *st = NULL;
	uint32_t ent;
	char *ip = join(dir, "model.safetensors.index.json");
	dsck_error_clear(&e);
	if (dsck_file_read_all(ip, DSCK_INDEX_MAX_BYTES, &text, &len, &e) ||
	    dsck_index_parse(text, len, ip, &idx, &e)) {
		free(text);
		free(ip);
		return NULL;
	}
	if (dsck_strmap_find(&idx.by_name, name, strlen(name), &ent)) {
		p = join(dir, idx.shards[idx.entries[ent].shard]);
		if (dsck_st_open(p, &st, &e) == DSCK_OK) {
			long i = dsck_st_find(st, name, strlen(name));
			if (i >= 0) {
				*n = st->tensors[i].end - st->tensors[i].begin;
				out = malloc(*n ? *n : 1);
				if (dsck_st_read(st, (size_t)i, 0, out, *n, &e)) {
					free(out);
					out = NULL;
				}
			}
			dsck_st_free(st);
		}
	}
	dsck_index_release(&idx);
	free(text);
	free(p);
	free(ip);
	return out;
}

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static uint64_t progress_calls;
static void on_progress(void *arg, const struct dsck_synth_progress *p)
{
	(void)arg;
	if (p->bytes_done <= p->bytes_total && p->shard >= 1 &&
	    p->shard <= p->n_shards)
		progress_calls++;
}

int main(void)
{
	struct dsck_synth_opts o;
	struct dsck_synth_result r;
	struct dsck_error e;
	struct readback rb;
	char *a = tmp_dir(), *b = tmp_dir(), *c = tmp_dir(), *d = tmp_dir();
	CHECK(a && b && c && d, "mkdtemp");
	if (!a || !b || !c || !d)
		return test_done();

	/* tiny, FP8, seed 0 */
	dsck_synth_opts_init(&o);
	o.progress = on_progress;
	double t0 = now();
	enum dsck_err rc = synth(&o, a, &r, &e);
	double dt = now() - t0;
	CHECK(rc == DSCK_OK, "tiny writes (%s)", e.detail);
	printf("# tiny: %zu tensors, %llu payload bytes, %.2f s\n", r.n_tensors,
	       (unsigned long long)r.payload_bytes, dt);
	CHECK(dt < 5.0, "tiny in under 5 s (%.2f s)", dt);
	CHECK(progress_calls > 0, "progress callback called");
	CHECK_EQ_U64(r.n_shards, 5, "tiny has 5 shards");
	CHECK_EQ_U64(r.n_files, 10, "SY-R1 10 files");
	CHECK(r.payload_bytes < 50ull << 20, "tiny under 50 MB");
	read_back(a, &rb);
	CHECK(rb.ok, "tiny reads back: shards, index, inventory agree");
	CHECK_EQ_U64(rb.n_tensors, r.n_tensors, "tensor count = inventory count");
	CHECK(rb.sizes_ok, "every shard size = 8 + N + data");
	CHECK(rb.n_fp8 > 0 && rb.n_fp8 == rb.n_scales, "every FP8 weight has a scale");
	CHECK(rb.cfg.quantized && rb.cfg.n_group == 4 && rb.cfg.topk_group == 2 &&
	      rb.cfg.topk_method == DSCK_TOPK_NOAUX_TC &&
	      rb.cfg.num_nextn_predict_layers == 1 && rb.cfg.first_k_dense_replace == 2 &&
	      rb.cfg.has_rope_scaling,
	      "tiny config: grouped noaux_tc routing, MTP, yarn");
	/* convert.py at 4 ranks: every FP8 split dim a multiple of 512 */
	{
		const struct dsck_config *k = &rb.cfg;
		uint64_t split[] = {
			k->num_attention_heads * (k->qk_nope_head_dim + k->qk_rope_head_dim),
			k->num_attention_heads * (k->qk_nope_head_dim + k->v_head_dim),
			k->intermediate_size, k->n_shared_experts * k->moe_intermediate_size,
			k->num_attention_heads * k->v_head_dim,
		};
		int ok = 1;
		for (size_t i = 0; i < sizeof split / sizeof split[0]; i++)
			ok &= split[i] % 512 == 0;
		CHECK(ok && k->vocab_size % 4 == 0 && k->n_routed_experts % 4 == 0,
		      "tiny reshards to 1, 2, 4 ranks");
		CHECK(k->hidden_size % 128 && k->q_lora_rank % 128 && k->kv_lora_rank % 128,
		      "tiny has partial edge blocks");
	}
	{
		/* values: scales positive finite varied, FP8 without NaN codes */
		uint64_t n = 0;
		uint8_t *s = tensor_bytes(a, "model.layers.2.mlp.experts.3.up_proj.weight_scale_inv", &n);
		int ok = s && n >= 8;
		float lo = INFINITY, hi = 0;
		for (uint64_t i = 0; ok && i < n / 4; i++) {
			float f;
			memcpy(&f, s + 4 * i, 4);
			ok &= isfinite(f) && f > 0;
			lo = f < lo ? f : lo;
			hi = f > hi ? f : hi;
		}
		CHECK(ok && hi > 2 * lo, "scales positive, finite, varied");
		free(s);
		uint8_t *w = tensor_bytes(a, "model.layers.0.mlp.gate_proj.weight", &n);
		int seen[256] = { 0 }, distinct = 0;
		for (uint64_t i = 0; w && i < n; i++)
			seen[w[i]] = 1;
		for (int i = 0; i < 256; i++)
			distinct += seen[i];
		CHECK(w && !seen[0x7f] && !seen[0xff] && distinct >= 200,
		      "FP8 codes: %d distinct, no NaN", distinct);
		free(w);
	}

	/* refusal: non-empty directory */
	rc = synth(&o, a, &r, &e);
	CHECK(rc == DSCK_E_USAGE, "non-empty directory refused without force");

	/* same seed, another directory: identical bytes in every file */
	rc = synth(&o, b, &r, &e);
	CHECK(rc == DSCK_OK, "tiny again");
	{
		size_t na, nb;
		char **la = list_dir(a, &na), **lb = list_dir(b, &nb);
		int same = na == nb && na == 10;
		for (size_t i = 0; same && i < na; i++) {
			char *pa = join(a, la[i]), *pb = join(b, lb[i]);
			same = !strcmp(la[i], lb[i]) && same_file(pa, pb);
			free(pa);
			free(pb);
		}
		CHECK(same, "SY-R2 same seed: identical files");
		free_list(la);
		free_list(lb);
	}
	/* force: rewrite in place, same result */
	o.force = 1;
	rc = synth(&o, b, &r, &e);
	CHECK(rc == DSCK_OK, "force writes into a non-empty directory");
	o.force = 0;

	/* another seed: other data, same layout */
	o.seed = 12345;
	rc = synth(&o, c, &r, &e);
	CHECK(rc == DSCK_OK, "tiny seed 12345");
	{
		char *pa = join(a, "model-00003-of-00005.safetensors");
		char *pc = join(c, "model-00003-of-00005.safetensors");
		char *ca = join(a, "config.json"), *cc = join(c, "config.json");
		CHECK(!same_file(pa, pc), "SY-R2 another seed: other shard bytes");
		CHECK(same_file(ca, cc), "another seed: same config.json");
		free(pa);
		free(pc);
		free(ca);
		free(cc);
	}
	rm_dir(c);
	free(c);
	c = tmp_dir();

	/* overrides: 3 layers, 8 experts; a tensor's bytes do not move with it */
	o.seed = 0;
	o.layers = 3;
	o.experts = 8;
	rc = synth(&o, c, &r, &e);
	CHECK(rc == DSCK_OK, "--layers 3 --experts 8 (%s)", e.detail);
	read_back(c, &rb);
	CHECK(rb.ok && rb.cfg.num_hidden_layers == 3 && rb.cfg.n_routed_experts == 8,
	      "overrides are in config.json and the tensors");
	{
		const char *name = "model.layers.1.self_attn.kv_b_proj.weight";
		uint64_t n1 = 0, n2 = 0;
		uint8_t *x = tensor_bytes(a, name, &n1), *y = tensor_bytes(c, name, &n2);
		CHECK(x && y && n1 == n2 && !memcmp(x, y, n1),
		      "SY-R2 bytes depend on the name only, not on shard or offset");
		free(x);
		free(y);
	}
	rm_dir(c);
	o.layers = -1;
	o.experts = 6; /* n_group 4 does not divide 6: CF-R5 */
	rc = synth(&o, c, &r, &e);
	CHECK(rc == DSCK_E_CONFIG_RANGE, "--experts 6 refused: n_group must divide it");
	o.experts = -1;
	o.layers = 1; /* first_k_dense_replace 2 > 1 layer */
	rc = synth(&o, c, &r, &e);
	CHECK(rc == DSCK_E_CONFIG_RANGE, "--layers 1 refused: first_k_dense_replace 2");
	o.layers = -1;
	o.preset = "nope";
	rc = synth(&o, c, &r, &e);
	CHECK(rc == DSCK_E_USAGE, "unknown preset refused");
	o.preset = "tiny";

	/* BF16 variant */
	rm_dir(d);
	free(d);
	d = tmp_dir();
	o.dtype = DSCK_SYNTH_DTYPE_BF16;
	rc = synth(&o, d, &r, &e);
	CHECK(rc == DSCK_OK && !r.fp8, "tiny --dtype bf16");
	read_back(d, &rb);
	CHECK(rb.ok && !rb.cfg.quantized && rb.n_fp8 == 0 && rb.n_scales == 0,
	      "BF16: no quantization_config, no FP8, no scales");
	o.dtype = DSCK_SYNTH_DTYPE_CONFIG;

	/* --config: the BF16 config.json as input, made FP8 again */
	{
		char *cfgp = join(d, "config.json");
		char *e2 = tmp_dir();
		o.config_path = cfgp;
		o.dtype = DSCK_SYNTH_DTYPE_FP8;
		rc = synth(&o, e2, &r, &e);
		CHECK(rc == DSCK_OK && r.fp8, "--config FILE with --dtype fp8 (%s)", e.detail);
		read_back(e2, &rb);
		CHECK(rb.ok && rb.cfg.quantized && rb.n_fp8 > 0, "custom config reads back");
		CHECK(r.n_shards >= 1, "custom config: %zu shard(s) by size", r.n_shards);
		o.config_path = NULL;
		o.dtype = DSCK_SYNTH_DTYPE_CONFIG;

		/* scale_fmt ue8m0 (V3.1): every scale an exact power of two */
		char *src = join(e2, "config.json"), *text = NULL;
		size_t len = 0;
		struct dsck_error e3;
		const char *key = "\"quant_method\": \"fp8\",";
		char *hit = NULL;
		dsck_error_clear(&e3);
		if (dsck_file_read_all(src, 1 << 20, &text, &len, &e3) == DSCK_OK)
			hit = strstr(text, key);
		char *ue = join(d, "config-ue8m0.json");
		FILE *f = hit ? fopen(ue, "w") : NULL;
		if (f) {
			fwrite(text, 1, (size_t)(hit - text) + strlen(key), f);
			fputs(" \"scale_fmt\": \"ue8m0\",", f);
			fputs(hit + strlen(key), f);
			fclose(f);
		}
		rm_dir(e2);
		free(e2);
		e2 = tmp_dir();
		o.config_path = ue;
		rc = synth(&o, e2, &r, &e);
		CHECK(f && rc == DSCK_OK, "--config with scale_fmt ue8m0 (%s)", e.detail);
		o.config_path = NULL;
		uint64_t n = 0;
		uint8_t *sc = tensor_bytes(e2, "model.layers.0.self_attn.o_proj.weight_scale_inv", &n);
		int pow2 = sc && n >= 4;
		for (uint64_t i = 0; pow2 && i < n / 4; i++) {
			uint32_t bits = (uint32_t)sc[4 * i] | (uint32_t)sc[4 * i + 1] << 8 |
					(uint32_t)sc[4 * i + 2] << 16 | (uint32_t)sc[4 * i + 3] << 24;
			pow2 = (bits & 0x7fffffu) == 0 && bits != 0;
		}
		CHECK(pow2, "ue8m0 scales are powers of two");
		free(sc);
		free(text);
		free(src);
		free(ue);
		rm_dir(e2);
		free(e2);
		free(cfgp);
	}

	/* 671b: dense refused over the limit, sparse in seconds */
	rm_dir(c);
	free(c);
	c = tmp_dir();
	o.preset = "671b";
	o.max_dense_bytes = 64ull << 30;
	rc = synth(&o, c, &r, &e);
	CHECK(rc == DSCK_E_USAGE && r.payload_bytes == 688574839360ull,
	      "671b dense refused, says 688574839360 bytes");
	o.sparse = 1;
	t0 = now();
	rc = synth(&o, c, &r, &e);
	dt = now() - t0;
	CHECK(rc == DSCK_OK, "671b --sparse writes (%s)", e.detail);
	printf("# 671b sparse: %.2f s\n", dt);
	CHECK_EQ_U64(r.n_shards, 163, "671b: 163 shards");
	CHECK_EQ_U64(r.n_tensors, 91991, "671b: 91,991 tensors");
	CHECK_EQ_U64(r.payload_bytes, 688574839360ull, "671b: payload bytes");
	CHECK_EQ_U64(r.data_written, 0, "sparse writes no data");
	{
		char *p1 = join(c, "model-00001-of-000163.safetensors");
		char *p163 = join(c, "model-00163-of-000163.safetensors");
		CHECK(access(p1, F_OK) == 0 && access(p163, F_OK) == 0,
		      "SY-R3 names model-00001-of-000163 .. model-00163-of-000163");
		free(p1);
		free(p163);
	}
	read_back(c, &rb);
	CHECK(rb.ok, "671b reads back: 163 shards, index, inventory agree");
	CHECK(rb.sizes_ok, "671b shard sizes = 8 + N + data");
	CHECK(rb.file_bytes > 688574839360ull, "671b apparent size %llu",
	      (unsigned long long)rb.file_bytes);
	CHECK(rb.blocks_bytes < (256ull << 20), "SY-R4 holes: %llu bytes allocated",
	      (unsigned long long)rb.blocks_bytes);
	{
		uint64_t n = 0;
		uint8_t *x = tensor_bytes(c, "model.layers.10.mlp.experts.7.down_proj.weight", &n);
		int zero = x && n == 7168ull * 2048;
		for (uint64_t i = 0; zero && i < n; i++)
			zero = x[i] == 0;
		CHECK(zero, "SY-R4 sparse data read as zeros");
		free(x);
	}

	rm_dir(a);
	rm_dir(b);
	rm_dir(c);
	rm_dir(d);
	free(a);
	free(b);
	free(c);
	free(d);
	return test_done();
}
