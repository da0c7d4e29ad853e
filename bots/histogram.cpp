#include "bots/histogram.hpp"

#include <algorithm>
#include <cmath>

namespace tidings::bots {

namespace {

constexpr int exact_bits = 7; // log2(exact_below)
constexpr int sub_bits = 6;   // log2(sub_buckets)

int msb(uint64_t v) {
  return 63 - __builtin_clzll(v);
}

} // namespace

static_assert(latency_histogram::exact_below == (1u << exact_bits));
static_assert(latency_histogram::sub_buckets == (1u << sub_bits));

std::size_t latency_histogram::index_of(uint64_t value) {
  if (value < exact_below)
    return static_cast<std::size_t>(value);
  int e = msb(value);                     // >= exact_bits
  uint64_t sub = value >> (e - sub_bits); // in [64, 128)
  return exact_below + static_cast<std::size_t>(e - exact_bits) * sub_buckets + (sub - sub_buckets);
}

uint64_t latency_histogram::lower_bound(std::size_t index) {
  if (index < exact_below)
    return index;
  auto rest = index - exact_below;
  int e = exact_bits + static_cast<int>(rest / sub_buckets);
  uint64_t sub = sub_buckets + rest % sub_buckets;
  return sub << (e - sub_bits);
}

uint64_t latency_histogram::upper_bound(std::size_t index) {
  return index + 1 < bucket_count ? lower_bound(index + 1) - 1 : UINT64_MAX;
}

void latency_histogram::record(uint64_t value, uint64_t times) {
  if (times == 0)
    return;
  auto index = index_of(value);
  if (counts_.size() <= index)
    counts_.resize(index + 1, 0);
  counts_[index] += times;
  if (count_ == 0 || value < min_)
    min_ = value;
  max_ = std::max(max_, value);
  count_ += times;
  sum_ += static_cast<long double>(value) * times;
}

void latency_histogram::merge(const latency_histogram& other) {
  if (other.count_ == 0)
    return;
  if (counts_.size() < other.counts_.size())
    counts_.resize(other.counts_.size(), 0);
  for (std::size_t i = 0; i < other.counts_.size(); ++i)
    counts_[i] += other.counts_[i];
  min_ = count_ == 0 ? other.min_ : std::min(min_, other.min_);
  max_ = std::max(max_, other.max_);
  count_ += other.count_;
  sum_ += other.sum_;
}

double latency_histogram::mean() const {
  return count_ == 0 ? 0.0 : static_cast<double>(sum_ / count_);
}

uint64_t latency_histogram::percentile(double q) const {
  if (count_ == 0)
    return 0;
  q = std::clamp(q, 0.0, 1.0);
  auto rank = static_cast<uint64_t>(std::ceil(q * static_cast<double>(count_)));
  rank = std::clamp<uint64_t>(rank, 1, count_);
  uint64_t seen = 0;
  for (std::size_t i = 0; i < counts_.size(); ++i) {
    seen += counts_[i];
    if (seen >= rank)
      return std::min(upper_bound(i), max_);
  }
  return max_;
}

std::vector<latency_histogram::bucket> latency_histogram::buckets() const {
  std::vector<bucket> out;
  for (std::size_t i = 0; i < counts_.size(); ++i)
    if (counts_[i] != 0)
      out.push_back({lower_bound(i), upper_bound(i), counts_[i]});
  return out;
}

nlohmann::json latency_histogram::to_json(double unit) const {
  auto scaled = [unit](uint64_t v) { return static_cast<double>(v) / unit; };
  nlohmann::json bucket_list = nlohmann::json::array();
  for (const auto& b : buckets())
    bucket_list.push_back({scaled(b.lower), scaled(b.upper), b.count});
  return {{"count", count_},
          {"min", scaled(min())},
          {"max", scaled(max_)},
          {"mean", mean() / unit},
          {"p50", scaled(percentile(0.5))},
          {"p90", scaled(percentile(0.9))},
          {"p99", scaled(percentile(0.99))},
          {"p999", scaled(percentile(0.999))},
          {"buckets", std::move(bucket_list)}};
}

} // namespace tidings::bots
