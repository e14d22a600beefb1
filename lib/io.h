/*
 * io.h - bytes layer: read-only files through pread, bounded whole-file reads
 * for small JSON files, directory listing, and the atomic writer.
 *
 * Inputs are never modified: files are opened O_RDONLY. Every read is bounded
 * by the size fstat reported at open (formats.md G-R1); a short read is an
 * error, never a silent partial buffer.
 */
#ifndef DSCK_IO_H
#define DSCK_IO_H

#include "err.h"

#include <stddef.h>
#include <stdint.h>

struct dsck_file {
	int fd;         /* -1 when closed */
	uint64_t size;  /* from fstat at open */
	char *path;     /* owned copy, for error messages */
};

#define DSCK_FILE_INIT { -1, 0, NULL }

/* Open path read-only (regular files only). On error f stays closed. */
enum dsck_err dsck_file_open(struct dsck_file *f, const char *path,
			     struct dsck_error *err);

/*
 * Open name inside the directory dirfd without following a symlink in the
 * last component (O_NOFOLLOW), for shard names taken from an index
 * (formats.md IX-R5). display is the path shown in errors.
 */
enum dsck_err dsck_file_openat(struct dsck_file *f, int dirfd, const char *name,
			       const char *display, struct dsck_error *err);

/* Read exactly n bytes at offset off into buf; reading past the size fstat
 * reported, or a short read, is an error naming the offset. */
enum dsck_err dsck_file_pread(const struct dsck_file *f, uint64_t off, void *buf,
			      size_t n, struct dsck_error *err);

/* Tell the kernel we are done with [off, off+len) so the page cache does not
 * grow with a 700 GB input. Advisory; never fails. */
void dsck_file_drop_cache(const struct dsck_file *f, uint64_t off, uint64_t len);

/* Close and free the path; accepts a closed file. */
void dsck_file_close(struct dsck_file *f);

/*
 * Read a whole small file (config.json, index.json) into a new
 * NUL-terminated buffer the caller frees. Files larger than max_bytes are
 * refused with DSCK_E_LIMIT before anything is allocated.
 */
enum dsck_err dsck_file_read_all(const char *path, uint64_t max_bytes,
				 char **out, size_t *out_len,
				 struct dsck_error *err);

/* Same, for a stream (a pipe, stdin): read until EOF, refusing more than
 * max_bytes. display names the stream in errors ("standard input"). */
enum dsck_err dsck_fd_read_all(int fd, const char *display, uint64_t max_bytes,
			       char **out, size_t *out_len,
			       struct dsck_error *err);

/* Same, for a name inside dirfd, without following a final symlink. */
enum dsck_err dsck_file_read_all_at(int dirfd, const char *name,
				    const char *display, uint64_t max_bytes,
				    char **out, size_t *out_len,
				    struct dsck_error *err);

/*
 * Atomic writer (formats.md W-R1): data goes to a temporary file in the
 * target's directory named ".NAME.dsck-tmp-XXXXXX"; commit fsyncs it,
 * renames it to the final name and fsyncs the directory; abort (or a crash)
 * leaves no file under the final name. The writer owns its fd and paths.
 */
struct dsck_writer {
	int fd;
	uint64_t pos;       /* bytes appended by dsck_writer_write */
	char *final_path;
	char *tmp_path;
};

#define DSCK_WRITER_INIT { -1, 0, NULL, NULL }

enum dsck_err dsck_writer_open(struct dsck_writer *w, const char *path,
			       struct dsck_error *err);
/* Append n bytes at the current position. */
enum dsck_err dsck_writer_write(struct dsck_writer *w, const void *buf, size_t n,
				struct dsck_error *err);
/* Write n bytes at absolute offset off (does not move the append position). */
enum dsck_err dsck_writer_pwrite(struct dsck_writer *w, uint64_t off,
				 const void *buf, size_t n,
				 struct dsck_error *err);
/* Set the final size (sparse where never written: synthetic data holes). */
enum dsck_err dsck_writer_truncate(struct dsck_writer *w, uint64_t size,
				   struct dsck_error *err);
/* fsync, rename over the final name, fsync the directory; frees w. */
enum dsck_err dsck_writer_commit(struct dsck_writer *w, struct dsck_error *err);
/* Remove the temporary file and free w; accepts an unopened writer. */
void dsck_writer_abort(struct dsck_writer *w);

/* Write a small whole file atomically (config.json, index.json, manifests). */
enum dsck_err dsck_write_file_atomic(const char *path, const void *buf, size_t n,
				     struct dsck_error *err);

/*
 * Directory listing: fn is called once for every entry of the directory
 * dirfd except "." and "..", in readdir order, with the entry's name (a
 * view valid during the call only). fn returns DSCK_OK to go on; any other
 * code stops the walk and is returned as it is (fn fills err). dirfd stays
 * open and owned by the caller: the walk reads a duplicate. display names
 * the directory in errors (open failure: NOT_FOUND/IO from errno; readdir
 * failure: IO).
 */
typedef enum dsck_err (*dsck_dir_entry_fn)(const char *name, void *user,
					   struct dsck_error *err);
enum dsck_err dsck_dir_each(int dirfd, const char *display, dsck_dir_entry_fn fn,
			    void *user, struct dsck_error *err);

/* Map errno of a failed write/open into DSCK_E_NOSPACE / NOT_FOUND / IO. */
enum dsck_err dsck_err_from_errno(int errnum);

#endif
