#include "bots/xml.hpp"

#include <expat.h>

namespace tidings::bots {

namespace {

/// What the expat callbacks build: a stack of open elements over the finished root.
struct tree_builder {
  std::vector<xml_element> open;
  std::optional<xml_element> root;
  std::string error;
  XML_Parser parser = nullptr;

  void fail(const char* why) {
    if (error.empty())
      error = why;
    XML_StopParser(parser, XML_FALSE);
  }
};

void on_start(void* data, const XML_Char* name, const XML_Char** attrs) {
  auto& b = *static_cast<tree_builder*>(data);
  if (b.root) // a second top-level element
    return b.fail("more than one top-level element");
  if (b.open.size() >= max_xml_depth)
    return b.fail("nested too deeply");
  xml_element e;
  e.name = name;
  for (auto a = attrs; *a != nullptr; a += 2)
    e.attrs.emplace_back(a[0], a[1]);
  b.open.push_back(std::move(e));
}

void on_end(void* data, const XML_Char*) {
  auto& b = *static_cast<tree_builder*>(data);
  auto done = std::move(b.open.back());
  b.open.pop_back();
  if (b.open.empty())
    b.root = std::move(done);
  else
    b.open.back().children.push_back(std::move(done));
}

void on_text(void* data, const XML_Char* s, int len) {
  auto& b = *static_cast<tree_builder*>(data);
  if (!b.open.empty())
    b.open.back().text.append(s, static_cast<std::size_t>(len));
}

void on_doctype(void* data, const XML_Char*, const XML_Char*, const XML_Char*, int) {
  static_cast<tree_builder*>(data)->fail("a DTD is not allowed");
}

void on_entity(void* data, const XML_Char*, int, const XML_Char*, int, const XML_Char*,
               const XML_Char*, const XML_Char*, const XML_Char*) {
  static_cast<tree_builder*>(data)->fail("entity declarations are not allowed");
}

/// One expat parser per thread, reset between stanzas (creating one costs a few allocations).
struct thread_parser {
  XML_Parser parser = XML_ParserCreate("UTF-8");
  ~thread_parser() { XML_ParserFree(parser); }
};

} // namespace

std::string_view xml_element::local() const {
  std::string_view n = name;
  auto colon = n.find(':');
  return colon == std::string_view::npos ? n : n.substr(colon + 1);
}

const std::string* xml_element::attr(std::string_view key) const {
  for (const auto& [k, v] : attrs)
    if (k == key)
      return &v;
  return nullptr;
}

std::string_view xml_element::attr_or_empty(std::string_view key) const {
  auto v = attr(key);
  return v == nullptr ? std::string_view{} : std::string_view{*v};
}

const xml_element* xml_element::child(std::string_view local_name, std::string_view ns) const {
  for (const auto& c : children)
    if (c.local() == local_name && (ns.empty() || c.attr_or_empty("xmlns") == ns))
      return &c;
  return nullptr;
}

std::optional<xml_element> parse_xml(std::string_view text, std::string* error) {
  auto refuse = [&](std::string why) -> std::optional<xml_element> {
    if (error != nullptr)
      *error = std::move(why);
    return std::nullopt;
  };
  if (text.size() > max_xml_bytes)
    return refuse("larger than " + std::to_string(max_xml_bytes) + " bytes");
  thread_local thread_parser tp;
  if (tp.parser == nullptr)
    return refuse("cannot create an XML parser");
  XML_ParserReset(tp.parser, "UTF-8");
  tree_builder b;
  b.parser = tp.parser;
  XML_SetUserData(tp.parser, &b);
  XML_SetElementHandler(tp.parser, on_start, on_end);
  XML_SetCharacterDataHandler(tp.parser, on_text);
  XML_SetStartDoctypeDeclHandler(tp.parser, on_doctype);
  XML_SetEntityDeclHandler(tp.parser, on_entity);
  auto status = XML_Parse(tp.parser, text.data(), static_cast<int>(text.size()), XML_TRUE);
  if (!b.error.empty())
    return refuse(b.error);
  if (status != XML_STATUS_OK)
    return refuse(XML_ErrorString(XML_GetErrorCode(tp.parser)));
  if (!b.root)
    return refuse("no element");
  return std::move(b.root);
}

std::string xml_escape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
    case '&':
      out += "&amp;";
      break;
    case '<':
      out += "&lt;";
      break;
    case '>':
      out += "&gt;";
      break;
    case '\'':
      out += "&apos;";
      break;
    case '"':
      out += "&quot;";
      break;
    default:
      out += c;
    }
  }
  return out;
}

} // namespace tidings::bots
