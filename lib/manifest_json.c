/*
 * manifest_json.c - manifests on disk (manifest.h, formats.md §7): write
 * one as JSON (sorted keys, one file or tensor per line, atomic), and
 * parse or load one under the strict profile (J-R*) with the exact shape
 * the writer produces, anything else being INVALID_MANIFEST naming the key.
 */
#include "manifest.h"
#include "manifest_int.h"

#include "io.h"
#include "json.h"
#include "jsonw.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MF_MAX_FILE_NAME 255u /* bytes, as IX-R4 */

/* ---- writing -------------------------------------------------------- */

/*
 * Names are valid UTF-8 already (J-R2 on every input they came from) and
 * go out as they are, escaped as serde_json and Python's json.dumps with
 * ensure_ascii=False would (DSCK_JSONW_UTF8).
 */
static enum dsck_err mf_text(const struct dsck_manifest *m, struct dsck_jsonw *out,
			     struct dsck_error *err)
{
	struct dsck_jsonw b = DSCK_JSONW_INIT;
	enum dsck_err rc;

	dsck_jsonw_puts(&b, "{\n  \"dsck_manifest\": 1,\n  \"files\": {");
	for (size_t i = 0; i < m->n_files; i++) {
		const struct dsck_manifest_file *f = &m->files[i];
		dsck_jsonw_puts(&b, i ? ",\n    " : "\n    ");
		dsck_jsonw_str(&b, f->name, DSCK_JSONW_UTF8);
		dsck_jsonw_puts(&b, ": {\"sha256\": \"");
		dsck_jsonw_puts(&b, f->sha256);
		dsck_jsonw_puts(&b, "\", \"size\": ");
		dsck_jsonw_u64(&b, f->size);
		dsck_jsonw_puts(&b, "}");
	}
	dsck_jsonw_puts(&b, m->n_files ? "\n  },\n  \"model_sha256\": \""
				       : "},\n  \"model_sha256\": \"");
	dsck_jsonw_puts(&b, m->model_sha256);
	dsck_jsonw_puts(&b, "\",\n  \"tensors\": {");
	for (size_t i = 0; i < m->n_tensors; i++) {
		const struct dsck_manifest_tensor *t = &m->tensors[i];
		const char *dt = dsck_dtype_name(t->dtype);
		dsck_jsonw_puts(&b, i ? ",\n    " : "\n    ");
		dsck_jsonw_str(&b, t->name, DSCK_JSONW_UTF8);
		dsck_jsonw_puts(&b, ": {\"dtype\": \"");
		dsck_jsonw_puts(&b, dt ? dt : "");
		dsck_jsonw_puts(&b, "\", \"sha256\": \"");
		dsck_jsonw_puts(&b, t->sha256);
		dsck_jsonw_puts(&b, "\", \"shape\": [");
		for (uint32_t d = 0; d < t->ndim; d++) {
			if (d)
				dsck_jsonw_puts(&b, ", ");
			dsck_jsonw_u64(&b, t->shape[d]);
		}
		dsck_jsonw_puts(&b, "]}");
	}
	dsck_jsonw_puts(&b, m->n_tensors ? "\n  }\n}\n" : "}\n}\n");
	rc = dsck_jsonw_check(&b, "manifest text", err);
	if (rc == DSCK_OK)
		*out = b;
	else
		dsck_jsonw_release(&b);
	return rc;
}

enum dsck_err dsck_manifest_write(const struct dsck_manifest *m, const char *path,
				  struct dsck_error *err)
{
	struct dsck_jsonw b = DSCK_JSONW_INIT;
	enum dsck_err rc = mf_text(m, &b, err);
	if (rc == DSCK_OK)
		rc = dsck_write_file_atomic(path, b.p, b.len, err);
	dsck_jsonw_release(&b);
	return rc;
}

enum dsck_err dsck_manifest_write_fd(const struct dsck_manifest *m, int fd,
				     struct dsck_error *err)
{
	struct dsck_jsonw b = DSCK_JSONW_INIT;
	enum dsck_err rc = mf_text(m, &b, err);
	for (size_t done = 0; rc == DSCK_OK && done < b.len;) {
		ssize_t w = write(fd, b.p + done, b.len - done);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			rc = dsck_error_set(err, dsck_err_from_errno(w < 0 ? errno : EIO),
					    "writing the manifest: %s",
					    strerror(w < 0 ? errno : EIO));
		else
			done += (size_t)w;
	}
	dsck_jsonw_release(&b);
	return rc;
}

static int mf_cmp_tensor(const void *a, const void *b)
{
	return strcmp(((const struct dsck_manifest_tensor *)a)->name,
		      ((const struct dsck_manifest_tensor *)b)->name);
}

/* ---- loading -------------------------------------------------------- */

static enum dsck_err mf_bad(struct dsck_error *err, const char *key,
			    const char *what)
{
	dsck_error_tensor(err, key);
	return dsck_error_set(err, DSCK_E_INVALID_MANIFEST, "%s", what);
}

/* Check obj is an object with exactly the n keys given. */
static int mf_exact_keys(const cJSON *obj, const char *const *keys, size_t n)
{
	size_t count = 0;
	if (!cJSON_IsObject(obj))
		return -1;
	for (const cJSON *it = obj->child; it; it = it->next) {
		size_t k;
		for (k = 0; k < n; k++)
			if (strcmp(it->string, keys[k]) == 0)
				break;
		if (k == n)
			return -1;
		count++;
	}
	return count == n ? 0 : -1; /* keys are unique (J-R6) */
}

static int mf_get_hex(const cJSON *obj, const char *key, char out[DSCK_SHA256_HEX])
{
	const cJSON *it = cJSON_GetObjectItemCaseSensitive(obj, key);
	unsigned char raw[32];
	if (!cJSON_IsString(it) || !it->valuestring ||
	    dsck_json_strlen(it->valuestring) != 64 ||
	    dsck_manifest_hex_decode(it->valuestring, raw) != 0)
		return -1;
	memcpy(out, it->valuestring, DSCK_SHA256_HEX);
	return 0;
}

/* A file name of a manifest: 1..255 bytes, no separator, no control byte,
 * not "." or "..". Names are compared, never opened, but they are printed. */
static int mf_check_file_name(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > MF_MAX_FILE_NAME || strcmp(s, ".") == 0 || strcmp(s, "..") == 0)
		return -1;
	for (const unsigned char *p = (const unsigned char *)s; *p; p++)
		if (*p == '/' || *p == '\\' || *p < 0x20 || *p == 0x7f)
			return -1;
	return 0;
}

static enum dsck_err mf_parse_files(const cJSON *files, struct dsck_manifest *m,
				    struct dsck_error *err)
{
	static const char *const keys[] = { "sha256", "size" };
	size_t n = 0;
	for (const cJSON *it = files->child; it; it = it->next)
		n++;
	m->files = calloc(n ? n : 1, sizeof *m->files);
	if (!m->files)
		return dsck_error_set(err, DSCK_E_NOMEM, "manifest files");
	for (const cJSON *it = files->child; it; it = it->next) {
		struct dsck_manifest_file *f = &m->files[m->n_files];
		if (mf_check_file_name(it->string) != 0)
			return mf_bad(err, it->string, "file name is not a plain file name");
		if (mf_exact_keys(it, keys, 2) != 0)
			return mf_bad(err, it->string, "file entry needs exactly sha256 and size");
		if (mf_get_hex(it, "sha256", f->sha256) != 0)
			return mf_bad(err, it->string, "file sha256 is not 64 lowercase hex digits");
		if (dsck_json_u64(cJSON_GetObjectItemCaseSensitive(it, "size"), &f->size) != 0)
			return mf_bad(err, it->string, "file size is not an exact integer");
		f->name = strdup(it->string);
		if (!f->name)
			return dsck_error_set(err, DSCK_E_NOMEM, "manifest file name");
		m->n_files++;
	}
	qsort(m->files, m->n_files, sizeof *m->files, dsck_manifest_cmp_file);
	return DSCK_OK;
}

static enum dsck_err mf_parse_tensors(const cJSON *tensors, struct dsck_manifest *m,
				      struct dsck_error *err)
{
	static const char *const keys[] = { "dtype", "sha256", "shape" };
	size_t n = 0;
	for (const cJSON *it = tensors->child; it; it = it->next)
		n++;
	m->tensors = calloc(n ? n : 1, sizeof *m->tensors);
	if (!m->tensors)
		return dsck_error_set(err, DSCK_E_NOMEM, "manifest tensors");
	for (const cJSON *it = tensors->child; it; it = it->next) {
		struct dsck_manifest_tensor *t = &m->tensors[m->n_tensors];
		const cJSON *dt, *shape;
		if (it->string[0] == '\0')
			return mf_bad(err, it->string, "empty tensor name");
		if (mf_exact_keys(it, keys, 3) != 0)
			return mf_bad(err, it->string, "tensor entry needs exactly dtype, sha256 and shape");
		if (mf_get_hex(it, "sha256", t->sha256) != 0)
			return mf_bad(err, it->string, "tensor sha256 is not 64 lowercase hex digits");
		dt = cJSON_GetObjectItemCaseSensitive(it, "dtype");
		if (!cJSON_IsString(dt) || !dt->valuestring ||
		    dsck_dtype_from_name(dt->valuestring, dsck_json_strlen(dt->valuestring),
					 &t->dtype) != 0)
			return mf_bad(err, it->string, "tensor dtype is not a safetensors dtype name");
		shape = cJSON_GetObjectItemCaseSensitive(it, "shape");
		if (!cJSON_IsArray(shape))
			return mf_bad(err, it->string, "tensor shape is not an array");
		for (const cJSON *d = shape->child; d; d = d->next) {
			if (t->ndim == DSCK_MAX_DIMS)
				return mf_bad(err, it->string, "tensor shape has more than 8 dimensions");
			if (dsck_json_u64(d, &t->shape[t->ndim]) != 0)
				return mf_bad(err, it->string, "tensor shape entry is not an exact integer");
			t->ndim++;
		}
		t->name = strdup(it->string);
		if (!t->name)
			return dsck_error_set(err, DSCK_E_NOMEM, "manifest tensor name");
		m->n_tensors++;
	}
	qsort(m->tensors, m->n_tensors, sizeof *m->tensors, mf_cmp_tensor);
	return DSCK_OK;
}

enum dsck_err dsck_manifest_parse(const char *text, size_t len, const char *path,
				  struct dsck_manifest *out, struct dsck_error *err)
{
	static const char *const keys[] = { "dsck_manifest", "files", "model_sha256",
					    "tensors" };
	struct dsck_manifest m = DSCK_MANIFEST_INIT;
	cJSON *root = NULL;
	const cJSON *files, *tensors;
	uint64_t version;
	enum dsck_err rc;

	*out = (struct dsck_manifest)DSCK_MANIFEST_INIT;
	if (path)
		dsck_error_file(err, path);
	if (len > DSCK_MANIFEST_MAX_BYTES) {
		rc = dsck_error_set(err, DSCK_E_LIMIT, "manifest too large");
		goto out;
	}
	rc = dsck_json_parse(text, len, 0, &root, err);
	if (rc)
		goto out;
	if (mf_exact_keys(root, keys, 4) != 0) {
		rc = mf_bad(err, "", "top level needs exactly dsck_manifest, files, model_sha256 and tensors");
		goto out;
	}
	if (dsck_json_u64(cJSON_GetObjectItemCaseSensitive(root, "dsck_manifest"), &version) != 0 ||
	    version != DSCK_MANIFEST_VERSION) {
		dsck_error_expect(err, "%d", DSCK_MANIFEST_VERSION);
		rc = mf_bad(err, "dsck_manifest", "unknown manifest version");
		goto out;
	}
	if (mf_get_hex(root, "model_sha256", m.model_sha256) != 0) {
		rc = mf_bad(err, "model_sha256", "not 64 lowercase hex digits");
		goto out;
	}
	files = cJSON_GetObjectItemCaseSensitive(root, "files");
	tensors = cJSON_GetObjectItemCaseSensitive(root, "tensors");
	if (!cJSON_IsObject(files)) {
		rc = mf_bad(err, "files", "not an object");
		goto out;
	}
	if (!cJSON_IsObject(tensors)) {
		rc = mf_bad(err, "tensors", "not an object");
		goto out;
	}
	rc = mf_parse_files(files, &m, err);
	if (rc)
		goto out;
	rc = mf_parse_tensors(tensors, &m, err);
	if (rc)
		goto out;
	if (path)
		dsck_error_clear(err);
	*out = m;
	m = (struct dsck_manifest)DSCK_MANIFEST_INIT;
out:
	cJSON_Delete(root);
	dsck_manifest_release(&m);
	return rc;
}

enum dsck_err dsck_manifest_load(const char *path, struct dsck_manifest *out,
				 struct dsck_error *err)
{
	char *text = NULL;
	size_t len = 0;
	enum dsck_err rc;

	*out = (struct dsck_manifest)DSCK_MANIFEST_INIT;
	rc = dsck_file_read_all(path, DSCK_MANIFEST_MAX_BYTES, &text, &len, err);
	if (rc)
		return rc;
	rc = dsck_manifest_parse(text, len, path, out, err);
	free(text);
	return rc;
}
