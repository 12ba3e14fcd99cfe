// SPDX-License-Identifier: Apache-2.0
// IKE and ESP over TCP (RFC 8229, RFC 9329): the encoders, and the stream
// decoder fed in every way a socket may hand the stream over.
#include "ipsec/wire/tcp_framing.hpp"

#include <doctest/doctest.h>

#include <cstdint>
#include <optional>
#include <random>
#include <string_view>
#include <vector>

#include "test_util.hpp"

using ipsec::ByteView;
using ipsec::ByteWriter;
using ipsec::Errc;
using ipsec::MutableByteView;
using ipsec::Status;
using ipsec::test::Bytes;
using namespace ipsec::wire;

namespace {

struct Message {
  NattKind kind = NattKind::esp;
  Bytes body;  // the IKE message (without marker) or the ESP packet
  friend bool operator==(const Message&, const Message&) = default;
};

Message ike(size_t size, uint8_t seed) {
  Message m{NattKind::ike, Bytes(size)};
  for (size_t i = 0; i < size; ++i) m.body[i] = static_cast<uint8_t>(seed + 7 * i + 1);
  m.body[0] = static_cast<uint8_t>(seed | 1);  // a non-zero SPIi, as in a real message
  return m;
}
Message esp(size_t size, uint8_t seed) {
  Message m{NattKind::esp, Bytes(size)};
  for (size_t i = 0; i < size; ++i) m.body[i] = static_cast<uint8_t>(seed + 3 * i);
  m.body[0] = static_cast<uint8_t>(seed | 1);  // a non-zero SPI
  return m;
}

size_t framed_size(const Message& m) {
  return kTcpLengthSize + (m.kind == NattKind::ike ? kNonEspMarkerSize : 0) + m.body.size();
}

// encode: the stream an initiator (prefix) or responder sends.
Bytes encode(bool prefix, const std::vector<Message>& messages) {
  size_t size = prefix ? kTcpStreamPrefix.size() : 0;
  for (const Message& m : messages) size += framed_size(m);
  Bytes out(size);
  ByteWriter w(out);
  if (prefix) encode_tcp_prefix(w);
  for (const Message& m : messages) {
    if (m.kind == NattKind::ike) {
      encode_tcp_ike(w, m.body);
    } else {
      encode_tcp_esp(w, m.body);
    }
  }
  REQUIRE(w.ok());
  REQUIRE(w.size() == out.size());
  return out;
}

// Where each message's body (after the length field, marker included) lies
// in the stream.
struct Span {
  size_t begin = 0, end = 0;
};
std::vector<Span> body_spans(bool prefix, const std::vector<Message>& messages) {
  std::vector<Span> spans;
  size_t at = prefix ? kTcpStreamPrefix.size() : 0;
  for (const Message& m : messages) {
    const size_t size = framed_size(m);
    spans.push_back({at + kTcpLengthSize, at + size});
    at += size;
  }
  return spans;
}

struct Decoded {
  std::vector<Message> messages;
  std::vector<bool> zero_copy;  // the returned view pointed into the chunk passed in
  Status status;                // the first error, if any
  uint64_t consumed = 0;
};

// feed: hand `stream` to the decoder in chunks of the given sizes (the last
// chunk takes what is left), draining every message after each read.
Decoded feed(TcpStreamDecoder& decoder, ByteView stream, const std::vector<size_t>& chunks) {
  Decoded out;
  size_t at = 0;
  for (size_t i = 0; at < stream.size() || i == 0; ++i) {
    const size_t n = i < chunks.size() ? std::min(chunks[i], stream.size() - at) : stream.size() - at;
    const ByteView chunk = stream.subspan(at, n);
    ByteView input = chunk;
    for (;;) {
      auto r = decoder.next(&input);
      if (!r) {
        out.status = r.status();
        out.consumed = decoder.consumed();
        return out;
      }
      if (!*r) break;
      const TcpMessage& m = **r;
      out.messages.push_back({m.kind, Bytes(m.message.begin(), m.message.end())});
      // Compared as integers: the view may point into the decoder's own buffer.
      const auto at_msg = reinterpret_cast<uintptr_t>(m.message.data());
      const auto at_chunk = reinterpret_cast<uintptr_t>(chunk.data());
      out.zero_copy.push_back(at_msg >= at_chunk && at_msg + m.message.size() <= at_chunk + chunk.size());
    }
    CHECK(input.empty());  // "need more" only once this read is used up
    at += n;
  }
  out.consumed = decoder.consumed();
  return out;
}

Decoded feed_all(TcpStreamDecoder& decoder, ByteView stream) {
  return feed(decoder, stream, {stream.size()});
}

TcpStreamDecoder decoder(bool prefix, size_t max_message = kTcpMaxMessage) {
  auto d = TcpStreamDecoder::make(prefix, max_message);
  REQUIRE(d);
  return std::move(*d);
}

const std::vector<Message> kMessages = {
    ike(28, 0x10),  esp(8, 0x20),  ike(300, 0x30), esp(1400, 0x40), esp(9, 0x50),   ike(29, 0x60),
    esp(100, 0x70), ike(28, 0x80), esp(8, 0x90),   esp(2000, 0xa0), ike(500, 0xb0), esp(64, 0xc0),
};

// A hand-built stream in front of each error case: one ESP packet.
Bytes one_esp_message() { return encode(false, {esp(8, 0x42)}); }

Bytes concat(std::initializer_list<ByteView> parts) {
  size_t size = 0;
  for (ByteView p : parts) size += p.size();
  Bytes out(size);
  size_t at = 0;
  for (ByteView p : parts) {
    REQUIRE(ipsec::copy_bytes(MutableByteView(out).subspan(at), p));
    at += p.size();
  }
  return out;
}

Bytes be16(size_t v) { return Bytes{static_cast<uint8_t>(v >> 8), static_cast<uint8_t>(v)}; }

// expect_sticky: the decoder failed with `code` at `offset`; later calls
// repeat it and consume nothing.
void expect_sticky(TcpStreamDecoder& d, const Decoded& got, Errc code, uint32_t offset,
                   std::string_view field) {
  CHECK(got.status == code);
  CHECK(got.status.offset() == offset);
  CHECK(std::string_view(got.status.field()) == field);
  CHECK(d.status() == code);
  CHECK(d.status().offset() == offset);
  const uint64_t consumed = d.consumed();
  const Bytes more = one_esp_message();
  ByteView input = more;
  auto again = d.next(&input);
  REQUIRE_FALSE(again.ok());
  CHECK(again.error() == code);
  CHECK(again.status().offset() == offset);
  CHECK(input.size() == more.size());
  CHECK(d.consumed() == consumed);
}

}  // namespace

TEST_CASE("TCP encapsulation: encoders write RFC 8229 framing") {
  const Message i = ike(28, 0x10), e = esp(8, 0x20);
  const Bytes stream = encode(true, {i, e});
  const Bytes iketcp{'I', 'K', 'E', 'T', 'C', 'P'};
  CHECK(Bytes(stream.begin(), stream.begin() + 6) == iketcp);
  // IKE: length 2 + 4 + 28 = 34, the non-ESP marker, the message.
  CHECK(stream[6] == 0);
  CHECK(stream[7] == 34);
  CHECK(Bytes(stream.begin() + 8, stream.begin() + 12) == Bytes(4, 0));
  CHECK(Bytes(stream.begin() + 12, stream.begin() + 40) == i.body);
  // ESP: length 2 + 8, the packet.
  CHECK(stream[40] == 0);
  CHECK(stream[41] == 10);
  CHECK(Bytes(stream.begin() + 42, stream.end()) == e.body);
}

TEST_CASE("TCP encapsulation: encoders report the size they need") {
  const Message i = ike(40, 0x10);
  for (size_t cap : {size_t{0}, size_t{1}, size_t{2}, size_t{6}, size_t{41}}) {
    INFO("capacity " << cap);
    Bytes out(cap);
    ByteWriter w(out);
    encode_tcp_ike(w, i.body);
    CHECK(w.status() == Errc::buffer_too_small);
    CHECK(w.needed() == 46u);
    Bytes out2(cap);
    ByteWriter w2(out2);
    encode_tcp_esp(w2, i.body);
    CHECK(w2.status() == Errc::buffer_too_small);
    CHECK(w2.needed() == 42u);
  }
}

TEST_CASE("TCP decoder: a stream of messages, all at once, is decoded without copying") {
  for (bool prefix : {false, true}) {
    INFO("prefix " << prefix);
    const Bytes stream = encode(prefix, kMessages);
    auto d = decoder(prefix);
    const Decoded got = feed_all(d, stream);
    CHECK(got.status.ok());
    CHECK(got.messages == kMessages);
    CHECK(got.consumed == stream.size());
    CHECK(d.status().ok());
    CHECK(d.keepalives_dropped() == 0);
    for (size_t i = 0; i < got.zero_copy.size(); ++i) {
      INFO("message " << i);
      CHECK(got.zero_copy[i]);
    }
  }
}

TEST_CASE("TCP decoder: one octet at a time") {
  for (bool prefix : {false, true}) {
    INFO("prefix " << prefix);
    const Bytes stream = encode(prefix, kMessages);
    auto d = decoder(prefix);
    const Decoded got = feed(d, stream, std::vector<size_t>(stream.size(), 1));
    CHECK(got.status.ok());
    CHECK(got.messages == kMessages);
    CHECK(got.consumed == stream.size());
    for (bool z : got.zero_copy) CHECK_FALSE(z);  // every body is longer than one read
  }
}

TEST_CASE("TCP decoder: random chunk sizes; zero-copy exactly when a body is whole in one read") {
  for (bool prefix : {false, true}) {
    const Bytes stream = encode(prefix, kMessages);
    const std::vector<Span> spans = body_spans(prefix, kMessages);
    for (uint32_t seed = 1; seed <= 50; ++seed) {
      INFO("prefix " << prefix << " seed " << seed);
      std::mt19937 rng(seed);
      // Mostly short reads, sometimes long ones, sometimes empty ones.
      std::uniform_int_distribution<size_t> small(0, 40), large(0, 3000), pick(0, 3);
      std::vector<size_t> chunks;
      std::vector<size_t> boundaries{0};
      size_t total = 0;
      while (total < stream.size()) {
        const size_t n = std::min(pick(rng) == 0 ? large(rng) : small(rng), stream.size() - total);
        chunks.push_back(n);
        total += n;
        boundaries.push_back(total);
      }
      auto d = decoder(prefix);
      const Decoded got = feed(d, stream, chunks);
      CHECK(got.status.ok());
      REQUIRE(got.messages == kMessages);
      CHECK(got.consumed == stream.size());
      for (size_t i = 0; i < spans.size(); ++i) {
        // Whole in one read: no boundary strictly inside the body.
        bool whole = true;
        for (size_t b : boundaries) whole = whole && !(b > spans[i].begin && b < spans[i].end);
        INFO("message " << i);
        CHECK(got.zero_copy[i] == whole);
      }
    }
  }
}

TEST_CASE("TCP decoder: every truncation of a stream just needs more") {
  std::vector<Message> messages = {ike(28, 1), esp(8, 2), ike(40, 3), esp(30, 4)};
  for (bool prefix : {false, true}) {
    const Bytes stream = encode(prefix, messages);
    const std::vector<Span> spans = body_spans(prefix, messages);
    for (size_t cut = 0; cut <= stream.size(); ++cut) {
      INFO("prefix " << prefix << " cut " << cut);
      auto d = decoder(prefix);
      const Decoded head = feed_all(d, ByteView(stream).first(cut));
      CHECK(head.status.ok());
      CHECK(d.status().ok());
      CHECK(head.consumed == cut);
      // Exactly the messages wholly inside the cut.
      size_t whole = 0;
      while (whole < spans.size() && spans[whole].end <= cut) ++whole;
      REQUIRE(head.messages.size() == whole);
      for (size_t i = 0; i < whole; ++i) CHECK(head.messages[i] == messages[i]);
      // The rest of the stream completes the others.
      const Decoded tail = feed_all(d, ByteView(stream).subspan(cut));
      CHECK(tail.status.ok());
      REQUIRE(tail.messages.size() == messages.size() - whole);
      for (size_t i = whole; i < messages.size(); ++i) CHECK(tail.messages[i - whole] == messages[i]);
      CHECK(d.consumed() == stream.size());
    }
  }
}

TEST_CASE("TCP decoder: a wrong stream prefix is fatal, at the octet that differs") {
  for (size_t bad = 0; bad < kTcpStreamPrefix.size(); ++bad) {
    for (bool one_at_a_time : {false, true}) {
      INFO("bad octet " << bad << " one at a time " << one_at_a_time);
      Bytes stream = encode(true, {esp(8, 1)});
      stream[bad] = static_cast<uint8_t>(stream[bad] ^ 0x20);  // "iKETCP", "IkETCP", ...
      auto d = decoder(true);
      const Decoded got =
          one_at_a_time ? feed(d, stream, std::vector<size_t>(stream.size(), 1)) : feed_all(d, stream);
      CHECK(got.messages.empty());
      CHECK(got.consumed == bad);
      expect_sticky(d, got, Errc::invalid_value, static_cast<uint32_t>(bad), "IKETCP prefix");
    }
  }
  // A responder that expects no prefix takes "IK" as a (long) length and waits.
  auto d = decoder(false);
  const Bytes stream = encode(true, {esp(8, 1)});
  const Decoded got = feed_all(d, stream);
  CHECK(got.status.ok());
  CHECK(got.messages.empty());
}

TEST_CASE("TCP decoder: lengths too short for any message are fatal, at the length field") {
  for (bool prefix : {false, true}) {
    for (size_t length : std::vector<size_t>{0, 1, 2, 4, 5, 6, 7, 8, 9}) {
      INFO("prefix " << prefix << " length " << length);
      const Bytes head = encode(prefix, {esp(8, 1)});
      // The length, then enough octets to fill whatever it announced.
      const Bytes stream = concat({head, be16(length), Bytes(16, 0x77)});
      for (bool one_at_a_time : {false, true}) {
        auto d = decoder(prefix);
        const Decoded got =
            one_at_a_time ? feed(d, stream, std::vector<size_t>(stream.size(), 1)) : feed_all(d, stream);
        CHECK(got.messages.size() == 1);  // the one before is delivered
        expect_sticky(d, got, Errc::invalid_length, static_cast<uint32_t>(head.size()), "tcp length");
      }
    }
  }
}

TEST_CASE("TCP decoder: NAT-keepalives are dropped silently (RFC 8229 6)") {
  const Message a = esp(8, 1), b = ike(28, 2);
  const Bytes keepalive = concat({be16(3), Bytes{0xff}});
  for (bool prefix : {false, true}) {
    const Bytes head = encode(prefix, {a});
    const Bytes tail = encode(false, {b});
    const Bytes stream = concat({head, keepalive, keepalive, tail, keepalive});
    const std::vector<Message> both{a, b}, first{a};
    for (bool one_at_a_time : {false, true}) {
      INFO("prefix " << prefix << " one at a time " << one_at_a_time);
      auto d = decoder(prefix);
      const Decoded got =
          one_at_a_time ? feed(d, stream, std::vector<size_t>(stream.size(), 1)) : feed_all(d, stream);
      CHECK(got.status.ok());
      CHECK(got.messages == both);
      CHECK(d.keepalives_dropped() == 3);
      CHECK(d.consumed() == stream.size());
    }
    // A one-octet message that is not 0xFF is neither: fatal, at its octet.
    const Bytes bad = concat({head, be16(3), Bytes{0xfe}, tail});
    auto d = decoder(prefix);
    const Decoded got = feed_all(d, bad);
    CHECK(got.messages == first);
    expect_sticky(d, got, Errc::invalid_value, static_cast<uint32_t>(head.size() + 2), "nat-keepalive");
  }
  // classify_tcp_message says what it is; the caller drops it.
  const Bytes ka{0xff};
  auto c = classify_tcp_message(ka);
  REQUIRE(c);
  CHECK(c->kind == NattKind::keepalive);
  CHECK(c->message.empty());
  CHECK(classify_tcp_message(Bytes{0x00}).error() == Errc::invalid_value);
}

TEST_CASE("TCP decoder: an IKE header cut short inside its message is fatal") {
  for (bool prefix : {false, true}) {
    for (size_t ike_octets : std::vector<size_t>{4, 20, 27}) {
      INFO("prefix " << prefix << " ike octets " << ike_octets);
      const Bytes head = encode(prefix, {esp(8, 1)});
      // The non-ESP marker and fewer than 28 octets of IKE header.
      const Bytes stream = concat({head, be16(2 + 4 + ike_octets), Bytes(4, 0), Bytes(ike_octets, 0x33)});
      for (bool one_at_a_time : {false, true}) {
        auto d = decoder(prefix);
        const Decoded got =
            one_at_a_time ? feed(d, stream, std::vector<size_t>(stream.size(), 1)) : feed_all(d, stream);
        CHECK(got.messages.size() == 1);
        // classify_udp4500 reports the end of the message; offsets count from the stream's start.
        expect_sticky(d, got, Errc::truncated, static_cast<uint32_t>(stream.size()),
                      "ike header after non-esp marker");
      }
    }
  }
}

TEST_CASE("TCP decoder: max_message") {
  // The limit counts the body (marker included), not the length field.
  auto d = decoder(false, 100);
  const Bytes fits = encode(false, {esp(100, 1), ike(96, 2)});
  const Decoded ok = feed_all(d, fits);
  CHECK(ok.status.ok());
  CHECK(ok.messages.size() == 2);

  for (const Message& m : {esp(101, 1), ike(97, 2)}) {
    for (bool one_at_a_time : {false, true}) {
      INFO("kind " << to_string(m.kind) << " one at a time " << one_at_a_time);
      auto small = decoder(false, 100);
      const Bytes stream = encode(false, {esp(8, 3), m});
      const Decoded got = one_at_a_time ? feed(small, stream, std::vector<size_t>(stream.size(), 1))
                                        : feed_all(small, stream);
      CHECK(got.messages.size() == 1);
      expect_sticky(small, got, Errc::invalid_length, 10, "tcp length");
    }
  }

  // The smallest decoder takes the smallest ESP packet only.
  auto tiny = decoder(false, kEspMinHeaderSize);
  const Decoded t = feed(tiny, encode(false, {esp(8, 1), esp(8, 2)}), {5, 5, 5, 5});
  CHECK(t.status.ok());
  CHECK(t.messages.size() == 2);
}

TEST_CASE("TCP decoder: a message of exactly kTcpMaxMessage octets") {
  CHECK(kTcpMaxMessage == 65533);
  for (NattKind kind : {NattKind::esp, NattKind::ike}) {
    INFO(to_string(kind));
    const Message m =
        kind == NattKind::esp ? esp(kTcpMaxMessage, 9) : ike(kTcpMaxMessage - kNonEspMarkerSize, 9);
    const Bytes stream = encode(true, {m, esp(8, 1)});
    CHECK(stream[6] == 0xff);  // the length field at its maximum
    CHECK(stream[7] == 0xff);
    auto whole = decoder(true);
    const Decoded a = feed_all(whole, stream);
    CHECK(a.status.ok());
    REQUIRE(a.messages.size() == 2);
    CHECK(a.messages[0] == m);
    CHECK(a.zero_copy[0]);
    auto chunked = decoder(true);
    const Decoded b = feed(chunked, stream, std::vector<size_t>(stream.size() / 1000 + 1, 1000));
    CHECK(b.status.ok());
    CHECK(b.messages == a.messages);
  }
  // One octet more does not fit the length field: the writer refuses it.
  const Bytes too_long(kTcpMaxMessage + 1, 0x01);
  Bytes out(kTcpMaxMessage + 16);
  ByteWriter w(out);
  encode_tcp_esp(w, too_long);
  CHECK(w.status() == Errc::invalid_length);
  CHECK(w.status().offset() == 0);  // the length field
  ByteWriter w2(out);
  encode_tcp_ike(w2, ByteView(too_long).first(kTcpMaxMessage - kNonEspMarkerSize + 1));
  CHECK(w2.status() == Errc::invalid_length);
}

TEST_CASE("TCP decoder: make refuses unusable limits") {
  CHECK(TcpStreamDecoder::make(false, 0).error() == Errc::invalid_argument);
  CHECK(TcpStreamDecoder::make(true, kEspMinHeaderSize - 1).error() == Errc::invalid_argument);
  CHECK(TcpStreamDecoder::make(false, kTcpMaxMessage + 1).error() == Errc::invalid_argument);
  CHECK(TcpStreamDecoder::make(true, kTcpMaxMessage).ok());
  CHECK(TcpStreamDecoder::make(false, kEspMinHeaderSize).ok());
  auto d = TcpStreamDecoder::make(true);
  REQUIRE(d);
  CHECK(d->status().ok());
  CHECK(d->consumed() == 0);
  ByteView nothing;
  auto r = d->next(&nothing);
  REQUIRE(r);
  CHECK_FALSE(r->has_value());
}
