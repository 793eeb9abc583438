//! Server-level endpoints: health, version, capabilities.

use axum::Json;
use ferroflow_auth::Permission;
use serde_json::{json, Value};

/// The MLflow release whose API this server speaks. Clients parse it to decide which features to use.
pub const MLFLOW_COMPATIBLE_VERSION: &str = "3.17.2";

/// GET /health
pub async fn health() -> &'static str {
    "OK"
}

/// GET /version
pub async fn version() -> &'static str {
    MLFLOW_COMPATIBLE_VERSION
}

/// GET /api/3.0/mlflow/server-info: what the client may rely on. When multipart uploads are offered,
/// the 3.x client sends large files (500 MB and up by default) in parts through `mpu/*`.
pub async fn server_info(offer_multipart: bool, default_permission: Option<Permission>) -> Json<Value> {
    // Not MLflow's: tells the web UI whether to ask who is signed in, and what a user without a
    // grant may do, so that a list can tell which rows the user may change.
    let ferroflow = match default_permission {
        Some(default) => json!({"access_control": true, "default_permission": default.name()}),
        None => json!({"access_control": false}),
    };
    Json(json!({
        "store_type": "SqlStore",
        "workspaces_enabled": false,
        "trace_archival_enabled": false,
        "multipart_uploads_enabled": offer_multipart,
        "multipart_downloads_enabled": false,
        "presigned_upload_run_id_supported": false,
        "presigned_upload_model_id_supported": false,
        "features_enabled": {"gateway": false},
        "ferroflow": ferroflow,
    }))
}
