/*
 * batch.h - generation for many prompts at once (formats.md RT-R14): up to
 * `parallel` sequences share every forward call, new prompts join as
 * others finish (their prefill rides in the same call as the others'
 * decode steps), and each weight is read once per call for all of them.
 */
#ifndef DSCK_BATCH_H
#define DSCK_BATCH_H

#include "model.h"

#include <stddef.h>
#include <stdint.h>

struct dsck_gen_opts {
	uint64_t n_predict;            /* tokens per prompt at most */
	unsigned parallel;             /* sequences per forward call, >= 1 */
	float temperature, top_p;      /* dsck_sampler's */
	uint64_t seed;                 /* prompt i samples with seed + i */
	uint32_t eos;                  /* ends a sequence; not passed on */
};

/* Why a prompt's generation ended. */
enum dsck_gen_stop {
	DSCK_GEN_LENGTH,               /* n_predict tokens */
	DSCK_GEN_EOS,                  /* the model gave eos */
	DSCK_GEN_CTX,                  /* the sequence holds the model's max_seq positions */
};

/* Called once per prompt, in prompt order: its generated ids [n] (EOS
 * not included) and why it stopped. Nonzero stops the run. */
typedef int (*dsck_gen_done)(void *user, size_t index, const uint32_t *ids, size_t n,
			     enum dsck_gen_stop stop);

struct dsck_gen_stats {
	uint64_t prompt_tokens, generated_tokens, calls;
};

/*
 * Generate for prompts [count] (ids prompt[i] [len[i]], each at least one
 * token). Greedy results equal one dsck_model_forward run per prompt to
 * float32 rounding (RT-R14); sampled ones equal a run with seed + i. A
 * prompt longer than max_seq is refused (DSCK_E_LIMIT, naming it) before
 * anything runs. The caller keeps the prompts; everything else is freed
 * before returning.
 */
enum dsck_err dsck_generate_many(const struct dsck_model *m, const uint32_t *const *prompt,
				 const size_t *len, size_t count, const struct dsck_gen_opts *o,
				 dsck_gen_done done, void *user, struct dsck_gen_stats *st,
				 struct dsck_error *err);

#endif
