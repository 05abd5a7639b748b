/* s3_error: S3 error codes and statuses, and the map from ns's -errno
 * (AWS's API reference, "Error responses"; the 409 key cases and
 * ServiceUnavailable for a full disk are ours, see docs). Pure. */
#include <errno.h>
#include "s3.h"

static const struct s3_error errs[S3E__COUNT] = {
	[S3E_ACCESS_DENIED] = { 403, "AccessDenied", "Access Denied" },
	[S3E_NO_SUCH_BUCKET] = { 404, "NoSuchBucket", "The specified bucket does not exist" },
	[S3E_NO_SUCH_KEY] = { 404, "NoSuchKey", "The specified key does not exist." },
	[S3E_BUCKET_EXISTS] = { 409, "BucketAlreadyOwnedByYou",
		"The bucket you tried to create already exists" },
	[S3E_BUCKET_NOT_EMPTY] = { 409, "BucketNotEmpty",
		"The bucket you tried to delete is not empty" },
	[S3E_INVALID_BUCKET_NAME] = { 400, "InvalidBucketName",
		"The specified bucket is not valid." },
	[S3E_INVALID_ARGUMENT] = { 400, "InvalidArgument", "Invalid Argument" },
	[S3E_INVALID_REQUEST] = { 400, "InvalidRequest", "Invalid Request" },
	[S3E_MALFORMED_XML] = { 400, "MalformedXML",
		"The XML you provided was not well-formed or did not validate against our published schema" },
	[S3E_NOT_IMPLEMENTED] = { 501, "NotImplemented",
		"A header or query you provided implies functionality that is not implemented" },
	[S3E_METHOD_NOT_ALLOWED] = { 405, "MethodNotAllowed",
		"The specified method is not allowed against this resource." },
	[S3E_INTERNAL] = { 500, "InternalError",
		"We encountered an internal error. Please try again." },
	[S3E_SLOW_DOWN] = { 503, "SlowDown", "Please reduce your request rate." },
	[S3E_INVALID_RANGE] = { 416, "InvalidRange", "The requested range is not satisfiable" },
	[S3E_PRECONDITION_FAILED] = { 412, "PreconditionFailed",
		"At least one of the pre-conditions you specified did not hold" },
	[S3E_NOT_MODIFIED] = { 304, "NotModified", "Not Modified" },
	[S3E_KEY_TOO_LONG] = { 400, "KeyTooLongError", "Your key is too long" },
	[S3E_ENTITY_TOO_LARGE] = { 400, "EntityTooLarge",
		"Your proposed upload exceeds the maximum allowed size" },
	[S3E_MISSING_LENGTH] = { 411, "MissingContentLength",
		"You must provide the Content-Length HTTP header." },
	[S3E_INCOMPLETE_BODY] = { 400, "IncompleteBody",
		"You did not provide the number of bytes specified by the Content-Length HTTP header" },
	[S3E_PARENT_IS_OBJECT] = { 409, "ParentIsObject",
		"A prefix of this key is an object, so no object can have this key (wormfs: keys are paths)" },
	[S3E_KEY_IS_DIRECTORY] = { 409, "KeyIsDirectory",
		"This key names a directory (a prefix of other keys), not an object (wormfs: keys are paths)" },
	[S3E_INVALID_DIGEST] = { 400, "InvalidDigest",
		"The Content-MD5 you specified was invalid." },
	[S3E_BAD_DIGEST] = { 400, "BadDigest",
		"The Content-MD5 you specified did not match what we received." },
	[S3E_SERVICE_UNAVAILABLE] = { 503, "ServiceUnavailable",
		"The store is out of space or temporarily unable to serve the request" },
	[S3E_INVALID_ACCESS_KEY] = { 403, "InvalidAccessKeyId",
		"The AWS Access Key Id you provided does not exist in our records." },
	[S3E_SIGNATURE_MISMATCH] = { 403, "SignatureDoesNotMatch",
		"The request signature we calculated does not match the signature you provided." },
	[S3E_NO_SUCH_UPLOAD] = { 404, "NoSuchUpload",
		"The specified upload does not exist. The upload ID may be invalid, or the upload "
		"may have been aborted or completed." },
	[S3E_INVALID_PART] = { 400, "InvalidPart",
		"One or more of the specified parts could not be found. The part may not have been "
		"uploaded, or the specified entity tag may not match the part's entity tag." },
	[S3E_INVALID_PART_ORDER] = { 400, "InvalidPartOrder",
		"The list of parts was not in ascending order. Parts must be ordered by part number." },
	[S3E_ENTITY_TOO_SMALL] = { 400, "EntityTooSmall",
		"Your proposed upload is smaller than the minimum allowed object size." },
	[S3E_OPERATION_ABORTED] = { 409, "OperationAborted",
		"A conflicting conditional operation is currently in progress against this "
		"resource. Try again." },
	[S3E_CONDITIONAL_CONFLICT] = { 409, "ConditionalRequestConflict",
		"A conflicting operation occurred during the conditional write (the object it "
		"was checked against was deleted). Try again." },
};

const struct s3_error *s3_error_get(enum s3_err e)
{
	if ((unsigned)e >= S3E__COUNT)
		e = S3E_INTERNAL;
	return &errs[e];
}

const struct s3_error *s3_error_from_errno(int err, enum s3_err notfound)
{
	static const struct s3_error busy = { 409, "OperationAborted",
		"A conflicting operation is in progress on this object (a writer is open)" };
	static const struct s3_error tampered = { 500, "InternalError",
		"The object or its record fails authentication (see the server log)" };

	switch (err) {
	case -ENOENT:
		return s3_error_get(notfound);
	case -EPERM:
	case -EACCES:
	case -EROFS:
		return s3_error_get(S3E_ACCESS_DENIED);
	case -EAGAIN:
		return s3_error_get(S3E_SLOW_DOWN);
	case -ENOSPC:
	case -EDQUOT:
	case -EMFILE:
	case -ENFILE:
		return s3_error_get(S3E_SERVICE_UNAVAILABLE);
	case -EBUSY:
		return &busy;
	case -EINVAL:
		return s3_error_get(S3E_INVALID_ARGUMENT);
	case -ENAMETOOLONG:
		return s3_error_get(S3E_KEY_TOO_LONG);
	case -ENOTDIR:
		return s3_error_get(S3E_PARENT_IS_OBJECT);
	case -EISDIR:
		return s3_error_get(S3E_KEY_IS_DIRECTORY);
	case -ENOTEMPTY:
		return s3_error_get(S3E_BUCKET_NOT_EMPTY);
	case -EEXIST:
		return s3_error_get(S3E_BUCKET_EXISTS);
	case -EFBIG:
		return s3_error_get(S3E_ENTITY_TOO_LARGE);
	case -EIO:
		return &tampered;
	default:
		return s3_error_get(S3E_INTERNAL);
	}
}
