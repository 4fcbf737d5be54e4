'use strict';

// Drives N Socket.IO chat clients for Fulcrum's tests. Prints one JSON line per event on stdout
// and reads commands (chat, report, quit) from stdin, one per line. See ../README.md.

const path = require('path');
const readline = require('readline');

const USAGE = 'usage: node harness.js --url http://127.0.0.1:PORT [--clients N] '
  + '[--transports default|polling|websocket] [--cookies] [--eio 4|3] [--timeout-ms 20000] '
  + '[--first-client K] [--check [--min-servers K]]';

function parseArgs(argv) {
  const opts = {
    url: null, clients: 1, transports: 'default', cookies: false, eio: 4,
    timeoutMs: 20000, check: false, minServers: 1, firstClient: 0,
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const value = () => {
      if (i + 1 >= argv.length) {
        throw new Error(`${arg} needs a value`);
      }
      return argv[++i];
    };
    const int = (min) => {
      const v = Number(value());
      if (!Number.isInteger(v) || v < min) {
        throw new Error(`${arg}: ${argv[i]} (expected: an integer >= ${min})`);
      }
      return v;
    };
    switch (arg) {
      case '--url': opts.url = value(); break;
      case '--clients': opts.clients = int(1); break;
      case '--transports': opts.transports = value(); break;
      case '--cookies': opts.cookies = true; break;
      case '--eio': opts.eio = int(3); break;
      case '--timeout-ms': opts.timeoutMs = int(1); break;
      case '--check': opts.check = true; break;
      case '--min-servers': opts.minServers = int(0); break;
      case '--first-client': opts.firstClient = int(0); break;
      default: throw new Error(`unknown argument: ${arg}`);
    }
  }
  if (!opts.url) {
    throw new Error('--url is required');
  }
  if (!['default', 'polling', 'websocket'].includes(opts.transports)) {
    throw new Error(`--transports: ${opts.transports} (expected: default, polling or websocket)`);
  }
  if (opts.eio !== 3 && opts.eio !== 4) {
    throw new Error(`--eio: ${opts.eio} (expected: 3 or 4)`);
  }
  return opts;
}

function out(obj) {
  // Writes to a pipe or file are synchronous on Linux, so nothing is lost on process.exit.
  process.stdout.write(`${JSON.stringify(obj)}\n`);
}

// --- cookies -----------------------------------------------------------------------------------
//
// engine.io-client 6.6 keeps a cookie jar in Node when withCredentials is true, but the jar
// belongs to one engine.io session: socket.io-client's Manager makes a new engine (and so a new,
// empty jar) for every reconnection, and the WebSocket transport sends the jar's cookies but never
// reads Set-Cookie from the 101 response. A browser keeps its cookies across reconnections and
// takes them from a WebSocket handshake too, and that is what a balancer's sticky cookie meets, so
// each client here owns one jar for its whole life and the hooks below hand it to every engine.

const eioDir = path.dirname(require.resolve('engine.io-client', {
  paths: [path.dirname(require.resolve('socket.io-client'))],
}));
// The package's exports map hides this file; requiring it by path gets the very module
// engine.io-client's Socket uses.
const eioGlobals = require(path.join(eioDir, 'globals.node.js'));

let jarForNextEngine = null;

function installV4CookieHooks() {
  const createJar = eioGlobals.createCookieJar;
  eioGlobals.createCookieJar = () => jarForNextEngine || createJar();
  const WS = require('engine.io-client').transports.websocket;
  const createSocket = WS.prototype.createSocket;
  WS.prototype.createSocket = function createSocketKeepingCookies(uri, protocols, opts) {
    const ws = createSocket.call(this, uri, protocols, opts);
    const jar = this.socket && this.socket._cookieJar;
    if (jar) {
      ws.on('upgrade', (res) => jar.parseCookies(asArray(res.headers['set-cookie'])));
    }
    return ws;
  };
}

// Engine.IO v3's client has no jar: its transports send the extraHeaders object they were given
// (one object, shared by reference across requests and reconnections), so keeping its `cookie`
// entry current from a jar is enough. The jar rides on the object as a hidden property.
const JAR = Symbol('jar');
// engine.io-client 3's WebSocket transport drops extraHeaders when they are empty at its creation.
const CLIENT_HEADER = 'x-harness-client';

function installV3CookieHooks(v2Dir) {
  const eio3 = path.join(v2Dir, 'node_modules', 'engine.io-client', 'lib', 'transports');
  const Request = require(path.join(eio3, 'polling-xhr.js')).Request;
  const onLoad = Request.prototype.onLoad;
  Request.prototype.onLoad = function onLoadKeepingCookies() {
    const headers = this.extraHeaders;
    if (headers && headers[JAR] && this.xhr) {
      updateJar(headers, this.xhr.getResponseHeader('set-cookie'));
    }
    return onLoad.call(this);
  };
  const WS = require(path.join(eio3, 'websocket.js'));
  const doOpen = WS.prototype.doOpen;
  WS.prototype.doOpen = function doOpenKeepingCookies() {
    const result = doOpen.call(this);
    const headers = this.extraHeaders;
    if (this.ws && headers && headers[JAR]) {
      this.ws.on('upgrade', (res) => updateJar(headers, res.headers['set-cookie']));
    }
    return result;
  };
}

function updateJar(headers, setCookie) {
  const jar = headers[JAR];
  jar.parseCookies(asArray(setCookie));
  const cookie = cookieHeader(jar);
  if (cookie) {
    headers.cookie = cookie;
  } else {
    delete headers.cookie;
  }
}

function asArray(v) {
  if (v === undefined || v === null) {
    return undefined;
  }
  return Array.isArray(v) ? v : [v];
}

function cookieHeader(jar) {
  return [...jar.cookies].map(([name, c]) => `${name}=${c.value}`).join('; ');
}

function jarContents(jar) {
  if (!jar) {
    return undefined;
  }
  const cookies = {};
  for (const [name, c] of jar.cookies) {
    cookies[name] = c.value;
  }
  return cookies;
}

// --- errors ------------------------------------------------------------------------------------

function describe(err) {
  const d = {};
  if (err === undefined || err === null) {
    return d;
  }
  if (typeof err !== 'object') {
    d.message = String(err);
    return d;
  }
  if (err.message !== undefined) {
    d.message = String(err.message);
  }
  if (err.type) {
    d.type = String(err.type);
  }
  // Engine.IO v4 puts the HTTP status (polling) or an ErrorEvent (WebSocket) in description and
  // the XMLHttpRequest in context; Engine.IO v3 puts the status in description.
  const desc = err.description;
  if (typeof desc === 'number' || typeof desc === 'string') {
    d.description = desc;
    if (typeof desc === 'number' && desc >= 100) {
      d.status = desc;
    }
  } else if (desc && typeof desc === 'object') {
    const inner = desc.message || (desc.error && desc.error.message);
    if (inner) {
      d.description = String(inner);
    }
  }
  const ctx = err.context;
  if (ctx && typeof ctx === 'object') {
    if (typeof ctx.status === 'number' && ctx.status > 0) {
      d.status = ctx.status;
    }
    if (typeof ctx.responseText === 'string' && ctx.responseText.length) {
      d.body = ctx.responseText.split('\n', 1)[0].slice(0, 300);
    }
  }
  if (err.data !== undefined) {
    d.data = err.data;
  }
  return d;
}

// --- clients -----------------------------------------------------------------------------------

function createClient(index, opts) {
  const state = {
    client: index,
    connected: false,
    everConnected: false,
    server: null,
    transport: null,
    connectErrors: [],
    disconnects: 0,
    sent: 0,
    received: {},
    jar: null,
    socket: null,
  };
  const clientOpts = {
    forceNew: true, // one Manager, so one engine.io connection, per client
    reconnection: true,
    reconnectionDelay: 200,
    reconnectionDelayMax: 1000,
    randomizationFactor: 0.3,
    timeout: Math.min(opts.timeoutMs, 5000),
    autoConnect: false,
  };
  if (opts.transports !== 'default') {
    clientOpts.transports = [opts.transports];
  }
  let socket;
  if (opts.eio === 3) {
    const io = require('socket.io-client-v2');
    if (opts.cookies) {
      state.jar = new eioGlobals.CookieJar();
      const headers = { [CLIENT_HEADER]: String(index) };
      Object.defineProperty(headers, JAR, { value: state.jar, enumerable: false });
      clientOpts.extraHeaders = headers;
    }
    socket = io(opts.url, clientOpts);
  } else {
    const { io } = require('socket.io-client');
    clientOpts.withCredentials = opts.cookies;
    socket = io(opts.url, clientOpts);
    if (opts.cookies) {
      state.jar = new eioGlobals.CookieJar();
      const manager = socket.io;
      const open = manager.open;
      // Every engine the Manager makes (first connection and each reconnection) is built
      // synchronously inside open(), so the slot is only ever read by this client's engine.
      manager.open = manager.connect = function openWithJar(fn) {
        jarForNextEngine = state.jar;
        try {
          return open.call(this, fn);
        } finally {
          jarForNextEngine = null;
        }
      };
    }
  }
  state.socket = socket;
  wire(state, socket);
  socket.connect();
  return state;
}

function wire(state, socket) {
  const i = state.client;
  const manager = socket.io;
  manager.on('open', () => {
    const engine = manager.engine;
    state.transport = engine.transport.name;
    if (state.jar && engine._cookieJar !== undefined && engine._cookieJar !== state.jar) {
      out({ event: 'harness_error', client: i, message: 'cookie jar hook did not take' });
    }
    engine.on('upgrade', (transport) => {
      state.transport = transport.name;
      out({ event: 'upgraded', client: i, server: state.server, transport: transport.name });
    });
  });
  socket.on('welcome', (msg) => {
    state.connected = true;
    state.everConnected = true;
    state.server = msg && msg.server;
    state.transport = manager.engine ? manager.engine.transport.name : state.transport;
    const line = { event: 'connected', client: i, server: state.server, transport: state.transport };
    if (state.jar) {
      line.cookies = jarContents(state.jar);
    }
    out(line);
    onProgress();
  });
  socket.on('disconnect', (reason, details) => {
    const server = state.server;
    state.connected = false;
    state.server = null;
    state.disconnects++;
    if (exiting) {
      return;
    }
    out({ event: 'disconnected', client: i, server, reason, ...describe(details) });
  });
  socket.on('connect_error', (err) => {
    state.connected = false;
    const d = describe(err);
    state.connectErrors.push(d);
    out({ event: 'connect_error', client: i, ...d });
  });
  socket.on('chat', (msg) => {
    const from = msg && msg.from !== undefined ? String(msg.from) : 'unknown';
    state.received[from] = (state.received[from] || 0) + 1;
    out({ event: 'chat', client: i, from: msg && msg.from, seq: msg && msg.seq, via: msg && msg.server });
    onProgress();
  });
}

function snapshot(state) {
  const s = {
    client: state.client,
    connected: state.connected,
    server: state.server,
    transport: state.transport,
    disconnects: state.disconnects,
    connectErrors: state.connectErrors,
    sent: state.sent,
    received: state.received,
  };
  if (state.jar) {
    s.cookies = jarContents(state.jar);
  }
  return s;
}

// --- main --------------------------------------------------------------------------------------

let opts;
try {
  opts = parseArgs(process.argv.slice(2));
} catch (err) {
  process.stderr.write(`${err.message}\n${USAGE}\n`);
  process.exit(2);
}

if (opts.cookies) {
  if (opts.eio === 3) {
    installV3CookieHooks(path.dirname(require.resolve('socket.io-client-v2/package.json')));
  } else {
    installV4CookieHooks();
  }
}

const clients = [];
let seq = 0;
let readyPrinted = false;
let progressWaiter = null;

function onProgress() {
  if (!readyPrinted && clients.length === opts.clients && clients.every((c) => c.everConnected)) {
    printReady(true);
  }
  if (progressWaiter) {
    progressWaiter();
  }
}

function printReady(complete) {
  if (readyPrinted) {
    return;
  }
  readyPrinted = true;
  const connected = clients.filter((c) => c.everConnected).length;
  out(complete ? { event: 'ready', connected } : { event: 'ready', complete: false, connected });
  if (readyResolve) {
    readyResolve(complete);
  }
}

let readyResolve = null;
const ready = new Promise((resolve) => { readyResolve = resolve; });
setTimeout(() => printReady(false), opts.timeoutMs).unref();

function sendChat() {
  seq++;
  for (const c of clients) {
    // Socket.IO would buffer an emit made while disconnected and send it on reconnection, which
    // would blur what a test counts, so only connected clients speak.
    if (c.connected) {
      c.sent++;
      c.socket.emit('chat', { from: c.client, seq });
    }
  }
  out({ event: 'sent', seq, clients: clients.filter((c) => c.connected).map((c) => c.client) });
}

function report() {
  out({ event: 'report', clients: clients.map(snapshot) });
}

let exiting = false;
function shutdown(code, reason) {
  if (exiting) {
    return;
  }
  exiting = true;
  for (const c of clients) {
    c.socket.disconnect();
  }
  if (reason) {
    out({ event: 'exit', reason, code });
  }
  // A moment for close frames to leave; then go, whatever is still open.
  setTimeout(() => process.exit(code), 150);
}

function allReceivedAll() {
  return clients.every((c) => clients.every((o) => (c.received[String(o.client)] || 0) >= 1));
}

function checkResult() {
  const reasons = [];
  const notConnected = clients.filter((c) => !c.connected).map((c) => c.client);
  if (notConnected.length) {
    reasons.push(`not connected: clients ${notConnected.join(',')}`);
  }
  const erred = clients.filter((c) => c.connectErrors.length).map((c) => c.client);
  if (erred.length) {
    reasons.push(`connect_error seen by clients ${erred.join(',')}`);
  }
  for (const c of clients) {
    const missing = clients.filter((o) => !c.received[String(o.client)]).map((o) => o.client);
    if (missing.length) {
      reasons.push(`client ${c.client} missed messages from ${missing.join(',')}`);
    }
  }
  const servers = new Set(clients.map((c) => c.server).filter(Boolean));
  if (servers.size < opts.minServers) {
    reasons.push(`clients on ${servers.size} distinct servers (${[...servers].join(',')}), `
      + `expected >= ${opts.minServers}`);
  }
  return reasons;
}

async function runCheck() {
  const complete = await ready;
  if (complete) {
    sendChat();
    const deadline = Date.now() + opts.timeoutMs;
    while (!allReceivedAll() && Date.now() < deadline) {
      await new Promise((resolve) => {
        progressWaiter = resolve;
        setTimeout(resolve, 100);
      });
    }
    progressWaiter = null;
  }
  report();
  const reasons = checkResult();
  out({ event: 'result', ok: reasons.length === 0, reasons });
  shutdown(reasons.length === 0 ? 0 : 1);
}

function runInteractive() {
  const rl = readline.createInterface({ input: process.stdin, terminal: false });
  rl.on('line', (line) => {
    const [cmd, arg] = line.trim().split(/\s+/);
    switch (cmd) {
      case '':
        break;
      case 'chat':
        sendChat();
        break;
      case 'report': {
        const settleMs = arg !== undefined ? Number(arg) : 300;
        setTimeout(report, Number.isFinite(settleMs) && settleMs >= 0 ? settleMs : 300);
        break;
      }
      case 'quit':
        shutdown(0);
        break;
      default:
        out({ event: 'harness_error', message: `unknown command: ${cmd}` });
    }
  });
  rl.on('close', () => shutdown(0, 'stdin closed'));
}

// Never outlive the test that started us, even if it forgets to close our stdin.
setTimeout(() => shutdown(3, 'lifetime exceeded'), opts.timeoutMs * 10).unref();
for (const sig of ['SIGTERM', 'SIGINT']) {
  process.on(sig, () => shutdown(0, sig));
}

for (let i = 0; i < opts.clients; i++) {
  clients.push(createClient(opts.firstClient + i, opts));
}
if (opts.check) {
  runCheck();
} else {
  runInteractive();
}
