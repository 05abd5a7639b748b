/* names: name rules of the namespace (design section 3). Pure. */
#ifndef WORMFS_NAMES_H
#define WORMFS_NAMES_H

#include <stddef.h>
#include "wormnames.h"

#define NAMES_CTL_DIR WORM_CTL_DIR   /* virtual control directory at the root */

/* S3 bucket naming: 3-63 chars of [a-z0-9.-], starts and ends with a letter
 * or digit, no "..", not shaped like an IPv4 address, not ".wormfs";
 * also S3's reserved forms: prefixes "xn--", "sthree-", "amzn-s3-demo-";
 * suffixes "-s3alias", "--ol-s3", "--x-s3", "--table-s3", ".mrap".
 * 0 or -EINVAL. */
int names_bucket_valid(const char *name);
/* A component name: non-empty, <= 255 bytes, no '/', not "." or "..".
 * 0, -ENAMETOOLONG or -EINVAL. */
int names_component_valid(const char *name);
/* Split "bucket/a/b" (leading/trailing '/' ignored) into components in
 * place: writes pointers into comps (max ncomps), returns count or -EINVAL
 * (empty component such as "a//b" is skipped; "." and ".." are -EINVAL).
 * Also -EINVAL when there are more than ncomps components, -ENAMETOOLONG
 * for a component over 255 bytes. "" and "/" give 0 components. */
int names_split(char *path, char **comps, int ncomps);

#endif
