/* scale: a fast creator of many empty files for test_scale.sh (a shell
 * loop would measure fork and exec, not the file system).
 *
 *   scale DIR NDIRS N
 *
 * Creates N files with open(O_CREAT|O_EXCL) + close: file i is
 * DIR/dNNNN/fNNNNNNN with dNNNN = i % NDIRS (round robin, so every
 * directory grows all the time), or DIR/fNNNNNNN when NDIRS is 0. The
 * directories dNNNN must exist. Prints progress as "# ..." lines and, at
 * the end, "first_rate R", "last_rate R" (files/s of the first and the last
 * window of min(100000, N/10) files) and "OK", or the error and the index
 * of the file that failed. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
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
	long long ndirs, n, win, i, step;
	double t0, tlast, tstart, first = 0, last = 0;
	char p[4096];

	if (argc != 4 || parse(argv[2], 9999, &ndirs) || parse(argv[3], 99999999, &n) || n == 0) {
		fprintf(stderr, "usage: scale DIR NDIRS(0..9999) N(1..99999999)\n");
		return 2;
	}
	win = n / 10 < 100000 ? n / 10 : 100000;
	if (win == 0)
		win = n;
	step = n / 10 ? n / 10 : 1;
	t0 = tlast = tstart = now_s();
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
		if (i + 1 == win)
			first = (double)win / (now_s() - tstart + 1e-9);
		if (i + 1 == n - win)
			t0 = now_s();
		if ((i + 1) % step == 0 || i + 1 == n) {
			double t = now_s();

			printf("# created %lld/%lld: %.0f files/s since the last line\n", i + 1, n,
			       (double)step / (t - tlast + 1e-9));
			fflush(stdout);
			tlast = t;
		}
	}
	if (n - win == 0)
		t0 = tstart;
	last = (double)win / (now_s() - t0 + 1e-9);
	printf("first_rate %.0f\nlast_rate %.0f\nwindow %lld\nOK\n", first, last, win);
	return 0;
}
