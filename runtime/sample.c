/* sample.c - greedy and nucleus sampling, NLL (sample.h). */
#include "sample.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

int dsck_sampler_init(struct dsck_sampler *s, size_t vocab, float temperature,
		      float top_p, uint64_t seed)
{
	memset(s, 0, sizeof *s);
	s->temperature = temperature;
	s->top_p = top_p > 0 && top_p <= 1 ? top_p : 1;
	s->state = seed ? seed : 0x9E3779B97F4A7C15ull;
	s->vocab = vocab;
	s->prob = malloc(vocab * sizeof *s->prob);
	s->order = malloc(vocab * sizeof *s->order);
	if (!s->prob || !s->order) {
		dsck_sampler_release(s);
		return -1;
	}
	return 0;
}

void dsck_sampler_release(struct dsck_sampler *s)
{
	free(s->prob);
	free(s->order);
	s->prob = NULL;
	s->order = NULL;
}

uint32_t dsck_argmax(const float *v, size_t n)
{
	size_t best = 0;
	for (size_t i = 1; i < n; i++)
		if (v[i] > v[best])
			best = i;
	return (uint32_t)best;
}

double dsck_nll(const float *logits, size_t n, uint32_t id)
{
	double mx = logits[0], sum = 0;
	for (size_t i = 1; i < n; i++)
		mx = logits[i] > mx ? logits[i] : mx;
	for (size_t i = 0; i < n; i++)
		sum += exp((double)logits[i] - mx);
	return log(sum) - ((double)logits[id] - mx);
}

/* xorshift64*: a uniform double in [0, 1). */
static double uniform(struct dsck_sampler *s)
{
	s->state ^= s->state >> 12;
	s->state ^= s->state << 25;
	s->state ^= s->state >> 27;
	return (double)((s->state * 0x2545F4914F6CDD1Dull) >> 11) / 9007199254740992.0;
}

static const float *cmp_prob;

static int by_prob_desc(const void *a, const void *b)
{
	float x = cmp_prob[*(const uint32_t *)a], y = cmp_prob[*(const uint32_t *)b];
	if (x != y)
		return x > y ? -1 : 1;
	return *(const uint32_t *)a < *(const uint32_t *)b ? -1 : 1;
}

uint32_t dsck_sample(struct dsck_sampler *s, const float *logits)
{
	size_t n = s->vocab;
	if (s->temperature <= 0)
		return dsck_argmax(logits, n);
	float mx = logits[0];
	for (size_t i = 1; i < n; i++)
		mx = logits[i] > mx ? logits[i] : mx;
	double sum = 0;
	for (size_t i = 0; i < n; i++) {
		s->prob[i] = expf((logits[i] - mx) / s->temperature);
		sum += s->prob[i];
		s->order[i] = (uint32_t)i;
	}
	for (size_t i = 0; i < n; i++)
		s->prob[i] = (float)(s->prob[i] / sum);
	size_t keep = n;
	if (s->top_p < 1) {
		cmp_prob = s->prob; /* one sampler per thread of the tool */
		qsort(s->order, n, sizeof *s->order, by_prob_desc);
		double mass = 0;
		for (keep = 0; keep < n;) {
			mass += s->prob[s->order[keep++]];
			if (mass >= s->top_p)
				break;
		}
	}
	double mass = 0;
	for (size_t k = 0; k < keep; k++)
		mass += s->prob[s->order[k]];
	double r = uniform(s) * mass, acc = 0;
	for (size_t k = 0; k < keep; k++) {
		acc += s->prob[s->order[k]];
		if (r < acc)
			return s->order[k];
	}
	return s->order[keep - 1];
}
