//! The table that binds a gRPC service's methods to its handlers, so no service writes the
//! delegation by hand.
//!
//! Every protected method's handler receives the authenticated [`crate::auth::Caller`] (the
//! auth layer put it there; its absence is UNAUTHENTICATED) and the request message; a
//! `#[public]` method's handler receives the caller if a valid token came along, else `None`.
//! Handlers return [`crate::error::ServiceResult`]; the one error mapping makes the status.
//!
//! ```text
//! cplds_runtime::grpc_handlers! {
//!     impl CertificationService for CertificationApi => inner {
//!         get_certificate(pb::GetCertificateRequest) -> pb::Certificate => get;
//!         #[public] verify_certificate(pb::VerifyCertificateRequest) -> pb::CertificateVerification => verify;
//!     }
//! }
//! ```
//! expands to the `#[async_trait] impl CertificationService for CertificationApi` whose
//! `get_certificate` calls `self.inner.get(caller, request).await`.

#[macro_export]
macro_rules! grpc_handlers {
    (impl $service:ident for $api:ty => $field:ident {
        $($(#[$access:ident])? $method:ident($req:ty) -> $resp:ty => $handler:ident;)*
    }) => {
        // One expansion: async_trait must see every method's signature, not a macro call.
        #[$crate::kit::reexport::async_trait]
        impl $service for $api {
            $(
                async fn $method(
                    &self,
                    request: ::tonic::Request<$req>,
                ) -> ::std::result::Result<::tonic::Response<$resp>, ::tonic::Status> {
                    let caller = $crate::grpc_handlers!(@caller $($access)? request);
                    $crate::error::reply(self.$field.$handler(caller, request.into_inner()).await)
                }
            )*
        }
    };
    (@caller public $request:ident) => {
        $request.extensions().get::<$crate::auth::Caller>().cloned()
    };
    (@caller $request:ident) => {
        $crate::auth::Caller::of(&$request)?.clone()
    };
}

/// Adds a generated tonic server to a node with the configured message limits: the one place
/// `server.max_message_bytes` is applied, so no service can forget it.
///
/// ```text
/// cplds_runtime::add_grpc!(mount, ctx, RegistrationServiceServer::new(api));
/// ```
#[macro_export]
macro_rules! add_grpc {
    ($mount:expr, $ctx:expr, $server:expr) => {{
        let max = $ctx.config.server.max_message_bytes;
        $mount.add_grpc(
            $server
                .max_decoding_message_size(max)
                .max_encoding_message_size(max),
        )
    }};
}
