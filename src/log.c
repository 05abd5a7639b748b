/* log: stderr or syslog, one line per message.
 *
 * The sink and level are the documented exception to "no global mutable
 * state": wlog_init sets them once at startup, before any thread starts;
 * afterwards they are only read. */
#include "log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>

#define WLOG_LINE_MAX 1024

static int wlog_to_syslog;
static enum wlog_level wlog_max_level = WLOG_INFO;

void wlog_init(int to_syslog, enum wlog_level max_level)
{
	wlog_to_syslog = to_syslog ? 1 : 0;
	wlog_max_level = max_level;
	if (wlog_to_syslog)
		openlog("wormfs", LOG_PID, LOG_DAEMON);
}

static int wlog_syslog_prio(enum wlog_level level)
{
	switch (level) {
	case WLOG_ERR:
		return LOG_ERR;
	case WLOG_WARN:
		return LOG_WARNING;
	case WLOG_INFO:
		return LOG_INFO;
	default:
		return LOG_DEBUG;
	}
}

/* Control characters (newlines in file names, escape sequences) would split
 * a log line or drive a terminal: replace them. */
static void wlog_one_line(char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			*s = '?';
}

static void wlog_emit(enum wlog_level level, char *msg)
{
	wlog_one_line(msg);
	if (wlog_to_syslog)
		syslog(wlog_syslog_prio(level), "%s", msg);
	else
		fprintf(stderr, "wormfs: %s\n", msg);
}

void wlog(enum wlog_level level, const char *fmt, ...)
{
	char msg[WLOG_LINE_MAX];
	va_list ap;
	int saved = errno;   /* callers may log and then return -errno */

	if (level > wlog_max_level)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	wlog_emit(level, msg);
	errno = saved;
}

void wlog_refusal(const char *op, const char *path, uint32_t uid, int err,
		  const char *rule)
{
	char num[16];
	const char *ename;
	int e = err < 0 ? -err : err;

	if (WLOG_WARN > wlog_max_level)
		return;
	ename = strerrorname_np(e);
	if (!ename) {
		snprintf(num, sizeof(num), "%d", e);
		ename = num;
	}
	wlog(WLOG_WARN, "refused op=%s path=%s uid=%u errno=%s rule=%s",
	     op ? op : "-", path ? path : "-", (unsigned)uid, ename,
	     rule ? rule : "-");
}

void wlog_seterr(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (!err || errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}
