#pragma once

#include <algorithm>
#include <array>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <unordered_map>
#include <vector>

namespace barge {

// A set of catalog row ids held as bits, 512 bytes for each block of 4,096
// consecutive ids that holds any. Row ids are handed out in order, so the ids
// of one run's files are dense: ten million of them take about 1.3 MiB, where
// a node per id (std::set, std::unordered_set) takes some 400 MiB (SPEC §8).
// Sparse ids (a catalog edited by hand) cost up to a block each.
class IdBits {
public:
    // Adds id; whether it was not there yet.
    bool insert(int64_t id) {
        uint64_t& word = m_blocks[id >> block_shift][word_of(id)];
        uint64_t bit = bit_of(id);
        if (word & bit) {
            return false;
        }
        word |= bit;
        ++m_size;
        return true;
    }
    bool contains(int64_t id) const {
        auto found = m_blocks.find(id >> block_shift);
        return found != m_blocks.end() && (found->second[word_of(id)] & bit_of(id)) != 0;
    }
    int64_t size() const { return m_size; }
    // Calls fn(id) for each id, in ascending order.
    template <class Fn>
    void each(Fn&& fn) const {
        std::vector<int64_t> blocks;
        blocks.reserve(m_blocks.size());
        for (const auto& block : m_blocks) {
            blocks.push_back(block.first);
        }
        std::sort(blocks.begin(), blocks.end());
        for (int64_t b : blocks) {
            const auto& words = m_blocks.find(b)->second;
            for (std::size_t w = 0; w < words.size(); ++w) {
                for (uint64_t bits = words[w]; bits != 0; bits &= bits - 1) {
                    fn(b * (int64_t{1} << block_shift) + static_cast<int64_t>(w * 64) + std::countr_zero(bits));
                }
            }
        }
    }

private:
    static constexpr int block_shift = 12; // 4,096 ids per block
    static constexpr int64_t block_mask = (int64_t{1} << block_shift) - 1;
    static std::size_t word_of(int64_t id) { return static_cast<std::size_t>((id & block_mask) >> 6); }
    static uint64_t bit_of(int64_t id) { return uint64_t{1} << (id & 63); }

    std::unordered_map<int64_t, std::array<uint64_t, (std::size_t{1} << block_shift) / 64>> m_blocks;
    int64_t m_size = 0;
};

} // namespace barge
