// SPDX-License-Identifier: Apache-2.0
// IKEv2 message fragmentation (RFC 7383): splitting a protected message into
// Encrypted Fragment (SKF) messages that fit the path, and reassembling
// received fragments. Each fragment is protected on its own, and the
// receiver verifies each one before storing it (2.6), so only the peer that
// holds the keys can make us keep state.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>

#include "ipsec/bytes/bytes.hpp"
#include "ipsec/bytes/writer.hpp"
#include "ipsec/core/limits.hpp"
#include "ipsec/core/result.hpp"
#include "ipsec/crypto/rng.hpp"
#include "ipsec/wire/ike_header.hpp"
#include "ipsec/wire/ike_message.hpp"
#include "ipsec/wire/ike_payloads.hpp"
#include "ipsec/wire/ike_sk.hpp"

namespace ipsec::wire {

// Size of the SKF header in front of the IV: generic header, Fragment
// Number, Total Fragments.
inline constexpr size_t kSkfHeaderSize = 8;

// OpenedFragment: one verified, decrypted fragment.
struct OpenedFragment {
  uint16_t number = 0;
  uint16_t total = 0;
  PayloadType first = PayloadType::none;  // fragment 1: the first inner payload
  ByteView plaintext;                     // a view into the datagram, padding removed
};

// open_fragment: verify and decrypt the SKF payload of `msg` (parsed from
// exactly `datagram`) in place. The associated data or MAC input covers the
// IKE header and the SKF header with Fragment Number and Total Fragments
// (RFC 7383 2.5). Errors: invalid_argument (no SKF payload, or msg was not
// parsed from datagram); decode_skf's and SkTransform::open's errors;
// invalid_value ("skf.next") when fragment 1 names no first payload.
[[nodiscard]] inline Result<OpenedFragment> open_fragment(SkTransform& keys, MutableByteView datagram,
                                                          const ParsedMessage& msg) noexcept {
  const PayloadView* skf = msg.protected_payload();
  if (skf == nullptr || skf->type != PayloadType::skf) return Errc::invalid_argument;
  const size_t body_at = size_t{skf->offset} + kGenericPayloadHeaderSize;
  if (body_at > datagram.size() || datagram.size() - body_at != skf->body.size() ||
      datagram.subspan(body_at).data() != skf->body.data()) {
    return Errc::invalid_argument;
  }
  auto header = decode_skf(*skf);
  if (!header) return header.status();
  OpenedFragment f;
  f.number = header->number;
  f.total = header->total;
  // 2.5: Next Payload names the first inner payload in fragment 1 and is 0
  // in the others (ignored there).
  if (f.number == 1) {
    if (skf->next == PayloadType::none) return Status(Errc::invalid_value, skf->offset, "skf.next");
    f.first = skf->next;
  }
  auto plain = keys.open(datagram, size_t{skf->offset} + kSkfHeaderSize);
  if (!plain) return plain.status();
  f.plaintext = *plain;
  return f;
}

// ReassembledMessage: the inner payload chain of a complete message, to be
// parsed with parse_payload_chain(first, chain.view(), 0, true, ...); error
// offsets are then offsets into the chain.
struct ReassembledMessage {
  uint32_t message_id = 0;
  bool response = false;
  PayloadType first = PayloadType::none;
  ByteBuffer chain;
};

// ReassemblyBudget: octets of stored fragments shared by many reassemblers
// (one per IKE SA). Fragments authenticate with keys from IKE_SA_INIT, which
// a peer that has not authenticated holds too (RFC 7383 5): without a shared
// bound, every half-open IKE SA could hold a whole message in reassembly.
// The owner keeps it alive longer than every reassembler that uses it.
struct ReassemblyBudget {
  size_t limit = 0;
  size_t used = 0;
};

// FragmentReassembler: the fragments of up to max_pending messages of one IKE
// SA (requests and responses are kept apart). Control plane: it allocates one
// buffer per stored fragment, bounded by the limits and, when given one, by
// a shared budget. The host discards stale reassemblies on its own timer
// (discard / clear), as RFC 7383 2.6 leaves the timeout to the
// implementation.
class FragmentReassembler {
 public:
  explicit FragmentReassembler(size_t max_pending = limits::kMaxPendingReassemblies,
                               size_t max_size = limits::kMaxReassembledSize,
                               ReassemblyBudget* budget = nullptr) noexcept
      : max_pending_(max_pending < limits::kMaxPendingReassemblies ? max_pending
                                                                   : limits::kMaxPendingReassemblies),
        max_size_(max_size < limits::kMaxReassembledSize ? max_size : limits::kMaxReassembledSize),
        budget_(budget) {}
  // Stored fragments are charged to the budget: the reassembler stays where
  // it was made (no copies or moves that would charge or refund twice).
  FragmentReassembler(const FragmentReassembler&) = delete;
  FragmentReassembler& operator=(const FragmentReassembler&) = delete;
  ~FragmentReassembler() { clear(); }

  // set_budget: charge what is held, and what comes, to `budget` (nullptr:
  // none) instead of the current one.
  void set_budget(ReassemblyBudget* budget) noexcept {
    const size_t held = bytes_held();
    if (budget_ != nullptr) budget_->used -= held;
    budget_ = budget;
    if (budget_ != nullptr) budget_->used += held;
  }
  // bytes_held: octets of fragments stored.
  [[nodiscard]] size_t bytes_held() const noexcept {
    size_t n = 0;
    for (const Pending& p : pending_) n += p.bytes;
    return n;
  }

  // add: store a fragment of the message `header` belongs to. Returns the
  // complete message when this fragment completes it, std::nullopt while
  // fragments are missing or when the fragment is ignored: a duplicate, or
  // one with a smaller Total Fragments than those already held (2.6: the
  // sender re-fragmented for a smaller MTU, so a larger total wins and
  // restarts reassembly). Errors (the fragment is dropped): limit_exceeded
  // when max_pending messages are already being reassembled (nothing is
  // evicted: every stored fragment was authenticated) or the message would
  // exceed max_size (that reassembly is abandoned); out_of_memory.
  [[nodiscard]] Result<std::optional<ReassembledMessage>> add(const IkeHeader& header,
                                                              const OpenedFragment& fragment) noexcept {
    if (fragment.number == 0 || fragment.number > fragment.total ||
        fragment.total > limits::kMaxIkeFragments) {
      return Errc::invalid_argument;
    }
    Pending* p = find(header.message_id, header.response());
    if (p != nullptr && fragment.total < p->total) return std::optional<ReassembledMessage>{};
    if (p != nullptr && fragment.total > p->total) release(*p);
    if (p == nullptr || !p->active) {
      if (p == nullptr) p = free_slot();
      if (p == nullptr) return Status(Errc::limit_exceeded, Status::kNoOffset, "reassembly.pending");
      p->active = true;
      p->message_id = header.message_id;
      p->response = header.response();
      p->total = fragment.total;
    }
    const size_t index = fragment.number - 1u;
    if (p->received[index]) return std::optional<ReassembledMessage>{};
    if (p->bytes + fragment.plaintext.size() > max_size_) {
      release(*p);
      return Status(Errc::limit_exceeded, Status::kNoOffset, "reassembly.size");
    }
    // Over the shared budget the fragment is dropped and what is held
    // stays: the sender retransmits it once others' reassemblies end.
    if (budget_ != nullptr && budget_->used + fragment.plaintext.size() > budget_->limit) {
      if (p->count == 0) p->reset();
      return Status(Errc::limit_exceeded, Status::kNoOffset, "reassembly.budget");
    }
    auto copy = ByteBuffer::copy_of(fragment.plaintext);
    if (!copy) return copy.status();
    p->fragments[index] = std::move(*copy);
    p->received[index] = true;
    p->bytes += fragment.plaintext.size();
    if (budget_ != nullptr) budget_->used += fragment.plaintext.size();
    ++p->count;
    if (fragment.number == 1) p->first = fragment.first;
    if (p->count < p->total) return std::optional<ReassembledMessage>{};

    auto chain = ByteBuffer::allocate(p->bytes);
    if (!chain) return chain.status();
    ByteWriter w(chain->mutable_view());
    for (size_t i = 0; i < p->total; ++i) w.put_bytes(p->fragments[i].view());
    ReassembledMessage m{p->message_id, p->response, p->first, std::move(*chain)};
    release(*p);
    return std::optional<ReassembledMessage>(std::move(m));
  }

  // discard: forget a partial message (its exchange ended or timed out).
  void discard(uint32_t message_id, bool response) noexcept {
    if (Pending* p = find(message_id, response)) release(*p);
  }
  void clear() noexcept {
    for (Pending& p : pending_) release(p);
  }
  // pending: messages with fragments held.
  [[nodiscard]] size_t pending() const noexcept {
    size_t n = 0;
    for (const Pending& p : pending_) n += p.active ? 1 : 0;
    return n;
  }

 private:
  struct Pending {
    bool active = false;
    bool response = false;
    uint32_t message_id = 0;
    uint16_t total = 0;
    uint16_t count = 0;
    size_t bytes = 0;
    PayloadType first = PayloadType::none;
    std::array<bool, limits::kMaxIkeFragments> received{};
    std::array<ByteBuffer, limits::kMaxIkeFragments> fragments{};

    void reset() noexcept {
      for (size_t i = 0; i < total; ++i) fragments[i] = ByteBuffer();
      received.fill(false);
      active = false;
      total = count = 0;
      bytes = 0;
      first = PayloadType::none;
    }
  };

  // release: forget a message's fragments and refund them to the budget.
  void release(Pending& p) noexcept {
    if (budget_ != nullptr) budget_->used -= p.bytes;
    p.reset();
  }

  Pending* find(uint32_t message_id, bool response) noexcept {
    for (size_t i = 0; i < max_pending_; ++i) {
      if (pending_[i].active && pending_[i].message_id == message_id && pending_[i].response == response) {
        return &pending_[i];
      }
    }
    return nullptr;
  }
  Pending* free_slot() noexcept {
    for (size_t i = 0; i < max_pending_; ++i) {
      if (!pending_[i].active) return &pending_[i];
    }
    return nullptr;
  }

  size_t max_pending_;
  size_t max_size_;
  ReassemblyBudget* budget_;
  std::array<Pending, limits::kMaxPendingReassemblies> pending_{};
};

// Fragmenter: splits a plaintext payload chain (which must outlive it: the
// fragmenter keeps a view) into SKF messages of at most
// max_message_size octets each (the IKE message; the host subtracts IP, UDP
// and the non-ESP marker from its path MTU: RFC 7383 2.5.1 suggests 1280
// octets of IPv6 or 576 of IPv4 datagram when the MTU is unknown).
class Fragmenter {
 public:
  // make: Errors: invalid_argument (the chain is empty, or no plaintext fits
  // in a fragment of that size), limit_exceeded (more than kMaxIkeFragments
  // fragments would be needed).
  [[nodiscard]] static Result<Fragmenter> make(const IkeHeader& header, PayloadType first, ByteView chain,
                                               const SkTransform& keys, size_t max_message_size) noexcept {
    const size_t fixed = kIkeHeaderSize + kSkfHeaderSize + keys.iv_size() + keys.icv_size();
    if (chain.empty() || first == PayloadType::none || max_message_size <= fixed + 1)
      return Errc::invalid_argument;
    // Whole cipher blocks, one octet of which is Pad Length.
    const size_t room = (max_message_size - fixed) / keys.block_size() * keys.block_size();
    if (room < 2) return Errc::invalid_argument;
    const size_t per_fragment = room - 1;
    const size_t count = (chain.size() + per_fragment - 1) / per_fragment;
    if (count > limits::kMaxIkeFragments) return Errc::limit_exceeded;
    return Fragmenter(header, first, chain, per_fragment, static_cast<uint16_t>(count));
  }

  [[nodiscard]] uint16_t count() const noexcept { return count_; }
  [[nodiscard]] size_t fragment_plaintext_size() const noexcept { return per_fragment_; }

  // build: fragment `number` (1 to count()) into storage. Errors:
  // invalid_argument (number out of range), buffer_too_small, backend errors.
  [[nodiscard]] Result<ByteView> build(uint16_t number, SkTransform& keys, crypto::Rng& rng,
                                       MutableByteView storage) const noexcept {
    if (number == 0 || number > count_) return Errc::invalid_argument;
    const size_t start = (number - 1u) * per_fragment_;
    const size_t size = chain_.size() - start < per_fragment_ ? chain_.size() - start : per_fragment_;
    ByteWriter w(storage);
    const IkeHeaderSlots slots = write_ike_header(w, header_);
    w.patch(slots.next_payload, static_cast<uint8_t>(PayloadType::skf));
    w.put_u8(number == 1 ? static_cast<uint8_t>(first_) : 0);
    w.put_u8(0);
    const auto skf_length = w.reserve_u16();
    w.put_u16(number);
    w.put_u16(count_);
    const size_t iv_offset = w.needed();
    w.put_zeros(keys.iv_size());
    w.put_bytes(chain_.subspan(start, size));
    w.put_zeros(keys.encrypted_size(size) - size + keys.icv_size());
    w.patch_length_since(skf_length, kIkeHeaderSize);
    w.patch_length_since(slots.length, 0);
    if (!w.ok()) return w.status();
    const MutableByteView message = storage.first(w.size());
    IPSEC_TRY(keys.seal(message, iv_offset, size, rng));
    return ByteView(message);
  }

 private:
  Fragmenter(const IkeHeader& header, PayloadType first, ByteView chain, size_t per_fragment,
             uint16_t count) noexcept
      : header_(header), first_(first), chain_(chain), per_fragment_(per_fragment), count_(count) {}

  IkeHeader header_;
  PayloadType first_;
  ByteView chain_;
  size_t per_fragment_;
  uint16_t count_;
};

}  // namespace ipsec::wire
