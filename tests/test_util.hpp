// SPDX-License-Identifier: Apache-2.0
// Helpers shared by the unit tests (never by the library).
#pragma once

#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>
#include <vector>

#include "ipsec/bytes/bytes.hpp"

namespace ipsec::test {

using Bytes = std::vector<uint8_t>;

// from_hex: decode hex text; spaces, newlines and colons are ignored so that
// vectors can be pasted as the RFCs print them. Aborts on a bad digit (a
// broken test vector is a bug in the test).
inline Bytes from_hex(std::string_view hex) {
  Bytes out;
  int hi = -1;
  for (char c : hex) {
    int v;
    if (c >= '0' && c <= '9')
      v = c - '0';
    else if (c >= 'a' && c <= 'f')
      v = c - 'a' + 10;
    else if (c >= 'A' && c <= 'F')
      v = c - 'A' + 10;
    else if (c == ' ' || c == '\n' || c == '\t' || c == ':' || c == '\r')
      continue;
    else
      __builtin_trap();
    if (hi < 0) {
      hi = v;
    } else {
      out.push_back(static_cast<uint8_t>((hi << 4) | v));
      hi = -1;
    }
  }
  if (hi >= 0) __builtin_trap();
  return out;
}

inline std::string to_hex(ByteView b) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string s;
  for (uint8_t x : b) {
    s.push_back(kHex[x >> 4]);
    s.push_back(kHex[x & 15]);
  }
  return s;
}

// read_file: the bytes of a test fixture under tests/data.
inline Bytes read_data_file(std::string_view name) {
  std::string path = std::string(IPSEC_TEST_DATA_DIR) + "/" + std::string(name);
  Bytes out;
  if (FILE* f = std::fopen(path.c_str(), "rb")) {
    uint8_t buf[4096];
    size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) out.insert(out.end(), buf, buf + n);
    std::fclose(f);
  }
  return out;
}

}  // namespace ipsec::test
