// Runs inside a test namespace: one HTTP GET, printed as JSON {status, type, body}
// ({error} when the connection fails).

import { get } from 'node:http';

const url = process.argv[2]!;
get(url, (res) => {
  let body = '';
  res.setEncoding('utf8');
  res.on('data', (d) => (body += d));
  res.on('end', () => console.log(JSON.stringify({ status: res.statusCode, type: res.headers['content-type'], body })));
}).on('error', (e) => console.log(JSON.stringify({ error: (e as NodeJS.ErrnoException).code ?? e.message })));
