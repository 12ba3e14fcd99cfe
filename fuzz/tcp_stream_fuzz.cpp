// SPDX-License-Identifier: Apache-2.0
// Fuzz target: one direction of an RFC 8229 TCP stream (IKE and ESP over
// TCP) through wire::TcpStreamDecoder. The first two octets choose the
// decoder (prefix expected or not, max_message) and a chunking pattern; the
// rest is the stream, fed
//  - in the chunks the pattern gives (empty reads included), and
//  - all at once;
// the two decodes must yield the same messages and the same final status
// (code, offset, field) and consume as much. Then a reference reading of
// the stream, written from RFC 8229 here, must agree: re-encoding the
// decoded messages with encode_tcp_prefix / encode_tcp_ike / encode_tcp_esp
// reproduces the stream up to where the decoder stopped, and what follows
// is an unfinished message (status ok) or exactly the error reported.
// NAT-keepalives (length 3, 0xFF) are dropped by the decoder (RFC 8229 6):
// the walk skips them and their count must match keepalives_dropped().
#include <algorithm>
#include <array>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <utility>
#include <vector>

#include "ipsec/bytes/writer.hpp"
#include "ipsec/wire/tcp_framing.hpp"

using namespace ipsec;

namespace {

void require(bool ok) {
  if (!ok) std::abort();
}

struct Message {
  wire::NattKind kind;
  std::vector<uint8_t> bytes;
  bool operator==(const Message& o) const { return kind == o.kind && bytes == o.bytes; }
};

struct Decoded {
  std::vector<Message> messages;
  Status status;
  uint64_t consumed = 0;
  uint64_t keepalives = 0;
};

// Chunker: read sizes from a small generator seeded by the selector octets.
class Chunker {
 public:
  Chunker(uint8_t mode, uint8_t seed) : mode_(mode & 3), state_(0x9e3779b9u ^ (uint32_t{seed} << 8 | mode)) {}
  size_t next() {
    state_ = state_ * 1664525u + 1013904223u;
    const uint32_t r = state_ >> 16;
    switch (mode_) {
      case 0: return 1;                                 // an octet at a time
      case 1: return r % 5;                             // 0..4: empty reads, length fields split
      case 2: return r % 41;                            // 0..40: around the header sizes
      default: return (r % 8 == 0) ? 0 : 1 + r % 1500;  // segment-sized
    }
  }

 private:
  uint8_t mode_;
  uint32_t state_;
};

bool same_status(const Status& a, const Status& b) {
  return a.code() == b.code() && a.offset() == b.offset() && std::strcmp(a.field(), b.field()) == 0;
}

// drain: call next() on `input` until it needs more or fails.
void drain(wire::TcpStreamDecoder& d, ByteView input, Decoded* out) {
  while (true) {
    auto m = d.next(&input);
    if (!m) {
      out->status = m.status();
      require(same_status(d.status(), m.status()));
      // Errors are final: asking again repeats the error and takes nothing.
      ByteView again = input;
      auto m2 = d.next(&again);
      require(!m2 && same_status(m2.status(), m.status()) && again.size() == input.size());
      return;
    }
    if (!*m) {
      require(input.empty());  // nullopt only once the read is used up
      return;
    }
    const wire::TcpMessage& msg = **m;
    require(msg.kind == wire::NattKind::ike || msg.kind == wire::NattKind::esp);
    out->messages.push_back(Message{msg.kind, std::vector<uint8_t>(msg.message.begin(), msg.message.end())});
  }
}

Decoded decode(bool prefix, size_t max_message, ByteView stream, std::optional<Chunker> chunker) {
  auto made = wire::TcpStreamDecoder::make(prefix, max_message);
  require(made.ok());
  wire::TcpStreamDecoder d = std::move(*made);
  Decoded out;
  if (!chunker) {
    drain(d, stream, &out);
  } else {
    size_t at = 0;
    while (out.status.ok() && at < stream.size()) {
      const size_t n = std::min(chunker->next(), stream.size() - at);
      drain(d, stream.subspan(at, n), &out);
      at += n;
    }
    if (out.status.ok()) drain(d, ByteView(), &out);  // one more (empty) read changes nothing
  }
  out.consumed = d.consumed();
  out.keepalives = d.keepalives_dropped();
  require(same_status(d.status(), out.status));
  return out;
}

uint16_t be16(ByteView b, size_t at) { return static_cast<uint16_t>(b[at] << 8 | b[at + 1]); }

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  const bool prefix = (data[0] & 1) != 0;
  static constexpr std::array<size_t, 4> kMax = {wire::kTcpMaxMessage, wire::kEspMinHeaderSize, 40, 300};
  const size_t max_message = kMax[(data[0] >> 1) & 3];
  const ByteView stream(data + 2, size - 2);

  const Decoded whole = decode(prefix, max_message, stream, std::nullopt);
  const Decoded chunked =
      decode(prefix, max_message, stream, Chunker(static_cast<uint8_t>(data[0] >> 3), data[1]));
  require(whole.messages == chunked.messages);
  require(same_status(whole.status, chunked.status));
  require(whole.consumed == chunked.consumed);
  require(whole.keepalives == chunked.keepalives);
  if (whole.status.ok()) require(whole.consumed == stream.size());
  require(whole.consumed <= stream.size());

  // How far the stream agrees with the prefix (when one is expected).
  const size_t prefix_size = prefix ? wire::kTcpStreamPrefix.size() : 0;
  size_t prefix_match = 0;
  while (prefix_match < prefix_size && prefix_match < stream.size() &&
         stream[prefix_match] == wire::kTcpStreamPrefix[prefix_match]) {
    ++prefix_match;
  }
  if (prefix_match < prefix_size) {
    // Still in the prefix: no message; ok while the stream is a prefix of
    // "IKETCP", else invalid_value at the first wrong octet.
    require(whole.messages.empty() && whole.keepalives == 0);
    if (prefix_match == stream.size()) {
      require(whole.status.ok());
    } else {
      require(whole.status.code() == Errc::invalid_value && whole.status.offset() == prefix_match &&
              whole.consumed == prefix_match);
    }
    return 0;
  }

  if (prefix) {
    std::array<uint8_t, wire::kTcpStreamPrefix.size()> encoded_prefix{};
    ByteWriter wp(encoded_prefix);
    wire::encode_tcp_prefix(wp);
    require(wp.ok() && std::equal(encoded_prefix.begin(), encoded_prefix.end(), stream.begin()));
  }

  // Walk the stream: each frame is either a NAT-keepalive (length 3, 0xFF),
  // which the decoder drops (RFC 8229 6), or the next decoded message,
  // re-encoded here with encode_tcp_ike / encode_tcp_esp to the very octets
  // of the stream. After the last: an unfinished frame, or the error.
  size_t at = prefix_size;
  size_t next = 0;
  uint64_t keepalives = 0;
  std::vector<uint8_t> encoded(wire::kTcpLengthSize + wire::kNonEspMarkerSize + max_message);
  constexpr size_t kKeepaliveFrame = wire::kTcpLengthSize + 1;
  while (true) {
    const ByteView rest = stream.subspan(at);
    if (rest.size() >= kKeepaliveFrame && be16(rest, 0) == kKeepaliveFrame &&
        rest[2] == wire::kNattKeepalive) {
      ++keepalives;
      at += kKeepaliveFrame;
      continue;
    }
    if (next == whole.messages.size()) break;
    const Message& m = whole.messages[next++];
    require(m.bytes.size() >= wire::kEspMinHeaderSize && m.bytes.size() <= max_message);
    ByteWriter w(encoded);
    if (m.kind == wire::NattKind::ike) {
      wire::encode_tcp_ike(w, m.bytes);
    } else {
      wire::encode_tcp_esp(w, m.bytes);
    }
    require(w.ok() && w.size() <= rest.size() &&
            std::equal(w.written().begin(), w.written().end(), rest.begin()));
    at += w.size();
  }
  require(keepalives == whole.keepalives);

  const ByteView rest = stream.subspan(at);
  if (rest.size() < wire::kTcpLengthSize) {
    require(whole.status.ok());
    return 0;
  }
  const size_t length = be16(rest, 0);
  if ((length < wire::kTcpLengthSize + wire::kEspMinHeaderSize && length != kKeepaliveFrame) ||
      length - wire::kTcpLengthSize > max_message) {
    require(whole.status.code() == Errc::invalid_length && whole.status.offset() == at &&
            whole.consumed == at + wire::kTcpLengthSize);
    return 0;
  }
  if (rest.size() < length) {
    require(whole.status.ok());
    return 0;
  }
  // A whole frame the decoder did not return: a one-octet body other than
  // 0xFF, or an IKE header cut short (the non-ESP marker and fewer than 28
  // octets after it).
  require(whole.consumed == at + length);
  const ByteView body = rest.subspan(wire::kTcpLengthSize, length - wire::kTcpLengthSize);
  if (length == kKeepaliveFrame) {
    require(body[0] != wire::kNattKeepalive && whole.status.code() == Errc::invalid_value &&
            whole.status.offset() == at + wire::kTcpLengthSize);
    return 0;
  }
  const bool marker = body[0] == 0 && body[1] == 0 && body[2] == 0 && body[3] == 0;
  require(marker && body.size() < wire::kNonEspMarkerSize + wire::kIkeHeaderSize);
  require(whole.status.code() == Errc::truncated);
  require(whole.status.offset() >= at + wire::kTcpLengthSize && whole.status.offset() <= at + length);
  return 0;
}
