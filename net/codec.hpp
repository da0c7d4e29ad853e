#pragma once
// Frame codecs: one envelope model (nlohmann::json) and two wire encodings.
//
// A binary WebSocket frame holds a MessagePack map, a text frame a JSON object; both
// decode to the same json value so the rest of the server never looks at the encoding.
// Binary values (msgpack `bin`) become json binary values; in JSON they travel as base64
// strings, and the JSON encoder writes every binary value as base64.
//
// Decoding is strict and bounded: the top level must be an object, map keys must be
// strings, strings must be valid UTF-8, nesting is at most `max_depth`, msgpack `ext`
// values are refused. Nothing here allocates more than a small multiple of the input.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace tidings::net {

using json = nlohmann::json;

enum class encoding : uint8_t { msgpack, json };

/// Deepest nesting a client frame may have (the protocol needs 3).
constexpr int max_depth = 8;

/// Decodes one frame into an object, or returns nullopt and a reason in `error`.
std::optional<json> decode(std::string_view bytes, encoding enc, std::string* error);

/// Encodes a value (normally an object) in the given encoding.
std::string encode(const json& value, encoding enc);

/// True if `text` is well-formed UTF-8 (no overlongs, no surrogates, at most U+10FFFF).
bool valid_utf8(std::string_view text);

/// Standard base64 with padding.
std::string base64_encode(std::string_view bytes);
/// Decodes standard base64 (padding optional); nullopt on any invalid character.
std::optional<std::string> base64_decode(std::string_view text);

} // namespace tidings::net
