/* sigv4 internals shared by src/sigv4_*.c only. */
#ifndef WORMFS_SIGV4_PRIV_H
#define WORMFS_SIGV4_PRIV_H

#include <stddef.h>
#include <stdint.h>

#include "sigv4.h"

/* Lowercase hex SHA-256 of the empty string (chunk string-to-sign). */
#define SV4_EMPTY_SHA256 "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
#define SV4_ALGORITHM "AWS4-HMAC-SHA256"

/* Fill e and return rc (a negative errno). */
static inline int sv4_fail(struct sigv4_error *e, int rc, int status, const char *code,
			   const char *message)
{
	if (e) {
		e->status = status;
		e->code = code;
		e->message = message;
	}
	return rc;
}

/* sigv4_canon.c */
/* The value of header lname (lowercase) with blanks trimmed at both ends:
 * a pointer into the request and its length; NULL if absent. count gets
 * how many times it was sent (NULL ok). */
const char *sv4_header(const struct sigv4_request *req, const char *lname, size_t *len,
		       size_t *count);
/* Case-insensitive ASCII comparison of a[0..alen) with the NUL-terminated
 * lowercase b: 1 if equal. */
int sv4_name_eq(const char *a, size_t alen, const char *b);
/* kSigning = HMAC chain over "AWS4"+secret, date, region, service,
 * "aws4_request", into work[0..32). work: the caller's secure memory of
 * SV4_KEY_WORK(secret_len) bytes (one allocation per request: secure
 * memory costs system calls); the rest of it is wiped here. */
#define SV4_KEY_WORK(secret_len) (32 + 32 + 4 + (secret_len))
void sv4_signing_key(uint8_t *work, const uint8_t *secret, size_t secret_len,
		     const struct sigv4_auth *a);
/* The signature of the request under a signing key (32 bytes). -ENOMEM. */
int sv4_signature_key(const struct sigv4_request *req, const struct sigv4_auth *auth,
		      const uint8_t key[32], uint8_t sig[32]);
/* The 32 key bytes of a derived key. */
const uint8_t *sv4_key_bytes(const sigv4_key *k);
/* HMAC-SHA256(key, ALG "\n" amz_date "\n" scope "\n" prev_hex "\n" rest)
 * for chunk ("AWS4-HMAC-SHA256-PAYLOAD") and trailer
 * ("AWS4-HMAC-SHA256-TRAILER") signatures; rest is the part after the
 * previous signature (already joined by the caller). */
int sv4_chain_signature(uint8_t sig[32], const uint8_t key[32], const char *alg,
			const struct sigv4_auth *a, const uint8_t prev[32], const char *rest);

/* sigv4_chunked.c: the aws-chunked framing decoder. */
struct sv4_chunked;
typedef int (*sv4_emit)(void *arg, const void *data, size_t len);
/* mode: SIGV4_PAYLOAD_STREAMING, _STREAMING_TRAILER or _UNSIGNED_TRAILER.
 * key: for the signed modes, secure memory holding the signing key in its
 * first 32 bytes, owned by the decoder from here on (freed with it, also
 * when this fails); else NULL. The trailer name is a->trailer. NULL on
 * ENOMEM. */
struct sv4_chunked *sv4_chunked_new(int mode, uint8_t *key, const struct sigv4_auth *a);
void sv4_chunked_free(struct sv4_chunked *c);
/* As sigv4_body_feed; emit receives the payload. */
int sv4_chunked_feed(struct sv4_chunked *c, const uint8_t *p, size_t n, sv4_emit emit,
		     void *arg, struct sigv4_error *e);
/* As sigv4_body_finish for the framing (IncompleteBody,
 * SignatureDoesNotMatch of a last trailer line without its newline). */
int sv4_chunked_finish(struct sv4_chunked *c, struct sigv4_error *e);
/* The announced trailer's value (trimmed, NUL-terminated) once seen, or
 * NULL. */
const char *sv4_chunked_trailer_value(const struct sv4_chunked *c);

#endif
