//! The message request mode (PULL or POP) set per topic and consumer group through
//! SET_MESSAGE_REQUEST_MODE, read by QUERY_ASSIGNMENT (see `ops::assignment`).
//!
//! What must stay true: every change is written to the store's configs as
//! `messageRequestMode.json` (`{"topic@group": body}`, Apache's file name) before it is
//! answered, and read back at start; an unreadable file is ignored with a warning (every
//! pair then reads as PULL, the default), never a reason not to start.

use crate::broker::error::OpError;
use rocketmq_protocol::body::assignment::SetMessageRequestModeRequestBody;
use rocketmq_store::MessageStore;
use std::collections::BTreeMap;
use std::sync::Mutex;

/// The store config file the modes are kept in (Apache's file name).
const MODES_CONFIG: &str = "messageRequestMode";

/// The request mode set per topic and group (`topic@group`), loaded from the store.
#[derive(Default)]
pub struct MessageRequestModes {
    modes: Mutex<BTreeMap<String, SetMessageRequestModeRequestBody>>,
}

fn key(topic: &str, group: &str) -> String {
    format!("{topic}@{group}")
}

impl MessageRequestModes {
    /// The modes the store kept; none when it has no (readable) file.
    pub fn load(store: &dyn MessageStore) -> Self {
        let modes = store
            .load_config(MODES_CONFIG)
            .and_then(|json| match serde_json::from_str(&json) {
                Ok(m) => Some(m),
                Err(e) => {
                    tracing::warn!("ignoring unreadable {MODES_CONFIG}.json: {e}");
                    None
                }
            })
            .unwrap_or_default();
        MessageRequestModes {
            modes: Mutex::new(modes),
        }
    }

    pub fn get(&self, topic: &str, group: &str) -> Option<SetMessageRequestModeRequestBody> {
        let modes = self.modes.lock().unwrap_or_else(|p| p.into_inner());
        modes.get(&key(topic, group)).cloned()
    }

    pub fn set(
        &self,
        store: &dyn MessageStore,
        body: SetMessageRequestModeRequestBody,
    ) -> Result<(), OpError> {
        let mut modes = self.modes.lock().unwrap_or_else(|p| p.into_inner());
        modes.insert(key(&body.topic, &body.consumer_group), body);
        let json = serde_json::to_string(&*modes)
            .map_err(|e| OpError::system(format!("cannot encode request modes: {e}")))?;
        store.save_config(MODES_CONFIG, &json)?;
        Ok(())
    }
}
