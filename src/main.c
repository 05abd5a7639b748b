/* wormfs daemon entry point: arguments, configuration, daemonizing, then
 * fs_run. Errors are one clear line on stderr and a non-zero exit; nothing
 * is mounted or changed when startup fails. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "config.h"
#include "fs.h"
#include "log.h"
#include "ns.h"

/* Options handed to libfuse / mount(2) as they are. */
static const char *const fuse_opts[] = {
	"allow_other", "allow_root", "auto_unmount", "default_permissions", "ro", "rw",
	"suid", "nosuid", "dev", "nodev", "exec", "noexec", "async", "sync", "dirsync",
	"atime", "noatime", "diratime", "nodiratime", "relatime", "norelatime",
	"strictatime", "nostrictatime", "lazytime", "nolazytime", NULL,
};
static const char *const fuse_opt_prefixes[] = { "fsname=", "subtype=", "max_read=", NULL };

/* Largest useful max_read: the kernel never asks for more in one read. */
#define WORMFS_MAX_READ (1u << 20)

static void usage(FILE *f)
{
	fprintf(f,
		"usage: wormfs STORE MOUNTPOINT [-f] [-d] [-s] [-o OPT[,OPT...]]\n"
		"  -f          stay in the foreground (log to stderr)\n"
		"  -d          debug output (implies -f)\n"
		"  -s          single-threaded\n"
		"  -o OPT      FUSE options (allow_other, ro, ...) or wormfs.conf keys as\n"
		"              key=value (e.g. crypto_rate=100, passphrase_file=F)\n"
		"  -h, --help  this text;  -V, --version  the version\n");
}

static int is_fuse_opt(const char *o)
{
	for (size_t i = 0; fuse_opts[i]; i++)
		if (!strcmp(o, fuse_opts[i]))
			return 1;
	for (size_t i = 0; fuse_opt_prefixes[i]; i++)
		if (!strncmp(o, fuse_opt_prefixes[i], strlen(fuse_opt_prefixes[i])))
			return 1;
	return 0;
}

/* The FUSE options of all -o lists, as libfuse parses them (escapes
 * kept). No fixed length: a long list is fine, and a repeated option is
 * kept once (the last value of a key=value one), so the kernel's option
 * page never overflows from repetition. */
struct mopts {
	char **v;
	size_t n, cap;
};

static size_t opt_key_len(const char *o)
{
	const char *eq = strchr(o, '=');
	return eq ? (size_t)(eq - o) + 1 : strlen(o) + 1;
}

static int mopts_add(struct mopts *m, char *o)
{
	size_t k = opt_key_len(o);

	for (size_t i = 0; i < m->n; i++)
		if (opt_key_len(m->v[i]) == k && !strncmp(m->v[i], o, k)) {
			memmove(m->v + i, m->v + i + 1, (m->n - i - 1) * sizeof(*m->v));
			m->n--;
			break;
		}
	if (m->n == m->cap) {
		size_t cap = m->cap ? 2 * m->cap : 16;
		char **nv = realloc(m->v, cap * sizeof(*nv));

		if (!nv)
			return -ENOMEM;
		m->v = nv;
		m->cap = cap;
	}
	m->v[m->n++] = o;
	return 0;
}

/* The comma list for libfuse (malloc'd; NULL when out of memory). */
static char *mopts_join(const struct mopts *m)
{
	size_t len = 1;
	char *s, *d;

	for (size_t i = 0; i < m->n; i++)
		len += strlen(m->v[i]) + 1;
	s = d = malloc(len);
	if (!s)
		return NULL;
	*d = '\0';
	for (size_t i = 0; i < m->n; i++)
		d += sprintf(d, "%s%s", i ? "," : "", m->v[i]);
	return s;
}

/* Cut the next option off *p at the first comma that is not escaped. As
 * in libfuse's own parser, a backslash escapes the next character (so
 * "fsname=a\,b" or a principal list "uid:1\,uid:2" stay one option).
 * Returns the option (escapes kept) or NULL at the end. */
static char *next_opt(char **p)
{
	char *o = *p, *s = *p;

	if (!o)
		return NULL;
	for (; *s && *s != ','; s++)
		if (*s == '\\' && s[1])
			s++;
	*p = *s ? s + 1 : NULL;
	*s = '\0';
	return o;
}

/* Drop the escaping backslashes of a config value in place. */
static void unescape(char *s)
{
	char *d = s;

	for (; *s; s++) {
		if (*s == '\\' && s[1])
			s++;
		*d++ = *s;
	}
	*d = '\0';
}

/* max_read must reach libfuse's INIT handshake intact (fs_init repeats
 * it): check it here, so a bad value fails before anything is mounted
 * instead of right after "mounted". The kernel raises anything below one
 * page to 4096 and caps reads at 1 MiB, so only that range means what it
 * says. */
static int parse_max_read(const char *v, unsigned *out)
{
	unsigned long long x = 0;

	if (!*v)
		return -EINVAL;
	for (const char *p = v; *p; p++) {
		if (*p < '0' || *p > '9' || x > WORMFS_MAX_READ)
			return -EINVAL;
		x = x * 10 + (unsigned)(*p - '0');
	}
	if (x < 4096 || x > WORMFS_MAX_READ)
		return -EINVAL;
	*out = (unsigned)x;
	return 0;
}

/* Split one -o list: FUSE options go to m, the rest must be config
 * keys. */
static int take_opts(char *list, struct cfg *c, struct mopts *m, unsigned *max_read)
{
	char err[512], *rest = list, *o;

	while ((o = next_opt(&rest))) {
		if (!*o)
			continue;
		if (is_fuse_opt(o)) {
			if (!strncmp(o, "max_read=", 9) && parse_max_read(o + 9, max_read)) {
				fprintf(stderr, "wormfs: -o %s: bad value (allowed: an integer "
					"4096..%u)\n", o, WORMFS_MAX_READ);
				return -EINVAL;
			}
			if (mopts_add(m, o)) {
				fprintf(stderr, "wormfs: -o: out of memory\n");
				return -ENOMEM;
			}
			continue;
		}
		char *eq = strchr(o, '=');
		if (!eq) {
			fprintf(stderr, "wormfs: unknown option '%s'\n", o);
			return -EINVAL;
		}
		*eq = '\0';
		unescape(eq + 1);
		err[0] = '\0';
		if (cfg_set(c, o, eq + 1, err, sizeof(err))) {
			fprintf(stderr, "wormfs: -o %s=%s: %s\n", o, eq + 1,
				err[0] ? err : "unknown option");
			return -EINVAL;
		}
	}
	return 0;
}

int main(int argc, char **argv)
{
	static struct cfg cfg;
	struct fs_params p;
	struct mopts mopts = { NULL, 0, 0 };
	char *mopt_list = NULL;
	unsigned max_read = 0;
	char err[1024] = "", conf[PATH_MAX + 32], store_abs[PATH_MAX];
	char mnt_abs[PATH_MAX], fsname[PATH_MAX + 16];
	const char *pos[2] = { NULL, NULL };
	char *olists[64];
	int npos = 0, nol = 0, foreground = 0, debug = 0, single = 0;
	int pipefd[2] = { -1, -1 }, rc;
	ns *n = NULL;

	/* Before anything else: this process will hold key material and
	 * plaintext, which a core dump would write to disk, and which a
	 * dumpable process exposes to same-uid ptrace and /proc/PID/mem.
	 * Both survive the fork below. */
	struct rlimit no_core = { 0, 0 };
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) || setrlimit(RLIMIT_CORE, &no_core)) {
		fprintf(stderr, "wormfs: cannot disable core dumps: %s\n", strerror(errno));
		return 1;
	}

	/* Every open content file holds a descriptor: take all the hard
	 * limit allows (the soft one is often 1024). */
	struct rlimit nofile;
	if (getrlimit(RLIMIT_NOFILE, &nofile) == 0 && nofile.rlim_cur < nofile.rlim_max) {
		nofile.rlim_cur = nofile.rlim_max;
		(void)setrlimit(RLIMIT_NOFILE, &nofile);
	}

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			usage(stdout);
			return 0;
		} else if (!strcmp(a, "-V") || !strcmp(a, "--version")) {
			printf("wormfs %s\n", WORMFS_VERSION);
			return 0;
		} else if (!strcmp(a, "-f")) {
			foreground = 1;
		} else if (!strcmp(a, "-d")) {
			debug = foreground = 1;
		} else if (!strcmp(a, "-s")) {
			single = 1;
		} else if (!strcmp(a, "-o") || !strncmp(a, "-o", 2)) {
			char *l = a[2] ? argv[i] + 2 : (i + 1 < argc ? argv[++i] : NULL);
			if (!l) {
				fprintf(stderr, "wormfs: -o needs an argument\n");
				return 1;
			}
			if (nol == 64) {
				fprintf(stderr, "wormfs: too many -o arguments (at most 64; "
					"join them with commas)\n");
				return 1;
			}
			olists[nol++] = l;
		} else if (a[0] == '-' && a[1]) {
			fprintf(stderr, "wormfs: unknown option '%s'\n", a);
			usage(stderr);
			return 1;
		} else if (npos < 2) {
			pos[npos++] = a;
		} else {
			fprintf(stderr, "wormfs: too many arguments ('%s')\n", a);
			return 1;
		}
	}
	if (npos != 2) {
		usage(stderr);
		return 1;
	}
	if (!realpath(pos[0], store_abs)) {
		fprintf(stderr, "wormfs: %s: %s\n", pos[0], strerror(errno));
		return 1;
	}
	if (!realpath(pos[1], mnt_abs)) {
		fprintf(stderr, "wormfs: mount point %s: %s\n", pos[1], strerror(errno));
		return 1;
	}

	cfg_defaults(&cfg);
	snprintf(conf, sizeof(conf), "%s/wormfs.conf", store_abs);
	rc = cfg_load(&cfg, conf, err, sizeof(err));
	if (rc && rc != -ENOENT) {
		fprintf(stderr, "wormfs: %s\n", err[0] ? err : strerror(-rc));
		return 1;
	}
	for (int i = 0; i < nol; i++)
		if (take_opts(olists[i], &cfg, &mopts, &max_read))
			return 1;
	err[0] = '\0';
	if (cfg_finish(&cfg, err, sizeof(err))) {
		fprintf(stderr, "wormfs: %s\n", err[0] ? err : "invalid configuration");
		return 1;
	}
	mopt_list = mopts_join(&mopts);
	free(mopts.v);
	if (!mopt_list) {
		fprintf(stderr, "wormfs: -o: out of memory\n");
		return 1;
	}

	/* Fork before opening anything: LMDB and flock state must belong to
	 * the serving process. The parent waits for one status byte. */
	if (!foreground) {
		if (pipe(pipefd)) {
			perror("wormfs: pipe");
			return 1;
		}
		pid_t pid = fork();
		if (pid < 0) {
			perror("wormfs: fork");
			return 1;
		}
		if (pid > 0) {
			char st = 1;
			close(pipefd[1]);
			if (read(pipefd[0], &st, 1) != 1) {
				int ws = 0;
				waitpid(pid, &ws, 0);
				return 1;
			}
			return st;
		}
		close(pipefd[0]);
		setsid();
	}
	wlog_init(0, debug ? WLOG_DEBUG : cfg.log_level);

	err[0] = '\0';
	rc = ns_open(store_abs, &cfg, 0, &n, err, sizeof(err));
	if (rc) {
		fprintf(stderr, "wormfs: %s\n", err[0] ? err : strerror(-rc));
		return 1;
	}
	snprintf(fsname, sizeof(fsname), "wormfs:%s", store_abs);
	memset(&p, 0, sizeof(p));
	p.mountpoint = mnt_abs;
	p.fsname = fsname;
	p.foreground = foreground;
	p.debug = debug;
	p.single_thread = single;
	p.max_threads = cfg.max_threads;
	p.attr_timeout = cfg.attr_timeout;
	p.mount_opts = mopt_list;
	p.max_read = max_read;
	p.status_fd = foreground ? -1 : pipefd[1];
	rc = fs_run(n, &p);
	ns_close(n);
	free(mopt_list);
	return rc;
}
