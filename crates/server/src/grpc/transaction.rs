//! EndTransaction: commit or roll back a half message.

use super::GrpcFront;
use rocketmq_grpc::v2;
use tonic::{Request, Response, Status};

pub(super) async fn end_transaction(
    _front: &GrpcFront,
    _request: Request<v2::EndTransactionRequest>,
) -> Result<Response<v2::EndTransactionResponse>, Status> {
    Err(Status::unimplemented("end_transaction"))
}
