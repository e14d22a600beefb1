/*
 * test_batch.c - several sequences in one forward call (formats.md RT-R14,
 * runtime/model.h dsck_model_forward_batch, runtime/batch.h): on the tiny
 * synthetic model, in both attention modes, a batch of prefills, a batch of
 * decode steps and a call mixing the two give each sequence the logits it
 * gets alone within rel-L2 1e-6 (FP8 rows give each token its one-token
 * sums bit for bit below 16 tokens; BF16 and F32 rows and sgemm tiles sum
 * in other orders), a refused batch feeds nothing, and
 * dsck_generate_many's greedy ids equal a plain loop per prompt.
 */
#include "../test.h"

#include "../../lib/ckpt.h"
#include "../../lib/synth.h"
#include "../../runtime/batch.h"
#include "../../runtime/model.h"
#include "../../runtime/sample.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* rel-L2 of a against b over n values, and whether every row of width v
 * has the same argmax. */
static double rel_l2(const float *a, const float *b, size_t n, size_t v, int *same)
{
	double d = 0, r = 0;
	*same = 1;
	for (size_t i = 0; i < n; i++) {
		d += ((double)a[i] - b[i]) * ((double)a[i] - b[i]);
		r += (double)b[i] * b[i];
	}
	for (size_t row = 0; row < n / v; row++)
		*same &= dsck_argmax(a + row * v, v) == dsck_argmax(b + row * v, v);
	return sqrt(d / r);
}

static const uint32_t toks_a[] = { 1, 5, 9, 200, 33, 7, 512, 1000 };
static const uint32_t toks_b[] = { 42, 17, 3, 900, 64 };
static const uint32_t toks_c[] = { 700 };

struct collect {
	uint32_t ids[3][16];
	size_t n[3];
	size_t order[3], seen;
	enum dsck_gen_stop stop[3];
};

static int on_done(void *user, size_t index, const uint32_t *ids, size_t n,
		   enum dsck_gen_stop stop)
{
	struct collect *c = user;
	c->stop[index] = stop;
	memcpy(c->ids[index], ids, n * sizeof *ids);
	c->n[index] = n;
	c->order[c->seen++] = index;
	return 0;
}

static void run_mode(const struct dsck_ckpt *ck, enum dsck_attn attn, const char *name)
{
	struct dsck_model_opts mo = { 2, attn, 64, NULL };
	struct dsck_model *m = NULL;
	struct dsck_error err;
	dsck_error_clear(&err);
	if (dsck_model_open(ck, &mo, &m, &err)) {
		CHECK(0, "%s: model opens", name);
		return;
	}
	size_t V = m->vocab;
	const uint32_t *toks[3] = { toks_a, toks_b, toks_c };
	size_t len[3] = { 8, 5, 1 };
	float *alone[3], *both[3], *step1[3], *step2[3];
	struct dsck_seq *s1[3], *s2[3];
	int same, okv = 1, oks = 1;
	double worst = 0;
	for (int k = 0; k < 3; k++) {
		alone[k] = malloc(len[k] * V * sizeof(float));
		both[k] = malloc(len[k] * V * sizeof(float));
		step1[k] = malloc(V * sizeof(float));
		step2[k] = malloc(V * sizeof(float));
		if (!alone[k] || !both[k] || !step1[k] || !step2[k] || dsck_seq_new(m, &s1[k], &err) ||
		    dsck_seq_new(m, &s2[k], &err))
			abort();
	}
	/* prefill: alone, then all three in one call */
	for (int k = 0; k < 3; k++)
		okv &= dsck_model_forward(m, s1[k], toks[k], len[k], 1, alone[k], NULL, NULL, &err) == DSCK_OK;
	struct dsck_batch b[3];
	for (int k = 0; k < 3; k++)
		b[k] = (struct dsck_batch){ s2[k], toks[k], len[k], 1, both[k] };
	okv &= dsck_model_forward_batch(m, b, 3, NULL, NULL, &err) == DSCK_OK;
	for (int k = 0; k < 3; k++) {
		double r = rel_l2(both[k], alone[k], len[k] * V, V, &same);
		worst = r > worst ? r : worst;
		oks &= r <= 1e-6 && same;
	}
	CHECK(okv && oks, "%s: three prefills in one call = each alone (rel-L2 %.2g <= 1e-6, same argmax)",
	      name, worst);
	/* a decode step for all three in one call */
	uint32_t next[3] = { 11, 12, 13 };
	okv = 1;
	oks = 1;
	worst = 0;
	for (int k = 0; k < 3; k++) {
		okv &= dsck_model_forward(m, s1[k], &next[k], 1, 0, step1[k], NULL, NULL, &err) == DSCK_OK;
		b[k] = (struct dsck_batch){ s2[k], &next[k], 1, 0, step2[k] };
	}
	okv &= dsck_model_forward_batch(m, b, 3, NULL, NULL, &err) == DSCK_OK;
	for (int k = 0; k < 3; k++) {
		double r = rel_l2(step2[k], step1[k], V, V, &same);
		worst = r > worst ? r : worst;
		oks &= r <= 1e-6 && same;
	}
	CHECK(okv && oks && dsck_seq_len(s2[0]) == 9 && dsck_seq_len(s2[2]) == 2,
	      "%s: three decode steps in one call = each alone (rel-L2 %.2g)", name, worst);
	/* a prefill and a decode step in one call: a fresh sequence joins */
	struct dsck_seq *s3 = NULL;
	if (dsck_seq_new(m, &s3, &err))
		abort();
	uint32_t nx = 99;
	okv = dsck_model_forward(m, s1[0], &nx, 1, 0, step1[0], NULL, NULL, &err) == DSCK_OK;
	b[0] = (struct dsck_batch){ s2[0], &nx, 1, 0, step2[0] };
	b[1] = (struct dsck_batch){ s3, toks_b, 5, 1, both[1] };
	okv &= dsck_model_forward_batch(m, b, 2, NULL, NULL, &err) == DSCK_OK;
	double r0 = rel_l2(step2[0], step1[0], V, V, &same);
	int same0 = same;
	double r1 = rel_l2(both[1], alone[1], 5 * V, V, &same);
	CHECK(okv && r0 <= 1e-6 && same0 && r1 <= 1e-6 && same,
	      "%s: a prefill joins a decode step in one call (rel-L2 %.2g, %.2g)", name, r0, r1);
	/* refusals feed nothing */
	uint64_t l0 = dsck_seq_len(s2[0]), l1 = dsck_seq_len(s2[1]);
	uint32_t bad = (uint32_t)V;
	b[0] = (struct dsck_batch){ s2[0], &nx, 1, 0, NULL };
	b[1] = (struct dsck_batch){ s2[1], &bad, 1, 0, NULL };
	enum dsck_err e1 = dsck_model_forward_batch(m, b, 2, NULL, NULL, &err);
	b[1] = (struct dsck_batch){ s2[0], &nx, 1, 0, NULL };
	enum dsck_err e2 = dsck_model_forward_batch(m, b, 2, NULL, NULL, &err);
	CHECK(e1 == DSCK_E_USAGE && e2 == DSCK_E_USAGE && dsck_seq_len(s2[0]) == l0 &&
	      dsck_seq_len(s2[1]) == l1,
	      "%s: a bad token or a sequence given twice: refused, nothing fed", name);
	/* generate_many, greedy, 2 at a time: the ids of a plain loop */
	struct collect c;
	memset(&c, 0, sizeof c);
	struct dsck_gen_opts go = { 6, 2, 0, 1, 1, (uint32_t)V }; /* no EOS stop */
	struct dsck_gen_stats st;
	okv = dsck_generate_many(m, toks, len, 3, &go, on_done, &c, &st, &err) == DSCK_OK;
	int match = okv && c.seen == 3 && c.order[0] == 0 && c.order[1] == 1 && c.order[2] == 2;
	for (int k = 0; k < 3 && match; k++) {
		struct dsck_seq *s = NULL;
		uint32_t t;
		if (dsck_seq_new(m, &s, &err) ||
		    dsck_model_forward(m, s, toks[k], len[k], 0, step1[0], NULL, NULL, &err))
			abort();
		for (size_t i = 0; i < 6 && match; i++) {
			t = dsck_argmax(step1[0], V);
			match &= c.n[k] == 6 && c.ids[k][i] == t;
			if (i + 1 < 6 && dsck_model_forward(m, s, &t, 1, 0, step1[0], NULL, NULL, &err))
				abort();
		}
		dsck_seq_free(s);
	}
	match &= c.stop[0] == DSCK_GEN_LENGTH && c.stop[2] == DSCK_GEN_LENGTH;
	CHECK(match && st.prompt_tokens == 14 && st.generated_tokens == 18,
	      "%s: generate_many (2 at a time) = greedy loops, results in prompt order", name);
	for (int k = 0; k < 3; k++) {
		free(alone[k]);
		free(both[k]);
		free(step1[k]);
		free(step2[k]);
		dsck_seq_free(s1[k]);
		dsck_seq_free(s2[k]);
	}
	dsck_seq_free(s3);
	dsck_model_close(m);
}

int main(void)
{
	char dir[] = "/tmp/dsck-test-batch.XXXXXX";
	struct dsck_synth_opts so;
	struct dsck_error err;
	struct dsck_ckpt *ck = NULL;
	if (!mkdtemp(dir))
		return 1;
	dsck_synth_opts_init(&so);
	so.out_dir = dir;
	so.force = 1;
	dsck_error_clear(&err);
	if (dsck_synth_write(&so, NULL, &err) || dsck_ckpt_open(dir, &ck, &err)) {
		CHECK(0, "tiny checkpoint: %s", dsck_strerror(err.code));
		return test_done();
	}
	run_mode(ck, DSCK_ATTN_ABSORB, "absorb");
	run_mode(ck, DSCK_ATTN_NAIVE, "naive");
	dsck_ckpt_close(ck);
	char cmd[128];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		printf("# could not remove %s\n", dir);
	return test_done();
}
