// SPDX-License-Identifier: Apache-2.0
// IKE and ESP over TCP (RFC 8229, obsoleted by RFC 9329): the stream starts
// with the prefix "IKETCP" from the initiator (section 4), then every message
// is a 16-bit length (counting itself) followed by either an IKE message
// behind the non-ESP marker or an ESP packet (section 3):
//
//   "IKETCP" | Length | 0x00000000 | IKE message | Length | ESP packet | ...
//
// TcpStreamDecoder takes the bytes of the stream in whatever pieces the
// socket returns and yields whole messages; the encoders write them.
#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <new>
#include <optional>

#include "ipsec/bytes/bytes.hpp"
#include "ipsec/bytes/endian.hpp"
#include "ipsec/bytes/reader.hpp"
#include "ipsec/bytes/writer.hpp"
#include "ipsec/core/result.hpp"
#include "ipsec/wire/natt.hpp"

namespace ipsec::wire {

inline constexpr std::array<uint8_t, 6> kTcpStreamPrefix{'I', 'K', 'E', 'T', 'C', 'P'};
inline constexpr size_t kTcpLengthSize = 2;
// The largest message a 16-bit length (counting itself) can frame.
inline constexpr size_t kTcpMaxMessage = 0xffff - kTcpLengthSize;

struct TcpMessage {
  // ike or esp; keepalive only from classify_tcp_message (the decoder drops them).
  NattKind kind = NattKind::esp;
  ByteView message;  // IKE message without its marker, or the ESP packet; empty for a keepalive
};

// classify_tcp_message: the body of one length-framed message, as on UDP
// 4500 (RFC 8229 3). A NAT-keepalive (the one octet 0xFF behind a length of
// 3) should not be sent over TCP, but a receiver must drop it silently and
// not treat it as an error (RFC 8229 6, RFC 9329 6): kind keepalive.
[[nodiscard]] inline Result<TcpMessage> classify_tcp_message(ByteView body) noexcept {
  auto p = classify_udp4500(body);
  if (!p) return p.status();
  return TcpMessage{p->kind, p->message};
}

class TcpStreamDecoder {
 public:
  TcpStreamDecoder() noexcept = default;

  // make: a decoder for one direction of one connection. expect_prefix:
  // this is the responder's side and the initiator's stream begins with
  // "IKETCP". max_message: the largest message accepted (at most
  // kTcpMaxMessage); the buffer for messages split across reads is
  // allocated here, once. Errors: invalid_argument, out_of_memory.
  [[nodiscard]] static Result<TcpStreamDecoder> make(bool expect_prefix,
                                                     size_t max_message = kTcpMaxMessage) noexcept {
    if (max_message < kEspMinHeaderSize || max_message > kTcpMaxMessage) return Errc::invalid_argument;
    TcpStreamDecoder d;
    d.buffer_.reset(new (std::nothrow) uint8_t[max_message]);
    if (!d.buffer_) return Errc::out_of_memory;
    d.max_message_ = max_message;
    d.prefix_left_ = expect_prefix ? kTcpStreamPrefix.size() : 0;
    return d;
  }

  // next: consume octets from the front of *input (advancing it) until one
  // message is whole, and return it; std::nullopt once *input is used up
  // without completing one (call again with the next read). The message is
  // valid until the next call. A message that lies wholly inside *input is
  // returned without copying. NAT-keepalives are skipped silently (RFC 8229
  // 6; counted in keepalives_dropped()). Errors are final for the connection
  // (its framing is lost; close it): invalid_value (a wrong stream prefix; a
  // one-octet message other than 0xFF), invalid_length (a length below the
  // smallest message, other than a keepalive's 3, or above max_message),
  // truncated (an IKE header cut short inside a message). status() repeats
  // the error; offsets count from the stream's start.
  [[nodiscard]] Result<std::optional<TcpMessage>> next(ByteView* input) noexcept {
    if (!status_.ok()) return status_;
    while (prefix_left_ > 0) {
      if (input->empty()) return std::optional<TcpMessage>();
      const uint8_t want = kTcpStreamPrefix[kTcpStreamPrefix.size() - prefix_left_];
      if ((*input)[0] != want)
        return fail(Status(Errc::invalid_value, stream_offset(consumed_), "IKETCP prefix"));
      advance(input, 1);
      --prefix_left_;
    }
    for (;;) {
      while (length_have_ < kTcpLengthSize) {
        if (input->empty()) return std::optional<TcpMessage>();
        length_bytes_[length_have_++] = (*input)[0];
        advance(input, 1);
        if (length_have_ == kTcpLengthSize) {
          const size_t length = load_be16(length_bytes_);
          // RFC 8229 3: the length counts itself; what follows must hold at
          // least an ESP header (or the non-ESP marker and an IKE header),
          // or be a one-octet NAT-keepalive (section 6).
          const bool keepalive = length == kTcpLengthSize + 1;
          if ((!keepalive && length < kTcpLengthSize + kEspMinHeaderSize) ||
              length - kTcpLengthSize > max_message_) {
            return fail(
                Status(Errc::invalid_length, stream_offset(consumed_ - kTcpLengthSize), "tcp length"));
          }
          body_size_ = length - kTcpLengthSize;
          body_have_ = 0;
        }
      }
      const uint64_t body_offset = consumed_ - body_have_;
      ByteView body;
      if (body_have_ == 0 && input->size() >= body_size_) {
        body = input->first(body_size_);  // whole in this read: no copy
        advance(input, body_size_);
      } else {
        const size_t take = std::min(body_size_ - body_have_, input->size());
        if (take > 0) {
          std::copy_n(input->begin(), take,
                      MutableByteView(buffer_.get(), max_message_).subspan(body_have_).begin());
        }
        body_have_ += take;
        advance(input, take);
        if (body_have_ < body_size_) return std::optional<TcpMessage>();
        body = ByteView(buffer_.get(), body_size_);
      }
      length_have_ = 0;
      body_have_ = 0;
      auto m = classify_tcp_message(body);
      if (!m)
        return fail(Status(m.error(), stream_offset(body_offset + m.status().offset()), m.status().field()));
      if (m->kind == NattKind::keepalive) {
        ++keepalives_dropped_;  // RFC 8229 6: dropped silently
        continue;
      }
      return std::optional<TcpMessage>(*m);
    }
  }

  [[nodiscard]] Status status() const noexcept { return status_; }
  // consumed: octets of the stream taken so far.
  [[nodiscard]] uint64_t consumed() const noexcept { return consumed_; }
  // keepalives_dropped: NAT-keepalives skipped so far.
  [[nodiscard]] uint64_t keepalives_dropped() const noexcept { return keepalives_dropped_; }

 private:
  // stream_offset: a stream position as a Status offset; a connection may
  // outlive 4 GiB, and a saturated offset is better than a wrapped one.
  [[nodiscard]] static uint32_t stream_offset(uint64_t at) noexcept {
    return at < Status::kNoOffset ? static_cast<uint32_t>(at) : Status::kNoOffset - 1;
  }
  Status fail(Status s) noexcept {
    status_ = s;
    return s;
  }
  void advance(ByteView* input, size_t n) noexcept {
    *input = input->subspan(n);
    consumed_ += n;
  }

  std::unique_ptr<uint8_t[]> buffer_;
  size_t max_message_ = 0;
  size_t prefix_left_ = 0;
  std::array<uint8_t, kTcpLengthSize> length_bytes_{};
  size_t length_have_ = 0;
  size_t body_size_ = 0;
  size_t body_have_ = 0;
  uint64_t consumed_ = 0;
  uint64_t keepalives_dropped_ = 0;
  Status status_;
};

// encode_tcp_prefix: the initiator's "IKETCP" at the start of a stream.
inline void encode_tcp_prefix(ByteWriter& w) noexcept { w.put_bytes(kTcpStreamPrefix); }

// encode_tcp_ike / encode_tcp_esp: one framed message (RFC 8229 3). A
// message longer than kTcpMaxMessage fails the writer with invalid_length.
inline void encode_tcp_ike(ByteWriter& w, ByteView ike_message) noexcept {
  const size_t start = w.needed();
  const auto length = w.reserve_u16();
  w.put_zeros(kNonEspMarkerSize);
  w.put_bytes(ike_message);
  w.patch_length_since(length, start);
}
inline void encode_tcp_esp(ByteWriter& w, ByteView esp_packet) noexcept {
  const size_t start = w.needed();
  const auto length = w.reserve_u16();
  w.put_bytes(esp_packet);
  w.patch_length_since(length, start);
}

}  // namespace ipsec::wire
