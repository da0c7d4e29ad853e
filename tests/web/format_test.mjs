// The pure helpers of Tidings Web (web/js/format.js) under node, without a browser.
//   node format_test.mjs --web=build/tools/web

import assert from 'node:assert/strict';
import { join, resolve } from 'node:path';
import { it } from 'node:test';
import { pathToFileURL } from 'node:url';

const web = (process.argv.find((a) => a.startsWith('--web=')) || '--web=build/tools/web').slice(6);
const f = await import(pathToFileURL(join(resolve(web), 'js', 'format.js')).href);

const at = (y, mo, d, h, mi) => new Date(y, mo - 1, d, h, mi).getTime();
const now = at(2025, 3, 12, 18, 30);

it('presence reads online, last seen today / yesterday / on a date, or nothing', () => {
  assert.equal(f.presenceLine({ online: true, last_seen: now }, now), 'online');
  assert.equal(f.presenceLine({ online: false, last_seen: at(2025, 3, 12, 14, 2) }, now),
    'last seen today at 14:02');
  assert.equal(f.presenceLine({ online: false, last_seen: at(2025, 3, 11, 9, 5) }, now),
    'last seen yesterday at 09:05');
  assert.equal(f.presenceLine({ online: false, last_seen: at(2025, 2, 28, 23, 59) }, now),
    'last seen 28/02/2025 at 23:59');
  assert.equal(f.presenceLine({ online: false, last_seen: null }, now), '');
  assert.equal(f.presenceLine(undefined, now), '');
  // The first of a month: yesterday is the last day of the one before.
  assert.equal(f.day(at(2025, 2, 28, 10, 0), at(2025, 3, 1, 8, 0)), 'yesterday');
});

it('ticks, kinds, sizes and user names', () => {
  assert.deepEqual(['pending', 'sent', 'delivered', 'read'].map(f.tick), ['◷', '✓', '✓✓', '✓✓']);
  assert.equal(f.kindOf('image/png'), 'image');
  assert.equal(f.kindOf('image/svg+xml'), 'document'); // not shown inline
  assert.equal(f.kindOf('video/mp4'), 'video');
  assert.equal(f.kindOf('application/pdf'), 'document');
  assert.equal(f.size(532), '532 B');
  assert.equal(f.size(12700), '12.4 KB');
  assert.equal(f.size(3250585), '3.1 MB');
  assert.ok(f.validUser('bob.smith_1'));
  assert.ok(!f.validUser('Bob'));
  assert.ok(!f.validUser('ab'));
  assert.equal(f.preview({ kind: 'document', media: { name: 'a.pdf' } }), 'a.pdf');
  assert.equal(f.preview({ kind: 'image', body: 'look' }), 'Photo: look');
  assert.equal(f.preview({ kind: 'text', body: 'hi' }), 'hi');
});

it('reconnect delays grow from 0.5 s to at most 15 s, jittered', () => {
  assert.equal(f.backoff(0, () => 1), 500);
  assert.equal(f.backoff(0, () => 0), 250);
  assert.equal(f.backoff(3, () => 1), 4000);
  assert.equal(f.backoff(20, () => 1), 15000);
  for (let i = 0; i < 30; i++) assert.ok(f.backoff(i) <= 15000);
});
