'use strict';
// Holds --count Socket.IO sessions through a proxy, for the memory per session of scripts/bench:
// each client connects as a browser does (long-polling first, then the upgrade to WebSocket),
// keeps the cookies it is sent (as a browser does; HAProxy's and nginx's stickiness use them),
// and counts as held once it is connected on WebSocket. At most --concurrency sessions are being
// set up at once. Prints
//   SIO-OPEN opened=N errors=E secs=S servers=chat-1:n1,chat-2:n2 [error="..."]
// once every attempt has finished, then holds the sessions without traffic (Engine.IO's pings
// only) until SIGTERM or --max-seconds, and prints SIO-CLOSE disconnected_while_holding=D.
// With --churn each session is closed as soon as it is held and the next takes its place; it
// prints SIO-CHURN opened=N errors=E secs=S and exits.
const http = require('http');
const { io } = require('socket.io-client');

const a = { url: null, count: 2000, concurrency: 100, maxSeconds: 600, timeoutMs: 30000, churn: false };
const argv = process.argv.slice(2);
for (let i = 0; i < argv.length; i += 2) {
  const k = argv[i], v = argv[i + 1];
  if (k === '--churn') { a.churn = true; i--; continue; }
  if (k === '--url') a.url = v;
  else if (k === '--count') a.count = Number(v);
  else if (k === '--concurrency') a.concurrency = Number(v);
  else if (k === '--max-seconds') a.maxSeconds = Number(v);
  else if (k === '--timeout-ms') a.timeoutMs = Number(v);
  else { console.error(`sio-hold: unknown option ${k}`); process.exit(2); }
}
if (!a.url || !/^http:\/\/127\.\d+\.\d+\.\d+:\d+\/?$/.test(a.url)) {
  console.error('sio-hold: --url http://127.x.x.x:PORT is required (loopback only)');
  process.exit(2);
}

// One connection per polling request, closed after it (no agent keeps idle connections through
// the proxy): once upgraded, a session holds its WebSocket connection only.
const agent = new http.Agent({ keepAlive: false });
const t0 = Date.now();
const sockets = [];
const servers = {};
let next = 0, opened = 0, errors = 0, done = 0, holding = false, dropped = 0, lastError = '';

function openOne() {
  if (next >= a.count) return;
  next++;
  const socket = io(a.url, {
    transports: ['polling', 'websocket'],
    upgrade: true,
    // A cookie jar per session (engine.io-client keeps one in Node when asked for credentials).
    withCredentials: true,
    forceNew: true,
    reconnection: false,
    timeout: a.timeoutMs,
    agent,
  });
  let finished = false, server = null, connected = false, upgraded = false;
  const timer = setTimeout(() => finish(false, 'not connected on WebSocket in time'), a.timeoutMs);
  const finish = (ok, why) => {
    if (finished) return;
    finished = true;
    clearTimeout(timer);
    if (ok) {
      opened++;
      servers[server || '?'] = (servers[server || '?'] || 0) + 1;
    } else {
      errors++;
      lastError = why;
      socket.close();
    }
    done++;
    if (ok && a.churn) socket.close();
    if (done === a.count) report(); else openOne();
  };
  const check = () => { if (connected && upgraded && server) finish(true); };
  socket.io.on('open', () => {
    const engine = socket.io.engine;
    if (engine.transport.name === 'websocket') upgraded = true;
    engine.on('upgrade', () => { upgraded = true; check(); });
  });
  socket.on('welcome', (w) => { server = w && w.server; check(); });
  socket.on('connect', () => { connected = true; check(); });
  socket.on('connect_error', (e) => finish(false, `connect_error: ${e.message}`));
  socket.on('disconnect', (reason) => {
    if (holding && finished) dropped++;
    finish(false, `disconnect: ${reason}`);
  });
  if (!a.churn) sockets.push(socket);
}

function report() {
  const secs = ((Date.now() - t0) / 1000).toFixed(1);
  const err = lastError ? ` error="${lastError}"` : '';
  const spread = Object.keys(servers).sort().map((s) => `${s}:${servers[s]}`).join(',') || '-';
  if (a.churn) {
    console.log(`SIO-CHURN opened=${opened} errors=${errors} secs=${secs} servers=${spread}${err}`);
    process.exit(0);
  }
  console.log(`SIO-OPEN opened=${opened} errors=${errors} secs=${secs} servers=${spread}${err}`);
  holding = true;
}

function stop() {
  console.log(`SIO-CLOSE disconnected_while_holding=${dropped}`);
  process.exit(0);
}

for (let k = 0; k < Math.min(a.concurrency, a.count); k++) openOne();
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
setTimeout(stop, a.maxSeconds * 1000);
