#pragma once
// latency_histogram: a log-linear histogram of non-negative integers (HdrHistogram-style).
//
// Values below 128 each have a bucket of their own; above, every power of two is split into 64
// equal buckets, so a bucket's width is at most 1/64 of its lower bound: a percentile read back
// is at most 1.6 % above the true value (never below it) and `max` is exact. The bucket array
// grows on demand up to 3,776 buckets (the whole uint64 range), so memory stays small whatever
// is recorded. Recording is O(1). Not thread-safe: one owner records, others get copies.

#include <cstddef>
#include <cstdint>
#include <vector>

#include <nlohmann/json.hpp>

namespace tidings::bots {

class latency_histogram {
public:
  /// Values below this have exact buckets.
  static constexpr uint64_t exact_below = 128;
  /// Buckets per power of two above `exact_below`.
  static constexpr uint64_t sub_buckets = 64;
  /// Buckets covering the whole uint64 range.
  static constexpr std::size_t bucket_count = exact_below + (64 - 7) * sub_buckets;

  /// One bucket: the values in [lower, upper] and how many were recorded.
  struct bucket {
    uint64_t lower;
    uint64_t upper;
    uint64_t count;
  };

  void record(uint64_t value, uint64_t times = 1);
  /// Adds every value recorded in `other`.
  void merge(const latency_histogram& other);

  uint64_t count() const { return count_; }
  uint64_t min() const { return count_ == 0 ? 0 : min_; }
  uint64_t max() const { return max_; }
  double mean() const;

  /// The smallest recorded bucket bound v such that at least `q` (0..1] of all values are <= v:
  /// the upper bound of the bucket holding the value of rank ceil(q * count), clamped to max().
  /// 0 when empty.
  uint64_t percentile(double q) const;

  /// Buckets with a non-zero count, in increasing order.
  std::vector<bucket> buckets() const;

  /// {"count","min","max","mean","p50","p90","p99","p999","buckets":[[lower,upper,count],...]}
  /// with values divided by `unit` (e.g. 1000 to report microseconds as milliseconds).
  nlohmann::json to_json(double unit = 1.0) const;

  /// The index of the bucket holding `value`, and the bounds of bucket `index`.
  static std::size_t index_of(uint64_t value);
  static uint64_t lower_bound(std::size_t index);
  static uint64_t upper_bound(std::size_t index);

private:
  std::vector<uint64_t> counts_;
  uint64_t count_ = 0;
  uint64_t min_ = 0;
  uint64_t max_ = 0;
  long double sum_ = 0;
};

} // namespace tidings::bots
