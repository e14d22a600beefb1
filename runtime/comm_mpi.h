/*
 * comm_mpi.h - dsck-run's MPI ranks (comm_mpi.c).
 */
#ifndef DSCK_COMM_MPI_H
#define DSCK_COMM_MPI_H

#include "comm.h"

/* 1 and *c filled when started by an MPI launcher (mpirun); 0 when not
 * (one process); -1 when MPI failed to start. */
int dsck_comm_mpi_init(int *argc, char ***argv, struct dsck_comm *c);
void dsck_comm_mpi_finalize(void);
/* Was dsck-run built with MPI? */
int dsck_comm_mpi_available(void);

#endif
