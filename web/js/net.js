// The node's HTTP API (accounts, media) and the WebSocket session (docs/PROTOCOL.md), both on
// the page's own origin. JSON text frames only.

import { backoff } from './format.js';

/** An HTTP or protocol error: `code` is the protocol's error code. */
export class ApiError extends Error {
  constructor(code, message, retryMs) {
    super(message || code);
    this.code = code;
    this.retryMs = retryMs;
  }
}

async function call(method, path, { token, json, body, type } = {}) {
  const headers = {};
  if (token) headers.Authorization = `Bearer ${token}`;
  if (json !== undefined) headers['Content-Type'] = 'application/json';
  else if (type) headers['Content-Type'] = type;
  let res;
  try {
    res = await fetch(path, { method, headers, body: json !== undefined ? JSON.stringify(json) : body });
  } catch (e) {
    throw new ApiError('unavailable', 'cannot reach the server');
  }
  if (res.ok) return res;
  let err = {};
  try { err = await res.json(); } catch (e) { /* not JSON */ }
  throw new ApiError(err.error || `http_${res.status}`, err.message || res.statusText);
}

export const api = {
  register: (user, password) => call('POST', '/v1/accounts', { json: { user, password } }),
  async login(user, password) {
    return (await call('POST', '/v1/sessions', { json: { user, password } })).json();
  },
  logout: (token) => call('DELETE', '/v1/sessions', { token }),
  /** Uploads a File/Blob; resolves to {hash, size, mime}. */
  async upload(token, blob) {
    const type = blob.type || 'application/octet-stream';
    return (await call('POST', '/v1/media', { token, body: blob, type })).json();
  },
  /** Downloads a media blob (a Blob). */
  async download(token, hash) {
    return (await call('GET', `/v1/media/${hash}`, { token })).blob();
  },
};

const REQUEST_TIMEOUT_MS = 15000;
const PING_MS = 25000; // the node closes sessions idle for 60 s

/**
 * One user's live session, kept up by itself.
 *
 * Events: `state` (detail: 'connecting' | 'online' | 'replaced' | 'unauthorized' | 'closed'),
 * `welcome`, `push` (detail: a `msg` or `receipt` item), `presence` (a pushed presence frame),
 * `sent` (detail: {cid, mid, ts}), `failed` (detail: {cid, code, message}).
 *
 * Sends go through an outbox (`outbox`: cid → send frame, kept by the caller across reloads):
 * a send stays there until its `sent` arrives, and everything still there is sent again, with
 * the same cid, after every reconnect, so the node stores it once whatever was lost.
 */
export class Connection extends EventTarget {
  constructor(token, outbox, { onOutboxChange } = {}) {
    super();
    this.token = token;
    this.outbox = outbox; // Map cid -> frame
    this.onOutboxChange = onOutboxChange || (() => {});
    this.state = 'closed';
    this.nextId = 1;
    this.pending = new Map(); // id -> {resolve, reject, timer}
    this.sendIds = new Map(); // id -> cid
    this.attempt = 0;
    this.ws = null;
    this.stopped = true;
    this.retryTimer = null;
    this.pingTimer = null;
    this.testDropAfterSend = false; // test hook: drop the socket right after the next send
    this.welcomes = 0; // sessions opened (test hook)
    this.resent = 0; // sends repeated from the outbox after a reconnect (test hook)
  }

  start() {
    this.stopped = false;
    this.open();
  }

  stop() {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    clearInterval(this.pingTimer);
    if (this.ws) this.ws.close(1000, 'bye');
    this.ws = null;
    this.setState('closed');
  }

  setState(state) {
    if (this.state === state) return;
    this.state = state;
    this.dispatchEvent(new CustomEvent('state', { detail: state }));
  }

  open() {
    clearTimeout(this.retryTimer);
    this.setState('connecting');
    const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
    const ws = new WebSocket(`${scheme}//${location.host}/v1/ws`);
    this.ws = ws;
    ws.onopen = () => {
      ws.send(JSON.stringify({ type: 'auth', token: this.token, foreground: !document.hidden }));
    };
    ws.onmessage = (ev) => {
      if (this.ws !== ws) return;
      let frame;
      try { frame = JSON.parse(ev.data); } catch (e) { return; }
      this.onFrame(frame);
    };
    ws.onclose = (ev) => {
      if (this.ws === ws) this.lost(ev.code);
    };
  }

  /** The socket is gone (closed by either side, or dropped): reconnect unless told not to. */
  lost(code) {
    this.ws = null;
    clearInterval(this.pingTimer);
    this.failPending();
    if (this.stopped) return;
    if (code === 4001) return this.setState('unauthorized');
    if (code === 4002) return this.setState('replaced');
    this.setState('connecting');
    this.retryTimer = setTimeout(() => this.open(), backoff(this.attempt++));
  }

  /** Drops the current socket as a network failure would: whatever it still brings is ignored
   * (a `sent` in flight included), and the page reconnects by itself. */
  drop() {
    const ws = this.ws;
    if (!ws) return;
    this.ws = null;
    ws.close(4000, 'dropped');
    this.lost(4000);
  }

  failPending() {
    for (const [, p] of this.pending) {
      clearTimeout(p.timer);
      p.reject(new ApiError('unavailable', 'connection lost'));
    }
    this.pending.clear();
    this.sendIds.clear();
  }

  raw(frame) {
    if (!this.ws || this.ws.readyState !== WebSocket.OPEN || this.state !== 'online') return false;
    this.ws.send(JSON.stringify(frame));
    return true;
  }

  /** Sends a frame that needs no answer (dropped while not connected). */
  post(frame) {
    return this.raw(frame);
  }

  /** Sends a frame with an `id`; resolves to its reply, rejects with ApiError. */
  request(frame) {
    return new Promise((resolve, reject) => {
      const id = this.nextId++;
      if (!this.raw({ ...frame, id })) {
        reject(new ApiError('unavailable', 'not connected'));
        return;
      }
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new ApiError('unavailable', 'no answer'));
      }, REQUEST_TIMEOUT_MS);
      this.pending.set(id, { resolve, reject, timer });
    });
  }

  /** Queues a message (`frame` without type and id) in the outbox and sends it if possible. */
  send(frame) {
    this.outbox.set(frame.cid, frame);
    this.onOutboxChange();
    this.transmit(frame);
  }

  transmit(frame) {
    const id = this.nextId++;
    if (!this.raw({ type: 'send', id, ...frame })) return;
    this.sendIds.set(id, frame.cid);
    if (this.testDropAfterSend) {
      this.testDropAfterSend = false;
      this.drop();
    }
  }

  onFrame(f) {
    switch (f.type) {
      case 'welcome':
        this.attempt = 0;
        this.setState('online');
        clearInterval(this.pingTimer);
        this.pingTimer = setInterval(() => this.post({ type: 'ping' }), PING_MS);
        this.welcomes += 1;
        this.dispatchEvent(new CustomEvent('welcome', { detail: f }));
        for (const frame of this.outbox.values()) {
          this.resent += 1;
          this.transmit(frame);
        }
        return;
      case 'msg':
      case 'receipt':
        this.dispatchEvent(new CustomEvent('push', { detail: f }));
        return;
      case 'sent':
        this.sendIds.delete(f.id);
        if (this.outbox.delete(f.cid)) this.onOutboxChange();
        this.dispatchEvent(new CustomEvent('sent', { detail: f }));
        return;
      case 'presence':
        if (f.id === undefined) {
          this.dispatchEvent(new CustomEvent('presence', { detail: f }));
          return;
        }
        break;
      case 'error':
        if (this.sendIds.has(f.id)) return this.sendFailed(f);
        break;
      default:
        break;
    }
    const p = f.id !== undefined && this.pending.get(f.id);
    if (!p) return;
    this.pending.delete(f.id);
    clearTimeout(p.timer);
    if (f.type === 'error') p.reject(new ApiError(f.code, f.message, f.retry_ms));
    else p.resolve(f);
  }

  sendFailed(f) {
    const cid = this.sendIds.get(f.id);
    this.sendIds.delete(f.id);
    const frame = this.outbox.get(cid);
    if (!frame) return;
    if (['rate_limited', 'overloaded', 'unavailable', 'internal'].includes(f.code)) {
      // Retry later with the same cid: the node stores it once.
      setTimeout(() => {
        if (this.outbox.get(cid) === frame) this.transmit(frame);
      }, f.retry_ms || 1000);
      return;
    }
    this.outbox.delete(cid);
    this.onOutboxChange();
    this.dispatchEvent(new CustomEvent('failed', { detail: { cid, code: f.code, message: f.message } }));
  }
}
