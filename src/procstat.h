/* procstat.h: the process_* metrics of the Prometheus convention, read from /proc. */
#ifndef INFERD_PROCSTAT_H
#define INFERD_PROCSTAT_H

#include <stdio.h>

/* What the kernel says about this process; a field it could not read is negative. */
struct procstat {
	double cpu_seconds; /* user + system CPU time */
	double start_time;  /* seconds since the epoch */
	double resident_bytes;
	double virtual_bytes;
	double open_fds;
	double max_fds; /* the soft RLIMIT_NOFILE */
};

/* Reads the process's counters (Linux /proc/self). 0, or -errno when /proc is unreadable. */
int procstat_read(struct procstat *out);
/*
 * Writes process_cpu_seconds_total, process_start_time_seconds,
 * process_resident_memory_bytes, process_virtual_memory_bytes, process_open_fds and
 * process_max_fds as Prometheus text, each with HELP and TYPE; fields that could not be
 * read are left out.
 */
void procstat_render(FILE *f);

#endif
