//! AckMessage, ChangeInvisibleDuration and ForwardMessageToDeadLetterQueue over the POP engine.

use super::GrpcFront;
use rocketmq_grpc::v2;
use tonic::{Request, Response, Status};

pub(super) async fn ack_message(
    _front: &GrpcFront,
    _request: Request<v2::AckMessageRequest>,
) -> Result<Response<v2::AckMessageResponse>, Status> {
    Err(Status::unimplemented("ack_message"))
}

pub(super) async fn change_invisible_duration(
    _front: &GrpcFront,
    _request: Request<v2::ChangeInvisibleDurationRequest>,
) -> Result<Response<v2::ChangeInvisibleDurationResponse>, Status> {
    Err(Status::unimplemented("change_invisible_duration"))
}

pub(super) async fn forward_message_to_dead_letter_queue(
    _front: &GrpcFront,
    _request: Request<v2::ForwardMessageToDeadLetterQueueRequest>,
) -> Result<Response<v2::ForwardMessageToDeadLetterQueueResponse>, Status> {
    Err(Status::unimplemented(
        "forward_message_to_dead_letter_queue",
    ))
}
