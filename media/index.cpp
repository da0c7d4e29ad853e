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
