/*
 * comm.h - how tensor-parallel ranks talk (formats.md RT-R10): the model
 * calls these at exactly the places DeepSeek's model.py does (all-reduce
 * after the embedding, wo, a dense w2, the shared experts' w2 and the
 * routed experts; all-gather of the logits). A single process has no
 * comm (NULL); dsck-run connects ranks through MPI (runtime/comm_mpi.c),
 * kept out of libdsck so the other tools never link MPI.
 */
#ifndef DSCK_COMM_H
#define DSCK_COMM_H

#include <stddef.h>

struct dsck_comm {
	int rank, size;
	/* buf[0..n) = the sum of every rank's buf, on every rank */
	void (*allreduce_sum)(struct dsck_comm *c, float *buf, size_t n);
	/* recv[k*n .. (k+1)*n) = rank k's send[0..n), on every rank */
	void (*allgather)(struct dsck_comm *c, const float *send, size_t n, float *recv);
	void *impl;
};

#endif
