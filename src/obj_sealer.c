/* obj_sealer: one helper thread that seals and writes blocks for
 * obj_write, and starts the early writeback of content files (see
 * include/obj.h).
 *
 * A large write's pieces are sealed and written here and by the calling
 * thread: AES-GCM is most of a write's CPU time, and a single writer's
 * requests reach the daemon one at a time, so this is the only way one
 * writer uses a second core. One job at a time; a caller that finds the
 * helper busy does all the work itself, and one that finishes all pieces
 * before the helper started takes the job back instead of waiting for it.
 * The writeback (sync_file_range of a dup of the file) runs when no job
 * waits, after the request that asked for it has been answered. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>

#include "obj.h"

struct obj_sealer {
	pthread_mutex_t mu;
	pthread_cond_t cv;        /* job posted, job done, or stop */
	pthread_t thread;
	void (*fn)(void *);
	void *arg;
	int busy;                 /* a caller owns the helper */
	int posted;               /* fn/arg wait to be run, or run */
	int running;              /* fn(arg) has started */
	int wb_fd;                /* a dup to start the writeback of, or -1 */
	int stop;
};

static void *sealer_main(void *arg)
{
	obj_sealer *p = arg;

	pthread_mutex_lock(&p->mu);
	for (;;) {
		while (!p->posted && p->wb_fd < 0 && !p->stop)
			pthread_cond_wait(&p->cv, &p->mu);
		if (p->posted) {
			p->running = 1;
			pthread_mutex_unlock(&p->mu);
			p->fn(p->arg);
			pthread_mutex_lock(&p->mu);
			p->posted = 0;
			p->running = 0;
			pthread_cond_broadcast(&p->cv);
		} else if (p->wb_fd >= 0) {
			int fd = p->wb_fd;
			p->wb_fd = -1;
			pthread_mutex_unlock(&p->mu);
			/* Only a hint: an error leaves the data to fsync. */
			(void)sync_file_range(fd, 0, 0, SYNC_FILE_RANGE_WRITE);
			close(fd);
			pthread_mutex_lock(&p->mu);
		} else {
			break;     /* stop, and no caller is waiting on a job */
		}
	}
	pthread_mutex_unlock(&p->mu);
	return NULL;
}

int obj_sealer_new(obj_sealer **out)
{
	obj_sealer *p = calloc(1, sizeof(*p));
	int rc;

	if (!p)
		return -ENOMEM;
	p->wb_fd = -1;
	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->cv, NULL);
	rc = pthread_create(&p->thread, NULL, sealer_main, p);
	if (rc) {
		pthread_cond_destroy(&p->cv);
		pthread_mutex_destroy(&p->mu);
		free(p);
		return -rc;
	}
	*out = p;
	return 0;
}

void obj_sealer_free(obj_sealer *p)
{
	if (!p)
		return;
	pthread_mutex_lock(&p->mu);
	p->stop = 1;
	pthread_cond_broadcast(&p->cv);
	pthread_mutex_unlock(&p->mu);
	pthread_join(p->thread, NULL);
	pthread_cond_destroy(&p->cv);
	pthread_mutex_destroy(&p->mu);
	free(p);
}

int obj_sealer_start(obj_sealer *p, void (*fn)(void *), void *arg)
{
	int started = 0;

	pthread_mutex_lock(&p->mu);
	if (!p->busy && !p->stop) {
		p->busy = 1;
		p->fn = fn;
		p->arg = arg;
		p->posted = 1;
		pthread_cond_broadcast(&p->cv);
		started = 1;
	}
	pthread_mutex_unlock(&p->mu);
	return started;
}

void obj_sealer_wait(obj_sealer *p)
{
	pthread_mutex_lock(&p->mu);
	/* Not started (the helper is still waking, or starting a writeback):
	 * the caller has done all the work; the helper must not run it. */
	if (p->posted && !p->running)
		p->posted = 0;
	while (p->posted)
		pthread_cond_wait(&p->cv, &p->mu);
	p->busy = 0;
	pthread_mutex_unlock(&p->mu);
}

int obj_sealer_writeback(obj_sealer *p, int fd)
{
	int d = fcntl(fd, F_DUPFD_CLOEXEC, 0), queued = 0;

	if (d < 0)
		return 0;
	pthread_mutex_lock(&p->mu);
	if (p->wb_fd < 0 && !p->stop) {
		p->wb_fd = d;
		queued = 1;
		pthread_cond_broadcast(&p->cv);
	}
	pthread_mutex_unlock(&p->mu);
	if (!queued)
		close(d);
	return queued;
}
