//! The bad-input sweep: every RPC of every service, read from the contracts' descriptors, called
//! with bad requests (empty, oversized strings, out-of-range numbers and timestamps, unknown enum
//! values) by nobody, by each role, and by every role at once. Whatever the call, the answer is a
//! clear status: never `INTERNAL` or `UNKNOWN` (a panic or an unmapped error), never a dropped
//! connection, and nothing changes (no event, no history row written).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::{collections::HashMap, str::FromStr, sync::Arc};

use cplds_runtime::{
    auth::Role,
    host::ServiceModule,
    testing::{TestNode, TestNodeOptions},
};
use prost::{
    Message as _,
    bytes::{Buf, BufMut},
    encoding::{WireType, encode_key, encode_varint},
};
use prost_types::{
    DescriptorProto, FileDescriptorSet,
    field_descriptor_proto::{Label, Type},
};
use sea_orm::{ConnectionTrait, DatabaseConnection, Statement};
use tonic::{Code, codec::Codec, transport::Channel};

/// Passes the request's bytes through untouched: the sweep writes the wire format itself.
#[derive(Clone, Copy, Default)]
struct Raw;

impl Codec for Raw {
    type Encode = Vec<u8>;
    type Decode = Vec<u8>;
    type Encoder = Raw;
    type Decoder = Raw;

    fn encoder(&mut self) -> Raw {
        Raw
    }

    fn decoder(&mut self) -> Raw {
        Raw
    }
}

impl tonic::codec::Encoder for Raw {
    type Item = Vec<u8>;
    type Error = tonic::Status;

    fn encode(
        &mut self,
        item: Vec<u8>,
        dst: &mut tonic::codec::EncodeBuf<'_>,
    ) -> Result<(), tonic::Status> {
        dst.put_slice(&item);
        Ok(())
    }
}

impl tonic::codec::Decoder for Raw {
    type Item = Vec<u8>;
    type Error = tonic::Status;

    fn decode(
        &mut self,
        src: &mut tonic::codec::DecodeBuf<'_>,
    ) -> Result<Option<Vec<u8>>, tonic::Status> {
        let mut out = vec![0; src.remaining()];
        src.copy_to_slice(&mut out);
        Ok(Some(out))
    }
}

/// One RPC of the contracts.
struct Method {
    path: String,
    input: String,
    server_streaming: bool,
}

/// The messages of the contracts by full name (`.cplds.v1.SubmitCandidacyRequest`).
type Messages = HashMap<String, DescriptorProto>;

fn contracts() -> (Vec<Method>, Messages) {
    let fds = FileDescriptorSet::decode(cplds_proto::FILE_DESCRIPTOR_SET).unwrap();
    let mut methods = Vec::new();
    let mut messages = Messages::new();
    fn index(prefix: &str, m: &DescriptorProto, into: &mut Messages) {
        let name = format!("{prefix}.{}", m.name());
        for nested in &m.nested_type {
            index(&name, nested, into);
        }
        into.insert(name, m.clone());
    }
    for file in &fds.file {
        let prefix = format!(".{}", file.package());
        for m in &file.message_type {
            index(&prefix, m, &mut messages);
        }
        for s in &file.service {
            for m in &s.method {
                methods.push(Method {
                    path: format!("/{}.{}/{}", file.package(), s.name(), m.name()),
                    input: m.input_type().to_owned(),
                    server_streaming: m.server_streaming(),
                });
            }
        }
    }
    (methods, messages)
}

/// The kinds of bad request.
#[derive(Debug, Clone, Copy)]
enum Bad {
    /// Every field unset.
    Empty,
    /// Strings and bytes far over any limit.
    Oversized,
    /// The largest numbers (timestamps out of any calendar), odd text.
    High,
    /// The lowest numbers, unknown enum values, control characters.
    Low,
}

impl Bad {
    const ALL: [Bad; 4] = [Bad::Empty, Bad::Oversized, Bad::High, Bad::Low];

    fn text(self) -> String {
        match self {
            Bad::Empty => String::new(),
            Bad::Oversized => "x".repeat(70_000),
            Bad::High => "=HYPERLINK(\"http://x\")".into(),
            Bad::Low => "\u{0}\n\t../../etc/passwd\u{202e}".into(),
        }
    }

    fn varint(self, ty: Type) -> u64 {
        match (self, ty) {
            (Bad::Low, Type::Enum) => 999,
            (Bad::High, Type::Enum) => i32::MAX as u64,
            (Bad::High, Type::Int32 | Type::Sint32) => i32::MAX as u64,
            (Bad::High, Type::Uint32) => u64::from(u32::MAX),
            (Bad::High, Type::Int64 | Type::Sint64) => i64::MAX as u64,
            (Bad::High, _) => u64::MAX,
            (Bad::Low, Type::Int32 | Type::Sint32) => i64::from(i32::MIN) as u64,
            (Bad::Low, Type::Int64 | Type::Sint64) => i64::MIN as u64,
            (Bad::Low, _) => 0,
            (_, Type::Bool) => 1,
            _ => 0,
        }
    }
}

/// A request of type `name` filled the `bad` way (nested messages three levels deep).
fn request(messages: &Messages, name: &str, bad: Bad, depth: u8) -> Vec<u8> {
    let mut buf = Vec::new();
    let Some(m) = messages.get(name) else {
        return buf;
    };
    if matches!(bad, Bad::Empty) {
        return buf;
    }
    for f in &m.field {
        let tag = f.number() as u32;
        let repeated = f.label() == Label::Repeated;
        for _ in 0..if repeated { 2 } else { 1 } {
            match f.r#type() {
                Type::String | Type::Bytes => {
                    let text = bad.text();
                    encode_key(tag, WireType::LengthDelimited, &mut buf);
                    encode_varint(text.len() as u64, &mut buf);
                    buf.put_slice(text.as_bytes());
                }
                Type::Message | Type::Group => {
                    if depth < 3 {
                        let inner = request(messages, f.type_name(), bad, depth + 1);
                        encode_key(tag, WireType::LengthDelimited, &mut buf);
                        encode_varint(inner.len() as u64, &mut buf);
                        buf.put_slice(&inner);
                    }
                }
                Type::Double => {
                    encode_key(tag, WireType::SixtyFourBit, &mut buf);
                    let v = if matches!(bad, Bad::High) {
                        f64::NAN
                    } else {
                        f64::NEG_INFINITY
                    };
                    buf.put_f64_le(v);
                }
                Type::Float => {
                    encode_key(tag, WireType::ThirtyTwoBit, &mut buf);
                    buf.put_f32_le(f32::NAN);
                }
                Type::Fixed64 | Type::Sfixed64 => {
                    encode_key(tag, WireType::SixtyFourBit, &mut buf);
                    buf.put_u64_le(bad.varint(Type::Int64));
                }
                Type::Fixed32 | Type::Sfixed32 => {
                    encode_key(tag, WireType::ThirtyTwoBit, &mut buf);
                    buf.put_u32_le(u32::MAX);
                }
                ty => {
                    encode_key(tag, WireType::Varint, &mut buf);
                    encode_varint(bad.varint(ty), &mut buf);
                }
            }
        }
    }
    buf
}

/// Calls `path` with `body`; the status (OK included) or the transport's failure.
async fn call(channel: &Channel, m: &Method, body: Vec<u8>, token: Option<&str>) -> tonic::Status {
    let mut grpc = tonic::client::Grpc::new(channel.clone());
    if let Err(e) = grpc.ready().await {
        return tonic::Status::unknown(format!("channel not ready: {e}"));
    }
    let mut req = tonic::Request::new(body);
    if let Some(t) = token {
        req.metadata_mut()
            .insert("authorization", format!("Bearer {t}").parse().unwrap());
    }
    let path = tonic::codegen::http::uri::PathAndQuery::from_str(&m.path).unwrap();
    if m.server_streaming {
        match grpc.server_streaming(req, path, Raw).await {
            Ok(resp) => {
                let mut stream = resp.into_inner();
                loop {
                    match stream.message().await {
                        Ok(Some(_)) => continue,
                        Ok(None) => return tonic::Status::ok(""),
                        Err(s) => return s,
                    }
                }
            }
            Err(s) => s,
        }
    } else {
        match grpc.unary(req, path, Raw).await {
            Ok(_) => tonic::Status::ok(""),
            Err(s) => s,
        }
    }
}

/// Rows in every table of every service (SQLite, the test default): a write shows here.
async fn written(databases: &HashMap<&'static str, DatabaseConnection>) -> Vec<(String, i64)> {
    let mut out = Vec::new();
    for (service, db) in databases {
        let backend = db.get_database_backend();
        let tables = db
            .query_all_raw(Statement::from_string(
                backend,
                "SELECT name FROM sqlite_master WHERE type = 'table'",
            ))
            .await
            .unwrap();
        for t in tables {
            let table: String = t.try_get("", "name").unwrap();
            let sql = format!("SELECT COUNT(*) AS n FROM \"{table}\"");
            let row = db
                .query_one_raw(Statement::from_string(backend, sql))
                .await
                .unwrap()
                .unwrap();
            let n: i64 = row.try_get("", "n").unwrap();
            out.push((format!("{service}.{table}"), n));
        }
    }
    out.sort();
    out
}

async fn sweep(node: &TestNode) {
    let (methods, messages) = contracts();
    let channel = node.channel().await;
    let mut tokens: Vec<(String, Option<String>)> = vec![("nobody".into(), None)];
    for role in Role::ALL {
        tokens.push((
            role.as_str().into(),
            Some(node.token("sweep@ac.fr", &[role])),
        ));
    }
    tokens.push((
        "every role".into(),
        Some(node.token("all@ac.fr", &Role::ALL)),
    ));
    let mut failures = Vec::new();
    let mut calls = 0;
    for m in &methods {
        let before = written(&node.node.databases).await;
        let mut accepted = Vec::new();
        for bad in Bad::ALL {
            let body = request(&messages, &m.input, bad, 0);
            for (who, token) in &tokens {
                calls += 1;
                let status = call(&channel, m, body.clone(), token.as_deref()).await;
                match status.code() {
                    // A panic, an unmapped error, or a connection the server dropped.
                    Code::Internal | Code::Unknown | Code::Unavailable | Code::Cancelled => {
                        failures.push(format!(
                            "{} {bad:?} as {who}: {:?} {}",
                            m.path,
                            status.code(),
                            status.message()
                        ))
                    }
                    Code::Ok => accepted.push(format!("{bad:?} as {who}")),
                    _ => {}
                }
            }
        }
        // A refused call changes nothing; only a method that accepted some request (a settings
        // replacement where every value given is valid) may have written.
        let after = written(&node.node.databases).await;
        if after != before && accepted.is_empty() {
            let changed: Vec<_> = after.iter().filter(|t| !before.contains(t)).collect();
            failures.push(format!(
                "{}: refused every call yet wrote {changed:?}",
                m.path
            ));
        }
    }
    assert!(calls > 1_000, "{calls} calls");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[tokio::test]
async fn every_rpc_of_an_academy_node_refuses_bad_input_cleanly() {
    let modules = cplds::academy_modules(&[]).unwrap();
    let node = TestNode::start(TestNodeOptions::new("toulouse", modules))
        .await
        .unwrap();
    sweep(&node).await;
}

#[tokio::test]
async fn every_rpc_of_the_national_node_refuses_bad_input_cleanly() {
    let modules: Vec<Arc<dyn ServiceModule>> = vec![Arc::new(cplds_national::NationalModule)];
    let node = TestNode::start(TestNodeOptions::new("national", modules))
        .await
        .unwrap();
    sweep(&node).await;
}
