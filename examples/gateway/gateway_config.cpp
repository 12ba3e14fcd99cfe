// SPDX-License-Identifier: Apache-2.0
// The gateway's configuration file parser (gateway_config.hpp). Hand-written
// and bounded: one pass over the lines, no recursion, every number parsed
// with overflow checks, every list capped; values are quoted in messages
// only truncated, and a pre-shared key never.
#include "gateway_config.hpp"

#include <algorithm>
#include <array>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <iterator>
#include <utility>

#include "ipsec/core/limits.hpp"
#include "ipsec/ike/proposal.hpp"
#include "ipsec/wire/ike_enums.hpp"

namespace gateway {

namespace {

using ipsec::Duration;

// Durations: at most ten years (so nanoseconds and rekey_time * 1.1 never
// overflow int64_t).
constexpr uint64_t kNsPerSecond = 1000000000;
constexpr uint64_t kMaxDurationNs = uint64_t{3650} * 86400 * kNsPerSecond;
constexpr double kMaxRetransmitBase = 100.0;
constexpr uint32_t kMaxRetransmitTries = 1000;
constexpr uint32_t kMinMtu = 576, kMaxMtu = 65535;
constexpr size_t kMaxTunName = 15;         // Linux IFNAMSIZ - 1
constexpr size_t kMaxConnectionName = 64;  // [A-Za-z0-9_.-]+
constexpr size_t kQuoteLimit = 48;         // characters of a value shown in a message

// ---- text helpers ------------------------------------------------------

bool is_space(char c) { return c == ' ' || c == '\t'; }
bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_key_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || is_digit(c) || c == '_';
}
bool is_name_char(char c) { return is_key_char(c) || c == '.' || c == '-'; }

std::string_view trim(std::string_view s) {
  while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
  return s;
}

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// decode_hex: pairs of hex digits, at least one.
bool decode_hex(std::string_view text, std::string* out) {
  if (text.empty() || text.size() % 2 != 0) return false;
  std::string bytes;
  bytes.reserve(text.size() / 2);
  for (size_t i = 0; i < text.size(); i += 2) {
    const int hi = hex_digit(text[i]), lo = hex_digit(text[i + 1]);
    if (hi < 0 || lo < 0) return false;
    bytes.push_back(static_cast<char>((hi << 4) | lo));
  }
  *out = std::move(bytes);
  return true;
}

// quoted: a value for a message, in double quotes, cut after kQuoteLimit
// characters (control characters never get this far: lines holding them
// are refused first).
std::string quoted(std::string_view v) {
  std::string s = "\"";
  s.append(v.substr(0, kQuoteLimit));
  if (v.size() > kQuoteLimit) s.append("...");
  s.push_back('"');
  return s;
}

bool starts_with(std::string_view s, std::string_view prefix) { return s.substr(0, prefix.size()) == prefix; }

// ---- numbers -----------------------------------------------------------

// parse_whole: decimal digits only, at most `max`.
bool parse_whole(std::string_view s, uint64_t max, uint64_t* out) {
  if (s.empty() || s.size() > 20) return false;
  uint64_t v = 0;
  for (char c : s) {
    if (!is_digit(c)) return false;
    const auto d = static_cast<uint64_t>(c - '0');
    if (v > (max - d) / 10) return false;
    v = v * 10 + d;
  }
  *out = v;
  return true;
}

// Decimal: digits, optionally '.' and up to 9 more digits; no sign, no
// exponent (strtod would also take "inf", "0x1p3" and the locale's comma).
struct Decimal {
  uint64_t whole = 0;
  uint64_t fraction = 0;  // the digits after '.' as an integer
  uint64_t scale = 1;     // 10^(number of those digits)
  [[nodiscard]] double value() const {
    return static_cast<double>(whole) + static_cast<double>(fraction) / static_cast<double>(scale);
  }
};

bool parse_decimal(std::string_view s, Decimal* out) {
  const size_t dot = s.find('.');
  const std::string_view whole = s.substr(0, dot);
  const std::string_view frac = dot == std::string_view::npos ? std::string_view() : s.substr(dot + 1);
  if (whole.empty() && frac.empty()) return false;
  if (dot != std::string_view::npos && frac.empty()) return false;  // "5."
  Decimal d;
  if (!whole.empty() && !parse_whole(whole, uint64_t{999999999999999}, &d.whole)) return false;
  if (frac.size() > 9) return false;
  for (char c : frac) {
    if (!is_digit(c)) return false;
    d.fraction = d.fraction * 10 + static_cast<uint64_t>(c - '0');
    d.scale *= 10;
  }
  *out = d;
  return true;
}

enum class DurationError : uint8_t { none, syntax, too_long };

DurationError parse_duration(std::string_view s, Duration* out) {
  size_t n = 0;
  while (n < s.size() && (is_digit(s[n]) || s[n] == '.')) ++n;
  const std::string_view suffix = s.substr(n);
  uint64_t unit = 0;
  if (suffix.empty() || suffix == "s") {
    unit = kNsPerSecond;
  } else if (suffix == "ms") {
    unit = kNsPerSecond / 1000;
  } else if (suffix == "m") {
    unit = 60 * kNsPerSecond;
  } else if (suffix == "h") {
    unit = 3600 * kNsPerSecond;
  } else if (suffix == "d") {
    unit = 86400 * kNsPerSecond;
  } else {
    return DurationError::syntax;
  }
  Decimal d;
  if (!parse_decimal(s.substr(0, n), &d)) return DurationError::syntax;
  if (d.whole > kMaxDurationNs / unit) return DurationError::too_long;
  // The fraction of one unit (under 8.64e13 ns) is exact enough in a double.
  const auto part = static_cast<uint64_t>(std::llround(
      static_cast<double>(d.fraction) * static_cast<double>(unit) / static_cast<double>(d.scale)));
  const uint64_t ns = d.whole * unit + part;
  if (ns > kMaxDurationNs) return DurationError::too_long;
  *out = Duration(static_cast<int64_t>(ns));
  return DurationError::none;
}

// parse_count: a whole number with an optional k, M or G (x1000, decimal).
bool parse_count(std::string_view s, uint64_t* out) {
  uint64_t factor = 1;
  if (!s.empty()) {
    switch (s.back()) {
      case 'k':
      case 'K': factor = 1000; break;
      case 'M': factor = 1000000; break;
      case 'G': factor = 1000000000; break;
      default: break;
    }
    if (factor != 1) s.remove_suffix(1);
  }
  uint64_t v = 0;
  if (!parse_whole(s, UINT64_MAX, &v) || v > UINT64_MAX / factor) return false;
  *out = v * factor;
  return true;
}

// ---- distinguished names -------------------------------------------------

struct DnAttribute {
  std::string_view name;
  std::array<uint8_t, 10> oid;  // DER contents of the OBJECT IDENTIFIER
  size_t oid_size;
  uint8_t string_tag;  // 0x0c UTF8String, 0x13 PrintableString, 0x16 IA5String
};

constexpr uint8_t kUtf8 = 0x0c, kPrintable = 0x13, kIa5 = 0x16;

// The attribute types of strongSwan's DN text (and OpenSSL's string
// types for them: PrintableString for C and serialNumber, IA5String for
// emailAddress and DC, UTF8String otherwise).
constexpr DnAttribute kDnAttributes[] = {
    {"CN", {0x55, 0x04, 0x03}, 3, kUtf8},
    {"SN", {0x55, 0x04, 0x04}, 3, kUtf8},
    {"serialNumber", {0x55, 0x04, 0x05}, 3, kPrintable},
    {"C", {0x55, 0x04, 0x06}, 3, kPrintable},
    {"L", {0x55, 0x04, 0x07}, 3, kUtf8},
    {"ST", {0x55, 0x04, 0x08}, 3, kUtf8},
    {"S", {0x55, 0x04, 0x08}, 3, kUtf8},
    {"O", {0x55, 0x04, 0x0a}, 3, kUtf8},
    {"OU", {0x55, 0x04, 0x0b}, 3, kUtf8},
    {"T", {0x55, 0x04, 0x0c}, 3, kUtf8},
    {"GN", {0x55, 0x04, 0x2a}, 3, kUtf8},
    {"G", {0x55, 0x04, 0x2a}, 3, kUtf8},
    {"UID", {0x09, 0x92, 0x26, 0x89, 0x93, 0xf2, 0x2c, 0x64, 0x01, 0x01}, 10, kUtf8},
    {"DC", {0x09, 0x92, 0x26, 0x89, 0x93, 0xf2, 0x2c, 0x64, 0x01, 0x19}, 10, kIa5},
    {"E", {0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x01}, 9, kIa5},
    {"emailAddress", {0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x01}, 9, kIa5},
};

bool iequal(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    const auto lower = [](char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; };
    if (lower(a[i]) != lower(b[i])) return false;
  }
  return true;
}

bool is_printable_string_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || is_digit(c) ||
         std::string_view(" '()+,-./:=?").find(c) != std::string_view::npos;
}

void append_der(std::vector<uint8_t>* out, uint8_t tag, const std::vector<uint8_t>& contents) {
  out->push_back(tag);
  const size_t n = contents.size();
  if (n < 0x80) {
    out->push_back(static_cast<uint8_t>(n));
  } else if (n <= 0xff) {
    out->push_back(0x81);
    out->push_back(static_cast<uint8_t>(n));
  } else {  // callers keep every element under 64 KiB
    out->push_back(0x82);
    out->push_back(static_cast<uint8_t>(n >> 8));
    out->push_back(static_cast<uint8_t>(n));
  }
  out->insert(out->end(), contents.begin(), contents.end());
}

// dn_from_text: "C=CH, O=Example, CN=gw" (RDNs in DER order, one attribute
// each; '\' escapes the next character) as a DER Name. Errors carry the
// character offset.
ipsec::Result<std::vector<uint8_t>> dn_from_text(std::string_view text) {
  using ipsec::Errc;
  using ipsec::Status;
  std::vector<uint8_t> rdns;
  size_t i = 0;
  while (true) {
    while (i < text.size() && is_space(text[i])) ++i;
    const size_t type_at = i;
    const size_t eq = text.find('=', i);
    if (eq == std::string_view::npos) return Status(Errc::parse_error, static_cast<uint32_t>(i), "dn =");
    const std::string_view type = trim(text.substr(i, eq - i));
    const DnAttribute* attr = nullptr;
    for (const DnAttribute& a : kDnAttributes) {
      if (iequal(a.name, type)) attr = &a;
    }
    if (attr == nullptr) return Status(Errc::parse_error, static_cast<uint32_t>(type_at), "dn attribute");
    i = eq + 1;
    while (i < text.size() && is_space(text[i])) ++i;
    const size_t value_at = i;
    std::vector<uint8_t> value;
    size_t kept = 0;  // value size without trailing unescaped spaces
    while (i < text.size() && text[i] != ',') {
      if (text[i] == '\\') {
        if (++i == text.size()) return Status(Errc::parse_error, static_cast<uint32_t>(i), "dn escape");
        value.push_back(static_cast<uint8_t>(text[i++]));
        kept = value.size();
        continue;
      }
      value.push_back(static_cast<uint8_t>(text[i]));
      if (!is_space(text[i])) kept = value.size();
      ++i;
    }
    value.resize(kept);
    if (value.empty()) return Status(Errc::parse_error, static_cast<uint32_t>(value_at), "dn value");
    if (value.size() > ipsec::limits::kMaxIdPatternSize)
      return Status(Errc::limit_exceeded, static_cast<uint32_t>(value_at), "dn value");
    for (uint8_t c : value) {
      const bool ok = attr->string_tag == kPrintable ? is_printable_string_char(static_cast<char>(c))
                      : attr->string_tag == kIa5     ? c < 0x80
                                                     : true;
      if (!ok) return Status(Errc::parse_error, static_cast<uint32_t>(value_at), "dn value characters");
    }
    std::vector<uint8_t> atv;
    append_der(&atv, 0x06, std::vector<uint8_t>(attr->oid.begin(), attr->oid.begin() + attr->oid_size));
    append_der(&atv, attr->string_tag, value);
    std::vector<uint8_t> seq;
    append_der(&seq, 0x30, atv);
    append_der(&rdns, 0x31, seq);
    if (rdns.size() > ipsec::limits::kMaxIdPatternSize)
      return Status(Errc::limit_exceeded, static_cast<uint32_t>(value_at), "dn length");
    if (i == text.size()) break;
    ++i;  // the ','
  }
  std::vector<uint8_t> name;
  append_der(&name, 0x30, rdns);
  return name;
}

// dn_der: the DER of a "dn:" body: a DN text when it holds '=', else hex.
ipsec::Result<std::vector<uint8_t>> dn_der(std::string_view body, uint32_t base) {
  if (body.find('=') != std::string_view::npos) {
    auto der = dn_from_text(body);
    if (!der) {
      const ipsec::Status s = der.status();
      return ipsec::Status(s.code(), base + (s.has_offset() ? s.offset() : 0), s.field());
    }
    return der;
  }
  std::string bytes;
  if (!decode_hex(body, &bytes) || bytes.size() > ipsec::limits::kMaxIdPatternSize)
    return ipsec::Status(ipsec::Errc::parse_error, base, "dn hex");
  return std::vector<uint8_t>(bytes.begin(), bytes.end());
}

ipsec::Result<ipsec::sa::IdPattern> rebased(ipsec::Result<ipsec::sa::IdPattern> p, size_t added) {
  if (p) return p;
  const ipsec::Status s = p.status();
  const uint32_t at = s.has_offset() && s.offset() >= added ? s.offset() - static_cast<uint32_t>(added) : 0;
  return ipsec::Status(s.code(), at, s.field());
}

}  // namespace

ipsec::Result<ipsec::ike::Identity> identity_of(std::string_view text) {
  if (starts_with(text, "dn:")) {
    auto der = dn_der(text.substr(3), 3);
    if (!der) return der.status();
    // IdPattern::dn checks that the octets are one DER Name.
    auto check = ipsec::sa::IdPattern::dn(ipsec::ByteView(der->data(), der->size()));
    if (!check) return ipsec::Status(check.error(), 3, "dn");
    return ipsec::ike::Identity::dn(ipsec::ByteView(der->data(), der->size()));
  }
  return ipsec::ike::Identity::parse(text);
}

ipsec::Result<ipsec::sa::IdPattern> id_pattern_of(std::string_view text) {
  using ipsec::sa::IdPattern;
  if (text == "%any") return IdPattern::any();
  for (std::string_view kind : {std::string_view("dn:"), std::string_view("dn-subtree:")}) {
    if (!starts_with(text, kind)) continue;
    const std::string_view body = text.substr(kind.size());
    if (body.find('=') == std::string_view::npos) return IdPattern::parse(text);  // hex DER
    auto der = dn_der(body, static_cast<uint32_t>(kind.size()));
    if (!der) return der.status();
    const ipsec::ByteView v(der->data(), der->size());
    auto p = kind == "dn:" ? IdPattern::dn(v) : IdPattern::dn_subtree(v);
    return rebased(std::move(p), 0);
  }
  for (std::string_view kind : {"fqdn:", "email:", "ip:", "keyid:"}) {
    if (starts_with(text, kind)) return IdPattern::parse(text);
  }
  if (text == "any" || text == "null") return IdPattern::parse(text);
  // Bare text, guessed as strongSwan does: an address (or prefix, or
  // range), an RFC 822 pattern when it holds '@', else a DNS name pattern.
  const size_t dash = text.find('-');
  const bool address = ipsec::IpPrefix::parse(text).ok() ||
                       (dash != std::string_view::npos && ipsec::IpAddress::parse(text.substr(0, dash)).ok());
  const std::string_view kind = address                                    ? "ip:"
                                : text.find('@') != std::string_view::npos ? "email:"
                                                                           : "fqdn:";
  std::string full(kind);
  full.append(text);
  return rebased(IdPattern::parse(full), kind.size());
}

namespace {

// ---- the file ----------------------------------------------------------

enum class GwKey : uint8_t {
  tun,
  mtu,
  routes,
  cert,
  key,
  cert_chain,
  ca,
  rsa_pss,
  key_export,
  retransmit_timeout,
  retransmit_base,
  retransmit_tries,
  log,
};
constexpr std::string_view kGwKeys[] = {"tun",
                                        "mtu",
                                        "routes",
                                        "cert",
                                        "key",
                                        "cert_chain",
                                        "ca",
                                        "rsa_pss",
                                        "key_export",
                                        "retransmit_timeout",
                                        "retransmit_base",
                                        "retransmit_tries",
                                        "log"};

enum class ConnKey : uint8_t {
  local_addrs,
  remote_addrs,
  local_id,
  remote_id,
  auth,
  psk,
  proposals,
  esp_proposals,
  local_ts,
  remote_ts,
  mode,
  start_action,
  rekey_time,
  life_time,
  rekey_bytes,
  life_bytes,
  rekey_packets,
  life_packets,
  rand_time,
  ike_rekey_time,
  reauth_time,
  dpd_delay,
  dpd_action,
};
constexpr std::string_view kConnKeys[] = {
    "local_addrs", "remote_addrs",   "local_id",    "remote_id",  "auth",          "psk",
    "proposals",   "esp_proposals",  "local_ts",    "remote_ts",  "mode",          "start_action",
    "rekey_time",  "life_time",      "rekey_bytes", "life_bytes", "rekey_packets", "life_packets",
    "rand_time",   "ike_rekey_time", "reauth_time", "dpd_delay",  "dpd_action",
};
constexpr size_t kGwKeyCount = std::size(kGwKeys);
constexpr size_t kConnKeyCount = std::size(kConnKeys);

template <size_t N>
std::optional<size_t> find_key(const std::string_view (&keys)[N], std::string_view key) {
  for (size_t i = 0; i < N; ++i) {
    if (keys[i] == key) return i;
  }
  return std::nullopt;
}

enum class Section : uint8_t { none, gateway, connection };

class Parser {
 public:
  explicit Parser(std::string& error) : error_(error) {}

  bool run(std::string_view text, GatewayConfig* out) {
    if (text.size() > kMaxConfigSize) {
      return fail(1, "the file is larger than " + std::to_string(kMaxConfigSize) + " bytes");
    }
    if (starts_with(text, "\xef\xbb\xbf")) text.remove_prefix(3);  // a UTF-8 byte order mark
    int number = 0;
    size_t at = 0;
    while (at < text.size()) {
      const size_t eol = text.find('\n', at);
      std::string_view line =
          text.substr(at, eol == std::string_view::npos ? std::string_view::npos : eol - at);
      at = eol == std::string_view::npos ? text.size() : eol + 1;
      ++number;
      if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
      if (!parse_line(number, line)) return false;
    }
    last_line_ = number == 0 ? 1 : number;
    if (!finish_connection()) return false;
    if (config_.connections.empty()) {
      return fail(last_line_, "no [connection NAME] section: a gateway needs at least one connection");
    }
    for (const ConnectionConfig& c : config_.connections) {
      if (c.auth != ConnectionConfig::Auth::pubkey) continue;
      std::string missing;
      auto need = [&](bool given, const char* what) {
        if (given) return;
        if (!missing.empty()) missing += ", ";
        missing += what;
      };
      need(!config_.cert.empty(), "cert");
      need(!config_.key.empty(), "key");
      need(!config_.ca.empty(), "ca");
      if (!missing.empty()) {
        return fail(c.line, "connection " + quoted(c.name) +
                                ": auth = pubkey needs cert, key and ca in [gateway] (missing: " + missing +
                                ")");
      }
    }
    *out = std::move(config_);
    return true;
  }

 private:
  bool fail(int line, const std::string& message) {
    error_ = std::to_string(line) + ": " + message;
    return false;
  }

  // ---- lines -----------------------------------------------------------

  bool parse_line(int number, std::string_view line) {
    for (char c : line) {
      const auto u = static_cast<unsigned char>(c);
      if ((u < 0x20 && c != '\t') || u == 0x7f) {
        char hex[8];
        std::snprintf(hex, sizeof hex, "0x%02x", u);
        return fail(number, std::string("control character ") + hex + " in the line");
      }
    }
    size_t i = 0;
    while (i < line.size() && is_space(line[i])) ++i;
    if (i == line.size() || line[i] == '#') return true;
    if (line[i] == '[') return parse_header(number, line.substr(i + 1));
    const size_t key_at = i;
    while (i < line.size() && is_key_char(line[i])) ++i;
    const std::string_view key = line.substr(key_at, i - key_at);
    if (key.empty()) {
      return fail(number, "expected \"key = value\", \"[gateway]\" or \"[connection NAME]\", not " +
                              quoted(line.substr(key_at)));
    }
    while (i < line.size() && is_space(line[i])) ++i;
    if (i == line.size() || line[i] != '=') {
      return fail(number, std::string(key) + ": expected \"=\" after the key (key = value)");
    }
    ++i;
    while (i < line.size() && is_space(line[i])) ++i;
    std::string value;
    if (i < line.size() && line[i] == '"') {
      ++i;
      bool closed = false;
      while (i < line.size()) {
        const char c = line[i++];
        if (c == '"') {
          closed = true;
          break;
        }
        if (c == '\\') {
          if (i == line.size()) break;
          const char e = line[i++];
          if (e != '"' && e != '\\') {
            return fail(number, std::string(key) + ": unknown escape \"\\" + std::string(1, e) +
                                    "\" in a quoted value (only \\\" and \\\\)");
          }
          value.push_back(e);
          continue;
        }
        value.push_back(c);
      }
      if (!closed) return fail(number, std::string(key) + ": missing closing quote");
      while (i < line.size() && is_space(line[i])) ++i;
      if (i < line.size() && line[i] != '#') {
        return fail(number, std::string(key) + ": text after the closing quote: " + quoted(line.substr(i)));
      }
    } else {
      const size_t hash = line.find('#', i);
      const std::string_view raw = trim(line.substr(i, hash == std::string_view::npos ? hash : hash - i));
      if (raw.empty()) return fail(number, std::string(key) + ": missing value");
      if (raw.find('"') != std::string_view::npos) {
        return fail(number, std::string(key) + ": a quote inside an unquoted value (quote the whole value)");
      }
      value.assign(raw);
    }
    switch (section_) {
      case Section::none:
        return fail(number,
                    std::string(key) + ": key outside a section (start with [gateway] or [connection NAME])");
      case Section::gateway: return gateway_key(number, key, value);
      case Section::connection: return connection_key(number, key, value);
    }
    return false;
  }

  bool parse_header(int number, std::string_view rest) {
    const size_t close = rest.find(']');
    if (close == std::string_view::npos) return fail(number, "missing \"]\" in the section header");
    const std::string_view after = trim(rest.substr(close + 1));
    if (!after.empty() && after.front() != '#') {
      return fail(number, "text after the section header: " + quoted(after));
    }
    const std::string_view inside = trim(rest.substr(0, close));
    size_t word_end = 0;
    while (word_end < inside.size() && !is_space(inside[word_end])) ++word_end;
    const std::string_view word = inside.substr(0, word_end);
    const std::string_view name = trim(inside.substr(word_end));
    if (!finish_connection()) return false;
    if (word == "gateway" && name.empty()) {
      if (gateway_line_ != 0) {
        return fail(number, "[gateway] given twice (first on line " + std::to_string(gateway_line_) + ")");
      }
      gateway_line_ = number;
      section_ = Section::gateway;
      return true;
    }
    if (word == "connection") {
      if (name.empty()) return fail(number, "[connection NAME]: the connection needs a name");
      for (char c : name) {
        if (!is_name_char(c)) {
          return fail(number, "connection name " + quoted(name) + ": only letters, digits, '_', '.' and '-'");
        }
      }
      if (name.size() > kMaxConnectionName) {
        return fail(number, "connection name " + quoted(name) + ": longer than " +
                                std::to_string(kMaxConnectionName) + " characters");
      }
      for (const ConnectionConfig& c : config_.connections) {
        if (c.name == name) {
          return fail(number,
                      "connection " + quoted(name) + " already defined on line " + std::to_string(c.line));
        }
      }
      if (config_.connections.size() >= kMaxConnections) {
        return fail(number, "more than " + std::to_string(kMaxConnections) + " connections");
      }
      conn_ = ConnectionConfig{};
      conn_.name = std::string(name);
      conn_.line = number;
      conn_seen_.fill(0);
      section_ = Section::connection;
      return true;
    }
    return fail(number, "unknown section [" + std::string(inside.substr(0, kQuoteLimit)) +
                            "] (expected [gateway] or [connection NAME])");
  }

  // duplicate: records the key's line; false (with the message) the second time.
  bool first_time(int number, std::string_view key, int* seen) {
    if (*seen != 0) {
      return fail(number, std::string(key) + " given twice (first on line " + std::to_string(*seen) + ")");
    }
    *seen = number;
    return true;
  }

  bool unknown_key(int number, std::string_view key, bool in_gateway) {
    std::string message = "unknown key " + quoted(key) + " in " +
                          (in_gateway ? std::string("[gateway]") : "[connection " + conn_.name + "]");
    if (in_gateway ? find_key(kConnKeys, key).has_value() : find_key(kGwKeys, key).has_value()) {
      message += in_gateway ? " (it belongs in a [connection NAME] section)" : " (it belongs in [gateway])";
    }
    return fail(number, message);
  }

  // ---- values ----------------------------------------------------------

  bool bad(int number, std::string_view key, std::string_view value, const std::string& what) {
    return fail(number, std::string(key) + ": " + quoted(value) + " " + what);
  }

  bool boolean(int number, std::string_view key, std::string_view v, bool* out) {
    if (v == "yes" || v == "true") {
      *out = true;
    } else if (v == "no" || v == "false") {
      *out = false;
    } else {
      return bad(number, key, v, "is not yes or no");
    }
    return true;
  }

  bool duration(int number, std::string_view key, std::string_view v, Duration* out) {
    switch (parse_duration(v, out)) {
      case DurationError::none: return true;
      case DurationError::syntax:
        return bad(number, key, v, "is not a duration (90, 90s, 5m, 1h, 2d, 500ms)");
      case DurationError::too_long: return bad(number, key, v, "is too long (at most 3650d)");
    }
    return false;
  }

  bool count(int number, std::string_view key, std::string_view v, uint64_t* out) {
    if (parse_count(v, out)) return true;
    return bad(number, key, v, "is not a count (a whole number, optionally with k, M or G: 500k)");
  }

  // list: comma-separated items, each trimmed and non-empty.
  bool list(int number, std::string_view key, std::string_view v, size_t max, std::vector<std::string>* out) {
    out->clear();
    size_t at = 0;
    while (true) {
      const size_t comma = v.find(',', at);
      const std::string_view item =
          trim(v.substr(at, comma == std::string_view::npos ? std::string_view::npos : comma - at));
      if (item.empty()) return bad(number, key, v, "has an empty item in its list");
      if (out->size() >= max) return bad(number, key, v, "has more than " + std::to_string(max) + " items");
      out->emplace_back(item);
      if (comma == std::string_view::npos) return true;
      at = comma + 1;
    }
  }

  bool prefixes(int number, std::string_view key, std::string_view v, std::vector<ipsec::IpPrefix>* out) {
    std::vector<std::string> items;
    if (!list(number, key, v, ipsec::limits::kMaxTrafficSelectors, &items)) return false;
    out->clear();
    for (const std::string& item : items) {
      auto p = ipsec::IpPrefix::parse(item);
      if (!p) return bad(number, key, item, "is not a prefix (10.1.1.0/24, 2001:db8:1::/64, 10.1.1.7)");
      out->push_back(*p);
    }
    return true;
  }

  bool address(int number, std::string_view key, std::string_view v, ipsec::IpAddress* out) {
    if (v.find(',') != std::string_view::npos) return bad(number, key, v, "names more than one address");
    auto a = ipsec::IpAddress::parse(v);
    if (!a) return bad(number, key, v, "is not an IP address (10.0.0.1, 2001:db8::1)");
    *out = *a;
    return true;
  }

  // proposals: normalizes "a, b" to "a,b" and checks it with parse_proposals.
  bool proposals(int number, std::string_view key, std::string_view v, bool ike, std::string* out) {
    std::vector<std::string> items;
    if (!list(number, key, v, ipsec::limits::kMaxProposals, &items)) return false;
    std::string joined;
    for (const std::string& item : items) {
      if (!joined.empty()) joined.push_back(',');
      joined += item;
    }
    auto parsed = ipsec::ike::parse_proposals(
        joined, ike ? ipsec::wire::ProtocolId::ike : ipsec::wire::ProtocolId::esp);
    if (parsed) {
      *out = std::move(joined);
      return true;
    }
    const ipsec::Status s = parsed.status();
    const size_t at = s.has_offset() && s.offset() <= joined.size() ? s.offset() : 0;
    const size_t start = joined.rfind(',', at == 0 ? 0 : at - 1);
    const size_t p_begin = (start == std::string::npos || at == 0) ? 0 : start + 1;
    const size_t p_end = std::min(joined.find(',', at), joined.size());
    const std::string_view proposal = std::string_view(joined).substr(p_begin, p_end - p_begin);
    const char* kind = ike ? "IKE" : "ESP";
    if (s.code() == ipsec::Errc::parse_error) {
      size_t w_end = at;
      while (w_end < joined.size() && joined[w_end] != '-' && joined[w_end] != ',') ++w_end;
      const std::string_view word = std::string_view(joined).substr(at, w_end - at);
      if (word.empty())
        return bad(number, key, proposal, "has an empty algorithm (a doubled or trailing '-')");
      return fail(number, std::string(key) + ": " + quoted(word) + " is not an " + kind + " algorithm (in " +
                              quoted(proposal) + ")");
    }
    return bad(
        number, key, proposal,
        ike ? "is not a complete IKE proposal (encryption, integrity unless AEAD, a PRF or an integrity "
              "algorithm to derive it, a key exchange; no NULL or GMAC; no AEAD mixed with others)"
            : "is not a complete ESP proposal (encryption, integrity unless AEAD; no AEAD mixed with "
              "others)");
  }

  std::string library_detail(const ipsec::Status& s) {
    std::string d;
    if (*s.field() != '\0') d = std::string(": ") + s.field();
    if (s.has_offset()) d += " at character " + std::to_string(s.offset() + 1);
    return d;
  }

  bool gateway_key(int number, std::string_view key, const std::string& v) {
    const auto index = find_key(kGwKeys, key);
    if (!index) return unknown_key(number, key, true);
    if (!first_time(number, key, &gw_seen_[*index])) return false;
    GatewayConfig& g = config_;
    switch (static_cast<GwKey>(*index)) {
      case GwKey::tun: {
        const bool ok = !v.empty() && v.size() <= kMaxTunName && v != "." && v != ".." &&
                        std::all_of(v.begin(), v.end(), is_name_char);
        if (!ok) return bad(number, key, v, "is not an interface name (up to 15 of A-Z a-z 0-9 _ . -)");
        g.tun = v;
        return true;
      }
      case GwKey::mtu: {
        uint64_t m = 0;
        if (!parse_whole(v, UINT64_MAX, &m) || m < kMinMtu || m > kMaxMtu) {
          return bad(number, key, v, "is not an MTU in [576, 65535]");
        }
        g.mtu = static_cast<uint32_t>(m);
        return true;
      }
      case GwKey::routes: return boolean(number, key, v, &g.routes);
      case GwKey::cert: g.cert = v; return true;
      case GwKey::key: g.key = v; return true;
      case GwKey::cert_chain:
        return list(number, key, v, ipsec::limits::kMaxCertificateChainLength, &g.cert_chain);
      case GwKey::ca: return list(number, key, v, ipsec::limits::kMaxPadTrustAnchors, &g.ca);
      case GwKey::rsa_pss: return boolean(number, key, v, &g.rsa_pss);
      case GwKey::key_export: g.key_export = v; return true;
      case GwKey::retransmit_timeout:
        if (!duration(number, key, v, &g.retransmit.initial)) return false;
        if (g.retransmit.initial.count() == 0) return bad(number, key, v, "must not be 0");
        return true;
      case GwKey::retransmit_base: {
        Decimal d;
        if (!parse_decimal(v, &d) || d.value() < 1.0 || d.value() > kMaxRetransmitBase) {
          return bad(number, key, v, "is not a factor in [1, 100] (1.8)");
        }
        g.retransmit.base = d.value();
        return true;
      }
      case GwKey::retransmit_tries: {
        uint64_t t = 0;
        if (!parse_whole(v, UINT64_MAX, &t) || t > kMaxRetransmitTries) {
          return bad(number, key, v, "is not a whole number in [0, 1000]");
        }
        g.retransmit.tries = static_cast<uint32_t>(t);
        return true;
      }
      case GwKey::log:
        if (v == "info") {
          g.log = ipsec::ike::LogLevel::info;
        } else if (v == "debug") {
          g.log = ipsec::ike::LogLevel::debug;
        } else {
          return bad(number, key, v, "is not info or debug");
        }
        return true;
    }
    return false;
  }

  bool connection_key(int number, std::string_view key, const std::string& v) {
    const auto index = find_key(kConnKeys, key);
    if (!index) return unknown_key(number, key, false);
    if (!first_time(number, key, &conn_seen_[*index])) return false;
    ConnectionConfig& c = conn_;
    switch (static_cast<ConnKey>(*index)) {
      case ConnKey::local_addrs:
        if (v == "%any") return bad(number, key, v, "is not allowed: give the address to bind");
        return address(number, key, v, &c.local);
      case ConnKey::remote_addrs: {
        if (v == "%any") {
          c.remote.reset();
          return true;
        }
        ipsec::IpAddress a;
        if (!address(number, key, v, &a)) return false;
        c.remote = a;
        return true;
      }
      case ConnKey::local_id: {
        auto id = identity_of(v);
        if (!id) {
          return bad(number, key, v,
                     "is not an identity (fqdn:NAME, email:USER@DOMAIN, ip:ADDR, keyid:HEX, dn:C=.., O=.., "
                     "CN=..)" +
                         library_detail(id.status()));
        }
        c.local_id = v;
        return true;
      }
      case ConnKey::remote_id: {
        auto p = id_pattern_of(v);
        if (!p) {
          return bad(number, key, v,
                     "is not an identity pattern (fqdn:*.example.test, email:@example.test, ip:10.0.0.0/8, "
                     "keyid:HEX, dn:C=.., CN=.., %any)" +
                         library_detail(p.status()));
        }
        c.remote_id = v;
        return true;
      }
      case ConnKey::auth:
        if (v == "psk") {
          c.auth = ConnectionConfig::Auth::psk;
        } else if (v == "pubkey") {
          c.auth = ConnectionConfig::Auth::pubkey;
        } else {
          return bad(number, key, v, "is not psk or pubkey");
        }
        return true;
      case ConnKey::psk: {
        // Never quote the secret in a message.
        std::string secret = v;
        if (starts_with(v, "0x") || starts_with(v, "0X")) {
          if (!decode_hex(std::string_view(v).substr(2), &secret)) {
            return fail(number, "psk: a 0x value must be pairs of hex digits (0x0123abcd)");
          }
        }
        if (secret.empty()) return fail(number, "psk: the secret is empty");
        if (secret.size() > ipsec::limits::kMaxPskSize) {
          return fail(number, "psk: longer than " + std::to_string(ipsec::limits::kMaxPskSize) + " bytes");
        }
        c.psk = std::move(secret);
        return true;
      }
      case ConnKey::proposals: return proposals(number, key, v, true, &c.proposals);
      case ConnKey::esp_proposals: return proposals(number, key, v, false, &c.esp_proposals);
      case ConnKey::local_ts: return prefixes(number, key, v, &c.local_ts);
      case ConnKey::remote_ts: return prefixes(number, key, v, &c.remote_ts);
      case ConnKey::mode:
        if (v == "tunnel") return true;
        if (v == "transport")
          return fail(number, "mode: transport is refused: the gateway carries tunnel mode only");
        return bad(number, key, v, "is not tunnel");
      case ConnKey::start_action:
        if (v == "none") {
          c.start_action = ConnectionConfig::StartAction::none;
        } else if (v == "start") {
          c.start_action = ConnectionConfig::StartAction::start;
        } else if (v == "trap") {
          c.start_action = ConnectionConfig::StartAction::trap;
        } else {
          return bad(number, key, v, "is not none, start or trap");
        }
        return true;
      case ConnKey::rekey_time: return duration(number, key, v, &c.rekey_time);
      case ConnKey::life_time: return duration(number, key, v, &c.life_time);
      case ConnKey::rekey_bytes: return count(number, key, v, &c.rekey_bytes);
      case ConnKey::life_bytes: return count(number, key, v, &c.life_bytes);
      case ConnKey::rekey_packets: return count(number, key, v, &c.rekey_packets);
      case ConnKey::life_packets: return count(number, key, v, &c.life_packets);
      case ConnKey::rand_time: {
        Decimal d;
        if (!parse_decimal(v, &d) || d.whole != 0) {
          return bad(number, key, v, "is not a fraction in [0, 1) (0.1: up to 10 % earlier)");
        }
        c.rand_time = d.value();
        return true;
      }
      case ConnKey::ike_rekey_time: return duration(number, key, v, &c.ike_rekey_time);
      case ConnKey::reauth_time: return duration(number, key, v, &c.reauth_time);
      case ConnKey::dpd_delay: return duration(number, key, v, &c.dpd_delay);
      case ConnKey::dpd_action:
        if (v == "clear") {
          c.dpd_action = ipsec::ike::DpdAction::clear;
        } else if (v == "hold") {
          c.dpd_action = ipsec::ike::DpdAction::hold;
        } else if (v == "restart") {
          c.dpd_action = ipsec::ike::DpdAction::restart;
        } else {
          return bad(number, key, v, "is not clear, hold or restart");
        }
        return true;
    }
    return false;
  }

  // finish_connection: the checks that need the whole section, then the
  // connection joins the list.
  bool finish_connection() {
    if (section_ != Section::connection) return true;
    section_ = Section::none;
    ConnectionConfig& c = conn_;
    const std::string who = "connection " + quoted(c.name) + ": ";
    auto seen = [&](ConnKey k) { return conn_seen_[static_cast<size_t>(k)]; };
    std::string missing;
    for (ConnKey k : {ConnKey::local_addrs, ConnKey::remote_addrs, ConnKey::local_id, ConnKey::remote_id,
                      ConnKey::local_ts, ConnKey::remote_ts}) {
      if (seen(k) != 0) continue;
      if (!missing.empty()) missing += ", ";
      missing += kConnKeys[static_cast<size_t>(k)];
    }
    if (!missing.empty()) return fail(c.line, who + "missing " + missing);
    if (c.remote && c.remote->family() != c.local.family()) {
      return fail(seen(ConnKey::remote_addrs),
                  who + "local_addrs and remote_addrs are of different IP versions");
    }
    if (c.start_action != ConnectionConfig::StartAction::none && !c.remote) {
      return fail(seen(ConnKey::start_action),
                  who + "start_action = start or trap needs a remote_addrs address, not %any");
    }
    if (c.auth == ConnectionConfig::Auth::psk && c.psk.empty()) {
      return fail(c.line, who + "auth = psk needs a psk");
    }
    if (seen(ConnKey::life_time) == 0) {
      // rekey_time * 1.1, rounded to milliseconds (and always above it).
      constexpr int64_t kMs = 1000000;
      const int64_t scaled = c.rekey_time.count() / 10 * 11 + c.rekey_time.count() % 10 * 11 / 10;
      int64_t life = (scaled + kMs / 2) / kMs * kMs;
      if (c.rekey_time.count() != 0 && life <= c.rekey_time.count()) life = c.rekey_time.count() + kMs;
      c.life_time = Duration(life);
    } else if (c.rekey_time.count() != 0 && c.life_time.count() != 0 && c.life_time <= c.rekey_time) {
      return fail(seen(ConnKey::life_time), who + "life_time must be longer than rekey_time");
    }
    if (c.rekey_bytes != 0 && c.life_bytes != 0 && c.life_bytes <= c.rekey_bytes) {
      return fail(seen(ConnKey::life_bytes), who + "life_bytes must be larger than rekey_bytes");
    }
    if (c.rekey_packets != 0 && c.life_packets != 0 && c.life_packets <= c.rekey_packets) {
      return fail(seen(ConnKey::life_packets), who + "life_packets must be larger than rekey_packets");
    }
    config_.connections.push_back(std::move(conn_));
    conn_ = ConnectionConfig{};
    return true;
  }

  std::string& error_;
  GatewayConfig config_;
  Section section_ = Section::none;
  int gateway_line_ = 0;
  int last_line_ = 1;
  std::array<int, kGwKeyCount> gw_seen_{};  // line of each key given, 0: not given
  ConnectionConfig conn_;
  std::array<int, kConnKeyCount> conn_seen_{};
};

}  // namespace

std::optional<GatewayConfig> parse_config(std::string_view text, std::string& error) {
  GatewayConfig config;
  Parser parser(error);
  if (!parser.run(text, &config)) return std::nullopt;
  error.clear();
  return config;
}

std::optional<GatewayConfig> load_config(const std::string& path, std::string& error) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) {
    error = path + ": cannot open: " + std::strerror(errno);
    return std::nullopt;
  }
  std::string text;
  char buffer[4096];
  bool too_large = false, failed = false;
  while (true) {
    const size_t n = std::fread(buffer, 1, sizeof buffer, f);
    text.append(buffer, n);
    if (text.size() > kMaxConfigSize) {
      too_large = true;
      break;
    }
    if (n < sizeof buffer) {
      failed = std::ferror(f) != 0;
      break;
    }
  }
  const int read_errno = errno;
  (void)std::fclose(f);  // opened for reading: nothing is lost on close
  if (failed) {
    error = path + ": cannot read: " + std::strerror(read_errno);
    return std::nullopt;
  }
  if (too_large) {
    error = path + ": larger than " + std::to_string(kMaxConfigSize) + " bytes";
    return std::nullopt;
  }
  auto config = parse_config(text, error);
  if (!config) error = path + ":" + error;
  return config;
}

}  // namespace gateway
