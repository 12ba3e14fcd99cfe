// SPDX-License-Identifier: Apache-2.0
// What the Linux example hosts (ike_peer, gateway) share: output lines with
// a time stamp, fatal setup errors, text for endpoints, selectors and engine
// events, files and certificates, UDP sockets on a local address, and the
// monotonic clock as the engine's Timestamp. Examples only: the library
// itself never opens a socket or reads a clock.
#pragma once

#include <ipsec/ipsec.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <time.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace host {

using namespace ipsec;

inline int64_t clock_ns(clockid_t id) {
  timespec ts{};
  clock_gettime(id, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}
// now: CLOCK_MONOTONIC as the engine's Timestamp.
inline Timestamp now() { return Timestamp::from_nanoseconds(clock_ns(CLOCK_MONOTONIC)); }
// unix_time_at_zero: the wall clock at Timestamp 0 (for certificate validity).
inline int64_t unix_time_at_zero() {
  return (clock_ns(CLOCK_REALTIME) - clock_ns(CLOCK_MONOTONIC)) / 1'000'000'000;
}
inline Duration seconds(double s) {
  return std::chrono::duration_cast<Duration>(std::chrono::duration<double>(s));
}

// Output: every line "[NAME SECONDS] text", SECONDS since the program began.
struct Output {
  std::string name;
  std::string program;  // for die()
  int64_t start = clock_ns(CLOCK_MONOTONIC);
};
inline Output& output() {
  static Output o;
  return o;
}

// say: one output line (tag, then text).
inline void say(std::string_view tag, std::string_view text) {
  const double t = static_cast<double>(clock_ns(CLOCK_MONOTONIC) - output().start) / 1e9;
  std::printf("[%s %7.3f] %.*s%.*s\n", output().name.c_str(), t, static_cast<int>(tag.size()), tag.data(),
              static_cast<int>(text.size()), text.data());
}

[[noreturn]] inline void die(const std::string& what) {
  std::fprintf(stderr, "%s: %s\n", output().program.c_str(), what.c_str());
  std::exit(2);
}
inline std::string why(Status s) {
  return std::string(s.name()) + (*s.field() ? std::string(" (") + s.field() + ")" : "");
}
template <typename T>
T take(Result<T> r, const std::string& what) {
  if (!r) die(what + ": " + why(r.status()));
  return std::move(r).value();
}

inline std::string str(std::string_view v) { return std::string(v); }
// hex: an IKE SPI as 16 hex digits, an ESP SPI (32 bits) as 0x and 8.
inline std::string hex(uint64_t v) {
  char b[24];
  std::snprintf(b, sizeof b, "%016llx", static_cast<unsigned long long>(v));
  return b;
}
inline std::string hex(uint32_t v) {
  char b[16];
  std::snprintf(b, sizeof b, "0x%08x", v);
  return b;
}
// hex_bytes: octets as lowercase hex digits.
inline std::string hex_bytes(ByteView b) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string s;
  s.reserve(b.size() * 2);
  for (uint8_t x : b) {
    s += kDigits[x >> 4];
    s += kDigits[x & 15];
  }
  return s;
}
// hex_list: " a b c" (hex), or " none".
template <typename T>
std::string hex_list(const std::vector<T>& values) {
  std::string s;
  for (const T& v : values) s += " " + hex(v);
  return s.empty() ? " none" : s;
}
inline std::string endpoint_text(const ike::Endpoint& e) {
  return str(e.address.to_text().view()) + "[" + std::to_string(e.port) + "]";
}
// range_text: a range as a prefix when it is one, else first-last.
inline std::string range_text(const sa::AddressRange& r) {
  for (unsigned len = 0; len <= r.first.size() * 8; ++len) {
    if (r.first.masked(len) == r.first && r.first.with_host_bits_set(len) == r.last)
      return str(r.first.to_text().view()) + "/" + std::to_string(len);
  }
  return str(r.first.to_text().view()) + "-" + str(r.last.to_text().view());
}
inline std::string ts_text(std::span<const ike::TsRange> ts) {
  std::string s;
  for (const ike::TsRange& t : ts) s += (s.empty() ? "" : ",") + range_text(t.addresses);
  return s;
}

// event_text: one engine event as a line (after "event "); no key material.
inline std::string event_text(const ike::Event& e) {
  std::string head = str(to_string(e.kind)) + " <" + str(e.connection) + "|" + hex(e.ike_sa) + ">";
  switch (e.kind) {
    case ike::EventKind::ike_sa_up: {
      const ike::IkeSaInfo& i = *e.ike;
      return head + " " + (i.initiator ? "initiator" : "responder") + " SPIs " + hex(i.spi_i) + "_i " +
             hex(i.spi_r) + "_r " + endpoint_text(i.path.local) + "[" + str(i.local_id) + "] ... " +
             endpoint_text(i.path.remote) + "[" + str(i.remote_id) + "] proposal " + str(i.proposal) +
             (i.nat.nat_detected() ? ", NAT detected" : "");
    }
    case ike::EventKind::child_sa_install:
      return head + (e.direction == sa::Direction::inbound ? " inbound SPI " + hex(e.child->inbound_spi)
                                                           : " outbound SPI " + hex(e.child->outbound_spi));
    case ike::EventKind::child_sa_up: {
      const ike::ChildSa& c = *e.child;
      return head + " SPIs " + hex(c.inbound_spi) + "_i " + hex(c.outbound_spi) + "_o reqid " +
             std::to_string(c.reqid) + (c.mode == esp::Mode::tunnel ? " tunnel" : " transport") +
             (c.udp ? "-in-UDP" : "") + " proposal " + str(c.proposal) + " " + ts_text(c.local_ts) +
             " === " + ts_text(c.remote_ts) + (c.rekeys != 0 ? " rekeys " + hex(c.rekeys) : "");
    }
    case ike::EventKind::ike_sa_down:
      return head + " " + str(to_string(e.error)) + ": " + str(e.detail) +
             (e.peer_dead ? " (peer_dead)" : "");
    case ike::EventKind::child_sa_delete:
      return head + " SPIs " + hex(e.child ? e.child->inbound_spi : 0) + "_i " +
             hex(e.child ? e.child->outbound_spi : 0) + "_o " + str(e.detail);
    case ike::EventKind::child_sa_failed:
    case ike::EventKind::proposal_mismatch:
      return head + " " + str(to_string(e.error)) + ": " + str(e.detail);
    case ike::EventKind::authentication_failed:
      return head + " " + str(to_string(e.auth_failure)) + ": " + str(e.detail);
    case ike::EventKind::ike_sa_rekeyed: return head + " replaces " + hex(e.previous_ike_sa);
    case ike::EventKind::ike_sa_keys: return head;  // the keys themselves are never printed
    case ike::EventKind::peer_address_changed:
      return head + " peer now at " + str(e.ike->path.remote.address.to_text().view()) + " port " +
             std::to_string(e.ike->path.remote.port);
  }
  return head;
}

// say_log: an engine log line ("log: ", "log error: ", "log debug: ").
inline void say_log(ike::LogLevel level, std::string_view line) {
  say(level == ike::LogLevel::error   ? "log error: "
      : level == ike::LogLevel::debug ? "log debug: "
                                      : "log: ",
      line);
}
// say_event: an engine event ("event " and event_text), but not the keys
// of ike_sa_keys, which only a key export may see.
inline void say_event(const ike::Event& e) {
  if (e.kind != ike::EventKind::ike_sa_keys) say("event ", event_text(e));
}

// signature_methods: what a PAD entry for certificate authentication
// accepts: RFC 7427 signatures, and the older RSA/ECDSA methods for peers
// that do not announce SIGNATURE_HASH_ALGORITHMS (RFC 7296 3.8).
inline sa::AuthMethodSet signature_methods() {
  return sa::AuthMethodSet()
      .allow(wire::AuthMethod::digital_signature)
      .allow(wire::AuthMethod::rsa_signature)
      .allow(wire::AuthMethod::ecdsa_sha256_p256)
      .allow(wire::AuthMethod::ecdsa_sha384_p384)
      .allow(wire::AuthMethod::ecdsa_sha512_p521);
}

inline std::optional<std::vector<uint8_t>> try_read_file(const std::string& path) {
  std::vector<uint8_t> out;
  FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) return std::nullopt;
  uint8_t buf[4096];
  size_t n = 0;
  while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) out.insert(out.end(), buf, buf + n);
  // A read error ends the loop like the end of the file: report it rather than a truncated file.
  const bool failed = std::ferror(f) != 0;
  (void)std::fclose(f);  // opened for reading: nothing is lost on close
  if (failed) return std::nullopt;
  return out;
}
inline std::vector<uint8_t> read_file(const std::string& path) {
  auto b = try_read_file(path);
  if (!b) die("cannot open " + path + ": " + std::strerror(errno));
  return std::move(*b);
}
// load_certificate: PEM or DER.
inline crypto::Certificate load_certificate(const std::string& path) {
  const std::vector<uint8_t> b = read_file(path);
  const std::string_view text(reinterpret_cast<const char*>(b.data()), b.size());
  return take(text.find("-----BEGIN") != std::string_view::npos ? crypto::Certificate::parse_pem(text)
                                                                : crypto::Certificate::parse_der(b),
              "certificate " + path);
}

// Sockets: one per port, bound to the local address.
inline socklen_t to_sockaddr(const ike::Endpoint& e, sockaddr_storage* ss) {
  std::memset(ss, 0, sizeof *ss);
  if (e.address.is_v4()) {
    auto* sin = reinterpret_cast<sockaddr_in*>(ss);
    sin->sin_family = AF_INET;
    sin->sin_port = htons(e.port);
    std::memcpy(&sin->sin_addr, e.address.bytes().data(), 4);
    return sizeof *sin;
  }
  auto* sin6 = reinterpret_cast<sockaddr_in6*>(ss);
  sin6->sin6_family = AF_INET6;
  sin6->sin6_port = htons(e.port);
  std::memcpy(&sin6->sin6_addr, e.address.bytes().data(), 16);
  return sizeof *sin6;
}
inline std::optional<ike::Endpoint> from_sockaddr(const sockaddr_storage& ss) {
  const auto* sin = reinterpret_cast<const sockaddr_in*>(&ss);
  const auto* sin6 = reinterpret_cast<const sockaddr_in6*>(&ss);
  const bool v4 = ss.ss_family == AF_INET;
  if (!v4 && ss.ss_family != AF_INET6) return std::nullopt;
  auto a = IpAddress::from_bytes(v4 ? ByteView(reinterpret_cast<const uint8_t*>(&sin->sin_addr), 4)
                                    : ByteView(reinterpret_cast<const uint8_t*>(&sin6->sin6_addr), 16));
  if (!a) return std::nullopt;
  return ike::Endpoint{*a, ntohs(v4 ? sin->sin_port : sin6->sin6_port)};
}
// open_socket: a non-blocking UDP socket bound to `local` (dies on failure).
inline int open_socket(const ike::Endpoint& local) {
  const int fd =
      socket(local.address.is_v4() ? AF_INET : AF_INET6, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) die(std::string("socket: ") + std::strerror(errno));
  const int one = 1;
  if (local.address.is_v6()) (void)setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
  sockaddr_storage ss{};
  const socklen_t len = to_sockaddr(local, &ss);
  if (bind(fd, reinterpret_cast<const sockaddr*>(&ss), len) != 0)
    die("bind " + endpoint_text(local) + ": " + std::strerror(errno));
  return fd;
}

// send_to: one datagram; false (errno set) when the kernel refused it.
inline bool send_to(int fd, const ike::Endpoint& to, ByteView bytes) {
  sockaddr_storage ss{};
  const socklen_t len = to_sockaddr(to, &ss);
  return sendto(fd, bytes.data(), bytes.size(), 0, reinterpret_cast<const sockaddr*>(&ss), len) >= 0;
}

}  // namespace host
