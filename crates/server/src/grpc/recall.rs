//! RecallMessage: cancel a timer message before it is delivered.

use super::GrpcFront;
use rocketmq_grpc::v2;
use tonic::{Request, Response, Status};

pub(super) async fn recall_message(
    _front: &GrpcFront,
    _request: Request<v2::RecallMessageRequest>,
) -> Result<Response<v2::RecallMessageResponse>, Status> {
    Err(Status::unimplemented("recall_message"))
}
