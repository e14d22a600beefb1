/*
 * dsck-convert - FP8 <-> BF16 (and F16/F32) conversion of a checkpoint.
 *
 *   dsck-convert --to bf16|f16|f32|fp8 [options] SRC DST
 *
 * Builds the conversion plan (lib/convert_plan.h), checks free space, and
 * runs it through the streaming engine (lib/plan.h). Nothing goes to
 * stdout unless asked (--dry-run, --json); progress and the summary line go
 * to stderr.
 */
#include "arith.h"
#include "ckpt.h"
#include "convert_plan.h"
#include "plan.h"
#include "progress.h"

#include <cjson/cJSON.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_GLOBS 64

static const char usage_text[] =
	"usage: dsck-convert --to bf16|f16|f32|fp8 [options] SRC DST\n"
	"\n"
	"Convert a checkpoint (directory, index.json or .safetensors file) into the\n"
	"directory DST: FP8 weights dequantized exactly as DeepSeek's weight_dequant\n"
	"(--to bf16|f16|f32), or BF16/F16/F32 projections quantized to FP8 in\n"
	"128x128 blocks (--to fp8). DST gets the shards, index.json, config.json\n"
	"(quantization_config and torch_dtype updated) and the tokenizer and other\n"
	"files of SRC. Memory stays bounded whatever the model size.\n"
	"\n"
	"  --to DTYPE             bf16, f16, f32 or fp8\n"
	"  --scale-fmt FMT        with --to fp8: float (amax/448, default) or ue8m0\n"
	"                         (scales rounded up to a power of two, as V3.1)\n"
	"  --only GLOB            convert only tensors matching GLOB (repeatable);\n"
	"                         the others are copied unchanged\n"
	"  --exclude GLOB         do not convert tensors matching GLOB (repeatable)\n"
	"  --max-shard-size SIZE  regroup the output into shards of at most SIZE of\n"
	"                         tensor data (5GB, 4GiB, 500MB; as transformers'\n"
	"                         max_shard_size); default: the grouping of SRC\n"
	"  -j, --threads N        worker threads (default: two per core, as the\n"
	"                         work mostly waits on the disk)\n"
	"  -n, --dry-run          print the plan (files, bytes, estimated time);\n"
	"                         write nothing\n"
	"  -f, --force            overwrite outputs DST already holds, or drop an\n"
	"                         unfinished run made with other options\n"
	"      --no-space-check   skip the free-space check before writing\n"
	"      --json             the plan (--dry-run) or the result as JSON on stdout\n"
	"      --progress MODE    bar (default on a terminal), json (lines on\n"
	"                         stderr) or none\n"
	"  -q, --quiet            only errors\n"
	"  -h, --help             this help\n"
	"      --version          print the version\n"
	"\n"
	"Rerunning the same command after an interruption keeps the output shards\n"
	"that are complete and correct (checked) and redoes the rest.\n"
	"\n"
	"Exit status: 0 done, 1 invalid input, 2 usage, 3 I/O error or not enough\n"
	"disk space.\n"
	"\n"
	"Examples:\n"
	"  dsck-convert --to bf16 ./DeepSeek-V3 ./DeepSeek-V3-bf16\n"
	"  dsck-convert --to fp8 --scale-fmt ue8m0 ./finetuned-bf16 ./finetuned-fp8\n"
	"  dsck-convert --to bf16 --dry-run ./DeepSeek-R1 /mnt/big/R1-bf16\n";

struct opts {
	const char *src, *dst;
	struct dsck_convert_opts c;
	const char *only[MAX_GLOBS], *exclude[MAX_GLOBS];
	int have_to;
	unsigned threads;
	int dry_run, force, no_space_check, json, quiet;
	enum dsck_progress_mode progress;
	int progress_set;
};

static int usage_error(const char *msg)
{
	fprintf(stderr, "dsck-convert: %s\ntry 'dsck-convert --help'\n", msg);
	return DSCK_EXIT_USAGE;
}

static int die_error(const struct dsck_error *e)
{
	char line[2048];
	dsck_error_format(e, line, sizeof line);
	fprintf(stderr, "dsck-convert: error: %s\n", line);
	return dsck_err_exit_code(e->code);
}

static int parse_args(int argc, char **argv, struct opts *o)
{
	enum { OPT_TO = 256, OPT_SCALE, OPT_ONLY, OPT_EXCL, OPT_MAXS, OPT_NOSPACE,
	       OPT_JSON, OPT_PROGRESS, OPT_VERSION };
	static const struct option longopts[] = {
		{ "to", required_argument, NULL, OPT_TO },
		{ "scale-fmt", required_argument, NULL, OPT_SCALE },
		{ "only", required_argument, NULL, OPT_ONLY },
		{ "exclude", required_argument, NULL, OPT_EXCL },
		{ "max-shard-size", required_argument, NULL, OPT_MAXS },
		{ "threads", required_argument, NULL, 'j' },
		{ "dry-run", no_argument, NULL, 'n' },
		{ "force", no_argument, NULL, 'f' },
		{ "no-space-check", no_argument, NULL, OPT_NOSPACE },
		{ "json", no_argument, NULL, OPT_JSON },
		{ "progress", required_argument, NULL, OPT_PROGRESS },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, OPT_VERSION },
		{ NULL, 0, NULL, 0 },
	};
	int c, scale_set = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":j:nfqh", longopts, NULL)) != -1) {
		switch (c) {
		case OPT_TO:
			o->have_to = 1;
			if (strcmp(optarg, "bf16") == 0 || strcmp(optarg, "bfloat16") == 0)
				o->c.to = DSCK_BF16;
			else if (strcmp(optarg, "f16") == 0 || strcmp(optarg, "fp16") == 0 ||
				 strcmp(optarg, "float16") == 0)
				o->c.to = DSCK_F16;
			else if (strcmp(optarg, "f32") == 0 || strcmp(optarg, "fp32") == 0 ||
				 strcmp(optarg, "float32") == 0)
				o->c.to = DSCK_F32;
			else if (strcmp(optarg, "fp8") == 0 || strcmp(optarg, "f8") == 0 ||
				 strcmp(optarg, "e4m3") == 0)
				o->c.to = DSCK_F8_E4M3;
			else
				return usage_error("--to takes bf16, f16, f32 or fp8");
			break;
		case OPT_SCALE:
			scale_set = 1;
			if (strcmp(optarg, "ue8m0") == 0)
				o->c.ue8m0 = 1;
			else if (strcmp(optarg, "float") != 0)
				return usage_error("--scale-fmt takes float or ue8m0");
			break;
		case OPT_ONLY:
			if (o->c.n_only == MAX_GLOBS)
				return usage_error("too many --only patterns");
			o->only[o->c.n_only++] = optarg;
			break;
		case OPT_EXCL:
			if (o->c.n_exclude == MAX_GLOBS)
				return usage_error("too many --exclude patterns");
			o->exclude[o->c.n_exclude++] = optarg;
			break;
		case OPT_MAXS:
			if (dsck_size_parse(optarg, &o->c.max_shard_size))
				return usage_error("--max-shard-size takes a size such as 5GB, 4GiB or 500MB");
			break;
		case 'j': {
			uint64_t v;
			if (dsck_u64_parse(optarg, 1024, &v) || v < 1)
				return usage_error("-j needs a thread count from 1 to 1024");
			o->threads = (unsigned)v;
			break;
		}
		case 'n': o->dry_run = 1; break;
		case 'f': o->force = 1; break;
		case OPT_NOSPACE: o->no_space_check = 1; break;
		case OPT_JSON: o->json = 1; break;
		case OPT_PROGRESS:
			o->progress_set = 1;
			if (dsck_progress_parse(optarg, &o->progress))
				return usage_error("--progress takes bar, json or none");
			break;
		case 'q': o->quiet = 1; break;
		case 'h':
			fputs(usage_text, stdout);
			exit(0);
		case OPT_VERSION:
			printf("dsck-convert %s\n", DSCK_VERSION);
			exit(0);
		case ':':
			return usage_error("an option is missing its argument");
		default:
			return usage_error("unknown option");
		}
	}
	if (!o->have_to)
		return usage_error("--to is required (bf16, f16, f32 or fp8)");
	if (scale_set && o->c.to != DSCK_F8_E4M3)
		return usage_error("--scale-fmt applies to --to fp8 only");
	if (argc - optind != 2)
		return usage_error(argc - optind < 2 ? "missing SRC or DST" : "expected SRC and DST");
	o->src = argv[optind];
	o->dst = argv[optind + 1];
	o->c.only = o->only;
	o->c.exclude = o->exclude;
	if (!o->progress_set)
		o->progress = dsck_progress_auto(2, o->quiet);
	return 0;
}

static const char *xf_name(enum dsck_xform x)
{
	switch (x) {
	case DSCK_XF_COPY: return "copy";
	case DSCK_XF_CAST: return "cast";
	case DSCK_XF_DEQUANT: return "dequant";
	case DSCK_XF_QUANT: return "quant";
	case DSCK_XF_QSCALE: return "scale";
	}
	return "?";
}

/* Read throughput of SRC measured now on up to 256 MiB of its first shard,
 * out of the page cache: the basis of the --dry-run time estimate. */
static double probe_read_speed(const struct dsck_ckpt *ck)
{
	if (!ck->n_shards)
		return 0;
	const struct dsck_file *f = &ck->shards[0]->file;
	uint64_t n = f->size < (256ull << 20) ? f->size : (256ull << 20);
	char *buf = malloc(4u << 20);
	if (!buf || n < (16u << 20)) {
		free(buf);
		return 0;
	}
	dsck_file_drop_cache(f, 0, n);
	double t0 = dsck_now();
	for (uint64_t off = 0; off < n; off += 4u << 20) {
		size_t k = n - off < (4u << 20) ? (size_t)(n - off) : (4u << 20);
		if (pread(f->fd, buf, k, (off_t)off) != (ssize_t)k) {
			free(buf);
			return 0;
		}
	}
	double dt = dsck_now() - t0;
	dsck_file_drop_cache(f, 0, n);
	free(buf);
	return dt > 0 ? (double)n / dt : 0;
}

static void print_plan(const struct opts *o, const struct dsck_plan *p,
		       const struct dsck_ckpt *ck, const struct dsck_convert_stats *st,
		       uint64_t free_bytes, int free_known)
{
	uint64_t in = dsck_plan_in_bytes(p, ck), out = dsck_plan_out_bytes(p);
	double speed = probe_read_speed(ck);
	double est = speed > 0 ? (double)(in + out) / speed : -1;
	char a[32], b[32], c[32];

	if (o->json) {
		cJSON *doc = cJSON_CreateObject(), *files = cJSON_AddArrayToObject(doc, "files");
		cJSON_AddStringToObject(doc, "source", o->src);
		cJSON_AddStringToObject(doc, "destination", o->dst);
		cJSON_AddStringToObject(doc, "to", dsck_dtype_name(o->c.to));
		cJSON_AddNumberToObject(doc, "input_bytes", (double)in);
		cJSON_AddNumberToObject(doc, "output_bytes", (double)out);
		if (free_known)
			cJSON_AddNumberToObject(doc, "free_bytes", (double)free_bytes);
		cJSON_AddNumberToObject(doc, "dequantized", (double)st->dequant);
		cJSON_AddNumberToObject(doc, "quantized", (double)st->quant);
		cJSON_AddNumberToObject(doc, "cast", (double)st->cast);
		cJSON_AddNumberToObject(doc, "copied", (double)st->copied);
		if (est >= 0)
			cJSON_AddNumberToObject(doc, "estimated_seconds", est);
		for (size_t f = 0; f < p->n_files; f++) {
			cJSON *jf = cJSON_CreateObject();
			cJSON_AddStringToObject(jf, "name", p->files[f].name);
			cJSON_AddNumberToObject(jf, "bytes", (double)p->files[f].size);
			cJSON_AddNumberToObject(jf, "tensors", (double)p->files[f].n);
			cJSON_AddItemToArray(files, jf);
		}
		for (size_t i = 0; i < p->n_side; i++) {
			cJSON *jf = cJSON_CreateObject();
			cJSON_AddStringToObject(jf, "name", p->side[i].name);
			cJSON_AddNumberToObject(jf, "bytes", (double)p->side[i].size);
			cJSON_AddStringToObject(jf, "kind", p->side[i].data ? "written" : "copied");
			cJSON_AddItemToArray(files, jf);
		}
		char *s = cJSON_Print(doc);
		if (s)
			puts(s);
		free(s);
		cJSON_Delete(doc);
		return;
	}
	printf("plan: %s -> %s (--to %s)\n", o->src, o->dst, dsck_dtype_name(o->c.to));
	for (size_t f = 0; f < p->n_files; f++) {
		size_t counts[5] = { 0 };
		for (size_t i = 0; i < p->files[f].n; i++)
			counts[p->t[p->files[f].t0 + i].xf]++;
		printf("  %-40s %10s  %zu tensors (", p->files[f].name,
		       dsck_format_bytes(a, sizeof a, p->files[f].size), p->files[f].n);
		int first = 1;
		for (int x = 0; x < 5; x++)
			if (counts[x]) {
				printf("%s%zu %s", first ? "" : ", ", counts[x], xf_name((enum dsck_xform)x));
				first = 0;
			}
		printf(")\n");
	}
	for (size_t i = 0; i < p->n_side; i++)
		printf("  %-40s %10s  %s\n", p->side[i].name,
		       dsck_format_bytes(a, sizeof a, p->side[i].size),
		       p->side[i].data ? "written" : "copied");
	printf("tensors: %zu dequantized, %zu quantized, %zu cast, %zu copied; %zu scales dropped\n",
	       st->dequant, st->quant, st->cast, st->copied, st->scales_dropped);
	printf("read %s, write %s", dsck_format_bytes(a, sizeof a, in),
	       dsck_format_bytes(b, sizeof b, out));
	if (free_known)
		printf(" (%s free)", dsck_format_bytes(c, sizeof c, free_bytes));
	printf("\n");
	if (est >= 0)
		printf("estimated time: %.0f s at the %s/s read speed measured now (reading and writing)\n",
		       est, dsck_format_bytes(a, sizeof a, (uint64_t)speed));
}

static void on_progress(void *user, uint64_t done, uint64_t total)
{
	dsck_progress_update(user, done, total);
}

int main(int argc, char **argv)
{
	struct opts o;
	struct dsck_error err;
	struct dsck_ckpt *ck = NULL;
	struct dsck_plan plan;
	struct dsck_convert_stats st;
	struct dsck_plan_result res;
	int status;
	enum dsck_err rc;
	uint64_t free_bytes = 0;
	int free_known = 0;

	memset(&o, 0, sizeof o);
	memset(&plan, 0, sizeof plan);
	if ((status = parse_args(argc, argv, &o)) != 0)
		return status;
	dsck_error_clear(&err);
	if ((rc = dsck_ckpt_open(o.src, &ck, &err)))
		goto fail;
	if ((rc = dsck_convert_plan_build(ck, &o.c, &plan, &st, &err)))
		goto fail;
	free_known = dsck_fs_free_bytes(o.dst, &free_bytes, &err) == DSCK_OK;
	dsck_error_clear(&err);
	if (o.dry_run) {
		print_plan(&o, &plan, ck, &st, free_bytes, free_known);
		status = 0;
		goto done;
	}
	/* CV-R7: refuse before writing anything when the disk is short */
	if (!o.no_space_check && free_known &&
	    (rc = dsck_plan_check_space(&plan, o.dst, free_bytes, &err)))
		goto fail;
	struct dsck_progress prog;
	dsck_progress_init(&prog, 2, o.progress, "convert");
	struct dsck_plan_opts po = { .threads = o.threads, .force = o.force,
				     .progress = on_progress, .progress_user = &prog };
	double t0 = dsck_now();
	rc = dsck_plan_execute(&plan, ck, o.dst, &po, &res, &err);
	dsck_progress_finish(&prog);
	if (rc)
		goto fail;
	double dt = dsck_now() - t0;
	if (o.json) {
		cJSON *doc = dsck_plan_result_json(&res, o.dst, dt);
		char *s = doc ? cJSON_Print(doc) : NULL;
		if (s)
			puts(s);
		free(s);
		cJSON_Delete(doc);
	}
	if (!o.quiet) {
		char line[320];
		dsck_plan_result_line(&res, dt, line, sizeof line);
		fprintf(stderr, "dsck-convert: %s\n", line);
	}
	status = 0;
	goto done;
fail:
	status = die_error(&err);
done:
	dsck_plan_release(&plan);
	dsck_ckpt_close(ck);
	return status;
}
