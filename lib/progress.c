/* progress.c - progress bar and JSON progress lines (progress.h). */
#include "progress.h"

#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

double dsck_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

const char *dsck_format_bytes(char *buf, size_t n, uint64_t bytes)
{
	static const char *const unit[] = { "B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB" };
	double v = (double)bytes;
	int u = 0;
	while (v >= 1024.0 && u < 6) {
		v /= 1024.0;
		u++;
	}
	if (u == 0)
		snprintf(buf, n, "%llu B", (unsigned long long)bytes);
	else
		snprintf(buf, n, "%.2f %s", v, unit[u]);
	return buf;
}

enum dsck_progress_mode dsck_progress_auto(int fd, int quiet)
{
	return !quiet && isatty(fd) ? DSCK_PROGRESS_BAR : DSCK_PROGRESS_OFF;
}

void dsck_progress_init(struct dsck_progress *p, int fd,
			enum dsck_progress_mode mode, const char *label)
{
	memset(p, 0, sizeof *p);
	p->fd = fd;
	p->mode = mode;
	snprintf(p->label, sizeof p->label, "%s", label);
	p->t0 = dsck_now();
	p->last = -1;
}

static void put(int fd, const char *s, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, s, n);
		if (w <= 0)
			return; /* progress is best effort */
		s += w;
		n -= (size_t)w;
	}
}

void dsck_progress_update(struct dsck_progress *p, uint64_t done, uint64_t total)
{
	if (p->mode == DSCK_PROGRESS_OFF)
		return;
	double now = dsck_now();
	double every = p->mode == DSCK_PROGRESS_BAR ? 0.1 : 1.0;
	p->total = total;
	if (p->last >= 0 && now - p->last < every && done < total)
		return;
	p->last = now;
	double el = now - p->t0;
	double rate = el > 0 ? (double)done / el : 0;
	double eta = rate > 0 && total > done ? (double)(total - done) / rate : 0;
	char line[256], a[32], b[32], r[32];
	int n;
	if (p->mode == DSCK_PROGRESS_JSON) {
		n = snprintf(line, sizeof line,
			     "{\"progress\":\"%s\",\"done_bytes\":%llu,\"total_bytes\":%llu,"
			     "\"bytes_per_s\":%.0f,\"eta_s\":%.1f}\n",
			     p->label, (unsigned long long)done,
			     (unsigned long long)total, rate, eta);
	} else {
		dsck_format_bytes(a, sizeof a, done);
		dsck_format_bytes(b, sizeof b, total);
		dsck_format_bytes(r, sizeof r, (uint64_t)rate);
		double pct = total ? 100.0 * (double)done / (double)total : 100.0;
		n = snprintf(line, sizeof line, "\r%s %5.1f%%  %s / %s  %s/s  ETA %d:%02d\033[K",
			     p->label, pct, a, b, r, (int)(eta / 60), (int)eta % 60);
		p->drawn = 1;
	}
	if (n > 0)
		put(p->fd, line, (size_t)n < sizeof line ? (size_t)n : sizeof line - 1);
}

void dsck_progress_finish(struct dsck_progress *p)
{
	if (p->mode == DSCK_PROGRESS_BAR && p->drawn) {
		put(p->fd, "\r\033[K", 4);
	} else if (p->mode == DSCK_PROGRESS_JSON) {
		char line[160];
		int n = snprintf(line, sizeof line,
				 "{\"progress\":\"%s\",\"done\":true,\"total_bytes\":%llu,\"elapsed_s\":%.2f}\n",
				 p->label, (unsigned long long)p->total, dsck_now() - p->t0);
		if (n > 0)
			put(p->fd, line, (size_t)n);
	}
}

int dsck_progress_parse(const char *s, enum dsck_progress_mode *out)
{
	if (strcmp(s, "bar") == 0)
		*out = DSCK_PROGRESS_BAR;
	else if (strcmp(s, "json") == 0)
		*out = DSCK_PROGRESS_JSON;
	else if (strcmp(s, "none") == 0)
		*out = DSCK_PROGRESS_OFF;
	else
		return -1;
	return 0;
}
