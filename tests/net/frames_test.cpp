// The protocol layer: client frames in both encodings to typed requests or exact refusals, and
// the reply frames built from typed values.

#include <doctest/doctest.h>

#include "net/codec.hpp"
#include "net/frames.hpp"
#include "net/msgpack_map.hpp"

using namespace tidings::net;

namespace {

constexpr encoding both[] = {encoding::json, encoding::msgpack};

std::string name(encoding enc) {
  return enc == encoding::json ? "json" : "msgpack";
}

/// `frame` as alice (or `user`; empty: before auth) sends it in `enc`, parsed.
client_frame parse(const json& frame, encoding enc, std::string_view user = "alice") {
  return parse_client_frame(encode(frame, enc), enc == encoding::msgpack, user);
}

/// The message of a refusal, or a note naming what was accepted instead.
std::string refusal(const client_frame& f) {
  if (const auto* b = std::get_if<bad_request>(&f))
    return b->message;
  return "(not refused: alternative " + std::to_string(f.index()) + ")";
}

/// The request `frame` parses to in `enc`; fails the test if it is anything else.
template <class Request>
Request accepted(const json& frame, encoding enc, std::string_view user = "alice") {
  auto f = parse(frame, enc, user);
  const auto* r = std::get_if<Request>(&f);
  REQUIRE_MESSAGE(r != nullptr, name(enc), " ", frame.dump(), ": ", refusal(f));
  CHECK(r->enc == enc);
  return *r;
}

/// `frame` is refused with exactly `message` in both encodings, its valid id kept.
void check_refused(const json& frame, const std::string& message, std::string_view user = "alice") {
  for (auto enc : both) {
    INFO(name(enc), " ", frame.dump());
    auto f = parse(frame, enc, user);
    CHECK(refusal(f) == message);
    if (const auto* b = std::get_if<bad_request>(&f)) {
      CHECK(b->decoded);
      CHECK(b->enc == enc);
      if (frame.contains("id") && frame["id"].is_number_integer() && frame["id"] >= 0)
        CHECK(b->id == request_id{frame["id"].get<uint64_t>()});
    }
  }
}

/// A json object: `base` with `key` set to `value` (or removed, if `value` is discarded).
json with(json base, const std::string& key, json value) {
  if (value.is_discarded())
    base.erase(key);
  else
    base[key] = std::move(value);
  return base;
}

const json absent = json(json::value_t::discarded);

json text_send() {
  return json{{"type", "send"}, {"id", 7},        {"cid", "c-1"},
              {"to", "bob"},    {"kind", "text"}, {"body", "hi"}};
}

const std::string hash64(64, 'a');

json media_send() {
  return json{{"type", "send"},
              {"cid", "c-2"},
              {"to", "bob"},
              {"kind", "image"},
              {"media", {{"hash", hash64}, {"mime", "image/jpeg"}, {"size", 10}}}};
}

/// `media_send()` with `media.key` set to `value` (or removed).
json media_with(const std::string& key, json value) {
  auto frame = media_send();
  frame["media"] = with(frame["media"], key, std::move(value));
  return frame;
}

/// Decodes a reply frame built in `enc`.
json reply(const std::string& bytes, encoding enc) {
  std::string error;
  auto value = decode(bytes, enc, &error);
  REQUIRE_MESSAGE(value, error);
  return *value;
}

std::string utf8_chars(std::size_t n) { // n two-byte characters
  std::string out;
  for (std::size_t i = 0; i < n; ++i)
    out += "\xc3\xa9";
  return out;
}

} // namespace

TEST_CASE("an id is an unsigned integer or a string of at most 64 characters, echoed as given") {
  for (auto enc : both) {
    INFO(name(enc));
    CHECK(accepted<ping_request>({{"type", "ping"}}, enc).id == request_id{});
    CHECK(accepted<ping_request>({{"type", "ping"}, {"id", 0}}, enc).id == request_id{0u});
    CHECK(accepted<ping_request>({{"type", "ping"}, {"id", UINT64_MAX}}, enc).id ==
          request_id{UINT64_MAX});
    CHECK(accepted<ping_request>({{"type", "ping"}, {"id", utf8_chars(64)}}, enc).id ==
          request_id{utf8_chars(64)});
    CHECK(accepted<ping_request>({{"type", "ping"}, {"id", ""}}, enc).id == request_id{""});
  }
  const std::string bad_id =
      "'id' must be an unsigned integer or a string of at most 64 characters";
  for (const auto& id : {json(-1), json(1.5), json(nullptr), json(true), json(utf8_chars(65)),
                         json::object(), json::array({1})}) {
    for (auto enc : both) {
      INFO(name(enc), " ", id.dump());
      auto f = parse({{"type", "ping"}, {"id", id}}, enc);
      CHECK(refusal(f) == bad_id);
      CHECK(reply_of(f).id == request_id{}); // an unusable id is not echoed
      CHECK(reply_of(f).enc == enc);
    }
  }
  // The id is checked before anything else, even before auth.
  CHECK(refusal(parse({{"type", "auth"}, {"token", "t"}, {"id", -1}}, encoding::json, "")) ==
        bad_id);
}

TEST_CASE("a frame that does not decode to an object is refused as undecoded") {
  struct bytes_case {
    std::string bytes;
    bool binary;
    std::string message;
  };
  std::vector<bytes_case> cases{
      {std::string("\xc1", 1), true, "malformed msgpack: "},
      {std::string("\x93\x01\x02\x03", 4), true, "a frame must hold one object"},
      {std::string("\x81\xa4type\xa2\xff\xfe", 9), true, "string is not valid UTF-8"},
      {std::string("\x81\xa2\xff\xfe\x01", 5), true, "map key is not valid UTF-8"},
      {"[1]", false, "a frame must hold one object"},
      {"{\"type\":", false, "malformed JSON: "},
      {"{\"type\":\"ping\",\"x\":\"\xff\"}", false, "malformed JSON: "},
  };
  for (const auto& c : cases) {
    INFO(c.message);
    auto f = parse_client_frame(c.bytes, c.binary, "alice");
    const auto* b = std::get_if<bad_request>(&f);
    REQUIRE(b != nullptr);
    CHECK_FALSE(b->decoded);
    CHECK(b->message.rfind(c.message, 0) == 0);
    CHECK(b->id == request_id{});
    CHECK(b->enc == (c.binary ? encoding::msgpack : encoding::json));
  }
}

TEST_CASE("the type is a string naming a known frame") {
  check_refused({{"id", 3}}, "missing field 'type'");
  check_refused({{"type", 5}, {"id", 3}}, "missing field 'type'");
  check_refused({{"type", nullptr}}, "missing field 'type'");
  check_refused({{"type", "no_such_type"}, {"id", 3}}, "unknown frame type 'no_such_type'");
  check_refused({{"type", "msg"}}, "unknown frame type 'msg'");
}

TEST_CASE("before auth only an auth frame is taken, and after it no second one") {
  for (auto enc : both) {
    INFO(name(enc));
    auto a = accepted<auth_request>({{"type", "auth"}, {"token", "tok"}, {"id", 1}}, enc, "");
    CHECK(a.token == "tok");
    CHECK(a.foreground);
    CHECK(a.id == request_id{1u});
    CHECK_FALSE(
        accepted<auth_request>({{"type", "auth"}, {"token", "tok"}, {"foreground", false}}, enc, "")
            .foreground);
    CHECK(accepted<auth_request>(
              {{"type", "auth"}, {"token", std::string(512, 't')}, {"extra", {1, 2}}}, enc, "")
              .token.size() == 512);
    // Any other type, known or not and whatever its fields, is not auth (unauthorized).
    CHECK(accepted<auth_missing>({{"type", "ping"}, {"id", "p"}}, enc, "").id == request_id{"p"});
    accepted<auth_missing>({{"type", "send"}}, enc, "");
    accepted<auth_missing>({{"type", "nonsense"}}, enc, "");
  }
  check_refused({{"type", "auth"}}, "missing field 'token'", "");
  check_refused({{"type", "auth"}, {"token", nullptr}}, "missing field 'token'", "");
  check_refused({{"type", "auth"}, {"token", ""}}, "field 'token' must have 1 to 512 bytes", "");
  check_refused({{"type", "auth"}, {"token", std::string(513, 't')}},
                "field 'token' must have 1 to 512 bytes", "");
  check_refused({{"type", "auth"}, {"token", 42}}, "field 'token' must be a string", "");
  check_refused({{"type", "auth"}, {"token", "t"}, {"foreground", "yes"}},
                "field 'foreground' must be a boolean", "");
  check_refused({{"type", "auth"}, {"token", 1}, {"foreground", "yes"}},
                "field 'token' must be a string", ""); // the first problem is reported
  check_refused({{"type", "auth"}, {"id", 2}}, "missing field 'token'", "");
  check_refused({{"type", "auth"}, {"token", "tok"}, {"id", 9}}, "already authenticated");
  check_refused({{"type", "auth"}}, "already authenticated"); // its fields do not matter then
}

TEST_CASE("ping takes no fields and ignores extra ones") {
  for (auto enc : both)
    accepted<ping_request>({{"type", "ping"}, {"extra", "x"}}, enc);
}

TEST_CASE("a text send carries cid, recipient and a body of 1 byte to 64 KiB") {
  for (auto enc : both) {
    INFO(name(enc));
    auto s = accepted<send_request>(with(text_send(), "extra", 1), enc);
    CHECK(s.id == request_id{7u});
    CHECK(s.cid == "c-1");
    CHECK(s.to == "bob");
    CHECK(s.kind == "text");
    CHECK(s.body == std::optional<std::string>{"hi"});
    CHECK_FALSE(s.media);
    CHECK(accepted<send_request>(with(text_send(), "body", std::string(64 * 1024, 'x')), enc)
              .body->size() == 64 * 1024);
    CHECK(accepted<send_request>(with(text_send(), "cid", utf8_chars(64)), enc).cid ==
          utf8_chars(64));
    // A text ignores `media`.
    CHECK_FALSE(accepted<send_request>(with(text_send(), "media", 5), enc).media);
  }
  check_refused(with(text_send(), "cid", absent), "missing field 'cid'");
  check_refused(with(text_send(), "cid", ""), "field 'cid' must have 1 to 64 characters");
  check_refused(with(text_send(), "cid", utf8_chars(65)),
                "field 'cid' must have 1 to 64 characters");
  check_refused(with(text_send(), "cid", 12), "field 'cid' must be a string");
  check_refused(with(text_send(), "to", absent), "missing field 'to'");
  check_refused(with(text_send(), "to", "Bob"), "field 'to' is not a valid user name");
  check_refused(with(text_send(), "to", "bo"), "field 'to' is not a valid user name");
  check_refused(with(text_send(), "to", std::string(65, 'b')),
                "field 'to' must have 0 to 64 characters");
  check_refused(with(text_send(), "to", json::array({"bob"})), "field 'to' must be a string");
  check_refused(with(text_send(), "kind", absent), "missing field 'kind'");
  check_refused(with(text_send(), "kind", "sticker"), "unknown kind 'sticker'");
  check_refused(with(text_send(), "kind", std::string(17, 'k')),
                "field 'kind' must have 1 to 16 characters");
  check_refused(with(text_send(), "body", absent), "missing field 'body'");
  check_refused(with(text_send(), "body", nullptr), "missing field 'body'");
  check_refused(with(text_send(), "body", ""), "field 'body' must have 1 to 65536 bytes");
  check_refused(with(text_send(), "body", std::string(64 * 1024 + 1, 'x')),
                "field 'body' must have 1 to 65536 bytes");
  check_refused(with(text_send(), "body", 1), "field 'body' must be a string");
  // Several problems: the first field checked is reported.
  check_refused(with(with(text_send(), "cid", ""), "to", "X"),
                "field 'cid' must have 1 to 64 characters");
}

TEST_CASE("a binary value where text is expected is a wrong type, not text") {
  auto frame = with(text_send(), "body", json::binary({'h', 'i'}));
  auto f = parse_client_frame(encode(frame, encoding::msgpack), true, "alice");
  CHECK(refusal(f) == "field 'body' must be a string");
}

TEST_CASE("a media send carries a checked media reference and an optional caption") {
  for (auto enc : both) {
    INFO(name(enc));
    auto s = accepted<send_request>(media_send(), enc);
    REQUIRE(s.media);
    CHECK(s.kind == "image");
    CHECK(s.media->hash == hash64);
    CHECK(s.media->mime == "image/jpeg");
    CHECK(s.media->size == 10);
    CHECK_FALSE(s.media->name);
    CHECK_FALSE(s.media->thumb);
    CHECK_FALSE(s.body);
    for (auto kind : {"video", "audio", "document"})
      CHECK(accepted<send_request>(with(media_send(), "kind", kind), enc).media);
    auto full = media_with("name", "cat.jpg");
    full["media"]["thumb"] = json::binary({0, 1, 255});
    full["body"] = "";
    s = accepted<send_request>(full, enc); // JSON carries the thumb as base64 text
    CHECK(s.media->name == std::optional<std::string>{"cat.jpg"});
    CHECK(s.media->thumb == std::optional<std::string>{std::string("\x00\x01\xff", 3)});
    CHECK(s.body == std::optional<std::string>{""});
    CHECK(
        accepted<send_request>(media_with("thumb", json::binary(std::vector<uint8_t>(16384))), enc)
            .media->thumb->size() == 16384);
    CHECK_FALSE(accepted<send_request>(media_with("thumb", nullptr), enc).media->thumb);
  }
  check_refused(with(media_send(), "media", absent), "field 'media' must be an object");
  check_refused(with(media_send(), "media", nullptr), "field 'media' must be an object");
  check_refused(with(media_send(), "media", hash64), "field 'media' must be an object");
  check_refused(media_with("hash", absent), "missing field 'hash'");
  check_refused(media_with("hash", std::string(63, 'a')), "field 'hash' must have 64 to 64 bytes");
  check_refused(media_with("hash", std::string(64, 'A')),
                "media.hash must be 64 lowercase hex digits");
  check_refused(media_with("hash", std::string(63, 'a') + "g"),
                "media.hash must be 64 lowercase hex digits");
  check_refused(media_with("mime", absent), "missing field 'mime'");
  check_refused(media_with("mime", ""), "field 'mime' must have 1 to 127 characters");
  check_refused(media_with("mime", std::string(128, 'm')),
                "field 'mime' must have 1 to 127 characters");
  check_refused(media_with("size", absent), "missing field 'size'");
  check_refused(media_with("size", -1), "field 'size' must be an unsigned integer");
  check_refused(media_with("size", "10"), "field 'size' must be an unsigned integer");
  check_refused(media_with("size", 1.5), "field 'size' must be an unsigned integer");
  check_refused(media_with("name", ""), "field 'name' must have 1 to 255 characters");
  check_refused(media_with("name", utf8_chars(256)), "field 'name' must have 1 to 255 characters");
  check_refused(media_with("thumb", json::binary(std::vector<uint8_t>(16385))),
                "media.thumb is larger than 16 KiB");
  check_refused(media_with("thumb", 3), "media.thumb must be binary (base64 in JSON)");
  check_refused(with(media_send(), "body", std::string(64 * 1024 + 1, 'x')),
                "field 'body' must have 0 to 65536 bytes");
  // The first problem inside `media` is reported, and a problem before it wins.
  auto two_problems = media_with("hash", absent);
  two_problems["media"]["mime"] = "";
  check_refused(two_problems, "missing field 'hash'");
  check_refused(with(media_with("hash", absent), "cid", absent), "missing field 'cid'");
  // A thumb as text is base64 in JSON, and wrong in msgpack; bad base64 is wrong in JSON.
  auto text_thumb = media_with("thumb", "AAH/");
  CHECK(refusal(parse(text_thumb, encoding::msgpack)) ==
        "media.thumb must be binary (base64 in JSON)");
  CHECK(accepted<send_request>(text_thumb, encoding::json).media->thumb ==
        std::optional<std::string>{std::string("\x00\x01\xff", 3)});
  CHECK(refusal(parse(media_with("thumb", "not base64!"), encoding::json)) ==
        "media.thumb must be binary (base64 in JSON)");
}

TEST_CASE("the stored content of a send is a msgpack map of kind, body and media") {
  auto s = accepted<send_request>(text_send(), encoding::json);
  CHECK(reply(stored_content(s), encoding::msgpack) == json{{"kind", "text"}, {"body", "hi"}});
  auto full = media_with("name", "cat.jpg");
  full["media"]["thumb"] = json::binary({0, 1, 255});
  full["body"] = "look";
  s = accepted<send_request>(full, encoding::json);
  auto stored = reply(stored_content(s), encoding::msgpack);
  CHECK(stored == json{{"kind", "image"},
                       {"body", "look"},
                       {"media",
                        {{"hash", hash64},
                         {"mime", "image/jpeg"},
                         {"size", 10},
                         {"name", "cat.jpg"},
                         {"thumb", json::binary({0, 1, 255})}}}});
  CHECK(stored["media"]["thumb"].is_binary());
}

TEST_CASE("ack takes an unsigned upto") {
  for (auto enc : both) {
    INFO(name(enc));
    CHECK(accepted<ack_request>({{"type", "ack"}, {"upto", 0}}, enc).upto == 0);
    CHECK(accepted<ack_request>({{"type", "ack"}, {"upto", UINT64_MAX}}, enc).upto == UINT64_MAX);
  }
  check_refused({{"type", "ack"}, {"id", 4}}, "missing field 'upto'");
  check_refused({{"type", "ack"}, {"upto", "ten"}}, "field 'upto' must be an unsigned integer");
  check_refused({{"type", "ack"}, {"upto", -1}}, "field 'upto' must be an unsigned integer");
  check_refused({{"type", "ack"}, {"upto", 2.5}}, "field 'upto' must be an unsigned integer");
}

TEST_CASE("read names a sender and 1 to 1024 mids of 1 to 64 bytes") {
  const json ok{{"type", "read"}, {"from", "alice"}, {"mids", {"m1", std::string(64, 'm')}}};
  for (auto enc : both) {
    INFO(name(enc));
    auto r = accepted<read_request>(ok, enc);
    CHECK(r.from == "alice");
    CHECK(r.mids == std::vector<std::string>{"m1", std::string(64, 'm')});
    CHECK(accepted<read_request>(with(ok, "mids", std::vector<std::string>(1024, "m")), enc)
              .mids.size() == 1024);
  }
  const std::string mids_message = "field 'mids' must be an array of 1 to 1024 mids";
  check_refused(with(ok, "from", absent), "missing field 'from'");
  check_refused(with(ok, "from", "A"), "field 'from' is not a valid user name");
  check_refused(with(ok, "mids", absent), mids_message);
  check_refused(with(ok, "mids", nullptr), mids_message);
  check_refused(with(ok, "mids", json::array()), mids_message);
  check_refused(with(ok, "mids", "m1"), mids_message);
  check_refused(with(ok, "mids", std::vector<std::string>(1025, "m")), mids_message);
  const std::string mid_message = "every mid must be a string of 1 to 64 bytes";
  check_refused(with(ok, "mids", {"m1", ""}), mid_message);
  check_refused(with(ok, "mids", {"m1", std::string(65, 'm')}), mid_message);
  check_refused(with(ok, "mids", {"m1", 2}), mid_message);
  check_refused(with(with(ok, "mids", absent), "from", 3), "field 'from' must be a string");
}

TEST_CASE("state takes a boolean foreground") {
  for (auto enc : both) {
    CHECK(accepted<state_request>({{"type", "state"}, {"foreground", true}}, enc).foreground);
    CHECK_FALSE(
        accepted<state_request>({{"type", "state"}, {"foreground", false}}, enc).foreground);
  }
  check_refused({{"type", "state"}}, "missing field 'foreground'");
  check_refused({{"type", "state"}, {"foreground", 1}}, "field 'foreground' must be a boolean");
}

TEST_CASE("profile_get and presence_get name one valid user") {
  for (auto enc : both) {
    CHECK(accepted<profile_get_request>({{"type", "profile_get"}, {"user", "bob"}}, enc).user ==
          "bob");
    CHECK(
        accepted<presence_get_request>({{"type", "presence_get"}, {"user", "a.b-c_9"}}, enc).user ==
        "a.b-c_9");
  }
  for (auto type : {"profile_get", "presence_get"}) {
    check_refused({{"type", type}}, "missing field 'user'");
    check_refused({{"type", type}, {"user", "b!b"}}, "field 'user' is not a valid user name");
    check_refused({{"type", type}, {"user", std::string(33, 'b')}},
                  "field 'user' is not a valid user name");
    check_refused({{"type", type}, {"user", true}}, "field 'user' must be a string");
  }
}

TEST_CASE("profile_set trims its texts and checks lengths, control characters and privacy") {
  for (auto enc : both) {
    INFO(name(enc));
    auto empty = accepted<profile_set_request>({{"type", "profile_set"}}, enc);
    CHECK_FALSE(empty.name);
    CHECK_FALSE(empty.about);
    CHECK_FALSE(empty.avatar);
    CHECK_FALSE(empty.privacy);
    CHECK(reply(profile_changes(empty), encoding::msgpack) == json::object());
    auto p = accepted<profile_set_request>({{"type", "profile_set"},
                                            {"name", " \t Bob\r\n"},
                                            {"about", utf8_chars(256)},
                                            {"avatar", hash64},
                                            {"privacy", {{"last_seen", "contacts"}}}},
                                           enc);
    CHECK(p.name == std::optional<std::string>{"Bob"});
    CHECK(p.about == std::optional<std::string>{utf8_chars(256)});
    CHECK(p.avatar == std::optional<std::optional<std::string>>{hash64});
    REQUIRE(p.privacy);
    CHECK(p.privacy->last_seen == std::optional<std::string>{"contacts"});
    CHECK_FALSE(p.privacy->read_receipts);
    CHECK(reply(profile_changes(p), encoding::msgpack) ==
          json{{"name", "Bob"},
               {"about", utf8_chars(256)},
               {"avatar", hash64},
               {"privacy", {{"last_seen", "contacts"}}}});
    auto removal = accepted<profile_set_request>(
        {{"type", "profile_set"}, {"avatar", nullptr}, {"privacy", {{"read_receipts", false}}}},
        enc);
    REQUIRE(removal.avatar.has_value()); // given, as null: remove it
    CHECK_FALSE(removal.avatar->has_value());
    CHECK(reply(profile_changes(removal), encoding::msgpack) ==
          json{{"avatar", nullptr}, {"privacy", {{"read_receipts", false}}}});
    CHECK(accepted<profile_set_request>({{"type", "profile_set"}, {"name", "   "}}, enc).name ==
          std::optional<std::string>{""});
    CHECK(accepted<profile_set_request>({{"type", "profile_set"}, {"name", nullptr}}, enc).name ==
          std::nullopt);
    CHECK(reply(profile_changes(accepted<profile_set_request>(
                    {{"type", "profile_set"}, {"privacy", json::object()}}, enc)),
                encoding::msgpack) == json{{"privacy", json::object()}});
  }
  const json ps{{"type", "profile_set"}};
  check_refused(with(ps, "name", utf8_chars(65)), "field 'name' must have at most 64 characters");
  check_refused(with(ps, "name", std::string(257, 'n')), "field 'name' must have 0 to 256 bytes");
  check_refused(with(ps, "about", utf8_chars(257)),
                "field 'about' must have at most 256 characters");
  check_refused(with(ps, "about", std::string(1025, 'a')),
                "field 'about' must have 0 to 1024 bytes");
  check_refused(with(ps, "name", "tab\there"), "field 'name' must not contain control characters");
  check_refused(with(ps, "about", "bell\x07"), "field 'about' must not contain control characters");
  check_refused(with(ps, "about", "del\x7f"), "field 'about' must not contain control characters");
  check_refused(with(ps, "about", "c1 \xc2\x85 control"),
                "field 'about' must not contain control characters");
  check_refused(with(ps, "name", 42), "field 'name' must be a string");
  check_refused(with(ps, "avatar", "not-a-hash"), "field 'avatar' must have 64 to 64 bytes");
  check_refused(with(ps, "avatar", 1), "field 'avatar' must be a string");
  check_refused(with(ps, "privacy", nullptr), "field 'privacy' must be an object");
  check_refused(with(ps, "privacy", "nobody"), "field 'privacy' must be an object");
  check_refused(with(ps, "privacy", {{"last_seen", "friends"}}),
                "privacy.last_seen must be everyone, contacts or nobody");
  check_refused(with(ps, "privacy", {{"last_seen", ""}}),
                "field 'last_seen' must have 1 to 16 characters");
  check_refused(with(ps, "privacy", {{"read_receipts", "no"}}),
                "field 'read_receipts' must be a boolean");
  check_refused(with(with(ps, "name", 1), "privacy", 1), "field 'name' must be a string");
}

TEST_CASE("presence_sub and presence_unsub take at most 1024 user names") {
  for (auto enc : both) {
    INFO(name(enc));
    auto sub = accepted<presence_sub_request>(
        {{"type", "presence_sub"}, {"id", 6}, {"users", {"bob", "carol"}}}, enc);
    CHECK(sub.subscribe);
    CHECK(sub.users == std::vector<std::string>{"bob", "carol"});
    auto unsub =
        accepted<presence_sub_request>({{"type", "presence_unsub"}, {"users", json::array()}}, enc);
    CHECK_FALSE(unsub.subscribe);
    CHECK(unsub.users.empty());
    CHECK(accepted<presence_sub_request>(
              {{"type", "presence_sub"}, {"users", std::vector<std::string>(1024, "bob")}}, enc)
              .users.size() == 1024);
  }
  const std::string users_message = "field 'users' must be an array of at most 1024 users";
  for (auto type : {"presence_sub", "presence_unsub"}) {
    check_refused({{"type", type}}, users_message);
    check_refused({{"type", type}, {"users", "bob"}}, users_message);
    check_refused({{"type", type}, {"users", std::vector<std::string>(1025, "bob")}},
                  users_message);
    check_refused({{"type", type}, {"users", {"bob", "X"}}},
                  "every entry of 'users' must be a user name");
    check_refused({{"type", type}, {"users", {"bob", 1}}},
                  "every entry of 'users' must be a user name");
  }
}

TEST_CASE("contacts and blocks: lists take no fields, changes name another valid user") {
  struct change {
    const char* type;
    user_list list;
    bool add;
  };
  for (auto enc : both) {
    INFO(name(enc));
    CHECK(accepted<list_get_request>({{"type", "contacts_list"}}, enc).list == user_list::contacts);
    CHECK(accepted<list_get_request>({{"type", "blocked_list"}}, enc).list == user_list::blocked);
    for (auto c : {change{"contacts_add", user_list::contacts, true},
                   change{"contacts_remove", user_list::contacts, false},
                   change{"block", user_list::blocked, true},
                   change{"unblock", user_list::blocked, false}}) {
      INFO(std::string{c.type});
      auto r = accepted<list_change_request>({{"type", c.type}, {"user", "eve"}}, enc);
      CHECK(r.list == c.list);
      CHECK(r.add == c.add);
      CHECK(r.user == "eve");
    }
  }
  for (auto type : {"contacts_add", "contacts_remove", "block", "unblock"}) {
    check_refused({{"type", type}}, "missing field 'user'");
    check_refused({{"type", type}, {"user", "Eve"}}, "field 'user' is not a valid user name");
    check_refused({{"type", type}, {"user", "alice"}}, "you cannot add or block yourself");
  }
}

TEST_CASE("replies carry the request's id and use its encoding") {
  reply_to numbered{request_id{7u}, encoding::json};
  reply_to named{request_id{"x-1"}, encoding::msgpack};
  reply_to none{request_id{}, encoding::json};
  CHECK(welcome_frame(numbered, "bob", 5) == R"({"id":7,"ts":5,"type":"welcome","user":"bob"})");
  CHECK(reply(welcome_frame(named, "bob", 5), encoding::msgpack) ==
        json{{"type", "welcome"}, {"id", "x-1"}, {"user", "bob"}, {"ts", 5}});
  CHECK(sent_frame(numbered, "c-1", "m1", 9) ==
        R"({"cid":"c-1","id":7,"mid":"m1","ts":9,"type":"sent"})");
  CHECK(error_frame(none, "bad_request", "no") ==
        R"({"code":"bad_request","message":"no","type":"error"})");
  CHECK(
      error_frame(numbered, "rate_limited", "too many frames", 250) ==
      R"({"code":"rate_limited","id":7,"message":"too many frames","retry_ms":250,"type":"error"})");
  CHECK(error_frame(none, "unavailable", "retry", 0) ==
        R"({"code":"unavailable","message":"retry","retry_ms":0,"type":"error"})");
  CHECK(pong_frame(none) == R"({"type":"pong"})");
  CHECK(reply(ok_frame(named), encoding::msgpack) == json{{"type", "ok"}, {"id", "x-1"}});
  CHECK(presence_frame(none, "bob", true, 12) ==
        R"({"last_seen":12,"online":true,"type":"presence","user":"bob"})");
  CHECK(presence_frame(numbered, "bob", false, -1) ==
        R"({"id":7,"last_seen":null,"online":false,"type":"presence","user":"bob"})");
  CHECK(user_list_frame(numbered, user_list::contacts, {"alice", "bob"}) ==
        R"({"id":7,"type":"contacts","users":["alice","bob"]})");
  CHECK(user_list_frame(none, user_list::blocked, {}) == R"({"type":"blocked","users":[]})");
  auto fields =
      encode(json{{"user", "bob"}, {"name", "Bob"}, {"avatar", nullptr}}, encoding::msgpack);
  CHECK(profile_frame(numbered, fields) ==
        R"({"avatar":null,"id":7,"name":"Bob","type":"profile","user":"bob"})");
  CHECK(profile_frame(none, "not msgpack") == R"({"type":"profile"})");
}

TEST_CASE("a pushed item gets its seq in either encoding, thumbs as bin or base64") {
  auto item = encode(json{{"type", "msg"}, {"mid", "m1"}, {"thumb", json::binary({0, 255})}},
                     encoding::msgpack);
  auto packed = push_frame(encoding::msgpack, item, 42);
  REQUIRE(packed);
  CHECK(reply(*packed, encoding::msgpack) ==
        json{{"type", "msg"}, {"mid", "m1"}, {"thumb", json::binary({0, 255})}, {"seq", 42}});
  CHECK(push_frame(encoding::json, item, 42) ==
        std::optional<std::string>{R"({"mid":"m1","seq":42,"thumb":"AP8=","type":"msg"})"});
  CHECK_FALSE(push_frame(encoding::msgpack, "\x01", 1));
  CHECK_FALSE(push_frame(encoding::json, "\x01", 1));
}

namespace {

/// What a parse came to, in one comparable line.
std::string summary(const client_frame& f) {
  std::string out = std::to_string(f.index()) + "|" + refusal(f);
  const auto& to = reply_of(f);
  if (const auto* n = std::get_if<uint64_t>(&to.id))
    out += "|id=" + std::to_string(*n);
  else if (const auto* s = std::get_if<std::string>(&to.id))
    out += "|id='" + *s + "'";
  if (const auto* b = std::get_if<bad_request>(&f))
    out += b->decoded ? "|decoded" : "|undecoded";
  if (const auto* s = std::get_if<send_request>(&f))
    out += "|" + s->cid + "|" + s->to + "|" + s->kind + "|" + s->body.value_or("-") + "|" +
           (s->media ? s->media->hash + s->media->thumb.value_or("-") : "-");
  if (const auto* r = std::get_if<read_request>(&f))
    for (const auto& mid : r->mids)
      out += "|" + mid;
  if (const auto* a = std::get_if<ack_request>(&f))
    out += "|" + std::to_string(a->upto);
  return out;
}

/// The parse of `bytes` as the json DOM reads them: decoded, re-encoded canonically, parsed.
std::string reference(const std::string& bytes) {
  std::string error;
  auto value = decode(bytes, encoding::msgpack, &error);
  if (!value)
    return summary(bad_request{{{}, encoding::msgpack}, error, false});
  return summary(parse_client_frame(encode(*value, encoding::msgpack), true, "alice"));
}

std::string bytes_of(std::initializer_list<int> xs) {
  std::string out;
  for (int x : xs)
    out += static_cast<char>(x);
  return out;
}

} // namespace

TEST_CASE("msgpack frames read directly give what their json DOM gives, byte mutations too") {
  auto media = media_with("thumb", json::binary({1, 2, 3}));
  media["id"] = "m-9";
  std::vector<std::string> seeds{
      encode(text_send(), encoding::msgpack),
      encode(media, encoding::msgpack),
      encode(json{{"type", "read"}, {"from", "bob"}, {"mids", {"a", "bb", "ccc"}}, {"id", 300}},
             encoding::msgpack),
      encode(json{{"type", "ack"}, {"upto", 70000}}, encoding::msgpack),
  };
  uint64_t state = 42; // a fixed LCG: the same mutations on every run
  auto next = [&state] {
    state = state * 6364136223846793005ULL + 1442695040888963407ULL;
    return static_cast<uint32_t>(state >> 33);
  };
  int compared = 0;
  for (const auto& seed : seeds) {
    CHECK(summary(parse_client_frame(seed, true, "alice")) == reference(seed));
    for (int round = 0; round < 1500; ++round) {
      auto bytes = seed;
      switch (next() % 4) {
      case 0: // change one byte
        bytes[next() % bytes.size()] = static_cast<char>(next() & 0xff);
        break;
      case 1: // cut the end off
        bytes.resize(next() % bytes.size());
        break;
      case 2: // insert a byte
        bytes.insert(bytes.begin() + static_cast<long>(next() % bytes.size()),
                     static_cast<char>(next() & 0xff));
        break;
      default: // change a few
        for (int k = 0; k < 3; ++k)
          bytes[next() % bytes.size()] = static_cast<char>(next() & 0xff);
      }
      INFO(round);
      CHECK(summary(parse_client_frame(bytes, true, "alice")) == reference(bytes));
      ++compared;
    }
  }
  CHECK(compared == 6000);
}

TEST_CASE("non-canonical msgpack forms and repeated keys are read as the json DOM reads them") {
  // {"type": str8 "ack", "upto": int8 5, "upto": uint16 300}: the last `upto` wins.
  auto repeated = bytes_of({0x83, 0xa4, 't', 'y',  'p', 'e',  0xd9, 3,   'a', 'c', 'k',  0xa4, 'u',
                            'p',  't',  'o', 0xd0, 5,   0xa4, 'u',  'p', 't', 'o', 0xcd, 1,    44});
  auto ack = parse_client_frame(repeated, true, "alice");
  REQUIRE(std::holds_alternative<ack_request>(ack));
  CHECK(std::get<ack_request>(ack).upto == 300);
  CHECK(summary(ack) == reference(repeated));
  // A negative int8 id, a float id: refused as ids.
  for (auto id : {bytes_of({0xd0, 0xff}), bytes_of({0xca, 0x3f, 0x80, 0, 0})}) {
    auto frame =
        bytes_of({0x82, 0xa4, 't', 'y', 'p', 'e', 0xa4, 'p', 'i', 'n', 'g', 0xa2, 'i', 'd'}) + id;
    CHECK(refusal(parse_client_frame(frame, true, "alice")) ==
          "'id' must be an unsigned integer or a string of at most 64 characters");
  }
  // Nesting: 6 levels deep in an ignored field is taken (through the general decoder), 9 is not.
  auto nested = [](int levels) {
    json inner = 1;
    for (int i = 0; i < levels; ++i)
      inner = json{{"x", inner}};
    return encode(json{{"type", "ping"}, {"extra", inner}}, encoding::msgpack);
  };
  CHECK(std::holds_alternative<ping_request>(parse_client_frame(nested(5), true, "alice")));
  CHECK(summary(parse_client_frame(nested(8), true, "alice")) == reference(nested(8)));
  CHECK(refusal(parse_client_frame(nested(8), true, "alice")).rfind("malformed msgpack: ", 0) == 0);
  // ext values, and a bin where a text is expected.
  auto ext =
      bytes_of({0x82, 0xa4, 't', 'y', 'p', 'e', 0xa4, 'p', 'i', 'n', 'g', 0xa1, 'x', 0xd4, 1, 2});
  CHECK(summary(parse_client_frame(ext, true, "alice")) == reference(ext));
  CHECK(refusal(parse_client_frame(ext, true, "alice")).rfind("malformed msgpack: ", 0) == 0);
  auto bin_type = bytes_of({0x81, 0xa4, 't', 'y', 'p', 'e', 0xc4, 4, 'p', 'i', 'n', 'g'});
  CHECK(refusal(parse_client_frame(bin_type, true, "alice")) == "missing field 'type'");
}

TEST_CASE("the direct msgpack writers give the bytes net::encode gives") {
  for (int64_t v : {int64_t{0},
                    int64_t{-1},
                    int64_t{-32},
                    int64_t{-33},
                    int64_t{-128},
                    int64_t{-129},
                    int64_t{-32768},
                    int64_t{-32769},
                    int64_t{INT32_MIN},
                    int64_t{INT32_MIN} - 1,
                    INT64_MIN,
                    int64_t{127},
                    int64_t{128},
                    int64_t{255},
                    int64_t{256},
                    int64_t{65535},
                    int64_t{65536},
                    int64_t{UINT32_MAX},
                    int64_t{UINT32_MAX} + 1,
                    INT64_MAX}) {
    INFO(v);
    std::string out;
    msgpack_writer{out}.integer(v);
    CHECK(out == encode(json(v), encoding::msgpack));
  }
  for (std::size_t n : {0, 31, 32, 255, 256, 65535, 65536}) {
    INFO(n);
    std::string s(n, 'x');
    std::string out;
    msgpack_writer{out}.str(s).bin(s);
    CHECK(out == encode(json(s), encoding::msgpack) +
                     encode(json::binary(std::vector<uint8_t>(n, 'x')), encoding::msgpack));
  }
  std::string wide;
  msgpack_writer{wide}.map(16).array(16).boolean(true).nil();
  CHECK(wide.substr(0, 6) == bytes_of({0xde, 0, 16, 0xdc, 0, 16}));
  // Stored content and `sent` exactly as the json DOM encoded them: decoding and encoding the
  // content again through the DOM gives the same bytes (with a name, a thumb and a caption).
  auto media = media_with("thumb", json::binary({0, 1, 255}));
  media["media"]["name"] = "cat.jpg";
  media["body"] = "look";
  for (const auto& frame : {text_send(), media}) {
    auto content = stored_content(accepted<send_request>(frame, encoding::msgpack));
    CHECK(content == encode(reply(content, encoding::msgpack), encoding::msgpack));
  }
  for (const auto& id : {request_id{}, request_id{7u}, request_id{"x-1"}}) {
    reply_to to{id, encoding::msgpack};
    json expected{{"type", "sent"}, {"cid", "c-1"}, {"mid", "m1"}, {"ts", 1'700'000'000'000}};
    if (const auto* n = std::get_if<uint64_t>(&id))
      expected["id"] = *n;
    else if (const auto* text = std::get_if<std::string>(&id))
      expected["id"] = *text;
    CHECK(sent_frame(to, "c-1", "m1", 1'700'000'000'000) == encode(expected, encoding::msgpack));
  }
}
