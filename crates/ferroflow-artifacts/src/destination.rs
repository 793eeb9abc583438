//! Opening the `--artifacts-destination`: a local directory, or a bucket on S3 (or an S3-compatible
//! server), Google Cloud Storage or Azure Blob Storage. Credentials and endpoints come from the
//! environment, under the names the MLflow server and the cloud SDKs use.

use std::path::PathBuf;
use std::sync::Arc;

use object_store::aws::AmazonS3Builder;
use object_store::azure::MicrosoftAzureBuilder;
use object_store::gcp::GoogleCloudStorageBuilder;
use object_store::local::LocalFileSystem;
use object_store::multipart::MultipartStore;
use object_store::path::Path as ObjectPath;
use object_store::{ClientOptions, ObjectStore};
use url::Url;

use crate::error::{Error, Result};

/// Where artifacts live, resolved.
pub(crate) enum Backend {
    /// A directory on this machine (canonical path).
    Local(PathBuf),
    /// A bucket or container, with the key prefix everything goes under.
    Cloud { multipart: Arc<dyn MultipartStore>, prefix: ObjectPath },
}

/// Parses `destination` and builds the matching object store.
pub(crate) fn open(destination: &str) -> Result<(Arc<dyn ObjectStore>, Backend)> {
    let url = match Url::parse(destination) {
        // A one-letter scheme is a Windows drive, not a URL.
        Ok(url) if url.scheme().len() > 1 => Some(url),
        _ => None,
    };
    let Some(url) = url else { return open_local(PathBuf::from(destination)) };
    match url.scheme() {
        "file" => {
            let path =
                url.to_file_path().map_err(|()| Error::Config(format!("'{destination}' is not a local path")))?;
            open_local(path)
        }
        "s3" | "s3a" => {
            let bucket = host(&url, destination)?;
            let s3 = Arc::new(s3_builder(bucket)?.build()?);
            cloud(s3.clone(), s3, &url)
        }
        "gs" => {
            let bucket = host(&url, destination)?;
            let gcs = Arc::new(GoogleCloudStorageBuilder::from_env().with_bucket_name(bucket).build()?);
            cloud(gcs.clone(), gcs, &url)
        }
        "wasbs" | "wasb" => {
            // MLflow's form: wasbs://<container>@<account>.blob.core.windows.net/<prefix>
            let container = url.username();
            let account = host(&url, destination)?.split('.').next().unwrap_or_default();
            if container.is_empty() || account.is_empty() {
                return Err(Error::Config(format!(
                    "'{destination}' should look like wasbs://<container>@<account>.blob.core.windows.net/<path>"
                )));
            }
            let azure = Arc::new(
                MicrosoftAzureBuilder::from_env().with_account(account).with_container_name(container).build()?,
            );
            cloud(azure.clone(), azure, &url)
        }
        "az" | "azure" | "abfs" | "abfss" => {
            let azure = Arc::new(MicrosoftAzureBuilder::from_env().with_url(destination).build()?);
            cloud(azure.clone(), azure, &url)
        }
        other => Err(Error::Config(format!(
            "unsupported scheme '{other}' in '{destination}' (use a local path, s3://, gs://, wasbs:// or az://)"
        ))),
    }
}

fn open_local(path: PathBuf) -> Result<(Arc<dyn ObjectStore>, Backend)> {
    std::fs::create_dir_all(&path)
        .map_err(|err| Error::Config(format!("cannot create directory '{}': {err}", path.display())))?;
    let root = path.canonicalize()?;
    // fsync before acknowledging: an upload that got 200 survives a crash.
    let store = LocalFileSystem::new_with_prefix(&root)?.with_fsync(true);
    Ok((Arc::new(store), Backend::Local(root)))
}

fn cloud(
    objects: Arc<dyn ObjectStore>,
    multipart: Arc<dyn MultipartStore>,
    url: &Url,
) -> Result<(Arc<dyn ObjectStore>, Backend)> {
    let path = percent_encoding::percent_decode_str(url.path()).decode_utf8_lossy().into_owned();
    let prefix = ObjectPath::parse(&path).map_err(|err| Error::Config(format!("bad key prefix '{path}': {err}")))?;
    Ok((objects, Backend::Cloud { multipart, prefix }))
}

fn host<'a>(url: &'a Url, destination: &str) -> Result<&'a str> {
    url.host_str().filter(|h| !h.is_empty()).ok_or_else(|| Error::Config(format!("'{destination}' names no bucket")))
}

/// S3 settings from the environment: the AWS variables object_store knows (keys, session token, region,
/// web identity, container credentials), plus MLflow's `MLFLOW_S3_ENDPOINT_URL` and
/// `MLFLOW_S3_IGNORE_TLS`. Path-style requests, so S3-compatible servers work without DNS tricks.
fn s3_builder(bucket: &str) -> Result<AmazonS3Builder> {
    let mut builder = AmazonS3Builder::from_env().with_bucket_name(bucket);
    let endpoint = ["MLFLOW_S3_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL"]
        .iter()
        .find_map(|name| std::env::var(name).ok().filter(|v| !v.is_empty()));
    if let Some(endpoint) = endpoint {
        if endpoint.starts_with("http://") {
            builder = builder.with_allow_http(true);
        }
        builder = builder.with_endpoint(endpoint);
    }
    let region = ["AWS_REGION", "AWS_DEFAULT_REGION"].iter().find_map(|name| std::env::var(name).ok());
    builder = builder.with_region(region.unwrap_or_else(|| "us-east-1".to_owned()));
    if std::env::var("MLFLOW_S3_IGNORE_TLS").is_ok_and(|v| v.eq_ignore_ascii_case("true") || v == "1") {
        builder = builder.with_client_options(ClientOptions::new().with_allow_invalid_certificates(true));
    }
    Ok(builder)
}
