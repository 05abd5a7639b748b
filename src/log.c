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

/* Fields are bounded so that a refusal line always fits whole. */
#define WLOG_LINE_MAX 4096
#define WLOG_PATH_FIELD 2048
#define WLOG_ATTR_FIELD 1024

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

/* Length of the well-formed UTF-8 sequence at p (1..4), 0 if there is
 * none; *cp gets the code point. */
static size_t utf8_seq(const unsigned char *p, uint32_t *cp)
{
	unsigned char c = p[0];
	size_t n;
	uint32_t v, min;

	if (c < 0x80) {
		*cp = c;
		return 1;
	}
	if (c >= 0xc2 && c <= 0xdf) {
		n = 2;
		v = c & 0x1f;
		min = 0x80;
	} else if (c >= 0xe0 && c <= 0xef) {
		n = 3;
		v = c & 0x0f;
		min = 0x800;
	} else if (c >= 0xf0 && c <= 0xf4) {
		n = 4;
		v = c & 0x07;
		min = 0x10000;
	} else {
		return 0;
	}
	for (size_t i = 1; i < n; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		v = (v << 6) | (p[i] & 0x3f);
	}
	if (v < min || v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff))
		return 0;
	*cp = v;
	return n;
}

/* Code points that would end a line or reorder text on a terminal or in a
 * log viewer: C0/C1 controls, DEL, line/paragraph separators, bidi
 * controls. */
static int cp_unsafe(uint32_t cp)
{
	return cp < 0x20 || (cp >= 0x7f && cp <= 0x9f) || cp == 0x061c ||
	       cp == 0x200e || cp == 0x200f || (cp >= 0x2028 && cp <= 0x202e) ||
	       (cp >= 0x2066 && cp <= 0x2069) || cp == 0xfeff;
}

/* Bare only when no reader could take it for more than one value. */
static int bare_ok(const char *s)
{
	if (!*s)
		return 0;
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c <= 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '=')
			return 0;
	}
	return 1;
}

/* The escaped form of the character at p into e (at most 16 bytes);
 * returns its length and sets *n to the bytes of p it stands for. */
static size_t esc_one(const unsigned char *p, char *e, size_t *n)
{
	static const char hex[] = "0123456789abcdef";
	uint32_t cp = 0;
	size_t k = 0;

	*n = utf8_seq(p, &cp);
	if (*n && !cp_unsafe(cp)) {
		if (cp == '"' || cp == '\\')
			e[k++] = '\\';
		memcpy(e + k, p, *n);
		return k + *n;
	}
	if (*p == '\n' || *p == '\t' || *p == '\r') {
		e[k++] = '\\';
		e[k++] = *p == '\n' ? 'n' : *p == '\t' ? 't' : 'r';
		*n = 1;
		return k;
	}
	/* invalid UTF-8, or an unsafe code point: its bytes */
	if (!*n)
		*n = 1;
	for (size_t i = 0; i < *n; i++) {
		e[k++] = '\\';
		e[k++] = 'x';
		e[k++] = hex[p[i] >> 4];
		e[k++] = hex[p[i] & 15];
	}
	return k;
}

const char *wlog_quote(const char *s, char *buf, size_t len)
{
	const unsigned char *p = (const unsigned char *)(s ? s : "-");
	size_t o = 0, total = 0, n, k;
	char e[16];

	if (len < 8) {
		if (len)
			buf[0] = '\0';
		return buf;
	}
	if (bare_ok((const char *)p) && strlen((const char *)p) < len) {
		strcpy(buf, (const char *)p);
		return buf;
	}
	for (const unsigned char *q = p; *q; q += n)
		total += esc_one(q, e, &n);
	buf[o++] = '"';
	while (*p) {
		k = esc_one(p, e, &n);
		/* when it is cut, keep room for ...", the closing quote and the
		 * NUL */
		if (total + 3 > len && o + k + 5 > len) {
			memcpy(buf + o, "...", 3);
			o += 3;
			break;
		}
		memcpy(buf + o, e, k);
		o += k;
		p += n;
	}
	buf[o++] = '"';
	buf[o] = '\0';
	return buf;
}

void wlog_refusal(const char *op, const char *path, const char *attr, uint32_t uid,
		  int err, const char *rule)
{
	char num[16], qop[64], qpath[WLOG_PATH_FIELD], qattr[WLOG_ATTR_FIELD], qrule[64];
	const char *ename;
	int e = err < 0 ? -err : err;

	if (WLOG_WARN > wlog_max_level)
		return;
	ename = strerrorname_np(e);
	if (!ename) {
		snprintf(num, sizeof(num), "%d", e);
		ename = num;
	}
	wlog_quote(op, qop, sizeof(qop));
	wlog_quote(path, qpath, sizeof(qpath));
	wlog_quote(rule, qrule, sizeof(qrule));
	if (attr)
		wlog(WLOG_WARN, "refused op=%s path=%s attr=%s uid=%u errno=%s rule=%s",
		     qop, qpath, wlog_quote(attr, qattr, sizeof(qattr)), (unsigned)uid,
		     ename, qrule);
	else
		wlog(WLOG_WARN, "refused op=%s path=%s uid=%u errno=%s rule=%s",
		     qop, qpath, (unsigned)uid, ename, qrule);
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
