// What the page keeps in the browser (localStorage), per user: the chats and their messages
// (the node deletes inbox items once acknowledged, so the history lives here, as in WhatsApp),
// and the outbox of sends not yet confirmed. Saved before an `ack` is sent, so an acknowledged
// message is never only in memory.

const MAX_PER_CHAT = 500;
const RANK = { pending: 0, sent: 1, delivered: 2, read: 3 };

const key = (user, what) => `tidings:v1:${user}:${what}`;

export function loadSession() {
  try {
    return JSON.parse(localStorage.getItem('tidings:v1:session')) || null;
  } catch (e) {
    return null;
  }
}

export function saveSession(session) {
  if (session) localStorage.setItem('tidings:v1:session', JSON.stringify(session));
  else localStorage.removeItem('tidings:v1:session');
}

export class Store {
  constructor(user) {
    this.user = user;
    this.chats = new Map(); // peer -> {peer, messages: [], unread}
    this.outbox = new Map(); // cid -> send frame
    this.byMid = new Map(); // mid -> message (both directions)
    this.byCid = new Map(); // cid -> own message
    this.early = new Map(); // mid -> receipt status that arrived before its `sent`
    try {
      const chats = JSON.parse(localStorage.getItem(key(user, 'chats'))) || [];
      for (const chat of chats) this.addChat(chat);
      for (const frame of JSON.parse(localStorage.getItem(key(user, 'outbox'))) || [])
        this.outbox.set(frame.cid, frame);
    } catch (e) {
      this.chats.clear();
    }
  }

  addChat(chat) {
    this.chats.set(chat.peer, chat);
    for (const m of chat.messages) this.index(m);
  }

  index(m) {
    if (m.mid) this.byMid.set(m.mid, m);
    if (m.cid) this.byCid.set(m.cid, m);
  }

  chat(peer) {
    let chat = this.chats.get(peer);
    if (!chat) {
      chat = { peer, messages: [], unread: 0 };
      this.chats.set(peer, chat);
    }
    return chat;
  }

  /** Chats, most recent first. */
  sorted() {
    const last = (c) => (c.messages.length ? c.messages[c.messages.length - 1].ts : 0);
    return [...this.chats.values()].sort((a, b) => last(b) - last(a));
  }

  append(peer, m) {
    const chat = this.chat(peer);
    chat.messages.push(m);
    if (chat.messages.length > MAX_PER_CHAT) {
      for (const old of chat.messages.splice(0, chat.messages.length - MAX_PER_CHAT)) {
        if (old.mid) this.byMid.delete(old.mid);
        if (old.cid) this.byCid.delete(old.cid);
      }
    }
    this.index(m);
    return chat;
  }

  /** An incoming `msg` item; false if it is a repeat (same mid) or one's own note to self
   * (shown from the outbox already: one device per user). */
  receive(item, open) {
    if (this.byMid.has(item.mid) || item.from === this.user) return false;
    const m = {
      mid: item.mid, from: item.from, ts: item.ts, kind: item.kind, body: item.body,
      media: item.media, read: open,
    };
    const chat = this.append(item.from, m);
    if (!open && item.from !== this.user) chat.unread += 1;
    return true;
  }

  /** One's own message, before it is sent. */
  outgoing(peer, frame) {
    const m = {
      cid: frame.cid, from: this.user, to: peer, ts: Date.now(), kind: frame.kind,
      body: frame.body, media: frame.media, status: 'pending',
    };
    this.append(peer, m);
    return m;
  }

  /** The `sent` reply: the message has its mid; receipts that came first apply now. */
  sent({ cid, mid, ts }) {
    const m = this.byCid.get(cid);
    if (!m) return null;
    m.mid = mid;
    m.ts = ts;
    this.byMid.set(mid, m);
    this.raise(m, 'sent');
    const early = this.early.get(mid);
    if (early) {
      this.early.delete(mid);
      this.raise(m, early);
    }
    return m;
  }

  raise(m, status) {
    if ((RANK[status] ?? -1) > (RANK[m.status] ?? -1)) m.status = status;
  }

  /** A receipt item: marks one's own messages delivered or read. Returns the peers touched. */
  receipt(item) {
    const peers = new Set();
    for (const mid of item.mids) {
      const m = this.byMid.get(mid);
      if (m && m.from === this.user) {
        this.raise(m, item.status);
        peers.add(m.to);
      } else if (!m) {
        const before = this.early.get(mid);
        if (!before || RANK[item.status] > RANK[before]) this.early.set(mid, item.status);
      }
    }
    return peers;
  }

  failed(cid) {
    const m = this.byCid.get(cid);
    if (m) m.status = 'failed';
    return m;
  }

  /** Marks a chat read; returns the mids that need a read receipt. */
  markRead(peer) {
    const chat = this.chats.get(peer);
    if (!chat) return [];
    const mids = [];
    for (const m of chat.messages) {
      if (m.from !== this.user && !m.read) {
        m.read = true;
        mids.push(m.mid);
      }
    }
    chat.unread = 0;
    return mids;
  }

  save() {
    localStorage.setItem(key(this.user, 'chats'), JSON.stringify([...this.chats.values()]));
    localStorage.setItem(key(this.user, 'outbox'), JSON.stringify([...this.outbox.values()]));
  }

  /** Forgets everything of this user in this browser (log out). */
  clear() {
    localStorage.removeItem(key(this.user, 'chats'));
    localStorage.removeItem(key(this.user, 'outbox'));
  }
}
