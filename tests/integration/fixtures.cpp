#include "tests/integration/fixtures.hpp"

#include <map>
#include <stdexcept>

namespace tidings::test {

std::vector<std::string> send_texts(client::ws_client& ws, const std::string& to,
                                    const std::string& prefix, int count, int pipeline) {
  std::map<uint64_t, std::string> mids; // by id, so they come out in send order
  uint64_t next = 0;
  auto collect = [&] {
    auto reply = wait_for(
        ws, [](const json& f) { return f.contains("id"); }, 30s);
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

void settle(client::ws_client& ws) {
  auto pong = ws.request(json{{"type", "ping"}});
  if (pong["type"] != "pong")
    throw std::runtime_error("expected pong, got " + pong.dump());
}

} // namespace tidings::test
