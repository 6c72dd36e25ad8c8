//! DELETE_EXPIRED_COMMITLOG (329) and CLEAN_EXPIRED_CONSUMEQUEUE (306): a retention pass at
//! once instead of at the store's next tick (the store's `clean_now`: expired commit-log
//! segments, the disk watermarks, consume queues raised to the new minimum). Both answer
//! SUCCESS with no body, as the Java broker does; a store failure is a SYSTEM_ERROR whose
//! remark says what failed.

use super::answer::error;
use crate::broker::services::Broker;
use rocketmq_protocol::code::response_code as resp;
use rocketmq_protocol::RemotingCommand;

pub(super) async fn clean_now(broker: &Broker, req: &RemotingCommand) -> RemotingCommand {
    let store = broker.store.clone();
    match tokio::task::spawn_blocking(move || store.clean_now()).await {
        Ok(Ok(report)) => {
            tracing::info!("retention pass on request {}: {report:?}", req.code);
            RemotingCommand::response_to(req)
        }
        Ok(Err(e)) => error(
            req,
            resp::SYSTEM_ERROR,
            format!("retention pass failed: {e}"),
        ),
        Err(e) => error(
            req,
            resp::SYSTEM_ERROR,
            format!("retention pass failed: {e}"),
        ),
    }
}
