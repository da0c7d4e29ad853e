#include "bots/frames.hpp"

#include "net/msgpack_map.hpp"

namespace tidings::bots::frames {

using net::json;

namespace {

void append_json(std::string& out, const json& frame) {
  out += net::encode(frame, net::encoding::json);
}

/// The keys both kinds of `send` share, after `body`: cid, id, kind.
void send_head(net::msgpack_writer& w, uint64_t id, std::string_view cid, std::string_view kind) {
  w.str("cid").str(cid);
  w.str("id").uint(id);
  w.str("kind").str(kind);
}

/// {"foreground": F, KEY: TEXT, "type": TYPE} in msgpack (auth, state).
void foreground_frame(std::string& out, bool foreground, std::string_view key,
                      std::string_view text, std::string_view type) {
  net::msgpack_writer w{out};
  w.map(3);
  w.str("foreground").boolean(foreground);
  w.str(key).str(text);
  w.str("type").str(type);
}

} // namespace

void auth(std::string& out, net::encoding enc, std::string_view token, bool foreground) {
  if (enc == net::encoding::json)
    return append_json(out, {{"type", "auth"}, {"token", token}, {"foreground", foreground}});
  foreground_frame(out, foreground, "token", token, "auth");
}

void send_text(std::string& out, net::encoding enc, uint64_t id, std::string_view cid,
               std::string_view to, std::string_view body) {
  if (enc == net::encoding::json)
    return append_json(
        out,
        {{"type", "send"}, {"id", id}, {"cid", cid}, {"to", to}, {"kind", "text"}, {"body", body}});
  out.reserve(out.size() + 48 + cid.size() + to.size() + body.size());
  net::msgpack_writer w{out};
  w.map(6);
  w.str("body").str(body);
  send_head(w, id, cid, "text");
  w.str("to").str(to);
  w.str("type").str("send");
}

void send_image(std::string& out, net::encoding enc, uint64_t id, std::string_view cid,
                std::string_view to, const media_ref& media) {
  if (enc == net::encoding::json)
    return append_json(
        out, {{"type", "send"},
              {"id", id},
              {"cid", cid},
              {"to", to},
              {"kind", "image"},
              {"media", {{"hash", media.hash}, {"mime", media.mime}, {"size", media.size}}},
              {"body", cid}});
  net::msgpack_writer w{out};
  w.map(7);
  w.str("body").str(cid);
  send_head(w, id, cid, "image");
  w.str("media").map(3);
  w.str("hash").str(media.hash);
  w.str("mime").str(media.mime);
  w.str("size").uint(media.size);
  w.str("to").str(to);
  w.str("type").str("send");
}

void ack(std::string& out, net::encoding enc, uint64_t upto) {
  if (enc == net::encoding::json)
    return append_json(out, {{"type", "ack"}, {"upto", upto}});
  net::msgpack_writer w{out};
  w.map(2);
  w.str("type").str("ack");
  w.str("upto").uint(upto);
}

void read(std::string& out, net::encoding enc, std::string_view from, std::string_view mid) {
  if (enc == net::encoding::json)
    return append_json(out, {{"type", "read"}, {"from", from}, {"mids", json::array({mid})}});
  net::msgpack_writer w{out};
  w.map(3);
  w.str("from").str(from);
  w.str("mids").array(1).str(mid);
  w.str("type").str("read");
}

void ping(std::string& out, net::encoding enc) {
  if (enc == net::encoding::json)
    return append_json(out, {{"type", "ping"}});
  net::msgpack_writer{out}.map(1).str("type").str("ping");
}

void state(std::string& out, net::encoding enc, std::string_view id, bool foreground) {
  if (enc == net::encoding::json)
    return append_json(out, {{"type", "state"}, {"id", id}, {"foreground", foreground}});
  foreground_frame(out, foreground, "id", id, "state");
}

} // namespace tidings::bots::frames
