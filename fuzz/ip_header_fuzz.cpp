// SPDX-License-Identifier: Apache-2.0
// Fuzz target: IPv4/IPv6 header parsing and the IPv6 extension-header walk
// (what ESP decapsulation and selector matching run on decrypted packets).
#include <cstdint>
#include <cstdlib>

#include "ipsec/wire/ip_header.hpp"

using namespace ipsec;
using namespace ipsec::wire;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const ByteView in(data, size);
  if (auto v4 = Ipv4Header::parse(in)) {
    // Views must lie inside the input and add up.
    if (v4->header.size() != v4->header_length ||
        v4->payload.size() + v4->header_length != v4->total_length || v4->total_length > size) {
      std::abort();
    }
    (void)v4->checksum_valid();
  }
  if (auto v6 = Ipv6Header::parse(in)) {
    if (v6->payload.size() != v6->payload_length || v6->payload.size() + Ipv6Header::kSize > size)
      std::abort();
    Ipv6ExtensionWalker walker(v6->next_header, v6->payload);
    Ipv6ExtensionHeader e;
    size_t end = 0;
    while (walker.next(&e)) {
      if (e.offset != end || e.length == 0) std::abort();
      end = e.offset + e.length;
    }
    if (end > v6->payload.size()) std::abort();
    if (walker.status().ok() && walker.upper_layer_offset() != end) std::abort();
  }
  return 0;
}
