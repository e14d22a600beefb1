/*
 * dsck-shard - reshard a checkpoint for another GPU count.
 *
 *   dsck-shard --mp N [options] SRC DST     HF or MP(M) -> MP(N)
 *   dsck-shard --hf [options] SRC DST       MP(M) or HF -> HF
 *
 * Builds the plan (lib/shard_plan.h), checks free space, and runs it
 * through the streaming engine (lib/plan.h). --plan prints what each rank
 * gets, or why a rank count is refused and which ones work.
 */
#include "arith.h"
#include "ckpt.h"
#include "convert_plan.h"
#include "plan.h"
#include "progress.h"
#include "shard_plan.h"

#include <cjson/cJSON.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_VALID 64

static const char usage_text[] =
	"usage: dsck-shard (--mp N | --hf) [options] SRC DST\n"
	"\n"
	"Reshard a checkpoint (HF directory, index.json, .safetensors file, or a\n"
	"directory of DeepSeek model-parallel files model{r}-mp{N}.safetensors).\n"
	"\n"
	"  --mp N                 write N rank files model{r}-mp{N}.safetensors with the\n"
	"                         names and splits of DeepSeek's inference/convert.py\n"
	"                         (from HF or straight from another MP layout)\n"
	"  --keep-mtp             keep the MTP layers in MP output (DeepSeek's loader\n"
	"                         expects them dropped, the default)\n"
	"  --hf                   write the Hugging Face layout (names, index.json)\n"
	"  --like INDEX.json      with --hf: the shard files and grouping of this index\n"
	"  --max-shard-size SIZE  with --hf: files of at most SIZE of tensor data\n"
	"                         (default for MP input: 5GB)\n"
	"  --max-tensors N        with --hf: at most N tensors per file\n"
	"  --merge                with --hf: one model.safetensors\n"
	"      --plan             print each output file (tensors, bytes), or why N\n"
	"                         is refused and which rank counts work; write nothing\n"
	"  -n, --dry-run          the same as --plan\n"
	"  -j, --threads N        worker threads (default: two per core, as the\n"
	"                         work mostly waits on the disk)\n"
	"  -f, --force            overwrite outputs DST already holds, or drop an\n"
	"                         unfinished run made with other options\n"
	"      --no-space-check   skip the free-space check before writing\n"
	"      --json             the plan or the result as JSON on stdout\n"
	"      --progress MODE    bar (default on a terminal), json or none\n"
	"  -q, --quiet            only errors\n"
	"  -h, --help             this help\n"
	"      --version          print the version\n"
	"\n"
	"Rerunning the same command after an interruption keeps the finished files\n"
	"(checked) and redoes the rest.\n"
	"\n"
	"Exit status: 0 done, 1 invalid input (also: N refused for this model),\n"
	"2 usage, 3 I/O error or not enough disk space.\n"
	"\n"
	"Examples:\n"
	"  dsck-shard --plan --mp 16 ./DeepSeek-V3 /data/v3-mp16\n"
	"  dsck-shard --mp 16 ./DeepSeek-V3 /data/v3-mp16\n"
	"  dsck-shard --mp 8 /data/v3-mp16 /data/v3-mp8\n"
	"  dsck-shard --hf --like ./DeepSeek-V3/model.safetensors.index.json /data/v3-mp8 ./v3\n";

struct opts {
	const char *src, *dst;
	struct dsck_shard_opts s;
	int mode_mp, mode_hf;
	unsigned threads;
	int plan, force, no_space_check, json, quiet;
	enum dsck_progress_mode progress;
	int progress_set;
};

static int usage_error(const char *msg)
{
	fprintf(stderr, "dsck-shard: %s\ntry 'dsck-shard --help'\n", msg);
	return DSCK_EXIT_USAGE;
}

static int die_error(const struct dsck_error *e)
{
	char line[2048];
	dsck_error_format(e, line, sizeof line);
	fprintf(stderr, "dsck-shard: error: %s\n", line);
	return dsck_err_exit_code(e->code);
}

/* A count from 1 to max. */
static int parse_count(const char *s, uint64_t max, uint64_t *out)
{
	return dsck_u64_parse(s, max, out) || *out < 1 ? -1 : 0;
}

static int parse_args(int argc, char **argv, struct opts *o)
{
	enum { OPT_MP = 256, OPT_HF, OPT_MTP, OPT_LIKE, OPT_MAXS, OPT_MAXT, OPT_MERGE,
	       OPT_PLAN, OPT_NOSPACE, OPT_JSON, OPT_PROGRESS, OPT_VERSION };
	static const struct option longopts[] = {
		{ "mp", required_argument, NULL, OPT_MP },
		{ "hf", no_argument, NULL, OPT_HF },
		{ "keep-mtp", no_argument, NULL, OPT_MTP },
		{ "like", required_argument, NULL, OPT_LIKE },
		{ "max-shard-size", required_argument, NULL, OPT_MAXS },
		{ "max-tensors", required_argument, NULL, OPT_MAXT },
		{ "merge", no_argument, NULL, OPT_MERGE },
		{ "plan", no_argument, NULL, OPT_PLAN },
		{ "dry-run", no_argument, NULL, 'n' },
		{ "threads", required_argument, NULL, 'j' },
		{ "force", no_argument, NULL, 'f' },
		{ "no-space-check", no_argument, NULL, OPT_NOSPACE },
		{ "json", no_argument, NULL, OPT_JSON },
		{ "progress", required_argument, NULL, OPT_PROGRESS },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, OPT_VERSION },
		{ NULL, 0, NULL, 0 },
	};
	int c;
	uint64_t v;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":j:nfqh", longopts, NULL)) != -1) {
		switch (c) {
		case OPT_MP:
			if (parse_count(optarg, 65536, &v))
				return usage_error("--mp needs a rank count from 1 to 65536");
			o->s.mp = (uint32_t)v;
			o->mode_mp = 1;
			break;
		case OPT_HF: o->mode_hf = 1; break;
		case OPT_MTP: o->s.keep_mtp = 1; break;
		case OPT_LIKE: o->s.like = optarg; break;
		case OPT_MAXS:
			if (dsck_size_parse(optarg, &o->s.max_shard_size))
				return usage_error("--max-shard-size takes a size such as 5GB, 4GiB or 500MB");
			break;
		case OPT_MAXT:
			if (parse_count(optarg, UINT32_MAX, &o->s.max_tensors))
				return usage_error("--max-tensors needs a count >= 1");
			break;
		case OPT_MERGE: o->s.merge = 1; break;
		case OPT_PLAN:
		case 'n': o->plan = 1; break;
		case 'j':
			if (parse_count(optarg, 1024, &v))
				return usage_error("-j needs a thread count from 1 to 1024");
			o->threads = (unsigned)v;
			break;
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
			printf("dsck-shard %s\n", DSCK_VERSION);
			exit(0);
		case ':':
			return usage_error("an option is missing its argument");
		default:
			return usage_error("unknown option");
		}
	}
	if (o->mode_mp == o->mode_hf)
		return usage_error("give exactly one of --mp N and --hf");
	if (o->mode_mp && (o->s.like || o->s.max_shard_size || o->s.max_tensors || o->s.merge))
		return usage_error("--like, --max-shard-size, --max-tensors and --merge go with --hf");
	if (o->mode_hf && o->s.keep_mtp)
		return usage_error("--keep-mtp goes with --mp (HF output keeps whatever SRC has)");
	if (o->s.like && (o->s.max_shard_size || o->s.max_tensors || o->s.merge))
		return usage_error("--like excludes --max-shard-size, --max-tensors and --merge");
	if (o->s.merge && (o->s.max_shard_size || o->s.max_tensors))
		return usage_error("--merge excludes --max-shard-size and --max-tensors");
	if (argc - optind != 2)
		return usage_error(argc - optind < 2 ? "missing SRC or DST" : "expected SRC and DST");
	o->src = argv[optind];
	o->dst = argv[optind + 1];
	if (!o->progress_set)
		o->progress = dsck_progress_auto(2, o->quiet);
	return 0;
}

static void print_valid(FILE *f, const uint32_t *valid, size_t n)
{
	fprintf(f, "valid rank counts for this checkpoint:");
	for (size_t i = 0; i < n; i++)
		fprintf(f, "%s %u", i ? "," : "", valid[i]);
	fprintf(f, "%s\n", n ? "" : " none");
}

static void print_plan(const struct opts *o, const struct dsck_plan *p,
		       const struct dsck_ckpt *ck, const uint32_t *valid, size_t n_valid,
		       uint64_t free_bytes, int free_known)
{
	uint64_t out = dsck_plan_out_bytes(p), in = dsck_plan_in_bytes(p, ck);
	char a[32], b[32], c[32];
	if (o->json) {
		cJSON *doc = cJSON_CreateObject(), *files = cJSON_AddArrayToObject(doc, "files");
		cJSON_AddStringToObject(doc, "source", o->src);
		cJSON_AddStringToObject(doc, "destination", o->dst);
		cJSON_AddStringToObject(doc, "layout", o->s.mp ? "mp" : "hf");
		if (o->s.mp) {
			cJSON_AddNumberToObject(doc, "ranks", o->s.mp);
			cJSON *jv = cJSON_AddArrayToObject(doc, "valid_ranks");
			for (size_t i = 0; i < n_valid; i++)
				cJSON_AddItemToArray(jv, cJSON_CreateNumber(valid[i]));
		}
		cJSON_AddNumberToObject(doc, "input_bytes", (double)in);
		cJSON_AddNumberToObject(doc, "output_bytes", (double)out);
		if (free_known)
			cJSON_AddNumberToObject(doc, "free_bytes", (double)free_bytes);
		for (size_t f = 0; f < p->n_files; f++) {
			cJSON *jf = cJSON_CreateObject();
			uint64_t data = p->files[f].size - p->files[f].header_len;
			cJSON_AddStringToObject(jf, "name", p->files[f].name);
			cJSON_AddNumberToObject(jf, "bytes", (double)p->files[f].size);
			cJSON_AddNumberToObject(jf, "tensor_bytes", (double)data);
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
	if (o->s.mp)
		printf("plan: %s -> %s, %u ranks (DeepSeek MP layout%s)\n", o->src, o->dst, o->s.mp,
		       o->s.keep_mtp ? ", MTP kept" : ", MTP dropped");
	else
		printf("plan: %s -> %s (Hugging Face layout)\n", o->src, o->dst);
	for (size_t f = 0; f < p->n_files; f++) {
		uint64_t data = p->files[f].size - p->files[f].header_len;
		printf("  %-36s %7zu tensors  %10s", p->files[f].name, p->files[f].n,
		       dsck_format_bytes(a, sizeof a, data));
		if (o->s.mp)
			printf("  weights in memory per rank");
		printf("\n");
	}
	for (size_t i = 0; i < p->n_side; i++)
		printf("  %-36s %15s  %s\n", p->side[i].name,
		       dsck_format_bytes(a, sizeof a, p->side[i].size),
		       p->side[i].data ? "written" : "copied");
	printf("read %s, write %s", dsck_format_bytes(a, sizeof a, in),
	       dsck_format_bytes(b, sizeof b, out));
	if (free_known)
		printf(" (%s free)", dsck_format_bytes(c, sizeof c, free_bytes));
	printf("\n");
	if (o->s.mp)
		print_valid(stdout, valid, n_valid);
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
	struct dsck_plan_result res;
	uint32_t valid[MAX_VALID];
	size_t n_valid = 0;
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
	if (o.s.mp) {
		/* MP-R5: refusals name the tensor and the reason, up front */
		rc = dsck_shard_check_mp(ck, o.s.keep_mtp, o.s.mp, 256, valid, MAX_VALID,
					 &n_valid, &err);
		if (rc == DSCK_E_UNSUPPORTED) {
			char line[2048];
			dsck_error_file(&err, o.src);
			dsck_error_format(&err, line, sizeof line);
			fprintf(stderr, "dsck-shard: error: cannot split over %u ranks: %s\n",
				o.s.mp, line);
			if (!o.quiet)
				print_valid(stderr, valid, n_valid);
			status = dsck_err_exit_code(rc);
			goto done;
		}
		if (rc)
			goto fail;
	}
	if ((rc = dsck_shard_plan_build(ck, &o.s, &plan, &err)))
		goto fail;
	free_known = dsck_fs_free_bytes(o.dst, &free_bytes, &err) == DSCK_OK;
	dsck_error_clear(&err);
	if (o.plan) {
		print_plan(&o, &plan, ck, valid, n_valid, free_bytes, free_known);
		status = 0;
		goto done;
	}
	if (!o.no_space_check && free_known &&
	    (rc = dsck_plan_check_space(&plan, o.dst, free_bytes, &err)))
		goto fail;
	struct dsck_progress prog;
	dsck_progress_init(&prog, 2, o.progress, "shard");
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
		fprintf(stderr, "dsck-shard: %s\n", line);
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
