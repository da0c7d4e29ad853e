#include <doctest/doctest.h>

#include "net/codec.hpp"
#include "net/msgpack_map.hpp"

using tidings::net::decode;
using tidings::net::encode;
using tidings::net::encoding;
using tidings::net::json;

namespace {

json sample() {
  return json{{"type", "send"},
              {"id", 7},
              {"cid", "c-123"},
              {"to", "bob"},
              {"kind", "image"},
              {"neg", -5},
              {"big", UINT64_MAX},
              {"media", {{"hash", "ab"}, {"thumb", json::binary({0, 1, 2, 255})}}},
              {"list", {1, "two", nullptr, true}}};
}

} // namespace

TEST_CASE("a frame survives a msgpack round trip unchanged with binary values") {
  auto bytes = encode(sample(), encoding::msgpack);
  std::string error;
  auto back = decode(bytes, encoding::msgpack, &error);
  REQUIRE_MESSAGE(back, error);
  CHECK(*back == sample());
  CHECK((*back)["big"].get<uint64_t>() == UINT64_MAX);
  CHECK((*back)["media"]["thumb"].is_binary());
}

TEST_CASE("a frame survives a JSON round trip with binary values as base64") {
  auto text = encode(sample(), encoding::json);
  CHECK(text.find("\"thumb\":\"AAEC/w==\"") != std::string::npos);
  std::string error;
  auto back = decode(text, encoding::json, &error);
  REQUIRE_MESSAGE(back, error);
  CHECK((*back)["cid"] == "c-123");
  CHECK((*back)["big"].get<uint64_t>() == UINT64_MAX);
  CHECK((*back)["media"]["thumb"] == "AAEC/w==");
}

TEST_CASE("malformed frames are refused with a reason and never thrown") {
  std::string error;
  CHECK_FALSE(decode("{\"type\":", encoding::json, &error));
  CHECK_FALSE(error.empty());
  CHECK_FALSE(decode("[1,2]", encoding::json, &error));
  CHECK_FALSE(decode("\"text\"", encoding::json, &error));
  CHECK_FALSE(decode("{\"a\":\"\xff\xfe\"}", encoding::json, &error));
  CHECK_FALSE(decode(std::string(1, '\xc1'), encoding::msgpack, &error));         // reserved byte
  CHECK_FALSE(decode("\x81", encoding::msgpack, &error));                         // truncated map
  CHECK_FALSE(decode(std::string("\x81\x01\x02", 3), encoding::msgpack, &error)); // int key
  CHECK_FALSE(
      decode(std::string("\x81\xa1k\xa2\xff\xfe", 6), encoding::msgpack, &error)); // bad UTF-8
  CHECK_FALSE(decode(std::string("\x80\x80", 2), encoding::msgpack, &error));      // trailing bytes
  CHECK_FALSE(decode(std::string("\x93\x01\x02\x03", 4), encoding::msgpack, &error)); // array
  CHECK(decode("{}", encoding::json, &error));
  CHECK(decode(std::string("\x80", 1), encoding::msgpack, &error));
}

TEST_CASE("deep nesting is refused in both encodings without exhausting the stack") {
  std::string deep_json = "{\"a\":" + std::string(100000, '[') + std::string(100000, ']') + "}";
  std::string error;
  CHECK_FALSE(decode(deep_json, encoding::json, &error));
  std::string deep_msgpack = "\x81\xa1"
                             "a" +
                             std::string(100000, '\x91') + std::string(1, '\xc0');
  CHECK_FALSE(decode(deep_msgpack, encoding::msgpack, &error));
}

TEST_CASE("UTF-8 validation rejects overlongs and surrogates and truncation") {
  using tidings::net::valid_utf8;
  CHECK(valid_utf8("héllo ✓ 😀"));
  CHECK_FALSE(valid_utf8("\xc0\xaf"));         // overlong '/'
  CHECK_FALSE(valid_utf8("\xed\xa0\x80"));     // surrogate
  CHECK_FALSE(valid_utf8("\xe2\x9c"));         // truncated
  CHECK_FALSE(valid_utf8("\xf4\x90\x80\x80")); // above U+10FFFF
}

TEST_CASE("base64 round trips every length and rejects foreign characters") {
  using tidings::net::base64_decode;
  using tidings::net::base64_encode;
  std::string bytes;
  for (int n = 0; n < 20; ++n) {
    auto back = base64_decode(base64_encode(bytes));
    REQUIRE(back);
    CHECK(*back == bytes);
    bytes += static_cast<char>(n * 37);
  }
  CHECK_FALSE(base64_decode("ab$d"));
}

TEST_CASE("fields added to a msgpack map without decoding it read back like any map") {
  using namespace tidings::net;
  json content{{"kind", "text"}, {"body", std::string(300, 'x')}};
  auto packed = encode(content, encoding::msgpack);
  auto stamped = msgpack_map_builder{packed}
                     .add("type", "msg")
                     .add("ts", int64_t{1'700'000'000'000})
                     .add("seq", uint64_t{42})
                     .add("neg", int64_t{-5})
                     .add("long", std::string(70'000, 'y'))
                     .finish();
  REQUIRE(stamped);
  auto back = decode(*stamped, encoding::msgpack, nullptr);
  REQUIRE(back);
  CHECK((*back)["type"] == "msg");
  CHECK((*back)["ts"] == 1'700'000'000'000);
  CHECK((*back)["seq"] == 42);
  CHECK((*back)["neg"] == -5);
  CHECK((*back)["long"].get<std::string>().size() == 70'000);
  CHECK((*back)["body"] == content["body"]);
  CHECK(back->size() == 7);
  // Crossing the fixmap limit (16 pairs) switches to a map16 header.
  json wide = json::object();
  for (int i = 0; i < 15; ++i)
    wide["k" + std::to_string(i)] = i;
  auto grown =
      msgpack_map_builder{encode(wide, encoding::msgpack)}.add("seq", uint64_t{1}).finish();
  REQUIRE(grown);
  CHECK(decode(*grown, encoding::msgpack, nullptr)->size() == 16);
  CHECK_FALSE(msgpack_map_builder{encode(json::array({1}), encoding::msgpack)}.finish());
  CHECK_FALSE(msgpack_map_builder{""}.finish());
}
