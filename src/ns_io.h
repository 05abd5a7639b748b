/* Private to the ns module: handles, content and its commit (src/ns_io.c).
 * */
#ifndef WORMFS_NS_IO_H
#define WORMFS_NS_IO_H

#include "ns_priv.h"

/* For setattr (ns_attr.c): unwrap an object's DEK once (without
 * in->mu); set an object's size and commit (in->rw held for writing). */
int ns_key_ensure(ns *n, struct ns_inode *in);
/* Apply the bucket defaults that failed releases left owed (ns_tick). */
void ns_owed_run(ns *n);
int ns_content_truncate(ns *n, struct ns_inode *in, ns_handle *h, uint64_t size);

#endif
