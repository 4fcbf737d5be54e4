'use strict';

// Preloaded into a chat server by scripts/chaos (`node -r fault.js server.js`): SIGUSR2 turns
// on a mode in which the server answers every new request and WebSocket upgrade with a 500,
// /health included, as an application whose dependency broke would; SIGUSR1 is Node's inspector,
// so a second SIGUSR2 turns the mode off. Connections already upgraded keep working.

const http = require('http');

let failing = false;
process.on('SIGUSR2', () => {
  failing = !failing;
  console.log(`fault: answering 500s ${failing ? 'on' : 'off'}`);
});

const emit = http.Server.prototype.emit;
http.Server.prototype.emit = function emitUnlessFailing(event, ...args) {
  if (failing && event === 'request') {
    const res = args[1];
    res.writeHead(500, { 'content-type': 'text/plain', 'cache-control': 'no-store' });
    res.end('fault injected by scripts/chaos\n');
    return true;
  }
  if (failing && event === 'upgrade') {
    const socket = args[1];
    socket.end('HTTP/1.1 500 Internal Server Error\r\ncontent-length: 0\r\nconnection: close\r\n\r\n');
    return true;
  }
  return emit.call(this, event, ...args);
};
