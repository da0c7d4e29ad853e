// Pure formatting helpers (no DOM): times, presence lines, sizes. Unit-tested under node.

const pad = (n) => String(n).padStart(2, '0');

/** "14:02" in the viewer's local time. */
export function clock(ts) {
  const d = new Date(ts);
  return `${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

function sameDay(a, b) {
  return a.getFullYear() === b.getFullYear() && a.getMonth() === b.getMonth() &&
    a.getDate() === b.getDate();
}

/** "today", "yesterday" or "12/03/2025" (day/month/year) for a time, seen at `now`. */
export function day(ts, now = Date.now()) {
  const d = new Date(ts);
  const today = new Date(now);
  if (sameDay(d, today)) return 'today';
  const yesterday = new Date(today.getFullYear(), today.getMonth(), today.getDate() - 1);
  if (sameDay(d, yesterday)) return 'yesterday';
  return `${pad(d.getDate())}/${pad(d.getMonth() + 1)}/${d.getFullYear()}`;
}

/**
 * The line under a contact's name: "online", "last seen today at 14:02", "last seen yesterday
 * at 09:15", "last seen 12/03/2025 at 18:40", or "" when the server hides it (privacy, blocks).
 */
export function presenceLine(presence, now = Date.now()) {
  if (!presence) return '';
  if (presence.online) return 'online';
  if (presence.last_seen === null || presence.last_seen === undefined) return '';
  const when = day(presence.last_seen, now);
  return `last seen ${when} at ${clock(presence.last_seen)}`;
}

/** The time shown in the chat list: "14:02" today, "yesterday", else the date. */
export function listTime(ts, now = Date.now()) {
  const when = day(ts, now);
  return when === 'today' ? clock(ts) : when;
}

/** "532 B", "12.4 KB", "3.1 MB". */
export function size(bytes) {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KB`;
  return `${(bytes / (1024 * 1024)).toFixed(1)} MB`;
}

/** The protocol's message kind for a file of this MIME type. */
export function kindOf(mime) {
  if (/^image\/(png|jpeg|gif|webp|avif|bmp)$/.test(mime)) return 'image';
  if (mime.startsWith('video/')) return 'video';
  if (mime.startsWith('audio/')) return 'audio';
  return 'document';
}

/** A message's one-line preview for the chat list. */
export function preview(msg) {
  if (msg.kind === 'text') return msg.body;
  const label = { image: 'Photo', video: 'Video', audio: 'Audio' }[msg.kind] ||
    (msg.media?.name || 'File');
  return msg.body ? `${label}: ${msg.body}` : label;
}

/** The tick of one's own message: "◷" waiting, "✓" sent, "✓✓" delivered or read. */
export function tick(status) {
  return { pending: '◷', sent: '✓', delivered: '✓✓', read: '✓✓', failed: '⚠' }[status] || '';
}

/** Valid user names of the protocol: 3-32 of [a-z0-9_.-]. */
export function validUser(name) {
  return /^[a-z0-9_.-]{3,32}$/.test(name);
}

/** Reconnect delay after `attempt` failures: 0.5 s doubling to 15 s, with jitter (50-100 %). */
export function backoff(attempt, random = Math.random) {
  const base = Math.min(15000, 500 * 2 ** Math.min(attempt, 10));
  return Math.round(base * (0.5 + random() / 2));
}
