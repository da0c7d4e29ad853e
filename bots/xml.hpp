#pragma once
// xml: the few XML pieces the XMPP driver needs: read one stanza into a small tree, escape text.
//
// RFC 7395 puts exactly one top-level element (a stanza, <open/>, <close/>, a SASL or stream
// management element) in each WebSocket message, so a stanza is parsed whole, with libexpat,
// into an `xml_element` tree. Names keep their prefix as written ("stream:features");
// `local()` strips it, which is how the driver matches elements (XMPP's namespaces are fixed by
// the element's position, and the driver checks `xmlns` where two elements share a name).
// Not a general XML library: no DTDs, no entity declarations (refused, as XMPP requires), at
// most max_xml_depth levels and max_xml_bytes bytes.

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace tidings::bots {

constexpr std::size_t max_xml_depth = 32;
constexpr std::size_t max_xml_bytes = 1u << 20;

struct xml_element {
  std::string name; ///< as written, with its prefix
  std::vector<std::pair<std::string, std::string>> attrs;
  std::vector<xml_element> children;
  std::string text; ///< character data directly inside this element, concatenated

  /// The name without its prefix ("features" for "stream:features").
  std::string_view local() const;
  /// The value of attribute `key` (as written, e.g. "xml:lang"), or nullptr.
  const std::string* attr(std::string_view key) const;
  /// The attribute's value, or "" if it is absent.
  std::string_view attr_or_empty(std::string_view key) const;
  /// The first child whose local name is `local_name` (and, if given, whose xmlns is `ns`).
  const xml_element* child(std::string_view local_name, std::string_view ns = {}) const;
};

/// Parses one complete element (a WebSocket message of RFC 7395). nullopt if it is not
/// well-formed, holds more than one top-level element, declares entities or a DTD, nests
/// deeper than max_xml_depth, or is larger than max_xml_bytes. `error` (if given) says why.
std::optional<xml_element> parse_xml(std::string_view text, std::string* error = nullptr);

/// `text` with &, <, >, ' and " replaced by entities: safe as character data and in
/// attribute values quoted with either quote.
std::string xml_escape(std::string_view text);

} // namespace tidings::bots
