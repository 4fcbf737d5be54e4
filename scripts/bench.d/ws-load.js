'use strict';
// Ping-pong WebSocket load client for scripts/bench.
// Each of --clients connections sends one small message and sends the next as soon as the echo
// arrives, so at most one message per connection is in flight. Prints one line:
//   WS-LOAD msgs=N secs=S rate=R clients=C errors=E client_cpu_pct=P
// where rate is echoes received per second during the measured window (after --warmup).
const { WebSocket } = require('ws');

function parseArgs(argv) {
  const a = { urls: [], clients: 64, duration: 10, warmup: 0, size: 32, connectTimeout: 15 };
  for (let i = 0; i < argv.length; i += 2) {
    const k = argv[i], v = argv[i + 1];
    if (k === '--url') a.urls.push(v);
    else if (k === '--clients') a.clients = Number(v);
    else if (k === '--duration') a.duration = Number(v);
    else if (k === '--warmup') a.warmup = Number(v);
    else if (k === '--size') a.size = Number(v);
    else if (k === '--connect-timeout') a.connectTimeout = Number(v);
    else { console.error(`ws-load: unknown option ${k}`); process.exit(2); }
  }
  if (a.urls.length === 0) { console.error('ws-load: at least one --url is required'); process.exit(2); }
  return a;
}

const args = parseArgs(process.argv.slice(2));
const payload = Buffer.alloc(args.size, 'x').toString();
const sockets = [];
let opened = 0, errors = 0, received = 0, running = false, measuring = false, lastError = '';

function fail(reason) {
  console.log(`WS-LOAD msgs=0 secs=0 rate=0 clients=${opened} errors=${errors + 1} client_cpu_pct=0 error="${reason}"`);
  process.exit(1);
}

const connectTimer = setTimeout(
  () => fail(`only ${opened}/${args.clients} connections opened in ${args.connectTimeout}s ${lastError}`),
  args.connectTimeout * 1000);

for (let i = 0; i < args.clients; i++) {
  const ws = new WebSocket(args.urls[i % args.urls.length], { perMessageDeflate: false });
  sockets.push(ws);
  ws.on('open', () => { if (++opened === args.clients) start(); });
  ws.on('message', () => {
    if (measuring) received++;
    if (running) ws.send(payload);
  });
  ws.on('error', (e) => { errors++; lastError = e.message; });
  ws.on('close', () => { if (running) { errors++; lastError = 'connection closed during the run'; } });
}

function start() {
  clearTimeout(connectTimer);
  running = true;
  for (const ws of sockets) ws.send(payload);
  setTimeout(measure, args.warmup * 1000);
}

function measure() {
  received = 0;
  measuring = true;
  const t0 = process.hrtime.bigint();
  const cpu0 = process.cpuUsage();
  setTimeout(() => {
    measuring = false;
    const secs = Number(process.hrtime.bigint() - t0) / 1e9;
    const cpu = process.cpuUsage(cpu0);
    const cpuPct = ((cpu.user + cpu.system) / 1e6 / secs) * 100;
    running = false;
    const err = lastError ? ` error="${lastError}"` : '';
    console.log(`WS-LOAD msgs=${received} secs=${secs.toFixed(3)} rate=${(received / secs).toFixed(1)} ` +
      `clients=${opened} errors=${errors} client_cpu_pct=${cpuPct.toFixed(1)}${err}`);
    for (const ws of sockets) ws.terminate();
    setTimeout(() => process.exit(errors > 0 ? 1 : 0), 50);
  }, args.duration * 1000);
}
