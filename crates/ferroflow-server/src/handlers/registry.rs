//! The model registry: `/registered-models/*` and `/model-versions/*`.

use axum::extract::State;
use axum::{Extension, Json};
use ferroflow_api::{requests as req, responses as resp};
use ferroflow_artifacts::ArtifactPath;
use ferroflow_core::model::{KeyValue, Stage};
use ferroflow_core::search::{self, RegistryEntity};
use ferroflow_core::{page_token, validation};
use ferroflow_store::{CreateModelVersion, RegistrySearch, ResourceType};

use super::{key_values, required};
use crate::auth::caller::visible;
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};
use crate::extract::MlflowRequest;
use crate::AppState;

/// Page sizes: (default, largest) per search, as MLflow's.
const MODEL_PAGE: (i64, i64) = (100, 1000);
const VERSION_PAGE: (i64, i64) = (200_000, 200_000);
/// Longest registry tag value.
const MAX_TAG_VALUE_LENGTH: usize = 100_000;
/// Longest alias.
const MAX_ALIAS_LENGTH: usize = 255;

/// A registered model name: not blank, no `/` or `:`, not `.` or `..`.
pub(crate) fn model_name(value: Option<String>) -> ApiResult<String> {
    let name = value.filter(|n| !n.trim().is_empty()).ok_or_else(|| ApiError::missing("name"))?;
    if name.contains(['/', ':']) {
        return Err(ApiError::invalid(format!("Invalid model name '{name}'. Names cannot contain '/' or ':'.")));
    }
    if name == "." || name == ".." {
        return Err(ApiError::invalid(format!("Invalid model name '{name}'.")));
    }
    Ok(name)
}

pub(crate) fn version(value: Option<i64>) -> ApiResult<i64> {
    value.ok_or_else(|| ApiError::missing("version"))
}

fn registry_tag(key: Option<String>, value: Option<String>) -> ApiResult<KeyValue> {
    let key = required(key, "key")?;
    validation::validate_key(validation::KeyKind::Tag, &key)?;
    let value = value.unwrap_or_default();
    validation::validate_length("value", &value, MAX_TAG_VALUE_LENGTH)?;
    Ok(KeyValue { key, value })
}

fn registry_tags(tags: Vec<req::KeyValue>) -> ApiResult<Vec<KeyValue>> {
    key_values(tags, "tags")?.into_iter().map(|t| registry_tag(Some(t.key), Some(t.value))).collect()
}

fn alias_name(value: Option<String>) -> ApiResult<String> {
    let alias = value
        .filter(|a| !a.is_empty())
        .ok_or_else(|| ApiError::invalid("Registered model alias name cannot be empty."))?;
    let plain = alias.chars().all(|c| c.is_alphanumeric() || c == '_' || c == '-');
    let looks_like_version =
        alias.len() > 1 && alias.starts_with(['v', 'V']) && alias[1..].bytes().all(|b| b.is_ascii_digit());
    if !plain || alias.eq_ignore_ascii_case("latest") || looks_like_version {
        return Err(ApiError::invalid(format!(
            "Invalid alias name: '{alias}'. Aliases may only contain alphanumerics, underscores and dashes, and may \
             not be 'latest' or look like a version ('v1')."
        )));
    }
    validation::validate_length("Registered model alias name", &alias, MAX_ALIAS_LENGTH)?;
    Ok(alias)
}

fn registry_search(
    request: req::SearchRegistry,
    entity: RegistryEntity,
    (default, limit): (i64, i64),
    caller: Option<&Caller>,
) -> ApiResult<RegistrySearch> {
    let max_results = request.max_results.unwrap_or(default);
    if !(1..=limit).contains(&max_results) {
        return Err(ApiError::invalid(format!(
            "Invalid value {max_results} for parameter 'max_results' supplied. It must be between 1 and {limit}."
        )));
    }
    let filter = match request.filter.as_deref() {
        Some(filter) => search::parse_registry_filter(filter, entity)?,
        None => Vec::new(),
    };
    Ok(RegistrySearch {
        filter,
        order_by: search::parse_registry_order_by(&request.order_by, entity)?,
        max_results,
        offset: page_token::decode(request.page_token.as_deref())?,
        visible: visible(caller, ResourceType::RegisteredModel),
    })
}

/// POST registered-models/create
pub async fn create_registered_model(
    State(state): State<AppState>,
    MlflowRequest(request): MlflowRequest<req::CreateRegisteredModel>,
) -> ApiResult<Json<resp::GetRegisteredModel>> {
    let name = model_name(request.name)?;
    let tags = registry_tags(request.tags)?;
    let model = state.store.create_registered_model(&name, request.description.as_deref(), &tags).await?;
    Ok(Json(resp::GetRegisteredModel { registered_model: model.into() }))
}

/// GET registered-models/get
pub async fn get_registered_model(
    State(state): State<AppState>,
    MlflowRequest(request): MlflowRequest<req::RegisteredModelName>,
) -> ApiResult<Json<resp::GetRegisteredModel>> {
    let model = state.store.get_registered_model(&model_name(request.name)?).await?;
    Ok(Json(resp::GetRegisteredModel { registered_model: model.into() }))
}

/// POST registered-models/rename
pub async fn rename_registered_model(
    State(state): State<AppState>,
    MlflowRequest(request): MlflowRequest<req::RenameRegisteredModel>,
) -> ApiResult<Json<resp::GetRegisteredModel>> {
    let name = model_name(request.name)?;
    let new_name = model_name(request.new_name).map_err(|_| ApiError::missing("new_name"))?;
    let model = state.store.rename_registered_model(&name, &new_name).await?;
    Ok(Json(resp::GetRegisteredModel { registered_model: model.into() }))
}

/// PATCH registered-models/update
pub async fn update_registered_model(
    State(state): State<AppState>,
    MlflowRequest(request): MlflowRequest<req::UpdateDescription>,
) -> ApiResult<Json<resp::GetRegisteredModel>> {
    let name = model_name(request.name)?;
    let model = state.store.update_registered_model(&name, request.description.as_deref()).await?;
    Ok(Json(resp::GetRegisteredModel { registered_model: model.into() }))
}

/// DELETE registered-models/delete
pub async fn delete_registered_model(
    State(state): State<AppState>,
    MlflowRequest(request): MlflowRequest<req::RegisteredModelName>,
) -> ApiResult<Json<resp::Empty>> {
    state.store.delete_registered_model(&model_name(request.name)?).await?;
    Ok(Json(resp::Empty {}))
}

/// GET registered-models/search
pub async fn search_registered_models(
    State(state): State<AppState>,
    caller: Option<Extension<Caller>>,
    MlflowRequest(request): MlflowRequest<req::SearchRegistry>,
) -> ApiResult<Json<resp::SearchRegisteredModels>> {
    let search = registry_search(request, RegistryEntity::RegisteredModels, MODEL_PAGE, caller.as_deref())?;
    let page = state.store.search_registered_models(&search).await?;
    Ok(Json(resp::SearchRegisteredModels {
        registered_models: page.items.into_iter().map(Into::into).collect(),
        next_page_token: page.next_page_token,
    }))
}

/// POST/GET registered-models/get-latest-versions
pub async fn get_latest_versions(
    State(state): State<AppState>,
    MlflowRequest(request): MlflowRequest<req::GetLatestVersions>,
) -> ApiResult<Json<resp::ModelVersions>> {
    let name = model_name(request.name)?;
    let stages = request.stages.iter().map(|s| stage(s)).collect::<ApiResult<Vec<_>>>()?;
    let versions = state.store.get_latest_versions(&name, &stages).await?;
    Ok(Json(resp::ModelVersions {
        model_versions: versions.into_iter().map(Into::into).collect(),
        next_page_token: None,
    }))
}

/// POST registered-models/set-tag
pub async fn set_registered_model_tag(
    State(state): State<AppState>,
    MlflowRequest(request): MlflowRequest<req::RegistryTag>,
) -> ApiResult<Json<resp::Empty>> {
    let name = model_name(request.name)?;
    state.store.set_registered_model_tag(&name, &registry_tag(request.key, request.value)?).await?;
    Ok(Json(resp::Empty {}))
}

/// DELETE registered-models/delete-tag
pub async fn delete_registered_model_tag(
    State(state): State<AppState>,
    MlflowRequest(request): MlflowRequest<req::RegistryTag>,
) -> ApiResult<Json<resp::Empty>> {
    let name = model_name(request.name)?;
    state.store.delete_registered_model_tag(&name, &required(request.key, "key")?).await?;
    Ok(Json(resp::Empty {}))
}

/// POST registered-models/alias
pub async fn set_alias(
    State(state): State<AppState>,
    MlflowRequest(request): MlflowRequest<req::Alias>,
) -> ApiResult<Json<resp::Empty>> {
    let name = model_name(request.name)?;
    let alias = alias_name(request.alias)?;
    state.store.set_registered_model_alias(&name, &alias, version(request.version)?).await?;
    Ok(Json(resp::Empty {}))
}

/// DELETE registered-models/alias
pub async fn delete_alias(
    State(state): State<AppState>,
    MlflowRequest(request): MlflowRequest<req::Alias>,
) -> ApiResult<Json<resp::Empty>> {
    let name = model_name(request.name)?;
    state.store.delete_registered_model_alias(&name, &required(request.alias, "alias")?).await?;
    Ok(Json(resp::Empty {}))
}

/// GET registered-models/alias
pub async fn get_by_alias(
    State(state): State<AppState>,
    MlflowRequest(request): MlflowRequest<req::Alias>,
) -> ApiResult<Json<resp::GetModelVersion>> {
    let name = model_name(request.name)?;
    let version = state.store.get_model_version_by_alias(&name, &required(request.alias, "alias")?).await?;
    Ok(Json(resp::GetModelVersion { model_version: version.into() }))
}

/// Where a new version's files are, and the lineage its source implies.
struct ResolvedSource {
    storage_location: String,
    run_id: Option<String>,
    model_id: Option<String>,
}

/// Checks a version's `source`: it must name files this server manages for the run or logged model being
/// registered (`runs:/<run>/<path>`, `models:/<model_id>`, `models:/<name>/<version>`, or a location under
/// the run's or logged model's artifact root). A path on the server's disk, another bucket, or a location
/// that climbs out with `..` is refused.
async fn resolve_source(
    state: &AppState,
    source: &str,
    run_id: Option<String>,
    model_id: Option<String>,
) -> ApiResult<ResolvedSource> {
    let refuse = |why: &str| {
        ApiError::invalid(format!(
            "Invalid model version source '{source}': {why}. A source must be runs:/<run_id>/<path>, \
             models:/<model_id>, models:/<name>/<version>, or an artifact location of the run or logged model \
             being registered."
        ))
    };
    if let Some(rest) = source.strip_prefix("models:/") {
        if rest.starts_with("m-") && !rest.contains('/') {
            if model_id.as_deref().is_some_and(|id| id != rest) {
                return Err(refuse("it names a different logged model than model_id"));
            }
            let model = state.store.get_logged_model(rest, false).await?;
            return Ok(ResolvedSource {
                storage_location: model.artifact_location,
                run_id: run_id.or(model.source_run_id),
                model_id: Some(model.model_id),
            });
        }
        let (name, number) = rest.rsplit_once('/').ok_or_else(|| refuse("it names no version"))?;
        let number: i64 = number.parse().map_err(|_| refuse("the version is not a number"))?;
        let existing = state.store.get_model_version(name, number).await?;
        let differs = |given: &Option<String>, stored: &Option<String>| given.is_some() && given != stored;
        if differs(&run_id, &existing.run_id) || differs(&model_id, &existing.model_id) {
            return Err(refuse("the run_id and model_id request parameters must match the referenced model version"));
        }
        return Ok(ResolvedSource {
            storage_location: existing.storage_location,
            run_id: existing.run_id,
            model_id: existing.model_id,
        });
    }
    if let Some(rest) = source.strip_prefix("runs:/") {
        let (source_run, path) = rest.split_once('/').unwrap_or((rest, ""));
        if run_id.as_deref() != Some(source_run) {
            return Err(refuse("the run_id request parameter must name the run that contains the source"));
        }
        if model_id.is_some() {
            return Err(refuse("a model_id needs a models:/<model_id> source or one inside that model's location"));
        }
        let path = ArtifactPath::parse(path).map_err(|_| refuse("its path is not a plain relative path"))?;
        let run = state.store.get_run(source_run).await?;
        let storage_location = if path.is_root() {
            run.info.artifact_uri.clone()
        } else {
            format!("{}/{path}", run.info.artifact_uri.trim_end_matches('/'))
        };
        return Ok(ResolvedSource { storage_location, run_id: Some(run.info.run_id), model_id });
    }
    let mut roots = Vec::new();
    if let Some(run_id) = &run_id {
        roots.push(state.store.get_run(run_id).await?.info.artifact_uri);
    }
    if let Some(model_id) = &model_id {
        roots.push(state.store.get_logged_model(model_id, false).await?.artifact_location);
    }
    if roots.is_empty() {
        return Err(refuse("a location needs the run_id or model_id it belongs to"));
    }
    if !roots.iter().any(|root| ferroflow_artifacts::is_within(source, root)) {
        return Err(refuse("it lies outside the artifact location of the run or logged model"));
    }
    Ok(ResolvedSource { storage_location: source.to_owned(), run_id, model_id })
}

/// POST model-versions/create
pub async fn create_model_version(
    State(state): State<AppState>,
    MlflowRequest(request): MlflowRequest<req::CreateModelVersion>,
) -> ApiResult<Json<resp::GetModelVersion>> {
    let name = model_name(request.name)?;
    let source = required(request.source, "source")?;
    let tags = registry_tags(request.tags)?;
    let run_id = request.run_id.filter(|r| !r.is_empty());
    let model_id = request.model_id.filter(|m| !m.is_empty());
    // The model must exist before the source is looked at, so a typo in the name reads as such.
    state.store.get_registered_model(&name).await?;
    let resolved = resolve_source(&state, &source, run_id, model_id).await?;
    let version = state
        .store
        .create_model_version(CreateModelVersion {
            name,
            source,
            storage_location: resolved.storage_location,
            run_id: resolved.run_id,
            run_link: request.run_link.filter(|l| !l.is_empty()),
            model_id: resolved.model_id,
            description: request.description,
            tags,
            user_id: None,
        })
        .await?;
    Ok(Json(resp::GetModelVersion { model_version: version.into() }))
}

/// GET model-versions/get
pub async fn get_model_version(
    State(state): State<AppState>,
    MlflowRequest(request): MlflowRequest<req::ModelVersionRef>,
) -> ApiResult<Json<resp::GetModelVersion>> {
    let version = state.store.get_model_version(&model_name(request.name)?, version(request.version)?).await?;
    Ok(Json(resp::GetModelVersion { model_version: version.into() }))
}

/// PATCH model-versions/update
pub async fn update_model_version(
    State(state): State<AppState>,
    MlflowRequest(request): MlflowRequest<req::UpdateDescription>,
) -> ApiResult<Json<resp::GetModelVersion>> {
    let name = model_name(request.name)?;
    let updated =
        state.store.update_model_version(&name, version(request.version)?, request.description.as_deref()).await?;
    Ok(Json(resp::GetModelVersion { model_version: updated.into() }))
}

/// DELETE model-versions/delete
pub async fn delete_model_version(
    State(state): State<AppState>,
    MlflowRequest(request): MlflowRequest<req::ModelVersionRef>,
) -> ApiResult<Json<resp::Empty>> {
    state.store.delete_model_version(&model_name(request.name)?, version(request.version)?).await?;
    Ok(Json(resp::Empty {}))
}

/// GET model-versions/search
pub async fn search_model_versions(
    State(state): State<AppState>,
    caller: Option<Extension<Caller>>,
    MlflowRequest(request): MlflowRequest<req::SearchRegistry>,
) -> ApiResult<Json<resp::ModelVersions>> {
    let search = registry_search(request, RegistryEntity::ModelVersions, VERSION_PAGE, caller.as_deref())?;
    let page = state.store.search_model_versions(&search).await?;
    Ok(Json(resp::ModelVersions {
        model_versions: page.items.into_iter().map(Into::into).collect(),
        next_page_token: page.next_page_token,
    }))
}

fn stage(name: &str) -> ApiResult<Stage> {
    Stage::from_name(name).ok_or_else(|| {
        ApiError::invalid(format!(
            "Invalid Model Version stage: {name}. Value must be one of None, Staging, Production, Archived."
        ))
    })
}

/// POST model-versions/transition-stage
pub async fn transition_stage(
    State(state): State<AppState>,
    MlflowRequest(request): MlflowRequest<req::TransitionStage>,
) -> ApiResult<Json<resp::GetModelVersion>> {
    let name = model_name(request.name)?;
    let number = version(request.version)?;
    let target = stage(&required(request.stage, "stage")?)?;
    let archive = request.archive_existing_versions.ok_or_else(|| ApiError::missing("archive_existing_versions"))?;
    if archive && !matches!(target, Stage::Staging | Stage::Production) {
        return Err(ApiError::invalid(format!(
            "Model version transition cannot archive existing model versions because '{}' is not an Active \
             stage. Valid stages are Staging, Production",
            target.as_str()
        )));
    }
    let moved = state.store.transition_model_version_stage(&name, number, target, archive).await?;
    Ok(Json(resp::GetModelVersion { model_version: moved.into() }))
}

/// GET model-versions/get-download-uri
pub async fn get_download_uri(
    State(state): State<AppState>,
    MlflowRequest(request): MlflowRequest<req::ModelVersionRef>,
) -> ApiResult<Json<resp::DownloadUri>> {
    let found = state.store.get_model_version(&model_name(request.name)?, version(request.version)?).await?;
    Ok(Json(resp::DownloadUri { artifact_uri: found.storage_location }))
}

/// POST model-versions/set-tag
pub async fn set_model_version_tag(
    State(state): State<AppState>,
    MlflowRequest(request): MlflowRequest<req::RegistryTag>,
) -> ApiResult<Json<resp::Empty>> {
    let name = model_name(request.name)?;
    let number = version(request.version)?;
    state.store.set_model_version_tag(&name, number, &registry_tag(request.key, request.value)?).await?;
    Ok(Json(resp::Empty {}))
}

/// DELETE model-versions/delete-tag
pub async fn delete_model_version_tag(
    State(state): State<AppState>,
    MlflowRequest(request): MlflowRequest<req::RegistryTag>,
) -> ApiResult<Json<resp::Empty>> {
    let name = model_name(request.name)?;
    let number = version(request.version)?;
    state.store.delete_model_version_tag(&name, number, &required(request.key, "key")?).await?;
    Ok(Json(resp::Empty {}))
}
