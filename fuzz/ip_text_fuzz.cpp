// SPDX-License-Identifier: Apache-2.0
// Fuzz target: address and prefix text (configuration files, traffic
// selectors typed by operators). Whatever parses must format to text that
// parses back to the same value.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "ipsec/core/ip.hpp"

using namespace ipsec;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  if (auto a = IpAddress::parse(text)) {
    const IpText t = a->to_text();
    auto back = IpAddress::parse(t.view());
    if (!back || !(*back == *a)) std::abort();
  }
  if (auto p = IpPrefix::parse(text)) {
    const IpText t = p->to_text();
    auto back = IpPrefix::parse(t.view());
    if (!back || !(*back == *p) || !p->contains(p->first()) || !p->contains(p->last())) std::abort();
  }
  return 0;
}
