// Tidings Web in a real browser: Debian's Chromium (headless), driven by puppeteer-core, against
// a real tidings-node on a loopback port with a temp data dir. Two browser contexts are two
// people (alice and bob); every check reads the DOM. The steps build on each other, in order.
//
// ctest runs it (`web_tests`) from build/tests/web, where the build installed puppeteer-core
// with `npm ci`. By hand, and to refresh the screenshots of the main views in docs/web-*.png:
//   cd build/tests/web && node web_test.mjs --node=../../tools/tidings-node --web=../../tools/web --shots=../../../docs

import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import puppeteer from 'puppeteer-core';
import { NodeProcess, makePng } from './node_process.mjs';

const args = Object.fromEntries(process.argv.slice(2).map((a) => {
  const [k, ...v] = a.replace(/^--/, '').split('=');
  return [k, v.join('=')];
}));
const NODE = args.node || 'build/tools/tidings-node';
const WEB = args.web || 'build/tools/web';
const SHOTS = args.shots || join(tmpdir(), 'tidings-web-shots');
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const WAIT = 10000; // every wait for the page has this deadline
const PASSWORD = 'correct horse battery';
const DESKTOP = { width: 1180, height: 760 };
const PHONE = { width: 390, height: 760 };

let node;
let browser;
let profileDir;
let files;
const png = () => join(files, 'sunset.png');
let alice; // {context, page}
let bob;

/** A raw HTTP request (no URL normalisation, unlike fetch): {status, headers, body}. */
function http(method, path, headers = {}) {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port: node.port, method, path, headers }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({
        status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks).toString(),
      }));
    });
    req.on('error', reject);
    req.end();
  });
}

async function person(viewport = DESKTOP) {
  const context = await browser.createBrowserContext();
  const page = await context.newPage();
  await page.setViewport(viewport);
  page.on('pageerror', (e) => console.error('page error:', e.message));
  page.on('console', (m) => { if (m.type() === 'error') console.error('page console:', m.text()); });
  await page.goto(node.url, { waitUntil: 'domcontentloaded' });
  return { context, page };
}

async function reopen(who) {
  who.page = await who.context.newPage();
  await who.page.setViewport(DESKTOP);
  await who.page.goto(node.url, { waitUntil: 'domcontentloaded' });
}

const online = (page) => page.waitForFunction(
  () => window.__tidingsTest?.state() === 'online', { timeout: WAIT });

async function register(page, user) {
  await page.waitForSelector('#login-user', { visible: true, timeout: WAIT });
  await page.type('#login-user', user);
  await page.type('#login-password', PASSWORD);
  await page.click('#register-submit');
  await online(page);
}

/** Texts of the messages in the open conversation. */
const texts = (page) => page.$$eval('#messages .text', (ps) => ps.map((p) => p.textContent));

async function waitText(page, text) {
  await page.waitForFunction((t) => [...document.querySelectorAll('#messages .text')]
    .some((p) => p.textContent === t), { timeout: WAIT }, text);
}

/** Waits until one's own message `text` has `status` (pending, sent, delivered, read). */
async function waitStatus(page, text, status) {
  await page.waitForFunction((t, s) => [...document.querySelectorAll('#messages li.out')]
    .some((li) => li.querySelector('.text')?.textContent === t && li.dataset.status === s),
  { timeout: WAIT }, text, status);
}

async function tickOf(page, text) {
  return page.$$eval('#messages li.out', (lis, t) => {
    const li = lis.find((l) => l.querySelector('.text')?.textContent === t);
    const tick = li.querySelector('.tick');
    return { text: tick.textContent, color: getComputedStyle(tick).color, status: li.dataset.status };
  }, text);
}

async function openChat(page, peer) {
  const item = `#chats button[data-peer="${peer}"]`;
  if (await page.$(item)) {
    await page.click(item);
  } else {
    await page.click('#new-chat');
    await page.type('#new-chat-user', peer);
    await page.keyboard.press('Enter');
  }
  await page.waitForFunction((p) => !document.getElementById('conversation').hidden &&
    document.getElementById('peer-name').textContent.length > 0 &&
    document.querySelector(`#chats button[data-peer="${p}"]`)?.getAttribute('aria-current') === 'true',
  { timeout: WAIT }, peer);
}

async function say(page, text) {
  await page.type('#text', text);
  await page.keyboard.press('Enter');
}

const presenceIs = (page, pattern) => page.waitForFunction(
  (src) => new RegExp(src).test(document.getElementById('peer-presence').textContent),
  { timeout: WAIT }, pattern.source);

const shot = (page, name) => page.screenshot({ path: join(SHOTS, `web-${name}.png`) });

describe('Tidings Web in Chromium', { timeout: 120000 }, () => {
  before(async () => {
    mkdirSync(SHOTS, { recursive: true });
    files = mkdtempSync(join(tmpdir(), 'tidings-web-files-'));
    profileDir = mkdtempSync(join(tmpdir(), 'tidings-web-chromium-'));
    node = new NodeProcess(NODE, WEB);
    await node.start();
    browser = await puppeteer.launch({
      executablePath: CHROMIUM,
      headless: true,
      userDataDir: profileDir,
      args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
        '--disable-background-networking', '--disable-component-update', '--disable-sync',
        '--disable-dev-shm-usage'],
    });
  });

  after(async () => {
    if (browser) await browser.close();
    if (node) await node.dispose();
    rmSync(profileDir, { recursive: true, force: true });
    rmSync(files, { recursive: true, force: true });
  });

  it('the node serves the client: types, caching, no way out of its folder', async () => {
    const index = await http('GET', '/');
    assert.equal(index.status, 200);
    assert.equal(index.headers['content-type'], 'text/html; charset=utf-8');
    assert.match(index.body, /<script type="module" src="js\/app.js">/);
    assert.equal(index.headers['cache-control'], 'no-cache');
    assert.match(index.headers['content-security-policy'], /default-src 'self'/);
    const again = await http('GET', '/index.html', { 'If-None-Match': index.headers.etag });
    assert.equal(again.status, 304);
    const js = await http('GET', '/js/app.js');
    assert.equal(js.status, 200);
    assert.equal(js.headers['content-type'], 'text/javascript; charset=utf-8');
    assert.equal((await http('HEAD', '/style.css')).headers['content-type'], 'text/css; charset=utf-8');
    for (const bad of ['/../CMakeCache.txt', '/%2e%2e/CMakeCache.txt', '/js/..%2f..%2fCMakeCache.txt', '/.hidden', '/nope.js'])
      assert.equal((await http('GET', bad)).status, 404, bad);
    assert.equal((await http('GET', '/healthz')).status, 200); // the API is still there
  });

  it('--web.enabled=false serves no client; a missing --web.dir stops the node', async () => {
    const off = new NodeProcess(NODE, WEB, ['--web.enabled=false']);
    try {
      await off.start();
      const res = await fetch(`${off.url}/`);
      assert.equal(res.status, 404);
      assert.equal((await res.json()).error, 'not_found');
    } finally {
      await off.dispose();
    }
    const missing = new NodeProcess(NODE, join(files, 'no-such-folder'));
    await assert.rejects(missing.start(), /exited \(2\) before listening/);
    await missing.dispose();
  });

  it('two people register; each page keeps its token and goes online', async () => {
    bob = await person();
    await bob.page.waitForSelector('#login-user', { visible: true, timeout: WAIT });
    const unlabeled = await bob.page.$$eval('input, textarea, select',
      (els) => els.filter((e) => !e.labels?.length && !e.getAttribute('aria-label')).map((e) => e.id));
    assert.deepEqual(unlabeled, [], 'every field has a label');
    await shot(bob.page, 'login');
    await register(bob.page, 'bob');
    alice = await person();
    await register(alice.page, 'alice');
    const stored = await alice.page.evaluate(() => JSON.parse(localStorage.getItem('tidings:v1:session')));
    assert.equal(stored.user, 'alice');
    assert.match(stored.token, /^alice:[0-9a-f]{64}$/);
  });

  it('presence: online while the other page is open, last seen once it is closed', async () => {
    await openChat(alice.page, 'bob');
    await presenceIs(alice.page, /^online$/);
    await bob.page.close();
    await presenceIs(alice.page, /^last seen today at \d\d:\d\d$/);
  });

  it('a message to someone offline gets one tick and arrives at their next login', async () => {
    await say(alice.page, 'Hello Bob');
    await waitStatus(alice.page, 'Hello Bob', 'sent');
    assert.equal((await tickOf(alice.page, 'Hello Bob')).text, '✓');

    await reopen(bob); // the token kept in the browser logs in again
    await online(bob.page);
    await bob.page.waitForSelector('#chats button[data-peer="alice"] .unread', { timeout: WAIT });
    const unread = await bob.page.$eval('#chats button[data-peer="alice"] .unread', (e) => e.textContent);
    assert.equal(unread, '1');
    await waitStatus(alice.page, 'Hello Bob', 'delivered');
    const delivered = await tickOf(alice.page, 'Hello Bob');
    assert.equal(delivered.text, '✓✓');
    assert.notEqual(delivered.color, 'rgb(52, 183, 241)');
  });

  it('reading the conversation turns the ticks blue; replies appear live', async () => {
    await openChat(bob.page, 'alice');
    await waitText(bob.page, 'Hello Bob');
    await waitStatus(alice.page, 'Hello Bob', 'read');
    const read = await tickOf(alice.page, 'Hello Bob');
    assert.equal(read.text, '✓✓');
    assert.equal(read.color, 'rgb(52, 183, 241)'); // blue
    assert.equal(await bob.page.$('#chats button[data-peer="alice"] .unread'), null);

    await say(bob.page, 'Hi Alice — how was the trip?');
    await waitText(alice.page, 'Hi Alice — how was the trip?'); // alice has the chat open: read at once
    await waitStatus(bob.page, 'Hi Alice — how was the trip?', 'read');
  });

  it('a page in the background is away (last seen) and reads once shown again', async () => {
    // Headless Chromium keeps every page visible, so the test plays the Page Visibility API's
    // part: the property the page reads and the event it listens to.
    const setHidden = (page, hidden) => page.evaluate((h) => {
      if (h) {
        Object.defineProperty(document, 'visibilityState', { configurable: true, get: () => 'hidden' });
        Object.defineProperty(document, 'hidden', { configurable: true, get: () => true });
      } else {
        delete document.visibilityState; // back to the real (prototype) getters
        delete document.hidden;
      }
      document.dispatchEvent(new Event('visibilitychange'));
    }, hidden);
    await presenceIs(alice.page, /^online$/);
    await setHidden(bob.page, true);
    await presenceIs(alice.page, /^last seen today at \d\d:\d\d$/);
    await say(alice.page, 'while you were away');
    await waitText(bob.page, 'while you were away'); // the background session still receives
    await waitStatus(alice.page, 'while you were away', 'delivered');
    await setHidden(bob.page, false);
    await waitStatus(alice.page, 'while you were away', 'read');
    await presenceIs(alice.page, /^online$/);
  });

  it('an image arrives and renders; a file arrives as a download', async () => {
    writeFileSync(png(), await makePng(64, 48));
    const doc = join(files, 'notes.txt');
    writeFileSync(doc, 'the minutes of the meeting\n');
    const input = await alice.page.$('#attach');
    await input.uploadFile(png());
    await bob.page.waitForFunction(() => {
      const img = document.querySelector('#messages li.in img.photo[data-loaded="true"]');
      return img && img.naturalWidth === 64 && img.naturalHeight === 48;
    }, { timeout: WAIT });
    await alice.page.waitForSelector('#messages li.out img.photo[data-loaded="true"]', { timeout: WAIT });
    await input.uploadFile(doc);
    await bob.page.waitForFunction(() => [...document.querySelectorAll('#messages li.in .file-name')]
      .some((e) => e.textContent === 'notes.txt'), { timeout: WAIT });
    // The download button fetches the blob with the page's token and saves it under its name.
    await bob.page.evaluate(() => {
      window.__downloads = [];
      HTMLAnchorElement.prototype.click = function click() {
        if (this.download) window.__downloads.push({ name: this.download, href: this.href });
      };
    });
    await bob.page.click('#messages li.in:last-child button.download');
    await bob.page.waitForFunction(() => window.__downloads.length === 1, { timeout: WAIT });
    const saved = await bob.page.evaluate(async () => {
      const { name, href } = window.__downloads[0];
      return { name, body: await (await fetch(href)).text() };
    });
    assert.deepEqual(saved, { name: 'notes.txt', body: 'the minutes of the meeting\n' });
    await shot(alice.page, 'chat');
  });

  it("a blocked user's messages do not appear, and do after unblocking", async () => {
    await bob.page.click('#block');
    await bob.page.waitForFunction(() => document.getElementById('block').textContent === 'Unblock',
      { timeout: WAIT });
    await say(alice.page, 'you cannot see this');
    await waitStatus(alice.page, 'you cannot see this', 'sent'); // the block is not revealed
    await bob.page.click('#block');
    await bob.page.waitForFunction(() => document.getElementById('block').textContent === 'Block',
      { timeout: WAIT });
    await say(alice.page, 'after unblocking');
    await waitText(bob.page, 'after unblocking');
    assert.ok(!(await texts(bob.page)).includes('you cannot see this'));
    assert.equal((await tickOf(alice.page, 'you cannot see this')).status, 'sent');
  });

  it('a dropped connection reconnects and resends without duplicating', async () => {
    const before = await alice.page.evaluate(() => window.__tidingsTest.welcomes());
    await alice.page.evaluate(() => window.__tidingsTest.dropAfterNextSend());
    await say(alice.page, 'through a drop');
    // A new session, on which the send still in the outbox went out again with its cid.
    await alice.page.waitForFunction((n) => window.__tidingsTest.welcomes() === n + 1 &&
      window.__tidingsTest.state() === 'online', { timeout: WAIT }, before);
    assert.ok(await alice.page.evaluate(() => window.__tidingsTest.resent()) >= 1);
    await waitText(bob.page, 'through a drop');
    await waitStatus(alice.page, 'through a drop', 'read');
    const count = (await texts(bob.page)).filter((t) => t === 'through a drop').length;
    assert.equal(count, 1);
    assert.equal((await texts(alice.page)).filter((t) => t === 'through a drop').length, 1);
  });

  it('a node restart shows "connecting…", and what was typed meanwhile arrives once', async () => {
    await node.stop();
    for (const who of [alice, bob]) {
      await who.page.waitForFunction(() => {
        const banner = document.getElementById('connection');
        return !banner.hidden && banner.textContent === 'connecting…';
      }, { timeout: WAIT });
    }
    await say(alice.page, 'while the node was down');
    await waitStatus(alice.page, 'while the node was down', 'pending');
    assert.equal((await tickOf(alice.page, 'while the node was down')).text, '◷');
    await node.start();
    // Their next attempt comes within the backoff (at most 15 s after the last one).
    for (const who of [alice, bob]) {
      await who.page.waitForFunction(() => window.__tidingsTest.state() === 'online',
        { timeout: 20000 });
    }
    await waitText(bob.page, 'while the node was down');
    await waitStatus(alice.page, 'while the node was down', 'read');
    assert.equal(await bob.page.$eval('#connection', (e) => e.hidden), true);
    const all = await texts(bob.page);
    assert.equal(all.filter((t) => t === 'while the node was down').length, 1);
    assert.equal(all.filter((t) => t === 'through a drop').length, 1);
  });

  it('a profile edit with last seen hidden; contacts; the phone layout', async () => {
    await bob.page.click('#me');
    await bob.page.waitForSelector('#profile-dialog[open]', { timeout: WAIT });
    await bob.page.$eval('#profile-name', (e) => { e.value = ''; });
    await bob.page.type('#profile-name', 'Bob Builder');
    await bob.page.type('#profile-about', 'Can we fix it?');
    await bob.page.select('#profile-last-seen', 'nobody');
    await (await bob.page.$('#profile-avatar-file')).uploadFile(png()); // saved at once
    await bob.page.waitForSelector('#profile-avatar img', { timeout: WAIT });
    await shot(bob.page, 'profile');
    await bob.page.click('#profile-save');
    await bob.page.waitForFunction(() => document.getElementById('me-name').textContent === 'Bob Builder' &&
      !document.getElementById('profile-dialog').open, { timeout: WAIT });

    await alice.page.click('#add-contact');
    await alice.page.waitForFunction(() => document.getElementById('add-contact').hidden, { timeout: WAIT });
    await alice.page.reload({ waitUntil: 'domcontentloaded' });
    await online(alice.page);
    await openChat(alice.page, 'bob');
    await alice.page.waitForFunction(() => document.getElementById('peer-name').textContent === 'Bob Builder',
      { timeout: WAIT });
    // bob's photo, downloaded with alice's token (an avatar is readable by whoever sees the profile)
    await alice.page.waitForFunction(() => document.querySelector('#peer-avatar img')?.naturalWidth === 64,
      { timeout: WAIT });
    await waitText(alice.page, 'Hi Alice — how was the trip?'); // the history survived the reload
    // bob shows no last seen to anyone now: the line stays empty while he is online.
    await alice.page.waitForFunction(() => document.getElementById('peer-presence').dataset.known === 'true',
      { timeout: WAIT });
    assert.equal(await alice.page.$eval('#peer-presence', (e) => e.textContent), '');

    await bob.page.setViewport(PHONE);
    await bob.page.click('#back');
    await bob.page.waitForFunction(() => document.getElementById('conversation').hidden, { timeout: WAIT });
    const sidebar = await bob.page.$eval('.sidebar', (e) => e.getBoundingClientRect().width);
    assert.equal(Math.round(sidebar), PHONE.width);
    await shot(bob.page, 'phone-list');
    await openChat(bob.page, 'alice');
    const list = await bob.page.$eval('.sidebar', (e) => getComputedStyle(e).display);
    assert.equal(list, 'none'); // one pane at a time
    await shot(bob.page, 'phone-chat');
  });

  it('log out revokes the token; logging in again with the keyboard works', async () => {
    await bob.page.setViewport(DESKTOP);
    const { token } = await bob.page.evaluate(() => JSON.parse(localStorage.getItem('tidings:v1:session')));
    await bob.page.click('#logout');
    await bob.page.waitForSelector('#login-user', { visible: true, timeout: WAIT });
    assert.equal(await bob.page.evaluate(() => localStorage.getItem('tidings:v1:session')), null);
    const revoked = await http('DELETE', '/v1/sessions', { Authorization: `Bearer ${token}` });
    assert.equal(revoked.status, 401);
    await bob.page.focus('#login-user');
    await bob.page.keyboard.type('bob');
    await bob.page.keyboard.press('Tab');
    await bob.page.keyboard.type(PASSWORD);
    await bob.page.keyboard.press('Enter');
    await online(bob.page);
  });
});
