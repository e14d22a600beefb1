/*
 * synth_tokenizer.c - tokenizer.json and tokenizer_config.json of a
 * synthetic checkpoint (synth.h, formats.md SY-R1).
 *
 * The tokenizer is a byte-level BPE in the HF `tokenizers` format, built the
 * way the DeepSeek-V3 one is (reference notes §8): the pre-tokenizer is a
 * Sequence of three regex Splits (digits in runs of 1..3, CJK runs, then
 * words/punctuation/whitespace) followed by ByteLevel without its own regex;
 * the decoder is ByteLevel; bos <｜begin▁of▁sentence｜> is id 0 and eos
 * <｜end▁of▁sentence｜> id 1, both special.
 *
 * Id layout (all ids unique, every merge result present in the vocab):
 *   0, 1                 bos, eos
 *   2 .. 257             the 256 byte tokens, byte value order, written with
 *                        the GPT-2 byte-to-unicode mapping
 *   258 .. 258+M-1       merge results, in merge order (M <= SYN_MERGES)
 *   then                 the other special tokens (pad, chat, tool, think)
 * The merges are learned deterministically from the built-in text below by
 * plain BPE: repeatedly merge the most frequent adjacent pair (ties: lowest
 * left id, then lowest right id). The whole tokenizer fits in vocab_size
 * rows; a smaller vocab_size is CONFIG_RANGE.
 */
#include "synth.h"

#include <stdlib.h>
#include <string.h>

#define SYN_MERGES 400   /* merges learned when the vocab has room */
#define SYN_BYTE_BASE 2  /* id of byte 0x00 */

/* U+FF5C FULLWIDTH VERTICAL LINE and U+2581 LOWER ONE EIGHTH BLOCK, as the
 * DeepSeek special tokens spell them. */
#define BAR "\uff5c"
#define SP "\u2581"

static const char *const tok_bos = "<" BAR "begin" SP "of" SP "sentence" BAR ">";
static const char *const tok_eos = "<" BAR "end" SP "of" SP "sentence" BAR ">";

/* Special tokens after the merges: content and whether "special" is set. */
static const struct {
	const char *content;
	int special;
} tok_extra[] = {
	{ "<" BAR SP "pad" SP BAR ">", 1 },
	{ "<" BAR "User" BAR ">", 1 },
	{ "<" BAR "Assistant" BAR ">", 1 },
	{ "<think>", 0 },
	{ "</think>", 0 },
	{ "<" BAR "tool" SP "calls" SP "begin" BAR ">", 1 },
	{ "<" BAR "tool" SP "calls" SP "end" BAR ">", 1 },
	{ "<" BAR "tool" SP "call" SP "begin" BAR ">", 1 },
	{ "<" BAR "tool" SP "call" SP "end" BAR ">", 1 },
	{ "<" BAR "tool" SP "outputs" SP "begin" BAR ">", 1 },
	{ "<" BAR "tool" SP "outputs" SP "end" BAR ">", 1 },
	{ "<" BAR "tool" SP "output" SP "begin" BAR ">", 1 },
	{ "<" BAR "tool" SP "output" SP "end" BAR ">", 1 },
	{ "<" BAR "tool" SP "sep" BAR ">", 1 },
};
#define N_EXTRA (sizeof tok_extra / sizeof tok_extra[0])
#define N_SPECIAL (2 + N_EXTRA)

/* The DeepSeek-V3 pre-tokenizer splits, in order (reference notes §8.2). */
static const char *const split_regex[] = {
	"\\p{N}{1,3}",
	"[\u4e00-\u9fa5\u3040-\u309f\u30a0-\u30ff]+",
	"[!\"#$%&'()*+,\\-./:;<=>?@\\[\\\\\\]^_`{|}~][A-Za-z]+"
	"|[^\\r\\n\\p{L}\\p{P}\\p{S}]?[\\p{L}\\p{M}]+"
	"| ?[\\p{P}\\p{S}]+[\\r\\n]*"
	"|\\s*[\\r\\n]+"
	"|\\s+(?!\\S)"
	"|\\s+",
};

/* A DeepSeek-style chat template: system prompts first, then the turns. */
static const char chat_template[] =
	"{% if not add_generation_prompt is defined %}"
	"{% set add_generation_prompt = false %}{% endif %}"
	"{{ bos_token }}"
	"{% for message in messages %}{% if message['role'] == 'system' %}"
	"{{ message['content'] }}{% endif %}{% endfor %}"
	"{% for message in messages %}"
	"{% if message['role'] == 'user' %}"
	"{{ '<" BAR "User" BAR ">' + message['content'] }}"
	"{% elif message['role'] == 'assistant' %}"
	"{{ '<" BAR "Assistant" BAR ">' + message['content'] + '"
	"<" BAR "end" SP "of" SP "sentence" BAR ">' }}"
	"{% elif message['role'] == 'tool' %}"
	"{{ '<" BAR "tool" SP "outputs" SP "begin" BAR ">"
	"<" BAR "tool" SP "output" SP "begin" BAR ">' + message['content'] + '"
	"<" BAR "tool" SP "output" SP "end" BAR ">"
	"<" BAR "tool" SP "outputs" SP "end" BAR ">' }}"
	"{% endif %}{% endfor %}"
	"{% if add_generation_prompt %}{{ '<" BAR "Assistant" BAR ">' }}{% endif %}";

/* Training text: plain English, enough distinct words for SYN_MERGES. */
static const char train_text[] =
	"The quick brown fox jumps over the lazy dog. The dog was not amused, "
	"and the fox ran back into the forest where it lived with its family.\n"
	"A model checkpoint is a set of files that hold the weights of a "
	"neural network. Each weight is stored as a tensor with a name, a "
	"shape and a data type, and the tensors are grouped into shards so "
	"that no single file grows too large to copy or to check.\n"
	"When you read a file, always check its size first. Then read the "
	"header, validate every offset, and only then look at the data. "
	"Small mistakes in the header can point far outside the file.\n"
	"In the morning the weather was cold and clear, and the people of the "
	"town walked to the market to buy bread, fruit, cheese and fish. "
	"Children played in the streets while their parents talked about the "
	"news of the day, the price of food, and the coming of the spring.\n"
	"There are many ways to learn a new language. Some people read books, "
	"others listen to music or watch films, and many practice by talking "
	"with friends. What matters most is that you keep going every day, "
	"even when progress feels slow.\n"
	"The history of computing is the story of people who wanted machines "
	"to do the work of counting for them. Over the years these machines "
	"became smaller, faster and cheaper, until almost everyone carried one "
	"in their pocket.\n"
	"Please write clear code, test it well, and explain why it works. "
	"Good names and short functions make a program easier to read, and "
	"careful error messages help the people who have to use it.\n"
	"She said that the meeting would start at nine, but nobody came "
	"before ten. They had been working late the night before, trying to "
	"finish the report that was due at the end of the week.\n"
	"Numbers like 1, 22, 333 and 2025 appear in text, as do dates such as "
	"March 14 and prices such as 9.99 or 100 dollars.\n";

struct tok {
	unsigned char *b; /* raw bytes (byte-level: any byte value) */
	size_t n;
};

struct word {
	unsigned *ids;  /* current segmentation, token ids */
	size_t n;
	unsigned count; /* occurrences in the text */
	size_t text_off, text_len;
};

struct pair {
	unsigned a, b;
	unsigned long count;
};

struct bpe {
	struct tok *toks;    /* id -> bytes; ids 0,1 and extras have n == 0 */
	size_t n_toks, cap_toks;
	unsigned (*merges)[2];
	size_t n_merges;
	struct word *words;
	size_t n_words;
};

/* GPT-2 byte-to-unicode: printable Latin-1 bytes map to themselves, the
 * other 68 bytes to U+0100.. in byte order, so every token is visible text. */
static unsigned byte_cp(unsigned b)
{
	unsigned extra = 0;
	for (unsigned x = 0; x < 256; x++) {
		int printable = (x >= 33 && x <= 126) || (x >= 161 && x <= 172) ||
				(x >= 174);
		if (x == b)
			return printable ? x : 256 + extra;
		if (!printable)
			extra++;
	}
	return 0;
}

static void buf_utf8(struct dsck_jsonw *b, unsigned cp)
{
	char s[4];
	size_t n;
	if (cp < 0x80) {
		s[0] = (char)cp;
		n = 1;
	} else if (cp < 0x800) {
		s[0] = (char)(0xC0 | (cp >> 6));
		s[1] = (char)(0x80 | (cp & 0x3F));
		n = 2;
	} else {
		s[0] = (char)(0xE0 | (cp >> 12));
		s[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
		s[2] = (char)(0x80 | (cp & 0x3F));
		n = 3;
	}
	dsck_jsonw_put(b, s, n);
}

/* Byte-level text of a token inside a JSON string: every byte becomes its
 * mapped code point; '"' and '\\' are escaped, controls never occur. */
static void buf_tok_text(struct dsck_jsonw *b, const struct tok *t)
{
	for (size_t i = 0; i < t->n; i++) {
		unsigned cp = byte_cp(t->b[i]);
		if (cp == '"' || cp == '\\')
			dsck_jsonw_puts(b, cp == '"' ? "\\\"" : "\\\\");
		else
			buf_utf8(b, cp);
	}
}

static void buf_tok_json(struct dsck_jsonw *b, const struct tok *t)
{
	dsck_jsonw_puts(b, "\"");
	buf_tok_text(b, t);
	dsck_jsonw_puts(b, "\"");
}

static int tok_add(struct bpe *p, const unsigned char *bytes, size_t n)
{
	if (p->n_toks == p->cap_toks) {
		size_t cap = p->cap_toks ? p->cap_toks * 2 : 1024;
		struct tok *t = realloc(p->toks, cap * sizeof *t);
		if (!t)
			return -1;
		p->toks = t;
		p->cap_toks = cap;
	}
	struct tok *t = &p->toks[p->n_toks];
	t->n = n;
	t->b = NULL;
	if (n) {
		t->b = malloc(n);
		if (!t->b)
			return -1;
		memcpy(t->b, bytes, n);
	}
	p->n_toks++;
	return 0;
}

static long tok_find(const struct bpe *p, const unsigned char *bytes, size_t n)
{
	for (size_t i = SYN_BYTE_BASE; i < p->n_toks; i++)
		if (p->toks[i].n == n && memcmp(p->toks[i].b, bytes, n) == 0)
			return (long)i;
	return -1;
}

static int is_alpha(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static int is_digit(unsigned char c)
{
	return c >= '0' && c <= '9';
}

static int is_space(unsigned char c)
{
	return c == ' ' || c == '\n' || c == '\t' || c == '\r';
}

/* Next pre-token of the training text, an ASCII approximation of the split
 * regexes: " ?letters", digits in runs of 1..3, " ?punctuation", spaces. */
static size_t pretoken_len(const unsigned char *s, size_t n)
{
	size_t i = 0;
	if (is_digit(s[0])) {
		while (i < n && i < 3 && is_digit(s[i]))
			i++;
		return i;
	}
	if (s[0] == ' ' && n > 1 && !is_space(s[1]) && !is_digit(s[1]))
		i = 1;
	if (i < n && is_alpha(s[i])) {
		while (i < n && is_alpha(s[i]))
			i++;
		return i;
	}
	if (i < n && !is_space(s[i]) && !is_digit(s[i])) {
		while (i < n && !is_space(s[i]) && !is_alpha(s[i]) && !is_digit(s[i]))
			i++;
		return i;
	}
	i = 0;
	while (i < n && is_space(s[i]))
		i++;
	return i ? i : 1;
}

/* Distinct pre-tokens of the text with their counts, as byte-token ids. */
static int words_build(struct bpe *p)
{
	const unsigned char *s = (const unsigned char *)train_text;
	size_t n = sizeof train_text - 1, off = 0;
	p->words = calloc(n, sizeof *p->words);
	if (!p->words)
		return -1;
	while (off < n) {
		size_t len = pretoken_len(s + off, n - off), w;
		for (w = 0; w < p->n_words; w++)
			if (p->words[w].text_len == len &&
			    memcmp(s + p->words[w].text_off, s + off, len) == 0)
				break;
		if (w == p->n_words) {
			struct word *nw = &p->words[p->n_words++];
			nw->text_off = off;
			nw->text_len = len;
			nw->n = len;
			nw->ids = malloc(len * sizeof *nw->ids);
			if (!nw->ids)
				return -1;
			for (size_t k = 0; k < len; k++)
				nw->ids[k] = SYN_BYTE_BASE + s[off + k];
		}
		p->words[w].count++;
		off += len;
	}
	return 0;
}

static int pair_cmp(const void *x, const void *y)
{
	const struct pair *a = x, *b = y;
	if (a->a != b->a)
		return a->a < b->a ? -1 : 1;
	if (a->b != b->b)
		return a->b < b->b ? -1 : 1;
	return 0;
}

/* Learn up to max_merges merges; returns -1 on allocation failure. */
static int bpe_train(struct bpe *p, size_t max_merges)
{
	size_t n_pairs_cap = sizeof train_text;
	struct pair *pairs = malloc(n_pairs_cap * sizeof *pairs);
	unsigned char *joined = NULL;
	int rc = -1;
	if (!pairs)
		goto out;
	p->merges = malloc((max_merges ? max_merges : 1) * sizeof *p->merges);
	if (!p->merges)
		goto out;
	while (p->n_merges < max_merges) {
		size_t np = 0;
		for (size_t w = 0; w < p->n_words; w++)
			for (size_t k = 0; k + 1 < p->words[w].n; k++) {
				pairs[np].a = p->words[w].ids[k];
				pairs[np].b = p->words[w].ids[k + 1];
				pairs[np].count = p->words[w].count;
				np++;
			}
		if (np == 0)
			break; /* every word is one token */
		qsort(pairs, np, sizeof *pairs, pair_cmp);
		/* aggregate runs; keep the most frequent, lowest ids on ties */
		struct pair best = { 0, 0, 0 };
		for (size_t i = 0; i < np;) {
			struct pair cur = pairs[i];
			size_t j = i + 1;
			for (; j < np && pairs[j].a == cur.a && pairs[j].b == cur.b; j++)
				cur.count += pairs[j].count;
			if (cur.count > best.count)
				best = cur;
			i = j;
		}
		const struct tok *ta = &p->toks[best.a], *tb = &p->toks[best.b];
		free(joined);
		joined = malloc(ta->n + tb->n);
		if (!joined)
			goto out;
		memcpy(joined, ta->b, ta->n);
		memcpy(joined + ta->n, tb->b, tb->n);
		long id = tok_find(p, joined, ta->n + tb->n);
		if (id < 0) {
			id = (long)p->n_toks;
			if (tok_add(p, joined, ta->n + tb->n) != 0)
				goto out;
		}
		p->merges[p->n_merges][0] = best.a;
		p->merges[p->n_merges][1] = best.b;
		p->n_merges++;
		for (size_t w = 0; w < p->n_words; w++) {
			struct word *wd = &p->words[w];
			size_t o = 0;
			for (size_t k = 0; k < wd->n; k++) {
				if (k + 1 < wd->n && wd->ids[k] == best.a &&
				    wd->ids[k + 1] == best.b) {
					wd->ids[o++] = (unsigned)id;
					k++;
				} else {
					wd->ids[o++] = wd->ids[k];
				}
			}
			wd->n = o;
		}
	}
	rc = 0;
out:
	free(joined);
	free(pairs);
	return rc;
}

static void bpe_free(struct bpe *p)
{
	for (size_t i = 0; i < p->n_toks; i++)
		free(p->toks[i].b);
	free(p->toks);
	free(p->merges);
	for (size_t w = 0; w < p->n_words; w++)
		free(p->words[w].ids);
	free(p->words);
}

/* {"id":..,"content":..,...} of one added token. */
static void buf_added(struct dsck_jsonw *b, size_t id, const char *content,
		      int special, int last)
{
	dsck_jsonw_printf(b, "    {\n      \"id\": %zu,\n      \"content\": ", id);
	dsck_jsonw_str(b, content, DSCK_JSONW_UTF8);
	dsck_jsonw_printf(b,
			      ",\n      \"single_word\": false,\n"
			      "      \"lstrip\": false,\n      \"rstrip\": false,\n"
			      "      \"normalized\": %s,\n      \"special\": %s\n    }%s\n",
			      special ? "false" : "true",
			      special ? "true" : "false", last ? "" : ",");
}

static void buf_template_piece(struct dsck_jsonw *b, const char *kind,
			       const char *id, int type_id, int last)
{
	dsck_jsonw_printf(b, "        {\n          \"%s\": {\n            \"id\": ",
			      kind);
	dsck_jsonw_str(b, id, DSCK_JSONW_UTF8);
	dsck_jsonw_printf(b, ",\n            \"type_id\": %d\n          }\n        }%s\n",
			      type_id, last ? "" : ",");
}

static void tokenizer_json(struct dsck_jsonw *b, const struct bpe *p,
			   size_t extra_base)
{
	dsck_jsonw_puts(b, "{\n  \"version\": \"1.0\",\n  \"truncation\": null,\n"
			       "  \"padding\": null,\n  \"added_tokens\": [\n");
	buf_added(b, 0, tok_bos, 1, 0);
	buf_added(b, 1, tok_eos, 1, 0);
	for (size_t i = 0; i < N_EXTRA; i++)
		buf_added(b, extra_base + i, tok_extra[i].content,
			  tok_extra[i].special, i + 1 == N_EXTRA);
	dsck_jsonw_puts(b, "  ],\n  \"normalizer\": null,\n"
			       "  \"pre_tokenizer\": {\n    \"type\": \"Sequence\",\n"
			       "    \"pretokenizers\": [\n");
	for (size_t i = 0; i < sizeof split_regex / sizeof split_regex[0]; i++) {
		dsck_jsonw_puts(b, "      {\n        \"type\": \"Split\",\n"
				       "        \"pattern\": {\n          \"Regex\": ");
		dsck_jsonw_str(b, split_regex[i], DSCK_JSONW_UTF8);
		dsck_jsonw_puts(b, "\n        },\n        \"behavior\": \"Isolated\",\n"
				       "        \"invert\": false\n      },\n");
	}
	dsck_jsonw_puts(b, "      {\n        \"type\": \"ByteLevel\",\n"
			       "        \"add_prefix_space\": false,\n"
			       "        \"trim_offsets\": true,\n"
			       "        \"use_regex\": false\n      }\n    ]\n  },\n");
	/* add_bos_token: bos before every sequence, as LlamaTokenizerFast sets up */
	dsck_jsonw_puts(b, "  \"post_processor\": {\n"
			       "    \"type\": \"TemplateProcessing\",\n"
			       "    \"single\": [\n");
	buf_template_piece(b, "SpecialToken", tok_bos, 0, 0);
	buf_template_piece(b, "Sequence", "A", 0, 1);
	dsck_jsonw_puts(b, "    ],\n    \"pair\": [\n");
	buf_template_piece(b, "SpecialToken", tok_bos, 0, 0);
	buf_template_piece(b, "Sequence", "A", 0, 0);
	buf_template_piece(b, "SpecialToken", tok_bos, 1, 0);
	buf_template_piece(b, "Sequence", "B", 1, 1);
	dsck_jsonw_puts(b, "    ],\n    \"special_tokens\": {\n      ");
	dsck_jsonw_str(b, tok_bos, DSCK_JSONW_UTF8);
	dsck_jsonw_puts(b, ": {\n        \"id\": ");
	dsck_jsonw_str(b, tok_bos, DSCK_JSONW_UTF8);
	dsck_jsonw_puts(b, ",\n        \"ids\": [\n          0\n        ],\n"
			       "        \"tokens\": [\n          ");
	dsck_jsonw_str(b, tok_bos, DSCK_JSONW_UTF8);
	dsck_jsonw_puts(b, "\n        ]\n      }\n    }\n  },\n");
	dsck_jsonw_puts(b, "  \"decoder\": {\n    \"type\": \"ByteLevel\",\n"
			       "    \"add_prefix_space\": true,\n"
			       "    \"trim_offsets\": true,\n"
			       "    \"use_regex\": true\n  },\n");
	dsck_jsonw_puts(b, "  \"model\": {\n    \"type\": \"BPE\",\n"
			       "    \"dropout\": null,\n    \"unk_token\": null,\n"
			       "    \"continuing_subword_prefix\": null,\n"
			       "    \"end_of_word_suffix\": null,\n"
			       "    \"fuse_unk\": false,\n"
			       "    \"byte_fallback\": false,\n"
			       "    \"vocab\": {\n      ");
	dsck_jsonw_str(b, tok_bos, DSCK_JSONW_UTF8);
	dsck_jsonw_puts(b, ": 0,\n      ");
	dsck_jsonw_str(b, tok_eos, DSCK_JSONW_UTF8);
	dsck_jsonw_puts(b, ": 1");
	for (size_t i = SYN_BYTE_BASE; i < p->n_toks; i++) {
		dsck_jsonw_puts(b, ",\n      ");
		buf_tok_json(b, &p->toks[i]);
		dsck_jsonw_printf(b, ": %zu", i);
	}
	for (size_t i = 0; i < N_EXTRA; i++) {
		dsck_jsonw_puts(b, ",\n      ");
		dsck_jsonw_str(b, tok_extra[i].content, DSCK_JSONW_UTF8);
		dsck_jsonw_printf(b, ": %zu", extra_base + i);
	}
	dsck_jsonw_puts(b, "\n    },\n    \"merges\": [");
	for (size_t m = 0; m < p->n_merges; m++) {
		/* "a b": the parts joined by one space; no part holds a space
		 * (byte 0x20 is written as U+0120) */
		dsck_jsonw_puts(b, m ? ",\n      \"" : "\n      \"");
		buf_tok_text(b, &p->toks[p->merges[m][0]]);
		dsck_jsonw_puts(b, " ");
		buf_tok_text(b, &p->toks[p->merges[m][1]]);
		dsck_jsonw_puts(b, "\"");
	}
	dsck_jsonw_puts(b, "\n    ]\n  }\n}\n");
}

/* tokenizer_config.json: the fields of the DeepSeek-V3 file (§8.4). */
static void tokenizer_config_json(struct dsck_jsonw *b, uint64_t max_len)
{
	static const char *const named[] = { "bos_token", "eos_token", "pad_token" };
	dsck_jsonw_puts(b, "{\n  \"add_bos_token\": true,\n"
			       "  \"add_eos_token\": false,\n");
	for (size_t i = 0; i < sizeof named / sizeof named[0]; i++) {
		const char *content = i == 0 ? tok_bos : tok_eos; /* pad = eos */
		dsck_jsonw_printf(b, "  \"%s\": {\n    \"__type\": \"AddedToken\",\n"
					 "    \"content\": ", named[i]);
		dsck_jsonw_str(b, content, DSCK_JSONW_UTF8);
		dsck_jsonw_puts(b, ",\n    \"lstrip\": false,\n"
				       "    \"normalized\": true,\n"
				       "    \"rstrip\": false,\n"
				       "    \"single_word\": false\n  },\n");
	}
	dsck_jsonw_puts(b, "  \"chat_template\": ");
	dsck_jsonw_str(b, chat_template, DSCK_JSONW_UTF8);
	dsck_jsonw_printf(b, ",\n  \"clean_up_tokenization_spaces\": false,\n"
				 "  \"legacy\": true,\n"
				 "  \"model_max_length\": %llu,\n"
				 "  \"sp_model_kwargs\": {},\n"
				 "  \"tokenizer_class\": \"LlamaTokenizerFast\",\n"
				 "  \"unk_token\": null,\n"
				 "  \"use_default_system_prompt\": false\n}\n",
			      (unsigned long long)max_len);
}

/* The tokenizer of cfg: bos, eos, the byte tokens and the merges (the
 * extra special tokens follow at p->n_toks). */
static enum dsck_err bpe_make(const struct dsck_config *cfg, struct bpe *p,
			      struct dsck_error *err)
{
	uint64_t base = 256 + N_SPECIAL;
	size_t max_merges;

	if (cfg->vocab_size < base) {
		dsck_error_tensor(err, "vocab_size");
		dsck_error_expect(err, ">= %llu", (unsigned long long)base);
		dsck_error_found(err, "%llu", (unsigned long long)cfg->vocab_size);
		return dsck_error_set(err, DSCK_E_CONFIG_RANGE,
				      "vocab_size too small for the byte-level tokenizer");
	}
	max_merges = cfg->vocab_size - base > SYN_MERGES
			     ? SYN_MERGES
			     : (size_t)(cfg->vocab_size - base);

	/* ids 0, 1: bos/eos (no bytes); 2..257: the bytes */
	if (tok_add(p, NULL, 0) || tok_add(p, NULL, 0))
		goto oom;
	for (unsigned v = 0; v < 256; v++) {
		unsigned char c = (unsigned char)v;
		if (tok_add(p, &c, 1))
			goto oom;
	}
	if (words_build(p) || bpe_train(p, max_merges))
		goto oom;
	return DSCK_OK;
oom:
	return dsck_error_set(err, DSCK_E_NOMEM, "tokenizer");
}

enum dsck_err dsck_synth_tokenizer_build(const struct dsck_config *cfg,
					 char **tokenizer_json_out,
					 char **tokenizer_config_out,
					 struct dsck_error *err)
{
	enum dsck_err rc;
	struct bpe p = { 0 };
	struct dsck_jsonw tj = DSCK_JSONW_INIT, tc = DSCK_JSONW_INIT;

	*tokenizer_json_out = NULL;
	*tokenizer_config_out = NULL;
	rc = bpe_make(cfg, &p, err);
	if (rc)
		goto out;

	tokenizer_json(&tj, &p, p.n_toks);
	/* model_max_length: 16384 as in the real file, or less when the
	 * config's context is shorter (0: not given) */
	tokenizer_config_json(&tc, cfg->max_position_embeddings &&
					   cfg->max_position_embeddings < 16384
					   ? cfg->max_position_embeddings
					   : 16384);
	if (tj.nomem || tc.nomem) {
		rc = dsck_error_set(err, DSCK_E_NOMEM, "tokenizer");
		goto out;
	}
	*tokenizer_json_out = dsck_jsonw_take(&tj, NULL);
	*tokenizer_config_out = dsck_jsonw_take(&tc, NULL);
out:
	dsck_jsonw_release(&tj);
	dsck_jsonw_release(&tc);
	bpe_free(&p);
	return rc;
}

enum dsck_err dsck_synth_tokenizer_last_bytes(const struct dsck_config *cfg,
					      int16_t *last, size_t n,
					      struct dsck_error *err)
{
	struct bpe p = { 0 };
	enum dsck_err rc = bpe_make(cfg, &p, err);
	if (rc == DSCK_OK)
		for (size_t i = 0; i < n; i++)
			last[i] = i < p.n_toks && p.toks[i].n
					  ? (int16_t)p.toks[i].b[p.toks[i].n - 1]
					  : -1;
	bpe_free(&p);
	return rc;
}
