#include "net/frames.hpp"

#include "net/fields.hpp"
#include "net/frame_doc.hpp"
#include "net/msgpack_map.hpp"

namespace tidings::net {

namespace {

template <class Request> Request answering(const reply_to& to) {
  Request out;
  static_cast<reply_to&>(out) = to;
  return out;
}

bad_request bad(const reply_to& to, std::string message, bool decoded = true) {
  auto out = answering<bad_request>(to);
  out.message = std::move(message);
  out.decoded = decoded;
  return out;
}

/// The `id` if it is usable: an unsigned integer or a string of at most 64 characters.
std::optional<request_id> read_id(value_ref id) {
  if (id.is_unsigned())
    return request_id{id.unsigned_value()};
  if (id.is_string() && utf8_length(id.str()) <= max_id_chars)
    return request_id{std::string{id.str()}};
  return std::nullopt;
}

bool is_media_kind(std::string_view kind) {
  return kind == "image" || kind == "video" || kind == "audio" || kind == "document";
}

/// Reads `media` of a send frame (the thumb as raw bytes), or fails `r`.
media_ref read_media(value_ref frame, encoding enc, field_reader& r) {
  media_ref media;
  auto it = frame.find("media");
  if (!it || !it->is_map()) {
    r.fail("field 'media' must be an object");
    return media;
  }
  field_reader m{*it};
  if (auto hash = m.bytes("hash", 64, 64)) {
    for (char c : *hash)
      if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
        m.fail("media.hash must be 64 lowercase hex digits");
    media.hash = *hash;
  }
  if (auto mime = m.text("mime", 1, 127))
    media.mime = *mime;
  if (auto size = m.uint("size"))
    media.size = *size;
  media.name = m.text("name", 1, 255, false);
  auto thumb = it->find("thumb");
  if (thumb && !thumb->is_null()) {
    std::optional<std::string> bytes;
    if (thumb->is_binary())
      bytes = std::string{thumb->str()};
    else if (thumb->is_string() && enc == encoding::json)
      bytes = base64_decode(thumb->str());
    if (!bytes)
      m.fail("media.thumb must be binary (base64 in JSON)");
    else if (bytes->size() > max_thumb_bytes)
      m.fail("media.thumb is larger than 16 KiB");
    else
      media.thumb = std::move(bytes);
  }
  if (!m.ok())
    r.fail(m.error());
  return media;
}

client_frame parse_auth(value_ref frame, const reply_to& to) {
  field_reader r{frame};
  auto token = r.bytes("token", 1, 512);
  auto foreground = r.boolean("foreground", false);
  if (!r.ok())
    return bad(to, r.error());
  auto out = answering<auth_request>(to);
  out.token = std::move(*token);
  out.foreground = foreground.value_or(true);
  return out;
}

client_frame parse_send(value_ref frame, const reply_to& to) {
  field_reader r{frame};
  auto out = answering<send_request>(to);
  auto cid = r.text("cid", 1, 64);
  auto dest = r.user("to");
  auto kind = r.text("kind", 1, 16);
  if (kind) {
    if (*kind == "text") {
      out.body = r.bytes("body", 1, max_body_bytes);
    } else if (is_media_kind(*kind)) {
      out.media = read_media(frame, to.enc, r);
      out.body = r.bytes("body", 0, max_body_bytes, false);
    } else {
      r.fail("unknown kind '" + *kind + "'");
    }
  }
  if (!r.ok())
    return bad(to, r.error());
  out.cid = std::move(*cid);
  out.to = std::move(*dest);
  out.kind = std::move(*kind);
  return out;
}

client_frame parse_ack(value_ref frame, const reply_to& to) {
  field_reader r{frame};
  auto upto = r.uint("upto");
  if (!r.ok())
    return bad(to, r.error());
  auto out = answering<ack_request>(to);
  out.upto = *upto;
  return out;
}

client_frame parse_read(value_ref frame, const reply_to& to) {
  field_reader r{frame};
  auto out = answering<read_request>(to);
  auto from = r.user("from");
  auto it = frame.find("mids");
  if (!it || !it->is_array() || it->size() == 0 || it->size() > max_read_mids) {
    r.fail("field 'mids' must be an array of 1 to " + std::to_string(max_read_mids) + " mids");
  } else {
    out.mids.reserve(it->size());
    auto mid = it->first();
    for (uint32_t i = 0; i < it->size(); ++i, mid = mid.next()) {
      if (!mid.is_string() || mid.str().empty() || mid.str().size() > 64) {
        r.fail("every mid must be a string of 1 to 64 bytes");
        break;
      }
      out.mids.emplace_back(mid.str());
    }
  }
  if (!r.ok())
    return bad(to, r.error());
  out.from = std::move(*from);
  return out;
}

client_frame parse_state(value_ref frame, const reply_to& to) {
  field_reader r{frame};
  auto foreground = r.boolean("foreground");
  if (!r.ok())
    return bad(to, r.error());
  auto out = answering<state_request>(to);
  out.foreground = *foreground;
  return out;
}

/// `profile_get` and `presence_get`: one field `user`.
template <class Request> client_frame parse_user_query(value_ref frame, const reply_to& to) {
  field_reader r{frame};
  auto target = r.user("user");
  if (!r.ok())
    return bad(to, r.error());
  auto out = answering<Request>(to);
  out.user = std::move(*target);
  return out;
}

/// Trimmed profile text: no control characters, at most `max` code points.
std::optional<std::string> profile_text(field_reader& r, const char* key, std::size_t max) {
  auto raw = r.bytes(key, 0, max * 4, false);
  if (!raw)
    return std::nullopt;
  auto begin = raw->find_first_not_of(" \t\r\n");
  auto end = raw->find_last_not_of(" \t\r\n");
  std::string text = begin == std::string::npos ? "" : raw->substr(begin, end - begin + 1);
  for (std::size_t i = 0; i < text.size(); ++i) {
    auto c = static_cast<unsigned char>(text[i]);
    bool c1 = c == 0xC2 && i + 1 < text.size() && static_cast<unsigned char>(text[i + 1]) < 0xA0;
    if (c < 0x20 || c == 0x7F || c1) {
      r.fail(std::string{"field '"} + key + "' must not contain control characters");
      return std::nullopt;
    }
  }
  if (utf8_length(text) > max) {
    r.fail(std::string{"field '"} + key + "' must have at most " + std::to_string(max) +
           " characters");
    return std::nullopt;
  }
  return text;
}

client_frame parse_profile_set(value_ref frame, const reply_to& to) {
  field_reader r{frame};
  auto out = answering<profile_set_request>(to);
  out.name = profile_text(r, "name", 64);
  out.about = profile_text(r, "about", 256);
  if (auto it = frame.find("avatar")) {
    if (it->is_null())
      out.avatar.emplace(std::nullopt);
    else if (auto hash = r.bytes("avatar", 64, 64))
      out.avatar.emplace(std::move(*hash));
  }
  if (auto it = frame.find("privacy")) {
    if (!it->is_map()) {
      r.fail("field 'privacy' must be an object");
    } else {
      field_reader p{*it};
      privacy_change privacy;
      privacy.last_seen = p.text("last_seen", 1, 16, false);
      if (privacy.last_seen && *privacy.last_seen != "everyone" &&
          *privacy.last_seen != "contacts" && *privacy.last_seen != "nobody")
        p.fail("privacy.last_seen must be everyone, contacts or nobody");
      privacy.read_receipts = p.boolean("read_receipts", false);
      if (!p.ok())
        r.fail(p.error());
      out.privacy = std::move(privacy);
    }
  }
  if (!r.ok())
    return bad(to, r.error());
  return out;
}

client_frame parse_presence_sub(value_ref frame, const reply_to& to, bool subscribe) {
  auto it = frame.find("users");
  if (!it || !it->is_array() || it->size() > max_presence_users)
    return bad(to, "field 'users' must be an array of at most " +
                       std::to_string(max_presence_users) + " users");
  auto out = answering<presence_sub_request>(to);
  out.subscribe = subscribe;
  out.users.reserve(it->size());
  auto u = it->first();
  for (uint32_t i = 0; i < it->size(); ++i, u = u.next()) {
    if (!u.is_string() || !valid_user(u.str()))
      return bad(to, "every entry of 'users' must be a user name");
    out.users.emplace_back(u.str());
  }
  return out;
}

client_frame parse_list_change(value_ref frame, const reply_to& to, std::string_view user,
                               user_list list, bool add) {
  field_reader r{frame};
  auto other = r.user("user");
  if (!r.ok())
    return bad(to, r.error());
  if (*other == user)
    return bad(to, "you cannot add or block yourself");
  auto out = answering<list_change_request>(to);
  out.list = list;
  out.add = add;
  out.user = std::move(*other);
  return out;
}

client_frame list_get(const reply_to& to, user_list list) {
  auto out = answering<list_get_request>(to);
  out.list = list;
  return out;
}

/// The frame of an authenticated session, by its type.
client_frame parse_request(std::string_view type, value_ref frame, const reply_to& to,
                           std::string_view user) {
  if (type == "ping")
    return answering<ping_request>(to);
  if (type == "send")
    return parse_send(frame, to);
  if (type == "ack")
    return parse_ack(frame, to);
  if (type == "read")
    return parse_read(frame, to);
  if (type == "state")
    return parse_state(frame, to);
  if (type == "profile_get")
    return parse_user_query<profile_get_request>(frame, to);
  if (type == "profile_set")
    return parse_profile_set(frame, to);
  if (type == "presence_get")
    return parse_user_query<presence_get_request>(frame, to);
  if (type == "presence_sub" || type == "presence_unsub")
    return parse_presence_sub(frame, to, type == "presence_sub");
  if (type == "contacts_list")
    return list_get(to, user_list::contacts);
  if (type == "blocked_list")
    return list_get(to, user_list::blocked);
  if (type == "contacts_add" || type == "contacts_remove")
    return parse_list_change(frame, to, user, user_list::contacts, type == "contacts_add");
  if (type == "block" || type == "unblock")
    return parse_list_change(frame, to, user, user_list::blocked, type == "block");
  if (type == "auth")
    return bad(to, "already authenticated");
  return bad(to, "unknown frame type '" + std::string{type} + "'");
}

/// Adds the request's `id` (if any) to a reply and encodes it in the request's encoding.
std::string finish(json frame, const reply_to& to) {
  if (const auto* n = std::get_if<uint64_t>(&to.id))
    frame["id"] = *n;
  else if (const auto* s = std::get_if<std::string>(&to.id))
    frame["id"] = *s;
  return encode(frame, to.enc);
}

} // namespace

client_frame parse_client_frame(std::string_view bytes, bool binary, std::string_view user) {
  reply_to to{{}, binary ? encoding::msgpack : encoding::json};
  std::string error;
  frame_doc doc;
  if (!doc.parse(bytes, to.enc, &error))
    return bad(to, std::move(error), false);
  auto frame = doc.root();
  if (auto it = frame.find("id")) {
    auto id = read_id(*it);
    if (!id)
      return bad(to, "'id' must be an unsigned integer or a string of at most 64 characters");
    to.id = std::move(*id);
  }
  auto type_it = frame.find("type");
  if (!type_it || !type_it->is_string())
    return bad(to, "missing field 'type'");
  auto type = type_it->str();
  if (user.empty()) {
    if (type != "auth")
      return answering<auth_missing>(to);
    return parse_auth(frame, to);
  }
  return parse_request(type, frame, to, user);
}

const reply_to& reply_of(const client_frame& frame) {
  return std::visit([](const reply_to& to) -> const reply_to& { return to; }, frame);
}

std::string stored_content(const send_request& request) {
  // Written directly, keys in the order (and values in the forms) json gave them.
  std::string out;
  out.reserve(32 + (request.body ? request.body->size() : 0));
  msgpack_writer w{out};
  w.map(1 + (request.body ? 1 : 0) + (request.media ? 1 : 0));
  if (request.body)
    w.str("body").str(*request.body);
  w.str("kind").str(request.kind);
  if (const auto& m = request.media) {
    w.str("media").map(3 + (m->name ? 1 : 0) + (m->thumb ? 1 : 0));
    w.str("hash").str(m->hash).str("mime").str(m->mime);
    if (m->name)
      w.str("name").str(*m->name);
    w.str("size").uint(m->size);
    if (m->thumb)
      w.str("thumb").bin(*m->thumb);
  }
  return out;
}

std::string profile_changes(const profile_set_request& request) {
  json changes = json::object();
  if (request.name)
    changes["name"] = *request.name;
  if (request.about)
    changes["about"] = *request.about;
  if (request.avatar)
    changes["avatar"] = *request.avatar ? json(**request.avatar) : json(nullptr);
  if (const auto& p = request.privacy) {
    json privacy = json::object();
    if (p->last_seen)
      privacy["last_seen"] = *p->last_seen;
    if (p->read_receipts)
      privacy["read_receipts"] = *p->read_receipts;
    changes["privacy"] = std::move(privacy);
  }
  return encode(changes, encoding::msgpack);
}

std::string welcome_frame(const reply_to& to, std::string_view user, int64_t ts) {
  return finish(json{{"type", "welcome"}, {"user", user}, {"ts", ts}}, to);
}

std::string sent_frame(const reply_to& to, std::string_view cid, std::string_view mid, int64_t ts) {
  if (to.enc == encoding::json)
    return finish(json{{"type", "sent"}, {"cid", cid}, {"mid", mid}, {"ts", ts}}, to);
  // One per message: written directly, as json would (keys in order).
  std::string out;
  out.reserve(40 + cid.size() + mid.size());
  msgpack_writer w{out};
  const auto* n = std::get_if<uint64_t>(&to.id);
  const auto* text = std::get_if<std::string>(&to.id);
  w.map(4 + (n != nullptr || text != nullptr ? 1 : 0)).str("cid").str(cid);
  if (n != nullptr)
    w.str("id").uint(*n);
  else if (text != nullptr)
    w.str("id").str(*text);
  w.str("mid").str(mid).str("ts").integer(ts).str("type").str("sent");
  return out;
}

std::string error_frame(const reply_to& to, std::string_view code, std::string_view message,
                        int64_t retry_ms) {
  json frame{{"type", "error"}, {"code", code}, {"message", message}};
  if (retry_ms >= 0)
    frame["retry_ms"] = retry_ms;
  return finish(std::move(frame), to);
}

std::string pong_frame(const reply_to& to) {
  return finish(json{{"type", "pong"}}, to);
}

std::string ok_frame(const reply_to& to) {
  return finish(json{{"type", "ok"}}, to);
}

std::string profile_frame(const reply_to& to, std::string_view fields) {
  auto out = decode(fields, encoding::msgpack, nullptr).value_or(json::object());
  out["type"] = "profile";
  return finish(std::move(out), to);
}

std::string presence_frame(const reply_to& to, std::string_view user, bool online,
                           int64_t last_seen) {
  return finish(json{{"type", "presence"},
                     {"user", user},
                     {"online", online},
                     {"last_seen", last_seen < 0 ? json(nullptr) : json(last_seen)}},
                to);
}

std::string user_list_frame(const reply_to& to, user_list list,
                            const std::vector<std::string>& users) {
  return finish(
      json{{"type", list == user_list::contacts ? "contacts" : "blocked"}, {"users", users}}, to);
}

std::optional<std::string> push_frame(encoding enc, std::string_view item, uint64_t seq) {
  if (enc == encoding::msgpack)
    return msgpack_map_builder{item}.add("seq", seq).finish();
  auto value = decode(item, encoding::msgpack, nullptr);
  if (!value)
    return std::nullopt;
  (*value)["seq"] = seq;
  return encode(*value, encoding::json);
}

} // namespace tidings::net
