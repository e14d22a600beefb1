/* pool.c - worker threads for the forward pass (pool.h). */
#include "pool.h"

#include <pthread.h>
#include <stdlib.h>

/* Polls of a counter before sleeping (about 20-50 us). */
#define POOL_SPIN 20000

static inline void pool_pause(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#endif
}

struct dsck_pool {
	unsigned n;
	pthread_t *tid;
	pthread_mutex_t mu;
	pthread_cond_t go, done;
	unsigned long gen;       /* bumped for every job */
	unsigned pending;        /* workers still busy with the job */
	int quit;
	/* the job */
	dsck_pool_fn fn;
	void *ctx;
	size_t total, grain;
	size_t chunk;            /* items per take, a multiple of grain */
	size_t cursor;           /* next item to take (atomic) */
};

/* Take chunks of items until none is left: threads that finish early take
 * more, so one slow thread does not hold the others at the wait. */
static void take_chunks(struct dsck_pool *p)
{
	for (;;) {
		size_t b = __atomic_fetch_add(&p->cursor, p->chunk, __ATOMIC_RELAXED);
		if (b >= p->total)
			return;
		size_t e = b + p->chunk < p->total ? b + p->chunk : p->total;
		p->fn(p->ctx, b, e);
	}
}

struct worker_arg {
	struct dsck_pool *p;
	unsigned k;
};

static void *worker(void *arg)
{
	struct worker_arg *w = arg;
	struct dsck_pool *p = w->p;
	unsigned long seen = 0;
	for (;;) {
		/* a decode step runs hundreds of short jobs: wait a little on
		 * the counter before sleeping on the condition */
		for (int spin = 0; spin < POOL_SPIN &&
				   __atomic_load_n(&p->gen, __ATOMIC_ACQUIRE) == seen &&
				   !__atomic_load_n(&p->quit, __ATOMIC_ACQUIRE); spin++)
			pool_pause();
		pthread_mutex_lock(&p->mu);
		while (!p->quit && p->gen == seen)
			pthread_cond_wait(&p->go, &p->mu);
		if (p->quit) {
			pthread_mutex_unlock(&p->mu);
			break;
		}
		seen = p->gen;
		pthread_mutex_unlock(&p->mu);
		take_chunks(p);
		pthread_mutex_lock(&p->mu);
		if (__atomic_sub_fetch(&p->pending, 1, __ATOMIC_ACQ_REL) == 0)
			pthread_cond_signal(&p->done);
		pthread_mutex_unlock(&p->mu);
	}
	free(w);
	return NULL;
}

struct dsck_pool *dsck_pool_create(unsigned n)
{
	struct dsck_pool *p = calloc(1, sizeof *p);
	if (!p)
		return NULL;
	p->n = n ? n : 1;
	p->tid = calloc(p->n, sizeof *p->tid);
	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->go, NULL);
	pthread_cond_init(&p->done, NULL);
	if (!p->tid) {
		dsck_pool_free(p);
		return NULL;
	}
	for (unsigned k = 1; k < p->n; k++) {
		struct worker_arg *w = malloc(sizeof *w);
		if (w) { /* filled before the thread can read it */
			w->p = p;
			w->k = k;
		}
		if (!w || pthread_create(&p->tid[k], NULL, worker, w) != 0) {
			free(w);
			p->n = k; /* run with the threads that started */
			break;
		}
	}
	return p;
}

unsigned dsck_pool_size(const struct dsck_pool *p)
{
	return p->n;
}

void dsck_pool_run(struct dsck_pool *p, size_t n, size_t grain, dsck_pool_fn fn, void *ctx)
{
	if (n == 0)
		return;
	pthread_mutex_lock(&p->mu);
	p->fn = fn;
	p->ctx = ctx;
	p->total = n;
	p->grain = grain ? grain : 1;
	/* about four takes per thread, in whole grains */
	size_t units = (n + p->grain - 1) / p->grain;
	size_t per = units / (4 * (size_t)p->n);
	p->chunk = (per ? per : 1) * p->grain;
	__atomic_store_n(&p->cursor, 0, __ATOMIC_RELAXED);
	__atomic_store_n(&p->pending, p->n - 1, __ATOMIC_RELEASE);
	__atomic_add_fetch(&p->gen, 1, __ATOMIC_RELEASE);
	pthread_cond_broadcast(&p->go);
	pthread_mutex_unlock(&p->mu);
	take_chunks(p);
	for (int spin = 0; spin < POOL_SPIN && __atomic_load_n(&p->pending, __ATOMIC_ACQUIRE); spin++)
		pool_pause();
	pthread_mutex_lock(&p->mu);
	while (__atomic_load_n(&p->pending, __ATOMIC_ACQUIRE))
		pthread_cond_wait(&p->done, &p->mu);
	pthread_mutex_unlock(&p->mu);
}

void dsck_pool_free(struct dsck_pool *p)
{
	if (!p)
		return;
	pthread_mutex_lock(&p->mu);
	__atomic_store_n(&p->quit, 1, __ATOMIC_RELEASE);
	pthread_cond_broadcast(&p->go);
	pthread_mutex_unlock(&p->mu);
	for (unsigned k = 1; k < p->n; k++)
		pthread_join(p->tid[k], NULL);
	pthread_mutex_destroy(&p->mu);
	pthread_cond_destroy(&p->go);
	pthread_cond_destroy(&p->done);
	free(p->tid);
	free(p);
}
