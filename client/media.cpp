#include "client/media.hpp"

#include <algorithm>
#include <fstream>
#include <limits>
#include <memory>
#include <stdexcept>

#include <boost/algorithm/string/case_conv.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>

#include "client/detail/beast.hpp"
#include "client/detail/run_until.hpp"
#include "client/detail/tls.hpp"
#include "media/sha256.hpp"

namespace tidings::client {

namespace {

constexpr uint64_t max_error_body = 64 * 1024;
constexpr uint64_t max_upload_reply = 1 << 20;
/// One connection whose asynchronous steps each run to completion within the idle timeout.
struct transfer {
  asio::io_context ioc;
  net::maybe_tls_stream socket{ioc}; ///< plaintext, or TLS for https:// endpoints
  std::shared_ptr<asio::ssl::context> tls;
  beast::flat_buffer buffer;
  std::chrono::milliseconds idle;
  std::string what;

  transfer(std::chrono::milliseconds idle_timeout, std::string description)
      : idle(idle_timeout), what(std::move(description)) {}

  /// Starts an operation with `start(handler)` and runs it to completion; returns its error.
  template <class Start> error_code step(const char* stage, Start&& start) {
    bool done = false;
    error_code result;
    start([&](error_code ec, auto&&...) {
      result = ec;
      done = true;
    });
    if (!detail::run_until(ioc, detail::clock::now() + idle, [&] { return done; })) {
      error_code ignored;
      socket.socket().close(ignored);
      detail::drain(ioc, 1s);
      throw std::runtime_error(what + ": no progress for " + std::to_string(idle.count()) +
                               " ms (during " + stage + ")");
    }
    return result;
  }

  void check(error_code ec, const char* stage) {
    if (ec)
      throw std::runtime_error(what + ": " + stage + " failed: " + ec.message());
  }

  void connect(const endpoint& ep) {
    tcp::resolver resolver{ioc};
    tcp::resolver::results_type results;
    check(step("resolve",
               [&](auto handler) {
                 resolver.async_resolve(
                     ep.host, std::to_string(ep.port),
                     [&results, handler](error_code ec, tcp::resolver::results_type r) mutable {
                       results = std::move(r);
                       handler(ec);
                     });
               }),
          "resolve");
    check(step("connect",
               [&](auto handler) { asio::async_connect(socket.socket(), results, handler); }),
          "connect");
    if (!ep.tls)
      return;
    tls = detail::tls_context(ep);
    detail::start_tls(socket, *tls, ep);
    check(step("TLS handshake",
               [&](auto handler) {
                 socket.tls_stream().async_handshake(asio::ssl::stream_base::client, handler);
               }),
          "TLS handshake");
  }

  template <class Request>
  void set_common(Request& req, const endpoint& ep, const std::string& bearer) {
    req.version(11);
    req.set(http::field::host, host_header(ep));
    req.set(http::field::user_agent, detail::user_agent);
    req.keep_alive(false);
    if (!bearer.empty())
      req.set(http::field::authorization, "Bearer " + bearer);
  }
};

template <class Fields> void copy_header(const Fields& fields, http_response& out) {
  for (const auto& field : fields) {
    std::string name{field.name_string()};
    auto [pos, inserted] =
        out.headers.emplace(boost::algorithm::to_lower_copy(name), std::string{field.value()});
    if (!inserted)
      pos->second += ", " + std::string{field.value()};
  }
}

/// Reads the rest of a buffer_body response, handing each chunk to `sink`.
template <class Sink>
void read_body(transfer& t, http::response_parser<http::buffer_body>& parser, Sink&& sink) {
  std::unique_ptr<char[]> chunk{new char[transfer_chunk]};
  t.buffer.reserve(transfer_chunk); // socket reads as large as a chunk
  while (!parser.is_done()) {
    auto& body = parser.get().body();
    body.data = chunk.get();
    body.size = transfer_chunk;
    auto ec = t.step("read body", [&](auto handler) {
      http::async_read_some(t.socket, t.buffer, parser, handler);
    });
    if (ec == http::error::need_buffer)
      ec = {};
    t.check(ec, "read body");
    auto got = transfer_chunk - body.size;
    if (got > 0)
      sink(chunk.get(), got);
  }
}

} // namespace

http_response http_upload(const endpoint& ep, std::string_view target, const std::string& path,
                          const std::string& content_type, const std::string& bearer,
                          std::chrono::milliseconds idle_timeout) {
  std::ifstream file{path, std::ios::binary};
  if (!file)
    throw std::runtime_error("cannot open " + path);
  file.seekg(0, std::ios::end);
  auto size = static_cast<uint64_t>(file.tellg());
  file.seekg(0);
  transfer t{idle_timeout, "POST " + std::string{target} + " to " + host_header(ep)};
  t.connect(ep);

  http::request<http::buffer_body> req{http::verb::post, target, 11};
  t.set_common(req, ep, bearer);
  req.set(http::field::content_type, content_type);
  req.content_length(size);
  req.body().data = nullptr;
  req.body().more = true;
  http::request_serializer<http::buffer_body> sr{req};
  auto write_error = t.step("write header",
                            [&](auto handler) { http::async_write_header(t.socket, sr, handler); });
  std::unique_ptr<char[]> chunk{new char[transfer_chunk]};
  uint64_t sent = 0;
  while (!write_error && !sr.is_done()) {
    auto want = static_cast<std::size_t>(std::min<uint64_t>(transfer_chunk, size - sent));
    if (want > 0 && !file.read(chunk.get(), static_cast<std::streamsize>(want)))
      throw std::runtime_error("cannot read " + path);
    sent += want;
    req.body().data = want > 0 ? chunk.get() : nullptr;
    req.body().size = want;
    req.body().more = sent < size;
    write_error =
        t.step("write body", [&](auto handler) { http::async_write(t.socket, sr, handler); });
    if (write_error == http::error::need_buffer)
      write_error = {};
  }
  // An early answer (the server refused before reading everything) is still worth reading.
  http::response_parser<http::string_body> parser;
  parser.body_limit(max_upload_reply);
  auto read_error = t.step("read response", [&](auto handler) {
    http::async_read(t.socket, t.buffer, parser, handler);
  });
  if (read_error) {
    t.check(write_error, "write request");
    t.check(read_error, "read response");
  }
  http_response out;
  out.status = parser.get().result_int();
  copy_header(parser.get(), out);
  out.body = std::move(parser.get().body());
  return out;
}

download_result http_download(const endpoint& ep, std::string_view target,
                              const std::string& bearer, uint64_t offset,
                              const std::function<void(const char*, std::size_t)>& write,
                              std::chrono::milliseconds idle_timeout,
                              const std::function<void(const http_response&)>& on_header) {
  transfer t{idle_timeout, "GET " + std::string{target} + " from " + host_header(ep)};
  t.connect(ep);
  http::request<http::empty_body> req{http::verb::get, target, 11};
  t.set_common(req, ep, bearer);
  if (offset > 0)
    req.set(http::field::range, "bytes=" + std::to_string(offset) + "-");
  t.check(t.step("write request", [&](auto handler) { http::async_write(t.socket, req, handler); }),
          "write request");

  http::response_parser<http::buffer_body> parser;
  parser.body_limit(std::numeric_limits<uint64_t>::max()); // (boost::none trips Beast 1.74)
  t.check(
      t.step("read header",
             [&](auto handler) { http::async_read_header(t.socket, t.buffer, parser, handler); }),
      "read header");
  download_result result;
  result.response.status = parser.get().result_int();
  copy_header(parser.get(), result.response);
  if (on_header)
    on_header(result.response);
  if (result.response.status == 200 || result.response.status == 206) {
    read_body(t, parser, [&](const char* data, std::size_t n) {
      write(data, n);
      result.received += n;
    });
  } else {
    read_body(t, parser, [&](const char* data, std::size_t n) {
      if (result.response.body.size() + n > max_error_body)
        throw std::runtime_error(t.what + ": error body too large");
      result.response.body.append(data, n);
    });
  }
  return result;
}

json upload_media(const endpoint& ep, const std::string& token, const std::string& path,
                  const std::string& mime, std::chrono::milliseconds idle_timeout) {
  auto res = http_upload(ep, "/v1/media", path, mime, token, idle_timeout);
  if (res.status != 201)
    throw_api_error("POST /v1/media", res);
  return res.json_body();
}

std::string file_sha256(const std::string& path) {
  std::ifstream file{path, std::ios::binary};
  if (!file)
    throw std::runtime_error("cannot open " + path);
  media::sha256 hash;
  std::unique_ptr<char[]> chunk{new char[transfer_chunk]};
  while (file) {
    file.read(chunk.get(), transfer_chunk);
    hash.update(chunk.get(), static_cast<std::size_t>(file.gcount()));
  }
  if (file.bad())
    throw std::runtime_error("cannot read " + path);
  return hash.hex_digest();
}

} // namespace tidings::client
