'use strict';
// Opens --count idle WebSocket connections (spread over --sources local addresses 127.0.0.1..N
// and over every --url), prints
//   IDLE-OPEN opened=N errors=E secs=S
// once every attempt has finished, then holds the connections without traffic until SIGTERM
// or --max-seconds, whichever comes first.
// With --churn, each connection is closed as soon as it opens and the next one takes its place
// (at most --concurrency open at once); it prints IDLE-CHURN opened=N errors=E secs=S and exits.
const { WebSocket } = require('ws');

const a = { urls: [], count: 1000, sources: 4, concurrency: 256, maxSeconds: 600, churn: false };
const argv = process.argv.slice(2);
for (let i = 0; i < argv.length; i += 2) {
  const k = argv[i], v = argv[i + 1];
  if (k === '--churn') { a.churn = true; i--; continue; }
  if (k === '--url') a.urls.push(v);
  else if (k === '--count') a.count = Number(v);
  else if (k === '--sources') a.sources = Number(v);
  else if (k === '--concurrency') a.concurrency = Number(v);
  else if (k === '--max-seconds') a.maxSeconds = Number(v);
  else { console.error(`ws-idle: unknown option ${k}`); process.exit(2); }
}
if (a.urls.length === 0) { console.error('ws-idle: at least one --url is required'); process.exit(2); }

const t0 = Date.now();
const sockets = [];
let next = 0, opened = 0, errors = 0, done = 0, holding = false, closedWhileHolding = 0, lastError = '';

function openOne() {
  if (next >= a.count) return;
  const i = next++;
  const localAddress = `127.0.0.${1 + (i % a.sources)}`;
  const ws = new WebSocket(a.urls[i % a.urls.length], { perMessageDeflate: false, localAddress });
  let finished = false;
  const finish = (ok) => {
    if (finished) return;
    finished = true;
    if (ok) opened++; else errors++;
    done++;
    if (done === a.count) report(); else openOne();
  };
  let churned = false;
  ws.on('open', () => {
    if (!a.churn) { finish(true); return; }
    churned = true;
    ws.close();
  });
  ws.on('error', (e) => { lastError = e.message; finish(false); });
  ws.on('close', () => {
    if (holding) closedWhileHolding++;
    finish(churned);
  });
  if (!a.churn) sockets.push(ws);
}

function report() {
  const err = lastError ? ` error="${lastError}"` : '';
  const tag = a.churn ? 'IDLE-CHURN' : 'IDLE-OPEN';
  console.log(`${tag} opened=${opened} errors=${errors} secs=${((Date.now() - t0) / 1000).toFixed(1)}${err}`);
  if (a.churn) process.exit(0);
  holding = true;
}

function stop() {
  console.log(`IDLE-CLOSE closed_while_holding=${closedWhileHolding}`);
  process.exit(0);
}

for (let k = 0; k < Math.min(a.concurrency, a.count); k++) openOne();
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
setTimeout(stop, a.maxSeconds * 1000);
