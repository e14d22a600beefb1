/*
 * sample.h - the next token from logits (formats.md RT-R8): greedy
 * (argmax, lowest id on ties) at temperature 0, else softmax(logits / T)
 * restricted to the smallest set of most likely tokens whose mass reaches
 * top_p, drawn with a seeded xorshift64* generator, so a seed reproduces a
 * generation.
 */
#ifndef DSCK_SAMPLE_H
#define DSCK_SAMPLE_H

#include <stddef.h>
#include <stdint.h>

struct dsck_sampler {
	float temperature;     /* 0: greedy */
	float top_p;           /* (0, 1]; 1: no cut */
	uint64_t state;        /* generator state, never 0 */
	float *prob;           /* scratch [vocab] */
	uint32_t *order;       /* scratch [vocab] */
	size_t vocab;
};

/* Scratch for vocab entries; -1 when out of memory. */
int dsck_sampler_init(struct dsck_sampler *s, size_t vocab, float temperature,
		      float top_p, uint64_t seed);
void dsck_sampler_release(struct dsck_sampler *s);
uint32_t dsck_sample(struct dsck_sampler *s, const float *logits);

/* Index of the largest value, the lowest index on ties. */
uint32_t dsck_argmax(const float *v, size_t n);

/* -log softmax(logits)[id], in double: the negative log-likelihood of id. */
double dsck_nll(const float *logits, size_t n, uint32_t id);

#endif
