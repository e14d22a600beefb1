/*
 * dsck-run - the reference forward pass from the command line.
 *
 *   dsck-run generate -m DIR (-p TEXT | -f FILE | --tokens LIST) [-n N]
 *                     [--temperature T] [--top-p P] [--seed S] [--chat]
 *   dsck-run generate -m DIR --prompts FILE [--parallel N] [-n N] ...
 *   dsck-run logits -m DIR (--tokens LIST | -p TEXT) -o OUT.npy
 *                   [--all-positions] [--dump-layers DIR]
 *   dsck-run ppl -m DIR -f TEXT
 *   dsck-run tokenize -m DIR (-p TEXT | -f FILE) [--lines] [--chat]
 *
 * Logits and hidden states are float32 .npy files numpy loads. Timing
 * (prefill and decode tokens/s, peak RSS) goes to stderr.
 */
#include "arith.h"
#include "ckpt.h"
#include "model.h"
#include "npy.h"
#include "progress.h"
#include "batch.h"
#include "chat.h"
#include "comm_mpi.h"
#include "sample.h"
#include "tokenizer.h"
#include "jsonw.h"

#include <getopt.h>
#include <math.h>
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
	"  generate  continue a prompt, streaming text to stdout (greedy at -T 0)\n"
	"  logits    logits of a prompt as a float32 .npy file (-o)\n"
	"  ppl       perplexity and mean negative log-likelihood of a text (-f)\n"
	"  tokenize  the token ids of a text, as --tokens takes them (no weights read)\n"
	"\n"
	"  -m, --model DIR        checkpoint directory (HF layout, with tokenizer.json)\n"
	"  -p, --prompt TEXT      prompt text\n"
	"  -f, --file FILE        prompt or text from FILE (- for standard input)\n"
	"      --tokens LIST      prompt as token ids: 0,15,7 (no tokenizer needed)\n"
	"      --chat             wrap the prompt in the DeepSeek chat format\n"
	"      --prompts FILE     generate: each non-empty line of FILE (- for standard\n"
	"                         input) is a prompt; they run together, and each\n"
	"                         result is one JSON line, in order\n"
	"      --parallel N       --prompts: sequences per forward call (default 8)\n"
	"      --lines            tokenize: each line of the text on its own, one output\n"
	"                         line each\n"
	"  -n, --n-predict N      tokens to generate (default 64)\n"
	"  -T, --temperature T    sampling temperature (default 0: greedy)\n"
	"      --top-p P          nucleus sampling mass (default 1)\n"
	"  -s, --seed S           sampling seed (default 1)\n"
	"  -o, --output FILE      logits .npy (logits)\n"
	"      --all-positions    logits of every position [n, vocab] (default: the last)\n"
	"      --dump-layers DIR  hidden states after each block: DIR/layer_NN.npy [n, dim]\n"
	"      --mtp-output FILE  logits: the MTP block's next-next-token logits\n"
	"                         [n-1, vocab] (row i predicts token i+2)\n"
	"      --attn MODE        naive or absorb (default absorb)\n"
	"      --ctx N            positions a sequence may hold (default 4096)\n"
	"  -t, --threads N        threads (default: all cores)\n"
	"  -q, --quiet            no timing on stderr\n"
	"  -h, --help             this help\n"
	"      --version          print the version\n"
	"\n"
	"Exit status: 0 done, 1 invalid input, 2 usage, 3 I/O error.\n"
	"\n"
	"Examples:\n"
	"  dsck-run generate -m ./tiny -p 'Hello' -n 16\n"
	"  dsck-run generate -m ./tiny --prompts prompts.txt -n 32 > out.jsonl\n"
	"  dsck-run logits -m ./tiny --tokens 1,5,9 --all-positions -o logits.npy\n"
	"  dsck-run ppl -m ./tiny -f wiki.txt\n"
	"  dsck-run tokenize -m ./tiny -p 'Hello world'\n";

struct opts {
	const char *cmd, *model, *tokens, *output, *dump, *prompt, *file, *mtp, *prompts;
	int all, quiet, chat, lines;
	unsigned threads, parallel;
	uint64_t n_predict, ctx, seed;
	float temperature, top_p;
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

static int parse_args(int argc, char **argv, struct opts *o)
{
	enum { OPT_TOKENS = 256, OPT_ALL, OPT_DUMP, OPT_ATTN, OPT_CTX, OPT_VERSION, OPT_CHAT,
	       OPT_TOPP, OPT_MTP, OPT_PROMPTS, OPT_PARALLEL, OPT_LINES };
	static const struct option longopts[] = {
		{ "model", required_argument, NULL, 'm' },
		{ "prompt", required_argument, NULL, 'p' },
		{ "file", required_argument, NULL, 'f' },
		{ "chat", no_argument, NULL, OPT_CHAT },
		{ "prompts", required_argument, NULL, OPT_PROMPTS },
		{ "parallel", required_argument, NULL, OPT_PARALLEL },
		{ "lines", no_argument, NULL, OPT_LINES },
		{ "temperature", required_argument, NULL, 'T' },
		{ "top-p", required_argument, NULL, OPT_TOPP },
		{ "seed", required_argument, NULL, 's' },
		{ "tokens", required_argument, NULL, OPT_TOKENS },
		{ "output", required_argument, NULL, 'o' },
		{ "all-positions", no_argument, NULL, OPT_ALL },
		{ "dump-layers", required_argument, NULL, OPT_DUMP },
		{ "mtp-output", required_argument, NULL, OPT_MTP },
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
	char *end;
	o->attn = DSCK_ATTN_ABSORB;
	o->n_predict = 64;
	o->top_p = 1;
	o->seed = 1;
	o->parallel = 8;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":m:p:f:T:s:o:n:t:qh", longopts, NULL)) != -1) {
		switch (c) {
		case 'm': o->model = optarg; break;
		case 'p': o->prompt = optarg; break;
		case 'f': o->file = optarg; break;
		case OPT_CHAT: o->chat = 1; break;
		case OPT_PROMPTS: o->prompts = optarg; break;
		case OPT_LINES: o->lines = 1; break;
		case OPT_PARALLEL:
			if (dsck_u64_parse(optarg, 256, &v) || v == 0)
				return usage_error("--parallel needs a sequence count from 1 to 256");
			o->parallel = (unsigned)v;
			break;
		case 'T':
			o->temperature = strtof(optarg, &end);
			if (*end || !(o->temperature >= 0 && o->temperature <= 100))
				return usage_error("--temperature takes a number from 0 to 100");
			break;
		case OPT_TOPP:
			o->top_p = strtof(optarg, &end);
			if (*end || !(o->top_p > 0 && o->top_p <= 1))
				return usage_error("--top-p takes a number in (0, 1]");
			break;
		case 's':
			if (dsck_u64_parse(optarg, UINT64_MAX, &o->seed))
				return usage_error("--seed takes a non-negative integer");
			break;
		case OPT_TOKENS: o->tokens = optarg; break;
		case 'o': o->output = optarg; break;
		case OPT_ALL: o->all = 1; break;
		case OPT_DUMP: o->dump = optarg; break;
		case OPT_MTP: o->mtp = optarg; break;
		case 'n':
			if (dsck_u64_parse(optarg, 1u << 20, &o->n_predict))
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
			if (dsck_u64_parse(optarg, 1u << 24, &o->ctx) || o->ctx == 0)
				return usage_error("--ctx needs a position count");
			break;
		case 't':
			if (dsck_u64_parse(optarg, 1024, &v) || v == 0)
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
		return usage_error("missing COMMAND (generate, logits, ppl or tokenize)");
	o->cmd = argv[optind++];
	if (optind != argc)
		return usage_error("unexpected argument after the options");
	if (strcmp(o->cmd, "logits") != 0 && strcmp(o->cmd, "generate") != 0 &&
	    strcmp(o->cmd, "ppl") != 0 && strcmp(o->cmd, "tokenize") != 0)
		return usage_error("COMMAND is generate, logits, ppl or tokenize");
	if (strcmp(o->cmd, "tokenize") == 0 && (o->tokens || o->prompts))
		return usage_error("tokenize reads text: -p TEXT or -f FILE");
	if (o->lines && strcmp(o->cmd, "tokenize") != 0)
		return usage_error("--lines is for tokenize");
	if (!o->model)
		return usage_error("-m DIR is required");
	if (o->prompts && strcmp(o->cmd, "generate") != 0)
		return usage_error("--prompts is for generate");
	if (!!o->tokens + !!o->prompt + !!o->file + !!o->prompts != 1)
		return usage_error("give the input with one of -p TEXT, -f FILE, --tokens LIST "
				   "and --prompts FILE");
	if (strcmp(o->cmd, "ppl") == 0 && o->prompt == NULL && o->file == NULL)
		return usage_error("ppl reads text: -f FILE or -p TEXT");
	if (o->chat && o->tokens)
		return usage_error("--chat formats text, not --tokens");
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

static double peak_rss_mib(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_maxrss / 1024.0;
}

/* The text of FILE ("-": standard input) or else of the prompt, into a
 * new buffer *text of *len bytes that the caller frees. */
static enum dsck_err read_text(const char *file, const char *prompt, char **text, size_t *len,
			       struct dsck_error *err)
{
	if (file && strcmp(file, "-") == 0)
		return dsck_fd_read_all(0, "standard input", 1ull << 30, text, len, err);
	if (file)
		return dsck_file_read_all(file, 1ull << 30, text, len, err);
	*text = strdup(prompt);
	*len = *text ? strlen(*text) : 0;
	return *text ? DSCK_OK : dsck_error_set(err, DSCK_E_NOMEM, "text");
}

/* The next line of [*cur, end), NUL-terminated in place without its LF or
 * CR LF, its length in *ll; *cur moves past it. NULL when none is left. */
static char *next_line(char **cur, char *end, size_t *ll)
{
	char *line = *cur;
	if (!line || line >= end)
		return NULL;
	char *nl = memchr(line, '\n', (size_t)(end - line));
	*ll = nl ? (size_t)(nl - line) : (size_t)(end - line);
	*cur = nl ? nl + 1 : end;
	if (*ll && line[*ll - 1] == '\r')
		(*ll)--;
	line[*ll] = '\0';
	return line;
}

/* The prompt as token ids: --tokens, or text through the tokenizer
 * (chat-formatted with --chat; BOS as tokenizer_config says). */
static enum dsck_err prompt_ids(const struct opts *o, const struct dsck_tok *tok,
				uint32_t **ids, size_t *n, struct dsck_error *err)
{
	char *text = NULL, *chat = NULL;
	size_t len = 0;
	enum dsck_err rc;
	if (o->tokens) {
		if (parse_tokens(o->tokens, ids, n))
			return dsck_error_set(err, DSCK_E_USAGE,
					      "--tokens takes comma-separated token ids: 0,15,7");
		return DSCK_OK;
	}
	rc = read_text(o->file, o->prompt, &text, &len, err);
	if (!rc && o->chat) {
		rc = dsck_chat_format(tok, text, &chat, err);
		if (!rc)
			rc = dsck_tok_encode(tok, chat, strlen(chat), 0, ids, n, err);
	} else if (!rc) {
		rc = dsck_tok_encode(tok, text, len, DSCK_TOK_BOS_DEFAULT, ids, n, err);
	}
	free(text);
	free(chat);
	return rc;
}

/* Length of the longest prefix of s[0..n) that ends on a whole UTF-8
 * character: generation streams whole characters only. */
static size_t utf8_complete(const char *s, size_t n)
{
	size_t i = n, back = 0;
	while (i > 0 && back < 4 && ((unsigned char)s[i - 1] & 0xC0) == 0x80) {
		i--;
		back++;
	}
	if (i == 0)
		return n;
	unsigned char lead = (unsigned char)s[i - 1];
	size_t need = lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : lead >= 0xC0 ? 2 : 1;
	return back + 1 >= need ? n : i - 1;
}

/* One JSON line per prompt, in order (RT-R14). */
struct prompts_out {
	const struct dsck_tok *tok;
	struct dsck_error err;
	int failed;
};

static int on_prompt_done(void *user, size_t index, const uint32_t *ids, size_t n,
			  enum dsck_gen_stop stop)
{
	static const char *const why[] = { "length", "eos", "ctx" };
	struct prompts_out *po = user;
	struct dsck_jsonw w = DSCK_JSONW_INIT;
	char *text = NULL;
	size_t len = 0;
	if (dsck_tok_decode(po->tok, ids, n, 1, &text, &len, &po->err)) {
		po->failed = 1;
		return 1;
	}
	dsck_jsonw_printf(&w, "{\"index\": %zu, \"text\": ", index);
	dsck_jsonw_str(&w, text, DSCK_JSONW_UTF8); /* decode gives valid UTF-8 */
	dsck_jsonw_printf(&w, ", \"tokens\": %zu, \"stop\": \"%s\"}\n", n, why[stop]);
	free(text);
	if (dsck_jsonw_check(&w, "result line", &po->err)) {
		free(w.p);
		po->failed = 1;
		return 1;
	}
	fputs(w.p, stdout);
	fflush(stdout);
	free(w.p);
	return 0;
}

/* generate --prompts: every non-empty line of the file a prompt, run in
 * shared forward calls (batch.h); the model is open, tok loaded. */
static enum dsck_err run_prompts(const struct opts *o, const struct dsck_model *m,
				 const struct dsck_tok *tok, struct dsck_error *err)
{
	char *text = NULL;
	size_t len = 0, count = 0, cap = 0;
	uint32_t **ids = NULL;
	size_t *n = NULL;
	enum dsck_err rc;
	rc = read_text(o->prompts, NULL, &text, &len, err);
	size_t lineno = 0, ll = 0;
	char *cur = text, *line;
	while (!rc && (line = next_line(&cur, text + len, &ll))) {
		lineno++;
		if (ll == 0)
			continue;
		if (count == cap) {
			size_t nc = cap ? 2 * cap : 16;
			uint32_t **ni = realloc(ids, nc * sizeof *ni);
			if (ni)
				ids = ni;
			size_t *nn = realloc(n, nc * sizeof *nn);
			if (nn)
				n = nn;
			if (!ni || !nn) {
				rc = dsck_error_set(err, DSCK_E_NOMEM, "prompts");
				break;
			}
			cap = nc;
		}
		char *chat = NULL;
		if (o->chat && !(rc = dsck_chat_format(tok, line, &chat, err)))
			rc = dsck_tok_encode(tok, chat, strlen(chat), 0, &ids[count], &n[count], err);
		else if (!o->chat)
			rc = dsck_tok_encode(tok, line, ll, DSCK_TOK_BOS_DEFAULT, &ids[count], &n[count], err);
		free(chat);
		if (rc) { /* name the line: the byte offset is within it */
			char where[4200];
			snprintf(where, sizeof where, "%s line %zu",
				 strcmp(o->prompts, "-") == 0 ? "standard input" : o->prompts, lineno);
			dsck_error_file(err, where);
			break;
		}
		count++;
		if (n[count - 1] == 0) {
			rc = dsck_error_set(err, DSCK_E_USAGE, "prompt %zu has no tokens", count - 1);
			break;
		}
	}
	if (!rc && count == 0)
		rc = dsck_error_set(err, DSCK_E_USAGE, "%s has no prompt lines", o->prompts);
	if (!rc) {
		struct dsck_gen_opts go = { o->n_predict, o->parallel, o->temperature, o->top_p,
					    o->seed, dsck_tok_eos(tok) };
		struct prompts_out po = { tok, { 0 }, 0 };
		struct dsck_gen_stats st;
		double t0 = dsck_now();
		rc = dsck_generate_many(m, (const uint32_t *const *)ids, n, count, &go, on_prompt_done,
					&po, &st, err);
		double dt = dsck_now() - t0;
		if (!rc && po.failed) {
			*err = po.err;
			rc = err->code;
		}
		if (!rc && !o->quiet)
			fprintf(stderr, "dsck-run: %zu prompts (%llu tokens) and %llu generated tokens in %llu "
				"forward calls, %.2f s: %.2f generated tokens/s, peak RSS %.0f MiB\n",
				count, (unsigned long long)st.prompt_tokens,
				(unsigned long long)st.generated_tokens, (unsigned long long)st.calls, dt,
				(double)st.generated_tokens / dt, peak_rss_mib());
	}
	for (size_t i = 0; i < count; i++)
		free(ids[i]);
	free(ids);
	free(n);
	free(text);
	return rc;
}

/* tokenize: the ids of the text as the model would get them (BOS as the
 * tokenizer config says, --chat formatting), comma-separated; with --lines
 * each line of the text alone (CR LF accepted). */
static enum dsck_err run_tokenize(const struct opts *o, const struct dsck_tok *tok,
				  struct dsck_error *err)
{
	if (!o->lines) {
		uint32_t *ids = NULL;
		size_t n = 0;
		enum dsck_err rc = prompt_ids(o, tok, &ids, &n, err);
		for (size_t i = 0; !rc && i < n; i++)
			printf("%s%u", i ? "," : "", ids[i]);
		if (!rc)
			printf("\n");
		free(ids);
		return rc;
	}
	char *text = NULL;
	size_t len = 0;
	enum dsck_err rc;
	rc = read_text(o->file, o->prompt, &text, &len, err);
	size_t lineno = 0, ll = 0;
	char *cur = text, *line;
	while (!rc && (line = next_line(&cur, text + len, &ll))) {
		lineno++;
		struct opts one = *o;
		one.file = NULL;
		one.prompt = line;
		uint32_t *ids = NULL;
		size_t n = 0;
		rc = prompt_ids(&one, tok, &ids, &n, err);
		for (size_t i = 0; !rc && i < n; i++)
			printf("%s%u", i ? "," : "", ids[i]);
		if (!rc)
			printf("\n");
		free(ids);
		if (rc) { /* name the line: the byte offset is within it */
			char where[4200];
			snprintf(where, sizeof where, "%s line %zu",
				 !o->file ? "the prompt" : strcmp(o->file, "-") == 0 ? "standard input" : o->file,
				 lineno);
			dsck_error_file(err, where);
		}
	}
	free(text);
	return rc;
}

int main(int argc, char **argv)
{
	struct opts o;
	struct dsck_error err;
	struct dsck_ckpt *ck = NULL;
	struct dsck_model *m = NULL;
	struct dsck_seq *s = NULL;
	struct dsck_tok *tok = NULL;
	struct dsck_sampler smp;
	uint32_t *ids = NULL;
	size_t n = 0;
	float *logits = NULL;
	int status = 0;
	enum dsck_err rc;

	struct dsck_comm comm;
	memset(&o, 0, sizeof o);
	memset(&smp, 0, sizeof smp);
	memset(&comm, 0, sizeof comm);
	/* RT-R10: under mpirun every rank computes its slice; rank 0 speaks */
	int ranks = dsck_comm_mpi_init(&argc, &argv, &comm);
	if (ranks < 0) {
		fprintf(stderr, "dsck-run: error: MPI did not start\n");
		return DSCK_EXIT_IO;
	}
	if ((status = parse_args(argc, argv, &o)) != 0)
		goto finish;
	int speak = comm.rank == 0;
	if (!speak) {
		o.quiet = 1;
		if (!freopen("/dev/null", "w", stdout))
			return DSCK_EXIT_IO;
	}
	dsck_error_clear(&err);
	if (!o.tokens || strcmp(o.cmd, "generate") == 0) {
		rc = dsck_tok_load(o.model, &tok, &err);
		/* generate from token ids prints ids when there is no tokenizer */
		if (rc && !(o.tokens && rc == DSCK_E_NOT_FOUND))
			goto fail;
		dsck_error_clear(&err);
	}
	if (strcmp(o.cmd, "tokenize") == 0) {
		if (!tok) {
			rc = dsck_error_set(&err, DSCK_E_NOT_FOUND, "tokenize needs the model's tokenizer.json");
			goto fail;
		}
		if ((rc = run_tokenize(&o, tok, &err)))
			goto fail;
		goto done;
	}
	if (o.prompts) {
		struct dsck_model_opts pmo = { o.threads, o.attn, o.ctx, ranks > 0 ? &comm : NULL };
		if (!tok) {
			rc = dsck_error_set(&err, DSCK_E_NOT_FOUND, "--prompts needs the model's tokenizer.json");
			goto fail;
		}
		if ((rc = dsck_ckpt_open(o.model, &ck, &err)) ||
		    (rc = dsck_model_open(ck, &pmo, &m, &err)) || (rc = run_prompts(&o, m, tok, &err)))
			goto fail;
		goto done;
	}
	if ((rc = prompt_ids(&o, tok, &ids, &n, &err)))
		goto fail;
	if (n == 0) {
		rc = dsck_error_set(&err, DSCK_E_USAGE, "the prompt has no tokens");
		goto fail;
	}
	struct dsck_model_opts mo = { o.threads, o.attn, o.ctx, ranks > 0 ? &comm : NULL };
	if ((rc = dsck_ckpt_open(o.model, &ck, &err)) || (rc = dsck_model_open(ck, &mo, &m, &err)) ||
	    (rc = dsck_seq_new(m, &s, &err)))
		goto fail;
	int is_logits = strcmp(o.cmd, "logits") == 0, is_ppl = strcmp(o.cmd, "ppl") == 0;
	size_t rows = (is_logits && o.all) || is_ppl ? n : 1;
	logits = malloc(rows * m->vocab * sizeof *logits);
	if (!logits || dsck_sampler_init(&smp, m->vocab, o.temperature, o.top_p, o.seed)) {
		rc = dsck_error_set(&err, DSCK_E_NOMEM, "logits");
		goto fail;
	}
	if (is_ppl && n < 2) {
		rc = dsck_error_set(&err, DSCK_E_USAGE, "ppl needs a text of at least 2 tokens");
		goto fail;
	}
	struct dump_ctx dump = { o.dump, 0, { 0 } };
	double t0 = dsck_now();
	rc = dsck_model_forward(m, s, ids, n, rows > 1, logits, o.dump && speak ? on_layer : NULL,
				&dump, &err);
	if (rc)
		goto fail;
	if (dump.failed) {
		err = dump.err;
		rc = err.code;
		goto fail;
	}
	double t1 = dsck_now();
	if (is_logits) {
		uint64_t shape[2] = { rows, m->vocab };
		if (speak)
			rc = rows > 1 ? dsck_npy_write_f32(o.output, logits, 2, shape, &err)
				      : dsck_npy_write_f32(o.output, logits, 1, shape + 1, &err);
		if (rc)
			goto fail;
		if (o.mtp && n > 1) { /* RT-R11 */
			float *ml = malloc((n - 1) * m->vocab * sizeof *ml);
			uint64_t mshape[2] = { n - 1, m->vocab };
			if (!ml) {
				rc = dsck_error_set(&err, DSCK_E_NOMEM, "MTP logits");
				goto fail;
			}
			rc = dsck_model_forward_mtp(m, s, ids + 1, n - 1, ml, &err);
			if (!rc && speak)
				rc = dsck_npy_write_f32(o.mtp, ml, 2, mshape, &err);
			free(ml);
			if (rc)
				goto fail;
		}
		if (!o.quiet)
			fprintf(stderr, "dsck-run: %zu tokens in %.3f s (%.1f tokens/s), peak RSS %.0f MiB\n",
				n, t1 - t0, (double)n / (t1 - t0), peak_rss_mib());
		goto done;
	}
	if (is_ppl) {
		/* RT-R9: the mean NLL of tokens 1..n-1 given the ones before */
		double nll = 0;
		for (size_t i = 1; i < n; i++)
			nll += dsck_nll(logits + (i - 1) * m->vocab, m->vocab, ids[i]);
		nll /= (double)(n - 1);
		printf("ppl %.4f  mean_nll %.6f  tokens %zu\n", exp(nll), nll, n - 1);
		if (!o.quiet)
			fprintf(stderr, "dsck-run: %zu tokens in %.3f s (%.1f tokens/s), peak RSS %.0f MiB\n",
				n, t1 - t0, (double)n / (t1 - t0), peak_rss_mib());
		goto done;
	}
	/* generate: stream whole UTF-8 characters, stop at EOS */
	char pend[64];
	size_t npend = 0;
	uint64_t produced = 0;
	int full = 0;
	uint32_t eos = tok ? dsck_tok_eos(tok) : (uint32_t)m->cfg->eos_token_id;
	for (; produced < o.n_predict; produced++) {
		uint32_t next = dsck_sample(&smp, logits);
		if (next == eos)
			break;
		if (tok) {
			size_t len = 0;
			const char *piece = dsck_tok_is_special(tok, next) ? "" :
					    dsck_tok_decode_piece(tok, next, &len);
			for (size_t k = 0; k < len; k++) {
				if (npend == sizeof pend) {
					fwrite(pend, 1, npend, stdout);
					npend = 0;
				}
				pend[npend++] = piece[k];
			}
			size_t ok = utf8_complete(pend, npend);
			fwrite(pend, 1, ok, stdout);
			memmove(pend, pend + ok, npend - ok);
			npend -= ok;
		} else {
			printf("%s%u", produced ? "," : "", next);
		}
		fflush(stdout);
		if (produced + 1 == o.n_predict)
			break;
		if (dsck_seq_len(s) >= m->max_seq) { /* RT-R6: the sequence is full */
			full = 1;
			break;
		}
		rc = dsck_model_forward(m, s, &next, 1, 0, logits, NULL, NULL, &err);
		if (rc)
			goto fail;
	}
	if (npend)
		fwrite(pend, 1, npend, stdout);
	printf("\n");
	fflush(stdout); /* before the timing line on stderr */
	double t2 = dsck_now();
	if (full && !o.quiet)
		fprintf(stderr, "dsck-run: the context is full (%llu positions, --ctx): generation stopped\n",
			(unsigned long long)m->max_seq);
	if (!o.quiet)
		fprintf(stderr, "dsck-run: prefill %zu tokens %.1f tokens/s, decode %llu tokens %.2f tokens/s, peak RSS %.0f MiB\n",
			n, (double)n / (t1 - t0), (unsigned long long)produced,
			produced ? (double)produced / (t2 - t1) : 0.0, peak_rss_mib());
	goto done;
fail:
	status = die_error(&err);
done:
	dsck_sampler_release(&smp);
	free(logits);
	free(ids);
	dsck_seq_free(s);
	dsck_model_close(m);
	dsck_ckpt_close(ck);
	dsck_tok_free(tok);
finish:
	if (ranks > 0)
		dsck_comm_mpi_finalize();
	return status;
}
