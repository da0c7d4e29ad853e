#pragma once
// One TCP connection speaking HTTP/1.1: reads request headers, routes each body (buffered,
// streamed into a `body_sink`, or refused), writes the responses (strings, or file ranges
// from disk) and hands a WebSocket upgrade of `/v1/ws` to a `ws_session`.
// Concurrency: everything runs on the connection's strand; the `http_reply` it hands out may
// be called from any thread (it posts to the strand).
// Limits: headers up to 16 KiB, whole within `header_timeout` (TLS handshake included);
// buffered bodies up to `http_body_limit` (else 413); at most one `stream_chunk` of a streamed
// body in memory; every other read and write within `http_timeout`, except while the
// application answers. The connection holds its slot of the server's connection limits. A request
// refused before its body was read is answered, then the rest is drained (for at most
// `http_timeout`) before the connection closes.

#include <memory>
#include <optional>

#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/buffer_body.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>

#include "net/detail/beast.hpp"
#include "net/detail/server_impl.hpp"
#include "net/server.hpp"
#include "net/tls_stream.hpp"

namespace tidings::net::detail {

class http_session : public std::enable_shared_from_this<http_session> {
public:
  http_session(strand_socket&& socket, server::impl& srv, connection_slot slot);

  /// Starts reading requests (on the connection's strand), after the TLS handshake if the
  /// server speaks TLS.
  void run();

private:
  void on_handshake(beast::error_code ec);
  void do_read();
  /// An error of a request: ends the connection quietly if it is an ordinary end, else logs
  /// it (as `what`) and answers 400.
  void fail(beast::error_code ec, const char* what);
  void on_header(beast::error_code ec, std::size_t);
  /// Reads the body as the application decided (`route`), back on the connection's strand.
  void on_route(body_route route);
  void on_read(beast::error_code ec, std::size_t);

  // Streamed request bodies.
  void send_continue();
  void read_chunk();
  void on_chunk(beast::error_code ec, std::size_t);
  void finish_sink();
  void abandon_sink(beast::error_code ec, const char* what);

  // Responses.
  http_reply reply_fn();
  template <class Body> void prepare(http::response<Body>& msg, const http_response& res);
  void write(http_response res);
  /// The answer to HEAD: the header GET would get, Content-Length included, and no body.
  void write_header_only(const http_response& res, uint64_t length);
  template <class Message> void send(std::shared_ptr<Message> msg);
  /// After answering a request whose body was not read: read and drop the rest for a while,
  /// so the client can finish sending and read the answer instead of getting a reset.
  void linger();
  void drain();
  void do_shutdown();

  maybe_tls_stream stream_;
  server::impl& srv_;
  connection_slot slot_;
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

} // namespace tidings::net::detail
