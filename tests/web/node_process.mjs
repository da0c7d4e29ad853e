// A real tidings-node for the browser tests: a temp data dir, loopback, started and stopped
// like the C++ fixtures do (tests/support/node_process.*): wait for "listening on HOST:PORT".

import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

export class NodeProcess {
  constructor(binary, webDir, extraArgs = []) {
    this.binary = binary;
    this.webDir = webDir;
    this.extraArgs = extraArgs;
    this.dataDir = mkdtempSync(join(tmpdir(), 'tidings-web-'));
    this.port = 0;
    this.child = null;
    this.output = [];
  }

  get url() {
    return `http://127.0.0.1:${this.port}`;
  }

  /** Starts the node (on the port it had before, after a restart); resolves once it listens. */
  async start(timeoutMs = 20000) {
    const child = spawn(this.binary, [
      `--port=${this.port}`, '--bind=127.0.0.1', `--data-dir=${this.dataDir}`,
      `--web.dir=${this.webDir}`, '--auth.argon2-mem-kib=8192', '--auth.argon2-ops=1',
      ...this.extraArgs,
    ], { stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    child.stderr.on('data', (d) => this.output.push(d.toString()));
    const lines = createInterface({ input: child.stdout });
    const listening = new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(
        `tidings-node did not report 'listening on' within ${timeoutMs} ms:\n${this.output.join('')}`)),
      timeoutMs);
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`tidings-node exited (${code}) before listening:\n${this.output.join('')}`));
      });
      lines.on('line', (line) => {
        this.output.push(`${line}\n`);
        const m = /listening on [^:]+:(\d+)/.exec(line);
        if (m) {
          clearTimeout(timer);
          resolve(Number(m[1]));
        }
      });
    });
    this.port = await listening;
    child.removeAllListeners('exit');
  }

  /** SIGTERM, then waits for a clean exit (status 0). */
  async stop(timeoutMs = 20000) {
    const child = this.child;
    if (!child || child.exitCode !== null) return;
    this.child = null;
    const exited = once(child, 'exit');
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    const [code] = await exited;
    clearTimeout(timer);
    if (code !== 0) throw new Error(`tidings-node exited with ${code}:\n${this.output.join('')}`);
  }

  async dispose() {
    try {
      await this.stop();
    } finally {
      rmSync(this.dataDir, { recursive: true, force: true });
    }
  }
}

/** A small RGB PNG (a gradient) of `width` x `height`, made with zlib. */
export async function makePng(width, height) {
  const { deflateSync } = await import('node:zlib');
  const crcTable = Array.from({ length: 256 }, (_, n) => {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    return c >>> 0;
  });
  const crc32 = (buf) => {
    let c = 0xffffffff;
    for (const b of buf) c = crcTable[(c ^ b) & 0xff] ^ (c >>> 8);
    return (c ^ 0xffffffff) >>> 0;
  };
  const chunk = (type, data) => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(data.length);
    const body = Buffer.concat([Buffer.from(type, 'ascii'), data]);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(body));
    return Buffer.concat([len, body, crc]);
  };
  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0);
  header.writeUInt32BE(height, 4);
  header[8] = 8; // bit depth
  header[9] = 2; // RGB
  const rows = [];
  for (let y = 0; y < height; y++) {
    const row = Buffer.alloc(1 + width * 3);
    for (let x = 0; x < width; x++) {
      row[1 + x * 3] = Math.round((255 * x) / width);
      row[2 + x * 3] = 140;
      row[3 + x * 3] = Math.round((255 * y) / height);
    }
    rows.push(row);
  }
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', header), chunk('IDAT', deflateSync(Buffer.concat(rows))), chunk('IEND', Buffer.alloc(0)),
  ]);
}
