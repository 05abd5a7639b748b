/* fuzz_obj: the content format (src/obj.c): header check, block decode
 * (open_block: generations, final flag, holes), the undo journal and
 * crash recovery, inline values. Random bytes never authenticate, so the
 * input is a program: real writes, truncates and commits with a real key
 * build a valid file, which the program then damages (flipped bytes, cut
 * file, raw bytes, a damaged journal, a lying record) and reads, verifies
 * and recovers. A model of the content is the oracle: while the program
 * has not made the record lie or damaged the journal, every read that
 * succeeds returns exactly the model's bytes, and with an undamaged file
 * every read and verify succeeds and a simulated kill recovers the
 * committed content. Any mismatch aborts (a finding). A replay of older
 * authentic bytes (a slot, the whole file or the block maps as they were
 * at an earlier commit, or before the last write of a session: an
 * earlier version of a block of the same generation, also of a session
 * killed since) keeps the model exact: a read may fail (EIO) but never
 * returns stale bytes. So does a session killed after obj_commit wrote its
 * commit record (before the caller recorded it): its file is the "mid"
 * copy, and the record the next session commits for the same generation
 * is the one the run keeps, as a node does (r.commit).
 *
 * Input: a sequence of ops, one byte each plus arguments (see run()). */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include "crypto.h"
#include "kms.h"
#include "obj.h"
#include "store.h"

#define CHECK(c) do { if (!(c)) { fprintf(stderr, "check failed: %s (line %d)\n", #c, __LINE__); abort(); } } while (0)

#define BS ((uint64_t)OBJ_BLOCK_SIZE)
#define MAXSZ (6 * BS)
#define MAXOPS 48
#define OP_REPLAY 0xF7
#define OP_KILLED_COMMIT 0xF6

static struct {
	char dir[256];
	store *s;
	kms *k;
	struct obj_ref tmpl;   /* id, alg, wrapped DEK of the one object */
	wcrypto_aead *key;
	uint8_t cur[MAXSZ], com[MAXSZ], buf[MAXSZ];
	/* The content file and block maps at the last two commits. */
	struct snap {
		uint8_t file[OBJ_HEADER_SIZE + 8 * OBJ_SLOT_SIZE];
		size_t flen;
		uint8_t map[2][4096];
		ssize_t mlen[2];   /* -1: none */
	} snap[2], mid;
	int nsnap, has_mid;   /* mid: before the last write of a session */
	int trace;   /* WORMFS_FUZZ_TRACE=1: print the program being run */
} G;

#define TRACE(...) do { if (G.trace) fprintf(stderr, __VA_ARGS__); } while (0)

static int rm_cb(const char *p, const struct stat *st, int flag, struct FTW *f)
{
	(void)st; (void)flag; (void)f;
	return remove(p);
}

static void cleanup(void)
{
	wcrypto_aead_free(G.key);   /* an OpenSSL context inside: not a leak */
	G.key = NULL;
	if (G.k)
		kms_close(G.k);
	if (G.s)
		store_close(G.s);
	if (G.dir[0])
		nftw(G.dir, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
}

/* WORMFS_FUZZ_TMP (test_fuzz.sh removes it even after a crash), else
 * /dev/shm (fast), else /tmp. */
static const char *tmp_base(void)
{
	const char *t = getenv("WORMFS_FUZZ_TMP");

	if (t && *t)
		return t;
	return access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char err[256], path[300], keys[400];
	struct kms_params p;

	(void)argc; (void)argv;
	G.trace = getenv("WORMFS_FUZZ_TRACE") != NULL;
	CHECK(wcrypto_init() == 0);
	snprintf(G.dir, sizeof(G.dir), "%s/wormfs-fuzz-obj.XXXXXX",
		 tmp_base());
	CHECK(mkdtemp(G.dir));
	atexit(cleanup);
	snprintf(path, sizeof(path), "%s/store", G.dir);
	CHECK(store_create(path, "# fuzz\n", err, sizeof(err)) == 0);
	CHECK(store_open(path, &G.s, err, sizeof(err)) == 0);
	CHECK(store_subpath(G.s, "keys", keys, sizeof(keys)) == 0);
	CHECK(kms_create(keys, NULL, 0) == 0);
	kms_params_default(&p);
	p.crypto_rate = p.crypto_burst = 10000000;
	p.throttle = KMS_THROTTLE_FAIL;
	CHECK(kms_open(keys, NULL, 0, &p, &G.k, err, sizeof(err)) == 0);
	CHECK(obj_key_new(G.k, 0, &G.tmpl, &G.key, 1) == 0);
	return 0;
}

struct in {
	const uint8_t *p;
	size_t n;
};

static uint8_t u8(struct in *in)
{
	if (!in->n)
		return 0;
	in->n--;
	return *in->p++;
}

static uint32_t u16(struct in *in)
{
	uint32_t v = u8(in);
	return v | (uint32_t)u8(in) << 8;
}

static uint32_t u32(struct in *in)
{
	uint32_t v = u16(in);
	return v | u16(in) << 16;
}

static uint64_t file_len(int fd)
{
	struct stat st;

	CHECK(fstat(fd, &st) == 0);
	return (uint64_t)st.st_size;
}

static void fill(uint8_t *p, size_t n, uint8_t seed)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)(seed + i * 31 + (i >> 8));
}

/* State of one run. exact: the record tells the truth and the journal is
 * as written, so a successful read must match the model. clean: also the
 * content file is as written, so nothing may fail. */
struct run {
	struct obj_ref r;
	uint64_t csize;
	int csparse;
	int fd;
	int exact, clean;
	int dirty;   /* a session has changed content since the commit */
	int ftamper; /* the content file was changed behind obj's back */
};

static const char *const map_sfx[2] = { OBJ_MAP_SUFFIX0, OBJ_MAP_SUFFIX1 };

/* Keep the file and maps as they are now into sn. */
static void snap_fill(struct snap *sn, int fd, const uint8_t id[16])
{
	ssize_t got = pread(fd, sn->file, sizeof(sn->file), 0);

	CHECK(got >= 0);
	sn->flen = (size_t)got;
	for (int i = 0; i < 2; i++) {
		int mfd;
		sn->mlen[i] = -1;
		if (store_aux_open(G.s, id, map_sfx[i], O_RDONLY, &mfd) == 0) {
			sn->mlen[i] = pread(mfd, sn->map[i], sizeof(sn->map[i]), 0);
			close(mfd);
		}
	}
}

/* After a commit. */
static void snap_take(int fd, const uint8_t id[16])
{
	snap_fill(&G.snap[G.nsnap++ % 2], fd, id);
}

/* Put older authentic bytes back: one slot, the whole file or the maps. */
static void snap_replay(int fd, const uint8_t id[16], struct in *in)
{
	uint8_t how = u8(in);
	const struct snap *sn;

	if (!G.nsnap)
		return;
	/* The last commit's, or (how >= 128) the one before it, or (how &
	 * 64) the copy taken within a session. */
	sn = &G.snap[(G.nsnap - 1 - (G.nsnap > 1 ? how >> 7 : 0)) % 2];
	if ((how & 64) && G.has_mid)
		sn = &G.mid;
	switch (how % 4) {
	case 0: { /* one slot */
		uint64_t b = u8(in) % 8, at = OBJ_HEADER_SIZE + b * OBJ_SLOT_SIZE;
		size_t n = OBJ_SLOT_SIZE;
		if (at >= sn->flen)
			return;
		if (n > sn->flen - at)
			n = sn->flen - at;
		TRACE("replay slot %llu (%zu bytes)\n", (unsigned long long)b, n);
		CHECK(pwrite(fd, sn->file + at, n, (off_t)at) == (ssize_t)n);
		break;
	}
	case 1:   /* the whole file */
		TRACE("replay the whole file (%zu bytes)\n", sn->flen);
		CHECK(ftruncate(fd, 0) == 0);
		CHECK(pwrite(fd, sn->file, sn->flen, 0) == (ssize_t)sn->flen);
		break;
	default:  /* the maps, or none (how % 4 == 3) */
		for (int i = 0; i < 2; i++) {
			int mfd;
			(void)store_aux_unlink(G.s, id, map_sfx[i]);
			if (how % 4 == 3 || sn->mlen[i] < 0)
				continue;
			CHECK(store_aux_open(G.s, id, map_sfx[i], O_WRONLY | O_CREAT, &mfd) == 0);
			CHECK(pwrite(mfd, sn->map[i], (size_t)sn->mlen[i], 0) == sn->mlen[i]);
			close(mfd);
		}
		TRACE("replay the maps%s\n", how % 4 == 3 ? " (removed)" : "");
		break;
	}
}

static void check_read(struct run *x, uint64_t off, size_t n)
{
	ssize_t got = obj_read(x->fd, &x->r, G.buf, n, off);
	size_t want = off >= x->r.size ? 0 : (n < x->r.size - off ? n : (size_t)(x->r.size - off));

	TRACE("  -> %zd\n", got);
	if (x->clean)
		CHECK(got >= 0);
	if (got < 0) {
		CHECK(got == -EIO);
		return;
	}
	if (x->exact) {
		if (G.trace && ((size_t)got != want || memcmp(G.buf, G.cur + off, want))) {
			size_t i = 0;
			while (i < want && G.buf[i] == G.cur[off + i])
				i++;
			fprintf(stderr, "read %llu+%zu: got %zd want %zu, first difference at %llu\n",
				(unsigned long long)off, n, got, want, (unsigned long long)(off + i));
		}
		CHECK((size_t)got == want);
		CHECK(memcmp(G.buf, G.cur + off, want) == 0);
	}
}

static void verify(struct run *x, int flags)
{
	struct obj_ref v = x->r;
	const char *what = NULL;
	uint64_t bad = 0;
	int rc;

	v.size = x->csize;
	v.sparse = x->csparse;
	v.key = NULL;
	rc = obj_verify_ex(G.s, G.k, &v, 1, flags, &what, &bad);
	TRACE("  verify size %llu gen %llu -> %d %s block %lld\n", (unsigned long long)v.size,
	      (unsigned long long)v.gen, rc, what, (long long)bad);
	CHECK(what != NULL);
	/* Committed blocks a session overwrote are checked from its journal:
	 * without one (offline tools) they fail while it is in flight. */
	if (x->clean && (!x->dirty || x->r.undo))
		CHECK(rc == 0);
	else
		CHECK(rc == 0 || rc == -EIO);
}

/* A kill of the daemon: the session's state is lost, the record says
 * the committed state, mount recovery runs. */
static void crash(struct run *x)
{
	unsigned rejected = 0;
	int changed = 0, rc;

	/* Without a journal (offline tools) committed blocks a session
	 * overwrote stay overwritten: nothing to compare with. */
	if (x->dirty && !x->r.undo)
		x->exact = x->clean = 0;
	x->dirty = 0;
	close(x->fd);
	obj_undo_free(x->r.undo);
	CHECK(obj_undo_new(G.s, &x->r.undo) == 0);
	x->r.size = x->csize;
	x->r.sparse = x->csparse;
	x->r.write_gen = x->r.gen + 1;
	memcpy(G.cur, G.com, sizeof(G.cur));
	rc = obj_recover(G.s, G.k, &x->r, 1, &changed, &rejected);
	TRACE("  recover -> %d changed %d rejected %u\n", rc, changed, rejected);
	if (x->clean)
		CHECK(rc == 0 && rejected == 0);
	/* A journal record that does not open (its committed block was
	 * damaged on disk before the session copied it) is not written back:
	 * the session's block of gen G+1 stays, but the committed state's map
	 * refuses it (EIO), so the model stays exact. */
	rc = obj_open(G.s, &x->r, O_RDWR, &x->fd);
	if (x->clean)
		CHECK(rc == 0);
	if (rc)
		CHECK(store_obj_open(G.s, x->r.id, O_RDWR, &x->fd) == 0);
	/* The map as a mount reads it; a damaged one: reads fail. */
	obj_map_free(x->r.map);
	x->r.map = NULL;
	rc = obj_map_load(G.s, x->fd, &x->r, &x->r.map);
	if (x->clean)
		CHECK(rc == 0);
	if (rc) {
		/* Only damage to a map of this generation gets here. */
		CHECK(rc == -EIO);
		CHECK(obj_map_new(&x->r.map) == 0);
		x->exact = 0;
	}
	if (x->clean)
		verify(x, 0);
}

static void inline_value(struct run *x, struct in *in)
{
	size_t n = u16(in) % (OBJ_INLINE_MAX + 1), len = obj_inline_len(n);
	uint8_t *slot = malloc(len), *plain = malloc(n + 1);
	uint8_t how = u8(in);
	struct obj_ref v = x->r;
	const char *what = NULL;
	int tampered = 0, rc;

	CHECK(slot && plain);
	if (!v.write_gen)      /* a lying record's gen + 1 wrapped around */
		v.write_gen = 1;
	v.gen = v.write_gen;   /* a value commits with its generation */
	v.size = n;
	fill(G.buf, n, how);
	CHECK(obj_inline_seal(&v, G.buf, n, slot) == 0);
	if (how & 1) {         /* a flipped byte */
		slot[u16(in) % len] ^= (uint8_t)(u8(in) | 1);
		tampered = 1;
	}
	if (how & 2) {         /* a record with another size or generation */
		if (how & 4)
			v.size = u16(in) % (OBJ_INLINE_MAX + 2);
		else
			v.gen = u8(in);
		tampered |= v.size != n || v.gen != v.write_gen;
	}
	rc = obj_inline_open(&v, slot, len, plain);
	CHECK(rc == 0 || rc == -EIO);
	if (!tampered) {
		CHECK(rc == 0);
		CHECK(memcmp(plain, G.buf, n) == 0);
	} else if (rc == 0) {
		CHECK(v.size == n && memcmp(plain, G.buf, n) == 0);
	}
	v.key = NULL;
	rc = obj_inline_verify(G.k, &v, slot, len, 1, &what);
	CHECK(what != NULL);
	CHECK(tampered ? (rc == 0 || rc == -EIO) : rc == 0);
	free(slot);
	free(plain);
}

static void run(struct in *in)
{
	struct run x;
	uint8_t flags = u8(in);
	int rc;

	memset(&x, 0, sizeof(x));
	x.r = G.tmpl;
	x.r.key = G.key;
	x.r.write_gen = 1;
	x.exact = x.clean = 1;
	memset(G.cur, 0, sizeof(G.cur));
	memset(G.com, 0, sizeof(G.com));
	(void)store_aux_unlink(G.s, x.r.id, OBJ_UNDO_SUFFIX);
	(void)store_aux_unlink(G.s, x.r.id, OBJ_MAP_SUFFIX0);
	(void)store_aux_unlink(G.s, x.r.id, OBJ_MAP_SUFFIX1);
	G.nsnap = 0;
	G.has_mid = 0;
	CHECK(obj_file_create(G.s, &x.r, 0, &x.fd) == 0);
	CHECK(obj_map_new(&x.r.map) == 0);
	snap_take(x.fd, x.r.id);
	if (!(flags & 1))
		CHECK(obj_undo_new(G.s, &x.r.undo) == 0);

	for (int ops = 0; in->n && ops < MAXOPS; ops++) {
		uint8_t op = u8(in);
		uint64_t off, size, len;
		uint8_t seed;
		ssize_t w;

		/* REPLAY is one byte value, so that the programs found before
		 * it (corpus found-*) keep their meaning. */
		switch (op == OP_REPLAY ? 14 : op == OP_KILLED_COMMIT ? 15 : op % 14) {
		case 0:   /* write */
			off = u16(in) % (4 * BS + 1);
			len = u16(in) % (2 * BS) + 1;
			seed = u8(in);
			fill(G.buf, len, seed);
			/* A session's earlier versions (same generation), kept
			 * when the seed's top bit says so. */
			if (x.dirty && (seed & 0x80)) {
				snap_fill(&G.mid, x.fd, x.r.id);
				G.has_mid = 1;
			}
			x.dirty = 1;
			w = obj_write(x.fd, &x.r, G.buf, len, off);
			TRACE("write %llu+%llu -> %zd (size %llu)\n", (unsigned long long)off,
			      (unsigned long long)len, w, (unsigned long long)x.r.size);
			if (x.clean)
				CHECK(w == (ssize_t)len);
			if (w == (ssize_t)len) {
				memcpy(G.cur + off, G.buf, len);
				CHECK(x.r.size >= off + len);
			} else {
				CHECK(w < 0);
				x.exact = x.clean = 0;   /* partly written */
			}
			break;
		case 1:   /* truncate */
			size = u16(in) % (MAXSZ + 1);
			x.dirty = 1;
			rc = obj_truncate(x.fd, &x.r, size);
			TRACE("truncate %llu -> %d\n", (unsigned long long)size, rc);
			if (x.clean)
				CHECK(rc == 0);
			if (!rc) {
				if (size < MAXSZ)
					memset(G.cur + size, 0, MAXSZ - size);
				CHECK(x.r.size == size);
			} else {
				x.exact = x.clean = 0;
			}
			break;
		case 2:   /* commit */
			rc = obj_commit(G.s, x.fd, &x.r, 0);
			TRACE("commit gen %llu size %llu -> %d\n", (unsigned long long)x.r.write_gen,
			      (unsigned long long)x.r.size, rc);
			if (x.clean)
				CHECK(rc == 0);
			if (rc) {
				x.exact = x.clean = 0;
				break;
			}
			rc = obj_settle(x.fd, &x.r);
			CHECK(rc == 0);
			/* As the node: which record of the generation committed. */
			memcpy(x.r.commit, x.r.wcommit, sizeof(x.r.commit));
			x.r.gen = x.r.write_gen++;
			x.r.csize = x.csize = x.r.size;
			x.csparse = x.r.sparse;
			x.dirty = 0;
			memcpy(G.com, G.cur, sizeof(G.com));
			snap_take(x.fd, x.r.id);
			break;
		case 3:   /* read */
			off = u16(in) % (MAXSZ + 1);
			len = u16(in) % (2 * BS + 1);
			TRACE("read %llu+%llu\n", (unsigned long long)off, (unsigned long long)len);
			check_read(&x, off, len);
			break;
		case 4: { /* flip a byte of the file */
			uint64_t fl = file_len(x.fd);
			uint64_t at = u32(in) % (fl ? fl : 1);
			uint8_t b = 0, m = (uint8_t)(u8(in) | 1);
			if (!fl)
				break;
			CHECK(pread(x.fd, &b, 1, (off_t)at) == 1);
			b ^= m;
			CHECK(pwrite(x.fd, &b, 1, (off_t)at) == 1);
			TRACE("flip file byte %llu\n", (unsigned long long)at);
			x.clean = 0;
			x.ftamper = 1;
			break;
		}
		case 5: { /* cut the file */
			uint64_t fl = file_len(x.fd), to = u32(in) % (fl + 1);
			TRACE("cut file %llu -> %llu\n", (unsigned long long)fl, (unsigned long long)to);
			CHECK(ftruncate(x.fd, (off_t)to) == 0);
			x.clean = 0;
			x.ftamper = 1;
			break;
		}
		case 6: { /* raw bytes from the input */
			TRACE("raw bytes\n");
			uint64_t at = u32(in) % (file_len(x.fd) + 1);
			size_t n = u8(in);
			if (n > in->n)
				n = in->n;
			CHECK(pwrite(x.fd, in->p, n, (off_t)at) == (ssize_t)n);
			in->p += n;
			in->n -= n;
			x.clean = 0;
			x.ftamper = 1;
			break;
		}
		case 7: { /* the record lies */
			TRACE("lie\n");
			uint8_t f = u8(in);
			if (f % 4 == 0)
				x.r.gen = x.r.gen + (f & 4 ? 1 : (uint64_t)-1);
			else if (f % 4 == 1)
				x.r.size = u32(in) % (MAXSZ + 2 * BS);
			else if (f % 4 == 2)
				x.r.sparse = !x.r.sparse;
			else
				x.r.write_gen = u8(in);
			x.exact = x.clean = 0;
			if (!x.r.write_gen)
				x.r.write_gen = 1;
			break;
		}
		case 8:   /* verify the committed state, writes in flight */
			TRACE("verify live\n");
			verify(&x, OBJ_VERIFY_LIVE);
			break;
		case 9:   /* kill and recover */
			TRACE("crash\n");
			crash(&x);
			break;
		case 10: { /* damage the undo journal */
			TRACE("journal damage\n");
			int jfd;
			if (store_aux_open(G.s, x.r.id, OBJ_UNDO_SUFFIX, O_RDWR, &jfd) == 0) {
				uint64_t jl = file_len(jfd);
				uint8_t b = 0, m = (uint8_t)(u8(in) | 1);
				uint64_t at = u32(in) % (jl + 1);
				if (m & 2)
					CHECK(ftruncate(jfd, (off_t)at) == 0);
				else if (at < jl && pread(jfd, &b, 1, (off_t)at) == 1) {
					b ^= m;
					CHECK(pwrite(jfd, &b, 1, (off_t)at) == 1);
				}
				close(jfd);
				x.exact = x.clean = 0;
			}
			break;
		}
		case 11:  /* reopen: header check */
			TRACE("reopen\n");
			close(x.fd);
			rc = obj_open(G.s, &x.r, O_RDWR, &x.fd);
			if (x.clean)
				CHECK(rc == 0);
			if (rc) {
				CHECK(rc == -EIO);
				CHECK(store_obj_open(G.s, x.r.id, O_RDWR, &x.fd) == 0);
			}
			break;
		case 12:
			TRACE("inline\n");
			inline_value(&x, in);
			break;
		case 13:  /* verify, nothing in flight */
			TRACE("verify%s\n", x.dirty ? " (skipped: dirty)" : "");
			if (!x.dirty)
				verify(&x, 0);
			break;
		case 14:  /* replay older authentic bytes */
			snap_replay(x.fd, x.r.id, in);
			x.clean = 0;
			x.ftamper = 1;
			break;
		case 15:  /* killed after the commit record, before the caller's commit */
			rc = obj_commit(G.s, x.fd, &x.r, 0);
			TRACE("killed commit gen %llu -> %d\n", (unsigned long long)x.r.write_gen, rc);
			if (x.clean)
				CHECK(rc == 0);
			if (!rc) {
				snap_fill(&G.mid, x.fd, x.r.id);
				G.has_mid = 1;
			}
			crash(&x);
			break;
		}
	}
	/* The end: a read of everything. */
	check_read(&x, 0, MAXSZ);
	close(x.fd);
	obj_map_free(x.r.map);
	obj_undo_free(x.r.undo);
	(void)store_aux_unlink(G.s, x.r.id, OBJ_UNDO_SUFFIX);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct in in = { data, size };

	run(&in);
	return 0;
}
