//! Tags that MLflow gives a meaning to.

/// Mirror of a run's name.
pub const RUN_NAME: &str = "mlflow.runName";
/// Author of a run.
pub const USER: &str = "mlflow.user";
/// Parent of a nested run.
pub const PARENT_RUN_ID: &str = "mlflow.parentRunId";
/// Input tag naming the role of a dataset (train, eval...).
pub const DATASET_CONTEXT: &str = "mlflow.data.context";
