//! SendMessage: normal, FIFO (message group), delay/timer and transactional messages.

use super::GrpcFront;
use rocketmq_grpc::v2;
use tonic::{Request, Response, Status};

pub(super) async fn send_message(
    _front: &GrpcFront,
    _request: Request<v2::SendMessageRequest>,
) -> Result<Response<v2::SendMessageResponse>, Status> {
    Err(Status::unimplemented("send_message"))
}
