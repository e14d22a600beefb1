/* npy.c - .npy writer (npy.h). */
#include "npy.h"

#include "io.h"

#include <stdio.h>
#include <string.h>

_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "the header says '<f4'");

enum dsck_err dsck_npy_write_f32(const char *path, const float *data, uint32_t ndim,
				 const uint64_t *shape, struct dsck_error *err)
{
	char dict[256], hdr[320];
	size_t n = 0, count = 1;
	struct dsck_writer w = DSCK_WRITER_INIT;
	enum dsck_err rc;

	if (ndim < 1 || ndim > 4)
		return dsck_error_set(err, DSCK_E_USAGE, "npy arrays of 1 to 4 dimensions");
	n = (size_t)snprintf(dict, sizeof dict, "{'descr': '<f4', 'fortran_order': False, 'shape': (");
	for (uint32_t d = 0; d < ndim; d++) {
		n += (size_t)snprintf(dict + n, sizeof dict - n, "%llu,%s", (unsigned long long)shape[d],
				      d + 1 < ndim ? " " : "");
		count *= shape[d];
	}
	n += (size_t)snprintf(dict + n, sizeof dict - n, "), }");
	/* magic (6) + version (2) + length (2) + dict + padding + '\n' = k * 64 */
	size_t total = 10 + n + 1;
	size_t pad = (64 - total % 64) % 64;
	memcpy(hdr, "\x93NUMPY\x01\x00", 8);
	uint16_t hl = (uint16_t)(n + pad + 1);
	hdr[8] = (char)(hl & 0xFF);
	hdr[9] = (char)(hl >> 8);
	memcpy(hdr + 10, dict, n);
	memset(hdr + 10 + n, ' ', pad);
	hdr[10 + n + pad] = '\n';
	rc = dsck_writer_open(&w, path, err);
	if (!rc)
		rc = dsck_writer_write(&w, hdr, 10 + n + pad + 1, err);
	if (!rc)
		rc = dsck_writer_write(&w, data, count * sizeof(float), err);
	if (!rc)
		rc = dsck_writer_commit(&w, err);
	else
		dsck_writer_abort(&w);
	return rc;
}
