//! RecallMessage: cancel a timer message before it is delivered. This broker's timer service
//! has no cancellation (Apache's broker stores a `TIMER_DEL_UNIQKEY` marker that the wheel
//! matches), so the request is answered as Apache's proxy answers it for a broker without
//! the recall operation: NOT_IMPLEMENTED (from the broker's REQUEST_CODE_NOT_SUPPORTED),
//! after the same topic check. docs/compatibility.md lists it.

use super::consumer_args::topic_name;
use super::status::status;
use super::GrpcFront;
use rocketmq_grpc::v2;
use tonic::{Request, Response, Status};

pub(super) async fn recall_message(
    _front: &GrpcFront,
    request: Request<v2::RecallMessageRequest>,
) -> Result<Response<v2::RecallMessageResponse>, Status> {
    let req = request.into_inner();
    let refusal = match topic_name(req.topic.as_ref()) {
        Err(s) => s,
        Ok(topic) => status(
            v2::Code::NotImplemented,
            format!(
                "recalling a timer message (topic {topic}) is not supported by this broker: \
                 consume and ignore the message instead"
            ),
        ),
    };
    Ok(Response::new(v2::RecallMessageResponse {
        status: Some(refusal),
        message_id: String::new(),
    }))
}
