'use strict';

// A Socket.IO chat that runs as several servers sharing one Redis: a message sent to any server
// reaches every client on every server. Fulcrum's demo app, and the backend its tests balance.

const fs = require('fs');
const http = require('http');
const path = require('path');
const { Server } = require('socket.io');
const { createAdapter } = require('@socket.io/redis-adapter');
const { createClient } = require('redis');

const PORT = Number(process.env.PORT || 3000);
const HOST = process.env.HOST || '127.0.0.1';
const REDIS_URL = process.env.REDIS_URL || 'redis://127.0.0.1:6379';
const SERVER_ID = process.env.SERVER_ID || `chat-${PORT}`;
// Engine.IO's heartbeat; tests shorten it to see a whole ping cycle in seconds (defaults: Socket.IO's).
const PING_INTERVAL = Number(process.env.PING_INTERVAL || 25000);
const PING_TIMEOUT = Number(process.env.PING_TIMEOUT || 20000);

const INDEX_HTML = path.join(__dirname, 'public', 'index.html');

function handleHttp(req, res) {
  const url = new URL(req.url, 'http://localhost');
  if (req.method === 'GET' && url.pathname === '/health') {
    const body = JSON.stringify({ status: 'ok', server: SERVER_ID });
    res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store' });
    res.end(body);
    return;
  }
  if (req.method === 'GET' && (url.pathname === '/' || url.pathname === '/index.html')) {
    fs.readFile(INDEX_HTML, (err, html) => {
      if (err) {
        res.writeHead(500, { 'content-type': 'text/plain' });
        res.end('index.html not readable\n');
        return;
      }
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
      res.end(html);
    });
    return;
  }
  res.writeHead(404, { 'content-type': 'text/plain' });
  res.end('not found\n');
}

function onConnection(io, socket) {
  socket.emit('welcome', { server: SERVER_ID, id: socket.id });
  socket.on('chat', (payload) => {
    const body = payload !== null && typeof payload === 'object' && !Array.isArray(payload)
      ? payload
      : { text: payload };
    io.emit('chat', { ...body, server: SERVER_ID });
  });
  socket.on('whoami', (ack) => {
    if (typeof ack === 'function') {
      ack({ server: SERVER_ID });
    }
  });
}

async function main() {
  const pubClient = createClient({ url: REDIS_URL });
  const subClient = pubClient.duplicate();
  // Without a listener an 'error' event (Redis restarting) would crash the process.
  pubClient.on('error', (err) => console.error(`${SERVER_ID} redis pub: ${err.message}`));
  subClient.on('error', (err) => console.error(`${SERVER_ID} redis sub: ${err.message}`));
  await Promise.all([pubClient.connect(), subClient.connect()]);

  // Socket.IO's handler is attached after ours, so only the paths it does not claim reach us.
  const httpServer = http.createServer(handleHttp);
  const io = new Server(httpServer, {
    adapter: createAdapter(pubClient, subClient),
    allowEIO3: true,
    pingInterval: PING_INTERVAL,
    pingTimeout: PING_TIMEOUT,
    cors: { origin: true, credentials: true },
  });
  io.on('connection', (socket) => onConnection(io, socket));
  // One line per request Engine.IO turns away ("Session ID unknown" when a balancer sends a
  // session's request to the wrong server), for tests and operators to count.
  io.engine.on('connection_error', (err) => {
    const req = err.req || {};
    console.log(`${SERVER_ID} connection_error ${err.code} ${err.message}: ${req.method} ${req.url}`);
  });

  await new Promise((resolve, reject) => {
    httpServer.once('error', reject);
    httpServer.listen(PORT, HOST, resolve);
  });
  console.log(`listening on ${HOST}:${PORT} as ${SERVER_ID}`);

  let stopping = false;
  const stop = (signal) => {
    if (stopping) {
      return;
    }
    stopping = true;
    console.log(`${SERVER_ID} stopping on ${signal}`);
    // A client still connected must not hold the process open past a bounded grace.
    setTimeout(() => process.exit(0), 3000).unref();
    io.close(() => {
      Promise.allSettled([pubClient.quit(), subClient.quit()]).then(() => process.exit(0));
    });
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

main().catch((err) => {
  console.error(`${SERVER_ID} failed to start: ${err.stack || err}`);
  process.exit(1);
});
