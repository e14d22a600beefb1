/*
 * dsck-run - the reference forward pass from the command line.
 *
 *   dsck-run logits -m DIR (--tokens 1,2,3 | -p TEXT) -o OUT.npy
 *                   [--all-positions] [--dump-layers DIR]
 *   dsck-run generate -m DIR (--tokens ... | -p TEXT) [-n N]
 *
 * Logits and hidden states are float32 .npy files numpy loads. Timing
 * (prefill and decode tokens/s, peak RSS) goes to stderr.
 */
#include "ckpt.h"
#include "model.h"
#include "npy.h"
#include "progress.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

static const char usage_text[] =
	"usage: dsck-run COMMAND -m DIR [options]\n"
	"\n"
	"Run the fp32 reference forward pass of a DeepSeek-V3-family checkpoint\n"
	"(FP8 or BF16 weights, kept in their dtype and dequantized on the fly).\n"
	"\n"
	"commands:\n"
	"  logits    logits of a prompt as a float32 .npy file (-o)\n"
	"  generate  greedy continuation of a prompt, token ids on stdout\n"
	"\n"
	"  -m, --model DIR        checkpoint directory (HF layout)\n"
	"      --tokens LIST      prompt as token ids: 0,15,7\n"
	"  -o, --output FILE      logits .npy (logits)\n"
	"      --all-positions    logits of every position [n, vocab] (default: the last)\n"
	"      --dump-layers DIR  hidden states after each block: DIR/layer_NN.npy [n, dim]\n"
	"  -n, --n-predict N      tokens to generate (generate; default 16)\n"
	"      --attn MODE        naive or absorb (default absorb)\n"
	"      --ctx N            positions a sequence may hold (default 4096)\n"
	"  -t, --threads N        threads (default: all cores)\n"
	"  -q, --quiet            no timing on stderr\n"
	"  -h, --help             this help\n"
	"      --version          print the version\n"
	"\n"
	"Exit status: 0 done, 1 invalid input, 2 usage, 3 I/O error.\n";

struct opts {
	const char *cmd, *model, *tokens, *output, *dump;
	int all, quiet;
	unsigned threads;
	uint64_t n_predict, ctx;
	enum dsck_attn attn;
};

static int usage_error(const char *msg)
{
	fprintf(stderr, "dsck-run: %s\ntry 'dsck-run --help'\n", msg);
	return DSCK_EXIT_USAGE;
}

static int die_error(const struct dsck_error *e)
{
	char line[2048];
	dsck_error_format(e, line, sizeof line);
	fprintf(stderr, "dsck-run: error: %s\n", line);
	return dsck_err_exit_code(e->code);
}

static int parse_u64(const char *s, uint64_t max, uint64_t *out)
{
	char *end;
	unsigned long long v = strtoull(s, &end, 10);
	if (*end || s[0] < '0' || s[0] > '9' || v > max)
		return -1;
	*out = v;
	return 0;
}

static int parse_args(int argc, char **argv, struct opts *o)
{
	enum { OPT_TOKENS = 256, OPT_ALL, OPT_DUMP, OPT_ATTN, OPT_CTX, OPT_VERSION };
	static const struct option longopts[] = {
		{ "model", required_argument, NULL, 'm' },
		{ "tokens", required_argument, NULL, OPT_TOKENS },
		{ "output", required_argument, NULL, 'o' },
		{ "all-positions", no_argument, NULL, OPT_ALL },
		{ "dump-layers", required_argument, NULL, OPT_DUMP },
		{ "n-predict", required_argument, NULL, 'n' },
		{ "attn", required_argument, NULL, OPT_ATTN },
		{ "ctx", required_argument, NULL, OPT_CTX },
		{ "threads", required_argument, NULL, 't' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, OPT_VERSION },
		{ NULL, 0, NULL, 0 },
	};
	int c;
	uint64_t v;
	o->attn = DSCK_ATTN_ABSORB;
	o->n_predict = 16;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":m:o:n:t:qh", longopts, NULL)) != -1) {
		switch (c) {
		case 'm': o->model = optarg; break;
		case OPT_TOKENS: o->tokens = optarg; break;
		case 'o': o->output = optarg; break;
		case OPT_ALL: o->all = 1; break;
		case OPT_DUMP: o->dump = optarg; break;
		case 'n':
			if (parse_u64(optarg, 1u << 20, &o->n_predict))
				return usage_error("-n needs a token count");
			break;
		case OPT_ATTN:
			if (strcmp(optarg, "naive") == 0)
				o->attn = DSCK_ATTN_NAIVE;
			else if (strcmp(optarg, "absorb") == 0)
				o->attn = DSCK_ATTN_ABSORB;
			else
				return usage_error("--attn takes naive or absorb");
			break;
		case OPT_CTX:
			if (parse_u64(optarg, 1u << 24, &o->ctx) || o->ctx == 0)
				return usage_error("--ctx needs a position count");
			break;
		case 't':
			if (parse_u64(optarg, 1024, &v) || v == 0)
				return usage_error("-t needs a thread count from 1 to 1024");
			o->threads = (unsigned)v;
			break;
		case 'q': o->quiet = 1; break;
		case 'h':
			fputs(usage_text, stdout);
			exit(0);
		case OPT_VERSION:
			printf("dsck-run %s\n", DSCK_VERSION);
			exit(0);
		case ':':
			return usage_error("an option is missing its argument");
		default:
			return usage_error("unknown option");
		}
	}
	if (optind >= argc)
		return usage_error("missing COMMAND (logits or generate)");
	o->cmd = argv[optind++];
	if (optind != argc)
		return usage_error("unexpected argument after the options");
	if (strcmp(o->cmd, "logits") != 0 && strcmp(o->cmd, "generate") != 0)
		return usage_error("COMMAND is logits or generate");
	if (!o->model)
		return usage_error("-m DIR is required");
	if (!o->tokens)
		return usage_error("give the prompt with --tokens");
	if (strcmp(o->cmd, "logits") == 0 && !o->output)
		return usage_error("logits needs -o OUT.npy");
	return 0;
}

/* "1,2,3" into a new array. */
static int parse_tokens(const char *s, uint32_t **out, size_t *n)
{
	size_t cap = 16, k = 0;
	uint32_t *ids = malloc(cap * sizeof *ids);
	if (!ids)
		return -1;
	for (const char *p = s; *p;) {
		char *end;
		unsigned long v = strtoul(p, &end, 10);
		if (end == p || v > UINT32_MAX || (*end && *end != ',')) {
			free(ids);
			return -1;
		}
		if (k == cap) {
			uint32_t *q = realloc(ids, 2 * cap * sizeof *ids);
			if (!q) {
				free(ids);
				return -1;
			}
			ids = q;
			cap *= 2;
		}
		ids[k++] = (uint32_t)v;
		p = *end ? end + 1 : end;
	}
	if (k == 0) {
		free(ids);
		return -1;
	}
	*out = ids;
	*n = k;
	return 0;
}

struct dump_ctx {
	const char *dir;
	int failed;
	struct dsck_error err;
};

static void on_layer(void *user, uint64_t layer, const float *h, size_t n, uint64_t dim)
{
	struct dump_ctx *d = user;
	char path[4096];
	uint64_t shape[2] = { n, dim };
	if (d->failed)
		return;
	snprintf(path, sizeof path, "%s/layer_%02llu.npy", d->dir, (unsigned long long)layer);
	if (dsck_npy_write_f32(path, h, 2, shape, &d->err))
		d->failed = 1;
}

static uint32_t argmax(const float *v, uint64_t n)
{
	uint64_t best = 0;
	for (uint64_t i = 1; i < n; i++)
		if (v[i] > v[best])
			best = i;
	return (uint32_t)best;
}

static double peak_rss_mib(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_maxrss / 1024.0;
}

int main(int argc, char **argv)
{
	struct opts o;
	struct dsck_error err;
	struct dsck_ckpt *ck = NULL;
	struct dsck_model *m = NULL;
	struct dsck_seq *s = NULL;
	uint32_t *ids = NULL;
	size_t n = 0;
	float *logits = NULL;
	int status = 0;
	enum dsck_err rc;

	memset(&o, 0, sizeof o);
	if ((status = parse_args(argc, argv, &o)) != 0)
		return status;
	if (parse_tokens(o.tokens, &ids, &n))
		return usage_error("--tokens takes comma-separated token ids: 0,15,7");
	dsck_error_clear(&err);
	struct dsck_model_opts mo = { o.threads, o.attn, o.ctx };
	if ((rc = dsck_ckpt_open(o.model, &ck, &err)) || (rc = dsck_model_open(ck, &mo, &m, &err)) ||
	    (rc = dsck_seq_new(m, &s, &err)))
		goto fail;
	size_t rows = strcmp(o.cmd, "logits") == 0 && o.all ? n : 1;
	logits = malloc(rows * m->vocab * sizeof *logits);
	if (!logits) {
		rc = dsck_error_set(&err, DSCK_E_NOMEM, "logits");
		goto fail;
	}
	struct dump_ctx dump = { o.dump, 0, { 0 } };
	double t0 = dsck_now();
	rc = dsck_model_forward(m, s, ids, n, rows > 1, logits, o.dump ? on_layer : NULL, &dump, &err);
	if (rc)
		goto fail;
	if (dump.failed) {
		err = dump.err;
		rc = err.code;
		goto fail;
	}
	double t1 = dsck_now();
	if (strcmp(o.cmd, "logits") == 0) {
		uint64_t shape[2] = { rows, m->vocab };
		rc = rows > 1 ? dsck_npy_write_f32(o.output, logits, 2, shape, &err)
			      : dsck_npy_write_f32(o.output, logits, 1, shape + 1, &err);
		if (rc)
			goto fail;
		if (!o.quiet)
			fprintf(stderr, "dsck-run: %zu tokens in %.3f s (%.1f tokens/s), peak RSS %.0f MiB\n",
				n, t1 - t0, (double)n / (t1 - t0), peak_rss_mib());
		goto done;
	}
	/* generate: greedy */
	uint64_t produced = 0;
	for (; produced < o.n_predict; produced++) {
		uint32_t next = argmax(logits, m->vocab);
		printf("%s%u", produced ? "," : "", next);
		fflush(stdout);
		if (m->cfg->eos_token_id >= 0 && next == (uint32_t)m->cfg->eos_token_id)
			break;
		if (produced + 1 == o.n_predict)
			break;
		rc = dsck_model_forward(m, s, &next, 1, 0, logits, NULL, NULL, &err);
		if (rc)
			goto fail;
	}
	printf("\n");
	double t2 = dsck_now();
	if (!o.quiet)
		fprintf(stderr, "dsck-run: prefill %zu tokens %.1f tokens/s, decode %llu tokens %.2f tokens/s, peak RSS %.0f MiB\n",
			n, (double)n / (t1 - t0), (unsigned long long)produced,
			produced ? (double)produced / (t2 - t1) : 0.0, peak_rss_mib());
	goto done;
fail:
	status = die_error(&err);
done:
	free(logits);
	free(ids);
	dsck_seq_free(s);
	dsck_model_close(m);
	dsck_ckpt_close(ck);
	return status;
}
