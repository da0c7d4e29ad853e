// The frames a Tidings bot writes (bots/frames): written directly, they must be the bytes the
// json objects the bots used to build encode to, in both encodings.

#include <doctest/doctest.h>

#include <cstdint>
#include <string>

#include "bots/frames.hpp"

using namespace tidings;
using namespace tidings::bots;
using net::json;

namespace {

constexpr net::encoding both[] = {net::encoding::msgpack, net::encoding::json};

const char* name_of(net::encoding enc) {
  return enc == net::encoding::msgpack ? "msgpack" : "json";
}

template <class Frame, class... Ts> std::string written(Frame frame, net::encoding enc, Ts... xs) {
  std::string out;
  frame(out, enc, xs...);
  return out;
}

} // namespace

TEST_CASE("every frame a bot writes is byte for byte its json object, encoded") {
  // Integers and strings on both sides of every msgpack size boundary.
  const uint64_t numbers[] = {0, 1, 127, 128, 255, 256, 65535, 65536, 4294967295ull, 4294967296ull};
  const std::size_t lengths[] = {0, 1, 31, 32, 255, 256, 65535, 65536};
  for (auto enc : both) {
    CAPTURE(name_of(enc));
    for (bool fg : {true, false}) {
      CHECK(written(frames::auth, enc, std::string_view{"tok-123"}, fg) ==
            net::encode(json{{"type", "auth"}, {"token", "tok-123"}, {"foreground", fg}}, enc));
      CHECK(written(frames::state, enc, std::string_view{"state-bg"}, fg) ==
            net::encode(json{{"type", "state"}, {"id", "state-bg"}, {"foreground", fg}}, enc));
    }
    CHECK(written(frames::ping, enc) == net::encode(json{{"type", "ping"}}, enc));
    for (auto n : numbers) {
      CAPTURE(n);
      CHECK(written(frames::ack, enc, n) == net::encode(json{{"type", "ack"}, {"upto", n}}, enc));
    }
    for (auto len : lengths) {
      CAPTURE(len);
      std::string mid(len, 'm');
      CHECK(written(frames::read, enc, std::string_view{"alice"}, std::string_view{mid}) ==
            net::encode(json{{"type", "read"}, {"from", "alice"}, {"mids", json::array({mid})}},
                        enc));
    }
    for (std::size_t k = 0; k < std::size(lengths); ++k) {
      auto id = static_cast<uint32_t>(numbers[k]);
      std::string cid = "run." + std::to_string(id);
      std::string body = cid + " " + std::string(lengths[k], 'x');
      std::string to(lengths[std::size(lengths) - 1 - k] % 300, 'b');
      CAPTURE(id);
      CAPTURE(body.size());
      json text{{"type", "send"}, {"id", id}, {"cid", cid}, {"to", to}};
      text["kind"] = "text";
      text["body"] = body;
      CHECK(written(frames::send_text, enc, uint64_t{id}, std::string_view{cid},
                    std::string_view{to}, std::string_view{body}) == net::encode(text, enc));
      frames::media_ref media{"ab12", "image/png", numbers[k]};
      json image{{"type", "send"}, {"id", id}, {"cid", cid}, {"to", to}};
      image["kind"] = "image";
      image["media"] = {{"hash", "ab12"}, {"mime", "image/png"}, {"size", numbers[k]}};
      image["body"] = cid;
      CHECK(written(frames::send_image, enc, uint64_t{id}, std::string_view{cid},
                    std::string_view{to}, media) == net::encode(image, enc));
    }
  }
}

TEST_CASE("frames are appended to what the buffer holds") {
  std::string out = "x";
  frames::ping(out, net::encoding::msgpack);
  frames::ack(out, net::encoding::msgpack, 3);
  CHECK(out == "x" + net::encode(json{{"type", "ping"}}, net::encoding::msgpack) +
                   net::encode(json{{"type", "ack"}, {"upto", 3}}, net::encoding::msgpack));
}
