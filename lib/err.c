/* err.c - error codes, their text, and the one-line formatter (err.h). */
#include "err.h"

#include <stdio.h>
#include <string.h>

struct err_row {
	enum dsck_err code;
	const char *name;
	const char *text;
};

/* Stable: rows are looked up by code, never by position. */
static const struct err_row err_table[] = {
	{ DSCK_OK, "OK", "success" },
	{ DSCK_E_HEADER_TOO_SMALL, "HEADER_TOO_SMALL", "header too small" },
	{ DSCK_E_HEADER_TOO_LARGE, "HEADER_TOO_LARGE", "header too large" },
	{ DSCK_E_INVALID_HEADER_LENGTH, "INVALID_HEADER_LENGTH", "invalid header length" },
	{ DSCK_E_INVALID_UTF8, "INVALID_UTF8", "invalid UTF-8" },
	{ DSCK_E_INVALID_JSON, "INVALID_JSON", "invalid JSON" },
	{ DSCK_E_DUPLICATE_KEY, "DUPLICATE_KEY", "duplicate key" },
	{ DSCK_E_INVALID_METADATA, "INVALID_METADATA", "invalid __metadata__" },
	{ DSCK_E_INVALID_DTYPE, "INVALID_DTYPE", "invalid dtype" },
	{ DSCK_E_INVALID_OFFSET, "INVALID_OFFSET", "invalid data offsets" },
	{ DSCK_E_TENSOR_INVALID_INFO, "TENSOR_INVALID_INFO", "byte size does not match shape and dtype" },
	{ DSCK_E_OVERFLOW, "OVERFLOW", "size overflows 64 bits" },
	{ DSCK_E_MISALIGNED, "MISALIGNED", "size is not a whole number of bytes" },
	{ DSCK_E_INCOMPLETE_BUFFER, "INCOMPLETE_BUFFER", "data section does not match the file size" },
	{ DSCK_E_INVALID_NAME, "INVALID_NAME", "invalid tensor name" },
	{ DSCK_E_LIMIT, "LIMIT", "exceeds a hard limit" },
	{ DSCK_E_INVALID_INDEX, "INVALID_INDEX", "invalid index file" },
	{ DSCK_E_BAD_SHARD_PATH, "BAD_SHARD_PATH", "shard path not allowed" },
	{ DSCK_E_MISSING_SHARD, "MISSING_SHARD", "shard file missing" },
	{ DSCK_E_INDEX_MISMATCH, "INDEX_MISMATCH", "index does not match the shards" },
	{ DSCK_E_CONFIG_MISSING, "CONFIG_MISSING", "config field missing" },
	{ DSCK_E_CONFIG_TYPE, "CONFIG_TYPE", "config field has the wrong type" },
	{ DSCK_E_CONFIG_RANGE, "CONFIG_RANGE", "config value out of range" },
	{ DSCK_E_UNSUPPORTED, "UNSUPPORTED", "unsupported model or format" },
	{ DSCK_E_MODEL_MISMATCH, "MODEL_MISMATCH", "tensors do not match the config" },
	{ DSCK_E_TENSOR_NOT_FOUND, "TENSOR_NOT_FOUND", "tensor not found" },
	{ DSCK_E_INVALID_MANIFEST, "INVALID_MANIFEST", "invalid manifest" },
	{ DSCK_E_BAD_VALUE, "BAD_VALUE", "invalid tensor value" },
	{ DSCK_E_USAGE, "USAGE", "usage error" },
	{ DSCK_E_IO, "IO", "I/O error" },
	{ DSCK_E_NOMEM, "NOMEM", "out of memory" },
	{ DSCK_E_NOSPACE, "NOSPACE", "not enough disk space" },
	{ DSCK_E_NOT_FOUND, "NOT_FOUND", "no such file or directory" },
	{ DSCK_E_MISMATCH, "MISMATCH", "verification mismatch" },
};

static const struct err_row *err_row_find(enum dsck_err code)
{
	for (size_t i = 0; i < sizeof err_table / sizeof err_table[0]; i++)
		if (err_table[i].code == code)
			return &err_table[i];
	return NULL;
}

const char *dsck_strerror(enum dsck_err code)
{
	const struct err_row *r = err_row_find(code);
	return r ? r->text : "unknown error";
}

const char *dsck_err_name(enum dsck_err code)
{
	const struct err_row *r = err_row_find(code);
	return r ? r->name : "UNKNOWN";
}

int dsck_err_exit_code(enum dsck_err code)
{
	if (code == DSCK_OK)
		return DSCK_EXIT_OK;
	if (code == DSCK_E_USAGE)
		return DSCK_EXIT_USAGE;
	if (code >= DSCK_E_IO && code < DSCK_E_MISMATCH)
		return DSCK_EXIT_IO;
	if (code == DSCK_E_MISMATCH)
		return DSCK_EXIT_MISMATCH;
	return DSCK_EXIT_INPUT;
}

void dsck_error_clear(struct dsck_error *e)
{
	if (!e)
		return;
	memset(e, 0, sizeof *e);
	e->code = DSCK_OK;
	e->offset = -1;
}

static void field_vset(char *dst, const char *fmt, va_list ap)
{
	vsnprintf(dst, DSCK_ERROR_FIELD, fmt, ap);
}

enum dsck_err dsck_error_set(struct dsck_error *e, enum dsck_err code,
			     const char *fmt, ...)
{
	if (!e)
		return code;
	e->code = code;
	va_list ap;
	va_start(ap, fmt);
	field_vset(e->detail, fmt, ap);
	va_end(ap);
	return code;
}

void dsck_error_file(struct dsck_error *e, const char *path)
{
	if (e && path)
		snprintf(e->file, sizeof e->file, "%s", path);
}

void dsck_error_tensor(struct dsck_error *e, const char *name)
{
	if (e && name)
		dsck_error_tensor_n(e, name, strlen(name));
}

/* Parsers set this before each entry's checks, so it is on the hot path:
 * a plain copy. Control bytes from untrusted names are replaced when the
 * line is formatted (dsck_error_format). */
void dsck_error_tensor_n(struct dsck_error *e, const char *name, size_t len)
{
	if (!e || !name)
		return;
	size_t n = len < sizeof e->tensor - 1 ? len : sizeof e->tensor - 1;
	memcpy(e->tensor, name, n);
	e->tensor[n] = '\0';
}

void dsck_error_offset(struct dsck_error *e, int64_t offset)
{
	if (e)
		e->offset = offset;
}

void dsck_error_expect(struct dsck_error *e, const char *fmt, ...)
{
	if (!e)
		return;
	va_list ap;
	va_start(ap, fmt);
	field_vset(e->expected, fmt, ap);
	va_end(ap);
}

void dsck_error_found(struct dsck_error *e, const char *fmt, ...)
{
	if (!e)
		return;
	va_list ap;
	va_start(ap, fmt);
	field_vset(e->found, fmt, ap);
	va_end(ap);
}

void dsck_error_format(const struct dsck_error *e, char *buf, size_t n)
{
	size_t used = 0;
	if (!buf || n == 0)
		return;
	buf[0] = '\0';
#define APPEND(...)                                                          \
	do {                                                                 \
		if (used < n) {                                              \
			int k_ = snprintf(buf + used, n - used, __VA_ARGS__); \
			if (k_ > 0)                                          \
				used += (size_t)k_;                          \
		}                                                            \
	} while (0)
	if (e->file[0])
		APPEND("%s: ", e->file);
	if (e->tensor[0])
		APPEND("tensor '%s': ", e->tensor);
	if (e->offset >= 0)
		APPEND("byte %lld: ", (long long)e->offset);
	APPEND("%s", dsck_strerror(e->code));
	if (e->detail[0])
		APPEND(": %s", e->detail);
	if (e->expected[0] && e->found[0])
		APPEND(" (expected %s, found %s)", e->expected, e->found);
	else if (e->expected[0])
		APPEND(" (expected %s)", e->expected);
	else if (e->found[0])
		APPEND(" (found %s)", e->found);
#undef APPEND
	/* Every field may hold bytes from an untrusted file: the line goes to a
	 * terminal, so control bytes (escape sequences, newlines) become '?'. */
	for (char *p = buf; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = '?';
}
