'use strict';

// Drives Fulcrum's dashboard (GET / on the admin API) in Debian's chromium through
// playwright-core, one command at a time, so that a Java test can change the world (kill a
// backend, start it again) between looks. Used by src/test/java/fulcrum/admin/DashboardBrowserTest.java.
//
//   node dashboard.js --url http://127.0.0.1:ADMIN_PORT/ --out DIR [--chromium /usr/bin/chromium]
//                     [--timeout-ms 20000]
//
// stdin: one JSON command per line; stdout: one JSON object per line, {"event":"reply","cmd":...,
// "ok":true|false,...} for each command, plus "console" and "pageerror" events of the page.
//   {"cmd":"open"}                                 new tab at --url; reply: view ("live"|"login"), actions
//   {"cmd":"login","token":"..."}                  gives the token in the page's form; reply: view, actions
//   {"cmd":"table"}                                what the tables show: listeners, groups, changes
//   {"cmd":"waitState","group":G,"target":T,"state":S}   until T's row says S; reply: ms
//   {"cmd":"waitGone","group":G,"target":T}        until T's row is gone; reply: ms
//   {"cmd":"waitRate","group":G,"target":T}        until T's requests/s cell shows more than 0; reply: ms
//   {"cmd":"waitText","group":G,"target":T,"text":X}    until T's row contains X; reply: ms, row
//   {"cmd":"waitStatus","text":X}                  until the page's status line contains X; reply: ms
//   {"cmd":"deregister","group":G,"target":T}      clicks Deregister, accepts the confirmation
//   {"cmd":"register","group":G,"target":T}        fills the group's register form and submits it
//   {"cmd":"screenshot","name":N}                  full page to DIR/N.png; reply: path
//   {"cmd":"quit"}
// Exit 0 after quit, 1 on a fatal error, 2 on bad arguments.

const fs = require('fs');
const path = require('path');
const readline = require('readline');
const { chromium } = require('playwright-core');

const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'];

function parseArgs(argv) {
  const opts = { chromium: '/usr/bin/chromium', timeoutMs: 20000 };
  for (let i = 0; i < argv.length; i++) {
    const value = argv[i + 1];
    switch (argv[i]) {
      case '--url': opts.url = value; i++; break;
      case '--out': opts.out = value; i++; break;
      case '--chromium': opts.chromium = value; i++; break;
      case '--timeout-ms': opts.timeoutMs = Number(value); i++; break;
      default: throw new Error(`unknown argument '${argv[i]}'`);
    }
  }
  if (!opts.url || !opts.out || !(opts.timeoutMs > 0)) {
    throw new Error('--url and --out are required, --timeout-ms must be positive');
  }
  return opts;
}

function emit(event) {
  process.stdout.write(JSON.stringify(event) + '\n');
}

/** The section of group G and the row of target T in it (CSS.escape is not in node). */
function rowSelector(group, target) {
  const id = 'group-' + group.replace(/[^A-Za-z0-9_-]/g, '_');
  return `#${id} tbody tr[data-key="${target.replace(/["\\]/g, '\\$&')}"]`;
}

async function view(page, opts) {
  await page.waitForFunction(() => !document.getElementById('live').hidden
      || !document.getElementById('login').hidden, null, { timeout: opts.timeoutMs });
  const live = await page.isVisible('#live');
  return {
    view: live ? 'live' : 'login',
    status: (await page.textContent('#status')).trim(),
    actions: await page.locator('button.deregister:visible, form.register:visible').count(),
  };
}

async function table(page) {
  return page.evaluate(() => {
    const text = (cells) => Array.from(cells).map((c) => c.textContent.trim());
    const rows = (tbody) => Array.from(tbody.rows).map((r) => text(r.cells));
    return {
      listeners: rows(document.querySelector('#listeners tbody')),
      groups: Array.from(document.querySelectorAll('section.group')).map((s) => ({
        title: s.querySelector('h2').textContent,
        summary: s.querySelector('.summary').textContent,
        head: text(s.querySelectorAll('thead th')),
        rows: rows(s.querySelector('tbody')),
        charts: s.querySelectorAll('tbody svg.chart path').length,
      })),
      changes: rows(document.querySelector('#changes tbody')),
    };
  });
}

async function run(opts) {
  fs.mkdirSync(opts.out, { recursive: true });
  const browser = await chromium.launch({ executablePath: opts.chromium, headless: true,
    args: CHROMIUM_ARGS, timeout: opts.timeoutMs });
  let context = null;
  let page = null;
  const lines = readline.createInterface({ input: process.stdin });
  try {
    for await (const line of lines) {
      if (!line.trim()) {
        continue;
      }
      const c = JSON.parse(line);
      const started = Date.now();
      try {
        let reply = {};
        switch (c.cmd) {
          case 'open':
            if (context) {
              await context.close();
            }
            context = await browser.newContext({ viewport: { width: 1400, height: 900 } });
            page = await context.newPage();
            page.on('console', (m) => emit({ event: 'console', type: m.type(), text: m.text() }));
            page.on('pageerror', (e) => emit({ event: 'pageerror', message: e.message }));
            page.on('dialog', (d) => d.accept());
            await page.goto(opts.url, { waitUntil: 'load', timeout: opts.timeoutMs });
            reply = await view(page, opts);
            break;
          case 'login':
            await page.fill('#token', c.token);
            await page.click('#token-form button');
            // Either the data shows, or the page says the token was refused.
            await page.waitForFunction(() => !document.getElementById('live').hidden
                || document.getElementById('status').textContent.includes('refused'), null, { timeout: opts.timeoutMs });
            reply = await view(page, opts);
            break;
          case 'table':
            reply = await table(page);
            break;
          case 'waitState':
            await page.waitForFunction(({ sel, state }) => {
              const r = document.querySelector(sel);
              return r && r.dataset.state === state && r.querySelector('.badge').textContent.includes(state);
            }, { sel: rowSelector(c.group, c.target), state: c.state }, { timeout: opts.timeoutMs, polling: 50 });
            reply = { ms: Date.now() - started, row: await page.locator(rowSelector(c.group, c.target)).innerText() };
            break;
          case 'waitText':
            await page.waitForFunction(({ sel, text }) => {
              const r = document.querySelector(sel);
              return r && r.textContent.includes(text);
            }, { sel: rowSelector(c.group, c.target), text: c.text }, { timeout: opts.timeoutMs, polling: 50 });
            reply = { ms: Date.now() - started, row: await page.locator(rowSelector(c.group, c.target)).innerText() };
            break;
          case 'waitStatus':
            await page.waitForFunction((text) => document.getElementById('status').textContent.includes(text),
              c.text, { timeout: opts.timeoutMs, polling: 100 });
            reply = { ms: Date.now() - started, status: (await page.textContent('#status')).trim() };
            break;
          case 'waitGone':
            await page.waitForSelector(rowSelector(c.group, c.target), { state: 'detached', timeout: opts.timeoutMs });
            reply = { ms: Date.now() - started };
            break;
          case 'waitRate':
            await page.waitForFunction((sel) => {
              const r = document.querySelector(sel);
              return r && Number(r.cells[7].textContent) > 0;
            }, rowSelector(c.group, c.target), { timeout: opts.timeoutMs, polling: 100 });
            reply = { ms: Date.now() - started, row: await page.locator(rowSelector(c.group, c.target)).innerText() };
            break;
          case 'deregister':
            await page.click(`${rowSelector(c.group, c.target)} button.deregister`);
            await page.waitForFunction((sel) => {
              const r = document.querySelector(sel);
              return r && r.dataset.state === 'draining';
            }, rowSelector(c.group, c.target), { timeout: opts.timeoutMs });
            reply = { message: (await page.textContent('#message')).trim(),
              row: await page.locator(rowSelector(c.group, c.target)).innerText() };
            break;
          case 'register': {
            const form = `form.register[data-group="${c.group}"]`;
            await page.fill(`${form} input[name=target]`, c.target);
            await page.click(`${form} button`);
            await page.waitForSelector(rowSelector(c.group, c.target), { timeout: opts.timeoutMs });
            reply = { message: (await page.textContent('#message')).trim() };
            break;
          }
          case 'screenshot': {
            const file = path.join(opts.out, `${c.name}.png`);
            await page.screenshot({ path: file, fullPage: true });
            reply = { path: file };
            break;
          }
          case 'quit':
            emit({ event: 'reply', cmd: 'quit', ok: true });
            return;
          default:
            throw new Error(`unknown command '${c.cmd}'`);
        }
        emit({ event: 'reply', cmd: c.cmd, ok: true, ...reply });
      } catch (e) {
        emit({ event: 'reply', cmd: c.cmd, ok: false, error: String(e && e.message || e).split('\n')[0] });
      }
    }
  } finally {
    if (context) {
      await context.close().catch(() => {});
    }
    await browser.close();
  }
}

let opts;
try {
  opts = parseArgs(process.argv.slice(2));
} catch (e) {
  emit({ event: 'reply', cmd: 'start', ok: false, error: `bad arguments: ${e.message}` });
  process.exit(2);
}
run(opts).then(() => process.exit(0), (e) => {
  emit({ event: 'reply', cmd: 'start', ok: false, error: String(e && e.stack || e) });
  process.exit(1);
});
