/* batch.c - generation for many prompts in shared forward calls (batch.h). */
#include "batch.h"

#include "sample.h"

#include <stdlib.h>
#include <string.h>

/* A running sequence. */
struct slot {
	int live, fed;             /* fed: its prompt went through */
	size_t idx;                /* prompt index */
	struct dsck_seq *seq;
	struct dsck_sampler smp;
	uint32_t next;             /* the token to feed at the next call */
	uint32_t *out;             /* generated ids [n_out], cap n_predict */
	size_t n_out;
	float *logits;             /* [vocab] */
};

/* A finished prompt waiting for its turn to be reported. */
struct result {
	int ready;
	enum dsck_gen_stop stop;
	uint32_t *ids;
	size_t n;
};

static void slot_end(struct slot *sl)
{
	dsck_seq_free(sl->seq);
	dsck_sampler_release(&sl->smp);
	sl->seq = NULL;
	sl->live = 0;
}

/* Hand results to done in prompt order from *next on; nonzero when done
 * asked to stop. */
static int flush(struct result *res, size_t count, size_t *next, dsck_gen_done done, void *user)
{
	for (; *next < count && res[*next].ready; (*next)++) {
		struct result *r = &res[*next];
		int stop = done(user, *next, r->ids, r->n, r->stop);
		free(r->ids);
		r->ids = NULL;
		if (stop) {
			(*next)++;
			return 1;
		}
	}
	return 0;
}

enum dsck_err dsck_generate_many(const struct dsck_model *m, const uint32_t *const *prompt,
				 const size_t *len, size_t count, const struct dsck_gen_opts *o,
				 dsck_gen_done done, void *user, struct dsck_gen_stats *st,
				 struct dsck_error *err)
{
	size_t P = o->parallel ? o->parallel : 1, started = 0, reported = 0, finished = 0;
	struct slot *sl = calloc(P, sizeof *sl);
	struct result *res = calloc(count ? count : 1, sizeof *res);
	struct dsck_batch *b = calloc(P, sizeof *b);
	size_t *who = calloc(P, sizeof *who);
	enum dsck_err rc = DSCK_OK;

	memset(st, 0, sizeof *st);
	if (!sl || !res || !b || !who) {
		rc = dsck_error_set(err, DSCK_E_NOMEM, "batch state");
		goto out;
	}
	for (size_t i = 0; i < count; i++)
		if (len[i] > m->max_seq) {
			dsck_error_expect(err, "at most %llu tokens", (unsigned long long)m->max_seq);
			dsck_error_found(err, "%zu in prompt %zu", len[i], i);
			rc = dsck_error_set(err, DSCK_E_LIMIT, "prompt longer than the context (--ctx)");
			goto out;
		}
	for (size_t k = 0; k < P; k++) {
		sl[k].logits = malloc(m->vocab * sizeof *sl[k].logits);
		sl[k].out = malloc((o->n_predict ? o->n_predict : 1) * sizeof *sl[k].out);
		if (!sl[k].logits || !sl[k].out) {
			rc = dsck_error_set(err, DSCK_E_NOMEM, "batch state");
			goto out;
		}
	}
	while (finished < count) {
		/* free slots take the next prompts */
		for (size_t k = 0; k < P && started < count; k++) {
			if (sl[k].live)
				continue;
			rc = dsck_seq_new(m, &sl[k].seq, err);
			if (rc)
				goto out;
			if (dsck_sampler_init(&sl[k].smp, m->vocab, o->temperature, o->top_p,
					      o->seed + started)) {
				dsck_seq_free(sl[k].seq);
				sl[k].seq = NULL;
				rc = dsck_error_set(err, DSCK_E_NOMEM, "sampler");
				goto out;
			}
			sl[k].live = 1;
			sl[k].fed = 0;
			sl[k].idx = started++;
			sl[k].n_out = 0;
		}
		/* one call: prompts not yet fed whole, the others one token */
		size_t nb = 0;
		for (size_t k = 0; k < P; k++) {
			if (!sl[k].live)
				continue;
			b[nb] = (struct dsck_batch){ sl[k].seq, sl[k].fed ? &sl[k].next : prompt[sl[k].idx],
						     sl[k].fed ? 1 : len[sl[k].idx], 0, sl[k].logits };
			st->prompt_tokens += sl[k].fed ? 0 : len[sl[k].idx];
			who[nb++] = k;
		}
		rc = dsck_model_forward_batch(m, b, nb, NULL, NULL, err);
		if (rc)
			goto out;
		st->calls++;
		for (size_t j = 0; j < nb; j++) {
			struct slot *s = &sl[who[j]];
			int end = o->n_predict == 0;
			enum dsck_gen_stop why = DSCK_GEN_LENGTH;
			s->fed = 1;
			if (!end) {
				uint32_t t = dsck_sample(&s->smp, s->logits);
				if (t == o->eos) {
					why = DSCK_GEN_EOS;
					end = 1;
				} else {
					s->out[s->n_out++] = t;
					s->next = t;
					end = s->n_out == o->n_predict;
				}
			}
			if (!end && dsck_seq_len(s->seq) >= m->max_seq) { /* RT-R6: full */
				why = DSCK_GEN_CTX;
				end = 1;
			}
			if (!end)
				continue;
			struct result *r = &res[s->idx];
			r->ids = malloc((s->n_out ? s->n_out : 1) * sizeof *r->ids);
			if (!r->ids) {
				rc = dsck_error_set(err, DSCK_E_NOMEM, "batch results");
				goto out;
			}
			memcpy(r->ids, s->out, s->n_out * sizeof *r->ids);
			r->n = s->n_out;
			r->stop = why;
			r->ready = 1;
			st->generated_tokens += s->n_out;
			finished++;
			slot_end(s);
		}
		if (flush(res, count, &reported, done, user))
			break;
	}
out:
	for (size_t k = 0; sl && k < P; k++) {
		if (sl[k].live)
			slot_end(&sl[k]);
		free(sl[k].logits);
		free(sl[k].out);
	}
	for (size_t i = 0; res && i < count; i++)
		free(res[i].ids);
	free(sl);
	free(res);
	free(b);
	free(who);
	return rc;
}
