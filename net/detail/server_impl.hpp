#pragma once
// `server::impl`: what the listener and the sessions share with the server: the options, the
// application, the io_context and its threads, and the set of open WebSocket connections.
// Concurrency: `sessions` and `stopping` are guarded by `mtx` (sessions call add/remove from
// their strands); the rest is set up by start() before any I/O thread runs.

#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <thread>
#include <vector>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>

#include "net/detail/beast.hpp"
#include "net/detail/listener.hpp"
#include "net/server.hpp"

namespace tidings::net {

namespace detail {
class ws_session;
} // namespace detail

struct server::impl {
  server_options opts;
  application& app;
  detail::asio::io_context ioc;
  std::optional<detail::asio::executor_work_guard<detail::asio::io_context::executor_type>> work;
  detail::listener listener{*this}; ///< after `ioc`: its acceptor runs on a strand of it
  std::vector<std::thread> threads;

  mutable std::mutex mtx;
  std::condition_variable cv;
  std::set<std::shared_ptr<detail::ws_session>> sessions; ///< open WebSocket connections
  bool stopping = false;

  impl(server_options o, application& a) : opts(std::move(o)), app(a) {}

  void add(const std::shared_ptr<detail::ws_session>& s);
  void remove(const std::shared_ptr<detail::ws_session>& s);
};

} // namespace tidings::net
