#include "net/detail/ws_session.hpp"

#include <chrono>
#include <mutex>
#include <utility>

#include <boost/asio/post.hpp>
#include <boost/beast/core/bind_handler.hpp>
#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/http/field.hpp>
#include <boost/beast/websocket/rfc6455.hpp>

#include "net/detail/log_failure.hpp"
#include "net/detail/server_impl.hpp"
#include "net/handler_memory.hpp"

namespace tidings::net::detail {

namespace {

/// Close code for a peer that does not read fast enough (a protocol extension).
constexpr uint16_t close_slow_consumer = 4004;

/// Bytes of the next message a waiting read asks for. Beast prepares the whole request in the
/// read buffer before the first byte arrives: a plain async_read asks for 1,536 bytes, held by
/// every idle connection. Most frames fit in this; the rest of a longer message follows.
constexpr std::size_t first_read_bytes = 256;

} // namespace

ws_session::ws_session(maybe_tls_stream&& stream, server::impl& srv, connection_slot slot)
    : ws_(std::move(stream)), srv_(srv), slot_(std::move(slot)) {}

ws_session::~ws_session() {
  finish();
}

void ws_session::run(http::request<http::string_body> req) {
  req_ = std::make_unique<http::request<http::string_body>>(std::move(req));
  websocket::stream_base::timeout t;
  t.handshake_timeout = std::chrono::seconds(10);
  t.idle_timeout = websocket::stream_base::none(); // the session actor owns idleness
  t.keep_alive_pings = false;
  ws_.set_option(t);
  ws_.read_message_max(srv_.opts.frame_limit);
  ws_.set_option(websocket::stream_base::decorator(
      [](websocket::response_type& res) { res.set(http::field::server, "tidings"); }));
  beast::get_lowest_layer(ws_).expires_never();
  ws_.async_accept(*req_, beast::bind_front_handler(&ws_session::on_accept, shared_from_this()));
}

void ws_session::send(std::string frame, bool binary) {
  asio::post(ws_.get_executor(), [self = shared_from_this(), f = std::move(frame),
                                  binary]() mutable { self->enqueue(std::move(f), binary); });
}

void ws_session::close(uint16_t code, std::string reason) {
  asio::post(ws_.get_executor(),
             [self = shared_from_this(), code, r = std::move(reason)]() mutable {
               self->request_close(code, std::move(r));
             });
}

void ws_session::frame_done() {
  auto left = unprocessed_.fetch_sub(1) - 1;
  if (left < srv_.opts.read_credits && paused_.load() && paused_.exchange(false))
    asio::post(ws_.get_executor(), [self = shared_from_this()] { self->do_read(); });
}

void ws_session::abandon() {
  finish();
}

void ws_session::admitted() {
  if (pending_.exchange(false))
    srv_.admission.leave(true);
}

void ws_session::on_accept(beast::error_code ec) {
  if (ec) {
    log_failure(ec, "websocket handshake");
    return finish();
  }
  {
    std::lock_guard<std::mutex> guard{srv_.mtx};
    if (srv_.stopping) {
      close_requested_ = true;
      close_code_ = static_cast<uint16_t>(websocket::close_code::going_away);
      close_text_ = "shutting down";
      do_close();
      do_read();
      return;
    }
  }
  registered_ = true;
  srv_.add(shared_from_this());
  auto auth = bearer_of((*req_)[http::field::authorization]);
  std::string target{req_->target()};
  req_.reset();
  handler_ = srv_.app.open_ws(std::make_shared<ws_peer_impl>(weak_from_this()), std::move(auth),
                              std::move(target));
  do_read();
}

void ws_session::do_read() {
  ws_.async_read_some(
      buffer_, first_read_bytes,
      recycled(beast::bind_front_handler(&ws_session::on_read_start, shared_from_this())));
}

void ws_session::on_read_start(beast::error_code ec, std::size_t n) {
  if (ec || ws_.is_message_done())
    return on_read(ec, n);
  // A longer message: the rest of it, appended (Beast checks read_message_max over the whole).
  ws_.async_read(buffer_,
                 recycled(beast::bind_front_handler(&ws_session::on_read, shared_from_this())));
}

void ws_session::on_read(beast::error_code ec, std::size_t) {
  if (ec) {
    log_failure(ec, "websocket read");
    return finish();
  }
  auto data = beast::buffers_to_string(buffer_.data());
  buffer_.clear();
  if (buffer_.capacity() > first_read_bytes)
    buffer_.shrink_to_fit(); // frees a long message's buffer: the next may be long in coming
  if (!handler_)
    return do_read();
  // Counted before it is handed over, so its frame_done can never come first.
  auto unprocessed = unprocessed_.fetch_add(1) + 1;
  handler_->on_frame(std::move(data), ws_.got_binary());
  if (unprocessed < srv_.opts.read_credits)
    return do_read();
  // Out of credits: stop reading until frame_done. The application may have caught up
  // between the increment and here; then exactly one of us wins `paused_` and reads.
  paused_.store(true);
  if (srv_.opts.reads_paused != nullptr)
    srv_.opts.reads_paused->fetch_add(1, std::memory_order_relaxed);
  if (unprocessed_.load() < srv_.opts.read_credits && paused_.exchange(false))
    do_read();
}

void ws_session::enqueue(std::string frame, bool binary) {
  if (close_requested_ || finished_)
    return;
  queued_bytes_ += frame.size();
  queue_.push_back({std::move(frame), binary});
  if (queue_.size() > srv_.opts.write_queue_frames || queued_bytes_ > srv_.opts.write_queue_bytes) {
    // Drop what is queued, but not the frame being written: its buffer is in use.
    auto keep = writing_ ? std::size_t{1} : std::size_t{0};
    queue_.erase(std::next(queue_.begin(), static_cast<std::ptrdiff_t>(keep)), queue_.end());
    queued_bytes_ = keep ? queue_.front().data.size() : 0;
    request_close(close_slow_consumer, "slow consumer");
    return;
  }
  if (!writing_)
    do_write();
}

void ws_session::do_write() {
  writing_ = true;
  ws_.binary(queue_.front().binary);
  ws_.async_write(asio::buffer(queue_.front().data),
                  recycled(beast::bind_front_handler(&ws_session::on_write, shared_from_this())));
}

void ws_session::on_write(beast::error_code ec, std::size_t) {
  writing_ = false;
  if (ec) {
    log_failure(ec, "websocket write");
    return finish();
  }
  queued_bytes_ -= queue_.front().data.size();
  queue_.pop_front();
  if (!queue_.empty())
    return do_write();
  if (close_requested_)
    do_close();
}

void ws_session::request_close(uint16_t code, std::string reason) {
  if (close_requested_ || finished_)
    return;
  close_requested_ = true;
  close_code_ = code;
  close_text_ = std::move(reason);
  if (!writing_)
    do_close();
}

void ws_session::do_close() {
  if (closing_)
    return;
  closing_ = true;
  // Beast serialises the close frame at once: the reason need not outlive the call.
  websocket::close_reason why{static_cast<websocket::close_code>(close_code_), close_text_};
  ws_.async_close(why, [self = shared_from_this()](beast::error_code ec) {
    log_failure(ec, "websocket close");
    // The pending read completes with an error and calls finish().
    beast::error_code ignored;
    beast::get_lowest_layer(self->ws_).socket().shutdown(tcp::socket::shutdown_both, ignored);
  });
}

void ws_session::finish() {
  if (finished_)
    return;
  finished_ = true;
  if (pending_.exchange(false))
    srv_.admission.leave(false);
  if (handler_) {
    uint16_t code = close_requested_ ? close_code_ : static_cast<uint16_t>(ws_.reason().code);
    handler_->on_close(code != 0 ? code : 1006);
    handler_.reset();
  }
  if (registered_) {
    registered_ = false;
    // Not from the destructor: there is no shared_ptr to us left by then.
    if (auto self = weak_from_this().lock())
      srv_.remove(self);
  }
}

void ws_peer_impl::send(std::string frame, bool binary) {
  if (auto s = session_.lock())
    s->send(std::move(frame), binary);
}

void ws_peer_impl::close(uint16_t code, std::string reason) {
  if (auto s = session_.lock())
    s->close(code, std::move(reason));
}

void ws_peer_impl::frame_done() {
  if (auto s = session_.lock())
    s->frame_done();
}

void ws_peer_impl::admitted() {
  if (auto s = session_.lock())
    s->admitted();
}

} // namespace tidings::net::detail
