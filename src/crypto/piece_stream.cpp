#include "barge/crypto/piece_stream.hpp"

#include "barge/util/error.hpp"

namespace barge {

EncryptingSink::EncryptingSink(const SecretKey& pieces_key) : m_enc(pieces_key, unnamed_piece) {}

void EncryptingSink::begin(ByteSink& to) {
    m_enc.reset(unnamed_piece);
    m_to = &to;
    m_plain = m_written = 0;
}

void EncryptingSink::write_at(const char* buf, size_t n, int64_t offset) {
    if (!m_to || offset != m_plain) {
        throw Error("EncryptingSink: writes must follow each other");
    }
    size_t need = PieceEncryptor::max_update_output(n);
    if (m_out.size() < need) {
        m_out.resize(need);
    }
    size_t w = m_enc.update({reinterpret_cast<const uint8_t*>(buf), n}, m_out);
    if (w > 0) {
        m_to->write_at(reinterpret_cast<const char*>(m_out.data()), w, m_written);
    }
    m_plain += static_cast<int64_t>(n);
    m_written += static_cast<int64_t>(w);
}

int64_t EncryptingSink::finish() {
    if (!m_to) {
        throw Error("EncryptingSink::finish without begin");
    }
    if (m_out.size() < PieceEncryptor::max_finish_output) {
        m_out.resize(PieceEncryptor::max_finish_output);
    }
    size_t w = m_enc.finish(m_out);
    m_to->write_at(reinterpret_cast<const char*>(m_out.data()), w, m_written);
    m_written += static_cast<int64_t>(w);
    m_to = nullptr;
    return m_written;
}

PieceDecryptFilter::PieceDecryptFilter(const SecretKey& pieces_key)
    : m_key(SecretKey::from_bytes(pieces_key.bytes())), m_dec(m_key, unnamed_piece) {}

void PieceDecryptFilter::start() {
    m_dec.reset(unnamed_piece);
}

std::span<const uint8_t> PieceDecryptFilter::update(std::span<const uint8_t> in) {
    size_t need = PieceDecryptor::max_update_output(in.size());
    if (m_out.size() < need) {
        m_out.resize(need);
    }
    size_t n = m_dec.update(in, m_out);
    return {m_out.data(), n};
}

std::span<const uint8_t> PieceDecryptFilter::finish() {
    if (m_out.size() < PieceDecryptor::max_finish_output) {
        m_out.resize(PieceDecryptor::max_finish_output);
    }
    size_t n = m_dec.finish(m_out);
    return {m_out.data(), n};
}

} // namespace barge
