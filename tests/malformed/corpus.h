/*
 * corpus.h - the generated malformed-input corpus (input-safety cases of
 * formats.md §9). Each generator file (gen_st.c, gen_index.c, gen_config.c)
 * registers cases; main.c writes every case under OUTDIR/<id>/ and checks
 * each against the library, expecting its specific error code; cases.tsv
 * lists them for the CLI test (tests/cli/malformed.sh), which checks exit
 * codes and the one-line message of dsck-inspect.
 *
 * Case ids are "ST-01a", "IX-03c", "CF-02b": the formats.md case id plus a
 * letter per variant. Generation is deterministic.
 */
#ifndef DSCK_CORPUS_H
#define DSCK_CORPUS_H

#include "../../lib/err.h"

#include <stddef.h>

enum corpus_kind {
	CORPUS_ST,      /* one file "x.safetensors": checked with dsck_st_open */
	CORPUS_CKPT,    /* a checkpoint directory: checked with dsck_ckpt_open on the dir */
	CORPUS_CONFIG,  /* one file "config.json": checked with dsck_config_load */
};

struct corpus;

/* Add a case whose input is one file (name "x.safetensors" or "config.json"
 * by kind). bytes are copied. expect is DSCK_OK for inputs that must be accepted. */
void corpus_add(struct corpus *c, const char *id, enum corpus_kind kind,
		enum dsck_err expect, const char *what, const void *bytes,
		size_t len);

/* Add a file to the directory of case id (CORPUS_CKPT cases; call
 * corpus_add_dir first). name may contain no '/'. */
void corpus_add_dir(struct corpus *c, const char *id, enum dsck_err expect,
		    const char *what);
void corpus_dir_file(struct corpus *c, const char *name, const void *bytes,
		     size_t len);
/* A symlink inside the case directory pointing at target (IX-05). */
void corpus_dir_symlink(struct corpus *c, const char *name, const char *target);

/* Helpers to build safetensors files: header JSON text -> file bytes with
 * the 8-byte length prefix, then data_len bytes of deterministic data. The
 * result is malloc'd; the caller frees it. */
unsigned char *corpus_st_bytes(const char *header_json, size_t data_len,
			       size_t *out_len);

/* Registered by each generator file. */
void gen_st(struct corpus *c);
void gen_index(struct corpus *c);
void gen_config(struct corpus *c);

#endif
