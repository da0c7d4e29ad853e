#include "bots/distribution.hpp"

#include <algorithm>
#include <sstream>

namespace tidings::bots {

double distribution::sample(std::mt19937_64& rng) const {
  double v = 0;
  switch (shape) {
  case kind::constant:
    v = a;
    break;
  case kind::uniform:
    v = a == b ? a : std::uniform_real_distribution<double>{a, b}(rng);
    break;
  case kind::exponential:
    v = a <= 0 ? 0 : std::exponential_distribution<double>{1.0 / a}(rng);
    break;
  case kind::normal:
    v = b <= 0 ? a : std::normal_distribution<double>{a, b}(rng);
    break;
  }
  v = std::max(v, 0.0);
  return cap > 0 ? std::min(v, cap) : v;
}

double distribution::mean() const {
  switch (shape) {
  case kind::uniform:
    return (a + b) / 2;
  default:
    return a;
  }
}

std::string distribution::describe() const {
  std::ostringstream out;
  switch (shape) {
  case kind::constant:
    out << a;
    break;
  case kind::uniform:
    out << "uniform(" << a << ".." << b << ")";
    break;
  case kind::exponential:
    out << "exponential(mean " << a;
    if (cap > 0)
      out << ", max " << cap;
    out << ")";
    break;
  case kind::normal:
    out << "normal(mean " << a << ", stddev " << b << ")";
    break;
  }
  return out.str();
}

} // namespace tidings::bots
