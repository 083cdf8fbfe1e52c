// The TransportError an action throws, for tests that check its message and whether it is
// transient; a test failure (and a placeholder error) when the action throws none.
#pragma once

#include <gtest/gtest.h>

#include <functional>

#include "transport/transport.hpp"

namespace vaxetl::test {

inline transport::TransportError error_of(const std::function<void()>& action) {
  try {
    action();
  } catch (const transport::TransportError& e) {
    return e;
  }
  ADD_FAILURE() << "expected a TransportError";
  return transport::TransportError("none", true);
}

}  // namespace vaxetl::test
