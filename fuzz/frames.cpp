// Fuzz target `frames`: the first byte picks the encoding (bit 0: msgpack) and whether the
// session has authenticated (bit 1); the rest is the WebSocket frame.

#include <string_view>
#include <variant>

#include "fuzz/targets.hpp"
#include "media/sha256.hpp"
#include "net/codec.hpp"
#include "net/fields.hpp"
#include "net/frames.hpp"

namespace tidings::fuzz {

namespace {

using namespace tidings::net;

bool decodes(std::string_view bytes, encoding enc) {
  return decode(bytes, enc, nullptr).has_value();
}

/// What the session does with each kind of parse result that needs the frame's content again.
struct check_request {
  void operator()(const send_request& r) const {
    require(!r.cid.empty() && valid_user(r.to), "send: cid and to are checked");
    require((r.kind == "text") == !r.media.has_value(), "send: media exactly for media kinds");
    require(!r.body || r.body->size() <= max_body_bytes, "send: body within 64 KiB");
    require(!r.media || !r.media->thumb || r.media->thumb->size() <= max_thumb_bytes,
            "send: thumb within 16 KiB");
    require(!r.media || media::is_hash(r.media->hash), "send: media hash is 64 lowercase hex");
    auto content = decode(stored_content(r), encoding::msgpack, nullptr);
    require(content && content->value("kind", "") == r.kind, "send: stored content decodes");
  }
  void operator()(const profile_set_request& r) const {
    require(decodes(profile_changes(r), encoding::msgpack), "profile_set: changes decode");
  }
  void operator()(const read_request& r) const {
    require(!r.mids.empty() && r.mids.size() <= max_read_mids, "read: 1-1024 mids");
  }
  void operator()(const presence_sub_request& r) const {
    require(r.users.size() <= max_presence_users, "presence_sub: at most 1024 users");
  }
  void operator()(const bad_request& r) const {
    auto frame = error_frame(r, "bad_request", r.message);
    require(decodes(frame, r.enc), "bad_request: the error frame decodes");
  }
  template <class Other> void operator()(const Other&) const {}
};

} // namespace

int frames(const uint8_t* data, std::size_t size) {
  if (size < 1)
    return 0;
  bool binary = (data[0] & 1) != 0;
  std::string_view user = (data[0] & 2) != 0 ? "alice" : "";
  std::string_view bytes{reinterpret_cast<const char*>(data + 1), size - 1};
  auto enc = binary ? encoding::msgpack : encoding::json;

  auto frame = parse_client_frame(bytes, binary, user);
  const auto& to = reply_of(frame);
  require(to.enc == enc, "the reply uses the frame's encoding");
  if (user.empty())
    require(std::holds_alternative<auth_request>(frame) ||
                std::holds_alternative<auth_missing>(frame) ||
                std::holds_alternative<bad_request>(frame),
            "before auth only auth, auth_missing or bad_request");
  else
    require(!std::holds_alternative<auth_request>(frame) &&
                !std::holds_alternative<auth_missing>(frame),
            "after auth never auth again");
  std::visit(check_request{}, frame);
  require(decodes(ok_frame(to), enc), "a reply with the request's id decodes");

  // The codec alone: what decodes encodes, and decodes again to the same kind of value.
  if (auto value = decode(bytes, enc, nullptr)) {
    // The direct msgpack reader (frame_doc) and the DOM must agree: the same frame, decoded and
    // encoded again by the codec, parses to the same request (or the same refusal).
    if (binary) {
      auto again = parse_client_frame(encode(*value, encoding::msgpack), true, user);
      require(again.index() == frame.index(), "the direct reader and the DOM agree");
      if (const auto* refused = std::get_if<bad_request>(&frame))
        require(std::get<bad_request>(again).message == refused->message,
                "the direct reader and the DOM refuse with the same message");
    }
    auto again = decode(encode(*value, enc), enc, nullptr);
    require(again && again->size() == value->size(), "decode(encode(decode(x))) succeeds");
    require(!encode(*value, binary ? encoding::json : encoding::msgpack).empty(),
            "the other encoding encodes too");
  }
  return 0;
}

} // namespace tidings::fuzz
