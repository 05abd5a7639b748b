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
#include <pthread.h>
#include <signal.h>
#include <time.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "config.h"
#include "ctl.h"
#include "fs.h"
#include "log.h"
#include "ns.h"
#include "s3.h"

static void usage(FILE *f)
{
	fprintf(f,
		"usage: wormfs STORE MOUNTPOINT [-f] [-d] [-s] [-o OPT[,OPT...]]\n"
		"       wormfs STORE --no-mount [-f] [-d] [-o OPT[,OPT...]]  (S3 endpoint only)\n"
		"  -f          stay in the foreground (log to stderr)\n"
		"  -d          debug output (implies -f)\n"
		"  -s          single-threaded\n"
		"  -o OPT      FUSE options (allow_other, ro, ...) or wormfs.conf keys as\n"
		"              key=value (e.g. crypto_rate=100, s3.listen=127.0.0.1:9000)\n"
		"  --no-mount  serve only the S3 endpoint ([s3] listen), no FUSE mount\n"
		"  -h, --help  this text;  -V, --version  the version\n");
}

struct detach {
	int status_fd;            /* the parent waits for one byte on it */
	enum wlog_level level;    /* the configured log_level */
};

/* fs_run's on_mounted hook in daemon mode: tell the parent the mount is
 * up (status 0), then detach: diagnostics go to syslog from here on (the
 * terminal may be gone), stdio to /dev/null, the working directory to /
 * (so the daemon does not hold the directory it was started in busy). */
static void daemon_detach(void *arg)
{
	struct detach *d = arg;
	char ok = 0;

	if (write(d->status_fd, &ok, 1) != 1)
		wlog(WLOG_WARN, "cannot report mount status to the parent");
	close(d->status_fd);
	wlog_init(1, d->level);
	int nullfd = open("/dev/null", O_RDWR);
	if (nullfd >= 0) {
		dup2(nullfd, 0);
		dup2(nullfd, 1);
		dup2(nullfd, 2);
		if (nullfd > 2)
			close(nullfd);
	}
	if (chdir("/"))
		wlog(WLOG_WARN, "chdir /: %s", strerror(errno));
}

struct mounted {
	struct detach *det;       /* daemon mode, else NULL */
	ns *n;
	const char *store;
	ctl *ctl;                 /* the control socket, once started */
};

/* fs_run's on_mounted hook: detach (daemon mode), then the control socket
 * (design section 16), in the serving process. Without it the mount still
 * serves; wormctl then refuses changes as when no daemon answers. */
static void on_mounted(void *arg)
{
	struct mounted *m = arg;
	int rc;

	if (m->det)
		daemon_detach(m->det);
	rc = ctl_start(m->n, m->store, &m->ctl);
	if (rc)
		wlog(WLOG_WARN, "control socket in %s not started: %s (wormctl cannot change "
		     "the store while it is mounted)", m->store, strerror(-rc));
}

/* The S3 endpoint's parameters from [s3]. */
static void s3_params_of(const struct cfg *c, struct s3_params *sp)
{
	memset(sp, 0, sizeof(*sp));
	snprintf(sp->listen, sizeof(sp->listen), "%s", c->s3.listen);
	snprintf(sp->region, sizeof(sp->region), "%s", c->s3.region);
	snprintf(sp->base_domain, sizeof(sp->base_domain), "%s", c->s3.base_domain);
	snprintf(sp->tls_cert, sizeof(sp->tls_cert), "%s", c->s3.tls_cert);
	snprintf(sp->tls_key, sizeof(sp->tls_key), "%s", c->s3.tls_key);
	sp->threads = c->s3.threads;
	sp->max_connections = c->s3.max_connections;
	sp->idle_timeout = c->s3.idle_timeout;
}

/* --no-mount: serve S3 (its own threads) until SIGINT, SIGTERM or SIGHUP,
 * which the caller blocked before any thread started; ns_tick runs here
 * as fs.c's timer does for a mount. */
static void serve_until_signal(ns *n, const struct cfg *c, const sigset_t *sigs)
{
	struct timespec ts = { c->sync_interval_ms / 1000,
			       (long)(c->sync_interval_ms % 1000) * 1000000L };
	for (;;) {
		int sig = sigtimedwait(sigs, NULL, &ts);
		if (sig > 0) {
			wlog(WLOG_INFO, "signal %d: stopping", sig);
			return;
		}
		/* a failed checkpoint is logged by ns_tick and retried */
		worm_discard(ns_tick(n));
	}
}

int main(int argc, char **argv)
{
	s3_server *s3 = NULL;
	int no_mount = 0;
	sigset_t sigs;
	struct mounted mnt = { NULL, NULL, NULL, NULL };
	static struct cfg cfg;
	struct fs_params p;
	struct detach det;
	struct cfg_mopts mopts = { NULL, 0, 0, 0 };
	char *mopt_list = NULL;
	char err[4096] = "", conf[PATH_MAX + 32], store_abs[PATH_MAX];
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
		} else if (!strcmp(a, "--no-mount")) {
			no_mount = 1;
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
	if (npos != 2 - no_mount) {
		usage(stderr);
		return 1;
	}
	if (!realpath(pos[0], store_abs)) {
		fprintf(stderr, "wormfs: %s: %s\n", pos[0], strerror(errno));
		return 1;
	}
	if (!no_mount && !realpath(pos[1], mnt_abs)) {
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
	for (int i = 0; i < nol; i++) {
		err[0] = '\0';
		if (cfg_take_opts(&cfg, olists[i], &mopts, err, sizeof(err))) {
			fprintf(stderr, "wormfs: %s\n", err);
			return 1;
		}
	}
	err[0] = '\0';
	if (cfg_finish(&cfg, err, sizeof(err))) {
		fprintf(stderr, "wormfs: %s\n", err[0] ? err : "invalid configuration");
		return 1;
	}
	if (no_mount && !cfg.s3.listen[0]) {
		fprintf(stderr, "wormfs: --no-mount serves only S3: set [s3] listen in "
			"wormfs.conf or -o s3.listen=HOST:PORT\n");
		return 1;
	}
	mopt_list = cfg_mopts_join(&mopts);
	cfg_mopts_free(&mopts);
	if (!mopt_list) {
		fprintf(stderr, "wormfs: -o: out of memory\n");
		return 1;
	}

	/* Fork before opening anything: LMDB and flock state must belong to
	 * the serving process. The parent waits for one status byte. */
	if (!foreground) {
		if (pipe(pipefd)) {
			perror("wormfs: pipe");
			rc = 1;
			goto out;
		}
		pid_t pid = fork();
		if (pid < 0) {
			perror("wormfs: fork");
			rc = 1;
			goto out;
		}
		if (pid > 0) {
			char st = 1;
			close(pipefd[1]);
			if (read(pipefd[0], &st, 1) != 1) {
				int ws = 0;
				waitpid(pid, &ws, 0);
				st = 1;
			}
			rc = st;
			goto out;
		}
		close(pipefd[0]);
		setsid();
	}
	wlog_init(0, debug ? WLOG_DEBUG : cfg.log_level);
	if (no_mount) {
		/* before any thread starts, so that all of them inherit it */
		sigemptyset(&sigs);
		sigaddset(&sigs, SIGINT);
		sigaddset(&sigs, SIGTERM);
		sigaddset(&sigs, SIGHUP);
		pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	}

	err[0] = '\0';
	rc = ns_open(store_abs, &cfg, 0, &n, err, sizeof(err));
	if (rc) {
		fprintf(stderr, "wormfs: %s\n", err[0] ? err : strerror(-rc));
		rc = 1;
		goto out;
	}
	/* After an unclean stop: the S3 uploads it cut off (a clean stop
	 * aborts them), whether or not S3 is served this time. */
	if (ns_store_live(n))
		worm_discard(s3_remove_stale_uploads(n));
	if (cfg.s3.listen[0]) {
		/* Before the mount: a port in use fails the start, with nothing
		 * mounted. Requests may arrive before the mount is up; they
		 * need only ns. */
		struct s3_params sp;
		s3_params_of(&cfg, &sp);
		err[0] = '\0';
		rc = s3_start(n, &sp, &s3, err, sizeof(err));
		if (rc) {
			fprintf(stderr, "wormfs: %s\n", err[0] ? err : strerror(-rc));
			ns_close(n);
			rc = 1;
			goto out;
		}
	}
	if (no_mount) {
		mnt.n = n;
		mnt.store = store_abs;
		if (!foreground) {
			det.status_fd = pipefd[1];
			det.level = cfg.log_level;
			mnt.det = &det;
		}
		on_mounted(&mnt);    /* detach and the control socket, as for a mount */
		wlog(WLOG_INFO, "serving S3 only on %s (port %u), store %s", cfg.s3.listen,
		     s3_port(s3), store_abs);
		serve_until_signal(n, &cfg, &sigs);
		rc = 0;
		goto stop;
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
	p.max_read = mopts.max_read;
	if (!foreground) {
		det.status_fd = pipefd[1];
		det.level = cfg.log_level;   /* -d implies -f: never here */
		mnt.det = &det;
	}
	mnt.n = n;
	mnt.store = store_abs;
	p.on_mounted = on_mounted;
	p.on_mounted_arg = &mnt;
	rc = fs_run(n, &p);
stop:
	/* every S3 request has ended before the store closes */
	s3_stop(s3);
	ctl_stop(mnt.ctl);
	ns_close(n);
out:
	free(mopt_list);
	return rc;
}
