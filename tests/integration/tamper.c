/* tamper: offline helper for the encryption integration tests. Reads and
 * edits a store's LMDB metadata directly (the store must be unmounted), so
 * the tests can map paths to content files and damage a node record the
 * way an attacker with write access to STORE/meta would.
 *
 *   tamper xget|xdel METADIR DB KEYHEX, tamper xput METADIR DB KEYHEX HEX
 *       any record of sub-database DB (nodes, due, dueino, ...) by its key
 *   tamper xlist METADIR DB
 *       every record of sub-database DB, one line each: "KEYHEX VALUEHEX"
 *   tamper map METADIR
 *       one line per regular file: "INO OBJID SIZE GEN KVER PATH" (OBJID is
 *       32 hex digits, all zeros when the file has no content file yet;
 *       KVER the master key version of the wrapped DEK; PATH is relative
 *       to the mount root, as wormctl verify prints it)
 *   tamper flip METADIR INO FIELD BYTE XOR
 *       XOR one byte (index BYTE within FIELD) of the node record of INO
 *       with XOR (1..255) and commit. FIELD: size generation lock_mode hold
 *       sealed retain_until objid wrapped alg flags autocommit_s commit btime_ns
 *   tamper get METADIR INO FIELD
 *       print FIELD as a number (hex for objid and wrapped)
 *   tamper iget METADIR INO FILE
 *       write the inline content value of INO (an object of at most one
 *       block kept in the metadata) to FILE; exit 1 if it has none
 *   tamper iput METADIR INO FILE
 *       replace (or add) the inline value of INO with FILE's bytes
 *   tamper idel METADIR INO
 *       delete the inline value of INO
 *   tamper xor FILE OFFSET XOR
 *       XOR the byte at OFFSET of FILE with XOR (1..255) in place
 *   tamper swap FILE1 OFF1 FILE2 OFF2 LEN
 *       exchange LEN bytes of FILE1 at OFF1 with those of FILE2 at OFF2
 *       (the same file may be given twice; ranges must not overlap)
 *   tamper zero FILE OFFSET LEN
 *       overwrite LEN bytes of FILE at OFFSET with zeros (within the file)
 *   tamper kvget METADIR KEY / kvput METADIR KEY HEX
 *       print (hex) or replace the raw value of a kv record (clock_hwm,
 *       next_ino, auth_records, ...)
 *   tamper dget METADIR PARENT NAME / dput METADIR PARENT NAME HEX /
 *   tamper ddel METADIR PARENT NAME
 *       print (hex), replace or delete the raw value of a directory entry
 *       (ino | cookie [| mac]); ddel leaves the readdir index alone
 *   tamper oput METADIR INO HEX
 *       add (or replace) the raw value of an orphan entry (objid [| mac])
 *
 * Exit status: 0 ok, 1 failure (message on stderr), 2 usage. */
#include <errno.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <lmdb.h>

#include "meta.h"

struct field {
	const char *name;
	size_t off, len;
};

#define F(n) { #n, offsetof(struct meta_node, n), sizeof(((struct meta_node *)0)->n) }
static const struct field fields[] = {
	F(size), F(generation), F(lock_mode), F(hold), F(sealed), F(retain_until),
	F(objid), F(wrapped), F(alg), F(flags), F(parent), F(nlink), F(uid), F(mode),
	F(version), F(next_cookie), F(autocommit_s), F(commit), F(btime_ns),
};
#undef F

static const struct field *find_field(const char *name)
{
	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
		if (!strcmp(fields[i].name, name))
			return &fields[i];
	return NULL;
}

static void put_be64(uint8_t *p, uint64_t v)
{
	for (int i = 7; i >= 0; i--, v >>= 8)
		p[i] = (uint8_t)v;
}

static uint64_t get_be64(const uint8_t *p)
{
	uint64_t v = 0;
	for (int i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

struct db {
	MDB_env *env;
	MDB_txn *txn;
	MDB_dbi nodes, dirents, inl, kv, orphans;
};

static int db_open(struct db *d, const char *dir, int rdonly)
{
	int rc;

	memset(d, 0, sizeof(*d));
	rc = mdb_env_create(&d->env);
	if (!rc)
		rc = mdb_env_set_mapsize(d->env, (size_t)64 << 30);
	if (!rc)
		rc = mdb_env_set_maxdbs(d->env, 16);
	if (!rc)
		rc = mdb_env_open(d->env, dir, rdonly ? MDB_RDONLY : 0, 0600);
	if (!rc)
		rc = mdb_txn_begin(d->env, NULL, rdonly ? MDB_RDONLY : 0, &d->txn);
	if (!rc)
		rc = mdb_dbi_open(d->txn, "nodes", 0, &d->nodes);
	if (!rc)
		rc = mdb_dbi_open(d->txn, "dirents", 0, &d->dirents);
	if (!rc)
		rc = mdb_dbi_open(d->txn, "inline", 0, &d->inl);
	if (!rc)
		rc = mdb_dbi_open(d->txn, "kv", 0, &d->kv);
	if (!rc)
		rc = mdb_dbi_open(d->txn, "orphans", 0, &d->orphans);
	if (rc) {
		fprintf(stderr, "tamper: %s: %s\n", dir, mdb_strerror(rc));
		if (d->txn)
			mdb_txn_abort(d->txn);
		if (d->env)
			mdb_env_close(d->env);
		return 1;
	}
	return 0;
}

static void db_close(struct db *d)
{
	if (d->txn)
		mdb_txn_abort(d->txn);
	mdb_env_close(d->env);
}

static int node_get(struct db *d, uint64_t ino, struct meta_node *n)
{
	uint8_t kb[8];
	MDB_val k = { 8, kb }, v;
	int rc;

	put_be64(kb, ino);
	rc = mdb_get(d->txn, d->nodes, &k, &v);
	if (rc)
		return rc;
	/* The current size, or one from before commit (16 bytes shorter: the
	 * MAC last), read with it 0 and written back whole. */
	if (v.mv_size == offsetof(struct meta_node, commit) + sizeof(n->mac)) {
		memset(n, 0, sizeof(*n));
		memcpy(n, v.mv_data, offsetof(struct meta_node, commit));
		memcpy(n->mac, (const uint8_t *)v.mv_data + offsetof(struct meta_node, commit),
		       sizeof(n->mac));
		return 0;
	}
	if (v.mv_size != sizeof(*n))
		return MDB_CORRUPTED;
	memcpy(n, v.mv_data, sizeof(*n));
	return 0;
}

/* Depth-first walk of the dirents of dir; path holds the prefix. */
static int walk(struct db *d, uint64_t dir, char *path, size_t plen, int depth)
{
	MDB_cursor *c = NULL;
	uint8_t kb[8];
	MDB_val k = { 8, kb }, v;
	int rc, op = MDB_SET_RANGE;

	if (depth > 64)
		return ELOOP;
	put_be64(kb, dir);
	rc = mdb_cursor_open(d->txn, d->dirents, &c);
	if (rc)
		return rc;
	/* Collect this directory's entries first: the recursion reuses the
	 * transaction but needs its own cursor position. */
	struct ent { uint64_t ino; char name[META_NAME_MAX + 1]; } *ents = NULL;
	size_t n = 0, cap = 0;
	while ((rc = mdb_cursor_get(c, &k, &v, op)) == 0) {
		op = MDB_NEXT;
		if (k.mv_size < 9 || get_be64(k.mv_data) != dir)
			break;
		if (n == cap) {
			cap = cap ? 2 * cap : 64;
			struct ent *ne = realloc(ents, cap * sizeof(*ents));
			if (!ne) {
				rc = ENOMEM;
				goto out;
			}
			ents = ne;
		}
		size_t len = k.mv_size - 8;
		if (len > META_NAME_MAX)
			len = META_NAME_MAX;
		memcpy(ents[n].name, (uint8_t *)k.mv_data + 8, len);
		ents[n].name[len] = '\0';
		ents[n].ino = get_be64(v.mv_data);
		n++;
	}
	if (rc == MDB_NOTFOUND)
		rc = 0;
	mdb_cursor_close(c);
	c = NULL;
	for (size_t i = 0; i < n && !rc; i++) {
		struct meta_node nd;
		size_t len = strlen(ents[i].name);
		if (plen + len + 2 > 4096) {
			rc = ENAMETOOLONG;
			break;
		}
		if (plen)
			path[plen] = '/';
		memcpy(path + plen + (plen ? 1 : 0), ents[i].name, len + 1);
		size_t nlen = plen + (plen ? 1 : 0) + len;
		rc = node_get(d, ents[i].ino, &nd);
		if (rc)
			break;
		if (S_ISREG(nd.mode)) {
			printf("%" PRIu64 " ", nd.ino);
			for (int j = 0; j < 16; j++)
				printf("%02x", nd.objid[j]);
			/* The wrapped DEK starts with its master key version (u32 LE). */
			uint32_t kver = (uint32_t)nd.wrapped[0] | (uint32_t)nd.wrapped[1] << 8 |
					(uint32_t)nd.wrapped[2] << 16 | (uint32_t)nd.wrapped[3] << 24;
			printf(" %" PRIu64 " %" PRIu64 " %" PRIu32 " %s\n", nd.size, nd.generation,
			       kver, path);
		} else if (S_ISDIR(nd.mode)) {
			rc = walk(d, nd.ino, path, nlen, depth + 1);
		}
		path[plen] = '\0';
	}
out:
	if (c)
		mdb_cursor_close(c);
	free(ents);
	return rc;
}

static int cmd_map(const char *dir)
{
	struct db d;
	char path[4096] = "";
	int rc;

	if (db_open(&d, dir, 1))
		return 1;
	rc = walk(&d, META_ROOT_INO, path, 0, 0);
	db_close(&d);
	if (rc) {
		fprintf(stderr, "tamper map: %s\n", rc > 0 ? strerror(rc) : mdb_strerror(rc));
		return 1;
	}
	return 0;
}

static int parse_u64(const char *s, uint64_t *out)
{
	char *end;
	errno = 0;
	*out = strtoull(s, &end, 0);
	return errno || end == s || *end;
}

static int cmd_flip(const char *dir, const char *ino_s, const char *fname,
		    const char *byte_s, const char *xor_s)
{
	const struct field *f = find_field(fname);
	uint64_t ino, byte, x;
	struct meta_node nd;
	struct db d;
	uint8_t kb[8];
	MDB_val k = { 8, kb }, v;
	int rc;

	if (!f || parse_u64(ino_s, &ino) || parse_u64(byte_s, &byte) ||
	    parse_u64(xor_s, &x) || byte >= f->len || x == 0 || x > 255) {
		fprintf(stderr, "tamper flip: bad arguments\n");
		return 2;
	}
	if (db_open(&d, dir, 0))
		return 1;
	rc = node_get(&d, ino, &nd);
	if (!rc) {
		((uint8_t *)&nd)[f->off + byte] ^= (uint8_t)x;
		put_be64(kb, ino);
		v = (MDB_val){ sizeof(nd), &nd };
		rc = mdb_put(d.txn, d.nodes, &k, &v, 0);
	}
	if (!rc) {
		rc = mdb_txn_commit(d.txn);
		d.txn = NULL;
	}
	if (!rc)
		rc = mdb_env_sync(d.env, 1);
	db_close(&d);
	if (rc) {
		fprintf(stderr, "tamper flip: inode %" PRIu64 ": %s\n", ino, mdb_strerror(rc));
		return 1;
	}
	return 0;
}

static int cmd_get(const char *dir, const char *ino_s, const char *fname)
{
	const struct field *f = find_field(fname);
	struct meta_node nd;
	struct db d;
	uint64_t ino;
	int rc;

	if (!f || parse_u64(ino_s, &ino)) {
		fprintf(stderr, "tamper get: bad arguments\n");
		return 2;
	}
	if (db_open(&d, dir, 1))
		return 1;
	rc = node_get(&d, ino, &nd);
	db_close(&d);
	if (rc) {
		fprintf(stderr, "tamper get: inode %" PRIu64 ": %s\n", ino, mdb_strerror(rc));
		return 1;
	}
	const uint8_t *p = (const uint8_t *)&nd + f->off;
	if (f->len == 8) {
		int64_t x;
		memcpy(&x, p, 8);
		printf("%" PRId64 "\n", x);
	} else if (f->len == 4) {
		int32_t x;
		memcpy(&x, p, 4);
		printf("%" PRId32 "\n", x);
	} else {
		for (size_t i = 0; i < f->len; i++)
			printf("%02x", p[i]);
		printf("\n");
	}
	return 0;
}

static int cmd_xor(const char *file, const char *off_s, const char *xor_s)
{
	uint64_t off, x;
	unsigned char b;
	FILE *f;
	int rc = 1;

	if (parse_u64(off_s, &off) || parse_u64(xor_s, &x) || x == 0 || x > 255) {
		fprintf(stderr, "tamper xor: bad arguments\n");
		return 2;
	}
	f = fopen(file, "r+b");
	if (!f) {
		perror(file);
		return 1;
	}
	if (fseeko(f, (off_t)off, SEEK_SET) == 0 && fread(&b, 1, 1, f) == 1) {
		b ^= (unsigned char)x;
		if (fseeko(f, (off_t)off, SEEK_SET) == 0 && fwrite(&b, 1, 1, f) == 1)
			rc = 0;
	}
	if (fclose(f) != 0)
		rc = 1;
	if (rc)
		fprintf(stderr, "tamper xor: %s at %" PRIu64 ": cannot rewrite the byte\n", file, off);
	return rc;
}

/* Read exactly len bytes at off; 0 or -1. */
static int read_at(FILE *f, uint64_t off, void *buf, size_t len)
{
	if (fseeko(f, (off_t)off, SEEK_SET) != 0 || fread(buf, 1, len, f) != len)
		return -1;
	return 0;
}

static int write_at(FILE *f, uint64_t off, const void *buf, size_t len)
{
	if (fseeko(f, (off_t)off, SEEK_SET) != 0 || fwrite(buf, 1, len, f) != len)
		return -1;
	return 0;
}

static int cmd_swap(char **a)
{
	uint64_t off1, off2, len;
	unsigned char *b1 = NULL, *b2 = NULL;
	FILE *f1 = NULL, *f2 = NULL;
	int rc = 1;

	if (parse_u64(a[1], &off1) || parse_u64(a[3], &off2) || parse_u64(a[4], &len) ||
	    len == 0 || len > (1u << 24)) {
		fprintf(stderr, "tamper swap: bad arguments\n");
		return 2;
	}
	b1 = malloc(len);
	b2 = malloc(len);
	f1 = fopen(a[0], "r+b");
	f2 = strcmp(a[0], a[2]) ? fopen(a[2], "r+b") : f1;
	if (!b1 || !b2 || !f1 || !f2)
		goto out;
	if (read_at(f1, off1, b1, len) || read_at(f2, off2, b2, len))
		goto out;
	if (write_at(f1, off1, b2, len) || write_at(f2, off2, b1, len))
		goto out;
	rc = 0;
out:
	if (f2 && f2 != f1 && fclose(f2) != 0)
		rc = 1;
	if (f1 && fclose(f1) != 0)
		rc = 1;
	free(b1);
	free(b2);
	if (rc)
		fprintf(stderr, "tamper swap: %s/%s: cannot exchange the ranges\n", a[0], a[2]);
	return rc;
}

static int cmd_zero(const char *file, const char *off_s, const char *len_s)
{
	uint64_t off, len;
	unsigned char *z = NULL;
	struct stat st;
	FILE *f = NULL;
	int rc = 1;

	if (parse_u64(off_s, &off) || parse_u64(len_s, &len) || len == 0 || len > (1u << 24)) {
		fprintf(stderr, "tamper zero: bad arguments\n");
		return 2;
	}
	z = calloc(1, len);
	f = fopen(file, "r+b");
	/* Only overwrite: growing the file would be another kind of damage. */
	if (!z || !f || fstat(fileno(f), &st) != 0 || off + len > (uint64_t)st.st_size)
		goto out;
	if (write_at(f, off, z, len))
		goto out;
	rc = 0;
out:
	if (f && fclose(f) != 0)
		rc = 1;
	free(z);
	if (rc)
		fprintf(stderr, "tamper zero: %s: cannot zero %" PRIu64 " bytes at %" PRIu64 "\n",
			file, len, off);
	return rc;
}

/* Commit d's write transaction and sync; closes d. */
static int db_commit(struct db *d)
{
	int rc = mdb_txn_commit(d->txn);

	d->txn = NULL;
	if (!rc)
		rc = mdb_env_sync(d->env, 1);
	db_close(d);
	return rc;
}

/* op: 'g' get into file, 'p' put from file, 'd' delete. */
static int cmd_inline(int op, const char *dir, const char *ino_s, const char *file)
{
	uint8_t kb[8], *buf = NULL;
	MDB_val k = { 8, kb }, v = { 0, NULL };
	uint64_t ino;
	struct db d;
	FILE *f = NULL;
	int rc;

	if (parse_u64(ino_s, &ino)) {
		fprintf(stderr, "tamper: bad inode number\n");
		return 2;
	}
	if (op == 'p') {
		buf = malloc(1 << 20);
		f = fopen(file, "rb");
		if (!buf || !f) {
			fprintf(stderr, "tamper iput: cannot read %s\n", file);
			free(buf);
			if (f)
				fclose(f);
			return 1;
		}
		v.mv_size = fread(buf, 1, 1 << 20, f);
		v.mv_data = buf;
		fclose(f);
	}
	if (db_open(&d, dir, op == 'g')) {
		free(buf);
		return 1;
	}
	put_be64(kb, ino);
	if (op == 'g') {
		rc = mdb_get(d.txn, d.inl, &k, &v);
		if (!rc) {
			f = fopen(file, "wb");
			if (!f || fwrite(v.mv_data, 1, v.mv_size, f) != v.mv_size)
				rc = EIO;
			if (f && fclose(f) != 0)
				rc = EIO;
		}
		db_close(&d);
	} else {
		rc = op == 'p' ? mdb_put(d.txn, d.inl, &k, &v, 0) : mdb_del(d.txn, d.inl, &k, NULL);
		if (rc)
			db_close(&d);
		else
			rc = db_commit(&d);
	}
	free(buf);
	if (rc) {
		fprintf(stderr, "tamper: inline value of inode %" PRIu64 ": %s\n", ino,
			rc == EIO ? "cannot write the file" : mdb_strerror(rc));
		return 1;
	}
	return 0;
}

static int unhex(const char *h, uint8_t *out, size_t max, size_t *len)
{
	size_t n = strlen(h);

	if (n % 2 || n / 2 > max)
		return 1;
	for (size_t i = 0; i < n / 2; i++) {
		unsigned x;
		if (sscanf(h + 2 * i, "%2x", &x) != 1)
			return 1;
		out[i] = (uint8_t)x;
	}
	*len = n / 2;
	return 0;
}

/* op 'g' print, 'p' put hex, 'd' delete; which: 'k' kv, 'd' dirent,
 * 'o' orphan. key: the kv key, or parent + name, or ino. */
static int cmd_raw(int op, int which, const char *dir, const char *a, const char *b,
		   const char *hex)
{
	uint8_t kb[8 + 512], vb[8192];
	MDB_val k, v;
	MDB_dbi dbi;
	uint64_t id;
	size_t vlen = 0;
	struct db d;
	int rc;

	if (which == 'k') {
		k = (MDB_val){ strlen(a), (void *)a };
	} else {
		size_t nl = b ? strlen(b) : 0;
		if (parse_u64(a, &id) || nl > 255) {
			fprintf(stderr, "tamper: bad arguments\n");
			return 2;
		}
		put_be64(kb, id);
		memcpy(kb + 8, b, nl);
		k = (MDB_val){ 8 + nl, kb };
	}
	if (op == 'p' && unhex(hex, vb, sizeof(vb), &vlen)) {
		fprintf(stderr, "tamper: bad hex value\n");
		return 2;
	}
	if (db_open(&d, dir, op == 'g'))
		return 1;
	dbi = which == 'k' ? d.kv : which == 'd' ? d.dirents : d.orphans;
	if (op == 'g') {
		rc = mdb_get(d.txn, dbi, &k, &v);
		if (!rc) {
			for (size_t i = 0; i < v.mv_size; i++)
				printf("%02x", ((uint8_t *)v.mv_data)[i]);
			printf("\n");
		}
		db_close(&d);
	} else {
		v = (MDB_val){ vlen, vb };
		rc = op == 'p' ? mdb_put(d.txn, dbi, &k, &v, 0) : mdb_del(d.txn, dbi, &k, NULL);
		if (rc)
			db_close(&d);
		else
			rc = db_commit(&d);
	}
	if (rc) {
		fprintf(stderr, "tamper: record %s%s%s: %s\n", a, b ? "/" : "", b ? b : "",
			mdb_strerror(rc));
		return 1;
	}
	return 0;
}

/* Any sub-database by name, key and value in hex (the state digest's
 * tests: a node record, a due entry). op 'g' print, 'p' put, 'd' delete. */
static int cmd_any(int op, const char *dir, const char *dbname, const char *khex,
		   const char *vhex)
{
	uint8_t kb[512], vb[8192];
	size_t kl = 0, vl = 0;
	MDB_val k, v;
	MDB_dbi dbi;
	struct db d;
	int rc;

	if (unhex(khex, kb, sizeof(kb), &kl) || (op == 'p' && unhex(vhex, vb, sizeof(vb), &vl))) {
		fprintf(stderr, "tamper: bad hex\n");
		return 2;
	}
	if (db_open(&d, dir, op == 'g'))
		return 1;
	rc = mdb_dbi_open(d.txn, dbname, 0, &dbi);
	k = (MDB_val){ kl, kb };
	if (!rc && op == 'g') {
		rc = mdb_get(d.txn, dbi, &k, &v);
		if (!rc) {
			for (size_t i = 0; i < v.mv_size; i++)
				printf("%02x", ((uint8_t *)v.mv_data)[i]);
			printf("\n");
		}
		db_close(&d);
	} else if (!rc) {
		v = (MDB_val){ vl, vb };
		rc = op == 'p' ? mdb_put(d.txn, dbi, &k, &v, 0) : mdb_del(d.txn, dbi, &k, NULL);
		if (rc)
			db_close(&d);
		else
			rc = db_commit(&d);
	} else {
		db_close(&d);
	}
	if (rc) {
		fprintf(stderr, "tamper: %s/%s: %s\n", dbname, khex, mdb_strerror(rc));
		return 1;
	}
	return 0;
}

/* Every record of a sub-database: "KEYHEX VALUEHEX" lines. */
static int cmd_list(const char *dir, const char *dbname)
{
	MDB_cursor *c = NULL;
	MDB_val k, v;
	MDB_dbi dbi;
	struct db d;
	int rc;

	if (db_open(&d, dir, 1))
		return 1;
	rc = mdb_dbi_open(d.txn, dbname, 0, &dbi);
	if (!rc)
		rc = mdb_cursor_open(d.txn, dbi, &c);
	while (!rc && !(rc = mdb_cursor_get(c, &k, &v, MDB_NEXT))) {
		for (size_t i = 0; i < k.mv_size; i++)
			printf("%02x", ((uint8_t *)k.mv_data)[i]);
		printf(" ");
		for (size_t i = 0; i < v.mv_size; i++)
			printf("%02x", ((uint8_t *)v.mv_data)[i]);
		printf("\n");
	}
	if (c)
		mdb_cursor_close(c);
	db_close(&d);
	if (rc != MDB_NOTFOUND) {
		fprintf(stderr, "tamper: %s: %s\n", dbname, mdb_strerror(rc));
		return 1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 4 && !strcmp(argv[1], "xlist"))
		return cmd_list(argv[2], argv[3]);
	if (argc == 5 && !strcmp(argv[1], "xget"))
		return cmd_any('g', argv[2], argv[3], argv[4], NULL);
	if (argc == 6 && !strcmp(argv[1], "xput"))
		return cmd_any('p', argv[2], argv[3], argv[4], argv[5]);
	if (argc == 5 && !strcmp(argv[1], "xdel"))
		return cmd_any('d', argv[2], argv[3], argv[4], NULL);
	if (argc == 4 && !strcmp(argv[1], "kvget"))
		return cmd_raw('g', 'k', argv[2], argv[3], NULL, NULL);
	if (argc == 5 && !strcmp(argv[1], "kvput"))
		return cmd_raw('p', 'k', argv[2], argv[3], NULL, argv[4]);
	if (argc == 5 && !strcmp(argv[1], "dget"))
		return cmd_raw('g', 'd', argv[2], argv[3], argv[4], NULL);
	if (argc == 6 && !strcmp(argv[1], "dput"))
		return cmd_raw('p', 'd', argv[2], argv[3], argv[4], argv[5]);
	if (argc == 5 && !strcmp(argv[1], "ddel"))
		return cmd_raw('d', 'd', argv[2], argv[3], argv[4], NULL);
	if (argc == 5 && !strcmp(argv[1], "oput"))
		return cmd_raw('p', 'o', argv[2], argv[3], NULL, argv[4]);
	if (argc == 5 && !strcmp(argv[1], "xor"))
		return cmd_xor(argv[2], argv[3], argv[4]);
	if (argc == 7 && !strcmp(argv[1], "swap"))
		return cmd_swap(argv + 2);
	if (argc == 5 && !strcmp(argv[1], "zero"))
		return cmd_zero(argv[2], argv[3], argv[4]);
	if (argc == 3 && !strcmp(argv[1], "map"))
		return cmd_map(argv[2]);
	if (argc == 7 && !strcmp(argv[1], "flip"))
		return cmd_flip(argv[2], argv[3], argv[4], argv[5], argv[6]);
	if (argc == 5 && !strcmp(argv[1], "get"))
		return cmd_get(argv[2], argv[3], argv[4]);
	if (argc == 5 && !strcmp(argv[1], "iget"))
		return cmd_inline('g', argv[2], argv[3], argv[4]);
	if (argc == 5 && !strcmp(argv[1], "iput"))
		return cmd_inline('p', argv[2], argv[3], argv[4]);
	if (argc == 4 && !strcmp(argv[1], "idel"))
		return cmd_inline('d', argv[2], argv[3], NULL);
	fprintf(stderr, "usage: tamper map METADIR | flip METADIR INO FIELD BYTE XOR |"
		" get METADIR INO FIELD |\n"
		"       iget METADIR INO FILE | iput METADIR INO FILE | idel METADIR INO |\n"
		"       xor FILE OFF XOR | swap FILE1 OFF1 FILE2 OFF2 LEN | zero FILE OFF LEN |\n"
		"       kvget METADIR KEY | kvput METADIR KEY HEX | dget METADIR PARENT NAME |\n"
		"       dput METADIR PARENT NAME HEX | ddel METADIR PARENT NAME |\n"
		"       oput METADIR INO HEX | xget METADIR DB KEYHEX |\n"
		"       xput METADIR DB KEYHEX HEX | xdel METADIR DB KEYHEX | xlist METADIR DB\n");
	return 2;
}
