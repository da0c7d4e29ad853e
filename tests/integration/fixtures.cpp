#include "tests/integration/fixtures.hpp"

#include <algorithm>
#include <map>
#include <stdexcept>

namespace tidings::test {

std::vector<std::string> send_texts(client::ws_client& ws, const std::string& to,
                                    const std::string& prefix, int count, int pipeline,
                                    std::vector<json>* skipped) {
  std::map<uint64_t, std::string> mids; // by id, so they come out in send order
  uint64_t next = 0;
  auto collect = [&] {
    auto reply = wait_for(
        ws, [](const json& f) { return f.contains("id"); }, 30s, skipped);
    if (reply["type"] != "sent")
      throw std::runtime_error("send failed: " + reply.dump());
    mids[reply["id"].get<uint64_t>()] = reply["mid"].get<std::string>();
  };
  for (int i = 0; i < count; ++i) {
    ws.send(json{{"type", "send"},
                 {"id", next++},
                 {"cid", prefix + "-" + std::to_string(i)},
                 {"to", to},
                 {"kind", "text"},
                 {"body", prefix + " message " + std::to_string(i)}});
    if (static_cast<int>(next - mids.size()) >= pipeline)
      collect();
  }
  while (mids.size() < next)
    collect();
  std::vector<std::string> out;
  for (auto& [id, mid] : mids)
    out.push_back(mid);
  return out;
}

std::vector<json> receive_items(client::ws_client& ws, const std::string& type, int count,
                                std::chrono::milliseconds timeout) {
  std::vector<json> out;
  while (static_cast<int>(out.size()) < count)
    out.push_back(wait_for(ws, of_type(type), timeout));
  return out;
}

std::string send_text(client::ws_client& ws, const std::string& to, const std::string& cid) {
  auto reply =
      ws.request(json{{"type", "send"}, {"cid", cid}, {"to", to}, {"kind", "text"}, {"body", cid}});
  if (reply["type"] != "sent")
    throw std::runtime_error("send failed: " + reply.dump());
  return reply["mid"].get<std::string>();
}

void settle(client::ws_client& ws) {
  auto pong = ws.request(json{{"type", "ping"}});
  if (pong["type"] != "pong")
    throw std::runtime_error("expected pong, got " + pong.dump());
}

std::function<bool(const json&)> item_naming(std::string type, std::string mid) {
  return [type = std::move(type), mid = std::move(mid)](const json& frame) {
    if (frame.value("type", json{}) != type)
      return false;
    if (frame.value("mid", json{}) == mid)
      return true;
    auto mids = frame.find("mids");
    return mids != frame.end() && mids->is_array() &&
           std::find(mids->begin(), mids->end(), json(mid)) != mids->end();
  };
}

json expect_nothing_before(client::ws_client& ws, const std::function<bool(const json&)>& fact,
                           std::chrono::milliseconds timeout) {
  std::vector<json> before;
  auto found = wait_for(ws, fact, timeout, &before);
  if (!before.empty()) {
    std::string text;
    for (const auto& frame : before)
      text += "\n  " + frame.dump();
    throw std::runtime_error(std::to_string(before.size()) + " frame(s) came before " +
                             found.dump() + ":" + text);
  }
  return found;
}

double metric(const client::endpoint& ep, const std::string& name) {
  auto body = "\n" + client::http_call(ep, "GET", "/metrics").body;
  auto at = body.find("\n" + name + " ");
  if (at == std::string::npos)
    throw std::runtime_error("no metric " + name);
  return std::stod(body.substr(at + name.size() + 2));
}

} // namespace tidings::test
