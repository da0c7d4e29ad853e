#include "client/ws_client.hpp"

#include <deque>
#include <stdexcept>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/websocket.hpp>

#include "client/detail/beast.hpp"
#include "client/detail/run_until.hpp"
#include "client/detail/tls.hpp"

namespace tidings::client {

namespace websocket = beast::websocket;

namespace {

constexpr const char* ws_target = "/v1/ws";
constexpr auto write_timeout = 10s;
constexpr auto close_timeout = 5s;
// Close code for a close frame without a status code (RFC 6455, 7.1.5).
constexpr uint16_t close_no_status = 1005;

// A frame as read from the wire: decoded, or the reason it did not decode.
struct received_frame {
  std::optional<json> frame;
  std::string error;
};

bool has_id(const received_frame& f, uint64_t id) {
  if (!f.frame || !f.frame->is_object())
    return false;
  auto i = f.frame->find("id");
  return i != f.frame->end() && i->is_number_integer() && *i == id;
}

} // namespace

struct ws_client::impl {
  endpoint ep;
  net::encoding enc;
  asio::io_context ioc;
  tcp::resolver resolver{ioc};
  websocket::stream<net::maybe_tls_stream> ws{ioc};
  std::shared_ptr<asio::ssl::context> tls; ///< for wss:// endpoints
  websocket::response_type handshake_response;
  beast::flat_buffer read_buffer;
  std::deque<received_frame> inbox;
  std::string write_bytes;
  uint64_t next_id = 1;

  bool connect_started = false;
  bool connected = false;
  bool reading = false;
  bool writing = false;
  bool closing = false;
  bool is_closed = false;
  bool op_done = false; // completion flag of the connect or close in progress
  error_code op_error;
  error_code write_error;
  const char* stage = "";
  uint16_t code = 0;
  std::string reason;

  impl(endpoint ep, net::encoding enc) : ep(std::move(ep)), enc(enc) {
    ws.read_message_max(max_message_bytes);
    ws.auto_fragment(false);
    ws.set_option(websocket::stream_base::timeout{websocket::stream_base::none(),
                                                  websocket::stream_base::none(), false});
  }

  ~impl() { drop(); }

  std::string where() const { return (ep.tls ? "wss://" : "ws://") + host_header(ep) + ws_target; }

  void mark_closed(uint16_t close_code, std::string why) {
    if (is_closed)
      return;
    is_closed = true;
    code = close_code;
    reason = std::move(why);
  }

  // Closes the socket without a handshake and runs the aborted handlers to completion.
  void drop() {
    error_code ignored;
    resolver.cancel();
    ws.next_layer().socket().close(ignored);
    detail::drain(ioc, 1s);
    mark_closed(close_abnormal, "connection dropped by the client");
  }

  void start_read() {
    if (reading || is_closed || !connected)
      return;
    reading = true;
    ws.async_read(read_buffer, [this](error_code ec, std::size_t) { on_read(ec); });
  }

  void on_read(error_code ec) {
    reading = false;
    if (ec == websocket::error::closed) {
      auto& cr = ws.reason();
      mark_closed(cr.code == 0 ? close_no_status : cr.code, std::string{cr.reason.c_str()});
      return;
    }
    if (ec) {
      // A close frame may have arrived before the connection broke: its code counts.
      auto& cr = ws.reason();
      if (cr.code != 0)
        mark_closed(cr.code, std::string{cr.reason.c_str()});
      else if (!closing)
        mark_closed(close_abnormal, ec.message());
      return;
    }
    auto data = read_buffer.data();
    std::string_view bytes{static_cast<const char*>(data.data()), data.size()};
    received_frame f;
    f.frame =
        net::decode(bytes, ws.got_text() ? net::encoding::json : net::encoding::msgpack, &f.error);
    if (!f.frame)
      f.error = std::string{ws.got_text() ? "text" : "binary"} + " frame of " +
                std::to_string(bytes.size()) + " bytes does not decode: " + f.error;
    inbox.push_back(std::move(f));
    read_buffer.consume(read_buffer.size());
    start_read();
  }

  void connect(std::string bearer_token, std::chrono::milliseconds timeout) {
    if (connect_started)
      throw std::logic_error("ws_client::connect called twice");
    connect_started = true;
    auto deadline = detail::clock::now() + timeout;
    if (ep.tls)
      tls = detail::tls_context(ep);
    ws.set_option(websocket::stream_base::decorator(
        [token = std::move(bearer_token)](websocket::request_type& req) {
          req.set(http::field::user_agent, detail::user_agent);
          if (!token.empty())
            req.set(http::field::authorization, "Bearer " + token);
        }));
    auto finish = [this](error_code ec) {
      op_error = ec;
      op_done = true;
    };
    stage = "resolve";
    resolver.async_resolve(
        ep.host, std::to_string(ep.port),
        [this, finish](error_code ec, const tcp::resolver::results_type& results) {
          if (ec)
            return finish(ec);
          stage = "connect";
          asio::async_connect(
              ws.next_layer().socket(), results,
              [this, finish](error_code ec, const tcp::endpoint&) {
                if (ec)
                  return finish(ec);
                auto upgrade = [this, finish] {
                  stage = "handshake";
                  ws.async_handshake(handshake_response, host_header(ep), ws_target, finish);
                };
                if (!tls)
                  return upgrade();
                stage = "TLS handshake";
                detail::start_tls(ws.next_layer(), *tls, ep);
                ws.next_layer().tls_stream().async_handshake(asio::ssl::stream_base::client,
                                                             [finish, upgrade](error_code ec) {
                                                               if (ec)
                                                                 return finish(ec);
                                                               upgrade();
                                                             });
              });
        });
    if (!detail::run_until(ioc, deadline, [this] { return op_done; })) {
      drop();
      throw std::runtime_error(where() + ": " + stage + " timed out after " +
                               std::to_string(timeout.count()) + " ms");
    }
    if (op_error) {
      std::string text = where() + ": " + stage + " failed: " + op_error.message();
      if (op_error == websocket::error::upgrade_declined) {
        text += " (HTTP " + std::to_string(handshake_response.result_int());
        if (!handshake_response.body().empty())
          text += ": " + handshake_response.body().substr(0, 512);
        text += ")";
      }
      drop();
      throw std::runtime_error(text);
    }
    connected = true;
    start_read();
  }

  void require_open(const char* what) const {
    if (!connected)
      throw std::runtime_error(std::string{"ws_client::"} + what + ": not connected");
    if (is_closed)
      throw std::runtime_error(where() + ": " + what + " on a closed connection (close code " +
                               std::to_string(code) + (reason.empty() ? "" : ", " + reason) + ")");
  }

  void send_raw(std::string bytes, bool binary) {
    require_open("send");
    write_bytes = std::move(bytes);
    writing = true;
    write_error = {};
    ws.binary(binary);
    ws.async_write(asio::buffer(write_bytes), [this](error_code ec, std::size_t) {
      write_error = ec;
      writing = false;
    });
    if (!detail::run_until(ioc, detail::clock::now() + write_timeout,
                           [this] { return !writing; })) {
      drop();
      throw std::runtime_error(where() + ": send timed out");
    }
    if (write_error) {
      // The read side usually knows why (a close frame from the server): give it a moment.
      detail::run_until(ioc, detail::clock::now() + 1s, [this] { return is_closed; });
      throw std::runtime_error(where() + ": send failed: " + write_error.message() +
                               (is_closed ? " (close code " + std::to_string(code) + ")" : ""));
    }
  }

  std::optional<json> receive(std::chrono::milliseconds timeout) {
    if (!connected && inbox.empty())
      throw std::runtime_error("ws_client::receive: not connected");
    if (inbox.empty() && !is_closed) {
      start_read();
      detail::run_until(ioc, detail::clock::now() + timeout,
                        [this] { return !inbox.empty() || is_closed; });
    }
    if (inbox.empty())
      return std::nullopt;
    auto f = std::move(inbox.front());
    inbox.pop_front();
    if (!f.frame)
      throw std::runtime_error(where() + ": " + f.error);
    return std::move(f.frame);
  }

  json request(json frame, std::chrono::milliseconds timeout) {
    if (!frame.is_object())
      throw std::invalid_argument("ws_client::request: the frame must be an object");
    auto deadline = detail::clock::now() + timeout;
    auto id = next_id++;
    frame["id"] = id;
    auto scanned = inbox.size(); // frames queued before the request cannot be its reply
    auto found = [&] {
      for (; scanned < inbox.size(); ++scanned)
        if (has_id(inbox[scanned], id))
          return true;
      return false;
    };
    send_raw(net::encode(frame, enc), enc == net::encoding::msgpack);
    detail::run_until(ioc, deadline, [&] { return found() || is_closed; });
    if (found()) {
      auto reply = std::move(*inbox[scanned].frame);
      inbox.erase(inbox.begin() + static_cast<std::ptrdiff_t>(scanned));
      return reply;
    }
    auto type = frame.find("type");
    auto what = where() + ": no reply to " +
                (type != frame.end() && type->is_string() ? type->get<std::string>() : "frame") +
                " id " + std::to_string(id);
    if (is_closed)
      throw std::runtime_error(what + ": connection closed (code " + std::to_string(code) +
                               (reason.empty() ? "" : ", " + reason) + ")");
    throw std::runtime_error(what + " within " + std::to_string(timeout.count()) + " ms");
  }

  void close(uint16_t close_code) {
    if (!connected || is_closed)
      return;
    closing = true;
    op_done = false;
    ws.async_close(websocket::close_reason{close_code}, [this](error_code ec) {
      op_error = ec;
      op_done = true;
    });
    if (!detail::run_until(ioc, detail::clock::now() + close_timeout,
                           [this] { return op_done && !reading; }))
      drop();
    auto& cr = ws.reason();
    mark_closed(cr.code == 0 ? close_code : cr.code, std::string{cr.reason.c_str()});
  }
};

ws_client::ws_client(endpoint ep, net::encoding enc)
    : impl_(std::make_unique<impl>(std::move(ep), enc)) {
  // nop
}

ws_client::~ws_client() = default;
ws_client::ws_client(ws_client&&) noexcept = default;
ws_client& ws_client::operator=(ws_client&&) noexcept = default;

void ws_client::connect(std::string bearer_token, std::chrono::milliseconds timeout) {
  impl_->connect(std::move(bearer_token), timeout);
}

void ws_client::send(const json& frame) {
  impl_->send_raw(net::encode(frame, impl_->enc), impl_->enc == net::encoding::msgpack);
}

void ws_client::send_raw(std::string bytes, bool binary) {
  impl_->send_raw(std::move(bytes), binary);
}

std::optional<json> ws_client::receive(std::chrono::milliseconds timeout) {
  return impl_->receive(timeout);
}

json ws_client::auth(const std::string& token, bool foreground, std::chrono::milliseconds timeout) {
  send(json{{"type", "auth"}, {"token", token}, {"foreground", foreground}});
  if (auto reply = receive(timeout))
    return std::move(*reply);
  if (closed())
    throw std::runtime_error(impl_->where() + ": connection closed (code " +
                             std::to_string(close_code()) + ") before the auth reply");
  throw std::runtime_error(impl_->where() + ": no auth reply within " +
                           std::to_string(timeout.count()) + " ms");
}

json ws_client::request(json frame, std::chrono::milliseconds timeout) {
  return impl_->request(std::move(frame), timeout);
}

void ws_client::close(uint16_t code) {
  impl_->close(code);
}

void ws_client::drop() {
  if (impl_->connected)
    impl_->drop();
}

bool ws_client::closed() const {
  return impl_->is_closed;
}

uint16_t ws_client::close_code() const {
  return impl_->code;
}

std::string ws_client::close_reason() const {
  return impl_->reason;
}

std::size_t ws_client::queued() const {
  return impl_->inbox.size();
}

int ws_client::native_handle() {
  if (!impl_->connected || impl_->is_closed)
    return -1;
  return impl_->ws.next_layer().socket().native_handle();
}

const endpoint& ws_client::remote() const {
  return impl_->ep;
}

net::encoding ws_client::encoding() const {
  return impl_->enc;
}

} // namespace tidings::client
