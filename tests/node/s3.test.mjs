// The S3 endpoint with the AWS SDK for JavaScript v3 (@aws-sdk/client-s3),
// run by tests/integration/test_s3_node.sh with `node --test`.
// Environment: S3_ENDPOINT (http://127.0.0.1:PORT), S3_KEY, S3_SECRET, S3_MOUNT.
//
// The SDK talks to a small TCP relay in this process, which keeps the
// request heads it forwards: the tests check on the wire that the SDK's
// defaults were really used (CRC32 checksums; aws-chunked with a trailing
// checksum for a stream body), not only that the calls succeeded.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import { execFileSync } from 'node:child_process';
import {
	S3Client, CreateBucketCommand, PutObjectCommand, GetObjectCommand, HeadObjectCommand,
	ListObjectsV2Command, DeleteObjectsCommand, DeleteObjectCommand,
} from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';

const END = new URL(process.env.S3_ENDPOINT);
const MNT = process.env.S3_MOUNT;
const BUCKET = 'node-' + crypto.randomBytes(4).toString('hex');

let relay, relayPort;
const heads = [];   // request heads (text up to the blank line) seen by the relay

function startRelay() {
	return new Promise((resolve) => {
		relay = net.createServer((c) => {
			const up = net.connect(Number(END.port), END.hostname);
			let buf = Buffer.alloc(0), bodyLeft = 0, chunked = false;
			// Record each request head on this connection (keep-alive:
			// several). Bodies are skipped by Content-Length; a chunked
			// body is scanned for its terminating 0-size chunk.
			c.on('data', (d) => {
				up.write(d);
				buf = Buffer.concat([buf, d]);
				for (;;) {
					if (bodyLeft > 0) {
						const k = Math.min(bodyLeft, buf.length);
						buf = buf.subarray(k);
						bodyLeft -= k;
						if (bodyLeft > 0)
							return;
					}
					if (chunked) {
						const end = buf.indexOf('\r\n0\r\n');
						const end2 = buf.indexOf('\r\n\r\n', end + 5);
						if (end < 0 || end2 < 0) {
							if (buf.length > 1 << 20)
								buf = buf.subarray(buf.length - 1024);
							return;
						}
						buf = buf.subarray(end2 + 4);
						chunked = false;
					}
					const e = buf.indexOf('\r\n\r\n');
					if (e < 0)
						return;
					const head = buf.subarray(0, e).toString('latin1');
					heads.push(head);
					buf = buf.subarray(e + 4);
					const cl = /\r\ncontent-length:\s*(\d+)/i.exec(head);
					chunked = /\r\ntransfer-encoding:\s*chunked/i.test(head);
					bodyLeft = cl && !chunked ? Number(cl[1]) : 0;
				}
			});
			up.on('data', (d) => c.write(d));
			c.on('end', () => up.end());
			up.on('end', () => c.end());
			c.on('error', () => up.destroy());
			up.on('error', () => c.destroy());
		});
		relay.listen(0, '127.0.0.1', () => {
			relayPort = relay.address().port;
			resolve();
		});
	});
}

function client(secret = process.env.S3_SECRET) {
	return new S3Client({
		endpoint: `http://127.0.0.1:${relayPort}`,
		region: 'us-east-1',
		forcePathStyle: true,
		credentials: { accessKeyId: process.env.S3_KEY, secretAccessKey: secret },
		maxAttempts: 1,
	});
}

// The request head of the last request for this path and method.
function headFor(method, p) {
	for (let i = heads.length - 1; i >= 0; i--) {
		const first = heads[i].split('\r\n')[0];
		if (first.startsWith(method + ' ') && first.split(' ')[1].split('?')[0] === p)
			return heads[i];
	}
	return null;
}

function header(head, name) {
	const m = new RegExp('\r\n' + name + ':\\s*([^\r\n]*)', 'i').exec(head);
	return m ? m[1] : null;
}

const md5 = (b) => crypto.createHash('md5').update(b).digest('hex');
const readAll = async (body) => Buffer.from(await body.transformToByteArray());

let s3;
before(async () => {
	await startRelay();
	s3 = client();
	await s3.send(new CreateBucketCommand({ Bucket: BUCKET }));
});

after(() => {
	s3?.destroy();
	relay?.close();
});

test('the bucket is a directory in the mount', () => {
	assert.ok(fs.statSync(path.join(MNT, BUCKET)).isDirectory());
});

test('PutObject with a Buffer body: the default CRC32 checksum header', async () => {
	const data = crypto.randomBytes(70000);
	const r = await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'dir/buf.bin', Body: data }));
	assert.equal(r.ETag, `"${md5(data)}"`);
	const h = headFor('PUT', `/${BUCKET}/dir/buf.bin`);
	assert.ok(h, 'the relay saw the PUT');
	assert.ok(header(h, 'x-amz-checksum-crc32'), 'CRC32 sent: ' + h);
	assert.equal(header(h, 'content-encoding'), null, 'a Buffer body is not aws-chunked');
	assert.ok(fs.readFileSync(path.join(MNT, BUCKET, 'dir/buf.bin')).equals(data));
	const g = await s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: 'dir/buf.bin' }));
	assert.ok((await readAll(g.Body)).equals(data));
});

test('PutObject with a Readable stream body: aws-chunked with a trailing CRC32', async () => {
	const data = crypto.randomBytes(3 * 1024 * 1024 + 17);
	// several pieces, so that the body really is streamed in chunks
	const pieces = [];
	for (let o = 0; o < data.length; o += 100000)
		pieces.push(data.subarray(o, o + 100000));
	const r = await s3.send(new PutObjectCommand({
		Bucket: BUCKET, Key: 'dir/stream.bin', Body: Readable.from(pieces),
		ContentLength: data.length,
	}));
	assert.equal(r.ETag, `"${md5(data)}"`);
	const h = headFor('PUT', `/${BUCKET}/dir/stream.bin`);
	assert.ok(h, 'the relay saw the PUT');
	assert.match(header(h, 'content-encoding') || '', /aws-chunked/, h);
	assert.match(header(h, 'x-amz-trailer') || '', /x-amz-checksum-crc32/i, h);
	assert.equal(header(h, 'x-amz-decoded-content-length'), String(data.length), h);
	assert.match(header(h, 'x-amz-content-sha256') || '', /^STREAMING-/, h);
	// the server verified the trailer and says so
	assert.ok(r.ChecksumCRC32, 'the response carries the CRC32');
	assert.ok(fs.readFileSync(path.join(MNT, BUCKET, 'dir/stream.bin')).equals(data));
	const g = await s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: 'dir/stream.bin' }));
	assert.ok((await readAll(g.Body)).equals(data));
	const rg = await s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: 'dir/stream.bin',
		Range: 'bytes=1000-1999' }));
	assert.ok((await readAll(rg.Body)).equals(data.subarray(1000, 2000)));
});

test('an object written through the mount is read by the SDK', async () => {
	fs.writeFileSync(path.join(MNT, BUCKET, 'from-mount.txt'), 'written by the mount\n');
	const g = await s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: 'from-mount.txt' }));
	assert.equal(await g.Body.transformToString(), 'written by the mount\n');
});

test('HeadObject: size, ETag, metadata, content type', async () => {
	await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'meta.txt', Body: 'hello',
		ContentType: 'text/plain', Metadata: { colour: 'blue' } }));
	const h = await s3.send(new HeadObjectCommand({ Bucket: BUCKET, Key: 'meta.txt' }));
	assert.equal(h.ContentLength, 5);
	assert.equal(h.ETag, `"${md5('hello')}"`);
	assert.equal(h.ContentType, 'text/plain');
	assert.deepEqual(h.Metadata, { colour: 'blue' });
	await assert.rejects(s3.send(new HeadObjectCommand({ Bucket: BUCKET, Key: 'nope' })),
		(e) => e.$metadata.httpStatusCode === 404);
});

test('ListObjectsV2 with prefix and delimiter', async () => {
	for (const k of ['l/a', 'l/b/1', 'l/b/2', 'l/c/x/y', 'l/d'])
		await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: k, Body: 'x' }));
	const r = await s3.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: 'l/', Delimiter: '/' }));
	assert.deepEqual(r.Contents.map((o) => o.Key), ['l/a', 'l/d']);
	assert.deepEqual(r.CommonPrefixes.map((p) => p.Prefix), ['l/b/', 'l/c/']);
	assert.equal(r.KeyCount, 4);
	const all = [];
	let token;
	do {
		const p = await s3.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: 'l/',
			MaxKeys: 2, ContinuationToken: token }));
		all.push(...(p.Contents || []).map((o) => o.Key));
		token = p.NextContinuationToken;
	} while (token);
	assert.deepEqual(all, ['l/a', 'l/b/1', 'l/b/2', 'l/c/x/y', 'l/d']);
});

test('DeleteObjects (the SDK sends a CRC32, no Content-MD5)', async () => {
	for (const k of ['del/1', 'del/2'])
		await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: k, Body: 'x' }));
	const r = await s3.send(new DeleteObjectsCommand({ Bucket: BUCKET, Delete: {
		Objects: [{ Key: 'del/1' }, { Key: 'del/2' }, { Key: 'del/never' }] } }));
	assert.deepEqual(r.Deleted.map((d) => d.Key).sort(), ['del/1', 'del/2', 'del/never']);
	assert.equal(r.Errors, undefined);
	const h = headFor('POST', `/${BUCKET}`) || headFor('POST', `/${BUCKET}/`);
	assert.ok(h && header(h, 'x-amz-checksum-crc32'), 'DeleteObjects carried a CRC32: ' + h);
	assert.ok(!fs.existsSync(path.join(MNT, BUCKET, 'del/1')));
});

test('a presigned GET URL works with fetch, and not once altered', async () => {
	await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'shared.txt', Body: 'presigned' }));
	const url = await getSignedUrl(s3, new GetObjectCommand({ Bucket: BUCKET, Key: 'shared.txt' }),
		{ expiresIn: 300 });
	assert.match(url, /X-Amz-Signature=/);
	let r = await fetch(url);
	assert.equal(r.status, 200);
	assert.equal(await r.text(), 'presigned');
	r = await fetch(url.replace('shared.txt', 'meta.txt'));
	assert.equal(r.status, 403);
	assert.match(await r.text(), /SignatureDoesNotMatch/);
});

test('a wrong secret: 403 SignatureDoesNotMatch', async () => {
	const bad = client('x'.repeat(40));
	await assert.rejects(bad.send(new ListObjectsV2Command({ Bucket: BUCKET })),
		(e) => e.name === 'SignatureDoesNotMatch' && e.$metadata.httpStatusCode === 403);
	bad.destroy();
});

test('a wrong ChecksumCRC32: refused, nothing stored', async () => {
	await assert.rejects(s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'badsum',
		Body: 'some bytes', ChecksumCRC32: 'AAAAAA==' })),
		(e) => ['BadDigest', 'InvalidDigest'].includes(e.name) && e.$metadata.httpStatusCode === 400);
	const h = headFor('PUT', `/${BUCKET}/badsum`);
	assert.equal(header(h, 'x-amz-checksum-crc32'), 'AAAAAA==');
	assert.ok(!fs.existsSync(path.join(MNT, BUCKET, 'badsum')));
	await assert.rejects(s3.send(new HeadObjectCommand({ Bucket: BUCKET, Key: 'badsum' })),
		(e) => e.$metadata.httpStatusCode === 404);
});

test('a lock set through the mount: DeleteObject 403, the object intact', async () => {
	await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'locked', Body: 'keep me' }));
	execFileSync('setfattr', ['-n', 'user.worm.retention', '-v', 'GOVERNANCE +1d',
		path.join(MNT, BUCKET, 'locked')]);
	await assert.rejects(s3.send(new DeleteObjectCommand({ Bucket: BUCKET, Key: 'locked' })),
		(e) => e.name === 'AccessDenied' && e.$metadata.httpStatusCode === 403);
	await assert.rejects(s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'locked', Body: 'x' })),
		(e) => e.$metadata.httpStatusCode === 403);
	const g = await s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: 'locked' }));
	assert.equal(await g.Body.transformToString(), 'keep me');
});
