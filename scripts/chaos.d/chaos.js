'use strict';

// scripts/chaos's engine. Starts Redis, three chat servers (docker/chat; the third in a network
// namespace of its own, behind a veth pair, so its link to the proxy can be slowed, made lossy or
// cut) and a proxy in front of them (Fulcrum or HAProxy, configured to the same intent); runs
// Socket.IO clients of every kind and HTTP load through the proxy while it injects faults one
// at a time; then checks the invariants and prints a table. See the usage below and README.md.

const childProcess = require('child_process');
const fs = require('fs');
const http = require('http');
const net = require('net');
const path = require('path');

const clients = require('./clients');
const { Prng, percentile, sleep, fmtMs } = require('./util');

const USAGE = `usage: scripts/chaos [--duration 10m] [--quick] [--proxy fulcrum|haproxy|both]
                     [--seed N] [--clients N] [--faults LIST] [--health-check D]
                     [--no-netns] [--out DIR]
  --duration D  how long faults are injected, per proxy (default 10m; s, m suffixes)
  --quick       about a minute: 60s of faults, shorter faults, fewer clients, Fulcrum only
                unless --proxy says otherwise
  --proxy P     fulcrum, haproxy or both (default both, one after the other with the same
                seed, so both meet the same faults in the same order)
  --seed N      fault schedule seed (default: from the clock; printed)
  --clients N   Socket.IO clients of each of the four kinds (default 6, --quick 3)
  --faults LIST only these, comma-separated (default all: kill,stop,restart,http500,latency,
                loss,partition,reload,deregister), each kind in turn in a shuffled order
  --health-check D  probe interval and timeout, both proxies (default 1s; the recovery
                bound follows it)
  --no-netns    no network namespace (no root): latency, loss and partition are skipped
  --out DIR     logs and summary.json (default target/chaos)
Exit code: 0 when the invariants hold (for Fulcrum when both ran; HAProxy is the comparison),
1 when one does not, 2 on bad arguments or a setup failure.`;

function parseDuration(s) {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(s);
  if (!m) {
    throw new Error(`--duration ${s} (expected: a duration such as 90s or 10m)`);
  }
  const unit = { ms: 1, s: 1000, m: 60000, h: 3600000 }[m[2] || 's'];
  return Math.round(Number(m[1]) * unit);
}

function parseArgs(argv) {
  const o = { durationMs: null, quick: false, proxy: null, seed: null, perKind: null, netns: true, out: null, root: null, faults: null, healthCheckMs: 1000 };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const v = () => {
      if (i + 1 >= argv.length) {
        throw new Error(`${a} needs a value`);
      }
      return argv[++i];
    };
    switch (a) {
      case '--duration': o.durationMs = parseDuration(v()); break;
      case '--quick': o.quick = true; break;
      case '--proxy': o.proxy = v(); break;
      case '--seed': o.seed = Number(v()); break;
      case '--clients': o.perKind = Number(v()); break;
      case '--no-netns': o.netns = false; break;
      case '--faults': o.faults = v().split(','); break;
      case '--health-check': o.healthCheckMs = parseDuration(v()); break;
      case '--out': o.out = v(); break;
      case '--root': o.root = v(); break;
      case '-h': case '--help': console.log(USAGE); process.exit(0); break;
      default: throw new Error(`unknown argument: ${a} (try --help)`);
    }
  }
  if (o.proxy === null) {
    o.proxy = o.quick ? 'fulcrum' : 'both';
  }
  if (!['fulcrum', 'haproxy', 'both'].includes(o.proxy)) {
    throw new Error(`--proxy ${o.proxy} (expected: fulcrum, haproxy or both)`);
  }
  o.proxies = o.proxy === 'both' ? ['fulcrum', 'haproxy'] : [o.proxy];
  if (o.durationMs === null) {
    o.durationMs = o.quick ? 60000 : 600000;
  }
  if (o.perKind === null) {
    o.perKind = o.quick ? 3 : 6;
  }
  if (!Number.isInteger(o.perKind) || o.perKind < 1) {
    throw new Error(`--clients ${o.perKind} (expected: an integer >= 1)`);
  }
  for (const f of o.faults || []) {
    if (!FAULTS.includes(f)) {
      throw new Error(`--faults: ${f} (expected: some of ${FAULTS.join(',')})`);
    }
  }
  if (o.seed === null || !Number.isFinite(o.seed)) {
    o.seed = Date.now() % 1000000;
  }
  if (o.healthCheckMs < 100) {
    throw new Error(`--health-check ${o.healthCheckMs}ms (expected: >= 100ms)`);
  }
  HC.intervalMs = o.healthCheckMs;
  HC.timeoutMs = o.healthCheckMs;
  o.root = o.root || path.resolve(__dirname, '../..');
  o.out = path.resolve(o.out || path.join(o.root, 'target/chaos'));
  return o;
}

// --- timings shared by both proxies ----------------------------------------------------------

const HC = { intervalMs: 1000, timeoutMs: 1000, healthy: 2, unhealthy: 2 };
const RECONNECT = { delayMs: 500, delayMaxMs: 2000, randomization: 0.5, timeoutMs: 5000 };
// A target that stops answering is out of rotation after `unhealthy` probes, each at most
// interval (+10% jitter) + timeout; its clients are then closed and reconnect after at most the
// client's largest back-off; 3 s for the new handshake on a loaded machine.
function recoveryBoundMs() {
  const detect = HC.unhealthy * (HC.intervalMs * 1.1 + HC.timeoutMs);
  return Math.round(detect + RECONNECT.delayMaxMs * (1 + RECONNECT.randomization) + 3000);
}
// A receiver "stayed connected" for a message when it had no disconnect from just before the
// send until this long after it: longer than a frozen server takes to be detected and closed.
const STAYED_MS = 10000;
const DEREGISTRATION_DELAY_S = 5;

// --- processes -------------------------------------------------------------------------------

const live = new Set();

function spawnLogged(name, cmd, args, logFile, env) {
  const log = fs.openSync(logFile, 'a');
  const p = childProcess.spawn(cmd, args, { stdio: ['ignore', log, log], env: { ...process.env, ...env } });
  fs.closeSync(log);
  p.chaosName = name;
  p.exited = false;
  live.add(p);
  p.on('exit', () => {
    p.exited = true;
    live.delete(p);
  });
  return p;
}

async function stopProcess(p, graceMs = 5000) {
  if (!p || p.exited) {
    return;
  }
  try {
    process.kill(p.pid, 'SIGCONT');
    p.kill('SIGTERM');
  } catch (e) {
    return;
  }
  const deadline = Date.now() + graceMs;
  while (!p.exited && Date.now() < deadline) {
    await sleep(50);
  }
  if (!p.exited) {
    p.kill('SIGKILL');
    while (!p.exited) {
      await sleep(20);
    }
  }
}

function killAllSync() {
  for (const p of live) {
    try {
      process.kill(p.pid, 'SIGCONT');
      p.kill('SIGKILL');
    } catch (e) {
      // gone already
    }
  }
}

async function waitFor(what, check, timeoutMs, proc) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      if (await check()) {
        return;
      }
    } catch (e) {
      // not yet
    }
    if (proc && proc.exited) {
      throw new Error(`${what}: process exited`);
    }
    if (Date.now() > deadline) {
      throw new Error(`${what}: not ready within ${timeoutMs / 1000}s`);
    }
    await sleep(100);
  }
}

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

function tcpOpen(host, port) {
  return new Promise((resolve) => {
    const s = net.connect({ host, port });
    s.setTimeout(1000);
    s.on('connect', () => { s.destroy(); resolve(true); });
    s.on('error', () => resolve(false));
    s.on('timeout', () => { s.destroy(); resolve(false); });
  });
}

function httpRequest(method, url, body, timeoutMs = 5000) {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method, agent: false, timeout: timeoutMs, headers: body ? { 'content-type': 'application/json' } : {} }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, body: Buffer.concat(chunks).toString() }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end(body);
  });
}

// --- the network namespace -------------------------------------------------------------------

function sh(cmd, args) {
  return childProcess.execFileSync(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] }).toString();
}

class Netns {
  constructor(name) {
    this.name = name;
    this.hostIf = `${name}h`;
    this.nsIf = `${name}n`;
    // A /30 of 198.18.0.0/15 (RFC 2544, for benchmarking), picked by pid so two runs do not
    // clash. It exists only on the veth pair this run creates.
    const n = process.pid % 16384;
    const base = (198 << 24) + (18 << 16) + n * 4;
    const ip = (x) => [x >>> 24, (x >> 16) & 255, (x >> 8) & 255, x & 255].join('.');
    this.hostAddr = ip(base + 1);
    this.nsAddr = ip(base + 2);
    this.netem = false;
    this.shaped = false;
  }

  create() {
    this.remove();
    sh('ip', ['netns', 'add', this.name]);
    sh('ip', ['link', 'add', this.hostIf, 'type', 'veth', 'peer', 'name', this.nsIf]);
    sh('ip', ['link', 'set', this.nsIf, 'netns', this.name]);
    sh('ip', ['addr', 'add', `${this.hostAddr}/30`, 'dev', this.hostIf]);
    sh('ip', ['link', 'set', this.hostIf, 'up']);
    sh('ip', ['-n', this.name, 'addr', 'add', `${this.nsAddr}/30`, 'dev', this.nsIf]);
    sh('ip', ['-n', this.name, 'link', 'set', this.nsIf, 'up']);
    sh('ip', ['-n', this.name, 'link', 'set', 'lo', 'up']);
    this.nft(['add', 'table', 'inet', 'chaos']);
    this.nft(['add', 'chain', 'inet', 'chaos', 'input', '{ type filter hook input priority 0; policy accept; }']);
    this.nft(['add', 'chain', 'inet', 'chaos', 'output', '{ type filter hook output priority 0; policy accept; }']);
    // Debian's kernels have sch_netem; a kernel without it gets a slow link (tbf) for latency.
    try {
      sh('tc', ['qdisc', 'add', 'dev', this.hostIf, 'root', 'netem', 'delay', '1ms']);
      sh('tc', ['qdisc', 'del', 'dev', this.hostIf, 'root']);
      this.netem = true;
    } catch (e) {
      this.netem = false;
    }
  }

  nft(args) {
    sh('ip', ['netns', 'exec', this.name, 'nft', ...args]);
  }

  // Rules on the chat port only, so the server keeps its link to Redis (on the host side).
  dropPort(port, percent) {
    const stat = percent >= 100 ? [] : ['numgen', 'random', 'mod', '100', '<', String(percent)];
    this.nft(['add', 'rule', 'inet', 'chaos', 'input', 'tcp', 'dport', String(port), ...stat, 'drop']);
    this.nft(['add', 'rule', 'inet', 'chaos', 'output', 'tcp', 'sport', String(port), ...stat, 'drop']);
  }

  clearRules() {
    this.nft(['flush', 'chain', 'inet', 'chaos', 'input']);
    this.nft(['flush', 'chain', 'inet', 'chaos', 'output']);
  }

  // Both directions: the host side shapes what the proxy sends, the namespace side the answers.
  slow(delayMs) {
    for (const [pre, dev] of [[[], this.hostIf], [['-n', this.name], this.nsIf]]) {
      const q = this.netem
        ? ['netem', 'delay', `${delayMs}ms`, `${Math.round(delayMs / 4)}ms`]
        : ['tbf', 'rate', '512kbit', 'burst', '4kb', 'latency', '500ms'];
      sh('tc', [...pre, 'qdisc', 'add', 'dev', dev, 'root', ...q]);
    }
    this.shaped = true;
  }

  unslow() {
    if (!this.shaped) {
      return;
    }
    for (const [pre, dev] of [[[], this.hostIf], [['-n', this.name], this.nsIf]]) {
      try {
        sh('tc', [...pre, 'qdisc', 'del', 'dev', dev, 'root']);
      } catch (e) {
        // not shaped
      }
    }
    this.shaped = false;
  }

  remove() {
    for (const args of [['link', 'del', this.hostIf], ['netns', 'del', this.name]]) {
      try {
        sh('ip', args);
      } catch (e) {
        // not there
      }
    }
  }
}

// --- chat servers and Redis ------------------------------------------------------------------

class ChatServer {
  constructor(run, index, host, port, netns) {
    this.run = run;
    this.index = index;
    this.id = `chat-${index + 1}`;
    this.host = host;
    this.port = port;
    this.netns = netns;
    this.proc = null;
    this.starts = 0;
  }

  get address() {
    return `${this.host}:${this.port}`;
  }

  async start() {
    const { root } = this.run.opts;
    const node = ['-r', path.join(__dirname, 'fault.js'), path.join(root, 'docker/chat/server.js')];
    const env = {
      PORT: String(this.port), HOST: this.host, SERVER_ID: this.id,
      REDIS_URL: `redis://${this.netns ? this.netns.hostAddr : '127.0.0.1'}:${this.run.redisPort}`,
    };
    const log = path.join(this.run.dir, `${this.id}.log`);
    this.proc = this.netns
      ? spawnLogged(this.id, 'ip', ['netns', 'exec', this.netns.name, process.execPath, ...node], log, env)
      : spawnLogged(this.id, process.execPath, node, log, env);
    this.failing = false;
    this.starts++;
    await waitFor(`${this.id} on ${this.address}`, () => tcpOpen(this.host, this.port), 60000, this.proc);
  }

  signal(sig) {
    if (this.proc && !this.proc.exited) {
      process.kill(this.proc.pid, sig);
    }
  }
}

// --- proxies ---------------------------------------------------------------------------------

class FulcrumProxy {
  constructor(run) {
    this.run = run;
    this.name = 'fulcrum';
    this.reloads = 0;
  }

  config(connectTimeout) {
    const targets = this.run.servers.map((s) => `"${s.address}"`).join(', ');
    return `# Written by scripts/chaos.
fulcrum {
  listeners = [
    { name = public, bind = "127.0.0.1:${this.port}", default-target-group = chat, idle-timeout = 60s }
  ]
  admin { bind = "127.0.0.1:${this.adminPort}" }
  target-groups {
    chat {
      targets = [${targets}]
      algorithm = round-robin
      connect-timeout = ${connectTimeout}
      deregistration-delay = ${DEREGISTRATION_DELAY_S}s
      stickiness { enabled = true, type = lb-cookie-and-engine-io, cookie-name = FULCRUM }
      health-check {
        path = "/health", interval = ${HC.intervalMs}ms, timeout = ${HC.timeoutMs}ms
        healthy-threshold = ${HC.healthy}, unhealthy-threshold = ${HC.unhealthy}
        on-unhealthy = close-connections
      }
    }
  }
}
`;
  }

  async start() {
    const { root } = this.run.opts;
    this.port = await freePort();
    this.adminPort = await freePort();
    this.confFile = path.join(this.run.dir, 'fulcrum.conf');
    fs.writeFileSync(this.confFile, this.config('2s'));
    // The test suite runs the compiled classes when it has no current jar (see ChaosRunTest).
    const launch = process.env.CHAOS_FULCRUM_CP
      ? ['-cp', process.env.CHAOS_FULCRUM_CP, 'fulcrum.Main']
      : ['-jar', path.join(root, 'target/fulcrum.jar')];
    const jvm = fs.readFileSync(path.join(root, 'conf/jvm.options'), 'utf8').split('\n')
      .map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
    const extra = (process.env.CHAOS_FULCRUM_JAVA_OPTS || '').split(/\s+/).filter(Boolean);
    this.proc = spawnLogged('fulcrum', 'java', [...jvm, ...extra, `-Dlogback.configurationFile=${path.join(root, 'conf/logback.xml')}`,
      ...launch, '--config', this.confFile], path.join(this.run.dir, 'fulcrum.log'), {});
    this.url = `http://127.0.0.1:${this.port}`;
    await waitFor('fulcrum admin', async () => (await this.admin('GET', '/healthz')).status === 200, 120000, this.proc);
  }

  admin(method, p, body) {
    return httpRequest(method, `http://127.0.0.1:${this.adminPort}${p}`, body === undefined ? undefined : JSON.stringify(body));
  }

  async targets() {
    const r = await this.admin('GET', '/targets');
    return JSON.parse(r.body).target_groups.find((g) => g.name === 'chat').targets;
  }

  async allHealthy() {
    const t = await this.targets();
    return t.length === this.run.servers.length && t.every((x) => x.state === 'healthy');
  }

  async reload() {
    this.reloads++;
    // Something to apply, so the reload is not a no-op; by signal and by API in turn.
    fs.writeFileSync(this.confFile, this.config(this.reloads % 2 ? '3s' : '2s'));
    if (this.reloads % 2) {
      process.kill(this.proc.pid, 'SIGHUP');
      return 'SIGHUP';
    }
    const r = await this.admin('POST', '/reload');
    if (r.status !== 200) {
      throw new Error(`POST /reload: ${r.status} ${r.body}`);
    }
    return 'POST /reload';
  }

  async deregister(server, hold) {
    const r = await this.admin('DELETE', `/target-groups/chat/targets/${server.address}`);
    if (r.status >= 300) {
      throw new Error(`deregister ${server.address}: ${r.status} ${r.body}`);
    }
    await waitFor(`${server.address} drained`, async () => !(await this.targets()).some((t) => t.target === server.address),
      (DEREGISTRATION_DELAY_S + 15) * 1000);
    await hold();
    const a = await this.admin('POST', '/target-groups/chat/targets', { target: server.address });
    if (a.status >= 300) {
      throw new Error(`register ${server.address}: ${a.status} ${a.body}`);
    }
  }

  async resources() {
    const t = await this.targets();
    return { ...procStats([this.proc.pid]), tunnels: t.reduce((n, x) => n + x.tunnels, 0) };
  }

  stop() {
    return stopProcess(this.proc, 35000);
  }
}

class HaproxyProxy {
  constructor(run) {
    this.run = run;
    this.name = 'haproxy';
  }

  async start() {
    this.port = await freePort();
    this.sock = path.join(this.run.dir, 'haproxy.sock');
    const servers = this.run.servers.map((s) => `  server ${s.id} ${s.address} check cookie ${s.id}`).join('\n');
    // The same intent as Fulcrum's file: round-robin, a sticky cookie inserted by the balancer
    // and hidden from the servers, health checks with the same timings, sessions of a server
    // marked down closed.
    const cfg = `global
  maxconn 4096
  stats socket ${this.sock} mode 600 level admin
  hard-stop-after 30s
defaults
  mode http
  option redispatch
  retries 2
  timeout connect 2s
  timeout client 60s
  timeout server 60s
  timeout tunnel 60s
  timeout http-keep-alive 60s
  timeout check ${HC.timeoutMs}ms
frontend public
  bind 127.0.0.1:${this.port}
  default_backend chat
backend chat
  balance roundrobin
  cookie FULCRUM insert indirect nocache
  # HAProxy learns an Engine.IO session id from the handshake answer's body (JSON after the
  # packet type "0"), as Fulcrum does, and routes every request that carries it by it.
  stick-table type string len 64 size 100k expire 10m
  http-request set-var(txn.handshake) bool(1) if { url_param(EIO) -m found } !{ url_param(sid) -m found }
  http-response wait-for-body time 2s if { var(txn.handshake) -m bool }
  stick match url_param(sid)
  stick store-response res.body,bytes(1),json_query('$.sid') if { var(txn.handshake) -m bool }
  option httpchk GET /health
  http-check expect status 200
  default-server inter ${HC.intervalMs}ms fall ${HC.unhealthy} rise ${HC.healthy} on-marked-down shutdown-sessions
${servers}
`;
    const cfgFile = path.join(this.run.dir, 'haproxy.cfg');
    fs.writeFileSync(cfgFile, cfg);
    this.proc = spawnLogged('haproxy', 'haproxy', ['-W', '-db', '-f', cfgFile], path.join(this.run.dir, 'haproxy.log'), {});
    this.url = `http://127.0.0.1:${this.port}`;
    await waitFor('haproxy', () => tcpOpen('127.0.0.1', this.port), 20000, this.proc);
    await waitFor('haproxy stats socket', async () => (await this.cmd('show info')).includes('Pid'), 20000, this.proc);
  }

  cmd(line) {
    return new Promise((resolve, reject) => {
      const s = net.connect(this.sock);
      const chunks = [];
      s.setTimeout(5000);
      s.on('connect', () => s.end(`${line}\n`));
      s.on('data', (c) => chunks.push(c));
      s.on('end', () => resolve(Buffer.concat(chunks).toString()));
      s.on('timeout', () => s.destroy(new Error('timeout')));
      s.on('error', reject);
    });
  }

  async allHealthy() {
    const csv = (await this.cmd('show stat')).split('\n');
    const head = csv[0].replace(/^# /, '').split(',');
    const status = head.indexOf('status');
    const up = csv.slice(1).map((l) => l.split(',')).filter((f) => f[0] === 'chat' && f[1].startsWith('chat-'));
    return up.length === this.run.servers.length && up.every((f) => f[status] === 'UP');
  }

  async reload() {
    // Master-worker mode: SIGUSR2 re-reads the file and starts new workers; old ones finish.
    process.kill(this.proc.pid, 'SIGUSR2');
    await sleep(500);
    return 'SIGUSR2';
  }

  async deregister(server, hold) {
    await this.cmd(`set server chat/${server.id} state drain`);
    await sleep(DEREGISTRATION_DELAY_S * 1000);
    await this.cmd(`shutdown sessions server chat/${server.id}`);
    await this.cmd(`set server chat/${server.id} state maint`);
    await hold();
    await this.cmd(`set server chat/${server.id} state ready`);
  }

  async resources() {
    const pids = [this.proc.pid, ...childrenOf(this.proc.pid)];
    const info = await this.cmd('show info');
    const m = /CurrConns: (\d+)/.exec(info);
    return { ...procStats(pids), tunnels: m ? Number(m[1]) : null };
  }

  stop() {
    return stopProcess(this.proc, 10000);
  }
}

function childrenOf(pid) {
  try {
    return fs.readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch (e) {
    return [];
  }
}

function procStats(pids) {
  let rssKb = 0;
  let fds = 0;
  for (const pid of pids) {
    try {
      const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
      rssKb += m ? Number(m[1]) : 0;
      fds += fs.readdirSync(`/proc/${pid}/fd`).length;
    } catch (e) {
      // exited meanwhile
    }
  }
  return { rssMiB: Math.round(rssKb / 102.4) / 10, fds };
}

// --- HTTP load -------------------------------------------------------------------------------

class HttpLoad {
  constructor(url, loops, clock) {
    this.url = url;
    this.loops = loops;
    this.clock = clock;
    this.agent = new http.Agent({ keepAlive: true, maxSockets: loops });
    this.records = [];
    this.running = false;
  }

  start() {
    this.running = true;
    this.done = Promise.all(Array.from({ length: this.loops }, (_, i) => this.loop(i)));
  }

  async loop(i) {
    let n = 0;
    while (this.running) {
      const p = n++ % 4 === 0 ? '/' : `/health?l=${i}&n=${n}`;
      const rec = { t0: this.clock(), t1: 0, status: 0, error: null, server: null };
      try {
        const r = await new Promise((resolve, reject) => {
          const req = http.get(`${this.url}${p}`, { agent: this.agent, timeout: 70000 }, (res) => {
            const chunks = [];
            res.on('data', (c) => chunks.push(c));
            res.on('end', () => resolve({ status: res.statusCode, body: Buffer.concat(chunks).toString() }));
            res.on('error', reject);
          });
          req.on('timeout', () => req.destroy(new Error('client timeout')));
          req.on('error', reject);
        });
        rec.status = r.status;
        const m = /"server":"([^"]+)"/.exec(r.body);
        rec.server = m ? m[1] : null;
      } catch (e) {
        rec.error = e.code || e.message;
      }
      rec.t1 = this.clock();
      this.records.push(rec);
      await sleep(10);
    }
  }

  async stop() {
    this.running = false;
    await this.done;
    this.agent.destroy();
  }
}

// --- faults ----------------------------------------------------------------------------------

const FAULTS = ['kill', 'stop', 'restart', 'http500', 'latency', 'loss', 'partition', 'reload', 'deregister'];
const NET_FAULTS = new Set(['latency', 'loss', 'partition']);

async function injectFault(run, kind, prng) {
  const { servers, proxy, netns } = run;
  const quick = run.opts.quick;
  // Held at least as long as two failed probes take, so the proxy gets to act on it.
  const detect = HC.unhealthy * (HC.intervalMs + HC.timeoutMs);
  const holdMs = () => Math.round(quick ? prng.between(detect, detect + 1500)
    : prng.between(Math.max(5000, detect), Math.max(9000, detect + 4000)));
  const target = NET_FAULTS.has(kind) ? servers[2] : servers[prng.int(servers.length)];
  const f = { kind, target: target.id, t: run.clock(), end: null, destructive: kind !== 'reload' && kind !== 'latency', note: '' };
  run.faults.push(f);
  run.log(`fault ${kind} on ${target.id}`);
  switch (kind) {
    case 'kill': {
      target.signal('SIGKILL');
      await sleep(holdMs());
      f.note = 'SIGKILL, then started again';
      await target.start();
      break;
    }
    case 'stop': {
      target.signal('SIGSTOP');
      await sleep(holdMs());
      target.signal('SIGCONT');
      f.note = 'SIGSTOP, then SIGCONT';
      break;
    }
    case 'restart': {
      await stopProcess(target.proc);
      f.note = 'SIGTERM, then started again';
      await target.start();
      break;
    }
    case 'http500': {
      target.signal('SIGUSR2');
      await sleep(holdMs());
      target.signal('SIGUSR2');
      f.note = 'every new request and upgrade answered 500';
      break;
    }
    case 'latency': {
      netns.slow(200);
      await sleep(holdMs());
      netns.unslow();
      f.note = netns.netem ? 'netem delay 200ms +-50ms each way' : 'tbf 512kbit slow link (no sch_netem in this kernel)';
      break;
    }
    case 'loss': {
      netns.dropPort(target.port, 10);
      await sleep(holdMs());
      netns.clearRules();
      f.note = '10% of packets to and from the chat port dropped';
      break;
    }
    case 'partition': {
      netns.dropPort(target.port, 100);
      await sleep(holdMs());
      netns.clearRules();
      f.note = 'every packet to and from the chat port dropped';
      break;
    }
    case 'reload': {
      f.target = proxy.name;
      f.note = await proxy.reload();
      break;
    }
    case 'deregister': {
      f.note = `drained (delay ${DEREGISTRATION_DELAY_S}s), then registered again`;
      await proxy.deregister(target, () => sleep(1000));
      break;
    }
    default: throw new Error(kind);
  }
  f.end = run.clock();
}

// --- one run ---------------------------------------------------------------------------------

async function runOne(opts, proxyName, netns) {
  const dir = path.join(opts.out, proxyName);
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(dir, { recursive: true });
  const t0 = Date.now();
  const run = {
    opts, dir, netns, faults: [], servers: [],
    clock: () => Date.now() - t0,
    log: (m) => console.error(`chaos[${proxyName}] ${((Date.now() - t0) / 1000).toFixed(1).padStart(6)}s ${m}`),
  };
  const summary = { proxy: proxyName, errors: [] };
  let proxy = null;
  let load = null;
  let fleet = null;
  try {
    run.redisPort = await freePort();
    const bind = netns ? ['127.0.0.1', netns.hostAddr] : ['127.0.0.1'];
    const redis = spawnLogged('redis', 'redis-server', ['--port', String(run.redisPort), '--bind', ...bind,
      '--save', '', '--appendonly', 'no', '--protected-mode', 'no'], path.join(dir, 'redis.log'), {});
    run.redis = redis;
    await waitFor('redis', () => tcpOpen('127.0.0.1', run.redisPort), 20000, redis);
    run.servers = [
      new ChatServer(run, 0, '127.0.0.1', await freePort(), null),
      new ChatServer(run, 1, '127.0.0.1', await freePort(), null),
      netns ? new ChatServer(run, 2, netns.nsAddr, 3000, netns) : new ChatServer(run, 2, '127.0.0.1', await freePort(), null),
    ];
    await Promise.all(run.servers.map((s) => s.start()));
    proxy = proxyName === 'fulcrum' ? new FulcrumProxy(run) : new HaproxyProxy(run);
    run.proxy = proxy;
    await proxy.start();
    await waitFor(`${proxyName}: all targets healthy`, () => proxy.allHealthy(), 30000, proxy.proc);
    run.log(`${proxyName} on ${proxy.url}; targets ${run.servers.map((s) => s.address).join(', ')}`);

    const base = await proxy.resources();
    fleet = new clients.Fleet(proxy.url, opts.perKind, RECONNECT, run.clock, (m) => run.log(m));
    fleet.start();
    load = new HttpLoad(proxy.url, opts.quick ? 2 : 4, run.clock);
    load.start();
    await waitFor('every client connected', () => fleet.allConnected(), 60000);
    await sleep(5000);
    const warm = await proxy.resources();
    run.log(`warm: ${fleet.clients.length} clients connected; ${JSON.stringify(warm)}`);

    // Faults, one at a time, each kind in turn of a shuffled order; the targets are all healthy
    // again before the next, so at least two healthy targets exist at every moment.
    const prng = new Prng(opts.seed);
    const kinds = (opts.faults || FAULTS).filter((k) => netns || !NET_FAULTS.has(k));
    const faultStart = run.clock();
    let order = [];
    while (run.clock() - faultStart < opts.durationMs) {
      if (order.length === 0) {
        order = prng.shuffle([...kinds]);
      }
      await sleep(Math.round(opts.quick ? prng.between(1000, 2000) : prng.between(2000, 5000)));
      await injectFault(run, order.shift(), prng);
      await waitFor(`${proxyName}: targets healthy again`, () => proxy.allHealthy(), 30000, proxy.proc);
    }
    run.log('faults over; waiting for every client');
    try {
      await waitFor('every client back', () => fleet.allConnected(), 60000);
    } catch (e) {
      // Reported as clients never back; the rest of the run is still worth checking.
      run.log(`${fleet.clients.filter((c) => !c.socket.connected).map((c) => c.id).join(', ')} not back within 60s`);
    }
    await sleep(opts.quick ? 5000 : 10000);
    fleet.stopSending();
    await sleep(3000);
    const end = run.clock();
    await load.stop();
    run.httpRecords = load.records;
    load = null;
    const afterLoad = await proxy.resources();
    await fleet.close();
    // Idle pooled backend connections outlive their client by up to keep-alive-timeout.
    await sleep(8000);
    const after = await proxy.resources();

    Object.assign(summary, analyse(run, fleet, opts, { base, warm, afterLoad, after, end }));
  } catch (e) {
    summary.errors.push(String(e.stack || e));
    run.log(`ERROR ${e.message}`);
  } finally {
    if (load) {
      await load.stop().catch(() => {});
    }
    if (fleet) {
      await fleet.close().catch(() => {});
    }
    if (netns) {
      try {
        netns.clearRules();
        netns.unslow();
      } catch (e) {
        // namespace gone
      }
    }
    for (const s of run.servers) {
      s.signal('SIGCONT');
    }
    if (proxy) {
      await proxy.stop();
    }
    await Promise.all(run.servers.map((s) => stopProcess(s.proc)));
    await stopProcess(run.redis);
  }
  summary.faults = run.faults;
  return summary;
}

// --- invariants ------------------------------------------------------------------------------

function faultAt(run, t, lookbackMs) {
  let last = null;
  for (const f of run.faults) {
    if (f.t <= t && t - f.t <= lookbackMs) {
      last = f;
    }
  }
  return last;
}

function analyse(run, fleet, opts, m) {
  const out = {};
  // Messages.
  const msg = fleet.messageCheck(STAYED_MS, m.end);
  out.messages = msg;
  for (const l of msg.lostSamples) {
    const f = faultAt(run, l.tSend, 60000);
    l.fault = f ? `${f.kind} ${f.target} at ${(f.t / 1000).toFixed(1)}s` : 'none';
  }
  // Reconnections.
  const gaps = fleet.gaps(m.end);
  const byFault = {};
  let unprovoked = 0;
  const over = [];
  for (const g of gaps) {
    const f = faultAt(run, g.down, 20000);
    const key = f ? f.kind : 'no fault';
    if (!f) {
      unprovoked++;
    }
    (byFault[key] = byFault[key] || []).push(g.ms);
    if (g.ms > recoveryBoundMs()) {
      over.push({ ...g, fault: f ? `${f.kind} ${f.target} at ${(f.t / 1000).toFixed(1)}s` : 'none' });
    }
  }
  const all = gaps.map((g) => g.ms);
  out.recovery = {
    boundMs: recoveryBoundMs(), disconnects: gaps.length, notBack: gaps.filter((g) => g.open).length,
    p50: percentile(all, 50), p99: percentile(all, 99), max: all.length ? Math.max(...all) : 0,
    overBound: over.length, overSamples: over.slice(0, 20), unprovoked,
    byFault: Object.fromEntries(Object.entries(byFault).map(([k, v]) => [k, { n: v.length, p50: percentile(v, 50), max: Math.max(...v) }])),
    connectErrors: fleet.connectErrors(),
    connectErrorBursts: fleet.connectErrorBursts(),
  };
  // HTTP.
  out.http = httpCheck(run, m);
  // Resources.
  const r = { base: m.base, warm: m.warm, afterLoad: m.afterLoad, after: m.after };
  r.fdsOk = m.after.fds <= m.base.fds + 8;
  r.tunnelsOk = m.after.tunnels === 0 || m.after.tunnels === null;
  r.rssOk = m.after.rssMiB <= Math.max(m.warm.rssMiB, m.base.rssMiB) * 1.15 + 32;
  out.resources = r;
  out.invariants = {
    messages: msg.lost === 0 && msg.duplicated === 0,
    recovery: out.recovery.overBound === 0 && out.recovery.notBack === 0,
    http: out.http.violations === 0,
    resources: r.fdsOk && r.tunnelsOk && r.rssOk,
  };
  out.ok = Object.values(out.invariants).every(Boolean);
  return out;
}

function httpCheck(run, m) {
  const recs = run.httpRecords || [];
  const instants = run.faults.filter((f) => f.destructive).map((f) => f.t);
  let failed = 0;
  let exempt = 0;
  const violations = [];
  const byKind = {};
  const windows = {};
  for (const r of recs) {
    if (r.t0 > m.end) {
      continue;
    }
    const bad = r.error !== null || r.status >= 400;
    if (!bad) {
      continue;
    }
    failed++;
    // In flight at the moment a target died (or froze, was cut off, began to fail): the proxy
    // does not say which target a failed request was on, so any request spanning that instant.
    if (instants.some((t) => r.t0 <= t && t <= r.t1)) {
      exempt++;
      continue;
    }
    const f = faultAt(run, r.t0, 60000);
    const key = f ? f.kind : 'no fault';
    byKind[key] = (byKind[key] || 0) + 1;
    const at = f ? `${f.kind} ${f.target} at ${(f.t / 1000).toFixed(1)}s` : 'no fault';
    const w = windows[at] || (windows[at] = { n: 0, firstMs: r.t0 - (f ? f.t : 0), lastMs: 0 });
    w.n++;
    w.lastMs = r.t1 - (f ? f.t : 0);
    violations.push({ t0: r.t0, ms: r.t1 - r.t0, status: r.status, error: r.error,
      fault: f ? `${f.kind} ${f.target} at ${(f.t / 1000).toFixed(1)}s (+${((r.t0 - f.t) / 1000).toFixed(1)}s)` : 'none' });
  }
  return { requests: recs.length, failed, exempt, violations: violations.length, byFault: byKind, windows, samples: violations.slice(0, 20) };
}

// --- the report ------------------------------------------------------------------------------

function table(opts, results, netns) {
  const cols = results.map((r) => r.proxy);
  const rows = [];
  const row = (label, f) => rows.push([label, ...results.map((r) => {
    try {
      return r.errors.length && !r.invariants ? 'error' : String(f(r));
    } catch (e) {
      return '-';
    }
  })]);
  const verdict = (b) => (b ? 'PASS' : 'FAIL');
  row('faults injected', (r) => `${r.faults.length}`);
  for (const k of FAULTS) {
    if (results.some((r) => r.faults.some((f) => f.kind === k))) {
      row(`  ${k}`, (r) => r.faults.filter((f) => f.kind === k).length);
    }
  }
  row('chat messages sent', (r) => r.messages.sent);
  row('  checked (sender stayed connected)', (r) => r.messages.checked);
  row('  deliveries expected', (r) => r.messages.deliveriesExpected);
  row('  lost (receiver stayed connected)', (r) => r.messages.lost);
  row('  duplicated', (r) => r.messages.duplicated);
  row('client disconnects', (r) => r.recovery.disconnects);
  row('  with no fault in the 20s before', (r) => r.recovery.unprovoked);
  row('  back after: p50', (r) => fmtMs(r.recovery.p50));
  row('  p99', (r) => fmtMs(r.recovery.p99));
  row('  max', (r) => fmtMs(r.recovery.max));
  row(`  over the bound (${fmtMs(recoveryBoundMs())})`, (r) => r.recovery.overBound);
  row('  never back', (r) => r.recovery.notBack);
  row('connect errors', (r) => Object.values(r.recovery.connectErrors).reduce((a, b) => a + b, 0));
  row('HTTP requests', (r) => r.http.requests);
  row('  failed', (r) => r.http.failed);
  row('  in flight at a fault (exempt)', (r) => r.http.exempt);
  row('  failed otherwise', (r) => r.http.violations);
  row('RSS MiB: before / warm / after', (r) => `${r.resources.base.rssMiB} / ${r.resources.warm.rssMiB} / ${r.resources.after.rssMiB}`);
  row('open fds: before / warm / after', (r) => `${r.resources.base.fds} / ${r.resources.warm.fds} / ${r.resources.after.fds}`);
  row('tunnels (HAProxy: conns): before / warm / after', (r) => `${r.resources.base.tunnels} / ${r.resources.warm.tunnels} / ${r.resources.after.tunnels}`);
  row('INVARIANT every message delivered once', (r) => verdict(r.invariants.messages));
  row('INVARIANT clients back within the bound', (r) => verdict(r.invariants.recovery));
  row('INVARIANT no HTTP failure but in flight', (r) => verdict(r.invariants.http));
  row('INVARIANT RSS, fds, tunnels back to base', (r) => verdict(r.invariants.resources));
  const w0 = Math.max(...rows.map((x) => x[0].length)) + 2;
  const w = cols.map((c, i) => Math.max(c.length, ...rows.map((x) => x[i + 1].length)) + 2);
  const line = (cells) => cells[0].padEnd(w0) + cells.slice(1).map((c, i) => c.padStart(w[i])).join('');
  const out = [];
  out.push(`chaos: seed ${opts.seed}; ${fmtMs(opts.durationMs)} of faults per proxy; ${opts.perKind * 4} Socket.IO clients `
    + `(${opts.perKind} each: browser with cookies, cookie-less, polling-only, websocket-only); health checks every `
    + `${fmtMs(HC.intervalMs)}, ${HC.unhealthy} failures to take a target out; ${netns ? (netns.netem ? 'netem' : 'no sch_netem: tbf for latency') : 'no network namespace: no network faults'}`);
  out.push(line(['', ...cols]));
  for (const r of rows) {
    out.push(line(r));
  }
  for (const r of results) {
    out.push('');
    out.push(`${r.proxy}:`);
    for (const e of r.errors) {
      out.push(`  error: ${e.split('\n')[0]}`);
    }
    if (!r.invariants) {
      continue;
    }
    for (const l of r.messages.lostSamples.slice(0, 8)) {
      out.push(`  lost: ${l.id} sent at ${(l.tSend / 1000).toFixed(1)}s never reached ${l.receiver} (on ${l.server}); fault: ${l.fault}`);
    }
    for (const b of r.messages.dupBursts.slice(0, 8)) {
      const f = faultAt({ faults: r.faults }, b.from, 60000);
      out.push(`  duplicated: ${b.n} second copies from ${(b.from / 1000).toFixed(2)}s to ${(b.to / 1000).toFixed(2)}s; `
        + `fault before: ${f ? `${f.kind} ${f.target} at ${(f.t / 1000).toFixed(1)}s, over at ${(f.end / 1000).toFixed(1)}s` : 'none'}`);
    }
    for (const g of r.recovery.overSamples.slice(0, 8)) {
      out.push(`  slow back: ${g.client} (on ${g.server}, ${g.reason}) down at ${(g.down / 1000).toFixed(1)}s for ${fmtMs(g.ms)}; fault: ${g.fault}`);
    }
    const bf = Object.entries(r.recovery.byFault).map(([k, v]) => `${k} ${v.n} (p50 ${fmtMs(v.p50)}, max ${fmtMs(v.max)})`);
    if (bf.length) {
      out.push(`  disconnects by fault: ${bf.join('; ')}`);
    }
    if (Object.keys(r.http.byFault).length) {
      out.push(`  HTTP failures not in flight at a fault, by the fault before them: ${JSON.stringify(r.http.byFault)}`);
    }
    for (const [at, w] of Object.entries(r.http.windows)) {
      out.push(`  HTTP failures after ${at}: ${w.n}, from +${fmtMs(w.firstMs)} to +${fmtMs(w.lastMs)}`);
    }
    for (const s of r.http.samples.slice(0, 4)) {
      out.push(`  HTTP failure at ${(s.t0 / 1000).toFixed(1)}s after ${fmtMs(s.ms)}: ${s.error || s.status}; fault: ${s.fault}`);
    }
    for (const b of r.recovery.connectErrorBursts.slice(0, 8)) {
      const f = faultAt({ faults: r.faults }, b.from, 60000);
      out.push(`  connect errors: ${b.n} from ${(b.from / 1000).toFixed(1)}s to ${(b.to / 1000).toFixed(1)}s; `
        + `fault before: ${f ? `${f.kind} ${f.target} at ${(f.t / 1000).toFixed(1)}s` : 'none'}`);
    }
    const ce = Object.entries(r.recovery.connectErrors).slice(0, 6);
    for (const [k, n] of ce) {
      out.push(`  connect error x${n}: ${k}`);
    }
  }
  return out.join('\n');
}

async function main() {
  let opts;
  try {
    opts = parseArgs(process.argv.slice(2));
  } catch (e) {
    console.error(`chaos: ${e.message}`);
    console.error(USAGE);
    process.exit(2);
  }
  fs.mkdirSync(opts.out, { recursive: true });
  let netns = null;
  const cleanup = () => {
    killAllSync();
    if (netns) {
      netns.remove();
    }
  };
  process.on('SIGINT', () => { cleanup(); process.exit(130); });
  process.on('SIGTERM', () => { cleanup(); process.exit(143); });
  process.on('SIGHUP', () => { cleanup(); process.exit(129); });
  if (opts.netns) {
    if (process.getuid() !== 0) {
      console.error('chaos: network namespaces need root (or run with --no-netns: no latency, loss or partition)');
      process.exit(2);
    }
    netns = new Netns(process.env.CHAOS_NETNS || `fcx${process.pid}`);
    try {
      netns.create();
    } catch (e) {
      netns.remove();
      console.error(`chaos: cannot make network namespace ${netns.name}: ${e.stderr || e.message}`);
      process.exit(2);
    }
  }
  const results = [];
  try {
    for (const p of opts.proxies) {
      results.push(await runOne(opts, p, netns));
    }
  } finally {
    cleanup();
  }
  const report = table(opts, results, netns);
  console.log(report);
  fs.writeFileSync(path.join(opts.out, 'summary.txt'), `${report}\n`);
  const primary = results.find((r) => r.proxy === 'fulcrum') || results[0];
  const ok = primary.errors.length === 0 && primary.ok === true;
  fs.writeFileSync(path.join(opts.out, 'summary.json'), JSON.stringify({
    seed: opts.seed, durationMs: opts.durationMs, quick: opts.quick, perKind: opts.perKind,
    netns: netns ? { netem: netns.netem } : null, recoveryBoundMs: recoveryBoundMs(), stayedMs: STAYED_MS,
    ok, results,
  }, null, 1));
  process.exit(ok ? 0 : 1);
}

main().catch((e) => {
  console.error(`chaos: ${e.stack || e}`);
  killAllSync();
  process.exit(2);
});
