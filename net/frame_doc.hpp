#pragma once
// A decoded client frame without a DOM: the values of one msgpack map (or JSON object) in one
// flat array, strings as views into the frame's bytes.
//
// A msgpack frame is read in one pass straight from its bytes: no msgpack-c zone, no json
// object, no copied string; the typed request structs (`net/frames.hpp`) are filled from these
// views. The rules are those of `net/codec.hpp` (a map at the top, string keys, valid UTF-8 in
// keys and strings, no ext, nesting and sizes bounded): a frame this reader does not take (an
// error, or a shape it leaves to the general decoder, such as deep nesting) goes through
// `net::decode`, so every refusal keeps its exact message and every frame `decode` accepts is
// accepted. JSON frames are decoded by `net::decode` and viewed through the same interface.
// As in the json DOM, a key given twice means its last value.
//
// Pure; nothing throws. A `value_ref` is valid while its `frame_doc` lives and is not moved.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <boost/container/small_vector.hpp>

#include "net/codec.hpp"

namespace tidings::net {

class frame_doc;

/// One value of a frame.
class value_ref {
public:
  enum class kind : uint8_t { null, boolean, uint, nint, real, str, bin, array, map };

  value_ref(const frame_doc* doc, uint32_t index) : doc_(doc), index_(index) {}

  kind type() const;
  bool is_null() const { return type() == kind::null; }
  bool is_bool() const { return type() == kind::boolean; }
  bool is_string() const { return type() == kind::str; }
  bool is_binary() const { return type() == kind::bin; }
  bool is_array() const { return type() == kind::array; }
  bool is_map() const { return type() == kind::map; }
  /// An integer >= 0 (msgpack positive, or JSON `-0`).
  bool is_unsigned() const;

  bool boolean() const;
  /// The value of an is_unsigned() integer.
  uint64_t unsigned_value() const;
  /// The text of a string, the bytes of a binary value.
  std::string_view str() const;
  /// Elements of an array, pairs of a map.
  uint32_t size() const;
  /// The first element of a non-empty array.
  value_ref first() const { return {doc_, index_ + 1}; }
  /// The value after this one in its array.
  value_ref next() const;
  /// The last value of `key` in a map; nullopt if absent (or not a map).
  std::optional<value_ref> find(std::string_view key) const;

private:
  const frame_doc* doc_;
  uint32_t index_;
};

class frame_doc {
public:
  frame_doc() = default;
  frame_doc(const frame_doc&) = delete;
  frame_doc& operator=(const frame_doc&) = delete;

  /// Decodes one frame into an object; false and a reason in `error` (net::decode's) if not.
  bool parse(std::string_view bytes, encoding enc, std::string* error);
  /// Views an already decoded value (kept inside the doc).
  void assign(json value);

  value_ref root() const { return {this, 0}; }

private:
  friend class value_ref;
  struct node {
    value_ref::kind k = value_ref::kind::null;
    uint32_t size = 0; ///< elements of an array, pairs of a map
    uint32_t next = 0; ///< index just past this value and everything inside it
    union {
      bool b;
      uint64_t u;
      int64_t i;
      double d;
    };
    std::string_view s; ///< a string's text or a binary value's bytes (also map keys)
    node() : u(0) {}
  };

  bool read_msgpack(std::string_view bytes);
  void add_json(const json& value);

  boost::container::small_vector<node, 24> nodes_;
  std::optional<json> dom_; ///< the decoded value, when the frame went through net::decode
};

} // namespace tidings::net
