#include "net/detail/http_session.hpp"

#include <limits>
#include <string>
#include <utility>

#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/beast/core/bind_handler.hpp>
#include <boost/beast/core/string.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/beast/websocket/rfc6455.hpp>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "net/detail/file_body.hpp"
#include "net/detail/log_failure.hpp"
#include "net/detail/request_head.hpp"
#include "net/detail/server_impl.hpp"
#include "net/detail/ws_session.hpp"
#include "net/http_api.hpp"

namespace tidings::net::detail {

namespace {

/// "No limit" for Beast parsers (boost::none trips a comparison bug in Beast 1.74).
constexpr uint64_t no_body_limit = std::numeric_limits<uint64_t>::max();

/// True if the error ends the connection quietly; otherwise the caller answers 400.
bool quiet_end(beast::error_code ec) {
  return ec == http::error::end_of_stream || ec == beast::error::timeout ||
         ec == asio::error::operation_aborted || ec == asio::error::connection_reset ||
         ec == asio::error::eof || ec == asio::ssl::error::stream_truncated;
}

} // namespace

http_session::http_session(strand_socket&& socket, server::impl& srv, connection_slot slot)
    : stream_(std::move(socket)), srv_(srv), slot_(std::move(slot)) {}

void http_session::run() {
  if (!srv_.tls)
    return asio::dispatch(stream_.get_executor(),
                          beast::bind_front_handler(&http_session::do_read, shared_from_this()));
  stream_.start_tls(*srv_.tls);
  stream_.next_layer().expires_after(srv_.opts.header_timeout);
  stream_.tls_stream().async_handshake(
      asio::ssl::stream_base::server,
      beast::bind_front_handler(&http_session::on_handshake, shared_from_this()));
}

void http_session::on_handshake(beast::error_code ec) {
  if (ec)
    return log_failure(ec, "tls handshake");
  do_read();
}

void http_session::do_read() {
  head_only_ = false;
  head_.emplace();
  head_->header_limit(max_header_bytes);
  head_->body_limit(no_body_limit); // the body's own parser or sink limits it
  // The whole header, however slowly it trickles in (slowloris), and the wait for it.
  stream_.next_layer().expires_after(srv_.opts.header_timeout);
  http::async_read_header(stream_, buffer_, *head_,
                          beast::bind_front_handler(&http_session::on_header, shared_from_this()));
}

void http_session::fail(beast::error_code ec, const char* what) {
  if (quiet_end(ec))
    return do_shutdown();
  log_failure(ec, what);
  keep_alive_ = false;
  write(error_response(400, "bad_request", "malformed HTTP request"));
}

void http_session::on_header(beast::error_code ec, std::size_t) {
  if (ec)
    return fail(ec, "http read header");
  auto& req = head_->get();
  if (websocket::is_upgrade(req)) {
    auto target = req.target();
    if (target.substr(0, target.find('?')) != "/v1/ws") {
      keep_alive_ = false;
      return write(error_response(404, "not_found", "no such endpoint"));
    }
    if (!srv_.admission.enter()) {
      // Refused before the WebSocket handshake: an HTTP answer the client can read.
      if (srv_.opts.upgrades_refused != nullptr)
        srv_.opts.upgrades_refused->fetch_add(1, std::memory_order_relaxed);
      keep_alive_ = false;
      version_ = req.version();
      linger_ = !head_->is_done();
      return write(overloaded_response("too many sessions logging in, retry after retry_ms",
                                       srv_.admission.retry_ms(admission::clock::now())));
    }
    http::request_parser<http::string_body> full{std::move(*head_)};
    stream_.next_layer().expires_never(); // the WebSocket session sets its own timeouts
    std::make_shared<ws_session>(std::move(stream_), srv_, std::move(slot_))->run(full.release());
    return;
  }
  keep_alive_ = req.keep_alive();
  version_ = req.version();
  head_only_ = req.method() == http::verb::head;
  request_ = request_head(*head_);
  beast::error_code ignored;
  request_.remote = stream_.socket().remote_endpoint(ignored).address().to_string();
  // The decision may come from another thread (dispatch runs it inline when it comes at once).
  // Nothing is read meanwhile; the header's timeout keeps running, so a decision later than
  // `http_timeout` finds the next read failing and the connection ends quietly.
  srv_.app.route_body_async(request_, [self = shared_from_this()](body_route route) {
    auto routed = std::make_shared<body_route>(std::move(route));
    asio::dispatch(self->stream_.get_executor(),
                   [self, routed] { self->on_route(std::move(*routed)); });
  });
}

void http_session::on_route(body_route route) {
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

void http_session::on_read(beast::error_code ec, std::size_t) {
  if (ec == http::error::body_limit) {
    log_failure(ec, "http read body");
    keep_alive_ = false;
    linger_ = true;
    return write(error_response(413, "too_large", "request body too large"));
  }
  if (ec)
    return fail(ec, "http read body");
  request_.body = std::move(parser_->get().body());
  parser_.reset();
  stream_.next_layer().expires_never(); // the application may take a while (password hashing)
  srv_.app.handle_http(std::move(request_), reply_fn());
}

// -- streamed request bodies

void http_session::send_continue() {
  auto msg = std::make_shared<http::response<http::empty_body>>(http::status::continue_, version_);
  http::async_write(stream_, *msg,
                    [self = shared_from_this(), msg](beast::error_code ec, std::size_t) {
                      if (ec)
                        return self->abandon_sink(ec, "http write 100-continue");
                      self->read_chunk();
                    });
}

void http_session::read_chunk() {
  if (stream_parser_->is_done())
    return finish_sink();
  auto& body = stream_parser_->get().body();
  body.data = chunk_.get();
  body.size = srv_.opts.stream_chunk;
  stream_.next_layer().expires_after(srv_.opts.http_timeout);
  http::async_read_some(stream_, buffer_, *stream_parser_,
                        beast::bind_front_handler(&http_session::on_chunk, shared_from_this()));
}

void http_session::on_chunk(beast::error_code ec, std::size_t) {
  if (ec == http::error::need_buffer)
    ec = {};
  if (ec)
    return abandon_sink(ec, "http read streamed body");
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

void http_session::finish_sink() {
  keep_alive_ = stream_parser_->get().keep_alive();
  stream_parser_.reset();
  buffer_.shrink_to_fit();              // idle keep-alive connections hold no large buffers
  stream_.next_layer().expires_never(); // the sink syncs the upload to disk before it answers
  auto sink = std::move(sink_);
  sink->finish(reply_fn());
}

void http_session::abandon_sink(beast::error_code ec, const char* what) {
  sink_.reset(); // discards the partial upload
  stream_parser_.reset();
  fail(ec, what);
}

// -- responses

http_reply http_session::reply_fn() {
  return [self = shared_from_this()](http_response res) {
    asio::post(self->stream_.get_executor(),
               [self, res = std::move(res)]() mutable { self->write(std::move(res)); });
  };
}

template <class Body>
void http_session::prepare(http::response<Body>& msg, const http_response& res) {
  msg.version(version_);
  msg.result(res.status);
  msg.set(http::field::server, "tidings");
  if (res.status != 204 && res.status != 304)
    msg.set(http::field::content_type, res.content_type);
  for (auto& [name, value] : res.headers)
    msg.set(name, value);
  msg.keep_alive(keep_alive_);
}

void http_session::write(http_response res) {
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

void http_session::write_header_only(const http_response& res, uint64_t length) {
  auto msg = std::make_shared<http::response<http::empty_body>>();
  prepare(*msg, res);
  msg->content_length(length);
  send(msg);
}

template <class Message> void http_session::send(std::shared_ptr<Message> msg) {
  stream_.next_layer().expires_after(srv_.opts.http_timeout);
  http::async_write(stream_, *msg,
                    [self = shared_from_this(), msg](beast::error_code ec, std::size_t) {
                      if (ec) {
                        log_failure(ec, "http write");
                        return self->do_shutdown();
                      }
                      if (!self->keep_alive_)
                        return self->linger_ ? self->linger() : self->do_shutdown();
                      self->do_read();
                    });
}

void http_session::linger() {
  beast::error_code ignored;
  // Over TLS the answer's records are out; the connection ends when the drain does.
  if (!stream_.tls())
    stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
  if (!chunk_)
    chunk_.reset(new char[srv_.opts.stream_chunk]);
  stream_.next_layer().expires_after(srv_.opts.http_timeout);
  drain();
}

void http_session::drain() {
  stream_.async_read_some(asio::buffer(chunk_.get(), srv_.opts.stream_chunk),
                          [self = shared_from_this()](beast::error_code ec, std::size_t) {
                            if (ec)
                              return log_failure(ec, "http drain");
                            self->drain();
                          });
}

void http_session::do_shutdown() {
  if (stream_.tls()) {
    // close_notify, then the socket closes with this session (bounded by the expiry).
    stream_.next_layer().expires_after(srv_.opts.header_timeout);
    return stream_.tls_stream().async_shutdown([self = shared_from_this()](beast::error_code) {});
  }
  beast::error_code ignored;
  stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
}

} // namespace tidings::net::detail
