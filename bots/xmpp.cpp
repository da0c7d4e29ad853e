#include "bots/xmpp.hpp"

namespace tidings::bots::xmpp {

namespace {

std::string element(std::string_view name, std::string_view ns, std::string_view inner = {}) {
  std::string out = "<";
  out += name;
  out += " xmlns='";
  out += ns;
  if (inner.empty())
    return out + "'/>";
  out += "'>";
  out += inner;
  out += "</";
  out += name;
  return out + ">";
}

std::string iq_set(std::string_view id, std::string_view inner) {
  return "<iq type='set' id='" + xml_escape(id) + "'>" + std::string{inner} + "</iq>";
}

std::string marker(std::string_view to, std::string_view id, std::string_view name,
                   std::string_view ns) {
  return "<message to='" + xml_escape(to) + "'><" + std::string{name} + " xmlns='" +
         std::string{ns} + "' id='" + xml_escape(id) + "'/></message>";
}

} // namespace

std::string open(std::string_view domain) {
  return "<open xmlns='" + std::string{ns_framing} + "' to='" + xml_escape(domain) +
         "' version='1.0'/>";
}

std::string close() {
  return element("close", ns_framing);
}

std::string auth_plain(std::string_view user, std::string_view password) {
  std::string creds;
  creds += '\0';
  creds += user;
  creds += '\0';
  creds += password;
  return "<auth xmlns='" + std::string{ns_sasl} + "' mechanism='PLAIN'>" + base64(creds) +
         "</auth>";
}

std::string bind(std::string_view resource) {
  return iq_set("bind",
                element("bind", ns_bind, "<resource>" + xml_escape(resource) + "</resource>"));
}

std::string session() {
  return iq_set("session", element("session", "urn:ietf:params:xml:ns:xmpp-session"));
}

std::string enable_sm() {
  return element("enable", ns_sm);
}

std::string request_ack() {
  return element("r", ns_sm);
}

std::string answer_ack(uint64_t handled) {
  return "<a xmlns='" + std::string{ns_sm} + "' h='" + std::to_string(handled) + "'/>";
}

std::string presence() {
  return "<presence/>";
}

std::string ping(std::string_view id) {
  return "<iq type='get' id='" + xml_escape(id) + "'>" + element("ping", ns_ping) + "</iq>";
}

std::string iq_result(std::string_view to, std::string_view id) {
  return "<iq type='result' to='" + xml_escape(to) + "' id='" + xml_escape(id) + "'/>";
}

std::string register_user(std::string_view user, std::string_view password) {
  return iq_set("register", element("query", ns_register,
                                    "<username>" + xml_escape(user) + "</username><password>" +
                                        xml_escape(password) + "</password>"));
}

std::string chat(std::string_view to, std::string_view id, std::string_view body) {
  return "<message type='chat' to='" + xml_escape(to) + "' id='" + xml_escape(id) + "'><body>" +
         xml_escape(body) + "</body>" + element("request", ns_receipts) + "</message>";
}

std::string received(std::string_view to, std::string_view id) {
  return marker(to, id, "received", ns_receipts);
}

std::string displayed(std::string_view to, std::string_view id) {
  return marker(to, id, "displayed", ns_markers);
}

std::string base64(std::string_view bytes) {
  static constexpr char alphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  std::size_t i = 0;
  for (; i + 2 < bytes.size(); i += 3) {
    auto v = (static_cast<uint32_t>(static_cast<uint8_t>(bytes[i])) << 16) |
             (static_cast<uint32_t>(static_cast<uint8_t>(bytes[i + 1])) << 8) |
             static_cast<uint8_t>(bytes[i + 2]);
    out += alphabet[(v >> 18) & 63];
    out += alphabet[(v >> 12) & 63];
    out += alphabet[(v >> 6) & 63];
    out += alphabet[v & 63];
  }
  if (auto rest = bytes.size() - i; rest > 0) {
    uint32_t v = static_cast<uint32_t>(static_cast<uint8_t>(bytes[i])) << 16;
    if (rest == 2)
      v |= static_cast<uint32_t>(static_cast<uint8_t>(bytes[i + 1])) << 8;
    out += alphabet[(v >> 18) & 63];
    out += alphabet[(v >> 12) & 63];
    out += rest == 2 ? alphabet[(v >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

std::string_view bare(std::string_view jid) {
  return jid.substr(0, jid.find('/'));
}

std::string_view local_part(std::string_view jid) {
  auto b = bare(jid);
  auto at = b.find('@');
  return at == std::string_view::npos ? std::string_view{} : b.substr(0, at);
}

std::string error_condition(const xml_element& e) {
  const xml_element* holder = e.child("error");
  if (holder == nullptr)
    holder = &e; // <stream:error/> and SASL <failure/> hold the condition directly
  for (const auto& c : holder->children)
    if (c.local() != "text")
      return std::string{c.local()};
  return "undefined-condition";
}

std::optional<uint32_t> run_number(std::string_view text, std::string_view run_id) {
  if (text.size() <= run_id.size() + 1 || text.substr(0, run_id.size()) != run_id ||
      text[run_id.size()] != '.')
    return std::nullopt;
  uint64_t number = 0;
  std::size_t digits = 0;
  for (auto i = run_id.size() + 1; i < text.size() && text[i] >= '0' && text[i] <= '9'; ++i) {
    if (++digits > 10)
      return std::nullopt;
    number = number * 10 + static_cast<uint64_t>(text[i] - '0');
  }
  if (digits == 0 || number > UINT32_MAX)
    return std::nullopt;
  return static_cast<uint32_t>(number);
}

} // namespace tidings::bots::xmpp
