#pragma once
// The frames a Tidings bot writes (docs/PROTOCOL.md): auth, send, ack, read, ping, state.
//
// Each is appended to `out` in the run's encoding. msgpack frames (the default, and the load
// test's hot path) are written directly by `net::msgpack_writer`, keys in the order a json
// object keeps them (sorted), so they are byte for byte what `net::encode` gives the same json
// object (tests/bots/frames_test.cpp), without building one. JSON frames are built as json
// objects and dumped. Pure.

#include <cstdint>
#include <string>
#include <string_view>

#include "net/codec.hpp"

namespace tidings::bots::frames {

void auth(std::string& out, net::encoding enc, std::string_view token, bool foreground);

/// A `send` of kind `text`.
void send_text(std::string& out, net::encoding enc, uint64_t id, std::string_view cid,
               std::string_view to, std::string_view body);

/// An uploaded image, referred to by its hash.
struct media_ref {
  std::string_view hash;
  std::string_view mime;
  uint64_t size = 0;
};

/// A `send` of kind `image` whose body is its cid.
void send_image(std::string& out, net::encoding enc, uint64_t id, std::string_view cid,
                std::string_view to, const media_ref& media);

void ack(std::string& out, net::encoding enc, uint64_t upto);

/// A `read` of one message.
void read(std::string& out, net::encoding enc, std::string_view from, std::string_view mid);

void ping(std::string& out, net::encoding enc);

void state(std::string& out, net::encoding enc, std::string_view id, bool foreground);

} // namespace tidings::bots::frames
