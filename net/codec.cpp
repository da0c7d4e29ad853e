#include "net/codec.hpp"

#include <array>

#include <msgpack.hpp>

namespace tidings::net {

namespace {

// -- msgpack -> json ---------------------------------------------------------

bool from_object(const msgpack::object& obj, json& out, std::string* error) {
  switch (obj.type) {
  case msgpack::type::NIL:
    out = nullptr;
    return true;
  case msgpack::type::BOOLEAN:
    out = obj.via.boolean;
    return true;
  case msgpack::type::POSITIVE_INTEGER:
    out = obj.via.u64;
    return true;
  case msgpack::type::NEGATIVE_INTEGER:
    out = obj.via.i64;
    return true;
  case msgpack::type::FLOAT32:
  case msgpack::type::FLOAT64:
    out = obj.via.f64;
    return true;
  case msgpack::type::STR: {
    std::string_view s{obj.via.str.ptr, obj.via.str.size};
    if (!valid_utf8(s)) {
      *error = "string is not valid UTF-8";
      return false;
    }
    out = std::string{s};
    return true;
  }
  case msgpack::type::BIN:
    out = json::binary(
        std::vector<std::uint8_t>(obj.via.bin.ptr, obj.via.bin.ptr + obj.via.bin.size));
    return true;
  case msgpack::type::ARRAY: {
    out = json::array();
    for (uint32_t i = 0; i < obj.via.array.size; ++i) {
      json element;
      if (!from_object(obj.via.array.ptr[i], element, error))
        return false;
      out.push_back(std::move(element));
    }
    return true;
  }
  case msgpack::type::MAP: {
    out = json::object();
    for (uint32_t i = 0; i < obj.via.map.size; ++i) {
      const auto& kv = obj.via.map.ptr[i];
      if (kv.key.type != msgpack::type::STR) {
        *error = "map keys must be strings";
        return false;
      }
      std::string key{kv.key.via.str.ptr, kv.key.via.str.size};
      if (!valid_utf8(key)) {
        *error = "map key is not valid UTF-8";
        return false;
      }
      json value;
      if (!from_object(kv.val, value, error))
        return false;
      out[key] = std::move(value);
    }
    return true;
  }
  default:
    *error = "msgpack ext values are not accepted";
    return false;
  }
}

std::optional<json> decode_msgpack(std::string_view bytes, std::string* error) {
  msgpack::unpack_limit limits{/*array*/ 65536,      /*map*/ 1024, /*str*/ bytes.size(),
                               /*bin*/ bytes.size(), /*ext*/ 0,    /*depth*/ max_depth};
  msgpack::object_handle handle;
  try {
    std::size_t offset = 0;
    handle = msgpack::unpack(bytes.data(), bytes.size(), offset, nullptr, nullptr, limits);
    if (offset != bytes.size()) {
      *error = "trailing bytes after the msgpack value";
      return std::nullopt;
    }
  } catch (const std::exception& e) {
    *error = std::string{"malformed msgpack: "} + e.what();
    return std::nullopt;
  }
  json out;
  if (!from_object(handle.get(), out, error))
    return std::nullopt;
  return out;
}

std::optional<json> decode_json(std::string_view bytes, std::string* error) {
  bool too_deep = false;
  auto depth_guard = [&too_deep](int depth, json::parse_event_t, json&) {
    if (depth > max_depth)
      too_deep = true;
    return !too_deep;
  };
  try {
    auto value = json::parse(bytes.begin(), bytes.end(), depth_guard);
    if (too_deep) {
      *error = "nesting too deep";
      return std::nullopt;
    }
    return value;
  } catch (const json::exception& e) {
    *error = std::string{"malformed JSON: "} + e.what();
    return std::nullopt;
  }
}

// -- json -> msgpack ---------------------------------------------------------

void pack(msgpack::packer<msgpack::sbuffer>& pk, const json& v) {
  switch (v.type()) {
  case json::value_t::null:
  case json::value_t::discarded:
    pk.pack_nil();
    break;
  case json::value_t::boolean:
    pk.pack(v.get<bool>());
    break;
  case json::value_t::number_unsigned:
    pk.pack(v.get<uint64_t>());
    break;
  case json::value_t::number_integer:
    pk.pack(v.get<int64_t>());
    break;
  case json::value_t::number_float:
    pk.pack(v.get<double>());
    break;
  case json::value_t::string: {
    const auto& s = v.get_ref<const std::string&>();
    pk.pack_str(static_cast<uint32_t>(s.size()));
    pk.pack_str_body(s.data(), static_cast<uint32_t>(s.size()));
    break;
  }
  case json::value_t::binary: {
    const auto& b = v.get_binary();
    pk.pack_bin(static_cast<uint32_t>(b.size()));
    pk.pack_bin_body(reinterpret_cast<const char*>(b.data()), static_cast<uint32_t>(b.size()));
    break;
  }
  case json::value_t::array:
    pk.pack_array(static_cast<uint32_t>(v.size()));
    for (const auto& e : v)
      pack(pk, e);
    break;
  case json::value_t::object:
    pk.pack_map(static_cast<uint32_t>(v.size()));
    for (const auto& [key, value] : v.items()) {
      pk.pack_str(static_cast<uint32_t>(key.size()));
      pk.pack_str_body(key.data(), static_cast<uint32_t>(key.size()));
      pack(pk, value);
    }
    break;
  }
}

/// JSON has no binary type: replace every binary value by its base64 text.
json with_base64(const json& v) {
  if (v.is_binary()) {
    const auto& b = v.get_binary();
    return base64_encode({reinterpret_cast<const char*>(b.data()), b.size()});
  }
  if (v.is_object()) {
    json out = json::object();
    for (const auto& [key, value] : v.items())
      out[key] = with_base64(value);
    return out;
  }
  if (v.is_array()) {
    json out = json::array();
    for (const auto& e : v)
      out.push_back(with_base64(e));
    return out;
  }
  return v;
}

bool contains_binary(const json& v) {
  if (v.is_binary())
    return true;
  if (v.is_structured())
    for (const auto& e : v)
      if (contains_binary(e))
        return true;
  return false;
}

constexpr char b64_alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

} // namespace

std::optional<json> decode(std::string_view bytes, encoding enc, std::string* error) {
  std::string ignored;
  if (error == nullptr)
    error = &ignored;
  auto value = enc == encoding::msgpack ? decode_msgpack(bytes, error) : decode_json(bytes, error);
  if (value && !value->is_object()) {
    *error = "a frame must hold one object";
    return std::nullopt;
  }
  return value;
}

std::string encode(const json& value, encoding enc) {
  if (enc == encoding::json) {
    // Replace invalid UTF-8 rather than throw: server-produced text is already validated.
    if (contains_binary(value))
      return with_base64(value).dump(-1, ' ', false, json::error_handler_t::replace);
    return value.dump(-1, ' ', false, json::error_handler_t::replace);
  }
  msgpack::sbuffer buffer;
  msgpack::packer<msgpack::sbuffer> pk{buffer};
  pack(pk, value);
  return std::string{buffer.data(), buffer.size()};
}

bool valid_utf8(std::string_view text) {
  const auto* s = reinterpret_cast<const unsigned char*>(text.data());
  std::size_t n = text.size();
  std::size_t i = 0;
  while (i < n) {
    unsigned char c = s[i];
    if (c < 0x80) {
      ++i;
      continue;
    }
    std::size_t len;
    uint32_t cp;
    if ((c & 0xE0) == 0xC0) {
      len = 2;
      cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      len = 3;
      cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      len = 4;
      cp = c & 0x07;
    } else {
      return false;
    }
    if (i + len > n)
      return false;
    for (std::size_t k = 1; k < len; ++k) {
      if ((s[i + k] & 0xC0) != 0x80)
        return false;
      cp = (cp << 6) | (s[i + k] & 0x3F);
    }
    static constexpr uint32_t min_for_len[] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < min_for_len[len] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
      return false;
    i += len;
  }
  return true;
}

std::string base64_encode(std::string_view bytes) {
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  std::size_t i = 0;
  auto byte = [&](std::size_t k) {
    return static_cast<uint32_t>(static_cast<unsigned char>(bytes[k]));
  };
  for (; i + 2 < bytes.size(); i += 3) {
    uint32_t n = (byte(i) << 16) | (byte(i + 1) << 8) | byte(i + 2);
    out += b64_alphabet[(n >> 18) & 63];
    out += b64_alphabet[(n >> 12) & 63];
    out += b64_alphabet[(n >> 6) & 63];
    out += b64_alphabet[n & 63];
  }
  if (i < bytes.size()) {
    uint32_t n = byte(i) << 16;
    if (i + 1 < bytes.size())
      n |= byte(i + 1) << 8;
    out += b64_alphabet[(n >> 18) & 63];
    out += b64_alphabet[(n >> 12) & 63];
    out += i + 1 < bytes.size() ? b64_alphabet[(n >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

std::optional<std::string> base64_decode(std::string_view text) {
  static const std::array<int8_t, 256> table = [] {
    std::array<int8_t, 256> t{};
    t.fill(-1);
    for (int k = 0; k < 64; ++k)
      t[static_cast<unsigned char>(b64_alphabet[k])] = static_cast<int8_t>(k);
    return t;
  }();
  while (!text.empty() && text.back() == '=')
    text.remove_suffix(1);
  if (text.size() % 4 == 1)
    return std::nullopt;
  std::string out;
  out.reserve(text.size() * 3 / 4);
  uint32_t acc = 0;
  int bits = 0;
  for (char ch : text) {
    int8_t v = table[static_cast<unsigned char>(ch)];
    if (v < 0)
      return std::nullopt;
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((acc >> bits) & 0xFF);
    }
  }
  return out;
}

} // namespace tidings::net
