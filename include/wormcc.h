/* wormcc: compiler attributes shared by the public headers. */
#ifndef WORMFS_WORMCC_H
#define WORMFS_WORMCC_H

/* On a function that returns 0 or -errno (or a count or -errno): a caller
 * that drops the result is a compile error (-Werror), since an ignored
 * failure is how a refusal or a lost write goes unnoticed. */
#define WORM_MUST_USE __attribute__((warn_unused_result))

/* Drop such a result on purpose. A (void) cast does not silence gcc's
 * warn_unused_result; this does, and is easy to grep. Every use says why
 * in a comment next to it. */
static inline void worm_discard(long rc)
{
	(void)rc;
}

#endif
