/*
 * main.c - dsck-inspect: what a checkpoint holds, from its headers.
 *
 *   dsck-inspect [--json|--jsonl] [--tensors [GLOB]] [--stats [GLOB]] [-j N] PATH
 *
 * Thin: parse arguments, open the checkpoint (lib/ckpt.h), build the summary
 * (summary.c), compute statistics when asked (lib/stats.h), print
 * (output.c). Exit codes: 0 ok (findings included), 1 invalid input,
 * 2 usage, 3 I/O (formats.md, exit codes).
 */
#include "arith.h"
#include "inspect.h"

#include "progress.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifndef DSCK_VERSION
#define DSCK_VERSION "0.0.0"
#endif

#define PROG "dsck-inspect"

static const char usage_text[] =
	"usage: " PROG " [--json | --jsonl] [--tensors [GLOB]] [--stats [GLOB]] [-j N] PATH\n"
	"\n"
	"Describe a DeepSeek-V3-family safetensors checkpoint from its headers:\n"
	"config, shards, tensors, bytes by dtype, parameter counts, layout, and\n"
	"findings (tensors the config does not imply, missing ones, header\n"
	"warnings). No tensor data is read unless --stats is given.\n"
	"\n"
	"PATH is a checkpoint directory, a model.safetensors.index.json, or a\n"
	"single .safetensors file.\n"
	"\n"
	"options:\n"
	"  --json            one JSON document on stdout instead of text\n"
	"  --jsonl           one JSON object per tensor per line (the tensors of\n"
	"                    --tensors and --stats; all tensors when neither is given)\n"
	"  --tensors[=GLOB]  list tensors: name, dtype, shape, bytes, shard, file offset\n"
	"  --stats[=GLOB]    read the data and print per-tensor statistics of the\n"
	"                    dequantized values (FP8 weights times their block scales):\n"
	"                    count, min, max, mean, std, absmax, NaN, Inf, zero counts\n"
	"  -j N, --jobs=N    threads for --stats (default: online CPUs)\n"
	"  -h, --help        this help\n"
	"      --version     print the version\n"
	"\n"
	"GLOB is an fnmatch(3) pattern on tensor names. It is given as --tensors=GLOB,\n"
	"or as the next argument when that is not the last one (PATH always comes\n"
	"last) and does not start with '-'. Quote it so the shell does not expand it.\n"
	"\n"
	"examples:\n"
	"  " PROG " /models/DeepSeek-V3\n"
	"  " PROG " --json /models/DeepSeek-V3 > summary.json\n"
	"  " PROG " --tensors 'model.layers.61.*' /models/DeepSeek-V3\n"
	"  " PROG " --stats='*.q_a_proj.weight' -j 16 /models/DeepSeek-V3\n"
	"  " PROG " --jsonl --stats model-00001-of-000163.safetensors\n"
	"\n"
	"exit codes: 0 ok (findings do not fail), 1 invalid input, 2 usage, 3 I/O\n";

struct args {
	int json, jsonl;
	int tensors, stats;
	const char *tensors_glob, *stats_glob;
	int threads;
	const char *path;
};

static int usage_error(const char *fmt, const char *what)
{
	fprintf(stderr, PROG ": ");
	fprintf(stderr, fmt, what);
	fprintf(stderr, "\ntry '" PROG " --help'\n");
	return DSCK_EXIT_USAGE;
}

/* Thread count: 1..DSCK_STATS_MAX_THREADS. */
static int parse_threads(const char *s, int *out)
{
	uint64_t v;
	if (dsck_u64_parse(s, DSCK_STATS_MAX_THREADS, &v) || v < 1)
		return -1;
	*out = (int)v;
	return 0;
}

/*
 * Returns -1 to go on, else the exit code (help, version, usage error).
 * An optional GLOB after --tensors / --stats is taken only when it is not
 * the last argument and does not look like an option.
 */
static int args_parse(int argc, char **argv, struct args *a)
{
	int only_paths = 0;
	memset(a, 0, sizeof *a);
	for (int i = 1; i < argc; i++) {
		const char *s = argv[i];
		int opt_glob = i + 1 < argc - 1 && argv[i + 1][0] != '-';
		if (only_paths || s[0] != '-' || strcmp(s, "-") == 0) {
			if (a->path)
				return usage_error("more than one PATH ('%s')", s);
			a->path = s;
		} else if (strcmp(s, "--") == 0) {
			only_paths = 1;
		} else if (strcmp(s, "-h") == 0 || strcmp(s, "--help") == 0) {
			fputs(usage_text, stdout);
			return DSCK_EXIT_OK;
		} else if (strcmp(s, "--version") == 0) {
			printf(PROG " %s\n", DSCK_VERSION);
			return DSCK_EXIT_OK;
		} else if (strcmp(s, "--json") == 0) {
			a->json = 1;
		} else if (strcmp(s, "--jsonl") == 0) {
			a->jsonl = 1;
		} else if (strcmp(s, "--tensors") == 0) {
			a->tensors = 1;
			if (opt_glob)
				a->tensors_glob = argv[++i];
		} else if (strncmp(s, "--tensors=", 10) == 0) {
			a->tensors = 1;
			a->tensors_glob = s + 10;
		} else if (strcmp(s, "--stats") == 0) {
			a->stats = 1;
			if (opt_glob)
				a->stats_glob = argv[++i];
		} else if (strncmp(s, "--stats=", 8) == 0) {
			a->stats = 1;
			a->stats_glob = s + 8;
		} else if (strcmp(s, "-j") == 0 || strcmp(s, "--jobs") == 0) {
			if (i + 1 >= argc)
				return usage_error("%s needs a number", s);
			if (parse_threads(argv[++i], &a->threads))
				return usage_error("bad thread count '%s' (1..256)", argv[i]);
		} else if (strncmp(s, "-j", 2) == 0) { /* -jN */
			if (parse_threads(s + 2, &a->threads))
				return usage_error("bad thread count '%s' (1..256)", s + 2);
		} else if (strncmp(s, "--jobs=", 7) == 0) {
			if (parse_threads(s + 7, &a->threads))
				return usage_error("bad thread count '%s' (1..256)", s + 7);
		} else {
			return usage_error("unknown option '%s'", s);
		}
	}
	if (!a->path)
		return usage_error("%s", "missing PATH");
	if (a->json && a->jsonl)
		return usage_error("%s", "--json and --jsonl exclude each other");
	if (a->jsonl && !a->tensors && !a->stats)
		a->tensors = 1;
	return -1;
}

static int report_error(const struct dsck_error *err)
{
	char line[2048];
	dsck_error_format(err, line, sizeof line);
	fprintf(stderr, PROG ": error: %s\n", line);
	return dsck_err_exit_code(err->code);
}

static void on_progress(void *ctx, uint64_t done, uint64_t total)
{
	dsck_progress_update(ctx, done, total);
}

int main(int argc, char **argv)
{
	struct args a;
	struct dsck_error err;
	struct dsck_ckpt *ck = NULL;
	struct insp_summary sum;
	struct dsck_tensor_stats *st = NULL;
	size_t n_st = 0;
	int have_sum = 0, rc_out = 0, code;
	enum dsck_err rc;

	code = args_parse(argc, argv, &a);
	if (code >= 0)
		return code;
	dsck_error_clear(&err);
	rc = dsck_ckpt_open(a.path, &ck, &err);
	if (rc)
		goto fail;
	if (!a.jsonl) {
		rc = insp_summary_build(ck, &sum, &err);
		if (rc)
			goto fail;
		have_sum = 1;
	}
	if (a.stats) {
		/* A progress bar only on a terminal: pipes and logs stay clean. */
		struct dsck_progress pg;
		dsck_progress_init(&pg, STDERR_FILENO, dsck_progress_auto(STDERR_FILENO, 0),
				   "stats");
		rc = dsck_stats_compute(ck, a.stats_glob, a.threads, on_progress, &pg, &st,
					&n_st, &err);
		dsck_progress_finish(&pg);
		if (rc)
			goto fail;
	}

	struct insp_view view = { a.tensors, a.tensors_glob, a.stats, st, n_st };
	if (a.jsonl)
		rc_out = insp_print_jsonl(stdout, ck, &view);
	else if (a.json)
		rc_out = insp_print_json(stdout, ck, &sum, &view);
	else
		rc_out = insp_print_text(stdout, ck, &sum, &view);
	if (rc_out) {
		rc = dsck_error_set(&err, DSCK_E_NOMEM, "building the output");
		goto fail;
	}
	if (fflush(stdout) != 0 || ferror(stdout)) {
		rc = dsck_error_set(&err, DSCK_E_IO, "writing to stdout: %s", strerror(errno));
		goto fail;
	}
	code = DSCK_EXIT_OK;
	goto out;
fail:
	code = report_error(&err);
out:
	dsck_stats_free(st);
	if (have_sum)
		insp_summary_release(&sum);
	dsck_ckpt_close(ck);
	return code;
}
