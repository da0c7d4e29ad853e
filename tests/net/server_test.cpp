// The Beast shim on its own: a real server on a loopback port, a real WebSocket client, and a
// test application standing in for the actors.

#include <doctest/doctest.h>

#include <condition_variable>
#include <mutex>
#include <stdexcept>
#include <vector>

#include "client/ws_client.hpp"
#include "net/server.hpp"

using namespace tidings;
using namespace std::chrono_literals;

namespace {

/// Records the frames of its one connection; never calls frame_done by itself.
class recording_app : public net::application {
public:
  class handler : public net::ws_handler {
  public:
    explicit handler(recording_app& app) : app_(app) {}
    void on_frame(std::string data, bool binary) override {
      std::lock_guard<std::mutex> guard{app_.mtx};
      app_.frames.push_back(std::move(data));
      app_.binary.push_back(binary);
      app_.cv.notify_all();
    }
    void on_close(uint16_t) override {}

  private:
    recording_app& app_;
  };

  std::unique_ptr<net::ws_handler> open_ws(std::shared_ptr<net::ws_peer> p, std::string,
                                           std::string) override {
    std::lock_guard<std::mutex> guard{mtx};
    peer = std::move(p);
    return std::make_unique<handler>(*this);
  }
  void handle_http(net::http_request, net::http_reply reply) override {
    reply(net::error_response(404, "not_found", "no such endpoint"));
  }

  /// Waits (bounded) until at least `n` frames arrived; returns how many did.
  std::size_t wait_frames(std::size_t n, std::chrono::milliseconds timeout) {
    std::unique_lock<std::mutex> lock{mtx};
    cv.wait_for(lock, timeout, [&] { return frames.size() >= n; });
    return frames.size();
  }

  std::mutex mtx;
  std::condition_variable cv;
  std::vector<std::string> frames;
  std::vector<bool> binary; ///< per frame: arrived as a binary message
  std::shared_ptr<net::ws_peer> peer;
};

} // namespace

TEST_CASE("a connection reads no further ahead of its application than its read credits") {
  recording_app app;
  std::atomic<uint64_t> paused{0};
  net::server_options opts;
  opts.bind = "127.0.0.1";
  opts.port = 0;
  opts.read_credits = 4;
  opts.reads_paused = &paused;
  net::server srv{opts, app};
  auto port = srv.start();
  client::ws_client ws{{"127.0.0.1", port, false, {}}};
  ws.connect();
  constexpr std::size_t total = 50;
  for (std::size_t i = 0; i < total; ++i)
    ws.send(net::json{{"type", "ping"}, {"n", i}});
  REQUIRE(app.wait_frames(4, 10s) == 4);
  // The client has written all 50 frames; a shim that kept reading would hand over the 5th
  // within microseconds. Nothing else could make it arrive, so a bounded wait is the check.
  CHECK(app.wait_frames(5, 300ms) == 4);
  CHECK(paused.load() >= 1);
  // Each frame_done lets exactly one more frame in, until all have come.
  std::size_t done = 0;
  while (done < total) {
    app.peer->frame_done();
    ++done;
    auto expected = std::min(total, done + 4);
    REQUIRE(app.wait_frames(expected, 10s) >= expected);
  }
  std::lock_guard<std::mutex> guard{app.mtx};
  REQUIRE(app.frames.size() == total);
  for (std::size_t i = 0; i < total; ++i)
    CHECK(net::json::parse(app.frames[i])["n"] == i); // in order, none lost
  ws.close();
  srv.shutdown(1s);
}

TEST_CASE("messages of every length around the small first read arrive whole, in order, typed") {
  // An idle connection waits with a small read (ws_session.cpp, first_read_bytes = 256); a
  // longer message is read on from there. Lengths around both that and Beast's own 1,536-byte
  // read, messages the client fragments (over 4 KiB), and the limit itself.
  recording_app app;
  net::server_options opts;
  opts.bind = "127.0.0.1";
  opts.port = 0;
  opts.read_credits = 1000; // the app never calls frame_done: no pause
  net::server srv{opts, app};
  auto port = srv.start();
  client::ws_client ws{{"127.0.0.1", port, false, {}}};
  ws.connect();
  const std::vector<std::size_t> sizes{0,    1,    255,  256,  257,   511,
                                       1000, 1536, 1537, 4097, 20000, opts.frame_limit};
  std::vector<std::string> sent;
  for (std::size_t i = 0; i < sizes.size(); ++i) {
    std::string payload(sizes[i], '\0');
    for (std::size_t j = 0; j < payload.size(); ++j)
      payload[j] = static_cast<char>('a' + (i + j) % 26);
    sent.push_back(payload);
    ws.send_raw(payload, i % 2 == 1);
  }
  REQUIRE(app.wait_frames(sizes.size(), 10s) == sizes.size());
  {
    std::lock_guard<std::mutex> guard{app.mtx};
    for (std::size_t i = 0; i < sizes.size(); ++i) {
      CAPTURE(sizes[i]);
      CHECK(app.frames[i] == sent[i]);
      CHECK(app.binary[i] == (i % 2 == 1));
    }
  }
  // One byte over the limit: closed with 1009 (message too big), nothing handed over.
  try {
    ws.send_raw(std::string(opts.frame_limit + 1, 'z'), false);
  } catch (const std::runtime_error&) {
    // The server may close before the client has written it all (a broken pipe): expected.
  }
  for (int i = 0; i < 100 && !ws.closed(); ++i)
    ws.receive(100ms); // bounded: at most 10 s for the close to arrive
  CHECK(ws.closed());
  CHECK(ws.close_code() == 1009);
  CHECK(app.wait_frames(sizes.size() + 1, 200ms) == sizes.size());
  srv.shutdown(1s);
}
