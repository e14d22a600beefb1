/*
 * err.h - the one error enum of libdsck, and the context that travels with it.
 *
 * The library never prints and never exits: every fallible call returns an
 * enum dsck_err and fills a caller-owned struct dsck_error with what a user
 * needs to act (file, tensor, byte offset, expected vs found). Tools turn it
 * into one line on stderr with dsck_error_format() and into an exit code with
 * dsck_err_exit_code(). Numbers are stable: they appear in --json output and in
 * the malformed-input corpus, so never renumber, only append.
 * The safetensors-related names follow the reference reader's error variants
 * (formats.md §2) so outcomes can be compared case by case.
 */
#ifndef DSCK_ERR_H
#define DSCK_ERR_H

#include <stdarg.h>
#include <stdint.h>
#include <stddef.h>

enum dsck_err {
	DSCK_OK = 0,

	/* Invalid input: exit code 1. */
	DSCK_E_HEADER_TOO_SMALL = 10,     /* ST-R1 */
	DSCK_E_HEADER_TOO_LARGE = 11,     /* ST-R2, ST-R3 */
	DSCK_E_INVALID_HEADER_LENGTH = 12, /* ST-R4 */
	DSCK_E_INVALID_UTF8 = 13,         /* ST-R5, J-R2 */
	DSCK_E_INVALID_JSON = 14,         /* ST-R6, J-R* */
	DSCK_E_DUPLICATE_KEY = 15,        /* J-R6 */
	DSCK_E_INVALID_METADATA = 16,     /* ST-R7 */
	DSCK_E_INVALID_DTYPE = 17,        /* ST-R8 */
	DSCK_E_INVALID_OFFSET = 18,       /* ST-R10 */
	DSCK_E_TENSOR_INVALID_INFO = 19,  /* ST-R13 */
	DSCK_E_OVERFLOW = 20,             /* ST-R11 */
	DSCK_E_MISALIGNED = 21,           /* ST-R12 */
	DSCK_E_INCOMPLETE_BUFFER = 22,    /* ST-R14 */
	DSCK_E_INVALID_NAME = 23,         /* ST-R9 */
	DSCK_E_LIMIT = 24,                /* a hard cap of formats.md §1 */
	DSCK_E_INVALID_INDEX = 30,        /* IX-R1..R3 */
	DSCK_E_BAD_SHARD_PATH = 31,       /* IX-R4, IX-R5 */
	DSCK_E_MISSING_SHARD = 32,        /* IX-R6 */
	DSCK_E_INDEX_MISMATCH = 33,       /* IX-R7, IX-R8 */
	DSCK_E_CONFIG_MISSING = 40,       /* CF-R2 */
	DSCK_E_CONFIG_TYPE = 41,          /* CF-R3 */
	DSCK_E_CONFIG_RANGE = 42,         /* CF-R4, CF-R5 */
	DSCK_E_UNSUPPORTED = 43,          /* CF-R6 */
	DSCK_E_MODEL_MISMATCH = 44,       /* config disagrees with the tensors */
	DSCK_E_TENSOR_NOT_FOUND = 45,
	DSCK_E_INVALID_MANIFEST = 46,     /* MF-R* */
	DSCK_E_BAD_VALUE = 47,            /* a value no conversion can take: NaN/zero/negative scale, NaN weight (PL-R3, PL-R4) */

	/* Usage: exit code 2. */
	DSCK_E_USAGE = 50,

	/* I/O or resources: exit code 3. */
	DSCK_E_IO = 60,
	DSCK_E_NOMEM = 61,
	DSCK_E_NOSPACE = 62,
	DSCK_E_NOT_FOUND = 63,            /* a file or directory that must exist does not */

	/* Verification mismatch: exit code 4. */
	DSCK_E_MISMATCH = 70,
};

/* Process exit codes shared by every tool (README "Exit codes"). */
enum dsck_exit {
	DSCK_EXIT_OK = 0,
	DSCK_EXIT_INPUT = 1,
	DSCK_EXIT_USAGE = 2,
	DSCK_EXIT_IO = 3,
	DSCK_EXIT_MISMATCH = 4,
};

#define DSCK_ERROR_FIELD 256

/*
 * Context of the last error. Plain data, owned by the caller (usually on the
 * stack); every field is optional: empty string or offset -1 means "unknown".
 */
struct dsck_error {
	enum dsck_err code;
	char file[DSCK_ERROR_FIELD];     /* path of the file at fault */
	char tensor[DSCK_ERROR_FIELD];   /* tensor (or JSON key) at fault */
	int64_t offset;                  /* byte offset in file, -1 if none */
	char expected[DSCK_ERROR_FIELD]; /* what a valid file has there */
	char found[DSCK_ERROR_FIELD];    /* what this file has */
	char detail[DSCK_ERROR_FIELD];   /* one sentence: what is wrong */
};

/* Short, stable description of a code ("header too large"). Never NULL. */
const char *dsck_strerror(enum dsck_err code);

/* Stable identifier of a code ("HEADER_TOO_LARGE"), for --json. Never NULL. */
const char *dsck_err_name(enum dsck_err code);

/* Exit code (enum dsck_exit) a tool returns for an error code. */
int dsck_err_exit_code(enum dsck_err code);

/* Reset to "no error": code DSCK_OK, strings empty, offset -1. */
void dsck_error_clear(struct dsck_error *e);

/*
 * Record an error: sets code and detail (printf format), keeps the other
 * fields as they are, returns code so callers can write
 * `return dsck_error_set(err, DSCK_E_IO, "...")`. e may be NULL.
 */
enum dsck_err dsck_error_set(struct dsck_error *e, enum dsck_err code,
			     const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Setters for the context fields; each accepts e == NULL and truncates. */
void dsck_error_file(struct dsck_error *e, const char *path);
void dsck_error_tensor(struct dsck_error *e, const char *name);
void dsck_error_tensor_n(struct dsck_error *e, const char *name, size_t len);
void dsck_error_offset(struct dsck_error *e, int64_t offset);
void dsck_error_expect(struct dsck_error *e, const char *expected_fmt, ...)
	__attribute__((format(printf, 2, 3)));
void dsck_error_found(struct dsck_error *e, const char *found_fmt, ...)
	__attribute__((format(printf, 2, 3)));

/*
 * One line, no newline, into buf (always NUL-terminated):
 *   FILE: tensor 'T': byte OFF: STRERROR: DETAIL (expected E, found F)
 * Parts that are unknown are left out.
 */
void dsck_error_format(const struct dsck_error *e, char *buf, size_t n);

#endif
