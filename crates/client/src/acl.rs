//! ACL request signing (RocketMQ `AclClientRPCHook`, spec 5.12).
//!
//! With credentials set, every request the client sends carries the ext fields `AccessKey`,
//! `OnsChannel` (and `SecurityToken` when one is given) and `Signature` =
//! Base64(HMAC-SHA1(secret key, values of all other ext fields in key order, then the body)).
//!
//! What must stay true: the signature is computed last, over exactly the ext fields and body
//! that go on the wire (so nothing may change them after [`SessionCredentials::sign`]); keys
//! are ordered by bytes, which equals Java `TreeMap` order for the ASCII keys RocketMQ uses.

use base64::Engine;
use hmac::{Hmac, KeyInit, Mac};
use rocketmq_protocol::RemotingCommand;
use sha1::Sha1;

pub const ACCESS_KEY: &str = "AccessKey";
pub const SIGNATURE: &str = "Signature";
pub const ONS_CHANNEL: &str = "OnsChannel";
pub const SECURITY_TOKEN: &str = "SecurityToken";

/// Credentials of `set_session_credentials(access_key, secret_key, channel)`.
#[derive(Clone, PartialEq, Eq)]
pub struct SessionCredentials {
    pub access_key: String,
    pub secret_key: String,
    /// Sent as `OnsChannel` (the C++ client's default is `ALIYUN`); omitted when empty.
    pub channel: String,
    /// Sent as `SecurityToken` when set (temporary credentials).
    pub security_token: Option<String>,
}

// The secret key must never reach a log line.
impl std::fmt::Debug for SessionCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionCredentials")
            .field("access_key", &self.access_key)
            .field("secret_key", &"<hidden>")
            .field("channel", &self.channel)
            .field(
                "security_token",
                &self.security_token.as_ref().map(|_| "<hidden>"),
            )
            .finish()
    }
}

impl SessionCredentials {
    pub fn new(access_key: &str, secret_key: &str, channel: &str) -> SessionCredentials {
        SessionCredentials {
            access_key: access_key.to_string(),
            secret_key: secret_key.to_string(),
            channel: channel.to_string(),
            security_token: None,
        }
    }

    /// Adds the credential fields to `cmd` and signs it (replacing an older signature).
    pub fn sign(&self, cmd: &mut RemotingCommand) {
        cmd.ext_fields
            .insert(ACCESS_KEY.to_string(), self.access_key.clone());
        if !self.channel.is_empty() {
            cmd.ext_fields
                .insert(ONS_CHANNEL.to_string(), self.channel.clone());
        }
        if let Some(token) = &self.security_token {
            cmd.ext_fields
                .insert(SECURITY_TOKEN.to_string(), token.clone());
        }
        cmd.ext_fields.remove(SIGNATURE);
        let signature = request_signature(&self.secret_key, &cmd.ext_fields, &cmd.body);
        cmd.ext_fields.insert(SIGNATURE.to_string(), signature);
    }
}

/// Base64(HMAC-SHA1(`secret`, values of `fields` except `Signature` in key order + `body`)).
pub fn request_signature(
    secret: &str,
    fields: &std::collections::BTreeMap<String, String>,
    body: &[u8],
) -> String {
    // HMAC accepts keys of any length, so this cannot fail.
    let mut mac = <Hmac<Sha1> as KeyInit>::new_from_slice(secret.as_bytes())
        .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
    for (key, value) in fields {
        if key != SIGNATURE {
            mac.update(value.as_bytes());
        }
    }
    mac.update(body);
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    #[test]
    fn signs_sorted_values_then_body() {
        let mut cmd = RemotingCommand::new_request(10)
            .with_field("topic", "TopicTest")
            .with_field("queueId", 1)
            .with_body(&b"hello"[..]);
        SessionCredentials::new("ak", "sk", "ALIYUN").sign(&mut cmd);
        assert_eq!(cmd.field(ACCESS_KEY), Some("ak"));
        assert_eq!(cmd.field(ONS_CHANNEL), Some("ALIYUN"));
        // Content "ak" "ALIYUN" "1" "TopicTest" + b"hello" (keys AccessKey < OnsChannel <
        // queueId < topic), computed independently with Python:
        // python3 -c 'import hmac,hashlib,base64;print(base64.b64encode(hmac.new(b"sk",
        //   b"akALIYUN1TopicTesthello",hashlib.sha1).digest()).decode())'
        assert_eq!(cmd.field(SIGNATURE), Some("ssu2RyyOHEZFar1mq2KCMfHTJP8="));
    }

    #[test]
    fn resigning_ignores_the_old_signature_and_empty_channel_is_omitted() {
        let creds = SessionCredentials::new("AKIDEXAMPLE", "secret", "");
        let mut cmd = RemotingCommand::new_request(34).with_field("zone", "LOCAL");
        creds.sign(&mut cmd);
        let first = cmd.field(SIGNATURE).map(str::to_string);
        creds.sign(&mut cmd);
        assert_eq!(cmd.field(SIGNATURE).map(str::to_string), first);
        assert_eq!(cmd.field(ONS_CHANNEL), None);
        // python3 -c 'import hmac,hashlib,base64;print(base64.b64encode(hmac.new(b"secret",
        //   b"AKIDEXAMPLELOCAL",hashlib.sha1).digest()).decode())'
        assert_eq!(first.as_deref(), Some("E8r0dRryJpawMs5vRuIW+kTs9iA="));
    }

    #[test]
    fn signature_changes_with_body_and_fields() {
        let mut fields = BTreeMap::new();
        fields.insert("a".to_string(), "1".to_string());
        let base = request_signature("k", &fields, b"x");
        assert_ne!(base, request_signature("k", &fields, b"y"));
        assert_ne!(base, request_signature("other", &fields, b"x"));
        fields.insert(SIGNATURE.to_string(), "ignored".to_string());
        assert_eq!(base, request_signature("k", &fields, b"x"));
    }

    #[test]
    fn debug_hides_the_secret() {
        let text = format!("{:?}", SessionCredentials::new("ak", "topsecret", "ALIYUN"));
        assert!(!text.contains("topsecret"), "{text}");
    }
}
