#include "net/server.hpp"

#include <condition_variable>
#include <deque>
#include <iostream>
#include <limits>
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

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "net/codec.hpp"

namespace tidings::net {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
using tcp = asio::ip::tcp;

namespace {

/// "No limit" for Beast parsers (boost::none trips a comparison bug in Beast 1.74).
constexpr uint64_t no_body_limit = std::numeric_limits<uint64_t>::max();

/// Close code for a peer that does not read fast enough (a protocol extension).
constexpr uint16_t close_slow_consumer = 4004;

std::string bearer_of(std::string_view header) {
  constexpr std::string_view prefix = "Bearer ";
  if (header.size() > prefix.size() && header.substr(0, prefix.size()) == prefix)
    return std::string{header.substr(prefix.size())};
  return {};
}

} // namespace

http_response error_response(unsigned status, std::string_view code, std::string_view message) {
  json body{{"error", code}, {"message", message}};
  return {status, "application/json", body.dump(), {}, std::nullopt};
}

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

  // Called from any thread: the application is done with one frame. Costs one atomic
  // decrement; only a paused connection is woken (through its strand).
  void frame_done() {
    auto left = unprocessed_.fetch_sub(1) - 1;
    if (left < srv_.opts.read_credits && paused_.load() && paused_.exchange(false))
      asio::post(ws_.get_executor(), [self = shared_from_this()] { self->do_read(); });
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
    if (!handler_)
      return do_read();
    handler_->on_frame(std::move(data), ws_.got_binary());
    if (unprocessed_.fetch_add(1) + 1 < srv_.opts.read_credits)
      return do_read();
    // Out of credits: stop reading until frame_done. The application may have caught up
    // between the increment and here; then exactly one of us wins `paused_` and reads.
    paused_.store(true);
    if (srv_.opts.reads_paused != nullptr)
      srv_.opts.reads_paused->fetch_add(1, std::memory_order_relaxed);
    if (unprocessed_.load() < srv_.opts.read_credits && paused_.exchange(false))
      do_read();
  }

  void enqueue(std::string frame, bool binary) {
    if (close_requested_ || finished_)
      return;
    queued_bytes_ += frame.size();
    queue_.push_back({std::move(frame), binary});
    if (queue_.size() > srv_.opts.write_queue_frames ||
        queued_bytes_ > srv_.opts.write_queue_bytes) {
      // Drop what is queued, but not the frame being written: its buffer is in use.
      auto keep = writing_ ? std::size_t{1} : std::size_t{0};
      queue_.erase(queue_.begin() + static_cast<std::ptrdiff_t>(keep), queue_.end());
      queued_bytes_ = keep ? queue_.front().data.size() : 0;
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
  std::atomic<std::size_t> unprocessed_{0}; ///< frames handed to the handler, not yet done
  std::atomic<bool> paused_{false};         ///< reading waits for frame_done
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
  void frame_done() override {
    if (auto s = session_.lock())
      s->frame_done();
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

/// A response body that is a byte range of an open file, read with pread in chunks while it
/// is written, so a download of any size holds one chunk in memory.
struct file_range_body {
  struct value_type {
    int fd = -1; ///< owned
    uint64_t offset = 0;
    uint64_t length = 0;
    std::size_t chunk = 64 * 1024;

    value_type() = default;
    value_type(value_type&& o) noexcept
        : fd(std::exchange(o.fd, -1)), offset(o.offset), length(o.length), chunk(o.chunk) {}
    value_type& operator=(value_type&& o) noexcept {
      std::swap(fd, o.fd);
      offset = o.offset;
      length = o.length;
      chunk = o.chunk;
      return *this;
    }
    ~value_type() {
      if (fd >= 0)
        ::close(fd);
    }
  };

  static uint64_t size(const value_type& body) { return body.length; }

  class writer {
  public:
    using const_buffers_type = asio::const_buffer;

    template <bool isRequest, class Fields>
    writer(http::header<isRequest, Fields>&, value_type& body) : body_(body) {}

    void init(beast::error_code& ec) {
      buffer_.reset(new char[body_.chunk]);
      ec = {};
    }

    boost::optional<std::pair<const_buffers_type, bool>> get(beast::error_code& ec) {
      ec = {};
      if (sent_ >= body_.length)
        return boost::none;
      auto want = static_cast<std::size_t>(std::min<uint64_t>(body_.chunk, body_.length - sent_));
      ssize_t n;
      do {
        n = ::pread(body_.fd, buffer_.get(), want, static_cast<off_t>(body_.offset + sent_));
      } while (n < 0 && errno == EINTR);
      if (n <= 0) { // an I/O error, or the file is shorter than promised
        ec = n < 0 ? beast::error_code{errno, beast::system_category()}
                   : beast::error_code{http::error::short_read};
        return boost::none;
      }
      sent_ += static_cast<uint64_t>(n);
      return {
          {asio::const_buffer(buffer_.get(), static_cast<std::size_t>(n)), sent_ < body_.length}};
    }

  private:
    value_type& body_;
    std::unique_ptr<char[]> buffer_;
    uint64_t sent_ = 0;
  };
};

class http_session : public std::enable_shared_from_this<http_session> {
public:
  http_session(tcp::socket&& socket, server::impl& srv) : stream_(std::move(socket)), srv_(srv) {}

  void run() {
    asio::dispatch(stream_.get_executor(),
                   beast::bind_front_handler(&http_session::do_read, shared_from_this()));
  }

private:
  void do_read() {
    head_only_ = false;
    head_.emplace();
    head_->header_limit(16 * 1024);
    head_->body_limit(no_body_limit); // the body's own parser or sink limits it
    stream_.expires_after(srv_.opts.http_timeout);
    http::async_read_header(
        stream_, buffer_, *head_,
        beast::bind_front_handler(&http_session::on_header, shared_from_this()));
  }

  /// True if the error ends the connection quietly; otherwise the caller answers 400.
  bool quiet_end(beast::error_code ec) {
    return ec == http::error::end_of_stream || ec == beast::error::timeout ||
           ec == asio::error::operation_aborted || ec == asio::error::connection_reset ||
           ec == asio::error::eof;
  }

  void fail(beast::error_code ec) {
    if (quiet_end(ec))
      return do_shutdown();
    keep_alive_ = false;
    write(error_response(400, "bad_request", "malformed HTTP request"));
  }

  void on_header(beast::error_code ec, std::size_t) {
    if (ec)
      return fail(ec);
    auto& req = head_->get();
    if (websocket::is_upgrade(req)) {
      auto target = req.target();
      if (target.substr(0, target.find('?')) != "/v1/ws") {
        keep_alive_ = false;
        return write(error_response(404, "not_found", "no such endpoint"));
      }
      http::request_parser<http::string_body> full{std::move(*head_)};
      std::make_shared<ws_session>(stream_.release_socket(), srv_)->run(full.release());
      return;
    }
    keep_alive_ = req.keep_alive();
    version_ = req.version();
    head_only_ = req.method() == http::verb::head;
    request_.method = std::string{req.method_string()};
    request_.target = std::string{req.target()};
    request_.bearer = bearer_of(req[http::field::authorization]);
    request_.content_type = std::string{req[http::field::content_type]};
    request_.range = std::string{req[http::field::range]};
    request_.if_none_match = std::string{req[http::field::if_none_match]};
    request_.content_length.reset();
    if (auto length = head_->content_length())
      request_.content_length = *length;
    request_.body.clear();
    auto route = srv_.app.route_body(request_);
    if (route.refusal) {
      keep_alive_ = false;
      linger_ = !head_->is_done();
      return write(std::move(*route.refusal));
    }
    if (route.sink) {
      sink_ = std::move(route.sink);
      stream_parser_.emplace(std::move(*head_));
      stream_parser_->body_limit(no_body_limit); // the sink enforces its own limit
      if (!chunk_)
        chunk_.reset(new char[srv_.opts.stream_chunk]);
      buffer_.reserve(srv_.opts.stream_chunk); // socket reads as large as a chunk
      if (!stream_parser_->is_done() &&
          beast::iequals(stream_parser_->get()[http::field::expect], "100-continue"))
        return send_continue();
      return read_chunk();
    }
    if (request_.content_length && *request_.content_length > srv_.opts.http_body_limit) {
      keep_alive_ = false;
      linger_ = true;
      return write(error_response(413, "too_large", "request body too large"));
    }
    parser_.emplace(std::move(*head_));
    parser_->body_limit(srv_.opts.http_body_limit); // chunked bodies: checked as they come
    if (parser_->is_done())
      return on_read({}, 0);
    http::async_read(stream_, buffer_, *parser_,
                     beast::bind_front_handler(&http_session::on_read, shared_from_this()));
  }

  void on_read(beast::error_code ec, std::size_t) {
    if (ec == http::error::body_limit) {
      keep_alive_ = false;
      linger_ = true;
      return write(error_response(413, "too_large", "request body too large"));
    }
    if (ec)
      return fail(ec);
    request_.body = std::move(parser_->get().body());
    parser_.reset();
    stream_.expires_never(); // the application may take a while (password hashing)
    srv_.app.handle_http(std::move(request_), reply_fn());
  }

  // -- streamed request bodies

  void send_continue() {
    auto msg =
        std::make_shared<http::response<http::empty_body>>(http::status::continue_, version_);
    http::async_write(stream_, *msg,
                      [self = shared_from_this(), msg](beast::error_code ec, std::size_t) {
                        if (ec)
                          return self->abandon_sink(ec);
                        self->read_chunk();
                      });
  }

  void read_chunk() {
    if (stream_parser_->is_done())
      return finish_sink();
    auto& body = stream_parser_->get().body();
    body.data = chunk_.get();
    body.size = srv_.opts.stream_chunk;
    stream_.expires_after(srv_.opts.http_timeout);
    http::async_read_some(stream_, buffer_, *stream_parser_,
                          beast::bind_front_handler(&http_session::on_chunk, shared_from_this()));
  }

  void on_chunk(beast::error_code ec, std::size_t) {
    if (ec == http::error::need_buffer)
      ec = {};
    if (ec)
      return abandon_sink(ec);
    auto got = srv_.opts.stream_chunk - stream_parser_->get().body().size;
    if (got > 0) {
      if (auto refusal = sink_->write(chunk_.get(), got)) {
        sink_.reset();
        keep_alive_ = false;
        linger_ = !stream_parser_->is_done();
        return write(std::move(*refusal));
      }
    }
    read_chunk();
  }

  void finish_sink() {
    keep_alive_ = stream_parser_->get().keep_alive();
    stream_parser_.reset();
    buffer_.shrink_to_fit(); // idle keep-alive connections hold no large buffers
    stream_.expires_never(); // the sink syncs the upload to disk before it answers
    auto sink = std::move(sink_);
    sink->finish(reply_fn());
  }

  void abandon_sink(beast::error_code ec) {
    sink_.reset(); // discards the partial upload
    stream_parser_.reset();
    fail(ec);
  }

  // -- responses

  http_reply reply_fn() {
    return [self = shared_from_this()](http_response res) {
      asio::post(self->stream_.get_executor(),
                 [self, res = std::move(res)]() mutable { self->write(std::move(res)); });
    };
  }

  template <class Body> void prepare(http::response<Body>& msg, const http_response& res) {
    msg.version(version_);
    msg.result(res.status);
    msg.set(http::field::server, "tidings");
    if (res.status != 204 && res.status != 304)
      msg.set(http::field::content_type, res.content_type);
    for (auto& [name, value] : res.headers)
      msg.set(name, value);
    msg.keep_alive(keep_alive_);
  }

  void write(http_response res) {
    if (res.file) {
      int fd = ::open(res.file->path.c_str(), O_RDONLY | O_CLOEXEC);
      struct stat st {};
      if (fd < 0 || ::fstat(fd, &st) != 0 ||
          static_cast<uint64_t>(st.st_size) < res.file->offset + res.file->length) {
        if (fd >= 0)
          ::close(fd);
        return write(error_response(404, "not_found", "no such media"));
      }
      if (head_only_) {
        ::close(fd);
        return write_header_only(res, res.file->length);
      }
      auto msg = std::make_shared<http::response<file_range_body>>();
      prepare(*msg, res);
      auto& body = msg->body();
      body.fd = fd;
      body.offset = res.file->offset;
      body.length = res.file->length;
      body.chunk = srv_.opts.stream_chunk;
      msg->prepare_payload();
      return send(msg);
    }
    if (head_only_ && res.status != 204 && res.status != 304)
      return write_header_only(res, res.body.size());
    auto msg = std::make_shared<http::response<http::string_body>>();
    prepare(*msg, res);
    msg->body() = std::move(res.body);
    msg->prepare_payload();
    send(msg);
  }

  /// The answer to HEAD: the header GET would get, Content-Length included, and no body.
  void write_header_only(const http_response& res, uint64_t length) {
    auto msg = std::make_shared<http::response<http::empty_body>>();
    prepare(*msg, res);
    msg->content_length(length);
    send(msg);
  }

  template <class Message> void send(std::shared_ptr<Message> msg) {
    stream_.expires_after(srv_.opts.http_timeout);
    http::async_write(stream_, *msg,
                      [self = shared_from_this(), msg](beast::error_code ec, std::size_t) {
                        if (ec)
                          return self->do_shutdown();
                        if (!self->keep_alive_)
                          return self->linger_ ? self->linger() : self->do_shutdown();
                        self->do_read();
                      });
  }

  /// After answering a request whose body was not read: read and drop the rest for a while,
  /// so the client can finish sending and read the answer instead of getting a reset.
  void linger() {
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
    if (!chunk_)
      chunk_.reset(new char[srv_.opts.stream_chunk]);
    stream_.expires_after(srv_.opts.http_timeout);
    drain();
  }

  void drain() {
    stream_.async_read_some(asio::buffer(chunk_.get(), srv_.opts.stream_chunk),
                            [self = shared_from_this()](beast::error_code ec, std::size_t) {
                              if (!ec)
                                self->drain();
                            });
  }

  void do_shutdown() {
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
  }

  beast::tcp_stream stream_;
  server::impl& srv_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::empty_body>> head_;
  std::optional<http::request_parser<http::string_body>> parser_;
  std::optional<http::request_parser<http::buffer_body>> stream_parser_;
  std::unique_ptr<body_sink> sink_;
  std::unique_ptr<char[]> chunk_; ///< buffer of streamed bodies (lazily allocated)
  http_request request_;
  bool keep_alive_ = true;
  bool head_only_ = false;
  bool linger_ = false;
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
