#include "net/frame_doc.hpp"

#include <cstring>

namespace tidings::net {

namespace {

/// Deepest nesting the direct reader takes (the protocol needs 3); deeper frames, up to
/// `max_depth`, go through net::decode.
constexpr int direct_depth = 4;
/// Largest map and array the direct reader takes (net::decode's limits: 1,024 and 65,536).
constexpr uint32_t direct_map_pairs = 1024;
constexpr uint32_t direct_array_elements = 65536;

} // namespace

// -- value_ref --------------------------------------------------------------------------

value_ref::kind value_ref::type() const {
  return doc_->nodes_[index_].k;
}

bool value_ref::is_unsigned() const {
  const auto& n = doc_->nodes_[index_];
  return n.k == kind::uint || (n.k == kind::nint && n.i >= 0);
}

bool value_ref::boolean() const {
  return doc_->nodes_[index_].b;
}

uint64_t value_ref::unsigned_value() const {
  const auto& n = doc_->nodes_[index_];
  return n.k == kind::uint ? n.u : static_cast<uint64_t>(n.i);
}

std::string_view value_ref::str() const {
  return doc_->nodes_[index_].s;
}

uint32_t value_ref::size() const {
  return doc_->nodes_[index_].size;
}

value_ref value_ref::next() const {
  return {doc_, doc_->nodes_[index_].next};
}

std::optional<value_ref> value_ref::find(std::string_view key) const {
  const auto& nodes = doc_->nodes_;
  const auto& m = nodes[index_];
  if (m.k != kind::map)
    return std::nullopt;
  std::optional<value_ref> found;
  uint32_t i = index_ + 1;
  for (uint32_t p = 0; p < m.size; ++p) {
    if (nodes[i].s == key)
      found = value_ref{doc_, i + 1}; // keep looking: a repeated key means its last value
    i = nodes[i + 1].next;
  }
  return found;
}

// -- msgpack, read directly -------------------------------------------------------------

namespace {

uint64_t be_uint(const unsigned char* p, int n) {
  uint64_t v = 0;
  for (int i = 0; i < n; ++i)
    v = (v << 8) | p[i];
  return v;
}

} // namespace

bool frame_doc::read_msgpack(std::string_view bytes) {
  const auto* data = reinterpret_cast<const unsigned char*>(bytes.data());
  const std::size_t size = bytes.size();
  std::size_t pos = 0;
  using kind = value_ref::kind;

  // `need` more bytes must be there.
  auto have = [&](std::size_t need) { return size - pos >= need; };
  // Reads one value (and everything inside it) at `depth` (the top map is 1).
  auto read = [&](auto& self, int depth) -> bool {
    if (!have(1))
      return false;
    unsigned tag = data[pos++];
    auto index = static_cast<uint32_t>(nodes_.size());
    nodes_.emplace_back();
    auto at = [this, index]() -> node& { return nodes_[index]; };
    uint64_t len = 0;
    int len_bytes = 0;
    kind k = kind::null;
    // Containers, strings and binaries: their kind and length.
    if (tag <= 0x7f) {
      at().k = kind::uint;
      at().u = tag;
    } else if (tag >= 0xe0) {
      at().k = kind::nint;
      at().i = static_cast<int8_t>(tag);
    } else if (tag <= 0x8f) {
      k = kind::map, len = tag & 0x0f;
    } else if (tag <= 0x9f) {
      k = kind::array, len = tag & 0x0f;
    } else if (tag <= 0xbf) {
      k = kind::str, len = tag & 0x1f;
    } else {
      switch (tag) {
      case 0xc0:
        at().k = kind::null;
        break;
      case 0xc2:
      case 0xc3:
        at().k = kind::boolean;
        at().b = tag == 0xc3;
        break;
      case 0xc4:
      case 0xc5:
      case 0xc6:
        k = kind::bin, len_bytes = 1 << (tag - 0xc4);
        break;
      case 0xca: {
        if (!have(4))
          return false;
        auto bits = static_cast<uint32_t>(be_uint(data + pos, 4));
        float f;
        std::memcpy(&f, &bits, sizeof f);
        at().k = kind::real;
        at().d = f;
        pos += 4;
        break;
      }
      case 0xcb: {
        if (!have(8))
          return false;
        auto bits = be_uint(data + pos, 8);
        double d;
        std::memcpy(&d, &bits, sizeof d);
        at().k = kind::real;
        at().d = d;
        pos += 8;
        break;
      }
      case 0xcc:
      case 0xcd:
      case 0xce:
      case 0xcf: {
        int n = 1 << (tag - 0xcc);
        if (!have(static_cast<std::size_t>(n)))
          return false;
        at().k = kind::uint;
        at().u = be_uint(data + pos, n);
        pos += static_cast<std::size_t>(n);
        break;
      }
      case 0xd0:
      case 0xd1:
      case 0xd2:
      case 0xd3: {
        int n = 1 << (tag - 0xd0);
        if (!have(static_cast<std::size_t>(n)))
          return false;
        auto raw = be_uint(data + pos, n);
        int shift = 64 - 8 * n; // sign-extend
        auto v = static_cast<int64_t>(raw << shift) >> shift;
        pos += static_cast<std::size_t>(n);
        if (v >= 0) {
          at().k = kind::uint;
          at().u = static_cast<uint64_t>(v);
        } else {
          at().k = kind::nint;
          at().i = v;
        }
        break;
      }
      case 0xd9:
      case 0xda:
      case 0xdb:
        k = kind::str, len_bytes = 1 << (tag - 0xd9);
        break;
      case 0xdc:
      case 0xdd:
        k = kind::array, len_bytes = 2 << (tag - 0xdc);
        break;
      case 0xde:
      case 0xdf:
        k = kind::map, len_bytes = 2 << (tag - 0xde);
        break;
      default:
        return false; // 0xc1 (never used) and ext: net::decode says why
      }
    }
    if (len_bytes > 0) {
      if (!have(static_cast<std::size_t>(len_bytes)))
        return false;
      len = be_uint(data + pos, len_bytes);
      pos += static_cast<std::size_t>(len_bytes);
    }
    if (k == kind::str || k == kind::bin) {
      if (!have(len))
        return false;
      std::string_view s{bytes.data() + pos, static_cast<std::size_t>(len)};
      if (k == kind::str && !valid_utf8(s))
        return false;
      at().k = k;
      at().s = s;
      pos += static_cast<std::size_t>(len);
    } else if (k == kind::array || k == kind::map) {
      // Every element takes at least one byte: a size beyond the input is malformed.
      if (depth + 1 > direct_depth || !have(len) ||
          len > (k == kind::map ? direct_map_pairs : direct_array_elements))
        return false;
      at().k = k;
      at().size = static_cast<uint32_t>(len);
      for (uint64_t e = 0; e < len; ++e) {
        if (k == kind::map) {
          auto key = static_cast<uint32_t>(nodes_.size());
          if (!self(self, depth + 1) || nodes_[key].k != kind::str)
            return false;
        }
        if (!self(self, depth + 1))
          return false;
      }
    }
    nodes_[index].next = static_cast<uint32_t>(nodes_.size());
    return true;
  };
  nodes_.clear();
  if (bytes.empty() || !((data[0] & 0xf0) == 0x80 || data[0] == 0xde || data[0] == 0xdf))
    return false; // not a map: net::decode gives the reason
  return read(read, 0) && pos == size;
}

// -- through net::decode ----------------------------------------------------------------

void frame_doc::add_json(const json& value) {
  using kind = value_ref::kind;
  auto index = static_cast<uint32_t>(nodes_.size());
  nodes_.emplace_back();
  auto& n = nodes_.back();
  switch (value.type()) {
  case json::value_t::boolean:
    n.k = kind::boolean;
    n.b = value.get<bool>();
    break;
  case json::value_t::number_unsigned:
    n.k = kind::uint;
    n.u = value.get<uint64_t>();
    break;
  case json::value_t::number_integer:
    n.k = kind::nint;
    n.i = value.get<int64_t>();
    break;
  case json::value_t::number_float:
    n.k = kind::real;
    n.d = value.get<double>();
    break;
  case json::value_t::string:
    n.k = kind::str;
    n.s = value.get_ref<const std::string&>();
    break;
  case json::value_t::binary: {
    const auto& b = value.get_binary();
    n.k = kind::bin;
    n.s = {reinterpret_cast<const char*>(b.data()), b.size()};
    break;
  }
  case json::value_t::array:
    n.k = kind::array;
    n.size = static_cast<uint32_t>(value.size());
    for (const auto& e : value)
      add_json(e);
    break;
  case json::value_t::object:
    n.k = kind::map;
    n.size = static_cast<uint32_t>(value.size());
    for (auto it = value.begin(); it != value.end(); ++it) {
      nodes_.emplace_back();
      nodes_.back().k = kind::str;
      nodes_.back().s = it.key(); // a reference into the kept DOM
      nodes_.back().next = static_cast<uint32_t>(nodes_.size());
      add_json(*it);
    }
    break;
  default:
    break; // null (and discarded)
  }
  nodes_[index].next = static_cast<uint32_t>(nodes_.size());
}

void frame_doc::assign(json value) {
  nodes_.clear();
  dom_ = std::move(value);
  add_json(*dom_);
}

bool frame_doc::parse(std::string_view bytes, encoding enc, std::string* error) {
  dom_.reset();
  if (enc == encoding::msgpack && read_msgpack(bytes))
    return true;
  auto value = decode(bytes, enc, error);
  if (!value)
    return false;
  assign(std::move(*value));
  return true;
}

} // namespace tidings::net
