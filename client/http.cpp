#include "client/http.hpp"

#include <algorithm>
#include <cctype>
#include <optional>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>

#include "client/detail/beast.hpp"
#include "client/detail/run_until.hpp"
#include "client/detail/tls.hpp"

namespace tidings::client {

namespace {

std::string lowercase(std::string_view text) {
  std::string out{text};
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

bool method_takes_body(http::verb verb) {
  return verb == http::verb::post || verb == http::verb::put || verb == http::verb::patch;
}

// One request/response exchange; all state lives here so cancelled handlers stay valid.
struct exchange {
  asio::io_context ioc;
  tcp::resolver resolver{ioc};
  net::maybe_tls_stream stream{ioc};
  std::shared_ptr<asio::ssl::context> tls; ///< for https:// endpoints
  http::request<http::string_body> request;
  beast::flat_buffer buffer;
  http::response_parser<http::string_body> parser;
  error_code error;
  const char* stage = "resolve";
  bool done = false;

  void finish(error_code ec) {
    error = ec;
    done = true;
  }

  void start(const endpoint& ep) {
    if (ep.tls)
      tls = detail::tls_context(ep);
    resolver.async_resolve(ep.host, std::to_string(ep.port),
                           [this, &ep](error_code ec, const tcp::resolver::results_type& results) {
                             if (ec)
                               return finish(ec);
                             stage = "connect";
                             asio::async_connect(stream.socket(), results,
                                                 [this, &ep](error_code ec, const tcp::endpoint&) {
                                                   if (ec || !tls)
                                                     return on_connect(ec);
                                                   stage = "TLS handshake";
                                                   detail::start_tls(stream, *tls, ep);
                                                   stream.tls_stream().async_handshake(
                                                       asio::ssl::stream_base::client,
                                                       [this](error_code ec) { on_connect(ec); });
                                                 });
                           });
  }

  void on_connect(error_code ec) {
    if (ec)
      return finish(ec);
    stage = "write request";
    http::async_write(stream, request, [this](error_code ec, std::size_t) { on_write(ec); });
  }

  void on_write(error_code ec) {
    if (ec)
      return finish(ec);
    stage = "read response";
    http::async_read(stream, buffer, parser, [this](error_code ec, std::size_t) { finish(ec); });
  }
};

} // namespace

json http_response::json_body() const {
  if (body.empty())
    return nullptr;
  auto parsed = json::parse(body, nullptr, false);
  return parsed.is_discarded() ? json{} : parsed;
}

std::string http_response::header(const std::string& lowercase_name) const {
  auto i = headers.find(lowercase_name);
  return i == headers.end() ? std::string{} : i->second;
}

api_error::api_error(std::string what, unsigned status, std::string code, std::string message,
                     std::string body)
    : std::runtime_error(std::move(what)), status_(status), code_(std::move(code)),
      message_(std::move(message)), body_(std::move(body)) {
  // nop
}

void throw_api_error(std::string_view what, const http_response& res) {
  std::string code;
  std::string message;
  auto parsed = res.json_body();
  if (parsed.is_object()) {
    if (auto i = parsed.find("error"); i != parsed.end() && i->is_string())
      code = i->get<std::string>();
    if (auto i = parsed.find("message"); i != parsed.end() && i->is_string())
      message = i->get<std::string>();
  }
  std::string text = std::string{what} + " failed with status " + std::to_string(res.status);
  if (!code.empty())
    text += ": " + code + (message.empty() ? "" : " (" + message + ")");
  else if (!res.body.empty())
    text += ": " + res.body.substr(0, 512);
  throw api_error(std::move(text), res.status, std::move(code), std::move(message), res.body);
}

http_response http_call(const endpoint& ep, std::string_view method, std::string_view target,
                        std::string body, std::string content_type, std::string bearer,
                        std::chrono::milliseconds timeout,
                        std::map<std::string, std::string> extra_headers) {
  auto deadline = detail::clock::now() + timeout;
  exchange x;
  auto& req = x.request;
  auto verb = http::string_to_verb(method);
  if (verb == http::verb::unknown)
    req.method_string(method);
  else
    req.method(verb);
  req.target(target);
  req.version(11);
  req.set(http::field::host, host_header(ep));
  req.set(http::field::user_agent, detail::user_agent);
  req.keep_alive(false);
  if (!bearer.empty())
    req.set(http::field::authorization, "Bearer " + bearer);
  if (!content_type.empty() && (!body.empty() || method_takes_body(verb)))
    req.set(http::field::content_type, content_type);
  for (auto& [name, value] : extra_headers)
    req.set(name, value);
  req.body() = std::move(body);
  req.prepare_payload();
  x.parser.body_limit(max_response_body);
  if (verb == http::verb::head)
    x.parser.skip(true);

  auto what = [&] {
    return std::string{method} + " " + std::string{target} + " to " + host_header(ep);
  };
  x.start(ep);
  if (!detail::run_until(x.ioc, deadline, [&] { return x.done; })) {
    error_code ignored;
    x.resolver.cancel();
    x.stream.socket().close(ignored);
    detail::drain(x.ioc, 1s);
    throw std::runtime_error(what() + ": timed out after " + std::to_string(timeout.count()) +
                             " ms (during " + x.stage + ")");
  }
  if (x.error)
    throw std::runtime_error(what() + ": " + x.stage + " failed: " + x.error.message());

  http_response out;
  auto& res = x.parser.get();
  out.status = res.result_int();
  for (const auto& field : res) {
    auto name = lowercase(field.name_string());
    auto [pos, inserted] = out.headers.emplace(name, std::string{field.value()});
    if (!inserted)
      pos->second += ", " + std::string{field.value()};
  }
  out.body = std::move(res.body());
  return out;
}

void register_user(const endpoint& ep, const std::string& user, const std::string& password) {
  auto res =
      http_call(ep, "POST", "/v1/accounts", json{{"user", user}, {"password", password}}.dump());
  if (res.status != 201)
    throw_api_error("POST /v1/accounts", res);
}

std::string login(const endpoint& ep, const std::string& user, const std::string& password,
                  const std::string& device) {
  json body{{"user", user}, {"password", password}};
  if (!device.empty())
    body["device"] = device;
  auto res = http_call(ep, "POST", "/v1/sessions", body.dump());
  if (res.status != 200)
    throw_api_error("POST /v1/sessions", res);
  auto parsed = res.json_body();
  if (!parsed.is_object() || !parsed.contains("token") || !parsed["token"].is_string())
    throw api_error("POST /v1/sessions: 200 without a token: " + res.body.substr(0, 512),
                    res.status, {}, {}, res.body);
  return parsed["token"].get<std::string>();
}

void logout(const endpoint& ep, const std::string& token) {
  auto res = http_call(ep, "DELETE", "/v1/sessions", {}, {}, token);
  if (res.status != 204)
    throw_api_error("DELETE /v1/sessions", res);
}

} // namespace tidings::client
