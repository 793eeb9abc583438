//! [`ArtifactStore`]: the operations behind the artifact proxy, streamed so that no file is ever held
//! whole in memory.
//!
//! Files go through `object_store` on every destination. A local destination gets extra care that an
//! object store does not need: every path is resolved against the real directory tree so a symlink cannot
//! lead outside the root, and listing and deleting work on the directory tree itself (a recursive delete
//! removes a symlink, never what it points at).

use std::io::{ErrorKind, SeekFrom};
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use bytes::Bytes;
use futures_util::stream::{BoxStream, StreamExt as _, TryStreamExt as _};
use futures_util::Stream;
use object_store::buffered::BufWriter;
use object_store::multipart::PartId;
use object_store::path::Path as ObjectPath;
use object_store::{GetOptions, GetRange, GetResultPayload, ObjectStore, ObjectStoreExt as _, PutPayload};
use tokio::io::{AsyncReadExt as _, AsyncSeekExt as _, AsyncWriteExt as _};
use tokio::sync::Semaphore;
use tokio_util::io::ReaderStream;

use crate::destination::{self, Backend};
use crate::error::{Error, Result};
use crate::path::{ArtifactPath, STAGING_DIR};

/// Size of the pieces an upload is cut into on its way to the store (and of each multipart part for
/// cloud stores, whose minimum part is 5 MiB).
const UPLOAD_CHUNK_BYTES: usize = 8 * 1024 * 1024;
/// Parts of one streamed upload in flight at once.
const UPLOAD_CONCURRENCY: usize = 2;
/// Range size and ranges in flight when a large object is read from a bucket (memory: their product).
const DOWNLOAD_RANGE_BYTES: u64 = 8 * 1024 * 1024;
const DOWNLOAD_RANGES_IN_FLIGHT: usize = 4;
/// Read size when streaming a local file out.
const DOWNLOAD_CHUNK_BYTES: usize = 1024 * 1024;
/// Cloud stores take a multipart part as one buffer; this many bytes of such parts may be held at once
/// across all requests, and it is also the largest part accepted.
pub const MAX_BUFFERED_PART_BYTES: u64 = 64 * 1024 * 1024;
/// Highest part number S3 accepts (and so the most parts a multipart upload may have).
pub const MAX_PARTS: u32 = 10_000;

/// One entry of a directory listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The name within the listed directory.
    pub name: String,
    /// A directory (or, on object stores, a common key prefix).
    pub is_dir: bool,
    /// Size in bytes, for files.
    pub size: Option<u64>,
}

/// A byte range asked for by an HTTP `Range` header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ByteRange {
    /// `bytes=first-last` (inclusive).
    FromTo(u64, u64),
    /// `bytes=first-`
    From(u64),
    /// `bytes=-n`: the last n bytes.
    Last(u64),
}

impl ByteRange {
    /// The half-open range within a file of `size` bytes, or `None` if it selects nothing.
    pub fn resolve(self, size: u64) -> Option<Range<u64>> {
        let range = match self {
            Self::FromTo(first, last) if first <= last => first..last.saturating_add(1).min(size),
            Self::FromTo(..) => return None,
            Self::From(first) => first..size,
            Self::Last(n) => size.saturating_sub(n)..size,
        };
        (range.start < range.end).then_some(range)
    }
}

/// A file on its way out.
pub struct Download {
    /// The file's full size.
    pub size: u64,
    /// The bytes being sent (all of them unless a range was asked for).
    pub range: Range<u64>,
    /// The bytes.
    pub body: BoxStream<'static, std::io::Result<Bytes>>,
}

/// A finished part of a multipart upload: the part number and the ETag the client must hand back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompletedPart {
    /// 1-based part number.
    pub part_number: u32,
    /// What the part upload answered.
    pub etag: String,
}

/// The artifact destination and everything done to it.
pub struct ArtifactStore {
    objects: Arc<dyn ObjectStore>,
    backend: Backend,
    uri: String,
    part_buffer: Arc<Semaphore>,
}

impl std::fmt::Debug for ArtifactStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ArtifactStore").field("uri", &self.uri).finish_non_exhaustive()
    }
}

impl ArtifactStore {
    /// Opens `destination`: a local path (created if missing), `file://`, `s3://bucket/prefix`,
    /// `gs://bucket/prefix`, `wasbs://container@account.blob.core.windows.net/prefix` or `az://...`.
    ///
    /// # Errors
    /// [`Error::Config`] for an unusable URI, or the store's error.
    pub fn open(destination: &str) -> Result<Self> {
        let (objects, backend) = destination::open(destination)?;
        let permits = usize::try_from(MAX_BUFFERED_PART_BYTES / MIB).unwrap_or(usize::MAX);
        Ok(Self { objects, backend, uri: destination.to_owned(), part_buffer: Arc::new(Semaphore::new(permits)) })
    }

    /// The destination as configured.
    pub fn uri(&self) -> &str {
        &self.uri
    }

    /// Whether the destination is a bucket (S3, GCS, Azure), where multipart uploads are worth offering
    /// to clients; on local disk a single streamed upload is faster.
    pub fn is_object_store(&self) -> bool {
        matches!(self.backend, Backend::Cloud { .. })
    }

    /// The local root directory, for a local destination.
    pub fn local_root(&self) -> Option<&Path> {
        match &self.backend {
            Backend::Local(root) => Some(root),
            Backend::Cloud { .. } => None,
        }
    }

    fn object_path(&self, path: &ArtifactPath) -> Result<ObjectPath> {
        ObjectPath::parse(self.store_key(&path.to_string())).map_err(|_| Error::InvalidPath(path.to_string()))
    }

    /// The key in `objects` of `relative`, a path below the destination: under a bucket's prefix, or
    /// as it is (object_store's local filesystem is rooted at the destination).
    fn store_key(&self, relative: &str) -> String {
        match &self.backend {
            Backend::Cloud { prefix, .. } if !prefix.as_ref().is_empty() => format!("{prefix}/{relative}"),
            Backend::Cloud { .. } | Backend::Local(_) => relative.to_owned(),
        }
    }

    /// Resolves `path` inside a local root, refusing any way out through symlinks, and returns the
    /// filesystem path (which may not exist yet). With `for_write`, an existing file where a directory is
    /// needed is an error too.
    fn confine(root: &Path, path: &ArtifactPath, for_write: bool) -> Result<PathBuf> {
        let mut current = root.to_path_buf();
        let count = path.segments().len();
        for (i, segment) in path.segments().iter().enumerate() {
            current.push(segment);
            let meta = match std::fs::symlink_metadata(&current) {
                Ok(meta) => meta,
                Err(err) if err.kind() == ErrorKind::NotFound => break,
                Err(err) => return Err(err.into()),
            };
            let is_dir = if meta.file_type().is_symlink() {
                let resolved = match std::fs::canonicalize(&current) {
                    Ok(resolved) => resolved,
                    // A dangling link: it points somewhere that does not exist, maybe outside.
                    Err(_) => return Err(Error::OutsideRoot(path.to_string())),
                };
                if !resolved.starts_with(root) {
                    return Err(Error::OutsideRoot(path.to_string()));
                }
                resolved.is_dir()
            } else {
                meta.is_dir()
            };
            if i + 1 < count && !is_dir {
                let file = path.segments()[..=i].join("/");
                return Err(if for_write {
                    Error::Invalid(format!("Cannot write '{path}': '{file}' is a file, not a directory"))
                } else {
                    Error::NotFound(path.to_string())
                });
            }
        }
        Ok(root.join(path.to_string()))
    }

    /// Stores `body` at `path`, replacing what was there. The body is cut into chunks and written as it
    /// arrives; nothing is visible at `path` until the whole body has been stored.
    ///
    /// # Errors
    /// Invalid or unsafe paths, a directory in the way, a broken upload, or the store's failure.
    pub async fn put<S, E>(&self, path: &ArtifactPath, mut body: S) -> Result<u64>
    where
        S: Stream<Item = Result<Bytes, E>> + Unpin + Send,
        E: std::fmt::Display,
    {
        let location = self.writable_location(path)?;
        if let Backend::Local(root) = &self.backend {
            return write_local_file(root.join(path.to_string()), body).await;
        }
        let mut writer = BufWriter::with_capacity(self.objects.clone(), location, UPLOAD_CHUNK_BYTES)
            .with_max_concurrency(UPLOAD_CONCURRENCY);
        let mut written = 0u64;
        let failure = loop {
            match body.next().await {
                Some(Ok(chunk)) => {
                    written += chunk.len() as u64;
                    if let Err(err) = writer.put(chunk).await {
                        break Error::from(err);
                    }
                }
                Some(Err(err)) => break Error::Upload(err.to_string()),
                None => match writer.shutdown().await {
                    Ok(()) => return Ok(written),
                    Err(err) => break Error::Io(err),
                },
            }
        };
        if let Err(err) = writer.abort().await {
            tracing::warn!(path = %path, error = %err, "could not clean up an interrupted upload");
        }
        Err(failure)
    }

    /// The object path to write `path` to, after the checks every write needs.
    fn writable_location(&self, path: &ArtifactPath) -> Result<ObjectPath> {
        let Some(name) = path.file_name() else {
            return Err(Error::Invalid("An artifact path must end in a file name".to_owned()));
        };
        if let Backend::Local(root) = &self.backend {
            // object_store keeps `name#<digits>` for its own in-progress files on local disk.
            if is_partial_upload(name) {
                return Err(Error::InvalidPath(format!("{path} (a name may not end in '#' and digits)")));
            }
            let target = Self::confine(root, path, true)?;
            if target.is_dir() {
                return Err(Error::IsDirectory(path.to_string()));
            }
        }
        self.object_path(path)
    }

    /// Opens `path` for reading, optionally only `range` of it.
    ///
    /// # Errors
    /// [`Error::NotFound`], [`Error::IsDirectory`], [`Error::RangeNotSatisfiable`], unsafe paths, or the
    /// store's failure.
    pub async fn get(&self, path: &ArtifactPath, range: Option<ByteRange>) -> Result<Download> {
        if path.is_root() {
            return Err(Error::IsDirectory(String::new()));
        }
        if let Backend::Local(root) = &self.backend {
            let target = Self::confine(root, path, false)?;
            if target.is_dir() {
                return Err(Error::IsDirectory(path.to_string()));
            }
        }
        let location = self.object_path(path)?;
        let mut options = GetOptions::default();
        if let Some(range) = range {
            let size = self.objects.head(&location).await.map_err(|err| not_found(err, path))?.size;
            let Some(bounds) = range.resolve(size) else { return Err(Error::RangeNotSatisfiable { size }) };
            options.range = Some(GetRange::Bounded(bounds));
        }
        let result = match self.objects.get_opts(&location, options).await {
            Ok(result) => result,
            Err(object_store::Error::NotFound { .. }) => {
                // On an object store a "directory" is a prefix with objects under it.
                let listing = self.objects.list_with_delimiter(Some(&location)).await?;
                if listing.objects.is_empty() && listing.common_prefixes.is_empty() {
                    return Err(Error::NotFound(path.to_string()));
                }
                return Err(Error::IsDirectory(path.to_string()));
            }
            Err(err) => return Err(err.into()),
        };
        let size = result.meta.size;
        if range.is_none() && self.is_object_store() && size >= 2 * DOWNLOAD_RANGE_BYTES {
            // The answer so far is only the object's size: the body comes faster as parallel ranges.
            drop(result);
            return Ok(self.parallel_download(&location, size));
        }
        let range = result.range.clone();
        let body = match result.payload {
            GetResultPayload::File(file, _) => {
                // object_store reads local files 8 KiB at a time; read larger pieces instead.
                let mut file = tokio::fs::File::from_std(file);
                file.seek(SeekFrom::Start(range.start)).await?;
                ReaderStream::with_capacity(file.take(range.end - range.start), DOWNLOAD_CHUNK_BYTES).boxed()
            }
            GetResultPayload::Stream(stream) => stream.map_err(std::io::Error::other).boxed(),
        };
        Ok(Download { size, range, body })
    }

    /// A large object on a bucket, fetched as [`DOWNLOAD_RANGE_BYTES`] ranges, [`DOWNLOAD_RANGES_IN_FLIGHT`]
    /// at a time, and sent in order: object stores serve one stream far slower than several.
    fn parallel_download(&self, location: &ObjectPath, size: u64) -> Download {
        let objects = self.objects.clone();
        let location = location.clone();
        let ranges: Vec<Range<u64>> = (0..size)
            .step_by(DOWNLOAD_RANGE_BYTES as usize)
            .map(|start| start..(start + DOWNLOAD_RANGE_BYTES).min(size))
            .collect();
        let body = futures_util::stream::iter(ranges)
            .map(move |range| {
                let (objects, location) = (objects.clone(), location.clone());
                async move { objects.get_range(&location, range).await.map_err(std::io::Error::other) }
            })
            .buffered(DOWNLOAD_RANGES_IN_FLIGHT)
            .boxed();
        Download { size, range: 0..size, body }
    }

    /// Lists the directory `dir`. A file, or nothing, at `dir` lists as empty, as MLflow does.
    ///
    /// # Errors
    /// Unsafe paths or the store's failure.
    pub async fn list(&self, dir: &ArtifactPath) -> Result<Vec<Entry>> {
        let mut entries = match &self.backend {
            Backend::Local(root) => match Self::confine(root, dir, false) {
                Ok(target) => Self::list_local(root, &target, dir.is_root()).await?,
                Err(Error::NotFound(_)) => Vec::new(),
                Err(err) => return Err(err),
            },
            Backend::Cloud { .. } => {
                let prefix = self.object_path(dir)?;
                let listing = self.objects.list_with_delimiter(Some(&prefix)).await?;
                let dirs = listing
                    .common_prefixes
                    .iter()
                    .filter_map(|p| p.filename())
                    .filter(|name| !(dir.is_root() && *name == STAGING_DIR))
                    .map(|name| Entry { name: name.to_owned(), is_dir: true, size: None });
                let files = listing.objects.iter().filter_map(|meta| {
                    meta.location.filename().map(|name| Entry {
                        name: name.to_owned(),
                        is_dir: false,
                        size: Some(meta.size),
                    })
                });
                dirs.chain(files).collect()
            }
        };
        entries.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(entries)
    }

    async fn list_local(root: &Path, dir: &Path, at_root: bool) -> Result<Vec<Entry>> {
        let mut reader = match tokio::fs::read_dir(dir).await {
            Ok(reader) => reader,
            Err(err) if matches!(err.kind(), ErrorKind::NotFound | ErrorKind::NotADirectory) => return Ok(Vec::new()),
            Err(err) => return Err(err.into()),
        };
        let mut entries = Vec::new();
        while let Some(item) = reader.next_entry().await? {
            let Ok(name) = item.file_name().into_string() else { continue };
            if (at_root && name == STAGING_DIR) || is_partial_upload(&name) {
                continue;
            }
            let mut meta = item.metadata().await?;
            if meta.file_type().is_symlink() {
                // Show a link only if it stays inside the root, as what it points at.
                match tokio::fs::canonicalize(item.path()).await {
                    Ok(resolved) if resolved.starts_with(root) => meta = tokio::fs::metadata(&resolved).await?,
                    _ => continue,
                }
            }
            let is_dir = meta.is_dir();
            entries.push(Entry { name, is_dir, size: (!is_dir).then_some(meta.len()) });
        }
        Ok(entries)
    }

    /// Deletes `path` and everything under it. Deleting what does not exist succeeds.
    ///
    /// # Errors
    /// The root cannot be deleted; unsafe paths; the store's failure.
    pub async fn delete(&self, path: &ArtifactPath) -> Result<()> {
        if path.is_root() {
            return Err(Error::Invalid("Refusing to delete the artifact root".to_owned()));
        }
        match &self.backend {
            Backend::Local(root) => {
                let target = match Self::confine(root, path, false) {
                    Ok(target) => target,
                    Err(Error::NotFound(_)) => return Ok(()),
                    Err(err) => return Err(err),
                };
                let removed = match tokio::fs::symlink_metadata(&target).await {
                    Ok(meta) if meta.is_dir() => tokio::fs::remove_dir_all(&target).await,
                    Ok(_) => tokio::fs::remove_file(&target).await,
                    Err(err) => Err(err),
                };
                match removed {
                    Err(err) if err.kind() != ErrorKind::NotFound => Err(err.into()),
                    _ => Ok(()),
                }
            }
            Backend::Cloud { .. } => {
                let location = self.object_path(path)?;
                let children = self.objects.list(Some(&location)).map_ok(|meta| meta.location);
                let exact = futures_util::stream::once(std::future::ready(Ok(location)));
                let mut deleted = self.objects.delete_stream(exact.chain(children).boxed());
                while let Some(result) = deleted.next().await {
                    match result {
                        Ok(_) | Err(object_store::Error::NotFound { .. }) => {}
                        Err(err) => return Err(err.into()),
                    }
                }
                Ok(())
            }
        }
    }

    /// Starts a multipart upload of `num_parts` parts to `path` and returns its id.
    ///
    /// On cloud stores this is the store's own multipart upload; on a local destination the parts are
    /// staged under a reserved directory of the root and joined on completion. Either way a small
    /// manifest (the path and the number of parts) is kept in the destination, so that any replica can
    /// check later calls: parts must belong to this path and number, and completion must name them all.
    ///
    /// # Errors
    /// Unsafe paths, a directory in the way, or the store's failure.
    pub async fn create_multipart(&self, path: &ArtifactPath, num_parts: u32) -> Result<String> {
        let location = self.writable_location(path)?;
        let manifest = Manifest { num_parts, path: path.to_string() };
        match &self.backend {
            Backend::Cloud { multipart, .. } => {
                let id = multipart.create_multipart(&location).await?;
                if id.len() > MAX_UPLOAD_ID_BYTES {
                    let _ = multipart.abort_multipart(&location, &id).await;
                    return Err(Error::NotImplemented("the store's multipart upload ids are too long".into()));
                }
                self.objects.put(&self.manifest_location(&id)?, manifest.render().into()).await?;
                Ok(id)
            }
            Backend::Local(root) => {
                let id = uuid::Uuid::new_v4().simple().to_string();
                let staging = staging_dir(root, &id);
                tokio::fs::create_dir_all(&staging).await?;
                tokio::fs::write(staging.join(MANIFEST_FILE), manifest.render()).await?;
                Ok(id)
            }
        }
    }

    /// Where a cloud upload's manifest lives: under the reserved prefix, named by the hex of its id.
    fn manifest_location(&self, upload_id: &str) -> Result<ObjectPath> {
        let hex: String = upload_id.bytes().map(|b| format!("{b:02x}")).collect();
        if !self.is_object_store() {
            return Err(Error::NotFound(format!("multipart upload '{upload_id}'")));
        }
        ObjectPath::parse(self.store_key(&format!("{STAGING_DIR}/{hex}")))
            .map_err(|_| Error::NotFound(format!("multipart upload '{upload_id}'")))
    }

    /// The manifest of `upload_id`, checked to be an upload to `path`.
    async fn manifest(&self, path: &ArtifactPath, upload_id: &str) -> Result<Manifest> {
        let unknown = || Error::NotFound(format!("multipart upload '{upload_id}'"));
        let text = match &self.backend {
            Backend::Local(root) => {
                if upload_id.len() != 32 || !upload_id.bytes().all(|b| b.is_ascii_hexdigit()) {
                    return Err(unknown());
                }
                match tokio::fs::read_to_string(staging_dir(root, upload_id).join(MANIFEST_FILE)).await {
                    Ok(text) => text,
                    Err(err) if err.kind() == ErrorKind::NotFound => return Err(unknown()),
                    Err(err) => return Err(err.into()),
                }
            }
            Backend::Cloud { .. } => {
                if upload_id.is_empty() || upload_id.len() > MAX_UPLOAD_ID_BYTES {
                    return Err(unknown());
                }
                match self.objects.get(&self.manifest_location(upload_id)?).await {
                    Ok(result) => String::from_utf8_lossy(&result.bytes().await?).into_owned(),
                    Err(object_store::Error::NotFound { .. }) => return Err(unknown()),
                    Err(err) => return Err(err.into()),
                }
            }
        };
        let manifest = Manifest::parse(&text).ok_or_else(unknown)?;
        if manifest.path != path.to_string() {
            return Err(Error::Invalid(format!("multipart upload '{upload_id}' is not for '{path}'")));
        }
        Ok(manifest)
    }

    /// Forgets an upload's bookkeeping (after completion or abort).
    async fn drop_manifest(&self, upload_id: &str) -> Result<()> {
        match &self.backend {
            Backend::Local(root) => tokio::fs::remove_dir_all(staging_dir(root, upload_id)).await?,
            Backend::Cloud { .. } => match self.objects.delete(&self.manifest_location(upload_id)?).await {
                Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
                Err(err) => return Err(err.into()),
            },
        }
        Ok(())
    }

    /// Stores part `part_number` (1-based) of upload `upload_id`; returns the part's ETag.
    /// `content_length` is the declared body size, which cloud stores need up front.
    ///
    /// # Errors
    /// Unknown uploads, bad part numbers, oversized parts, a broken body, or the store's failure.
    pub async fn put_part<S, E>(
        &self,
        path: &ArtifactPath,
        upload_id: &str,
        part_number: u32,
        content_length: Option<u64>,
        mut body: S,
    ) -> Result<String>
    where
        S: Stream<Item = Result<Bytes, E>> + Unpin + Send,
        E: std::fmt::Display,
    {
        let manifest = self.manifest(path, upload_id).await?;
        if !(1..=manifest.num_parts).contains(&part_number) {
            return Err(Error::Invalid(format!(
                "part_number must be between 1 and {} for this upload, got {part_number}",
                manifest.num_parts
            )));
        }
        match &self.backend {
            Backend::Cloud { multipart, .. } => {
                let location = self.writable_location(path)?;
                let Some(length) = content_length else {
                    return Err(Error::Invalid("A part upload needs a Content-Length header".to_owned()));
                };
                if length > MAX_BUFFERED_PART_BYTES {
                    return Err(Error::Invalid(format!(
                        "A part may be at most {} MiB; lower MLFLOW_MULTIPART_UPLOAD_CHUNK_SIZE",
                        MAX_BUFFERED_PART_BYTES / MIB
                    )));
                }
                // Cloud stores take a part as one buffer: cap what all requests hold at once.
                let permits = u32::try_from(length.div_ceil(MIB).max(1)).unwrap_or(u32::MAX);
                let _budget =
                    self.part_buffer.acquire_many(permits).await.map_err(|_| Error::Invalid("shutting down".into()))?;
                let mut parts = Vec::new();
                let mut received = 0u64;
                while let Some(chunk) = body.next().await {
                    let chunk = chunk.map_err(|err| Error::Upload(err.to_string()))?;
                    received += chunk.len() as u64;
                    if received > length {
                        return Err(Error::Invalid("The part is longer than its Content-Length".to_owned()));
                    }
                    parts.push(chunk);
                }
                if received != length {
                    return Err(Error::Upload(format!("got {received} of {length} bytes")));
                }
                let payload: PutPayload = parts.into_iter().collect();
                let id = upload_id.to_owned();
                let part = multipart.put_part(&location, &id, part_number as usize - 1, payload).await;
                Ok(part.map_err(|err| store_refusal(err, path))?.content_id)
            }
            Backend::Local(root) => {
                let staging = staging_dir(root, upload_id);
                let part_path = staging.join(format!("part-{part_number}"));
                let partial = staging.join(format!("part-{part_number}.partial"));
                let mut file = tokio::fs::File::create(&partial).await?;
                let mut received = 0u64;
                while let Some(chunk) = body.next().await {
                    let chunk = match chunk {
                        Ok(chunk) => chunk,
                        Err(err) => {
                            drop(file);
                            let _ = tokio::fs::remove_file(&partial).await;
                            return Err(Error::Upload(err.to_string()));
                        }
                    };
                    received += chunk.len() as u64;
                    file.write_all(&chunk).await?;
                }
                file.flush().await?;
                drop(file);
                tokio::fs::rename(&partial, &part_path).await?;
                Ok(local_etag(part_number, received))
            }
        }
    }

    /// Joins the parts of `upload_id` into the file at `path`. `parts` must name every part of the
    /// upload, 1 to the number it was created with, each once.
    ///
    /// # Errors
    /// Unknown uploads, an incomplete or repeated part list, wrong ETags, or the store's failure.
    pub async fn complete_multipart(
        &self,
        path: &ArtifactPath,
        upload_id: &str,
        mut parts: Vec<CompletedPart>,
    ) -> Result<()> {
        let manifest = self.manifest(path, upload_id).await?;
        parts.sort_by_key(|p| p.part_number);
        let numbers: Vec<u32> = parts.iter().map(|p| p.part_number).collect();
        if numbers != (1..=manifest.num_parts).collect::<Vec<u32>>() {
            return Err(Error::Invalid(format!(
                "parts must list each of the upload's {} parts exactly once, got part numbers {numbers:?}",
                manifest.num_parts
            )));
        }
        match &self.backend {
            Backend::Cloud { multipart, .. } => {
                let location = self.writable_location(path)?;
                let ids = parts.into_iter().map(|p| PartId { content_id: p.etag }).collect();
                multipart
                    .complete_multipart(&location, &upload_id.to_owned(), ids)
                    .await
                    .map_err(|err| store_refusal(err, path))?;
            }
            Backend::Local(root) => {
                let staging = staging_dir(root, upload_id);
                let target = Self::confine(root, path, true)?;
                if target.is_dir() {
                    return Err(Error::IsDirectory(path.to_string()));
                }
                let joined = staging.join("joined");
                let numbered: Vec<(u32, String)> = parts.iter().map(|p| (p.part_number, p.etag.clone())).collect();
                let (join_staging, join_target) = (staging.clone(), joined.clone());
                // A blocking copy between files lets the kernel move the bytes (copy_file_range).
                tokio::task::spawn_blocking(move || join_parts(&join_staging, &join_target, &numbered))
                    .await
                    .map_err(|join| Error::Io(std::io::Error::other(join)))??;
                if let Some(parent) = target.parent() {
                    tokio::fs::create_dir_all(parent).await?;
                }
                tokio::fs::rename(&joined, &target).await?;
                if let Some(parent) = target.parent() {
                    tokio::fs::File::open(parent).await?.sync_all().await?;
                }
            }
        }
        self.drop_manifest(upload_id).await
    }

    /// Abandons `upload_id`, discarding its parts.
    ///
    /// # Errors
    /// Unknown uploads or the store's failure.
    pub async fn abort_multipart(&self, path: &ArtifactPath, upload_id: &str) -> Result<()> {
        self.manifest(path, upload_id).await?;
        if let Backend::Cloud { multipart, .. } = &self.backend {
            let location = self.writable_location(path)?;
            multipart
                .abort_multipart(&location, &upload_id.to_owned())
                .await
                .map_err(|err| store_refusal(err, path))?;
        }
        self.drop_manifest(upload_id).await
    }

    /// Removes the multipart uploads that nobody has touched for `idle`: clients that died between
    /// `mpu/create` and `mpu/complete` leave them behind. A local upload goes with its staged parts (its
    /// last activity is the newest time among them); a bucket's upload is aborted at the store, which
    /// frees its parts, and its manifest deleted (its age is the manifest's, written at creation).
    /// Replicas may sweep at once: what another one removed first is skipped. Returns how many uploads
    /// were removed.
    ///
    /// # Errors
    /// The store's failure to list or delete.
    pub async fn sweep_abandoned_uploads(&self, idle: std::time::Duration) -> Result<usize> {
        let cutoff = std::time::SystemTime::now().checked_sub(idle).unwrap_or(std::time::UNIX_EPOCH);
        let mut removed = 0;
        match &self.backend {
            Backend::Local(root) => {
                let mut uploads = match tokio::fs::read_dir(root.join(STAGING_DIR)).await {
                    Ok(uploads) => uploads,
                    Err(err) if err.kind() == ErrorKind::NotFound => return Ok(0),
                    Err(err) => return Err(err.into()),
                };
                while let Some(upload) = uploads.next_entry().await? {
                    let staging = upload.path();
                    if !matches!(last_activity(&staging).await?, Some(at) if at < cutoff) {
                        continue;
                    }
                    match tokio::fs::remove_dir_all(&staging).await {
                        Ok(()) => removed += 1,
                        Err(err) if err.kind() == ErrorKind::NotFound => {}
                        Err(err) => return Err(err.into()),
                    }
                }
            }
            Backend::Cloud { multipart, .. } => {
                let staging = ObjectPath::parse(self.store_key(STAGING_DIR))
                    .map_err(|err| Error::Io(std::io::Error::other(err)))?;
                let manifests: Vec<object_store::ObjectMeta> = self.objects.list(Some(&staging)).try_collect().await?;
                let cutoff_secs = cutoff.duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
                for meta in manifests {
                    if u64::try_from(meta.last_modified.timestamp()).unwrap_or(0) > cutoff_secs {
                        continue;
                    }
                    let Some(upload_id) = meta.location.filename().and_then(unhex) else { continue };
                    let manifest = match self.objects.get(&meta.location).await {
                        Ok(result) => Manifest::parse(&String::from_utf8_lossy(&result.bytes().await?)),
                        Err(object_store::Error::NotFound { .. }) => continue,
                        Err(err) => return Err(err.into()),
                    };
                    let target = manifest.and_then(|m| ArtifactPath::parse(&m.path).ok());
                    if let Some(location) = target.and_then(|path| self.writable_location(&path).ok()) {
                        // An upload the store no longer knows is already gone; the manifest goes regardless.
                        let _ = multipart.abort_multipart(&location, &upload_id).await;
                    }
                    match self.objects.delete(&meta.location).await {
                        Ok(()) => removed += 1,
                        Err(object_store::Error::NotFound { .. }) => {}
                        Err(err) => return Err(err.into()),
                    }
                }
            }
        }
        Ok(removed)
    }
}

/// Concatenates the staged parts of a local multipart upload into `joined`, checking each part against
/// the ETag its upload answered, and syncs the result.
fn join_parts(staging: &Path, joined: &Path, parts: &[(u32, String)]) -> Result<()> {
    let mut out = std::fs::File::create(joined)?;
    for (number, etag) in parts {
        let mut input = match std::fs::File::open(staging.join(format!("part-{number}"))) {
            Ok(file) => file,
            Err(err) if err.kind() == ErrorKind::NotFound => {
                return Err(Error::Invalid(format!("part {number} was never uploaded")));
            }
            Err(err) => return Err(err.into()),
        };
        let size = input.metadata()?.len();
        if etag.trim_matches('"') != local_etag(*number, size).trim_matches('"') {
            return Err(Error::Invalid(format!("part {number} does not match its ETag")));
        }
        std::io::copy(&mut input, &mut out)?;
    }
    out.sync_all()?;
    Ok(())
}

/// Writes an upload to `target` on local disk. The request body's chunks are gathered into batches of
/// about 1 MiB that a writer thread appends to a temporary file beside the target (named like
/// object_store's own partial files, so listings skip it) with one vectored write each. Every 32 MiB a
/// second thread is asked to sync the file, so the disk writes back while more of the body arrives and
/// the sync at the end has little left to do; the file is then renamed into place and the directory
/// synced. The target is absent or complete, never partial, and a 200 means the bytes are on disk.
async fn write_local_file<S, E>(target: PathBuf, mut body: S) -> Result<u64>
where
    S: Stream<Item = Result<Bytes, E>> + Unpin + Send,
    E: std::fmt::Display,
{
    let dir = target.parent().map(Path::to_path_buf).unwrap_or_default();
    tokio::fs::create_dir_all(&dir).await?;
    let name = target.file_name().and_then(|n| n.to_str()).unwrap_or("upload");
    let temp = dir.join(format!("{name}#{}", uuid::Uuid::new_v4().as_u128() % 1_000_000_000_000));
    let (sender, mut receiver) = tokio::sync::mpsc::channel::<Vec<Bytes>>(LOCAL_WRITE_QUEUE);
    let temp_for_writer = temp.clone();
    let writer = tokio::task::spawn_blocking(move || -> std::io::Result<u64> {
        let mut file = std::fs::File::create(&temp_for_writer)?;
        let mut syncer: Option<BackgroundSync> = None;
        let (mut written, mut unsynced) = (0u64, 0usize);
        while let Some(batch) = receiver.blocking_recv() {
            let size = write_batch(&mut file, &batch)?;
            written += size as u64;
            unsynced += size;
            if unsynced >= LOCAL_SYNC_EVERY {
                match &syncer {
                    Some(syncer) => syncer.request(),
                    None => syncer = Some(BackgroundSync::start(file.try_clone()?)),
                }
                unsynced = 0;
            }
        }
        if let Some(syncer) = syncer {
            syncer.finish()?;
        }
        file.sync_all()?;
        Ok(written)
    });
    let mut batch: Vec<Bytes> = Vec::new();
    let mut batch_size = 0;
    let mut failure = None;
    loop {
        match body.next().await {
            Some(Ok(chunk)) => {
                batch_size += chunk.len();
                batch.push(chunk);
                if batch_size >= LOCAL_WRITE_BATCH {
                    batch_size = 0;
                    if sender.send(std::mem::take(&mut batch)).await.is_err() {
                        break; // the writer failed; its error is collected below
                    }
                }
            }
            Some(Err(err)) => {
                failure = Some(Error::Upload(err.to_string()));
                break;
            }
            None => {
                if !batch.is_empty() {
                    let _ = sender.send(batch).await;
                }
                break;
            }
        }
    }
    drop(sender);
    let outcome = match writer.await {
        Ok(result) => result.map_err(Error::from),
        Err(join) => Err(Error::Io(std::io::Error::other(join))),
    };
    match (failure, outcome) {
        (None, Ok(written)) => {
            tokio::fs::rename(&temp, &target).await?;
            tokio::fs::File::open(&dir).await?.sync_all().await?;
            Ok(written)
        }
        (Some(err), _) | (None, Err(err)) => {
            let _ = tokio::fs::remove_file(&temp).await;
            Err(err)
        }
    }
}

/// Writes every chunk of `batch` to `file`, in as few system calls as the kernel allows.
fn write_batch(file: &mut std::fs::File, batch: &[Bytes]) -> std::io::Result<usize> {
    use std::io::{IoSlice, Write as _};
    let total = batch.iter().map(Bytes::len).sum();
    let mut slices: Vec<IoSlice<'_>> = batch.iter().map(|chunk| IoSlice::new(chunk)).collect();
    let mut rest = &mut slices[..];
    while !rest.is_empty() {
        match file.write_vectored(rest) {
            Ok(0) => return Err(std::io::ErrorKind::WriteZero.into()),
            Ok(n) => IoSlice::advance_slices(&mut rest, n),
            Err(err) if err.kind() == std::io::ErrorKind::Interrupted => {}
            Err(err) => return Err(err),
        }
    }
    Ok(total)
}

/// A thread that syncs a file's data whenever asked, while its writer goes on writing. A request made
/// while a sync is already waiting to start is covered by that one.
struct BackgroundSync {
    requests: std::sync::mpsc::SyncSender<()>,
    thread: std::thread::JoinHandle<std::io::Result<()>>,
}

impl BackgroundSync {
    /// Starts the thread, with a first sync already requested.
    fn start(file: std::fs::File) -> Self {
        let (requests, pending) = std::sync::mpsc::sync_channel::<()>(1);
        let _ = requests.try_send(());
        let thread = std::thread::spawn(move || {
            while pending.recv().is_ok() {
                file.sync_data()?;
            }
            Ok(())
        });
        Self { requests, thread }
    }

    fn request(&self) {
        // Full: a sync is already due. Disconnected: the thread failed, and `finish` reports why.
        let _ = self.requests.try_send(());
    }

    /// Waits for the requested syncs and returns the first failure.
    fn finish(self) -> std::io::Result<()> {
        drop(self.requests);
        self.thread.join().unwrap_or_else(|_| Err(std::io::Error::other("the sync thread panicked")))
    }
}

/// Bytes gathered per write of the local writer thread, and how many batches may wait for it.
const LOCAL_WRITE_BATCH: usize = 1024 * 1024;
const LOCAL_WRITE_QUEUE: usize = 16;
/// The local writer asks for a background sync after this many bytes, so the sync at the end has
/// little left to flush.
const LOCAL_SYNC_EVERY: usize = 32 * 1024 * 1024;

/// What is recorded about a multipart upload when it starts.
struct Manifest {
    num_parts: u32,
    path: String,
}

impl Manifest {
    fn render(&self) -> String {
        format!("{}\n{}", self.num_parts, self.path)
    }

    fn parse(text: &str) -> Option<Self> {
        let (count, path) = text.split_once('\n')?;
        Some(Self { num_parts: count.parse().ok()?, path: path.to_owned() })
    }
}

/// Longest upload id accepted (S3's are about 100 characters).
const MAX_UPLOAD_ID_BYTES: usize = 400;
/// In a local upload's staging directory: the manifest.
const MANIFEST_FILE: &str = "manifest";

const MIB: u64 = 1024 * 1024;

/// The newest modification time of a local upload's staging directory and its files; `None` when it
/// is gone.
async fn last_activity(staging: &Path) -> Result<Option<std::time::SystemTime>> {
    let mut newest = match tokio::fs::metadata(staging).await {
        Ok(meta) => meta.modified()?,
        Err(err) if err.kind() == ErrorKind::NotFound => return Ok(None),
        Err(err) => return Err(err.into()),
    };
    let mut entries = match tokio::fs::read_dir(staging).await {
        Ok(entries) => entries,
        Err(err) if err.kind() == ErrorKind::NotFound => return Ok(None),
        Err(err) => return Err(err.into()),
    };
    while let Some(entry) = entries.next_entry().await? {
        if let Ok(meta) = entry.metadata().await {
            newest = newest.max(meta.modified()?);
        }
    }
    Ok(Some(newest))
}

/// The upload id a bucket manifest is named after (the hex of its bytes; see `manifest_location`).
fn unhex(name: &str) -> Option<String> {
    if !name.len().is_multiple_of(2) {
        return None;
    }
    let bytes: Option<Vec<u8>> =
        (0..name.len()).step_by(2).map(|i| u8::from_str_radix(name.get(i..i + 2)?, 16).ok()).collect();
    String::from_utf8(bytes?).ok()
}

fn staging_dir(root: &Path, upload_id: &str) -> PathBuf {
    root.join(STAGING_DIR).join(upload_id)
}

fn local_etag(part_number: u32, size: u64) -> String {
    format!("\"{part_number}-{size}\"")
}

/// object_store's in-progress files on local disk: `<name>#<digits>`.
fn is_partial_upload(name: &str) -> bool {
    name.rsplit_once('#').is_some_and(|(_, tail)| !tail.is_empty() && tail.bytes().all(|b| b.is_ascii_digit()))
}

fn not_found(err: object_store::Error, path: &ArtifactPath) -> Error {
    match err {
        object_store::Error::NotFound { .. } => Error::NotFound(path.to_string()),
        other => other.into(),
    }
}

/// A multipart call the store refused because of what the client sent (wrong ETags, parts too small)
/// is the client's error, not the server's.
fn store_refusal(err: object_store::Error, path: &ArtifactPath) -> Error {
    let text = err.to_string();
    if ["InvalidPart", "EntityTooSmall", "NoSuchUpload"].iter().any(|code| text.contains(code)) {
        return Error::Invalid(format!("The store refused the multipart upload of '{path}': {text}"));
    }
    not_found(err, path)
}
