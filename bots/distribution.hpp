#pragma once
// distribution: a random quantity of a scenario (think time, message size, offline time).
//
// Plain data plus one pure function: sampling uses the caller's generator, so a bot's choices
// are reproducible from the scenario's seed. Samples are never negative.

#include <cstdint>
#include <random>
#include <string>

namespace tidings::bots {

struct distribution {
  enum class kind : uint8_t { constant, uniform, exponential, normal };

  kind shape = kind::constant;
  double a = 0; ///< constant: the value; uniform: min; exponential and normal: mean
  double b = 0; ///< uniform: max; normal: standard deviation
  /// Upper clamp of every sample (exponential and normal tails); <= 0 means none.
  double cap = 0;

  static distribution constant(double value) { return {kind::constant, value, 0, 0}; }
  static distribution uniform(double min, double max) { return {kind::uniform, min, max, 0}; }
  static distribution exponential(double mean, double cap = 0) {
    return {kind::exponential, mean, 0, cap};
  }
  static distribution normal(double mean, double stddev) { return {kind::normal, mean, stddev, 0}; }

  /// One sample, at least 0 (and at most `cap` when set).
  double sample(std::mt19937_64& rng) const;
  /// The expected value (ignoring `cap` and the clamp at 0).
  double mean() const;
  /// A short human-readable form, e.g. "exponential(mean 1000)".
  std::string describe() const;
};

} // namespace tidings::bots
