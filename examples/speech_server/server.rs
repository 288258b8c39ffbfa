//! Assembly: the engine, cache and API, merged with tts-otel's endpoints, served on a socket.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::http::StatusCode;
use axum::Router;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tts_otel::http::{ApiError, Endpoints};

use crate::api::{self, Limits};
use crate::cache::AudioCache;
use crate::config::Config;
use crate::engine::Engine;
use crate::speech::Speech;
use crate::telemetry::Telemetry;

/// A server running in the background.
pub struct Running {
    pub addr: SocketAddr,
    pub speech: Arc<Speech>,
    stop: oneshot::Sender<()>,
    task: JoinHandle<std::io::Result<()>>,
}

impl Running {
    /// Stops accepting, lets requests in flight finish, and waits for the server to end.
    pub async fn stop(self) -> std::io::Result<()> {
        let _ = self.stop.send(());
        self.task
            .await
            .unwrap_or_else(|e| Err(std::io::Error::other(e)))
    }
}

/// The whole application router.
pub fn app(config: &Config, telemetry: &Telemetry) -> (Router, Arc<Speech>) {
    let engine = Engine::new(
        config.espeak.clone(),
        config.engine_timeout(),
        config.engine_concurrency(),
    );
    let cache = AudioCache::new(config.cache_entries, config.cache_bytes);
    let speech = Arc::new(Speech::new(engine, cache));
    let limits = Limits {
        max_input_chars: config.max_input_chars,
        max_body_bytes: config.max_body_bytes,
    };
    let endpoints = Endpoints::new()
        .with_monitor(telemetry.monitor.clone())
        .with_export_dir(&config.export_dir)
        .with_metrics(telemetry.metrics.clone());
    let router = api::router(Arc::clone(&speech), limits)
        .merge(endpoints.router())
        .fallback(|| async { ApiError::new(StatusCode::NOT_FOUND, "not_found", "no such route") })
        .method_not_allowed_fallback(|| async {
            let message = "this route does not take that method";
            ApiError::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                message,
            )
        });
    (router, speech)
}

/// Binds `config.listen` and serves in a background task.
pub async fn start(config: &Config, telemetry: &Telemetry) -> std::io::Result<Running> {
    let (router, speech) = app(config, telemetry);
    let listener = TcpListener::bind(config.listen).await?;
    let addr = listener.local_addr()?;
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        axum::serve(listener, router)
            .with_graceful_shutdown(async {
                let _ = stopped.await;
            })
            .await
    });
    Ok(Running {
        addr,
        speech,
        stop,
        task,
    })
}
