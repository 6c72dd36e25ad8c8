//! PullMessage, UpdateOffset, GetOffset and QueryOffset: the pull consumer's RPCs over the pull and offset operations.

use super::GrpcFront;
use rocketmq_grpc::v2;
use tonic::{Request, Response, Status};

pub(super) async fn pull_message(
    _front: &GrpcFront,
    _request: Request<v2::PullMessageRequest>,
) -> Result<Response<super::AnswerStream<v2::PullMessageResponse>>, Status> {
    Err(Status::unimplemented("pull_message"))
}

pub(super) async fn update_offset(
    _front: &GrpcFront,
    _request: Request<v2::UpdateOffsetRequest>,
) -> Result<Response<v2::UpdateOffsetResponse>, Status> {
    Err(Status::unimplemented("update_offset"))
}

pub(super) async fn get_offset(
    _front: &GrpcFront,
    _request: Request<v2::GetOffsetRequest>,
) -> Result<Response<v2::GetOffsetResponse>, Status> {
    Err(Status::unimplemented("get_offset"))
}

pub(super) async fn query_offset(
    _front: &GrpcFront,
    _request: Request<v2::QueryOffsetRequest>,
) -> Result<Response<v2::QueryOffsetResponse>, Status> {
    Err(Status::unimplemented("query_offset"))
}
