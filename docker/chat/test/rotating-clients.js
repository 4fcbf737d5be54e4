'use strict';

// Cookie-less Socket.IO clients in front of several balancer instances, for Fulcrum's cluster
// test: every new TCP connection (no keep-alive: one per request, and the WebSocket upgrade) goes
// to the next instance in turn, as DNS round robin spreads a client's connections; a connection
// refused goes on to the next instance, as a client tries a name's next address. Prints one JSON
// line per event; reads commands (one JSON object a line) on stdin:
//   {"cmd":"chat"}                    every client sends one message; replies {"ev":"chat-report",...}
//   {"cmd":"report"}                  replies {"ev":"report",...}: sessions, requests, errors
//   {"cmd":"remove","endpoint":E}     E takes no new connections; replies which clients have one open on it
//   {"cmd":"add","endpoint":E}        E takes connections again
//   {"cmd":"quit"}
// usage: node rotating-clients.js --endpoints 127.0.0.1:P,127.0.0.2:Q --clients N
//        [--transports default|polling] [--name NAME] [--step next|random]

const http = require('http');
const net = require('net');
const readline = require('readline');
const { io } = require('socket.io-client');

function parseArgs(argv) {
  const o = { endpoints: [], clients: 1, transports: 'default', name: 'c', step: 'next' };
  for (let i = 0; i < argv.length; i += 2) {
    const v = argv[i + 1];
    switch (argv[i]) {
      case '--endpoints': o.endpoints = v.split(','); break;
      case '--clients': o.clients = Number(v); break;
      case '--transports': o.transports = v; break;
      case '--name': o.name = v; break;
      case '--step': o.step = v; break;
      default: throw new Error(`unknown argument ${argv[i]}`);
    }
  }
  if (o.endpoints.length === 0 || !(o.clients > 0)) {
    throw new Error('--endpoints and --clients are required');
  }
  return o;
}

const opts = parseArgs(process.argv.slice(2));
const out = (obj) => process.stdout.write(`${JSON.stringify(obj)}\n`);

// --- rotation over the instances ----------------------------------------------------------------

const removed = new Set();
const requests = {}; // endpoint -> {ok, failed, byStatus}
for (const e of opts.endpoints) {
  requests[e] = { ok: 0, failed: 0, byStatus: {} };
}
let sessionUnknown = 0;
// 400s for a session whose own request broke first (its instance died with a long-poll on it):
// the Socket.IO server ends such a session, so the target is right not to know it any more.
let sessionEndedAfterBreak = 0;
const brokenSids = new Set();
const failures = [];
const sidOf = (p) => { const m = /[?&]sid=([^&]+)/.exec(p || ''); return m ? m[1] : null; };

// Each client turns through the instances on its own, as its resolver's answers would.
function connectRotating(client, cb, tried) {
  const live = opts.endpoints.filter((e) => !removed.has(e) && !tried.includes(e));
  if (live.length === 0) {
    cb(new Error('no instance accepts connections'));
    return;
  }
  // --step random: the next instance or the one after, so that clients do not move in step.
  client.turn += opts.step === 'random' && Math.random() < 0.5 ? 2 : 1;
  const endpoint = live[client.turn % live.length];
  const [host, port] = endpoint.split(':');
  const socket = net.connect({ host, port: Number(port) });
  let connected = false;
  socket.once('connect', () => {
    connected = true;
    socket.endpoint = endpoint;
    cb(null, socket);
  });
  socket.once('error', (err) => {
    if (!connected && err.code === 'ECONNREFUSED') {
      socket.destroy();
      connectRotating(client, cb, tried.concat(endpoint));
    } else if (!connected) {
      cb(err);
    }
  });
}

class RotatingAgent extends http.Agent {
  constructor(client) {
    super({ keepAlive: false });
    this.client = client;
  }

  createConnection(options, cb) {
    connectRotating(this.client, (err, socket) => {
      if (socket) {
        const c = this.client;
        c.open.add(socket);
        socket.once('close', () => c.open.delete(socket));
      }
      cb(err, socket);
    }, []);
    return undefined;
  }

  addRequest(req, options) {
    req.once('socket', (socket) => {
      const track = () => {
        const e = socket.endpoint;
        if (!e) {
          return;
        }
        if (/[?&]EIO=/.test(req.path) && !/[?&]sid=/.test(req.path)) {
          this.client.handshakeVia.push(e);
        }
        req.once('response', (res) => {
          const r = requests[e];
          r.ok++;
          r.byStatus[res.statusCode] = (r.byStatus[res.statusCode] || 0) + 1;
          if (res.statusCode === 400) {
            let body = '';
            res.on('data', (d) => { body += d; });
            res.on('end', () => {
              const afterBreak = brokenSids.has(sidOf(req.path));
              if (body.includes('Session ID unknown')) {
                if (afterBreak) {
                  sessionEndedAfterBreak++;
                } else {
                  sessionUnknown++;
                }
              }
              failures.push({
                t: new Date().toISOString(), endpoint: e, client: this.client.id, sid: sidOf(req.path), afterBreak,
                status: 400, body: body.slice(0, 200),
              });
            });
          }
        });
        req.once('error', (err) => {
          requests[e].failed++;
          if (sidOf(req.path)) {
            brokenSids.add(sidOf(req.path));
          }
          failures.push({
            t: new Date().toISOString(), endpoint: e, client: this.client.id, sid: sidOf(req.path), error: String(err.message),
          });
        });
      };
      if (socket.endpoint) {
        track();
      } else {
        socket.once('connect', track);
      }
    });
    super.addRequest(req, options);
  }
}

// --- clients -----------------------------------------------------------------------------------

const clients = [];
const first = `http://${opts.endpoints[0]}`;
for (let i = 0; i < opts.clients; i++) {
  const c = {
    id: `${opts.name}-${i}`, sids: [], servers: [], handshakeVia: [], open: new Set(), errors: [],
    received: new Set(), connected: false, turn: i,
  };
  c.agent = new RotatingAgent(c);
  c.socket = io(first, {
    agent: c.agent,
    transports: opts.transports === 'polling' ? ['polling'] : ['polling', 'websocket'],
    forceNew: true,
    reconnectionDelay: 200,
    reconnectionDelayMax: 1000,
  });
  c.socket.io.on('open', () => {
    const sid = c.socket.io.engine.id;
    c.sids.push(sid);
    out({ ev: 'open', client: c.id, sid });
  });
  c.socket.on('welcome', (w) => {
    c.connected = true;
    c.servers.push(w.server);
    out({ ev: 'connected', client: c.id, server: w.server, sid: c.socket.io.engine.id });
  });
  c.socket.on('disconnect', (reason) => {
    c.connected = false;
    c.errors.push(`disconnect: ${reason}`);
    out({ ev: 'disconnect', client: c.id, reason });
  });
  c.socket.on('connect_error', (err) => {
    c.errors.push(`connect_error: ${err.message}`);
    out({ ev: 'connect_error', client: c.id, message: err.message });
  });
  c.socket.on('chat', (m) => {
    if (m && m.server) {
      c.received.add(`${m.from}@${m.server}`);
    }
  });
  clients.push(c);
}

function report() {
  return {
    ev: 'report',
    clients: clients.map((c) => ({
      id: c.id, connected: c.connected, sids: c.sids, servers: c.servers, handshakeVia: c.handshakeVia,
      transport: c.socket.io.engine ? c.socket.io.engine.transport.name : null, errors: c.errors,
    })),
    requests, sessionUnknown, sessionEndedAfterBreak, failures: failures.slice(0, 50), failureCount: failures.length,
  };
}

let chatRound = 0;
function chat() {
  chatRound++;
  const round = chatRound;
  for (const c of clients) {
    c.received.clear();
    c.socket.emit('chat', { from: c.id, round });
  }
  // Every client should hear every message, each from the server its sender is on: reported
  // once all have, or after 20 s.
  const started = Date.now();
  const check = () => {
    const all = clients.every((c) => c.received.size >= clients.length);
    if (!all && Date.now() - started < 20000) {
      setTimeout(check, 100);
      return;
    }
    out({
      ev: 'chat-report',
      round,
      ms: Date.now() - started,
      clients: clients.map((c) => ({ id: c.id, heard: c.received.size, servers: [...new Set([...c.received].map((r) => r.split('@')[1]))] })),
    });
  };
  setTimeout(check, 100);
}

readline.createInterface({ input: process.stdin }).on('line', (line) => {
  let cmd;
  try {
    cmd = JSON.parse(line);
  } catch (e) {
    out({ ev: 'error', message: `bad command: ${line}` });
    return;
  }
  switch (cmd.cmd) {
    case 'chat': chat(); break;
    case 'report': out(report()); break;
    case 'remove': {
      removed.add(cmd.endpoint);
      const on = clients.filter((c) => [...c.open].some((s) => s.endpoint === cmd.endpoint)).map((c) => c.id);
      out({ ev: 'removed', endpoint: cmd.endpoint, clientsWithOpenConnections: on });
      break;
    }
    case 'add': removed.delete(cmd.endpoint); out({ ev: 'added', endpoint: cmd.endpoint }); break;
    case 'quit':
      for (const c of clients) {
        c.socket.close();
      }
      setTimeout(() => process.exit(0), 200);
      break;
    default: out({ ev: 'error', message: `unknown command ${cmd.cmd}` });
  }
});
process.stdin.on('end', () => process.exit(0));
out({ ev: 'started', clients: clients.length });
