/*
 * synth.h - synthetic DeepSeek-V3-family checkpoints (formats.md §8).
 *
 * dsck_synth_write builds a complete HF directory (SY-R1): config.json,
 * generation_config.json, model.safetensors.index.json, the shards,
 * tokenizer.json and tokenizer_config.json. The config comes from a preset
 * ("tiny", "small", "671b") or a user config.json, edited by the overrides
 * and always re-validated by dsck_config_parse; the tensors are exactly
 * the inventory of that config (lib/inventory.h), in inventory order,
 * grouped into shards like the upstream checkpoints (a weight and its scale
 * may land in different shards, SY-R3).
 *
 * Tensor values are a pure function of (seed, tensor name, dtype, role)
 * (SY-R2): every element is derived from a counter-based generator keyed by
 * the seed and the name, so chunk sizes never change a byte. Data stream
 * through one bounded buffer (DSCK_SYNTH_CHUNK); no shard is ever held in
 * memory. With sparse set the data are file holes (SY-R4) and only headers,
 * index and small JSON files are written.
 *
 * With planted set the values follow SY-R8 instead of SY-R6: a model whose
 * greedy generation continues the lowercase alphabet from the last letter
 * of the prompt (synth_planted.c).
 *
 * The library never prints; progress goes to an optional callback.
 */
#ifndef DSCK_SYNTH_H
#define DSCK_SYNTH_H

#include "config.h"
#include "err.h"
#include "inventory.h"
#include "jsonw.h"

#include <stddef.h>
#include <stdint.h>

#define DSCK_SYNTH_CHUNK (4u << 20) /* bytes of the one generation buffer */

/* Where a write stands; passed to the progress callback. */
struct dsck_synth_progress {
	size_t shard;          /* 1-based shard being written */
	size_t n_shards;
	uint64_t bytes_done;   /* tensor data bytes finished (sparse: counted as holes) */
	uint64_t bytes_total;  /* payload bytes of the whole checkpoint */
};

typedef void (*dsck_synth_progress_fn)(void *arg,
				       const struct dsck_synth_progress *p);

/* Checkpoint dtype: from the config (quantization_config present: fp8). */
enum dsck_synth_dtype {
	DSCK_SYNTH_DTYPE_CONFIG = 0,
	DSCK_SYNTH_DTYPE_FP8,
	DSCK_SYNTH_DTYPE_BF16,
};

struct dsck_synth_opts {
	const char *preset;       /* "tiny", "small", "671b"; unused with config_path */
	const char *config_path;  /* user config.json instead of a preset, or NULL */
	const char *out_dir;      /* created (with parents) when missing */
	uint64_t seed;
	int64_t layers;           /* num_hidden_layers override, < 0: keep */
	int64_t experts;          /* n_routed_experts override, < 0: keep */
	enum dsck_synth_dtype dtype;
	int sparse;               /* data as file holes (SY-R4) */
	int planted;              /* planted weights (SY-R8): greedy generation
				     continues the alphabet; not with sparse */
	int force;                /* write into a non-empty out_dir */
	uint64_t max_dense_bytes; /* refuse a non-sparse write of more payload
				     bytes than this (DSCK_E_USAGE); 0: no limit */
	dsck_synth_progress_fn progress; /* optional */
	void *progress_arg;
};

/* Defaults: preset "tiny", seed 0, no overrides, dtype from config. */
void dsck_synth_opts_init(struct dsck_synth_opts *o);

/* What was (or, after a refusal, would have been) written. */
struct dsck_synth_result {
	size_t n_files;          /* shards + 5 JSON files */
	size_t n_shards;
	size_t n_tensors;
	uint64_t payload_bytes;  /* tensor data bytes (= index total_size) */
	uint64_t file_bytes;     /* apparent size of every file written */
	uint64_t data_written;   /* data bytes actually written (0 when sparse) */
	int fp8;                 /* 1 for an FP8 checkpoint */
	int planted;             /* 1 for planted weights (SY-R8) */
};

/*
 * Plan and write a synthetic checkpoint into opts->out_dir. Refuses with
 * DSCK_E_USAGE a non-empty directory unless opts->force, and a non-sparse
 * write above opts->max_dense_bytes (result->payload_bytes then says how
 * much it would have written). Config errors come from dsck_config_parse
 * (CONFIG_RANGE etc.), naming the field. result may be NULL.
 */
enum dsck_err dsck_synth_write(const struct dsck_synth_opts *opts,
			       struct dsck_synth_result *result,
			       struct dsck_error *err);

/* Names of the presets, NULL-terminated, for --help. */
extern const char *const dsck_synth_preset_names[];

/* ---- module internals (synth.c, synth_presets.c, synth_tokenizer.c) ---- */

/* A prepared config: validated struct, its config.json text, shard count. */
struct dsck_synth_config {
	struct dsck_config cfg;
	char *json;              /* config.json text as written, owned */
	size_t json_len;
	size_t n_shards;         /* planned shard count (preset or by size) */
	int six_digit_total;     /* SY-R3: "-of-000163" naming (671b preset) */
	int from_preset;
	char name[32];           /* preset name, or "custom" */
};

/*
 * Build the config of opts (synth_presets.c): preset JSON or the user file,
 * overrides applied to the JSON tree, quantization_config added or removed
 * for the dtype, printed like transformers (sorted keys, 2-space indent) and
 * parsed back through dsck_config_parse so every rule of formats.md §4
 * applies. Release with dsck_synth_config_release.
 */
enum dsck_err dsck_synth_config_make(const struct dsck_synth_opts *opts,
				     struct dsck_synth_config *sc,
				     struct dsck_error *err);
void dsck_synth_config_release(struct dsck_synth_config *sc);

/*
 * tokenizer.json and tokenizer_config.json texts (synth_tokenizer.c): a
 * byte-level BPE with the 256 byte tokens, merges learned from a built-in
 * text and the DeepSeek special tokens (bos id 0, eos id 1). The tokenizer
 * has at most vocab_size entries; a vocab_size too small for it is
 * CONFIG_RANGE. Caller frees both texts.
 */
enum dsck_err dsck_synth_tokenizer_build(const struct dsck_config *cfg,
					 char **tokenizer_json,
					 char **tokenizer_config_json,
					 struct dsck_error *err);

/*
 * Last byte (0..255) of token id i of that tokenizer into last[i] for
 * i < n; -1 for a token without bytes (special tokens) and for ids beyond
 * the tokenizer.
 */
enum dsck_err dsck_synth_tokenizer_last_bytes(const struct dsck_config *cfg,
					      int16_t *last, size_t n,
					      struct dsck_error *err);

/* ---- planted weights (synth_planted.c, SY-R8) ---- */

#define DSCK_PLANTED_EMBED 10.0f  /* the embedding's one nonzero value */
#define DSCK_PLANTED_HEAD 1.0f    /* lm_head's nonzero values */
#define DSCK_PLANTED_OTHER 26     /* dimension of a token not ending in a-z */
#define DSCK_PLANTED_SCALE_EXP (-16) /* FP8 scales 2^-16 .. 2^-19 */

struct dsck_synth_planted {
	uint64_t vocab;
	uint8_t *dim_of;      /* [vocab]: 0..25 for a last byte 'a'..'z', else 26 */
	int8_t *letter_of;    /* [vocab]: k for the token "a"+k, else -1 */
};

/*
 * The token tables of cfg's synthetic tokenizer. Refuses (CONFIG_RANGE,
 * naming the field) a hidden_size below 27 and tied embeddings.
 */
enum dsck_err dsck_synth_planted_make(const struct dsck_config *cfg,
				      struct dsck_synth_planted *pl,
				      struct dsck_error *err);
void dsck_synth_planted_release(struct dsck_synth_planted *pl);

/* Element [r, c] of the planted embedding and of the planted lm_head. */
float dsck_synth_planted_embed(const struct dsck_synth_planted *pl,
			       uint64_t r, uint64_t c);
float dsck_synth_planted_head(const struct dsck_synth_planted *pl,
			      uint64_t r, uint64_t c);

#endif
