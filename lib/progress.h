/*
 * progress.h - progress reporting for long jobs, drawn where the tool says.
 *
 * The library itself never prints: a tool creates a dsck_progress on the fd
 * it chooses (stderr), in one of three modes, and passes dsck_progress_update
 * as (or from) a library progress callback. Bar mode redraws one line at
 * most 10 times a second ("label  45.0%  12.30 GiB / 27.40 GiB  1.20 GiB/s  ETA 0:12");
 * JSON mode writes one object per line at most once a second, for
 * pipelines; off draws nothing. Tools use bar mode only when the fd is a
 * terminal, so pipes and logs never see control characters.
 */
#ifndef DSCK_PROGRESS_H
#define DSCK_PROGRESS_H

#include <stddef.h>
#include <stdint.h>

enum dsck_progress_mode {
	DSCK_PROGRESS_OFF,
	DSCK_PROGRESS_BAR,
	DSCK_PROGRESS_JSON,
};

struct dsck_progress {
	int fd;
	enum dsck_progress_mode mode;
	char label[32];
	double t0, last;     /* seconds, monotonic */
	uint64_t total;      /* bytes */
	int drawn;           /* a bar line is on screen */
};

/* "bar", "json" or "none" (the --progress values of every tool) into
 * *out; -1 for anything else. */
int dsck_progress_parse(const char *s, enum dsck_progress_mode *out);

/* mode AUTO helper: BAR if fd is a terminal and quiet is 0, else OFF. */
enum dsck_progress_mode dsck_progress_auto(int fd, int quiet);

void dsck_progress_init(struct dsck_progress *p, int fd,
			enum dsck_progress_mode mode, const char *label);
/* Report done of total bytes; cheap when nothing needs drawing. */
void dsck_progress_update(struct dsck_progress *p, uint64_t done, uint64_t total);
/* Final line (bar: erase it; JSON: a "done" record). */
void dsck_progress_finish(struct dsck_progress *p);

/* Monotonic clock in seconds. */
double dsck_now(void);

/* "20.60 MiB" style into buf (binary units, as ls -h and du -h), returned
 * for use inside a printf; every tool prints sizes with this. */
const char *dsck_format_bytes(char *buf, size_t n, uint64_t bytes);

#endif
