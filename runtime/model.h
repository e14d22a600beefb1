/*
 * model.h - the reference forward pass of the DeepSeek-V3 family on the
 * CPU, in fp32, over weights kept in their stored dtype (formats.md §13,
 * RT-R1..RT-R9). It follows DeepSeek's inference/model.py step by step:
 * embedding; per block attn_norm -> MLA (q_lora or plain wq; kv_a ->
 * kv_norm and k_pe; YaRN RoPE on interleaved pairs; causal softmax) ->
 * residual, ffn_norm -> dense MLP or MoE (gate, group-limited top-k,
 * routed and shared experts) -> residual; final norm; head.
 *
 * One sequence per dsck_seq; the caller feeds tokens in order (prefill
 * many at once, then one at a time) and gets logits for every position
 * fed or the last one. Several sequences may be fed in one call.
 */
#ifndef DSCK_MODEL_H
#define DSCK_MODEL_H

#include "ckpt.h"
#include "comm.h"
#include "err.h"
#include "pool.h"
#include "weights.h"

#include <stddef.h>
#include <stdint.h>

enum dsck_attn { DSCK_ATTN_NAIVE, DSCK_ATTN_ABSORB };

struct dsck_layer;

struct dsck_model {
	const struct dsck_ckpt *ck;
	const struct dsck_config *cfg;
	struct dsck_wmap map;
	struct dsck_pool *pool;
	enum dsck_attn attn;
	struct dsck_comm *comm;        /* NULL: one process holds everything */
	int rank, size;                /* tensor-parallel rank of size (RT-R10) */
	uint64_t dim, n_heads, q_lora, kv_lora, nope, rope, vdim, vocab;
	uint64_t heads;                /* this rank's heads: n_heads / size */
	uint64_t vocab0, vocab_n;      /* this rank's embedding and head rows */
	uint64_t expert0, expert_n;    /* this rank's routed experts */
	uint64_t n_layers;             /* main blocks */
	uint64_t n_mtp;                /* MTP blocks present after them */
	uint64_t max_seq;              /* positions a sequence may hold */
	float softmax_scale;
	float *cos, *sin;              /* [max_seq, rope/2] */
	struct dsck_weight embed, norm, head;
	struct dsck_layer *layers;     /* n_layers, then the MTP block */
	/* MTP (RT-R11), when n_mtp is 1 */
	struct dsck_weight mtp_eh, mtp_enorm, mtp_hnorm, mtp_norm, mtp_head, mtp_embed;
};

struct dsck_model_opts {
	unsigned threads;              /* 0: all online CPUs */
	enum dsck_attn attn;
	uint64_t max_seq;              /* 0: 4096, capped by the config */
	struct dsck_comm *comm;        /* tensor-parallel ranks, or NULL */
};

/* Map the checkpoint's weights and check every tensor the config needs.
 * The model borrows ck, which must outlive it. */
enum dsck_err dsck_model_open(const struct dsck_ckpt *ck, const struct dsck_model_opts *o,
			      struct dsck_model **out, struct dsck_error *err);
void dsck_model_close(struct dsck_model *m);

/* A sequence's state: its KV cache (naive: k and v per head; absorb: the
 * kv_lora latent and the roped k_pe per token), fp32. */
struct dsck_seq;
enum dsck_err dsck_seq_new(const struct dsck_model *m, struct dsck_seq **out,
			   struct dsck_error *err);
uint64_t dsck_seq_len(const struct dsck_seq *s);
void dsck_seq_free(struct dsck_seq *s);

/* Called after each block with its output hidden states [n, dim] (block
 * index, positions of the call). For --dump-layers. */
typedef void (*dsck_layer_hook)(void *user, uint64_t layer, const float *h, size_t n,
				uint64_t dim);

/*
 * Feed n tokens at the sequence's next positions. logits: [n, vocab] when
 * all is set, else [vocab] for the last token; NULL for none. Out-of-range
 * token ids and a full sequence are errors (nothing is fed).
 */
enum dsck_err dsck_model_forward(const struct dsck_model *m, struct dsck_seq *s,
				 const uint32_t *tokens, size_t n, int all,
				 float *logits, dsck_layer_hook hook, void *hook_user,
				 struct dsck_error *err);

/* One sequence's part of a batched forward call. */
struct dsck_batch {
	struct dsck_seq *seq;
	const uint32_t *tokens;        /* n tokens at the sequence's next positions */
	size_t n;
	int all;                       /* logits [n, vocab], else [vocab] of the last */
	float *logits;                 /* NULL: none */
};

/*
 * RT-R14: feed several sequences in one call. Their rows go through every
 * weight product together (each weight read once per call, not once per
 * sequence); attention reads each row's own sequence. The same logits as
 * one dsck_model_forward per sequence, to float32 rounding (products over
 * more rows take other kernels). Checks as dsck_model_forward, and a
 * sequence may appear once; on an error nothing is fed. The hook sees the
 * batch's rows, sequence after sequence.
 */
enum dsck_err dsck_model_forward_batch(const struct dsck_model *m, struct dsck_batch *b,
				       size_t nb, dsck_layer_hook hook, void *hook_user,
				       struct dsck_error *err);

/*
 * RT-R11: next-next-token logits from the MTP block, right after a
 * dsck_model_forward of n tokens t_0..t_{n-1} at positions p.. that the MTP
 * block has followed so far: next[i] = t_{i+1} is the token after position
 * p+i, for k <= n positions; logits [k, vocab] predict the token after
 * next[i]. UNSUPPORTED when the checkpoint has no MTP layer.
 */
enum dsck_err dsck_model_forward_mtp(const struct dsck_model *m, struct dsck_seq *s,
				     const uint32_t *next, size_t k, float *logits,
				     struct dsck_error *err);

#endif
