/* procstat.c: the process_* metrics of the Prometheus convention, read from /proc/self. */
#include "procstat.h"

#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

/* btime from /proc/stat: the boot time in seconds since the epoch; -1 when unknown. */
static double boot_time(void)
{
	FILE *f = fopen("/proc/stat", "re");
	char line[256];
	double bt = -1;

	if (f == NULL)
		return -1;
	while (fgets(line, sizeof line, f) != NULL)
		if (strncmp(line, "btime ", 6) == 0)
			bt = strtod(line + 6, NULL);
	fclose(f);
	return bt;
}

static double count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *de;
	double n = 0;

	if (d == NULL)
		return -1;
	while ((de = readdir(d)) != NULL)
		if (de->d_name[0] != '.')
			n++;
	closedir(d);
	/* The directory stream's own descriptor is not the process's. */
	return n - 1;
}

int procstat_read(struct procstat *out)
{
	FILE *f = fopen("/proc/self/stat", "re");
	char buf[1024], *p;
	unsigned long utime, stime, vsize;
	unsigned long long start;
	long rss, ticks = sysconf(_SC_CLK_TCK), page = sysconf(_SC_PAGESIZE);
	struct rlimit rl;
	size_t n;
	double bt;

	out->cpu_seconds = out->start_time = out->resident_bytes = out->virtual_bytes = -1;
	out->open_fds = count_fds();
	out->max_fds = -1;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY)
		out->max_fds = (double)rl.rlim_cur;
	if (f == NULL)
		return -errno;
	n = fread(buf, 1, sizeof buf - 1, f);
	fclose(f);
	buf[n] = '\0';
	/* The command name may hold spaces and parentheses: fields start after the last ')'. */
	p = strrchr(buf, ')');
	if (p == NULL || ticks <= 0 || page <= 0)
		return -EINVAL;
	/* Fields 3..: state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt
	 * utime stime cutime cstime priority nice threads itrealvalue starttime vsize rss. */
	if (sscanf(p + 1,
	           " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu %*d %*d %*d %*d %*d "
	           "%*d %llu %lu %ld",
	           &utime, &stime, &start, &vsize, &rss) != 5)
		return -EINVAL;
	out->cpu_seconds = (double)(utime + stime) / (double)ticks;
	out->virtual_bytes = (double)vsize;
	out->resident_bytes = (double)rss * (double)page;
	bt = boot_time();
	if (bt >= 0)
		out->start_time = bt + (double)start / (double)ticks;
	return 0;
}

static void put(FILE *f, const char *name, const char *type, const char *help, double v)
{
	if (v < 0)
		return;
	fprintf(f, "# HELP %s %s\n# TYPE %s %s\n%s %.17g\n", name, help, name, type, name, v);
}

void procstat_render(FILE *f)
{
	struct procstat ps;

	(void)procstat_read(&ps);
	put(f, "process_cpu_seconds_total", "counter",
	    "Total user and system CPU time spent in seconds.", ps.cpu_seconds);
	put(f, "process_start_time_seconds", "gauge",
	    "Start time of the process since unix epoch in seconds.", ps.start_time);
	put(f, "process_resident_memory_bytes", "gauge", "Resident memory size in bytes.",
	    ps.resident_bytes);
	put(f, "process_virtual_memory_bytes", "gauge", "Virtual memory size in bytes.",
	    ps.virtual_bytes);
	put(f, "process_open_fds", "gauge", "Number of open file descriptors.", ps.open_fds);
	put(f, "process_max_fds", "gauge", "Maximum number of open file descriptors.", ps.max_fds);
}
