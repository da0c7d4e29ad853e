#include "media/index.hpp"

#include "net/codec.hpp"

namespace tidings::media {

using net::json;

std::string encode(const record& r) {
  return net::encode(json{{"size", r.size},
                          {"mime", r.mime},
                          {"uploader", r.uploader},
                          {"created", r.created},
                          {"used", r.used}},
                     net::encoding::msgpack);
}

std::optional<record> decode_record(std::string_view bytes) {
  auto v = net::decode(bytes, net::encoding::msgpack, nullptr);
  if (!v)
    return std::nullopt;
  try {
    record r;
    r.size = v->at("size").get<uint64_t>();
    r.mime = v->at("mime").get<std::string>();
    r.uploader = v->at("uploader").get<std::string>();
    r.created = v->at("created").get<int64_t>();
    r.used = v->at("used").get<int64_t>();
    return r;
  } catch (const json::exception&) {
    return std::nullopt;
  }
}

std::optional<record> read_record(storage::db& db, std::string_view hash, bool* failed) {
  auto bytes = db.get(storage::table::media, hash);
  if (failed != nullptr)
    *failed = bytes.failed();
  if (!bytes.found())
    return std::nullopt;
  return decode_record(bytes.value());
}

std::string pair_key(std::string_view a, std::string_view b) {
  std::string key;
  key.reserve(a.size() + 1 + b.size());
  key.append(a);
  key += '\0';
  key.append(b);
  return key;
}

key_range prefix_range(std::string_view prefix) {
  std::string begin{prefix};
  begin += '\0';
  std::string end{prefix};
  end += '\x01';
  return {std::move(begin), std::move(end)};
}

bool any_with_prefix(storage::db& db, storage::table t, std::string_view prefix) {
  auto range = prefix_range(prefix);
  bool found = false;
  db.scan(t, range.begin, range.end, 1, [&](std::string_view, std::string_view) {
    found = true;
    return false;
  });
  return found;
}

} // namespace tidings::media
