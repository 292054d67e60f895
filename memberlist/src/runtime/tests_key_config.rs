//! Where a node's keys come from: the configuration alone (the facade supplies Go's
//! AES-GCM), or a custom plugin that is handed the configuration's keys and holds only them.
#![allow(clippy::unwrap_used)]

use crate::encryption::{Encryption, Keyring, SecretKey};
use crate::runtime::{Config, Memberlist};

use super::tests::Network;

fn key(byte: u8) -> SecretKey {
    SecretKey::new(&[byte; 32]).unwrap()
}

#[cfg(feature = "aes-gcm")]
#[tokio::test(start_paused = true)]
async fn keys_in_the_config_alone_encrypt_with_aes_gcm() {
    let network = Network::default();
    let start = |name: &'static str, port: u16, k: u8| {
        let config = Config::local(name).with_keyring(Keyring::new(key(k)));
        Memberlist::builder(config)
            .transport(network.endpoint(port))
            .start()
    };
    let a = start("a", 7946, 1).await.expect("keys alone are enough");
    let b = start("b", 7947, 1).await.unwrap();
    let stranger = start("c", 7948, 2).await.unwrap();
    let seed = a.advertise_addr().to_string();

    b.join([seed.as_str()]).await.expect("the same key joins");
    let err = stranger.join([seed.as_str()]).await.unwrap_err();
    assert_eq!(err.failures().len(), 1, "{err}");
    assert_eq!(a.keys().await.unwrap().primary(), &key(1));
    assert_eq!(a.members().len(), 2);
}

#[tokio::test(start_paused = true)]
async fn a_custom_plugin_holds_exactly_the_configured_keys() {
    #[cfg(feature = "aes-gcm")]
    let plugin = std::sync::Arc::new(memberlist_aes_gcm::AesGcm::new(Keyring::with_keys(
        key(9),
        [key(8)],
    )));
    #[cfg(not(feature = "aes-gcm"))]
    let plugin = super::tests_keys::TestCipher::new(Keyring::with_keys(key(9), [key(8)]));
    let config = Config::local("a").with_keyring(Keyring::with_keys(key(1), [key(2)]));
    let node = Memberlist::builder(config)
        .transport(Network::default().endpoint(7946))
        .encryption_shared(plugin.clone())
        .start()
        .await
        .unwrap();

    let held = plugin.keyring();
    assert_eq!(held.primary(), &key(1));
    let mut keys = held.keys().to_vec();
    keys.sort_by_key(|k| k.as_bytes().to_vec());
    assert_eq!(keys, [key(1), key(2)], "the plugin's own keys are gone");
    assert_eq!(node.keys().await.unwrap().primary(), &key(1));
}

#[tokio::test(start_paused = true)]
async fn a_custom_plugin_without_configured_keys_keeps_its_own() {
    let plugin = super::tests_keys::TestCipher::new(Keyring::new(key(5)));
    let node = Memberlist::builder(Config::local("a"))
        .transport(Network::default().endpoint(7946))
        .encryption_shared(plugin.clone())
        .start()
        .await
        .unwrap();
    assert_eq!(node.keys().await.unwrap().primary(), &key(5));
}
