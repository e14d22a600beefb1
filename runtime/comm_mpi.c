/*
 * comm_mpi.c - tensor-parallel ranks over MPI for dsck-run (comm.h,
 * formats.md RT-R10). Built with mpicc's flags and DSCK_HAVE_MPI when
 * OpenMPI is installed; without it dsck-run runs as one process.
 */
#include "comm.h"
#include "comm_mpi.h"

#include <limits.h>
#include <stdlib.h>

#ifdef DSCK_HAVE_MPI
#include <mpi.h>

/* Counts above INT_MAX go in pieces: MPI counts are int. */
static void mpi_allreduce(struct dsck_comm *c, float *buf, size_t n)
{
	(void)c;
	for (size_t off = 0; off < n; off += INT_MAX / 2) {
		size_t k = n - off < (size_t)(INT_MAX / 2) ? n - off : (size_t)(INT_MAX / 2);
		MPI_Allreduce(MPI_IN_PLACE, buf + off, (int)k, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
	}
}

static void mpi_allgather(struct dsck_comm *c, const float *send, size_t n, float *recv)
{
	(void)c;
	MPI_Allgather(send, (int)n, MPI_FLOAT, recv, (int)n, MPI_FLOAT, MPI_COMM_WORLD);
}

int dsck_comm_mpi_init(int *argc, char ***argv, struct dsck_comm *c)
{
	/* only under a launcher: a plain run never touches MPI */
	if (!getenv("OMPI_COMM_WORLD_SIZE") && !getenv("PMI_SIZE") && !getenv("PMIX_RANK"))
		return 0;
	if (MPI_Init(argc, argv) != MPI_SUCCESS)
		return -1;
	MPI_Comm_rank(MPI_COMM_WORLD, &c->rank);
	MPI_Comm_size(MPI_COMM_WORLD, &c->size);
	c->allreduce_sum = mpi_allreduce;
	c->allgather = mpi_allgather;
	c->impl = NULL;
	return 1;
}

void dsck_comm_mpi_finalize(void)
{
	MPI_Finalize();
}

int dsck_comm_mpi_available(void)
{
	return 1;
}

#else

int dsck_comm_mpi_init(int *argc, char ***argv, struct dsck_comm *c)
{
	(void)argc;
	(void)argv;
	(void)c;
	return 0;
}

void dsck_comm_mpi_finalize(void)
{
}

int dsck_comm_mpi_available(void)
{
	return 0;
}

#endif
