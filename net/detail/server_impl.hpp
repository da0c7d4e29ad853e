#pragma once
// `server::impl`: what the listener and the sessions share with the server: the options, the
// application, the io_context and its threads, the TLS context, the set of open WebSocket
// connections, the count of open TCP connections (total and per source address) and the
// admission of sessions logging in (thread-safe itself).
// Concurrency: `sessions` and `stopping` are guarded by `mtx` (sessions call add/remove from
// their strands); the connection counts by `conn_mtx` (the listener admits, any strand
// releases); the rest is set up by start() before any I/O thread runs.

#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ssl/context.hpp>

#include "net/detail/admission.hpp"
#include "net/detail/beast.hpp"
#include "net/detail/listener.hpp"
#include "net/server.hpp"

namespace tidings::net {

namespace detail {
class ws_session;

/// One admitted TCP connection, counted against the limits until destroyed. Moves with the
/// connection from its HTTP session to its WebSocket session.
class connection_slot {
public:
  connection_slot() = default;
  connection_slot(server::impl* srv, std::string address)
      : srv_(srv), address_(std::move(address)) {}
  connection_slot(connection_slot&& other) noexcept
      : srv_(std::exchange(other.srv_, nullptr)), address_(std::move(other.address_)) {}
  connection_slot& operator=(connection_slot&& other) noexcept;
  ~connection_slot() { release(); }

private:
  void release();

  server::impl* srv_ = nullptr;
  std::string address_;
};
} // namespace detail

struct server::impl {
  server_options opts;
  application& app;
  // Before `ioc`: connections still queued in it at destruction release their slots here and
  // their TLS streams use the context.
  std::optional<detail::asio::ssl::context> tls; ///< set if every connection speaks TLS
  mutable std::mutex conn_mtx;
  std::size_t open = 0;                                     ///< admitted TCP connections
  std::unordered_map<std::string, std::size_t> per_address; ///< of those, by source address
  detail::admission admission{opts.max_pending_auth, opts.pending_auth}; ///< sessions logging in
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
  /// Counts a new connection from `address`, or refuses it (nullopt) past a limit.
  std::optional<detail::connection_slot> admit(const std::string& address);
  void release(const std::string& address);
  /// Loads the certificate and key of `opts` into `tls`; throws what is wrong.
  void load_tls();
};

} // namespace tidings::net
