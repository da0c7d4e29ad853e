#!/usr/bin/env python3
"""Writes the seed corpus of the fuzz targets (fuzz/corpus/TARGET/): a few valid and nearly
valid inputs of each format, small on purpose. Run from anywhere; rewrites the seed files it
names and leaves others alone. Needs only the standard library (a minimal msgpack writer)."""
import json, os, struct

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "corpus")


def mp(v):
    """A minimal msgpack encoder: None, bool, int, float, str, bytes, list, dict."""
    if v is None:
        return b"\xc0"
    if v is True:
        return b"\xc3"
    if v is False:
        return b"\xc2"
    if isinstance(v, int):
        if 0 <= v < 128:
            return bytes([v])
        if v >= 0:
            return b"\xcf" + struct.pack(">Q", v)
        if v >= -32:
            return struct.pack("b", v)
        return b"\xd3" + struct.pack(">q", v)
    if isinstance(v, float):
        return b"\xcb" + struct.pack(">d", v)
    if isinstance(v, str):
        b = v.encode()
        if len(b) < 32:
            return bytes([0xA0 | len(b)]) + b
        if len(b) < 256:
            return b"\xd9" + bytes([len(b)]) + b
        return b"\xda" + struct.pack(">H", len(b)) + b
    if isinstance(v, bytes):
        return b"\xc4" + bytes([len(v)]) + v
    if isinstance(v, list):
        return bytes([0x90 | len(v)]) + b"".join(mp(x) for x in v)
    if isinstance(v, dict):
        return bytes([0x80 | len(v)]) + b"".join(mp(k) + mp(x) for k, x in v.items())
    raise TypeError(v)


def write(target, name, data):
    d = os.path.join(ROOT, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())


HASH = "a" * 40 + "0123456789abcdef0123"
FRAMES = {
    "auth": {"type": "auth", "id": 1, "token": "alice:0123456789abcdef", "foreground": True},
    "ping": {"type": "ping", "id": "p-1"},
    "send_text": {"type": "send", "id": 2, "cid": "c-1", "to": "bob", "kind": "text",
                  "body": "hello"},
    "send_image": {"type": "send", "id": 3, "cid": "c-2", "to": "bob", "kind": "image",
                   "body": "caption", "media": {"hash": HASH, "mime": "image/png",
                                                 "size": 1234, "name": "a.png"}},
    "ack": {"type": "ack", "upto": 17},
    "read": {"type": "read", "from": "bob", "mids": ["m-1", "m-2"]},
    "state": {"type": "state", "foreground": False},
    "profile_get": {"type": "profile_get", "user": "bob"},
    "profile_set": {"type": "profile_set", "name": " Alice ", "about": "hi", "avatar": None,
                    "privacy": {"last_seen": "contacts", "read_receipts": False}},
    "presence_get": {"type": "presence_get", "user": "bob"},
    "presence_sub": {"type": "presence_sub", "users": ["bob", "carol"]},
    "contacts_add": {"type": "contacts_add", "user": "bob"},
    "blocked_list": {"type": "blocked_list"},
}
for name, frame in FRAMES.items():
    authed = 0 if frame["type"] == "auth" else 2
    write("frames", name + ".json", bytes([authed]) + json.dumps(frame).encode())
    write("frames", name + ".msgpack", bytes([authed | 1]) + mp(frame))
thumbed = dict(FRAMES["send_image"])
thumbed["media"] = dict(thumbed["media"], thumb=b"\x89PNG\r\n")
write("frames", "send_thumb.msgpack", bytes([3]) + mp(thumbed))
thumbed["media"]["thumb"] = "iVBORw0K"
write("frames", "send_thumb.json", bytes([2]) + json.dumps(thumbed).encode())
write("frames", "nested.json", b"\x02" + b'{"type":"ping","x":[[[[[[[1]]]]]]]}')
write("frames", "bad_utf8.json", b"\x02" + b'{"type":"send","body":"\xff"}')

item = {"kind": "text", "body": "hello", "type": "message", "from": "bob", "mid": "m-9"}
write("msgpack_map", "text", struct.pack("<Q", 5) + mp({"kind": "text", "body": "hello"}))
write("msgpack_map", "image", struct.pack("<Q", 2**40) +
      mp({"kind": "image", "media": {"hash": HASH, "thumb": b"\x00\x01"}}))
write("msgpack_map", "map16", struct.pack("<Q", 7) + b"\xde\x00\x01" + mp("k") + mp(1))
write("msgpack_map", "map32", struct.pack("<Q", 7) + b"\xdf\x00\x00\x00\x01" + mp("k") + mp(1))

def req(method, target, headers=(), body=b""):
    lines = [f"{method} {target} HTTP/1.1", "Host: localhost"] + list(headers)
    if body:
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body

cred = json.dumps({"user": "alice", "password": "correct horse"}).encode()
write("http", "register", req("POST", "/v1/accounts", ["Content-Type: application/json"], cred))
write("http", "login", req("POST", "/v1/sessions?x=1", ["Content-Type: application/json"], cred))
write("http", "logout", req("DELETE", "/v1/sessions", ["Authorization: Bearer alice:abc"]))
write("http", "chunked", b"POST /v1/sessions HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked"
      b"\r\n\r\n5\r\n{\"use\r\n0\r\n\r\n")
write("http", "upload", req("POST", "/v1/media", ["Authorization: Bearer alice:abc",
                                                  "Content-Type: image/png"], b"\x89PNG"))
write("http", "download", req("GET", "/v1/media/" + HASH, ["Authorization: Bearer alice:abc",
                                                          "Range: bytes=0-99"]))
write("http", "download_suffix", req("HEAD", "/v1/media/" + HASH, ["Range: bytes=-10",
                                     f'If-None-Match: W/"x", "{HASH}"']))
write("http", "traversal", req("GET", "/v1/media/../../etc/passwd"))
write("http", "healthz", req("GET", "/healthz"))

for name, (size, text) in {"first_last": (1000, "bytes=0-499"), "open": (1000, "bytes=500-"),
                           "suffix": (1000, "bytes=-200"), "multi": (10, "bytes=0-1,3-4"),
                           "etag": (0, 'bytes=0-0\nW/"0123abcd", "x"'),
                           "huge": (2**63, "bytes=9223372036854775807-")}.items():
    write("range", name, struct.pack("<Q", size) + text.encode())

SCEN = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "bench", "scenarios")
for f in ("smoke.json", "offline-drain.json"):
    with open(os.path.join(SCEN, f), "rb") as src:
        write("scenario", f, src.read())
write("scenario", "groups.json", json.dumps({
    "name": "g", "seed": 3, "groups": [
        {"name": "a", "bots": 5, "contacts": 2, "contacts_in": "b"},
        {"name": "b", "bots": 4, "contacts": 3, "behaviour": {"think_ms": None}}],
    "phases": [{"action": "connect", "group": "a"}, {"action": "hold", "duration_s": 1}]}))

write("config", "single.ini", "; a single node\n[global]\nport=8080\nbind=\"127.0.0.1\"\n"
      "data-dir=\"/var/lib/tidings\"\n[limits]\nrate=50.5\nburst=200\nframe-bytes=131072\n"
      "[media]\nretention-days=30\n[auth]\nargon2-ops=2\n")
write("config", "cluster.ini", "[cluster]\nnode-id=\"n1\"\nport=7070\n"
      "peers=\"n2@10.0.0.2:7070, n3@10.0.0.3:7070\"\n[storage]\nsync=false\n"
      "group-commit-us=500\n[limits]\ndedupe-hours=48\nread-receipt-days=30\n")
write("config", "bad_peer.ini", "[cluster]\nnode-id=\"n1\"\npeers=\"n2@:99999\"\n")
