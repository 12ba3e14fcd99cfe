// SPDX-License-Identifier: Apache-2.0
// IPv4 and IPv6 addresses and prefixes: values with text parse/format.
// Text forms: dotted quad (no leading zeros, which some parsers read as
// octal), RFC 4291 section 2.2 for IPv6 on input, RFC 5952 canonical form on
// output. Header views over packets are in wire/ip_header.hpp.
#pragma once

#include <algorithm>
#include <array>
#include <compare>
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "ipsec/bytes/bytes.hpp"
#include "ipsec/core/result.hpp"

namespace ipsec {

enum class IpFamily : uint8_t { v4 = 4, v6 = 6 };

// IpText: formatted address or prefix, inline storage, no allocation.
struct IpText {
  std::array<char, 64> chars{};
  size_t length = 0;
  [[nodiscard]] std::string_view view() const noexcept { return {chars.data(), length}; }
  void append(std::string_view s) noexcept {
    for (char c : s) {
      if (length < chars.size()) chars[length++] = c;
    }
  }
  void append_decimal(unsigned v) noexcept {
    char digits[10];
    size_t n = 0;
    do {
      digits[n++] = static_cast<char>('0' + v % 10);
      v /= 10;
    } while (v != 0);
    while (n > 0) append(std::string_view(&digits[--n], 1));
  }
  void append_hex16(unsigned v) noexcept {
    static constexpr char kHex[] = "0123456789abcdef";
    bool started = false;
    for (int shift = 12; shift >= 0; shift -= 4) {
      const unsigned nibble = (v >> shift) & 0xfu;
      if (nibble != 0 || started || shift == 0) {
        append(std::string_view(&kHex[nibble], 1));
        started = true;
      }
    }
  }
};

class IpAddress {
 public:
  static constexpr size_t kV4Size = 4;
  static constexpr size_t kV6Size = 16;

  // The default address is 0.0.0.0.
  constexpr IpAddress() noexcept = default;

  [[nodiscard]] static constexpr IpAddress v4(std::array<uint8_t, 4> b) noexcept {
    IpAddress a;
    a.family_ = IpFamily::v4;
    std::copy(b.begin(), b.end(), a.bytes_.begin());
    return a;
  }
  [[nodiscard]] static constexpr IpAddress v6(std::array<uint8_t, 16> b) noexcept {
    IpAddress a;
    a.family_ = IpFamily::v6;
    a.bytes_ = b;
    return a;
  }
  // from_bytes: 4 bytes are IPv4, 16 are IPv6; anything else invalid_length.
  [[nodiscard]] static Result<IpAddress> from_bytes(ByteView b) noexcept {
    IpAddress a;
    if (b.size() == kV4Size) {
      a.family_ = IpFamily::v4;
    } else if (b.size() == kV6Size) {
      a.family_ = IpFamily::v6;
    } else {
      return Errc::invalid_length;
    }
    std::copy(b.begin(), b.end(), a.bytes_.begin());
    return a;
  }
  // parse: dotted quad or RFC 4291 IPv6 text (incl. "::" and an embedded
  // dotted quad). parse_error (offset = the character) otherwise; zone
  // identifiers ("%eth0") are not addresses and are rejected.
  [[nodiscard]] static Result<IpAddress> parse(std::string_view text) noexcept;

  [[nodiscard]] constexpr IpFamily family() const noexcept { return family_; }
  [[nodiscard]] constexpr bool is_v4() const noexcept { return family_ == IpFamily::v4; }
  [[nodiscard]] constexpr bool is_v6() const noexcept { return family_ == IpFamily::v6; }
  [[nodiscard]] constexpr size_t size() const noexcept { return is_v4() ? kV4Size : kV6Size; }
  // bytes: network order, 4 or 16 bytes, a view into this object (so not
  // available on a temporary, whose view would dangle).
  [[nodiscard]] ByteView bytes() const& noexcept { return ByteView(bytes_).first(size()); }
  ByteView bytes() const&& = delete;
  [[nodiscard]] constexpr uint8_t byte(size_t i) const noexcept { return bytes_[i]; }
  // format: RFC 5952 canonical text for IPv6, dotted quad for IPv4.
  [[nodiscard]] IpText to_text() const noexcept;

  // masked: the address with all bits after the first `prefix_length` zero
  // (prefix_length is clamped to the address size).
  [[nodiscard]] constexpr IpAddress masked(unsigned prefix_length) const noexcept {
    IpAddress a = *this;
    for (size_t i = 0; i < size(); ++i) {
      const unsigned bit = static_cast<unsigned>(i) * 8;
      if (prefix_length <= bit) {
        a.bytes_[i] = 0;
      } else if (prefix_length < bit + 8) {
        a.bytes_[i] = static_cast<uint8_t>(a.bytes_[i] & (0xffu << (bit + 8 - prefix_length)));
      }
    }
    return a;
  }
  // with_host_bits_set: the last address of the prefix of that length.
  [[nodiscard]] constexpr IpAddress with_host_bits_set(unsigned prefix_length) const noexcept {
    IpAddress a = *this;
    for (size_t i = 0; i < size(); ++i) {
      const unsigned bit = static_cast<unsigned>(i) * 8;
      if (prefix_length <= bit) {
        a.bytes_[i] = 0xff;
      } else if (prefix_length < bit + 8) {
        a.bytes_[i] = static_cast<uint8_t>(a.bytes_[i] | (0xffu >> (prefix_length - bit)));
      }
    }
    return a;
  }

  // Ordering: IPv4 before IPv6, then numerically (byte-wise big-endian).
  friend constexpr bool operator==(const IpAddress&, const IpAddress&) noexcept = default;
  friend constexpr std::strong_ordering operator<=>(const IpAddress& a, const IpAddress& b) noexcept {
    if (auto c = a.family_ <=> b.family_; c != 0) return c;
    for (size_t i = 0; i < a.size(); ++i) {
      if (auto c = a.bytes_[i] <=> b.bytes_[i]; c != 0) return c;
    }
    return std::strong_ordering::equal;
  }

 private:
  IpFamily family_ = IpFamily::v4;
  std::array<uint8_t, 16> bytes_{};  // IPv4 uses the first 4; the rest stay zero
};

// IpPrefix: an address and a prefix length, host bits always zero.
class IpPrefix {
 public:
  constexpr IpPrefix() noexcept = default;
  // make: the prefix containing `address` of that length (host bits are
  // cleared); invalid_argument when the length exceeds 32 / 128.
  [[nodiscard]] static Result<IpPrefix> make(const IpAddress& address, unsigned length) noexcept {
    if (length > address.size() * 8) return Errc::invalid_argument;
    IpPrefix p;
    p.address_ = address.masked(length);
    p.length_ = static_cast<uint8_t>(length);
    return p;
  }
  // parse: "address/length", or a bare address as a host prefix (/32, /128).
  // Host bits after the length are cleared, as route and selector syntax
  // ("10.1.1.1/24") customarily allows.
  [[nodiscard]] static Result<IpPrefix> parse(std::string_view text) noexcept;

  [[nodiscard]] constexpr const IpAddress& address() const noexcept { return address_; }
  [[nodiscard]] constexpr unsigned length() const noexcept { return length_; }
  [[nodiscard]] constexpr IpFamily family() const noexcept { return address_.family(); }
  [[nodiscard]] constexpr IpAddress first() const noexcept { return address_; }
  [[nodiscard]] constexpr IpAddress last() const noexcept { return address_.with_host_bits_set(length_); }
  [[nodiscard]] constexpr bool contains(const IpAddress& a) const noexcept {
    return a.family() == family() && a.masked(length_) == address_;
  }
  [[nodiscard]] IpText to_text() const noexcept {
    IpText t = address_.to_text();
    t.append("/");
    t.append_decimal(length_);
    return t;
  }
  friend constexpr bool operator==(const IpPrefix&, const IpPrefix&) noexcept = default;

 private:
  IpAddress address_;
  uint8_t length_ = 0;
};

// ---- implementation -------------------------------------------------------

namespace detail {

// Parses a dotted quad at the start of `text` (the whole of it); base is the
// offset of text within the caller's string, for error positions.
[[nodiscard]] inline Status parse_dotted_quad(std::string_view text, size_t base,
                                              std::array<uint8_t, 4>* out) noexcept {
  size_t i = 0;
  for (size_t part = 0; part < 4; ++part) {
    if (part > 0) {
      if (i >= text.size() || text[i] != '.') {
        return Status(Errc::parse_error, static_cast<uint32_t>(base + i), "ipv4 separator");
      }
      ++i;
    }
    const size_t start = i;
    unsigned value = 0;
    while (i < text.size() && text[i] >= '0' && text[i] <= '9' && i - start < 3) {
      value = value * 10 + static_cast<unsigned>(text[i] - '0');
      ++i;
    }
    const size_t digits = i - start;
    if (digits == 0 || value > 255 || (digits > 1 && text[start] == '0')) {
      return Status(Errc::parse_error, static_cast<uint32_t>(base + start), "ipv4 octet");
    }
    (*out)[part] = static_cast<uint8_t>(value);
  }
  if (i != text.size()) {
    return Status(Errc::parse_error, static_cast<uint32_t>(base + i), "ipv4 address");
  }
  return Status::success();
}

[[nodiscard]] inline int hex_value(char c) noexcept {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// RFC 4291 section 2.2 text forms 1-3.
[[nodiscard]] inline Status parse_ipv6(std::string_view text, std::array<uint8_t, 16>* out) noexcept {
  std::array<uint16_t, 8> groups{};
  size_t count = 0;  // groups written
  int gap_at = -1;   // group index where "::" stands
  size_t i = 0;
  auto fail = [](size_t at, const char* what) {
    return Status(Errc::parse_error, static_cast<uint32_t>(at), what);
  };
  if (text.size() >= 2 && text[0] == ':' && text[1] == ':') {
    gap_at = 0;
    i = 2;
  } else if (!text.empty() && text[0] == ':') {
    return fail(0, "ipv6 leading colon");
  }
  while (i < text.size()) {
    // A dotted quad may stand for the last two groups.
    const size_t next_sep = text.find(':', i);
    const std::string_view token =
        text.substr(i, next_sep == std::string_view::npos ? std::string_view::npos : next_sep - i);
    if (next_sep == std::string_view::npos && token.find('.') != std::string_view::npos) {
      if (count > 6) return fail(i, "ipv6 embedded ipv4");
      std::array<uint8_t, 4> quad{};
      IPSEC_TRY(parse_dotted_quad(token, i, &quad));
      groups[count++] = static_cast<uint16_t>((quad[0] << 8) | quad[1]);
      groups[count++] = static_cast<uint16_t>((quad[2] << 8) | quad[3]);
      i = text.size();
      break;
    }
    if (token.empty() || token.size() > 4) return fail(i, "ipv6 group");
    if (count >= 8) return fail(i, "ipv6 too many groups");
    unsigned value = 0;
    for (size_t k = 0; k < token.size(); ++k) {
      const int h = hex_value(token[k]);
      if (h < 0) return fail(i + k, "ipv6 hex digit");
      value = (value << 4) | static_cast<unsigned>(h);
    }
    groups[count++] = static_cast<uint16_t>(value);
    i += token.size();
    if (i == text.size()) break;
    // At a ':'; "::" marks the gap (once).
    if (i + 1 < text.size() && text[i + 1] == ':') {
      if (gap_at >= 0) return fail(i, "ipv6 second '::'");
      gap_at = static_cast<int>(count);
      i += 2;
    } else {
      ++i;
      if (i == text.size()) return fail(i - 1, "ipv6 trailing colon");
    }
  }
  if (gap_at < 0 && count != 8) return fail(text.size(), "ipv6 group count");
  if (gap_at >= 0 && count > 7) return fail(text.size(), "ipv6 group count");
  std::array<uint16_t, 8> full{};
  if (gap_at < 0) {
    full = groups;
  } else {
    const size_t g = static_cast<size_t>(gap_at);
    const size_t tail = count - g;
    for (size_t k = 0; k < g; ++k) full[k] = groups[k];
    for (size_t k = 0; k < tail; ++k) full[8 - tail + k] = groups[g + k];
  }
  for (size_t k = 0; k < 8; ++k) {
    (*out)[2 * k] = static_cast<uint8_t>(full[k] >> 8);
    (*out)[2 * k + 1] = static_cast<uint8_t>(full[k]);
  }
  return Status::success();
}

}  // namespace detail

inline Result<IpAddress> IpAddress::parse(std::string_view text) noexcept {
  if (text.find(':') != std::string_view::npos) {
    std::array<uint8_t, 16> b{};
    IPSEC_TRY(detail::parse_ipv6(text, &b));
    return IpAddress::v6(b);
  }
  std::array<uint8_t, 4> b{};
  IPSEC_TRY(detail::parse_dotted_quad(text, 0, &b));
  return IpAddress::v4(b);
}

inline IpText IpAddress::to_text() const noexcept {
  IpText t;
  if (is_v4()) {
    for (size_t i = 0; i < 4; ++i) {
      if (i > 0) t.append(".");
      t.append_decimal(bytes_[i]);
    }
    return t;
  }
  std::array<unsigned, 8> g{};
  for (size_t k = 0; k < 8; ++k) g[k] = (unsigned{bytes_[2 * k]} << 8) | bytes_[2 * k + 1];
  // RFC 5952 section 5: IPv4-mapped addresses keep the dotted quad.
  if (g[0] == 0 && g[1] == 0 && g[2] == 0 && g[3] == 0 && g[4] == 0 && g[5] == 0xffff) {
    t.append("::ffff:");
    for (size_t i = 12; i < 16; ++i) {
      if (i > 12) t.append(".");
      t.append_decimal(bytes_[i]);
    }
    return t;
  }
  // RFC 5952 section 4.2: "::" replaces the longest run of two or more zero
  // groups, the first one on a tie.
  size_t best_start = 8, best_len = 0;
  for (size_t k = 0; k < 8;) {
    if (g[k] != 0) {
      ++k;
      continue;
    }
    size_t run = 0;
    while (k + run < 8 && g[k + run] == 0) ++run;
    if (run >= 2 && run > best_len) {
      best_start = k;
      best_len = run;
    }
    k += run;
  }
  for (size_t k = 0; k < 8; ++k) {
    if (k == best_start) {
      t.append("::");
      k += best_len - 1;
      continue;
    }
    if (k > 0 && k != best_start + best_len) t.append(":");
    t.append_hex16(g[k]);
  }
  return t;
}

inline Result<IpPrefix> IpPrefix::parse(std::string_view text) noexcept {
  const size_t slash = text.find('/');
  auto address = IpAddress::parse(text.substr(0, slash));
  if (!address) return address.status();
  if (slash == std::string_view::npos)
    return IpPrefix::make(*address, static_cast<unsigned>(address->size() * 8));
  const std::string_view digits = text.substr(slash + 1);
  unsigned length = 0;
  if (digits.empty() || digits.size() > 3 || (digits.size() > 1 && digits[0] == '0')) {
    return Status(Errc::parse_error, static_cast<uint32_t>(slash + 1), "prefix length");
  }
  for (size_t k = 0; k < digits.size(); ++k) {
    if (digits[k] < '0' || digits[k] > '9') {
      return Status(Errc::parse_error, static_cast<uint32_t>(slash + 1 + k), "prefix length");
    }
    length = length * 10 + static_cast<unsigned>(digits[k] - '0');
  }
  if (length > address->size() * 8) {
    return Status(Errc::parse_error, static_cast<uint32_t>(slash + 1), "prefix length");
  }
  return IpPrefix::make(*address, length);
}

}  // namespace ipsec
