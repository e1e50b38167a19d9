#include "barge/crypto/drive_keys.hpp"

namespace barge {

std::shared_ptr<const DriveKeys> DriveKeys::derive(SecretKey data, std::string drive_id) {
    auto keys = std::make_shared<DriveKeys>(DriveKeys{
        std::move(drive_id), std::move(data), SecretKey::zeroed(), SecretKey::zeroed(),
        SecretKey::zeroed(), SecretKey::zeroed()});
    keys->pieces = derive_subkey(keys->data, Subkey::pieces);
    keys->names = derive_subkey(keys->data, Subkey::piece_names);
    keys->catalog = derive_subkey(keys->data, Subkey::catalog);
    keys->logs = derive_subkey(keys->data, Subkey::logs);
    return keys;
}

SecretKey copy_key(const SecretKey& key) {
    return SecretKey::from_bytes(key.bytes());
}

} // namespace barge
