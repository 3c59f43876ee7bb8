#include "engine/os/time_zone.h"

#include <stdlib.h>

#include <string>

#include "gtest/gtest.h"

namespace rackboot::os {
namespace {

TEST(PinTimeZoneTest, SetsTzOnlyWhenUnset) {
  unsetenv("TZ");
  PinTimeZone();
  ASSERT_NE(getenv("TZ"), nullptr);
  EXPECT_EQ(std::string(getenv("TZ")), ":/etc/localtime");
  setenv("TZ", "UTC", 1);
  PinTimeZone();
  EXPECT_EQ(std::string(getenv("TZ")), "UTC");
}

}  // namespace
}  // namespace rackboot::os
