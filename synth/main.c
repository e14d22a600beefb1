/*
 * dsck-synth - write a synthetic DeepSeek-V3-family checkpoint directory.
 *
 * A thin CLI over dsck_synth_write (lib/synth.h): parse options, show a
 * progress line on a terminal, print one summary (text or --json) on
 * stdout. Exit codes: 0 ok, 1 invalid input, 2 usage, 3 I/O.
 */
#include "arith.h"
#include "err.h"
#include "synth.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifndef DSCK_VERSION
#define DSCK_VERSION "0.0.0"
#endif

/* Without --force, refuse a dense write above this (the 671b preset). */
#define DENSE_LIMIT (64ull << 30)

static void usage(FILE *f)
{
	fprintf(f,
		"usage: dsck-synth --preset NAME [-o DIR] [options]\n"
		"       dsck-synth --config FILE [-o DIR] [options]\n"
		"       dsck-synth --planted [-o DIR] [options]\n"
		"\n"
		"Write a complete synthetic checkpoint directory: config.json,\n"
		"generation_config.json, model.safetensors.index.json, shards,\n"
		"tokenizer.json and tokenizer_config.json.\n"
		"\n"
		"  --preset NAME    tiny (about 22 MB), small (about 1.1 GB) or 671b\n"
		"                   (the real config, 163 shards; needs --sparse or --force)\n"
		"  --config FILE    use this config.json instead of a preset\n"
		"  -o, --output DIR output directory (default ./synth-PRESET)\n"
		"  --sparse         tensor data as file holes: headers only, no disk\n"
		"  --planted        planted weights (the tiny preset unless --preset or\n"
		"                   --config): greedy generation continues the lowercase\n"
		"                   alphabet from the prompt's last letter (\"hello\" ->\n"
		"                   \"pqrstu...\"), so a damaged conversion shows in\n"
		"                   dsck-run's output; default output ./synth-planted\n"
		"  --layers N       override num_hidden_layers\n"
		"  --experts N      override n_routed_experts\n"
		"  --dtype fp8|bf16 checkpoint dtype (default: from the config)\n"
		"  --seed S         seed of the values (default 0)\n"
		"  --force          write into a non-empty directory; allow a\n"
		"                   dense write above 64 GiB\n"
		"  --json           print the summary as JSON\n"
		"  -q, --quiet      no progress line, no text summary\n"
		"  --help, --version\n"
		"\n"
		"Exit codes: 0 ok, 1 invalid input, 2 usage, 3 I/O.\n");
}

static int fail(const struct dsck_error *e)
{
	char line[2048];
	dsck_error_format(e, line, sizeof line);
	fprintf(stderr, "dsck-synth: error: %s\n", line);
	return dsck_err_exit_code(e->code);
}

static int fail_usage(const char *fmt, const char *arg)
{
	struct dsck_error e;
	dsck_error_clear(&e);
	dsck_error_set(&e, DSCK_E_USAGE, fmt, arg);
	return fail(&e);
}

struct progress_state {
	int last_pct;
};

static void on_progress(void *arg, const struct dsck_synth_progress *p)
{
	struct progress_state *ps = arg;
	int pct = p->bytes_total ? (int)(p->bytes_done * 100 / p->bytes_total) : 100;
	if (pct == ps->last_pct)
		return;
	ps->last_pct = pct;
	fprintf(stderr, "\rdsck-synth: shard %zu/%zu, %3d%%", p->shard,
		p->n_shards, pct);
	fflush(stderr);
}

int main(int argc, char **argv)
{
	enum { O_PRESET = 256, O_CONFIG, O_SPARSE, O_LAYERS, O_EXPERTS, O_DTYPE,
	       O_SEED, O_FORCE, O_JSON, O_HELP, O_VERSION, O_PLANTED };
	static const struct option longopts[] = {
		{ "preset", required_argument, NULL, O_PRESET },
		{ "config", required_argument, NULL, O_CONFIG },
		{ "output", required_argument, NULL, 'o' },
		{ "sparse", no_argument, NULL, O_SPARSE },
		{ "planted", no_argument, NULL, O_PLANTED },
		{ "layers", required_argument, NULL, O_LAYERS },
		{ "experts", required_argument, NULL, O_EXPERTS },
		{ "dtype", required_argument, NULL, O_DTYPE },
		{ "seed", required_argument, NULL, O_SEED },
		{ "force", no_argument, NULL, O_FORCE },
		{ "json", no_argument, NULL, O_JSON },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, O_HELP },
		{ "version", no_argument, NULL, O_VERSION },
		{ NULL, 0, NULL, 0 },
	};
	struct dsck_synth_opts o;
	struct dsck_synth_result res;
	struct dsck_error e;
	struct progress_state ps = { -1 };
	const char *preset = NULL, *out = NULL;
	char default_out[96];
	int json = 0, quiet = 0, c;
	uint64_t v;

	dsck_synth_opts_init(&o);
	dsck_error_clear(&e);
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":o:q", longopts, NULL)) != -1) {
		switch (c) {
		case O_PRESET: preset = optarg; break;
		case O_CONFIG: o.config_path = optarg; break;
		case 'o': out = optarg; break;
		case O_SPARSE: o.sparse = 1; break;
		case O_PLANTED: o.planted = 1; break;
		case O_FORCE: o.force = 1; break;
		case O_JSON: json = 1; break;
		case 'q': quiet = 1; break;
		case O_LAYERS:
		case O_EXPERTS:
			if (dsck_u64_parse(optarg, 1u << 20, &v) != 0)
				return fail_usage("not a layer or expert count: '%s'", optarg);
			if (c == O_LAYERS)
				o.layers = (int64_t)v;
			else
				o.experts = (int64_t)v;
			break;
		case O_DTYPE:
			if (strcmp(optarg, "fp8") == 0)
				o.dtype = DSCK_SYNTH_DTYPE_FP8;
			else if (strcmp(optarg, "bf16") == 0)
				o.dtype = DSCK_SYNTH_DTYPE_BF16;
			else
				return fail_usage("--dtype must be fp8 or bf16, not '%s'", optarg);
			break;
		case O_SEED:
			if (dsck_u64_parse(optarg, UINT64_MAX, &o.seed) != 0)
				return fail_usage("--seed needs an unsigned integer, not '%s'",
						  optarg);
			break;
		case O_HELP:
			usage(stdout);
			return DSCK_EXIT_OK;
		case O_VERSION:
			printf("dsck-synth %s\n", DSCK_VERSION);
			return DSCK_EXIT_OK;
		case ':':
			return fail_usage("option '%s' needs a value", argv[optind - 1]);
		default:
			return fail_usage("unknown option '%s' (see --help)",
					  argv[optind - 1]);
		}
	}
	if (optind < argc)
		return fail_usage("unexpected argument '%s'", argv[optind]);
	if (preset && o.config_path)
		return fail_usage("%s", "--preset and --config exclude each other");
	if (o.planted && o.sparse)
		return fail_usage("%s", "--planted needs the data: not with --sparse");
	if (!preset && !o.config_path && o.planted)
		preset = "tiny";
	if (!preset && !o.config_path)
		return fail_usage("%s", "--preset NAME or --config FILE is required");
	if (preset) {
		int known = 0;
		for (size_t i = 0; dsck_synth_preset_names[i]; i++)
			known |= strcmp(preset, dsck_synth_preset_names[i]) == 0;
		if (!known)
			return fail_usage("unknown preset '%s' (tiny, small, 671b)", preset);
		o.preset = preset;
	}
	if (!out) {
		snprintf(default_out, sizeof default_out, "./synth-%s",
			 o.planted ? "planted" : preset ? preset : "custom");
		out = default_out;
	}
	o.out_dir = out;
	o.max_dense_bytes = o.force ? 0 : DENSE_LIMIT;
	if (!quiet && isatty(STDERR_FILENO)) {
		o.progress = on_progress;
		o.progress_arg = &ps;
	}

	enum dsck_err rc = dsck_synth_write(&o, &res, &e);
	if (o.progress && ps.last_pct >= 0)
		fprintf(stderr, "\n");
	if (rc)
		return fail(&e);
	if (json) {
		printf("{\"dir\": ");
		/* out is a path given by the user: print it as a JSON string */
		putchar('"');
		for (const unsigned char *s = (const unsigned char *)out; *s; s++) {
			if (*s == '"' || *s == '\\')
				printf("\\%c", *s);
			else if (*s < 0x20)
				printf("\\u%04x", *s);
			else
				putchar(*s);
		}
		printf("\", \"files\": %zu, \"shards\": %zu, \"tensors\": %zu, "
		       "\"bytes\": %" PRIu64 ", \"payload_bytes\": %" PRIu64 ", "
		       "\"data_written\": %" PRIu64 ", \"dtype\": \"%s\", "
		       "\"sparse\": %s, \"planted\": %s}\n",
		       res.n_files, res.n_shards, res.n_tensors, res.file_bytes,
		       res.payload_bytes, res.data_written, res.fp8 ? "fp8" : "bf16",
		       o.sparse ? "true" : "false", res.planted ? "true" : "false");
	} else if (!quiet) {
		printf("%s: %zu files (%zu shards), %zu tensors, %" PRIu64
		       " bytes%s, %s%s\n",
		       out, res.n_files, res.n_shards, res.n_tensors, res.file_bytes,
		       o.sparse ? " (sparse)" : "", res.fp8 ? "fp8" : "bf16",
		       res.planted ? ", planted" : "");
	}
	return DSCK_EXIT_OK;
}
