'use strict';

// The chat clients of scripts/chaos: socket.io-client 4 in this process, of four kinds, each
// sending a message about every second while connected and recording every connection, every
// message it receives and every connection error, so the run can be checked afterwards.

const path = require('path');
const { io } = require('socket.io-client');

// browser:   polling then WebSocket, keeps its cookies across reconnections (the sticky cookie)
// nocookie:  polling then WebSocket, no cookies (a Node or mobile client: Engine.IO sid stickiness)
// polling:   long-polling only, no cookies (every request of a session must reach one server)
// websocket: WebSocket only, no cookies (one connection, nothing to keep sticky)
const KINDS = ['browser', 'nocookie', 'polling', 'websocket'];

// engine.io-client keeps one cookie jar per engine, and socket.io-client makes a new engine for
// every reconnection; its WebSocket transport never reads Set-Cookie from the 101. A browser keeps
// its cookies across both, so each browser-like client owns one jar for its life (the same hooks
// as docker/chat/test/harness.js, which explains them).
const eioMain = require.resolve('engine.io-client', {
  paths: [path.dirname(require.resolve('socket.io-client'))],
});
const eioGlobals = require(path.join(path.dirname(eioMain), 'globals.node.js'));
let jarForNextEngine = null;
{
  const createJar = eioGlobals.createCookieJar;
  eioGlobals.createCookieJar = () => jarForNextEngine || createJar();
  const WS = require(eioMain).transports.websocket;
  const createSocket = WS.prototype.createSocket;
  WS.prototype.createSocket = function createSocketKeepingCookies(uri, protocols, opts) {
    const ws = createSocket.call(this, uri, protocols, opts);
    const jar = this.socket && this.socket._cookieJar;
    if (jar) {
      ws.on('upgrade', (res) => {
        const sc = res.headers['set-cookie'];
        if (sc) {
          jar.parseCookies(Array.isArray(sc) ? sc : [sc]);
        }
      });
    }
    return ws;
  };
}

class Client {
  constructor(fleet, id, kind) {
    this.fleet = fleet;
    this.id = id;
    this.kind = kind;
    this.intervals = [];
    this.seq = 0;
    this.socket = null;
    this.timer = null;
  }

  start() {
    const r = this.fleet.reconnect;
    const o = {
      forceNew: true,
      reconnection: true,
      reconnectionDelay: r.delayMs,
      reconnectionDelayMax: r.delayMaxMs,
      randomizationFactor: r.randomization,
      timeout: r.timeoutMs,
      autoConnect: false,
      withCredentials: this.kind === 'browser',
    };
    if (this.kind === 'polling' || this.kind === 'websocket') {
      o.transports = [this.kind];
    }
    const socket = io(this.fleet.url, o);
    this.socket = socket;
    if (this.kind === 'browser') {
      this.jar = new eioGlobals.CookieJar();
      const manager = socket.io;
      const open = manager.open;
      const jar = this.jar;
      // Every engine is built synchronously inside open(), so only this client's reads the slot.
      manager.open = manager.connect = function openWithJar(fn) {
        jarForNextEngine = jar;
        try {
          return open.call(this, fn);
        } finally {
          jarForNextEngine = null;
        }
      };
    }
    const clock = this.fleet.clock;
    socket.on('connect', () => {
      this.intervals.push({ up: clock(), down: null, server: null, reason: null });
    });
    socket.on('welcome', (w) => {
      const cur = this.intervals[this.intervals.length - 1];
      if (cur && cur.down === null && w && w.server) {
        cur.server = w.server;
      }
    });
    socket.on('disconnect', (reason) => {
      const cur = this.intervals[this.intervals.length - 1];
      if (cur && cur.down === null) {
        cur.down = clock();
        cur.reason = reason;
      }
    });
    socket.on('connect_error', (e) => this.fleet.connectError(this, e));
    socket.on('chat', (p) => this.fleet.onChat(this, p));
    socket.connect();
    this.schedule();
  }

  schedule() {
    this.timer = setTimeout(() => {
      if (this.fleet.sending && this.socket.connected) {
        const id = `${this.id}.${this.seq++}`;
        this.fleet.sent.set(id, { from: this.id, tSend: this.fleet.clock(), recv: new Set() });
        this.socket.emit('chat', { id, from: this.id, text: `message ${id}` });
      }
      if (this.fleet.sending) {
        this.schedule();
      }
    }, 500 + Math.random() * 1000);
  }

  // Connected without a break from a to b (both on the run's clock).
  stayed(a, b) {
    return this.intervals.some((iv) => iv.up <= a && (iv.down === null || iv.down >= b));
  }
}

class Fleet {
  constructor(url, perKind, reconnect, clock, log) {
    this.url = url;
    this.reconnect = reconnect;
    this.clock = clock;
    this.log = log;
    this.sending = true;
    this.sent = new Map();
    this.duplicated = 0;
    this.dupSamples = [];
    this.dupTimes = [];
    this.unknown = 0;
    this.errors = new Map();
    this.errorTimes = [];
    this.clients = [];
    for (const kind of KINDS) {
      for (let i = 0; i < perKind; i++) {
        this.clients.push(new Client(this, `${kind}-${i}`, kind));
      }
    }
  }

  start() {
    for (const c of this.clients) {
      c.start();
    }
  }

  allConnected() {
    return this.clients.every((c) => c.socket.connected);
  }

  connectError(client, e) {
    const desc = e && e.description;
    const detail = desc && (desc.message || (desc.target && desc.target.statusText) || desc.code || String(desc));
    const key = `${client.kind}: ${e.message}${detail && detail !== e.message ? ` (${String(detail).slice(0, 80)})` : ''}`;
    this.errors.set(key, (this.errors.get(key) || 0) + 1);
    this.errorTimes.push(this.clock());
  }

  connectErrors() {
    return Object.fromEntries([...this.errors.entries()].sort((a, b) => b[1] - a[1]));
  }

  connectErrorBursts() {
    return bursts(this.errorTimes, 2000);
  }

  onChat(client, p) {
    const m = p && this.sent.get(p.id);
    if (!m) {
      this.unknown++;
      return;
    }
    if (m.recv.has(client.id)) {
      this.duplicated++;
      this.dupTimes.push(this.clock());
      if (this.dupSamples.length < 20) {
        this.dupSamples.push({ id: p.id, receiver: client.id, t: this.clock() });
      }
      return;
    }
    m.recv.add(client.id);
  }

  stopSending() {
    this.sending = false;
    for (const c of this.clients) {
      clearTimeout(c.timer);
    }
  }

  async close() {
    this.stopSending();
    for (const c of this.clients) {
      if (c.socket) {
        c.socket.disconnect();
      }
    }
    await new Promise((resolve) => setTimeout(resolve, 500));
  }

  // Every message whose sender stayed connected for `stayedMs` after sending it must reach every
  // client (the sender included: its own echo) that stayed connected from just before the send
  // until then. A sender that dropped meanwhile may have lost it with its transport: not counted.
  messageCheck(stayedMs, end) {
    const byId = new Map(this.clients.map((c) => [c.id, c]));
    let checked = 0;
    let expected = 0;
    let lost = 0;
    let senderDropped = 0;
    const lostByKind = {};
    const lostSamples = [];
    for (const [id, m] of this.sent) {
      const until = Math.min(m.tSend + stayedMs, end);
      if (!byId.get(m.from).stayed(m.tSend, until)) {
        senderDropped++;
        continue;
      }
      checked++;
      for (const c of this.clients) {
        if (!c.stayed(m.tSend - 500, until)) {
          continue;
        }
        expected++;
        if (!m.recv.has(c.id)) {
          lost++;
          lostByKind[c.kind] = (lostByKind[c.kind] || 0) + 1;
          if (lostSamples.length < 20) {
            const iv = c.intervals.find((x) => x.up <= m.tSend && (x.down === null || x.down >= until));
            lostSamples.push({ id, tSend: m.tSend, receiver: c.id, server: iv && iv.server });
          }
        }
      }
    }
    return {
      sent: this.sent.size, checked, senderDropped, deliveriesExpected: expected, lost, lostByKind, lostSamples,
      duplicated: this.duplicated, dupSamples: this.dupSamples, dupBursts: bursts(this.dupTimes, 1000),
      unknown: this.unknown,
    };
  }

  // Each disconnect before `end`, and how long until the same client was connected again.
  gaps(end) {
    const out = [];
    for (const c of this.clients) {
      c.intervals.forEach((iv, i) => {
        if (iv.down === null || iv.down > end) {
          return;
        }
        const next = c.intervals[i + 1];
        const open = !next || next.up > end;
        out.push({ client: c.id, server: iv.server, reason: iv.reason, down: iv.down,
          ms: (open ? end : next.up) - iv.down, open });
      });
    }
    return out;
  }
}

// Times grouped into bursts: a new burst after a gap longer than gapMs.
function bursts(times, gapMs) {
  const out = [];
  for (const t of [...times].sort((a, b) => a - b)) {
    const last = out[out.length - 1];
    if (last && t - last.to <= gapMs) {
      last.to = t;
      last.n++;
    } else {
      out.push({ from: t, to: t, n: 1 });
    }
  }
  return out;
}

module.exports = { Fleet, KINDS };
