/* mp.c - the naming and split table of the MP layout (mp.h, formats.md §12). */
#include "mp.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_SEGS 16
#define SEG_MAX 128

/* MP-R1: module keys, as DeepSeek's convert.py maps them; the last four
 * rows are dsck's, for the MTP layer kept with --keep-mtp (MP-R3). */
static const struct key_row {
	const char *hf, *mp;
	enum dsck_split split;
} keys[] = {
	{ "embed_tokens", "embed", DSCK_SPLIT_ROWS },
	{ "input_layernorm", "attn_norm", DSCK_SPLIT_REPLICA },
	{ "post_attention_layernorm", "ffn_norm", DSCK_SPLIT_REPLICA },
	{ "q_proj", "wq", DSCK_SPLIT_ROWS },
	{ "q_a_proj", "wq_a", DSCK_SPLIT_REPLICA },
	{ "q_a_layernorm", "q_norm", DSCK_SPLIT_REPLICA },
	{ "q_b_proj", "wq_b", DSCK_SPLIT_ROWS },
	{ "kv_a_proj_with_mqa", "wkv_a", DSCK_SPLIT_REPLICA },
	{ "kv_a_layernorm", "kv_norm", DSCK_SPLIT_REPLICA },
	{ "kv_b_proj", "wkv_b", DSCK_SPLIT_ROWS },
	{ "o_proj", "wo", DSCK_SPLIT_COLS },
	{ "gate", "gate", DSCK_SPLIT_REPLICA },
	{ "gate_proj", "w1", DSCK_SPLIT_ROWS },
	{ "down_proj", "w2", DSCK_SPLIT_COLS },
	{ "up_proj", "w3", DSCK_SPLIT_ROWS },
	{ "norm", "norm", DSCK_SPLIT_REPLICA },
	{ "lm_head", "head", DSCK_SPLIT_ROWS },
	{ "enorm", "enorm", DSCK_SPLIT_REPLICA },
	{ "hnorm", "hnorm", DSCK_SPLIT_REPLICA },
	{ "eh_proj", "eh_proj", DSCK_SPLIT_REPLICA },
	{ "head", "head", DSCK_SPLIT_ROWS },       /* MTP shared_head.head */
};

struct segs {
	size_t n;
	char s[MAX_SEGS][SEG_MAX];
};

static int split_segs(const char *name, struct segs *g)
{
	g->n = 0;
	for (const char *p = name;;) {
		const char *dot = strchr(p, '.');
		size_t len = dot ? (size_t)(dot - p) : strlen(p);
		if (g->n == MAX_SEGS || len == 0 || len >= SEG_MAX)
			return -1;
		memcpy(g->s[g->n], p, len);
		g->s[g->n][len] = 0;
		g->n++;
		if (!dot)
			return 0;
		p = dot + 1;
	}
}

static int join_segs(const struct segs *g, size_t from, const char *prefix,
		     char *out, size_t cap)
{
	size_t pos = 0;
	int n = snprintf(out, cap, "%s", prefix);
	if (n < 0 || (size_t)n >= cap)
		return -1;
	pos = (size_t)n;
	for (size_t i = from; i < g->n; i++) {
		n = snprintf(out + pos, cap - pos, "%s%s", i > from ? "." : "", g->s[i]);
		if (n < 0 || (size_t)n >= cap - pos)
			return -1;
		pos += (size_t)n;
	}
	return 0;
}

static void rename_seg(struct segs *g, const char *from, const char *to)
{
	for (size_t i = 0; i < g->n; i++)
		if (strcmp(g->s[i], from) == 0)
			snprintf(g->s[i], SEG_MAX, "%s", to);
}

static int64_t seg_index(const struct segs *g, const char *after)
{
	for (size_t i = 0; i + 1 < g->n; i++)
		if (strcmp(g->s[i], after) == 0) {
			char *end;
			long long v = strtoll(g->s[i + 1], &end, 10);
			if (*end == 0 && v >= 0)
				return (int64_t)v;
		}
	return -1;
}

int dsck_mp_name(const char *hf, char *out, size_t cap, struct dsck_mp_info *info)
{
	struct segs g;
	size_t from = 0;
	if (split_segs(hf, &g) || g.n < 2)
		return -1;
	if (strcmp(g.s[0], "model") == 0)
		from = 1;
	if (g.n - from < 2)
		return -1;
	char *last = g.s[g.n - 1];
	if (strcmp(last, "weight_scale_inv") == 0)
		snprintf(last, SEG_MAX, "scale");
	else if (strcmp(last, "e_score_correction_bias") == 0)
		snprintf(last, SEG_MAX, "bias");
	rename_seg(&g, "self_attn", "attn");
	rename_seg(&g, "mlp", "ffn");
	char *key = g.s[g.n - 2];
	size_t k;
	for (k = 0; k < sizeof keys / sizeof keys[0]; k++)
		if (strcmp(keys[k].hf, key) == 0)
			break;
	if (k == sizeof keys / sizeof keys[0])
		return -1;
	snprintf(key, SEG_MAX, "%s", keys[k].mp);
	info->split = keys[k].split;
	info->layer = seg_index(&g, "layers");
	info->expert = seg_index(&g, "experts");
	if (info->expert >= 0)
		info->split = DSCK_SPLIT_EXPERT; /* MP-R2: experts are never sliced */
	return join_segs(&g, from, "", out, cap);
}

int dsck_mp_hf_name(const char *mp, char *out, size_t cap)
{
	struct segs g;
	if (split_segs(mp, &g) || g.n < 2)
		return -1;
	char *last = g.s[g.n - 1];
	if (strcmp(last, "scale") == 0)
		snprintf(last, SEG_MAX, "weight_scale_inv");
	else if (strcmp(last, "bias") == 0)
		snprintf(last, SEG_MAX, "e_score_correction_bias");
	rename_seg(&g, "attn", "self_attn");
	rename_seg(&g, "ffn", "mlp");
	char *key = g.s[g.n - 2];
	if (strcmp(key, "head") == 0) {
		if (g.n != 2) /* MTP shared_head.head keeps its name */
			return join_segs(&g, 0, "model.", out, cap);
		snprintf(key, SEG_MAX, "lm_head");
		return join_segs(&g, 0, "", out, cap); /* no "model." prefix */
	}
	size_t k;
	for (k = 0; k < sizeof keys / sizeof keys[0]; k++)
		if (strcmp(keys[k].mp, key) == 0)
			break;
	if (k == sizeof keys / sizeof keys[0])
		return -1;
	snprintf(key, SEG_MAX, "%s", keys[k].hf);
	return join_segs(&g, 0, "model.", out, cap);
}

int dsck_mp_file_parse(const char *name, uint32_t *rank, uint32_t *n)
{
	unsigned long r, m;
	char *end;
	if (strncmp(name, "model", 5) != 0 || name[5] < '0' || name[5] > '9' ||
	    (name[5] == '0' && name[6] != '-'))
		return -1;
	r = strtoul(name + 5, &end, 10);
	if (strncmp(end, "-mp", 3) != 0 || end[3] < '1' || end[3] > '9')
		return -1;
	m = strtoul(end + 3, &end, 10);
	if (strcmp(end, ".safetensors") != 0 || r >= m || m > 65536)
		return -1;
	*rank = (uint32_t)r;
	*n = (uint32_t)m;
	return 0;
}

const char *dsck_split_name(enum dsck_split s)
{
	switch (s) {
	case DSCK_SPLIT_REPLICA: return "replicated";
	case DSCK_SPLIT_ROWS: return "rows";
	case DSCK_SPLIT_COLS: return "columns";
	case DSCK_SPLIT_EXPERT: return "expert";
	}
	return "?";
}
