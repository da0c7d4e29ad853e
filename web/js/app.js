// Tidings Web: the page. Plain DOM, no framework: state lives in `Store` (persisted) and a few
// maps here; each change calls the render function of the part it touches.

import { api, Connection } from './net.js';
import { Store, loadSession, saveSession } from './store.js';
import {
  clock, kindOf, listTime, presenceLine, preview, size, tick, validUser,
} from './format.js';

const $ = (id) => document.getElementById(id);
const el = (tag, props = {}, ...children) => {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(props)) {
    if (k === 'class') node.className = v;
    else if (k === 'dataset') Object.assign(node.dataset, v);
    else if (k.startsWith('aria-') || k === 'role') node.setAttribute(k, v);
    else node[k] = v;
  }
  node.append(...children.filter((c) => c !== null && c !== undefined));
  return node;
};

/** Material icons (Apache 2.0) as inline SVG: no icon font, no emoji font needed. */
const ICONS = {
  file: 'M14 2H6c-1.1 0-2 .9-2 2v16c0 1.1.9 2 2 2h12c1.1 0 2-.9 2-2V8l-6-6zm-1 7V3.5L18.5 9H13z',
  download: 'M19 9h-4V3H9v6H5l7 7 7-7zM5 18v2h14v-2H5z',
};
function icon(name) {
  const ns = 'http://www.w3.org/2000/svg';
  const svg = document.createElementNS(ns, 'svg');
  svg.setAttribute('viewBox', '0 0 24 24');
  svg.setAttribute('class', 'i');
  svg.setAttribute('aria-hidden', 'true');
  const path = document.createElementNS(ns, 'path');
  path.setAttribute('d', ICONS[name]);
  svg.append(path);
  return svg;
}

const THUMB_PX = 96;
const THUMB_MAX = 16 * 1024;
const READ_MAX = 1024;

let session = null; // {user, token}
let store = null;
let conn = null;
let current = null; // the open chat's peer
let me = null; // own profile
const profiles = new Map(); // user -> profile frame
const presence = new Map(); // user -> {online, last_seen}
let contacts = new Set();
let blocked = new Set();
const subscribed = new Set();
const mediaUrls = new Map(); // hash -> Promise<object URL>

// Acks and reads waiting for the next flush (sent together, acks first).
let ackUpto = 0;
const reads = new Map(); // peer -> [mid]
let flushTimer = null;

function newCid() {
  const bytes = crypto.getRandomValues(new Uint8Array(12));
  return `w-${[...bytes].map((b) => b.toString(16).padStart(2, '0')).join('')}`;
}

function toast(text) {
  const t = $('toast');
  t.textContent = text;
  t.hidden = false;
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => { t.hidden = true; }, 4000);
}

const visible = () => document.visibilityState === 'visible';
const displayName = (user) => profiles.get(user)?.name || user;

// -- log in

function showLogin(message = '') {
  $('app').hidden = true;
  $('login').hidden = false;
  $('login-error').textContent = message;
  $('login-user').focus();
}

async function onLogin(register) {
  const user = $('login-user').value.trim().toLowerCase();
  const password = $('login-password').value;
  const error = $('login-error');
  error.textContent = '';
  if (!validUser(user)) return void (error.textContent = 'User names are 3–32 of a–z, 0–9, _ . -');
  if (password.length < 8) return void (error.textContent = 'Passwords have at least 8 characters');
  for (const b of document.querySelectorAll('#login-form button')) b.disabled = true;
  try {
    if (register) await api.register(user, password);
    const { token } = await api.login(user, password);
    $('login-password').value = '';
    session = { user, token };
    saveSession(session);
    startApp();
  } catch (e) {
    error.textContent = {
      user_exists: 'That user name is taken',
      unauthorized: 'Wrong user name or password',
      rate_limited: 'Too many attempts, wait a minute',
    }[e.code] || e.message;
  } finally {
    for (const b of document.querySelectorAll('#login-form button')) b.disabled = false;
  }
}

async function logout() {
  const { token } = session;
  conn.stop();
  store.clear();
  saveSession(null);
  for (const p of mediaUrls.values()) p.then((u) => URL.revokeObjectURL(u), () => {});
  mediaUrls.clear();
  profiles.clear();
  presence.clear();
  subscribed.clear();
  current = null;
  session = null;
  try { await api.logout(token); } catch (e) { /* the token may already be gone */ }
  showLogin();
}

// -- the session

function startApp() {
  store = new Store(session.user);
  chatNodes.clear();
  messageNodes.clear();
  conn = new Connection(session.token, store.outbox, { onOutboxChange: () => store.save() });
  conn.addEventListener('state', (e) => onState(e.detail));
  conn.addEventListener('welcome', onWelcome);
  conn.addEventListener('push', (e) => onPush(e.detail));
  conn.addEventListener('sent', (e) => {
    const m = store.sent(e.detail);
    store.save();
    if (m) renderPeer(m.to);
  });
  conn.addEventListener('failed', (e) => {
    const m = store.failed(e.detail.cid);
    store.save();
    toast(e.detail.code === 'not_found' ? 'No such user' : `Not sent: ${e.detail.message}`);
    if (m) renderPeer(m.to);
  });
  conn.addEventListener('presence', (e) => {
    presence.set(e.detail.user, e.detail);
    if (e.detail.user === current) renderHeader();
  });
  window.__tidingsTest = {
    drop: () => conn.drop(),
    dropAfterNextSend: () => { conn.testDropAfterSend = true; },
    state: () => conn.state,
    welcomes: () => conn.welcomes,
    resent: () => conn.resent,
  };
  $('login').hidden = true;
  $('app').hidden = false;
  $('me-name').textContent = session.user;
  renderAvatar($('me-avatar'), session.user);
  renderChats();
  closeChat();
  conn.start();
}

function onState(state) {
  const banner = $('connection');
  banner.replaceChildren();
  banner.dataset.state = state;
  if (state === 'online' || state === 'closed') {
    banner.hidden = true;
    return;
  }
  banner.hidden = false;
  if (state === 'connecting') banner.textContent = 'connecting…';
  else if (state === 'replaced') {
    banner.append('Tidings is open in another window. ',
      el('button', { type: 'button', onclick: () => conn.start() }, 'Use here'));
  } else if (state === 'unauthorized') {
    saveSession(null);
    conn.stop();
    showLogin('Your session has ended, log in again');
  }
}

async function onWelcome() {
  subscribed.clear();
  const peers = [...store.chats.keys()];
  watch(peers);
  if (current) {
    refreshPresence(current);
    if (visible()) queueRead(current);
  }
  try {
    const [profile, c, b] = await Promise.all([
      conn.request({ type: 'profile_get', user: session.user }),
      conn.request({ type: 'contacts_list' }),
      conn.request({ type: 'blocked_list' }),
    ]);
    setMe(profile);
    contacts = new Set(c.users);
    blocked = new Set(b.users);
    watch(c.users);
    renderChats();
    if (current) renderHeader();
  } catch (e) {
    // The connection dropped meanwhile: the next welcome asks again.
  }
}

/** Subscribes to presence and loads the profiles of users not yet watched. */
function watch(users) {
  const fresh = users.filter((u) => u !== session.user && !subscribed.has(u));
  if (!fresh.length) return;
  for (const u of fresh) subscribed.add(u);
  conn.post({ type: 'presence_sub', users: fresh });
  for (const u of fresh) loadProfile(u);
}

async function loadProfile(user) {
  try {
    const p = await conn.request({ type: 'profile_get', user });
    profiles.set(user, p);
    renderChats();
    if (user === current) renderHeader();
  } catch (e) { /* shown by name until it loads */ }
}

async function refreshPresence(user) {
  try {
    const p = await conn.request({ type: 'presence_get', user });
    presence.set(user, p);
    if (user === current) renderHeader();
  } catch (e) { /* pushes keep it current */ }
}

function onPush(item) {
  ackUpto = Math.max(ackUpto, item.seq);
  if (item.type === 'msg') {
    const peer = item.from;
    const open = peer === current && visible() && conn.state === 'online';
    if (store.receive(item, open)) {
      if (open) reads.set(peer, [...(reads.get(peer) || []), item.mid]);
      watch([peer]);
      renderPeer(peer);
    }
  } else if (item.type === 'receipt') {
    for (const peer of store.receipt(item)) renderPeer(peer);
  }
  scheduleFlush();
}

function queueRead(peer) {
  if (conn.state !== 'online') return;
  const mids = store.markRead(peer);
  if (mids.length) reads.set(peer, [...(reads.get(peer) || []), ...mids]);
  renderChats();
  scheduleFlush();
}

/** Saves, then acknowledges what was pushed, then sends the read receipts (acks first: the node
 * reports only messages it has delivered). */
function scheduleFlush() {
  if (flushTimer) return;
  flushTimer = setTimeout(() => {
    flushTimer = null;
    store.save();
    if (ackUpto > 0) conn.post({ type: 'ack', upto: ackUpto });
    ackUpto = 0;
    for (const [peer, mids] of reads) {
      for (let i = 0; i < mids.length; i += READ_MAX) readLater(peer, mids.slice(i, i + READ_MAX));
    }
    reads.clear();
    renderTitle();
  }, 0);
}

/** Sends a `read`; the node answers `ok` once the receipt is stored for the sender, else an
 * error with `retry_ms` (a node stopping, the sender's node down): the mids are read again. */
function readLater(peer, mids) {
  conn.request({ type: 'read', from: peer, mids }).catch((e) => {
    if (e.code === 'bad_request' || e.code === 'not_found') return;
    setTimeout(() => {
      reads.set(peer, [...(reads.get(peer) || []), ...mids]);
      scheduleFlush();
    }, e.retryMs || 1000);
  });
}

// -- sending

function sendText(text) {
  const body = text.trim();
  if (!body || !current) return;
  const frame = { cid: newCid(), to: current, kind: 'text', body };
  store.outgoing(current, frame);
  conn.send(frame);
  store.save();
  renderPeer(current);
}

async function thumbnail(file) {
  try {
    const bitmap = await createImageBitmap(file);
    const scale = Math.min(1, THUMB_PX / Math.max(bitmap.width, bitmap.height));
    const canvas = el('canvas', {
      width: Math.max(1, Math.round(bitmap.width * scale)),
      height: Math.max(1, Math.round(bitmap.height * scale)),
    });
    canvas.getContext('2d').drawImage(bitmap, 0, 0, canvas.width, canvas.height);
    const data = canvas.toDataURL('image/jpeg', 0.6).split(',')[1];
    return data.length * 0.75 <= THUMB_MAX ? data : undefined;
  } catch (e) {
    return undefined;
  }
}

async function sendFile(file) {
  const peer = current;
  toast(`Uploading ${file.name}…`);
  try {
    const uploaded = await api.upload(session.token, file);
    const kind = kindOf(uploaded.mime);
    const media = { hash: uploaded.hash, mime: uploaded.mime, size: uploaded.size, name: file.name };
    if (kind === 'image') {
      const thumb = await thumbnail(file);
      if (thumb) media.thumb = thumb;
    }
    const frame = { cid: newCid(), to: peer, kind, media };
    store.outgoing(peer, frame);
    conn.send(frame);
    store.save();
    renderPeer(peer);
    $('toast').hidden = true;
  } catch (e) {
    toast(`${file.name} was not sent: ${e.message}`);
  }
}

function mediaUrl(hash) {
  if (!mediaUrls.has(hash)) {
    const p = api.download(session.token, hash).then((blob) => URL.createObjectURL(blob));
    p.catch(() => mediaUrls.delete(hash));
    mediaUrls.set(hash, p);
  }
  return mediaUrls.get(hash);
}

// -- rendering

function renderAvatar(node, user, hash = profiles.get(user)?.avatar) {
  node.replaceChildren();
  node.dataset.user = user;
  let h = 0;
  for (const ch of user) h = (h * 31 + ch.charCodeAt(0)) % 360;
  node.style.background = `hsl(${h} 45% 55%)`;
  node.textContent = displayName(user).slice(0, 1).toUpperCase();
  if (hash) {
    mediaUrl(hash).then((url) => {
      if (node.dataset.user !== user) return;
      node.replaceChildren(el('img', { src: url, alt: '' }));
    }, () => {});
  }
}

function renderTitle() {
  let unread = 0;
  for (const c of store.chats.values()) unread += c.unread;
  document.title = unread ? `(${unread}) Tidings` : 'Tidings';
}

const chatNodes = new Map(); // peer -> <li>, kept across renders (focus stays on its button)
const messageNodes = new Map(); // message object -> <li>

function renderChats() {
  if (!store) return;
  const list = $('chats');
  const items = store.sorted().filter((c) => c.messages.length || c.peer === current);
  list.replaceChildren(...items.map((chat) => {
    let li = chatNodes.get(chat.peer);
    if (!li) {
      li = el('li', {}, el('button', {
        type: 'button', class: 'chat', dataset: { peer: chat.peer },
        onclick: () => openChat(chat.peer),
      }));
      chatNodes.set(chat.peer, li);
    }
    const button = li.firstChild;
    const last = chat.messages[chat.messages.length - 1];
    const avatar = el('span', { class: 'avatar', 'aria-hidden': 'true' });
    renderAvatar(avatar, chat.peer);
    const own = last && last.from === session.user;
    button.setAttribute('aria-current', chat.peer === current ? 'true' : 'false');
    button.replaceChildren(avatar,
      el('span', { class: 'chat-text' },
        el('span', { class: 'chat-top' },
          el('span', { class: 'name' }, displayName(chat.peer)),
          last ? el('time', { class: 'muted' }, listTime(last.ts)) : null),
        el('span', { class: 'chat-bottom' },
          el('span', { class: 'preview muted' },
            own ? el('span', { class: `tick ${last.status}` }, `${tick(last.status)} `) : null,
            last ? preview(last) : ''),
          chat.unread ? el('span', {
            class: 'unread', 'aria-label': `${chat.unread} unread`,
          }, String(chat.unread)) : null)));
    return li;
  }));
  $('no-chats').hidden = items.length > 0;
  renderTitle();
}

function renderHeader() {
  if (!current) return;
  $('peer-name').textContent = displayName(current);
  renderAvatar($('peer-avatar'), current);
  const line = presenceLine(presence.get(current));
  $('peer-presence').textContent = line;
  $('peer-presence').dataset.known = String(presence.has(current));
  const isBlocked = blocked.has(current);
  $('block').textContent = isBlocked ? 'Unblock' : 'Block';
  $('block').setAttribute('aria-pressed', String(isBlocked));
  $('blocked-note').hidden = !isBlocked;
  $('add-contact').hidden = contacts.has(current) || current === session.user;
  $('text').disabled = isBlocked;
  $('send').disabled = isBlocked;
  $('attach').disabled = isBlocked;
}

function messageNode(m) {
  let node = messageNodes.get(m);
  const own = m.from === session.user;
  if (!node) {
    const bubble = el('div', { class: 'bubble' });
    if (m.media) bubble.append(mediaNode(m));
    if (m.body) bubble.append(el('p', { class: 'text' }, m.body));
    bubble.append(el('span', { class: 'meta' },
      el('time', { dateTime: new Date(m.ts).toISOString() }, clock(m.ts)),
      own ? el('span', { class: 'tick' }) : null));
    node = el('li', { class: `msg ${own ? 'out' : 'in'}` }, bubble);
    messageNodes.set(m, node);
  }
  node.dataset.mid = m.mid || '';
  node.dataset.cid = m.cid || '';
  if (m.media) node.dataset.hash = m.media.hash;
  if (own) {
    node.dataset.status = m.status;
    const t = node.querySelector('.tick');
    t.textContent = tick(m.status);
    t.className = `tick ${m.status}`;
    t.setAttribute('aria-label', m.status);
    t.title = m.status;
  }
  return node;
}

function mediaNode(m) {
  const { hash, mime, name } = m.media;
  if (m.kind === 'image') {
    const img = el('img', {
      class: 'photo', alt: name ? `Photo: ${name}` : 'Photo', width: 240, height: 180,
    });
    if (m.media.thumb) img.src = `data:image/jpeg;base64,${m.media.thumb}`;
    mediaUrl(hash).then((url) => {
      img.onload = () => {
        img.removeAttribute('width');
        img.removeAttribute('height');
        img.dataset.loaded = 'true';
      };
      img.src = url;
    }, () => { img.alt = 'Photo (not available)'; });
    return el('a', {
      href: '#', class: 'photo-link', 'aria-label': 'Open photo',
      onclick: (e) => { e.preventDefault(); mediaUrl(hash).then((u) => window.open(u, '_blank')); },
    }, img);
  }
  const download = el('button', {
    type: 'button', class: 'download', 'aria-label': `Download ${name || 'file'}`,
    onclick: async () => {
      try {
        const url = await mediaUrl(hash);
        const a = el('a', { href: url, download: name || hash });
        document.body.append(a);
        a.click();
        a.remove();
      } catch (e) {
        toast(`Cannot download: ${e.message}`);
      }
    },
  }, icon('download'));
  return el('div', { class: 'file' }, el('span', { class: 'file-icon' }, icon('file')),
    el('span', { class: 'file-text' }, el('span', { class: 'file-name' }, name || 'File'),
      el('span', { class: 'muted' }, `${size(m.media.size)} · ${mime}`)), download);
}

function renderMessages() {
  const list = $('messages');
  const chat = store.chats.get(current);
  const nodes = chat ? chat.messages.map(messageNode) : [];
  const atBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 40;
  const same = nodes.length === list.children.length && nodes.every((n, i) => list.children[i] === n);
  if (!same) list.replaceChildren(...nodes);
  if (atBottom || !same) list.scrollTop = list.scrollHeight;
}

/** Something changed in the chat with `peer`. */
function renderPeer(peer) {
  renderChats();
  if (peer === current) renderMessages();
}

// -- chats

function openChat(peer) {
  current = peer;
  store.chat(peer);
  $('conversation').hidden = false;
  $('placeholder').hidden = true;
  $('app').classList.add('chat-open');
  presence.delete(peer);
  watch([peer]);
  renderHeader();
  renderMessages();
  renderChats();
  refreshPresence(peer);
  if (visible()) queueRead(peer);
  $('text').focus();
}

function closeChat() {
  current = null;
  $('conversation').hidden = true;
  $('placeholder').hidden = false;
  $('app').classList.remove('chat-open');
  renderChats();
}

async function toggleBlock() {
  const peer = current;
  const isBlocked = blocked.has(peer);
  try {
    await conn.request({ type: isBlocked ? 'unblock' : 'block', user: peer });
    if (isBlocked) blocked.delete(peer);
    else blocked.add(peer);
    renderHeader();
    refreshPresence(peer);
  } catch (e) {
    toast(e.message);
  }
}

async function addContact() {
  try {
    await conn.request({ type: 'contacts_add', user: current });
    contacts.add(current);
    renderHeader();
  } catch (e) {
    toast(e.message);
  }
}

// -- dialogs

function openNewChat() {
  const dialog = $('new-chat-dialog');
  $('new-chat-error').textContent = '';
  $('new-chat-user').value = '';
  $('contact-list').replaceChildren(...[...contacts].sort().map((u) => el('li', {},
    el('button', {
      type: 'button', class: 'link', onclick: () => { dialog.close(); openChat(u); },
    }, displayName(u), u !== displayName(u) ? el('span', { class: 'muted' }, ` @${u}`) : null))));
  if (!contacts.size) $('contact-list').append(el('li', { class: 'muted' }, 'No contacts yet'));
  dialog.showModal();
}

async function onNewChat(e) {
  e.preventDefault();
  const user = $('new-chat-user').value.trim().toLowerCase();
  const error = $('new-chat-error');
  if (!validUser(user)) return void (error.textContent = 'Not a valid user name');
  try {
    const p = await conn.request({ type: 'profile_get', user });
    profiles.set(user, p);
    $('new-chat-dialog').close();
    openChat(user);
  } catch (err) {
    error.textContent = err.code === 'not_found' ? 'No such user' : err.message;
  }
}

function setMe(profile) {
  me = profile;
  $('me-name').textContent = profile.name || session.user;
  profiles.set(session.user, profile);
  renderAvatar($('me-avatar'), session.user, profile.avatar);
}

function openProfile() {
  if (!me) return toast('Not connected yet');
  $('profile-error').textContent = '';
  $('profile-name').value = me.name;
  $('profile-about').value = me.about;
  $('profile-last-seen').value = me.privacy?.last_seen || 'everyone';
  $('profile-receipts').checked = me.privacy?.read_receipts !== false;
  renderAvatar($('profile-avatar'), session.user, me.avatar);
  renderBlockedList();
  $('profile-dialog').showModal();
}

function renderBlockedList() {
  const list = $('blocked-list');
  list.replaceChildren(...[...blocked].sort().map((u) => el('li', {}, `${u} `,
    el('button', {
      type: 'button', 'aria-label': `Unblock ${u}`,
      onclick: async () => {
        try {
          await conn.request({ type: 'unblock', user: u });
          blocked.delete(u);
          renderBlockedList();
          if (u === current) renderHeader();
        } catch (e) { $('profile-error').textContent = e.message; }
      },
    }, 'Unblock'))));
  if (!blocked.size) list.append(el('li', { class: 'muted' }, 'Nobody'));
}

async function saveProfile(changes) {
  try {
    setMe(await conn.request({ type: 'profile_set', ...changes }));
    renderAvatar($('profile-avatar'), session.user, me.avatar);
    return true;
  } catch (e) {
    $('profile-error').textContent = e.message;
    return false;
  }
}

async function onProfileSubmit(e) {
  e.preventDefault();
  const ok = await saveProfile({
    name: $('profile-name').value,
    about: $('profile-about').value,
    privacy: { last_seen: $('profile-last-seen').value, read_receipts: $('profile-receipts').checked },
  });
  if (ok) $('profile-dialog').close();
}

async function onAvatarFile() {
  const file = $('profile-avatar-file').files[0];
  $('profile-avatar-file').value = '';
  if (!file) return;
  try {
    const { hash } = await api.upload(session.token, file);
    await saveProfile({ avatar: hash });
  } catch (e) {
    $('profile-error').textContent = e.message;
  }
}

// -- wiring

function wire() {
  $('login-form').addEventListener('submit', (e) => { e.preventDefault(); onLogin(false); });
  $('register-submit').addEventListener('click', () => onLogin(true));
  $('logout').addEventListener('click', logout);
  $('new-chat').addEventListener('click', openNewChat);
  $('new-chat-form').addEventListener('submit', onNewChat);
  $('me').addEventListener('click', openProfile);
  $('profile-form').addEventListener('submit', onProfileSubmit);
  $('profile-avatar-file').addEventListener('change', onAvatarFile);
  $('profile-avatar-remove').addEventListener('click', () => saveProfile({ avatar: null }));
  for (const b of document.querySelectorAll('dialog [data-close]'))
    b.addEventListener('click', () => b.closest('dialog').close());
  $('back').addEventListener('click', closeChat);
  $('block').addEventListener('click', toggleBlock);
  $('add-contact').addEventListener('click', addContact);
  $('composer').addEventListener('submit', (e) => {
    e.preventDefault();
    sendText($('text').value);
    $('text').value = '';
    $('text').focus();
  });
  $('text').addEventListener('keydown', (e) => {
    if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) {
      e.preventDefault();
      $('composer').requestSubmit();
    }
  });
  $('attach').addEventListener('change', async () => {
    const files = [...$('attach').files];
    $('attach').value = '';
    for (const f of files) await sendFile(f);
  });
  document.addEventListener('keydown', (e) => {
    if (e.key === 'Escape' && current && !document.querySelector('dialog[open]')) closeChat();
  });
  // Background state (Page Visibility API): a hidden page is a phone in the pocket, its
  // session does not move last seen; coming back reads the open chat.
  document.addEventListener('visibilitychange', () => {
    if (!conn) return;
    conn.post({ type: 'state', foreground: visible() });
    if (visible() && current) queueRead(current);
  });
}

wire();
session = loadSession();
if (session) startApp();
else showLogin();

