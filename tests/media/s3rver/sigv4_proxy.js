// A reverse proxy in front of s3rver that checks AWS Signature Version 4: s3rver 3.7.1
// accepts any well-formed SigV4 header from a known access key ID without computing the
// signature ("Signature version 4 calculation is unimplemented" in its
// middleware/authentication.js). Each request's signature is recomputed here with the
// aws4 package (an implementation independent of nebu's media/sigv4.cpp) over the headers
// the request says it signed; a mismatch answers 403 SignatureDoesNotMatch like S3, a
// match is forwarded to s3rver, bodies streamed both ways.
//
//   node sigv4_proxy.js --port 0 --upstream-port 4568 --access-key S3RVER --secret S3RVER
//   -> prints "sigv4 proxy listening on 127.0.0.1:PORT"
'use strict';
const http = require('http');
const aws4 = require('aws4');

const args = {};
for (let i = 2; i + 1 < process.argv.length; i += 2) args[process.argv[i].replace(/^--/, '')] = process.argv[i + 1];
const upstreamPort = Number(args['upstream-port']);
const authPattern =
  /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/s3\/aws4_request, ?SignedHeaders=([a-z0-9;-]+), ?Signature=([0-9a-f]{64})$/;

function refuse(req, res, code, message) {
  const body = `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code><Message>${message}</Message></Error>`;
  res.writeHead(403, { 'Content-Type': 'application/xml', 'Content-Length': Buffer.byteLength(body) });
  res.end(req.method === 'HEAD' ? undefined : body);
  req.resume();
}

function verify(req) {
  const m = authPattern.exec(req.headers.authorization || '');
  if (!m) return ['AccessDenied', 'missing or malformed SigV4 Authorization header'];
  const [, keyId, date, region, signedHeaders, signature] = m;
  if (keyId !== args['access-key']) return ['InvalidAccessKeyId', 'unknown access key id'];
  const names = signedHeaders.split(';');
  if (!names.includes('host') || !names.includes('x-amz-date')) return ['AccessDenied', 'host and x-amz-date must be signed'];
  if (!(req.headers['x-amz-date'] || '').startsWith(date)) return ['AccessDenied', 'x-amz-date does not match the credential date'];
  const headers = {};
  for (const name of names) headers[name] = req.headers[name] === undefined ? '' : req.headers[name];
  const signed = aws4.sign(
    { host: req.headers.host, path: req.url, method: req.method, service: 's3', region, headers },
    { accessKeyId: keyId, secretAccessKey: args.secret });
  const expected = /Signature=([0-9a-f]{64})/.exec(signed.headers.Authorization)[1];
  if (expected !== signature) {
    return ['SignatureDoesNotMatch', 'The request signature we calculated does not match the signature you provided.'];
  }
  return null;
}

const server = http.createServer((req, res) => {
  const error = verify(req);
  if (error) return refuse(req, res, error[0], error[1]);
  const upstream = http.request(
    { host: '127.0.0.1', port: upstreamPort, method: req.method, path: req.url, headers: req.headers },
    (answer) => {
      res.writeHead(answer.statusCode, answer.headers);
      answer.pipe(res);
    });
  upstream.on('error', () => {
    if (!res.headersSent) res.writeHead(502);
    res.destroy();
  });
  req.pipe(upstream);
});
server.listen(Number(args.port || 0), '127.0.0.1', () => {
  console.log('sigv4 proxy listening on 127.0.0.1:%d', server.address().port);
});
