#pragma once
// The metrics a filter under test declares its stats in: one registry per test program, as a
// gateway process has one.

#include "costgate/metrics/metrics.h"

namespace costgate::test_data {

inline metrics::Metrics& testMetrics() {
  static metrics::Metrics metrics;
  return metrics;
}

}  // namespace costgate::test_data
