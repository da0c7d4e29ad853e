#include "net/server.hpp"

#include <condition_variable>
#include <deque>
#include <iostream>
#include <mutex>
#include <optional>
#include <set>
#include <thread>

#include <boost/asio/dispatch.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>

namespace tidings::net {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
using tcp = asio::ip::tcp;

namespace {

/// Close code for a peer that does not read fast enough (a protocol extension).
constexpr uint16_t close_slow_consumer = 4004;

std::string bearer_of(std::string_view header) {
  constexpr std::string_view prefix = "Bearer ";
  if (header.size() > prefix.size() && header.substr(0, prefix.size()) == prefix)
    return std::string{header.substr(prefix.size())};
  return {};
}

std::string error_body(std::string_view code, std::string_view message) {
  // Both texts are fixed ASCII chosen here, so no escaping is needed.
  return std::string{"{\"error\":\""} + std::string{code} + "\",\"message\":\"" +
         std::string{message} + "\"}";
}

} // namespace

class ws_session;

struct server::impl {
  server_options opts;
  application& app;
  asio::io_context ioc;
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work;
  tcp::acceptor acceptor{asio::make_strand(ioc)};
  std::vector<std::thread> threads;

  mutable std::mutex mtx;
  std::condition_variable cv;
  std::set<std::shared_ptr<ws_session>> sessions; // open WebSocket connections
  bool stopping = false;

  impl(server_options o, application& a) : opts(std::move(o)), app(a) {}

  void do_accept();
  void add(const std::shared_ptr<ws_session>& s);
  void remove(const std::shared_ptr<ws_session>& s);
};

// -- WebSocket -----------------------------------------------------------------

class ws_session : public std::enable_shared_from_this<ws_session> {
public:
  ws_session(tcp::socket&& socket, server::impl& srv) : ws_(std::move(socket)), srv_(srv) {}

  ~ws_session() { finish(); }

  void run(http::request<http::string_body> req) {
    req_ = std::move(req);
    websocket::stream_base::timeout t;
    t.handshake_timeout = std::chrono::seconds(10);
    t.idle_timeout = websocket::stream_base::none(); // the session actor owns idleness
    t.keep_alive_pings = false;
    ws_.set_option(t);
    ws_.read_message_max(srv_.opts.frame_limit);
    ws_.set_option(websocket::stream_base::decorator(
        [](websocket::response_type& res) { res.set(http::field::server, "tidings"); }));
    beast::get_lowest_layer(ws_).expires_never();
    ws_.async_accept(req_, beast::bind_front_handler(&ws_session::on_accept, shared_from_this()));
  }

  // Called from any thread.
  void send(std::string frame, bool binary) {
    asio::post(ws_.get_executor(), [self = shared_from_this(), f = std::move(frame),
                                    binary]() mutable { self->enqueue(std::move(f), binary); });
  }

  void close(uint16_t code, std::string reason) {
    asio::post(ws_.get_executor(),
               [self = shared_from_this(), code, r = std::move(reason)]() mutable {
                 self->request_close(code, std::move(r));
               });
  }

  /// Ends the session after the I/O threads have stopped (no handler will run again).
  void abandon() { finish(); }

private:
  struct outgoing {
    std::string data;
    bool binary;
  };

  void on_accept(beast::error_code ec);
  void do_read() {
    ws_.async_read(buffer_, beast::bind_front_handler(&ws_session::on_read, shared_from_this()));
  }

  void on_read(beast::error_code ec, std::size_t) {
    if (ec)
      return finish();
    auto data = beast::buffers_to_string(buffer_.data());
    buffer_.consume(buffer_.size());
    if (handler_)
      handler_->on_frame(std::move(data), ws_.got_binary());
    do_read();
  }

  void enqueue(std::string frame, bool binary) {
    if (close_requested_ || finished_)
      return;
    queued_bytes_ += frame.size();
    queue_.push_back({std::move(frame), binary});
    if (queue_.size() > srv_.opts.write_queue_frames ||
        queued_bytes_ > srv_.opts.write_queue_bytes) {
      queue_.clear();
      queued_bytes_ = 0;
      request_close(close_slow_consumer, "slow consumer");
      return;
    }
    if (!writing_)
      do_write();
  }

  void do_write() {
    writing_ = true;
    ws_.binary(queue_.front().binary);
    ws_.async_write(asio::buffer(queue_.front().data),
                    beast::bind_front_handler(&ws_session::on_write, shared_from_this()));
  }

  void on_write(beast::error_code ec, std::size_t) {
    writing_ = false;
    if (ec)
      return finish();
    queued_bytes_ -= queue_.front().data.size();
    queue_.pop_front();
    if (!queue_.empty())
      return do_write();
    if (close_requested_)
      do_close();
  }

  void request_close(uint16_t code, std::string reason) {
    if (close_requested_ || finished_)
      return;
    close_requested_ = true;
    close_reason_ = websocket::close_reason(static_cast<websocket::close_code>(code), reason);
    if (!writing_)
      do_close();
  }

  void do_close() {
    if (closing_)
      return;
    closing_ = true;
    ws_.async_close(close_reason_, [self = shared_from_this()](beast::error_code) {
      // The pending read completes with an error and calls finish().
      beast::error_code ignored;
      beast::get_lowest_layer(self->ws_).socket().shutdown(tcp::socket::shutdown_both, ignored);
    });
  }

  void finish() {
    if (finished_)
      return;
    finished_ = true;
    if (handler_) {
      handler_->on_close();
      handler_.reset();
    }
    if (registered_) {
      registered_ = false;
      // Not from the destructor: there is no shared_ptr to us left by then.
      if (auto self = weak_from_this().lock())
        srv_.remove(self);
    }
  }

  websocket::stream<beast::tcp_stream> ws_;
  server::impl& srv_;
  http::request<http::string_body> req_;
  beast::flat_buffer buffer_;
  std::unique_ptr<ws_handler> handler_;
  std::deque<outgoing> queue_;
  std::size_t queued_bytes_ = 0;
  websocket::close_reason close_reason_;
  bool writing_ = false;
  bool close_requested_ = false;
  bool closing_ = false;
  bool finished_ = false;
  bool registered_ = false;
};

/// The application's handle on a connection; does not keep the connection alive.
class ws_peer_impl : public ws_peer {
public:
  explicit ws_peer_impl(std::weak_ptr<ws_session> s) : session_(std::move(s)) {}
  void send(std::string frame, bool binary) override {
    if (auto s = session_.lock())
      s->send(std::move(frame), binary);
  }
  void close(uint16_t code, std::string reason) override {
    if (auto s = session_.lock())
      s->close(code, std::move(reason));
  }

private:
  std::weak_ptr<ws_session> session_;
};

void ws_session::on_accept(beast::error_code ec) {
  if (ec)
    return finish();
  {
    std::lock_guard<std::mutex> guard{srv_.mtx};
    if (srv_.stopping) {
      close_requested_ = true;
      close_reason_ = websocket::close_reason(websocket::close_code::going_away, "shutting down");
      do_close();
      do_read();
      return;
    }
  }
  registered_ = true;
  srv_.add(shared_from_this());
  auto auth = bearer_of(req_[http::field::authorization]);
  std::string target{req_.target()};
  req_ = {};
  handler_ = srv_.app.open_ws(std::make_shared<ws_peer_impl>(weak_from_this()), std::move(auth),
                              std::move(target));
  do_read();
}

// -- HTTP ----------------------------------------------------------------------

class http_session : public std::enable_shared_from_this<http_session> {
public:
  http_session(tcp::socket&& socket, server::impl& srv) : stream_(std::move(socket)), srv_(srv) {}

  void run() {
    asio::dispatch(stream_.get_executor(),
                   beast::bind_front_handler(&http_session::do_read, shared_from_this()));
  }

private:
  void do_read() {
    parser_.emplace();
    parser_->body_limit(srv_.opts.http_body_limit);
    parser_->header_limit(16 * 1024);
    stream_.expires_after(srv_.opts.http_timeout);
    http::async_read(stream_, buffer_, *parser_,
                     beast::bind_front_handler(&http_session::on_read, shared_from_this()));
  }

  void on_read(beast::error_code ec, std::size_t) {
    if (ec == http::error::end_of_stream)
      return do_shutdown();
    if (ec == http::error::body_limit) {
      keep_alive_ = false;
      return write(
          {413, "application/json", error_body("too_large", "request body too large"), {}});
    }
    if (ec) {
      if (ec != beast::error::timeout && ec != asio::error::operation_aborted &&
          ec != asio::error::connection_reset) {
        keep_alive_ = false;
        return write(
            {400, "application/json", error_body("bad_request", "malformed HTTP request"), {}});
      }
      return do_shutdown();
    }
    auto& req = parser_->get();
    if (websocket::is_upgrade(req)) {
      auto target = req.target();
      if (target.substr(0, target.find('?')) != "/v1/ws") {
        keep_alive_ = false;
        return write({404, "application/json", error_body("not_found", "no such endpoint"), {}});
      }
      std::make_shared<ws_session>(stream_.release_socket(), srv_)->run(parser_->release());
      return;
    }
    keep_alive_ = req.keep_alive();
    version_ = req.version();
    http_request r;
    r.method = std::string{req.method_string()};
    r.target = std::string{req.target()};
    r.bearer = bearer_of(req[http::field::authorization]);
    r.content_type = std::string{req[http::field::content_type]};
    r.body = std::move(req.body());
    stream_.expires_never(); // the application may take a while (password hashing)
    auto self = shared_from_this();
    srv_.app.handle_http(std::move(r), [self](http_response res) {
      asio::post(self->stream_.get_executor(),
                 [self, res = std::move(res)]() mutable { self->write(std::move(res)); });
    });
  }

  void write(http_response res) {
    auto msg = std::make_shared<http::response<http::string_body>>();
    msg->version(version_);
    msg->result(res.status);
    msg->set(http::field::server, "tidings");
    if (!res.body.empty() || res.status != 204)
      msg->set(http::field::content_type, res.content_type);
    for (auto& [name, value] : res.headers)
      msg->set(name, value);
    msg->body() = std::move(res.body);
    msg->keep_alive(keep_alive_);
    msg->prepare_payload();
    stream_.expires_after(srv_.opts.http_timeout);
    http::async_write(stream_, *msg,
                      [self = shared_from_this(), msg](beast::error_code ec, std::size_t) {
                        if (ec || !self->keep_alive_)
                          return self->do_shutdown();
                        self->do_read();
                      });
  }

  void do_shutdown() {
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
  }

  beast::tcp_stream stream_;
  server::impl& srv_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  bool keep_alive_ = true;
  unsigned version_ = 11;
};

// -- server --------------------------------------------------------------------

void server::impl::do_accept() {
  acceptor.async_accept(asio::make_strand(ioc), [this](beast::error_code ec, tcp::socket socket) {
    if (ec) {
      if (ec == asio::error::operation_aborted || !acceptor.is_open())
        return;
      // Out of descriptors or similar: keep serving the connections we have.
      std::cerr << "tidings: accept failed: " << ec.message() << "\n";
    } else {
      std::make_shared<http_session>(std::move(socket), *this)->run();
    }
    do_accept();
  });
}

void server::impl::add(const std::shared_ptr<ws_session>& s) {
  std::lock_guard<std::mutex> guard{mtx};
  sessions.insert(s);
}

void server::impl::remove(const std::shared_ptr<ws_session>& s) {
  std::lock_guard<std::mutex> guard{mtx};
  sessions.erase(s);
  cv.notify_all();
}

server::server(server_options opts, application& app)
    : impl_(std::make_unique<impl>(std::move(opts), app)) {}

server::~server() {
  shutdown(std::chrono::milliseconds{0});
}

uint16_t server::start() {
  auto address = asio::ip::make_address(impl_->opts.bind);
  tcp::endpoint ep{address, impl_->opts.port};
  auto& acc = impl_->acceptor;
  acc.open(ep.protocol());
  acc.set_option(asio::socket_base::reuse_address(true));
  acc.bind(ep);
  acc.listen(asio::socket_base::max_listen_connections);
  auto port = acc.local_endpoint().port();
  impl_->work.emplace(impl_->ioc.get_executor());
  impl_->do_accept();
  for (std::size_t i = 0; i < std::max<std::size_t>(1, impl_->opts.threads); ++i)
    impl_->threads.emplace_back([this] { impl_->ioc.run(); });
  return port;
}

void server::shutdown(std::chrono::milliseconds grace) {
  std::vector<std::shared_ptr<ws_session>> open;
  {
    std::lock_guard<std::mutex> guard{impl_->mtx};
    if (impl_->stopping && impl_->threads.empty())
      return;
    impl_->stopping = true;
    open.assign(impl_->sessions.begin(), impl_->sessions.end());
  }
  asio::post(impl_->acceptor.get_executor(), [this] {
    beast::error_code ignored;
    impl_->acceptor.close(ignored);
  });
  for (auto& s : open)
    s->close(static_cast<uint16_t>(websocket::close_code::going_away), "shutting down");
  open.clear();
  {
    std::unique_lock<std::mutex> lock{impl_->mtx};
    impl_->cv.wait_for(lock, grace, [this] { return impl_->sessions.empty(); });
  }
  impl_->work.reset();
  impl_->ioc.stop();
  for (auto& t : impl_->threads)
    if (t.joinable())
      t.join();
  impl_->threads.clear();
  // Connections still open after the grace period end here; their handlers learn of it.
  std::set<std::shared_ptr<ws_session>> rest;
  {
    std::lock_guard<std::mutex> guard{impl_->mtx};
    rest = impl_->sessions;
  }
  for (auto& s : rest)
    s->abandon();
}

std::size_t server::connections() const {
  std::lock_guard<std::mutex> guard{impl_->mtx};
  return impl_->sessions.size();
}

} // namespace tidings::net
