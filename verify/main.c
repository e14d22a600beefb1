/*
 * dsck-verify - structure and integrity of a checkpoint.
 *
 *   dsck-verify [--manifest-write FILE | --manifest FILE] [--scan] [-j N]
 *               [--json] [--progress bar|json|none] [-q] PATH
 *
 * Structure (always, when config.json is present): the tensors against the
 * inventory the config implies (lib/check.h). Manifest: write the SHA-256 of
 * every file and tensor, or check them against a manifest (formats.md §7).
 * --scan: NaN/Inf over all data, and zero, negative or non-finite scales.
 * Exit 0 when everything matches, 4 with any finding, 1/2/3 on errors.
 */
#include "arith.h"
#include "check.h"
#include "ckpt.h"
#include "manifest.h"
#include "progress.h"
#include "stats.h"

#include <cjson/cJSON.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_TEXT_FINDINGS 200 /* text mode lists this many, then counts */

static const char usage_text[] =
	"usage: dsck-verify [options] PATH\n"
	"\n"
	"Check a checkpoint (directory, index.json or .safetensors file).\n"
	"Without options: every tensor against what config.json implies\n"
	"(missing, unexpected, dtype, shape, scale grids, FP8 without scale).\n"
	"\n"
	"  --manifest-write FILE  hash every file and tensor into FILE (SHA-256);\n"
	"                         - writes it to standard output\n"
	"  --manifest FILE        check against FILE (- reads standard input);\n"
	"                         names each file and tensor that differs\n"
	"  --scan                 read all data: NaN/Inf values, zero, negative or\n"
	"                         non-finite scales\n"
	"  -j, --threads N        worker threads (default: all cores)\n"
	"      --json             one JSON document on stdout\n"
	"      --progress MODE    bar (default on a terminal), json (lines on\n"
	"                         stderr) or none\n"
	"  -q, --quiet            only findings and errors\n"
	"  -h, --help             this help\n"
	"      --version          print the version\n"
	"\n"
	"Exit status: 0 all checks passed, 1 invalid input, 2 usage,\n"
	"3 I/O error, 4 verification mismatch.\n"
	"\n"
	"Examples:\n"
	"  dsck-verify ./DeepSeek-V3\n"
	"  dsck-verify --manifest-write v3.manifest.json ./DeepSeek-V3\n"
	"  dsck-verify --manifest v3.manifest.json --scan ./copy-of-DeepSeek-V3\n";

struct opts {
	const char *path;
	const char *manifest_write;
	const char *manifest_check;
	int scan;
	int threads;
	int json;
	int quiet;
	enum dsck_progress_mode progress;
	int progress_set;
};

struct report {
	const struct opts *o;
	FILE *out;         /* text findings: stdout, or stderr when stdout holds the manifest */
	size_t n;          /* findings so far */
	size_t shown;
	cJSON *list;       /* --json: findings array */
};

static void finding_emit(struct report *r, const char *kind, const char *file,
			 const char *tensor, const char *expected,
			 const char *found, const char *detail)
{
	r->n++;
	if (r->list) {
		cJSON *f = cJSON_CreateObject();
		cJSON_AddStringToObject(f, "kind", kind);
		if (file)
			cJSON_AddStringToObject(f, "file", file);
		if (tensor)
			cJSON_AddStringToObject(f, "tensor", tensor);
		if (expected && expected[0])
			cJSON_AddStringToObject(f, "expected", expected);
		if (found && found[0])
			cJSON_AddStringToObject(f, "found", found);
		if (detail)
			cJSON_AddStringToObject(f, "detail", detail);
		cJSON_AddItemToArray(r->list, f);
		return;
	}
	if (r->shown >= MAX_TEXT_FINDINGS)
		return;
	r->shown++;
	fprintf(r->out, "%-13s %s", kind, tensor ? tensor : file ? file : "");
	if (tensor && file)
		fprintf(r->out, " (%s)", file);
	if (expected && expected[0] && found && found[0])
		fprintf(r->out, ": expected %s, found %s", expected, found);
	else if (expected && expected[0])
		fprintf(r->out, ": expected %s", expected);
	else if (found && found[0])
		fprintf(r->out, ": found %s", found);
	if (detail)
		fprintf(r->out, ": %s", detail);
	fputc('\n', r->out);
}

static void on_finding(const struct dsck_finding *f, void *user)
{
	finding_emit(user, dsck_finding_kind_name(f->kind), f->file, f->tensor,
		     f->expected, f->found, f->detail);
}

static void on_diff(const struct dsck_manifest_diff *d, void *user)
{
	char kind[32];
	snprintf(kind, sizeof kind, "%s", dsck_manifest_diff_name(d->kind));
	for (char *p = kind; *p; p++)
		*p = (char)(*p >= 'A' && *p <= 'Z' ? *p - 'A' + 'a' : *p);
	/* The model hash belongs to no one file or tensor: name it (MF-R3). */
	const char *what = d->kind == DSCK_DIFF_MODEL_HASH ? "model_sha256" : d->tensor;
	finding_emit(user, kind, d->file, what, d->expected, d->found, NULL);
}

static void on_progress_manifest(uint64_t done, uint64_t total, void *user)
{
	dsck_progress_update(user, done, total);
}

static void on_progress_stats(void *user, uint64_t done, uint64_t total)
{
	dsck_progress_update(user, done, total);
}

static int die_error(const struct dsck_error *e)
{
	char line[2048];
	dsck_error_format(e, line, sizeof line);
	fprintf(stderr, "dsck-verify: error: %s\n", line);
	return dsck_err_exit_code(e->code);
}

static int usage_error(const char *msg)
{
	fprintf(stderr, "dsck-verify: %s\ntry 'dsck-verify --help'\n", msg);
	return DSCK_EXIT_USAGE;
}

static int ends_with(const char *s, const char *suffix)
{
	size_t a = strlen(s), b = strlen(suffix);
	return a >= b && memcmp(s + a - b, suffix, b) == 0;
}

/* --scan: values that no healthy checkpoint has. */
static enum dsck_err run_scan(const struct dsck_ckpt *ck, const struct opts *o,
			      struct report *r, struct dsck_error *err)
{
	struct dsck_tensor_stats *st = NULL;
	size_t n = 0;
	struct dsck_progress prog;
	dsck_progress_init(&prog, 2, o->progress, "scan");
	enum dsck_err rc = dsck_stats_compute(ck, NULL, o->threads, on_progress_stats,
					      &prog, &st, &n, err);
	dsck_progress_finish(&prog);
	if (rc)
		return rc;
	for (size_t i = 0; i < n; i++) {
		const struct dsck_tensor_stats *s = &st[i];
		const char *file = ck->shard_names[ck->tensors[s->tensor].shard];
		char found[96], detail[160];
		if (!s->computed)
			continue;
		if (ends_with(s->name, "_scale_inv")) {
			uint64_t nonpos = s->s.zero_count + (s->s.min < 0 ? 1 : 0);
			if (s->s.nan_count || s->s.inf_count || s->s.zero_count || s->s.min < 0) {
				snprintf(found, sizeof found,
					 "%llu NaN, %llu Inf, %llu zero, min %g",
					 (unsigned long long)s->s.nan_count,
					 (unsigned long long)s->s.inf_count,
					 (unsigned long long)s->s.zero_count, s->s.min);
				snprintf(detail, sizeof detail, "%s",
					 nonpos ? "scales must be positive and finite: the weight dequantizes to zeros or flips sign"
						: "scales must be finite");
				finding_emit(r, "values", file, s->name,
					     "positive finite scales", found, detail);
			}
			continue;
		}
		if (s->s.nan_count || s->s.inf_count) {
			snprintf(found, sizeof found, "%llu NaN, %llu Inf of %llu values",
				 (unsigned long long)s->s.nan_count,
				 (unsigned long long)s->s.inf_count,
				 (unsigned long long)s->s.count);
			finding_emit(r, "values", file, s->name, "finite values", found, NULL);
		}
	}
	dsck_stats_free(st);
	return DSCK_OK;
}

/*
 * --manifest on a checkpoint that no longer opens (a changed byte in a
 * header, a truncated shard): the open error becomes a "header" finding
 * naming the file and, where the error knows it, the tensor; then every
 * file the manifest lists is compared (MF-R5).
 */
static enum dsck_err verify_files_only(const char *path,
				       const struct dsck_manifest *expected,
				       const struct dsck_error *open_err,
				       struct report *r, struct dsck_error *err)
{
	char line[2048];
	size_t n;
	dsck_error_format(open_err, line, sizeof line);
	const char *bad_file = open_err->file[0] ? open_err->file : NULL;
	if (bad_file && strrchr(bad_file, '/'))
		bad_file = strrchr(bad_file, '/') + 1;
	finding_emit(r, "header", bad_file, open_err->tensor[0] ? open_err->tensor : NULL,
		     NULL, NULL, line);
	return dsck_manifest_compare_files(path, expected, on_diff, r, &n, err);
}

static int parse_args(int argc, char **argv, struct opts *o)
{
	enum { OPT_MW = 256, OPT_MC, OPT_JSON, OPT_VERSION, OPT_PROGRESS };
	static const struct option longopts[] = {
		{ "manifest-write", required_argument, NULL, OPT_MW },
		{ "manifest", required_argument, NULL, OPT_MC },
		{ "scan", no_argument, NULL, 's' },
		{ "threads", required_argument, NULL, 'j' },
		{ "json", no_argument, NULL, OPT_JSON },
		{ "progress", required_argument, NULL, OPT_PROGRESS },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, OPT_VERSION },
		{ NULL, 0, NULL, 0 },
	};
	int c;
	uint64_t v;
	memset(o, 0, sizeof *o);
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":j:qh", longopts, NULL)) != -1) {
		switch (c) {
		case OPT_MW: o->manifest_write = optarg; break;
		case OPT_MC: o->manifest_check = optarg; break;
		case 's': o->scan = 1; break;
		case 'j':
			if (dsck_u64_parse(optarg, 1024, &v) || v < 1)
				return usage_error("-j needs a thread count from 1 to 1024");
			o->threads = (int)v;
			break;
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
			printf("dsck-verify %s\n", DSCK_VERSION);
			exit(0);
		case ':':
			return usage_error("an option is missing its argument");
		default:
			return usage_error("unknown option");
		}
	}
	if (optind != argc - 1)
		return usage_error(optind >= argc ? "missing PATH" : "expected exactly one PATH");
	if (o->manifest_write && o->manifest_check)
		return usage_error("--manifest-write and --manifest exclude each other");
	if (o->manifest_write && strcmp(o->manifest_write, "-") == 0 && o->json)
		return usage_error("--manifest-write - and --json both want standard output");
	o->path = argv[optind];
	if (!o->progress_set)
		o->progress = dsck_progress_auto(2, o->quiet);
	return 0;
}

int main(int argc, char **argv)
{
	struct opts o;
	struct dsck_error err;
	struct dsck_ckpt *ck = NULL;
	struct dsck_manifest actual = DSCK_MANIFEST_INIT, expected = DSCK_MANIFEST_INIT;
	struct report r = { &o, stdout, 0, 0, NULL };
	cJSON *doc = NULL;
	int status;
	enum dsck_err rc;
	const char *structure = "skipped", *manifest = "skipped", *scan = "skipped";

	if ((status = parse_args(argc, argv, &o)) != 0)
		return status;
	if (o.manifest_write && strcmp(o.manifest_write, "-") == 0)
		r.out = stderr;
	dsck_error_clear(&err);
	if (o.json) {
		doc = cJSON_CreateObject();
		r.list = cJSON_CreateArray();
	}
	if (o.manifest_check && strcmp(o.manifest_check, "-") == 0) {
		char *text = NULL;
		size_t len = 0;
		rc = dsck_fd_read_all(0, "standard input", DSCK_MANIFEST_MAX_BYTES, &text, &len, &err);
		if (!rc)
			rc = dsck_manifest_parse(text, len, "standard input", &expected, &err);
		free(text);
		if (rc)
			goto fail;
	} else if (o.manifest_check && (rc = dsck_manifest_load(o.manifest_check, &expected, &err))) {
		goto fail;
	}
	if ((rc = dsck_ckpt_open(o.path, &ck, &err))) {
		if (!o.manifest_check || dsck_err_exit_code(rc) != DSCK_EXIT_INPUT)
			goto fail;
		struct dsck_error open_err = err;
		dsck_error_clear(&err);
		if ((rc = verify_files_only(o.path, &expected, &open_err, &r, &err)))
			goto fail;
		structure = "unreadable";
		manifest = "mismatch";
		status = DSCK_EXIT_MISMATCH;
		goto report;
	}

	if (ck->mp_ranks && !o.manifest_write && !o.manifest_check && !o.scan) {
		/* the structure check reads the HF layout; manifests and the
		 * scan work on MP files (MF-R6) */
		dsck_error_file(&err, o.path);
		rc = dsck_error_set(&err, DSCK_E_UNSUPPORTED,
				    "a directory of DeepSeek model-parallel files (%u ranks): check it with --manifest or --scan, or its structure after dsck-shard --hf %s DIR",
				    ck->mp_ranks, o.path);
		goto fail;
	}
	if (ck->has_config && !ck->mp_ranks) {
		size_t nf = 0, before = r.n;
		if ((rc = dsck_check_structure(ck, on_finding, &r, &nf, &err)))
			goto fail;
		structure = r.n == before ? "ok" : "mismatch";
	} else if (!o.manifest_write && !o.manifest_check && !o.scan) {
		dsck_error_file(&err, o.path);
		rc = dsck_error_set(&err, DSCK_E_CONFIG_MISSING,
				    "no config.json, so nothing to check the tensors against; give a checkpoint directory, or use --manifest or --scan");
		goto fail;
	}

	if (o.manifest_write || o.manifest_check) {
		struct dsck_progress prog;
		struct dsck_manifest_opts mo = { 0 };
		mo.threads = o.threads > 0 ? (unsigned)o.threads
					   : (unsigned)sysconf(_SC_NPROCESSORS_ONLN);
		mo.progress = on_progress_manifest;
		mo.user = &prog;
		dsck_progress_init(&prog, 2, o.progress, "hash");
		rc = dsck_manifest_compute(ck, &mo, &actual, &err);
		dsck_progress_finish(&prog);
		if (rc)
			goto fail;
		if (o.manifest_write) {
			if (strcmp(o.manifest_write, "-") == 0) {
				/* The manifest is the output: nothing else on stdout. */
				if ((rc = dsck_manifest_write_fd(&actual, 1, &err)))
					goto fail;
				o.quiet = 1;
			} else if ((rc = dsck_manifest_write(&actual, o.manifest_write, &err))) {
				goto fail;
			}
			manifest = "written";
		} else {
			size_t before = r.n;
			dsck_manifest_compare(&expected, &actual, on_diff, &r);
			manifest = r.n == before ? "ok" : "mismatch";
		}
	}
	if (o.scan) {
		size_t before = r.n;
		if ((rc = run_scan(ck, &o, &r, &err)))
			goto fail;
		scan = r.n == before ? "ok" : "mismatch";
	}

	status = r.n ? DSCK_EXIT_MISMATCH : DSCK_EXIT_OK;
report:
	if (doc) {
		cJSON_AddStringToObject(doc, "path", o.path);
		cJSON_AddBoolToObject(doc, "ok", r.n == 0);
		if (ck) {
			cJSON_AddNumberToObject(doc, "tensors", (double)ck->n);
			cJSON_AddNumberToObject(doc, "shards", (double)ck->n_shards);
		}
		cJSON *checks = cJSON_AddObjectToObject(doc, "checks");
		cJSON_AddStringToObject(checks, "structure", structure);
		cJSON_AddStringToObject(checks, "manifest", manifest);
		cJSON_AddStringToObject(checks, "scan", scan);
		if (actual.n_files)
			cJSON_AddStringToObject(doc, "model_sha256", actual.model_sha256);
		cJSON_AddNumberToObject(doc, "n_findings", (double)r.n);
		cJSON_AddItemToObject(doc, "findings", r.list);
		r.list = NULL;
		char *s = cJSON_Print(doc);
		if (s)
			puts(s);
		free(s);
	} else {
		if (r.n > r.shown)
			fprintf(r.out, "... and %zu more findings (use --json for all)\n", r.n - r.shown);
		if (!o.quiet || r.n) {
			fprintf(r.out, "%s: %s: ", r.n ? "MISMATCH" : "OK", o.path);
			if (ck)
				fprintf(r.out, "%zu tensors in %zu shards; ", ck->n, ck->n_shards);
			fprintf(r.out, "structure %s, manifest %s, scan %s", structure, manifest, scan);
			if (r.n)
				fprintf(r.out, "; %zu findings", r.n);
			fputc('\n', r.out);
			if (actual.n_files && !o.quiet)
				fprintf(r.out, "model sha256 %s\n", actual.model_sha256);
		}
	}
	goto out;
fail:
	status = die_error(&err);
out:
	cJSON_Delete(doc);
	cJSON_Delete(r.list);
	dsck_manifest_release(&actual);
	dsck_manifest_release(&expected);
	dsck_ckpt_close(ck);
	return status;
}
