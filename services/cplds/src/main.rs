//! `cplds`: one binary for the whole federation.

use std::{net::SocketAddr, path::PathBuf};

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use cplds_runtime::{
    academy::Academy,
    auth::{AuthKeys, Role, public_key_pem},
    bus, clock,
    config::Config,
    host::{self, NodeSpec, termination_signal},
    install_crypto_provider,
    node::Node,
    telemetry,
};
use serde_json::{Map, Value};

#[derive(Parser)]
#[command(
    name = "cplds",
    version,
    about = "CPLDS federation: académie nodes, national aggregator, demo and tools"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve an académie's services (registration, ...) on one address.
    Node(NodeArgs),
    /// Run the national aggregator: consumes every académie's national stream, serves the
    /// consolidated figures (NationalStatisticsService).
    National(NationalArgs),
    /// Start a complete local setup on embedded defaults, seed it through the public API and
    /// print a summary; keeps serving until Ctrl-C.
    Demo(DemoArgs),
    /// Mint a bearer token for local use, signed with the node's key.
    Token(TokenArgs),
    /// Generate an Ed25519 key pair (PKCS#8 PEM) for tokens or document signing.
    Keygen(KeygenArgs),
    /// Print the public event-signing keys of a node's services (generating missing ones), as
    /// `[[trusted_keys]]` the national node (and peers) add to their `events.trusted_key_files`.
    EventKeys(EventKeysArgs),
    /// Events a node's consumers gave up on: list them, send them again once the cause is fixed
    /// (calls the node's AdminService with an it_admin token minted from the node's key).
    DeadLetters {
        #[command(subcommand)]
        action: DeadLettersCommand,
    },
    /// Import a past session's candidates (CSV; see deploy/README.md, "Importing past sessions")
    /// into the académie's exam service, for the national series and the comparison with the
    /// previous session (calls ImportPastSession with an exam_office token minted from the
    /// node's key). Every bad row is named; importing the same file again sends nothing.
    Import(ImportArgs),
    /// Benchmarks that print figures.
    Bench {
        #[command(subcommand)]
        which: BenchCommand,
    },
}

#[derive(Args, Clone)]
struct CommonArgs {
    /// Configuration file (TOML); `CPLDS_*` environment variables and flags override it.
    #[arg(long, short = 'c')]
    config: Option<PathBuf>,
    /// Address to serve gRPC on [default: 127.0.0.1:50051].
    #[arg(long)]
    listen: Option<SocketAddr>,
    /// Address of the public pages (plain HTTP: where certificates' QR codes lead) [default:
    /// none]; put a TLS reverse proxy in front, at `documents.verification_base_url`.
    #[arg(long)]
    http_listen: Option<SocketAddr>,
    /// Where SQLite files and generated keys live [default: ./cplds-data].
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// PostgreSQL URL (each service gets its own schema); SQLite files when unset.
    #[arg(long)]
    database_url: Option<String>,
    /// RabbitMQ URL of the académie's vhost; in-process bus when unset.
    #[arg(long)]
    amqp_url: Option<String>,
}

impl CommonArgs {
    /// Only the flags given, as the top layer of the configuration.
    fn overrides(&self, academy: Option<&str>) -> Value {
        let mut m = Map::new();
        if let Some(a) = academy {
            m.insert("academy".into(), a.into());
        }
        if let Some(l) = self.listen {
            m.insert("listen".into(), l.to_string().into());
        }
        if let Some(h) = self.http_listen {
            m.insert("http_listen".into(), h.to_string().into());
        }
        if let Some(d) = &self.data_dir {
            m.insert("data_dir".into(), d.display().to_string().into());
        }
        if let Some(u) = &self.database_url {
            m.insert("database_url".into(), u.clone().into());
        }
        if let Some(u) = &self.amqp_url {
            m.insert("amqp_url".into(), u.clone().into());
        }
        Value::Object(m)
    }

    fn load(&self, academy: Option<&str>) -> anyhow::Result<Config> {
        Ok(Config::load(
            self.config.as_deref(),
            self.overrides(academy),
        )?)
    }
}

#[derive(Args)]
struct NodeArgs {
    /// Code of the académie this node serves (e.g. toulouse, aix-marseille).
    #[arg(long)]
    academy: Option<String>,
    /// Services to run (comma-separated) [default: all].
    #[arg(long, value_delimiter = ',')]
    services: Vec<String>,
    #[command(flatten)]
    common: CommonArgs,
}

#[derive(Args)]
struct NationalArgs {
    #[command(flatten)]
    common: CommonArgs,
}

#[derive(Args)]
struct DemoArgs {
    /// Exit after printing the summary instead of serving until Ctrl-C.
    #[arg(long)]
    once: bool,
    /// Address of the académie node [default: 127.0.0.1:50051].
    #[arg(long, default_value = "127.0.0.1:50051")]
    listen: SocketAddr,
    /// Address of the académie's public pages (certificate verification).
    #[arg(long, default_value = "127.0.0.1:8080")]
    http_listen: SocketAddr,
    /// Data directory, kept [default: a temporary directory, removed when the demo ends].
    #[arg(long)]
    data_dir: Option<PathBuf>,
}

#[derive(Args)]
struct EventKeysArgs {
    /// Code of the académie (or `national`).
    #[arg(long)]
    academy: Option<String>,
    /// Services whose keys to print (comma-separated) [default: every service of the node].
    #[arg(long, value_delimiter = ',')]
    services: Vec<String>,
    #[command(flatten)]
    common: CommonArgs,
}

#[derive(Args)]
struct TokenArgs {
    /// Académie the token is for.
    #[arg(long)]
    academy: String,
    /// Role(s): candidate, exam_office, recteur, it_admin, training_office, trainer, board_member, ministry.
    #[arg(long = "role", required = true)]
    roles: Vec<String>,
    /// Who the token is for (an e-mail for people).
    #[arg(long)]
    subject: String,
    /// Validity in seconds [default: auth.token_ttl_secs, 8 h].
    #[arg(long)]
    ttl_secs: Option<u64>,
    #[command(flatten)]
    common: CommonArgs,
}

#[derive(Args)]
struct KeygenArgs {
    /// Writes OUT.pem (private, mode 0600) and OUT.pub.pem.
    #[arg(long)]
    out: PathBuf,
}

#[derive(Subcommand)]
enum DeadLettersCommand {
    /// Lists dead letters waiting (oldest first), per service.
    List {
        /// Only this service's (registration, examination, ...).
        #[arg(long)]
        service: Option<String>,
        /// Only this consumer's.
        #[arg(long)]
        consumer: Option<String>,
        /// Also those already redriven.
        #[arg(long)]
        all: bool,
        #[command(flatten)]
        target: AdminTarget,
    },
    /// Publishes dead letters again to their consumer's queue only. Redriving twice does nothing
    /// more unless --force.
    Redrive {
        /// The service whose dead letters these are.
        #[arg(long)]
        service: String,
        /// Dead letter ids (from `list`); repeat the flag for several.
        #[arg(long = "id")]
        ids: Vec<u64>,
        /// Instead of ids: every waiting dead letter of this consumer.
        #[arg(long)]
        consumer: Option<String>,
        /// Also redrive those already redriven.
        #[arg(long)]
        force: bool,
        #[command(flatten)]
        target: AdminTarget,
    },
}

#[derive(Args)]
struct AdminTarget {
    /// The node's gRPC address.
    #[arg(long, default_value = "http://127.0.0.1:50051")]
    addr: String,
    /// The node's académie, or `national` [default: `academy` of the configuration].
    #[arg(long)]
    academy: Option<String>,
    #[command(flatten)]
    common: CommonArgs,
}

#[derive(Args)]
struct ImportArgs {
    /// The session's year.
    #[arg(long)]
    year: i32,
    /// The CSV file.
    file: PathBuf,
    #[command(flatten)]
    target: AdminTarget,
}

#[derive(Subcommand)]
enum BenchCommand {
    /// Replay of a national history (30 académies, 10 years) into an empty aggregator, beside the
    /// raw RabbitMQ consume rate; then commit-to-national latency at a steady rate.
    National {
        #[arg(long, default_value_t = 10)]
        years: i32,
        /// Average candidates per académie and year.
        #[arg(long, default_value_t = 40)]
        candidates: u32,
        /// Also replay through RabbitMQ (base URL without vhost; vhosts are made with rabbitmqctl).
        #[arg(long)]
        amqp_url: Option<String>,
        /// Also replay into PostgreSQL: URL of an existing database to create the bench database from.
        #[arg(long)]
        postgres_url: Option<String>,
        /// Submissions per second in the latency phase.
        #[arg(long, default_value_t = 20)]
        rate: u32,
        #[arg(long, default_value_t = 15)]
        seconds: u32,
    },
    /// A whole exam season through the real services: registration, the session to published
    /// results, certificates issued in a batch with their PDFs and credentials, per académie.
    Season {
        #[arg(long, default_value_t = 30)]
        academies: usize,
        /// Candidates per académie.
        #[arg(long, default_value_t = 100)]
        candidates: usize,
        /// Académies run at the same time.
        #[arg(long, default_value_t = 2)]
        concurrency: usize,
        /// Run on PostgreSQL: URL of an existing database to create the bench database from.
        #[arg(long)]
        postgres_url: Option<String>,
    },
    /// Public verification under abuse: the CPU to refuse a 60 KB proof, and simultaneous
    /// maximal calls (answered, refused by the gate, peak memory, health meanwhile).
    Verify {
        #[arg(long, default_value_t = 200)]
        requests: usize,
        #[arg(long, default_value_t = 200)]
        concurrent: usize,
    },
    /// The busy writes through gRPC under concurrency (candidacy submission, mark entry,
    /// attendance), each against the floor of a write and echo and insert baselines.
    Registration {
        #[arg(long, default_value_t = 32)]
        clients: usize,
        #[arg(long, default_value_t = 4000)]
        requests: usize,
        /// Also run on PostgreSQL: URL of an existing database to create the bench database from.
        #[arg(long)]
        postgres_url: Option<String>,
        /// With --postgres-url: PostgreSQL only.
        #[arg(long)]
        skip_sqlite: bool,
        /// The writes to measure (comma-separated); all by default.
        #[arg(long, value_enum, value_delimiter = ',')]
        writes: Vec<cplds::bench::Write>,
    },
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    install_crypto_provider();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(async move {
        match cli.command {
            Command::Node(args) => node(args).await,
            Command::National(args) => national(args).await,
            Command::Demo(args) => demo(args).await,
            Command::Token(args) => token(args),
            Command::Keygen(args) => keygen(args),
            Command::EventKeys(args) => event_keys(args),
            Command::DeadLetters { action } => dead_letters(action).await,
            Command::Import(args) => import(args).await,
            Command::Bench { which } => bench(which).await,
        }
    })
}

/// Runs a benchmark quietly (errors only in the log) and prints its figures.
async fn bench(which: BenchCommand) -> anyhow::Result<()> {
    let _telemetry = telemetry::init(
        &cplds_runtime::config::TelemetryConfig {
            log_filter: "error".into(),
            ..Default::default()
        },
        "cplds-bench",
    );
    let report = match which {
        BenchCommand::National {
            years,
            candidates,
            amqp_url,
            postgres_url,
            rate,
            seconds,
        } => {
            cplds::bench_national::run(cplds::bench_national::NationalBenchOptions {
                years,
                candidates,
                amqp_url,
                postgres_url,
                rate,
                seconds,
            })
            .await?
        }
        BenchCommand::Season {
            academies,
            candidates,
            concurrency,
            postgres_url,
        } => {
            cplds::bench_season::run(cplds::bench_season::SeasonBenchOptions {
                academies,
                candidates,
                concurrency,
                postgres_url,
            })
            .await?
        }
        BenchCommand::Verify {
            requests,
            concurrent,
        } => {
            cplds::bench_verify::run(cplds::bench_verify::VerifyBenchOptions {
                requests,
                concurrent,
            })
            .await?
        }
        BenchCommand::Registration {
            clients,
            requests,
            postgres_url,
            skip_sqlite,
            writes,
        } => {
            cplds::bench::run(cplds::bench::BenchOptions {
                clients,
                requests,
                postgres_url,
                skip_sqlite,
                writes: if writes.is_empty() {
                    cplds::bench::Write::ALL.to_vec()
                } else {
                    writes
                },
            })
            .await?
        }
    };
    println!("{report}");
    Ok(())
}

async fn node(args: NodeArgs) -> anyhow::Result<()> {
    let config = args.common.load(args.academy.as_deref())?;
    let _telemetry = telemetry::init(&config.telemetry, "cplds-node")?;
    let academy = config
        .academy
        .as_deref()
        .context("--academy (or `academy` in the configuration) is required")?;
    let academy = Academy::parse(academy).map_err(anyhow::Error::msg)?;
    let bus = bus::connect(&config, &format!("cplds-{academy}"))
        .await
        .context("connecting to the event bus")?;
    let node = host::start(NodeSpec {
        modules: cplds::academy_modules(&args.services)?,
        peers: cplds::peer_modules(&args.services)?,
        config,
        node: Node::Academy(academy),
        bus,
        clock: clock::system(),
        listener: None,
        tls: None,
    })
    .await?;
    termination_signal().await;
    node.shutdown().await
}

async fn national(args: NationalArgs) -> anyhow::Result<()> {
    let config = args.common.load(Some(cplds_national::NATIONAL))?;
    let _telemetry = telemetry::init(&config.telemetry, "cplds-national")?;
    let bus = bus::connect(&config, "cplds-national")
        .await
        .context("connecting to the event bus")?;
    let node = host::start(NodeSpec {
        modules: cplds::national_modules(),
        peers: Vec::new(),
        node: Node::National,
        config,
        bus,
        clock: clock::system(),
        listener: None,
        tls: None,
    })
    .await?;
    termination_signal().await;
    node.shutdown().await
}

async fn demo(args: DemoArgs) -> anyhow::Result<()> {
    let _telemetry = telemetry::init(
        &cplds_runtime::config::TelemetryConfig {
            log_filter: "error".into(),
            ..Default::default()
        },
        "cplds-demo",
    )?;
    // Without --data-dir the data is the demo's alone: removed when it ends, however it ends
    // (the guard is dropped after the nodes have stopped).
    let (data_dir, temporary) = match args.data_dir {
        Some(d) => (d, None),
        None => {
            let dir = tempfile::Builder::new()
                .prefix("cplds-demo-")
                .tempdir()
                .context("creating the demo's data directory")?;
            (dir.path().to_path_buf(), Some(dir))
        }
    };
    let demo = cplds::demo::run(cplds::demo::DemoOptions {
        listen: args.listen,
        http_listen: args.http_listen,
        data_dir,
    })
    .await?;
    println!("{}", demo.summary);
    if !args.once {
        println!("Serving until Ctrl-C.");
        termination_signal().await;
    }
    let stopped = demo.shutdown().await;
    if let Some(dir) = temporary {
        let path = dir.path().to_path_buf();
        if let Err(e) = dir.close() {
            eprintln!("could not remove {}: {e}", path.display());
        }
    }
    stopped
}

fn token(args: TokenArgs) -> anyhow::Result<()> {
    let mut config = args.common.load(Some(&args.academy))?;
    if let Some(ttl) = args.ttl_secs {
        config.auth.token_ttl_secs = ttl;
    }
    Node::parse(&args.academy).map_err(anyhow::Error::msg)?;
    let roles = args
        .roles
        .iter()
        .map(|r| Role::parse(r))
        .collect::<Result<Vec<_>, _>>()
        .map_err(anyhow::Error::msg)?;
    let issuer = AuthKeys::load(&config)?.issuer(&config)?;
    println!("{}", issuer.mint(&args.subject, &args.academy, &roles)?);
    Ok(())
}

fn keygen(args: KeygenArgs) -> anyhow::Result<()> {
    use ed25519_dalek::pkcs8::{EncodePrivateKey, spki::der::pem::LineEnding};
    let key = ed25519_dalek::SigningKey::generate(&mut rand::rngs::OsRng);
    let private = args.out.with_extension("pem");
    let public = args.out.with_extension("pub.pem");
    cplds_runtime::secrets::write_private(
        &private,
        key.to_pkcs8_pem(LineEnding::LF)
            .map_err(|e| anyhow::anyhow!("{e}"))?
            .as_bytes(),
    )?;
    std::fs::write(&public, public_key_pem(&key.verifying_key()))?;
    println!(
        "private key: {}\npublic key:  {}\nkey id:      {}",
        private.display(),
        public.display(),
        cplds_runtime::auth::key_id(&key.verifying_key())
    );
    Ok(())
}

/// Prints the node's services' public event keys (current, then retired) as a TOML file of
/// `[[trusted_keys]]`; the private keys stay where they are.
fn event_keys(args: EventKeysArgs) -> anyhow::Result<()> {
    let config = args.common.load(args.academy.as_deref())?;
    let academy = config.academy.clone().ok_or_else(|| {
        anyhow::anyhow!("--academy (or academy in the configuration) is required")
    })?;
    let node = cplds_runtime::node::Node::parse(&academy).map_err(anyhow::Error::msg)?;
    let modules = if node.is_national() {
        cplds::national_modules()
    } else {
        cplds::academy_modules(&args.services)?
    };
    let mut file = cplds_runtime::event_signing::registry::TrustedKeyFile::default();
    for m in modules {
        let signer = cplds_runtime::event_signing::EventSigner::load(&config, &academy, m.name())?;
        file.trusted_keys.extend(signer.published());
    }
    println!(
        "# Event signing keys of {academy} (cplds event-keys): give this file to the national node\n\
         # (events.trusted_key_files). The first key of each service signs; the others are retired."
    );
    print!("{}", file.to_toml()?);
    Ok(())
}

/// An AdminService client for the node at `target.addr`, with an it_admin token of its académie.
/// A channel to the node and a token of `role` minted from the node's key (the operator runs
/// the command on the node's host, with its configuration).
async fn node_channel(
    target: &AdminTarget,
    role: Role,
) -> anyhow::Result<(tonic::transport::Channel, String)> {
    let config = target.common.load(target.academy.as_deref())?;
    let academy = config
        .academy
        .clone()
        .context("--academy (or `academy` in the configuration) is required")?;
    Node::parse(&academy).map_err(anyhow::Error::msg)?;
    let token = AuthKeys::load(&config)?
        .issuer(&config)?
        .mint("cplds-cli", &academy, &[role])?;
    let channel = tonic::transport::Endpoint::from_shared(target.addr.clone())?
        .connect()
        .await
        .with_context(|| format!("connecting to {}", target.addr))?;
    Ok((channel, token))
}

async fn admin_client(
    target: &AdminTarget,
) -> anyhow::Result<(
    cplds_proto::v1::admin_service_client::AdminServiceClient<tonic::transport::Channel>,
    String,
)> {
    let (channel, token) = node_channel(target, Role::ItAdmin).await?;
    Ok((
        cplds_proto::v1::admin_service_client::AdminServiceClient::new(channel),
        token,
    ))
}

async fn import(args: ImportArgs) -> anyhow::Result<()> {
    use cplds_proto::v1::{self as pb, examination_service_client::ExaminationServiceClient};
    use tonic_types::StatusExt as _;
    let csv =
        std::fs::read(&args.file).with_context(|| format!("reading {}", args.file.display()))?;
    let (channel, token) = node_channel(&args.target, Role::ExamOffice).await?;
    let request = with_token(
        pb::ImportPastSessionRequest {
            year: args.year,
            csv,
        },
        &token,
    )?;
    match ExaminationServiceClient::new(channel)
        .import_past_session(request)
        .await
    {
        Ok(r) => {
            let r = r.into_inner();
            println!(
                "session {}: {} candidate(s), {} sent to the national node, {} unchanged",
                r.year, r.candidates, r.imported, r.unchanged
            );
            Ok(())
        }
        Err(status) => {
            let violations = status
                .get_details_bad_request()
                .map(|b| b.field_violations)
                .unwrap_or_default();
            for v in &violations {
                eprintln!("{}: {}", v.field, v.description);
            }
            anyhow::bail!("nothing imported: {}", status.message())
        }
    }
}

fn with_token<T>(message: T, token: &str) -> anyhow::Result<tonic::Request<T>> {
    let mut r = tonic::Request::new(message);
    r.metadata_mut()
        .insert("authorization", format!("Bearer {token}").parse()?);
    Ok(r)
}

fn print_dead_letters(rows: &[cplds_proto::v1::DeadLetter]) {
    println!(
        "{:<14} {:>6}  {:<26} {:<24} {:<20} {:<8} reason",
        "service", "id", "consumer", "event", "dead at", "attempts"
    );
    for d in rows {
        let at = d
            .dead_at
            .as_ref()
            .and_then(|t| cplds_runtime::time::from_timestamp(t).ok())
            .map_or_else(String::new, |t| t.format("%Y-%m-%d %H:%M:%S").to_string());
        let redriven = if d.redriven_at.is_some() {
            " (redriven)"
        } else {
            ""
        };
        println!(
            "{:<14} {:>6}  {:<26} {:<24} {:<20} {:<8} {}{redriven}",
            d.service, d.id, d.consumer, d.event_type, at, d.attempts, d.reason
        );
    }
}

async fn dead_letters(action: DeadLettersCommand) -> anyhow::Result<()> {
    use cplds_proto::v1 as pb;
    match action {
        DeadLettersCommand::List {
            service,
            consumer,
            all,
            target,
        } => {
            let (mut client, token) = admin_client(&target).await?;
            let mut rows = Vec::new();
            let mut page_token = String::new();
            loop {
                let page = client
                    .list_dead_letters(with_token(
                        pb::ListDeadLettersRequest {
                            service: service.clone().unwrap_or_default(),
                            consumer: consumer.clone().unwrap_or_default(),
                            include_redriven: all,
                            page_size: 1000,
                            page_token: page_token.clone(),
                        },
                        &token,
                    )?)
                    .await?
                    .into_inner();
                rows.extend(page.dead_letters);
                if page.next_page_token.is_empty() || page.next_page_token == page_token {
                    break;
                }
                page_token = page.next_page_token;
            }
            print_dead_letters(&rows);
            println!("{} dead letter(s)", rows.len());
            Ok(())
        }
        DeadLettersCommand::Redrive {
            service,
            ids,
            consumer,
            force,
            target,
        } => {
            let (mut client, token) = admin_client(&target).await?;
            let done = client
                .redrive_dead_letters(with_token(
                    pb::RedriveDeadLettersRequest {
                        service,
                        ids,
                        consumer: consumer.unwrap_or_default(),
                        force,
                    },
                    &token,
                )?)
                .await?
                .into_inner();
            print_dead_letters(&done.redriven);
            println!("{} dead letter(s) redriven", done.redriven.len());
            Ok(())
        }
    }
}
