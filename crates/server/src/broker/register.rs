//! Registration of the broker with the name server: at start, on every topic change and every
//! `register_interval`, over one long-lived connection (the name server drops a broker whose
//! registering connection closes).

use super::services::Broker;
use crate::remoting::client::RemotingClient;
use rocketmq_protocol::body::register::{
    DataVersion, RegisterBrokerBody, TopicConfigSerializeWrapper,
};
use rocketmq_protocol::code::{request_code, response_code};
use rocketmq_protocol::RemotingCommand;
use std::io;
use std::sync::Arc;
use std::time::Duration;

const REGISTER_TIMEOUT: Duration = Duration::from_secs(5);

impl Broker {
    /// The registration request and the topic data version it carries (read before the
    /// topic table, so the table holds every change up to it).
    fn register_request(&self) -> (RemotingCommand, i64) {
        let version = self.topics.data_version();
        let body = RegisterBrokerBody {
            filter_server_list: Vec::new(),
            topic_config_serialize_wrapper: TopicConfigSerializeWrapper {
                data_version: DataVersion {
                    counter: version,
                    state_version: 0,
                    timestamp: self.started_at_millis,
                },
                topic_config_table: self
                    .topics
                    .all()
                    .into_iter()
                    .map(|t| (t.topic_name.clone(), t))
                    .collect(),
            },
        }
        .encode(false);
        let crc = crc32fast::hash(&body) & 0x7FFF_FFFF;
        let ha = format!(
            "{}:{}",
            self.store_host.ip(),
            self.store_host.port().wrapping_add(1)
        );
        let request = RemotingCommand::new_request(request_code::REGISTER_BROKER)
            .with_field("brokerName", &self.config.broker_name)
            .with_field("brokerAddr", &self.broker_addr)
            .with_field("clusterName", &self.config.cluster_name)
            .with_field("haServerAddr", ha)
            .with_field("brokerId", 0)
            .with_field("enableActingMaster", false)
            .with_field("compressed", false)
            .with_field("bodyCrc32", crc)
            .with_body(body);
        (request, version)
    }

    /// One registration round trip; on success, sends waiting for a topic they created to be
    /// known (see `registered_version`) are released.
    pub async fn register_once(&self, client: &RemotingClient) -> io::Result<()> {
        let (request, version) = self.register_request();
        let resp = client.invoke(request, REGISTER_TIMEOUT).await?;
        if resp.code != response_code::SUCCESS {
            return Err(io::Error::other(format!(
                "name server refused the registration: code {} {}",
                resp.code,
                resp.remark.unwrap_or_default()
            )));
        }
        self.registered_version.send_if_modified(|v| {
            let newer = version > *v;
            if newer {
                *v = version;
            }
            newer
        });
        Ok(())
    }

    /// Re-registers on every topic change and every `register_interval` until shutdown,
    /// then unregisters.
    pub async fn run_registration(self: Arc<Self>, client: Arc<RemotingClient>) {
        let mut shutdown = self.shutdown.clone();
        let mut ticker = tokio::time::interval(self.config.register_interval);
        ticker.tick().await;
        loop {
            tokio::select! {
                _ = ticker.tick() => {}
                _ = self.topics_changed.notified() => {}
                _ = crate::util::until_true(&mut shutdown) => break,
            }
            if let Err(e) = self.register_once(&client).await {
                tracing::warn!(namesrv = %client.addr(), "broker registration failed: {e}");
            }
        }
        let unregister = RemotingCommand::new_request(request_code::UNREGISTER_BROKER)
            .with_field("brokerName", &self.config.broker_name)
            .with_field("brokerAddr", &self.broker_addr)
            .with_field("clusterName", &self.config.cluster_name)
            .with_field("brokerId", 0);
        let _ = client.invoke(unregister, Duration::from_secs(1)).await;
        client.close().await;
    }
}
