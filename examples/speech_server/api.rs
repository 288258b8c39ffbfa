//! The OpenAI-compatible API: `POST /v1/audio/speech` and `GET /v1/voices`, with validation
//! that answers every bad request with a JSON 4xx before any synthesis starts.

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{DefaultBodyLimit, Query, State};
use axum::http::header::CONTENT_TYPE;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use bytes::Bytes;
use serde::Deserialize;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tokio_stream::StreamExt as _;
use tts_otel::http::ApiError;

use crate::engine::{self, EngineError, VOICES};
use crate::speech::{Job, Speech, SynthesisError};

/// The only model: every OpenAI model name is served by it.
pub const MODEL: &str = "espeak-ng";
const MODEL_ALIASES: &[&str] = &[MODEL, "tts-1", "tts-1-hd", "gpt-4o-mini-tts"];
const MIN_SPEED: f64 = 0.25;
const MAX_SPEED: f64 = 4.0;
const WAV_CONTENT_TYPE: &str = "audio/wav";

/// Audio formats the server can answer with.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AudioFormat {
    Wav,
}

impl AudioFormat {
    pub fn as_str(self) -> &'static str {
        match self {
            AudioFormat::Wav => "wav",
        }
    }

    fn parse(name: &str) -> Option<Self> {
        (name == "wav").then_some(AudioFormat::Wav)
    }
}

/// What the API enforces.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    pub max_input_chars: usize,
    pub max_body_bytes: usize,
}

#[derive(Clone)]
struct AppState {
    speech: Arc<Speech>,
    limits: Limits,
}

/// The request body, every field optional so each gap gets its own message.
#[derive(Debug, Deserialize)]
pub struct SpeechBody {
    pub model: Option<String>,
    pub input: Option<String>,
    pub voice: Option<String>,
    pub response_format: Option<String>,
    pub speed: Option<f64>,
    pub stream: Option<bool>,
}

/// The API's routes over `speech`.
pub fn router(speech: Arc<Speech>, limits: Limits) -> Router {
    let state = AppState { speech, limits };
    Router::new()
        .route("/v1/audio/speech", post(speak))
        .route("/v1/voices", get(voices))
        .route(
            "/health",
            get(|| async { Json(serde_json::json!({ "status": "ok" })) }),
        )
        .layer(DefaultBodyLimit::max(limits.max_body_bytes))
        .with_state(state)
}

async fn voices() -> Json<serde_json::Value> {
    Json(serde_json::json!({ "object": "list", "data": VOICES }))
}

async fn speak(
    State(state): State<AppState>,
    query: Result<Query<HashMap<String, String>>, QueryRejection>,
    body: Result<Json<SpeechBody>, JsonRejection>,
) -> Result<Response, ApiError> {
    let query = query.map_err(|e| ApiError::bad_request("invalid_query", e.body_text()))?;
    let Json(body) = body.map_err(body_error)?;
    let stream = stream_flag(&query.0, body.stream)?;
    let job = validate(body, &state.limits)?;

    if stream {
        return Ok(stream_response(state.speech, job));
    }
    let speech = state.speech;
    // The synthesis runs in its own task, so a client that leaves early neither cancels it
    // half-recorded nor wastes the work: the result still reaches the cache.
    let result = tokio::spawn(async move { speech.synthesize(&job).await })
        .await
        .map_err(|_| ApiError::internal("synthesis_panicked", "the synthesis task failed"))?;
    let cached = result.map_err(synthesis_error)?;
    Ok(([(CONTENT_TYPE, WAV_CONTENT_TYPE)], cached.body).into_response())
}

fn stream_response(speech: Arc<Speech>, job: Job) -> Response {
    let (sink, chunks) = mpsc::channel::<Bytes>(4);
    tokio::spawn(async move { speech.stream(&job, sink).await });
    let body = Body::from_stream(ReceiverStream::new(chunks).map(Ok::<_, std::io::Error>));
    // TODO: an engine failure after the 200 status has gone out can only end the stream early;
    // the client sees a short WAV, not an error. Trailers or an SSE framing would carry it.
    ([(CONTENT_TYPE, WAV_CONTENT_TYPE)], body).into_response()
}

fn body_error(rejection: JsonRejection) -> ApiError {
    let (status, code) = match &rejection {
        JsonRejection::MissingJsonContentType(_) => {
            (StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type")
        }
        JsonRejection::JsonSyntaxError(_) => (StatusCode::BAD_REQUEST, "malformed_json"),
        _ if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            (StatusCode::PAYLOAD_TOO_LARGE, "body_too_large")
        }
        _ => (StatusCode::BAD_REQUEST, "invalid_body"),
    };
    ApiError::new(status, code, rejection.body_text())
}

fn stream_flag(query: &HashMap<String, String>, body: Option<bool>) -> Result<bool, ApiError> {
    let from_query = match query.get("stream").map(String::as_str) {
        None => None,
        Some("" | "1" | "true") => Some(true),
        Some("0" | "false") => Some(false),
        Some(_) => {
            return Err(ApiError::bad_request(
                "invalid_stream",
                "stream must be true or false",
            ))
        }
    };
    Ok(from_query.or(body).unwrap_or(false))
}

/// Checks every field and builds the job; the first problem found is the answer.
pub fn validate(body: SpeechBody, limits: &Limits) -> Result<Job, ApiError> {
    let model = validate_model(body.model.as_deref())?;
    let input = body
        .input
        .ok_or_else(|| ApiError::bad_request("missing_input", "input is required"))?;
    let chars = validate_input(&input, limits)?;
    let voice_id = body
        .voice
        .ok_or_else(|| ApiError::bad_request("missing_voice", "voice is required"))?;
    let voice = engine::voice(&voice_id).ok_or_else(|| unknown_voice(&voice_id))?;
    let format = validate_format(body.response_format.as_deref())?;
    let speed = validate_speed(body.speed)?;
    Ok(Job {
        voice,
        model,
        input,
        chars,
        speed,
        format,
    })
}

fn validate_model(model: Option<&str>) -> Result<&'static str, ApiError> {
    match model {
        None => Ok(MODEL),
        Some(name) if MODEL_ALIASES.contains(&name) => Ok(MODEL),
        Some(_) => Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "model_not_found",
            format!("unknown model; use one of {MODEL_ALIASES:?}"),
        )),
    }
}

fn validate_input(input: &str, limits: &Limits) -> Result<usize, ApiError> {
    if input.chars().all(|c| c.is_whitespace() || c.is_control()) {
        return Err(ApiError::bad_request(
            "empty_input",
            "input must contain text",
        ));
    }
    let chars = input.chars().count();
    if chars > limits.max_input_chars {
        let max = limits.max_input_chars;
        let message = format!("input has {chars} characters; the limit is {max}");
        return Err(ApiError::bad_request("input_too_long", message));
    }
    Ok(chars)
}

fn unknown_voice(voice: &str) -> ApiError {
    let known: Vec<&str> = VOICES.iter().map(|v| v.id).collect();
    // The requested name is echoed only when short, so the error cannot carry text along.
    let shown = if voice.chars().count() <= 32 {
        voice
    } else {
        "(too long to show)"
    };
    ApiError::bad_request(
        "unknown_voice",
        format!("unknown voice {shown:?}; use one of {known:?}"),
    )
}

fn validate_format(format: Option<&str>) -> Result<AudioFormat, ApiError> {
    let name = format.unwrap_or("wav");
    AudioFormat::parse(name).ok_or_else(|| {
        ApiError::bad_request("unsupported_format", "response_format must be \"wav\"")
    })
}

fn validate_speed(speed: Option<f64>) -> Result<f64, ApiError> {
    let speed = speed.unwrap_or(1.0);
    if (MIN_SPEED..=MAX_SPEED).contains(&speed) {
        return Ok(speed);
    }
    let message = format!("speed must be between {MIN_SPEED} and {MAX_SPEED}");
    Err(ApiError::bad_request("invalid_speed", message))
}

fn synthesis_error(error: SynthesisError) -> ApiError {
    let status = match &error {
        SynthesisError::Engine(EngineError::Spawn(_)) => StatusCode::SERVICE_UNAVAILABLE,
        SynthesisError::Engine(EngineError::Timeout(_)) => StatusCode::GATEWAY_TIMEOUT,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    };
    ApiError::new(status, error.kind(), error.to_string())
}
