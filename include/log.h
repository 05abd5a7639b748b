/* log: one place for diagnostics. stderr in the foreground, syslog
 * otherwise. The sink is chosen once at startup (wlog_init) and is
 * read-only afterwards. */
#ifndef WORMFS_LOG_H
#define WORMFS_LOG_H

#include <stddef.h>
#include <stdint.h>

enum wlog_level { WLOG_ERR = 0, WLOG_WARN, WLOG_INFO, WLOG_DEBUG };

/* to_syslog: 0 = stderr, 1 = syslog(ident "wormfs"). max_level filters. */
void wlog_init(int to_syslog, enum wlog_level max_level);
void wlog(enum wlog_level level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Format a one-line error message into a caller's buffer (the err/errlen
 * out-parameters of open functions); does nothing when err is NULL. */
void wlog_seterr(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* "refused op=OP path=PATH [attr=NAME] uid=UID errno=E rule=RULE" at WARN,
 * every value through wlog_quote (attr only when not NULL). */
void wlog_refusal(const char *op, const char *path, const char *attr, uint32_t uid,
		  int err, const char *rule);
/* One log field value, so that no name can forge fields or lines: bare
 * when it is non-empty printable ASCII without blanks, '"', '\' or '=';
 * otherwise in double quotes, with \" and \\ for quote and backslash, \n
 * \t \r, and \xHH for each byte of a control, bidi or line-separator
 * character and of invalid UTF-8 (other UTF-8 is kept). A value that does
 * not fit in len ends in ..." (len >= 8). NULL is written as -. Returns
 * buf. */
const char *wlog_quote(const char *s, char *buf, size_t len);

#endif
