'use strict';
// WebSocket echo backend for scripts/bench: echoes every message back on the same connection.
// Usage: node ws-echo.js PORT [HOST]
const { WebSocketServer } = require('ws');

const port = Number(process.argv[2]);
const host = process.argv[3] || '127.0.0.1';
if (!Number.isInteger(port) || port <= 0) {
  console.error(`ws-echo: PORT must be a positive integer, got ${process.argv[2]}`);
  process.exit(2);
}

const wss = new WebSocketServer({ host, port, backlog: 4096, perMessageDeflate: false, clientTracking: false });
wss.on('connection', (ws) => {
  ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
  ws.on('error', () => ws.terminate());
});
wss.on('listening', () => console.log(`ws-echo listening on ${host}:${port}`));
wss.on('error', (e) => {
  console.error(`ws-echo: ${e.message}`);
  process.exit(1);
});
for (const sig of ['SIGTERM', 'SIGINT']) process.on(sig, () => process.exit(0));
