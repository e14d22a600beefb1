/* io.c - pread-based files, directory listing and the atomic writer (io.h). */
#include "io.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

enum dsck_err dsck_err_from_errno(int errnum)
{
	switch (errnum) {
	case ENOSPC:
	case EDQUOT:
		return DSCK_E_NOSPACE;
	case ENOENT:
	case ENOTDIR:
		return DSCK_E_NOT_FOUND;
	case ENOMEM:
		return DSCK_E_NOMEM;
	default:
		return DSCK_E_IO;
	}
}

static enum dsck_err file_adopt(struct dsck_file *f, int fd, const char *display,
				struct dsck_error *err)
{
	struct stat st;
	if (fstat(fd, &st) != 0) {
		int e = errno;
		close(fd);
		dsck_error_file(err, display);
		return dsck_error_set(err, DSCK_E_IO, "fstat: %s", strerror(e));
	}
	if (!S_ISREG(st.st_mode)) {
		close(fd);
		dsck_error_file(err, display);
		return dsck_error_set(err, DSCK_E_IO, "not a regular file");
	}
	/* Opened O_NONBLOCK so that a FIFO in a checkpoint's place cannot hang
	 * the open; for a regular file the flag means nothing, clear it anyway. */
	int fl = fcntl(fd, F_GETFL);
	if (fl >= 0)
		(void)fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
	f->path = strdup(display);
	if (!f->path) {
		close(fd);
		return dsck_error_set(err, DSCK_E_NOMEM, "path copy");
	}
	f->fd = fd;
	f->size = (uint64_t)st.st_size;
	return DSCK_OK;
}

enum dsck_err dsck_file_open(struct dsck_file *f, const char *path,
			     struct dsck_error *err)
{
	*f = (struct dsck_file)DSCK_FILE_INIT;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0) {
		int e = errno;
		dsck_error_file(err, path);
		return dsck_error_set(err, dsck_err_from_errno(e), "open: %s",
				      strerror(e));
	}
	return file_adopt(f, fd, path, err);
}

enum dsck_err dsck_file_openat(struct dsck_file *f, int dirfd, const char *name,
			       const char *display, struct dsck_error *err)
{
	*f = (struct dsck_file)DSCK_FILE_INIT;
	int fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
	if (fd < 0) {
		int e = errno;
		dsck_error_file(err, display);
		if (e == ELOOP)
			return dsck_error_set(err, DSCK_E_BAD_SHARD_PATH,
					      "is a symbolic link; checkpoint files are opened only as regular files inside the directory (formats.md IX-R5); for a Hugging Face cache snapshot, download with --local-dir instead");
		return dsck_error_set(err, dsck_err_from_errno(e), "open: %s",
				      strerror(e));
	}
	return file_adopt(f, fd, display, err);
}

enum dsck_err dsck_file_pread(const struct dsck_file *f, uint64_t off, void *buf,
			      size_t n, struct dsck_error *err)
{
	uint64_t end;
	if (__builtin_add_overflow(off, (uint64_t)n, &end) || end > f->size) {
		dsck_error_file(err, f->path);
		dsck_error_offset(err, (int64_t)off);
		dsck_error_expect(err, "%llu bytes available", (unsigned long long)(off < f->size ? f->size - off : 0));
		dsck_error_found(err, "a read of %zu bytes", n);
		return dsck_error_set(err, DSCK_E_IO, "read past end of file");
	}
	char *p = buf;
	while (n > 0) {
		ssize_t r = pread(f->fd, p, n, (off_t)off);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			int e = r < 0 ? errno : 0;
			dsck_error_file(err, f->path);
			dsck_error_offset(err, (int64_t)off);
			return dsck_error_set(err, DSCK_E_IO, "read: %s",
					      e ? strerror(e) : "file shrank while reading");
		}
		p += r;
		n -= (size_t)r;
		off += (uint64_t)r;
	}
	return DSCK_OK;
}

void dsck_file_drop_cache(const struct dsck_file *f, uint64_t off, uint64_t len)
{
	if (f->fd >= 0)
		(void)posix_fadvise(f->fd, (off_t)off, (off_t)len, POSIX_FADV_DONTNEED);
}

void dsck_file_close(struct dsck_file *f)
{
	if (f->fd >= 0)
		close(f->fd);
	free(f->path);
	*f = (struct dsck_file)DSCK_FILE_INIT;
}

static enum dsck_err file_slurp(struct dsck_file *f, uint64_t max_bytes,
				char **out, size_t *out_len,
				struct dsck_error *err)
{
	enum dsck_err rc;
	char *buf = NULL;
	if (f->size > max_bytes) {
		dsck_error_file(err, f->path);
		dsck_error_expect(err, "at most %llu bytes", (unsigned long long)max_bytes);
		dsck_error_found(err, "%llu bytes", (unsigned long long)f->size);
		rc = dsck_error_set(err, DSCK_E_LIMIT, "file too large");
		goto out;
	}
	buf = malloc((size_t)f->size + 1);
	if (!buf) {
		rc = dsck_error_set(err, DSCK_E_NOMEM, "reading %s", f->path);
		goto out;
	}
	rc = dsck_file_pread(f, 0, buf, (size_t)f->size, err);
	if (rc)
		goto out;
	buf[f->size] = '\0';
	*out = buf;
	*out_len = (size_t)f->size;
	buf = NULL;
out:
	free(buf);
	dsck_file_close(f);
	return rc;
}

enum dsck_err dsck_file_read_all(const char *path, uint64_t max_bytes,
				 char **out, size_t *out_len,
				 struct dsck_error *err)
{
	struct dsck_file f;
	enum dsck_err rc = dsck_file_open(&f, path, err);
	if (rc)
		return rc;
	return file_slurp(&f, max_bytes, out, out_len, err);
}

enum dsck_err dsck_fd_read_all(int fd, const char *display, uint64_t max_bytes,
			       char **out, size_t *out_len,
			       struct dsck_error *err)
{
	enum dsck_err rc = DSCK_OK;
	size_t len = 0, cap = 0;
	char *buf = NULL;

	for (;;) {
		if (cap - len < 65536 + 1) {
			size_t ncap = cap ? cap * 2 : 1u << 20;
			char *nb;
			if (ncap < cap || (nb = realloc(buf, ncap)) == NULL) {
				rc = dsck_error_set(err, DSCK_E_NOMEM, "reading %s", display);
				goto out;
			}
			buf = nb;
			cap = ncap;
		}
		ssize_t r = read(fd, buf + len, cap - len - 1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			dsck_error_file(err, display);
			rc = dsck_error_set(err, DSCK_E_IO, "read: %s", strerror(errno));
			goto out;
		}
		if (r == 0)
			break;
		len += (size_t)r;
		if (len > max_bytes) {
			dsck_error_file(err, display);
			dsck_error_expect(err, "at most %llu bytes", (unsigned long long)max_bytes);
			rc = dsck_error_set(err, DSCK_E_LIMIT, "input too large");
			goto out;
		}
	}
	buf[len] = '\0';
	*out = buf;
	*out_len = len;
	buf = NULL;
out:
	free(buf);
	return rc;
}

enum dsck_err dsck_file_read_all_at(int dirfd, const char *name,
				    const char *display, uint64_t max_bytes,
				    char **out, size_t *out_len,
				    struct dsck_error *err)
{
	struct dsck_file f;
	enum dsck_err rc = dsck_file_openat(&f, dirfd, name, display, err);
	if (rc)
		return rc;
	return file_slurp(&f, max_bytes, out, out_len, err);
}

/* ---- atomic writer -------------------------------------------------- */

static char *path_dirname(const char *path)
{
	const char *slash = strrchr(path, '/');
	if (!slash)
		return strdup(".");
	if (slash == path)
		return strdup("/");
	return strndup(path, (size_t)(slash - path));
}

enum dsck_err dsck_writer_open(struct dsck_writer *w, const char *path,
			       struct dsck_error *err)
{
	*w = (struct dsck_writer)DSCK_WRITER_INIT;
	const char *slash = strrchr(path, '/');
	const char *base = slash ? slash + 1 : path;
	int dlen = slash ? (int)(slash - path + 1) : 0;
	size_t need = strlen(path) + 32;
	w->tmp_path = malloc(need);
	w->final_path = strdup(path);
	if (!w->tmp_path || !w->final_path) {
		dsck_writer_abort(w);
		return dsck_error_set(err, DSCK_E_NOMEM, "writer paths");
	}
	snprintf(w->tmp_path, need, "%.*s.%s.dsck-tmp-XXXXXX", dlen, path, base);
	w->fd = mkostemp(w->tmp_path, O_CLOEXEC);
	if (w->fd < 0) {
		int e = errno;
		free(w->tmp_path);
		w->tmp_path = NULL;
		dsck_writer_abort(w);
		dsck_error_file(err, path);
		return dsck_error_set(err, dsck_err_from_errno(e),
				      "cannot create a temporary file beside it: %s",
				      strerror(e));
	}
	(void)fchmod(w->fd, 0644);
	return DSCK_OK;
}

static enum dsck_err writer_fail(struct dsck_writer *w, int e, uint64_t off,
				 struct dsck_error *err)
{
	dsck_error_file(err, w->final_path);
	dsck_error_offset(err, (int64_t)off);
	return dsck_error_set(err, dsck_err_from_errno(e), "write: %s",
			      e ? strerror(e) : "no progress");
}

enum dsck_err dsck_writer_pwrite(struct dsck_writer *w, uint64_t off,
				 const void *buf, size_t n,
				 struct dsck_error *err)
{
	const char *p = buf;
	while (n > 0) {
		ssize_t r = pwrite(w->fd, p, n, (off_t)off);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return writer_fail(w, r < 0 ? errno : 0, off, err);
		p += r;
		n -= (size_t)r;
		off += (uint64_t)r;
	}
	return DSCK_OK;
}

enum dsck_err dsck_writer_write(struct dsck_writer *w, const void *buf, size_t n,
				struct dsck_error *err)
{
	enum dsck_err rc = dsck_writer_pwrite(w, w->pos, buf, n, err);
	if (rc == DSCK_OK)
		w->pos += n;
	return rc;
}

enum dsck_err dsck_writer_truncate(struct dsck_writer *w, uint64_t size,
				   struct dsck_error *err)
{
	if (ftruncate(w->fd, (off_t)size) != 0)
		return writer_fail(w, errno, size, err);
	return DSCK_OK;
}

enum dsck_err dsck_writer_commit(struct dsck_writer *w, struct dsck_error *err)
{
	enum dsck_err rc = DSCK_OK;
	char *dir = NULL;
	int dfd = -1;
	if (fsync(w->fd) != 0) {
		rc = writer_fail(w, errno, w->pos, err);
		goto out;
	}
	if (close(w->fd) != 0) {
		w->fd = -1;
		rc = writer_fail(w, errno, w->pos, err);
		goto out;
	}
	w->fd = -1;
	if (rename(w->tmp_path, w->final_path) != 0) {
		rc = writer_fail(w, errno, 0, err);
		goto out;
	}
	free(w->tmp_path);
	w->tmp_path = NULL; /* committed: nothing left to remove */
	dir = path_dirname(w->final_path);
	if (dir && (dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) >= 0) {
		if (fsync(dfd) != 0 && errno != EINVAL)
			rc = writer_fail(w, errno, 0, err);
		close(dfd);
	}
out:
	free(dir);
	dsck_writer_abort(w);
	return rc;
}

void dsck_writer_abort(struct dsck_writer *w)
{
	if (w->fd >= 0)
		close(w->fd);
	if (w->tmp_path)
		unlink(w->tmp_path);
	free(w->tmp_path);
	free(w->final_path);
	*w = (struct dsck_writer)DSCK_WRITER_INIT;
}

enum dsck_err dsck_write_file_atomic(const char *path, const void *buf, size_t n,
				     struct dsck_error *err)
{
	struct dsck_writer w;
	enum dsck_err rc = dsck_writer_open(&w, path, err);
	if (rc)
		return rc;
	rc = dsck_writer_write(&w, buf, n, err);
	if (rc) {
		dsck_writer_abort(&w);
		return rc;
	}
	return dsck_writer_commit(&w, err);
}

enum dsck_err dsck_dir_each(int dirfd, const char *display, dsck_dir_entry_fn fn,
			    void *user, struct dsck_error *err)
{
	enum dsck_err rc = DSCK_OK;
	DIR *d = NULL;
	/* readdir on a duplicate so closedir does not close the caller's fd. */
	int fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0 || !(d = fdopendir(fd))) {
		int e = errno;
		if (fd >= 0)
			close(fd);
		dsck_error_file(err, display);
		return dsck_error_set(err, dsck_err_from_errno(e), "list directory: %s",
				      strerror(e));
	}
	for (;;) {
		errno = 0;
		struct dirent *de = readdir(d);
		if (!de) {
			if (errno) {
				int e = errno;
				dsck_error_file(err, display);
				rc = dsck_error_set(err, DSCK_E_IO, "readdir: %s", strerror(e));
			}
			break;
		}
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		rc = fn(de->d_name, user, err);
		if (rc)
			break;
	}
	closedir(d); /* closes fd */
	return rc;
}
