/* xload: metadata load for tests/integration/test_meta_load.sh.
 *
 *   xload set DIR ID FILES PER SIZE   create DIR/ID.N (N < FILES) and set PER
 *                                     user.* values of SIZE bytes on each;
 *                                     prints "ok K" and one line per errno seen
 *   xload stat DIR SECONDS            stat DIR and its entries in a loop
 *   xload fill P SIZE COUNT [PREFIX]  set COUNT values of SIZE bytes on P
 *                                     named user.PREFIXN (PREFIX f); prints
 *                                     the errno name of the first failure and
 *                                     its index, or OK
 *
 * Exit status 0 unless the usage is wrong or DIR vanished (the daemon died). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

static int do_set(const char *dir, const char *id, long files, long per, size_t size)
{
	char path[4096], name[64];
	long okn = 0, errs[256] = { 0 };
	char *val = malloc(size ? size : 1);

	if (!val)
		return 1;
	for (long f = 0; f < files; f++) {
		int fd;
		snprintf(path, sizeof(path), "%s/%s.%ld", dir, id, f);
		fd = open(path, O_CREAT | O_WRONLY, 0644);
		if (fd < 0) {
			errs[errno & 255]++;
			if (errno == ENOTCONN || errno == ENOENT)
				break;
			continue;
		}
		close(fd);
		for (long i = 0; i < per; i++) {
			memset(val, (int)(f + i), size);
			snprintf(name, sizeof(name), "user.load%ld", i);
			if (setxattr(path, name, val, size, 0) == 0)
				okn++;
			else
				errs[errno & 255]++;
		}
	}
	printf("ok %ld\n", okn);
	for (int e = 0; e < 256; e++)
		if (errs[e])
			printf("%s %ld\n", strerrorname_np(e) ? strerrorname_np(e) : "E?", errs[e]);
	free(val);
	return 0;
}

static int do_stat(const char *dir, double seconds)
{
	struct timespec t0, t;
	struct stat st;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	do {
		DIR *d = opendir(dir);
		struct dirent *de;
		if (!d)
			return 1;
		while ((de = readdir(d)) != NULL)
			fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW);
		closedir(d);
		clock_gettime(CLOCK_MONOTONIC, &t);
	} while ((double)(t.tv_sec - t0.tv_sec) + (double)(t.tv_nsec - t0.tv_nsec) / 1e9 < seconds);
	return 0;
}

static int do_fill(const char *path, size_t size, long count, const char *prefix)
{
	char name[64];
	char *val = calloc(1, size ? size : 1);

	if (!val)
		return 1;
	for (long i = 0; i < count; i++) {
		snprintf(name, sizeof(name), "user.%.20s%ld", prefix, i);
		if (setxattr(path, name, val, size, 0) != 0) {
			const char *n = strerrorname_np(errno);
			printf("%s %ld\n", n ? n : "E?", i);
			free(val);
			return 0;
		}
	}
	printf("OK\n");
	free(val);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 7 && !strcmp(argv[1], "set"))
		return do_set(argv[2], argv[3], atol(argv[4]), atol(argv[5]),
			      (size_t)atol(argv[6]));
	if (argc == 4 && !strcmp(argv[1], "stat"))
		return do_stat(argv[2], atof(argv[3]));
	if ((argc == 5 || argc == 6) && !strcmp(argv[1], "fill"))
		return do_fill(argv[2], (size_t)atol(argv[3]), atol(argv[4]),
			       argc == 6 ? argv[5] : "f");
	fprintf(stderr, "usage: xload set DIR ID FILES PER SIZE | stat DIR SECONDS | "
		"fill P SIZE COUNT [PREFIX]\n");
	return 2;
}
