'use strict';

// Two people chatting in real browsers: Debian's chromium, driven through playwright-core (which
// downloads no browser), opens the chat page (docker/chat/public/index.html) at --url in two
// separate browser contexts (two cookie jars, as two people), waits until both are connected
// over WebSocket, sends a message from the first and waits for it on both, then a reply from the
// second and waits for that on both. Screenshots of both pages go to --out. Used by src/test/java/fulcrum/socketio/BrowserChatTest.java.
//
//   node chat.js --url http://127.0.0.1:PORT/ --out DIR [--chromium /usr/bin/chromium]
//                [--timeout-ms 30000] [--attempts 3]
//
// --attempts: contexts tried for the second person until one lands on another server than the
// first, so the message has to cross servers through Redis (the last one is kept either way).
//
// stdout: one JSON object per line; the last is
//   {"event":"result","ok":true|false,"reason":...,"message","reply","pages":[{"name","server","transport",
//    "cookies":[names],"protocols":[the page's and polls' nextHopProtocol],"messages":[texts],"screenshot"}]}
// Exit 0 when ok, 1 when not, 2 on bad arguments.

const fs = require('fs');
const path = require('path');
const { chromium } = require('playwright-core');

// Known to work on this project's machines: no GPU, no sandbox (root), no network beyond loopback.
const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'];

function parseArgs(argv) {
  const opts = { chromium: '/usr/bin/chromium', timeoutMs: 30000, attempts: 3 };
  for (let i = 0; i < argv.length; i++) {
    const value = argv[i + 1];
    switch (argv[i]) {
      case '--url': opts.url = value; i++; break;
      case '--out': opts.out = value; i++; break;
      case '--chromium': opts.chromium = value; i++; break;
      case '--timeout-ms': opts.timeoutMs = Number(value); i++; break;
      case '--attempts': opts.attempts = Number(value); i++; break;
      default: throw new Error(`unknown argument '${argv[i]}'`);
    }
  }
  if (!opts.url || !opts.out) {
    throw new Error('--url and --out are required');
  }
  if (!(opts.timeoutMs > 0) || !(opts.attempts >= 1)) {
    throw new Error('--timeout-ms and --attempts must be positive');
  }
  return opts;
}

function emit(event) {
  process.stdout.write(JSON.stringify(event) + '\n');
}

async function text(page, selector) {
  return (await page.textContent(selector)).trim();
}

/** Opens the chat page in a new context and waits until Socket.IO has upgraded to WebSocket. */
async function openPerson(browser, name, opts) {
  // ignoreHTTPSErrors: an https --url is served with a test certificate.
  const context = await browser.newContext({ viewport: { width: 800, height: 600 }, ignoreHTTPSErrors: true });
  const page = await context.newPage();
  page.on('console', (m) => emit({ event: 'console', page: name, type: m.type(), text: m.text() }));
  page.on('pageerror', (e) => emit({ event: 'pageerror', page: name, message: e.message }));
  await page.goto(opts.url, { waitUntil: 'load', timeout: opts.timeoutMs });
  await page.waitForFunction(() => document.getElementById('status').textContent === 'connected'
      && document.getElementById('transport').textContent === 'websocket'
      && document.getElementById('server').textContent !== '-', null, { timeout: opts.timeoutMs });
  const person = { name, context, page, server: await text(page, '#server'),
    transport: await text(page, '#transport') };
  emit({ event: 'connected', page: name, server: person.server, transport: person.transport });
  return person;
}

async function describe(person, out) {
  const screenshot = path.join(out, `${person.name}.png`);
  await person.page.screenshot({ path: screenshot });
  return {
    name: person.name,
    server: await text(person.page, '#server'),
    transport: await text(person.page, '#transport'),
    status: await text(person.page, '#status'),
    cookies: (await person.context.cookies()).map((c) => c.name),
    // The protocol the page and its Socket.IO polls came over ("h2", "http/1.1").
    protocols: await person.page.evaluate(() => [...new Set(performance.getEntries()
      .filter((e) => e.entryType === 'navigation' || e.name.includes('/socket.io/'))
      .map((e) => e.nextHopProtocol))]),
    messages: await person.page.$$eval('#messages li', (lis) => lis.map((li) => li.textContent)),
    screenshot,
  };
}

async function run(opts) {
  fs.mkdirSync(opts.out, { recursive: true });
  // playwright's own temporary profile is new and empty for every launch.
  const browser = await chromium.launch({ executablePath: opts.chromium, headless: true,
    args: CHROMIUM_ARGS, timeout: opts.timeoutMs });
  const people = [];
  try {
    const alice = await openPerson(browser, 'alice', opts);
    people.push(alice);
    let bob;
    for (let attempt = 1; attempt <= opts.attempts; attempt++) {
      bob = await openPerson(browser, 'bob', opts);
      if (bob.server !== alice.server || attempt === opts.attempts) {
        break;
      }
      await bob.context.close();
    }
    people.push(bob);

    const message = `hello from alice on ${alice.server}`;
    const reply = `hello back from bob on ${bob.server}`;
    let reason = null;
    try {
      for (const [from, text] of [[alice, message], [bob, reply]]) {
        await from.page.fill('#input', text);
        await from.page.click('#send');
        for (const p of people) {
          await p.page.locator('#messages li', { hasText: text }).waitFor({ timeout: opts.timeoutMs });
        }
      }
    } catch (e) {
      reason = `message not shown on every page: ${e.message.split('\n')[0]}`;
    }
    const pages = [];
    for (const p of people) {
      pages.push(await describe(p, opts.out));
    }
    emit({ event: 'result', ok: reason === null, reason, message, reply, pages });
    return reason === null;
  } finally {
    for (const p of people) {
      await p.context.close().catch(() => {});
    }
    await browser.close();
  }
}

let opts;
try {
  opts = parseArgs(process.argv.slice(2));
} catch (e) {
  emit({ event: 'result', ok: false, reason: `bad arguments: ${e.message}` });
  process.exit(2);
}
// A hung browser must not hold the test past its own timeout.
setTimeout(() => {
  emit({ event: 'result', ok: false, reason: 'timed out' });
  process.exit(1);
}, opts.timeoutMs * 4).unref();
run(opts).then((ok) => process.exit(ok ? 0 : 1), (e) => {
  emit({ event: 'result', ok: false, reason: String(e && e.stack || e) });
  process.exit(1);
});
