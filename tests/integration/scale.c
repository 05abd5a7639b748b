/* scale: a fast creator of many empty files for test_scale.sh (a shell
 * loop would measure fork and exec, not the file system).
 *
 *   scale DIR NDIRS N [PID]
 *
 * Creates N files with open(O_CREAT|O_EXCL) + close: file i is
 * DIR/dNNNN/fNNNNNNN with dNNNN = i % NDIRS (round robin, so every
 * directory grows all the time), or DIR/fNNNNNNN when NDIRS is 0. The
 * directories dNNNN must exist. Prints progress as "# ..." lines and, at
 * the end, "first_rate R", "last_rate R" (files/s of the first and the last
 * window of min(100000, N/10) files) and "OK", or the error and the index
 * of the file that failed. With PID (the daemon's), also "first_cpu_us"
 * and "last_cpu_us": CPU time per file in those windows, the daemon's
 * (user + system) plus this process's (its system time is the kernel's
 * FUSE client). On a loaded machine wall-clock rates mostly measure the
 * other processes; CPU time per file measures the file system. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/resource.h>

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* CPU seconds used so far by the daemon (0 without PID) and by us. */
static double cpu_s(long long pid)
{
	struct rusage ru;
	double t = 0;

	if (pid > 0) {
		char path[64], buf[1024], *p;
		unsigned long ut = 0, st = 0;
		FILE *f;

		snprintf(path, sizeof(path), "/proc/%lld/stat", pid);
		f = fopen(path, "r");
		if (f) {
			size_t k = fread(buf, 1, sizeof(buf) - 1, f);
			buf[k] = '\0';
			fclose(f);
			/* After "(comm)": state is field 3, utime 14, stime 15. */
			p = strrchr(buf, ')');
			if (p && sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu",
					&ut, &st) == 2)
				t = (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
		}
	}
	getrusage(RUSAGE_SELF, &ru);
	return t + (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
	       (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

static int parse(const char *s, long long max, long long *out)
{
	char *end;

	errno = 0;
	*out = strtoll(s, &end, 10);
	return (errno || *end || end == s || *out < 0 || *out > max) ? -1 : 0;
}

int main(int argc, char **argv)
{
	long long ndirs, n, win, i, step, pid = 0;
	double t0, tlast, tstart, first = 0, last = 0, c0, cstart, cfirst = 0;
	char p[4096];

	if ((argc != 4 && argc != 5) || parse(argv[2], 9999, &ndirs) ||
	    parse(argv[3], 99999999, &n) || n == 0 ||
	    (argc == 5 && (parse(argv[4], 1LL << 22, &pid) || pid == 0))) {
		fprintf(stderr, "usage: scale DIR NDIRS(0..9999) N(1..99999999) [PID]\n");
		return 2;
	}
	win = n / 10 < 100000 ? n / 10 : 100000;
	if (win == 0)
		win = n;
	step = n / 10 ? n / 10 : 1;
	t0 = tlast = tstart = now_s();
	c0 = cstart = cpu_s(pid);
	for (i = 0; i < n; i++) {
		int fd;

		if (ndirs)
			snprintf(p, sizeof(p), "%s/d%04lld/f%07lld", argv[1], i % ndirs, i);
		else
			snprintf(p, sizeof(p), "%s/f%07lld", argv[1], i);
		fd = open(p, O_CREAT | O_EXCL | O_WRONLY, 0644);
		if (fd < 0 || close(fd) < 0) {
			printf("%s at file %lld\n", strerror(errno), i);
			return 1;
		}
		if (i + 1 == win) {
			first = (double)win / (now_s() - tstart + 1e-9);
			cfirst = (cpu_s(pid) - cstart) / (double)win;
		}
		if (i + 1 == n - win) {
			t0 = now_s();
			c0 = cpu_s(pid);
		}
		if ((i + 1) % step == 0 || i + 1 == n) {
			double t = now_s();

			printf("# created %lld/%lld: %.0f files/s since the last line\n", i + 1, n,
			       (double)step / (t - tlast + 1e-9));
			fflush(stdout);
			tlast = t;
		}
	}
	if (n - win == 0) {
		t0 = tstart;
		c0 = cstart;
	}
	last = (double)win / (now_s() - t0 + 1e-9);
	printf("first_rate %.0f\nlast_rate %.0f\nwindow %lld\n", first, last, win);
	if (pid)
		printf("first_cpu_us %.1f\nlast_cpu_us %.1f\n", cfirst * 1e6,
		       (cpu_s(pid) - c0) / (double)win * 1e6);
	printf("OK\n");
	return 0;
}
