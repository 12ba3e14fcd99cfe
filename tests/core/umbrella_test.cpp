// SPDX-License-Identifier: Apache-2.0
// The umbrella header is self-contained.
#include "ipsec/ipsec.hpp"

#include <doctest/doctest.h>

TEST_CASE("umbrella header exposes the core types") {
  CHECK(ipsec::to_string(ipsec::Errc::ok) == "ok");
  CHECK(ipsec::crypto::to_string(ipsec::crypto::EncrId::aes_gcm_16) == "ENCR_AES_GCM_16");
}
