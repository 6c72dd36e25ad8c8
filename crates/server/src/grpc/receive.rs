//! ReceiveMessage: a POP with long polling, answered as a stream (a status, the messages, the
//! delivery timestamp).

use super::{AnswerStream, GrpcFront};
use rocketmq_grpc::v2;
use tonic::{Request, Response, Status};

pub(super) async fn receive_message(
    _front: &GrpcFront,
    _request: Request<v2::ReceiveMessageRequest>,
) -> Result<Response<AnswerStream<v2::ReceiveMessageResponse>>, Status> {
    Err(Status::unimplemented("receive_message"))
}
