#include <doctest/doctest.h>
#include "ipsec/ipsec.hpp"
TEST_CASE("umbrella header compiles") { CHECK(ipsec::to_string(ipsec::Errc::ok) == "ok"); }
