#include "tests/integration/fixtures.hpp"

#include "client/http.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <map>
#include <stdexcept>

#include <sys/wait.h>
#include <unistd.h>

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

std::string admin_address(const node_process& n) {
  const std::string marker = "admin on ";
  for (const auto& line : n.recent_output())
    if (auto at = line.find(marker); at != std::string::npos) {
      auto rest = line.substr(at + marker.size());
      return rest.substr(0, rest.find_first_of(" \t\r\""));
    }
  throw std::runtime_error("the node printed no admin address:\n" + n.recent_output_text());
}

std::string quoted(const std::string& arg) {
  std::string out = "'";
  for (char c : arg)
    out += c == '\'' ? std::string{"'\\''"} : std::string(1, c);
  return out + "'";
}

int run_shell(const std::string& cmd, std::string& out) {
  out.clear();
  auto* pipe = ::popen(cmd.c_str(), "r");
  if (pipe == nullptr)
    throw std::runtime_error("popen failed");
  char buf[4096];
  while (auto n = std::fread(buf, 1, sizeof buf, pipe))
    out.append(buf, n);
  auto status = ::pclose(pipe);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

inspect_run run_inspect(const std::vector<std::string>& args) {
  char err_path[] = "/tmp/tidings-inspect-err-XXXXXX";
  int fd = ::mkstemp(err_path);
  if (fd < 0)
    throw std::runtime_error("mkstemp failed");
  ::close(fd);
  std::string cmd = "timeout -s KILL 30 " + quoted(TIDINGS_INSPECT_BINARY);
  for (const auto& a : args)
    cmd += " " + quoted(a);
  cmd += " 2>" + quoted(err_path);
  inspect_run run;
  run.status = run_shell(cmd, run.out);
  std::ifstream err{err_path};
  run.err.assign(std::istreambuf_iterator<char>{err}, {});
  std::remove(err_path);
  return run;
}

json inspect_json(const std::string& node, const std::string& secret,
                  const std::vector<std::string>& args) {
  std::vector<std::string> all{"--node=" + node, "--secret=" + secret, "--json"};
  all.insert(all.end(), args.begin(), args.end());
  auto run = run_inspect(all);
  INFO("tidings-inspect stderr: " << run.err);
  REQUIRE(run.status == 0);
  auto doc = json::parse(run.out, nullptr, false);
  REQUIRE_FALSE(doc.is_discarded());
  return doc;
}

std::pair<json, uint16_t> closed_by_server(client::ws_client& ws) {
  auto error = wait_for(ws, of_type("error"), 10s);
  for (int i = 0; i < 100 && !ws.closed(); ++i)
    ws.receive(100ms); // bounded: the close follows the error frame
  return {error, ws.close_code()};
}

unsigned login_status(const client::endpoint& ep, const std::string& name,
                      const std::string& password) {
  try {
    client::login(ep, name, password);
    return 200;
  } catch (const client::api_error& e) {
    return e.status();
  }
}

} // namespace tidings::test
