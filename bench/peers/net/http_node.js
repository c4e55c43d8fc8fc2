// HTTP/1.1 hello-world server on Node's http module (full request parsing, keep-alive).
//
// usage: /usr/bin/node http_node.js PORT   (binds 127.0.0.1:PORT, prints READY, runs until killed)
'use strict';
const http = require('http');

const port = Number(process.argv[2]);
const headers = { 'Content-Type': 'text/plain', 'Content-Length': 13 };
const server = http.createServer({ noDelay: true }, (req, res) => {
  res.writeHead(200, headers);
  res.end('Hello, World!');
});
server.listen(port, '127.0.0.1', () => console.log('READY', port));
