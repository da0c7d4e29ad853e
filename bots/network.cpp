#include "bots/network.hpp"

#include <algorithm>
#include <atomic>
#include <deque>
#include <optional>
#include <stdexcept>
#include <thread>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>

#include <netinet/in.h>

#include <nlohmann/json.hpp>

#include "client/detail/tls.hpp"
#include "net/handler_memory.hpp"

namespace tidings::bots {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
using tcp = asio::ip::tcp;
using beast::error_code;

namespace {

constexpr const char* user_agent = "tidings-bots/0.1";
constexpr uint16_t close_policy = 1008;
constexpr uint16_t close_no_status = 1005;

/// Everything a connection needs from its network, copied so it never refers back to it.
struct session_setup {
  tcp::resolver::results_type endpoints;
  std::string host;
  network_options opts;
  int64_t (*now_ns)();
  client::endpoint node;                   ///< for TLS: the host to verify, the CA file
  std::shared_ptr<asio::ssl::context> tls; ///< set for https:// and wss:// nodes
  /// Local addresses to bind, in turn (opts.sources parsed; shared, not copied per connection).
  struct source_list {
    std::vector<asio::ip::address> addresses;
    std::atomic<std::size_t> next{0};
  };
  std::shared_ptr<source_list> sources;
};

class client_session : public ws_connection, public std::enable_shared_from_this<client_session> {
public:
  client_session(asio::io_context& ioc, const session_setup& setup,
                 std::unique_ptr<connection_events> events)
      : ws_(asio::make_strand(ioc)), setup_(setup), events_(std::move(events)) {}

  void start() {
    asio::post(ws_.get_executor(), [self = shared_from_this()] { self->do_connect(); });
  }

  void send(std::string frame, bool binary) override {
    asio::post(ws_.get_executor(), [self = shared_from_this(), f = std::move(frame),
                                    binary]() mutable { self->enqueue(std::move(f), binary); });
  }

  void close(uint16_t code) override {
    asio::post(ws_.get_executor(),
               [self = shared_from_this(), code] { self->request_close(code, "closed by bot"); });
  }

  void drop() override {
    asio::post(ws_.get_executor(), [self = shared_from_this()] { self->do_drop(); });
  }

private:
  struct outgoing {
    std::string data;
    bool binary;
  };

  void do_connect() {
    if (finished_)
      return;
    auto& stream = beast::get_lowest_layer(ws_);
    stream.expires_after(setup_.opts.connect_timeout);
    if (!setup_.sources)
      return stream.async_connect(setup_.endpoints,
                                  [self = shared_from_this()](error_code ec, const tcp::endpoint&) {
                                    self->on_connect(ec);
                                  });
    // A source address: the socket is bound before it connects (to the first endpoint of the
    // source's family), the port chosen at connect time so that every source reaches the
    // node through the whole ephemeral range.
    const auto& all = setup_.sources->addresses;
    const auto& source = all[setup_.sources->next.fetch_add(1) % all.size()];
    auto target =
        std::find_if(setup_.endpoints.begin(), setup_.endpoints.end(), [&](const auto& e) {
          return e.endpoint().address().is_v4() == source.is_v4();
        });
    if (target == setup_.endpoints.end())
      return finish(close_abnormal,
                    "connect: no address of the node matches the source " + source.to_string());
    error_code ec;
    auto& socket = stream.socket();
    socket.open(target->endpoint().protocol(), ec);
    int one = 1;
    if (!ec)
      ::setsockopt(socket.native_handle(), IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
    if (!ec)
      socket.bind(tcp::endpoint{source, 0}, ec);
    if (ec)
      return fail(ec, "bind to the source address");
    stream.async_connect(target->endpoint(), beast::bind_front_handler(&client_session::on_connect,
                                                                       shared_from_this()));
  }

  void on_connect(error_code ec) {
    if (ec)
      return fail(ec, "connect");
    if (dropped_)
      return finish(close_abnormal, "dropped by the bot");
    error_code ignored;
    beast::get_lowest_layer(ws_).socket().set_option(tcp::no_delay(true), ignored);
    ws_.read_message_max(setup_.opts.max_message_bytes);
    ws_.auto_fragment(false);
    ws_.set_option(websocket::stream_base::decorator(
        [proto = setup_.opts.subprotocol](websocket::request_type& req) {
          req.set(http::field::user_agent, user_agent);
          if (!proto.empty())
            req.set(http::field::sec_websocket_protocol, proto);
        }));
    if (!setup_.tls)
      return upgrade();
    client::detail::start_tls(ws_.next_layer(), *setup_.tls, setup_.node);
    ws_.next_layer().tls_stream().async_handshake(asio::ssl::stream_base::client,
                                                  [self = shared_from_this()](error_code ec) {
                                                    if (ec)
                                                      return self->fail(ec, "TLS handshake");
                                                    self->upgrade();
                                                  });
  }

  void upgrade() {
    answer_ = std::make_unique<websocket::response_type>();
    ws_.async_handshake(
        *answer_, setup_.host, setup_.opts.target,
        beast::bind_front_handler(&client_session::on_handshake, shared_from_this()));
  }

  void on_handshake(error_code ec) {
    auto answer = std::move(answer_);
    if (ec == websocket::error::upgrade_declined && !dropped_)
      return refused(*answer);
    if (ec)
      return fail(ec, "handshake");
    beast::get_lowest_layer(ws_).expires_never();
    // Bots keep their sessions alive with protocol pings; no WebSocket-level timeouts.
    ws_.set_option(websocket::stream_base::timeout{std::chrono::seconds(10),
                                                   websocket::stream_base::none(), false});
    opened_ = true;
    if (events_)
      events_->on_open();
    do_read();
    if (close_requested_ && !writing_)
      return do_close();
    if (!queue_.empty() && !writing_)
      do_write();
  }

  void do_read() {
    ws_.async_read(buffer_, net::recycled(beast::bind_front_handler(&client_session::on_read,
                                                                    shared_from_this())));
  }

  void on_read(error_code ec, std::size_t) {
    if (ec) {
      if (ec == websocket::error::closed) {
        const auto& cr = ws_.reason();
        return finish(cr.code == 0 ? close_no_status : cr.code, std::string{cr.reason.c_str()});
      }
      return fail(ec, "read");
    }
    auto arrival = setup_.now_ns();
    auto data = beast::buffers_to_string(buffer_.data());
    buffer_.consume(buffer_.size());
    if (events_)
      events_->on_frame(std::move(data), ws_.got_binary(), arrival);
    do_read();
  }

  void enqueue(std::string frame, bool binary) {
    if (close_requested_ || finished_ || dropped_)
      return;
    queue_.push_back({std::move(frame), binary});
    if (queue_.size() > setup_.opts.write_queue_frames) {
      discard_queued();
      return request_close(close_policy, "client write queue full");
    }
    if (opened_ && !writing_)
      do_write();
  }

  void do_write() {
    writing_ = true;
    ws_.binary(queue_.front().binary);
    ws_.async_write(
        asio::buffer(queue_.front().data),
        net::recycled(beast::bind_front_handler(&client_session::on_write, shared_from_this())));
  }

  void on_write(error_code ec, std::size_t) {
    writing_ = false;
    if (ec)
      return fail(ec, "write");
    queue_.pop_front();
    if (dropped_ || finished_)
      return;
    if (!queue_.empty())
      return do_write();
    if (close_requested_)
      do_close();
  }

  void request_close(uint16_t code, const char* why) {
    if (close_requested_ || finished_ || dropped_)
      return;
    close_requested_ = true;
    close_reason_ = websocket::close_reason(static_cast<websocket::close_code>(code), why);
    if (!opened_)
      return do_drop(); // still connecting: nothing to close politely
    if (!writing_)
      do_close();
  }

  /// Forgets the queued frames, except one being written: its buffer must outlive the write.
  void discard_queued() { queue_.erase(queue_.begin() + (writing_ ? 1 : 0), queue_.end()); }

  void do_close() {
    if (closing_)
      return;
    closing_ = true;
    ws_.async_close(close_reason_, [self = shared_from_this()](error_code) {
      // The pending read ends with websocket::error::closed (or an error) and finishes.
      error_code ignored;
      beast::get_lowest_layer(self->ws_).socket().shutdown(tcp::socket::shutdown_both, ignored);
    });
  }

  void do_drop() {
    if (finished_ || dropped_)
      return;
    dropped_ = true;
    discard_queued();
    error_code ignored;
    beast::get_lowest_layer(ws_).socket().close(ignored);
    // Pending operations complete with operation_aborted and finish().
  }

  /// The node answered the upgrade with an HTTP status instead of 101: a protocol error body
  /// (`overloaded` and its retry_ms) is reported as a refusal.
  void refused(const websocket::response_type& answer) {
    auto body = nlohmann::json::parse(answer.body(), nullptr, false);
    std::string code;
    if (body.is_object() && body.contains("error") && body["error"].is_string())
      code = body["error"].get<std::string>();
    if (!code.empty() && events_) {
      auto retry = body.contains("retry_ms") && body["retry_ms"].is_number_integer()
                       ? body["retry_ms"].get<int64_t>()
                       : int64_t{-1};
      events_->on_refused(code, retry);
    }
    finish(close_abnormal, "handshake: HTTP " + std::to_string(answer.result_int()) +
                               (code.empty() ? "" : " " + code));
  }

  void fail(error_code ec, const char* stage) {
    if (dropped_)
      return finish(close_abnormal, "dropped by the bot");
    // A close frame may have arrived before the connection broke: its code counts.
    const auto& cr = ws_.reason();
    if (opened_ && cr.code != 0)
      return finish(cr.code, std::string{cr.reason.c_str()});
    finish(close_abnormal, std::string{stage} + ": " + ec.message());
  }

  void finish(uint16_t code, std::string reason) {
    if (finished_)
      return;
    finished_ = true;
    if (events_) {
      events_->on_closed(code, std::move(reason), opened_);
      events_.reset();
    }
  }

  websocket::stream<net::maybe_tls_stream> ws_;
  session_setup setup_;
  std::unique_ptr<connection_events> events_;
  beast::flat_buffer buffer_;
  std::unique_ptr<websocket::response_type> answer_; ///< the upgrade's answer, while awaited
  std::deque<outgoing> queue_;
  websocket::close_reason close_reason_;
  bool opened_ = false;
  bool writing_ = false;
  bool close_requested_ = false;
  bool closing_ = false;
  bool dropped_ = false;
  bool finished_ = false;
};

} // namespace

struct network::impl {
  std::optional<asio::io_context> ioc;
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work;
  std::vector<std::thread> threads;
  session_setup setup;
};

network::network(const client::endpoint& node, network_options opts, int64_t (*now_ns)())
    : impl_(std::make_unique<impl>()) {
  impl_->ioc.emplace(static_cast<int>(std::max<std::size_t>(1, opts.threads)));
  tcp::resolver resolver{*impl_->ioc};
  error_code ec;
  auto endpoints = resolver.resolve(node.host, std::to_string(node.port), ec);
  if (ec)
    throw std::runtime_error("cannot resolve " + client::host_header(node) + ": " + ec.message());
  impl_->setup = session_setup{endpoints, client::host_header(node),
                               opts,      now_ns,
                               node,      node.tls ? client::detail::tls_context(node) : nullptr,
                               nullptr};
  if (!opts.sources.empty()) {
    impl_->setup.sources = std::make_shared<session_setup::source_list>();
    for (const auto& s : opts.sources) {
      auto address = asio::ip::make_address(s, ec);
      if (ec)
        throw std::runtime_error("not a source address: '" + s + "'");
      impl_->setup.sources->addresses.push_back(address);
    }
    impl_->setup.opts.sources.clear(); // parsed above; not copied into every connection
  }
  impl_->work.emplace(impl_->ioc->get_executor());
  for (std::size_t i = 0; i < std::max<std::size_t>(1, opts.threads); ++i)
    impl_->threads.emplace_back([this] { impl_->ioc->run(); });
}

network::~network() {
  stop();
}

std::shared_ptr<ws_connection> network::open(std::unique_ptr<connection_events> events) {
  if (!impl_->ioc)
    throw std::logic_error("network::open after stop()");
  auto session = std::make_shared<client_session>(*impl_->ioc, impl_->setup, std::move(events));
  session->start();
  return session;
}

void network::stop() {
  if (!impl_->ioc)
    return;
  impl_->work.reset();
  impl_->ioc->stop();
  for (auto& t : impl_->threads)
    if (t.joinable())
      t.join();
  impl_->threads.clear();
  impl_->ioc.reset(); // destroys pending handlers, and with them the connections
}

} // namespace tidings::bots
