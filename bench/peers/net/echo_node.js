// TCP echo server on Node's net module: socket.pipe(socket) (pipe handles backpressure).
//
// usage: /usr/bin/node echo_node.js PORT   (binds 127.0.0.1:PORT, prints READY, runs until killed)
'use strict';
const net = require('net');

const port = Number(process.argv[2]);
const server = net.createServer({ noDelay: true }, (socket) => {
  socket.on('error', () => {});
  socket.pipe(socket);
});
server.listen(port, '127.0.0.1', () => console.log('READY', port));
